/*
 * The crawler detector: robots.txt verdicts per (source, site) in a sliding
 * window. Each site keeps the times of its last disallowed_requests
 * violations in a ring: the window holds the threshold exactly when the
 * oldest of them is still inside it.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "detect_crawler.h"

struct crawler_site {
	char host[CRAWLER_HOST_MAX]; /* lower case, without port or final dot */
	uint16_t port;
	int64_t last_ms;
	int64_t *times; /* ring of disallowed_requests violation times */
	unsigned count, next;
	struct crawler_sample samples[CRAWLER_SAMPLES_MAX]; /* ring, next_sample the oldest */
	unsigned sample_count, next_sample;
	unsigned rule_line, group_line;
	char rule_text[CRAWLER_TEXT_MAX];
	char group_agent[CRAWLER_AGENT_MAX];
	char user_agent[CRAWLER_TEXT_MAX];
	struct robots_identity robots;
};

struct crawler_source {
	bool used;
	struct source_key key;
	int64_t last_ms;
	struct crawler_site *sites; /* max_sites_per_source, allocated on first violation */
	unsigned site_count;
};

struct crawler {
	struct crawler_config config;
	struct crawler_source *sources; /* max_sources */
	struct crawler_stats stats;
};

int
crawler_init(struct crawler **out, const struct crawler_config *config)
{
	struct crawler *crawler = calloc(1, sizeof(*crawler));

	*out = NULL;
	if (crawler == NULL)
		return -ENOMEM;
	crawler->config = *config;
	if (config->max_sources == 0 || config->max_sites_per_source == 0 ||
	    config->disallowed_requests == 0) {
		free(crawler);
		return -EINVAL;
	}
	crawler->sources = calloc(config->max_sources, sizeof(*crawler->sources));
	if (crawler->sources == NULL) {
		free(crawler);
		return -ENOMEM;
	}
	*out = crawler;
	return 0;
}

static void
site_clear(struct crawler_site *site)
{
	free(site->times);
	memset(site, 0, sizeof(*site));
}

/* The ring for a new threshold, keeping the newest violation times in order. */
static int
site_ring_resize(struct crawler_site *site, unsigned old_ring, unsigned ring)
{
	int64_t *times = calloc(ring, sizeof(*times));
	unsigned keep = site->count < ring ? site->count : ring;

	if (times == NULL)
		return -ENOMEM;
	for (unsigned i = 0; i < keep; i++)
		times[i] = site->times[(site->next + old_ring - keep + i) % old_ring];
	free(site->times);
	site->times = times;
	site->count = keep;
	site->next = keep % ring;
	return 0;
}

int
crawler_configure(struct crawler *crawler, const struct crawler_config *config)
{
	unsigned old_ring = crawler->config.disallowed_requests;

	if (config->disallowed_requests == 0)
		return -EINVAL;
	if (config->disallowed_requests != old_ring)
		for (unsigned i = 0; i < crawler->config.max_sources; i++) {
			struct crawler_source *source = &crawler->sources[i];

			for (unsigned j = 0; source->sites != NULL && j < source->site_count; j++)
				if (source->sites[j].times != NULL &&
				    site_ring_resize(&source->sites[j], old_ring,
				                     config->disallowed_requests) < 0)
					site_clear(&source->sites[j]); /* its count starts again */
		}
	crawler->config.enabled = config->enabled;
	crawler->config.window_ms = config->window_ms;
	crawler->config.disallowed_requests = config->disallowed_requests;
	crawler->config.scope = config->scope;
	return 0;
}

static void
source_clear(struct crawler_source *source, unsigned sites_max)
{
	if (source->sites != NULL)
		for (unsigned i = 0; i < sites_max; i++)
			site_clear(&source->sites[i]);
	free(source->sites);
	memset(source, 0, sizeof(*source));
}

void
crawler_free(struct crawler *crawler)
{
	if (crawler == NULL)
		return;
	for (unsigned i = 0; i < crawler->config.max_sources; i++)
		source_clear(&crawler->sources[i], crawler->config.max_sites_per_source);
	free(crawler->sources);
	free(crawler);
}

const struct crawler_stats *
crawler_stats(const struct crawler *crawler)
{
	return &crawler->stats;
}

int
crawler_site_host(const char *host, size_t len, char out[CRAWLER_HOST_MAX])
{
	size_t end = len;

	if (len > 0 && host[0] == '[') {
		const char *close = memchr(host, ']', len);

		if (close == NULL)
			return -EINVAL;
		end = (size_t)(close - host) + 1;
	} else {
		const char *colon = memchr(host, ':', len);

		if (colon != NULL)
			end = (size_t)(colon - host);
	}
	while (end > 0 && host[end - 1] == '.')
		end--;
	if (end == 0 || end >= CRAWLER_HOST_MAX)
		return -EINVAL;
	for (size_t i = 0; i < end; i++) {
		unsigned char c = (unsigned char)host[i];

		if (c <= 0x20 || c >= 0x7f || c == '/' || c == '@')
			return -EINVAL;
		out[i] = (char)tolower(c);
	}
	out[end] = '\0';
	return 0;
}

/* Text for evidence: cut to the buffer, bytes a log cannot show as '?'. */
static void
copy_text(char *out, size_t size, const char *in, size_t len)
{
	if (len >= size)
		len = size - 1;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		out[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	out[len] = '\0';
}

/* The source's entry; a new one takes a free slot or the least recently seen. */
static struct crawler_source *
find_source(struct crawler *crawler, const struct source_key *key, int64_t now_ms)
{
	struct crawler_source *free_slot = NULL, *oldest = NULL;

	for (unsigned i = 0; i < crawler->config.max_sources; i++) {
		struct crawler_source *source = &crawler->sources[i];

		if (!source->used) {
			if (free_slot == NULL)
				free_slot = source;
			continue;
		}
		if (source_equal(&source->key, key))
			return source;
		if (oldest == NULL || source->last_ms < oldest->last_ms)
			oldest = source;
	}
	if (free_slot == NULL) {
		crawler->stats.sources_dropped++;
		source_clear(oldest, crawler->config.max_sites_per_source);
		free_slot = oldest;
	}
	free_slot->used = true;
	free_slot->key = *key;
	free_slot->last_ms = now_ms;
	return free_slot;
}

static struct crawler_site *
find_site(struct crawler *crawler, struct crawler_source *source, const char *host, uint16_t port)
{
	unsigned max = crawler->config.max_sites_per_source;
	struct crawler_site *oldest = NULL, *site;

	if (source->sites == NULL && (source->sites = calloc(max, sizeof(*source->sites))) == NULL)
		return NULL;
	for (unsigned i = 0; i < source->site_count; i++) {
		site = &source->sites[i];
		if (site->port == port && strcmp(site->host, host) == 0)
			return site;
		if (oldest == NULL || site->last_ms < oldest->last_ms)
			oldest = site;
	}
	if (source->site_count < max) {
		site = &source->sites[source->site_count++];
	} else {
		crawler->stats.sites_dropped++;
		site_clear(oldest);
		site = oldest;
	}
	if ((site->times = calloc(crawler->config.disallowed_requests, sizeof(int64_t))) == NULL) {
		/* keep the slot consistent: an empty site, nothing counted */
		return NULL;
	}
	snprintf(site->host, sizeof(site->host), "%s", host);
	site->port = port;
	return site;
}

/* Violations within the window ending now: the ring's entries not older than it. */
static unsigned
violations_in_window(const struct crawler_site *site, unsigned ring, int64_t since_ms)
{
	unsigned inside = 0;

	for (unsigned i = 0; i < site->count && i < ring; i++)
		inside += site->times[i] > since_ms;
	return inside;
}

static void
record(struct crawler_site *site, unsigned ring, const struct crawler_request *request,
       const struct robots_verdict *verdict, const struct crawler_rules *rules)
{
	struct crawler_sample *sample = &site->samples[site->next_sample];

	site->times[site->next] = request->time_ms;
	site->next = (site->next + 1) % ring;
	if (site->count < ring)
		site->count++;
	site->last_ms = request->time_ms;
	sample->time_ms = request->time_ms;
	copy_text(sample->path, sizeof(sample->path), request->path, request->path_len);
	site->next_sample = (site->next_sample + 1) % CRAWLER_SAMPLES_MAX;
	if (site->sample_count < CRAWLER_SAMPLES_MAX)
		site->sample_count++;
	site->rule_line = verdict->rule_line;
	copy_text(site->rule_text, sizeof(site->rule_text), verdict->rule_text,
	          verdict->rule_text_len);
	site->group_line = verdict->group_line;
	copy_text(site->group_agent, sizeof(site->group_agent), verdict->group_agent,
	          verdict->group_agent_len);
	copy_text(site->user_agent, sizeof(site->user_agent),
	          request->user_agent != NULL ? request->user_agent : "", request->user_agent_len);
	site->robots = rules->identity;
}

static void
make_finding(const struct crawler *crawler, const struct crawler_source *source,
             struct crawler_site *site, unsigned requests, const struct crawler_request *request,
             struct crawler_finding *out)
{
	memset(out, 0, sizeof(*out));
	out->source = source->key;
	out->time_ms = request->time_ms;
	memcpy(out->host, site->host, sizeof(out->host));
	out->port = site->port;
	out->requests = requests;
	out->window_ms = crawler->config.window_ms;
	out->rule_line = site->rule_line;
	memcpy(out->rule_text, site->rule_text, sizeof(out->rule_text));
	out->group_line = site->group_line;
	memcpy(out->group_agent, site->group_agent, sizeof(out->group_agent));
	memcpy(out->user_agent, site->user_agent, sizeof(out->user_agent));
	out->robots = site->robots;
	for (unsigned i = 0; i < site->sample_count; i++) {
		unsigned slot =
		    (site->next_sample + CRAWLER_SAMPLES_MAX - 1 - i) % CRAWLER_SAMPLES_MAX;

		out->samples[out->sample_count++] = site->samples[slot];
	}
	/* Cut to fit one line; the fields above keep the whole evidence. */
	snprintf(out->detail, sizeof(out->detail),
	         "%u requests disallowed by http://%.64s:%u/robots.txt within %llds (limit %u); "
	         "line %u \"%.40s\" (group of line %u, user-agent %.20s); agent \"%.32s\"; "
	         "last %.32s",
	         requests, site->host, site->port, (long long)(crawler->config.window_ms / 1000),
	         crawler->config.disallowed_requests, site->rule_line, site->rule_text,
	         site->group_line, site->group_agent, site->user_agent,
	         out->sample_count > 0 ? out->samples[0].path : "-");
	/* The count starts again: the next finding needs a window of its own. */
	site->count = 0;
	site->next = 0;
}

int
crawler_judge(struct crawler *crawler, const struct crawler_request *request,
              const struct crawler_rules *rules, struct crawler_finding *out)
{
	const struct crawler_config *config = &crawler->config;
	char host[CRAWLER_HOST_MAX];
	struct robots_verdict verdict;
	struct crawler_source *source;
	struct crawler_site *site;
	size_t token_len = 0;
	const char *token = "";
	unsigned inside;
	int error;

	if (request->host == NULL || request->path == NULL || request->path_len == 0 ||
	    crawler_site_host(request->host, request->host_len, host) < 0)
		return -EINVAL;
	crawler->stats.requests++;
	if (!config->enabled)
		return 0;
	if (rules == NULL || rules->identity.status < 200 || rules->identity.status >= 500 ||
	    (rules->identity.status < 400 && rules->identity.status >= 300)) {
		crawler->stats
		    .unjudged++; /* nothing known, a redirect unresolved, 5xx, unreachable */
		return 0;
	}
	if (rules->identity.status >= 400) {
		crawler->stats.allowed_by_4xx++;
		return 0;
	}
	if (rules->robots == NULL) {
		crawler->stats.unjudged++;
		return 0;
	}
	if (request->user_agent != NULL)
		token =
		    robots_product_token(request->user_agent, request->user_agent_len, &token_len);
	if ((error = robots_judge(rules->robots, token, token_len, request->path, request->path_len,
	                          &verdict)) < 0)
		return error;
	if (verdict.allowed)
		return 0;
	crawler->stats.disallowed++;
	source = find_source(crawler, &request->source, request->time_ms);
	source->last_ms = request->time_ms;
	if ((site = find_site(crawler, source, host, request->port)) == NULL)
		return -ENOMEM;
	record(site, config->disallowed_requests, request, &verdict, rules);
	inside = violations_in_window(site, config->disallowed_requests,
	                              request->time_ms - config->window_ms);
	if (inside < config->disallowed_requests)
		return 0;
	make_finding(crawler, source, site, inside, request, out);
	crawler->stats.findings++;
	return 1;
}

void
crawler_finding_convert(const struct crawler_finding *crawler, unsigned ifindex,
                        struct finding *out)
{
	char line[512];
	size_t len;

	memset(out, 0, sizeof(*out));
	out->source = crawler->source;
	out->category = CATEGORY_CRAWLER;
	out->time_ms = crawler->time_ms;
	out->counts.attempts = crawler->requests;
	out->counts.destinations = 1;
	out->ifindex = ifindex;
	/* Cut to the store's line; the log has the whole evidence. */
	snprintf(line, sizeof(line),
	         "%u requests disallowed by http://%.60s:%u/robots.txt within %llds; line %u "
	         "\"%.40s\"; agent \"%.32s\"; last %.40s",
	         crawler->requests, crawler->host, crawler->port,
	         (long long)(crawler->window_ms / 1000), crawler->rule_line, crawler->rule_text,
	         crawler->user_agent, crawler->sample_count > 0 ? crawler->samples[0].path : "-");
	len = strnlen(line, sizeof(out->detail) - 1);
	memcpy(out->detail, line, len);
	out->detail[len] = '\0';
}

static void
utc_format(int64_t ms, char *out, size_t size)
{
	time_t seconds = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&seconds, &tm);
	strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void
crawler_evidence_format(const struct crawler_finding *finding, char *out, size_t size)
{
	char fetched[32], when[32], sha[65];
	size_t used;

	for (int i = 0; i < 32; i++)
		snprintf(sha + 2 * i, 3, "%02x", finding->robots.sha256[i]);
	utc_format(finding->robots.fetched_ms, fetched, sizeof(fetched));
	used = (size_t)snprintf(out, size,
	                        "site http://%s:%u; rule line %u \"%s\" of the group at line %u "
	                        "(user-agent %s); user agent \"%s\"; robots.txt fetched %s, "
	                        "status %d, sha256 %s; latest requests:",
	                        finding->host, finding->port, finding->rule_line,
	                        finding->rule_text, finding->group_line, finding->group_agent,
	                        finding->user_agent, fetched, finding->robots.status, sha);
	for (unsigned i = 0; i < finding->sample_count && used < size; i++) {
		utc_format(finding->samples[i].time_ms, when, sizeof(when));
		used += (size_t)snprintf(out + used, size - used, "%s %s %s", i ? "," : "", when,
		                         finding->samples[i].path);
	}
}
