#!/usr/bin/env bash
# abuseguard.service as systemd would run it: the unit passes
# `systemd-analyze verify` and rates 4.0 or lower in `systemd-analyze
# security`; the daemon runs in the lab as an unprivileged user with exactly
# the unit's capabilities (setpriv), starts, detects an SMTP burst and bans;
# under strace it makes only system calls the unit's SystemCallFilter allows,
# opens only the socket families RestrictAddressFamilies allows, reads nothing
# of /proc (ProcSubset=pid) and writes only to its state and runtime
# directories (ProtectSystem=strict). Under NoNewPrivileges the shipped
# mail path still works: the notice for the ban reaches the customer's
# mailbox through SMTP to a real Postfix on 127.0.0.1:25, where Postfix's
# setgid sendmail cannot queue at all. With any one capability fewer it
# refuses to start and names the capability.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/postfix.sh"
lab_begin "$@"
TEMPLATE=systemd/abuseguard.service.in

# unit_value KEY: the unit's setting, from the template.
unit_value() { sed -n "s/^$1=//p" "$TEMPLATE"; }
UNIT_CAPS=$(unit_value AmbientCapabilities)
UNIT_FILTER=$(unit_value SystemCallFilter)
UNIT_FAMILIES=$(unit_value RestrictAddressFamilies)

# The unit as make installs it, with the build's programs and the repository's man pages.
mkdir -p "$WORK/unit" "$WORK/man/man5" "$WORK/man/man8"
sed -e "s|@SBINDIR@|$BUILD|g" -e "s|@SYSCONFDIR@|/etc|g" "$TEMPLATE" >"$WORK/unit/abuseguard.service"
ln -s "$PWD"/daemon/*.8 "$WORK/man/man8/" && ln -s "$PWD"/daemon/*.5 "$WORK/man/man5/"
check "systemd-analyze verify accepts the unit (its Documentation= pages included)" \
	env MANPATH="$WORK/man" systemd-analyze verify "$WORK/unit/abuseguard.service"
exposure=$(systemd-analyze security --offline=yes "$WORK/unit/abuseguard.service" 2>/dev/null |
	sed -n 's/.*Overall exposure level for abuseguard.service: \([0-9.]*\).*/\1/p')
check "systemd-analyze security --offline=yes rates the unit ${exposure:-?} (4.0 or lower)" \
	awk -v e="${exposure:-99}" 'BEGIN { exit !(e <= 4.0) }'
check "the unit runs the daemon as its own user, not root" test "$(unit_value User)" = abuseguard
check "the unit grants CAP_NET_ADMIN CAP_BPF CAP_PERFMON CAP_NET_RAW and bounds itself to them" \
	test "$UNIT_CAPS" = "CAP_NET_ADMIN CAP_BPF CAP_PERFMON CAP_NET_RAW" -a "$(unit_value CapabilityBoundingSet)" = "$UNIT_CAPS"

# setpriv's form of a capability list: "+net_admin,+bpf,+perfmon,+net_raw".
setpriv_caps() { for c in "$@"; do printf '+%s,' "$(echo "${c#CAP_}" | tr A-Z a-z)"; done | sed 's/,$//'; }

# run_sandboxed LOG CAPS...: the daemon in hv as nobody:nogroup with only CAPS,
# as the unit's User= and AmbientCapabilities= would run it, under strace.
STATE=$WORK/state RUN=$WORK/run TRACE=$WORK/trace
mkdir -p "$STATE" "$RUN" "$TRACE" && chown 65534:65534 "$STATE" "$RUN" "$TRACE"
# The shipped policy, its notify section as shipped (smtp = "127.0.0.1:25"),
# with the VM's customer, so the ban's notice is mailed to customer.example.
sed -e 's/^control_group = "abuseguard";/control_group = "nogroup";/' \
	-e 's/^customers = ( );/customers = ( { id = "c-1"; name = "Lab Customer"; contact = "abuse@customer.example"; prefixes = [ "10.0.0.0\/24" ]; } );/' \
	policy/abuseguard.conf >"$WORK/policy.conf"
check "the sandbox's policy keeps the shipped SMTP relay and routes 10.0.0.5 to a customer" \
	grep -q '^customers = ( { id = "c-1"' "$WORK/policy.conf"

# The MTA the shipped policy names: Postfix on 127.0.0.1:25 in hv, delivering
# customer.example locally and nothing else.
chmod 755 "$WORK"
lab_at_exit 'postfix_stop "$WORK/postfix"'
check "a private Postfix takes SMTP on 127.0.0.1:25 in hv (local delivery only)" \
	in_hv bash -c ". tests/lab/postfix.sh && postfix_start '$WORK/postfix' 127.0.0.1:25"
# Why the default is SMTP: Postfix's sendmail hands the message to setgid
# postdrop, and under the unit's NoNewPrivileges=yes the setgid bit does
# nothing, so postdrop cannot write the maildrop. (The default main.cf is
# this instance's, in a mount namespace of the check's own.)
sendmail_as_unit() {
	unshare -m --propagation private bash -c "mount --bind '$WORK/postfix/conf' /etc/postfix &&
		printf 'From: abuse@provider.example\nTo: abuse@customer.example\nSubject: by sendmail\n\n$1\n' |
		timeout 5 setpriv --reuid=65534 --regid=65534 --clear-groups $2 /usr/sbin/sendmail -t -i" \
		>>"$WORK/sendmail.log" 2>&1
}
check "as nobody without NoNewPrivileges, Postfix's sendmail queues a message" sendmail_as_unit control ''
refute "as nobody under NoNewPrivileges (the unit's), Postfix's sendmail cannot queue one" \
	sendmail_as_unit nnp --no-new-privs
run_sandboxed() {
	local log=$1 caps
	shift
	caps=$(setpriv_caps "$@")
	ip netns exec "$HV" setpriv --reuid=65534 --regid=65534 --clear-groups --no-new-privs \
		--inh-caps=-all${caps:+,$caps} --ambient-caps=-all${caps:+,$caps} \
		--bounding-set=-all${caps:+,$caps} \
		strace -f -qq -o "$TRACE/strace.out" \
		"$BUILD/abuseguardd" -c "$WORK/policy.conf" -i 'agvm*' --state-dir "$STATE" \
		--socket "$RUN/control.sock" >>"$log" 2>&1 &
	DAEMON_PID=$!
}
sandbox_ctl() { "$BUILD/abusectl" -s "$RUN/control.sock" "$@"; }
sandbox_up() { sandbox_ctl status >/dev/null 2>&1; }
sandbox_banned() {
	sandbox_ctl --json bans 2>/dev/null |
		jq -e '.bans[] | select(.source == "10.0.0.5" and .scope == "smtp")' >/dev/null
}

# shellcheck disable=SC2086
run_sandboxed "$WORK/daemon.log" $UNIT_CAPS
check "as nobody with exactly the unit's capabilities ($UNIT_CAPS) the daemon starts" \
	wait_until 10000 sandbox_up
check "the control socket is the control group's: srw-rw---- nobody nogroup" \
	bash -c "stat -c '%A %U %G' '$RUN/control.sock' | grep -qx 'srwxrwx--- nobody nogroup\|srw-rw---- nobody nogroup'"
vm_smtp_burst 60 8 &
burst=$!
check "an SMTP burst is banned" wait_until 8000 sandbox_banned
burst_stop "$burst"
check "the kernel set ban4_smtp holds 10.0.0.5" kernel_set_has ban4_smtp 10.0.0.5
refute "the banned VM cannot open SMTP connections" vm_connects 10.0.1.2 25
# libpcap and the robots.txt fetch work with the same rights: a page the VM
# asks for makes the daemon fetch the site's robots.txt itself.
in_vm curl -sf --max-time 3 http://10.0.1.2/ -o /dev/null
check "libpcap reads the VM's interface with the unit's rights" \
	grep -q 'agvm0: libpcap reading TCP' "$WORK/daemon.log"
check "the daemon fetches a site's robots.txt with the unit's rights" \
	wait_until 5000 grep -q '^10\.0\.1\.1 .*GET /robots.txt' "$WORK/http.log"
# The ban's notice, submitted by SMTP under NoNewPrivileges as nobody.
mailbox=$WORK/postfix/mail/customer/new
notice_delivered() { grep -lqs '^X-Abuseguard-Kind: notice' "$mailbox"/*; }
check "the ban's notice reaches the customer's mailbox by SMTP to 127.0.0.1:25, within 30 s" \
	wait_until 30000 notice_delivered
check "the mail is the notice whole: to the customer, about 10.0.0.5, with its X-ARF spam report" \
	python3 - "$mailbox" <<'PY'
import email, email.policy, glob, json, sys
for path in glob.glob(sys.argv[1] + "/*"):
    m = email.message_from_binary_file(open(path, "rb"), policy=email.policy.default)
    if m["X-Abuseguard-Kind"] == "notice":
        break
else:
    sys.exit("no notice")
assert "abuse@customer.example" in str(m["To"]), m["To"]
assert "10.0.0.5" in str(m["Subject"]), m["Subject"]
parts = {p.get_filename(): p for p in m.iter_parts()}
report = json.loads(parts["xarf-report.json"].get_content())
assert report["type"] == "spam" and report["source_identifier"] == "10.0.0.5", report
PY
check "Postfix logged it as received by SMTP from 127.0.0.1" \
	grep -q 'postfix/smtpd.*connect from .*\[127.0.0.1\]' "$WORK/postfix/maillog"
check "the outbox counts the mail delivered" \
	bash -c "'$BUILD/abusectl' -s '$RUN/control.sock' metrics | grep -q '^abuseguard_notify_deliveries_total{outcome=\"ok\"} [1-9]'"
check "nothing queued by Postfix's sendmail under NoNewPrivileges reached the mailbox" \
	bash -c "! grep -lqs '^nnp' '$mailbox'/*"
# Signals go to the daemon itself, not to strace above it.
daemon=$(sandbox_ctl --json status | jq -r .pid)
kill -HUP "$daemon"
check "a reload works with the same capabilities" \
	wait_until 3000 grep -q 'policy reloaded$' "$WORK/daemon.log"
kill -TERM "$daemon"
wait_until 5000 grep -q 'abuseguardd stopped' "$WORK/daemon.log"
daemon_stop TERM
check "the daemon stops cleanly" grep -q 'abuseguardd stopped' "$WORK/daemon.log"

# What the daemon did, against what the unit allows.
# expand_filter SET...: the system calls a SystemCallFilter= list allows,
# groups (@name) expanded until only names are left.
expand_filter() {
	local todo=("$@") item
	while ((${#todo[@]} > 0)); do
		item=${todo[0]}
		todo=("${todo[@]:1}")
		if [[ $item == @* ]]; then
			mapfile -t -O "${#todo[@]}" todo < <(systemd-analyze syscall-filter "$item" </dev/null |
				sed -n 's/^ \{4\}\([@a-z0-9_-]*\)$/\1/p')
		else
			echo "$item"
		fi
	done
}
# shellcheck disable=SC2086
expand_filter $UNIT_FILTER | sort -u >"$WORK/allowed"
sed -E 's/^[0-9]+ +//' "$TRACE/strace.out" | grep -oE '^[a-z_0-9]+\(' | tr -d '(' | sort -u >"$WORK/used"
denied=$(grep -vxF -f "$WORK/allowed" "$WORK/used" | tr '\n' ' ')
check "every system call the daemon made ($(wc -l <"$WORK/used") of $(wc -l <"$WORK/allowed") allowed) is in SystemCallFilter=$UNIT_FILTER${denied:+; not: $denied}" \
	test -z "$denied"
families=$(grep -oE 'socket\(AF_[A-Z0-9]+' "$TRACE/strace.out" | sed 's/socket(//' | sort -u | tr '\n' ' ')
outside=$(for f in $families; do [[ " $UNIT_FAMILIES " == *" $f "* ]] || echo "$f"; done)
check "every socket family used ($families) is in RestrictAddressFamilies=$UNIT_FAMILIES" \
	test -z "$outside"
proc=$(grep -v ' = -1 ' "$TRACE/strace.out" | grep -oE '"/proc/[^"]*"' | grep -vE '^"/proc/(self|thread-self|[0-9]+)(/|")' | sort -u | tr '\n' ' ')
check "nothing of /proc beyond the process's own is read (ProcSubset=pid)${proc:+: $proc}" test -z "$proc"
# Writes: files opened for writing or created, directories made, names removed.
# /proc/self/fd/N is a file the daemon already holds (a memfd: an evidence
# excerpt), not a path in the file system.
written=$(grep -E 'openat\(.*O_(WRONLY|RDWR|CREAT)|mkdir(at)?\(|unlink(at)?\(|rename(at)?2?\(|bind\(.*sun_path' \
	"$TRACE/strace.out" | grep -v ' = -1 ' | grep -oE '"/[^"]*"' | tr -d '"' |
	grep -vE "^($STATE|$RUN)(/|$)|^/dev/null$|^/proc/self/fd/[0-9]+$" | sort -u | tr '\n' ' ')
check "the daemon writes only to its state and runtime directories (ProtectSystem=strict)${written:+: $written}" \
	test -z "$written"

# One capability fewer: a clear refusal naming it, before anything is touched.
for cap in $UNIT_CAPS; do
	# shellcheck disable=SC2086
	run_sandboxed "$WORK/missing-$cap.log" $(echo " $UNIT_CAPS " | sed "s/ $cap / /")
	wait "$DAEMON_PID"
	status=$?
	DAEMON_PID=
	check "without $cap the daemon exits 1 naming it (status $status)" \
		bash -c "test $status -eq 1 && grep -q 'missing capabilities: $cap (' '$WORK/missing-$cap.log'"
done
refute "no table was left by the refused starts" kernel_set_has ban4_smtp 10.0.0.6
exit 0
