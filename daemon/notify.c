/* sd_notify's datagrams to the service manager, and the watchdog timer. */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"

/* STATUS= text longer than this is cut: systemctl shows one line anyway. */
#define NOTIFY_STATUS_MAX 512

static int
notify_address(const char *name, struct sockaddr_un *address, socklen_t *length)
{
	size_t name_len = strlen(name);

	memset(address, 0, sizeof(*address));
	address->sun_family = AF_UNIX;
	if ((name[0] != '/' && name[0] != '@') || name_len < 2 ||
	    name_len >= sizeof(address->sun_path))
		return -EINVAL;
	memcpy(address->sun_path, name, name_len);
	/* An abstract name starts with a NUL and is not NUL-terminated. */
	if (name[0] == '@')
		address->sun_path[0] = '\0';
	*length = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + name_len +
	                      (name[0] == '/' ? 1 : 0));
	return 0;
}

/* $WATCHDOG_USEC, when it is meant for this process; 0 when there is none. */
static int
watchdog_usec(uint64_t *out)
{
	const char *usec = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	unsigned long long owner;
	char *end;

	*out = 0;
	if (usec == NULL)
		return 0;
	if (pid != NULL) {
		errno = 0;
		owner = strtoull(pid, &end, 10);

		if (errno != 0 || *end != '\0' || end == pid) {
			log_warnx("WATCHDOG_PID=%s: not a process id", pid);
			return -EINVAL;
		}
		if (owner != (unsigned long long)getpid())
			return 0; /* meant for the process that started us */
	}
	errno = 0;
	*out = strtoull(usec, &end, 10);
	if (errno != 0 || *end != '\0' || end == usec || *out == 0) {
		log_warnx("WATCHDOG_USEC=%s: not a positive number of microseconds", usec);
		*out = 0;
		return -EINVAL;
	}
	return 0;
}

static void
watchdog_ready(struct loop_watch *watch, uint32_t events)
{
	struct notify *notify =
	    (struct notify *)((char *)watch - offsetof(struct notify, watchdog));
	uint64_t expirations;

	(void)events;
	if (read(watch->fd, &expirations, sizeof(expirations)) != sizeof(expirations))
		return;
	notify_send(notify, "WATCHDOG=1\n");
}

static int
watchdog_start(struct notify *notify)
{
	uint64_t half = notify->watchdog_usec / 2;
	struct itimerspec period = {
	    .it_interval = {.tv_sec = (time_t)(half / 1000000),
	                    .tv_nsec = (long)(half % 1000000) * 1000},
	};
	int error;

	if (half == 0)
		period.it_interval.tv_nsec = 1000; /* WATCHDOG_USEC=1: as often as we can */
	period.it_value = period.it_interval;
	notify->watchdog.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (notify->watchdog.fd == -1 || timerfd_settime(notify->watchdog.fd, 0, &period, NULL)) {
		error = -errno;
		log_warn("watchdog: timerfd");
		return error;
	}
	notify->watchdog.ready = watchdog_ready;
	return loop_add(notify->loop, &notify->watchdog, EPOLLIN);
}

int
notify_open(struct notify *notify, struct loop *loop)
{
	const char *name = getenv("NOTIFY_SOCKET");
	struct sockaddr_un address;
	socklen_t length;
	int error;

	memset(notify, 0, sizeof(*notify));
	notify->fd = -1;
	notify->watchdog.fd = -1;
	notify->loop = loop;
	if (name == NULL || name[0] == '\0')
		return 0;
	if (notify_address(name, &address, &length) < 0) {
		log_warnx("NOTIFY_SOCKET=%s: not an absolute path or @abstract name", name);
		return -EINVAL;
	}
	if ((error = watchdog_usec(&notify->watchdog_usec)) < 0)
		return error;
	notify->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (notify->fd == -1) {
		error = -errno;
		log_warn("NOTIFY_SOCKET=%s: socket", name);
		return error;
	}
	/* Connected once: later sends need no address, and a chroot cannot lose it. */
	if (connect(notify->fd, (struct sockaddr *)&address, length) == -1) {
		error = -errno;
		log_warn("NOTIFY_SOCKET=%s: connect", name);
		notify_close(notify);
		return error;
	}
	if (notify->watchdog_usec > 0 && loop != NULL && (error = watchdog_start(notify)) < 0) {
		notify_close(notify);
		return error;
	}
	return 0;
}

void
notify_close(struct notify *notify)
{
	if (notify->watchdog.fd != -1) {
		loop_remove(notify->loop, &notify->watchdog);
		close(notify->watchdog.fd);
		notify->watchdog.fd = -1;
	}
	if (notify->fd != -1)
		close(notify->fd);
	notify->fd = -1;
}

int
notify_send(struct notify *notify, const char *text)
{
	size_t length = strlen(text);

	if (notify->fd == -1)
		return 0;
	if (send(notify->fd, text, length, MSG_NOSIGNAL) != (ssize_t)length) {
		int error = errno;

		/* Counted, and said once: a manager that went away stays away. */
		if (notify->failed++ == 0)
			log_warn("NOTIFY_SOCKET: send");
		return -error;
	}
	notify->sent++;
	return 0;
}

/* "STATE\nSTATUS=status\n", the status cut at its first newline. */
static int
notify_state(struct notify *notify, const char *state, const char *status)
{
	char text[NOTIFY_STATUS_MAX + 128];
	int status_len = (int)strcspn(status, "\n");

	if (status_len > NOTIFY_STATUS_MAX)
		status_len = NOTIFY_STATUS_MAX;
	snprintf(text, sizeof(text), "%s%sSTATUS=%.*s\n", state, state[0] != '\0' ? "\n" : "",
	         status_len, status);
	return notify_send(notify, text);
}

int
notify_ready(struct notify *notify, const char *status)
{
	return notify_state(notify, "READY=1", status);
}

int
notify_reloading(struct notify *notify, const char *status)
{
	struct timespec now;
	char state[64];

	/* systemd 253 and later match the reload to its start by this time stamp. */
	clock_gettime(CLOCK_MONOTONIC, &now);
	snprintf(state, sizeof(state), "RELOADING=1\nMONOTONIC_USEC=%" PRIu64,
	         (uint64_t)now.tv_sec * 1000000 + (uint64_t)now.tv_nsec / 1000);
	return notify_state(notify, state, status);
}

int
notify_stopping(struct notify *notify, const char *status)
{
	return notify_state(notify, "STOPPING=1", status);
}

int
notify_status(struct notify *notify, const char *status)
{
	return notify_state(notify, "", status);
}
