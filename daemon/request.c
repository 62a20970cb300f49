/*
 * The arguments of control requests (include/request.h).
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "protocol.h"
#include "request.h"
#include "vm.h"

/* A request's "source": 0, or a failure naming the key (set in error). */
int
request_source(const json_t *request, unsigned ipv6_prefix_len, struct source_key *out,
               struct control_error *error)
{
	const char *text = json_string_value(json_object_get(request, CTL_KEY_SOURCE));

	if (text == NULL) {
		control_fail(error, CTL_RESULT_BAD_REQUEST,
		             "\"" CTL_KEY_SOURCE "\" (an address) is required");
		return -EINVAL;
	}
	if (source_parse(text, ipv6_prefix_len, out) < 0) {
		control_fail(error, CTL_RESULT_BAD_REQUEST,
		             "%.64s is not an IPv4 address, an IPv6 address or an IPv6 /%u prefix",
		             text, ipv6_prefix_len);
		return -EINVAL;
	}
	return 0;
}

/* An optional "scope" or "category": 0 (absent: *given false), or -EINVAL with error set. */
int
request_scope(const json_t *request, enum scope *out, bool *given, struct control_error *error)
{
	json_t *value = json_object_get(request, CTL_KEY_SCOPE);

	*given = value != NULL;
	if (value != NULL &&
	    (!json_is_string(value) || scope_parse(json_string_value(value), out) < 0)) {
		control_fail(error, CTL_RESULT_BAD_REQUEST,
		             "\"" CTL_KEY_SCOPE "\" must be smtp, web or all");
		return -EINVAL;
	}
	return 0;
}

int
request_category(const json_t *request, enum category *out, bool *given,
                 struct control_error *error)
{
	json_t *value = json_object_get(request, CTL_KEY_CATEGORY);

	*given = value != NULL;
	if (value != NULL &&
	    (!json_is_string(value) || category_parse(json_string_value(value), out) < 0)) {
		control_fail(error, CTL_RESULT_BAD_REQUEST,
		             "\"" CTL_KEY_CATEGORY "\" must be spam, scan, crawler or spoofing");
		return -EINVAL;
	}
	return 0;
}

/* An optional label: absent is NULL, else printable text under VM_LABEL_MAX. */
int
request_label(const json_t *request, const char *key, const char **out)
{
	json_t *value = json_object_get(request, key);

	*out = NULL;
	if (value == NULL)
		return 0;
	if (!json_is_string(value) || json_string_length(value) >= VM_LABEL_MAX)
		return -EINVAL;
	for (const char *c = json_string_value(value); *c; c++)
		if (!isprint((unsigned char)*c))
			return -EINVAL;
	*out = json_string_value(value);
	return 0;
}

/*
 * A time as operators type it: "2026-12-02T04:00:00Z", "2026-12-02", or a
 * duration ("2h", "30d") before (sign -1) or after (+1) now. 0 or -EINVAL.
 */
int
request_time_parse(const char *text, int64_t now_ms, int sign, int64_t *out_ms)
{
	static const char *const formats[] = {"%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%MZ", "%Y-%m-%d"};
	int64_t duration_ms;
	struct tm tm;

	/* "--since 9000000000000000000ms" is no time: refused, not wrapped around. */
	if (duration_parse(text, &duration_ms) == 0)
		return __builtin_mul_overflow(sign, duration_ms, &duration_ms) ||
		               __builtin_add_overflow(now_ms, duration_ms, out_ms)
		           ? -EINVAL
		           : 0;
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		const char *end;

		memset(&tm, 0, sizeof(tm));
		end = strptime(text, formats[i], &tm);
		if (end != NULL && *end == '\0')
			return __builtin_mul_overflow((int64_t)timegm(&tm), 1000, out_ms) ? -EINVAL
			                                                                  : 0;
	}
	return -EINVAL;
}

/* An optional time key: 0 (absent: *given false), or -EINVAL with error set. */
int
request_time(const json_t *request, const char *key, int64_t now_ms, int sign, int64_t *out_ms,
             bool *given, struct control_error *error)
{
	json_t *value = json_object_get(request, key);

	*given = value != NULL;
	if (value != NULL &&
	    (!json_is_string(value) ||
	     request_time_parse(json_string_value(value), now_ms, sign, out_ms) < 0)) {
		control_fail(error, CTL_RESULT_BAD_REQUEST,
		             "\"%s\" must be a UTC time (2026-12-31T23:00:00Z or 2026-12-31) or a "
		             "duration (90m, 2h, 30d)",
		             key);
		return -EINVAL;
	}
	return 0;
}

/*
 * An allowlist entry's prefix: an address, or a prefix. An IPv6 address or
 * a longer prefix widens to the source prefix the ladder counts.
 */
int
request_prefix(const json_t *request, unsigned ipv6_prefix_len, struct prefix *out, char *text,
               size_t len, struct control_error *error)
{
	const char *value = json_string_value(json_object_get(request, CTL_KEY_SOURCE));

	if (value == NULL || prefix_parse(value, out) < 0) {
		control_fail(error, CTL_RESULT_BAD_REQUEST,
		             "\"" CTL_KEY_SOURCE "\" must be an address or a prefix (10.0.0.5, "
		             "10.0.0.0/24, 2001:db8::/48), not %.64s",
		             value != NULL ? value : "missing");
		return -EINVAL;
	}
	if (out->family == SOURCE_FAMILY_IPV6 && out->len > ipv6_prefix_len)
		prefix_mask(out, ipv6_prefix_len);
	prefix_format(out, text, len);
	return 0;
}
