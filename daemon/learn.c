/*
 * Learning parser: Ethernet (up to two VLAN tags), then ARP, ICMPv6 NDP or
 * DHCP over UDP/IPv4. A cursor walks the frame; every read is checked.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "addrclass.h"
#include "learn.h"

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_ARP  0x0806
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_VLAN 0x8100
#define ETHERTYPE_QINQ 0x88a8

#define ARP_REQUEST 1
#define ARP_REPLY   2

#define ICMPV6_ROUTER_SOLICITATION    133
#define ICMPV6_NEIGHBOR_SOLICITATION  135
#define ICMPV6_NEIGHBOR_ADVERTISEMENT 136
#define NDP_OPTION_SOURCE_LINK_LAYER  1
#define NDP_OPTION_TARGET_LINK_LAYER  2
#define NDP_HOP_LIMIT                 255 /* RFC 4861: anything else was routed */

#define DHCP_CLIENT_PORT              68
#define DHCP_SERVER_PORT              67
#define BOOTP_FIXED_BYTES             236
#define DHCP_MAGIC                    0x63825363u
#define DHCP_OPTION_PAD               0
#define DHCP_OPTION_END               255
#define DHCP_OPTION_REQUESTED_ADDRESS 50
#define DHCP_OPTION_MESSAGE_TYPE      53
#define DHCP_REQUEST                  3
#define DHCP_ACK                      5
#define DHCP_INFORM                   8

struct cursor {
	const unsigned char *position;
	const unsigned char *end;
};

static size_t
remaining(const struct cursor *cursor)
{
	return (size_t)(cursor->end - cursor->position);
}

/* The next n bytes, or NULL when the frame is shorter. */
static const unsigned char *
take(struct cursor *cursor, size_t n)
{
	const unsigned char *start = cursor->position;

	if (remaining(cursor) < n)
		return NULL;
	cursor->position += n;
	return start;
}

static uint16_t
be16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void
address_set(struct learned *out, unsigned char family, const unsigned char *addr)
{
	memset(&out->address, 0, sizeof(out->address));
	out->address.family = family;
	out->address.len = family == SOURCE_FAMILY_IPV4 ? 32 : 128;
	memcpy(out->address.addr, addr, family == SOURCE_FAMILY_IPV4 ? 4 : 16);
}

/* 1 if the learned address is one a VM may hold, else 0. */
static int
ownable_or_nothing(const struct learned *out)
{
	return address_ownable(&out->address, NULL, 0) ? 1 : 0;
}

static int
parse_arp(struct cursor *cursor, const unsigned char *frame_source, struct learned *out)
{
	static const unsigned char zero[4];
	const unsigned char *arp = take(cursor, 28);
	uint16_t operation;

	if (arp == NULL)
		return -EINVAL;
	if (be16(arp) != 1 || be16(arp + 2) != ETHERTYPE_IPV4 || arp[4] != 6 || arp[5] != 4)
		return 0; /* not Ethernet/IPv4 ARP */
	operation = be16(arp + 6);
	if (operation != ARP_REQUEST && operation != ARP_REPLY)
		return 0;
	/* A sender hardware address that is not the frame's is someone else's claim. */
	if (memcmp(arp + 8, frame_source, 6) != 0)
		return 0;
	/* Sender 0.0.0.0: an ARP probe (RFC 5227), the address is not taken yet. */
	if (memcmp(arp + 14, zero, 4) == 0)
		return 0;
	out->origin = VM_ORIGIN_ARP;
	memcpy(out->mac, frame_source, 6);
	address_set(out, SOURCE_FAMILY_IPV4, arp + 14);
	return ownable_or_nothing(out);
}

/* A link-layer address option that names another MAC than the frame's: 0. */
static int
ndp_options_agree(struct cursor *cursor, const unsigned char *frame_source)
{
	while (remaining(cursor) >= 2) {
		const unsigned char *option = cursor->position;
		size_t option_length = (size_t)option[1] * 8;

		if (option_length == 0 || take(cursor, option_length) == NULL)
			return -EINVAL;
		if ((option[0] == NDP_OPTION_SOURCE_LINK_LAYER ||
		     option[0] == NDP_OPTION_TARGET_LINK_LAYER) &&
		    (option_length < 8 || memcmp(option + 2, frame_source, 6) != 0))
			return 0;
	}
	return remaining(cursor) == 0 ? 1 : -EINVAL;
}

static int
parse_ipv6(struct cursor *cursor, const unsigned char *frame_source, struct learned *out)
{
	static const unsigned char unspecified[16];
	const unsigned char *ip = take(cursor, 40), *icmp, *source, *learned;
	size_t payload_length;
	int agree;

	if (ip == NULL || (ip[0] >> 4) != 6)
		return -EINVAL;
	payload_length = be16(ip + 4);
	if (payload_length > remaining(cursor))
		return -EINVAL;
	cursor->end = cursor->position + payload_length; /* Ethernet padding is not options */
	if (ip[6] != 58 /* ICMPv6, no extension headers in NDP */ || ip[7] != NDP_HOP_LIMIT)
		return 0;
	source = ip + 8;
	if ((icmp = take(cursor, 4)) == NULL)
		return -EINVAL;
	switch (icmp[0]) {
	case ICMPV6_ROUTER_SOLICITATION:
		if (take(cursor, 4) == NULL)
			return -EINVAL;
		learned = source;
		break;
	case ICMPV6_NEIGHBOR_SOLICITATION:
	case ICMPV6_NEIGHBOR_ADVERTISEMENT: {
		const unsigned char *target;

		if (take(cursor, 4) == NULL || (target = take(cursor, 16)) == NULL)
			return -EINVAL;
		/*
		 * An advertisement announces its target; a solicitation from
		 * :: is duplicate address detection, the target is the
		 * address the VM is about to use; any other solicitation
		 * comes from an address the VM uses.
		 */
		learned =
		    icmp[0] == ICMPV6_NEIGHBOR_ADVERTISEMENT || memcmp(source, unspecified, 16) == 0
		        ? target
		        : source;
		break;
	}
	default:
		return 0;
	}
	if ((agree = ndp_options_agree(cursor, frame_source)) <= 0)
		return agree;
	out->origin = VM_ORIGIN_NDP;
	memcpy(out->mac, frame_source, 6);
	address_set(out, SOURCE_FAMILY_IPV6, learned);
	return ownable_or_nothing(out);
}

struct dhcp_options {
	int message_type;               /* -1 if absent */
	const unsigned char *requested; /* 4 bytes, or NULL */
};

static int
dhcp_options_read(struct cursor *cursor, struct dhcp_options *options)
{
	const unsigned char *magic = take(cursor, 4);

	options->message_type = -1;
	options->requested = NULL;
	if (magic == NULL || be32(magic) != DHCP_MAGIC)
		return -EINVAL;
	while (remaining(cursor) > 0) {
		const unsigned char *code = take(cursor, 1), *length, *value;

		if (*code == DHCP_OPTION_END)
			return 0;
		if (*code == DHCP_OPTION_PAD)
			continue;
		if ((length = take(cursor, 1)) == NULL || (value = take(cursor, *length)) == NULL)
			return -EINVAL;
		if (*code == DHCP_OPTION_MESSAGE_TYPE && *length == 1)
			options->message_type = value[0];
		else if (*code == DHCP_OPTION_REQUESTED_ADDRESS && *length == 4)
			options->requested = value;
	}
	return 0; /* no END option: tolerated, as servers do */
}

static int
parse_dhcp(struct cursor *cursor, const unsigned char *frame_source, struct learned *out)
{
	static const unsigned char zero[4];
	const unsigned char *udp = take(cursor, 8), *bootp, *address;
	struct dhcp_options options;
	uint16_t source_port, destination_port;
	size_t udp_length;
	int error;

	if (udp == NULL)
		return -EINVAL;
	source_port = be16(udp);
	destination_port = be16(udp + 2);
	udp_length = be16(udp + 4);
	if (!((source_port == DHCP_CLIENT_PORT && destination_port == DHCP_SERVER_PORT) ||
	      (source_port == DHCP_SERVER_PORT && destination_port == DHCP_CLIENT_PORT)))
		return 0;
	if (udp_length < 8 || udp_length - 8 > remaining(cursor))
		return -EINVAL;
	cursor->end = cursor->position + (udp_length - 8);
	if ((bootp = take(cursor, BOOTP_FIXED_BYTES)) == NULL)
		return -EINVAL;
	if (bootp[1] != 1 || bootp[2] != 6) /* Ethernet hardware addresses only */
		return 0;
	if ((error = dhcp_options_read(cursor, &options)) < 0)
		return error;
	if (source_port == DHCP_CLIENT_PORT) {
		/* From the VM: the client hardware address must be the frame's. */
		if (bootp[0] != 1 || memcmp(bootp + 28, frame_source, 6) != 0)
			return 0;
		if (options.message_type == DHCP_REQUEST && options.requested != NULL)
			address = options.requested; /* selecting or init-reboot */
		else if (options.message_type == DHCP_REQUEST ||
		         options.message_type == DHCP_INFORM)
			address = bootp + 12; /* ciaddr: renewing, rebinding, inform */
		else
			return 0;
		out->toward_vm = false;
		memcpy(out->mac, frame_source, 6);
	} else {
		/* From a server: only its ACK gives an address. */
		if (bootp[0] != 2 || options.message_type != DHCP_ACK)
			return 0;
		address = bootp + 16; /* yiaddr */
		out->toward_vm = true;
		memcpy(out->mac, bootp + 28, 6);
	}
	if (memcmp(address, zero, 4) == 0)
		return 0;
	out->origin = VM_ORIGIN_DHCP;
	address_set(out, SOURCE_FAMILY_IPV4, address);
	return ownable_or_nothing(out);
}

static int
parse_ipv4(struct cursor *cursor, const unsigned char *frame_source, struct learned *out)
{
	const unsigned char *ip = take(cursor, 20);
	size_t header_length, total_length;

	if (ip == NULL || (ip[0] >> 4) != 4 || (ip[0] & 0x0f) < 5)
		return -EINVAL;
	header_length = (size_t)(ip[0] & 0x0f) * 4;
	total_length = be16(ip + 2);
	if (total_length < header_length || total_length - 20 > remaining(cursor))
		return -EINVAL;
	cursor->end = cursor->position + (total_length - 20);
	if (take(cursor, header_length - 20) == NULL)
		return -EINVAL;
	/* A fragment's transport header, if any, is not where DHCP would be read. */
	if (ip[9] != 17 /* UDP */ || (be16(ip + 6) & 0x3fff) != 0)
		return 0;
	return parse_dhcp(cursor, frame_source, out);
}

int
learn_parse(const void *frame, size_t length, struct learned *out)
{
	struct cursor cursor = {frame, (const unsigned char *)frame + length};
	const unsigned char *ethernet = take(&cursor, 14), *source, *tag;
	uint16_t ethertype;

	memset(out, 0, sizeof(*out));
	if (ethernet == NULL)
		return -EINVAL;
	source = ethernet + 6;
	ethertype = be16(ethernet + 12);
	for (int tags = 0; tags < 2 && (ethertype == ETHERTYPE_VLAN || ethertype == ETHERTYPE_QINQ);
	     tags++) {
		if ((tag = take(&cursor, 4)) == NULL)
			return -EINVAL;
		ethertype = be16(tag + 2);
	}
	switch (ethertype) {
	case ETHERTYPE_ARP:
		return parse_arp(&cursor, source, out);
	case ETHERTYPE_IPV6:
		return parse_ipv6(&cursor, source, out);
	case ETHERTYPE_IPV4:
		return parse_ipv4(&cursor, source, out);
	default:
		return 0;
	}
}
