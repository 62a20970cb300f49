/*
 * What a notice needs to say, whatever sends it: one event of a ticket
 * (a new complaint, an update, a deadline warning, a closure, a note), with
 * the customer it is routed to, the source and its VM, the ban, and the
 * evidence. The renderers turn it into an X-ARF v4 report (xarf.h), an RFC
 * 5322 message (mail_message.h) and the JSON the exec hook and the event
 * log get (report_json). They are pure: no I/O, no clock; every time and
 * identifier comes in with the report, so a retry renders the same bytes.
 */
#ifndef REPORT_H
#define REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "abuseguard/abuseguard.h"
#include "ban.h"

/* Each has its own template, so that a customer never takes a note for a complaint. */
enum report_kind {
	REPORT_NOTICE = 0,       /* a ticket opened: the complaint itself */
	REPORT_UPDATE,           /* abuse goes on (at most once per update_interval) */
	REPORT_DEADLINE_WARNING, /* the deadline is near, no fix yet */
	REPORT_ESCALATION,       /* the deadline passed, abuse still seen: suspension recommended */
	REPORT_CLOSURE,          /* the ticket was resolved or closed */
	REPORT_NOTE,             /* a message of the desk in the thread: no new complaint */
	REPORT_KIND_COUNT
};

/* Who may read an event: a customer never gets an internal note. */
enum report_visibility {
	REPORT_VISIBLE_CUSTOMER = 0,
	REPORT_VISIBLE_INTERNAL,
};

#define REPORT_LABEL_MAX      64   /* ids, names of VMs and customers */
#define REPORT_ADDRESS_MAX    256  /* mail addresses, From with its display name */
#define REPORT_TEXT_MAX       2048 /* the thread message of an update, closure or note */
#define REPORT_FILES_MAX      8    /* evidence files named in one report */
#define REPORT_SHA256_HEX     65   /* 64 hex digits and a NUL */
#define REPORT_UUID_LEN       37   /* 8-4-4-4-12 and a NUL */
#define REPORT_DESTINATIONS   EVENT_SAMPLES
#define REPORT_MESSAGE_ID_MAX 160

/* One evidence file kept for the ticket, with its digest. */
struct report_file {
	char name[128];        /* as attached: "evidence.log", "excerpt.pcap" */
	char path[512];        /* where the desk finds it under the state dir */
	char content_type[64]; /* "text/plain", "application/vnd.tcpdump.pcap" */
	char sha256[REPORT_SHA256_HEX];
	uint64_t bytes;
};

struct abuse_report {
	enum report_kind kind;
	enum report_visibility visibility;
	char event_name[32]; /* the ticket core's name of the event, "opened"; "" for kind's */
	int64_t ticket_id;
	int64_t event_id; /* the ticket event (thread message) this report is about */
	int64_t time_ms;  /* when that event happened */
	char report_id[REPORT_UUID_LEN]; /* UUID v4, fixed when the report is queued */

	/* Who sends it, "abuse@provider.example" or "Provider Abuse <abuse@...>". */
	char from[REPORT_ADDRESS_MAX];
	struct {
		char id[REPORT_LABEL_MAX];
		char name[128];
		char contact[REPORT_ADDRESS_MAX]; /* "" for the default queue */
		bool default_queue;               /* no prefix of the policy holds the source */
	} customer;

	enum category category;
	struct source_key source;
	uint16_t source_port; /* of a packet in the evidence; 0 if none is known */
	struct vm_identity vm;
	int64_t first_seen_ms, last_seen_ms;
	uint64_t event_count; /* findings on this ticket */
	uint32_t attempts;    /* what the last finding counted: SMTP attempts, probes, requests */
	struct event_sample destinations[REPORT_DESTINATIONS]; /* latest first */
	unsigned destination_count;

	bool banned;
	enum scope ban_scope;
	unsigned ban_level; /* 0-based rung */
	int64_t ban_until_ms;
	int64_t deadline_ms; /* 0: none */
	bool escalated;      /* past the deadline with abuse still seen */

	/* What the clear-text SMTP conversation showed, "" where it was not seen. */
	char smtp_from[REPORT_ADDRESS_MAX];
	char smtp_to[REPORT_ADDRESS_MAX];
	char subject[256];
	char user_agent[256]; /* the crawler's, from its requests */

	char text[REPORT_TEXT_MAX]; /* the desk's words: a note, a closure's reason */

	/* The plain-text evidence log, attached as it is (not owned; may be NULL). */
	const char *log;
	size_t log_len;
	struct report_file files[REPORT_FILES_MAX];
	unsigned file_count;
};

/* "notice", "update", "deadline-warning", "escalation", "closure", "note". */
const char *report_kind_name(enum report_kind kind);
int report_kind_parse(const char *name, enum report_kind *out); /* 0 or -EINVAL */

/* The X-ARF category and type of an abuse category: "messaging", "spam". -ENOTSUP if none. */
int report_xarf_type(enum category category, const char **xarf_category, const char **xarf_type);

/* The address part of report->from: "abuse@provider.example". */
const char *report_from_address(const struct abuse_report *report, char *buf, size_t len);
/* The domain of report->from's address, "" if it has none. */
const char *report_from_domain(const struct abuse_report *report, char *buf, size_t len);

/*
 * The Message-ID of the report's mail, "<ticket-12.event-34.UUID@domain>":
 * the same on every retry, so receivers can drop a duplicate.
 */
const char *report_message_id(const struct abuse_report *report, char *buf, size_t len);

/* A destination's address alone, "192.0.2.25" or "2001:db8::25". */
const char *report_sample_address(const struct event_sample *sample, char *buf, size_t len);

/* "2026-12-02T03:44:45Z"; "" for 0. */
const char *report_time_iso(int64_t ms, char *buf, size_t len);

/*
 * Sets a member of a JSON object being built; a value that could not be
 * made (NULL) clears *complete, so a builder checks once at the end. A time
 * of 0 is null.
 */
void report_json_set(json_t *object, const char *key, json_t *value, bool *complete);
void report_json_set_time(json_t *object, const char *key, int64_t ms, bool *complete);

/*
 * The ticket event as JSON, for the exec hook (its stdin) and the event log
 * (one line each): kind, ticket, customer, source, VM, ban, deadline,
 * evidence files and the Message-ID. NULL when out of memory.
 */
json_t *report_json(const struct abuse_report *report);

#endif
