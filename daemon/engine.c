/* observation -> detector -> policy -> store -> nftables, one source at a time. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "log.h"
#include "pending.h"
#include "source.h"

#define MINUTE_MS 60000

int
engine_init(struct engine *engine, const struct config *config, struct clock *clock,
            struct store *store, struct nft *nft)
{
	memset(engine, 0, sizeof(*engine));
	engine->config = config;
	engine->clock = clock;
	engine->store = store;
	engine->nft = nft;
	pending_init(&engine->pending, config->limits.store_pending);
	engine->recent_bans = calloc(config->limits.bans_per_minute, sizeof(int64_t));
	if (engine->recent_bans == NULL) {
		log_warn("engine: safety valve of %u bans", config->limits.bans_per_minute);
		return -ENOMEM;
	}
	return 0;
}

void
engine_close(struct engine *engine)
{
	free(engine->recent_bans);
	engine->recent_bans = NULL;
	if (engine->pending.count > 0)
		log_warnx("store: %u record(s) never written; their bans stay in the kernel, "
		          "tagged for the next start to adopt",
		          engine->pending.count);
	pending_close(&engine->pending);
}

static unsigned
bans_last_minute(const struct engine *engine, int64_t now_ms)
{
	unsigned count = 0;

	for (unsigned i = 0; i < engine->recent_count; i++)
		if (engine->recent_bans[i] > now_ms - MINUTE_MS)
			count++;
	return count;
}

static void
remember_ban(struct engine *engine, int64_t now_ms)
{
	unsigned size = engine->config->limits.bans_per_minute;

	engine->recent_bans[engine->recent_next] = now_ms;
	engine->recent_next = (engine->recent_next + 1) % size;
	if (engine->recent_count < size)
		engine->recent_count++;
}

static void
offence_from_finding(const struct finding *finding, struct offence *offence)
{
	memset(offence, 0, sizeof(*offence));
	offence->source = finding->source;
	offence->category = finding->category;
	offence->time_ms = finding->time_ms;
	offence->attempts = finding->counts.attempts;
	offence->destinations = finding->counts.destinations;
	memcpy(offence->detail, finding->detail, sizeof(offence->detail));
}

/* The VM behind an interface: the history stays keyed by address, this is for people. */
static void
vm_identity_of(const struct engine *engine, unsigned ifindex, struct vm_identity *out)
{
	const struct vm *vm;

	memset(out, 0, sizeof(*out));
	if (engine->vms == NULL || (vm = vm_find_ifindex(engine->vms, (int)ifindex)) == NULL)
		return;
	snprintf(out->interface, sizeof(out->interface), "%s", vm->interface);
	vm_mac_format(vm, out->mac, sizeof(out->mac));
	snprintf(out->name, sizeof(out->name), "%s", vm->name);
}

/* The customer label of the VM behind an interface, for routing its ticket; NULL if none. */
static const char *
vm_customer_of(const struct engine *engine, unsigned ifindex)
{
	const struct vm *vm;

	if (engine->vms == NULL || (vm = vm_find_ifindex(engine->vms, (int)ifindex)) == NULL)
		return NULL;
	return vm->customer;
}

/*
 * Files the offence's ticket once the decision is made; a ticket the store
 * cannot take is logged and counted, and never holds up enforcement.
 */
static void
engine_ticket(struct engine *engine, const struct finding *finding, const struct offence *offence,
              const struct ban *ban)
{
	char source[SOURCE_STRLEN];

	if (engine->tickets == NULL ||
	    ticket_file(engine->tickets, finding, offence, ban,
	                vm_customer_of(engine, finding->ifindex), NULL) == 0)
		return;
	log_warnx("%s: %s ticket not filed: the store failed",
	          source_format(&finding->source, source, sizeof(source)),
	          category_name(finding->category));
}

/* The ban as nftables keeps it: tagged, so that a restart can adopt it if the store missed it. */
static struct nft_ban
ban_for_kernel(const struct ban *ban)
{
	return (struct nft_ban){
	    .source = ban->source,
	    .scope = ban->scope,
	    .remaining_ms = ban->expires_ms - ban->start_ms,
	    .tag = {true, ban->category, ban->level, ban->source.prefix_len, ban->start_ms,
	            ban->expires_ms - ban->start_ms},
	};
}

/*
 * Writes the decision to the store, after what waits from before; what the
 * store refuses is queued (bounded) and written by engine_flush_pending.
 */
static void
engine_record(struct engine *engine, struct offence *offence, struct ban *ban)
{
	char source[SOURCE_STRLEN];
	int error = 0;

	/* Behind records that wait, a new one waits too: the store is failing. */
	if (engine->pending.count == 0 ||
	    (error = pending_flush(&engine->pending, engine->store)) >= 0)
		error =
		    engine->pending.count > 0 ? -EAGAIN : store_record(engine->store, offence, ban);
	if (error == 0)
		return;
	engine->stats.errors++;
	source_format(&offence->source, source, sizeof(source));
	if (pending_push(&engine->pending, offence, ban) < 0)
		log_warnx("%s: %s not recorded: the store failed and limits.store_pending (%u) is "
		          "full%s",
		          source, ban != NULL ? "ban" : "alert", engine->pending.size,
		          ban != NULL && engine->nft != NULL
		              ? "; the kernel's element keeps it for the next start"
		              : "");
	else
		log_warnx("%s: %s queued for the store (%u pending): %s", source,
		          ban != NULL ? "ban" : "alert", engine->pending.count,
		          error == -EAGAIN ? "earlier records still wait" : strerror(-error));
}

/*
 * Installs the ban, then records the decision: enforcement never waits for
 * the disk. A ban the kernel refused is still a decision (the next start's
 * reconcile installs it); one the store refused waits in memory, and its
 * kernel element carries what a restart needs to adopt it.
 */
static int
engine_act(struct engine *engine, const struct finding *finding, const struct decision *decision,
           int64_t now_ms, struct ban *ban)
{
	struct offence offence;

	if (decision->action == ACTION_IGNORE) {
		engine->stats.ignored++;
		return 0;
	}
	offence_from_finding(finding, &offence);
	vm_identity_of(engine, finding->ifindex, &offence.vm);
	memset(ban, 0, sizeof(*ban));
	ban->vm = offence.vm;
	ban->source = finding->source;
	ban->category = finding->category;
	ban->scope = decision->scope;
	ban->level = decision->step.level;
	ban->start_ms = now_ms;
	ban->expires_ms = now_ms + decision->step.duration_ms;

	if (decision->action == ACTION_ALERT) {
		engine_record(engine, &offence, NULL);
		engine_ticket(engine, finding, &offence, NULL);
		engine->stats.alerts++;
		if (decision->why == REASON_SAFETY_VALVE)
			engine->stats.valve_trips++;
		else if (decision->why == REASON_SETS_FULL)
			engine->stats.sets_full++;
		return 0;
	}
	remember_ban(engine, now_ms);
	engine->stats.bans++;
	if (engine->nft != NULL) {
		struct nft_ban element = ban_for_kernel(ban);

		if (ban_install_many(engine->nft, &element, 1) < 0) {
			char source[SOURCE_STRLEN];

			engine->stats.errors++;
			log_warnx("%s: ban not installed in nftables; the next start installs it",
			          source_format(&ban->source, source, sizeof(source)));
		}
	}
	engine_record(engine, &offence, ban);
	engine_ticket(engine, finding, &offence, ban);
	return 0;
}

int
engine_flush_pending(struct engine *engine)
{
	if (engine->pending.count == 0)
		return 0;
	return pending_flush(&engine->pending, engine->store);
}

int
engine_handle_event(struct engine *engine, const struct abuse_event *event)
{
	const struct detector *detector;
	struct finding finding;
	int found = -EINVAL;

	engine->stats.events++;
	detector = detector_for(event->category);
	if (detector != NULL)
		found = detector->detect(engine->config, event,
		                         clock_from_program_ns(engine->clock, event->time_ns),
		                         &finding);
	if (found < 0) {
		engine->stats.errors++;
		log_warnx("engine: malformed event (category %u, family %u)", event->category,
		          event->source.family);
		return found;
	}
	if (found == 0)
		return 0;
	return engine_handle_finding(engine, &finding);
}

int
engine_handle_finding(struct engine *engine, const struct finding *finding)
{
	struct ban history[ENGINE_HISTORY], ban;
	struct decision decision;
	size_t count, active, pending;
	enum address_class class;
	int64_t now_ms = clock_now_ms(engine->clock);
	int error;

	engine->stats.findings++;
	/* Queued bans are newer than any in the store: they come first. */
	pending = pending_history(&engine->pending, &finding->source, history, ENGINE_HISTORY);
	error = store_history(engine->store, &finding->source, history + pending,
	                      ENGINE_HISTORY - pending, &count);
	if (error < 0) {
		engine->stats.errors++;
		return error;
	}
	count += pending;
	error = store_count_active(engine->store, now_ms, finding->source.family, &active);
	if (error < 0) {
		engine->stats.errors++;
		return error;
	}
	class = source_classify(&finding->source, engine->host ? engine->host->addresses : NULL,
	                        engine->host ? engine->host->count : 0);
	if (class != ADDRESS_ORDINARY)
		engine->stats.unownable++;
	policy_decide(engine->config, finding, class, history, count, now_ms,
	              bans_last_minute(engine, now_ms), active, &decision);
	/* The runtime allowlist is the operators' addition to the policy's. */
	if (decision.action != ACTION_IGNORE && engine->allowlist != NULL &&
	    allowlist_contains(engine->allowlist, &finding->source, now_ms)) {
		decision.action = ACTION_IGNORE;
		decision.why = REASON_ALLOWLISTED;
	}
	error = engine_act(engine, finding, &decision, now_ms, &ban);
	if (error == 0 && engine->on_decision != NULL)
		engine->on_decision(engine->arg, finding, &decision,
		                    decision.action == ACTION_BAN ? &ban : NULL);
	return error;
}

struct active_list {
	struct nft_ban *bans;
	size_t count, size;
	int64_t now_ms;
	unsigned ipv6_prefix_len;
	size_t other_prefix; /* IPv6 bans made under another ipv6_prefix */
};

static int
collect_active(const struct ban *ban, void *arg)
{
	struct active_list *list = arg;

	/*
	 * The kernel's IPv6 rules mask sources to today's prefix length: a ban
	 * keyed on another would never match, and widening it could ban other
	 * customers. It stays in the store; new offences are keyed anew.
	 */
	if (ban->source.family == SOURCE_FAMILY_IPV6 &&
	    ban->source.prefix_len != list->ipv6_prefix_len) {
		list->other_prefix++;
		return 0;
	}
	if (list->count == list->size) {
		size_t size = list->size ? list->size * 2 : 256;
		struct nft_ban *bans = reallocarray(list->bans, size, sizeof(*bans));

		if (bans == NULL)
			return -ENOMEM;
		list->bans = bans;
		list->size = size;
	}
	list->bans[list->count] = ban_for_kernel(ban);
	list->bans[list->count].remaining_ms = ban_end_ms(ban) - list->now_ms;
	list->count++;
	return 0;
}

/*
 * The active bans of the store and of the queue, as the kernel should hold
 * them now; the caller frees list->bans.
 */
static int
active_collect(struct engine *engine, struct active_list *list)
{
	int64_t spent_ms;
	int error;

	memset(list, 0, sizeof(*list));
	list->now_ms = clock_now_ms(engine->clock);
	list->ipv6_prefix_len = engine->config->ipv6_prefix_len;
	/* Queued bans are enforced too: a reconcile must not take them out. */
	error = store_active_bans(engine->store, list->now_ms, collect_active, list);
	if (error == 0)
		error = pending_active_bans(&engine->pending, list->now_ms, collect_active, list);
	if (error == -ENOMEM)
		log_warnx("engine: no memory for %zu active bans", list->count);
	/* Tens of thousands of rows take a while: the times left are of now, not of the query. */
	spent_ms = clock_now_ms(engine->clock) - list->now_ms;
	for (size_t i = 0; error == 0 && spent_ms > 0 && i < list->count; i++)
		list->bans[i].remaining_ms -= spent_ms;
	return error;
}

/* Does the store (or the queue) know this very ban: same scope, same start? */
static bool
ban_known(struct engine *engine, const struct nft_ban *element)
{
	struct ban history[ENGINE_HISTORY];
	size_t count = pending_history(&engine->pending, &element->source, history, ENGINE_HISTORY);
	size_t stored = 0;

	if (store_history(engine->store, &element->source, history + count, ENGINE_HISTORY - count,
	                  &stored) < 0)
		return true; /* unknown is not known-absent: never adopt on a failed read */
	count += stored;
	for (size_t i = 0; i < count; i++)
		if (history[i].scope == element->scope &&
		    history[i].start_ms == element->tag.start_ms)
			return true;
	return false;
}

/*
 * A kernel element the store does not want but the daemon tagged. A ban the
 * store never recorded (the disk was full, then a crash) is adopted; one it
 * knows ended (lifted) or one keyed on another prefix length is removed.
 */
static void
adopt_or_remove(struct engine *engine, const struct nft_ban *element, int64_t now_ms)
{
	const struct nft_ban_tag *tag = &element->tag;
	char source[SOURCE_STRLEN];
	struct offence offence;
	struct ban ban;

	source_format(&element->source, source, sizeof(source));
	if (tag->prefix_len != element->source.prefix_len || tag->start_ms > now_ms ||
	    ban_known(engine, element)) {
		if (ban_remove(engine->nft, &element->source, element->scope) == 0)
			log_info("%s: kernel element for scope %s removed: the store has that ban "
			         "ended, or it was made for another prefix length",
			         source, scope_name(element->scope));
		return;
	}
	memset(&offence, 0, sizeof(offence));
	offence.source = element->source;
	offence.category = tag->category;
	offence.time_ms = tag->start_ms;
	snprintf(offence.detail, sizeof(offence.detail),
	         "adopted from the kernel's ban set at start: the store had not recorded it");
	memset(&ban, 0, sizeof(ban));
	ban.source = element->source;
	ban.category = tag->category;
	ban.scope = element->scope;
	ban.level = tag->level;
	ban.start_ms = tag->start_ms;
	ban.expires_ms = tag->start_ms + tag->duration_ms;
	engine->stats.adopted++;
	log_warnx("%s: ban in the kernel but not in the store (scope %s, %s, level %u): adopted",
	          source, scope_name(ban.scope), category_name(ban.category), ban.level + 1);
	engine_record(engine, &offence, &ban);
}

/*
 * Makes the kernel sets hold the active bans of the store and of the queue;
 * *changes (may be NULL) says what changed, and *adopted how many tagged
 * elements were adopted or removed. Quiet: log only what changed, for the
 * periodic check.
 */
static int
reconcile(struct engine *engine, bool quiet, struct nft_reconcile_changes *changes, size_t *adopted)
{
	struct active_list list;
	struct nft_ban *tagged = NULL;
	size_t tagged_count = 0;
	int error;

	if (changes != NULL)
		memset(changes, 0, sizeof(*changes));
	if (adopted != NULL)
		*adopted = 0;
	if (engine->nft == NULL)
		return 0;
	error = active_collect(engine, &list);
	if (list.other_prefix > 0 && !quiet)
		log_warnx("%zu active IPv6 bans were made for another ipv6_prefix than /%u: they "
		          "stay in the store but not in nftables",
		          list.other_prefix, list.ipv6_prefix_len);
	if (error == 0)
		error = ban_reconcile(engine->nft, list.bans, list.count, &tagged, &tagged_count,
		                      changes);
	if (error == 0 && !quiet)
		log_info("reconciled nftables with %zu active bans from the store", list.count);
	for (size_t i = 0; i < tagged_count; i++)
		adopt_or_remove(engine, &tagged[i], list.now_ms);
	if (adopted != NULL)
		*adopted = tagged_count;
	free(tagged);
	free(list.bans);
	return error;
}

int
engine_reconcile(struct engine *engine)
{
	return reconcile(engine, false, NULL, NULL);
}

int
engine_kernel_only(struct engine *engine, int (*fn)(const struct nft_ban *ban, void *arg),
                   void *arg)
{
	struct active_list list;
	int error;

	if (engine->nft == NULL)
		return 0;
	if ((error = active_collect(engine, &list)) == 0)
		error = ban_list_unwanted(engine->nft, list.bans, list.count, fn, arg);
	free(list.bans);
	return error;
}

int
engine_check_sets(struct engine *engine)
{
	struct nft_reconcile_changes changes;
	size_t adopted, total;
	int error = reconcile(engine, true, &changes, &adopted);

	total = changes.restored + changes.foreign + changes.retimed + changes.retagged + adopted;
	if (error < 0 || total == 0)
		return error;
	engine->stats.set_repairs += total;
	engine->stats.elements_restored += changes.restored;
	engine->stats.elements_foreign += changes.foreign;
	engine->stats.elements_retimed += changes.retimed;
	log_warnx("inet %s: the ban sets differed from the store: %zu missing put back, %zu "
	          "foreign removed, %zu with a timeout the store did not give reset, %zu retagged, "
	          "%zu tagged taken into the store or removed",
	          engine->config->nft_table, changes.restored, changes.foreign, changes.retimed,
	          changes.retagged, adopted);
	return 0;
}

int
engine_unban(struct engine *engine, const struct source_key *source, uid_t uid, const char *reason,
             struct ban *lifted, size_t max, size_t *count)
{
	char text[SOURCE_STRLEN];
	int error;

	/* A ban that waits for the store is lifted there once it is written. */
	(void)engine_flush_pending(engine);
	error = store_lift(engine->store, source, clock_now_ms(engine->clock), uid, reason, lifted,
	                   max, count);
	if (error < 0)
		return error;
	engine->stats.lifts++;
	source_format(source, text, sizeof(text));
	for (size_t i = 0; i < *count && i < max && engine->nft != NULL; i++) {
		int removed = ban_remove(engine->nft, source, lifted[i].scope);

		if (removed < 0)
			error = removed;
	}
	log_warnx("%s: ban lifted by uid %u: %s", text, (unsigned)uid, reason);
	return error;
}

int
engine_false_positive(struct engine *engine, int64_t ticket_id, uid_t uid, const char *reason,
                      struct ban *lifted, size_t max, size_t *count, const char **why)
{
	char text[SOURCE_STRLEN];
	int error;

	*count = 0;
	if (engine->tickets == NULL) {
		*why = "no tickets";
		return -ENOENT;
	}
	error =
	    ticket_false_positive(engine->tickets, ticket_id, uid, reason, lifted, max, count, why);
	if (error < 0)
		return error;
	for (size_t i = 0; i < *count; i++) {
		engine->stats.lifts++;
		if (engine->nft != NULL &&
		    ban_remove(engine->nft, &lifted[i].source, lifted[i].scope) < 0)
			log_warnx(
			    "%s: ban (scope %s) lifted in the store but still in nftables; the "
			    "next check removes it",
			    source_format(&lifted[i].source, text, sizeof(text)),
			    scope_name(lifted[i].scope));
	}
	log_warnx("ticket %lld marked a false positive by uid %u (%zu ban(s) lifted): %s",
	          (long long)ticket_id, (unsigned)uid, *count, reason);
	return 0;
}

bool
engine_allowlisted(const struct engine *engine, const struct source_key *source, int64_t now_ms)
{
	if (policy_allowlisted(engine->config, source))
		return true;
	return engine->allowlist != NULL && allowlist_contains(engine->allowlist, source, now_ms);
}

int
engine_ban(struct engine *engine, const struct manual_ban *request, struct ban *ban)
{
	struct ban history[ENGINE_HISTORY];
	int64_t now_ms = clock_now_ms(engine->clock);
	struct ladder_step step;
	struct offence offence;
	char text[SOURCE_STRLEN];
	size_t count = 0;
	int error;

	source_format(&request->source, text, sizeof(text));
	if (source_classify(&request->source, engine->host ? engine->host->addresses : NULL,
	                    engine->host ? engine->host->count : 0) != ADDRESS_ORDINARY)
		return -EADDRNOTAVAIL;
	if (engine_allowlisted(engine, &request->source, now_ms))
		return -EPERM;
	/* Durable before acting: what waits for the store goes first. */
	if ((error = engine_flush_pending(engine)) < 0)
		return error;
	if ((error = store_history(engine->store, &request->source, history, ENGINE_HISTORY,
	                           &count)) < 0)
		return error;
	for (size_t i = 0; i < count; i++)
		if (history[i].scope == request->scope && ban_active(&history[i], now_ms)) {
			*ban = history[i];
			return -EEXIST;
		}
	ladder_next(&engine->config->ladder, history, count, now_ms, &step);
	memset(&offence, 0, sizeof(offence));
	offence.source = request->source;
	offence.category = request->category;
	offence.time_ms = now_ms;
	snprintf(offence.detail, sizeof(offence.detail), "manual ban by uid %u: %s",
	         (unsigned)request->uid, request->reason);
	memset(ban, 0, sizeof(*ban));
	ban->source = request->source;
	ban->category = request->category;
	ban->scope = request->scope;
	ban->level = step.level;
	ban->start_ms = now_ms;
	ban->expires_ms =
	    now_ms + (request->duration_ms > 0 ? request->duration_ms : step.duration_ms);
	if ((error = store_record(engine->store, &offence, ban)) < 0 ||
	    (error = store_audit(engine->store, now_ms, request->uid, "ban", text,
	                         request->reason)) < 0)
		return error;
	remember_ban(engine, now_ms);
	engine->stats.bans++;
	if (engine->nft != NULL) {
		struct nft_ban element = ban_for_kernel(ban);

		if ((error = ban_install_many(engine->nft, &element, 1)) < 0) {
			engine->stats.errors++;
			log_warnx("%s: manual ban recorded but not installed in nftables; the next "
			          "check installs it",
			          text);
		}
	}
	log_warnx("%s: banned by uid %u for %lld s, scope %s, level %u: %s", text,
	          (unsigned)request->uid, (long long)((ban->expires_ms - now_ms) / 1000),
	          scope_name(ban->scope), ban->level + 1, request->reason);
	/* A ban is a complaint whoever made it: the customer hears of it as of any other. */
	{
		struct finding finding = {
		    .source = request->source,
		    .category = request->category,
		    .time_ms = now_ms,
		};

		memcpy(finding.detail, offence.detail, sizeof(finding.detail));
		engine_ticket(engine, &finding, &offence, ban);
	}
	return 0;
}
