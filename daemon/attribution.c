/* The daemon's side of attribution: registry, learning, and the program's maps. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addrclass.h"
#include "attribution.h"
#include "learn.h"
#include "log.h"

/* Why vm_configure refused addresses, naming the one no VM can own. */
static const char *
refusal_reason(const struct attribution *attribution, int error, const struct prefix *addresses,
               unsigned count, const char *conflict, char *buf, size_t len)
{
	const struct host_addresses *host = &attribution->host;
	char address[SOURCE_STRLEN];
	enum address_class class;

	if (error == -EADDRINUSE) {
		snprintf(buf, len, "configured on interface %s", conflict);
		return buf;
	}
	if (error == -ENOSPC) {
		snprintf(buf, len, "past limits.max_vm_addresses or max_interfaces");
		return buf;
	}
	for (unsigned i = 0; error == -EADDRNOTAVAIL && i < count; i++) {
		class = address_classify(&addresses[i], host->addresses, host->count);
		if (class != ADDRESS_ORDINARY) {
			snprintf(buf, len, "%s is or holds a %s, which no VM can own",
			         prefix_format(&addresses[i], address, sizeof(address)),
			         address_class_name(class));
			return buf;
		}
	}
	snprintf(buf, len, "%s", strerror(-error));
	return buf;
}

static int
load_stored_vm(const struct store_vm *record, void *arg)
{
	struct attribution *attribution = arg;
	const char *conflict;
	char reason[128];
	int error;

	error = vm_configure(&attribution->vms, record->interface, record->addresses,
	                     record->address_count, record->name, record->customer,
	                     VM_ORIGIN_OPERATOR, clock_now_ms(attribution->clock), &conflict);
	if (error < 0)
		log_warnx("%s: the addresses the store holds are not applied: %s",
		          record->interface,
		          refusal_reason(attribution, error, record->addresses,
		                         record->address_count, conflict, reason, sizeof(reason)));
	return 0;
}

int
attribution_open(struct attribution *attribution, struct loop *loop, const struct config *config,
                 struct clock *clock, struct store *store)
{
	const char *conflict;
	char reason[128];
	int error;

	memset(attribution, 0, sizeof(*attribution));
	attribution->config = config;
	attribution->clock = clock;
	if ((error = host_addresses_open(&attribution->host, loop, config)) < 0)
		return error;
	if ((error = vm_registry_init(&attribution->vms, config->limits.max_interfaces,
	                              config->limits.max_vm_addresses)) < 0) {
		host_addresses_close(&attribution->host);
		return error;
	}
	attribution->vms.host = &attribution->host;
	/* The policy's static hosts, then the operator's, which override them. */
	for (unsigned i = 0; i < config->vm_count; i++) {
		const struct config_vm *vm = &config->vms[i];

		error = vm_configure(&attribution->vms, vm->interface, vm->addresses,
		                     vm->address_count, vm->name, vm->customer, VM_ORIGIN_POLICY,
		                     clock_now_ms(clock), &conflict);
		if (error < 0)
			log_warnx("%s: the policy's addresses are not applied: %s; it learns its "
			          "addresses instead",
			          vm->interface,
			          refusal_reason(attribution, error, vm->addresses,
			                         vm->address_count, conflict, reason,
			                         sizeof(reason)));
	}
	if (store != NULL && store_vms(store, load_stored_vm, attribution) < 0)
		log_warnx("the store's VMs could not all be read");
	return 0;
}

void
attribution_close(struct attribution *attribution)
{
	vm_registry_free(&attribution->vms);
	host_addresses_close(&attribution->host);
}

int
attribution_filter_sync(struct attribution *attribution)
{
	bool drop = attribution->config->spoofing.action == SPOOF_DROP;
	const struct vm_registry *registry = &attribution->vms;
	struct nft_vm_sources *vms;
	struct prefix *prefixes;
	size_t count = 0, used = 0;
	int error;

	if (attribution->nft == NULL)
		return 0;
	vms = calloc(registry->count + 1, sizeof(*vms));
	prefixes = calloc((size_t)registry->count * registry->max_addresses + 1, sizeof(*prefixes));
	if (vms == NULL || prefixes == NULL) {
		free(vms);
		free(prefixes);
		log_warnx("the anti-spoofing sets are not written: out of memory");
		return -ENOMEM;
	}
	for (unsigned i = 0; drop && i < registry->count; i++) {
		const struct vm *vm = &registry->vms[i];
		uint32_t flags = capture_interface_flags(vm, drop);

		/* One with no address known yet is still checked for its neighbours'. */
		if (vm->ifindex <= 0)
			continue;
		vms[count++] = (struct nft_vm_sources){
		    .ifindex = (uint32_t)vm->ifindex,
		    .check_ipv4 = (flags & INTERFACE_KNOWN_IPV4) != 0,
		    .check_ipv6 = (flags & INTERFACE_KNOWN_IPV6) != 0,
		    .addresses = &prefixes[used],
		    .address_count = vm->address_count,
		};
		for (unsigned j = 0; j < vm->address_count; j++)
			prefixes[used++] = vm->addresses[j].prefix;
	}
	error = nft_set_vm_sources(attribution->nft, vms, count); /* logged there */
	free(vms);
	free(prefixes);
	return error;
}

/* Writes every attached interface into the program: after a change that may move addresses. */
static void
sync_all(struct attribution *attribution)
{
	bool drop = attribution->config->spoofing.action == SPOOF_DROP;

	if (attribution->capture != NULL)
		for (unsigned i = 0; i < attribution->vms.count; i++) {
			const struct vm *vm = &attribution->vms.vms[i];

			if (vm->ifindex > 0)
				(void)capture_vm_sync(attribution->capture, vm->ifindex, vm, drop);
		}
	(void)attribution_filter_sync(attribution);
}

void
attribution_interface(void *arg, struct capture *capture, int ifindex, const char *name,
                      bool attached)
{
	struct attribution *attribution = arg;
	struct vm *vm;

	attribution->capture = capture;
	if (!attached) {
		vm_interface_gone(&attribution->vms, name);
		(void)capture_vm_sync(capture, ifindex, NULL, false);
		(void)attribution_filter_sync(attribution);
		return;
	}
	if ((vm = vm_get(&attribution->vms, name)) == NULL) {
		log_warnx("%s: not in the VM registry (limits.max_interfaces): its sources are "
		          "unverified",
		          name);
		return;
	}
	vm->ifindex = ifindex;
	(void)capture_vm_sync(capture, ifindex, vm,
	                      attribution->config->spoofing.action == SPOOF_DROP);
	(void)attribution_filter_sync(attribution);
}

void
attribution_learn(void *arg, struct capture *capture, int ifindex, const void *frame, size_t length)
{
	struct attribution *attribution = arg;
	char address[SOURCE_STRLEN];
	const struct vm *holder;
	struct learned learned;
	struct vm *vm;
	int result;

	attribution->capture = capture;
	vm = vm_find_ifindex(&attribution->vms, ifindex);
	result = learn_parse(frame, length, &learned);
	if (result < 0)
		attribution->learn_malformed++;
	/* A DHCPACK toward a VM is not what this interface sends: only its own frames teach. */
	if (vm == NULL || result <= 0 || learned.toward_vm)
		return;
	/* An IPv6 customer holds a whole prefix, as the ladder counts it. */
	if (learned.address.family == SOURCE_FAMILY_IPV6)
		prefix_mask(&learned.address, attribution->config->ipv6_prefix_len);
	result = vm_learn(&attribution->vms, vm->interface, &learned.address, learned.origin,
	                  learned.mac, clock_now_ms(attribution->clock), &holder);
	prefix_format(&learned.address, address, sizeof(address));
	if (result == -EADDRINUSE)
		log_warnx("%s: claims %s (%s), which interface %s holds: not learned",
		          vm->interface, address, vm_origin_name(learned.origin),
		          holder->interface);
	else if (result == -ENOSPC)
		log_warnx("%s: claims %s (%s), past limits.max_vm_addresses: not learned",
		          vm->interface, address, vm_origin_name(learned.origin));
	else if (result == 1) {
		log_info("%s: learned %s from its %s", vm->interface, address,
		         vm_origin_name(learned.origin));
		(void)capture_vm_sync(capture, ifindex, vm,
		                      attribution->config->spoofing.action == SPOOF_DROP);
		(void)attribution_filter_sync(attribution);
	}
}

int
attribution_configure(struct attribution *attribution, const char *interface,
                      const struct prefix *addresses, unsigned count, const char *name,
                      const char *customer, enum vm_origin origin, const char **conflict)
{
	int error = vm_configure(&attribution->vms, interface, addresses, count, name, customer,
	                         origin, clock_now_ms(attribution->clock), conflict);

	if (error == 0)
		sync_all(attribution);
	return error;
}

int
attribution_event_source(struct attribution *attribution, struct abuse_event *event)
{
	const struct vm *vm = vm_find_ifindex(&attribution->vms, (int)event->ifindex);
	const struct prefix *address;
	unsigned chosen = 0;

	if (vm == NULL || vm->address_count == 0) {
		attribution->spoofing_unattached++;
		return -ENOENT;
	}
	/* An ARP sweep asked for IPv4 addresses: the VM's IPv4 address answers for it. */
	if (event->source.family == SOURCE_FAMILY_INTERFACE)
		for (unsigned i = vm->address_count; i-- > 0;)
			if (vm->addresses[i].prefix.family == SOURCE_FAMILY_IPV4)
				chosen = i;
	address = &vm->addresses[chosen].prefix;
	source_from_addr(address->family, address->addr, attribution->config->ipv6_prefix_len,
	                 &event->source);
	return 0;
}

int
attribution_event(struct attribution *attribution, const struct abuse_event *event,
                  struct abuse_event *copy, const struct abuse_event **out)
{
	const struct vm *vm;

	*out = event;
	/* An ARP sweep is counted per interface: an ARP frame's sender may be forged. */
	if (event->category != CATEGORY_SPOOFING && event->source.family != SOURCE_FAMILY_INTERFACE)
		return 0;
	*copy = *event;
	if (attribution_event_source(attribution, copy) == 0) {
		*out = copy;
		return 0;
	}
	vm = vm_find_ifindex(&attribution->vms, (int)event->ifindex);
	log_warnx("%s: %u %s, but no address of its own is known: reported, not recorded",
	          vm != NULL ? vm->interface : "an interface", event->counts.attempts,
	          event->category == CATEGORY_SPOOFING ? "packets from forged sources"
	                                               : "ARP requests in a sweep of its link");
	return -ENOENT;
}

const struct vm *
attribution_vm(struct attribution *attribution, int ifindex)
{
	return vm_find_ifindex(&attribution->vms, ifindex);
}
