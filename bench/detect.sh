#!/usr/bin/env bash
# Detection to ban in the lab (tests/lab/lib.sh): the daemon on the tests'
# policy (policy/abuseguard.conf) watches the vm-facing veth; detect_latency
# sends bursts of numbered SMTP SYNs from the vm, each from a new address of
# the vm, and watches which reach the net namespace. The namespaces (and with
# them the daemon's nftables table) go on exit.
# Usage: bench/detect.sh BUILD [--smoke]
set -u
BUILD=$(realpath "${1:-build}")
bursts=50
[ "${2:-}" = --smoke ] && bursts=3
cd "$(dirname "$0")/.."
LAB=agbd$$
. tests/lab/lib.sh
lab_setup || { echo "bench: lab namespaces could not be created" >&2; exit 1; }
for i in $(seq 0 $((bursts - 1))); do
	echo "address add 10.0.0.$((100 + i))/24 dev eth0"
done | ip -n "$VM" -batch - || exit 1
# The vm's addresses are configured, as an orchestrator would: every burst's
# source is the VM's own from its first SYN, not learned from its ARP later.
{ cat policy/abuseguard.conf; echo 'vms = ( { interface = "agvm0";
	addresses = [ "10.0.0.5", "10.0.0.96/27", "10.0.0.128/27", "fd00:5::/64" ]; } );'; } |
	sed -e 's/^vms = ( );$//' >"$WORK/policy.conf"
daemon_start "$WORK/policy.conf" "$WORK/state" || { echo "bench: daemon did not start" >&2; exit 1; }
# The hypervisor knows net's MAC before the first burst.
in_hv ping -c 1 -W 1 10.0.1.2 >/dev/null
gateway=$(ip -n "$HV" -j link show agvm0 | jq -r '.[0].address')
timeout 300 "$BUILD/bench/detect_latency" --vm "$VM" --net "$NET" --gateway-mac "$gateway" \
	--source 10.0.0.100 --destination 10.0.1.2 --bursts "$bursts" --threshold 30 \
	--after 100 --rate 1000 --time-limit 240
