#!/usr/bin/env bash
# Crawlers that break robots.txt, end to end: libpcap reads the VM's HTTP on
# the vm-facing veth, the site's robots.txt comes from the VM's own fetch on
# the wire or from the daemon's, and a crawler that ignores it is banned with
# scope web (new HTTP connections stop, SMTP still works); so is one that
# reads robots.txt and fetches what its own agent's group forbids, while
# another agent on the same paths is not. A crawler that obeys and a person
# clicking into a disallowed path a few times are not banned either. The HTTP path replays from a capture.
set -u
BUILD=$(realpath "${1:-build}")
cd "$(dirname "$0")/../.."
. tests/lab/lib.sh
lab_setup || { not_ok "lab namespaces could not be created"; exit 1; }
lab_servers || { not_ok "SMTP sink and web server start in net"; exit 1; }
STATE=$WORK/state

# The site: a robots.txt that forbids /private/ to everyone, and pages linking into it.
cat >"$WORK/www/robots.txt" <<'ROBOTS'
# the lab's shop
User-agent: *
Disallow: /private/

User-agent: BadBot
Disallow: /
ROBOTS
mkdir -p "$WORK/www/private" "$WORK/www/public"
{
	echo "<html><body>"
	for i in $(seq 3); do echo "<a href=\"/public/$i.html\">public $i</a>"; done
	for i in $(seq 12); do echo "<a href=\"/private/$i.html\">private $i</a>"; done
	echo "</body></html>"
} >"$WORK/www/index.html"
for i in $(seq 3); do echo "public $i" >"$WORK/www/public/$i.html"; done
for i in $(seq 12); do echo "private $i" >"$WORK/www/private/$i.html"; done
robots_sha=$(sha256sum "$WORK/www/robots.txt" | cut -d' ' -f1)

# The same site on 8080 (an HTTP port the crawler reads) and 8081 (not yet),
# and a second VM to show a web ban is the banned VM's alone.
for port in 8080 8081; do
	(cd "$WORK/www" && exec ip netns exec "$NET" /usr/bin/python3 -m http.server --bind 10.0.1.2 "$port") \
		>"$WORK/http$port.log" 2>&1 &
done
lab_vm2 || not_ok "a second VM on agvm1"
check "the site also answers on 8080 and 8081" wait_until 15000 \
	in_net bash -c 'exec 3<>/dev/tcp/10.0.1.2/8080 && exec 4<>/dev/tcp/10.0.1.2/8081'
# fetches_from NS ADDRESS PORT PAGE: NS gets the page, and the server's log shows ADDRESS asked.
fetches_from() {
	local log=$WORK/http$3.log
	[ "$3" = 80 ] && log=$WORK/http.log
	ip netns exec "$1" curl -sf --max-time 2 "http://10.0.1.2:$3$4" -o /dev/null &&
		wait_until 2000 grep -q "^${2//./\\.} .*GET $4 " "$log"
}
wire_requests() { ctl metrics | awk '$1 == "abuseguard_wire_http_requests_total" { print $2 }'; }
wire_requests_are() { [ "$(wire_requests)" = "$1" ]; }

# The default policy; the test's only change is a shorter fetch timeout.
sed -e 's/fetch_timeout = "5s"/fetch_timeout = "2s"/' policy/abuseguard.conf >"$WORK/policy.conf"
check "daemon starts with the crawler path on" daemon_start "$WORK/policy.conf" "$STATE"
check "the daemon says libpcap reads agvm0" \
	wait_until 2000 grep -q 'agvm0: libpcap reading TCP' "$WORK/daemon.log"

# wget -r obeys robots.txt: it fetches it, the daemon reads the reply on the wire.
# (A robots.txt request that times out makes wget go on without it: timeouts are generous.)
in_vm timeout 30 wget -q -r -l 2 --tries=2 --timeout=10 -P "$WORK/obeying" http://10.0.1.2/ \
	>/dev/null 2>&1
check "the obeying crawler fetched the public pages" test -f "$WORK/obeying/10.0.1.2/public/3.html"
refute "the obeying crawler fetched nothing under /private/" test -d "$WORK/obeying/10.0.1.2/private"

# A person clicking into the disallowed area a few times.
for i in 1 2 3; do
	in_vm curl -sf --max-time 3 -A 'Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0' \
		"http://10.0.1.2/private/$i.html" -o /dev/null
done
sleep 1
check "neither the obeying crawler nor a person is banned" bans_match '.bans == []'
refute "the daemon did not fetch robots.txt itself: the VM's fetch on the wire did" \
	grep -q '^10\.0\.1\.1 .*GET /robots.txt' "$WORK/http.log"

check "before any ban the VM's requests on 8080 arrive" fetches_from "$VM" 10.0.0.5 8080 /public/1.html

# wget -r -e robots=off, on a site name the daemon has no robots.txt for yet.
in_vm timeout 20 wget -q -r -l 2 -e robots=off --tries=1 --timeout=3 --header 'Host: shop.lab' \
	-P "$WORK/ignoring" http://10.0.1.2/ >/dev/null 2>&1
if wait_for_bans '.bans[] | select(.source == "10.0.0.5" and .scope == "web" and .category == "crawler")' 5000; then
	ok "wget -r -e robots=off is banned: 10.0.0.5, scope web, category crawler"
else
	not_ok "wget -r -e robots=off is banned: 10.0.0.5, scope web, category crawler"
fi
check "the daemon fetched shop.lab's robots.txt itself, once" \
	test "$(grep -c '^10\.0\.1\.1 .*GET /robots.txt' "$WORK/http.log")" -eq 1
check "the kernel set ban4_web holds 10.0.0.5" kernel_set_has ban4_web 10.0.0.5
refute "the banned VM cannot open new HTTP connections" vm_connects 10.0.1.2 80
check "the banned VM still reaches SMTP" vm_connects 10.0.1.2 25
refute "banned for web, its requests on 8080 no longer arrive either" \
	fetches_from "$VM" 10.0.0.5 8080 /public/2.html
refute "nor on 80" fetches_from "$VM" 10.0.0.5 80 /public/2.html
vm2_fetches_both() { fetches_from "$VM2" 10.0.2.6 8080 "$1" && fetches_from "$VM2" 10.0.2.6 80 "$1"; }
check "the other VM's requests on 8080 and 80 arrive" vm2_fetches_both /public/2.html

# The site moves from 8080 to 8081: a reload reads and drops 8081 instead, at once.
sed -i -e 's/http_ports = \[ 80, 8080 \]/http_ports = [ 80, 8081 ]/' "$WORK/policy.conf"
reload_reply=$(ctl reload --reason "the shop moved to 8081" 2>&1)
check "reload takes crawler.http_ports: $reload_reply" grep -q 'policy reloaded$' <<<"$reload_reply"
in_hv nft list chain inet abuseguard forward >"$WORK/forward.nft"
check "the web rules drop 8081 now" grep -q 'dport 8081' "$WORK/forward.nft"
refute "and no longer 8080" grep -q 'dport 8080' "$WORK/forward.nft"
refute "still banned for web, the VM's requests on 8081 do not arrive" \
	fetches_from "$VM" 10.0.0.5 8081 /public/3.html
check "while on 8080, no HTTP port now, they do" fetches_from "$VM" 10.0.0.5 8080 /public/3.html
requests_before=$(wire_requests)
fetches_from "$VM2" 10.0.2.6 8080 /public/3.html
fetches_from "$VM2" 10.0.2.6 8081 /public/3.html
check "libpcap reads the request on 8081 and not the one on 8080 ($requests_before read before)" \
	wait_until 2000 wire_requests_are $((requests_before + 1))
check "the evidence names the site, the rule and its group, and the agent" \
	grep -qE 'crawler evidence: site http://shop\.lab:80; rule line 3 "Disallow: /private/" of the group at line 2 \(user-agent \*\); user agent "Wget/' "$WORK/daemon.log"
check "the evidence names the robots.txt judged against: status 200 and its SHA-256" \
	grep -q "status 200, sha256 $robots_sha; latest requests: .*/private/" "$WORK/daemon.log"

# A crawler that reads robots.txt (seen on the wire) and then fetches what the
# group naming its agent forbids; the capture of it replays to the same verdict.
check "abusectl unban lifts the web ban" ctl unban 10.0.0.5 --reason "crawler fixed"
ip netns exec "$HV" timeout 30 tcpdump -i agvm0 -U -w "$WORK/crawl.pcap" 'tcp port 80' \
	>/dev/null 2>&1 &
tcpdump_pid=$!
wait_until 3000 test -s "$WORK/crawl.pcap"
badbot() { in_vm curl -sf --max-time 3 -A 'BadBot/1.0 (+http://bad.example)' -H 'Host: www.lab' "$@"; }
badbot http://10.0.1.2/robots.txt -o /dev/null
for i in $(seq 12); do badbot "http://10.0.1.2/public/$((i % 3 + 1)).html" -o /dev/null; done
if wait_for_bans '.bans[] | select(.source == "10.0.0.5" and .scope == "web" and .level == 2)' 5000; then
	ok "a crawler that read robots.txt and fetched what its agent's group forbids is banned (level 2)"
else
	not_ok "a crawler that read robots.txt and fetched what its agent's group forbids is banned (level 2)"
fi
check "it was judged by the group naming BadBot, from the reply on the wire" \
	grep -qE 'site http://www\.lab:80; rule line 6 "Disallow: /" of the group at line 5 \(user-agent BadBot\)' "$WORK/daemon.log"
check "the daemon still fetched only one robots.txt itself" \
	test "$(grep -c '^10\.0\.1\.1 .*GET /robots.txt' "$WORK/http.log")" -eq 1

# The same 12 requests from another agent, on the other VM: BadBot's group is BadBot's alone.
goodbot() { ip netns exec "$VM2" curl -sf --max-time 3 -A 'GoodBot/2.1' -H 'Host: www.lab' "$@"; }
requests_before=$(wire_requests)
goodbot http://10.0.1.2/robots.txt -o /dev/null
for i in $(seq 12); do goodbot "http://10.0.1.2/public/$((i % 3 + 1)).html" -o /dev/null; done
check "libpcap read GoodBot's robots.txt and 12 page requests" \
	wait_until 3000 wire_requests_are $((requests_before + 13))
sleep 1
check "another agent on the paths BadBot's group forbids, allowed to it, is not banned" \
	bans_match '[.bans[] | select(.source == "10.0.2.6")] == []'
sleep 0.5
kill "$tcpdump_pid" 2>/dev/null
wait "$tcpdump_pid" 2>/dev/null
"$BUILD/abuseguardd" -c "$WORK/policy.conf" --replay "$WORK/crawl.pcap" >"$WORK/replay.out" 2>"$WORK/replay.err"
check "replaying the capture bans the same crawler for web, from its robots.txt reply in the capture" \
	bash -c "grep '^{' '$WORK/replay.out' | jq -e 'select(.category == \"crawler\" and .source == \"10.0.0.5\" and .action == \"ban\" and .scope == \"web\")'"
