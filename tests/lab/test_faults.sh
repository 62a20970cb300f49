#!/usr/bin/env bash
# Faults the daemon must survive or refuse loudly: a damaged store, a full
# state directory, a crowded control socket, tens of thousands of bans.
set -u
BUILD=$(realpath "${1:-build}")
cd "$(dirname "$0")/../.."
. tests/lab/lib.sh
lab_setup || { not_ok "lab namespaces could not be created"; exit 1; }
POLICY=$PWD/policy/abuseguard.conf

# A damaged database: the daemon refuses to run on it, says which file and what to do.
DAMAGED=$WORK/damaged
check "the daemon starts on a new store" daemon_start "$POLICY" "$DAMAGED"
daemon_stop TERM
in_hv nft delete table inet abuseguard
python3 - "$DAMAGED/abuseguard.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.executemany("INSERT INTO audit (time_ms, uid, action, subject, reason) VALUES (?, 0, 'note', ?, ?)",
               [(i, "10.0.0.%d" % (i % 250), "x" * 200) for i in range(2000)])
db.commit()
db.close()
# Pages in the middle overwritten, as a bad disk would leave them.
with open(sys.argv[1], "r+b") as f:
    f.seek(20 * 4096)
    f.write(b"\x5a" * 4 * 4096)
PY
in_hv timeout 20 "$BUILD/abuseguardd" -c "$POLICY" -i 'agvm*' --state-dir "$DAMAGED" \
	--socket "$WORK/damaged.sock" >"$WORK/damaged.log" 2>&1
status=$?
check "on a damaged store the daemon exits 65 (got $status)" test "$status" -eq 65
check "the message names the database and says what to do" \
	grep -q "$DAMAGED/abuseguard.db: the store is damaged; not running on it.*mv " "$WORK/damaged.log"
refute "it did not set up its nftables table" in_hv nft list table inet abuseguard
exit 0
