/*
 * libFuzzer target for replay's capture reader: each input is a file given
 * to --replay (pcap or pcapng, any link type, snap length and time stamps),
 * read by libpcap, then by replay's own code (link headers made Ethernet,
 * time stamps that are no time, the reasons to skip a packet) and run
 * through the real XDP and tc programs (BPF_PROG_TEST_RUN), the detectors
 * and the HTTP path, as abuseguardd --replay runs it. One replay stays open
 * (loading the programs takes longer than thousands of inputs); each input
 * is a stream of its own. Beyond "no crash": a file is replayed or refused
 * as no capture, nothing else. Needs root, for the BPF programs.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>

#include "config.h"
#include "log.h"
#include "memfd.h"
#include "replay.h"

static struct config config;
static struct replay *replay;
static int capture_fd = -1;
static char capture_path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/*
	 * One test run per packet (--replay-batch 1): five times the inputs a
	 * second of the batch driver on captures this short; test_replay checks
	 * that batches give the same output.
	 */
	static const struct replay_options options = {.batch = 1};

	(void)argc;
	(void)argv;
	config_defaults(&config);
	/* Small maps: the scan sweep walks all of its map once a second of capture time. */
	config.limits.max_sources = 4096;
	config.limits.max_smtp_pairs = 4096;
	config.limits.max_scan_contacts = 4096;
	capture_fd = memfd_input_open("fuzz-capture", capture_path);
	if (replay_session_open(&replay, &config, &options) < 0) {
		fprintf(stderr, "fuzz_replay: no replay: loading the BPF programs needs root\n");
		exit(1);
	}
	/* Every skipped packet is reported; thousands of inputs a second would flood the log. */
	log_set_minimum(LOG_CRIT);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int result;

	memfd_input_write(capture_fd, data, size);
	result = replay_session_file(replay, capture_path);
	if (result != 0 && result != -EINVAL)
		abort();
	return 0;
}
