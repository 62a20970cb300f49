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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "commands.h"
#include "daemon.h"
#include "outbox.h"
#include "log.h"
#include "pending.h"
#include "protocol.h"
#include "source.h"
#include "vm.h"

/* Bans in one reply of "bans" at most: about 300 KiB of JSON. */
#define BANS_PAGE_MAX 1000

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
	outbox_metrics(daemon->outbox, m);
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
command_bans(void *context, const struct control_peer *peer, json_t *request,
             struct control_error *error)
{
	struct daemon *daemon = context;
	struct ban_listing listing = {json_array(), clock_now_ms(&daemon->clock)};
	struct store_cursor cursor = STORE_CURSOR_START;
	json_t *after = json_object_get(request, CTL_KEY_AFTER),
	       *limit = json_object_get(request, CTL_KEY_LIMIT);
	json_int_t expires_ms, id, page_size = BANS_PAGE_MAX;
	struct ban *page;
	size_t count;
	json_t *reply;
	int failed;

	(void)peer;
	if (after != NULL) {
		if (json_unpack(after, "{s:I, s:I}", "expires_ms", &expires_ms, "id", &id) < 0) {
			json_decref(listing.list);
			return control_fail(error, CTL_RESULT_BAD_REQUEST,
			                    "\"" CTL_KEY_AFTER "\" must be the \"" CTL_KEY_NEXT
			                    "\" of the previous page");
		}
		cursor = (struct store_cursor){expires_ms, id};
	}
	if (limit != NULL) {
		if (!json_is_integer(limit) || json_integer_value(limit) < 1) {
			json_decref(listing.list);
			return control_fail(error, CTL_RESULT_BAD_REQUEST,
			                    "\"" CTL_KEY_LIMIT "\" must be a positive number");
		}
		if (json_integer_value(limit) < page_size)
			page_size = json_integer_value(limit);
	}
	if ((page = calloc((size_t)page_size, sizeof(*page))) == NULL) {
		json_decref(listing.list);
		return control_fail(error, CTL_RESULT_FAILED, "out of memory");
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
		return control_fail(error, CTL_RESULT_FAILED, "cannot read the store");
	}
	reply = json_pack("{s:o}", CTL_KEY_BANS, listing.list);
	if (reply != NULL && count == (size_t)page_size)
		json_object_set_new(reply, CTL_KEY_NEXT,
		                    json_pack("{s:I, s:I}", "expires_ms",
		                              (json_int_t)cursor.expires_ms, "id",
		                              (json_int_t)cursor.id));
	return reply;
}

static json_t *
command_unban(void *context, const struct control_peer *peer, json_t *request,
              struct control_error *error)
{
	struct daemon *daemon = context;
	const char *text = json_string_value(json_object_get(request, CTL_KEY_SOURCE));
	const char *reason = json_string_value(json_object_get(request, CTL_KEY_REASON));
	struct ban lifted[SCOPE_COUNT * CATEGORY_COUNT];
	char source_text[SOURCE_STRLEN];
	struct source_key source;
	size_t count = 0;
	json_t *list;
	int result;

	if (text == NULL)
		return control_fail(error, CTL_RESULT_BAD_REQUEST,
		                    "\"" CTL_KEY_SOURCE "\" (an address) is required");
	if (source_parse(text, daemon->config.ipv6_prefix_len, &source) < 0)
		return control_fail(error, CTL_RESULT_BAD_REQUEST,
		                    "\"" CTL_KEY_SOURCE "\" is not an IPv4 or IPv6 address");
	result = engine_unban(&daemon->engine, &source, peer->uid, reason, lifted,
	                      sizeof(lifted) / sizeof(lifted[0]), &count);
	if (result == -ENOENT)
		return control_fail(error, CTL_RESULT_NOT_FOUND, "no active ban for that source");
	if (result < 0 && count == 0)
		return control_fail(error, CTL_RESULT_FAILED,
		                    "the store could not record the lift");
	capture_forget(daemon->capture, &source);
	list = json_array();
	for (size_t i = 0; i < count && i < sizeof(lifted) / sizeof(lifted[0]); i++)
		json_array_append_new(list, json_pack("{s:s, s:s, s:i}", "scope",
		                                      scope_name(lifted[i].scope), "category",
		                                      category_name(lifted[i].category), "level",
		                                      (int)lifted[i].level + 1));
	return json_pack("{s:s, s:o}", CTL_KEY_SOURCE,
	                 source_format(&source, source_text, sizeof(source_text)), CTL_KEY_LIFTED,
	                 list);
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

const struct control_command daemon_commands[] = {
    {CTL_CMD_STATUS, false, command_status},
    {CTL_CMD_METRICS, false, command_metrics},
    {CTL_CMD_VMS, false, command_vms},
    {CTL_CMD_VM_SET, true, command_vm_set},
    {CTL_CMD_BANS, false, command_bans},
    {CTL_CMD_UNBAN, true, command_unban},
    {NULL, false, NULL},
};
