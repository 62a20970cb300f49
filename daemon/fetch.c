/* robots.txt over HTTP/1.0, one non-blocking socket per fetch in the event loop. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fetch.h"
#include "http_response.h"
#include "log.h"

#define FETCH_PATH_MAX    1024
#define FETCH_REQUEST_MAX (FETCH_PATH_MAX + FETCH_HOST_MAX + 256)
#define FETCH_READ_BYTES  16384

struct fetch {
	struct fetcher *fetcher;
	struct loop_watch watch;
	bool used, connected;
	void *token;
	struct fetch_target target;
	char path[FETCH_PATH_MAX];
	char request[FETCH_REQUEST_MAX];
	size_t request_len, sent;
	struct http_response_flow response;
	struct http_response_stats response_stats;
	int64_t deadline_ms;
	unsigned redirects;
	/* What the response said, copied when it is complete. */
	bool answered;
	int status;
	char location[HTTP_RESPONSE_LOCATION_MAX];
	char *body;
	size_t body_len;
	uint64_t body_ignored;
};

struct fetcher {
	struct loop *loop;
	struct fetcher_options options;
	fetch_done_fn done;
	void *arg;
	struct fetch *fetches; /* max_parallel */
	unsigned running;
	struct fetcher_stats stats;
};

int
fetch_redirect_path(const char *location, const char *host, uint16_t port, char *path, size_t size)
{
	const char *authority, *slash;
	size_t authority_len, host_len = strlen(host);
	char expected[FETCH_HOST_MAX + 8];

	if (location[0] == '/' && location[1] != '/') {
		if (strlen(location) >= size)
			return -EINVAL;
		strcpy(path, location);
		return 0;
	}
	if (strncasecmp(location, "http://", 7) != 0)
		return -EXDEV; /* https, another scheme, or a scheme-relative "//host" */
	authority = location + 7;
	slash = strchr(authority, '/');
	authority_len = slash != NULL ? (size_t)(slash - authority) : strlen(authority);
	snprintf(expected, sizeof(expected), "%s:%u", host, port);
	if (!((authority_len == host_len && strncasecmp(authority, host, host_len) == 0 &&
	       port == 80) ||
	      (authority_len == strlen(expected) &&
	       strncasecmp(authority, expected, authority_len) == 0)))
		return -EXDEV;
	if (snprintf(path, size, "%s", slash != NULL ? slash : "/") >= (int)size)
		return -EINVAL;
	return 0;
}

static void
fetch_release(struct fetch *fetch)
{
	struct fetcher *fetcher = fetch->fetcher;

	if (fetch->watch.fd >= 0) {
		loop_remove(fetcher->loop, &fetch->watch);
		close(fetch->watch.fd);
	}
	http_response_free(&fetch->response);
	free(fetch->body);
	memset(fetch, 0, sizeof(*fetch));
	fetch->watch.fd = -1;
	fetch->fetcher = fetcher;
	fetcher->running--;
}

static void
fetch_finish(struct fetch *fetch, int status, const char *why)
{
	struct fetcher *fetcher = fetch->fetcher;
	struct fetch_result result = {
	    .status = status,
	    .body = status >= 200 && status < 300 && fetch->body != NULL ? fetch->body : "",
	    .body_len = status >= 200 && status < 300 ? fetch->body_len : 0,
	    .body_ignored = fetch->body_ignored,
	    .redirects = fetch->redirects,
	    .why = why,
	};
	void *token = fetch->token;

	if (status >= 200 && status < 500)
		fetcher->stats.succeeded++;
	else
		fetcher->stats.failed++;
	/* The callback may start the next fetch: this slot is free by then, the body is not. */
	char *body = fetch->body;

	fetch->body = NULL;
	fetch_release(fetch);
	fetcher->done(fetcher->arg, token, &result);
	free(body);
}

static void fetch_ready(struct loop_watch *watch, uint32_t events);

static int
fetch_connect(struct fetch *fetch)
{
	const struct wire_endpoint *server = &fetch->target.server;
	struct sockaddr_storage address;
	socklen_t length;
	int fd, error;

	memset(&address, 0, sizeof(address));
	if (server->family == SOURCE_FAMILY_IPV4) {
		struct sockaddr_in *in = (struct sockaddr_in *)&address;

		in->sin_family = AF_INET;
		in->sin_port = htons(server->port);
		memcpy(&in->sin_addr, server->addr, 4);
		length = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&address;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(server->port);
		memcpy(&in6->sin6_addr, server->addr, 16);
		length = sizeof(*in6);
	}
	fd = socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -errno;
	if (connect(fd, (struct sockaddr *)&address, length) == -1 && errno != EINPROGRESS) {
		error = -errno;
		close(fd);
		return error;
	}
	fetch->watch.fd = fd;
	fetch->watch.ready = fetch_ready;
	fetch->connected = false;
	fetch->sent = 0;
	fetch->request_len = (size_t)snprintf(
	    fetch->request, sizeof(fetch->request),
	    "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: %s\r\nAccept: text/plain, */*\r\n"
	    "Connection: close\r\n\r\n",
	    fetch->path, fetch->target.host, fetch->fetcher->options.user_agent);
	http_response_free(&fetch->response);
	http_response_init(&fetch->response, fetch->fetcher->options.max_bytes);
	(void)http_response_expect(&fetch->response, &fetch->response_stats, true, false);
	fetch->answered = false;
	if ((error = loop_add(fetch->fetcher->loop, &fetch->watch, EPOLLOUT)) < 0) {
		close(fd);
		fetch->watch.fd = -1;
		return error;
	}
	return 0;
}

static void
on_response(void *context, const struct http_response *response)
{
	struct fetch *fetch = context;

	fetch->answered = true;
	fetch->status = response->status;
	snprintf(fetch->location, sizeof(fetch->location), "%s",
	         response->location != NULL ? response->location : "");
	free(fetch->body);
	fetch->body = malloc(response->body_len + 1);
	if (fetch->body != NULL) {
		memcpy(fetch->body, response->body, response->body_len);
		fetch->body[response->body_len] = '\0';
		fetch->body_len = response->body_len;
	}
	fetch->body_ignored = response->body_ignored;
}

/* The response is complete: done, or a redirect on the same site to follow. */
static void
fetch_answered(struct fetch *fetch)
{
	struct fetcher *fetcher = fetch->fetcher;
	int status = fetch->status, error;

	if (status < 300 || status >= 400 || fetch->location[0] == '\0') {
		fetch_finish(fetch, status, NULL);
		return;
	}
	if (fetch->redirects == FETCH_REDIRECTS_MAX) {
		fetch_finish(fetch, status, "more than 5 redirects");
		return;
	}
	error = fetch_redirect_path(fetch->location, fetch->target.host, fetch->target.server.port,
	                            fetch->path, sizeof(fetch->path));
	if (error < 0) {
		/*
		 * Not followed (RFC 9309 2.3.1.2 would, across authorities): the
		 * daemon resolves no names and speaks no TLS, and rules read from
		 * an address guessed for another host could ban on a robots.txt
		 * that is not the site's. The site stays unjudged, never banned.
		 */
		fetcher->stats.redirected_away += error == -EXDEV;
		fetch_finish(fetch, status,
		             error == -EXDEV ? "redirected to another site" : "bad redirect");
		return;
	}
	fetch->redirects++;
	fetcher->stats.redirects++;
	loop_remove(fetcher->loop, &fetch->watch);
	close(fetch->watch.fd);
	fetch->watch.fd = -1;
	if ((error = fetch_connect(fetch)) < 0)
		fetch_finish(fetch, 0, strerror(-error));
}

static void
fetch_ready(struct loop_watch *watch, uint32_t events)
{
	struct fetch *fetch = (struct fetch *)((char *)watch - offsetof(struct fetch, watch));
	char buffer[FETCH_READ_BYTES];
	int error = 0;
	socklen_t length = sizeof(error);
	ssize_t n;

	if (!fetch->connected) {
		if (getsockopt(watch->fd, SOL_SOCKET, SO_ERROR, &error, &length) == -1)
			error = errno;
		if (error != 0) {
			fetch_finish(fetch, 0, strerror(error));
			return;
		}
		fetch->connected = true;
	}
	if (fetch->sent < fetch->request_len) {
		n = send(watch->fd, fetch->request + fetch->sent, fetch->request_len - fetch->sent,
		         MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			fetch_finish(fetch, 0, strerror(errno));
			return;
		}
		if (n > 0)
			fetch->sent += (size_t)n;
		if (fetch->sent == fetch->request_len)
			loop_modify(fetch->fetcher->loop, watch, EPOLLIN);
		return;
	}
	(void)events;
	for (;;) {
		n = recv(watch->fd, buffer, sizeof(buffer), 0);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			fetch_finish(fetch, 0, strerror(errno));
			return;
		}
		if (n == 0)
			http_response_end(&fetch->response, &fetch->response_stats, on_response,
			                  fetch);
		else if (http_response_feed(&fetch->response, &fetch->response_stats, buffer,
		                            (size_t)n, on_response, fetch) < 0 &&
		         !fetch->answered) {
			fetch_finish(fetch, 0, "not an HTTP/1.x response");
			return;
		}
		if (fetch->answered) {
			fetch_answered(fetch);
			return;
		}
		if (n == 0) {
			fetch_finish(fetch, 0, "connection closed before a response");
			return;
		}
	}
}

int
fetcher_start(struct fetcher *fetcher, const struct fetch_target *target, void *token,
              int64_t now_ms)
{
	struct fetch *fetch = NULL;
	int error;

	for (unsigned i = 0; i < fetcher->options.max_parallel && fetch == NULL; i++)
		if (!fetcher->fetches[i].used)
			fetch = &fetcher->fetches[i];
	if (fetch == NULL)
		return -EBUSY;
	fetch->used = true;
	fetch->token = token;
	fetch->target = *target;
	strcpy(fetch->path, "/robots.txt");
	fetch->deadline_ms = now_ms + fetcher->options.timeout_ms;
	fetcher->running++;
	fetcher->stats.started++;
	if ((error = fetch_connect(fetch)) < 0) {
		fetcher->stats.failed++;
		fetch_release(fetch);
		return error;
	}
	return 0;
}

void
fetcher_tick(struct fetcher *fetcher, int64_t now_ms)
{
	for (unsigned i = 0; i < fetcher->options.max_parallel; i++) {
		struct fetch *fetch = &fetcher->fetches[i];

		if (fetch->used && now_ms >= fetch->deadline_ms) {
			fetcher->stats.timed_out++;
			fetch_finish(fetch, 0, "timed out");
		}
	}
}

void
fetcher_set_timeout(struct fetcher *fetcher, int64_t timeout_ms)
{
	fetcher->options.timeout_ms = timeout_ms;
}

unsigned
fetcher_running(const struct fetcher *fetcher)
{
	return fetcher->running;
}

const struct fetcher_stats *
fetcher_stats(const struct fetcher *fetcher)
{
	return &fetcher->stats;
}

int
fetcher_open(struct fetcher **out, struct loop *loop, const struct fetcher_options *options,
             fetch_done_fn done, void *arg)
{
	struct fetcher *fetcher = calloc(1, sizeof(*fetcher));

	*out = NULL;
	if (fetcher == NULL || options->max_parallel == 0 ||
	    (fetcher->fetches = calloc(options->max_parallel, sizeof(*fetcher->fetches))) == NULL) {
		free(fetcher);
		return options->max_parallel == 0 ? -EINVAL : -ENOMEM;
	}
	fetcher->loop = loop;
	fetcher->options = *options;
	fetcher->done = done;
	fetcher->arg = arg;
	for (unsigned i = 0; i < options->max_parallel; i++) {
		fetcher->fetches[i].fetcher = fetcher;
		fetcher->fetches[i].watch.fd = -1;
	}
	*out = fetcher;
	return 0;
}

void
fetcher_close(struct fetcher *fetcher)
{
	if (fetcher == NULL)
		return;
	for (unsigned i = 0; i < fetcher->options.max_parallel; i++)
		if (fetcher->fetches[i].used)
			fetch_release(&fetcher->fetches[i]);
	free(fetcher->fetches);
	free(fetcher);
}
