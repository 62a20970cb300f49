#!/usr/bin/env bash
# A VM whose IPv6 is broken while its IPv4 works is never banned for its
# unanswered IPv6 SYNs: each family's return path is proved on its own. The
# VM tries 20 sites over IPv6 first, as Happy Eyeballs does, in a routed
# prefix that net drops silently, and gets each over IPv4. Toward it over IPv6
# come only neighbour discovery (the router's advertisements from its global
# address too). Its IPv6 timeouts are no verdict. Once a routed IPv6 reply
# comes back (an SMTP greeting over IPv6), and IPv6 from beyond the host keeps
# coming (net pings the VM), the same kind of unanswered IPv6 SYNs are a scan
# and its /64 is banned. About 30 s.
. "$(dirname "$0")/lib.sh"
lab_begin "$@"

# fd00:99::/64 is routed to net, which drops it silently.
ip -n "$HV" -6 route add fd00:99::/64 via fd00:1::2
ip -n "$NET" -6 route add blackhole fd00:99::/64

check "the daemon starts and attaches XDP and tc egress to agvm0" \
	daemon_start policy/abuseguard.conf "$WORK/state"
check "status shows the tc egress program on agvm0" \
	status_match '.interfaces[] | select(.name == "agvm0" and .tc_mode != "none")'

# dark_ipv6_syns FIRST LAST [IPV4]: a SYN to each of fd00:99::FIRST..LAST port
# 443, given up after a second; with IPV4, each with a fetch over IPv4 from
# net's web server, as a browser falls back (one first contact: one service).
dark_ipv6_syns() {
	in_vm timeout 30 bash -c '
	for i in $(seq "$1" "$2"); do
		timeout 1 bash -c "exec 3<>/dev/tcp/fd00:99::$i/443" 2>/dev/null &
		if [ -n "$3" ]; then
			exec 3<>/dev/tcp/10.0.1.2/80 && printf "GET / HTTP/1.0\r\n\r\n" >&3 &&
				cat <&3 >/dev/null
			exec 3>&-
		fi
		sleep 0.05
	done
	wait' _ "$@"
}

# The 5 s timeout, a quarter of it for the bucket, the 1 s sweep.
TIMEOUTS_JUDGED_MS=9000
timeouts=$(ctl --json status | jq '.counters.scan_timeouts')
dark_ipv6_syns 1 20 ipv4
check "the 20 unanswered IPv6 first contacts are no verdict" \
	wait_for_status '.counters.scan_no_return_path >= 20' "$TIMEOUTS_JUDGED_MS"
check "none of them counted as a failure" status_match ".counters.scan_timeouts == ${timeouts:-0}"
check "the fetches over IPv4 were answered" status_match '.counters.scan_answered >= 1'
check "a VM with broken IPv6 browsing over IPv4 is never banned" bans_match '.bans == []'

# A routed IPv6 reply: net's SMTP sink greets the VM over IPv6.
check "the VM reaches net's SMTP sink over IPv6" vm_connects fd00:1::2 25
# Without it, nothing shows the host's IPv6 upstream works while the SYNs wait.
ip netns exec "$NET" ping -6 -q -i 0.5 -w 60 fd00:5::5 >/dev/null 2>&1 &
dark_ipv6_syns 21 40
banned6='.bans[] | select(.source == "fd00:5::/64" and .scope == "all" and .category == "scan")'
check "once an IPv6 reply came back, 20 unanswered IPv6 SYNs are a scan: its /64 is banned" \
	wait_for_bans "$banned6" "$TIMEOUTS_JUDGED_MS"
check "the VM's IPv4 address is not banned for it" \
	bans_match '[.bans[] | select(.source == "10.0.0.5")] == []'
exit 0
