#!/usr/bin/env bash
# Detection to ban for a neighbour during a random-source flood, in the lab
# of tests/lab/lib.sh with a second VM on agvm1: detect_latency sends bursts
# of numbered SMTP SYNs from the second VM's own addresses, first with all
# quiet, then while the first VM floods SYNs from random sources (syn_flood,
# every one spoofed). The ratio is the flood run's p99 over the quiet run's,
# both in the same run. The namespaces (and the daemon's table) go on exit.
# Usage: bench/detect_flood.sh BUILD [--smoke]
set -u
BUILD=$(realpath "${1:-build}")
bursts=25
flood_sources=4000000
[ "${2:-}" = --smoke ] && bursts=2 flood_sources=200000
cd "$(dirname "$0")/.."
LAB=agbf$$
. tests/lab/lib.sh
VM2=$LAB-vm2
lab_setup || { echo "bench: lab namespaces could not be created" >&2; exit 1; }
lab_at_exit 'ip netns pids "$VM2" 2>/dev/null | xargs -r kill -9; ip netns del "$VM2" 2>/dev/null'
ip netns add "$VM2" &&
	ip link add agvm1 netns "$HV" type veth peer name eth0 netns "$VM2" &&
	ip -n "$VM2" link set lo up && ip -n "$VM2" link set eth0 up &&
	ip -n "$HV" addr add 10.0.2.1/24 dev agvm1 && ip -n "$HV" link set agvm1 up || exit 1
for i in $(seq 0 $((2 * bursts - 1))); do
	echo "address add 10.0.2.$((100 + i))/24 dev eth0"
done | ip -n "$VM2" -batch - || exit 1
# Both VMs' addresses configured, as an orchestrator would. Not 10.0.2.0/24:
# it holds the hypervisor's 10.0.2.1, and the daemon refuses it, leaving agvm1
# to learn at most limits.max_vm_addresses (16) of the bursts' sources.
{ sed -e 's/^vms = ( );$//' policy/abuseguard.conf
	echo 'vms = ( { interface = "agvm0"; addresses = [ "10.0.0.5", "fd00:5::/64" ]; },
	{ interface = "agvm1"; addresses = [ "10.0.2.96/27", "10.0.2.128/27" ]; } );'; } >"$WORK/policy.conf"
daemon_start "$WORK/policy.conf" "$WORK/state" || { echo "bench: daemon did not start" >&2; exit 1; }
grep -q 'not applied' "$WORK/daemon.log" && { echo "bench: the policy's VMs were refused" >&2; exit 1; }
in_hv ping -c 1 -W 1 10.0.1.2 >/dev/null
gateway=$(ip -n "$HV" -j link show agvm1 | jq -r '.[0].address')
# latency_run FIRST_SOURCE: one detect_latency run from the second VM; its row on stdout.
latency_run() {
	timeout 200 "$BUILD/bench/detect_latency" --vm "$VM2" --net "$NET" --gateway-mac "$gateway" \
		--source "$1" --destination 10.0.1.2 --bursts "$bursts" --threshold 30 \
		--after 100 --rate 1000 --time-limit 150 | grep '^row'
}
quiet=$(latency_run 10.0.2.100) || { echo "bench: the quiet run failed" >&2; exit 1; }
ip netns exec "$VM" timeout 120 "$BUILD/bench/syn_flood" --sources "$flood_sources" \
	--time-limit 100 >"$WORK/flood.out" 2>&1 &
flood=$!
# The flood is under way before the first burst.
for _ in $(seq 100); do
	[ "$(ctl --json status | jq '.counters.spoofed')" -gt 10000 ] 2>/dev/null && break
	sleep 0.05
done
flooded=$(latency_run "10.0.2.$((100 + bursts))")
status=$?
kill -0 "$flood" 2>/dev/null && still=yes || still=no
kill "$flood" 2>/dev/null
wait "$flood" 2>/dev/null
spoofed=$(ctl --json status | jq '.counters.spoofed')
[ "$status" -eq 0 ] || { echo "bench: the run during the flood failed" >&2; exit 1; }
echo "quiet: $quiet" >&2
echo "flood: $flooded ($(cat "$WORK/flood.out")); still flooding at the end: $still" >&2
# The figures of a detect_latency row, and its p50 and p99 in ms.
figures() { cut -f 4 <<<"$1"; }
# (Not grep -o '[0-9.]*' alone: it takes the 99 of "p99" too.)
percentile() { figures "$1" | sed -n "s/.* $2 \([0-9.]*\) ms.*/\1/p"; }
awk -v qp50="$(percentile "$quiet" p50)" -v qp99="$(percentile "$quiet" p99)" \
	-v fp50="$(percentile "$flooded" p50)" -v fp99="$(percentile "$flooded" p99)" \
	-v quiet="$(figures "$quiet")" -v flooded="$(figures "$flooded")" -v spoofed="$spoofed" \
	-v still="$still" -v bursts="$bursts" -v sources="$flood_sources" 'BEGIN {
	# A 0 ms percentile (the SYN right after the crossing one was dropped) is one step.
	ratio = sprintf("p99 %.2fx the quiet run'"'"'s, p50 %.2fx", (fp99 > 1 ? fp99 : 1) / (qp99 > 1 ? qp99 : 1),
		(fp50 > 1 ? fp50 : 1) / (qp50 > 1 ? qp50 : 1))
	printf "row\tDetection to ban during a flood (lab)\t%s\tquiet: %s. During the flood: %s; %d packets counted spoofed, flood still running at the end: %s\t%d bursts each way from the second VM'"'"'s own addresses (30+100 SYNs at 1000/s), the first VM flooding up to %d SYNs from random sources (syn_flood)\n",
		ratio, quiet, flooded, spoofed, still, bursts, sources
}'
