/* The SQLite store: what is recorded is read back whole, survives a restart and a crash. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "check.h"
#include "source.h"
#include "store.h"

#define MINUTE_MS   (60 * 1000LL)
#define HOUR_MS     (60 * MINUTE_MS)
#define DAY_MS      (24 * HOUR_MS)
#define T0_MS       1700000000000LL
#define HISTORY_MAX 16
#define MANY_BANS   600 /* more than one page (512) of store_active_bans */

static char directory[] = "/tmp/test_store.XXXXXX";
static char db_path[PATH_MAX];

static struct source_key
key(const char *text, unsigned ipv6_prefix_len)
{
	struct source_key source;

	if (source_parse(text, ipv6_prefix_len, &source) < 0) {
		fprintf(stderr, "%s: bad test source\n", text);
		exit(2);
	}
	return source;
}

static struct offence
make_offence(const char *source, enum category category, int64_t time_ms)
{
	struct offence offence;

	memset(&offence, 0, sizeof(offence));
	offence.source = key(source, 64);
	offence.category = category;
	offence.time_ms = time_ms;
	offence.attempts = 412;
	offence.destinations = 37;
	snprintf(offence.detail, sizeof(offence.detail), "412 SMTP attempts to 37 hosts, last %s",
	         "198.51.100.25:25");
	return offence;
}

static struct ban
make_ban(const struct offence *offence, enum scope scope, unsigned level, int64_t duration_ms)
{
	struct ban ban;

	memset(&ban, 0, sizeof(ban));
	ban.source = offence->source;
	ban.category = offence->category;
	ban.scope = scope;
	ban.level = level;
	ban.start_ms = offence->time_ms;
	ban.expires_ms = offence->time_ms + duration_ms;
	return ban;
}

/* Records a spam ban with its offence; returns the ban as stored, id 0 if that failed. */
static struct ban
record(struct store *store, const char *source, unsigned level, int64_t start_ms,
       int64_t duration_ms)
{
	struct offence offence = make_offence(source, CATEGORY_SPAM, start_ms);
	struct ban ban = make_ban(&offence, SCOPE_SMTP, level, duration_ms);

	if (store_record(store, &offence, &ban) < 0)
		ban.id = 0;
	return ban;
}

static int
bans_equal(const struct ban *a, const struct ban *b)
{
	return a->id == b->id && source_equal(&a->source, &b->source) &&
	       a->category == b->category && a->scope == b->scope && a->level == b->level &&
	       a->start_ms == b->start_ms && a->expires_ms == b->expires_ms &&
	       a->lifted_ms == b->lifted_ms;
}

struct ban_list {
	struct ban bans[MANY_BANS + HISTORY_MAX];
	size_t count;
	size_t stop_after;       /* 0: never stop */
	struct store *lift_with; /* lifts every ban it is handed */
};

static int
collect_ban(const struct ban *ban, void *arg)
{
	struct ban_list *list = arg;

	if (list->count < sizeof(list->bans) / sizeof(list->bans[0]))
		list->bans[list->count] = *ban;
	list->count++;
	if (list->lift_with != NULL &&
	    store_lift(list->lift_with, &ban->source, ban->start_ms, 0, "walk", NULL, 0, NULL) < 0)
		return -EIO;
	if (list->stop_after != 0 && list->count == list->stop_after)
		return 42;
	return 0;
}

static int
active_bans(struct store *store, int64_t now_ms, struct ban_list *list)
{
	list->count = 0;
	return store_active_bans(store, now_ms, collect_ban, list);
}

static const struct ban *
find_ban(const struct ban_list *list, int64_t id)
{
	for (size_t i = 0; i < list->count; i++)
		if (list->bans[i].id == id)
			return &list->bans[i];
	return NULL;
}

/* The test reads the database behind the store's back, as an operator with sqlite3 would. */
static sqlite3 *
direct_open(void)
{
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		fprintf(stderr, "%s: %s\n", db_path, sqlite3_errmsg(db));
		exit(2);
	}
	return db;
}

/* The first column of the first row of sql, with ?1 bound to parameter; -1 if no row. */
static int64_t
direct_int(const char *sql, int64_t parameter)
{
	sqlite3 *db = direct_open();
	sqlite3_stmt *statement;
	int64_t value = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &statement, NULL) != SQLITE_OK) {
		fprintf(stderr, "%s: %s\n", sql, sqlite3_errmsg(db));
		exit(2);
	}
	sqlite3_bind_int64(statement, 1, parameter);
	if (sqlite3_step(statement) == SQLITE_ROW)
		value = sqlite3_column_int64(statement, 0);
	sqlite3_finalize(statement);
	sqlite3_close(db);
	return value;
}

static const char *
direct_text(const char *sql, int64_t parameter, char *buf, size_t size)
{
	sqlite3 *db = direct_open();
	sqlite3_stmt *statement;

	snprintf(buf, size, "(no row)");
	if (sqlite3_prepare_v2(db, sql, -1, &statement, NULL) != SQLITE_OK) {
		fprintf(stderr, "%s: %s\n", sql, sqlite3_errmsg(db));
		exit(2);
	}
	sqlite3_bind_int64(statement, 1, parameter);
	if (sqlite3_step(statement) == SQLITE_ROW && sqlite3_column_text(statement, 0) != NULL)
		snprintf(buf, size, "%s", (const char *)sqlite3_column_text(statement, 0));
	sqlite3_finalize(statement);
	sqlite3_close(db);
	return buf;
}

static void
direct_exec(const char *sql)
{
	sqlite3 *db = direct_open();

	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		fprintf(stderr, "%s: %s\n", sql, sqlite3_errmsg(db));
		exit(2);
	}
	sqlite3_close(db);
}

static struct store *
open_store(const char *what)
{
	struct store *store = NULL;
	int error = store_open(&store, db_path);

	CHECK(error == 0 && store != NULL, "%s opens %s (%s)", what, db_path, strerror(-error));
	if (store == NULL)
		exit(1);
	return store;
}

static void
test_record_and_read(struct store *store, struct ban *stored)
{
	struct offence offence = make_offence("192.0.2.7", CATEGORY_SPAM, T0_MS);
	struct ban ban = make_ban(&offence, SCOPE_SMTP, 1, 7 * DAY_MS);
	struct ban history[HISTORY_MAX];
	struct ban_list list = {0};
	const struct ban *active;
	size_t count = 99;
	char text[300];
	int error;

	error = store_record(store, &offence, &ban);
	CHECK(error == 0 && offence.id > 0 && ban.id > 0,
	      "record an offence and its ban: ids filled (offence %lld, ban %lld)",
	      (long long)offence.id, (long long)ban.id);
	*stored = ban;

	error = store_history(store, &ban.source, history, HISTORY_MAX, &count);
	CHECK(error == 0 && count == 1 && bans_equal(&history[0], &ban),
	      "the history of 192.0.2.7 holds the ban, every field equal (count %zu)", count);

	error = active_bans(store, T0_MS + HOUR_MS, &list);
	active = find_ban(&list, ban.id);
	CHECK(error == 0 && list.count == 1 && active != NULL && bans_equal(active, &ban),
	      "an hour later the ban is active, every field equal (%zu active)", list.count);
	error = active_bans(store, ban.expires_ms, &list);
	CHECK(error == 0 && list.count == 0, "at its expiry the ban is no longer active");
	error = active_bans(store, T0_MS - 1, &list);
	CHECK(error == 0 && list.count == 0, "before its start the ban is not active yet");

	CHECK(direct_int("SELECT time_ms FROM offences WHERE id = ?1 AND source = '192.0.2.7' "
	                 "AND category = 'spam' AND attempts = 412 AND destinations = 37",
	                 offence.id) == T0_MS,
	      "the offence row keeps source, category, time, attempts and destinations");
	CHECK(strcmp(direct_text("SELECT detail FROM offences WHERE id = ?1", offence.id, text,
	                         sizeof(text)),
	             offence.detail) == 0,
	      "the offence row keeps its detail: %s", text);
	CHECK(direct_int("SELECT offence_id FROM bans WHERE id = ?1 AND scope = 'smtp'", ban.id) ==
	          offence.id,
	      "the ban row points at its offence and keeps its scope");
}

static void
test_offence_without_ban(struct store *store)
{
	struct offence offence = make_offence("198.51.100.9", CATEGORY_SCAN, T0_MS);
	struct ban history[HISTORY_MAX];
	size_t count = 99;
	int error;

	error = store_record(store, &offence, NULL);
	CHECK(error == 0 && offence.id > 0, "record an offence without a ban (id %lld)",
	      (long long)offence.id);
	error = store_history(store, &offence.source, history, HISTORY_MAX, &count);
	CHECK(error == 0 && count == 0, "an offence without a ban leaves the ban history empty");
	CHECK(direct_int("SELECT count(*) FROM offences WHERE id = ?1 AND category = 'scan'",
	                 offence.id) == 1,
	      "the offence row is there, category scan");
}

static void
test_lift(struct store *store, struct ban *stored)
{
	int64_t lift_ms = T0_MS + 2 * HOUR_MS;
	struct ban lifted[4], history[HISTORY_MAX];
	struct ban_list list = {0};
	int64_t audit_rows;
	size_t count = 99;
	char text[300];
	int error;

	error = store_lift(store, &stored->source, lift_ms, 1001, "customer fixed the relay",
	                   lifted, 4, &count);
	CHECK(error == 0 && count == 1 && lifted[0].id == stored->id &&
	          lifted[0].lifted_ms == lift_ms,
	      "lifting 192.0.2.7 lifts its one active ban and says when (%s, %zu)",
	      strerror(-error), count);
	stored->lifted_ms = lift_ms;

	error = active_bans(store, lift_ms, &list);
	CHECK(error == 0 && find_ban(&list, stored->id) == NULL,
	      "the lifted ban is no longer active");
	error = store_history(store, &stored->source, history, HISTORY_MAX, &count);
	CHECK(error == 0 && count == 1 && bans_equal(&history[0], stored),
	      "the history keeps the lifted ban with its lift time");

	CHECK(direct_int("SELECT uid FROM audit WHERE action = 'unban' AND subject = '192.0.2.7' "
	                 "AND time_ms = ?1",
	                 lift_ms) == 1001,
	      "the audit table has an unban of 192.0.2.7 by uid 1001");
	CHECK(strcmp(direct_text("SELECT reason FROM audit WHERE time_ms = ?1", lift_ms, text,
	                         sizeof(text)),
	             "customer fixed the relay") == 0,
	      "the audit row keeps the reason: %s", text);
	CHECK(direct_int("SELECT lifted_by_uid FROM bans WHERE id = ?1 AND lift_reason = "
	                 "'customer fixed the relay'",
	                 stored->id) == 1001,
	      "the ban row keeps who lifted it and why");

	audit_rows = direct_int("SELECT count(*) FROM audit WHERE ?1", 1);
	error = store_lift(store, &stored->source, lift_ms + MINUTE_MS, 1001, "again", lifted, 4,
	                   &count);
	CHECK(error == -ENOENT && count == 0, "a second lift answers ENOENT (%s)",
	      strerror(-error));
	CHECK(direct_int("SELECT count(*) FROM audit WHERE ?1", 1) == audit_rows,
	      "a lift that found nothing writes no audit row");

	error = store_audit(store, lift_ms, 0, "reload", "policy", "new thresholds");
	CHECK(error == 0 && direct_int("SELECT count(*) FROM audit WHERE action = 'reload' AND "
	                               "uid = ?1 AND reason = 'new thresholds'",
	                               0) == 1,
	      "store_audit writes one row");
}

static int
remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

/* At exit, so that a test that gives up early leaves nothing behind either. */
static void
remove_directory(void)
{
	nftw(directory, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void
test_reopen(struct store **store, const struct ban *stored)
{
	struct ban history[HISTORY_MAX];
	size_t count = 0;
	int error;

	store_close(*store);
	*store = open_store("reopening after close");
	error = store_history(*store, &stored->source, history, HISTORY_MAX, &count);
	CHECK(error == 0 && count == 1 && bans_equal(&history[0], stored),
	      "after a restart the ban and its lift are still there");
	CHECK(direct_int("SELECT count(*) FROM audit WHERE uid = ?1", 1001) == 1,
	      "after a restart the audit row is still there");
}

static void
test_crash(struct store **store)
{
	struct source_key source = key("203.0.113.5", 64);
	struct ban history[HISTORY_MAX];
	char wal_path[PATH_MAX + 8];
	struct stat wal;
	size_t count = 0;
	int status, error;
	pid_t child;

	/* A connection must not cross fork(); the parent closes its own first. */
	store_close(*store);
	*store = NULL;
	fflush(stdout);
	child = fork();
	if (child == 0) {
		struct store *crashing;
		struct offence offence = make_offence("203.0.113.5", CATEGORY_SPAM, T0_MS);
		struct ban ban = make_ban(&offence, SCOPE_SMTP, 2, 30 * DAY_MS);

		if (store_open(&crashing, db_path) < 0 ||
		    store_record(crashing, &offence, &ban) < 0)
			_exit(1);
		_exit(0); /* no store_close: the process dies with the database open */
	}
	CHECK(child > 0 && waitpid(child, &status, 0) == child && WIFEXITED(status) &&
	          WEXITSTATUS(status) == 0,
	      "a child process records a ban and exits without closing the store");
	snprintf(wal_path, sizeof(wal_path), "%s-wal", db_path);
	if (stat(wal_path, &wal) < 0)
		wal.st_size = -1;
	CHECK(wal.st_size > 0, "the crashed writer left its commit in the WAL file (%lld bytes)",
	      (long long)wal.st_size);

	*store = open_store("a fresh store after the crash");
	error = store_history(*store, &source, history, HISTORY_MAX, &count);
	CHECK(error == 0 && count == 1 && history[0].level == 2 &&
	          history[0].expires_ms == T0_MS + 30 * DAY_MS,
	      "the crashed process's ban of 203.0.113.5 is there, rung 2, 30 days");
}

static void
test_history_order(struct store *store)
{
	static const int64_t start_days[] = {3, 0, 10, 1, 5};
	const size_t bans = sizeof(start_days) / sizeof(start_days[0]);
	struct source_key source = key("192.0.2.50", 64);
	struct ban history[HISTORY_MAX];
	size_t count = 0, recorded = 0;
	int descending = 1;
	int error;

	for (size_t i = 0; i < bans; i++)
		recorded +=
		    record(store, "192.0.2.50", 0, T0_MS + start_days[i] * DAY_MS, HOUR_MS).id > 0;
	CHECK(recorded == bans, "record %zu bans of 192.0.2.50 out of time order", bans);
	error = store_history(store, &source, history, HISTORY_MAX, &count);
	for (size_t i = 1; i < count; i++)
		if (history[i - 1].start_ms <= history[i].start_ms)
			descending = 0;
	CHECK(error == 0 && count == bans && descending &&
	          history[0].start_ms == T0_MS + 10 * DAY_MS,
	      "history of bans recorded out of order comes most recent first (%zu bans)", count);

	error = store_history(store, &source, history, 2, &count);
	CHECK(error == 0 && count == 2 && history[0].start_ms == T0_MS + 10 * DAY_MS &&
	          history[1].start_ms == T0_MS + 5 * DAY_MS,
	      "history with room for 2 gives the 2 most recent");
	error = store_history(store, &source, NULL, 0, &count);
	CHECK(error == 0 && count == 0, "history with no room gives nothing");

	/* The ticket module marks false positives; the store must leave them out. */
	direct_exec("UPDATE offences SET false_positive = 1 WHERE id = (SELECT offence_id FROM "
	            "bans WHERE source = '192.0.2.50' ORDER BY start_ms DESC LIMIT 1)");
	error = store_history(store, &source, history, HISTORY_MAX, &count);
	CHECK(error == 0 && count == bans - 1 && history[0].start_ms == T0_MS + 5 * DAY_MS,
	      "a ban whose offence was a false positive leaves the history (%zu left)", count);
}

static void
test_families(struct store *store)
{
	/* 10.0.0.1 and a00:1::/64 share their first four address bytes. */
	struct source_key ipv4 = key("10.0.0.1", 64);
	struct source_key ipv6 = key("a00:1::", 64);
	struct source_key ipv6_56 = key("a00:1::", 56);
	struct ban history[HISTORY_MAX];
	struct ban ban4, ban6, ban6_56;
	struct offence offence;
	size_t count = 0;
	int error;

	ban4 = record(store, "10.0.0.1", 0, T0_MS, DAY_MS);
	ban6 = record(store, "a00:1::", 1, T0_MS, DAY_MS);
	offence = make_offence("a00:1::", CATEGORY_CRAWLER, T0_MS);
	offence.source = ipv6_56;
	ban6_56 = make_ban(&offence, SCOPE_WEB, 2, DAY_MS);
	error = store_record(store, &offence, &ban6_56);
	CHECK(error == 0 && ban4.id > 0 && ban6.id > 0,
	      "record bans of 10.0.0.1, a00:1::/64 and a00:1::/56");

	error = store_history(store, &ipv4, history, HISTORY_MAX, &count);
	CHECK(error == 0 && count == 1 && bans_equal(&history[0], &ban4),
	      "the history of 10.0.0.1 holds only its own ban (%zu)", count);
	error = store_history(store, &ipv6, history, HISTORY_MAX, &count);
	CHECK(error == 0 && count == 1 && bans_equal(&history[0], &ban6),
	      "the history of a00:1::/64 holds only its own ban (%zu)", count);
	error = store_history(store, &ipv6_56, history, HISTORY_MAX, &count);
	CHECK(error == 0 && count == 1 && bans_equal(&history[0], &ban6_56) &&
	          history[0].scope == SCOPE_WEB && history[0].category == CATEGORY_CRAWLER,
	      "the history of a00:1::/56 holds only its own crawler ban, scope web (%zu)", count);

	error = store_lift(store, &ipv4, T0_MS + HOUR_MS, 0, "test", NULL, 0, NULL);
	CHECK(error == 0, "lift 10.0.0.1");
	error = store_lift(store, &ipv6, T0_MS + HOUR_MS, 0, "test", NULL, 0, &count);
	CHECK(error == 0 && count == 1, "lifting 10.0.0.1 left a00:1::/64's ban active");
}

/* limits.max_bans counts a family's active bans: the engine asks before it bans. */
static void
test_count_active(void)
{
	char path[PATH_MAX + 16];
	struct store *store = NULL;
	struct source_key source = key("192.0.2.50", 64);
	size_t ipv4 = 99, ipv6 = 99;

	snprintf(path, sizeof(path), "%s/count.db", directory);
	CHECK(store_open(&store, path) == 0, "a store of its own for counting");
	if (store == NULL)
		return;
	record(store, "192.0.2.50", 0, T0_MS, HOUR_MS);
	record(store, "192.0.2.51", 0, T0_MS, HOUR_MS);
	record(store, "192.0.2.52", 0, T0_MS - 2 * HOUR_MS, HOUR_MS); /* over */
	record(store, "2001:db8:50::", 0, T0_MS, HOUR_MS);
	CHECK(store_count_active(store, T0_MS + 1, SOURCE_FAMILY_IPV4, &ipv4) == 0 && ipv4 == 2 &&
	          store_count_active(store, T0_MS + 1, SOURCE_FAMILY_IPV6, &ipv6) == 0 && ipv6 == 1,
	      "active bans are counted per family, expired ones not (IPv4 %zu, IPv6 %zu)", ipv4,
	      ipv6);
	store_lift(store, &source, T0_MS + 2, 0, "test", NULL, 0, NULL);
	CHECK(store_count_active(store, T0_MS + 3, SOURCE_FAMILY_IPV4, &ipv4) == 0 && ipv4 == 1,
	      "a lifted ban no longer counts (%zu)", ipv4);
	store_close(store);
}

static void
test_active_bans(struct store *store)
{
	int64_t now_ms = T0_MS + 365 * DAY_MS;
	struct ban_list *list = calloc(1, sizeof(*list));
	int ordered = 1, distinct = 1, recorded = 0;
	int error;

	for (int i = 0; i < MANY_BANS; i++) {
		char source[32];

		snprintf(source, sizeof(source), "100.64.%d.%d", (i + 1) / 256, (i + 1) % 256);
		/* Expiries out of order, and some expiring in the same millisecond. */
		recorded += record(store, source, 0, now_ms - HOUR_MS,
		                   HOUR_MS + ((i * 37) % 50 + 1) * MINUTE_MS)
		                .id > 0;
	}
	CHECK(recorded == MANY_BANS, "record %d bans active at once", MANY_BANS);
	error = active_bans(store, now_ms, list);
	for (size_t i = 1; i < list->count; i++) {
		if (list->bans[i - 1].expires_ms > list->bans[i].expires_ms)
			ordered = 0;
		for (size_t j = 0; j < i; j++)
			if (list->bans[j].id == list->bans[i].id)
				distinct = 0;
	}
	CHECK(error == 0 && list->count == MANY_BANS && ordered && distinct,
	      "%d active bans come once each, soonest expiry first (%zu)", MANY_BANS, list->count);

	list->stop_after = 3;
	error = active_bans(store, now_ms, list);
	CHECK(error == 42 && list->count == 3, "a callback's non-zero return stops the walk");

	list->stop_after = 0;
	list->lift_with = store;
	error = active_bans(store, now_ms, list);
	CHECK(error == 0 && list->count == MANY_BANS,
	      "a callback that lifts each ban it is handed still sees every ban once (%zu)",
	      list->count);
	list->lift_with = NULL;
	error = active_bans(store, now_ms, list);
	CHECK(error == 0 && list->count == 0, "after that walk no ban is active");
	free(list);
}

static void
test_bad_input(struct store *store)
{
	struct offence offence = make_offence("192.0.2.99", CATEGORY_SPAM, T0_MS);
	struct ban ban = make_ban(&offence, SCOPE_SMTP, 0, HOUR_MS);
	struct source_key nothing = {0};
	size_t count;

	offence.category = (enum category)7;
	CHECK(store_record(store, &offence, &ban) == -EINVAL, "an unknown category is refused");
	offence.category = CATEGORY_SPAM;
	ban.source = key("192.0.2.100", 64);
	CHECK(store_record(store, &offence, &ban) == -EINVAL,
	      "a ban of another source than its offence is refused");
	CHECK(store_history(store, &nothing, NULL, 0, &count) == -EINVAL,
	      "a source of no family is refused");
	CHECK(direct_int("SELECT count(*) FROM offences WHERE source = '192.0.2.99' AND ?1", 1) ==
	          0,
	      "a refused record writes nothing");

	ban = record(store, "192.0.2.111", 0, T0_MS, HOUR_MS);
	direct_exec("UPDATE bans SET scope = 'nowhere' WHERE source = '192.0.2.111'");
	CHECK(ban.id > 0 && store_history(store, &ban.source, &ban, 1, &count) == -EIO,
	      "a row with an unknown scope, edited behind the store's back, is an error");
	direct_exec("DELETE FROM bans WHERE source = '192.0.2.111'");
}

static void
test_atomic_record(struct store *store)
{
	struct offence offence = make_offence("192.0.2.77", CATEGORY_SPAM, T0_MS);
	struct ban ban = make_ban(&offence, SCOPE_SMTP, 0, HOUR_MS);
	int error;

	direct_exec("CREATE TRIGGER refuse_ban BEFORE INSERT ON bans "
	            "BEGIN SELECT RAISE(ABORT, 'the test refuses this ban'); END");
	error = store_record(store, &offence, &ban);
	CHECK(error == -EIO && offence.id == 0 && ban.id == 0,
	      "a ban the database refuses fails the record (%s)", strerror(-error));
	CHECK(direct_int("SELECT count(*) FROM offences WHERE source = '192.0.2.77' AND ?1", 1) ==
	          0,
	      "its offence was rolled back with it");
	direct_exec("DROP TRIGGER refuse_ban");
	error = store_record(store, &offence, &ban);
	CHECK(error == 0 && ban.id > 0, "the store records again afterwards (%s)",
	      strerror(-error));
}

static void
test_busy(struct store *store)
{
	struct offence offence = make_offence("192.0.2.88", CATEGORY_SPAM, T0_MS);
	sqlite3 *writer = direct_open();
	struct store_health health;
	uint64_t errors;
	int error;

	/* Another process (an operator's sqlite3) holds the write lock past the busy timeout. */
	sqlite3_exec(writer, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	error = store_record(store, &offence, NULL);
	CHECK(error == -EBUSY && offence.id == 0,
	      "a database locked by another writer answers EBUSY (%s)", strerror(-error));
	store_health(store, &health);
	CHECK(!health.healthy && health.errors >= 1 && strstr(health.last_error, "locked") != NULL,
	      "a store that could not record is not healthy and says what failed: %s",
	      health.last_error);
	sqlite3_exec(writer, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(writer);
	errors = health.errors;
	error = store_record(store, &offence, NULL);
	CHECK(error == 0 && offence.id > 0, "once the lock is gone the record goes through");
	store_health(store, &health);
	CHECK(health.healthy && health.errors == errors,
	      "a record that went through makes it healthy again; the count of errors stays");
}

/* A database of rows row after row, closed: its WAL is checkpointed into the file. */
static void
make_database(const char *path, int rows, int64_t start_ms)
{
	struct store *store = NULL;

	if (store_open(&store, path) < 0)
		exit(2);
	for (int i = 0; i < rows; i++) {
		char address[32];
		struct offence offence;
		struct ban ban;

		snprintf(address, sizeof(address), "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255,
		         i & 255);
		offence = make_offence(address, CATEGORY_SPAM, start_ms + i);
		ban = make_ban(&offence, SCOPE_SMTP, 0, HOUR_MS);
		if (store_record(store, &offence, &ban) < 0)
			exit(2);
	}
	store_close(store);
}

static void
test_damaged(void)
{
	char path[PATH_MAX + 32];
	struct store *store = NULL;
	char garbage[4096];
	int fd, error;

	snprintf(path, sizeof(path), "%s/damaged.db", directory);
	make_database(path, 600, T0_MS);
	error = store_open(&store, path);
	CHECK(error == 0 && store_check(store, 60000) == 0,
	      "a sound database passes the integrity check");
	error = store_check(store, 0);
	CHECK(error == -ETIMEDOUT,
	      "a check that cannot finish within its bound stops with ETIMEDOUT (%s)",
	      strerror(-error));
	store_close(store);

	/* Pages in the middle overwritten, as a bad disk or a stray write would leave them. */
	memset(garbage, 0x5a, sizeof(garbage));
	fd = open(path, O_WRONLY);
	for (int page = 10; fd >= 0 && page < 14; page++)
		if (pwrite(fd, garbage, sizeof(garbage), (off_t)page * 4096) != sizeof(garbage))
			break;
	if (fd >= 0)
		close(fd);
	store = NULL;
	error = store_open(&store, path);
	if (error == 0) {
		error = store_check(store, 60000);
		store_close(store);
	}
	CHECK(error == -EBADMSG, "a database with damaged pages is found damaged at open (%s)",
	      strerror(-error));
}

static int64_t
count_rows(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *statement;
	int64_t value = -1;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, sql, -1, &statement, NULL) != SQLITE_OK)
		exit(2);
	if (sqlite3_step(statement) == SQLITE_ROW)
		value = sqlite3_column_int64(statement, 0);
	sqlite3_finalize(statement);
	sqlite3_close(db);
	return value;
}

static void
test_prune(void)
{
	const int64_t now_ms = T0_MS + 600 * DAY_MS, retention_ms = 400 * DAY_MS;
	char path[PATH_MAX + 32];
	struct store *store = NULL;
	struct offence lone;
	size_t deleted = 0, total = 0;
	int calls = 0, error;

	snprintf(path, sizeof(path), "%s/prune.db", directory);
	make_database(path, 35, T0_MS); /* ended 600 days ago */
	if (store_open(&store, path) < 0)
		exit(2);
	lone = make_offence("192.0.2.1", CATEGORY_SPAM, T0_MS);
	store_record(store, &lone, NULL);
	store_audit(store, T0_MS, 0, "unban", "10.0.0.1", "old");
	for (int i = 0; i < 3; i++) {
		struct offence offence =
		    make_offence("198.51.100.1", CATEGORY_SPAM, now_ms - 300 * DAY_MS + i);
		struct ban ban = make_ban(&offence, SCOPE_SMTP, (unsigned)i, HOUR_MS);

		store_record(store, &offence, &ban);
	}
	store_audit(store, now_ms, 0, "unban", "198.51.100.1", "recent");

	error = store_prune(store, now_ms - retention_ms, 10, &deleted);
	CHECK(error == 0 && deleted <= 30 && count_rows(path, "SELECT count(*) FROM bans") == 28,
	      "one prune deletes a small batch: 10 of 35 old bans (%zu rows)", deleted);
	for (total = deleted; calls < 20 && error == 0; calls++) {
		error = store_prune(store, now_ms - retention_ms, 10, &deleted);
		total += deleted;
		if (deleted == 0)
			break;
	}
	CHECK(error == 0 && total == 35 + 36 + 1,
	      "batch after batch, every row past the retention goes: %zu rows", total);
	CHECK(count_rows(path, "SELECT count(*) FROM bans") == 3 &&
	          count_rows(path, "SELECT count(*) FROM offences") == 3 &&
	          count_rows(path, "SELECT count(*) FROM audit") == 1,
	      "history within the retention stays: 3 bans, their offences, the recent audit row");
	store_close(store);
}

static void
test_open_errors(void)
{
	char path[PATH_MAX + 32];
	struct store *store;
	int fd, error;

	snprintf(path, sizeof(path), "%s/missing/abuseguard.db", directory);
	store = (struct store *)1;
	error = store_open(&store, path);
	CHECK(error < 0 && store == NULL, "a database in a missing directory is an error (%s)",
	      strerror(-error));

	error = store_open(&store, directory);
	CHECK(error < 0 && store == NULL, "a directory as database is an error (%s)",
	      strerror(-error));

	snprintf(path, sizeof(path), "%s/corrupt.db", directory);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	for (int i = 0; fd >= 0 && i < 512; i++)
		if (write(fd, "this is no database ", 20) != 20)
			break;
	if (fd >= 0)
		close(fd);
	error = store_open(&store, path);
	CHECK(error < 0 && store == NULL, "a file of garbage is an error from store_open (%s)",
	      strerror(-error));

	direct_exec("PRAGMA user_version = 99");
	error = store_open(&store, db_path);
	CHECK(error < 0 && store == NULL, "a database from a newer schema is refused (%s)",
	      strerror(-error));
	direct_exec("PRAGMA user_version = 1");
}

int
main(void)
{
	struct store *store;
	struct ban stored;

	if (mkdtemp(directory) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	atexit(remove_directory);
	snprintf(db_path, sizeof(db_path), "%s/abuseguard.db", directory);

	store = open_store("a new store");
	CHECK(direct_int("SELECT ?1 FROM pragma_journal_mode WHERE journal_mode = 'wal'", 1) == 1,
	      "the database is in WAL mode");
	test_record_and_read(store, &stored);
	test_offence_without_ban(store);
	test_lift(store, &stored);
	test_reopen(&store, &stored);
	test_crash(&store);
	test_history_order(store);
	test_families(store);
	test_count_active();
	test_active_bans(store);
	test_bad_input(store);
	test_atomic_record(store);
	test_busy(store);
	store_close(store);
	test_open_errors();
	test_damaged();
	test_prune();
	return check_done();
}
