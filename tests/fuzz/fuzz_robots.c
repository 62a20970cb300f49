/*
 * libFuzzer target for the robots.txt parser and matcher. The input's first
 * line is a user agent, its second a URL, the rest a robots.txt: parsed with
 * small limits as well as the defaults, and the URL judged. Checked beyond
 * "no crash": the verdict is consistent with itself and the counts, and a
 * one-rule file built from the first two lines (pattern, path) agrees with a
 * plain dynamic-programming matcher written here.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "robots.h"

#define REFERENCE_PATTERN_MAX 64
#define REFERENCE_PATH_MAX    256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The line at *pos (without its break), moving *pos past it. */
static const char *
next_line(const char *text, size_t size, size_t *pos, size_t *len)
{
	const char *line = text + *pos;
	const char *end = memchr(line, '\n', size - *pos);

	*len = end != NULL ? (size_t)(end - line) : size - *pos;
	*pos += *len + (end != NULL);
	return line;
}

static void
check_verdict(const struct robots *robots, const struct robots_verdict *verdict)
{
	const struct robots_stats *stats = robots_stats(robots);

	switch (verdict->reason) {
	case ROBOTS_RULE:
		if (verdict->allowed != verdict->rule_allow || verdict->rule_line == 0 ||
		    verdict->rule_line > stats->lines || verdict->group_line == 0 ||
		    verdict->group_line > verdict->rule_line || verdict->rule_text_len == 0)
			abort();
		break;
	case ROBOTS_NO_RULE:
		if (!verdict->allowed || verdict->group_line == 0)
			abort();
		break;
	case ROBOTS_NO_GROUP:
	case ROBOTS_IMPLICIT:
		if (!verdict->allowed)
			abort();
		break;
	default:
		abort();
	}
}

/* Field by field: padding is not part of a verdict. */
static bool
verdicts_equal(const struct robots_verdict *a, const struct robots_verdict *b)
{
	return a->allowed == b->allowed && a->reason == b->reason &&
	       a->rule_allow == b->rule_allow && a->rule_line == b->rule_line &&
	       a->rule_text == b->rule_text && a->rule_text_len == b->rule_text_len &&
	       a->group_line == b->group_line && a->group_agent == b->group_agent &&
	       a->group_agent_len == b->group_agent_len && a->crawl_delay_ms == b->crawl_delay_ms;
}

static void
judge_all(const char *text, size_t size, const struct robots_limits *limits, const char *agent,
          size_t agent_len, const char *path, size_t path_len)
{
	struct robots_verdict first, again;
	struct robots *robots;
	size_t token_len;
	const char *token = robots_product_token(agent, agent_len, &token_len);

	if (robots_parse(text, size, limits, &robots) < 0)
		return;
	if (robots_stats(robots)->bytes + robots_stats(robots)->bytes_ignored != size ||
	    robots_stats(robots)->rules > limits->max_rules ||
	    robots_stats(robots)->agents > limits->max_agents)
		abort();
	if (robots_judge(robots, token, token_len, path, path_len, &first) == 0) {
		check_verdict(robots, &first);
		if (robots_judge(robots, token, token_len, path, path_len, &again) != 0 ||
		    !verdicts_equal(&first, &again))
			abort();
	}
	robots_free(robots);
}

/* Whether the normalised path matches the normalised pattern, "*" and a final "$" special. */
static bool
reference_match(const char *pattern, size_t pattern_len, const char *path, size_t path_len)
{
	/* matched[j]: the pattern so far can end where path byte j starts. */
	bool matched[3 * REFERENCE_PATH_MAX + 1], next[3 * REFERENCE_PATH_MAX + 1];
	bool anchored = pattern_len > 0 && pattern[pattern_len - 1] == '$';

	if (anchored)
		pattern_len--;
	memset(matched, 0, sizeof(matched));
	matched[0] = true;
	for (size_t i = 0; i < pattern_len; i++) {
		memset(next, 0, sizeof(next));
		for (size_t j = 0; j <= path_len; j++) {
			if (!matched[j])
				continue;
			if (pattern[i] == '*') {
				for (size_t k = j; k <= path_len; k++)
					next[k] = true;
				break;
			}
			if (j < path_len && path[j] == pattern[i])
				next[j + 1] = true;
		}
		memcpy(matched, next, sizeof(matched));
	}
	if (anchored)
		return matched[path_len];
	for (size_t j = 0; j <= path_len; j++)
		if (matched[j])
			return true;
	return false;
}

static bool
is_trimmed(char c)
{
	return c == ' ' || c == '\t' || c == '\v' || c == '\f';
}

static void
compare_with_reference(const char *pattern, size_t pattern_len, const char *path, size_t path_len)
{
	char text[sizeof("user-agent: *\ndisallow: \n") + REFERENCE_PATTERN_MAX];
	char pattern_normal[3 * REFERENCE_PATTERN_MAX], path_normal[3 * REFERENCE_PATH_MAX];
	struct robots_limits limits;
	struct robots_verdict verdict;
	struct robots *robots;
	size_t text_len, normal_len, path_normal_len;
	bool expected;

	while (pattern_len > 0 && is_trimmed(pattern[0]))
		pattern++, pattern_len--;
	while (pattern_len > 0 && is_trimmed(pattern[pattern_len - 1]))
		pattern_len--;
	if (pattern_len == 0 || pattern_len > REFERENCE_PATTERN_MAX ||
	    path_len > REFERENCE_PATH_MAX || memchr(pattern, '#', pattern_len) ||
	    memchr(pattern, '\r', pattern_len))
		return;
	text_len = (size_t)snprintf(text, sizeof(text), "user-agent: *\ndisallow: %.*s\n",
	                            (int)pattern_len, pattern);
	if (memchr(pattern, '\0', pattern_len) != NULL)
		return; /* snprintf stops there; the parser would not */
	robots_limits_default(&limits);
	if (robots_parse(text, text_len, &limits, &robots) < 0)
		return;
	normal_len = robots_normalise(pattern, pattern_len, pattern_normal);
	path_normal_len = robots_normalise(path, path_len, path_normal);
	expected = reference_match(pattern_normal, normal_len, path_normal, path_normal_len);
	if (path_normal_len == strlen("/robots.txt") &&
	    memcmp(path_normal, "/robots.txt", path_normal_len) == 0)
		expected = false;
	if (robots_judge(robots, "x", 1, path, path_len, &verdict) == 0 &&
	    verdict.allowed == expected)
		abort(); /* the matcher and the reference disagree */
	robots_free(robots);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data, *agent, *url;
	size_t pos = 0, agent_len, url_len, path_len;
	struct robots_limits limits;
	char *path;

	agent = next_line(text, size, &pos, &agent_len);
	url = next_line(text, size, &pos, &url_len);
	if ((path = malloc(url_len + 1)) == NULL)
		return 0;
	path_len = robots_url_path(url, url_len, path);
	robots_limits_default(&limits);
	judge_all(text + pos, size - pos, &limits, agent, agent_len, path, path_len);
	/* Limits small enough for a fuzzer's inputs to cross every one of them. */
	limits.max_bytes = 200;
	limits.max_line_bytes = 24;
	limits.max_rules = 3;
	limits.max_agents = 2;
	judge_all(text + pos, size - pos, &limits, agent, agent_len, path, path_len);
	compare_with_reference(agent, agent_len, url, url_len);
	free(path);
	return 0;
}
