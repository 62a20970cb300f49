/*
 * What filing a notice costs the event loop: rendering one ticket event for
 * the three backends and committing them to the outbox (outbox_enqueue,
 * the one delivery slot held by a first child, so nothing more is
 * spawned), against the
 * reference every ban already pays, recording its offence and ban
 * (store_record), on the same store in the same run. Both commit with
 * synchronous=FULL, so the disk dominates both.
 *   notice_cost [--notices N] [--runs R]
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "config.h"
#include "log.h"
#include "loop.h"
#include "outbox.h"
#include "report.h"
#include "source.h"
#include "store.h"

static const char evidence_log[] =
    "2026-11-18T11:06:40Z 10.0.0.5 [web1 vnet3] spam: 31 attempts, 15 destinations\n"
    "2026-11-18T11:06:40Z 10.0.0.5 [web1 vnet3]   to 192.0.2.25 port 25 (tcp)\n";

static double
time_notices(struct outbox *outbox, unsigned count, int64_t first_ticket)
{
	struct abuse_report report = {0};
	uint64_t start = monotonic_ns();

	report.kind = REPORT_NOTICE;
	report.category = CATEGORY_SPAM;
	source_parse("10.0.0.5", 64, &report.source);
	snprintf(report.customer.id, sizeof(report.customer.id), "c-1001");
	snprintf(report.customer.contact, sizeof(report.customer.contact),
	         "abuse@customer.example");
	report.log = evidence_log;
	report.log_len = sizeof(evidence_log) - 1;
	for (unsigned i = 0; i < count; i++) {
		report.ticket_id = first_ticket + i;
		report.event_id = 1;
		report.report_id[0] = '\0';
		if (outbox_enqueue(outbox, &report) < 0)
			exit(1);
	}
	return (double)(monotonic_ns() - start) / count;
}

static double
time_bans(struct store *store, unsigned count, uint32_t first)
{
	uint64_t start = monotonic_ns();

	for (unsigned i = 0; i < count; i++) {
		struct offence offence = {.category = CATEGORY_SPAM, .time_ms = 1795000000000LL};
		struct ban ban = {.category = CATEGORY_SPAM,
		                  .scope = SCOPE_SMTP,
		                  .start_ms = 1795000000000LL,
		                  .expires_ms = 1795003600000LL};
		uint32_t n = first + i;

		offence.source.family = SOURCE_FAMILY_IPV4;
		offence.source.prefix_len = 32;
		memcpy(offence.source.addr, &n, 4);
		ban.source = offence.source;
		if (store_record(store, &offence, &ban) < 0)
			exit(1);
	}
	return (double)(monotonic_ns() - start) / count;
}

int
main(int argc, char *argv[])
{
	static const struct option options[] = {
	    {"notices", required_argument, NULL, 'n'},
	    {"runs", required_argument, NULL, 'r'},
	    {"smoke", no_argument, NULL, 's'},
	    {NULL, 0, NULL, 0},
	};
	unsigned notices = 500, runs = 5;
	char dir[] = "/tmp/abuseguard-notice-cost.XXXXXX", path[128], ratio[64], figures[256],
	     sizes[128];
	double notice_ns[64], ban_ns[64];
	struct summary notice, ban;
	struct config config;
	struct outbox *outbox;
	struct store *store;
	struct clock clock;
	struct loop loop;
	int option;

	while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (option == 'n')
			notices = (unsigned)strtoul(optarg, NULL, 10);
		else if (option == 'r')
			runs = (unsigned)strtoul(optarg, NULL, 10);
		else if (option == 's') {
			notices = 20;
			runs = 2;
		}
	}
	if (runs == 0 || runs > 64 || notices == 0 || mkdtemp(dir) == NULL)
		return 64;
	log_init(0, 0, "notice_cost");
	config_defaults(&config);
	/* Every backend on; the one delivery slot is taken by a warm-up, so the rest wait. */
	snprintf(config.notify.mail_command, sizeof(config.notify.mail_command), "/bin/true");
	snprintf(config.notify.exec, sizeof(config.notify.exec), "/bin/true");
	snprintf(config.notify.event_log, sizeof(config.notify.event_log), "%s/events.jsonl", dir);
	config.limits.outbox = 10000000;
	config.limits.deliveries = 1;
	snprintf(path, sizeof(path), "%s/abuseguard.db", dir);
	clock_init_fixed(&clock, 1795000000000LL);
	if (loop_init(&loop) < 0 || store_open(&store, path) < 0 ||
	    outbox_open(&outbox, &loop, store, &clock, &config) < 0)
		return 1;
	time_notices(outbox, 1, 0); /* the warm-up: its child holds the slot until the end */
	for (unsigned run = 0; run < runs; run++) {
		ban_ns[run] = time_bans(store, notices, run * notices + 1);
		notice_ns[run] = time_notices(outbox, notices, (int64_t)run * notices + 1);
	}
	summarize(notice_ns, runs, &notice);
	summarize(ban_ns, runs, &ban);
	snprintf(ratio, sizeof(ratio), "%.2fx a ban's own commit", notice.median / ban.median);
	snprintf(figures, sizeof(figures),
	         "notice (render 3 backends + commit): %.0f us median; ban record: %.0f us median",
	         notice.median / 1000, ban.median / 1000);
	snprintf(sizes, sizeof(sizes), "%u notices and bans per run, %u runs", notices, runs);
	row_print("notice_enqueue", ratio, figures, sizes);
	outbox_close(outbox);
	store_close(store);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	return system(path) == 0 ? 0 : 1;
}
