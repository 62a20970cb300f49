#!/usr/bin/env bash
# make demo: abuseguard in network namespaces on this machine, narrated. A
# simulated VM sends a spam burst, crawls a shop's disallowed pages, then
# scans; the viewer sees each detection become a ban (abusectl events), the
# ban hold in the kernel while the VM's other traffic flows, the abuse
# tickets filed for the customer, the source's history, and an operator's
# lift. Needs root, iproute2, nftables, smtp-source, wget and nmap (make
# deps). Everything it makes (namespaces, nft table, files) goes when it
# ends, even on Ctrl-C.
#   demo/run.sh [BUILD] [--smoke]   --smoke: no pauses, no scan
set -u
BUILD=build
SMOKE=
for arg in "$@"; do
	case $arg in
	--smoke) SMOKE=1 ;;
	*) BUILD=$arg ;;
	esac
done
BUILD=$(realpath "$BUILD")
cd "$(dirname "$0")/.."
LAB=agdemo$$
. tests/lab/lib.sh
# lib.sh's check() prints ok/not ok lines; the demo says what it shows instead.
FAILED=0

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
pause() { [ -n "$SMOKE" ] || sleep "${1:-2}"; }
# show ARGS...: runs abusectl ARGS as the viewer would type it.
show() {
	printf '\033[2m$ abusectl'
	printf ' %q' "$@"
	printf '\033[0m\n'
	ctl "$@"
}
# expect WHAT COMMAND...: says whether what the demo claims came true.
expect() {
	local what=$1
	shift
	if "$@"; then printf '   (%s: yes)\n' "$what"; else
		printf '   (%s: NO)\n' "$what"
		FAILED=1
	fi
}
# ctl_tickets_for_customer: a spam and a crawler ticket, both routed to c-1001.
ctl_tickets_for_customer() {
	ctl --json tickets --customer c-1001 2>/dev/null |
		jq -e '[.tickets[].category] | (index("spam") != null) and (index("crawler") != null)' >/dev/null
}
# events_since: the lines events --follow printed since the last call, indented.
SEEN=0
events_since() {
	local total
	total=$(wc -l <"$WORK/events")
	sed -n "$((SEEN + 1)),${total}p" "$WORK/events" | cut -c1-160 | sed 's/^/   /'
	SEEN=$total
}

[ "$(id -u)" = 0 ] || { echo "demo: run as root (namespaces, XDP, nftables)" >&2; exit 1; }
for tool in smtp-source wget nmap nft; do
	command -v "$tool" >/dev/null || { echo "demo: $tool is missing: make deps" >&2; exit 1; }
done
[ -x "$BUILD/abuseguardd" ] || { echo "demo: build first: make" >&2; exit 1; }

say "A hypervisor in namespaces: VM 10.0.0.5 behind agvm0, the internet at 10.0.1.2"
lab_setup || { echo "demo: cannot create namespaces" >&2; exit 1; }
lab_servers || { echo "demo: the SMTP sink and web server in the net namespace did not start" >&2; exit 1; }
# The shipped policy with the VM's customer in it, so its tickets are routed
# to that customer. Notices are not mailed: the demo shows them instead.
POLICY=$WORK/demo.conf
sed -e 's|^customers = ( );|customers = ( { id = "c-1001"; name = "Shop Ltd"; contact = "abuse@shop.example"; prefixes = [ "10.0.0.0/24", "fd00:5::/64" ]; } );|' \
	-e 's|^\tsmtp = .*|\tsmtp = "";|' policy/abuseguard.conf >"$POLICY"
# The shop in net: a robots.txt that keeps crawlers out of /private/, and a page linking into it.
cat >"$WORK/www/robots.txt" <<'ROBOTS'
User-agent: *
Disallow: /private/
ROBOTS
mkdir -p "$WORK/www/private"
{
	echo "<html><body>"
	for i in $(seq 12); do echo "<a href=\"/private/$i.html\">private $i</a>"; done
	echo "</body></html>"
} >"$WORK/www/index.html"
for i in $(seq 12); do echo "private $i" >"$WORK/www/private/$i.html"; done
daemon_start "$POLICY" "$WORK/state" || { echo "demo: abuseguardd did not start" >&2; exit 1; }
show status | sed -n '1,12p'
"$BUILD/abusectl" -s "$WORK/control.sock" events --follow >"$WORK/events" 2>/dev/null &
EVENTS=$!
trap 'kill "$EVENTS" 2>/dev/null; lab_cleanup >/dev/null 2>&1' EXIT

say "The orchestrator tells abuseguard whose addresses these are"
show vm set agvm0 --address 10.0.0.5 --address fd00:5::/64 --name shop-vm --customer c-1001 \
	--reason "demo: provisioned"
pause

say "The VM is honest first: one mail, one web page - nothing happens"
vm_mail && echo "   mail delivered"
in_vm curl -sf --max-time 5 http://10.0.1.2/ -o /dev/null && echo "   web page fetched"
show bans
pause

say "The VM is compromised: it sends a spam burst (smtp-source, 60 connections)"
vm_smtp_burst 60 8 &
burst=$!
wait_for_bans '.bans[] | select(.source == "10.0.0.5" and .scope == "smtp")' 8000
burst_stop "$burst"
echo "   what abusectl events --follow printed meanwhile:"
events_since
show bans
expect "port 25 is closed to the VM" bash -c "! ip netns exec $VM timeout 2 bash -c 'exec 3<>/dev/tcp/10.0.1.2/25' 2>/dev/null"
expect "its web traffic still flows" in_vm curl -sf --max-time 5 http://10.0.1.2/ -o /dev/null
expect "the kernel's ban set holds it" kernel_set_has ban4_smtp 10.0.0.5
pause 3

say "It crawls a shop, ignoring its robots.txt (wget -r -e robots=off)"
in_vm timeout 20 wget -q -r -l 2 -e robots=off --tries=1 --timeout=3 -P "$WORK/crawl" \
	http://10.0.1.2/ >/dev/null 2>&1 &
crawl=$!
wait_for_bans '.bans[] | select(.source == "10.0.0.5" and .scope == "web")' 10000
burst_stop "$crawl"
events_since
show bans
echo "   (the daemon read the shop's robots.txt itself: /private/ is disallowed to every crawler)"
expect "new web connections from the VM are refused" bash -c "! ip netns exec $VM timeout 2 bash -c 'exec 3<>/dev/tcp/10.0.1.2/80' 2>/dev/null"
expect "the kernel's web ban set holds it" kernel_set_has ban4_web 10.0.0.5
pause 3

if [ -z "$SMOKE" ]; then
	say "Still compromised, it scans the internet (nmap connect scan, 200 ports)"
	in_vm timeout 20 nmap -n -Pn -sT -p 1-200 10.0.1.2 >/dev/null 2>&1 &
	scan=$!
	wait_for_bans '.bans[] | select(.source == "10.0.0.5" and .scope == "all")' 12000
	kill "$scan" 2>/dev/null
	wait "$scan" 2>/dev/null
	events_since
	show bans
	echo "   (a scan is banned with scope all, one rung higher: a repeat within a day)"
	expect "now nothing leaves the VM" bash -c "! ip netns exec $VM curl -sf --max-time 3 http://10.0.1.2/ -o /dev/null"
	pause 3
fi

say "The abuse desk's queue: one ticket per customer, source and kind of abuse"
wait_until 3000 ctl_tickets_for_customer
show tickets
ticket=$(ctl --json tickets --source 10.0.0.5 2>/dev/null |
	jq -r '[.tickets[] | select(.category == "spam")][0].id // empty')
expect "the spam and the crawl each have a ticket for customer c-1001" ctl_tickets_for_customer
if [ -n "$ticket" ]; then
	say "The spam ticket: the customer, the VM, the ban, the deadline and the thread"
	show ticket "$ticket"
	pause 3
fi

say "The abuse desk looks at the source's history"
show history 10.0.0.5
pause 3

say "The customer has cleaned the VM: an operator lifts the bans, with a reason"
show unban 10.0.0.5 --reason "demo: customer c-1001 reinstalled the VM"
expect "the VM delivers mail again" vm_mail
expect "and fetches web pages again" in_vm curl -sf --max-time 5 http://10.0.1.2/ -o /dev/null
sleep 0.3
events_since
pause

say "Every change is in the audit trail, with who and why"
show audit
echo
echo "Try it yourself: sudo $BUILD/abusectl --help"
exit "$FAILED"
