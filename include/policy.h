/*
 * Policy: turns a finding into a decision. Pure: the source's history, the
 * time and the recent ban rate come in; the ladder, scopes, allowlist, mode
 * and safety valve are applied here and nowhere else.
 */
#ifndef POLICY_H
#define POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "addrclass.h"
#include "ban.h"
#include "config.h"
#include "detect.h"
#include "ladder.h"

enum action {
	ACTION_BAN,    /* install a ban on the rung below */
	ACTION_ALERT,  /* an offence to record, but no ban: observe mode, safety valve, sets full */
	ACTION_IGNORE, /* not an offence: allowlisted, or the scope is already banned */
	ACTION_COUNT
};

/* Why the policy took its action; decision_reason_name() gives the word for output. */
enum decision_reason {
	REASON_LADDER,         /* ban on the ladder's next rung */
	REASON_OBSERVE_MODE,   /* mode = "observe": alert only */
	REASON_SAFETY_VALVE,   /* limits.bans_per_minute reached: alert only */
	REASON_SETS_FULL,      /* limits.max_bans reached in the family: alert only */
	REASON_ALLOWLISTED,    /* the source is on the allowlist */
	REASON_ALREADY_BANNED, /* an active ban already drops this traffic */
	REASON_UNOWNABLE,      /* no VM can own the source: loopback, multicast, the host's, ... */
};

struct decision {
	enum action action;
	enum decision_reason why;
	enum scope scope;
	struct ladder_step step; /* for ACTION_BAN and ACTION_ALERT: the rung it would take */
};

/*
 * source_class: what the source is (address_classify); anything but an
 * ordinary address is never banned, whatever a VM forged;
 * history: the source's bans (any order, false positives left out);
 * bans_last_minute: bans installed in the minute before now_ms;
 * active_bans: bans active now in the source's address family.
 */
void policy_decide(const struct config *config, const struct finding *finding,
                   enum address_class source_class, const struct ban *history, size_t count,
                   int64_t now_ms, unsigned bans_last_minute, size_t active_bans,
                   struct decision *out);

/* 1 if the policy's allowlist holds the source. */
int policy_allowlisted(const struct config *config, const struct source_key *source);

const char *action_name(enum action action);
/* "ladder", "observe mode", "safety valve", "ban sets full", "allowlisted", "already banned",
 * "no VM owns it" */
const char *decision_reason_name(enum decision_reason reason);

#endif
