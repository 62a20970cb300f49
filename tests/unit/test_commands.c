/*
 * The two tables of the control surface agree: every command the daemon
 * answers (daemon_commands) is listed by abusectl --help, and every command
 * abusectl lists that needs the daemon is one the daemon answers. A command
 * added on one side only fails here. And each command's own --help works
 * without a daemon: it exits 0 with the command's usage line and a line
 * saying what it does.
 */
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "abusectl_path.h"
#include "check.h"
#include "commands.h"

/* Commands abusectl runs itself, without the daemon. */
static const char *const offline[] = {"robots check"};

/* The daemon's name for what abusectl calls "vm set": words (and hyphens) joined by '_'. */
static void
request_name(const char *words, char *out, size_t len)
{
	snprintf(out, len, "%s", words);
	for (char *c = out; *c != '\0'; c++)
		if (*c == ' ' || *c == '-') /* "ticket false-positive" is ticket_false_positive */
			*c = '_';
}

static bool
daemon_answers(const char *name)
{
	for (const struct control_command *command = daemon_commands; command->name != NULL;
	     command++)
		if (strcmp(command->name, name) == 0)
			return true;
	return false;
}

/* "abusectl CMD --help", with no daemon behind the socket: 0 if usage and description came. */
static bool
command_help(const char *words, char *first, size_t first_len)
{
	char command[PATH_MAX + 128], line[1024], usage[256];
	bool usage_seen = false, described = false;
	FILE *help;

	snprintf(command, sizeof(command), "%s -s /nonexistent/control.sock %s --help 2>&1",
	         abusectl_path(), words);
	snprintf(usage, sizeof(usage), "usage: abusectl [-s SOCKET] [--json] %s", words);
	first[0] = '\0';
	if ((help = popen(command, "r")) == NULL)
		return false;
	while (fgets(line, sizeof(line), help) != NULL) {
		if (first[0] == '\0')
			snprintf(first, first_len, "%.*s", (int)strcspn(line, "\n"), line);
		if (strncmp(line, usage, strlen(usage)) == 0)
			usage_seen = true;
		else if (usage_seen && strlen(line) > 20)
			described = true;
	}
	return pclose(help) == 0 && usage_seen && described;
}

int
main(void)
{
	char command[PATH_MAX + 32], line[512], listed[64][64];
	size_t count = 0;
	FILE *help;
	int status;

	snprintf(command, sizeof(command), "%s --help", abusectl_path());
	help = popen(command, "r");
	CHECK(help != NULL, "abusectl --help runs");
	if (help == NULL)
		return check_done();
	/* "\tvm set IFACE --address ...": the command is the lower-case words before the rest. */
	while (fgets(line, sizeof(line), help) != NULL && count < 64) {
		char *word, *save = NULL;
		size_t used = 0;

		if (line[0] != '\t')
			continue;
		listed[count][0] = '\0';
		for (word = strtok_r(line + 1, " \n", &save); word != NULL;
		     word = strtok_r(NULL, " \n", &save)) {
			if (word[0] < 'a' || word[0] > 'z' || strchr(word, '|') != NULL)
				break;
			used += snprintf(listed[count] + used, sizeof(listed[count]) - used, "%s%s",
			                 used > 0 ? " " : "", word);
		}
		count++;
	}
	status = pclose(help);
	CHECK(status == 0, "abusectl --help exits 0 (%d)", status);
	CHECK(count > 10, "abusectl --help lists the commands (%zu)", count);

	for (const struct control_command *daemon = daemon_commands; daemon->name != NULL;
	     daemon++) {
		bool found = false;

		for (size_t i = 0; i < count && !found; i++) {
			char name[64];

			request_name(listed[i], name, sizeof(name));
			found = strcmp(name, daemon->name) == 0;
		}
		CHECK(found, "the daemon's command %s is listed by abusectl --help", daemon->name);
	}
	for (size_t i = 0; i < count; i++) {
		char first[256];

		CHECK(command_help(listed[i], first, sizeof(first)),
		      "abusectl %s --help exits 0 without a daemon, with its usage and what it "
		      "does: %s",
		      listed[i], first);
	}
	for (size_t i = 0; i < count; i++) {
		char name[64];
		bool is_offline = false;

		for (size_t j = 0; j < sizeof(offline) / sizeof(offline[0]); j++)
			is_offline = is_offline || strcmp(listed[i], offline[j]) == 0;
		if (is_offline)
			continue;
		request_name(listed[i], name, sizeof(name));
		CHECK(daemon_answers(name), "abusectl's %s is a command the daemon answers",
		      listed[i]);
	}
	return check_done();
}
