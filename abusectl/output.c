/*
 * abusectl's output for people, after bgpctl's output.c: aligned tables and
 * "label: value" lines, durations as "1h" or "6d23h", "-" for what the
 * daemon did not send. Keys this version does not know are left out.
 */
#include <err.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "abusectl.h"
#include "escape.h"
#include "protocol.h"

#define COLUMNS(array) (sizeof(array) / sizeof((array)[0]))

/* The widest cell shown; longer text is cut. */
#define CELL_MAX 128
/* A message, an error or a thread's note: longer text is cut. */
#define TEXT_MAX 4096

/* "1h", "7d", "59m58s", "6d23h": the largest unit and, unless zero, the one below. */
static const char *
format_duration(json_int_t seconds, char *buf, size_t len)
{
	static const struct {
		char name;
		json_int_t seconds;
	} units[] = {{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}};
	size_t used = 0;
	int shown = 0;

	if (seconds < 0)
		seconds = 0;
	if (seconds == 0) {
		snprintf(buf, len, "0s");
		return buf;
	}
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]) && shown < 2; i++) {
		json_int_t count = seconds / units[i].seconds;

		if (count == 0) {
			if (shown > 0)
				break; /* "1d" and "5s" alone, never "1d5s" */
			continue;
		}
		seconds -= count * units[i].seconds;
		used += snprintf(buf + used, used < len ? len - used : 0,
		                 "%" JSON_INTEGER_FORMAT "%c", count, units[i].name);
		shown++;
	}
	return buf;
}

/* A scalar of any JSON type as text; "-" for what is missing or not a scalar. */
static const char *
format_scalar(json_t *value, char *buf, size_t len)
{
	if (value == NULL) {
		snprintf(buf, len, "-");
		return buf;
	}
	switch (json_typeof(value)) {
	case JSON_STRING:
		/* A reason or a note cannot move the cursor or start a row of its own. */
		escape_text(buf, len, json_string_value(value), json_string_length(value), 0);
		break;
	case JSON_INTEGER:
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(value));
		break;
	case JSON_REAL:
		snprintf(buf, len, "%g", json_real_value(value));
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		snprintf(buf, len, "%s", json_is_true(value) ? "yes" : "no");
		break;
	default:
		snprintf(buf, len, "-");
	}
	return buf;
}

/* Seconds as a duration when they are a number, else whatever was sent. */
static const char *
format_seconds(json_t *value, char *buf, size_t len)
{
	if (json_is_integer(value))
		return format_duration(json_integer_value(value), buf, len);
	return format_scalar(value, buf, len);
}

static void
print_field(json_t *reply, const char *key, const char *label, bool duration)
{
	json_t *value = json_object_get(reply, key);
	char text[256];

	if (value == NULL)
		return;
	printf("%s: %s\n", label,
	       duration ? format_seconds(value, text, sizeof(text))
	                : format_scalar(value, text, sizeof(text)));
}

/* A flat object as "label:" and one "\tkey value" line per member, keys aligned. */
static void
print_object(json_t *object, const char *label)
{
	const char *name;
	json_t *value;
	char text[256];
	int width = 0;

	if (!json_is_object(object))
		return;
	printf("%s:\n", label);
	json_object_foreach(object, name, value) if ((int)strlen(name) > width) width =
	    strlen(name);
	json_object_foreach(object, name, value)
	    printf("\t%-*s %s\n", width, name, format_scalar(value, text, sizeof(text)));
}

/* Prometheus' text format, as the daemon wrote it: for curl-less scrapes and people. */
static void
print_metrics(json_t *reply)
{
	const char *text = json_string_value(json_object_get(reply, "text"));

	if (text != NULL)
		fputs(text, stdout);
}

static void
print_status(json_t *reply)
{
	json_t *interfaces = json_object_get(reply, "interfaces");
	json_t *counters = json_object_get(reply, "counters");
	json_t *interface;
	char text[4][256];
	size_t i;

	json_t *mode_set_by = json_object_get(reply, "mode_set_by");

	print_field(reply, "version", "version", false);
	print_field(reply, "mode", "mode", false);
	if (json_is_object(mode_set_by))
		printf(
		    "mode set by: uid %s with abusectl mode, until restart\n",
		    format_scalar(json_object_get(mode_set_by, "uid"), text[0], sizeof(text[0])));
	print_field(reply, "policy", "policy", false);
	print_field(reply, "pid", "pid", false);
	print_field(reply, "uptime_s", "uptime", true);
	print_field(reply, "bans_active", "bans active", false);
	if (json_is_array(interfaces)) {
		printf("interfaces:%s\n", json_array_size(interfaces) == 0 ? " none" : "");
		json_array_foreach(interfaces, i, interface)
		{
			json_t *tc_mode = json_object_get(interface, "tc_mode");

			printf("\t%s (ifindex %s, xdp %s%s%s)\n",
			       format_scalar(json_object_get(interface, "name"), text[0],
			                     sizeof(text[0])),
			       format_scalar(json_object_get(interface, "ifindex"), text[1],
			                     sizeof(text[1])),
			       format_scalar(json_object_get(interface, "xdp_mode"), text[2],
			                     sizeof(text[2])),
			       tc_mode ? ", tc " : "",
			       tc_mode ? format_scalar(tc_mode, text[3], sizeof(text[3])) : "");
		}
	}
	print_object(json_object_get(reply, "store"), "store");
	print_object(json_object_get(reply, "nft"), "nftables");
	print_object(json_object_get(reply, "allowlist"), "allowlist");
	print_object(json_object_get(reply, "versions"), "versions");
	print_object(counters, "counters");
}

/* A column of a table: its heading, the key of its value in each row, how to show it. */
struct column {
	const char *heading;
	const char *key;
	bool seconds;
};

/*
 * Rows (objects) under headings, each column as wide as its widest cell,
 * two spaces apart; the last column is not padded.
 */
static void
print_table(json_t *rows, const struct column *columns, size_t column_count)
{
	size_t count = json_array_size(rows), i, c;
	char(*cells)[CELL_MAX];
	int *width;
	json_t *row;

	cells = calloc(count * column_count, sizeof(*cells));
	width = calloc(column_count, sizeof(*width));
	if (cells == NULL || width == NULL)
		err(1, "calloc");
	for (c = 0; c < column_count; c++)
		width[c] = (int)strlen(columns[c].heading);
	json_array_foreach(rows, i, row)
	{
		for (c = 0; c < column_count; c++) {
			json_t *value = json_object_get(row, columns[c].key);
			char *cell = cells[i * column_count + c];

			if (columns[c].seconds)
				format_seconds(value, cell, CELL_MAX);
			else
				format_scalar(value, cell, CELL_MAX);
			if (cell[0] == '\0')
				snprintf(cell, CELL_MAX, "-");
			if ((int)strlen(cell) > width[c])
				width[c] = (int)strlen(cell);
		}
	}
	for (c = 0; c < column_count; c++)
		printf("%-*s%s", c == column_count - 1 ? 0 : width[c], columns[c].heading,
		       c == column_count - 1 ? "\n" : "  ");
	for (i = 0; i < count; i++)
		for (c = 0; c < column_count; c++)
			printf("%-*s%s", c == column_count - 1 ? 0 : width[c],
			       cells[i * column_count + c], c == column_count - 1 ? "\n" : "  ");
	free(cells);
	free(width);
}

static void
print_bans(json_t *reply)
{
	static const struct column columns[] = {
	    {"SOURCE", "source", false},
	    {"SCOPE", "scope", false},
	    {"CATEGORY", "category", false},
	    {"LEVEL", "level", false},
	    {"DURATION", "duration_s", true},
	    {"EXPIRES(UTC)", "expires", false},
	    {"REMAINING", "remaining_s", true},
	    {"INTERFACE", "interface", false},
	    {"VM", "vm_name", false},
	    {"KERNEL", CTL_KEY_IN_KERNEL, false},
	    {"KERNEL LEFT", CTL_KEY_KERNEL_REMAINING, true},
	};
	static const struct column kernel_columns[] = {
	    {"SOURCE", "source", false},
	    {"SCOPE", "scope", false},
	    {"REMAINING", "remaining_s", true},
	    {"TAGGED", "tagged", false},
	};
	json_t *bans = json_object_get(reply, CTL_KEY_BANS);
	json_t *kernel_only = json_object_get(reply, CTL_KEY_KERNEL_ONLY);
	json_int_t kernel_only_count =
	    json_integer_value(json_object_get(reply, CTL_KEY_KERNEL_ONLY_COUNT));

	if (json_array_size(bans) == 0)
		printf("no active bans\n");
	else
		print_table(bans, columns, COLUMNS(columns));
	if (json_array_size(kernel_only) == 0)
		return;
	/* Until the next check removes or adopts them, these drop traffic too. */
	printf(
	    "\nin the kernel but not in the store: %" JSON_INTEGER_FORMAT "%s\n", kernel_only_count,
	    (size_t)kernel_only_count > json_array_size(kernel_only) ? ", the first listed" : "");
	print_table(kernel_only, kernel_columns, COLUMNS(kernel_columns));
}

/* "lifted 10.0.0.5: smtp (spam, level 1), all (scan, level 2)", a line per source. */
static void
print_lifted(json_t *reply)
{
	json_t *lifted = json_object_get(reply, CTL_KEY_LIFTED), *ban;
	char source[CELL_MAX], previous[CELL_MAX] = "", scope[64], category[64], level[64];
	size_t i;

	json_array_foreach(lifted, i, ban)
	{
		json_t *own = json_object_get(ban, CTL_KEY_SOURCE);

		format_scalar(own != NULL ? own : json_object_get(reply, CTL_KEY_SOURCE), source,
		              sizeof(source));
		if (strcmp(source, previous) != 0)
			printf("%slifted %s:", previous[0] != '\0' ? "\n" : "", source);
		printf("%s %s (%s, level %s)", strcmp(source, previous) == 0 ? "," : "",
		       format_scalar(json_object_get(ban, "scope"), scope, sizeof(scope)),
		       format_scalar(json_object_get(ban, "category"), category, sizeof(category)),
		       format_scalar(json_object_get(ban, "level"), level, sizeof(level)));
		snprintf(previous, sizeof(previous), "%s", source);
	}
	if (previous[0] != '\0')
		printf("\n");
}

static void
print_unban(json_t *reply)
{
	char source[CELL_MAX];

	if (json_array_size(json_object_get(reply, CTL_KEY_LIFTED)) == 0)
		printf("no active ban on %s\n",
		       format_scalar(json_object_get(reply, CTL_KEY_SOURCE), source, CELL_MAX));
	else
		print_lifted(reply);
}

/* One row per address, the VM's fields beside each; a VM without addresses has one row. */
static void
print_vm_rows(json_t *vms)
{
	static const struct column columns[] = {
	    {"INTERFACE", "interface", false}, {"MAC", "mac", false},
	    {"NAME", "name", false},           {"CUSTOMER", "customer", false},
	    {"ADDRESS", "address", false},     {"ORIGIN", "origin", false},
	    {"SINCE(UTC)", "since", false},
	};
	json_t *rows = json_array(), *vm, *address;
	size_t i, j;

	json_array_foreach(vms, i, vm)
	{
		json_t *addresses = json_object_get(vm, "addresses");

		if (json_array_size(addresses) == 0)
			json_array_append(rows, vm);
		json_array_foreach(addresses, j, address)
		{
			json_t *row = json_copy(vm);

			json_object_update(row, address);
			json_array_append_new(rows, row);
		}
	}
	if (json_array_size(rows) == 0)
		printf("no VMs known\n");
	else
		print_table(rows, columns, COLUMNS(columns));
	json_decref(rows);
}

static void
print_vms(json_t *reply)
{
	print_vm_rows(json_object_get(reply, CTL_KEY_VMS));
}

static void
print_vm_set(json_t *reply)
{
	json_t *one = json_array();

	json_array_append(one, json_object_get(reply, CTL_KEY_VM));
	print_vm_rows(one);
	json_decref(one);
}

static void
print_ban(json_t *reply)
{
	json_t *ban = json_object_get(reply, CTL_KEY_BAN);
	char text[6][CELL_MAX];

	printf("banned %s: scope %s for %s, level %s (%s), until %s\n",
	       format_scalar(json_object_get(ban, "source"), text[0], CELL_MAX),
	       format_scalar(json_object_get(ban, "scope"), text[1], CELL_MAX),
	       format_seconds(json_object_get(ban, "duration_s"), text[2], CELL_MAX),
	       format_scalar(json_object_get(ban, "level"), text[3], CELL_MAX),
	       format_scalar(json_object_get(ban, "category"), text[4], CELL_MAX),
	       format_scalar(json_object_get(ban, "expires"), text[5], CELL_MAX));
}

/*
 * Rows with "by" (uid N, or the daemon) and "why" (the operator's reason,
 * else the detector's detail) made from what the daemon sent.
 */
static json_t *
rows_with_who_and_why(json_t *events)
{
	json_t *rows = json_array(), *event;
	size_t i;

	json_array_foreach(events, i, event)
	{
		json_t *row = json_copy(event), *uid = json_object_get(event, "uid");
		const char *reason = json_string_value(json_object_get(event, "reason"));
		const char *detail = json_string_value(json_object_get(event, "detail"));
		char by[32];

		if (json_is_integer(uid))
			snprintf(by, sizeof(by), "uid %" JSON_INTEGER_FORMAT,
			         json_integer_value(uid));
		else
			snprintf(by, sizeof(by), "daemon");
		json_object_set_new(row, "by", json_string(by));
		json_object_set_new(row, "why",
		                    json_string(reason   ? reason
		                                : detail ? detail
		                                         : ""));
		json_array_append_new(rows, row);
	}
	return rows;
}

static void
print_history(json_t *reply)
{
	static const struct column columns[] = {
	    {"TIME(UTC)", "time", false},
	    {"EVENT", "event", false},
	    {"CATEGORY", "category", false},
	    {"SCOPE", "scope", false},
	    {"LEVEL", "level", false},
	    {"DURATION", "duration_s", true},
	    {"BY", "by", false},
	    {"WHY", "why", false},
	};
	json_t *rows = rows_with_who_and_why(json_object_get(reply, CTL_KEY_EVENTS));
	char source[CELL_MAX];

	printf("%s%s\n", format_scalar(json_object_get(reply, CTL_KEY_SOURCE), source, CELL_MAX),
	       json_is_true(json_object_get(reply, "allowlisted")) ? " (allowlisted)" : "");
	print_table(rows, columns, COLUMNS(columns));
	json_decref(rows);
}

static void
print_audit(json_t *reply)
{
	static const struct column columns[] = {
	    {"TIME(UTC)", "time", false},  {"UID", "uid", false},       {"ACTION", "action", false},
	    {"SUBJECT", "subject", false}, {"REASON", "reason", false},
	};
	json_t *rows = json_object_get(reply, CTL_KEY_AUDIT);

	if (json_array_size(rows) == 0)
		printf("no changes recorded\n");
	else
		print_table(rows, columns, COLUMNS(columns));
}

/* One event on one line: its time and kind, then key=value for the rest (nested: a.b=). */
static void
print_fields(json_t *object, const char *prefix)
{
	const char *key;
	json_t *value;
	char text[CELL_MAX * 4];

	json_object_foreach(object, key, value)
	{
		if (prefix[0] == '\0' &&
		    (strcmp(key, "time") == 0 || strcmp(key, CTL_KEY_EVENT) == 0))
			continue;
		if (json_is_object(value)) {
			char nested[CELL_MAX];

			snprintf(nested, sizeof(nested), "%s%s.", prefix, key);
			print_fields(value, nested);
			continue;
		}
		format_scalar(value, text, sizeof(text));
		printf(strpbrk(text, " =\"") != NULL ? " %s%s=\"%s\"" : " %s%s=%s", prefix, key,
		       text);
	}
}

static void
print_event(json_t *event)
{
	char time[CELL_MAX], kind[CELL_MAX];

	printf("%s %s", format_scalar(json_object_get(event, "time"), time, CELL_MAX),
	       format_scalar(json_object_get(event, CTL_KEY_EVENT), kind, CELL_MAX));
	print_fields(event, "");
	printf("\n");
}

static void
print_events(json_t *reply)
{
	json_t *event;
	size_t i;

	json_array_foreach(json_object_get(reply, CTL_KEY_EVENTS), i, event) print_event(event);
}

static void
print_allow(json_t *reply)
{
	char source[CELL_MAX], until[CELL_MAX];
	json_t *given = json_object_get(reply, CTL_KEY_UNTIL);

	printf("allowed %s %s%s\n",
	       format_scalar(json_object_get(reply, CTL_KEY_SOURCE), source, CELL_MAX),
	       given != NULL ? "until " : "until disallowed",
	       given != NULL ? format_scalar(given, until, CELL_MAX) : "");
	if (json_array_size(json_object_get(reply, CTL_KEY_LIFTED)) > 0)
		print_lifted(reply);
}

static void
print_disallow(json_t *reply)
{
	char source[CELL_MAX];

	printf("%s is off the runtime allowlist\n",
	       format_scalar(json_object_get(reply, CTL_KEY_SOURCE), source, CELL_MAX));
}

static void
print_allowlist(json_t *reply)
{
	static const struct column columns[] = {
	    {"SOURCE", "source", false},    {"ORIGIN", "origin", false},
	    {"UNTIL(UTC)", "until", false}, {"BY", "by", false},
	    {"SINCE(UTC)", "since", false}, {"WHY", "why", false},
	};
	json_t *list = json_object_get(reply, CTL_KEY_ALLOWLIST), *rows;

	if (json_array_size(list) == 0) {
		printf("nothing is allowlisted\n");
		return;
	}
	rows = rows_with_who_and_why(list);
	print_table(rows, columns, COLUMNS(columns));
	json_decref(rows);
}

static void
print_message(json_t *reply)
{
	char message[TEXT_MAX];
	json_t *value = json_object_get(reply, CTL_KEY_MESSAGE);

	printf("%s\n", value != NULL ? format_scalar(value, message, sizeof(message)) : "done");
}

static void
print_mode(json_t *reply)
{
	char mode[CELL_MAX], previous[CELL_MAX];

	printf("mode %s (was %s), until the daemon restarts\n",
	       format_scalar(json_object_get(reply, CTL_KEY_MODE), mode, CELL_MAX),
	       format_scalar(json_object_get(reply, "previous"), previous, CELL_MAX));
}

/* Tickets: one row each. */
static void
print_tickets(json_t *reply)
{
	static const struct column columns[] = {
	    {"ID", "id", false},
	    {"STATUS", "status", false},
	    {"CUSTOMER-STATUS", "customer_status", false},
	    {"CUSTOMER", "customer", false},
	    {"SOURCE", "source", false},
	    {"CATEGORY", "category", false},
	    {"EVENTS", "events", false},
	    {"LAST-SEEN(UTC)", "last_seen", false},
	    {"DEADLINE(UTC)", "deadline", false},
	    {"INTERFACE", "interface", false},
	};
	json_t *tickets = json_object_get(reply, CTL_KEY_TICKETS), *rows = json_array(), *ticket;
	size_t i;

	if (json_array_size(tickets) == 0) {
		printf("no tickets\n");
		json_decref(rows);
		return;
	}
	/* The VM's interface is one level down; the table reads flat rows. */
	json_array_foreach(tickets, i, ticket)
	{
		json_t *row = json_copy(ticket);

		json_object_set(row, "interface",
		                json_object_get(json_object_get(ticket, "vm"), "interface"));
		json_array_append_new(rows, row);
	}
	print_table(rows, columns, sizeof(columns) / sizeof(columns[0]));
	json_decref(rows);
}

/* "ticket 12: spam from 10.0.0.5, customer c-1001: acknowledged (customer: fixed)" */
static void
print_ticket_line(json_t *ticket)
{
	char text[5][CELL_MAX];

	printf("ticket %s: %s from %s, customer %s%s: %s (customer: %s)\n",
	       format_scalar(json_object_get(ticket, "id"), text[0], CELL_MAX),
	       format_scalar(json_object_get(ticket, "category"), text[1], CELL_MAX),
	       format_scalar(json_object_get(ticket, "source"), text[2], CELL_MAX),
	       format_scalar(json_object_get(ticket, "customer"), text[3], CELL_MAX),
	       json_is_true(json_object_get(ticket, "unrouted")) ? " (unrouted: no prefix holds it)"
	                                                         : "",
	       format_scalar(json_object_get(ticket, "status"), text[4], CELL_MAX),
	       json_string_value(json_object_get(ticket, "customer_status")) ?: "-");
}

static void print_deliveries(json_t *list);

static void
print_ticket(json_t *reply)
{
	static const struct column event_columns[] = {
	    {"TIME(UTC)", "time", false},  {"KIND", "kind", false},
	    {"OFFENCE", "offence", false}, {"BAN", "ban", false},
	    {"DETAIL", "detail", false},
	};
	static const struct column change_columns[] = {
	    {"TIME(UTC)", "time", false}, {"UID", "uid", false}, {"AXIS", "axis", false},
	    {"FROM", "from", false},      {"TO", "to", false},   {"REASON", "reason", false},
	};
	static const struct column ban_columns[] = {
	    {"ID", "id", false},
	    {"SCOPE", "scope", false},
	    {"LEVEL", "level", false},
	    {"STARTED(UTC)", "started", false},
	    {"ENDS(UTC)", "expires", false},
	    {"ACTIVE", "active", false},
	};
	json_t *ticket = json_object_get(reply, CTL_KEY_TICKET),
	       *vm = json_object_get(ticket, "vm");
	json_t *message, *ban = json_object_get(ticket, "ban");
	char text[4][CELL_MAX], author[CELL_MAX], note[TEXT_MAX];
	size_t i;

	print_ticket_line(ticket);
	print_field(ticket, "customer_name", "customer name", false);
	print_field(ticket, "contact", "contact", false);
	print_field(ticket, "route", "routed by", false);
	printf("VM: %s %s %s\n", format_scalar(json_object_get(vm, "interface"), text[0], CELL_MAX),
	       format_scalar(json_object_get(vm, "mac"), text[1], CELL_MAX),
	       format_scalar(json_object_get(vm, "name"), text[2], CELL_MAX));
	print_field(ticket, "events", "events", false);
	print_field(ticket, "first_seen", "first seen", false);
	print_field(ticket, "last_seen", "last seen", false);
	print_field(ticket, "opened", "notice", false);
	print_field(ticket, "deadline", "deadline", false);
	print_field(ticket, "overdue", "overdue", false);
	print_field(ticket, "updates", "updates sent", false);
	if (json_is_object(ban))
		printf("current ban: scope %s, level %s, until %s\n",
		       format_scalar(json_object_get(ban, "scope"), text[0], CELL_MAX),
		       format_scalar(json_object_get(ban, "level"), text[1], CELL_MAX),
		       format_scalar(json_object_get(ban, "expires"), text[2], CELL_MAX));
	printf("\nthread:\n");
	json_array_foreach(json_object_get(reply, CTL_KEY_THREAD), i, message)
	    printf("  %s  %s, %s, seen by %s, from %s:\n    %s\n",
	           format_scalar(json_object_get(message, "time"), text[0], CELL_MAX),
	           format_scalar(json_object_get(message, "template"), text[1], CELL_MAX),
	           format_scalar(json_object_get(message, "direction"), text[2], CELL_MAX),
	           format_scalar(json_object_get(message, "visibility"), text[3], CELL_MAX),
	           format_scalar(json_object_get(message, "author"), author, CELL_MAX),
	           json_object_get(message, "text") != NULL
	               ? format_scalar(json_object_get(message, "text"), note, sizeof(note))
	               : "");
	printf("\nevents (the evidence of each offence):\n");
	print_table(json_object_get(reply, CTL_KEY_EVENTS), event_columns,
	            sizeof(event_columns) / sizeof(event_columns[0]));
	printf("\nstatus changes:\n");
	if (json_array_size(json_object_get(reply, CTL_KEY_CHANGES)) == 0)
		printf("none\n");
	else
		print_table(json_object_get(reply, CTL_KEY_CHANGES), change_columns,
		            sizeof(change_columns) / sizeof(change_columns[0]));
	printf("\nbans:\n");
	if (json_array_size(json_object_get(reply, CTL_KEY_BANS)) == 0)
		printf("none\n");
	else
		print_table(json_object_get(reply, CTL_KEY_BANS), ban_columns,
		            sizeof(ban_columns) / sizeof(ban_columns[0]));
	printf("\ndeliveries:\n");
	print_deliveries(json_object_get(reply, CTL_KEY_DELIVERIES));
}

/* The deliveries of the outbox, or of one ticket. */
static void
print_deliveries(json_t *list)
{
	static const struct column columns[] = {
	    {"ID", "id", false},
	    {"TICKET", "ticket", false},
	    {"BACKEND", "backend", false},
	    {"KIND", "kind", false},
	    {"STATE", "state", false},
	    {"ATTEMPTS", "attempts", false},
	    {"NEXT-TRY(UTC)", "next_try", false},
	    {"LAST-ERROR", "last_error", false},
	};

	if (json_array_size(list) == 0)
		printf("none\n");
	else
		print_table(list, columns, COLUMNS(columns));
}

static void
print_outbox(json_t *reply)
{
	char text[4][CELL_MAX];

	printf("%s waiting (%s retrying, %s running), %s refused for good\n",
	       format_scalar(json_object_get(reply, "waiting"), text[0], CELL_MAX),
	       format_scalar(json_object_get(reply, "retrying"), text[1], CELL_MAX),
	       format_scalar(json_object_get(reply, "running"), text[2], CELL_MAX),
	       format_scalar(json_object_get(reply, "undeliverable"), text[3], CELL_MAX));
	print_deliveries(json_object_get(reply, CTL_KEY_DELIVERIES));
}

static void
print_ticket_change(json_t *reply)
{
	print_ticket_line(json_object_get(reply, CTL_KEY_TICKET));
}

static void
print_ticket_false_positive(json_t *reply)
{
	json_t *lifted = json_object_get(reply, CTL_KEY_LIFTED), *ban;
	char scope[64], level[64];
	size_t i;

	print_ticket_change(reply);
	if (json_array_size(lifted) == 0) {
		printf("no ban was active\n");
		return;
	}
	printf("lifted:");
	json_array_foreach(lifted, i, ban)
	    printf("%s %s (level %s)", i > 0 ? "," : "",
	           format_scalar(json_object_get(ban, "scope"), scope, sizeof(scope)),
	           format_scalar(json_object_get(ban, "level"), level, sizeof(level)));
	printf("\n");
}

/* "abusectl: unban: no active ban for that source", on standard error. */
static void
print_failure(const char *command, json_t *reply)
{
	char error[TEXT_MAX];
	json_t *value = json_object_get(reply, CTL_KEY_ERROR);

	warnx("%s: %s", command,
	      value != NULL ? format_scalar(value, error, sizeof(error)) : "failed");
}

const struct output output_text = {
    .print =
        {
            [REPLY_STATUS] = print_status,
            [REPLY_METRICS] = print_metrics,
            [REPLY_BANS] = print_bans,
            [REPLY_UNBAN] = print_unban,
            [REPLY_VMS] = print_vms,
            [REPLY_VM_SET] = print_vm_set,
            [REPLY_TICKETS] = print_tickets,
            [REPLY_TICKET] = print_ticket,
            [REPLY_TICKET_CHANGE] = print_ticket_change,
            [REPLY_TICKET_FALSE_POSITIVE] = print_ticket_false_positive,
            [REPLY_OUTBOX] = print_outbox,
            [REPLY_BAN] = print_ban,
            [REPLY_HISTORY] = print_history,
            [REPLY_AUDIT] = print_audit,
            [REPLY_EVENTS] = print_events,
            [REPLY_EVENT] = print_event,
            [REPLY_ALLOW] = print_allow,
            [REPLY_DISALLOW] = print_disallow,
            [REPLY_ALLOWLIST] = print_allowlist,
            [REPLY_RELOAD] = print_message,
            [REPLY_MODE] = print_mode,
        },
    .failure = print_failure,
};
