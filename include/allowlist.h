/*
 * The operator's runtime allowlist (abusectl allow / disallow): prefixes
 * never banned, each until a time or until disallowed, beside the policy's
 * own allowlist. Bounded by limits.runtime_allowlist; the store keeps it
 * across restarts, this is the copy the engine asks on every finding.
 */
#ifndef ALLOWLIST_H
#define ALLOWLIST_H

#include <stdbool.h>
#include <stdint.h>

#include "source.h"

struct allow_entry {
	struct prefix prefix;
	int64_t until_ms; /* 0: until disallowed */
};

struct allowlist {
	struct allow_entry *entries;
	unsigned count, size;
	uint64_t full; /* additions refused because size entries were held */
};

int allowlist_init(struct allowlist *list, unsigned size);
void allowlist_close(struct allowlist *list);
/* Adds or replaces prefix's entry. -ENOSPC when full (counted). */
int allowlist_set(struct allowlist *list, const struct prefix *prefix, int64_t until_ms);
/* Removes prefix's entry (the same prefix, not one inside it). -ENOENT if absent. */
int allowlist_remove(struct allowlist *list, const struct prefix *prefix);
/* Is source inside an entry that has not expired at now_ms? */
bool allowlist_contains(const struct allowlist *list, const struct source_key *source,
                        int64_t now_ms);
/* Would another entry fit (or does prefix already have one)? */
bool allowlist_has_room(const struct allowlist *list, const struct prefix *prefix);

#endif
