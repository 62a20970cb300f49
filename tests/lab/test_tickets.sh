#!/usr/bin/env bash
# Tickets end to end: a spam burst from the VM gives one ticket, routed to
# the customer whose prefix is the longest match, with the VM and the ban on
# it; abusectl lists and filters it, and walks it through the desk's states
# (acknowledged, a note, the customer's reply, resolved, reopened by new
# abuse, false positive), each audited; the false positive lifts the ban and
# the next burst starts the ladder again. Timer states (escalated, closed)
# are simulated over a week in tests/unit/test_ticket.c.
. "$(dirname "$0")/lib.sh"
lab_begin "$@"
POLICY=$WORK/abuseguard.conf
STATE=$WORK/state
# The reseller's /16 and its customer's /24: the /24 must win.
sed 's|^customers = ( );|customers = (\
	{ id = "c-2002"; name = "Reseller"; contact = "noc@reseller.example"; prefixes = [ "10.0.0.0/16" ]; },\
	{ id = "c-1001"; name = "Example Customer"; contact = "abuse@customer.example";\
	  prefixes = [ "10.0.0.0/24", "fd00:5::/48" ]; }\
);|; s|^\tmail_command = .*|\tmail_command = "";|; s|^\tevent_log = .*|\tevent_log = "'"$WORK"'/events.jsonl";|' \
	policy/abuseguard.conf >"$POLICY"
EVENTS=$WORK/events.jsonl
# delivered JQ: has the event log (delivery's SIEM backend) a line matching JQ?
delivered() { [ -f "$EVENTS" ] && jq -e -s "any(.[]; $1)" "$EVENTS" >/dev/null 2>&1; }
check "the policy with two customers is valid" "$BUILD/abuseguardd" -t -c "$POLICY"
check "daemon starts" daemon_start "$POLICY" "$STATE"

# tickets_json [ARGS...]: the ticket list as JSON, one compact line.
tickets_json() { ctl --json tickets "$@" 2>/dev/null | jq -c .tickets; }
ticket_json() { ctl --json ticket "$1" 2>/dev/null; }
# ticket_has ID JQ: does "abusectl --json ticket ID" satisfy the filter?
ticket_has() { local reply; reply=$(ticket_json "$1") && jq -e "$2" >/dev/null 2>&1 <<<"$reply"; }
tickets_have() { local reply; reply=$(ctl --json tickets 2>/dev/null) && jq -e "$1" >/dev/null 2>&1 <<<"$reply"; }

spam_burst() {
	vm_smtp_burst 60 8 &
	local burst=$!
	wait_for_bans "$1" 5000
	local rc=$?
	burst_stop "$burst"
	return $rc
}

check "a spam burst is banned" spam_burst '.bans[] | select(.source == "10.0.0.5" and .level == 1)'
check "the burst filed exactly one ticket" wait_until 3000 tickets_have '.tickets | length == 1'
ID=$(ctl --json tickets | jq -r '.tickets[0].id')
check "the ticket is routed to c-1001 (its /24 beats the reseller's /16), with its contact" \
	ticket_has "$ID" '.ticket | .customer == "c-1001" and .contact == "abuse@customer.example" and .unrouted == false'
check "the ticket names source, category, the VM's interface, and the ban" \
	ticket_has "$ID" '.ticket | .source == "10.0.0.5" and .category == "spam" and .vm.interface == "agvm0" and .ban.scope == "smtp" and .ban.level == 1 and .ban.active'
check "the ticket is open, the customer has not answered, the deadline is 48 h after the notice" \
	ticket_has "$ID" '.ticket | .status == "open" and .customer_status == "none" and .deadline_ms - .opened_ms == 172800000'
check "its thread starts with the notice, desk to customer, visible to the customer" \
	ticket_has "$ID" '.thread[0] | .template == "notice" and .direction == "desk-to-customer" and .visibility == "customer" and (.text | test("10.0.0.5"))'
check "its events link the offence and the ban; its bans list the ban" \
	ticket_has "$ID" '(.events[0] | .kind == "opened" and .offence != null and .ban != null) and (.bans | length == 1)'

check "delivery got the notice: the event log has the opened event for c-1001, for the customer" \
	wait_until 5000 delivered ".ticket == $ID and .event == \"opened\" and .template == \"notice\" and .customer.id == \"c-1001\" and .visibility == \"customer\""
# The evidence: the burst's own packets, from before the ban, and its SMTP.
EVIDENCE=$STATE/evidence/$ID
check "the ticket's evidence holds a pcap excerpt that tcpdump -r reads" \
	bash -c "tcpdump -nn -r '$EVIDENCE/excerpt-1.pcap' >'$WORK/excerpt.txt' 2>/dev/null"
check "the excerpt holds the burst's SMTP packets, and only 10.0.0.5's" \
	bash -c "grep -q '10.0.0.5.[0-9]* > 10.0.1.2.25:' '$WORK/excerpt.txt' && ! grep -v ' 10.0.0.5\.' '$WORK/excerpt.txt' | grep -q ."
# excerpt_before_ban: is the excerpt's first packet older than the ban?
excerpt_before_ban() {
	local first started
	first=$(tcpdump -tt -nn -r "$EVIDENCE/excerpt-1.pcap" 2>/dev/null | head -n 1 | cut -d' ' -f1)
	started=$(ticket_json "$ID" | jq -r '.ticket.ban.started_ms')
	[ -n "$first" ] && [ "$started" != null ] && python3 -c "import sys; sys.exit(not float(sys.argv[1]) * 1000 < int(sys.argv[2]))" "$first" "$started"
}
check "the excerpt starts before the ban: it shows what triggered it" excerpt_before_ban
check "the evidence log has the VM's clear-text SMTP: its MAIL FROM and RCPT TO, to 10.0.1.2" \
	bash -c "grep -q 'smtp MAIL FROM:<.*> (to 10.0.1.2 port 25)' '$EVIDENCE/evidence.log' && grep -q 'smtp RCPT TO:<' '$EVIDENCE/evidence.log'"
check "sha256sum -c SHA256SUMS checks the log and the excerpt" \
	bash -c "cd '$EVIDENCE' && grep -q excerpt-1.pcap SHA256SUMS && sha256sum --quiet -c SHA256SUMS"
check "--customer c-1001 lists it" test "$(tickets_json --customer c-1001 | jq length)" = 1
check "--customer c-2002 lists nothing" test "$(tickets_json --customer c-2002 | jq length)" = 0
check "--source 10.0.0.5 lists it" test "$(tickets_json --source 10.0.0.5 | jq length)" = 1
check "--source 10.0.0.6 lists nothing" test "$(tickets_json --source 10.0.0.6 | jq length)" = 0
check "--status open lists it, --status closed does not" \
	test "$(tickets_json --status open | jq length) $(tickets_json --status closed | jq length)" = "1 0"
refute "--status nonsense is refused" ctl tickets --status nonsense
ctl tickets >"$WORK/tickets.txt" 2>&1
check "the table for people shows id, status, customer, source, category" \
	grep -Eq "^$ID +open +none +c-1001 +10\.0\.0\.5 +spam" "$WORK/tickets.txt"
ctl ticket "$ID" >"$WORK/ticket.txt" 2>&1
check "abusectl ticket ID shows the customer, the thread and the bans for people" \
	bash -c "grep -q 'abuse@customer.example' '$WORK/ticket.txt' && grep -qi 'thread' '$WORK/ticket.txt' && grep -qi 'notice' '$WORK/ticket.txt' && grep -qi 'bans' '$WORK/ticket.txt'"

# The desk walks it.
refute "acknowledge without --reason is refused" ctl ticket acknowledge "$ID"
check "the desk acknowledges" ctl ticket acknowledge "$ID" --reason "taken by the abuse desk"
check "the ticket is acknowledged" ticket_has "$ID" '.ticket.status == "acknowledged"'
refute "acknowledging twice is refused" ctl ticket acknowledge "$ID" --reason "again"
check "an internal note" ctl ticket note "$ID" --text "phoned the customer" --reason "call log"
check "a note to the customer" ctl ticket note "$ID" --text "please check your mail server" --to-customer --reason "advice"
check "the customer's reply: fixed" ctl ticket reply "$ID" --text "we removed the spam script" --customer-status fixed --reason "mail from the customer"
notes_delivered() {
	delivered ".ticket == $ID and .event == \"note\" and .visibility == \"internal\"" &&
		delivered ".ticket == $ID and .event == \"note\" and .visibility == \"customer\" and .text == \"please check your mail server\""
}
check "delivery got the internal note as internal, and the note to the customer as the customer's" \
	wait_until 5000 notes_delivered
check "the customer says fixed; the thread has the notes and the reply in their directions" \
	ticket_has "$ID" '.ticket.customer_status == "fixed" and ([.thread[] | .direction] | index("internal") != null and index("customer-to-desk") != null) and ([.thread[] | select(.template == "note" and .visibility == "customer")] | length == 1)'
refute "the customer's status never goes back" ctl ticket reply "$ID" --text "hm" --customer-status acknowledged --reason "x"
check "the desk resolves" ctl ticket resolve "$ID" --reason "customer removed the script"
check "the ticket is resolved" ticket_has "$ID" '.ticket.status == "resolved"'

# New abuse after resolved reopens it.
check "the operator lifts the ban" ctl unban 10.0.0.5 --reason "customer says fixed"
check "a second burst is banned, level 2 (one week)" \
	spam_burst '.bans[] | select(.source == "10.0.0.5" and .level == 2)'
check "the same ticket reopened: open, two events, customer status back to none" \
	wait_until 3000 ticket_has "$ID" '.ticket | .status == "open" and .events == 2 and .customer_status == "none" and .ban.level == 2'
check "still one ticket" tickets_have '.tickets | length == 1'

# False positive: lifts the ban, and the ladder forgets both offences.
check "the desk marks it a false positive" ctl ticket false-positive "$ID" --reason "the customer's newsletter, approved"
check "the ticket is false-positive, its bans lifted" \
	ticket_has "$ID" '.ticket.status == "false-positive" and ([.bans[] | select(.active)] | length == 0)'
check "no active ban is left" bans_match '.bans == []'
refute "the kernel's smtp set no longer holds 10.0.0.5" kernel_set_has ban4_smtp 10.0.0.5
check "the VM reaches port 25 again" vm_connects 10.0.1.2 25
check "the next burst is a first offence again: level 1, one hour" \
	spam_burst '.bans[] | select(.source == "10.0.0.5" and .level == 1 and .duration_s == 3600)'
check "and opens a new ticket" wait_until 3000 tickets_have '([.tickets[] | select(.status == "open")] | length) == 1 and (.tickets | length) == 2'

check "every status change is audited with uid and reason" \
	ticket_has "$ID" '[.changes[] | select(.axis == "desk") | .to] == ["acknowledged", "resolved", "open", "false-positive"] and ([.changes[] | select(.uid != 0 or (.reason | length) == 0)] | length == 0)'
check "the audit table has each desk verb" \
	test "$(sqlite3 "$STATE/abuseguard.db" "SELECT count(*) FROM audit WHERE action LIKE 'ticket %' AND subject = 'ticket $ID'")" = 6

check "status counts the tickets: two opened, one reopened, none unrouted, no errors" \
	status_match '.counters | .tickets_opened == 2 and .tickets_reopened == 1 and .tickets_unrouted == 0 and .ticket_store_errors == 0 and .ticket_delivery_refused == 0'
check "the metrics count them too" \
	bash -c "'$BUILD/abusectl' -s '$WORK/control.sock' metrics | grep -qx 'abuseguard_ticket_events_total{event=\"opened\"} 2'"

daemon_stop
check "the daemon restarts" daemon_start "$POLICY" "$STATE"
check "the tickets are still there after a restart" \
	ticket_has "$ID" '.ticket.status == "false-positive" and (.thread | length >= 6)'
