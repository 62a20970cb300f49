/* Findings to decisions: allowlist, scope, ladder, mode, safety valve. */
#include "policy.h"

static enum scope
category_scope(const struct config *config, enum category category)
{
	switch (category) {
	case CATEGORY_SPAM:
		return config->spam.scope;
	case CATEGORY_SCAN:
		return config->scan.scope;
	case CATEGORY_SPOOFING:
		return config->spoofing.scope;
	case CATEGORY_EVASION:
		return config->evasion.scope;
	case CATEGORY_CRAWLER:
		return config->crawler.scope;
	default:
		return SCOPE_WEB;
	}
}

int
policy_allowlisted(const struct config *config, const struct source_key *source)
{
	for (unsigned i = 0; i < config->allowlist_count; i++)
		if (prefix_contains(&config->allowlist[i], source))
			return 1;
	return 0;
}

/*
 * The XDP program sees a banned source's packets before nftables drops them,
 * so a spammer blocked on port 25 keeps tripping the detector while its mail
 * queue retries. Traffic the kernel already drops is no new offence; counting
 * it would climb the ladder to a year within minutes.
 */
static int
already_banned(const struct ban *history, size_t count, enum scope scope, int64_t now_ms)
{
	for (size_t i = 0; i < count; i++)
		if (ban_active(&history[i], now_ms) &&
		    (history[i].scope == scope || history[i].scope == SCOPE_ALL))
			return 1;
	return 0;
}

void
policy_decide(const struct config *config, const struct finding *finding,
              enum address_class source_class, const struct ban *history, size_t count,
              int64_t now_ms, unsigned bans_last_minute, size_t active_bans, struct decision *out)
{
	out->scope = category_scope(config, finding->category);
	ladder_next(&config->ladder, history, count, now_ms, &out->step);

	if (source_class != ADDRESS_ORDINARY) {
		/* A VM forged it: banning 127.0.0.1 or the uplink cuts the host's own traffic. */
		out->action = ACTION_IGNORE;
		out->why = REASON_UNOWNABLE;
	} else if (policy_allowlisted(config, &finding->source)) {
		out->action = ACTION_IGNORE;
		out->why = REASON_ALLOWLISTED;
	} else if (already_banned(history, count, out->scope, now_ms)) {
		out->action = ACTION_IGNORE;
		out->why = REASON_ALREADY_BANNED;
	} else if (config->mode == MODE_OBSERVE) {
		out->action = ACTION_ALERT;
		out->why = REASON_OBSERVE_MODE;
	} else if (bans_last_minute >= config->limits.bans_per_minute) {
		out->action = ACTION_ALERT;
		out->why = REASON_SAFETY_VALVE;
	} else if (active_bans >= config->limits.max_bans) {
		/* The kernel sets are sized by the same limit: a ban would not fit. */
		out->action = ACTION_ALERT;
		out->why = REASON_SETS_FULL;
	} else {
		out->action = ACTION_BAN;
		out->why = REASON_LADDER;
	}
}

const char *
action_name(enum action action)
{
	switch (action) {
	case ACTION_BAN:
		return "ban";
	case ACTION_ALERT:
		return "alert";
	case ACTION_IGNORE:
	default:
		return "ignore";
	}
}

const char *
decision_reason_name(enum decision_reason reason)
{
	switch (reason) {
	case REASON_LADDER:
		return "ladder";
	case REASON_OBSERVE_MODE:
		return "observe mode";
	case REASON_SAFETY_VALVE:
		return "safety valve";
	case REASON_SETS_FULL:
		return "ban sets full";
	case REASON_ALLOWLISTED:
		return "allowlisted";
	case REASON_UNOWNABLE:
		return "no VM owns it";
	case REASON_ALREADY_BANNED:
	default:
		return "already banned";
	}
}
