/*
 * An HTTP/1.x request reader for one direction of one TCP flow, the
 * client's: fed its payload segment by segment with their sequence numbers,
 * it hands every complete request head to a callback: method, target, path,
 * Host, User-Agent and its product token. Pure: no sockets, no clock.
 *
 * Reassembly: a segment's first byte has sequence number seq. Bytes already
 * seen (retransmissions, overlaps) are skipped; a gap (a segment the capture
 * lost) inside a body with a known length is stepped over, anywhere else it
 * resets the flow, and the segment after the gap is read as a new request.
 * Only an unfinished head (or chunk-size line) is buffered, at most
 * max_head_bytes per flow, and the buffer is freed when nothing is pending:
 * an idle keep-alive flow costs sizeof(struct http_flow). Bodies are stepped
 * over (Content-Length, chunked), never stored, so pipelined requests follow.
 *
 * Garbage (TLS on port 80, a line or head over the limits, a malformed
 * request line or header, conflicting lengths) is an error: counted by kind,
 * the flow reset, the rest of that segment dropped; the next segment is read
 * as a new request.
 */
#ifndef HTTP_H
#define HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_DEFAULT_MAX_LINE_BYTES 8192
#define HTTP_DEFAULT_MAX_HEAD_BYTES 32768
#define HTTP_DEFAULT_MAX_HEADERS    100

struct http_limits {
	size_t max_line_bytes; /* request line, each header, chunk-size and trailer line */
	size_t max_head_bytes; /* request line and headers together */
	unsigned max_headers;  /* header lines in a head, trailer lines after a chunked body */
};

enum http_error {
	HTTP_ERROR_NONE = 0,
	HTTP_ERROR_LINE_TOO_LONG, /* past max_line_bytes */
	HTTP_ERROR_HEAD_TOO_LONG, /* past max_head_bytes */
	HTTP_ERROR_TOO_MANY_HEADERS,
	HTTP_ERROR_REQUEST_LINE, /* not "METHOD SP target SP HTTP/1.x" */
	HTTP_ERROR_VERSION,      /* HTTP/2 preface, HTTP/0.9, HTTP/3.0 ... */
	HTTP_ERROR_HEADER,       /* no colon, blank before it, bare CR, NUL, folded line */
	HTTP_ERROR_HOST,         /* a second Host header */
	HTTP_ERROR_LENGTH,       /* bad or conflicting Content-Length, unknown transfer coding */
	HTTP_ERROR_CHUNK,        /* bad chunk-size line or chunk end */
	HTTP_ERROR_COUNT,
};

enum http_target_form {
	HTTP_ORIGIN_FORM,    /* "/path?query" */
	HTTP_ABSOLUTE_FORM,  /* "http://host/path?query" (to proxies) */
	HTTP_AUTHORITY_FORM, /* "host:port" (CONNECT) */
	HTTP_ASTERISK_FORM,  /* "*" (OPTIONS) */
};

/* One request head. Every pointer is into the flow's buffer, valid during the callback. */
struct http_request {
	const char *method;
	size_t method_len;
	const char *target; /* as sent */
	size_t target_len;
	enum http_target_form form;
	/*
	 * What robots.txt rules match: origin-form's target, absolute-form's
	 * path and query ("/" when it has no path: a query alone is not kept);
	 * NULL for the authority and asterisk forms.
	 */
	const char *path;
	size_t path_len;
	const char *host; /* absolute-form's authority (RFC 9112 3.2.2), else Host; NULL: none */
	size_t host_len;
	const char *user_agent; /* the first User-Agent header; NULL: none */
	size_t user_agent_len;
	const char *product; /* its product token ("FooBot" of "FooBot/1.2 (...)") */
	size_t product_len;
	unsigned version_minor; /* HTTP/1.0 or HTTP/1.1 */
	uint32_t seq;           /* of the request's first byte */
};

typedef void (*http_request_fn)(void *context, const struct http_request *request);

struct http_stats {
	unsigned long long requests;
	unsigned long long bytes;               /* payload read, retransmissions left out */
	unsigned long long retransmitted_bytes; /* seen before, skipped */
	unsigned long long gaps; /* lost segments: stepped over in a body, else a reset */
	unsigned long long errors[HTTP_ERROR_COUNT];
};

/* Where the reader is in the client's byte stream. */
enum http_state {
	HTTP_STATE_HEAD,       /* before or inside a request head */
	HTTP_STATE_BODY,       /* Content-Length bytes to step over */
	HTTP_STATE_CHUNK_SIZE, /* the chunk-size line */
	HTTP_STATE_CHUNK_DATA, /* chunk bytes to step over */
	HTTP_STATE_CHUNK_END,  /* the line break after a chunk */
	HTTP_STATE_TRAILER,    /* trailer lines after the last chunk */
	HTTP_STATE_LOST,       /* after an error: the rest of this segment is dropped */
};

/* One flow's reader: embed it, http_flow_init it, http_flow_free it. */
struct http_flow {
	enum http_state state;
	bool synced; /* next_seq is known */
	uint32_t next_seq;
	uint32_t head_seq;  /* of the head being read */
	uint64_t remaining; /* body or chunk bytes still to step over */
	unsigned lines;     /* header or trailer lines so far */
	char *buffer;       /* the unfinished head or line; NULL when nothing is pending */
	size_t buffer_len;
	size_t line_start; /* where the unfinished line begins in buffer */
	enum http_error last_error;
};

void http_limits_default(struct http_limits *limits);
void http_flow_init(struct http_flow *flow);
void http_flow_free(struct http_flow *flow);
/*
 * Reads one segment of the client's payload. Calls request for every head
 * it completes. Returns 0; -EBADMSG if an error reset the flow (the kind is
 * in flow->last_error and counted in stats); -ENOMEM if a head could not be
 * buffered (the flow is reset too).
 */
int http_feed(struct http_flow *flow, const struct http_limits *limits, struct http_stats *stats,
              uint32_t seq, const void *data, size_t len, http_request_fn request, void *context);
const char *http_error_name(enum http_error error);
/* Shared with the response reader. Content-Length: digits only; 0 or -EINVAL. */
int http_content_length_parse(const char *value, size_t len, uint64_t *out);
/* A chunk-size line, "1a;name=value": the chunk's size, or -1. */
int64_t http_chunk_size_parse(const char *line, size_t len);

#endif
