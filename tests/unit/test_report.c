/*
 * The renderers, as a receiver sees their output: X-ARF reports for spam,
 * a scan and a crawl, validated against the X-ARF v4 schemas, and a mail of
 * each kind (notice, update, deadline warning, closure, note) parsed with
 * Python's email package (tests/xarf/check_report.py). Here: what a
 * customer's name or a note cannot do to the headers, that a retry renders
 * the same bytes, and the ticket JSON of the exec hook and the event log.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "check.h"
#include "encode.h"
#include "mail_message.h"
#include "report.h"
#include "source.h"
#include "xarf.h"

#define OUT_DIR "build/test-report"
#define T0      1795000000000LL /* 2026-11-18T11:06:40Z */

static const char log_text[] =
    "2026-11-19T08:53:20Z 10.0.0.5 (web1, vnet3) -> 192.0.2.25:25 tcp SYN\n"
    "2026-11-19T08:53:20Z 10.0.0.5:40112 -> 192.0.2.25:25 C: MAIL FROM:<promo@shop.example>\n"
    "2026-11-19T08:53:20Z 10.0.0.5:40112 -> 192.0.2.25:25 C: Subject: Cheap pills\n";

static void
sample_set(struct event_sample *sample, const char *address, unsigned port, unsigned protocol)
{
	struct source_key key;

	source_parse(address, 128, &key);
	memset(sample, 0, sizeof(*sample));
	memcpy(sample->address, key.addr, sizeof(sample->address));
	sample->family = key.family;
	sample->port = (unsigned short)port;
	sample->protocol = (unsigned char)protocol;
}

static void
report_base(struct abuse_report *report, enum category category)
{
	memset(report, 0, sizeof(*report));
	report->kind = REPORT_NOTICE;
	report->ticket_id = 42;
	report->event_id = 7;
	report->time_ms = T0 + 60000;
	snprintf(report->report_id, sizeof(report->report_id), "%s",
	         "3f0c2a9e-6b1d-4c53-9a7e-2d4b8e1f0a11");
	snprintf(report->from, sizeof(report->from),
	         "Provider Abuse Desk <abuse@provider.example>");
	snprintf(report->customer.id, sizeof(report->customer.id), "c-1001");
	snprintf(report->customer.name, sizeof(report->customer.name), "Example Customer");
	snprintf(report->customer.contact, sizeof(report->customer.contact),
	         "abuse@customer.example");
	report->category = category;
	source_parse("10.0.0.5", 64, &report->source);
	report->source_port = 40112;
	snprintf(report->vm.interface, sizeof(report->vm.interface), "vnet3");
	snprintf(report->vm.mac, sizeof(report->vm.mac), "52:54:00:12:34:56");
	snprintf(report->vm.name, sizeof(report->vm.name), "web1");
	report->first_seen_ms = T0;
	report->last_seen_ms = T0 + 50000;
	report->event_count = 3;
	report->attempts = 31;
	report->banned = true;
	report->ban_scope = category == CATEGORY_SPAM ? SCOPE_SMTP : SCOPE_ALL;
	report->ban_level = 0;
	report->ban_until_ms = T0 + 3600000;
	report->deadline_ms = T0 + 48 * 3600000LL;
	report->log = log_text;
	report->log_len = strlen(log_text);
	snprintf(report->files[0].name, sizeof(report->files[0].name), "evidence.log");
	snprintf(report->files[0].path, sizeof(report->files[0].path),
	         "/var/lib/abuseguard/evidence/42/evidence.log");
	snprintf(report->files[0].content_type, sizeof(report->files[0].content_type),
	         "text/plain");
	encode_sha256_hex(log_text, strlen(log_text), report->files[0].sha256);
	report->files[0].bytes = strlen(log_text);
	report->file_count = 1;
	switch (category) {
	case CATEGORY_SPAM:
		snprintf(report->smtp_from, sizeof(report->smtp_from), "promo@shop.example");
		snprintf(report->subject, sizeof(report->subject), "Cheap pills");
		sample_set(&report->destinations[0], "192.0.2.25", 25, 6);
		sample_set(&report->destinations[1], "2001:db8:25::25", 25, 6);
		report->destination_count = 2;
		break;
	case CATEGORY_SCAN:
		sample_set(&report->destinations[0], "198.51.100.7", 22, 6);
		report->destination_count = 1;
		break;
	default:
		snprintf(report->user_agent, sizeof(report->user_agent), "GreedyBot/2.0");
		sample_set(&report->destinations[0], "203.0.113.80", 80, 6);
		report->destination_count = 1;
		break;
	}
}

static void
write_file(const char *name, const char *text, size_t length)
{
	char path[256];
	FILE *file;

	snprintf(path, sizeof(path), "%s/%s", OUT_DIR, name);
	file = fopen(path, "w");
	if (file != NULL) {
		fwrite(text, 1, length, file);
		fclose(file);
	}
}

static void
xarf_case(enum category category, const char *name)
{
	struct abuse_report report;
	json_t *xarf;
	char *text;
	int error;

	report_base(&report, category);
	error = xarf_report(&report, &xarf);
	CHECK(error == 0, "X-ARF report for %s renders (%d)", name, error);
	if (error < 0)
		return;
	text = json_dumps(xarf, JSON_INDENT(2));
	write_file(name, text, strlen(text));
	free(text);
	json_decref(xarf);
}

/* Writes the message and what check_report.py must find in it. */
static void
mail_case(const char *name, const struct abuse_report *report, const char *subject,
          const char *text, bool xarf, bool log)
{
	char file[128], message_id[REPORT_MESSAGE_ID_MAX], *message, *expect;
	json_t *expected;
	size_t length;
	int error = mail_message_render(report, &message, &length);

	CHECK(error == 0, "the %s mail renders (%d)", name, error);
	if (error < 0)
		return;
	snprintf(file, sizeof(file), "%s.eml", name);
	write_file(file, message, length);
	free(message);
	expected = json_pack(
	    "{s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:s}", "kind", report_kind_name(report->kind),
	    "to", report->customer.contact[0] ? report->customer.contact : "abuse@provider.example",
	    "subject", subject, "message_id",
	    report_message_id(report, message_id, sizeof(message_id)), "text", text, "xarf", xarf,
	    "log", log, "log_text", log_text);
	expect = json_dumps(expected, 0);
	json_decref(expected);
	snprintf(file, sizeof(file), "%s.expect", name);
	write_file(file, expect, strlen(expect));
	free(expect);
}

static void
test_mails(void)
{
	struct abuse_report report;

	report_base(&report, CATEGORY_SPAM);
	mail_case("1-notice", &report, "[Abuse #42] spam from 10.0.0.5: action required by",
	          "This is an abuse complaint", true, true);
	report.kind = REPORT_UPDATE;
	report.event_count = 9;
	mail_case("2-update", &report, "[Abuse #42] Update: spam from 10.0.0.5 goes on (9 events)",
	          "not a new complaint", true, true);
	report.kind = REPORT_DEADLINE_WARNING;
	mail_case("3-warning", &report, "[Abuse #42] Deadline warning: spam from 10.0.0.5",
	          "This is a reminder, not a new complaint", false, true);
	report.kind = REPORT_ESCALATION;
	report.escalated = true;
	mail_case("3-escalated", &report,
	          "[Abuse #42] Escalated, suspension recommended: spam from 10.0.0.5",
	          "The ticket is escalated: suspension of the service", false, true);
	report.escalated = false;
	report.kind = REPORT_CLOSURE;
	snprintf(report.text, sizeof(report.text), "the customer removed the compromised script");
	mail_case("4-closure", &report, "[Abuse #42] Closed:", "No action is needed from you",
	          false, false);
	report.kind = REPORT_NOTE;
	/* A note with a line far longer than a mail line, and non-ASCII text. */
	snprintf(report.text, sizeof(report.text),
	         "Grüße: we saw your reply and wait for the fix. %0200d end", 0);
	mail_case("5-note", &report, "Note from the abuse desk (no new complaint)",
	          "A message from the abuse desk about ticket #42.", false, false);

	/* The default queue: no customer, to the desk itself, flagged. */
	report_base(&report, CATEGORY_SCAN);
	report.customer.default_queue = true;
	report.customer.contact[0] = '\0';
	report.customer.name[0] = '\0';
	mail_case("6-unrouted", &report, "[Abuse #42] [unrouted] scan from 10.0.0.5",
	          "default queue", true, true);

	/* A name from outside: non-ASCII goes as encoded words. */
	report_base(&report, CATEGORY_CRAWLER);
	snprintf(report.customer.name, sizeof(report.customer.name), "Müller & Söhne GmbH");
	mail_case("7-crawler", &report, "[Abuse #42] crawler from 10.0.0.5",
	          "Dear Müller & Söhne GmbH", true, true);
}

static void
test_header_injection(void)
{
	struct abuse_report report;
	char *message;
	size_t length;
	int error;

	report_base(&report, CATEGORY_SPAM);
	snprintf(report.customer.name, sizeof(report.customer.name),
	         "Evil\r\nBcc: victim@elsewhere.example\r\nX-Injected: yes");
	error = mail_message_render(&report, &message, &length);
	if (error == 0)
		*strstr(message, "\n\n") = '\0'; /* the header section */
	CHECK(error == 0 && strstr(message, "\nBcc:") == NULL &&
	          strstr(message, "\nX-Injected:") == NULL,
	      "a customer name with CR LF adds no header (%d)", error);
	free(message);

	report_base(&report, CATEGORY_SPAM);
	snprintf(report.customer.contact, sizeof(report.customer.contact),
	         "a@b.example\nBcc: c@d.example");
	CHECK(mail_message_render(&report, &message, &length) == -EINVAL && message == NULL,
	      "a contact that is not one plain address is refused, not sent");
	report_base(&report, CATEGORY_SPAM);
	snprintf(report.from, sizeof(report.from), "desk@provider.example\nBcc: x@y.example");
	CHECK(mail_message_render(&report, &message, &length) == -EINVAL && message == NULL,
	      "a sender that is not one plain address is refused too");
}

static void
test_same_bytes(void)
{
	struct abuse_report report;
	char *first, *second;
	size_t first_length, second_length;

	report_base(&report, CATEGORY_SPAM);
	mail_message_render(&report, &first, &first_length);
	mail_message_render(&report, &second, &second_length);
	CHECK(first != NULL && second != NULL && first_length == second_length &&
	          memcmp(first, second, first_length) == 0 &&
	          strstr(first, "Message-ID: <ticket-42.event-7.3f0c2a9e-6b1d-4c53-9a7e-"
	                        "2d4b8e1f0a11@provider.example>\n") != NULL,
	      "the same report renders the same bytes and Message-ID, for receivers to dedupe");
	free(first);
	free(second);
}

static void
test_spoofing(void)
{
	struct abuse_report report;
	json_t *xarf = NULL;
	char *message;
	size_t length;

	report_base(&report, CATEGORY_SPOOFING);
	CHECK(xarf_report(&report, &xarf) == -ENOTSUP && xarf == NULL,
	      "spoofing has no X-ARF type and gets no made-up one");
	CHECK(mail_message_render(&report, &message, &length) == 0 &&
	          strstr(message, "xarf-report.json\"") == NULL &&
	          strstr(message, "evidence.log\"") != NULL,
	      "its notice goes out with the log and without an X-ARF part");
	free(message);
}

static void
test_json(void)
{
	struct abuse_report report;
	json_t *object;

	report_base(&report, CATEGORY_SPAM);
	report.kind = REPORT_NOTE;
	report.visibility = REPORT_VISIBLE_INTERNAL;
	snprintf(report.text, sizeof(report.text), "caller says \xff\xfe not UTF-8");
	object = report_json(&report);
	CHECK(object != NULL, "the ticket JSON renders, even with text that is not UTF-8");
	if (object == NULL)
		return;
	CHECK(
	    json_integer_value(json_object_get(object, "ticket")) == 42 &&
	        strcmp(json_string_value(json_object_get(object, "event")), "note") == 0 &&
	        strcmp(json_string_value(json_object_get(object, "visibility")), "internal") == 0 &&
	        strcmp(json_string_value(json_object_get(object, "source")), "10.0.0.5") == 0 &&
	        strcmp(json_string_value(json_object_get(object, "xarf_type")), "messaging/spam") ==
	            0 &&
	        strcmp(json_string_value(
	                   json_object_get(json_object_get(object, "customer"), "contact")),
	               "abuse@customer.example") == 0 &&
	        strcmp(json_string_value(json_object_get(object, "first_seen")),
	               "2026-11-18T11:06:40Z") == 0 &&
	        strcmp(json_string_value(json_object_get(json_object_get(object, "ban"), "scope")),
	               "smtp") == 0 &&
	        json_array_size(json_object_get(object, "evidence")) == 1 &&
	        strcmp(json_string_value(json_object_get(object, "text")),
	               "caller says ?? not UTF-8") == 0,
	    "it holds the ticket, event, visibility, source, X-ARF type, contact, times, ban, "
	    "evidence and text");
	json_decref(object);
}

static void
test_encode(void)
{
	char digest[ENCODE_SHA256_HEX], *base64;

	encode_sha256_hex("abc", 3, digest);
	CHECK(strcmp(digest, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") ==
	          0,
	      "SHA-256 of \"abc\" is FIPS 180-2's");
	base64 = encode_base64("any carnal pleasure.", 20, 8);
	CHECK(base64 != NULL && strcmp(base64, "YW55IGNh\ncm5hbCBw\nbGVhc3Vy\nZS4=\n") == 0,
	      "base64 is cut into lines of the length asked");
	free(base64);
}

int
main(void)
{
	enum report_kind kind;
	int status;

	mkdir("build", 0755);
	mkdir(OUT_DIR, 0755);
	(void)system("rm -f " OUT_DIR "/*");
	CHECK(report_kind_parse("deadline-warning", &kind) == 0 &&
	          kind == REPORT_DEADLINE_WARNING &&
	          report_kind_parse("complaint", &kind) == -EINVAL,
	      "kinds are named and parsed");
	test_encode();
	xarf_case(CATEGORY_SPAM, "spam.json");
	xarf_case(CATEGORY_SCAN, "scan.json");
	xarf_case(CATEGORY_CRAWLER, "crawler.json");
	test_mails();
	test_header_injection();
	test_same_bytes();
	test_spoofing();
	test_json();
	fflush(stdout);
	status = system("python3 tests/xarf/check_report.py " OUT_DIR);
	CHECK(status == 0, "a real X-ARF validator and mail parser accept all of it (%d)", status);
	return check_done();
}
