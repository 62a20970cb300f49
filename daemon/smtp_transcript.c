/*
 * SMTP lines per source (smtp_transcript.h). The table is small and
 * fixed (a few hundred sources), so a source is found by a linear walk:
 * no allocation after open, whatever the traffic. Each source has a ring
 * of lines in one shared array.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "detect.h"
#include "metrics.h"
#include "smtp_transcript.h"
#include "source.h"

struct transcript_line {
	int64_t time_ms;
	struct event_sample server; /* where it went, as the evidence log writes destinations */
	char text[SMTP_TRANSCRIPT_TEXT_MAX];
};

struct transcript_entry {
	struct source_key source;
	bool used;
	int64_t heard_ms;      /* the latest line: the least recent entry makes room */
	uint32_t first, count; /* the ring of lines, in lines[index * lines_per_source ...] */
	struct smtp_envelope building; /* the message under way: since its MAIL FROM */
	struct smtp_envelope envelope; /* the latest with a recipient: what a ticket reports */
};

struct smtp_transcript {
	uint32_t max_sources, lines_per_source;
	struct transcript_entry *entries;
	struct transcript_line *lines;
	struct smtp_transcript_stats stats;
};

int
smtp_transcript_open(struct smtp_transcript **out, uint32_t max_sources, uint32_t lines_per_source)
{
	struct smtp_transcript *transcript;

	*out = NULL;
	if (max_sources == 0 || lines_per_source == 0)
		return -EINVAL;
	if ((transcript = calloc(1, sizeof(*transcript))) == NULL)
		return -ENOMEM;
	transcript->max_sources = max_sources;
	transcript->lines_per_source = lines_per_source;
	transcript->entries = calloc(max_sources, sizeof(*transcript->entries));
	transcript->lines =
	    calloc((size_t)max_sources * lines_per_source, sizeof(*transcript->lines));
	if (transcript->entries == NULL || transcript->lines == NULL) {
		smtp_transcript_close(transcript);
		return -ENOMEM;
	}
	*out = transcript;
	return 0;
}

void
smtp_transcript_close(struct smtp_transcript *transcript)
{
	if (transcript == NULL)
		return;
	free(transcript->entries);
	free(transcript->lines);
	free(transcript);
}

static struct transcript_entry *
entry_find(struct smtp_transcript *transcript, const struct source_key *source)
{
	for (uint32_t i = 0; i < transcript->max_sources; i++)
		if (transcript->entries[i].used &&
		    source_equal(&transcript->entries[i].source, source))
			return &transcript->entries[i];
	return NULL;
}

/* A free entry, or the least recently heard one, forgotten. */
static struct transcript_entry *
entry_make(struct smtp_transcript *transcript, const struct source_key *source)
{
	struct transcript_entry *entry = NULL;

	for (uint32_t i = 0; i < transcript->max_sources; i++) {
		struct transcript_entry *candidate = &transcript->entries[i];

		if (!candidate->used) {
			entry = candidate;
			break;
		}
		if (entry == NULL || candidate->heard_ms < entry->heard_ms)
			entry = candidate;
	}
	if (entry->used)
		transcript->stats.sources_evicted++;
	memset(entry, 0, sizeof(*entry));
	entry->used = true;
	entry->source = *source;
	return entry;
}

static struct transcript_line *
line_at(struct smtp_transcript *transcript, const struct transcript_entry *entry, uint32_t i)
{
	size_t index = (size_t)(entry - transcript->entries);

	return &transcript->lines[index * transcript->lines_per_source +
	                          (entry->first + i) % transcript->lines_per_source];
}

/* Printable ASCII only: a line is written into logs, JSON and mail. */
static void
text_copy(char *out, size_t size, const char *text, size_t length)
{
	size_t n = length < size - 1 ? length : size - 1;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)text[i];

		out[i] = c >= ' ' && c < 0x7f ? (char)c : '?';
	}
	out[n] = '\0';
}

/* "MAIL FROM:<a@b> SIZE=10": the address, without its brackets. */
static void
address_of(const char *argument, char *out, size_t size)
{
	const char *end;

	while (*argument == ' ')
		argument++;
	if (*argument == '<') {
		argument++;
		end = strchr(argument, '>');
	} else
		end = strchr(argument, ' ');
	if (end == NULL)
		end = argument + strlen(argument);
	text_copy(out, size, argument, (size_t)(end - argument));
}

static bool
starts_with(const char *text, const char *prefix)
{
	return strncasecmp(text, prefix, strlen(prefix)) == 0;
}

/*
 * MAIL FROM starts a message; from its first RCPT TO on it is the one a
 * ticket reports, unless the one reported has a Subject and it has none
 * yet: a message the ban cut short does not hide the complete one before.
 */
static void
envelope_learn(struct transcript_entry *entry, const struct wire_smtp_line *line, const char *text)
{
	struct smtp_envelope *envelope = &entry->building;
	const char *value;

	if (line->kind == WIRE_SMTP_COMMAND && starts_with(text, "MAIL FROM:")) {
		memset(envelope, 0, sizeof(*envelope));
		address_of(text + strlen("MAIL FROM:"), envelope->mail_from,
		           sizeof(envelope->mail_from));
		envelope->client_port = line->client.port;
	} else if (line->kind == WIRE_SMTP_COMMAND && starts_with(text, "RCPT TO:")) {
		if (envelope->recipients++ == 0)
			address_of(text + strlen("RCPT TO:"), envelope->rcpt_to,
			           sizeof(envelope->rcpt_to));
	} else if (line->kind == WIRE_SMTP_HEADER && starts_with(text, "Subject:") &&
	           envelope->subject[0] == '\0') {
		for (value = text + strlen("Subject:"); *value == ' ' || *value == '\t'; value++)
			;
		snprintf(envelope->subject, sizeof(envelope->subject), "%s", value);
	}
	if (envelope->client_port == 0)
		envelope->client_port = line->client.port;
	if ((envelope->recipients > 0 &&
	     (envelope->subject[0] != '\0' || entry->envelope.subject[0] == '\0')) ||
	    entry->envelope.client_port == 0)
		entry->envelope = *envelope;
}

void
smtp_transcript_add(struct smtp_transcript *transcript, const struct source_key *source,
                    const struct wire_smtp_line *line)
{
	struct transcript_entry *entry = entry_find(transcript, source);
	struct transcript_line *slot;

	if (entry == NULL)
		entry = entry_make(transcript, source);
	entry->heard_ms = line->time_ms;
	if (entry->count == transcript->lines_per_source) {
		entry->first = (entry->first + 1) % transcript->lines_per_source;
		entry->count--;
		transcript->stats.lines_overwritten++;
	}
	slot = line_at(transcript, entry, entry->count++);
	memset(slot, 0, sizeof(*slot));
	slot->time_ms = line->time_ms;
	slot->server.family = line->server.family;
	memcpy(slot->server.address, line->server.addr, sizeof(slot->server.address));
	slot->server.port = line->server.port;
	slot->server.protocol = 6; /* TCP */
	text_copy(slot->text, sizeof(slot->text), line->text, line->len);
	if (line->len >= sizeof(slot->text))
		transcript->stats.lines_cut++;
	transcript->stats.lines++;
	envelope_learn(entry, line, slot->text);
}

int
smtp_transcript_take(struct smtp_transcript *transcript, const struct source_key *source,
                     smtp_transcript_fn fn, void *arg, struct smtp_envelope *envelope)
{
	struct transcript_entry *entry = entry_find(transcript, source);
	char text[SMTP_TRANSCRIPT_TEXT_MAX + 96], server[96];
	int taken = 0, error;

	if (envelope != NULL)
		memset(envelope, 0, sizeof(*envelope));
	if (entry == NULL)
		return 0;
	if (envelope != NULL)
		*envelope = entry->envelope;
	while (entry->count > 0) {
		const struct transcript_line *line = line_at(transcript, entry, 0);

		snprintf(text, sizeof(text), "smtp %s (to %s)", line->text,
		         sample_format(&line->server, server, sizeof(server)));
		if (fn != NULL && (error = fn(arg, line->time_ms, text)) < 0)
			return error;
		entry->first = (entry->first + 1) % transcript->lines_per_source;
		entry->count--;
		transcript->stats.lines_taken++;
		taken++;
	}
	return taken;
}

void
smtp_transcript_stats(const struct smtp_transcript *transcript, struct smtp_transcript_stats *out)
{
	*out = transcript->stats;
}

void
smtp_transcript_metrics(const struct smtp_transcript *transcript, struct metrics *m)
{
	const struct smtp_transcript_stats *stats = &transcript->stats;

	metrics_single(m, "abuseguard_smtp_transcript_lines_total", "counter",
	               "Clear-text SMTP lines kept for tickets' evidence.", stats->lines);
	metrics_single(m, "abuseguard_smtp_transcript_lines_overwritten_total", "counter",
	               "SMTP lines pushed out by newer ones before a ticket took them "
	               "(limits.smtp_transcript_lines).",
	               stats->lines_overwritten);
	metrics_single(m, "abuseguard_smtp_transcript_lines_cut_total", "counter",
	               "SMTP lines longer than a transcript keeps, cut.", stats->lines_cut);
	metrics_single(m, "abuseguard_smtp_transcript_sources_evicted_total", "counter",
	               "Sources forgotten to make room for another "
	               "(limits.smtp_transcript_sources).",
	               stats->sources_evicted);
	metrics_single(m, "abuseguard_smtp_transcript_lines_taken_total", "counter",
	               "SMTP lines written into tickets' evidence logs.", stats->lines_taken);
}
