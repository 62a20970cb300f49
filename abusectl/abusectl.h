/*
 * abusectl's parts, after bgpctl: abusectl.c parses the command line and
 * talks to the daemon; the replies are printed through one of two tables of
 * printers, output.c for people and output_json.c for scripts. A new
 * command adds an entry to each table, not a branch.
 */
#ifndef ABUSECTL_H
#define ABUSECTL_H

#include <jansson.h>

/* What a reply holds, and so which printer shows it. */
enum reply_kind {
	REPLY_STATUS,
	REPLY_METRICS,
	REPLY_BANS,
	REPLY_UNBAN,
	REPLY_VMS,
	REPLY_VM_SET,
	REPLY_KINDS
};

struct output {
	/* One per kind: the daemon's reply when it says "ok". */
	void (*print[REPLY_KINDS])(json_t *reply);
	/* A reply that says "ok": false, to the command named. */
	void (*failure)(const char *command, json_t *reply);
};

extern const struct output output_text; /* output.c: tables for people */
extern const struct output output_json; /* output_json.c: the replies as JSON lines */

#endif
