/*
 * robots.txt after RFC 9309, with the leniencies Google's open-source
 * matcher has shown sites rely on (a missing colon, a partial BOM, "*" with
 * trailing words). Lines are cut into records once; a verdict walks the
 * rules of the groups that apply, so a judgement costs no allocation unless
 * the path is very long.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "robots.h"

/* A crawler's product token is put in lower case on the stack up to this length. */
#define ROBOTS_TOKEN_STACK 256
/* Paths normalised on the stack up to this many bytes, longer ones on the heap. */
#define ROBOTS_PATH_STACK 4096

struct robots_agent {
	size_t token, token_len; /* in strings: the product token, or "*" */
	size_t lower;            /* in strings: the token in lower case, for matching */
	bool star;
};

struct robots_rule {
	bool allow;
	bool anchored; /* the pattern ended in "$" */
	unsigned line;
	size_t text, text_len;       /* in strings: the line as written */
	size_t pattern, pattern_len; /* in strings: normalised, without the "$" */
};

struct robots_group {
	unsigned line;
	unsigned first_agent, agent_count;
	unsigned first_rule, rule_count;
	bool star;
	int64_t crawl_delay_ms;
};

/*
 * Only what a verdict shows is kept (agent tokens, rule lines, patterns, in
 * one buffer), not the file: a cache of many sites' rules stays small.
 */
struct robots {
	struct robots_limits limits;
	struct robots_stats stats;
	char *strings;
	size_t strings_len, strings_size;
	struct robots_agent *agents;
	struct robots_group *groups;
	struct robots_rule *rules;
	unsigned agent_count, group_count, rule_count;
	unsigned agent_size, group_size, rule_size;
};

/* Where parsing is: the group rules go to, and whether a user-agent line opens the next. */
struct robots_parser {
	struct robots *robots;
	bool in_group;        /* a group is open */
	bool group_has_rules; /* it has seen a rule: a user-agent line opens the next */
	bool skipping;        /* the group was refused (max_agents): its rules are dropped */
	char *scratch;        /* a normalised value: 3 * max_line_bytes */
};

enum robots_key {
	KEY_USER_AGENT,
	KEY_ALLOW,
	KEY_DISALLOW,
	KEY_CRAWL_DELAY,
	KEY_OTHER,
};

static const struct {
	const char *name;
	enum robots_key key;
} robots_keys[] = {
    {"user-agent", KEY_USER_AGENT},
    {"allow", KEY_ALLOW},
    {"disallow", KEY_DISALLOW},
    {"crawl-delay", KEY_CRAWL_DELAY},
};

void
robots_limits_default(struct robots_limits *limits)
{
	limits->max_bytes = ROBOTS_DEFAULT_MAX_BYTES;
	limits->max_line_bytes = ROBOTS_DEFAULT_MAX_LINE_BYTES;
	limits->max_rules = ROBOTS_DEFAULT_MAX_RULES;
	limits->max_agents = ROBOTS_DEFAULT_MAX_AGENTS;
}

const struct robots_stats *
robots_stats(const struct robots *robots)
{
	return &robots->stats;
}

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool
is_token_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_';
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool
is_unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

size_t
robots_normalise(const char *in, size_t len, char *out)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t used = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		int high, low;

		if (c == '%' && i + 2 < len && (high = hex_value(in[i + 1])) >= 0 &&
		    (low = hex_value(in[i + 2])) >= 0) {
			c = (unsigned char)(high << 4 | low);
			i += 2;
			if (is_unreserved(c)) {
				out[used++] = (char)c;
				continue;
			}
		} else if (c > 0x20 && c < 0x7f) {
			out[used++] = (char)c;
			continue;
		}
		out[used++] = '%';
		out[used++] = hex[c >> 4];
		out[used++] = hex[c & 0xf];
	}
	return used;
}

const char *
robots_product_token(const char *agent, size_t len, size_t *token_len)
{
	size_t start = 0, end;

	while (start < len && is_blank(agent[start]))
		start++;
	for (end = start; end < len && is_token_char(agent[end]); end++)
		;
	*token_len = end - start;
	return agent + start;
}

size_t
robots_url_path(const char *url, size_t len, char *out)
{
	const char *fragment = memchr(url, '#', len);
	size_t start = 0, end, used = 0;

	if (fragment != NULL)
		len = fragment - url;
	if (len >= 2 && url[0] == '/' && url[1] == '/') {
		start = 2; /* "//host/path": a network-path reference */
	} else if (len > 0 && url[0] == '/') {
		memcpy(out, url, len);
		return len;
	} else {
		/* "scheme://host/path", or "host/path" without a scheme */
		size_t i = 0;

		while (i < len && url[i] != ':' && url[i] != '/' && url[i] != '?')
			i++;
		if (i + 2 < len && url[i] == ':' && url[i + 1] == '/' && url[i + 2] == '/')
			start = i + 3;
	}
	for (end = start; end < len && url[end] != '/' && url[end] != '?'; end++)
		; /* the authority */
	if (end == len || url[end] == '?')
		out[used++] = '/'; /* "h" and "h?q": the path is "/" */
	memcpy(out + used, url + end, len - end);
	return used + len - end;
}

static int
grow(void **array, unsigned *size, size_t element, unsigned wanted)
{
	unsigned size_new;
	void *grown;

	if (wanted <= *size)
		return 0;
	size_new = *size ? *size * 2 : 16;
	if (size_new < wanted)
		size_new = wanted;
	if ((grown = reallocarray(*array, size_new, element)) == NULL)
		return -ENOMEM;
	*array = grown;
	*size = size_new;
	return 0;
}

/* Appends bytes to the strings buffer; their offset goes to *offset. 0 or -ENOMEM. */
static int
add_string(struct robots *robots, const char *bytes, size_t len, size_t *offset)
{
	*offset = robots->strings_len;
	if (len == 0)
		return 0;
	if (robots->strings_len + len > robots->strings_size) {
		size_t size = robots->strings_size ? robots->strings_size * 2 : 1024;
		char *grown;

		while (size < robots->strings_len + len)
			size *= 2;
		if ((grown = realloc(robots->strings, size)) == NULL)
			return -ENOMEM;
		robots->strings = grown;
		robots->strings_size = size;
	}
	memcpy(robots->strings + robots->strings_len, bytes, len);
	robots->strings_len += len;
	return 0;
}

static enum robots_key
find_key(const char *key, size_t len)
{
	for (size_t i = 0; i < sizeof(robots_keys) / sizeof(robots_keys[0]); i++)
		if (strlen(robots_keys[i].name) == len &&
		    strncasecmp(robots_keys[i].name, key, len) == 0)
			return robots_keys[i].key;
	return KEY_OTHER;
}

static int
open_group(struct robots_parser *parser, unsigned line)
{
	struct robots *robots = parser->robots;

	if (grow((void **)&robots->groups, &robots->group_size, sizeof(*robots->groups),
	         robots->group_count + 1) < 0)
		return -ENOMEM;
	robots->groups[robots->group_count++] = (struct robots_group){
	    .line = line,
	    .first_agent = robots->agent_count,
	    .first_rule = robots->rule_count,
	    .crawl_delay_ms = -1,
	};
	robots->stats.groups++;
	parser->in_group = true;
	parser->group_has_rules = false;
	parser->skipping = false;
	return 0;
}

static int
add_agent(struct robots_parser *parser, unsigned line, const char *value, size_t value_len)
{
	struct robots *robots = parser->robots;
	bool opens = !parser->in_group || parser->group_has_rules;
	struct robots_agent agent = {0};
	struct robots_group *group;
	const char *token = value;
	int error;

	if (robots->agent_count >= robots->limits.max_agents) {
		robots->stats.agents_dropped++;
		if (opens) {
			/* Its rules belong to no group we keep. */
			parser->in_group = true;
			parser->group_has_rules = false;
			parser->skipping = true;
		}
		return 0;
	}
	if (opens && (error = open_group(parser, line)) < 0)
		return error;
	if (parser->skipping)
		return 0; /* a refused group's further agents: it stays refused */
	group = &robots->groups[robots->group_count - 1];
	/* "*", and "* anything" as Google reads it, is the fallback group. */
	if (value_len > 0 && value[0] == '*' && (value_len == 1 || is_blank(value[1]))) {
		agent.star = true;
		agent.token_len = 1;
		group->star = true;
	} else {
		token = robots_product_token(value, value_len, &agent.token_len);
	}
	for (size_t i = 0; i < agent.token_len; i++)
		parser->scratch[i] = (char)tolower((unsigned char)token[i]);
	if (grow((void **)&robots->agents, &robots->agent_size, sizeof(*robots->agents),
	         robots->agent_count + 1) < 0 ||
	    add_string(robots, token, agent.token_len, &agent.token) < 0 ||
	    add_string(robots, parser->scratch, agent.token_len, &agent.lower) < 0)
		return -ENOMEM;
	robots->agents[robots->agent_count++] = agent;
	robots->stats.agents++;
	group->agent_count++;
	return 0;
}

static int
add_rule(struct robots_parser *parser, bool allow, unsigned line, const char *text, size_t text_len,
         const char *value, size_t value_len)
{
	struct robots *robots = parser->robots;
	struct robots_rule rule = {.allow = allow, .line = line};
	size_t pattern_len;

	if (!parser->in_group) {
		robots->stats.orphan_rules++;
		return 0;
	}
	parser->group_has_rules = true;
	if (parser->skipping) {
		robots->stats.rules_dropped++;
		return 0;
	}
	/* An empty pattern matches nothing (RFC 9309 2.2.2), but still ends the user-agent lines.
	 */
	if (value_len == 0)
		return 0;
	if (robots->rule_count >= robots->limits.max_rules) {
		robots->stats.rules_dropped++;
		return 0;
	}
	pattern_len = robots_normalise(value, value_len, parser->scratch);
	if (pattern_len > 0 && parser->scratch[pattern_len - 1] == '$') {
		rule.anchored = true;
		pattern_len--;
	}
	if (grow((void **)&robots->rules, &robots->rule_size, sizeof(*robots->rules),
	         robots->rule_count + 1) < 0 ||
	    add_string(robots, text, text_len, &rule.text) < 0 ||
	    add_string(robots, parser->scratch, pattern_len, &rule.pattern) < 0)
		return -ENOMEM;
	rule.text_len = text_len;
	rule.pattern_len = pattern_len;
	robots->rules[robots->rule_count++] = rule;
	robots->groups[robots->group_count - 1].rule_count++;
	robots->stats.rules++;
	return 0;
}

/* "10", "0.5", "2.25": seconds into milliseconds; anything else is -1. */
static int64_t
parse_crawl_delay(const char *value, size_t len)
{
	int64_t ms = 0, scale = 1000;
	size_t i = 0;

	if (len == 0)
		return -1;
	for (; i < len && value[i] >= '0' && value[i] <= '9'; i++) {
		ms = ms * 10 + (value[i] - '0') * 1000;
		if (ms > INT64_C(86400) * 365 * 1000)
			return -1; /* a year between requests is not a delay */
	}
	if (i < len && value[i] == '.' && i > 0) {
		for (i++; i < len && value[i] >= '0' && value[i] <= '9'; i++) {
			scale /= 10;
			ms += (value[i] - '0') * scale;
		}
	}
	return i == len ? ms : -1;
}

static bool
is_space(char c)
{
	return is_blank(c) || c == '\v' || c == '\f';
}

static bool
has_blank(const char *text, size_t len)
{
	return memchr(text, ' ', len) != NULL || memchr(text, '\t', len) != NULL;
}

/* One line, without its line break. */
static int
parse_line(struct robots_parser *parser, unsigned line, const char *text, size_t len)
{
	struct robots *robots = parser->robots;
	const char *comment = memchr(text, '#', len), *separator, *value;
	size_t key_len, value_len;
	int64_t delay;

	if (comment != NULL)
		len = comment - text;
	while (len > 0 && is_space(text[0]))
		text++, len--;
	while (len > 0 && is_space(text[len - 1]))
		len--;
	if (len == 0)
		return 0;
	if ((separator = memchr(text, ':', len)) != NULL) {
		key_len = separator - text;
		value = separator + 1;
	} else {
		/* "disallow /x": Google takes a blank for a forgotten colon, if one word follows.
		 */
		for (key_len = 0; key_len < len && !is_space(text[key_len]); key_len++)
			;
		value = text + key_len;
	}
	value_len = text + len - value;
	while (value_len > 0 && is_space(value[0]))
		value++, value_len--;
	while (key_len > 0 && is_space(text[key_len - 1]))
		key_len--;
	if (key_len == 0 ||
	    (separator == NULL && (value_len == 0 || has_blank(value, value_len)))) {
		robots->stats.other_lines++;
		return 0;
	}
	switch (find_key(text, key_len)) {
	case KEY_USER_AGENT:
		return add_agent(parser, line, value, value_len);
	case KEY_ALLOW:
		return add_rule(parser, true, line, text, len, value, value_len);
	case KEY_DISALLOW:
		return add_rule(parser, false, line, text, len, value, value_len);
	case KEY_CRAWL_DELAY:
		delay = parse_crawl_delay(value, value_len);
		if (parser->in_group && !parser->skipping && delay >= 0) {
			robots->groups[robots->group_count - 1].crawl_delay_ms = delay;
			return 0;
		}
		break;
	case KEY_OTHER:
		break;
	}
	robots->stats.other_lines++;
	return 0;
}

/* How much of text is parsed: all of it, or up to the last line break within max_bytes. */
static size_t
parsed_length(const char *text, size_t len, size_t max_bytes)
{
	if (len <= max_bytes)
		return len;
	while (max_bytes > 0 && text[max_bytes - 1] != '\n' && text[max_bytes - 1] != '\r')
		max_bytes--;
	return max_bytes;
}

static int
parse_text(struct robots_parser *parser, const char *text, size_t len)
{
	static const char bom[] = "\xef\xbb\xbf";
	struct robots *robots = parser->robots;
	size_t pos = 0;
	unsigned line = 0;
	int error;

	/* A UTF-8 byte order mark, whole or its first bytes, is skipped. */
	while (pos < 3 && pos < len && text[pos] == bom[pos])
		pos++;
	while (pos < len) {
		size_t end = pos;

		while (end < len && text[end] != '\n' && text[end] != '\r')
			end++;
		line++;
		if (end - pos > robots->limits.max_line_bytes)
			robots->stats.long_lines++;
		else if ((error = parse_line(parser, line, text + pos, end - pos)) < 0)
			return error;
		if (end + 1 < len && text[end] == '\r' && text[end + 1] == '\n')
			end++;
		pos = end + 1;
	}
	robots->stats.lines = line;
	return 0;
}

int
robots_parse(const char *text, size_t len, const struct robots_limits *limits, struct robots **out)
{
	struct robots *robots = calloc(1, sizeof(*robots));
	struct robots_parser parser = {.robots = robots};
	size_t parsed;
	int error;

	*out = NULL;
	if (robots == NULL)
		return -ENOMEM;
	robots->limits = *limits;
	parsed = parsed_length(text, len, limits->max_bytes);
	robots->stats.bytes = parsed;
	robots->stats.bytes_ignored = len - parsed;
	if ((parser.scratch = malloc(3 * limits->max_line_bytes + 1)) == NULL) {
		robots_free(robots);
		return -ENOMEM;
	}
	error = parse_text(&parser, text, parsed);
	free(parser.scratch);
	if (error < 0) {
		robots_free(robots);
		return error;
	}
	*out = robots;
	return 0;
}

void
robots_free(struct robots *robots)
{
	if (robots == NULL)
		return;
	free(robots->strings);
	free(robots->agents);
	free(robots->groups);
	free(robots->rules);
	free(robots);
}

/*
 * Whether a normalised path matches a rule. The pattern is literal runs
 * between "*"s: the first must start the path, each later one is found at
 * its leftmost place after the one before (enough for "*", which can always
 * stretch), and with "$" the last must end the path. Linear in the path and
 * pattern, whatever a hostile robots.txt or request puts in them.
 */
static bool
rule_matches(const struct robots *robots, const struct robots_rule *rule, const char *path,
             size_t len)
{
	const char *pattern = robots->strings + rule->pattern;
	size_t pattern_len = rule->pattern_len, run, pos;
	const char *star = memchr(pattern, '*', pattern_len);

	run = star != NULL ? (size_t)(star - pattern) : pattern_len;
	if (len < run || memcmp(path, pattern, run) != 0)
		return false;
	if (star == NULL)
		return !rule->anchored || len == run;
	pos = run;
	pattern += run + 1;
	pattern_len -= run + 1;
	while ((star = memchr(pattern, '*', pattern_len)) != NULL) {
		run = star - pattern;
		if (run > 0) {
			const char *found = memmem(path + pos, len - pos, pattern, run);

			if (found == NULL)
				return false;
			pos = found - path + run;
		}
		pattern += run + 1;
		pattern_len -= run + 1;
	}
	if (rule->anchored)
		return len - pos >= pattern_len &&
		       memcmp(path + len - pattern_len, pattern, pattern_len) == 0;
	return pattern_len == 0 || memmem(path + pos, len - pos, pattern, pattern_len) != NULL;
}

/* token is the crawler's, already in lower case: one memcmp per agent of its length. */
static bool
agent_matches(const struct robots *robots, const struct robots_agent *agent, const char *token,
              size_t token_len)
{
	const char *lower;

	if (agent->star || token_len == 0 || agent->token_len != token_len)
		return false;
	lower = robots->strings + agent->lower; /* not NULL: the token has bytes */
	/* Tokens are short and differ early: a loop beats a call. */
	for (size_t i = 0; i < token_len; i++)
		if (lower[i] != token[i])
			return false;
	return true;
}

/* The agent of group that selects it for token: the first naming it, or its "*". */
static const struct robots_agent *
group_selector(const struct robots *robots, const struct robots_group *group, const char *token,
               size_t token_len, bool specific)
{
	for (unsigned i = 0; i < group->agent_count; i++) {
		const struct robots_agent *agent = &robots->agents[group->first_agent + i];

		if (specific ? agent_matches(robots, agent, token, token_len) : agent->star)
			return agent;
	}
	return NULL;
}

static void
set_group(const struct robots *robots, const struct robots_group *group,
          const struct robots_agent *selector, struct robots_verdict *out)
{
	out->group_line = group->line;
	out->group_agent = robots->strings + selector->token;
	out->group_agent_len = selector->token_len;
	out->crawl_delay_ms = group->crawl_delay_ms;
	if (selector->star)
		out->group_agent = "*";
}

static void
judge_normalised(const struct robots *robots, const char *token, size_t token_len, const char *path,
                 size_t len, struct robots_verdict *out)
{
	const struct robots_rule *best = NULL;
	const struct robots_group *best_group = NULL;
	const struct robots_agent *best_selector = NULL;
	bool specific = false, any = false;
	size_t best_len = 0;

	for (unsigned i = 0; i < robots->agent_count && !specific; i++)
		specific = agent_matches(robots, &robots->agents[i], token, token_len);
	for (unsigned g = 0; g < robots->group_count; g++) {
		const struct robots_group *group = &robots->groups[g];
		const struct robots_agent *selector =
		    group_selector(robots, group, token, token_len, specific);

		if (selector == NULL)
			continue;
		if (!any)
			set_group(robots, group, selector, out);
		any = true;
		for (unsigned r = 0; r < group->rule_count; r++) {
			const struct robots_rule *rule = &robots->rules[group->first_rule + r];
			size_t octets = rule->pattern_len + rule->anchored;

			if (best != NULL && (octets < best_len ||
			                     (octets == best_len && (best->allow || !rule->allow))))
				continue;
			if (!rule_matches(robots, rule, path, len))
				continue;
			best = rule;
			best_len = octets;
			best_group = group;
			best_selector = selector;
		}
	}
	if (!any) {
		out->reason = ROBOTS_NO_GROUP;
		return;
	}
	if (best == NULL) {
		out->reason = ROBOTS_NO_RULE;
		return;
	}
	set_group(robots, best_group, best_selector, out);
	out->reason = ROBOTS_RULE;
	out->allowed = best->allow;
	out->rule_allow = best->allow;
	out->rule_line = best->line;
	out->rule_text = robots->strings + best->text;
	out->rule_text_len = best->text_len;
}

int
robots_judge(const struct robots *robots, const char *agent, size_t agent_len, const char *path,
             size_t path_len, struct robots_verdict *out)
{
	static const char robots_txt[] = "/robots.txt";
	char stack[ROBOTS_PATH_STACK], *normalised = stack;
	char token_stack[ROBOTS_TOKEN_STACK], *token = token_stack;
	size_t len;

	*out = (struct robots_verdict){.allowed = true, .crawl_delay_ms = -1, .group_agent = ""};
	if (path_len > SIZE_MAX / 3)
		return -ENOMEM;
	if (agent_len > sizeof(token_stack) && (token = malloc(agent_len)) == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < agent_len; i++)
		token[i] = (char)tolower((unsigned char)agent[i]);
	if (3 * path_len > sizeof(stack) && (normalised = malloc(3 * path_len)) == NULL) {
		if (token != token_stack)
			free(token);
		return -ENOMEM;
	}
	len = robots_normalise(path, path_len, normalised);
	if (len == sizeof(robots_txt) - 1 && memcmp(normalised, robots_txt, len) == 0)
		out->reason = ROBOTS_IMPLICIT;
	else
		judge_normalised(robots, token, agent_len, normalised, len, out);
	if (normalised != stack)
		free(normalised);
	if (token != token_stack)
		free(token);
	return 0;
}
