/*
 * The policy file: the shipped policy is the built-in default, a full custom
 * file reaches every field, and every kind of mistake is refused with the
 * file, the line and the setting, leaving the running configuration alone.
 * Runs from the repository root (fixtures in tests/unit/policies/).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "config.h"

#define POLICIES "tests/unit/policies/"
#define SHIPPED  "policy/abuseguard.conf"

static struct config loaded, defaults;

static const char *
prefix_text(const struct prefix *prefix)
{
	static char buf[4][SOURCE_STRLEN];
	static unsigned next;
	char *out = buf[next++ % 4];

	return prefix_format(prefix, out, SOURCE_STRLEN);
}

static void
test_shipped_policy(void)
{
	char err[512];
	int error;

	config_defaults(&defaults);
	memset(&loaded, 0x5a, sizeof(loaded));
	error = config_load(SHIPPED, &loaded, err, sizeof(err));
	CHECK(error == 0, "the shipped policy loads (%s)", err);
	CHECK(strcmp(loaded.path, SHIPPED) == 0, "config->path is the path given: %s", loaded.path);
	CHECK(strcmp(defaults.path, CONFIG_DEFAULT_PATH) == 0, "defaults name %s",
	      CONFIG_DEFAULT_PATH);

	CHECK(loaded.mode == defaults.mode, "shipped mode equals the default");
	CHECK(loaded.interface_count == defaults.interface_count &&
	          memcmp(loaded.interfaces, defaults.interfaces, sizeof(loaded.interfaces)) == 0,
	      "shipped interfaces equal the default (%s, %s)", loaded.interfaces[0],
	      loaded.interfaces[1]);
	CHECK(loaded.xdp_mode == defaults.xdp_mode, "shipped xdp_mode equals the default");
	CHECK(strcmp(loaded.state_dir, defaults.state_dir) == 0,
	      "shipped state_dir equals the default");
	CHECK(strcmp(loaded.control_socket, defaults.control_socket) == 0,
	      "shipped control_socket equals the default");
	CHECK(strcmp(loaded.control_group, defaults.control_group) == 0,
	      "shipped control_group equals the default");
	CHECK(strcmp(loaded.nft_table, defaults.nft_table) == 0,
	      "shipped nft_table equals the default");
	CHECK(loaded.ipv6_prefix_len == defaults.ipv6_prefix_len,
	      "shipped ipv6_prefix equals the default");
	CHECK(memcmp(&loaded.limits, &defaults.limits, sizeof(loaded.limits)) == 0,
	      "shipped limits equal the defaults");
	CHECK(memcmp(&loaded.tickets, &defaults.tickets, sizeof(loaded.tickets)) == 0 &&
	          defaults.tickets.deadline_ms == 48 * 3600000LL &&
	          defaults.tickets.update_interval_ms == 24 * 3600000LL &&
	          defaults.tickets.close_after_ms == 14 * 86400000LL,
	      "shipped tickets equal the defaults: 48h, 24h, 14d");
	CHECK(loaded.customer_count == 0, "the shipped policy names no customer");
	CHECK(loaded.spam.enabled == defaults.spam.enabled &&
	          loaded.spam.window_ms == defaults.spam.window_ms &&
	          loaded.spam.smtp_attempts == defaults.spam.smtp_attempts &&
	          loaded.spam.smtp_destinations == defaults.spam.smtp_destinations &&
	          loaded.spam.scope == defaults.spam.scope,
	      "shipped spam settings equal the defaults");
	CHECK(memcmp(&loaded.scan, &defaults.scan, sizeof(loaded.scan)) == 0,
	      "shipped scan settings equal the defaults");
	CHECK(memcmp(&loaded.notify, &defaults.notify, sizeof(loaded.notify)) == 0,
	      "shipped notify settings equal the defaults");
	CHECK(memcmp(&loaded.crawler, &defaults.crawler, sizeof(loaded.crawler)) == 0 &&
	          defaults.crawler.window_ms == 10 * 60 * 1000 &&
	          defaults.crawler.disallowed_requests == 10 &&
	          defaults.crawler.scope == SCOPE_WEB && defaults.crawler.http_port_count == 2 &&
	          defaults.crawler.http_ports[0] == 80 && defaults.crawler.http_ports[1] == 8080,
	      "shipped crawler settings equal the defaults: 10 in 10m, scope web, ports 80, 8080");
	CHECK(memcmp(&loaded.ladder, &defaults.ladder, sizeof(loaded.ladder)) == 0,
	      "shipped ladder equals the default");
	CHECK(loaded.allowlist_count == 0 && loaded.always_allowed_count == 0,
	      "shipped allowlist and always_allow are empty");
	/* Everything but the path, to the last byte: nothing is left out above. */
	memcpy(loaded.path, defaults.path, sizeof(loaded.path));
	CHECK(memcmp(&loaded, &defaults, sizeof(loaded)) == 0,
	      "the shipped policy is config_defaults() byte for byte, path aside");

	/* The published rules, spelled out: 1 h, then 1 week / 1 month / 1 year. */
	CHECK(defaults.ladder.count == 4 && defaults.ladder.rungs[0].duration_ms == 3600000 &&
	          defaults.ladder.rungs[1].duration_ms == 7 * 86400000LL &&
	          defaults.ladder.rungs[1].within_ms == 86400000LL &&
	          defaults.ladder.rungs[3].duration_ms == 365 * 86400000LL &&
	          defaults.ladder.rungs[3].within_ms == 30 * 86400000LL,
	      "the default ladder is 1h, 7d within 1d, 30d within 7d, 365d within 30d");
	CHECK(defaults.spam.window_ms == 60000 && defaults.spam.smtp_attempts == 30 &&
	          defaults.spam.smtp_destinations == 15 && defaults.spam.scope == SCOPE_SMTP,
	      "the default spam rule is 30 attempts or 15 destinations per 60s, scope smtp");
	CHECK(defaults.store.retention_ms == 400 * 86400000LL,
	      "history is kept 400 days by default, longer than the longest window plus ban");
	CHECK(defaults.scan.enabled && defaults.scan.timeout_ms == 5000 &&
	          defaults.scan.window_ms == 60000 && defaults.scan.sequential == 5 &&
	          defaults.scan.scope == SCOPE_ALL,
	      "the default scan rule: 5 s timeout, 5 net failures per 60s, scope all");
	CHECK(
	    scan_port_ignored(&defaults.scan, 67) && scan_port_ignored(&defaults.scan, 68) &&
	        scan_port_ignored(&defaults.scan, 137) && scan_port_ignored(&defaults.scan, 139) &&
	        scan_port_ignored(&defaults.scan, 1900) &&
	        scan_port_ignored(&defaults.scan, 5353) &&
	        scan_port_ignored(&defaults.scan, 5355) && !scan_port_ignored(&defaults.scan, 53) &&
	        !scan_port_ignored(&defaults.scan, 22) && defaults.scan.ignored_port_count == 10,
	    "ports never counted by default: DHCP, NetBIOS, DHCPv6, SSDP, mDNS, LLMNR (%u)",
	    defaults.scan.ignored_port_count);
}

static void
test_full_policy(void)
{
	char err[512];
	int error;

	memset(&loaded, 0, sizeof(loaded));
	error = config_load(POLICIES "good-full.conf", &loaded, err, sizeof(err));
	CHECK(error == 0, "a policy that sets every field loads (%s)", err);
	CHECK(loaded.mode == MODE_OBSERVE, "mode = \"observe\" is read");
	CHECK(loaded.customer_count == 2 && strcmp(loaded.customers[0].id, "c-1001") == 0 &&
	          strcmp(loaded.customers[0].name, "Example Customer") == 0 &&
	          strcmp(loaded.customers[0].contact, "abuse@customer.example") == 0 &&
	          loaded.customers[0].prefix_count == 2 &&
	          strcmp(prefix_text(&loaded.customers[0].prefixes[1]), "2001:db8:1::/48") == 0 &&
	          strcmp(loaded.customers[1].contact, "noc@two.example") == 0 &&
	          loaded.customers[1].name[0] == '\0',
	      "customers are read: id, name, contact and prefixes (%u)", loaded.customer_count);
	CHECK(loaded.tickets.deadline_ms == 72 * 3600000LL &&
	          loaded.tickets.update_interval_ms == 12 * 3600000LL &&
	          loaded.tickets.close_after_ms == 30 * 86400000LL,
	      "tickets.deadline, update_interval and close_after are read");
	CHECK(loaded.interface_count == 3 && strcmp(loaded.interfaces[0], "veth*") == 0 &&
	          strcmp(loaded.interfaces[1], "tap[0-9]*") == 0 &&
	          strcmp(loaded.interfaces[2], "eth1") == 0,
	      "interfaces as a list are read in order: %u patterns", loaded.interface_count);
	CHECK(loaded.xdp_mode == XDP_ATTACH_GENERIC, "xdp_mode = \"generic\" is read");
	CHECK(strcmp(loaded.state_dir, "/srv/abuseguard/state") == 0, "state_dir is read: %s",
	      loaded.state_dir);
	CHECK(strcmp(loaded.control_socket, "/run/ag.sock") == 0, "control_socket is read: %s",
	      loaded.control_socket);
	CHECK(strcmp(loaded.control_group, "soc_staff") == 0, "control_group is read: %s",
	      loaded.control_group);
	CHECK(strcmp(loaded.nft_table, "ag_test_1") == 0, "nft_table is read: %s",
	      loaded.nft_table);
	CHECK(loaded.ipv6_prefix_len == 56, "ipv6_prefix = 56 is read: %u", loaded.ipv6_prefix_len);
	CHECK(
	    loaded.limits.max_sources == 1024 && loaded.limits.max_smtp_pairs == 16777216 &&
	        loaded.limits.ring_buffer_bytes == 4096 && loaded.limits.max_interfaces == 65536 &&
	        loaded.limits.max_bans == 16 && loaded.limits.control_clients == 1024 &&
	        loaded.limits.control_line_bytes == 1024 && loaded.limits.bans_per_minute == 5 &&
	        loaded.limits.store_pending == 1048576 && loaded.limits.control_idle_ms == 86400000,
	    "every limit is read, the range ends included");
	CHECK(loaded.store.retention_ms == 3650 * 86400000LL &&
	          loaded.store.check_timeout_ms == 1000,
	      "store: retention 3650d and check_timeout 1 s are read");
	CHECK(loaded.limits.max_scan_contacts == 1024 &&
	          loaded.limits.scan_pending_per_interface == 1048576,
	      "the scan limits are read");
	CHECK(loaded.scan.enabled && loaded.scan.window_ms == 120000 &&
	          loaded.scan.timeout_ms == 250 && loaded.scan.return_path_ms == 3600000 &&
	          loaded.scan.sequential == 0 && loaded.scan.hosts_per_port == 10 &&
	          loaded.scan.ports_per_host == 1000000 && loaded.scan.arp_hosts == 3 &&
	          loaded.scan.scope == SCOPE_WEB,
	      "scan: window, timeout, return_path, the four tests and the scope are read");
	CHECK(loaded.scan.ignored_port_count == 5 && scan_port_ignored(&loaded.scan, 53) &&
	          scan_port_ignored(&loaded.scan, 100) && scan_port_ignored(&loaded.scan, 102) &&
	          scan_port_ignored(&loaded.scan, 8080) && !scan_port_ignored(&loaded.scan, 67),
	      "scan.ignore_ports replaces the default list: a number, a range, a string (%u)",
	      loaded.scan.ignored_port_count);
	CHECK(loaded.evasion.tiny_fragments == 0 && loaded.evasion.scope == SCOPE_SMTP,
	      "evasion: tiny_fragments 0 (off) and scope smtp are read");
	CHECK(loaded.spam.enabled == 1 && loaded.spam.window_ms == 90000 &&
	          loaded.spam.smtp_attempts == 100 && loaded.spam.smtp_destinations == 0 &&
	          loaded.spam.scope == SCOPE_ALL,
	      "spam: window = 90 is 90 s, 100 attempts, destinations off, scope all (window %lld)",
	      (long long)loaded.spam.window_ms);
	CHECK(loaded.ladder.count == 3 && loaded.ladder.rungs[0].duration_ms == 15 * 60000 &&
	          loaded.ladder.rungs[0].within_ms == 0 &&
	          loaded.ladder.rungs[1].duration_ms == 90000 &&
	          loaded.ladder.rungs[1].within_ms == 15 * 60000 &&
	          loaded.ladder.rungs[2].duration_ms == 3600000 &&
	          loaded.ladder.rungs[2].within_ms == 2 * 3600000,
	      "a three-rung ladder replaces the default one: 15m; 90s within 15m; 1h within 2h");
	CHECK(loaded.allowlist_count == 3 &&
	          strcmp(prefix_text(&loaded.allowlist[0]), "192.0.2.10/32") == 0 &&
	          strcmp(prefix_text(&loaded.allowlist[1]), "198.51.100.0/24") == 0 &&
	          strcmp(prefix_text(&loaded.allowlist[2]), "2001:db8:100::/48") == 0,
	      "allowlist holds an address and two prefixes: %s %s %s",
	      prefix_text(&loaded.allowlist[0]), prefix_text(&loaded.allowlist[1]),
	      prefix_text(&loaded.allowlist[2]));
	CHECK(loaded.always_allowed_count == 2 &&
	          strcmp(prefix_text(&loaded.always_allowed[0]), "203.0.113.53/32") == 0 &&
	          strcmp(prefix_text(&loaded.always_allowed[1]), "2001:db8::53/128") == 0,
	      "always_allow holds the provider's resolvers: %s %s",
	      prefix_text(&loaded.always_allowed[0]), prefix_text(&loaded.always_allowed[1]));

	memset(&loaded, 0, sizeof(loaded));
	error = config_load(POLICIES "good-partial.conf", &loaded, err, sizeof(err));
	CHECK(error == 0, "a policy that sets two things loads (%s)", err);
	CHECK(loaded.mode == MODE_OBSERVE && loaded.spam.smtp_attempts == 0 &&
	          loaded.spam.smtp_destinations == defaults.spam.smtp_destinations &&
	          loaded.spam.window_ms == defaults.spam.window_ms &&
	          memcmp(&loaded.ladder, &defaults.ladder, sizeof(loaded.ladder)) == 0 &&
	          strcmp(loaded.state_dir, defaults.state_dir) == 0,
	      "what a policy leaves out keeps its default, inside a group too");
}

struct bad_policy {
	const char *file;
	unsigned line;
	const char *word; /* a word the operator needs to see in the message */
	const char *what;
};

static const struct bad_policy bad_policies[] = {
    {"bad-syntax.conf", 4, "syntax", "a syntax error"},
    {"bad-unknown-key.conf", 4, "spam.smtp_atempts: unknown setting (did you mean smtp_attempts?)",
     "a typo in a setting name"},
    {"bad-unknown-top.conf", 2, "dry_run: unknown setting", "an unknown top-level setting"},
    {"bad-type.conf", 5, "spam.smtp_attempts: must be a whole number, not \"30\"",
     "a string where a number belongs"},
    {"bad-range.conf", 3, "limits.bans_per_minute: must be between 1 and 100000, not 0",
     "a number out of range"},
    {"bad-overflow.conf", 3, "limits.max_sources: number out of range: 4295229440",
     "a number too wide for libconfig's 32 bits"},
    {"bad-mode.conf", 1, "mode: must be \"enforce\" or \"observe\", not \"enforcing\"",
     "a mode that does not exist"},
    {"bad-scope.conf", 4, "spam.scope: must be \"smtp\", \"web\" or \"all\", not \"mail\"",
     "a scope that does not exist"},
    {"bad-duration.conf", 2, "spam.window: not a duration: \"5 minutes\"", "a bad duration"},
    {"bad-window-range.conf", 2, "spam.window: must be between 1s and 1d, not \"2d\"",
     "a window longer than a day"},
    {"bad-rung0-within.conf", 2, "ladder[0].within: the first rung takes no within",
     "a window on the first rung"},
    {"bad-rung1-without-within.conf", 4, "ladder[2]: a rung after the first needs within",
     "a later rung without a window"},
    {"bad-rung-zero-ban.conf", 2, "ladder[0].ban: must be between 1s and 3650d, not \"0s\"",
     "a ban of no time"},
    {"bad-allowlist-prefix.conf", 3,
     "allowlist[1]: not an address or prefix: \"198.51.100.300/24\"",
     "a bad prefix in the allowlist"},
    {"bad-too-many-interfaces.conf", 2, "interfaces: must hold between 1 and 32 patterns, not 33",
     "too many interface patterns"},
    {"bad-relative-state-dir.conf", 2, "state_dir: must be an absolute path",
     "a relative state_dir"},
    {"bad-relative-metrics-file.conf", 2, "metrics.file: must be an absolute path",
     "a relative metrics.file"},
    {"bad-long-table.conf", 1, "nft_table: longer than 63 characters",
     "a table name too long to store, not cut short"},
    {"bad-table-chars.conf", 1, "nft_table: must be lower-case letters, digits and _",
     "a table name with a space"},
    {"bad-socket-too-long.conf", 1, "control_socket: longer than 107 characters",
     "a socket path longer than sun_path"},
    {"bad-ring-buffer.conf", 2, "limits.ring_buffer_bytes: must be a power of two",
     "a ring buffer size that is no power of two"},
    {"bad-spam-both-off.conf", 1, "spam: smtp_attempts and smtp_destinations are both 0",
     "spam enabled with both thresholds off"},
    {"bad-scan-all-off.conf", 1,
     "scan: sequential, hosts_per_port, ports_per_host and arp_hosts are all 0",
     "scans enabled with every test off"},
    {"bad-scan-port.conf", 4, "scan.ignore_ports[1]: not a port or a range such as",
     "a port range backwards"},
    {"bad-scan-timeout.conf", 1, "scan: timeout must be shorter than window",
     "a timeout longer than the window"},
    {"bad-include.conf", 2, "@include is not supported", "an @include"},
    {"bad-crawler-port.conf", 2, "crawler.http_ports[1]: must be a TCP port from 1 to 65535",
     "an HTTP port out of range"},
    {"bad-crawler-threshold.conf", 2,
     "crawler.disallowed_requests: must be between 1 and 1000, not 0", "a crawler threshold of 0"},
    {"bad-open-string.conf", 2, "string not closed", "a string left open at the end"},
    {"bad-customer-same-prefix.conf", 5,
     "customers[1].prefixes[1]: \"10.0.0.0/24\" is already customer c-1's",
     "a prefix given to two customers"},
    {"bad-customer-contact.conf", 3, "customers[0].contact: must be one e-mail address",
     "a contact that would add a mail header"},
    {"bad-customer-twice.conf", 3, "customer c-1 is listed twice", "a customer id given twice"},
    {"bad-tickets-close-after.conf", 3, "tickets.close_after: must be between",
     "a close_after shorter than an hour"},
    {"bad-notify-relative-command.conf", 2,
     "notify.mail_command: must be an absolute program and its arguments",
     "a mail command that is not an absolute path"},
    {"bad-notify-smtp-name.conf", 2,
     "notify.smtp: must be an address and a port, \"127.0.0.1:25\" or \"[::1]:25\" (no names",
     "an SMTP relay given by name"},
    {"bad-notify-smtp-port.conf", 2, "notify.smtp: must be an address and a port",
     "an SMTP relay without a port"},
    {"bad-notify-from.conf", 2, "notify.from: must be a mail address, or \"Name <address>\"",
     "a sender that is no mail address"},
    {"bad-notify-shell.conf", 2, "notify.exec: must be an absolute program and its arguments",
     "an exec hook with a shell operator"},
};

static void
test_bad_policies(void)
{
	struct config before;
	char err[512], path[256], prefix[300];

	/* A running configuration, not the defaults, so "unchanged" means something. */
	memset(&before, 0xa5, sizeof(before));
	for (size_t i = 0; i < sizeof(bad_policies) / sizeof(bad_policies[0]); i++) {
		const struct bad_policy *bad = &bad_policies[i];
		int error;

		snprintf(path, sizeof(path), POLICIES "%s", bad->file);
		snprintf(prefix, sizeof(prefix), "%s:%u: ", path, bad->line);
		memcpy(&loaded, &before, sizeof(loaded));
		error = config_load(path, &loaded, err, sizeof(err));
		CHECK(error == -EINVAL, "%s is refused with -EINVAL (%d)", bad->what, error);
		CHECK(strncmp(err, prefix, strlen(prefix)) == 0 && strstr(err, bad->word) != NULL,
		      "%s: the message names file, line and setting: %s", bad->what, err);
		CHECK(memcmp(&loaded, &before, sizeof(loaded)) == 0,
		      "%s leaves the configuration unchanged", bad->what);
	}
}

/*
 * A FIFO with no writer and a device are refused at once, not read: were
 * either opened and read, SIGALRM would end the test as a failure.
 */
static void
test_not_regular(const struct config *before)
{
	char directory[] = "/tmp/test_config.XXXXXX", fifo[64], err[512];
	int error;

	if (mkdtemp(directory) == NULL) {
		CHECK(0, "a temporary directory: %s", strerror(errno));
		return;
	}
	snprintf(fifo, sizeof(fifo), "%s/policy.fifo", directory);
	CHECK(mkfifo(fifo, 0600) == 0, "a FIFO as the policy path: %s", fifo);
	alarm(10);
	error = config_load(fifo, &loaded, err, sizeof(err));
	CHECK(error == -EINVAL && strstr(err, fifo) != NULL &&
	          strstr(err, "a FIFO, not a policy file") != NULL,
	      "a FIFO nobody writes is refused at once, naming it (%d: %s)", error, err);
	error = config_load("/dev/zero", &loaded, err, sizeof(err));
	CHECK(error == -EINVAL && strstr(err, "/dev/zero: a character device, not a policy file"),
	      "a device is refused without reading it (%d: %s)", error, err);
	alarm(0);
	CHECK(memcmp(&loaded, before, sizeof(loaded)) == 0,
	      "a refused path leaves the configuration unchanged");
	unlink(fifo);
	rmdir(directory);
}

static void
test_unreadable(void)
{
	const char *missing = POLICIES "does-not-exist.conf";
	struct config before;
	char err[512];
	int error;

	memset(&before, 0xa5, sizeof(before));
	memcpy(&loaded, &before, sizeof(loaded));
	error = config_load(missing, &loaded, err, sizeof(err));
	CHECK(error == -ENOENT, "a missing file gives -ENOENT (%d)", error);
	CHECK(strstr(err, missing) != NULL && strstr(err, "No such file") != NULL,
	      "the message names the missing file: %s", err);
	CHECK(memcmp(&loaded, &before, sizeof(loaded)) == 0,
	      "a missing file leaves the configuration unchanged");

	error = config_load(POLICIES, &loaded, err, sizeof(err));
	CHECK(error == -EISDIR && strstr(err, "a directory, not a policy file") != NULL,
	      "a directory is refused (%d: %s)", error, err);
	test_not_regular(&before);

	error = config_load(SHIPPED, &loaded, NULL, 0);
	CHECK(error == 0, "config_load takes no error buffer when the caller wants none");
	error = config_load(POLICIES "bad-mode.conf", &loaded, err, 8);
	CHECK(error == -EINVAL && strlen(err) == 7,
	      "a short error buffer is filled and terminated, not overrun: \"%s\"", err);
}

static void
test_durations(void)
{
	static const struct {
		const char *text;
		int64_t ms;
		const char *formatted;
	} cases[] = {
	    {"250ms", 250, "250ms"},
	    {"90s", 90000, "90s"},
	    {"60s", 60000, "1m"},
	    {"15m", 900000, "15m"},
	    {"1h", 3600000, "1h"},
	    {"24h", 86400000, "1d"},
	    {"7d", 604800000, "7d"},
	    {"365d", 31536000000LL, "365d"},
	    {"1500ms", 1500, "1500ms"},
	    {"90", 90000, "90s"},
	    {"0s", 0, "0s"},
	};
	static const char *const invalid[] = {
	    "",
	    "1x",
	    "-1h",
	    "h",
	    "1 h",
	    " 1h",
	    "1h ",
	    "1.5h",
	    "1h30m",
	    "1H",
	    "0x10s",
	    "9223372036854775807d",
	    "99999999999999999999",
	    "106751991168d",
	};
	char buf[32];
	int64_t ms;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ms = -1;
		CHECK(duration_parse(cases[i].text, &ms) == 0 && ms == cases[i].ms,
		      "duration \"%s\" is %lld ms (got %lld)", cases[i].text,
		      (long long)cases[i].ms, (long long)ms);
		duration_format(cases[i].ms, buf, sizeof(buf));
		CHECK(strcmp(buf, cases[i].formatted) == 0, "%lld ms prints as %s (got %s)",
		      (long long)cases[i].ms, cases[i].formatted, buf);
		CHECK(duration_parse(buf, &ms) == 0 && ms == cases[i].ms,
		      "%s reads back as %lld ms", buf, (long long)cases[i].ms);
	}
	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		ms = 42;
		CHECK(duration_parse(invalid[i], &ms) == -EINVAL && ms == 42,
		      "duration \"%s\" is refused and the output left alone", invalid[i]);
	}
	CHECK(duration_parse("106751991167d", &ms) == 0 && ms == 106751991167LL * 86400000,
	      "the longest duration that fits 64 bits of ms is read");
	duration_format(INT64_MAX, buf, sizeof(buf));
	CHECK(duration_parse(buf, &ms) == 0 && ms == INT64_MAX, "INT64_MAX ms round trips as %s",
	      buf);
	duration_format(3600000, buf, 3);
	CHECK(strcmp(buf, "1h") == 0, "duration_format respects the buffer length");
}

static void
test_crawler_policy(void)
{
	char err[512];
	int error = config_load(POLICIES "good-full.conf", &loaded, err, sizeof(err));

	CHECK(error == 0 && loaded.crawler.enabled == 0 && loaded.crawler.window_ms == 3600000 &&
	          loaded.crawler.disallowed_requests == 50 && loaded.crawler.scope == SCOPE_ALL &&
	          loaded.crawler.http_port_count == 3 && loaded.crawler.http_ports[2] == 8000 &&
	          loaded.crawler.fetch_robots == 0 && loaded.crawler.max_sources == 10 &&
	          loaded.crawler.max_sites_per_source == 2,
	      "every crawler setting is read: %s", error == 0 ? "ok" : err);
}

static void
test_notify_policy(void)
{
	char err[512];
	int error = config_load(POLICIES "good-notify.conf", &loaded, err, sizeof(err));

	CHECK(error == 0 &&
	          strcmp(loaded.notify.from, "Provider Abuse Desk <abuse@provider.example>") == 0 &&
	          loaded.notify.mail_command[0] == '\0' && loaded.notify.smtp[0] == '\0' &&
	          strcmp(loaded.notify.exec, "/usr/local/bin/ticket-hook --queue abuse") == 0 &&
	          strcmp(loaded.notify.event_log, "/var/log/abuseguard/events.jsonl") == 0 &&
	          loaded.notify.timeout_ms == 30000 && loaded.notify.retry_ms == 120000 &&
	          loaded.notify.retry_max_ms == 12 * 3600000LL && loaded.limits.outbox == 500 &&
	          loaded.limits.deliveries == 2 && loaded.limits.delivery_output == 1024 &&
	          loaded.limits.ticket_evidence_files == 4 &&
	          loaded.limits.ticket_evidence_bytes == 1048576,
	      "every notify setting and outbox limit is read, a backend switched off with \"\": %s",
	      error == 0 ? "ok" : err);
	config_load("policy/abuseguard.conf", &loaded, err, sizeof(err));
	CHECK(strcmp(loaded.notify.from, "abuse@provider.example") == 0 &&
	          strcmp(loaded.notify.smtp, "127.0.0.1:25") == 0 &&
	          loaded.notify.mail_command[0] == '\0' && loaded.notify.exec[0] == '\0' &&
	          loaded.notify.event_log[0] == '\0',
	      "the shipped notify section submits to the MTA at 127.0.0.1:25 by SMTP, no mail "
	      "command");
	config_load(POLICIES "good-notify-smtp.conf", &loaded, err, sizeof(err));
	CHECK(strcmp(loaded.notify.smtp, "[::1]:587") == 0,
	      "an IPv6 relay with its port is read: %s", loaded.notify.smtp);
}

int
main(void)
{
	test_shipped_policy();
	test_full_policy();
	test_bad_policies();
	test_crawler_policy();
	test_notify_policy();
	test_unreadable();
	test_durations();
	return check_done();
}
