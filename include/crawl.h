/*
 * The crawler path: HTTP requests from the wire judged against each site's
 * robots.txt. A site's rules come from the reply to the VM's own robots.txt
 * request when the wire saw one, else from the daemon's fetch (fetch.c),
 * at most once per site per day (RFC 9309 2.4: 24 hours), and only when the
 * VM did not ask for robots.txt itself within a second of its first request
 * to the site (then its reply is awaited, fetch_timeout long). Requests
 * that arrive before a site's rules are known are held (a bounded number
 * per site) and judged when the rules come; when none can come (fetching
 * off, a forbidden address, unreachable) they are dropped, never judged.
 *
 * Bounded: max_sites sites (least recently used go first, counted), the
 * fetch queue, and the requests held per site. The daemon never fetches
 * from an address no VM may talk to through it (loopback, link-local,
 * multicast, the hypervisor's own) nor from the policy's fetch_deny.
 */
#ifndef CRAWL_H
#define CRAWL_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "detect_crawler.h"
#include "fetch.h"
#include "hostaddr.h"
#include "loop.h"
#include "robots.h"
#include "wire.h"

#define CRAWL_USER_AGENT        "abuseguard-robots/0.1 (robots.txt check of an abuse monitor)"
#define CRAWL_FETCH_PARALLEL    4
#define CRAWL_FETCH_INTERVAL_MS (24LL * 3600 * 1000)
/* How long a new site waits for the VM's own robots.txt request before the daemon fetches. */
#define CRAWL_WIRE_GRACE_MS 1000

struct crawl_stats {
	uint64_t requests, held, held_dropped, unjudged_dropped;
	uint64_t sites, sites_evicted;
	uint64_t robots_from_wire, robots_fetched, fetch_failures;
	uint64_t fetch_queue_full, fetch_forbidden, fetch_off;
	uint64_t findings;
};

/* A finding, with the interface the requests came from. */
typedef void (*crawl_finding_fn)(void *arg, int ifindex, const struct crawler_finding *finding);

struct crawl;

/*
 * loop NULL (replay): nothing is fetched, only robots.txt replies on the
 * wire judge. host: the hypervisor's addresses (NULL: none known).
 */
int crawl_open(struct crawl **out, struct loop *loop, const struct config *config,
               const struct host_addresses *host, crawl_finding_fn on_finding, void *arg);
void crawl_close(struct crawl *crawl);
/*
 * The policy was reloaded (crawl reads it through the pointer crawl_open
 * got): the detector takes the new enabled, window, threshold and scope,
 * fetching is turned on or off, new fetches get the new timeout. The table
 * sizes are reload.c's restart-only settings. 0, or -errno (logged by the
 * caller).
 */
int crawl_configure(struct crawl *crawl);
/* The wire's hooks. */
void crawl_request(struct crawl *crawl, const struct wire_request *request);
void crawl_robots(struct crawl *crawl, const struct wire_robots *reply);
/* Starts queued fetches, ends late ones, gives up waiting for wire replies (the timer). */
void crawl_tick(struct crawl *crawl, int64_t now_ms);
void crawl_stats(const struct crawl *crawl, struct crawl_stats *out);
const struct crawler_stats *crawl_detector_stats(const struct crawl *crawl);
/* The libpcap path's and the crawler's counters, every limit's drops among them. */
struct metrics;
void crawl_metrics(const struct crawl *crawl, struct wire *wire, struct metrics *metrics);

#endif
