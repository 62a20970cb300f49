/*
 * Replay: runs pcap and pcapng captures through the real XDP program (by
 * BPF_PROG_TEST_RUN), detectors and policy, with the packets' time stamps as
 * the clock, and prints what the daemon would have done. It touches no
 * nftables and no production store: its store is a scratch database that
 * is removed when it ends.
 */
#ifndef REPLAY_H
#define REPLAY_H

#include "config.h"

/*
 * Replays the files in the order given, as one stream ("-" is standard
 * input). Writes to standard output one JSON line per finding and decision,
 * then a summary whose every line starts with "#"; skipped packets and
 * errors go to standard error. Returns the exit status: 0, or 1 if a file
 * could not be read as a capture or the replay could not be set up.
 */
int replay_run(const struct config *config, char *const files[], unsigned count);

#endif
