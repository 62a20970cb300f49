/*
 * What the daemon answers on the control socket: one handler per command
 * of protocol.h, in one table. The control module checks who asks and
 * hands the request here; the handlers read and change the daemon.
 */
#ifndef COMMANDS_H
#define COMMANDS_H

#include <jansson.h>
#include <stddef.h>

#include "control.h"
#include "store.h"

/* Bans in one reply of "bans" at most: about 300 KiB of JSON. */
#define BANS_PAGE_MAX 1000

/*
 * The paging fields of a "bans" request, from a client: "after" (the "next"
 * of the previous page) into *cursor, "limit" into *page_size (1 to
 * BANS_PAGE_MAX). 0, or -EINVAL with *why saying what is wrong.
 */
int bans_page_request(const json_t *request, struct store_cursor *cursor, size_t *page_size,
                      const char **why);

/* The table control_init takes; the context is the struct daemon. Ends with a NULL name. */
extern const struct control_command daemon_commands[];

#endif
