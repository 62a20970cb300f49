#!/usr/bin/env bash
# Metrics for Prometheus: `abusectl metrics` prints the text format, which
# promtool accepts, and its counters move when the lab's VM sends an SMTP
# burst; the policy's metrics.file is rewritten every metrics.interval by
# atomic rename, readable by node_exporter, and a failing write is logged
# once and counted.
. "$(dirname "$0")/lib.sh"
lab_begin "$@"
TEXTFILE=$WORK/textfile
PROM=$TEXTFILE/abuseguard.prom
mkdir -p "$TEXTFILE"
sed -e 's|^\tfile = "";|\tfile = "'"$PROM"'";|' -e 's|^\tinterval = "15s";|\tinterval = "1s";|' \
	policy/abuseguard.conf >"$WORK/policy.conf"
check "the lab's policy names the metrics file and a 1 s interval" \
	bash -c "grep -q 'file = \"$PROM\";' '$WORK/policy.conf' && grep -q 'interval = \"1s\";' '$WORK/policy.conf'"

# metric NAME_AND_LABELS [FILE]: the value of one sample ("" if absent).
metric() {
	local text
	if [ -n "${2:-}" ]; then text=$(cat "$2" 2>/dev/null); else text=$(ctl metrics 2>/dev/null); fi
	awk -v key="$1" '$1 == key { print $2 }' <<<"$text"
}
metric_is() { test "$(metric "$1" "${3:-}")" = "$2"; }
metric_above() { local v; v=$(metric "$1"); test -n "$v" && test "$v" -gt "$2"; }

check "the daemon starts with metrics.file and a 1 s interval" daemon_start "$WORK/policy.conf" "$WORK/state"
ctl metrics >"$WORK/metrics.txt"
check "abusectl metrics prints the text format, which promtool check metrics accepts" \
	promtool check metrics <"$WORK/metrics.txt"
check "every sample has # HELP and # TYPE lines for its family" \
	test "$(grep -c '^# TYPE ' "$WORK/metrics.txt")" -eq "$(grep -c '^# HELP ' "$WORK/metrics.txt")" -a \
	"$(grep -c '^# TYPE ' "$WORK/metrics.txt")" -ge 20
check "before any burst no spam ban is counted" \
	metric_is 'abuseguard_bans_total{category="spam",scope="smtp"}' 0
check "one attached interface is counted" metric_is abuseguard_interfaces_attached 1
check "no ticket is open yet" metric_is 'abuseguard_tickets{status="open"}' 0

vm_smtp_burst 60 8 &
burst=$!
wait_for_bans '.bans[] | select(.source == "10.0.0.5")' 5000
burst_stop "$burst"
check "after a burst the spam/smtp ban is counted" \
	metric_is 'abuseguard_bans_total{category="spam",scope="smtp"}' 1
check "and the finding, by category and action" \
	metric_is 'abuseguard_findings_total{category="spam",action="ban"}' 1
check "the XDP program's SMTP attempts counter moved past the threshold (30)" \
	metric_above abuseguard_xdp_smtp_attempts_total 29
check "packets are counted" metric_above abuseguard_xdp_packets_total 30
check "the active ban shows in the gauge" metric_is 'abuseguard_bans_active{family="ipv4"}' 1
check "the ticket the ban opened is counted by status: one open" \
	metric_is 'abuseguard_tickets{status="open"}' 1
check "and none closed" metric_is 'abuseguard_tickets{status="closed"}' 0
check "no ring-buffer drop" metric_is abuseguard_ringbuf_drops_total 0
check "the VM's ARP was handed up to learn from" \
	metric_above 'abuseguard_xdp_learn_frames_total{kind="handed_up"}' 0
check "agvm0's own attribution counters are there: nothing spoofed" \
	metric_is 'abuseguard_interface_spoofed_total{interface="agvm0"}' 0
check "and no source refused by its quota" \
	metric_is 'abuseguard_interface_sources_refused_total{interface="agvm0"}' 0
check "as in status, per interface" status_match '.interfaces[] | select(.name == "agvm0" and .spoofed == 0 and .learn_frames > 0)'
check "first contacts are counted, the SYNs of the burst among them" \
	metric_above 'abuseguard_xdp_scan_first_contacts_total{kind="probe"}' 0
check "no finding against an address no VM can own" metric_is abuseguard_never_bannable_total 0

check "within 2 s the metrics file shows the ban too" \
	wait_until 2000 metric_is 'abuseguard_bans_total{category="spam",scope="smtp"}' 1 "$PROM"
check "the metrics file passes promtool" bash -c "promtool check metrics <'$PROM'"
check "the metrics file is readable by node_exporter's user (mode 0644)" \
	test "$(stat -c %a "$PROM")" = 644
before=$(stat -c %i "$PROM")
sleep 1.5
check "the file is replaced by rename (a new inode every interval), no temporary left" \
	bash -c "test \"\$(stat -c %i '$PROM')\" != '$before' && ! ls '$TEXTFILE' | grep -q tmp"

# A directory the daemon cannot write: said once, counted, and the daemon goes on.
rm -rf "$TEXTFILE"
check "a write that fails is counted" \
	wait_until 3000 bash -c "'$BUILD/abusectl' -s '$WORK/control.sock' metrics | grep -Eq '^abuseguard_metrics_file_errors_total [1-9]'"
sleep 1.2
check "and logged once, with the path" \
	test "$(grep -c "$PROM: cannot write the metrics: No such file or directory" "$WORK/daemon.log")" -eq 1
mkdir -p "$TEXTFILE"
check "when the directory is back the file is written again, and that is logged" \
	wait_until 3000 bash -c "test -s '$PROM' && grep -q '$PROM: metrics written again' '$WORK/daemon.log'"
daemon_stop TERM
exit 0
