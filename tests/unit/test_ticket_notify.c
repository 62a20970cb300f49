/*
 * Ticket events as the customer and the desk's tools receive them: the
 * ticket core's thread message decides the template and who sees it. A new
 * ticket is a notice to the customer; a deadline warning and an escalation
 * reach the customer each in its own template; an internal note, the
 * customer's own reply and a throttled offence go to the hook and the log
 * only; a false positive is a closure with the desk's apology; the default
 * queue is flagged; each event keeps its own id, so none is taken for a
 * duplicate of another.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "source.h"
#include "ticket_notify.h"

static void
ticket_make(struct ticket *ticket)
{
	memset(ticket, 0, sizeof(*ticket));
	ticket->id = 12;
	snprintf(ticket->customer, sizeof(ticket->customer), "c-1001");
	snprintf(ticket->customer_name, sizeof(ticket->customer_name), "Example Customer");
	snprintf(ticket->contact, sizeof(ticket->contact), "abuse@customer.example");
	ticket->route = ROUTE_PREFIX;
	source_parse("10.0.0.5", 64, &ticket->source);
	ticket->category = CATEGORY_SPAM;
	snprintf(ticket->vm.interface, sizeof(ticket->vm.interface), "vnet3");
	ticket->status = TICKET_OPEN;
	ticket->first_seen_ms = 1795000000000LL;
	ticket->last_seen_ms = ticket->changed_ms = 1795000050000LL;
	ticket->deadline_ms = 1795172800000LL;
	ticket->event_count = 3;
	ticket->ban.id = 5;
	ticket->ban.scope = SCOPE_SMTP;
	ticket->ban.level = 1;
	ticket->ban.start_ms = 1795000000000LL;
	ticket->ban.expires_ms = 1795003600000LL;
}

static void
message_make(struct ticket_message *message, int64_t id, enum message_direction direction,
             enum message_template template_kind, const char *text)
{
	memset(message, 0, sizeof(*message));
	message->id = id;
	message->time_ms = 1795000060000LL;
	message->direction = direction;
	message->visibility =
	    direction == DIRECTION_INTERNAL ? VISIBILITY_DESK : VISIBILITY_CUSTOMER;
	message->template_kind = template_kind;
	snprintf(message->text, sizeof(message->text), "%s", text);
}

/* Does the file hold text? */
static bool
file_has(const char *path, const char *text)
{
	char buffer[8192];
	FILE *file = fopen(path, "r");
	size_t n;

	if (file == NULL)
		return false;
	n = fread(buffer, 1, sizeof(buffer) - 1, file);
	fclose(file);
	buffer[n] = '\0';
	return strstr(buffer, text) != NULL;
}

/*
 * The burst's SMTP lines reach the capture after the ticket was filed (the
 * ban came first): the timer puts them into the evidence log while the
 * ticket is young, with SHA256SUMS rewritten, and stops after that.
 */
static void
test_late_lines(void)
{
	char state[] = "/tmp/test_ticket_notify.XXXXXX", path[256], command[512];
	struct wire_smtp_line line = {
	    .ifindex = 3,
	    .time_ms = 1795000001000LL,
	    .client = {.family = SOURCE_FAMILY_IPV4, .port = 41000},
	    .server = {.family = SOURCE_FAMILY_IPV4, .port = 25},
	    .kind = WIRE_SMTP_COMMAND,
	    .text = "MAIL FROM:<offers@bulk.example>",
	    .len = strlen("MAIL FROM:<offers@bulk.example>"),
	};
	struct ticket_notify notify = {0};
	struct evidence evidence;
	struct ticket ticket;

	if (mkdtemp(state) == NULL || evidence_init(&evidence, state, 16, 1 << 20) < 0 ||
	    smtp_transcript_open(&notify.transcript, 16, 16) < 0)
		exit(2);
	notify.evidence = &evidence;
	ticket_make(&ticket);
	evidence_log(&evidence, ticket.id, ticket.changed_ms, &ticket.source, &ticket.vm,
	             "spam finding");
	/* As add_capture leaves it for a spam ticket filed at changed_ms. */
	notify.late[0] = (struct ticket_notify_late){.ticket_id = ticket.id,
	                                             .until_ms = ticket.changed_ms + 10000,
	                                             .source = ticket.source,
	                                             .vm = ticket.vm};
	inet_pton(AF_INET, "10.0.0.5", line.client.addr);
	inet_pton(AF_INET, "192.0.2.25", line.server.addr);
	smtp_transcript_add(notify.transcript, &ticket.source, &line);
	snprintf(path, sizeof(path), "%s/evidence/12/evidence.log", state);
	CHECK(ticket_notify_tick(&notify, ticket.changed_ms + 1000) == 1 &&
	          file_has(path, "smtp MAIL FROM:<offers@bulk.example> (to 192.0.2.25 port 25)"),
	      "an SMTP line read after the notice joins the young ticket's evidence log");
	snprintf(command, sizeof(command),
	         "cd %s/evidence/12 && sha256sum --quiet -c SHA256SUMS >/dev/null 2>&1", state);
	CHECK(system(command) == 0, "and SHA256SUMS matches the log again");
	line.time_ms += 20000;
	line.text = "RCPT TO:<victim@example.net>";
	line.len = strlen(line.text);
	ticket_notify_tick(&notify, ticket.changed_ms + 10000); /* the last look */
	smtp_transcript_add(notify.transcript, &ticket.source, &line);
	CHECK(ticket_notify_tick(&notify, ticket.changed_ms + 20000) == 0 &&
	          !file_has(path, "RCPT TO:<victim@example.net>") && notify.late[0].ticket_id == 0,
	      "ten seconds on the ticket is no longer watched: later lines wait for its next "
	      "offence");
	smtp_transcript_close(notify.transcript);
	snprintf(command, sizeof(command), "rm -rf %s", state);
	(void)system(command);
}

int
main(void)
{
	struct ticket ticket;
	struct ticket_message message;
	struct abuse_report report, other;

	ticket_make(&ticket);
	message_make(&message, 40, DIRECTION_DESK_TO_CUSTOMER, TEMPLATE_NOTICE, "notice text");
	ticket_report_of(&ticket, TICKET_EVENT_OPENED, &message, &report);
	CHECK(report.kind == REPORT_NOTICE && report.visibility == REPORT_VISIBLE_CUSTOMER &&
	          strcmp(report.event_name, "opened") == 0 && report.event_id == 40 &&
	          report.ticket_id == 12,
	      "a new ticket is a notice to the customer, named by its thread message");
	CHECK(strcmp(report.customer.contact, "abuse@customer.example") == 0 &&
	          !report.customer.default_queue && report.banned &&
	          report.ban_scope == SCOPE_SMTP && report.ban_level == 1 &&
	          report.ban_until_ms == 1795003600000LL && report.event_count == 3 &&
	          report.deadline_ms == 1795172800000LL &&
	          strcmp(report.vm.interface, "vnet3") == 0,
	      "it carries the contact, the ban, the events, the deadline and the VM");

	message_make(&message, 41, DIRECTION_DESK_TO_CUSTOMER, TEMPLATE_DEADLINE_WARNING,
	             "the deadline is near");
	ticket_report_of(&ticket, TICKET_EVENT_DEADLINE_WARNING, &message, &report);
	CHECK(report.kind == REPORT_DEADLINE_WARNING && !report.escalated &&
	          report.visibility == REPORT_VISIBLE_CUSTOMER,
	      "a deadline warning goes to the customer in its own template");
	message_make(&message, 46, DIRECTION_DESK_TO_CUSTOMER, TEMPLATE_ESCALATION,
	             "suspension recommended");
	ticket.status = TICKET_ESCALATED;
	ticket_report_of(&ticket, TICKET_EVENT_ESCALATED, &message, &report);
	CHECK(report.kind == REPORT_ESCALATION && report.escalated &&
	          report.visibility == REPORT_VISIBLE_CUSTOMER &&
	          strcmp(report_kind_name(report.kind), "escalation") == 0,
	      "an escalation goes to the customer in the escalation's template, not the "
	      "warning's");

	message_make(&message, 42, DIRECTION_INTERNAL, TEMPLATE_NOTE, "called them");
	ticket_report_of(&ticket, TICKET_EVENT_NOTE, &message, &report);
	CHECK(report.kind == REPORT_NOTE && report.visibility == REPORT_VISIBLE_INTERNAL &&
	          strcmp(report.text, "called them") == 0,
	      "an internal note stays internal");
	message_make(&message, 43, DIRECTION_DESK_TO_CUSTOMER, TEMPLATE_NOTE, "we saw your reply");
	ticket_report_of(&ticket, TICKET_EVENT_NOTE, &message, &report);
	CHECK(report.kind == REPORT_NOTE && report.visibility == REPORT_VISIBLE_CUSTOMER,
	      "a note to the customer goes out as a note, in the note's template");
	message_make(&message, 44, DIRECTION_CUSTOMER_TO_DESK, TEMPLATE_REPLY, "fixed it");
	ticket_report_of(&ticket, TICKET_EVENT_CUSTOMER_REPLY, &message, &report);
	CHECK(report.visibility == REPORT_VISIBLE_INTERNAL,
	      "the customer's own reply is not mailed back to them");
	message_make(&message, 45, DIRECTION_DESK_TO_CUSTOMER, TEMPLATE_STATUS,
	             "This report was a false positive; we apologise.");
	ticket_report_of(&ticket, TICKET_EVENT_FALSE_POSITIVE, &message, &report);
	CHECK(report.kind == REPORT_CLOSURE && report.visibility == REPORT_VISIBLE_CUSTOMER &&
	          strstr(report.text, "apologise") != NULL,
	      "a false positive closes the matter for the customer, with the desk's words");

	ticket.changed_ms = 1795000070000LL;
	ticket_report_of(&ticket, TICKET_EVENT_ABUSE, NULL, &report);
	ticket.changed_ms = 1795000080000LL;
	ticket_report_of(&ticket, TICKET_EVENT_ABUSE, NULL, &other);
	CHECK(report.visibility == REPORT_VISIBLE_INTERNAL && report.event_id != other.event_id &&
	          strcmp(report.event_name, "abuse") == 0,
	      "a throttled offence goes to the log only, each with its own event id");

	ticket.route = ROUTE_DEFAULT;
	ticket.contact[0] = '\0';
	ticket_report_of(&ticket, TICKET_EVENT_OPENED, NULL, &report);
	CHECK(report.customer.default_queue && report.kind == REPORT_NOTICE,
	      "a ticket in the default queue is flagged as such");
	test_late_lines();
	return check_done();
}
