/*
 * HTTP/1.x request heads out of one TCP direction (RFC 9112). A head that
 * arrives whole in one segment is parsed where it lies; only one split
 * across segments is copied into the flow's buffer. Bodies are counted
 * down, never kept.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "http.h"
#include "robots.h"

/* A chunk bigger than this (15 hex digits) is a lie or an attack: refused. */
#define HTTP_CHUNK_HEX_MAX 15

static const char *const error_names[HTTP_ERROR_COUNT] = {
    [HTTP_ERROR_NONE] = "none",
    [HTTP_ERROR_LINE_TOO_LONG] = "line too long",
    [HTTP_ERROR_HEAD_TOO_LONG] = "head too long",
    [HTTP_ERROR_TOO_MANY_HEADERS] = "too many headers",
    [HTTP_ERROR_REQUEST_LINE] = "bad request line",
    [HTTP_ERROR_VERSION] = "not HTTP/1.x",
    [HTTP_ERROR_HEADER] = "bad header",
    [HTTP_ERROR_HOST] = "second Host header",
    [HTTP_ERROR_LENGTH] = "bad message length",
    [HTTP_ERROR_CHUNK] = "bad chunk",
};

/* What a head says about itself, beyond the request handed on. */
struct head_info {
	bool chunked;
	bool have_length;
	uint64_t length;
};

/* Where a scan of a segment for the end of a head got to. */
struct head_scan {
	size_t start; /* the head's first byte in the segment (leading blank lines skipped) */
	size_t end;   /* one past the head's last byte, when complete */
	bool complete;
	enum http_error error;
};

void
http_limits_default(struct http_limits *limits)
{
	limits->max_line_bytes = HTTP_DEFAULT_MAX_LINE_BYTES;
	limits->max_head_bytes = HTTP_DEFAULT_MAX_HEAD_BYTES;
	limits->max_headers = HTTP_DEFAULT_MAX_HEADERS;
}

void
http_flow_init(struct http_flow *flow)
{
	memset(flow, 0, sizeof(*flow));
	flow->state = HTTP_STATE_HEAD;
}

static void
drop_buffer(struct http_flow *flow)
{
	free(flow->buffer);
	flow->buffer = NULL;
	flow->buffer_len = 0;
	flow->line_start = 0;
}

void
http_flow_free(struct http_flow *flow)
{
	drop_buffer(flow);
}

const char *
http_error_name(enum http_error error)
{
	return error >= 0 && error < HTTP_ERROR_COUNT ? error_names[error] : "unknown";
}

static bool
is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool
is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static bool
name_is(const char *name, size_t len, const char *wanted)
{
	return strlen(wanted) == len && strncasecmp(name, wanted, len) == 0;
}

/* Appends bytes to the flow's buffer, allocated for the largest head or line on first use. */
static int
buffer_append(struct http_flow *flow, const struct http_limits *limits, const char *bytes,
              size_t len)
{
	if (len == 0)
		return 0;
	if (flow->buffer == NULL) {
		size_t size = limits->max_head_bytes > limits->max_line_bytes
		                  ? limits->max_head_bytes
		                  : limits->max_line_bytes;

		if ((flow->buffer = malloc(size + 1)) == NULL)
			return -ENOMEM;
	}
	memcpy(flow->buffer + flow->buffer_len, bytes, len);
	flow->buffer_len += len;
	return 0;
}

/*
 * Scans a segment for the end of the head the flow is in: lines are checked
 * against the limits as they pass; empty lines before a request line are
 * skipped (RFC 9112 2.2). The flow's buffer holds the head so far.
 */
static struct head_scan
scan_head(const struct http_flow *flow, const struct http_limits *limits, const char *p, size_t len)
{
	struct head_scan scan = {0};
	size_t partial = flow->buffer_len - flow->line_start; /* the unfinished line so far */
	size_t head_len = flow->buffer_len;
	unsigned lines = flow->lines;
	size_t pos = 0;

	while (pos < len) {
		const char *newline = memchr(p + pos, '\n', len - pos);
		size_t n = newline != NULL ? (size_t)(newline - (p + pos)) : len - pos;
		size_t line = partial + n;
		char last;

		/* A request starts with a method: TLS and other binary fail at once, not at 8 KiB.
		 */
		if (lines == 0 && partial == 0 && n > 0 && !is_tchar((unsigned char)p[pos]) &&
		    p[pos] != '\r') {
			scan.error = HTTP_ERROR_REQUEST_LINE;
			return scan;
		}
		if (newline == NULL) {
			if (line > limits->max_line_bytes)
				scan.error = HTTP_ERROR_LINE_TOO_LONG;
			else if (head_len + n > limits->max_head_bytes)
				scan.error = HTTP_ERROR_HEAD_TOO_LONG;
			return scan;
		}
		last = n > 0         ? p[pos + n - 1]
		       : partial > 0 ? flow->buffer[flow->buffer_len - 1]
		                     : 0;
		if (line > limits->max_line_bytes) {
			scan.error = HTTP_ERROR_LINE_TOO_LONG;
			return scan;
		}
		if (line == 0 || (line == 1 && last == '\r')) {
			if (lines == 0) {
				/* Before the request line: skipped, with what the buffer had of it.
				 */
				scan.start = pos + n + 1;
				head_len = 0;
				partial = 0;
				pos += n + 1;
				continue;
			}
			if (head_len + n + 1 > limits->max_head_bytes)
				scan.error =
				    HTTP_ERROR_HEAD_TOO_LONG; /* the blank line counts too */
			scan.end = pos + n + 1;
			scan.complete = scan.error == HTTP_ERROR_NONE;
			return scan;
		}
		head_len += n + 1;
		if (head_len > limits->max_head_bytes) {
			scan.error = HTTP_ERROR_HEAD_TOO_LONG;
			return scan;
		}
		if (++lines > limits->max_headers + 1) {
			scan.error = HTTP_ERROR_TOO_MANY_HEADERS;
			return scan;
		}
		partial = 0;
		pos += n + 1;
	}
	return scan;
}

/* The next line of a head, without its line break; NULL past the end. */
static const char *
next_line(const char **cursor, const char *end, size_t *len)
{
	const char *line = *cursor, *newline;

	if (line >= end)
		return NULL;
	newline = memchr(line, '\n', end - line);
	*len = (newline != NULL ? newline : end) - line;
	*cursor = line + *len + 1;
	if (*len > 0 && line[*len - 1] == '\r')
		(*len)--;
	return line;
}

static enum http_error
parse_target(const char *method, size_t method_len, struct http_request *request)
{
	const char *target = request->target, *end = target + request->target_len;
	const char *scheme_end = memchr(target, ':', request->target_len);

	for (const char *c = target; c < end; c++)
		if ((unsigned char)*c <= 0x20 || *c == 0x7f)
			return HTTP_ERROR_REQUEST_LINE;
	if (target[0] == '/') {
		request->form = HTTP_ORIGIN_FORM;
		request->path = target;
		request->path_len = request->target_len;
		return HTTP_ERROR_NONE;
	}
	if (request->target_len == 1 && target[0] == '*') {
		request->form = HTTP_ASTERISK_FORM;
		return HTTP_ERROR_NONE;
	}
	if (scheme_end != NULL && end - scheme_end >= 3 && memcmp(scheme_end, "://", 3) == 0 &&
	    scheme_end > target) {
		const char *authority = scheme_end + 3, *path = authority, *at;

		while (path < end && *path != '/' && *path != '?')
			path++;
		/* userinfo@ is no part of the host */
		at = memchr(authority, '@', path - authority);
		if (at != NULL)
			authority = at + 1;
		request->form = HTTP_ABSOLUTE_FORM;
		request->host = authority;
		request->host_len = path - authority;
		if (path < end && *path == '/') {
			request->path = path;
			request->path_len = end - path;
		} else {
			request->path = "/";
			request->path_len = 1;
		}
		return HTTP_ERROR_NONE;
	}
	if (method_len == 7 && memcmp(method, "CONNECT", 7) == 0) {
		request->form = HTTP_AUTHORITY_FORM;
		return HTTP_ERROR_NONE;
	}
	return HTTP_ERROR_REQUEST_LINE;
}

/* "METHOD SP request-target SP HTTP/1.x" */
static enum http_error
parse_request_line(const char *line, size_t len, struct http_request *request)
{
	const char *end = line + len, *space, *target;
	const char *version;

	for (space = line; space < end && is_tchar((unsigned char)*space); space++)
		;
	if (space == line || space >= end || *space != ' ')
		return HTTP_ERROR_REQUEST_LINE;
	request->method = line;
	request->method_len = space - line;
	target = space + 1;
	space = memchr(target, ' ', end - target);
	if (space == NULL || space == target)
		return HTTP_ERROR_REQUEST_LINE;
	request->target = target;
	request->target_len = space - target;
	version = space + 1;
	if (end - version != 8 || memcmp(version, "HTTP/", 5) != 0)
		return end - version >= 5 && memcmp(version, "HTTP/", 5) == 0
		           ? HTTP_ERROR_VERSION
		           : HTTP_ERROR_REQUEST_LINE;
	if (version[5] != '1' || version[6] != '.' || version[7] < '0' || version[7] > '9')
		return HTTP_ERROR_VERSION;
	request->version_minor = (unsigned)(version[7] - '0');
	return parse_target(request->method, request->method_len, request);
}

int
http_content_length_parse(const char *value, size_t len, uint64_t *out)
{
	uint64_t length = 0;

	if (len == 0 || len > 18)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (value[i] < '0' || value[i] > '9')
			return -EINVAL;
		length = length * 10 + (uint64_t)(value[i] - '0');
	}
	*out = length;
	return 0;
}

/* Content-Length: digits only; a second one must say the same. */
static enum http_error
read_length(const char *value, size_t len, struct head_info *info)
{
	uint64_t length;

	if (http_content_length_parse(value, len, &length) < 0)
		return HTTP_ERROR_LENGTH;
	if (info->have_length && info->length != length)
		return HTTP_ERROR_LENGTH;
	info->have_length = true;
	info->length = length;
	return HTTP_ERROR_NONE;
}

/* Transfer-Encoding: the last coding must be chunked, else a request's length is unknown. */
static enum http_error
read_transfer_encoding(const char *value, size_t len, struct head_info *info)
{
	const char *last = value;

	for (const char *comma; (comma = memchr(last, ',', value + len - last)) != NULL;)
		last = comma + 1;
	while (last < value + len && is_ows(*last))
		last++;
	if (!name_is(last, value + len - last, "chunked"))
		return HTTP_ERROR_LENGTH;
	info->chunked = true;
	return HTTP_ERROR_NONE;
}

static enum http_error
parse_header(const char *line, size_t len, struct http_request *request, struct head_info *info)
{
	const char *colon = memchr(line, ':', len), *value, *end = line + len;
	size_t name_len, value_len;

	if (colon == NULL || colon == line)
		return HTTP_ERROR_HEADER;
	name_len = colon - line;
	for (size_t i = 0; i < name_len; i++)
		if (!is_tchar((unsigned char)line[i]))
			return HTTP_ERROR_HEADER; /* a blank before the colon included (RFC
			                             9112 5.1) */
	for (value = colon + 1; value < end && is_ows(*value); value++)
		;
	while (end > value && is_ows(end[-1]))
		end--;
	value_len = end - value;
	if (memchr(value, '\0', value_len) != NULL || memchr(value, '\r', value_len) != NULL)
		return HTTP_ERROR_HEADER;
	if (name_is(line, name_len, "host")) {
		if (request->host != NULL && request->form != HTTP_ABSOLUTE_FORM)
			return HTTP_ERROR_HOST;
		if (request->form != HTTP_ABSOLUTE_FORM) {
			request->host = value;
			request->host_len = value_len;
		}
	} else if (name_is(line, name_len, "user-agent")) {
		if (request->user_agent == NULL) {
			request->user_agent = value;
			request->user_agent_len = value_len;
		}
	} else if (name_is(line, name_len, "content-length")) {
		return read_length(value, value_len, info);
	} else if (name_is(line, name_len, "transfer-encoding")) {
		return read_transfer_encoding(value, value_len, info);
	}
	return HTTP_ERROR_NONE;
}

static enum http_error
parse_head(const char *head, size_t len, struct http_request *request, struct head_info *info)
{
	const char *cursor = head, *end = head + len, *line;
	enum http_error error;
	size_t line_len;

	memset(request, 0, sizeof(*request));
	memset(info, 0, sizeof(*info));
	line = next_line(&cursor, end, &line_len);
	if (line == NULL ||
	    (error = parse_request_line(line, line_len, request)) != HTTP_ERROR_NONE)
		return line == NULL ? HTTP_ERROR_REQUEST_LINE : error;
	while ((line = next_line(&cursor, end, &line_len)) != NULL && line_len > 0) {
		if (is_ows(line[0]))
			return HTTP_ERROR_HEADER; /* obs-fold */
		if ((error = parse_header(line, line_len, request, info)) != HTTP_ERROR_NONE)
			return error;
	}
	if (request->user_agent != NULL)
		request->product = robots_product_token(
		    request->user_agent, request->user_agent_len, &request->product_len);
	return HTTP_ERROR_NONE;
}

static void
fail(struct http_flow *flow, struct http_stats *stats, enum http_error error)
{
	stats->errors[error]++;
	flow->last_error = error;
	drop_buffer(flow);
	flow->lines = 0;
	flow->state = HTTP_STATE_LOST;
}

/* Reads the head the flow is in; returns the bytes used, or -1 after fail(). */
static ssize_t
read_head(struct http_flow *flow, const struct http_limits *limits, struct http_stats *stats,
          uint32_t seq, const char *p, size_t len, http_request_fn callback, void *context)
{
	struct head_scan scan = scan_head(flow, limits, p, len);
	struct http_request request;
	struct head_info info;
	enum http_error error;
	const char *head;
	size_t head_len;

	if (scan.error != HTTP_ERROR_NONE) {
		fail(flow, stats, scan.error);
		return -1;
	}
	if (scan.start > 0)
		flow->buffer_len = flow->line_start = 0; /* blank lines before the request */
	if (flow->buffer_len == 0 && flow->lines == 0 && scan.start < len)
		flow->head_seq = seq + (uint32_t)scan.start;
	if (!scan.complete) {
		/* The head goes on in a later segment: keep what there is of it. */
		size_t kept = flow->buffer_len;

		if (buffer_append(flow, limits, p + scan.start, len - scan.start) < 0)
			return -2;
		if (flow->buffer == NULL)
			return (ssize_t)len; /* only blank lines so far */
		for (const char *c = flow->buffer + kept, *e = flow->buffer + flow->buffer_len;
		     c < e && (c = memchr(c, '\n', e - c)) != NULL; c++) {
			flow->lines++;
			flow->line_start = c + 1 - flow->buffer;
		}
		return (ssize_t)len;
	}
	if (flow->buffer_len == 0) {
		head = p + scan.start; /* whole in this segment: parsed where it lies */
		head_len = scan.end - scan.start;
	} else {
		if (buffer_append(flow, limits, p + scan.start, scan.end - scan.start) < 0)
			return -2;
		head = flow->buffer;
		head_len = flow->buffer_len;
	}
	error = parse_head(head, head_len, &request, &info);
	if (error != HTTP_ERROR_NONE) {
		fail(flow, stats, error);
		return -1;
	}
	request.seq = flow->head_seq;
	stats->requests++;
	callback(context, &request);
	drop_buffer(flow);
	flow->lines = 0;
	if (info.chunked) {
		flow->state = HTTP_STATE_CHUNK_SIZE;
	} else if (info.have_length && info.length > 0) {
		flow->state = HTTP_STATE_BODY;
		flow->remaining = info.length;
	}
	return (ssize_t)scan.end;
}

/*
 * One line of the chunked framing: 1 and the line (without its break) when
 * complete, 0 when it goes on in a later segment, -1 when too long.
 */
static int
read_line(struct http_flow *flow, const struct http_limits *limits, const char *p, size_t len,
          size_t *used, const char **line, size_t *line_len)
{
	const char *newline = memchr(p, '\n', len);
	size_t n = newline != NULL ? (size_t)(newline - p) : len;

	if (flow->buffer_len + n > limits->max_line_bytes)
		return -1;
	*used = newline != NULL ? n + 1 : n;
	if (newline == NULL) {
		if (buffer_append(flow, limits, p, n) < 0)
			return -2;
		return 0;
	}
	if (flow->buffer_len == 0) {
		*line = p;
	} else {
		if (buffer_append(flow, limits, p, n) < 0)
			return -2;
		*line = flow->buffer;
		n = flow->buffer_len;
	}
	if (n > 0 && (*line)[n - 1] == '\r')
		n--;
	*line_len = n;
	return 1;
}

int64_t
http_chunk_size_parse(const char *line, size_t len)
{
	int64_t size = 0;
	size_t i = 0;
	int digit;

	for (; i < len; i++) {
		char c = line[i];

		if (c >= '0' && c <= '9')
			digit = c - '0';
		else if (c >= 'a' && c <= 'f')
			digit = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			digit = c - 'A' + 10;
		else
			break;
		if (i >= HTTP_CHUNK_HEX_MAX)
			return -1;
		size = size * 16 + digit;
	}
	if (i == 0)
		return -1;
	while (i < len && is_ows(line[i]))
		i++;
	return i == len || line[i] == ';' ? size : -1;
}

/* The chunked framing after a head; returns the bytes used, or -1 after fail(). */
static ssize_t
read_chunked(struct http_flow *flow, const struct http_limits *limits, struct http_stats *stats,
             const char *p, size_t len)
{
	const char *line = NULL;
	size_t used = 0, line_len = 0;
	int64_t size;
	int got = read_line(flow, limits, p, len, &used, &line, &line_len);

	if (got == -2)
		return -2;
	if (got < 0) {
		fail(flow, stats, HTTP_ERROR_LINE_TOO_LONG);
		return -1;
	}
	if (got == 0)
		return (ssize_t)used;
	switch (flow->state) {
	case HTTP_STATE_CHUNK_SIZE:
		if ((size = http_chunk_size_parse(line, line_len)) < 0) {
			fail(flow, stats, HTTP_ERROR_CHUNK);
			return -1;
		}
		flow->remaining = (uint64_t)size;
		flow->state = size > 0 ? HTTP_STATE_CHUNK_DATA : HTTP_STATE_TRAILER;
		flow->lines = 0;
		break;
	case HTTP_STATE_CHUNK_END:
		if (line_len != 0) {
			fail(flow, stats, HTTP_ERROR_CHUNK);
			return -1;
		}
		flow->state = HTTP_STATE_CHUNK_SIZE;
		break;
	default: /* HTTP_STATE_TRAILER */
		if (line_len == 0) {
			flow->state = HTTP_STATE_HEAD;
			flow->lines = 0;
		} else if (++flow->lines > limits->max_headers) {
			fail(flow, stats, HTTP_ERROR_TOO_MANY_HEADERS);
			return -1;
		}
		break;
	}
	drop_buffer(flow);
	return (ssize_t)used;
}

/* Lines up the segment with what was read before: 0 to read len bytes from *p, 1 to skip it. */
static int
align_segment(struct http_flow *flow, struct http_stats *stats, uint32_t *seq, const char **p,
              size_t *len)
{
	int32_t offset;

	if (!flow->synced) {
		flow->synced = true;
		flow->next_seq = *seq;
	}
	offset = (int32_t)(*seq - flow->next_seq);
	if (offset < 0) {
		size_t seen = (size_t)(-(int64_t)offset);

		if (seen >= *len) {
			stats->retransmitted_bytes += *len;
			return 1;
		}
		stats->retransmitted_bytes += seen;
		*p += seen;
		*len -= seen;
		*seq += (uint32_t)seen;
	} else if (offset > 0) {
		stats->gaps++;
		if ((flow->state == HTTP_STATE_BODY || flow->state == HTTP_STATE_CHUNK_DATA) &&
		    (uint64_t)offset <= flow->remaining) {
			flow->remaining -=
			    (uint64_t)offset; /* lost body bytes: nothing to read there */
		} else {
			drop_buffer(flow);
			flow->lines = 0;
			flow->state = HTTP_STATE_HEAD;
		}
	}
	flow->next_seq = *seq + (uint32_t)*len;
	stats->bytes += *len;
	return 0;
}

int
http_feed(struct http_flow *flow, const struct http_limits *limits, struct http_stats *stats,
          uint32_t seq, const void *data, size_t len, http_request_fn request, void *context)
{
	const char *p = data;
	int result = 0;

	if (len == 0 || align_segment(flow, stats, &seq, &p, &len) != 0)
		return 0;
	if (flow->state == HTTP_STATE_LOST)
		flow->state = HTTP_STATE_HEAD; /* a new segment: read as a new request */
	while (len > 0 && flow->state != HTTP_STATE_LOST) {
		ssize_t used;
		uint64_t step;

		switch (flow->state) {
		case HTTP_STATE_HEAD:
			used = read_head(flow, limits, stats, seq, p, len, request, context);
			break;
		case HTTP_STATE_BODY:
		case HTTP_STATE_CHUNK_DATA:
			step = flow->remaining < len ? flow->remaining : len;
			flow->remaining -= step;
			if (flow->remaining == 0)
				flow->state = flow->state == HTTP_STATE_BODY ? HTTP_STATE_HEAD
				                                             : HTTP_STATE_CHUNK_END;
			used = (ssize_t)step;
			break;
		default:
			used = read_chunked(flow, limits, stats, p, len);
			break;
		}
		if (used == -2) {
			drop_buffer(flow);
			flow->lines = 0;
			flow->state = HTTP_STATE_LOST;
			return -ENOMEM;
		}
		if (used < 0) {
			result = -EBADMSG;
			break;
		}
		p += used;
		len -= (size_t)used;
		seq += (uint32_t)used;
	}
	return result;
}
