/*
 * Decisions the store could not record yet (a full disk, a locked or failing
 * database), kept in bounded memory in the order they were taken and
 * written when the store takes them again. Enforcement does not wait for
 * them: their bans are already in the kernel, tagged so that a crash in
 * between recovers them from there (see nft.h, struct nft_ban_tag).
 */
#ifndef PENDING_H
#define PENDING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ban.h"
#include "store.h"

struct pending_record {
	struct offence offence;
	struct ban ban;
	bool has_ban;
};

struct pending {
	struct pending_record *records; /* a ring, allocated on first use */
	unsigned size, head, count;
	uint64_t queued, written, dropped; /* dropped: the queue was full */
};

/* At most size records; nothing is allocated until one is queued. */
void pending_init(struct pending *pending, unsigned size);
void pending_close(struct pending *pending);
/* Queues a record (ban may be NULL). -ENOSPC, counted in dropped, when full. */
int pending_push(struct pending *pending, const struct offence *offence, const struct ban *ban);
/*
 * Writes the queued records into the store, oldest first, and stops at the
 * first the store refuses. Returns how many were written, or -errno if none
 * could be while some wait.
 */
int pending_flush(struct pending *pending, struct store *store);
/* The queued bans of source, newest first, at most max; returns how many. */
size_t pending_history(const struct pending *pending, const struct source_key *source,
                       struct ban *out, size_t max);
/* Calls fn for every queued ban active at now_ms; a non-zero return stops and is returned. */
int pending_active_bans(const struct pending *pending, int64_t now_ms,
                        int (*fn)(const struct ban *ban, void *arg), void *arg);

#endif
