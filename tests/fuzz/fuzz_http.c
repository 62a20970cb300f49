/*
 * libFuzzer target for the HTTP/1.x request reader. The input is one
 * client's byte stream; its first byte seeds where segments are cut and
 * which are sent twice. Beyond "no crash": when the stream read whole gives
 * no error, the same stream cut into segments, with retransmissions, must
 * give the same requests (fields and sequence numbers) and no error either;
 * every request is well formed; nothing stays buffered past the limits.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct digest {
	uint64_t hash;
	unsigned long long count;
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
check_request(void *context, const struct http_request *request)
{
	struct digest *digest = context;

	if (request->method == NULL || request->method_len == 0 || request->target == NULL ||
	    request->target_len == 0 || request->version_minor > 9)
		abort();
	if ((request->form == HTTP_ORIGIN_FORM || request->form == HTTP_ABSOLUTE_FORM) &&
	    (request->path == NULL || request->path_len == 0 || request->path[0] != '/'))
		abort();
	if ((request->user_agent == NULL) != (request->product == NULL) ||
	    request->product_len > request->user_agent_len)
		abort();
	digest->count++;
	mix(digest, request->method, request->method_len);
	mix(digest, request->target, request->target_len);
	mix(digest, request->path, request->path_len);
	mix(digest, request->host, request->host_len);
	mix(digest, request->user_agent, request->user_agent_len);
	mix(digest, &request->seq, sizeof(request->seq));
}

static unsigned long long
errors(const struct http_stats *stats)
{
	unsigned long long total = 0;

	for (int i = 0; i < HTTP_ERROR_COUNT; i++)
		total += stats->errors[i];
	return total;
}

static void
check_flow(const struct http_flow *flow, const struct http_limits *limits)
{
	size_t most = limits->max_head_bytes > limits->max_line_bytes ? limits->max_head_bytes
	                                                              : limits->max_line_bytes;

	if (flow->buffer_len > most || (flow->buffer == NULL && flow->buffer_len > 0))
		abort();
}

static void
read_stream(const struct http_limits *limits, const uint8_t *stream, size_t len, unsigned seed)
{
	const uint32_t seq0 = 0xffffff00u; /* wraps inside most inputs */
	struct http_stats whole_stats = {0}, cut_stats = {0};
	struct digest whole = {0xcbf29ce484222325ULL, 0}, cut = whole;
	struct http_flow flow;
	size_t pos = 0;
	uint32_t random = seed * 2654435761u + 1;

	http_flow_init(&flow);
	http_feed(&flow, limits, &whole_stats, seq0, stream, len, check_request, &whole);
	check_flow(&flow, limits);
	http_flow_free(&flow);

	http_flow_init(&flow);
	while (pos < len) {
		size_t piece;

		random = random * 1103515245u + 12345u;
		piece = 1 + (random >> 16) % 97;
		if (piece > len - pos)
			piece = len - pos;
		http_feed(&flow, limits, &cut_stats, seq0 + (uint32_t)pos, stream + pos, piece,
		          check_request, &cut);
		check_flow(&flow, limits);
		if ((random >> 8) % 5 == 0 && pos > 0) {
			/* A retransmission reaching back into what was read. */
			size_t back = 1 + (random >> 4) % (pos < 64 ? pos : 64);

			http_feed(&flow, limits, &cut_stats, seq0 + (uint32_t)(pos + piece - back),
			          stream + pos + piece - back, back, check_request, &cut);
		}
		pos += piece;
	}
	check_flow(&flow, limits);
	http_flow_free(&flow);
	if (errors(&whole_stats) == 0 &&
	    (errors(&cut_stats) != 0 || cut.count != whole.count || cut.hash != whole.hash))
		abort(); /* segmentation changed what was read */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_limits limits;

	if (size < 1)
		return 0;
	http_limits_default(&limits);
	read_stream(&limits, data + 1, size - 1, data[0]);
	limits.max_line_bytes = 40;
	limits.max_head_bytes = 120;
	limits.max_headers = 4;
	read_stream(&limits, data + 1, size - 1, data[0]);
	return 0;
}
