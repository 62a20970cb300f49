/*
 * How fast bans reach nftables: the daemon's path (ban_install_many, one
 * netlink transaction in as few batches as fit) against what log-based
 * banning tools do (one "nft add element" command per ban) and against the
 * command line's best (one "nft -f" file holding every element). Also the
 * latency of a single ban_install.
 *
 *   bench_nft [--bans N] [--calls C] [--latency L] [--runs R]
 *
 * Runs in a private network namespace of its own (unshare), so its table
 * vanishes with the process. Prints one row (see bench.h). Needs root.
 */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "log.h"
#include "nft.h"
#include "source.h"

#define TABLE             "abuseguard"
#define SET               "ban4_smtp"
#define BAN_MS            (3600 * 1000)
#define ELEMENTS_PER_LINE 1000
#define RUNS_MAX          100
#define TEXT_BYTES        1024

extern char **environ;

static void __attribute__((noreturn)) usage(void)
{
	fprintf(stderr, "usage: bench_nft [--bans N] [--calls C] [--latency L] [--runs R]\n");
	exit(2);
}

/* The index-th ban: 10.x.y.z, the same sources on every path. */
static void
ban_source(uint32_t index, struct source_key *out)
{
	unsigned char address[4] = {10, (unsigned char)(index >> 16), (unsigned char)(index >> 8),
	                            (unsigned char)index};

	source_from_addr(SOURCE_FAMILY_IPV4, address, 64, out);
}

static void
ban_text(uint32_t index, char *out, size_t size)
{
	snprintf(out, size, "10.%u.%u.%u", (index >> 16) & 0xff, (index >> 8) & 0xff, index & 0xff);
}

/* A fresh table with empty sets, as the daemon creates it. */
static int
table_fresh(struct nft **nft)
{
	struct nft_options options = {.table = TABLE, .ipv6_prefix_len = 64};
	int error;

	if (*nft != NULL) {
		nft_destroy(*nft);
		nft_close(*nft);
		*nft = NULL;
	}
	error = nft_open(nft, &options);
	if (error < 0)
		fprintf(stderr, "bench_nft: nft_open: %s\n", strerror(-error));
	return error;
}

static int
count_ban(const struct nft_ban *ban, void *arg)
{
	(void)ban;
	(*(size_t *)arg)++;
	return 0;
}

static size_t
kernel_ban_count(struct nft *nft)
{
	size_t count = 0;

	if (ban_list(nft, count_ban, &count) < 0)
		return 0;
	return count;
}

/* Runs a command and waits; 0 when it exited with status 0. */
static int
command_run(char *const argv[])
{
	int status;
	pid_t pid;

	if (posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ) != 0)
		return -errno;
	if (waitpid(pid, &status, 0) != pid)
		return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

static int
nft_file_write(const char *path, uint32_t count)
{
	FILE *file = fopen(path, "w");
	char address[32];

	if (file == NULL)
		return -errno;
	for (uint32_t i = 0; i < count; i++) {
		if (i % ELEMENTS_PER_LINE == 0)
			fprintf(file, "%sadd element inet %s %s { ", i ? " }\n" : "", TABLE, SET);
		else
			fputs(", ", file);
		ban_text(i, address, sizeof(address));
		fprintf(file, "%s timeout %ds", address, BAN_MS / 1000);
	}
	fputs(count ? " }\n" : "", file);
	return fclose(file) == 0 ? 0 : -errno;
}

struct results {
	double many_ms[RUNS_MAX], file_ms[RUNS_MAX];
	size_t many_count, file_count; /* elements the kernel held afterwards */
	double *call_ms, *latency_us;
};

static int
measure(struct results *results, uint32_t bans, uint32_t calls, uint32_t latency, unsigned runs)
{
	char path[] = "/tmp/bench_nft.XXXXXX", address[32], element[64];
	char *file_argv[] = {"nft", "-f", path, NULL};
	char *call_argv[] = {"nft", "add", "element", "inet", TABLE, SET, element, NULL};
	struct nft_ban *list = calloc(bans, sizeof(*list));
	struct nft *nft = NULL;
	struct source_key source;
	uint64_t start;
	int fd, error = -EIO;

	if (list == NULL || (fd = mkstemp(path)) < 0) {
		free(list);
		return -ENOMEM;
	}
	close(fd);
	for (uint32_t i = 0; i < bans; i++) {
		ban_source(i, &list[i].source);
		list[i].scope = SCOPE_SMTP;
		list[i].remaining_ms = BAN_MS;
	}
	if (nft_file_write(path, bans) != 0)
		goto out;
	/* The paths take turns within each run, so drift hits them alike. */
	for (unsigned run = 0; run < runs; run++) {
		if (table_fresh(&nft) < 0)
			goto out;
		start = monotonic_ns();
		if (ban_install_many(nft, list, bans) < 0)
			goto out;
		results->many_ms[run] = (monotonic_ns() - start) / 1e6;
		results->many_count = kernel_ban_count(nft);
		if (table_fresh(&nft) < 0)
			goto out;
		start = monotonic_ns();
		if (command_run(file_argv) != 0) {
			fprintf(stderr, "bench_nft: nft -f %s failed\n", path);
			goto out;
		}
		results->file_ms[run] = (monotonic_ns() - start) / 1e6;
		results->file_count = kernel_ban_count(nft);
	}
	if (table_fresh(&nft) < 0)
		goto out;
	for (uint32_t i = 0; i < calls; i++) {
		ban_text(i, address, sizeof(address));
		snprintf(element, sizeof(element), "{ %s timeout %ds }", address, BAN_MS / 1000);
		start = monotonic_ns();
		if (command_run(call_argv) != 0) {
			fprintf(stderr, "bench_nft: nft add element %s failed\n", element);
			goto out;
		}
		results->call_ms[i] = (monotonic_ns() - start) / 1e6;
	}
	if (table_fresh(&nft) < 0)
		goto out;
	for (uint32_t i = 0; i < latency; i++) {
		ban_source(i, &source);
		start = monotonic_ns();
		if (ban_install(nft, &source, SCOPE_SMTP, BAN_MS) < 0)
			goto out;
		results->latency_us[i] = (monotonic_ns() - start) / 1e3;
	}
	error = 0;
out:
	if (nft != NULL) {
		nft_destroy(nft);
		nft_close(nft);
	}
	unlink(path);
	free(list);
	return error;
}

static void
report(struct results *results, uint32_t bans, uint32_t calls, uint32_t latency, unsigned runs)
{
	struct summary many, file, call, single;
	char ratio[TEXT_BYTES], figures[2 * TEXT_BYTES], sizes[TEXT_BYTES];
	double call_total_ms = 0, many_rate, file_rate, call_rate;

	for (uint32_t i = 0; i < calls; i++)
		call_total_ms += results->call_ms[i];
	summarize(results->many_ms, runs, &many);
	summarize(results->file_ms, runs, &file);
	summarize(results->call_ms, calls, &call);
	summarize(results->latency_us, latency, &single);
	many_rate = bans / (many.median / 1e3);
	file_rate = bans / (file.median / 1e3);
	call_rate = calls / (call_total_ms / 1e3);
	snprintf(ratio, sizeof(ratio),
	         "%.0fx one nft command per ban; %.2fx one nft -f file (targets >= 100x, >= 1x)",
	         many_rate / call_rate, many_rate / file_rate);
	snprintf(
	    figures, sizeof(figures),
	    "ban_install_many: %u bans in %.1f ms (%.1f-%.1f) = %.0f bans/s, %zu in the set; "
	    "nft -f file: %.1f ms (%.1f-%.1f) = %.0f bans/s, %zu in the set; nft add "
	    "element per ban: %.2f ms per call (%.2f-%.2f) = %.0f bans/s, %u bans would take "
	    "%.0f s (extrapolated from %u calls); single ban_install: median %.0f us, p99 %.0f "
	    "us, max %.0f us (target < 1 ms)",
	    bans, many.median, many.minimum, many.maximum, many_rate, results->many_count,
	    file.median, file.minimum, file.maximum, file_rate, results->file_count, call.median,
	    call.minimum, call.maximum, call_rate, bans, bans / call_rate, calls, single.median,
	    single.p99, single.maximum);
	snprintf(sizes, sizeof(sizes),
	         "%u IPv4 bans into the empty ban4_smtp set, 1 h timeouts, in a private network "
	         "namespace; %u runs of ban_install_many and nft -f, median (min-max); %u nft "
	         "commands; %u ban_install calls",
	         bans, runs, calls, latency);
	row_print("Ban installation", ratio, figures, sizes);
}

int
main(int argc, char **argv)
{
	static const struct option options[] = {
	    {"bans", required_argument, NULL, 'b'},
	    {"calls", required_argument, NULL, 'c'},
	    {"latency", required_argument, NULL, 'l'},
	    {"runs", required_argument, NULL, 'r'},
	    {NULL, 0, NULL, 0},
	};
	uint32_t bans = 100000, calls = 1000, latency = 1000;
	unsigned runs = 3;
	struct results results = {0};
	int option, error;

	while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (option) {
		case 'b':
			bans = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'c':
			calls = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'l':
			latency = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'r':
			runs = (unsigned)strtoul(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	if (bans == 0 || bans > (1u << 24) || calls == 0 || calls > bans || latency == 0 ||
	    latency > bans || runs == 0 || runs > RUNS_MAX)
		usage();
	log_init(1, 0, "bench_nft");
	if (unshare(CLONE_NEWNET) != 0) {
		perror("bench_nft: unshare(CLONE_NEWNET)");
		return 1;
	}
	results.call_ms = calloc(calls, sizeof(double));
	results.latency_us = calloc(latency, sizeof(double));
	if (results.call_ms == NULL || results.latency_us == NULL)
		return 1;
	error = measure(&results, bans, calls, latency, runs);
	if (error == 0)
		report(&results, bans, calls, latency, runs);
	free(results.call_ms);
	free(results.latency_us);
	return error == 0 ? 0 : 1;
}
