/*
 * abusectl: the control client, after bgpctl. Parses the command line into
 * one JSON request, sends it to abuseguardd's control socket, and prints the
 * reply through one of two tables of printers (abusectl.h): tables for
 * people, or with --json the reply as the daemon sent it. The exit status
 * says what happened, for scripts (abusectl.h, abusectl(8)).
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "abusectl.h"
#include "protocol.h"
#include "robots_check.h"

#define REPLY_TIMEOUT_S 10
#define REPLY_MAX_BYTES (64u << 20)

/* The options a command may take, each the request key it fills. */
enum option_id {
	OPT_REASON,
	OPT_ADDRESS,
	OPT_NAME,
	OPT_CUSTOMER,
	OPT_SOURCE,
	OPT_SCOPE,
	OPT_CATEGORY,
	OPT_DURATION,
	OPT_UNTIL,
	OPT_SINCE,
	OPT_FOLLOW,
	OPT_STATUS,
	OPT_TEXT,
	OPT_TO_CUSTOMER,
	OPT_CUSTOMER_STATUS,
	OPT_COUNT
};

#define TAKES(option) (1u << (option))

static const struct {
	const char *name; /* --name */
	const char *key;  /* in the request */
	bool repeats;     /* an array of every value given */
} option_specs[OPT_COUNT] = {
    [OPT_REASON] = {"reason", CTL_KEY_REASON, false},
    [OPT_ADDRESS] = {"address", CTL_KEY_ADDRESSES, true},
    [OPT_NAME] = {"name", CTL_KEY_NAME, false},
    [OPT_CUSTOMER] = {"customer", CTL_KEY_CUSTOMER, false},
    [OPT_SOURCE] = {"source", CTL_KEY_SOURCE, false},
    [OPT_SCOPE] = {"scope", CTL_KEY_SCOPE, false},
    [OPT_CATEGORY] = {"category", CTL_KEY_CATEGORY, false},
    [OPT_DURATION] = {"duration", CTL_KEY_DURATION, false},
    [OPT_UNTIL] = {"until", CTL_KEY_UNTIL, false},
    [OPT_SINCE] = {"since", CTL_KEY_SINCE, false},
    [OPT_FOLLOW] = {"follow", CTL_KEY_FOLLOW, false},
    [OPT_STATUS] = {"status", CTL_KEY_STATUS, false},
    [OPT_TEXT] = {"text", CTL_KEY_TEXT, false},
    [OPT_TO_CUSTOMER] = {"to-customer", CTL_KEY_TO_CUSTOMER, false},
    [OPT_CUSTOMER_STATUS] = {"customer-status", CTL_KEY_CUSTOMER_STATUS, false},
};

/* The options that take no value: given, they are true. */
#define FLAG_OPTIONS (TAKES(OPT_FOLLOW) | TAKES(OPT_TO_CUSTOMER))

struct command {
	const char *name;     /* one or two words on the command line */
	const char *request;  /* the daemon's name for it */
	const char *synopsis; /* what follows the name in the usage text */
	const char *help;     /* what it does, for COMMAND --help */
	const char *operand;  /* the request key of its one positional argument, or NULL */
	unsigned takes;       /* TAKES(OPT_...) it accepts */
	unsigned needs;       /* of those, the ones it cannot do without */
	enum reply_kind reply;
	/* The reply comes in pages: this array is joined across them ("next" asks for more). */
	const char *pages;
};

static const struct command commands[] = {
    {"status", CTL_CMD_STATUS, "",
     "The daemon's version, mode, interfaces, counters, and the health of its store and "
     "nftables table.",
     NULL, 0, 0, REPLY_STATUS, NULL},
    {"bans", CTL_CMD_BANS, " [--source ADDR] [--scope S] [--category C]",
     "The active bans, soonest expiry first; the options keep those of one source, scope "
     "(smtp, web, all) or category (spam, scan, crawler, spoofing, evasion).",
     NULL, TAKES(OPT_SOURCE) | TAKES(OPT_SCOPE) | TAKES(OPT_CATEGORY), 0, REPLY_BANS, CTL_KEY_BANS},
    {"ban", CTL_CMD_BAN, " SOURCE --scope S [--duration D] [--category C] --reason TEXT",
     "Bans SOURCE in scope S (smtp, web, all): for D (90m, 2h, 7d) or, without --duration, "
     "for the ladder's next rung. The category (default: the scope's usual one) is what the "
     "records name.",
     CTL_KEY_SOURCE,
     TAKES(OPT_SCOPE) | TAKES(OPT_DURATION) | TAKES(OPT_CATEGORY) | TAKES(OPT_REASON),
     TAKES(OPT_SCOPE) | TAKES(OPT_REASON), REPLY_BAN, NULL},
    {"unban", CTL_CMD_UNBAN, " SOURCE --reason TEXT",
     "Lifts every active ban of SOURCE now; a repeat soon after still climbs the ladder.",
     CTL_KEY_SOURCE, TAKES(OPT_REASON), TAKES(OPT_REASON), REPLY_UNBAN, NULL},
    {"history", CTL_CMD_HISTORY, " SOURCE",
     "Everything recorded for SOURCE, newest first: offences, bans, lifts and the "
     "operators' changes, with who and why.",
     CTL_KEY_SOURCE, 0, 0, REPLY_HISTORY, NULL},
    {"audit", CTL_CMD_AUDIT, " [--since T]",
     "Every change operators made, oldest first, with uid and reason; --since a UTC time "
     "(2026-12-01, 2026-12-01T08:00:00Z) or a duration ago (2h, 7d).",
     NULL, TAKES(OPT_SINCE), 0, REPLY_AUDIT, CTL_KEY_AUDIT},
    {"events", CTL_CMD_EVENTS, " [--follow]",
     "The latest findings, decisions and changes; --follow keeps printing them as they "
     "happen, one line each (JSON lines with --json), until interrupted.",
     NULL, TAKES(OPT_FOLLOW), 0, REPLY_EVENTS, NULL},
    {"allow", CTL_CMD_ALLOW, " SOURCE [--until T] --reason TEXT",
     "Puts SOURCE (an address or prefix) on the runtime allowlist, until T (a UTC time, or "
     "a duration from now) or until disallowed, and lifts its active bans. Kept across "
     "restarts.",
     CTL_KEY_SOURCE, TAKES(OPT_UNTIL) | TAKES(OPT_REASON), TAKES(OPT_REASON), REPLY_ALLOW, NULL},
    {"disallow", CTL_CMD_DISALLOW, " SOURCE --reason TEXT",
     "Takes SOURCE off the runtime allowlist.", CTL_KEY_SOURCE, TAKES(OPT_REASON),
     TAKES(OPT_REASON), REPLY_DISALLOW, NULL},
    {"allowlist", CTL_CMD_ALLOWLIST, "",
     "The policy's allowlist and the operators' runtime one, with who, until when and why.", NULL,
     0, 0, REPLY_ALLOWLIST, NULL},
    {"reload", CTL_CMD_RELOAD, " --reason TEXT",
     "Re-reads the policy in one step; a policy with an error is refused (file:line: "
     "message) and the running one stays. Says which settings wait for a restart.",
     NULL, TAKES(OPT_REASON), TAKES(OPT_REASON), REPLY_RELOAD, NULL},
    {"mode", CTL_CMD_MODE, " observe|enforce --reason TEXT",
     "observe: detect, record and alert, ban nothing; enforce: ban. Holds until the daemon "
     "restarts, over reloads.",
     CTL_KEY_MODE, TAKES(OPT_REASON), TAKES(OPT_REASON), REPLY_MODE, NULL},
    {"metrics", CTL_CMD_METRICS, "", "Every counter in Prometheus' text format.", NULL, 0, 0,
     REPLY_METRICS, NULL},
    {"vms", CTL_CMD_VMS, "",
     "The VM-facing interfaces: MAC, name, customer, and each address with how it was "
     "learned.",
     NULL, 0, 0, REPLY_VMS, NULL},
    {"vm set", CTL_CMD_VM_SET,
     " IFACE --address ADDR... [--name NAME] [--customer ID] --reason TEXT",
     "Sets the addresses (and name, customer) of the VM behind IFACE, replacing learned "
     "ones; kept across restarts.",
     CTL_KEY_INTERFACE,
     TAKES(OPT_ADDRESS) | TAKES(OPT_NAME) | TAKES(OPT_CUSTOMER) | TAKES(OPT_REASON),
     TAKES(OPT_ADDRESS) | TAKES(OPT_REASON), REPLY_VM_SET, NULL},
    {"tickets", CTL_CMD_TICKETS, " [--status S] [--customer ID] [--source ADDR]",
     "The abuse tickets, oldest first: status (the desk's and the customer's), customer, "
     "source, category, events, last seen, deadline. The options keep those of one status "
     "(open, acknowledged, resolved, escalated, false-positive, closed), customer or source.",
     NULL, TAKES(OPT_STATUS) | TAKES(OPT_CUSTOMER) | TAKES(OPT_SOURCE), 0, REPLY_TICKETS,
     CTL_KEY_TICKETS},
    /* The two-word ticket commands before "ticket ID": the first match wins. */
    {"ticket acknowledge", CTL_CMD_TICKET_ACKNOWLEDGE, " ID --reason TEXT",
     "The desk takes ticket ID: open becomes acknowledged.", CTL_KEY_ID, TAKES(OPT_REASON),
     TAKES(OPT_REASON), REPLY_TICKET_CHANGE, NULL},
    {"ticket resolve", CTL_CMD_TICKET_RESOLVE, " ID --reason TEXT",
     "The desk closes the case (from open, acknowledged or escalated); new abuse reopens it.",
     CTL_KEY_ID, TAKES(OPT_REASON), TAKES(OPT_REASON), REPLY_TICKET_CHANGE, NULL},
    {"ticket close", CTL_CMD_TICKET_CLOSE, " ID --reason TEXT",
     "The desk is done with ticket ID (from open, acknowledged, resolved or escalated): the "
     "customer gets the closure, the reason stays the desk's; a later event opens a new "
     "ticket.",
     CTL_KEY_ID, TAKES(OPT_REASON), TAKES(OPT_REASON), REPLY_TICKET_CHANGE, NULL},
    {"ticket note", CTL_CMD_TICKET_NOTE, " ID --text TEXT [--to-customer] --reason TEXT",
     "Adds a note to the ticket's thread: internal, or with --to-customer a message to the "
     "customer.",
     CTL_KEY_ID, TAKES(OPT_TEXT) | TAKES(OPT_TO_CUSTOMER) | TAKES(OPT_REASON),
     TAKES(OPT_TEXT) | TAKES(OPT_REASON), REPLY_TICKET_CHANGE, NULL},
    {"ticket reply", CTL_CMD_TICKET_REPLY,
     " ID --text TEXT [--customer-status acknowledged|fixed] --reason TEXT",
     "Records the customer's answer in the thread; --customer-status moves their status "
     "forward (none, acknowledged, fixed), never back.",
     CTL_KEY_ID, TAKES(OPT_TEXT) | TAKES(OPT_CUSTOMER_STATUS) | TAKES(OPT_REASON),
     TAKES(OPT_TEXT) | TAKES(OPT_REASON), REPLY_TICKET_CHANGE, NULL},
    {"ticket false-positive", CTL_CMD_TICKET_FALSE_POSITIVE, " ID --reason TEXT",
     "Marks ticket ID a false positive: its active bans are lifted and its offences leave "
     "the ladder's history.",
     CTL_KEY_ID, TAKES(OPT_REASON), TAKES(OPT_REASON), REPLY_TICKET_FALSE_POSITIVE, NULL},
    {"ticket", CTL_CMD_TICKET, " ID",
     "One ticket whole: its fields, the thread, its events with each offence's evidence, "
     "its status changes, its bans and its deliveries.",
     CTL_KEY_ID, 0, 0, REPLY_TICKET, NULL},
    {"outbox", CTL_CMD_OUTBOX, "",
     "The notices not yet delivered, oldest first: ticket, backend (mail, exec, log), kind, "
     "state (pending, retrying, running, failed for good), attempts, next try and last "
     "error.",
     NULL, 0, 0, REPLY_OUTBOX, NULL},
};

/* Commands that need no daemon: they get their arguments and return the exit status. */
struct offline_command {
	const char *name;
	const char *arguments;
	const char *help;
	int (*run)(int argc, char *argv[], bool json);
};

static int run_robots(int argc, char *argv[], bool json);

static const struct offline_command offline_commands[] = {
    {"robots", " check ROBOTS_FILE AGENT URL...",
     "Judges each URL against a robots.txt for AGENT, offline, with the crawler detector's "
     "parser.",
     run_robots},
};

#define COUNT_OF(array) (sizeof(array) / sizeof((array)[0]))

static void
usage(FILE *out)
{
	fprintf(out, "usage: abusectl [-s SOCKET] [--json] COMMAND [ARGS]\n"
	             "       abusectl COMMAND --help\n"
	             "commands:\n");
	for (size_t i = 0; i < COUNT_OF(commands); i++)
		fprintf(out, "\t%s%s\n", commands[i].name, commands[i].synopsis);
	for (size_t i = 0; i < COUNT_OF(offline_commands); i++)
		fprintf(out, "\t%s%s\n", offline_commands[i].name, offline_commands[i].arguments);
	fprintf(out, "exit status: 0 done, 1 failed, 2 not found, 3 refused, 64 usage, "
	             "69 daemon unreachable, 75 busy, 77 permission denied (abusectl(8))\n");
}

/* COMMAND --help: its synopsis and what it does. */
static void
command_usage(const char *name, const char *synopsis, const char *help)
{
	printf("usage: abusectl [-s SOCKET] [--json] %s%s\n\n%s\n", name, synopsis, help);
}

static void __attribute__((noreturn, format(printf, 1, 2))) usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarnx(fmt, ap);
	va_end(ap);
	fprintf(stderr,
	        "(abusectl --help lists the commands, abusectl COMMAND --help explains one)\n");
	exit(CTL_EXIT_USAGE);
}

static const struct command *
find_command(int argc, char **argv, int *words)
{
	char two[128];

	for (size_t i = 0; i < COUNT_OF(commands); i++) {
		if (strcmp(commands[i].name, argv[0]) == 0) {
			*words = 1;
			return &commands[i];
		}
		snprintf(two, sizeof(two), "%s %s", argv[0], argc > 1 ? argv[1] : "");
		if (argc > 1 && strcmp(commands[i].name, two) == 0) {
			*words = 2;
			return &commands[i];
		}
	}
	return NULL;
}

static const struct offline_command *
find_offline_command(const char *name)
{
	for (size_t i = 0; i < COUNT_OF(offline_commands); i++)
		if (strcmp(offline_commands[i].name, name) == 0)
			return &offline_commands[i];
	return NULL;
}

/* robots check ROBOTS_FILE AGENT URL...: the detector's parser, offline. */
static int
run_robots(int argc, char *argv[], bool json)
{
	if (argc < 4 || strcmp(argv[0], "check") != 0)
		usage_error("robots: expects check ROBOTS_FILE AGENT URL...");
	return robots_check(stdout, stderr, argv[1], argv[2], argv + 3, argc - 3, json);
}

/* A failure to reach the daemon: exit 69, or 77 where the socket is not ours to use. */
static void __attribute__((noreturn)) unreachable(const char *path, const char *what)
{
	if (errno == EACCES || errno == EPERM)
		errx(CTL_EXIT_DENIED,
		     "%s %s: %s (only root and the control group may use the daemon's socket)",
		     what, path, strerror(errno));
	err(CTL_EXIT_UNREACHABLE, "%s %s", what, path);
}

static int
connect_daemon(const char *path, bool follow)
{
	struct timeval timeout = {.tv_sec = REPLY_TIMEOUT_S};
	struct sockaddr_un address = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(address.sun_path))
		errx(CTL_EXIT_USAGE, "connect %s: path too long", path);
	strcpy(address.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		err(CTL_EXIT_FAILED, "socket");
	/* The send timeout also bounds connect when the daemon's backlog is full. */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout)) == -1 ||
	    (!follow && setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)) == -1))
		err(CTL_EXIT_FAILED, "setsockopt");
	if (connect(fd, (struct sockaddr *)&address, sizeof(address)) == -1)
		unreachable(path, "connect");
	return fd;
}

/*
 * Sends the request line. 0, or -EPIPE / -ECONNRESET when the daemon had
 * already closed: it may have said why (a refusal) before it did.
 */
static int
send_request(int fd, const char *path, json_t *request)
{
	char *text = json_dumps(request, JSON_COMPACT);
	size_t len, sent = 0;

	if (text == NULL)
		errx(CTL_EXIT_FAILED, "cannot encode the request");
	len = strlen(text);
	text[len++] = '\n'; /* replaces the NUL: the line is sent by length */
	while (sent < len) {
		ssize_t n = send(fd, text + sent, len - sent, MSG_NOSIGNAL);

		if (n == -1) {
			int error = errno;

			if (error == EINTR)
				continue;
			free(text);
			if (error == EPIPE || error == ECONNRESET)
				return -error;
			unreachable(path, "send");
		}
		sent += n;
	}
	free(text);
	return 0;
}

/* The daemon's lines, one at a time: a read may bring several (events --follow). */
struct reader {
	int fd;
	const char *path;
	char *buffer;
	size_t len, size; /* bytes held; what is allocated */
};

/* The next line, without its newline, valid until the next call; NULL at EOF. */
static char *
read_line(struct reader *reader)
{
	char *newline;

	for (;;) {
		ssize_t n;

		newline = reader->len > 0 ? memchr(reader->buffer, '\n', reader->len) : NULL;
		if (newline != NULL)
			break;
		if (reader->len + 1 >= reader->size) {
			if (reader->size >= REPLY_MAX_BYTES)
				errx(CTL_EXIT_FAILED, "%s: reply longer than %u bytes",
				     reader->path, REPLY_MAX_BYTES);
			reader->size = reader->size ? reader->size * 2 : 4096;
			if ((reader->buffer = realloc(reader->buffer, reader->size)) == NULL)
				err(CTL_EXIT_FAILED, "realloc");
		}
		n = recv(reader->fd, reader->buffer + reader->len, reader->size - 1 - reader->len,
		         0);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				errx(CTL_EXIT_UNREACHABLE, "%s: no reply within %d seconds",
				     reader->path, REPLY_TIMEOUT_S);
			unreachable(reader->path, "read");
		}
		if (n == 0)
			return NULL;
		reader->len += n;
	}
	*newline = '\0';
	return reader->buffer;
}

/* Forgets the line read_line returned. */
static void
line_done(struct reader *reader)
{
	size_t used = strlen(reader->buffer) + 1;

	memmove(reader->buffer, reader->buffer + used, reader->len - used);
	reader->len -= used;
}

/* The next line as a JSON object; NULL at EOF. */
static json_t *
read_object(struct reader *reader)
{
	json_error_t parse_error;
	json_t *object;
	char *line = read_line(reader);

	if (line == NULL)
		return NULL;
	object = json_loads(line, 0, &parse_error);
	line_done(reader);
	if (!json_is_object(object))
		errx(CTL_EXIT_FAILED, "%s: bad reply: %s", reader->path,
		     object == NULL ? parse_error.text : "not an object");
	return object;
}

/* Sends one request and returns its reply, an object. */
static json_t *
exchange(struct reader *reader, json_t *request)
{
	int sent = send_request(reader->fd, reader->path, request);
	json_t *reply = read_object(reader);

	if (reply == NULL && sent < 0) {
		errno = -sent;
		unreachable(reader->path, "send");
	}
	if (reply == NULL)
		errx(CTL_EXIT_UNREACHABLE, "%s: the daemon closed the connection without a reply",
		     reader->path);
	return reply;
}

/*
 * Asks for the pages after the first, on the same connection, and joins
 * their key arrays into first. A page that fails makes the whole reply fail.
 */
static void
fetch_pages(struct reader *reader, json_t *request, const char *key, json_t *first)
{
	json_t *next;

	while ((next = json_object_get(first, CTL_KEY_NEXT)) != NULL) {
		json_t *page;

		json_object_set(request, CTL_KEY_AFTER, next);
		page = exchange(reader, request);
		if (!json_is_true(json_object_get(page, CTL_KEY_OK))) {
			json_object_update(first, page);
			json_object_del(first, CTL_KEY_NEXT);
			json_decref(page);
			return;
		}
		json_array_extend(json_object_get(first, key), json_object_get(page, key));
		/* What only the last page carries (the kernel's elements no ban stands behind). */
		json_object_update_missing(first, page);
		if (json_object_get(page, CTL_KEY_NEXT) != NULL)
			json_object_set(first, CTL_KEY_NEXT, json_object_get(page, CTL_KEY_NEXT));
		else
			json_object_del(first, CTL_KEY_NEXT);
		json_decref(page);
	}
}

/* events --follow: every event the daemon sends, until it closes or we are interrupted. */
static int
follow(struct reader *reader, const struct output *output)
{
	json_t *event;

	while ((event = read_object(reader)) != NULL) {
		output->print[REPLY_EVENT](event);
		json_decref(event);
		if (fflush(stdout) == EOF)
			err(CTL_EXIT_FAILED, "stdout");
	}
	warnx("%s: the daemon ended the stream (it stopped, or this reader fell behind "
	      "limits.control_event_queue)",
	      reader->path);
	return CTL_EXIT_UNREACHABLE;
}

/* A ticket's number as the request carries it; anything else is a usage error. */
static json_t *
ticket_id(const char *command, const char *text)
{
	char *end;
	long long id;

	errno = 0;
	id = strtoll(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || id < 1)
		usage_error("%s: not a ticket number: %s", command, text);
	return json_integer(id);
}

/* The exit status a reply calls for. */
static int
ctl_exit_status(json_t *reply)
{
	if (json_is_true(json_object_get(reply, CTL_KEY_OK)))
		return CTL_EXIT_OK;
	switch (ctl_result_parse(json_string_value(json_object_get(reply, CTL_KEY_RESULT)))) {
	case CTL_RESULT_OK:
	case CTL_RESULT_FAILED:
	case CTL_RESULT_COUNT:
		break;
	case CTL_RESULT_BAD_REQUEST:
		return CTL_EXIT_USAGE;
	case CTL_RESULT_DENIED:
		return CTL_EXIT_DENIED;
	case CTL_RESULT_NOT_FOUND:
		return CTL_EXIT_NOT_FOUND;
	case CTL_RESULT_REFUSED:
		return CTL_EXIT_REFUSED;
	case CTL_RESULT_BUSY:
		return CTL_EXIT_BUSY;
	}
	return CTL_EXIT_FAILED;
}

int
main(int argc, char *argv[])
{
	enum { OPT_SOCKET = OPT_COUNT, OPT_JSON, OPT_HELP };
	static const struct option options[] = {
	    {"socket", required_argument, NULL, OPT_SOCKET},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"help", no_argument, NULL, OPT_HELP},
	    {"reason", required_argument, NULL, OPT_REASON},
	    {"address", required_argument, NULL, OPT_ADDRESS},
	    {"name", required_argument, NULL, OPT_NAME},
	    {"customer", required_argument, NULL, OPT_CUSTOMER},
	    {"source", required_argument, NULL, OPT_SOURCE},
	    {"scope", required_argument, NULL, OPT_SCOPE},
	    {"category", required_argument, NULL, OPT_CATEGORY},
	    {"duration", required_argument, NULL, OPT_DURATION},
	    {"until", required_argument, NULL, OPT_UNTIL},
	    {"since", required_argument, NULL, OPT_SINCE},
	    {"follow", no_argument, NULL, OPT_FOLLOW},
	    {"status", required_argument, NULL, OPT_STATUS},
	    {"text", required_argument, NULL, OPT_TEXT},
	    {"to-customer", no_argument, NULL, OPT_TO_CUSTOMER},
	    {"customer-status", required_argument, NULL, OPT_CUSTOMER_STATUS},
	    {NULL, 0, NULL, 0},
	};
	const char *path = CTL_SOCKET_PATH;
	const struct output *output = &output_text;
	const struct offline_command *offline;
	const struct command *command;
	json_t *given = json_object(), *request, *reply;
	struct reader reader = {0};
	unsigned seen = 0;
	bool help = false, following;
	int option, status, words;

	/* Options may follow the command: "abusectl unban 10.0.0.5 --reason ...". */
	while ((option = getopt_long(argc, argv, "s:r:fh", options, NULL)) != -1) {
		switch (option) {
		case 's':
		case OPT_SOCKET:
			path = optarg;
			break;
		case OPT_JSON:
			output = &output_json;
			break;
		case 'h':
		case OPT_HELP:
			help = true;
			break;
		case 'r':
		case 'f':
			option = option == 'r' ? OPT_REASON : OPT_FOLLOW;
			/* fall through */
		default:
			if (option < 0 || option >= OPT_COUNT) {
				fprintf(stderr,
				        "(abusectl --help lists the commands and options)\n");
				return CTL_EXIT_USAGE;
			}
			if ((seen & TAKES(option)) && !option_specs[option].repeats)
				usage_error("--%s given twice", option_specs[option].name);
			seen |= TAKES(option);
			if (FLAG_OPTIONS & TAKES(option))
				json_object_set_new(given, option_specs[option].key, json_true());
			else if (option_specs[option].repeats) {
				json_t *values = json_object_get(given, option_specs[option].key);

				if (values == NULL)
					json_object_set_new(given, option_specs[option].key,
					                    values = json_array());
				json_array_append_new(values, json_string(optarg));
			} else
				json_object_set_new(given, option_specs[option].key,
				                    json_string(optarg));
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0) {
		if (help) {
			usage(stdout);
			return CTL_EXIT_OK;
		}
		usage(stderr);
		return CTL_EXIT_USAGE;
	}
	if ((offline = find_offline_command(argv[0])) != NULL) {
		if (help) {
			command_usage(offline->name, offline->arguments, offline->help);
			return CTL_EXIT_OK;
		}
		if (seen != 0)
			usage_error("%s: takes no options but --json", offline->name);
		return offline->run(argc - 1, argv + 1, output == &output_json);
	}
	command = find_command(argc, argv, &words);
	if (command == NULL)
		usage_error("unknown command: %s", argv[0]);
	if (help) {
		command_usage(command->name, command->synopsis, command->help);
		return CTL_EXIT_OK;
	}
	if (argc - words != (command->operand != NULL ? 1 : 0))
		usage_error("%s: %s%s", command->name,
		            command->operand == NULL ? "takes no arguments" : "expects",
		            command->operand == NULL ? "" : command->synopsis);
	for (int i = 0; i < OPT_COUNT; i++) {
		if ((seen & TAKES(i)) && !(command->takes & TAKES(i)))
			usage_error("%s: takes no --%s", command->name, option_specs[i].name);
		if ((command->needs & TAKES(i)) && !(seen & TAKES(i)))
			usage_error("%s: --%s is required", command->name, option_specs[i].name);
	}
	{
		const char *reason = json_string_value(json_object_get(given, CTL_KEY_REASON));

		if (reason != NULL && reason[strspn(reason, " \t")] == '\0')
			usage_error("%s: --reason must say why", command->name);
	}

	request = json_pack("{s:s}", CTL_KEY_COMMAND, command->request);
	if (request == NULL)
		errx(CTL_EXIT_FAILED, "cannot build the request");
	json_object_update(request, given);
	json_decref(given);
	if (command->operand != NULL)
		json_object_set_new(request, command->operand,
		                    strcmp(command->operand, CTL_KEY_ID) == 0
		                        ? ticket_id(command->name, argv[words])
		                        : json_string(argv[words]));
	following = json_is_true(json_object_get(request, CTL_KEY_FOLLOW));
	reader.path = path;
	reader.fd = connect_daemon(path, following);
	reply = exchange(&reader, request);
	if (command->pages != NULL)
		fetch_pages(&reader, request, command->pages, reply);
	json_decref(request);

	status = ctl_exit_status(reply);
	if (status == CTL_EXIT_OK)
		output->print[command->reply](reply);
	else
		output->failure(command->name, reply);
	json_decref(reply);
	if (fflush(stdout) == EOF || ferror(stdout))
		err(CTL_EXIT_FAILED, "stdout");
	if (status == CTL_EXIT_OK && following)
		status = follow(&reader, output);
	close(reader.fd);
	free(reader.buffer);
	return status;
}
