/*
 * What crosses the kernel/userspace boundary: map keys and values, the
 * ring-buffer record and the counters of the XDP program. Included by
 * bpf/abuseguard.bpf.c and by the daemon; fixed-width types only.
 */
#ifndef ABUSEGUARD_ABUSEGUARD_H
#define ABUSEGUARD_ABUSEGUARD_H

#include <linux/types.h>

#define SOURCE_FAMILY_IPV4 2  /* AF_INET */
#define SOURCE_FAMILY_IPV6 10 /* AF_INET6 */

/* Kinds of abuse. Only spam is detected so far; the others keep their slot. */
enum category { CATEGORY_SPAM = 0, CATEGORY_SCAN = 1, CATEGORY_CRAWLER = 2, CATEGORY_COUNT };

/* Which threshold a spam event crossed first. */
enum spam_reason {
	SPAM_REASON_ATTEMPTS = 1,     /* SMTP connection attempts in the window */
	SPAM_REASON_DESTINATIONS = 2, /* distinct SMTP destinations in the window */
};

/*
 * A source as the ladder sees it: an IPv4 address, or an IPv6 address
 * masked to the policy's prefix (/64 by default). Unused bytes are zero, so
 * the struct can be hashed and compared as bytes.
 */
struct source_key {
	__u8 family; /* SOURCE_FAMILY_IPV4 or SOURCE_FAMILY_IPV6 */
	__u8 prefix_len;
	__u8 pad[2];
	__u8 addr[16]; /* IPv4 in the first four bytes, network order */
};

/* One (source, SMTP destination) pair, to count distinct destinations exactly. */
struct smtp_pair_key {
	struct source_key source;
	__u8 destination[16];
};

/* Per-source state, one fixed window at a time. */
struct source_state {
	__u64 window_start_ns;
	__u64 last_seen_ns;
	__u32 smtp_attempts;
	__u32 smtp_destinations;
	__u32 reported; /* bit (1 << category): an event already went out in this window */
	__u32 pad;
};

#define EVENT_SAMPLES 4

/* One destination a source contacted, as a detector saw it. */
struct event_sample {
	__u8 address[16]; /* IPv4 in the first four bytes, network order */
	__u16 port;       /* host order; 0 where there is none (ICMP) */
	__u8 family;      /* SOURCE_FAMILY_IPV4 or SOURCE_FAMILY_IPV6 */
	__u8 protocol;    /* IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, ... */
};

/*
 * What a detector counts in a window. Each category fills what it counts
 * and leaves the rest zero: spam fills attempts (SMTP connection attempts)
 * and destinations.
 */
struct event_counts {
	__u32 attempts;     /* what the category counts: SMTP attempts, probes, packets */
	__u32 destinations; /* distinct destination hosts */
	__u32 ports;        /* distinct destination ports */
	__u32 failures;     /* first contacts that failed or were rejected */
	__u32 successes;    /* first contacts that were answered */
};

/*
 * The ring-buffer record every BPF detector fills: a source crossed one of
 * its category's thresholds. At most one per source, category and window.
 */
struct abuse_event {
	__u64 time_ns; /* program clock: CLOCK_MONOTONIC live, capture time in replay */
	__u64 window_start_ns;
	struct source_key source;
	__u32 ifindex;
	__u8 category;     /* enum category */
	__u8 reason;       /* the category's threshold crossed first: enum spam_reason, ... */
	__u8 sample_count; /* valid entries in samples, at most EVENT_SAMPLES */
	__u8 pad;
	struct event_counts counts;
	__u32 pad2;
	struct event_sample samples[EVENT_SAMPLES]; /* the latest first */
};

/*
 * Thresholds, in the program's .data section: the daemon writes them before
 * load and may rewrite them on reload without reloading the program.
 */
struct xdp_thresholds {
	__u64 window_ns;
	__u32 smtp_attempts;
	__u32 smtp_destinations;
	__u32 ipv6_prefix_len;
	__u32 pad;
};

/* Indexes into the per-CPU "counters" array. */
enum xdp_counter {
	COUNTER_PACKETS = 0,
	COUNTER_IPV4,
	COUNTER_IPV6,
	COUNTER_VLAN,
	COUNTER_OTHER_L3,      /* not IP: ARP, LLDP, ... */
	COUNTER_MALFORMED,     /* truncated or inconsistent headers */
	COUNTER_SMTP_ATTEMPTS, /* TCP SYN to 25, 465, 587 */
	COUNTER_SOURCES_NEW,   /* sources inserted into the LRU map */
	COUNTER_EVENTS,        /* threshold events written to the ring buffer */
	COUNTER_EVENTS_LOST,   /* ring buffer full: event dropped */
	COUNTER_COUNT
};

#endif
