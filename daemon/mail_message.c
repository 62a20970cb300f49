/*
 * Notices as RFC 5322 messages. Headers are ASCII: a value with other bytes
 * goes as RFC 2047 encoded words, and no value can end a header early (CR,
 * LF and other controls become spaces). The human-readable part is
 * quoted-printable, the attachments base64, so no line ever passes 76
 * characters whatever the customer's name or the desk's note holds.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "customer.h"
#include "detect.h"
#include "encode.h"
#include "mail_message.h"
#include "source.h"
#include "xarf.h"

#define MIME_LINE          76
#define ENCODED_WORD_BYTES 45 /* base64s into 60 characters: one encoded word fits a line */

static bool
ascii_printable(const char *text)
{
	for (const unsigned char *c = (const unsigned char *)text; *c; c++)
		if (*c < ' ' || *c >= 0x7f)
			return false;
	return true;
}

/* RFC 2047 encoded words, cut on UTF-8 character boundaries, folded between words. */
static void
put_encoded_words(FILE *out, const char *text)
{
	size_t length = strlen(text);

	for (size_t at = 0; at < length;) {
		size_t chunk = length - at < ENCODED_WORD_BYTES ? length - at : ENCODED_WORD_BYTES;
		char *encoded;

		/* Never split a character: back off over continuation bytes. */
		while (at + chunk < length && chunk > 1 &&
		       ((unsigned char)text[at + chunk] & 0xc0) == 0x80)
			chunk--;
		encoded = encode_base64(text + at, chunk, 0);
		fprintf(out, "%s=?UTF-8?B?%s?=", at > 0 ? "\n " : "",
		        encoded != NULL ? encoded : "");
		free(encoded);
		at += chunk;
	}
}

/* ASCII text folded at spaces so that no line passes 78 characters where it can be helped. */
static void
put_folded(FILE *out, const char *text, size_t column)
{
	while (column + strlen(text) > 78) {
		const char *space = NULL;

		for (const char *c = text; *c && column + (size_t)(c - text) <= 78; c++)
			if (*c == ' ' && c > text)
				space = c;
		if (space == NULL)
			break;
		fprintf(out, "%.*s\n", (int)(space - text), text);
		text = space; /* the space starts the continuation line */
		column = 0;
	}
	fputs(text, out);
}

/* A header with unstructured text (Subject): controls become spaces. */
static void
put_header(FILE *out, const char *name, const char *value)
{
	char clean[1024];
	size_t i = 0;

	for (; value[i] && i < sizeof(clean) - 1; i++)
		clean[i] = (unsigned char)value[i] < ' ' || value[i] == 0x7f ? ' ' : value[i];
	clean[i] = '\0';
	fprintf(out, "%s: ", name);
	if (ascii_printable(clean))
		put_folded(out, clean, strlen(name) + 2);
	else
		put_encoded_words(out, clean);
	fputc('\n', out);
}

/* "Name" <address>, the name quoted or encoded, controls and quotes dropped. */
static void
put_mailbox_header(FILE *out, const char *header, const char *name, const char *address)
{
	char clean[256];
	size_t length = 0;

	for (const char *c = name; *c && length < sizeof(clean) - 1; c++)
		if ((unsigned char)*c >= ' ' && *c != 0x7f && *c != '"' && *c != '\\')
			clean[length++] = *c;
	clean[length] = '\0';
	fprintf(out, "%s: ", header);
	if (length == 0)
		fprintf(out, "%s\n", address);
	else if (ascii_printable(clean))
		fprintf(out, "\"%s\" <%s>\n", clean, address);
	else {
		put_encoded_words(out, clean);
		fprintf(out, " <%s>\n", address);
	}
}

/* RFC 5322's date, in English whatever the locale. */
static void
put_date(FILE *out, int64_t ms)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t seconds = (time_t)(ms / 1000);
	struct tm tm;

	if (gmtime_r(&seconds, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	fprintf(out, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\n", days[tm.tm_wday % 7],
	        tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
	        tm.tm_sec);
}

/* Quoted-printable (RFC 2045): soft breaks keep lines within 76 characters. */
static void
put_quoted_printable(FILE *out, const char *text, size_t length)
{
	unsigned column = 0;

	for (size_t i = 0; i < length; i++) {
		unsigned char c = (unsigned char)text[i];
		bool line_end = i + 1 == length || text[i + 1] == '\n';
		char encoded[4];

		if (c == '\n') {
			fputc('\n', out);
			column = 0;
			continue;
		}
		if ((c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !line_end)) {
			encoded[0] = (char)c;
			encoded[1] = '\0';
		} else
			snprintf(encoded, sizeof(encoded), "=%02X", c);
		if (column + strlen(encoded) > MIME_LINE - 1) {
			fputs("=\n", out);
			column = 0;
		}
		fputs(encoded, out);
		column += (unsigned)strlen(encoded);
	}
	if (column != 0)
		fputc('\n', out);
}

static const char *
utc(int64_t ms, char *buf, size_t len)
{
	time_t seconds = (time_t)(ms / 1000);
	struct tm tm;

	if (ms == 0 || gmtime_r(&seconds, &tm) == NULL)
		snprintf(buf, len, "-");
	else
		strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm);
	return buf;
}

static const char *
category_words(enum category category)
{
	switch (category) {
	case CATEGORY_SPAM:
		return "Spam (a burst of outgoing SMTP connections)";
	case CATEGORY_SCAN:
		return "Port scan (probes of many addresses or ports)";
	case CATEGORY_CRAWLER:
		return "Crawling that ignores robots.txt";
	case CATEGORY_SPOOFING:
		return "Packets with forged source addresses";
	case CATEGORY_EVASION:
		return "IP fragments shaped to slip past filters";
	default:
		return "Abuse";
	}
}

/* What we did about it, in a customer's words. */
static void
put_action(FILE *out, const struct abuse_report *report)
{
	static const char *const scope_words[SCOPE_COUNT] = {
	    [SCOPE_SMTP] = "outgoing mail (TCP 25, 465, 587) blocked",
	    [SCOPE_WEB] = "outgoing web traffic (TCP 80, 443, UDP 443) blocked",
	    [SCOPE_ALL] = "all outgoing traffic blocked, but for the provider's own services",
	};
	char until[40];

	if (!report->banned) {
		fprintf(out, "  Action taken:  none yet (recorded for review)\n");
		return;
	}
	fprintf(out, "  Action taken:  %s until %s (level %u of the escalation ladder)\n",
	        (unsigned)report->ban_scope < SCOPE_COUNT ? scope_words[report->ban_scope]
	                                                  : "blocked",
	        utc(report->ban_until_ms, until, sizeof(until)), report->ban_level + 1);
}

/* The facts of the ticket, as every template but the note shows them. */
static void
put_facts(FILE *out, const struct abuse_report *report)
{
	const char *xarf_category, *xarf_type;
	char source[SOURCE_STRLEN], time[40], address[SOURCE_STRLEN];

	fprintf(out, "  Ticket:        #%" PRId64 "\n", report->ticket_id);
	fprintf(out, "  Category:      %s", category_words(report->category));
	if (report_xarf_type(report->category, &xarf_category, &xarf_type) == 0)
		fprintf(out, " [X-ARF %s/%s]", xarf_category, xarf_type);
	fprintf(out, "\n  Source:        %s\n",
	        source_format(&report->source, source, sizeof(source)));
	if (report->vm.name[0] || report->vm.interface[0] || report->vm.mac[0])
		fprintf(out, "  VM:            %s%s%s%s%s%s\n",
		        report->vm.name[0] ? report->vm.name : "(unnamed)",
		        report->vm.interface[0] ? ", interface " : "", report->vm.interface,
		        report->vm.mac[0] ? ", MAC " : "", report->vm.mac, "");
	fprintf(out, "  First seen:    %s\n", utc(report->first_seen_ms, time, sizeof(time)));
	fprintf(out, "  Last seen:     %s\n", utc(report->last_seen_ms, time, sizeof(time)));
	fprintf(out, "  Events:        %" PRIu64 "\n", report->event_count);
	for (unsigned i = 0; i < report->destination_count; i++) {
		fprintf(out, "  %s %s\n", i == 0 ? "Destinations: " : "              ",
		        sample_format(&report->destinations[i], address, sizeof(address)));
	}
	if (report->smtp_from[0])
		fprintf(out, "  Envelope from: %s\n", report->smtp_from);
	if (report->smtp_to[0])
		fprintf(out, "  Envelope to:   %s\n", report->smtp_to);
	if (report->subject[0])
		fprintf(out, "  Subject seen:  %s\n", report->subject);
	put_action(out, report);
	if (report->deadline_ms != 0)
		fprintf(out, "  Deadline:      %s\n", utc(report->deadline_ms, time, sizeof(time)));
}

/* Which attachments the message carries, for the text to name them. */
struct attached {
	bool log, xarf;
};

static void
put_evidence_list(FILE *out, const struct abuse_report *report, struct attached attached)
{
	if (attached.log || attached.xarf)
		fprintf(out, "\nAttached:%s%s%s.\n",
		        attached.log ? " the log of what was seen (evidence.log, UTC times)" : "",
		        attached.log && attached.xarf ? " and" : "",
		        attached.xarf ? " a machine-readable X-ARF v4 report (xarf-report.json)"
		                      : "");
	if (report->file_count == 0)
		return;
	fprintf(out, "\nEvidence kept by the abuse desk:\n");
	for (unsigned i = 0; i < report->file_count; i++)
		fprintf(out, "- %s (%" PRIu64 " bytes), SHA-256:\n  %s\n", report->files[i].name,
		        report->files[i].bytes, report->files[i].sha256);
}

static void
put_greeting(FILE *out, const struct abuse_report *report)
{
	if (report->customer.default_queue)
		fprintf(out, "To the abuse desk: no customer's prefix holds this source, so this "
		             "ticket waits in the default queue for routing by hand.\n\n");
	else {
		char name[sizeof(report->customer.name)];
		size_t i = 0;

		/* A name is one line, whatever the policy held. */
		for (; report->customer.name[i] && i < sizeof(name) - 1; i++)
			name[i] = (unsigned char)report->customer.name[i] < ' '
			              ? ' '
			              : report->customer.name[i];
		name[i] = '\0';
		fprintf(out, "Dear %s,\n\n", name[0] ? name : "customer");
	}
}

static void
put_reply_line(FILE *out, const struct abuse_report *report)
{
	fprintf(out,
	        "\nPlease reply to this message and keep \"[Abuse #%" PRId64 "]\" in the subject, "
	        "so that your answer is filed in the ticket's thread.\n",
	        report->ticket_id);
}

/* An update's or a warning's facts, the desk's words, and what is attached. */
static void
put_complaint_body(FILE *out, const struct abuse_report *report, struct attached attached)
{
	put_facts(out, report);
	if (report->text[0])
		fprintf(out, "\n%s\n", report->text);
	put_reply_line(out, report);
	put_evidence_list(out, report, attached);
}

/*
 * Lines longer than WRAP_COLUMN are broken at spaces; a continuation of an
 * indented fact ("  Source:   ...") lines up under its value.
 */
#define WRAP_COLUMN 72
#define FACT_INDENT 17

static void
put_wrapped(FILE *out, const char *text, size_t length)
{
	const char *end = text + length;

	while (text < end) {
		const char *newline = memchr(text, '\n', (size_t)(end - text));
		const char *line_end = newline != NULL ? newline : end;
		size_t indent = 0, column = 0;
		bool fact = text[0] == ' ';

		while (text < line_end) {
			size_t room = WRAP_COLUMN - indent, left = (size_t)(line_end - text);
			const char *cut = line_end;

			if (left > room) {
				for (const char *c = text + room; c > text; c--)
					if (*c == ' ') {
						cut = c;
						break;
					}
			}
			fprintf(out, "%*s%.*s\n", (int)indent, "", (int)(cut - text), text);
			text = cut;
			while (text < line_end && *text == ' ' && cut != line_end)
				text++;
			indent = fact ? FACT_INDENT : 0;
			column++;
		}
		if (column == 0)
			fputc('\n', out);
		text = line_end + 1;
	}
}

/* The human-readable part, in the kind's template. */
static void
put_text(FILE *out, const struct abuse_report *report, struct attached attached)
{
	char time[40];

	put_greeting(out, report);
	switch (report->kind) {
	case REPORT_NOTICE:
		fprintf(out,
		        "This is an abuse complaint about traffic sent from an address of yours. "
		        "It was detected automatically, at the source, by your hosting "
		        "provider.\n\n");
		put_facts(out, report);
		fprintf(out, "\nWhat we ask of you: find and stop the cause (a compromised account "
		             "or application, an open relay, malware), then tell us what you found "
		             "and did.");
		if (report->deadline_ms != 0)
			fprintf(out,
			        " Please answer by %s. A complaint left unanswered past its "
			        "deadline while the abuse goes on is escalated, and suspension "
			        "of the service is recommended.",
			        utc(report->deadline_ms, time, sizeof(time)));
		fputc('\n', out);
		put_reply_line(out, report);
		put_evidence_list(out, report, attached);
		break;
	case REPORT_UPDATE:
		fprintf(out,
		        "This is an update to ticket #%" PRId64 ", not a new complaint: the "
		        "abuse reported before goes on.\n\n",
		        report->ticket_id);
		put_complaint_body(out, report, attached);
		break;
	case REPORT_DEADLINE_WARNING:
		fprintf(out,
		        "The deadline of ticket #%" PRId64 " is %s and no fix has been "
		        "reported. This is a reminder, not a new complaint.\n\n",
		        report->ticket_id, utc(report->deadline_ms, time, sizeof(time)));
		put_complaint_body(out, report, attached);
		break;
	case REPORT_ESCALATION:
		fprintf(out,
		        "The deadline of ticket #%" PRId64 " (%s) has passed and the abuse is "
		        "still seen. The ticket is escalated: suspension of the service is "
		        "recommended.\n\n",
		        report->ticket_id, utc(report->deadline_ms, time, sizeof(time)));
		put_complaint_body(out, report, attached);
		break;
	case REPORT_CLOSURE:
		fprintf(out, "Ticket #%" PRId64 " is closed. No action is needed from you.\n",
		        report->ticket_id);
		if (report->text[0])
			fprintf(out, "\nReason: %s\n", report->text);
		fprintf(out, "\nShould the abuse start again, a new ticket will be opened.\n");
		break;
	case REPORT_NOTE:
	default:
		fprintf(out,
		        "A message from the abuse desk about ticket #%" PRId64 ". This is "
		        "not a new complaint.\n\n",
		        report->ticket_id);
		fprintf(out, "%s\n", report->text);
		put_reply_line(out, report);
		break;
	}
	fprintf(out, "\n-- \n%s\n", report->from);
}

static void
put_subject(FILE *out, const struct abuse_report *report)
{
	char source[SOURCE_STRLEN], subject[512], time[40];
	const char *category = category_name(report->category);

	source_format(&report->source, source, sizeof(source));
	switch (report->kind) {
	case REPORT_NOTICE:
		if (report->deadline_ms != 0)
			snprintf(subject, sizeof(subject), "%s from %s: action required by %s",
			         category, source, utc(report->deadline_ms, time, sizeof(time)));
		else
			snprintf(subject, sizeof(subject), "%s from %s: action required", category,
			         source);
		break;
	case REPORT_UPDATE:
		snprintf(subject, sizeof(subject),
		         "Update: %s from %s goes on (%" PRIu64 " events)", category, source,
		         report->event_count);
		break;
	case REPORT_DEADLINE_WARNING:
		snprintf(subject, sizeof(subject), "Deadline warning: %s from %s", category,
		         source);
		break;
	case REPORT_ESCALATION:
		snprintf(subject, sizeof(subject), "Escalated, suspension recommended: %s from %s",
		         category, source);
		break;
	case REPORT_CLOSURE:
		snprintf(subject, sizeof(subject), "Closed: %s from %s", category, source);
		break;
	case REPORT_NOTE:
	default:
		snprintf(subject, sizeof(subject), "Note from the abuse desk (no new complaint)");
		break;
	}
	/* snprintf into the header's own buffer: the tag goes first, always. */
	{
		char header[600];

		snprintf(header, sizeof(header), "[Abuse #%" PRId64 "]%s %s", report->ticket_id,
		         report->customer.default_queue ? " [unrouted]" : "", subject);
		put_header(out, "Subject", header);
	}
}

static void
put_attachment(FILE *out, const char *boundary, const char *content_type, const char *name,
               const void *data, size_t length, bool *complete)
{
	char *encoded = encode_base64(data, length, MIME_LINE);

	if (encoded == NULL) {
		*complete = false;
		return;
	}
	fprintf(out,
	        "\n--%s\nContent-Type: %s; name=\"%s\"\nContent-Disposition: attachment; "
	        "filename=\"%s\"\nContent-Transfer-Encoding: base64\n\n%s",
	        boundary, content_type, name, name, encoded);
	free(encoded);
}

/* Complaints carry the evidence; a closure or a note says only what it says. */
static bool
kind_carries_evidence(enum report_kind kind)
{
	return kind == REPORT_NOTICE || kind == REPORT_UPDATE || kind == REPORT_DEADLINE_WARNING ||
	       kind == REPORT_ESCALATION;
}

/* The X-ARF report goes with the complaint and its updates, nothing else. */
static bool
kind_carries_xarf(enum report_kind kind)
{
	return kind == REPORT_NOTICE || kind == REPORT_UPDATE;
}

static int
put_parts(FILE *out, const struct abuse_report *report, const char *boundary, bool *complete)
{
	bool attach_log =
	    kind_carries_evidence(report->kind) && report->log != NULL && report->log_len > 0;
	json_t *xarf = NULL;
	char *text_buf = NULL, *wrapped_buf = NULL, *xarf_text;
	size_t text_len = 0, wrapped_len = 0;
	FILE *text;
	int error;

	if (kind_carries_xarf(report->kind) && (error = xarf_report(report, &xarf)) < 0 &&
	    error != -ENOTSUP)
		return error;
	if ((text = open_memstream(&text_buf, &text_len)) == NULL) {
		json_decref(xarf);
		return -ENOMEM;
	}
	put_text(text, report, (struct attached){.log = attach_log, .xarf = xarf != NULL});
	if (fclose(text) != 0 || text_len > MAIL_MESSAGE_TEXT_MAX) {
		free(text_buf);
		json_decref(xarf);
		return text_len > MAIL_MESSAGE_TEXT_MAX ? -EMSGSIZE : -ENOMEM;
	}
	if ((text = open_memstream(&wrapped_buf, &wrapped_len)) == NULL) {
		free(text_buf);
		json_decref(xarf);
		return -ENOMEM;
	}
	put_wrapped(text, text_buf, text_len);
	free(text_buf);
	error = fclose(text) != 0 ? -ENOMEM : 0;
	text_buf = wrapped_buf;
	text_len = wrapped_len;
	if (error < 0) {
		free(text_buf);
		json_decref(xarf);
		return error;
	}
	fprintf(out,
	        "\n--%s\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: "
	        "quoted-printable\n\n",
	        boundary);
	put_quoted_printable(out, text_buf, text_len);
	free(text_buf);
	if (xarf != NULL) {
		xarf_text = json_dumps(xarf, JSON_INDENT(2) | JSON_SORT_KEYS);
		json_decref(xarf);
		if (xarf_text == NULL)
			return -ENOMEM;
		put_attachment(out, boundary, "application/json", "xarf-report.json", xarf_text,
		               strlen(xarf_text), complete);
		free(xarf_text);
	}
	if (attach_log)
		put_attachment(out, boundary, "text/plain; charset=utf-8", "evidence.log",
		               report->log, report->log_len, complete);
	fprintf(out, "\n--%s--\n", boundary);
	return 0;
}

int
mail_message_render(const struct abuse_report *report, char **out, size_t *length)
{
	char from[REPORT_ADDRESS_MAX], message_id[REPORT_MESSAGE_ID_MAX];
	char domain[REPORT_ADDRESS_MAX], boundary[64], value[64];
	const char *to;
	bool complete = true;
	FILE *message;
	int error;

	*out = NULL;
	*length = 0;
	report_from_address(report, from, sizeof(from));
	to = report->customer.contact[0] ? report->customer.contact : from;
	if (!customer_contact_valid(from) || !customer_contact_valid(to))
		return -EINVAL;
	report_from_domain(report, domain, sizeof(domain));
	report_message_id(report, message_id, sizeof(message_id));
	snprintf(boundary, sizeof(boundary), "=_abuseguard_%s", report->report_id);
	if ((message = open_memstream(out, length)) == NULL)
		return -ENOMEM;
	if (report->from[0] != '\0' && strchr(report->from, '<') != NULL) {
		char name[REPORT_ADDRESS_MAX];

		snprintf(name, sizeof(name), "%.*s",
		         (int)(strchr(report->from, '<') - report->from), report->from);
		for (size_t end = strlen(name); end > 0 && name[end - 1] == ' '; end--)
			name[end - 1] = '\0';
		put_mailbox_header(message, "From", name, from);
	} else
		put_mailbox_header(message, "From", "", from);
	put_mailbox_header(message, "To",
	                   report->customer.default_queue ? "" : report->customer.name, to);
	put_subject(message, report);
	put_date(message, report->time_ms);
	fprintf(message, "Message-ID: %s\n", message_id);
	/* Every message of a ticket refers to the same anchor: mail clients thread them. */
	fprintf(message, "References: <ticket-%" PRId64 "@%s>\n", report->ticket_id, domain);
	if (report->kind != REPORT_NOTICE)
		fprintf(message, "In-Reply-To: <ticket-%" PRId64 "@%s>\n", report->ticket_id,
		        domain);
	fprintf(message,
	        "Auto-Submitted: auto-generated\nX-Auto-Response-Suppress: OOF, AutoReply\n");
	fprintf(message, "X-Abuseguard-Ticket: %" PRId64 "\n", report->ticket_id);
	fprintf(message, "X-Abuseguard-Kind: %s\n", report_kind_name(report->kind));
	snprintf(value, sizeof(value), "%s", category_name(report->category));
	fprintf(message, "X-Abuseguard-Category: %s\n", value);
	fprintf(message, "MIME-Version: 1.0\nContent-Type: multipart/mixed;\n boundary=\"%s\"\n",
	        boundary);
	fprintf(message, "\nThis is a MIME message.\n");
	error = put_parts(message, report, boundary, &complete);
	if (fclose(message) != 0 && error == 0)
		error = -ENOMEM;
	if (error == 0 && !complete)
		error = -ENOMEM;
	if (error < 0) {
		free(*out);
		*out = NULL;
		*length = 0;
	}
	return error;
}
