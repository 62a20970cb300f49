/*
 * Tickets: routing, one ticket for many events, reopen and auto-close,
 * throttled updates and escalation across a simulated week, the desk's
 * verbs audited, and a false positive taken out of the ladder's history.
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "customer.h"
#include "detect.h"
#include "ladder.h"
#include "source.h"
#include "store.h"
#include "ticket.h"

#define MINUTE_MS (60 * 1000LL)
#define HOUR_MS   (60 * MINUTE_MS)
#define DAY_MS    (24 * HOUR_MS)
#define T0_MS     1767225600000LL /* 2026-01-01T00:00:00Z */

static char directory[] = "/tmp/test_ticket.XXXXXX";
static struct config config;
static struct clock test_clock;
static unsigned offend_level; /* the rung of the next ban offend() records */

/* What the sink heard: every event, in order. */
struct heard {
	enum ticket_event events[4096];
	int64_t times[4096];
	bool had_message[4096];
	enum message_template templates[4096];
	unsigned count;
};
static struct heard heard;

static int
sink_event(void *arg, const struct ticket *ticket, enum ticket_event event,
           const struct ticket_message *message)
{
	struct heard *h = arg;

	(void)ticket;
	if (h->count < sizeof(h->events) / sizeof(h->events[0])) {
		h->events[h->count] = event;
		h->times[h->count] = clock_now_ms(&test_clock);
		h->had_message[h->count] = message != NULL;
		h->templates[h->count] = message != NULL ? message->template_kind : TEMPLATE_COUNT;
	}
	h->count++;
	return 0;
}

static unsigned
heard_count(enum ticket_event event)
{
	unsigned n = 0;

	for (unsigned i = 0; i < heard.count && i < 4096; i++)
		n += heard.events[i] == event;
	return n;
}

static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static void
remove_directory(void)
{
	nftw(directory, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static struct store *
open_store(const char *name)
{
	char path[PATH_MAX];
	struct store *store;

	snprintf(path, sizeof(path), "%s/%s.db", directory, name);
	if (store_open(&store, path) < 0) {
		fprintf(stderr, "%s: cannot open\n", path);
		exit(2);
	}
	return store;
}

static struct source_key
key(const char *text)
{
	struct source_key source;

	if (source_parse(text, 64, &source) < 0) {
		fprintf(stderr, "%s: bad test source\n", text);
		exit(2);
	}
	return source;
}

static void
add_customer(const char *id, const char *contact, const char *p1, const char *p2)
{
	struct customer *c = &config.customers[config.customer_count++];

	memset(c, 0, sizeof(*c));
	snprintf(c->id, sizeof(c->id), "%s", id);
	snprintf(c->name, sizeof(c->name), "Customer %s", id);
	snprintf(c->contact, sizeof(c->contact), "%s", contact);
	if (p1 != NULL && prefix_parse(p1, &c->prefixes[c->prefix_count++]) < 0)
		exit(2);
	if (p2 != NULL && prefix_parse(p2, &c->prefixes[c->prefix_count++]) < 0)
		exit(2);
}

/*
 * One offence of source at the test clock's time, recorded as the engine
 * would (with a ban unless observe), then filed. Returns the ticket id.
 */
static int64_t
offend(struct tickets *tickets, struct store *store, const char *source, enum category category,
       bool banned, struct ban *ban_out)
{
	int64_t now_ms = clock_now_ms(&test_clock), id = 0;
	struct finding finding;
	struct offence offence;
	struct ban ban;

	memset(&finding, 0, sizeof(finding));
	finding.source = key(source);
	finding.category = category;
	finding.time_ms = now_ms;
	memset(&offence, 0, sizeof(offence));
	offence.source = finding.source;
	offence.category = category;
	offence.time_ms = now_ms;
	offence.attempts = 40;
	snprintf(offence.detail, sizeof(offence.detail), "40 SMTP attempts to 20 hosts");
	snprintf(offence.vm.interface, sizeof(offence.vm.interface), "vnet7");
	snprintf(offence.vm.mac, sizeof(offence.vm.mac), "52:54:00:12:34:56");
	memset(&ban, 0, sizeof(ban));
	ban.source = finding.source;
	ban.category = category;
	ban.scope = category == CATEGORY_SPAM ? SCOPE_SMTP : SCOPE_ALL;
	ban.level = offend_level;
	ban.start_ms = now_ms;
	ban.expires_ms = now_ms + (offend_level == 0 ? HOUR_MS : 7 * DAY_MS);
	ban.vm = offence.vm;
	if (store_record(store, &offence, banned ? &ban : NULL) < 0 ||
	    ticket_file(tickets, &finding, &offence, banned ? &ban : NULL, NULL, &id) < 0)
		return -1;
	if (ban_out != NULL)
		*ban_out = ban;
	return id;
}

static struct ticket
get(struct store *store, int64_t id)
{
	struct ticket ticket;

	if (store_ticket_get(store, id, &ticket) < 0)
		memset(&ticket, 0, sizeof(ticket));
	return ticket;
}

static void
test_routing(void)
{
	struct source_key s;
	struct route route;

	s = key("10.0.0.5");
	customer_route(config.customers, config.customer_count, &s, NULL, &route);
	CHECK(route.kind == ROUTE_PREFIX && route.customer != NULL &&
	          strcmp(route.customer->id, "c-2002") == 0,
	      "10.0.0.5 goes to the /24's customer c-2002, not the /16's (longest match): %s",
	      route.customer ? route.customer->id : "nobody");
	s = key("10.0.7.5");
	customer_route(config.customers, config.customer_count, &s, NULL, &route);
	CHECK(route.customer != NULL && strcmp(route.customer->id, "c-1001") == 0,
	      "10.0.7.5 goes to the /16's customer c-1001");
	s = key("2001:db8:1:42::1");
	customer_route(config.customers, config.customer_count, &s, NULL, &route);
	CHECK(route.customer != NULL && strcmp(route.customer->id, "c-1001") == 0,
	      "the IPv6 source 2001:db8:1:42::/64 goes to c-1001's 2001:db8:1::/48");
	s = key("2001:db8:2:1::1");
	customer_route(config.customers, config.customer_count, &s, NULL, &route);
	CHECK(route.customer != NULL && strcmp(route.customer->id, "c-2002") == 0,
	      "2001:db8:2:1::/64 goes to c-2002's 2001:db8:2::/56, the longer of two IPv6 "
	      "prefixes");
	s = key("192.0.2.77");
	customer_route(config.customers, config.customer_count, &s, NULL, &route);
	CHECK(route.kind == ROUTE_DEFAULT && route.customer == NULL,
	      "192.0.2.77, outside every prefix, goes to the default queue");
	customer_route(config.customers, config.customer_count, &s, "c-2002", &route);
	CHECK(route.kind == ROUTE_VM && route.customer != NULL &&
	          strcmp(route.customer->id, "c-2002") == 0,
	      "outside every prefix, a VM labelled with a known customer goes to that customer");
	customer_route(config.customers, config.customer_count, &s, "c-9999", &route);
	CHECK(route.kind == ROUTE_DEFAULT,
	      "a VM label naming no customer goes to the default queue");
	CHECK(customer_contact_valid("abuse@customer.example") &&
	          !customer_contact_valid("abuse@customer.example\nBcc: x@y.example") &&
	          !customer_contact_valid("a@b.example, c@d.example") &&
	          !customer_contact_valid("nobody"),
	      "a contact is one address: no second header, no list");
}

static void
test_one_ticket_for_many(struct tickets *tickets, struct store *store)
{
	int64_t first, id = 0, other, queued;
	struct ticket ticket;
	bool same = true;

	clock_set(&test_clock, T0_MS);
	heard.count = 0;
	first = offend(tickets, store, "10.0.0.5", CATEGORY_SPAM, true, NULL);
	for (int i = 1; i < 200; i++) {
		clock_set(&test_clock, T0_MS + i * 1000LL);
		id = offend(tickets, store, "10.0.0.5", CATEGORY_SPAM, true, NULL);
		same = same && id == first;
	}
	ticket = get(store, first);
	CHECK(first > 0 && same, "two hundred spam bans of 10.0.0.5 make one ticket (%lld)",
	      (long long)first);
	CHECK(ticket.event_count == 200, "its event count is 200: %llu",
	      (unsigned long long)ticket.event_count);
	CHECK(ticket.first_seen_ms == T0_MS && ticket.last_seen_ms == T0_MS + 199000,
	      "first and last seen are the first and the last offence");
	CHECK(strcmp(ticket.customer, "c-2002") == 0 &&
	          strcmp(ticket.contact, "abuse@two.example") == 0 && ticket.route == ROUTE_PREFIX,
	      "routed to c-2002 with its contact");
	CHECK(strcmp(ticket.vm.interface, "vnet7") == 0 &&
	          strcmp(ticket.vm.mac, "52:54:00:12:34:56") == 0,
	      "the VM (interface, MAC) is on the ticket");
	CHECK(ticket.ban.id != 0 && ticket.ban.scope == SCOPE_SMTP &&
	          ticket.deadline_ms == T0_MS + 48 * HOUR_MS,
	      "the current ban and the 48 h deadline are on the ticket");
	CHECK(heard_count(TICKET_EVENT_OPENED) == 1 && heard_count(TICKET_EVENT_UPDATED) == 0 &&
	          heard.had_message[0] && heard.templates[0] == TEMPLATE_NOTICE,
	      "one notice went out, no update within the first interval");
	other = offend(tickets, store, "10.0.0.5", CATEGORY_SCAN, true, NULL);
	CHECK(other > 0 && other != first, "a scan from the same source is a ticket of its own");
	queued = offend(tickets, store, "192.0.2.77", CATEGORY_SPAM, true, NULL);
	ticket = get(store, queued);
	CHECK(strcmp(ticket.customer, CUSTOMER_DEFAULT_QUEUE) == 0 &&
	          ticket.route == ROUTE_DEFAULT && tickets->stats.unrouted == 1,
	      "a source outside every prefix lands in the default queue, flagged (route %s)",
	      route_kind_name(ticket.route));
}

/* Abuse every hour for a week: one notice, updates at most once a day, escalation at 48 h. */
static void
test_week(struct tickets *tickets, struct store *store)
{
	int64_t id = 0, last_notice = 0, shortest = INT64_MAX;
	struct ticket ticket;
	unsigned notices = 0;

	heard.count = 0;
	for (int hour = 0; hour < 7 * 24; hour++) {
		clock_set(&test_clock, T0_MS + 30 * DAY_MS + hour * HOUR_MS);
		id = offend(tickets, store, "10.0.9.9", CATEGORY_SPAM, true, NULL);
		for (int minute = 10; minute < 60; minute += 10) {
			clock_set(&test_clock,
			          T0_MS + 30 * DAY_MS + hour * HOUR_MS + minute * MINUTE_MS);
			tickets_tick(tickets);
		}
	}
	for (unsigned i = 0; i < heard.count; i++)
		if (heard.events[i] == TICKET_EVENT_OPENED ||
		    heard.events[i] == TICKET_EVENT_UPDATED) {
			if (notices > 0 && heard.times[i] - last_notice < shortest)
				shortest = heard.times[i] - last_notice;
			last_notice = heard.times[i];
			notices++;
		}
	ticket = get(store, id);
	CHECK(heard_count(TICKET_EVENT_OPENED) == 1 && ticket.event_count == 7 * 24,
	      "a week of hourly bursts is one ticket of 168 events: %llu",
	      (unsigned long long)ticket.event_count);
	CHECK(heard_count(TICKET_EVENT_UPDATED) == 6 && ticket.updates == 6,
	      "six updates in the week, one per 24 h after the notice: %u",
	      heard_count(TICKET_EVENT_UPDATED));
	CHECK(shortest >= 24 * HOUR_MS,
	      "never two notices within update_interval (shortest %lld h)",
	      (long long)(shortest / HOUR_MS));
	CHECK(ticket.status == TICKET_ESCALATED && heard_count(TICKET_EVENT_ESCALATED) == 1,
	      "past its 48 h deadline with the abuse going on, the ticket is escalated: %s",
	      ticket_status_name(ticket.status));
	CHECK(heard_count(TICKET_EVENT_DEADLINE_WARNING) == 1,
	      "one deadline warning went out before the deadline");
}

struct thread_check {
	bool suspension, notice_to_customer, escalation_to_customer, warning_to_customer;
	unsigned messages;
};

static int
read_message(const struct ticket_message *message, void *arg)
{
	struct thread_check *check = arg;

	check->messages++;
	if (message->template_kind == TEMPLATE_ESCALATION &&
	    strstr(message->text, "suspension recommended") != NULL)
		check->suspension = true;
	if (message->template_kind == TEMPLATE_NOTICE &&
	    message->direction == DIRECTION_DESK_TO_CUSTOMER &&
	    message->visibility == VISIBILITY_CUSTOMER)
		check->notice_to_customer = true;
	if (message->template_kind == TEMPLATE_ESCALATION &&
	    message->direction == DIRECTION_DESK_TO_CUSTOMER &&
	    message->visibility == VISIBILITY_CUSTOMER)
		check->escalation_to_customer = true;
	if (message->template_kind == TEMPLATE_DEADLINE_WARNING &&
	    message->direction == DIRECTION_DESK_TO_CUSTOMER)
		check->warning_to_customer = true;
	return 0;
}

static void
test_escalation_and_thread(struct tickets *tickets, struct store *store)
{
	struct thread_check thread = {0};
	struct ticket ticket;
	int64_t id, quiet;

	/* The week's ticket: its thread says why it escalated. */
	{
		struct ticket_filter filter = {.status = TICKET_ESCALATED};
		size_t count;

		store_tickets(store, &filter, &ticket, 1, &count);
		id = count == 1 ? ticket.id : 0;
	}
	store_ticket_messages(store, id, read_message, &thread);
	CHECK(thread.suspension, "the escalated ticket's thread says \"suspension recommended\"");
	CHECK(thread.notice_to_customer, "the notice is desk to customer, visible to the customer");
	CHECK(thread.warning_to_customer,
	      "the deadline warning is its own template, to the customer");
	CHECK(thread.escalation_to_customer,
	      "the escalation is its own template, desk to customer, for the customer to see");

	/* One burst, then nothing: past the deadline it is not escalated. */
	clock_set(&test_clock, T0_MS + 60 * DAY_MS);
	quiet = offend(tickets, store, "10.0.3.3", CATEGORY_SPAM, true, NULL);
	for (int hour = 1; hour <= 72; hour++) {
		clock_set(&test_clock, T0_MS + 60 * DAY_MS + hour * HOUR_MS);
		tickets_tick(tickets);
	}
	ticket = get(store, quiet);
	CHECK(ticket.status == TICKET_OPEN && ticket.warned,
	      "one burst and quiet since: warned, but still open after the deadline (%s)",
	      ticket_status_name(ticket.status));
	/* The customer said fixed; abuse after that, past the deadline, escalates. */
	CHECK(ticket_reply(tickets, quiet, 1000, "We removed the mailer.", CUSTOMER_FIXED,
	                   "mail from the customer", NULL) == 0,
	      "the desk records the customer's reply: fixed");
	clock_set(&test_clock, T0_MS + 60 * DAY_MS + 73 * HOUR_MS);
	offend(tickets, store, "10.0.3.3", CATEGORY_SPAM, true, NULL);
	ticket = get(store, quiet);
	CHECK(ticket.status == TICKET_ESCALATED && ticket.customer_status == CUSTOMER_FIXED,
	      "abuse after the claimed fix, past the deadline: escalated at once (%s, customer %s)",
	      ticket_status_name(ticket.status), customer_status_name(ticket.customer_status));
}

struct change_list {
	struct ticket_change_row rows[32];
	unsigned count;
};

static int
read_change(const struct ticket_change_row *row, void *arg)
{
	struct change_list *list = arg;

	if (list->count < 32)
		list->rows[list->count++] = *row;
	return 0;
}

static void
test_desk_and_reopen(struct tickets *tickets, struct store *store)
{
	struct change_list changes = {0};
	const char *why = NULL;
	struct ticket ticket;
	int64_t id, later;

	clock_set(&test_clock, T0_MS + 100 * DAY_MS);
	id = offend(tickets, store, "10.0.4.4", CATEGORY_SPAM, true, NULL);
	CHECK(ticket_acknowledge(tickets, id, 1000, "", &why) == -EINVAL && why != NULL,
	      "acknowledging without a reason is refused: %s", why ? why : "");
	CHECK(ticket_acknowledge(tickets, id, 1000, "on it", &why) == 0 &&
	          get(store, id).status == TICKET_ACKNOWLEDGED,
	      "the desk acknowledges");
	CHECK(ticket_acknowledge(tickets, id, 1000, "again", &why) == -EPERM,
	      "acknowledging twice is refused: %s", why ? why : "");
	CHECK(ticket_reply(tickets, id, 1000, "Looking into it", CUSTOMER_ACKNOWLEDGED,
	                   "customer phoned", &why) == 0 &&
	          get(store, id).customer_status == CUSTOMER_ACKNOWLEDGED,
	      "the customer acknowledges");
	CHECK(ticket_reply(tickets, id, 1000, "Hm", CUSTOMER_ACKNOWLEDGED, "again", &why) == -EPERM,
	      "the customer's status never moves back or stays: %s", why ? why : "");
	CHECK(ticket_note(tickets, id, 1000, "called them at 10:00", false, "log the call", &why) ==
	          0,
	      "an internal note");
	CHECK(ticket_resolve(tickets, id, 1000, "customer removed the open relay", &why) == 0 &&
	          get(store, id).status == TICKET_RESOLVED,
	      "the desk resolves");
	store_ticket_changes(store, id, read_change, &changes);
	CHECK(changes.count == 3 && strcmp(changes.rows[0].to, "acknowledged") == 0 &&
	          changes.rows[0].uid == 1000 && strcmp(changes.rows[0].reason, "on it") == 0 &&
	          strcmp(changes.rows[1].axis, "customer") == 0 &&
	          strcmp(changes.rows[2].to, "resolved") == 0,
	      "every status change is audited with axis, uid and reason (%u rows)", changes.count);

	clock_set(&test_clock, T0_MS + 101 * DAY_MS);
	later = offend(tickets, store, "10.0.4.4", CATEGORY_SPAM, true, NULL);
	ticket = get(store, id);
	CHECK(later == id && ticket.status == TICKET_OPEN &&
	          ticket.customer_status == CUSTOMER_NONE &&
	          ticket.deadline_ms == T0_MS + 101 * DAY_MS + 48 * HOUR_MS,
	      "a new event after resolved reopens the same ticket with a new deadline (%s)",
	      ticket_status_name(ticket.status));
	for (int day = 102; day <= 116; day++) {
		clock_set(&test_clock, T0_MS + day * DAY_MS);
		tickets_tick(tickets);
	}
	ticket = get(store, id);
	CHECK(ticket.status == TICKET_CLOSED, "quiet for 14 days, it closed itself: %s",
	      ticket_status_name(ticket.status));
	later = offend(tickets, store, "10.0.4.4", CATEGORY_SPAM, true, NULL);
	CHECK(later > 0 && later != id, "a later event opens a new ticket (%lld after %lld)",
	      (long long)later, (long long)id);

	/* The desk closes the new one before close_after: done, and the next event opens another.
	 */
	heard.count = 0;
	CHECK(ticket_close(tickets, later, 1000, "", &why) == -EINVAL,
	      "closing without a reason is refused");
	CHECK(ticket_close(tickets, later, 1000, "duplicate of a phone complaint", &why) == 0 &&
	          get(store, later).status == TICKET_CLOSED && get(store, later).closed_ms != 0,
	      "the desk closes a ticket with a reason: closed");
	CHECK(heard_count(TICKET_EVENT_CLOSED) == 1 && heard.templates[0] == TEMPLATE_CLOSURE,
	      "the closure is told in the closure's template");
	CHECK(ticket_close(tickets, later, 1000, "again", &why) == -EPERM,
	      "a closed ticket cannot be closed again: %s", why ? why : "");
	changes.count = 0;
	store_ticket_changes(store, later, read_change, &changes);
	CHECK(changes.count == 1 && strcmp(changes.rows[0].to, "closed") == 0 &&
	          changes.rows[0].uid == 1000 &&
	          strcmp(changes.rows[0].reason, "duplicate of a phone complaint") == 0,
	      "the close is audited with uid and reason");
	id = later;
	later = offend(tickets, store, "10.0.4.4", CATEGORY_SPAM, true, NULL);
	CHECK(later > 0 && later != id, "after the desk's close, a later event opens a new ticket");
}

static void
test_false_positive(struct tickets *tickets, struct store *store)
{
	struct ban history[16], lifted[8], other_ban;
	struct source_key source = key("10.0.5.5");
	struct ladder_step step;
	const char *why = NULL;
	size_t count = 0, lifted_count = 0;
	int64_t id;

	/* A scan ban from another ticket stays in the history. */
	clock_set(&test_clock, T0_MS + 200 * DAY_MS);
	offend(tickets, store, "10.0.5.5", CATEGORY_SCAN, true, &other_ban);
	clock_set(&test_clock, T0_MS + 200 * DAY_MS + 2 * HOUR_MS);
	offend_level = 1; /* a repeat within a day: the ladder's second rung */
	id = offend(tickets, store, "10.0.5.5", CATEGORY_SPAM, true, NULL);
	offend_level = 0;
	store_history(store, &source, history, 16, &count);
	ladder_next(&config.ladder, history, count, clock_now_ms(&test_clock), &step);
	CHECK(count == 2 && step.level == 2,
	      "before: two bans in the history, the next offence would be level 3 (%u)",
	      step.level + 1);
	CHECK(ticket_false_positive(tickets, id, 1000,
	                            "the customer runs a mailing list we "
	                            "approved",
	                            lifted, 8, &lifted_count, &why) == 0 &&
	          lifted_count == 1 && lifted[0].category == CATEGORY_SPAM,
	      "marking the spam ticket a false positive lifts its active ban (%zu)", lifted_count);
	store_history(store, &source, history, 16, &count);
	ladder_next(&config.ladder, history, count, clock_now_ms(&test_clock), &step);
	CHECK(count == 1 && history[0].category == CATEGORY_SCAN && step.level == 1,
	      "after: only the scan ban is history; the next offence is level 2, not 3 (%u)",
	      step.level + 1);
	CHECK(get(store, id).status == TICKET_FALSE_POSITIVE,
	      "the ticket's status is false-positive");
	CHECK(ticket_false_positive(tickets, id, 1000, "again", lifted, 8, &lifted_count, &why) ==
	          -EPERM,
	      "a false positive cannot be marked again");
	CHECK(ticket_resolve(tickets, 999999, 1000, "x", &why) == -ENOENT,
	      "a ticket that does not exist: %s", why ? why : "");
}

static void
test_durable(struct tickets *tickets, struct store **store)
{
	struct ticket before, after;
	char path[PATH_MAX];

	clock_set(&test_clock, T0_MS + 300 * DAY_MS);
	before =
	    get(*store, offend(tickets, *store, "2001:db8:1:7::1", CATEGORY_SPAM, false, NULL));
	store_close(*store);
	snprintf(path, sizeof(path), "%s/tickets.db", directory);
	if (store_open(store, path) < 0)
		exit(2);
	tickets->store = *store;
	after = get(*store, before.id);
	CHECK(before.id != 0 && after.id == before.id && after.ban.id == 0 &&
	          strcmp(after.customer, "c-1001") == 0 &&
	          after.source.family == SOURCE_FAMILY_IPV6 && after.event_count == 1 &&
	          after.deadline_ms == before.deadline_ms,
	      "an observe-mode ticket (no ban) for an IPv6 source is read back whole after a "
	      "restart");
}

int
main(void)
{
	struct tickets tickets;
	struct store *store;

	if (mkdtemp(directory) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	atexit(remove_directory);
	config_defaults(&config);
	add_customer("c-1001", "abuse@one.example", "10.0.0.0/16", "2001:db8:1::/48");
	add_customer("c-2002", "abuse@two.example", "10.0.0.0/24", "2001:db8:2::/56");
	add_customer("c-3003", "abuse@three.example", "2001:db8::/32", NULL);
	clock_init_fixed(&test_clock, T0_MS);
	store = open_store("tickets");
	tickets_init(&tickets, &config, &test_clock, store);
	tickets.sink = (struct ticket_sink){sink_event, &heard};

	test_routing();
	test_one_ticket_for_many(&tickets, store);
	test_week(&tickets, store);
	test_escalation_and_thread(&tickets, store);
	test_desk_and_reopen(&tickets, store);
	test_false_positive(&tickets, store);
	test_durable(&tickets, &store);
	CHECK(tickets.stats.store_errors == 0 && tickets.stats.sink_errors == 0,
	      "no store or sink error on the way");
	store_close(store);
	return check_done();
}
