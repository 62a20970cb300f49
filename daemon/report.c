/*
 * The parts of a report every renderer shares: names, the sender's address
 * and domain, the Message-ID, UTC times, and the ticket event as JSON.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "report.h"
#include "source.h"

static const char *const kind_names[REPORT_KIND_COUNT] = {
    [REPORT_NOTICE] = "notice",
    [REPORT_UPDATE] = "update",
    [REPORT_DEADLINE_WARNING] = "deadline-warning",
    [REPORT_ESCALATION] = "escalation",
    [REPORT_CLOSURE] = "closure",
    [REPORT_NOTE] = "note",
};

const char *
report_kind_name(enum report_kind kind)
{
	return (unsigned)kind < REPORT_KIND_COUNT ? kind_names[kind] : "unknown";
}

int
report_kind_parse(const char *name, enum report_kind *out)
{
	for (int kind = 0; kind < REPORT_KIND_COUNT; kind++)
		if (strcmp(name, kind_names[kind]) == 0) {
			*out = (enum report_kind)kind;
			return 0;
		}
	return -EINVAL;
}

int
report_xarf_type(enum category category, const char **xarf_category, const char **xarf_type)
{
	switch (category) {
	case CATEGORY_SPAM:
		*xarf_category = "messaging";
		*xarf_type = "spam";
		return 0;
	case CATEGORY_SCAN:
		*xarf_category = "connection";
		*xarf_type = "port_scan";
		return 0;
	case CATEGORY_CRAWLER:
		*xarf_category = "connection";
		*xarf_type = "scraping";
		return 0;
	default:
		/* Spoofing and evasion have no X-ARF type: the notice goes without the JSON part.
		 */
		return -ENOTSUP;
	}
}

const char *
report_from_address(const struct abuse_report *report, char *buf, size_t len)
{
	const char *open = strchr(report->from, '<');
	const char *close = open != NULL ? strchr(open, '>') : NULL;

	if (open != NULL && close != NULL)
		snprintf(buf, len, "%.*s", (int)(close - open - 1), open + 1);
	else
		snprintf(buf, len, "%s", report->from);
	return buf;
}

const char *
report_from_domain(const struct abuse_report *report, char *buf, size_t len)
{
	char address[REPORT_ADDRESS_MAX];
	const char *at;

	report_from_address(report, address, sizeof(address));
	at = strrchr(address, '@');
	snprintf(buf, len, "%s", at != NULL ? at + 1 : "");
	return buf;
}

const char *
report_message_id(const struct abuse_report *report, char *buf, size_t len)
{
	char domain[REPORT_ADDRESS_MAX];

	report_from_domain(report, domain, sizeof(domain));
	snprintf(buf, len, "<ticket-%" PRId64 ".event-%" PRId64 ".%s@%s>", report->ticket_id,
	         report->event_id, report->report_id, domain[0] ? domain : "abuseguard.invalid");
	return buf;
}

const char *
report_sample_address(const struct event_sample *sample, char *buf, size_t len)
{
	int family = sample->family == SOURCE_FAMILY_IPV4 ? AF_INET : AF_INET6;

	if (inet_ntop(family, sample->address, buf, (socklen_t)len) == NULL)
		snprintf(buf, len, "?");
	return buf;
}

const char *
report_time_iso(int64_t ms, char *buf, size_t len)
{
	time_t seconds = (time_t)(ms / 1000);
	struct tm tm;

	if (ms == 0 || gmtime_r(&seconds, &tm) == NULL || len == 0) {
		if (len > 0)
			buf[0] = '\0';
		return buf;
	}
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

void
report_json_set(json_t *object, const char *key, json_t *value, bool *complete)
{
	if (json_object_set_new(object, key, value) < 0)
		*complete = false;
}

void
report_json_set_time(json_t *object, const char *key, int64_t ms, bool *complete)
{
	char text[32];

	report_json_set(
	    object, key,
	    ms != 0 ? json_string(report_time_iso(ms, text, sizeof(text))) : json_null(), complete);
}

/* Text from outside that is not UTF-8 is kept readable: its non-ASCII bytes become '?'. */
static json_t *
text_json(const char *text, size_t size)
{
	size_t length = strnlen(text, size);
	char ascii[REPORT_TEXT_MAX];
	json_t *string = json_stringn(text, length);

	if (string != NULL || length >= sizeof(ascii))
		return string;
	for (size_t i = 0; i < length; i++)
		ascii[i] = (unsigned char)text[i] < 0x80 ? text[i] : '?';
	return json_stringn(ascii, length);
}

static json_t *
files_json(const struct abuse_report *report)
{
	json_t *files = json_array();

	for (unsigned i = 0; files != NULL && i < report->file_count; i++) {
		const struct report_file *file = &report->files[i];

		json_array_append_new(
		    files, json_pack("{s:s, s:s, s:s, s:s, s:I}", "name", file->name, "path",
		                     file->path, "content_type", file->content_type, "sha256",
		                     file->sha256, "bytes", (json_int_t)file->bytes));
	}
	return files;
}

static json_t *
destinations_json(const struct abuse_report *report)
{
	json_t *destinations = json_array();
	char address[SOURCE_STRLEN];

	for (unsigned i = 0; destinations != NULL && i < report->destination_count; i++) {
		const struct event_sample *sample = &report->destinations[i];

		json_array_append_new(
		    destinations, json_pack("{s:s, s:i, s:i}", "address",
		                            report_sample_address(sample, address, sizeof(address)),
		                            "port", sample->port, "protocol", sample->protocol));
	}
	return destinations;
}

json_t *
report_json(const struct abuse_report *report)
{
	char source[SOURCE_STRLEN], message_id[REPORT_MESSAGE_ID_MAX];
	const char *xarf_category, *xarf_type;
	json_t *object, *ban;
	char xarf[64] = "";
	bool complete = true;

	if (report_xarf_type(report->category, &xarf_category, &xarf_type) == 0)
		snprintf(xarf, sizeof(xarf), "%s/%s", xarf_category, xarf_type);
	object = json_pack(
	    "{s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:{s:s, s:s, s:s, s:b}, s:s, s:s, s:s, s:{s:s, "
	    "s:s, "
	    "s:s}, s:I, s:i, s:b}",
	    "event", report->event_name[0] ? report->event_name : report_kind_name(report->kind),
	    "template", report_kind_name(report->kind), "visibility",
	    report->visibility == REPORT_VISIBLE_INTERNAL ? "internal" : "customer", "ticket",
	    (json_int_t)report->ticket_id, "event_id", (json_int_t)report->event_id, "report_id",
	    report->report_id, "message_id",
	    report_message_id(report, message_id, sizeof(message_id)), "customer", "id",
	    report->customer.id, "name", report->customer.name, "contact", report->customer.contact,
	    "default_queue", report->customer.default_queue, "category",
	    category_name(report->category), "xarf_type", xarf, "source",
	    source_format(&report->source, source, sizeof(source)), "vm", "interface",
	    report->vm.interface, "mac", report->vm.mac, "name", report->vm.name, "events",
	    (json_int_t)report->event_count, "source_port", report->source_port, "escalated",
	    report->escalated);
	if (object == NULL)
		return NULL;
	report_json_set_time(object, "time", report->time_ms, &complete);
	report_json_set_time(object, "first_seen", report->first_seen_ms, &complete);
	report_json_set_time(object, "last_seen", report->last_seen_ms, &complete);
	report_json_set_time(object, "deadline", report->deadline_ms, &complete);
	if (report->banned) {
		ban = json_pack("{s:s, s:i}", "scope", scope_name(report->ban_scope), "level",
		                report->ban_level + 1);
		if (ban != NULL)
			report_json_set_time(ban, "until", report->ban_until_ms, &complete);
	} else
		ban = json_null();
	report_json_set(object, "ban", ban, &complete);
	report_json_set(object, "destinations", destinations_json(report), &complete);
	report_json_set(object, "text", text_json(report->text, sizeof(report->text)), &complete);
	report_json_set(object, "evidence", files_json(report), &complete);
	if (!complete) {
		json_decref(object);
		return NULL;
	}
	return object;
}
