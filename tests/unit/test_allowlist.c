/*
 * The operators' allowlist and history, as abusectl allow, history and
 * audit read them: the runtime list in memory (bounded, expiring), and the
 * store's allowlist, audit trail and per-source history across a reopen.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "allowlist.h"
#include "check.h"
#include "source.h"
#include "store.h"

#define T0_MS 1700000000000LL

static struct prefix
prefix(const char *text)
{
	struct prefix out;

	if (prefix_parse(text, &out) < 0)
		exit(2);
	return out;
}

static struct source_key
source(const char *text)
{
	struct source_key out;

	if (source_parse(text, 64, &out) < 0)
		exit(2);
	return out;
}

static void
test_runtime_list(void)
{
	struct allowlist list;
	struct source_key inside = source("10.0.0.5"), outside = source("10.0.1.5");
	struct prefix net = prefix("10.0.0.0/29");

	CHECK(allowlist_init(&list, 2) == 0, "a runtime allowlist of 2 entries");
	CHECK(!allowlist_contains(&list, &inside, T0_MS), "empty, it holds nothing");
	CHECK(allowlist_set(&list, &net, T0_MS + 1000) == 0, "10.0.0.0/29 until T0+1s");
	CHECK(allowlist_contains(&list, &inside, T0_MS), "10.0.0.5 is inside it");
	CHECK(!allowlist_contains(&list, &outside, T0_MS), "10.0.1.5 is not");
	CHECK(!allowlist_contains(&list, &inside, T0_MS + 1000),
	      "at its until, it no longer holds");
	CHECK(allowlist_set(&list, &net, 0) == 0 && list.count == 1,
	      "setting it again replaces the entry (%u entries)", list.count);
	CHECK(allowlist_contains(&list, &inside, T0_MS + 1000000), "without until it holds on");
	CHECK(allowlist_set(&list, &(struct prefix){0}, 0) == 0, "a second entry fits");
	{
		struct prefix third = prefix("192.0.2.0/24");

		CHECK(!allowlist_has_room(&list, &third) &&
		          allowlist_set(&list, &third, 0) == -ENOSPC && list.full == 1,
		      "a third is refused and counted (%llu)", (unsigned long long)list.full);
	}
	CHECK(allowlist_remove(&list, &net) == 0 && !allowlist_contains(&list, &inside, T0_MS),
	      "removed, 10.0.0.5 is no longer allowed");
	CHECK(allowlist_remove(&list, &net) == -ENOENT, "removing it again says it is not there");
	allowlist_close(&list);
}

static int
count_allow(const struct store_allow *entry, void *arg)
{
	char text[SOURCE_STRLEN];
	int *count = arg;

	if (strcmp(prefix_format(&entry->prefix, text, sizeof(text)), "10.0.0.0/29") == 0 &&
	    entry->uid == 1000 && strcmp(entry->reason, "monitoring") == 0)
		(*count)++;
	return 0;
}

static int
collect_audit(const struct store_audit_row *row, void *arg)
{
	char *actions = arg;

	strcat(actions, row->action);
	strcat(actions, ",");
	return 0;
}

static int
collect_event(const struct store_event *event, void *arg)
{
	char *kinds = arg;

	strcat(kinds, event->kind);
	if (event->reason[0] != '\0') {
		strcat(kinds, ":");
		strcat(kinds, event->reason);
	}
	strcat(kinds, ",");
	return 0;
}

static void
test_store(const char *path)
{
	struct prefix net = prefix("10.0.0.0/29");
	struct source_key five = source("10.0.0.5");
	struct offence offence = {.source = five, .category = CATEGORY_SPAM, .time_ms = T0_MS};
	struct ban ban = {.source = five,
	                  .category = CATEGORY_SPAM,
	                  .scope = SCOPE_SMTP,
	                  .start_ms = T0_MS,
	                  .expires_ms = T0_MS + 3600000};
	char actions[256] = "", kinds[512] = "";
	struct store *store;
	int64_t after = 0;
	size_t count = 0;
	int entries = 0;

	CHECK(store_open(&store, path) == 0, "a new store");
	CHECK(store_allow_set(store, &net, 0, T0_MS, 1000, "monitoring") == 0,
	      "an allowlist entry is recorded");
	store_close(store);
	CHECK(store_open(&store, path) == 0, "the store is opened again");
	CHECK(store_allowlist(store, T0_MS, count_allow, &entries) == 0 && entries == 1,
	      "the entry is still there, with uid and reason (%d)", entries);
	CHECK(store_allow_set(store, &net, T0_MS + 1000, T0_MS, 1000, "monitoring") == 0,
	      "it can be given an end");
	entries = 0;
	CHECK(store_allowlist(store, T0_MS + 2000, count_allow, &entries) == 0 && entries == 0,
	      "past its end it is not listed");
	CHECK(store_allow_remove(store, &net, T0_MS, 0, "done") == 0, "disallowed");
	CHECK(store_allow_remove(store, &net, T0_MS, 0, "again") == -ENOENT,
	      "disallowing it again is -ENOENT");
	snprintf(offence.detail, sizeof(offence.detail), "manual ban by uid 0: complaint");
	CHECK(store_record(store, &offence, &ban) == 0 &&
	          store_audit(store, T0_MS, 0, "ban", "10.0.0.5", "complaint") == 0,
	      "a ban with its audit row");
	CHECK(store_lift(store, &five, T0_MS + 60000, 0, "fixed", NULL, 0, NULL) == 0, "lifted");
	CHECK(store_audit_page(store, 0, &after, 100, collect_audit, actions, &count) == 0 &&
	          strcmp(actions, "allow,allow,disallow,ban,unban,") == 0 && count == 5,
	      "the audit trail lists every change, oldest first: %s", actions);
	after = 0;
	actions[0] = '\0';
	CHECK(store_audit_page(store, 0, &after, 2, collect_audit, actions, &count) == 0 &&
	          count == 2 &&
	          store_audit_page(store, 0, &after, 100, collect_audit, actions, &count) == 0 &&
	          strcmp(actions, "allow,allow,disallow,ban,unban,") == 0,
	      "and in pages, the second after the first: %s", actions);
	CHECK(store_source_events(store, &five, 100, collect_event, kinds) == 0 &&
	          strcmp(kinds, "lift:fixed,ban:complaint,ban,offence,") == 0,
	      "the source's history, newest first, lift and ban with their reasons: %s", kinds);
	store_close(store);
}

int
main(void)
{
	char directory[] = "/tmp/test_allowlist.XXXXXX", path[64];

	test_runtime_list();
	if (mkdtemp(directory) == NULL)
		return 2;
	snprintf(path, sizeof(path), "%s/store.db", directory);
	test_store(path);
	unlink(path);
	snprintf(path, sizeof(path), "%s/store.db-wal", directory);
	unlink(path);
	snprintf(path, sizeof(path), "%s/store.db-shm", directory);
	unlink(path);
	rmdir(directory);
	return check_done();
}
