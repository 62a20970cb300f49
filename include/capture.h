/*
 * Capture: loads the XDP program, attaches it to the VM-facing interfaces
 * the policy names (and to those that appear later, through rtnetlink),
 * and hands each detector event from the ring buffer to a callback.
 */
#ifndef CAPTURE_H
#define CAPTURE_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "abuseguard/abuseguard.h"
#include "config.h"
#include "source.h"
#include "loop.h"

struct capture;

typedef void (*capture_event_fn)(void *arg, const struct abuse_event *event);

/* What the daemon hears from capture besides events; any may be NULL. */
struct capture_hooks {
	capture_event_fn on_event;
	/* An ARP, NDP or DHCP frame (its start) from a VM, to learn from. */
	void (*on_learn)(void *arg, struct capture *capture, int ifindex, const void *frame,
	                 size_t length);
	/* An interface was attached (attached true) or detached. */
	void (*on_interface)(void *arg, struct capture *capture, int ifindex, const char *name,
	                     bool attached);
	/*
	 * Called when the ring has events, before they are read (live only):
	 * the other eye's view of the same moment goes first.
	 */
	void (*before_events)(void *arg);
	void *arg;
};

struct capture_interface {
	char name[IF_NAMESIZE];
	int ifindex;
	const char *xdp_mode; /* "native" or "generic" */
	const char *tc_mode;  /* "tcx", "clsact" or NULL: replies unseen */
};

struct capture_stats {
	uint64_t counters[COUNTER_COUNT]; /* the XDP program's, summed over CPUs */
	uint64_t attached, detached, attach_failures, interfaces_refused;
};

/*
 * Loads the program with the policy's map sizes and thresholds. With a loop,
 * attaches to every interface matching the policy and watches rtnetlink;
 * without one (replay), attaches nowhere and runs packets through
 * capture_run_packet with the packets' own time stamps.
 */
int capture_open(struct capture **out, struct loop *loop, const struct config *config,
                 capture_event_fn on_event, void *arg);
/* The same, with every hook. */
int capture_open_hooks(struct capture **out, struct loop *loop, const struct config *config,
                       const struct capture_hooks *hooks);
/* Detaches from every interface and unloads the program. */
void capture_close(struct capture *capture);
/* Rewrites the program's thresholds (reload) without reloading it. */
void capture_set_thresholds(struct capture *capture, const struct config *config);
/*
 * Sets an opened, not yet loaded skeleton up as the daemon loads it: map
 * sizes from the policy's limits, the replay clock or the live one, the
 * thresholds and limits. The benchmarks load their programs through it.
 */
struct abuseguard_bpf;
int capture_skeleton_prepare(struct abuseguard_bpf *skeleton, const struct config *config,
                             bool replay);
/*
 * Replay: the per-source and per-contact maps that filled up, each named in
 * the log with its limit (past it new entries were refused, where live
 * evicts the least recently used). 0 when the replay stayed within them.
 */
unsigned capture_replay_filled(struct capture *capture);
void capture_stats(struct capture *capture, struct capture_stats *out);
/* Fills out with up to max attached interfaces; returns how many there are. */
size_t capture_interfaces(const struct capture *capture, struct capture_interface *out, size_t max);
/*
 * Forgets a source's counters (spam and scan), so that after an operator's
 * lift a new burst or scan is seen at once rather than when the program's
 * window ends.
 */
void capture_forget(struct capture *capture, const struct source_key *source);
enum capture_direction {
	CAPTURE_FROM_VM,   /* through the XDP program */
	CAPTURE_TOWARD_VM, /* through the tc egress program */
};

/*
 * Replay: one frame through a program at time_ns, as a packet of interface
 * ifindex (0: the loopback device the test run uses); events go to the
 * callback. Replay's interfaces need not exist: ifindex only names one in
 * the program's maps, as capture_vm_sync writes them.
 */
int capture_run_packet(struct capture *capture, const void *frame, size_t length, uint64_t time_ns,
                       enum capture_direction direction, int ifindex);
/* Is name a VM-facing interface: does it match one of the policy's interfaces patterns? */
bool capture_interface_wanted(const struct config *config, const char *name);
/*
 * Turns the probes that timed out by time_ns into failures, for every
 * source (the daemon calls it about once a second, replay on the capture's
 * clock). time_ns is the program clock; live, it is ignored.
 */
int capture_sweep(struct capture *capture, uint64_t time_ns);

/*
 * Replay in batches (include/abuseguard/replay_batch.h): capture_open_replay
 * loads the batch driver with room for batch_size frames (0 or 1: none, one
 * test run per packet). The caller fills slots first .. count - 1
 * (capture_batch_slot) and runs them; *ran is the first slot that did not
 * run (count, or earlier: a frame handed up a learning frame, or the events
 * ring is nearly full). The events stay in the ring until capture_consume
 * hands them to the hooks; each slot's events_position then says which
 * frame made them.
 */
int capture_open_replay(struct capture **out, const struct config *config,
                        const struct capture_hooks *hooks, unsigned batch_size);
unsigned capture_batch_size(const struct capture *capture);
struct replay_batch_slot *capture_batch_slot(struct capture *capture, unsigned index);
int capture_batch_run(struct capture *capture, unsigned first, unsigned count, unsigned *ran);
int capture_consume(struct capture *capture);

/*
 * Makes the program's view of an interface match the VM's addresses (vm
 * NULL: forget the interface): its entries in the address maps, under its
 * ifindex and under 0, and its policy flags. 0 or -errno (logged).
 */
struct vm;
int capture_vm_sync(struct capture *capture, int ifindex, const struct vm *vm, bool drop);
/*
 * The same on a loaded skeleton's maps (the tests' and benchmarks' own):
 * "vm_sources" for the IPv4 /32s and IPv6 /64s, the trie "vm_addresses" for
 * other lengths, "interface_policies"; -errno, not logged.
 */
int capture_vm_maps_sync(struct abuseguard_bpf *skeleton, int ifindex, const struct vm *vm,
                         bool drop);
/*
 * The interface's policy flags for the XDP program: INTERFACE_KNOWN_IPV4 or
 * _IPV6 for each family it holds addresses of, both when they are configured,
 * INTERFACE_PREFIXES if any is of a length the trie holds.
 */
uint32_t capture_interface_flags(const struct vm *vm, bool drop);
/* The address trie's key for an address of ifindex (0: the all-interfaces copy). */
void capture_address_key(const struct prefix *prefix, int ifindex, struct vm_address_key *key);
/* The program's state of one interface; -ENOENT if it has none. */
int capture_interface_state(struct capture *capture, int ifindex, struct interface_state *out);

/* The families capture_upstream_ages reports, in its array's order. */
enum { UPSTREAM_IPV4, UPSTREAM_IPV6, UPSTREAM_FAMILIES };

/*
 * How long ago something from beyond the host last came toward any VM, per
 * family, in milliseconds, as the egress programs record it (at most every
 * quarter second); -1: never since they were loaded. Live only: replay's
 * programs run on the capture's clock.
 */
void capture_upstream_ages(struct capture *capture, int64_t ages_ms[UPSTREAM_FAMILIES]);

#endif
