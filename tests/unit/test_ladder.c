/* The escalation ladder against the provider's published rules (DESIGN.md). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ladder.h"

#define MINUTE_MS   (60 * 1000LL)
#define HOUR_MS     (60 * MINUTE_MS)
#define DAY_MS      (24 * HOUR_MS)
#define T0_MS       1700000000000LL /* 2023-11-14T22:13:20Z */
#define HISTORY_MAX 16

static const struct ladder default_ladder = {
    .rungs =
        {
            {.duration_ms = HOUR_MS},
            {.duration_ms = 7 * DAY_MS, .within_ms = DAY_MS},
            {.duration_ms = 30 * DAY_MS, .within_ms = 7 * DAY_MS},
            {.duration_ms = 365 * DAY_MS, .within_ms = 30 * DAY_MS},
        },
    .count = 4,
};

static struct ban
make_ban(unsigned level, int64_t start_ms, int64_t duration_ms)
{
	struct ban ban;

	memset(&ban, 0, sizeof(ban));
	ban.source.family = SOURCE_FAMILY_IPV4;
	ban.source.prefix_len = 32;
	ban.source.addr[0] = 192;
	ban.source.addr[1] = 0;
	ban.source.addr[2] = 2;
	ban.source.addr[3] = 7;
	ban.level = level;
	ban.start_ms = start_ms;
	ban.expires_ms = start_ms + duration_ms;
	return ban;
}

static struct ladder_step
next_step(const struct ladder *ladder, const struct ban *history, size_t count, int64_t now_ms)
{
	struct ladder_step step;

	memset(&step, 0xa5, sizeof(step)); /* every field must be written */
	ladder_next(ladder, history, count, now_ms, &step);
	return step;
}

static int
step_is(const struct ladder_step *step, unsigned level, int64_t duration_ms, int64_t gap_ms)
{
	return step->level == level && step->duration_ms == duration_ms && step->gap_ms == gap_ms;
}

static void
test_no_history(void)
{
	struct ladder_step step = next_step(&default_ladder, NULL, 0, T0_MS);

	CHECK(step_is(&step, 0, HOUR_MS, -1),
	      "a first offence gets rung 0, 1 hour, no gap (level %u, %lld ms, gap %lld)",
	      step.level, (long long)step.duration_ms, (long long)step.gap_ms);
}

/* Each repeat comes the given time after the previous ban ended; each ban is then served. */
static void
test_climb(void)
{
	static const struct {
		int64_t gap_ms;
		unsigned level;
		int64_t duration_ms;
	} repeats[] = {
	    {0, 0, HOUR_MS}, /* the first offence: gap unused */
	    {HOUR_MS, 1, 7 * DAY_MS},
	    {2 * DAY_MS, 2, 30 * DAY_MS},
	    {10 * DAY_MS, 3, 365 * DAY_MS},
	    {20 * DAY_MS, 3, 365 * DAY_MS},
	    {30 * DAY_MS, 3, 365 * DAY_MS},
	};
	struct ban history[HISTORY_MAX];
	size_t count = 0;
	int64_t now_ms = T0_MS;

	for (size_t i = 0; i < sizeof(repeats) / sizeof(repeats[0]); i++) {
		struct ladder_step step;

		if (count > 0)
			now_ms = history[count - 1].expires_ms + repeats[i].gap_ms;
		step = next_step(&default_ladder, history, count, now_ms);
		CHECK(step_is(&step, repeats[i].level, repeats[i].duration_ms,
		              count == 0 ? -1 : repeats[i].gap_ms),
		      "offence %zu (%lld h after the previous ban ended): rung %u for %lld h (got "
		      "rung %u, %lld ms, gap %lld ms)",
		      i + 1, (long long)(repeats[i].gap_ms / HOUR_MS), repeats[i].level,
		      (long long)(repeats[i].duration_ms / HOUR_MS), step.level,
		      (long long)step.duration_ms, (long long)step.gap_ms);
		history[count++] = make_ban(step.level, now_ms, step.duration_ms);
	}
}

static void
test_repeat_while_active(void)
{
	struct ban history[2];
	struct ladder_step step;

	history[0] = make_ban(0, T0_MS, HOUR_MS);
	step = next_step(&default_ladder, history, 1, T0_MS + 30 * MINUTE_MS);
	CHECK(step_is(&step, 1, 7 * DAY_MS, 0),
	      "a repeat during an active 1-hour ban: gap 0, rung 1 (got rung %u, gap %lld)",
	      step.level, (long long)step.gap_ms);

	step = next_step(&default_ladder, history, 1, T0_MS);
	CHECK(step_is(&step, 1, 7 * DAY_MS, 0),
	      "a repeat in the millisecond the ban started: gap 0, rung 1 (got rung %u, gap %lld)",
	      step.level, (long long)step.gap_ms);

	history[1] = make_ban(1, T0_MS + 2 * HOUR_MS, 7 * DAY_MS);
	step = next_step(&default_ladder, history, 2, T0_MS + 3 * DAY_MS);
	CHECK(step_is(&step, 2, 30 * DAY_MS, 0),
	      "a repeat during an active 1-week ban: gap 0, rung 2 (got rung %u, gap %lld)",
	      step.level, (long long)step.gap_ms);
}

static void
test_window_boundaries(void)
{
	for (unsigned rung = 1; rung < default_ladder.count; rung++) {
		int64_t within_ms = default_ladder.rungs[rung].within_ms;
		struct ban previous =
		    make_ban(rung - 1, T0_MS, default_ladder.rungs[rung - 1].duration_ms);
		struct ladder_step step;

		step = next_step(&default_ladder, &previous, 1, previous.expires_ms + within_ms);
		CHECK(
		    step_is(&step, rung, default_ladder.rungs[rung].duration_ms, within_ms),
		    "a repeat exactly %lld h after a rung-%u ban ended climbs to rung %u (got %u)",
		    (long long)(within_ms / HOUR_MS), rung - 1, rung, step.level);

		step =
		    next_step(&default_ladder, &previous, 1, previous.expires_ms + within_ms - 1);
		CHECK(step_is(&step, rung, default_ladder.rungs[rung].duration_ms, within_ms - 1),
		      "a repeat 1 ms inside rung %u's window climbs to it (got %u)", rung,
		      step.level);

		step =
		    next_step(&default_ladder, &previous, 1, previous.expires_ms + within_ms + 1);
		CHECK(step_is(&step, 0, HOUR_MS, within_ms + 1),
		      "a repeat 1 ms outside rung %u's window starts again at rung 0 (got %u)",
		      rung, step.level);
	}
}

static void
test_clean_gap(void)
{
	struct ban previous;
	struct ladder_step step;

	previous = make_ban(2, T0_MS, 30 * DAY_MS);
	step = next_step(&default_ladder, &previous, 1, previous.expires_ms + 31 * DAY_MS);
	CHECK(step_is(&step, 0, HOUR_MS, 31 * DAY_MS),
	      "31 clean days after a 1-month ban start again at 1 hour (got rung %u)", step.level);

	previous = make_ban(3, T0_MS, 365 * DAY_MS);
	step = next_step(&default_ladder, &previous, 1, previous.expires_ms + 31 * DAY_MS);
	CHECK(step_is(&step, 0, HOUR_MS, 31 * DAY_MS),
	      "31 clean days after a 1-year ban start again at 1 hour (got rung %u)", step.level);

	previous = make_ban(0, T0_MS, HOUR_MS);
	step = next_step(&default_ladder, &previous, 1, previous.expires_ms + 2 * DAY_MS);
	CHECK(step_is(&step, 0, HOUR_MS, 2 * DAY_MS),
	      "2 clean days after a 1-hour ban stay on 1 hour (got rung %u)", step.level);
}

static void
test_lift(void)
{
	struct ban previous;
	struct ladder_step step;

	/* Lifted after 10 minutes; back 5 minutes later: still a repeat. */
	previous = make_ban(0, T0_MS, HOUR_MS);
	previous.lifted_ms = T0_MS + 10 * MINUTE_MS;
	step = next_step(&default_ladder, &previous, 1, previous.lifted_ms + 5 * MINUTE_MS);
	CHECK(step_is(&step, 1, 7 * DAY_MS, 5 * MINUTE_MS),
	      "a repeat 5 minutes after a lift climbs, gap counted from the lift (got rung %u, gap "
	      "%lld ms)",
	      step.level, (long long)step.gap_ms);

	/*
	 * A week's ban lifted after an hour, the repeat 8 days after the lift:
	 * from the planned expiry it would be 1 day (a climb), from the lift it
	 * is past rung 2's 7-day window.
	 */
	previous = make_ban(1, T0_MS, 7 * DAY_MS);
	previous.lifted_ms = T0_MS + HOUR_MS;
	step = next_step(&default_ladder, &previous, 1, previous.lifted_ms + 8 * DAY_MS);
	CHECK(step_is(&step, 0, HOUR_MS, 8 * DAY_MS),
	      "8 days after a lift the gap is 8 days, not 1 day from the planned expiry (got rung "
	      "%u, gap %lld h)",
	      step.level, (long long)(step.gap_ms / HOUR_MS));

	/* A lift recorded after the planned expiry changes nothing. */
	previous = make_ban(0, T0_MS, HOUR_MS);
	previous.lifted_ms = T0_MS + 3 * HOUR_MS;
	step = next_step(&default_ladder, &previous, 1, T0_MS + 4 * HOUR_MS);
	CHECK(step_is(&step, 1, 7 * DAY_MS, 3 * HOUR_MS),
	      "a lift after the expiry leaves the gap counted from the expiry (gap %lld h)",
	      (long long)(step.gap_ms / HOUR_MS));
}

static void
shuffle(struct ban *bans, size_t count)
{
	for (size_t i = count - 1; i > 0; i--) {
		size_t j = (size_t)rand() % (i + 1);
		struct ban swap = bans[i];

		bans[i] = bans[j];
		bans[j] = swap;
	}
}

static void
test_history_order(void)
{
	struct ban history[5];
	struct ladder_step sorted, shuffled;
	int64_t now_ms;
	int same = 1;

	history[0] = make_ban(0, T0_MS, HOUR_MS);
	history[1] = make_ban(1, T0_MS + 5 * HOUR_MS, 7 * DAY_MS);
	history[2] = make_ban(0, T0_MS + 60 * DAY_MS, HOUR_MS);
	history[3] = make_ban(1, T0_MS + 60 * DAY_MS + 2 * HOUR_MS, 7 * DAY_MS);
	history[4] = make_ban(2, T0_MS + 60 * DAY_MS + 10 * DAY_MS, 30 * DAY_MS);
	now_ms = history[4].expires_ms + 3 * DAY_MS;

	sorted = next_step(&default_ladder, history, 5, now_ms);
	CHECK(step_is(&sorted, 3, 365 * DAY_MS, 3 * DAY_MS),
	      "the most recent ban (rung 2, ended 3 days ago) decides: rung 3 (got %u)",
	      sorted.level);

	srand(1);
	for (int round = 0; round < 50; round++) {
		shuffle(history, 5);
		shuffled = next_step(&default_ladder, history, 5, now_ms);
		if (!step_is(&shuffled, sorted.level, sorted.duration_ms, sorted.gap_ms))
			same = 0;
	}
	CHECK(same, "history in 50 random orders gives the same step as in time order");
}

static void
test_one_rung(void)
{
	struct ladder single = {.rungs = {{.duration_ms = 2 * HOUR_MS}}, .count = 1};
	struct ban previous = make_ban(0, T0_MS, 2 * HOUR_MS);
	struct ladder_step step;

	step = next_step(&single, NULL, 0, T0_MS);
	CHECK(step_is(&step, 0, 2 * HOUR_MS, -1), "a one-rung ladder: a first offence gets it");
	step = next_step(&single, &previous, 1, T0_MS + HOUR_MS);
	CHECK(step_is(&step, 0, 2 * HOUR_MS, 0),
	      "a one-rung ladder: a repeat during the ban repeats the only rung (got %u)",
	      step.level);
	step = next_step(&single, &previous, 1, previous.expires_ms + 10 * MINUTE_MS);
	CHECK(step_is(&step, 0, 2 * HOUR_MS, 10 * MINUTE_MS),
	      "a one-rung ladder: a repeat after the ban repeats the only rung, gap 10 minutes");
}

static void
test_level_above_ladder(void)
{
	/* The policy shrank the ladder since this ban was set. */
	struct ban previous = make_ban(7, T0_MS, 365 * DAY_MS);
	struct ladder_step step;

	step = next_step(&default_ladder, &previous, 1, previous.expires_ms + DAY_MS);
	CHECK(step_is(&step, 3, 365 * DAY_MS, DAY_MS),
	      "a ban on a rung the ladder no longer has repeats the top rung (got %u)", step.level);
}

int
main(void)
{
	test_no_history();
	test_climb();
	test_repeat_while_active();
	test_window_boundaries();
	test_clean_gap();
	test_lift();
	test_history_order();
	test_one_rung();
	test_level_above_ladder();
	return check_done();
}
