# Shared by the lab tests: namespaces, the daemon, assertions.
# Every name carries the test's own prefix so parallel runs and leftovers never mix.

LAB=${LAB:-ag$$}
BUILD=${BUILD:-build}
# The tree's top, wherever the test was started from.
LAB_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VM=$LAB-vm
HV=$LAB-hv
NET=$LAB-net
WORK=$(mktemp -d /tmp/abuseguard-lab.XXXXXX)
DAEMON_PID=
LAB_AT_EXIT=()

ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; }
# check "what a user would check" command...
check() {
	local what=$1; shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}
# refute "what a user would check" command...: passes when the command fails.
refute() {
	local what=$1; shift
	if "$@"; then not_ok "$what"; else ok "$what"; fi
}

in_vm() { ip netns exec "$VM" "$@"; }
in_hv() { ip netns exec "$HV" "$@"; }
in_net() { ip netns exec "$NET" "$@"; }

# lab_at_exit COMMAND: run COMMAND (a string, evaluated) at exit, after the
# daemon is stopped and before the namespaces and $WORK go.
lab_at_exit() { LAB_AT_EXIT+=("$1"); }

lab_cleanup() {
	local command
	daemon_stop KILL
	for command in "${LAB_AT_EXIT[@]}"; do eval "$command"; done
	for ns in "$VM" "$HV" "$NET"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	if [ -f "$WORK/daemon.log" ]; then
		if [ -n "${KEEP_LAB_LOGS:-}" ]; then cp "$WORK/daemon.log" "$KEEP_LAB_LOGS"; fi
		echo "--- daemon log:"
		tail -n 40 "$WORK/daemon.log"
	fi
	rm -rf "$WORK"
}

# lab_begin [--no-lab] [BUILD]: the start of every lab test, called with the
# test's own arguments. BUILD (build by default) is resolved before going to
# the tree's top; everything the test made goes at exit (lab_cleanup). Then the
# namespaces are built (lab_setup) and net's servers started (lab_servers), or
# the test ends saying which failed. With --no-lab only $WORK is made, for tests
# that build their namespaces later or need none.
lab_begin() {
	local namespaces=1
	if [ "${1:-}" = --no-lab ]; then namespaces=0; shift; fi
	set -u
	BUILD=$(realpath "${1:-build}")
	cd "$LAB_TOP" || exit 1
	trap lab_cleanup EXIT
	[ "$namespaces" -eq 1 ] || return 0
	lab_setup || { not_ok "lab namespaces could not be created"; exit 1; }
	lab_servers || { not_ok "SMTP sink and web server start in net"; exit 1; }
}

# vm (10.0.0.5, fd00:5::5) -- agvm0 [hv: routes, daemon, XDP] hvnet0 -- net (10.0.1.2)
lab_setup() {
	trap lab_cleanup EXIT
	ip netns add "$VM" && ip netns add "$HV" && ip netns add "$NET" || return 1
	lab_veth_vm "$VM" agvm0 10.0.0.5/24 10.0.0.1/24 fd00:5::5/64 fd00:5::1/64 || return 1
	ip link add hvnet0 netns "$HV" type veth peer name eth0 netns "$NET"
	for ns in "$HV" "$NET"; do ip -n "$ns" link set lo up; done
	ip -n "$HV" addr add 10.0.1.1/24 dev hvnet0
	ip -n "$HV" addr add fd00:1::1/64 dev hvnet0 nodad
	ip -n "$HV" link set hvnet0 up
	in_hv sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	ip -n "$NET" addr add 10.0.1.2/24 dev eth0
	ip -n "$NET" addr add fd00:1::2/64 dev eth0 nodad
	ip -n "$NET" link set eth0 up
	ip -n "$NET" route add default via 10.0.1.1
	ip -n "$NET" -6 route add default via fd00:1::1
}

# An SMTP sink and a web server in net.
lab_servers() {
	ip netns exec "$NET" smtp-sink -u nobody -c 10.0.1.2:25 256 >"$WORK/smtp-sink.log" 2>&1 &
	ip netns exec "$NET" smtp-sink -u nobody -c '[fd00:1::2]:25' 256 >"$WORK/smtp-sink6.log" 2>&1 &
	mkdir -p "$WORK/www" && echo "hello from net" >"$WORK/www/index.html"
	(cd "$WORK/www" && exec ip netns exec "$NET" python3 -m http.server --bind 10.0.1.2 80) \
		>"$WORK/http.log" 2>&1 &
	for _ in $(seq 50); do
		in_net bash -c 'exec 3<>/dev/tcp/10.0.1.2/25 && exec 4<>/dev/tcp/10.0.1.2/80 &&
			exec 5<>/dev/tcp/fd00:1::2/25' \
			2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# lab_policy POLICY: the policy a lab daemon runs, printed. Lab tests never
# mail unless they say so: the shipped live SMTP relay (127.0.0.1:25) becomes
# "" in the test's own copy under $WORK, or in a copy of a shipped policy.
# A test that sets its own smtp or mail_command (test_notify) keeps it.
LAB_MAIL_OFF='s|^\tsmtp = "127.0.0.1:25";|\tsmtp = "";|'
lab_policy() {
	local policy
	policy=$(realpath "$1")
	case $policy in
	"$WORK"/*) sed -i "$LAB_MAIL_OFF" "$policy" && echo "$policy" ;;
	"$LAB_TOP"/policy/*)
		sed "$LAB_MAIL_OFF" "$policy" >"$WORK/lab-${policy##*/}" && echo "$WORK/lab-${policy##*/}" ;;
	*) echo "$policy" ;;
	esac
}

# lab_vm2: a second VM, vm2 (10.0.2.6, fd00:6::6) -- agvm1 [hv 10.0.2.1,
# fd00:6::1], removed at exit.
VM2=$LAB-vm2
in_vm2() { ip netns exec "$VM2" "$@"; }
lab_vm2() {
	lab_at_exit 'ip netns pids "$VM2" 2>/dev/null | xargs -r kill -9; ip netns del "$VM2" 2>/dev/null'
	ip netns add "$VM2" || return 1
	lab_veth_vm "$VM2" agvm1 10.0.2.6/24 10.0.2.1/24 fd00:6::6/64 fd00:6::1/64
}

# lab_veth_vm NS IFACE VM_V4 HV_V4 VM_V6 HV_V6: a VM's eth0 in NS, wired to
# IFACE in hv, each side with its addresses (with prefix length); the VM routes
# through hv's.
lab_veth_vm() {
	local ns=$1 iface=$2
	ip link add "$iface" netns "$HV" type veth peer name eth0 netns "$ns" || return 1
	ip -n "$ns" link set lo up
	ip -n "$ns" addr add "$3" dev eth0
	ip -n "$ns" addr add "$5" dev eth0 nodad
	ip -n "$ns" link set eth0 up
	ip -n "$ns" route add default via "${4%/*}"
	ip -n "$ns" -6 route add default via "${6%/*}"
	ip -n "$HV" addr add "$4" dev "$iface"
	ip -n "$HV" addr add "$6" dev "$iface" nodad
	ip -n "$HV" link set "$iface" up
}

# daemon_start POLICY STATE_DIR: starts abuseguardd in hv on the vm-facing veth.
daemon_start() {
	local policy state=$2
	policy=$(lab_policy "$1") || return 1
	# Not through in_hv: $! must be the daemon itself (ip netns exec execs it).
	ip netns exec "$HV" "$BUILD/abuseguardd" -c "$policy" -i 'agvm*' --state-dir "$state" \
		--socket "$WORK/control.sock" >>"$WORK/daemon.log" 2>&1 &
	DAEMON_PID=$!
	for _ in $(seq 100); do
		ctl status >/dev/null 2>&1 && return 0
		kill -0 "$DAEMON_PID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# daemon_stop [SIGNAL]: TERM by default; waits for the process to end.
daemon_stop() {
	[ -n "$DAEMON_PID" ] || return 0
	kill -"${1:-TERM}" "$DAEMON_PID" 2>/dev/null
	wait "$DAEMON_PID" 2>/dev/null
	DAEMON_PID=
}

ctl() { "$BUILD/abusectl" -s "$WORK/control.sock" "$@"; }

# Can the vm open a TCP connection to net's PORT within 2 seconds?
vm_connects() { in_vm timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }

# vm_connects_from SOURCE HOST PORT: the same, from a chosen source address.
vm_connects_from() {
	in_vm timeout 3 /usr/bin/python3 -c '
import socket, sys
family = socket.AF_INET6 if ":" in sys.argv[2] else socket.AF_INET
s = socket.socket(family, socket.SOCK_STREAM)
s.bind((sys.argv[1], 0))
s.settimeout(2)
s.connect((sys.argv[2], int(sys.argv[3])))
' "$1" "$2" "$3" 2>/dev/null
}

# One mail through the sink, as an honest VM sends it.
vm_mail() {
	in_vm timeout 10 swaks --silent 2 --server 10.0.1.2 --to user@example.net \
		--from vm@example.com --helo vm.example.com >/dev/null 2>&1
}

# vm_smtp_burst [COUNT] [SECONDS] [SERVER]: a burst of SMTP connections from
# the vm, bounded in count and time. Run in the background, stop it with
# burst_stop: smtp-source's retries against a ban must not go on into the
# next check.
vm_smtp_burst() {
	in_vm timeout "${2:-8}" smtp-source -c -s 10 -m "${1:-60}" "${3:-10.0.1.2:25}" >/dev/null 2>&1
}

# burst_stop PID: ends a background burst, or any traffic generator run in
# the vm: the job and every process in the vm namespace, since killing the
# job alone can leave its generator sending after a lift.
burst_stop() {
	kill "$1" 2>/dev/null
	ip netns pids "$VM" 2>/dev/null | xargs -r kill 2>/dev/null
	wait "$1" 2>/dev/null
}

now_us() { echo "${EPOCHREALTIME/./}"; }

# wait_until MS COMMAND...: runs COMMAND until it succeeds, up to MS
# milliseconds; sets WAITED_MS to how long it took.
wait_until() {
	local limit=$1 start
	shift
	start=$(now_us)
	while :; do
		if "$@"; then
			WAITED_MS=$((($(now_us) - start) / 1000))
			return 0
		fi
		(($(now_us) - start > limit * 1000)) && return 1
		sleep 0.01
	done
}

# wait_for_bans JQ_FILTER [MS]: until "abusectl --json bans" satisfies the filter (5000 ms).
wait_for_bans() { wait_until "${2:-5000}" bans_match "$1"; }
# wait_for_status JQ_FILTER [MS]: the same for "abusectl --json status" (2000 ms).
wait_for_status() { wait_until "${2:-2000}" status_match "$1"; }

# bans_match JQ_FILTER: does "abusectl --json bans" satisfy the filter?
# (jq -e on no input succeeds: a daemon that does not answer must not match.)
bans_match() { local reply; reply=$(ctl --json bans 2>/dev/null) && jq -e "$1" >/dev/null 2>&1 <<<"$reply"; }
status_match() { local reply; reply=$(ctl --json status 2>/dev/null) && jq -e "$1" >/dev/null 2>&1 <<<"$reply"; }

kernel_set_has() { in_hv nft list set inet abuseguard "$1" 2>/dev/null | grep -q -- "$2"; }

# vm_forged_syns [-i IFACE PEER] SOURCE DESTINATION COUNT [PORT] [INTERVAL_S]: COUNT
# TCP SYNs claiming SOURCE, written as raw frames on the vm's IFACE (eth0) to the
# MAC of PEER (agvm0) in hv, so they are routed as real packets would be.
# PORT (25) may be a range FIRST-LAST, gone through in turn: a port scan.
# Bounded by COUNT. With MARK=N, prints the epoch milliseconds at which the
# Nth SYN went out.
vm_forged_syns() {
	local iface=eth0 peer=agvm0
	if [ "$1" = -i ]; then iface=$2 peer=$3; shift 3; fi
	local mac
	mac=$(ip -n "$HV" -j link show "$peer" | jq -r '.[0].address')
	in_vm timeout 30 python3 - "$iface" "$mac" "$@" <<'PY'
import os, socket, struct, sys, time
iface, mac, source, destination, count = sys.argv[1:6]
first, _, last = (sys.argv[6] if len(sys.argv) > 6 else "25").partition("-")
first = int(first); ports = int(last) - first + 1 if last else 1
interval = float(sys.argv[7]) if len(sys.argv) > 7 else 0.005
mark = int(os.environ.get("MARK", "0"))
def checksum(data):
    if len(data) % 2: data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16: total = (total & 0xffff) + (total >> 16)
    return ~total & 0xffff
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
own = s.getsockname()[4]
src, dst = socket.inet_aton(source), socket.inet_aton(destination)
for i in range(int(count)):
    tcp = struct.pack("!HHIIBBHHH", 40000 + i % 20000, first + i % ports, i, 0, 5 << 4, 0x02, 64240, 0, 0)
    tcp = tcp[:16] + struct.pack("!H", checksum(src + dst + struct.pack("!BBH", 0, 6, len(tcp)) + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), i & 0xffff, 0, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    if i + 1 == mark:
        print(int(time.time() * 1000), flush=True)
    s.send(bytes.fromhex(mac.replace(":", "")) + own + b"\x08\x00" + ip + tcp)
    time.sleep(interval)
PY
}
