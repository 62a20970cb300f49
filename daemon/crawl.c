/*
 * The crawler path: a table of sites with their robots.txt, a queue of
 * fetches, and the requests each site holds until its rules are known.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <nettle/sha2.h>

#include "addrclass.h"
#include "crawl.h"
#include "log.h"
#include "metrics.h"

enum site_state {
	SITE_UNKNOWN,  /* no rules yet, nothing asked */
	SITE_WAITING,  /* the VM asked for robots.txt: its reply should come on the wire */
	SITE_QUEUED,   /* a fetch waits for a free slot */
	SITE_FETCHING, /* a fetch runs */
	SITE_KNOWN,    /* rules (or a status that allows or never judges) known */
};

/* A request held until its site's rules come: what the detector needs, copied. */
struct held_request {
	struct crawler_request request;
	int ifindex;
	char host[CRAWLER_HOST_MAX];
	char path[CRAWLER_TEXT_MAX * 4];
	char user_agent[CRAWLER_TEXT_MAX];
	bool has_user_agent;
};

struct site {
	bool used;
	char host[CRAWLER_HOST_MAX]; /* lower case, without the port */
	uint16_t port;
	struct wire_endpoint server; /* the address the VM talked to: where a fetch goes */
	enum site_state state;
	int64_t last_used_ms, wait_until_ms, next_fetch_ms;
	struct crawler_rules rules;
	struct robots *robots;
	bool known;                /* rules holds a status (any), from the wire or a fetch */
	struct held_request *held; /* held_requests, allocated while waiting */
	unsigned held_count;
	struct site *queue_next;
};

struct crawl {
	const struct config *config;
	struct loop *loop;
	const struct host_addresses *host;
	struct crawler *detector;
	/* NULL: no fetching (replay, or the policy never turned it on); kept when turned off. */
	struct fetcher *fetcher;
	struct site *sites; /* max_sites */
	struct site *queue_head, *queue_tail;
	unsigned queue_len;
	crawl_finding_fn on_finding;
	void *arg;
	struct crawl_stats stats;
	int64_t now_ms;
};

/* "Shop.Example:8080" -> "shop.example"; an absent Host becomes the server's address. */
static int
site_name(const struct wire_endpoint *server, const char *host, size_t len,
          char out[CRAWLER_HOST_MAX])
{
	if (host == NULL || len == 0) {
		char text[INET6_ADDRSTRLEN];

		inet_ntop(server->family == SOURCE_FAMILY_IPV4 ? AF_INET : AF_INET6, server->addr,
		          text, sizeof(text));
		snprintf(out, CRAWLER_HOST_MAX,
		         server->family == SOURCE_FAMILY_IPV4 ? "%s" : "[%s]", text);
		return 0;
	}
	return crawler_site_host(host, len, out);
}

static void
site_clear(struct site *site)
{
	robots_free(site->robots);
	free(site->held);
	memset(site, 0, sizeof(*site));
}

static struct site *
site_find(struct crawl *crawl, const char *host, uint16_t port)
{
	for (unsigned i = 0; i < crawl->config->crawler.max_sites; i++) {
		struct site *site = &crawl->sites[i];

		if (site->used && site->port == port && strcmp(site->host, host) == 0)
			return site;
	}
	return NULL;
}

/* A new site: a free slot, else the least recently used one that no fetch holds. */
static struct site *
site_create(struct crawl *crawl, const char *host, const struct wire_endpoint *server)
{
	struct site *chosen = NULL;

	for (unsigned i = 0; i < crawl->config->crawler.max_sites; i++) {
		struct site *site = &crawl->sites[i];

		if (!site->used) {
			chosen = site;
			break;
		}
		if (site->state == SITE_QUEUED || site->state == SITE_FETCHING)
			continue;
		if (chosen == NULL || site->last_used_ms < chosen->last_used_ms)
			chosen = site;
	}
	if (chosen == NULL)
		return NULL;
	if (chosen->used) {
		crawl->stats.sites_evicted++;
		crawl->stats.held_dropped += chosen->held_count;
		site_clear(chosen);
	}
	chosen->used = true;
	snprintf(chosen->host, sizeof(chosen->host), "%s", host);
	chosen->port = server->port;
	chosen->server = *server;
	crawl->stats.sites++;
	return chosen;
}

static void
judge(struct crawl *crawl, struct site *site, int ifindex, const struct crawler_request *request)
{
	struct crawler_finding finding;
	int found = crawler_judge(crawl->detector, request, &site->rules, &finding);

	if (found == 1) {
		crawl->stats.findings++;
		if (crawl->on_finding != NULL)
			crawl->on_finding(crawl->arg, ifindex, &finding);
	}
}

/* The site's rules came (or will not): the held requests are judged in the order they came. */
static void
release_held(struct crawl *crawl, struct site *site)
{
	unsigned count = site->held_count;
	struct held_request *held = site->held;

	site->held = NULL;
	site->held_count = 0;
	for (unsigned i = 0; i < count; i++)
		judge(crawl, site, held[i].ifindex, &held[i].request);
	if (!site->known || site->rules.robots == NULL)
		crawl->stats.unjudged_dropped += count;
	free(held);
}

static void
hold(struct crawl *crawl, struct site *site, int ifindex, const struct crawler_request *request)
{
	unsigned max = crawl->config->crawler.held_requests;
	struct held_request *held;

	if (site->held == NULL && max > 0 && (site->held = calloc(max, sizeof(*held))) == NULL)
		return;
	if (site->held_count >= max) {
		crawl->stats.held_dropped++;
		return;
	}
	held = &site->held[site->held_count++];
	crawl->stats.held++;
	held->ifindex = ifindex;
	held->request = *request;
	snprintf(held->host, sizeof(held->host), "%.*s", (int)request->host_len, request->host);
	held->request.host = held->host;
	held->request.host_len = strlen(held->host);
	held->request.path_len =
	    request->path_len < sizeof(held->path) - 1 ? request->path_len : sizeof(held->path) - 1;
	memcpy(held->path, request->path, held->request.path_len);
	held->request.path = held->path;
	if (request->user_agent != NULL) {
		held->request.user_agent_len = request->user_agent_len < sizeof(held->user_agent)
		                                   ? request->user_agent_len
		                                   : sizeof(held->user_agent);
		memcpy(held->user_agent, request->user_agent, held->request.user_agent_len);
		held->request.user_agent = held->user_agent;
	}
}

/* May the daemon connect there? Never to what no VM can own, nor to the policy's fetch_deny. */
static bool
fetch_allowed(const struct crawl *crawl, const struct wire_endpoint *server)
{
	const struct crawler_config *config = &crawl->config->crawler;
	struct prefix address = {.family = server->family,
	                         .len = server->family == SOURCE_FAMILY_IPV4 ? 32 : 128};
	struct source_key key;

	memcpy(address.addr, server->addr, server->family == SOURCE_FAMILY_IPV4 ? 4 : 16);
	if (!address_ownable(&address, crawl->host ? crawl->host->addresses : NULL,
	                     crawl->host ? crawl->host->count : 0))
		return false;
	source_from_addr(server->family, server->addr, 128, &key);
	for (unsigned i = 0; i < config->fetch_deny_count; i++)
		if (prefix_contains(&config->fetch_deny[i], &key))
			return false;
	return true;
}

static void
site_rules_set(struct crawl *crawl, struct site *site, int status, const char *body, size_t len)
{
	struct robots_limits limits;
	struct robots *robots = NULL;
	struct sha256_ctx digest;

	/* 5xx or unreachable with rules from before: those stay (RFC 9309 2.3.1.4). */
	if ((status == 0 || status >= 500) && site->known && site->rules.robots != NULL)
		return;
	if (status >= 200 && status < 300) {
		robots_limits_default(&limits);
		if (robots_parse(body, len, &limits, &robots) < 0) {
			log_warnx("http://%s:%u/robots.txt: no memory to parse it", site->host,
			          site->port);
			status = 0;
		}
	}
	robots_free(site->robots);
	site->robots = robots;
	site->rules.robots = robots;
	site->rules.identity.fetched_ms = crawl->now_ms;
	site->rules.identity.status = status;
	sha256_init(&digest);
	if (body != NULL)
		sha256_update(&digest, len, (const uint8_t *)body);
	sha256_digest(&digest, SHA256_DIGEST_SIZE, site->rules.identity.sha256);
	site->known = true;
}

static void
queue_fetch(struct crawl *crawl, struct site *site)
{
	if (crawl->fetcher == NULL || !crawl->config->crawler.fetch_robots) {
		crawl->stats.fetch_off++;
	} else if (!fetch_allowed(crawl, &site->server)) {
		crawl->stats.fetch_forbidden++;
	} else if (crawl->queue_len >= crawl->config->crawler.fetch_queue) {
		crawl->stats.fetch_queue_full++;
	} else {
		site->state = SITE_QUEUED;
		site->queue_next = NULL;
		if (crawl->queue_tail != NULL)
			crawl->queue_tail->queue_next = site;
		else
			crawl->queue_head = site;
		crawl->queue_tail = site;
		crawl->queue_len++;
		return;
	}
	/* No rules can come now: what was held is dropped, and the site waits a day. */
	site->state = SITE_KNOWN;
	if (!site->known)
		site_rules_set(crawl, site, 0, NULL, 0);
	site->next_fetch_ms = crawl->now_ms + CRAWL_FETCH_INTERVAL_MS;
	release_held(crawl, site);
}

static void
fetch_done(void *arg, void *token, const struct fetch_result *result)
{
	struct crawl *crawl = arg;
	struct site *site = token;

	if (result->status == 0 || result->status >= 300) {
		crawl->stats.fetch_failures++;
		log_info("http://%s:%u/robots.txt: %s%s%s (status %d): its requests are not judged",
		         site->host, site->port, result->status == 0 ? "unreachable" : "not usable",
		         result->why ? ": " : "", result->why ? result->why : "", result->status);
	} else {
		crawl->stats.robots_fetched++;
	}
	site_rules_set(crawl, site, result->status, result->body, result->body_len);
	site->state = SITE_KNOWN;
	site->next_fetch_ms = crawl->now_ms + CRAWL_FETCH_INTERVAL_MS;
	release_held(crawl, site);
}

static void
start_fetches(struct crawl *crawl)
{
	while (crawl->queue_head != NULL && crawl->fetcher != NULL &&
	       fetcher_running(crawl->fetcher) < CRAWL_FETCH_PARALLEL) {
		struct site *site = crawl->queue_head;
		struct fetch_target target = {.server = site->server};
		int error;

		crawl->queue_head = site->queue_next;
		if (crawl->queue_head == NULL)
			crawl->queue_tail = NULL;
		crawl->queue_len--;
		/* Host names the port unless it is http's own (RFC 9110 7.2). */
		if (site->port != 80)
			snprintf(target.host, sizeof(target.host), "%.240s:%u", site->host,
			         site->port);
		else
			snprintf(target.host, sizeof(target.host), "%s", site->host);
		site->state = SITE_FETCHING;
		if ((error = fetcher_start(crawl->fetcher, &target, site, crawl->now_ms)) < 0) {
			struct fetch_result result = {
			    .status = 0, .body = "", .why = strerror(-error)};

			fetch_done(crawl, site, &result);
		}
	}
}

/* Are the site's rules still good: known, and younger than the fetch interval? */
static bool
rules_fresh(const struct site *site, int64_t now_ms)
{
	return site->known && site->state == SITE_KNOWN && now_ms < site->next_fetch_ms;
}

void
crawl_request(struct crawl *crawl, const struct wire_request *wire)
{
	const struct http_request *http = wire->http;
	struct crawler_request request = {
	    .time_ms = wire->time_ms,
	    .port = wire->server.port,
	    .path = http->path,
	    .path_len = http->path_len,
	    .user_agent = http->user_agent,
	    .user_agent_len = http->user_agent_len,
	};
	char host[CRAWLER_HOST_MAX];
	struct site *site;
	bool robots;

	if (!crawl->config->crawler.enabled || http->path == NULL ||
	    site_name(&wire->server, http->host, http->host_len, host) < 0)
		return;
	crawl->now_ms = wire->time_ms;
	crawl->stats.requests++;
	source_from_addr(wire->client.family, wire->client.addr, crawl->config->ipv6_prefix_len,
	                 &request.source);
	request.host = host;
	request.host_len = strlen(host);
	if ((site = site_find(crawl, host, wire->server.port)) == NULL &&
	    (site = site_create(crawl, host, &wire->server)) == NULL) {
		crawl->stats.unjudged_dropped++;
		return;
	}
	site->last_used_ms = wire->time_ms;
	if (site->state == SITE_KNOWN && !rules_fresh(site, wire->time_ms))
		site->state = SITE_UNKNOWN; /* a day old: ask again, meanwhile judge by the old */
	if (site->known && site->state != SITE_WAITING) {
		judge(crawl, site, wire->ifindex, &request);
		if (site->state == SITE_UNKNOWN)
			queue_fetch(crawl, site);
		return;
	}
	hold(crawl, site, wire->ifindex, &request);
	robots = http->path_len == 11 && memcmp(http->path, "/robots.txt", 11) == 0;
	/*
	 * A crawler that obeys asks for robots.txt within its first requests:
	 * its reply on the wire spares the site a fetch. The daemon waits a
	 * moment for that request, and then the fetch timeout for its reply.
	 */
	if (site->state == SITE_UNKNOWN) {
		site->state = SITE_WAITING;
		site->wait_until_ms = wire->time_ms + CRAWL_WIRE_GRACE_MS;
	}
	if (site->state == SITE_WAITING && robots &&
	    site->wait_until_ms < wire->time_ms + crawl->config->crawler.fetch_timeout_ms)
		site->wait_until_ms = wire->time_ms + crawl->config->crawler.fetch_timeout_ms;
}

void
crawl_robots(struct crawl *crawl, const struct wire_robots *reply)
{
	char host[CRAWLER_HOST_MAX];
	struct site *site;
	size_t host_len = reply->host != NULL ? strlen(reply->host) : 0;

	if (!crawl->config->crawler.enabled ||
	    site_name(&reply->server, reply->host, host_len, host) < 0)
		return;
	crawl->now_ms = reply->time_ms;
	/* A reply cut short by the capture is not the file: a fetch decides then. */
	if (!reply->http->complete)
		return;
	if ((site = site_find(crawl, host, reply->server.port)) == NULL &&
	    (site = site_create(crawl, host, &reply->server)) == NULL)
		return;
	if (site->state == SITE_QUEUED || site->state == SITE_FETCHING)
		return; /* the fetch under way answers */
	crawl->stats.robots_from_wire++;
	site_rules_set(crawl, site, reply->http->status, reply->http->body, reply->http->body_len);
	site->state = SITE_KNOWN;
	site->next_fetch_ms = reply->time_ms + CRAWL_FETCH_INTERVAL_MS;
	release_held(crawl, site);
}

void
crawl_tick(struct crawl *crawl, int64_t now_ms)
{
	crawl->now_ms = now_ms;
	for (unsigned i = 0; i < crawl->config->crawler.max_sites; i++) {
		struct site *site = &crawl->sites[i];

		if (site->used && site->state == SITE_WAITING && now_ms >= site->wait_until_ms)
			queue_fetch(crawl, site); /* the wire never showed the reply */
	}
	if (crawl->fetcher != NULL)
		fetcher_tick(crawl->fetcher, now_ms);
	start_fetches(crawl);
}

/* The fetcher, made when the policy first turns fetching on (live only). */
static int
fetcher_start_once(struct crawl *crawl)
{
	const struct fetcher_options options = {
	    .timeout_ms = crawl->config->crawler.fetch_timeout_ms,
	    .max_bytes = ROBOTS_DEFAULT_MAX_BYTES,
	    .max_parallel = CRAWL_FETCH_PARALLEL,
	    .user_agent = CRAWL_USER_AGENT,
	};

	if (crawl->loop == NULL || !crawl->config->crawler.fetch_robots)
		return 0;
	if (crawl->fetcher != NULL) {
		fetcher_set_timeout(crawl->fetcher, options.timeout_ms);
		return 0;
	}
	return fetcher_open(&crawl->fetcher, crawl->loop, &options, fetch_done, crawl);
}

int
crawl_configure(struct crawl *crawl)
{
	int error;

	if ((error = crawler_configure(crawl->detector, &crawl->config->crawler)) < 0)
		return error;
	return fetcher_start_once(crawl);
}

int
crawl_open(struct crawl **out, struct loop *loop, const struct config *config,
           const struct host_addresses *host, crawl_finding_fn on_finding, void *arg)
{
	struct crawl *crawl = calloc(1, sizeof(*crawl));
	int error;

	*out = NULL;
	if (crawl == NULL)
		return -ENOMEM;
	crawl->config = config;
	crawl->loop = loop;
	crawl->host = host;
	crawl->on_finding = on_finding;
	crawl->arg = arg;
	if ((crawl->sites = calloc(config->crawler.max_sites, sizeof(*crawl->sites))) == NULL) {
		free(crawl);
		return -ENOMEM;
	}
	if ((error = crawler_init(&crawl->detector, &config->crawler)) < 0 ||
	    (error = fetcher_start_once(crawl)) < 0) {
		crawl_close(crawl);
		return error;
	}
	*out = crawl;
	return 0;
}

void
crawl_close(struct crawl *crawl)
{
	if (crawl == NULL)
		return;
	fetcher_close(crawl->fetcher);
	crawler_free(crawl->detector);
	for (unsigned i = 0; crawl->sites != NULL && i < crawl->config->crawler.max_sites; i++)
		site_clear(&crawl->sites[i]);
	free(crawl->sites);
	free(crawl);
}

void
crawl_stats(const struct crawl *crawl, struct crawl_stats *out)
{
	*out = crawl->stats;
}

const struct crawler_stats *
crawl_detector_stats(const struct crawl *crawl)
{
	return crawler_stats(crawl->detector);
}

static uint64_t
http_errors(const struct http_stats *stats)
{
	uint64_t total = 0;

	for (int error = 1; error < HTTP_ERROR_COUNT; error++)
		total += stats->errors[error];
	return total;
}

void
crawl_metrics(const struct crawl *crawl_path, struct wire *wire_path, struct metrics *m)
{
	const struct crawler_stats *detector = crawl_detector_stats(crawl_path);
	struct wire_stats wire;
	struct crawl_stats crawl;

	wire_stats(wire_path, &wire);
	crawl_stats(crawl_path, &crawl);
	const struct {
		const char *name, *type, *help;
		uint64_t value;
	} rows[] = {
	    {"abuseguard_wire_packets_total", "counter", "Packets libpcap handed the daemon.",
	     wire.packets},
	    {"abuseguard_wire_kernel_drops_total", "counter",
	     "Packets the kernel dropped: the capture buffer was full (limits.wire_buffer_bytes).",
	     wire.kernel_drops + wire.interface_drops},
	    {"abuseguard_wire_flows", "gauge", "TCP connections followed now (limits.wire_flows).",
	     wire.flows_open},
	    {"abuseguard_wire_flows_evicted_total", "counter",
	     "Connections forgotten because the flow table was full.", wire.flows_evicted},
	    {"abuseguard_wire_http_requests_total", "counter", "HTTP request heads read.",
	     wire.requests},
	    {"abuseguard_wire_http_errors_total", "counter",
	     "Client streams that were not HTTP/1.x or passed a limit (reset).",
	     http_errors(&wire.http)},
	    {"abuseguard_wire_robots_replies_total", "counter",
	     "Replies to the VMs' robots.txt requests read.", wire.robots_replies},
	    {"abuseguard_wire_robots_not_kept_total", "counter",
	     "robots.txt replies not read: 16 were being read at once.", wire.robots_not_kept},
	    {"abuseguard_wire_smtp_lines_total", "counter", "Clear-text SMTP lines read.",
	     wire.smtp_lines},
	    {"abuseguard_wire_ring_wrapped_total", "counter",
	     "Packets pushed out of an evidence ring by newer ones (limits.evidence_*).",
	     wire.ring_wrapped},
	    {"abuseguard_crawler_requests_total", "counter", "HTTP requests judged or held.",
	     crawl.requests},
	    {"abuseguard_crawler_disallowed_total", "counter",
	     "Requests a 2xx robots.txt disallowed for their agent.", detector->disallowed},
	    {"abuseguard_crawler_unjudged_total", "counter",
	     "Requests no robots.txt could judge (none, 5xx, unreachable, fetching off).",
	     detector->unjudged + crawl.unjudged_dropped},
	    {"abuseguard_crawler_held_dropped_total", "counter",
	     "Requests not held: the site's crawler.held_requests were full.", crawl.held_dropped},
	    {"abuseguard_crawler_sites_evicted_total", "counter",
	     "Sites forgotten because crawler.max_sites were kept.", crawl.sites_evicted},
	    {"abuseguard_crawler_robots_from_wire_total", "counter",
	     "robots.txt taken from the VMs' own fetches.", crawl.robots_from_wire},
	    {"abuseguard_crawler_robots_fetched_total", "counter",
	     "robots.txt the daemon fetched itself.", crawl.robots_fetched},
	    {"abuseguard_crawler_fetch_failures_total", "counter",
	     "Fetches that ended unreachable, 5xx or redirected away.", crawl.fetch_failures},
	    {"abuseguard_crawler_fetch_redirected_away_total", "counter",
	     "Fetches redirected to another host, port or scheme (https): not followed, the site "
	     "is not judged.",
	     crawl_path->fetcher != NULL ? fetcher_stats(crawl_path->fetcher)->redirected_away : 0},
	    {"abuseguard_crawler_fetch_refused_total", "counter",
	     "Fetches not made: a forbidden address, crawler.fetch_queue full, or fetching off.",
	     crawl.fetch_forbidden + crawl.fetch_queue_full + crawl.fetch_off},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		metrics_single(m, rows[i].name, rows[i].type, rows[i].help, rows[i].value);
}
