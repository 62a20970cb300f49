/*
 * abusectl's parts, after bgpctl: abusectl.c parses the command line and
 * talks to the daemon; the replies are printed through one of two tables of
 * printers, output.c for people and output_json.c for scripts. A new
 * command adds an entry to each table, not a branch.
 */
#ifndef ABUSECTL_H
#define ABUSECTL_H

#include <jansson.h>

/* Exit statuses, documented in abusectl(8): scripts may rely on them. */
#define CTL_EXIT_OK          0
#define CTL_EXIT_FAILED      1  /* the daemon could not do it (store, nftables) */
#define CTL_EXIT_NOT_FOUND   2  /* no such ban, entry or history */
#define CTL_EXIT_REFUSED     3  /* valid, but the daemon's rules say no */
#define CTL_EXIT_USAGE       64 /* EX_USAGE: the command line, or the request, was wrong */
#define CTL_EXIT_UNREACHABLE 69 /* EX_UNAVAILABLE: no daemon answers on the socket */
#define CTL_EXIT_BUSY        75 /* EX_TEMPFAIL: too many clients; try again */
#define CTL_EXIT_DENIED      77 /* EX_NOPERM: neither root nor in the control group */

/* What a reply holds, and so which printer shows it. */
enum reply_kind {
	REPLY_STATUS,
	REPLY_METRICS,
	REPLY_BANS,
	REPLY_BAN,
	REPLY_UNBAN,
	REPLY_HISTORY,
	REPLY_AUDIT,
	REPLY_EVENTS, /* the reply to events: the recent ones */
	REPLY_EVENT,  /* one line of events --follow */
	REPLY_ALLOW,
	REPLY_DISALLOW,
	REPLY_ALLOWLIST,
	REPLY_RELOAD,
	REPLY_MODE,
	REPLY_VMS,
	REPLY_VM_SET,
	REPLY_TICKETS,
	REPLY_TICKET,
	REPLY_TICKET_CHANGE,         /* a desk verb: the ticket as it now is */
	REPLY_TICKET_FALSE_POSITIVE, /* the same, and the bans it lifted */
	REPLY_OUTBOX,
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
