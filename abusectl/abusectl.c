/*
 * abusectl: the control client, after bgpctl. Parses the command line into
 * one JSON request, sends it to abuseguardd's control socket, and prints the
 * reply through one of two tables of printers (abusectl.h): tables for
 * people, or with --json the reply as the daemon sent it.
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
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

#define EXIT_USAGE      64 /* EX_USAGE */
#define REPLY_TIMEOUT_S 10
#define REPLY_MAX_BYTES (64u << 20)

struct command {
	const char *name;      /* one or two words on the command line */
	const char *request;   /* the daemon's name for it */
	const char *arguments; /* for the usage text */
	int operands;          /* positional arguments it takes */
	const char *operand;   /* the request key of the first one */
	bool needs_reason;
	bool takes_vm;         /* --address, --name, --customer */
	enum reply_kind reply; /* which printer shows it */
	/* The reply comes in pages: this array is joined across them ("next" asks for more). */
	const char *pages;
};

static const struct command commands[] = {
    {"status", CTL_CMD_STATUS, "", 0, NULL, false, false, REPLY_STATUS, NULL},
    {"bans", CTL_CMD_BANS, "", 0, NULL, false, false, REPLY_BANS, CTL_KEY_BANS},
    {"unban", CTL_CMD_UNBAN, " SOURCE --reason TEXT", 1, CTL_KEY_SOURCE, true, false, REPLY_UNBAN,
     NULL},
    {"metrics", CTL_CMD_METRICS, "", 0, NULL, false, false, REPLY_METRICS, NULL},
    {"vms", CTL_CMD_VMS, "", 0, NULL, false, false, REPLY_VMS, NULL},
    {"vm set", CTL_CMD_VM_SET,
     " IFACE --address ADDR... [--name NAME] [--customer ID] --reason TEXT", 1, CTL_KEY_INTERFACE,
     true, true, REPLY_VM_SET, NULL},
};

/* Commands that need no daemon: they get their arguments and return the exit status. */
struct offline_command {
	const char *name;
	const char *arguments;
	int (*run)(int argc, char *argv[], bool json);
};

static int run_robots(int argc, char *argv[], bool json);

static const struct offline_command offline_commands[] = {
    {"robots", " check ROBOTS_FILE AGENT URL...", run_robots},
};

static void
usage(FILE *out)
{
	fprintf(out, "usage: abusectl [-s SOCKET] [--json] COMMAND [ARGS]\n"
	             "commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "\t%s%s\n", commands[i].name, commands[i].arguments);
	for (size_t i = 0; i < sizeof(offline_commands) / sizeof(offline_commands[0]); i++)
		fprintf(out, "\t%s%s\n", offline_commands[i].name, offline_commands[i].arguments);
}

static void __attribute__((noreturn, format(printf, 1, 2))) usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarnx(fmt, ap);
	va_end(ap);
	usage(stderr);
	exit(EXIT_USAGE);
}

static const struct command *
find_command(int argc, char **argv, int *words)
{
	char two[128];

	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
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
	for (size_t i = 0; i < sizeof(offline_commands) / sizeof(offline_commands[0]); i++)
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

static int
connect_daemon(const char *path)
{
	struct timeval timeout = {.tv_sec = REPLY_TIMEOUT_S};
	struct sockaddr_un address = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(address.sun_path))
		errx(1, "connect %s: path too long", path);
	strcpy(address.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		err(1, "socket");
	/* The send timeout also bounds connect when the daemon's backlog is full. */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)) == -1)
		err(1, "setsockopt");
	if (connect(fd, (struct sockaddr *)&address, sizeof(address)) == -1)
		err(1, "connect %s", path);
	return fd;
}

static void
send_request(int fd, const char *path, json_t *request)
{
	char *text = json_dumps(request, JSON_COMPACT);
	size_t len, sent = 0;

	if (text == NULL)
		errx(1, "cannot encode the request");
	len = strlen(text);
	text[len++] = '\n'; /* replaces the NUL: the line is sent by length */
	while (sent < len) {
		ssize_t n = send(fd, text + sent, len - sent, MSG_NOSIGNAL);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			err(1, "send %s", path);
		}
		sent += n;
	}
	free(text);
}

/* Reads one line, without its newline, into a string the caller frees. */
static char *
read_reply(int fd, const char *path)
{
	size_t len = 0, size = 4096;
	char *line = malloc(size);
	char *newline = NULL;

	if (line == NULL)
		err(1, "malloc");
	while (newline == NULL) {
		ssize_t n;

		if (len + 1 == size) {
			if (size >= REPLY_MAX_BYTES)
				errx(1, "%s: reply longer than %u bytes", path, REPLY_MAX_BYTES);
			size *= 2;
			if ((line = realloc(line, size)) == NULL)
				err(1, "realloc");
		}
		n = recv(fd, line + len, size - 1 - len, 0);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				errx(1, "%s: no reply within %d seconds", path, REPLY_TIMEOUT_S);
			err(1, "read %s", path);
		}
		if (n == 0)
			errx(1, "%s: the daemon closed the connection without a reply", path);
		newline = memchr(line + len, '\n', n);
		len += n;
	}
	*newline = '\0';
	return line;
}

/* Sends one request and returns its reply, an object. */
static json_t *
exchange(int fd, const char *path, json_t *request)
{
	json_error_t parse_error;
	json_t *reply;
	char *line;

	send_request(fd, path, request);
	line = read_reply(fd, path);
	reply = json_loads(line, 0, &parse_error);
	free(line);
	if (!json_is_object(reply))
		errx(1, "%s: bad reply: %s", path,
		     reply == NULL ? parse_error.text : "not an object");
	return reply;
}

/*
 * Asks for the pages after the first, on the same connection, and joins
 * their key arrays into first. A page that fails makes the whole reply fail.
 */
static void
fetch_pages(int fd, const char *path, json_t *request, const char *key, json_t *first)
{
	json_t *next;

	while ((next = json_object_get(first, CTL_KEY_NEXT)) != NULL) {
		json_t *page;

		json_object_set(request, CTL_KEY_AFTER, next);
		page = exchange(fd, path, request);
		if (!json_is_true(json_object_get(page, CTL_KEY_OK))) {
			json_object_update(first, page);
			json_object_del(first, CTL_KEY_NEXT);
			json_decref(page);
			return;
		}
		json_array_extend(json_object_get(first, key), json_object_get(page, key));
		if (json_object_get(page, CTL_KEY_NEXT) != NULL)
			json_object_set(first, CTL_KEY_NEXT, json_object_get(page, CTL_KEY_NEXT));
		else
			json_object_del(first, CTL_KEY_NEXT);
		json_decref(page);
	}
}

struct vm_options {
	json_t *addresses; /* --address, repeated */
	const char *name, *customer;
};

static json_t *
build_request(const struct command *command, char **operands, const char *reason,
              struct vm_options *vm)
{
	json_t *request = json_pack("{s:s}", CTL_KEY_COMMAND, command->request);

	if (request == NULL)
		errx(1, "cannot build the request");
	if (command->operands > 0)
		json_object_set_new(request, command->operand, json_string(operands[0]));
	if (reason != NULL)
		json_object_set_new(request, CTL_KEY_REASON, json_string(reason));
	if (command->takes_vm) {
		json_object_set(request, CTL_KEY_ADDRESSES, vm->addresses);
		if (vm->name != NULL)
			json_object_set_new(request, CTL_KEY_NAME, json_string(vm->name));
		if (vm->customer != NULL)
			json_object_set_new(request, CTL_KEY_CUSTOMER, json_string(vm->customer));
	}
	return request;
}

int
main(int argc, char *argv[])
{
	static const struct option options[] = {
	    {"socket", required_argument, NULL, 's'}, {"json", no_argument, NULL, 'j'},
	    {"reason", required_argument, NULL, 'r'}, {"address", required_argument, NULL, 'a'},
	    {"name", required_argument, NULL, 'n'},   {"customer", required_argument, NULL, 'C'},
	    {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
	};
	const char *path = CTL_SOCKET_PATH, *reason = NULL;
	const struct offline_command *offline;
	const struct command *command;
	const struct output *output = &output_text;
	json_t *request, *reply;
	struct vm_options vm = {.addresses = json_array()};
	bool ok, vm_options_given = false;
	int option, fd, words;

	/* Options may follow the command: "abusectl unban 10.0.0.5 --reason ...". */
	while ((option = getopt_long(argc, argv, "s:r:h", options, NULL)) != -1) {
		switch (option) {
		case 's':
			path = optarg;
			break;
		case 'j':
			output = &output_json;
			break;
		case 'r':
			reason = optarg;
			break;
		case 'a':
			json_array_append_new(vm.addresses, json_string(optarg));
			vm_options_given = true;
			break;
		case 'n':
			vm.name = optarg;
			vm_options_given = true;
			break;
		case 'C':
			vm.customer = optarg;
			vm_options_given = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0)
		usage_error("no command given");
	if ((offline = find_offline_command(argv[0])) != NULL) {
		if (reason != NULL)
			usage_error("%s: takes no --reason", offline->name);
		return offline->run(argc - 1, argv + 1, output == &output_json);
	}
	command = find_command(argc, argv, &words);
	if (command == NULL)
		usage_error("unknown command: %s", argv[0]);
	if (argc - words != command->operands)
		usage_error("%s: %s%s", command->name,
		            command->operands == 0 ? "takes no arguments" : "expects",
		            command->operands == 0 ? "" : command->arguments);
	if (command->takes_vm && json_array_size(vm.addresses) == 0)
		usage_error("%s: at least one --address ADDR is required", command->name);
	if (!command->takes_vm && vm_options_given)
		usage_error("%s: takes no --address, --name or --customer", command->name);
	if (command->needs_reason && (reason == NULL || reason[0] == '\0'))
		usage_error("%s: --reason TEXT is required", command->name);
	if (!command->needs_reason && reason != NULL)
		usage_error("%s: takes no --reason", command->name);

	request = build_request(command, argv + words, reason, &vm);
	json_decref(vm.addresses);
	fd = connect_daemon(path);
	reply = exchange(fd, path, request);
	if (command->pages != NULL)
		fetch_pages(fd, path, request, command->pages, reply);
	close(fd);
	json_decref(request);

	ok = json_is_true(json_object_get(reply, CTL_KEY_OK));
	if (ok)
		output->print[command->reply](reply);
	else
		output->failure(command->name, reply);
	json_decref(reply);
	if (fflush(stdout) == EOF || ferror(stdout))
		err(1, "stdout");
	return ok ? 0 : 1;
}
