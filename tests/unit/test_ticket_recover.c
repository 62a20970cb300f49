/*
 * The crash between a ticket's change and its queueing: the ticket and its
 * notice are durable, the daemon dies before the outbox has the notice. At
 * the next start the notice is queued and delivered, once: a second start
 * finds nothing to do, and a ticket queued the normal way is never queued
 * again.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "detect.h"
#include "ladder.h"
#include "log.h"
#include "loop.h"
#include "outbox.h"
#include "source.h"
#include "store.h"
#include "ticket_notify.h"

#define T0_MS 1767225600000LL /* 2026-01-01T00:00:00Z */

static char dir[] = "/tmp/abuseguard-recover.XXXXXX";
static struct config config;

struct daemon_parts {
	struct loop loop;
	struct clock clock;
	struct store *store;
	struct outbox *outbox;
	struct tickets tickets;
	struct ticket_notify notify;
};

/* The crash: the ticket's change is committed, the sink has not queued it. */
static int
die_in_sink(void *arg, const struct ticket *ticket, enum ticket_event event,
            const struct ticket_message *message)
{
	(void)arg, (void)ticket, (void)event, (void)message;
	raise(SIGKILL);
	return 0;
}

static void
parts_open(struct daemon_parts *parts, int64_t now_ms)
{
	char path[256];

	memset(parts, 0, sizeof(*parts));
	snprintf(path, sizeof(path), "%s/abuseguard.db", dir);
	loop_init(&parts->loop);
	clock_init_fixed(&parts->clock, now_ms);
	if (store_open(&parts->store, path) < 0 ||
	    outbox_open(&parts->outbox, &parts->loop, parts->store, &parts->clock, &config) < 0)
		exit(2);
	tickets_init(&parts->tickets, &config, &parts->clock, parts->store);
	parts->notify = (struct ticket_notify){.config = &config, .outbox = parts->outbox};
	parts->tickets.sink =
	    (struct ticket_sink){.event = ticket_notify_event, .arg = &parts->notify};
}

static void
parts_close(struct daemon_parts *parts)
{
	outbox_close(parts->outbox);
	store_close(parts->store);
	loop_close(&parts->loop);
}

static int
file_offence(struct daemon_parts *parts, const char *source)
{
	struct finding finding = {0};
	struct offence offence = {0};

	source_parse(source, 64, &finding.source);
	finding.category = CATEGORY_SPAM;
	finding.time_ms = clock_now_ms(&parts->clock);
	offence.source = finding.source;
	offence.category = CATEGORY_SPAM;
	offence.time_ms = finding.time_ms;
	offence.attempts = 40;
	if (store_record(parts->store, &offence, NULL) < 0)
		return -1;
	return ticket_file(&parts->tickets, &finding, &offence, NULL, NULL, NULL);
}

/* Event log lines for the ticket event of that name. */
static int
logged(const char *event)
{
	char path[256], line[8192], want[64];
	int count = 0;
	FILE *file;

	snprintf(path, sizeof(path), "%s/events.jsonl", dir);
	snprintf(want, sizeof(want), "\"event\":\"%s\"", event);
	if ((file = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), file) != NULL)
		count += strstr(line, want) != NULL;
	fclose(file);
	return count;
}

int
main(void)
{
	struct daemon_parts parts;
	size_t requeued;
	pid_t daemon;
	int status;

	log_init(0, 0, "test_ticket_recover");
	if (mkdtemp(dir) == NULL)
		return 1;
	config_defaults(&config);
	config.notify.mail_command[0] = config.notify.smtp[0] = '\0';
	snprintf(config.notify.event_log, sizeof(config.notify.event_log), "%s/events.jsonl", dir);

	fflush(stdout);
	if ((daemon = fork()) == 0) {
		parts_open(&parts, T0_MS);
		parts.tickets.sink.event = die_in_sink;
		file_offence(&parts, "10.0.0.5");
		_exit(0);
	}
	waitpid(daemon, &status, 0);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	      "the daemon died between the ticket's change and its queueing");

	parts_open(&parts, T0_MS + 2000);
	CHECK(logged("opened") == 0, "nothing was delivered before the crash");
	CHECK(ticket_notify_recover(&parts.notify, parts.store, &requeued) == 0 && requeued == 1,
	      "at the start the notice the crash left is queued (%zu)", requeued);
	CHECK(logged("opened") == 1, "and delivered: the event log has the ticket's opening");
	CHECK(ticket_notify_recover(&parts.notify, parts.store, &requeued) == 0 && requeued == 0,
	      "looking again finds nothing left");
	CHECK(file_offence(&parts, "10.0.0.6") == 0 && logged("opened") == 2,
	      "a ticket opened the normal way is delivered at once");
	parts_close(&parts);

	parts_open(&parts, T0_MS + 4000);
	CHECK(ticket_notify_recover(&parts.notify, parts.store, &requeued) == 0 && requeued == 0 &&
	          logged("opened") == 2,
	      "the next start queues nothing again: each notice went once");
	parts_close(&parts);
	{
		char command[128];

		snprintf(command, sizeof(command), "rm -rf %s", dir);
		(void)system(command);
	}
	return check_done();
}
