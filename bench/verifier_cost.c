/*
 * What the verifier pays for abuseguard's BPF programs: for each program,
 * the instructions it processed while proving the program safe (the kernel
 * refuses a program past 1,000,000 with E2BIG), its peak and total states,
 * the stack of each function (512 bytes for a whole call chain) and the
 * program's size, once as the daemon loads it live and once with
 * the replay clock (replay and the tests).
 *
 *   verifier_cost
 *
 * Prints the figures per program, then one row (see bench.h): the largest
 * count as a share of the kernel's limit. Needs root.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

/* The skeletons name the shared structs: their definitions come first. */
#include "abuseguard/abuseguard.h"
#include "abuseguard.skel.h"
#include "bench.h"

#define VERIFIER_LIMIT 1000000 /* BPF_COMPLEXITY_LIMIT_INSNS */
#define LOG_BYTES      (64 * 1024)
#define PROGRAMS_MAX   8

struct program_cost {
	char name[64];
	unsigned verified;
	unsigned instructions;
	char states[256]; /* the verifier's own summary line */
};

/* The verifier's "processed N insns ..." and "stack depth A+B" lines, on one line. */
static void
log_summary(const char *log, char *out, size_t size)
{
	const char *processed = strstr(log, "processed "), *stack = strstr(log, "stack depth ");

	snprintf(out, size, "%.*s; %.*s", processed ? (int)strcspn(processed, "\n") : 0,
	         processed ? processed : "", stack ? (int)strcspn(stack, "\n") : 0,
	         stack ? stack : "");
}

/* Loads every program with the clock given; fills costs, returns how many or -errno. */
static int
programs_measure(int replay_clock, struct program_cost *costs, char logs[][LOG_BYTES])
{
	struct abuseguard_bpf *skeleton = abuseguard_bpf__open();
	struct bpf_prog_info info;
	struct bpf_program *program;
	__u32 info_length;
	int count = 0, error;

	if (skeleton == NULL) {
		error = -errno;
		fprintf(stderr, "verifier_cost: open abuseguard program: %s\n", strerror(errno));
		return error;
	}
	skeleton->rodata->replay_clock = (__u8)replay_clock;
	bpf_object__for_each_program(program, skeleton->obj)
	{
		if (count == PROGRAMS_MAX)
			break;
		logs[count][0] = '\0';
		/* Level 4: statistics only, small enough for any program. */
		bpf_program__set_log_buf(program, logs[count], LOG_BYTES);
		bpf_program__set_log_level(program, 4);
		count++;
	}
	error = abuseguard_bpf__load(skeleton);
	if (error) {
		fprintf(stderr, "verifier_cost: load (replay clock %d): %s\n", replay_clock,
		        strerror(-error));
		for (int i = 0; i < count; i++)
			fprintf(stderr, "%.2000s\n", logs[i]);
		abuseguard_bpf__destroy(skeleton);
		return error;
	}
	count = 0;
	bpf_object__for_each_program(program, skeleton->obj)
	{
		if (count == PROGRAMS_MAX)
			break;
		memset(&info, 0, sizeof(info));
		info_length = sizeof(info);
		snprintf(costs[count].name, sizeof(costs[count].name), "%s",
		         bpf_program__name(program));
		if (bpf_obj_get_info_by_fd(bpf_program__fd(program), &info, &info_length) == 0) {
			costs[count].verified = info.verified_insns;
			costs[count].instructions = info.xlated_prog_len / 8;
		}
		log_summary(logs[count], costs[count].states, sizeof(costs[count].states));
		count++;
	}
	abuseguard_bpf__destroy(skeleton);
	return count;
}

int
main(void)
{
	static char logs[PROGRAMS_MAX][LOG_BYTES];
	struct program_cost costs[PROGRAMS_MAX];
	unsigned largest = 0;
	char figures[512] = "";
	size_t used = 0;
	int count;

	libbpf_set_print(NULL);
	for (int replay_clock = 0; replay_clock <= 1; replay_clock++) {
		count = programs_measure(replay_clock, costs, logs);
		if (count < 0)
			return 1;
		for (int i = 0; i < count; i++) {
			printf("%-22s %-6s verified %7u insns, %5u insns long; %s\n", costs[i].name,
			       replay_clock ? "replay" : "live", costs[i].verified,
			       costs[i].instructions, costs[i].states);
			if (costs[i].verified > largest)
				largest = costs[i].verified;
			if (!replay_clock && used < sizeof(figures))
				used += (size_t)snprintf(figures + used, sizeof(figures) - used,
				                         "%s%s %u", used ? ", " : "", costs[i].name,
				                         costs[i].verified);
		}
	}
	printf("row\tBPF verifier cost\t%.2fx the verifier's limit of %d insns (largest "
	       "program)\tverified insns, live: %s\teach program loaded with the live and the "
	       "replay clock\n",
	       (double)largest / VERIFIER_LIMIT, VERIFIER_LIMIT, figures);
	return 0;
}
