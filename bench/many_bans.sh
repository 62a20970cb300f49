#!/usr/bin/env bash
# The daemon with tens of thousands of active bans, in the lab (tests/lab/lib.sh):
# the store is filled with N bans before the daemon starts, which puts them
# all into the kernel. Then:
#   - `abusectl --json bans` (every page, each ban beside the kernel's
#     element), timed against `nft -j list set` of the same elements, the
#     kernel's own dump, as the reference;
#   - the daemon's CPU (utime + stime from /proc/PID/stat) over 30 s idle,
#     while it checks its table and sets.
# Usage: bench/many_bans.sh BUILD [--smoke]
set -u
BUILD=$(realpath "${1:-build}")
bans=50000 idle_s=60
[ "${2:-}" = --smoke ] && bans=2000 idle_s=2
cd "$(dirname "$0")/.."
LAB=agmb$$
. tests/lab/lib.sh
lab_setup || { echo "bench: lab namespaces could not be created" >&2; exit 1; }
STATE=$WORK/state

daemon_start policy/abuseguard.conf "$STATE" || { echo "bench: daemon did not start" >&2; exit 1; }
daemon_stop TERM
python3 - "$STATE/abuseguard.db" "$bans" <<'PY' || exit 1
import sqlite3, sys, time
now = int(time.time() * 1000)
db = sqlite3.connect(sys.argv[1])
rows = []
for i in range(int(sys.argv[2])):
    addr = bytes([100, 64 + (i >> 16), (i >> 8) & 255, i & 255])
    rows.append(("%d.%d.%d.%d" % tuple(addr), addr, now - 1000, now + 3600000 + i))
db.executemany("INSERT INTO bans (source, family, prefix_len, addr, category, scope, level, "
               "start_ms, expires_ms) VALUES (?, 2, 32, ?, 'spam', 'smtp', 0, ?, ?)", rows)
db.commit()
PY
daemon_start policy/abuseguard.conf "$STATE" || { echo "bench: daemon did not restart" >&2; exit 1; }

median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
list_ms=() nft_ms=()
for _ in 1 2 3; do
	start=$(now_us)
	in_hv nft -j list set inet abuseguard ban4_smtp >"$WORK/set.json" || exit 1
	nft_ms+=($((($(now_us) - start) / 1000)))
	start=$(now_us)
	ctl --json bans >"$WORK/bans.json" || { echo "bench: abusectl --json bans failed" >&2; exit 1; }
	list_ms+=($((($(now_us) - start) / 1000)))
done
listed=$(jq '[.bans[] | select(.in_kernel == true)] | length' "$WORK/bans.json")
[ "$listed" = "$bans" ] || { echo "bench: $listed of $bans bans listed as in the kernel" >&2; exit 1; }

cpu_ms() { awk '{ print ($14 + $15) * 10 }' "/proc/$DAEMON_PID/stat"; }
before=$(cpu_ms)
sleep "$idle_s"
idle_ms=$(($(cpu_ms) - before))
l=$(median "${list_ms[@]}")
n=$(median "${nft_ms[@]}")
printf 'row\tMany bans (abusectl --json bans, idle checks)\t%s\t%s\t%s\n' \
	"$(awk -v l="$l" -v n="$n" 'BEGIN { printf "%.1fx nft -j list set of the same elements", l / (n > 0 ? n : 1) }')" \
	"abusectl --json bans $l ms (each with in_kernel), nft -j list set $n ms; daemon idle CPU $((idle_ms * 10 / idle_s)) ms per 10 s (${idle_ms} ms in ${idle_s} s)" \
	"$bans active bans; 3 listings, median"
