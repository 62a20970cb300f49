/*
 * The control socket: a Unix stream socket, one JSON object per line each
 * way. This module accepts clients, checks their credentials, bounds their
 * buffers and parses requests; what a command does is the handler's business.
 */
#ifndef CONTROL_H
#define CONTROL_H

#include <stdbool.h>
#include <sys/types.h>

#include <jansson.h>

#include "loop.h"
#include "protocol.h"

struct control;

struct control_peer {
	pid_t pid;
	uid_t uid;
	gid_t gid;
	bool may_change; /* root, or a member of the control group */
};

/* The longest error message a client is sent. */
#define CONTROL_ERROR_MAX 512

/* Why a handler failed: the client gets both, as "result" and "error". */
struct control_error {
	enum ctl_result result;
	char message[CONTROL_ERROR_MAX];
};

/*
 * Handles one request ({"command": NAME, ...}). Returns the reply object,
 * a new reference the module releases (it adds "ok": true unless the
 * handler set "ok"), or NULL with *error filled in (control_fail).
 */
typedef json_t *(*control_handler)(void *context, const struct control_peer *peer, json_t *request,
                                   struct control_error *error);

/* Fills in error and returns NULL: "return control_fail(error, CTL_RESULT_NOT_FOUND, ...);". */
json_t *control_fail(struct control_error *error, enum ctl_result result, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

struct control_command {
	const char *name;
	bool changes_state; /* needs may_change, and a non-empty "reason" */
	control_handler handler;
	/*
	 * A reply with "follow": true makes the client a subscriber: it then
	 * gets every control_publish, until it leaves or falls behind.
	 */
	bool may_follow;
};

struct control_options {
	const char *path;
	const char *group; /* owns the socket; NULL or "" for root only */
	/*
	 * Clients at once; further ones are refused and counted. The last slot
	 * is root's: other users hold at most max_clients - 1, so they cannot
	 * lock the operators out.
	 */
	unsigned max_clients;
	int64_t idle_timeout_ms; /* a client that neither sends nor reads for this long is closed */
	unsigned max_line_bytes; /* a longer request closes the client */
	/* Bytes a subscriber may leave unread; past it, it is dropped and counted. */
	unsigned max_event_queue_bytes;
	const struct control_command *commands; /* ends with a NULL name */
	void *context;
};

struct control_stats {
	unsigned long long accepted, refused, requests, bad_requests, denied;
	unsigned long long idle_closed;      /* clients closed after idle_timeout_ms */
	unsigned long long refused_for_root; /* of refused: only the root slot was left */
	/* Clients neither root nor in the control group: refused at accept, logged. */
	unsigned long long unauthorised;
	unsigned long long subscribers;         /* following now */
	unsigned long long subscribers_dropped; /* fell max_event_queue_bytes behind */
	unsigned long long events_published;
};

/*
 * Parses one request line (its newline removed; a trailing CR is dropped
 * too). Returns 0 and a new reference to a JSON object with a string
 * "command", -ENODATA for an empty line (ignored, no reply), or -EINVAL with
 * the message for the client in err. The one parser of what clients send.
 */
int control_request_parse(const char *line, size_t len, json_t **request, char *err, size_t errlen);

int control_init(struct control **out, struct loop *loop, const struct control_options *options);
/* Closes every client and the socket, and unlinks its path. */
void control_close(struct control *control);
void control_stats(const struct control *control, struct control_stats *out);
/* Sends one line of JSON to every subscriber; never blocks: a slow one is dropped. */
void control_publish(struct control *control, json_t *event);

#endif
