/*
 * The escalation ladder, pure: a source's ban history and the time in, the
 * next rung out. No I/O, no clock of its own.
 */
#ifndef LADDER_H
#define LADDER_H

#include <stddef.h>
#include <stdint.h>

#include "ban.h"

#define LADDER_MAX_RUNGS 16

struct rung {
	int64_t duration_ms; /* how long a ban on this rung lasts */
	int64_t within_ms;   /* a repeat this soon after the previous ban ended climbs here;
	                        unused on rung 0 */
};

struct ladder {
	struct rung rungs[LADDER_MAX_RUNGS];
	unsigned count;
};

struct ladder_step {
	unsigned level; /* rung, 0-based */
	int64_t duration_ms;
	int64_t gap_ms; /* since the previous ban ended; 0 if it is still active,
	                   -1 if there is none */
};

/*
 * history: the source's past bans in any order (false positives already left
 * out). Rules (DESIGN.md): no history, or a gap longer than the next rung's
 * window, starts at rung 0; an offence during an active ban is a repeat with
 * gap 0; the top rung repeats itself.
 */
void ladder_next(const struct ladder *ladder, const struct ban *history, size_t count,
                 int64_t now_ms, struct ladder_step *out);

#endif
