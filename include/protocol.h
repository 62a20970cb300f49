/*
 * The control protocol, as bgpd.h holds bgpctl's: where the socket is, the
 * commands the daemon answers, the keys of requests and replies, and the
 * result codes. The daemon and abusectl both spell every name from here;
 * this is the only daemon header abusectl includes for the socket.
 *
 * A Unix stream socket, one JSON object per line each way. A request is
 * {"command": NAME, ...}; a change also carries a non-empty "reason". A reply
 * has "ok": true and the command's fields, or "ok": false, "result" (one of
 * the names below) and "error", a message for a person.
 */
#ifndef PROTOCOL_H
#define PROTOCOL_H

#include <string.h>

/* Where the daemon listens and abusectl connects unless told otherwise. */
#define CTL_SOCKET_PATH "/run/abuseguard/control.sock"

/* Commands: what "command" names. */
#define CTL_CMD_STATUS    "status"
#define CTL_CMD_METRICS   "metrics"
#define CTL_CMD_VMS       "vms"
#define CTL_CMD_VM_SET    "vm_set"
#define CTL_CMD_BANS      "bans"
#define CTL_CMD_UNBAN     "unban"
#define CTL_CMD_BAN       "ban"
#define CTL_CMD_HISTORY   "history"
#define CTL_CMD_AUDIT     "audit"
#define CTL_CMD_EVENTS    "events"
#define CTL_CMD_ALLOW     "allow"
#define CTL_CMD_DISALLOW  "disallow"
#define CTL_CMD_ALLOWLIST "allowlist"
#define CTL_CMD_RELOAD    "reload"
#define CTL_CMD_MODE      "mode"
/* Tickets: the list, one ticket whole, and the desk's verbs (each a change). */
#define CTL_CMD_TICKETS               "tickets"
#define CTL_CMD_TICKET                "ticket"
#define CTL_CMD_TICKET_ACKNOWLEDGE    "ticket_acknowledge"
#define CTL_CMD_TICKET_RESOLVE        "ticket_resolve"
#define CTL_CMD_TICKET_CLOSE          "ticket_close"
#define CTL_CMD_TICKET_NOTE           "ticket_note"
#define CTL_CMD_TICKET_REPLY          "ticket_reply"
#define CTL_CMD_TICKET_FALSE_POSITIVE "ticket_false_positive"
#define CTL_CMD_OUTBOX                "outbox"

/* Keys every request or reply may carry. */
#define CTL_KEY_COMMAND "command"
#define CTL_KEY_REASON  "reason" /* required by every change, recorded in the audit trail */
#define CTL_KEY_OK      "ok"
#define CTL_KEY_RESULT  "result" /* when "ok" is false: a ctl_result name */
#define CTL_KEY_ERROR   "error"  /* when "ok" is false: what was wrong, for a person */

/* Paged replies: the page's array, "next" to pass back as "after" for more. */
#define CTL_KEY_NEXT  "next"
#define CTL_KEY_AFTER "after"
#define CTL_KEY_LIMIT "limit" /* at most this many rows in a page */

/* A reply with "follow": true is followed by one line per event, until the client leaves. */
#define CTL_KEY_FOLLOW "follow"

/* Request keys of the commands that take arguments. */
#define CTL_KEY_SOURCE          "source"    /* an address: unban */
#define CTL_KEY_INTERFACE       "interface" /* vm_set */
#define CTL_KEY_ADDRESSES       "addresses" /* vm_set: an array of addresses or prefixes */
#define CTL_KEY_NAME            "name"      /* vm_set */
#define CTL_KEY_CUSTOMER        "customer"  /* vm_set; tickets: the filter */
#define CTL_KEY_SCOPE           "scope"     /* ban; a filter of bans */
#define CTL_KEY_CATEGORY        "category"  /* ban; a filter of bans */
#define CTL_KEY_DURATION        "duration"  /* ban: "1h", "7d"; absent: the ladder's next rung */
#define CTL_KEY_UNTIL           "until" /* allow: a time ("2026-12-31T00:00:00Z") or "30d" from now */
#define CTL_KEY_SINCE           "since"           /* audit: a time, or "2h" ago */
#define CTL_KEY_MODE            "mode"            /* mode: "observe" or "enforce" */
#define CTL_KEY_ID              "id"              /* ticket and its verbs: the ticket's number */
#define CTL_KEY_STATUS          "status"          /* tickets: the desk's status to list */
#define CTL_KEY_TO_CUSTOMER     "to_customer"     /* ticket_note: true for desk -> customer */
#define CTL_KEY_CUSTOMER_STATUS "customer_status" /* ticket_reply: acknowledged or fixed */

/* Reply keys of the arrays the listing commands return. */
#define CTL_KEY_BANS       "bans"
#define CTL_KEY_VMS        "vms"
#define CTL_KEY_VM         "vm"
#define CTL_KEY_LIFTED     "lifted"
#define CTL_KEY_TEXT       "text" /* metrics: Prometheus' text format; ticket_note, ticket_reply */
#define CTL_KEY_BAN        "ban"
#define CTL_KEY_EVENTS     "events" /* history, and the recent ones of events */
#define CTL_KEY_AUDIT      "audit"
#define CTL_KEY_ALLOWLIST  "allowlist"
#define CTL_KEY_MESSAGE    "message" /* reload: what happened */
#define CTL_KEY_EVENT      "event"   /* in each event line: what happened */
#define CTL_KEY_TICKETS    "tickets"
#define CTL_KEY_TICKET     "ticket"
#define CTL_KEY_THREAD     "thread"
#define CTL_KEY_CHANGES    "changes"
#define CTL_KEY_DELIVERIES "deliveries"

/* Per ban: does the kernel enforce it, and for how long; then what only the kernel holds. */
#define CTL_KEY_IN_KERNEL         "in_kernel"
#define CTL_KEY_KERNEL_REMAINING  "kernel_remaining_s"
#define CTL_KEY_KERNEL_ONLY       "kernel_only"
#define CTL_KEY_KERNEL_ONLY_COUNT "kernel_only_count"

/* Why a request failed, after bgpd's enum ctl_results; scripts act on these. */
enum ctl_result {
	CTL_RESULT_OK,
	CTL_RESULT_BAD_REQUEST, /* malformed, unknown command, or a wrong argument */
	CTL_RESULT_DENIED,      /* the caller may not do this (SO_PEERCRED) */
	CTL_RESULT_NOT_FOUND,   /* what the request names does not exist */
	CTL_RESULT_REFUSED,     /* valid, but the daemon's rules say no */
	CTL_RESULT_FAILED,      /* the daemon could not do it: store, nftables, memory */
	CTL_RESULT_BUSY,        /* too many clients */
	CTL_RESULT_COUNT
};

static inline const char *
ctl_result_name(enum ctl_result result)
{
	switch (result) {
	case CTL_RESULT_OK:
		return "ok";
	case CTL_RESULT_BAD_REQUEST:
		return "bad_request";
	case CTL_RESULT_DENIED:
		return "denied";
	case CTL_RESULT_NOT_FOUND:
		return "not_found";
	case CTL_RESULT_REFUSED:
		return "refused";
	case CTL_RESULT_BUSY:
		return "busy";
	case CTL_RESULT_FAILED:
	case CTL_RESULT_COUNT:
		break;
	}
	return "failed";
}

/* The code of a result name; an unknown or missing name is a failure. */
static inline enum ctl_result
ctl_result_parse(const char *name)
{
	if (name != NULL)
		for (int result = 0; result < CTL_RESULT_COUNT; result++)
			if (strcmp(name, ctl_result_name((enum ctl_result)result)) == 0)
				return (enum ctl_result)result;
	return CTL_RESULT_FAILED;
}

#endif
