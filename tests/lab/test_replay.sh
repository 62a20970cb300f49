#!/usr/bin/env bash
# Replay: captures run through the real XDP program, detectors and policy
# print exactly what the daemon would have done, and nothing else happens.
# The fixtures come from tests/replay/make_fixtures.py; then the lab's own
# tcpdump captures (Ethernet on the vm-facing veth, Linux cooked v1 and v2 on
# "any") must replay to the ban the live daemon took. Every replay runs in a
# network namespace of its own, which must end up without any nftables table.
. "$(dirname "$0")/lib.sh"
lab_begin --no-lab "$@"
POLICY=$PWD/policy/abuseguard.conf
FIXTURES=$WORK/fixtures
REPLAY_NS=$LAB-replay
mkdir -p "$FIXTURES" "$WORK/tmp"
lab_at_exit 'ip netns del "$REPLAY_NS" 2>/dev/null'
ip netns add "$REPLAY_NS" || { not_ok "a namespace for the replays can be created"; exit 1; }

# replay NAME [--replay FILE]...: runs abuseguardd in the replay namespace with
# $REPLAY_POLICY (default: the default policy); stdout goes to $WORK/NAME.out,
# stderr to $WORK/NAME.err, the exit status to RC.
replay() {
	local name=$1; shift
	TMPDIR=$WORK/tmp ip netns exec "$REPLAY_NS" "$BUILD/abuseguardd" \
		-c "${REPLAY_POLICY:-$POLICY}" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"
	RC=$?
}
# decisions NAME [JQ]: the JSON lines (summary lines start with "#"), one per line, compact.
decisions() { grep -v '^#' "$WORK/$1.out" | jq -rc "${2:-del(.file, .detail)}"; }
# summary NAME LABEL: the number on the summary row LABEL.
summary() {
	awk -v label="$2" 'substr($0, 1, length(label) + 3) == "# " label " " { print $NF }' \
		"$WORK/$1.out"
}
# expect "what" ACTUAL EXPECTED: exact comparison, showing both when they differ.
expect() {
	if [ "$2" == "$3" ]; then
		ok "$1"
	else
		not_ok "$1"
		printf '  expected: %s\n  got:      %s\n' "$3" "$2"
	fi
}
fixture() { replay "$1" --replay "$FIXTURES/$1.${2:-pcap}"; }

check "make_fixtures.py writes the fixture captures" \
	python3 tests/replay/make_fixtures.py "$FIXTURES"
check "the replay namespace starts without nftables tables" \
	test -z "$(ip netns exec "$REPLAY_NS" nft list tables)"

SPAM_BAN='{"time":"2026-11-26T06:24:10.957Z","packet":30,"source":"10.0.0.5","category":"spam","attempts":30,"destinations":1,"action":"ban","why":"ladder","scope":"smtp","interface":"(capture)","level":1,"duration_s":3600,"expires":"2026-11-26T07:24:10.957Z"}'

# A spam burst: 60 SYNs to port 25 in 2 s; the 30th crosses the policy's 30 attempts.
fixture spam
expect "spam burst: exit status 0" "$RC" 0
expect "spam burst: exactly one decision, a 1-hour smtp ban of 10.0.0.5 at the 30th SYN" \
	"$(decisions spam)" "$SPAM_BAN"
check "spam burst: the decision says why, for people" \
	grep -q '"detail":"30 SMTP connection attempts to 1 destination within 60s (limits 30, 15); last to 10.0.1.2 port 25"' "$WORK/spam.out"
check "spam burst: the decision names the file" \
	test "$(decisions spam .file)" == "$FIXTURES/spam.pcap"
check "every line of the output is either JSON or a summary line starting with #" \
	bash -c "grep -v '^#' '$WORK/spam.out' | jq -e . >/dev/null"
expect "spam burst: summary counts 60 packets read, 60 run, 0 skipped" \
	"$(summary spam 'packets read') $(summary spam 'packets run') $(summary spam 'packets skipped')" "60 60 0"
expect "spam burst: summary counts 1 source flagged for spam, 1 ban, 1 on rung 1" \
	"$(summary spam 'sources flagged: spam') $(summary spam 'decisions: ban') $(summary spam 'bans on rung 1 (1h)')" "1 1 1"

expect "spam burst: one ticket filed, in the default queue (the default policy names no customer)" \
	"$(summary spam 'tickets opened') $(summary spam '  of them in the default queue')" "1 1"
check "spam burst: the summary lists the ticket: category, source, queue, events, status" \
	grep -qx '# ticket 1: spam 10.0.0.5, customer unrouted (unrouted), 1 event(s), open, VM on (capture)' "$WORK/spam.out"

fixture spam pcapng
expect "the pcapng version of the burst gives the same decision" "$(decisions spam)" "$SPAM_BAN"
fixture spam-raw
expect "the raw-IP version of the burst gives the same decision" "$(decisions spam-raw)" "$SPAM_BAN"
# Cooked v1 names no interface: the forwarded copies (outgoing) go through
# the egress program, as packets toward the VM. Cooked v2 names the
# capturing host's interface index: the VM's (2) is named on the command line,
# the uplink's (3) is no VM's and skipped.
fixture spam-sll
expect "the Linux cooked (sll) version gives the same ban" \
	"$(decisions spam-sll 'del(.file, .detail, .packet)')" \
	"$(decisions spam 'del(.file, .detail, .packet)')"
expect "cooked (sll): all 120 packets run, the 60 outgoing ones toward the VM, none skipped" \
	"$(summary spam-sll 'packets run') $(summary spam-sll 'packets skipped') $(summary spam-sll 'SMTP connection attempts (XDP)')" "120 0 60"
replay spam-sll2 --replay-interface 2=tap0 --replay "$FIXTURES/spam-sll2.pcap"
expect "cooked (sll2) with --replay-interface 2=tap0: the same ban, of the VM on tap0" \
	"$(decisions spam-sll2 'del(.file, .detail, .packet)')" \
	"$(decisions spam 'del(.file, .detail, .packet) | .interface = "tap0"')"
expect "cooked (sll2): the uplink's 60 copies are on no VM-facing interface, skipped; 60 run" \
	"$(summary spam-sll2 '  on no VM-facing interface') $(summary spam-sll2 'packets run')" "60 60"
check "cooked (sll2): stderr names the uplink's index 3 once, and how to name it" \
	test "$(grep -c "the capture's interface 3 (unknown on this host) is none of the policy's VM-facing interfaces.*--replay-interface 3=NAME" "$WORK/spam-sll2.err")" -eq 1
fixture spam-sll2
expect "cooked (sll2) without naming index 2 (unknown here): all 120 skipped, no decision" \
	"$(summary spam-sll2 '  on no VM-facing interface')|$(decisions spam-sll2)" "120|"
replay bad-interface --replay-interface 0=tap0 --replay "$FIXTURES/spam.pcap"
expect "--replay-interface 0=tap0 is refused (exit 64), naming the argument" \
	"$RC $(grep -c -- '--replay-interface 0=tap0: INDEX=NAME' "$WORK/bad-interface.err")" "64 1"

# Attribution, as live: the policy's VMs hold their addresses from the first
# packet; a VM's own ARP teaches it its address; a spoofing event is an
# offence of the forging VM's own address and never of the forged one.
sed -e 's|^vms = ( );|vms = ( { interface = "tap-a"; addresses = [ "10.0.0.5" ]; name = "vm-a"; },\
	{ interface = "tap-b"; addresses = [ "10.0.0.6" ]; name = "vm-b"; } );|' "$POLICY" >"$WORK/two.conf"
REPLAY_POLICY=$WORK/two.conf replay forged --replay-interface tap-a --replay "$FIXTURES/forged.pcap"
expect "tap-a forging tap-b's 10.0.0.6: one decision, a spoofing ban of tap-a's own 10.0.0.5 at the 100th" \
	"$(decisions forged '[.packet, .source, .category, .interface, .action, .scope] | join(" ")')" \
	"100 10.0.0.5 spoofing tap-a ban all"
check "the spoofing decision names the forged address as evidence" \
	grep -q '"detail":"100 packets from sources not its own.*forged: 10.0.0.6"' "$WORK/forged.out"
expect "forged: 150 packets from forged sources, none counted as an SMTP attempt, no ticket for 10.0.0.6" \
	"$(summary forged 'packets from forged sources (XDP)') $(summary forged 'SMTP connection attempts (XDP)') $(grep -c '^# ticket .*10\.0\.0\.6' "$WORK/forged.out")" "150 0 0"
REPLAY_POLICY=$WORK/two.conf fixture forged
expect "the same capture of an unnamed interface: tap-b's address is still forged, nothing decided" \
	"$(summary forged 'packets from forged sources (XDP)')|$(decisions forged)" "150|"
check "unnamed, the spoofing is reported on stderr: the forger has no address of its own" \
	grep -q '(capture): 100 packets from forged sources, but no address of its own is known' "$WORK/forged.err"
fixture learned
expect "a VM's ARP as 10.0.0.7, then a burst forging 10.0.0.9: spoofing of 10.0.0.7, nothing for 10.0.0.9" \
	"$(decisions learned '[.source, .category, .action] | join(" ")')" "10.0.0.7 spoofing ban"
expect "learned: the summary counts 1 address learned" "$(summary learned 'addresses learned (ARP, NDP, DHCP)')" 1
# A policy VM whose range holds one of the host's addresses is refused, by name.
ip -n "$REPLAY_NS" addr add 192.0.2.1/32 dev lo
sed -e 's|^vms = ( );|vms = ( { interface = "tap-a"; addresses = [ "192.0.2.0/24" ]; } );|' \
	"$POLICY" >"$WORK/host.conf"
REPLAY_POLICY=$WORK/host.conf replay host-range --replay-interface tap-a --replay "$FIXTURES/spam.pcap"
check "a policy VM holding the host's 192.0.2.1 is refused, naming its range and why" \
	grep -q "tap-a: the policy's addresses are not applied: 192.0.2.0/24 is or holds a hypervisor address, which no VM can own; it learns its addresses instead" "$WORK/host-range.err"
ip -n "$REPLAY_NS" addr del 192.0.2.1/32 dev lo
REPLAY_POLICY=$WORK/two.conf replay two-vms --replay-interface 2=tap-a --replay-interface 3=tap-b \
	--replay "$FIXTURES/two-vms-sll2.pcap"
expect "two VMs on any: tap-b's own burst is banned at its 30th SYN, tap-a's forging is its own offence" \
	"$(decisions two-vms '[.source, .category, .interface, .attempts] | join(" ")')" \
	"10.0.0.6 spam tap-b 30
10.0.0.5 spoofing tap-a 100"
# The same in pcapng, each packet naming its interface block (if_name), in
# either byte order: no --replay-interface, and the uplink's eth0 is no VM's.
for order in "" -be; do
	REPLAY_POLICY=$WORK/two.conf replay "two-vms$order" --replay "$FIXTURES/two-vms$order.pcapng"
	expect "two VMs in pcapng${order:+ (big endian)}: the same two decisions, by interface block" \
		"$(decisions "two-vms$order" '[.source, .category, .interface, .attempts] | join(" ")')" \
		"10.0.0.6 spam tap-b 30
10.0.0.5 spoofing tap-a 100"
	expect "two VMs in pcapng${order:+ (big endian)}: only the forger, tap-a, has a spoofing decision" \
		"$(decisions "two-vms$order" 'select(.category == "spoofing") | .interface')" "tap-a"
	expect "two VMs in pcapng${order:+ (big endian)}: eth0's 210 copies skipped, said once" \
		"$(summary "two-vms$order" '  on no VM-facing interface') $(grep -c "interface 2 (eth0) is none of the policy's" "$WORK/two-vms$order.err")" "210 1"
done
fixture spam-user0
expect "an unsupported link type: no decision, exit status 0" "$(decisions spam-user0)/$RC" "/0"
check "an unsupported link type is reported once, naming the file" \
	test "$(grep -c 'spam-user0.pcap: link type .* is not supported' "$WORK/spam-user0.err")" -eq 1
expect "an unsupported link type: its 60 packets are counted as skipped" \
	"$(summary spam-user0 '  unsupported link type')" 60

# No scan or crawler detector exists yet: these must give no decision (and
# become scan / crawler bans when the detectors land).
fixture scan
expect "a port scan (1024 ports, then 254 hosts): no decision yet, all 1278 packets run" \
	"$(decisions scan)|$(summary scan 'packets run')" "|1278"
# Replies toward the VM too long for a batch's slot run one by one through
# the tc program, as live: a SYN-ACK of 3600 bytes answers the probe; one of
# 5000 is more than a test run takes.
fixture reply-long
expect "replies toward the VM of 3600 and 5000 bytes: the first answers the probe, the second is refused by the test run" \
	"$(summary reply-long '  answered (tc)') $(summary reply-long '  refused by the test run') $(summary reply-long 'packets run')" \
	"1 1 2"
fixture crawl
expect "a crawler (200 pages in 20 s): no decision yet, all 800 packets run" \
	"$(decisions crawl)|$(summary crawl 'packets run')" "|800"
fixture honest
expect "an honest VM (5 mails 2 minutes apart, web pages): no decision" \
	"$(decisions honest)|$(summary honest 'SMTP connection attempts (XDP)')" "|5"

# The ladder on capture time: a second burst 2 h later (1 h after the first ban
# ended) climbs to 1 week; a third during that ban is no new offence.
fixture ladder
expect "ladder: 1 h ban, then 1 week 2 h later, then ignored while banned" \
	"$(decisions ladder '"\(.time) \(.action) \(.why) \(.level // "-") \(.duration_s // "-")"')" \
	"2026-11-26T06:24:10.957Z ban ladder 1 3600
2026-11-26T08:24:10.957Z ban ladder 2 604800
2026-11-26T09:24:10.957Z ignore already banned - -"
expect "ladder: summary counts 2 bans (rung 1 and rung 2) and 1 ignored finding" \
	"$(summary ladder 'bans on rung 1 (1h)') $(summary ladder 'bans on rung 2 (7d)') $(summary ladder 'decisions: ignore')" "1 1 1"

fixture ipv6
expect "IPv6: two addresses of one /64 are one source, banned as fd00:5::/64" \
	"$(decisions ipv6 '[.source, .action, .attempts, .level] | join(" ")')" "fd00:5::/64 ban 30 1"

# Damaged captures: reported with the file and packet number, never fatal.
fixture snaplen
expect "snap length 34 (no TCP header): no decision, exit status 0" "$(decisions snaplen)/$RC" "/0"
expect "snap length 34: all 60 packets skipped as truncated" \
	"$(summary snaplen '  truncated (caplen < len)') $(summary snaplen 'packets run')" "60 0"
check "snap length 34: stderr names the file, the snap length and packet 1" \
	bash -c "grep -q 'snaplen.pcap: snap length 34' '$WORK/snaplen.err' && grep -q 'snaplen.pcap: packet 1 skipped, truncated' '$WORK/snaplen.err'"
check "snap length 34: stderr lists 10 packets, then counts the rest" \
	grep -q 'snaplen.pcap: 50 more packets skipped' "$WORK/snaplen.err"
fixture out-of-order
expect "out of order: exit status 0, packet 10 skipped, the ban comes one SYN later" \
	"$RC $(summary out-of-order '  out of order') $(decisions out-of-order '[.packet, .time, .attempts] | join(" ")')" \
	"0 1 31 2026-11-26T06:24:10.990Z 30"
check "out of order: stderr names the file and packet 10" \
	grep -q 'out-of-order.pcap: packet 10 skipped, out of order' "$WORK/out-of-order.err"
# Time stamps that are no time never stop the detectors nor discard the rest of the capture.
EPOCH_BAN='30 1970-01-01T00:00:01.000Z ban smtp 1970-01-01T01:00:01.000Z'
fixture epoch
expect "every time stamp at the epoch: exit 0, the burst banned at its 30th SYN on a clock that starts at 00:00:01" \
	"$RC $(decisions epoch '[.packet, .time, .action, .scope, .expires] | join(" ")')" "0 $EPOCH_BAN"
expect "every time stamp at the epoch: all 60 run, none skipped, each counted as without a time stamp" \
	"$(summary epoch 'packets run') $(summary epoch 'packets skipped') $(summary epoch '  no time stamp, or at or before 1970')" "60 0 60"
check "every time stamp at the epoch: stderr names the file and packet 1, then counts the rest" \
	bash -c "grep -q 'epoch.pcap: packet 1: no time stamp, or at or before 1970 (0 s): run at the previous packet' '$WORK/epoch.err' &&
		grep -q 'epoch.pcap: 50 more packets with no time stamp' '$WORK/epoch.err'"
fixture simple pcapng
expect "pcapng Simple Packet Blocks (no time stamp): exit 0, banned as the burst at the epoch" \
	"$RC $(decisions simple '[.packet, .time, .action, .scope, .expires] | join(" ")') $(summary simple '  no time stamp, or at or before 1970')" \
	"0 $EPOCH_BAN 60"
fixture future
expect "one time stamp in 2037: exit 0, the same ban as the whole burst, nothing skipped" \
	"$RC $(decisions future) $(summary future 'packets skipped') $(summary future '  time stamp in the future')" "0 $SPAM_BAN 0 1"
check "one time stamp in 2037: stderr names packet 10 and the time it ran at" \
	grep -q "future.pcap: packet 10: time stamp in the future (2114380800 s): run at the previous packet's time, 2026-11-26T06:24:10.264Z" \
	"$WORK/future.err"
fixture truncated
expect "a file cut mid-packet: exit status 0, the ban before the cut stands" \
	"$RC $(decisions truncated)" "0 $SPAM_BAN"
check "a file cut mid-packet: stderr names the file and packet 45" \
	grep -q 'truncated.pcap: packet 45 skipped, cut off' "$WORK/truncated.err"
expect "a file cut mid-packet: 45 packets read, 44 run, 1 cut off" \
	"$(summary truncated 'packets read') $(summary truncated 'packets run') $(summary truncated '  cut off or unreadable record')" "45 44 1"
fixture garbage
expect "a file that is no capture: exit status 1 and nothing on stdout" "$RC:$(cat "$WORK/garbage.out")" "1:"
check "a file that is no capture: the error names the file" \
	grep -q "garbage.pcap: not a pcap or pcapng capture" "$WORK/garbage.err"
replay mixed --replay "$FIXTURES/spam.pcap" --replay "$FIXTURES/garbage.pcap" \
	--replay "$FIXTURES/ipv6.pcap"
expect "a bad file among good ones: exit 1, the good ones still replayed" \
	"$RC $(decisions mixed '.source' | tr '\n' ' ')$(summary mixed 'files read')/$(summary mixed 'files not read')" \
	'1 10.0.0.5 fd00:5::/64 2/1'

# Several files are one stream: given in the wrong order, the older one is out of order.
replay reversed --replay "$FIXTURES/ipv6.pcap" --replay "$FIXTURES/spam.pcap"
expect "files replay as one stream: the day-older file after the newer is skipped as out of order" \
	"$(decisions reversed '.source')|$(summary reversed '  out of order')" 'fd00:5::/64|60'

# Determinism.
replay again --replay "$FIXTURES/ladder.pcap"
check "the same capture twice gives byte-identical output" cmp -s "$WORK/ladder.out" "$WORK/again.out"
replay mixed-again --replay "$FIXTURES/spam.pcap" --replay "$FIXTURES/garbage.pcap" \
	--replay "$FIXTURES/ipv6.pcap"
check "several files twice give byte-identical output" cmp -s "$WORK/mixed.out" "$WORK/mixed-again.out"

# Standard input.
TMPDIR=$WORK/tmp ip netns exec "$REPLAY_NS" "$BUILD/abuseguardd" -c "$POLICY" --replay - \
	<"$FIXTURES/spam.pcap" >"$WORK/stdin.out" 2>"$WORK/stdin.err"
expect "cat FILE | abuseguardd --replay - gives the same decision" "$(decisions stdin)" "$SPAM_BAN"
check "standard input is named (stdin) in the decision" \
	test "$(decisions stdin .file)" == '(stdin)'

# The policy is the real one: thresholds, mode and allowlist apply.
sed -e 's/smtp_attempts = 30;/smtp_attempts = 50;/' "$POLICY" >"$WORK/fifty.conf"
REPLAY_POLICY=$WORK/fifty.conf fixture spam
expect "a policy with 50 attempts bans at the 50th SYN" \
	"$(decisions spam '[.packet, .attempts, .action] | join(" ")')" "50 50 ban"
sed -e 's/^mode = "enforce";/mode = "observe";/' "$POLICY" >"$WORK/observe.conf"
REPLAY_POLICY=$WORK/observe.conf fixture ladder
expect "observe mode: three alerts, all on rung 1 (no ban, so no climb), no ban" \
	"$(decisions ladder '[.action, .why, .level] | join(" ")' | sort | uniq -c | tr -s ' ')|$(summary ladder 'decisions: ban')" \
	" 3 alert observe mode 1|0"
sed -e 's/^allowlist = \[ \];/allowlist = [ "10.0.0.0\/24" ];/' "$POLICY" >"$WORK/allow.conf"
REPLAY_POLICY=$WORK/allow.conf fixture spam
expect "an allowlisted source: the finding is printed and ignored" \
	"$(decisions spam '[.source, .action, .why] | join(" ")')" "10.0.0.5 ignore allowlisted"

# No production store and no nftables.
sed -e "s|^state_dir = .*|state_dir = \"$WORK/production-state\";|" "$POLICY" >"$WORK/state.conf"
REPLAY_POLICY=$WORK/state.conf fixture ladder
refute "replay creates nothing in the policy's state_dir" test -e "$WORK/production-state"
check "replay leaves no scratch store behind in TMPDIR" test -z "$(ls -A "$WORK/tmp")"

# The maps have the policy's sizes, as live; replay's grow as entries come. A
# capture with more scanning sources than limits.max_sources fills the scan
# map: past it new sources are not tracked (live evicts the least recently
# seen), and the replay says so.
sed -e 's/max_sources = [0-9]*;/max_sources = 1024;/' "$POLICY" >"$WORK/small.conf"
"$BUILD/bench/make_pcap" --packets 50000 --sources 5000 --bursts 1 "$FIXTURES/many.pcap" >/dev/null
REPLAY_POLICY=$WORK/small.conf fixture many
expect "5000 sources, limits.max_sources 1024: exit 0, 1024 first contacts tracked, 1 map filled up on the summary" \
	"$RC $(summary many 'first contacts (XDP)') $(summary many 'XDP maps that filled up (see the log)')" "0 1024 1"
check "5000 sources, limits.max_sources 1024: stderr names the map and its limit" \
	grep -q 'the sources (scan) map filled up (limits.max_sources = 1024)' "$WORK/many.err"
expect "a replay within the limits has no such row" "$(grep -c 'filled up' "$WORK/spam.out")" 0

# Batches: one test run for many frames (the default, --replay-batch) decides
# exactly as one test run per packet (--replay-batch 1): the same lines, the
# same packet numbers, the same summary. The fixtures that take each path of
# the batches: both directions (sll, scan), learning frames that stop a batch
# (learned), forged sources, the HTTP path beside the program's events
# (crawl), the clock's sweeps (scan), several files, skipped packets.
# one_by_one_same_as NAME ARGS...: replays ARGS one by one (--replay-batch 1)
# and compares with $WORK/NAME.out, the replay NAME in batches made before;
# 0 if they are byte-identical.
one_by_one_same_as() {
	local name=$1
	shift
	replay "$name-1" --replay-batch 1 "$@"
	if cmp -s "$WORK/$name-1.out" "$WORK/$name.out"; then
		BATCH_SAME=$((BATCH_SAME + 1))
		return 0
	fi
	BATCH_DIFFERENT="$BATCH_DIFFERENT $name"
	diff "$WORK/$name-1.out" "$WORK/$name.out" | head -n 20
	return 1
}
# same_as_one_by_one NAME [--replay-batch N] ARGS...: replays ARGS in batches
# (the default, or N), then one by one; 0 if the outputs are byte-identical.
same_as_one_by_one() {
	local name=$1 batch=()
	shift
	if [ "$1" == --replay-batch ]; then
		batch=("$1" "$2")
		shift 2
	fi
	replay "$name" "${batch[@]}" "$@"
	one_by_one_same_as "$name" "$@"
}
BATCH_SAME=0 BATCH_DIFFERENT=
BATCH_CASES=0
# The fixtures' replays above ran in batches, on the default policy.
for name in spam-sll scan reply-long learned crawl truncated; do
	BATCH_CASES=$((BATCH_CASES + 1))
	one_by_one_same_as "$name" --replay "$FIXTURES/$name.pcap"
done
for name in scan learned crawl; do
	BATCH_CASES=$((BATCH_CASES + 1))
	same_as_one_by_one "batch7-$name" --replay-batch 7 --replay "$FIXTURES/$name.pcap"
done
REPLAY_POLICY=$WORK/two.conf same_as_one_by_one batch-forged --replay-interface tap-a \
	--replay "$FIXTURES/forged.pcap"
REPLAY_POLICY=$WORK/two.conf same_as_one_by_one batch-two-vms --replay-interface 2=tap-a \
	--replay-interface 3=tap-b --replay "$FIXTURES/two-vms-sll2.pcap"
REPLAY_POLICY=$WORK/two.conf same_as_one_by_one batch-two-vms-pcapng \
	--replay "$FIXTURES/two-vms.pcapng"
same_as_one_by_one batch-several --replay "$FIXTURES/spam.pcap" --replay "$FIXTURES/ipv6.pcap" \
	--replay "$FIXTURES/ladder.pcap"
BATCH_CASES=$((BATCH_CASES + 4))
expect "$BATCH_CASES replays give byte-identical output in batches (default, and 7) and one by one" \
	"$BATCH_SAME${BATCH_DIFFERENT:+ (differ:$BATCH_DIFFERENT)}" "$BATCH_CASES"
# From the outside: the scan fixture's 1278 packets took a handful of test runs, not one each.
test_runs() {
	TMPDIR=$WORK/tmp ip netns exec "$REPLAY_NS" strace -f -qq -e trace=bpf -o "$WORK/strace.$1" \
		"$BUILD/abuseguardd" -c "$POLICY" "$@" --replay "$FIXTURES/scan.pcap" >/dev/null 2>&1
	grep -c BPF_PROG_TEST_RUN "$WORK/strace.$1"
}
RUNS_ONE=$(test_runs --replay-batch=1)
RUNS_BATCH=$(test_runs --replay-batch=4096)
check "the scan fixture takes a test run per packet one by one ($RUNS_ONE), under 100 in batches ($RUNS_BATCH)" \
	test "$RUNS_ONE" -ge 1278 -a "$RUNS_BATCH" -lt 100
replay batch-zero --replay-batch 0 --replay "$FIXTURES/spam.pcap"
expect "--replay-batch 0 is refused (exit 64), naming the argument" \
	"$RC $(grep -c -- '--replay-batch 0' "$WORK/batch-zero.err")" "64 1"
replay batch-huge --replay-batch 16385 --replay "$FIXTURES/spam.pcap"
expect "--replay-batch past 16384 is refused (exit 64)" "$RC" 64

# Live versus replay: the lab's traffic captured by tcpdump in the hypervisor
# (tcpdump 4.99 writes Linux cooked v2 on "any" by default; v1 on request).
lab_setup || { not_ok "lab namespaces could not be created"; exit 1; }
lab_servers || { not_ok "SMTP sink and web server start in net"; exit 1; }
declare -A TCPDUMP
tcpdump_start() {
	local name=$1; shift
	# Not through in_hv: $! must be tcpdump itself. Bounded by -c. Without
	# --immediate-mode, libpcap holds packets in its ring for up to a second
	# and tcpdump, interrupted, drops them; with it, each ring slot takes a
	# whole snap length, so a small one (headers and then some) and a large
	# buffer keep the kernel from dropping packets of the burst.
	ip netns exec "$HV" tcpdump -Z root --immediate-mode -U -s 4096 -B 16384 -c 20000 -w "$WORK/$name.pcap" "$@" \
		2>"$WORK/$name.tcpdump" &
	TCPDUMP[$name]=$!
}
tcpdump_start live-ethernet -i agvm0
tcpdump_start live-sll -i any -y LINUX_SLL
tcpdump_start live-sll2 -i any -y LINUX_SLL2
for _ in $(seq 50); do
	[ "$(cat "$WORK"/live-*.tcpdump | grep -c 'listening on')" -eq 3 ] && break
	sleep 0.1
done
check "tcpdump listens in the hypervisor on agvm0 and on any (cooked v1, v2)" \
	test "$(cat "$WORK"/live-*.tcpdump | grep -c 'listening on')" -eq 3
check "the live daemon starts" daemon_start "$POLICY" "$WORK/state"
mails=0
for _ in 1 2 3; do vm_mail && mails=$((mails + 1)); done
check "the VM sends 3 honest mails" test "$mails" -eq 3
vm_smtp_burst 60 8 &
burst=$!
check "the live daemon bans the burst" \
	wait_for_bans '.bans[] | select(.source == "10.0.0.5" and .scope == "smtp")' 5000
LIVE=$(ctl --json bans | jq -c '.bans[0] | {source, scope, level, duration_s}')
LIVE_STARTED=$(ctl --json bans | jq -r '.bans[0].started | fromdate')
burst_stop "$burst"
sleep 0.5
for name in "${!TCPDUMP[@]}"; do
	kill -INT "${TCPDUMP[$name]}" 2>/dev/null
	wait "${TCPDUMP[$name]}" 2>/dev/null
done
daemon_stop TERM

# The cooked v2 capture names agvm0 by its index in the hypervisor.
AGVM0_INDEX=$(in_hv cat /sys/class/net/agvm0/ifindex)
for name in live-ethernet live-sll live-sll2; do
	check "$name: tcpdump dropped no packet" grep -q '^0 packets dropped by kernel' "$WORK/$name.tcpdump"
	replay "$name" --replay-interface agvm0 --replay-interface "$AGVM0_INDEX=agvm0" \
		--replay "$WORK/$name.pcap"
	expect "$name: tcpdump's capture replays with exit status 0" "$RC" 0
	expect "$name: replay bans what the live daemon banned ($LIVE)" \
		"$(decisions "$name" 'select(.action == "ban") | {source, scope, level, duration_s}')" \
		"$LIVE"
	expect "$name: the ban names the VM's interface, agvm0" \
		"$(decisions "$name" 'select(.action == "ban") | .interface')" agvm0
	# For the log: what replay made of the capture, when it is not the live ban.
	grep -q '"action":"ban"' "$WORK/$name.out" ||
		cat "$WORK/$name.tcpdump" "$WORK/$name.out" "$WORK/$name.err"
	check "$name: in batches and one by one the replay's output is byte-identical" \
		one_by_one_same_as "$name" --replay-interface agvm0 \
		--replay-interface "$AGVM0_INDEX=agvm0" --replay "$WORK/$name.pcap"
	replay_time=$(decisions "$name" 'select(.action == "ban") | .time[0:19] + "Z" | fromdate')
	check "$name: replay's ban time is within 2 s of the live ban's" \
		test "${replay_time:-0}" -ge $((LIVE_STARTED - 2)) -a "${replay_time:-0}" -le $((LIVE_STARTED + 2))
done
check "the cooked v2 capture on any skipped the uplink's packets (no VM-facing interface)" \
	test "$(summary live-sll2 '  on no VM-facing interface')" -gt 0

check "after every replay the replay namespace still has no nftables table" \
	test -z "$(ip netns exec "$REPLAY_NS" nft list tables)"
exit 0
