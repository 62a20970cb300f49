/* The control commands on tickets (ticket_commands.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "protocol.h"
#include "source.h"
#include "store.h"
#include "ticket_commands.h"
#include "ticket_json.h"

/* Tickets in one reply of "tickets" at most (about 1.5 KiB of JSON each); "next" asks for more. */
#define TICKETS_PAGE_MAX 200
/* A ticket's bans in "ticket" and in a false positive's reply, newest first. */
#define TICKET_BANS_MAX 100
/* Deliveries in one reply of "outbox" or "ticket" at most, oldest first. */
#define OUTBOX_LIST_MAX 500

static int
request_id(json_t *request, int64_t *id, struct control_error *error)
{
	json_t *value = json_object_get(request, CTL_KEY_ID);

	if (!json_is_integer(value) || json_integer_value(value) < 1) {
		control_fail(error, CTL_RESULT_BAD_REQUEST,
		             "\"" CTL_KEY_ID "\" (a ticket number) is required");
		return -EINVAL;
	}
	*id = json_integer_value(value);
	return 0;
}

/* The result code of what ticket.c and the store said. */
static enum ctl_result
result_of(int error)
{
	switch (error) {
	case -ENOENT:
		return CTL_RESULT_NOT_FOUND;
	case -EPERM:
		return CTL_RESULT_REFUSED;
	case -EINVAL:
		return CTL_RESULT_BAD_REQUEST;
	default:
		return CTL_RESULT_FAILED;
	}
}

/* {ticket: ...} as it now is. */
static json_t *
reply_ticket(struct daemon *daemon, int64_t id, struct control_error *error)
{
	struct ticket ticket;
	int result = store_ticket_get(daemon->store, id, &ticket);

	if (result < 0)
		return control_fail(error, result_of(result), "ticket %lld: %s", (long long)id,
		                    result == -ENOENT ? "no such ticket" : "cannot read the store");
	return json_pack("{s:o}", CTL_KEY_TICKET,
	                 ticket_json(&ticket, clock_now_ms(&daemon->clock)));
}

/* The filter of "tickets" from the request: 0, or -EINVAL with error filled in. */
static int
request_filter(struct daemon *daemon, json_t *request, struct ticket_filter *filter,
               struct source_key *source, size_t *page_size, struct control_error *error)
{
	const char *status = json_string_value(json_object_get(request, CTL_KEY_STATUS));
	const char *text = json_string_value(json_object_get(request, CTL_KEY_SOURCE));
	json_t *after = json_object_get(request, CTL_KEY_AFTER);
	json_t *limit = json_object_get(request, CTL_KEY_LIMIT);
	enum ticket_status wanted;

	memset(filter, 0, sizeof(*filter));
	filter->status = -1;
	if (status != NULL) {
		if (ticket_status_parse(status, &wanted) < 0) {
			control_fail(error, CTL_RESULT_BAD_REQUEST,
			             "\"" CTL_KEY_STATUS "\" must be open, acknowledged, "
			             "resolved, escalated, false-positive or closed");
			return -EINVAL;
		}
		filter->status = (int)wanted;
	}
	if (text != NULL) {
		if (source_parse(text, daemon->config.ipv6_prefix_len, source) < 0) {
			control_fail(error, CTL_RESULT_BAD_REQUEST,
			             "\"" CTL_KEY_SOURCE "\" is not an IPv4 or IPv6 address");
			return -EINVAL;
		}
		filter->source = source;
	}
	filter->customer = json_string_value(json_object_get(request, CTL_KEY_CUSTOMER));
	if (after != NULL) {
		if (!json_is_integer(after) || json_integer_value(after) < 0) {
			control_fail(error, CTL_RESULT_BAD_REQUEST,
			             "\"" CTL_KEY_AFTER "\" must be the \"" CTL_KEY_NEXT
			             "\" of the previous page");
			return -EINVAL;
		}
		filter->after_id = json_integer_value(after);
	}
	*page_size = TICKETS_PAGE_MAX;
	if (limit != NULL) {
		if (!json_is_integer(limit) || json_integer_value(limit) < 1) {
			control_fail(error, CTL_RESULT_BAD_REQUEST,
			             "\"" CTL_KEY_LIMIT "\" must be a positive number");
			return -EINVAL;
		}
		if (json_integer_value(limit) < TICKETS_PAGE_MAX)
			*page_size = (size_t)json_integer_value(limit);
	}
	return 0;
}

json_t *
command_tickets(void *context, const struct control_peer *peer, json_t *request,
                struct control_error *error)
{
	struct daemon *daemon = context;
	int64_t now_ms = clock_now_ms(&daemon->clock);
	struct ticket_filter filter;
	struct source_key source;
	struct ticket *page;
	size_t count, page_size;
	json_t *list, *reply;

	(void)peer;
	if (request_filter(daemon, request, &filter, &source, &page_size, error) < 0)
		return NULL;
	if ((page = calloc(page_size, sizeof(*page))) == NULL)
		return control_fail(error, CTL_RESULT_FAILED, "out of memory");
	if (store_tickets(daemon->store, &filter, page, page_size, &count) < 0) {
		free(page);
		return control_fail(error, CTL_RESULT_FAILED, "cannot read the store");
	}
	list = json_array();
	for (size_t i = 0; i < count; i++)
		json_array_append_new(list, ticket_json(&page[i], now_ms));
	reply = json_pack("{s:o}", CTL_KEY_TICKETS, list);
	if (reply != NULL && count == page_size)
		json_object_set_new(reply, CTL_KEY_NEXT, json_integer(page[count - 1].id));
	free(page);
	return reply;
}

/* Append each row to the array arg, as the store's walks call them. */
static int
append_message(const struct ticket_message *message, void *arg)
{
	return json_array_append_new(arg, ticket_message_json(message)) ? -ENOMEM : 0;
}

static int
append_event(const struct ticket_event_row *event, void *arg)
{
	return json_array_append_new(arg, ticket_event_json(event)) ? -ENOMEM : 0;
}

static int
append_change(const struct ticket_change_row *change, void *arg)
{
	return json_array_append_new(arg, ticket_change_json(change)) ? -ENOMEM : 0;
}

static int
append_delivery(const struct store_delivery_row *row, void *arg)
{
	return json_array_append_new(arg, ticket_delivery_json(row)) ? -ENOMEM : 0;
}

json_t *
command_outbox(void *context, const struct control_peer *peer, json_t *request,
               struct control_error *error)
{
	struct daemon *daemon = context;
	struct outbox_stats stats;
	json_t *reply, *list;

	(void)peer, (void)request;
	outbox_stats(daemon->outbox, &stats);
	reply = json_pack("{s:I, s:I, s:I, s:I}", "waiting", (json_int_t)stats.depth, "retrying",
	                  (json_int_t)stats.retrying, "running", (json_int_t)stats.running,
	                  "undeliverable", (json_int_t)stats.undeliverable);
	if (reply == NULL)
		return control_fail(error, CTL_RESULT_FAILED, "out of memory");
	json_object_set_new(reply, CTL_KEY_DELIVERIES, list = json_array());
	if (store_outbox_list(daemon->store, 0, OUTBOX_LIST_MAX, append_delivery, list) < 0) {
		json_decref(reply);
		return control_fail(error, CTL_RESULT_FAILED, "cannot read the store's outbox");
	}
	if (json_array_size(list) == OUTBOX_LIST_MAX)
		json_object_set_new(reply, "truncated", json_true());
	return reply;
}

json_t *
command_ticket(void *context, const struct control_peer *peer, json_t *request,
               struct control_error *error)
{
	struct daemon *daemon = context;
	json_t *reply, *thread, *events, *changes, *bans, *deliveries;
	int64_t id, now_ms = clock_now_ms(&daemon->clock);
	struct ban linked[TICKET_BANS_MAX];
	size_t count;

	(void)peer;
	if (request_id(request, &id, error) < 0 ||
	    (reply = reply_ticket(daemon, id, error)) == NULL)
		return NULL;
	json_object_set_new(reply, CTL_KEY_THREAD, thread = json_array());
	json_object_set_new(reply, CTL_KEY_EVENTS, events = json_array());
	json_object_set_new(reply, CTL_KEY_CHANGES, changes = json_array());
	json_object_set_new(reply, CTL_KEY_BANS, bans = json_array());
	json_object_set_new(reply, CTL_KEY_DELIVERIES, deliveries = json_array());
	if (store_ticket_messages(daemon->store, id, append_message, thread) < 0 ||
	    store_outbox_list(daemon->store, id, OUTBOX_LIST_MAX, append_delivery, deliveries) <
	        0 ||
	    store_ticket_events(daemon->store, id, append_event, events) < 0 ||
	    store_ticket_changes(daemon->store, id, append_change, changes) < 0 ||
	    store_ticket_bans(daemon->store, id, linked, TICKET_BANS_MAX, &count) < 0) {
		json_decref(reply);
		return control_fail(error, CTL_RESULT_FAILED, "ticket %lld: cannot read the store",
		                    (long long)id);
	}
	for (size_t i = 0; i < count; i++)
		json_array_append_new(bans, ticket_ban_json(&linked[i], now_ms));
	return reply;
}

/* The reply to a desk verb: the ticket as it now is, or why the verb refused. */
static json_t *
verb_reply(struct daemon *daemon, int64_t id, int result, const char *why,
           struct control_error *error)
{
	if (result < 0)
		return control_fail(error, result_of(result), "ticket %lld: %s", (long long)id,
		                    why != NULL ? why : "the store could not record it");
	return reply_ticket(daemon, id, error);
}

static const char *
request_reason(json_t *request)
{
	return json_string_value(json_object_get(request, CTL_KEY_REASON));
}

/* A status verb of ticket.c (acknowledge, resolve) on {id, reason}. */
static json_t *
status_verb(void *context, const struct control_peer *peer, json_t *request,
            struct control_error *error,
            int (*verb)(struct tickets *, int64_t, uid_t, const char *, const char **))
{
	struct daemon *daemon = context;
	const char *why = NULL;
	int64_t id;

	if (request_id(request, &id, error) < 0)
		return NULL;
	return verb_reply(daemon, id,
	                  verb(&daemon->tickets, id, peer->uid, request_reason(request), &why), why,
	                  error);
}

json_t *
command_ticket_acknowledge(void *context, const struct control_peer *peer, json_t *request,
                           struct control_error *error)
{
	return status_verb(context, peer, request, error, ticket_acknowledge);
}

json_t *
command_ticket_resolve(void *context, const struct control_peer *peer, json_t *request,
                       struct control_error *error)
{
	return status_verb(context, peer, request, error, ticket_resolve);
}

json_t *
command_ticket_close(void *context, const struct control_peer *peer, json_t *request,
                     struct control_error *error)
{
	return status_verb(context, peer, request, error, ticket_close);
}

json_t *
command_ticket_note(void *context, const struct control_peer *peer, json_t *request,
                    struct control_error *error)
{
	struct daemon *daemon = context;
	const char *text = json_string_value(json_object_get(request, CTL_KEY_TEXT));
	json_t *to_customer = json_object_get(request, CTL_KEY_TO_CUSTOMER);
	const char *why = NULL;
	int64_t id;

	if (request_id(request, &id, error) < 0)
		return NULL;
	if (to_customer != NULL && !json_is_boolean(to_customer))
		return control_fail(error, CTL_RESULT_BAD_REQUEST,
		                    "\"" CTL_KEY_TO_CUSTOMER "\" must be true or false");
	return verb_reply(daemon, id,
	                  ticket_note(&daemon->tickets, id, peer->uid, text,
	                              json_is_true(to_customer), request_reason(request), &why),
	                  why, error);
}

json_t *
command_ticket_reply(void *context, const struct control_peer *peer, json_t *request,
                     struct control_error *error)
{
	struct daemon *daemon = context;
	const char *text = json_string_value(json_object_get(request, CTL_KEY_TEXT));
	const char *status = json_string_value(json_object_get(request, CTL_KEY_CUSTOMER_STATUS));
	enum customer_status customer_status = CUSTOMER_NONE;
	const char *why = NULL;
	int64_t id;

	if (request_id(request, &id, error) < 0)
		return NULL;
	if (status != NULL && (customer_status_parse(status, &customer_status) < 0 ||
	                       customer_status == CUSTOMER_NONE))
		return control_fail(error, CTL_RESULT_BAD_REQUEST,
		                    "\"" CTL_KEY_CUSTOMER_STATUS
		                    "\" must be acknowledged or fixed");
	return verb_reply(daemon, id,
	                  ticket_reply(&daemon->tickets, id, peer->uid, text, customer_status,
	                               request_reason(request), &why),
	                  why, error);
}

json_t *
command_ticket_false_positive(void *context, const struct control_peer *peer, json_t *request,
                              struct control_error *error)
{
	struct daemon *daemon = context;
	int64_t id, now_ms = clock_now_ms(&daemon->clock);
	struct ban lifted[TICKET_BANS_MAX];
	const char *why = NULL;
	json_t *reply, *list;
	size_t count = 0;
	int result;

	if (request_id(request, &id, error) < 0)
		return NULL;
	result = engine_false_positive(&daemon->engine, id, peer->uid, request_reason(request),
	                               lifted, TICKET_BANS_MAX, &count, &why);
	if ((reply = verb_reply(daemon, id, result, why, error)) == NULL)
		return NULL;
	json_object_set_new(reply, CTL_KEY_LIFTED, list = json_array());
	for (size_t i = 0; i < count; i++) {
		/* As after an unban: the source's traffic is counted afresh. */
		capture_forget(daemon->capture, &lifted[i].source);
		json_array_append_new(list, ticket_ban_json(&lifted[i], now_ms));
	}
	return reply;
}
