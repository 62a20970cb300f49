/*
 * rtnetlink events in the event loop: a non-blocking NETLINK_ROUTE socket
 * bound to multicast groups (RTMGRP_LINK, RTMGRP_IPV4_IFADDR, ...). The
 * capture module watches links (VMs' interfaces come and go), the host
 * addresses module watches addresses; each reads its own messages.
 */
#ifndef RTNETLINK_H
#define RTNETLINK_H

#include <stdint.h>

#include "loop.h"

/*
 * Opens the socket into watch->fd and adds it to the loop with ready as
 * its callback. 0 or -errno, logged once naming owner ("capture", ...).
 */
int rtnetlink_watch(struct loop *loop, struct loop_watch *watch, uint32_t groups,
                    void (*ready)(struct loop_watch *watch, uint32_t events), const char *owner);

#endif
