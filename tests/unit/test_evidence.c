/*
 * Evidence as the abuse desk reads it: a ticket's log holds one line per
 * thing seen, with UTC time, source and VM, whatever the capture handed
 * over; files are kept with their SHA-256 (sha256sum -c agrees); and a
 * ticket never holds more files or bytes than the policy allows, what is
 * refused being counted.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "encode.h"
#include "evidence.h"
#include "log.h"
#include "source.h"

static char dir[] = "/tmp/abuseguard-evidence.XXXXXX";

static void
test_log(struct evidence *evidence)
{
	struct vm_identity vm = {.interface = "vnet3", .mac = "52:54:00:12:34:56", .name = "web1"};
	struct finding finding = {0};
	struct report_file files[4];
	struct source_key source;
	unsigned count;
	char *log = NULL;
	size_t length;

	source_parse("10.0.0.5", 64, &source);
	CHECK(evidence_log(evidence, 7, 1795000000000LL, &source, &vm,
	                   "10.0.0.5:40112 -> 192.0.2.25:25 C: MAIL FROM:<promo@shop.example>") ==
	          0,
	      "an SMTP envelope line is logged");
	CHECK(evidence_log(evidence, 7, 1795000001000LL, &source, &vm,
	                   "C: Subject: hello\r\nX-Forged: evidence line") == 0,
	      "a header line with CR LF in it is logged");
	finding.source = source;
	finding.category = CATEGORY_SPAM;
	finding.time_ms = 1795000002000LL;
	finding.counts.attempts = 31;
	finding.counts.destinations = 15;
	finding.sample_count = 1;
	finding.samples[0].family = SOURCE_FAMILY_IPV4;
	finding.samples[0].port = 25;
	finding.samples[0].protocol = 6;
	memcpy(finding.samples[0].address, (unsigned char[]){192, 0, 2, 25}, 4);
	snprintf(finding.detail, sizeof(finding.detail), "31 SMTP attempts in 60s");
	CHECK(evidence_log_finding(evidence, 7, &finding, &vm) == 0, "a finding is logged");
	CHECK(evidence_collect(evidence, 7, files, 4, &count, &log, &length) == 0 && count == 1 &&
	          log != NULL,
	      "the ticket's evidence is its log");
	if (log == NULL)
		return;
	CHECK(strncmp(log,
	              "2026-11-18T11:06:40Z 10.0.0.5 [web1 vnet3] 10.0.0.5:40112 -> 192.0.2.25:25 "
	              "C: MAIL FROM:<promo@shop.example>\n",
	              strlen("2026-11-18T11:06:40Z 10.0.0.5 [web1 vnet3] 10.0.0.5:40112")) == 0,
	      "lines start with the UTC time, the source and the VM");
	CHECK(strstr(log, "\nX-Forged") == NULL && strstr(log, "hello  X-Forged") != NULL,
	      "text from the wire never starts a line of its own");
	CHECK(strstr(log, "spam: 31 attempts, 15 destinations") != NULL &&
	          strstr(log, "to 192.0.2.25 port 25 (tcp)") != NULL,
	      "the finding's counts and destinations are in the log");
	{
		char digest[ENCODE_SHA256_HEX];

		encode_sha256_hex(log, length, digest);
		CHECK(strcmp(files[0].sha256, digest) == 0 && files[0].bytes == length &&
		          strcmp(files[0].name, EVIDENCE_LOG_NAME) == 0 &&
		          strcmp(files[0].content_type, "text/plain") == 0,
		      "the log's digest and size are reported");
	}
	free(log);
}

static void
test_files(struct evidence *evidence)
{
	static char big[4000];
	struct report_file file, files[8];
	unsigned count;
	char *log, command[256];
	size_t length;
	int error;

	memset(big, 'p', sizeof(big));
	CHECK(evidence_add_file(evidence, 8, "excerpt.pcap", "application/vnd.tcpdump.pcap", big,
	                        1000, &file) == 0 &&
	          file.bytes == 1000 && strstr(file.path, "/evidence/8/excerpt.pcap") != NULL,
	      "a capture adds its pcap excerpt through evidence_add_file");
	CHECK(evidence_add_file(evidence, 8, "../escape", "text/plain", "x", 1, NULL) == -EINVAL &&
	          evidence_add_file(evidence, 8, "SHA256SUMS", "text/plain", "x", 1, NULL) ==
	              -EINVAL,
	      "a name that leaves the directory, or takes SHA256SUMS', is refused");
	CHECK(evidence_add_file(evidence, 8, "second.pcap", "x", big, 1000, NULL) == 0,
	      "a second file fits");
	error = evidence_add_file(evidence, 8, "third.pcap", "x", big, 10, NULL);
	CHECK(error == -ENOSPC && evidence->stats.files_refused == 1,
	      "a third file is refused: limits.ticket_evidence_files is 2 (%d)", error);
	CHECK(evidence_add_file(evidence, 8, "second.pcap", "x", big, 3200, NULL) == -ENOSPC &&
	          evidence->stats.files_refused == 2,
	      "a file that would pass limits.ticket_evidence_bytes (4096) is refused too");
	CHECK(evidence_collect(evidence, 8, files, 8, &count, &log, &length) == 0 && count == 2 &&
	          log == NULL,
	      "the ticket lists its two files");
	snprintf(command, sizeof(command), "cd %s/evidence/8 && sha256sum --quiet -c SHA256SUMS",
	         dir);
	CHECK(system(command) == 0, "sha256sum -c agrees with every digest");
}

static void
test_log_bound(struct evidence *evidence)
{
	struct source_key source;
	char line[200];
	int error = 0, written = 0;

	source_parse("10.0.0.6", 64, &source);
	memset(line, 'h', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	while (written < 100 &&
	       (error = evidence_log(evidence, 9, 1795000000000LL, &source, NULL, line)) == 0)
		written++;
	CHECK(error == -ENOSPC && written > 10 && written < 25 &&
	          evidence->stats.lines_dropped == 1,
	      "the log stops at limits.ticket_evidence_bytes, the dropped line counted (%d lines)",
	      written);
}

int
main(void)
{
	struct evidence evidence;
	char command[128];

	log_init(0, 0, "test_evidence");
	if (mkdtemp(dir) == NULL)
		return 1;
	CHECK(evidence_init(&evidence, dir, 2, 4096) == 0, "the evidence directory is made");
	test_log(&evidence);
	test_files(&evidence);
	test_log_bound(&evidence);
	snprintf(command, sizeof(command), "rm -rf %s", dir);
	(void)system(command);
	return check_done();
}
