/*
 * Tickets opened per second under a burst of bans from many sources: each
 * ban is recorded (store_record, the path every ban takes) and then filed
 * (ticket_file: routing, the open-ticket lookup, the ticket, event and
 * notice in one transaction). The reference, in the same run and on the
 * same disk, is recording the bans alone: the ratio says what tickets add
 * to each ban. A second pass files a second offence of every source, which
 * adds to the open ticket instead of opening one.
 *
 *   bench_tickets [--sources N] [--customers C] [--runs R]
 *
 * Works in a scratch directory under $TMPDIR (/tmp) that it removes.
 * Prints one row (see bench.h).
 */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "config.h"
#include "detect.h"
#include "log.h"
#include "store.h"
#include "ticket.h"

#define RUNS_MAX 20
#define BAN_MS   (3600 * 1000LL)
#define T0_MS    1767225600000LL

static char directory[PATH_MAX];

static void __attribute__((noreturn)) usage(void)
{
	fprintf(stderr, "usage: bench_tickets [--sources N] [--customers C] [--runs R]\n");
	exit(2);
}

static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static void
remove_directory(void)
{
	if (directory[0] != '\0')
		nftw(directory, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* C customers, the i-th holding 10.0.i.0/24. */
static void
add_customers(struct config *config, unsigned count)
{
	for (unsigned i = 0; i < count && i < CONFIG_MAX_CUSTOMERS; i++) {
		struct customer *customer = &config->customers[i];
		char text[32];

		snprintf(customer->id, sizeof(customer->id), "c-%u", 1000 + i);
		snprintf(customer->contact, sizeof(customer->contact), "abuse@c%u.example", i);
		snprintf(text, sizeof(text), "10.0.%u.0/24", i);
		if (prefix_parse(text, &customer->prefixes[0]) < 0)
			exit(2);
		customer->prefix_count = 1;
		config->customer_count++;
	}
}

/* The index-th source: 10.0.c.n, spread over the customers' /24s. */
static void
offence_of(uint32_t index, unsigned customers, int64_t now_ms, struct finding *finding,
           struct offence *offence, struct ban *ban)
{
	unsigned char address[4] = {10, 0, (unsigned char)(index % customers),
	                            (unsigned char)(index / customers)};

	memset(finding, 0, sizeof(*finding));
	source_from_addr(SOURCE_FAMILY_IPV4, address, 64, &finding->source);
	finding->category = CATEGORY_SPAM;
	finding->time_ms = now_ms;
	memset(offence, 0, sizeof(*offence));
	offence->source = finding->source;
	offence->category = CATEGORY_SPAM;
	offence->time_ms = now_ms;
	snprintf(offence->detail, sizeof(offence->detail), "30 SMTP attempts to 15 hosts");
	memset(ban, 0, sizeof(*ban));
	ban->source = finding->source;
	ban->category = CATEGORY_SPAM;
	ban->scope = SCOPE_SMTP;
	ban->start_ms = now_ms;
	ban->expires_ms = now_ms + BAN_MS;
}

/*
 * One pass over every source into a fresh store: bans recorded, and filed
 * when tickets is set (twice when repeat). Seconds per ban filed.
 */
static double
pass(const struct config *config, unsigned sources, bool tickets_on, bool repeat, int run)
{
	struct clock clock;
	struct tickets tickets;
	struct store *store;
	char path[PATH_MAX + 32];
	uint64_t started;
	unsigned rounds = repeat ? 2 : 1;

	snprintf(path, sizeof(path), "%s/run%d-%d%d.db", directory, run, tickets_on, repeat);
	if (store_open(&store, path) < 0)
		exit(1);
	clock_init_fixed(&clock, T0_MS);
	tickets_init(&tickets, config, &clock, store);
	started = monotonic_ns();
	for (unsigned round = 0; round < rounds; round++)
		for (uint32_t i = 0; i < sources; i++) {
			struct finding finding;
			struct offence offence;
			struct ban ban;

			clock_set(&clock, T0_MS + (int64_t)round * 60000 + i);
			offence_of(i, config->customer_count, clock_now_ms(&clock), &finding,
			           &offence, &ban);
			if (store_record(store, &offence, &ban) < 0 ||
			    (tickets_on &&
			     ticket_file(&tickets, &finding, &offence, &ban, NULL, NULL) < 0))
				exit(1);
		}
	store_close(store);
	if (tickets_on && tickets.stats.opened != sources) {
		fprintf(stderr, "bench_tickets: %llu tickets opened for %u sources\n",
		        (unsigned long long)tickets.stats.opened, sources);
		exit(1);
	}
	return (double)(monotonic_ns() - started) / 1e9 / (sources * rounds);
}

int
main(int argc, char *argv[])
{
	static const struct option options[] = {
	    {"sources", required_argument, NULL, 's'},
	    {"customers", required_argument, NULL, 'c'},
	    {"runs", required_argument, NULL, 'r'},
	    {NULL, 0, NULL, 0},
	};
	static struct config config;
	double reference[RUNS_MAX], opened[RUNS_MAX], added[RUNS_MAX];
	struct summary ref_summary, open_summary, add_summary;
	unsigned sources = 2000, customers = 256, runs = 3;
	char ratio[64], figures[256], sizes[128];
	const char *tmp = getenv("TMPDIR");
	int option;

	while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (option) {
		case 's':
			sources = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'c':
			customers = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'r':
			runs = (unsigned)strtoul(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	if (sources == 0 || runs == 0 || runs > RUNS_MAX || customers == 0 || customers > 256 ||
	    sources > customers * 256)
		usage();
	log_init(1, 0, "bench_tickets");
	snprintf(directory, sizeof(directory), "%s/bench_tickets.XXXXXX",
	         tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	if (mkdtemp(directory) == NULL) {
		perror(directory);
		return 1;
	}
	atexit(remove_directory);
	config_defaults(&config);
	add_customers(&config, customers);
	/* Interleaved, so that a change in the machine's load hits all three alike. */
	for (unsigned run = 0; run < runs; run++) {
		reference[run] = pass(&config, sources, false, false, (int)run);
		opened[run] = pass(&config, sources, true, false, (int)run);
		added[run] = pass(&config, sources, true, true, (int)run);
	}
	summarize(reference, runs, &ref_summary);
	summarize(opened, runs, &open_summary);
	summarize(added, runs, &add_summary);
	snprintf(ratio, sizeof(ratio), "%.2fx the time of recording the ban alone",
	         open_summary.median / ref_summary.median);
	snprintf(figures, sizeof(figures),
	         "%.0f tickets/s opened (ban recorded and ticket filed); %.0f bans/s recorded "
	         "alone; %.0f filings/s with a second offence per source added to its open "
	         "ticket",
	         1 / open_summary.median, 1 / ref_summary.median, 1 / add_summary.median);
	snprintf(sizes, sizeof(sizes), "%u sources, %u customers (/24 each), median of %u runs",
	         sources, customers, runs);
	row_print("Tickets opened under a ban burst", ratio, figures, sizes);
	return 0;
}
