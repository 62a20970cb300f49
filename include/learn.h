/*
 * Address learning from the VM's own frames, the way libvirt's clean-traffic
 * filter learns an interface's address (CTRL_IP_LEARNING=any): the sender
 * address of its ARP, the source (or, during duplicate address detection,
 * the target) of its NDP solicitations and advertisements, the address its
 * DHCP REQUEST asks for, or the one a server's DHCPACK gives it. Pure: a
 * frame in, at most one address out; every length is checked against the
 * frame. The weakness is documented in abuseguardd(8): a VM may claim any
 * address nobody holds yet, so it is first come, first served.
 */
#ifndef LEARN_H
#define LEARN_H

#include <stdbool.h>
#include <stddef.h>

#include "source.h"
#include "vm.h"

struct learned {
	enum vm_origin origin; /* VM_ORIGIN_ARP, _NDP or _DHCP */
	bool toward_vm;        /* a DHCPACK sent to the VM: mac is the client's */
	unsigned char mac[6];  /* the VM's: the frame's source, or the ACK's client */
	struct prefix address; /* /32 or /128 */
};

/*
 * Returns 1 and fills *out when the frame teaches an address, 0 when it
 * teaches none (not ARP/NDP/DHCP, a probe, an unownable address, link-layer
 * addresses that disagree), -EINVAL when a header it had to read is
 * truncated or inconsistent.
 */
int learn_parse(const void *frame, size_t length, struct learned *out);

#endif
