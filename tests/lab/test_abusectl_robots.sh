#!/usr/bin/env bash
# abusectl robots check, the program as a user runs it: no daemon, no
# network; exit codes as abusectl(8) documents them.
. "$(dirname "$0")/lib.sh"
lab_begin --no-lab "$@"

cat >"$WORK/robots.txt" <<'ROBOTS'
User-agent: *
Disallow: /cart/

User-agent: FooBot
Disallow: /private/
ROBOTS

exit_status() {
	local want=$1; shift
	"$@" >"$WORK/out" 2>"$WORK/err"
	[ "$?" -eq "$want" ]
}
ctl_robots() { "$BUILD/abusectl" robots check "$@"; }

check "every URL allowed exits 0" exit_status 0 ctl_robots "$WORK/robots.txt" FooBot /cart/ /public
check "a disallowed URL exits 1" exit_status 1 ctl_robots "$WORK/robots.txt" "FooBot/2.1 (+http://foo.example)" http://shop.example/private/x
check "and prints the URL, the verdict and the rule's line" \
	grep -qx 'disallowed http://shop.example/private/x  line 5: Disallow: /private/  (group of line 4, user-agent FooBot)' "$WORK/out"
check "another agent gets the * group" exit_status 1 ctl_robots "$WORK/robots.txt" curl/8.0 /cart/1
check "--json gives the verdict to scripts" \
	bash -c "'$BUILD/abusectl' --json robots check '$WORK/robots.txt' curl /cart/1 | jq -e '.urls[0].verdict == \"disallowed\" and .urls[0].rule.line == 2' >/dev/null"
check "the robots.txt may come on standard input" \
	bash -c "printf 'User-agent: *\nDisallow: /\n' | '$BUILD/abusectl' robots check - a /x | grep -q '^disallowed /x'"
check "it needs no daemon: a socket that is not there does not matter" \
	exit_status 0 "$BUILD/abusectl" -s "$WORK/no.sock" robots check "$WORK/robots.txt" a /x
check "an unreadable file exits 66" exit_status 66 ctl_robots "$WORK/missing.txt" a /
check "and names it" grep -q "missing.txt: No such file or directory" "$WORK/err"
check "no URL is a usage error (64)" exit_status 64 ctl_robots "$WORK/robots.txt" a
check "robots without check is a usage error" exit_status 64 "$BUILD/abusectl" robots list "$WORK/robots.txt" a /
check "--reason is refused" exit_status 64 "$BUILD/abusectl" robots check "$WORK/robots.txt" a / --reason x

# The parser is a library of its own (robots/), so abusectl needs no daemon
# header: it speaks to the daemon only through include/protocol.h.
daemon_headers_included() {
	grep -ho '^#include "[^"]*"' abusectl/*.c abusectl/*.h | sed 's/^#include "\(.*\)"$/\1/' |
		sort -u | while read -r header; do
		[ -e "include/$header" ] && [ "$header" != protocol.h ] && echo "$header"
	done
}
check "abusectl includes no daemon header but protocol.h" \
	test -z "$(daemon_headers_included)"
check "and links none of the daemon's libraries (libbpf, libnftnl, SQLite, libpcap)" \
	bash -c "! ldd '$BUILD/abusectl' | grep -E 'libbpf|libnftnl|libsqlite3|libpcap|libconfig'"
