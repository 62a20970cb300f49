/*
 * libFuzzer target for the HTTP/1.x response reader (robots.txt replies on
 * the wire and the daemon's own fetches). The input is one server's byte
 * stream; its first byte says which of the requests in flight want their
 * body and which were HEAD, and seeds where the stream is cut. Beyond "no
 * crash": the stream cut into pieces gives the same responses as read
 * whole (status, body, what was ignored), a kept body never passes the
 * cap, and nothing more is read after an error.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_response.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CAP 64

struct digest {
	uint64_t hash;
	unsigned count;
};

static void
mix(struct digest *digest, const void *bytes, size_t len)
{
	const unsigned char *p = bytes;

	for (size_t i = 0; i < len; i++)
		digest->hash = (digest->hash ^ p[i]) * 0x100000001b3ULL;
	digest->hash = (digest->hash ^ len) * 0x100000001b3ULL;
}

static void
check_response(void *context, const struct http_response *response)
{
	struct digest *digest = context;

	if (response->status < 200 || response->status > 599 || response->body == NULL ||
	    response->body_len > CAP || (response->body_ignored > 0 && response->body_len != CAP))
		abort();
	digest->count++;
	mix(digest, &response->status, sizeof(response->status));
	mix(digest, response->body, response->body_len);
	mix(digest, &response->body_ignored, sizeof(response->body_ignored));
	mix(digest, &response->complete, sizeof(response->complete));
	if (response->location != NULL)
		mix(digest, response->location, strlen(response->location));
}

static void
expect_all(struct http_response_flow *flow, struct http_response_stats *stats, uint8_t mask)
{
	for (int i = 0; i < 8; i++)
		http_response_expect(flow, stats, (mask >> i) & 1, i == 3 && (mask & 0x80));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_response_stats whole_stats = {0}, cut_stats = {0};
	struct digest whole = {0xcbf29ce484222325ULL, 0}, cut = whole;
	struct http_response_flow flow;
	const uint8_t *stream;
	uint32_t random;
	size_t len, pos = 0;

	if (size < 1)
		return 0;
	stream = data + 1;
	len = size - 1;
	random = data[0] * 2654435761u + 1;

	http_response_init(&flow, CAP);
	expect_all(&flow, &whole_stats, data[0]);
	http_response_feed(&flow, &whole_stats, stream, len, check_response, &whole);
	http_response_end(&flow, &whole_stats, check_response, &whole);
	http_response_free(&flow);

	http_response_init(&flow, CAP);
	expect_all(&flow, &cut_stats, data[0]);
	while (pos < len) {
		size_t piece;

		random = random * 1103515245u + 12345u;
		piece = 1 + (random >> 16) % 61;
		if (piece > len - pos)
			piece = len - pos;
		http_response_feed(&flow, &cut_stats, stream + pos, piece, check_response, &cut);
		if (flow.line_len > HTTP_RESPONSE_LINE_MAX || flow.body_len > CAP)
			abort();
		pos += piece;
	}
	http_response_end(&flow, &cut_stats, check_response, &cut);
	if (http_response_wanted(&flow))
		abort(); /* the end leaves nothing to read */
	http_response_free(&flow);
	if (whole.count != cut.count || whole.hash != cut.hash ||
	    whole_stats.errors != cut_stats.errors)
		abort(); /* where the stream was cut changed what was read */
	return 0;
}
