/*
 * The queue of decisions the store could not take: bounded, counted when
 * full, read back newest first, written oldest first, kept when refused.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "pending.h"
#include "source.h"
#include "store.h"

#define T0_MS   1790000000000LL
#define HOUR_MS 3600000LL

static void
make(const char *address, int64_t start_ms, struct offence *offence, struct ban *ban)
{
	memset(offence, 0, sizeof(*offence));
	memset(ban, 0, sizeof(*ban));
	source_parse(address, 64, &offence->source);
	offence->category = CATEGORY_SPAM;
	offence->time_ms = start_ms;
	ban->source = offence->source;
	ban->category = CATEGORY_SPAM;
	ban->scope = SCOPE_SMTP;
	ban->start_ms = start_ms;
	ban->expires_ms = start_ms + HOUR_MS;
}

int
main(void)
{
	char directory[] = "/tmp/test_pending.XXXXXX", path[64];
	struct pending pending;
	struct offence offence;
	struct ban ban, history[8];
	struct store *store = NULL;
	size_t count;
	int pushed = 0, written;

	if (mkdtemp(directory) == NULL)
		return 2;
	snprintf(path, sizeof(path), "%s/abuseguard.db", directory);
	pending_init(&pending, 16);
	CHECK(pending.records == NULL, "an empty queue holds no memory");
	for (int i = 0; i < 20; i++) {
		char address[32];

		snprintf(address, sizeof(address), "10.0.0.%d", i % 4);
		make(address, T0_MS + i, &offence, &ban);
		pushed += pending_push(&pending, &offence, i % 2 ? NULL : &ban) == 0;
	}
	CHECK(pushed == 16 && pending.count == 16 && pending.dropped == 4,
	      "past its bound (16) the queue keeps nothing more and counts what it refused "
	      "(%d kept, %llu dropped)",
	      pushed, (unsigned long long)pending.dropped);
	make("10.0.0.2", 0, &offence, &ban);
	count = pending_history(&pending, &ban.source, history, 8);
	CHECK(count == 4 && history[0].start_ms == T0_MS + 14 && history[3].start_ms == T0_MS + 2,
	      "a source's queued bans come back newest first (%zu)", count);

	/* A record the store refuses stops the flush; it and those after it wait. */
	pending.records[(pending.head + 3) % pending.size].offence.category = CATEGORY_COUNT;
	CHECK(store_open(&store, path) == 0, "a store to write into");
	written = pending_flush(&pending, store);
	CHECK(written == 3 && pending.count == 13,
	      "the flush writes in order up to the refused "
	      "record (%d written, %u left)",
	      written, pending.count);
	written = pending_flush(&pending, store);
	CHECK(written < 0 && pending.count == 13,
	      "a flush that writes nothing returns the error and keeps every record");
	pending.records[pending.head].offence.category = CATEGORY_SPAM;
	written = pending_flush(&pending, store);
	CHECK(written == 13 && pending.count == 0 && pending.written == 16,
	      "once the store takes them all are written (%d)", written);
	store_close(store);
	pending_close(&pending);
	unlink(path);
	snprintf(path, sizeof(path), "%s/abuseguard.db-wal", directory);
	unlink(path);
	snprintf(path, sizeof(path), "%s/abuseguard.db-shm", directory);
	unlink(path);
	rmdir(directory);
	return check_done();
}
