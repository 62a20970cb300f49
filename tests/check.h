/*
 * A small test harness: each CHECK prints "ok - what" or "not ok - what",
 * tests/run counts the lines. A test program exits non-zero if any failed.
 */
#ifndef CHECK_H
#define CHECK_H

#include <stdarg.h>
#include <stdio.h>

static int check_failures;
static int check_count;

/* The condition runs first, so the message shows the values it left behind. */
#define CHECK(condition, ...)                                                                      \
	do {                                                                                       \
		int check_passed = !!(condition);                                                  \
		check_report(check_passed, __FILE__, __LINE__, #condition, __VA_ARGS__);           \
	} while (0)

static inline void __attribute__((format(printf, 5, 6)))
check_report(int passed, const char *file, int line, const char *condition, const char *fmt, ...)
{
	va_list ap;

	check_count++;
	printf("%s - ", passed ? "ok" : "not ok");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (!passed) {
		check_failures++;
		printf("  (%s:%d: %s)", file, line, condition);
	}
	printf("\n");
	fflush(stdout);
}

static inline int
check_done(void)
{
	if (check_count == 0) {
		printf("not ok - the test ran no check\n");
		return 1;
	}
	return check_failures ? 1 : 0;
}

#endif
