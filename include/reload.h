/*
 * What a reload may change in the running policy. Thresholds, the ladder,
 * the mode, scopes and the allowlist take effect at once; what sizes a map,
 * names a kernel object or a file, or is bound into a rule already in the
 * kernel waits for a restart, and reload_keep_restart_only says which.
 */
#ifndef RELOAD_H
#define RELOAD_H

#include "config.h"

/* Called once for each restart-only setting the new policy changed. */
typedef void (*reload_kept_fn)(void *arg, const char *setting);

/*
 * Copies into next, from running, every restart-only setting, calling kept
 * (may be NULL) for each one whose value differed. Returns how many did.
 * A new setting that sizes memory or names a kernel object belongs in the
 * table in reload.c.
 */
unsigned reload_keep_restart_only(struct config *next, const struct config *running,
                                  reload_kept_fn kept, void *arg);

#endif
