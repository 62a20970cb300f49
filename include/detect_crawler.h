/*
 * Crawlers that break robots.txt: per (source, site) the requests a site's
 * robots.txt disallows for the crawler's user agent, counted in a sliding
 * window; enough of them make a finding with the evidence a site operator
 * would accept. Pure: requests and the site's rules in, findings out, the
 * time with each request. Only a 2xx robots.txt judges; a 4xx one allows
 * everything; 5xx or no answer never counts against anyone.
 *
 * Memory: only a disallowed request makes state (a person browsing allowed
 * pages costs nothing). At most max_sources sources, each with at most
 * max_sites_per_source sites; past either the least recently seen one is
 * dropped, and counted.
 */
#ifndef DETECT_CRAWLER_H
#define DETECT_CRAWLER_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "detect.h"
#include "robots.h"
#include "source.h"

#define CRAWLER_HOST_MAX    256 /* a DNS name, NUL included */
#define CRAWLER_TEXT_MAX    128 /* paths, the rule, the user agent: cut to this, NUL included */
#define CRAWLER_AGENT_MAX   64  /* the group's product token */
#define CRAWLER_SAMPLES_MAX 5

/* Which robots.txt the site's requests were judged against. */
struct robots_identity {
	int64_t fetched_ms; /* when it was fetched or seen on the wire */
	int status;         /* its HTTP status; 0: unreachable */
	uint8_t sha256[32]; /* of its body */
};

/* A site's rules as the caller has them: parsed for a 2xx, else robots is NULL. */
struct crawler_rules {
	const struct robots *robots;
	struct robots_identity identity;
};

/* One HTTP request from a source, as the HTTP reader saw it. */
struct crawler_request {
	struct source_key source;
	int64_t time_ms;
	const char *host; /* the Host header (a port in it is ignored: port is the site's) */
	size_t host_len;
	uint16_t port; /* the TCP destination port */
	const char *path;
	size_t path_len;
	const char *user_agent; /* NULL: none sent */
	size_t user_agent_len;
};

struct crawler_sample {
	int64_t time_ms;
	char path[CRAWLER_TEXT_MAX];
};

struct crawler_finding {
	struct source_key source;
	int64_t time_ms;
	/* the site: scheme (always "http": HTTPS hides request lines), host, port */
	char host[CRAWLER_HOST_MAX];
	uint16_t port;
	unsigned requests; /* disallowed within the window */
	int64_t window_ms;
	/* the rule of the latest disallowed request, and its group */
	unsigned rule_line;
	char rule_text[CRAWLER_TEXT_MAX];
	unsigned group_line;
	char group_agent[CRAWLER_AGENT_MAX];
	char user_agent[CRAWLER_TEXT_MAX];
	struct robots_identity robots;
	struct crawler_sample samples[CRAWLER_SAMPLES_MAX]; /* the latest first */
	unsigned sample_count;
	char detail[512]; /* one line for people and the store */
};

struct crawler_stats {
	unsigned long long requests;       /* judged or not */
	unsigned long long disallowed;     /* by a 2xx robots.txt */
	unsigned long long unjudged;       /* no robots.txt yet, 5xx, unreachable */
	unsigned long long allowed_by_4xx; /* a 4xx robots.txt allows everything */
	unsigned long long findings;
	unsigned long long sources_dropped; /* past max_sources */
	unsigned long long sites_dropped;   /* past max_sites_per_source */
};

struct crawler;

int crawler_init(struct crawler **out, const struct crawler_config *config);
void crawler_free(struct crawler *crawler);
/*
 * A reload: enabled, window, threshold and scope from config; the table
 * sizes (max_sources, max_sites_per_source) stay as crawler_init made them.
 * A new threshold keeps each site's newest violations. 0, or -EINVAL.
 */
int crawler_configure(struct crawler *crawler, const struct crawler_config *config);
/*
 * Judges one request against its site's rules (NULL: none known yet).
 * Returns 1 and fills *out when the site's disallowed requests within the
 * window reach the threshold (the count starts again after a finding), 0
 * otherwise, -EINVAL for a request without host or path, -ENOMEM.
 */
int crawler_judge(struct crawler *crawler, const struct crawler_request *request,
                  const struct crawler_rules *rules, struct crawler_finding *out);
const struct crawler_stats *crawler_stats(const struct crawler *crawler);
/*
 * A Host header as the site's name: "Shop.Example:8080" -> "shop.example",
 * "[2001:DB8::1]:80" -> "[2001:db8::1]". 0, or -EINVAL for what no host is.
 */
/*
 * The whole evidence on one line, for the log and a ticket: the site, the
 * rule and its group, the user agent, the robots.txt judged against (when
 * fetched, its status, its SHA-256), the latest requests with their times.
 */
#define CRAWLER_EVIDENCE_MAX (1024 + CRAWLER_SAMPLES_MAX * (CRAWLER_TEXT_MAX + 32))
void crawler_evidence_format(const struct crawler_finding *finding, char *out, size_t size);
/* The finding the engine takes: category crawler, the requests counted, a shorter detail. */
void crawler_finding_convert(const struct crawler_finding *crawler, unsigned ifindex,
                             struct finding *out);
int crawler_site_host(const char *host, size_t len, char out[CRAWLER_HOST_MAX]);

#endif
