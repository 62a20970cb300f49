/*
 * HTTP/1.x responses out of the server's side of one connection (RFC 9112
 * sections 4 to 7), one line at a time into a small buffer; bodies are
 * counted down and kept only when the request asked for them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"
#include "http_response.h"

#define EXPECT_KEEP 1
#define EXPECT_HEAD 2

void
http_response_init(struct http_response_flow *flow, size_t max_body_bytes)
{
	memset(flow, 0, sizeof(*flow));
	flow->state = RESPONSE_STATUS;
	flow->max_body_bytes = max_body_bytes;
}

static void
response_reset(struct http_response_flow *flow)
{
	free(flow->body);
	free(flow->location);
	flow->body = NULL;
	flow->location = NULL;
	flow->body_len = flow->body_size = 0;
	flow->body_ignored = 0;
	flow->status = 0;
	flow->chunked = flow->have_length = false;
	flow->remaining = 0;
	flow->headers = 0;
	flow->keep = flow->head = false;
}

void
http_response_free(struct http_response_flow *flow)
{
	response_reset(flow);
	free(flow->line);
	flow->line = NULL;
	flow->line_len = 0;
}

int
http_response_expect(struct http_response_flow *flow, struct http_response_stats *stats, bool keep,
                     bool head)
{
	if (flow->state == RESPONSE_LOST)
		return 0;
	if (flow->expect_count == HTTP_RESPONSE_EXPECT_MAX) {
		stats->expect_overflows++;
		http_response_lost(flow);
		return -ENOSPC;
	}
	flow->expect[flow->expect_count++] = (keep ? EXPECT_KEEP : 0) | (head ? EXPECT_HEAD : 0);
	return 0;
}

bool
http_response_wanted(const struct http_response_flow *flow)
{
	if (flow->state == RESPONSE_LOST)
		return false;
	if (flow->state != RESPONSE_STATUS && flow->keep)
		return true;
	for (unsigned i = 0; i < flow->expect_count; i++)
		if (flow->expect[i] & EXPECT_KEEP)
			return true;
	return false;
}

void
http_response_lost(struct http_response_flow *flow)
{
	response_reset(flow);
	flow->line_len = 0;
	flow->expect_count = 0;
	flow->state = RESPONSE_LOST;
}

static int
fail(struct http_response_flow *flow, struct http_response_stats *stats)
{
	stats->errors++;
	http_response_lost(flow);
	return -EBADMSG;
}

static void
deliver(struct http_response_flow *flow, struct http_response_stats *stats, bool complete,
        http_response_fn done, void *context)
{
	struct http_response response = {
	    .status = flow->status,
	    .location = flow->location,
	    .body = flow->keep ? (flow->body != NULL ? flow->body : "") : NULL,
	    .body_len = flow->body_len,
	    .body_ignored = flow->body_ignored,
	    .complete = complete,
	};

	stats->responses++;
	if (flow->keep) {
		stats->kept++;
		if (done != NULL)
			done(context, &response);
	}
	response_reset(flow);
	flow->state = RESPONSE_STATUS;
}

/* "HTTP/1.1 200 OK": the status, or -1. */
static int
parse_status_line(const char *line, size_t len)
{
	int status = 0;

	if (len < 12 || memcmp(line, "HTTP/1.", 7) != 0 || line[7] < '0' || line[7] > '9' ||
	    line[8] != ' ')
		return -1;
	for (size_t i = 9; i < 12; i++) {
		if (line[i] < '0' || line[i] > '9')
			return -1;
		status = status * 10 + (line[i] - '0');
	}
	if (len > 12 && line[12] != ' ')
		return -1;
	return status >= 100 && status <= 599 ? status : -1;
}

static bool
header_is(const char *line, size_t name_len, const char *wanted)
{
	return strlen(wanted) == name_len && strncasecmp(line, wanted, name_len) == 0;
}

/* One header line; 0 or -1 for garbage. */
static int
parse_header(struct http_response_flow *flow, const char *line, size_t len)
{
	const char *colon = memchr(line, ':', len), *value, *end = line + len;
	size_t name_len;
	uint64_t length;

	if (colon == NULL || colon == line || line[0] == ' ' || line[0] == '\t')
		return -1;
	name_len = (size_t)(colon - line);
	if (line[name_len - 1] == ' ' || line[name_len - 1] == '\t')
		return -1;
	for (value = colon + 1; value < end && (*value == ' ' || *value == '\t'); value++)
		;
	while (end > value && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (header_is(line, name_len, "content-length")) {
		if (http_content_length_parse(value, (size_t)(end - value), &length) < 0 ||
		    (flow->have_length && flow->remaining != length))
			return -1;
		flow->have_length = true;
		flow->remaining = length;
	} else if (header_is(line, name_len, "transfer-encoding")) {
		size_t n = (size_t)(end - value);

		/* The last coding decides; anything but chunked is framed by the close. */
		flow->chunked = n >= 7 && strncasecmp(end - 7, "chunked", 7) == 0;
	} else if (header_is(line, name_len, "location") && flow->keep &&
	           (size_t)(end - value) < HTTP_RESPONSE_LOCATION_MAX && flow->location == NULL) {
		flow->location = strndup(value, (size_t)(end - value));
	}
	return 0;
}

/* The head ended: where the body is, per RFC 9112 6.3. */
static void
head_done(struct http_response_flow *flow, struct http_response_stats *stats, http_response_fn done,
          void *context)
{
	if (flow->head || flow->status == 204 || flow->status == 304) {
		deliver(flow, stats, true, done, context);
	} else if (flow->chunked) {
		flow->state = RESPONSE_CHUNK_SIZE;
	} else if (flow->have_length) {
		flow->state = RESPONSE_BODY;
		if (flow->remaining == 0)
			deliver(flow, stats, true, done, context);
	} else {
		flow->state = RESPONSE_BODY_CLOSE;
	}
}

/* A complete line (without its line break); 0 or -1 for garbage. */
static int
read_line(struct http_response_flow *flow, struct http_response_stats *stats, const char *line,
          size_t len, http_response_fn done, void *context)
{
	int64_t size;

	switch (flow->state) {
	case RESPONSE_STATUS:
		if (len == 0)
			return 0; /* a stray line break between responses */
		if ((flow->status = parse_status_line(line, len)) < 0)
			return -1;
		flow->headers = 0;
		flow->state = RESPONSE_HEADERS;
		if (flow->status >= 200) {
			if (flow->expect_count > 0) {
				flow->keep = flow->expect[0] & EXPECT_KEEP;
				flow->head = flow->expect[0] & EXPECT_HEAD;
				memmove(flow->expect, flow->expect + 1, --flow->expect_count);
			} else {
				stats->unexpected++; /* the request was before the capture began */
			}
		}
		return 0;
	case RESPONSE_HEADERS:
		if (len > 0)
			return ++flow->headers > HTTP_RESPONSE_HEADERS_MAX
			           ? -1
			           : parse_header(flow, line, len);
		if (flow->status < 200) { /* 1xx: the real response follows */
			response_reset(flow);
			flow->state = RESPONSE_STATUS;
			return 0;
		}
		head_done(flow, stats, done, context);
		return 0;
	case RESPONSE_CHUNK_SIZE:
		if ((size = http_chunk_size_parse(line, len)) < 0)
			return -1;
		flow->remaining = (uint64_t)size;
		flow->headers = 0;
		flow->state = size > 0 ? RESPONSE_CHUNK_DATA : RESPONSE_TRAILER;
		return 0;
	case RESPONSE_CHUNK_END:
		if (len != 0)
			return -1;
		flow->state = RESPONSE_CHUNK_SIZE;
		return 0;
	case RESPONSE_TRAILER:
		if (len == 0)
			deliver(flow, stats, true, done, context);
		else if (++flow->headers > HTTP_RESPONSE_HEADERS_MAX)
			return -1;
		return 0;
	default:
		return -1;
	}
}

/* Body bytes: kept up to the cap when wanted, else only counted. 0 or -ENOMEM. */
static int
body_bytes(struct http_response_flow *flow, const char *p, size_t len)
{
	size_t room, take;

	if (!flow->keep)
		return 0;
	room = flow->max_body_bytes - flow->body_len;
	take = len < room ? len : room;
	if (take > 0) {
		/* Grown as the body comes: most robots.txt are a few KiB, the cap is 500. */
		if (flow->body_len + take + 1 > flow->body_size) {
			size_t size = flow->body_size ? flow->body_size : 4096;
			char *grown;

			while (size < flow->body_len + take + 1)
				size *= 2;
			if (size > flow->max_body_bytes + 1)
				size = flow->max_body_bytes + 1;
			if ((grown = realloc(flow->body, size)) == NULL)
				return -ENOMEM;
			flow->body = grown;
			flow->body_size = size;
		}
		memcpy(flow->body + flow->body_len, p, take);
		flow->body_len += take;
		flow->body[flow->body_len] = '\0';
	}
	flow->body_ignored += len - take;
	return 0;
}

/* Bytes of a line: up to and with its '\n'; returns how many were used, or -1. */
static ssize_t
line_bytes(struct http_response_flow *flow, struct http_response_stats *stats, const char *p,
           size_t len, http_response_fn done, void *context)
{
	const char *newline = memchr(p, '\n', len);
	size_t n = newline != NULL ? (size_t)(newline - p) : len;
	const char *line = p;
	size_t line_len = n;

	if (flow->line_len + n > HTTP_RESPONSE_LINE_MAX)
		return -1;
	if (newline == NULL || flow->line_len > 0) {
		if (flow->line == NULL && (flow->line = malloc(HTTP_RESPONSE_LINE_MAX)) == NULL)
			return -2;
		memcpy(flow->line + flow->line_len, p, n);
		flow->line_len += n;
		if (newline == NULL)
			return (ssize_t)len;
		line = flow->line;
		line_len = flow->line_len;
		flow->line_len = 0;
	}
	if (line_len > 0 && line[line_len - 1] == '\r')
		line_len--;
	if (memchr(line, '\r', line_len) != NULL || memchr(line, '\0', line_len) != NULL)
		return -1;
	if (read_line(flow, stats, line, line_len, done, context) < 0)
		return -1;
	return (ssize_t)(n + 1);
}

int
http_response_feed(struct http_response_flow *flow, struct http_response_stats *stats,
                   const void *data, size_t len, http_response_fn done, void *context)
{
	const char *p = data;

	while (len > 0 && flow->state != RESPONSE_LOST) {
		ssize_t used;
		size_t step;

		switch (flow->state) {
		case RESPONSE_BODY:
		case RESPONSE_CHUNK_DATA:
			step = flow->remaining < len ? (size_t)flow->remaining : len;
			if (body_bytes(flow, p, step) < 0)
				return -ENOMEM;
			flow->remaining -= step;
			used = (ssize_t)step;
			if (flow->remaining == 0 && flow->state == RESPONSE_CHUNK_DATA)
				flow->state = RESPONSE_CHUNK_END;
			else if (flow->remaining == 0)
				deliver(flow, stats, true, done, context);
			break;
		case RESPONSE_BODY_CLOSE:
			if (body_bytes(flow, p, len) < 0)
				return -ENOMEM;
			used = (ssize_t)len;
			break;
		default:
			used = line_bytes(flow, stats, p, len, done, context);
			if (used == -2)
				return -ENOMEM;
			break;
		}
		if (used < 0)
			return fail(flow, stats);
		p += used;
		len -= (size_t)used;
	}
	return 0;
}

void
http_response_end(struct http_response_flow *flow, struct http_response_stats *stats,
                  http_response_fn done, void *context)
{
	if (flow->state == RESPONSE_BODY_CLOSE)
		deliver(flow, stats, true, done, context);
	else if (flow->state != RESPONSE_STATUS && flow->state != RESPONSE_LOST &&
	         flow->status >= 200)
		deliver(flow, stats, false, done, context);
	http_response_lost(flow);
}
