/* Logging to stderr in the foreground, to syslog otherwise. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "log.h"

static int log_foreground = 1;
static int log_verbose;

void
log_init(int foreground, int verbose, const char *ident)
{
	log_foreground = foreground;
	log_verbose = verbose;
	if (!foreground)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

int
log_getverbose(void)
{
	return log_verbose;
}

static void
log_vwrite(int priority, const char *fmt, va_list ap, int with_errno)
{
	char message[2048];
	int saved_errno = errno;
	int n;

	n = vsnprintf(message, sizeof(message), fmt, ap);
	if (with_errno && n >= 0 && (size_t)n < sizeof(message))
		snprintf(message + n, sizeof(message) - n, ": %s", strerror(saved_errno));
	if (log_foreground) {
		struct timespec now;
		struct tm tm;
		char stamp[32];

		clock_gettime(CLOCK_REALTIME, &now);
		gmtime_r(&now.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ldZ %s\n", stamp, now.tv_nsec / 1000000, message);
	} else {
		syslog(priority, "%s", message);
	}
	errno = saved_errno;
}

#define LOG_FUNCTION(name, priority, with_errno, condition)                                        \
	void name(const char *fmt, ...)                                                            \
	{                                                                                          \
		va_list ap;                                                                        \
		if (!(condition))                                                                  \
			return;                                                                    \
		va_start(ap, fmt);                                                                 \
		log_vwrite(priority, fmt, ap, with_errno);                                         \
		va_end(ap);                                                                        \
	}

LOG_FUNCTION(log_warn, LOG_WARNING, 1, 1)
LOG_FUNCTION(log_warnx, LOG_WARNING, 0, 1)
LOG_FUNCTION(log_info, LOG_INFO, 0, 1)
LOG_FUNCTION(log_debug, LOG_DEBUG, 0, log_verbose > 0)

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_CRIT, fmt, ap, 1);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_CRIT, fmt, ap, 0);
	va_end(ap);
	exit(1);
}
