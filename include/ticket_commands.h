/*
 * The control commands on tickets (protocol.h's CTL_CMD_TICKET*): the list,
 * one ticket whole (thread, events, status changes, bans), and the desk's
 * verbs, each audited by ticket.c. Handlers of daemon_commands (commands.h),
 * their context the struct daemon.
 */
#ifndef TICKET_COMMANDS_H
#define TICKET_COMMANDS_H

#include <jansson.h>

#include "control.h"

/* {status?, customer?, source?, after?, limit?} -> {tickets: [...], next?} */
json_t *command_tickets(void *context, const struct control_peer *peer, json_t *request,
                        struct control_error *error);
/* {id} -> {ticket, thread, events, changes, bans, deliveries} */
json_t *command_ticket(void *context, const struct control_peer *peer, json_t *request,
                       struct control_error *error);
/*
 * {} -> {waiting, retrying, running, undeliverable, deliveries: [...],
 * truncated?}: every delivery not yet delivered, oldest first.
 */
json_t *command_outbox(void *context, const struct control_peer *peer, json_t *request,
                       struct control_error *error);
/* {id, reason} -> {ticket} */
json_t *command_ticket_acknowledge(void *context, const struct control_peer *peer, json_t *request,
                                   struct control_error *error);
json_t *command_ticket_resolve(void *context, const struct control_peer *peer, json_t *request,
                               struct control_error *error);
json_t *command_ticket_close(void *context, const struct control_peer *peer, json_t *request,
                             struct control_error *error);
/* {id, text, to_customer?, reason} -> {ticket} */
json_t *command_ticket_note(void *context, const struct control_peer *peer, json_t *request,
                            struct control_error *error);
/* {id, text, customer_status?, reason} -> {ticket} */
json_t *command_ticket_reply(void *context, const struct control_peer *peer, json_t *request,
                             struct control_error *error);
/* {id, reason} -> {ticket, lifted: [...]}: the bans lifted, in the store and the kernel */
json_t *command_ticket_false_positive(void *context, const struct control_peer *peer,
                                      json_t *request, struct control_error *error);

#endif
