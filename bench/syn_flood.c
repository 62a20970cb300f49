/*
 * A fast sender of SMTP SYNs from many distinct sources, for the daemon's
 * cost: run it in the vm namespace (ip netns exec) and it writes raw frames
 * to eth0, one SYN from each of --sources sources (IPv4 addresses
 * 10.64.x.y and IPv6 /64s fd00:0:N:N::/64, alternating), with --bursts
 * sources of --burst-size SYNs each woven in, so bans keep coming while the
 * sources pile up.
 *
 *   syn_flood --sources N [--bursts B] [--burst-size S] [--mac MAC]
 *	       [--time-limit SECONDS]
 *
 * The frames go to --mac, by default an address nobody has: the XDP program
 * sees each frame, then the hypervisor's stack drops it as meant for
 * another host, so nothing is forwarded and no conntrack entry is made.
 * Bounded: sources + bursts * burst-size frames, and the time limit.
 * Prints what it sent on stdout.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

#define INTERFACE   "eth0"
#define BATCH       64
#define SOURCES_MAX (1u << 22)
#define FLOOD_BASE  (64u << 16)  /* 10.64.0.0 */
#define BURST_BASE  (200u << 16) /* 10.200.0.0: apart from the flood's sources */
#define SEND_BUFFER (4 * 1024 * 1024)

struct flood {
	uint32_t sources, bursts, burst_size;
	uint8_t mac[6];
	uint64_t total, sent, burst_sent;
};

static void __attribute__((noreturn)) usage(void)
{
	fprintf(stderr, "usage: syn_flood --sources N [--bursts B] [--burst-size S] [--mac MAC] "
	                "[--time-limit SECONDS]\n");
	exit(2);
}

/* The packet-th frame: every so often a burst's SYN, otherwise the next new source. */
static size_t
flood_frame(const struct flood *flood, uint64_t packet, unsigned char *out)
{
	uint64_t burst_packets = (uint64_t)flood->bursts * flood->burst_size;
	uint64_t spacing = burst_packets ? flood->total / burst_packets : 0;
	struct frame_spec spec = {
	    .protocol = IPPROTO_TCP,
	    .source_port = (uint16_t)(30000 + packet % 30000),
	    .destination_port = SMTP_PORT,
	    .tcp_flags = TH_SYN,
	    .tcp_sequence = (uint32_t)packet,
	    .source_mac = {0x02, 0, 0, 0, 0, 5},
	};
	uint64_t burst_index;

	memcpy(spec.destination_mac, flood->mac, 6);
	if (spacing != 0 && packet % spacing == spacing - 1 &&
	    (burst_index = packet / spacing) < burst_packets) {
		frame_set_addresses(&spec, "10.0.0.0", "192.0.2.25");
		frame_set_numbered_source(&spec,
		                          BURST_BASE + (uint32_t)(burst_index % flood->bursts));
		return frame_build(&spec, out);
	}
	/* Number the new sources without the burst slots before this one. */
	if (spacing != 0)
		packet -=
		    (packet + 1) / spacing < burst_packets ? (packet + 1) / spacing : burst_packets;
	if (packet % 2) {
		frame_set_addresses(&spec, "fd00::5", "2001:db8::25");
		frame_set_numbered_source(&spec, (uint32_t)(packet / 2));
	} else {
		frame_set_addresses(&spec, "10.0.0.0", "192.0.2.25");
		frame_set_numbered_source(&spec, FLOOD_BASE + (uint32_t)(packet / 2));
	}
	return frame_build(&spec, out);
}

static int
packet_socket(void)
{
	struct sockaddr_ll address = {.sll_family = AF_PACKET, .sll_protocol = 0};
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	int size = SEND_BUFFER, bypass = 1;

	if (fd < 0)
		return -errno;
	address.sll_ifindex = (int)if_nametoindex(INTERFACE);
	if (address.sll_ifindex == 0 || bind(fd, (struct sockaddr *)&address, sizeof(address))) {
		close(fd);
		return -errno;
	}
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	/* The qdisc adds nothing here but cost. */
	setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &bypass, sizeof(bypass));
	return fd;
}

int
main(int argc, char **argv)
{
	static const struct option options[] = {
	    {"sources", required_argument, NULL, 's'},    {"bursts", required_argument, NULL, 'b'},
	    {"burst-size", required_argument, NULL, 'z'}, {"mac", required_argument, NULL, 'm'},
	    {"time-limit", required_argument, NULL, 'l'}, {NULL, 0, NULL, 0},
	};
	struct flood flood = {.bursts = 0, .burst_size = 40, .mac = {0x02, 0, 0, 0, 0, 0xfe}};
	static unsigned char frames[BATCH][FRAME_BYTES_MAX];
	struct mmsghdr messages[BATCH];
	struct iovec vectors[BATCH];
	uint64_t start, deadline, time_limit_s = 60;
	int fd, option;

	while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (option) {
		case 's':
			flood.sources = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'b':
			flood.bursts = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'z':
			flood.burst_size = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'm':
			if (mac_parse(optarg, flood.mac) != 0)
				usage();
			break;
		case 'l':
			time_limit_s = strtoull(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	if (flood.sources == 0 || flood.sources > SOURCES_MAX || flood.bursts > 255 ||
	    flood.burst_size > 10000 || time_limit_s == 0)
		usage();
	if ((fd = packet_socket()) < 0) {
		fprintf(stderr, "syn_flood: %s: %s\n", INTERFACE, strerror(-fd));
		return 1;
	}
	flood.total = flood.sources + (uint64_t)flood.bursts * flood.burst_size;
	start = monotonic_ns();
	deadline = start + time_limit_s * 1000000000ull;
	while (flood.sent < flood.total && monotonic_ns() < deadline) {
		unsigned count = 0;
		int done;

		for (; count < BATCH && flood.sent + count < flood.total; count++) {
			vectors[count].iov_base = frames[count];
			vectors[count].iov_len =
			    flood_frame(&flood, flood.sent + count, frames[count]);
			memset(&messages[count], 0, sizeof(messages[count]));
			messages[count].msg_hdr.msg_iov = &vectors[count];
			messages[count].msg_hdr.msg_iovlen = 1;
		}
		done = sendmmsg(fd, messages, count, 0);
		if (done < 0) {
			if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR)
				continue;
			fprintf(stderr, "syn_flood: sendmmsg: %s\n", strerror(errno));
			return 1;
		}
		flood.sent += (unsigned)done;
	}
	printf("sent %llu of %llu frames (%u sources, %u bursts of %u) in %.2f s\n",
	       (unsigned long long)flood.sent, (unsigned long long)flood.total, flood.sources,
	       flood.bursts, flood.burst_size, (monotonic_ns() - start) / 1e9);
	return flood.sent == flood.total ? 0 : 1;
}
