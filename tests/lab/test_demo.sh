#!/usr/bin/env bash
# make demo's quick smoke: the narrated lab runs without pauses and without
# the scan, and the viewer sees what the demo promises: the spam and the
# crawl banned (abusectl events), the tickets filed for the customer and
# one shown whole, and the operator's lift; every claim it makes comes true.
set -u
BUILD=$(realpath "${1:-build}")
cd "$(dirname "$0")/../.."
out=$(mktemp /tmp/abuseguard-demo.XXXXXX)
trap 'rm -f "$out"' EXIT
timeout 120 demo/run.sh "$BUILD" --smoke >"$out" 2>&1
rc=$?
if [ "$rc" -eq 0 ]; then echo "ok - demo/run.sh --smoke runs through (exit 0)"; else
	echo "not ok - demo/run.sh --smoke runs through (exit $rc)"; sed 's/^/#   /' "$out"; fi
grep -q 'ban source=10.0.0.5 category=spam' "$out" &&
	echo "ok - the viewer sees the spam ban in abusectl events" ||
	echo "not ok - the viewer sees the spam ban in abusectl events"
# seen WHAT PATTERN: did the viewer see a line matching PATTERN (grep -E)?
seen() { if grep -Eq "$2" "$out"; then echo "ok - $1"; else echo "not ok - $1"; fi; }
seen "the viewer sees the crawler's web ban in abusectl events" 'ban source=10\.0\.0\.5 category=crawler'
seen "abusectl bans shows it with scope web" '^ *10\.0\.0\.5 +web +crawler|10\.0\.0\.5 .*\bweb\b.*crawler'
seen "abusectl tickets lists the spam ticket for customer c-1001" '^ *[0-9]+ +open .*c-1001 +10\.0\.0\.5 +spam'
seen "and the crawler ticket" '^ *[0-9]+ +open .*c-1001 +10\.0\.0\.5 +crawler'
seen "abusectl ticket ID shows the spam ticket whole" '^ticket [0-9]+: spam from 10\.0\.0\.5, customer c-1001'
seen "and the operator's lift of both bans" 'lifted 10\.0\.0\.5: .*smtp.*web|lifted 10\.0\.0\.5: .*web.*smtp'
if grep -q ': NO)' "$out"; then echo "not ok - every claim came true"; grep ': NO)' "$out"; else
	echo "ok - every claim came true"; fi
