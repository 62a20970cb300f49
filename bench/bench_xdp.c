/*
 * What the XDP program costs per packet, measured with BPF_PROG_TEST_RUN
 * (the kernel times the program itself, no traffic is sent).
 *
 *   bench_xdp mix [--repeat N] [--runs R] [--xdp-filter-id ID --xdp-filter-rules TEXT |
 *		   --xdp-filter-missing WHY] [--addresses-unknown]
 *	A mix of frames through abuseguard's program, the empty program and,
 *	by its id, xdp-filter's program loaded elsewhere with a rule set. The
 *	VM's addresses are configured, as the daemon knows a VM once it is
 *	configured or its first ARP or NDP is seen; --addresses-unknown runs
 *	the mix before that, every source unverified.
 *   bench_xdp sources [--sizes 1000,100000,1000000] [--passes P]
 *	SMTP SYNs from that many distinct sources (bench/source_driver.bpf.c
 *	feeds them), the LRU maps sized to match as the daemon sizes them, and
 *	the maps' memory.
 *   bench_xdp flood [--sources N] [--passes P]
 *	What a VM's flood of SMTP SYNs from N random sources (per family)
 *	costs per packet, on an interface whose addresses are known (every
 *	packet spoofed) and on one with none known yet (the interface's quota),
 *	against the same VM's honest SYNs from its own address, all fed by the
 *	driver, and the empty program fed the same way.
 *
 * Prints one row (see bench.h). Needs root.
 */
#include <errno.h>
#include <stdbool.h>
#include <getopt.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

/* The skeletons name the shared structs: their definitions come first. */
#include "abuseguard/abuseguard.h"
#include "abuseguard.skel.h"
#include "empty.skel.h"
#include "bench/lru_floor.skel.h"
#include "bench/source_driver.skel.h"
#include "bench.h"
#include "capture.h"
#include "config.h"
#include "vm.h"

#define SIZES_MAX       8
#define TEXT_BYTES      1024
#define MIX_COUNT       mix_count
#define REPLY_MIX_COUNT reply_mix_count
#define MIX_FRAMES_MAX  (MIX_COUNT > REPLY_MIX_COUNT ? MIX_COUNT : REPLY_MIX_COUNT)

struct built_frame {
	unsigned char bytes[FRAME_BYTES_MAX];
	size_t length;
};

static void __attribute__((noreturn)) usage(void)
{
	fprintf(stderr,
	        "usage: bench_xdp mix [--repeat N] [--runs R] [--xdp-filter-id ID "
	        "--xdp-filter-rules TEXT | --xdp-filter-missing WHY] [--addresses-unknown]\n"
	        "       bench_xdp sources [--sizes N,N,...] [--passes P]\n"
	        "       bench_xdp flood [--sources N] [--passes P]\n");
	exit(2);
}

static int
test_run(int prog_fd, const struct built_frame *frame, unsigned repeat, uint32_t *duration_ns)
{
	LIBBPF_OPTS(bpf_test_run_opts, options, .data_in = frame->bytes,
	            .data_size_in = (uint32_t)frame->length, .repeat = repeat);
	int error;

	error = bpf_prog_test_run_opts(prog_fd, &options);
	if (error < 0) {
		fprintf(stderr, "bench_xdp: BPF_PROG_TEST_RUN: %s\n", strerror(-error));
		return error;
	}
	*duration_ns = options.duration;
	return 0;
}

/* Loads abuseguard's programs as daemon/capture.c does, with this policy's sizes and limits. */
static struct abuseguard_bpf *
abuseguard_load(const struct config *config)
{
	struct abuseguard_bpf *skeleton = abuseguard_bpf__open();

	if (skeleton == NULL) {
		fprintf(stderr, "bench_xdp: open abuseguard program: %s\n", strerror(errno));
		return NULL;
	}
	if (capture_skeleton_prepare(skeleton, config, false) != 0 ||
	    abuseguard_bpf__load(skeleton) != 0) {
		fprintf(stderr, "bench_xdp: load abuseguard program: %s\n", strerror(errno));
		abuseguard_bpf__destroy(skeleton);
		return NULL;
	}
	return skeleton;
}

static int
mix_build(const struct mix_frame *kinds, size_t count, struct built_frame *frames)
{
	for (size_t i = 0; i < count; i++)
		if ((frames[i].length = mix_frame_build(&kinds[i], 0, frames[i].bytes)) == 0)
			return -EINVAL;
	return 0;
}

/*
 * The weighted mean cost of a mix, in ns per packet; the cost of the frame of
 * kinds[i] goes to frame_ns[i * stride], stride being the number of runs.
 */
static int
mix_run(int prog_fd, const struct mix_frame *kinds, const struct built_frame *frames, size_t count,
        unsigned repeat, double *frame_ns, size_t stride, double *out)
{
	double weighted = 0, weights = 0;
	uint32_t duration;

	for (size_t i = 0; i < count; i++) {
		if (test_run(prog_fd, &frames[i], repeat, &duration) != 0)
			return -EIO;
		frame_ns[i * stride] = duration;
		weighted += (double)kinds[i].weight * duration;
		weights += kinds[i].weight;
	}
	*out = weighted / weights;
	return 0;
}

/* Where the time goes, in the log: each frame's median over the runs, as mix_run left them. */
static void
mix_frames_print(const char *name, const struct mix_frame *kinds, size_t count, double *frame_ns,
                 unsigned runs)
{
	struct summary summary;

	for (size_t i = 0; i < count; i++) {
		summarize(frame_ns + i * runs, runs, &summary);
		fprintf(stderr,
		        "%s: frame %zu (%s -> %s, protocol %d, port %u, TCP flags %#x, VLAN %u, "
		        "%u%% of the mix): %.0f ns (%.0f-%.0f)\n",
		        name, i, kinds[i].source, kinds[i].destination, kinds[i].protocol,
		        kinds[i].port, kinds[i].tcp_flags, kinds[i].vlan_id, kinds[i].weight,
		        summary.median, summary.minimum, summary.maximum);
	}
}

static void
summary_text(const char *name, const struct summary *summary, char *out, size_t size)
{
	snprintf(out, size, "%s %.1f ns (%.1f-%.1f)", name, summary->median, summary->minimum,
	         summary->maximum);
}

static uint64_t
counter_sum(struct abuseguard_bpf *skeleton, uint32_t counter)
{
	int cpus = libbpf_num_possible_cpus();
	uint64_t values[cpus > 0 ? cpus : 1], sum = 0;

	if (cpus <= 0 ||
	    bpf_map_lookup_elem(bpf_map__fd(skeleton->maps.counters), &counter, values) != 0)
		return 0;
	for (int cpu = 0; cpu < cpus; cpu++)
		sum += values[cpu];
	return sum;
}

/* The loopback's ifindex: BPF_PROG_TEST_RUN hands XDP its packets as arriving there. */
#define TEST_RUN_INTERFACE "lo"

/* Configures the test run's interface with these addresses, as an operator would. */
static int
own_addresses(struct abuseguard_bpf *skeleton, const char *const *owned, unsigned count)
{
	struct vm_address addresses[count];
	struct vm vm = {.addresses = addresses, .address_count = count};

	for (unsigned i = 0; i < count; i++) {
		if (prefix_parse(owned[i], &addresses[i].prefix) < 0)
			return -EINVAL;
		addresses[i].origin = VM_ORIGIN_OPERATOR;
	}
	return capture_vm_maps_sync(skeleton, (int)if_nametoindex(TEST_RUN_INTERFACE), &vm, false);
}

/* The mix's own sources, as the daemon knows a VM once configured or learned. */
static const char *const mix_owned[] = {"10.0.0.5", "fd00:5::/64"};

/* The programs of the mix benchmark, in the order they take turns. */
enum mix_program {
	MIX_OURS_XDP,
	MIX_EMPTY_XDP,
	MIX_OURS_TC,
	MIX_EMPTY_TC,
	MIX_XDP_FILTER,
	MIX_PROGRAMS
};

static int
bench_mix(unsigned repeat, unsigned runs, int xdp_filter_id, const char *xdp_filter_missing,
          const char *xdp_filter_rules, bool addresses_known)
{
	static const char *const names[MIX_PROGRAMS] = {
	    [MIX_OURS_XDP] = "abuseguard XDP", [MIX_EMPTY_XDP] = "empty XDP",
	    [MIX_OURS_TC] = "abuseguard tc",   [MIX_EMPTY_TC] = "empty tc",
	    [MIX_XDP_FILTER] = "xdp-filter",
	};
	struct built_frame frames[MIX_COUNT], replies[REPLY_MIX_COUNT];
	struct abuseguard_bpf *abuseguard = NULL;
	struct empty_bpf *empty = NULL;
	struct config config;
	int programs[MIX_PROGRAMS], program_count = MIX_XDP_FILTER, error = -EIO;
	double *costs[MIX_PROGRAMS] = {NULL}, *frame_ns[MIX_PROGRAMS] = {NULL};
	struct summary summaries[MIX_PROGRAMS];
	char ratio[TEXT_BYTES], figures[TEXT_BYTES], sizes[TEXT_BYTES], text[MIX_PROGRAMS][256];
	unsigned smtp_weight = 0;
	size_t used = 0;
	double ours_net, filter_net;

	config_defaults(&config);
	if (mix_build(mix, MIX_COUNT, frames) != 0 ||
	    mix_build(reply_mix, REPLY_MIX_COUNT, replies) != 0)
		return -EINVAL;
	abuseguard = abuseguard_load(&config);
	empty = empty_bpf__open_and_load();
	if (abuseguard == NULL || empty == NULL) {
		fprintf(stderr, "bench_xdp: cannot load the programs\n");
		goto out;
	}
	if (addresses_known &&
	    own_addresses(abuseguard, mix_owned, sizeof(mix_owned) / sizeof(mix_owned[0])) != 0) {
		fprintf(stderr, "bench_xdp: cannot give %s the mix's addresses\n",
		        TEST_RUN_INTERFACE);
		goto out;
	}
	programs[MIX_OURS_XDP] = bpf_program__fd(abuseguard->progs.abuseguard_xdp);
	programs[MIX_EMPTY_XDP] = bpf_program__fd(empty->progs.empty_xdp);
	programs[MIX_OURS_TC] = bpf_program__fd(abuseguard->progs.abuseguard_tc);
	programs[MIX_EMPTY_TC] = bpf_program__fd(empty->progs.empty_tc);
	if (xdp_filter_id > 0) {
		programs[MIX_XDP_FILTER] = bpf_prog_get_fd_by_id((uint32_t)xdp_filter_id);
		if (programs[MIX_XDP_FILTER] < 0) {
			fprintf(stderr, "bench_xdp: xdp-filter program %d: %s\n", xdp_filter_id,
			        strerror(errno));
			xdp_filter_missing = "its program id could not be opened";
		} else {
			program_count = MIX_PROGRAMS;
		}
	}
	for (int p = 0; p < program_count; p++)
		if ((costs[p] = calloc(runs, sizeof(double))) == NULL ||
		    (frame_ns[p] = calloc((size_t)runs * MIX_FRAMES_MAX, sizeof(double))) == NULL)
			goto out;
	/*
	 * The programs take turns within each run, so drift hits them alike;
	 * the XDP programs run the VM's mix, the tc ones the replies to it.
	 */
	for (unsigned run = 0; run < runs; run++)
		for (int p = 0; p < program_count; p++) {
			int tc = p == MIX_OURS_TC || p == MIX_EMPTY_TC;

			if (mix_run(programs[p], tc ? reply_mix : mix, tc ? replies : frames,
			            tc ? REPLY_MIX_COUNT : MIX_COUNT, repeat, frame_ns[p] + run,
			            runs, &costs[p][run]) != 0)
				goto out;
		}
	for (int p = 0; p < program_count; p++) {
		int tc = p == MIX_OURS_TC || p == MIX_EMPTY_TC;

		mix_frames_print(names[p], tc ? reply_mix : mix, tc ? REPLY_MIX_COUNT : MIX_COUNT,
		                 frame_ns[p], runs);
	}
	/* The replies were seen as the outcomes of the mix's first contacts. */
	if (counter_sum(abuseguard, COUNTER_SCAN_ANSWERED) == 0 ||
	    counter_sum(abuseguard, COUNTER_SCAN_REJECTED) == 0) {
		fprintf(stderr,
		        "bench_xdp: the tc program settled no first contact of the mix "
		        "(answered %llu, rejected %llu)\n",
		        (unsigned long long)counter_sum(abuseguard, COUNTER_SCAN_ANSWERED),
		        (unsigned long long)counter_sum(abuseguard, COUNTER_SCAN_REJECTED));
		goto out;
	}
	for (int p = 0; p < program_count; p++) {
		summarize(costs[p], runs, &summaries[p]);
		summary_text(names[p], &summaries[p], text[p], sizeof(text[p]));
		used += (size_t)snprintf(figures + used, sizeof(figures) - used, "%s%s",
		                         p ? "; " : "", text[p]);
	}
	/* Each program net of the empty program of its own kind: the test run's loop. */
	ours_net = summaries[MIX_OURS_XDP].median - summaries[MIX_EMPTY_XDP].median +
	           summaries[MIX_OURS_TC].median - summaries[MIX_EMPTY_TC].median;
	if (program_count == MIX_PROGRAMS) {
		filter_net = summaries[MIX_XDP_FILTER].median - summaries[MIX_EMPTY_XDP].median;
		snprintf(
		    ratio, sizeof(ratio),
		    "XDP + tc net of the empty programs %.2fx xdp-filter's net (target <= 0.5x); "
		    "XDP alone %.2fx the empty program, %.2fx xdp-filter",
		    ours_net / filter_net,
		    summaries[MIX_OURS_XDP].median / summaries[MIX_EMPTY_XDP].median,
		    summaries[MIX_OURS_XDP].median / summaries[MIX_XDP_FILTER].median);
		snprintf(figures + used, sizeof(figures) - used,
		         "; net: abuseguard XDP + tc %.1f ns, xdp-filter %.1f ns", ours_net,
		         filter_net);
	} else {
		snprintf(
		    ratio, sizeof(ratio),
		    "XDP alone %.2fx the empty program (target <= 2x); xdp-filter not measured: %s",
		    summaries[MIX_OURS_XDP].median / summaries[MIX_EMPTY_XDP].median,
		    xdp_filter_missing ? xdp_filter_missing : "no program id given");
		snprintf(figures + used, sizeof(figures) - used,
		         "; net: abuseguard XDP + tc %.1f ns", ours_net);
	}
	for (size_t i = 0; i < MIX_COUNT; i++)
		if (mix[i].protocol == IPPROTO_TCP && mix[i].port == SMTP_PORT)
			smtp_weight += mix[i].weight;
	snprintf(sizes, sizeof(sizes),
	         "XDP: %zu-frame mix from the VM (IPv4/IPv6, TCP SYN/ACK/data, UDP, VLAN, %u%% "
	         "SMTP SYNs); tc: %zu-frame mix toward it (data, acks, UDP replies, SYN-ACK, RST, "
	         "ICMP/ICMPv6 port unreachable, VLAN); weighted ns/packet, repeat %u per frame, "
	         "%u runs, median (min-max); %s%s%s",
	         MIX_COUNT, smtp_weight, REPLY_MIX_COUNT, repeat, runs,
	         addresses_known ? "the VM's addresses configured (10.0.0.5, fd00:5::/64)"
	                         : "no address of the VM known (every source unverified)",
	         program_count == MIX_PROGRAMS ? "; xdp-filter: " : "",
	         program_count == MIX_PROGRAMS ? xdp_filter_rules : "");
	row_print("XDP + tc cost per packet", ratio, figures, sizes);
	error = 0;
out:
	for (int p = 0; p < MIX_PROGRAMS; p++) {
		free(costs[p]);
		free(frame_ns[p]);
	}
	if (program_count == MIX_PROGRAMS)
		close(programs[MIX_XDP_FILTER]);
	abuseguard_bpf__destroy(abuseguard);
	empty_bpf__destroy(empty);
	return error;
}

/* Memory the kernel charges for a map, as "bpftool map show" prints it. */
static long long
map_memlock(int map_fd)
{
	char path[64], line[256];
	long long bytes = -1;
	FILE *file;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", map_fd);
	if ((file = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), file) != NULL)
		if (sscanf(line, "memlock: %lld", &bytes) == 1)
			break;
	fclose(file);
	return bytes;
}

/*
 * The frame the driver rewrites: an SMTP SYN whose source number sits in
 * frame bytes 26 to 29 for both families (IPv4: the last three bytes of
 * 10.x.y.z; IPv6: bytes 4 to 7 of the address, inside the /64).
 */
#define DRIVER_ADDRESS_OFFSET       26
#define STEADY_PACKETS_MIN          100000
#define INTERFACE_SOURCES_UNBOUNDED (1u << 30)

static void
smtp_syn_frame(int family, struct built_frame *frame)
{
	struct frame_spec spec = {
	    .protocol = IPPROTO_TCP,
	    .source_port = 40000,
	    .destination_port = SMTP_PORT,
	    .tcp_flags = TH_SYN,
	};

	if (family == AF_INET6)
		frame_set_addresses(&spec, "fd00::5", "2001:db8::25");
	else
		frame_set_addresses(&spec, "10.0.0.5", "192.0.2.25");
	frame->length = frame_build(&spec, frame->bytes);
}

/*
 * Mean ns per packet of repeat packets through target_fd, from count
 * sources of each family (half the packets each) in the given order.
 */
static int
driven_run(struct source_driver_bpf *driver, int target_fd, uint32_t count, uint32_t stride,
           uint32_t repeat, double *out)
{
	struct built_frame frame;
	uint32_t key = 0, duration;
	double total = 0;
	int families[2] = {AF_INET, AF_INET6};

	if (bpf_map_update_elem(bpf_map__fd(driver->maps.program_under_test), &key, &target_fd,
	                        BPF_ANY) != 0) {
		fprintf(stderr, "bench_xdp: program array: %s\n", strerror(errno));
		return -EIO;
	}
	for (int i = 0; i < 2; i++) {
		smtp_syn_frame(families[i], &frame);
		driver->bss->next_packet = 0;
		driver->bss->source_count = count;
		driver->bss->source_stride = stride;
		driver->bss->address_offset = DRIVER_ADDRESS_OFFSET;
		driver->bss->keep_first_byte = families[i] == AF_INET;
		if (test_run(bpf_program__fd(driver->progs.source_driver), &frame, repeat,
		             &duration) != 0)
			return -EIO;
		total += duration;
	}
	*out = total / 2;
	return 0;
}

static const char *
size_text(uint32_t size, char *out, size_t length)
{
	if (size >= 1000000 && size % 1000000 == 0)
		snprintf(out, length, "%uM", size / 1000000);
	else if (size >= 1000 && size % 1000 == 0)
		snprintf(out, length, "%uk", size / 1000);
	else
		snprintf(out, length, "%u", size);
	return out;
}

/* A stride coprime with count, so that i * stride % count visits every source. */
static uint32_t
scatter_stride(uint32_t count)
{
	uint32_t stride = 2654435761u % count;
	uint32_t a, b, t;

	for (;; stride++) {
		for (a = stride, b = count; b != 0; t = a % b, a = b, b = t)
			;
		if (a == 1)
			return stride;
	}
}

struct sources_result {
	uint32_t size;
	struct summary steady, lru;
	double fill, floor;
	long long sources_memlock, pairs_memlock, sources_memlock_loaded;
	uint64_t reinserted;
};

static uint32_t
steady_packets(uint32_t per_family)
{
	return per_family > STEADY_PACKETS_MIN ? per_family : STEADY_PACKETS_MIN;
}

/* The LRU floor's program with size entries, or NULL (said). */
static struct lru_floor_bpf *
lru_floor_load(uint32_t size)
{
	struct lru_floor_bpf *floor = lru_floor_bpf__open();

	if (floor == NULL || bpf_map__set_max_entries(floor->maps.floor_sources, size) != 0 ||
	    lru_floor_bpf__load(floor) != 0) {
		fprintf(stderr, "bench_xdp: load the LRU floor with %u entries: %s\n", size,
		        strerror(errno));
		lru_floor_bpf__destroy(floor);
		return NULL;
	}
	return floor;
}

/*
 * size sources: a first-sight pass inserts each once, then passes go round
 * them in a scattered order. The LRU floor (one lookup, an insert on a
 * miss, in a map of as many entries) and the empty program are driven the
 * same way, taking turns with abuseguard's program pass by pass.
 */
static int
sources_measure(struct source_driver_bpf *driver, int empty_fd, uint32_t size, unsigned passes,
                struct sources_result *result)
{
	struct abuseguard_bpf *skeleton;
	struct lru_floor_bpf *floor;
	struct config config;
	double costs[passes], lru[passes], lru_fill;
	uint32_t per_family = size / 2, stride = scatter_stride(per_family);
	int prog_fd, floor_fd, sources_fd, error = -EIO;

	/*
	 * Every per-source bound at the size; the interface's quotas of new
	 * sources and of pending probes out of the way (an LRU map evicts a
	 * little before it is full, and a source evicted takes the quota
	 * again). Past its pending quota a VM's SYNs are untracked probes,
	 * each one judged anew: the path of a scanner over quota, not of the
	 * per-source state this row measures.
	 */
	config_defaults(&config);
	config.limits.max_sources = size;
	config.limits.max_smtp_pairs = size;
	config.limits.max_scan_contacts = size;
	config.limits.interface_sources = INTERFACE_SOURCES_UNBOUNDED;
	config.limits.scan_pending_per_interface = 2 * size;
	skeleton = abuseguard_load(&config);
	floor = lru_floor_load(size);
	if (skeleton == NULL || floor == NULL)
		goto out;
	prog_fd = bpf_program__fd(skeleton->progs.abuseguard_xdp);
	floor_fd = bpf_program__fd(floor->progs.lru_floor);
	sources_fd = bpf_map__fd(skeleton->maps.sources);
	result->size = size;
	result->sources_memlock_loaded = map_memlock(sources_fd);
	if (driven_run(driver, prog_fd, per_family, 1, per_family, &result->fill) != 0 ||
	    driven_run(driver, floor_fd, per_family, 1, per_family, &lru_fill) != 0)
		goto out;
	for (unsigned pass = 0; pass < passes; pass++)
		if (driven_run(driver, prog_fd, per_family, stride, steady_packets(per_family),
		               &costs[pass]) != 0 ||
		    driven_run(driver, floor_fd, per_family, stride, steady_packets(per_family),
		               &lru[pass]) != 0)
			goto out;
	summarize(costs, passes, &result->steady);
	summarize(lru, passes, &result->lru);
	result->reinserted = counter_sum(skeleton, COUNTER_SOURCES_NEW) - size;
	if (counter_sum(skeleton, COUNTER_INTERFACE_QUOTA) != 0 ||
	    counter_sum(skeleton, COUNTER_SCAN_QUOTA) != 0) {
		fprintf(stderr, "bench_xdp: %u sources: the interface's quotas refused some\n",
		        size);
		goto out;
	}
	result->sources_memlock = map_memlock(sources_fd);
	result->pairs_memlock = map_memlock(bpf_map__fd(skeleton->maps.scan_contacts));
	error = driven_run(driver, empty_fd, per_family, stride, steady_packets(per_family),
	                   &result->floor);
out:
	lru_floor_bpf__destroy(floor);
	abuseguard_bpf__destroy(skeleton);
	return error;
}

static int
bench_sources(const uint32_t *sizes, size_t size_count, unsigned passes)
{
	struct sources_result results[SIZES_MAX], *first = &results[0], *last;
	char ratio[TEXT_BYTES], figures[4 * TEXT_BYTES], text[TEXT_BYTES], label[16];
	struct source_driver_bpf *driver = source_driver_bpf__open_and_load();
	struct empty_bpf *empty = empty_bpf__open_and_load();
	int error = -EIO;
	size_t used = 0;

	if (driver == NULL || empty == NULL) {
		fprintf(stderr, "bench_xdp: cannot load the driver and the empty program\n");
		goto out;
	}
	for (size_t i = 0; i < size_count; i++)
		if (sources_measure(driver, bpf_program__fd(empty->progs.empty_xdp), sizes[i],
		                    passes, &results[i]) != 0)
			goto out;
	last = &results[size_count - 1];
	used = (size_t)snprintf(
	    ratio, sizeof(ratio), "at %s sources %.2fx the LRU floor (target <= 2x)",
	    size_text(last->size, label, sizeof(label)), last->steady.median / last->lru.median);
	for (size_t i = 0; i + 1 < size_count; i++)
		used += (size_t)snprintf(ratio + used, sizeof(ratio) - used, "%s %s %.2fx",
		                         i ? "," : ";",
		                         size_text(results[i].size, label, sizeof(label)),
		                         results[i].steady.median / results[i].lru.median);
	snprintf(ratio + used, sizeof(ratio) - used, "; %s/%s %.2fx",
	         size_text(last->size, label, sizeof(label)),
	         size_text(first->size, text, sizeof(text)),
	         last->steady.median / first->steady.median);
	used = 0;
	for (size_t i = 0; i < size_count; i++)
		used += (size_t)snprintf(
		    figures + used, sizeof(figures) - used,
		    "%s sources: abuseguard %.1f ns (%.1f-%.1f), LRU floor %.1f ns (%.1f-%.1f), "
		    "first sight %.1f ns, driver+empty %.1f ns; ",
		    size_text(results[i].size, label, sizeof(label)), results[i].steady.median,
		    results[i].steady.minimum, results[i].steady.maximum, results[i].lru.median,
		    results[i].lru.minimum, results[i].lru.maximum, results[i].fill,
		    results[i].floor);
	snprintf(figures + used, sizeof(figures) - used,
	         "at %s: sources map memlock %.1f MiB for max_sources %u (%.0f B/entry), %s "
	         "after the passes, %llu re-inserted after LRU eviction; scan_contacts (SMTP "
	         "destinations too) %.1f MiB",
	         size_text(last->size, label, sizeof(label)), last->sources_memlock / 1048576.0,
	         last->size, (double)last->sources_memlock / last->size,
	         last->sources_memlock == last->sources_memlock_loaded ? "unchanged" : "CHANGED",
	         (unsigned long long)last->reinserted, last->pairs_memlock / 1048576.0);
	used = 0;
	for (size_t i = 0; i < size_count; i++)
		used += (size_t)snprintf(text + used, sizeof(text) - used, "%s%s", i ? "/" : "",
		                         size_text(results[i].size, label, sizeof(label)));
	snprintf(text + used, sizeof(text) - used,
	         " distinct sources (half IPv4, half IPv6 /64), SMTP SYNs, max_sources = "
	         "max_smtp_pairs = max_scan_contacts = sources (the interface quotas of sources "
	         "and pending probes out of the "
	         "way), the LRU floor "
	         "as many entries; a driver program rewrites the source and tail-calls "
	         "the program on every repetition; the programs take turns; a first-sight pass, "
	         "then %u passes of "
	         "max(sources, %u) packets per family in scattered order, median (min-max)",
	         passes, 2 * STEADY_PACKETS_MIN);
	row_print("XDP cost as sources grow", ratio, figures, text);
	error = 0;
out:
	source_driver_bpf__destroy(driver);
	empty_bpf__destroy(empty);
	return error;
}

/* The addresses the driver writes with number 0. */
static const char *const driver_owned[] = {"10.0.0.0", "fd00::/64"};

enum flood_case { FLOOD_HONEST, FLOOD_SPOOFED, FLOOD_UNVERIFIED, FLOOD_EMPTY, FLOOD_CASES };

static int
bench_flood(uint32_t sources, unsigned passes)
{
	static const char *const names[FLOOD_CASES] = {
	    [FLOOD_HONEST] = "honest SYNs from the VM's own address",
	    [FLOOD_SPOOFED] = "random-source flood, addresses known (spoofed)",
	    [FLOOD_UNVERIFIED] = "random-source flood, no address known (interface quota)",
	    [FLOOD_EMPTY] = "driver+empty",
	};
	struct source_driver_bpf *driver = source_driver_bpf__open_and_load();
	struct empty_bpf *empty = empty_bpf__open_and_load();
	struct abuseguard_bpf *skeleton = NULL;
	struct summary results[FLOOD_CASES];
	char ratio[TEXT_BYTES], figures[2 * TEXT_BYTES], sizes[TEXT_BYTES];
	uint32_t stride = scatter_stride(sources), packets = steady_packets(sources);
	double costs[passes];
	struct config config;
	size_t used = 0;
	int error = -EIO;

	if (driver == NULL || empty == NULL) {
		fprintf(stderr, "bench_xdp: cannot load the driver and the empty program\n");
		goto out;
	}
	config_defaults(&config);
	for (int c = 0; c < FLOOD_CASES; c++) {
		int prog_fd = bpf_program__fd(empty->progs.empty_xdp);
		uint32_t count = c == FLOOD_HONEST ? 1 : sources;

		/* A fresh program for each case: no state from the one before. */
		abuseguard_bpf__destroy(skeleton);
		skeleton = NULL;
		if (c != FLOOD_EMPTY) {
			if ((skeleton = abuseguard_load(&config)) == NULL)
				goto out;
			prog_fd = bpf_program__fd(skeleton->progs.abuseguard_xdp);
			if (c != FLOOD_UNVERIFIED &&
			    own_addresses(skeleton, driver_owned,
			                  sizeof(driver_owned) / sizeof(driver_owned[0])) != 0) {
				fprintf(stderr, "bench_xdp: cannot give %s its addresses\n",
				        TEST_RUN_INTERFACE);
				goto out;
			}
		}
		for (unsigned pass = 0; pass < passes; pass++)
			if (driven_run(driver, prog_fd, count, count == 1 ? 1 : stride, packets,
			               &costs[pass]) != 0)
				goto out;
		summarize(costs, passes, &results[c]);
		if (c == FLOOD_SPOOFED && counter_sum(skeleton, COUNTER_SPOOFED) == 0) {
			fprintf(stderr, "bench_xdp: the flood was not counted as spoofed\n");
			goto out;
		}
	}
	snprintf(ratio, sizeof(ratio),
	         "spoofed flood packet %.2fx an honest SYN, %.2fx the empty program; unverified "
	         "flood %.2fx an honest SYN",
	         results[FLOOD_SPOOFED].median / results[FLOOD_HONEST].median,
	         results[FLOOD_SPOOFED].median / results[FLOOD_EMPTY].median,
	         results[FLOOD_UNVERIFIED].median / results[FLOOD_HONEST].median);
	for (int c = 0; c < FLOOD_CASES; c++)
		used += (size_t)snprintf(figures + used, sizeof(figures) - used,
		                         "%s%s %.1f ns (%.1f-%.1f)", c ? "; " : "", names[c],
		                         results[c].median, results[c].minimum, results[c].maximum);
	snprintf(sizes, sizeof(sizes),
	         "SMTP SYNs, half IPv4, half IPv6; the flood from %u sources per family in "
	         "scattered order, the honest VM from one address; %u packets per family and "
	         "pass, %u passes, median (min-max); the driver rewrites the source and "
	         "tail-calls the program, the default policy's limits",
	         sources, packets, passes);
	row_print("XDP cost under a random-source flood", ratio, figures, sizes);
	error = 0;
out:
	abuseguard_bpf__destroy(skeleton);
	source_driver_bpf__destroy(driver);
	empty_bpf__destroy(empty);
	return error;
}

static size_t
sizes_parse(char *text, uint32_t *sizes)
{
	size_t count = 0;

	for (char *item = strtok(text, ","); item != NULL; item = strtok(NULL, ",")) {
		long value = strtol(item, NULL, 10);

		if (count == SIZES_MAX || value < 1 || value > 16777216)
			return 0;
		sizes[count++] = (uint32_t)value;
	}
	return count;
}

int
main(int argc, char **argv)
{
	static const struct option options[] = {
	    {"repeat", required_argument, NULL, 'r'},
	    {"runs", required_argument, NULL, 'n'},
	    {"xdp-filter-id", required_argument, NULL, 'x'},
	    {"xdp-filter-missing", required_argument, NULL, 'm'},
	    {"xdp-filter-rules", required_argument, NULL, 'f'},
	    {"sizes", required_argument, NULL, 's'},
	    {"passes", required_argument, NULL, 'p'},
	    {"sources", required_argument, NULL, 'o'},
	    {"addresses-unknown", no_argument, NULL, 'u'},
	    {NULL, 0, NULL, 0},
	};
	uint32_t sizes[SIZES_MAX] = {1000, 100000, 1000000};
	size_t size_count = 3;
	unsigned repeat = 100000, runs = 5, passes = 3;
	uint32_t flood_sources = 1000000;
	const char *xdp_filter_missing = NULL, *xdp_filter_rules = "";
	int xdp_filter_id = 0, option;
	bool addresses_known = true;

	if (argc < 2)
		usage();
	optind = 2;
	while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (option) {
		case 'r':
			repeat = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'n':
			runs = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'x':
			xdp_filter_id = atoi(optarg);
			break;
		case 'm':
			xdp_filter_missing = optarg;
			break;
		case 'f':
			xdp_filter_rules = optarg;
			break;
		case 's':
			if ((size_count = sizes_parse(optarg, sizes)) == 0)
				usage();
			break;
		case 'p':
			passes = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'o':
			flood_sources = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'u':
			addresses_known = false;
			break;
		default:
			usage();
		}
	}
	if (repeat == 0 || runs == 0 || passes == 0 || passes > 100 || flood_sources < 2 ||
	    flood_sources > 16777216)
		usage();
	/* Kernels before 5.11 charge maps to RLIMIT_MEMLOCK. */
	setrlimit(RLIMIT_MEMLOCK, &(struct rlimit){RLIM_INFINITY, RLIM_INFINITY});
	if (strcmp(argv[1], "mix") == 0)
		return bench_mix(repeat, runs, xdp_filter_id, xdp_filter_missing, xdp_filter_rules,
		                 addresses_known) == 0
		           ? 0
		           : 1;
	if (strcmp(argv[1], "sources") == 0)
		return bench_sources(sizes, size_count, passes) == 0 ? 0 : 1;
	if (strcmp(argv[1], "flood") == 0)
		return bench_flood(flood_sources, passes) == 0 ? 0 : 1;
	usage();
}
