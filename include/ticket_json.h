/*
 * Tickets as JSON, the one shape every consumer gets: the control socket's
 * replies (abusectl --json), and delivery's exec hook and event log.
 * Times are UTC ("2026-11-26T06:24:11Z") with their epoch milliseconds
 * beside them ("opened_ms"); each function returns a new reference, or NULL
 * when out of memory.
 */
#ifndef TICKET_JSON_H
#define TICKET_JSON_H

#include <jansson.h>

#include "store.h"
#include "ticket.h"

/* id, customer, contact, route, unrouted, source, category, vm, statuses, times, counts, ban. */
json_t *ticket_json(const struct ticket *ticket, int64_t now_ms);
json_t *ticket_message_json(const struct ticket_message *message);
json_t *ticket_event_json(const struct ticket_event_row *event);
json_t *ticket_change_json(const struct ticket_change_row *change);
/*
 * A delivery of the outbox: id, ticket, backend, kind, message_id, state
 * (pending, retrying, running, sent, failed), attempts, next_try (while it
 * waits), sent, failed, last_error.
 */
json_t *ticket_delivery_json(const struct store_delivery_row *row);
/* A ban linked to a ticket: id, scope, category, level, started, expires, lifted, active. */
json_t *ticket_ban_json(const struct ban *ban, int64_t now_ms);

#endif
