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

static void
print_reply(json_t *reply)
{
	if (json_dumpf(reply, stdout, JSON_COMPACT) < 0)
		errx(1, "cannot encode the reply");
	putchar('\n');
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
            [REPLY_STATUS] = print_reply,
            [REPLY_METRICS] = print_reply,
            [REPLY_BANS] = print_reply,
            [REPLY_UNBAN] = print_reply,
            [REPLY_VMS] = print_reply,
            [REPLY_VM_SET] = print_reply,
        },
    .failure = print_failure,
};
