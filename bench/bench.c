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

/* Writes the TCP or UDP header and payload at out; returns their length. */
static size_t
transport_build(const struct frame_spec *spec, unsigned char *out)
{
	size_t length;
	uint16_t *checksum;

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
	transport_bytes =
	    (spec->protocol == IPPROTO_TCP ? sizeof(struct tcphdr) : sizeof(struct udphdr)) +
	    spec->payload_bytes;
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
    {"10.0.0.5", "192.0.2.80", IPPROTO_TCP, 443, TH_ACK, 0, 1400, 28},
    {"10.0.0.5", "192.0.2.80", IPPROTO_TCP, 443, TH_ACK, 0, 0, 20},
    {"fd00:5::5", "2001:db8::80", IPPROTO_TCP, 443, TH_ACK, 0, 1400, 15},
    {"fd00:5::5", "2001:db8::80", IPPROTO_TCP, 443, TH_ACK, 0, 0, 10},
    {"10.0.0.5", "192.0.2.53", IPPROTO_UDP, 53, 0, 0, 40, 5},
    {"fd00:5::5", "2001:db8::80", IPPROTO_UDP, 443, 0, 0, 1200, 5},
    {"10.0.0.5", "192.0.2.80", IPPROTO_TCP, 443, TH_SYN, 0, 0, 4},
    {"fd00:5::5", "2001:db8::80", IPPROTO_TCP, 80, TH_SYN, 0, 0, 3},
    {"10.0.0.5", "192.0.2.80", IPPROTO_TCP, 443, TH_ACK, 100, 0, 3},
    {"fd00:5::5", "2001:db8::53", IPPROTO_UDP, 53, 0, 100, 40, 2},
    {"10.0.0.5", "192.0.2.25", IPPROTO_TCP, SMTP_PORT, TH_SYN, 0, 0, 3},
    {"fd00:5::5", "2001:db8::25", IPPROTO_TCP, SMTP_PORT, TH_SYN, 0, 0, 2},
};
const size_t mix_count = sizeof(mix) / sizeof(mix[0]);

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

	if (frame_set_addresses(&spec, kind->source, kind->destination) != 0)
		return 0;
	if (source_number != 0)
		frame_set_numbered_source(&spec, source_number);
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
