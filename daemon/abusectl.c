/*
 * abusectl: the control client, after bgpctl. Parses the command line into
 * one JSON request, sends it to abuseguardd's control socket, and prints the
 * reply as tables for people or, with --json, as the daemon sent it.
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

#include "control.h"
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
	bool takes_vm; /* --address, --name, --customer */
	void (*print)(json_t *reply);
	/* The reply comes in pages: this array is joined across them ("next" asks for more). */
	const char *pages;
};

static void print_status(json_t *reply);
static void print_bans(json_t *reply);
static void print_unban(json_t *reply);
static void print_metrics(json_t *reply);
static void print_vms(json_t *reply);
static void print_vm_set(json_t *reply);

static const struct command commands[] = {
    {"status", "status", "", 0, NULL, false, false, print_status, NULL},
    {"bans", "bans", "", 0, NULL, false, false, print_bans, "bans"},
    {"unban", "unban", " SOURCE --reason TEXT", 1, "source", true, false, print_unban, NULL},
    {"metrics", "metrics", "", 0, NULL, false, false, print_metrics, NULL},
    {"vms", "vms", "", 0, NULL, false, false, print_vms, NULL},
    {"vm set", "vm_set", " IFACE --address ADDR... [--name NAME] [--customer ID] --reason TEXT", 1,
     "interface", true, true, print_vm_set, NULL},
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

/* "1h", "7d", "59m58s", "6d23h": the largest unit and, unless zero, the one below. */
static const char *
format_duration(json_int_t seconds, char *buf, size_t len)
{
	static const struct {
		char name;
		json_int_t seconds;
	} units[] = {{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}};
	size_t used = 0;
	int shown = 0;

	if (seconds < 0)
		seconds = 0;
	if (seconds == 0) {
		snprintf(buf, len, "0s");
		return buf;
	}
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]) && shown < 2; i++) {
		json_int_t count = seconds / units[i].seconds;

		if (count == 0) {
			if (shown > 0)
				break; /* "1d" and "5s" alone, never "1d5s" */
			continue;
		}
		seconds -= count * units[i].seconds;
		used += snprintf(buf + used, used < len ? len - used : 0,
		                 "%" JSON_INTEGER_FORMAT "%c", count, units[i].name);
		shown++;
	}
	return buf;
}

/* A scalar of any JSON type as text; "-" for what is missing or not a scalar. */
static const char *
format_scalar(json_t *value, char *buf, size_t len)
{
	if (value == NULL) {
		snprintf(buf, len, "-");
		return buf;
	}
	switch (json_typeof(value)) {
	case JSON_STRING:
		snprintf(buf, len, "%s", json_string_value(value));
		break;
	case JSON_INTEGER:
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(value));
		break;
	case JSON_REAL:
		snprintf(buf, len, "%g", json_real_value(value));
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		snprintf(buf, len, "%s", json_is_true(value) ? "yes" : "no");
		break;
	default:
		snprintf(buf, len, "-");
	}
	return buf;
}

/* Seconds as a duration when they are a number, else whatever was sent. */
static const char *
format_seconds(json_t *value, char *buf, size_t len)
{
	if (json_is_integer(value))
		return format_duration(json_integer_value(value), buf, len);
	return format_scalar(value, buf, len);
}

static void
print_field(json_t *reply, const char *key, const char *label, bool duration)
{
	json_t *value = json_object_get(reply, key);
	char text[256];

	if (value == NULL)
		return;
	printf("%s: %s\n", label,
	       duration ? format_seconds(value, text, sizeof(text))
	                : format_scalar(value, text, sizeof(text)));
}

/* A flat object as "label:" and one "\tkey value" line per member, keys aligned. */
static void
print_object(json_t *object, const char *label)
{
	const char *name;
	json_t *value;
	char text[256];
	int width = 0;

	if (!json_is_object(object))
		return;
	printf("%s:\n", label);
	json_object_foreach(object, name, value) if ((int)strlen(name) > width) width =
	    strlen(name);
	json_object_foreach(object, name, value)
	    printf("\t%-*s %s\n", width, name, format_scalar(value, text, sizeof(text)));
}

/* Prometheus' text format, as the daemon wrote it: for curl-less scrapes and people. */
static void
print_metrics(json_t *reply)
{
	const char *text = json_string_value(json_object_get(reply, "text"));

	if (text != NULL)
		fputs(text, stdout);
}

static void
print_status(json_t *reply)
{
	json_t *interfaces = json_object_get(reply, "interfaces");
	json_t *counters = json_object_get(reply, "counters");
	json_t *interface;
	char text[4][256];
	size_t i;

	print_field(reply, "version", "version", false);
	print_field(reply, "mode", "mode", false);
	print_field(reply, "pid", "pid", false);
	print_field(reply, "uptime_s", "uptime", true);
	print_field(reply, "bans_active", "bans active", false);
	if (json_is_array(interfaces)) {
		printf("interfaces:%s\n", json_array_size(interfaces) == 0 ? " none" : "");
		json_array_foreach(interfaces, i, interface)
		{
			json_t *tc_mode = json_object_get(interface, "tc_mode");

			printf("\t%s (ifindex %s, xdp %s%s%s)\n",
			       format_scalar(json_object_get(interface, "name"), text[0],
			                     sizeof(text[0])),
			       format_scalar(json_object_get(interface, "ifindex"), text[1],
			                     sizeof(text[1])),
			       format_scalar(json_object_get(interface, "xdp_mode"), text[2],
			                     sizeof(text[2])),
			       tc_mode ? ", tc " : "",
			       tc_mode ? format_scalar(tc_mode, text[3], sizeof(text[3])) : "");
		}
	}
	print_object(json_object_get(reply, "store"), "store");
	print_object(counters, "counters");
}

enum ban_column {
	BAN_SOURCE,
	BAN_SCOPE,
	BAN_CATEGORY,
	BAN_LEVEL,
	BAN_DURATION,
	BAN_EXPIRES,
	BAN_REMAINING,
	BAN_INTERFACE,
	BAN_VM_NAME,
	BAN_COLUMNS
};

static const struct {
	const char *heading;
	const char *key;
	bool seconds;
} ban_columns[BAN_COLUMNS] = {
    [BAN_SOURCE] = {"SOURCE", "source", false},
    [BAN_SCOPE] = {"SCOPE", "scope", false},
    [BAN_CATEGORY] = {"CATEGORY", "category", false},
    [BAN_LEVEL] = {"LEVEL", "level", false},
    [BAN_DURATION] = {"DURATION", "duration_s", true},
    [BAN_EXPIRES] = {"EXPIRES(UTC)", "expires", false},
    [BAN_REMAINING] = {"REMAINING", "remaining_s", true},
    [BAN_INTERFACE] = {"INTERFACE", "interface", false},
    [BAN_VM_NAME] = {"VM", "vm_name", false},
};

typedef char ban_row[BAN_COLUMNS][128];

static void
print_ban_row(ban_row cells, const int *width)
{
	for (int column = 0; column < BAN_COLUMNS; column++) {
		if (column == BAN_COLUMNS - 1)
			printf("%s\n", cells[column]);
		else
			printf("%-*s  ", width[column], cells[column]);
	}
}

static void
print_bans(json_t *reply)
{
	json_t *bans = json_object_get(reply, "bans");
	int width[BAN_COLUMNS];
	ban_row heading, *rows;
	size_t count, i;
	json_t *ban;

	count = json_array_size(bans);
	if (count == 0) {
		printf("no active bans\n");
		return;
	}
	rows = calloc(count, sizeof(*rows));
	if (rows == NULL)
		err(1, "calloc");
	for (int column = 0; column < BAN_COLUMNS; column++) {
		snprintf(heading[column], sizeof(heading[column]), "%s",
		         ban_columns[column].heading);
		width[column] = strlen(heading[column]);
	}
	json_array_foreach(bans, i, ban)
	{
		for (int column = 0; column < BAN_COLUMNS; column++) {
			json_t *value = json_object_get(ban, ban_columns[column].key);
			char *cell = rows[i][column];

			if (ban_columns[column].seconds)
				format_seconds(value, cell, sizeof(rows[i][column]));
			else
				format_scalar(value, cell, sizeof(rows[i][column]));
			if (cell[0] == '\0')
				snprintf(cell, sizeof(rows[i][column]), "-");
			if ((int)strlen(cell) > width[column])
				width[column] = strlen(cell);
		}
	}
	print_ban_row(heading, width);
	for (i = 0; i < count; i++)
		print_ban_row(rows[i], width);
	free(rows);
}

static void
print_unban(json_t *reply)
{
	json_t *lifted = json_object_get(reply, "lifted");
	char source[128], scope[64], category[64], level[64];
	json_t *ban;
	size_t i;

	format_scalar(json_object_get(reply, "source"), source, sizeof(source));
	if (json_array_size(lifted) == 0) {
		printf("no active ban on %s\n", source);
		return;
	}
	printf("lifted %s:", source);
	json_array_foreach(lifted, i, ban)
	{
		printf("%s %s (%s, level %s)", i > 0 ? "," : "",
		       format_scalar(json_object_get(ban, "scope"), scope, sizeof(scope)),
		       format_scalar(json_object_get(ban, "category"), category, sizeof(category)),
		       format_scalar(json_object_get(ban, "level"), level, sizeof(level)));
	}
	printf("\n");
}

/* Matches "vms" or "vm set" at argv; *words gets how many words the name took. */
/* One row per address: INTERFACE MAC NAME CUSTOMER ADDRESS ORIGIN SINCE. */
enum vm_column {
	VM_INTERFACE,
	VM_MAC,
	VM_NAME,
	VM_CUSTOMER,
	VM_ADDRESS,
	VM_ORIGIN,
	VM_SINCE,
	VM_COLUMNS
};

static const char *const vm_headings[VM_COLUMNS] = {
    "INTERFACE", "MAC", "NAME", "CUSTOMER", "ADDRESS", "ORIGIN", "SINCE(UTC)",
};

typedef char vm_row[VM_COLUMNS][128];

static void
vm_cells(json_t *vm, json_t *address, vm_row cells)
{
	static const char *const vm_keys[] = {"interface", "mac", "name", "customer"};
	static const char *const address_keys[] = {"address", "origin", "since"};

	for (int column = 0; column < VM_ADDRESS; column++) {
		format_scalar(json_object_get(vm, vm_keys[column]), cells[column],
		              sizeof(cells[0]));
		if (cells[column][0] == '\0')
			snprintf(cells[column], sizeof(cells[0]), "-");
	}
	for (int column = VM_ADDRESS; column < VM_COLUMNS; column++)
		format_scalar(address != NULL
		                  ? json_object_get(address, address_keys[column - VM_ADDRESS])
		                  : NULL,
		              cells[column], sizeof(cells[0]));
}

static void
print_vm_rows(json_t *vms)
{
	size_t count = 0, row = 0, i, j;
	int width[VM_COLUMNS];
	json_t *vm, *address;
	vm_row *rows;

	json_array_foreach(vms, i, vm) count +=
	    json_array_size(json_object_get(vm, "addresses")) ?: 1;
	if (count == 0) {
		printf("no VMs known\n");
		return;
	}
	if ((rows = calloc(count, sizeof(*rows))) == NULL)
		err(1, "calloc");
	json_array_foreach(vms, i, vm)
	{
		json_t *addresses = json_object_get(vm, "addresses");

		if (json_array_size(addresses) == 0)
			vm_cells(vm, NULL, rows[row++]);
		json_array_foreach(addresses, j, address) vm_cells(vm, address, rows[row++]);
	}
	for (int column = 0; column < VM_COLUMNS; column++) {
		width[column] = (int)strlen(vm_headings[column]);
		for (i = 0; i < count; i++)
			if ((int)strlen(rows[i][column]) > width[column])
				width[column] = (int)strlen(rows[i][column]);
	}
	for (int column = 0; column < VM_COLUMNS; column++)
		printf("%-*s%s", column == VM_COLUMNS - 1 ? 0 : width[column], vm_headings[column],
		       column == VM_COLUMNS - 1 ? "\n" : "  ");
	for (i = 0; i < count; i++)
		for (int column = 0; column < VM_COLUMNS; column++)
			printf("%-*s%s", column == VM_COLUMNS - 1 ? 0 : width[column],
			       rows[i][column], column == VM_COLUMNS - 1 ? "\n" : "  ");
	free(rows);
}

static void
print_vms(json_t *reply)
{
	print_vm_rows(json_object_get(reply, "vms"));
}

static void
print_vm_set(json_t *reply)
{
	json_t *one = json_array();

	json_array_append(one, json_object_get(reply, "vm"));
	print_vm_rows(one);
	json_decref(one);
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

/* Sends one request and returns its reply, an object; *line gets the reply as sent. */
static json_t *
exchange(int fd, const char *path, json_t *request, char **line)
{
	json_error_t parse_error;
	json_t *reply;

	send_request(fd, path, request);
	*line = read_reply(fd, path);
	reply = json_loads(*line, 0, &parse_error);
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

	while ((next = json_object_get(first, "next")) != NULL) {
		char *line;
		json_t *page;

		json_object_set(request, "after", next);
		page = exchange(fd, path, request, &line);
		free(line);
		if (!json_is_true(json_object_get(page, "ok"))) {
			json_object_update(first, page);
			json_object_del(first, "next");
			json_decref(page);
			return;
		}
		json_array_extend(json_object_get(first, key), json_object_get(page, key));
		if (json_object_get(page, "next") != NULL)
			json_object_set(first, "next", json_object_get(page, "next"));
		else
			json_object_del(first, "next");
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
	json_t *request = json_pack("{s:s}", "command", command->request);

	if (request == NULL)
		errx(1, "cannot build the request");
	if (command->operands > 0)
		json_object_set_new(request, command->operand, json_string(operands[0]));
	if (reason != NULL)
		json_object_set_new(request, "reason", json_string(reason));
	if (command->takes_vm) {
		json_object_set(request, "addresses", vm->addresses);
		if (vm->name != NULL)
			json_object_set_new(request, "name", json_string(vm->name));
		if (vm->customer != NULL)
			json_object_set_new(request, "customer", json_string(vm->customer));
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
	const char *path = CONTROL_DEFAULT_PATH, *reason = NULL;
	const struct offline_command *offline;
	const struct command *command;
	json_t *request, *reply;
	struct vm_options vm = {.addresses = json_array()};
	bool json_output = false, ok, vm_options_given = false;
	char *line;
	int option, fd, words;

	/* Options may follow the command: "abusectl unban 10.0.0.5 --reason ...". */
	while ((option = getopt_long(argc, argv, "s:r:h", options, NULL)) != -1) {
		switch (option) {
		case 's':
			path = optarg;
			break;
		case 'j':
			json_output = true;
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
		return offline->run(argc - 1, argv + 1, json_output);
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
	reply = exchange(fd, path, request, &line);
	if (command->pages != NULL && json_object_get(reply, "next") != NULL) {
		/* The joined reply is printed, not the first page's line. */
		fetch_pages(fd, path, request, command->pages, reply);
		free(line);
		line = json_dumps(reply, JSON_COMPACT);
		if (line == NULL)
			errx(1, "cannot encode the reply");
	}
	close(fd);
	json_decref(request);

	ok = json_is_true(json_object_get(reply, "ok"));
	if (json_output) {
		printf("%s\n", line);
	} else if (!ok) {
		const char *error = json_string_value(json_object_get(reply, "error"));

		warnx("%s: %s", command->name, error != NULL ? error : "failed");
	} else {
		command->print(reply);
	}
	json_decref(reply);
	free(line);
	if (fflush(stdout) == EOF || ferror(stdout))
		err(1, "stdout");
	return ok ? 0 : 1;
}
