/*
 * Replay: the live pipeline over a capture. The same XDP program (run by
 * BPF_PROG_TEST_RUN with the packet's time as its clock), the same engine,
 * detectors and policy; only the effects differ: decisions are printed,
 * nothing is installed, and the store is a scratch database.
 */
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <search.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <pcap/pcap.h>

#include "abuseguard/replay_batch.h"
#include "attribution.h"
#include "capture.h"
#include "clock.h"
#include "crawl.h"
#include "engine.h"
#include "log.h"
#include "pcapng.h"
#include "policy.h"
#include "replay.h"
#include "source.h"
#include "store.h"
#include "wire.h"

#define NS_PER_MS 1000000ULL

#define ETHERNET_HEADER_LENGTH 14
#define ETHERTYPE_IPV4         0x0800
#define ETHERTYPE_IPV6         0x86dd
/* Linux cooked captures (tcpdump -i any): v1 and v2 headers. */
#define SLL_HEADER_LENGTH   16
#define SLL_PACKET_TYPE     0  /* be16 */
#define SLL_PROTOCOL        14 /* be16 */
#define SLL2_HEADER_LENGTH  20
#define SLL2_PROTOCOL       0  /* be16 */
#define SLL2_INTERFACE      4  /* be32: the capturing host's ifindex */
#define SLL2_PACKET_TYPE    10 /* u8 */
#define SLL_PACKET_OUTGOING 4  /* sent by the capturing host */
/* libpcap hands out at most its MAXIMUM_SNAPLEN; a rebuilt frame adds Ethernet. */
#define REPLAY_MAX_FRAME (262144 + ETHERNET_HEADER_LENGTH)
/* The shortest IP and TCP headers a detector reads. */
#define REPLAY_MIN_HEADERS (20 + 20)
/* Per file and reason, the packets named on stderr; the rest are only counted. */
#define REPLAY_REPORTS_PER_REASON 10
/*
 * The program's interfaces in a replay: ifindex numbers of its own, none of
 * them a device. The first one is the name that packets naming no interface
 * stand for, then the policy's VMs, then the interfaces as captures name them.
 */
#define REPLAY_UNNAMED "(capture)" /* without --replay-interface NAME */
/*
 * ARP/NDP/DHCP frames of an Ethernet capture held until the VM's MAC is
 * known: only the VM's own frames teach, as live, where XDP never sees the
 * hypervisor's. More are not taught.
 */
#define REPLAY_HELD_LEARN 8
/*
 * The events ring's bytes for one event: the record and its 8-byte header
 * (BPF_RINGBUF_HDR_SZ; linux/bpf.h cannot be included beside libpcap's),
 * 8-aligned.
 */
#define REPLAY_RINGBUF_HEADER_BYTES 8
#define REPLAY_EVENT_RECORD_BYTES                                                                  \
	((sizeof(struct abuse_event) + REPLAY_RINGBUF_HEADER_BYTES + 7) / 8 * 8)
/* Learning frames held while a batch's events are handed over: one frame makes one. */
#define REPLAY_QUEUED_LEARN 4
/* Capture interface indexes (cooked v2) whose interface is remembered; more are looked up again. */
#define REPLAY_CAPTURE_INDEXES 1024
/*
 * A packet without a usable time stamp takes the time of the packet before
 * it; one before any other takes this, 1970-01-01T00:00:01Z: never 0, which
 * the programs read as "no window yet".
 */
#define REPLAY_UNTIMED_START_NS 1000000000ULL
/* A time stamp past the replaying host's clock by more than this is no time. */
#define REPLAY_FUTURE_SLACK_S 86400
/*
 * The capture's stdio buffer: libpcap reads a record at a time, and with
 * stdio's 4 KiB one a file cost a read system call every few packets.
 */
#define REPLAY_READ_BUFFER_BYTES (1024 * 1024)

/* Why a packet's time stamp is not its time. */
enum time_fault {
	TIME_NONE,   /* 0 (a pcapng Simple Packet Block) or at or before the epoch */
	TIME_FUTURE, /* after the replaying host's clock */
	TIME_FAULT_COUNT
};

static const char *const time_fault_names[TIME_FAULT_COUNT] = {
    [TIME_NONE] = "no time stamp, or at or before 1970",
    [TIME_FUTURE] = "time stamp in the future",
};
/*
 * VMs of one Ethernet capture told apart by their MAC, one per interface
 * (a pcapng capture of several); past them every frame is taken as the VM's.
 */
#define REPLAY_FILE_VMS 64
/* A pcapng interface block's interface: not looked up yet, or no VM's. */
#define PCAPNG_UNKNOWN 0
#define PCAPNG_NOT_VM  (-1)

enum skip_reason {
	SKIP_LINK_TYPE,
	SKIP_OUT_OF_ORDER,
	SKIP_TRUNCATED,
	SKIP_SHORT,
	SKIP_NOT_VM,
	SKIP_UNREADABLE,
	SKIP_RUN_FAILED,
	SKIP_COUNT
};

static const char *const skip_names[SKIP_COUNT] = {
    [SKIP_LINK_TYPE] = "unsupported link type",
    [SKIP_OUT_OF_ORDER] = "out of order",
    [SKIP_TRUNCATED] = "truncated (caplen < len)",
    [SKIP_SHORT] = "shorter than the link header",
    [SKIP_NOT_VM] = "on no VM-facing interface",
    [SKIP_UNREADABLE] = "cut off or unreadable record",
    [SKIP_RUN_FAILED] = "refused by the test run",
};

/* How a file's link layer becomes the Ethernet frame the XDP program parses. */
enum link_kind {
	LINK_UNSUPPORTED,
	LINK_ETHERNET, /* as is */
	LINK_SLL,      /* cooked v1: Ethernet header from its protocol field */
	LINK_SLL2,     /* cooked v2: likewise */
	LINK_IP,       /* raw IPv4 or IPv6: Ethernet header from the version */
};

/* Ethernet: the VM's side of an interface, once a frame showed it. */
struct vm_mac {
	int ifindex;
	unsigned char mac[6];
};

struct replay_file {
	const char *name; /* for people: "(stdin)" for "-" */
	enum link_kind link;
	size_t link_header_length;
	struct vm_mac vm_macs[REPLAY_FILE_VMS];
	unsigned vm_mac_count;
	uint64_t packet; /* the current packet's number in the file, from 1 */
	uint64_t skipped[SKIP_COUNT];
	uint64_t retimed[TIME_FAULT_COUNT];
	/*
	 * A pcapng capture, walked beside libpcap: the interface of the packet
	 * libpcap read last (its program's ifindex, or PCAPNG_NOT_VM), and the
	 * program's interface of each interface block of the section.
	 */
	struct pcapng *pcapng;
	FILE *pcapng_stream;
	int packet_ifindex;
	uint32_t pcapng_section;
	int pcapng_ifindex[PCAPNG_INTERFACES_MAX];
};

struct replay_stats {
	uint64_t files_read, files_failed;
	uint64_t packets_read, packets_run, skipped[SKIP_COUNT];
	uint64_t retimed[TIME_FAULT_COUNT]; /* run at the previous packet's time */
	uint64_t flagged[CATEGORY_COUNT], flagged_untracked;
	uint64_t actions[ACTION_IGNORE + 1];
	uint64_t bans_per_rung[LADDER_MAX_RUNGS];
	uint64_t first_ns, last_ns;
	uint64_t batches, batch_events_unmatched;
};

/* A (category, source) pair that had a finding, for "sources flagged". */
struct flagged {
	unsigned char category;
	struct source_key source;
};

/* A capture's interface index and the program's interface for it (0: no VM-facing one). */
struct capture_index {
	uint32_t index;
	int ifindex;
};

struct held_learn {
	int ifindex;
	size_t length;
	unsigned char frame[LEARN_FRAME_BYTES];
};

struct replay {
	const struct config *config;
	const struct replay_options *options;
	struct clock clock;
	struct attribution attribution; /* the policy's VMs, learning, the spoofer's address */
	int unnamed_ifindex;            /* for packets whose capture names no interface */
	int last_ifindex;
	struct capture_index indexes[REPLAY_CAPTURE_INDEXES];
	unsigned index_count;
	int attribution_open;
	struct held_learn held[REPLAY_HELD_LEARN];
	unsigned held_count;
	uint64_t learn_not_vm; /* frames not taught: not the VM's, or past the held ones */
	struct store *store;
	struct engine engine;
	struct tickets tickets; /* filed into the scratch store, listed in the summary */
	struct capture *capture;
	struct wire *wire;      /* the HTTP path: requests and robots.txt replies in the capture */
	struct crawl *crawl;    /* fetching off: a site without its reply gives no verdict */
	char scratch[PATH_MAX]; /* the scratch store's directory; "" if none */
	struct replay_file *file;
	uint64_t latest_ns;     /* the clock, in the program's unit */
	int64_t future_s;       /* later time stamps are no time: the host's clock and a day */
	uint64_t next_sweep_ns; /* the scan sweep runs once a second of capture time */
	int stdin_read;
	char *read_buffer; /* the open capture's stdio buffer, REPLAY_READ_BUFFER_BYTES */
	unsigned char *frame;
	/*
	 * Batches (--replay-batch): the frames waiting in the driver's slots,
	 * each one's packet number, and, while a batch's rings are read, the
	 * events and learning frames held to hand over frame by frame.
	 */
	unsigned batch_count;
	uint64_t *batch_packets;
	int queueing;
	struct abuse_event *queued;
	size_t queued_count, queued_room;
	struct held_learn queued_learn[REPLAY_QUEUED_LEARN];
	unsigned queued_learn_count;
	void *flagged_root; /* tsearch tree of struct flagged */
	unsigned flagged_count;
	struct replay_stats stats;
};

static volatile sig_atomic_t replay_interrupted;

static void batch_flush(struct replay *replay);

static void
replay_interrupt(int signal_number)
{
	(void)signal_number;
	replay_interrupted = 1;
}

/* Counts a skipped packet; names the first few per file and reason on stderr (fmt not NULL). */
static void __attribute__((format(printf, 3, 4)))
packet_skip(struct replay *replay, enum skip_reason reason, const char *fmt, ...)
{
	struct replay_file *file = replay->file;
	char why[256];
	va_list ap;

	replay->stats.skipped[reason]++;
	if (file->skipped[reason]++ >= REPLAY_REPORTS_PER_REASON || fmt == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	log_warnx("%s: packet %llu skipped, %s: %s", file->name, (unsigned long long)file->packet,
	          skip_names[reason], why);
}

static int
flagged_compare(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct flagged));
}

/* Counts the source once per category, up to the policy's max_sources. */
static void
source_flagged(struct replay *replay, const struct finding *finding)
{
	struct flagged key, *entry, **found;

	memset(&key, 0, sizeof(key));
	key.category = (unsigned char)finding->category;
	key.source = finding->source;
	if (tfind(&key, &replay->flagged_root, flagged_compare) != NULL)
		return;
	if (replay->flagged_count >= replay->config->limits.max_sources ||
	    (entry = malloc(sizeof(*entry))) == NULL) {
		replay->stats.flagged_untracked++;
		return;
	}
	*entry = key;
	found = tsearch(entry, &replay->flagged_root, flagged_compare);
	if (found == NULL || *found != entry) {
		free(entry);
		replay->stats.flagged_untracked++;
		return;
	}
	replay->flagged_count++;
	if (finding->category < CATEGORY_COUNT)
		replay->stats.flagged[finding->category]++;
}

static void
on_decision(void *arg, const struct finding *finding, const struct decision *decision,
            const struct ban *ban)
{
	struct replay *replay = arg;
	char time[40], source[SOURCE_STRLEN], expires[40], *line;
	const struct vm *vm;
	json_t *object;

	object = json_pack(
	    "{s:s, s:s, s:I, s:s, s:s, s:I, s:I, s:s, s:s, s:s}", "time",
	    clock_format_utc_ms(finding->time_ms, time, sizeof(time)), "file", replay->file->name,
	    "packet", (json_int_t)replay->file->packet, "source",
	    source_format(&finding->source, source, sizeof(source)), "category",
	    category_name(finding->category), "attempts", (json_int_t)finding->counts.attempts,
	    "destinations", (json_int_t)finding->counts.destinations, "action",
	    action_name(decision->action), "why", decision_reason_name(decision->why), "scope",
	    scope_name(decision->scope));
	if (object == NULL) {
		log_warnx("replay: no memory for a decision line");
		return;
	}
	/* Which VM it was: the interface its packets came from. */
	vm = vm_find_ifindex(&replay->attribution.vms, (int)finding->ifindex);
	if (vm != NULL)
		json_object_set_new(object, "interface", json_string(vm->interface));
	/* A ban, or the rung an alert would have taken; an ignored finding takes none. */
	if (decision->action != ACTION_IGNORE) {
		json_object_set_new(object, "level", json_integer(decision->step.level + 1));
		json_object_set_new(object, "duration_s",
		                    json_integer(decision->step.duration_ms / 1000));
	}
	if (ban != NULL)
		json_object_set_new(
		    object, "expires",
		    json_string(clock_format_utc_ms(ban->expires_ms, expires, sizeof(expires))));
	json_object_set_new(object, "detail", json_string(finding->detail));
	line = json_dumps(object, JSON_COMPACT);
	json_decref(object);
	if (line == NULL) {
		log_warnx("replay: no memory for a decision line");
		return;
	}
	/* Line by line, for a pipeline reading a capture as it is taken. */
	printf("%s\n", line);
	fflush(stdout);
	free(line);

	replay->stats.actions[decision->action]++;
	if (ban != NULL && ban->level < LADDER_MAX_RUNGS)
		replay->stats.bans_per_rung[ban->level]++;
	source_flagged(replay, finding);
}

static void
abuse_event_handle(struct replay *replay, const struct abuse_event *event)
{
	struct abuse_event copy;

	/* As live: a spoofing event is an offence of the forging VM's own address. */
	if (attribution_event(&replay->attribution, event, &copy, &event) < 0)
		return;
	/* Errors are logged and counted by the engine; the replay goes on. */
	engine_handle_event(&replay->engine, event);
}

/* The VM's MAC on an interface of the file, or NULL before a frame showed it. */
static const unsigned char *
file_vm_mac(const struct replay_file *file, int ifindex)
{
	for (unsigned i = 0; i < file->vm_mac_count; i++)
		if (file->vm_macs[i].ifindex == ifindex)
			return file->vm_macs[i].mac;
	return NULL;
}

static void
on_abuse_event(void *arg, const struct abuse_event *event)
{
	struct replay *replay = arg;

	/* A batch's events wait for their frame's turn; the room holds a full ring's. */
	if (replay->queueing && replay->queued_count < replay->queued_room) {
		replay->queued[replay->queued_count++] = *event;
		return;
	}
	abuse_event_handle(replay, event);
}

static void
learn_frame_handle(struct replay *replay, struct capture *capture, int ifindex, const void *frame,
                   size_t length)
{
	const struct replay_file *file = replay->file;
	const unsigned char *mac = file_vm_mac(file, ifindex);
	struct held_learn *held;

	/* Cooked captures say which packets come from the VM; Ethernet ones, its MAC. */
	if (file->link != LINK_ETHERNET || length < ETHERNET_HEADER_LENGTH ||
	    (mac != NULL && memcmp((const unsigned char *)frame + 6, mac, 6) == 0)) {
		attribution_learn(&replay->attribution, capture, ifindex, frame, length);
		return;
	}
	if (mac != NULL || replay->held_count >= REPLAY_HELD_LEARN ||
	    length > sizeof(held->frame)) {
		replay->learn_not_vm++;
		return;
	}
	held = &replay->held[replay->held_count++];
	held->ifindex = ifindex;
	held->length = length;
	memcpy(held->frame, frame, length);
}

static void
on_learn_frame(void *arg, struct capture *capture, int ifindex, const void *frame, size_t length)
{
	struct replay *replay = arg;
	struct held_learn *queued;

	/* A batch's learning frames are the last frame's: taught after its events. */
	if (replay->queueing && replay->queued_learn_count < REPLAY_QUEUED_LEARN &&
	    length <= sizeof(queued->frame)) {
		queued = &replay->queued_learn[replay->queued_learn_count++];
		queued->ifindex = ifindex;
		queued->length = length;
		memcpy(queued->frame, frame, length);
		return;
	}
	learn_frame_handle(replay, capture, ifindex, frame, length);
}

/*
 * The VM's MAC on an interface is known: its held frames teach now, the
 * interface's others never; other interfaces' frames stay held.
 */
static void
held_learn_settle(struct replay *replay, int ifindex, const unsigned char mac[6])
{
	unsigned kept = 0;

	for (unsigned i = 0; i < replay->held_count; i++) {
		const struct held_learn *held = &replay->held[i];

		if (held->ifindex != ifindex)
			replay->held[kept++] = *held;
		else if (memcmp(held->frame + 6, mac, 6) == 0)
			attribution_learn(&replay->attribution, replay->capture, held->ifindex,
			                  held->frame, held->length);
		else
			replay->learn_not_vm++;
	}
	replay->held_count = kept;
}

static void
on_wire_request(void *arg, const struct wire_request *request)
{
	struct replay *replay = arg;

	crawl_request(replay->crawl, request);
}

static void
on_wire_robots(void *arg, const struct wire_robots *reply)
{
	struct replay *replay = arg;

	crawl_robots(replay->crawl, reply);
}

static void
on_crawler_finding(void *arg, int ifindex, const struct crawler_finding *crawler)
{
	struct replay *replay = arg;
	struct finding finding;

	crawler_finding_convert(crawler, (unsigned)ifindex, &finding);
	engine_handle_finding(&replay->engine, &finding);
}

static uint16_t
read_be16(const unsigned char *bytes)
{
	return (uint16_t)(bytes[0] << 8 | bytes[1]);
}

static uint32_t
read_be32(const unsigned char *bytes)
{
	return (uint32_t)bytes[0] << 24 | (uint32_t)bytes[1] << 16 | (uint32_t)bytes[2] << 8 |
	       bytes[3];
}

/*
 * The program's interface for a VM-facing interface name: the same one
 * every time, with the VM's addresses written under it, as when the daemon
 * attaches to it. Past limits.max_interfaces the interface has no VM
 * (logged): its sources are unverified, as live.
 */
static int
interface_ifindex(struct replay *replay, const char *name)
{
	const struct vm *vm = vm_find(&replay->attribution.vms, name);
	int ifindex;

	if (vm != NULL && vm->ifindex > 0)
		return vm->ifindex;
	/* A new interface changes the program's maps: the frames before it run first. */
	batch_flush(replay);
	ifindex = ++replay->last_ifindex;
	attribution_interface(&replay->attribution, replay->capture, ifindex, name, true);
	return ifindex;
}

/* The VM-facing interface a cooked v2 index names: the command line's, else this host's. */
static const char *
capture_index_name(struct replay *replay, uint32_t index, char name[IF_NAMESIZE])
{
	const struct replay_options *options = replay->options;
	const char *local;
	char here[IF_NAMESIZE + 16];

	for (unsigned i = 0; i < options->index_count; i++)
		if (options->indexes[i].index == index)
			return options->indexes[i].name;
	local = if_indextoname(index, name);
	if (local != NULL && capture_interface_wanted(replay->config, local))
		return local;
	if (local != NULL)
		snprintf(here, sizeof(here), "%s on this host", local);
	else
		snprintf(here, sizeof(here), "unknown on this host");
	log_warnx("%s: packet %llu: the capture's interface %u (%s) is none of the policy's "
	          "VM-facing interfaces: its packets are skipped (--replay-interface %u=NAME "
	          "names it)",
	          replay->file->name, (unsigned long long)replay->file->packet, index, here, index);
	return NULL;
}

/* The program's interface for a cooked v2 capture's interface index; 0 if it is no VM's. */
static int
capture_index_interface(struct replay *replay, uint32_t index)
{
	char buffer[IF_NAMESIZE];
	const char *name;
	int ifindex;

	for (unsigned i = 0; i < replay->index_count; i++)
		if (replay->indexes[i].index == index)
			return replay->indexes[i].ifindex;
	name = capture_index_name(replay, index, buffer);
	ifindex = name != NULL ? interface_ifindex(replay, name) : 0;
	/* Past the table's room, looked up (and said) again. */
	if (replay->index_count < REPLAY_CAPTURE_INDEXES)
		replay->indexes[replay->index_count++] =
		    (struct capture_index){.index = index, .ifindex = ifindex};
	return ifindex;
}

/*
 * The program's interface for a pcapng interface block: its if_name when it
 * is one of the policy's VM-facing interfaces (another is no VM's: skipped,
 * and said once), else, unnamed, the interface that packets naming none
 * stand for (the first block), or "(capture ID)".
 */
static int
pcapng_interface_ifindex(struct replay *replay, const struct pcapng_interface *interface)
{
	char unnamed[32];

	if (interface->named && capture_interface_wanted(replay->config, interface->name))
		return interface_ifindex(replay, interface->name);
	if (interface->named) {
		log_warnx(
		    "%s: packet %llu: the capture's interface %u (%s) is none of the policy's "
		    "VM-facing interfaces: its packets are skipped",
		    replay->file->name, (unsigned long long)replay->file->packet, interface->id,
		    interface->name);
		return PCAPNG_NOT_VM;
	}
	if (interface->id == 0)
		return replay->unnamed_ifindex;
	snprintf(unnamed, sizeof(unnamed), "(capture %u)", interface->id);
	return interface_ifindex(replay, unnamed);
}

static void
pcapng_walk_close(struct replay_file *file)
{
	pcapng_close(file->pcapng);
	if (file->pcapng_stream != NULL)
		fclose(file->pcapng_stream);
	file->pcapng = NULL;
	file->pcapng_stream = NULL;
}

/*
 * The interface of the packet libpcap just read, from the block walk beside
 * it. A walk that fails leaves the rest of the file's packets naming none.
 */
static void
pcapng_packet_interface(struct replay *replay)
{
	struct replay_file *file = replay->file;
	struct pcapng_interface interface;
	int r;

	file->packet_ifindex = 0;
	if (file->pcapng == NULL)
		return;
	if ((r = pcapng_next_packet(file->pcapng, &interface)) != 1) {
		log_warnx("%s: packet %llu: the pcapng blocks cannot be walked (%s): this and the "
		          "later packets name no interface",
		          file->name, (unsigned long long)file->packet,
		          r == 0 ? "no packet block left" : strerror(-r));
		pcapng_walk_close(file);
		return;
	}
	if (interface.section != file->pcapng_section) {
		memset(file->pcapng_ifindex, 0, sizeof(file->pcapng_ifindex));
		file->pcapng_section = interface.section;
	}
	if (file->pcapng_ifindex[interface.id] == PCAPNG_UNKNOWN)
		file->pcapng_ifindex[interface.id] = pcapng_interface_ifindex(replay, &interface);
	file->packet_ifindex = file->pcapng_ifindex[interface.id];
}

/*
 * A second reading of a pcapng file, for its interface blocks. None for
 * standard input (read once), a pcap file, or a file whose header the walk
 * refuses (said; libpcap may still read it): its packets name no interface.
 */
static void
pcapng_walk_open(struct replay_file *file, const char *path)
{
	FILE *stream;
	int r;

	if (strcmp(path, "-") == 0 || (stream = fopen(path, "rb")) == NULL)
		return;
	if ((r = pcapng_open(&file->pcapng, stream)) < 0) {
		if (r != -ENOMSG)
			log_warnx(
			    "%s: its pcapng section header cannot be walked (%s): its packets "
			    "name no interface",
			    file->name, strerror(-r));
		fclose(stream);
		return;
	}
	file->pcapng_stream = stream;
}

/* 0 (not IP) lets the program count the packet as other layer 3. */
static uint16_t
ip_ethertype(unsigned version)
{
	if (version == 4)
		return ETHERTYPE_IPV4;
	if (version == 6)
		return ETHERTYPE_IPV6;
	return 0;
}

static void
link_init(struct replay_file *file, int link_type)
{
	file->link_header_length = 0;
	switch (link_type) {
	case DLT_EN10MB:
		file->link = LINK_ETHERNET;
		file->link_header_length = ETHERNET_HEADER_LENGTH;
		break;
	case DLT_LINUX_SLL:
		file->link = LINK_SLL;
		file->link_header_length = SLL_HEADER_LENGTH;
		break;
	case DLT_LINUX_SLL2:
		file->link = LINK_SLL2;
		file->link_header_length = SLL2_HEADER_LENGTH;
		break;
	case DLT_RAW:
	case DLT_IPV4:
	case DLT_IPV6:
		file->link = LINK_IP;
		break;
	default:
		file->link = LINK_UNSUPPORTED;
		break;
	}
}

/*
 * A frame that opens a conversation: TCP SYN without ACK, UDP, ICMP echo
 * request. The first such frame of an Ethernet capture comes from the VM.
 */
static int
frame_opens_contact(const unsigned char *frame, size_t length)
{
	uint16_t ethertype;
	size_t transport;
	unsigned protocol;

	if (length < ETHERNET_HEADER_LENGTH + 40)
		return 0;
	ethertype = read_be16(frame + 12);
	if (ethertype == ETHERTYPE_IPV4) {
		protocol = frame[ETHERNET_HEADER_LENGTH + 9];
		transport = ETHERNET_HEADER_LENGTH + (frame[ETHERNET_HEADER_LENGTH] & 0x0f) * 4u;
	} else if (ethertype == ETHERTYPE_IPV6) {
		protocol = frame[ETHERNET_HEADER_LENGTH + 6];
		transport = ETHERNET_HEADER_LENGTH + 40;
	} else {
		return 0;
	}
	if (protocol == 17)
		return 1;
	if (transport + 14 > length)
		return 0;
	if (protocol == 6)
		return (frame[transport + 13] & 0x12) == 0x02; /* SYN, no ACK */
	return (protocol == 1 && frame[transport] == 8) ||
	       (protocol == 58 && frame[transport] == 128);
}

/*
 * Ethernet captures of a VM's interface hold both directions: frames from
 * the VM's MAC go through XDP, the rest through the egress program.
 */
static enum capture_direction
ethernet_direction(struct replay *replay, const unsigned char *frame, size_t length, int ifindex)
{
	struct replay_file *file = replay->file;
	const unsigned char *mac = file_vm_mac(file, ifindex);
	struct vm_mac *known;

	/* The hypervisor's broadcasts and multicasts too go toward the VM, as live. */
	if (mac != NULL)
		return memcmp(frame + 6, mac, 6) == 0 ? CAPTURE_FROM_VM : CAPTURE_TOWARD_VM;
	if (frame_opens_contact(frame, length) && file->vm_mac_count < REPLAY_FILE_VMS) {
		/* The frames waiting in a batch learn (or are held) as before this one. */
		batch_flush(replay);
		known = &file->vm_macs[file->vm_mac_count++];
		known->ifindex = ifindex;
		memcpy(known->mac, frame + 6, sizeof(known->mac));
		held_learn_settle(replay, ifindex, known->mac);
	}
	return CAPTURE_FROM_VM;
}

/*
 * The frame to run: the packet itself for Ethernet, else the payload behind
 * an Ethernet header with zero addresses and the protocol the link layer
 * names. Returns the frame's length, or 0 after counting a skip.
 */
static size_t
frame_build(struct replay *replay, const unsigned char *data, size_t length,
            const unsigned char **frame, enum capture_direction *direction, int *ifindex)
{
	const struct replay_file *file = replay->file;
	size_t payload_length;
	uint16_t protocol = 0;
	int packet_type = 0;

	*ifindex = file->packet_ifindex > 0 ? file->packet_ifindex : replay->unnamed_ifindex;
	if (file->packet_ifindex == PCAPNG_NOT_VM) {
		packet_skip(replay, SKIP_NOT_VM, NULL); /* said once per interface block */
		return 0;
	}

	/* Raw IP has no link header, but its first byte names the version. */
	if (length < file->link_header_length || length == 0) {
		packet_skip(replay, SKIP_SHORT, "%zu bytes, the link header alone is %zu", length,
		            file->link_header_length);
		return 0;
	}
	switch (file->link) {
	case LINK_ETHERNET:
		*frame = data;
		*direction = ethernet_direction(replay, data, length, *ifindex);
		return length;
	case LINK_SLL:
		packet_type = read_be16(data + SLL_PACKET_TYPE);
		protocol = read_be16(data + SLL_PROTOCOL);
		break;
	case LINK_SLL2:
		packet_type = data[SLL2_PACKET_TYPE];
		protocol = read_be16(data + SLL2_PROTOCOL);
		*ifindex = capture_index_interface(replay, read_be32(data + SLL2_INTERFACE));
		if (*ifindex == 0) {
			packet_skip(replay, SKIP_NOT_VM, NULL); /* said once per index */
			return 0;
		}
		break;
	case LINK_IP:
		protocol = ip_ethertype(data[0] >> 4);
		break;
	case LINK_UNSUPPORTED:
		return 0;
	}
	payload_length = length - file->link_header_length;
	if (payload_length > REPLAY_MAX_FRAME - ETHERNET_HEADER_LENGTH) {
		packet_skip(replay, SKIP_RUN_FAILED, "%zu bytes is longer than a frame can be",
		            length);
		return 0;
	}
	memset(replay->frame, 0, 12);
	replay->frame[12] = (unsigned char)(protocol >> 8);
	replay->frame[13] = (unsigned char)protocol;
	memcpy(replay->frame + ETHERNET_HEADER_LENGTH, data + file->link_header_length,
	       payload_length);
	*frame = replay->frame;
	/* What leaves a VM's interface goes toward the VM: the tc egress program's, as live. */
	*direction = packet_type == SLL_PACKET_OUTGOING ? CAPTURE_TOWARD_VM : CAPTURE_FROM_VM;
	return ETHERNET_HEADER_LENGTH + payload_length;
}

/* As the daemon's timer does live: the scan sweep once a second, on the capture's clock. */
static void
replay_sweep(struct replay *replay, uint64_t time_ns)
{
	if (time_ns < replay->next_sweep_ns)
		return;
	if (replay->next_sweep_ns != 0 && capture_sweep(replay->capture, time_ns) < 0)
		log_warnx("replay: scan sweep failed");
	crawl_tick(replay->crawl, (int64_t)(time_ns / NS_PER_MS));
	replay->next_sweep_ns = time_ns + NS_PER_MS * 1000;
}

/*
 * After the last packet, the clock runs on until every probe has had its
 * timeout, so a scan at the end of the capture is judged as it would be live.
 */
static void
replay_finish(struct replay *replay)
{
	uint64_t end_ns =
	    replay->latest_ns + 2 * (uint64_t)replay->config->scan.timeout_ms * NS_PER_MS;

	if (replay->latest_ns == 0)
		return;
	clock_set(&replay->clock, (int64_t)(end_ns / NS_PER_MS));
	if (capture_sweep(replay->capture, end_ns) < 0)
		log_warnx("replay: scan sweep failed");
	crawl_tick(replay->crawl, (int64_t)(end_ns / NS_PER_MS));
}

/*
 * The packet's time in ns: its time stamp, or, when that is none (0, as a
 * pcapng Simple Packet Block has, or before the epoch) or past the host's
 * clock, the previous packet's time, counted and for the first few per file
 * named. Never a reason to skip the packet or to stop the clock.
 */
static uint64_t
packet_time(struct replay *replay, const struct pcap_pkthdr *header)
{
	struct replay_file *file = replay->file;
	int64_t seconds = (int64_t)header->ts.tv_sec;
	enum time_fault fault;
	uint64_t time_ns;
	char when[40];

	/* tv_usec holds nanoseconds: the file was opened with nanosecond precision. */
	if (seconds >= 0 && seconds <= replay->future_s) {
		time_ns = (uint64_t)seconds * 1000000000ULL + (uint64_t)header->ts.tv_usec;
		if (time_ns > 0)
			return time_ns;
	}
	fault = seconds > replay->future_s ? TIME_FUTURE : TIME_NONE;
	time_ns = replay->latest_ns > 0 ? replay->latest_ns : REPLAY_UNTIMED_START_NS;
	replay->stats.retimed[fault]++;
	if (file->retimed[fault]++ < REPLAY_REPORTS_PER_REASON)
		log_warnx("%s: packet %llu: %s (%lld s): run at the previous packet's time, %s",
		          file->name, (unsigned long long)file->packet, time_fault_names[fault],
		          (long long)seconds,
		          clock_format_utc_ms((int64_t)(time_ns / NS_PER_MS), when, sizeof(when)));
	return time_ns;
}

/* After the program ran a frame: the same frame through the HTTP path, and the counts. */
static void
frame_done(struct replay *replay, int ifindex, const unsigned char *frame, size_t length,
           uint64_t time_ns, enum capture_direction direction)
{
	wire_packet(replay->wire, ifindex, frame, length, length, (int64_t)(time_ns / 1000),
	            direction == CAPTURE_FROM_VM);
	replay->stats.packets_run++;
	if (replay->stats.first_ns == 0)
		replay->stats.first_ns = time_ns;
	replay->stats.last_ns = time_ns;
}

/* One test run for one frame, its events handed over at once. */
static void
frame_run(struct replay *replay, const unsigned char *frame, size_t length, uint64_t time_ns,
          enum capture_direction direction, int ifindex)
{
	int error;

	clock_set(&replay->clock, (int64_t)(time_ns / NS_PER_MS));
	error = capture_run_packet(replay->capture, frame, length, time_ns, direction, ifindex);
	if (error < 0) {
		packet_skip(replay, SKIP_RUN_FAILED, "%s", strerror(-error));
		return;
	}
	frame_done(replay, ifindex, frame, length, time_ns, direction);
}

/*
 * Hands over what frames first .. end - 1 of the batch made, frame by frame
 * as if each had run alone: the clock at the frame's time, its events (the
 * driver noted the events ring's position before each frame), the last
 * frame's learning frames, then the HTTP path.
 */
static void
batch_dispatch(struct replay *replay, unsigned first, unsigned end, size_t *next_event)
{
	for (unsigned i = first; i < end; i++) {
		const struct replay_batch_slot *slot = capture_batch_slot(replay->capture, i);
		const struct replay_batch_slot *after = capture_batch_slot(replay->capture, i + 1);
		uint64_t events =
		    (after->events_position - slot->events_position) / REPLAY_EVENT_RECORD_BYTES;

		replay->file->packet = replay->batch_packets[i];
		clock_set(&replay->clock, (int64_t)(slot->time_ns / NS_PER_MS));
		for (; events > 0 && *next_event < replay->queued_count; events--)
			abuse_event_handle(replay, &replay->queued[(*next_event)++]);
		if (i + 1 == end) {
			for (unsigned k = 0; k < replay->queued_learn_count; k++)
				learn_frame_handle(
				    replay, replay->capture, replay->queued_learn[k].ifindex,
				    replay->queued_learn[k].frame, replay->queued_learn[k].length);
			replay->queued_learn_count = 0;
		}
		frame_done(replay, (int)slot->ifindex, slot->frame, slot->length, slot->time_ns,
		           slot->toward_vm ? CAPTURE_TOWARD_VM : CAPTURE_FROM_VM);
	}
}

/*
 * Runs the frames waiting in the batch, in as few test runs as the driver
 * allows (it stops after a frame that handed up a learning frame, and when
 * the events ring might fill), and hands over what each made in order.
 */
static void
batch_flush(struct replay *replay)
{
	unsigned first = 0, count = replay->batch_count, ran = 0;
	size_t next_event;
	uint64_t current;
	int error;

	if (count == 0)
		return;
	current = replay->file->packet;
	while (first < count) {
		error = capture_batch_run(replay->capture, first, count, &ran);
		replay->queued_count = 0;
		replay->queued_learn_count = 0;
		replay->queueing = 1;
		if (capture_consume(replay->capture) < 0)
			log_warnx("replay: reading the events ring failed");
		replay->queueing = 0;
		replay->stats.batches++;
		if (error < 0) {
			for (; first < count; first++) {
				replay->file->packet = replay->batch_packets[first];
				packet_skip(replay, SKIP_RUN_FAILED, "batch of %u: %s",
				            count - first, strerror(-error));
			}
			break;
		}
		next_event = 0;
		batch_dispatch(replay, first, ran, &next_event);
		if (next_event < replay->queued_count) {
			/* Never seen: every event is a fixed-size record. Handed over late,
			 * counted. */
			replay->stats.batch_events_unmatched += replay->queued_count - next_event;
			for (; next_event < replay->queued_count; next_event++)
				abuse_event_handle(replay, &replay->queued[next_event]);
		}
		if (ran == first) {
			/* The driver could not start this frame: it runs alone. */
			const struct replay_batch_slot *slot =
			    capture_batch_slot(replay->capture, first);

			replay->file->packet = replay->batch_packets[first];
			frame_run(replay, slot->frame, slot->length, slot->time_ns,
			          slot->toward_vm ? CAPTURE_TOWARD_VM : CAPTURE_FROM_VM,
			          (int)slot->ifindex);
			ran = first + 1;
		}
		first = ran;
	}
	replay->batch_count = 0;
	replay->file->packet = current;
}

/* Whether the frame may wait in a batch: the driver can copy it in. */
static int
frame_batchable(const struct replay *replay, size_t length)
{
	return capture_batch_size(replay->capture) > 0 && length >= ETHERNET_HEADER_LENGTH &&
	       length <= REPLAY_BATCH_FRAME_BYTES;
}

static void
batch_add(struct replay *replay, const unsigned char *frame, size_t length, uint64_t time_ns,
          enum capture_direction direction, int ifindex)
{
	struct replay_batch_slot *slot = capture_batch_slot(replay->capture, replay->batch_count);

	slot->time_ns = time_ns;
	slot->ifindex = (uint32_t)ifindex;
	slot->length = (uint16_t)length;
	slot->toward_vm = direction == CAPTURE_TOWARD_VM;
	memcpy(slot->frame, frame, length);
	replay->batch_packets[replay->batch_count++] = replay->file->packet;
	if (replay->batch_count == capture_batch_size(replay->capture))
		batch_flush(replay);
}

static void
replay_packet(struct replay *replay, const struct pcap_pkthdr *header, const unsigned char *data)
{
	const unsigned char *frame;
	enum capture_direction direction = CAPTURE_FROM_VM;
	char when[40], before[40];
	uint64_t time_ns;
	size_t length;
	int ifindex;

	replay->stats.packets_read++;
	if (replay->file->link == LINK_UNSUPPORTED) {
		packet_skip(replay, SKIP_LINK_TYPE, NULL); /* said once, when the file opened */
		return;
	}
	time_ns = packet_time(replay, header);
	if (time_ns < replay->latest_ns) {
		packet_skip(replay, SKIP_OUT_OF_ORDER, "time %s is before the previous packet's %s",
		            clock_format_utc_ms((int64_t)(time_ns / NS_PER_MS), when, sizeof(when)),
		            clock_format_utc_ms((int64_t)(replay->latest_ns / NS_PER_MS), before,
		                                sizeof(before)));
		return;
	}
	replay->latest_ns = time_ns;
	if (header->caplen < header->len) {
		packet_skip(replay, SKIP_TRUNCATED, "captured %u of %u bytes", header->caplen,
		            header->len);
		return;
	}
	length = frame_build(replay, data, header->caplen, &frame, &direction, &ifindex);
	if (length == 0)
		return;
	if (!frame_batchable(replay, length) || time_ns >= replay->next_sweep_ns)
		batch_flush(replay);
	clock_set(&replay->clock, (int64_t)(time_ns / NS_PER_MS));
	replay_sweep(replay, time_ns);
	if (frame_batchable(replay, length))
		batch_add(replay, frame, length, time_ns, direction, ifindex);
	else
		frame_run(replay, frame, length, time_ns, direction, ifindex);
}

/* Warns once per file about what makes its packets unusable as a whole. */
static void
file_check(struct replay_file *file, pcap_t *pcap)
{
	int link_type = pcap_datalink(pcap);
	int snap_length = pcap_snapshot(pcap);
	const char *link_name = pcap_datalink_val_to_name(link_type);

	link_init(file, link_type);
	if (file->link == LINK_UNSUPPORTED) {
		log_warnx("%s: link type %s (%d) is not supported (Ethernet, Linux cooked "
		          "and raw IP are): its packets are skipped",
		          file->name, link_name != NULL ? link_name : "unknown", link_type);
		return;
	}
	if (snap_length > 0 && (size_t)snap_length < file->link_header_length + REPLAY_MIN_HEADERS)
		log_warnx("%s: snap length %d is shorter than the link, IP and TCP headers: "
		          "longer packets are skipped as truncated",
		          file->name, snap_length);
}

static void
file_report_rest(const struct replay_file *file)
{
	for (int reason = 0; reason < SKIP_COUNT; reason++)
		if (reason != SKIP_NOT_VM && reason != SKIP_LINK_TYPE &&
		    file->skipped[reason] > REPLAY_REPORTS_PER_REASON)
			log_warnx(
			    "%s: %llu more packets skipped, %s (not listed)", file->name,
			    (unsigned long long)(file->skipped[reason] - REPLAY_REPORTS_PER_REASON),
			    skip_names[reason]);
	if (file->skipped[SKIP_LINK_TYPE] > 0)
		log_warnx("%s: %llu packets skipped, %s", file->name,
		          (unsigned long long)file->skipped[SKIP_LINK_TYPE],
		          skip_names[SKIP_LINK_TYPE]);
	for (int fault = 0; fault < TIME_FAULT_COUNT; fault++)
		if (file->retimed[fault] > REPLAY_REPORTS_PER_REASON)
			log_warnx(
			    "%s: %llu more packets with %s run at the previous packet's time "
			    "(not listed)",
			    file->name,
			    (unsigned long long)(file->retimed[fault] - REPLAY_REPORTS_PER_REASON),
			    time_fault_names[fault]);
}

/* path "-" is standard input, once. Time stamps come scaled to nanoseconds. */
static pcap_t *
capture_file_open(struct replay *replay, const char *path, const char *name)
{
	char error_text[PCAP_ERRBUF_SIZE];
	FILE *stream;
	pcap_t *pcap;

	if (strcmp(path, "-") == 0) {
		if (replay->stdin_read) {
			log_warnx("%s: standard input can be replayed only once", name);
			return NULL;
		}
		replay->stdin_read = 1;
		stream = stdin;
	} else if ((stream = fopen(path, "rb")) == NULL) {
		log_warn("%s", name);
		return NULL;
	}
	/* Before the first read; one file is open at a time, pcap_close ends its use. */
	setvbuf(stream, replay->read_buffer, _IOFBF, REPLAY_READ_BUFFER_BYTES);
	pcap = pcap_fopen_offline_with_tstamp_precision(stream, PCAP_TSTAMP_PRECISION_NANO,
	                                                error_text);
	if (pcap == NULL) {
		log_warnx("%s: not a pcap or pcapng capture: %s", name, error_text);
		fclose(stream);
	}
	return pcap; /* pcap_close closes the stream */
}

/* 0, or -EINVAL for a file that is not a capture (reported here). */
static int
replay_file(struct replay *replay, const char *path)
{
	struct replay_file file = {.name = strcmp(path, "-") == 0 ? "(stdin)" : path};
	struct pcap_pkthdr *header;
	const unsigned char *data;
	pcap_t *pcap;
	int result = 0;

	pcap = capture_file_open(replay, path, file.name);
	if (pcap == NULL) {
		replay->stats.files_failed++;
		return -EINVAL;
	}
	replay->file = &file;
	file_check(&file, pcap);
	pcapng_walk_open(&file, path);
	while (!replay_interrupted && (result = pcap_next_ex(pcap, &header, &data)) == 1) {
		file.packet++;
		pcapng_packet_interface(replay);
		replay_packet(replay, header, data);
	}
	batch_flush(replay);
	pcapng_walk_close(&file);
	if (!replay_interrupted && result == PCAP_ERROR) {
		/* A capture cut short mid-record (tcpdump killed): what came before stands. */
		file.packet++;
		replay->stats.packets_read++;
		packet_skip(replay, SKIP_UNREADABLE, "%s; the rest of the file is skipped",
		            pcap_geterr(pcap));
	}
	/* A file that never showed its VM's MAC: its held frames teach nothing. */
	replay->learn_not_vm += replay->held_count;
	replay->held_count = 0;
	file_report_rest(&file);
	pcap_close(pcap);
	replay->stats.files_read++;
	return 0;
}

static void
summary_row(const char *label, uint64_t value)
{
	printf("# %-40s %12llu\n", label, (unsigned long long)value);
}

/* Tickets in the summary: the ones the replay filed, one line each. */
#define REPLAY_TICKETS_SHOWN 1000

static void
replay_tickets(const struct replay *replay)
{
	const struct ticket_stats *stats = &replay->tickets.stats;
	struct ticket_filter filter = {.status = -1};
	struct ticket page[64];
	char source[SOURCE_STRLEN];
	unsigned shown = 0;
	size_t count;

	summary_row("tickets opened", stats->opened);
	summary_row("  of them in the default queue", stats->unrouted);
	summary_row("events added to open tickets", stats->added + stats->reopened);
	summary_row("ticket errors", stats->store_errors);
	do {
		if (store_tickets(replay->store, &filter, page, 64, &count) < 0)
			return;
		for (size_t i = 0; i < count && shown < REPLAY_TICKETS_SHOWN; i++, shown++)
			printf("# ticket %lld: %s %s, customer %s%s, %llu event(s), %s%s%s\n",
			       (long long)page[i].id, category_name(page[i].category),
			       source_format(&page[i].source, source, sizeof(source)),
			       page[i].customer,
			       page[i].route == ROUTE_DEFAULT ? " (unrouted)" : "",
			       (unsigned long long)page[i].event_count,
			       ticket_status_name(page[i].status),
			       page[i].vm.interface[0] ? ", VM on " : "", page[i].vm.interface);
		if (count > 0)
			filter.after_id = page[count - 1].id;
	} while (count == 64 && shown < REPLAY_TICKETS_SHOWN);
	if (stats->opened > shown)
		printf("# (%llu more tickets not shown)\n",
		       (unsigned long long)(stats->opened - shown));
}

static void
replay_summary(const struct replay *replay)
{
	const struct replay_stats *stats = &replay->stats;
	const struct config *config = replay->config;
	struct capture_stats program;
	char label[64], first[40], last[40], duration[32];
	uint64_t skipped = 0;
	unsigned filled;

	capture_stats(replay->capture, &program);
	for (int reason = 0; reason < SKIP_COUNT; reason++)
		skipped += stats->skipped[reason];
	printf("# replay summary: policy %s, mode %s; nothing was banned\n", config->path,
	       config->mode == MODE_OBSERVE ? "observe" : "enforce");
	summary_row("files read", stats->files_read);
	summary_row("files not read", stats->files_failed);
	if (stats->packets_run > 0)
		printf(
		    "# %-40s %s .. %s\n", "capture time",
		    clock_format_utc_ms((int64_t)(stats->first_ns / NS_PER_MS), first,
		                        sizeof(first)),
		    clock_format_utc_ms((int64_t)(stats->last_ns / NS_PER_MS), last, sizeof(last)));
	summary_row("packets read", stats->packets_read);
	summary_row("packets run", stats->packets_run);
	summary_row("packets skipped", skipped);
	for (int reason = 0; reason < SKIP_COUNT; reason++) {
		snprintf(label, sizeof(label), "  %s", skip_names[reason]);
		summary_row(label, stats->skipped[reason]);
	}
	summary_row("packets given the previous one's time",
	            stats->retimed[TIME_NONE] + stats->retimed[TIME_FUTURE]);
	for (int fault = 0; fault < TIME_FAULT_COUNT; fault++) {
		snprintf(label, sizeof(label), "  %s", time_fault_names[fault]);
		summary_row(label, stats->retimed[fault]);
	}
	summary_row("SMTP connection attempts (XDP)", program.counters[COUNTER_SMTP_ATTEMPTS]);
	summary_row("malformed packets (XDP)", program.counters[COUNTER_MALFORMED]);
	summary_row("threshold events (XDP)", program.counters[COUNTER_EVENTS]);
	summary_row("first contacts (XDP)", program.counters[COUNTER_SCAN_PROBES]);
	summary_row("  answered (tc)", program.counters[COUNTER_SCAN_ANSWERED]);
	summary_row("  rejected (tc)", program.counters[COUNTER_SCAN_REJECTED]);
	summary_row("  timed out", program.counters[COUNTER_SCAN_TIMEOUTS]);
	summary_row("  no verdict: no return path", program.counters[COUNTER_SCAN_NO_RETURN_PATH]);
	/* A capture of one interface shows only the upstream traffic toward its own VM. */
	summary_row("  no verdict: nothing came back from upstream",
	            program.counters[COUNTER_SCAN_NO_UPSTREAM]);
	summary_row("  no verdict: a router had no route", program.counters[COUNTER_SCAN_NO_ROUTE]);
	summary_row("  no verdict: refused, answered before",
	            program.counters[COUNTER_SCAN_KNOWN_REFUSED]);
	summary_row("packets from forged sources (XDP)", program.counters[COUNTER_SPOOFED]);
	summary_row("packets from unverified sources (XDP)", program.counters[COUNTER_UNVERIFIED]);
	summary_row("addresses learned (ARP, NDP, DHCP)", replay->attribution.vms.stats.learned);
	summary_row("learning frames not the VM's (Ethernet)", replay->learn_not_vm);
	summary_row("spoofing by a VM with no address known",
	            replay->attribution.spoofing_unattached);
	for (int category = 0; category < CATEGORY_COUNT; category++) {
		snprintf(label, sizeof(label), "sources flagged: %s", category_name(category));
		summary_row(label, stats->flagged[category]);
	}
	if (stats->flagged_untracked > 0)
		summary_row("findings of sources past the tracking limit",
		            stats->flagged_untracked);
	/* Said in the log, map by map; only a replay past the limits has the row. */
	if ((filled = capture_replay_filled(replay->capture)) > 0)
		summary_row("XDP maps that filled up (see the log)", filled);
	for (int action = 0; action <= ACTION_IGNORE; action++) {
		snprintf(label, sizeof(label), "decisions: %s", action_name(action));
		summary_row(label, stats->actions[action]);
	}
	for (unsigned rung = 0; rung < config->ladder.count && rung < LADDER_MAX_RUNGS; rung++) {
		duration_format(config->ladder.rungs[rung].duration_ms, duration, sizeof(duration));
		snprintf(label, sizeof(label), "bans on rung %u (%s)", rung + 1, duration);
		summary_row(label, stats->bans_per_rung[rung]);
	}
	summary_row("engine errors", replay->engine.stats.errors);
	replay_tickets(replay);
}

/* The store the engine needs, in a directory of its own that replay_close removes. */
static int
scratch_store_open(struct replay *replay)
{
	const char *directory = getenv("TMPDIR");
	char path[PATH_MAX + 16];

	if (directory == NULL || directory[0] == '\0')
		directory = "/tmp";
	snprintf(replay->scratch, sizeof(replay->scratch), "%s/abuseguard-replay.XXXXXX",
	         directory);
	if (mkdtemp(replay->scratch) == NULL) {
		log_warn("%s: scratch directory for the replay store", replay->scratch);
		replay->scratch[0] = '\0';
		return -EIO;
	}
	snprintf(path, sizeof(path), "%s/replay.db", replay->scratch);
	if (store_open(&replay->store, path) < 0)
		return -EIO;
	return store_scratch(replay->store);
}

static void
scratch_store_close(struct replay *replay)
{
	static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
	char path[PATH_MAX + 32];

	store_close(replay->store);
	if (replay->scratch[0] == '\0')
		return;
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		snprintf(path, sizeof(path), "%s/replay.db%s", replay->scratch, suffixes[i]);
		if (unlink(path) == -1 && errno != ENOENT)
			log_warn("%s: remove", path);
	}
	if (rmdir(replay->scratch) == -1)
		log_warn("%s: remove", replay->scratch);
}

static int
replay_open(struct replay *replay, const struct config *config,
            const struct replay_options *options)
{
	struct sigaction action = {.sa_handler = replay_interrupt};
	const struct capture_hooks capture_hooks = {
	    .on_event = on_abuse_event,
	    .on_learn = on_learn_frame,
	    .arg = replay,
	};
	const struct wire_hooks wire_hooks = {
	    .on_request = on_wire_request,
	    .on_robots = on_wire_robots,
	    .arg = replay,
	};
	struct wire_config wire_config;
	unsigned batch;

	memset(replay, 0, sizeof(*replay));
	replay->config = config;
	replay->options = options;
	clock_init_fixed(&replay->clock, 0);
	replay->future_s = (int64_t)time(NULL) + REPLAY_FUTURE_SLACK_S;
	/* Stop between packets, so the scratch store is removed. */
	sigemptyset(&action.sa_mask);
	sigaction(SIGINT, &action, NULL);
	sigaction(SIGTERM, &action, NULL);
	replay->frame = malloc(REPLAY_MAX_FRAME);
	replay->read_buffer = malloc(REPLAY_READ_BUFFER_BYTES);
	if (replay->frame == NULL || replay->read_buffer == NULL) {
		log_warn("replay: frame and read buffers");
		return -ENOMEM;
	}
	if (scratch_store_open(replay) < 0) {
		log_warnx("replay: cannot open a scratch store");
		return -EIO;
	}
	/* The policy's VMs; the operator's live in the daemon's store, which replay never opens. */
	if (attribution_open(&replay->attribution, NULL, config, &replay->clock, NULL) < 0) {
		log_warnx("replay: cannot set up the VM registry");
		return -ENOMEM;
	}
	replay->attribution_open = 1;
	if (engine_init(&replay->engine, config, &replay->clock, replay->store, NULL) < 0)
		return -ENOMEM;
	replay->engine.vms = &replay->attribution.vms;
	replay->engine.on_decision = on_decision;
	replay->engine.arg = replay;
	tickets_init(&replay->tickets, config, &replay->clock, replay->store);
	replay->engine.tickets = &replay->tickets;
	wire_config_from(config, &wire_config);
	if (wire_open(&replay->wire, NULL, &wire_config, &wire_hooks) < 0 ||
	    crawl_open(&replay->crawl, NULL, config, NULL, on_crawler_finding, replay) < 0) {
		log_warnx("replay: no memory for the HTTP path");
		return -ENOMEM;
	}
	batch = options->batch != 0 ? options->batch : REPLAY_BATCH_DEFAULT;
	if (batch > 1) {
		replay->batch_packets = calloc(batch, sizeof(*replay->batch_packets));
		/* The events ring holds at most this many: the driver stops before it fills. */
		replay->queued_room =
		    config->limits.ring_buffer_bytes / REPLAY_EVENT_RECORD_BYTES + 1;
		replay->queued = calloc(replay->queued_room, sizeof(*replay->queued));
		if (replay->batch_packets == NULL || replay->queued == NULL) {
			log_warnx("replay: no memory for batches of %u frames", batch);
			return -ENOMEM;
		}
	}
	if (capture_open_replay(&replay->capture, config, &capture_hooks, batch) < 0) {
		log_warnx("replay: cannot load the XDP program (root, or CAP_BPF and "
		          "CAP_NET_ADMIN, is needed)");
		return -EIO;
	}
	/*
	 * As on a hypervisor where every VM of the policy runs: their addresses
	 * are in the program before the first packet, so forging a neighbour
	 * that has not sent anything yet is seen for what it is.
	 */
	replay->unnamed_ifindex = interface_ifindex(
	    replay, options->interface != NULL ? options->interface : REPLAY_UNNAMED);
	for (unsigned i = 0; i < config->vm_count; i++)
		(void)interface_ifindex(replay, config->vms[i].interface);
	return 0;
}

static void
replay_close(struct replay *replay)
{
	capture_close(replay->capture);
	wire_close(replay->wire);
	crawl_close(replay->crawl);
	engine_close(&replay->engine);
	if (replay->attribution_open)
		attribution_close(&replay->attribution);
	scratch_store_close(replay);
	tdestroy(replay->flagged_root, free);
	free(replay->frame);
	free(replay->read_buffer);
	free(replay->batch_packets);
	free(replay->queued);
}

int
replay_option_interface(struct replay_options *options, const char *argument)
{
	const char *name = strchr(argument, '=');
	unsigned long index = 0;
	char *end = NULL;

	if (name != NULL) {
		errno = 0;
		index = strtoul(argument, &end, 10);
		if (end != name || argument[0] < '0' || argument[0] > '9' || errno != 0 ||
		    index == 0 || index > UINT32_MAX) {
			log_warnx("--replay-interface %s: INDEX=NAME wants an interface index from "
			          "1 before the '='",
			          argument);
			return -EINVAL;
		}
		name++;
	} else {
		name = argument;
	}
	if (name[0] == '\0' || strlen(name) >= IF_NAMESIZE || strchr(name, '/') != NULL) {
		log_warnx("--replay-interface %s: an interface name is 1 to %d characters, no '/'",
		          argument, IF_NAMESIZE - 1);
		return -EINVAL;
	}
	if (end == NULL) {
		options->interface = name;
		return 0;
	}
	for (unsigned i = 0; i < options->index_count; i++)
		if (options->indexes[i].index == index) {
			options->indexes[i].name = name; /* the last one given wins */
			return 0;
		}
	if (options->index_count >= options->index_max) {
		log_warnx("--replay-interface %s: at most %u interface indexes", argument,
		          options->index_max);
		return -EINVAL;
	}
	options->indexes[options->index_count++] =
	    (struct replay_index_name){.index = (uint32_t)index, .name = name};
	return 0;
}

int
replay_option_batch(struct replay_options *options, const char *argument)
{
	unsigned long frames;
	char *end;

	errno = 0;
	frames = strtoul(argument, &end, 10);
	if (argument[0] < '0' || argument[0] > '9' || *end != '\0' || errno != 0 || frames < 1 ||
	    frames > REPLAY_BATCH_MAX) {
		log_warnx("--replay-batch %s: frames per test run, 1 (one by one) to %u", argument,
		          REPLAY_BATCH_MAX);
		return -EINVAL;
	}
	options->batch = (unsigned)frames;
	return 0;
}

int
replay_session_open(struct replay **out, const struct config *config,
                    const struct replay_options *options)
{
	struct replay *replay = calloc(1, sizeof(*replay));
	int error;

	if (replay == NULL) {
		log_warn("replay: a session");
		return -ENOMEM;
	}
	if ((error = replay_open(replay, config, options)) < 0) {
		replay_close(replay);
		free(replay);
		return error;
	}
	*out = replay;
	return 0;
}

int
replay_session_file(struct replay *replay, const char *path)
{
	replay->latest_ns = 0;
	replay->next_sweep_ns = 0;
	return replay_file(replay, path);
}

void
replay_session_close(struct replay *replay)
{
	replay_close(replay);
	free(replay);
}

int
replay_run(const struct config *config, const struct replay_options *options)
{
	static struct replay replay;
	int status = 0;

	if (replay_open(&replay, config, options) < 0) {
		replay_close(&replay);
		return 1;
	}
	for (unsigned i = 0; i < options->file_count && !replay_interrupted; i++)
		if (replay_file(&replay, options->files[i]) < 0)
			status = 1;
	if (replay_interrupted) {
		log_warnx("replay interrupted: the summary covers the packets read so far");
		status = 1;
	}
	if (!replay_interrupted)
		replay_finish(&replay);
	/* A run that read no capture at all has nothing to sum up: the errors say it. */
	if (replay.stats.files_read > 0)
		replay_summary(&replay);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		log_warn("replay: standard output");
		status = 1;
	}
	replay_close(&replay);
	return status;
}
