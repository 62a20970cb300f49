/*
 * Durable history in SQLite (WAL, synchronous=FULL): offences, bans, lifts
 * and the audit trail of every change an operator made. A function that
 * returns 0 has committed: the caller may then act on it and say so.
 */
#ifndef STORE_H
#define STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ban.h"
#include "vm.h"

struct store;

/* What a detector saw, as kept in history. */
struct offence {
	int64_t id;
	struct source_key source;
	enum category category;
	int64_t time_ms;
	uint32_t attempts;
	uint32_t destinations;
	char detail[256]; /* one line for people: thresholds, last destination */
	struct vm_identity vm;
};

/*
 * Opens or creates the database at path (its directory must exist).
 * -EBADMSG: the file is damaged, or is no database.
 */
int store_open(struct store **out, const char *path);
void store_close(struct store *store);
/*
 * SQLite's integrity check over the whole file, stopped after timeout_ms.
 * 0: sound; -EBADMSG: damaged (what SQLite found is logged); -ETIMEDOUT: not
 * finished in time, nothing known.
 */
int store_check(struct store *store, int64_t timeout_ms);

#define STORE_ERROR_MAX 256

/* Whether the store can record, for status. */
struct store_health {
	bool healthy;                     /* no failure since the last commit that wrote */
	uint64_t errors;                  /* failed statements since open */
	char last_error[STORE_ERROR_MAX]; /* what failed last, "" if nothing did */
};
void store_health(const struct store *store, struct store_health *out);

/*
 * Deletes history older than before_ms, at most batch rows of each table
 * (bans whose planned end is older, then offences no kept ban refers to,
 * then audit rows), in one transaction. *deleted gets how many rows went.
 */
int store_prune(struct store *store, int64_t before_ms, unsigned batch, size_t *deleted);

/*
 * Records an offence and, when ban is not NULL, the ban it led to, in one
 * transaction. Fills offence->id and ban->id.
 */
int store_record(struct store *store, struct offence *offence, struct ban *ban);

/*
 * Lifts every active ban of source at now_ms and writes the audit row with
 * uid and reason, in one transaction. *lifted (may be NULL) gets how many
 * bans were active; lifted_bans (may be NULL, room for max) gets them.
 * Returns -ENOENT if none was active.
 */
int store_lift(struct store *store, const struct source_key *source, int64_t now_ms, uid_t uid,
               const char *reason, struct ban *lifted_bans, size_t max, size_t *lifted);

/*
 * The source's bans, most recent first, at most max; *count gets how many
 * were written. Bans whose offence was marked a false positive are left out.
 */
int store_history(struct store *store, const struct source_key *source, struct ban *out, size_t max,
                  size_t *count);

/* Where a walk over the active bans stopped: the last ban it returned. */
struct store_cursor {
	int64_t expires_ms;
	int64_t id;
};
#define STORE_CURSOR_START ((struct store_cursor){INT64_MIN, 0})

/*
 * At most max bans active at now_ms that come after *cursor, soonest expiry
 * first; *count gets how many, and *cursor moves past them.
 */
int store_active_page(struct store *store, int64_t now_ms, struct store_cursor *cursor,
                      struct ban *out, size_t max, size_t *count);

/* Calls fn for every ban still active at now_ms, soonest expiry first; a
 * non-zero return from fn stops the walk and is returned. */
int store_active_bans(struct store *store, int64_t now_ms,
                      int (*fn)(const struct ban *ban, void *arg), void *arg);

/* How many bans of an address family (SOURCE_FAMILY_*) are active at now_ms. */
int store_count_active(struct store *store, int64_t now_ms, unsigned family, size_t *count);

/* One audit row: who changed what and why. */
int store_audit(struct store *store, int64_t now_ms, uid_t uid, const char *action,
                const char *subject, const char *reason);

/* An interface's operator-set addresses, as kept in the store. */
#define STORE_VM_ADDRESSES_MAX 1024 /* limits.max_vm_addresses at most */
struct store_vm {
	char interface[IF_NAMESIZE];
	char name[VM_LABEL_MAX];
	char customer[VM_LABEL_MAX];
	const struct prefix *addresses;
	unsigned address_count;
};

/*
 * Records (or replaces) an interface's addresses, name and customer, with
 * the audit row ("vm set", uid, reason), in one transaction.
 */
int store_vm_set(struct store *store, const struct store_vm *vm, int64_t now_ms, uid_t uid,
                 const char *reason);
/*
 * Calls fn for every recorded interface, in name order; fn must not use the
 * store. A non-zero return from fn stops the walk and is returned.
 */
int store_vms(struct store *store, int (*fn)(const struct store_vm *vm, void *arg), void *arg);

#endif
