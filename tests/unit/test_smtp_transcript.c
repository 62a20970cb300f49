/*
 * The SMTP a VM sent, as its ticket's evidence gets it: the lines in order
 * with where they went, the envelope of the latest message (MAIL FROM, the
 * first RCPT TO, Subject, the client's port) for the X-ARF report, the
 * bounds (lines per source, sources) holding and counted, and what comes
 * off the wire kept as printable text.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "smtp_transcript.h"
#include "source.h"

struct taken {
	char lines[16][SMTP_TRANSCRIPT_TEXT_MAX + 96];
	int64_t times[16];
	int count;
};

static int
take_line(void *arg, int64_t time_ms, const char *text)
{
	struct taken *taken = arg;

	if (taken->count < 16) {
		snprintf(taken->lines[taken->count], sizeof(taken->lines[0]), "%s", text);
		taken->times[taken->count] = time_ms;
	}
	taken->count++;
	return 0;
}

static int64_t now_ms = 1795000000000LL;

static void
add(struct smtp_transcript *transcript, const char *vm, uint16_t port, enum wire_smtp_kind kind,
    const char *text)
{
	struct wire_smtp_line line = {
	    .ifindex = 3,
	    .time_ms = now_ms++,
	    .client = {.family = SOURCE_FAMILY_IPV4, .port = port},
	    .server = {.family = SOURCE_FAMILY_IPV4, .port = 25},
	    .kind = kind,
	    .text = text,
	    .len = strlen(text),
	};
	struct source_key source;

	inet_pton(AF_INET, vm, line.client.addr);
	inet_pton(AF_INET, "192.0.2.25", line.server.addr);
	source_parse(vm, 64, &source);
	smtp_transcript_add(transcript, &source, &line);
}

static int
take(struct smtp_transcript *transcript, const char *vm, struct taken *taken,
     struct smtp_envelope *envelope)
{
	struct source_key source;

	memset(taken, 0, sizeof(*taken));
	source_parse(vm, 64, &source);
	return smtp_transcript_take(transcript, &source, take_line, taken, envelope);
}

static void
test_message(void)
{
	struct smtp_transcript *transcript;
	struct smtp_transcript_stats stats;
	struct smtp_envelope envelope;
	struct taken taken;

	CHECK(smtp_transcript_open(&transcript, 4, 16) == 0, "a transcript of 4 sources opens");
	add(transcript, "10.0.0.5", 40001, WIRE_SMTP_COMMAND, "EHLO bulk.example");
	add(transcript, "10.0.0.5", 40001, WIRE_SMTP_COMMAND, "MAIL FROM:<old@bulk.example>");
	add(transcript, "10.0.0.5", 40002, WIRE_SMTP_COMMAND,
	    "mail from:<offers@bulk.example> SIZE=1200");
	add(transcript, "10.0.0.5", 40002, WIRE_SMTP_COMMAND, "RCPT TO:<victim@example.net>");
	add(transcript, "10.0.0.5", 40002, WIRE_SMTP_COMMAND, "RCPT TO:<second@example.net>");
	add(transcript, "10.0.0.5", 40002, WIRE_SMTP_COMMAND, "DATA");
	add(transcript, "10.0.0.5", 40002, WIRE_SMTP_HEADER, "From: Offers <offers@bulk.example>");
	add(transcript, "10.0.0.5", 40002, WIRE_SMTP_HEADER, "Subject:  Cheap watches");
	add(transcript, "10.0.0.9", 41000, WIRE_SMTP_COMMAND, "MAIL FROM:<other@vm9.example>");
	CHECK(take(transcript, "10.0.0.5", &taken, &envelope) == 8 && taken.count == 8,
	      "the source's 8 lines are handed over, not the other VM's (%d)", taken.count);
	CHECK(strcmp(taken.lines[0], "smtp EHLO bulk.example (to 192.0.2.25 port 25)") == 0 &&
	          strcmp(taken.lines[7], "smtp Subject:  Cheap watches (to 192.0.2.25 port 25)") ==
	              0 &&
	          taken.times[0] < taken.times[7],
	      "oldest first, each with where it went: \"%s\"", taken.lines[0]);
	CHECK(strcmp(envelope.mail_from, "offers@bulk.example") == 0 &&
	          strcmp(envelope.rcpt_to, "victim@example.net") == 0 && envelope.recipients == 2 &&
	          strcmp(envelope.subject, "Cheap watches") == 0 && envelope.client_port == 40002,
	      "the envelope is the latest message's: from %s, to %s (%u), \"%s\", port %u",
	      envelope.mail_from, envelope.rcpt_to, envelope.recipients, envelope.subject,
	      envelope.client_port);
	CHECK(take(transcript, "10.0.0.5", &taken, &envelope) == 0 &&
	          strcmp(envelope.mail_from, "offers@bulk.example") == 0,
	      "taken lines are the ticket's: a second take has none, but the envelope stays");
	add(transcript, "10.0.0.5", 40003, WIRE_SMTP_COMMAND, "MAIL FROM:<>");
	CHECK(take(transcript, "10.0.0.5", &taken, &envelope) == 1 &&
	          strcmp(envelope.mail_from, "offers@bulk.example") == 0 &&
	          envelope.client_port == 40002,
	      "a message cut short before its RCPT TO does not hide the complete one before it");
	add(transcript, "10.0.0.5", 40003, WIRE_SMTP_COMMAND, "RCPT TO:<bounce@example.net>");
	CHECK(take(transcript, "10.0.0.5", &taken, &envelope) == 1 &&
	          strcmp(envelope.subject, "Cheap watches") == 0,
	      "nor does one cut short before its Subject");
	add(transcript, "10.0.0.5", 40003, WIRE_SMTP_HEADER, "Subject: Delivery failure");
	CHECK(
	    take(transcript, "10.0.0.5", &taken, &envelope) == 1 && envelope.mail_from[0] == '\0' &&
	        strcmp(envelope.rcpt_to, "bounce@example.net") == 0 &&
	        strcmp(envelope.subject, "Delivery failure") == 0 && envelope.client_port == 40003,
	    "complete, the new message is the envelope; the null sender is no address");
	CHECK(take(transcript, "10.0.0.77", &taken, &envelope) == 0 && envelope.client_port == 0,
	      "a source never heard has nothing and an empty envelope");
	smtp_transcript_stats(transcript, &stats);
	CHECK(stats.lines == 12 && stats.lines_taken == 11 && stats.lines_overwritten == 0 &&
	          stats.sources_evicted == 0,
	      "the counters: 12 lines kept, 11 taken");
	smtp_transcript_close(transcript);
}

static void
test_bounds(void)
{
	struct smtp_transcript *transcript;
	struct smtp_transcript_stats stats;
	struct smtp_envelope envelope;
	struct taken taken;
	char text[600];

	CHECK(smtp_transcript_open(&transcript, 0, 4) < 0 &&
	          smtp_transcript_open(&transcript, 4, 0) < 0,
	      "zero sources or lines are refused");
	CHECK(smtp_transcript_open(&transcript, 2, 4) == 0, "a transcript of 2 sources, 4 lines");
	for (int i = 0; i < 10; i++) {
		snprintf(text, sizeof(text), "RCPT TO:<r%d@example.net>", i);
		add(transcript, "10.0.0.5", 40000, WIRE_SMTP_COMMAND, text);
	}
	CHECK(take(transcript, "10.0.0.5", &taken, &envelope) == 4 &&
	          strncmp(taken.lines[0], "smtp RCPT TO:<r6@", 17) == 0 &&
	          strncmp(taken.lines[3], "smtp RCPT TO:<r9@", 17) == 0,
	      "of 10 lines the latest 4 are kept (%s ... %s)", taken.lines[0], taken.lines[3]);
	add(transcript, "10.0.0.1", 40000, WIRE_SMTP_COMMAND, "HELO one");
	add(transcript, "10.0.0.2", 40000, WIRE_SMTP_COMMAND, "HELO two");
	add(transcript, "10.0.0.3", 40000, WIRE_SMTP_COMMAND, "HELO three");
	CHECK(take(transcript, "10.0.0.1", &taken, NULL) == 0 &&
	          take(transcript, "10.0.0.2", &taken, NULL) == 1 &&
	          take(transcript, "10.0.0.3", &taken, NULL) == 1,
	      "a third source in a table of 2 pushes out the least recently heard");
	memset(text, 'x', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	memcpy(text, "HELO \x01\xff\x7f", 8);
	add(transcript, "10.0.0.3", 40000, WIRE_SMTP_COMMAND, text);
	CHECK(take(transcript, "10.0.0.3", &taken, NULL) == 1 &&
	          strncmp(taken.lines[0], "smtp HELO ???xxx", 16) == 0 &&
	          strlen(taken.lines[0]) < SMTP_TRANSCRIPT_TEXT_MAX + 40,
	      "controls and 8-bit bytes become '?', a long line is cut");
	smtp_transcript_stats(transcript, &stats);
	CHECK(stats.lines_overwritten == 6 && stats.sources_evicted >= 1 && stats.lines_cut == 1,
	      "pushed-out lines (%llu), forgotten sources (%llu) and cut lines (%llu) are counted",
	      (unsigned long long)stats.lines_overwritten,
	      (unsigned long long)stats.sources_evicted, (unsigned long long)stats.lines_cut);
	smtp_transcript_close(transcript);
}

int
main(void)
{
	test_message();
	test_bounds();
	return check_done();
}
