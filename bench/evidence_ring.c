/*
 * What the evidence ring costs per packet: the capture path (wire_packet:
 * the ring, then parsing and reassembly of the VM's SMTP and HTTP) over a
 * mix of SMTP and HTTP segments of many connections, with the policy's
 * ring (limits.evidence_packets, limits.evidence_bytes) against the same
 * path without a ring (0 packets), interleaved in one run. The ratio says
 * what keeping the ring adds to each packet the capture reads; the
 * difference is the ring's own cost.
 *
 *   evidence_ring [--packets N] [--flows F] [--runs R]
 *
 * Prints one row (see bench.h).
 */
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "config.h"
#include "log.h"
#include "wire.h"

#define RUNS_MAX 20
#define IFINDEX  7

static void __attribute__((noreturn)) usage(void)
{
	fprintf(stderr, "usage: evidence_ring [--packets N] [--flows F] [--runs R]\n");
	exit(2);
}

static void
ignore_request(void *arg, const struct wire_request *request)
{
	(void)arg, (void)request;
}

static void
ignore_robots(void *arg, const struct wire_robots *reply)
{
	(void)arg, (void)reply;
}

static void
ignore_smtp(void *arg, const struct wire_smtp_line *line)
{
	(void)arg, (void)line;
}

/*
 * The n-th segment of flow i, of last + 1: SMTP (EHLO, then RCPT lines) or
 * HTTP requests from the VM; the last one resets the connection, so the
 * next round of the frames is a new one.
 */
static size_t
segment(unsigned flow, uint32_t n, uint32_t last, unsigned char *out)
{
	static const char ehlo[] = "EHLO bulk.example\r\n";
	static const char smtp[] = "RCPT TO:<victim@example.net>\r\n";
	static const char http[] = "GET /private/page.html HTTP/1.1\r\nHost: shop.example\r\n"
	                           "User-Agent: LabBot/1.0\r\n\r\n";
	bool is_smtp = flow % 2 == 0;
	struct frame_spec spec = {
	    .family = AF_INET,
	    .protocol = IPPROTO_TCP,
	    .source_port = (uint16_t)(40000 + flow),
	    .destination_port = is_smtp ? SMTP_PORT : 80,
	    .tcp_flags = TH_ACK | TH_PUSH,
	    .payload = is_smtp ? smtp : http,
	    .payload_bytes = (uint16_t)((is_smtp ? sizeof(smtp) : sizeof(http)) - 1),
	    .source_mac = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56},
	    .destination_mac = {0x52, 0x54, 0x00, 0xab, 0xcd, 0xef},
	};

	if (is_smtp && n == 0) {
		spec.payload = ehlo;
		spec.payload_bytes = sizeof(ehlo) - 1;
	}
	/* The EHLO first, then lines all of one length: each segment follows the last. */
	spec.tcp_sequence =
	    1000 + (is_smtp && n > 0 ? sizeof(ehlo) - 1 + (n - 1) * spec.payload_bytes
	                             : n * spec.payload_bytes);
	if (n == last)
		spec.tcp_flags |= TH_RST;
	if (frame_set_addresses(&spec, "10.0.0.5", "192.0.2.25") < 0)
		exit(1);
	return frame_build(&spec, out);
}

/* Nanoseconds per packet through wire_packet, with a ring of ring_packets (0: none). */
static double
pass(const struct wire_config *base, uint32_t ring_packets, unsigned packets,
     unsigned char (*frames)[FRAME_BYTES_MAX], const size_t *lengths, unsigned frame_count)
{
	struct wire_hooks hooks = {ignore_request, ignore_robots, ignore_smtp, NULL};
	struct wire_config config = *base;
	struct wire_stats stats;
	struct wire *wire;
	int64_t time_us = 1767225600000000LL;
	uint64_t started;

	config.ring_packets = ring_packets;
	if (wire_open(&wire, NULL, &config, &hooks) < 0)
		exit(1);
	/* The interface and its ring are made at its first packet, once: not a packet's cost. */
	wire_packet(wire, IFINDEX, frames[0], lengths[0], lengths[0], time_us, true);
	started = monotonic_ns();
	for (unsigned i = 1; i <= packets; i++) {
		unsigned k = i % frame_count;

		wire_packet(wire, IFINDEX, frames[k], lengths[k], lengths[k], time_us += 10, true);
	}
	started = monotonic_ns() - started;
	wire_stats(wire, &stats);
	/* Both paths must do the capture's real work: every segment parsed and followed. */
	if (stats.not_parsed != 0 || stats.smtp_lines == 0 || stats.requests == 0) {
		fprintf(stderr,
		        "evidence_ring: %llu segments not parsed, %llu SMTP lines, %llu "
		        "requests\n",
		        (unsigned long long)stats.not_parsed, (unsigned long long)stats.smtp_lines,
		        (unsigned long long)stats.requests);
		exit(1);
	}
	wire_close(wire);
	return (double)started / packets;
}

int
main(int argc, char *argv[])
{
	static const struct option options[] = {
	    {"packets", required_argument, NULL, 'p'},
	    {"flows", required_argument, NULL, 'f'},
	    {"runs", required_argument, NULL, 'r'},
	    {NULL, 0, NULL, 0},
	};
	unsigned packets = 400000, flows = 64, runs = 5, per_flow = 64, frame_count;
	double with_ring[RUNS_MAX], without[RUNS_MAX];
	struct summary ring_summary, bare_summary;
	char ratio[64], figures[256], sizes[160];
	static struct config policy;
	struct wire_config base;
	unsigned char(*frames)[FRAME_BYTES_MAX];
	size_t *lengths;
	int option;

	while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (option) {
		case 'p':
			packets = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'f':
			flows = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'r':
			runs = (unsigned)strtoul(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	if (packets == 0 || flows == 0 || flows > 1000 || runs == 0 || runs > RUNS_MAX)
		usage();
	log_init(1, 0, "evidence_ring");
	config_defaults(&policy);
	wire_config_from(&policy, &base);
	/* The frames, built once: per_flow segments of each flow, round robin over the flows. */
	frame_count = flows * per_flow;
	frames = calloc(frame_count, sizeof(*frames));
	lengths = calloc(frame_count, sizeof(*lengths));
	if (frames == NULL || lengths == NULL)
		return 1;
	for (unsigned n = 0; n < per_flow; n++)
		for (unsigned flow = 0; flow < flows; flow++)
			lengths[n * flows + flow] =
			    segment(flow, n, per_flow - 1, frames[n * flows + flow]);
	/* Interleaved, so that a change in the machine's load hits both alike. */
	for (unsigned run = 0; run < runs; run++) {
		with_ring[run] =
		    pass(&base, base.ring_packets, packets, frames, lengths, frame_count);
		without[run] = pass(&base, 0, packets, frames, lengths, frame_count);
	}
	summarize(with_ring, runs, &ring_summary);
	summarize(without, runs, &bare_summary);
	snprintf(ratio, sizeof(ratio), "%.2fx the capture path without a ring",
	         ring_summary.median / bare_summary.median);
	snprintf(figures, sizeof(figures),
	         "%.0f ns/packet with the ring, %.0f ns without: the ring adds %.0f ns per packet",
	         ring_summary.median, bare_summary.median,
	         ring_summary.median - bare_summary.median);
	snprintf(sizes, sizeof(sizes),
	         "%u packets (SMTP and HTTP segments of %u connections), ring of %u packets / "
	         "%u KiB, median of %u runs",
	         packets, flows, base.ring_packets, base.ring_bytes / 1024, runs);
	row_print("Evidence ring cost per packet", ratio, figures, sizes);
	free(frames);
	free(lengths);
	return 0;
}
