#!/usr/bin/env bash
# Replay throughput: abuseguardd --replay over a generated capture (the XDP
# benchmark's mix from 10,000 sources, with 20 SMTP bursts), in batches (the
# default) and one test run per packet (--replay-batch 1), against tcpdump
# reading the same file and writing nothing (the I/O floor). Every frame
# comes from the VM: replay loads the tc egress program and its XDP twin
# only when a frame toward the VM comes, so this start-up has neither. Both
# read the file from the page cache after a first read warms it, taking
# turns run by run. The replay runs in a private network namespace, though
# it touches no nftables.
# Usage: bench/replay.sh BUILD [--smoke]
set -u
BUILD=$(realpath "${1:-build}")
packets=1000000 runs=3
[ "${2:-}" = --smoke ] && packets=20000 runs=1
cd "$(dirname "$0")/.."
WORK=$(mktemp -d /tmp/abuseguard-bench-replay.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
capture=$WORK/mix.pcap

"$BUILD/bench/make_pcap" --packets "$packets" --sources 10000 --bursts 20 "$capture" || exit 1
cat "$capture" >/dev/null

now_us() { echo "${EPOCHREALTIME/./}"; }
# timed_run COMMAND...: prints the elapsed milliseconds of one run.
timed_run() {
	local start
	start=$(now_us)
	"$@" >"$WORK/out" 2>"$WORK/err" || { cat "$WORK/err" >&2; return 1; }
	echo $((($(now_us) - start) / 1000))
}
# timed_runs COMMAND...: prints the elapsed milliseconds of each of $runs runs.
timed_runs() {
	for _ in $(seq "$runs"); do timed_run "$@" || return 1; done
}
# summary MS...: "median min max" of the runs.
summary() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m, v[1], v[NR] }'; }
rate() { awk -v n="$packets" -v ms="$1" 'BEGIN { printf "%.0f", n / (ms / 1000) }'; }

# tcpdump and the replay take turns, run by run: the machine is shared, and
# its load moves between one and the next.
tcpdump_ms=() replay_ms=() has_replay=0
"$BUILD/abuseguardd" --help 2>&1 | grep -q -- --replay && has_replay=1
for _ in $(seq "$runs"); do
	tcpdump_ms+=("$(timed_run tcpdump -r "$capture" -w /dev/null)") ||
		{ echo "bench: tcpdump failed" >&2; exit 1; }
	[ "$has_replay" = 1 ] || continue
	replay_ms+=("$(timed_run unshare --net "$BUILD/abuseguardd" -c policy/abuseguard.conf \
		--replay "$capture")") || { echo "bench: abuseguardd --replay failed" >&2; exit 1; }
done
read -r t_median t_min t_max < <(summary "${tcpdump_ms[@]}")
tcpdump_text="tcpdump -r FILE -w /dev/null: ${t_median} ms (${t_min}-${t_max}) = $(rate "$t_median") packets/s"
size_text="${packets} packets ($(($(stat -c %s "$capture") / 1048576)) MiB, pcap) from 10000 sources with 20 SMTP bursts, all from the VM (so the egress programs, verified when a frame toward the VM comes, are not loaded); ${runs} runs, median (min-max)"

if [ "$has_replay" = 0 ]; then
	printf 'row\tReplay throughput\t%s\t%s\t%s\n' \
		"not available yet: abuseguardd has no --replay (issue 10)" \
		"replay not measured; $tcpdump_text" "$size_text"
	exit 0
fi
findings=$(grep -c '^{' "$WORK/out")
cp "$WORK/out" "$WORK/batches.out"
read -r r_median r_min r_max < <(summary "${replay_ms[@]}")
mapfile -t one_ms < <(timed_runs unshare --net "$BUILD/abuseguardd" -c policy/abuseguard.conf \
	--replay-batch 1 --replay "$capture")
[ "${#one_ms[@]}" -eq "$runs" ] || { echo "bench: abuseguardd --replay-batch 1 failed" >&2; exit 1; }
cmp -s "$WORK/out" "$WORK/batches.out" ||
	{ echo "bench: one by one and in batches, replay's outputs differ" >&2; exit 1; }
read -r o_median o_min o_max < <(summary "${one_ms[@]}")
# Where the time goes: start-up (a capture of no packet: the program's load
# and its maps, sized by the policy's limits) and the floor of any replay
# through the kernel's test run (libpcap and one BPF_PROG_TEST_RUN of the
# empty program per packet, replay_floor).
head -c 24 "$capture" >"$WORK/empty.pcap"
mapfile -t start_ms < <(timed_runs unshare --net "$BUILD/abuseguardd" -c policy/abuseguard.conf \
	--replay "$WORK/empty.pcap")
read -r s_median _ _ < <(summary "${start_ms[@]}")
mapfile -t floor_ms < <(for _ in $(seq "$runs"); do
	"$BUILD/bench/replay_floor" "$capture" | sed -n 's/.* \([0-9]*\) ms$/\1/p'; done)
read -r f_median f_min f_max < <(summary "${floor_ms[@]}")
printf 'row\tReplay throughput\t%s\t%s\t%s\n' \
	"$(awk -v r="$r_median" -v o="$o_median" -v t="$t_median" -v s="$s_median" -v f="$f_median" 'BEGIN {
		printf "%.2fx tcpdump'"'"'s packets/s, net of start-up %.2fx (target >= 0.5x); one test run per packet %.2fx, its floor %.2fx", t / r, t / (r - s > 0 ? r - s : 1), t / o, t / f }')" \
	"abuseguardd --replay (batches of 4096, the default): ${r_median} ms (${r_min}-${r_max}) = $(rate "$r_median") packets/s, of it start-up (no packet) ${s_median} ms; --replay-batch 1: ${o_median} ms (${o_min}-${o_max}), the same ${findings} JSON lines (findings and decisions); its floor (libpcap and one BPF_PROG_TEST_RUN of the empty program per packet): ${f_median} ms (${f_min}-${f_max}); $tcpdump_text; load average $(cut -d ' ' -f 1-3 /proc/loadavg)" \
	"$size_text"
