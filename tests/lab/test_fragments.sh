#!/usr/bin/env bash
# Evasion by fragments, end to end: a VM whose SYNs to port 25 go out as IP
# fragments of 16 bytes (hping3 -f --mtu 16) is banned for smtp like any
# spammer; first fragments of 8 bytes (RFC 1858's tiny fragments) are counted
# and make an evasion finding against the VM, banned with scope all; so do
# IPv6 first fragments that hold only 8 bytes of their TCP header.
. "$(dirname "$0")/lib.sh"
lab_begin "$@"
POLICY=$PWD/policy/abuseguard.conf

# vm_fragmented_syns MTU COUNT: COUNT SYNs to net's port 25, each split into
# fragments of MTU bytes, 100 a second, bounded by timeout.
vm_fragmented_syns() {
	in_vm timeout 10 hping3 -q -S -p 25 -f --mtu "$1" -c "$2" -i u10000 10.0.1.2 >/dev/null 2>&1
}

# vm_tiny_ipv6_fragments COUNT: COUNT first fragments from fd00:5::5 to net's
# port 25, each holding 8 bytes of TCP (the ports, no flags), written as raw
# frames on the vm's eth0 to agvm0's MAC; the rest never follows.
vm_tiny_ipv6_fragments() {
	local mac
	mac=$(ip -n "$HV" -j link show agvm0 | jq -r '.[0].address')
	in_vm timeout 10 python3 - "$mac" "$1" <<'PY'
import socket, struct, sys, time
mac, count = bytes.fromhex(sys.argv[1].replace(":", "")), int(sys.argv[2])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth0", 0))
own = s.getsockname()[4]
src = socket.inet_pton(socket.AF_INET6, "fd00:5::5")
dst = socket.inet_pton(socket.AF_INET6, "fd00:1::2")
for i in range(count):
    tcp = struct.pack("!HHI", 40000 + i, 25, i)                 # 8 of TCP's 20 bytes
    fragment = struct.pack("!BBHI", 6, 0, 1, 0xab000 + i)       # offset 0, more to come
    ip = struct.pack("!IHBB", 6 << 28, len(fragment) + len(tcp), 44, 64) + src + dst
    s.send(mac + own + b"\x86\xdd" + ip + fragment + tcp)
    time.sleep(0.01)
PY
}

check "daemon starts on the default policy" daemon_start "$POLICY" "$WORK/state"

vm_fragmented_syns 8 40
check "40 SYNs in 8-byte fragments count as tiny fragments, not malformed" \
	wait_for_status '.counters.tiny_fragments >= 40 and .counters.malformed == 0 and .counters.smtp_attempts == 0'
check "the VM sending tiny fragments is banned for evasion with scope all" \
	wait_for_bans '.bans[] | select(.source == "10.0.0.5" and .scope == "all" and .category == "evasion")' 5000
check "tiny fragments are not SMTP attempts: no smtp ban" \
	bans_match '[.bans[] | select(.scope == "smtp")] == []'
check "the finding names the fragments' fields" \
	grep -Eq '\(evasion\): [0-9]+ tiny IPv4 first fragments .* to 10\.0\.1\.2, protocol 6, id 0x[0-9a-f]+, 8 bytes of TCP header' \
	"$WORK/daemon.log"
check "the kernel set ban4_all holds 10.0.0.5" kernel_set_has ban4_all 10.0.0.5
check "the daemon logs the tiny fragments within its 5 s check" \
	wait_until 7000 grep -q 'tiny IP fragments in the last 5 s' "$WORK/daemon.log"
check "abusectl metrics shows the tiny fragments" \
	bash -c "'$BUILD/abusectl' -s '$WORK/control.sock' metrics |
		grep -Eq 'abuseguard_xdp_packets_by_kind_total\{kind=\"tiny_fragment\"\} [1-9]'"
ctl unban 10.0.0.5 --reason "lab: the smtp case next" >/dev/null

vm_fragmented_syns 16 60
check "60 SYNs in 16-byte fragments count as SMTP attempts" \
	wait_for_status '.counters.smtp_attempts >= 60 and .counters.malformed == 0'
check "the fragmenting VM is banned for smtp" \
	wait_for_bans '.bans[] | select(.source == "10.0.0.5" and .scope == "smtp")' 5000
check "the kernel set ban4_smtp holds 10.0.0.5" kernel_set_has ban4_smtp 10.0.0.5

tiny=$(ctl --json status | jq '.counters.tiny_fragments')
vm_tiny_ipv6_fragments 5
check "5 IPv6 first fragments with 8 TCP bytes count as tiny fragments" \
	wait_for_status ".counters.tiny_fragments >= ${tiny:-0} + 5 and .counters.malformed == 0"
check "the VM's /64 is banned for evasion with scope all" \
	wait_for_bans '.bans[] | select(.source == "fd00:5::/64" and .scope == "all" and .category == "evasion")' 5000
check "the IPv6 finding names the fragment's identification" \
	grep -Eq '\(evasion\): [0-9]+ tiny IPv6 first fragments .* to fd00:1::2, protocol 6, id 0xab00[0-9]' \
	"$WORK/daemon.log"
check "the kernel set ban6_all holds fd00:5::" kernel_set_has ban6_all 'fd00:5::'

daemon_stop TERM
exit 0
