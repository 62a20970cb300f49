/* Logging, after OpenBSD's log.c: one place that knows where messages go. */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>

/* Where journald takes native-protocol datagrams. */
#define LOG_JOURNAL_SOCKET "/run/systemd/journal/socket"

/*
 * Messages go to stderr when foreground is set, else to syslog. Under
 * systemd ($JOURNAL_STREAM names our stderr) they go to the journal instead,
 * in its native protocol, with PRIORITY= and the fields of log_fields; if the
 * journal cannot be reached, to stderr as before.
 */
void log_init(int foreground, int verbose, const char *ident);
int log_getverbose(void);
/*
 * Drops every message less urgent than priority (LOG_CRIT: fatal ones only):
 * for fuzzers, which drive the modules through every error path they report.
 */
void log_set_minimum(int priority);
/* Does $JOURNAL_STREAM ("device:inode") name the file our stderr is? */
int log_stderr_is_journal(void);
/* Sends to the journal socket at path from now on; 0 or -errno (then stderr stays). */
int log_journal_open(const char *path);
void log_journal_close(void);

/*
 * A message with journal fields: fields is a NULL-terminated list of
 * "NAME=value" (SOURCE=, CATEGORY=, TICKET=, INTERFACE=, ...). Outside the
 * journal only the message is written; it should say the same for people.
 */
void log_fields(int priority, const char *const *fields, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* *_warn appends ": strerror(errno)"; *_warnx does not. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
