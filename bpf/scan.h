/*
 * Scan accounting, judged by outcome. The XDP program records each first
 * contact of a source (TCP SYN, UDP datagram, ICMP echo or timestamp
 * request to a (destination, port, protocol) not contacted in the window)
 * as pending; the tc egress program on the same interface sees the reply
 * going back to the VM and settles it: SYN-ACK, a UDP datagram or an echo
 * reply is a success, RST or ICMP unreachable (matched through the quoted
 * header) a failure. What has no outcome within the timeout failed too, but
 * only on an interface that has lately shown replies of the probe's family
 * (scan_return_paths_proved): where the return path is not visible
 * (asymmetric routing, a VM whose IPv6 replies never come back while its
 * IPv4 works) a missing answer proves nothing.
 *
 * Nor does it during an upstream outage, when every VM's first contacts go
 * unanswered at once and an honest fan-out looks like a sweep of dark space.
 * So a timeout is a failure only if something from beyond the host came
 * back to any VM after the probe went out (scan_upstream_ns, per family). A
 * router's "cannot deliver" waits for the timeout like silence, and its "no
 * route to the network" is never a verdict: it tells of the routing, not of
 * the destination. The destination's own refusal (RST, port unreachable)
 * always counts, but for a destination that answered the source before
 * (SCAN_CONTACT_KNOWN): in a later window only its answer counts, as its
 * silence or refusal tells of an outage or a service gone, not of a scan.
 *
 * Timeouts are decided lazily, without a timer: each source keeps its
 * outstanding probes in time buckets (struct scan_bucket), and a bucket whose
 * probes are all older than the timeout turns into failures the next time
 * the source sends, gets a reply, or the daemon's periodic sweep
 * (abuseguard_scan_sweep) passes. Replay sweeps on the capture's clock.
 *
 * Included by abuseguard.bpf.c after count(), clock_now(), the events ring
 * buffer, source_key_from_address() and attribution.h's quota.
 */
#ifndef ABUSEGUARD_BPF_SCAN_H
#define ABUSEGUARD_BPF_SCAN_H

#define ICMP_ECHO_REPLY         0
#define ICMP_DEST_UNREACHABLE   3
#define ICMP_SOURCE_QUENCH      4
#define ICMP_REDIRECT           5
#define ICMP_ECHO_REQUEST       8
#define ICMP_TIME_EXCEEDED      11
#define ICMP_PARAMETER_PROBLEM  12
#define ICMP_TIMESTAMP_REQUEST  13
#define ICMP_TIMESTAMP_REPLY    14
#define ICMPV6_DEST_UNREACHABLE 1
#define ICMPV6_ECHO_REQUEST     128
#define ICMPV6_ECHO_REPLY       129

/* The outcome of a first contact, as a reply shows it. */
#define SCAN_ANSWERED 1
#define SCAN_REJECTED 2 /* by the destination itself */
#define SCAN_NO_ROUTE 3 /* a router has no route to the destination's network */

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct source_key);
	__type(value, struct scan_state);
} scan_sources SEC(".maps");

/* Sized by the daemon to twice the interfaces' pending quotas together. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct scan_contact_key);
	__type(value, struct scan_contact);
} scan_contacts SEC(".maps");

/*
 * UDP flows the other side began (a VM's DNS or game server answering its
 * clients): the VM's datagrams back are replies, not probes. Apart from
 * scan_contacts, so that a flood toward one VM cannot evict the probes of
 * another. Value: when first seen; only being there counts.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct scan_contact_key);
	__type(value, __u64);
} scan_udp_peers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32); /* ifindex */
	__type(value, struct scan_interface);
} scan_interfaces SEC(".maps");

/* In .data: the daemon may rewrite them while the program runs. */
struct scan_settings scan_settings = {
    .window_ns = 60 * NS_PER_SECOND,
    .timeout_ns = 5 * NS_PER_SECOND,
    .return_path_ns = 300 * NS_PER_SECOND,
    .enabled = 1,
    .sequential = 5,
    .hosts_per_port = 24,
    .ports_per_host = 24,
    .pending_per_interface = 4096,
    .arp_hosts = 8,
};

/* Fresh map values, too big for the stack; never written. */
struct scan_state scan_state_zero;
struct scan_interface scan_interface_zero;

/* Destination ports never counted (DHCP, NetBIOS, SSDP, mDNS, LLMNR by default), in .bss. */
__u64 scan_ignored_ports[SCAN_PORT_WORDS];

/*
 * When a packet from beyond the host last came toward any VM, by return
 * path (IPv4, IPv6; the link's entry unused), written at most every
 * SCAN_MEMO_NS (scan_return_path_seen). In .bss: host-wide, shared by the
 * programs.
 */
__u64 scan_upstream_ns[SCAN_RETURN_PATHS];

/*
 * How often the egress program rewrites what it memoises (return paths,
 * the upstream): a packet toward a VM costs a write at most this often.
 * A probe counts as sent before the upstream was last seen if it was sent
 * at most this long after the last write: a write skipped is not an outage.
 */
#define SCAN_MEMO_NS (NS_PER_SECOND / 4)

/*
 * The first contact of an ARP request: the interface asks (whatever sender
 * address the frame names, which the VM may forge) for address, an IPv4 one.
 */
static __always_inline void
scan_arp_contact_key(struct scan_contact_key *key, __u32 ifindex, const __u8 *address)
{
	__builtin_memset(key, 0, sizeof(*key));
	key->source.family = SOURCE_FAMILY_INTERFACE;
	__builtin_memcpy(key->source.addr, &ifindex, sizeof(ifindex));
	__builtin_memcpy(key->destination, address, 4);
	key->protocol = SAMPLE_PROTOCOL_ARP;
}

static __always_inline __u64
scan_bucket_width(void)
{
	__u64 width = scan_settings.timeout_ns / 4;

	return width ? width : 1;
}

/* A bucket's probes are all older than the timeout. */
static __always_inline int
scan_bucket_expired(const struct scan_bucket *bucket, __u64 now, __u64 width)
{
	return (bucket->epoch + 1) * width + scan_settings.timeout_ns <= now;
}

/* Takes one outstanding probe out of its bucket, if the bucket still holds it. */
static __always_inline void
scan_bucket_settle(struct scan_bucket *buckets, __u64 sent_ns, __u64 width)
{
	__u64 epoch = sent_ns / width;
	struct scan_bucket *bucket = &buckets[epoch & (SCAN_BUCKETS - 1)];
	__u32 outstanding;

	if (bucket->epoch != epoch)
		return;
	outstanding = bucket->outstanding;
	/* Once: losing a race to the sweep only leaves one probe to time out. */
	if (outstanding != 0)
		__sync_val_compare_and_swap(&bucket->outstanding, outstanding, outstanding - 1);
}

/*
 * Empties the expired buckets; returns how many probes they held, and in
 * *unproved how many of those were in a bucket that closed after
 * upstream_ns (and SCAN_MEMO_NS): nothing from beyond the host came back
 * since they went out.
 */
static __always_inline __u32
scan_buckets_expire(struct scan_bucket *buckets, __u64 now, __u64 width, __u64 upstream_ns,
                    __u32 *unproved)
{
	__u32 expired = 0, taken, late = 0;
	int i;

#pragma unroll
	for (i = 0; i < SCAN_BUCKETS; i++) {
		if (buckets[i].outstanding == 0 || !scan_bucket_expired(&buckets[i], now, width))
			continue;
		taken = __sync_lock_test_and_set(&buckets[i].outstanding, 0);
		expired += taken;
		if ((buckets[i].epoch + 1) * width > upstream_ns + SCAN_MEMO_NS)
			late += taken;
	}
	*unproved = late;
	return expired;
}

static __always_inline __u32
scan_buckets_outstanding(const struct scan_bucket *buckets, __u64 now, __u64 width)
{
	__u32 outstanding = 0;
	int i;

#pragma unroll
	for (i = 0; i < SCAN_BUCKETS; i++)
		if (!scan_bucket_expired(&buckets[i], now, width))
			outstanding += buckets[i].outstanding;
	return outstanding;
}

/* Returns 0, or -1 if the bucket for now still holds probes that have not expired. */
static __always_inline int
scan_bucket_add(struct scan_bucket *buckets, __u64 now, __u64 width)
{
	__u64 epoch = now / width;
	struct scan_bucket *bucket = &buckets[epoch & (SCAN_BUCKETS - 1)];

	if (bucket->epoch != epoch) {
		/* Eight widths back, twice the timeout: expired and emptied first. */
		if (bucket->outstanding != 0)
			return -1;
		bucket->epoch = epoch;
	}
	__sync_fetch_and_add(&bucket->outstanding, 1);
	return 0;
}

static __always_inline void
scan_score_add(struct scan_state *state, __s32 step)
{
	__s32 floor = -(__s32)scan_settings.sequential;
	__s32 score = state->score + step;

	/* A long honest history must not hide a scan that starts later. */
	state->score = score < floor ? floor : score;
}

/*
 * The return path of a family: a source's timeouts are judged by its own
 * family's, and a routed packet of the family proves it.
 */
static __always_inline __u32
scan_return_path_of(__u8 family)
{
	switch (family) {
	case SOURCE_FAMILY_IPV4:
		return SCAN_RETURN_PATH_IPV4;
	case SOURCE_FAMILY_IPV6:
		return SCAN_RETURN_PATH_IPV6;
	default:
		return SCAN_RETURN_PATH_LINK; /* SOURCE_FAMILY_INTERFACE, or 0: ARP on the VM's link
		                               */
	}
}

/*
 * When something from beyond the host last came back over the return path
 * of family; now for the link's own (ARP), which needs no upstream.
 */
static __always_inline __u64
scan_upstream_of(__u8 family, __u64 now)
{
	__u32 path = scan_return_path_of(family);

	if (path == SCAN_RETURN_PATH_LINK)
		return now;
	return scan_upstream_ns[path];
}

/* Failures that are no verdict after all, counted under why. */
static __always_inline void
scan_no_verdict(struct scan_state *state, __u32 probes, __u32 why)
{
	__sync_fetch_and_add(&state->no_outcome, probes);
	count_n(why, probes);
}

/*
 * Counts the source's timed-out probes as failures, or as no verdict where
 * the interface has not lately shown a return path of the source's family,
 * or nothing from beyond the host came back since they were sent.
 */
static __always_inline void
scan_expire(struct scan_state *state, const struct source_key *source, __u64 now)
{
	struct scan_interface *interface;
	__u32 expired, unproved, ifindex = state->ifindex;
	__u64 seen;

	expired = scan_buckets_expire(state->buckets, now, scan_bucket_width(),
	                              scan_upstream_of(source->family, now), &unproved);
	if (expired == 0)
		return;
	interface = bpf_map_lookup_elem(&scan_interfaces, &ifindex);
	seen = interface ? interface->return_path_ns[scan_return_path_of(source->family)] : 0;
	/* seen > now only on a replayed capture's step back: a path seen just now. */
	if (seen == 0 || (now > seen && now - seen > scan_settings.return_path_ns)) {
		scan_no_verdict(state, expired, COUNTER_SCAN_NO_RETURN_PATH);
		return;
	}
	if (unproved != 0) {
		scan_no_verdict(state, unproved, COUNTER_SCAN_NO_UPSTREAM);
		expired -= unproved;
		if (expired == 0)
			return;
	}
	count_n(COUNTER_SCAN_TIMEOUTS, expired);
	__sync_fetch_and_add(&state->failures, expired);
	scan_score_add(state, (__s32)expired);
}

/* Returns the reason of the first test the source passes in its window, or 0. */
static __always_inline int
scan_reason(const struct scan_state *state, const struct source_key *source)
{
	__u32 failures = state->failures, probes = state->probes;

	/*
	 * An interface's ARP requests: the gateway and a few neighbours are
	 * asked for all the time, and some are gone; only a net count of
	 * unanswered ones past arp_hosts is a sweep of the link.
	 */
	if (source->family == SOURCE_FAMILY_INTERFACE)
		return scan_settings.arp_hosts != 0 && state->score > 0 &&
		               (__u32)state->score >= scan_settings.arp_hosts
		           ? SCAN_REASON_ARP
		           : 0;

	if (scan_settings.sequential != 0 && state->score >= (__s32)scan_settings.sequential)
		return SCAN_REASON_SEQUENTIAL;
	if (scan_settings.hosts_per_port != 0 && failures >= scan_settings.hosts_per_port &&
	    (__u64)state->port_votes * 4 >= (__u64)probes * 3)
		return SCAN_REASON_HORIZONTAL;
	if (scan_settings.ports_per_host != 0 && failures >= scan_settings.ports_per_host &&
	    (__u64)state->host_votes * 4 >= (__u64)probes * 3)
		return SCAN_REASON_VERTICAL;
	return 0;
}

static __always_inline void
scan_report(struct scan_state *state, const struct source_key *source, __u64 now)
{
	struct abuse_event *event;
	int reason, i;
	__u32 slot;

	if (!scan_settings.enabled || state->reported)
		return;
	reason = scan_reason(state, source);
	if (reason == 0)
		return;
	if (__sync_lock_test_and_set(&state->reported, 1))
		return;
	event = bpf_ringbuf_reserve(&events, sizeof(*event), 0);
	if (!event) {
		count(COUNTER_EVENTS_LOST);
		state->reported = 0; /* a later outcome tries again */
		return;
	}
	__builtin_memset(event, 0, sizeof(*event));
	event->time_ns = now;
	event->window_start_ns = state->window_start_ns;
	event->source = *source;
	event->ifindex = state->ifindex;
	event->category = CATEGORY_SCAN;
	event->reason = reason;
	event->counts.attempts = state->probes;
	event->counts.failures = state->failures;
	event->counts.successes = state->successes;
	event->counts.destinations = state->port_votes;
	event->counts.ports = state->host_votes;
	event->sample_count =
	    state->sample_next < EVENT_SAMPLES ? state->sample_next : EVENT_SAMPLES;
#pragma unroll
	for (i = 0; i < EVENT_SAMPLES; i++) {
		slot = (state->sample_next - 1 - i) & (EVENT_SAMPLES - 1);
		event->samples[i] = state->samples[slot];
	}
	bpf_ringbuf_submit(event, 0);
	count(COUNTER_EVENTS);
}

/* Starts a new window when the current one is over. */
static __always_inline void
scan_window(struct scan_state *state, __u64 now)
{
	__u64 start = state->window_start_ns;

	if (start != 0 && (now < start || now - start < scan_settings.window_ns))
		return;
	state->window_start_ns = now;
	state->score = 0;
	state->probes = 0;
	state->failures = 0;
	state->successes = 0;
	state->no_outcome = 0;
	state->port_votes = 0;
	state->host_votes = 0;
	state->reported = 0;
}

/* owner: the VM's interface, whose quota a new source takes; NULL: look up only (create 0). */
static __always_inline struct scan_state *
scan_state_get(const struct source_key *source, __u32 ifindex, struct interface_ref *owner,
               int create)
{
	struct scan_state *state;

	state = bpf_map_lookup_elem(&scan_sources, source);
	if (state || !create)
		return state;
	/* A VM flooding new sources fills its own quota, not the shared map. */
	if (!interface_source_allowed(interface_state_of(owner), 1))
		return NULL;
	/* Too big for the stack: the bucket array starts zeroed in a fresh element. */
	if (bpf_map_update_elem(&scan_sources, source, &scan_state_zero, BPF_NOEXIST) == 0)
		count(COUNTER_SCAN_SOURCES_NEW);
	state = bpf_map_lookup_elem(&scan_sources, source);
	if (state)
		state->ifindex = ifindex;
	return state;
}

static __always_inline int
scan_port_ignored(__u16 port)
{
	return (scan_ignored_ports[(port >> 6) & (SCAN_PORT_WORDS - 1)] >> (port & 63)) & 1;
}

/* Multicast and broadcast never answer from the address they were sent to. */
static __always_inline int
scan_destination_counted(__u8 family, const __u8 *destination)
{
	if (family == SOURCE_FAMILY_IPV6)
		return destination[0] != 0xff;
	return (destination[0] & 0xf0) != 0xe0 &&
	       !(destination[0] == 0xff && destination[1] == 0xff && destination[2] == 0xff &&
	         destination[3] == 0xff);
}

static __always_inline int
address_equal(const __u8 *a, const __u8 *b)
{
	__u8 difference = 0;
	int i;

#pragma unroll
	for (i = 0; i < 16; i++)
		difference |= a[i] ^ b[i];
	return difference == 0;
}

static __always_inline void
scan_vote(struct scan_state *state, const struct scan_contact_key *key)
{
	if (state->port_votes == 0) {
		state->port = key->port;
		state->port_protocol = key->protocol;
	}
	if (state->port == key->port && state->port_protocol == key->protocol)
		state->port_votes++;
	else
		state->port_votes--;
	if (state->host_votes == 0)
		__builtin_memcpy(state->host, key->destination, sizeof(state->host));
	if (address_equal(state->host, key->destination))
		state->host_votes++;
	else
		state->host_votes--;
}

static __always_inline void
scan_sample(struct scan_state *state, const struct scan_contact_key *key, __u16 source_port)
{
	struct event_sample *sample = &state->samples[state->sample_next & (EVENT_SAMPLES - 1)];

	__builtin_memcpy(sample->address, key->destination, sizeof(sample->address));
	sample->port = key->port;
	sample->source_port = source_port;
	/* An ARP request asks for an IPv4 address. */
	sample->family =
	    key->source.family == SOURCE_FAMILY_INTERFACE ? SOURCE_FAMILY_IPV4 : key->source.family;
	sample->protocol = key->protocol;
	state->sample_next++;
}

/* Whether a probe of key counts at all: scans watched, a unicast destination, a port not ignored.
 */
static __always_inline int
scan_probe_counted(const struct scan_contact_key *key)
{
	if (!scan_settings.enabled ||
	    !scan_destination_counted(key->source.family, key->destination))
		return 0;
	return key->protocol == IPPROTO_ICMP || key->protocol == IPPROTO_ICMPV6 ||
	       key->protocol == SAMPLE_PROTOCOL_ARP || !scan_port_ignored(key->port);
}

/*
 * A counted probe from the VM: key names the source and what it contacts,
 * from its own source_port (0: none, as for ICMP and ARP); contact is key's
 * entry as looked up (NULL: none). Only a first contact in the window
 * counts; a retransmission or a second connection to the same service does
 * not. Returns the contact's entry, NULL if there is none.
 */
static __always_inline struct scan_contact *
record_scan_probe(const struct scan_contact_key *key, struct scan_contact *contact,
                  __u16 source_port, struct interface_ref *owner, __u64 now)
{
	struct scan_contact fresh = {};
	struct scan_interface *interface;
	struct scan_state *state;
	__u32 ifindex = owner->ifindex, unproved;
	__u64 width = scan_bucket_width();
	int known;

	if (contact && now >= contact->sent_ns && now - contact->sent_ns < scan_settings.window_ns)
		return contact;
	if (key->protocol == IPPROTO_UDP && bpf_map_lookup_elem(&scan_udp_peers, key))
		return contact; /* the other side began this flow */
	known = contact && (contact->state & SCAN_CONTACT_KNOWN);

	state = scan_state_get(&key->source, ifindex, owner, 1);
	if (!state)
		return contact;
	count(COUNTER_SCAN_PROBES);
	scan_window(state, now);
	state->ifindex = ifindex;
	state->last_seen_ns = now;
	scan_expire(state, &key->source, now);
	__sync_fetch_and_add(&state->probes, 1);
	scan_vote(state, key);
	scan_sample(state, key, source_port);

	/*
	 * A destination that answered the source before: an outage upstream or
	 * the service gone since, not a scan, if it is silent or refuses now.
	 * No bucket, no quota: only its answer can count. A scanner gains
	 * nothing: only what answered it is known.
	 */
	if (known) {
		contact->sent_ns = now;
		contact->ifindex = ifindex;
		contact->state = SCAN_CONTACT_KNOWN | SCAN_CONTACT_PENDING;
		scan_report(state, &key->source, now);
		return contact;
	}
	interface = bpf_map_lookup_elem(&scan_interfaces, &ifindex);
	if (!interface) {
		bpf_map_update_elem(&scan_interfaces, &ifindex, &scan_interface_zero, BPF_NOEXIST);
		interface = bpf_map_lookup_elem(&scan_interfaces, &ifindex);
	}
	/* Over quota, the probe is not tracked: no outcome, no verdict from it. */
	if (!interface) {
		count(COUNTER_SCAN_QUOTA);
	} else {
		/* The quota only: whether the probes failed is their sources' to judge. */
		scan_buckets_expire(interface->buckets, now, width, now, &unproved);
		if (scan_buckets_outstanding(interface->buckets, now, width) >=
		        scan_settings.pending_per_interface ||
		    scan_bucket_add(interface->buckets, now, width) < 0) {
			count(COUNTER_SCAN_QUOTA);
		} else if (scan_bucket_add(state->buckets, now, width) < 0) {
			scan_bucket_settle(interface->buckets, now, width);
			count(COUNTER_SCAN_QUOTA);
		} else if (contact) {
			/* An older contact's entry, which may count an SMTP destination: kept. */
			contact->sent_ns = now;
			contact->ifindex = ifindex;
			contact->state = SCAN_CONTACT_PENDING;
		} else {
			fresh.sent_ns = now;
			fresh.state = SCAN_CONTACT_PENDING;
			fresh.ifindex = ifindex;
			bpf_map_update_elem(&scan_contacts, key, &fresh, BPF_NOEXIST);
			contact = bpf_map_lookup_elem(&scan_contacts, key);
		}
	}
	scan_report(state, &key->source, now);
	return contact;
}

/*
 * A reply toward the VM at now settles the pending first contact it answers
 * with outcome (SCAN_ANSWERED ...); 1 if it did.
 */
static __always_inline int
record_scan_reply(const struct scan_contact_key *key, int outcome, __u64 now)
{
	struct scan_contact *contact;
	struct scan_interface *interface;
	struct scan_state *state;
	__u64 width = scan_bucket_width(), sent;
	__u32 was, known, settled;

	contact = bpf_map_lookup_elem(&scan_contacts, key);
	if (!contact)
		return 0;
	was = contact->state;
	known = was & SCAN_CONTACT_KNOWN;
	if ((was & ~SCAN_CONTACT_KNOWN) != SCAN_CONTACT_PENDING)
		return 1;
	/* Late: the timeout counts it as failed, as the probe's bucket says. */
	sent = contact->sent_ns;
	if (now < sent || now - sent >= scan_settings.timeout_ns)
		return 1;
	settled =
	    SCAN_CONTACT_ANSWERED | known | (outcome == SCAN_ANSWERED ? SCAN_CONTACT_KNOWN : 0);
	if (__sync_val_compare_and_swap(&contact->state, was, settled) != was)
		return 1;
	/* A known destination's probe is in no bucket. */
	interface = known ? NULL : bpf_map_lookup_elem(&scan_interfaces, &contact->ifindex);
	if (interface)
		scan_bucket_settle(interface->buckets, sent, width);
	state = scan_state_get(&key->source, 0, NULL, 0);
	if (!state)
		return 1;
	if (!known)
		scan_bucket_settle(state->buckets, sent, width);
	/* An outcome of the previous window still counts, in the current one. */
	scan_window(state, now);
	if (outcome == SCAN_ANSWERED) {
		count(COUNTER_SCAN_ANSWERED);
		__sync_fetch_and_add(&state->successes, 1);
		scan_score_add(state, -1);
	} else if (known) {
		scan_no_verdict(state, 1, COUNTER_SCAN_KNOWN_REFUSED);
	} else if (outcome == SCAN_REJECTED) {
		count(COUNTER_SCAN_REJECTED);
		__sync_fetch_and_add(&state->failures, 1);
		scan_score_add(state, 1);
	} else {
		scan_no_verdict(state, 1, COUNTER_SCAN_NO_ROUTE);
	}
	scan_expire(state, &key->source, now);
	scan_report(state, &key->source, now);
	return 1;
}

/* An IPv4 address a packet from or to the internet never carries: this host, this link. */
static __always_inline int
ipv4_local_only(const __u8 *address)
{
	return address[0] == 0 || address[0] == 127 || (address[0] == 169 && address[1] == 254) ||
	       (address[0] & 0xf0) >= 0xe0; /* multicast, reserved, broadcast */
}

/* The same for IPv6: unspecified, loopback, link-local, multicast. */
static __always_inline int
ipv6_local_only(const __u8 *address)
{
	__u8 high = 0;
	int i;

#pragma unroll
	for (i = 0; i < 15; i++)
		high |= address[i];
	return (high == 0 && address[15] <= 1) || address[0] == 0xff ||
	       (address[0] == 0xfe && (address[1] & 0xc0) == 0x80);
}

#define ICMPV6_ROUTER_SOLICITATION 133
#define ICMPV6_REDIRECT            137
#define DHCP_SERVER_PORT           67
#define DHCPV6_SERVER_PORT         547

/*
 * The return paths a packet toward the VM proves, a bit (1 << path) each.
 * Any frame shows the link. Only a routed packet shows its family's return
 * path: from and to addresses beyond the link, and not the link's own
 * configuration (NDP, which the router sends from its global address too,
 * DHCP), which flows where the VM's routed replies never come back.
 *
 * What a VM could do with it. It cannot hide a return path it has: every
 * answer its probes get (SYN-ACK, RST, ICMP unreachable, UDP) is a routed
 * packet of the probes' family toward it and proves the path, and
 * rejections count whatever the path. Only probes of a family in which
 * nothing at all comes back to it within scan.return_path time out as no
 * verdict, a scan that finds nothing; before return paths were per family,
 * a VM that received nothing at all got the same. Packets toward a VM can
 * also come from a neighbour VM, the host or any sender that reaches it
 * over that family: they prove a path the VM's own replies may lack, and
 * then its unanswered probes of that family count as failures again, as
 * they did for every family before. A neighbour can so put back the false
 * positive this check removes, for a VM whose routed return path of that
 * family is broken; it cannot make any timeout a failure where a return
 * path works, nor hide its own.
 */
static __always_inline __u32
scan_return_paths_proved(const struct packet_summary *packet)
{
	__u32 paths = 1U << SCAN_RETURN_PATH_LINK;

	if (packet->family == SOURCE_FAMILY_IPV4) {
		if (!ipv4_local_only(packet->source) && !ipv4_local_only(packet->destination) &&
		    !(packet->protocol == IPPROTO_UDP && packet->source_port == DHCP_SERVER_PORT))
			paths |= 1U << SCAN_RETURN_PATH_IPV4;
	} else if (packet->family == SOURCE_FAMILY_IPV6) {
		if (!ipv6_local_only(packet->source) && !ipv6_local_only(packet->destination) &&
		    !(packet->protocol == IPPROTO_ICMPV6 &&
		      packet->icmp_type >= ICMPV6_ROUTER_SOLICITATION &&
		      packet->icmp_type <= ICMPV6_REDIRECT) &&
		    !(packet->protocol == IPPROTO_UDP && packet->source_port == DHCPV6_SERVER_PORT))
			paths |= 1U << SCAN_RETURN_PATH_IPV6;
	}
	return paths;
}

/*
 * Each interface's return paths as this program last wrote them, by ifindex
 * modulo the size: two interfaces that share a slot take turns in it and are
 * looked up as before. CPUs may race on a slot; the worst a torn one does is
 * skip one refresh by a quarter of a second, against scan.return_path's minutes.
 */
struct scan_return_path_memo scan_return_path_memos[SCAN_RETURN_PATH_MEMOS];

/* A path written less than SCAN_MEMO_NS ago is not written again. */
static __always_inline int
scan_return_path_fresh(__u64 seen, __u64 now)
{
	return seen != 0 && now >= seen && now - seen < SCAN_MEMO_NS;
}

/* An ICMP error: a router or host telling of another packet, not the far end's traffic. */
static __always_inline int
icmp_error(const struct packet_summary *packet)
{
	if (packet->protocol == IPPROTO_ICMP)
		return packet->icmp_type == ICMP_DEST_UNREACHABLE ||
		       packet->icmp_type == ICMP_SOURCE_QUENCH ||
		       packet->icmp_type == ICMP_REDIRECT ||
		       packet->icmp_type == ICMP_TIME_EXCEEDED ||
		       packet->icmp_type == ICMP_PARAMETER_PROBLEM;
	return packet->protocol == IPPROTO_ICMPV6 && packet->icmp_type < 128; /* RFC 4443 */
}

/*
 * Whether a routed packet of path toward a VM shows that the host's
 * upstream works: traffic (not an ICMP error, which routers send when it
 * does not) from an address no VM on this host holds (the all-interfaces
 * copy in vm_sources, of the common lengths). The host's own addresses
 * count, as it cannot tell them apart; so, on an interface whose policy
 * lets them pass, do forged sources, which vm_sources cannot know: a VM
 * that forges them toward a neighbour during an outage puts back the
 * false positives this removes, as before the check.
 */
static __always_inline int
scan_upstream_proved(const struct packet_summary *packet, __u32 path)
{
	struct vm_source_key holder = {.family = packet->family};

	if (!(scan_return_paths_proved(packet) & (1U << path)) || icmp_error(packet))
		return 0;
	if (packet->family == SOURCE_FAMILY_IPV4)
		__builtin_memcpy(holder.addr, packet->source, 4);
	else
		__builtin_memcpy(holder.addr, packet->source, sizeof(holder.addr));
	return bpf_map_lookup_elem(&vm_sources, &holder) == NULL;
}

/*
 * Records the return paths a packet toward the VM on ifindex at now proves,
 * its own through the memo (the map lookup was most of what a plain ACK
 * cost) and the host's upstream. A global function, which the verifier
 * checks once with *packet unknown: inlined, its branches multiplied by
 * every path through the parsers passed the verifier's limit of 1M
 * instructions.
 */
__attribute__((noinline)) int
scan_return_path_seen(__u32 ifindex, const struct packet_summary *packet, __u64 now)
{
	struct scan_return_path_memo *memo =
	    &scan_return_path_memos[ifindex & (SCAN_RETURN_PATH_MEMOS - 1)];
	struct scan_interface *interface;
	__u32 fresh = 0, paths, owner = memo->ifindex == ifindex, path;
	int i;

	if (!packet)
		return 0;
	/* 0 is never. */
	if (now == 0)
		now = 1;
	path = scan_return_path_of(packet->family);
	if (path != SCAN_RETURN_PATH_LINK && !scan_return_path_fresh(scan_upstream_ns[path], now) &&
	    scan_upstream_proved(packet, path))
		scan_upstream_ns[path] = now;
	if (owner) {
#pragma unroll
		for (i = 0; i < SCAN_RETURN_PATHS; i++)
			if (scan_return_path_fresh(memo->seen_ns[i], now))
				fresh |= 1U << i;
	}
	/* What this packet could prove at best is fresh already: nothing to classify. */
	paths = 1U << SCAN_RETURN_PATH_LINK | 1U << scan_return_path_of(packet->family);
	if ((paths & ~fresh) == 0)
		return 0;
	paths = scan_return_paths_proved(packet) & ~fresh;
	if (paths == 0)
		return 0;

	interface = bpf_map_lookup_elem(&scan_interfaces, &ifindex);
	if (!interface) {
		bpf_map_update_elem(&scan_interfaces, &ifindex, &scan_interface_zero, BPF_NOEXIST);
		interface = bpf_map_lookup_elem(&scan_interfaces, &ifindex);
		if (!interface)
			return 0;
	}
	/* The map first: the memo never claims what the map does not hold. */
#pragma unroll
	for (i = 0; i < SCAN_RETURN_PATHS; i++)
		if (paths & (1U << i))
			interface->return_path_ns[i] = now;
	if (!owner) {
		memo->ifindex = ifindex;
#pragma unroll
		for (i = 0; i < SCAN_RETURN_PATHS; i++)
			memo->seen_ns[i] = 0;
	}
#pragma unroll
	for (i = 0; i < SCAN_RETURN_PATHS; i++)
		if (paths & (1U << i))
			memo->seen_ns[i] = now;
	return 0;
}

static __always_inline void
record_udp_peer(const struct scan_contact_key *key, __u64 now)
{
	/* Known: the lookup keeps it recent in the LRU; no write per datagram. */
	if (bpf_map_lookup_elem(&scan_udp_peers, key))
		return;
	bpf_map_update_elem(&scan_udp_peers, key, &now, BPF_NOEXIST);
}

static long
scan_sweep_source(void *map, const struct source_key *source, struct scan_state *state, __u64 *now)
{
	(void)map;
	scan_expire(state, source, *now);
	scan_report(state, source, *now);
	return 0;
}

#endif
