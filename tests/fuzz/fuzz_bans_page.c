/*
 * libFuzzer: the paging fields of a "bans" request (after, limit) come from
 * any client of the control socket. Whatever they hold, they are refused
 * with a reason or give a page of 1 to BANS_PAGE_MAX bans, and the store's
 * walk from that cursor returns bans strictly after it, in order, at most a
 * page of them: a forged cursor can neither loop a client nor repeat bans.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "commands.h"
#include "store.h"

#define NOW_MS 1700000000000LL
#define BANS   24

static struct store *store;
static char directory[] = "/tmp/fuzz_bans_page.XXXXXX";

/* The scratch store goes when the fuzzer ends. */
static void
remove_store(void)
{
	static const char *const files[] = {"store.db", "store.db-wal", "store.db-shm"};
	char path[sizeof(directory) + 16];

	store_close(store);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", directory, files[i]);
		unlink(path);
	}
	rmdir(directory);
}

static bool
after(const struct store_cursor *a, int64_t expires_ms, int64_t id)
{
	return expires_ms > a->expires_ms || (expires_ms == a->expires_ms && id > a->id);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[sizeof(directory) + 16];

	(void)argc;
	(void)argv;
	if (mkdtemp(directory) == NULL)
		abort();
	snprintf(path, sizeof(path), "%s/store.db", directory);
	if (store_open(&store, path) < 0)
		abort();
	atexit(remove_store);
	/* Some share an expiry: the cursor's id breaks the tie. */
	for (int i = 0; i < BANS; i++) {
		struct offence offence = {.category = CATEGORY_SPAM, .time_ms = NOW_MS - 1000};
		struct ban ban = {.category = CATEGORY_SPAM, .scope = SCOPE_SMTP};
		char text[32];

		snprintf(text, sizeof(text), "192.0.2.%d", i + 1);
		source_parse(text, 64, &offence.source);
		ban.source = offence.source;
		ban.start_ms = offence.time_ms;
		ban.expires_ms = NOW_MS + 60000 * (1 + i / 3);
		if (store_record(store, &offence, &ban) < 0)
			abort();
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ban page[BANS_PAGE_MAX];
	struct store_cursor cursor, start;
	const char *why = NULL;
	size_t page_size, count, seen = 0;
	json_t *request = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);

	if (request == NULL)
		return 0;
	if (bans_page_request(request, &cursor, &page_size, &why) < 0) {
		if (why == NULL || why[0] == '\0')
			abort(); /* refused without saying why */
		json_decref(request);
		return 0;
	}
	if (page_size < 1 || page_size > BANS_PAGE_MAX)
		abort();
	/* Every page the client would ask for from here, as abusectl does. */
	do {
		start = cursor;
		if (store_active_page(store, NOW_MS, &cursor, page, page_size, &count) < 0)
			abort();
		if (count > page_size)
			abort();
		for (size_t i = 0; i < count; i++) {
			if (!after(&start, page[i].expires_ms, page[i].id))
				abort(); /* a ban at or before the cursor: a client would loop */
			start = (struct store_cursor){page[i].expires_ms, page[i].id};
		}
		seen += count;
		if (seen > BANS)
			abort(); /* more bans than there are */
	} while (count == page_size);
	json_decref(request);
	return 0;
}
