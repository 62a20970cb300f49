/*
 * The arguments of control requests, read as the handlers of commands.c
 * read them: each takes the request object, checks one key's value and
 * either fills in the typed result or fails with the message the client
 * gets (struct control_error), naming the key and what it takes. Pure: no
 * daemon state, so tests/fuzz/fuzz_request.c runs them on any request.
 */
#ifndef REQUEST_H
#define REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ban.h"
#include "control.h"
#include "source.h"

/* "source": an address, or an IPv6 source prefix of ipv6_prefix_len. Required. */
int request_source(const json_t *request, unsigned ipv6_prefix_len, struct source_key *out,
                   struct control_error *error);
/*
 * "source" as an allowlist prefix (10.0.0.0/24, 2001:db8::/48): an IPv6
 * address or longer prefix widens to ipv6_prefix_len. Its text into text.
 */
int request_prefix(const json_t *request, unsigned ipv6_prefix_len, struct prefix *out, char *text,
                   size_t len, struct control_error *error);
/* Optional "scope" and "category": *given says whether the key was there. */
int request_scope(const json_t *request, enum scope *out, bool *given, struct control_error *error);
int request_category(const json_t *request, enum category *out, bool *given,
                     struct control_error *error);
/* An optional label (key): absent is NULL, else printable text under VM_LABEL_MAX. */
int request_label(const json_t *request, const char *key, const char **out);
/*
 * A time as operators type it: "2026-12-02T04:00:00Z", "2026-12-02T04:00Z",
 * "2026-12-02", or a duration ("2h", "30d") before (sign -1) or after (+1)
 * now_ms. 0, or -EINVAL (also for a time past the range of int64 ms).
 */
int request_time_parse(const char *text, int64_t now_ms, int sign, int64_t *out_ms);
/* An optional time key (--since, --until): 0 (absent: *given false), or -EINVAL, error set. */
int request_time(const json_t *request, const char *key, int64_t now_ms, int sign, int64_t *out_ms,
                 bool *given, struct control_error *error);

#endif
