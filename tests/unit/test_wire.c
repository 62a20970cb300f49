/*
 * The second eye without a network: Ethernet frames handed to wire_packet
 * as libpcap would. Requests split at every byte, pipelined on keep-alive
 * connections, robots.txt replies behind other responses, the flow table's
 * limit, SMTP lines up to STARTTLS, and the evidence ring with its pcap
 * excerpt read back by libpcap.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "check.h"
#include "fetch.h"
#include "frame.h"
#include "http_response.h"
#include "wire.h"

#define IFINDEX 7
#define VM_ADDR "10.0.0.5"
#define SITE    "10.0.1.2"

struct seen {
	unsigned requests, robots, smtp_commands, smtp_headers;
	char paths[16][64], hosts[16][64], agents[16][64];
	char robots_body[4096], robots_host[64];
	int robots_status;
	bool robots_complete;
	char smtp[16][128];
	unsigned smtp_count;
};

static void
on_request(void *arg, const struct wire_request *request)
{
	struct seen *seen = arg;
	const struct http_request *http = request->http;

	if (seen->requests < 16) {
		snprintf(seen->paths[seen->requests], 64, "%.*s", (int)http->path_len, http->path);
		snprintf(seen->hosts[seen->requests], 64, "%.*s", (int)http->host_len,
		         http->host ? http->host : "");
		snprintf(seen->agents[seen->requests], 64, "%.*s", (int)http->product_len,
		         http->product ? http->product : "");
	}
	seen->requests++;
}

static void
on_robots(void *arg, const struct wire_robots *reply)
{
	struct seen *seen = arg;

	seen->robots++;
	seen->robots_status = reply->http->status;
	seen->robots_complete = reply->http->complete;
	snprintf(seen->robots_body, sizeof(seen->robots_body), "%.*s", (int)reply->http->body_len,
	         reply->http->body);
	snprintf(seen->robots_host, sizeof(seen->robots_host), "%s",
	         reply->host ? reply->host : "");
}

static void
on_smtp(void *arg, const struct wire_smtp_line *line)
{
	struct seen *seen = arg;

	if (line->kind == WIRE_SMTP_COMMAND)
		seen->smtp_commands++;
	else
		seen->smtp_headers++;
	if (seen->smtp_count < 16)
		snprintf(seen->smtp[seen->smtp_count++], 128, "%c %.*s",
		         line->kind == WIRE_SMTP_COMMAND ? 'C' : 'H', (int)line->len, line->text);
}

static struct wire *
open_wire(struct seen *seen, uint32_t max_flows, uint32_t ring_packets, uint32_t ring_bytes)
{
	struct wire_config config = {
	    .http_ports = {80, 8080},
	    .http_port_count = 2,
	    .max_flows = max_flows,
	    .flow_idle_ms = 60000,
	    .ring_packets = ring_packets,
	    .ring_bytes = ring_bytes,
	    .robots_max_bytes = 500 * 1024,
	};
	struct wire_hooks hooks = {on_request, on_robots, on_smtp, seen};
	struct wire *wire = NULL;

	memset(seen, 0, sizeof(*seen));
	http_limits_default(&config.http);
	if (wire_open(&wire, NULL, &config, &hooks) < 0)
		abort();
	return wire;
}

static int64_t clock_us = 1700000000000000LL;

/* Bytes from the VM (client) or toward it (server) on one connection. */
static void
send_bytes(struct wire *wire, bool from_vm, uint16_t vm_port, uint16_t server_port, uint32_t seq,
           uint8_t flags, const void *payload, size_t len)
{
	static uint8_t buffer[70000];
	size_t n =
	    from_vm
	        ? test_frame(buffer, VM_ADDR, vm_port, SITE, server_port, seq, flags, payload, len)
	        : test_frame(buffer, SITE, server_port, VM_ADDR, vm_port, seq, flags, payload, len);

	clock_us += 1000;
	wire_packet(wire, IFINDEX, buffer, n, n, clock_us, from_vm);
}

static void
test_split_everywhere(void)
{
	static const char request[] = "GET /private/a?b=1 HTTP/1.1\r\nHost: Shop.Example\r\n"
	                              "User-Agent: FooBot/2.1 (+http://foo.example)\r\n\r\n";
	size_t len = sizeof(request) - 1;
	unsigned good = 0;

	for (size_t cut = 1; cut < len; cut++) {
		struct seen seen;
		struct wire *wire = open_wire(&seen, 64, 0, 0);
		uint32_t isn = 1000;

		send_bytes(wire, true, 40000, 80, isn, 0x02, NULL, 0);
		send_bytes(wire, true, 40000, 80, isn + 1, 0x18, request, cut);
		send_bytes(wire, true, 40000, 80, isn + 1 + (uint32_t)cut, 0x18, request + cut,
		           len - cut);
		good += seen.requests == 1 && strcmp(seen.paths[0], "/private/a?b=1") == 0 &&
		        strcmp(seen.hosts[0], "Shop.Example") == 0 &&
		        strcmp(seen.agents[0], "FooBot") == 0;
		wire_close(wire);
	}
	CHECK(good == len - 1, "a request split in two at each of its %zu places is read whole: %u",
	      len - 1, good);
}

static void
test_pipelined_keepalive(void)
{
	static const char two[] = "GET /one HTTP/1.1\r\nHost: a\r\n\r\n"
	                          "POST /two HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
	                          "GET /three HTTP/1.1\r\nHost: a\r\n\r\n";
	static const char later[] = "GET /four HTTP/1.1\r\nHost: a\r\n\r\n";
	struct seen seen;
	struct wire *wire = open_wire(&seen, 64, 0, 0);
	struct wire_stats stats;

	send_bytes(wire, true, 40001, 8080, 1, 0x18, two, sizeof(two) - 1);
	/* A retransmission of the first bytes, then the keep-alive connection's next request. */
	send_bytes(wire, true, 40001, 8080, 1, 0x18, two, 20);
	send_bytes(wire, true, 40001, 8080, 1 + sizeof(two) - 1, 0x18, later, sizeof(later) - 1);
	CHECK(seen.requests == 4 && strcmp(seen.paths[1], "/two") == 0 &&
	          strcmp(seen.paths[2], "/three") == 0 && strcmp(seen.paths[3], "/four") == 0,
	      "pipelined requests around a body and a later one on the same connection: %u read",
	      seen.requests);
	wire_stats(wire, &stats);
	CHECK(stats.flows == 1 && stats.http.retransmitted_bytes == 20,
	      "one flow on port 8080, the retransmission skipped (%llu bytes)",
	      stats.http.retransmitted_bytes);
	wire_close(wire);
}

static void
test_robots_reply(void)
{
	static const char requests[] = "GET /index.html HTTP/1.1\r\nHost: shop.lab\r\n\r\n"
	                               "GET /robots.txt HTTP/1.1\r\nHost: shop.lab\r\n\r\n";
	static const char first[] = "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n<html></ht";
	static const char second[] =
	    "ml>HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n"
	    "e\r\nUser-agent: *\n\r\n13\r\nDisallow: /private/\r\n0\r\n\r\n";
	struct seen seen;
	struct wire *wire = open_wire(&seen, 64, 0, 0);
	uint32_t server = 5000;

	send_bytes(wire, false, 40002, 80, server, 0x12, NULL, 0); /* SYN-ACK */
	send_bytes(wire, true, 40002, 80, 1, 0x18, requests, sizeof(requests) - 1);
	send_bytes(wire, false, 40002, 80, server + 1, 0x18, first, sizeof(first) - 1);
	CHECK(seen.robots == 0, "the page's response is stepped over, not taken for robots.txt");
	send_bytes(wire, false, 40002, 80, server + sizeof(first), 0x18, second,
	           sizeof(second) - 1);
	CHECK(seen.robots == 1 && seen.robots_status == 200 && seen.robots_complete &&
	          strcmp(seen.robots_body, "User-agent: *\nDisallow: /private/") == 0 &&
	          strcmp(seen.robots_host, "shop.lab") == 0,
	      "the robots.txt reply behind another response and a 100 is read whole, chunked: "
	      "status %d, host %s, body \"%s\"",
	      seen.robots_status, seen.robots_host, seen.robots_body);
	wire_close(wire);
}

static void
test_robots_kept_limit(void)
{
	static const char request[] = "GET /robots.txt HTTP/1.1\r\nHost: shop.lab\r\n\r\n";
	static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	struct seen seen;
	struct wire *wire = open_wire(&seen, 64, 0, 0);
	struct wire_stats stats;

	/* 17 connections ask for robots.txt before any reply: each reply may be 500 KiB. */
	for (uint16_t port = 0; port < 17; port++)
		send_bytes(wire, true, 44000 + port, 80, 1, 0x18, request, sizeof(request) - 1);
	wire_stats(wire, &stats);
	CHECK(stats.robots_not_kept == 1,
	      "past 16 robots.txt replies awaited at once the next "
	      "is not kept, counted: %llu",
	      (unsigned long long)stats.robots_not_kept);
	send_bytes(wire, false, 44000, 80, 7, 0x18, reply, sizeof(reply) - 1);
	send_bytes(wire, false, 44016, 80, 7, 0x18, reply, sizeof(reply) - 1);
	CHECK(seen.robots == 1, "the kept reply is read, the one past the limit is stepped over");
	send_bytes(wire, true, 45000, 80, 1, 0x18, request, sizeof(request) - 1);
	wire_stats(wire, &stats);
	CHECK(stats.robots_not_kept == 1, "a reply read frees its place for the next request");
	wire_close(wire);
}

static void
test_flow_limit(void)
{
	static const char partial[] = "GET /a HTTP/1.1\r\nHost: x\r\n";
	struct seen seen;
	struct wire *wire = open_wire(&seen, 16, 0, 0);
	struct wire_stats stats;

	for (uint16_t port = 0; port < 20; port++)
		send_bytes(wire, true, 41000 + port, 80, 1, 0x18, partial, sizeof(partial) - 1);
	wire_stats(wire, &stats);
	CHECK(stats.flows == 20 && stats.flows_evicted == 4,
	      "past 16 flows the least recently active go, counted: %llu evicted",
	      (unsigned long long)stats.flows_evicted);
	/* The newest flows are still there: their heads complete. */
	send_bytes(wire, true, 41019, 80, 1 + sizeof(partial) - 1, 0x18, "\r\n", 2);
	send_bytes(wire, true, 41000, 80, 1 + sizeof(partial) - 1, 0x18, "\r\n", 2);
	CHECK(seen.requests == 1,
	      "the newest flow completes its request, the evicted one does not");
	CHECK(stats.flows_open == 16, "16 flows are followed: %llu",
	      (unsigned long long)stats.flows_open);
	send_bytes(wire, true, 41019, 80, 3 + sizeof(partial) - 1, 0x04, "", 0);
	wire_stats(wire, &stats);
	CHECK(stats.flows_open == 15 && stats.flows_expired == 0,
	      "a reset connection is no longer followed: %llu open",
	      (unsigned long long)stats.flows_open);
	wire_expire(wire, clock_us / 1000 + 120000);
	wire_stats(wire, &stats);
	CHECK(stats.flows_expired == 15 && stats.flows_open == 0,
	      "idle flows are forgotten after flow_idle: %llu",
	      (unsigned long long)stats.flows_expired);
	wire_close(wire);
}

static void
test_smtp_lines(void)
{
	static const char dialogue[] = "EHLO vm.example\r\nMAIL FROM:<a@vm.example>\r\n"
	                               "RCPT TO:<b@net.example>\r\nDATA\r\n"
	                               "From: a@vm.example\r\nSubject: cheap pills\r\n\r\n"
	                               "body line\r\n.\r\nSTARTTLS\r\n";
	static const char secret[] = "AUTH PLAIN c2VjcmV0\r\n";
	struct seen seen;
	struct wire *wire = open_wire(&seen, 64, 0, 0);

	send_bytes(wire, true, 42000, 25, 99, 0x02, NULL, 0);
	for (size_t i = 0; i < sizeof(dialogue) - 1; i += 7)
		send_bytes(wire, true, 42000, 25, 100 + (uint32_t)i, 0x18, dialogue + i,
		           sizeof(dialogue) - 1 - i < 7 ? sizeof(dialogue) - 1 - i : 7);
	send_bytes(wire, true, 42000, 25, 100 + sizeof(dialogue) - 1, 0x18, secret,
	           sizeof(secret) - 1);
	CHECK(seen.smtp_commands == 5 && seen.smtp_headers == 2 &&
	          strcmp(seen.smtp[1], "C MAIL FROM:<a@vm.example>") == 0 &&
	          strcmp(seen.smtp[5], "H Subject: cheap pills") == 0 &&
	          strcmp(seen.smtp[6], "C STARTTLS") == 0,
	      "the envelope and header lines are handed on, the body and what follows STARTTLS "
	      "are not: %u commands, %u headers",
	      seen.smtp_commands, seen.smtp_headers);
	wire_close(wire);
}

static unsigned
pcap_count(const char *path, const char *host)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	pcap_t *pcap = pcap_open_offline(path, errbuf);
	struct pcap_pkthdr *header;
	const unsigned char *data;
	unsigned count = 0;
	uint8_t wanted[4];

	if (pcap == NULL)
		return 9999;
	inet_pton(AF_INET, host, wanted);
	while (pcap_next_ex(pcap, &header, &data) == 1)
		count += header->caplen >= 34 &&
		         (memcmp(data + 26, wanted, 4) == 0 || memcmp(data + 30, wanted, 4) == 0);
	pcap_close(pcap);
	return count;
}

static void
test_excerpt(void)
{
	char path[] = "/tmp/test_wire.XXXXXX";
	static const char request[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
	struct source_key vm, other;
	struct seen seen;
	struct wire *wire = open_wire(&seen, 64, 8, 4096);
	struct wire_stats stats;
	uint8_t buffer[256];
	int64_t since;
	int fd = mkstemp(path), written;
	size_t n;

	close(fd);
	source_parse(VM_ADDR, 64, &vm);
	source_parse("10.0.0.9", 64, &other);
	send_bytes(wire, true, 43000, 80, 1, 0x18, request, sizeof(request) - 1);
	since = clock_us / 1000 + 1;
	for (int i = 0; i < 4; i++)
		send_bytes(wire, true, 43001, 80, 1, 0x18, request, sizeof(request) - 1);
	n = test_frame(buffer, "10.0.0.9", 43002, SITE, 80, 1, 0x02, NULL, 0);
	wire_packet(wire, IFINDEX, buffer, n, n, clock_us += 1000, true);
	written = wire_excerpt_write(wire, NULL, &vm, since, path, 1 << 20);
	CHECK(written == 4 && pcap_count(path, VM_ADDR) == 4,
	      "the excerpt holds the source's packets since the time asked, no one else's: %d",
	      written);
	written = wire_excerpt_write(wire, NULL, &vm, 0, path, 24 + 2 * (16 + 81));
	CHECK(written == 2 && pcap_count(path, VM_ADDR) == 2,
	      "the excerpt stops before max_bytes: %d packets", written);
	CHECK(wire_excerpt_write(wire, "nosuch0", &vm, 0, path, 1 << 20) == -ENOENT,
	      "an excerpt of an unknown interface is -ENOENT");
	for (int i = 0; i < 8; i++)
		send_bytes(wire, true, 43003, 80, 1, 0x18, request, sizeof(request) - 1);
	wire_stats(wire, &stats);
	CHECK(stats.ring_wrapped >= 6 && wire_excerpt_write(wire, NULL, &vm, 0, path, 1 << 20) == 8,
	      "a ring of 8 packets keeps the latest 8; %llu pushed out, counted",
	      (unsigned long long)stats.ring_wrapped);
	(void)other;
	unlink(path);
	wire_close(wire);
}

static void
test_redirect_paths(void)
{
	char path[64];

	CHECK(fetch_redirect_path("/robots-new.txt", "shop.lab", 80, path, sizeof(path)) == 0 &&
	          strcmp(path, "/robots-new.txt") == 0,
	      "a redirect to a path stays on the site");
	CHECK(fetch_redirect_path("http://SHOP.lab/r.txt", "shop.lab", 80, path, sizeof(path)) ==
	              0 &&
	          strcmp(path, "/r.txt") == 0,
	      "an absolute redirect to the same host and port is followed");
	CHECK(fetch_redirect_path("http://shop.lab:8080/r.txt", "shop.lab", 8080, path,
	                          sizeof(path)) == 0,
	      "the port named when it is not 80");
	CHECK(fetch_redirect_path("https://shop.lab/robots.txt", "shop.lab", 80, path,
	                          sizeof(path)) == -EXDEV &&
	          fetch_redirect_path("http://other.lab/robots.txt", "shop.lab", 80, path,
	                              sizeof(path)) == -EXDEV &&
	          fetch_redirect_path("//other.lab/robots.txt", "shop.lab", 80, path,
	                              sizeof(path)) == -EXDEV,
	      "https, another host and a scheme-relative redirect leave the site: not followed");
}

struct responses {
	unsigned count;
	int status[8];
	size_t body_len[8];
	uint64_t ignored[8];
	bool complete[8];
};

static void
collect_response(void *context, const struct http_response *response)
{
	struct responses *responses = context;

	if (responses->count < 8) {
		responses->status[responses->count] = response->status;
		responses->body_len[responses->count] = response->body_len;
		responses->ignored[responses->count] = response->body_ignored;
		responses->complete[responses->count] = response->complete;
	}
	responses->count++;
}

static void
test_responses(void)
{
	static const char stream[] =
	    "HTTP/1.1 204 No Content\r\n\r\n"
	    "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
	    "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
	    "HTTP/1.1 301 Moved\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n"
	    "HTTP/1.0 200 OK\r\n\r\n0123456789";
	struct http_response_stats stats = {0};
	struct http_response_flow flow;
	struct responses seen = {0};

	http_response_init(&flow, 4);
	for (int i = 0; i < 5; i++)
		http_response_expect(&flow, &stats, true, i == 1);
	http_response_feed(&flow, &stats, stream, sizeof(stream) - 1, collect_response, &seen);
	CHECK(seen.count == 4 && seen.body_len[1] == 0 && seen.body_len[2] == 3,
	      "204, a HEAD's 200 (no body follows), a 200 with its body and the 301 are complete: "
	      "%u",
	      seen.count);
	http_response_end(&flow, &stats, collect_response, &seen);
	CHECK(seen.count == 5 && seen.status[4] == 200 && seen.body_len[4] == 4 &&
	          seen.ignored[4] == 6 && seen.complete[4],
	      "a body framed by the close ends with it, kept to the cap, the rest counted");
	http_response_free(&flow);

	memset(&seen, 0, sizeof(seen));
	http_response_init(&flow, 100);
	http_response_expect(&flow, &stats, true, false);
	http_response_feed(&flow, &stats, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 42,
	                   collect_response, &seen);
	http_response_end(&flow, &stats, collect_response, &seen);
	CHECK(seen.count == 1 && !seen.complete[0],
	      "a body cut short by the close is handed on as incomplete");
	http_response_free(&flow);

	memset(&seen, 0, sizeof(seen));
	http_response_init(&flow, 100);
	http_response_expect(&flow, &stats, true, false);
	CHECK(http_response_feed(&flow, &stats, "\x16\x03\x01\x02\x00\r\n", 7, collect_response,
	                         &seen) == -EBADMSG &&
	          !http_response_wanted(&flow),
	      "TLS bytes are not a response: the flow stops reading");
	http_response_free(&flow);
}

int
main(void)
{
	test_split_everywhere();
	test_pipelined_keepalive();
	test_robots_reply();
	test_robots_kept_limit();
	test_flow_limit();
	test_smtp_lines();
	test_excerpt();
	test_redirect_paths();
	test_responses();
	return check_done();
}
