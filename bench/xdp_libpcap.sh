#!/usr/bin/env bash
# The XDP program's cost per packet live, beside the daemon's libpcap capture:
# on the lab's vm-facing veth (tests/lab/lib.sh), with real traffic from the
# vm (TCP segments with 200 bytes of payload to port 80, what the capture's
# filter passes, written as raw frames as fast as python3 sends them),
# the kernel's own statistics (kernel.bpf_stats_enabled: run_time_ns and
# run_cnt of the attached program, read with bpftool) before and after each
# burst. In the same run and with the same program and maps: the daemon's
# capture reading every packet (crawler.http_ports = [ 80 ]), then, after a
# reload to [ 8080 ], the same handle reading none (its kernel filter refuses
# them), in turns; then the empty XDP program on the same veth and traffic,
# the floor the "XDP cost per packet" row measures against; and the same
# frame through the daemon's program by BPF_PROG_TEST_RUN (bpftool prog run,
# caches hot), what that row measures. The statistics
# setting is put back on exit, as are the namespaces.
# Usage: bench/xdp_libpcap.sh BUILD [--smoke]
set -u
BUILD=$(realpath "${1:-build}")
packets=50000 rounds=3
[ "${2:-}" = --smoke ] && packets=2000 rounds=1
cd "$(dirname "$0")/.."
LAB=agbp$$
. tests/lab/lib.sh
lab_setup || { echo "bench: lab namespaces could not be created" >&2; exit 1; }
stats_were=$(sysctl -n kernel.bpf_stats_enabled)
lab_at_exit "sysctl -qw kernel.bpf_stats_enabled=$stats_were"
sysctl -qw kernel.bpf_stats_enabled=1 || { echo "bench: kernel.bpf_stats_enabled" >&2; exit 1; }

sed -e 's/http_ports = \[ 80, 8080 \]/http_ports = [ 80 ]/' policy/abuseguard.conf >"$WORK/policy.conf"
grep -q 'http_ports = \[ 80 \]' "$WORK/policy.conf" || { echo "bench: policy's http_ports" >&2; exit 1; }
daemon_start "$WORK/policy.conf" "$WORK/state" || { echo "bench: daemon did not start" >&2; exit 1; }
in_hv ping -c 1 -W 1 10.0.1.2 >/dev/null
in_vm ping -c 1 -W 1 10.0.1.2 >/dev/null
gateway=$(ip -n "$HV" -j link show agvm0 | jq -r '.[0].address')

program_id() { ip -n "$HV" -j link show agvm0 | jq -r '.[0].xdp.prog.id // empty'; }
# run_time_ns run_cnt of program ID
program_stats() { bpftool -j prog show id "$1" | jq -r '"\(.run_time_ns // 0) \(.run_cnt // 0)"'; }
libpcap_packets() { ctl metrics | awk '$1 == "abuseguard_wire_packets_total" { print $2 }'; }
libpcap_drops() { ctl metrics | awk '$1 == "abuseguard_wire_kernel_drops_total" { print $2 }'; }
# The burst's frame, the vm's TCP segment to net's port 80 with 200 bytes, in
# $WORK/frame, and the XDP context of its arrival on agvm0 in $WORK/context.
python3 - "$gateway" "$(ip -n "$VM" -j link show eth0 | jq -r '.[0].address')" \
	"$(ip -n "$HV" -j link show agvm0 | jq -r '.[0].ifindex')" "$WORK" <<'PY' || exit 1
import socket, struct, sys
hv, vm = (bytes.fromhex(mac.replace(":", "")) for mac in sys.argv[1:3])
ifindex, work = int(sys.argv[3]), sys.argv[4]
tcp = struct.pack("!HHIIBBHHH", 40000, 80, 1, 1, 5 << 4, 0x18, 64240, 0, 0) + b"x" * 200
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0, 64, 6, 0,
                 socket.inet_aton("10.0.0.5"), socket.inet_aton("10.0.1.2"))
total = sum(struct.unpack("!10H", ip))
total = (total & 0xFFFF) + (total >> 16)
ip = ip[:10] + struct.pack("!H", ~total & 0xFFFF) + ip[12:]  # forwarded, so net resets it
frame = hv + vm + b"\x08\x00" + ip + tcp
open(work + "/frame", "wb").write(frame)
open(work + "/context", "wb").write(struct.pack("<6I", 0, len(frame), 0, ifindex, 0, 0))
PY
# burst ID: $packets copies of the frame from the vm; prints "ns_per_packet runs"
burst() {
	local before after
	before=$(program_stats "$1")
	in_vm timeout 120 python3 - "$WORK/frame" "$packets" <<'PY'
import socket, sys
frame, count = open(sys.argv[1], "rb").read(), int(sys.argv[2])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth0", 0))
for _ in range(count):
    s.send(frame)
PY
	after=$(program_stats "$1")
	awk -v b="$before" -v a="$after" 'BEGIN { split(b, x, " "); split(a, y, " ");
		runs = y[2] - x[2]; printf "%.1f %d\n", (runs > 0 ? (y[1] - x[1]) / runs : 0), runs }'
}
# test_run ID: ns per run of the same frame through program ID by BPF_PROG_TEST_RUN, hot
test_run() {
	in_hv bpftool prog run id "$1" data_in "$WORK/frame" ctx_in "$WORK/context" \
		repeat "$packets" 2>&1 | sed -n 's/.*duration (average): \([0-9]*\)ns.*/\1/p'
}
reload_ports() {
	sed -i -e "s/http_ports = \[ [0-9]* \]/http_ports = [ $1 ]/" "$WORK/policy.conf"
	ctl reload --reason "bench: libpcap reads port $1" >/dev/null
}

id=$(program_id)
[ -n "$id" ] || { echo "bench: no XDP program on agvm0" >&2; exit 1; }
echo "abuseguard_xdp: program id $id on agvm0 ($(grep -o 'XDP program attached ([a-z]* mode)' "$WORK/daemon.log"))" >&2
reading=() idle=() read_total=0
for round in $(seq "$rounds"); do
	reload_ports 80
	seen=$(libpcap_packets)
	set -- $(burst "$id")
	reading+=("$1")
	read_total=$((read_total + $(libpcap_packets) - seen))
	echo "round $round, libpcap reading: $1 ns over $2 runs, libpcap handed $(($(libpcap_packets) - seen)) packets" >&2
	reload_ports 8080
	seen=$(libpcap_packets)
	set -- $(burst "$id")
	idle+=("$1")
	echo "round $round, libpcap reading none: $1 ns over $2 runs, libpcap handed $(($(libpcap_packets) - seen)) packets" >&2
done
hot=()
for round in $(seq "$rounds"); do
	hot+=("$(test_run "$id")")
	echo "round $round, the same program and frame by BPF_PROG_TEST_RUN: ${hot[-1]} ns" >&2
done
drops=$(libpcap_drops)
daemon_stop TERM
in_hv ip link set dev agvm0 xdpdrv obj "$BUILD/empty.bpf.o" sec xdp ||
	{ echo "bench: the empty program does not attach" >&2; exit 1; }
empty_id=$(program_id)
empty=()
for round in $(seq "$rounds"); do
	set -- $(burst "$empty_id")
	empty+=("$1")
	echo "round $round, empty program: $1 ns over $2 runs" >&2
done
in_hv ip link set dev agvm0 xdpdrv off

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
r=$(median "${reading[@]}") i=$(median "${idle[@]}") e=$(median "${empty[@]}") h=$(median "${hot[@]}")
printf 'row\tXDP cost live beside libpcap (lab veth)\t%s\t%s\t%s\n' \
	"$(awk -v r="$r" -v i="$i" -v e="$e" -v h="$h" 'BEGIN { printf "libpcap reading **%.2fx** reading none; **%.2fx** the empty XDP program; %.2fx its own test run on the same frame", r / (i > 0 ? i : 1), (r / (e > 0 ? e : 1)), (r / (h > 0 ? h : 1)) }')" \
	"run_time_ns/run_cnt: libpcap reading every packet $r ns, reading none $i ns, empty program $e ns; the same program and frame by BPF_PROG_TEST_RUN (hot caches) $h ns; libpcap handed the daemon $read_total packets while reading (the kernel dropped ${drops:-?} its buffer had no room for)" \
	"$packets TCP segments with 200 bytes to port 80 per burst (and net's resets), $rounds rounds each taking turns, median"
