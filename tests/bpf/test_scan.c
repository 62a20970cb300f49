/*
 * Scan accounting in the real programs under BPF_PROG_TEST_RUN: probes from
 * the VM through the XDP program, replies toward it through the tc egress
 * program, timeouts through the sweep program, on the replay clock. What a
 * user would check: each kind of scan gives exactly one event per source and
 * window, with its counts; the honest patterns give none; replies are
 * matched to their probes (ICMP errors through the quoted header); a VM
 * whose replies are never seen gets no verdict, and neither does one whose
 * replies of one family never come (broken IPv6), nor any during an upstream
 * outage; a probe flood stays inside its interface's quota and leaves
 * another VM's probes alone.
 *
 * Runs in a network namespace of its own with a veth pair, so that two
 * interfaces (two VMs) exist. Needs root; sends no traffic.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "abuseguard/abuseguard.h"
#include "abuseguard.skel.h"
#include "check.h"
#include "source.h"

#define MS            1000000ULL
#define SECOND        (1000 * MS)
#define START         (1000 * SECOND)
#define TIMEOUT       (5 * SECOND)
#define WINDOW        (60 * SECOND)
#define SEQUENTIAL    5
#define EVENTS_MAX    64
#define PACKET_MAX    256
#define QUOTED_LENGTH 8 /* transport bytes an ICMP error quotes, at least */

#define ICMP_UNREACHABLE   3
#define ICMP_ECHO          8
#define ICMPV6_UNREACHABLE 1
#define ICMPV6_ECHO        128
#define ICMPV6_ECHO_ANSWER 129

/* One packet; addresses as literals, the family follows. */
struct spec {
	const char *from, *to;
	int protocol; /* IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP (ICMPv6 over IPv6) */
	uint16_t sport, dport;
	uint8_t tcp_flags;
	uint8_t icmp_type, icmp_code;
	const struct spec *quoted; /* ICMP errors: the probe they quote */
};

struct packet {
	unsigned char bytes[PACKET_MAX];
	size_t length;
};

struct harness {
	struct abuseguard_bpf *skel;
	struct ring_buffer *ring;
	struct abuse_event events[EVENTS_MAX];
	unsigned event_count;
	uint64_t now;
	/*
	 * The rest of the host: while not quiet, something from beyond it
	 * comes toward a VM (on lo, no VM of the tests) every 100 ms of the
	 * clock, as on any host whose upstream works. Quiet: an outage.
	 */
	int upstream_quiet;
	uint64_t upstream_sent;
};

static int vm_a, vm_b; /* the veth pair's ifindexes: two VMs */

static void
die(const char *what)
{
	fprintf(stderr, "test_scan: %s\n", what);
	exit(1);
}

static void
put(struct packet *packet, const void *data, size_t length)
{
	if (packet->length + length > sizeof(packet->bytes))
		die("packet too long");
	memcpy(packet->bytes + packet->length, data, length);
	packet->length += length;
}

static int
is_ipv6(const struct spec *spec)
{
	return strchr(spec->from, ':') != NULL;
}

/* The IP packet alone (no Ethernet), transport and payload included. */
static void
ip_packet(const struct spec *spec, struct packet *out)
{
	struct packet transport = {0}, quoted = {0};
	unsigned char icmp[8] = {0};
	int ipv6 = is_ipv6(spec), protocol = spec->protocol;

	if (protocol == IPPROTO_TCP) {
		struct tcphdr tcp = {.th_sport = htons(spec->sport ? spec->sport : 40000),
		                     .th_dport = htons(spec->dport),
		                     .th_off = 5,
		                     .th_flags = spec->tcp_flags,
		                     .th_win = htons(1024)};
		put(&transport, &tcp, sizeof(tcp));
	} else if (protocol == IPPROTO_UDP) {
		struct udphdr udp = {.uh_sport = htons(spec->sport ? spec->sport : 40000),
		                     .uh_dport = htons(spec->dport),
		                     .uh_ulen = htons(sizeof(udp))};
		put(&transport, &udp, sizeof(udp));
	} else {
		icmp[0] = spec->icmp_type;
		icmp[1] = spec->icmp_code;
		put(&transport, icmp, sizeof(icmp));
		if (spec->quoted) {
			ip_packet(spec->quoted, &quoted);
			put(&transport, quoted.bytes,
			    (is_ipv6(spec->quoted) ? 40 : 20) + QUOTED_LENGTH);
		}
		protocol = ipv6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
	}
	out->length = 0;
	if (ipv6) {
		struct ip6_hdr ip = {0};

		/* Fields of one union: set one by one, not by designated initializers. */
		ip.ip6_flow = htonl(6u << 28);
		ip.ip6_plen = htons(transport.length);
		ip.ip6_nxt = protocol;
		ip.ip6_hlim = 64;
		if (inet_pton(AF_INET6, spec->from, &ip.ip6_src) != 1 ||
		    inet_pton(AF_INET6, spec->to, &ip.ip6_dst) != 1)
			die("bad IPv6 address");
		put(out, &ip, sizeof(ip));
	} else {
		struct iphdr ip = {.version = 4,
		                   .ihl = 5,
		                   .tot_len = htons(sizeof(ip) + transport.length),
		                   .ttl = 64,
		                   .protocol = protocol};
		if (inet_pton(AF_INET, spec->from, &ip.saddr) != 1 ||
		    inet_pton(AF_INET, spec->to, &ip.daddr) != 1)
			die("bad IPv4 address");
		put(out, &ip, sizeof(ip));
	}
	put(out, transport.bytes, transport.length);
}

static void
frame(const struct spec *spec, struct packet *out)
{
	unsigned char ethernet[ETH_HLEN] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2};
	struct packet ip;

	ethernet[12] = is_ipv6(spec) ? 0x86 : 0x08;
	ethernet[13] = is_ipv6(spec) ? 0xdd : 0x00;
	ip_packet(spec, &ip);
	out->length = 0;
	put(out, ethernet, sizeof(ethernet));
	put(out, ip.bytes, ip.length);
}

static int
on_event(void *context, void *data, size_t size)
{
	struct harness *harness = context;

	if (size == sizeof(struct abuse_event) && harness->event_count < EVENTS_MAX)
		memcpy(&harness->events[harness->event_count++], data, size);
	return 0;
}

static void
harness_open(struct harness *harness, uint32_t pending_quota)
{
	memset(harness, 0, sizeof(*harness));
	harness->skel = abuseguard_bpf__open();
	if (harness->skel == NULL)
		die("open the BPF object");
	harness->skel->rodata->replay_clock = 1;
	harness->skel->data->thresholds.smtp_attempts = 0; /* spam off: scans only */
	harness->skel->data->thresholds.smtp_destinations = 0;
	harness->skel->data->scan_settings.timeout_ns = TIMEOUT;
	harness->skel->data->scan_settings.window_ns = WINDOW;
	harness->skel->data->scan_settings.sequential = SEQUENTIAL;
	if (pending_quota)
		harness->skel->data->scan_settings.pending_per_interface = pending_quota;
	/* The daemon's defaults: mDNS and SSDP among the ignored ports. */
	harness->skel->bss->scan_ignored_ports[5353 / 64] |= 1ULL << (5353 % 64);
	harness->skel->bss->scan_ignored_ports[1900 / 64] |= 1ULL << (1900 % 64);
	if (abuseguard_bpf__load(harness->skel) != 0)
		die("load the BPF object");
	harness->ring =
	    ring_buffer__new(bpf_map__fd(harness->skel->maps.events), on_event, harness, NULL);
	if (harness->ring == NULL)
		die("ring buffer");
	harness->now = START;
}

static void
harness_close(struct harness *harness)
{
	ring_buffer__free(harness->ring);
	abuseguard_bpf__destroy(harness->skel);
}

static void upstream_traffic(struct harness *harness);

static void
run_program(struct harness *harness, struct bpf_program *program, const struct packet *packet,
            void *context, size_t context_size)
{
	LIBBPF_OPTS(bpf_test_run_opts, options, .data_in = packet->bytes,
	            .data_size_in = (uint32_t)packet->length, .ctx_in = context,
	            .ctx_size_in = context_size, .repeat = 1);

	harness->skel->bss->replay_now_ns = harness->now;
	if (bpf_prog_test_run_opts(bpf_program__fd(program), &options) != 0)
		die("BPF_PROG_TEST_RUN");
	if (options.retval !=
	    (program == harness->skel->progs.abuseguard_tc ? TC_ACT_OK : XDP_PASS))
		die("a program did not let a packet pass");
	ring_buffer__consume(harness->ring);
}

static void
run(struct harness *harness, struct bpf_program *program, const struct packet *packet,
    void *context, size_t context_size)
{
	upstream_traffic(harness);
	run_program(harness, program, packet, context, context_size);
}

/* A packet from beyond the host toward interface ifindex, IPv4 or IPv6. */
static void
upstream_packet(struct harness *harness, int ifindex, const char *from, const char *to)
{
	struct spec ack = {.from = from,
	                   .to = to,
	                   .protocol = IPPROTO_TCP,
	                   .sport = 443,
	                   .dport = 50000,
	                   .tcp_flags = TH_ACK};
	struct __sk_buff context = {.ifindex = (uint32_t)ifindex};
	struct packet packet;

	frame(&ack, &packet);
	run_program(harness, harness->skel->progs.abuseguard_tc, &packet, &context,
	            sizeof(context));
}

static void
upstream_traffic(struct harness *harness)
{
	if (harness->upstream_quiet || harness->now < harness->upstream_sent + 100 * MS)
		return;
	harness->upstream_sent = harness->now;
	upstream_packet(harness, 1, "192.0.2.250", "198.18.0.1");
	upstream_packet(harness, 1, "2001:db8:ffff::1", "2001:db8:eeee::1");
}

/* A packet from the VM on interface ifindex. */
static void
from_vm(struct harness *harness, int ifindex, const struct spec *spec)
{
	struct xdp_md context = {.ingress_ifindex = (uint32_t)ifindex};
	struct packet packet;

	frame(spec, &packet);
	context.data_end = (uint32_t)packet.length;
	run(harness, harness->skel->progs.abuseguard_xdp, &packet, &context, sizeof(context));
}

/* A packet toward the VM, leaving on interface ifindex. */
static void
toward_vm(struct harness *harness, int ifindex, const struct spec *spec)
{
	struct __sk_buff context = {.ifindex = (uint32_t)ifindex};
	struct packet packet;

	frame(spec, &packet);
	run(harness, harness->skel->progs.abuseguard_tc, &packet, &context, sizeof(context));
}

/* An ARP frame for IPv4: operation 1 (request) or 2 (reply). */
static void
arp_frame(int operation, const char *sender, const char *target, struct packet *out)
{
	unsigned char ethernet[ETH_HLEN] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2,
	                                    0,    0,    0,    0,    2,    0x08, 0x06};
	unsigned char arp[28] = {0, 1, 8, 0, 6, 4, 0, (unsigned char)operation, 2, 0, 0, 0, 0, 2};

	if (inet_pton(AF_INET, sender, &arp[14]) != 1 || inet_pton(AF_INET, target, &arp[24]) != 1)
		die("bad ARP address");
	out->length = 0;
	put(out, ethernet, sizeof(ethernet));
	put(out, arp, sizeof(arp));
}

/* The VM on ifindex asks who has target, naming sender as its own address. */
static void
arp_request(struct harness *harness, int ifindex, const char *sender, const char *target)
{
	struct xdp_md context = {.ingress_ifindex = (uint32_t)ifindex};
	struct packet packet;

	arp_frame(1, sender, target, &packet);
	context.data_end = (uint32_t)packet.length;
	run(harness, harness->skel->progs.abuseguard_xdp, &packet, &context, sizeof(context));
}

/* The neighbour sender answers the VM (vm) on ifindex. */
static void
arp_reply(struct harness *harness, int ifindex, const char *sender, const char *vm)
{
	struct __sk_buff context = {.ifindex = (uint32_t)ifindex};
	struct packet packet;

	arp_frame(2, sender, vm, &packet);
	run(harness, harness->skel->progs.abuseguard_tc, &packet, &context, sizeof(context));
}

static void
sweep(struct harness *harness)
{
	struct packet packet = {.length = ETH_HLEN};

	run(harness, harness->skel->progs.abuseguard_scan_sweep, &packet, NULL, 0);
}

static uint64_t
counter(struct harness *harness, enum xdp_counter which)
{
	int cpus = libbpf_num_possible_cpus();
	uint64_t values[cpus > 0 ? cpus : 1], total = 0;
	uint32_t key = which;

	if (bpf_map_lookup_elem(bpf_map__fd(harness->skel->maps.counters), &key, values) != 0)
		die("counters");
	for (int cpu = 0; cpu < cpus; cpu++)
		total += values[cpu];
	return total;
}

static int
scan_state(struct harness *harness, const char *source, struct scan_state *state)
{
	struct source_key key;

	if (source_parse(source, 64, &key) < 0)
		die("bad source");
	return bpf_map_lookup_elem(bpf_map__fd(harness->skel->maps.scan_sources), &key, state);
}

static void
address(int index, const char *prefix, char *out, size_t size)
{
	if (strchr(prefix, ':'))
		snprintf(out, size, "%s%x", prefix, index);
	else
		snprintf(out, size, "%s%d", prefix, index);
}

/* Any packet toward the VM: its interface shows a return path from now on. */
static void
return_path(struct harness *harness, int ifindex, const char *vm)
{
	struct spec hello = {.from = strchr(vm, ':') ? "2001:db8:ffff::1" : "192.0.2.250",
	                     .to = vm,
	                     .protocol = IPPROTO_TCP,
	                     .sport = 443,
	                     .dport = 50000,
	                     .tcp_flags = TH_ACK};

	toward_vm(harness, ifindex, &hello);
}

/* A SYN scan of count hosts on port, each answered with a RST. */
static void
syn_scan_rejected(struct harness *harness, const char *vm, const char *prefix, uint16_t port,
                  int count)
{
	char target[64];

	for (int i = 1; i <= count; i++) {
		address(i, prefix, target, sizeof(target));
		struct spec syn = {.from = vm,
		                   .to = target,
		                   .protocol = IPPROTO_TCP,
		                   .dport = port,
		                   .tcp_flags = TH_SYN};
		struct spec rst = {.from = target,
		                   .to = vm,
		                   .protocol = IPPROTO_TCP,
		                   .sport = port,
		                   .dport = 40000,
		                   .tcp_flags = TH_RST | TH_ACK};

		from_vm(harness, vm_a, &syn);
		harness->now += 10 * MS;
		toward_vm(harness, vm_a, &rst);
		harness->now += 10 * MS;
	}
}

static void
test_horizontal_syn_scan(void)
{
	struct harness h;
	const struct abuse_event *event = &h.events[0];

	harness_open(&h, 0);
	return_path(&h, vm_a, "10.0.0.5");
	syn_scan_rejected(&h, "10.0.0.5", "203.0.113.", 22, 40);
	CHECK(h.event_count == 1, "horizontal SYN scan answered by RSTs: one event (%u)",
	      h.event_count);
	if (h.event_count >= 1) {
		CHECK(event->category == CATEGORY_SCAN && event->reason == SCAN_REASON_SEQUENTIAL,
		      "the event is a scan, found by the sequential test (reason %u)",
		      event->reason);
		CHECK(event->counts.failures == SEQUENTIAL &&
		          event->counts.attempts == SEQUENTIAL && event->counts.successes == 0,
		      "it came at the %dth rejected first contact (%u probes, %u failed)",
		      SEQUENTIAL, event->counts.attempts, event->counts.failures);
		CHECK(event->counts.destinations == SEQUENTIAL && event->counts.ports == 1,
		      "breadth: %u hosts on one port, %u port on one host",
		      event->counts.destinations, event->counts.ports);
		CHECK(event->sample_count == 4 && event->samples[0].port == 22 &&
		          event->samples[0].protocol == IPPROTO_TCP &&
		          event->samples[0].address[3] == SEQUENTIAL,
		      "samples: the latest probe first, 203.0.113.%u port %u",
		      event->samples[0].address[3], event->samples[0].port);
		CHECK(event->samples[0].source_port == 40000,
		      "each sample names the probe's own source port, for X-ARF's source_port "
		      "(%u)",
		      event->samples[0].source_port);
		CHECK(event->ifindex == (uint32_t)vm_a, "the event names the VM's interface");
	}
	CHECK(counter(&h, COUNTER_SCAN_REJECTED) == 40 && counter(&h, COUNTER_SCAN_PROBES) == 40,
	      "every RST was matched to its SYN (%llu of 40)",
	      (unsigned long long)counter(&h, COUNTER_SCAN_REJECTED));
	h.now += WINDOW;
	syn_scan_rejected(&h, "10.0.0.5", "203.0.114.", 22, 10);
	CHECK(h.event_count == 2, "the next window gives the next event (%u)", h.event_count);
	harness_close(&h);
}

static void
test_vertical_scan_times_out(void)
{
	struct harness h;
	struct scan_state state;

	harness_open(&h, 0);
	return_path(&h, vm_a, "10.0.0.6");
	for (int port = 1; port <= 30; port++) {
		struct spec syn = {.from = "10.0.0.6",
		                   .to = "198.51.100.7",
		                   .protocol = IPPROTO_TCP,
		                   .dport = (uint16_t)port,
		                   .tcp_flags = TH_SYN};

		from_vm(&h, vm_a, &syn);
		h.now += 20 * MS;
	}
	sweep(&h);
	CHECK(h.event_count == 0, "filtered ports: no verdict before the timeout");
	h.now += TIMEOUT + 2 * SECOND;
	sweep(&h);
	CHECK(h.event_count == 1, "after the timeout the sweep judges the silent ports: one event");
	if (h.event_count >= 1)
		CHECK(h.events[0].counts.failures == 30 && h.events[0].counts.ports == 30 &&
		          h.events[0].counts.destinations <= 2,
		      "vertical: 30 failed, 30 ports on one host, %u hosts on one port",
		      h.events[0].counts.destinations);
	CHECK(counter(&h, COUNTER_SCAN_TIMEOUTS) == 30, "30 timeouts counted (%llu)",
	      (unsigned long long)counter(&h, COUNTER_SCAN_TIMEOUTS));
	CHECK(scan_state(&h, "10.0.0.6", &state) == 0 && state.score >= SEQUENTIAL,
	      "the source's score holds the failures (%d)", state.score);
	harness_close(&h);
}

static void
test_udp_scan_unreachable(void)
{
	struct harness h;

	harness_open(&h, 0);
	return_path(&h, vm_a, "10.0.0.7");
	for (int port = 100; port < 120; port++) {
		struct spec probe = {.from = "10.0.0.7",
		                     .to = "198.51.100.8",
		                     .protocol = IPPROTO_UDP,
		                     .sport = 41000,
		                     .dport = (uint16_t)port};
		struct spec wrong = probe;
		struct spec error = {.from = "198.51.100.8",
		                     .to = "10.0.0.7",
		                     .protocol = IPPROTO_ICMP,
		                     .icmp_type = ICMP_UNREACHABLE,
		                     .quoted = &wrong};

		wrong.dport = (uint16_t)(port + 1000); /* quotes a probe never sent */
		from_vm(&h, vm_a, &probe);
		toward_vm(&h, vm_a, &error);
		h.now += 10 * MS;
	}
	CHECK(counter(&h, COUNTER_SCAN_REJECTED) == 0,
	      "an ICMP error quoting another port settles nothing");
	h.now += SECOND;
	for (int port = 200; port < 220; port++) {
		struct spec probe = {.from = "10.0.0.7",
		                     .to = "198.51.100.9",
		                     .protocol = IPPROTO_UDP,
		                     .sport = 41000,
		                     .dport = (uint16_t)port};
		struct spec error = {.from = "198.51.100.9",
		                     .to = "10.0.0.7",
		                     .protocol = IPPROTO_ICMP,
		                     .icmp_type = ICMP_UNREACHABLE,
		                     .quoted = &probe};

		from_vm(&h, vm_a, &probe);
		toward_vm(&h, vm_a, &error);
		h.now += 10 * MS;
	}
	CHECK(counter(&h, COUNTER_SCAN_REJECTED) == 20,
	      "port unreachable, matched through the quoted header: 20 rejected (%llu)",
	      (unsigned long long)counter(&h, COUNTER_SCAN_REJECTED));
	CHECK(h.event_count == 1 && h.events[0].samples[0].protocol == IPPROTO_UDP,
	      "UDP scan: one event (%u)", h.event_count);
	harness_close(&h);
}

static void
test_ping_sweep_and_ipv6(void)
{
	struct harness h;
	char target[64];

	harness_open(&h, 0);
	return_path(&h, vm_a, "10.0.0.8");
	for (int i = 1; i <= 50; i++) {
		address(i, "198.18.0.", target, sizeof(target));
		struct spec echo = {.from = "10.0.0.8",
		                    .to = target,
		                    .protocol = IPPROTO_ICMP,
		                    .icmp_type = ICMP_ECHO};

		from_vm(&h, vm_a, &echo);
		h.now += 5 * MS;
	}
	h.now += TIMEOUT + 2 * SECOND;
	sweep(&h);
	CHECK(h.event_count == 1 && h.events[0].samples[0].protocol == IPPROTO_ICMP &&
	          h.events[0].counts.failures == 50,
	      "ping sweep of dark space: one event once the echoes time out (%u)", h.event_count);

	return_path(&h, vm_a, "2001:db8:5::10");
	syn_scan_rejected(&h, "2001:db8:5::10", "2001:db8:77::", 443, 12);
	CHECK(h.event_count == 2, "IPv6 SYN scan: one event (%u; %llu probes, %llu rejected)",
	      h.event_count, (unsigned long long)counter(&h, COUNTER_SCAN_PROBES),
	      (unsigned long long)counter(&h, COUNTER_SCAN_REJECTED));
	if (h.event_count == 2) {
		struct source_key expected;

		source_parse("2001:db8:5::", 64, &expected);
		CHECK(memcmp(&h.events[1].source, &expected, sizeof(expected)) == 0 &&
		          h.events[1].samples[0].family == SOURCE_FAMILY_IPV6,
		      "the IPv6 source is its /64");
	}
	harness_close(&h);
}

static void
test_honest_patterns(void)
{
	struct harness h;
	struct scan_state state;
	char target[64];

	harness_open(&h, 0);
	return_path(&h, vm_a, "10.0.1.1");
	/* Monitoring: 30 hosts on 443, every 5 s for two minutes, all answer. */
	for (int round = 0; round < 24; round++) {
		for (int i = 1; i <= 30; i++) {
			address(i, "192.0.2.", target, sizeof(target));
			struct spec syn = {.from = "10.0.1.1",
			                   .to = target,
			                   .protocol = IPPROTO_TCP,
			                   .sport = (uint16_t)(30000 + round),
			                   .dport = 443,
			                   .tcp_flags = TH_SYN};
			struct spec answer = {.from = target,
			                      .to = "10.0.1.1",
			                      .protocol = IPPROTO_TCP,
			                      .sport = 443,
			                      .dport = syn.sport,
			                      .tcp_flags = TH_SYN | TH_ACK};

			from_vm(&h, vm_a, &syn);
			toward_vm(&h, vm_a, &answer);
		}
		h.now += 5 * SECOND;
		sweep(&h);
	}
	CHECK(h.event_count == 0, "a monitoring loop over 30 answering hosts: no event");
	CHECK(scan_state(&h, "10.0.1.1", &state) == 0 && state.successes == 30,
	      "each host is one first contact per window, answered (%u)", state.successes);

	/* Fan-out: 40 web servers answer, 3 never do. */
	for (int i = 1; i <= 43; i++) {
		address(i, "198.51.100.", target, sizeof(target));
		struct spec syn = {.from = "10.0.1.2",
		                   .to = target,
		                   .protocol = IPPROTO_TCP,
		                   .dport = 443,
		                   .tcp_flags = TH_SYN};
		struct spec answer = {.from = target,
		                      .to = "10.0.1.2",
		                      .protocol = IPPROTO_TCP,
		                      .sport = 443,
		                      .dport = 40000,
		                      .tcp_flags = TH_SYN | TH_ACK};

		from_vm(&h, vm_a, &syn);
		if (i <= 40)
			toward_vm(&h, vm_a, &answer);
		h.now += 50 * MS;
	}
	h.now += TIMEOUT + 2 * SECOND;
	sweep(&h);
	CHECK(h.event_count == 0, "a fan-out to 43 web servers, 3 of them down: no event");

	/* P2P: UDP to 100 peers, each on its own high port, all answer. */
	for (int i = 1; i <= 100; i++) {
		address(i, "203.0.113.", target, sizeof(target));
		struct spec datagram = {.from = "10.0.1.3",
		                        .to = target,
		                        .protocol = IPPROTO_UDP,
		                        .sport = 6881,
		                        .dport = (uint16_t)(20000 + i * 37)};
		struct spec answer = {.from = target,
		                      .to = "10.0.1.3",
		                      .protocol = IPPROTO_UDP,
		                      .sport = datagram.dport,
		                      .dport = 6881};

		from_vm(&h, vm_a, &datagram);
		toward_vm(&h, vm_a, &answer);
		h.now += 10 * MS;
	}
	CHECK(h.event_count == 0, "P2P UDP to 100 answering peers: no event");

	/* Backup: 300 connections to one storage host. */
	for (int i = 0; i < 300; i++) {
		struct spec syn = {.from = "10.0.1.4",
		                   .to = "192.0.2.200",
		                   .protocol = IPPROTO_TCP,
		                   .sport = (uint16_t)(33000 + i),
		                   .dport = 873,
		                   .tcp_flags = TH_SYN};
		struct spec answer = {.from = "192.0.2.200",
		                      .to = "10.0.1.4",
		                      .protocol = IPPROTO_TCP,
		                      .sport = 873,
		                      .dport = syn.sport,
		                      .tcp_flags = TH_SYN | TH_ACK};

		from_vm(&h, vm_a, &syn);
		toward_vm(&h, vm_a, &answer);
	}
	CHECK(scan_state(&h, "10.0.1.4", &state) == 0 && state.probes == 1 && h.event_count == 0,
	      "a backup job's 300 connections to one host are one first contact (%u)",
	      state.probes);

	/* A DNS server answering 200 clients: its replies are not probes. */
	for (int i = 1; i <= 200; i++) {
		address(i % 250 + 1, "100.64.0.", target, sizeof(target));
		struct spec query = {.from = target,
		                     .to = "10.0.1.5",
		                     .protocol = IPPROTO_UDP,
		                     .sport = (uint16_t)(10000 + i),
		                     .dport = 53};
		struct spec answer = {.from = "10.0.1.5",
		                      .to = target,
		                      .protocol = IPPROTO_UDP,
		                      .sport = 53,
		                      .dport = query.sport};

		toward_vm(&h, vm_a, &query);
		from_vm(&h, vm_a, &answer);
	}
	CHECK(scan_state(&h, "10.0.1.5", &state) != 0,
	      "a UDP server answering 200 clients makes no first contacts");

	/* mDNS and SSDP: ignored ports. */
	for (int i = 0; i < 50; i++) {
		struct spec mdns = {.from = "10.0.1.6",
		                    .to = "198.51.100.77",
		                    .protocol = IPPROTO_UDP,
		                    .dport = i % 2 ? 5353 : 1900};

		from_vm(&h, vm_a, &mdns);
	}
	CHECK(scan_state(&h, "10.0.1.6", &state) != 0, "ignored ports are never counted");
	harness_close(&h);
}

/*
 * The honest patterns the issue names that test_honest_patterns does not: a
 * web server answering 1000 clients, a resolver asking three upstream
 * servers 300 times, and Happy Eyeballs (RFC 8305): each of 40 sites tried
 * over IPv6 and, 250 ms later, over IPv4, both answered, the loser reset.
 */
static void
test_more_honest_patterns(void)
{
	struct harness h;
	struct scan_state state;
	char client[64], site4[64], site6[64];

	harness_open(&h, 0);
	return_path(&h, vm_a, "10.0.1.7");
	return_path(&h, vm_a, "fd00:7::7");
	for (int i = 1; i <= 1000; i++) {
		address(i % 250 + 1,
		        i <= 250   ? "100.64.1."
		        : i <= 500 ? "100.64.2."
		        : i <= 750 ? "100.64.3."
		                   : "100.64.4.",
		        client, sizeof(client));
		struct spec syn = {.from = client,
		                   .to = "10.0.1.7",
		                   .protocol = IPPROTO_TCP,
		                   .sport = (uint16_t)(20000 + i),
		                   .dport = 443,
		                   .tcp_flags = TH_SYN};
		struct spec syn_ack = {.from = "10.0.1.7",
		                       .to = client,
		                       .protocol = IPPROTO_TCP,
		                       .sport = 443,
		                       .dport = syn.sport,
		                       .tcp_flags = TH_SYN | TH_ACK};

		toward_vm(&h, vm_a, &syn);
		from_vm(&h, vm_a, &syn_ack);
		h.now += 10 * MS;
	}
	CHECK(scan_state(&h, "10.0.1.7", &state) != 0 && h.event_count == 0,
	      "a web server answering 1000 clients makes no first contact, no event");

	for (int i = 0; i < 300; i++) {
		static const char *const upstreams[] = {"192.0.2.53", "198.51.100.53",
		                                        "203.0.113.53"};
		struct spec query = {.from = "10.0.1.8",
		                     .to = upstreams[i % 3],
		                     .protocol = IPPROTO_UDP,
		                     .sport = (uint16_t)(30000 + i),
		                     .dport = 53};
		struct spec answer = {.from = upstreams[i % 3],
		                      .to = "10.0.1.8",
		                      .protocol = IPPROTO_UDP,
		                      .sport = 53,
		                      .dport = query.sport};

		from_vm(&h, vm_a, &query);
		toward_vm(&h, vm_a, &answer);
		h.now += 100 * MS;
		if (i % 10 == 0)
			sweep(&h);
	}
	CHECK(h.event_count == 0, "a resolver asking 3 upstream servers 300 times: no event (%u)",
	      h.event_count);

	for (int i = 1; i <= 40; i++) {
		address(i, "198.51.100.", site4, sizeof(site4));
		address(i, "2001:db8:80::", site6, sizeof(site6));
		struct spec syn6 = {.from = "fd00:7::7",
		                    .to = site6,
		                    .protocol = IPPROTO_TCP,
		                    .sport = 41000,
		                    .dport = 443,
		                    .tcp_flags = TH_SYN};
		struct spec syn_ack6 = {.from = site6,
		                        .to = "fd00:7::7",
		                        .protocol = IPPROTO_TCP,
		                        .sport = 443,
		                        .dport = 41000,
		                        .tcp_flags = TH_SYN | TH_ACK};
		struct spec syn4 = {.from = "10.0.1.7",
		                    .to = site4,
		                    .protocol = IPPROTO_TCP,
		                    .sport = 41000,
		                    .dport = 443,
		                    .tcp_flags = TH_SYN};
		struct spec syn_ack4 = {.from = site4,
		                        .to = "10.0.1.7",
		                        .protocol = IPPROTO_TCP,
		                        .sport = 443,
		                        .dport = 41000,
		                        .tcp_flags = TH_SYN | TH_ACK};
		struct spec reset4 = {.from = "10.0.1.7",
		                      .to = site4,
		                      .protocol = IPPROTO_TCP,
		                      .sport = 41000,
		                      .dport = 443,
		                      .tcp_flags = TH_RST};

		from_vm(&h, vm_a, &syn6);
		h.now += 250 * MS; /* the connection attempt delay */
		from_vm(&h, vm_a, &syn4);
		toward_vm(&h, vm_a, &syn_ack6);
		toward_vm(&h, vm_a, &syn_ack4);
		from_vm(&h, vm_a, &reset4);
		h.now += 500 * MS;
		sweep(&h);
	}
	h.now += 10 * SECOND;
	sweep(&h);
	CHECK(h.event_count == 0, "Happy Eyeballs to 40 sites over both families: no event (%u)",
	      h.event_count);
	CHECK(scan_state(&h, "10.0.1.7", &state) == 0 && state.successes == 40 &&
	          state.failures == 0,
	      "the IPv4 attempts are 40 answered first contacts (%u answered, %u failed)",
	      state.successes, state.failures);
	harness_close(&h);
}

static void
test_late_and_lost_replies(void)
{
	struct harness h;
	struct scan_state state;

	harness_open(&h, 0);
	/* Never a packet toward this VM: asymmetric routing. */
	for (int i = 1; i <= 50; i++) {
		char target[32];

		address(i, "198.51.100.", target, sizeof(target));
		struct spec syn = {.from = "10.0.2.1",
		                   .to = target,
		                   .protocol = IPPROTO_TCP,
		                   .dport = 80,
		                   .tcp_flags = TH_SYN};

		from_vm(&h, vm_b, &syn);
	}
	h.now += TIMEOUT + 2 * SECOND;
	sweep(&h);
	CHECK(h.event_count == 0 && counter(&h, COUNTER_SCAN_NO_RETURN_PATH) == 50 &&
	          counter(&h, COUNTER_SCAN_TIMEOUTS) == 0,
	      "no reply ever seen on the interface: 50 unanswered probes, no failures, no event");

	/* A reply after the timeout is a failure, not a success. */
	return_path(&h, vm_a, "10.0.2.2");
	struct spec syn = {.from = "10.0.2.2",
	                   .to = "192.0.2.9",
	                   .protocol = IPPROTO_TCP,
	                   .dport = 8080,
	                   .tcp_flags = TH_SYN};
	struct spec late = {.from = "192.0.2.9",
	                    .to = "10.0.2.2",
	                    .protocol = IPPROTO_TCP,
	                    .sport = 8080,
	                    .dport = 40000,
	                    .tcp_flags = TH_SYN | TH_ACK};

	from_vm(&h, vm_a, &syn);
	h.now += TIMEOUT + SECOND;
	toward_vm(&h, vm_a, &late);
	h.now += SECOND;
	sweep(&h);
	CHECK(scan_state(&h, "10.0.2.2", &state) == 0 && state.successes == 0 &&
	          state.failures == 1,
	      "a SYN-ACK after the timeout leaves the probe failed (%u answered, %u failed)",
	      state.successes, state.failures);
	harness_close(&h);
}

/*
 * A VM whose IPv6 is broken (its routed IPv6 replies never come back) while
 * its IPv4 works: Happy Eyeballs tries 40 sites over IPv6 in vain and gets
 * them over IPv4. Toward the VM over IPv6 come only the link's own packets:
 * router advertisements, neighbour discovery (the router's advertisement
 * from its global address too), DHCPv6, an echo reply from the router's
 * link-local address. Its IPv6 timeouts are no verdict, not a scan. Once a
 * routed IPv6 packet comes back, the same /64's unanswered probes count.
 */
static void
test_return_path_per_family(void)
{
	static const struct spec link_only[] = {
	    {.from = "fe80::1", .to = "ff02::1", .protocol = IPPROTO_ICMP, .icmp_type = 134},
	    {.from = "fd00:77::1", .to = "fd00:77::7", .protocol = IPPROTO_ICMP, .icmp_type = 136},
	    {.from = "fe80::1", .to = "ff02::1:ff00:7", .protocol = IPPROTO_ICMP, .icmp_type = 135},
	    {.from = "fe80::1",
	     .to = "fe80::7",
	     .protocol = IPPROTO_UDP,
	     .sport = 547,
	     .dport = 546},
	    {.from = "fe80::1", .to = "fd00:77::7", .protocol = IPPROTO_ICMP, .icmp_type = 129},
	};
	struct harness h;
	struct scan_state state;
	char site4[64], site6[64];

	harness_open(&h, 0);
	return_path(&h, vm_a, "10.0.7.7");
	for (size_t i = 0; i < sizeof(link_only) / sizeof(link_only[0]); i++)
		toward_vm(&h, vm_a, &link_only[i]);
	for (int i = 1; i <= 40; i++) {
		address(i, "198.51.100.", site4, sizeof(site4));
		address(i, "2001:db8:80::", site6, sizeof(site6));
		struct spec syn6 = {.from = "fd00:77::7",
		                    .to = site6,
		                    .protocol = IPPROTO_TCP,
		                    .dport = 443,
		                    .tcp_flags = TH_SYN};
		struct spec syn4 = {.from = "10.0.7.7",
		                    .to = site4,
		                    .protocol = IPPROTO_TCP,
		                    .dport = 443,
		                    .tcp_flags = TH_SYN};
		struct spec syn_ack4 = {.from = site4,
		                        .to = "10.0.7.7",
		                        .protocol = IPPROTO_TCP,
		                        .sport = 443,
		                        .dport = 40000,
		                        .tcp_flags = TH_SYN | TH_ACK};

		from_vm(&h, vm_a, &syn6);
		h.now += 250 * MS; /* the connection attempt delay */
		from_vm(&h, vm_a, &syn4);
		toward_vm(&h, vm_a, &syn_ack4);
		h.now += 500 * MS;
		sweep(&h);
	}
	h.now += TIMEOUT + 2 * SECOND;
	sweep(&h);
	CHECK(h.event_count == 0,
	      "IPv6 SYNs to 40 sites unanswered while IPv4 answers: no event (%u)", h.event_count);
	CHECK(counter(&h, COUNTER_SCAN_NO_RETURN_PATH) == 40 &&
	          counter(&h, COUNTER_SCAN_TIMEOUTS) == 0,
	      "the 40 IPv6 timeouts are no verdict, none a failure (%llu no return path, %llu "
	      "timeouts)",
	      (unsigned long long)counter(&h, COUNTER_SCAN_NO_RETURN_PATH),
	      (unsigned long long)counter(&h, COUNTER_SCAN_TIMEOUTS));
	CHECK(scan_state(&h, "fd00:77::", &state) == 0 && state.failures == 0 &&
	          state.no_outcome == 40,
	      "the /64 has 40 probes without outcome and no failure (%u, %u)", state.no_outcome,
	      state.failures);

	/* Both families reply now: an IPv6 scan of dark space is a scan. */
	return_path(&h, vm_a, "fd00:77::7");
	for (int i = 1; i <= 12; i++) {
		address(i, "2001:db8:dead::", site6, sizeof(site6));
		struct spec syn6 = {.from = "fd00:77::7",
		                    .to = site6,
		                    .protocol = IPPROTO_TCP,
		                    .dport = 22,
		                    .tcp_flags = TH_SYN};

		from_vm(&h, vm_a, &syn6);
		h.now += 20 * MS;
	}
	h.now += TIMEOUT + 2 * SECOND;
	sweep(&h);
	CHECK(h.event_count == 1 && h.events[0].source.family == SOURCE_FAMILY_IPV6 &&
	          h.events[0].counts.failures >= SEQUENTIAL,
	      "with an IPv6 return path seen, 12 unanswered IPv6 SYNs: one event (%u, %u failed)",
	      h.event_count, h.event_count ? h.events[0].counts.failures : 0);
	harness_close(&h);
}

/* Ten SYNs from vm on ifindex to dark space, judged once they time out; returns the events. */
static unsigned
dark_syns_judged(struct harness *harness, int ifindex, const char *vm, const char *prefix)
{
	char target[64];
	unsigned before = harness->event_count;

	for (int i = 1; i <= 10; i++) {
		address(i, prefix, target, sizeof(target));
		struct spec syn = {.from = vm,
		                   .to = target,
		                   .protocol = IPPROTO_TCP,
		                   .dport = 23,
		                   .tcp_flags = TH_SYN};

		from_vm(harness, ifindex, &syn);
	}
	harness->now += TIMEOUT + 2 * SECOND;
	sweep(harness);
	return harness->event_count - before;
}

/*
 * The return path is written through a memo (a slot per ifindex modulo its
 * size): a path keeps being refreshed past scan.return_path while packets
 * come, and an interface that shares a slot with another gets its own.
 */
static void
test_return_path_refresh(void)
{
	struct harness h;
	char command[128];
	int vm_c;

	harness_open(&h, 0);
	/* A third interface whose ifindex shares vm_a's slot. */
	snprintf(command, sizeof(command), "ip link add scan-c index %d type veth peer name scan-d",
	         vm_a + SCAN_RETURN_PATH_MEMOS);
	if (system(command) != 0)
		die("a veth of a chosen ifindex");
	vm_c = (int)if_nametoindex("scan-c");
	return_path(&h, vm_a, "10.0.8.1");
	return_path(&h, vm_c, "10.0.8.3");
	CHECK(dark_syns_judged(&h, vm_c, "10.0.8.3", "198.18.3.") == 1,
	      "an interface sharing another's memo slot has its own return path: its timeouts "
	      "count");
	/* A packet toward vm_a every 100 s: a path first proved 600 s ago still counts. */
	for (int i = 0; i < 6; i++) {
		h.now += 100 * SECOND;
		return_path(&h, vm_a, "10.0.8.1");
	}
	CHECK(dark_syns_judged(&h, vm_a, "10.0.8.1", "198.18.1.") == 1,
	      "packets every 100 s keep the return path seen past scan.return_path (300 s)");
	h.now += 400 * SECOND;
	CHECK(dark_syns_judged(&h, vm_a, "10.0.8.1", "198.18.2.") == 0 &&
	          counter(&h, COUNTER_SCAN_NO_RETURN_PATH) == 10,
	      "with nothing toward the VM for 400 s, its timeouts are no verdict again");
	harness_close(&h);
}

static void
test_quota(void)
{
	struct harness h;
	char target[64];
	uint64_t quota_hits;

	harness_open(&h, 64);
	return_path(&h, vm_a, "10.0.3.1");
	return_path(&h, vm_b, "10.0.3.2");
	for (int i = 0; i < 1000; i++) {
		snprintf(target, sizeof(target), "100.%d.%d.%d", 64 + i / 65536, (i / 256) % 256,
		         i % 256);
		struct spec syn = {.from = "10.0.3.1",
		                   .to = target,
		                   .protocol = IPPROTO_TCP,
		                   .dport = 23,
		                   .tcp_flags = TH_SYN};

		from_vm(&h, vm_a, &syn);
	}
	quota_hits = counter(&h, COUNTER_SCAN_QUOTA);
	CHECK(quota_hits == 1000 - 64, "a flood of 1000 probes: 64 tracked, %llu refused",
	      (unsigned long long)quota_hits);
	/* The other VM's probe is tracked and its answer matched, flood or not. */
	struct spec syn = {.from = "10.0.3.2",
	                   .to = "192.0.2.10",
	                   .protocol = IPPROTO_TCP,
	                   .dport = 443,
	                   .tcp_flags = TH_SYN};
	struct spec answer = {.from = "192.0.2.10",
	                      .to = "10.0.3.2",
	                      .protocol = IPPROTO_TCP,
	                      .sport = 443,
	                      .dport = 40000,
	                      .tcp_flags = TH_SYN | TH_ACK};

	from_vm(&h, vm_b, &syn);
	toward_vm(&h, vm_b, &answer);
	CHECK(counter(&h, COUNTER_SCAN_QUOTA) == quota_hits &&
	          counter(&h, COUNTER_SCAN_ANSWERED) == 1,
	      "another VM's probe is tracked and answered despite the flood");
	/* After the timeout, the quota frees up again. */
	h.now += TIMEOUT + 2 * SECOND;
	sweep(&h);
	CHECK(h.event_count == 1, "the flood's tracked probes time out: one scan event (%u)",
	      h.event_count);
	struct spec again = {.from = "10.0.3.1",
	                     .to = "192.0.2.11",
	                     .protocol = IPPROTO_TCP,
	                     .dport = 23,
	                     .tcp_flags = TH_SYN};
	from_vm(&h, vm_a, &again);
	CHECK(counter(&h, COUNTER_SCAN_QUOTA) == quota_hits,
	      "once the probes timed out, the interface's quota is free again");
	harness_close(&h);
}

static void
test_arp_sweep(void)
{
	struct harness h;
	const struct abuse_event *event = &h.events[0];
	char target[32], sender[32];
	uint32_t ifindex;

	harness_open(&h, 0);
	return_path(&h, vm_a, "10.0.4.5");
	/* The gateway is asked for and answers. */
	arp_request(&h, vm_a, "10.0.4.5", "10.0.4.1");
	arp_reply(&h, vm_a, "10.0.4.1", "10.0.4.5");
	CHECK(counter(&h, COUNTER_SCAN_ANSWERED) == 1,
	      "the gateway's ARP reply answers the request");
	/* nmap -sn -PR of a dark /27, each request naming another sender. */
	for (int i = 64; i < 96; i++) {
		snprintf(target, sizeof(target), "10.0.4.%d", i);
		snprintf(sender, sizeof(sender), "10.0.4.%d", 200 + i % 50);
		arp_request(&h, vm_a, sender, target);
		h.now += 10 * MS;
	}
	CHECK(h.event_count == 0, "unanswered ARP requests: no verdict before the timeout");
	h.now += TIMEOUT + 2 * SECOND;
	sweep(&h);
	CHECK(h.event_count == 1, "an ARP sweep of 32 dark addresses: one event (%u)",
	      h.event_count);
	if (h.event_count >= 1) {
		memcpy(&ifindex, event->source.addr, sizeof(ifindex));
		CHECK(event->category == CATEGORY_SCAN && event->reason == SCAN_REASON_ARP,
		      "the event is a scan, reason ARP sweep (%u)", event->reason);
		CHECK(event->source.family == SOURCE_FAMILY_INTERFACE &&
		          ifindex == (uint32_t)vm_a && event->ifindex == (uint32_t)vm_a,
		      "charged to the VM's interface, not to a sender the frames named");
		CHECK(event->counts.failures == 32 && event->counts.successes == 1 &&
		          event->counts.attempts == 33,
		      "counts: 33 addresses asked for, 32 unanswered, 1 answered (%u, %u, %u)",
		      event->counts.attempts, event->counts.failures, event->counts.successes);
		CHECK(event->sample_count == 4 &&
		          event->samples[0].protocol == SAMPLE_PROTOCOL_ARP &&
		          event->samples[0].family == SOURCE_FAMILY_IPV4 &&
		          event->samples[0].address[3] == 95 && event->samples[0].port == 0,
		      "samples: the addresses asked for, the latest first (10.0.4.%u)",
		      event->samples[0].address[3]);
	}
	for (int i = 200; i < 250; i++) {
		struct source_key forged = {
		    .family = SOURCE_FAMILY_IPV4, .prefix_len = 32, .addr = {10, 0, 4, (uint8_t)i}};
		struct scan_state state;

		if (bpf_map_lookup_elem(bpf_map__fd(h.skel->maps.scan_sources), &forged, &state) ==
		    0) {
			CHECK(0, "a sender address an ARP frame named got scan state (10.0.4.%d)",
			      i);
			break;
		}
	}
	/* Another VM's requests are its own: vm_b asks for the same addresses, answered. */
	return_path(&h, vm_b, "10.0.4.6");
	for (int i = 64; i < 96; i++) {
		snprintf(target, sizeof(target), "10.0.4.%d", i);
		arp_request(&h, vm_b, "10.0.4.6", target);
		arp_reply(&h, vm_b, target, "10.0.4.6");
	}
	h.now += TIMEOUT + 2 * SECOND;
	sweep(&h);
	CHECK(h.event_count == 1 && counter(&h, COUNTER_SCAN_ANSWERED) == 33,
	      "another VM asking for 32 neighbours that all answer: no event (%u)", h.event_count);
	harness_close(&h);
}

static void
test_arp_honest(void)
{
	struct harness h;
	char target[32];
	uint64_t probes;

	harness_open(&h, 0);
	return_path(&h, vm_a, "10.0.5.5");
	/* Every minute for three minutes: the gateway, a neighbour that answers, and
	 * six that are gone (a stale cluster list, a host being replaced). */
	for (int round = 0; round < 3; round++) {
		arp_request(&h, vm_a, "10.0.5.5", "10.0.5.1");
		arp_reply(&h, vm_a, "10.0.5.1", "10.0.5.5");
		arp_request(&h, vm_a, "10.0.5.5", "10.0.5.2");
		arp_reply(&h, vm_a, "10.0.5.2", "10.0.5.5");
		for (int i = 10; i < 16; i++) {
			snprintf(target, sizeof(target), "10.0.5.%d", i);
			/* Linux asks three times before it gives up. */
			for (int retry = 0; retry < 3; retry++) {
				arp_request(&h, vm_a, "10.0.5.5", target);
				h.now += SECOND;
			}
		}
		h.now += WINDOW;
		sweep(&h);
	}
	CHECK(h.event_count == 0,
	      "asking for the gateway, a neighbour and six gone hosts each minute: no event (%u)",
	      h.event_count);
	probes = counter(&h, COUNTER_SCAN_PROBES);
	CHECK(probes == 3 * 8,
	      "each address is one first contact per window, retries are not (%llu)",
	      (unsigned long long)probes);
	/* Announcements and conflict probes of 100 addresses: nothing asked of anyone. */
	for (int i = 1; i <= 100; i++) {
		snprintf(target, sizeof(target), "10.0.6.%d", i);
		arp_request(&h, vm_a, target, target);
		arp_request(&h, vm_a, "0.0.0.0", target);
	}
	CHECK(counter(&h, COUNTER_SCAN_PROBES) == probes,
	      "gratuitous ARP and address conflict probes are not first contacts");
	harness_close(&h);
}

/* What answers each SYN of syn_sweep. */
enum sweep_reply {
	SWEEP_SILENCE,
	SWEEP_SYN_ACK,     /* the host answers */
	SWEEP_RST,         /* the host refuses */
	SWEEP_UNREACHABLE, /* a router, from its own address, with an ICMP unreachable */
};

/*
 * count SYNs from vm to the count hosts of prefix on port 443, 10 ms apart,
 * each answered as reply says; router and code: the unreachable's sender and code.
 */
static void
syn_sweep(struct harness *harness, const char *vm, const char *prefix, int count,
          enum sweep_reply reply, const char *router, uint8_t code)
{
	char target[64];

	for (int i = 1; i <= count; i++) {
		address(i, prefix, target, sizeof(target));
		struct spec syn = {.from = vm,
		                   .to = target,
		                   .protocol = IPPROTO_TCP,
		                   .sport = 41000,
		                   .dport = 443,
		                   .tcp_flags = TH_SYN};
		struct spec answer = {.from = target,
		                      .to = vm,
		                      .protocol = IPPROTO_TCP,
		                      .sport = 443,
		                      .dport = 41000,
		                      .tcp_flags = reply == SWEEP_SYN_ACK ? TH_SYN | TH_ACK
		                                                          : TH_RST | TH_ACK};
		struct spec error = {.from = router,
		                     .to = vm,
		                     .protocol = IPPROTO_ICMP,
		                     .icmp_type = ICMP_UNREACHABLE,
		                     .icmp_code = code,
		                     .quoted = &syn};

		from_vm(harness, vm_a, &syn);
		harness->now += 10 * MS;
		if (reply == SWEEP_UNREACHABLE)
			toward_vm(harness, vm_a, &error);
		else if (reply != SWEEP_SILENCE)
			toward_vm(harness, vm_a, &answer);
	}
}

/*
 * An upstream outage: nothing from beyond the host comes back to any VM.
 * A monitoring VM's checks of 20 hosts all time out, or meet a router's
 * unreachables: no verdict, counted as such. Once the upstream works again,
 * a sweep of dark space is a scan as before, a router's "host unreachable"
 * times out as silence does, and its "no route to the network" is never a
 * verdict.
 */
static void
test_upstream_outage(void)
{
	struct harness h;
	struct scan_state state;

	harness_open(&h, 0);
	return_path(&h, vm_a, "10.0.6.6");
	h.now += SECOND;
	h.upstream_quiet = 1;
	h.now += SECOND;
	syn_sweep(&h, "10.0.6.6", "203.0.113.", 20, SWEEP_SILENCE, NULL, 0);
	/* Neither a neighbour VM's packets nor a router's errors show the upstream works. */
	struct vm_source_key neighbour_key = {.family = SOURCE_FAMILY_IPV4, .addr = {10, 0, 6, 7}};
	struct vm_address_value neighbour = {.ifindex = (uint32_t)vm_b};
	if (bpf_map_update_elem(bpf_map__fd(h.skel->maps.vm_sources), &neighbour_key, &neighbour,
	                        BPF_ANY) != 0)
		die("vm_sources");
	struct spec from_neighbour = {.from = "10.0.6.7",
	                              .to = "10.0.6.6",
	                              .protocol = IPPROTO_TCP,
	                              .sport = 22,
	                              .dport = 50000,
	                              .tcp_flags = TH_ACK};
	struct spec expired = {
	    .from = "198.51.100.1", .to = "10.0.6.6", .protocol = IPPROTO_ICMP, .icmp_type = 11};
	for (int i = 0; i < 10; i++) {
		h.now += 300 * MS;
		toward_vm(&h, vm_a, &from_neighbour);
		toward_vm(&h, vm_a, &expired);
	}
	h.now += TIMEOUT + 2 * SECOND;
	sweep(&h);
	CHECK(h.event_count == 0 && counter(&h, COUNTER_SCAN_NO_UPSTREAM) == 20 &&
	          counter(&h, COUNTER_SCAN_TIMEOUTS) == 0,
	      "outage: 20 checks that time out are no verdict, counted as scan_no_upstream, "
	      "whatever a neighbour VM and routers' errors send (%llu; %llu timeouts, %u events)",
	      (unsigned long long)counter(&h, COUNTER_SCAN_NO_UPSTREAM),
	      (unsigned long long)counter(&h, COUNTER_SCAN_TIMEOUTS), h.event_count);
	syn_sweep(&h, "10.0.6.6", "203.0.114.", 20, SWEEP_UNREACHABLE, "10.0.6.1", 1);
	h.now += TIMEOUT + 2 * SECOND;
	sweep(&h);
	CHECK(h.event_count == 0 && counter(&h, COUNTER_SCAN_NO_UPSTREAM) == 40 &&
	          counter(&h, COUNTER_SCAN_REJECTED) == 0,
	      "outage: 20 host unreachables from the gateway are no verdict (%llu, %llu rejected)",
	      (unsigned long long)counter(&h, COUNTER_SCAN_NO_UPSTREAM),
	      (unsigned long long)counter(&h, COUNTER_SCAN_REJECTED));
	CHECK(scan_state(&h, "10.0.6.6", &state) == 0 && state.failures == 0 &&
	          state.no_outcome == 40,
	      "the monitoring VM has no failures, 40 probes without outcome (%u, %u)",
	      state.failures, state.no_outcome);

	/* The upstream is back: whatever now goes unanswered, the VM's probes did. */
	h.upstream_quiet = 0;
	h.now += WINDOW;
	syn_sweep(&h, "10.0.6.6", "203.0.115.", 20, SWEEP_UNREACHABLE, "10.0.6.1", 0);
	CHECK(h.event_count == 0 && counter(&h, COUNTER_SCAN_NO_ROUTE) == 20,
	      "20 net unreachables (no route) from the gateway are never a verdict (%llu)",
	      (unsigned long long)counter(&h, COUNTER_SCAN_NO_ROUTE));
	syn_sweep(&h, "10.0.6.6", "203.0.116.", 10, SWEEP_UNREACHABLE, "10.0.6.1", 1);
	CHECK(h.event_count == 0, "host unreachables from a router are no outcome of their own");
	h.now += TIMEOUT + 2 * SECOND;
	sweep(&h);
	CHECK(h.event_count == 1 && h.events[0].counts.failures == 10,
	      "upstream working: probes a router could not deliver time out as failures, a scan "
	      "(%u events, %u failed)",
	      h.event_count, h.event_count ? h.events[0].counts.failures : 0);
	h.now += WINDOW;
	syn_sweep(&h, "10.0.6.6", "203.0.117.", 20, SWEEP_SILENCE, NULL, 0);
	h.now += TIMEOUT + 2 * SECOND;
	sweep(&h);
	CHECK(h.event_count == 2 && counter(&h, COUNTER_SCAN_NO_UPSTREAM) == 40,
	      "upstream working: 20 SYNs into dark space that time out are a scan (%u events, "
	      "%llu no upstream)",
	      h.event_count, (unsigned long long)counter(&h, COUNTER_SCAN_NO_UPSTREAM));
	harness_close(&h);
}

/*
 * A partial outage: the rest of the internet answers, the part a
 * monitoring VM checks does not. Its 20 hosts answered it before: in later
 * windows their silence and their refusals are no verdict, their answers
 * count again; the same VM's sweep of hosts it never reached is a scan.
 */
static void
test_known_destinations(void)
{
	struct harness h;
	struct scan_state state;
	uint64_t timeouts;

	harness_open(&h, 0);
	return_path(&h, vm_a, "10.0.7.1");
	syn_sweep(&h, "10.0.7.1", "198.51.100.", 20, SWEEP_SYN_ACK, NULL, 0);
	CHECK(counter(&h, COUNTER_SCAN_ANSWERED) == 20, "the monitoring VM's 20 hosts answer it");
	h.now += WINDOW;
	timeouts = counter(&h, COUNTER_SCAN_TIMEOUTS);
	syn_sweep(&h, "10.0.7.1", "198.51.100.", 20, SWEEP_SILENCE, NULL, 0);
	h.now += TIMEOUT + 2 * SECOND;
	sweep(&h);
	CHECK(h.event_count == 0 && counter(&h, COUNTER_SCAN_TIMEOUTS) == timeouts,
	      "the next window, all 20 silent: no verdict, no timeout counted (%u events)",
	      h.event_count);
	h.now += WINDOW;
	syn_sweep(&h, "10.0.7.1", "198.51.100.", 20, SWEEP_RST, NULL, 0);
	CHECK(h.event_count == 0 && counter(&h, COUNTER_SCAN_KNOWN_REFUSED) == 20 &&
	          counter(&h, COUNTER_SCAN_REJECTED) == 0,
	      "the window after, all 20 refuse: no verdict, 20 counted as scan_known_refused "
	      "(%llu)",
	      (unsigned long long)counter(&h, COUNTER_SCAN_KNOWN_REFUSED));
	h.now += WINDOW;
	syn_sweep(&h, "10.0.7.1", "198.51.100.", 20, SWEEP_SYN_ACK, NULL, 0);
	CHECK(scan_state(&h, "10.0.7.1", &state) == 0 && state.successes == 20 &&
	          state.failures == 0,
	      "once they answer again, their answers count (%u successes, %u failures)",
	      state.successes, state.failures);
	syn_sweep(&h, "10.0.7.1", "203.0.113.", 20, SWEEP_SILENCE, NULL, 0);
	h.now += TIMEOUT + 2 * SECOND;
	sweep(&h);
	CHECK(h.event_count == 1,
	      "the same VM's 20 SYNs to hosts that never answered it, silent: a scan (%u events)",
	      h.event_count);
	harness_close(&h);
}

/* Two interfaces of our own, in a namespace of our own. */
static void
namespace_open(void)
{
	if (unshare(CLONE_NEWNET) != 0)
		die("unshare(CLONE_NEWNET): root is needed");
	if (system("ip link set lo up && ip link add scan-a type veth peer name scan-b && "
	           "ip link set scan-a up && ip link set scan-b up") != 0)
		die("veth pair");
	vm_a = (int)if_nametoindex("scan-a");
	vm_b = (int)if_nametoindex("scan-b");
	if (vm_a == 0 || vm_b == 0)
		die("veth ifindex");
}

int
main(void)
{
	namespace_open();
	test_horizontal_syn_scan();
	test_vertical_scan_times_out();
	test_udp_scan_unreachable();
	test_ping_sweep_and_ipv6();
	test_honest_patterns();
	test_more_honest_patterns();
	test_late_and_lost_replies();
	test_return_path_per_family();
	test_return_path_refresh();
	test_upstream_outage();
	test_known_destinations();
	test_quota();
	test_arp_sweep();
	test_arp_honest();
	return check_done();
}
