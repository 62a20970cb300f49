/*
 * libFuzzer target for what control clients send: the input is a stream of
 * request lines, cut at each newline as the control module cuts a client's
 * input, and each line goes through control_request_parse. A parsed request
 * must be an object with a string "command"; a refused one gets a message.
 * Each parsed request then goes through every argument parser the handlers
 * use (request.h): source, allowlist prefix, scope, category, labels, and
 * --since/--until times and durations. What one accepts must be what it
 * says (a source or prefix formats to text that parses back to it, a
 * duration before now is not after it); what one refuses gets a message.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "control.h"
#include "protocol.h"
#include "request.h"
#include "vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 2026-12-02T06:00:00Z, a fixed "now". */
#define FUZZ_NOW_MS INT64_C(1796191200000)

static void
refused_with_message(int rc, const struct control_error *error)
{
	if (rc != -EINVAL || error->result != CTL_RESULT_BAD_REQUEST || error->message[0] == '\0')
		abort();
}

static void
check_source(const json_t *request, unsigned ipv6_prefix_len)
{
	struct control_error error = {0};
	struct source_key source, again;
	char text[SOURCE_STRLEN];
	int rc = request_source(request, ipv6_prefix_len, &source, &error);

	if (rc < 0) {
		refused_with_message(rc, &error);
		return;
	}
	source_format(&source, text, sizeof(text));
	if (source_parse(text, ipv6_prefix_len, &again) < 0 || !source_equal(&source, &again))
		abort();
}

static void
check_prefix(const json_t *request, unsigned ipv6_prefix_len)
{
	struct control_error error = {0};
	struct prefix prefix, again;
	char text[SOURCE_STRLEN];
	int rc = request_prefix(request, ipv6_prefix_len, &prefix, text, sizeof(text), &error);

	if (rc < 0) {
		refused_with_message(rc, &error);
		return;
	}
	if ((prefix.family == SOURCE_FAMILY_IPV4 && prefix.len > 32) ||
	    (prefix.family == SOURCE_FAMILY_IPV6 && prefix.len > ipv6_prefix_len))
		abort();
	if (prefix_parse(text, &again) < 0 || memcmp(&prefix, &again, sizeof(prefix)) != 0)
		abort();
}

static void
check_enums(const json_t *request)
{
	struct control_error error = {0};
	enum scope scope;
	enum category category;
	bool given;
	int rc;

	if ((rc = request_scope(request, &scope, &given, &error)) < 0)
		refused_with_message(rc, &error);
	else if (given && (unsigned)scope >= SCOPE_COUNT)
		abort();
	memset(&error, 0, sizeof(error));
	if ((rc = request_category(request, &category, &given, &error)) < 0)
		refused_with_message(rc, &error);
	else if (given && (unsigned)category >= CATEGORY_COUNT)
		abort();
}

static void
check_labels(const json_t *request)
{
	static const char *const keys[] = {CTL_KEY_NAME, CTL_KEY_CUSTOMER};
	const char *label;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (request_label(request, keys[i], &label) < 0 || label == NULL)
			continue;
		if (strlen(label) >= VM_LABEL_MAX)
			abort();
		for (const char *c = label; *c; c++)
			if (!isprint((unsigned char)*c))
				abort();
	}
}

/* --since counts back from now (sign -1), --until forward (+1). */
static void
check_time(const json_t *request, const char *key, int sign)
{
	struct control_error error = {0};
	const char *text = json_string_value(json_object_get(request, key));
	int64_t time_ms, duration_ms;
	bool given;
	int rc = request_time(request, key, FUZZ_NOW_MS, sign, &time_ms, &given, &error);

	if (rc < 0) {
		refused_with_message(rc, &error);
		return;
	}
	if (given != (json_object_get(request, key) != NULL))
		abort();
	if (given && text != NULL && duration_parse(text, &duration_ms) == 0 &&
	    (sign < 0 ? time_ms > FUZZ_NOW_MS : time_ms < FUZZ_NOW_MS))
		abort();
}

static void
check_arguments(const json_t *request)
{
	/* The policy's ipv6_prefix ranges over 1 to 128 (config.c); 64 is the default. */
	static const unsigned ipv6_prefix_lens[] = {64, 1, 128};

	for (size_t i = 0; i < sizeof(ipv6_prefix_lens) / sizeof(ipv6_prefix_lens[0]); i++) {
		check_source(request, ipv6_prefix_lens[i]);
		check_prefix(request, ipv6_prefix_lens[i]);
	}
	check_enums(request);
	check_labels(request);
	check_time(request, CTL_KEY_SINCE, -1);
	check_time(request, CTL_KEY_UNTIL, 1);
}

static void
parse_line(const char *line, size_t len)
{
	char err[CONTROL_ERROR_MAX];
	json_t *request;
	int rc;

	err[0] = '\0';
	rc = control_request_parse(line, len, &request, err, sizeof(err));
	if (rc == 0) {
		if (!json_is_object(request) ||
		    json_string_value(json_object_get(request, "command")) == NULL)
			abort();
		check_arguments(request);
		json_decref(request);
	} else if (request != NULL || (rc == -EINVAL && err[0] == '\0') ||
	           (rc != -EINVAL && rc != -ENODATA)) {
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data, *end = text + size;

	while (text < end) {
		const char *newline = memchr(text, '\n', end - text);
		size_t len = (newline != NULL ? newline : end) - text;

		parse_line(text, len);
		text += len + 1;
	}
	return 0;
}
