/*
 * Packet parsing for the BPF programs, shared by the XDP program (packets
 * from the VM) and the tc egress program (packets toward it). Modelled on
 * xdp-tools' parsing helpers: a cursor walks the packet and each parse_*
 * function checks its header against the end of the data before it
 * advances. Stricter than the model: IP version, header and total lengths
 * and fragments are checked, so a forged header is counted as malformed
 * rather than read past.
 *
 * A first fragment (offset 0, more to come) may hold only part of its
 * transport header; real servers still answer it once reassembled, so it
 * counts for what it shows: TCP ports and flags sit in the first 14 bytes
 * (RFC 793), UDP ports and ICMP type and code in the first 8. One too short
 * to show them is RFC 1858's tiny-fragment attack: flagged, not counted; so
 * is an IPv6 first fragment whose header chain stops before the upper-layer
 * header (RFC 7112 requires the whole chain in the first fragment). Later
 * fragments have no transport header to look at.
 */
#ifndef ABUSEGUARD_BPF_PARSING_H
#define ABUSEGUARD_BPF_PARSING_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "abuseguard/abuseguard.h"

/*
 * Enough for any sane IPv6 packet. A sender stacking more hides its own
 * transport header, which then is not counted: a known limit.
 */
#define IPV6_EXTENSION_HEADERS_MAX 4

#define IPV4_FRAGMENT_OFFSET 0x1fff /* in iphdr.frag_off, host order */
#define IPV4_MORE_FRAGMENTS  0x2000
#define IPV6_FRAGMENT_OFFSET 0xfff8 /* in the fragment header, host order */
#define IPV6_MORE_FRAGMENTS  0x0001

/* The transport bytes a first fragment must hold to be counted. */
#define TCP_FRAGMENT_MINIMUM 14 /* ports 0-3, flags at 13 */
#define UDP_FRAGMENT_MINIMUM sizeof(struct udphdr)

/* A jumbogram's payload length is elsewhere: only the frame bounds it. */
#define TRANSPORT_LENGTH_UNKNOWN 0xffffffff

/* What the parse_* functions return besides a protocol number. */
#define PARSE_MALFORMED    -1 /* truncated or inconsistent header */
#define PARSE_NO_TRANSPORT -2 /* no transport header to look at (a later fragment) */
#define PARSE_OTHER_L3     -3 /* not IP: ARP, LLDP, ... */

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

/* ARP for IPv4 over Ethernet (RFC 826), the only kind a VM's link carries. */
struct arp_ipv4 {
	__be16 hardware;
	__be16 protocol;
	__u8 hardware_length;
	__u8 protocol_length;
	__be16 operation;
	__u8 sender_mac[ETH_ALEN];
	__u8 sender_ip[4];
	__u8 target_mac[ETH_ALEN];
	__u8 target_ip[4];
};

#define ARP_HARDWARE_ETHERNET 1
#define ARP_REQUEST           1
#define ARP_REPLY             2

struct cursor {
	void *position;
	void *end;
};

/* What the parsers found; a header pointer is NULL where there was none. */
struct packet {
	__u16 ethertype; /* after the VLAN tags, host order */
	__u8 family;     /* SOURCE_FAMILY_IPV4 or SOURCE_FAMILY_IPV6 */
	__u8 vlan_tags;
	__u8 first_fragment;    /* offset 0, more fragments follow */
	__u8 tiny_fragment;     /* a first fragment too short to show ports and flags */
	__u8 fragment_protocol; /* of a tiny fragment: the header it cuts short */
	__u32 fragment_id;      /* of a fragment: its identification, host order */
	__u32 transport_length; /* datagram bytes after the network headers */
	void *network_header;   /* struct iphdr or struct ipv6hdr */
	/* In a first fragment only the bytes TCP_FRAGMENT_MINIMUM names are read. */
	struct tcphdr *tcp;
	struct udphdr *udp;
	struct icmp_header *icmp; /* ICMP or ICMPv6, by family */
	struct arp_ipv4 *arp;     /* an ARP frame for IPv4 over Ethernet */
};

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
	packet->ethertype = protocol;
	return protocol;
}

/* ARP: packet->arp set if it is IPv4 over Ethernet; other kinds are not looked at. */
static __always_inline void
parse_arp(struct cursor *cursor, struct packet *packet)
{
	struct arp_ipv4 *arp = cursor->position;

	if ((void *)(arp + 1) > cursor->end)
		return;
	if (arp->hardware != bpf_htons(ARP_HARDWARE_ETHERNET) ||
	    arp->protocol != bpf_htons(ETH_P_IP) || arp->hardware_length != ETH_ALEN ||
	    arp->protocol_length != 4)
		return;
	packet->arp = arp;
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
	packet->transport_length = total_length - header_length;
	if (ip->frag_off & bpf_htons(IPV4_FRAGMENT_OFFSET))
		return PARSE_NO_TRANSPORT;
	packet->first_fragment = !!(ip->frag_off & bpf_htons(IPV4_MORE_FRAGMENTS));
	packet->fragment_id = bpf_ntohs(ip->id);
	return ip->protocol;
}

static __always_inline int
ipv6_is_extension_header(int next_header)
{
	return next_header == IPPROTO_HOPOPTS || next_header == IPPROTO_ROUTING ||
	       next_header == IPPROTO_DSTOPTS || next_header == IPPROTO_FRAGMENT;
}

/*
 * A header cut short at the cursor: in a first fragment, a tiny fragment
 * (PARSE_NO_TRANSPORT, nothing to count); anywhere else malformed.
 */
static __always_inline int
header_cut_short(struct packet *packet, int protocol)
{
	if (!packet->first_fragment)
		return PARSE_MALFORMED;
	packet->tiny_fragment = 1;
	packet->fragment_protocol = protocol;
	return PARSE_NO_TRANSPORT;
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
	packet->transport_length = payload_length ? payload_length : TRANSPORT_LENGTH_UNKNOWN;
	next_header = ip->nexthdr;

#pragma unroll
	for (i = 0; i < IPV6_EXTENSION_HEADERS_MAX; i++) {
		switch (next_header) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
			option = cursor->position;
			/* After a first fragment's header, the rest may be in the next one. */
			if ((void *)(option + 1) > cursor->end || packet->transport_length < 2)
				return header_cut_short(packet, next_header);
			option_length = (option->hdrlen + 1) * 8;
			if (option_length > packet->transport_length ||
			    cursor->position + option_length > cursor->end)
				return header_cut_short(packet, next_header);
			next_header = option->nexthdr;
			cursor->position += option_length;
			packet->transport_length -= option_length;
			break;
		case IPPROTO_FRAGMENT:
			fragment = cursor->position;
			if (sizeof(*fragment) > packet->transport_length ||
			    (void *)(fragment + 1) > cursor->end)
				return PARSE_MALFORMED;
			if (fragment->frag_off & bpf_htons(IPV6_FRAGMENT_OFFSET))
				return PARSE_NO_TRANSPORT;
			packet->first_fragment =
			    !!(fragment->frag_off & bpf_htons(IPV6_MORE_FRAGMENTS));
			packet->fragment_id = bpf_ntohl(fragment->identification);
			next_header = fragment->nexthdr;
			cursor->position = fragment + 1;
			packet->transport_length -= sizeof(*fragment);
			break;
		default:
			return next_header;
		}
	}
	return ipv6_is_extension_header(next_header) ? PARSE_NO_TRANSPORT : next_header;
}

/*
 * Whether both the datagram and the frame hold length bytes at the cursor.
 * Ethernet may pad a short frame: the datagram's length says where it ends.
 */
static __always_inline int
transport_holds(const struct cursor *cursor, const struct packet *packet, __u32 length)
{
	return length <= packet->transport_length && cursor->position + length <= cursor->end;
}

/*
 * A transport header cut short: in a first fragment, flagged as tiny (0,
 * nothing to count); anywhere else malformed.
 */
static __always_inline int
transport_cut_short(struct packet *packet, int protocol)
{
	return header_cut_short(packet, protocol) == PARSE_MALFORMED ? PARSE_MALFORMED : 0;
}

static __always_inline int
parse_tcp(struct cursor *cursor, struct packet *packet)
{
	struct tcphdr *tcp = cursor->position;
	__u32 header_length;

	if (transport_holds(cursor, packet, sizeof(*tcp))) {
		header_length = tcp->doff * 4;
		if (header_length < sizeof(*tcp))
			return PARSE_MALFORMED;
		if (transport_holds(cursor, packet, header_length)) {
			cursor->position += header_length;
			packet->tcp = tcp;
			return 0;
		}
	}
	/* In a first fragment the rest of the header may be in the next one. */
	if (!packet->first_fragment || !transport_holds(cursor, packet, TCP_FRAGMENT_MINIMUM))
		return transport_cut_short(packet, IPPROTO_TCP);
	cursor->position += TCP_FRAGMENT_MINIMUM;
	packet->tcp = tcp;
	return 0;
}

static __always_inline int
parse_udp(struct cursor *cursor, struct packet *packet)
{
	struct udphdr *udp = cursor->position;

	if (!transport_holds(cursor, packet, UDP_FRAGMENT_MINIMUM) ||
	    (void *)(udp + 1) > cursor->end)
		return transport_cut_short(packet, IPPROTO_UDP);
	cursor->position = udp + 1;
	packet->udp = udp;
	return 0;
}

static __always_inline int
parse_icmp(struct cursor *cursor, struct packet *packet)
{
	struct icmp_header *icmp = cursor->position;

	if (!transport_holds(cursor, packet, sizeof(*icmp)) || (void *)(icmp + 1) > cursor->end)
		return transport_cut_short(
		    packet, packet->family == SOURCE_FAMILY_IPV4 ? IPPROTO_ICMP : IPPROTO_ICMPV6);
	cursor->position = icmp + 1;
	packet->icmp = icmp;
	return 0;
}

/* Returns PARSE_MALFORMED or 0. */
static __always_inline int
parse_transport(struct cursor *cursor, struct packet *packet, int protocol)
{
	switch (protocol) {
	case IPPROTO_TCP:
		return parse_tcp(cursor, packet);
	case IPPROTO_UDP:
		return parse_udp(cursor, packet);
	case IPPROTO_ICMP:
		return packet->family == SOURCE_FAMILY_IPV4 ? parse_icmp(cursor, packet) : 0;
	case IPPROTO_ICMPV6:
		return packet->family == SOURCE_FAMILY_IPV6 ? parse_icmp(cursor, packet) : 0;
	case PARSE_MALFORMED:
		return PARSE_MALFORMED;
	default:
		return 0;
	}
}

/* TCP flags, as byte 13 of the header holds them (RFC 793). */
#define TCP_FLAG_FIN 0x01
#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_RST 0x04
#define TCP_FLAG_ACK 0x10

/*
 * What the accounting needs of a parsed packet, copied out of it: scalars
 * and addresses, no packet pointers. The XDP program hands it to a global
 * BPF function (xdp_account), which the verifier then checks once, not once
 * for every path through the parsers.
 */
struct packet_summary {
	__u8 family;   /* SOURCE_FAMILY_IPV4 or SOURCE_FAMILY_IPV6; 0: not IP, or malformed */
	__u8 protocol; /* IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP(V6) with its header; 0: none */
	__u8 tcp_flags;
	__u8 icmp_type;
	__u16 source_port; /* host order; 0 without TCP or UDP */
	__u16 destination_port;
	__u8 learn;         /* an ARP, NDP or DHCP frame to hand up for learning */
	__u8 arp_operation; /* with protocol SAMPLE_PROTOCOL_ARP: ARP_REQUEST or ARP_REPLY */
	/* A tiny first fragment: the header it cuts short, its bytes and identification. */
	__u8 tiny_fragment;
	__u8 fragment_protocol;
	__u8 fragment_bytes;
	__u8 icmp_code;
	__u8 pad[2];
	__u32 fragment_id;
	/* IPv4 in the first four bytes; of ARP, the sender's and the target's IPv4 addresses */
	__u8 source[16];
	__u8 destination[16];
};

/* Fills *summary from what parse_packet found. */
static __always_inline void
packet_summarize(const struct packet *packet, struct packet_summary *summary)
{
	struct iphdr *ipv4 = packet->network_header;
	struct ipv6hdr *ipv6 = packet->network_header;

	__builtin_memset(summary, 0, sizeof(*summary));
	if (packet->family == SOURCE_FAMILY_IPV4) {
		__builtin_memcpy(summary->source, &ipv4->saddr, 4);
		__builtin_memcpy(summary->destination, &ipv4->daddr, 4);
	} else if (packet->family == SOURCE_FAMILY_IPV6) {
		__builtin_memcpy(summary->source, &ipv6->saddr, 16);
		__builtin_memcpy(summary->destination, &ipv6->daddr, 16);
	} else {
		/* ARP is not IP (family 0); the scan accounting reads its addresses. */
		if (packet->arp && bpf_ntohs(packet->arp->operation) <= 0xff) {
			__builtin_memcpy(summary->source, packet->arp->sender_ip, 4);
			__builtin_memcpy(summary->destination, packet->arp->target_ip, 4);
			summary->protocol = SAMPLE_PROTOCOL_ARP;
			summary->arp_operation = bpf_ntohs(packet->arp->operation);
		}
		return;
	}
	summary->family = packet->family;
	if (packet->tiny_fragment) {
		summary->tiny_fragment = 1;
		summary->fragment_protocol = packet->fragment_protocol;
		summary->fragment_bytes =
		    packet->transport_length > 0xff ? 0xff : packet->transport_length;
		summary->fragment_id = packet->fragment_id;
	}
	if (packet->tcp) {
		summary->protocol = IPPROTO_TCP;
		summary->tcp_flags = ((__u8 *)packet->tcp)[13];
		summary->source_port = bpf_ntohs(packet->tcp->source);
		summary->destination_port = bpf_ntohs(packet->tcp->dest);
	} else if (packet->udp) {
		summary->protocol = IPPROTO_UDP;
		summary->source_port = bpf_ntohs(packet->udp->source);
		summary->destination_port = bpf_ntohs(packet->udp->dest);
	} else if (packet->icmp) {
		summary->protocol =
		    packet->family == SOURCE_FAMILY_IPV4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
		summary->icmp_type = packet->icmp->type;
		summary->icmp_code = packet->icmp->code;
	}
}

/*
 * Ethernet, VLAN tags, IP and the transport header. Returns 0,
 * PARSE_OTHER_L3 for a frame that is not IP (packet->arp set for ARP), or
 * PARSE_MALFORMED; the caller counts what packet->ethertype and vlan_tags say.
 */
static __always_inline int
parse_packet(struct cursor *cursor, struct packet *packet)
{
	int protocol;

	protocol = parse_ethernet(cursor, packet);
	switch (protocol) {
	case PARSE_MALFORMED:
		return PARSE_MALFORMED;
	case ETH_P_IP:
		protocol = parse_ipv4(cursor, packet);
		break;
	case ETH_P_IPV6:
		protocol = parse_ipv6(cursor, packet);
		break;
	case ETH_P_ARP:
		parse_arp(cursor, packet);
		return PARSE_OTHER_L3;
	default:
		return PARSE_OTHER_L3;
	}
	return parse_transport(cursor, packet, protocol) == PARSE_MALFORMED ? PARSE_MALFORMED : 0;
}

#endif
