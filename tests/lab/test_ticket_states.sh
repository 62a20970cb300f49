#!/usr/bin/env bash
# A ticket's whole life, end to end, with a 5-second deadline: abusectl walks
# a spam ticket through every state (open, acknowledged, escalated past its
# deadline with the abuse going on, resolved, reopened, closed by the desk)
# and a second one to false-positive; each change is in abusectl events
# --follow and each customer-visible one is mailed in its own template. A
# crawl and a scan give tickets of their own whose mail carries X-ARF
# connection/scraping and connection/port_scan, validated against the X-ARF
# v4 schemas (tests/xarf). A manual ban files a ticket; one in the default
# queue that the mail command refuses for good (exit 67) is kept as failed
# in abusectl outbox and never retried.
. "$(dirname "$0")/lib.sh"
lab_begin "$@"
POLICY=$WORK/abuseguard.conf
STATE=$WORK/state
MAILDIR=$WORK/mail
mkdir -p "$MAILDIR" "$WORK/xarf"
# The mail command: keeps each message; refuses the default queue's for good, as an MTA
# refuses an unknown user.
cat >"$WORK/mail.sh" <<EOF
#!/bin/sh
f=\$(mktemp "$MAILDIR/XXXXXX.eml") && cat >"\$f"
if grep -q '^Subject: .*\[unrouted\]' "\$f"; then
	echo "abuse@provider.example... User unknown"
	exit 67
fi
EOF
chmod 755 "$WORK/mail.sh"
sed 's|^customers = ( );|customers = (\
	{ id = "c-1001"; name = "Example Customer"; contact = "abuse@customer.example";\
	  prefixes = [ "10.0.0.0/24", "fd00:5::/48" ]; }\
);|; s|^\tmail_command = .*|\tmail_command = "'"$WORK"'/mail.sh";|; s|^\tdeadline = .*|\tdeadline = "5s";|' \
	policy/abuseguard.conf >"$POLICY"
# A site whose robots.txt forbids /private/, for the crawl.
printf 'User-agent: *\nDisallow: /private/\n' >"$WORK/www/robots.txt"
mkdir -p "$WORK/www/private"
for i in $(seq 14); do echo "private $i" >"$WORK/www/private/$i.html"; done

check "the policy with a 5 s deadline is valid" "$BUILD/abuseguardd" -t -c "$POLICY"
check "daemon starts" daemon_start "$POLICY" "$STATE"
ctl --json events --follow >"$WORK/follow.jsonl" 2>/dev/null &
FOLLOW=$!
lab_at_exit 'kill $FOLLOW 2>/dev/null'

ticket_has() { local reply; reply=$(ctl --json ticket "$1" 2>/dev/null) && jq -e "$2" >/dev/null 2>&1 <<<"$reply"; }
tickets_have() { local reply; reply=$(ctl --json tickets 2>/dev/null) && jq -e "$1" >/dev/null 2>&1 <<<"$reply"; }
# followed JQ: has abusectl events --follow printed a line matching JQ?
followed() { jq -e -s "any(.[]; $1)" "$WORK/follow.jsonl" >/dev/null 2>&1; }
# mailed KIND [TICKET]: has the mail command got a message of that kind (for that ticket)?
mailed() { grep -l "^X-Abuseguard-Kind: $1\$" "$MAILDIR"/*.eml 2>/dev/null | xargs -r grep -l "^Subject: \[Abuse #${2:-[0-9]*}\]" | grep -q .; }
spam_burst() {
	vm_smtp_burst 60 8 &
	local burst=$!
	wait_for_bans '.bans[] | select(.source == "10.0.0.5" and .scope == "smtp")' 8000
	local rc=$?
	burst_stop "$burst"
	return $rc
}
unban() { ctl unban 10.0.0.5 --reason "lab: next step" >/dev/null; }

check "a spam burst is banned" spam_burst
check "it opens ticket 1" wait_until 3000 ticket_has 1 '.ticket | .status == "open" and .category == "spam" and .customer == "c-1001"'
check "the notice is mailed" wait_until 5000 mailed notice 1
check "the desk acknowledges" ctl ticket acknowledge 1 --reason "taken"
check "ticket 1 is acknowledged" ticket_has 1 '.ticket.status == "acknowledged"'
# past_deadline ID: is the ticket's deadline behind us?
past_deadline() { ticket_has "$1" ".ticket.deadline_ms < $(($(now_us) / 1000))"; }
check "its 5 s deadline passes" wait_until 8000 past_deadline 1
unban
check "abuse after the deadline is banned again" spam_burst
check "the ticket is escalated: suspension recommended" \
	wait_until 3000 ticket_has 1 '.ticket.status == "escalated" and any(.thread[]; .template == "escalation" and .direction == "desk-to-customer" and (.text | test("suspension recommended")))'
check "the escalation is mailed in its own template" wait_until 5000 mailed escalation 1
check "its subject says so" bash -c "grep -l '^X-Abuseguard-Kind: escalation' '$MAILDIR'/*.eml | xargs grep -q '^Subject: .*Escalated, suspension recommended'"
check "the desk resolves" ctl ticket resolve 1 --reason "customer cleaned the host"
check "ticket 1 is resolved" ticket_has 1 '.ticket.status == "resolved"'
unban
check "new abuse is banned" spam_burst
check "and reopens ticket 1" wait_until 3000 ticket_has 1 '.ticket.status == "open" and any(.changes[]; .to == "open" and .from == "resolved")'
refute "close without --reason is refused" ctl ticket close 1
check "the desk closes it" ctl ticket close 1 --reason "handled by phone; customer suspended the VM"
check "ticket 1 is closed" ticket_has 1 '.ticket.status == "closed" and .ticket.closed_ms != null'
closure_mailed() {
	local f
	f=$(grep -l '^X-Abuseguard-Kind: closure' "$MAILDIR"/*.eml 2>/dev/null | head -n 1)
	[ -n "$f" ] && ! grep -q 'suspended the VM' "$f"
}
check "the closure is mailed, without the desk's reason" wait_until 5000 closure_mailed
refute "a closed ticket cannot be closed again" ctl ticket close 1 --reason "again"
check "ticket 1 walked open, acknowledged, escalated, resolved, open, closed; each audited with uid and reason" \
	ticket_has 1 '[.changes[] | select(.axis == "desk") | .to] == ["acknowledged", "escalated", "resolved", "open", "closed"] and all(.changes[]; (.reason | length) > 0)'
unban
check "abuse after the close is banned" spam_burst
check "and opens ticket 2, not ticket 1" wait_until 3000 ticket_has 2 '.ticket.status == "open" and .ticket.source == "10.0.0.5"'
check "the desk marks ticket 2 a false positive" ctl ticket false-positive 2 --reason "approved newsletter"
check "ticket 2 is false-positive, its ban lifted" ticket_has 2 '.ticket.status == "false-positive" and ([.bans[] | select(.active)] | length == 0)'

# Every change was in the event stream.
for change in opened acknowledged escalated resolved reopened closed false-positive; do
	check "abusectl events --follow printed the ticket change \"$change\"" \
		wait_until 3000 followed ".event == \"ticket\" and .change == \"$change\" and .source == \"10.0.0.5\""
done

# A crawl that ignores robots.txt, then a scan: a ticket each, in its category.
crawl() {
	for i in $(seq 14); do
		in_vm curl -sf --max-time 2 -A 'LabBot/1.0' "http://10.0.1.2/private/$i.html" -o /dev/null
	done
}
crawl
check "the crawl is banned for web" wait_for_bans '.bans[] | select(.source == "10.0.0.5" and .scope == "web" and .category == "crawler")' 8000
check "and has its own ticket" wait_until 3000 tickets_have 'any(.tickets[]; .category == "crawler" and .source == "10.0.0.5" and .status == "open")'
in_vm timeout 60 nmap -n -Pn -sT -p 1-200 --max-retries 1 10.0.1.2 >/dev/null 2>&1 &
SCAN=$!
check "a connect scan is banned, scope all" wait_for_bans '.bans[] | select(.source == "10.0.0.5" and .scope == "all" and .category == "scan")' 20000
burst_stop "$SCAN"
check "and has its own ticket" wait_until 3000 tickets_have 'any(.tickets[]; .category == "scan" and .source == "10.0.0.5" and .status == "open")'
all_noticed() { mailed notice 3 && mailed notice 4; }
check "both notices are mailed" wait_until 5000 all_noticed

# The X-ARF part of every notice, kept apart and validated as a receiver would.
python3 - "$MAILDIR" "$WORK/xarf" >"$WORK/xarf-types.txt" <<'PY'
import email, email.policy, json, pathlib, sys
out = pathlib.Path(sys.argv[2])
for path in sorted(pathlib.Path(sys.argv[1]).glob("*.eml")):
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    for part in message.iter_parts():
        if part.get_filename() == "xarf-report.json":
            document = json.loads(part.get_content())
            (out / (path.stem + ".json")).write_text(json.dumps(document))
            print(document["category"] + "/" + document["type"])
PY
check "the notices carry X-ARF messaging/spam, connection/scraping and connection/port_scan" \
	bash -c "grep -qx messaging/spam '$WORK/xarf-types.txt' && grep -qx connection/scraping '$WORK/xarf-types.txt' && grep -qx connection/port_scan '$WORK/xarf-types.txt'"
python3 tests/xarf/check_report.py "$WORK/xarf" >"$WORK/xarf-check.txt" 2>&1
sed -n 's/^not ok - /# X-ARF: /p' "$WORK/xarf-check.txt"
check "each validates against the X-ARF v4 schema of its type ($(grep -c '^ok' "$WORK/xarf-check.txt") reports)" \
	bash -c "grep -q '^ok' '$WORK/xarf-check.txt' && ! grep -q '^not ok' '$WORK/xarf-check.txt'"

# A manual ban files a ticket; in the default queue, the mail command refuses it for good.
check "a manual ban of an address outside every prefix" \
	ctl ban 10.9.9.9 --scope smtp --category spam --reason "complaint 4711 from a peer"
check "files a ticket in the default queue, with the operator's reason" \
	wait_until 3000 tickets_have 'any(.tickets[]; .source == "10.9.9.9" and .unrouted and .customer == "unrouted")'
outbox_has() { local reply; reply=$(ctl --json outbox 2>/dev/null) && jq -e "$1" >/dev/null 2>&1 <<<"$reply"; }
check "abusectl outbox shows its notice refused for good: failed, one attempt, the MTA's words" \
	wait_until 5000 outbox_has '.undeliverable == 1 and any(.deliveries[]; .backend == "mail" and .state == "failed" and .attempts == 1 and (.last_error | test("exit status 67.*User unknown")))'
ctl outbox >"$WORK/outbox.txt" 2>&1
check "the table for people shows it too" grep -Eq '^[0-9]+ +[0-9]+ +mail +opened +failed +1 ' "$WORK/outbox.txt"
ID=$(ctl --json tickets --source 10.9.9.9 | jq -r '.tickets[0].id')
check "abusectl ticket ID lists its deliveries with their state" \
	ticket_has "$ID" 'any(.deliveries[]; .backend == "mail" and .state == "failed")'
check "the other tickets' mail was all delivered" ticket_has 1 '[.deliveries[] | select(.backend == "mail") | .state] | length >= 3 and all(. == "sent")'
check "the metrics count the refusal" \
	bash -c "'$BUILD/abusectl' -s '$WORK/control.sock' metrics | grep -qx 'abuseguard_notify_undeliverable 1'"
daemon_stop
check "the daemon restarts" daemon_start "$POLICY" "$STATE"
sleep 2
check "after the restart the refused notice is still failed and was not tried again" \
	bash -c "[ \"\$(grep -l '^Subject: .*\[unrouted\]' '$MAILDIR'/*.eml | wc -l)\" = 1 ]"
check "and abusectl outbox still shows it" outbox_has '.undeliverable == 1 and .waiting == 0'
