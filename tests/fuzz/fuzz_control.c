/*
 * libFuzzer target for what control clients send: the input is a stream of
 * request lines, cut at each newline as the control module cuts a client's
 * input, and each line goes through control_request_parse. A parsed request
 * must be an object with a string "command"; a refused one gets a message.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
