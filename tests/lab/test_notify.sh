#!/usr/bin/env bash
# Notices, end to end: a VM's SMTP burst is banned, its ticket is routed to
# the customer, and the notice reaches the customer's mailbox through a
# real Postfix (its own instance, local delivery only, nothing leaves the
# machine); the exec hook gets the ticket JSON and the event log a line.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/postfix.sh"
lab_begin "$@"
lab_at_exit 'postfix_stop "$WORK/postfix"'
check "a private Postfix instance starts (local delivery to customer.example only)" \
	postfix_start "$WORK/postfix"

cat >"$WORK/hook.sh" <<HOOK
#!/bin/sh
cat >>$WORK/hook.json
echo "\$ABUSEGUARD_TICKET \$ABUSEGUARD_KIND" >>$WORK/hook.env
HOOK
chmod 755 "$WORK/hook.sh"
sed -e '/^notify = {/,/^};/d' -e '/^customers = ( );/d' policy/abuseguard.conf >"$WORK/policy.conf"
cat >>"$WORK/policy.conf" <<POLICY
customers = (
	{ id = "c-1001"; name = "Example Customer"; contact = "abuse@customer.example";
	  prefixes = [ "10.0.0.0/24", "fd00:5::/48" ]; }
);
notify = {
	from = "Lab Provider Abuse Desk <abuse@provider.example>";
	mail_command = "/usr/sbin/sendmail -C $WORK/postfix/conf -t -i -f abuse@provider.example";
	exec = "$WORK/hook.sh";
	event_log = "$WORK/events.jsonl";
};
POLICY

check "the daemon starts with a notify section for all three backends" \
	daemon_start "$WORK/policy.conf" "$WORK/state"
# A spam run as swaks sends it: 60 mails at most, 8 at a time, bounded in time.
swaks_burst() {
	in_vm timeout 30 bash -c 'for i in $(seq 60); do
		swaks --silent 2 --timeout 5 --server 10.0.1.2 --helo bulk.example \
			--from offers@bulk.example --to victim@example.net \
			--header "Subject: Cheap watches, today only" >/dev/null 2>&1 &
		[ $((i % 8)) -eq 0 ] && wait
	done; wait'
}
swaks_burst &
burst=$!
check "a spam run of swaks is banned" wait_for_bans '.bans[] | select(.source == "10.0.0.5")' 20000
burst_stop "$burst"

mailbox=$WORK/postfix/mail/customer/new
delivered() { [ -n "$(ls -A "$mailbox" 2>/dev/null)" ]; }
for _ in $(seq 150); do delivered && break; sleep 0.2; done
check "Postfix delivered the notice into the customer's mailbox within 30 s" delivered
mail=$(ls "$mailbox"/* 2>/dev/null | head -n 1)
check "the mailbox holds one notice, not one per burst" test "$(ls "$mailbox" | wc -l)" -eq 1
check "the notice parses as mail: a notice for ticket of 10.0.0.5, to the customer" \
	python3 - "${mail:-/nonexistent}" <<'PY'
import email, email.policy, json, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
assert m["X-Abuseguard-Kind"] == "notice", m["X-Abuseguard-Kind"]
assert "abuse@customer.example" in str(m["To"]), m["To"]
assert str(m["Subject"]).startswith("[Abuse #") and "10.0.0.5" in str(m["Subject"]), m["Subject"]
parts = {p.get_filename(): p for p in m.iter_parts()}
report = json.loads(parts["xarf-report.json"].get_content())
assert report["category"] == "messaging" and report["type"] == "spam", report
assert report["source_identifier"] == "10.0.0.5", report
assert "10.0.0.5" in parts["evidence.log"].get_content()
PY
check "the notice shows the envelope and Subject the VM sent, in its text and its X-ARF part" \
	python3 - "${mail:-/nonexistent}" "$WORK/xarf" <<'PY'
import email, email.policy, json, pathlib, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
parts = {p.get_filename(): p for p in m.iter_parts()}
text = list(m.iter_parts())[0].get_content()
for line in ("Envelope from: offers@bulk.example", "Envelope to:   victim@example.net",
             "Subject seen:  Cheap watches, today only"):
    assert line in text, (line, text)
report = json.loads(parts["xarf-report.json"].get_content())
assert report["smtp_from"] == "offers@bulk.example", report
assert report["smtp_to"] == "victim@example.net", report
assert report["subject"] == "Cheap watches, today only", report
assert 1024 <= report["source_port"] <= 65535, report
log = parts["evidence.log"].get_content()
assert "smtp MAIL FROM:<offers@bulk.example>" in log and "smtp Subject: Cheap watches" in log, log
pathlib.Path(sys.argv[2]).mkdir()
(pathlib.Path(sys.argv[2]) / "notice.json").write_text(json.dumps(report))
PY
check "the notice's X-ARF report passes strict validation against the messaging/spam schema" \
	bash -c "python3 tests/xarf/check_report.py '$WORK/xarf' | grep -q '^ok - notice.json validates'"
check "the notice carries the pcap excerpt's name and digest; tcpdump -r reads the file" \
	bash -c "grep -q 'excerpt-1.pcap' '${mail:-/nonexistent}' && tcpdump -nn -r '$WORK'/state/evidence/*/excerpt-1.pcap 2>/dev/null | grep -q '10.0.0.5'"
check "its X-ARF part and log name the burst's destination (10.0.1.2 port 25)" \
	bash -c "grep -q . '$WORK/events.jsonl' && python3 -c '
import email, email.policy, sys
m = email.message_from_binary_file(open(sys.argv[1], \"rb\"), policy=email.policy.default)
log = [p for p in m.iter_parts() if p.get_filename() == \"evidence.log\"][0].get_content()
assert \"10.0.1.2 port 25\" in log, log
' '${mail:-/nonexistent}'"
check "the exec hook got the ticket as JSON on stdin" \
	bash -c "jq -e 'select(.event == \"opened\") | .customer.id == \"c-1001\" and .source == \"10.0.0.5\"' '$WORK/hook.json' >/dev/null"
check "the event log got one JSON line for the ticket's opening" \
	bash -c "jq -e 'select(.event == \"opened\")' '$WORK/events.jsonl' >/dev/null"
metrics_delivered() {
	ctl metrics >"$WORK/metrics.txt" &&
		grep -q '^abuseguard_notify_deliveries_total{outcome="ok"} [3-9]' "$WORK/metrics.txt" &&
		grep -q '^abuseguard_notify_outbox_depth 0' "$WORK/metrics.txt" &&
		grep -q '^abuseguard_evidence_lines_total [1-9]' "$WORK/metrics.txt"
}
check "the metrics count the deliveries, an empty outbox and the evidence lines" metrics_delivered
check "the evidence is kept under the state dir with its digests" \
	bash -c "cd '$WORK/state/evidence/'* && sha256sum --quiet -c SHA256SUMS"
