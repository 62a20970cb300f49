#!/usr/bin/env bash
# The operator's control surface against the real daemon: a manual ban
# reaches the kernel and its reason shows in history; unban, allow and
# disallow (the allowlist survives a restart), reload with a broken policy
# keeps the running one, mode, audit, events --follow; a user outside the
# control group is refused, logged and counted; a full socket says busy,
# keeping root's slot; every error has its exit status (abusectl(8)).
set -u
BUILD=$(realpath "${1:-build}")
cd "$(dirname "$0")/../.."
. tests/lab/lib.sh
lab_setup || { not_ok "lab namespaces could not be created"; exit 1; }
STATE=$WORK/state
POLICY=$WORK/policy.conf
# nogroup is the control group: uid nobody in it may use the socket, others not.
# Four control clients at once, so a test can fill them.
sed -e 's/^control_group = "abuseguard";/control_group = "nogroup";/' \
	-e 's/^\tcontrol_clients = 16;/\tcontrol_clients = 4;/' policy/abuseguard.conf >"$POLICY"
chmod o+x "$WORK"
ip netns exec "$NET" timeout 120 smtp-sink -u nobody -c 10.0.1.2:25 64 >/dev/null 2>&1 &

# status CODE what command...: the command exits with CODE.
exits() {
	local code=$1 what=$2 rc
	shift 2
	"$@" >"$WORK/out" 2>&1
	rc=$?
	if [ "$rc" -eq "$code" ]; then ok "$what (exit $rc)"; else
		not_ok "$what (exit $rc, wanted $code)"
		sed 's/^/#   /' "$WORK/out"
	fi
}
said() { grep -q -- "$1" "$WORK/out"; }
# json_match FILTER ARGS...: does "abusectl --json ARGS" satisfy the jq filter?
json_match() {
	local filter=$1 reply
	shift
	reply=$(ctl --json "$@" 2>/dev/null) && jq -e "$filter" >/dev/null 2>&1 <<<"$reply"
}
# event_seen FILTER: has events --follow printed a line that satisfies it?
event_seen() { jq -s -e "any(.[]; $1)" "$WORK/events" >/dev/null 2>&1; }
as_user() { setpriv --reuid="$1" --regid="$2" --clear-groups "$BUILD/abusectl" -s "$WORK/control.sock" "${@:3}"; }

# Every result the protocol has, as a script sees it: a scripted daemon on a
# socket of its own answers one request with RESULT; abusectl exits as
# abusectl(8) says, including 1 (failed), which the real daemon gives only
# when its store or nftables fail.
scripted_result() {
	/usr/bin/python3 - "$WORK/scripted.sock" "$1" <<'PY' &
import json, os, socket, sys
path, result = sys.argv[1], sys.argv[2]
if os.path.exists(path):
    os.unlink(path)
listener = socket.socket(socket.AF_UNIX)
listener.bind(path)
listener.listen(1)
listener.settimeout(10)
client, _ = listener.accept()
client.recv(65536)
client.sendall((json.dumps({"ok": False, "result": result, "error": "scripted " + result}) + "\n").encode())
client.close()
PY
	local server=$! rc
	wait_until 3000 test -S "$WORK/scripted.sock"
	"$BUILD/abusectl" -s "$WORK/scripted.sock" status >"$WORK/out" 2>&1
	rc=$?
	wait "$server"
	rm -f "$WORK/scripted.sock"
	return "$rc"
}
for pair in failed:1 not_found:2 refused:3 bad_request:64 busy:75 denied:77 no_such_result:1; do
	exits "${pair#*:}" "a reply of result ${pair%:*} exits ${pair#*:} (abusectl(8))" scripted_result "${pair%:*}"
done
check "... and the daemon's error is printed" said "scripted no_such_result"

check "daemon starts" daemon_start "$POLICY" "$STATE"
check "status shows the versions, the attached interface, mode, store and nft health, no ring drops" \
	status_match '.version != null and .versions.kernel != null and .versions.libbpf != null and
		any(.interfaces[]; .name == "agvm0") and .mode == "enforce" and .store.healthy == true and
		.nft.present == true and .counters.events_lost == 0'
exits 0 "status for people" ctl status
check "... names the mode and the interface" bash -c "grep -q enforce '$WORK/out' && grep -q agvm0 '$WORK/out'"
exits 69 "no daemon on a socket path: exit 69" "$BUILD/abusectl" -s "$WORK/none.sock" status
check "... and the message names the path" said "$WORK/none.sock"

# Usage errors never reach the daemon.
exits 64 "ban without --scope is a usage error" ctl ban 10.0.0.5 --reason x
exits 64 "ban without --reason is a usage error" ctl ban 10.0.0.5 --scope smtp
exits 64 "a blank --reason is a usage error" ctl ban 10.0.0.5 --scope smtp --reason "  "
exits 64 "an option the command does not take is a usage error" ctl status --scope smtp
exits 0 "history --help exits 0 (each command's --help: test_commands)" ctl history --help
check "... which says what it does" said "newest first"
# The daemon's own checks: a wrong value is a usage error, a refusal is 3.
exits 64 "ban --scope bogus: the daemon says what is wrong" ctl ban 10.0.0.5 --scope bogus --reason x
check "... naming the scopes" said "smtp, web or all"
exits 64 "ban --duration 5x is a usage error" ctl ban 10.0.0.5 --scope smtp --duration 5x --reason x
exits 3 "a ban of 127.0.0.1 is refused: no VM can own it" ctl ban 127.0.0.1 --scope all --reason x

# A manual ban reaches the kernel, and history shows why.
exits 0 "ban 10.0.0.5 --scope smtp --duration 2h" ctl ban 10.0.0.5 --scope smtp --duration 2h \
	--reason "lab: complaint 4711 from example.net"
check "... says what it installed" said "banned 10.0.0.5: scope smtp for 2h"
check "the kernel set ban4_smtp holds 10.0.0.5" kernel_set_has ban4_smtp 10.0.0.5
refute "the VM cannot open SMTP connections" vm_connects 10.0.1.2 25
check "bans --source 10.0.0.5 shows it, 2 hours, category spam" json_match \
	'.bans | length == 1 and .[0].duration_s == 7200 and .[0].category == "spam"' bans --source 10.0.0.5
check "bans --scope web shows none" json_match '.bans == []' bans --scope web
check "bans --category spam shows it, --category scan none" bash -c \
	"'$BUILD/abusectl' -s '$WORK/control.sock' --json bans --category spam | jq -e '.bans | length == 1' >/dev/null &&
	 '$BUILD/abusectl' -s '$WORK/control.sock' --json bans --category scan | jq -e '.bans == []' >/dev/null"
exits 3 "a second ban in the same scope is refused" ctl ban 10.0.0.5 --scope smtp --reason again
check "... saying until when it holds" said "already banned in scope smtp until"
check "history shows the ban with its reason and uid 0" json_match \
	'[.events[] | select(.event == "ban" and .uid == 0 and .reason == "lab: complaint 4711 from example.net")] | length == 1' \
	history 10.0.0.5
ctl history 10.0.0.5 >"$WORK/out" 2>&1
check "history for people is a table naming who and why" said "uid 0 .*lab: complaint 4711"

# The reason carries a newline, a forged log line after it, and a terminal escape.
FORGED=$'lab: customer fixed it\n2026-12-02T00:00:00.000Z 10.0.0.66: banned for 1h, scope all\e[2J'
exits 0 "unban lifts it" ctl unban 10.0.0.5 --reason "$FORGED"
check "the daemon's log keeps the reason on one line, its newline and escape as \\x0a and \\x1b" \
	grep -qF 'lab: customer fixed it\x0a2026-12-02T00:00:00.000Z 10.0.0.66: banned for 1h, scope all\x1b[2J' \
	"$WORK/daemon.log"
refute "so no line of the log is the forged one" grep -q '^2026-12-02T00:00:00.000Z 10.0.0.66' "$WORK/daemon.log"
ctl history 10.0.0.5 >"$WORK/out" 2>&1
check "history for people shows it escaped too, with no escape character" \
	bash -c "grep -qF 'customer fixed it\x0a2026' '$WORK/out' && ! grep -q $'\e' '$WORK/out'"
refute "the kernel set no longer holds 10.0.0.5" kernel_set_has ban4_smtp 10.0.0.5
check "the VM reaches SMTP again" vm_connects 10.0.1.2 25
exits 2 "unban of a source without a ban: exit 2 (not found)" ctl unban 10.0.0.5 --reason again
check "history shows the lift with its reason" json_match \
	'.events[] | select(.event == "lift" and (.reason | startswith("lab: customer fixed it\n2026")))' history 10.0.0.5
exits 2 "history of a source never seen: exit 2" ctl history 10.0.0.99

# events --follow: a live stream, JSON lines.
timeout 20 "$BUILD/abusectl" -s "$WORK/control.sock" --json events --follow >"$WORK/events" \
	2>"$WORK/events.err" &
follower=$!
wait_until 3000 status_match '.counters.control_subscribers == 1' >/dev/null
exits 0 "ban 10.0.0.5 --scope all, on the ladder (no --duration)" ctl ban 10.0.0.5 --scope all \
	--reason "lab: scan report"
check "the ladder's second rung: a repeat within a day is a week" \
	bans_match '.bans[] | select(.scope == "all" and .level == 2 and .duration_s == 604800)'
check "events --follow printed the ban as a JSON line" \
	wait_until 3000 event_seen '.event == "ban" and .ban.source == "10.0.0.5" and .uid == 0'

# The runtime allowlist: allowing lifts, allowed is never banned, it survives a restart.
exits 0 "allow 10.0.0.0/29 lifts the ban inside it" ctl allow 10.0.0.0/29 --reason "lab: our monitoring"
check "... and says so" said "lifted 10.0.0.5: all"
refute "the kernel set ban4_all no longer holds 10.0.0.5" kernel_set_has ban4_all 10.0.0.5
exits 3 "a ban of an allowlisted source is refused" ctl ban 10.0.0.5 --scope smtp --reason x
check "events --follow printed the lift and the allow" \
	wait_until 3000 event_seen '.event == "lift" and .reason == "allowed: lab: our monitoring"'
kill "$follower" 2>/dev/null
wait "$follower" 2>/dev/null
daemon_stop
check "daemon starts again" daemon_start "$POLICY" "$STATE"
check "the allowlist survived the restart" json_match \
	'.allowlist[] | select(.source == "10.0.0.0/29" and .origin == "operator" and .uid == 0)' allowlist
exits 3 "after the restart 10.0.0.5 is still not bannable" ctl ban 10.0.0.5 --scope smtp --reason x
exits 0 "disallow takes it off" ctl disallow 10.0.0.0/29 --reason "lab: done"
exits 2 "disallow of an entry that is not there: exit 2" ctl disallow 10.0.0.0/29 --reason again
exits 0 "then 10.0.0.5 can be banned again" ctl ban 10.0.0.5 --scope web --duration 10m --reason x

# reload: a broken policy is refused with file:line and the running one stays.
cp "$POLICY" "$WORK/good.conf"
sed -i 's/^mode = "enforce";/mode = "observe";\nno_such_setting = 1;/' "$POLICY"
exits 3 "reload of a broken policy is refused" ctl reload --reason "lab: typo"
check "... with file:line: message" said "$POLICY:[0-9]*:"
check "... and the running policy stays (enforce)" status_match '.mode == "enforce"'
kill -HUP "$DAEMON_PID"
sleep 0.5
check "SIGHUP with the broken policy keeps it too" status_match '.mode == "enforce"'
sed -i '/^no_such_setting/d' "$POLICY"
exits 0 "reload of the fixed policy works" ctl reload --reason "lab: observe for a while"
check "... and the new mode is in force" status_match '.mode == "observe" and .mode_set_by == "policy"'
exits 0 "mode enforce --reason" ctl mode enforce --reason "lab: incident over"
check "status says who set the mode" status_match '.mode == "enforce" and .mode_set_by.uid == 0'
exits 0 "a reload does not undo the operator's mode" ctl reload --reason "lab: again"
check "... it says so" said "mode (set with abusectl mode)"
check "... and the mode stays enforce" status_match '.mode == "enforce"'
# What cannot change live (map sizes) is said to the caller, not silently ignored.
sed -i 's/^\tmax_sources = 262144;/\tmax_sources = 4096;/' "$POLICY"
exits 0 "a reload that changes a map size is taken" ctl reload --reason "lab: smaller map"
check "... and abusectl says the map size waits for a restart" \
	said "changed but kept until restart: .*limits.max_sources"
exits 64 "mode bogus is a usage error" ctl mode bogus --reason x

# --json everywhere: each read, and a change, answers in JSON that jq parses.
for command in status bans "history 10.0.0.5" audit allowlist metrics vms tickets outbox events \
	"mode enforce --reason lab:json"; do
	# shellcheck disable=SC2086
	check "abusectl --json $command prints JSON" bash -c \
		"'$BUILD/abusectl' -s '$WORK/control.sock' --json $command | jq -e -s 'length >= 1 and all(.[]; type == \"object\")' >/dev/null"
done

# audit: every change, with uid and reason.
check "audit --since 1h lists every kind of change, with uid 0 and a reason" json_match \
	'[.audit[] | select(.uid == 0 and .reason != "") | .action] as $a | ["ban", "unban", "allow", "disallow", "reload", "reload refused", "mode"] | all(. as $x | $a | index($x))' \
	audit --since 1h
exits 64 "audit --since garbage is a usage error" ctl audit --since yesterdayish

# Who may use the socket: root and the control group; others refused, logged, counted.
exits 0 "uid nobody in the control group (nogroup) may read" as_user 65534 65534 status
exits 0 "... and change" as_user 65534 65534 mode enforce --reason "lab: group member"
check "the audit trail names uid 65534" json_match \
	'.audit[] | select(.uid == 65534 and .action == "mode")' audit
exits 77 "a user outside the group cannot reach the socket: exit 77" as_user 65534 1 status
chmod 0666 "$WORK/control.sock" # so that the daemon itself must refuse
exits 77 "with the socket open to all, the daemon refuses a read from outside the group" \
	as_user 65534 1 status
check "... saying who may" said "only root and the control group"
check "... counted in status" status_match '.counters.control_unauthorised >= 1'
check "... and logged with the uid" grep -q "uid 65534 gid 1 refused" "$WORK/daemon.log"

# Busy (75): clients of the group fill every slot but the last, which is kept
# for root. fill_slots holds connections as nobody until the daemon answers
# one with "busy", for 6 s at most.
fill_slots() {
	setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 - "$WORK/control.sock" \
		>"$WORK/fill.out" 2>&1 <<'PY' &
import select, socket, sys, time
held = []
for _ in range(64):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    if select.select([s], [], [], 0.3)[0]:
        print("busy after", len(held), flush=True)
        break
    held.append(s)
time.sleep(6)
PY
	FILL_PID=$!
}
fill_slots
check "clients of the group fill the socket until the daemon says busy" \
	wait_until 8000 grep -q '^busy after [0-9]' "$WORK/fill.out"
exits 75 "with the group's clients in every slot but root's, a member is told busy: exit 75" \
	as_user 65534 65534 status
check "... saying why" said "too many clients"
exits 0 "root still gets the last slot" ctl status
check "the refusal is counted, and that the slot was kept for root" \
	status_match '.counters.control_refused >= 1 and .counters.control_refused_for_root >= 1'
kill "$FILL_PID" 2>/dev/null
wait "$FILL_PID" 2>/dev/null

# A detection files a ticket; history shows it beside the ban it came with.
vm_smtp_burst 60 8 &
burst=$!
check "a spam burst is banned" wait_for_bans '.bans[] | select(.source == "10.0.0.5" and .scope == "smtp")' 8000
burst_stop "$burst"
check "history shows the ticket the ban opened" json_match \
	'[.events[] | select(.event == "ticket" and (.detail | test("^ticket [0-9]+ for ")))] | length >= 1' \
	history 10.0.0.5
