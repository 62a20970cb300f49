/*
 * The service manager's side channel, sd_notify(3)'s protocol without
 * libsystemd: one datagram of "KEY=value" lines to $NOTIFY_SOCKET (a path,
 * or an abstract name written "@name"). Outside systemd every call is a
 * no-op. With $WATCHDOG_USEC set (and $WATCHDOG_PID unset or ours), a
 * timer on the event loop sends WATCHDOG=1 every half of it, so the pings
 * stop when the loop does.
 */
#ifndef NOTIFY_H
#define NOTIFY_H

#include <stdint.h>

#include "loop.h"

struct notify {
	int fd; /* -1: no service manager listens */
	struct loop *loop;
	struct loop_watch watchdog;
	uint64_t watchdog_usec; /* 0: no watchdog */
	uint64_t sent, failed;
};

/*
 * Reads the environment, opens the socket and, with a loop, starts the
 * watchdog timer. Returns 0 (also when there is nothing to notify) or
 * -errno for a $NOTIFY_SOCKET or $WATCHDOG_USEC that cannot be used.
 */
int notify_open(struct notify *notify, struct loop *loop);
void notify_close(struct notify *notify);
/* Sends one datagram; text holds one or more "KEY=value" lines. 0 or -errno. */
int notify_send(struct notify *notify, const char *text);
/* READY=1, RELOADING=1 (with MONOTONIC_USEC), STOPPING=1, each with a STATUS= line. */
int notify_ready(struct notify *notify, const char *status);
int notify_reloading(struct notify *notify, const char *status);
int notify_stopping(struct notify *notify, const char *status);
int notify_status(struct notify *notify, const char *status);

#endif
