#!/usr/bin/env bash
# Observe mode end to end, as an operator trying new thresholds relies on it:
# after `abusectl mode observe` a real SMTP burst is detected (an alert on
# events --follow, the offence in history, a ticket with no ban on it) and
# nothing is banned (no ban in the store, no element in the kernel's sets,
# the VM's mail still flows). `mode enforce`, and the source's next burst
# is banned: the XDP program reports a source once per counting window, so
# the alerted one is judged again in its next window (abusectl(8), mode).
. "$(dirname "$0")/lib.sh"
lab_begin "$@"
POLICY=$WORK/abuseguard.conf
# The shipped policy, mailing nothing, with a 3 s spam window (60 s shipped).
sed -e 's|^\tmail_command = .*|\tmail_command = "";|' -e '0,/^\twindow = "60s";/s//\twindow = "3s";/' \
	policy/abuseguard.conf >"$POLICY"
check "daemon starts in enforce mode" daemon_start "$POLICY" "$WORK/state"
check "status says enforce" status_match '.mode == "enforce"'

timeout 40 "$BUILD/abusectl" -s "$WORK/control.sock" --json events --follow >"$WORK/events" \
	2>"$WORK/events.err" &
follower=$!
wait_until 3000 status_match '.counters.control_subscribers == 1' >/dev/null
# event_seen FILTER: has events --follow printed a line that satisfies it?
event_seen() { jq -s -e "any(.[]; $1)" "$WORK/events" >/dev/null 2>&1; }
json_of() { local reply; reply=$(ctl --json "${@:2}" 2>/dev/null) && jq -e "$1" >/dev/null 2>&1 <<<"$reply"; }
no_kernel_element() { ! in_hv nft list table inet abuseguard 2>/dev/null | grep -q '10\.0\.0\.5'; }

check "mode observe --reason is accepted" ctl mode observe --reason "lab: trying new thresholds"
check "status says observe, set by uid 0" status_match '.mode == "observe" and .mode_set_by.uid == 0'

vm_smtp_burst 60 8 &
burst=$!
check "the burst is detected: events --follow prints an alert for 10.0.0.5 (spam, observe mode)" \
	wait_until 8000 event_seen '.event == "alert" and .source == "10.0.0.5" and .category == "spam" and .why == "observe mode"'
# The burst goes on after the alert: give it time to be banned if it were going to be.
sleep 1
check "and it is not banned: abusectl bans lists nothing" bans_match '.bans == []'
check "no element for 10.0.0.5 is in the kernel's table" no_kernel_element
check "the VM's SMTP still flows during the burst" vm_connects 10.0.1.2 25
burst_stop "$burst"
check "one mail gets through end to end" vm_mail
check "history has the offence, with no ban" json_of \
	'(.events | map(select(.event == "offence" and .category == "spam")) | length >= 1) and (.events | map(select(.event == "ban")) | length == 0)' \
	history 10.0.0.5
check "a ticket is filed for it, with no ban on it" json_of \
	'[.tickets[] | select(.source == "10.0.0.5" and .category == "spam")] | length == 1' tickets
check "the metrics count the finding as an alert, and no ban" \
	bash -c "'$BUILD/abusectl' -s '$WORK/control.sock' metrics | grep -q '^abuseguard_findings_total{category=\"spam\",action=\"alert\"} [1-9]' &&
		! '$BUILD/abusectl' -s '$WORK/control.sock' metrics | grep -q '^abuseguard_bans_total{category=\"spam\",scope=\"smtp\"} [1-9]'"

check "mode enforce --reason is accepted" ctl mode enforce --reason "lab: thresholds look right"
check "status says enforce again" status_match '.mode == "enforce"'
sleep 3 # the alerted window ends
vm_smtp_burst 60 8 &
burst=$!
check "the next burst is banned: 10.0.0.5, scope smtp" \
	wait_for_bans '.bans[] | select(.source == "10.0.0.5" and .scope == "smtp")' 8000
burst_stop "$burst"
check "the kernel set ban4_smtp holds 10.0.0.5" kernel_set_has ban4_smtp 10.0.0.5
refute "the VM's SMTP is dropped" vm_connects 10.0.1.2 25
check "events --follow printed the ban" \
	wait_until 3000 event_seen '.event == "ban" and .source == "10.0.0.5"'
check "and both mode changes" test "$(jq -s '[.[] | select(.event == "mode")] | length' "$WORK/events")" = 2
check "the audit trail has both mode changes with their reasons" json_of \
	'[.audit[] | select(.action == "mode") | .reason] | index("lab: trying new thresholds") != null and index("lab: thresholds look right") != null' \
	audit
kill "$follower" 2>/dev/null
wait "$follower" 2>/dev/null
exit 0
