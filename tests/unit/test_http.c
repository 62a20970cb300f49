/*
 * The HTTP/1.x request reader: requests split across segments at every
 * byte, pipelined with bodies in between, retransmitted, with segments
 * lost, and malformed; each error resets the flow and the next segment is
 * read again.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "http.h"

#define SEEN_MAX 16

struct seen {
	char method[16], target[256], path[256], host[64], agent[128], product[32];
	bool has_path, has_host, has_agent;
	enum http_target_form form;
	unsigned minor;
	uint32_t seq;
};

struct collector {
	struct seen seen[SEEN_MAX];
	unsigned count;
};

static void
copy(char *out, size_t size, const char *in, size_t len)
{
	snprintf(out, size, "%.*s", (int)len, in != NULL ? in : "");
}

static void
collect(void *context, const struct http_request *request)
{
	struct collector *collector = context;
	struct seen *seen;

	if (collector->count >= SEEN_MAX)
		return;
	seen = &collector->seen[collector->count++];
	copy(seen->method, sizeof(seen->method), request->method, request->method_len);
	copy(seen->target, sizeof(seen->target), request->target, request->target_len);
	copy(seen->path, sizeof(seen->path), request->path, request->path_len);
	copy(seen->host, sizeof(seen->host), request->host, request->host_len);
	copy(seen->agent, sizeof(seen->agent), request->user_agent, request->user_agent_len);
	copy(seen->product, sizeof(seen->product), request->product, request->product_len);
	seen->has_path = request->path != NULL;
	seen->has_host = request->host != NULL;
	seen->has_agent = request->user_agent != NULL;
	seen->form = request->form;
	seen->minor = request->version_minor;
	seen->seq = request->seq;
}

struct reader {
	struct http_limits limits;
	struct http_stats stats;
	struct http_flow flow;
	struct collector collector;
	int last_result;
};

static void
reader_init(struct reader *reader)
{
	memset(reader, 0, sizeof(*reader));
	http_limits_default(&reader->limits);
	http_flow_init(&reader->flow);
}

static int
feed(struct reader *reader, uint32_t seq, const char *data, size_t len)
{
	reader->last_result = http_feed(&reader->flow, &reader->limits, &reader->stats, seq, data,
	                                len, collect, &reader->collector);
	return reader->last_result;
}

/* A keep-alive stream: a GET, a POST with a body, a chunked POST, a GET; bare LF in one. */
static const char stream[] = "GET /a?x=1 HTTP/1.1\r\n"
                             "Host: shop.example\r\n"
                             "User-Agent: FooBot/1.2 (+http://foo.example/bot)\r\n"
                             "\r\n"
                             "POST /form HTTP/1.1\r\n"
                             "Host: shop.example\r\n"
                             "Content-Length: 13\r\n"
                             "\r\n"
                             "GET /no HTTP/"
                             "POST /upload HTTP/1.1\r\n"
                             "Host: shop.example\r\n"
                             "Transfer-Encoding: gzip, chunked\r\n"
                             "\r\n"
                             "5;ext=1\r\nGET /\r\n"
                             "0\r\n"
                             "Trailer: x\r\n"
                             "\r\n"
                             "GET /private/b HTTP/1.0\n"
                             "host: shop.example:8080\n"
                             "user-agent: Mozilla/5.0 (compatible; BarBot/2.0)\n"
                             "\n";

static bool
stream_seen(const struct reader *reader, uint32_t seq0)
{
	const struct collector *c = &reader->collector;

	return c->count == 4 && strcmp(c->seen[0].method, "GET") == 0 &&
	       strcmp(c->seen[0].path, "/a?x=1") == 0 &&
	       strcmp(c->seen[0].host, "shop.example") == 0 &&
	       strcmp(c->seen[0].product, "FooBot") == 0 && c->seen[0].seq == seq0 &&
	       strcmp(c->seen[1].method, "POST") == 0 && strcmp(c->seen[1].path, "/form") == 0 &&
	       strcmp(c->seen[2].path, "/upload") == 0 &&
	       strcmp(c->seen[3].path, "/private/b") == 0 &&
	       strcmp(c->seen[3].host, "shop.example:8080") == 0 &&
	       strcmp(c->seen[3].product, "Mozilla") == 0 && c->seen[3].minor == 0 &&
	       c->seen[3].seq == seq0 + (uint32_t)(strstr(stream, "GET /private") - stream) &&
	       reader->stats.requests == 4 && reader->flow.buffer == NULL &&
	       reader->flow.state == HTTP_STATE_HEAD;
}

static void
test_one_segment(void)
{
	struct reader reader;
	const struct seen *seen = &reader.collector.seen[0];

	reader_init(&reader);
	CHECK(feed(&reader, 1000, stream, sizeof(stream) - 1) == 0 && stream_seen(&reader, 1000),
	      "a keep-alive stream in one segment: 4 requests, bodies stepped over (%u seen)",
	      reader.collector.count);
	CHECK(strcmp(seen->agent, "FooBot/1.2 (+http://foo.example/bot)") == 0 &&
	          strcmp(seen->target, "/a?x=1") == 0 && seen->form == HTTP_ORIGIN_FORM &&
	          seen->minor == 1,
	      "the first: target, form, version and the whole User-Agent");
	CHECK(reader.stats.bytes == sizeof(stream) - 1, "every byte counted: %llu",
	      reader.stats.bytes);
	http_flow_free(&reader.flow);
}

/* Every place a segment boundary can fall, and a byte at a time. */
static void
test_split_anywhere(void)
{
	size_t len = sizeof(stream) - 1, failures = 0;
	struct reader reader;

	for (size_t cut = 1; cut < len; cut++) {
		reader_init(&reader);
		feed(&reader, 7, stream, cut);
		feed(&reader, 7 + (uint32_t)cut, stream + cut, len - cut);
		if (!stream_seen(&reader, 7))
			failures++;
		http_flow_free(&reader.flow);
	}
	CHECK(failures == 0, "split in two at each of %zu places: the same 4 requests (%zu differ)",
	      len - 1, failures);

	reader_init(&reader);
	for (size_t i = 0; i < len; i++)
		feed(&reader, 0xfffffff0u + (uint32_t)i, stream + i, 1);
	CHECK(stream_seen(&reader, 0xfffffff0u),
	      "a byte a segment, sequence numbers wrapping past 2^32: the same 4 requests");
	http_flow_free(&reader.flow);
}

static void
test_retransmission_and_gaps(void)
{
	static const char first[] = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHo";
	static const char post[] = "POST /p HTTP/1.1\r\nContent-Length: 1000\r\n\r\n";
	static const char next[] = "GET /after HTTP/1.1\r\nHost: a\r\n\r\n";
	const size_t first_len = sizeof(first) - 1;
	struct reader reader;
	uint32_t seq = 500;

	reader_init(&reader);
	feed(&reader, seq, first, first_len);
	feed(&reader, seq, first, first_len);                      /* retransmitted whole */
	feed(&reader, seq + 20, first + 20, first_len - 20);       /* and its tail */
	feed(&reader, seq + first_len - 2, "Host: a\r\n\r\n", 11); /* overlapping "Ho" */
	seq += first_len + 9;
	CHECK(reader.collector.count == 2 && strcmp(reader.collector.seen[1].path, "/2") == 0,
	      "retransmitted and overlapping segments give each request once (%u)",
	      reader.collector.count);
	CHECK(reader.stats.retransmitted_bytes == first_len + (first_len - 20) + 2,
	      "the bytes seen twice are counted: %llu", reader.stats.retransmitted_bytes);

	/* A lost segment inside a body with a length: stepped over. */
	feed(&reader, seq, post, sizeof(post) - 1);
	seq += sizeof(post) - 1;
	feed(&reader, seq, "0123456789", 10);
	feed(&reader, seq + 500, "x", 1);                  /* 490 body bytes lost */
	feed(&reader, seq + 1000, next, sizeof(next) - 1); /* and the body's last 499 */
	CHECK(reader.collector.count == 4 && strcmp(reader.collector.seen[3].path, "/after") == 0 &&
	          reader.stats.gaps == 2,
	      "a segment lost in a body is stepped over, the next request read (%u, gaps %llu)",
	      reader.collector.count, reader.stats.gaps);
	seq += 1000 + sizeof(next) - 1;

	/* A lost segment inside a head: the flow starts again after it. */
	feed(&reader, seq, "GET /lost HTTP/1.1\r\nHo", 22);
	feed(&reader, seq + 40, next, sizeof(next) - 1);
	CHECK(reader.collector.count == 5 && strcmp(reader.collector.seen[4].path, "/after") == 0 &&
	          reader.stats.gaps == 3,
	      "a segment lost in a head resets the flow; the next segment is a new request");
	CHECK(reader.flow.buffer == NULL, "nothing stays buffered between requests");
	http_flow_free(&reader.flow);
}

static void
test_forms(void)
{
	static const char requests[] =
	    "\r\n\r\nGET http://user@Proxy.Example:8080/p/q?r HTTP/1.1\r\n"
	    "Host: ignored.example\r\nHost: twice.example\r\n\r\n"
	    "GET http://bare.example HTTP/1.1\r\n\r\n"
	    "CONNECT bare.example:443 HTTP/1.1\r\n\r\n"
	    "OPTIONS * HTTP/1.1\r\n\r\n"
	    "HEAD /h HTTP/1.1\r\nUser-Agent:  \r\n\r\n";
	struct reader reader;
	const struct seen *s = reader.collector.seen;

	reader_init(&reader);
	feed(&reader, 1, requests, sizeof(requests) - 1);
	CHECK(reader.collector.count == 5,
	      "blank lines before a request are skipped: 5 requests (%u)", reader.collector.count);
	CHECK(s[0].form == HTTP_ABSOLUTE_FORM && strcmp(s[0].host, "Proxy.Example:8080") == 0 &&
	          strcmp(s[0].path, "/p/q?r") == 0 && s[0].seq == 5,
	      "absolute-form: the authority is the host (Host headers ignored), the path follows");
	CHECK(strcmp(s[1].path, "/") == 0 && strcmp(s[1].host, "bare.example") == 0,
	      "absolute-form without a path: \"/\"");
	CHECK(s[2].form == HTTP_AUTHORITY_FORM && !s[2].has_path && !s[2].has_host,
	      "CONNECT's authority-form has no path");
	CHECK(s[3].form == HTTP_ASTERISK_FORM && !s[3].has_path, "OPTIONS * has no path");
	CHECK(s[4].has_agent && s[4].agent[0] == '\0' && s[4].product[0] == '\0' && !s[4].has_host,
	      "an empty User-Agent: empty product token; no Host: none");
	http_flow_free(&reader.flow);
}

struct bad_case {
	const char *name;
	const char *text;
	enum http_error error;
	unsigned requests; /* heads read before the error */
};

static void
test_errors(void)
{
	static const char next[] = "GET /next HTTP/1.1\r\nHost: a\r\n\r\n";
	static const struct bad_case cases[] = {
	    {"TLS on port 80", "\x16\x03\x01\x02\x01\x01\x01\x01\xfc\x03\x03",
	     HTTP_ERROR_REQUEST_LINE, 0},
	    {"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", HTTP_ERROR_VERSION, 0},
	    {"HTTP/0.9", "GET /\r\n\r\n", HTTP_ERROR_REQUEST_LINE, 0},
	    {"two blanks after the method", "GET  / HTTP/1.1\r\n\r\n", HTTP_ERROR_REQUEST_LINE, 0},
	    {"a relative target", "GET a/b HTTP/1.1\r\n\r\n", HTTP_ERROR_REQUEST_LINE, 0},
	    {"a control byte in the target", "GET /a\x01 HTTP/1.1\r\n\r\n", HTTP_ERROR_REQUEST_LINE,
	     0},
	    {"a blank before the colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", HTTP_ERROR_HEADER,
	     0},
	    {"no colon", "GET / HTTP/1.1\r\nHost a\r\n\r\n", HTTP_ERROR_HEADER, 0},
	    {"a folded line", "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", HTTP_ERROR_HEADER, 0},
	    {"a bare CR", "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", HTTP_ERROR_HEADER, 0},
	    {"a second Host", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", HTTP_ERROR_HOST, 0},
	    {"two lengths", "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
	     HTTP_ERROR_LENGTH, 0},
	    {"a signed length", "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", HTTP_ERROR_LENGTH,
	     0},
	    {"gzip last", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
	     HTTP_ERROR_LENGTH, 0},
	    {"a bad chunk size", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
	     HTTP_ERROR_CHUNK, 1},
	    {"a huge chunk",
	     "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	     "1000000000000000\r\n",
	     HTTP_ERROR_CHUNK, 1},
	    {"no line break after a chunk",
	     "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	     "1\r\nab\r\n",
	     HTTP_ERROR_CHUNK, 1},
	};
	struct reader reader;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct bad_case *bad = &cases[i];
		int rc;

		reader_init(&reader);
		rc = feed(&reader, 1, bad->text, strlen(bad->text));
		CHECK(rc == -EBADMSG && reader.flow.last_error == bad->error &&
		          reader.stats.errors[bad->error] == 1 &&
		          reader.collector.count == bad->requests,
		      "%s: refused as \"%s\" (%s)", bad->name, http_error_name(bad->error),
		      http_error_name(reader.flow.last_error));
		feed(&reader, 1 + (uint32_t)strlen(bad->text), next, sizeof(next) - 1);
		CHECK(reader.collector.count == bad->requests + 1 &&
		          strcmp(reader.collector.seen[bad->requests].path, "/next") == 0,
		      "%s: the next segment is read as a new request", bad->name);
		http_flow_free(&reader.flow);
	}
}

static void
small_limits(struct reader *reader)
{
	reader_init(reader);
	reader->limits.max_line_bytes = 64;
	reader->limits.max_head_bytes = 200;
	reader->limits.max_headers = 3;
}

static void
test_limits(void)
{
	struct reader reader;
	char text[4096];
	size_t len;
	uint32_t seq = 1;

	small_limits(&reader);
	len = (size_t)snprintf(text, sizeof(text), "GET /%0100d HTTP/1.1\r\n\r\n", 0);
	CHECK(feed(&reader, seq, text, len) == -EBADMSG &&
	          reader.flow.last_error == HTTP_ERROR_LINE_TOO_LONG,
	      "a request line past max_line_bytes is refused and counted");
	seq += (uint32_t)len;
	CHECK(feed(&reader, seq, "GET /a HTTP/1.1\r\nX: 1234567890", 30) == 0 &&
	          reader.flow.buffer != NULL,
	      "a head split across segments is buffered");
	seq += 30;
	len = (size_t)snprintf(text, sizeof(text), "%060d", 0);
	CHECK(feed(&reader, seq, text, len) == -EBADMSG &&
	          reader.flow.last_error == HTTP_ERROR_LINE_TOO_LONG && reader.flow.buffer == NULL,
	      "a header line that grows past the limit over segments: refused, buffer freed");
	http_flow_free(&reader.flow);

	small_limits(&reader);
	len = (size_t)snprintf(text, sizeof(text),
	                       "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n");
	CHECK(feed(&reader, 1, text, len) == -EBADMSG &&
	          reader.flow.last_error == HTTP_ERROR_TOO_MANY_HEADERS,
	      "a fourth header past max_headers 3 is refused");
	http_flow_free(&reader.flow);

	small_limits(&reader);
	len = (size_t)snprintf(text, sizeof(text), "GET / HTTP/1.1\r\n");
	for (int i = 0; i < 3; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len, "X: %060d\r\n", i);
	CHECK(feed(&reader, 1, text, len) == -EBADMSG &&
	          reader.flow.last_error == HTTP_ERROR_HEAD_TOO_LONG &&
	          reader.stats.errors[HTTP_ERROR_HEAD_TOO_LONG] == 1,
	      "a head past max_head_bytes is refused and counted");
	http_flow_free(&reader.flow);

	small_limits(&reader);
	len = (size_t)snprintf(text, sizeof(text),
	                       "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
	                       "A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n");
	CHECK(feed(&reader, 1, text, len) == -EBADMSG &&
	          reader.flow.last_error == HTTP_ERROR_TOO_MANY_HEADERS,
	      "trailer lines past max_headers are refused");
	http_flow_free(&reader.flow);
}

/* The blank line that ends a head counts against max_head_bytes (the fuzzer found it did not). */
static void
test_head_limit_exactly(void)
{
	struct reader reader;
	char text[128];
	size_t len;

	for (int extra = 0; extra <= 1; extra++) {
		small_limits(&reader);
		reader.limits.max_head_bytes = 64;
		/* 16 + 46 + extra bytes of lines, then the blank line: 64 + extra in all */
		len = (size_t)snprintf(text, sizeof(text), "GET / HTTP/1.1\r\nX: %0*d\r\n\r\n",
		                       41 + extra, 0);
		feed(&reader, 1, text, 10);
		feed(&reader, 11, text + 10, len - 10);
		CHECK(extra ? reader.flow.last_error == HTTP_ERROR_HEAD_TOO_LONG
		            : reader.collector.count == 1,
		      "a head split across segments of %zu bytes with max_head_bytes 64: %s", len,
		      extra ? "refused" : "read");
		http_flow_free(&reader.flow);
	}
}

int
main(void)
{
	test_one_segment();
	test_split_anywhere();
	test_retransmission_and_gaps();
	test_forms();
	test_errors();
	test_limits();
	test_head_limit_exactly();
	return check_done();
}
