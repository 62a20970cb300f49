/*
 * The control socket's commands: one handler each, in one table. The
 * control module has checked who asks (and that a change has a reason)
 * before a handler runs; a handler reads or changes the daemon and answers
 * with a reply object, or fails with a result code and a message naming
 * what was wrong.
 */
#include <ctype.h>
#include <errno.h>
#include <net/if.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <jansson.h>
#include <sqlite3.h>
#include <sys/utsname.h>

#include "commands.h"
#include "daemon.h"
#include "outbox.h"
#include "log.h"
#include "pending.h"
#include "protocol.h"
#include "request.h"
#include "source.h"
#include "ticket_commands.h"
#include "vm.h"

static const char *const counter_names[COUNTER_COUNT] = {
    [COUNTER_PACKETS] = "packets",
    [COUNTER_IPV4] = "ipv4",
    [COUNTER_IPV6] = "ipv6",
    [COUNTER_VLAN] = "vlan",
    [COUNTER_OTHER_L3] = "other_l3",
    [COUNTER_MALFORMED] = "malformed",
    [COUNTER_SMTP_ATTEMPTS] = "smtp_attempts",
    [COUNTER_SOURCES_NEW] = "sources_new",
    [COUNTER_EVENTS] = "events",
    [COUNTER_EVENTS_LOST] = "events_lost",
    [COUNTER_SCAN_PROBES] = "scan_probes",
    [COUNTER_SCAN_ANSWERED] = "scan_answered",
    [COUNTER_SCAN_REJECTED] = "scan_rejected",
    [COUNTER_SCAN_TIMEOUTS] = "scan_timeouts",
    [COUNTER_SCAN_NO_RETURN_PATH] = "scan_no_return_path",
    [COUNTER_SCAN_NO_UPSTREAM] = "scan_no_upstream",
    [COUNTER_SCAN_NO_ROUTE] = "scan_no_route",
    [COUNTER_SCAN_KNOWN_REFUSED] = "scan_known_refused",
    [COUNTER_SCAN_QUOTA] = "scan_pending_quota_full",
    [COUNTER_SCAN_SOURCES_NEW] = "scan_sources_new",
    [COUNTER_SPOOFED] = "spoofed",
    [COUNTER_UNVERIFIED] = "unverified",
    [COUNTER_LEARN_FRAMES] = "learn_frames",
    [COUNTER_LEARN_DROPPED] = "learn_frames_dropped",
    [COUNTER_INTERFACE_QUOTA] = "interface_quota_refused",
    [COUNTER_PAIRS_CAPPED] = "smtp_pairs_capped",
    [COUNTER_TINY_FRAGMENTS] = "tiny_fragments",
};

/* Whether decisions are being recorded: never "healthy" while they are not. */
static json_t *
store_status(const struct daemon *daemon)
{
	struct store_health health;

	const struct pending *pending = &daemon->engine.pending;

	store_health(daemon->store, &health);
	return json_pack("{s:b, s:I, s:s, s:i, s:i, s:I, s:I, s:I}", "healthy",
	                 health.healthy && pending->count == 0, "errors", (json_int_t)health.errors,
	                 "last_error", health.last_error, "pending", (int)pending->count,
	                 "pending_max", (int)pending->size, "pending_dropped",
	                 (json_int_t)pending->dropped, "pending_written",
	                 (json_int_t)pending->written, "pruned", (json_int_t)daemon->store_pruned);
}

/* What runs: this daemon, and the libraries and kernel under it. */
static json_t *
versions_json(void)
{
	struct utsname system;

	if (uname(&system) == -1)
		snprintf(system.release, sizeof(system.release), "unknown");
	return json_pack("{s:s, s:s, s:s, s:s, s:s}", "abuseguard", ABUSEGUARD_VERSION, "libbpf",
	                 libbpf_version_string(), "sqlite", sqlite3_libversion(), "jansson",
	                 JANSSON_VERSION, "kernel", system.release);
}

/* Whether the ban table is in the kernel, as the daemon last checked or checks now. */
/*
 * How long ago traffic from beyond the host last came toward any VM, per
 * family: while it is older than the probes, their timeouts give no verdict.
 */
static json_t *
upstream_status(struct daemon *daemon)
{
	int64_t ages_ms[UPSTREAM_FAMILIES];

	capture_upstream_ages(daemon->capture, ages_ms);
	return json_pack(
	    "{s:o, s:o}", "ipv4_ms_ago",
	    ages_ms[UPSTREAM_IPV4] < 0 ? json_null() : json_integer(ages_ms[UPSTREAM_IPV4]),
	    "ipv6_ms_ago",
	    ages_ms[UPSTREAM_IPV6] < 0 ? json_null() : json_integer(ages_ms[UPSTREAM_IPV6]));
}

static json_t *
nft_status(struct daemon *daemon)
{
	int present = nft_table_present(daemon->nft);

	return json_pack("{s:s, s:o, s:I}", "table", daemon->config.nft_table, "present",
	                 present < 0 ? json_null() : json_boolean(present > 0), "restores",
	                 (json_int_t)daemon->nft_restores);
}

/* The tickets' counters: the status counter's name, the metric's event label, the field. */
static const struct {
	const char *counter, *event;
	size_t offset;
} ticket_counters[] = {
    {"tickets_opened", "opened", offsetof(struct ticket_stats, opened)},
    {"ticket_events_added", "added", offsetof(struct ticket_stats, added)},
    {"tickets_reopened", "reopened", offsetof(struct ticket_stats, reopened)},
    {"ticket_updates", "updated", offsetof(struct ticket_stats, updates)},
    {"ticket_deadline_warnings", "deadline_warning", offsetof(struct ticket_stats, warnings)},
    {"tickets_escalated", "escalated", offsetof(struct ticket_stats, escalated)},
    {"tickets_closed", "closed", offsetof(struct ticket_stats, closed)},
    {"tickets_unrouted", "unrouted", offsetof(struct ticket_stats, unrouted)},
    {"ticket_store_errors", "store_error", offsetof(struct ticket_stats, store_errors)},
    {"ticket_delivery_refused", "delivery_refused", offsetof(struct ticket_stats, sink_errors)},
};

static uint64_t
ticket_counter(const struct daemon *daemon, size_t i)
{
	return *(const uint64_t *)((const char *)&daemon->tickets.stats +
	                           ticket_counters[i].offset);
}

static json_t *
command_status(void *context, const struct control_peer *peer, json_t *request,
               struct control_error *error)
{
	struct daemon *daemon = context;
	struct capture_interface *interfaces;
	struct capture_stats stats;
	struct control_stats control;
	const struct engine_stats *engine = &daemon->engine.stats;
	int64_t now_ms = clock_now_ms(&daemon->clock);
	json_t *reply, *list, *counters, *bans_active;
	size_t count, active4 = 0, active6 = 0;

	(void)peer;
	(void)request;
	/* A store that cannot be read says so in "store"; status still answers. */
	if (store_count_active(daemon->store, now_ms, SOURCE_FAMILY_IPV4, &active4) < 0 ||
	    store_count_active(daemon->store, now_ms, SOURCE_FAMILY_IPV6, &active6) < 0)
		bans_active = json_null();
	else
		bans_active = json_integer((json_int_t)(active4 + active6));
	capture_stats(daemon->capture, &stats);
	control_stats(daemon->control, &control);
	/* Every attached interface: at most limits.max_interfaces. */
	count = capture_interfaces(daemon->capture, NULL, 0);
	interfaces = calloc(count + 1, sizeof(*interfaces));
	if (interfaces == NULL)
		return control_fail(error, CTL_RESULT_FAILED, "out of memory");
	count = capture_interfaces(daemon->capture, interfaces, count);
	list = json_array();
	for (size_t i = 0; i < count; i++) {
		struct interface_state state = {0};

		/* No state yet: the VM has sent nothing since the program was loaded. */
		capture_interface_state(daemon->capture, interfaces[i].ifindex, &state);
		json_array_append_new(
		    list,
		    json_pack("{s:s, s:i, s:s, s:s, s:I, s:I, s:I, s:I, s:I}", "name",
		              interfaces[i].name, "ifindex", interfaces[i].ifindex, "xdp_mode",
		              interfaces[i].xdp_mode, "tc_mode",
		              interfaces[i].tc_mode ? interfaces[i].tc_mode : "none", "spoofed",
		              (json_int_t)state.spoofed, "unverified", (json_int_t)state.unverified,
		              "learn_frames", (json_int_t)state.learn_sent, "learn_frames_dropped",
		              (json_int_t)state.learn_dropped, "sources_refused",
		              (json_int_t)state.sources_refused));
	}
	free(interfaces);
	counters = json_object();
	for (int i = 0; i < COUNTER_COUNT; i++)
		json_object_set_new(counters, counter_names[i], json_integer(stats.counters[i]));
	json_object_set_new(counters, "interfaces_attached", json_integer(stats.attached));
	json_object_set_new(counters, "interfaces_detached", json_integer(stats.detached));
	json_object_set_new(counters, "attach_failures", json_integer(stats.attach_failures));
	json_object_set_new(counters, "interfaces_refused", json_integer(stats.interfaces_refused));
	json_object_set_new(counters, "findings", json_integer(engine->findings));
	json_object_set_new(counters, "bans", json_integer(engine->bans));
	json_object_set_new(counters, "alerts", json_integer(engine->alerts));
	json_object_set_new(counters, "ignored", json_integer(engine->ignored));
	json_object_set_new(counters, "never_bannable", json_integer(engine->unownable));
	json_object_set_new(counters, "safety_valve_trips", json_integer(engine->valve_trips));
	json_object_set_new(counters, "ban_sets_full", json_integer(engine->sets_full));
	json_object_set_new(counters, "lifts", json_integer(engine->lifts));
	json_object_set_new(counters, "nft_restores", json_integer(daemon->nft_restores));
	json_object_set_new(counters, "bans_adopted", json_integer(engine->adopted));
	json_object_set_new(counters, "ban_set_repairs", json_integer(engine->set_repairs));
	json_object_set_new(counters, "ban_elements_restored",
	                    json_integer(engine->elements_restored));
	json_object_set_new(counters, "ban_elements_foreign",
	                    json_integer(engine->elements_foreign));
	json_object_set_new(counters, "ban_elements_retimed",
	                    json_integer(engine->elements_retimed));
	json_object_set_new(counters, "ruleset_repairs", json_integer(daemon->ruleset_repairs));
	json_object_set_new(counters, "ruleset_checks_skipped",
	                    json_integer((json_int_t)daemon->nft_checks_skipped));
	json_object_set_new(counters, "errors", json_integer(engine->errors));
	json_object_set_new(counters, "vm_addresses_learned",
	                    json_integer(daemon->attribution.vms.stats.learned));
	json_object_set_new(counters, "vm_address_conflicts",
	                    json_integer(daemon->attribution.vms.stats.conflicts));
	json_object_set_new(counters, "vm_address_quota_full",
	                    json_integer(daemon->attribution.vms.stats.quota_full));
	json_object_set_new(counters, "vm_registry_full",
	                    json_integer(daemon->attribution.vms.stats.registry_full));
	json_object_set_new(counters, "vm_unownable_claims",
	                    json_integer(daemon->attribution.vms.stats.unownable));
	json_object_set_new(counters, "learn_malformed",
	                    json_integer(daemon->attribution.learn_malformed));
	json_object_set_new(counters, "spoofing_unattached",
	                    json_integer(daemon->attribution.spoofing_unattached));
	json_object_set_new(counters, "host_addresses",
	                    json_integer(daemon->attribution.host.count));
	json_object_set_new(counters, "host_addresses_dropped",
	                    json_integer(daemon->attribution.host.dropped));
	json_object_set_new(counters, "control_requests", json_integer(control.requests));
	json_object_set_new(counters, "control_bad_requests", json_integer(control.bad_requests));
	json_object_set_new(counters, "control_denied", json_integer(control.denied));
	json_object_set_new(counters, "control_refused", json_integer(control.refused));
	json_object_set_new(counters, "control_refused_for_root",
	                    json_integer(control.refused_for_root));
	json_object_set_new(counters, "control_idle_closed", json_integer(control.idle_closed));
	json_object_set_new(counters, "control_unauthorised", json_integer(control.unauthorised));
	json_object_set_new(counters, "control_subscribers", json_integer(control.subscribers));
	json_object_set_new(counters, "control_subscribers_dropped",
	                    json_integer(control.subscribers_dropped));
	json_object_set_new(counters, "control_events", json_integer(control.events_published));
	json_object_set_new(counters, "allowlist_full", json_integer(daemon->allowlist.full));
	for (size_t i = 0; i < sizeof(ticket_counters) / sizeof(ticket_counters[0]); i++)
		json_object_set_new(counters, ticket_counters[i].counter,
		                    json_integer((json_int_t)ticket_counter(daemon, i)));
	reply = json_pack(
	    "{s:s, s:s, s:i, s:I, s:o, s:o, s:o, s:o}", "version", ABUSEGUARD_VERSION, "mode",
	    daemon->config.mode == MODE_OBSERVE ? "observe" : "enforce", "pid", (int)getpid(),
	    "uptime_s", (json_int_t)((now_ms - daemon->started_ms) / 1000), "interfaces", list,
	    "bans_active", bans_active, "store", store_status(daemon), "counters", counters);
	if (reply == NULL)
		return control_fail(error, CTL_RESULT_FAILED, "out of memory");
	json_object_set_new(reply, "mode_set_by",
	                    daemon->mode_uid >= 0
	                        ? json_pack("{s:I}", "uid", (json_int_t)daemon->mode_uid)
	                        : json_string("policy"));
	json_object_set_new(reply, "policy", json_string(daemon->config.path));
	json_object_set_new(reply, "versions", versions_json());
	json_object_set_new(reply, "nft", nft_status(daemon));
	json_object_set_new(reply, "upstream", upstream_status(daemon));
	json_object_set_new(
	    reply, "allowlist",
	    json_pack("{s:i, s:i, s:i}", "policy", (int)daemon->config.allowlist_count, "runtime",
	              (int)daemon->allowlist.count, "runtime_max", (int)daemon->allowlist.size));
	return reply;
}

/* The XDP program's counters as metrics: one family each, or a label of one family. */
static const struct {
	enum xdp_counter counter;
	const char *name, *kind, *help;
} xdp_metrics[] = {
    {COUNTER_PACKETS, "abuseguard_xdp_packets_total", NULL, "Packets the XDP program saw."},
    {COUNTER_IPV4, "abuseguard_xdp_packets_by_kind_total", "ipv4",
     "Packets the XDP program saw, by kind."},
    {COUNTER_IPV6, "abuseguard_xdp_packets_by_kind_total", "ipv6", NULL},
    {COUNTER_VLAN, "abuseguard_xdp_packets_by_kind_total", "vlan", NULL},
    {COUNTER_OTHER_L3, "abuseguard_xdp_packets_by_kind_total", "other_l3", NULL},
    {COUNTER_MALFORMED, "abuseguard_xdp_packets_by_kind_total", "malformed", NULL},
    {COUNTER_TINY_FRAGMENTS, "abuseguard_xdp_packets_by_kind_total", "tiny_fragment", NULL},
    {COUNTER_SMTP_ATTEMPTS, "abuseguard_xdp_smtp_attempts_total", NULL,
     "SMTP connection attempts (TCP SYN to 25, 465, 587)."},
    {COUNTER_SOURCES_NEW, "abuseguard_xdp_sources_new_total", NULL,
     "Sources that entered the XDP program's per-source map."},
    {COUNTER_EVENTS, "abuseguard_xdp_events_total", NULL,
     "Threshold events the XDP program sent to the daemon."},
    {COUNTER_EVENTS_LOST, "abuseguard_ringbuf_drops_total", NULL,
     "Threshold events lost because the ring buffer was full."},
    {COUNTER_SPOOFED, "abuseguard_xdp_attribution_total", "spoofed",
     "IP packets by what attribution found: spoofed (the source is not the interface's) or "
     "unverified (the interface knows no address of that family yet)."},
    {COUNTER_UNVERIFIED, "abuseguard_xdp_attribution_total", "unverified", NULL},
    {COUNTER_LEARN_FRAMES, "abuseguard_xdp_learn_frames_total", "handed_up",
     "ARP, NDP and DHCP frames handed up to learn addresses from, or dropped "
     "(limits.learn_frames or the ring full)."},
    {COUNTER_LEARN_DROPPED, "abuseguard_xdp_learn_frames_total", "dropped", NULL},
    {COUNTER_INTERFACE_QUOTA, "abuseguard_xdp_interface_sources_refused_total", NULL,
     "New sources not tracked: their interface's quota in the window "
     "(limits.interface_sources)."},
    {COUNTER_PAIRS_CAPPED, "abuseguard_xdp_smtp_pairs_capped_total", NULL,
     "SMTP destinations not tracked: the source was past its destination threshold."},
    {COUNTER_SCAN_PROBES, "abuseguard_xdp_scan_first_contacts_total", "probe",
     "First contacts (TCP SYN, UDP, ICMP echo or timestamp) and their outcomes."},
    {COUNTER_SCAN_ANSWERED, "abuseguard_xdp_scan_first_contacts_total", "answered", NULL},
    {COUNTER_SCAN_REJECTED, "abuseguard_xdp_scan_first_contacts_total", "rejected", NULL},
    {COUNTER_SCAN_TIMEOUTS, "abuseguard_xdp_scan_first_contacts_total", "timed_out", NULL},
    {COUNTER_SCAN_NO_RETURN_PATH, "abuseguard_xdp_scan_first_contacts_total", "no_return_path",
     NULL},
    {COUNTER_SCAN_NO_UPSTREAM, "abuseguard_xdp_scan_first_contacts_total", "no_upstream", NULL},
    {COUNTER_SCAN_NO_ROUTE, "abuseguard_xdp_scan_first_contacts_total", "no_route", NULL},
    {COUNTER_SCAN_KNOWN_REFUSED, "abuseguard_xdp_scan_first_contacts_total", "known_refused", NULL},
    {COUNTER_SCAN_QUOTA, "abuseguard_xdp_scan_first_contacts_total", "untracked_quota", NULL},
};

/* Seconds since traffic from beyond the host last came toward any VM; none before any has. */
static void
upstream_metrics_write(struct daemon *daemon, struct metrics *m)
{
	static const char *const families[UPSTREAM_FAMILIES] = {"ipv4", "ipv6"};
	int64_t ages_ms[UPSTREAM_FAMILIES];

	capture_upstream_ages(daemon->capture, ages_ms);
	metrics_family(
	    m, "abuseguard_upstream_age_seconds", "gauge",
	    "Seconds since traffic from beyond the host last came toward any VM, by "
	    "family; while it is older than a probe, the probe's timeout is no verdict.");
	for (int i = 0; i < UPSTREAM_FAMILIES; i++)
		if (ages_ms[i] >= 0)
			metrics_sample(m, "abuseguard_upstream_age_seconds",
			               (uint64_t)ages_ms[i] / 1000, "family", families[i], NULL);
}

/* Per VM-facing interface, from its state in the XDP program; bounded by limits.max_interfaces. */
static const struct {
	const char *name, *help;
	size_t offset; /* of a __u64 in struct interface_state */
} interface_metrics[] = {
    {"abuseguard_interface_spoofed_total",
     "Packets from a VM-facing interface whose source is not the interface's.",
     offsetof(struct interface_state, spoofed)},
    {"abuseguard_interface_unverified_total",
     "IP packets from an interface that knows no address of their family yet.",
     offsetof(struct interface_state, unverified)},
    {"abuseguard_interface_learn_frames_dropped_total",
     "An interface's ARP, NDP and DHCP frames not handed up (limits.learn_frames).",
     offsetof(struct interface_state, learn_dropped)},
    {"abuseguard_interface_sources_refused_total",
     "New sources of an interface not tracked (limits.interface_sources).",
     offsetof(struct interface_state, sources_refused)},
};

static void
interface_metrics_write(struct daemon *daemon, struct metrics *m)
{
	struct capture_interface *interfaces;
	struct interface_state *states;
	size_t count = capture_interfaces(daemon->capture, NULL, 0);

	interfaces = calloc(count + 1, sizeof(*interfaces));
	states = calloc(count + 1, sizeof(*states));
	if (interfaces != NULL && states != NULL) {
		count = capture_interfaces(daemon->capture, interfaces, count);
		for (size_t i = 0; i < count; i++)
			capture_interface_state(daemon->capture, interfaces[i].ifindex, &states[i]);
		for (size_t j = 0; j < sizeof(interface_metrics) / sizeof(interface_metrics[0]);
		     j++) {
			metrics_family(m, interface_metrics[j].name, "counter",
			               interface_metrics[j].help);
			for (size_t i = 0; i < count; i++) {
				const unsigned char *state = (const unsigned char *)&states[i];
				uint64_t value;

				memcpy(&value, state + interface_metrics[j].offset, sizeof(value));
				metrics_sample(m, interface_metrics[j].name, value, "interface",
				               interfaces[i].name, NULL);
			}
		}
	}
	free(interfaces);
	free(states);
}

/*
 * Everything the status counts, and the decisions by category, in
 * Prometheus' text format: what `abusectl metrics` prints and the policy's
 * metrics.file holds.
 */
void
daemon_metrics(struct daemon *daemon, struct metrics *m)
{
	const struct engine_stats *engine = &daemon->engine.stats;
	const struct config *config = &daemon->config;
	int64_t now_ms = clock_now_ms(&daemon->clock);
	static const uint8_t families[] = {SOURCE_FAMILY_IPV4, SOURCE_FAMILY_IPV6};
	struct capture_stats capture;
	struct control_stats control;
	struct store_health health;
	uint64_t sources_new, tickets[TICKET_STATUS_COUNT];

	capture_stats(daemon->capture, &capture);
	control_stats(daemon->control, &control);
	store_health(daemon->store, &health);

	metrics_family(m, "abuseguard_info", "gauge", "The running daemon's version and mode.");
	metrics_sample(m, "abuseguard_info", 1, "version", ABUSEGUARD_VERSION, "mode",
	               config->mode == MODE_OBSERVE ? "observe" : "enforce", NULL);
	metrics_single(m, "abuseguard_uptime_seconds", "gauge", "Seconds since the daemon started.",
	               (uint64_t)((now_ms - daemon->started_ms) / 1000));
	for (size_t i = 0; i < sizeof(xdp_metrics) / sizeof(xdp_metrics[0]); i++) {
		if (xdp_metrics[i].help != NULL)
			metrics_family(m, xdp_metrics[i].name, "counter", xdp_metrics[i].help);
		if (xdp_metrics[i].kind != NULL)
			metrics_sample(m, xdp_metrics[i].name,
			               capture.counters[xdp_metrics[i].counter], "kind",
			               xdp_metrics[i].kind, NULL);
		else
			metrics_sample(m, xdp_metrics[i].name,
			               capture.counters[xdp_metrics[i].counter], NULL);
	}
	/* The map is an LRU: every new source past its size pushed an older one out. */
	sources_new = capture.counters[COUNTER_SOURCES_NEW];
	metrics_single(m, "abuseguard_xdp_sources_capacity", "gauge",
	               "Sources the XDP program tracks at once (limits.max_sources).",
	               config->limits.max_sources);
	metrics_single(m, "abuseguard_xdp_sources_evicted_min_total", "counter",
	               "Sources pushed out of the full per-source map, at least.",
	               sources_new > config->limits.max_sources
	                   ? sources_new - config->limits.max_sources
	                   : 0);
	metrics_single(m, "abuseguard_interfaces_attached", "gauge",
	               "VM-facing interfaces the XDP program is attached to.",
	               capture_interfaces(daemon->capture, NULL, 0));
	upstream_metrics_write(daemon, m);
	interface_metrics_write(daemon, m);
	metrics_family(m, "abuseguard_interface_events_total", "counter",
	               "Attachments to VM-facing interfaces, by outcome.");
	metrics_sample(m, "abuseguard_interface_events_total", capture.attached, "event",
	               "attached", NULL);
	metrics_sample(m, "abuseguard_interface_events_total", capture.detached, "event",
	               "detached", NULL);
	metrics_sample(m, "abuseguard_interface_events_total", capture.attach_failures, "event",
	               "failed", NULL);
	metrics_sample(m, "abuseguard_interface_events_total", capture.interfaces_refused, "event",
	               "refused", NULL);

	metrics_family(
	    m, "abuseguard_ticket_events_total", "counter",
	    "Ticket changes by event (opened, added, updated, escalated, closed, ...), "
	    "tickets opened in the default queue, and what the store or delivery refused.");
	for (size_t i = 0; i < sizeof(ticket_counters) / sizeof(ticket_counters[0]); i++)
		metrics_sample(m, "abuseguard_ticket_events_total", ticket_counter(daemon, i),
		               "event", ticket_counters[i].event, NULL);

	if (store_ticket_status_counts(daemon->store, tickets) == 0) {
		metrics_family(m, "abuseguard_tickets", "gauge",
		               "Tickets in the store, by the desk's status.");
		for (int status = 0; status < TICKET_STATUS_COUNT; status++)
			metrics_sample(m, "abuseguard_tickets", tickets[status], "status",
			               ticket_status_name((enum ticket_status)status), NULL);
	}

	metrics_family(m, "abuseguard_findings_total", "counter",
	               "Findings of the detectors, by category and the action the policy took.");
	for (int category = 0; category < CATEGORY_COUNT; category++)
		for (int action = 0; action < ACTION_COUNT; action++)
			metrics_sample(m, "abuseguard_findings_total",
			               daemon->decisions[category][action], "category",
			               category_name(category), "action", action_name(action),
			               NULL);
	metrics_family(m, "abuseguard_bans_total", "counter",
	               "Bans installed, by category and scope.");
	for (int category = 0; category < CATEGORY_COUNT; category++)
		for (int scope = 0; scope < SCOPE_COUNT; scope++)
			metrics_sample(m, "abuseguard_bans_total", daemon->bans[category][scope],
			               "category", category_name(category), "scope",
			               scope_name(scope), NULL);
	metrics_family(m, "abuseguard_bans_active", "gauge",
	               "Bans in force now, by address family (from the store).");
	for (size_t i = 0; i < sizeof(families); i++) {
		size_t active = 0;

		if (store_count_active(daemon->store, now_ms, families[i], &active) == 0)
			metrics_sample(m, "abuseguard_bans_active", active, "family",
			               families[i] == SOURCE_FAMILY_IPV4 ? "ipv4" : "ipv6", NULL);
	}
	metrics_single(m, "abuseguard_lifts_total", "counter", "Bans lifted by an operator.",
	               engine->lifts);
	metrics_single(m, "abuseguard_never_bannable_total", "counter",
	               "Findings against an address no VM can own (loopback, the host's own, ...), "
	               "ignored.",
	               engine->unownable);
	crawl_metrics(daemon->crawl, daemon->wire, m);
	metrics_single(m, "abuseguard_safety_valve_trips_total", "counter",
	               "Times the safety valve (limits.bans_per_minute) turned bans into alerts.",
	               engine->valve_trips);
	metrics_single(m, "abuseguard_ban_sets_full_total", "counter",
	               "Offences not banned because the kernel set was full (limits.max_bans).",
	               engine->sets_full);
	metrics_single(m, "abuseguard_engine_errors_total", "counter",
	               "Errors the engine met applying decisions (store or nftables).",
	               engine->errors);
	metrics_single(m, "abuseguard_store_errors_total", "counter",
	               "Failed store statements since start.", health.errors);
	metrics_single(m, "abuseguard_store_pending", "gauge",
	               "Decisions applied but waiting for the store to take them.",
	               daemon->engine.pending.count);
	metrics_single(m, "abuseguard_store_pending_dropped_total", "counter",
	               "Decisions that did not fit the pending queue (limits.store_pending).",
	               daemon->engine.pending.dropped);
	metrics_single(m, "abuseguard_nft_restores_total", "counter",
	               "Times the nftables table was rebuilt after someone removed it.",
	               daemon->nft_restores);
	metrics_single(m, "abuseguard_nft_ruleset_repairs_total", "counter",
	               "Sets, chains, rules or always-allowed sets of the table found changed by "
	               "another program and rewritten.",
	               daemon->ruleset_repairs);
	metrics_family(
	    m, "abuseguard_ban_set_repairs_total", "counter",
	    "Ban set elements the periodic check found differing from the store, by what "
	    "it did.");
	metrics_sample(m, "abuseguard_ban_set_repairs_total", engine->elements_restored, "repair",
	               "restored", NULL);
	metrics_sample(m, "abuseguard_ban_set_repairs_total", engine->elements_foreign, "repair",
	               "foreign_removed", NULL);
	metrics_sample(m, "abuseguard_ban_set_repairs_total", engine->elements_retimed, "repair",
	               "retimed", NULL);
	metrics_family(m, "abuseguard_control_requests_total", "counter",
	               "Control socket requests, by outcome.");
	metrics_sample(m, "abuseguard_control_requests_total", control.requests, "outcome",
	               "answered", NULL);
	metrics_sample(m, "abuseguard_control_requests_total", control.bad_requests, "outcome",
	               "bad", NULL);
	metrics_sample(m, "abuseguard_control_requests_total", control.denied, "outcome", "denied",
	               NULL);
	metrics_single(m, "abuseguard_control_refused_total", "counter",
	               "Control clients refused (limits.control_clients).", control.refused);
	metrics_single(m, "abuseguard_control_unauthorised_total", "counter",
	               "Control clients refused: neither root nor in control_group.",
	               control.unauthorised);
	metrics_single(
	    m, "abuseguard_control_subscribers_dropped_total", "counter",
	    "Event followers dropped for reading too slowly (limits.control_event_queue).",
	    control.subscribers_dropped);
	metrics_family(m, "abuseguard_reloads_total", "counter", "Policy reloads, by outcome.");
	metrics_sample(m, "abuseguard_reloads_total", daemon->reloads, "outcome", "reloaded", NULL);
	metrics_sample(m, "abuseguard_reloads_total", daemon->reload_failures, "outcome", "refused",
	               NULL);
	metrics_single(m, "abuseguard_metrics_file_errors_total", "counter",
	               "Failed writes of metrics.file.", daemon->metrics_write_errors);
	outbox_metrics(daemon->outbox, m);
	evidence_metrics(&daemon->evidence, m);
	smtp_transcript_metrics(daemon->smtp_transcript, m);
}

static json_t *
command_metrics(void *context, const struct control_peer *peer, json_t *request,
                struct control_error *error)
{
	struct metrics metrics;
	json_t *reply;

	(void)peer;
	(void)request;
	metrics_init(&metrics);
	daemon_metrics(context, &metrics);
	if (metrics.text == NULL)
		return control_fail(error, CTL_RESULT_FAILED, "out of memory");
	reply = json_pack("{s:s}", CTL_KEY_TEXT, metrics.text);
	metrics_free(&metrics);
	return reply;
}

static json_t *
ban_json(const struct ban *ban, int64_t now_ms)
{
	char source[SOURCE_STRLEN], started[32], expires[32];

	clock_format_utc(ban->start_ms, started, sizeof(started));
	clock_format_utc(ban_end_ms(ban), expires, sizeof(expires));
	return json_pack(
	    "{s:I, s:b, s:s, s:s, s:s, s:i, s:I, s:s, s:s, s:I, s:s, s:s, s:s}", "id",
	    (json_int_t)ban->id, "recorded", ban->id != 0, "source",
	    source_format(&ban->source, source, sizeof(source)), "scope", scope_name(ban->scope),
	    "category", category_name(ban->category), "level", (int)ban->level + 1, "duration_s",
	    (json_int_t)((ban->expires_ms - ban->start_ms) / 1000), "started", started, "expires",
	    expires, "remaining_s", (json_int_t)((ban_end_ms(ban) - now_ms) / 1000), "interface",
	    ban->vm.interface, "mac", ban->vm.mac, "vm_name", ban->vm.name);
}

/* The bans a listing keeps: all, or those of a source, a scope, a category. */
struct ban_filter {
	bool by_source, by_scope, by_category;
	struct source_key source;
	enum scope scope;
	enum category category;
};

struct ban_listing {
	json_t *list;
	int64_t now_ms;
	struct ban_filter filter;
	struct nft *nft; /* NULL: no kernel to compare with */
	size_t kernel_only_count;
	/* The bans listed, in list's order, for one look at the kernel after them. */
	struct nft_ban *asked;
	size_t asked_count, asked_capacity;
};

static bool
ban_wanted(const struct ban_filter *filter, const struct ban *ban)
{
	return (!filter->by_source || source_equal(&filter->source, &ban->source)) &&
	       (!filter->by_scope || filter->scope == ban->scope) &&
	       (!filter->by_category || filter->category == ban->category);
}

/*
 * What the kernel enforces for each ban listed: whether its set holds the
 * source and the time the element has left, which another program may have
 * changed (the periodic check sets it back). All of a page's bans are asked
 * for in one go (ban_lookup_many). A failure is logged there; the bans are
 * then listed without the kernel's side.
 */
static int
listing_kernel_view(struct ban_listing *listing)
{
	int *found;

	if (listing->nft == NULL || listing->asked_count == 0)
		return 0;
	if ((found = calloc(listing->asked_count, sizeof(*found))) == NULL)
		return -ENOMEM;
	if (ban_lookup_many(listing->nft, listing->asked, found, listing->asked_count) == 0)
		for (size_t i = 0; i < listing->asked_count; i++) {
			json_t *json = json_array_get(listing->list, i);
			int64_t remaining_ms = listing->asked[i].remaining_ms;

			json_object_set_new(json, CTL_KEY_IN_KERNEL, json_boolean(found[i]));
			json_object_set_new(json, CTL_KEY_KERNEL_REMAINING,
			                    found[i] && remaining_ms != INT64_MAX
			                        ? json_integer((json_int_t)(remaining_ms / 1000))
			                        : json_null());
		}
	free(found);
	return 0;
}

static int
append_ban(const struct ban *ban, void *arg)
{
	struct ban_listing *listing = arg;
	json_t *json;

	if (!ban_wanted(&listing->filter, ban))
		return 0;
	if (listing->asked_count == listing->asked_capacity) {
		size_t capacity = listing->asked_capacity ? 2 * listing->asked_capacity : 256;
		struct nft_ban *grown = reallocarray(listing->asked, capacity, sizeof(*grown));

		if (grown == NULL)
			return -ENOMEM;
		listing->asked = grown;
		listing->asked_capacity = capacity;
	}
	listing->asked[listing->asked_count++] =
	    (struct nft_ban){.source = ban->source, .scope = ban->scope};
	json = ban_json(ban, listing->now_ms);
	return json_array_append_new(listing->list, json) ? -ENOMEM : 0;
}

/* A kernel element no ban stands behind; the first page's worth are listed. */
static int
append_kernel_only(const struct nft_ban *element, void *arg)
{
	struct ban_listing *listing = arg;
	char source[SOURCE_STRLEN];

	if (listing->kernel_only_count++ >= BANS_PAGE_MAX)
		return 0;
	return json_array_append_new(
	           listing->list,
	           json_pack("{s:s, s:s, s:o, s:b}", "source",
	                     source_format(&element->source, source, sizeof(source)), "scope",
	                     scope_name(element->scope), "remaining_s",
	                     element->remaining_ms == INT64_MAX
	                         ? json_null()
	                         : json_integer((json_int_t)(element->remaining_ms / 1000)),
	                     "tagged", element->tag.present))
	           ? -ENOMEM
	           : 0;
}

/* The last page names what the kernel enforces that neither the store nor the queue knows. */
static int
kernel_only_json(struct daemon *daemon, json_t *reply)
{
	struct ban_listing listing = {.list = json_array()};
	int error;

	if (daemon->nft == NULL || listing.list == NULL) {
		json_decref(listing.list);
		return 0;
	}
	if ((error = engine_kernel_only(&daemon->engine, append_kernel_only, &listing)) < 0) {
		json_decref(listing.list);
		return error;
	}
	json_object_set_new(reply, CTL_KEY_KERNEL_ONLY, listing.list);
	json_object_set_new(reply, CTL_KEY_KERNEL_ONLY_COUNT,
	                    json_integer((json_int_t)listing.kernel_only_count));
	return 0;
}

static int
request_filter(const struct daemon *daemon, json_t *request, struct ban_filter *filter,
               struct control_error *error)
{
	memset(filter, 0, sizeof(*filter));
	if (json_object_get(request, CTL_KEY_SOURCE) != NULL) {
		if (request_source(request, daemon->config.ipv6_prefix_len, &filter->source,
		                   error) < 0)
			return -EINVAL;
		filter->by_source = true;
	}
	if (request_scope(request, &filter->scope, &filter->by_scope, error) < 0 ||
	    request_category(request, &filter->category, &filter->by_category, error) < 0)
		return -EINVAL;
	return 0;
}

int
bans_page_request(const json_t *request, struct store_cursor *cursor, size_t *page_size,
                  const char **why)
{
	json_t *after = json_object_get(request, CTL_KEY_AFTER),
	       *limit = json_object_get(request, CTL_KEY_LIMIT);
	json_int_t expires_ms, id;

	*cursor = STORE_CURSOR_START;
	*page_size = BANS_PAGE_MAX;
	if (after != NULL) {
		if (json_unpack(after, "{s:I, s:I}", "expires_ms", &expires_ms, "id", &id) < 0) {
			*why = "\"" CTL_KEY_AFTER "\" must be the \"" CTL_KEY_NEXT
			       "\" of the previous page";
			return -EINVAL;
		}
		*cursor = (struct store_cursor){expires_ms, id};
	}
	if (limit != NULL) {
		if (!json_is_integer(limit) || json_integer_value(limit) < 1) {
			*why = "\"" CTL_KEY_LIMIT "\" must be a positive number";
			return -EINVAL;
		}
		if (json_integer_value(limit) < BANS_PAGE_MAX)
			*page_size = (size_t)json_integer_value(limit);
	}
	return 0;
}

/*
 * A page of the active bans, soonest expiry first: {"after": {"expires_ms",
 * "id"}} from the last page's "next" continues, "limit" asks for fewer.
 * Pages keep every reply, and every client's memory, bounded however many
 * bans there are; abusectl reads them all. The bans the store has not
 * recorded yet are enforced all the same: they come with the last page.
 * Each ban says whether the kernel holds it and for how long; the last page
 * of an unfiltered listing also lists the kernel elements no ban stands behind.
 */
static json_t *
command_bans(void *context, const struct control_peer *peer, json_t *request,
             struct control_error *error)
{
	struct daemon *daemon = context;
	struct ban_listing listing = {
	    .list = json_array(), .now_ms = clock_now_ms(&daemon->clock), .nft = daemon->nft};
	struct store_cursor cursor;
	struct ban *page;
	size_t count, page_size;
	const char *why;
	json_t *reply;
	int failed;

	(void)peer;
	if (request_filter(daemon, request, &listing.filter, error) < 0) {
		json_decref(listing.list);
		return NULL;
	}
	if (bans_page_request(request, &cursor, &page_size, &why) < 0) {
		json_decref(listing.list);
		return control_fail(error, CTL_RESULT_BAD_REQUEST, "%s", why);
	}
	if ((page = calloc(page_size, sizeof(*page))) == NULL) {
		json_decref(listing.list);
		return control_fail(error, CTL_RESULT_FAILED, "out of memory");
	}
	failed =
	    store_active_page(daemon->store, listing.now_ms, &cursor, page, page_size, &count) < 0;
	for (size_t i = 0; i < count && !failed; i++)
		failed = append_ban(&page[i], &listing) < 0;
	free(page);
	if (!failed && count < page_size)
		failed = pending_active_bans(&daemon->engine.pending, listing.now_ms, append_ban,
		                             &listing) < 0;
	if (!failed)
		failed = listing_kernel_view(&listing) < 0;
	free(listing.asked);
	if (failed) {
		json_decref(listing.list);
		return control_fail(error, CTL_RESULT_FAILED, "cannot read the store");
	}
	reply = json_pack("{s:o}", CTL_KEY_BANS, listing.list);
	if (reply != NULL && count == page_size)
		json_object_set_new(reply, CTL_KEY_NEXT,
		                    json_pack("{s:I, s:I}", "expires_ms",
		                              (json_int_t)cursor.expires_ms, "id",
		                              (json_int_t)cursor.id));
	else if (reply != NULL && !listing.filter.by_source && !listing.filter.by_scope &&
	         !listing.filter.by_category && kernel_only_json(daemon, reply) < 0)
		log_warnx("bans: the kernel's elements could not be compared with the store");
	return reply;
}

/*
 * Lifts the source's active bans for uid with reason, and says so to the
 * followers. Appends what was lifted to list. 0, -ENOENT (nothing active),
 * or a store error with nothing lifted.
 */
static int
lift_source(struct daemon *daemon, const struct source_key *source, uid_t uid, const char *reason,
            json_t *list)
{
	struct ban lifted[SCOPE_COUNT * CATEGORY_COUNT];
	char text[SOURCE_STRLEN];
	size_t count = 0;
	int result;

	result = engine_unban(&daemon->engine, source, uid, reason, lifted,
	                      sizeof(lifted) / sizeof(lifted[0]), &count);
	if (result == -ENOENT || (result < 0 && count == 0))
		return result;
	capture_forget(daemon->capture, source);
	source_format(source, text, sizeof(text));
	for (size_t i = 0; i < count && i < sizeof(lifted) / sizeof(lifted[0]); i++) {
		json_t *entry =
		    json_pack("{s:s, s:s, s:s, s:i}", CTL_KEY_SOURCE, text, "scope",
		              scope_name(lifted[i].scope), "category",
		              category_name(lifted[i].category), "level", (int)lifted[i].level + 1);

		daemon_event(daemon, "lift",
		             json_pack("{s:O, s:I, s:s}", "ban", entry, "uid", (json_int_t)uid,
		                       "reason", reason));
		json_array_append_new(list, entry);
	}
	return 0;
}

static json_t *
command_unban(void *context, const struct control_peer *peer, json_t *request,
              struct control_error *error)
{
	struct daemon *daemon = context;
	const char *reason = json_string_value(json_object_get(request, CTL_KEY_REASON));
	char source_text[SOURCE_STRLEN];
	struct source_key source;
	json_t *list;
	int result;

	if (request_source(request, daemon->config.ipv6_prefix_len, &source, error) < 0)
		return NULL;
	source_format(&source, source_text, sizeof(source_text));
	list = json_array();
	result = lift_source(daemon, &source, peer->uid, reason, list);
	if (result < 0) {
		json_decref(list);
		if (result == -ENOENT)
			return control_fail(error, CTL_RESULT_NOT_FOUND,
			                    "no active ban for %s (abusectl bans lists them)",
			                    source_text);
		return control_fail(error, CTL_RESULT_FAILED,
		                    "the store could not record the lift of %s: %s", source_text,
		                    strerror(-result));
	}
	return json_pack("{s:s, s:o}", CTL_KEY_SOURCE, source_text, CTL_KEY_LIFTED, list);
}

static json_t *
vm_json(const struct vm *vm)
{
	char mac[32], address[SOURCE_STRLEN], since[32];
	json_t *addresses = json_array();

	for (unsigned i = 0; i < vm->address_count; i++) {
		const struct vm_address *entry = &vm->addresses[i];

		clock_format_utc(entry->since_ms, since, sizeof(since));
		json_array_append_new(
		    addresses, json_pack("{s:s, s:s, s:s}", "address",
		                         prefix_format(&entry->prefix, address, sizeof(address)),
		                         "origin", vm_origin_name(entry->origin), "since", since));
	}
	return json_pack("{s:s, s:i, s:s, s:s, s:s, s:o}", "interface", vm->interface, "ifindex",
	                 vm->ifindex, "mac", vm_mac_format(vm, mac, sizeof(mac)), "name", vm->name,
	                 "customer", vm->customer, "addresses", addresses);
}

static json_t *
command_vms(void *context, const struct control_peer *peer, json_t *request,
            struct control_error *error)
{
	struct daemon *daemon = context;
	json_t *list = json_array();

	(void)peer;
	(void)request;
	(void)error;
	for (unsigned i = 0; i < daemon->attribution.vms.count; i++)
		json_array_append_new(list, vm_json(&daemon->attribution.vms.vms[i]));
	return json_pack("{s:o}", CTL_KEY_VMS, list);
}

static json_t *
command_vm_set(void *context, const struct control_peer *peer, json_t *request,
               struct control_error *error)
{
	struct daemon *daemon = context;
	const char *interface = json_string_value(json_object_get(request, CTL_KEY_INTERFACE));
	const char *reason = json_string_value(json_object_get(request, CTL_KEY_REASON));
	json_t *list = json_object_get(request, CTL_KEY_ADDRESSES), *element;
	struct prefix addresses[STORE_VM_ADDRESSES_MAX];
	struct store_vm record;
	const char *name, *customer, *conflict;
	struct vm *vm;
	size_t i;
	int result;

	if (interface == NULL || interface[0] == '\0' || strlen(interface) >= IF_NAMESIZE ||
	    strpbrk(interface, "/: \t\n") != NULL)
		return control_fail(error, CTL_RESULT_BAD_REQUEST,
		                    "\"" CTL_KEY_INTERFACE "\" (an interface name) is required");
	if (!json_is_array(list) || json_array_size(list) == 0 ||
	    json_array_size(list) > daemon->config.limits.max_vm_addresses)
		return control_fail(error, CTL_RESULT_BAD_REQUEST,
		                    "\"" CTL_KEY_ADDRESSES
		                    "\" must list 1 to %u addresses (limits.max_vm_addresses)",
		                    daemon->config.limits.max_vm_addresses);
	json_array_foreach(list, i, element)
	{
		const char *text = json_string_value(element);

		if (text == NULL || prefix_parse(text, &addresses[i]) < 0)
			return control_fail(error, CTL_RESULT_BAD_REQUEST,
			                    "not an address or prefix: %.64s",
			                    text != NULL ? text : "(not a string)");
	}
	if (request_label(request, CTL_KEY_NAME, &name) < 0 ||
	    request_label(request, CTL_KEY_CUSTOMER, &customer) < 0)
		return control_fail(error, CTL_RESULT_BAD_REQUEST,
		                    "\"" CTL_KEY_NAME "\" and \"" CTL_KEY_CUSTOMER
		                    "\" must be printable text under %d characters",
		                    VM_LABEL_MAX);
	result = vm_configure_check(&daemon->attribution.vms, interface, addresses, (unsigned)i,
	                            &conflict);
	if (result == -EADDRINUSE)
		return control_fail(error, CTL_RESULT_REFUSED,
		                    "an address is configured on interface %s", conflict);
	if (result == -EADDRNOTAVAIL)
		return control_fail(error, CTL_RESULT_REFUSED,
		                    "no VM can own one of these addresses (loopback, multicast, "
		                    "link-local, broadcast, unspecified or the hypervisor's own)");
	if (result < 0)
		return control_fail(error, CTL_RESULT_REFUSED,
		                    "the VM registry is full (limits.max_interfaces)");
	/* Durable first: the registry changes only once the store has it. */
	memset(&record, 0, sizeof(record));
	vm = vm_find(&daemon->attribution.vms, interface);
	snprintf(record.interface, sizeof(record.interface), "%s", interface);
	snprintf(record.name, sizeof(record.name), "%s",
	         name != NULL ? name
	         : vm != NULL ? vm->name
	                      : "");
	snprintf(record.customer, sizeof(record.customer), "%s",
	         customer != NULL ? customer
	         : vm != NULL     ? vm->customer
	                          : "");
	record.addresses = addresses;
	record.address_count = (unsigned)i;
	if (store_vm_set(daemon->store, &record, clock_now_ms(&daemon->clock), peer->uid, reason) <
	    0)
		return control_fail(error, CTL_RESULT_FAILED, "the store could not record the VM");
	result = attribution_configure(&daemon->attribution, interface, addresses, (unsigned)i,
	                               record.name, record.customer, VM_ORIGIN_OPERATOR, &conflict);
	if (result < 0 || (vm = vm_find(&daemon->attribution.vms, interface)) == NULL)
		return control_fail(error, CTL_RESULT_FAILED,
		                    "recorded, but the registry refused it; a restart applies it");
	log_info("%s: addresses set by uid %u: %s", interface, (unsigned)peer->uid, reason);
	return json_pack("{s:o}", CTL_KEY_VM, vm_json(vm));
}

/* Rows of history and audit in one reply at most. */
#define HISTORY_MAX    1000
#define AUDIT_PAGE_MAX 1000

void
daemon_event(struct daemon *daemon, const char *event, json_t *fields)
{
	char time[32];
	json_t **slot;

	if (fields == NULL)
		return;
	clock_format_utc(clock_now_ms(&daemon->clock), time, sizeof(time));
	json_object_set_new(fields, CTL_KEY_EVENT, json_string(event));
	json_object_set_new(fields, "time", json_string(time));
	control_publish(daemon->control, fields);
	slot = &daemon->recent_events[daemon->recent_next];
	json_decref(*slot);
	*slot = fields;
	daemon->recent_next = (daemon->recent_next + 1) % DAEMON_RECENT_EVENTS;
	if (daemon->recent_count < DAEMON_RECENT_EVENTS)
		daemon->recent_count++;
}

void
daemon_commands_close(struct daemon *daemon)
{
	for (unsigned i = 0; i < DAEMON_RECENT_EVENTS; i++) {
		json_decref(daemon->recent_events[i]);
		daemon->recent_events[i] = NULL;
	}
	daemon->recent_count = daemon->recent_next = 0;
}

/* The category a manual ban records when the operator names none: the scope's usual one. */
static enum category
category_of_scope(enum scope scope)
{
	switch (scope) {
	case SCOPE_SMTP:
		return CATEGORY_SPAM;
	case SCOPE_WEB:
		return CATEGORY_CRAWLER;
	default:
		return CATEGORY_SCAN;
	}
}

static json_t *
command_ban(void *context, const struct control_peer *peer, json_t *request,
            struct control_error *error)
{
	struct daemon *daemon = context;
	json_t *duration = json_object_get(request, CTL_KEY_DURATION);
	struct manual_ban manual = {.uid = peer->uid};
	char text[SOURCE_STRLEN], until[32];
	bool given;
	struct ban ban;
	int result;

	manual.reason = json_string_value(json_object_get(request, CTL_KEY_REASON));
	if (request_source(request, daemon->config.ipv6_prefix_len, &manual.source, error) < 0 ||
	    request_scope(request, &manual.scope, &given, error) < 0)
		return NULL;
	if (!given)
		return control_fail(error, CTL_RESULT_BAD_REQUEST,
		                    "\"" CTL_KEY_SCOPE "\" (smtp, web or all) is required");
	if (request_category(request, &manual.category, &given, error) < 0)
		return NULL;
	if (!given)
		manual.category = category_of_scope(manual.scope);
	if (duration != NULL &&
	    (!json_is_string(duration) ||
	     duration_parse(json_string_value(duration), &manual.duration_ms) < 0 ||
	     manual.duration_ms < 1000 || manual.duration_ms > 3650LL * 86400 * 1000))
		return control_fail(error, CTL_RESULT_BAD_REQUEST,
		                    "\"" CTL_KEY_DURATION "\" must be a duration from 1s to 3650d "
		                    "(90m, 2h, 7d); leave it out for the ladder's next rung");
	source_format(&manual.source, text, sizeof(text));
	result = engine_ban(&daemon->engine, &manual, &ban);
	switch (result) {
	case 0:
		break;
	case -EADDRNOTAVAIL:
		return control_fail(error, CTL_RESULT_REFUSED,
		                    "%s is never banned: no VM can own it (loopback, multicast, "
		                    "link-local, broadcast, unspecified or the hypervisor's own)",
		                    text);
	case -EPERM:
		return control_fail(
		    error, CTL_RESULT_REFUSED,
		    "%s is allowlisted (abusectl allowlist shows by whom); disallow "
		    "it first",
		    text);
	case -EEXIST:
		clock_format_utc(ban_end_ms(&ban), until, sizeof(until));
		return control_fail(error, CTL_RESULT_REFUSED,
		                    "%s is already banned in scope %s until %s; unban it first to "
		                    "change that ban",
		                    text, scope_name(ban.scope), until);
	default:
		return control_fail(error, CTL_RESULT_FAILED,
		                    "the store could not record the ban of %s (%s); nothing was "
		                    "installed",
		                    text, strerror(-result));
	}
	daemon_event(daemon, "ban",
	             json_pack("{s:o, s:b, s:I, s:s}", "ban",
	                       ban_json(&ban, clock_now_ms(&daemon->clock)), "manual", 1, "uid",
	                       (json_int_t)peer->uid, "reason", manual.reason));
	return json_pack("{s:o}", CTL_KEY_BAN, ban_json(&ban, clock_now_ms(&daemon->clock)));
}

static int
append_event(const struct store_event *event, void *arg)
{
	json_t *list = arg, *entry;
	char time[32];

	clock_format_utc(event->time_ms, time, sizeof(time));
	entry = json_pack("{s:s, s:s}", "time", time, CTL_KEY_EVENT, event->kind);
	if (entry == NULL)
		return -ENOMEM;
	if (event->category[0] != '\0')
		json_object_set_new(entry, "category", json_string(event->category));
	if (event->scope[0] != '\0')
		json_object_set_new(entry, "scope", json_string(event->scope));
	if (event->level > 0)
		json_object_set_new(entry, "level", json_integer(event->level));
	if (event->duration_ms > 0)
		json_object_set_new(entry, "duration_s", json_integer(event->duration_ms / 1000));
	if (event->detail[0] != '\0')
		json_object_set_new(entry, "detail", json_string(event->detail));
	if (event->uid >= 0)
		json_object_set_new(entry, "uid", json_integer(event->uid));
	if (event->reason[0] != '\0')
		json_object_set_new(entry, "reason", json_string(event->reason));
	if (event->false_positive)
		json_object_set_new(entry, "false_positive", json_true());
	return json_array_append_new(list, entry) < 0 ? -ENOMEM : 0;
}

static json_t *
command_history(void *context, const struct control_peer *peer, json_t *request,
                struct control_error *error)
{
	struct daemon *daemon = context;
	int64_t now_ms = clock_now_ms(&daemon->clock);
	char text[SOURCE_STRLEN];
	struct source_key source;
	json_t *events;
	int result;

	(void)peer;
	if (request_source(request, daemon->config.ipv6_prefix_len, &source, error) < 0)
		return NULL;
	source_format(&source, text, sizeof(text));
	events = json_array();
	if ((result = store_source_events(daemon->store, &source, HISTORY_MAX, append_event,
	                                  events)) < 0) {
		json_decref(events);
		return control_fail(error, CTL_RESULT_FAILED, "cannot read the history of %s: %s",
		                    text, strerror(-result));
	}
	if (json_array_size(events) == 0) {
		json_decref(events);
		return control_fail(error, CTL_RESULT_NOT_FOUND,
		                    "nothing recorded for %s: no offence, ban or change", text);
	}
	return json_pack("{s:s, s:b, s:o}", CTL_KEY_SOURCE, text, "allowlisted",
	                 engine_allowlisted(&daemon->engine, &source, now_ms), CTL_KEY_EVENTS,
	                 events);
}

static int
append_audit(const struct store_audit_row *row, void *arg)
{
	json_t *list = arg;
	char time[32];

	clock_format_utc(row->time_ms, time, sizeof(time));
	return json_array_append_new(
	           list, json_pack("{s:I, s:s, s:I, s:s, s:s, s:s}", "id", (json_int_t)row->id,
	                           "time", time, "uid", (json_int_t)row->uid, "action", row->action,
	                           "subject", row->subject, "reason", row->reason)) < 0
	           ? -ENOMEM
	           : 0;
}

/* The audit trail, oldest first, in pages: {"after": {"id"}} from "next" continues. */
static json_t *
command_audit(void *context, const struct control_peer *peer, json_t *request,
              struct control_error *error)
{
	struct daemon *daemon = context;
	json_t *after = json_object_get(request, CTL_KEY_AFTER), *rows, *reply;
	int64_t since_ms = 0, after_id = 0;
	json_int_t id;
	size_t count;
	bool given;
	int result;

	(void)peer;
	if (request_time(request, CTL_KEY_SINCE, clock_now_ms(&daemon->clock), -1, &since_ms,
	                 &given, error) < 0)
		return NULL;
	if (after != NULL) {
		if (json_unpack(after, "{s:I}", "id", &id) < 0)
			return control_fail(error, CTL_RESULT_BAD_REQUEST,
			                    "\"" CTL_KEY_AFTER "\" must be the \"" CTL_KEY_NEXT
			                    "\" of the previous page");
		after_id = id;
	}
	rows = json_array();
	result = store_audit_page(daemon->store, since_ms, &after_id, AUDIT_PAGE_MAX, append_audit,
	                          rows, &count);
	if (result < 0) {
		json_decref(rows);
		return control_fail(error, CTL_RESULT_FAILED, "cannot read the audit trail: %s",
		                    strerror(-result));
	}
	reply = json_pack("{s:o}", CTL_KEY_AUDIT, rows);
	if (reply != NULL && count == AUDIT_PAGE_MAX)
		json_object_set_new(reply, CTL_KEY_NEXT,
		                    json_pack("{s:I}", "id", (json_int_t)after_id));
	return reply;
}

/* The recent events, and with "follow" every later one, a line each. */
static json_t *
command_events(void *context, const struct control_peer *peer, json_t *request,
               struct control_error *error)
{
	struct daemon *daemon = context;
	json_t *recent = json_array();
	unsigned first = (daemon->recent_next + DAEMON_RECENT_EVENTS - daemon->recent_count) %
	                 DAEMON_RECENT_EVENTS;

	(void)peer;
	(void)error;
	for (unsigned i = 0; i < daemon->recent_count; i++)
		json_array_append(recent,
		                  daemon->recent_events[(first + i) % DAEMON_RECENT_EVENTS]);
	return json_pack("{s:o, s:b}", CTL_KEY_EVENTS, recent, CTL_KEY_FOLLOW,
	                 json_is_true(json_object_get(request, CTL_KEY_FOLLOW)));
}

struct sources_in_prefix {
	const struct prefix *prefix;
	struct source_key *sources;
	size_t count, size;
};

static int
collect_banned_in_prefix(const struct ban *ban, void *arg)
{
	struct sources_in_prefix *found = arg;

	if (!prefix_contains(found->prefix, &ban->source))
		return 0;
	for (size_t i = 0; i < found->count; i++)
		if (source_equal(&found->sources[i], &ban->source))
			return 0;
	if (found->count == found->size) {
		size_t size = found->size ? found->size * 2 : 16;
		struct source_key *sources = reallocarray(found->sources, size, sizeof(*sources));

		if (sources == NULL)
			return -ENOMEM;
		found->sources = sources;
		found->size = size;
	}
	found->sources[found->count++] = ban->source;
	return 0;
}

static json_t *
command_allow(void *context, const struct control_peer *peer, json_t *request,
              struct control_error *error)
{
	struct daemon *daemon = context;
	const char *reason = json_string_value(json_object_get(request, CTL_KEY_REASON));
	int64_t now_ms = clock_now_ms(&daemon->clock), until_ms = 0;
	struct sources_in_prefix banned = {0};
	char text[SOURCE_STRLEN], lift_reason[CONTROL_ERROR_MAX], until[32] = "";
	struct prefix prefix;
	json_t *lifted, *reply;
	bool given;
	int result;

	if (request_prefix(request, daemon->config.ipv6_prefix_len, &prefix, text, sizeof(text),
	                   error) < 0 ||
	    request_time(request, CTL_KEY_UNTIL, now_ms, 1, &until_ms, &given, error) < 0)
		return NULL;
	if (given && until_ms <= now_ms)
		return control_fail(error, CTL_RESULT_BAD_REQUEST,
		                    "\"" CTL_KEY_UNTIL "\" is in the past");
	if (!allowlist_has_room(&daemon->allowlist, &prefix)) {
		daemon->allowlist.full++;
		return control_fail(
		    error, CTL_RESULT_REFUSED,
		    "the runtime allowlist is full (limits.runtime_allowlist = %u); "
		    "disallow an entry first",
		    daemon->allowlist.size);
	}
	if ((result =
	         store_allow_set(daemon->store, &prefix, until_ms, now_ms, peer->uid, reason)) < 0)
		return control_fail(error, CTL_RESULT_FAILED,
		                    "the store could not record the allowlist entry for %s: %s",
		                    text, strerror(-result));
	(void)allowlist_set(&daemon->allowlist, &prefix, until_ms); /* room was checked */
	if (until_ms > 0)
		clock_format_utc(until_ms, until, sizeof(until));
	log_warnx("%s: allowlisted by uid %u%s%s: %s", text, (unsigned)peer->uid,
	          until_ms > 0 ? " until " : "", until, reason);
	/* What is allowed is not banned: its active bans are lifted now. */
	lifted = json_array();
	snprintf(lift_reason, sizeof(lift_reason), "allowed: %s", reason);
	banned.prefix = &prefix;
	if (store_active_bans(daemon->store, now_ms, collect_banned_in_prefix, &banned) < 0)
		log_warnx("%s: allowlisted, but its active bans could not all be read; lift them "
		          "with abusectl unban",
		          text);
	for (size_t i = 0; i < banned.count; i++)
		(void)lift_source(daemon, &banned.sources[i], peer->uid, lift_reason, lifted);
	free(banned.sources);
	reply = json_pack("{s:s, s:s?, s:o}", CTL_KEY_SOURCE, text, CTL_KEY_UNTIL,
	                  until_ms > 0 ? until : NULL, CTL_KEY_LIFTED, lifted);
	daemon_event(daemon, "allow",
	             json_pack("{s:s, s:s?, s:I, s:s}", CTL_KEY_SOURCE, text, CTL_KEY_UNTIL,
	                       until_ms > 0 ? until : NULL, "uid", (json_int_t)peer->uid, "reason",
	                       reason));
	return reply;
}

static json_t *
command_disallow(void *context, const struct control_peer *peer, json_t *request,
                 struct control_error *error)
{
	struct daemon *daemon = context;
	const char *reason = json_string_value(json_object_get(request, CTL_KEY_REASON));
	char text[SOURCE_STRLEN];
	struct prefix prefix;
	int result;

	if (request_prefix(request, daemon->config.ipv6_prefix_len, &prefix, text, sizeof(text),
	                   error) < 0)
		return NULL;
	result = store_allow_remove(daemon->store, &prefix, clock_now_ms(&daemon->clock), peer->uid,
	                            reason);
	if (result == -ENOENT)
		return control_fail(
		    error, CTL_RESULT_NOT_FOUND,
		    "%s is not on the runtime allowlist (abusectl allowlist shows it; "
		    "the policy's allowlist changes in the policy file)",
		    text);
	if (result < 0)
		return control_fail(error, CTL_RESULT_FAILED,
		                    "the store could not remove %s from the allowlist: %s", text,
		                    strerror(-result));
	(void)allowlist_remove(&daemon->allowlist, &prefix);
	log_warnx("%s: taken off the allowlist by uid %u: %s", text, (unsigned)peer->uid, reason);
	daemon_event(daemon, "disallow",
	             json_pack("{s:s, s:I, s:s}", CTL_KEY_SOURCE, text, "uid",
	                       (json_int_t)peer->uid, "reason", reason));
	return json_pack("{s:s}", CTL_KEY_SOURCE, text);
}

static int
append_allow(const struct store_allow *entry, void *arg)
{
	json_t *list = arg;
	char text[SOURCE_STRLEN], since[32], until[32];

	clock_format_utc(entry->created_ms, since, sizeof(since));
	if (entry->until_ms > 0)
		clock_format_utc(entry->until_ms, until, sizeof(until));
	return json_array_append_new(
	           list,
	           json_pack("{s:s, s:s, s:s?, s:I, s:s, s:s}", CTL_KEY_SOURCE,
	                     prefix_format(&entry->prefix, text, sizeof(text)), "origin",
	                     "operator", CTL_KEY_UNTIL, entry->until_ms > 0 ? until : NULL, "uid",
	                     (json_int_t)entry->uid, "since", since, "reason", entry->reason)) < 0
	           ? -ENOMEM
	           : 0;
}

/* The policy's allowlist and the operators', one list. */
static json_t *
command_allowlist(void *context, const struct control_peer *peer, json_t *request,
                  struct control_error *error)
{
	struct daemon *daemon = context;
	json_t *list = json_array();
	char text[SOURCE_STRLEN];
	int result;

	(void)peer;
	(void)request;
	for (unsigned i = 0; i < daemon->config.allowlist_count; i++)
		json_array_append_new(
		    list, json_pack("{s:s, s:s}", CTL_KEY_SOURCE,
		                    prefix_format(&daemon->config.allowlist[i], text, sizeof(text)),
		                    "origin", "policy"));
	if ((result = store_allowlist(daemon->store, clock_now_ms(&daemon->clock), append_allow,
	                              list)) < 0) {
		json_decref(list);
		return control_fail(error, CTL_RESULT_FAILED, "cannot read the allowlist: %s",
		                    strerror(-result));
	}
	return json_pack("{s:o}", CTL_KEY_ALLOWLIST, list);
}

static json_t *
command_reload(void *context, const struct control_peer *peer, json_t *request,
               struct control_error *error)
{
	struct daemon *daemon = context;
	const char *reason = json_string_value(json_object_get(request, CTL_KEY_REASON));
	char message[CONTROL_ERROR_MAX - 64];

	if (daemon->reload(daemon, message, sizeof(message)) < 0) {
		(void)store_audit(daemon->store, clock_now_ms(&daemon->clock), peer->uid,
		                  "reload refused", daemon->config.path, reason);
		return control_fail(error, CTL_RESULT_REFUSED, "%s; the running policy stays",
		                    message);
	}
	(void)store_audit(daemon->store, clock_now_ms(&daemon->clock), peer->uid, "reload",
	                  daemon->config.path, reason);
	daemon_event(daemon, "reload",
	             json_pack("{s:s, s:I, s:s}", CTL_KEY_MESSAGE, message, "uid",
	                       (json_int_t)peer->uid, "reason", reason));
	return json_pack("{s:s}", CTL_KEY_MESSAGE, message);
}

static const char *
mode_name(enum mode mode)
{
	return mode == MODE_OBSERVE ? "observe" : "enforce";
}

static json_t *
command_mode(void *context, const struct control_peer *peer, json_t *request,
             struct control_error *error)
{
	struct daemon *daemon = context;
	const char *reason = json_string_value(json_object_get(request, CTL_KEY_REASON));
	const char *name = json_string_value(json_object_get(request, CTL_KEY_MODE));
	enum mode previous = daemon->config.mode, mode;
	int result;

	if (name != NULL && strcmp(name, "observe") == 0)
		mode = MODE_OBSERVE;
	else if (name != NULL && strcmp(name, "enforce") == 0)
		mode = MODE_ENFORCE;
	else
		return control_fail(error, CTL_RESULT_BAD_REQUEST,
		                    "\"" CTL_KEY_MODE "\" must be observe or enforce");
	if ((result = store_audit(daemon->store, clock_now_ms(&daemon->clock), peer->uid, "mode",
	                          name, reason)) < 0)
		return control_fail(error, CTL_RESULT_FAILED,
		                    "the store could not record the change: %s; the mode stays %s",
		                    strerror(-result), mode_name(previous));
	daemon->config.mode = mode;
	daemon->mode_uid = peer->uid;
	log_warnx("mode %s (was %s), set by uid %u until restart: %s", name, mode_name(previous),
	          (unsigned)peer->uid, reason);
	daemon_event(daemon, "mode",
	             json_pack("{s:s, s:s, s:I, s:s}", CTL_KEY_MODE, name, "previous",
	                       mode_name(previous), "uid", (json_int_t)peer->uid, "reason",
	                       reason));
	return json_pack("{s:s, s:s}", CTL_KEY_MODE, name, "previous", mode_name(previous));
}

const struct control_command daemon_commands[] = {
    {CTL_CMD_STATUS, false, command_status, false},
    {CTL_CMD_METRICS, false, command_metrics, false},
    {CTL_CMD_VMS, false, command_vms, false},
    {CTL_CMD_VM_SET, true, command_vm_set, false},
    {CTL_CMD_BANS, false, command_bans, false},
    {CTL_CMD_UNBAN, true, command_unban, false},
    {CTL_CMD_BAN, true, command_ban, false},
    {CTL_CMD_HISTORY, false, command_history, false},
    {CTL_CMD_AUDIT, false, command_audit, false},
    {CTL_CMD_EVENTS, false, command_events, true},
    {CTL_CMD_ALLOW, true, command_allow, false},
    {CTL_CMD_DISALLOW, true, command_disallow, false},
    {CTL_CMD_ALLOWLIST, false, command_allowlist, false},
    {CTL_CMD_RELOAD, true, command_reload, false},
    {CTL_CMD_MODE, true, command_mode, false},
    {CTL_CMD_TICKETS, false, command_tickets, false},
    {CTL_CMD_TICKET, false, command_ticket, false},
    {CTL_CMD_TICKET_ACKNOWLEDGE, true, command_ticket_acknowledge, false},
    {CTL_CMD_TICKET_RESOLVE, true, command_ticket_resolve, false},
    {CTL_CMD_TICKET_CLOSE, true, command_ticket_close, false},
    {CTL_CMD_OUTBOX, false, command_outbox, false},
    {CTL_CMD_TICKET_NOTE, true, command_ticket_note, false},
    {CTL_CMD_TICKET_REPLY, true, command_ticket_reply, false},
    {CTL_CMD_TICKET_FALSE_POSITIVE, true, command_ticket_false_positive, false},
    {NULL, false, NULL, false},
};
