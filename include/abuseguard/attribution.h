/*
 * Attribution, what crosses the kernel/userspace boundary: the interfaces'
 * addresses the daemon writes, the per-interface state the XDP program
 * keeps, and the frames it hands up to learn from. Fixed-width types only.
 */
#ifndef ABUSEGUARD_ATTRIBUTION_H
#define ABUSEGUARD_ATTRIBUTION_H

#include <linux/types.h>

/*
 * A key of the LPM trie "vm_addresses": an interface and one of its
 * addresses. prefixlen counts the 32 bits of ifindex plus the address's
 * prefix length out of 128; IPv4 is mapped (::ffff:a.b.c.d), so IPv4
 * addresses and IPv6 prefixes share one lookup. Under ifindex 0 the trie
 * holds every interface's addresses again, the value naming the interface,
 * so an interface with no known address still cannot use another's.
 */
struct vm_address_key {
	__u32 prefixlen;
	__u32 ifindex; /* network order, as the trie compares bytes */
	__u8 addr[16];
};

/*
 * A key of the hash "vm_sources": an interface and one of its addresses of
 * the common lengths, an IPv4 /32 or an IPv6 /64, which a packet's source
 * finds in one exact lookup, cheaper than the trie's walk. The trie holds
 * the other lengths, and an interface with any says so in its policy
 * (INTERFACE_PREFIXES). Under ifindex 0 every interface's again, as in the
 * trie. family is the trie's: an IPv6 source in ::ffff:0:0/96 looks up
 * IPv4, as the trie maps it.
 */
struct vm_source_key {
	__u32 ifindex; /* host order */
	__u8 family;   /* SOURCE_FAMILY_IPV4 or SOURCE_FAMILY_IPV6 */
	__u8 pad[3];
	__u8 addr[8]; /* IPv4 in the first four bytes; IPv6: its /64 prefix */
};

struct vm_address_value {
	__u32 ifindex; /* the interface that holds the address */
	__u32 origin;  /* enum vm_origin, for people */
};

/*
 * "interface_policies", by ifindex, written by the daemon. Strict per
 * family: a VM learned only by ARP still sends IPv6 from addresses NDP has
 * not shown yet. Configured addresses are complete: the daemon sets both
 * families' flags.
 */
#define INTERFACE_KNOWN_IPV4 1u  /* IPv4 addresses known: any other IPv4 source is spoofed */
#define INTERFACE_CONFIGURED 2u  /* configured (policy, operator), not learned */
#define INTERFACE_DROP       4u  /* spoofing.action = "drop": forged packets stop in XDP */
#define INTERFACE_KNOWN_IPV6 8u  /* IPv6 prefixes known: any other IPv6 source is spoofed */
#define INTERFACE_PREFIXES   16u /* some of its addresses are in the trie, not "vm_sources" */

struct interface_policy {
	__u32 flags;
	__u32 pad;
};

/* "interface_states", by ifindex, kept by the program: one window at a time. */
struct interface_state {
	__u64 window_start_ns;
	__u64 spoofed;         /* packets whose source is not the interface's */
	__u64 unverified;      /* IP packets while the interface has no known address */
	__u64 learn_sent;      /* frames handed up to learn from */
	__u64 learn_dropped;   /* frames not handed up: the window's quota, or the ring full */
	__u64 sources_refused; /* new sources not tracked: the window's quota */
	__u32 window_spoofed;
	__u32 window_learn;
	__u32 window_sources; /* new sources in "sources" (SMTP) this window */
	__u32 reported;       /* a spoofing event went out in this window */
	__u32 sample_count;
	__u32 window_scan_sources;                  /* new sources in "scan_sources" this window */
	struct event_sample samples[EVENT_SAMPLES]; /* forged sources, first seen first */
};

/* Ring "learn_frames": the start of an ARP, NDP or DHCP frame from a VM. */
#define LEARN_FRAME_BYTES 512

struct learn_frame {
	__u64 time_ns;
	__u32 ifindex;
	__u32 length; /* bytes of data used */
	__u8 data[LEARN_FRAME_BYTES];
};

/* Attribution settings, in .data like the thresholds. */
struct attribution_settings {
	__u32 spoof_packets;     /* spoofed packets in a window that make an event; 0: none */
	__u32 learn_frames;      /* frames an interface may hand up per window */
	__u32 interface_sources; /* new sources an interface may add per window */
	__u32 pad;
};

/* Why a spoofing event went out. */
enum spoof_reason {
	SPOOF_REASON_PACKETS = 1, /* spoofing.packets forged packets in the window */
};

#endif
