/*
 * The engine joins the stages for one source at a time: observation ->
 * detector -> policy -> store -> nftables. The live daemon and replay share
 * it; they differ only in the clock and in whether there is an nft handle.
 */
#ifndef ENGINE_H
#define ENGINE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "abuseguard/abuseguard.h"
#include "allowlist.h"
#include "clock.h"
#include "config.h"
#include "detect.h"
#include "hostaddr.h"
#include "vm.h"
#include "nft.h"
#include "pending.h"
#include "policy.h"
#include "store.h"
#include "ticket.h"

/* Enough of a source's history for the ladder: only the latest ban counts. */
#define ENGINE_HISTORY 64

struct engine_stats {
	uint64_t events, findings, bans, alerts, ignored, valve_trips, sets_full, lifts, errors;
	uint64_t adopted;     /* bans taken back from the kernel's tags at reconcile */
	uint64_t set_repairs; /* kernel elements put back, reset or removed by the periodic check */
	/* Of those: missing ones put back, foreign ones removed, foreign timeouts reset. */
	uint64_t elements_restored, elements_foreign, elements_retimed;
	uint64_t unownable; /* findings against a source no VM can own, ignored */
};

struct engine {
	const struct config *config;
	struct clock *clock;
	struct store *store;
	struct nft *nft; /* NULL: decide and record, but touch no kernel set */
	/* The hypervisor's own addresses, never banned; NULL (replay): none known. */
	const struct host_addresses *host;
	/* Who is behind each interface, for the records; NULL (replay): nobody known. */
	struct vm_registry *vms;
	/* Every ban, and every alert (observe mode), files a ticket here; NULL: none. */
	struct tickets *tickets;
	/* The operators' runtime allowlist, beside the policy's; NULL (replay): empty. */
	const struct allowlist *allowlist;
	/*
	 * Called after each decision is durable; may be NULL. ban is NULL
	 * unless banned. The engine itself logs only errors: the daemon logs
	 * decisions, replay prints them.
	 */
	void (*on_decision)(void *arg, const struct finding *finding,
	                    const struct decision *decision, const struct ban *ban);
	void *arg;
	/* What the store could not record yet, limits.store_pending at most. */
	struct pending pending;
	/* Start times of recent bans, a ring of limits.bans_per_minute entries. */
	int64_t *recent_bans;
	unsigned recent_count, recent_next;
	struct engine_stats stats;
};

int engine_init(struct engine *engine, const struct config *config, struct clock *clock,
                struct store *store, struct nft *nft);
void engine_close(struct engine *engine);
/*
 * Makes the kernel sets match the store's active bans (daemon start, or a
 * flushed ruleset). A tagged kernel element the store never recorded is
 * adopted into the store; untagged strangers are removed.
 */
int engine_reconcile(struct engine *engine);
/*
 * The same, quietly, for the daemon's timer: a ban set flushed or changed by
 * another program is repaired, counted in stats.set_repairs and logged.
 */
int engine_check_sets(struct engine *engine);
/*
 * Calls fn for every kernel ban element that no active ban of the store or
 * the queue stands behind (until the next check removes or adopts it).
 */
int engine_kernel_only(struct engine *engine, int (*fn)(const struct nft_ban *ban, void *arg),
                       void *arg);
/* Writes what waits for the store (the daemon's timer). How many, or -errno. */
int engine_flush_pending(struct engine *engine);
/* One event from a BPF detector, handed to its category's detector. */
int engine_handle_event(struct engine *engine, const struct abuse_event *event);
/* What an operator asks of engine_ban. */
struct manual_ban {
	struct source_key source;
	enum scope scope;
	enum category category; /* what the abuse was, for the records */
	int64_t duration_ms;    /* 0: the ladder's next rung for the source */
	uid_t uid;
	const char *reason;
};

/*
 * An operator's ban: durable first (offence, ban and audit row), then in the
 * kernel; *ban gets what was installed. -EADDRNOTAVAIL: no VM can own the
 * source; -EPERM: it is allowlisted; -EEXIST: already banned in that scope
 * (*ban gets that ban); else a store error.
 */
int engine_ban(struct engine *engine, const struct manual_ban *request, struct ban *ban);
/* Is the source on the policy's or the runtime allowlist at now_ms? */
bool engine_allowlisted(const struct engine *engine, const struct source_key *source,
                        int64_t now_ms);
/* A finding made in userspace (the crawler path): policy, store, nftables. */
int engine_handle_finding(struct engine *engine, const struct finding *finding);
/* An operator's lift: durable first, then out of the kernel. -ENOENT if not banned. */
int engine_unban(struct engine *engine, const struct source_key *source, uid_t uid,
                 const char *reason, struct ban *lifted, size_t max, size_t *count);

/*
 * Marks a ticket a false positive (ticket_false_positive): its offences
 * leave the ladder's history, its active bans are lifted in the store, then
 * taken out of the kernel. 0 or the error ticket_false_positive gave (*why).
 */
int engine_false_positive(struct engine *engine, int64_t ticket_id, uid_t uid, const char *reason,
                          struct ban *lifted, size_t max, size_t *count, const char **why);

#endif
