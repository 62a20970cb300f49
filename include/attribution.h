/*
 * Attribution in the daemon: the VM registry and the hypervisor's own
 * addresses, kept in step with the XDP program's view. It learns from the
 * frames the program hands up, follows interfaces as they come and go,
 * applies the policy's and the operator's VMs, and names the VM behind an
 * event (a spoofing event's source is the forging VM's own address).
 */
#ifndef ATTRIBUTION_H
#define ATTRIBUTION_H

#include <stdbool.h>
#include <stdint.h>

#include "abuseguard/abuseguard.h"
#include "capture.h"
#include "clock.h"
#include "config.h"
#include "hostaddr.h"
#include "loop.h"
#include "nft.h"
#include "store.h"
#include "vm.h"

struct attribution {
	const struct config *config;
	struct clock *clock;
	struct vm_registry vms;
	struct host_addresses host;
	struct capture *capture;      /* NULL until capture is open */
	struct nft *nft;              /* the anti-spoofing rules' sets; NULL in replay */
	uint64_t learn_malformed;     /* handed-up frames the parser refused */
	uint64_t spoofing_unattached; /* spoofing events from an interface with no address */
};

/* Reads the host's addresses, the policy's VMs and then the store's. */
int attribution_open(struct attribution *attribution, struct loop *loop,
                     const struct config *config, struct clock *clock, struct store *store);
void attribution_close(struct attribution *attribution);

/* Capture hooks: pass &attribution as their arg. */
void attribution_learn(void *arg, struct capture *capture, int ifindex, const void *frame,
                       size_t length);
void attribution_interface(void *arg, struct capture *capture, int ifindex, const char *name,
                           bool attached);

/*
 * Configures an interface's addresses (the operator's vm set, once stored)
 * and writes every interface that changed into the program.
 */
int attribution_configure(struct attribution *attribution, const char *interface,
                          const struct prefix *addresses, unsigned count, const char *name,
                          const char *customer, enum vm_origin origin, const char **conflict);

/*
 * Fills a spoofing event's source with the forging VM's own address (its
 * first, IPv6 masked to ipv6_prefix), and an ARP sweep's (source family
 * SOURCE_FAMILY_INTERFACE) with its first IPv4 address, else its first.
 * -ENOENT, counted, if it has none.
 */
int attribution_event_source(struct attribution *attribution, struct abuse_event *event);

/*
 * The event the engine takes: *out is event itself, or for a spoofing event
 * or an ARP sweep (source family SOURCE_FAMILY_INTERFACE) a copy in *copy
 * whose source is the VM's own address (a spoofing event is an offence of
 * the VM that forged). -ENOENT, logged, when that VM has no address:
 * reported, not recorded.
 */
int attribution_event(struct attribution *attribution, const struct abuse_event *event,
                      struct abuse_event *copy, const struct abuse_event **out);

/*
 * With spoofing.action = "drop", writes every attached interface and its
 * own sources into nftables' anti-spoofing sets (nft_set_vm_sources),
 * checking the families the XDP program checks on it; otherwise empties them. Done after
 * every change the registry makes; by the owner after it replaced nft.
 */
int attribution_filter_sync(struct attribution *attribution);

/* The VM behind an interface, or NULL. */
const struct vm *attribution_vm(struct attribution *attribution, int ifindex);

#endif
