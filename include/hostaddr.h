/*
 * The hypervisor's own addresses, read with getifaddrs(3) at start and again
 * whenever rtnetlink reports an address added or removed, so that no VM
 * forging one of them gets it banned. Bounded: past max addresses the rest
 * are counted as dropped, and the classifier still knows the loopback,
 * link-local, multicast ranges whatever the count. An IPv6 address on a
 * VM-facing interface (the VM's gateway, inside the VM's own prefix) is not
 * counted: it would make the VM's whole prefix unbannable.
 */
#ifndef HOSTADDR_H
#define HOSTADDR_H

#include <stddef.h>
#include <stdint.h>

#include "loop.h"
#include "source.h"

struct config;

struct host_addresses {
	struct prefix *addresses; /* full-length prefixes: /32, /128 */
	size_t count, max;
	uint64_t refreshes, dropped; /* dropped: addresses past max at the last refresh */
	struct loop *loop;
	struct loop_watch watch;     /* rtnetlink address events; fd -1 without a loop */
	const struct config *config; /* its interface patterns name the VM-facing interfaces */
};

/*
 * Reads the addresses now and, with a loop, watches for changes. The
 * config's interface patterns name the VM-facing interfaces.
 */
int host_addresses_open(struct host_addresses *host, struct loop *loop,
                        const struct config *config);
void host_addresses_close(struct host_addresses *host);
/* Reads them again (also called on every address event). */
int host_addresses_refresh(struct host_addresses *host);

#endif
