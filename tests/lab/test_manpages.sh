#!/usr/bin/env bash
# The man pages render without a warning (groff -ww), and abusectl(8)
# describes every command abusectl --help lists. No daemon, no namespaces.
set -u
BUILD=$(realpath "${1:-build}")
cd "$(dirname "$0")/../.."
for page in daemon/*.8 daemon/*.5; do
	warnings=$(groff -ww -man -z "$page" 2>&1)
	if [ -z "$warnings" ]; then echo "ok - $page renders without warnings"; else
		echo "not ok - $page renders without warnings"; echo "$warnings" | sed 's/^/#   /'; fi
done
missing=
while read -r command; do
	# ".It Ic vm set", ".It Ic robots check", ".It Ic bans Oo ...": the words after Ic.
	grep -q "^\.It Ic $command\( \|$\)" daemon/abusectl.8 || missing="$missing, $command"
done < <("$BUILD/abusectl" --help | awk -F'[ \t]+' '/^\t/ {
	name = ""
	for (i = 2; i <= NF && $i ~ /^[a-z]+$/; i++) name = name (name == "" ? "" : " ") $i
	print name
}')
if [ -z "$missing" ]; then echo "ok - abusectl(8) describes every command abusectl --help lists"; else
	echo "not ok - abusectl(8) lacks${missing#,}"; fi
