/*
 * libFuzzer: whatever SMTP lines VMs send (any bytes, any length, any
 * order of sources), the transcript stays within its table and rings, and
 * what it hands a ticket is printable text with where it went, and an
 * envelope of printable, terminated fields.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_transcript.h"
#include "source.h"

#define SOURCES 3
#define LINES   5

static int
check_line(void *arg, int64_t time_ms, const char *text)
{
	(void)arg;
	(void)time_ms;
	if (strncmp(text, "smtp ", 5) != 0 || strlen(text) > SMTP_TRANSCRIPT_TEXT_MAX + 96)
		abort();
	for (const char *c = text; *c; c++)
		if ((unsigned char)*c < ' ' || (unsigned char)*c >= 0x7f)
			abort();
	return 0;
}

static void
check_field(const char *field, size_t size)
{
	size_t length = strnlen(field, size);

	if (length == size)
		abort(); /* not terminated */
	for (size_t i = 0; i < length; i++)
		if ((unsigned char)field[i] < ' ' || (unsigned char)field[i] >= 0x7f)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_transcript *transcript;
	struct smtp_transcript_stats stats;
	struct smtp_envelope envelope;
	struct source_key sources[SOURCES + 1];
	size_t at = 0;
	int64_t now = 1;

	if (smtp_transcript_open(&transcript, SOURCES, LINES) < 0)
		return 0;
	for (unsigned i = 0; i <= SOURCES; i++) {
		uint8_t addr[4] = {10, 0, 0, (uint8_t)(i + 1)};

		source_from_addr(SOURCE_FAMILY_IPV4, addr, 64, &sources[i]);
	}
	/* Each line: a byte choosing source and kind, then the text up to '\n'. */
	while (at < size) {
		const uint8_t *end = memchr(data + at + 1, '\n', size - at - 1);
		size_t stop = end != NULL ? (size_t)(end - data) : size;
		uint8_t choice = data[at];
		struct wire_smtp_line line = {
		    .time_ms = now++,
		    .client = {.family = SOURCE_FAMILY_IPV4, .port = (uint16_t)(choice * 7)},
		    .server = {.family = SOURCE_FAMILY_IPV4, .port = 25},
		    .kind = choice & 0x80 ? WIRE_SMTP_HEADER : WIRE_SMTP_COMMAND,
		    .text = (const char *)data + at + 1,
		    .len = stop > at ? stop - at - 1 : 0,
		};

		if (stop <= at)
			break;
		/* The text handed over is not terminated: ASan sees a read past it. */
		char *copy = malloc(line.len ? line.len : 1);

		if (copy == NULL)
			break;
		memcpy(copy, line.text, line.len);
		line.text = copy;
		smtp_transcript_add(transcript, &sources[choice % (SOURCES + 1)], &line);
		free(copy);
		at = stop + 1;
	}
	for (unsigned i = 0; i <= SOURCES; i++) {
		int taken =
		    smtp_transcript_take(transcript, &sources[i], check_line, NULL, &envelope);

		if (taken < 0 || taken > LINES)
			abort();
		check_field(envelope.mail_from, sizeof(envelope.mail_from));
		check_field(envelope.rcpt_to, sizeof(envelope.rcpt_to));
		check_field(envelope.subject, sizeof(envelope.subject));
	}
	smtp_transcript_stats(transcript, &stats);
	if (stats.lines_taken > stats.lines ||
	    stats.lines_taken + stats.lines_overwritten > stats.lines)
		abort();
	smtp_transcript_close(transcript);
	return 0;
}
