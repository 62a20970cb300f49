/*
 * Attribution in the XDP program: every packet belongs to the interface it
 * arrived on. Before any per-source accounting, the source is looked up
 * among the interface's addresses (the daemon writes them); a source that
 * is not the interface's is spoofed: counted on the interface, sampled, and
 * reported at most once per window, and never given per-source state.
 * ARP, NDP and DHCP frames are handed up, a bounded number per interface
 * and window, for the daemon to learn the addresses from. With
 * spoofing.action = "drop" a forged packet stops here, after it is counted.
 *
 * An interface's addresses of the common lengths (an IPv4 /32, an IPv6
 * /64) are in a hash, found in one exact lookup; the others in an LPM trie.
 *
 * An interface with no known address of the packet's family yet is trusted
 * as before (its packets are counted as unverified), except for sources
 * another interface holds.
 */
#ifndef BPF_ATTRIBUTION_H
#define BPF_ATTRIBUTION_H

#include "abuseguard/abuseguard.h"
#include "parsing.h"

#define ICMPV6_ROUTER_SOLICITATION    133
#define ICMPV6_NEIGHBOR_SOLICITATION  135
#define ICMPV6_NEIGHBOR_ADVERTISEMENT 136
#define DHCP_CLIENT_PORT              68
#define DHCP_SERVER_PORT              67

enum attribution {
	ATTRIBUTED = 0,   /* the interface's own source, or an unverified one: account it */
	NOT_ATTRIBUTABLE, /* unspecified or link-local: never anyone's offence, not spoofing */
	SPOOFED,
	SPOOFED_DROP, /* spoofed on an interface whose policy drops forged packets */
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vm_address_key);
	__type(value, struct vm_address_value);
} vm_addresses SEC(".maps");

/* The addresses of the common lengths, by exact match (vm_source_key). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vm_source_key);
	__type(value, struct vm_address_value);
} vm_sources SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct interface_policy);
} interface_policies SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct interface_state);
} interface_states SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} learn_frames SEC(".maps");

struct attribution_settings attribution = {
    .spoof_packets = 100,
    .learn_frames = 64,
    .interface_sources = 4096,
};

/* A fresh "interface_states" value, in .bss: the stack has no room for it. Never written. */
struct interface_state interface_state_zero;

/* The interface's state, its window renewed; NULL only if the map refuses it. */
static __always_inline struct interface_state *
interface_state_get(__u32 ifindex, __u64 now, __u64 window_ns)
{
	struct interface_state *state;

	state = bpf_map_lookup_elem(&interface_states, &ifindex);
	if (!state) {
		bpf_map_update_elem(&interface_states, &ifindex, &interface_state_zero,
		                    BPF_NOEXIST);
		state = bpf_map_lookup_elem(&interface_states, &ifindex);
		if (!state)
			return NULL;
	}
	if (state->window_start_ns == 0 ||
	    (now >= state->window_start_ns && now - state->window_start_ns >= window_ns)) {
		state->window_start_ns = now;
		state->window_spoofed = 0;
		state->window_learn = 0;
		state->window_sources = 0;
		state->window_scan_sources = 0;
		state->reported = 0;
		state->sample_count = 0;
	}
	return state;
}

/*
 * The interface a packet belongs to, and its state once a path needs it:
 * reading the clock and looking the state up would cost a plain ack more
 * than everything else the program does with it, and most packets need
 * neither.
 */
struct interface_ref {
	__u32 ifindex;
	__u32 looked_up;
	struct interface_state *state; /* NULL until looked up, or if the map refused it */
};

static __always_inline struct interface_state *
interface_state_of(struct interface_ref *interface)
{
	if (!interface->looked_up) {
		interface->state =
		    interface_state_get(interface->ifindex, clock_now(), thresholds.window_ns);
		interface->looked_up = 1;
	}
	return interface->state;
}

/*
 * May the interface add one more source to a per-source map (the SMTP one,
 * or with scan the scan one) in this window? Counts a refusal. Each map has
 * its own count, so that an SMTP SYN from a new source, which enters both,
 * takes one of each.
 */
static __always_inline int
interface_source_allowed(struct interface_state *state, int scan)
{
	__u32 *window;

	if (!state)
		return 1;
	window = scan ? &state->window_scan_sources : &state->window_sources;
	if (__sync_fetch_and_add(window, 1) < attribution.interface_sources)
		return 1;
	__sync_fetch_and_add(&state->sources_refused, 1);
	count(COUNTER_INTERFACE_QUOTA);
	return 0;
}

static __always_inline int
is_learn_frame(const struct packet *packet)
{
	if (packet->ethertype == ETH_P_ARP)
		return 1;
	if (packet->family == SOURCE_FAMILY_IPV6 && packet->icmp)
		return packet->icmp->type == ICMPV6_ROUTER_SOLICITATION ||
		       packet->icmp->type == ICMPV6_NEIGHBOR_SOLICITATION ||
		       packet->icmp->type == ICMPV6_NEIGHBOR_ADVERTISEMENT;
	if (packet->family == SOURCE_FAMILY_IPV4 && packet->udp)
		return bpf_ntohs(packet->udp->source) == DHCP_CLIENT_PORT &&
		       bpf_ntohs(packet->udp->dest) == DHCP_SERVER_PORT;
	return 0;
}

/* Hands the frame's start to the daemon, within the interface's quota. */
static __always_inline void
learn_hand_up(struct xdp_md *ctx, struct interface_ref *interface)
{
	struct interface_state *state = interface_state_of(interface);
	__u32 length = ctx->data_end - ctx->data;
	struct learn_frame *frame;

	if (state && __sync_fetch_and_add(&state->window_learn, 1) >= attribution.learn_frames)
		goto dropped;
	frame = bpf_ringbuf_reserve(&learn_frames, sizeof(*frame), 0);
	if (!frame)
		goto dropped;
	if (length > LEARN_FRAME_BYTES)
		length = LEARN_FRAME_BYTES;
	if (length == 0 || bpf_xdp_load_bytes(ctx, 0, frame->data, length) < 0) {
		bpf_ringbuf_discard(frame, 0);
		goto dropped;
	}
	frame->time_ns = clock_now();
	frame->ifindex = interface->ifindex;
	frame->length = length;
	bpf_ringbuf_submit(frame, 0);
	count(COUNTER_LEARN_FRAMES);
	if (state)
		__sync_fetch_and_add(&state->learn_sent, 1);
	return;
dropped:
	count(COUNTER_LEARN_DROPPED);
	if (state)
		__sync_fetch_and_add(&state->learn_dropped, 1);
}

/* The packet's source as a trie key of ifindex; 0 if it can belong to no one. */
static __always_inline int
source_address_key(const struct packet_summary *packet, __u32 ifindex, struct vm_address_key *key)
{
	const __u8 *source = packet->source;
	__u8 any = 0;
	int i;

	__builtin_memset(key, 0, sizeof(*key));
	key->prefixlen = 32 + 128;
	key->ifindex = bpf_htonl(ifindex);
	if (packet->family == SOURCE_FAMILY_IPV4) {
		/* 0.0.0.0/8 (a DHCP client) and 169.254.0.0/16 never leave the link. */
		if (source[0] == 0 || (source[0] == 169 && source[1] == 254))
			return 0;
		key->addr[10] = 0xff;
		key->addr[11] = 0xff;
		__builtin_memcpy(&key->addr[12], source, 4);
		return 1;
	}
	__builtin_memcpy(key->addr, source, 16);
	/* :: (duplicate address detection) and fe80::/10 never leave the link. */
	if (source[0] == 0xfe && (source[1] & 0xc0) == 0x80)
		return 0;
#pragma unroll
	for (i = 0; i < 16; i++)
		any |= source[i];
	return any != 0;
}

/* The trie key's source as a "vm_sources" key of ifindex: its /32, or its /64. */
static __always_inline void
vm_source_key_from(const struct vm_address_key *address, __u32 ifindex, struct vm_source_key *key)
{
	__u32 words[3];

	__builtin_memset(key, 0, sizeof(*key));
	key->ifindex = ifindex;
	__builtin_memcpy(words, address->addr, sizeof(words));
	/* ::ffff:a.b.c.d, as the trie's key writes an IPv4 source. */
	if (words[0] == 0 && words[1] == 0 && words[2] == bpf_htonl(0xffff)) {
		key->family = SOURCE_FAMILY_IPV4;
		__builtin_memcpy(key->addr, &address->addr[12], 4);
	} else {
		key->family = SOURCE_FAMILY_IPV6;
		__builtin_memcpy(key->addr, address->addr, 8);
	}
}

static __always_inline void
send_spoof_event(struct interface_state *state, __u32 ifindex)
{
	struct abuse_event *event;
	__u32 samples = state->sample_count;

	event = bpf_ringbuf_reserve(&events, sizeof(*event), 0);
	if (!event) {
		count(COUNTER_EVENTS_LOST);
		__sync_fetch_and_and(&state->reported, 0);
		return;
	}
	__builtin_memset(event, 0, sizeof(*event));
	event->time_ns = clock_now();
	event->window_start_ns = state->window_start_ns;
	/* The source is the VM's own address, which the daemon fills in. */
	event->ifindex = ifindex;
	event->category = CATEGORY_SPOOFING;
	event->reason = SPOOF_REASON_PACKETS;
	event->counts.attempts = state->window_spoofed;
	if (samples > EVENT_SAMPLES)
		samples = EVENT_SAMPLES;
	event->sample_count = samples;
	__builtin_memcpy(event->samples, state->samples, sizeof(event->samples));
	bpf_ringbuf_submit(event, 0);
	count(COUNTER_EVENTS);
}

/* Keeps a few distinct forged sources as evidence. */
static __always_inline void
spoof_sample(struct interface_state *state, const struct vm_address_key *key,
             const struct packet_summary *packet)
{
	__u32 index = state->sample_count;
	struct event_sample sample = {};
	int i, j, same;

	if (index >= EVENT_SAMPLES)
		return;
	if (packet->family == SOURCE_FAMILY_IPV4)
		__builtin_memcpy(sample.address, &key->addr[12], 4);
	else
		__builtin_memcpy(sample.address, key->addr, 16);
	sample.family = packet->family;
	sample.protocol = packet->protocol;
	for (i = 0; i < EVENT_SAMPLES && i < index; i++) {
		same = state->samples[i].family == sample.family;
#pragma unroll
		for (j = 0; j < 16; j++)
			same &= state->samples[i].address[j] == sample.address[j];
		if (same)
			return;
	}
	state->samples[index & (EVENT_SAMPLES - 1)] = sample;
	state->sample_count = index + 1;
}

static __always_inline void
record_spoofed(struct interface_ref *interface, const struct vm_address_key *key,
               const struct packet_summary *packet)
{
	struct interface_state *state = interface_state_of(interface);
	__u32 spoofed;

	count(COUNTER_SPOOFED);
	if (!state)
		return;
	__sync_fetch_and_add(&state->spoofed, 1);
	spoofed = __sync_fetch_and_add(&state->window_spoofed, 1) + 1;
	spoof_sample(state, key, packet);
	if (attribution.spoof_packets == 0 || spoofed < attribution.spoof_packets)
		return;
	if (__sync_fetch_and_or(&state->reported, 1))
		return;
	send_spoof_event(state, interface->ifindex);
}

/*
 * Whose is the packet's source? Counts and reports what is spoofed. The
 * common case, a source inside one of the interface's own /32s or /64s,
 * takes one lookup: the all-interfaces copy in "vm_sources", which names
 * its holder. The policy, the trie and the interface's own copies are
 * looked at only when that is not the interface.
 */
static __always_inline enum attribution
attribute(const struct packet_summary *packet, struct interface_ref *interface)
{
	__u32 ifindex = interface->ifindex, known;
	struct vm_address_value *holder;
	struct interface_state *state;
	struct interface_policy *policy;
	struct vm_source_key source;
	struct vm_address_key key;
	int held;

	if (!source_address_key(packet, ifindex, &key))
		return NOT_ATTRIBUTABLE;
	vm_source_key_from(&key, 0, &source);
	holder = bpf_map_lookup_elem(&vm_sources, &source);
	held = holder && holder->ifindex == ifindex;
	/* An IPv6 packet from a mapped IPv4 source is checked as IPv6, below. */
	if (held && source.family == packet->family)
		return ATTRIBUTED;
	known = packet->family == SOURCE_FAMILY_IPV4 ? INTERFACE_KNOWN_IPV4 : INTERFACE_KNOWN_IPV6;
	policy = bpf_map_lookup_elem(&interface_policies, &ifindex);
	if (policy && (policy->flags & known)) {
		/* Its own copy too: the all-interfaces one names a single holder. */
		if (holder && !held) {
			source.ifindex = ifindex;
			held = bpf_map_lookup_elem(&vm_sources, &source) != NULL;
		}
		if (held || ((policy->flags & INTERFACE_PREFIXES) &&
		             bpf_map_lookup_elem(&vm_addresses, &key)))
			return ATTRIBUTED;
		record_spoofed(interface, &key, packet);
		return (policy->flags & INTERFACE_DROP) ? SPOOFED_DROP : SPOOFED;
	}
	/*
	 * Another interface's? An exact /32 is the longest match there is;
	 * a /64 may hide a longer prefix in the trie, but on this path the
	 * interface holds nothing of the family, so either holder is another's.
	 */
	if (!holder) {
		key.ifindex = 0;
		holder = bpf_map_lookup_elem(&vm_addresses, &key);
	}
	if (holder && holder->ifindex != ifindex) {
		record_spoofed(interface, &key, packet);
		return policy && (policy->flags & INTERFACE_DROP) ? SPOOFED_DROP : SPOOFED;
	}
	count(COUNTER_UNVERIFIED);
	state = interface_state_of(interface);
	if (state)
		__sync_fetch_and_add(&state->unverified, 1);
	return ATTRIBUTED;
}

#endif
