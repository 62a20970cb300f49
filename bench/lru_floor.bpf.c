/*
 * The floor for any per-source state, for the sources benchmark: one
 * lookup of the packet's source in an LRU hash, and an insert on a miss,
 * with abuseguard's key (IPv4, or IPv6 masked to its /64) and value and the
 * same number of entries. Driven by bench/source_driver.bpf.c exactly as
 * abuseguard's program is; the frames are untagged Ethernet.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "abuseguard/abuseguard.h"

#define ETHERNET_BYTES    14
#define IPV4_SOURCE       (ETHERNET_BYTES + 12)
#define IPV6_SOURCE       (ETHERNET_BYTES + 8)
#define IPV6_PREFIX_BYTES 8

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536); /* set to the benchmark's size */
	__type(key, struct source_key);
	__type(value, struct source_state);
} floor_sources SEC(".maps");

struct source_state floor_state_zero;

SEC("xdp")
int
lru_floor(struct xdp_md *ctx)
{
	__u8 *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct source_key key = {};
	__u16 ethertype;

	if (data + IPV6_SOURCE + 16 > end)
		return XDP_PASS;
	ethertype = bpf_ntohs(*(__u16 *)(data + 12));
	if (ethertype == ETH_P_IP) {
		key.family = SOURCE_FAMILY_IPV4;
		key.prefix_len = 32;
		__builtin_memcpy(key.addr, data + IPV4_SOURCE, 4);
	} else if (ethertype == ETH_P_IPV6) {
		key.family = SOURCE_FAMILY_IPV6;
		key.prefix_len = 64;
		__builtin_memcpy(key.addr, data + IPV6_SOURCE, IPV6_PREFIX_BYTES);
	} else {
		return XDP_PASS;
	}
	if (!bpf_map_lookup_elem(&floor_sources, &key))
		bpf_map_update_elem(&floor_sources, &key, &floor_state_zero, BPF_NOEXIST);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
