/*
 * Replay in batches: the daemon writes a batch of captured frames into an
 * array map it maps into memory, and one BPF_PROG_TEST_RUN (repeat = the
 * batch's count + 1) of the driver program (bpf/replay_batch.h) runs them in
 * order through the XDP program or, for frames toward the VM, the egress
 * program's XDP twin, each at its own time and interface. Shared by the
 * program and the daemon.
 */
#ifndef ABUSEGUARD_REPLAY_BATCH_H
#define ABUSEGUARD_REPLAY_BATCH_H

#include <linux/types.h>

/* A batched frame's bytes at most; longer frames are run one by one. */
#define REPLAY_BATCH_FRAME_BYTES 2032
/* The frames of one batch at most (the map holds one slot more). */
#define REPLAY_BATCH_MAX 16384

/* The program array the driver tail-calls. */
enum replay_batch_program {
	REPLAY_BATCH_XDP,    /* from the VM: abuseguard_xdp */
	REPLAY_BATCH_EGRESS, /* toward the VM: abuseguard_egress_replay */
	REPLAY_BATCH_PROGRAMS
};

struct replay_batch_slot {
	__u64 time_ns;
	/* Written by the driver: the events ring's producer position before this frame ran. */
	__u64 events_position;
	__u32 ifindex;
	__u16 length;
	__u8 toward_vm;
	__u8 pad;
	__u8 frame[REPLAY_BATCH_FRAME_BYTES];
};

#endif
