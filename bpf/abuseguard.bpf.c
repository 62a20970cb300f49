/*
 * The XDP program on the VM-facing interfaces. It watches: bans are
 * nftables' job, and every packet passes but a forged one on an interface
 * whose policy drops them (attribution.h). It parses Ethernet, up to two VLAN
 * tags, IPv4 or IPv6 and the transport header, keeps bounded per-source
 * state in LRU maps for SMTP connection attempts, tiny first fragments and
 * scans (scan.h), and wakes the daemon
 * through the ring buffer only when a source crosses a threshold, at most
 * once per source and window.
 *
 * The parsing lives in parsing.h, shared with the tc egress program.
 */
#include <linux/pkt_cls.h>

#include "parsing.h"

#define NS_PER_SECOND 1000000000ULL

#define SMTP_PORT       25
#define SMTPS_PORT      465
#define SUBMISSION_PORT 587

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct source_key);
	__type(value, struct source_state);
} sources SEC(".maps");

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
    .tiny_fragments = 3,
};

/* Replay and the tests drive the clock; the verifier drops the branch not taken. */
const volatile __u8 replay_clock = 0;
__u64 replay_now_ns;
/*
 * Replay runs every packet on the loopback device; this names the capture's
 * interface instead (0: the device's own ifindex, as the tests use).
 */
__u32 replay_ifindex;

/*
 * CLOCK_MONOTONIC_COARSE live: a tick (1-4 ms) is finer than anything the
 * detectors time (windows, the 5 s timeout, a quarter second between
 * return-path writes), and the precise clock cost a SYN 40-50 ns under
 * kvm-clock, a quarter of its accounting.
 */
static __always_inline __u64
clock_now(void)
{
	return replay_clock ? replay_now_ns : bpf_ktime_get_coarse_ns();
}

/* The interface a packet belongs to: where it arrived (XDP) or leaves (tc). */
static __always_inline __u32
packet_ifindex(__u32 device_ifindex)
{
	return replay_clock && replay_ifindex ? replay_ifindex : device_ifindex;
}

static __always_inline void
count_n(__u32 counter, __u64 n)
{
	__u64 *value;

	value = bpf_map_lookup_elem(&counters, &counter);
	if (value)
		*value += n; /* per-CPU: no other writer */
}

static __always_inline void
count(__u32 counter)
{
	count_n(counter, 1);
}

#include "attribution.h"

static __always_inline int
is_smtp_attempt(const struct packet_summary *packet)
{
	__u16 port = packet->destination_port;

	if (packet->protocol != IPPROTO_TCP || !(packet->tcp_flags & TCP_FLAG_SYN) ||
	    (packet->tcp_flags & TCP_FLAG_ACK))
		return 0;
	return port == SMTP_PORT || port == SMTPS_PORT || port == SUBMISSION_PORT;
}

/*
 * A source key from one of the packet's addresses; IPv6 masked to the
 * policy's prefix. The key is hashed as bytes: everything not set stays zero.
 */
static __always_inline void
source_key_from_address(struct source_key *key, __u8 family, const __u8 *address)
{
	__u32 prefix_length;
	__u8 mask;
	int i, bits;

	__builtin_memset(key, 0, sizeof(*key));
	key->family = family;
	if (family == SOURCE_FAMILY_IPV4) {
		key->prefix_len = 32;
		__builtin_memcpy(key->addr, address, 4);
		return;
	}
	prefix_length = thresholds.ipv6_prefix_len;
	if (prefix_length > 128)
		prefix_length = 128;
	key->prefix_len = prefix_length;
#pragma unroll
	for (i = 0; i < 16; i++) {
		bits = (int)prefix_length - i * 8;
		if (bits >= 8)
			mask = 0xff;
		else if (bits <= 0)
			mask = 0;
		else
			mask = 0xff << (8 - bits);
		key->addr[i] = address[i] & mask;
	}
}

/* A fresh "sources" value, in .bss: the stack is short. Never written. */
struct source_state source_state_zero;

/* Returns the source's state, inserting a zeroed one for a new source. */
static __always_inline struct source_state *
source_state_get(const struct source_key *source, struct interface_ref *interface)
{
	struct source_state *state;

	state = bpf_map_lookup_elem(&sources, source);
	if (state)
		return state;
	/* A VM flooding new sources fills its own quota, not the shared map. */
	if (!interface_source_allowed(interface_state_of(interface), 0))
		return NULL;
	if (bpf_map_update_elem(&sources, source, &source_state_zero, BPF_NOEXIST) == 0)
		count(COUNTER_SOURCES_NEW);
	/* Either ours, or another CPU inserted it first. */
	return bpf_map_lookup_elem(&sources, source);
}

/* Starts the source's next window when its current one is over. */
static __always_inline __u64
source_window(struct source_state *state, __u64 now)
{
	__u64 window_start = state->window_start_ns;

	/* A replayed capture may step back a little: that stays in the window. */
	if (window_start == 0 ||
	    (now >= window_start && now - window_start >= thresholds.window_ns)) {
		state->window_start_ns = now;
		state->smtp_attempts = 0;
		state->smtp_destinations = 0;
		state->tiny_fragments = 0;
		state->reported = 0;
		window_start = now;
	}
	return window_start;
}

static __always_inline void
send_spam_event(struct xdp_md *ctx, struct source_state *state, const struct scan_contact_key *key,
                __u64 now, int attempts_reached)
{
	struct abuse_event *event;

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
	event->source = key->source;
	event->ifindex = packet_ifindex(ctx->ingress_ifindex);
	event->category = CATEGORY_SPAM;
	event->reason = attempts_reached ? SPAM_REASON_ATTEMPTS : SPAM_REASON_DESTINATIONS;
	event->counts.attempts = state->smtp_attempts;
	event->counts.destinations = state->smtp_destinations;
	event->sample_count = 1;
	__builtin_memcpy(event->samples[0].address, key->destination,
	                 sizeof(event->samples[0].address));
	event->samples[0].port = key->port;
	event->samples[0].family = key->source.family;
	event->samples[0].protocol = IPPROTO_TCP;
	bpf_ringbuf_submit(event, 0);
	count(COUNTER_EVENTS);
}

/*
 * A tiny first fragment from an attributed source (RFC 1858): it hides the
 * ports and flags a filter would judge. Reported once per source and window
 * past thresholds.tiny_fragments, with the latest fragment's fields.
 */
static __always_inline void
record_tiny_fragment(struct xdp_md *ctx, const struct packet_summary *packet,
                     struct interface_ref *interface)
{
	struct source_state *state;
	struct abuse_event *event;
	struct source_key source;
	__u64 now = clock_now();
	__u32 fragments;

	if (thresholds.tiny_fragments == 0)
		return;
	source_key_from_address(&source, packet->family, packet->source);
	state = source_state_get(&source, interface);
	if (!state)
		return;
	source_window(state, now);
	state->last_seen_ns = now;
	fragments = __sync_fetch_and_add(&state->tiny_fragments, 1) + 1;
	if (fragments < thresholds.tiny_fragments)
		return;
	if (__sync_fetch_and_or(&state->reported, 1U << CATEGORY_EVASION) &
	    (1U << CATEGORY_EVASION))
		return;
	event = bpf_ringbuf_reserve(&events, sizeof(*event), 0);
	if (!event) {
		count(COUNTER_EVENTS_LOST);
		__sync_fetch_and_and(&state->reported, ~(1U << CATEGORY_EVASION));
		return;
	}
	__builtin_memset(event, 0, sizeof(*event));
	event->time_ns = now;
	event->window_start_ns = state->window_start_ns;
	event->source = source;
	event->ifindex = packet_ifindex(ctx->ingress_ifindex);
	event->category = CATEGORY_EVASION;
	event->reason = EVASION_REASON_TINY_FRAGMENTS;
	event->counts.attempts = fragments;
	event->fragment_bytes = packet->fragment_bytes;
	event->fragment_id = packet->fragment_id;
	event->sample_count = 1;
	__builtin_memcpy(event->samples[0].address, packet->destination,
	                 sizeof(event->samples[0].address));
	event->samples[0].family = packet->family;
	event->samples[0].protocol = packet->fragment_protocol;
	bpf_ringbuf_submit(event, 0);
	count(COUNTER_EVENTS);
}

#include "scan.h"

/*
 * Where the source's SMTP attempts to the key's host are counted: the
 * contact entry of (host, port 25), which for a SYN to port 25 is the
 * contact itself, already looked up. NULL: none yet.
 */
static __always_inline struct scan_contact *
smtp_destination_get(const struct scan_contact_key *key, struct scan_contact *contact,
                     struct scan_contact_key *host_key)
{
	if (key->port == SMTP_PORT)
		return contact;
	*host_key = *key;
	host_key->port = SMTP_PORT;
	return bpf_map_lookup_elem(&scan_contacts, host_key);
}

/*
 * An SMTP SYN: key is its first contact, contact that contact's entry (NULL:
 * none). Counts the attempt, and the host as a destination once per window.
 */
static __always_inline void
record_smtp_attempt(struct xdp_md *ctx, const struct scan_contact_key *key,
                    struct scan_contact *contact, struct interface_ref *interface, __u64 now)
{
	struct scan_contact_key host_key;
	struct scan_contact *destination, fresh = {};
	struct source_state *state;
	__u64 window_start;
	__u32 attempts, destinations, attempts_limit, destinations_limit;
	int attempts_reached, destinations_reached;

	state = source_state_get(&key->source, interface);
	if (!state)
		return;
	window_start = source_window(state, now);
	/*
	 * A plain add, not a locked one (about 20 ns a SYN): it loses a count
	 * only when two CPUs update one source at once, and then undercounts
	 * by one against a threshold of 15-30; the VM gains nothing it could
	 * not have by sending one SYN less. The once-only report below stays
	 * atomic.
	 */
	state->smtp_attempts += 1;

	destination = smtp_destination_get(key, contact, &host_key);
	/*
	 * Past its destination threshold a source's event is out or going:
	 * more entries would only let a flood of destinations push out others'.
	 */
	if (!destination && thresholds.smtp_destinations != 0 &&
	    state->smtp_destinations >= thresholds.smtp_destinations) {
		count(COUNTER_PAIRS_CAPPED);
	} else if (!destination || destination->smtp_window_ns != window_start) {
		if (destination) {
			destination->smtp_window_ns = window_start;
		} else {
			fresh.smtp_window_ns = window_start;
			bpf_map_update_elem(&scan_contacts,
			                    key->port == SMTP_PORT ? key : &host_key, &fresh,
			                    BPF_NOEXIST);
		}
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
	send_spam_event(ctx, state, key, now, attempts_reached);
}

/* The contact key of a packet; reversed: seen from the far end (a reply). */
static __always_inline void
contact_key_from_packet(const struct packet_summary *packet, struct scan_contact_key *key,
                        int reversed, __u16 port)
{
	__builtin_memset(key, 0, sizeof(*key));
	source_key_from_address(&key->source, packet->family,
	                        reversed ? packet->destination : packet->source);
	__builtin_memcpy(key->destination, reversed ? packet->source : packet->destination,
	                 sizeof(key->destination));
	key->port = port;
	key->protocol = packet->protocol;
}

/*
 * 1 and *key filled if an ARP frame from the VM asks for a neighbour's
 * address. Not a probe: an announcement (sender and target the same, RFC
 * 5227) and a probe for a conflict (sender 0.0.0.0), which nobody answers.
 */
static __always_inline int
scan_arp_probe(const struct packet_summary *packet, __u32 ifindex, struct scan_contact_key *key)
{
	const __u8 *sender = packet->source, *target = packet->destination;

	if (packet->protocol != SAMPLE_PROTOCOL_ARP || packet->arp_operation != ARP_REQUEST)
		return 0;
	if ((sender[0] | sender[1] | sender[2] | sender[3]) == 0 ||
	    (target[0] | target[1] | target[2] | target[3]) == 0)
		return 0;
	if (sender[0] == target[0] && sender[1] == target[1] && sender[2] == target[2] &&
	    sender[3] == target[3])
		return 0;
	scan_arp_contact_key(key, ifindex, target);
	return 1;
}

/* 1 and *key filled if the VM's packet is a probe: TCP SYN, UDP, ICMP echo or timestamp. */
static __always_inline int
scan_probe_from_packet(const struct packet_summary *packet, struct scan_contact_key *key)
{
	__u8 type = packet->icmp_type, flags = packet->tcp_flags;

	switch (packet->protocol) {
	case IPPROTO_TCP:
		if (!(flags & TCP_FLAG_SYN) || (flags & (TCP_FLAG_ACK | TCP_FLAG_RST)))
			return 0;
		break;
	case IPPROTO_UDP:
		break;
	case IPPROTO_ICMP:
		if (type != ICMP_ECHO_REQUEST && type != ICMP_TIMESTAMP_REQUEST)
			return 0;
		break;
	case IPPROTO_ICMPV6:
		if (type != ICMPV6_ECHO_REQUEST)
			return 0;
		break;
	default:
		return 0;
	}
	contact_key_from_packet(packet, key, 0, packet->destination_port);
	return 1;
}

/*
 * The probe an ICMP error quotes: its IP header and the first eight bytes
 * after it. The quoted source is the VM. Returns 1 and fills *key.
 */
static __always_inline int
scan_quoted_probe(struct cursor *cursor, __u8 family, struct scan_contact_key *key)
{
	struct iphdr *ipv4 = cursor->position;
	struct ipv6hdr *ipv6 = cursor->position;
	__u8 *ports, protocol;
	__u16 port = 0;

	__builtin_memset(key, 0, sizeof(*key));
	if (family == SOURCE_FAMILY_IPV4) {
		if ((void *)(ipv4 + 1) > cursor->end || ipv4->version != 4 || ipv4->ihl < 5)
			return 0;
		ports = (__u8 *)ipv4 + ipv4->ihl * 4;
		protocol = ipv4->protocol;
		source_key_from_address(&key->source, family, (__u8 *)&ipv4->saddr);
		__builtin_memcpy(key->destination, &ipv4->daddr, 4);
	} else {
		if ((void *)(ipv6 + 1) > cursor->end || ipv6->version != 6)
			return 0;
		ports = (__u8 *)(ipv6 + 1);
		protocol = ipv6->nexthdr;
		source_key_from_address(&key->source, family, ipv6->saddr.in6_u.u6_addr8);
		__builtin_memcpy(key->destination, ipv6->daddr.in6_u.u6_addr8, 16);
	}
	if (protocol == IPPROTO_TCP || protocol == IPPROTO_UDP) {
		if ((void *)(ports + 4) > cursor->end)
			return 0;
		port = (__u16)ports[2] << 8 | ports[3];
	} else if (protocol != IPPROTO_ICMP && protocol != IPPROTO_ICMPV6) {
		return 0;
	}
	key->port = port;
	key->protocol = protocol;
	return 1;
}

/* An ICMP or ICMPv6 destination unreachable, which quotes the probe it rejects. */
static __always_inline int
scan_reply_quotes_probe(const struct packet_summary *packet)
{
	return (packet->protocol == IPPROTO_ICMP && packet->icmp_type == ICMP_DEST_UNREACHABLE) ||
	       (packet->protocol == IPPROTO_ICMPV6 && packet->icmp_type == ICMPV6_DEST_UNREACHABLE);
}

/*
 * A packet toward the VM as egress_account sees it: no packet pointers, so
 * that the verifier checks the accounting once, not once for every path
 * through the parsers (inlined, the tc program took 0.76x its limit).
 */
struct egress_packet {
	struct packet_summary summary;
	struct scan_contact_key quoted; /* the probe an ICMP unreachable quotes */
	__u8 quoted_found;              /* 1: quoted holds it */
};

/* An unreachable's code for "no route to the network" (RFC 792, 1812; RFC 4443's 0). */
static __always_inline int
icmp_no_route(const struct packet_summary *packet)
{
	__u8 code = packet->icmp_code;

	if (packet->protocol == IPPROTO_ICMPV6)
		return code == 0;
	return code == 0 || code == 6 || code == 9 || code == 11;
}

/*
 * The outcome of the probe an ICMP unreachable quotes: from the probe's
 * destination, a rejection. From a router on the way, which anyone's probe
 * meets when a link upstream fails: for a network it has no route to,
 * SCAN_NO_ROUTE; otherwise no reply, and the probe times out, judged as
 * timeouts are (a router sends "host unreachable" once its ARP gave up,
 * about as late). One that cannot be matched to a probe is no reply.
 */
static __always_inline int
scan_quoted_reply(const struct egress_packet *egress, struct scan_contact_key *key)
{
	if (!egress->quoted_found)
		return 0;
	*key = egress->quoted;
	if (address_equal(egress->summary.source, key->destination))
		return SCAN_REJECTED;
	return icmp_no_route(&egress->summary) ? SCAN_NO_ROUTE : 0;
}

/*
 * The outcome a packet toward the VM reports and the first contact it
 * answers: SCAN_ANSWERED, SCAN_REJECTED, SCAN_NO_ROUTE or 0 (not a reply
 * to a probe).
 * ifindex is the VM's interface.
 */
static __always_inline int
scan_reply_from_packet(const struct egress_packet *egress, struct scan_contact_key *key,
                       __u32 ifindex)
{
	const struct packet_summary *packet = &egress->summary;

	__u8 type = packet->icmp_type, flags = packet->tcp_flags;

	switch (packet->protocol) {
	case SAMPLE_PROTOCOL_ARP:
		/* A neighbour's reply: the sender is the address the VM asked for. */
		if (packet->arp_operation != ARP_REPLY)
			return 0;
		scan_arp_contact_key(key, ifindex, packet->source);
		return SCAN_ANSWERED;
	case IPPROTO_TCP:
		if (flags & TCP_FLAG_RST) {
			contact_key_from_packet(packet, key, 1, packet->source_port);
			return SCAN_REJECTED;
		}
		if ((flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) != (TCP_FLAG_SYN | TCP_FLAG_ACK))
			return 0;
		break;
	case IPPROTO_UDP:
		break;
	case IPPROTO_ICMP:
		if (type == ICMP_DEST_UNREACHABLE)
			return scan_quoted_reply(egress, key);
		if (type != ICMP_ECHO_REPLY && type != ICMP_TIMESTAMP_REPLY)
			return 0;
		break;
	case IPPROTO_ICMPV6:
		if (type == ICMPV6_DEST_UNREACHABLE)
			return scan_quoted_reply(egress, key);
		if (type != ICMPV6_ECHO_REPLY)
			return 0;
		break;
	default:
		return 0;
	}
	contact_key_from_packet(packet, key, 1, packet->source_port);
	return SCAN_ANSWERED;
}

/*
 * What attribution hands the detectors: the first contact a packet makes
 * and what it is. No pointers, as it crosses between global functions.
 */
struct detect_request {
	struct scan_contact_key key;
	__u32 ifindex;
	__u16 probe_port; /* the probe's own source port; 0: none (ICMP, ARP) */
	__u8 probe;       /* key is a counted probe */
	__u8 smtp;        /* an SMTP SYN */
};

/*
 * Everything after parsing up to the detectors: learning, attribution, tiny
 * fragments, and what the detectors are to judge, in *request (NULL: the
 * packet can be neither a probe nor an SMTP SYN). A global
 * function, which the verifier checks once on its own with *packet unknown,
 * instead of once for every path through the parsers; inlined, the whole
 * program was at the verifier's limit of 1M instructions.
 */
__attribute__((noinline)) int
xdp_account(struct xdp_md *ctx, const struct packet_summary *packet, struct detect_request *request)
{
	struct interface_ref interface = {.ifindex = packet_ifindex(ctx->ingress_ifindex)};
	int probe, smtp = 0;

	if (!packet)
		return XDP_PASS;
	if (packet->learn)
		learn_hand_up(ctx, &interface);
	if (packet->family == 0) {
		if (!request)
			return XDP_PASS;
		/* ARP: an interface's own question, whatever sender it names. */
		probe = scan_arp_probe(packet, interface.ifindex, &request->key);
	} else {
		/* Before any per-source state: a forged source gets none. */
		switch (attribute(packet, &interface)) {
		case ATTRIBUTED:
			break;
		case SPOOFED_DROP:
			return XDP_DROP;
		default:
			return XDP_PASS;
		}
		if (packet->tiny_fragment)
			record_tiny_fragment(ctx, packet, &interface);
		if (!request)
			return XDP_PASS;
		smtp = is_smtp_attempt(packet);
		probe = scan_probe_from_packet(packet, &request->key);
		if (smtp && !probe)
			contact_key_from_packet(packet, &request->key, 0, packet->destination_port);
		request->probe_port = packet->source_port;
	}
	request->ifindex = interface.ifindex;
	request->probe = probe && scan_probe_counted(&request->key);
	request->smtp = smtp;
	return XDP_PASS;
}

/*
 * The detectors on what xdp_account found. A global function of its own,
 * called by the program after xdp_account returns (the stack of a call
 * chain is 512 bytes): inlined after attribution, its paths were walked
 * once for every way through attribution: 274,575 instructions verified
 * against 117,547 now, and replay's start-up was mostly that.
 */
__attribute__((noinline)) int
xdp_detect(struct xdp_md *ctx, const struct detect_request *request)
{
	/* Attribution's lookup of the interface's state is not kept: looked up again if needed. */
	struct interface_ref interface = {};
	struct scan_contact *contact;
	__u64 now;

	if (!request)
		return XDP_PASS;
	interface.ifindex = request->ifindex;
	now = clock_now();
	/* One lookup of the contact serves both detectors. */
	contact = bpf_map_lookup_elem(&scan_contacts, &request->key);
	/* One call site each: the verifier walks the accounting once. */
	if (request->probe)
		contact =
		    record_scan_probe(&request->key, contact, request->probe_port, &interface, now);
	if (request->smtp) {
		count(COUNTER_SMTP_ATTEMPTS);
		record_smtp_attempt(ctx, &request->key, contact, &interface, now);
	}
	return XDP_PASS;
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
	struct packet_summary summary;
	struct detect_request request;
	int parsed, verdict;

	count(COUNTER_PACKETS);
	parsed = parse_packet(&cursor, &packet);
	if (packet.vlan_tags)
		count(COUNTER_VLAN);
	if (packet.ethertype == ETH_P_IP)
		count(COUNTER_IPV4);
	else if (packet.ethertype == ETH_P_IPV6)
		count(COUNTER_IPV6);
	if (parsed == PARSE_OTHER_L3)
		count(COUNTER_OTHER_L3);
	else if (parsed == PARSE_MALFORMED)
		count(COUNTER_MALFORMED);
	else if (packet.tiny_fragment)
		count(COUNTER_TINY_FRAGMENTS);
	if (parsed == 0 || packet.arp)
		packet_summarize(&packet, &summary);
	else
		__builtin_memset(&summary, 0, sizeof(summary));
	summary.learn = parsed != PARSE_MALFORMED && is_learn_frame(&packet);
	if (summary.family == 0 && !summary.learn && summary.protocol != SAMPLE_PROTOCOL_ARP)
		return XDP_PASS;
	/* A plain ack or data segment, most of the traffic, is neither a probe nor an SMTP SYN. */
	if (summary.protocol == IPPROTO_TCP && !(summary.tcp_flags & TCP_FLAG_SYN))
		return xdp_account(ctx, &summary, NULL);
	/* Every byte: the verifier lets a global function read only initialised stack. */
	__builtin_memset(&request, 0, sizeof(request));
	verdict = xdp_account(ctx, &summary, &request);
	if (verdict != XDP_PASS || !(request.probe || request.smtp))
		return verdict;
	return xdp_detect(ctx, &request);
}

/*
 * The accounting of a packet toward the VM on ifindex: the return paths it
 * proves, the first contact it settles. A global function, as xdp_account.
 */
__attribute__((noinline)) int
egress_account(__u32 ifindex, const struct egress_packet *egress)
{
	struct scan_contact_key contact;
	__u64 now = clock_now();
	int outcome;

	if (!egress)
		return 0;
	scan_return_path_seen(ifindex, &egress->summary, now);
	outcome = scan_reply_from_packet(egress, &contact, ifindex);
	if (outcome == 0)
		return 0;
	if (!record_scan_reply(&contact, outcome, now) && egress->summary.protocol == IPPROTO_UDP)
		record_udp_peer(&contact, now);
	return 0;
}

/*
 * A packet toward the VM: settles the VM's first contacts it answers.
 * device_ifindex: the interface the packet leaves by.
 */
static __always_inline void
egress_watch(void *data, void *end, __u32 device_ifindex)
{
	struct cursor cursor = {.position = data, .end = end};
	struct packet packet = {};
	struct egress_packet egress;

	/* Every byte: the verifier lets a global function read only initialised stack. */
	__builtin_memset(&egress, 0, sizeof(egress));
	/* An ARP reply answers a VM's request: its link shows a return path too. */
	if (parse_packet(&cursor, &packet) != 0 && !packet.arp)
		return;
	if (packet.family == 0 && !packet.arp)
		return;
	packet_summarize(&packet, &egress.summary);
	/* The quoted header is in the packet: read while the cursor stands after the ICMP header.
	 */
	egress.quoted_found = scan_reply_quotes_probe(&egress.summary) &&
	                      scan_quoted_probe(&cursor, egress.summary.family, &egress.quoted);
	egress_account(packet_ifindex(device_ifindex), &egress);
}

/*
 * tc (clsact) egress on the same interface: packets toward the VM. It only
 * watches, like the XDP program, and settles the VM's first contacts.
 */
SEC("tc")
int
abuseguard_tc(struct __sk_buff *skb)
{
	egress_watch((void *)(long)skb->data, (void *)(long)skb->data_end, skb->ifindex);
	return TC_ACT_OK;
}

/*
 * The same work as an XDP program, for replay's batches alone (never
 * attached, not loaded live): a batch's frames toward the VM are run by the
 * batch driver's tail call, which can reach only a program of its own type.
 */
SEC("xdp")
int
abuseguard_egress_replay(struct xdp_md *ctx)
{
	egress_watch((void *)(long)ctx->data, (void *)(long)ctx->data_end, ctx->ingress_ifindex);
	return XDP_PASS;
}

/*
 * Run by the daemon about once a second (BPF_PROG_TEST_RUN, never attached):
 * turns the probes that timed out into failures for sources that went
 * quiet, so a scan that stops is still judged.
 */
SEC("xdp")
int
abuseguard_scan_sweep(struct xdp_md *ctx)
{
	__u64 now = clock_now();

	(void)ctx;
	bpf_for_each_map_elem(&scan_sources, scan_sweep_source, &now, 0);
	return XDP_PASS;
}

#include "replay_batch.h"

char LICENSE[] SEC("license") = "GPL";
