/*
 * Replay: runs pcap and pcapng captures through the real XDP program (by
 * BPF_PROG_TEST_RUN), detectors and policy, with the packets' time stamps as
 * the clock, and prints what the daemon would have done. It touches no
 * nftables and no production store: its store is a scratch database that
 * is removed when it ends.
 */
#ifndef REPLAY_H
#define REPLAY_H

#include <stdint.h>

#include "config.h"

/* A capture's interface index (Linux cooked v2) and the VM-facing interface it is. */
struct replay_index_name {
	uint32_t index;
	const char *name;
};

struct replay_options {
	char *const *files; /* "-" is standard input */
	unsigned file_count;
	/* The VM-facing interface that packets naming none stand for; NULL: "(capture)". */
	const char *interface;
	struct replay_index_name *indexes; /* room for index_max */
	unsigned index_count, index_max;
	/* Frames per test run (--replay-batch); 0: the default, 1: one test run per packet. */
	unsigned batch;
};

#define REPLAY_BATCH_DEFAULT 4096

/* Takes the --replay-batch argument: 1 to REPLAY_BATCH_MAX. 0, or -EINVAL (reported). */
int replay_option_batch(struct replay_options *options, const char *argument);

/*
 * Takes one --replay-interface argument: NAME (the interface), or
 * INDEX=NAME (a capture's interface index). 0, or -EINVAL (reported).
 */
int replay_option_interface(struct replay_options *options, const char *argument);

/*
 * Replays the files in the order given, as one stream. Writes to standard
 * output one JSON line per finding and decision, then a summary whose every
 * line starts with "#"; skipped packets and errors go to standard error.
 * Returns the exit status: 0, or 1 if a file could not be read as a capture
 * or the replay could not be set up.
 */
int replay_run(const struct config *config, const struct replay_options *options);

/*
 * One replay kept open across files, for fuzz_replay: loading the programs
 * once, then each file through replay_session_file as a stream of its own
 * (its clock starts afresh), without the summary. 0 or -errno (reported).
 */
struct replay;
int replay_session_open(struct replay **out, const struct config *config,
                        const struct replay_options *options);
/* 0, or -EINVAL for a file that is not a capture (reported). */
int replay_session_file(struct replay *replay, const char *path);
void replay_session_close(struct replay *replay);

#endif
