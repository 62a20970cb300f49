/*
 * The control socket, after OpenBGPD's control.c: a listening Unix socket,
 * clients with bounded buffers, one JSON request per line handed to the
 * command table. Who may change state is decided here, at accept, from the
 * kernel's record of the peer (SO_PEERCRED, SO_PEERGROUPS).
 */
#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "log.h"

/* A client that lets this much of its replies pile up unread is dropped. */
#define CONTROL_OUTPUT_MAX (4u << 20)
/* The longest socket path, NUL included. */
#define CONTROL_PATH_MAX sizeof(((struct sockaddr_un *)0)->sun_path)
/* Supplementary groups of a peer we look at; NGROUPS_MAX is 65536. */
#define CONTROL_PEER_GROUPS_MAX 65536

struct control_client {
	struct loop_watch watch;
	struct control *control;
	struct control_peer peer;
	TAILQ_ENTRY(control_client) entry;
	char *input; /* max_line_bytes + 1: a whole line and its newline */
	size_t input_len;
	char *output;
	size_t output_len, output_size;
	uint32_t events;        /* what the loop watches for now */
	int64_t last_active_ms; /* monotonic: the last byte read or sent */
	bool closing;           /* send what is queued, then close */
	bool failed;            /* close now */
	bool subscribed;        /* gets control_publish's lines */
};

TAILQ_HEAD(control_clients, control_client);

struct control {
	struct loop_watch watch;
	struct loop_watch idle_watch; /* a timer: closes idle clients */
	struct loop *loop;
	struct control_options options;
	char path[CONTROL_PATH_MAX];
	bool have_group;
	gid_t group;
	bool accept_paused; /* out of descriptors: resumed when a client leaves */
	struct control_clients clients;
	unsigned client_count;
	struct control_stats stats;
};

static void control_accept(struct loop_watch *watch, uint32_t events);
static void client_ready(struct loop_watch *watch, uint32_t events);
static void control_idle_sweep(struct loop_watch *watch, uint32_t events);

static int64_t
monotonic_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static int
socket_address(const char *path, struct sockaddr_un *address)
{
	memset(address, 0, sizeof(*address));
	address->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(address->sun_path))
		return -ENAMETOOLONG;
	strcpy(address->sun_path, path);
	return 0;
}

/*
 * A socket file left by a daemon that died is removed; one a daemon still
 * answers on is not ours to take.
 */
static int
remove_stale_socket(const struct sockaddr_un *address)
{
	struct stat status;
	int fd, error;

	if (lstat(address->sun_path, &status) == -1) {
		if (errno == ENOENT)
			return 0;
		error = errno;
		log_warn("%s: lstat", address->sun_path);
		return -error;
	}
	if (!S_ISSOCK(status.st_mode)) {
		log_warnx("%s: exists and is not a socket", address->sun_path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		error = errno;
		log_warn("%s: socket", address->sun_path);
		return -error;
	}
	if (connect(fd, (const struct sockaddr *)address, sizeof(*address)) == 0) {
		close(fd);
		log_warnx("%s: another daemon is listening on it", address->sun_path);
		return -EADDRINUSE;
	}
	error = errno;
	close(fd);
	if (error != ECONNREFUSED && error != ENOENT) {
		errno = error;
		log_warn("%s: connect", address->sun_path);
		return -error;
	}
	if (unlink(address->sun_path) == -1 && errno != ENOENT) {
		error = errno;
		log_warn("%s: unlink stale socket", address->sun_path);
		return -error;
	}
	return 0;
}

/* Creates the directories above path that are missing, mode 0755. */
static int
make_parent_directories(const char *path)
{
	char directory[CONTROL_PATH_MAX];
	char *slash;

	snprintf(directory, sizeof(directory), "%s", path);
	for (slash = strchr(directory + 1, '/'); slash != NULL; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		if (mkdir(directory, 0755) == -1 && errno != EEXIST) {
			int error = errno;

			log_warn("%s: mkdir", directory);
			return -error;
		}
		*slash = '/';
	}
	return 0;
}

/* Root and the control group may use the socket; without the group, root alone. */
static int
set_socket_access(struct control *control)
{
	const char *name = control->options.group;
	struct group *group;
	mode_t mode = 0600;

	if (name != NULL && name[0] != '\0') {
		errno = 0;
		group = getgrnam(name);
		if (group == NULL) {
			log_warnx("%s: group %s not found, socket is for root only", control->path,
			          name);
		} else if (chown(control->path, (uid_t)-1, group->gr_gid) == -1) {
			log_warn("%s: chown :%s, socket is for its owner only", control->path,
			         name);
		} else {
			control->have_group = true;
			control->group = group->gr_gid;
			mode = 0660;
		}
	}
	if (chmod(control->path, mode) == -1) {
		int error = errno;

		log_warn("%s: chmod", control->path);
		return -error;
	}
	return 0;
}

static int
control_listen(struct control *control)
{
	struct sockaddr_un address;
	mode_t old_umask;
	int fd, error;

	error = socket_address(control->options.path, &address);
	if (error < 0) {
		log_warnx("%s: socket path too long", control->options.path);
		return error;
	}
	if ((error = make_parent_directories(address.sun_path)) < 0 ||
	    (error = remove_stale_socket(&address)) < 0)
		return error;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1) {
		error = errno;
		log_warn("%s: socket", address.sun_path);
		return -error;
	}
	/* Nobody but root may connect before the mode and owner are right. */
	old_umask = umask(0177);
	if (bind(fd, (struct sockaddr *)&address, sizeof(address)) == -1) {
		error = errno;
		umask(old_umask);
		log_warn("%s: bind", address.sun_path);
		close(fd);
		return -error;
	}
	umask(old_umask);
	snprintf(control->path, sizeof(control->path), "%s", address.sun_path);
	control->watch.fd = fd;
	if ((error = set_socket_access(control)) < 0)
		return error;
	if (listen(fd, SOMAXCONN) == -1) {
		error = errno;
		log_warn("%s: listen", control->path);
		return -error;
	}
	return 0;
}

/* The sweep runs a few times per timeout: a client is closed at most a quarter late. */
static int
idle_timer_open(struct control *control)
{
	int64_t period_ms = control->options.idle_timeout_ms / 4;
	struct itimerspec period;
	int error;

	if (period_ms < 1)
		period_ms = 1;
	period.it_interval.tv_sec = period_ms / 1000;
	period.it_interval.tv_nsec = (period_ms % 1000) * 1000000;
	period.it_value = period.it_interval;
	control->idle_watch.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (control->idle_watch.fd == -1 ||
	    timerfd_settime(control->idle_watch.fd, 0, &period, NULL) == -1) {
		error = errno;
		log_warn("%s: idle timer", control->path);
		if (control->idle_watch.fd != -1)
			close(control->idle_watch.fd);
		control->idle_watch.fd = -1;
		return -error;
	}
	if ((error = loop_add(control->loop, &control->idle_watch, EPOLLIN)) < 0) {
		close(control->idle_watch.fd);
		control->idle_watch.fd = -1;
	}
	return error;
}

int
control_init(struct control **out, struct loop *loop, const struct control_options *options)
{
	struct control *control;
	int error;

	*out = NULL;
	if (options->path == NULL || options->max_clients == 0 || options->max_line_bytes == 0 ||
	    options->idle_timeout_ms <= 0 || options->commands == NULL) {
		log_warnx("control: path, clients, line size, idle timeout and commands are "
		          "required");
		return -EINVAL;
	}
	control = calloc(1, sizeof(*control));
	if (control == NULL) {
		log_warn("control: calloc");
		return -ENOMEM;
	}
	control->loop = loop;
	control->options = *options;
	control->watch.fd = -1;
	control->watch.ready = control_accept;
	control->idle_watch.fd = -1;
	control->idle_watch.ready = control_idle_sweep;
	TAILQ_INIT(&control->clients);
	error = control_listen(control);
	if (error == 0)
		error = loop_add(loop, &control->watch, EPOLLIN);
	if (error == 0)
		error = idle_timer_open(control);
	if (error < 0) {
		control_close(control);
		return error;
	}
	log_debug("%s: listening", control->path);
	*out = control;
	return 0;
}

void
control_stats(const struct control *control, struct control_stats *out)
{
	*out = control->stats;
}

static void
client_free(struct control_client *client)
{
	struct control *control = client->control;

	loop_remove(control->loop, &client->watch);
	close(client->watch.fd);
	TAILQ_REMOVE(&control->clients, client, entry);
	control->client_count--;
	if (client->subscribed)
		control->stats.subscribers--;
	free(client->input);
	free(client->output);
	free(client);
	if (control->accept_paused && loop_modify(control->loop, &control->watch, EPOLLIN) == 0)
		control->accept_paused = false;
}

void
control_close(struct control *control)
{
	if (control == NULL)
		return;
	while (!TAILQ_EMPTY(&control->clients))
		client_free(TAILQ_FIRST(&control->clients));
	if (control->idle_watch.fd != -1) {
		loop_remove(control->loop, &control->idle_watch);
		close(control->idle_watch.fd);
	}
	if (control->watch.fd != -1) {
		loop_remove(control->loop, &control->watch);
		close(control->watch.fd);
	}
	if (control->path[0] != '\0' && unlink(control->path) == -1 && errno != ENOENT)
		log_warn("%s: unlink", control->path);
	free(control);
}

static bool
peer_in_group(int fd, gid_t group)
{
	gid_t *groups;
	socklen_t len = 64 * sizeof(gid_t);
	bool found = false;

	/* SO_PEERGROUPS reports the groups held at connect, unlike /proc/PID/status. */
	for (;;) {
		groups = malloc(len);
		if (groups == NULL)
			return false;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0)
			break;
		free(groups);
		if (errno != ERANGE || len > CONTROL_PEER_GROUPS_MAX * sizeof(gid_t))
			return false;
	}
	for (size_t i = 0; i < len / sizeof(gid_t) && !found; i++)
		found = groups[i] == group;
	free(groups);
	return found;
}

static int
peer_credentials(const struct control *control, int fd, struct control_peer *peer)
{
	struct ucred credentials;
	socklen_t len = sizeof(credentials);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &len) == -1) {
		int error = errno;

		log_warn("%s: SO_PEERCRED", control->path);
		return -error;
	}
	peer->pid = credentials.pid;
	peer->uid = credentials.uid;
	peer->gid = credentials.gid;
	/* Reads and changes alike: root and the control group, nobody else. */
	peer->may_change =
	    credentials.uid == 0 || (control->have_group && (credentials.gid == control->group ||
	                                                     peer_in_group(fd, control->group)));
	return 0;
}

/* Neither root nor in the control group: told why, closed, counted and logged. */
static void
refuse_unauthorised(struct control *control, int fd, const struct control_peer *peer)
{
	static const char reply[] =
	    "{\"" CTL_KEY_OK "\":false,\"" CTL_KEY_RESULT "\":\"denied\",\"" CTL_KEY_ERROR
	    "\":\"permission denied: only root and the control group may use "
	    "this socket\"}\n";

	if (send(fd, reply, sizeof(reply) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) == -1)
		log_debug("%s: unauthorised client: send: %s", control->path, strerror(errno));
	close(fd);
	control->stats.unauthorised++;
	log_warnx(
	    "%s: client pid %d uid %u gid %u refused: neither root nor in the control group%s%s",
	    control->path, (int)peer->pid, (unsigned)peer->uid, (unsigned)peer->gid,
	    control->have_group ? " " : "", control->have_group ? control->options.group : "");
}

static void
refuse_client(struct control *control, int fd, const struct control_peer *peer)
{
	static const char reply[] = "{\"" CTL_KEY_OK "\":false,\"" CTL_KEY_RESULT
	                            "\":\"busy\",\"" CTL_KEY_ERROR "\":\"too many clients\"}\n";

	/* The socket buffer of a new connection is empty: this cannot block. */
	if (send(fd, reply, sizeof(reply) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) == -1)
		log_debug("%s: refused client: send: %s", control->path, strerror(errno));
	close(fd);
	control->stats.refused++;
	if (control->client_count < control->options.max_clients) {
		control->stats.refused_for_root++;
		log_info("%s: client pid %d uid %u refused: the last slot is kept for root",
		         control->path, (int)peer->pid, (unsigned)peer->uid);
	}
}

/* Root may take every slot; anyone else leaves the last one free. */
static bool
slot_free(const struct control *control, const struct control_peer *peer)
{
	unsigned max = control->options.max_clients;

	return control->client_count < (peer->uid == 0 || max == 1 ? max : max - 1);
}

static void
add_client(struct control *control, int fd)
{
	struct control_client *client;
	struct control_peer peer;

	if (peer_credentials(control, fd, &peer) < 0) {
		close(fd);
		return;
	}
	if (!peer.may_change) {
		refuse_unauthorised(control, fd, &peer);
		return;
	}
	if (!slot_free(control, &peer)) {
		refuse_client(control, fd, &peer);
		return;
	}
	client = calloc(1, sizeof(*client));
	if (client == NULL ||
	    (client->input = malloc(control->options.max_line_bytes + 1)) == NULL) {
		log_warn("%s: client", control->path);
		free(client);
		close(fd);
		return;
	}
	client->control = control;
	client->watch.fd = fd;
	client->watch.ready = client_ready;
	client->peer = peer;
	if (loop_add(control->loop, &client->watch, EPOLLIN) < 0) {
		free(client->input);
		free(client);
		close(fd);
		return;
	}
	client->events = EPOLLIN;
	client->last_active_ms = monotonic_ms();
	TAILQ_INSERT_TAIL(&control->clients, client, entry);
	control->client_count++;
	control->stats.accepted++;
	log_debug("%s: client pid %d uid %u%s", control->path, (int)client->peer.pid,
	          (unsigned)client->peer.uid, client->peer.may_change ? " (may change)" : "");
}

static void
control_accept(struct loop_watch *watch, uint32_t events)
{
	struct control *control = (struct control *)watch;
	int fd;

	(void)events;
	for (;;) {
		fd = accept4(watch->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd == -1)
			break;
		add_client(control, fd);
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED)
		return;
	log_warn("%s: accept", control->path);
	/* Out of descriptors: stop asking until a client leaves and frees one. */
	if ((errno == EMFILE || errno == ENFILE) && control->client_count > 0 &&
	    loop_modify(control->loop, watch, 0) == 0)
		control->accept_paused = true;
}

/* Queues text for the client; a client that does not read its replies is dropped. */
static void
client_queue(struct control_client *client, const char *text, size_t len)
{
	size_t needed = client->output_len + len;

	if (client->failed)
		return;
	if (needed > CONTROL_OUTPUT_MAX) {
		log_warnx("%s: client pid %d does not read its replies, dropped",
		          client->control->path, (int)client->peer.pid);
		client->failed = true;
		return;
	}
	if (needed > client->output_size) {
		size_t size = client->output_size ? client->output_size : 4096;
		char *output;

		while (size < needed)
			size *= 2;
		if (size > CONTROL_OUTPUT_MAX)
			size = CONTROL_OUTPUT_MAX;
		output = realloc(client->output, size);
		if (output == NULL) {
			log_warn("%s: client output", client->control->path);
			client->failed = true;
			return;
		}
		client->output = output;
		client->output_size = size;
	}
	memcpy(client->output + client->output_len, text, len);
	client->output_len = needed;
}

static void
client_send_json(struct control_client *client, json_t *reply)
{
	char *text = json_dumps(reply, JSON_COMPACT);

	if (text == NULL) {
		static const char failure[] =
		    "{\"" CTL_KEY_OK "\":false,\"" CTL_KEY_RESULT "\":\"failed\",\"" CTL_KEY_ERROR
		    "\":\"reply not encodable\"}\n";

		log_warnx("%s: reply not encodable", client->control->path);
		client_queue(client, failure, sizeof(failure) - 1);
		return;
	}
	client_queue(client, text, strlen(text));
	client_queue(client, "\n", 1);
	free(text);
}

json_t *
control_fail(struct control_error *error, enum ctl_result result, const char *fmt, ...)
{
	va_list ap;

	error->result = result;
	va_start(ap, fmt);
	vsnprintf(error->message, sizeof(error->message), fmt, ap);
	va_end(ap);
	return NULL;
}

static void
client_send_failure(struct control_client *client, const struct control_error *error)
{
	json_t *reply;

	reply = json_pack("{s:b, s:s, s:s}", CTL_KEY_OK, 0, CTL_KEY_RESULT,
	                  ctl_result_name(error->result), CTL_KEY_ERROR, error->message);
	if (reply == NULL) {
		client->failed = true;
		return;
	}
	client_send_json(client, reply);
	json_decref(reply);
}

static void __attribute__((format(printf, 3, 4)))
client_send_error(struct control_client *client, enum ctl_result result, const char *fmt, ...)
{
	struct control_error error = {.result = result};
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(error.message, sizeof(error.message), fmt, ap);
	va_end(ap);
	client_send_failure(client, &error);
}

static const struct control_command *
find_command(const struct control *control, const char *name)
{
	for (const struct control_command *command = control->options.commands;
	     command->name != NULL; command++)
		if (strcmp(command->name, name) == 0)
			return command;
	return NULL;
}

static bool
has_reason(json_t *request)
{
	const char *reason = json_string_value(json_object_get(request, CTL_KEY_REASON));

	if (reason == NULL)
		return false;
	/* A reason of blanks says nothing in the audit trail. */
	return reason[strspn(reason, " \t\r\n")] != '\0';
}

static void
client_handle_request(struct control_client *client, json_t *request)
{
	struct control *control = client->control;
	const struct control_command *command;
	struct control_error error = {CTL_RESULT_FAILED, "command failed"};
	const char *name;
	json_t *reply;

	name = json_string_value(json_object_get(request, CTL_KEY_COMMAND));
	command = find_command(control, name);
	if (command == NULL) {
		control->stats.bad_requests++;
		client_send_error(client, CTL_RESULT_BAD_REQUEST, "unknown command: %.100s", name);
		return;
	}
	if (command->changes_state && !client->peer.may_change) {
		control->stats.denied++;
		log_info("%s: %s denied to uid %u", control->path, command->name,
		         (unsigned)client->peer.uid);
		client_send_error(client, CTL_RESULT_DENIED, "permission denied");
		return;
	}
	if (command->changes_state && !has_reason(request)) {
		control->stats.bad_requests++;
		client_send_error(client, CTL_RESULT_BAD_REQUEST, "reason required");
		return;
	}
	reply = command->handler(control->options.context, &client->peer, request, &error);
	if (reply == NULL) {
		client_send_failure(client, &error);
		return;
	}
	if (!json_is_object(reply)) {
		log_warnx("%s: %s: handler reply is not an object", control->path, command->name);
		json_decref(reply);
		client_send_error(client, CTL_RESULT_FAILED, "internal error");
		return;
	}
	if (json_object_get(reply, CTL_KEY_OK) == NULL)
		json_object_set_new(reply, CTL_KEY_OK, json_true());
	if (command->may_follow && json_is_true(json_object_get(reply, CTL_KEY_FOLLOW)) &&
	    !client->subscribed) {
		client->subscribed = true;
		control->stats.subscribers++;
	}
	client_send_json(client, reply);
	json_decref(reply);
}

int
control_request_parse(const char *line, size_t len, json_t **out, char *err, size_t errlen)
{
	json_error_t parse_error;
	json_t *request;

	*out = NULL;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len == 0)
		return -ENODATA;
	request = json_loadb(line, len, JSON_REJECT_DUPLICATES, &parse_error);
	if (request == NULL) {
		snprintf(err, errlen, "bad JSON: %s at column %d", parse_error.text,
		         parse_error.column);
		return -EINVAL;
	}
	if (!json_is_object(request)) {
		snprintf(err, errlen, "request is not a JSON object");
		json_decref(request);
		return -EINVAL;
	}
	if (json_string_value(json_object_get(request, CTL_KEY_COMMAND)) == NULL) {
		snprintf(err, errlen, "request has no string \"" CTL_KEY_COMMAND "\"");
		json_decref(request);
		return -EINVAL;
	}
	*out = request;
	return 0;
}

static void
client_handle_line(struct control_client *client, const char *line, size_t len)
{
	char error[CONTROL_ERROR_MAX];
	json_t *request;
	int rc;

	if ((rc = control_request_parse(line, len, &request, error, sizeof(error))) == -ENODATA)
		return;
	client->control->stats.requests++;
	if (rc < 0) {
		client->control->stats.bad_requests++;
		client_send_error(client, CTL_RESULT_BAD_REQUEST, "%s", error);
		return;
	}
	client_handle_request(client, request);
	json_decref(request);
}

/* Hands every complete line on; a partial one waits for the rest. */
static void
client_handle_input(struct control_client *client)
{
	size_t start = 0;
	char *newline;

	while (!client->failed &&
	       (newline = memchr(client->input + start, '\n', client->input_len - start)) != NULL) {
		size_t len = newline - (client->input + start);

		client_handle_line(client, client->input + start, len);
		start += len + 1;
	}
	memmove(client->input, client->input + start, client->input_len - start);
	client->input_len -= start;
	if (client->input_len > client->control->options.max_line_bytes) {
		client->control->stats.bad_requests++;
		client_send_error(client, CTL_RESULT_BAD_REQUEST, "request longer than %u bytes",
		                  client->control->options.max_line_bytes);
		client->closing = true;
	}
}

static void
client_read(struct control_client *client)
{
	size_t room = client->control->options.max_line_bytes + 1 - client->input_len;
	ssize_t n;

	/* One read per wakeup: a client that floods us does not starve the others. */
	n = recv(client->watch.fd, client->input + client->input_len, room, 0);
	if (n == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		log_debug("%s: client pid %d: recv: %s", client->control->path,
		          (int)client->peer.pid, strerror(errno));
		client->failed = true;
		return;
	}
	if (n == 0) {
		/* A half-closed client still gets the replies it asked for. */
		client->closing = true;
		return;
	}
	client->input_len += n;
	client->last_active_ms = monotonic_ms();
	client_handle_input(client);
}

static void
client_flush(struct control_client *client)
{
	size_t sent = 0;

	while (sent < client->output_len) {
		ssize_t n = send(client->watch.fd, client->output + sent, client->output_len - sent,
		                 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				log_debug("%s: client pid %d: send: %s", client->control->path,
				          (int)client->peer.pid, strerror(errno));
				client->failed = true;
				return;
			}
			break;
		}
		sent += n;
		client->last_active_ms = monotonic_ms();
	}
	memmove(client->output, client->output + sent, client->output_len - sent);
	client->output_len -= sent;
}

/*
 * Sends what the client has queued, then closes it if it failed or is done,
 * or watches for what is left: after a read, and after control_publish.
 */
static void
client_kick(struct control_client *client)
{
	uint32_t wanted;

	if (!client->failed && client->output_len > 0)
		client_flush(client);
	if (client->failed || (client->closing && client->output_len == 0)) {
		client_free(client);
		return;
	}
	wanted = (client->closing ? 0 : EPOLLIN) | (client->output_len > 0 ? EPOLLOUT : 0);
	if (wanted != client->events) {
		if (loop_modify(client->control->loop, &client->watch, wanted) < 0) {
			client_free(client);
			return;
		}
		client->events = wanted;
	}
}

static void
client_ready(struct loop_watch *watch, uint32_t events)
{
	struct control_client *client = (struct control_client *)watch;

	if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !client->closing)
		client_read(client);
	if (events & EPOLLERR)
		client->failed = true;
	client_kick(client);
}

/* Closes the clients that have neither sent nor read for the idle timeout. */
static void
control_idle_sweep(struct loop_watch *watch, uint32_t events)
{
	struct control *control =
	    (struct control *)((char *)watch - offsetof(struct control, idle_watch));
	struct control_client *client, *next;
	uint64_t expirations;
	int64_t now_ms = monotonic_ms();

	(void)events;
	if (read(watch->fd, &expirations, sizeof(expirations)) != sizeof(expirations))
		return;
	for (client = TAILQ_FIRST(&control->clients); client != NULL; client = next) {
		next = TAILQ_NEXT(client, entry);
		/* A subscriber waits for events; one that stops reading is dropped by its queue. */
		if (client->subscribed ||
		    now_ms - client->last_active_ms < control->options.idle_timeout_ms)
			continue;
		log_info("%s: client pid %d uid %u idle for %lld ms, closed", control->path,
		         (int)client->peer.pid, (unsigned)client->peer.uid,
		         (long long)(now_ms - client->last_active_ms));
		control->stats.idle_closed++;
		client_free(client);
	}
}

/* 0 in the options: the bound of every client's output. */
static size_t
event_queue_max(const struct control *control)
{
	unsigned max = control->options.max_event_queue_bytes;

	return max > 0 && max < CONTROL_OUTPUT_MAX ? max : CONTROL_OUTPUT_MAX;
}

void
control_publish(struct control *control, json_t *event)
{
	struct control_client *client, *next;
	char *text = NULL;
	size_t len = 0;

	if (control == NULL || control->stats.subscribers == 0)
		return;
	control->stats.events_published++;
	for (client = TAILQ_FIRST(&control->clients); client != NULL; client = next) {
		next = TAILQ_NEXT(client, entry);
		if (!client->subscribed || client->failed)
			continue;
		if (text == NULL) {
			if ((text = json_dumps(event, JSON_COMPACT)) == NULL) {
				log_warnx("%s: event not encodable", control->path);
				return;
			}
			len = strlen(text);
		}
		if (client->output_len + len + 1 > event_queue_max(control)) {
			control->stats.subscribers_dropped++;
			log_warnx("%s: subscriber pid %d uid %u left %zu bytes of events unread "
			          "(limits.control_event_queue): dropped",
			          control->path, (int)client->peer.pid, (unsigned)client->peer.uid,
			          client->output_len);
			client_free(client);
			continue;
		}
		client_queue(client, text, len);
		client_queue(client, "\n", 1);
		client_kick(client);
	}
	free(text);
}
