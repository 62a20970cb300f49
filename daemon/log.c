/*
 * Logging to stderr in the foreground, to syslog otherwise, and to journald
 * in its native protocol when systemd started us: one datagram per message,
 * "NAME=value" lines, a value holding a newline sent as NAME, a newline, its
 * length as 64-bit little endian and the bytes. Every message has its
 * control characters escaped as \xNN.
 */
#include <errno.h>
#include <endian.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "escape.h"
#include "log.h"

/* One journal datagram at most: the message (2 KiB) and its fields fit. */
#define LOG_JOURNAL_MAX 8192

static int log_foreground = 1;
static int log_verbose;
static int log_minimum = LOG_DEBUG; /* less urgent messages are dropped */
static int log_journal_fd = -1;
static const char *log_ident = "abuseguardd";

int
log_stderr_is_journal(void)
{
	const char *stream = getenv("JOURNAL_STREAM");
	unsigned long long device, inode;
	struct stat status;

	if (stream == NULL || sscanf(stream, "%llu:%llu", &device, &inode) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &status) == -1)
		return 0;
	return (unsigned long long)status.st_dev == device &&
	       (unsigned long long)status.st_ino == inode;
}

int
log_journal_open(const char *path)
{
	struct sockaddr_un address = {.sun_family = AF_UNIX};
	int fd, error;

	if (strlen(path) >= sizeof(address.sun_path))
		return -ENAMETOOLONG;
	strcpy(address.sun_path, path);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -errno;
	if (connect(fd, (struct sockaddr *)&address, sizeof(address)) == -1) {
		error = -errno;
		close(fd);
		return error;
	}
	log_journal_close();
	log_journal_fd = fd;
	return 0;
}

void
log_journal_close(void)
{
	if (log_journal_fd != -1)
		close(log_journal_fd);
	log_journal_fd = -1;
}

void
log_init(int foreground, int verbose, const char *ident)
{
	log_foreground = foreground;
	log_verbose = verbose;
	log_ident = ident;
	/* Our stderr is the journal's stream: say the same with priority and fields. */
	if (log_stderr_is_journal() && log_journal_open(LOG_JOURNAL_SOCKET) == 0)
		return;
	if (!foreground)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

/* Appends one field; 0, or -ENOSPC when the datagram is full. */
static int
journal_field(char *buf, size_t *used, const char *name, size_t name_len, const char *value)
{
	size_t value_len = strlen(value);

	if (memchr(value, '\n', value_len) == NULL) {
		if (*used + name_len + 1 + value_len + 1 > LOG_JOURNAL_MAX)
			return -ENOSPC;
		memcpy(buf + *used, name, name_len);
		buf[*used + name_len] = '=';
		memcpy(buf + *used + name_len + 1, value, value_len);
		buf[*used + name_len + 1 + value_len] = '\n';
		*used += name_len + 1 + value_len + 1;
	} else {
		uint64_t length = htole64(value_len);

		if (*used + name_len + 1 + sizeof(length) + value_len + 1 > LOG_JOURNAL_MAX)
			return -ENOSPC;
		memcpy(buf + *used, name, name_len);
		buf[*used + name_len] = '\n';
		memcpy(buf + *used + name_len + 1, &length, sizeof(length));
		memcpy(buf + *used + name_len + 1 + sizeof(length), value, value_len);
		buf[*used + name_len + 1 + sizeof(length) + value_len] = '\n';
		*used += name_len + 1 + sizeof(length) + value_len + 1;
	}
	return 0;
}

/* 0 once the journal took the message; -errno and the caller writes it to stderr. */
static int
journal_send(int priority, const char *const *fields, const char *message)
{
	char buf[LOG_JOURNAL_MAX], number[32];
	size_t used = 0;

	snprintf(number, sizeof(number), "%d", priority);
	if (journal_field(buf, &used, "PRIORITY", 8, number) < 0 ||
	    journal_field(buf, &used, "SYSLOG_IDENTIFIER", 17, log_ident) < 0)
		return -ENOSPC;
	snprintf(number, sizeof(number), "%d", (int)getpid());
	if (journal_field(buf, &used, "SYSLOG_PID", 10, number) < 0)
		return -ENOSPC;
	for (; fields != NULL && *fields != NULL; fields++) {
		const char *equals = strchr(*fields, '=');

		/* Field names are ours, upper case; a value comes from outside and may be anything.
		 */
		if (equals == NULL || equals == *fields)
			continue;
		if (journal_field(buf, &used, *fields, (size_t)(equals - *fields), equals + 1) < 0)
			break; /* the message still goes, without the fields that did not fit */
	}
	if (journal_field(buf, &used, "MESSAGE", 7, message) < 0)
		return -ENOSPC;
	if (send(log_journal_fd, buf, used, MSG_NOSIGNAL) != (ssize_t)used)
		return -errno;
	return 0;
}

void
log_set_minimum(int priority)
{
	log_minimum = priority;
}

int
log_getverbose(void)
{
	return log_verbose;
}

static void
log_vwrite_fields(int priority, const char *const *fields, const char *fmt, va_list ap,
                  int with_errno)
{
	char text[2048], message[2048];
	int saved_errno = errno;
	int n;

	if (priority > log_minimum)
		return;
	n = vsnprintf(text, sizeof(text), fmt, ap);
	if (with_errno && n >= 0 && (size_t)n < sizeof(text))
		snprintf(text + n, sizeof(text) - n, ": %s", strerror(saved_errno));
	/* A reason or a note with a newline or an escape cannot forge a line or reach a terminal.
	 */
	escape_text(message, sizeof(message), text, strlen(text), 0);
	if (log_journal_fd != -1 && journal_send(priority, fields, message) == 0) {
		errno = saved_errno;
		return;
	}
	if (log_foreground || log_journal_fd != -1) {
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

static void
log_vwrite(int priority, const char *fmt, va_list ap, int with_errno)
{
	log_vwrite_fields(priority, NULL, fmt, ap, with_errno);
}

void
log_fields(int priority, const char *const *fields, const char *fmt, ...)
{
	va_list ap;

	if (priority == LOG_DEBUG && log_verbose == 0)
		return;
	va_start(ap, fmt);
	log_vwrite_fields(priority, fields, fmt, ap, 0);
	va_end(ap);
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
