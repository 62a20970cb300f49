/*
 * Detection to ban, in the lab: bursts of SMTP SYNs at a fixed rate from the
 * vm namespace, each SYN numbered in its TCP sequence field, and a receiver
 * in the net namespace noting which arrived. The SYN numbered threshold is
 * the one that crosses the daemon's threshold; the latency is the time from
 * sending it to sending the first SYN that did not arrive (so it is measured
 * in steps of the sending interval), and the SYNs numbered after it that
 * still arrived leaked.
 *
 *   detect_latency --vm NETNS --net NETNS --gateway-mac MAC --source 10.0.0.100
 *		    --destination 10.0.1.2 [--bursts 50] [--threshold 30]
 *		    [--after 100] [--rate 1000] [--time-limit 120]
 *
 * Burst b comes from source + b (the last byte counts up), so every burst
 * is a new source for the daemon. Every burst is bounded: threshold + after
 * SYNs. Prints one row (see bench.h). Needs root.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/if_packet.h>
#include <math.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define INTERFACE      "eth0"
#define BURSTS_MAX     250
#define NUMBERS_MAX    4096
#define DRAIN_NS       (50 * 1000000ull) /* after a burst, for the last SYNs to land */
#define BURST_GAP_NS   (20 * 1000000ull)
#define SOURCE_PORT    20000
#define RECEIVE_BUFFER (4 * 1024 * 1024)
#define TEXT_BYTES     1024

struct options {
	const char *vm, *net;
	uint8_t gateway_mac[6];
	struct in_addr source, destination;
	unsigned bursts, threshold, after, rate, time_limit_s;
};

struct burst {
	uint64_t sent_ns[NUMBERS_MAX + 1];
	uint8_t arrived[NUMBERS_MAX + 1];
};

static void __attribute__((noreturn)) usage(void)
{
	fprintf(stderr, "usage: detect_latency --vm NETNS --net NETNS --gateway-mac MAC "
	                "--source ADDR --destination ADDR\n"
	                "                      [--bursts N] [--threshold N] [--after N] "
	                "[--rate PER_SECOND] [--time-limit S]\n");
	exit(2);
}

static int
netns_enter(const char *name)
{
	char path[256];
	int fd, error = 0;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || setns(fd, CLONE_NEWNET) != 0) {
		error = -errno;
		fprintf(stderr, "detect_latency: enter %s: %s\n", path, strerror(errno));
	}
	if (fd >= 0)
		close(fd);
	return error;
}

/* An AF_PACKET socket bound to eth0 of the namespace the process is in. */
static int
packet_socket(int type, uint16_t protocol, uint8_t mac[6])
{
	struct sockaddr_ll address = {.sll_family = AF_PACKET, .sll_protocol = htons(protocol)};
	struct ifreq request = {0};
	int fd = socket(AF_PACKET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(protocol));
	int size = RECEIVE_BUFFER;

	if (fd < 0)
		return -errno;
	address.sll_ifindex = (int)if_nametoindex(INTERFACE);
	snprintf(request.ifr_name, sizeof(request.ifr_name), "%s", INTERFACE);
	if (address.sll_ifindex == 0 || bind(fd, (struct sockaddr *)&address, sizeof(address)) ||
	    ioctl(fd, SIOCGIFHWADDR, &request) != 0) {
		close(fd);
		return -errno;
	}
	memcpy(mac, request.ifr_hwaddr.sa_data, 6);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	return fd;
}

/* Marks the SYNs of this burst that reached the net namespace. */
static void
receive_all(int fd, uint32_t source, unsigned burst_index, struct burst *burst)
{
	unsigned char packet[2048];
	ssize_t length;

	while ((length = recv(fd, packet, sizeof(packet), 0)) > 0) {
		struct ip *ip = (struct ip *)packet;
		struct tcphdr *tcp = (struct tcphdr *)(packet + sizeof(*ip));
		uint32_t sequence;

		if ((size_t)length < sizeof(*ip) + sizeof(*tcp) || ip->ip_v != 4 ||
		    ip->ip_hl != 5 || ip->ip_p != IPPROTO_TCP || ip->ip_src.s_addr != source ||
		    ntohs(tcp->th_dport) != SMTP_PORT || !(tcp->th_flags & TH_SYN))
			continue;
		sequence = ntohl(tcp->th_seq);
		if (sequence >> 16 == burst_index && (sequence & 0xffff) <= NUMBERS_MAX)
			burst->arrived[sequence & 0xffff] = 1;
	}
}

/* Waits until deadline, reading what arrives meanwhile. */
static void
wait_receiving(int fd, uint64_t deadline, uint32_t source, unsigned burst_index,
               struct burst *burst)
{
	struct pollfd pollfd = {.fd = fd, .events = POLLIN};
	uint64_t now;

	while ((now = monotonic_ns()) < deadline) {
		struct timespec timeout = {.tv_sec = (time_t)((deadline - now) / 1000000000u),
		                           .tv_nsec = (long)((deadline - now) % 1000000000u)};

		if (ppoll(&pollfd, 1, &timeout, NULL) > 0)
			receive_all(fd, source, burst_index, burst);
	}
	receive_all(fd, source, burst_index, burst);
}

static int
burst_send(const struct options *options, int sender, int receiver, const uint8_t vm_mac[6],
           unsigned burst_index, struct burst *burst)
{
	struct frame_spec spec = {
	    .family = AF_INET,
	    .protocol = IPPROTO_TCP,
	    .destination_port = SMTP_PORT,
	    .tcp_flags = TH_SYN,
	};
	unsigned char frame[FRAME_BYTES_MAX];
	uint64_t period = 1000000000ull / options->rate, start;
	uint32_t source = htonl(ntohl(options->source.s_addr) + burst_index);
	unsigned total = options->threshold + options->after;
	size_t length;

	memset(burst, 0, sizeof(*burst));
	memcpy(spec.source, &source, 4);
	memcpy(spec.destination, &options->destination, 4);
	memcpy(spec.source_mac, vm_mac, 6);
	memcpy(spec.destination_mac, options->gateway_mac, 6);
	start = monotonic_ns();
	for (unsigned number = 1; number <= total; number++) {
		wait_receiving(receiver, start + (number - 1) * period, source, burst_index, burst);
		/* A new connection every time, as a mailer opens them. */
		spec.source_port = (uint16_t)(SOURCE_PORT + number);
		spec.tcp_sequence = burst_index << 16 | number;
		length = frame_build(&spec, frame);
		burst->sent_ns[number] = monotonic_ns();
		if (send(sender, frame, length, 0) != (ssize_t)length) {
			fprintf(stderr, "detect_latency: send: %s\n", strerror(errno));
			return -EIO;
		}
	}
	wait_receiving(receiver, monotonic_ns() + DRAIN_NS, source, burst_index, burst);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option long_options[] = {
	    {"vm", required_argument, NULL, 'v'},
	    {"net", required_argument, NULL, 'n'},
	    {"gateway-mac", required_argument, NULL, 'g'},
	    {"source", required_argument, NULL, 's'},
	    {"destination", required_argument, NULL, 'd'},
	    {"bursts", required_argument, NULL, 'b'},
	    {"threshold", required_argument, NULL, 't'},
	    {"after", required_argument, NULL, 'a'},
	    {"rate", required_argument, NULL, 'r'},
	    {"time-limit", required_argument, NULL, 'l'},
	    {NULL, 0, NULL, 0},
	};
	struct options options = {
	    .bursts = 50, .threshold = 30, .after = 100, .rate = 1000, .time_limit_s = 120};
	double latencies_ms[BURSTS_MAX], leaks[BURSTS_MAX];
	char ratio[TEXT_BYTES], figures[TEXT_BYTES], sizes[TEXT_BYTES];
	struct summary latency = {0}, leaked;
	unsigned banned = 0, preceding_lost = 0;
	uint8_t vm_mac[6], net_mac[6];
	struct burst *burst;
	int sender, receiver, option, have_mac = 0;
	uint64_t deadline;

	while ((option = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
		switch (option) {
		case 'v':
			options.vm = optarg;
			break;
		case 'n':
			options.net = optarg;
			break;
		case 'g':
			have_mac = mac_parse(optarg, options.gateway_mac) == 0;
			break;
		case 's':
			if (inet_pton(AF_INET, optarg, &options.source) != 1)
				usage();
			break;
		case 'd':
			if (inet_pton(AF_INET, optarg, &options.destination) != 1)
				usage();
			break;
		case 'b':
			options.bursts = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 't':
			options.threshold = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'a':
			options.after = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'r':
			options.rate = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'l':
			options.time_limit_s = (unsigned)strtoul(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	if (options.vm == NULL || options.net == NULL || !have_mac || options.source.s_addr == 0 ||
	    options.destination.s_addr == 0 || options.bursts == 0 || options.bursts > BURSTS_MAX ||
	    options.threshold == 0 || options.threshold + options.after > NUMBERS_MAX ||
	    options.rate == 0 || options.rate > 1000000 ||
	    (ntohl(options.source.s_addr) & 0xff) + options.bursts > 255)
		usage();
	if ((burst = malloc(sizeof(*burst))) == NULL)
		return 1;
	if (netns_enter(options.vm) != 0 || (sender = packet_socket(SOCK_RAW, 0, vm_mac)) < 0 ||
	    netns_enter(options.net) != 0 ||
	    (receiver = packet_socket(SOCK_DGRAM, ETH_P_IP, net_mac)) < 0) {
		fprintf(stderr, "detect_latency: cannot open the sender and the receiver\n");
		return 1;
	}
	deadline = monotonic_ns() + options.time_limit_s * 1000000000ull;
	for (unsigned b = 0; b < options.bursts; b++) {
		unsigned first_dropped = 0, leaked_count = 0;

		if (monotonic_ns() > deadline) {
			fprintf(stderr, "detect_latency: time limit after %u bursts\n", b);
			return 1;
		}
		if (burst_send(&options, sender, receiver, vm_mac, b, burst) != 0)
			return 1;
		for (unsigned n = 1; n < options.threshold; n++)
			preceding_lost += !burst->arrived[n];
		for (unsigned n = options.threshold; n <= options.threshold + options.after; n++) {
			if (!burst->arrived[n] && first_dropped == 0)
				first_dropped = n;
			if (n > options.threshold && burst->arrived[n])
				leaked_count++;
		}
		leaks[b] = leaked_count;
		/* A burst never banned counts as the longest possible latency. */
		latencies_ms[b] =
		    first_dropped
		        ? (burst->sent_ns[first_dropped] - burst->sent_ns[options.threshold]) / 1e6
		        : INFINITY;
		banned += first_dropped != 0;
		wait_receiving(receiver, monotonic_ns() + BURST_GAP_NS, 0, 0, burst);
	}
	summarize(latencies_ms, options.bursts, &latency);
	summarize(leaks, options.bursts, &leaked);
	snprintf(ratio, sizeof(ratio), "p99 %.2fx the 10 ms target; leaked max %.0f (target < 10)",
	         latency.p99 / 10.0, leaked.maximum);
	snprintf(figures, sizeof(figures),
	         "crossing SYN to first dropped SYN: p50 %.1f ms, p99 %.1f ms, min %.1f ms, max "
	         "%.1f ms; SYNs leaked after the crossing one: median %.0f, max %.0f; %u of %u "
	         "bursts banned within %u SYNs; %u SYNs lost before the crossing one",
	         latency.median, latency.p99, latency.minimum, latency.maximum, leaked.median,
	         leaked.maximum, banned, options.bursts, options.after, preceding_lost);
	snprintf(sizes, sizeof(sizes),
	         "%u bursts, each from a new source, of %u+%u raw SMTP SYNs at %u/s (latency "
	         "resolution %.1f ms), daemon on the tests' policy (threshold %u attempts)",
	         options.bursts, options.threshold, options.after, options.rate,
	         1000.0 / options.rate, options.threshold);
	row_print("Detection to ban (lab)", ratio, figures, sizes);
	free(burst);
	return 0;
}
