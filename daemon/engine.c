/* observation -> detector -> policy -> store -> nftables, one source at a time. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "log.h"
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

/*
 * Records the decision (durable before anything acts on it or says so) and
 * installs the ban. Returns -errno if the store refused it: then nothing
 * happened. A ban the store has but nftables refused is still a decision;
 * the next start's reconcile installs it.
 */
static int
engine_act(struct engine *engine, const struct finding *finding, const struct decision *decision,
           int64_t now_ms, struct ban *ban)
{
	struct offence offence;
	int error;

	if (decision->action == ACTION_IGNORE) {
		engine->stats.ignored++;
		return 0;
	}
	offence_from_finding(finding, &offence);
	memset(ban, 0, sizeof(*ban));
	ban->source = finding->source;
	ban->category = finding->category;
	ban->scope = decision->scope;
	ban->level = decision->step.level;
	ban->start_ms = now_ms;
	ban->expires_ms = now_ms + decision->step.duration_ms;
	error = store_record(engine->store, &offence, decision->action == ACTION_BAN ? ban : NULL);
	if (error < 0) {
		engine->stats.errors++;
		return error;
	}

	if (decision->action == ACTION_ALERT) {
		engine->stats.alerts++;
		if (decision->why == REASON_SAFETY_VALVE)
			engine->stats.valve_trips++;
		else if (decision->why == REASON_SETS_FULL)
			engine->stats.sets_full++;
		return 0;
	}
	remember_ban(engine, now_ms);
	engine->stats.bans++;
	if (engine->nft != NULL &&
	    ban_install(engine->nft, &ban->source, ban->scope, decision->step.duration_ms) < 0) {
		char source[SOURCE_STRLEN];

		engine->stats.errors++;
		log_warnx("%s: ban recorded but not installed in nftables; the next start "
		          "installs it",
		          source_format(&ban->source, source, sizeof(source)));
	}
	return 0;
}

int
engine_handle_event(struct engine *engine, const struct abuse_event *event)
{
	struct ban history[ENGINE_HISTORY], ban;
	const struct detector *detector;
	struct decision decision;
	struct finding finding;
	size_t count, active;
	int64_t now_ms = clock_now_ms(engine->clock);
	int error, found = -EINVAL;

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
	engine->stats.findings++;

	error = store_history(engine->store, &finding.source, history, ENGINE_HISTORY, &count);
	if (error < 0) {
		engine->stats.errors++;
		return error;
	}
	error = store_count_active(engine->store, now_ms, finding.source.family, &active);
	if (error < 0) {
		engine->stats.errors++;
		return error;
	}
	policy_decide(engine->config, &finding, history, count, now_ms,
	              bans_last_minute(engine, now_ms), active, &decision);
	error = engine_act(engine, &finding, &decision, now_ms, &ban);
	if (error == 0 && engine->on_decision != NULL)
		engine->on_decision(engine->arg, &finding, &decision,
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
	list->bans[list->count].source = ban->source;
	list->bans[list->count].scope = ban->scope;
	list->bans[list->count].remaining_ms = ban_end_ms(ban) - list->now_ms;
	list->count++;
	return 0;
}

int
engine_reconcile(struct engine *engine)
{
	struct active_list list = {
	    .now_ms = clock_now_ms(engine->clock),
	    .ipv6_prefix_len = engine->config->ipv6_prefix_len,
	};
	int error;

	if (engine->nft == NULL)
		return 0;
	error = store_active_bans(engine->store, list.now_ms, collect_active, &list);
	if (list.other_prefix > 0)
		log_warnx("%zu active IPv6 bans were made for another ipv6_prefix than /%u: they "
		          "stay in the store but not in nftables",
		          list.other_prefix, list.ipv6_prefix_len);
	if (error == -ENOMEM)
		log_warnx("engine: no memory for %zu active bans", list.count);
	if (error == 0)
		error = ban_reconcile(engine->nft, list.bans, list.count);
	if (error == 0)
		log_info("reconciled nftables with %zu active bans from the store", list.count);
	free(list.bans);
	return error;
}

int
engine_unban(struct engine *engine, const struct source_key *source, uid_t uid, const char *reason,
             struct ban *lifted, size_t max, size_t *count)
{
	char text[SOURCE_STRLEN];
	int error;

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
