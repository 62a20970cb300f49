/*
 * The BPF programs: load, attach the XDP program (packets from the VM) and
 * the tc egress program (packets toward it) to the VM-facing interfaces,
 * sweep the scan state, read the events.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <sched.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <libmnl/libmnl.h>

#include "abuseguard/abuseguard.h" /* the skeleton uses its structs */
#include "abuseguard/replay_batch.h"
#include "abuseguard.skel.h"
#include "capture.h"
#include "log.h"
#include "rtnetlink.h"
#include "vm.h"

/*
 * BPF_TCX_EGRESS (Linux 6.6) is newer than libbpf 1.1's headers; where the
 * kernel lacks it, the program goes into a clsact qdisc through bpf_tc_attach.
 */
#define ATTACH_TCX_EGRESS 47
#define TC_PRIORITY       0xab0 /* our filter's priority in a clsact qdisc */
#define TC_HANDLE         1
#define LOOPBACK_IFINDEX  1 /* every network namespace's loopback */

/* Replay's programs for packets toward the VM, each loaded when it is first needed. */
enum late_program {
	LATE_TC,          /* one by one */
	LATE_EGRESS_TWIN, /* in batches: the tc program's XDP twin, the driver's tail call */
	LATE_PROGRAMS
};

struct attachment {
	int ifindex; /* 0: free slot */
	int link_fd;
	int tc_link_fd; /* -1: attached through a clsact filter, or not at all */
	char name[IF_NAMESIZE];
	const char *xdp_mode;
	const char *tc_mode; /* "tcx", "clsact" or NULL (replies unseen) */
};

struct capture {
	struct abuseguard_bpf *skeleton;
	/* Replay: the programs for packets toward the VM, loaded when the first comes. */
	struct abuseguard_bpf *late[LATE_PROGRAMS];
	bool late_failed[LATE_PROGRAMS]; /* its load failed: said once, not tried again */
	struct ring_buffer *ring;
	const struct config *config;
	struct capture_hooks hooks;
	struct loop *loop;
	struct loop_watch ring_watch;
	struct loop_watch netlink_watch;
	struct attachment *attachments; /* limits.max_interfaces slots */
	uint32_t attachment_count;
	uint64_t attached, detached, attach_failures, interfaces_refused;
	unsigned batch_size;             /* replay: frames per batch; 0: none */
	struct replay_batch_slot *slots; /* the driver's map, mapped: batch_size + 1 */
	int hold_netns, hold_link;       /* batch_dispatcher_hold's; -1: none */
	size_t slots_bytes;
};

static int
libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char message[1024];
	size_t length;

	if (level == LIBBPF_DEBUG && log_getverbose() < 2)
		return 0;
	vsnprintf(message, sizeof(message), fmt, ap);
	length = strlen(message);
	if (length > 0 && message[length - 1] == '\n')
		message[length - 1] = '\0';
	if (level == LIBBPF_WARN)
		log_warnx("libbpf: %s", message);
	else
		log_debug("libbpf: %s", message);
	return 0;
}

static int
ring_event(void *ctx, void *data, size_t size)
{
	struct capture *capture = ctx;

	if (size < sizeof(struct abuse_event)) {
		log_warnx("capture: short ring-buffer record of %zu bytes", size);
		return 0;
	}
	if (capture->hooks.on_event != NULL)
		capture->hooks.on_event(capture->hooks.arg, data);
	return 0;
}

static int
learn_ready(void *ctx, void *data, size_t size)
{
	struct capture *capture = ctx;
	const struct learn_frame *frame = data;

	if (size < sizeof(*frame) || frame->length > LEARN_FRAME_BYTES) {
		log_warnx("capture: malformed learning record of %zu bytes", size);
		return 0;
	}
	if (capture->hooks.on_learn != NULL)
		capture->hooks.on_learn(capture->hooks.arg, capture, (int)frame->ifindex,
		                        frame->data, frame->length);
	return 0;
}

bool
capture_interface_wanted(const struct config *config, const char *name)
{
	for (unsigned i = 0; i < config->interface_count; i++)
		if (fnmatch(config->interfaces[i], name, 0) == 0)
			return true;
	return false;
}

static struct attachment *
attachment_find(struct capture *capture, int ifindex)
{
	for (uint32_t i = 0; i < capture->attachment_count; i++)
		if (capture->attachments[i].ifindex == ifindex)
			return &capture->attachments[i];
	return NULL;
}

static int
xdp_link(int prog_fd, int ifindex, __u32 flags)
{
	LIBBPF_OPTS(bpf_link_create_opts, options, .flags = flags);

	return bpf_link_create(prog_fd, ifindex, BPF_XDP, &options);
}

/*
 * The egress program, as a tcx link where the kernel has them (detached by
 * the kernel if the daemon dies, like the XDP link), else as a clsact filter.
 */
static const char *
tc_attach(struct capture *capture, struct attachment *slot)
{
	int prog_fd = bpf_program__fd(capture->skeleton->progs.abuseguard_tc);
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = slot->ifindex, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, options, .prog_fd = prog_fd, .handle = TC_HANDLE,
	            .priority = TC_PRIORITY, .flags = BPF_TC_F_REPLACE);
	int fd, error;

	fd = bpf_link_create(prog_fd, slot->ifindex, ATTACH_TCX_EGRESS, NULL);
	if (fd >= 0) {
		slot->tc_link_fd = fd;
		return "tcx";
	}
	error = bpf_tc_hook_create(&hook);
	if (error == 0 || error == -EEXIST)
		error = bpf_tc_attach(&hook, &options);
	if (error < 0) {
		log_warnx("%s: attach tc egress program: %s; scans are not judged here", slot->name,
		          strerror(-error));
		return NULL;
	}
	return "clsact";
}

/* Leaves the clsact qdisc: other filters may live in it. */
static void
tc_detach(struct attachment *slot)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = slot->ifindex, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, options, .handle = TC_HANDLE, .priority = TC_PRIORITY);

	if (slot->tc_link_fd >= 0)
		close(slot->tc_link_fd);
	else if (slot->tc_mode != NULL)
		bpf_tc_detach(&hook, &options); /* gone with the interface: nothing to do */
}

/*
 * A BPF link, not a netlink attachment: it never replaces another program
 * on the interface, and the kernel detaches it if the daemon dies.
 */
static void
interface_attach(struct capture *capture, int ifindex, const char *name)
{
	int prog_fd = bpf_program__fd(capture->skeleton->progs.abuseguard_xdp);
	struct attachment *slot;
	const char *mode = "native";
	int fd = -1;

	if (attachment_find(capture, ifindex) != NULL)
		return;
	slot = attachment_find(capture, 0);
	if (slot == NULL) {
		capture->interfaces_refused++;
		log_warnx("%s: not attached: already on %u interfaces (limits.max_interfaces)",
		          name, capture->attachment_count);
		return;
	}
	if (capture->config->xdp_mode != XDP_ATTACH_GENERIC)
		fd = xdp_link(prog_fd, ifindex, XDP_FLAGS_DRV_MODE);
	if (fd < 0 && capture->config->xdp_mode == XDP_ATTACH_AUTO) {
		mode = "generic";
		fd = xdp_link(prog_fd, ifindex, XDP_FLAGS_SKB_MODE);
	} else if (capture->config->xdp_mode == XDP_ATTACH_GENERIC) {
		mode = "generic";
		fd = xdp_link(prog_fd, ifindex, XDP_FLAGS_SKB_MODE);
	}
	if (fd < 0) {
		capture->attach_failures++;
		log_warnx("%s: attach XDP program: %s", name, strerror(-fd));
		return;
	}
	slot->ifindex = ifindex;
	slot->link_fd = fd;
	slot->tc_link_fd = -1;
	slot->xdp_mode = mode;
	snprintf(slot->name, sizeof(slot->name), "%s", name);
	slot->tc_mode = tc_attach(capture, slot);
	capture->attached++;
	log_info("%s: XDP program attached (%s mode), tc egress %s", name, mode,
	         slot->tc_mode ? slot->tc_mode : "not attached");
	if (capture->hooks.on_interface != NULL)
		capture->hooks.on_interface(capture->hooks.arg, capture, ifindex, name, true);
}

static void
attachment_release(struct capture *capture, struct attachment *slot, const char *why)
{
	if (capture->hooks.on_interface != NULL)
		capture->hooks.on_interface(capture->hooks.arg, capture, slot->ifindex, slot->name,
		                            false);
	close(slot->link_fd);
	tc_detach(slot);
	log_info("%s: XDP and tc programs detached (%s)", slot->name, why);
	memset(slot, 0, sizeof(*slot));
	capture->detached++;
}

static void
interfaces_scan(struct capture *capture)
{
	struct if_nameindex *names = if_nameindex();

	if (names == NULL) {
		log_warn("capture: if_nameindex");
		return;
	}
	for (struct if_nameindex *entry = names; entry->if_index != 0; entry++)
		if (capture_interface_wanted(capture->config, entry->if_name))
			interface_attach(capture, (int)entry->if_index, entry->if_name);
	if_freenameindex(names);
}

static int
link_attribute(const struct nlattr *attribute, void *data)
{
	const char **name = data;

	if (mnl_attr_get_type(attribute) == IFLA_IFNAME &&
	    mnl_attr_validate(attribute, MNL_TYPE_NUL_STRING) >= 0)
		*name = mnl_attr_get_str(attribute);
	return MNL_CB_OK;
}

static int
link_message(const struct nlmsghdr *message, void *data)
{
	struct capture *capture = data;
	const struct ifinfomsg *info = mnl_nlmsg_get_payload(message);
	struct attachment *slot;
	const char *name = NULL;

	if (message->nlmsg_len < mnl_nlmsg_size(sizeof(*info)))
		return MNL_CB_OK;
	mnl_attr_parse(message, sizeof(*info), link_attribute, &name);
	slot = attachment_find(capture, info->ifi_index);
	if (message->nlmsg_type == RTM_DELLINK) {
		if (slot != NULL)
			attachment_release(capture, slot, "interface removed");
	} else if (message->nlmsg_type == RTM_NEWLINK && name != NULL) {
		if (slot != NULL && !capture_interface_wanted(capture->config, name))
			attachment_release(capture, slot, "renamed out of the patterns");
		else if (slot == NULL && capture_interface_wanted(capture->config, name))
			interface_attach(capture, info->ifi_index, name);
	}
	return MNL_CB_OK;
}

static void
netlink_ready(struct loop_watch *watch, uint32_t events)
{
	struct capture *capture =
	    (struct capture *)((char *)watch - offsetof(struct capture, netlink_watch));
	char buffer[32768];

	(void)events;
	for (;;) {
		ssize_t length = recv(watch->fd, buffer, sizeof(buffer), 0);

		if (length < 0) {
			if (errno == ENOBUFS) {
				/* The kernel dropped link events: look at every interface again. */
				log_warnx("capture: rtnetlink overrun, rescanning interfaces");
				interfaces_scan(capture);
				continue;
			}
			if (errno != EAGAIN && errno != EINTR)
				log_warn("capture: rtnetlink recv");
			return;
		}
		mnl_cb_run(buffer, (size_t)length, 0, 0, link_message, capture);
	}
}

static void
ring_ready(struct loop_watch *watch, uint32_t events)
{
	struct capture *capture =
	    (struct capture *)((char *)watch - offsetof(struct capture, ring_watch));

	(void)events;
	if (capture->hooks.before_events != NULL)
		capture->hooks.before_events(capture->hooks.arg);
	if (ring_buffer__consume(capture->ring) < 0)
		log_warnx("capture: ring buffer consume failed");
}

static void
skeleton_set_scan(struct abuseguard_bpf *skeleton, const struct scan_config *scan,
                  const typeof(((struct config *)0)->limits) *limits)
{
	struct scan_settings *settings = &skeleton->data->scan_settings;

	_Static_assert(sizeof(skeleton->bss->scan_ignored_ports) == sizeof(scan->ignored_ports),
	               "one bitmap of ignored ports");
	settings->enabled = scan->enabled;
	settings->window_ns = (__u64)scan->window_ms * 1000000;
	settings->timeout_ns = (__u64)scan->timeout_ms * 1000000;
	settings->return_path_ns = (__u64)scan->return_path_ms * 1000000;
	settings->sequential = scan->sequential;
	settings->hosts_per_port = scan->hosts_per_port;
	settings->ports_per_host = scan->ports_per_host;
	settings->arp_hosts = scan->arp_hosts;
	settings->pending_per_interface = limits->scan_pending_per_interface;
	memcpy(skeleton->bss->scan_ignored_ports, scan->ignored_ports, sizeof(scan->ignored_ports));
}

static void
skeleton_set_thresholds(struct abuseguard_bpf *skeleton, const struct config *config)
{
	struct xdp_thresholds *thresholds = &skeleton->data->thresholds;

	thresholds->window_ns = (__u64)config->spam.window_ms * 1000000;
	thresholds->smtp_attempts = config->spam.enabled ? config->spam.smtp_attempts : 0;
	thresholds->smtp_destinations = config->spam.enabled ? config->spam.smtp_destinations : 0;
	thresholds->ipv6_prefix_len = config->ipv6_prefix_len;
	thresholds->tiny_fragments = config->evasion.tiny_fragments;
	skeleton_set_scan(skeleton, &config->scan, &config->limits);
	skeleton->data->attribution.spoof_packets = config->spoofing.packets;
	skeleton->data->attribution.learn_frames = config->limits.learn_frames;
	skeleton->data->attribution.interface_sources = config->limits.interface_sources;
}

void
capture_set_thresholds(struct capture *capture, const struct config *config)
{
	skeleton_set_thresholds(capture->skeleton, config);
}

/*
 * Replay's per-source and per-contact maps: plain hash maps that allocate
 * an entry when the program adds one, at the live sizes. The live LRU maps
 * are allocated whole at load (the default limits: about 1.1 million
 * entries, 250 MB, most of a replay's start-up). Nothing deletes from
 * these maps in a replay, so one that never fills holds every entry the
 * LRU map would have held; one that fills refuses new entries where live
 * would evict the least recently used, and says so (capture_replay_filled).
 */
#define GROWN_MAPS 4

struct grown_map {
	struct bpf_map *map;
	const char *what, *limit; /* for the log */
};

static void
grown_maps_of(struct abuseguard_bpf *skeleton, struct grown_map maps[GROWN_MAPS])
{
	maps[0] =
	    (struct grown_map){skeleton->maps.sources, "sources (spam)", "limits.max_sources"};
	maps[1] =
	    (struct grown_map){skeleton->maps.scan_sources, "sources (scan)", "limits.max_sources"};
	maps[2] = (struct grown_map){skeleton->maps.scan_contacts, "first contacts and SMTP pairs",
	                             "limits.max_scan_contacts + limits.max_smtp_pairs"};
	maps[3] = (struct grown_map){skeleton->maps.scan_udp_peers, "UDP peers",
	                             "limits.max_scan_contacts"};
}

static int
grown_maps_prepare(struct abuseguard_bpf *skeleton)
{
	struct grown_map maps[GROWN_MAPS];
	int error = 0;

	grown_maps_of(skeleton, maps);
	for (int i = 0; i < GROWN_MAPS && error == 0; i++) {
		error = bpf_map__set_type(maps[i].map, BPF_MAP_TYPE_HASH);
		if (error == 0)
			error = bpf_map__set_map_flags(
			    maps[i].map, bpf_map__map_flags(maps[i].map) | BPF_F_NO_PREALLOC);
	}
	return error;
}

unsigned
capture_replay_filled(struct capture *capture)
{
	struct grown_map maps[GROWN_MAPS];
	unsigned filled = 0;

	grown_maps_of(capture->skeleton, maps);
	for (int i = 0; i < GROWN_MAPS; i++) {
		const struct grown_map *grown = &maps[i];
		struct bpf_map *map = grown->map;
		unsigned char key[bpf_map__key_size(map)];
		void *value = calloc(1, bpf_map__value_size(map));
		int fd = bpf_map__fd(map), error;

		if (value == NULL) {
			log_warn("capture: %s map", grown->what);
			continue;
		}
		/* A key no packet makes (family 0): refused with E2BIG when the map is full. */
		memset(key, 0xff, sizeof(key));
		key[0] = 0;
		error = bpf_map_update_elem(fd, key, value, BPF_NOEXIST) == 0 ? 0 : -errno;
		if (error == 0)
			bpf_map_delete_elem(fd, key);
		free(value);
		if (error != -E2BIG)
			continue;
		filled++;
		log_warnx(
		    "replay: the %s map filled up (%s = %u): later new ones were not "
		    "tracked, where live forgets the least recently seen; decisions about "
		    "them may differ from live (a policy with a larger limit replays it whole)",
		    grown->what, grown->limit, bpf_map__max_entries(map));
	}
	return filled;
}

/* Before the load: the policy's map sizes, clock, thresholds and limits. */
int
capture_skeleton_prepare(struct abuseguard_bpf *skeleton, const struct config *config, bool replay)
{
	int error;

	skeleton->rodata->replay_clock = replay ? 1 : 0;
	if (replay && (error = grown_maps_prepare(skeleton)) != 0)
		return error;
	/* Replay's batches load these (capture_open_replay); live they would only cost. */
	bpf_program__set_autoload(skeleton->progs.abuseguard_replay_batch, false);
	bpf_program__set_autoload(skeleton->progs.abuseguard_egress_replay, false);
	error = bpf_map__set_max_entries(skeleton->maps.sources, config->limits.max_sources);
	if (error == 0)
		error = bpf_map__set_max_entries(skeleton->maps.events,
		                                 config->limits.ring_buffer_bytes);
	if (error == 0)
		error = bpf_map__set_max_entries(skeleton->maps.scan_sources,
		                                 config->limits.max_sources);
	/* One map holds both: an SMTP SYN looks up a single entry for the two detectors. */
	if (error == 0)
		error = bpf_map__set_max_entries(skeleton->maps.scan_contacts,
		                                 config->limits.max_scan_contacts +
		                                     config->limits.max_smtp_pairs);
	if (error == 0)
		error = bpf_map__set_max_entries(skeleton->maps.scan_udp_peers,
		                                 config->limits.max_scan_contacts);
	if (error == 0)
		error = bpf_map__set_max_entries(skeleton->maps.scan_interfaces,
		                                 config->limits.max_interfaces);
	/* Every interface's addresses twice: under its ifindex and under 0. */
	if (error == 0)
		error = bpf_map__set_max_entries(skeleton->maps.vm_addresses,
		                                 2 * config->limits.max_interfaces *
		                                     config->limits.max_vm_addresses);
	if (error == 0)
		error = bpf_map__set_max_entries(skeleton->maps.vm_sources,
		                                 bpf_map__max_entries(skeleton->maps.vm_addresses));
	if (error == 0)
		error = bpf_map__set_max_entries(skeleton->maps.interface_policies,
		                                 config->limits.max_interfaces);
	/* One more: replay runs every packet on the loopback's ifindex. */
	if (error == 0)
		error = bpf_map__set_max_entries(skeleton->maps.interface_states,
		                                 config->limits.max_interfaces + 1);
	if (error == 0)
		skeleton_set_thresholds(skeleton, config);
	return error;
}

/*
 * An XDP test run that repeats (a batch) puts its program into the kernel's
 * XDP dispatcher and takes it out again: each a text patch on every CPU and
 * an RCU grace period, 0.6 ms a batch, a quarter of a replay's time. A
 * program attached somewhere stays in the dispatcher, so the batch driver is
 * attached, in generic mode, to the loopback of a network namespace of the
 * replay's own, kept by a descriptor: its loopback is down, no packet ever
 * runs it there. Where that fails (no CAP_SYS_ADMIN), batches run as well,
 * slower. Negative errno only when the replay's namespace cannot be entered
 * again.
 */
static int
batch_dispatcher_hold(struct capture *capture)
{
	LIBBPF_OPTS(bpf_link_create_opts, options, .flags = XDP_FLAGS_SKB_MODE);
	int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC), error = 0;

	if (home < 0 || unshare(CLONE_NEWNET) != 0) {
		log_debug("capture: no network namespace to hold the batch driver in: %s",
		          strerror(errno));
		if (home >= 0)
			close(home);
		return 0;
	}
	capture->hold_netns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	capture->hold_link =
	    bpf_link_create(bpf_program__fd(capture->skeleton->progs.abuseguard_replay_batch),
	                    LOOPBACK_IFINDEX, BPF_XDP, &options);
	if (capture->hold_link < 0)
		log_debug("capture: attach the batch driver to a private loopback: %s",
		          strerror(-capture->hold_link));
	if (setns(home, CLONE_NEWNET) != 0) {
		error = -errno;
		log_warn("capture: back to the replay's network namespace");
	}
	close(home);
	return error;
}

/* The batch driver's program array and its slots, mapped into memory. */
static int
batch_setup(struct capture *capture)
{
	struct abuseguard_bpf *skeleton = capture->skeleton;
	int programs_fd = bpf_map__fd(skeleton->maps.replay_batch_programs);
	int slots_fd = bpf_map__fd(skeleton->maps.replay_batch_slots);
	__u32 key = REPLAY_BATCH_XDP;
	int fd = bpf_program__fd(skeleton->progs.abuseguard_xdp);
	long page = sysconf(_SC_PAGESIZE);
	void *slots;

	/* The egress twin's entry comes with it (batch_egress_ready). */
	if (bpf_map_update_elem(programs_fd, &key, &fd, BPF_ANY) != 0) {
		log_warn("capture: replay batch program array");
		return -errno;
	}
	capture->slots_bytes = (capture->batch_size + 1) * sizeof(struct replay_batch_slot);
	capture->slots_bytes =
	    (capture->slots_bytes + (size_t)page - 1) / (size_t)page * (size_t)page;
	slots = mmap(NULL, capture->slots_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, slots_fd, 0);
	if (slots == MAP_FAILED) {
		log_warn("capture: map the replay batch of %u frames", capture->batch_size);
		capture->slots_bytes = 0;
		return -errno;
	}
	capture->slots = slots;
	return batch_dispatcher_hold(capture);
}

static int
program_load(struct capture *capture, int replay)
{
	const struct config *config = capture->config;
	struct abuseguard_bpf *skeleton;
	int error;

	skeleton = abuseguard_bpf__open();
	if (skeleton == NULL) {
		error = -errno;
		log_warnx("capture: open BPF program: %s", strerror(errno));
		return error;
	}
	capture->skeleton = skeleton;
	error = capture_skeleton_prepare(skeleton, config, replay);
	/* Replay verifies the programs for packets toward the VM when one comes (program_late). */
	if (replay)
		bpf_program__set_autoload(skeleton->progs.abuseguard_tc, false);
	if (error == 0 && capture->batch_size > 0) {
		bpf_program__set_autoload(skeleton->progs.abuseguard_replay_batch, true);
		error = bpf_map__set_max_entries(skeleton->maps.replay_batch_slots,
		                                 capture->batch_size + 1);
	}
	if (error == 0)
		error = abuseguard_bpf__load(skeleton);
	if (error == 0 && capture->batch_size > 0)
		error = batch_setup(capture);
	if (error < 0) {
		log_warnx("capture: load BPF program: %s", strerror(-error));
		return error;
	}
	capture->ring =
	    ring_buffer__new(bpf_map__fd(skeleton->maps.events), ring_event, capture, NULL);
	if (capture->ring == NULL ||
	    ring_buffer__add(capture->ring, bpf_map__fd(skeleton->maps.learn_frames), learn_ready,
	                     capture) < 0) {
		error = -errno;
		log_warnx("capture: ring buffer: %s", strerror(errno));
		return error;
	}
	return 0;
}

int
capture_open(struct capture **out, struct loop *loop, const struct config *config,
             capture_event_fn on_event, void *arg)
{
	const struct capture_hooks hooks = {.on_event = on_event, .arg = arg};

	return capture_open_hooks(out, loop, config, &hooks);
}

static int
capture_open_batch(struct capture **out, struct loop *loop, const struct config *config,
                   const struct capture_hooks *hooks, unsigned batch_size)
{
	struct capture *capture;
	int error;

	libbpf_set_print(libbpf_log);
	capture = calloc(1, sizeof(*capture));
	if (capture == NULL)
		return -ENOMEM;
	capture->config = config;
	capture->hooks = *hooks;
	capture->loop = loop;
	capture->ring_watch.fd = -1;
	capture->netlink_watch.fd = -1;
	capture->hold_netns = -1;
	capture->hold_link = -1;
	capture->batch_size = batch_size;
	/* Replay attaches nowhere. */
	capture->attachment_count = loop != NULL ? config->limits.max_interfaces : 0;
	capture->attachments = calloc(capture->attachment_count + 1, sizeof(struct attachment));
	error = capture->attachments == NULL ? -ENOMEM : program_load(capture, loop == NULL);
	if (error == 0 && loop != NULL) {
		capture->ring_watch.fd = ring_buffer__epoll_fd(capture->ring);
		capture->ring_watch.ready = ring_ready;
		error = loop_add(loop, &capture->ring_watch, EPOLLIN);
		if (error == 0)
			error = rtnetlink_watch(loop, &capture->netlink_watch, RTMGRP_LINK,
			                        netlink_ready, "capture");
		if (error == 0)
			interfaces_scan(capture);
	}
	if (error < 0) {
		capture_close(capture);
		return error;
	}
	*out = capture;
	return 0;
}

int
capture_open_hooks(struct capture **out, struct loop *loop, const struct config *config,
                   const struct capture_hooks *hooks)
{
	return capture_open_batch(out, loop, config, hooks, 0);
}

int
capture_open_replay(struct capture **out, const struct config *config,
                    const struct capture_hooks *hooks, unsigned batch_size)
{
	if (batch_size > REPLAY_BATCH_MAX) {
		log_warnx("capture: a replay batch of %u frames is more than %u", batch_size,
		          REPLAY_BATCH_MAX);
		return -EINVAL;
	}
	return capture_open_batch(out, NULL, config, hooks, batch_size > 1 ? batch_size : 0);
}

void
capture_close(struct capture *capture)
{
	if (capture == NULL)
		return;
	for (uint32_t i = 0; capture->attachments != NULL && i < capture->attachment_count; i++)
		if (capture->attachments[i].ifindex != 0)
			attachment_release(capture, &capture->attachments[i], "daemon stopping");
	if (capture->loop != NULL && capture->ring_watch.fd != -1)
		loop_remove(capture->loop, &capture->ring_watch);
	if (capture->netlink_watch.fd != -1) {
		loop_remove(capture->loop, &capture->netlink_watch);
		close(capture->netlink_watch.fd);
	}
	ring_buffer__free(capture->ring);
	if (capture->slots != NULL)
		munmap(capture->slots, capture->slots_bytes);
	if (capture->hold_link >= 0)
		close(capture->hold_link);
	if (capture->hold_netns >= 0)
		close(capture->hold_netns);
	for (int i = 0; i < LATE_PROGRAMS; i++)
		abuseguard_bpf__destroy(capture->late[i]);
	abuseguard_bpf__destroy(capture->skeleton);
	free(capture->attachments);
	free(capture);
}

void
capture_stats(struct capture *capture, struct capture_stats *out)
{
	int cpus = libbpf_num_possible_cpus();
	int fd = bpf_map__fd(capture->skeleton->maps.counters);

	memset(out, 0, sizeof(*out));
	if (cpus > 0) {
		__u64 values[cpus];

		for (__u32 key = 0; key < COUNTER_COUNT; key++) {
			if (bpf_map_lookup_elem(fd, &key, values) != 0)
				continue;
			for (int cpu = 0; cpu < cpus; cpu++)
				out->counters[key] += values[cpu];
		}
	}
	out->attached = capture->attached;
	out->detached = capture->detached;
	out->attach_failures = capture->attach_failures;
	out->interfaces_refused = capture->interfaces_refused;
}

size_t
capture_interfaces(const struct capture *capture, struct capture_interface *out, size_t max)
{
	size_t count = 0;

	for (uint32_t i = 0; i < capture->attachment_count; i++) {
		const struct attachment *slot = &capture->attachments[i];

		if (slot->ifindex == 0)
			continue;
		if (count < max) {
			memcpy(out[count].name, slot->name, sizeof(out[count].name));
			out[count].ifindex = slot->ifindex;
			out[count].xdp_mode = slot->xdp_mode;
			out[count].tc_mode = slot->tc_mode;
		}
		count++;
	}
	return count;
}

void
capture_forget(struct capture *capture, const struct source_key *source)
{
	/* Absent is fine: the LRU may have dropped it already. */
	bpf_map_delete_elem(bpf_map__fd(capture->skeleton->maps.sources), source);
	bpf_map_delete_elem(bpf_map__fd(capture->skeleton->maps.scan_sources), source);
}

/* Runs one of the programs once over frame (NULL: a minimal frame). */
static int
program_run(struct capture *capture, struct bpf_program *program, const void *frame, size_t length,
            uint64_t time_ns, int ifindex)
{
	static const unsigned char empty_frame[ETH_HLEN];
	LIBBPF_OPTS(bpf_test_run_opts, options, .data_in = frame ? frame : empty_frame,
	            .data_size_in = frame ? (__u32)length : sizeof(empty_frame), .repeat = 1);
	int error;

	capture->skeleton->bss->replay_now_ns = time_ns;
	capture->skeleton->bss->replay_ifindex = ifindex > 0 ? (__u32)ifindex : 0;
	error = bpf_prog_test_run_opts(bpf_program__fd(program), &options);
	if (error < 0)
		return error;
	return ring_buffer__consume(capture->ring) < 0 ? -EIO : 0;
}

/* The program that late copy of the object loads. */
static struct bpf_program *
late_program_of(struct abuseguard_bpf *object, enum late_program which)
{
	return which == LATE_TC ? object->progs.abuseguard_tc
	                        : object->progs.abuseguard_egress_replay;
}

/*
 * Replay's programs for packets toward the VM cost most of its start-up to
 * verify, and a capture of one direction needs neither: each is loaded when
 * the first packet that needs it comes, as a second copy of the object that
 * loads that program alone, on the first one's maps. NULL if it cannot be
 * loaded (said here, once).
 */
static struct bpf_program *
program_late(struct capture *capture, enum late_program which)
{
	static const char *const names[LATE_PROGRAMS] = {
	    [LATE_TC] = "tc program",
	    [LATE_EGRESS_TWIN] = "tc program's XDP twin",
	};
	struct abuseguard_bpf *late;
	struct bpf_program *program;
	struct bpf_map *map, *loaded = NULL;
	int error = 0;

	if (capture->late[which] != NULL)
		return late_program_of(capture->late[which], which);
	if (capture->late_failed[which])
		return NULL;
	capture->late_failed[which] = true; /* until it loads */
	late = abuseguard_bpf__open();
	if (late == NULL) {
		log_warn("capture: open the %s for packets toward the VM", names[which]);
		return NULL;
	}
	for (program = bpf_object__next_program(late->obj, NULL); program != NULL;
	     program = bpf_object__next_program(late->obj, program))
		bpf_program__set_autoload(program, program == late_program_of(late, which));
	/* The same object twice: its maps come in the same order. */
	for (map = bpf_object__next_map(late->obj, NULL); map != NULL && error == 0;
	     map = bpf_object__next_map(late->obj, map)) {
		loaded = bpf_object__next_map(capture->skeleton->obj, loaded);
		error = loaded == NULL ? -ENOENT : bpf_map__reuse_fd(map, bpf_map__fd(loaded));
	}
	if (error == 0)
		error = abuseguard_bpf__load(late);
	if (error != 0) {
		log_warnx("capture: load the %s for packets toward the VM: %s", names[which],
		          strerror(-error));
		abuseguard_bpf__destroy(late);
		return NULL;
	}
	capture->late[which] = late;
	capture->late_failed[which] = false;
	return late_program_of(late, which);
}

/*
 * The driver tail-calls the egress twin for a batch's frames toward the VM:
 * loaded before the first batch that has one. Without it such a frame stops
 * the driver and runs alone, through the tc program.
 */
static void
batch_egress_ready(struct capture *capture, unsigned first, unsigned count)
{
	int programs_fd = bpf_map__fd(capture->skeleton->maps.replay_batch_programs);
	struct bpf_program *twin;
	__u32 key = REPLAY_BATCH_EGRESS;
	unsigned i = first;
	int fd;

	if (capture->late[LATE_EGRESS_TWIN] != NULL || capture->late_failed[LATE_EGRESS_TWIN])
		return;
	while (i < count && !capture->slots[i].toward_vm)
		i++;
	if (i == count || (twin = program_late(capture, LATE_EGRESS_TWIN)) == NULL)
		return;
	fd = bpf_program__fd(twin);
	if (bpf_map_update_elem(programs_fd, &key, &fd, BPF_ANY) != 0)
		log_warn("capture: replay batch program array, the egress twin");
}

int
capture_run_packet(struct capture *capture, const void *frame, size_t length, uint64_t time_ns,
                   enum capture_direction direction, int ifindex)
{
	struct bpf_program *program = capture->skeleton->progs.abuseguard_xdp;

	if (direction == CAPTURE_TOWARD_VM) {
		/* The tc program reads an Ethernet header: shorter frames are not packets. */
		if (length < ETH_HLEN)
			return 0;
		program = capture->loop != NULL ? capture->skeleton->progs.abuseguard_tc
		                                : program_late(capture, LATE_TC);
		if (program == NULL)
			return -ENOENT;
	}
	return program_run(capture, program, frame, length, time_ns, ifindex);
}

int
capture_sweep(struct capture *capture, uint64_t time_ns)
{
	return program_run(capture, capture->skeleton->progs.abuseguard_scan_sweep, NULL, 0,
	                   time_ns, 0);
}

unsigned
capture_batch_size(const struct capture *capture)
{
	return capture->slots != NULL ? capture->batch_size : 0;
}

struct replay_batch_slot *
capture_batch_slot(struct capture *capture, unsigned index)
{
	return capture->slots != NULL && index <= capture->batch_size ? &capture->slots[index]
	                                                              : NULL;
}

int
capture_batch_run(struct capture *capture, unsigned first, unsigned count, unsigned *ran)
{
	/* The packet the driver resizes and rewrites for every frame: as long as the longest. */
	static const unsigned char packet[REPLAY_BATCH_FRAME_BYTES];
	LIBBPF_OPTS(bpf_test_run_opts, options, .data_in = packet, .data_size_in = sizeof(packet),
	            .repeat = count - first + 1);
	struct abuseguard_bpf *skeleton = capture->skeleton;
	int error;

	if (capture->slots == NULL || first >= count || count > capture->batch_size)
		return -EINVAL;
	batch_egress_ready(capture, first, count);
	skeleton->bss->replay_batch_count = count;
	skeleton->bss->replay_batch_first = first;
	skeleton->bss->replay_batch_next = first;
	skeleton->bss->replay_batch_ran = first;
	skeleton->bss->replay_batch_stopped = 0;
	error = bpf_prog_test_run_opts(bpf_program__fd(skeleton->progs.abuseguard_replay_batch),
	                               &options);
	if (error < 0)
		return error;
	*ran = skeleton->bss->replay_batch_ran;
	return 0;
}

int
capture_consume(struct capture *capture)
{
	return ring_buffer__consume(capture->ring) < 0 ? -EIO : 0;
}

void
capture_address_key(const struct prefix *prefix, int ifindex, struct vm_address_key *key)
{
	memset(key, 0, sizeof(*key));
	key->ifindex = htonl((uint32_t)ifindex);
	if (prefix->family == SOURCE_FAMILY_IPV4) {
		key->addr[10] = 0xff;
		key->addr[11] = 0xff;
		memcpy(&key->addr[12], prefix->addr, 4);
		key->prefixlen = 32 + 96 + prefix->len;
	} else {
		memcpy(key->addr, prefix->addr, 16);
		key->prefixlen = 32 + prefix->len;
	}
}

/*
 * Whether the program finds the prefix in "vm_sources" by exact match (an
 * IPv4 /32, an IPv6 /64) rather than in the trie. ::/64 stays in the trie:
 * it holds ::ffff:0:0/96, whose sources the program looks up as IPv4.
 */
static bool
prefix_exact(const struct prefix *prefix)
{
	static const unsigned char zero[8];

	if (prefix->family == SOURCE_FAMILY_IPV4)
		return prefix->len == 32;
	return prefix->len == 64 && memcmp(prefix->addr, zero, sizeof(zero)) != 0;
}

/* The two maps of an interface's addresses: the hash of the common lengths and the trie. */
enum address_map { ADDRESS_MAP_EXACT, ADDRESS_MAP_TRIE, ADDRESS_MAPS };

union address_map_key {
	struct vm_source_key exact;
	struct vm_address_key trie;
};

static const size_t address_map_key_sizes[ADDRESS_MAPS] = {
    [ADDRESS_MAP_EXACT] = sizeof(struct vm_source_key),
    [ADDRESS_MAP_TRIE] = sizeof(struct vm_address_key),
};

/* The key of a prefix of ifindex (0: the all-interfaces copy); false if it is the other map's. */
static bool
address_map_key(enum address_map map, const struct prefix *prefix, int ifindex,
                union address_map_key *key)
{
	memset(key, 0, sizeof(*key));
	if (prefix_exact(prefix) != (map == ADDRESS_MAP_EXACT))
		return false;
	if (map == ADDRESS_MAP_TRIE) {
		capture_address_key(prefix, ifindex, &key->trie);
		return true;
	}
	key->exact.ifindex = (uint32_t)ifindex;
	key->exact.family = prefix->family;
	memcpy(key->exact.addr, prefix->addr, sizeof(key->exact.addr));
	return true;
}

/* Does the VM on ifindex want this key in the map, under ifindex or under 0? */
static bool
vm_wants(enum address_map map, const struct vm *vm, int ifindex, const union address_map_key *key)
{
	union address_map_key wanted;

	for (unsigned i = 0; vm != NULL && i < vm->address_count; i++)
		for (int copy = 0; copy < 2; copy++)
			if (address_map_key(map, &vm->addresses[i].prefix, copy ? 0 : ifindex,
			                    &wanted) &&
			    memcmp(&wanted, key, address_map_key_sizes[map]) == 0)
				return true;
	return false;
}

/* Makes one map hold the VM's addresses of its kind for ifindex, and no stale ones. */
static int
address_map_sync(enum address_map map, int fd, int ifindex, const struct vm *vm)
{
	union address_map_key key, next;
	bool walking = false;

	/* Stale entries of this interface go: under its ifindex, and under 0 as its. */
	memset(&next, 0, sizeof(next));
	while (bpf_map_get_next_key(fd, walking ? &key : NULL, &next) == 0) {
		struct vm_address_value value;

		key = next;
		walking = true;
		if (bpf_map_lookup_elem(fd, &key, &value) != 0 ||
		    value.ifindex != (uint32_t)ifindex)
			continue;
		if (vm_wants(map, vm, ifindex, &key))
			continue;
		bpf_map_delete_elem(fd, &key);
		walking = false; /* the walk starts again after a deletion */
	}
	for (unsigned i = 0; vm != NULL && i < vm->address_count; i++) {
		struct vm_address_value value = {.ifindex = (uint32_t)ifindex,
		                                 .origin = vm->addresses[i].origin};

		for (int copy = 0; copy < 2; copy++)
			if (address_map_key(map, &vm->addresses[i].prefix, copy ? 0 : ifindex,
			                    &key) &&
			    bpf_map_update_elem(fd, &key, &value, BPF_ANY) != 0)
				return -errno;
	}
	return 0;
}

uint32_t
capture_interface_flags(const struct vm *vm, bool drop)
{
	uint32_t flags = 0;

	if (vm == NULL || vm->address_count == 0)
		return 0;
	/* What the operator or the policy configures is complete: strict for both families. */
	if (vm_configured(vm))
		flags |= INTERFACE_CONFIGURED | INTERFACE_KNOWN_IPV4 | INTERFACE_KNOWN_IPV6;
	for (unsigned i = 0; i < vm->address_count; i++) {
		flags |= vm->addresses[i].prefix.family == SOURCE_FAMILY_IPV4
		             ? INTERFACE_KNOWN_IPV4
		             : INTERFACE_KNOWN_IPV6;
		if (!prefix_exact(&vm->addresses[i].prefix))
			flags |= INTERFACE_PREFIXES;
	}
	return flags | (drop ? INTERFACE_DROP : 0);
}

int
capture_vm_sync(struct capture *capture, int ifindex, const struct vm *vm, bool drop)
{
	int error;

	if (ifindex <= 0)
		return -EINVAL;
	error = capture_vm_maps_sync(capture->skeleton, ifindex, vm, drop);
	if (error < 0)
		log_warnx("%s: cannot write its addresses into the XDP program: %s",
		          vm != NULL ? vm->interface : "interface", strerror(-error));
	return error;
}

int
capture_vm_maps_sync(struct abuseguard_bpf *skeleton, int ifindex, const struct vm *vm, bool drop)
{
	int fds[ADDRESS_MAPS] = {
	    [ADDRESS_MAP_EXACT] = bpf_map__fd(skeleton->maps.vm_sources),
	    [ADDRESS_MAP_TRIE] = bpf_map__fd(skeleton->maps.vm_addresses),
	};
	int policies = bpf_map__fd(skeleton->maps.interface_policies);
	struct interface_policy policy = {0};
	__u32 index = (__u32)ifindex;
	int error = 0;

	if (ifindex <= 0)
		return -EINVAL;
	for (int map = 0; map < ADDRESS_MAPS && error == 0; map++)
		error = address_map_sync((enum address_map)map, fds[map], ifindex, vm);
	policy.flags = capture_interface_flags(vm, drop);
	if (error == 0 && policy.flags != 0 &&
	    bpf_map_update_elem(policies, &index, &policy, BPF_ANY) != 0)
		error = -errno;
	if (error == 0 && policy.flags == 0)
		bpf_map_delete_elem(policies, &index);
	return error;
}

int
capture_interface_state(struct capture *capture, int ifindex, struct interface_state *out)
{
	__u32 index = (__u32)ifindex;

	if (bpf_map_lookup_elem(bpf_map__fd(capture->skeleton->maps.interface_states), &index,
	                        out) != 0)
		return -ENOENT;
	return 0;
}

void
capture_upstream_ages(struct capture *capture, int64_t ages_ms[UPSTREAM_FAMILIES])
{
	static const int paths[UPSTREAM_FAMILIES] = {SCAN_RETURN_PATH_IPV4, SCAN_RETURN_PATH_IPV6};
	struct timespec now;
	uint64_t now_ns, seen_ns;

	/* The programs' bpf_ktime_get_coarse_ns. */
	clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
	now_ns = (uint64_t)now.tv_sec * 1000000000ULL + (uint64_t)now.tv_nsec;
	for (int i = 0; i < UPSTREAM_FAMILIES; i++) {
		seen_ns = capture->skeleton->bss->scan_upstream_ns[paths[i]];
		if (seen_ns == 0)
			ages_ms[i] = -1;
		else
			ages_ms[i] =
			    seen_ns >= now_ns ? 0 : (int64_t)((now_ns - seen_ns) / 1000000);
	}
}
