/*
 * The control socket as a client sees it: a stub daemon runs the real loop
 * and control module in a forked child with a few stub commands; this
 * process connects as root, as nobody and as group members, and checks the
 * replies, the refusals, the limits and the socket file. abusectl, built
 * beside the test, is run against the same stub.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "abusectl_path.h"
#include "check.h"
#include "control.h"
#include "log.h"
#include "loop.h"

#define TEST_LINE_BYTES 256
#define NOBODY          65534 /* uid nobody, gid nogroup */
#define OTHER_GID       1     /* daemon: neither root nor nogroup */

/* The idle timeout of the next stub daemon started. */
static int64_t stub_idle_ms = 60000;

struct stub {
	struct loop loop;
	struct control *control;
	bool empty_bans;
};

static const char status_reply[] =
    "{\"ok\":true,\"version\":\"0.1\",\"mode\":\"enforce\",\"pid\":123,\"uptime_s\":12,"
    "\"interfaces\":[{\"name\":\"veth0\",\"ifindex\":5,\"xdp_mode\":\"generic\"}],"
    "\"bans_active\":1,\"future_key\":{\"nested\":[1,2]},"
    "\"counters\":{\"packets\":10,\"smtp_attempts\":3}}";

static const char bans_reply[] =
    "{\"ok\":true,\"bans\":[{\"id\":1,\"source\":\"10.0.0.5\",\"scope\":\"smtp\","
    "\"category\":\"spam\",\"level\":1,\"duration_s\":3600,\"started\":\"2026-11-26T06:00:00Z\","
    "\"expires\":\"2026-11-26T07:00:00Z\",\"remaining_s\":3598,\"future\":true},"
    "{\"source\":\"2001:db8:1:2::/64\",\"scope\":\"web\",\"duration_s\":604800,"
    "\"vm_name\":\"shop\\u001b[2J\\nforged row\\u0007\"}]}";

static json_t *
stub_echo(void *context, const struct control_peer *peer, json_t *request,
          struct control_error *error)
{
	(void)context, (void)peer, (void)error;
	return json_pack("{s:O}", "request", request);
}

static json_t *
stub_poke(void *context, const struct control_peer *peer, json_t *request,
          struct control_error *error)
{
	struct stub *stub = context;

	(void)peer, (void)error;
	stub->empty_bans = json_is_true(json_object_get(request, "empty_bans"));
	return json_pack("{s:b}", "poked", 1);
}

static json_t *
stub_whoami(void *context, const struct control_peer *peer, json_t *request,
            struct control_error *error)
{
	(void)context, (void)request, (void)error;
	return json_pack("{s:i, s:i, s:b}", "uid", (int)peer->uid, "gid", (int)peer->gid,
	                 "may_change", peer->may_change);
}

static json_t *
stub_stats(void *context, const struct control_peer *peer, json_t *request,
           struct control_error *error)
{
	struct stub *stub = context;
	struct control_stats stats;

	(void)peer, (void)request, (void)error;
	control_stats(stub->control, &stats);
	return json_pack(
	    "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "unauthorised",
	    (json_int_t)stats.unauthorised, "subscribers", (json_int_t)stats.subscribers,
	    "subscribers_dropped", (json_int_t)stats.subscribers_dropped, "accepted",
	    (json_int_t)stats.accepted, "refused", (json_int_t)stats.refused, "requests",
	    (json_int_t)stats.requests, "bad_requests", (json_int_t)stats.bad_requests, "denied",
	    (json_int_t)stats.denied, "idle_closed", (json_int_t)stats.idle_closed,
	    "refused_for_root", (json_int_t)stats.refused_for_root);
}

static json_t *
stub_fail(void *context, const struct control_peer *peer, json_t *request,
          struct control_error *error)
{
	(void)context, (void)peer, (void)request;
	return control_fail(error, CTL_RESULT_FAILED, "stub failure");
}

static json_t *
stub_quit(void *context, const struct control_peer *peer, json_t *request,
          struct control_error *error)
{
	struct stub *stub = context;

	(void)peer, (void)request, (void)error;
	stub->loop.stop = 1;
	return json_object();
}

static json_t *
stub_status(void *context, const struct control_peer *peer, json_t *request,
            struct control_error *error)
{
	(void)context, (void)peer, (void)request, (void)error;
	return json_loads(status_reply, 0, NULL);
}

static json_t *
stub_bans(void *context, const struct control_peer *peer, json_t *request,
          struct control_error *error)
{
	struct stub *stub = context;

	(void)peer, (void)request, (void)error;
	if (stub->empty_bans)
		return json_pack("{s:[]}", "bans");
	return json_loads(bans_reply, 0, NULL);
}

static json_t *
stub_unban(void *context, const struct control_peer *peer, json_t *request,
           struct control_error *error)
{
	const char *source = json_string_value(json_object_get(request, "source"));

	(void)context, (void)peer;
	if (source == NULL || strcmp(source, "10.0.0.5") != 0)
		return control_fail(error, CTL_RESULT_NOT_FOUND, "no active ban on that source");
	return json_pack("{s:s, s:[{s:s, s:s, s:i}]}", "source", source, "lifted", "scope", "smtp",
	                 "category", "spam", "level", 1);
}

static json_t *
stub_follow(void *context, const struct control_peer *peer, json_t *request,
            struct control_error *error)
{
	(void)context, (void)peer, (void)request, (void)error;
	return json_pack("{s:b}", CTL_KEY_FOLLOW, 1);
}

/* {"count": N, "bytes": B}: publishes N events of about B bytes each. */
static json_t *
stub_publish(void *context, const struct control_peer *peer, json_t *request,
             struct control_error *error)
{
	struct stub *stub = context;
	json_int_t count = json_integer_value(json_object_get(request, "count"));
	json_int_t bytes = json_integer_value(json_object_get(request, "bytes"));
	char *pad = calloc(1, (size_t)bytes + 1);

	(void)peer, (void)error;
	memset(pad, 'e', (size_t)bytes);
	for (json_int_t i = 0; i < count; i++) {
		json_t *event = json_pack("{s:s, s:I, s:s}", "event", "test", "n", i, "pad", pad);

		control_publish(stub->control, event);
		json_decref(event);
	}
	free(pad);
	return json_object();
}

static const struct control_command stub_commands[] = {
    {"echo", false, stub_echo, false},       {"poke", true, stub_poke, false},
    {"whoami", false, stub_whoami, false},   {"stats", false, stub_stats, false},
    {"fail", false, stub_fail, false},       {"quit", false, stub_quit, false},
    {"status", false, stub_status, false},   {"bans", false, stub_bans, false},
    {"unban", true, stub_unban, false},      {"follow", false, stub_follow, true},
    {"publish", false, stub_publish, false}, {NULL, false, NULL, false},
};

static struct control_options
stub_options(const char *path, const char *group, unsigned max_clients)
{
	return (struct control_options){
	    .path = path,
	    .group = group,
	    .max_clients = max_clients,
	    .max_line_bytes = TEST_LINE_BYTES,
	    .idle_timeout_ms = stub_idle_ms,
	    .max_event_queue_bytes = 65536,
	    .commands = stub_commands,
	};
}

/*
 * Forks the stub daemon. Returns its pid once control_init is done, or -1
 * if control_init failed (*init_error says how).
 */
static pid_t
start_server(const char *path, const char *group, unsigned max_clients, int *init_error)
{
	int ready[2];
	pid_t pid;

	if (pipe(ready) == -1)
		return -1;
	pid = fork();
	if (pid == 0) {
		struct control_options options = stub_options(path, group, max_clients);
		struct stub stub = {0};
		int error;

		close(ready[0]);
		options.context = &stub;
		error = loop_init(&stub.loop);
		if (error == 0)
			error = control_init(&stub.control, &stub.loop, &options);
		if (write(ready[1], &error, sizeof(error)) != sizeof(error) || error != 0)
			_exit(2);
		close(ready[1]);
		error = loop_run(&stub.loop);
		control_close(stub.control);
		loop_close(&stub.loop);
		exit(error == 0 ? 0 : 3); /* exit, not _exit: LeakSanitizer checks the child */
	}
	close(ready[1]);
	*init_error = -EIO;
	if (pid == -1 || read(ready[0], init_error, sizeof(*init_error)) != sizeof(*init_error) ||
	    *init_error != 0) {
		close(ready[0]);
		if (pid > 0)
			waitpid(pid, NULL, 0);
		return -1;
	}
	close(ready[0]);
	return pid;
}

struct client {
	int fd;
	char buffer[1 << 16];
	size_t len;
};

static struct client *
client_open(const char *path)
{
	struct sockaddr_un address = {.sun_family = AF_UNIX};
	struct timeval timeout = {.tv_sec = 5};
	struct client *client = calloc(1, sizeof(*client));

	snprintf(address.sun_path, sizeof(address.sun_path), "%s", path);
	client->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(client->fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
	setsockopt(client->fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
	if (connect(client->fd, (struct sockaddr *)&address, sizeof(address)) == -1) {
		close(client->fd);
		free(client);
		return NULL;
	}
	return client;
}

static void
client_free(struct client *client)
{
	if (client == NULL)
		return;
	close(client->fd);
	free(client);
}

static int
client_send(struct client *client, const char *text)
{
	size_t len = strlen(text), sent = 0;

	while (sent < len) {
		ssize_t n = send(client->fd, text + sent, len - sent, MSG_NOSIGNAL);

		if (n == -1)
			return -errno;
		sent += n;
	}
	return 0;
}

/* Reads one line into a string the caller frees: NULL on EOF, error or timeout. */
static char *
client_line(struct client *client)
{
	for (;;) {
		char *newline = memchr(client->buffer, '\n', client->len);
		ssize_t n;

		if (newline != NULL) {
			size_t len = newline - client->buffer;
			char *line = strndup(client->buffer, len);

			memmove(client->buffer, newline + 1, client->len - len - 1);
			client->len -= len + 1;
			return line;
		}
		if (client->len == sizeof(client->buffer))
			return NULL;
		n = recv(client->fd, client->buffer + client->len,
		         sizeof(client->buffer) - client->len, 0);
		if (n <= 0)
			return NULL;
		client->len += n;
	}
}

/* The connection is closed: EOF, or a reset because we had sent more. */
static bool
client_closed(struct client *client)
{
	char byte;
	ssize_t n = recv(client->fd, &byte, 1, 0);

	return n == 0 || (n == -1 && (errno == ECONNRESET || errno == EPIPE));
}

/* Reads what is left; true if the connection then ends (not a timeout). */
static bool
client_drained_closed(struct client *client)
{
	char buffer[65536];
	ssize_t n;

	while ((n = recv(client->fd, buffer, sizeof(buffer), 0)) > 0)
		;
	return n == 0 || (n == -1 && (errno == ECONNRESET || errno == EPIPE));
}

static json_t *
client_reply(struct client *client)
{
	char *line = client_line(client);
	json_t *reply;

	if (line == NULL)
		return NULL;
	reply = json_loads(line, 0, NULL);
	free(line);
	return reply;
}

/* Sends one request line and returns the parsed reply (NULL if none). */
static json_t *
ask(struct client *client, const char *request)
{
	char line[1024];

	snprintf(line, sizeof(line), "%s\n", request);
	if (client == NULL || client_send(client, line) < 0)
		return NULL;
	return client_reply(client);
}

static bool
reply_ok(json_t *reply)
{
	return json_is_true(json_object_get(reply, "ok"));
}

static const char *
reply_error(json_t *reply)
{
	const char *error = json_string_value(json_object_get(reply, "error"));

	return error != NULL ? error : "";
}

static json_int_t
reply_integer(json_t *reply, const char *key)
{
	return json_integer_value(json_object_get(reply, key));
}

/* An error reply, and the connection still answers the next request. */
static void
check_refused_request(struct client *client, const char *request, const char *expected)
{
	json_t *reply = ask(client, request);
	json_t *next;

	CHECK(reply != NULL && !reply_ok(reply) && strstr(reply_error(reply), expected) != NULL,
	      "request %s is answered ok:false with an error mentioning \"%s\" (got \"%s\")",
	      request, expected, reply_error(reply));
	json_decref(reply);
	next = ask(client, "{\"command\":\"echo\",\"n\":2}");
	CHECK(reply_ok(next), "after %s the same connection still answers", request);
	json_decref(next);
}

/*
 * Connects as another user, sends the requests and returns what came back
 * (the reply lines), in a string the caller frees.
 */
static char *
run_as(const char *path, uid_t uid, gid_t gid, const gid_t *groups, size_t group_count,
       const char *requests)
{
	char *replies = calloc(1, 8192);
	size_t len = 0;
	int output[2];
	pid_t pid;

	if (pipe(output) == -1)
		return replies;
	pid = fork();
	if (pid == 0) {
		struct client *client;
		char *line;
		int lines = 0;

		close(output[0]);
		for (const char *c = requests; *c != '\0'; c++)
			lines += *c == '\n';
		/* The kernel records the credentials at connect: drop them first. */
		if (setgroups(group_count, groups) == -1 || setresgid(gid, gid, gid) == -1 ||
		    setresuid(uid, uid, uid) == -1)
			_exit(2);
		client = client_open(path);
		if (client == NULL)
			_exit(3);
		/* A refused peer's requests may meet a closed socket: its reply is read all the
		 * same. */
		(void)client_send(client, requests);
		while (lines-- > 0 && (line = client_line(client)) != NULL) {
			dprintf(output[1], "%s ", line);
			free(line);
		}
		_exit(0);
	}
	close(output[1]);
	for (;;) {
		ssize_t n = read(output[0], replies + len, 8191 - len);

		if (n <= 0)
			break;
		len += n;
	}
	close(output[0]);
	waitpid(pid, NULL, 0);
	return replies;
}

static bool
stop_server(const char *path, pid_t pid)
{
	struct client *client = client_open(path);
	json_t *reply = ask(client, "{\"command\":\"quit\"}");
	int status = -1;

	json_decref(reply);
	client_free(client);
	if (pid <= 0)
		return false;
	if (reply == NULL)
		kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return reply != NULL && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static json_t *
server_stats(const char *path)
{
	struct client *client = client_open(path);
	json_t *reply = ask(client, "{\"command\":\"stats\"}");

	client_free(client);
	return reply;
}

static void
test_requests(const char *path)
{
	struct client *client = client_open(path);
	struct client *other;
	json_t *reply, *second;
	char line[TEST_LINE_BYTES + 2];
	int prefix;

	CHECK(client != NULL, "root can connect to %s", path);
	reply = ask(client, "{\"command\":\"echo\",\"n\":1}");
	CHECK(reply_ok(reply) && reply_integer(json_object_get(reply, "request"), "n") == 1,
	      "a valid read request gets ok:true and the handler's data");
	json_decref(reply);

	check_refused_request(client, "{\"command\":\"echo\"", "bad JSON");
	check_refused_request(client, "not json at all", "bad JSON");
	check_refused_request(client, "[1,2]", "not a JSON object");
	check_refused_request(client, "{}", "command");
	check_refused_request(client, "{\"command\":5}", "command");
	check_refused_request(client, "{\"command\":\"nope\"}", "unknown command");
	check_refused_request(client, "{\"command\":\"fail\"}", "stub failure");
	check_refused_request(client, "{\"command\":\"poke\"}", "reason required");
	check_refused_request(client, "{\"command\":\"poke\",\"reason\":\"  \"}",
	                      "reason required");

	reply = ask(client, "{\"command\":\"poke\",\"reason\":\"test\"}");
	CHECK(reply_ok(reply) && json_is_true(json_object_get(reply, "poked")),
	      "a change with a reason, from root, is carried out");
	json_decref(reply);
	reply = ask(client, "{\"command\":\"whoami\"}");
	CHECK(reply_integer(reply, "uid") == 0 &&
	          json_is_true(json_object_get(reply, "may_change")),
	      "the daemon sees the peer as uid 0, allowed to change state");
	json_decref(reply);

	client_send(client, "{\"command\":\"echo\",\"n\":1}\n{\"command\":\"echo\",\"n\":2}\n");
	reply = client_reply(client);
	second = client_reply(client);
	CHECK(reply_integer(json_object_get(reply, "request"), "n") == 1 &&
	          reply_integer(json_object_get(second, "request"), "n") == 2,
	      "two requests in one write get two replies, in order");
	json_decref(reply);
	json_decref(second);

	/* Exactly the limit, newline not counted, is still a request. */
	prefix = snprintf(line, sizeof(line), "{\"command\":\"echo\",\"pad\":\"");
	memset(line + prefix, 'x', TEST_LINE_BYTES - prefix - 2);
	strcpy(line + TEST_LINE_BYTES - 2, "\"}");
	reply = ask(client, line);
	CHECK(reply_ok(reply), "a request of exactly max_line_bytes (%d) is answered",
	      TEST_LINE_BYTES);
	json_decref(reply);

	/* Half a request, another client, then the rest. */
	other = client_open(path);
	client_send(client, "{\"command\":\"echo\",");
	reply = ask(other, "{\"command\":\"echo\",\"n\":3}");
	CHECK(reply_ok(reply), "a client's half-sent line does not hold up another client");
	json_decref(reply);
	reply = ask(client, "\"n\":7}");
	CHECK(reply_integer(json_object_get(reply, "request"), "n") == 7,
	      "the first client's line, completed later, is answered");
	json_decref(reply);
	client_free(other);

	other = client_open(path);
	client_send(other, "{\"command\":\"ec");
	client_free(other);
	other = client_open(path);
	client_send(other, "{\"command\":\"echo\",\"n\":4}\n");
	client_free(other); /* gone before its reply: the daemon must not die of SIGPIPE */
	reply = ask(client, "{\"command\":\"echo\",\"n\":5}");
	CHECK(reply_ok(reply),
	      "clients that leave mid-line or before their reply do not disturb the others");
	json_decref(reply);

	other = client_open(path);
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	client_send(other, line);
	reply = client_reply(other);
	CHECK(reply != NULL && !reply_ok(reply) && strstr(reply_error(reply), "longer") != NULL,
	      "a line over max_line_bytes gets an error reply (got \"%s\")", reply_error(reply));
	CHECK(client_closed(other), "and then the daemon closes that client");
	json_decref(reply);
	client_free(other);
	client_free(client);
}

/* Requests from a client that never reads its replies. */
static void
test_slow_reader(const char *path)
{
	char request[TEST_LINE_BYTES + 2];
	struct client *client = client_open(path);
	json_t *reply;
	int prefix, error = 0;
	size_t sent = 0;

	prefix = snprintf(request, sizeof(request), "{\"command\":\"echo\",\"pad\":\"");
	memset(request + prefix, 'y', TEST_LINE_BYTES - prefix - 2);
	strcpy(request + TEST_LINE_BYTES - 2, "\"}\n");
	/* Replies are a little longer than requests: 16 MiB is far past the bound. */
	while (client != NULL && sent < (16u << 20) && error == 0) {
		error = client_send(client, request);
		sent += TEST_LINE_BYTES + 1;
	}
	CHECK(error == -EPIPE || error == -ECONNRESET,
	      "a client that sends but never reads is dropped (send: %s after %zu KiB)",
	      strerror(-error), sent >> 10);
	client_free(client);
	client = client_open(path);
	reply = ask(client, "{\"command\":\"echo\"}");
	CHECK(reply_ok(reply), "the daemon still serves others after dropping it");
	json_decref(reply);
	client_free(client);
}

/* Followers get every event; one that stops reading is dropped, the daemon never waits. */
static void
test_followers(const char *path)
{
	struct client *follower = client_open(path), *quiet = client_open(path);
	struct client *other = client_open(path);
	json_t *reply, *stats;
	bool all = true;

	reply = ask(follower, "{\"command\":\"follow\"}");
	CHECK(reply_ok(reply), "a client follows the events");
	json_decref(reply);
	json_decref(ask(quiet, "{\"command\":\"follow\"}"));
	reply = ask(other, "{\"command\":\"publish\",\"count\":3,\"bytes\":10}");
	json_decref(reply);
	for (int i = 0; i < 3; i++) {
		json_t *event = client_reply(follower);

		all = all && json_integer_value(json_object_get(event, "n")) == i;
		json_decref(event);
	}
	CHECK(all, "each follower gets the published events, one line each, in order");
	stats = server_stats(path);
	CHECK(reply_integer(stats, "subscribers") == 2, "two followers are counted (%lld)",
	      (long long)reply_integer(stats, "subscribers"));
	json_decref(stats);
	/* 100 events of 8 KiB: past the socket's buffer and the 64 KiB queue of a quiet one. */
	for (int i = 0; i < 4; i++) {
		reply = ask(other, "{\"command\":\"publish\",\"count\":25,\"bytes\":8192}");
		json_decref(reply);
		for (int j = 0; j < 25; j++)
			json_decref(client_reply(follower));
	}
	reply = ask(other, "{\"command\":\"echo\"}");
	CHECK(reply_ok(reply), "the daemon answers others all the while");
	json_decref(reply);
	stats = server_stats(path);
	CHECK(reply_integer(stats, "subscribers_dropped") == 1 &&
	          reply_integer(stats, "subscribers") == 1,
	      "the follower that stopped reading is dropped and counted (%lld dropped, %lld left)",
	      (long long)reply_integer(stats, "subscribers_dropped"),
	      (long long)reply_integer(stats, "subscribers"));
	json_decref(stats);
	CHECK(client_drained_closed(quiet), "and its connection is closed, after what was sent");
	client_free(follower);
	client_free(quiet);
	client_free(other);
}

static void
test_permissions_root_only(const char *path)
{
	gid_t groups[1] = {NOBODY};
	char *replies;

	chmod(path, 0666); /* let nobody reach the socket so the daemon itself must refuse */
	replies =
	    run_as(path, NOBODY, NOBODY, groups, 1,
	           "{\"command\":\"poke\",\"reason\":\"test\"}\n{\"command\":\"echo\",\"n\":1}\n"
	           "{\"command\":\"whoami\"}\n");
	CHECK(strstr(replies, "\"result\":\"denied\"") != NULL &&
	          strstr(replies, "only root and the control group") != NULL,
	      "uid %d, no control group configured, is refused at connect, told who may: %s",
	      NOBODY, replies);
	CHECK(strstr(replies, "\"n\":1") == NULL && strstr(replies, "\"uid\":65534") == NULL &&
	          strstr(replies, "poked") == NULL,
	      "neither its read nor its change is answered");
	free(replies);
}

static void
test_permissions_group(const char *path)
{
	gid_t group = NOBODY;
	char *replies;

	replies = run_as(path, NOBODY, NOBODY, NULL, 0, "{\"command\":\"whoami\"}\n");
	CHECK(strstr(replies, "\"may_change\":true") != NULL,
	      "a peer whose primary group is the control group may change state: %s", replies);
	free(replies);
	replies = run_as(path, NOBODY, OTHER_GID, &group, 1,
	                 "{\"command\":\"poke\",\"reason\":\"by a group member\"}\n");
	CHECK(strstr(replies, "\"poked\":true") != NULL,
	      "a peer with the control group as a supplementary group may change state: %s",
	      replies);
	free(replies);
	chmod(path, 0666);
	replies = run_as(path, NOBODY, OTHER_GID, NULL, 0,
	                 "{\"command\":\"unban\",\"source\":\"10.0.0.5\",\"reason\":\"x\"}\n");
	CHECK(strstr(replies, "permission denied") != NULL,
	      "a peer outside the control group may not: %s", replies);
	free(replies);
	chmod(path, 0660);
}

static void
test_max_clients(const char *path)
{
	struct client *first = client_open(path), *second = client_open(path), *third;
	json_t *reply, *again;

	reply = ask(first, "{\"command\":\"echo\"}");
	again = ask(second, "{\"command\":\"echo\"}");
	CHECK(reply_ok(reply) && reply_ok(again), "max_clients (2) clients are served");
	json_decref(reply);
	json_decref(again);
	third = client_open(path);
	reply = third != NULL ? client_reply(third) : NULL;
	CHECK(reply != NULL && !reply_ok(reply) &&
	          strcmp(reply_error(reply), "too many clients") == 0,
	      "one more is told \"too many clients\" (got \"%s\")", reply_error(reply));
	CHECK(third != NULL && client_closed(third), "and is disconnected");
	json_decref(reply);
	client_free(third);
	client_free(first);
	/* The daemon handles the first client's EOF before this request. */
	json_decref(ask(second, "{\"command\":\"echo\"}"));
	third = client_open(path);
	reply = ask(third, "{\"command\":\"echo\"}");
	CHECK(reply_ok(reply), "when a client leaves, a new one is served again");
	json_decref(reply);
	client_free(third);
	client_free(second);
}

/*
 * As nobody, in a child: takes every slot but root's (2 of 3), is refused a
 * third, then waits to be closed as idle. Writes one byte per step to
 * result: '1' for what a user would expect, '0' otherwise.
 */
static void
crowd_as_nobody(const char *path, int result, int go)
{
	struct client *first, *second, *third;
	json_t *a, *b, *refused;
	char byte;

	if (setgid(NOBODY) == -1 || setuid(NOBODY) == -1)
		_exit(2);
	first = client_open(path);
	second = client_open(path);
	a = ask(first, "{\"command\":\"echo\"}");
	b = ask(second, "{\"command\":\"echo\"}");
	third = client_open(path);
	refused = third != NULL ? client_reply(third) : NULL;
	byte = reply_ok(a) && reply_ok(b) ? '1' : '0';
	(void)!write(result, &byte, 1);
	byte = refused != NULL && strcmp(reply_error(refused), "too many clients") == 0 ? '1' : '0';
	(void)!write(result, &byte, 1);
	if (read(go, &byte, 1) != 1)
		_exit(2);
	/* Silent since: the daemon closes both within about a second. */
	byte = client_closed(first) && client_closed(second) ? '1' : '0';
	(void)!write(result, &byte, 1);
	_exit(0);
}

/* Reads n bytes; the child writes them one at a time. */
static bool
read_steps(int fd, char *steps, size_t n)
{
	for (size_t got = 0; got < n;) {
		ssize_t r = read(fd, steps + got, n - got);

		if (r <= 0)
			return false;
		got += (size_t)r;
	}
	return true;
}

static void
test_crowd(const char *path)
{
	int result[2], go[2];
	char steps[3] = {0};
	struct client *root;
	json_t *reply, *stats;
	pid_t child;

	if (pipe(result) == -1 || pipe(go) == -1)
		return;
	child = fork();
	if (child == 0)
		crowd_as_nobody(path, result[1], go[0]);
	close(result[1]);
	close(go[0]);
	CHECK(read_steps(result[0], steps, 2) && steps[0] == '1',
	      "another user holds every slot but one (2 of 3)");
	CHECK(steps[1] == '1', "a third client of that user is told \"too many clients\"");
	root = client_open(path);
	reply = ask(root, "{\"command\":\"echo\"}");
	CHECK(reply_ok(reply), "root still gets the slot kept for it");
	json_decref(reply);
	client_free(root);
	(void)!write(go[1], "g", 1);
	CHECK(read_steps(result[0], steps + 2, 1) && steps[2] == '1',
	      "the other user's silent clients are closed after the idle timeout (1 s)");
	waitpid(child, NULL, 0);
	close(result[0]);
	close(go[1]);
	stats = server_stats(path);
	CHECK(reply_integer(stats, "idle_closed") == 2 &&
	          reply_integer(stats, "refused_for_root") == 1,
	      "both are counted: idle_closed %lld, refused_for_root %lld",
	      (long long)reply_integer(stats, "idle_closed"),
	      (long long)reply_integer(stats, "refused_for_root"));
	json_decref(stats);
}

/* Runs abusectl with stderr folded into the output; returns its exit status. */
static int
run_abusectl(const char *arguments, char *output, size_t size)
{
	char command[PATH_MAX * 2];
	size_t len = 0;
	FILE *pipe;
	int status;

	snprintf(command, sizeof(command), "%s %s 2>&1", abusectl_path(), arguments);
	output[0] = '\0';
	pipe = popen(command, "r");
	if (pipe == NULL)
		return -1;
	while (len + 1 < size && fgets(output + len, size - len, pipe) != NULL)
		len += strlen(output + len);
	status = pclose(pipe);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/*
 * Runs abusectl [-s socket] arguments and checks its exit status and that
 * each text of the NULL-terminated list is in its output (stdout and stderr).
 */
static void
check_abusectl(const char *socket, const char *arguments, int expected_status,
               const char *const *texts, const char *what)
{
	char output[8192], command_line[PATH_MAX + 128];
	bool passed;
	int status;

	snprintf(command_line, sizeof(command_line), "%s%s %s", socket ? "-s " : "",
	         socket ? socket : "", arguments);
	status = run_abusectl(command_line, output, sizeof(output));
	passed = status == expected_status;
	for (size_t i = 0; texts[i] != NULL; i++)
		passed = passed && strstr(output, texts[i]) != NULL;
	CHECK(passed, "abusectl %s: %s (exit %d)", arguments, what, status);
	if (!passed)
		for (char *line = strtok(output, "\n"); line != NULL; line = strtok(NULL, "\n"))
			printf("#\t%s\n", line);
}

static void
test_abusectl(const char *path, const char *missing_path)
{
	char connect_error[PATH_MAX + 64], arguments[PATH_MAX + 64], output[8192];
	struct client *client;

	CHECK(access(abusectl_path(), X_OK) == 0, "abusectl is built at %s", abusectl_path());

	check_abusectl(NULL, "", 64, (const char *[]){"usage:", NULL},
	               "no command is a usage error, exit 64");
	check_abusectl(NULL, "frobnicate", 64, (const char *[]){"unknown command", NULL},
	               "an unknown command is a usage error");
	check_abusectl(NULL, "unban 10.0.0.5", 64, (const char *[]){"--reason", NULL},
	               "unban without a reason is a usage error");
	check_abusectl(NULL, "--help", 0,
	               (const char *[]){"\tstatus\n", "\tbans [", "\tunban SOURCE --reason TEXT\n",
	                                "\thistory SOURCE\n", "exit status:", NULL},
	               "--help lists the commands");
	snprintf(connect_error, sizeof(connect_error),
	         "abusectl: connect %s: No such file or directory\n", missing_path);
	check_abusectl(missing_path, "status", 69, (const char *[]){connect_error, NULL},
	               "a missing socket is reported with its path, exit 69 (unreachable)");

	check_abusectl(
	    path, "--json status", 0,
	    (const char *[]){"{\"ok\":true,", "\"mode\":\"enforce\"", "\"future_key\"", NULL},
	    "--json prints the daemon's reply line as is");
	check_abusectl(path, "status", 0,
	               (const char *[]){"version: 0.1\n", "mode: enforce\n", "pid: 123\n",
	                                "uptime: 12s\n", "bans active: 1\n",
	                                "\tveth0 (ifindex 5, xdp generic)\n", "\tsmtp_attempts 3\n",
	                                NULL},
	               "status for people: key: value lines, the interfaces, the counters");
	snprintf(arguments, sizeof(arguments), "-s %s status", path);
	run_abusectl(arguments, output, sizeof(output));
	CHECK(strstr(output, "mode: enforce") != NULL && strstr(output, "future") == NULL,
	      "abusectl status leaves out keys it does not know");
	check_abusectl(path, "bans", 0,
	               (const char *[]){"SOURCE ", " SCOPE ", " CATEGORY ", " LEVEL ", " DURATION ",
	                                " EXPIRES(UTC) ", " REMAINING ", " INTERFACE ", " VM ",
	                                " KERNEL ", " KERNEL LEFT\n", "10.0.0.5 ", " 1h ",
	                                " 2026-11-26T07:00:00Z ", " 59m58s ", "2001:db8:1:2::/64 ",
	                                " 7d ", NULL},
	               "bans is a table with human durations; a ban with keys missing still shows");
	snprintf(arguments, sizeof(arguments), "-s %s bans", path);
	run_abusectl(arguments, output, sizeof(output));
	CHECK(strstr(output, " shop\\x1b[2J\\x0aforged row\\x07 ") != NULL &&
	          strchr(output, '\x1b') == NULL && strchr(output, '\x07') == NULL &&
	          strstr(output, "\nforged row") == NULL,
	      "a cell's control characters are escaped: no terminal escape, no forged row");
	check_abusectl(path, "unban 10.0.0.5 --reason 'false alarm'", 0,
	               (const char *[]){"lifted 10.0.0.5: smtp (spam, level 1)\n", NULL},
	               "unban says what it lifted");
	check_abusectl(path, "unban 10.0.0.9 --reason x", 2,
	               (const char *[]){"abusectl: unban: no active ban on that source\n", NULL},
	               "an unban of nothing says why and exits 2 (not found)");
	check_abusectl(
	    path, "--json unban 10.0.0.9 --reason x", 2,
	    (const char *[]){
	        "{\"ok\":false,\"result\":\"not_found\",\"error\":\"no active ban on that "
	        "source\"}\n",
	        NULL},
	    "with --json an error reply is printed as is, with its result code, exit 2");

	/* abusectl has no command for it: empty the stub's bans with a plain client. */
	client = client_open(path);
	json_decref(ask(client, "{\"command\":\"poke\",\"reason\":\"t\",\"empty_bans\":true}"));
	client_free(client);
	check_abusectl(path, "bans", 0, (const char *[]){"no active bans\n", NULL},
	               "without bans it says so");
}

int
main(void)
{
	char directory[] = "/tmp/test_control.XXXXXX";
	char run_directory[64], path[96], stale_path[96], missing_path[96];
	struct sockaddr_un address = {.sun_family = AF_UNIX};
	struct control *second;
	struct loop loop;
	struct stat status;
	json_t *stats;
	int error, fd;
	pid_t server;

	alarm(120); /* a hung daemon fails the test instead of blocking the run */
	log_init(1, 0, "test_control");
	if (mkdtemp(directory) == NULL || chmod(directory, 0755) == -1) {
		CHECK(0, "a temporary directory: %s", strerror(errno));
		return check_done();
	}
	snprintf(run_directory, sizeof(run_directory), "%s/run", directory);
	snprintf(path, sizeof(path), "%s/control.sock", run_directory);
	snprintf(stale_path, sizeof(stale_path), "%s/stale.sock", directory);
	snprintf(missing_path, sizeof(missing_path), "%s/missing.sock", directory);

	/* A daemon without a usable control group: root only. */
	server = start_server(path, "no-such-group-abuseguard", 8, &error);
	CHECK(server > 0, "control_init listens on %s, creating its directory (%s)", path,
	      strerror(-error));
	CHECK(stat(run_directory, &status) == 0 && (status.st_mode & 07777) == 0755,
	      "the missing parent directory is created 0755");
	memset(&status, 0, sizeof(status));
	stat(path, &status);
	CHECK(S_ISSOCK(status.st_mode) && (status.st_mode & 0777) == 0600,
	      "with the group missing, the socket is root's alone (mode %o)",
	      status.st_mode & 0777);

	test_requests(path);
	test_slow_reader(path);
	test_followers(path);
	test_permissions_root_only(path);

	loop_init(&loop);
	struct control_options options = stub_options(path, NULL, 8);
	error = control_init(&second, &loop, &options);
	CHECK(error == -EADDRINUSE, "a second daemon on a live socket is refused with EADDRINUSE");
	loop_close(&loop);
	stats = server_stats(path);
	CHECK(reply_ok(stats), "and the first daemon still answers on it");
	CHECK(reply_integer(stats, "bad_requests") == 9 &&
	          reply_integer(stats, "unauthorised") == 1,
	      "bad requests (9) and unauthorised clients (1) are counted: %lld, %lld",
	      (long long)reply_integer(stats, "bad_requests"),
	      (long long)reply_integer(stats, "unauthorised"));
	json_decref(stats);
	CHECK(stop_server(path, server), "the daemon stops cleanly, without leaks");
	CHECK(access(path, F_OK) == -1 && errno == ENOENT,
	      "after control_close the socket file is gone");

	/* A socket file left behind by a daemon that crashed. */
	snprintf(address.sun_path, sizeof(address.sun_path), "%s", stale_path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	bind(fd, (struct sockaddr *)&address, sizeof(address));
	close(fd);
	CHECK(access(stale_path, F_OK) == 0, "a stale socket file is there before the start");
	server = start_server(stale_path, "nogroup", 2, &error);
	CHECK(server > 0, "a stale socket file is replaced (%s)", strerror(-error));
	memset(&status, 0, sizeof(status));
	stat(stale_path, &status);
	CHECK(S_ISSOCK(status.st_mode) && (status.st_mode & 0777) == 0660 && status.st_uid == 0 &&
	          status.st_gid == NOBODY,
	      "the socket is root:nogroup 0660 (%o %u:%u)", status.st_mode & 0777,
	      (unsigned)status.st_uid, (unsigned)status.st_gid);
	test_max_clients(stale_path);
	test_permissions_group(stale_path);
	test_abusectl(stale_path, missing_path);
	stats = server_stats(stale_path);
	CHECK(reply_integer(stats, "refused") == 1, "the refused client is counted (%lld)",
	      (long long)reply_integer(stats, "refused"));
	json_decref(stats);
	CHECK(stop_server(stale_path, server), "the second daemon stops cleanly");

	/* A crowded socket: the last slot is root's, idle clients are closed. */
	stub_idle_ms = 1000;
	server = start_server(stale_path, "nogroup", 3, &error);
	CHECK(server > 0, "a daemon with 3 slots and a 1 s idle timeout (%s)", strerror(-error));
	test_crowd(stale_path);
	CHECK(stop_server(stale_path, server), "it stops cleanly");

	rmdir(run_directory);
	rmdir(directory);
	return check_done();
}
