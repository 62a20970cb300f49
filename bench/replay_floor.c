/*
 * The floor under replay's cost per packet: every packet of a capture read
 * with libpcap as replay reads it, and run once through the empty XDP
 * program by BPF_PROG_TEST_RUN, one system call per packet as replay makes.
 * No detector, no store, no HTTP path: what any replay through the kernel's
 * test run pays. Prints the packets and the elapsed milliseconds of the
 * file, the program's load excluded.
 *
 *	replay_floor FILE
 *
 * Needs root (or CAP_BPF and CAP_NET_ADMIN).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
/* libpcap's struct bpf_insn would clash with the kernel's; only its reader is used. */
#define PCAP_DONT_INCLUDE_PCAP_BPF_H
#include <pcap/pcap.h>

#include "empty.skel.h"

static double
now_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)now.tv_sec * 1000.0 + (double)now.tv_nsec / 1e6;
}

int
main(int argc, char *argv[])
{
	char error_text[PCAP_ERRBUF_SIZE];
	struct empty_bpf *empty;
	struct pcap_pkthdr *header;
	const unsigned char *data;
	unsigned long long packets = 0, failed = 0;
	double start;
	pcap_t *pcap;
	int result;

	if (argc != 2) {
		fprintf(stderr, "usage: replay_floor FILE\n");
		return 64;
	}
	empty = empty_bpf__open_and_load();
	if (empty == NULL) {
		fprintf(stderr, "replay_floor: load the empty program: %s\n", strerror(errno));
		return 1;
	}
	pcap = pcap_open_offline_with_tstamp_precision(argv[1], PCAP_TSTAMP_PRECISION_NANO,
	                                               error_text);
	if (pcap == NULL) {
		fprintf(stderr, "replay_floor: %s: %s\n", argv[1], error_text);
		empty_bpf__destroy(empty);
		return 1;
	}
	start = now_ms();
	while ((result = pcap_next_ex(pcap, &header, &data)) == 1) {
		LIBBPF_OPTS(bpf_test_run_opts, options, .data_in = data,
		            .data_size_in = header->caplen, .repeat = 1);

		packets++;
		if (bpf_prog_test_run_opts(bpf_program__fd(empty->progs.empty_xdp), &options) != 0)
			failed++;
	}
	printf("%llu packets, %llu refused, %.0f ms\n", packets, failed, now_ms() - start);
	pcap_close(pcap);
	empty_bpf__destroy(empty);
	return result == PCAP_ERROR || failed > 0 ? 1 : 0;
}
