#!/usr/bin/env bash
# Scans, end to end, with real tools: the daemon's XDP and tc egress programs
# on the vm-facing veth judge each first contact by its outcome. nmap SYN,
# connect, UDP, IPv6 SYN and slow scans, a ping sweep of dark routed space,
# an ARP sweep of a dark part of the VM's own subnet and masscan at a bounded
# rate are each banned with scope "all", while an always_allow destination
# stays reachable. The honest patterns (monitoring, fan-out, P2P-like UDP, a
# backup job, a resolver, a web server and a UDP service answering thousands
# of clients, ARP for the gateway and a few neighbours) are never banned, nor
# is a monitoring VM whose checks all fail in an upstream outage (the link to
# net lost, or the route to it gone), or whose hosts, known to answer, fall
# silent in a partial one. A tcpdump capture of a live scan replays to the
# live ban. Every generator is bounded in probes
# and time; all traffic stays inside the lab's namespaces.
. "$(dirname "$0")/lib.sh"
lab_begin "$@"

# net answers on 10.0.2.1-40 and fd00:2::1-20 (lo), keeps 10.0.3.53 as the
# provider's always-allowed resolver, and drops 10.0.9.0/24 silently (dark,
# but routed).
for i in $(seq 40); do ip -n "$NET" addr add "10.0.2.$i/32" dev lo; done
for i in $(seq 20); do ip -n "$NET" addr add "fd00:2::$i/128" dev lo nodad; done
ip -n "$NET" addr add 10.0.3.53/32 dev lo
ip -n "$NET" route add blackhole 10.0.9.0/24
ip -n "$HV" route add 10.0.2.0/24 via 10.0.1.2
ip -n "$HV" route add 10.0.3.0/24 via 10.0.1.2
ip -n "$HV" route add 10.0.9.0/24 via 10.0.1.2
ip -n "$HV" -6 route add fd00:2::/64 via fd00:1::2
ip netns exec "$NET" smtp-sink -u nobody -c 10.0.3.53:25 64 >"$WORK/resolver.log" 2>&1 &
# A web server on every address, and 40 UDP peers that answer, each on its own port.
(cd "$WORK/www" && exec ip netns exec "$NET" python3 -m http.server --bind :: 8080) \
	>"$WORK/http8080.log" 2>&1 &
ip netns exec "$NET" timeout 300 python3 -c '
import select, socket
socks = []
for i in range(1, 41):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("10.0.2.%d" % i, 40000 + i))
    socks.append(s)
while True:
    for s in select.select(socks, [], [])[0]:
        data, peer = s.recvfrom(2048)
        s.sendto(data, peer)
' >"$WORK/udp-peers.log" 2>&1 &
check "net's web server answers on every address" \
	wait_until 15000 in_net bash -c 'exec 3<>/dev/tcp/10.0.2.40/8080 && exec 4<>/dev/tcp/fd00:2::20/8080'

POLICY=$WORK/scan.conf
sed -e 's|^always_allow = \[ \];|always_allow = [ "10.0.3.53" ];|' policy/abuseguard.conf >"$POLICY"
check "the policy names 10.0.3.53 in always_allow" grep -q '"10.0.3.53"' "$POLICY"
check "the daemon starts and attaches XDP and tc egress to agvm0" daemon_start "$POLICY" "$WORK/state"
# The rest of the internet keeps talking to the host's VMs, as on any host
# whose upstream works: net pings the VM twice a second, bounded in time.
ip netns exec "$NET" ping -q -i 0.5 -w 900 10.0.0.5 >/dev/null 2>&1 &
check "status shows the tc egress program on agvm0" \
	status_match '.interfaces[] | select(.name == "agvm0" and .tc_mode != "none")'

# The honest patterns, for real.
in_vm timeout 30 bash -c '
for round in 1 2 3; do
	for i in $(seq 20); do exec 3<>/dev/tcp/10.0.2.$i/8080 && exec 3>&-; done
	sleep 1
done' 2>/dev/null
check "a monitoring loop (3 rounds over 20 answering hosts) is never banned" bans_match '.bans == []'
in_vm timeout 30 bash -c '
for i in $(seq 40); do
	exec 3<>/dev/tcp/10.0.2.$i/8080 && printf "GET / HTTP/1.0\r\n\r\n" >&3 && cat <&3 >/dev/null
	exec 3>&-
done' 2>/dev/null
check "a fan-out to 40 answering web servers is never banned" bans_match '.bans == []'
HONEST_AT=$SECONDS # when 10.0.2.1-40 port 8080 last answered the VM
check "P2P-like UDP: 40 peers, each on its own port, all answer" in_vm timeout 20 python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
answered = 0
for i in range(1, 41):
    s.sendto(b"ping", ("10.0.2.%d" % i, 40000 + i))
    try:
        s.recvfrom(2048)
        answered += 1
    except socket.timeout:
        pass
sys.exit(0 if answered == 40 else 1)'
check "P2P-like UDP to 40 answering peers is never banned" bans_match '.bans == []'
in_vm timeout 30 bash -c 'for i in $(seq 200); do exec 3<>/dev/tcp/10.0.2.1/8080 && exec 3>&-; done' 2>/dev/null
sleep 1
check "a backup job's 200 connections to one host are never banned" bans_match '.bans == []'
check "status counts the answered first contacts" status_match '.counters.scan_answered >= 60'
check "a resolver: 300 queries to 3 upstream servers, each from a port of its own, all answered" \
	in_vm timeout 20 python3 -c '
import socket, sys
answered = 0
for n in range(300):
    i = n % 3 + 1
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1)
    s.sendto(b"query", ("10.0.2.%d" % i, 40000 + i))
    try:
        s.recvfrom(2048)
        answered += 1
    except socket.timeout:
        pass
    s.close()
sys.exit(0 if answered == 300 else 1)'
check "a resolver talking to 3 upstream servers is never banned" bans_match '.bans == []'
# A web server and a UDP service in the VM answering net's clients: 2000
# connections and 1000 datagrams from 40 addresses and many ports. What the
# VM sends back answers flows others began: no first contacts of its own.
probes=$(ctl --json status | jq '.counters.scan_probes')
in_vm timeout 60 python3 -c '
import select, socket
tcp = socket.socket()
tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
tcp.bind(("10.0.0.5", 8000))
tcp.listen(512)
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind(("10.0.0.5", 5300))
while True:
    for s in select.select([tcp, udp], [], [])[0]:
        if s is tcp:
            c, _ = tcp.accept()
            c.sendall(b"HTTP/1.0 200 OK\r\n\r\nhello\n")
            c.close()
        else:
            data, peer = udp.recvfrom(2048)
            udp.sendto(data, peer)
' >"$WORK/vm-server.log" 2>&1 &
wait_until 5000 in_net bash -c 'exec 3<>/dev/tcp/10.0.0.5/8000'
check "net's 2000 clients from 40 addresses are each answered by the VM's web server" \
	in_net timeout 60 python3 -c '
import socket, sys
answered = 0
for n in range(2000):
    s = socket.create_connection(("10.0.0.5", 8000), timeout=2,
                                 source_address=("10.0.2.%d" % (n % 40 + 1), 0))
    if s.recv(64).startswith(b"HTTP/1.0 200"):
        answered += 1
    s.close()
sys.exit(0 if answered == 2000 else 1)'
check "net's 1000 datagrams from 40 addresses and 1000 ports are each answered by the VM" \
	in_net timeout 60 python3 -c '
import socket, sys
answered = 0
for n in range(1000):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("10.0.2.%d" % (n % 40 + 1), 0))
    s.settimeout(1)
    s.sendto(b"ask", ("10.0.0.5", 5300))
    try:
        if s.recvfrom(64)[0] == b"ask":
            answered += 1
    except socket.timeout:
        pass
    s.close()
sys.exit(0 if answered == 1000 else 1)'
check "the VM answering 3000 of net's clients sent no first contact of its own" \
	status_match ".counters.scan_probes <= ${probes:-0} + 5"
check "a web server answering thousands of clients is never banned" bans_match '.bans == []'
# An upstream outage: everything to and from net is lost on the host. A
# monitoring VM checks 20 hosts (on a port not asked before in the window)
# and nothing answers; the probes time out, and nothing from beyond the host
# came back to any VM since they went out: no verdict.
counter() { ctl --json status | jq ".counters.$1"; }
# monitor_checks PORT [HOSTS]: a connection to 10.0.2.1-HOSTS (20) on PORT,
# all at once, given up after 1.5 s.
monitor_checks() {
	in_vm timeout 10 python3 -c '
import socket, sys, time
socks = []
for i in range(1, int(sys.argv[2]) + 1):
    s = socket.socket()
    s.setblocking(False)
    try:
        s.connect(("10.0.2.%d" % i, int(sys.argv[1])))
    except OSError:
        pass
    socks.append(s)
time.sleep(1.5)' "$1" "${2:-20}"
}
no_upstream=$(counter scan_no_upstream) timeouts=$(counter scan_timeouts)
check "status shows IPv4 from beyond the host came toward a VM within the last 5 s" \
	status_match '.upstream.ipv4_ms_ago != null and .upstream.ipv4_ms_ago < 5000'
in_hv nft add table inet lab_outage
lab_at_exit "ip netns exec $HV nft delete table inet lab_outage 2>/dev/null"
in_hv nft add chain inet lab_outage forward '{ type filter hook forward priority -10; }'
in_hv nft add rule inet lab_outage forward iifname hvnet0 drop
in_hv nft add rule inet lab_outage forward oifname hvnet0 drop
monitor_checks 8081
check "outage: the 20 checks that time out are no verdict (scan_no_upstream)" \
	wait_for_status ".counters.scan_no_upstream >= ${no_upstream:-0} + 20" 10000
check "outage: none of them counted as a failure" \
	status_match ".counters.scan_timeouts == ${timeouts:-0}"
check "a monitoring VM whose checks all fail in an upstream outage is never banned" \
	bans_match '.bans == []'
check "status shows nothing came from beyond the host for seconds" \
	status_match '.upstream.ipv4_ms_ago > 5000'
check "the daemon says in its log that the probes are held, as in an upstream outage" \
	wait_until 6000 grep -q 'no verdict, as in an upstream outage' "$WORK/daemon.log"
in_hv nft delete table inet lab_outage
check "once net's traffic comes back, the daemon says timeouts count again" \
	wait_until 11000 grep -q 'comes back to the VMs again: timeouts count as failures again' \
	"$WORK/daemon.log"
# The route to net's hosts gone: the host's router answers each check with
# "network unreachable". It sends five at once, then one a second (the
# kernel's limit for route errors, host-wide: left alone), so five checks,
# which counted as rejections would be a scan.
no_route=$(counter scan_no_route)
in_hv sysctl -qw net.ipv4.icmp_ratelimit=0
in_hv ip route del 10.0.2.0/24 via 10.0.1.2
monitor_checks 8082 5
check "route lost: the router's 5 net unreachables are no verdict (scan_no_route)" \
	wait_for_status ".counters.scan_no_route >= ${no_route:-0} + 5" 5000
in_hv ip route add 10.0.2.0/24 via 10.0.1.2
in_hv sysctl -qw net.ipv4.icmp_ratelimit=1000
sleep 7 # the checks' timeouts pass: none may count once the route is back
check "a monitoring VM whose checks meet no route is never banned" bans_match '.bans == []'

# The gateway and five neighbours on the VM's /24, four of them gone: the
# kernel asks ARP three times for each, then gives up.
timeouts=$(ctl --json status | jq '.counters.scan_timeouts')
in_vm bash -c 'ip neigh flush dev eth0; for i in 1 6 7 8 9; do ping -c 1 -W 2 10.0.0.$i & done; wait' \
	>/dev/null 2>&1
check "the unanswered ARP requests for four gone neighbours time out" \
	wait_for_status ".counters.scan_timeouts >= ${timeouts:-0} + 4" 10000
check "a VM asking ARP for its gateway and a few neighbours is never banned" bans_match '.bans == []'

# scan_banned WHAT: waits for the scope "all" scan ban of the vm and checks it;
# then lifts it so the next scan starts clean.
banned_all='.bans[] | select(.source == "10.0.0.5" and .scope == "all" and .category == "scan")'
# scan_banned WHAT [MS] [timeouts]: rejected probes are judged as they come,
# so the ban must come within 10 failed probes; probes that time out are
# judged together once the 5 s timeout has passed, so then the ban must come
# within 8 s instead (timeout, a quarter of it for the bucket, the 1 s sweep).
scan_banned() {
	local failed
	if wait_for_bans "$banned_all" "${2:-10000}"; then
		ok "$1 is banned with scope all (after ${WAITED_MS} ms)"
		# The finding's failed first contacts, from the daemon's log line of the ban.
		failed=$(grep 'banned for' "$WORK/daemon.log" | tail -1 | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
		if [ "${3:-}" = timeouts ]; then
			check "$1: banned within 8 s, once its probes timed out (${WAITED_MS} ms, ${failed:-?} failed)" \
				test "$WAITED_MS" -le 8000
		else
			check "$1: banned within 10 failed probes (${failed:-?})" test "${failed:-99}" -le 10
		fi
	else
		not_ok "$1 is banned with scope all"
	fi
}
# scan_run TOOL ARGS...: the scanner in the vm, in the background, 20 s at most.
SCAN_PID=
scan_run() {
	in_vm timeout 20 "$@" >>"$WORK/scanners.log" 2>&1 &
	SCAN_PID=$!
}
# Once banned, the rest of a scan only waits for answers that cannot come.
scan_stop() { [ -z "$SCAN_PID" ] || burst_stop "$SCAN_PID"; SCAN_PID=; }
lift() {
	scan_stop
	ctl unban 10.0.0.5 --reason "lab: next scan" >/dev/null
}

# 1. nmap SYN scan of port 23 on 40 hosts (closed: RSTs), captured for replay.
ip netns exec "$HV" tcpdump -Z root --immediate-mode -U -s 256 -c 20000 -i agvm0 \
	-w "$WORK/scan.pcap" 2>"$WORK/scan.tcpdump" &
TCPDUMP=$!
# And on any (cooked v2): the probes arrive on agvm0, the RSTs leave on it toward the VM.
ip netns exec "$HV" tcpdump -Z root --immediate-mode -U -s 256 -c 20000 -i any \
	-w "$WORK/scan-any.pcap" 2>"$WORK/scan-any.tcpdump" &
TCPDUMP_ANY=$!
wait_until 5000 grep -q 'listening on' "$WORK/scan.tcpdump"
wait_until 5000 grep -q 'listening on' "$WORK/scan-any.tcpdump"
scan_run nmap -n -Pn -sS -p 23 --max-retries 1 10.0.2.1-40
scan_banned "an nmap SYN scan of 40 hosts"
LIVE=$(ctl --json bans | jq -c "[$banned_all][0] | {source, scope, category}")
sleep 0.5
kill -INT "$TCPDUMP" "$TCPDUMP_ANY" 2>/dev/null
wait "$TCPDUMP" "$TCPDUMP_ANY" 2>/dev/null
check "the banned VM still reaches the always_allow destination 10.0.3.53" vm_connects 10.0.3.53 25
refute "the banned VM reaches nothing else (net's web server)" vm_connects 10.0.1.2 80
check "the kernel set ban4_all holds 10.0.0.5" kernel_set_has ban4_all 10.0.0.5
check "status counts the rejected first contacts" status_match '.counters.scan_rejected >= 5'
ip netns add "$LAB-replay"
ip netns exec "$LAB-replay" "$BUILD/abuseguardd" -c "$POLICY" --replay "$WORK/scan.pcap" \
	>"$WORK/replay.out" 2>"$WORK/replay.err"
ip netns exec "$LAB-replay" "$BUILD/abuseguardd" -c "$POLICY" \
	--replay-interface "$(in_hv cat /sys/class/net/agvm0/ifindex)=agvm0" \
	--replay "$WORK/scan-any.pcap" >"$WORK/replay-any.out" 2>"$WORK/replay-any.err"
ip netns del "$LAB-replay"
REPLAYED=$(jq -c 'select(.action == "ban") | {source, scope, category}' "$WORK/replay.out" | head -1)
check "the tcpdump capture of the live scan replays to the live ban ($LIVE)" \
	test -n "$LIVE" -a "$REPLAYED" = "$LIVE"
[ "$REPLAYED" = "$LIVE" ] || cat "$WORK/replay.out" "$WORK/replay.err"
REPLAYED_ANY=$(grep -v '^#' "$WORK/replay-any.out" | jq -c 'select(.action == "ban") | {source, scope, category}' | head -1)
check "the capture on any (cooked v2, agvm0 named by its index) replays to the same ban" \
	test -n "$LIVE" -a "$REPLAYED_ANY" = "$LIVE"
[ "$REPLAYED_ANY" = "$LIVE" ] || cat "$WORK/replay-any.out" "$WORK/replay-any.err"
rejected_any=$(awk '/^#   rejected \(tc\)/ { print $NF }' "$WORK/replay-any.out")
check "replayed from any, the RSTs leaving agvm0 go through the egress program: ${rejected_any:-0} probes rejected" \
	test "${rejected_any:-0}" -gt 0
lift

# 2. nmap connect scan of 200 ports on one host (vertical).
scan_run nmap -n -Pn -sT -p 1-200 10.0.1.2
scan_banned "an nmap connect scan of 200 ports"
lift

# 3. nmap UDP scan of 30 ports (ICMP port unreachable, rate limited, or silence).
scan_run nmap -n -Pn -sU -p 1000-1030 --max-retries 1 10.0.1.2
scan_banned "an nmap UDP scan of 31 ports" 15000
lift

# 4. IPv6 SYN scan of 100 ports.
scan_run nmap -6 -n -Pn -sS -p 1-100 fd00:1::2
if wait_for_bans '.bans[] | select(.source == "fd00:5::/64" and .scope == "all" and .category == "scan")' 10000; then
	ok "an IPv6 nmap SYN scan is banned with scope all, as its /64 (after ${WAITED_MS} ms)"
else
	not_ok "an IPv6 nmap SYN scan is banned with scope all, as its /64"
fi
scan_stop
ctl unban fd00:5::/64 --reason "lab: next scan" >/dev/null

# 5. A slow scan: about three probes a second.
scan_run nmap -n -Pn -sS --scan-delay 300ms -p 2000-2020 10.0.1.2
scan_banned "a slow nmap scan (300 ms between probes)"
lift

# 6. nmap ping sweep of dark, routed space: nothing answers, the timeouts decide.
scan_run nmap -n -sn --max-retries 0 10.0.9.0/27
scan_banned "an nmap ping sweep of 32 dark addresses" 15000 timeouts
check "status counts the timed-out first contacts" status_match '.counters.scan_timeouts >= 5'
lift

# 7. nmap ARP host discovery of a dark /27 of the VM's own subnet: nobody
# answers ARP there, the timeouts decide; charged to the VM's own address.
scan_run nmap -n -sn -PR --max-retries 0 10.0.0.64/27
scan_banned "an nmap ARP sweep of 32 dark addresses on its link" 15000 timeouts
check "the daemon names it an ARP host-discovery sweep" \
	grep -q 'banned for.*ARP host-discovery sweep' "$WORK/daemon.log"
lift

# 8. masscan, 101 ports at 200 packets a second.
router_mac=$(ip -n "$HV" link show agvm0 | awk '/link\/ether/ { print $2 }')
scan_run masscan -p 3000-3100 10.0.1.2 --rate 200 --wait 2 -e eth0 \
	--adapter-ip 10.0.0.5 --router-mac "$router_mac"
scan_banned "masscan at 200 packets a second"
lift
SCANS_DONE_AT=$SECONDS

# A partial outage, a window after the honest patterns: net's 10.0.2.0/24 is
# lost upstream while the rest answers (net's pings keep coming, so nothing
# holds timeouts host-wide). The monitoring VM's 20 hosts answered it before:
# their silence now is no verdict.
# The scans' own unanswered probes time out within 8 s of the last one:
# counted before the baseline, not in it.
while [ $((SECONDS - HONEST_AT)) -lt 62 ] || [ $((SECONDS - SCANS_DONE_AT)) -lt 9 ]; do sleep 1; done
timeouts=$(counter scan_timeouts)
in_hv nft add table inet lab_partial
lab_at_exit "ip netns exec $HV nft delete table inet lab_partial 2>/dev/null"
in_hv nft add chain inet lab_partial forward '{ type filter hook forward priority -10; }'
in_hv nft add rule inet lab_partial forward ip daddr 10.0.2.0/24 drop
monitor_checks 8080
sleep 8 # the 5 s timeout, a quarter of it for the bucket, the 1 s sweep
check "partial outage: the rest of the internet still comes back (status upstream)" \
	status_match '.upstream.ipv4_ms_ago != null and .upstream.ipv4_ms_ago < 5000'
check "partial outage: the silence of 20 hosts that answered the VM before is no timeout" \
	status_match ".counters.scan_timeouts == ${timeouts:-0}"
check "a monitoring VM whose known hosts fall silent in a partial outage is never banned" \
	bans_match '.bans == []'
in_hv nft delete table inet lab_partial

check "after the scans, the honest patterns are still never banned" bash -c "
	ip netns exec $VM bash -c 'for i in \$(seq 40); do exec 3<>/dev/tcp/10.0.2.\$i/8080 && exec 3>&-; done' 2>/dev/null &&
	sleep 1 && '$BUILD/abusectl' -s '$WORK/control.sock' --json bans | jq -e '.bans == []' >/dev/null"
check "no probe ran into the per-VM pending quota" status_match '.counters.scan_pending_quota_full == 0'
# The VM was learned, not configured: ARP taught 10.0.0.5 first, and its IPv6
# scans from fd00:5::5 are its own, never spoofing.
check "the VM's addresses were learned, not configured" \
	bash -c "'$BUILD/abusectl' -s '$WORK/control.sock' --json vms | jq -e '[.vms[].addresses[].origin] | length > 0 and all(. == \"arp\" or . == \"ndp\")' >/dev/null"
check "nothing it sent counted as spoofed" status_match '.counters.spoofed == 0'
check "it was never banned for spoofing" \
	test "$(sqlite3 "$WORK/state/abuseguard.db" "SELECT count(*) FROM offences WHERE category = 'spoofing'")" = 0
exit 0
