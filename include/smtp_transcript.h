/*
 * The clear-text SMTP a VM sent (wire.h's SMTP lines: commands before
 * STARTTLS, a message's header lines), kept per source until a ticket
 * takes it into its evidence log. The lines of a burst come before the
 * ban that opens its ticket, so they wait here: the latest
 * limits.smtp_transcript_lines of each of limits.smtp_transcript_sources
 * sources (the least recently heard one makes room). Beside the lines,
 * the envelope of the source's latest complete message (MAIL FROM, the
 * first RCPT TO, Subject, the client's port) outlives them, for the X-ARF
 * report.
 * Text is kept as printable ASCII: anything else becomes '?'.
 */
#ifndef SMTP_TRANSCRIPT_H
#define SMTP_TRANSCRIPT_H

#include <stdint.h>

#include "abuseguard/abuseguard.h"
#include "wire.h"

#define SMTP_TRANSCRIPT_TEXT_MAX 240 /* of a line kept, NUL included; longer ones are cut */

struct smtp_envelope {
	char mail_from[256]; /* MAIL FROM's address, "" for none or the null sender */
	char rcpt_to[256];   /* the first RCPT TO's */
	char subject[256];
	uint32_t recipients;  /* RCPT TO commands of the message */
	uint16_t client_port; /* of the connection the message came on */
};

struct smtp_transcript_stats {
	uint64_t lines;             /* lines kept */
	uint64_t lines_overwritten; /* pushed out by newer lines before a ticket took them */
	uint64_t lines_cut;         /* longer than SMTP_TRANSCRIPT_TEXT_MAX */
	uint64_t sources_evicted;   /* sources forgotten to make room for another */
	uint64_t lines_taken;       /* handed to tickets */
};

struct smtp_transcript;

/* 0, -EINVAL (zero sizes) or -ENOMEM. */
int smtp_transcript_open(struct smtp_transcript **out, uint32_t max_sources,
                         uint32_t lines_per_source);
void smtp_transcript_close(struct smtp_transcript *transcript);

/* One line of source (the VM's address as the ladder keys it). */
void smtp_transcript_add(struct smtp_transcript *transcript, const struct source_key *source,
                         const struct wire_smtp_line *line);

/* A line being handed over: text is "MAIL FROM:<a@b> (to 192.0.2.25 port 25)". */
typedef int (*smtp_transcript_fn)(void *arg, int64_t time_ms, const char *text);

/*
 * Hands the source's lines to fn, oldest first, and forgets them (they
 * are the ticket's now); *envelope (may be NULL) gets the latest message's
 * envelope, zeroed when none was seen. The number of lines handed over; a
 * negative return of fn stops the hand-over and is returned.
 */
int smtp_transcript_take(struct smtp_transcript *transcript, const struct source_key *source,
                         smtp_transcript_fn fn, void *arg, struct smtp_envelope *envelope);

void smtp_transcript_stats(const struct smtp_transcript *transcript,
                           struct smtp_transcript_stats *out);

struct metrics;
void smtp_transcript_metrics(const struct smtp_transcript *transcript, struct metrics *m);

#endif
