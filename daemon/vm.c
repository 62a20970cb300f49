/* The VM registry: interfaces, their addresses and how each was learned. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addrclass.h"
#include "hostaddr.h"
#include "vm.h"

int
vm_registry_init(struct vm_registry *registry, unsigned max_vms, unsigned max_addresses)
{
	memset(registry, 0, sizeof(*registry));
	if (max_vms == 0 || max_addresses == 0)
		return -EINVAL;
	registry->vms = calloc(max_vms, sizeof(*registry->vms));
	registry->pool = calloc((size_t)max_vms * max_addresses, sizeof(*registry->pool));
	if (registry->vms == NULL || registry->pool == NULL) {
		vm_registry_free(registry);
		return -ENOMEM;
	}
	registry->max_vms = max_vms;
	registry->max_addresses = max_addresses;
	return 0;
}

void
vm_registry_free(struct vm_registry *registry)
{
	free(registry->vms);
	free(registry->pool);
	memset(registry, 0, sizeof(*registry));
}

struct vm *
vm_find(struct vm_registry *registry, const char *interface)
{
	for (unsigned i = 0; i < registry->count; i++)
		if (strcmp(registry->vms[i].interface, interface) == 0)
			return &registry->vms[i];
	return NULL;
}

struct vm *
vm_find_ifindex(struct vm_registry *registry, int ifindex)
{
	for (unsigned i = 0; i < registry->count && ifindex > 0; i++)
		if (registry->vms[i].ifindex == ifindex)
			return &registry->vms[i];
	return NULL;
}

struct vm *
vm_get(struct vm_registry *registry, const char *interface)
{
	struct vm *vm = vm_find(registry, interface);

	if (vm != NULL)
		return vm;
	if (strlen(interface) == 0 || strlen(interface) >= IF_NAMESIZE)
		return NULL;
	if (registry->count == registry->max_vms) {
		registry->stats.registry_full++;
		return NULL;
	}
	vm = &registry->vms[registry->count];
	memset(vm, 0, sizeof(*vm));
	vm->addresses = &registry->pool[(size_t)registry->count * registry->max_addresses];
	strcpy(vm->interface, interface);
	registry->count++;
	return vm;
}

static bool
origin_configured(enum vm_origin origin)
{
	return origin == VM_ORIGIN_POLICY || origin == VM_ORIGIN_OPERATOR;
}

bool
vm_configured(const struct vm *vm)
{
	for (unsigned i = 0; i < vm->address_count; i++)
		if (origin_configured(vm->addresses[i].origin))
			return true;
	return false;
}

static int
address_index(const struct vm *vm, const struct prefix *range)
{
	for (unsigned i = 0; i < vm->address_count; i++)
		if (prefix_overlaps(&vm->addresses[i].prefix, range))
			return (int)i;
	return -1;
}

struct vm *
vm_holder(struct vm_registry *registry, const struct prefix *range, const struct vm *except)
{
	for (unsigned i = 0; i < registry->count; i++)
		if (&registry->vms[i] != except && address_index(&registry->vms[i], range) >= 0)
			return &registry->vms[i];
	return NULL;
}

/* Is the range held, as configured (not learned), by an interface other than vm? */
static const struct vm *
configured_elsewhere(const struct vm_registry *registry, const struct prefix *range,
                     const char *interface)
{
	for (unsigned i = 0; i < registry->count; i++) {
		const struct vm *other = &registry->vms[i];

		if (strcmp(other->interface, interface) == 0)
			continue;
		for (unsigned j = 0; j < other->address_count; j++)
			if (origin_configured(other->addresses[j].origin) &&
			    prefix_overlaps(&other->addresses[j].prefix, range))
				return other;
	}
	return NULL;
}

static bool
ownable(const struct vm_registry *registry, const struct prefix *range)
{
	if (registry->host == NULL)
		return address_ownable(range, NULL, 0);
	return address_ownable(range, registry->host->addresses, registry->host->count);
}

static void
address_remove(struct vm *vm, unsigned index)
{
	memmove(&vm->addresses[index], &vm->addresses[index + 1],
	        (vm->address_count - index - 1) * sizeof(vm->addresses[0]));
	vm->address_count--;
}

static void
label_set(char *field, const char *value)
{
	if (value != NULL)
		snprintf(field, VM_LABEL_MAX, "%s", value);
}

int
vm_configure_check(const struct vm_registry *registry, const char *interface,
                   const struct prefix *addresses, unsigned count, const char **conflict)
{
	const struct vm *other;

	*conflict = NULL;
	if (count > registry->max_addresses || strlen(interface) == 0 ||
	    strlen(interface) >= IF_NAMESIZE)
		return -ENOSPC;
	for (unsigned i = 0; i < count; i++) {
		if (!ownable(registry, &addresses[i]))
			return -EADDRNOTAVAIL;
		if ((other = configured_elsewhere(registry, &addresses[i], interface)) != NULL) {
			*conflict = other->interface;
			return -EADDRINUSE;
		}
	}
	for (unsigned i = 0; i < registry->count; i++)
		if (strcmp(registry->vms[i].interface, interface) == 0)
			return 0;
	return registry->count < registry->max_vms ? 0 : -ENOSPC;
}

int
vm_configure(struct vm_registry *registry, const char *interface, const struct prefix *addresses,
             unsigned count, const char *name, const char *customer, enum vm_origin origin,
             int64_t now_ms, const char **conflict)
{
	struct vm *vm, *other;
	int error;

	if ((error = vm_configure_check(registry, interface, addresses, count, conflict)) < 0) {
		if (error == -ENOSPC)
			registry->stats.quota_full++;
		return error;
	}
	if ((vm = vm_get(registry, interface)) == NULL)
		return -ENOSPC;
	/* The configuration is the truth: learned claims elsewhere give way. */
	for (unsigned i = 0; i < count; i++)
		while ((other = vm_holder(registry, &addresses[i], vm)) != NULL)
			address_remove(other, (unsigned)address_index(other, &addresses[i]));
	for (unsigned i = 0; i < count; i++) {
		vm->addresses[i].prefix = addresses[i];
		vm->addresses[i].origin = origin;
		vm->addresses[i].since_ms = now_ms;
	}
	vm->address_count = count;
	label_set(vm->name, name);
	label_set(vm->customer, customer);
	return 0;
}

int
vm_learn(struct vm_registry *registry, const char *interface, const struct prefix *address,
         enum vm_origin origin, const unsigned char mac[6], int64_t now_ms,
         const struct vm **holder)
{
	struct vm *vm, *other;

	*holder = NULL;
	if (!ownable(registry, address)) {
		registry->stats.unownable++;
		return -EADDRNOTAVAIL;
	}
	other = vm_holder(registry, address, vm_find(registry, interface));
	if (other != NULL) {
		*holder = other;
		registry->stats.conflicts++;
		return -EADDRINUSE;
	}
	if ((vm = vm_get(registry, interface)) == NULL)
		return -ENOSPC;
	if (mac != NULL && !vm->have_mac) {
		memcpy(vm->mac, mac, sizeof(vm->mac));
		vm->have_mac = true;
	}
	if (vm_configured(vm))
		return -EPERM;
	if (address_index(vm, address) >= 0)
		return 0;
	if (vm->address_count == registry->max_addresses) {
		registry->stats.quota_full++;
		return -ENOSPC;
	}
	vm->addresses[vm->address_count].prefix = *address;
	vm->addresses[vm->address_count].origin = origin;
	vm->addresses[vm->address_count].since_ms = now_ms;
	vm->address_count++;
	registry->stats.learned++;
	return 1;
}

void
vm_interface_gone(struct vm_registry *registry, const char *interface)
{
	struct vm *vm = vm_find(registry, interface);

	if (vm == NULL)
		return;
	for (unsigned i = vm->address_count; i-- > 0;)
		if (!origin_configured(vm->addresses[i].origin))
			address_remove(vm, i);
	vm->ifindex = 0;
}

bool
vm_holds_source(const struct vm *vm, const struct source_key *source)
{
	for (unsigned i = 0; i < vm->address_count; i++)
		if (prefix_contains(&vm->addresses[i].prefix, source))
			return true;
	return false;
}

const char *
vm_origin_name(enum vm_origin origin)
{
	static const char *const names[VM_ORIGIN_COUNT] = {
	    [VM_ORIGIN_POLICY] = "policy", [VM_ORIGIN_OPERATOR] = "operator",
	    [VM_ORIGIN_ARP] = "arp",       [VM_ORIGIN_NDP] = "ndp",
	    [VM_ORIGIN_DHCP] = "dhcp",
	};

	return (unsigned)origin < VM_ORIGIN_COUNT ? names[origin] : "unknown";
}

const char *
vm_mac_format(const struct vm *vm, char *buf, size_t len)
{
	if (!vm->have_mac)
		snprintf(buf, len, "%s", "");
	else
		snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", vm->mac[0], vm->mac[1],
		         vm->mac[2], vm->mac[3], vm->mac[4], vm->mac[5]);
	return buf;
}
