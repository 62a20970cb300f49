#!/usr/bin/env bash
# XDP + tc cost per packet: runs bench_xdp mix against abuseguard's programs, the
# empty program and xdp-filter (Debian's xdp-tools), which this script loads
# on a veth in a namespace of its own with a rule set like abuseguard's
# work: drop SMTP (port 25) and a few banned sources of each family.
# xdp-filter is loaded without libxdp's dispatcher, as abuseguard attaches
# its program directly; its own bpffs lives in the mount namespace of one
# "ip netns exec", so no pin outlives the script.
# Usage: bench/xdp_mix.sh BUILD [bench_xdp mix options...]
set -u
BUILD=$1
shift
NS=agbx$$
trap 'ip netns del "$NS" 2>/dev/null' EXIT

xdp_filter_load() {
	ip netns add "$NS" &&
		ip -n "$NS" link add xf0 type veth peer name xf1 &&
		ip -n "$NS" link set xf0 up && ip -n "$NS" link set xf1 up || return 1
	ip netns exec "$NS" sh -ec '
		mount -t bpf bpf /sys/fs/bpf
		LIBXDP_SKIP_DISPATCHER=1 xdp-filter load xf0 -f tcp,udp,ipv4,ipv6
		xdp-filter port 25 -m dst
		for address in 192.0.2.66 192.0.2.67 198.51.100.7 203.0.113.9 \
			2001:db8:66::1 2001:db8:67::1 2001:db8:68::1; do
			xdp-filter ip "$address" -m src
		done' >&2
}

if ! command -v xdp-filter >/dev/null; then
	set -- --xdp-filter-missing "xdp-filter is not installed (make deps installs xdp-tools)" "$@"
elif ! xdp_filter_load; then
	set -- --xdp-filter-missing "xdp-filter load failed on a veth (see the log)" "$@"
else
	id=$(ip -n "$NS" -j link show xf0 | jq -r '.[0].xdp.prog.id // empty')
	name=$(ip -n "$NS" -j link show xf0 | jq -r '.[0].xdp.prog.name // empty')
	echo "xdp-filter: program $name, id $id" >&2
	if [ -n "$id" ]; then
		set -- --xdp-filter-id "$id" --xdp-filter-rules \
			"program $name (features tcp,udp,ipv4,ipv6), rules: port 25 dst, 7 source addresses" "$@"
	else
		set -- --xdp-filter-missing "no XDP program id on the veth after xdp-filter load" "$@"
	fi
fi
"$BUILD/bench/bench_xdp" mix "$@"
