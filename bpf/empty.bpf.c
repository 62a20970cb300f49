/*
 * The floor for the XDP benchmark: a program that only passes the packet.
 * What abuseguard's program costs is measured against this.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int
empty_xdp(struct xdp_md *ctx)
{
	(void)ctx;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
