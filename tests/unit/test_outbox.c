/*
 * The outbox as the abuse desk relies on it: a notice queued is delivered
 * by every configured backend (a mail command, an exec hook, the event
 * log) from the event loop; a failing mail command is retried with backoff
 * and the same Message-ID; a hanging one is killed at the timeout; a
 * chatty one does not grow memory; and across a crash between the mail
 * command's success and the commit, the notice goes again once, with the
 * same Message-ID, and never again after that. A permanent refusal (no
 * such user, a 5xx) is kept as failed and never tried again, across a
 * restart too.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "log.h"
#include "loop.h"
#include "outbox.h"
#include "report.h"
#include "source.h"
#include "store.h"

static char dir[] = "/tmp/abuseguard-outbox.XXXXXX";

struct harness {
	struct loop loop;
	struct clock clock;
	struct store *store;
	struct outbox *outbox;
	struct config config;
	struct loop_watch timer;
	int (*done)(struct harness *);
	bool live; /* the clock follows the real time */
};

static void
write_script(const char *name, const char *body)
{
	char path[256];
	FILE *file;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	file = fopen(path, "w");
	fprintf(file, "#!/bin/sh\nD=%s\n%s", dir, body);
	fclose(file);
	chmod(path, 0755);
}

static int
count_lines(const char *name, const char *containing)
{
	char path[256], line[4096];
	FILE *file;
	int count = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((file = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), file) != NULL)
		if (containing == NULL || strstr(line, containing) != NULL)
			count++;
	fclose(file);
	return count;
}

static bool
exists(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

static void
touch(const char *name, bool present)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (present)
		close(open(path, O_WRONLY | O_CREAT, 0644));
	else
		unlink(path);
}

static void
tick(struct loop_watch *watch, uint32_t events)
{
	struct harness *h = (struct harness *)((char *)watch - offsetof(struct harness, timer));
	uint64_t expirations;

	(void)events;
	if (read(watch->fd, &expirations, sizeof(expirations)) < 0)
		return;
	if (h->live) {
		struct timespec now;

		clock_gettime(CLOCK_REALTIME, &now);
		clock_set(&h->clock, (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000);
	}
	outbox_tick(h->outbox);
	if (h->done(h))
		h->loop.stop = 1;
}

/* Runs the loop until done() or seconds pass; 1 if done. */
static int
run_until(struct harness *h, int (*done)(struct harness *), int seconds)
{
	struct itimerspec period = {.it_interval = {.tv_nsec = 20000000},
	                            .it_value = {.tv_nsec = 20000000}};
	time_t end = time(NULL) + seconds;

	h->done = done;
	h->loop.stop = 0;
	timerfd_settime(h->timer.fd, 0, &period, NULL);
	/* Batches, as loop_run takes them: a child's exit and its output come in one. */
	while (!h->loop.stop && time(NULL) < end) {
		struct epoll_event events[16];
		int ready = epoll_wait(h->loop.epoll_fd, events, 16, 100);

		for (int i = 0; i < ready; i++) {
			struct loop_watch *watch = events[i].data.ptr;

			watch->ready(watch, events[i].events);
		}
	}
	return done(h);
}

static void
harness_open(struct harness *h, struct config *config, const char *database)
{
	char path[256];

	memset(&h->loop, 0, sizeof(h->loop));
	loop_init(&h->loop);
	h->config = *config;
	snprintf(path, sizeof(path), "%s/%s.db", dir, database);
	CHECK(store_open(&h->store, path) == 0, "the store opens");
	CHECK(outbox_open(&h->outbox, &h->loop, h->store, &h->clock, &h->config) == 0,
	      "the outbox opens on it");
	h->timer.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	h->timer.ready = tick;
	loop_add(&h->loop, &h->timer, EPOLLIN);
}

static void
harness_close(struct harness *h)
{
	outbox_close(h->outbox);
	store_close(h->store);
	close(h->timer.fd);
	loop_close(&h->loop);
}

static void
report_make(struct abuse_report *report, int64_t ticket, int64_t event, enum report_kind kind)
{
	memset(report, 0, sizeof(*report));
	report->kind = kind;
	report->ticket_id = ticket;
	report->event_id = event;
	report->time_ms = 1795000000000LL;
	snprintf(report->customer.id, sizeof(report->customer.id), "c-1001");
	snprintf(report->customer.name, sizeof(report->customer.name), "Example Customer");
	snprintf(report->customer.contact, sizeof(report->customer.contact),
	         "abuse@customer.example");
	report->category = CATEGORY_SPAM;
	source_parse("10.0.0.5", 64, &report->source);
	report->first_seen_ms = report->last_seen_ms = report->time_ms;
	report->event_count = 1;
}

static void
config_make(struct config *config)
{
	config_defaults(config);
	snprintf(config->notify.mail_command, sizeof(config->notify.mail_command), "%s/mail.sh -t",
	         dir);
	snprintf(config->notify.exec, sizeof(config->notify.exec), "%s/exec.sh", dir);
	snprintf(config->notify.event_log, sizeof(config->notify.event_log), "%s/events.jsonl",
	         dir);
	config->notify.timeout_ms = 1000;
	config->notify.retry_ms = 60000;
	config->notify.retry_max_ms = 240000;
}

static struct outbox_stats
stats_of(struct harness *h)
{
	struct outbox_stats stats;

	outbox_stats(h->outbox, &stats);
	return stats;
}

static int
nothing_waits(struct harness *h)
{
	struct outbox_stats stats = stats_of(h);

	return stats.depth == 0 && stats.running == 0;
}

static int
one_failed(struct harness *h)
{
	return stats_of(h).failed >= 1 && stats_of(h).running == 0;
}

static int
nothing_runs(struct harness *h)
{
	return stats_of(h).running == 0;
}

static void
test_delivery(void)
{
	struct harness h = {0};
	struct config config;
	struct abuse_report report;

	config_make(&config);
	clock_init_fixed(&h.clock, 1795000000000LL);
	harness_open(&h, &config, "delivery");
	report_make(&report, 1, 1, REPORT_NOTICE);
	CHECK(outbox_enqueue(h.outbox, &report) == 0 && stats_of(&h).queued == 3,
	      "a notice is queued once for each configured backend (%llu)",
	      (unsigned long long)stats_of(&h).queued);
	CHECK(run_until(&h, nothing_waits, 10), "and delivered from the loop");
	CHECK(count_lines("mail-ids", "Message-ID: <ticket-1.event-1.") == 1 &&
	          count_lines("mail-args", "-t") == 1,
	      "the mail command got the message on stdin, with its arguments");
	CHECK(count_lines("exec-env", "ticket=1 kind=notice id=<ticket-1.event-1.") == 1 &&
	          count_lines("exec-in", "\"ticket\":1") == 1,
	      "the exec hook got the ticket JSON on stdin and the ticket in its environment");
	CHECK(count_lines("events.jsonl", "\"event\":\"notice\"") == 1,
	      "the event log got one JSON line");

	/* An internal note: the desk's tools get it, the customer never. */
	report_make(&report, 1, 2, REPORT_NOTE);
	report.visibility = REPORT_VISIBLE_INTERNAL;
	snprintf(report.text, sizeof(report.text), "customer called, fixing");
	outbox_enqueue(h.outbox, &report);
	run_until(&h, nothing_waits, 10);
	CHECK(count_lines("mail-ids", NULL) == 1 && count_lines("events.jsonl", NULL) == 2 &&
	          count_lines("exec-env", NULL) == 2,
	      "an internal note goes to the hook and the log, not to the customer");

	/* The same event again (the ticket core asked twice): not sent twice. */
	report_make(&report, 1, 1, REPORT_NOTICE);
	CHECK(outbox_enqueue(h.outbox, &report) == 0 && stats_of(&h).duplicate == 3 &&
	          stats_of(&h).depth == 0,
	      "the same ticket event queued again is ignored");
	run_until(&h, nothing_waits, 1);
	CHECK(count_lines("mail-ids", NULL) == 1, "and nothing is sent again");
	harness_close(&h);
}

static void
test_retry(void)
{
	struct harness h = {0};
	struct config config;
	struct abuse_report report;
	struct outbox_stats stats;

	config_make(&config);
	config.notify.exec[0] = config.notify.event_log[0] = '\0';
	clock_init_fixed(&h.clock, 1795000000000LL);
	harness_open(&h, &config, "retry");
	touch("fail", true);
	report_make(&report, 2, 1, REPORT_NOTICE);
	outbox_enqueue(h.outbox, &report);
	CHECK(run_until(&h, one_failed, 10), "a mail command that fails (exit 75) is seen");
	stats = stats_of(&h);
	CHECK(stats.depth == 1 && stats.retrying == 1 && stats.delivered == 0,
	      "the notice waits in the outbox, counted as retrying");
	clock_set(&h.clock, 1795000000000LL + 59000);
	run_until(&h, nothing_runs, 1);
	CHECK(stats_of(&h).failed == 1, "no attempt before the backoff (1 minute) has passed");
	touch("fail", false);
	clock_set(&h.clock, 1795000000000LL + 61000);
	CHECK(run_until(&h, nothing_waits, 10) && stats_of(&h).delivered == 1,
	      "after it, the next attempt delivers");
	CHECK(count_lines("mail-ids", "Message-ID: <ticket-2.event-1.") == 2 &&
	          count_lines("mail-ids-unique", "ticket-2.") == 1,
	      "both attempts carried the same Message-ID, for the receiver to dedupe");
	harness_close(&h);
}

static void
test_timeout_and_output(void)
{
	struct harness h = {0};
	struct config config;
	struct abuse_report report;
	struct timespec start;

	config_make(&config);
	config.notify.exec[0] = config.notify.event_log[0] = '\0';
	snprintf(config.notify.mail_command, sizeof(config.notify.mail_command), "%s/hang.sh", dir);
	config.limits.delivery_output = 256;
	config.notify.timeout_ms = 3000; /* time enough to write its output, even under load */
	clock_gettime(CLOCK_REALTIME, &start);
	clock_init_fixed(&h.clock, (int64_t)start.tv_sec * 1000);
	h.live = true;
	harness_open(&h, &config, "timeout");
	report_make(&report, 3, 1, REPORT_NOTICE);
	outbox_enqueue(h.outbox, &report);
	CHECK(run_until(&h, one_failed, 10) && stats_of(&h).timeouts == 1,
	      "a mail command that hangs is killed at notify.timeout and counted");
	CHECK(stats_of(&h).output_truncated == 1,
	      "what it wrote past limits.delivery_output was dropped and counted");
	CHECK(!exists("hang-survived"), "its whole process group went with it");
	harness_close(&h);
}

static int
count_refused(struct harness *h)
{
	return (int)stats_of(h).refused_for_good;
}

static int
two_refused(struct harness *h)
{
	return count_refused(h) == 2 && stats_of(h).running == 0;
}

struct listed {
	unsigned rows, failed;
	char error[256];
};

static int
list_row(const struct store_delivery_row *row, void *arg)
{
	struct listed *listed = arg;

	listed->rows++;
	if (row->failed_ms != 0 && row->sent_ms == 0) {
		listed->failed++;
		snprintf(listed->error, sizeof(listed->error), "%s", row->last_error);
	}
	return 0;
}

/*
 * A permanent MTA error: no such user (EX_NOUSER), and a 5xx reply with
 * exit 1. Each is marked failed, counted and kept, and never tried again:
 * not after the backoff, not after a restart. A temporary one (exit 75) is
 * retried (test_retry).
 */
static void
test_refused(void)
{
	struct harness h = {0};
	struct config config;
	struct abuse_report report;
	struct listed listed = {0};
	struct outbox_stats stats;

	config_make(&config);
	config.notify.exec[0] = config.notify.event_log[0] = '\0';
	snprintf(config.notify.mail_command, sizeof(config.notify.mail_command), "%s/refuse.sh",
	         dir);
	clock_init_fixed(&h.clock, 1795000000000LL);
	harness_open(&h, &config, "refused");
	report_make(&report, 5, 1, REPORT_NOTICE);
	outbox_enqueue(h.outbox, &report);
	report_make(&report, 6, 1, REPORT_NOTICE); /* refuse.sh answers it with a 5xx */
	outbox_enqueue(h.outbox, &report);
	CHECK(run_until(&h, two_refused, 10),
	      "a mail command exiting 67 (EX_NOUSER), and one saying \"550 5.1.1\" with exit 1, "
	      "are refusals for good (%d)",
	      count_refused(&h));
	stats = stats_of(&h);
	CHECK(stats.depth == 0 && stats.undeliverable == 2 && stats.retrying == 0 &&
	          stats.failed == 0,
	      "they leave the waiting ones and are counted as undeliverable, not as retrying "
	      "(depth %zu, undeliverable %zu)",
	      stats.depth, stats.undeliverable);
	store_outbox_list(h.store, 0, 10, list_row, &listed);
	CHECK(listed.rows == 2 && listed.failed == 2 && strstr(listed.error, "550 5.1.1") != NULL,
	      "the outbox lists them as failed, with the MTA's words: %s", listed.error);
	clock_set(&h.clock, 1795000000000LL + 7 * 86400000LL);
	run_until(&h, nothing_runs, 1);
	CHECK(count_lines("refuse-attempts", NULL) == 2,
	      "a week later neither was tried again (%d attempts)",
	      count_lines("refuse-attempts", NULL));
	harness_close(&h);

	/* The restart: they stay failed, nothing is in doubt, nothing goes again. */
	clock_init_fixed(&h.clock, 1795000000000LL + 8 * 86400000LL);
	harness_open(&h, &config, "refused");
	stats = stats_of(&h);
	CHECK(stats.undeliverable == 2 && stats.depth == 0 && stats.in_doubt == 0,
	      "after a restart both are still failed and none waits");
	run_until(&h, nothing_runs, 1);
	report_make(&report, 5, 1, REPORT_NOTICE);
	CHECK(outbox_enqueue(h.outbox, &report) == 0 && stats_of(&h).duplicate == 1,
	      "the same event queued again is the same (failed) delivery");
	run_until(&h, nothing_runs, 1);
	CHECK(count_lines("refuse-attempts", NULL) == 2,
	      "and the MTA never saw either again (%d attempts)",
	      count_lines("refuse-attempts", NULL));
	harness_close(&h);
}

/*
 * The crash window: the mail command succeeded, the daemon died before it
 * recorded that. A child process plays the daemon and is killed while the
 * mail command is still finishing.
 */
static void
test_crash(void)
{
	struct harness h = {0};
	struct config config;
	struct abuse_report report;
	pid_t daemon;
	int status;

	config_make(&config);
	config.notify.exec[0] = config.notify.event_log[0] = '\0';
	snprintf(config.notify.mail_command, sizeof(config.notify.mail_command), "%s/slow.sh", dir);
	report_make(&report, 4, 1, REPORT_NOTICE);
	fflush(stdout);
	if ((daemon = fork()) == 0) {
		clock_init_fixed(&h.clock, 1795000000000LL);
		harness_open(&h, &config, "crash");
		outbox_enqueue(h.outbox, &report);
		run_until(&h, nothing_waits, 20);
		_exit(0);
	}
	for (int i = 0; i < 500 && !exists("slow-delivered"); i++)
		usleep(10000);
	kill(daemon, SIGKILL);
	waitpid(daemon, &status, 0);
	CHECK(exists("slow-delivered") && WIFSIGNALED(status),
	      "the daemon died after the mail command took the notice");
	for (int i = 0; i < 300 && !exists("slow-exited"); i++)
		usleep(10000);

	/* The restart. */
	snprintf(config.notify.mail_command, sizeof(config.notify.mail_command), "%s/mail.sh", dir);
	clock_init_fixed(&h.clock, 1795000000000LL + 1000);
	harness_open(&h, &config, "crash");
	CHECK(stats_of(&h).in_doubt == 1 && stats_of(&h).depth == 1,
	      "after the restart the attempt is in doubt and waits again (%llu, %zu)",
	      (unsigned long long)stats_of(&h).in_doubt, stats_of(&h).depth);
	CHECK(run_until(&h, nothing_waits, 10), "it is sent again");
	CHECK(count_lines("mail-ids", "Message-ID: <ticket-4.event-1.") == 1 &&
	          count_lines("slow-ids", "Message-ID: <ticket-4.event-1.") == 1 &&
	          count_lines("all-ids-unique", NULL) == 1,
	      "with the Message-ID the first attempt had");
	harness_close(&h);

	clock_init_fixed(&h.clock, 1795000000000LL + 2000);
	harness_open(&h, &config, "crash");
	CHECK(stats_of(&h).in_doubt == 0 && stats_of(&h).depth == 0,
	      "a second restart finds nothing in doubt and nothing waiting");
	outbox_enqueue(h.outbox, &report);
	run_until(&h, nothing_waits, 1);
	CHECK(count_lines("mail-ids", "Message-ID: <ticket-4.event-1.") == 1,
	      "and a delivered notice is never sent again, even queued again");
	harness_close(&h);
}

int
main(void)
{
	log_init(0, 0, "test_outbox");
	if (mkdtemp(dir) == NULL)
		return 1;
	write_script("mail.sh",
	             "echo \"$*\" >>$D/mail-args\n"
	             "grep -m1 '^Message-ID:' >>$D/mail-ids\n"
	             "sort -u $D/mail-ids >$D/mail-ids-unique\n"
	             "cat $D/mail-ids $D/slow-ids 2>/dev/null | grep ticket-4 | sort -u "
	             ">$D/all-ids-unique\n"
	             "if [ -e $D/fail ]; then echo 'mailbox unavailable'; exit 75; fi\n");
	write_script("exec.sh", "echo \"ticket=$ABUSEGUARD_TICKET kind=$ABUSEGUARD_KIND "
	                        "id=$ABUSEGUARD_MESSAGE_ID\" >>$D/exec-env\n"
	                        "cat >>$D/exec-in\n");
	write_script("hang.sh", "head -c 100000 /dev/zero | tr '\\0' x\n"
	                        "sleep 5\ntouch $D/hang-survived\n");
	write_script("refuse.sh", "id=$(grep -m1 '^Message-ID:')\n"
	                          "echo \"$id\" >>$D/refuse-attempts\n"
	                          "case $id in *ticket-6.*) echo '550 5.1.1 "
	                          "<abuse@customer.example>: Recipient address rejected'; "
	                          "exit 1;; esac\n"
	                          "echo 'abuse@customer.example... User unknown'; exit 67\n");
	write_script("slow.sh", "grep -m1 '^Message-ID:' >>$D/slow-ids\n"
	                        "touch $D/slow-delivered\nsleep 1\ntouch $D/slow-exited\n");
	test_delivery();
	test_retry();
	test_timeout_and_output();
	test_refused();
	test_crash();
	{
		char command[128];

		snprintf(command, sizeof(command), "rm -rf %s", dir);
		(void)system(command);
	}
	return check_done();
}
