/*
 * The crawler detector on a fixed clock: a person following a disallowed
 * link now and then, a polite crawler and an impolite one, several sites,
 * the robots.txt status rules, the window sliding, and the bounds.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "detect_crawler.h"

#define SECOND_MS 1000LL
#define MINUTE_MS (60 * SECOND_MS)
#define T0_MS     1764633600000LL /* 2025-12-02T00:00:00Z */

static const char shop_robots[] = "User-agent: *\n"
                                  "Disallow: /cart/\n"
                                  "Disallow: /search\n"
                                  "\n"
                                  "User-agent: FooBot\n"
                                  "Disallow: /private/\n";

struct lab {
	struct crawler_config config;
	struct crawler *crawler;
	struct robots *robots;
	struct crawler_rules rules;
	struct crawler_finding finding;
	unsigned findings;
};

static void
lab_init(struct lab *lab, int status)
{
	struct robots_limits limits;

	static struct config defaults;

	memset(lab, 0, sizeof(*lab));
	config_defaults(&defaults);
	lab->config = defaults.crawler;
	robots_limits_default(&limits);
	if (robots_parse(shop_robots, strlen(shop_robots), &limits, &lab->robots) < 0 ||
	    crawler_init(&lab->crawler, &lab->config) < 0) {
		printf("not ok - the detector starts\n");
		exit(1);
	}
	lab->rules.robots = status >= 200 && status < 300 ? lab->robots : NULL;
	lab->rules.identity.status = status;
	lab->rules.identity.fetched_ms = T0_MS - MINUTE_MS;
	memset(lab->rules.identity.sha256, 0xab, sizeof(lab->rules.identity.sha256));
}

static void
lab_free(struct lab *lab)
{
	crawler_free(lab->crawler);
	robots_free(lab->robots);
}

static int
request(struct lab *lab, const char *source, const char *host, const char *path, const char *agent,
        int64_t time_ms)
{
	struct crawler_request request = {
	    .time_ms = time_ms,
	    .host = host,
	    .host_len = strlen(host),
	    .port = 80,
	    .path = path,
	    .path_len = strlen(path),
	    .user_agent = agent,
	    .user_agent_len = agent != NULL ? strlen(agent) : 0,
	};
	int rc;

	if (source_parse(source, 64, &request.source) < 0) {
		printf("not ok - %s is a source\n", source);
		exit(1);
	}
	rc = crawler_judge(lab->crawler, &request, &lab->rules, &lab->finding);
	lab->findings += rc == 1;
	return rc;
}

static void
test_person(void)
{
	struct lab lab;

	lab_init(&lab, 200);
	/* An hour of browsing: a page a minute, and every third minute into the cart. */
	for (int minute = 0; minute < 60; minute++) {
		request(&lab, "10.0.0.5", "shop.example", "/products/1", "Mozilla/5.0 (X11)",
		        T0_MS + minute * MINUTE_MS);
		if (minute % 3 == 0)
			request(&lab, "10.0.0.5", "shop.example", "/cart/add?id=1",
			        "Mozilla/5.0 (X11)", T0_MS + minute * MINUTE_MS + 5 * SECOND_MS);
	}
	CHECK(lab.findings == 0 && crawler_stats(lab.crawler)->disallowed == 20,
	      "a person into the cart every 3 minutes for an hour (20 disallowed): no finding");
	lab_free(&lab);
}

static void
test_polite_crawler(void)
{
	struct lab lab;
	char path[64];

	lab_init(&lab, 200);
	for (int i = 0; i < 1000; i++) {
		snprintf(path, sizeof(path), "/products/%d", i);
		request(&lab, "10.0.0.6", "shop.example", path, "FooBot/1.0", T0_MS + i * 100);
	}
	/* /cart/ is disallowed for *, not for FooBot, which has its own group. */
	for (int i = 0; i < 20; i++)
		request(&lab, "10.0.0.6", "shop.example", "/cart/", "FooBot/1.0", T0_MS + i * 100);
	CHECK(lab.findings == 0 && crawler_stats(lab.crawler)->disallowed == 0,
	      "a polite crawler: 1020 requests its group allows, no finding");
	lab_free(&lab);
}

static void
test_impolite_crawler(void)
{
	struct lab lab;
	char path[64];
	int rc = 0, i;

	lab_init(&lab, 200);
	for (i = 0; i < 10 && rc == 0; i++) {
		snprintf(path, sizeof(path), "/private/doc%d.pdf", i);
		rc = request(&lab, "10.0.0.7", "Shop.Example:80", path,
		             "FooBot/2.1 (+http://foo.example/bot)", T0_MS + i * 6 * SECOND_MS);
	}
	CHECK(rc == 1 && i == 10, "the 10th disallowed request in a minute is a finding (after %d)",
	      i);
	CHECK(strcmp(lab.finding.host, "shop.example") == 0 && lab.finding.port == 80 &&
	          lab.finding.requests == 10 && lab.finding.window_ms == 10 * MINUTE_MS,
	      "it names the site (host %s, port %u) and the count %u", lab.finding.host,
	      lab.finding.port, lab.finding.requests);
	CHECK(lab.finding.rule_line == 6 &&
	          strcmp(lab.finding.rule_text, "Disallow: /private/") == 0 &&
	          lab.finding.group_line == 5 && strcmp(lab.finding.group_agent, "FooBot") == 0,
	      "the rule (line %u \"%s\") and its group (line %u, %s)", lab.finding.rule_line,
	      lab.finding.rule_text, lab.finding.group_line, lab.finding.group_agent);
	CHECK(lab.finding.sample_count == CRAWLER_SAMPLES_MAX &&
	          strcmp(lab.finding.samples[0].path, "/private/doc9.pdf") == 0 &&
	          lab.finding.samples[0].time_ms == T0_MS + 54 * SECOND_MS &&
	          strcmp(lab.finding.samples[4].path, "/private/doc5.pdf") == 0,
	      "sample paths with their times, the latest first");
	CHECK(strcmp(lab.finding.user_agent, "FooBot/2.1 (+http://foo.example/bot)") == 0,
	      "the user agent as sent");
	CHECK(lab.finding.robots.status == 200 &&
	          lab.finding.robots.fetched_ms == T0_MS - MINUTE_MS &&
	          lab.finding.robots.sha256[0] == 0xab,
	      "the robots.txt it was judged against: status, fetch time, SHA-256");
	CHECK(strstr(lab.finding.detail,
	             "10 requests disallowed by http://shop.example:80/robots.txt") != NULL,
	      "detail: %s", lab.finding.detail);
	rc = request(&lab, "10.0.0.7", "shop.example", "/private/again", "FooBot/2.1",
	             T0_MS + 60 * SECOND_MS);
	CHECK(rc == 0, "after a finding the count starts again");
	lab_free(&lab);
}

static void
test_window_and_sites(void)
{
	struct lab lab;
	const char *sites[] = {"a.example", "b.example", "c.example"};

	lab_init(&lab, 200);
	/* 9 a site on three sites within a minute: no site reaches 10. */
	for (int i = 0; i < 27; i++)
		request(&lab, "10.0.0.8", sites[i % 3], "/search?q=x", "curl/8.0",
		        T0_MS + i * SECOND_MS);
	CHECK(lab.findings == 0, "9 disallowed requests on each of 3 sites: no finding");
	/* The window slides: 9 in the first half minute, the 10th eleven minutes on. */
	request(&lab, "10.0.0.8", "a.example", "/search?q=y", "curl/8.0", T0_MS + 11 * MINUTE_MS);
	CHECK(lab.findings == 0, "the 10th after the first 9 left the window: no finding");
	for (int i = 0; i < 8; i++)
		request(&lab, "10.0.0.8", "a.example", "/search?q=z", "curl/8.0",
		        T0_MS + 11 * MINUTE_MS + 1 + i);
	CHECK(lab.findings == 0, "9 inside the window: still none");
	request(&lab, "10.0.0.8", "a.example", "/search?q=w", "curl/8.0",
	        T0_MS + 11 * MINUTE_MS + 50);
	CHECK(lab.findings == 1 && strcmp(lab.finding.host, "a.example") == 0,
	      "the 10th inside the window: a finding for a.example");
	request(&lab, "10.0.0.9", "a.example", "/search", NULL, T0_MS);
	CHECK(crawler_stats(lab.crawler)->disallowed == 38, "no User-Agent: the * group judges");
	lab_free(&lab);
}

static void
test_status_rules(void)
{
	static const struct {
		int status;
		const char *what;
	} statuses[] = {
	    {404, "a 404 robots.txt allows everything"},
	    {403, "a 403 robots.txt allows everything"},
	    {500, "a 5xx robots.txt never bans"},
	    {503, "a 503 robots.txt never bans"},
	    {0, "an unreachable site never bans"},
	};

	for (size_t s = 0; s < sizeof(statuses) / sizeof(statuses[0]); s++) {
		struct lab lab;

		lab_init(&lab, statuses[s].status);
		for (int i = 0; i < 50; i++)
			request(&lab, "10.0.0.10", "shop.example", "/cart/", "curl", T0_MS + i);
		CHECK(lab.findings == 0 && crawler_stats(lab.crawler)->disallowed == 0,
		      "%s: 50 requests to /cart/, no finding", statuses[s].what);
		lab_free(&lab);
	}
}

static void
test_bounds(void)
{
	struct lab lab;
	char source[32], host[32];
	int rc;

	lab_init(&lab, 200);
	crawler_free(lab.crawler);
	lab.config.max_sources = 2;
	lab.config.max_sites_per_source = 2;
	crawler_init(&lab.crawler, &lab.config);
	for (int i = 0; i < 5; i++) {
		snprintf(source, sizeof(source), "10.0.1.%d", i);
		request(&lab, source, "shop.example", "/cart/", "curl", T0_MS + i);
	}
	CHECK(crawler_stats(lab.crawler)->sources_dropped == 3,
	      "max_sources 2: 5 sources, the 3 oldest dropped and counted");
	for (int i = 0; i < 4; i++) {
		snprintf(host, sizeof(host), "s%d.example", i);
		request(&lab, "10.0.1.4", host, "/cart/", "curl", T0_MS + 10 + i);
	}
	CHECK(crawler_stats(lab.crawler)->sites_dropped == 3,
	      "max_sites_per_source 2: sites past it drop the oldest, counted (%llu)",
	      crawler_stats(lab.crawler)->sites_dropped);
	rc = request(&lab, "10.0.1.4", "", "/cart/", "curl", T0_MS);
	CHECK(rc == -EINVAL, "a request without a host is refused");
	lab.config.enabled = 0;
	crawler_free(lab.crawler);
	crawler_init(&lab.crawler, &lab.config);
	for (int i = 0; i < 20; i++)
		request(&lab, "10.0.1.4", "shop.example", "/cart/", "curl", T0_MS + i);
	CHECK(lab.findings == 0, "crawler.enabled false: nothing is found");
	lab_free(&lab);
}

/* A reload: the threshold and the window change with the violations already counted kept. */
static void
test_reconfigure(void)
{
	struct lab lab;
	struct crawler_config config;

	lab_init(&lab, 200);
	for (int i = 0; i < 6; i++)
		request(&lab, "10.0.0.7", "shop.example", "/cart/", "BadBot/2",
		        T0_MS + i * SECOND_MS);
	config = lab.config;
	config.disallowed_requests = 4;
	CHECK(crawler_configure(lab.crawler, &config) == 0 && lab.findings == 0,
	      "6 disallowed requests of 10, then the threshold becomes 4: no finding yet");
	request(&lab, "10.0.0.7", "shop.example", "/cart/", "BadBot/2", T0_MS + 6 * SECOND_MS);
	CHECK(lab.findings == 1 && lab.finding.requests == 4,
	      "the next one finds 4 within the window, from the counts kept (%u)",
	      lab.finding.requests);
	config.disallowed_requests = 3;
	config.window_ms = 2 * SECOND_MS;
	crawler_configure(lab.crawler, &config);
	request(&lab, "10.0.0.8", "shop.example", "/cart/", "BadBot/2", T0_MS);
	request(&lab, "10.0.0.8", "shop.example", "/cart/", "BadBot/2", T0_MS + 2 * SECOND_MS);
	request(&lab, "10.0.0.8", "shop.example", "/cart/", "BadBot/2", T0_MS + 4 * SECOND_MS);
	CHECK(lab.findings == 1, "a window of 2 s: 3 requests 2 s apart are no finding");
	config.enabled = false;
	crawler_configure(lab.crawler, &config);
	for (int i = 0; i < 5; i++)
		request(&lab, "10.0.0.9", "shop.example", "/cart/", "BadBot/2", T0_MS + i);
	CHECK(lab.findings == 1, "turned off, 5 at once are no finding");
	config.disallowed_requests = 0;
	CHECK(crawler_configure(lab.crawler, &config) == -EINVAL, "a threshold of 0 is refused");
	lab_free(&lab);
}

int
main(void)
{
	test_person();
	test_polite_crawler();
	test_impolite_crawler();
	test_window_and_sites();
	test_status_rules();
	test_bounds();
	test_reconfigure();
	return check_done();
}
