/*
 * Probes until a scan is detected, per kind, next to Threshold Random Walk's
 * published figure (Jung, Paxson, Berger, Balakrishnan 2004: about 4 to 5
 * first contacts on average). Each trial is a new scanning source whose
 * probes go through the real XDP program and whose replies go through the
 * real tc egress program, on the replay clock (the daemon's capture module,
 * attached nowhere), with the default policy; a share of the targets answer,
 * as on a real network. One probe a second, so that timeouts are judged
 * while the scan goes on (a faster scanner sends more probes in the 5 s a
 * timeout takes; the failed probes judged stay the same). The rest of the
 * host's traffic goes on beside it: every half second a packet from beyond
 * the host toward a VM in each family, as on any host whose upstream works
 * (without it, timeouts are no verdict: an outage). Counts the probes sent
 * until the program's event and the failures the event counted.
 *   scan_probes [--trials N]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "capture.h"
#include "config.h"

#define MS          1000000ULL
#define PROBE_GAP   (1000 * MS) /* a slow scanner: timeouts are judged while it runs */
#define SWEEP_EVERY (1000 * MS)
#define PROBES_MAX  400
#define TRW_PROBES  4.5 /* the paper's average, 4 to 5 */

enum reply { REPLY_NONE, REPLY_ANSWER, REPLY_REJECT };

struct kind {
	const char *name;
	int family;
	int protocol;         /* IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP */
	int vertical;         /* one host, many ports; else one port, many hosts */
	unsigned answer_pct;  /* targets that answer */
	enum reply otherwise; /* what the others do: reject, or stay silent */
};

static const struct kind kinds[] = {
    {"horizontal TCP SYN (RST, 10% answer)", AF_INET, IPPROTO_TCP, 0, 10, REPLY_REJECT},
    {"vertical TCP SYN (filtered, 5% open)", AF_INET, IPPROTO_TCP, 1, 5, REPLY_NONE},
    {"UDP (port unreachable, 5% answer)", AF_INET, IPPROTO_UDP, 1, 5, REPLY_REJECT},
    {"ICMP ping sweep (dark, 20% answer)", AF_INET, IPPROTO_ICMP, 0, 20, REPLY_NONE},
    {"IPv6 TCP SYN (RST, 10% answer)", AF_INET6, IPPROTO_TCP, 0, 10, REPLY_REJECT},
};

struct run {
	struct capture *capture;
	uint64_t now;
	unsigned events;
	unsigned failures; /* of the latest event */
};

static void
on_event(void *arg, const struct abuse_event *event)
{
	struct run *run = arg;

	if (event->category == CATEGORY_SCAN) {
		run->events++;
		run->failures = event->counts.failures;
	}
}

static uint16_t
checksum(const void *data, size_t length)
{
	const uint8_t *bytes = data;
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < length; i += 2)
		sum += (uint32_t)(bytes[i] << 8 | bytes[i + 1]);
	if (length & 1)
		sum += (uint32_t)(bytes[length - 1] << 8);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/*
 * An IPv4 ICMP frame from source to destination: type, and for an error the
 * quoted frame's IP header and first eight bytes behind it.
 */
static size_t
icmp_frame(const uint8_t *source, const uint8_t *destination, uint8_t type,
           const unsigned char *quoted, unsigned char *out)
{
	size_t quoted_length = quoted ? 20 + 8 : 0, total = 20 + 8 + quoted_length;
	unsigned char *ip = out + 14, *icmp = ip + 20;
	uint16_t sum;

	memset(out, 0, 14 + total);
	out[12] = 0x08;
	ip[0] = 0x45;
	ip[2] = (uint8_t)(total >> 8);
	ip[3] = (uint8_t)total;
	ip[8] = 64;
	ip[9] = IPPROTO_ICMP;
	memcpy(ip + 12, source, 4);
	memcpy(ip + 16, destination, 4);
	sum = checksum(ip, 20);
	ip[10] = (uint8_t)(sum >> 8);
	ip[11] = (uint8_t)sum;
	icmp[0] = type;
	if (quoted)
		memcpy(icmp + 8, quoted + 14, quoted_length);
	sum = checksum(icmp, 8 + quoted_length);
	icmp[2] = (uint8_t)(sum >> 8);
	icmp[3] = (uint8_t)sum;
	return 14 + total;
}

static void
send_frame(struct run *run, const unsigned char *frame, size_t length,
           enum capture_direction direction)
{
	if (length == 0 ||
	    capture_run_packet(run->capture, frame, length, run->now, direction, 0) < 0) {
		fprintf(stderr, "scan_probes: a test run failed\n");
		exit(1);
	}
}

/* An acknowledgement from beyond the host toward another VM, in each family. */
static void
host_traffic(struct run *run)
{
	static const char *const pairs[][2] = {{"192.0.2.250", "10.99.0.1"},
	                                       {"2001:db8:ffff::1", "2001:db8:99::1"}};
	unsigned char frame[FRAME_BYTES_MAX];

	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		struct frame_spec spec = {.family = strchr(pairs[i][0], ':') ? AF_INET6 : AF_INET,
		                          .protocol = IPPROTO_TCP,
		                          .source_port = 443,
		                          .destination_port = 50000,
		                          .tcp_flags = TH_ACK};

		if (frame_set_addresses(&spec, pairs[i][0], pairs[i][1]) < 0) {
			fprintf(stderr, "scan_probes: bad address %s\n", pairs[i][0]);
			exit(1);
		}
		send_frame(run, frame, frame_build(&spec, frame), CAPTURE_TOWARD_VM);
	}
}

/* One scanning source; returns the probes it sent until its event (PROBES_MAX + 1: none). */
static unsigned
trial(struct run *run, const struct kind *kind, unsigned number)
{
	unsigned char probe[FRAME_BYTES_MAX], reply[FRAME_BYTES_MAX];
	struct frame_spec spec = {.family = kind->family, .protocol = kind->protocol};
	uint64_t next_sweep = run->now + SWEEP_EVERY;
	unsigned events = run->events;

	/* 10.x.y.z: a source in 0.0.0.0/8 never leaves the link and is nobody's to judge. */
	if (kind->family == AF_INET)
		spec.source[0] = 10;

	for (unsigned probes = 1; probes <= PROBES_MAX; probes++) {
		uint32_t target = (uint32_t)(kind->vertical ? 7 : probes);
		uint16_t port = (uint16_t)(kind->vertical ? 1000 + probes : 22);
		int answered = (unsigned)(rand() % 100) < kind->answer_pct;
		size_t length;

		frame_set_numbered_source(&spec, number);
		if (kind->family == AF_INET) {
			spec.destination[0] = 198;
			spec.destination[1] = 18;
			spec.destination[2] = (uint8_t)(target >> 8);
			spec.destination[3] = (uint8_t)target;
		} else {
			memset(spec.destination, 0, 16);
			spec.destination[0] = 0x20;
			spec.destination[1] = 0x01;
			spec.destination[2] = 0x0d;
			spec.destination[3] = 0xb8;
			spec.destination[14] = (uint8_t)(target >> 8);
			spec.destination[15] = (uint8_t)target;
		}
		spec.source_port = 40000;
		spec.destination_port = port;
		spec.tcp_flags = TH_SYN;
		if (kind->protocol == IPPROTO_ICMP)
			length = icmp_frame(spec.source, spec.destination, 8, NULL, probe);
		else
			length = frame_build(&spec, probe);
		send_frame(run, probe, length, CAPTURE_FROM_VM);

		run->now += PROBE_GAP / 2;
		host_traffic(run);
		if (answered || kind->otherwise == REPLY_REJECT) {
			struct frame_spec back = spec;

			memcpy(back.source, spec.destination, 16);
			memcpy(back.destination, spec.source, 16);
			back.source_port = port;
			back.destination_port = 40000;
			back.tcp_flags = answered ? TH_SYN | TH_ACK : TH_RST | TH_ACK;
			if (kind->protocol == IPPROTO_ICMP)
				length = icmp_frame(back.source, back.destination, 0, NULL, reply);
			else if (kind->protocol == IPPROTO_UDP && !answered)
				length = icmp_frame(back.source, back.destination, 3, probe, reply);
			else
				length = frame_build(&back, reply);
			send_frame(run, reply, length, CAPTURE_TOWARD_VM);
		}
		run->now += PROBE_GAP / 2;
		host_traffic(run);
		if (run->now >= next_sweep) {
			capture_sweep(run->capture, run->now);
			next_sweep = run->now + SWEEP_EVERY;
		}
		if (run->events != events)
			return probes;
	}
	return PROBES_MAX + 1;
}

int
main(int argc, char **argv)
{
	static struct config config;
	struct run run = {.now = 1000000 * MS};
	char figures[1024] = "", sizes[160], ratio[64], part[160];
	double values[1024], failures[1024], worst = 0;
	unsigned trials = 51;
	struct summary summary, failed;

	if (argc == 3 && strcmp(argv[1], "--trials") == 0)
		trials = (unsigned)atoi(argv[2]);
	if (trials < 1 || trials > 1024) {
		fprintf(stderr, "usage: scan_probes [--trials 1..1024]\n");
		return 2;
	}
	config_defaults(&config);
	if (capture_open(&run.capture, NULL, &config, on_event, &run) < 0)
		return 1;
	srand(15);
	/* The interface shows replies: timeouts count (scan.return_path). */
	{
		unsigned char frame[FRAME_BYTES_MAX];
		uint8_t a[4] = {198, 18, 0, 1}, b[4] = {10, 0, 0, 1};

		send_frame(&run, frame, icmp_frame(a, b, 0, NULL, frame), CAPTURE_TOWARD_VM);
	}
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		for (unsigned t = 0; t < trials; t++) {
			values[t] = trial(&run, &kinds[k], (uint32_t)(k * 2000 + t + 1));
			failures[t] = run.failures;
			/* The next source starts in a fresh window: the timeouts of this one are
			 * over. */
			run.now += 10000 * MS;
			capture_sweep(run.capture, run.now);
		}
		summarize(values, trials, &summary);
		summarize(failures, trials, &failed);
		if (summary.median > worst)
			worst = summary.median;
		snprintf(part, sizeof(part), "%s%s: median %.0f, max %.0f probes (%.0f failed)",
		         k ? "; " : "", kinds[k].name, summary.median, summary.maximum,
		         failed.median);
		strncat(figures, part, sizeof(figures) - strlen(figures) - 1);
		printf("%s: median %.0f, min %.0f, max %.0f probes until the event, median %.0f "
		       "failed (%u trials)\n",
		       kinds[k].name, summary.median, summary.minimum, summary.maximum,
		       failed.median, trials);
	}
	snprintf(ratio, sizeof(ratio), "%.2fx TRW's 4.5 (worst kind's median)", worst / TRW_PROBES);
	snprintf(sizes, sizeof(sizes),
	         "%u scanning sources per kind, 1 probe/s, the host's upstream traffic every "
	         "0.5 s, default policy",
	         trials);
	row_print("Scan probes until detection", ratio, figures, sizes);
	capture_close(run.capture);
	return 0;
}
