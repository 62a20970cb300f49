/*
 * Durable history in SQLite (WAL, synchronous=FULL): offences, bans, lifts
 * and the audit trail of every change an operator made. A function that
 * returns 0 has committed: the caller may then act on it and say so.
 */
#ifndef STORE_H
#define STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ban.h"
#include "ticket.h"
#include "vm.h"

struct store;

/* What a detector saw, as kept in history. */
struct offence {
	int64_t id;
	struct source_key source;
	enum category category;
	int64_t time_ms;
	uint32_t attempts;
	uint32_t destinations;
	char detail[256]; /* one line for people: thresholds, last destination */
	struct vm_identity vm;
};

/*
 * Opens or creates the database at path (its directory must exist).
 * -EBADMSG: the file is damaged, or is no database.
 */
int store_open(struct store **out, const char *path);
/*
 * A store nothing needs after a crash (replay's scratch store): writes are
 * not synced to disk, which a decision's every write otherwise waits for.
 */
int store_scratch(struct store *store);
void store_close(struct store *store);
/*
 * SQLite's integrity check over the whole file, stopped after timeout_ms.
 * 0: sound; -EBADMSG: damaged (what SQLite found is logged); -ETIMEDOUT: not
 * finished in time, nothing known.
 */
int store_check(struct store *store, int64_t timeout_ms);

#define STORE_ERROR_MAX 256

/* Whether the store can record, for status. */
struct store_health {
	bool healthy;                     /* no failure since the last commit that wrote */
	uint64_t errors;                  /* failed statements since open */
	char last_error[STORE_ERROR_MAX]; /* what failed last, "" if nothing did */
};
void store_health(const struct store *store, struct store_health *out);

/*
 * Deletes history older than before_ms, at most batch rows of each table
 * (bans whose planned end is older, then offences no kept ban refers to,
 * then audit rows, then tickets closed or false positive whose last change is
 * older), in one transaction. *deleted gets how many rows went.
 */
int store_prune(struct store *store, int64_t before_ms, unsigned batch, size_t *deleted);

/*
 * Records an offence and, when ban is not NULL, the ban it led to, in one
 * transaction. Fills offence->id and ban->id.
 */
int store_record(struct store *store, struct offence *offence, struct ban *ban);

/*
 * Lifts every active ban of source at now_ms and writes the audit row with
 * uid and reason, in one transaction. *lifted (may be NULL) gets how many
 * bans were active; lifted_bans (may be NULL, room for max) gets them.
 * Returns -ENOENT if none was active.
 */
int store_lift(struct store *store, const struct source_key *source, int64_t now_ms, uid_t uid,
               const char *reason, struct ban *lifted_bans, size_t max, size_t *lifted);

/*
 * The source's bans, most recent first, at most max; *count gets how many
 * were written. Bans whose offence was marked a false positive are left out.
 */
int store_history(struct store *store, const struct source_key *source, struct ban *out, size_t max,
                  size_t *count);

/* Where a walk over the active bans stopped: the last ban it returned. */
struct store_cursor {
	int64_t expires_ms;
	int64_t id;
};
#define STORE_CURSOR_START ((struct store_cursor){INT64_MIN, 0})

/*
 * At most max bans active at now_ms that come after *cursor, soonest expiry
 * first; *count gets how many, and *cursor moves past them.
 */
int store_active_page(struct store *store, int64_t now_ms, struct store_cursor *cursor,
                      struct ban *out, size_t max, size_t *count);

/* Calls fn for every ban still active at now_ms, soonest expiry first; a
 * non-zero return from fn stops the walk and is returned. */
int store_active_bans(struct store *store, int64_t now_ms,
                      int (*fn)(const struct ban *ban, void *arg), void *arg);

/* How many bans of an address family (SOURCE_FAMILY_*) are active at now_ms. */
int store_count_active(struct store *store, int64_t now_ms, unsigned family, size_t *count);

/* One audit row: who changed what and why. */
int store_audit(struct store *store, int64_t now_ms, uid_t uid, const char *action,
                const char *subject, const char *reason);

/* An interface's operator-set addresses, as kept in the store. */
#define STORE_VM_ADDRESSES_MAX 1024 /* limits.max_vm_addresses at most */
struct store_vm {
	char interface[IF_NAMESIZE];
	char name[VM_LABEL_MAX];
	char customer[VM_LABEL_MAX];
	const struct prefix *addresses;
	unsigned address_count;
};

/*
 * Records (or replaces) an interface's addresses, name and customer, with
 * the audit row ("vm set", uid, reason), in one transaction.
 */
int store_vm_set(struct store *store, const struct store_vm *vm, int64_t now_ms, uid_t uid,
                 const char *reason);
/*
 * Calls fn for every recorded interface, in name order; fn must not use the
 * store. A non-zero return from fn stops the walk and is returned.
 */
int store_vms(struct store *store, int (*fn)(const struct store_vm *vm, void *arg), void *arg);

/*
 * Tickets (ticket.h), their events, thread and status changes. Offences and
 * bans stay records of their own; an event row links a ticket to the
 * offence and ban it added.
 */

/* What a ticket change writes with the ticket, in the same transaction. */
struct ticket_change {
	enum ticket_event event;
	int64_t offence_id, ban_id;           /* the offence event's records; 0: none */
	const char *detail;                   /* one line for the event row; may be NULL */
	const struct ticket_message *message; /* the thread message it adds; may be NULL */
	/* A status change (either axis) is written with these, from where it was. */
	enum ticket_status from_status;
	enum customer_status from_customer;
	uid_t uid;
	const char *reason; /* required when either status changes or audit_action is set */
	const char
	    *audit_action; /* a desk verb: also an audit row ("ticket resolve"); may be NULL */
};

/*
 * Inserts (ticket->id 0, then filled) or updates the ticket with what change
 * says, in one transaction. message->id and ->ticket_id are filled.
 */
int store_ticket_save(struct store *store, struct ticket *ticket, struct ticket_change *change);
/* The ticket not yet done (ticket_status_final) for (customer, source, category); -ENOENT. */
int store_ticket_open_for(struct store *store, const char *customer,
                          const struct source_key *source, enum category category,
                          struct ticket *out);
int store_ticket_get(struct store *store, int64_t id, struct ticket *out); /* -ENOENT */

struct ticket_filter {
	int status;                      /* enum ticket_status, or -1: any */
	bool unfinished;                 /* only tickets not final (the timer's walk) */
	const char *customer;            /* NULL: any */
	const struct source_key *source; /* NULL: any */
	int64_t after_id;                /* the page after this id; 0 from the start */
};
/* At most max tickets matching filter, in id order; *count gets how many. */
int store_tickets(struct store *store, const struct ticket_filter *filter, struct ticket *out,
                  size_t max, size_t *count);

/* How many tickets the store holds in each status (the metrics' gauge). 0 or -errno. */
int store_ticket_status_counts(struct store *store, uint64_t counts[TICKET_STATUS_COUNT]);
/* One row of a ticket's events. */
struct ticket_event_row {
	int64_t id, time_ms;
	enum ticket_event kind;
	int64_t offence_id, ban_id; /* 0: none */
	char detail[256];
};
/* One status change, as audited. */
struct ticket_change_row {
	int64_t time_ms;
	uid_t uid;
	char axis[16]; /* "desk" or "customer" */
	char from[32], to[32];
	char reason[TICKET_TEXT_MAX];
};
/* Calls fn for each of the ticket's rows, oldest first; fn must not use the store. */
int store_ticket_messages(struct store *store, int64_t id,
                          int (*fn)(const struct ticket_message *message, void *arg), void *arg);
int store_ticket_events(struct store *store, int64_t id,
                        int (*fn)(const struct ticket_event_row *row, void *arg), void *arg);
/*
 * Thread messages of any ticket never queued for delivery (a crash came
 * between the ticket's change and store_outbox_add), oldest first, at most
 * max; message->ticket_id is filled. fn must not use the store.
 */
int store_ticket_messages_unqueued(struct store *store, size_t max,
                                   int (*fn)(const struct ticket_message *message, void *arg),
                                   void *arg);
int store_ticket_changes(struct store *store, int64_t id,
                         int (*fn)(const struct ticket_change_row *row, void *arg), void *arg);
/* The bans the ticket's offences led to, newest first, at most max; *count how many. */
int store_ticket_bans(struct store *store, int64_t id, struct ban *out, size_t max, size_t *count);
/*
 * Marks the ticket's offences false positives (out of the ladder's history),
 * lifts its active bans at now_ms (uid, reason) and saves the ticket with
 * change, in one transaction. lifted (room for max) gets the bans that were
 * active; *count how many.
 */
int store_ticket_false_positive(struct store *store, struct ticket *ticket,
                                struct ticket_change *change, int64_t now_ms, struct ban *lifted,
                                size_t max, size_t *count);
/* An entry of the operator's runtime allowlist. */
struct store_allow {
	struct prefix prefix;
	int64_t until_ms; /* 0: until disallowed */
	uid_t uid;        /* who allowed it */
	char reason[512];
	int64_t created_ms;
};

/* Records (or replaces) an allowlist entry with its audit row ("allow"), in one transaction. */
int store_allow_set(struct store *store, const struct prefix *prefix, int64_t until_ms,
                    int64_t now_ms, uid_t uid, const char *reason);
/* Removes an entry with its audit row ("disallow"); -ENOENT if there was none. */
int store_allow_remove(struct store *store, const struct prefix *prefix, int64_t now_ms, uid_t uid,
                       const char *reason);
/* Calls fn for every entry not expired at now_ms, in prefix order; fn must not use the store. */
int store_allowlist(struct store *store, int64_t now_ms,
                    int (*fn)(const struct store_allow *entry, void *arg), void *arg);

/* One row of the audit trail; the strings live until fn returns. */
struct store_audit_row {
	int64_t id, time_ms, uid;
	const char *action, *subject, *reason;
};
/*
 * The audit rows at or after since_ms whose id is above *after_id, oldest
 * first, at most max; *after_id moves to the last one, *count gets how
 * many. fn must not use the store; its non-zero return stops the walk.
 */
int store_audit_page(struct store *store, int64_t since_ms, int64_t *after_id, size_t max,
                     int (*fn)(const struct store_audit_row *row, void *arg), void *arg,
                     size_t *count);

/* One thing that happened to a source; the strings live until fn returns. */
struct store_event {
	int64_t time_ms;
	const char *kind; /* "offence", "ban", "lift", or an audit action ("ban", "allow", ...) */
	const char *category, *scope;
	unsigned level;      /* bans and lifts: 1-based rung */
	int64_t duration_ms; /* bans: as planned */
	const char *detail;  /* offences: what the detector saw */
	int64_t uid;         /* lifts and audit rows: who; -1 for the daemon */
	const char *reason;  /* lifts and audit rows: why */
	bool false_positive; /* offences marked so */
};
/*
 * The source's history, newest first, at most max events: offences, bans,
 * lifts and the audit rows naming it. fn must not use the store.
 */
int store_source_events(struct store *store, const struct source_key *source, size_t max,
                        int (*fn)(const struct store_event *event, void *arg), void *arg);

/*
 * The outbox: one row per delivery of a ticket event by a backend, with
 * the bytes to send, kept until delivered (then pruned with the history).
 */
struct store_delivery {
	int64_t id;
	char backend[16]; /* "mail", "exec", "log" */
	int64_t ticket_id, event_id;
	char kind[32];        /* the ticket event's name, else report_kind_name() */
	char message_id[160]; /* REPORT_MESSAGE_ID_MAX */
	void *payload;        /* store_outbox_due: a new buffer, NUL-terminated, the caller's */
	size_t payload_length;
	int64_t created_ms, next_ms;
	unsigned attempts; /* started so far */
};

/*
 * Queues the deliveries of one ticket event (count may be 0: no backend
 * takes it) and marks its thread message (id event_id) queued, in one
 * transaction. A delivery of a ticket event by a backend that is queued
 * already is ignored: *added counts the new ones.
 */
int store_outbox_add(struct store *store, int64_t ticket_id, int64_t event_id,
                     const struct store_delivery *deliveries, size_t count, size_t *added);
/* At most max deliveries due at now_ms, neither delivered nor running, soonest first. */
int store_outbox_due(struct store *store, int64_t now_ms, struct store_delivery *out, size_t max,
                     size_t *count);
/* An attempt starts: committed before the backend runs, so a crash leaves it in doubt. */
int store_outbox_attempt(struct store *store, int64_t id, int64_t now_ms);
int store_outbox_sent(struct store *store, int64_t id, int64_t now_ms);
/* A failed attempt: due again at next_ms, error kept for people. */
int store_outbox_retry(struct store *store, int64_t id, int64_t next_ms, const char *error);
/* A permanent failure (the MTA or hook refused it for good): kept, shown, never retried. */
int store_outbox_fail(struct store *store, int64_t id, int64_t now_ms, const char *error);
/* At start: attempts a stop cut short are due at once; *in_doubt counts them. */
int store_outbox_recover(struct store *store, int64_t now_ms, size_t *in_doubt);
/*
 * Deliveries waiting (not delivered, not failed for good), how many of
 * those failed at least once, and how many failed for good.
 */
int store_outbox_depth(struct store *store, size_t *waiting, size_t *retrying, size_t *failed);

/* A delivery as the desk sees it (abusectl outbox, abusectl ticket ID). */
struct store_delivery_row {
	int64_t id;
	char backend[16];
	int64_t ticket_id, event_id;
	char kind[32];
	char message_id[160];
	int64_t created_ms;
	unsigned attempts;
	int64_t next_ms;    /* the next attempt, while it waits */
	int64_t started_ms; /* an attempt runs since; 0 none */
	int64_t sent_ms;    /* delivered at; 0 not yet */
	int64_t failed_ms;  /* refused for good at; 0 not */
	char last_error[STORE_ERROR_MAX];
};
/*
 * ticket_id 0: every delivery not yet delivered (waiting or failed for
 * good); else all of that ticket's. Oldest first, at most max. fn must not
 * use the store.
 */
int store_outbox_list(struct store *store, int64_t ticket_id, size_t max,
                      int (*fn)(const struct store_delivery_row *row, void *arg), void *arg);

#endif
