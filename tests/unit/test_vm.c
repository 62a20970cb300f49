/*
 * Attribution in userspace: the VM registry (configured and learned
 * addresses, conflicts, quotas), the classifier of addresses no VM can own,
 * the operator's VMs in the store across a restart, and the policy's vms list.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addrclass.h"
#include "check.h"
#include "config.h"
#include "log.h"
#include "store.h"
#include "vm.h"

#define T0_MS 1790000000000LL

static char directory[] = "/tmp/abuseguard-vm.XXXXXX";
static const unsigned char mac_a[6] = {0x52, 0x54, 0, 0, 0, 0xa};

static struct prefix
prefix(const char *text)
{
	struct prefix out;

	if (prefix_parse(text, &out) < 0) {
		fprintf(stderr, "%s: bad test prefix\n", text);
		exit(2);
	}
	return out;
}

static struct source_key
source(const char *text)
{
	struct source_key out;

	if (source_parse(text, 64, &out) < 0)
		exit(2);
	return out;
}

static void
test_classifier(void)
{
	static const struct {
		const char *range;
		enum address_class class;
	} cases[] = {
	    {"127.0.0.1", ADDRESS_LOOPBACK},       {"127.8.9.10", ADDRESS_LOOPBACK},
	    {"0.0.0.0", ADDRESS_UNSPECIFIED},      {"255.255.255.255", ADDRESS_BROADCAST},
	    {"224.0.0.251", ADDRESS_MULTICAST},    {"239.1.2.3", ADDRESS_MULTICAST},
	    {"169.254.1.1", ADDRESS_LINK_LOCAL},   {"::1", ADDRESS_LOOPBACK},
	    {"::", ADDRESS_UNSPECIFIED},           {"ff02::1", ADDRESS_MULTICAST},
	    {"fe80::1", ADDRESS_LINK_LOCAL},       {"::ffff:127.0.0.1", ADDRESS_LOOPBACK},
	    {"192.0.2.10", ADDRESS_ORDINARY},      {"2001:db8::1", ADDRESS_ORDINARY},
	    {"198.51.100.0/24", ADDRESS_ORDINARY}, {"10.0.0.5", ADDRESS_ORDINARY},
	    {"203.0.113.7", ADDRESS_HOST},         {"2001:db8:ff::/48", ADDRESS_HOST},
	};
	struct prefix host[] = {prefix("203.0.113.7"), prefix("2001:db8:ff:1::1")};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct prefix range = prefix(cases[i].range);
		enum address_class class = address_classify(&range, host, 2);

		CHECK(class == cases[i].class, "%s is a %s (%s)", cases[i].range,
		      address_class_name(cases[i].class), address_class_name(class));
	}
	struct source_key loopback6 = source("::1");
	struct source_key host6 = source("2001:db8:ff:1::99");
	struct source_key documentation = source("192.0.2.99");

	CHECK(source_classify(&loopback6, host, 2) != ADDRESS_ORDINARY,
	      "the /64 source of ::1 is never bannable");
	CHECK(source_classify(&host6, host, 2) == ADDRESS_HOST,
	      "an IPv6 /64 that holds a hypervisor address is never bannable");
	CHECK(source_classify(&documentation, host, 2) == ADDRESS_ORDINARY,
	      "documentation addresses are ordinary: the tests use them");
}

static void
test_registry(void)
{
	struct vm_registry registry;
	struct prefix addresses[3] = {prefix("192.0.2.10"), prefix("2001:db8:a::/64")};
	const struct vm *holder;
	const char *conflict;
	struct prefix learned;
	struct vm *vm;
	int result;

	CHECK(vm_registry_init(&registry, 3, 2) == 0, "a registry of 3 VMs, 2 addresses each");
	CHECK(vm_configure(&registry, "vnet0", addresses, 2, "web1", "C-17", VM_ORIGIN_OPERATOR,
	                   T0_MS, &conflict) == 0,
	      "vnet0 is configured with an IPv4 address and an IPv6 /64");
	vm = vm_find(&registry, "vnet0");
	struct source_key inside = source("2001:db8:a::77"), outside = source("192.0.2.11");
	CHECK(vm != NULL && vm_holds_source(vm, &inside) && !vm_holds_source(vm, &outside),
	      "vnet0 holds 2001:db8:a::77 (its /64) and not 192.0.2.11");
	CHECK(strcmp(vm->name, "web1") == 0 && strcmp(vm->customer, "C-17") == 0,
	      "name and customer are kept");

	learned = prefix("192.0.2.10");
	result = vm_learn(&registry, "vnet1", &learned, VM_ORIGIN_ARP, mac_a, T0_MS, &holder);
	CHECK(result == -EADDRINUSE && holder != NULL && strcmp(holder->interface, "vnet0") == 0 &&
	          registry.stats.conflicts == 1,
	      "vnet1 claiming vnet0's address learns nothing, names vnet0 and is counted");
	learned = prefix("2001:db8:a::5");
	CHECK(vm_learn(&registry, "vnet1", &learned, VM_ORIGIN_NDP, mac_a, T0_MS, &holder) ==
	          -EADDRINUSE,
	      "an address inside vnet0's /64 is not learned by vnet1");

	learned = prefix("192.0.2.20");
	CHECK(vm_learn(&registry, "vnet1", &learned, VM_ORIGIN_ARP, mac_a, T0_MS, &holder) == 1,
	      "vnet1 learns 192.0.2.20 from its ARP");
	CHECK(vm_learn(&registry, "vnet1", &learned, VM_ORIGIN_ARP, mac_a, T0_MS, &holder) == 0,
	      "learning it again changes nothing");
	vm = vm_find(&registry, "vnet1");
	CHECK(vm != NULL && vm->have_mac && vm->address_count == 1 &&
	          vm->addresses[0].origin == VM_ORIGIN_ARP,
	      "vnet1 holds one address, learned by arp, and its MAC");
	learned = prefix("192.0.2.21");
	vm_learn(&registry, "vnet1", &learned, VM_ORIGIN_ARP, mac_a, T0_MS, &holder);
	learned = prefix("192.0.2.22");
	CHECK(vm_learn(&registry, "vnet1", &learned, VM_ORIGIN_ARP, mac_a, T0_MS, &holder) ==
	              -ENOSPC &&
	          registry.stats.quota_full == 1,
	      "a third address on vnet1 is refused and counted (max 2)");
	learned = prefix("127.0.0.1");
	CHECK(vm_learn(&registry, "vnet1", &learned, VM_ORIGIN_ARP, mac_a, T0_MS, &holder) ==
	          -EADDRNOTAVAIL,
	      "127.0.0.1 is never learned");

	addresses[2] = prefix("192.0.2.10");
	CHECK(vm_configure(&registry, "vnet2", &addresses[2], 1, NULL, NULL, VM_ORIGIN_OPERATOR,
	                   T0_MS, &conflict) == -EADDRINUSE &&
	          conflict != NULL && strcmp(conflict, "vnet0") == 0,
	      "configuring vnet0's address on vnet2 is refused and names vnet0");
	addresses[2] = prefix("192.0.2.20");
	CHECK(vm_configure(&registry, "vnet2", &addresses[2], 1, NULL, NULL, VM_ORIGIN_OPERATOR,
	                   T0_MS, &conflict) == 0 &&
	          vm_find(&registry, "vnet1")->address_count == 1,
	      "the operator's assignment takes an address vnet1 had only learned");
	learned = prefix("192.0.2.30");
	CHECK(vm_learn(&registry, "vnet2", &learned, VM_ORIGIN_ARP, mac_a, T0_MS, &holder) ==
	          -EPERM,
	      "a configured interface learns nothing");
	learned = prefix("192.0.2.40");
	CHECK(vm_learn(&registry, "vnet3", &learned, VM_ORIGIN_ARP, mac_a, T0_MS, &holder) ==
	              -ENOSPC &&
	          registry.stats.registry_full == 1,
	      "a fourth interface is refused and counted (max 3)");
	vm_interface_gone(&registry, "vnet1");
	CHECK(vm_find(&registry, "vnet1")->address_count == 0 &&
	          vm_find(&registry, "vnet0")->address_count == 2,
	      "an interface that goes loses its learned addresses, others keep theirs");
	vm_registry_free(&registry);
}

struct loaded {
	int count;
	struct store_vm first;
	struct prefix addresses[4];
};

static int
collect(const struct store_vm *vm, void *arg)
{
	struct loaded *loaded = arg;

	if (loaded->count++ == 0) {
		loaded->first = *vm;
		memcpy(loaded->addresses, vm->addresses,
		       (vm->address_count < 4 ? vm->address_count : 4) * sizeof(vm->addresses[0]));
	}
	return 0;
}

static void
test_store(void)
{
	struct prefix addresses[2] = {prefix("192.0.2.10"), prefix("2001:db8:a::/64")};
	struct store_vm record = {.interface = "vnet0", .name = "web1", .customer = "C-17"};
	struct loaded loaded = {0};
	struct store *store;
	char path[256];

	snprintf(path, sizeof(path), "%s/vm.db", directory);
	record.addresses = addresses;
	record.address_count = 2;
	CHECK(store_open(&store, path) == 0, "the store opens");
	CHECK(store_vm_set(store, &record, T0_MS, 1000, "orchestrator sync") == 0,
	      "vnet0's addresses are recorded");
	record.address_count = 1;
	CHECK(store_vm_set(store, &record, T0_MS + 1, 1000, "dropped the /64") == 0,
	      "recording vnet0 again replaces its addresses");
	store_close(store);
	CHECK(store_open(&store, path) == 0, "the store opens again, as after a restart");
	CHECK(store_vms(store, collect, &loaded) == 0 && loaded.count == 1 &&
	          strcmp(loaded.first.interface, "vnet0") == 0 &&
	          strcmp(loaded.first.name, "web1") == 0 &&
	          strcmp(loaded.first.customer, "C-17") == 0 && loaded.first.address_count == 1 &&
	          memcmp(&loaded.addresses[0], &addresses[0], sizeof(addresses[0])) == 0,
	      "after the restart vnet0 has its last addresses, name and customer");
	struct offence offence = {.category = CATEGORY_SPAM, .time_ms = T0_MS};
	struct ban ban = {.category = CATEGORY_SPAM,
	                  .scope = SCOPE_SMTP,
	                  .start_ms = T0_MS,
	                  .expires_ms = T0_MS + 3600000};
	struct ban history[2];
	size_t count = 0;

	offence.source = source("192.0.2.10");
	ban.source = offence.source;
	snprintf(offence.vm.interface, sizeof(offence.vm.interface), "vnet0");
	snprintf(offence.vm.mac, sizeof(offence.vm.mac), "52:54:00:00:00:0a");
	snprintf(offence.vm.name, sizeof(offence.vm.name), "web1");
	ban.vm = offence.vm;
	CHECK(store_record(store, &offence, &ban) == 0 &&
	          store_history(store, &offence.source, history, 2, &count) == 0 && count == 1 &&
	          strcmp(history[0].vm.interface, "vnet0") == 0 &&
	          strcmp(history[0].vm.mac, "52:54:00:00:00:0a") == 0 &&
	          strcmp(history[0].vm.name, "web1") == 0,
	      "a ban keeps the VM behind it (interface, MAC, name) through the store");
	store_close(store);
}

static int
write_policy(const char *name, const char *text, char *path, size_t size)
{
	FILE *file;

	snprintf(path, size, "%s/%s", directory, name);
	if ((file = fopen(path, "w")) == NULL)
		return -1;
	fputs(text, file);
	return fclose(file);
}

static struct config loaded_config;

static void
test_policy(void)
{
	static const struct {
		const char *text;
		unsigned line;
		const char *word;
		const char *what;
	} bad[] = {
	    {"vms = (\n { interface = \"vnet0\"; addresses = [ \"127.0.0.1\" ]; }\n);\n", 2,
	     "vms[0].addresses[0]: no VM can own a loopback address", "a loopback address"},
	    {"vms = (\n { interface = \"vnet0\"; addresses = [ \"192.0.2.10\" ]; },\n"
	     " { interface = \"vnet1\"; addresses = [ \"192.0.2.0/24\" ]; }\n);\n",
	     3, "vms[1].addresses[0]: \"192.0.2.0/24\" overlaps 192.0.2.10/32 of interface vnet0",
	     "an address on two interfaces"},
	    {"vms = (\n { interface = \"vnet0\"; addresses = [ \"192.0.2.10\" ]; },\n"
	     " { interface = \"vnet0\"; addresses = [ \"192.0.2.11\" ]; }\n);\n",
	     3, "interface vnet0 is listed twice", "an interface listed twice"},
	    {"vms = (\n { addresses = [ \"192.0.2.10\" ]; }\n);\n", 2, "a VM needs interface",
	     "a VM without its interface"},
	    {"vms = (\n { interface = \"vnet0\"; adresses = [ \"192.0.2.10\" ]; }\n);\n", 2,
	     "unknown setting (did you mean addresses?)", "a typo"},
	    {"limits = { max_vm_addresses = 1; };\nvms = (\n { interface = \"vnet0\";\n"
	     "   addresses = [ \"192.0.2.10\", \"192.0.2.11\" ]; }\n);\n",
	     4, "holds 2 addresses, more than limits.max_vm_addresses (1)", "too many addresses"},
	    {"spoofing = {\n packets = 10;\n action = \"block\";\n};\n", 3,
	     "spoofing.action: must be \"report\" or \"drop\", not \"block\"",
	     "an action that does not exist"},
	};
	char path[256], err[512], prefix_text[300];
	struct config before;

	CHECK(write_policy(
	          "good.conf",
	          "vms = (\n { interface = \"vnet3\"; addresses = [ \"192.0.2.10\", "
	          "\"2001:db8:3::/64\" ];\n   name = \"mail1\"; customer = \"C-42\"; }\n);\n",
	          path, sizeof(path)) == 0,
	      "a policy with one static host is written");
	CHECK(config_load(path, &loaded_config, err, sizeof(err)) == 0 &&
	          loaded_config.vm_count == 1 &&
	          strcmp(loaded_config.vms[0].interface, "vnet3") == 0 &&
	          loaded_config.vms[0].address_count == 2 &&
	          strcmp(loaded_config.vms[0].name, "mail1") == 0 &&
	          strcmp(loaded_config.vms[0].customer, "C-42") == 0,
	      "the policy's vms list is read: vnet3, two addresses, name, customer (%s)", err);
	CHECK(write_policy("spoofing.conf", "spoofing = { packets = 10; scope = \"smtp\"; };\n",
	                   path, sizeof(path)) == 0 &&
	          config_load(path, &loaded_config, err, sizeof(err)) == 0 &&
	          loaded_config.spoofing.packets == 10 &&
	          loaded_config.spoofing.scope == SCOPE_SMTP &&
	          loaded_config.spoofing.action == SPOOF_REPORT,
	      "the spoofing section is read: 10 packets, scope smtp, action report (%s)", err);
	memset(&before, 0xa5, sizeof(before));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_policy("bad.conf", bad[i].text, path, sizeof(path));
		snprintf(prefix_text, sizeof(prefix_text), "%s:%u: ", path, bad[i].line);
		memcpy(&loaded_config, &before, sizeof(before));
		CHECK(config_load(path, &loaded_config, err, sizeof(err)) == -EINVAL &&
		          strncmp(err, prefix_text, strlen(prefix_text)) == 0 &&
		          strstr(err, bad[i].word) != NULL &&
		          memcmp(&loaded_config, &before, sizeof(before)) == 0,
		      "%s is refused with file:line and changes nothing: %s", bad[i].what, err);
	}
}

int
main(void)
{
	char command[300];

	log_init(1, 0, "test_vm");
	if (mkdtemp(directory) == NULL)
		return 2;
	test_classifier();
	test_registry();
	test_store();
	test_policy();
	snprintf(command, sizeof(command), "rm -rf %s", directory);
	if (system(command) != 0)
		return 2;
	return check_done();
}
