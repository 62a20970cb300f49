#!/usr/bin/env bash
# Runs every benchmark and prints one table (Markdown) at the end: each row a
# ratio against a reference measured in the same run, the absolute figures,
# the sizes and repeat counts, and the command that produced it.
#   bench/run.sh [--smoke] [BUILD]
# --smoke runs each benchmark at tiny sizes (for tests/lab/test_bench_smoke.sh);
# the figures are then meaningless, only their presence counts.
# Needs root; every benchmark isolates itself (private network namespaces,
# its own nftables table there, no BPF pins) and cleans up on exit.
set -u
smoke=
if [ "${1:-}" = --smoke ]; then
	smoke=--smoke
	shift
fi
BUILD=$(realpath "${1:-build}")
cd "$(dirname "$0")/.."
# A directory of this run's own: make check may run the smoke benchmarks
# beside a full run. The logs are kept in $BUILD/bench-logs/{full,smoke}.
LOGS=$(mktemp -d /tmp/abuseguard-bench.XXXXXX)
KEPT=$BUILD/bench-logs/full
[ -z "$smoke" ] || KEPT=$BUILD/bench-logs/smoke
trap 'mkdir -p "$KEPT" && cp "$LOGS"/* "$KEPT"/ 2>/dev/null; rm -rf "$LOGS"' EXIT
rows=$LOGS/rows
: >"$rows"

if [ -n "$smoke" ]; then
	mix_options=(--repeat 1000 --runs 2)
	sources_options=(--sizes 1000,4000 --passes 1)
	flood_options=(--sources 4000 --passes 1)
	nft_options=(--bans 2000 --calls 20 --latency 50 --runs 1)
	scan_options=(--trials 3)
	tickets_options=(--sources 50 --runs 1)
	ring_options=(--packets 5000 --runs 1)
else
	mix_options=(--repeat 200000 --runs 9)
	sources_options=(--sizes 1000,100000,1000000 --passes 3)
	flood_options=(--sources 1000000 --passes 3)
	nft_options=(--bans 100000 --calls 1000 --latency 1000 --runs 3)
	scan_options=(--trials 101)
	tickets_options=(--sources 1000 --runs 3)
	ring_options=(--packets 400000 --runs 5)
fi

failures=0
# bench NAME COMMAND...: runs it with its output in the log; its row joins the table.
bench() {
	local name=$1 started=$SECONDS line
	shift
	echo "== $name: $*" >&2
	if ! timeout 400 "$@" >"$LOGS/$name.log" 2>&1; then
		echo "   failed, last lines of its log ($KEPT/$name.log):" >&2
		tail -n 15 "$LOGS/$name.log" | sed 's/^/   | /' >&2
		failures=$((failures + 1))
	fi
	line=$(grep -m 1 "^row	" "$LOGS/$name.log")
	[ -n "$line" ] || line="row	$name	failed	no figures (see $KEPT/$name.log)	"
	# The command, with the build directory as the Makefile names it.
	printf '%s\t%s\n' "$line" "${*//$BUILD/build}" >>"$rows"
	echo "   ($((SECONDS - started)) s)" >&2
}

bench verifier "$BUILD/bench/verifier_cost"
bench xdp_mix bench/xdp_mix.sh "$BUILD" "${mix_options[@]}"
bench xdp_sources "$BUILD/bench/bench_xdp" sources "${sources_options[@]}"
bench xdp_flood "$BUILD/bench/bench_xdp" flood "${flood_options[@]}"
bench nft "$BUILD/bench/bench_nft" "${nft_options[@]}"
bench scan_probes "$BUILD/bench/scan_probes" "${scan_options[@]}"
bench tickets "$BUILD/bench/bench_tickets" "${tickets_options[@]}"
bench evidence_ring "$BUILD/bench/evidence_ring" "${ring_options[@]}"
bench detect bench/detect.sh "$BUILD" $smoke
bench detect_flood bench/detect_flood.sh "$BUILD" $smoke
bench daemon_cost bench/daemon_cost.sh "$BUILD" $smoke
bench replay bench/replay.sh "$BUILD" $smoke
bench notice_enqueue "$BUILD/bench/notice_cost" $smoke
bench crawler bench/crawler.sh "$BUILD" $smoke
bench xdp_libpcap bench/xdp_libpcap.sh "$BUILD" $smoke
bench many_bans bench/many_bans.sh "$BUILD" $smoke

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
echo
echo "abuseguard benchmarks${smoke:+ (smoke run: tiny sizes, figures meaningless)}, $(date -u +%Y-%m-%d)"
echo "Machine: $(nproc) cores (${cpu:-unknown CPU}), Linux $(uname -r), $(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM"
echo
echo "| row | ratio (reference in the same run) | absolute figures | sizes, repeats | command |"
echo "|---|---|---|---|---|"
while IFS=$'\t' read -r _ name ratio figures sizes command; do
	printf '| %s | %s | %s | %s | `%s` |\n' "$name" "$ratio" "$figures" "$sizes" "$command"
done <"$rows"
[ "$failures" -eq 0 ]
