/* The runtime allowlist: a small array, searched linearly; it holds what operators typed. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "allowlist.h"

int
allowlist_init(struct allowlist *list, unsigned size)
{
	memset(list, 0, sizeof(*list));
	if (size == 0)
		return 0;
	list->entries = calloc(size, sizeof(*list->entries));
	if (list->entries == NULL)
		return -ENOMEM;
	list->size = size;
	return 0;
}

void
allowlist_close(struct allowlist *list)
{
	free(list->entries);
	memset(list, 0, sizeof(*list));
}

static bool
prefix_same(const struct prefix *a, const struct prefix *b)
{
	return a->family == b->family && a->len == b->len &&
	       memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

static struct allow_entry *
find(const struct allowlist *list, const struct prefix *prefix)
{
	for (unsigned i = 0; i < list->count; i++)
		if (prefix_same(&list->entries[i].prefix, prefix))
			return &list->entries[i];
	return NULL;
}

bool
allowlist_has_room(const struct allowlist *list, const struct prefix *prefix)
{
	return list->count < list->size || find(list, prefix) != NULL;
}

int
allowlist_set(struct allowlist *list, const struct prefix *prefix, int64_t until_ms)
{
	struct allow_entry *entry = find(list, prefix);

	if (entry == NULL) {
		if (list->count == list->size) {
			list->full++;
			return -ENOSPC;
		}
		entry = &list->entries[list->count++];
		entry->prefix = *prefix;
	}
	entry->until_ms = until_ms;
	return 0;
}

int
allowlist_remove(struct allowlist *list, const struct prefix *prefix)
{
	struct allow_entry *entry = find(list, prefix);

	if (entry == NULL)
		return -ENOENT;
	*entry = list->entries[--list->count];
	return 0;
}

bool
allowlist_contains(const struct allowlist *list, const struct source_key *source, int64_t now_ms)
{
	for (unsigned i = 0; i < list->count; i++)
		if ((list->entries[i].until_ms == 0 || list->entries[i].until_ms > now_ms) &&
		    prefix_contains(&list->entries[i].prefix, source))
			return true;
	return false;
}
