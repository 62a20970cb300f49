/*
 * Replay's batch driver (include/abuseguard/replay_batch.h): one test run
 * of repeat count + 1 runs a batch of captured frames. Repetition i writes
 * frame i of the batch into the test run's packet (resized with
 * bpf_xdp_adjust_tail: the test run keeps the packet from one repetition to
 * the next), sets the replay clock and interface the programs read, notes
 * the events ring's position (so that the daemon hands each frame's events
 * to the engine with that frame) and tail-calls the XDP program or the
 * egress program's XDP twin. The last repetition only notes the position.
 *
 * A run may start at any slot (replay_batch_first, repeat count - first + 1)
 * and stops early, before frame i, when frame i - 1 handed up a learning
 * frame (the daemon learns from it before the next frame runs, as one by
 * one) or when the events ring may not have room for one more frame's
 * events; replay_batch_ran is then the first slot that did not run.
 *
 * Included by abuseguard.bpf.c after the programs. Replay loads it alone.
 */
#ifndef ABUSEGUARD_BPF_REPLAY_BATCH_H
#define ABUSEGUARD_BPF_REPLAY_BATCH_H

#include "abuseguard/replay_batch.h"

/* The most events one frame can make: spoofing, fragments, spam, scan, and room to spare. */
#define REPLAY_BATCH_EVENTS_ROOM (8 * (sizeof(struct abuse_event) + 8))

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 2); /* set by the daemon: the batch size + 1 */
	__type(key, __u32);
	__type(value, struct replay_batch_slot);
} replay_batch_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, REPLAY_BATCH_PROGRAMS);
	__type(key, __u32);
	__type(value, __u32);
} replay_batch_programs SEC(".maps");

/*
 * Set by the daemon before each run: the slots in use, the first to run
 * (replay_batch_next), and 0 for the rest.
 */
__u32 replay_batch_count;
__u32 replay_batch_next;
__u32 replay_batch_first;
__u32 replay_batch_ran;
__u32 replay_batch_stopped;
__u64 replay_batch_learn_position;

static __always_inline int
replay_batch_stop(__u32 index)
{
	if (!replay_batch_stopped) {
		replay_batch_stopped = 1;
		replay_batch_ran = index;
	}
	return XDP_PASS;
}

SEC("xdp")
int
abuseguard_replay_batch(struct xdp_md *ctx)
{
	__u32 index = replay_batch_next, length, size;
	struct replay_batch_slot *slot;
	__u64 learn_position, pending;
	long current;

	if (replay_batch_stopped)
		return XDP_PASS;
	replay_batch_next = index + 1;
	slot = bpf_map_lookup_elem(&replay_batch_slots, &index);
	if (!slot)
		return replay_batch_stop(index);
	slot->events_position = bpf_ringbuf_query(&events, BPF_RB_PROD_POS);
	if (index >= replay_batch_count)
		return replay_batch_stop(index);
	learn_position = bpf_ringbuf_query(&learn_frames, BPF_RB_PROD_POS);
	if (index == replay_batch_first)
		replay_batch_learn_position = learn_position;
	else if (learn_position != replay_batch_learn_position)
		return replay_batch_stop(index);
	size = bpf_ringbuf_query(&events, BPF_RB_RING_SIZE);
	pending = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	if (pending + REPLAY_BATCH_EVENTS_ROOM > size)
		return replay_batch_stop(index);

	length = slot->length;
	if (length < ETH_HLEN || length > REPLAY_BATCH_FRAME_BYTES)
		return replay_batch_stop(index);
	current = (long)ctx->data_end - (long)ctx->data;
	if (current != (long)length && bpf_xdp_adjust_tail(ctx, (int)((long)length - current)))
		return replay_batch_stop(index);
	if (bpf_xdp_store_bytes(ctx, 0, slot->frame, length))
		return replay_batch_stop(index);
	replay_now_ns = slot->time_ns;
	replay_ifindex = slot->ifindex;
	bpf_tail_call(ctx, &replay_batch_programs,
	              slot->toward_vm ? REPLAY_BATCH_EGRESS : REPLAY_BATCH_XDP);
	return replay_batch_stop(index);
}

#endif
