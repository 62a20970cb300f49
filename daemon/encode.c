/* SHA-256 in hex and base64, through nettle. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/base64.h>
#include <nettle/sha2.h>

#include "encode.h"

void
encode_sha256_hex(const void *data, size_t length, char out[ENCODE_SHA256_HEX])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t digest[SHA256_DIGEST_SIZE];
	struct sha256_ctx context;

	sha256_init(&context);
	sha256_update(&context, length, data);
	sha256_digest(&context, sizeof(digest), digest);
	for (size_t i = 0; i < sizeof(digest); i++) {
		out[2 * i] = hex[digest[i] >> 4];
		out[2 * i + 1] = hex[digest[i] & 0xf];
	}
	out[2 * sizeof(digest)] = '\0';
}

char *
encode_base64(const void *data, size_t length, unsigned line_length)
{
	size_t encoded_length, lines, out_length;
	char *encoded, *out;

	if (length > (SIZE_MAX / 4) * 3 - 3)
		return NULL;
	encoded_length = BASE64_ENCODE_RAW_LENGTH(length);
	if ((encoded = malloc(encoded_length + 1)) == NULL)
		return NULL;
	base64_encode_raw(encoded, length, data);
	encoded[encoded_length] = '\0';
	if (line_length == 0)
		return encoded;
	lines = (encoded_length + line_length - 1) / line_length;
	out_length = encoded_length + lines;
	if ((out = malloc(out_length + 1)) == NULL) {
		free(encoded);
		return NULL;
	}
	for (size_t from = 0, to = 0; from < encoded_length; from += line_length) {
		size_t chunk =
		    encoded_length - from < line_length ? encoded_length - from : line_length;

		memcpy(out + to, encoded + from, chunk);
		to += chunk;
		out[to++] = '\n';
	}
	out[out_length] = '\0';
	free(encoded);
	return out;
}
