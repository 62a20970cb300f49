/*
 * The userspace pipeline on a fixed clock: threshold events through the
 * detector, policy and store, with no kernel set (nft == NULL), as replay
 * runs it. What an operator would check: the rung and scope of each ban,
 * that retries of a banned spammer do not climb the ladder, that observe
 * mode, the allowlist and the safety valve hold, and that a lift is durable.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "engine.h"
#include "log.h"
#include "vm.h"

#define HOUR_MS (3600 * 1000LL)
#define DAY_MS  (24 * HOUR_MS)
#define T0_MS   1790000000000LL

static char directory[] = "/tmp/abuseguard-engine.XXXXXX";

struct recorder {
	struct decision last;
	struct finding finding;
	struct ban ban;
	int banned, decisions;
};

static void
record(void *arg, const struct finding *finding, const struct decision *decision,
       const struct ban *ban)
{
	struct recorder *recorder = arg;

	recorder->finding = *finding;
	recorder->last = *decision;
	recorder->banned = ban != NULL;
	if (ban != NULL)
		recorder->ban = *ban;
	recorder->decisions++;
}

static struct abuse_event
spam_event(const char *address, uint32_t attempts, int64_t time_ms)
{
	struct abuse_event event;
	unsigned char raw[16] = {0};
	int family = strchr(address, ':') ? AF_INET6 : AF_INET;

	memset(&event, 0, sizeof(event));
	inet_pton(family, address, raw);
	source_from_addr(family == AF_INET ? SOURCE_FAMILY_IPV4 : SOURCE_FAMILY_IPV6, raw, 64,
	                 &event.source);
	event.time_ns = (uint64_t)time_ms * 1000000;
	event.category = CATEGORY_SPAM;
	event.reason = SPAM_REASON_ATTEMPTS;
	event.counts.attempts = attempts;
	event.counts.destinations = 1;
	event.sample_count = 1;
	event.samples[0].family = event.source.family;
	event.samples[0].protocol = IPPROTO_TCP;
	event.samples[0].port = 25;
	return event;
}

struct fixture {
	struct config config;
	struct clock clock;
	struct store *store;
	struct engine engine;
	struct recorder recorder;
};

static int
fixture_open(struct fixture *fixture, const char *name)
{
	char path[256];

	memset(fixture, 0, sizeof(*fixture));
	config_defaults(&fixture->config);
	clock_init_fixed(&fixture->clock, T0_MS);
	snprintf(path, sizeof(path), "%s/%s.db", directory, name);
	if (store_open(&fixture->store, path) < 0)
		return -1;
	if (engine_init(&fixture->engine, &fixture->config, &fixture->clock, fixture->store, NULL) <
	    0)
		return -1;
	fixture->engine.on_decision = record;
	fixture->engine.arg = &fixture->recorder;
	return 0;
}

static void
fixture_close(struct fixture *fixture)
{
	engine_close(&fixture->engine);
	store_close(fixture->store);
}

/* Sends one event at time_ms and returns the decision's action. */
static enum action
offend(struct fixture *fixture, const char *address, int64_t time_ms)
{
	struct abuse_event event = spam_event(address, 30, time_ms);

	clock_set(&fixture->clock, time_ms);
	fixture->recorder.banned = 0;
	fixture->recorder.last.action = (enum action) - 1;
	engine_handle_event(&fixture->engine, &event);
	return fixture->recorder.last.action;
}

static void
test_ladder_through_the_engine(void)
{
	struct fixture f;
	struct ban lifted[4];
	struct source_key source;
	size_t count;
	int64_t t = T0_MS;

	CHECK(fixture_open(&f, "ladder") == 0, "engine opens on a fresh store");
	CHECK(offend(&f, "10.0.0.5", t) == ACTION_BAN && f.recorder.ban.level == 0 &&
	          f.recorder.ban.scope == SCOPE_SMTP &&
	          f.recorder.ban.expires_ms - f.recorder.ban.start_ms == HOUR_MS,
	      "a first burst bans for 1 hour, scope smtp");
	CHECK(offend(&f, "10.0.0.5", t + 10 * 60000) == ACTION_IGNORE &&
	          f.recorder.last.why == REASON_ALREADY_BANNED,
	      "the banned spammer's retries while port 25 is blocked are no new offence");
	CHECK(f.engine.stats.bans == 1, "so no second ban is installed (%llu bans)",
	      (unsigned long long)f.engine.stats.bans);

	t += HOUR_MS + 12 * HOUR_MS; /* 12 hours after the first ban ended */
	CHECK(offend(&f, "10.0.0.5", t) == ACTION_BAN && f.recorder.ban.level == 1 &&
	          f.recorder.ban.expires_ms - t == 7 * DAY_MS,
	      "a repeat within a day after the ban ended gets 1 week");

	source_parse("10.0.0.5", 64, &source);
	clock_set(&f.clock, t + HOUR_MS);
	CHECK(engine_unban(&f.engine, &source, 0, "customer fixed the relay", lifted, 4, &count) ==
	              0 &&
	          count == 1 && lifted[0].level == 1,
	      "an operator's lift ends the 1-week ban");
	CHECK(engine_unban(&f.engine, &source, 0, "again", lifted, 4, &count) == -ENOENT,
	      "a second lift finds no active ban");
	t += 2 * HOUR_MS;
	CHECK(offend(&f, "10.0.0.5", t) == ACTION_BAN && f.recorder.ban.level == 2 &&
	          f.recorder.ban.expires_ms - t == 30 * DAY_MS,
	      "a repeat an hour after the lift climbs to 1 month");
	t += 30 * DAY_MS + 29 * DAY_MS;
	CHECK(offend(&f, "10.0.0.5", t) == ACTION_BAN && f.recorder.ban.level == 3 &&
	          f.recorder.ban.expires_ms - t == 365 * DAY_MS,
	      "a repeat 29 days after the month ended gets 1 year");
	t += 365 * DAY_MS + 40 * DAY_MS;
	CHECK(offend(&f, "10.0.0.5", t) == ACTION_BAN && f.recorder.ban.level == 0,
	      "40 clean days after the year ended start again at 1 hour");
	CHECK(offend(&f, "10.0.0.6", t) == ACTION_BAN && f.recorder.ban.level == 0,
	      "another source has its own ladder");
	fixture_close(&f);
}

static void
test_ipv6_prefix(void)
{
	struct fixture f;
	char text[SOURCE_STRLEN];

	CHECK(fixture_open(&f, "ipv6") == 0, "engine opens for the IPv6 case");
	CHECK(offend(&f, "fd00:5::5", T0_MS) == ACTION_BAN &&
	          strcmp(source_format(&f.recorder.ban.source, text, sizeof(text)),
	                 "fd00:5::/64") == 0,
	      "an IPv6 source is banned as its /64 (%s)", text);
	CHECK(offend(&f, "fd00:5::77", T0_MS + 1000) == ACTION_IGNORE,
	      "another address in the same /64 is already banned");
	fixture_close(&f);
}

static void
test_safe_defaults(void)
{
	struct fixture f;
	char name[32];

	CHECK(fixture_open(&f, "observe") == 0, "engine opens for observe mode");
	f.config.mode = MODE_OBSERVE;
	CHECK(offend(&f, "10.0.0.7", T0_MS) == ACTION_ALERT && !f.recorder.banned,
	      "observe mode records the offence but bans nothing");
	f.config.mode = MODE_ENFORCE;
	prefix_parse("10.0.9.0/24", &f.config.allowlist[0]);
	f.config.allowlist_count = 1;
	CHECK(offend(&f, "10.0.9.9", T0_MS) == ACTION_IGNORE && !f.recorder.banned,
	      "an allowlisted source is never banned");
	fixture_close(&f);

	CHECK(fixture_open(&f, "valve") == 0, "engine opens for the safety valve");
	f.config.limits.bans_per_minute = 3;
	engine_close(&f.engine);
	engine_init(&f.engine, &f.config, &f.clock, f.store, NULL);
	f.engine.on_decision = record;
	f.engine.arg = &f.recorder;
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "10.1.0.%d", i + 1);
		offend(&f, name, T0_MS + i * 1000);
	}
	CHECK(f.engine.stats.bans == 3, "three bans fit under a valve of 3 per minute");
	CHECK(offend(&f, "10.1.0.9", T0_MS + 5000) == ACTION_ALERT &&
	          f.recorder.last.why == REASON_SAFETY_VALVE,
	      "the fourth within the minute only alerts");
	CHECK(offend(&f, "10.1.0.9", T0_MS + 61000 + 2000) == ACTION_BAN,
	      "a minute later bans are installed again");
	fixture_close(&f);

	CHECK(fixture_open(&f, "full") == 0, "engine opens for full ban sets");
	f.config.limits.max_bans = 2;
	offend(&f, "10.2.0.1", T0_MS);
	offend(&f, "10.2.0.2", T0_MS + 1000);
	CHECK(offend(&f, "10.2.0.3", T0_MS + 2000) == ACTION_ALERT &&
	          f.recorder.last.why == REASON_SETS_FULL && f.engine.stats.sets_full == 1,
	      "past limits.max_bans active bans a new offence only alerts, and is counted");
	CHECK(offend(&f, "fd00:2::1", T0_MS + 3000) == ACTION_BAN,
	      "the limit is per address family: an IPv6 source is still banned");
	CHECK(offend(&f, "10.2.0.3", T0_MS + HOUR_MS + 5000) == ACTION_BAN,
	      "once the first bans have expired there is room again");
	fixture_close(&f);
}

/*
 * After ipv6_prefix changes, reconcile still puts every other ban back: the
 * IPv6 bans keyed on the old prefix are left out, not the whole table.
 * Needs a private network namespace for nftables.
 */
static void
test_reconcile_after_prefix_change(void)
{
	struct nft_options options = {.table = "abuseguard_engine", .ipv6_prefix_len = 56};
	struct fixture f;
	struct nft *nft = NULL;
	int found_ipv4 = 0, found_ipv6 = 0;
	FILE *pipe;
	char line[512];

	if (unshare(CLONE_NEWNET) < 0) {
		CHECK(0, "a private network namespace for nftables (unshare: %s)", strerror(errno));
		return;
	}
	CHECK(fixture_open(&f, "prefix") == 0, "engine opens for a prefix change");
	offend(&f, "10.0.0.9", T0_MS);
	offend(&f, "fd00:9::9", T0_MS);
	CHECK(f.engine.stats.bans == 2, "an IPv4 and an IPv6 (/64) ban are recorded");
	f.config.ipv6_prefix_len = 56;
	clock_set(&f.clock, T0_MS + 60000);
	CHECK(nft_open(&nft, &options) == 0, "nftables opens with ipv6_prefix 56");
	f.engine.nft = nft;
	CHECK(nft != NULL && engine_reconcile(&f.engine) == 0,
	      "reconcile succeeds although a ban was keyed on /64");
	pipe = popen("nft list table inet abuseguard_engine", "r");
	while (pipe != NULL && fgets(line, sizeof(line), pipe) != NULL) {
		found_ipv4 |= strstr(line, "10.0.0.9") != NULL;
		found_ipv6 |= strstr(line, "fd00:9::") != NULL;
	}
	if (pipe != NULL)
		pclose(pipe);
	CHECK(found_ipv4 && !found_ipv6,
	      "the IPv4 ban is in the kernel, the /64 one is not (IPv4 %d, IPv6 %d)", found_ipv4,
	      found_ipv6);
	f.engine.nft = NULL;
	if (nft != NULL) {
		nft_destroy(nft);
		nft_close(nft);
	}
	fixture_close(&f);
}

static void
test_bad_events(void)
{
	struct fixture f;
	struct abuse_event event = spam_event("10.0.0.8", 30, T0_MS);

	CHECK(fixture_open(&f, "bad") == 0, "engine opens for bad events");
	event.source.family = 77;
	CHECK(engine_handle_event(&f.engine, &event) == -EINVAL && f.engine.stats.errors == 1,
	      "an event with an unknown family is refused and counted");
	event = spam_event("10.0.0.8", 30, T0_MS);
	event.category = CATEGORY_COUNT;
	CHECK(engine_handle_event(&f.engine, &event) == -EINVAL && f.engine.stats.errors == 2,
	      "an event of a category no detector handles is refused and counted");
	event = spam_event("10.0.0.8", 30, T0_MS);
	event.sample_count = EVENT_SAMPLES + 1;
	CHECK(engine_handle_event(&f.engine, &event) == -EINVAL && f.recorder.decisions == 0,
	      "an event claiming more samples than it holds is refused");
	event = spam_event("10.0.0.8", 3, T0_MS);
	event.counts.destinations = 1;
	CHECK(engine_handle_event(&f.engine, &event) == 0 && f.recorder.decisions == 0,
	      "an event below the policy's thresholds (program not yet reloaded) decides nothing");
	f.config.spam.enabled = 0;
	event = spam_event("10.0.0.8", 300, T0_MS);
	CHECK(engine_handle_event(&f.engine, &event) == 0 && f.recorder.decisions == 0,
	      "with spam detection disabled an event decides nothing");
	fixture_close(&f);
}

/* A scan event as the programs send it: count probes to port on consecutive hosts. */
static struct abuse_event
scan_event(const char *address, unsigned reason, uint32_t failures, uint32_t successes,
           uint16_t port, int64_t time_ms)
{
	struct abuse_event event = spam_event(address, 0, time_ms);

	event.category = CATEGORY_SCAN;
	event.reason = reason;
	event.counts = (struct event_counts){.attempts = failures + successes,
	                                     .failures = failures,
	                                     .successes = successes,
	                                     .destinations = failures + successes,
	                                     .ports = 1};
	event.sample_count = EVENT_SAMPLES;
	for (unsigned i = 0; i < EVENT_SAMPLES; i++) {
		event.samples[i].family = SOURCE_FAMILY_IPV4;
		event.samples[i].protocol = IPPROTO_TCP;
		event.samples[i].port = port;
		inet_pton(AF_INET, "203.0.113.0", event.samples[i].address);
		event.samples[i].address[3] = (unsigned char)(40 - i);
	}
	return event;
}

static void
test_scan_findings(void)
{
	struct fixture f;
	struct abuse_event event;

	CHECK(fixture_open(&f, "scan") == 0, "engine opens for scans");
	event = scan_event("10.0.0.20", SCAN_REASON_SEQUENTIAL, 5, 0, 22, T0_MS);
	clock_set(&f.clock, T0_MS);
	CHECK(engine_handle_event(&f.engine, &event) == 0 && f.recorder.banned &&
	          f.recorder.ban.scope == SCOPE_ALL && f.recorder.ban.category == CATEGORY_SCAN &&
	          f.recorder.ban.expires_ms - f.recorder.ban.start_ms == HOUR_MS,
	      "a scan event bans for 1 hour with scope all");
	CHECK(strstr(f.recorder.finding.detail, "TCP horizontal scan port 22 (sequential test)") &&
	          strstr(f.recorder.finding.detail, "5 failed, 0 answered") &&
	          strstr(f.recorder.finding.detail, "last to 203.0.113.40 port 22"),
	      "the finding names the kind, the counts and a destination: %s",
	      f.recorder.finding.detail);
	CHECK(f.recorder.finding.counts.failures == 5 && f.recorder.finding.sample_count == 4,
	      "the finding keeps the event's counts and samples");

	f.config.scan.sequential = 8;
	f.recorder.decisions = 0;
	event = scan_event("10.0.0.21", SCAN_REASON_SEQUENTIAL, 5, 0, 22, T0_MS);
	CHECK(
	    engine_handle_event(&f.engine, &event) == 0 && f.recorder.decisions == 0,
	    "an event below a raised policy threshold (program not yet reloaded) decides nothing");
	f.config.scan.scope = SCOPE_WEB;
	event = scan_event("10.0.0.22", SCAN_REASON_HORIZONTAL, 30, 10, 80, T0_MS);
	CHECK(engine_handle_event(&f.engine, &event) == 0 && f.recorder.banned &&
	          f.recorder.ban.scope == SCOPE_WEB,
	      "scan.scope is the policy's: web");
	event = scan_event("10.0.0.23", 9, 30, 10, 80, T0_MS);
	CHECK(engine_handle_event(&f.engine, &event) == -EINVAL,
	      "a scan event with an unknown reason is refused");

	/* An ARP sweep, its source the VM's address as the daemon fills it in. */
	f.config.scan.scope = SCOPE_ALL;
	event = scan_event("10.0.0.24", SCAN_REASON_ARP, 8, 1, 0, T0_MS);
	for (unsigned i = 0; i < EVENT_SAMPLES; i++)
		event.samples[i].protocol = SAMPLE_PROTOCOL_ARP;
	CHECK(engine_handle_event(&f.engine, &event) == 0 && f.recorder.banned &&
	          f.recorder.ban.scope == SCOPE_ALL &&
	          strstr(f.recorder.finding.detail,
	                 "ARP host-discovery sweep (unanswered ARP requests): 9 addresses asked "
	                 "for on its link within 60s, 8 failed, 1 answered; last for "
	                 "203.0.113.40"),
	      "an ARP sweep bans with scope all and names itself: %s", f.recorder.finding.detail);
	f.config.scan.arp_hosts = 9;
	f.recorder.decisions = 0;
	event.source.addr[3] = 25;
	CHECK(engine_handle_event(&f.engine, &event) == 0 && f.recorder.decisions == 0,
	      "an ARP sweep below a raised arp_hosts decides nothing");
	event.samples[0].protocol = IPPROTO_TCP;
	CHECK(engine_handle_event(&f.engine, &event) == -EINVAL,
	      "an ARP sweep whose sample is not an ARP request is refused");
	fixture_close(&f);
}

static void
test_evasion_findings(void)
{
	struct fixture f;
	struct abuse_event event;

	CHECK(fixture_open(&f, "evasion") == 0, "engine opens for evasion");
	event = spam_event("10.0.0.30", 0, T0_MS);
	event.category = CATEGORY_EVASION;
	event.reason = EVASION_REASON_TINY_FRAGMENTS;
	event.counts = (struct event_counts){.attempts = 3};
	event.fragment_bytes = 8;
	event.fragment_id = 0xbeef;
	event.sample_count = 1;
	event.samples[0] =
	    (struct event_sample){.family = SOURCE_FAMILY_IPV4, .protocol = IPPROTO_TCP};
	inet_pton(AF_INET, "203.0.113.25", event.samples[0].address);
	clock_set(&f.clock, T0_MS);
	CHECK(engine_handle_event(&f.engine, &event) == 0 && f.recorder.banned &&
	          f.recorder.ban.scope == SCOPE_ALL &&
	          f.recorder.ban.category == CATEGORY_EVASION &&
	          f.recorder.ban.expires_ms - f.recorder.ban.start_ms == HOUR_MS,
	      "three tiny fragments ban for 1 hour with scope all, category evasion");
	CHECK(strstr(f.recorder.finding.detail,
	             "3 tiny IPv4 first fragments in a window (limit 3, RFC 1858): the latest to "
	             "203.0.113.25, protocol 6, id 0xbeef, 8 bytes of TCP header") != NULL,
	      "the finding names the count and the fragment's fields: %s",
	      f.recorder.finding.detail);
	f.config.evasion.tiny_fragments = 0;
	f.recorder.decisions = 0;
	event.source.addr[3] = 31;
	CHECK(engine_handle_event(&f.engine, &event) == 0 && f.recorder.decisions == 0,
	      "with evasion.tiny_fragments = 0 an event decides nothing");
	event.reason = 7;
	CHECK(engine_handle_event(&f.engine, &event) == -EINVAL,
	      "an evasion event with an unknown reason is refused");
	fixture_close(&f);
}

/* A VM forging 127.0.0.1, multicast or the host's own uplink gets none of them banned. */
static void
test_never_bannable(void)
{
	static const char *const forged[] = {"127.0.0.1",       "0.0.0.0",     "224.0.0.5",
	                                     "255.255.255.255", "169.254.0.9", "::1",
	                                     "fe80::1",         "ff02::1",     "203.0.113.1"};
	struct host_addresses host = {0};
	struct prefix uplink;
	struct fixture f;

	CHECK(fixture_open(&f, "never") == 0, "engine opens on a fresh store");
	prefix_parse("203.0.113.1", &uplink);
	host.addresses = &uplink;
	host.count = 1;
	f.engine.host = &host;
	for (size_t i = 0; i < sizeof(forged) / sizeof(forged[0]); i++)
		CHECK(offend(&f, forged[i], T0_MS + (int64_t)i) == ACTION_IGNORE &&
		          f.recorder.last.why == REASON_UNOWNABLE,
		      "a burst claiming %s is ignored: %s", forged[i],
		      decision_reason_name(f.recorder.last.why));
	CHECK(f.engine.stats.bans == 0 && f.engine.stats.unownable == 9,
	      "nothing is banned and the 9 findings are counted as never bannable");
	CHECK(offend(&f, "192.0.2.77", T0_MS + 100) == ACTION_BAN,
	      "a documentation address is banned as any VM's would be");
	fixture_close(&f);
}

/*
 * A VM's address moves to another interface (migrated, or re-created): the
 * ladder is the address's, so the next offence climbs from the history the
 * address made on the old interface, and each record names the interface
 * and VM the packets came from at the time.
 */
static void
test_history_follows_the_address(void)
{
	struct fixture f;
	struct vm_registry vms;
	struct abuse_event event;
	struct prefix address;
	const char *conflict;
	int64_t t = T0_MS;

	CHECK(fixture_open(&f, "moved") == 0, "engine opens on a fresh store");
	CHECK(vm_registry_init(&vms, 8, 4) == 0, "a VM registry");
	f.engine.vms = &vms;
	prefix_parse("10.0.0.5", &address);
	CHECK(vm_configure(&vms, "vnet0", &address, 1, "web1", "C-1", VM_ORIGIN_OPERATOR, t,
	                   &conflict) == 0,
	      "vnet0 holds 10.0.0.5, VM web1");
	vm_find(&vms, "vnet0")->ifindex = 3;
	event = spam_event("10.0.0.5", 30, t);
	event.ifindex = 3;
	clock_set(&f.clock, t);
	engine_handle_event(&f.engine, &event);
	CHECK(f.recorder.banned && f.recorder.ban.level == 0 &&
	          strcmp(f.recorder.ban.vm.interface, "vnet0") == 0 &&
	          strcmp(f.recorder.ban.vm.name, "web1") == 0,
	      "a burst on vnet0 bans 10.0.0.5 for 1 hour, naming vnet0 and web1");

	/* The VM is re-created on vnet7 with the same address. */
	CHECK(vm_configure(&vms, "vnet0", NULL, 0, NULL, NULL, VM_ORIGIN_OPERATOR, t, &conflict) ==
	          0,
	      "vnet0 gives up 10.0.0.5");
	CHECK(vm_configure(&vms, "vnet7", &address, 1, "web1-new", "C-1", VM_ORIGIN_OPERATOR, t,
	                   &conflict) == 0,
	      "vnet7 now holds 10.0.0.5");
	vm_find(&vms, "vnet7")->ifindex = 9;
	t += HOUR_MS + 12 * HOUR_MS; /* 12 hours after the first ban ended */
	event = spam_event("10.0.0.5", 30, t);
	event.ifindex = 9;
	clock_set(&f.clock, t);
	engine_handle_event(&f.engine, &event);
	CHECK(f.recorder.banned && f.recorder.ban.level == 1 &&
	          f.recorder.ban.expires_ms - t == 7 * DAY_MS,
	      "a repeat from the new interface climbs the address's ladder: 1 week");
	CHECK(strcmp(f.recorder.ban.vm.interface, "vnet7") == 0 &&
	          strcmp(f.recorder.ban.vm.name, "web1-new") == 0,
	      "the new ban names the interface and VM the packets came from: vnet7, web1-new");
	vm_registry_free(&vms);
	fixture_close(&f);
}

int
main(void)
{
	char command[64];

	log_init(1, 0, "test_engine");
	if (mkdtemp(directory) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_ladder_through_the_engine();
	test_ipv6_prefix();
	test_safe_defaults();
	test_bad_events();
	test_scan_findings();
	test_evasion_findings();
	test_never_bannable();
	test_reconcile_after_prefix_change();
	test_history_follows_the_address();
	snprintf(command, sizeof(command), "rm -rf %s", directory);
	if (system(command) != 0)
		fprintf(stderr, "could not remove %s\n", directory);
	return check_done();
}
