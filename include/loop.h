/*
 * The one event loop: epoll over file descriptors. Each module embeds a
 * struct loop_watch and gets called back when its descriptor is ready.
 */
#ifndef LOOP_H
#define LOOP_H

#include <stdint.h>

struct loop_watch {
	int fd;
	void (*ready)(struct loop_watch *watch, uint32_t events);
};

struct loop {
	int epoll_fd;
	int stop;
};

int loop_init(struct loop *loop);
void loop_close(struct loop *loop);
/* events are EPOLLIN/EPOLLOUT/...; returns 0 or -errno. */
int loop_add(struct loop *loop, struct loop_watch *watch, uint32_t events);
int loop_modify(struct loop *loop, struct loop_watch *watch, uint32_t events);
void loop_remove(struct loop *loop, struct loop_watch *watch);
/* Runs until loop->stop is set. Returns 0 or -errno. */
int loop_run(struct loop *loop);

#endif
