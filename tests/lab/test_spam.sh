#!/usr/bin/env bash
# The foundation, end to end: a VM's SMTP burst is banned for port 25 by the
# real daemon (XDP on the vm-facing veth, nftables in the hypervisor) while
# its web traffic flows; abusectl lifts the ban; the ladder climbs; bans
# survive restarts and crashes and expire on time in the kernel.
. "$(dirname "$0")/lib.sh"
lab_begin "$@"
POLICY=$PWD/policy/abuseguard.conf
STATE=$WORK/state

check "daemon starts on the default policy and attaches to the vm-facing interface" \
	daemon_start "$POLICY" "$STATE"
check "status lists agvm0 as attached" status_match '.interfaces[] | select(.name == "agvm0")'

# A VM that starts after the daemon: its interface is attached as it appears.
ip link add agvm1 netns "$HV" type veth peer name eth1 netns "$VM"
ip -n "$HV" link set agvm1 up
check "an interface that appears after start is attached within 2 s" \
	wait_for_status '.interfaces[] | select(.name == "agvm1")'
check "the kernel shows the XDP program on the new interface" \
	bash -c "ip -n $HV link show agvm1 | grep -q 'prog/xdp'"
ip -n "$HV" link del agvm1
check "a removed interface leaves the status" \
	wait_for_status '[.interfaces[] | select(.name == "agvm1")] == []'
refute "an interface outside the patterns is not attached" \
	bash -c "ip -n $HV link show hvnet0 | grep -q 'prog/xdp'"

# An honest VM: a handful of mails and web requests are never banned.
mails=0
for _ in 1 2 3 4 5; do vm_mail && mails=$((mails + 1)); done
check "an honest VM delivers 5 mails" test "$mails" -eq 5
check "an honest VM fetches a web page" in_vm curl -sf --max-time 5 http://10.0.1.2/ -o /dev/null
sleep 0.5
check "a handful of mails bans nobody" bans_match '.bans == []'

# A spam burst.
vm_smtp_burst 60 8 &
burst=$!
if wait_for_bans '.bans[] | select(.source == "10.0.0.5" and .scope == "smtp" and .level == 1 and .duration_s == 3600)' 5000; then
	ms=$WAITED_MS
	ok "an SMTP burst is banned: 10.0.0.5, scope smtp, level 1, 1 hour (after ${ms} ms)"
	check "the ban came within one second of the burst starting (${ms} ms)" test "$ms" -lt 1000
else
	not_ok "an SMTP burst is banned: 10.0.0.5, scope smtp, level 1, 1 hour"
fi
burst_stop "$burst"
check "the kernel set ban4_smtp holds 10.0.0.5" kernel_set_has ban4_smtp 10.0.0.5
refute "the banned VM cannot open SMTP connections" vm_connects 10.0.1.2 25
check "the banned VM's web traffic still flows" in_vm curl -sf --max-time 5 http://10.0.1.2/ -o /dev/null
check "abusectl bans shows the ban for people" bash -c "'$BUILD/abusectl' -s '$WORK/control.sock' bans | grep -E '10\.0\.0\.5 +smtp +spam +1 +1h'"

check "abusectl unban lifts the ban" ctl unban 10.0.0.5 --reason "customer fixed the open relay"
check "after the lift the VM delivers mail again" vm_mail
check "after the lift no ban is listed" bans_match '.bans == []'
check "unban of a source without a ban says so" bash -c "'$BUILD/abusectl' -s '$WORK/control.sock' unban 10.0.0.5 --reason again 2>&1 | grep -q 'no active ban'"
refute "unban of a source without a ban exits non-zero" ctl unban 10.0.0.5 --reason again

# A repeat soon after the lift climbs to the next rung.
vm_smtp_burst 60 8 &
burst=$!
check "a second burst after the lift gets the 1-week rung" \
	wait_for_bans '.bans[] | select(.source == "10.0.0.5" and .level == 2 and .duration_s == 604800)' 5000
burst_stop "$burst"

# A clean stop leaves bans in the kernel; a restart keeps history.
daemon_stop TERM
check "with the daemon stopped, the ban stays in the kernel" kernel_set_has ban4_smtp 10.0.0.5
refute "with the daemon stopped, SMTP from the VM stays blocked" vm_connects 10.0.1.2 25
check "the daemon restarts on the same state" daemon_start "$POLICY" "$STATE"
check "after the restart the level-2 ban is still listed" \
	wait_for_bans '.bans[] | select(.source == "10.0.0.5" and .level == 2)' 2000
refute "after the restart the kernel still drops SMTP from the VM" vm_connects 10.0.1.2 25

# Another program flushes the whole ruleset, as nftables.service does when it restarts.
in_hv nft flush ruleset
refute "after 'nft flush ruleset' the table is gone" kernel_set_has ban4_smtp 10.0.0.5
check "within 6 s the daemon restores the table and the ban from its store" \
	wait_until 6000 kernel_set_has ban4_smtp 10.0.0.5
check "status counts the restore" status_match '.counters.nft_restores == 1'
check "the restored kernel element has about a week left" \
	bash -c "ip netns exec $HV nft list set inet abuseguard ban4_smtp | grep -q 'expires 6d23h'"
refute "after the restore SMTP from the VM is dropped again" vm_connects 10.0.1.2 25
check "after the restore the ban keeps its level and about a week left" \
	bans_match '.bans[] | select(.source == "10.0.0.5" and .level == 2 and .remaining_s > 604000)'
# IPv6: the ban covers the VM's whole /64.
ip -n "$VM" addr add fd00:5::6/64 dev eth0 nodad
check "before the IPv6 burst, fd00:5::6 reaches SMTP over IPv6" vm_connects_from fd00:5::6 fd00:1::2 25
vm_smtp_burst 60 8 '[fd00:1::2]:25' &
burst=$!
check "an IPv6 SMTP burst bans the source's /64" \
	wait_for_bans '.bans[] | select(.source == "fd00:5::/64" and .scope == "smtp" and .level == 1)' 5000
burst_stop "$burst"
check "the kernel set ban6_smtp holds fd00:5::" kernel_set_has ban6_smtp 'fd00:5::'
refute "the banned /64 cannot open SMTP connections over IPv6" vm_connects fd00:1::2 25
refute "another address in the same /64 is blocked too" vm_connects_from fd00:5::6 fd00:1::2 25
check "the VM's IPv4 ban stays as it was" \
	bans_match '[.bans[] | select(.source == "10.0.0.5")] | length == 1'

daemon_stop TERM
refute "no XDP program is left on agvm0 after a clean stop" \
	bash -c "ip -n $HV link show agvm0 | grep -q xdp"

# A fresh store knows no bans: reconcile removes what it does not know and
# the daemon did not tag (its own tagged bans are adopted: see test_faults.sh).
# Then a short ladder, a crash (kill -9), and the kernel expiring the ban on time.
in_hv nft flush set inet abuseguard ban4_smtp
in_hv nft flush set inet abuseguard ban6_smtp
in_hv nft add element inet abuseguard ban4_smtp '{ 10.0.0.5 timeout 1h }'
sed -e 's/{ ban = "1h"; }/{ ban = "4s"; }/' -e 's/max_interfaces = 4096;/max_interfaces = 1;/' \
	"$POLICY" >"$WORK/short.conf"
check "the daemon starts with a short ladder and a fresh store" daemon_start "$WORK/short.conf" "$WORK/state2"
refute "reconcile with a fresh store removed the old ban from the kernel" \
	kernel_set_has ban4_smtp 10.0.0.5
ip link add agvm2 netns "$HV" type veth peer name eth2 netns "$VM"
check "past limits.max_interfaces (1) a new interface is refused and counted" \
	wait_for_status '.counters.interfaces_refused == 1'
refute "the refused interface carries no XDP program" \
	bash -c "ip -n $HV link show agvm2 | grep -q 'prog/xdp'"
ip -n "$HV" link del agvm2
vm_smtp_burst 60 8 &
burst=$!
check "a burst is banned on the short ladder's first rung (4 s)" \
	wait_for_bans '.bans[] | select(.source == "10.0.0.5" and .duration_s == 4)' 5000
burst_stop "$burst"
banned_at=$SECONDS
daemon_stop KILL
check "after kill -9 the ban is still in the kernel" kernel_set_has ban4_smtp 10.0.0.5
while ((SECONDS - banned_at < 6)); do sleep 0.2; done
refute "after kill -9 the kernel expires the ban on time" kernel_set_has ban4_smtp 10.0.0.5
check "after expiry the VM can open SMTP connections again" vm_connects 10.0.1.2 25

# Safe by default: observe mode and the allowlist ban nothing, end to end.
# never_banned WHAT POLICY STATUS_FILTER: the daemon on POLICY sees a burst
# (status satisfies the filter) and bans nothing.
never_banned() {
	local what=$1 policy=$2 filter=$3 burst
	check "$what: the daemon starts" daemon_start "$policy" "$(mktemp -d -p "$WORK")"
	vm_smtp_burst 60 8 &
	burst=$!
	check "$what: the burst is seen ($filter)" wait_until 5000 status_match "$filter"
	burst_stop "$burst"
	check "$what: nothing is banned" bans_match '.bans == []'
	refute "$what: the kernel set stays empty" kernel_set_has ban4_smtp 10.0.0.5
	check "$what: the VM still reaches SMTP" vm_connects 10.0.1.2 25
	daemon_stop TERM
}

sed -e 's/^mode = "enforce";/mode = "observe";/' "$POLICY" >"$WORK/observe.conf"
never_banned "observe mode" "$WORK/observe.conf" '.mode == "observe" and .counters.alerts == 1'
sed -e 's/^allowlist = \[ \];/allowlist = [ "10.0.0.0\/29" ];/' "$POLICY" >"$WORK/allow.conf"
check "the allowlist policy names 10.0.0.0/29" grep -q '^allowlist = \[ "10.0.0.0/29" \];' "$WORK/allow.conf"
never_banned "10.0.0.0/29 allowlisted" "$WORK/allow.conf" \
	'.counters.findings == 1 and .counters.ignored == 1'
exit 0
