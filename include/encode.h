/*
 * Encodings the notices need: SHA-256 digests in hex (evidence files, the
 * X-ARF evidence hash) and base64 (X-ARF payloads, MIME parts), both
 * through nettle.
 */
#ifndef ENCODE_H
#define ENCODE_H

#include <stddef.h>

#define ENCODE_SHA256_HEX 65 /* 64 hex digits and a NUL */

/* The SHA-256 of data, as 64 lower-case hex digits. */
void encode_sha256_hex(const void *data, size_t length, char out[ENCODE_SHA256_HEX]);

/*
 * data as base64 in a new NUL-terminated string (the caller frees it), cut
 * into lines of line_length characters each ended by "\n" when line_length
 * is not 0 (MIME bodies take 76). NULL when out of memory.
 */
char *encode_base64(const void *data, size_t length, unsigned line_length);

#endif
