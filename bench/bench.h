/*
 * Shared by the benchmark programs: Ethernet frames (the XDP test runs, the
 * lab senders and the generated capture all build their packets here, with
 * valid checksums so that conntrack in the lab sees them as the new
 * connections they claim to be), the clock and the statistics.
 *
 * Every benchmark prints its result as one line that bench/run.sh collects:
 *   row<TAB>name<TAB>ratio<TAB>absolute figures<TAB>sizes and repeats
 */
#ifndef BENCH_H
#define BENCH_H

#include <stddef.h>
#include <stdint.h>

#define FRAME_BYTES_MAX 1600

struct frame_spec {
	int family;         /* AF_INET or AF_INET6 */
	uint8_t source[16]; /* IPv4 in the first four bytes */
	uint8_t destination[16];
	int protocol; /* IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP or IPPROTO_ICMPV6 */
	uint16_t source_port;
	uint16_t destination_port;
	uint8_t tcp_flags;            /* TH_SYN, TH_ACK, ... */
	uint32_t tcp_sequence;        /* the lab numbers its SYNs here */
	uint8_t icmp_type, icmp_code; /* ICMP: the payload is what the message quotes */
	uint16_t vlan_id;             /* 0: untagged */
	uint16_t payload_bytes;
	const void *payload; /* payload_bytes of it; NULL: zeros */
	uint8_t source_mac[6];
	uint8_t destination_mac[6];
};

/* Writes the frame into out (FRAME_BYTES_MAX bytes); returns its length, or 0 if too long. */
size_t frame_build(const struct frame_spec *spec, unsigned char *out);

/* Fills spec's addresses from text ("10.0.0.5", "fd00::5"); 0 or -EINVAL. */
int frame_set_addresses(struct frame_spec *spec, const char *source, const char *destination);

/* Sets source to the index-th address of a /8 (IPv4) or the index-th /64 (IPv6). */
void frame_set_numbered_source(struct frame_spec *spec, uint32_t index);

/* Parses "aa:bb:cc:dd:ee:ff"; 0 or -EINVAL. */
int mac_parse(const char *text, uint8_t mac[6]);

/*
 * One kind of frame in the mix, and how many of every 100 packets are of it.
 * A frame from the VM goes from source port 40000 to port; a reply toward
 * the VM (reply_mix) from port back to 40000, and an ICMP or ICMPv6 one is a
 * port unreachable quoting the VM's quoted_protocol datagram to port.
 */
struct mix_frame {
	const char *source, *destination;
	int protocol;
	uint16_t port;
	uint8_t tcp_flags;
	uint16_t vlan_id;
	uint16_t payload_bytes;
	unsigned weight;
	int toward_vm;
	int quoted_protocol;
};

#define SMTP_PORT 25

/* What a VM sends, as the XDP benchmark and the generated capture use it. */
extern const struct mix_frame mix[];
extern const size_t mix_count;
/* What comes back to the VM (the tc egress program's): replies to the mix. */
extern const struct mix_frame reply_mix[];
extern const size_t reply_mix_count;

/*
 * Builds one frame of the mix into out (FRAME_BYTES_MAX bytes), from the
 * source_number-th source (frame_set_numbered_source), or from the mix's own
 * source for 0. Returns its length, or 0.
 */
size_t mix_frame_build(const struct mix_frame *kind, uint32_t source_number, unsigned char *out);

/* The benchmark clock: CLOCK_MONOTONIC in nanoseconds. */
uint64_t monotonic_ns(void);

/* Sorts values and reports the median, minimum, maximum and a percentile. */
struct summary {
	double median, minimum, maximum, p99;
};
void summarize(double *values, size_t count, struct summary *out);

/* Prints the result line bench/run.sh collects (see the top of this file). */
void row_print(const char *name, const char *ratio, const char *figures, const char *sizes);

#endif
