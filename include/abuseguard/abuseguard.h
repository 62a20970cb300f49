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
/*
 * A VM-facing interface as a scan source, its ifindex in addr (host order):
 * what a VM asks on its link (ARP) carries a sender address it may forge,
 * so a host-discovery sweep is charged to the interface, and the daemon
 * names the VM's own address, as for spoofing. Never on the ladder itself.
 */
#define SOURCE_FAMILY_INTERFACE 255

/*
 * The protocol of an ARP request in a first contact and its sample: not an
 * IP protocol (IANA reserves 255). The sample's address is the IPv4 address
 * asked for, its port 0.
 */
#define SAMPLE_PROTOCOL_ARP 255

/* Kinds of abuse. The crawler keeps its slot for the detector to come. */
enum category {
	CATEGORY_SPAM = 0,
	CATEGORY_SCAN = 1,
	CATEGORY_CRAWLER = 2,
	CATEGORY_SPOOFING = 3, /* a VM sent packets from sources that are not its own */
	CATEGORY_EVASION = 4,  /* packets shaped to slip past filters: tiny first fragments */
	CATEGORY_COUNT
};

/* Which threshold a spam event crossed first. */
enum spam_reason {
	SPAM_REASON_ATTEMPTS = 1,     /* SMTP connection attempts in the window */
	SPAM_REASON_DESTINATIONS = 2, /* distinct SMTP destinations in the window */
};

/* Which test a scan event passed first. */
enum scan_reason {
	SCAN_REASON_SEQUENTIAL = 1, /* failed first contacts outweigh answered ones (TRW) */
	SCAN_REASON_HORIZONTAL = 2, /* failed first contacts, most to one port */
	SCAN_REASON_VERTICAL = 3,   /* failed first contacts, most to one host */
	SCAN_REASON_ARP = 4,        /* unanswered ARP requests outweigh answered ones */
};

/* Why an evasion event went out. */
enum evasion_reason {
	/* first fragments too short to show the transport header (RFC 1858, RFC 7112) */
	EVASION_REASON_TINY_FRAGMENTS = 1,
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

/* Per-source state, one fixed window at a time. */
struct source_state {
	__u64 window_start_ns;
	__u64 last_seen_ns;
	__u32 smtp_attempts;
	__u32 smtp_destinations;
	__u32 reported;       /* bit (1 << category): an event already went out in this window */
	__u32 tiny_fragments; /* first fragments too short to show ports and flags */
};

#define EVENT_SAMPLES 4

/* One destination a source contacted, as a detector saw it. */
struct event_sample {
	__u8 address[16];  /* IPv4 in the first four bytes, network order */
	__u16 port;        /* host order; 0 where there is none (ICMP) */
	__u8 family;       /* SOURCE_FAMILY_IPV4 or SOURCE_FAMILY_IPV6 */
	__u8 protocol;     /* IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, ... */
	__u16 source_port; /* the VM's own port of a scan probe (X-ARF source_port); 0 none */
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
	__u64 time_ns; /* program clock: CLOCK_MONOTONIC_COARSE live, capture time in replay */
	__u64 window_start_ns;
	struct source_key source;
	__u32 ifindex;
	__u8 category;     /* enum category */
	__u8 reason;       /* the category's threshold crossed first: enum spam_reason, ... */
	__u8 sample_count; /* valid entries in samples, at most EVENT_SAMPLES */
	/* Evasion: the latest tiny first fragment's transport bytes and identification. */
	__u8 fragment_bytes;
	struct event_counts counts;
	__u32 fragment_id;                          /* IPv4's 16 bits or IPv6's 32, host order */
	struct event_sample samples[EVENT_SAMPLES]; /* the latest first */
};

/*
 * A first contact: a source's probe of one (destination, port, protocol), port
 * 0 for ICMP. The tc egress program finds it again from the reply.
 */
struct scan_contact_key {
	struct source_key source;
	__u8 destination[16];
	__u16 port; /* host order */
	__u8 protocol;
	__u8 pad;
};

enum scan_contact_state {
	SCAN_CONTACT_PENDING = 1,  /* sent, no outcome yet */
	SCAN_CONTACT_ANSWERED = 2, /* answered or rejected: the outcome is counted */
	/*
	 * A flag beside either: the destination answered the source once (kept
	 * while the entry lives, over windows). Its answer counts again in a
	 * later window; its silence or refusal does not (not in the buckets).
	 */
	SCAN_CONTACT_KNOWN = 0x100,
};

/*
 * A contact's entry also counts SMTP destinations: the entry of (host, port
 * 25) holds the window in which the source's SMTP attempts to that host, on
 * any SMTP port, last counted it, so that an SMTP SYN looks up one map for
 * both detectors. An entry only SMTP wrote has sent_ns 0 and no state.
 */
struct scan_contact {
	__u64 sent_ns;
	__u64 smtp_window_ns; /* the source's SMTP window_start_ns when the host last counted */
	__u32 state;          /* enum scan_contact_state; 0: no probe outstanding or answered */
	__u32 ifindex;
};

/*
 * Probes still waiting for an outcome, by the time they were sent: bucket
 * i counts the probes sent in [epoch * width, (epoch + 1) * width), width
 * being a quarter of the timeout. What is left in a bucket once the timeout
 * has passed for all of it timed out.
 */
#define SCAN_BUCKETS 8

struct scan_bucket {
	__u64 epoch;
	__u32 outstanding;
	__u32 pad;
};

/* Per-source scan state, one window at a time. */
struct scan_state {
	__u64 window_start_ns;
	__u64 last_seen_ns;
	__u32 ifindex;
	__s32 score; /* the sequential test: +1 per failed first contact, -1 per answered */
	__u32 probes, failures, successes, no_outcome;
	/* Majority votes (Boyer-Moore) over first contacts: the dominant port and host. */
	__u32 port_votes;
	__u16 port;
	__u8 port_protocol;
	__u8 pad;
	__u32 host_votes;
	__u32 reported; /* an event already went out in this window */
	__u32 sample_next;
	__u32 pad2;
	__u8 host[16];
	struct scan_bucket buckets[SCAN_BUCKETS];
	struct event_sample samples[EVENT_SAMPLES]; /* a ring: the latest first contacts */
};

/*
 * The return paths of an interface, each proved apart: a VM whose IPv6
 * replies never come back while its IPv4 works must have its IPv6 timeouts
 * judged as no outcome, not as failures.
 */
enum scan_return_path {
	SCAN_RETURN_PATH_LINK = 0, /* any frame toward the VM: its ARP requests' answers */
	SCAN_RETURN_PATH_IPV4,     /* routed IPv4 toward the VM */
	SCAN_RETURN_PATH_IPV6,     /* routed IPv6 toward the VM */
	SCAN_RETURN_PATHS
};

/* Per VM-facing interface: its probes' quota, and whether replies are seen at all. */
struct scan_interface {
	/* When a packet toward the VM last proved each return path; 0: never. */
	__u64 return_path_ns[SCAN_RETURN_PATHS];
	struct scan_bucket buckets[SCAN_BUCKETS];
};

/*
 * The tc program's memo of the return paths it last wrote for an interface
 * (in .bss, direct-mapped by ifindex): where they are all fresh, a packet
 * toward the VM skips the scan_interfaces lookup. A hint only; the map is
 * what counts.
 */
#define SCAN_RETURN_PATH_MEMOS 1024

struct scan_return_path_memo {
	__u32 ifindex;
	__u32 pad;
	__u64
	    seen_ns[SCAN_RETURN_PATHS]; /* as written into scan_interfaces; 0: not by this owner */
};

/* Scan settings, in .data like the thresholds; zero thresholds switch a test off. */
struct scan_settings {
	__u64 window_ns;
	__u64 timeout_ns;
	__u64 return_path_ns; /* replies seen within this long: timeouts count as failures */
	__u32 enabled;
	__u32 sequential;     /* net failed first contacts (TRW) */
	__u32 hosts_per_port; /* failed first contacts, three quarters to one port */
	__u32 ports_per_host; /* failed first contacts, three quarters to one host */
	__u32 pending_per_interface;
	__u32 arp_hosts; /* net unanswered ARP requests of an interface (a sweep of its link) */
};

/* Ignored destination ports, a bitmap: bit (port % 64) of word (port / 64). */
#define SCAN_PORT_WORDS 1024

/*
 * Thresholds, in the program's .data section: the daemon writes them before
 * load and may rewrite them on reload without reloading the program.
 */
struct xdp_thresholds {
	__u64 window_ns;
	__u32 smtp_attempts;
	__u32 smtp_destinations;
	__u32 ipv6_prefix_len;
	__u32 tiny_fragments; /* per source and window that make an evasion event; 0: none */
};

/* Indexes into the per-CPU "counters" array. */
enum xdp_counter {
	COUNTER_PACKETS = 0,
	COUNTER_IPV4,
	COUNTER_IPV6,
	COUNTER_VLAN,
	COUNTER_OTHER_L3,            /* not IP: ARP, LLDP, ... */
	COUNTER_MALFORMED,           /* truncated or inconsistent headers */
	COUNTER_SMTP_ATTEMPTS,       /* TCP SYN to 25, 465, 587 */
	COUNTER_SOURCES_NEW,         /* sources inserted into the LRU map */
	COUNTER_EVENTS,              /* threshold events written to the ring buffer */
	COUNTER_EVENTS_LOST,         /* ring buffer full: event dropped */
	COUNTER_SCAN_PROBES,         /* first contacts: TCP SYN, UDP, ICMP echo or timestamp */
	COUNTER_SCAN_ANSWERED,       /* first contacts answered (SYN-ACK, UDP, echo reply) */
	COUNTER_SCAN_REJECTED,       /* first contacts rejected (RST, ICMP unreachable) */
	COUNTER_SCAN_TIMEOUTS,       /* first contacts with no outcome within the timeout */
	COUNTER_SCAN_NO_RETURN_PATH, /* timeouts where the interface shows no replies of the
	                              * probe's family: no verdict */
	COUNTER_SCAN_QUOTA,          /* probes not tracked: the interface's pending quota is full */
	COUNTER_SCAN_SOURCES_NEW,    /* sources inserted into the scan LRU map */
	COUNTER_SPOOFED,             /* packets whose source is not their interface's */
	COUNTER_UNVERIFIED,          /* IP packets on an interface with no known address */
	COUNTER_LEARN_FRAMES,        /* ARP/NDP/DHCP frames handed up to learn from */
	COUNTER_LEARN_DROPPED,       /* such frames past an interface's quota or the full ring */
	COUNTER_INTERFACE_QUOTA,    /* new sources refused: their interface's quota in the window */
	COUNTER_PAIRS_CAPPED,       /* SMTP pairs not tracked: the source is past its threshold */
	COUNTER_TINY_FRAGMENTS,     /* first fragments too short to show ports and flags */
	COUNTER_SCAN_NO_UPSTREAM,   /* timeouts of probes sent after anything from beyond the
	                             * host last came back to any VM: an outage, no verdict */
	COUNTER_SCAN_NO_ROUTE,      /* routers' "no route to the network": no verdict */
	COUNTER_SCAN_KNOWN_REFUSED, /* refused by a destination that answered the source before */
	COUNTER_COUNT
};

#include "abuseguard/attribution.h"

#endif
