/* Logging, after OpenBSD's log.c: one place that knows where messages go. */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>

/* Messages go to stderr when foreground is set, else to syslog. */
void log_init(int foreground, int verbose, const char *ident);
int log_getverbose(void);

/* *_warn appends ": strerror(errno)"; *_warnx does not. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
