/*
 * sd_notify as the service manager sees it: this test binds the datagram
 * socket systemd would (an abstract name and a path), points NOTIFY_SOCKET
 * at it, and reads what the notify module sends: READY=1 and the other
 * states with their STATUS= line, and WATCHDOG=1 from the loop's timer at
 * half of WATCHDOG_USEC while the loop runs, and not after.
 */
#include <errno.h>
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

#include "check.h"
#include "log.h"
#include "loop.h"
#include "notify.h"

/* Binds a datagram socket at name ("@abstract" or a path), as systemd does. */
static int
manager_socket(const char *name)
{
	struct sockaddr_un address = {.sun_family = AF_UNIX};
	size_t length = strlen(name);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	memcpy(address.sun_path, name, length);
	if (name[0] == '@')
		address.sun_path[0] = '\0';
	else
		length++;
	if (fd < 0 ||
	    bind(fd, (struct sockaddr *)&address, offsetof(struct sockaddr_un, sun_path) + length))
		return -1;
	return fd;
}

/* The next datagram, or "" when none is waiting. */
static const char *
received(int fd)
{
	static char text[1024];
	ssize_t n = recv(fd, text, sizeof(text) - 1, 0);

	text[n > 0 ? n : 0] = '\0';
	return text;
}

static int
count_watchdogs(int fd)
{
	int count = 0;
	const char *text;

	while ((text = received(fd))[0] != '\0')
		count += strcmp(text, "WATCHDOG=1\n") == 0;
	return count;
}

struct stopper {
	struct loop_watch watch;
	struct loop *loop;
};

static void
stop_loop(struct loop_watch *watch, uint32_t events)
{
	struct stopper *stopper = (struct stopper *)watch;

	(void)events;
	stopper->loop->stop = 1;
}

/* Runs the loop for ms milliseconds. */
static void
run_for(struct loop *loop, long ms)
{
	struct itimerspec once = {
	    .it_value = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000}};
	struct stopper stopper = {.loop = loop};

	stopper.watch.fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	stopper.watch.ready = stop_loop;
	timerfd_settime(stopper.watch.fd, 0, &once, NULL);
	loop_add(loop, &stopper.watch, EPOLLIN);
	loop->stop = 0;
	loop_run(loop);
	loop_remove(loop, &stopper.watch);
	close(stopper.watch.fd);
}

int
main(void)
{
	char abstract[64], path[] = "/tmp/abuseguard-notify-XXXXXX", socket_path[128];
	struct notify notify;
	struct loop loop;
	int manager, watchdogs;

	log_init(1, 0, "test_notify");
	loop_init(&loop);

	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	CHECK(notify_open(&notify, &loop) == 0 && notify.fd == -1,
	      "without NOTIFY_SOCKET there is nothing to notify and no error");
	CHECK(notify_ready(&notify, "running") == 0, "READY=1 outside systemd is a no-op");
	notify_close(&notify);

	/* An abstract name, as systemd uses for user managers and in containers. */
	snprintf(abstract, sizeof(abstract), "@abuseguard-test-notify-%d", (int)getpid());
	manager = manager_socket(abstract);
	CHECK(manager >= 0, "the manager's socket %s is bound", abstract);
	setenv("NOTIFY_SOCKET", abstract, 1);
	CHECK(notify_open(&notify, &loop) == 0 && notify.fd >= 0, "NOTIFY_SOCKET=%s opens",
	      abstract);
	notify_ready(&notify, "enforce mode, 1 interface(s) attached");
	CHECK(strcmp(received(manager),
	             "READY=1\nSTATUS=enforce mode, 1 interface(s) attached\n") == 0,
	      "READY=1 arrives with its STATUS= line at an abstract name");
	notify_status(&notify, "first line\nsecond line");
	CHECK(strcmp(received(manager), "STATUS=first line\n") == 0,
	      "a STATUS= text is cut at its first newline, so it cannot add a state");
	notify_reloading(&notify, "reloading the policy");
	{
		const char *text = received(manager);

		CHECK(strncmp(text, "RELOADING=1\nMONOTONIC_USEC=", 27) == 0 &&
		          strstr(text, "\nSTATUS=reloading the policy\n") != NULL,
		      "RELOADING=1 carries MONOTONIC_USEC and its status");
	}
	notify_stopping(&notify, "stopping");
	CHECK(strcmp(received(manager), "STOPPING=1\nSTATUS=stopping\n") == 0,
	      "STOPPING=1 arrives");
	run_for(&loop, 100);
	CHECK(count_watchdogs(manager) == 0, "without WATCHDOG_USEC no WATCHDOG=1 is sent");
	notify_close(&notify);
	close(manager);

	/* A path, as the system manager uses: /run/systemd/notify. */
	if (mkdtemp(path) == NULL)
		return 1;
	snprintf(socket_path, sizeof(socket_path), "%s/notify", path);
	manager = manager_socket(socket_path);
	setenv("NOTIFY_SOCKET", socket_path, 1);
	setenv("WATCHDOG_USEC", "40000", 1);
	CHECK(notify_open(&notify, &loop) == 0 && notify.watchdog_usec == 40000,
	      "WATCHDOG_USEC=40000 without WATCHDOG_PID is ours");
	run_for(&loop, 210);
	watchdogs = count_watchdogs(manager);
	/* Every 20 ms for 210 ms: 10 on an idle machine; a loaded one may lose a few. */
	CHECK(watchdogs >= 5 && watchdogs <= 11,
	      "WATCHDOG=1 every half of WATCHDOG_USEC while the loop runs (%d in 210 ms)",
	      watchdogs);
	usleep(100000);
	CHECK(count_watchdogs(manager) == 0, "no WATCHDOG=1 while the loop does not run");
	notify_close(&notify);

	setenv("WATCHDOG_PID", "1", 1);
	CHECK(notify_open(&notify, &loop) == 0 && notify.watchdog_usec == 0,
	      "a watchdog meant for another process (WATCHDOG_PID=1) is not ours");
	notify_close(&notify);
	{
		char pid[32];

		snprintf(pid, sizeof(pid), "%d", (int)getpid());
		setenv("WATCHDOG_PID", pid, 1);
		CHECK(notify_open(&notify, &loop) == 0 && notify.watchdog_usec == 40000,
		      "WATCHDOG_PID naming this process keeps the watchdog");
		notify_close(&notify);
	}
	setenv("WATCHDOG_USEC", "soon", 1);
	CHECK(notify_open(&notify, &loop) == -EINVAL, "WATCHDOG_USEC=soon is refused");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");

	setenv("NOTIFY_SOCKET", "relative/notify", 1);
	CHECK(notify_open(&notify, &loop) == -EINVAL, "a relative NOTIFY_SOCKET is refused");
	setenv("NOTIFY_SOCKET", "/nonexistent/notify", 1);
	CHECK(notify_open(&notify, &loop) == -ENOENT && notify.fd == -1,
	      "a NOTIFY_SOCKET nobody listens on is an error, not silence");
	close(manager);
	unlink(socket_path);
	rmdir(path);
	loop_close(&loop);
	return check_done();
}
