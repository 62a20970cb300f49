#!/usr/bin/env bash
# Evasion by fragments, end to end: a VM whose SYNs to port 25 go out as IP
# fragments of 16 bytes (hping3 -f --mtu 16) is banned for smtp like any
# spammer; first fragments of 8 bytes (RFC 1858's tiny fragments) are counted
# and make an evasion finding against the VM, banned with scope all. IPv6
# likewise: SYNs whose first fragment holds 24 of their 40 TCP header bytes
# (the rest in a second, so they reassemble and net answers them) get the
# VM's /64 banned for smtp; first
# fragments that hold only 8 bytes of their TCP header are an evasion finding.
. "$(dirname "$0")/lib.sh"
lab_begin "$@"
POLICY=$PWD/policy/abuseguard.conf

# vm_fragmented_syns MTU COUNT: COUNT SYNs to net's port 25, each split into
# fragments of MTU bytes, 100 a second, bounded by timeout.
vm_fragmented_syns() {
	in_vm timeout 10 hping3 -q -S -p 25 -f --mtu "$1" -c "$2" -i u10000 10.0.1.2 >/dev/null 2>&1
}

# vm_ipv6_fragments TCP_BYTES COUNT [whole]: COUNT SYNs from fd00:5::5 to net's
# port 25 (a 40-byte TCP header, options as Linux sends them), each sent as
# IPv6 fragments whose first holds TCP_BYTES (a multiple of 8) of it; with
# "whole" the rest follows in a second fragment, checksummed: reassembled, a
# real SYN that net answers;
# without it the rest never follows. Raw frames on the vm's eth0 to agvm0's
# MAC, 100 a second, bounded by timeout.
vm_ipv6_fragments() {
	local mac
	mac=$(ip -n "$HV" -j link show agvm0 | jq -r '.[0].address')
	in_vm timeout 10 python3 - "$mac" "$1" "$2" "${3:-}" <<'PY'
import socket, struct, sys, time
mac, first, count = bytes.fromhex(sys.argv[1].replace(":", "")), int(sys.argv[2]), int(sys.argv[3])
whole = sys.argv[4] == "whole"
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth0", 0))
own = s.getsockname()[4]
src = socket.inet_pton(socket.AF_INET6, "fd00:5::5")
dst = socket.inet_pton(socket.AF_INET6, "fd00:1::2")

def checksum(data):
    data += b"\0" * (len(data) % 2)
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF

def frame(fragment, payload):
    ip = struct.pack("!IHBB", 6 << 28, len(fragment) + len(payload), 44, 64) + src + dst
    return mac + own + b"\x86\xdd" + ip + fragment + payload

for i in range(count):
    # Linux's SYN: MSS, SACK permitted, time stamps, window scale (40 bytes in all).
    options = struct.pack("!BBHBBBBIIBBBB", 2, 4, 1440, 4, 2, 8, 10, i, 0, 1, 3, 3, 7)
    tcp = struct.pack("!HHIIBBHHH", 41000 + i, 25, i, 0, 10 << 4, 0x02, 64240, 0, 0) + options
    pseudo = src + dst + struct.pack("!IxxxB", len(tcp), 6)
    tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
    ident = 0xab000 + i if not whole else 0xcd000 + i
    s.send(frame(struct.pack("!BBHI", 6, 0, 1, ident), tcp[:first]))     # offset 0, more
    if whole:
        s.send(frame(struct.pack("!BBHI", 6, 0, first, ident), tcp[first:]))  # the rest
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

# IPv6 likewise: first fragments holding 24 of each SYN's 40 TCP header bytes (its
# fixed 20 and the MSS: RFC 7112 has a receiver drop a first fragment without
# the upper-layer header), the other options in a second fragment.
# net's TCP segments sent (Tcp OutSegs): its SYN-ACKs to the reassembled SYNs.
net_tcp_sent() {
	ip netns exec "$NET" awk '$1 == "Tcp:" { if (n++) { for (i = 2; i <= NF; i++)
		if (name[i] == "OutSegs") print $i } else for (i = 2; i <= NF; i++) name[i] = $i }' \
		/proc/net/snmp
}
attempts=$(ctl --json status | jq '.counters.smtp_attempts')
sent_before=$(net_tcp_sent)
vm_ipv6_fragments 24 60 whole
check "60 IPv6 SYNs in fragments of 24 and 16 TCP header bytes count as SMTP attempts" \
	wait_for_status ".counters.smtp_attempts >= ${attempts:-0} + 60 and .counters.malformed == 0"
answered=$(($(net_tcp_sent) - ${sent_before:-0}))
check "they are real SYNs: net's SMTP server answered the 30 before the ban at least ($answered)" \
	test "$answered" -ge 30
check "the fragmenting IPv6 VM's /64 is banned for smtp" \
	wait_for_bans '.bans[] | select(.source == "fd00:5::/64" and .scope == "smtp" and .category == "spam")' 5000
check "the kernel set ban6_smtp holds fd00:5::" kernel_set_has ban6_smtp 'fd00:5::'

tiny=$(ctl --json status | jq '.counters.tiny_fragments')
vm_ipv6_fragments 8 5
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
