/* Records waiting for the store: a bounded ring, oldest first. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pending.h"
#include "source.h"

void
pending_init(struct pending *pending, unsigned size)
{
	memset(pending, 0, sizeof(*pending));
	pending->size = size;
}

void
pending_close(struct pending *pending)
{
	free(pending->records);
	pending->records = NULL;
	pending->count = 0;
}

static struct pending_record *
record_at(const struct pending *pending, unsigned i)
{
	return &pending->records[(pending->head + i) % pending->size];
}

int
pending_push(struct pending *pending, const struct offence *offence, const struct ban *ban)
{
	struct pending_record *record;

	if (pending->records == NULL && pending->size > 0 &&
	    (pending->records = calloc(pending->size, sizeof(*pending->records))) == NULL) {
		log_warn("pending: %u records", pending->size);
		pending->dropped++;
		return -ENOMEM;
	}
	if (pending->count == pending->size) {
		pending->dropped++;
		return -ENOSPC;
	}
	record = record_at(pending, pending->count++);
	record->offence = *offence;
	record->has_ban = ban != NULL;
	if (ban != NULL)
		record->ban = *ban;
	pending->queued++;
	return 0;
}

int
pending_flush(struct pending *pending, struct store *store)
{
	int written = 0, error = 0;

	while (pending->count > 0) {
		struct pending_record *record = record_at(pending, 0);

		if ((error = store_record(store, &record->offence,
		                          record->has_ban ? &record->ban : NULL)) < 0)
			break;
		pending->head = (pending->head + 1) % pending->size;
		pending->count--;
		pending->written++;
		written++;
	}
	if (written > 0)
		log_info("store: %d pending record(s) written, %u still pending", written,
		         pending->count);
	return written > 0 || pending->count == 0 ? written : error;
}

size_t
pending_history(const struct pending *pending, const struct source_key *source, struct ban *out,
                size_t max)
{
	size_t found = 0;

	for (unsigned i = pending->count; i > 0 && found < max; i--) {
		const struct pending_record *record = record_at(pending, i - 1);

		if (record->has_ban && source_equal(&record->ban.source, source))
			out[found++] = record->ban;
	}
	return found;
}

int
pending_active_bans(const struct pending *pending, int64_t now_ms,
                    int (*fn)(const struct ban *ban, void *arg), void *arg)
{
	for (unsigned i = 0; i < pending->count; i++) {
		const struct pending_record *record = record_at(pending, i);
		int error;

		if (record->has_ban && ban_active(&record->ban, now_ms) &&
		    (error = fn(&record->ban, arg)) != 0)
			return error;
	}
	return 0;
}
