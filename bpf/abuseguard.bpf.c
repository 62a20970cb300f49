/*
 * The XDP program on the VM-facing interfaces. It only watches: every
 * packet passes, bans are nftables' job. It parses Ethernet, up to two VLAN
 * tags, IPv4 or IPv6 and the transport header, keeps bounded per-source
 * state in LRU maps for SMTP connection attempts, and wakes the daemon
 * through the ring buffer only when a source crosses a threshold, at most
 * once per source and window.
 *
 * The parsing follows xdp-tools' parsing helpers: a cursor walks the packet
 * and each parse_* function checks its header against data_end before it
 * advances.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "abuseguard/abuseguard.h"

#define NS_PER_SECOND 1000000000ULL

/*
 * Enough for any sane IPv6 packet. A sender stacking more hides its own
 * transport header, which then is not counted: a known limit.
 */
#define IPV6_EXTENSION_HEADERS_MAX 4

#define IPV4_FRAGMENT_OFFSET 0x1fff /* in iphdr.frag_off, host order */
#define IPV6_FRAGMENT_OFFSET 0xfff8 /* in the fragment header, host order */

#define SMTP_PORT       25
#define SMTPS_PORT      465
#define SUBMISSION_PORT 587

/* What the parse_* functions return besides a protocol number. */
#define PARSE_MALFORMED    -1 /* truncated or inconsistent header */
#define PARSE_NO_TRANSPORT -2 /* no transport header to look at (a later fragment) */

/* Not in the uapi headers. */
struct vlan_header {
	__be16 tci;
	__be16 encapsulated_proto;
};

struct ipv6_fragment_header {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off;
	__be32 identification;
};

/*
 * The first eight bytes of ICMP and ICMPv6. <linux/icmp.h> would do for ICMP,
 * but it includes glibc's <sys/socket.h>, which does not build for -target bpf.
 */
struct icmp_header {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__be32 rest;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct source_key);
	__type(value, struct source_state);
} sources SEC(".maps");

/* Value: the source's window_start_ns when this destination was last counted. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct smtp_pair_key);
	__type(value, __u64);
} smtp_pairs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, COUNTER_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* In .data: the daemon may rewrite it while the program runs. */
struct xdp_thresholds thresholds = {
    .window_ns = 60 * NS_PER_SECOND,
    .smtp_attempts = 30,
    .smtp_destinations = 15,
    .ipv6_prefix_len = 64,
};

/* Replay and the tests drive the clock; the verifier drops the branch not taken. */
const volatile __u8 replay_clock = 0;
__u64 replay_now_ns;

struct cursor {
	void *position;
	void *end;
};

/* What the SMTP accounting needs from a parsed packet. */
struct packet {
	__u8 family; /* SOURCE_FAMILY_IPV4 or SOURCE_FAMILY_IPV6 */
	__u8 vlan_tags;
	void *network_header; /* struct iphdr or struct ipv6hdr */
	struct tcphdr *tcp;
};

static __always_inline __u64
clock_now(void)
{
	return replay_clock ? replay_now_ns : bpf_ktime_get_ns();
}

static __always_inline void
count(__u32 counter)
{
	__u64 *value;

	value = bpf_map_lookup_elem(&counters, &counter);
	if (value)
		*value += 1; /* per-CPU: no other writer */
}

/* Returns the ethertype after the VLAN tags, in host order. */
static __always_inline int
parse_ethernet(struct cursor *cursor, struct packet *packet)
{
	struct ethhdr *ethernet = cursor->position;
	struct vlan_header *vlan;
	__u16 protocol;
	int i;

	if ((void *)(ethernet + 1) > cursor->end)
		return PARSE_MALFORMED;
	cursor->position = ethernet + 1;
	protocol = bpf_ntohs(ethernet->h_proto);

#pragma unroll
	for (i = 0; i < 2; i++) {
		if (protocol != ETH_P_8021Q && protocol != ETH_P_8021AD)
			break;
		vlan = cursor->position;
		if ((void *)(vlan + 1) > cursor->end)
			return PARSE_MALFORMED;
		cursor->position = vlan + 1;
		protocol = bpf_ntohs(vlan->encapsulated_proto);
		packet->vlan_tags++;
	}
	return protocol;
}

/* Returns the transport protocol. */
static __always_inline int
parse_ipv4(struct cursor *cursor, struct packet *packet)
{
	struct iphdr *ip = cursor->position;
	__u32 header_length, total_length;

	if ((void *)(ip + 1) > cursor->end)
		return PARSE_MALFORMED;
	if (ip->version != 4 || ip->ihl < 5)
		return PARSE_MALFORMED;
	header_length = ip->ihl * 4;
	total_length = bpf_ntohs(ip->tot_len);
	/* Ethernet padding may follow the datagram; a datagram longer than
	 * the frame was cut short. */
	if (total_length < header_length || cursor->position + total_length > cursor->end)
		return PARSE_MALFORMED;
	cursor->position += header_length;
	packet->family = SOURCE_FAMILY_IPV4;
	packet->network_header = ip;
	if (ip->frag_off & bpf_htons(IPV4_FRAGMENT_OFFSET))
		return PARSE_NO_TRANSPORT;
	return ip->protocol;
}

static __always_inline int
ipv6_is_extension_header(int next_header)
{
	return next_header == IPPROTO_HOPOPTS || next_header == IPPROTO_ROUTING ||
	       next_header == IPPROTO_DSTOPTS || next_header == IPPROTO_FRAGMENT;
}

/* Walks the extension headers; returns the transport protocol. */
static __always_inline int
parse_ipv6(struct cursor *cursor, struct packet *packet)
{
	struct ipv6hdr *ip = cursor->position;
	struct ipv6_opt_hdr *option;
	struct ipv6_fragment_header *fragment;
	__u32 payload_length, option_length;
	int next_header, i;

	if ((void *)(ip + 1) > cursor->end)
		return PARSE_MALFORMED;
	if (ip->version != 6)
		return PARSE_MALFORMED;
	cursor->position = ip + 1;
	/* A payload length of 0 announces a jumbogram: nothing to compare. */
	payload_length = bpf_ntohs(ip->payload_len);
	if (payload_length != 0 && cursor->position + payload_length > cursor->end)
		return PARSE_MALFORMED;
	packet->family = SOURCE_FAMILY_IPV6;
	packet->network_header = ip;
	next_header = ip->nexthdr;

#pragma unroll
	for (i = 0; i < IPV6_EXTENSION_HEADERS_MAX; i++) {
		switch (next_header) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
			option = cursor->position;
			if ((void *)(option + 1) > cursor->end)
				return PARSE_MALFORMED;
			option_length = (option->hdrlen + 1) * 8;
			if (cursor->position + option_length > cursor->end)
				return PARSE_MALFORMED;
			next_header = option->nexthdr;
			cursor->position += option_length;
			break;
		case IPPROTO_FRAGMENT:
			fragment = cursor->position;
			if ((void *)(fragment + 1) > cursor->end)
				return PARSE_MALFORMED;
			if (fragment->frag_off & bpf_htons(IPV6_FRAGMENT_OFFSET))
				return PARSE_NO_TRANSPORT;
			next_header = fragment->nexthdr;
			cursor->position = fragment + 1;
			break;
		default:
			return next_header;
		}
	}
	return ipv6_is_extension_header(next_header) ? PARSE_NO_TRANSPORT : next_header;
}

static __always_inline int
parse_tcp(struct cursor *cursor, struct packet *packet)
{
	struct tcphdr *tcp = cursor->position;
	__u32 header_length;

	if ((void *)(tcp + 1) > cursor->end)
		return PARSE_MALFORMED;
	header_length = tcp->doff * 4;
	if (header_length < sizeof(*tcp) || cursor->position + header_length > cursor->end)
		return PARSE_MALFORMED;
	cursor->position += header_length;
	packet->tcp = tcp;
	return 0;
}

static __always_inline int
parse_udp(struct cursor *cursor)
{
	struct udphdr *udp = cursor->position;

	if ((void *)(udp + 1) > cursor->end)
		return PARSE_MALFORMED;
	cursor->position = udp + 1;
	return 0;
}

static __always_inline int
parse_icmp(struct cursor *cursor)
{
	struct icmp_header *icmp = cursor->position;

	if ((void *)(icmp + 1) > cursor->end)
		return PARSE_MALFORMED;
	cursor->position = icmp + 1;
	return 0;
}

static __always_inline int
is_smtp_attempt(const struct tcphdr *tcp)
{
	__u16 port = bpf_ntohs(tcp->dest);

	if (!tcp->syn || tcp->ack)
		return 0;
	return port == SMTP_PORT || port == SMTPS_PORT || port == SUBMISSION_PORT;
}

/* The source key is hashed as bytes: everything not set stays zero. */
static __always_inline void
smtp_pair_from_packet(const struct packet *packet, struct smtp_pair_key *pair)
{
	struct iphdr *ipv4;
	struct ipv6hdr *ipv6;
	__u32 prefix_length;
	__u8 mask;
	int i, bits;

	__builtin_memset(pair, 0, sizeof(*pair));
	pair->source.family = packet->family;
	if (packet->family == SOURCE_FAMILY_IPV4) {
		ipv4 = packet->network_header;
		pair->source.prefix_len = 32;
		__builtin_memcpy(pair->source.addr, &ipv4->saddr, sizeof(ipv4->saddr));
		__builtin_memcpy(pair->destination, &ipv4->daddr, sizeof(ipv4->daddr));
		return;
	}
	ipv6 = packet->network_header;
	prefix_length = thresholds.ipv6_prefix_len;
	if (prefix_length > 128)
		prefix_length = 128;
	pair->source.prefix_len = prefix_length;
#pragma unroll
	for (i = 0; i < 16; i++) {
		bits = (int)prefix_length - i * 8;
		if (bits >= 8)
			mask = 0xff;
		else if (bits <= 0)
			mask = 0;
		else
			mask = 0xff << (8 - bits);
		pair->source.addr[i] = ipv6->saddr.in6_u.u6_addr8[i] & mask;
	}
	__builtin_memcpy(pair->destination, &ipv6->daddr, sizeof(ipv6->daddr));
}

/* Returns the source's state, inserting a zeroed one for a new source. */
static __always_inline struct source_state *
source_state_get(const struct source_key *source)
{
	struct source_state *state, fresh = {};

	state = bpf_map_lookup_elem(&sources, source);
	if (state)
		return state;
	if (bpf_map_update_elem(&sources, source, &fresh, BPF_NOEXIST) == 0)
		count(COUNTER_SOURCES_NEW);
	/* Either ours, or another CPU inserted it first. */
	return bpf_map_lookup_elem(&sources, source);
}

static __always_inline void
send_spam_event(struct xdp_md *ctx, struct source_state *state, const struct smtp_pair_key *pair,
                __u16 port, __u64 now, int attempts_reached)
{
	struct threshold_event *event;

	event = bpf_ringbuf_reserve(&events, sizeof(*event), 0);
	if (!event) {
		count(COUNTER_EVENTS_LOST);
		/* Let a later packet of this window try again. */
		__sync_fetch_and_and(&state->reported, ~(1U << CATEGORY_SPAM));
		return;
	}
	/* The record's padding must not carry an older record's bytes. */
	__builtin_memset(event, 0, sizeof(*event));
	event->time_ns = now;
	event->window_start_ns = state->window_start_ns;
	event->source = pair->source;
	event->ifindex = ctx->ingress_ifindex;
	event->category = CATEGORY_SPAM;
	event->reason = attempts_reached ? SPAM_REASON_ATTEMPTS : SPAM_REASON_DESTINATIONS;
	event->last_port = port;
	event->smtp_attempts = state->smtp_attempts;
	event->smtp_destinations = state->smtp_destinations;
	__builtin_memcpy(event->last_destination, pair->destination,
	                 sizeof(event->last_destination));
	bpf_ringbuf_submit(event, 0);
	count(COUNTER_EVENTS);
}

static __always_inline void
record_smtp_attempt(struct xdp_md *ctx, const struct smtp_pair_key *pair, __u16 port)
{
	struct source_state *state;
	__u64 now = clock_now();
	__u64 window_start, *pair_window;
	__u32 attempts, destinations, attempts_limit, destinations_limit;
	int attempts_reached, destinations_reached;

	state = source_state_get(&pair->source);
	if (!state)
		return;
	/* A replayed capture may step back a little: that stays in the window. */
	window_start = state->window_start_ns;
	if (window_start == 0 ||
	    (now >= window_start && now - window_start >= thresholds.window_ns)) {
		state->window_start_ns = now;
		state->smtp_attempts = 0;
		state->smtp_destinations = 0;
		state->reported = 0;
		window_start = now;
	}
	__sync_fetch_and_add(&state->smtp_attempts, 1);

	pair_window = bpf_map_lookup_elem(&smtp_pairs, pair);
	if (!pair_window || *pair_window != window_start) {
		if (pair_window)
			*pair_window = window_start;
		else
			bpf_map_update_elem(&smtp_pairs, pair, &window_start, BPF_ANY);
		__sync_fetch_and_add(&state->smtp_destinations, 1);
	}
	state->last_seen_ns = now;

	attempts = state->smtp_attempts;
	destinations = state->smtp_destinations;
	attempts_limit = thresholds.smtp_attempts;
	destinations_limit = thresholds.smtp_destinations;
	attempts_reached = attempts_limit != 0 && attempts >= attempts_limit;
	destinations_reached = destinations_limit != 0 && destinations >= destinations_limit;
	if (!attempts_reached && !destinations_reached)
		return;
	if (__sync_fetch_and_or(&state->reported, 1U << CATEGORY_SPAM) & (1U << CATEGORY_SPAM))
		return;
	send_spam_event(ctx, state, pair, port, now, attempts_reached);
}

/* Returns PARSE_MALFORMED or 0. */
static __always_inline int
parse_transport(struct cursor *cursor, struct packet *packet, int protocol)
{
	switch (protocol) {
	case IPPROTO_TCP:
		return parse_tcp(cursor, packet);
	case IPPROTO_UDP:
		return parse_udp(cursor);
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		return parse_icmp(cursor);
	case PARSE_MALFORMED:
		return PARSE_MALFORMED;
	default:
		return 0;
	}
}

SEC("xdp")
int
abuseguard_xdp(struct xdp_md *ctx)
{
	struct cursor cursor = {
	    .position = (void *)(long)ctx->data,
	    .end = (void *)(long)ctx->data_end,
	};
	struct packet packet = {};
	struct smtp_pair_key pair;
	int protocol;

	count(COUNTER_PACKETS);
	protocol = parse_ethernet(&cursor, &packet);
	if (packet.vlan_tags)
		count(COUNTER_VLAN);
	switch (protocol) {
	case PARSE_MALFORMED:
		break;
	case ETH_P_IP:
		count(COUNTER_IPV4);
		protocol = parse_ipv4(&cursor, &packet);
		break;
	case ETH_P_IPV6:
		count(COUNTER_IPV6);
		protocol = parse_ipv6(&cursor, &packet);
		break;
	default:
		count(COUNTER_OTHER_L3);
		return XDP_PASS;
	}
	if (parse_transport(&cursor, &packet, protocol) == PARSE_MALFORMED) {
		count(COUNTER_MALFORMED);
		return XDP_PASS;
	}
	if (packet.tcp && is_smtp_attempt(packet.tcp)) {
		count(COUNTER_SMTP_ATTEMPTS);
		smtp_pair_from_packet(&packet, &pair);
		record_smtp_attempt(ctx, &pair, bpf_ntohs(packet.tcp->dest));
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
