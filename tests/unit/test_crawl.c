/*
 * The crawler path without a network: requests and robots.txt replies as
 * the wire hands them over, fetching off (as in replay). Requests that come
 * before the rules are held and judged by them; a site whose rules cannot
 * come has its requests dropped, never judged; a 4xx robots.txt allows all;
 * named agents get their own group; the table of sites stays bounded.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "config.h"
#include "crawl.h"

struct findings {
	unsigned count;
	struct crawler_finding last;
	int ifindex;
};

static void
on_finding(void *arg, int ifindex, const struct crawler_finding *finding)
{
	struct findings *findings = arg;

	findings->count++;
	findings->last = *finding;
	findings->ifindex = ifindex;
}

static int64_t now_ms = 1700000000000LL;

static void
endpoints(struct wire_endpoint *client, struct wire_endpoint *server, const char *server_addr,
          uint16_t port)
{
	memset(client, 0, sizeof(*client));
	memset(server, 0, sizeof(*server));
	client->family = server->family = SOURCE_FAMILY_IPV4;
	inet_pton(AF_INET, "10.0.0.5", client->addr);
	client->port = 40000;
	inet_pton(AF_INET, server_addr, server->addr);
	server->port = port;
}

static void
request(struct crawl *crawl, const char *host, const char *path, const char *agent)
{
	struct http_request http = {
	    .method = "GET",
	    .method_len = 3,
	    .path = path,
	    .path_len = strlen(path),
	    .host = host,
	    .host_len = host ? strlen(host) : 0,
	    .user_agent = agent,
	    .user_agent_len = agent ? strlen(agent) : 0,
	};
	struct wire_request wire = {.ifindex = 3, .time_ms = now_ms += 100, .http = &http};

	endpoints(&wire.client, &wire.server, "10.0.1.2", 80);
	crawl_request(crawl, &wire);
}

static void
reply(struct crawl *crawl, const char *host, int status, const char *body)
{
	struct http_response http = {
	    .status = status,
	    .body = body,
	    .body_len = strlen(body),
	    .complete = true,
	};
	struct wire_robots wire = {
	    .ifindex = 3, .time_ms = now_ms += 100, .host = host, .http = &http};

	endpoints(&wire.client, &wire.server, "10.0.1.2", 80);
	crawl_robots(crawl, &wire);
}

static const char robots_txt[] = "User-agent: *\nDisallow: /private/\n\n"
                                 "User-agent: GoodBot\nAllow: /\n";

static void
test_held_until_the_reply(void)
{
	struct config config;
	struct findings findings = {0};
	struct crawl *crawl;
	struct crawl_stats stats;

	config_defaults(&config);
	crawl_open(&crawl, NULL, &config, NULL, on_finding, &findings);
	/* A crawler's first requests, then its robots.txt request, then the reply. */
	for (int i = 0; i < 6; i++)
		request(crawl, "shop.lab", "/private/x", "BadBot/1.0");
	request(crawl, "shop.lab", "/robots.txt", "BadBot/1.0");
	CHECK(findings.count == 0, "nothing is judged before the rules are known");
	reply(crawl, "shop.lab", 200, robots_txt);
	for (int i = 0; i < 3; i++)
		request(crawl, "shop.lab", "/private/y", "BadBot/1.0");
	CHECK(findings.count == 0, "9 disallowed requests are not 10");
	request(crawl, "shop.lab:80", "/private/z", "BadBot/1.0");
	CHECK(findings.count == 1 && findings.ifindex == 3 && findings.last.requests == 10 &&
	          strcmp(findings.last.host, "shop.lab") == 0 && findings.last.robots.status == 200,
	      "the held requests and the later ones make the finding at the 10th: %u requests, "
	      "site %s",
	      findings.last.requests, findings.last.host);
	crawl_stats(crawl, &stats);
	CHECK(stats.held == 7 && stats.robots_from_wire == 1,
	      "7 requests were held, the rules came from the wire");
	/* GoodBot has a group of its own that allows everything. */
	for (int i = 0; i < 20; i++)
		request(crawl, "shop.lab", "/private/x", "GoodBot/3 (+https://good.example)");
	CHECK(findings.count == 1, "a named agent's own group allows it: no finding for GoodBot");
	crawl_close(crawl);
}

static void
test_no_rules_no_verdict(void)
{
	struct config config;
	struct findings findings = {0};
	struct crawl *crawl;
	struct crawl_stats stats;

	config_defaults(&config);
	crawl_open(&crawl, NULL, &config, NULL, on_finding, &findings);
	for (int i = 0; i < 20; i++)
		request(crawl, "quiet.lab", "/private/x", "BadBot/1.0");
	crawl_tick(crawl, now_ms + 2000); /* the grace passes: fetching is off */
	for (int i = 0; i < 20; i++)
		request(crawl, "quiet.lab", "/private/x", "BadBot/1.0");
	crawl_stats(crawl, &stats);
	CHECK(findings.count == 0 && stats.fetch_off == 1 && stats.held_dropped == 0 &&
	          stats.unjudged_dropped >= 20,
	      "without a robots.txt (fetching off) nothing is judged: %llu dropped",
	      (unsigned long long)stats.unjudged_dropped);

	reply(crawl, "gone.lab", 404, "not found");
	for (int i = 0; i < 20; i++)
		request(crawl, "gone.lab", "/private/x", "BadBot/1.0");
	CHECK(findings.count == 0 && crawl_detector_stats(crawl)->allowed_by_4xx == 20,
	      "a 404 robots.txt allows everything");
	reply(crawl, "down.lab", 503, "busy");
	for (int i = 0; i < 20; i++)
		request(crawl, "down.lab", "/private/x", "BadBot/1.0");
	CHECK(findings.count == 0, "a 503 robots.txt never bans");
	crawl_close(crawl);
}

static void
test_bounded_sites(void)
{
	struct config config;
	struct findings findings = {0};
	struct crawl *crawl;
	struct crawl_stats stats;
	char host[32];

	config_defaults(&config);
	config.crawler.max_sites = 4;
	crawl_open(&crawl, NULL, &config, NULL, on_finding, &findings);
	for (int i = 0; i < 10; i++) {
		snprintf(host, sizeof(host), "site%d.lab", i);
		reply(crawl, host, 200, robots_txt);
	}
	crawl_stats(crawl, &stats);
	CHECK(stats.sites == 10 && stats.sites_evicted == 6,
	      "4 sites kept at most, the least recently used go, counted: %llu",
	      (unsigned long long)stats.sites_evicted);
	for (int i = 0; i < 10; i++)
		request(crawl, "site9.lab", "/private/x", "BadBot/1.0");
	CHECK(findings.count == 1, "the most recent site still judges");
	crawl_close(crawl);
}

int
main(void)
{
	test_held_until_the_reply();
	test_no_rules_no_verdict();
	test_bounded_sites();
	return check_done();
}
