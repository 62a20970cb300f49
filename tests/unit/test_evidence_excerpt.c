/*
 * A ticket's pcap excerpt as the desk opens it: libpcap reads the file in
 * the ticket's evidence folder, it holds the offender's packets and no one
 * else's, it is listed with its SHA-256, a later excerpt starts where it is
 * told, and the ticket's limits hold: an excerpt takes at most half of what
 * is left, and a ticket with no room left gets none, counted.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>

#include "check.h"
#include "encode.h"
#include "evidence_excerpt.h"
#include "frame.h"
#include "log.h"
#include "source.h"

#define IFINDEX 7

static char dir[] = "/tmp/abuseguard-excerpt.XXXXXX";
static int64_t clock_us = 1795000000000000LL;

static void
send_packet(struct wire *wire, const char *from, uint16_t sport, const char *to, uint16_t dport,
            const char *payload)
{
	uint8_t buffer[256];
	size_t n = test_frame(buffer, from, sport, to, dport, 1, TCP_ACK | TCP_PSH, payload,
	                      strlen(payload));

	wire_packet(wire, IFINDEX, buffer, n, n, clock_us += 1000, true);
}

/* The packets of a pcap file: how many, and whether each is to or from addr. */
static int
read_excerpt(const char *path, const char *addr, bool *all_of_addr)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	pcap_t *pcap = pcap_open_offline(path, errbuf);
	struct pcap_pkthdr *header;
	const u_char *data;
	uint8_t want[4];
	int count = 0;

	*all_of_addr = true;
	if (pcap == NULL)
		return -1;
	inet_pton(AF_INET, addr, want);
	while (pcap_next_ex(pcap, &header, &data) == 1) {
		count++;
		if (header->caplen < 34 ||
		    (memcmp(data + 26, want, 4) != 0 && memcmp(data + 30, want, 4) != 0))
			*all_of_addr = false;
	}
	pcap_close(pcap);
	return count;
}

int
main(void)
{
	struct wire_config config = {
	    .max_flows = 64, .flow_idle_ms = 60000, .ring_packets = 64, .ring_bytes = 65536};
	struct wire_hooks hooks = {0};
	struct evidence evidence;
	struct report_file file;
	struct source_key source;
	struct wire *wire;
	char path[PATH_MAX + 64], command[128];
	int64_t later_ms;
	bool only;
	int n;

	log_init(0, 0, "test_evidence_excerpt");
	if (mkdtemp(dir) == NULL || wire_open(&wire, NULL, &config, &hooks) < 0)
		return 1;
	evidence_init(&evidence, dir, 4, 8192);
	source_parse("10.0.0.5", 64, &source);
	for (int i = 0; i < 5; i++) {
		send_packet(wire, "10.0.0.5", (uint16_t)(40000 + i), "192.0.2.25", 25,
		            "MAIL FROM:<offers@bulk.example>\r\n");
		send_packet(wire, "10.0.0.9", (uint16_t)(41000 + i), "192.0.2.25", 25,
		            "MAIL FROM:<honest@vm9.example>\r\n");
	}
	later_ms = clock_us / 1000 + 1;
	send_packet(wire, "10.0.0.5", 40010, "192.0.2.25", 25, "RCPT TO:<victim@example.net>\r\n");

	n = evidence_excerpt(&evidence, wire, 12, 1, "", &source, 0, &file);
	snprintf(path, sizeof(path), "%s/evidence/12/excerpt-1.pcap", dir);
	CHECK(n == 6 && strcmp(file.name, "excerpt-1.pcap") == 0 && strcmp(file.path, path) == 0 &&
	          strcmp(file.content_type, "application/vnd.tcpdump.pcap") == 0,
	      "the first excerpt keeps the source's 6 packets as excerpt-1.pcap (%d)", n);
	CHECK(read_excerpt(path, "10.0.0.5", &only) == 6 && only,
	      "libpcap reads it: 10.0.0.5's packets, none of its neighbour's");
	{
		struct report_file files[4];
		unsigned count;
		char *log;
		size_t length;

		CHECK(evidence_collect(&evidence, 12, files, 4, &count, &log, &length) == 0 &&
		          count == 1 && strcmp(files[0].sha256, file.sha256) == 0 &&
		          files[0].bytes == file.bytes,
		      "the ticket's evidence lists it with its SHA-256 and size");
		free(log);
	}
	CHECK(evidence_excerpt(&evidence, wire, 12, 2, "", &source, later_ms, &file) == 1,
	      "a later excerpt starts at its window: only the newer packet");
	CHECK(evidence_excerpt(&evidence, wire, 12, 3, "if-none", &source, 0, &file) == 0,
	      "an interface without a capture gives no excerpt and no file");
	source_parse("10.0.0.77", 64, &source);
	CHECK(evidence_excerpt(&evidence, wire, 13, 1, "", &source, 0, &file) == 0,
	      "a source with no packets in the ring gets no file");

	/* 8192 bytes a ticket: the first excerpt takes at most half. */
	source_parse("10.0.0.5", 64, &source);
	for (int i = 0; i < 60; i++)
		send_packet(wire, "10.0.0.5", (uint16_t)(42000 + i), "192.0.2.25", 25,
		            "DATA DATA DATA DATA DATA DATA DATA DATA DATA DATA DATA DATA\r\n");
	n = evidence_excerpt(&evidence, wire, 14, 1, "", &source, 0, &file);
	CHECK(n > 0 && n < 60 && file.bytes <= 4096,
	      "an excerpt takes at most half the ticket's bytes: %d packets, %llu bytes", n,
	      (unsigned long long)file.bytes);
	for (int i = 2; i <= 4; i++)
		(void)evidence_excerpt(&evidence, wire, 14, (uint64_t)i, "", &source, 0, NULL);
	evidence.stats.files_refused = 0;
	CHECK(evidence_excerpt(&evidence, wire, 14, 5, "", &source, 0, NULL) == -ENOSPC &&
	          evidence.stats.files_refused == 1,
	      "past limits.ticket_evidence_files the excerpt is refused and counted");

	wire_close(wire);
	snprintf(command, sizeof(command), "rm -rf %s", dir);
	(void)system(command);
	return check_done();
}
