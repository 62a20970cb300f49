/*
 * What the daemon answers on the control socket: one handler per command
 * of protocol.h, in one table. The control module checks who asks and
 * hands the request here; the handlers read and change the daemon.
 */
#ifndef COMMANDS_H
#define COMMANDS_H

#include "control.h"

/* The table control_init takes; the context is the struct daemon. Ends with a NULL name. */
extern const struct control_command daemon_commands[];

#endif
