/*
 * The XDP program, loaded for real and driven with BPF_PROG_TEST_RUN: crafted
 * frames in, verdicts, counters, map state and ring-buffer events out. The
 * program's clock is the replay clock, so windows are under the test's
 * control. Needs root (or CAP_BPF + CAP_NET_ADMIN); sends no traffic.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/ip_icmp.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <stdint.h>
#include <stdio.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

/* The skeleton names the shared structs: their definitions come first. */
#include "abuseguard/abuseguard.h"
#include "abuseguard.skel.h"
#include "capture.h"
#include "check.h"
#include "source.h"
#include "vm.h"

#define NS_PER_SECOND      1000000000ULL
#define WINDOW_NS          (60 * NS_PER_SECOND)
#define START_NS           (1000 * NS_PER_SECOND)
#define ATTEMPTS_LIMIT     10
#define DESTINATIONS_LIMIT 4

#define FRAME_MAX     256
#define TRANSPORT_MAX 32
#define EVENTS_MAX    256
#define MAP_WALK_MAX  100000

#define IPV4_MORE_FRAGMENTS        0x2000
#define IPV4_TOTAL_LENGTH_OFFSET   (ETH_HLEN + 2)
#define IPV6_PAYLOAD_LENGTH_OFFSET (ETH_HLEN + 4)
#define TCP_DATA_OFFSET_OFFSET     (ETH_HLEN + 20 + 12) /* behind an IPv4 header without options */

/* What a crafted frame carries. Zeroed fields take the usual values. */
struct frame_spec {
	const char *source; /* IPv4 or IPv6 literal; the family follows */
	const char *destination;
	int protocol; /* IPPROTO_TCP, IPPROTO_UDP or IPPROTO_ICMP (ICMPv6 over IPv6) */
	uint16_t destination_port;
	uint8_t tcp_flags;             /* TH_SYN, TH_ACK, ... */
	int vlan_tags;                 /* 0, 1 (802.1Q) or 2 (802.1ad + 802.1Q) */
	int ipv4_header_words;         /* the IHL field; 0 means 5 */
	uint16_t ipv4_frag_off;        /* host order, flags and offset */
	int ipv6_extension;            /* 0, IPPROTO_HOPOPTS, IPPROTO_DSTOPTS or IPPROTO_FRAGMENT */
	uint16_t ipv6_fragment_offset; /* in 8-byte units */
};

struct frame {
	unsigned char bytes[FRAME_MAX];
	size_t length;
};

/* One loaded instance of the program and what it has reported. */
struct harness {
	const char *name;
	struct abuseguard_bpf *skel;
	struct ring_buffer *ring;
	struct abuse_event events[EVENTS_MAX];
	size_t event_count;
	size_t events_dropped; /* more than EVENTS_MAX: a test bug */
	int consume;           /* read the ring buffer after every run */
	unsigned runs;         /* runs the program executed */
	int ifindex;
};

struct harness_options {
	uint32_t sources_max;  /* 0: the program's default */
	uint32_t events_bytes; /* 0: the program's default */
	uint32_t smtp_attempts;
	uint32_t smtp_destinations;
};

static void
fail(const char *what)
{
	fprintf(stderr, "test_xdp: %s\n", what);
	exit(1);
}

static void
frame_put(struct frame *frame, const void *data, size_t length)
{
	if (frame->length + length > sizeof(frame->bytes))
		fail("frame too long");
	memcpy(frame->bytes + frame->length, data, length);
	frame->length += length;
}

static void
frame_put16(struct frame *frame, uint16_t host_value)
{
	uint16_t value = htons(host_value);

	frame_put(frame, &value, sizeof(value));
}

static void
frame_patch16(struct frame *frame, size_t offset, uint16_t host_value)
{
	uint16_t value = htons(host_value);

	if (offset + sizeof(value) > frame->length)
		fail("patch beyond the frame");
	memcpy(frame->bytes + offset, &value, sizeof(value));
}

static void
address_parse_or_fail(int family, const char *text, void *out)
{
	if (inet_pton(family, text, out) != 1)
		fail("bad address in a frame spec");
}

static size_t
transport_build(const struct frame_spec *spec, int ipv6, unsigned char *out)
{
	/* A SYN carries options; an MSS option lets truncation cut into them. */
	static const unsigned char mss_option[4] = {2, 4, 0x05, 0xb4};
	struct tcphdr tcp;
	struct udphdr udp;
	struct icmphdr icmp;

	switch (spec->protocol) {
	case IPPROTO_TCP:
		memset(&tcp, 0, sizeof(tcp));
		tcp.th_sport = htons(40000);
		tcp.th_dport = htons(spec->destination_port);
		tcp.th_seq = htonl(1);
		tcp.th_off = (sizeof(tcp) + sizeof(mss_option)) / 4;
		tcp.th_flags = spec->tcp_flags;
		tcp.th_win = htons(64240);
		memcpy(out, &tcp, sizeof(tcp));
		memcpy(out + sizeof(tcp), mss_option, sizeof(mss_option));
		return sizeof(tcp) + sizeof(mss_option);
	case IPPROTO_UDP:
		memset(&udp, 0, sizeof(udp));
		udp.uh_sport = htons(40000);
		udp.uh_dport = htons(spec->destination_port);
		udp.uh_ulen = htons(sizeof(udp));
		memcpy(out, &udp, sizeof(udp));
		return sizeof(udp);
	case IPPROTO_ICMP:
		memset(&icmp, 0, sizeof(icmp));
		icmp.type = ipv6 ? 128 : ICMP_ECHO; /* echo request */
		memcpy(out, &icmp, sizeof(icmp));
		return sizeof(icmp);
	}
	fail("unknown protocol in a frame spec");
	return 0;
}

static void
ethernet_build(struct frame *frame, int vlan_tags, uint16_t ethertype)
{
	static const unsigned char macs[12] = {0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02};

	frame_put(frame, macs, sizeof(macs));
	if (vlan_tags == 2) {
		frame_put16(frame, ETH_P_8021AD);
		frame_put16(frame, 100); /* service VLAN */
	}
	if (vlan_tags >= 1) {
		frame_put16(frame, ETH_P_8021Q);
		frame_put16(frame, 42);
	}
	frame_put16(frame, ethertype);
}

static void
ipv4_build(struct frame *frame, const struct frame_spec *spec, size_t transport_length)
{
	static const unsigned char nops[40] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	                                       1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	                                       1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
	struct iphdr ip;
	int words = spec->ipv4_header_words ? spec->ipv4_header_words : 5;
	size_t options = words > 5 ? (size_t)(words - 5) * 4 : 0;

	memset(&ip, 0, sizeof(ip));
	ip.version = 4;
	ip.ihl = words;
	ip.tot_len = htons(sizeof(ip) + options + transport_length);
	ip.frag_off = htons(spec->ipv4_frag_off);
	ip.ttl = 64;
	ip.protocol = spec->protocol;
	address_parse_or_fail(AF_INET, spec->source, &ip.saddr);
	address_parse_or_fail(AF_INET, spec->destination, &ip.daddr);
	frame_put(frame, &ip, sizeof(ip));
	frame_put(frame, nops, options);
}

static void
ipv6_build(struct frame *frame, const struct frame_spec *spec, size_t transport_length)
{
	/* Padding option PadN filling an 8-byte options header. */
	unsigned char options[8] = {0, 0, 1, 4, 0, 0, 0, 0};
	struct ip6_frag fragment;
	struct ip6_hdr ip;
	int protocol = spec->protocol == IPPROTO_ICMP ? IPPROTO_ICMPV6 : spec->protocol;
	size_t extension_length = spec->ipv6_extension ? 8 : 0;

	memset(&ip, 0, sizeof(ip));
	ip.ip6_vfc = 6 << 4;
	ip.ip6_plen = htons(extension_length + transport_length);
	ip.ip6_nxt = spec->ipv6_extension ? spec->ipv6_extension : protocol;
	ip.ip6_hlim = 64;
	address_parse_or_fail(AF_INET6, spec->source, &ip.ip6_src);
	address_parse_or_fail(AF_INET6, spec->destination, &ip.ip6_dst);
	frame_put(frame, &ip, sizeof(ip));
	if (spec->ipv6_extension == IPPROTO_FRAGMENT) {
		memset(&fragment, 0, sizeof(fragment));
		fragment.ip6f_nxt = protocol;
		fragment.ip6f_offlg = htons(spec->ipv6_fragment_offset << 3);
		fragment.ip6f_ident = htonl(7);
		frame_put(frame, &fragment, sizeof(fragment));
	} else if (spec->ipv6_extension) {
		options[0] = protocol;
		frame_put(frame, options, sizeof(options));
	}
}

static void
frame_build(const struct frame_spec *spec, struct frame *frame)
{
	unsigned char transport[TRANSPORT_MAX];
	int ipv6 = strchr(spec->source, ':') != NULL;
	size_t transport_length = transport_build(spec, ipv6, transport);

	frame->length = 0;
	ethernet_build(frame, spec->vlan_tags, ipv6 ? ETH_P_IPV6 : ETH_P_IP);
	if (ipv6)
		ipv6_build(frame, spec, transport_length);
	else
		ipv4_build(frame, spec, transport_length);
	frame_put(frame, transport, transport_length);
}

static struct frame_spec
smtp_syn(const char *source, const char *destination, uint16_t port)
{
	return (struct frame_spec){
	    .source = source,
	    .destination = destination,
	    .protocol = IPPROTO_TCP,
	    .destination_port = port,
	    .tcp_flags = TH_SYN,
	};
}

static int
harness_on_event(void *context, void *data, size_t size)
{
	struct harness *harness = context;

	if (size != sizeof(struct abuse_event) || harness->event_count == EVENTS_MAX) {
		harness->events_dropped++;
		return 0;
	}
	memcpy(&harness->events[harness->event_count++], data, sizeof(struct abuse_event));
	return 0;
}

static void
harness_consume(struct harness *harness)
{
	if (ring_buffer__consume(harness->ring) < 0)
		fail("ring_buffer__consume");
}

static int
harness_open(struct harness *harness, const char *name, const struct harness_options *options)
{
	int error;

	memset(harness, 0, sizeof(*harness));
	harness->name = name;
	harness->consume = 1;
	harness->ifindex = (int)if_nametoindex("lo");
	harness->skel = abuseguard_bpf__open();
	if (harness->skel == NULL) {
		fprintf(stderr, "%s: open: %s\n", name, strerror(errno));
		return -errno;
	}
	harness->skel->rodata->replay_clock = 1;
	harness->skel->data->thresholds.window_ns = WINDOW_NS;
	harness->skel->data->thresholds.smtp_attempts = options->smtp_attempts;
	harness->skel->data->thresholds.smtp_destinations = options->smtp_destinations;
	harness->skel->data->thresholds.ipv6_prefix_len = 64;
	if (options->sources_max)
		bpf_map__set_max_entries(harness->skel->maps.sources, options->sources_max);
	if (options->events_bytes)
		bpf_map__set_max_entries(harness->skel->maps.events, options->events_bytes);
	error = abuseguard_bpf__load(harness->skel);
	if (error) {
		fprintf(stderr, "%s: load: %s\n", name, strerror(-error));
		abuseguard_bpf__destroy(harness->skel);
		harness->skel = NULL;
		return error;
	}
	harness->skel->bss->replay_now_ns = START_NS;
	harness->ring = ring_buffer__new(bpf_map__fd(harness->skel->maps.events), harness_on_event,
	                                 harness, NULL);
	if (harness->ring == NULL) {
		error = -errno;
		fprintf(stderr, "%s: ring_buffer__new: %s\n", name, strerror(errno));
		abuseguard_bpf__destroy(harness->skel);
		harness->skel = NULL;
		return error;
	}
	return 0;
}

/* Returns the program's verdict, or the negative errno of the test run. */
static int
harness_run_bytes(struct harness *harness, const void *bytes, size_t length)
{
	struct xdp_md context = {
	    .data_end = (uint32_t)length,
	    .ingress_ifindex = (uint32_t)harness->ifindex,
	};
	LIBBPF_OPTS(bpf_test_run_opts, options, .data_in = bytes, .data_size_in = (uint32_t)length,
	            .ctx_in = &context, .ctx_size_in = sizeof(context), .repeat = 1);
	int error;

	error =
	    bpf_prog_test_run_opts(bpf_program__fd(harness->skel->progs.abuseguard_xdp), &options);
	if (error)
		return error < 0 ? error : -EIO;
	harness->runs++;
	if (harness->consume)
		harness_consume(harness);
	return (int)options.retval;
}

static int
harness_run(struct harness *harness, const struct frame_spec *spec)
{
	struct frame frame;

	frame_build(spec, &frame);
	return harness_run_bytes(harness, frame.bytes, frame.length);
}

/* Sends the frame count times; returns how many runs did not pass. */
static int
harness_run_times(struct harness *harness, const struct frame_spec *spec, int count)
{
	int not_passed = 0;

	for (int i = 0; i < count; i++)
		if (harness_run(harness, spec) != XDP_PASS)
			not_passed++;
	return not_passed;
}

static uint64_t
harness_counter(struct harness *harness, enum xdp_counter which)
{
	int cpus = libbpf_num_possible_cpus();
	uint32_t key = which;
	uint64_t *values, total = 0;

	if (cpus <= 0)
		fail("libbpf_num_possible_cpus");
	values = calloc((size_t)cpus, sizeof(*values));
	if (values == NULL)
		fail("calloc");
	if (bpf_map__lookup_elem(harness->skel->maps.counters, &key, sizeof(key), values,
	                         sizeof(*values) * (size_t)cpus, 0) != 0)
		fail("counters lookup");
	for (int cpu = 0; cpu < cpus; cpu++)
		total += values[cpu];
	free(values);
	return total;
}

static struct source_key
source_or_fail(const char *text, unsigned ipv6_prefix_len)
{
	struct source_key key;

	if (source_parse(text, ipv6_prefix_len, &key) < 0)
		fail("bad source in a test");
	return key;
}

/* Returns 0 and the state of the source (masked to /64), or -ENOENT. */
static int
harness_state(struct harness *harness, const char *source, struct source_state *state)
{
	struct source_key key = source_or_fail(source, 64);

	if (bpf_map__lookup_elem(harness->skel->maps.sources, &key, sizeof(key), state,
	                         sizeof(*state), 0) != 0)
		return -ENOENT;
	return 0;
}

static unsigned
harness_state_attempts(struct harness *harness, const char *source)
{
	struct source_state state;

	if (harness_state(harness, source, &state) < 0)
		return 0;
	return state.smtp_attempts;
}

static unsigned
map_source_count(int fd)
{
	struct source_key key, next;
	unsigned count = 0;
	void *previous = NULL;

	while (count < MAP_WALK_MAX && bpf_map_get_next_key(fd, previous, &next) == 0) {
		count++;
		key = next;
		previous = &key;
	}
	return count;
}

/* Sources with SMTP state. */
static unsigned
harness_source_count(struct harness *harness)
{
	return map_source_count(bpf_map__fd(harness->skel->maps.sources));
}

/* Sources with scan state. */
static unsigned
harness_scan_source_count(struct harness *harness)
{
	return map_source_count(bpf_map__fd(harness->skel->maps.scan_sources));
}

static void
harness_close(struct harness *harness)
{
	if (harness->skel == NULL)
		return;
	CHECK(harness_counter(harness, COUNTER_PACKETS) == harness->runs,
	      "%s: COUNTER_PACKETS equals the %u frames the program ran on", harness->name,
	      harness->runs);
	CHECK(harness->events_dropped == 0, "%s: every event had the size of an abuse_event",
	      harness->name);
	ring_buffer__free(harness->ring);
	abuseguard_bpf__destroy(harness->skel);
	harness->skel = NULL;
}

static int
address_equal(const unsigned char *addr, int family, const char *text)
{
	unsigned char expected[16] = {0};

	address_parse_or_fail(family, text, expected);
	return memcmp(addr, expected, 16) == 0;
}

static const struct harness_options default_options = {
    .smtp_attempts = ATTEMPTS_LIMIT,
    .smtp_destinations = DESTINATIONS_LIMIT,
};

static void
test_attempts_threshold(void)
{
	struct harness harness;
	struct frame_spec syn = smtp_syn("198.51.100.7", "203.0.113.25", 25);
	struct source_key expected = source_or_fail("198.51.100.7", 64);
	struct abuse_event *event = &harness.events[0];
	struct source_state state;
	uint64_t second_window = START_NS + WINDOW_NS + NS_PER_SECOND;

	if (harness_open(&harness, "attempts", &default_options) < 0) {
		CHECK(0, "attempts: the XDP program loads");
		return;
	}
	CHECK(harness_run_times(&harness, &syn, ATTEMPTS_LIMIT - 1) == 0,
	      "attempts: every SYN to port 25 passes (XDP_PASS)");
	CHECK(harness.event_count == 0,
	      "attempts: %d SYNs to port 25, below the threshold of %d: "
	      "no event",
	      ATTEMPTS_LIMIT - 1, ATTEMPTS_LIMIT);

	harness.skel->bss->replay_now_ns = START_NS + 5 * NS_PER_SECOND;
	CHECK(harness_run(&harness, &syn) == XDP_PASS, "attempts: the threshold-th SYN passes");
	CHECK(harness.event_count == 1, "attempts: the %d-th SYN sends exactly one event (got %zu)",
	      ATTEMPTS_LIMIT, harness.event_count);
	if (harness.event_count >= 1) {
		CHECK(source_equal(&event->source, &expected) &&
		          memcmp(&event->source, &expected, sizeof(expected)) == 0,
		      "attempts: the event names the source 198.51.100.7/32 with zeroed padding");
		CHECK(event->category == CATEGORY_SPAM && event->reason == SPAM_REASON_ATTEMPTS,
		      "attempts: the event is spam, reason attempts (category %u, reason %u)",
		      event->category, event->reason);
		CHECK(event->counts.attempts == ATTEMPTS_LIMIT && event->counts.destinations == 1,
		      "attempts: the event counts %d attempts to 1 destination (got %u, %u)",
		      ATTEMPTS_LIMIT, event->counts.attempts, event->counts.destinations);
		CHECK(event->samples[0].port == 25 &&
		          address_equal(event->samples[0].address, AF_INET, "203.0.113.25"),
		      "attempts: the event carries the last destination 203.0.113.25 port 25");
		CHECK(event->window_start_ns == START_NS &&
		          event->time_ns == START_NS + 5 * NS_PER_SECOND,
		      "attempts: the event's window starts at the first SYN, its time is the last");
		CHECK((int)event->ifindex == harness.ifindex,
		      "attempts: the event carries the ingress interface (%u, want %d)",
		      event->ifindex, harness.ifindex);
	}
	CHECK(harness_state(&harness, "198.51.100.7", &state) == 0 &&
	          state.last_seen_ns == START_NS + 5 * NS_PER_SECOND,
	      "attempts: the source's state records when it was last seen");

	harness.event_count = 0;
	harness.skel->bss->replay_now_ns = START_NS + WINDOW_NS - 1;
	harness_run_times(&harness, &syn, 20);
	CHECK(harness.event_count == 0,
	      "attempts: 20 more SYNs until the window's last nanosecond: no more events");
	CHECK(harness_state_attempts(&harness, "198.51.100.7") == ATTEMPTS_LIMIT + 20,
	      "attempts: the source's state still counts every attempt (%u)",
	      harness_state_attempts(&harness, "198.51.100.7"));

	harness.skel->bss->replay_now_ns = second_window;
	harness_run_times(&harness, &syn, ATTEMPTS_LIMIT - 1);
	CHECK(harness.event_count == 0,
	      "attempts: after the window ends the count starts again: %d SYNs, no event",
	      ATTEMPTS_LIMIT - 1);
	harness_run(&harness, &syn);
	CHECK(harness.event_count == 1 && harness.events[0].window_start_ns == second_window &&
	          harness.events[0].counts.attempts == ATTEMPTS_LIMIT,
	      "attempts: crossing the threshold again in the new window sends a new event");
	CHECK(harness_counter(&harness, COUNTER_EVENTS) == 2 &&
	          harness_counter(&harness, COUNTER_EVENTS_LOST) == 0,
	      "attempts: COUNTER_EVENTS counts the 2 events, none lost");
	CHECK(harness_counter(&harness, COUNTER_SMTP_ATTEMPTS) == harness.runs &&
	          harness_counter(&harness, COUNTER_IPV4) == harness.runs,
	      "attempts: COUNTER_SMTP_ATTEMPTS and COUNTER_IPV4 count every SYN");
	CHECK(harness_counter(&harness, COUNTER_SOURCES_NEW) == 1,
	      "attempts: one source was inserted into the map");
	harness_close(&harness);
}

static void
test_destinations_threshold(void)
{
	static const char *destinations[DESTINATIONS_LIMIT] = {"203.0.113.1", "203.0.113.2",
	                                                       "203.0.113.3", "203.0.113.4"};
	struct harness harness;
	struct frame_spec syn = smtp_syn("198.51.100.8", destinations[0], 25);
	struct source_state state;

	if (harness_open(&harness, "destinations", &default_options) < 0) {
		CHECK(0, "destinations: the XDP program loads");
		return;
	}
	harness_run_times(&harness, &syn, 3);
	CHECK(harness_state(&harness, "198.51.100.8", &state) == 0 &&
	          state.smtp_destinations == 1 && state.smtp_attempts == 3,
	      "destinations: 3 SYNs to one destination count 3 attempts, 1 destination");
	for (int i = 1; i < DESTINATIONS_LIMIT - 1; i++) {
		syn.destination = destinations[i];
		harness_run(&harness, &syn);
	}
	CHECK(harness.event_count == 0, "destinations: %d distinct destinations: no event yet",
	      DESTINATIONS_LIMIT - 1);
	syn.destination = destinations[DESTINATIONS_LIMIT - 1];
	syn.destination_port = 587;
	harness_run(&harness, &syn);
	CHECK(harness.event_count == 1,
	      "destinations: the %d-th distinct destination sends one "
	      "event, before %d attempts",
	      DESTINATIONS_LIMIT, ATTEMPTS_LIMIT);
	if (harness.event_count == 1) {
		struct abuse_event *event = &harness.events[0];

		CHECK(event->reason == SPAM_REASON_DESTINATIONS,
		      "destinations: the event's reason is destinations (%u)", event->reason);
		CHECK(event->counts.destinations == DESTINATIONS_LIMIT &&
		          event->counts.attempts == DESTINATIONS_LIMIT + 2,
		      "destinations: the event counts %d destinations and %d attempts (got %u, %u)",
		      DESTINATIONS_LIMIT, DESTINATIONS_LIMIT + 2, event->counts.destinations,
		      event->counts.attempts);
		CHECK(event->samples[0].port == 587 &&
		          address_equal(event->samples[0].address, AF_INET, "203.0.113.4"),
		      "destinations: the event carries the last destination and port");
	}
	harness.event_count = 0;
	harness_run_times(&harness, &syn, ATTEMPTS_LIMIT);
	CHECK(harness.event_count == 0,
	      "destinations: crossing the attempts threshold too sends no second event");

	/* In a new window a destination already seen counts again, once. */
	harness.skel->bss->replay_now_ns = START_NS + 2 * WINDOW_NS;
	syn.destination = destinations[0];
	harness_run_times(&harness, &syn, 2);
	CHECK(harness_state(&harness, "198.51.100.8", &state) == 0 &&
	          state.smtp_destinations == 1 && state.smtp_attempts == 2,
	      "destinations: a new window counts a destination seen in the last one once more");
	harness_close(&harness);
}

/*
 * A destination is a host: the SMTP ports of one host count it once, with
 * the scan detector watching the same first contacts or switched off.
 */
static void
test_destination_ports(void)
{
	static const uint16_t ports[] = {25, 587, 465, 25, 587};
	struct frame_spec syn = smtp_syn("198.51.100.12", "203.0.113.12", 25);
	struct harness harness;
	struct source_state state;

	for (int scan = 1; scan >= 0; scan--) {
		const char *watched = scan ? "scans watched" : "scans not watched";

		if (harness_open(&harness, "destination ports", &default_options) < 0) {
			CHECK(0, "destination ports: the XDP program loads");
			return;
		}
		harness.skel->data->scan_settings.enabled = scan;
		for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
			syn.destination_port = ports[i];
			harness_run(&harness, &syn);
		}
		CHECK(harness_state(&harness, "198.51.100.12", &state) == 0 &&
		          state.smtp_attempts == 5 && state.smtp_destinations == 1,
		      "destination ports (%s): SYNs to one host on 25, 587 and 465 count 5 "
		      "attempts, 1 destination (got %u, %u)",
		      watched, state.smtp_attempts, state.smtp_destinations);
		CHECK(harness_counter(&harness, COUNTER_SCAN_PROBES) == (scan ? 3 : 0),
		      "destination ports (%s): %d first contacts counted as probes (got %llu)",
		      watched, scan ? 3 : 0,
		      (unsigned long long)harness_counter(&harness, COUNTER_SCAN_PROBES));
		syn.destination = "203.0.113.13";
		syn.destination_port = 587;
		harness_run(&harness, &syn);
		CHECK(harness_state(&harness, "198.51.100.12", &state) == 0 &&
		          state.smtp_destinations == 2,
		      "destination ports (%s): another host first seen on 587 counts a second "
		      "destination",
		      watched);
		syn.destination = "203.0.113.12";
		harness_close(&harness);
	}
}

static void
test_which_packets_count(void)
{
	struct harness harness;
	struct frame_spec spec;
	struct source_state state;
	int not_passed = 0;

	if (harness_open(&harness, "ports", &default_options) < 0) {
		CHECK(0, "ports: the XDP program loads");
		return;
	}
	spec = smtp_syn("198.51.100.9", "203.0.113.9", 465);
	not_passed += harness_run(&harness, &spec) != XDP_PASS;
	spec.destination_port = 587;
	not_passed += harness_run(&harness, &spec) != XDP_PASS;
	CHECK(harness_state(&harness, "198.51.100.9", &state) == 0 && state.smtp_attempts == 2,
	      "ports: SYNs to 465 and 587 count as SMTP attempts");

	spec = smtp_syn("198.51.100.10", "203.0.113.9", 80);
	not_passed += harness_run(&harness, &spec) != XDP_PASS;
	spec.destination_port = 25;
	spec.tcp_flags = TH_SYN | TH_ACK;
	not_passed += harness_run(&harness, &spec) != XDP_PASS;
	spec.tcp_flags = TH_ACK;
	not_passed += harness_run(&harness, &spec) != XDP_PASS;
	spec.tcp_flags = TH_ACK | TH_PUSH;
	not_passed += harness_run(&harness, &spec) != XDP_PASS;
	spec.protocol = IPPROTO_UDP;
	not_passed += harness_run(&harness, &spec) != XDP_PASS;
	spec.protocol = IPPROTO_ICMP;
	not_passed += harness_run(&harness, &spec) != XDP_PASS;
	CHECK(harness_state(&harness, "198.51.100.10", &state) == -ENOENT,
	      "ports: SYN to 80, SYN+ACK, ACK and data to 25, UDP to 25, ICMP: no source state");
	CHECK(harness_counter(&harness, COUNTER_SMTP_ATTEMPTS) == 2,
	      "ports: COUNTER_SMTP_ATTEMPTS counts only the 2 SYNs to 465 and 587 (%llu)",
	      (unsigned long long)harness_counter(&harness, COUNTER_SMTP_ATTEMPTS));
	CHECK(harness_counter(&harness, COUNTER_MALFORMED) == 0 &&
	          harness_counter(&harness, COUNTER_OTHER_L3) == 0,
	      "ports: well-formed TCP, UDP and ICMP frames are not counted malformed");
	CHECK(not_passed == 0, "ports: every frame passes");

	/* A threshold of 0 disables that test. */
	harness.skel->data->thresholds.smtp_attempts = 0;
	harness.skel->data->thresholds.smtp_destinations = 0;
	spec = smtp_syn("198.51.100.11", "203.0.113.9", 25);
	harness_run_times(&harness, &spec, 3 * ATTEMPTS_LIMIT);
	CHECK(harness.event_count == 0 &&
	          harness_state_attempts(&harness, "198.51.100.11") == 3 * ATTEMPTS_LIMIT,
	      "ports: with both thresholds 0 (rewritten after load), %d SYNs send no event",
	      3 * ATTEMPTS_LIMIT);
	harness_close(&harness);
}

static void
test_ipv6(void)
{
	struct harness harness;
	struct frame_spec first = smtp_syn("2001:db8:1:2::1", "2001:db8:ffff::25", 25);
	struct frame_spec second =
	    smtp_syn("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:ffff::26", 25);
	struct frame_spec other = smtp_syn("2001:db8:1:3::1", "2001:db8:ffff::25", 25);
	struct source_key expected = source_or_fail("2001:db8:1:2::", 64);
	struct source_state state;

	if (harness_open(&harness, "ipv6", &default_options) < 0) {
		CHECK(0, "ipv6: the XDP program loads");
		return;
	}
	harness_run_times(&harness, &first, ATTEMPTS_LIMIT / 2);
	harness_run_times(&harness, &other, 2);
	harness_run_times(&harness, &second, ATTEMPTS_LIMIT / 2);
	CHECK(harness.event_count == 1,
	      "ipv6: two addresses in one /64 are one source: one event after %d SYNs between them "
	      "(got %zu)",
	      ATTEMPTS_LIMIT, harness.event_count);
	if (harness.event_count == 1) {
		struct abuse_event *event = &harness.events[0];

		CHECK(memcmp(&event->source, &expected, sizeof(expected)) == 0,
		      "ipv6: the event's source is 2001:db8:1:2::/64, masked, family 10");
		CHECK(event->source.prefix_len == 64 && event->source.family == SOURCE_FAMILY_IPV6,
		      "ipv6: the event's prefix_len is 64");
		CHECK(event->counts.attempts == ATTEMPTS_LIMIT && event->counts.destinations == 2,
		      "ipv6: the event combines both addresses' counts (%u attempts, %u "
		      "destinations)",
		      event->counts.attempts, event->counts.destinations);
		CHECK(address_equal(event->samples[0].address, AF_INET6, "2001:db8:ffff::26"),
		      "ipv6: the event's last destination is the full IPv6 address");
	}
	CHECK(harness_state_attempts(&harness, "2001:db8:1:3::") == 2,
	      "ipv6: another /64 is another source with its own count");

	other.ipv6_extension = IPPROTO_DSTOPTS;
	harness_run(&harness, &other);
	other.ipv6_extension = IPPROTO_HOPOPTS;
	harness_run(&harness, &other);
	other.ipv6_extension = IPPROTO_FRAGMENT; /* first fragment: the TCP header is there */
	harness_run(&harness, &other);
	CHECK(harness_state_attempts(&harness, "2001:db8:1:3::") == 5,
	      "ipv6: SYNs behind a destination options, hop-by-hop or fragment header count");
	other.ipv6_fragment_offset = 100;
	harness_run(&harness, &other);
	CHECK(harness_state_attempts(&harness, "2001:db8:1:3::") == 5 &&
	          harness_counter(&harness, COUNTER_MALFORMED) == 0,
	      "ipv6: a later fragment carries no TCP header: not counted, not malformed");
	CHECK(harness_counter(&harness, COUNTER_IPV6) == harness.runs &&
	          harness_counter(&harness, COUNTER_IPV4) == 0,
	      "ipv6: COUNTER_IPV6 counts every frame");

	/* The daemon may change the prefix length while the program runs. */
	harness.skel->data->thresholds.ipv6_prefix_len = 48;
	first.source = "2001:db8:7:1::1";
	second.source = "2001:db8:7:2::1";
	harness_run(&harness, &first);
	harness_run(&harness, &second);
	{
		struct source_key key = source_or_fail("2001:db8:7::/48", 48);

		CHECK(bpf_map__lookup_elem(harness.skel->maps.sources, &key, sizeof(key), &state,
		                           sizeof(state), 0) == 0 &&
		          state.smtp_attempts == 2,
		      "ipv6: with ipv6_prefix_len rewritten to 48, two /64s in one /48 are one "
		      "source");
	}
	harness.skel->data->thresholds.ipv6_prefix_len = 200;
	harness_run(&harness, &first);
	{
		struct source_key key = source_or_fail("2001:db8:7:1::1", 128);

		CHECK(bpf_map__lookup_elem(harness.skel->maps.sources, &key, sizeof(key), &state,
		                           sizeof(state), 0) == 0,
		      "ipv6: a prefix length above 128 is clamped to 128");
	}
	harness_close(&harness);
}

static void
test_vlan(void)
{
	struct harness harness;
	struct frame_spec syn = smtp_syn("198.51.100.12", "203.0.113.12", 25);
	struct frame_spec syn6 = smtp_syn("2001:db8:12::1", "2001:db8:ffff::25", 25);
	int not_passed = 0;

	if (harness_open(&harness, "vlan", &default_options) < 0) {
		CHECK(0, "vlan: the XDP program loads");
		return;
	}
	for (int tags = 0; tags <= 2; tags++) {
		syn.vlan_tags = tags;
		syn6.vlan_tags = tags;
		not_passed += harness_run(&harness, &syn) != XDP_PASS;
		not_passed += harness_run(&harness, &syn6) != XDP_PASS;
	}
	CHECK(harness_state_attempts(&harness, "198.51.100.12") == 3 &&
	          harness_state_attempts(&harness, "2001:db8:12::") == 3,
	      "vlan: untagged, 802.1Q and 802.1ad+802.1Q SYNs count alike (IPv4 %u, IPv6 %u)",
	      harness_state_attempts(&harness, "198.51.100.12"),
	      harness_state_attempts(&harness, "2001:db8:12::"));
	CHECK(harness_counter(&harness, COUNTER_VLAN) == 4,
	      "vlan: COUNTER_VLAN counts the 4 tagged frames once each (%llu)",
	      (unsigned long long)harness_counter(&harness, COUNTER_VLAN));
	CHECK(harness_counter(&harness, COUNTER_IPV4) == 3 &&
	          harness_counter(&harness, COUNTER_IPV6) == 3 &&
	          harness_counter(&harness, COUNTER_MALFORMED) == 0,
	      "vlan: tagged frames are parsed as IP, not malformed");
	CHECK(not_passed == 0, "vlan: every frame passes");
	harness_close(&harness);
}

/* Runs every truncation of the frame; returns how many runs misbehaved. */
static int
run_truncations(struct harness *harness, const struct frame_spec *spec, unsigned *program_runs)
{
	struct frame frame;
	int misbehaved = 0, verdict;

	frame_build(spec, &frame);
	for (size_t length = 0; length < frame.length; length++) {
		verdict = harness_run_bytes(harness, frame.bytes, length);
		if (length < ETH_HLEN) {
			/* The kernel refuses to run XDP on less than an Ethernet header. */
			misbehaved += verdict != -EINVAL;
			continue;
		}
		misbehaved += verdict != XDP_PASS;
		(*program_runs)++;
	}
	return misbehaved;
}

static uint32_t
random_next(uint32_t *state)
{
	/* xorshift32: the same garbage on every run. */
	*state ^= *state << 13;
	*state ^= *state >> 17;
	*state ^= *state << 5;
	return *state;
}

static void
test_malformed(void)
{
	static const uint16_t ethertypes[] = {ETH_P_IP, ETH_P_IPV6, ETH_P_8021Q, ETH_P_8021AD};
	/* With a threshold of 1, any frame counted as an attempt sends an event. */
	static const struct harness_options options = {.smtp_attempts = 1};
	struct harness harness;
	struct frame_spec spec = smtp_syn("192.0.2.66", "203.0.113.66", 25);
	struct frame_spec spec6 = smtp_syn("2001:db8:66::1", "2001:db8:ffff::25", 25);
	static const unsigned char padding[10];
	unsigned char garbage[200];
	struct frame frame;
	uint32_t random_state = 0x5eed1234;
	uint64_t malformed_before;
	unsigned truncated_runs = 0;
	int misbehaved, garbage_frames = 3000, not_passed = 0;

	if (harness_open(&harness, "malformed", &options) < 0) {
		CHECK(0, "malformed: the XDP program loads");
		return;
	}
	misbehaved = run_truncations(&harness, &spec, &truncated_runs);
	spec.vlan_tags = 2;
	misbehaved += run_truncations(&harness, &spec, &truncated_runs);
	misbehaved += run_truncations(&harness, &spec6, &truncated_runs);
	spec6.ipv6_extension = IPPROTO_DSTOPTS;
	misbehaved += run_truncations(&harness, &spec6, &truncated_runs);
	CHECK(misbehaved == 0, "malformed: every truncation of IPv4 and IPv6 SYN frames passes, "
	                       "those shorter than 14 bytes are refused by the kernel with EINVAL");
	CHECK(harness_counter(&harness, COUNTER_MALFORMED) == truncated_runs,
	      "malformed: each of the %u truncated frames counts COUNTER_MALFORMED once (%llu)",
	      truncated_runs, (unsigned long long)harness_counter(&harness, COUNTER_MALFORMED));

	malformed_before = harness_counter(&harness, COUNTER_MALFORMED);
	spec = smtp_syn("192.0.2.66", "203.0.113.66", 25);
	for (int words = 1; words < 5; words++) {
		spec.ipv4_header_words = words;
		not_passed += harness_run(&harness, &spec) != XDP_PASS;
	}
	CHECK(harness_counter(&harness, COUNTER_MALFORMED) == malformed_before + 4,
	      "malformed: IPv4 headers with ihl 1 to 4 count as malformed");

	malformed_before = harness_counter(&harness, COUNTER_MALFORMED);
	spec.ipv4_header_words = 5;
	frame_build(&spec, &frame);
	frame_patch16(&frame, IPV4_TOTAL_LENGTH_OFFSET, frame.length - ETH_HLEN + 1);
	not_passed += harness_run_bytes(&harness, frame.bytes, frame.length) != XDP_PASS;
	frame_patch16(&frame, IPV4_TOTAL_LENGTH_OFFSET, 19);
	not_passed += harness_run_bytes(&harness, frame.bytes, frame.length) != XDP_PASS;
	frame_build(&spec6, &frame);
	frame_patch16(&frame, IPV6_PAYLOAD_LENGTH_OFFSET,
	              frame.length - ETH_HLEN - sizeof(struct ip6_hdr) + 1);
	not_passed += harness_run_bytes(&harness, frame.bytes, frame.length) != XDP_PASS;
	frame_build(&spec, &frame);
	frame.bytes[TCP_DATA_OFFSET_OFFSET] = 4 << 4;
	not_passed += harness_run_bytes(&harness, frame.bytes, frame.length) != XDP_PASS;
	CHECK(harness_counter(&harness, COUNTER_MALFORMED) == malformed_before + 4,
	      "malformed: an IPv4 total length beyond the frame or inside its own header, an IPv6 "
	      "payload length beyond the frame, a TCP data offset of 4 count as malformed");

	malformed_before = harness_counter(&harness, COUNTER_MALFORMED);
	spec.ipv4_frag_off = 100;
	not_passed += harness_run(&harness, &spec) != XDP_PASS;
	CHECK(
	    harness_counter(&harness, COUNTER_MALFORMED) == malformed_before &&
	        harness_counter(&harness, COUNTER_SMTP_ATTEMPTS) == 0,
	    "malformed: a non-first IPv4 fragment to port 25 is neither an attempt nor malformed");

	malformed_before = harness_counter(&harness, COUNTER_MALFORMED);
	for (int i = 0; i < garbage_frames; i++) {
		size_t length =
		    ETH_HLEN + random_next(&random_state) % (sizeof(garbage) - ETH_HLEN + 1);

		for (size_t byte = 0; byte < length; byte++)
			garbage[byte] = (unsigned char)random_next(&random_state);
		if (i % 2 == 0) {
			uint16_t ethertype = ethertypes[(i / 2) % 4];

			garbage[12] = ethertype >> 8;
			garbage[13] = ethertype & 0xff;
		}
		not_passed += harness_run_bytes(&harness, garbage, length) != XDP_PASS;
	}
	CHECK(not_passed == 0, "malformed: %d seeded random garbage frames all pass",
	      garbage_frames);
	CHECK(
	    harness_counter(&harness, COUNTER_MALFORMED) > malformed_before &&
	        harness_counter(&harness, COUNTER_MALFORMED) - malformed_before <=
	            (uint64_t)garbage_frames,
	    "malformed: COUNTER_MALFORMED grows with the broken garbage frames (+%llu)",
	    (unsigned long long)(harness_counter(&harness, COUNTER_MALFORMED) - malformed_before));
	CHECK(harness_counter(&harness, COUNTER_OTHER_L3) > 0,
	      "malformed: garbage with unknown ethertypes counts COUNTER_OTHER_L3");
	CHECK(harness.event_count == 0 && harness_source_count(&harness) == 0,
	      "malformed: no broken frame created a source or an event");

	/* The same frames whole do count: the checks above could fail. */
	spec = smtp_syn("192.0.2.66", "203.0.113.66", 25);
	spec.ipv4_header_words = 6;
	harness_run(&harness, &spec);
	spec.ipv4_header_words = 5;
	spec.source = "192.0.2.67";
	spec.ipv4_frag_off = IPV4_MORE_FRAGMENTS;
	harness_run(&harness, &spec);
	harness_run(&harness, &spec6);
	/* Ethernet pads short frames: bytes after the datagram are fine. */
	spec.source = "192.0.2.68";
	spec.ipv4_frag_off = 0;
	frame_build(&spec, &frame);
	frame_put(&frame, padding, sizeof(padding));
	harness_run_bytes(&harness, frame.bytes, frame.length);
	CHECK(harness.event_count == 4, "malformed: whole SYNs (IPv4 with options, a first "
	                                "fragment, IPv6, padded) do send events");
	harness_close(&harness);
}

/*
 * A frame built whole, then cut after transport_bytes of its transport
 * header, with the IP length fields saying so: a fragment as a sender that
 * splits its datagrams (hping3 -f --mtu 16) puts it on the wire.
 */
static void
fragment_build(const struct frame_spec *spec, size_t transport_bytes, struct frame *frame)
{
	int ipv6 = strchr(spec->source, ':') != NULL;
	size_t network =
	    ipv6 ? sizeof(struct ip6_hdr) + sizeof(struct ip6_frag) : sizeof(struct iphdr);

	frame_build(spec, frame);
	if (ETH_HLEN + network + transport_bytes > frame->length)
		fail("fragment longer than its frame");
	frame->length = ETH_HLEN + network + transport_bytes;
	if (ipv6)
		frame_patch16(frame, IPV6_PAYLOAD_LENGTH_OFFSET,
		              network - sizeof(struct ip6_hdr) + transport_bytes);
	else
		frame_patch16(frame, IPV4_TOTAL_LENGTH_OFFSET, network + transport_bytes);
}

static void
test_fragments(void)
{
	static const struct harness_options options = {.smtp_attempts = 1};
	static const unsigned char padding[16];
	struct harness harness;
	struct frame_spec spec = smtp_syn("192.0.2.80", "203.0.113.80", 25);
	struct frame_spec spec6 = smtp_syn("2001:db8:80::1", "2001:db8:ffff::25", 25);
	struct frame frame;
	int not_passed = 0;
	size_t events;

	if (harness_open(&harness, "fragments", &options) < 0) {
		CHECK(0, "fragments: the XDP program loads");
		return;
	}
	spec.ipv4_frag_off = IPV4_MORE_FRAGMENTS;
	fragment_build(&spec, 16, &frame);
	not_passed += harness_run_bytes(&harness, frame.bytes, frame.length) != XDP_PASS;
	CHECK(harness_state_attempts(&harness, "192.0.2.80") == 1 && harness.event_count == 1 &&
	          harness_counter(&harness, COUNTER_SMTP_ATTEMPTS) == 1 &&
	          harness_counter(&harness, COUNTER_MALFORMED) == 0,
	      "fragments: an IPv4 SYN to 25 whose first fragment holds 16 TCP bytes is an SMTP "
	      "attempt with an event, not malformed");
	CHECK(harness_counter(&harness, COUNTER_SCAN_PROBES) == 1,
	      "fragments: that first fragment is also a scan probe (%llu)",
	      (unsigned long long)harness_counter(&harness, COUNTER_SCAN_PROBES));

	spec.source = "192.0.2.81";
	fragment_build(&spec, 14, &frame);
	not_passed += harness_run_bytes(&harness, frame.bytes, frame.length) != XDP_PASS;
	CHECK(harness_state_attempts(&harness, "192.0.2.81") == 1,
	      "fragments: 14 TCP bytes (ports and flags) are enough to count");

	spec.source = "192.0.2.82";
	events = harness.event_count; /* the SMTP attempts' */
	fragment_build(&spec, 8, &frame);
	not_passed += harness_run_bytes(&harness, frame.bytes, frame.length) != XDP_PASS;
	/* Ethernet padding behind it must not be read as the rest of the header. */
	frame_put(&frame, padding, sizeof(padding));
	not_passed += harness_run_bytes(&harness, frame.bytes, frame.length) != XDP_PASS;
	CHECK(harness_counter(&harness, COUNTER_TINY_FRAGMENTS) == 2 &&
	          harness_state_attempts(&harness, "192.0.2.82") == 0 &&
	          harness_counter(&harness, COUNTER_SMTP_ATTEMPTS) == 2 &&
	          harness_counter(&harness, COUNTER_MALFORMED) == 0,
	      "fragments: a first fragment of 8 TCP bytes, bare or padded, counts "
	      "COUNTER_TINY_FRAGMENTS (%llu), not an attempt, not malformed",
	      (unsigned long long)harness_counter(&harness, COUNTER_TINY_FRAGMENTS));
	CHECK(harness.event_count == events,
	      "fragments: two tiny fragments are below the threshold of 3");
	/* The third and a fourth, with an identification: one evasion event. */
	frame.bytes[ETH_HLEN + 4] = 0x12;
	frame.bytes[ETH_HLEN + 5] = 0x34;
	not_passed += harness_run_bytes(&harness, frame.bytes, frame.length) != XDP_PASS;
	not_passed += harness_run_bytes(&harness, frame.bytes, frame.length) != XDP_PASS;
	CHECK(harness.event_count == events + 1, "fragments: the third tiny fragment of a source "
	                                         "is one evasion event, the fourth no second");
	if (harness.event_count == events + 1) {
		const struct abuse_event *event = &harness.events[events];
		struct source_key expected;

		source_parse("192.0.2.82", 64, &expected);
		CHECK(event->category == CATEGORY_EVASION &&
		          event->reason == EVASION_REASON_TINY_FRAGMENTS &&
		          memcmp(&event->source, &expected, sizeof(expected)) == 0 &&
		          event->counts.attempts == 3,
		      "fragments: the event is evasion by tiny fragments of 192.0.2.82, 3 of them");
		CHECK(event->fragment_bytes == 8 && event->fragment_id == 0x1234 &&
		          event->sample_count == 1 && event->samples[0].protocol == IPPROTO_TCP &&
		          event->samples[0].family == SOURCE_FAMILY_IPV4 &&
		          event->samples[0].address[0] == 203 && event->samples[0].address[3] == 80,
		      "fragments: its evidence is the latest fragment's fields: 8 TCP bytes, id "
		      "0x%x, to 203.0.113.80",
		      event->fragment_id);
	}

	spec.source = "192.0.2.83";
	spec.ipv4_frag_off = IPV4_MORE_FRAGMENTS | 2; /* offset 16 bytes: the rest of the header */
	fragment_build(&spec, 8, &frame);
	not_passed += harness_run_bytes(&harness, frame.bytes, frame.length) != XDP_PASS;
	spec.ipv4_frag_off = 0; /* not a fragment: 16 bytes are a broken TCP header */
	fragment_build(&spec, 16, &frame);
	not_passed += harness_run_bytes(&harness, frame.bytes, frame.length) != XDP_PASS;
	CHECK(harness_state_attempts(&harness, "192.0.2.83") == 0 &&
	          harness_counter(&harness, COUNTER_TINY_FRAGMENTS) == 4 &&
	          harness_counter(&harness, COUNTER_MALFORMED) == 1,
	      "fragments: a later fragment is not counted; an unfragmented 16-byte TCP header "
	      "is malformed");

	spec.protocol = IPPROTO_UDP;
	spec.ipv4_frag_off = IPV4_MORE_FRAGMENTS;
	fragment_build(&spec, 0, &frame);
	not_passed += harness_run_bytes(&harness, frame.bytes, frame.length) != XDP_PASS;
	CHECK(harness_counter(&harness, COUNTER_TINY_FRAGMENTS) == 5,
	      "fragments: a first UDP fragment without its 8 header bytes is tiny");

	spec6.ipv6_extension = IPPROTO_FRAGMENT;
	spec6.ipv6_fragment_offset = 0;
	fragment_build(&spec6, 16, &frame);
	frame.bytes[ETH_HLEN + sizeof(struct ip6_hdr) + 3] |= 1; /* more fragments */
	not_passed += harness_run_bytes(&harness, frame.bytes, frame.length) != XDP_PASS;
	CHECK(harness_state_attempts(&harness, "2001:db8:80::") == 1,
	      "fragments: an IPv6 first fragment with 16 TCP bytes is an SMTP attempt");
	spec6.source = "2001:db8:81::1";
	fragment_build(&spec6, 8, &frame);
	frame.bytes[ETH_HLEN + sizeof(struct ip6_hdr) + 3] |= 1;
	not_passed += harness_run_bytes(&harness, frame.bytes, frame.length) != XDP_PASS;
	CHECK(harness_state_attempts(&harness, "2001:db8:81::") == 0 &&
	          harness_counter(&harness, COUNTER_TINY_FRAGMENTS) == 6 &&
	          harness_counter(&harness, COUNTER_MALFORMED) == 1,
	      "fragments: an IPv6 first fragment with 8 TCP bytes is tiny, not an attempt");
	/* RFC 7112: a first fragment whose header chain stops at a destination options
	 * header it does not hold. */
	fragment_build(&spec6, 0, &frame);
	frame.bytes[ETH_HLEN + sizeof(struct ip6_hdr) + 3] |= 1;
	frame.bytes[ETH_HLEN + sizeof(struct ip6_hdr)] = IPPROTO_DSTOPTS;
	frame.bytes[ETH_HLEN + sizeof(struct ip6_hdr) + 7] = 0x77; /* identification */
	not_passed += harness_run_bytes(&harness, frame.bytes, frame.length) != XDP_PASS;
	CHECK(harness_counter(&harness, COUNTER_TINY_FRAGMENTS) == 7 &&
	          harness_counter(&harness, COUNTER_MALFORMED) == 1,
	      "fragments: an IPv6 first fragment without the upper-layer header is tiny, not "
	      "malformed");
	events = harness.event_count;
	CHECK(harness.events[events - 1].category == CATEGORY_SPAM,
	      "fragments: two tiny IPv6 fragments make no event yet");
	not_passed += harness_run_bytes(&harness, frame.bytes, frame.length) != XDP_PASS;
	CHECK(harness.event_count == events + 1 &&
	          harness.events[events].category == CATEGORY_EVASION &&
	          harness.events[events].source.family == SOURCE_FAMILY_IPV6 &&
	          harness.events[events].samples[0].protocol == IPPROTO_DSTOPTS &&
	          harness.events[events].fragment_bytes == 0 &&
	          harness.events[events].fragment_id == 0x77,
	      "fragments: the third is an IPv6 evasion event of the /64, naming the header it "
	      "cuts short (protocol %u, id 0x%x)",
	      harness.events[harness.event_count - 1].samples[0].protocol,
	      harness.events[harness.event_count - 1].fragment_id);
	CHECK(not_passed == 0, "fragments: every frame passes");
	harness_close(&harness);
}

static void
test_lru_bound(void)
{
	static const struct harness_options options = {
	    .sources_max = 64,
	    .smtp_attempts = ATTEMPTS_LIMIT,
	    .smtp_destinations = DESTINATIONS_LIMIT,
	};
	struct harness harness;
	struct frame_spec syn = smtp_syn("", "203.0.113.1", 25);
	char source[INET_ADDRSTRLEN];
	unsigned sources = 1000, count;
	int not_passed = 0;

	if (harness_open(&harness, "lru", &options) < 0) {
		CHECK(0, "lru: the XDP program loads with sources max_entries 64");
		return;
	}
	CHECK(bpf_map__max_entries(harness.skel->maps.sources) == 64,
	      "lru: the daemon's max_entries reaches the sources map");
	syn.source = source;
	for (unsigned i = 0; i < sources; i++) {
		snprintf(source, sizeof(source), "10.1.%u.%u", i / 256, i % 256);
		not_passed += harness_run(&harness, &syn) != XDP_PASS;
	}
	count = harness_source_count(&harness);
	CHECK(not_passed == 0, "lru: every SYN passes");
	CHECK(count > 0 && count <= 64, "lru: %u distinct sources leave %u entries, at most 64",
	      sources, count);
	CHECK(harness_counter(&harness, COUNTER_SOURCES_NEW) == sources,
	      "lru: COUNTER_SOURCES_NEW counts all %u insertions", sources);
	CHECK(harness_state_attempts(&harness, source) == 1,
	      "lru: the most recent source is still in the map");
	harness_close(&harness);
}

static void
test_ring_full(void)
{
	static const struct harness_options options = {
	    .events_bytes = 4096,
	    .smtp_attempts = 1,
	};
	struct harness harness;
	struct frame_spec syn = smtp_syn("", "203.0.113.1", 25);
	char source[INET_ADDRSTRLEN], last_source[INET_ADDRSTRLEN];
	struct source_key expected;
	unsigned sources = 100;
	uint64_t events, lost;

	if (harness_open(&harness, "ring", &options) < 0) {
		CHECK(0, "ring: the XDP program loads with a 4 KiB ring buffer");
		return;
	}
	harness.consume = 0;
	syn.source = source;
	for (unsigned i = 0; i < sources; i++) {
		snprintf(source, sizeof(source), "10.2.0.%u", i + 1);
		harness_run(&harness, &syn);
	}
	snprintf(last_source, sizeof(last_source), "%s", source);
	events = harness_counter(&harness, COUNTER_EVENTS);
	lost = harness_counter(&harness, COUNTER_EVENTS_LOST);
	CHECK(lost > 0 && events + lost == sources,
	      "ring: with the ring buffer full, %llu events went out and %llu were counted lost",
	      (unsigned long long)events, (unsigned long long)lost);
	harness_consume(&harness);
	CHECK(harness.event_count == events, "ring: the daemon reads every event that went out");

	harness.event_count = 0;
	harness_run(&harness, &syn);
	harness_consume(&harness);
	expected = source_or_fail(last_source, 64);
	CHECK(harness.event_count == 1 && harness.events[0].counts.attempts == 2 &&
	          source_equal(&harness.events[0].source, &expected),
	      "ring: a source whose event was lost is reported by its next attempt (%s)",
	      last_source);
	harness.event_count = 0;
	snprintf(source, sizeof(source), "10.2.0.1");
	harness_run(&harness, &syn);
	harness_consume(&harness);
	CHECK(harness.event_count == 0, "ring: a source already reported in the window is not "
	                                "reported again");
	harness_close(&harness);
}

#define HARNESS_ADDRESSES_MAX 4

/*
 * Gives an interface these addresses (NULL-terminated), configured or
 * learned as origin says, through the daemon's own capture_vm_maps_sync().
 */
static void
harness_own(struct harness *harness, int ifindex, enum vm_origin origin,
            const char *const *prefixes)
{
	struct vm_address addresses[HARNESS_ADDRESSES_MAX];
	struct vm vm = {.addresses = addresses, .ifindex = ifindex};

	for (; *prefixes != NULL && vm.address_count < HARNESS_ADDRESSES_MAX; prefixes++) {
		if (prefix_parse(*prefixes, &addresses[vm.address_count].prefix) < 0)
			fail("bad prefix in a test");
		addresses[vm.address_count++].origin = origin;
	}
	if (capture_vm_maps_sync(harness->skel, ifindex, &vm, false) != 0)
		fail("capture_vm_maps_sync");
}

/* Sets or clears INTERFACE_DROP on the interface's policy. */
static void
harness_drop(struct harness *harness, int ifindex, int drop)
{
	struct interface_policy policy = {0};
	uint32_t index = (uint32_t)ifindex;

	bpf_map__lookup_elem(harness->skel->maps.interface_policies, &index, sizeof(index), &policy,
	                     sizeof(policy), 0);
	policy.flags = drop ? policy.flags | INTERFACE_DROP : policy.flags & ~INTERFACE_DROP;
	if (bpf_map__update_elem(harness->skel->maps.interface_policies, &index, sizeof(index),
	                         &policy, sizeof(policy), BPF_ANY) != 0)
		fail("interface_policies update");
}

static int
harness_interface(struct harness *harness, int ifindex, struct interface_state *state)
{
	uint32_t index = (uint32_t)ifindex;

	return bpf_map__lookup_elem(harness->skel->maps.interface_states, &index, sizeof(index),
	                            state, sizeof(*state), 0);
}

static size_t
spoofing_events(const struct harness *harness, int ifindex)
{
	size_t count = 0;

	for (size_t i = 0; i < harness->event_count; i++)
		count += harness->events[i].category == CATEGORY_SPOOFING &&
		         harness->events[i].ifindex == (uint32_t)ifindex;
	return count;
}

static int
learn_record(void *context, void *data, size_t size)
{
	int *last_ifindex = context;

	if (size == sizeof(struct learn_frame))
		*last_ifindex = (int)((struct learn_frame *)data)->ifindex;
	return 0;
}

/* An ARP request from the VM (sender 10.0.0.5), as the learning path sees it. */
static void
arp_frame(struct frame *frame)
{
	static const unsigned char arp[28] = {0,  1, 8, 0, 6, 4, 0, 1, 0x52, 0x54, 0,  0, 0, 5,
	                                      10, 0, 0, 5, 0, 0, 0, 0, 0,    0,    10, 0, 0, 1};

	frame->length = 0;
	ethernet_build(frame, 0, ETH_P_ARP);
	frame_put(frame, arp, sizeof(arp));
}

/*
 * Owned, forged, learned and unlearned sources on two interfaces (lo and
 * a veth in a private namespace): a forged source gets no per-source
 * state and is reported once per window against its interface.
 */
static void
test_attribution(void)
{
	static const struct harness_options options = {
	    .smtp_attempts = ATTEMPTS_LIMIT,
	    .smtp_destinations = DESTINATIONS_LIMIT,
	};
	struct frame_spec syn = smtp_syn("10.0.0.5", "203.0.113.1", 25);
	struct interface_state state_a, state_b;
	struct source_state source_state;
	struct ring_buffer *learn = NULL;
	struct harness harness;
	struct frame arp;
	int a, b, learned_on = 0, not_passed;
	uint64_t spoofed_before;

	if (unshare(CLONE_NEWNET) != 0 ||
	    system("ip link add agt0 type veth peer name agt1 && ip link set agt0 up") != 0) {
		CHECK(0, "attribution: a private namespace with a veth pair");
		return;
	}
	a = (int)if_nametoindex("lo");
	b = (int)if_nametoindex("agt0");
	if (harness_open(&harness, "attribution", &options) < 0) {
		CHECK(0, "attribution: the XDP program loads");
		return;
	}
	harness.skel->data->attribution.spoof_packets = 5;
	harness.skel->data->attribution.learn_frames = 3;

	/* Unlearned: an interface with no known address is trusted, as before. */
	harness.ifindex = a;
	CHECK(harness_run_times(&harness, &syn, 2) == 0 &&
	          harness_state_attempts(&harness, "10.0.0.5") == 2 &&
	          harness_counter(&harness, COUNTER_UNVERIFIED) == 2,
	      "attribution: with no known address, lo's sources are counted, as unverified");

	/* Owned and forged. */
	harness_own(&harness, a, VM_ORIGIN_OPERATOR,
	            (const char *[]){"10.0.0.5", "2001:db8:5::/64", NULL});
	CHECK(harness_run_times(&harness, &syn, 1) == 0 &&
	          harness_state_attempts(&harness, "10.0.0.5") == 3,
	      "attribution: lo's own 10.0.0.5 is counted");
	syn.source = "2001:db8:5::99";
	syn.destination = "2001:db8:ff::1";
	CHECK(harness_run_times(&harness, &syn, 1) == 0 &&
	          harness_state_attempts(&harness, "2001:db8:5::99") == 1,
	      "attribution: an address inside lo's own /64 is counted");
	syn.source = "10.0.0.6";
	syn.destination = "203.0.113.1";
	not_passed = harness_run_times(&harness, &syn, 12);
	CHECK(not_passed == 0 && harness_state(&harness, "10.0.0.6", &source_state) == -ENOENT,
	      "attribution: 12 SYNs forging 10.0.0.6 pass and get no per-source state");
	CHECK(harness_counter(&harness, COUNTER_SPOOFED) == 12 &&
	          harness_interface(&harness, a, &state_a) == 0 && state_a.spoofed == 12,
	      "attribution: they are counted as spoofed, on lo");
	CHECK(spoofing_events(&harness, a) == 1,
	      "attribution: one spoofing event for lo in the window, not one per packet (%zu)",
	      spoofing_events(&harness, a));
	CHECK(harness.event_count > 0 &&
	          harness.events[harness.event_count - 1].sample_count == 1 &&
	          address_equal(harness.events[harness.event_count - 1].samples[0].address, AF_INET,
	                        "10.0.0.6"),
	      "attribution: the event carries the forged source as a sample");
	syn.source = "2001:db8:6::1";
	syn.destination = "2001:db8:ff::1";
	CHECK(harness_run_times(&harness, &syn, 1) == 0 &&
	          harness_state(&harness, "2001:db8:6::1", &source_state) == -ENOENT,
	      "attribution: an IPv6 source outside lo's /64 is spoofed");
	harness_drop(&harness, a, 1);
	syn.source = "10.0.0.6";
	syn.destination = "203.0.113.1";
	CHECK(harness_run(&harness, &syn) == XDP_DROP,
	      "attribution: with the drop policy a forged packet is dropped");
	syn.source = "10.0.0.5";
	CHECK(harness_run(&harness, &syn) == XDP_PASS,
	      "attribution: with the drop policy lo's own packet passes");
	harness_drop(&harness, a, 0);
	harness.skel->bss->replay_now_ns = START_NS + WINDOW_NS;
	syn.source = "10.0.0.7";
	syn.destination = "203.0.113.1";
	harness_run_times(&harness, &syn, 5);
	CHECK(spoofing_events(&harness, a) == 2, "attribution: the next window reports again");

	/* Prefixes of other lengths than /32 and /64 (the trie's, not the exact hash's). */
	harness_own(&harness, a, VM_ORIGIN_OPERATOR,
	            (const char *[]){"10.0.0.5", "198.51.100.8/29", "2001:db8:5::/64",
	                             "2001:db8:50::/56", NULL});
	syn.source = "198.51.100.13";
	CHECK(harness_run_times(&harness, &syn, 1) == 0 &&
	          harness_state_attempts(&harness, "198.51.100.13") == 1,
	      "attribution: an address inside lo's 198.51.100.8/29 is counted");
	syn.source = "198.51.100.16";
	CHECK(harness_run_times(&harness, &syn, 1) == 0 &&
	          harness_state(&harness, "198.51.100.16", &source_state) == -ENOENT,
	      "attribution: the address after lo's /29 is spoofed");
	syn.source = "2001:db8:50:ff::1";
	syn.destination = "2001:db8:ff::1";
	CHECK(harness_run_times(&harness, &syn, 1) == 0 &&
	          harness_state_attempts(&harness, "2001:db8:50:ff::1") == 1,
	      "attribution: an address in the last /64 of lo's 2001:db8:50::/56 is counted");
	syn.source = "2001:db8:51::1";
	CHECK(harness_run_times(&harness, &syn, 1) == 0 &&
	          harness_state(&harness, "2001:db8:51::1", &source_state) == -ENOENT,
	      "attribution: the /64 after lo's /56 is spoofed");
	spoofed_before = harness_counter(&harness, COUNTER_SPOOFED);
	syn.source = "2001:db8:5::99";
	CHECK(harness_run_times(&harness, &syn, 1) == 0 &&
	          harness_counter(&harness, COUNTER_SPOOFED) == spoofed_before &&
	          harness_state(&harness, "2001:db8:5::99", &source_state) == 0,
	      "attribution: beside the prefixes, lo's own /64 is still counted");
	syn.source = "10.0.0.5";
	syn.destination = "203.0.113.1";

	/* Another interface, with nothing known yet, cannot use lo's address. */
	harness.ifindex = b;
	CHECK(harness_run_times(&harness, &syn, 3) == 0 &&
	          harness_state_attempts(&harness, "10.0.0.5") == 4 &&
	          harness_interface(&harness, b, &state_b) == 0 && state_b.spoofed == 3,
	      "attribution: agt0 claiming lo's 10.0.0.5 is spoofed; lo's count stays 4");
	syn.source = "198.51.100.9";
	CHECK(harness_run_times(&harness, &syn, 1) == 0 &&
	          harness_state(&harness, "198.51.100.9", &source_state) == -ENOENT &&
	          harness_interface(&harness, b, &state_b) == 0 && state_b.spoofed == 4,
	      "attribution: agt0 claiming an address of lo's /29 is spoofed");
	syn.source = "2001:db8:50:7::7";
	syn.destination = "2001:db8:ff::1";
	CHECK(harness_run_times(&harness, &syn, 1) == 0 &&
	          harness_state(&harness, "2001:db8:50:7::7", &source_state) == -ENOENT &&
	          harness_interface(&harness, b, &state_b) == 0 && state_b.spoofed == 5,
	      "attribution: agt0 claiming an address of lo's /56 is spoofed");
	syn.source = "10.0.0.5";
	syn.destination = "203.0.113.1";

	/* Learning: ARP is handed up, within the interface's quota. */
	learn = ring_buffer__new(bpf_map__fd(harness.skel->maps.learn_frames), learn_record,
	                         &learned_on, NULL);
	arp_frame(&arp);
	for (int i = 0; i < 5; i++)
		harness_run_bytes(&harness, arp.bytes, arp.length);
	if (learn != NULL)
		ring_buffer__consume(learn);
	CHECK(learned_on == b && harness_counter(&harness, COUNTER_LEARN_FRAMES) == 3 &&
	          harness_counter(&harness, COUNTER_LEARN_DROPPED) == 2,
	      "attribution: agt0's ARP is handed up to learn, 3 a window, 2 counted dropped");
	ring_buffer__free(learn);

	/* Learned: once the daemon writes it, agt0's own address is counted. */
	harness_own(&harness, b, VM_ORIGIN_ARP, (const char *[]){"10.0.0.8", NULL});
	syn.source = "10.0.0.8";
	CHECK(harness_run_times(&harness, &syn, 1) == 0 &&
	          harness_state_attempts(&harness, "10.0.0.8") == 1,
	      "attribution: agt0's learned 10.0.0.8 is counted");
	syn.source = "10.0.0.9";
	CHECK(harness_run_times(&harness, &syn, 1) == 0 &&
	          harness_state(&harness, "10.0.0.9", &source_state) == -ENOENT,
	      "attribution: agt0, learned by ARP, forging 10.0.0.9 is spoofed");

	/*
	 * Learned for IPv4 only, a dual-stack VM's IPv6 is not forged: NDP may
	 * not have shown it yet. Still nobody else's address.
	 */
	harness_interface(&harness, b, &state_b);
	spoofed_before = state_b.spoofed;
	syn.source = "2001:db8:8::8";
	syn.destination = "2001:db8:ff::1";
	CHECK(harness_run_times(&harness, &syn, 3) == 0 &&
	          harness_state_attempts(&harness, "2001:db8:8::8") == 3 &&
	          harness_interface(&harness, b, &state_b) == 0 &&
	          state_b.spoofed == spoofed_before,
	      "attribution: agt0, learned only by ARP, sending IPv6 from 2001:db8:8::8 is "
	      "counted, not spoofed");
	syn.source = "2001:db8:5::7";
	CHECK(harness_run_times(&harness, &syn, 1) == 0 &&
	          harness_interface(&harness, b, &state_b) == 0 &&
	          state_b.spoofed == spoofed_before + 1,
	      "attribution: agt0 sending IPv6 from lo's 2001:db8:5::/64 is spoofed");
	harness_own(&harness, b, VM_ORIGIN_NDP,
	            (const char *[]){"10.0.0.8", "2001:db8:8::/64", NULL});
	syn.source = "2001:db8:9::9";
	CHECK(harness_run_times(&harness, &syn, 1) == 0 &&
	          harness_state(&harness, "2001:db8:9::9", &source_state) == -ENOENT,
	      "attribution: once NDP taught agt0 its /64, another IPv6 source is spoofed");

	/* Configured is complete: an IPv4-only VM's IPv6 is forged. */
	harness_own(&harness, b, VM_ORIGIN_OPERATOR, (const char *[]){"10.0.0.8", NULL});
	harness_drop(&harness, b, 1);
	syn.source = "2001:db8:a::a";
	CHECK(harness_run(&harness, &syn) == XDP_DROP &&
	          harness_state(&harness, "2001:db8:a::a", &source_state) == -ENOENT,
	      "attribution: agt0 configured with 10.0.0.8 only: its IPv6 is spoofed (dropped)");
	syn.source = "2001:db8:8::8";
	CHECK(harness_run(&harness, &syn) == XDP_DROP,
	      "attribution: and so is its /64 of before, taken out of the program's maps");
	harness_own(&harness, a, VM_ORIGIN_OPERATOR,
	            (const char *[]){"10.0.0.5", "2001:db8:5::/64", NULL});
	harness.ifindex = a;
	harness_drop(&harness, a, 1);
	syn.source = "198.51.100.13";
	syn.destination = "203.0.113.1";
	CHECK(harness_run(&harness, &syn) == XDP_DROP,
	      "attribution: lo configured without its /29: an address of it is dropped");
	syn.source = "10.0.0.5";
	CHECK(harness_run(&harness, &syn) == XDP_PASS, "attribution: and lo's 10.0.0.5 passes");
	harness_close(&harness);
}

/*
 * A VM flooding random sources: on an interface with known addresses none
 * gets state; on one without, at most its quota per window, and another
 * interface's sources stay.
 */
static void
test_random_source_flood(void)
{
	static const struct harness_options options = {
	    .smtp_attempts = 1000,
	    .smtp_destinations = 1000,
	};
	struct frame_spec syn = smtp_syn("10.0.0.5", "203.0.113.1", 25);
	char source[INET_ADDRSTRLEN];
	struct harness harness;
	unsigned before, after, scan_before, scan_after;
	int a, b;

	a = (int)if_nametoindex("lo");
	b = (int)if_nametoindex("agt0");
	if (b == 0 || harness_open(&harness, "flood", &options) < 0) {
		CHECK(0, "flood: the XDP program loads, agt0 exists");
		return;
	}
	harness.skel->data->attribution.interface_sources = 100;
	harness.ifindex = a;
	harness_run_times(&harness, &syn, 3);
	harness_own(&harness, a, VM_ORIGIN_OPERATOR, (const char *[]){"10.0.0.5", NULL});
	before = harness_source_count(&harness);
	scan_before = harness_scan_source_count(&harness);
	syn.source = source;
	for (unsigned i = 0; i < 5000; i++) {
		snprintf(source, sizeof(source), "10.%u.%u.%u", 64 + i / 65536, (i / 256) % 256,
		         i % 256);
		harness_run(&harness, &syn);
	}
	CHECK(harness_source_count(&harness) == before &&
	          harness_scan_source_count(&harness) == scan_before &&
	          harness_counter(&harness, COUNTER_SPOOFED) == 5000,
	      "flood: 5000 random sources on lo, which has its address, add no state, SMTP or "
	      "scan");
	harness.ifindex = b;
	for (unsigned i = 0; i < 5000; i++) {
		snprintf(source, sizeof(source), "10.%u.%u.%u", 128 + i / 65536, (i / 256) % 256,
		         i % 256);
		harness_run(&harness, &syn);
	}
	after = harness_source_count(&harness);
	scan_after = harness_scan_source_count(&harness);
	CHECK(after - before == 100,
	      "flood: on agt0, with no known address, 100 of 5000 sources get SMTP state (the "
	      "quota) (%u)",
	      after - before);
	CHECK(scan_after - scan_before == 100,
	      "flood: and 100 get scan state: the flood cannot push other VMs' scans out (%u)",
	      scan_after - scan_before);
	CHECK(harness_counter(&harness, COUNTER_INTERFACE_QUOTA) == 2 * 4900,
	      "flood: 4900 refused for each of the two maps, and counted (%llu)",
	      (unsigned long long)harness_counter(&harness, COUNTER_INTERFACE_QUOTA));
	CHECK(harness_state_attempts(&harness, "10.0.0.5") == 3,
	      "flood: lo's own source keeps its state and count");
	harness_close(&harness);
}

int
main(void)
{
	test_attempts_threshold();
	test_destinations_threshold();
	test_destination_ports();
	test_which_packets_count();
	test_ipv6();
	test_vlan();
	test_malformed();
	test_fragments();
	test_lru_bound();
	test_ring_full();
	/* Last: these move the process into a private network namespace. */
	test_attribution();
	test_random_source_flood();
	return check_done();
}
