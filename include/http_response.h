/*
 * An HTTP/1.x response reader for one direction of one connection, the
 * server's, fed its bytes in order. The caller says, request by request,
 * which responses it wants the body of (http_response_expect); the reader
 * steps over the bodies of the others (Content-Length, chunked), so that a
 * keep-alive connection with pipelined requests stays in step. A body is
 * kept up to max_body_bytes; what follows is counted, not kept. Pure: no
 * sockets, no clock. Used for the robots.txt replies seen on the wire and
 * for the daemon's own fetches.
 */
#ifndef HTTP_RESPONSE_H
#define HTTP_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_RESPONSE_LINE_MAX     8192 /* status line, each header, chunk-size line */
#define HTTP_RESPONSE_HEADERS_MAX  100
#define HTTP_RESPONSE_EXPECT_MAX   32   /* requests in flight that a flow keeps track of */
#define HTTP_RESPONSE_LOCATION_MAX 1024 /* a longer Location is not followed */

struct http_response {
	int status;            /* 100 to 599 */
	const char *location;  /* the Location header of a 3xx; NULL: none, or too long */
	const char *body;      /* wanted responses only; NULL otherwise */
	size_t body_len;       /* kept bytes */
	uint64_t body_ignored; /* past max_body_bytes */
	bool complete;         /* the body ended as framed (false: the connection ended first) */
};

typedef void (*http_response_fn)(void *context, const struct http_response *response);

enum http_response_state {
	RESPONSE_STATUS,
	RESPONSE_HEADERS,
	RESPONSE_BODY,       /* Content-Length bytes */
	RESPONSE_BODY_CLOSE, /* up to the end of the connection */
	RESPONSE_CHUNK_SIZE,
	RESPONSE_CHUNK_DATA,
	RESPONSE_CHUNK_END,
	RESPONSE_TRAILER,
	RESPONSE_LOST, /* garbage or a gap: nothing more is read on this connection */
};

struct http_response_flow {
	enum http_response_state state;
	size_t max_body_bytes;
	/* What the requests in flight want, oldest first: bit 0 keep the body, bit 1 HEAD. */
	uint8_t expect[HTTP_RESPONSE_EXPECT_MAX];
	unsigned expect_count;
	bool keep, head; /* of the response being read */
	int status;
	bool chunked, have_length;
	uint64_t remaining;
	unsigned headers;
	char *line; /* the unfinished line, allocated on first use */
	size_t line_len;
	char *location;
	char *body;
	size_t body_len, body_size;
	uint64_t body_ignored;
};

struct http_response_stats {
	unsigned long long responses, kept, unexpected, errors, expect_overflows;
};

void http_response_init(struct http_response_flow *flow, size_t max_body_bytes);
void http_response_free(struct http_response_flow *flow);
/*
 * A request went out on the connection: its response's body is wanted
 * (keep) or not; head for a HEAD request (no body comes). -ENOSPC past
 * HTTP_RESPONSE_EXPECT_MAX requests in flight (counted; the flow stops).
 */
int http_response_expect(struct http_response_flow *flow, struct http_response_stats *stats,
                         bool keep, bool head);
/* Is a wanted response still to come or being read? */
bool http_response_wanted(const struct http_response_flow *flow);
/*
 * Reads the next bytes of the server's side. Calls done for every complete
 * response. 0; -EBADMSG on garbage (counted; nothing more is read); -ENOMEM.
 */
int http_response_feed(struct http_response_flow *flow, struct http_response_stats *stats,
                       const void *data, size_t len, http_response_fn done, void *context);
/* Some bytes were lost: the flow cannot know where it is any more. */
void http_response_lost(struct http_response_flow *flow);
/* The connection ended: a body framed by the close is complete, another one is not. */
void http_response_end(struct http_response_flow *flow, struct http_response_stats *stats,
                       http_response_fn done, void *context);

#endif
