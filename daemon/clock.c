/* The one clock: live system time, or a time the caller sets. */
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "clock.h"

static int64_t
timespec_ms(clockid_t id)
{
	struct timespec now;

	clock_gettime(id, &now);
	return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

void
clock_init_live(struct clock *clock)
{
	clock->kind = CLOCK_KIND_LIVE;
	clock->fixed_ms = 0;
}

void
clock_init_fixed(struct clock *clock, int64_t now_ms)
{
	clock->kind = CLOCK_KIND_FIXED;
	clock->fixed_ms = now_ms;
}

void
clock_set(struct clock *clock, int64_t now_ms)
{
	clock->fixed_ms = now_ms;
}

int64_t
clock_now_ms(const struct clock *clock)
{
	if (clock->kind == CLOCK_KIND_FIXED)
		return clock->fixed_ms;
	return timespec_ms(CLOCK_REALTIME);
}

int64_t
clock_from_program_ns(const struct clock *clock, uint64_t program_ns)
{
	int64_t program_ms = (int64_t)(program_ns / 1000000);

	if (clock->kind == CLOCK_KIND_FIXED)
		return program_ms; /* replay feeds epoch time to the program */
	/* Live, the program reads CLOCK_MONOTONIC_COARSE: shift it onto the wall clock. */
	return program_ms + timespec_ms(CLOCK_REALTIME) - timespec_ms(CLOCK_MONOTONIC);
}

static const char *
format_utc(int64_t ms, bool milliseconds, char *buf, size_t len)
{
	time_t seconds = (time_t)(ms / 1000);
	char whole[32];
	struct tm tm;

	if (gmtime_r(&seconds, &tm) == NULL ||
	    strftime(whole, sizeof(whole), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		snprintf(buf, len, "%lld", (long long)ms);
	else if (milliseconds)
		snprintf(buf, len, "%s.%03dZ", whole, (int)(ms % 1000));
	else
		snprintf(buf, len, "%sZ", whole);
	return buf;
}

const char *
clock_format_utc(int64_t ms, char *buf, size_t len)
{
	return format_utc(ms, false, buf, len);
}

const char *
clock_format_utc_ms(int64_t ms, char *buf, size_t len)
{
	return format_utc(ms, true, buf, len);
}
