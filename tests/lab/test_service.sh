#!/usr/bin/env bash
# The daemon as systemd sees it: this test plays the service manager's side
# of sd_notify (tests/lab/notify_manager.py, a datagram socket in
# NOTIFY_SOCKET) and checks READY=1 comes only once the XDP program is
# attached and the nftables table is in place, WATCHDOG=1 while the loop
# runs, RELOADING=1 then READY=1 on SIGHUP, STOPPING=1 at the end. The
# reload takes new thresholds into the running XDP program, refuses a bad
# policy with file:line and keeps the running one, and names the settings
# that wait for a restart.
. "$(dirname "$0")/lib.sh"
lab_begin "$@"
POLICY=$WORK/live.conf
NOTIFY_LOG=$WORK/notify.log
cp policy/abuseguard.conf "$POLICY"

# What "ready" means, checked by the manager the moment READY=1 arrives.
ready_check="ip -n $HV link show agvm0 | grep -q prog/xdp && ip netns exec $HV nft list table inet abuseguard >/dev/null"
# Debian's python3, not a version manager's shim, which can take seconds to start.
/usr/bin/python3 tests/lab/notify_manager.py "$WORK/notify.sock" "$NOTIFY_LOG" "$ready_check" 60 &
manager=$!
wait_until 10000 grep -qs LISTENING "$NOTIFY_LOG"

notified() { grep -c -- "$1" "$NOTIFY_LOG" 2>/dev/null; }
# notified_after PATTERN LINE: a line matching PATTERN after line number LINE.
notified_after() { tail -n +"$(($2 + 1))" "$NOTIFY_LOG" | grep -q -- "$1"; }
reload() { kill -HUP "$DAEMON_PID"; }
log_has() { grep -q -- "$1" "$WORK/daemon.log"; }

start_notified() { NOTIFY_SOCKET="$WORK/notify.sock" WATCHDOG_USEC=400000 daemon_start "$@"; }
check "the daemon starts with NOTIFY_SOCKET and WATCHDOG_USEC=400000" \
	start_notified "$POLICY" "$WORK/state"
check "the manager receives READY=1 once" wait_until 3000 test "$(notified '^READY=1')" -eq 1
wait_until 5000 grep -q 'READY-CHECK' "$NOTIFY_LOG"
check "at READY=1 the XDP program was attached and the nftables table in place" \
	grep -q 'READY-CHECK ok' "$NOTIFY_LOG"
check "READY=1 carries a STATUS= line naming the mode and the attached interface" \
	grep -q '^READY=1|STATUS=enforce mode, 1 interface(s) attached' "$NOTIFY_LOG"
before=$(notified '^WATCHDOG=1$')
sleep 1
watchdogs=$(($(notified '^WATCHDOG=1$') - before))
check "WATCHDOG=1 every 200 ms (half of WATCHDOG_USEC) while the loop runs: $watchdogs in 1 s" \
	test "$watchdogs" -ge 3 -a "$watchdogs" -le 6

# Thresholds reach the running XDP program on reload. Before: 12 attempts
# from the VM's IPv6 address stay under the policy's 30.
vm_smtp_burst 12 8 '[fd00:1::2]:25'
sleep 0.5
check "before the reload, 12 SMTP attempts ban nobody (threshold 30)" bans_match '.bans == []'
sed -i 's/smtp_attempts = 30;/smtp_attempts = 8;/' "$POLICY"
lines=$(wc -l <"$NOTIFY_LOG")
reload
check "on SIGHUP the manager sees RELOADING=1" wait_until 3000 notified_after '^RELOADING=1|MONOTONIC_USEC=' "$lines"
check "then READY=1 again" wait_until 3000 notified_after '^READY=1' "$((lines + 1))"
check "the log says the policy was reloaded" wait_until 2000 log_has 'live.conf: policy reloaded$'
vm_smtp_burst 12 8 &
burst=$!
check "after the reload, 12 SMTP attempts are banned (threshold 8, no program reload)" \
	wait_for_bans '.bans[] | select(.source == "10.0.0.5" and .scope == "smtp")' 5000
burst_stop "$burst"
check "the XDP program is the same one as before the reload (still one attachment)" \
	status_match '[.interfaces[] | select(.name == "agvm0")] | length == 1'

# A bad policy changes nothing.
cp "$POLICY" "$WORK/good.conf"
sed -i 's/window = "60s";/window = "60x";/' "$POLICY"
bad_line=$(grep -n 'window = "60x";' "$POLICY" | cut -d: -f1)
lines=$(wc -l <"$NOTIFY_LOG")
reload
check "a bad policy on reload is logged with file:line and the running one stays" \
	wait_until 3000 log_has "reload: $POLICY:$bad_line: spam.window: .*; the running policy stays"
check "the manager sees READY=1 after the refused reload too" \
	wait_until 3000 notified_after '^READY=1' "$((lines + 1))"
check "the daemon still answers after a refused reload" status_match '.mode == "enforce"'

# What cannot change live is said, not silently ignored.
sed -e 's/max_sources = 262144;/max_sources = 4096;/' -e 's/^mode = "enforce";/mode = "observe";/' \
	"$WORK/good.conf" >"$POLICY"
reload
check "a restart-only change is named in the log" \
	wait_until 3000 log_has 'policy reloaded; changed but kept until restart: limits.max_sources$'
check "the live part of the same policy is taken (mode observe)" \
	wait_for_status '.mode == "observe"'

lines=$(wc -l <"$NOTIFY_LOG")
daemon_stop TERM
check "on SIGTERM the manager sees STOPPING=1" notified_after '^STOPPING=1' "$lines"
sleep 0.5
watchdogs=$(notified '^WATCHDOG=1$')
sleep 0.5
check "no WATCHDOG=1 after the daemon stopped" test "$(notified '^WATCHDOG=1$')" -eq "$watchdogs"
kill "$manager" 2>/dev/null; wait "$manager" 2>/dev/null
# Logs under systemd: the daemon's stderr is the journal's stream
# ($JOURNAL_STREAM), so it sends each message to journald's socket with its
# priority and fields. journald here is notify_manager.py on
# /run/systemd/journal/socket, in a mount namespace of this test's own.
JOURNAL_LOG=$WORK/journal.log
cat >"$WORK/journal_run.sh" <<EOF
set -e
mount -t tmpfs tmpfs /run/systemd
mkdir /run/systemd/journal
/usr/bin/python3 tests/lab/notify_manager.py /run/systemd/journal/socket $JOURNAL_LOG true 30 &
for _ in \$(seq 100); do [ -S /run/systemd/journal/socket ] && break; sleep 0.1; done
exec 2>$WORK/journal-stderr.log
export JOURNAL_STREAM=\$(stat -c %d:%i $WORK/journal-stderr.log)
exec ip netns exec $HV $BUILD/abuseguardd -c $WORK/good.conf -i 'agvm*' --state-dir $WORK/state3 --socket $WORK/control.sock
EOF
unshare -m --propagation private bash "$WORK/journal_run.sh" &
DAEMON_PID=$!
check "the daemon starts with its stderr as the journal's stream" wait_until 10000 status_match '.pid > 0'
# Over IPv6: 10.0.0.5's ban is still in the kernel, so its SYNs are no new offence.
vm_smtp_burst 12 8 '[fd00:1::2]:25' &
burst=$!
wait_for_bans '.bans[] | select(.source == "fd00:5::/64")' 5000
burst_stop "$burst"
journal_has() { grep -q -- "$1" "$JOURNAL_LOG" 2>/dev/null; }
check "the ban reaches the journal as PRIORITY=4 with SOURCE=, CATEGORY=, SCOPE= and INTERFACE=" \
	wait_until 3000 journal_has 'PRIORITY=4|SYSLOG_IDENTIFIER=abuseguardd|SYSLOG_PID=[0-9]*|SOURCE=fd00:5::/64|CATEGORY=spam|SCOPE=smtp|ACTION=ban|INTERFACE=agvm0|MESSAGE=fd00:5::/64: banned for 1h'
check "the ticket the ban opened reaches the journal with TICKET=, SOURCE= and CUSTOMER=" \
	wait_until 3000 journal_has 'PRIORITY=6|.*TICKET=[0-9]*|SOURCE=fd00:5::/64|CUSTOMER=[^|]*|MESSAGE=ticket [0-9]* opened'
check "informational messages are PRIORITY=6" journal_has 'PRIORITY=6|.*MESSAGE=abuseguardd .* running'
refute "what went to the journal is not written to stderr as well" \
	grep -q 'banned for' "$WORK/journal-stderr.log"
daemon_stop TERM
exit 0
