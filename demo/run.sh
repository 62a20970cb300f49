#!/usr/bin/env bash
# make demo: abuseguard in network namespaces on this machine, narrated. A
# simulated VM sends a spam burst, then scans; the viewer sees each
# detection become a ban (abusectl events), the ban hold in the kernel while
# the VM's other traffic flows, its history, and an operator's lift. Needs
# root, iproute2, nftables, smtp-source and nmap (make deps). Everything it
# makes (namespaces, nft table, files) goes when it ends, even on Ctrl-C.
#   demo/run.sh [BUILD] [--smoke]   --smoke: no pauses, the spam part only
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
# events_since: the lines events --follow printed since the last call, indented.
SEEN=0
events_since() {
	local total
	total=$(wc -l <"$WORK/events")
	sed -n "$((SEEN + 1)),${total}p" "$WORK/events" | cut -c1-160 | sed 's/^/   /'
	SEEN=$total
}

[ "$(id -u)" = 0 ] || { echo "demo: run as root (namespaces, XDP, nftables)" >&2; exit 1; }
for tool in smtp-source nmap nft; do
	command -v "$tool" >/dev/null || { echo "demo: $tool is missing: make deps" >&2; exit 1; }
done
[ -x "$BUILD/abuseguardd" ] || { echo "demo: build first: make" >&2; exit 1; }

say "A hypervisor in namespaces: VM 10.0.0.5 behind agvm0, the internet at 10.0.1.2"
lab_setup || { echo "demo: cannot create namespaces" >&2; exit 1; }
lab_servers || { echo "demo: the SMTP sink and web server in the net namespace did not start" >&2; exit 1; }
POLICY=$PWD/policy/abuseguard.conf
daemon_start "$POLICY" "$WORK/state" || { echo "demo: abuseguardd did not start" >&2; exit 1; }
show status | sed -n '1,12p'
"$BUILD/abusectl" -s "$WORK/control.sock" events --follow >"$WORK/events" 2>/dev/null &
EVENTS=$!
trap 'kill "$EVENTS" 2>/dev/null; lab_cleanup >/dev/null 2>&1' EXIT

say "The orchestrator tells abuseguard whose addresses these are"
show vm set agvm0 --address 10.0.0.5 --address fd00:5::/64 --name shop-vm --customer C-1001 \
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

say "The abuse desk looks at the source's history"
show history 10.0.0.5
pause 3

say "The customer has cleaned the VM: an operator lifts the bans, with a reason"
show unban 10.0.0.5 --reason "demo: customer C-1001 reinstalled the VM"
expect "the VM delivers mail again" vm_mail
sleep 0.3
events_since
pause

say "Every change is in the audit trail, with who and why"
show audit
echo
echo "Crawler detections and tickets are not in the daemon yet; when they land they show here too."
echo "Try it yourself: sudo $BUILD/abusectl --help"
exit "$FAILED"
