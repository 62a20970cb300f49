#!/usr/bin/env bash
# Every benchmark still runs: bench/run.sh --smoke runs each at tiny sizes,
# and each must print its row of the table with figures in it. The figures
# themselves are not judged here; `make bench` is where they mean something.
. "$(dirname "$0")/lib.sh"
lab_begin --no-lab "$@"

table=$(timeout 180 bench/run.sh --smoke "$BUILD" 2>"$WORK/progress")
status=$?
cat "$WORK/progress"
echo "$table"
check "bench/run.sh --smoke completes and exits 0 (status $status)" test "$status" -eq 0

# The column of a table row: row_column "row name" N (2 = ratio, 3 = figures).
row_column() {
	grep -F "| $1 |" <<<"$table" | head -n 1 | awk -F ' [|] ' -v n="$2" '{ print $n }'
}
# A ratio such as "1.37x", or the replay row's "not available yet".
has_ratio() { grep -Eq '[0-9]+(\.[0-9]+)?x|not available yet' <<<"$(row_column "$1" 2)"; }
# Figures with a unit: "39.8 ns", "2.5 ms", "804134 bans/s", "6.7 MiB", ...
has_figures() {
	grep -Eq '[0-9]+(\.[0-9]+)? (ns|us|ms|MiB|bans/s|packets/s|tickets/s)' <<<"$(row_column "$1" 3)"
}

for row in "XDP + tc cost per packet" "XDP cost as sources grow" "Ban installation" \
	"Detection to ban (lab)" "Daemon cost (lab)" "Replay throughput" \
	"Tickets opened under a ban burst" "Evidence ring cost per packet" "Crawler path (libpcap, HTTP, robots.txt)" \
	"Many bans (abusectl --json bans, idle checks)" "XDP cost live beside libpcap (lab veth)"; do
	check "the table has a row \"$row\" with a ratio" has_ratio "$row"
	check "the row \"$row\" has figures with units" has_figures "$row"
done

check "the live XDP row was measured with libpcap reading and not" \
	grep -Eq 'libpcap reading every packet [0-9.]+ ns, reading none [0-9.]+ ns, empty program [0-9.]+ ns' \
	<<<"$(row_column "XDP cost live beside libpcap (lab veth)" 3)"

check "the table has a row \"BPF verifier cost\" with a ratio" has_ratio "BPF verifier cost"
check "the verifier row counts the XDP program's verified instructions" \
	grep -Eq 'abuseguard_xdp [0-9]+' <<<"$(row_column "BPF verifier cost" 3)"

check "the per-packet row measures the tc egress program on the replies too" \
	grep -Eq 'abuseguard tc [0-9.]+ ns.*empty tc [0-9.]+ ns' <<<"$(row_column "XDP + tc cost per packet" 3)"
check "the sources row measures the LRU floor at every size" \
	test "$(row_column "XDP cost as sources grow" 3 | grep -Eo 'LRU floor [0-9.]+ ns' | wc -l)" -eq 2
if command -v xdp-filter >/dev/null; then
	check "xdp-filter (installed) was measured beside abuseguard's program" \
		grep -Eq 'xdp-filter [0-9.]+ ns' <<<"$(row_column "XDP + tc cost per packet" 3)"
	check "the per-packet row gives XDP + tc net against xdp-filter's net" \
		grep -Eq 'XDP \+ tc net of the empty programs [0-9.]+x xdp-filter' \
		<<<"$(row_column "XDP + tc cost per packet" 2)"
fi
check "every ban of the batch paths reached the kernel set (2000 of 2000, twice)" \
	test "$(row_column "Ban installation" 3 | grep -o '2000 in the set' | wc -l)" -eq 2
check "every smoke burst was banned in the lab (3 of 3)" \
	grep -q '3 of 3 bursts banned' <<<"$(row_column "Detection to ban (lab)" 3)"
exit 0
