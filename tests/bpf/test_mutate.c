/*
 * A million mutated frames through the real XDP and tc programs under
 * BPF_PROG_TEST_RUN: seeds of every shape the parsers know (IPv4 and IPv6
 * SYNs, VLAN and QinQ tags, IPv6 extension headers, first and tiny
 * fragments, UDP, ICMP echo and errors, ARP, NDP, DHCP, replies toward the
 * VM), each mutated by bit flips, byte and length-field overwrites,
 * insertions, deletions, truncation and growth, from a fixed seed so a
 * failure replays. What a user would check: no frame makes a program fail
 * or answer anything but pass (XDP_DROP only for a forged source), every
 * frame is counted, each parser path is reached, and every event the
 * programs send is one the daemon can read.
 *
 * MUTATE_FRAMES (default 1000000) sets how many run through a program (make
 * fuzz runs more); the time and rate are printed.
 * Runs in a network namespace of its own. Needs root; sends no traffic.
 */
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <net/if.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "abuseguard/abuseguard.h"
#include "abuseguard.skel.h"
#include "check.h"

#define FRAME_MAX      512
#define SEEDS_MAX      32
#define FRAMES_DEFAULT 1000000u
#define START_NS       (1000 * 1000000000ULL)
#define STEP_NS        100000ULL /* 100 us of replay clock per frame: windows roll over */

struct frame {
	unsigned char bytes[FRAME_MAX];
	size_t length;
	int toward_vm; /* through tc egress, else XDP */
};

struct run_stats {
	uint64_t xdp, tc, dropped, bad_verdicts, run_errors, refused_short;
	uint64_t events, bad_events;
};

static struct frame seeds[SEEDS_MAX];
static unsigned seed_count;

static void
put(struct frame *frame, const void *data, size_t length)
{
	memcpy(frame->bytes + frame->length, data, length);
	frame->length += length;
}

/* Ethernet from the VM's MAC to the hypervisor's, with vlan_tags 802.1Q/802.1ad tags. */
static struct frame *
seed_begin(int toward_vm, int vlan_tags, uint16_t ethertype)
{
	static const unsigned char macs[12] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2};
	struct frame *frame = &seeds[seed_count++];

	memset(frame, 0, sizeof(*frame));
	frame->toward_vm = toward_vm;
	put(frame, macs, sizeof(macs));
	for (int i = 0; i < vlan_tags; i++) {
		unsigned char tag[4] = {i == 0 && vlan_tags > 1 ? 0x88 : 0x81,
		                        i == 0 && vlan_tags > 1 ? 0xa8 : 0x00, 0, 10};

		put(frame, tag, sizeof(tag));
	}
	put(frame, (unsigned char[]){ethertype >> 8, ethertype & 0xff}, 2);
	return frame;
}

static void
ipv4(struct frame *frame, uint8_t protocol, uint16_t fragment, const uint8_t from[4],
     const uint8_t to[4], const void *payload, size_t length)
{
	uint16_t total = (uint16_t)(20 + length);
	unsigned char header[20] = {
	    0x45, 0, total >> 8, total & 0xff, 0, 1, fragment >> 8, fragment & 0xff, 64, protocol};

	memcpy(header + 12, from, 4);
	memcpy(header + 16, to, 4);
	put(frame, header, sizeof(header));
	put(frame, payload, length);
}

static void
ipv6(struct frame *frame, uint8_t next, const uint8_t from[16], const uint8_t to[16],
     const void *payload, size_t length)
{
	unsigned char header[8] = {0x60, 0, 0, 0, length >> 8, length & 0xff, next, 64};

	put(frame, header, sizeof(header));
	put(frame, from, 16);
	put(frame, to, 16);
	put(frame, payload, length);
}

/* A TCP header: ports, sequence 1, the flags, no options. */
static void
tcp(unsigned char out[20], uint16_t sport, uint16_t dport, uint8_t flags)
{
	memset(out, 0, 20);
	out[0] = sport >> 8, out[1] = sport & 0xff, out[2] = dport >> 8, out[3] = dport & 0xff;
	out[7] = 1;
	out[12] = 5 << 4;
	out[13] = flags;
}

static void
seeds_build(void)
{
	static const uint8_t vm4[4] = {10, 0, 0, 5}, net4[4] = {10, 0, 1, 2};
	static const uint8_t vm6[16] = {0xfd, 0, 0, 5, [15] = 5},
	                     net6[16] = {0xfd, 0, 0, 1, [15] = 2};
	static const uint8_t all_nodes[16] = {0xff, 0x02, [15] = 1};
	unsigned char syn[20], synack[20], rst[20], buffer[320];
	struct frame *f;

	tcp(syn, 40000, 25, 0x02);
	tcp(synack, 25, 40000, 0x12);
	tcp(rst, 80, 40001, 0x14);
	f = seed_begin(0, 0, ETH_P_IP); /* SMTP SYN */
	ipv4(f, 6, 0, vm4, net4, syn, 20);
	f = seed_begin(0, 1, ETH_P_IP); /* tagged */
	ipv4(f, 6, 0, vm4, net4, syn, 20);
	f = seed_begin(0, 2, ETH_P_IP); /* QinQ */
	ipv4(f, 6, 0, vm4, net4, syn, 20);
	f = seed_begin(0, 0, ETH_P_IP); /* first fragment with 16 TCP bytes */
	ipv4(f, 6, 0x2000, vm4, net4, syn, 16);
	f = seed_begin(0, 0, ETH_P_IP); /* tiny first fragment: 8 bytes */
	ipv4(f, 6, 0x2000, vm4, net4, syn, 8);
	f = seed_begin(0, 0, ETH_P_IP); /* a later fragment */
	ipv4(f, 6, 0x0002, vm4, net4, syn + 16, 4);
	f = seed_begin(0, 0, ETH_P_IP); /* UDP to 53 */
	ipv4(f, 17, 0, vm4, net4, (unsigned char[]){0x9c, 0x40, 0, 53, 0, 12, 0, 0, 1, 2, 3, 4},
	     12);
	f = seed_begin(0, 0, ETH_P_IP); /* DHCP REQUEST, broadcast */
	memset(buffer, 0, sizeof(buffer));
	memcpy(buffer, (unsigned char[]){0, 68, 0, 67, 0, 128}, 6);
	buffer[8] = 1, buffer[9] = 1, buffer[10] = 6;
	memcpy(buffer + 8 + 28, "\x02\x00\x00\x00\x00\x01", 6);
	memcpy(buffer + 8 + 236, "\x63\x82\x53\x63\x35\x01\x03\x32\x04\x0a\x00\x00\x05\xff", 14);
	ipv4(f, 17, 0, (uint8_t[4]){0}, (uint8_t[4]){255, 255, 255, 255}, buffer, 8 + 250);
	f = seed_begin(0, 0, ETH_P_IP); /* ICMP echo */
	ipv4(f, 1, 0, vm4, net4, (unsigned char[]){8, 0, 0, 0, 0, 1, 0, 1}, 8);
	f = seed_begin(0, 0, ETH_P_ARP); /* ARP request */
	put(f, (unsigned char[]){0,  1, 8, 0, 6, 4, 0, 1, 2, 0, 0,  0, 0, 1,
	                         10, 0, 0, 5, 0, 0, 0, 0, 0, 0, 10, 0, 0, 1},
	    28);
	f = seed_begin(0, 0, ETH_P_IPV6); /* IPv6 SYN */
	ipv6(f, 6, vm6, net6, syn, 20);
	f = seed_begin(0, 0, ETH_P_IPV6); /* behind destination options */
	memcpy(buffer, (unsigned char[]){6, 0, 1, 4, 0, 0, 0, 0}, 8);
	memcpy(buffer + 8, syn, 20);
	ipv6(f, 60, vm6, net6, buffer, 28);
	f = seed_begin(0, 0, ETH_P_IPV6); /* first fragment, 16 TCP bytes */
	memcpy(buffer, (unsigned char[]){6, 0, 0, 1, 0, 0, 0xab, 0xcd}, 8);
	memcpy(buffer + 8, syn, 16);
	ipv6(f, 44, vm6, net6, buffer, 24);
	f = seed_begin(0, 0, ETH_P_IPV6); /* tiny first fragment */
	ipv6(f, 44, vm6, net6, buffer, 16);
	f = seed_begin(0, 0, ETH_P_IPV6); /* NDP neighbour solicitation */
	memset(buffer, 0, 24);
	buffer[0] = 135;
	memcpy(buffer + 8, net6, 16);
	ipv6(f, 58, vm6, all_nodes, buffer, 24);
	f = seed_begin(0, 0, ETH_P_IPV6); /* ICMPv6 echo */
	ipv6(f, 58, vm6, net6, (unsigned char[]){128, 0, 0, 0, 0, 1, 0, 1}, 8);
	f = seed_begin(1, 0, ETH_P_IP); /* toward the VM: the SYN's answer */
	ipv4(f, 6, 0, net4, vm4, synack, 20);
	f = seed_begin(1, 0, ETH_P_IP); /* a reset */
	ipv4(f, 6, 0, net4, vm4, rst, 20);
	f = seed_begin(1, 0, ETH_P_IP); /* port unreachable quoting a UDP probe */
	memcpy(buffer, (unsigned char[]){3,  3, 0, 0, 0,    0,    0, 0,  0x45, 0,  0, 32,
	                                 0,  1, 0, 0, 64,   17,   0, 0,  10,   0,  0, 5,
	                                 10, 0, 1, 2, 0x9c, 0x40, 0, 53, 0,    12, 0, 0},
	       36);
	ipv4(f, 1, 0, net4, vm4, buffer, 36);
	f = seed_begin(1, 0, ETH_P_IPV6); /* IPv6 answer */
	ipv6(f, 6, net6, vm6, synack, 20);
	f = seed_begin(1, 0, ETH_P_ARP); /* ARP reply */
	put(f, (unsigned char[]){0,  1, 8, 0, 6, 4, 0, 2, 2, 0, 0,  0, 0, 2,
	                         10, 0, 0, 1, 2, 0, 0, 0, 0, 1, 10, 0, 0, 5},
	    28);
}

static uint64_t
random_next(uint64_t *state)
{
	/* xorshift64: the same frames on every run. */
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

/* One to four of: a bit flipped, a byte or a 16-bit field overwritten, a byte in or out, cut,
 * grown. */
static void
mutate(struct frame *frame, uint64_t *state)
{
	static const uint16_t interesting[] = {0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff};
	int count = 1 + (int)(random_next(state) % 4);

	for (int i = 0; i < count; i++) {
		uint64_t r = random_next(state);
		size_t at = frame->length ? (size_t)(r >> 8) % frame->length : 0;

		switch (r % 8) {
		case 0:
		case 1:
			frame->bytes[at] ^= (unsigned char)(1u << ((r >> 40) % 8));
			break;
		case 2:
			frame->bytes[at] = (unsigned char)(r >> 40);
			break;
		case 3:
			if (at + 1 < frame->length) {
				uint16_t value = interesting[(r >> 40) % 8];

				frame->bytes[at] = value >> 8;
				frame->bytes[at + 1] = value & 0xff;
			}
			break;
		case 4:
			if (frame->length < FRAME_MAX) {
				memmove(frame->bytes + at + 1, frame->bytes + at,
				        frame->length - at);
				frame->bytes[at] = (unsigned char)(r >> 40);
				frame->length++;
			}
			break;
		case 5:
			if (frame->length > ETH_HLEN) {
				memmove(frame->bytes + at, frame->bytes + at + 1,
				        frame->length - at - 1);
				frame->length--;
			}
			break;
		case 6:
			frame->length =
			    ETH_HLEN + (size_t)(r >> 8) % (frame->length - ETH_HLEN + 1);
			break;
		case 7:
			for (size_t grow = (r >> 40) % 64; grow > 0 && frame->length < FRAME_MAX;
			     grow--)
				frame->bytes[frame->length++] = (unsigned char)random_next(state);
			break;
		}
	}
	if (frame->length < ETH_HLEN)
		frame->length = ETH_HLEN; /* the kernel runs XDP on no less */
}

/* Where the shortest IP header the outer ethertype names ends; 0 for other frames. */
static size_t
ip_header_end(const struct frame *frame)
{
	uint16_t ethertype = (uint16_t)(frame->bytes[12] << 8 | frame->bytes[13]);

	return ethertype == ETH_P_IP ? ETH_HLEN + 20 : ethertype == ETH_P_IPV6 ? ETH_HLEN + 40 : 0;
}

static int
on_event(void *context, void *data, size_t size)
{
	struct run_stats *stats = context;
	const struct abuse_event *event = data;

	stats->events++;
	if (size != sizeof(*event) || event->category >= CATEGORY_COUNT ||
	    event->sample_count > EVENT_SAMPLES ||
	    (event->source.family != SOURCE_FAMILY_IPV4 &&
	     event->source.family != SOURCE_FAMILY_IPV6 &&
	     /* an ARP sweep is the interface's */
	     (event->source.family != SOURCE_FAMILY_INTERFACE || event->category != CATEGORY_SCAN)))
		stats->bad_events++;
	return 0;
}

static void
run_frame(struct abuseguard_bpf *skel, const struct frame *frame, int ifindex,
          struct run_stats *stats)
{
	struct xdp_md xdp = {.data_end = (uint32_t)frame->length,
	                     .ingress_ifindex = (uint32_t)ifindex};
	struct __sk_buff skb = {.ifindex = (uint32_t)ifindex};
	LIBBPF_OPTS(bpf_test_run_opts, options, .data_in = frame->bytes,
	            .data_size_in = (uint32_t)frame->length, .repeat = 1);
	struct bpf_program *program =
	    frame->toward_vm ? skel->progs.abuseguard_tc : skel->progs.abuseguard_xdp;

	options.ctx_in = frame->toward_vm ? (void *)&skb : (void *)&xdp;
	options.ctx_size_in = frame->toward_vm ? sizeof(skb) : sizeof(xdp);
	if (bpf_prog_test_run_opts(bpf_program__fd(program), &options) != 0) {
		/* The kernel builds no skb of an IP frame shorter than its IP header. */
		if (errno == EINVAL && frame->toward_vm && frame->length < ip_header_end(frame))
			stats->refused_short++;
		else
			stats->run_errors++;
		return;
	}
	if (frame->toward_vm) {
		stats->tc++;
		stats->bad_verdicts += options.retval != TC_ACT_OK;
	} else {
		stats->xdp++;
		stats->dropped += options.retval == XDP_DROP;
		stats->bad_verdicts += options.retval != XDP_PASS && options.retval != XDP_DROP;
	}
}

static uint64_t
counter(struct abuseguard_bpf *skel, enum xdp_counter which)
{
	int cpus = libbpf_num_possible_cpus();
	uint64_t values[cpus > 0 ? cpus : 1], sum = 0;
	uint32_t key = which;

	if (cpus <= 0 || bpf_map_lookup_elem(bpf_map__fd(skel->maps.counters), &key, values) != 0)
		return 0;
	for (int i = 0; i < cpus; i++)
		sum += values[i];
	return sum;
}

static double
seconds_now(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

int
main(void)
{
	static const struct {
		enum xdp_counter counter;
		const char *path;
	} reached[] = {
	    {COUNTER_IPV4, "IPv4"},
	    {COUNTER_IPV6, "IPv6"},
	    {COUNTER_VLAN, "VLAN tags"},
	    {COUNTER_OTHER_L3, "other ethertypes"},
	    {COUNTER_MALFORMED, "malformed headers"},
	    {COUNTER_TINY_FRAGMENTS, "tiny fragments"},
	    {COUNTER_SMTP_ATTEMPTS, "SMTP attempts"},
	    {COUNTER_SCAN_PROBES, "first contacts"},
	    {COUNTER_SCAN_ANSWERED, "answers toward the VM (tc)"},
	    {COUNTER_LEARN_FRAMES, "ARP/NDP/DHCP learning"},
	};
	const char *wanted = getenv("MUTATE_FRAMES");
	unsigned frames = wanted ? (unsigned)strtoul(wanted, NULL, 10) : FRAMES_DEFAULT;
	struct run_stats stats = {0};
	struct abuseguard_bpf *skel;
	struct ring_buffer *ring;
	uint64_t state = 0x5eed5eed5eedULL, now = START_NS;
	struct frame frame;
	double started, took;
	int ifindex;

	if (unshare(CLONE_NEWNET) != 0 || system("ip link set lo up") != 0) {
		CHECK(0, "a network namespace of its own (root is needed)");
		return check_done();
	}
	ifindex = (int)if_nametoindex("lo");
	seeds_build();
	skel = abuseguard_bpf__open();
	if (skel == NULL) {
		CHECK(0, "the BPF object opens");
		return check_done();
	}
	skel->rodata->replay_clock = 1;
	skel->data->thresholds.smtp_attempts = 30;
	skel->data->thresholds.smtp_destinations = 15;
	skel->data->thresholds.ipv6_prefix_len = 64;
	if (abuseguard_bpf__load(skel) != 0) {
		CHECK(0, "the XDP and tc programs load");
		abuseguard_bpf__destroy(skel);
		return check_done();
	}
	ring = ring_buffer__new(bpf_map__fd(skel->maps.events), on_event, &stats, NULL);

	started = seconds_now();
	/* Until frames have run through a program: the kernel's refusals are not counted. */
	for (unsigned i = 0; stats.xdp + stats.tc < frames; i++) {
		frame = seeds[random_next(&state) % seed_count];
		/* One in ten goes as it is: answers then meet their probes. */
		if (random_next(&state) % 10 != 0)
			mutate(&frame, &state);
		skel->bss->replay_now_ns = now += STEP_NS;
		run_frame(skel, &frame, ifindex, &stats);
		if (ring != NULL && i % 256 == 0)
			ring_buffer__consume(ring);
	}
	if (ring != NULL)
		ring_buffer__consume(ring);
	took = seconds_now() - started;
	printf("# %u mutated frames from %u seeds (%llu XDP, %llu tc) in %.2f s: %.0f ns a "
	       "frame, %.0f frames/s\n",
	       frames, seed_count, (unsigned long long)stats.xdp, (unsigned long long)stats.tc,
	       took, took * 1e9 / (frames ? frames : 1), frames / (took > 0 ? took : 1));

	CHECK(stats.run_errors == 0 && stats.xdp + stats.tc == frames,
	      "%u mutated frames ran in %.1f s: %llu XDP and %llu tc runs; %llu toward the VM "
	      "shorter than their IP header refused by the kernel (EINVAL) before tc, %llu other "
	      "test run errors",
	      frames, took, (unsigned long long)stats.xdp, (unsigned long long)stats.tc,
	      (unsigned long long)stats.refused_short, (unsigned long long)stats.run_errors);
	CHECK(stats.bad_verdicts == 0,
	      "every verdict is pass (XDP_DROP only for a forged source): %llu others, %llu "
	      "dropped",
	      (unsigned long long)stats.bad_verdicts, (unsigned long long)stats.dropped);
	CHECK(counter(skel, COUNTER_PACKETS) == stats.xdp,
	      "the XDP program counted every frame it saw (%llu of %llu)",
	      (unsigned long long)counter(skel, COUNTER_PACKETS), (unsigned long long)stats.xdp);
	for (size_t i = 0; i < sizeof(reached) / sizeof(reached[0]); i++)
		CHECK(counter(skel, reached[i].counter) > 0, "the mutations reach %s (%llu)",
		      reached[i].path, (unsigned long long)counter(skel, reached[i].counter));
	CHECK(ring != NULL && stats.events > 0 && stats.bad_events == 0,
	      "the %llu events sent are each one the daemon reads (%llu not)",
	      (unsigned long long)stats.events, (unsigned long long)stats.bad_events);
	ring_buffer__free(ring);
	abuseguard_bpf__destroy(skel);
	return check_done();
}
