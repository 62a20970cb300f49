/*
 * The durable outbox. A ticket event becomes one delivery per configured
 * backend (mail to the customer unless the event is internal, the exec
 * hook, the event log), rendered once and committed to the store before
 * anything is sent: the bytes, the Message-ID and the X-ARF report id are
 * the same on every attempt. Deliveries run as children watched from the
 * event loop, a few at a time, each with a timeout and bounded output; a
 * temporary failure is retried with exponential backoff, for as long as it
 * takes; a permanent one (deliver_refused_for_good: EX_NOUSER, a 5xx...)
 * is marked failed, counted and kept for the desk to see, and never tried
 * again, across restarts too. Nothing is dropped: abusectl outbox shows
 * what waits and what was refused, with attempts, next try and last error.
 *
 * "Never sent twice after a restart": a delivery recorded sent is never
 * tried again, and the same ticket event queued again is ignored. The one
 * window left is between a child's success and the commit that records it
 * (the commit follows the child's exit at once): a crash there leaves the
 * attempt in doubt, and after the restart it is sent again, with the same
 * Message-ID and report id, so the receiver can drop the copy. The attempt
 * is counted as in doubt and logged.
 */
#ifndef OUTBOX_H
#define OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "config.h"
#include "loop.h"
#include "report.h"
#include "store.h"

struct outbox_stats {
	uint64_t queued;    /* deliveries committed to the outbox */
	uint64_t duplicate; /* the same ticket event queued again, ignored */
	uint64_t delivered;
	uint64_t failed;           /* attempts that failed for now; each is retried */
	uint64_t refused_for_good; /* attempts refused for good: not retried */
	uint64_t timeouts;         /* of those, children killed at notify.timeout */
	uint64_t in_doubt;         /* attempts a crash cut short, sent again after the restart */
	uint64_t refused;          /* not queued: limits.outbox deliveries wait already */
	uint64_t output_truncated; /* children that wrote more than limits.delivery_output */
	uint64_t render_errors;
	size_t depth;         /* deliveries not yet delivered */
	size_t running;       /* children now */
	size_t retrying;      /* of depth, those that failed at least once */
	size_t undeliverable; /* refused for good, kept (not in depth) */
};

struct outbox;

/* Opens the outbox on the store; attempts a crash cut short are made due again. */
int outbox_open(struct outbox **out, struct loop *loop, struct store *store, struct clock *clock,
                const struct config *config);
/* The policy changed (a reload): backends, timeouts, limits. */
void outbox_configure(struct outbox *outbox, const struct config *config);
/* Kills what still runs (it is tried again after the restart) and closes. */
void outbox_close(struct outbox *outbox);

/*
 * Renders the event for each configured backend and commits them in one
 * transaction, then starts what it can. 0 once durable (also when the
 * event was queued before, or no backend is configured); -ENOSPC when
 * limits.outbox deliveries wait; -errno from rendering or the store.
 */
int outbox_enqueue(struct outbox *outbox, const struct abuse_report *report);
/* The daemon's timer: starts due deliveries and kills those past notify.timeout. */
void outbox_tick(struct outbox *outbox);
void outbox_stats(const struct outbox *outbox, struct outbox_stats *out);

struct metrics;
/* The outbox's families for abusectl metrics and metrics.file. */
void outbox_metrics(const struct outbox *outbox, struct metrics *m);

#endif
