/* Tickets, their thread, events, changes and bans as JSON objects. */
#include <jansson.h>

#include "clock.h"
#include "source.h"
#include "ticket_json.h"

/* Sets key to the UTC text of ms and key_ms to ms; 0 (never) is null for both. */
static void
set_time(json_t *object, const char *key, int64_t ms)
{
	char text[40], key_ms[64];

	snprintf(key_ms, sizeof(key_ms), "%s_ms", key);
	if (ms == 0) {
		json_object_set_new(object, key, json_null());
		json_object_set_new(object, key_ms, json_null());
		return;
	}
	json_object_set_new(object, key, json_string(clock_format_utc(ms, text, sizeof(text))));
	json_object_set_new(object, key_ms, json_integer(ms));
}

json_t *
ticket_ban_json(const struct ban *ban, int64_t now_ms)
{
	char source[SOURCE_STRLEN];
	json_t *object =
	    json_pack("{s:I, s:s, s:s, s:s, s:i, s:b}", "id", (json_int_t)ban->id, "source",
	              source_format(&ban->source, source, sizeof(source)), "scope",
	              scope_name(ban->scope), "category", category_name(ban->category), "level",
	              (int)ban->level + 1, "active", ban_active(ban, now_ms));

	if (object == NULL)
		return NULL;
	set_time(object, "started", ban->start_ms);
	set_time(object, "expires", ban_end_ms(ban));
	set_time(object, "lifted", ban->lifted_ms);
	return object;
}

json_t *
ticket_json(const struct ticket *ticket, int64_t now_ms)
{
	char source[SOURCE_STRLEN];
	json_t *object = json_pack(
	    "{s:I, s:s, s:s, s:s, s:s, s:b, s:s, s:s, s:{s:s, s:s, s:s}, s:s, s:s, s:I, s:i, s:b, "
	    "s:b}",
	    "id", (json_int_t)ticket->id, "customer", ticket->customer, "customer_name",
	    ticket->customer_name, "contact", ticket->contact, "route",
	    route_kind_name(ticket->route), "unrouted", ticket->route == ROUTE_DEFAULT, "source",
	    source_format(&ticket->source, source, sizeof(source)), "category",
	    category_name(ticket->category), "vm", "interface", ticket->vm.interface, "mac",
	    ticket->vm.mac, "name", ticket->vm.name, "status", ticket_status_name(ticket->status),
	    "customer_status", customer_status_name(ticket->customer_status), "events",
	    (json_int_t)ticket->event_count, "updates", (int)ticket->updates, "warned",
	    ticket->warned, "overdue",
	    !ticket_status_final(ticket->status) && ticket->status != TICKET_RESOLVED &&
	        now_ms >= ticket->deadline_ms);

	if (object == NULL)
		return NULL;
	set_time(object, "opened", ticket->opened_ms);
	set_time(object, "first_seen", ticket->first_seen_ms);
	set_time(object, "last_seen", ticket->last_seen_ms);
	set_time(object, "deadline", ticket->deadline_ms);
	set_time(object, "notified", ticket->notified_ms);
	set_time(object, "fixed", ticket->fixed_ms);
	set_time(object, "changed", ticket->changed_ms);
	set_time(object, "closed", ticket->closed_ms);
	json_object_set_new(object, "ban",
	                    ticket->ban.id != 0 ? ticket_ban_json(&ticket->ban, now_ms)
	                                        : json_null());
	return object;
}

json_t *
ticket_message_json(const struct ticket_message *message)
{
	json_t *object =
	    json_pack("{s:I, s:s, s:i, s:s, s:s, s:s, s:s}", "id", (json_int_t)message->id,
	              "author", message->author, "uid", (int)message->uid, "direction",
	              message_direction_name(message->direction), "visibility",
	              message_visibility_name(message->visibility), "template",
	              message_template_name(message->template_kind), "text", message->text);

	if (object != NULL)
		set_time(object, "time", message->time_ms);
	return object;
}

json_t *
ticket_event_json(const struct ticket_event_row *event)
{
	json_t *object = json_pack("{s:I, s:s, s:s}", "id", (json_int_t)event->id, "kind",
	                           ticket_event_name(event->kind), "detail", event->detail);

	if (object == NULL)
		return NULL;
	set_time(object, "time", event->time_ms);
	json_object_set_new(object, "offence",
	                    event->offence_id ? json_integer(event->offence_id) : json_null());
	json_object_set_new(object, "ban",
	                    event->ban_id ? json_integer(event->ban_id) : json_null());
	return object;
}

json_t *
ticket_change_json(const struct ticket_change_row *change)
{
	json_t *object =
	    json_pack("{s:i, s:s, s:s, s:s, s:s}", "uid", (int)change->uid, "axis", change->axis,
	              "from", change->from, "to", change->to, "reason", change->reason);

	if (object != NULL)
		set_time(object, "time", change->time_ms);
	return object;
}

/* What became of a delivery: sent, failed (for good), running, retrying, pending. */
static const char *
delivery_state(const struct store_delivery_row *row)
{
	if (row->sent_ms != 0)
		return "sent";
	if (row->failed_ms != 0)
		return "failed";
	if (row->started_ms != 0)
		return "running";
	return row->attempts > 0 ? "retrying" : "pending";
}

json_t *
ticket_delivery_json(const struct store_delivery_row *row)
{
	bool waiting = row->sent_ms == 0 && row->failed_ms == 0 && row->started_ms == 0;
	json_t *object =
	    json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:i, s:s}", "id", (json_int_t)row->id,
	              "ticket", (json_int_t)row->ticket_id, "backend", row->backend, "kind",
	              row->kind, "message_id", row->message_id, "state", delivery_state(row),
	              "attempts", (int)row->attempts, "last_error", row->last_error);

	if (object == NULL)
		return NULL;
	set_time(object, "created", row->created_ms);
	set_time(object, "next_try", waiting ? row->next_ms : 0);
	set_time(object, "sent", row->sent_ms);
	set_time(object, "failed", row->failed_ms);
	return object;
}
