#!/usr/bin/env bash
# make demo's quick smoke: the narrated lab runs its spam part without
# pauses, and every claim it makes to the viewer comes true.
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
grep -q 'lifted 10.0.0.5: smtp' "$out" &&
	echo "ok - and the operator's lift" || echo "not ok - and the operator's lift"
if grep -q ': NO)' "$out"; then echo "not ok - every claim came true"; grep ': NO)' "$out"; else
	echo "ok - every claim came true"; fi
