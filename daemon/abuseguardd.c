/*
 * abuseguardd: watches what virtual machines send, bans abusive sources in
 * nftables on an escalation ladder, and answers on a control socket.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <net/if.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <syslog.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "capture.h"
#include "clock.h"
#include "config.h"
#include "control.h"
#include "engine.h"
#include "attribution.h"
#include "hostaddr.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "nft.h"
#include "notify.h"
#include "privilege.h"
#include "reload.h"
#include "replay.h"
#include "source.h"
#include "store.h"
#include "vm.h"

#define ABUSEGUARD_VERSION "0.1"

struct daemon {
	struct config config;
	struct clock clock;
	struct loop loop;
	struct store *store;
	struct nft *nft;
	struct engine engine;
	struct capture *capture;
	struct control *control;
	struct attribution attribution;
	struct loop_watch signal_watch;
	struct loop_watch timer_watch; /* every second: scan sweep; every few: nft check */
	uint64_t ticks;
	struct nft_options nft_options;
	struct notify notify;
	/* The command line's settings, put over every policy read, at start and on reload. */
	struct {
		char **interfaces;
		unsigned interface_count;
		const char *state_dir, *socket_path;
	} overrides;
	/* Decisions since start, for the metrics: by category and action, bans by scope. */
	uint64_t decisions[CATEGORY_COUNT][ACTION_COUNT];
	uint64_t bans[CATEGORY_COUNT][SCOPE_COUNT];
	struct loop_watch metrics_watch;
	int64_t metrics_interval_ms; /* the timer's period now */
	uint64_t metrics_write_errors;
	uint32_t event_ifindex; /* the interface of the event being handled, 0 between events */
	bool metrics_failing;   /* said once, until a write works again */
	uint64_t nft_restores, reloads, reload_failures;
	uint64_t store_pruned;          /* history rows past the retention, deleted */
	uint64_t tiny_fragments_logged; /* the XDP counter when last logged */
	int64_t started_ms;
};

/* How often the daemon checks that its nftables table is still there. */
#define NFT_CHECK_INTERVAL_S 5
/* Room for "file:line: message", or the list of settings a reload kept. */
#define RELOAD_MESSAGE_MAX (PATH_MAX + 1024)
/* The STATUS= line systemctl status shows. */
#define STATUS_LINE_MAX (PATH_MAX + 128)

static void apply_overrides(struct config *config, char **interfaces, unsigned interface_count,
                            const char *state_dir, const char *socket_path);
static int metrics_timer_arm(struct daemon *daemon);
/* Bans in one reply of "bans" at most: about 300 KiB of JSON. */
#define BANS_PAGE_MAX 1000
/* Rows of each table the timer prunes at a time: no tick holds the store long. */
#define STORE_PRUNE_BATCH 500
/* The store failed its integrity check at start. */
#define EXIT_STORE_DAMAGED 65 /* EX_DATAERR */

static void __attribute__((noreturn)) usage(int status)
{
	fprintf(status ? stderr : stdout,
	        "usage: abuseguardd [-tv] [-c file] [-i interface]... [--state-dir dir]\n"
	        "                   [--socket path]\n"
	        "       abuseguardd [-v] [-c file] --replay file [--replay file]...\n");
	exit(status);
}

static void
on_abuse_event(void *arg, const struct abuse_event *event)
{
	struct daemon *daemon = arg;
	struct abuse_event attributed;

	/* A spoofing event is an offence of the forging VM's own address. */
	if (event->category == CATEGORY_SPOOFING) {
		attributed = *event;
		if (attribution_event_source(&daemon->attribution, &attributed) < 0) {
			const struct vm *vm =
			    attribution_vm(&daemon->attribution, (int)event->ifindex);

			log_warnx("%s: %u packets from forged sources, but no address of its own "
			          "is known: reported, not recorded",
			          vm != NULL ? vm->interface : "an interface",
			          event->counts.attempts);
			return;
		}
		event = &attributed;
	}
	/* Errors are logged where they happen; the loop goes on. */
	daemon->event_ifindex = event->ifindex; /* for the decision's INTERFACE= field */
	engine_handle_event(&daemon->engine, event);
	daemon->event_ifindex = 0;
}

static void
on_learn_frame(void *arg, struct capture *capture, int ifindex, const void *frame, size_t length)
{
	struct daemon *daemon = arg;

	attribution_learn(&daemon->attribution, capture, ifindex, frame, length);
}

static void
on_interface(void *arg, struct capture *capture, int ifindex, const char *name, bool attached)
{
	struct daemon *daemon = arg;

	attribution_interface(&daemon->attribution, capture, ifindex, name, attached);
}

/* The abuse desk's view of each decision, in the daemon's log. */
static void
log_decision(void *arg, const struct finding *finding, const struct decision *decision,
             const struct ban *ban)
{
	struct daemon *daemon = arg;
	char source[SOURCE_STRLEN], duration[32], interface[IF_NAMESIZE] = "";
	char source_field[SOURCE_STRLEN + 8], category_field[32], scope_field[32];
	char interface_field[IF_NAMESIZE + 16], action_field[32];
	const char *fields[6] = {source_field, category_field, scope_field,
	                         action_field, NULL,           NULL};

	daemon->decisions[finding->category][decision->action]++;
	if (ban != NULL)
		daemon->bans[ban->category][ban->scope]++;
	source_format(&finding->source, source, sizeof(source));
	duration_format(decision->step.duration_ms, duration, sizeof(duration));
	/* The journal's fields: journalctl SOURCE=10.0.0.5, CATEGORY=spam, INTERFACE=tap3. */
	snprintf(source_field, sizeof(source_field), "SOURCE=%s", source);
	snprintf(category_field, sizeof(category_field), "CATEGORY=%s",
	         category_name(finding->category));
	snprintf(scope_field, sizeof(scope_field), "SCOPE=%s", scope_name(decision->scope));
	snprintf(action_field, sizeof(action_field), "ACTION=%s", action_name(decision->action));
	if (daemon->event_ifindex != 0 &&
	    if_indextoname(daemon->event_ifindex, interface) != NULL) {
		snprintf(interface_field, sizeof(interface_field), "INTERFACE=%s", interface);
		fields[4] = interface_field;
	}
	if (ban != NULL)
		log_fields(LOG_WARNING, fields,
		           "%s: banned for %s, scope %s, level %u (%s): %s%s%s%s%s%s%s", source,
		           duration, scope_name(ban->scope), ban->level + 1,
		           category_name(ban->category), finding->detail,
		           ban->vm.interface[0] ? "; VM on " : "", ban->vm.interface,
		           ban->vm.mac[0] ? " " : "", ban->vm.mac, ban->vm.name[0] ? " named " : "",
		           ban->vm.name);
	else if (decision->action == ACTION_ALERT)
		log_fields(LOG_WARNING, fields,
		           "%s: %s, not banned (%s; would be level %u, %s, scope %s): %s", source,
		           category_name(finding->category), decision_reason_name(decision->why),
		           decision->step.level + 1, duration, scope_name(decision->scope),
		           finding->detail);
	else
		log_fields(LOG_DEBUG, fields, "%s: %s finding ignored (%s): %s", source,
		           category_name(finding->category), decision_reason_name(decision->why),
		           finding->detail);
}

static void
format_utc(int64_t ms, char *buf, size_t len)
{
	time_t seconds = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&seconds, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

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

static json_t *
command_status(void *context, const struct control_peer *peer, json_t *request, const char **error)
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
	if (interfaces == NULL) {
		*error = "out of memory";
		return NULL;
	}
	count = capture_interfaces(daemon->capture, interfaces, count);
	list = json_array();
	for (size_t i = 0; i < count; i++)
		json_array_append_new(
		    list,
		    json_pack("{s:s, s:i, s:s, s:s}", "name", interfaces[i].name, "ifindex",
		              interfaces[i].ifindex, "xdp_mode", interfaces[i].xdp_mode, "tc_mode",
		              interfaces[i].tc_mode ? interfaces[i].tc_mode : "none"));
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
	reply = json_pack(
	    "{s:s, s:s, s:i, s:I, s:o, s:o, s:o, s:o}", "version", ABUSEGUARD_VERSION, "mode",
	    daemon->config.mode == MODE_OBSERVE ? "observe" : "enforce", "pid", (int)getpid(),
	    "uptime_s", (json_int_t)((now_ms - daemon->started_ms) / 1000), "interfaces", list,
	    "bans_active", bans_active, "store", store_status(daemon), "counters", counters);
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
};

/*
 * Everything the status counts, and the decisions by category, in
 * Prometheus' text format: what `abusectl metrics` prints and the policy's
 * metrics.file holds.
 */
static void
daemon_metrics(struct daemon *daemon, struct metrics *m)
{
	const struct engine_stats *engine = &daemon->engine.stats;
	const struct config *config = &daemon->config;
	int64_t now_ms = clock_now_ms(&daemon->clock);
	static const uint8_t families[] = {SOURCE_FAMILY_IPV4, SOURCE_FAMILY_IPV6};
	struct capture_stats capture;
	struct control_stats control;
	struct store_health health;
	uint64_t sources_new;

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
	metrics_family(m, "abuseguard_reloads_total", "counter", "Policy reloads, by outcome.");
	metrics_sample(m, "abuseguard_reloads_total", daemon->reloads, "outcome", "reloaded", NULL);
	metrics_sample(m, "abuseguard_reloads_total", daemon->reload_failures, "outcome", "refused",
	               NULL);
	metrics_single(m, "abuseguard_metrics_file_errors_total", "counter",
	               "Failed writes of metrics.file.", daemon->metrics_write_errors);
}

static json_t *
command_metrics(void *context, const struct control_peer *peer, json_t *request, const char **error)
{
	struct metrics metrics;
	json_t *reply;

	(void)peer;
	(void)request;
	metrics_init(&metrics);
	daemon_metrics(context, &metrics);
	if (metrics.text == NULL) {
		*error = "out of memory";
		return NULL;
	}
	reply = json_pack("{s:s}", "text", metrics.text);
	metrics_free(&metrics);
	return reply;
}

static json_t *
ban_json(const struct ban *ban, int64_t now_ms)
{
	char source[SOURCE_STRLEN], started[32], expires[32];

	format_utc(ban->start_ms, started, sizeof(started));
	format_utc(ban_end_ms(ban), expires, sizeof(expires));
	return json_pack(
	    "{s:I, s:b, s:s, s:s, s:s, s:i, s:I, s:s, s:s, s:I, s:s, s:s, s:s}", "id",
	    (json_int_t)ban->id, "recorded", ban->id != 0, "source",
	    source_format(&ban->source, source, sizeof(source)), "scope", scope_name(ban->scope),
	    "category", category_name(ban->category), "level", (int)ban->level + 1, "duration_s",
	    (json_int_t)((ban->expires_ms - ban->start_ms) / 1000), "started", started, "expires",
	    expires, "remaining_s", (json_int_t)((ban_end_ms(ban) - now_ms) / 1000), "interface",
	    ban->vm.interface, "mac", ban->vm.mac, "vm_name", ban->vm.name);
}

struct ban_listing {
	json_t *list;
	int64_t now_ms;
};

static int
append_ban(const struct ban *ban, void *arg)
{
	struct ban_listing *listing = arg;

	return json_array_append_new(listing->list, ban_json(ban, listing->now_ms)) ? -ENOMEM : 0;
}

/*
 * A page of the active bans, soonest expiry first: {"after": {"expires_ms",
 * "id"}} from the last page's "next" continues, "limit" asks for fewer.
 * Pages keep every reply, and every client's memory, bounded however many
 * bans there are; abusectl reads them all. The bans the store has not
 * recorded yet are enforced all the same: they come with the last page.
 */
static json_t *
command_bans(void *context, const struct control_peer *peer, json_t *request, const char **error)
{
	struct daemon *daemon = context;
	struct ban_listing listing = {json_array(), clock_now_ms(&daemon->clock)};
	struct store_cursor cursor = STORE_CURSOR_START;
	json_t *after = json_object_get(request, "after"),
	       *limit = json_object_get(request, "limit");
	json_int_t expires_ms, id, page_size = BANS_PAGE_MAX;
	struct ban *page;
	size_t count;
	json_t *reply;
	int failed;

	(void)peer;
	if (after != NULL) {
		if (json_unpack(after, "{s:I, s:I}", "expires_ms", &expires_ms, "id", &id) < 0) {
			*error = "\"after\" must be the \"next\" of the previous page";
			json_decref(listing.list);
			return NULL;
		}
		cursor = (struct store_cursor){expires_ms, id};
	}
	if (limit != NULL) {
		if (!json_is_integer(limit) || json_integer_value(limit) < 1) {
			*error = "\"limit\" must be a positive number";
			json_decref(listing.list);
			return NULL;
		}
		if (json_integer_value(limit) < page_size)
			page_size = json_integer_value(limit);
	}
	if ((page = calloc((size_t)page_size, sizeof(*page))) == NULL) {
		*error = "out of memory";
		json_decref(listing.list);
		return NULL;
	}
	failed = store_active_page(daemon->store, listing.now_ms, &cursor, page, (size_t)page_size,
	                           &count) < 0;
	for (size_t i = 0; i < count && !failed; i++)
		failed = append_ban(&page[i], &listing) < 0;
	free(page);
	if (!failed && count < (size_t)page_size)
		failed = pending_active_bans(&daemon->engine.pending, listing.now_ms, append_ban,
		                             &listing) < 0;
	if (failed) {
		json_decref(listing.list);
		*error = "cannot read the store";
		return NULL;
	}
	reply = json_pack("{s:o}", "bans", listing.list);
	if (reply != NULL && count == (size_t)page_size)
		json_object_set_new(reply, "next",
		                    json_pack("{s:I, s:I}", "expires_ms",
		                              (json_int_t)cursor.expires_ms, "id",
		                              (json_int_t)cursor.id));
	return reply;
}

static json_t *
command_unban(void *context, const struct control_peer *peer, json_t *request, const char **error)
{
	struct daemon *daemon = context;
	const char *text = json_string_value(json_object_get(request, "source"));
	const char *reason = json_string_value(json_object_get(request, "reason"));
	struct ban lifted[SCOPE_COUNT * CATEGORY_COUNT];
	char source_text[SOURCE_STRLEN];
	struct source_key source;
	size_t count = 0;
	json_t *list;
	int result;

	if (text == NULL) {
		*error = "\"source\" (an address) is required";
		return NULL;
	}
	if (source_parse(text, daemon->config.ipv6_prefix_len, &source) < 0) {
		*error = "\"source\" is not an IPv4 or IPv6 address";
		return NULL;
	}
	result = engine_unban(&daemon->engine, &source, peer->uid, reason, lifted,
	                      sizeof(lifted) / sizeof(lifted[0]), &count);
	if (result == -ENOENT) {
		*error = "no active ban for that source";
		return NULL;
	}
	if (result < 0 && count == 0) {
		*error = "the store could not record the lift";
		return NULL;
	}
	capture_forget(daemon->capture, &source);
	list = json_array();
	for (size_t i = 0; i < count && i < sizeof(lifted) / sizeof(lifted[0]); i++)
		json_array_append_new(list, json_pack("{s:s, s:s, s:i}", "scope",
		                                      scope_name(lifted[i].scope), "category",
		                                      category_name(lifted[i].category), "level",
		                                      (int)lifted[i].level + 1));
	return json_pack("{s:s, s:o}", "source",
	                 source_format(&source, source_text, sizeof(source_text)), "lifted", list);
}

static json_t *
vm_json(const struct vm *vm)
{
	char mac[32], address[SOURCE_STRLEN], since[32];
	json_t *addresses = json_array();

	for (unsigned i = 0; i < vm->address_count; i++) {
		const struct vm_address *entry = &vm->addresses[i];

		format_utc(entry->since_ms, since, sizeof(since));
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
command_vms(void *context, const struct control_peer *peer, json_t *request, const char **error)
{
	struct daemon *daemon = context;
	json_t *list = json_array();

	(void)peer;
	(void)request;
	(void)error;
	for (unsigned i = 0; i < daemon->attribution.vms.count; i++)
		json_array_append_new(list, vm_json(&daemon->attribution.vms.vms[i]));
	return json_pack("{s:o}", "vms", list);
}

/* An optional label: absent is NULL, else printable text under VM_LABEL_MAX. */
static int
request_label(json_t *request, const char *key, const char **out)
{
	json_t *value = json_object_get(request, key);

	*out = NULL;
	if (value == NULL)
		return 0;
	if (!json_is_string(value) || json_string_length(value) >= VM_LABEL_MAX)
		return -EINVAL;
	for (const char *c = json_string_value(value); *c; c++)
		if (!isprint((unsigned char)*c))
			return -EINVAL;
	*out = json_string_value(value);
	return 0;
}

static json_t *
command_vm_set(void *context, const struct control_peer *peer, json_t *request, const char **error)
{
	struct daemon *daemon = context;
	const char *interface = json_string_value(json_object_get(request, "interface"));
	const char *reason = json_string_value(json_object_get(request, "reason"));
	json_t *list = json_object_get(request, "addresses"), *element;
	struct prefix addresses[STORE_VM_ADDRESSES_MAX];
	struct store_vm record;
	const char *name, *customer, *conflict;
	static char message[256];
	struct vm *vm;
	size_t i;
	int result;

	if (interface == NULL || interface[0] == '\0' || strlen(interface) >= IF_NAMESIZE ||
	    strpbrk(interface, "/: \t\n") != NULL) {
		*error = "\"interface\" (an interface name) is required";
		return NULL;
	}
	if (!json_is_array(list) || json_array_size(list) == 0 ||
	    json_array_size(list) > daemon->config.limits.max_vm_addresses) {
		snprintf(message, sizeof(message),
		         "\"addresses\" must list 1 to %u addresses (limits.max_vm_addresses)",
		         daemon->config.limits.max_vm_addresses);
		*error = message;
		return NULL;
	}
	json_array_foreach(list, i, element)
	{
		const char *text = json_string_value(element);

		if (text == NULL || prefix_parse(text, &addresses[i]) < 0) {
			snprintf(message, sizeof(message), "not an address or prefix: %.64s",
			         text != NULL ? text : "(not a string)");
			*error = message;
			return NULL;
		}
	}
	if (request_label(request, "name", &name) < 0 ||
	    request_label(request, "customer", &customer) < 0) {
		*error = "\"name\" and \"customer\" must be printable text under 64 characters";
		return NULL;
	}
	result = vm_configure_check(&daemon->attribution.vms, interface, addresses, (unsigned)i,
	                            &conflict);
	if (result == -EADDRINUSE) {
		snprintf(message, sizeof(message), "an address is configured on interface %s",
		         conflict);
		*error = message;
		return NULL;
	}
	if (result == -EADDRNOTAVAIL) {
		*error = "no VM can own one of these addresses (loopback, multicast, link-local, "
		         "broadcast, unspecified or the hypervisor's own)";
		return NULL;
	}
	if (result < 0) {
		*error = "the VM registry is full (limits.max_interfaces)";
		return NULL;
	}
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
	    0) {
		*error = "the store could not record the VM";
		return NULL;
	}
	result = attribution_configure(&daemon->attribution, interface, addresses, (unsigned)i,
	                               record.name, record.customer, VM_ORIGIN_OPERATOR, &conflict);
	if (result < 0 || (vm = vm_find(&daemon->attribution.vms, interface)) == NULL) {
		*error = "recorded, but the registry refused it; a restart applies it";
		return NULL;
	}
	log_info("%s: addresses set by uid %u: %s", interface, (unsigned)peer->uid, reason);
	return json_pack("{s:o}", "vm", vm_json(vm));
}

static const struct control_command commands[] = {
    {"status", false, command_status},
    {"metrics", false, command_metrics},
    {"vms", false, command_vms},
    {"vm_set", true, command_vm_set},
    {"bans", false, command_bans},
    {"unban", true, command_unban},
    {NULL, false, NULL},
};

/* One line for the service manager: what runs, on how much. */
static void
daemon_status_line(struct daemon *daemon, char *buf, size_t len)
{
	snprintf(buf, len, "%s mode, %zu interface(s) attached, policy %s",
	         daemon->config.mode == MODE_OBSERVE ? "observe" : "enforce",
	         capture_interfaces(daemon->capture, NULL, 0), daemon->config.path);
}

struct reload_report {
	char *message;
	size_t len, used;
};

static void
reload_kept(void *arg, const char *setting)
{
	struct reload_report *report = arg;

	if (report->used < report->len)
		report->used += snprintf(report->message + report->used, report->len - report->used,
		                         "%s%s", report->used > 0 ? ", " : "", setting);
}

/*
 * Re-reads the policy from the file it came from and puts it in place in one
 * step: a policy that does not parse changes nothing. Thresholds reach the
 * XDP program without reloading it; restart-only settings keep their running
 * values and are named. Returns 0 or -errno; message says what happened
 * ("file:line: message" on error). Logged here, once.
 */
static int
daemon_reload(struct daemon *daemon, char *message, size_t len)
{
	struct config next;
	char status[STATUS_LINE_MAX], kept[1024] = "";
	struct reload_report report = {kept, sizeof(kept), 0};
	int error;

	notify_reloading(&daemon->notify, "reloading the policy");
	error = config_load(daemon->config.path, &next, message, len);
	if (error < 0) {
		daemon->reload_failures++;
		log_warnx("reload: %s; the running policy stays", message);
	} else {
		apply_overrides(&next, daemon->overrides.interfaces,
		                daemon->overrides.interface_count, daemon->overrides.state_dir,
		                daemon->overrides.socket_path);
		reload_keep_restart_only(&next, &daemon->config, reload_kept, &report);
		daemon->config = next; /* the engine and capture read it through a pointer */
		capture_set_thresholds(daemon->capture, &daemon->config);
		daemon->reloads++;
		if (metrics_timer_arm(daemon) < 0)
			log_warn("reload: metrics timer");
		if (kept[0] != '\0')
			snprintf(message, len,
			         "%s: policy reloaded; changed but kept until restart: %s",
			         daemon->config.path, kept);
		else
			snprintf(message, len, "%s: policy reloaded", daemon->config.path);
		log_info("%s", message);
	}
	daemon_status_line(daemon, status, sizeof(status));
	notify_ready(&daemon->notify, status);
	return error;
}

static void
signal_ready(struct loop_watch *watch, uint32_t events)
{
	struct daemon *daemon =
	    (struct daemon *)((char *)watch - offsetof(struct daemon, signal_watch));
	struct signalfd_siginfo info;

	(void)events;
	while (read(watch->fd, &info, sizeof(info)) == sizeof(info)) {
		if (info.ssi_signo == SIGHUP) {
			char message[RELOAD_MESSAGE_MAX];

			/* daemon_reload logs the outcome; the message is for a caller that asks. */
			daemon_reload(daemon, message, sizeof(message));
			continue;
		}
		log_info("signal %u: stopping", info.ssi_signo);
		daemon->loop.stop = 1;
	}
}

static int
signals_open(struct daemon *daemon)
{
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) == -1)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	daemon->signal_watch.fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (daemon->signal_watch.fd == -1)
		return -errno;
	daemon->signal_watch.ready = signal_ready;
	return loop_add(&daemon->loop, &daemon->signal_watch, EPOLLIN);
}

/*
 * Another program may flush the whole ruleset (nftables.service does when it
 * restarts) and take the bans with it. The store still knows them: rebuild
 * the table and reconcile, as at start.
 */
static void
nft_check(struct daemon *daemon)
{
	struct nft *restored;
	int present = nft_table_present(daemon->nft);

	if (present != 0)
		return; /* there, or the question failed and was logged */
	log_warnx("inet %s: the table is gone (was the ruleset flushed?); restoring it and "
	          "its bans from the store",
	          daemon->config.nft_table);
	if (nft_open(&restored, &daemon->nft_options) < 0) {
		log_warnx("inet %s: cannot restore the table; trying again in %d s",
		          daemon->config.nft_table, NFT_CHECK_INTERVAL_S);
		return;
	}
	nft_close(daemon->nft);
	daemon->nft = restored;
	daemon->engine.nft = restored;
	daemon->nft_restores++;
	if (engine_reconcile(&daemon->engine) < 0)
		log_warnx("inet %s: restored, but the bans could not all be put back",
		          daemon->config.nft_table);
}

/*
 * Tiny first fragments (RFC 1858) hide their ports and flags: the program
 * counts them but cannot say what they were. Said in the log, at most once a
 * check interval, so an operator sees the attack without a line per packet.
 */
static void
tiny_fragments_check(struct daemon *daemon)
{
	struct capture_stats capture;
	uint64_t seen;

	capture_stats(daemon->capture, &capture);
	seen = capture.counters[COUNTER_TINY_FRAGMENTS];
	if (seen > daemon->tiny_fragments_logged)
		log_warnx("XDP: %" PRIu64
		          " tiny IP fragments in the last %d s (first fragments too "
		          "short to show ports and flags, RFC 1858); counted, not attributed to a "
		          "source",
		          seen - daemon->tiny_fragments_logged, NFT_CHECK_INTERVAL_S);
	daemon->tiny_fragments_logged = seen;
}

/* Queued records are written, then history past the retention goes, a small batch each tick. */
static void
store_maintain(struct daemon *daemon)
{
	int64_t before_ms = clock_now_ms(&daemon->clock) - daemon->config.store.retention_ms;
	size_t deleted;

	/* What the store refused is tried again first: space may have come back. */
	if (engine_flush_pending(&daemon->engine) < 0)
		return;
	if (store_prune(daemon->store, before_ms, STORE_PRUNE_BATCH, &deleted) == 0)
		daemon->store_pruned += deleted;
}

static void
timer_ready(struct loop_watch *watch, uint32_t events)
{
	struct daemon *daemon =
	    (struct daemon *)((char *)watch - offsetof(struct daemon, timer_watch));
	uint64_t expirations;

	(void)events;
	if (read(watch->fd, &expirations, sizeof(expirations)) != sizeof(expirations))
		return;
	/* Live, the program reads its own clock: the time passed here is not used. */
	if (capture_sweep(daemon->capture, 0) < 0)
		log_warnx("capture: scan sweep failed");
	if (++daemon->ticks % NFT_CHECK_INTERVAL_S == 0) {
		nft_check(daemon);
		store_maintain(daemon);
		(void)engine_check_sets(&daemon->engine); /* errors were logged */
		tiny_fragments_check(daemon);
	}
}

static int
timer_open(struct daemon *daemon)
{
	struct itimerspec period = {
	    .it_interval = {.tv_sec = 1},
	    .it_value = {.tv_sec = 1},
	};

	daemon->timer_watch.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (daemon->timer_watch.fd == -1 ||
	    timerfd_settime(daemon->timer_watch.fd, 0, &period, NULL) == -1)
		return -errno;
	daemon->timer_watch.ready = timer_ready;
	return loop_add(&daemon->loop, &daemon->timer_watch, EPOLLIN);
}

/* metrics.file: written whole and renamed into place, every metrics.interval. */
static void
metrics_file_write(struct daemon *daemon)
{
	const char *path = daemon->config.metrics.file;
	struct metrics metrics;
	int error;

	if (path[0] == '\0')
		return;
	metrics_init(&metrics);
	daemon_metrics(daemon, &metrics);
	error = metrics.text == NULL ? -ENOMEM : metrics_write_file(&metrics, path);
	metrics_free(&metrics);
	if (error < 0) {
		daemon->metrics_write_errors++;
		if (!daemon->metrics_failing)
			log_warnx("%s: cannot write the metrics: %s (trying every %llds)", path,
			          strerror(-error),
			          (long long)(daemon->config.metrics.interval_ms / 1000));
		daemon->metrics_failing = true;
	} else if (daemon->metrics_failing) {
		log_info("%s: metrics written again", path);
		daemon->metrics_failing = false;
	}
}

static void
metrics_timer_ready(struct loop_watch *watch, uint32_t events)
{
	struct daemon *daemon =
	    (struct daemon *)((char *)watch - offsetof(struct daemon, metrics_watch));
	uint64_t expirations;

	(void)events;
	if (read(watch->fd, &expirations, sizeof(expirations)) != sizeof(expirations))
		return;
	metrics_file_write(daemon);
}

/* Starts, changes or stops the timer to match the policy (start and reload). */
static int
metrics_timer_arm(struct daemon *daemon)
{
	int64_t interval_ms = daemon->config.metrics.file[0] != '\0'
	                          ? daemon->config.metrics.interval_ms
	                          : 0; /* 0 disarms */
	struct itimerspec period = {
	    .it_interval = {.tv_sec = interval_ms / 1000,
	                    .tv_nsec = (interval_ms % 1000) * 1000000},
	};
	int error;

	if (daemon->metrics_watch.fd == -1) {
		daemon->metrics_watch.fd =
		    timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		daemon->metrics_watch.ready = metrics_timer_ready;
		if (daemon->metrics_watch.fd == -1 ||
		    (error = loop_add(&daemon->loop, &daemon->metrics_watch, EPOLLIN)) < 0)
			return daemon->metrics_watch.fd == -1 ? -errno : error;
	}
	if (interval_ms == daemon->metrics_interval_ms)
		return 0;
	period.it_value = period.it_interval;
	if (timerfd_settime(daemon->metrics_watch.fd, 0, &period, NULL) == -1)
		return -errno;
	daemon->metrics_interval_ms = interval_ms;
	/* The first file at once, not an interval after start. */
	metrics_file_write(daemon);
	return 0;
}

static void
apply_overrides(struct config *config, char **interfaces, unsigned interface_count,
                const char *state_dir, const char *socket_path)
{
	if (interface_count > 0) {
		if (interface_count > CONFIG_MAX_INTERFACES)
			fatalx("-i: at most %d interfaces", CONFIG_MAX_INTERFACES);
		/* Zeroed, so that a reload compares the same overrides as equal. */
		memset(config->interfaces, 0, sizeof(config->interfaces));
		for (unsigned i = 0; i < interface_count; i++) {
			if (strlen(interfaces[i]) >= CONFIG_MAX_PATTERN)
				fatalx("-i %s: longer than %d characters", interfaces[i],
				       CONFIG_MAX_PATTERN - 1);
			strcpy(config->interfaces[i], interfaces[i]);
		}
		config->interface_count = interface_count;
	}
	if (state_dir != NULL) {
		if (state_dir[0] != '/' || strlen(state_dir) >= sizeof(config->state_dir))
			fatalx("--state-dir %s: must be an absolute path", state_dir);
		strcpy(config->state_dir, state_dir);
	}
	if (socket_path != NULL) {
		if (socket_path[0] != '/' || strlen(socket_path) >= sizeof(config->control_socket))
			fatalx("--socket %s: must be an absolute path", socket_path);
		strcpy(config->control_socket, socket_path);
	}
}

/*
 * A damaged store would answer with errors, or worse with half a history:
 * the daemon does not run on one.
 */
static void
store_start(struct daemon *daemon, const char *database)
{
	int error = store_open(&daemon->store, database);

	if (error == 0 &&
	    (error = store_check(daemon->store, daemon->config.store.check_timeout_ms)) ==
	        -ETIMEDOUT) {
		log_warnx("%s: running without a complete integrity check (store.check_timeout)",
		          database);
		error = 0;
	}
	if (error == -EBADMSG) {
		log_warnx(
		    "%s: the store is damaged; not running on it. Stop here, move the "
		    "database aside with its -wal and -shm files (mv %s %s.damaged) and start "
		    "again on a new store, or restore it from a backup",
		    database, database, database);
		exit(EXIT_STORE_DAMAGED);
	}
	if (error < 0)
		fatalx("%s: cannot open the store", database);
}

static void
daemon_start(struct daemon *daemon)
{
	const struct config *config = &daemon->config;
	struct control_options control_options = {
	    .path = config->control_socket,
	    .group = config->control_group,
	    .max_clients = config->limits.control_clients,
	    .max_line_bytes = config->limits.control_line_bytes,
	    .idle_timeout_ms = config->limits.control_idle_ms,
	    .commands = commands,
	    .context = daemon,
	};
	const struct capture_hooks hooks = {
	    .on_event = on_abuse_event,
	    .on_learn = on_learn_frame,
	    .on_interface = on_interface,
	    .arg = daemon,
	};
	char database[PATH_MAX + 32], status[STATUS_LINE_MAX];

	if (mkdir(config->state_dir, 0750) == -1 && errno != EEXIST)
		fatal("%s: mkdir", config->state_dir);
	snprintf(database, sizeof(database), "%s/abuseguard.db", config->state_dir);
	daemon->metrics_watch.fd = -1;
	if (loop_init(&daemon->loop) < 0 || signals_open(daemon) < 0)
		fatalx("cannot set up the event loop");
	if (notify_open(&daemon->notify, &daemon->loop) < 0)
		fatalx("cannot talk to the service manager"); /* the variable was named */
	store_start(daemon, database);
	daemon->nft_options = (struct nft_options){
	    .table = config->nft_table,
	    .ipv6_prefix_len = config->ipv6_prefix_len,
	    .always_allowed = config->always_allowed,
	    .always_allowed_count = config->always_allowed_count,
	    .max_bans_per_set = config->limits.max_bans,
	};
	if (nft_open(&daemon->nft, &daemon->nft_options) < 0)
		fatalx("nftables: cannot set up table inet %s", config->nft_table);
	if (attribution_open(&daemon->attribution, &daemon->loop, config, &daemon->clock,
	                     daemon->store) < 0)
		fatalx("cannot set up the VM registry");
	if (engine_init(&daemon->engine, config, &daemon->clock, daemon->store, daemon->nft) < 0)
		fatalx("cannot set up the engine");
	daemon->engine.on_decision = log_decision;
	daemon->engine.arg = daemon;
	daemon->engine.host = &daemon->attribution.host;
	daemon->engine.vms = &daemon->attribution.vms;
	if (engine_reconcile(&daemon->engine) < 0)
		log_warnx("nftables: reconcile with the store failed; bans may be missing");
	if (timer_open(daemon) < 0)
		fatal("timerfd");
	if (control_init(&daemon->control, &daemon->loop, &control_options) < 0)
		fatalx("%s: cannot open the control socket", config->control_socket);
	if (capture_open_hooks(&daemon->capture, &daemon->loop, config, &hooks) < 0)
		fatalx("cannot load or attach the XDP program");
	if (metrics_timer_arm(daemon) < 0)
		fatal("metrics timer");
	log_info("abuseguardd %s running (%s mode), %u interface pattern(s), state in %s",
	         ABUSEGUARD_VERSION, config->mode == MODE_OBSERVE ? "observe" : "enforce",
	         config->interface_count, config->state_dir);
	/* The store is open, the table is in place and the programs are attached. */
	daemon_status_line(daemon, status, sizeof(status));
	notify_ready(&daemon->notify, status);
}

static void
daemon_stop(struct daemon *daemon)
{
	notify_stopping(&daemon->notify, "stopping; bans stay in the kernel until they expire");
	/* Bans stay in the kernel and expire on their own. */
	capture_close(daemon->capture);
	control_close(daemon->control);
	engine_close(&daemon->engine);
	attribution_close(&daemon->attribution);
	nft_close(daemon->nft);
	store_close(daemon->store);
	notify_close(&daemon->notify);
	if (daemon->metrics_watch.fd != -1)
		close(daemon->metrics_watch.fd);
	loop_close(&daemon->loop);
	log_info("abuseguardd stopped");
}

int
main(int argc, char *argv[])
{
	static const struct option long_options[] = {
	    {"state-dir", required_argument, NULL, 'S'},
	    {"socket", required_argument, NULL, 's'},
	    {"replay", required_argument, NULL, 'R'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	static struct daemon daemon;
	const char *config_path = CONFIG_DEFAULT_PATH, *state_dir = NULL, *socket_path = NULL;
	char *interfaces[CONFIG_MAX_INTERFACES + 1];
	char **replay_files = NULL;
	unsigned interface_count = 0, replay_count = 0;
	int check_only = 0, verbose = 0, option;
	char error[PATH_MAX + 256];

	while ((option = getopt_long(argc, argv, "c:hi:tv", long_options, NULL)) != -1) {
		switch (option) {
		case 'c':
			config_path = optarg;
			break;
		case 'i':
			if (interface_count > CONFIG_MAX_INTERFACES)
				fatalx("-i: at most %d interfaces", CONFIG_MAX_INTERFACES);
			interfaces[interface_count++] = optarg;
			break;
		case 't':
			check_only = 1;
			break;
		case 'v':
			verbose++;
			break;
		case 'S':
			state_dir = optarg;
			break;
		case 's':
			socket_path = optarg;
			break;
		case 'R':
			/* At most one per argument: argc bounds them. */
			if (replay_files == NULL &&
			    (replay_files = calloc(argc, sizeof(*replay_files))) == NULL)
				fatal("--replay");
			replay_files[replay_count++] = optarg;
			break;
		case 'h':
			usage(0);
		default:
			usage(64);
		}
	}
	if (optind != argc)
		usage(64);

	log_init(1, verbose, "abuseguardd");
	if (config_load(config_path, &daemon.config, error, sizeof(error)) < 0) {
		fprintf(stderr, "abuseguardd: %s\n", error);
		return CONFIG_EXIT_INVALID;
	}
	daemon.overrides.interfaces = interfaces;
	daemon.overrides.interface_count = interface_count;
	daemon.overrides.state_dir = state_dir;
	daemon.overrides.socket_path = socket_path;
	apply_overrides(&daemon.config, interfaces, interface_count, state_dir, socket_path);
	if (check_only) {
		printf("%s: configuration OK\n", config_path);
		return 0;
	}
	if (replay_count > 0) {
		int status = replay_run(&daemon.config, replay_files, replay_count);

		free(replay_files);
		return status;
	}

	if (privilege_check(error, sizeof(error)) < 0)
		fatalx("missing capabilities: %s; run as root or with %s, as abuseguard.service "
		       "grants",
		       error[0] != '\0' ? error : "cannot read them", privilege_needed);
	clock_init_live(&daemon.clock);
	daemon.started_ms = clock_now_ms(&daemon.clock);
	daemon_start(&daemon);
	if (loop_run(&daemon.loop) < 0)
		log_warnx("event loop failed");
	daemon_stop(&daemon);
	return 0;
}
