/*
 * abusectl's output for scripts, after bgpctl's output_json.c: each reply
 * as one line of JSON, as the daemon sent it (paged replies joined), on
 * standard output, failures included; the exit status tells them apart.
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "abusectl.h"
#include "protocol.h"

static void
print_reply(json_t *reply)
{
	if (json_dumpf(reply, stdout, JSON_COMPACT) < 0)
		errx(1, "cannot encode the reply");
	putchar('\n');
}

/* JSON lines: the recent events one a line, as the ones that follow. */
static void
print_events(json_t *reply)
{
	json_t *event;
	size_t i;

	json_array_foreach(json_object_get(reply, CTL_KEY_EVENTS), i, event) print_reply(event);
}

static void
print_failure(const char *command, json_t *reply)
{
	(void)command;
	print_reply(reply);
}

const struct output output_json = {
    .print =
        {
            [REPLY_STATUS] = print_reply,        [REPLY_METRICS] = print_reply,
            [REPLY_BANS] = print_reply,          [REPLY_BAN] = print_reply,
            [REPLY_UNBAN] = print_reply,         [REPLY_HISTORY] = print_reply,
            [REPLY_AUDIT] = print_reply,         [REPLY_EVENTS] = print_events,
            [REPLY_EVENT] = print_reply,         [REPLY_ALLOW] = print_reply,
            [REPLY_DISALLOW] = print_reply,      [REPLY_ALLOWLIST] = print_reply,
            [REPLY_RELOAD] = print_reply,        [REPLY_MODE] = print_reply,
            [REPLY_VMS] = print_reply,           [REPLY_VM_SET] = print_reply,
            [REPLY_TICKETS] = print_reply,       [REPLY_TICKET] = print_reply,
            [REPLY_TICKET_CHANGE] = print_reply, [REPLY_TICKET_FALSE_POSITIVE] = print_reply,
            [REPLY_OUTBOX] = print_reply,
        },
    .failure = print_failure,
};
