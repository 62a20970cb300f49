/*
 * Abuse tickets: one open ticket per (customer, source, category), filed from
 * every ban (in observe mode, every finding), with its lifecycle on the
 * daemon's timer and the injectable clock (DESIGN.md, "Tickets").
 *
 * Two status axes. The desk's: open -> acknowledged -> resolved | escalated |
 * false-positive | closed. The customer's: none -> acknowledged -> fixed (a
 * customer acknowledges or claims a fix, never closes).
 *
 * - A new event on an open, acknowledged or escalated ticket adds to it; on a
 *   resolved one it reopens it (new deadline); a closed or false-positive
 *   ticket is done, and a new event opens a new ticket.
 * - Quiet for tickets.close_after (no event, no desk action): closed; the
 *   desk may close one sooner (ticket_close).
 * - At three quarters of tickets.deadline without the customer saying
 *   "fixed": one deadline warning. Past the deadline with abuse seen after
 *   the notice (and after the customer's "fixed"): escalated, "suspension
 *   recommended", which the customer is told in the escalation's template.
 * - While abuse goes on, an update at most once per tickets.update_interval.
 * - False positive: the ticket's offences leave the ladder's history and its
 *   active bans are lifted.
 *
 * Every change is durable in the store (with its event, thread message and,
 * for status changes, the uid and reason) before the sink hears of it.
 */
#ifndef TICKET_H
#define TICKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ban.h"
#include "clock.h"
#include "customer.h"

struct config;
struct finding;
struct offence;
struct store;

enum ticket_status { /* the desk's axis */
	             TICKET_OPEN = 0,
	             TICKET_ACKNOWLEDGED,
	             TICKET_RESOLVED,
	             TICKET_ESCALATED,
	             TICKET_FALSE_POSITIVE,
	             TICKET_CLOSED,
	             TICKET_STATUS_COUNT
};

enum customer_status { /* the customer's axis */
	               CUSTOMER_NONE = 0,
	               CUSTOMER_ACKNOWLEDGED,
	               CUSTOMER_FIXED,
	               CUSTOMER_STATUS_COUNT
};

/* What happened to a ticket: what the sink hears, and the kind of its event rows. */
enum ticket_event {
	TICKET_EVENT_OPENED = 0,       /* a new ticket: the notice goes out */
	TICKET_EVENT_ABUSE,            /* another offence added, no notice (throttled) */
	TICKET_EVENT_UPDATED,          /* abuse goes on: the update (once per update_interval) */
	TICKET_EVENT_REOPENED,         /* abuse after resolved: a new notice */
	TICKET_EVENT_DEADLINE_WARNING, /* three quarters of the deadline gone, no fix */
	TICKET_EVENT_ESCALATED,      /* deadline passed, abuse still seen: suspension recommended */
	TICKET_EVENT_ACKNOWLEDGED,   /* the desk took it */
	TICKET_EVENT_RESOLVED,       /* the desk closed the case; a new event reopens it */
	TICKET_EVENT_FALSE_POSITIVE, /* bans lifted, offences out of the ladder */
	TICKET_EVENT_CLOSED,         /* quiet for close_after, or closed by the desk */
	TICKET_EVENT_NOTE,           /* a desk note, internal or to the customer */
	TICKET_EVENT_CUSTOMER_REPLY, /* the customer's answer, recorded by the desk */
	TICKET_EVENT_COUNT
};

enum message_direction {
	DIRECTION_DESK_TO_CUSTOMER = 0,
	DIRECTION_CUSTOMER_TO_DESK,
	DIRECTION_INTERNAL,
	DIRECTION_COUNT
};

enum message_visibility {
	VISIBILITY_CUSTOMER = 0, /* the customer sees it (delivered, or written by them) */
	VISIBILITY_DESK,         /* the desk only */
	VISIBILITY_COUNT
};

/* Each kind of message has its own template: a note never reads as a new complaint. */
enum message_template {
	TEMPLATE_NOTICE = 0,
	TEMPLATE_UPDATE,
	TEMPLATE_DEADLINE_WARNING,
	TEMPLATE_ESCALATION,
	TEMPLATE_CLOSURE,
	TEMPLATE_NOTE,
	TEMPLATE_REPLY,
	TEMPLATE_STATUS, /* a desk status change: acknowledged, resolved, false positive */
	TEMPLATE_COUNT
};

#define TICKET_TEXT_MAX   1024 /* a thread message; longer text is refused */
#define TICKET_AUTHOR_MAX 64

struct ticket_message {
	int64_t id;
	int64_t ticket_id;
	int64_t time_ms;
	char author[TICKET_AUTHOR_MAX]; /* "abuseguard", "uid 1000", or the customer's id */
	uid_t uid;                      /* of the desk member who wrote or recorded it */
	enum message_direction direction;
	enum message_visibility visibility;
	enum message_template template_kind;
	char text[TICKET_TEXT_MAX];
};

struct ticket {
	int64_t id;                     /* 0 before it is stored */
	char customer[CUSTOMER_ID_MAX]; /* CUSTOMER_DEFAULT_QUEUE when unrouted */
	char customer_name[CUSTOMER_NAME_MAX];
	char contact[CUSTOMER_CONTACT_MAX]; /* "" in the default queue */
	enum route_kind route;              /* ROUTE_DEFAULT: flagged for the desk */
	struct source_key source;
	enum category category;
	struct vm_identity vm;
	enum ticket_status status;
	enum customer_status customer_status;
	int64_t opened_ms;     /* the notice; the latest reopening */
	int64_t first_seen_ms; /* the first offence */
	int64_t last_seen_ms;  /* the latest offence */
	int64_t deadline_ms;   /* the customer must act by then */
	int64_t notified_ms;   /* the latest notice or update to the customer */
	int64_t fixed_ms;      /* when the customer said "fixed"; 0 never */
	int64_t changed_ms;    /* the latest event or desk action: quiet is counted from here */
	int64_t closed_ms;     /* resolved, false-positive or closed at; 0 while open */
	uint64_t event_count;  /* offences added */
	uint32_t updates;      /* updates sent */
	bool warned;           /* the deadline warning went out */
	/* The latest ban the ticket caused; ban.id is 0 when it has none (observe mode). */
	struct ban ban;
};

/*
 * The seam to delivery. ticket.c calls event() once per ticket event, after
 * the change is durable; message is the thread message the event wrote (its
 * template and visibility say whether the customer is to get it), or NULL.
 * A subscriber (the outbox) must not block; it returns 0 or a negative
 * errno, which is counted and logged, never undone: the ticket stays as it
 * is and delivery retries are the subscriber's business.
 */
struct ticket_sink {
	int (*event)(void *arg, const struct ticket *ticket, enum ticket_event event,
	             const struct ticket_message *message);
	void *arg;
};

struct ticket_stats {
	uint64_t opened, added, reopened, updates, warnings, escalated, closed;
	uint64_t unrouted;     /* tickets opened in the default queue */
	uint64_t sink_errors;  /* the sink refused an event */
	uint64_t store_errors; /* a change the store could not take: the finding has no ticket */
};

struct tickets {
	const struct config *config;
	struct clock *clock;
	struct store *store;
	struct ticket_sink sink; /* event NULL: nobody listens */
	struct ticket_stats stats;
};

void tickets_init(struct tickets *tickets, const struct config *config, struct clock *clock,
                  struct store *store);
/*
 * Files a finding the policy made an offence of (ban may be NULL: observe
 * mode, safety valve): opens a ticket or adds to the open one, and sends the
 * notice or a due update. offence->id and ban->id may be 0 (the store queued
 * them); the ticket then does not link them. *ticket_id (may be NULL) gets
 * the ticket's id. 0 or -errno.
 */
int ticket_file(struct tickets *tickets, const struct finding *finding,
                const struct offence *offence, const struct ban *ban, const char *vm_customer,
                int64_t *ticket_id);
/*
 * The timer: updates due, deadline warnings, escalations and auto-close, for
 * every ticket not yet done. How many tickets changed, or -errno.
 */
int tickets_tick(struct tickets *tickets);

/* The desk's verbs. Each is audited with uid and reason; -ENOENT no ticket, -EPERM not from
 * its status (*why says why, a static string). */
int ticket_acknowledge(struct tickets *tickets, int64_t id, uid_t uid, const char *reason,
                       const char **why);
int ticket_resolve(struct tickets *tickets, int64_t id, uid_t uid, const char *reason,
                   const char **why);
/*
 * The desk closes the ticket (from open, acknowledged, resolved or
 * escalated): the customer gets the closure; the reason stays the desk's.
 * A later event opens a new ticket.
 */
int ticket_close(struct tickets *tickets, int64_t id, uid_t uid, const char *reason,
                 const char **why);
/* A note: internal unless to_customer (then desk -> customer, customer-visible). */
int ticket_note(struct tickets *tickets, int64_t id, uid_t uid, const char *text, bool to_customer,
                const char *reason, const char **why);
/* The customer's answer as the desk received it; status CUSTOMER_NONE keeps theirs. */
int ticket_reply(struct tickets *tickets, int64_t id, uid_t uid, const char *text,
                 enum customer_status status, const char *reason, const char **why);
/*
 * Marks the ticket a false positive: its offences leave the ladder's
 * history and its active bans are lifted in the store, in one transaction.
 * lifted (room for max) gets the bans that were active, for the caller to
 * take out of the kernel; *count how many.
 */
int ticket_false_positive(struct tickets *tickets, int64_t id, uid_t uid, const char *reason,
                          struct ban *lifted, size_t max, size_t *count, const char **why);

const char *ticket_status_name(enum ticket_status status);
int ticket_status_parse(const char *name, enum ticket_status *out); /* 0 or -EINVAL */
const char *customer_status_name(enum customer_status status);
int customer_status_parse(const char *name, enum customer_status *out);
const char *ticket_event_name(enum ticket_event event);
int ticket_event_parse(const char *name, enum ticket_event *out);
const char *message_direction_name(enum message_direction direction);
int message_direction_parse(const char *name, enum message_direction *out);
const char *message_visibility_name(enum message_visibility visibility);
int message_visibility_parse(const char *name, enum message_visibility *out);
const char *message_template_name(enum message_template template_kind);
int message_template_parse(const char *name, enum message_template *out);
/* Is the desk done with it (false-positive, closed)? A new event then opens another. */
bool ticket_status_final(enum ticket_status status);

#endif
