/*
 * Writes a large capture for the replay benchmark: the XDP benchmark's mix
 * of frames (see bench.c), from many sources, with a few of them sending
 * SMTP bursts that a replay should ban.
 *
 *   make_pcap --packets N [--sources S] [--bursts B] FILE
 *
 * Packets are 10 us apart; source numbers go round in 1 .. S. Every
 * burst source sends 40 SMTP SYNs spread over the capture.
 */
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define PACKET_SPACING_US 10
#define BURST_SIZE        40
#define BURST_BASE        (200u << 16) /* 10.200.0.0 and fd00:0:c8:0::/64 on */
#define START_SECONDS     1700000000

static void __attribute__((noreturn)) usage(void)
{
	fprintf(stderr, "usage: make_pcap --packets N [--sources S] [--bursts B] FILE\n");
	exit(2);
}

/* The kind of the packet-th frame: the mix's weights, dealt out in turn. */
static const struct mix_frame *
mix_kind(uint64_t packet)
{
	unsigned total = 0, slot;

	for (size_t i = 0; i < mix_count; i++)
		total += mix[i].weight;
	slot = (unsigned)(packet % total);
	for (size_t i = 0; i < mix_count; i++) {
		if (slot < mix[i].weight)
			return &mix[i];
		slot -= mix[i].weight;
	}
	return &mix[0];
}

int
main(int argc, char **argv)
{
	static const struct option options[] = {
	    {"packets", required_argument, NULL, 'p'},
	    {"sources", required_argument, NULL, 's'},
	    {"bursts", required_argument, NULL, 'b'},
	    {NULL, 0, NULL, 0},
	};
	static const struct mix_frame burst_kind = {
	    "10.0.0.5", "192.0.2.25", IPPROTO_TCP, SMTP_PORT, TH_SYN, 0, 0, 0, 0, 0};
	unsigned char frame[FRAME_BYTES_MAX];
	uint64_t packets = 0, spacing;
	uint32_t sources = 10000, bursts = 20;
	pcap_dumper_t *dumper;
	pcap_t *pcap;
	int option;

	while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (option) {
		case 'p':
			packets = strtoull(optarg, NULL, 10);
			break;
		case 's':
			sources = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'b':
			bursts = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	if (optind + 1 != argc || packets == 0 || packets > 100000000 || sources == 0 ||
	    sources >= BURST_BASE || bursts > 255)
		usage();
	pcap = pcap_open_dead(DLT_EN10MB, FRAME_BYTES_MAX);
	if (pcap == NULL || (dumper = pcap_dump_open(pcap, argv[optind])) == NULL) {
		fprintf(stderr, "make_pcap: %s: %s\n", argv[optind],
		        pcap ? pcap_geterr(pcap) : "pcap_open_dead");
		return 1;
	}
	spacing = bursts ? packets / ((uint64_t)bursts * BURST_SIZE) : 0;
	for (uint64_t packet = 0; packet < packets; packet++) {
		uint64_t time_us = packet * PACKET_SPACING_US;
		struct pcap_pkthdr header = {
		    .ts = {.tv_sec = START_SECONDS + (time_t)(time_us / 1000000),
		           .tv_usec = (suseconds_t)(time_us % 1000000)},
		};

		if (spacing != 0 && packet % spacing == 0 &&
		    packet / spacing < (uint64_t)bursts * BURST_SIZE)
			header.caplen = (uint32_t)mix_frame_build(
			    &burst_kind, BURST_BASE + (uint32_t)(packet / spacing % bursts), frame);
		else
			header.caplen = (uint32_t)mix_frame_build(
			    mix_kind(packet), 1 + (uint32_t)(packet % sources), frame);
		header.len = header.caplen;
		pcap_dump((unsigned char *)dumper, &header, frame);
	}
	if (pcap_dump_flush(dumper) != 0) {
		fprintf(stderr, "make_pcap: %s: write failed\n", argv[optind]);
		return 1;
	}
	pcap_dump_close(dumper);
	pcap_close(pcap);
	return 0;
}
