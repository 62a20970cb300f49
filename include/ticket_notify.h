/*
 * The outbox subscribed to the ticket core: each ticket event becomes an
 * abuse_report (ticket, customer, VM, ban, deadline, the thread message's
 * template and visibility, the ticket's evidence with its digests) queued
 * in the outbox. What an offence being filed brings is written to the
 * ticket's evidence first, so the notice carries what triggered it: the
 * finding (what was counted, where it went), the source's clear-text SMTP
 * (smtp_transcript.h, whose envelope fills the report's smtp_* fields and
 * source port) and a pcap excerpt of its packets (evidence_excerpt.h).
 */
#ifndef TICKET_NOTIFY_H
#define TICKET_NOTIFY_H

#include "abuseguard/abuseguard.h"
#include "evidence.h"
#include "outbox.h"
#include "report.h"
#include "smtp_transcript.h"
#include "ticket.h"
#include "wire.h"

/* Spam tickets just opened whose SMTP lines may still be on their way through libpcap. */
#define TICKET_NOTIFY_LATE_MAX 16
#define TICKET_NOTIFY_LATE_MS  10000

struct ticket_notify_late {
	int64_t ticket_id; /* 0: a free slot */
	int64_t until_ms;  /* lines are taken until then */
	struct source_key source;
	struct vm_identity vm;
};

struct ticket_notify {
	const struct config *config; /* the detectors', to describe the event being filed */
	struct outbox *outbox;
	struct evidence *evidence;
	struct wire *wire;                  /* the capture rings; NULL: no pcap excerpts */
	struct smtp_transcript *transcript; /* the VMs' SMTP lines; NULL: none */
	/* The event being handled (set around engine_handle_event), NULL between events. */
	const struct abuse_event *current_event;
	int64_t current_time_ms;
	int64_t current_window_ms; /* the start of its window: a later excerpt starts there */
	/*
	 * The ban comes from the XDP ring buffer, the SMTP lines from libpcap on
	 * another descriptor: a ticket can be filed before its burst's lines are
	 * read. Those that come within TICKET_NOTIFY_LATE_MS of the notice join the
	 * evidence log on the timer (ticket_notify_tick).
	 */
	struct ticket_notify_late late[TICKET_NOTIFY_LATE_MAX];
};

/* The ticket_sink's event function; arg is a struct ticket_notify. */
int ticket_notify_event(void *arg, const struct ticket *ticket, enum ticket_event event,
                        const struct ticket_message *message);

/*
 * At start: the thread messages a crash left unqueued (the ticket's change
 * and its queueing are two transactions; store_outbox_add marks a message
 * queued) are queued now, with the ticket as it is now. The outbox's one
 * row per event and backend keeps anything from going twice. *requeued
 * gets how many, at most 256 a start. 0 or -errno.
 */
int ticket_notify_recover(struct ticket_notify *notify, struct store *store, size_t *requeued);

/*
 * The daemon's timer: SMTP lines of just-opened spam tickets that came after
 * the notice go into their evidence log (and SHA256SUMS is rewritten).
 * How many lines were added.
 */
unsigned ticket_notify_tick(struct ticket_notify *notify, int64_t now_ms);

/* The report of a ticket event, without evidence (pure: the unit tests use it). */
void ticket_report_of(const struct ticket *ticket, enum ticket_event event,
                      const struct ticket_message *message, struct abuse_report *out);

#endif
