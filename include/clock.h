/*
 * One clock for the whole daemon. Live it reads the system clocks; replay
 * sets it from packet timestamps; tests fix it. Times are milliseconds since
 * the Unix epoch unless a name says otherwise.
 */
#ifndef CLOCK_H
#define CLOCK_H

#include <stddef.h>
#include <stdint.h>

enum clock_kind {
	CLOCK_KIND_LIVE,  /* CLOCK_REALTIME / CLOCK_MONOTONIC */
	CLOCK_KIND_FIXED, /* whatever clock_set said last: replay and tests */
};

struct clock {
	enum clock_kind kind;
	int64_t fixed_ms;
};

void clock_init_live(struct clock *clock);
void clock_init_fixed(struct clock *clock, int64_t now_ms);
void clock_set(struct clock *clock, int64_t now_ms);
/* Wall-clock milliseconds since the epoch. */
int64_t clock_now_ms(const struct clock *clock);
/*
 * Turns a time stamp of the XDP program (CLOCK_MONOTONIC_COARSE ns live, epoch ns
 * in replay) into epoch milliseconds.
 */
int64_t clock_from_program_ns(const struct clock *clock, uint64_t program_ns);

/* "2026-11-26T06:24:11Z": epoch milliseconds as UTC, to the second. Returns buf. */
const char *clock_format_utc(int64_t ms, char *buf, size_t len);
/* "2026-11-26T06:24:11.914Z": the same, to the millisecond. */
const char *clock_format_utc_ms(int64_t ms, char *buf, size_t len);

#endif
