# Shared by lab tests that need a real MTA: a private Postfix instance.
# postfix_start DIR [SMTP]: a private Postfix instance (config, queue and maildirs
# under DIR) that delivers mail for customer.example into DIR/mail/customer/ and
# nothing else. With SMTP ("127.0.0.1:25") it also takes mail by SMTP there; run it
# in a namespace of the test's own (ip netns exec) so the port is the test's.
postfix_start() {
	local dir=$1 smtp=${2:-}
	mkdir -p "$dir/conf" "$dir/queue" "$dir/data" "$dir/mail"
	# Postfix's own processes run as postfix: they must reach the queue (mktemp made 0700).
	chmod go+x "$(dirname "$dir")" "$dir"
	chown postfix "$dir/data"
	chown 65534:65534 "$dir/mail"
	cat >"$dir/conf/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $dir/queue
data_directory = $dir/data
mail_owner = postfix
setgid_group = postdrop
myhostname = lab.provider.example
mydomain = provider.example
myorigin = provider.example
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
default_transport = error:no mail leaves the lab
relay_transport = error:no mail leaves the lab
virtual_mailbox_domains = customer.example
virtual_mailbox_base = $dir/mail
virtual_mailbox_maps = static:customer/
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
maillog_file = $dir/maillog
maillog_file_prefixes = $dir
alias_maps =
alias_database =
biff = no
CF
	# Only the services local delivery needs: no SMTP listener unless asked.
	grep -E '^(pickup|cleanup|qmgr|tlsmgr|rewrite|bounce|defer|trace|verify|flush|proxymap|proxywrite|showq|error|retry|discard|virtual|postlog|anvil|scache)\b' \
		/etc/postfix/master.cf >"$dir/conf/master.cf"
	[ -z "$smtp" ] || echo "$smtp inet n - n - - smtpd" >>"$dir/conf/master.cf"
	grep -q '^postlog' "$dir/conf/master.cf" ||
		echo 'postlog   unix-dgram n  -       n       -       1       postlogd' >>"$dir/conf/master.cf"
	if ! postfix -c "$dir/conf" check >"$dir/check.log" 2>&1 ||
		! postfix -c "$dir/conf" start >>"$dir/check.log" 2>&1; then
		cat "$dir/check.log"
		return 1
	fi
}
postfix_stop() { postfix -c "$1/conf" abort >/dev/null 2>&1; }
