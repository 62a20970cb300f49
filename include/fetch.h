/*
 * The daemon's own robots.txt fetches: HTTP/1.0 GET over plain TCP to the
 * address a VM talked to, non-blocking in the event loop. Redirects are
 * followed as RFC 9309 2.3.1.2 says (up to five) while they stay on the same
 * site (the same address is asked again: the daemon resolves no names); one
 * to another site ends the fetch as unreachable. The body is kept up to
 * max_bytes (the rest is read and ignored); the whole fetch has one timeout.
 */
#ifndef FETCH_H
#define FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"
#include "wire.h"

#define FETCH_HOST_MAX      256
#define FETCH_REDIRECTS_MAX 5

struct fetch_target {
	struct wire_endpoint server; /* where to connect */
	char host[FETCH_HOST_MAX];   /* for the Host header */
};

struct fetch_result {
	int status;       /* the final HTTP status; 0: unreachable, timed out or refused */
	const char *body; /* of a 2xx; "" otherwise */
	size_t body_len;
	uint64_t body_ignored; /* past max_bytes */
	unsigned redirects;
	const char *why; /* for status 0 (or an unfollowed 3xx): what happened */
};

typedef void (*fetch_done_fn)(void *arg, void *token, const struct fetch_result *result);

struct fetcher_options {
	int64_t timeout_ms;
	size_t max_bytes;
	unsigned max_parallel;
	const char *user_agent;
};

struct fetcher_stats {
	uint64_t started, succeeded, failed, timed_out, redirects;
	uint64_t redirected_away; /* to another host, port or scheme: not followed */
};

struct fetcher;

int fetcher_open(struct fetcher **out, struct loop *loop, const struct fetcher_options *options,
                 fetch_done_fn done, void *arg);
void fetcher_close(struct fetcher *fetcher);
/* Fetches started from now on get this long (a reload); those under way keep theirs. */
void fetcher_set_timeout(struct fetcher *fetcher, int64_t timeout_ms);
/*
 * Starts a fetch: 0, and done is called later, never from here; -EBUSY if
 * max_parallel are running; -errno if no connection could be started.
 */
int fetcher_start(struct fetcher *fetcher, const struct fetch_target *target, void *token,
                  int64_t now_ms);
/* Ends the fetches past their timeout (the daemon's timer). */
void fetcher_tick(struct fetcher *fetcher, int64_t now_ms);
unsigned fetcher_running(const struct fetcher *fetcher);
const struct fetcher_stats *fetcher_stats(const struct fetcher *fetcher);

/*
 * The path a redirect's Location points to on the same site, into path
 * (size bytes): "/x", "http://host/x" or "http://host:port/x" when host and
 * port are the site's. 0, or -EXDEV for another site or scheme, -EINVAL.
 */
int fetch_redirect_path(const char *location, const char *host, uint16_t port, char *path,
                        size_t size);

#endif
