/*
 * The VM registry: which addresses belong to which VM-facing interface, and
 * how each was learned. Configured addresses come from the policy (static
 * hosts) or the operator (`abusectl vm set`, durable in the store); where
 * none are configured, the VM's own ARP, NDP and DHCP teach them. An address
 * another interface already holds is never learned. Bounded: at most
 * max_vms interfaces and max_addresses addresses each; what does not fit is
 * refused and counted. Pure: no I/O, the time comes in.
 */
#ifndef VM_H
#define VM_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "source.h"

#define VM_LABEL_MAX 64 /* name and customer, NUL included */

enum vm_origin {
	VM_ORIGIN_POLICY = 0, /* the policy's vms list */
	VM_ORIGIN_OPERATOR,   /* abusectl vm set */
	VM_ORIGIN_ARP,        /* the VM's ARP: sender address */
	VM_ORIGIN_NDP,        /* the VM's neighbour/router solicitations and advertisements */
	VM_ORIGIN_DHCP,       /* the VM's DHCP request, or the server's ACK to it */
	VM_ORIGIN_COUNT
};

struct vm_address {
	struct prefix prefix; /* IPv4 /32, or an IPv6 prefix (/128 when learned) */
	enum vm_origin origin;
	int64_t since_ms;
};

struct vm {
	char interface[IF_NAMESIZE];
	int ifindex; /* 0 while the interface is not attached */
	unsigned char mac[6];
	bool have_mac;
	char name[VM_LABEL_MAX];
	char customer[VM_LABEL_MAX];
	struct vm_address *addresses; /* room for the registry's max_addresses */
	unsigned address_count;
};

struct vm_stats {
	uint64_t learned;       /* addresses learned */
	uint64_t conflicts;     /* claims of an address another interface holds */
	uint64_t quota_full;    /* addresses refused: the interface holds max_addresses */
	uint64_t registry_full; /* interfaces refused: max_vms are known */
	uint64_t unownable;     /* claims of an address no VM can own */
};

struct host_addresses;

struct vm_registry {
	struct vm *vms;
	struct vm_address *pool;
	unsigned count, max_vms, max_addresses;
	const struct host_addresses *host; /* may be NULL; set by the owner */
	struct vm_stats stats;
};

int vm_registry_init(struct vm_registry *registry, unsigned max_vms, unsigned max_addresses);
void vm_registry_free(struct vm_registry *registry);

struct vm *vm_find(struct vm_registry *registry, const char *interface);
struct vm *vm_find_ifindex(struct vm_registry *registry, int ifindex);
/* Finds or adds the interface's entry; NULL (counted) when the registry is full. */
struct vm *vm_get(struct vm_registry *registry, const char *interface);

/* Does the VM hold a configured (policy or operator) address? Then it learns nothing. */
bool vm_configured(const struct vm *vm);
/* The VM, other than except (may be NULL), that holds an address overlapping range. */
struct vm *vm_holder(struct vm_registry *registry, const struct prefix *range,
                     const struct vm *except);

/*
 * Configures the interface's addresses (origin policy or operator),
 * replacing those it had; name and customer are set when not NULL. Every
 * address must be ownable and not configured on another interface: else
 * -EADDRINUSE (*conflict names the other interface) or -EADDRNOTAVAIL, and
 * nothing changes. A learned claim elsewhere gives way. -ENOSPC past the
 * registry's bounds.
 */
/* The checks of vm_configure alone, changing nothing: 0 or its error. */
int vm_configure_check(const struct vm_registry *registry, const char *interface,
                       const struct prefix *addresses, unsigned count, const char **conflict);
int vm_configure(struct vm_registry *registry, const char *interface,
                 const struct prefix *addresses, unsigned count, const char *name,
                 const char *customer, enum vm_origin origin, int64_t now_ms,
                 const char **conflict);

/*
 * A learned address: 1 if new, 0 if the interface holds it already;
 * -EADDRINUSE when another interface holds it (*holder, counted),
 * -EPERM when the interface's addresses are configured, -EADDRNOTAVAIL when
 * no VM can own it, -ENOSPC when the interface's quota is full (counted).
 * The first MAC seen is kept as the VM's.
 */
int vm_learn(struct vm_registry *registry, const char *interface, const struct prefix *address,
             enum vm_origin origin, const unsigned char mac[6], int64_t now_ms,
             const struct vm **holder);
/* The interface went away: its learned addresses go, configured ones stay. */
void vm_interface_gone(struct vm_registry *registry, const char *interface);

/* Is source (an IPv4 address or IPv6 prefix) inside one of the VM's addresses? */
bool vm_holds_source(const struct vm *vm, const struct source_key *source);

const char *vm_origin_name(enum vm_origin origin);
/* "52:54:00:12:34:56" into buf (18 bytes), or "" without a MAC. */
const char *vm_mac_format(const struct vm *vm, char *buf, size_t len);

#endif
