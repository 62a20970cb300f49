/*
 * The two tables of the control surface agree: every command the daemon
 * answers (daemon_commands) is listed by abusectl --help, and every command
 * abusectl lists that needs the daemon is one the daemon answers. A command
 * added on one side only fails here.
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
