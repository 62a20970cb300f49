/*
 * The exec hook: the ticket event as JSON on stdin (RT, Zammad or Jira
 * glue), with the ticket, the event and the Message-ID in the environment
 * too, so a hook can drop an event it has already filed.
 */
#include <inttypes.h>
#include <stdio.h>

#include "deliver.h"

static int
exec_enabled(const struct notify_config *notify)
{
	return notify->exec[0] != '\0';
}

static int
exec_start(const struct notify_config *notify, const struct delivery *delivery, size_t output_max,
           struct subprocess *child, char *err, size_t errlen)
{
	char ticket[48], event[48], kind[64], message_id[224], attempt[48];
	char *env[] = {ticket, event, kind, message_id, attempt, NULL};
	int error;

	snprintf(ticket, sizeof(ticket), "ABUSEGUARD_TICKET=%" PRId64, delivery->ticket_id);
	snprintf(event, sizeof(event), "ABUSEGUARD_EVENT=%" PRId64, delivery->event_id);
	snprintf(kind, sizeof(kind), "ABUSEGUARD_KIND=%s", delivery->kind);
	snprintf(message_id, sizeof(message_id), "ABUSEGUARD_MESSAGE_ID=%s", delivery->message_id);
	snprintf(attempt, sizeof(attempt), "ABUSEGUARD_ATTEMPT=%u", delivery->attempt);
	error = subprocess_start(child, notify->exec, delivery->payload, delivery->payload_length,
	                         env, output_max, err, errlen);
	return error < 0 ? error : DELIVER_STARTED;
}

const struct deliver_backend deliver_exec = {
    .name = "exec",
    .enabled = exec_enabled,
    .start = exec_start,
};
