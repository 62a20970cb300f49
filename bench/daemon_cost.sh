#!/usr/bin/env bash
# The daemon's CPU and memory while it tracks many sources, in the lab
# (tests/lab/lib.sh): the tests' policy with max_sources and max_smtp_pairs
# raised to hold them all; syn_flood writes one SMTP SYN from each source
# into the vm's end of the XDP-attached veth as fast as it can, with bursts
# woven in so that bans keep coming (50, under the policy's safety valve of
# 60 a minute). VmRSS is sampled from /proc every 100 ms; CPU is utime +
# stime from /proc/PID/stat over the flood and one second after it; the
# kernel memory of the daemon's BPF maps is their memlock in
# /proc/PID/fdinfo, as bpftool shows it.
# Usage: bench/daemon_cost.sh BUILD [--smoke]
set -u
BUILD=$(realpath "${1:-build}")
sources=1000000 bursts=50
[ "${2:-}" = --smoke ] && sources=20000 bursts=3
cd "$(dirname "$0")/.."
LAB=agbc$$
. tests/lab/lib.sh
lab_setup || { echo "bench: lab namespaces could not be created" >&2; exit 1; }

bound=1024
while [ "$bound" -lt "$sources" ]; do bound=$((bound * 2)); done
# The first max_sources is the XDP map's (limits); the crawler's has its own bound.
sed -e "0,/max_sources = [0-9]*;/s//max_sources = $bound;/" \
	-e "s/max_smtp_pairs = [0-9]*;/max_smtp_pairs = $bound;/" \
	policy/abuseguard.conf >"$WORK/policy.conf"
grep -q "max_sources = $bound;" "$WORK/policy.conf" || { echo "bench: policy edit failed" >&2; exit 1; }
daemon_start "$WORK/policy.conf" "$WORK/state" || { echo "bench: daemon did not start" >&2; exit 1; }

status_field() { awk -v key="$1:" '$1 == key { print $2 }' "/proc/$DAEMON_PID/status"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$DAEMON_PID/stat"; }
# The memlock of the daemon's BPF maps, in bytes: all of them, or those with max_entries N.
maps_memlock() {
	local total=0 fd link entries memlock
	for fd in /proc/"$DAEMON_PID"/fd/*; do
		link=$(readlink "$fd" 2>/dev/null) || continue
		[ "$link" = "anon_inode:bpf-map" ] || continue
		entries=$(awk '$1 == "max_entries:" { print $2 }' "/proc/$DAEMON_PID/fdinfo/${fd##*/}")
		memlock=$(awk '$1 == "memlock:" { print $2 }' "/proc/$DAEMON_PID/fdinfo/${fd##*/}")
		[ -z "${1:-}" ] || [ "$entries" = "$1" ] || continue
		total=$((total + memlock))
	done
	echo "$total"
}
mib() { awk -v bytes="$1" 'BEGIN { printf "%.1f", bytes / 1048576 }'; }

sleep 1
rss_idle=$(status_field VmRSS)
ticks_before=$(cpu_ticks)
started=$(now_us)
in_vm timeout 120 "$BUILD/bench/syn_flood" --sources "$sources" --bursts "$bursts" \
	--burst-size 40 --time-limit 100 >"$WORK/flood.out" &
flood=$!
samples=()
while kill -0 "$flood" 2>/dev/null; do
	samples+=("$(status_field VmRSS)")
	sleep 0.1
done
wait "$flood" || { echo "bench: syn_flood failed: $(cat "$WORK/flood.out")" >&2; exit 1; }
flood_us=$(($(now_us) - started))
sleep 1
samples+=("$(status_field VmRSS)")
ticks_after=$(cpu_ticks)
elapsed_us=$(($(now_us) - started))
hwm=$(status_field VmHWM)
status=$(ctl --json status)
tracked=$(jq -r '.counters.sources_new' <<<"$status")
attempts=$(jq -r '.counters.smtp_attempts' <<<"$status")
bans=$(jq -r '.counters.bans' <<<"$status")
maps_all=$(maps_memlock)
maps_sources=$(maps_memlock "$bound")
cat "$WORK/flood.out" >&2

read -r rss_median rss_min rss_max < <(printf '%s\n' "${samples[@]}" | sort -n |
	awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m, v[1], v[NR] }')
hz=$(getconf CLK_TCK)
cpu=$(awk -v t=$((ticks_after - ticks_before)) -v hz="$hz" -v us="$elapsed_us" \
	'BEGIN { printf "%.1f", 100 * (t / hz) / (us / 1e6) }')
cpu_ms=$(((ticks_after - ticks_before) * 1000 / hz))
pps=$(awk -v n=$((sources + bursts * 40)) -v us="$flood_us" 'BEGIN { printf "%.0f", n / (us / 1e6) }')
kib_to_mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
ratio=$(awk -v hwm="$hwm" -v idle="$rss_idle" -v max="$rss_max" \
	'BEGIN { printf "VmHWM %.2fx the 64 MiB target; RSS under load %.2fx idle", hwm / 65536, max / idle }')
printf 'row\tDaemon cost (lab)\t%s\t%s\t%s\n' "$ratio" \
	"VmRSS idle $(kib_to_mib "$rss_idle") MiB, under load median $(kib_to_mib "$rss_median") MiB ($(kib_to_mib "$rss_min")-$(kib_to_mib "$rss_max"), ${#samples[@]} samples), VmHWM $(kib_to_mib "$hwm") MiB; CPU ${cpu}% of one core (${cpu_ms} ms user+sys over $((elapsed_us / 1000)) ms, in clock ticks of $((1000 / hz)) ms; the XDP work runs in the kernel, not in the daemon); XDP counted ${attempts} SMTP attempts and ${tracked} new sources, ${bans} bans; kernel memory of the daemon's BPF maps (memlock, not in RSS) $(mib "$maps_all") MiB, of which the two LRU maps $(mib "$maps_sources") MiB" \
	"${sources} distinct sources (half IPv4, half IPv6 /64), one SMTP SYN each, plus ${bursts} bursts of 40 SYNs woven in, raw frames at ${pps} frames/s into the vm's end of the XDP-attached veth (the hypervisor drops them after XDP); tests' policy with max_sources = max_smtp_pairs = ${bound}; 1 run, RSS sampled every 100 ms"
