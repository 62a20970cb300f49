/* rtnetlink events in the event loop (see rtnetlink.h). */
#include <errno.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/netlink.h>

#include "log.h"
#include "rtnetlink.h"

int
rtnetlink_watch(struct loop *loop, struct loop_watch *watch, uint32_t groups,
                void (*ready)(struct loop_watch *watch, uint32_t events), const char *owner)
{
	struct sockaddr_nl address = {.nl_family = AF_NETLINK, .nl_groups = groups};
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);

	if (fd == -1 || bind(fd, (struct sockaddr *)&address, sizeof(address)) == -1) {
		int error = -errno;

		log_warn("%s: rtnetlink socket", owner);
		if (fd != -1)
			close(fd);
		return error;
	}
	watch->fd = fd;
	watch->ready = ready;
	/* loop_add reports its own failure; the owner's close path closes fd. */
	return loop_add(loop, watch, EPOLLIN);
}
