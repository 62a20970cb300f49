#!/usr/bin/env bash
# Bash completion for abusectl (completion/abusectl), as a shell user meets
# it: every command abusectl --help lists is offered, and the values of
# --scope, --category and mode. No daemon, no namespaces.
set -u
BUILD=$(realpath "${1:-build}")
cd "$(dirname "$0")/../.."
ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; }
. completion/abusectl

# complete WORD...: what completing the last word offers, one line.
complete_words() {
	COMP_WORDS=(abusectl "$@")
	COMP_CWORD=$#
	COMPREPLY=()
	_abusectl
	echo "${COMPREPLY[*]}"
}

offered=$(complete_words "")
missing=
for command in $("$BUILD/abusectl" --help | sed -n 's/^\t\([a-z]*\).*/\1/p' | sort -u); do
	case " $offered " in *" $command "*) ;; *) missing="$missing $command" ;; esac
done
if [ -z "$missing" ]; then ok "every command of abusectl --help is offered"; else
	not_ok "commands not offered:$missing"; fi
[ "$(complete_words ban 10.0.0.5 --scope "")" = "smtp web all" ] &&
	ok "--scope offers smtp web all" || not_ok "--scope offers smtp web all"
[ "$(complete_words bans --category s)" = "spam scan spoofing" ] &&
	ok "--category completes its prefix" || not_ok "--category completes its prefix"
[ "$(complete_words mode "")" = "observe enforce" ] &&
	ok "mode offers observe and enforce" || not_ok "mode offers observe and enforce"
case " $(complete_words ban 10.0.0.5 --) " in
*" --scope "*" --json "*) ok "ban's options are offered, --scope among them" ;;
*) not_ok "ban's options are offered, --scope among them" ;;
esac
case " $(complete_words status --) " in
*" --reason "*) not_ok "status offers no --reason" ;;
*) ok "status offers no --reason" ;;
esac
