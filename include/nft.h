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
#include "nft_tag.h"
#include "source.h"

struct nft;

#define NFT_WEB_PORTS_MAX 16

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
	 * TCP ports the web scope drops beside 80 and 443 (the crawler's
	 * http_ports, where HTTP is read), at most NFT_WEB_PORTS_MAX; 80, 443
	 * and repeats are skipped. nft_set_web_ports changes them later.
	 */
	const uint16_t *web_ports;
	size_t web_port_count;
	/*
	 * Refresh timeouts by deleting and re-adding elements even on kernels
	 * that update them in place (6.10 on), as older kernels need: for tests.
	 */
	bool refresh_by_delete;
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
/* What nft_ruleset_check found other than the daemon wrote it. */
struct nft_ruleset_damage {
	unsigned sets_missing;
	unsigned chains_missing;
	unsigned chains_changed;     /* another type, hook, priority or policy */
	unsigned rules_changed;      /* chains whose rules were deleted, added to or altered */
	unsigned allow_sets_changed; /* the always-allowed sets lost or gained elements */
	unsigned vm_sets_changed;    /* the VM interface and source sets did */
};
/*
 * Compares the table's sets, base chains, rules and always-allowed sets with
 * what nft_open wrote. Whatever another program deleted, added or altered is
 * logged, counted in *damage and rewritten as nft_open writes it; ban
 * elements are ban_reconcile's. 0 (all was well, or is repaired), or -errno.
 */
int nft_ruleset_check(struct nft *nft, struct nft_ruleset_damage *damage);
/* One VM-facing interface's own sources, for the anti-spoofing rules. */
struct nft_vm_sources {
	uint32_t ifindex;
	bool check_ipv4, check_ipv6; /* drop this family's other sources */
	const struct prefix *addresses;
	size_t address_count;
};
/* Most addresses, and interfaces, nft_set_vm_sources takes. */
#define NFT_VM_SOURCES_MAX (64u * 1024)
/*
 * The anti-spoofing filter from now on: chain "spoofing" (hook prerouting,
 * priority raw) drops a packet that arrives on one of these interfaces
 * from an address another of them holds, or, of a family it checks, from
 * any source outside its addresses. Kept in sets keyed by interface index
 * (vm_interfaces; vm4_interfaces, vm4_sources, vm4_held and the same for
 * IPv6), replaced as a whole in one batch; an interface not given is not
 * checked. Covered by nft_ruleset_check. 0, or -errno (the old sets stay,
 * or -E2BIG past NFT_VM_SOURCES_MAX).
 */
int nft_set_vm_sources(struct nft *nft, const struct nft_vm_sources *vms, size_t count);
/*
 * The web scope drops these TCP ports beside 80 and 443 from now on (a
 * reload changed crawler.http_ports): the chains' rules are rewritten in one
 * batch, ban elements stay. 0, or -errno (the old rules stay).
 */
int nft_set_web_ports(struct nft *nft, const uint16_t *ports, size_t count);
/*
 * Has anything in the kernel's ruleset changed since the last call, other
 * than by this nft's own commits? nftables counts every commit in its
 * generation id (NFT_MSG_GETGEN); a commit of the daemon's own that is not
 * the only one since (another program committed in between) counts as a
 * change. 1 (changed, or not known: the first call), 0, or -errno. Any
 * table's change counts, not only the daemon's: a cheap test that says
 * when the full checks are worth running.
 */
int nft_generation_changed(struct nft *nft);
/* Deletes the whole table: for tests and uninstall only. */
int nft_destroy(struct nft *nft);

/* Adds (or refreshes the timeout of) one ban element. */
int ban_install(struct nft *nft, const struct source_key *source, enum scope scope,
                int64_t duration_ms);
/* Many bans in as few netlink batches as fit. */
int ban_install_many(struct nft *nft, const struct nft_ban *bans, size_t count);
/* Removes a ban element; one that is not there is not an error. */
int ban_remove(struct nft *nft, const struct source_key *source, enum scope scope);
/* What ban_reconcile changed in the kernel sets, by why. */
struct nft_reconcile_changes {
	size_t restored; /* wanted but missing (a flushed set, a deleted element): added */
	size_t foreign;  /* not wanted and without the daemon's tag: deleted */
	size_t retimed;  /* wanted, with a timeout other than the wanted one (or none): reset */
	size_t retagged; /* wanted, with another tag or none: written with the wanted one */
};

/*
 * Makes the kernel sets hold wanted: adds what is missing, with its
 * remaining time, resets timeouts and tags that differ, and deletes what is
 * not wanted. With tagged not NULL, elements not wanted that carry the
 * daemon's tag are left in place and returned in *tagged (*tagged_count of
 * them; the caller frees *tagged), for the caller to adopt or remove;
 * elements without it are deleted. *changes (may be NULL) says what changed.
 */
int ban_reconcile(struct nft *nft, const struct nft_ban *wanted, size_t count,
                  struct nft_ban **tagged, size_t *tagged_count,
                  struct nft_reconcile_changes *changes);
/*
 * The kernel's element for source in scope: 1 with *out filled (the time it
 * has left, its tag), 0 when the kernel holds none, or -errno.
 */
int ban_lookup(struct nft *nft, const struct source_key *source, enum scope scope,
               struct nft_ban *out);
/*
 * The kernel's elements for many bans at once (source and scope of each
 * given in bans): found[i] is 1 with bans[i] filled as ban_lookup does, or
 * 0. The requests go in writes of hundreds, not one round trip each.
 * 0, or -errno (logged).
 */
int ban_lookup_many(struct nft *nft, struct nft_ban *bans, int *found, size_t count);
/*
 * Calls fn for every element of the kernel sets that no ban in wanted stands
 * behind: what enforces a ban the caller does not know of.
 */
int ban_list_unwanted(struct nft *nft, const struct nft_ban *wanted, size_t count,
                      int (*fn)(const struct nft_ban *ban, void *arg), void *arg);
/* Calls fn for every element in the kernel sets, with the time it has left. */
int ban_list(struct nft *nft, int (*fn)(const struct nft_ban *ban, void *arg), void *arg);

#endif
