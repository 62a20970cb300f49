/* The hypervisor's own addresses: getifaddrs, refreshed on rtnetlink address events. */
#include <errno.h>
#include <fnmatch.h>
#include <ifaddrs.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "hostaddr.h"
#include "log.h"
#include "rtnetlink.h"

static int
vm_facing(const struct host_addresses *host, const char *name)
{
	for (unsigned i = 0;
	     host->config != NULL && i < host->config->interface_count && name != NULL; i++)
		if (fnmatch(host->config->interfaces[i], name, 0) == 0)
			return 1;
	return 0;
}

int
host_addresses_refresh(struct host_addresses *host)
{
	struct ifaddrs *list, *entry;
	size_t count = 0, dropped = 0;

	if (getifaddrs(&list) == -1) {
		int error = errno;

		log_warn("host addresses: getifaddrs");
		return -error;
	}
	for (entry = list; entry != NULL; entry = entry->ifa_next) {
		const struct sockaddr *address = entry->ifa_addr;
		struct prefix *out;

		if (address == NULL ||
		    (address->sa_family != AF_INET && address->sa_family != AF_INET6))
			continue;
		if (address->sa_family == AF_INET6 && vm_facing(host, entry->ifa_name))
			continue;
		if (count == host->max) {
			dropped++;
			continue;
		}
		out = &host->addresses[count++];
		memset(out, 0, sizeof(*out));
		if (address->sa_family == AF_INET) {
			out->family = SOURCE_FAMILY_IPV4;
			out->len = 32;
			memcpy(out->addr, &((const struct sockaddr_in *)address)->sin_addr, 4);
		} else {
			out->family = SOURCE_FAMILY_IPV6;
			out->len = 128;
			memcpy(out->addr, &((const struct sockaddr_in6 *)address)->sin6_addr, 16);
		}
	}
	freeifaddrs(list);
	if (dropped > 0 && host->dropped == 0)
		log_warnx("host addresses: more than %zu, %zu not known as the host's", host->max,
		          dropped);
	host->count = count;
	host->dropped = dropped;
	host->refreshes++;
	return 0;
}

static void
address_event(struct loop_watch *watch, uint32_t events)
{
	struct host_addresses *host =
	    (struct host_addresses *)((char *)watch - offsetof(struct host_addresses, watch));
	char buffer[16384];
	int changed = 0;

	(void)events;
	/* What changed does not matter: read the whole list again, once per wakeup. */
	for (;;) {
		ssize_t length = recv(watch->fd, buffer, sizeof(buffer), 0);

		if (length > 0 || (length < 0 && errno == ENOBUFS)) {
			changed = 1;
			continue;
		}
		if (length < 0 && errno != EAGAIN && errno != EINTR)
			log_warn("host addresses: rtnetlink recv");
		break;
	}
	if (changed)
		(void)host_addresses_refresh(host);
}

int
host_addresses_open(struct host_addresses *host, struct loop *loop, const struct config *config)
{
	size_t max = config->limits.max_host_addresses;
	int error;

	memset(host, 0, sizeof(*host));
	host->watch.fd = -1;
	host->max = max;
	host->config = config;
	host->loop = loop;
	host->addresses = calloc(max ? max : 1, sizeof(*host->addresses));
	if (host->addresses == NULL) {
		log_warn("host addresses: %zu", max);
		return -ENOMEM;
	}
	/* Watch first, so that no change between the two is missed. */
	if (loop != NULL &&
	    (error = rtnetlink_watch(loop, &host->watch, RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR,
	                             address_event, "host addresses")) < 0) {
		host_addresses_close(host);
		return error;
	}
	if ((error = host_addresses_refresh(host)) < 0) {
		host_addresses_close(host);
		return error;
	}
	return 0;
}

void
host_addresses_close(struct host_addresses *host)
{
	if (host->watch.fd != -1) {
		loop_remove(host->loop, &host->watch);
		close(host->watch.fd);
		host->watch.fd = -1;
	}
	free(host->addresses);
	host->addresses = NULL;
	host->count = 0;
}
