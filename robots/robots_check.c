/*
 * abusectl's offline robots.txt check: read the file (at most what the
 * parser would look at), parse it with the detector's limits, judge each
 * URL, print. A table line per URL for people; with --json one object.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "escape.h"
#include "robots.h"
#include "robots_check.h"

struct robots_file {
	char *text;
	size_t len;     /* read: at most max_bytes + 1, enough to see the cap crossed */
	long long size; /* of the whole file, -1 when unknown (a pipe) */
};

static int
read_robots_file(const char *path, size_t max_bytes, struct robots_file *file, FILE *err)
{
	int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	size_t want = max_bytes + 1;
	struct stat st;
	ssize_t n;

	file->len = 0;
	file->size = -1;
	if (fd < 0) {
		fprintf(err, "abusectl: %s: %s\n", path, strerror(errno));
		return ROBOTS_CHECK_NO_INPUT;
	}
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		fprintf(err, "abusectl: %s: %s\n", path, strerror(EISDIR));
		close(fd);
		return ROBOTS_CHECK_NO_INPUT;
	}
	if (S_ISREG(st.st_mode))
		file->size = st.st_size;
	if ((file->text = malloc(want)) == NULL) {
		fprintf(err, "abusectl: %s: %s\n", path, strerror(ENOMEM));
		if (fd != STDIN_FILENO)
			close(fd);
		return ROBOTS_CHECK_SOFTWARE;
	}
	while (file->len < want && (n = read(fd, file->text + file->len, want - file->len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(err, "abusectl: %s: %s\n", path, strerror(errno));
			free(file->text);
			if (fd != STDIN_FILENO)
				close(fd);
			return ROBOTS_CHECK_NO_INPUT;
		}
		file->len += (size_t)n;
	}
	if (fd != STDIN_FILENO)
		close(fd);
	return 0;
}

/* What the limits left out, once, on err: a verdict may hang on it. */
static void
warn_limits(FILE *err, const char *path, const struct robots_file *file,
            const struct robots_limits *limits, const struct robots_stats *stats)
{
	if (stats->bytes_ignored > 0) {
		if (file->size >= 0)
			fprintf(err,
			        "abusectl: %s: %lld bytes, only the first %zu read (limit %zu)\n",
			        path, file->size, stats->bytes, limits->max_bytes);
		else
			fprintf(err,
			        "abusectl: %s: longer than %zu bytes, only the first %zu read\n",
			        path, limits->max_bytes, stats->bytes);
	}
	if (stats->long_lines > 0)
		fprintf(err, "abusectl: %s: %u line(s) longer than %zu bytes ignored\n", path,
		        stats->long_lines, limits->max_line_bytes);
	if (stats->rules_dropped > 0)
		fprintf(err, "abusectl: %s: %u rule(s) past the first %u ignored\n", path,
		        stats->rules_dropped, limits->max_rules);
	if (stats->agents_dropped > 0)
		fprintf(err, "abusectl: %s: %u user-agent line(s) past the first %u ignored\n",
		        path, stats->agents_dropped, limits->max_agents);
}

/* Bytes a terminal shows as they are; the rest as \xNN, so a hostile file cannot hide. */
static void
print_escaped(FILE *out, const char *text, size_t len)
{
	const unsigned flags = ESCAPE_NON_ASCII | ESCAPE_BACKSLASH;
	char chunk[256];

	/* In pieces, each whole bytes' escapes: a URL can be any length. */
	for (size_t done = 0, step; done < len; done += step) {
		step = len - done < sizeof(chunk) / 4 ? len - done : sizeof(chunk) / 4;
		escape_text(chunk, sizeof(chunk), text + done, step, flags);
		fputs(chunk, out);
	}
}

static void
print_verdict(FILE *out, const char *url, const struct robots_verdict *verdict)
{
	fprintf(out, "%-10s ", verdict->allowed ? "allowed" : "disallowed");
	print_escaped(out, url, strlen(url));
	switch (verdict->reason) {
	case ROBOTS_RULE:
		fprintf(out, "  line %u: ", verdict->rule_line);
		print_escaped(out, verdict->rule_text, verdict->rule_text_len);
		break;
	case ROBOTS_NO_RULE:
		fprintf(out, "  no rule matches");
		break;
	case ROBOTS_NO_GROUP:
		fprintf(out, "  no group for this agent and no \"*\" group\n");
		return;
	case ROBOTS_IMPLICIT:
		fprintf(out, "  /robots.txt is always allowed\n");
		return;
	}
	fprintf(out, "  (group of line %u, user-agent ", verdict->group_line);
	print_escaped(out, verdict->group_agent, verdict->group_agent_len);
	fprintf(out, ")\n");
}

static const char *const reason_names[] = {
    [ROBOTS_RULE] = "rule",
    [ROBOTS_NO_RULE] = "no rule matches",
    [ROBOTS_NO_GROUP] = "no group",
    [ROBOTS_IMPLICIT] = "robots.txt itself",
};

/*
 * A JSON string of bytes that need not be UTF-8 (a robots.txt in Latin-1, a
 * URL with raw octets): as they are when valid, else each byte outside
 * printable ASCII as the four characters \xNN.
 */
static json_t *
json_bytes(const char *bytes, size_t len)
{
	json_t *string = json_stringn(bytes, len);
	char *escaped;
	size_t used = 0;

	if (string != NULL || (escaped = malloc(4 * len + 1)) == NULL)
		return string;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)bytes[i];

		if (c >= 0x20 && c < 0x7f)
			escaped[used++] = (char)c;
		else
			used += (size_t)sprintf(escaped + used, "\\x%02x", c);
	}
	string = json_stringn(escaped, used);
	free(escaped);
	return string;
}

static json_t *
verdict_json(const char *url, const char *path, size_t path_len,
             const struct robots_verdict *verdict)
{
	json_t *result = json_pack("{s:o, s:o, s:s, s:s}", "url", json_bytes(url, strlen(url)),
	                           "path", json_bytes(path, path_len), "verdict",
	                           verdict->allowed ? "allowed" : "disallowed", "reason",
	                           reason_names[verdict->reason]);

	if (result == NULL)
		return NULL;
	if (verdict->reason == ROBOTS_RULE)
		json_object_set_new(
		    result, "rule",
		    json_pack("{s:i, s:o, s:s}", "line", verdict->rule_line, "text",
		              json_bytes(verdict->rule_text, verdict->rule_text_len), "type",
		              verdict->rule_allow ? "allow" : "disallow"));
	if (verdict->group_line > 0)
		json_object_set_new(
		    result, "group",
		    json_pack("{s:i, s:o}", "line", verdict->group_line, "agent",
		              json_bytes(verdict->group_agent, verdict->group_agent_len)));
	if (verdict->crawl_delay_ms >= 0)
		json_object_set_new(result, "crawl_delay_s",
		                    json_real((double)verdict->crawl_delay_ms / 1000));
	return result;
}

static json_t *
stats_json(const struct robots_stats *stats)
{
	return json_pack("{s:I, s:I, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i}", "bytes",
	                 (json_int_t)stats->bytes, "bytes_ignored",
	                 (json_int_t)stats->bytes_ignored, "lines", stats->lines, "groups",
	                 stats->groups, "agents", stats->agents, "rules", stats->rules,
	                 "long_lines", stats->long_lines, "rules_dropped", stats->rules_dropped,
	                 "agents_dropped", stats->agents_dropped, "orphan_rules",
	                 stats->orphan_rules, "other_lines", stats->other_lines);
}

/* Judges every URL; returns the exit code, or ROBOTS_CHECK_SOFTWARE. */
static int
judge_urls(FILE *out, const struct robots *robots, const char *token, size_t token_len,
           char *const urls[], int url_count, json_t *results)
{
	int status = ROBOTS_CHECK_ALLOWED;

	for (int i = 0; i < url_count; i++) {
		struct robots_verdict verdict;
		size_t len = strlen(urls[i]), path_len;
		char *path = malloc(len + 2);

		if (path == NULL)
			return ROBOTS_CHECK_SOFTWARE;
		path_len = robots_url_path(urls[i], len, path);
		if (robots_judge(robots, token, token_len, path, path_len, &verdict) < 0) {
			free(path);
			return ROBOTS_CHECK_SOFTWARE;
		}
		if (!verdict.allowed)
			status = ROBOTS_CHECK_DISALLOWED;
		if (results == NULL)
			print_verdict(out, urls[i], &verdict);
		else if (json_array_append_new(results,
		                               verdict_json(urls[i], path, path_len, &verdict)) < 0)
			status = ROBOTS_CHECK_SOFTWARE;
		free(path);
		if (status == ROBOTS_CHECK_SOFTWARE)
			return status;
	}
	return status;
}

int
robots_check(FILE *out, FILE *err, const char *path, const char *agent, char *const urls[],
             int url_count, bool json)
{
	struct robots_limits limits;
	struct robots_file file;
	struct robots *robots;
	json_t *report = NULL, *results = NULL;
	size_t token_len;
	const char *token = robots_product_token(agent, strlen(agent), &token_len);
	int status;

	robots_limits_default(&limits);
	if ((status = read_robots_file(path, limits.max_bytes, &file, err)) != 0)
		return status;
	if (robots_parse(file.text, file.len, &limits, &robots) < 0) {
		free(file.text);
		fprintf(err, "abusectl: %s: %s\n", path, strerror(ENOMEM));
		return ROBOTS_CHECK_SOFTWARE;
	}
	warn_limits(err, path, &file, &limits, robots_stats(robots));
	free(file.text);
	if (token_len == 0)
		fprintf(err,
		        "abusectl: agent \"%s\" has no product token: only \"*\" groups apply\n",
		        agent);
	if (json) {
		report = json_pack(
		    "{s:o, s:o, s:o, s:o, s:[]}", "file", json_bytes(path, strlen(path)), "agent",
		    json_bytes(agent, strlen(agent)), "product_token", json_bytes(token, token_len),
		    "robots", stats_json(robots_stats(robots)), "urls");
		results = report != NULL ? json_object_get(report, "urls") : NULL;
		if (results == NULL) {
			robots_free(robots);
			json_decref(report);
			return ROBOTS_CHECK_SOFTWARE;
		}
	}
	status = judge_urls(out, robots, token, token_len, urls, url_count, results);
	robots_free(robots);
	if (report != NULL && status != ROBOTS_CHECK_SOFTWARE) {
		char *text = json_dumps(report, JSON_COMPACT);

		if (text == NULL)
			status = ROBOTS_CHECK_SOFTWARE;
		else
			fprintf(out, "%s\n", text);
		free(text);
	}
	json_decref(report);
	if (status == ROBOTS_CHECK_SOFTWARE)
		fprintf(err, "abusectl: robots check: %s\n", strerror(ENOMEM));
	return status;
}
