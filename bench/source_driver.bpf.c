/*
 * Drives abuseguard's program with a stream of distinct sources inside one
 * BPF_PROG_TEST_RUN: every repetition writes the next source number into
 * the frame and tail-calls the program under test. A run of repeat N is
 * then N packets from N sources, timed by the kernel without a system call
 * between packets, as on a real interface. Driving the empty program the
 * same way measures what the driver itself adds.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* Where the source number goes: for both families, frame bytes 26 to 29. */
#define ADDRESS_OFFSET_MAX 64

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} program_under_test SEC(".maps");

/* Set by bench_xdp between runs. */
__u64 next_packet;
__u32 source_count;    /* numbers go round in 0 .. source_count - 1 */
__u32 source_stride;   /* coprime with source_count: a scattered order */
__u32 address_offset;  /* of the four bytes that take the number, big-endian */
__u32 keep_first_byte; /* IPv4: the number has three bytes, 10.x.y.z */

SEC("xdp")
int
source_driver(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 offset = address_offset, number;
	__u8 *address;

	if (source_count == 0 || offset > ADDRESS_OFFSET_MAX)
		return XDP_ABORTED;
	address = data + offset;
	if ((void *)(address + 4) > end)
		return XDP_ABORTED;
	number = (__u32)((next_packet++ * source_stride) % source_count);
	if (!keep_first_byte)
		address[0] = number >> 24;
	address[1] = number >> 16;
	address[2] = number >> 8;
	address[3] = number;
	bpf_tail_call(ctx, &program_under_test, 0);
	return XDP_ABORTED;
}

char LICENSE[] SEC("license") = "GPL";
