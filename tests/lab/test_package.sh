#!/usr/bin/env bash
# The tree as providers deploy it. `make install` (DESTDIR, PREFIX) installs
# exactly the programs, the man pages, the policy, the unit with the
# installed paths, the sysusers and tmpfiles snippets and abusectl's bash
# completion. `make deb` builds a Debian package of the same set (nocheck:
# the tests are this suite), and dpkg -i installs it on this machine: the
# policy is a conffile that keeps local changes, the account and its
# directories exist, the unit is enabled, abuseguardd -t passes on the
# installed policy. Where systemd is PID 1 the postinst starts the service
# and the test checks it runs. Where it is not (a container: the postinst's
# deb-systemd-invoke start is skipped, as it checks /run/systemd/system), the
# test starts the installed unit's ExecStart itself the way systemd would,
# as the unit's User= with its AmbientCapabilities= and UMask=, on the
# installed policy, state and runtime directories, in the lab's hv
# namespace, and an SMTP burst is banned. dpkg --purge removes all of it but
# the account and the kernel's ban elements, as documented; the account the
# test made is removed at exit, so later tests see no abuseguard group.
. "$(dirname "$0")/lib.sh"
lab_begin "$@"

# What make install puts under DESTDIR for PREFIX ($1), one path a line, sorted.
expected_files() {
	{
		echo /etc/abuseguard/abuseguard.conf
		echo "$1/bin/abusectl"
		echo "$1/lib/systemd/system/abuseguard.service"
		echo "$1/lib/sysusers.d/abuseguard.conf"
		echo "$1/lib/tmpfiles.d/abuseguard.conf"
		echo "$1/sbin/abuseguardd"
		echo "$1/share/man/man5/abuseguard.conf.5"
		echo "$1/share/man/man8/abusectl.8"
		echo "$1/share/man/man8/abuseguardd.8"
		echo "$1/share/bash-completion/completions/abusectl"
	} | sort
}
tree_files() { (cd "$1" && find . -type f -o -type l) | sed 's|^\.||' | sort; }

for prefix in /usr /opt/abuseguard; do
	root=$WORK/root$(echo "$prefix" | tr / _)
	make -s install BUILD="$BUILD" DESTDIR="$root" PREFIX="$prefix" >"$WORK/install.log" 2>&1
	check "make install DESTDIR=... PREFIX=$prefix succeeds" test $? -eq 0
	tree_files "$root" >"$WORK/installed"
	expected_files "$prefix" >"$WORK/expected"
	check "it installs exactly the programs, man pages, policy, unit, sysusers, tmpfiles and completion files" \
		diff "$WORK/expected" "$WORK/installed"
	check "the unit starts $prefix/sbin/abuseguardd with /etc/abuseguard/abuseguard.conf" \
		grep -q "^ExecStart=$prefix/sbin/abuseguardd -c /etc/abuseguard/abuseguard.conf" \
		"$root$prefix/lib/systemd/system/abuseguard.service"
done
check "the programs are executable, the rest not" \
	bash -c "[ -x '$WORK/root_usr/usr/sbin/abuseguardd' ] && [ -x '$WORK/root_usr/usr/bin/abusectl' ] &&
		[ ! -x '$WORK/root_usr/etc/abuseguard/abuseguard.conf' ]"
# The unit in the restored tree again names the build's paths.
make -s BUILD="$BUILD" "$BUILD/abuseguard.service" >/dev/null 2>&1

started=$SECONDS
make -s deb BUILD="$BUILD" >"$WORK/deb.log" 2>&1
check "make deb builds a package ($((SECONDS - started)) s)" test $? -eq 0
DEB=$(ls "$BUILD"/deb/abuseguard_*.deb 2>/dev/null | head -n 1)
[ -n "$DEB" ] || { not_ok "make deb left a .deb in $BUILD/deb"; cat "$WORK/deb.log"; exit 1; }
# The package's files as make install's: man pages compressed, the unit where
# bookworm keeps units, debhelper's changelog and copyright besides.
dpkg-deb -c "$DEB" | awk '$1 !~ /^d/ { print $6 }' | sed -e 's|^\.||' -e 's|\.gz$||' \
	-e 's|^/lib/systemd/|/usr/lib/systemd/|' | grep -v '^/usr/share/doc/abuseguard/' | sort \
	>"$WORK/packaged"
check "the package holds what make install installs" diff "$(expected_files /usr >"$WORK/expected" &&
	echo "$WORK/expected")" "$WORK/packaged"
check "its only conffile is the policy" \
	test "$(dpkg-deb -f "$DEB" Package; dpkg-deb --ctrl-tarfile "$DEB" | tar -xO ./conffiles)" = \
	"abuseguard
/etc/abuseguard/abuseguard.conf"

# Installed on this machine; everything it did is undone at exit.
had_user=no
getent passwd abuseguard >/dev/null && had_user=yes
had_group=no
getent group abuseguard >/dev/null && had_group=yes
had_table=no
nft list table inet abuseguard >/dev/null 2>&1 && had_table=yes
# A service systemd started made its table in this namespace: the purge leaves it, as documented.
lab_at_exit 'dpkg --purge abuseguard >/dev/null 2>&1
	[ "$had_table" = yes ] || nft delete table inet abuseguard 2>/dev/null
	[ "$had_user" = yes ] || userdel abuseguard 2>/dev/null
	[ "$had_group" = yes ] || groupdel abuseguard 2>/dev/null'
refute "the package is not installed before the test" dpkg -s abuseguard
DEBIAN_FRONTEND=noninteractive dpkg -i "$DEB" >"$WORK/dpkg-install.log" 2>&1
check "dpkg -i installs it" test $? -eq 0
check "dpkg knows the policy as a conffile" \
	bash -c "dpkg-query -W -f='\${Conffiles}' abuseguard | grep -q '/etc/abuseguard/abuseguard.conf [0-9a-f]'"
check "the account and group abuseguard exist (sysusers)" \
	bash -c "getent passwd abuseguard | grep -q ':/var/lib/abuseguard:/usr/sbin/nologin$' && getent group abuseguard >/dev/null"
check "/var/lib/abuseguard is the account's, 0750 (tmpfiles)" \
	test "$(stat -c '%U %G %a' /var/lib/abuseguard 2>/dev/null)" = "abuseguard abuseguard 750"
check "the unit is enabled for multi-user.target" \
	test -L /etc/systemd/system/multi-user.target.wants/abuseguard.service
check "abuseguardd -t accepts the installed policy" /usr/sbin/abuseguardd -t -c /etc/abuseguard/abuseguard.conf
check "man finds the installed pages" bash -c "man -w abuseguardd abusectl abuseguard.conf >/dev/null"
postinst=$(dpkg-query --control-path abuseguard postinst)
# first_line PATTERN FILE: the number of FILE's first line matching PATTERN.
first_line() { grep -n -m1 -- "$1" "$2" | cut -d: -f1; }
sysusers_line=$(first_line 'systemd-sysusers ' "$postinst")
tmpfiles_line=$(first_line 'systemd-tmpfiles .*--create' "$postinst")
check "the postinst makes the account (line ${sysusers_line:-none}) before the directories (line ${tmpfiles_line:-none})" \
	test "${sysusers_line:-0}" -gt 0 -a "${sysusers_line:-0}" -lt "${tmpfiles_line:-0}"
check "the postinst enables the unit and starts it (deb-systemd-helper enable, deb-systemd-invoke start)" \
	bash -c "grep -q \"deb-systemd-helper enable 'abuseguard.service'\" '$postinst' &&
		grep -q \"deb-systemd-invoke start 'abuseguard.service'\" '$postinst'"
installed_ctl() { /usr/bin/abusectl "$@"; }
ctl() { installed_ctl "$@"; }
unit=/lib/systemd/system/abuseguard.service
unit_value() { sed -n "s/^$1=//p" "$unit"; }
pid1=$(ps -p 1 -o comm=)
if [ "$pid1" = systemd ]; then
	check "systemd runs the service after install" systemctl is-active --quiet abuseguard
	check "the installed abusectl reaches it on /run/abuseguard/control.sock" wait_until 10000 ctl status
else
	echo "# PID 1 is $pid1, not systemd: the postinst enabled the unit, but its start is systemd's"
	echo "# (skipped without /run/systemd/system); the test runs the unit's ExecStart as systemd would"
	check "dpkg -i did not fail for want of a running systemd" test -z "$(grep -i 'error' "$WORK/dpkg-install.log")"
	caps=$(unit_value AmbientCapabilities | tr ' ' '\n' | sed 's/^CAP_/+/' | tr A-Z a-z | paste -sd,)
	# shellcheck disable=SC2046
	(umask "$(unit_value UMask)" && exec ip netns exec "$HV" setpriv \
		--reuid="$(unit_value User)" --regid="$(unit_value Group)" --clear-groups \
		$([ "$(unit_value NoNewPrivileges)" = yes ] && echo --no-new-privs) \
		--inh-caps=-all,$caps --ambient-caps=-all,$caps --bounding-set=-all,$caps \
		$(unit_value ExecStart) -i 'agvm*') >>"$WORK/daemon.log" 2>&1 &
	DAEMON_PID=$!
	check "the installed unit's ExecStart, as its User= with its capabilities and NoNewPrivileges, starts on the installed policy" \
		wait_until 10000 ctl status
	check "the store is the account's, in /var/lib/abuseguard" \
		test "$(stat -c %U /var/lib/abuseguard/abuseguard.db 2>/dev/null)" = abuseguard
	check "the control socket is /run/abuseguard/control.sock, group abuseguard" \
		test "$(stat -c %G /run/abuseguard/control.sock 2>/dev/null)" = abuseguard
	vm_smtp_burst 60 8 &
	burst=$!
	check "the installed daemon bans an SMTP burst" wait_for_bans '.bans[] | select(.source == "10.0.0.5" and .scope == "smtp")' 8000
	burst_stop "$burst"
	check "the kernel set ban4_smtp holds the VM" kernel_set_has ban4_smtp 10.0.0.5
	daemon_stop TERM
fi
echo "# an operator's change" >>/etc/abuseguard/abuseguard.conf
DEBIAN_FRONTEND=noninteractive dpkg -i --force-confold "$DEB" >/dev/null 2>&1
check "reinstalling keeps a changed policy (a conffile)" grep -q "an operator's change" /etc/abuseguard/abuseguard.conf

dpkg --purge abuseguard >"$WORK/dpkg-purge.log" 2>&1
check "dpkg --purge removes it" test $? -eq 0
left=
for path in $(expected_files /usr) /lib/systemd/system/abuseguard.service /etc/abuseguard \
	/var/lib/abuseguard /run/abuseguard /etc/systemd/system/multi-user.target.wants/abuseguard.service; do
	[ ! -e "$path" ] && [ ! -L "$path" ] || left="$left $path"
done
check "nothing it installed or made is left (${left:-none})" test -z "$left"
check "the account stays, as documented (no later owner inherits its files)" \
	getent passwd abuseguard
