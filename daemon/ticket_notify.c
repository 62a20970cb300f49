/*
 * Ticket events into reports. Which template a customer gets follows the
 * thread message the ticket core wrote: only what the desk sends the
 * customer is mailed (notice, update, deadline warning, escalation,
 * closure, notes to the customer); internal notes, the customer's own
 * replies, status changes and throttled offences go to the exec hook and
 * the event log.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect.h"
#include "store.h"
#include "evidence_excerpt.h"
#include "ticket_notify.h"

static enum report_kind
kind_of(enum ticket_event event, const struct ticket_message *message, bool *escalated)
{
	*escalated = event == TICKET_EVENT_ESCALATED;
	if (message == NULL)
		return event == TICKET_EVENT_OPENED || event == TICKET_EVENT_REOPENED
		           ? REPORT_NOTICE
		           : REPORT_UPDATE;
	switch (message->template_kind) {
	case TEMPLATE_NOTICE:
		return REPORT_NOTICE;
	case TEMPLATE_UPDATE:
		return REPORT_UPDATE;
	case TEMPLATE_ESCALATION:
		*escalated = true;
		return REPORT_ESCALATION;
	case TEMPLATE_DEADLINE_WARNING:
		return REPORT_DEADLINE_WARNING;
	case TEMPLATE_CLOSURE:
		return REPORT_CLOSURE;
	case TEMPLATE_STATUS:
		return event == TICKET_EVENT_RESOLVED || event == TICKET_EVENT_FALSE_POSITIVE
		           ? REPORT_CLOSURE
		           : REPORT_NOTE;
	default:
		return REPORT_NOTE;
	}
}

/* Only the desk's words to the customer reach the customer. */
static enum report_visibility
visibility_of(enum ticket_event event, const struct ticket_message *message)
{
	if (message == NULL || event == TICKET_EVENT_ABUSE)
		return REPORT_VISIBLE_INTERNAL;
	return message->visibility == VISIBILITY_CUSTOMER &&
	               message->direction == DIRECTION_DESK_TO_CUSTOMER
	           ? REPORT_VISIBLE_CUSTOMER
	           : REPORT_VISIBLE_INTERNAL;
}

void
ticket_report_of(const struct ticket *ticket, enum ticket_event event,
                 const struct ticket_message *message, struct abuse_report *out)
{
	bool escalated;

	memset(out, 0, sizeof(*out));
	out->kind = kind_of(event, message, &escalated);
	out->escalated = escalated || ticket->status == TICKET_ESCALATED;
	out->visibility = visibility_of(event, message);
	snprintf(out->event_name, sizeof(out->event_name), "%s", ticket_event_name(event));
	out->ticket_id = ticket->id;
	/* The thread message's id names the event; a throttled offence has only its time. */
	out->event_id = message != NULL && message->id != 0 ? message->id : ticket->changed_ms;
	out->time_ms = message != NULL ? message->time_ms : ticket->changed_ms;
	snprintf(out->customer.id, sizeof(out->customer.id), "%s", ticket->customer);
	snprintf(out->customer.name, sizeof(out->customer.name), "%s", ticket->customer_name);
	snprintf(out->customer.contact, sizeof(out->customer.contact), "%s", ticket->contact);
	out->customer.default_queue = ticket->route == ROUTE_DEFAULT || ticket->contact[0] == '\0';
	out->category = ticket->category;
	out->source = ticket->source;
	out->vm = ticket->vm;
	out->first_seen_ms = ticket->first_seen_ms;
	out->last_seen_ms = ticket->last_seen_ms;
	out->event_count = ticket->event_count;
	out->deadline_ms = ticket->deadline_ms;
	if (ticket->ban.id != 0 && ban_active(&ticket->ban, out->time_ms)) {
		out->banned = true;
		out->ban_scope = ticket->ban.scope;
		out->ban_level = ticket->ban.level;
		out->ban_until_ms = ban_end_ms(&ticket->ban);
	}
	if (message != NULL)
		snprintf(out->text, sizeof(out->text), "%s", message->text);
}

/* What the event being filed counted, and where it went. */
static void
add_current_event(struct ticket_notify *notify, const struct ticket *ticket,
                  struct abuse_report *report)
{
	const struct abuse_event *event = notify->current_event;
	struct finding finding;

	const struct detector *detector = event != NULL ? detector_for(event->category) : NULL;

	if (event == NULL || event->category != ticket->category || detector == NULL ||
	    notify->config == NULL ||
	    detector->detect(notify->config, event, notify->current_time_ms, &finding) != 1)
		return;
	report->attempts = event->counts.attempts;
	report->destination_count =
	    event->sample_count < REPORT_DESTINATIONS ? event->sample_count : REPORT_DESTINATIONS;
	memcpy(report->destinations, event->samples,
	       report->destination_count * sizeof(report->destinations[0]));
	/* A scan's latest probe names the VM's port, as X-ARF wants with an address. */
	if (report->source_port == 0 && event->sample_count > 0)
		report->source_port = event->samples[0].source_port;
	if (notify->evidence != NULL)
		(void)evidence_log_finding(notify->evidence, ticket->id, &finding, &ticket->vm);
}

struct transcript_context {
	struct evidence *evidence;
	const struct ticket *ticket;
};

static int
transcript_line(void *arg, int64_t time_ms, const char *text)
{
	struct transcript_context *context = arg;

	return evidence_log(context->evidence, context->ticket->id, time_ms,
	                    &context->ticket->source, &context->ticket->vm, text);
}

/* Lines of this spam ticket that come later are taken on the timer for a while. */
static void
late_watch(struct ticket_notify *notify, const struct ticket *ticket)
{
	struct ticket_notify_late *slot = &notify->late[0];

	for (size_t i = 0; i < TICKET_NOTIFY_LATE_MAX; i++) {
		if (notify->late[i].ticket_id == ticket->id) {
			slot = &notify->late[i];
			break;
		}
		/* A free slot, else the one whose time runs out first. */
		if (slot->ticket_id != 0 &&
		    (notify->late[i].ticket_id == 0 || notify->late[i].until_ms < slot->until_ms))
			slot = &notify->late[i];
	}
	slot->ticket_id = ticket->id;
	slot->until_ms = ticket->changed_ms + TICKET_NOTIFY_LATE_MS; /* filed at changed_ms */
	slot->source = ticket->source;
	slot->vm = ticket->vm;
}

unsigned
ticket_notify_tick(struct ticket_notify *notify, int64_t now_ms)
{
	unsigned added = 0;

	for (size_t i = 0; i < TICKET_NOTIFY_LATE_MAX; i++) {
		struct ticket_notify_late *late = &notify->late[i];
		struct ticket ticket = {
		    .id = late->ticket_id, .source = late->source, .vm = late->vm};
		struct transcript_context context = {.evidence = notify->evidence,
		                                     .ticket = &ticket};
		struct report_file files[REPORT_FILES_MAX];
		struct smtp_envelope envelope;
		unsigned count;
		char *log = NULL;
		size_t length;
		int lines;

		if (late->ticket_id == 0)
			continue;
		if (notify->transcript != NULL && notify->evidence != NULL &&
		    (lines = smtp_transcript_take(notify->transcript, &late->source,
		                                  transcript_line, &context, &envelope)) > 0) {
			added += (unsigned)lines;
			/* SHA256SUMS follows the log it lists; failures are logged there. */
			(void)evidence_collect(notify->evidence, late->ticket_id, files,
			                       REPORT_FILES_MAX, &count, &log, &length);
			free(log);
		}
		if (now_ms >= late->until_ms)
			late->ticket_id = 0;
	}
	return added;
}

/* What the capture saw of the source: its SMTP conversation, then its packets. */
static void
add_capture(struct ticket_notify *notify, const struct ticket *ticket, enum ticket_event event,
            struct abuse_report *report)
{
	struct transcript_context context = {.evidence = notify->evidence, .ticket = ticket};
	struct smtp_envelope envelope;
	bool first = event == TICKET_EVENT_OPENED || event == TICKET_EVENT_REOPENED;

	if (notify->transcript != NULL && ticket->category == CATEGORY_SPAM) {
		late_watch(notify, ticket);
		/* Past the ticket's bytes the lines are dropped (counted there); the envelope
		 * stays. */
		(void)smtp_transcript_take(notify->transcript, &ticket->source, transcript_line,
		                           &context, &envelope);
		/* X-ARF wants an address: a null sender or a bare word stays unknown. */
		if (strchr(envelope.mail_from, '@') != NULL)
			snprintf(report->smtp_from, sizeof(report->smtp_from), "%s",
			         envelope.mail_from);
		if (strchr(envelope.rcpt_to, '@') != NULL)
			snprintf(report->smtp_to, sizeof(report->smtp_to), "%s", envelope.rcpt_to);
		snprintf(report->subject, sizeof(report->subject), "%s", envelope.subject);
		report->source_port = envelope.client_port;
	}
	if (notify->wire != NULL)
		/* Logged and counted where it fails; the notice goes without it. */
		(void)evidence_excerpt(notify->evidence, notify->wire, ticket->id,
		                       ticket->event_count, ticket->vm.interface, &ticket->source,
		                       first ? 0 : notify->current_window_ms, NULL);
}

/* The report with the ticket's evidence as it is now, into the outbox. */
static int
queue_report(struct ticket_notify *notify, const struct ticket *ticket, struct abuse_report *report)
{
	char *log = NULL;
	int error;

	if (notify->evidence != NULL)
		(void)evidence_collect(notify->evidence, ticket->id, report->files,
		                       REPORT_FILES_MAX, &report->file_count, &log,
		                       &report->log_len);
	report->log = log;
	error = outbox_enqueue(notify->outbox, report);
	report->log = NULL;
	free(log);
	return error;
}

int
ticket_notify_event(void *arg, const struct ticket *ticket, enum ticket_event event,
                    const struct ticket_message *message)
{
	struct ticket_notify *notify = arg;
	struct abuse_report report;

	ticket_report_of(ticket, event, message, &report);
	/* An offence filed: what it brings goes into the evidence first. */
	if (event == TICKET_EVENT_OPENED || event == TICKET_EVENT_ABUSE ||
	    event == TICKET_EVENT_UPDATED || event == TICKET_EVENT_REOPENED) {
		add_current_event(notify, ticket, &report);
		if (notify->evidence != NULL)
			add_capture(notify, ticket, event, &report);
	}
	return queue_report(notify, ticket, &report);
}

/* The ticket event a thread message was written for, as the outbox names it. */
static enum ticket_event
event_of(const struct ticket *ticket, const struct ticket_message *message)
{
	switch (message->template_kind) {
	case TEMPLATE_NOTICE:
		return ticket->event_count > 1 ? TICKET_EVENT_REOPENED : TICKET_EVENT_OPENED;
	case TEMPLATE_UPDATE:
		return TICKET_EVENT_UPDATED;
	case TEMPLATE_DEADLINE_WARNING:
		return TICKET_EVENT_DEADLINE_WARNING;
	case TEMPLATE_ESCALATION:
		return TICKET_EVENT_ESCALATED;
	case TEMPLATE_CLOSURE:
		return TICKET_EVENT_CLOSED;
	case TEMPLATE_REPLY:
		return TICKET_EVENT_CUSTOMER_REPLY;
	case TEMPLATE_STATUS:
		return ticket->status == TICKET_RESOLVED         ? TICKET_EVENT_RESOLVED
		       : ticket->status == TICKET_FALSE_POSITIVE ? TICKET_EVENT_FALSE_POSITIVE
		                                                 : TICKET_EVENT_ACKNOWLEDGED;
	default:
		return TICKET_EVENT_NOTE;
	}
}

#define RECOVER_BATCH 256

struct unqueued {
	struct ticket_message *messages;
	size_t count;
};

static int
collect_message(const struct ticket_message *message, void *arg)
{
	struct unqueued *unqueued = arg;

	unqueued->messages[unqueued->count++] = *message;
	return 0;
}

int
ticket_notify_recover(struct ticket_notify *notify, struct store *store, size_t *requeued)
{
	struct unqueued unqueued = {.messages =
	                                calloc(RECOVER_BATCH, sizeof(struct ticket_message))};
	int error;

	*requeued = 0;
	if (unqueued.messages == NULL)
		return -ENOMEM;
	error = store_ticket_messages_unqueued(store, RECOVER_BATCH, collect_message, &unqueued);
	for (size_t i = 0; i < unqueued.count && error == 0; i++) {
		const struct ticket_message *message = &unqueued.messages[i];
		struct abuse_report report;
		struct ticket ticket;

		if (store_ticket_get(store, message->ticket_id, &ticket) < 0)
			continue; /* logged there */
		ticket_report_of(&ticket, event_of(&ticket, message), message, &report);
		if ((error = queue_report(notify, &ticket, &report)) == 0)
			(*requeued)++;
	}
	free(unqueued.messages);
	return error;
}
