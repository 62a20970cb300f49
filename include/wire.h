/*
 * The second eye: libpcap on the VM-facing interfaces, beside the XDP
 * program. A kernel filter lets only TCP to or from the watched ports
 * through (the crawler's HTTP ports, SMTP's 25, 465 and 587), in both
 * directions, and of that only segments with payload, FIN or RST: bare
 * SYNs and ACKs (a SYN flood) never leave the kernel. From it:
 *
 *   - HTTP request heads the VMs send (http.c, per-flow reassembly), and
 *     the replies to their robots.txt requests (http_response.c);
 *   - the clear-text SMTP lines a VM sends: commands before STARTTLS and
 *     the header lines of each message;
 *   - a bounded ring of recent packets per interface, from which a pcap
 *     excerpt for one source can be written as ticket evidence.
 *
 * Live, each interface is a non-blocking pcap handle in the event loop
 * (wire_attach when capture attaches its XDP program). Replay and tests
 * hand frames in through wire_packet. Memory is bounded: the flow table,
 * each flow's buffers and the rings have configured sizes; what does not
 * fit is counted.
 */
#ifndef WIRE_H
#define WIRE_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "http.h"
#include "http_response.h"
#include "loop.h"
#include "source.h"

#define WIRE_MAX_PORTS 24

/* One end of a TCP connection. */
struct wire_endpoint {
	uint8_t family; /* SOURCE_FAMILY_IPV4 or SOURCE_FAMILY_IPV6 */
	uint8_t addr[16];
	uint16_t port;
};

/* An HTTP request head a VM sent. */
struct wire_request {
	int ifindex;
	int64_t time_ms;
	struct wire_endpoint client, server; /* client: the VM */
	const struct http_request *http;
};

/* The reply to a robots.txt request a VM sent. */
struct wire_robots {
	int ifindex;
	int64_t time_ms;
	struct wire_endpoint client, server;
	const char *host; /* the request's Host; NULL: none */
	const struct http_response *http;
};

enum wire_smtp_kind {
	WIRE_SMTP_COMMAND, /* EHLO, MAIL FROM, RCPT TO, DATA, ...: before STARTTLS */
	WIRE_SMTP_HEADER,  /* a header line of a message, after DATA */
};

/* One clear-text SMTP line a VM sent, without its line break. */
struct wire_smtp_line {
	int ifindex;
	int64_t time_ms;
	struct wire_endpoint client, server;
	enum wire_smtp_kind kind;
	const char *text;
	size_t len;
};

struct wire_hooks {
	void (*on_request)(void *arg, const struct wire_request *request);
	void (*on_robots)(void *arg, const struct wire_robots *reply);
	void (*on_smtp_line)(void *arg, const struct wire_smtp_line *line);
	void *arg;
};

struct wire_config {
	uint16_t http_ports[WIRE_MAX_PORTS];
	unsigned http_port_count;
	uint32_t max_flows;      /* TCP connections followed at once, all interfaces */
	int64_t flow_idle_ms;    /* a connection silent this long is forgotten */
	uint32_t buffer_bytes;   /* each interface's kernel capture buffer */
	uint32_t ring_packets;   /* recent packets kept per interface, for excerpts */
	uint32_t ring_bytes;     /* and their bytes */
	size_t robots_max_bytes; /* of a robots.txt reply kept */
	struct http_limits http;
};

struct wire_stats {
	uint64_t packets, bytes;
	uint64_t kernel_drops;    /* pcap_stats: the capture buffer was full */
	uint64_t interface_drops; /* pcap_stats: dropped by the driver */
	uint64_t not_parsed;      /* not IPv4/IPv6 TCP, or truncated */
	uint64_t flows, flows_evicted, flows_expired, flow_table_full;
	uint64_t flows_open; /* followed now: also ends by RST or both FINs */
	uint64_t requests, robots_replies, smtp_lines;
	uint64_t robots_not_kept; /* robots.txt requests past the replies kept at once (16) */
	uint64_t ring_wrapped;    /* packets pushed out of a ring by newer ones */
	uint64_t ring_too_big;    /* packets larger than a ring, not kept */
	uint64_t attach_failures;
	struct http_stats http;
	struct http_response_stats responses;
};

struct wire;

/* The policy's settings: the crawler's HTTP ports, the limits' wire_* and evidence_*. */
void wire_config_from(const struct config *policy, struct wire_config *out);
/* loop NULL (replay, tests): no pcap handles, frames come in through wire_packet. */
int wire_open(struct wire **out, struct loop *loop, const struct wire_config *config,
              const struct wire_hooks *hooks);
void wire_close(struct wire *wire);
/* The kernel filter the captures use, as tcpdump takes it. 0, or -ENOSPC. */
int wire_filter(const struct wire_config *config, char *out, size_t size);
/*
 * Reads HTTP on these ports from now on (a reload): every capture's kernel
 * filter is rewritten; connections already followed keep how they were
 * read. 0, or -EIO when a filter could not be set (logged; that interface
 * keeps its old one).
 */
int wire_set_http_ports(struct wire *wire, const uint16_t *ports, unsigned count);
/* Opens a capture on an interface (live only). 0 or -errno (logged, counted). */
int wire_attach(struct wire *wire, int ifindex, const char *name);
void wire_detach(struct wire *wire, int ifindex);
/*
 * One Ethernet frame of an interface: from_vm for what the VM sent, else
 * what went toward it. time_us is the capture's time (epoch microseconds);
 * len is the frame's length on the wire, caplen what is in frame.
 */
void wire_packet(struct wire *wire, int ifindex, const void *frame, size_t caplen, size_t len,
                 int64_t time_us, bool from_vm);
/*
 * Reads what every live handle holds now (each up to its budget), so that
 * what libpcap saw before a BPF event is followed before that event is.
 */
void wire_drain(struct wire *wire);
/* Forgets connections idle past flow_idle_ms (the daemon's timer). */
void wire_expire(struct wire *wire, int64_t now_ms);
void wire_stats(struct wire *wire, struct wire_stats *out);

/*
 * Ticket evidence: writes the ring's packets of one interface to or from
 * source (an IPv4 address or IPv6 prefix) captured at or after since_ms,
 * oldest first, as a pcap file tcpdump -r reads, stopping before the file
 * would pass max_bytes. ifname NULL: every interface. Returns the number
 * of packets written, or -errno (-ENOENT: no such interface).
 */
int wire_excerpt_write(struct wire *wire, const char *ifname, const struct source_key *source,
                       int64_t since_ms, const char *path, size_t max_bytes);

#endif
