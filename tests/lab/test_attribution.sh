#!/usr/bin/env bash
# Attribution, the userspace half: a VM forging addresses no VM can own
# (loopback, the hypervisor's own uplink) gets none of them banned and the
# host keeps its mail; abusectl vm set / vms configure and show a VM's
# addresses, refuse what no VM may hold, and the setting survives a restart.
. "$(dirname "$0")/lib.sh"
lab_begin "$@"
POLICY=$PWD/policy/abuseguard.conf
STATE=$WORK/state

# forged_burst SOURCE: 60 SMTP SYNs from the vm claiming SOURCE, about 0.3 s.
forged_burst() { vm_forged_syns "$1" 10.0.1.2 60; }
hv_reaches_smtp() { in_hv timeout 2 bash -c 'exec 3<>/dev/tcp/10.0.1.2/25' 2>/dev/null; }

check "daemon starts on the default policy" daemon_start "$POLICY" "$STATE"
check "status counts the hypervisor's own addresses" status_match '.counters.host_addresses >= 4'
check "before the forged bursts the hypervisor reaches SMTP in net" hv_reaches_smtp

forged_burst 127.0.0.1
check "a burst forging 127.0.0.1 is seen and ignored as never bannable" \
	wait_for_status '.counters.findings == 1 and .counters.never_bannable == 1' 5000
forged_burst 10.0.1.1
check "a burst forging the hypervisor's uplink 10.0.1.1 is seen and ignored" \
	wait_for_status '.counters.findings == 2 and .counters.never_bannable == 2' 5000
check "nothing is banned" bans_match '.bans == []'
refute "the kernel set holds no forged address" kernel_set_has ban4_smtp '10.0.1.1\|127.0.0.1'
check "the hypervisor still reaches SMTP in net" hv_reaches_smtp

# The operator tells the daemon which addresses belong to the VM.
check "vm set configures agvm0 with an IPv4 address and an IPv6 /64" \
	ctl vm set agvm0 --address 10.0.0.5 --address fd00:5::/64 --name vm1 --customer C-1 \
	--reason "provisioned"
check "vms lists both addresses with origin operator, name and customer" \
	bash -c "ctl() { '$BUILD/abusectl' -s '$WORK/control.sock' \"\$@\"; }
		ctl --json vms | jq -e '[.vms[] | select(.interface == \"agvm0\" and .name == \"vm1\"
			and .customer == \"C-1\") | .addresses[] | select(.origin == \"operator\")
			| .address] == [\"10.0.0.5/32\", \"fd00:5::/64\"]' >/dev/null"
check "abusectl vms prints a table for people" \
	bash -c "'$BUILD/abusectl' -s '$WORK/control.sock' vms | grep -E '^agvm0 +- +vm1 +C-1 +10\.0\.0\.5/32 +operator'"
check "vm set of agvm0's address on another interface is refused, naming agvm0" \
	bash -c "'$BUILD/abusectl' -s '$WORK/control.sock' vm set agvm9 --address 10.0.0.5 \
		--reason x 2>&1 | grep -q 'configured on interface agvm0'"
refute "vm set of 127.0.0.1 is refused" ctl vm set agvm9 --address 127.0.0.1 --reason x
refute "vm set of the hypervisor's uplink address is refused" \
	ctl vm set agvm9 --address 10.0.1.1 --reason x
refute "vm set without a reason is refused" ctl vm set agvm9 --address 10.0.0.9
check "the refusals left the registry as it was" \
	bash -c "'$BUILD/abusectl' -s '$WORK/control.sock' --json vms | jq -e '[.vms[].interface] == [\"agvm0\"]' >/dev/null"
check "the change is in the audit trail with its reason" \
	bash -c "sqlite3 '$STATE/abuseguard.db' \"SELECT action, subject, reason FROM audit\" | grep -q '^vm set|agvm0|provisioned$'"

daemon_stop TERM
check "the daemon restarts on the same state" daemon_start "$POLICY" "$STATE"
check "after the restart agvm0 still has its addresses" \
	bash -c "'$BUILD/abusectl' -s '$WORK/control.sock' --json vms | jq -e '.vms[] | select(.interface == \"agvm0\") | .addresses | length == 2' >/dev/null"
daemon_stop TERM
exit 0
