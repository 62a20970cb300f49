/*
 * The ticket lifecycle (ticket.h). Each change is one store transaction
 * (ticket row, event row, thread message, status change with uid and
 * reason); the sink hears of it only once it is durable.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "detect.h"
#include "log.h"
#include "source.h"
#include "store.h"
#include "ticket.h"

/* The daemon's own changes (deadlines, auto-close) are written under its name. */
#define TICKET_AUTHOR_SELF "abuseguard"

static const char *const status_names[TICKET_STATUS_COUNT] = {
    [TICKET_OPEN] = "open",
    [TICKET_ACKNOWLEDGED] = "acknowledged",
    [TICKET_RESOLVED] = "resolved",
    [TICKET_ESCALATED] = "escalated",
    [TICKET_FALSE_POSITIVE] = "false-positive",
    [TICKET_CLOSED] = "closed",
};

static const char *const customer_status_names[CUSTOMER_STATUS_COUNT] = {
    [CUSTOMER_NONE] = "none",
    [CUSTOMER_ACKNOWLEDGED] = "acknowledged",
    [CUSTOMER_FIXED] = "fixed",
};

static const char *const event_names[TICKET_EVENT_COUNT] = {
    [TICKET_EVENT_OPENED] = "opened",
    [TICKET_EVENT_ABUSE] = "abuse",
    [TICKET_EVENT_UPDATED] = "updated",
    [TICKET_EVENT_REOPENED] = "reopened",
    [TICKET_EVENT_DEADLINE_WARNING] = "deadline-warning",
    [TICKET_EVENT_ESCALATED] = "escalated",
    [TICKET_EVENT_ACKNOWLEDGED] = "acknowledged",
    [TICKET_EVENT_RESOLVED] = "resolved",
    [TICKET_EVENT_FALSE_POSITIVE] = "false-positive",
    [TICKET_EVENT_CLOSED] = "closed",
    [TICKET_EVENT_NOTE] = "note",
    [TICKET_EVENT_CUSTOMER_REPLY] = "customer-reply",
};

static const char *const direction_names[DIRECTION_COUNT] = {
    [DIRECTION_DESK_TO_CUSTOMER] = "desk-to-customer",
    [DIRECTION_CUSTOMER_TO_DESK] = "customer-to-desk",
    [DIRECTION_INTERNAL] = "internal",
};

static const char *const visibility_names[VISIBILITY_COUNT] = {
    [VISIBILITY_CUSTOMER] = "customer",
    [VISIBILITY_DESK] = "desk",
};

static const char *const template_names[TEMPLATE_COUNT] = {
    [TEMPLATE_NOTICE] = "notice",
    [TEMPLATE_UPDATE] = "update",
    [TEMPLATE_DEADLINE_WARNING] = "deadline-warning",
    [TEMPLATE_ESCALATION] = "escalation",
    [TEMPLATE_CLOSURE] = "closure",
    [TEMPLATE_NOTE] = "note",
    [TEMPLATE_REPLY] = "reply",
    [TEMPLATE_STATUS] = "status",
};

static const char *
name_of(const char *const *names, unsigned count, unsigned value)
{
	return value < count ? names[value] : "unknown";
}

/* The index of name in names, or -EINVAL. */
static int
name_index(const char *const *names, unsigned count, const char *name)
{
	for (unsigned i = 0; name != NULL && i < count; i++)
		if (strcmp(names[i], name) == 0)
			return (int)i;
	return -EINVAL;
}

#define NAMES(names) names, sizeof(names) / sizeof(names[0])

const char *
ticket_status_name(enum ticket_status status)
{
	return name_of(NAMES(status_names), status);
}

const char *
customer_status_name(enum customer_status status)
{
	return name_of(NAMES(customer_status_names), status);
}

const char *
ticket_event_name(enum ticket_event event)
{
	return name_of(NAMES(event_names), event);
}

const char *
message_direction_name(enum message_direction direction)
{
	return name_of(NAMES(direction_names), direction);
}

const char *
message_visibility_name(enum message_visibility visibility)
{
	return name_of(NAMES(visibility_names), visibility);
}

const char *
message_template_name(enum message_template template_kind)
{
	return name_of(NAMES(template_names), template_kind);
}

int
ticket_status_parse(const char *name, enum ticket_status *out)
{
	int i = name_index(NAMES(status_names), name);

	return i < 0 ? i : (*out = (enum ticket_status)i, 0);
}

int
customer_status_parse(const char *name, enum customer_status *out)
{
	int i = name_index(NAMES(customer_status_names), name);

	return i < 0 ? i : (*out = (enum customer_status)i, 0);
}

int
ticket_event_parse(const char *name, enum ticket_event *out)
{
	int i = name_index(NAMES(event_names), name);

	return i < 0 ? i : (*out = (enum ticket_event)i, 0);
}

int
message_direction_parse(const char *name, enum message_direction *out)
{
	int i = name_index(NAMES(direction_names), name);

	return i < 0 ? i : (*out = (enum message_direction)i, 0);
}

int
message_visibility_parse(const char *name, enum message_visibility *out)
{
	int i = name_index(NAMES(visibility_names), name);

	return i < 0 ? i : (*out = (enum message_visibility)i, 0);
}

int
message_template_parse(const char *name, enum message_template *out)
{
	int i = name_index(NAMES(template_names), name);

	return i < 0 ? i : (*out = (enum message_template)i, 0);
}

bool
ticket_status_final(enum ticket_status status)
{
	return status == TICKET_FALSE_POSITIVE || status == TICKET_CLOSED;
}

void
tickets_init(struct tickets *tickets, const struct config *config, struct clock *clock,
             struct store *store)
{
	memset(tickets, 0, sizeof(*tickets));
	tickets->config = config;
	tickets->clock = clock;
	tickets->store = store;
}

static void __attribute__((format(printf, 7, 8)))
message_init(struct ticket_message *message, int64_t now_ms, const char *author, uid_t uid,
             enum message_direction direction, enum message_template template_kind, const char *fmt,
             ...)
{
	va_list ap;

	memset(message, 0, sizeof(*message));
	message->time_ms = now_ms;
	snprintf(message->author, sizeof(message->author), "%s", author);
	message->uid = uid;
	message->direction = direction;
	message->visibility =
	    direction == DIRECTION_INTERNAL ? VISIBILITY_DESK : VISIBILITY_CUSTOMER;
	message->template_kind = template_kind;
	va_start(ap, fmt);
	vsnprintf(message->text, sizeof(message->text), fmt, ap);
	va_end(ap);
}

/* The desk's view of each change but a throttled offence, with TICKET= for the journal. */
static void
ticket_log(const struct ticket *ticket, enum ticket_event event)
{
	char ticket_field[40], source_field[SOURCE_STRLEN + 8],
	    customer_field[CUSTOMER_ID_MAX + 16];
	const char *fields[] = {ticket_field, source_field, customer_field, NULL};
	char source[SOURCE_STRLEN];

	if (event == TICKET_EVENT_ABUSE)
		return;
	source_format(&ticket->source, source, sizeof(source));
	snprintf(ticket_field, sizeof(ticket_field), "TICKET=%" PRId64, ticket->id);
	snprintf(source_field, sizeof(source_field), "SOURCE=%s", source);
	snprintf(customer_field, sizeof(customer_field), "CUSTOMER=%s", ticket->customer);
	log_fields(event == TICKET_EVENT_ESCALATED ? LOG_WARNING : LOG_INFO, fields,
	           "ticket %" PRId64 " %s: %s %s, customer %s%s, %" PRIu64 " event(s), %s/%s",
	           ticket->id, ticket_event_name(event), category_name(ticket->category), source,
	           ticket->customer, ticket->route == ROUTE_DEFAULT ? " (unrouted)" : "",
	           ticket->event_count, ticket_status_name(ticket->status),
	           customer_status_name(ticket->customer_status));
}

/* Tells the sink of a change that is durable; its refusal is counted, never undone. */
static void
sink_emit(struct tickets *tickets, const struct ticket *ticket, const struct ticket_change *change)
{
	ticket_log(ticket, change->event);
	if (tickets->sink.event == NULL ||
	    tickets->sink.event(tickets->sink.arg, ticket, change->event, change->message) == 0)
		return;
	tickets->stats.sink_errors++;
	log_warnx("ticket %" PRId64 ": %s not taken by delivery", ticket->id,
	          ticket_event_name(change->event));
}

/* Durable first, then the sink. */
static int
ticket_commit(struct tickets *tickets, struct ticket *ticket, struct ticket_change *change)
{
	int error = store_ticket_save(tickets->store, ticket, change);

	if (error < 0) {
		tickets->stats.store_errors++;
		return error;
	}
	sink_emit(tickets, ticket, change);
	return 0;
}

static struct ticket_change
change_from(const struct ticket *ticket, enum ticket_event event)
{
	return (struct ticket_change){
	    .event = event,
	    .from_status = ticket->status,
	    .from_customer = ticket->customer_status,
	    .uid = geteuid(),
	};
}

/* What the customer is told of the abuse: source, category, counts, VM, ban. */
static void
describe(const struct ticket *ticket, char *buf, size_t len)
{
	char source[SOURCE_STRLEN], first[32], last[32], expires[32];
	int used;

	source_format(&ticket->source, source, sizeof(source));
	clock_format_utc(ticket->first_seen_ms, first, sizeof(first));
	clock_format_utc(ticket->last_seen_ms, last, sizeof(last));
	used = snprintf(buf, len, "%s from %s: %" PRIu64 " event(s), first %s, last %s",
	                category_name(ticket->category), source, ticket->event_count, first, last);
	if (used > 0 && (size_t)used < len && ticket->vm.interface[0] != '\0')
		used += snprintf(buf + used, len - (size_t)used, "; VM on %s%s%s%s%s",
		                 ticket->vm.interface, ticket->vm.mac[0] ? " " : "", ticket->vm.mac,
		                 ticket->vm.name[0] ? " named " : "", ticket->vm.name);
	if (used > 0 && (size_t)used < len && ticket->ban.id != 0) {
		clock_format_utc(ban_end_ms(&ticket->ban), expires, sizeof(expires));
		snprintf(buf + used, len - (size_t)used, "; banned (scope %s, level %u) until %s",
		         scope_name(ticket->ban.scope), ticket->ban.level + 1, expires);
	}
}

/* Abuse seen after the notice, and after the customer said it was fixed. */
static bool
abuse_goes_on(const struct ticket *ticket)
{
	return ticket->last_seen_ms > ticket->opened_ms && ticket->last_seen_ms > ticket->fixed_ms;
}

/*
 * The timer's work for one ticket at now_ms: close a quiet one, escalate one
 * past its deadline, warn before the deadline, send an update that is due.
 * Each is its own change. Returns how many changes, or -errno.
 */
static int
ticket_review(struct tickets *tickets, struct ticket *ticket, int64_t now_ms)
{
	const struct tickets_config *config = &tickets->config->tickets;
	struct ticket_message message;
	struct ticket_change change;
	char what[512], deadline[32];
	int error, changes = 0;

	if (ticket_status_final(ticket->status))
		return 0;
	if (now_ms - ticket->changed_ms >= config->close_after_ms) {
		change = change_from(ticket, TICKET_EVENT_CLOSED);
		change.reason = "quiet for tickets.close_after";
		ticket->status = TICKET_CLOSED;
		ticket->closed_ms = ticket->changed_ms = now_ms;
		message_init(&message, now_ms, TICKET_AUTHOR_SELF, change.uid,
		             DIRECTION_DESK_TO_CUSTOMER, TEMPLATE_CLOSURE,
		             "No abuse seen for %" PRId64 " days: this ticket is closed. A new "
		             "event opens a new ticket.",
		             config->close_after_ms / (int64_t)(24 * 3600 * 1000));
		change.message = &message;
		if ((error = ticket_commit(tickets, ticket, &change)) < 0)
			return error;
		tickets->stats.closed++;
		return 1;
	}
	describe(ticket, what, sizeof(what));
	clock_format_utc(ticket->deadline_ms, deadline, sizeof(deadline));
	if ((ticket->status == TICKET_OPEN || ticket->status == TICKET_ACKNOWLEDGED) &&
	    now_ms >= ticket->deadline_ms && abuse_goes_on(ticket)) {
		change = change_from(ticket, TICKET_EVENT_ESCALATED);
		change.reason = "deadline passed with abuse still seen: suspension recommended";
		ticket->status = TICKET_ESCALATED;
		ticket->changed_ms = now_ms;
		/* The customer was told at the notice that this would follow: they hear it. */
		message_init(&message, now_ms, TICKET_AUTHOR_SELF, change.uid,
		             DIRECTION_DESK_TO_CUSTOMER, TEMPLATE_ESCALATION,
		             "Deadline %s passed and the abuse goes on (customer status %s): "
		             "this ticket is escalated, suspension recommended. %s",
		             deadline, customer_status_name(ticket->customer_status), what);
		change.message = &message;
		if ((error = ticket_commit(tickets, ticket, &change)) < 0)
			return error;
		tickets->stats.escalated++;
		changes++;
	}
	if ((ticket->status == TICKET_OPEN || ticket->status == TICKET_ACKNOWLEDGED) &&
	    !ticket->warned && ticket->customer_status != CUSTOMER_FIXED &&
	    now_ms < ticket->deadline_ms &&
	    now_ms >= ticket->opened_ms + (ticket->deadline_ms - ticket->opened_ms) * 3 / 4) {
		change = change_from(ticket, TICKET_EVENT_DEADLINE_WARNING);
		ticket->warned = true;
		ticket->changed_ms = now_ms;
		message_init(&message, now_ms, TICKET_AUTHOR_SELF, change.uid,
		             DIRECTION_DESK_TO_CUSTOMER, TEMPLATE_DEADLINE_WARNING,
		             "Reminder: the deadline for this ticket is %s. Please stop the abuse "
		             "and answer in this ticket; unanswered abuse ends in suspension. %s",
		             deadline, what);
		change.message = &message;
		if ((error = ticket_commit(tickets, ticket, &change)) < 0)
			return error;
		tickets->stats.warnings++;
		changes++;
	}
	if (ticket->status != TICKET_RESOLVED && ticket->last_seen_ms > ticket->notified_ms &&
	    now_ms >= ticket->notified_ms + config->update_interval_ms) {
		change = change_from(ticket, TICKET_EVENT_UPDATED);
		ticket->notified_ms = ticket->changed_ms = now_ms;
		ticket->updates++;
		message_init(&message, now_ms, TICKET_AUTHOR_SELF, change.uid,
		             DIRECTION_DESK_TO_CUSTOMER, TEMPLATE_UPDATE,
		             "Update: the abuse goes on. %s. Deadline %s.", what, deadline);
		change.message = &message;
		if ((error = ticket_commit(tickets, ticket, &change)) < 0)
			return error;
		tickets->stats.updates++;
		changes++;
	}
	return changes;
}

/* A new ticket from its first offence; the notice goes with it. */
static void
ticket_new(struct tickets *tickets, struct ticket *ticket, const struct route *route,
           const struct finding *finding, const struct offence *offence, int64_t now_ms)
{
	int64_t seen_ms = offence->time_ms;

	memset(ticket, 0, sizeof(*ticket));
	if (route->customer != NULL) {
		snprintf(ticket->customer, sizeof(ticket->customer), "%s", route->customer->id);
		snprintf(ticket->customer_name, sizeof(ticket->customer_name), "%s",
		         route->customer->name);
		snprintf(ticket->contact, sizeof(ticket->contact), "%s", route->customer->contact);
	} else
		snprintf(ticket->customer, sizeof(ticket->customer), "%s", CUSTOMER_DEFAULT_QUEUE);
	ticket->route = route->kind;
	ticket->source = finding->source;
	ticket->category = finding->category;
	ticket->status = TICKET_OPEN;
	ticket->customer_status = CUSTOMER_NONE;
	/* The notice is never older than what it reports: later offences count as after it. */
	ticket->opened_ms = now_ms > seen_ms ? now_ms : seen_ms;
	ticket->first_seen_ms = seen_ms;
	ticket->last_seen_ms = seen_ms;
	ticket->deadline_ms = ticket->opened_ms + tickets->config->tickets.deadline_ms;
	ticket->notified_ms = ticket->opened_ms;
	ticket->changed_ms = now_ms;
}

static void
notice_text(const struct ticket *ticket, bool again, char *buf, size_t len)
{
	char what[512], deadline[32];

	describe(ticket, what, sizeof(what));
	clock_format_utc(ticket->deadline_ms, deadline, sizeof(deadline));
	snprintf(buf, len,
	         "%s %s. Please stop it and answer in this ticket by %s (acknowledge, then "
	         "say when it is fixed); unanswered abuse ends in suspension.",
	         again ? "Abuse seen again after this ticket was resolved:" : "Abuse report:", what,
	         deadline);
}

int
ticket_file(struct tickets *tickets, const struct finding *finding, const struct offence *offence,
            const struct ban *ban, const char *vm_customer, int64_t *ticket_id)
{
	const struct config *config = tickets->config;
	int64_t now_ms = clock_now_ms(tickets->clock);
	struct ticket_message message;
	struct ticket_change change;
	struct ticket ticket;
	struct route route;
	char detail[256];
	int error;

	if (ticket_id != NULL)
		*ticket_id = 0;
	customer_route(config->customers, config->customer_count, &finding->source, vm_customer,
	               &route);
	error = store_ticket_open_for(tickets->store,
	                              route.customer ? route.customer->id : CUSTOMER_DEFAULT_QUEUE,
	                              &finding->source, finding->category, &ticket);
	if (error < 0 && error != -ENOENT) {
		tickets->stats.store_errors++;
		return error;
	}
	if (error == -ENOENT) {
		ticket_new(tickets, &ticket, &route, finding, offence, now_ms);
		change = change_from(&ticket, TICKET_EVENT_OPENED);
	} else {
		change =
		    change_from(&ticket, ticket.status == TICKET_RESOLVED ? TICKET_EVENT_REOPENED
		                                                          : TICKET_EVENT_ABUSE);
		if (offence->time_ms > ticket.last_seen_ms)
			ticket.last_seen_ms = offence->time_ms;
		ticket.changed_ms = now_ms;
	}
	ticket.event_count++;
	if (offence->vm.interface[0] != '\0')
		ticket.vm = offence->vm;
	if (ban != NULL)
		ticket.ban = *ban;
	if (change.event == TICKET_EVENT_REOPENED) {
		change.reason = "abuse seen again after resolved";
		ticket.status = TICKET_OPEN;
		ticket.customer_status = CUSTOMER_NONE;
		ticket.opened_ms = ticket.notified_ms = now_ms;
		ticket.deadline_ms = now_ms + config->tickets.deadline_ms;
		ticket.fixed_ms = ticket.closed_ms = 0;
		ticket.warned = false;
	}
	change.offence_id = offence->id;
	change.ban_id = ban != NULL ? ban->id : 0;
	snprintf(detail, sizeof(detail), "%s", offence->detail);
	change.detail = detail;
	if (change.event != TICKET_EVENT_ABUSE) {
		char text[TICKET_TEXT_MAX];

		notice_text(&ticket, change.event == TICKET_EVENT_REOPENED, text, sizeof(text));
		message_init(&message, now_ms, TICKET_AUTHOR_SELF, change.uid,
		             DIRECTION_DESK_TO_CUSTOMER, TEMPLATE_NOTICE, "%s", text);
		change.message = &message;
	}
	if ((error = ticket_commit(tickets, &ticket, &change)) < 0)
		return error;
	if (change.event == TICKET_EVENT_OPENED) {
		tickets->stats.opened++;
		if (ticket.route == ROUTE_DEFAULT)
			tickets->stats.unrouted++;
	} else if (change.event == TICKET_EVENT_REOPENED)
		tickets->stats.reopened++;
	else
		tickets->stats.added++;
	if (ticket_id != NULL)
		*ticket_id = ticket.id;
	/* An offence may make an update due, or show the abuse going on past the deadline. */
	error = ticket_review(tickets, &ticket, now_ms);
	return error < 0 ? error : 0;
}

/* Tickets the timer reads at a time. */
#define TICKETS_TICK_PAGE 64

int
tickets_tick(struct tickets *tickets)
{
	struct ticket page[TICKETS_TICK_PAGE];
	struct ticket_filter filter = {.status = -1, .unfinished = true};
	int64_t now_ms = clock_now_ms(tickets->clock);
	size_t count;
	int changed = 0;

	do {
		int error = store_tickets(tickets->store, &filter, page, TICKETS_TICK_PAGE, &count);

		if (error < 0)
			return error;
		for (size_t i = 0; i < count; i++) {
			int changes = ticket_review(tickets, &page[i], now_ms);

			if (changes < 0)
				return changes;
			changed += changes;
		}
		if (count > 0)
			filter.after_id = page[count - 1].id;
	} while (count == TICKETS_TICK_PAGE);
	return changed;
}

/* Text from the desk or a customer: printable, lines and tabs allowed, bounded. */
static int
text_check(const char *text, const char **why)
{
	if (text == NULL || text[0] == '\0') {
		*why = "the text is empty";
		return -EINVAL;
	}
	if (strlen(text) >= TICKET_TEXT_MAX) {
		*why = "the text is longer than 1023 bytes";
		return -EINVAL;
	}
	for (const unsigned char *c = (const unsigned char *)text; *c; c++)
		if ((*c < 0x20 && *c != '\n' && *c != '\t') || *c == 0x7f) {
			*why = "the text holds control characters";
			return -EINVAL;
		}
	return 0;
}

/* Reads the ticket a desk verb is about, and checks the reason it must carry. */
static int
desk_begin(struct tickets *tickets, int64_t id, const char *reason, struct ticket *ticket,
           const char **why)
{
	static const char *unused;
	int error;

	if (why == NULL)
		why = &unused;
	*why = NULL;
	if (reason == NULL || reason[0] == '\0') {
		*why = "a reason is required";
		return -EINVAL;
	}
	if (text_check(reason, why) < 0)
		return -EINVAL;
	if ((error = store_ticket_get(tickets->store, id, ticket)) == -ENOENT)
		*why = "no such ticket";
	else if (error < 0)
		*why = "cannot read the store";
	return error;
}

static int
desk_commit(struct tickets *tickets, struct ticket *ticket, struct ticket_change *change,
            const char **why)
{
	int error = ticket_commit(tickets, ticket, change);

	if (error < 0 && why != NULL)
		*why = "the store could not record it";
	return error;
}

static void
desk_author(uid_t uid, char *buf, size_t len)
{
	snprintf(buf, len, "uid %u", (unsigned)uid);
}

/* A desk status change: allowed from the statuses in the mask (bits of enum ticket_status). */
static int
desk_transition(struct tickets *tickets, int64_t id, uid_t uid, const char *reason,
                unsigned allowed, enum ticket_status to, enum ticket_event event,
                const char *action, const char *to_customer, const char **why)
{
	int64_t now_ms = clock_now_ms(tickets->clock);
	struct ticket_message message;
	struct ticket_change change;
	struct ticket ticket;
	char author[TICKET_AUTHOR_MAX];
	int error;

	if ((error = desk_begin(tickets, id, reason, &ticket, why)) < 0)
		return error;
	if (!(allowed & (1u << ticket.status))) {
		if (why != NULL)
			*why = ticket.status == to ? "the ticket has that status already"
			                           : "not from the ticket's status";
		return -EPERM;
	}
	change = change_from(&ticket, event);
	change.uid = uid;
	change.reason = reason;
	change.audit_action = action;
	ticket.status = to;
	ticket.changed_ms = now_ms;
	if (to == TICKET_RESOLVED || to == TICKET_CLOSED)
		ticket.closed_ms = now_ms;
	desk_author(uid, author, sizeof(author));
	/* The reason is the desk's; a closure tells the customer only what the template says. */
	if (to_customer != NULL)
		message_init(&message, now_ms, author, uid, DIRECTION_DESK_TO_CUSTOMER,
		             TEMPLATE_CLOSURE, "%s", to_customer);
	else
		message_init(&message, now_ms, author, uid, DIRECTION_INTERNAL, TEMPLATE_STATUS,
		             "%s -> %s: %s", ticket_status_name(change.from_status),
		             ticket_status_name(to), reason);
	change.message = &message;
	if ((error = desk_commit(tickets, &ticket, &change, why)) == 0 && to == TICKET_CLOSED)
		tickets->stats.closed++;
	return error;
}

#define STATUS_BIT(status) (1u << (status))

int
ticket_acknowledge(struct tickets *tickets, int64_t id, uid_t uid, const char *reason,
                   const char **why)
{
	return desk_transition(tickets, id, uid, reason, STATUS_BIT(TICKET_OPEN),
	                       TICKET_ACKNOWLEDGED, TICKET_EVENT_ACKNOWLEDGED, "ticket acknowledge",
	                       NULL, why);
}

int
ticket_resolve(struct tickets *tickets, int64_t id, uid_t uid, const char *reason, const char **why)
{
	return desk_transition(tickets, id, uid, reason,
	                       STATUS_BIT(TICKET_OPEN) | STATUS_BIT(TICKET_ACKNOWLEDGED) |
	                           STATUS_BIT(TICKET_ESCALATED),
	                       TICKET_RESOLVED, TICKET_EVENT_RESOLVED, "ticket resolve", NULL, why);
}

int
ticket_close(struct tickets *tickets, int64_t id, uid_t uid, const char *reason, const char **why)
{
	return desk_transition(tickets, id, uid, reason,
	                       STATUS_BIT(TICKET_OPEN) | STATUS_BIT(TICKET_ACKNOWLEDGED) |
	                           STATUS_BIT(TICKET_RESOLVED) | STATUS_BIT(TICKET_ESCALATED),
	                       TICKET_CLOSED, TICKET_EVENT_CLOSED, "ticket close",
	                       "The abuse desk has closed this ticket. A new event opens a new "
	                       "ticket.",
	                       why);
}

int
ticket_note(struct tickets *tickets, int64_t id, uid_t uid, const char *text, bool to_customer,
            const char *reason, const char **why)
{
	int64_t now_ms = clock_now_ms(tickets->clock);
	struct ticket_message message;
	struct ticket_change change;
	struct ticket ticket;
	char author[TICKET_AUTHOR_MAX];
	int error;

	if ((error = desk_begin(tickets, id, reason, &ticket, why)) < 0)
		return error;
	if (text_check(text, why) < 0)
		return -EINVAL;
	change = change_from(&ticket, TICKET_EVENT_NOTE);
	change.uid = uid;
	change.reason = reason;
	change.audit_action = "ticket note";
	ticket.changed_ms = now_ms;
	desk_author(uid, author, sizeof(author));
	message_init(&message, now_ms, author, uid,
	             to_customer ? DIRECTION_DESK_TO_CUSTOMER : DIRECTION_INTERNAL, TEMPLATE_NOTE,
	             "%s", text);
	change.message = &message;
	return desk_commit(tickets, &ticket, &change, why);
}

int
ticket_reply(struct tickets *tickets, int64_t id, uid_t uid, const char *text,
             enum customer_status status, const char *reason, const char **why)
{
	int64_t now_ms = clock_now_ms(tickets->clock);
	struct ticket_message message;
	struct ticket_change change;
	struct ticket ticket;
	int error;

	if ((error = desk_begin(tickets, id, reason, &ticket, why)) < 0)
		return error;
	if (text_check(text, why) < 0)
		return -EINVAL;
	/* The customer's axis only moves forward, and not on a ticket the desk is done with. */
	if (status != CUSTOMER_NONE &&
	    (status <= ticket.customer_status || ticket_status_final(ticket.status))) {
		if (why != NULL)
			*why =
			    ticket_status_final(ticket.status)
			        ? "the ticket is done: its customer status stays"
			        : "the customer's status only moves forward: none, acknowledged, "
			          "fixed";
		return -EPERM;
	}
	change = change_from(&ticket, TICKET_EVENT_CUSTOMER_REPLY);
	change.uid = uid;
	change.reason = reason;
	change.audit_action = "ticket reply";
	if (status != CUSTOMER_NONE)
		ticket.customer_status = status;
	if (status == CUSTOMER_FIXED)
		ticket.fixed_ms = now_ms;
	ticket.changed_ms = now_ms;
	message_init(&message, now_ms, ticket.customer, uid, DIRECTION_CUSTOMER_TO_DESK,
	             TEMPLATE_REPLY, "%s", text);
	change.message = &message;
	return desk_commit(tickets, &ticket, &change, why);
}

int
ticket_false_positive(struct tickets *tickets, int64_t id, uid_t uid, const char *reason,
                      struct ban *lifted, size_t max, size_t *count, const char **why)
{
	int64_t now_ms = clock_now_ms(tickets->clock);
	struct ticket_message message;
	struct ticket_change change;
	struct ticket ticket;
	char author[TICKET_AUTHOR_MAX];
	int error;

	*count = 0;
	if ((error = desk_begin(tickets, id, reason, &ticket, why)) < 0)
		return error;
	if (ticket.status == TICKET_FALSE_POSITIVE) {
		if (why != NULL)
			*why = "the ticket has that status already";
		return -EPERM;
	}
	change = change_from(&ticket, TICKET_EVENT_FALSE_POSITIVE);
	change.uid = uid;
	change.reason = reason;
	change.audit_action = "ticket false-positive";
	ticket.status = TICKET_FALSE_POSITIVE;
	ticket.changed_ms = ticket.closed_ms = now_ms;
	desk_author(uid, author, sizeof(author));
	message_init(&message, now_ms, author, uid, DIRECTION_DESK_TO_CUSTOMER, TEMPLATE_STATUS,
	             "This report was a false positive; we apologise. Its bans are lifted and "
	             "it does not count against you.");
	change.message = &message;
	error = store_ticket_false_positive(tickets->store, &ticket, &change, now_ms, lifted, max,
	                                    count);
	if (error < 0) {
		tickets->stats.store_errors++;
		if (why != NULL)
			*why = "the store could not record it";
		return error;
	}
	sink_emit(tickets, &ticket, &change);
	return 0;
}
