/* The escalation ladder: on which rung a source's next ban goes. */
#include "ladder.h"

/*
 * Ties on the start time are broken by rung, then by end, so that the
 * answer does not depend on the order the history came in.
 */
static int
ban_later(const struct ban *a, const struct ban *b)
{
	if (a->start_ms != b->start_ms)
		return a->start_ms > b->start_ms;
	if (a->level != b->level)
		return a->level > b->level;
	return ban_end_ms(a) > ban_end_ms(b);
}

static const struct ban *
latest_ban(const struct ban *history, size_t count)
{
	const struct ban *latest = NULL;

	for (size_t i = 0; i < count; i++)
		if (latest == NULL || ban_later(&history[i], latest))
			latest = &history[i];
	return latest;
}

void
ladder_next(const struct ladder *ladder, const struct ban *history, size_t count, int64_t now_ms,
            struct ladder_step *out)
{
	unsigned rungs = ladder->count < LADDER_MAX_RUNGS ? ladder->count : LADDER_MAX_RUNGS;
	const struct ban *previous = latest_ban(history, count);

	out->level = 0;
	out->gap_ms = -1;
	out->duration_ms = 0;
	if (rungs == 0) /* the policy refuses an empty ladder; never read past it */
		return;
	if (previous != NULL) {
		unsigned top = rungs - 1;
		unsigned candidate = previous->level < top ? previous->level + 1 : top;
		int64_t end_ms = ban_end_ms(previous);

		/* A ban that has not ended yet (or not even started) leaves no gap. */
		out->gap_ms = end_ms > now_ms ? 0 : now_ms - end_ms;
		if (out->gap_ms <= ladder->rungs[candidate].within_ms)
			out->level = candidate;
	}
	out->duration_ms = ladder->rungs[out->level].duration_ms;
}
