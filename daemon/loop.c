/* The single-threaded epoll loop every module hangs its descriptors on. */
#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"

#define LOOP_BATCH 32

int
loop_init(struct loop *loop)
{
	loop->stop = 0;
	loop->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epoll_fd == -1) {
		log_warn("epoll_create1");
		return -errno;
	}
	return 0;
}

void
loop_close(struct loop *loop)
{
	if (loop->epoll_fd != -1)
		close(loop->epoll_fd);
	loop->epoll_fd = -1;
}

static int
loop_control(struct loop *loop, int operation, struct loop_watch *watch, uint32_t events)
{
	struct epoll_event event = {.events = events, .data.ptr = watch};

	if (epoll_ctl(loop->epoll_fd, operation, watch->fd, &event) == -1) {
		int error = errno;

		log_warn("epoll_ctl fd %d", watch->fd);
		return -error;
	}
	return 0;
}

int
loop_add(struct loop *loop, struct loop_watch *watch, uint32_t events)
{
	return loop_control(loop, EPOLL_CTL_ADD, watch, events);
}

int
loop_modify(struct loop *loop, struct loop_watch *watch, uint32_t events)
{
	return loop_control(loop, EPOLL_CTL_MOD, watch, events);
}

void
loop_remove(struct loop *loop, struct loop_watch *watch)
{
	/* A descriptor that is already closed has left the set by itself. */
	epoll_ctl(loop->epoll_fd, EPOLL_CTL_DEL, watch->fd, NULL);
}

int
loop_run(struct loop *loop)
{
	struct epoll_event events[LOOP_BATCH];

	while (!loop->stop) {
		int n = epoll_wait(loop->epoll_fd, events, LOOP_BATCH, -1);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			log_warn("epoll_wait");
			return -errno;
		}
		for (int i = 0; i < n && !loop->stop; i++) {
			struct loop_watch *watch = events[i].data.ptr;

			watch->ready(watch, events[i].events);
		}
	}
	return 0;
}
