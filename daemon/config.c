/*
 * The policy file: read it, check every setting against a table of known
 * names, types and ranges, and hand back plain data. Nothing is half-loaded:
 * the result is built in a local copy and copied out only when all is well.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libconfig.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "addrclass.h"
#include "config.h"
#include "customer.h"
#include "smtp_submit.h"

#define MS_PER_SECOND 1000LL
#define MS_PER_MINUTE (60 * MS_PER_SECOND)
#define MS_PER_HOUR   (60 * MS_PER_MINUTE)
#define MS_PER_DAY    (24 * MS_PER_HOUR)

/* Bans and windows longer than ten years are typos, not policy. */
#define DURATION_MAX_MS (3650 * MS_PER_DAY)
/* A policy is a few kilobytes; refuse what clearly is not one before parsing it. */
#define POLICY_MAX_BYTES (1024 * 1024)
/* Enough of a value to recognise it in an error message. */
#define VALUE_SHOWN_MAX 64

/* Largest first: duration_format picks the first unit that divides evenly. */
static const struct duration_unit {
	const char *suffix;
	int64_t ms;
} duration_units[] = {
    {"d", MS_PER_DAY}, {"h", MS_PER_HOUR}, {"m", MS_PER_MINUTE}, {"s", MS_PER_SECOND}, {"ms", 1},
};

struct parser {
	const char *path;
	const char *text; /* the file as read */
	char *err;
	size_t errlen;
	/*
	 * libconfig 1.5 wraps integer literals that do not fit 32 bits and lack
	 * the L suffix; the scan of the raw text remembers the first such literal so
	 * the setting that holds it can be refused with what was written.
	 */
	unsigned overflow_line;
	int64_t overflow_wrapped;
	char overflow_text[VALUE_SHOWN_MAX];
	bool overflow_claimed;
};

struct rule;
static int read_group(struct parser *parser, const config_setting_t *setting,
                      const struct rule *rule, void *base);
typedef int (*rule_reader)(struct parser *, const config_setting_t *, const struct rule *,
                           void *base);

/* One known setting: its name, how to read it, where it goes, what it may be. */
struct rule {
	const char *name;
	rule_reader read;
	size_t offset;       /* of the field from the base the group reader passes */
	size_t count_offset; /* lists: where the element count goes */
	int64_t min, max;    /* numbers, durations (ms), element counts; strings: buffer size */
	const struct rule *children;          /* groups: the rules of their members */
	const char *(*value_name)(int value); /* enumerations: values 0..max */
};

static const char *const mode_names[] = {
    [MODE_ENFORCE] = "enforce",
    [MODE_OBSERVE] = "observe",
};

static const char *const spoof_action_names[] = {
    [SPOOF_REPORT] = "report",
    [SPOOF_DROP] = "drop",
};

static const char *const xdp_mode_names[] = {
    [XDP_ATTACH_AUTO] = "auto",
    [XDP_ATTACH_NATIVE] = "native",
    [XDP_ATTACH_GENERIC] = "generic",
};

static const char *
mode_value_name(int value)
{
	return mode_names[value];
}

static const char *
spoof_action_value_name(int value)
{
	return spoof_action_names[value];
}

static const char *
xdp_mode_value_name(int value)
{
	return xdp_mode_names[value];
}

static const char *
scope_value_name(int value)
{
	return scope_name((enum scope)value);
}

_Static_assert(sizeof(enum spoof_action) == sizeof(int), "enumerations are stored as int");
_Static_assert(sizeof(enum mode) == sizeof(int) && sizeof(enum xdp_attach_mode) == sizeof(int) &&
                   sizeof(enum scope) == sizeof(int),
               "enumerations are stored as int");

int
duration_parse(const char *text, int64_t *out_ms)
{
	const char *cursor = text;
	int64_t count = 0, unit_ms = 0, result;

	if (!isdigit((unsigned char)*cursor))
		return -EINVAL;
	for (; isdigit((unsigned char)*cursor); cursor++)
		if (__builtin_mul_overflow(count, 10, &count) ||
		    __builtin_add_overflow(count, *cursor - '0', &count))
			return -EINVAL;
	if (*cursor == '\0')
		unit_ms = MS_PER_SECOND; /* a bare number counts seconds */
	for (size_t i = 0; i < sizeof(duration_units) / sizeof(duration_units[0]) && !unit_ms; i++)
		if (strcmp(cursor, duration_units[i].suffix) == 0)
			unit_ms = duration_units[i].ms;
	if (unit_ms == 0 || __builtin_mul_overflow(count, unit_ms, &result))
		return -EINVAL;
	*out_ms = result;
	return 0;
}

const char *
duration_format(int64_t ms, char *buf, size_t len)
{
	const struct duration_unit *unit = &duration_units[0];

	if (ms == 0) {
		snprintf(buf, len, "0s");
		return buf;
	}
	while (ms % unit->ms != 0)
		unit++; /* the last unit, 1 ms, divides everything */
	snprintf(buf, len, "%" PRId64 "%s", ms / unit->ms, unit->suffix);
	return buf;
}

/* Answered by broadcast or multicast, or from another port: never a first contact. */
static const unsigned default_ignored_ports[] = {
    67,   68,       /* DHCP */
    137,  138, 139, /* NetBIOS */
    546,  547,      /* DHCPv6 */
    1900,           /* SSDP */
    5353,           /* mDNS */
    5355,           /* LLMNR */
};

static void
scan_port_ignore(struct scan_config *scan, unsigned port)
{
	if (!scan_port_ignored(scan, port))
		scan->ignored_port_count++;
	scan->ignored_ports[port / 64] |= 1ULL << (port % 64);
}

int
scan_port_ignored(const struct scan_config *scan, unsigned port)
{
	return port < CONFIG_PORT_WORDS * 64 && (scan->ignored_ports[port / 64] >> (port % 64)) & 1;
}

void
config_defaults(struct config *config)
{
	static const int64_t ladder_ms[][2] = {
	    {1 * MS_PER_HOUR, 0},
	    {7 * MS_PER_DAY, 1 * MS_PER_DAY},
	    {30 * MS_PER_DAY, 7 * MS_PER_DAY},
	    {365 * MS_PER_DAY, 30 * MS_PER_DAY},
	};

	/* Zeroed first so that two configurations compare equal as bytes. */
	memset(config, 0, sizeof(*config));
	snprintf(config->path, sizeof(config->path), "%s", CONFIG_DEFAULT_PATH);
	config->mode = MODE_ENFORCE;
	snprintf(config->interfaces[0], sizeof(config->interfaces[0]), "tap*");
	snprintf(config->interfaces[1], sizeof(config->interfaces[1]), "vnet*");
	config->interface_count = 2;
	config->xdp_mode = XDP_ATTACH_AUTO;
	snprintf(config->state_dir, sizeof(config->state_dir), "/var/lib/abuseguard");
	snprintf(config->control_socket, sizeof(config->control_socket),
	         "/run/abuseguard/control.sock");
	snprintf(config->control_group, sizeof(config->control_group), "abuseguard");
	snprintf(config->nft_table, sizeof(config->nft_table), "abuseguard");
	config->ipv6_prefix_len = 64;
	config->metrics.interval_ms = 15 * MS_PER_SECOND;

	config->limits.max_sources = 262144;
	config->limits.max_smtp_pairs = 262144;
	config->limits.ring_buffer_bytes = 262144;
	config->limits.max_interfaces = 4096;
	config->limits.max_bans = 65536;
	config->limits.control_clients = 16;
	config->limits.control_line_bytes = 65536;
	config->limits.bans_per_minute = 60;
	config->limits.control_idle_ms = 60 * MS_PER_SECOND;
	config->limits.store_pending = 4096;
	config->limits.max_vm_addresses = 16;
	config->limits.max_host_addresses = 1024;
	config->limits.learn_frames = 64;
	config->limits.interface_sources = 4096;
	config->limits.outbox = 10000;
	config->limits.deliveries = 4;
	config->limits.delivery_output = 4096;
	config->limits.ticket_evidence_files = 16;
	config->limits.ticket_evidence_bytes = 16 * 1024 * 1024;

	snprintf(config->notify.from, sizeof(config->notify.from), "abuse@provider.example");
	snprintf(config->notify.smtp, sizeof(config->notify.smtp), "127.0.0.1:25");
	config->notify.timeout_ms = 60 * MS_PER_SECOND;
	config->notify.retry_ms = 1 * MS_PER_MINUTE;
	config->notify.retry_max_ms = 6 * MS_PER_HOUR;
	config->limits.runtime_allowlist = 1024;
	config->limits.control_event_queue = 1048576;

	config->spoofing.packets = 100;
	config->spoofing.action = SPOOF_REPORT;
	config->spoofing.scope = SCOPE_ALL;
	config->evasion.tiny_fragments = 3;
	config->evasion.scope = SCOPE_ALL;

	config->store.retention_ms = 400 * MS_PER_DAY;
	config->store.check_timeout_ms = 60 * MS_PER_SECOND;

	config->spam.enabled = 1;
	config->spam.window_ms = 60 * MS_PER_SECOND;
	config->spam.smtp_attempts = 30;
	config->spam.smtp_destinations = 15;
	config->spam.scope = SCOPE_SMTP;

	config->limits.max_scan_contacts = 262144;
	config->limits.scan_pending_per_interface = 4096;
	config->scan.enabled = 1;
	config->scan.window_ms = 60 * MS_PER_SECOND;
	config->scan.timeout_ms = 5 * MS_PER_SECOND;
	config->scan.return_path_ms = 300 * MS_PER_SECOND;
	config->scan.sequential = 5;
	config->scan.hosts_per_port = 24;
	config->scan.ports_per_host = 24;
	config->scan.arp_hosts = 8;
	config->scan.scope = SCOPE_ALL;
	for (unsigned i = 0; i < sizeof(default_ignored_ports) / sizeof(default_ignored_ports[0]);
	     i++)
		scan_port_ignore(&config->scan, default_ignored_ports[i]);

	config->crawler.enabled = 1;
	config->crawler.window_ms = 10 * MS_PER_MINUTE;
	config->crawler.disallowed_requests = 10;
	config->crawler.scope = SCOPE_WEB;
	config->crawler.http_ports[0] = 80;
	config->crawler.http_ports[1] = 8080;
	config->crawler.http_port_count = 2;
	config->crawler.fetch_robots = 1;
	config->crawler.max_sources = 1024;
	config->crawler.max_sites_per_source = 16;
	config->crawler.max_sites = 256;
	config->crawler.fetch_queue = 64;
	config->crawler.fetch_timeout_ms = 5 * MS_PER_SECOND;
	config->crawler.held_requests = 32;
	config->limits.wire_flows = 16384;
	config->limits.wire_buffer_bytes = 4 * 1024 * 1024;
	config->limits.evidence_packets = 4096;
	config->limits.evidence_bytes = 2 * 1024 * 1024;
	config->limits.smtp_transcript_sources = 256;
	config->limits.smtp_transcript_lines = 64;

	config->tickets.deadline_ms = 48 * MS_PER_HOUR;
	config->tickets.update_interval_ms = 24 * MS_PER_HOUR;
	config->tickets.close_after_ms = 14 * MS_PER_DAY;

	config->ladder.count = sizeof(ladder_ms) / sizeof(ladder_ms[0]);
	for (unsigned i = 0; i < config->ladder.count; i++) {
		config->ladder.rungs[i].duration_ms = ladder_ms[i][0];
		config->ladder.rungs[i].within_ms = ladder_ms[i][1];
	}
}

/* A setting's place in the file: "spam.window", "ladder[1].within", "interfaces[0]". */
static void
setting_name(const config_setting_t *setting, char *buf, size_t len)
{
	const config_setting_t *parent = config_setting_parent(setting);
	size_t used;

	buf[0] = '\0';
	if (parent == NULL)
		return;
	if (config_setting_parent(parent) != NULL)
		setting_name(parent, buf, len);
	used = strlen(buf);
	if (config_setting_is_group(parent))
		snprintf(buf + used, len - used, "%s%s", used ? "." : "",
		         config_setting_name(setting));
	else
		snprintf(buf + used, len - used, "[%d]", config_setting_index(setting));
}

/* Where libconfig recorded no line (0), the enclosing setting's line is the next best. */
static unsigned
setting_line(const config_setting_t *setting)
{
	for (; setting != NULL; setting = config_setting_parent(setting))
		if (config_setting_source_line(setting) != 0)
			return config_setting_source_line(setting);
	return 0;
}

/*
 * libconfig dates a string in a list by the token after it, so one closing a
 * list on a line of its own ("]") would be blamed on that line. Look for the
 * string itself, back from there to the line of its list.
 */
static unsigned
element_line(const struct parser *parser, const config_setting_t *element)
{
	const config_setting_t *list = config_setting_parent(element);
	unsigned reported = setting_line(element), first = setting_line(list);
	const char *value = config_setting_get_string(element), *line_start = parser->text;
	unsigned line = 1, found = 0;
	size_t value_length = strlen(value);

	for (; line_start != NULL && line <= reported; line++) {
		const char *line_end = strchr(line_start, '\n');
		size_t line_length =
		    line_end ? (size_t)(line_end - line_start) : strlen(line_start);

		for (size_t i = 0; line >= first && i + value_length + 2 <= line_length; i++)
			if (line_start[i] == '"' && line_start[i + value_length + 1] == '"' &&
			    memcmp(line_start + i + 1, value, value_length) == 0)
				found = line;
		line_start = line_end ? line_end + 1 : NULL;
	}
	return found ? found : reported;
}

/* What was written, for "..., not VALUE". */
static const char *
setting_value(const config_setting_t *setting, char *buf, size_t len)
{
	switch (config_setting_type(setting)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		snprintf(buf, len, "%lld", config_setting_get_int64(setting));
		break;
	case CONFIG_TYPE_FLOAT: /* 1e3 shown as "1000" would hide why it is no whole number */
		snprintf(buf, len, "%.1f", config_setting_get_float(setting));
		break;
	case CONFIG_TYPE_STRING:
		snprintf(buf, len, "\"%.*s%s\"", VALUE_SHOWN_MAX,
		         config_setting_get_string(setting),
		         strlen(config_setting_get_string(setting)) > VALUE_SHOWN_MAX ? "..." : "");
		break;
	case CONFIG_TYPE_BOOL:
		snprintf(buf, len, "%s", config_setting_get_bool(setting) ? "true" : "false");
		break;
	case CONFIG_TYPE_ARRAY:
		snprintf(buf, len, "an array");
		break;
	case CONFIG_TYPE_LIST:
		snprintf(buf, len, "a list");
		break;
	default:
		snprintf(buf, len, "a group");
		break;
	}
	return buf;
}

/* Writes "FILE:LINE: SETTING: message" into the caller's buffer. */
static int __attribute__((format(printf, 3, 4)))
fail(struct parser *parser, const config_setting_t *setting, const char *fmt, ...)
{
	char name[256];
	unsigned line;
	va_list ap;
	int used;

	if (parser->errlen == 0)
		return -EINVAL;
	setting_name(setting, name, sizeof(name));
	line = setting_line(setting);
	if (config_setting_type(setting) == CONFIG_TYPE_STRING && parser->text != NULL &&
	    config_setting_name(setting) == NULL)
		line = element_line(parser, setting);
	used = snprintf(parser->err, parser->errlen, "%s:%u: %s: ", parser->path, line, name);
	if (used >= 0 && (size_t)used < parser->errlen) {
		va_start(ap, fmt);
		vsnprintf(parser->err + used, parser->errlen - used, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int
read_integer(struct parser *parser, const config_setting_t *setting, int64_t *out)
{
	char shown[VALUE_SHOWN_MAX + 8];
	int type = config_setting_type(setting);

	if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64)
		return fail(parser, setting, "must be a whole number, not %s",
		            setting_value(setting, shown, sizeof(shown)));
	*out = config_setting_get_int64(setting);
	if (type == CONFIG_TYPE_INT && parser->overflow_line == setting_line(setting) &&
	    parser->overflow_wrapped == *out) {
		parser->overflow_claimed = true;
		return fail(parser, setting, "number out of range: %s", parser->overflow_text);
	}
	return 0;
}

static int
read_uint32(struct parser *parser, const config_setting_t *setting, const struct rule *rule,
            void *base)
{
	int64_t value = 0;
	int error;

	if ((error = read_integer(parser, setting, &value)) < 0)
		return error;
	if (value < rule->min || value > rule->max)
		return fail(parser, setting,
		            "must be between %" PRId64 " and %" PRId64 ", not %" PRId64, rule->min,
		            rule->max, value);
	*(uint32_t *)((char *)base + rule->offset) = (uint32_t)value;
	return 0;
}

static int
read_power_of_two(struct parser *parser, const config_setting_t *setting, const struct rule *rule,
                  void *base)
{
	uint32_t value;
	int error;

	if ((error = read_uint32(parser, setting, rule, base)) < 0)
		return error;
	value = *(uint32_t *)((char *)base + rule->offset);
	if ((value & (value - 1)) != 0)
		return fail(parser, setting, "must be a power of two, not %" PRIu32, value);
	return 0;
}

static int
read_bool(struct parser *parser, const config_setting_t *setting, const struct rule *rule,
          void *base)
{
	char shown[VALUE_SHOWN_MAX + 8];

	if (config_setting_type(setting) != CONFIG_TYPE_BOOL)
		return fail(parser, setting, "must be true or false, not %s",
		            setting_value(setting, shown, sizeof(shown)));
	*(int *)((char *)base + rule->offset) = config_setting_get_bool(setting);
	return 0;
}

/* "90s", "15m", "1h", "7d", "250ms", or a bare number of seconds. */
static int
read_duration(struct parser *parser, const config_setting_t *setting, const struct rule *rule,
              void *base)
{
	char shown[VALUE_SHOWN_MAX + 8], min[32], max[32];
	int64_t value = 0;
	int error;

	if (config_setting_type(setting) == CONFIG_TYPE_STRING) {
		if (duration_parse(config_setting_get_string(setting), &value) < 0)
			return fail(parser, setting,
			            "not a duration: %s (write 250ms, 90s, 15m, 1h or 7d)",
			            setting_value(setting, shown, sizeof(shown)));
	} else if (config_setting_type(setting) == CONFIG_TYPE_INT ||
	           config_setting_type(setting) == CONFIG_TYPE_INT64) {
		if ((error = read_integer(parser, setting, &value)) < 0)
			return error;
		if (__builtin_mul_overflow(value, MS_PER_SECOND, &value))
			value = INT64_MAX;
	} else {
		return fail(parser, setting, "must be a duration such as \"90s\", not %s",
		            setting_value(setting, shown, sizeof(shown)));
	}
	if (value < rule->min || value > rule->max)
		return fail(parser, setting, "must be between %s and %s, not %s",
		            duration_format(rule->min, min, sizeof(min)),
		            duration_format(rule->max, max, sizeof(max)),
		            setting_value(setting, shown, sizeof(shown)));
	*(int64_t *)((char *)base + rule->offset) = value;
	return 0;
}

static int
read_enum(struct parser *parser, const config_setting_t *setting, const struct rule *rule,
          void *base)
{
	char shown[VALUE_SHOWN_MAX + 8], choices[256];
	size_t used = 0;

	if (config_setting_type(setting) == CONFIG_TYPE_STRING)
		for (int value = 0; value <= rule->max; value++)
			if (strcmp(config_setting_get_string(setting), rule->value_name(value)) ==
			    0) {
				*(int *)((char *)base + rule->offset) = value;
				return 0;
			}
	choices[0] = '\0';
	for (int value = 0; value <= rule->max && used < sizeof(choices); value++)
		used += snprintf(choices + used, sizeof(choices) - used, "%s\"%s\"",
		                 value == 0           ? ""
		                 : value == rule->max ? " or "
		                                      : ", ",
		                 rule->value_name(value));
	return fail(parser, setting, "must be %s, not %s", choices,
	            setting_value(setting, shown, sizeof(shown)));
}

/* A string into a buffer of size bytes; too long is an error, never cut short. */
static int
read_string_into(struct parser *parser, const config_setting_t *setting, char *buf, size_t size)
{
	char shown[VALUE_SHOWN_MAX + 8];
	const char *text;

	if (config_setting_type(setting) != CONFIG_TYPE_STRING)
		return fail(parser, setting, "must be a string, not %s",
		            setting_value(setting, shown, sizeof(shown)));
	text = config_setting_get_string(setting);
	if (text[0] == '\0')
		return fail(parser, setting, "must not be empty");
	if (strlen(text) >= size)
		return fail(parser, setting, "longer than %zu characters: %s", size - 1,
		            setting_value(setting, shown, sizeof(shown)));
	memcpy(buf, text, strlen(text) + 1);
	return 0;
}

static bool
all_chars_in(const char *text, const char *extra)
{
	for (; *text; text++)
		if (!islower((unsigned char)*text) && !isdigit((unsigned char)*text) &&
		    strchr(extra, *text) == NULL)
			return false;
	return true;
}

/* A string that must pass valid(); expected says what it must be. */
static int
read_string_checked(struct parser *parser, const config_setting_t *setting, const struct rule *rule,
                    void *base, bool (*valid)(const char *), const char *expected)
{
	char *field = (char *)base + rule->offset;
	char shown[VALUE_SHOWN_MAX + 8];
	int error;

	if ((error = read_string_into(parser, setting, field, rule->max)) < 0)
		return error;
	if (!valid(field))
		return fail(parser, setting, "must be %s, not %s", expected,
		            setting_value(setting, shown, sizeof(shown)));
	return 0;
}

/* nftables accepts more, but a plain name keeps the table easy to find and to quote. */
static bool
table_name_valid(const char *text)
{
	return all_chars_in(text, "_");
}

/* A group name as useradd(8) accepts it. */
static bool
group_name_valid(const char *text)
{
	return all_chars_in(text, "_-") && text[0] != '-';
}

/* The daemon changes directory nowhere, but systemd and operators read these: no guessing. */
static bool
path_absolute(const char *text)
{
	return text[0] == '/';
}

static int
read_table_name(struct parser *parser, const config_setting_t *setting, const struct rule *rule,
                void *base)
{
	return read_string_checked(parser, setting, rule, base, table_name_valid,
	                           "lower-case letters, digits and _");
}

static int
read_group_name(struct parser *parser, const config_setting_t *setting, const struct rule *rule,
                void *base)
{
	return read_string_checked(parser, setting, rule, base, group_name_valid,
	                           "a group name (lower-case letters, digits, _ and -)");
}

static int
read_absolute_path(struct parser *parser, const config_setting_t *setting, const struct rule *rule,
                   void *base)
{
	return read_string_checked(parser, setting, rule, base, path_absolute, "an absolute path");
}

/* Is the setting "" (none)? Then the field is emptied. */
static bool
read_none(const config_setting_t *setting, const struct rule *rule, void *base)
{
	if (config_setting_type(setting) != CONFIG_TYPE_STRING ||
	    config_setting_get_string(setting)[0] != '\0')
		return false;
	((char *)base + rule->offset)[0] = '\0';
	return true;
}

/* An absolute path, or "" for none. */
static int
read_optional_path(struct parser *parser, const config_setting_t *setting, const struct rule *rule,
                   void *base)
{
	if (read_none(setting, rule, base))
		return 0;
	return read_absolute_path(parser, setting, rule, base);
}

/* A command line for a delivery: "" for none, else an absolute program and its words. */
static int
read_command(struct parser *parser, const config_setting_t *setting, const struct rule *rule,
             void *base)
{
	char *field = (char *)base + rule->offset;
	char shown[VALUE_SHOWN_MAX + 8];
	int error;

	if (read_none(setting, rule, base))
		return 0;
	if ((error = read_string_into(parser, setting, field, rule->max)) < 0)
		return error;
	/* Run without a shell: words split at spaces, the first an absolute path. */
	if (field[0] != '/' || strpbrk(field, "\"'`$|;&<>\n") != NULL)
		return fail(parser, setting,
		            "must be an absolute program and its arguments, without shell quoting "
		            "or operators, not %s",
		            setting_value(setting, shown, sizeof(shown)));
	return 0;
}

/* An SMTP relay: "ADDRESS:PORT" or "[IPV6]:PORT", or "" for none. */
static int
read_smtp_relay(struct parser *parser, const config_setting_t *setting, const struct rule *rule,
                void *base)
{
	char *field = (char *)base + rule->offset;
	char shown[VALUE_SHOWN_MAX + 8];
	struct sockaddr_storage address;
	socklen_t length;
	int error;

	if (read_none(setting, rule, base))
		return 0;
	if ((error = read_string_into(parser, setting, field, rule->max)) < 0)
		return error;
	if (smtp_relay_parse(field, &address, &length) < 0)
		return fail(parser, setting,
		            "must be an address and a port, \"127.0.0.1:25\" or \"[::1]:25\" (no "
		            "names: the daemon resolves none), or \"\" for none, not %s",
		            setting_value(setting, shown, sizeof(shown)));
	return 0;
}

/* The sender of notices: "address" or "Display Name <address>". */
static int
read_mail_from(struct parser *parser, const config_setting_t *setting, const struct rule *rule,
               void *base)
{
	char *field = (char *)base + rule->offset;
	char shown[VALUE_SHOWN_MAX + 8], address[256];
	const char *open, *close;
	int error;

	if ((error = read_string_into(parser, setting, field, rule->max)) < 0)
		return error;
	open = strchr(field, '<');
	close = open != NULL ? strchr(open, '>') : NULL;
	if (open != NULL && close != NULL && close[1] == '\0')
		snprintf(address, sizeof(address), "%.*s", (int)(close - open - 1), open + 1);
	else
		snprintf(address, sizeof(address), "%s", field);
	if (!customer_contact_valid(address) || strpbrk(field, "\r\n\"") != NULL)
		return fail(parser, setting,
		            "must be a mail address, or \"Name <address>\", not %s",
		            setting_value(setting, shown, sizeof(shown)));
	return 0;
}

static int
read_socket_path(struct parser *parser, const config_setting_t *setting, const struct rule *rule,
                 void *base)
{
	struct sockaddr_un address;
	struct rule bounded = *rule;

	/* bind(2) takes no longer path than sun_path holds. */
	bounded.max = sizeof(address.sun_path);
	return read_absolute_path(parser, setting, &bounded, base);
}

/* Lists of strings may be written [ "a", "b" ] or ( "a", "b" ). */
static int
check_list_length(struct parser *parser, const config_setting_t *setting, const struct rule *rule,
                  const char *what)
{
	char shown[VALUE_SHOWN_MAX + 8];
	int length;

	if (!config_setting_is_array(setting) && !config_setting_is_list(setting))
		return fail(parser, setting, "must be a list of %s such as [ \"...\" ], not %s",
		            what, setting_value(setting, shown, sizeof(shown)));
	length = config_setting_length(setting);
	if (length < rule->min || length > rule->max)
		return fail(parser, setting,
		            "must hold between %" PRId64 " and %" PRId64 " %s, not %d", rule->min,
		            rule->max, what, length);
	return 0;
}

static int
read_interfaces(struct parser *parser, const config_setting_t *setting, const struct rule *rule,
                void *base)
{
	char patterns[CONFIG_MAX_INTERFACES][CONFIG_MAX_PATTERN];
	char shown[VALUE_SHOWN_MAX + 8];
	int error, count;

	/* Zeroed, so configurations that read the same compare equal as bytes. */
	memset(patterns, 0, sizeof(patterns));
	if ((error = check_list_length(parser, setting, rule, "patterns")) < 0)
		return error;
	count = config_setting_length(setting);
	for (int i = 0; i < count; i++) {
		const config_setting_t *element = config_setting_get_elem(setting, i);

		if ((error = read_string_into(parser, element, patterns[i], CONFIG_MAX_PATTERN)) <
		    0)
			return error;
		for (const char *c = patterns[i]; *c; c++)
			if (!isgraph((unsigned char)*c) || *c == '/')
				return fail(parser, element,
				            "not an interface name or glob pattern: %s",
				            setting_value(element, shown, sizeof(shown)));
	}
	memcpy((char *)base + rule->offset, patterns, sizeof(patterns));
	*(unsigned *)((char *)base + rule->count_offset) = (unsigned)count;
	return 0;
}

static int
read_port_list(struct parser *parser, const config_setting_t *setting, const struct rule *rule,
               void *base)
{
	uint16_t ports[CONFIG_MAX_HTTP_PORTS];
	int error, count;

	memset(ports, 0, sizeof(ports));
	if ((error = check_list_length(parser, setting, rule, "ports")) < 0)
		return error;
	count = config_setting_length(setting);
	for (int i = 0; i < count; i++) {
		const config_setting_t *element = config_setting_get_elem(setting, i);
		int64_t port = 0;

		if ((error = read_integer(parser, element, &port)) < 0)
			return error;
		if (port < 1 || port > 65535)
			return fail(parser, element,
			            "must be a TCP port from 1 to 65535, not %" PRId64, port);
		ports[i] = (uint16_t)port;
	}
	memcpy((char *)base + rule->offset, ports, sizeof(ports));
	*(unsigned *)((char *)base + rule->count_offset) = (unsigned)count;
	return 0;
}

static int
read_prefixes(struct parser *parser, const config_setting_t *setting, const struct rule *rule,
              void *base)
{
	struct prefix prefixes[CONFIG_MAX_PREFIXES];
	char shown[VALUE_SHOWN_MAX + 8];
	int error, count;

	memset(prefixes, 0, sizeof(prefixes));
	if ((error = check_list_length(parser, setting, rule, "addresses or prefixes")) < 0)
		return error;
	count = config_setting_length(setting);
	for (int i = 0; i < count; i++) {
		const config_setting_t *element = config_setting_get_elem(setting, i);

		if (config_setting_type(element) != CONFIG_TYPE_STRING)
			return fail(parser, element, "must be a string, not %s",
			            setting_value(element, shown, sizeof(shown)));
		if (prefix_parse(config_setting_get_string(element), &prefixes[i]) < 0)
			return fail(parser, element, "not an address or prefix: %s",
			            setting_value(element, shown, sizeof(shown)));
	}
	memcpy((char *)base + rule->offset, prefixes, (size_t)rule->max * sizeof(prefixes[0]));
	*(unsigned *)((char *)base + rule->count_offset) = (unsigned)count;
	return 0;
}

/* A port as a number, or a range as a string "137-139". */
static int
read_port_element(struct parser *parser, const config_setting_t *element, unsigned *first,
                  unsigned *last)
{
	char shown[VALUE_SHOWN_MAX + 8], end;
	int64_t value = 0;
	int error;

	if (config_setting_type(element) == CONFIG_TYPE_STRING) {
		int fields =
		    sscanf(config_setting_get_string(element), "%u-%u%c", first, last, &end);

		if (fields == 1 && strchr(config_setting_get_string(element), '-') == NULL)
			*last = *first; /* "67" */
		else if (fields != 2)
			*first = 0;
		if (*first < 1 || *last > 65535 || *first > *last)
			return fail(parser, element,
			            "not a port or a range such as \"137-139\" (1 to 65535): %s",
			            setting_value(element, shown, sizeof(shown)));
		return 0;
	}
	if ((error = read_integer(parser, element, &value)) < 0)
		return error;
	if (value < 1 || value > 65535)
		return fail(parser, element, "must be a port between 1 and 65535, not %" PRId64,
		            value);
	*first = *last = (unsigned)value;
	return 0;
}

static int
read_ports(struct parser *parser, const config_setting_t *setting, const struct rule *rule,
           void *base)
{
	struct scan_config ports = {0};
	unsigned first, last;
	int error;

	if (!config_setting_is_array(setting) && !config_setting_is_list(setting))
		return fail(parser, setting, "must be a list of ports such as ( 67, \"137-139\" )");
	if ((error = check_list_length(parser, setting, rule, "ports or ranges")) < 0)
		return error;
	for (int i = 0; i < config_setting_length(setting); i++) {
		if ((error = read_port_element(parser, config_setting_get_elem(setting, i), &first,
		                               &last)) < 0)
			return error;
		for (unsigned port = first; port <= last; port++)
			scan_port_ignore(&ports, port);
	}
	memcpy((char *)base + rule->offset, ports.ignored_ports, sizeof(ports.ignored_ports));
	*(unsigned *)((char *)base + rule->count_offset) = ports.ignored_port_count;
	return 0;
}

/* A name a VM's interface may have: what ip-link(8) accepts. */
static bool
interface_name_valid(const char *text)
{
	for (const char *c = text; *c; c++)
		if (!isgraph((unsigned char)*c) || *c == '/' || *c == ':')
			return false;
	return strlen(text) < IF_NAMESIZE;
}

static bool
label_valid(const char *text)
{
	for (const char *c = text; *c; c++)
		if (!isprint((unsigned char)*c))
			return false;
	return true;
}

static int
read_interface_name(struct parser *parser, const config_setting_t *setting, const struct rule *rule,
                    void *base)
{
	return read_string_checked(parser, setting, rule, base, interface_name_valid,
	                           "an interface name");
}

static int
read_label(struct parser *parser, const config_setting_t *setting, const struct rule *rule,
           void *base)
{
	return read_string_checked(parser, setting, rule, base, label_valid, "printable text");
}

#define VM_MEMBER_SIZE(member) sizeof(((struct config_vm *)0)->member)

static const struct rule vm_rules[] = {
    {.name = "interface",
     .read = read_interface_name,
     .offset = offsetof(struct config_vm, interface),
     .max = VM_MEMBER_SIZE(interface)},
    {.name = "addresses",
     .read = read_prefixes,
     .offset = offsetof(struct config_vm, addresses),
     .count_offset = offsetof(struct config_vm, address_count),
     .min = 1,
     .max = CONFIG_MAX_VM_ADDRESSES},
    {.name = "name",
     .read = read_label,
     .offset = offsetof(struct config_vm, name),
     .max = VM_MEMBER_SIZE(name)},
    {.name = "customer",
     .read = read_label,
     .offset = offsetof(struct config_vm, customer),
     .max = VM_MEMBER_SIZE(customer)},
    {0},
};

/* A VM's addresses must be ones a VM can own, and nobody else's. */
static int
check_vm_addresses(struct parser *parser, const config_setting_t *entry,
                   const struct config_vm *vms, unsigned index)
{
	const config_setting_t *list = config_setting_get_member(entry, "addresses");
	const struct config_vm *vm = &vms[index];
	char shown[VALUE_SHOWN_MAX + 8], other[SOURCE_STRLEN];

	for (unsigned i = 0; i < vm->address_count; i++) {
		const config_setting_t *element = config_setting_get_elem(list, i);
		enum address_class class = address_classify(&vm->addresses[i], NULL, 0);

		if (class != ADDRESS_ORDINARY)
			return fail(parser, element, "no VM can own a %s: %s",
			            address_class_name(class),
			            setting_value(element, shown, sizeof(shown)));
		for (unsigned j = 0; j <= index; j++)
			for (unsigned k = 0; k < vms[j].address_count && (j < index || k < i); k++)
				if (prefix_overlaps(&vm->addresses[i], &vms[j].addresses[k]))
					return fail(parser, element,
					            "%s overlaps %s of interface %s",
					            setting_value(element, shown, sizeof(shown)),
					            prefix_format(&vms[j].addresses[k], other,
					                          sizeof(other)),
					            vms[j].interface);
	}
	return 0;
}

static int
read_vms(struct parser *parser, const config_setting_t *setting, const struct rule *rule,
         void *base)
{
	const struct rule vm_group = {.read = read_group, .children = vm_rules};
	static struct config_vm vms[CONFIG_MAX_VMS];
	char shown[VALUE_SHOWN_MAX + 8];
	unsigned count;
	int error;

	memset(vms, 0, sizeof(vms));
	if (!config_setting_is_list(setting))
		return fail(parser, setting,
		            "must be a list of VMs such as ( { interface = \"vnet0\"; addresses = "
		            "[ \"192.0.2.10\" ]; } ), not %s",
		            setting_value(setting, shown, sizeof(shown)));
	count = (unsigned)config_setting_length(setting);
	if (count > CONFIG_MAX_VMS)
		return fail(parser, setting, "must hold at most %d VMs, not %u", CONFIG_MAX_VMS,
		            count);
	for (unsigned i = 0; i < count; i++) {
		const config_setting_t *entry = config_setting_get_elem(setting, i);

		if ((error = read_group(parser, entry, &vm_group, &vms[i])) < 0)
			return error;
		if (vms[i].interface[0] == '\0')
			return fail(parser, entry, "a VM needs interface = \"...\"");
		if (vms[i].address_count == 0)
			return fail(parser, entry, "a VM needs addresses = [ \"...\" ]");
		for (unsigned j = 0; j < i; j++)
			if (strcmp(vms[j].interface, vms[i].interface) == 0)
				return fail(parser, config_setting_get_member(entry, "interface"),
				            "interface %s is listed twice", vms[i].interface);
		if ((error = check_vm_addresses(parser, entry, vms, i)) < 0)
			return error;
	}
	memcpy((char *)base + rule->offset, vms, sizeof(vms));
	*(unsigned *)((char *)base + rule->count_offset) = count;
	return 0;
}

static int
read_contact(struct parser *parser, const config_setting_t *setting, const struct rule *rule,
             void *base)
{
	return read_string_checked(parser, setting, rule, base, customer_contact_valid,
	                           "one e-mail address such as abuse@customer.example");
}

#define CUSTOMER_MEMBER_SIZE(member) sizeof(((struct customer *)0)->member)

static const struct rule customer_rules[] = {
    {.name = "id",
     .read = read_label,
     .offset = offsetof(struct customer, id),
     .max = CUSTOMER_MEMBER_SIZE(id)},
    {.name = "name",
     .read = read_label,
     .offset = offsetof(struct customer, name),
     .max = CUSTOMER_MEMBER_SIZE(name)},
    {.name = "contact",
     .read = read_contact,
     .offset = offsetof(struct customer, contact),
     .max = CUSTOMER_MEMBER_SIZE(contact)},
    {.name = "prefixes",
     .read = read_prefixes,
     .offset = offsetof(struct customer, prefixes),
     .count_offset = offsetof(struct customer, prefix_count),
     .min = 0,
     .max = CUSTOMER_PREFIXES_MAX},
    {0},
};

/* A prefix routes to one customer: the same prefix twice is a mistake (overlaps nest). */
static int
check_customer_prefixes(struct parser *parser, const config_setting_t *entry,
                        const struct customer *customers, unsigned index)
{
	const config_setting_t *list = config_setting_get_member(entry, "prefixes");
	const struct customer *customer = &customers[index];
	char shown[VALUE_SHOWN_MAX + 8];

	for (unsigned i = 0; i < customer->prefix_count; i++)
		for (unsigned j = 0; j <= index; j++)
			for (unsigned k = 0; k < customers[j].prefix_count && (j < index || k < i);
			     k++)
				if (memcmp(&customer->prefixes[i], &customers[j].prefixes[k],
				           sizeof(struct prefix)) == 0)
					return fail(parser, config_setting_get_elem(list, i),
					            "%s is already customer %s's",
					            setting_value(config_setting_get_elem(list, i),
					                          shown, sizeof(shown)),
					            customers[j].id);
	return 0;
}

static int
read_customers(struct parser *parser, const config_setting_t *setting, const struct rule *rule,
               void *base)
{
	const struct rule customer_group = {.read = read_group, .children = customer_rules};
	static struct customer customers[CONFIG_MAX_CUSTOMERS];
	char shown[VALUE_SHOWN_MAX + 8];
	unsigned count;
	int error;

	memset(customers, 0, sizeof(customers));
	if (!config_setting_is_list(setting))
		return fail(
		    parser, setting,
		    "must be a list of customers such as ( { id = \"c-1001\"; contact = "
		    "\"abuse@customer.example\"; prefixes = [ \"10.0.0.0/24\" ]; } ), not %s",
		    setting_value(setting, shown, sizeof(shown)));
	count = (unsigned)config_setting_length(setting);
	if (count > CONFIG_MAX_CUSTOMERS)
		return fail(parser, setting, "must hold at most %d customers, not %u",
		            CONFIG_MAX_CUSTOMERS, count);
	for (unsigned i = 0; i < count; i++) {
		const config_setting_t *entry = config_setting_get_elem(setting, i);

		if ((error = read_group(parser, entry, &customer_group, &customers[i])) < 0)
			return error;
		if (customers[i].id[0] == '\0')
			return fail(parser, entry, "a customer needs id = \"...\"");
		if (strcmp(customers[i].id, CUSTOMER_DEFAULT_QUEUE) == 0)
			return fail(parser, config_setting_get_member(entry, "id"),
			            "\"%s\" is the default queue's id", CUSTOMER_DEFAULT_QUEUE);
		if (customers[i].contact[0] == '\0')
			return fail(parser, entry, "customer %s needs contact = \"...\"",
			            customers[i].id);
		for (unsigned j = 0; j < i; j++)
			if (strcmp(customers[j].id, customers[i].id) == 0)
				return fail(parser, config_setting_get_member(entry, "id"),
				            "customer %s is listed twice", customers[i].id);
		if ((error = check_customer_prefixes(parser, entry, customers, i)) < 0)
			return error;
	}
	memcpy((char *)base + rule->offset, customers, sizeof(customers));
	*(unsigned *)((char *)base + rule->count_offset) = count;
	return 0;
}

/* Edits between two short names, to suggest the setting a typo meant. */
static unsigned
edit_distance(const char *a, const char *b)
{
	unsigned row[CONFIG_MAX_PATTERN + 1];
	size_t a_len = strlen(a), b_len = strlen(b);

	if (a_len > CONFIG_MAX_PATTERN || b_len > CONFIG_MAX_PATTERN)
		return UINT_MAX;
	for (size_t j = 0; j <= b_len; j++)
		row[j] = (unsigned)j;
	for (size_t i = 1; i <= a_len; i++) {
		unsigned diagonal = row[0];

		row[0] = (unsigned)i;
		for (size_t j = 1; j <= b_len; j++) {
			unsigned above = row[j];
			unsigned best = diagonal + (a[i - 1] != b[j - 1]);

			if (above + 1 < best)
				best = above + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diagonal = above;
		}
	}
	return row[b_len];
}

static int
read_group(struct parser *parser, const config_setting_t *setting, const struct rule *rule,
           void *base)
{
	char shown[VALUE_SHOWN_MAX + 8];
	int error;

	if (!config_setting_is_group(setting))
		return fail(parser, setting, "must be a group { ... }, not %s",
		            setting_value(setting, shown, sizeof(shown)));
	for (int i = 0; i < config_setting_length(setting); i++) {
		const config_setting_t *member = config_setting_get_elem(setting, i);
		const char *name = config_setting_name(member);
		const struct rule *known = rule->children, *closest = NULL;

		for (; known->name != NULL; known++) {
			if (strcmp(known->name, name) == 0)
				break;
			if (edit_distance(known->name, name) <= 2)
				closest = known;
		}
		if (known->name == NULL)
			return fail(parser, member, "unknown setting%s%s%s",
			            closest ? " (did you mean " : "", closest ? closest->name : "",
			            closest ? "?)" : "");
		if ((error = known->read(parser, member, known, base)) < 0)
			return error;
	}
	return 0;
}

static int
read_spam(struct parser *parser, const config_setting_t *setting, const struct rule *rule,
          void *base)
{
	const struct config *config = base;
	int error;

	if ((error = read_group(parser, setting, rule, base)) < 0)
		return error;
	if (config->spam.enabled && config->spam.smtp_attempts == 0 &&
	    config->spam.smtp_destinations == 0)
		return fail(parser, setting,
		            "smtp_attempts and smtp_destinations are both 0: "
		            "set one, or set enabled = false");
	return 0;
}

static int
read_scan(struct parser *parser, const config_setting_t *setting, const struct rule *rule,
          void *base)
{
	const struct config *config = base;
	int error;

	if ((error = read_group(parser, setting, rule, base)) < 0)
		return error;
	if (config->scan.enabled && config->scan.sequential == 0 &&
	    config->scan.hosts_per_port == 0 && config->scan.ports_per_host == 0 &&
	    config->scan.arp_hosts == 0)
		return fail(parser, setting,
		            "sequential, hosts_per_port, ports_per_host and arp_hosts are all 0: "
		            "set one, or set enabled = false");
	if (config->scan.timeout_ms >= config->scan.window_ms)
		return fail(parser, setting, "timeout must be shorter than window");
	return 0;
}

static const struct rule rung_rules[] = {
    {.name = "ban",
     .read = read_duration,
     .offset = offsetof(struct rung, duration_ms),
     .min = MS_PER_SECOND,
     .max = DURATION_MAX_MS},
    {.name = "within",
     .read = read_duration,
     .offset = offsetof(struct rung, within_ms),
     .min = MS_PER_SECOND,
     .max = DURATION_MAX_MS},
    {0},
};

/*
 * Rung 0 is where every source starts, so a window there would mean nothing;
 * every later rung is reached only by a repeat within its window.
 */
static int
read_ladder(struct parser *parser, const config_setting_t *setting, const struct rule *rule,
            void *base)
{
	const struct rule rung_group = {.read = read_group, .children = rung_rules};
	struct ladder ladder;
	char shown[VALUE_SHOWN_MAX + 8];
	int error;

	memset(&ladder, 0, sizeof(ladder));
	if (!config_setting_is_list(setting))
		return fail(parser, setting,
		            "must be a list of rungs such as ( { ban = \"1h\"; } ), not %s",
		            setting_value(setting, shown, sizeof(shown)));
	ladder.count = (unsigned)config_setting_length(setting);
	if (ladder.count < 1 || ladder.count > LADDER_MAX_RUNGS)
		return fail(parser, setting, "must hold between 1 and %d rungs, not %u",
		            LADDER_MAX_RUNGS, ladder.count);
	for (unsigned i = 0; i < ladder.count; i++) {
		const config_setting_t *rung = config_setting_get_elem(setting, i);
		const config_setting_t *within;

		if ((error = read_group(parser, rung, &rung_group, &ladder.rungs[i])) < 0)
			return error;
		within = config_setting_get_member(rung, "within");
		if (config_setting_get_member(rung, "ban") == NULL)
			return fail(parser, rung, "a rung needs ban = \"...\"");
		if (i == 0 && within != NULL)
			return fail(parser, within,
			            "the first rung takes no within: every source starts there");
		if (i > 0 && within == NULL)
			return fail(
			    parser, rung,
			    "a rung after the first needs within = \"...\": how soon after the "
			    "previous ban a repeat climbs to it");
	}
	memcpy((char *)base + rule->offset, &ladder, sizeof(ladder));
	return 0;
}

#define MEMBER_SIZE(member) sizeof(((struct config *)0)->member)

static const struct rule limits_rules[] = {
    {.name = "max_sources",
     .read = read_uint32,
     .offset = offsetof(struct config, limits.max_sources),
     .min = 1024,
     .max = 16777216},
    {.name = "max_smtp_pairs",
     .read = read_uint32,
     .offset = offsetof(struct config, limits.max_smtp_pairs),
     .min = 1024,
     .max = 16777216},
    {.name = "ring_buffer_bytes",
     .read = read_power_of_two,
     .offset = offsetof(struct config, limits.ring_buffer_bytes),
     .min = 4096,
     .max = 67108864},
    {.name = "max_bans",
     .read = read_uint32,
     .offset = offsetof(struct config, limits.max_bans),
     .min = 16,
     .max = 16777216},
    {.name = "max_interfaces",
     .read = read_uint32,
     .offset = offsetof(struct config, limits.max_interfaces),
     .min = 1,
     .max = 65536},
    {.name = "control_clients",
     .read = read_uint32,
     .offset = offsetof(struct config, limits.control_clients),
     .min = 1,
     .max = 1024},
    {.name = "control_line_bytes",
     .read = read_uint32,
     .offset = offsetof(struct config, limits.control_line_bytes),
     .min = 1024,
     .max = 16777216},
    {.name = "bans_per_minute",
     .read = read_uint32,
     .offset = offsetof(struct config, limits.bans_per_minute),
     .min = 1,
     .max = 100000},
    {.name = "max_scan_contacts",
     .read = read_uint32,
     .offset = offsetof(struct config, limits.max_scan_contacts),
     .min = 1024,
     .max = 16777216},
    {.name = "scan_pending_per_interface",
     .read = read_uint32,
     .offset = offsetof(struct config, limits.scan_pending_per_interface),
     .min = 16,
     .max = 1048576},
    {.name = "store_pending",
     .read = read_uint32,
     .offset = offsetof(struct config, limits.store_pending),
     .min = 16,
     .max = 1048576},
    {.name = "control_idle",
     .read = read_duration,
     .offset = offsetof(struct config, limits.control_idle_ms),
     .min = MS_PER_SECOND,
     .max = MS_PER_DAY},
    {.name = "max_vm_addresses",
     .read = read_uint32,
     .offset = offsetof(struct config, limits.max_vm_addresses),
     .min = 1,
     .max = 1024},
    {.name = "max_host_addresses",
     .read = read_uint32,
     .offset = offsetof(struct config, limits.max_host_addresses),
     .min = 16,
     .max = 65536},
    {.name = "learn_frames",
     .read = read_uint32,
     .offset = offsetof(struct config, limits.learn_frames),
     .min = 1,
     .max = 100000},
    {.name = "interface_sources",
     .read = read_uint32,
     .offset = offsetof(struct config, limits.interface_sources),
     .min = 16,
     .max = 16777216},
    {.name = "outbox",
     .read = read_uint32,
     .offset = offsetof(struct config, limits.outbox),
     .min = 16,
     .max = 10000000},
    {.name = "deliveries",
     .read = read_uint32,
     .offset = offsetof(struct config, limits.deliveries),
     .min = 1,
     .max = 64},
    {.name = "delivery_output",
     .read = read_uint32,
     .offset = offsetof(struct config, limits.delivery_output),
     .min = 256,
     .max = 1048576},
    {.name = "ticket_evidence_files",
     .read = read_uint32,
     .offset = offsetof(struct config, limits.ticket_evidence_files),
     .min = 1,
     .max = 1024},
    {.name = "ticket_evidence_bytes",
     .read = read_uint32,
     .offset = offsetof(struct config, limits.ticket_evidence_bytes),
     .min = 4096,
     .max = 1LL << 31},
    {.name = "runtime_allowlist",
     .read = read_uint32,
     .offset = offsetof(struct config, limits.runtime_allowlist),
     .min = 1,
     .max = 65536},
    {.name = "control_event_queue",
     .read = read_uint32,
     .offset = offsetof(struct config, limits.control_event_queue),
     .min = 4096,
     .max = 4194304},
    {.name = "wire_flows",
     .read = read_uint32,
     .offset = offsetof(struct config, limits.wire_flows),
     .min = 16,
     .max = 4194304},
    {.name = "wire_buffer_bytes",
     .read = read_uint32,
     .offset = offsetof(struct config, limits.wire_buffer_bytes),
     .min = 65536,
     .max = 1073741824},
    {.name = "evidence_packets",
     .read = read_uint32,
     .offset = offsetof(struct config, limits.evidence_packets),
     .min = 0,
     .max = 1048576},
    {.name = "evidence_bytes",
     .read = read_uint32,
     .offset = offsetof(struct config, limits.evidence_bytes),
     .min = 0,
     .max = 1073741824},
    {.name = "smtp_transcript_sources",
     .read = read_uint32,
     .offset = offsetof(struct config, limits.smtp_transcript_sources),
     .min = 1,
     .max = 65536},
    {.name = "smtp_transcript_lines",
     .read = read_uint32,
     .offset = offsetof(struct config, limits.smtp_transcript_lines),
     .min = 1,
     .max = 4096},
    {0},
};

static const struct rule store_rules[] = {
    {.name = "retention",
     .read = read_duration,
     .offset = offsetof(struct config, store.retention_ms),
     .min = MS_PER_DAY,
     .max = DURATION_MAX_MS},
    {.name = "check_timeout",
     .read = read_duration,
     .offset = offsetof(struct config, store.check_timeout_ms),
     .min = MS_PER_SECOND,
     .max = MS_PER_DAY},
    {0},
};

static const struct rule spam_rules[] = {
    {.name = "enabled", .read = read_bool, .offset = offsetof(struct config, spam.enabled)},
    {.name = "window",
     .read = read_duration,
     .offset = offsetof(struct config, spam.window_ms),
     .min = MS_PER_SECOND,
     .max = MS_PER_DAY},
    {.name = "smtp_attempts",
     .read = read_uint32,
     .offset = offsetof(struct config, spam.smtp_attempts),
     .min = 0,
     .max = 1000000},
    {.name = "smtp_destinations",
     .read = read_uint32,
     .offset = offsetof(struct config, spam.smtp_destinations),
     .min = 0,
     .max = 1000000},
    {.name = "scope",
     .read = read_enum,
     .offset = offsetof(struct config, spam.scope),
     .max = SCOPE_COUNT - 1,
     .value_name = scope_value_name},
    {0},
};

static const struct rule scan_rules[] = {
    {.name = "enabled", .read = read_bool, .offset = offsetof(struct config, scan.enabled)},
    {.name = "window",
     .read = read_duration,
     .offset = offsetof(struct config, scan.window_ms),
     .min = MS_PER_SECOND,
     .max = MS_PER_DAY},
    {.name = "timeout",
     .read = read_duration,
     .offset = offsetof(struct config, scan.timeout_ms),
     .min = 100,
     .max = 600 * MS_PER_SECOND},
    {.name = "return_path",
     .read = read_duration,
     .offset = offsetof(struct config, scan.return_path_ms),
     .min = MS_PER_SECOND,
     .max = MS_PER_DAY},
    {.name = "sequential",
     .read = read_uint32,
     .offset = offsetof(struct config, scan.sequential),
     .min = 0,
     .max = 1000000},
    {.name = "hosts_per_port",
     .read = read_uint32,
     .offset = offsetof(struct config, scan.hosts_per_port),
     .min = 0,
     .max = 1000000},
    {.name = "ports_per_host",
     .read = read_uint32,
     .offset = offsetof(struct config, scan.ports_per_host),
     .min = 0,
     .max = 1000000},
    {.name = "arp_hosts",
     .read = read_uint32,
     .offset = offsetof(struct config, scan.arp_hosts),
     .min = 0,
     .max = 1000000},
    {.name = "scope",
     .read = read_enum,
     .offset = offsetof(struct config, scan.scope),
     .max = SCOPE_COUNT - 1,
     .value_name = scope_value_name},
    {.name = "ignore_ports",
     .read = read_ports,
     .offset = offsetof(struct config, scan.ignored_ports),
     .count_offset = offsetof(struct config, scan.ignored_port_count),
     .min = 0,
     .max = 1024},
    {0},
};

static const struct rule metrics_rules[] = {
    {.name = "file",
     .read = read_optional_path,
     .offset = offsetof(struct config, metrics.file),
     .max = MEMBER_SIZE(metrics.file)},
    {.name = "interval",
     .read = read_duration,
     .offset = offsetof(struct config, metrics.interval_ms),
     .min = MS_PER_SECOND,
     .max = MS_PER_HOUR},
    {0},
};

static const struct rule notify_rules[] = {
    {.name = "from",
     .read = read_mail_from,
     .offset = offsetof(struct config, notify.from),
     .max = MEMBER_SIZE(notify.from)},
    {.name = "smtp",
     .read = read_smtp_relay,
     .offset = offsetof(struct config, notify.smtp),
     .max = MEMBER_SIZE(notify.smtp)},
    {.name = "mail_command",
     .read = read_command,
     .offset = offsetof(struct config, notify.mail_command),
     .max = MEMBER_SIZE(notify.mail_command)},
    {.name = "exec",
     .read = read_command,
     .offset = offsetof(struct config, notify.exec),
     .max = MEMBER_SIZE(notify.exec)},
    {.name = "event_log",
     .read = read_optional_path,
     .offset = offsetof(struct config, notify.event_log),
     .max = MEMBER_SIZE(notify.event_log)},
    {.name = "timeout",
     .read = read_duration,
     .offset = offsetof(struct config, notify.timeout_ms),
     .min = MS_PER_SECOND,
     .max = MS_PER_HOUR},
    {.name = "retry",
     .read = read_duration,
     .offset = offsetof(struct config, notify.retry_ms),
     .min = MS_PER_SECOND,
     .max = MS_PER_DAY},
    {.name = "retry_max",
     .read = read_duration,
     .offset = offsetof(struct config, notify.retry_max_ms),
     .min = MS_PER_SECOND,
     .max = 7 * MS_PER_DAY},
    {0},
};

static const struct rule spoofing_rules[] = {
    {.name = "packets",
     .read = read_uint32,
     .offset = offsetof(struct config, spoofing.packets),
     .min = 0,
     .max = 1000000},
    {.name = "action",
     .read = read_enum,
     .offset = offsetof(struct config, spoofing.action),
     .max = SPOOF_DROP,
     .value_name = spoof_action_value_name},
    {.name = "scope",
     .read = read_enum,
     .offset = offsetof(struct config, spoofing.scope),
     .max = SCOPE_COUNT - 1,
     .value_name = scope_value_name},
    {0},
};

static const struct rule evasion_rules[] = {
    {.name = "tiny_fragments",
     .read = read_uint32,
     .offset = offsetof(struct config, evasion.tiny_fragments),
     .min = 0,
     .max = 1000000},
    {.name = "scope",
     .read = read_enum,
     .offset = offsetof(struct config, evasion.scope),
     .max = SCOPE_COUNT - 1,
     .value_name = scope_value_name},
    {0},
};

static const struct rule crawler_rules[] = {
    {.name = "enabled", .read = read_bool, .offset = offsetof(struct config, crawler.enabled)},
    {.name = "window",
     .read = read_duration,
     .offset = offsetof(struct config, crawler.window_ms),
     .min = MS_PER_SECOND,
     .max = MS_PER_DAY},
    {.name = "disallowed_requests",
     .read = read_uint32,
     .offset = offsetof(struct config, crawler.disallowed_requests),
     .min = 1,
     .max = 1000},
    {.name = "scope",
     .read = read_enum,
     .offset = offsetof(struct config, crawler.scope),
     .max = SCOPE_COUNT - 1,
     .value_name = scope_value_name},
    {.name = "http_ports",
     .read = read_port_list,
     .offset = offsetof(struct config, crawler.http_ports),
     .count_offset = offsetof(struct config, crawler.http_port_count),
     .min = 1,
     .max = CONFIG_MAX_HTTP_PORTS},
    {.name = "fetch_robots",
     .read = read_bool,
     .offset = offsetof(struct config, crawler.fetch_robots)},
    {.name = "max_sources",
     .read = read_uint32,
     .offset = offsetof(struct config, crawler.max_sources),
     .min = 1,
     .max = 1000000},
    {.name = "max_sites_per_source",
     .read = read_uint32,
     .offset = offsetof(struct config, crawler.max_sites_per_source),
     .min = 1,
     .max = 1024},
    {.name = "max_sites",
     .read = read_uint32,
     .offset = offsetof(struct config, crawler.max_sites),
     .min = 1,
     .max = 100000},
    {.name = "fetch_queue",
     .read = read_uint32,
     .offset = offsetof(struct config, crawler.fetch_queue),
     .min = 1,
     .max = 100000},
    {.name = "fetch_timeout",
     .read = read_duration,
     .offset = offsetof(struct config, crawler.fetch_timeout_ms),
     .min = MS_PER_SECOND,
     .max = MS_PER_MINUTE},
    {.name = "held_requests",
     .read = read_uint32,
     .offset = offsetof(struct config, crawler.held_requests),
     .min = 0,
     .max = 1000},
    {.name = "fetch_deny",
     .read = read_prefixes,
     .offset = offsetof(struct config, crawler.fetch_deny),
     .count_offset = offsetof(struct config, crawler.fetch_deny_count),
     .min = 0,
     .max = CONFIG_MAX_PREFIXES},
    {0},
};

static const struct rule tickets_rules[] = {
    {.name = "deadline",
     .read = read_duration,
     .offset = offsetof(struct config, tickets.deadline_ms),
     .min = MS_PER_SECOND, /* seconds: a lab walks a ticket past its deadline */
     .max = 365 * MS_PER_DAY},
    {.name = "update_interval",
     .read = read_duration,
     .offset = offsetof(struct config, tickets.update_interval_ms),
     .min = MS_PER_MINUTE,
     .max = 365 * MS_PER_DAY},
    {.name = "close_after",
     .read = read_duration,
     .offset = offsetof(struct config, tickets.close_after_ms),
     .min = MS_PER_HOUR,
     .max = DURATION_MAX_MS},
    {0},
};

static const struct rule root_rules[] = {
    {.name = "mode",
     .read = read_enum,
     .offset = offsetof(struct config, mode),
     .max = MODE_OBSERVE,
     .value_name = mode_value_name},
    {.name = "interfaces",
     .read = read_interfaces,
     .offset = offsetof(struct config, interfaces),
     .count_offset = offsetof(struct config, interface_count),
     .min = 1,
     .max = CONFIG_MAX_INTERFACES},
    {.name = "xdp_mode",
     .read = read_enum,
     .offset = offsetof(struct config, xdp_mode),
     .max = XDP_ATTACH_GENERIC,
     .value_name = xdp_mode_value_name},
    {.name = "state_dir",
     .read = read_absolute_path,
     .offset = offsetof(struct config, state_dir),
     .max = MEMBER_SIZE(state_dir)},
    {.name = "control_socket",
     .read = read_socket_path,
     .offset = offsetof(struct config, control_socket)},
    {.name = "control_group",
     .read = read_group_name,
     .offset = offsetof(struct config, control_group),
     .max = MEMBER_SIZE(control_group)},
    {.name = "nft_table",
     .read = read_table_name,
     .offset = offsetof(struct config, nft_table),
     .max = MEMBER_SIZE(nft_table)},
    {.name = "ipv6_prefix",
     .read = read_uint32,
     .offset = offsetof(struct config, ipv6_prefix_len),
     .min = 1,
     .max = 128},
    {.name = "limits", .read = read_group, .children = limits_rules},
    {.name = "store", .read = read_group, .children = store_rules},
    {.name = "spam", .read = read_spam, .children = spam_rules},
    {.name = "scan", .read = read_scan, .children = scan_rules},
    {.name = "spoofing", .read = read_group, .children = spoofing_rules},
    {.name = "evasion", .read = read_group, .children = evasion_rules},
    {.name = "crawler", .read = read_group, .children = crawler_rules},
    {.name = "notify", .read = read_group, .children = notify_rules},
    {.name = "ladder", .read = read_ladder, .offset = offsetof(struct config, ladder)},
    {.name = "allowlist",
     .read = read_prefixes,
     .offset = offsetof(struct config, allowlist),
     .count_offset = offsetof(struct config, allowlist_count),
     .min = 0,
     .max = CONFIG_MAX_PREFIXES},
    {.name = "always_allow",
     .read = read_prefixes,
     .offset = offsetof(struct config, always_allowed),
     .count_offset = offsetof(struct config, always_allowed_count),
     .min = 0,
     .max = CONFIG_MAX_PREFIXES},
    {.name = "metrics", .read = read_group, .children = metrics_rules},
    {.name = "customers",
     .read = read_customers,
     .offset = offsetof(struct config, customers),
     .count_offset = offsetof(struct config, customer_count)},
    {.name = "tickets", .read = read_group, .children = tickets_rules},
    {.name = "vms",
     .read = read_vms,
     .offset = offsetof(struct config, vms),
     .count_offset = offsetof(struct config, vm_count)},
    {0},
};

_Static_assert(sizeof(((struct config *)0)->ipv6_prefix_len) == sizeof(uint32_t),
               "ipv6_prefix_len is read as a uint32_t");
_Static_assert(MEMBER_SIZE(control_socket) >= sizeof(((struct sockaddr_un *)0)->sun_path),
               "control_socket holds any socket path");

/*
 * What libconfig does not see for us: NUL bytes (it stops reading there),
 * @include (the policy is one file, so a reload reads what was checked), a
 * string left open at the end, and integer literals too wide for the 32 bits
 * it silently wraps them into.
 */
static int
scan_text(struct parser *parser, const char *text, size_t length)
{
	const char *nul = memchr(text, '\0', length);
	unsigned line = 1;
	bool line_start = true;

	if (nul != NULL) {
		for (const char *c = text; c < nul; c++)
			line += *c == '\n';
		snprintf(parser->err, parser->errlen, "%s:%u: contains a NUL byte", parser->path,
		         line);
		return -EINVAL;
	}
	for (size_t i = 0; i < length; i++) {
		char c = text[i];

		if (c == '\n') {
			line++;
			line_start = true;
			continue;
		}
		if (c == '@' && line_start) {
			snprintf(parser->err, parser->errlen,
			         "%s:%u: @include is not supported: keep the policy in one file",
			         parser->path, line);
			return -EINVAL;
		}
		if (!isspace((unsigned char)c))
			line_start = false;
		if (c == '#' || (c == '/' && i + 1 < length && text[i + 1] == '/')) {
			while (i + 1 < length && text[i + 1] != '\n')
				i++;
		} else if (c == '/' && i + 1 < length && text[i + 1] == '*') {
			for (i += 2; i + 1 < length && !(text[i] == '*' && text[i + 1] == '/'); i++)
				line += text[i] == '\n';
			i++;
		} else if (c == '"') {
			unsigned opened = line;

			for (i++; i < length && text[i] != '"'; i++) {
				if (text[i] == '\\' && i + 1 < length)
					i++;
				line += text[i] == '\n';
			}
			/* libconfig takes an unclosed string at the end for a whole one. */
			if (i >= length) {
				snprintf(parser->err, parser->errlen, "%s:%u: string not closed",
				         parser->path, opened);
				return -EINVAL;
			}
		} else if (isalpha((unsigned char)c) || c == '_' || c == '*') {
			while (i + 1 < length &&
			       (isalnum((unsigned char)text[i + 1]) || strchr("_*-", text[i + 1])))
				i++;
		} else if (isdigit((unsigned char)c)) {
			size_t start = i, end;
			char literal[VALUE_SHOWN_MAX];
			long long value;

			if (start > 0 && text[start - 1] == '-')
				start--;
			for (end = i; end < length &&
			              (isalnum((unsigned char)text[end]) || text[end] == '.' ||
			               ((text[end] == '+' || text[end] == '-') &&
			                strchr("eE", text[end - 1])));
			     end++)
				;
			i = end - 1;
			if (end - start >= sizeof(literal) || parser->overflow_line != 0)
				continue;
			memcpy(literal, text + start, end - start);
			literal[end - start] = '\0';
			/* Floats and "5000000000L" come through libconfig intact. */
			if (strpbrk(literal, ".L") ||
			    (strpbrk(literal, "eE") && !strpbrk(literal, "xX")))
				continue;
			errno = 0;
			value = strtoll(literal, NULL, 0);
			if (errno == 0 && value >= INT32_MIN && value <= INT32_MAX)
				continue;
			parser->overflow_line = line;
			parser->overflow_wrapped = (int32_t)(uint32_t)(unsigned long long)value;
			snprintf(parser->overflow_text, sizeof(parser->overflow_text), "%s",
			         literal);
		}
	}
	return 0;
}

/* What a policy path that is no regular file names, for the refusal. */
static const char *
file_kind(mode_t mode)
{
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISSOCK(mode))
		return "a socket";
	return "not a regular file";
}

/*
 * The whole file, NUL-terminated, or -errno with a message. Only a regular
 * file is read: a FIFO, a device or a directory is refused at once (-EINVAL,
 * -EISDIR), never read forever.
 */
static int
read_file(struct parser *parser, char **out, size_t *out_length)
{
	size_t length = 0;
	struct stat st;
	char *text;
	int fd, error = 0;
	ssize_t n;

	/* O_NONBLOCK: opening a FIFO with no writer would wait for one forever. */
	if ((fd = open(parser->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0) {
		error = -errno;
		snprintf(parser->err, parser->errlen, "%s: %s", parser->path, strerror(errno));
		return error;
	}
	if (fstat(fd, &st) < 0) {
		error = -errno;
		close(fd);
		snprintf(parser->err, parser->errlen, "%s: %s", parser->path, strerror(-error));
		return error;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		snprintf(parser->err, parser->errlen, "%s: %s, not a policy file", parser->path,
		         file_kind(st.st_mode));
		return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
	}
	if ((text = malloc(POLICY_MAX_BYTES + 1)) == NULL) {
		close(fd);
		snprintf(parser->err, parser->errlen, "%s: %s", parser->path, strerror(ENOMEM));
		return -ENOMEM;
	}
	while (length <= POLICY_MAX_BYTES &&
	       (n = read(fd, text + length, POLICY_MAX_BYTES + 1 - length)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			error = -errno;
			snprintf(parser->err, parser->errlen, "%s: %s", parser->path,
			         strerror(errno));
			break;
		}
		length += (size_t)n;
	}
	close(fd);
	if (error == 0 && length > POLICY_MAX_BYTES) {
		snprintf(parser->err, parser->errlen, "%s: larger than %d bytes, not a policy",
		         parser->path, POLICY_MAX_BYTES);
		error = -EFBIG;
	}
	if (error < 0) {
		free(text);
		return error;
	}
	text[length] = '\0';
	*out = text;
	*out_length = length;
	return 0;
}

/* Settings may come in any order: limits are checked against the VMs once all is read. */
static int
check_vm_limits(struct parser *parser, const config_t *document, const struct config *loaded)
{
	const config_setting_t *vms = config_lookup(document, "vms");

	for (unsigned i = 0; i < loaded->vm_count; i++)
		if (loaded->vms[i].address_count > loaded->limits.max_vm_addresses)
			return fail(
			    parser,
			    config_setting_get_member(config_setting_get_elem(vms, i), "addresses"),
			    "holds %u addresses, more than limits.max_vm_addresses (%u)",
			    loaded->vms[i].address_count, loaded->limits.max_vm_addresses);
	return 0;
}

int
config_load(const char *path, struct config *config, char *err, size_t errlen)
{
	struct parser parser = {.path = path, .err = err, .errlen = errlen};
	const struct rule root = {.read = read_group, .children = root_rules};
	struct config loaded;
	config_t document;
	size_t length = 0;
	char *text = NULL;
	int error;

	if (errlen > 0)
		err[0] = '\0';
	if (strlen(path) >= sizeof(loaded.path)) {
		snprintf(err, errlen, "%.64s...: %s", path, strerror(ENAMETOOLONG));
		return -ENAMETOOLONG;
	}
	config_defaults(&loaded);
	memcpy(loaded.path, path, strlen(path) + 1);

	if ((error = read_file(&parser, &text, &length)) < 0)
		return error;
	parser.text = text;
	if ((error = scan_text(&parser, text, length)) < 0) {
		free(text);
		return error;
	}
	config_init(&document);
	if (config_read_string(&document, text) != CONFIG_TRUE) {
		snprintf(err, errlen, "%s:%d: %s", path, config_error_line(&document),
		         config_error_text(&document));
		error = -EINVAL;
	} else {
		error = read_group(&parser, config_root_setting(&document), &root, &loaded);
	}
	if (error == 0)
		error = check_vm_limits(&parser, &document, &loaded);
	if (error == 0 && parser.overflow_line != 0 && !parser.overflow_claimed) {
		snprintf(err, errlen, "%s:%u: number out of range: %s", path, parser.overflow_line,
		         parser.overflow_text);
		error = -EINVAL;
	}
	config_destroy(&document);
	free(text);
	if (error == 0)
		*config = loaded;
	return error;
}
