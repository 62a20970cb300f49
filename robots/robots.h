/*
 * robots.txt (RFC 9309), parsed once and judged many times. Pure: bytes in,
 * verdicts out, no I/O. Any bytes parse; what does not fit the limits is
 * ignored and counted, never guessed at.
 *
 * Groups: consecutive user-agent lines open a group, its allow/disallow
 * lines follow; a user-agent line after a rule opens the next group. Each
 * user-agent value's product token (the leading [A-Za-z_-] characters) is
 * matched case-insensitively against the crawler's token; every group that
 * names it applies, merged; only when none does, every "*" group applies.
 * Within what applies, the matching rule with the longest (normalised)
 * pattern decides, allow winning a tie; no match allows. Patterns and paths
 * are both percent-normalised before comparison (robots_normalise).
 */
#ifndef ROBOTS_H
#define ROBOTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RFC 9309 2.5: crawlers must parse at least 500 KiB; what follows is ignored. */
#define ROBOTS_DEFAULT_MAX_BYTES (500 * 1024)
/* Google's matcher cuts lines here (8 times the longest URL browsers take). */
#define ROBOTS_DEFAULT_MAX_LINE_BYTES (8 * 2083)
#define ROBOTS_DEFAULT_MAX_RULES      10000
#define ROBOTS_DEFAULT_MAX_AGENTS     1000

struct robots_limits {
	size_t max_bytes;      /* of the file; the rest, and a line it cuts, are ignored */
	size_t max_line_bytes; /* a longer line is ignored whole */
	unsigned max_rules;    /* allow/disallow lines kept; later ones ignored */
	unsigned max_agents;   /* user-agent lines kept; later ones (and their rules) ignored */
};

/* What was read, and what was left out and why: each counter a limit or a rule of RFC 9309. */
struct robots_stats {
	size_t bytes;         /* parsed */
	size_t bytes_ignored; /* past max_bytes, and the line it cut */
	unsigned lines;       /* parsed */
	unsigned groups, agents, rules;
	unsigned long_lines;     /* longer than max_line_bytes, ignored */
	unsigned rules_dropped;  /* past max_rules */
	unsigned agents_dropped; /* past max_agents */
	unsigned orphan_rules;   /* allow/disallow before any user-agent line */
	unsigned other_lines;    /* sitemap, unknown keys, no key: ignored */
};

struct robots;

enum robots_reason {
	ROBOTS_RULE,     /* a rule matched: see rule_* */
	ROBOTS_NO_RULE,  /* a group applies, none of its rules match: allowed */
	ROBOTS_NO_GROUP, /* no group names the agent and there is no "*": allowed */
	ROBOTS_IMPLICIT, /* /robots.txt itself is always allowed (RFC 9309 2.2.2) */
};

struct robots_verdict {
	bool allowed;
	enum robots_reason reason;
	/* The deciding rule (reason ROBOTS_RULE); its text points into the robots. */
	bool rule_allow;
	unsigned rule_line;
	const char *rule_text; /* the line as written, without comment and outer blanks */
	size_t rule_text_len;
	/*
	 * The group: the deciding rule's, else the first that applies. Its line
	 * is its first user-agent line; agent is what selected it: the product
	 * token as the robots.txt spells it, or "*".
	 */
	unsigned group_line;
	const char *group_agent;
	size_t group_agent_len;
	int64_t crawl_delay_ms; /* the group's crawl-delay, -1 if none; read, never enforced */
};

void robots_limits_default(struct robots_limits *limits);
/* Parses text (copied; the caller's buffer may go). 0, or -ENOMEM. */
int robots_parse(const char *text, size_t len, const struct robots_limits *limits,
                 struct robots **out);
void robots_free(struct robots *robots);
const struct robots_stats *robots_stats(const struct robots *robots);

/*
 * Judges path (a request-target path with its query, not normalised yet)
 * for the crawler whose product token is agent (robots_product_token; empty:
 * only "*" groups apply). 0, or -ENOMEM for a very long path.
 */
int robots_judge(const struct robots *robots, const char *agent, size_t agent_len, const char *path,
                 size_t path_len, struct robots_verdict *out);

/*
 * The product token of a user agent ("FooBot/1.2 (+http://...)" -> "FooBot"):
 * the leading [A-Za-z_-] characters after blanks. Returns its start; the
 * length may be 0.
 */
const char *robots_product_token(const char *agent, size_t len, size_t *token_len);
/*
 * The path and query robots.txt rules match for a URL, into out (room for
 * len + 1 bytes): "http://h/a?b#c" -> "/a?b", "/a" -> "/a", "h?q" -> "/?q",
 * "h" and "" -> "/" (the fragment dropped). Returns its length.
 */
size_t robots_url_path(const char *url, size_t len, char *out);
/*
 * RFC 9309 2.2.2's percent-encoding, applied alike to patterns and paths:
 * "%xx" of an unreserved character (A-Z a-z 0-9 - . _ ~) is decoded, other
 * "%xx" get upper-case hex, octets outside 0x21-0x7e are encoded. out has
 * room for 3 * len bytes; returns the length written.
 */
size_t robots_normalise(const char *in, size_t len, char *out);

#endif
