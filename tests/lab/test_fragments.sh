#!/usr/bin/env bash
# Evasion by fragments, end to end: a VM whose SYNs to port 25 go out as IP
# fragments of 16 bytes (hping3 -f --mtu 16) is banned for smtp like any
# spammer; first fragments of 8 bytes (RFC 1858's tiny fragments) are counted.
. "$(dirname "$0")/lib.sh"
lab_begin "$@"
POLICY=$PWD/policy/abuseguard.conf

# vm_fragmented_syns MTU COUNT: COUNT SYNs to net's port 25, each split into
# fragments of MTU bytes, 100 a second, bounded by timeout.
vm_fragmented_syns() {
	in_vm timeout 10 hping3 -q -S -p 25 -f --mtu "$1" -c "$2" -i u10000 10.0.1.2 >/dev/null 2>&1
}

check "daemon starts on the default policy" daemon_start "$POLICY" "$WORK/state"

vm_fragmented_syns 8 40
check "40 SYNs in 8-byte fragments count as tiny fragments, not malformed" \
	wait_for_status '.counters.tiny_fragments >= 40 and .counters.malformed == 0 and .counters.smtp_attempts == 0'
check "tiny fragments are not SMTP attempts: nobody is banned" bans_match '.bans == []'
check "the daemon logs the tiny fragments within its 5 s check" \
	wait_until 7000 grep -q 'tiny IP fragments in the last 5 s' "$WORK/daemon.log"
check "abusectl metrics shows the tiny fragments" \
	bash -c "'$BUILD/abusectl' -s '$WORK/control.sock' metrics |
		grep -Eq 'abuseguard_xdp_packets_by_kind_total\{kind=\"tiny_fragment\"\} [1-9]'"

vm_fragmented_syns 16 60
check "60 SYNs in 16-byte fragments count as SMTP attempts" \
	wait_for_status '.counters.smtp_attempts >= 60 and .counters.malformed == 0'
check "the fragmenting VM is banned for smtp" \
	wait_for_bans '.bans[] | select(.source == "10.0.0.5" and .scope == "smtp")' 5000
check "the kernel set ban4_smtp holds 10.0.0.5" kernel_set_has ban4_smtp 10.0.0.5
daemon_stop TERM
exit 0
