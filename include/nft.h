/*
 * Bans in nftables, through libnftnl/libmnl netlink batches (never the nft
 * command). The daemon owns one table, "inet <table>", with a timeout set
 * per (family, scope) and base chains on forward and output; it never
 * touches any other table. Every element carries its own timeout, so the
 * kernel lifts bans on time even when the daemon is down.
 */
#ifndef NFT_H
#define NFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ban.h"
#include "source.h"

struct nft;

struct nft_options {
	const char *table;                   /* "abuseguard" */
	unsigned ipv6_prefix_len;            /* sources in the IPv6 sets are masked to this */
	const struct prefix *always_allowed; /* destinations scope "all" never drops */
	size_t always_allowed_count;
	/*
	 * Elements each ban set holds at most (0: no limit), fixed when the
	 * set is created; past it the kernel refuses new elements (-ENFILE).
	 */
	uint32_t max_bans_per_set;
	/*
	 * Refresh timeouts by deleting and re-adding elements even on kernels
	 * that update them in place (6.10 on), as older kernels need: for tests.
	 */
	bool refresh_by_delete;
};

/*
 * What the daemon writes into an element's comment, so that a ban the
 * store never recorded (the disk was full, the daemon crashed) can be
 * adopted from the kernel at the next start instead of deleted.
 */
struct nft_ban_tag {
	bool present;
	enum category category;
	unsigned level;
	unsigned prefix_len; /* the source's, when the ban was made */
	int64_t start_ms, duration_ms;
};

/* One element of a ban set: the source, the scope and the time left. */
struct nft_ban {
	struct source_key source;
	enum scope scope;
	int64_t remaining_ms;
	struct nft_ban_tag tag; /* written with the element when present; read back by dumps */
};

/*
 * Creates the table, sets and chains if missing, and replaces the chains'
 * rules and the always-allowed set; existing ban elements are kept.
 */
int nft_open(struct nft **out, const struct nft_options *options);
/* Closes the netlink socket; the table and its bans stay. */
void nft_close(struct nft *nft);
/*
 * Is the table still there? 1 or 0, or -errno. Other software may flush the
 * whole ruleset (nftables.service does on restart); the daemon then restores
 * the table from its store.
 */
int nft_table_present(struct nft *nft);
/* Deletes the whole table: for tests and uninstall only. */
int nft_destroy(struct nft *nft);

/* Adds (or refreshes the timeout of) one ban element. */
int ban_install(struct nft *nft, const struct source_key *source, enum scope scope,
                int64_t duration_ms);
/* Many bans in as few netlink batches as fit. */
int ban_install_many(struct nft *nft, const struct nft_ban *bans, size_t count);
/* Removes a ban element; one that is not there is not an error. */
int ban_remove(struct nft *nft, const struct source_key *source, enum scope scope);
/*
 * Makes the kernel sets hold wanted: adds what is missing, with its
 * remaining time, and deletes what is not wanted. With tagged not NULL,
 * elements not wanted that carry the daemon's tag are left in place and
 * returned in *tagged (*tagged_count of them; the caller frees *tagged), for
 * the caller to adopt or remove; elements without it are deleted. *changed
 * (may be NULL) gets how many elements were added, refreshed or deleted.
 */
int ban_reconcile(struct nft *nft, const struct nft_ban *wanted, size_t count,
                  struct nft_ban **tagged, size_t *tagged_count, size_t *changed);
/* Calls fn for every element in the kernel sets, with the time it has left. */
int ban_list(struct nft *nft, int (*fn)(const struct nft_ban *ban, void *arg), void *arg);

#endif
