/* Frames, clock and statistics shared by the benchmark programs: see bench.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/ethernet.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

#define VLAN_HEADER_BYTES 4
#define TTL               64

/* Ones' complement sum, carried on across calls for the pseudo-header. */
static uint32_t
checksum_add(uint32_t sum, const void *data, size_t length)
{
	const uint8_t *bytes = data;

	for (size_t i = 0; i + 1 < length; i += 2)
		sum += (uint32_t)bytes[i] << 8 | bytes[i + 1];
	if (length % 2)
		sum += (uint32_t)bytes[length - 1] << 8;
	return sum;
}

static uint16_t
checksum_finish(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

static uint32_t
pseudo_header_sum(const struct frame_spec *spec, size_t transport_length)
{
	size_t address_bytes = spec->family == AF_INET ? 4 : 16;
	uint32_t sum = 0;

	sum = checksum_add(sum, spec->source, address_bytes);
	sum = checksum_add(sum, spec->destination, address_bytes);
	return sum + (uint32_t)spec->protocol + (uint32_t)transport_length;
}

#define ICMP_HEADER_BYTES 8

static size_t
transport_header_bytes(int protocol)
{
	if (protocol == IPPROTO_TCP)
		return sizeof(struct tcphdr);
	if (protocol == IPPROTO_UDP)
		return sizeof(struct udphdr);
	return ICMP_HEADER_BYTES;
}

/* Writes the TCP, UDP or ICMP header and payload at out; returns their length. */
static size_t
transport_build(const struct frame_spec *spec, unsigned char *out)
{
	size_t length;
	uint16_t *checksum;

	if (spec->protocol == IPPROTO_ICMP || spec->protocol == IPPROTO_ICMPV6) {
		length = ICMP_HEADER_BYTES + spec->payload_bytes;
		memset(out, 0, length);
		out[0] = spec->icmp_type;
		out[1] = spec->icmp_code;
		if (spec->payload != NULL)
			memcpy(out + ICMP_HEADER_BYTES, spec->payload, spec->payload_bytes);
		checksum = (uint16_t *)(out + 2);
		/* ICMPv4 sums the message alone, ICMPv6 the pseudo-header too. */
		*checksum = checksum_finish(checksum_add(
		    spec->protocol == IPPROTO_ICMPV6 ? pseudo_header_sum(spec, length) : 0, out,
		    length));
		return length;
	}
	if (spec->protocol == IPPROTO_TCP) {
		struct tcphdr *tcp = (struct tcphdr *)out;

		length = sizeof(*tcp) + spec->payload_bytes;
		memset(out, 0, length);
		tcp->th_sport = htons(spec->source_port);
		tcp->th_dport = htons(spec->destination_port);
		tcp->th_seq = htonl(spec->tcp_sequence);
		tcp->th_ack = spec->tcp_flags & TH_ACK ? htonl(1) : 0;
		tcp->th_off = sizeof(*tcp) / 4;
		tcp->th_flags = spec->tcp_flags;
		tcp->th_win = htons(65535);
		if (spec->payload != NULL)
			memcpy(out + sizeof(*tcp), spec->payload, spec->payload_bytes);
		checksum = &tcp->th_sum;
	} else {
		struct udphdr *udp = (struct udphdr *)out;

		length = sizeof(*udp) + spec->payload_bytes;
		memset(out, 0, length);
		udp->uh_sport = htons(spec->source_port);
		udp->uh_dport = htons(spec->destination_port);
		udp->uh_ulen = htons((uint16_t)length);
		checksum = &udp->uh_sum;
	}
	*checksum = checksum_finish(checksum_add(pseudo_header_sum(spec, length), out, length));
	return length;
}

size_t
frame_build(const struct frame_spec *spec, unsigned char *out)
{
	struct ether_header *ethernet = (struct ether_header *)out;
	size_t offset = sizeof(*ethernet), network_bytes, transport_bytes;
	uint16_t ethertype = spec->family == AF_INET ? ETHERTYPE_IP : ETHERTYPE_IPV6;

	network_bytes = spec->family == AF_INET ? sizeof(struct ip) : sizeof(struct ip6_hdr);
	transport_bytes = transport_header_bytes(spec->protocol) + spec->payload_bytes;
	if (offset + VLAN_HEADER_BYTES + network_bytes + transport_bytes > FRAME_BYTES_MAX)
		return 0;
	memcpy(ethernet->ether_dhost, spec->destination_mac, ETH_ALEN);
	memcpy(ethernet->ether_shost, spec->source_mac, ETH_ALEN);
	if (spec->vlan_id != 0) {
		uint16_t tag[2] = {htons(spec->vlan_id), htons(ethertype)};

		ethernet->ether_type = htons(ETHERTYPE_VLAN);
		memcpy(out + offset, tag, sizeof(tag));
		offset += VLAN_HEADER_BYTES;
	} else {
		ethernet->ether_type = htons(ethertype);
	}
	transport_bytes = transport_build(spec, out + offset + network_bytes);
	if (spec->family == AF_INET) {
		struct ip *ip = (struct ip *)(out + offset);

		memset(ip, 0, sizeof(*ip));
		ip->ip_v = 4;
		ip->ip_hl = sizeof(*ip) / 4;
		ip->ip_len = htons((uint16_t)(sizeof(*ip) + transport_bytes));
		ip->ip_off = htons(IP_DF);
		ip->ip_ttl = TTL;
		ip->ip_p = (uint8_t)spec->protocol;
		memcpy(&ip->ip_src, spec->source, 4);
		memcpy(&ip->ip_dst, spec->destination, 4);
		ip->ip_sum = checksum_finish(checksum_add(0, ip, sizeof(*ip)));
	} else {
		struct ip6_hdr *ip = (struct ip6_hdr *)(out + offset);

		memset(ip, 0, sizeof(*ip));
		ip->ip6_flow = htonl(6u << 28);
		ip->ip6_plen = htons((uint16_t)transport_bytes);
		ip->ip6_nxt = (uint8_t)spec->protocol;
		ip->ip6_hlim = TTL;
		memcpy(&ip->ip6_src, spec->source, 16);
		memcpy(&ip->ip6_dst, spec->destination, 16);
	}
	return offset + network_bytes + transport_bytes;
}

int
frame_set_addresses(struct frame_spec *spec, const char *source, const char *destination)
{
	spec->family = strchr(source, ':') != NULL ? AF_INET6 : AF_INET;
	memset(spec->source, 0, sizeof(spec->source));
	memset(spec->destination, 0, sizeof(spec->destination));
	if (inet_pton(spec->family, source, spec->source) != 1 ||
	    inet_pton(spec->family, destination, spec->destination) != 1)
		return -EINVAL;
	return 0;
}

void
frame_set_numbered_source(struct frame_spec *spec, uint32_t index)
{
	if (spec->family == AF_INET) {
		/* The first byte stays: 10.x.y.z */
		spec->source[1] = (uint8_t)(index >> 16);
		spec->source[2] = (uint8_t)(index >> 8);
		spec->source[3] = (uint8_t)index;
	} else {
		/* Bytes 4 to 7 number the /64: fd00:0:IIII:IIII::host */
		uint32_t network_order = htonl(index);

		memcpy(spec->source + 4, &network_order, sizeof(network_order));
	}
}

int
mac_parse(const char *text, uint8_t mac[6])
{
	unsigned int bytes[6];
	char trailing;

	if (sscanf(text, "%x:%x:%x:%x:%x:%x%c", &bytes[0], &bytes[1], &bytes[2], &bytes[3],
	           &bytes[4], &bytes[5], &trailing) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		if (bytes[i] > 0xff)
			return -EINVAL;
		mac[i] = (uint8_t)bytes[i];
	}
	return 0;
}

/*
 * Mostly established TCP (acks and data), some UDP (DNS, QUIC), a few new
 * connections, a few tagged frames, and a few SMTP SYNs.
 */
const struct mix_frame mix[] = {
    {"10.0.0.5", "192.0.2.80", IPPROTO_TCP, 443, TH_ACK, 0, 1400, 28, 0, 0},
    {"10.0.0.5", "192.0.2.80", IPPROTO_TCP, 443, TH_ACK, 0, 0, 20, 0, 0},
    {"fd00:5::5", "2001:db8::80", IPPROTO_TCP, 443, TH_ACK, 0, 1400, 15, 0, 0},
    {"fd00:5::5", "2001:db8::80", IPPROTO_TCP, 443, TH_ACK, 0, 0, 10, 0, 0},
    {"10.0.0.5", "192.0.2.53", IPPROTO_UDP, 53, 0, 0, 40, 5, 0, 0},
    {"fd00:5::5", "2001:db8::80", IPPROTO_UDP, 443, 0, 0, 1200, 5, 0, 0},
    {"10.0.0.5", "192.0.2.80", IPPROTO_TCP, 443, TH_SYN, 0, 0, 4, 0, 0},
    {"fd00:5::5", "2001:db8::80", IPPROTO_TCP, 80, TH_SYN, 0, 0, 3, 0, 0},
    {"10.0.0.5", "192.0.2.80", IPPROTO_TCP, 443, TH_ACK, 100, 0, 3, 0, 0},
    {"fd00:5::5", "2001:db8::53", IPPROTO_UDP, 53, 0, 100, 40, 2, 0, 0},
    {"10.0.0.5", "192.0.2.25", IPPROTO_TCP, SMTP_PORT, TH_SYN, 0, 0, 3, 0, 0},
    {"fd00:5::5", "2001:db8::25", IPPROTO_TCP, SMTP_PORT, TH_SYN, 0, 0, 2, 0, 0},
};
const size_t mix_count = sizeof(mix) / sizeof(mix[0]);

/*
 * Mostly the servers' data and acks back, UDP replies (DNS, QUIC), the
 * outcomes of the mix's first contacts (SYN-ACK, RST, ICMP and ICMPv6 port
 * unreachable), a few tagged frames.
 */
#define REPLY 1
const struct mix_frame reply_mix[] = {
    {"192.0.2.80", "10.0.0.5", IPPROTO_TCP, 443, TH_ACK, 0, 1400, 30, REPLY, 0},
    {"2001:db8::80", "fd00:5::5", IPPROTO_TCP, 443, TH_ACK, 0, 1400, 15, REPLY, 0},
    {"192.0.2.80", "10.0.0.5", IPPROTO_TCP, 443, TH_ACK, 0, 0, 12, REPLY, 0},
    {"2001:db8::80", "fd00:5::5", IPPROTO_TCP, 443, TH_ACK, 0, 0, 8, REPLY, 0},
    {"192.0.2.53", "10.0.0.5", IPPROTO_UDP, 53, 0, 0, 120, 6, REPLY, 0},
    {"2001:db8::80", "fd00:5::5", IPPROTO_UDP, 443, 0, 0, 1200, 8, REPLY, 0},
    {"192.0.2.80", "10.0.0.5", IPPROTO_TCP, 443, TH_SYN | TH_ACK, 0, 0, 6, REPLY, 0},
    {"2001:db8::80", "fd00:5::5", IPPROTO_TCP, 80, TH_SYN | TH_ACK, 0, 0, 4, REPLY, 0},
    {"192.0.2.25", "10.0.0.5", IPPROTO_TCP, SMTP_PORT, TH_RST | TH_ACK, 0, 0, 4, REPLY, 0},
    {"192.0.2.53", "10.0.0.5", IPPROTO_ICMP, 53, 0, 0, 0, 2, REPLY, IPPROTO_UDP},
    {"2001:db8::53", "fd00:5::5", IPPROTO_ICMPV6, 53, 0, 0, 0, 2, REPLY, IPPROTO_UDP},
    {"192.0.2.80", "10.0.0.5", IPPROTO_TCP, 443, TH_ACK, 100, 0, 3, REPLY, 0},
};
const size_t reply_mix_count = sizeof(reply_mix) / sizeof(reply_mix[0]);

#define ICMP4_UNREACHABLE      3
#define ICMP4_PORT_UNREACHABLE 3
#define ICMP6_UNREACHABLE      1
#define ICMP6_PORT_UNREACHABLE 4
#define ICMP_QUOTED_TRANSPORT  8 /* RFC 792: the IP header and 8 bytes after it */
#define QUOTED_BYTES_MAX       (40 + ICMP_QUOTED_TRANSPORT)

/*
 * What an ICMP port unreachable toward the VM quotes: the VM's datagram
 * (from the frame's destination at port 40000 to its source at port), its
 * IP header and first eight bytes. Returns their length, or 0.
 */
static size_t
quoted_probe_build(const struct frame_spec *reply, int protocol, uint16_t port, unsigned char *out)
{
	unsigned char probe[FRAME_BYTES_MAX];
	struct frame_spec spec = {
	    .family = reply->family,
	    .protocol = protocol,
	    .source_port = 40000,
	    .destination_port = port,
	    .tcp_flags = TH_SYN,
	};
	size_t length,
	    header = reply->family == AF_INET ? sizeof(struct ip) : sizeof(struct ip6_hdr);

	memcpy(spec.source, reply->destination, sizeof(spec.source));
	memcpy(spec.destination, reply->source, sizeof(spec.destination));
	length = frame_build(&spec, probe);
	if (length < sizeof(struct ether_header) + header + ICMP_QUOTED_TRANSPORT)
		return 0;
	memcpy(out, probe + sizeof(struct ether_header), header + ICMP_QUOTED_TRANSPORT);
	return header + ICMP_QUOTED_TRANSPORT;
}

static void
addresses_swap(struct frame_spec *spec)
{
	uint8_t address[16];

	memcpy(address, spec->source, sizeof(address));
	memcpy(spec->source, spec->destination, sizeof(address));
	memcpy(spec->destination, address, sizeof(address));
}

size_t
mix_frame_build(const struct mix_frame *kind, uint32_t source_number, unsigned char *out)
{
	struct frame_spec spec = {
	    .protocol = kind->protocol,
	    .source_port = 40000,
	    .destination_port = kind->port,
	    .tcp_flags = kind->tcp_flags,
	    .vlan_id = kind->vlan_id,
	    .payload_bytes = kind->payload_bytes,
	    .source_mac = {0x02, 0, 0, 0, 0, 5},
	    .destination_mac = {0x02, 0, 0, 0, 0, 1},
	};

	unsigned char quoted[QUOTED_BYTES_MAX];

	if (frame_set_addresses(&spec, kind->source, kind->destination) != 0)
		return 0;
	/* A reply goes to the numbered VM address. */
	if (source_number != 0 && kind->toward_vm) {
		addresses_swap(&spec);
		frame_set_numbered_source(&spec, source_number);
		addresses_swap(&spec);
	} else if (source_number != 0) {
		frame_set_numbered_source(&spec, source_number);
	}
	if (kind->toward_vm) {
		spec.source_port = kind->port;
		spec.destination_port = 40000;
		memcpy(spec.source_mac, (uint8_t[6]){0x02, 0, 0, 0, 0, 1}, 6);
		memcpy(spec.destination_mac, (uint8_t[6]){0x02, 0, 0, 0, 0, 5}, 6);
	}
	if (kind->protocol == IPPROTO_ICMP || kind->protocol == IPPROTO_ICMPV6) {
		spec.icmp_type =
		    kind->protocol == IPPROTO_ICMP ? ICMP4_UNREACHABLE : ICMP6_UNREACHABLE;
		spec.icmp_code = kind->protocol == IPPROTO_ICMP ? ICMP4_PORT_UNREACHABLE
		                                                : ICMP6_PORT_UNREACHABLE;
		spec.payload_bytes =
		    (uint16_t)quoted_probe_build(&spec, kind->quoted_protocol, kind->port, quoted);
		if (spec.payload_bytes == 0)
			return 0;
		spec.payload = quoted;
	}
	return frame_build(&spec, out);
}

uint64_t
monotonic_ns(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

static int
compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

void
summarize(double *values, size_t count, struct summary *out)
{
	memset(out, 0, sizeof(*out));
	if (count == 0)
		return;
	qsort(values, count, sizeof(*values), compare_doubles);
	out->minimum = values[0];
	out->maximum = values[count - 1];
	out->median =
	    count % 2 ? values[count / 2] : (values[count / 2 - 1] + values[count / 2]) / 2;
	/* Nearest rank: with 50 samples p99 is the largest. */
	out->p99 = values[(size_t)((count * 99 + 99) / 100) - 1];
}

/* Tabs and newlines would split the row: they become spaces. */
static void
field_print(const char *text, const char *separator)
{
	for (const char *c = text; *c != '\0'; c++)
		putchar(*c == '\t' || *c == '\n' ? ' ' : *c);
	fputs(separator, stdout);
}

void
row_print(const char *name, const char *ratio, const char *figures, const char *sizes)
{
	fputs("row\t", stdout);
	field_print(name, "\t");
	field_print(ratio, "\t");
	field_print(figures, "\t");
	field_print(sizes, "\n");
	fflush(stdout);
}
