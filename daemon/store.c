/*
 * The SQLite store. Every statement is prepared once in store_open and takes
 * its input as bound parameters only. A source is kept as its key (family,
 * prefix length, address bytes), matched exactly, and as text for people
 * reading the database.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "log.h"
#include "source.h"
#include "store.h"

/* The daemon's loop waits at most this long for another writer (abusectl, sqlite3). */
#define STORE_BUSY_TIMEOUT_MS 2000
/* store_active_bans reads this many rows at a time, so fn may use the store. */
#define STORE_ACTIVE_PAGE 512
/* store_check logs at most this many of the problems SQLite reports. */
#define STORE_CHECK_PROBLEMS 5
/* SQLite virtual machine steps between looks at the clock during store_check. */
#define STORE_CHECK_STEPS 10000

/*
 * migrations[i] takes the schema from version i to i + 1 and sets
 * user_version to match. Append new ones; never edit a released one.
 */
static const char *const migrations[] = {
    "CREATE TABLE offences ("
    "  id INTEGER PRIMARY KEY,"
    "  source TEXT NOT NULL,"
    "  family INTEGER NOT NULL CHECK (family IN (2, 10)),"
    "  prefix_len INTEGER NOT NULL,"
    "  addr BLOB NOT NULL,"
    "  category TEXT NOT NULL,"
    "  time_ms INTEGER NOT NULL,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  destinations INTEGER NOT NULL DEFAULT 0,"
    "  detail TEXT NOT NULL DEFAULT '',"
    "  false_positive INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX offences_source ON offences (addr, family, prefix_len, time_ms);"
    "CREATE TABLE bans ("
    "  id INTEGER PRIMARY KEY,"
    "  offence_id INTEGER REFERENCES offences (id),"
    "  source TEXT NOT NULL,"
    "  family INTEGER NOT NULL CHECK (family IN (2, 10)),"
    "  prefix_len INTEGER NOT NULL,"
    "  addr BLOB NOT NULL,"
    "  category TEXT NOT NULL,"
    "  scope TEXT NOT NULL,"
    "  level INTEGER NOT NULL,"
    "  start_ms INTEGER NOT NULL,"
    "  expires_ms INTEGER NOT NULL,"
    "  lifted_ms INTEGER NOT NULL DEFAULT 0,"
    "  lifted_by_uid INTEGER,"
    "  lift_reason TEXT);"
    "CREATE INDEX bans_source ON bans (addr, family, prefix_len, start_ms);"
    "CREATE INDEX bans_expires ON bans (expires_ms);"
    "CREATE INDEX bans_offence ON bans (offence_id);"
    "CREATE TABLE audit ("
    "  id INTEGER PRIMARY KEY,"
    "  time_ms INTEGER NOT NULL,"
    "  uid INTEGER NOT NULL,"
    "  action TEXT NOT NULL,"
    "  subject TEXT NOT NULL,"
    "  reason TEXT NOT NULL);"
    "CREATE INDEX audit_time ON audit (time_ms);"
    "PRAGMA user_version = 1;",
    /* 2: the operator's VMs, and the VM behind each offence and ban. */
    "CREATE TABLE vms ("
    "  interface TEXT PRIMARY KEY,"
    "  name TEXT NOT NULL DEFAULT '',"
    "  customer TEXT NOT NULL DEFAULT '',"
    "  updated_ms INTEGER NOT NULL);"
    "CREATE TABLE vm_addresses ("
    "  interface TEXT NOT NULL REFERENCES vms (interface) ON DELETE CASCADE,"
    "  address TEXT NOT NULL,"
    "  PRIMARY KEY (interface, address));"
    "ALTER TABLE offences ADD COLUMN interface TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE offences ADD COLUMN mac TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE offences ADD COLUMN vm_name TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE bans ADD COLUMN interface TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE bans ADD COLUMN mac TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE bans ADD COLUMN vm_name TEXT NOT NULL DEFAULT '';"
    "PRAGMA user_version = 2;",
    /* 3: tickets, their events, thread and status changes (ticket.h). */
    "CREATE TABLE tickets ("
    "  id INTEGER PRIMARY KEY,"
    "  customer TEXT NOT NULL,"
    "  customer_name TEXT NOT NULL DEFAULT '',"
    "  contact TEXT NOT NULL DEFAULT '',"
    "  route TEXT NOT NULL,"
    "  source TEXT NOT NULL,"
    "  family INTEGER NOT NULL CHECK (family IN (2, 10)),"
    "  prefix_len INTEGER NOT NULL,"
    "  addr BLOB NOT NULL,"
    "  category TEXT NOT NULL,"
    "  interface TEXT NOT NULL DEFAULT '',"
    "  mac TEXT NOT NULL DEFAULT '',"
    "  vm_name TEXT NOT NULL DEFAULT '',"
    "  status TEXT NOT NULL,"
    "  customer_status TEXT NOT NULL,"
    "  opened_ms INTEGER NOT NULL,"
    "  first_seen_ms INTEGER NOT NULL,"
    "  last_seen_ms INTEGER NOT NULL,"
    "  deadline_ms INTEGER NOT NULL,"
    "  notified_ms INTEGER NOT NULL DEFAULT 0,"
    "  fixed_ms INTEGER NOT NULL DEFAULT 0,"
    "  changed_ms INTEGER NOT NULL,"
    "  closed_ms INTEGER NOT NULL DEFAULT 0,"
    "  event_count INTEGER NOT NULL DEFAULT 0,"
    "  updates INTEGER NOT NULL DEFAULT 0,"
    "  warned INTEGER NOT NULL DEFAULT 0,"
    "  ban_id INTEGER REFERENCES bans (id) ON DELETE SET NULL);"
    "CREATE INDEX tickets_key ON tickets (addr, family, prefix_len, category, customer);"
    "CREATE INDEX tickets_status ON tickets (status, id);"
    "CREATE INDEX tickets_customer ON tickets (customer, id);"
    "CREATE TABLE ticket_events ("
    "  id INTEGER PRIMARY KEY,"
    "  ticket_id INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,"
    "  time_ms INTEGER NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  offence_id INTEGER REFERENCES offences (id) ON DELETE SET NULL,"
    "  ban_id INTEGER REFERENCES bans (id) ON DELETE SET NULL,"
    "  detail TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX ticket_events_ticket ON ticket_events (ticket_id, id);"
    "CREATE INDEX ticket_events_offence ON ticket_events (offence_id);"
    "CREATE INDEX ticket_events_ban ON ticket_events (ban_id);"
    "CREATE TABLE ticket_messages ("
    "  id INTEGER PRIMARY KEY,"
    "  ticket_id INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,"
    "  time_ms INTEGER NOT NULL,"
    "  author TEXT NOT NULL,"
    "  uid INTEGER NOT NULL,"
    "  direction TEXT NOT NULL,"
    "  visibility TEXT NOT NULL,"
    "  template TEXT NOT NULL,"
    "  text TEXT NOT NULL);"
    "CREATE INDEX ticket_messages_ticket ON ticket_messages (ticket_id, id);"
    "CREATE TABLE ticket_changes ("
    "  id INTEGER PRIMARY KEY,"
    "  ticket_id INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,"
    "  time_ms INTEGER NOT NULL,"
    "  uid INTEGER NOT NULL,"
    "  axis TEXT NOT NULL CHECK (axis IN ('desk', 'customer')),"
    "  from_status TEXT NOT NULL,"
    "  to_status TEXT NOT NULL,"
    "  reason TEXT NOT NULL);"
    "CREATE INDEX ticket_changes_ticket ON ticket_changes (ticket_id, id);"
    "PRAGMA user_version = 3;",
    /* 4: the outbox of notices, each delivery rendered once and kept until delivered. */
    "CREATE TABLE outbox ("
    "  id INTEGER PRIMARY KEY,"
    "  backend TEXT NOT NULL,"
    "  ticket_id INTEGER NOT NULL,"
    "  event_id INTEGER NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  message_id TEXT NOT NULL,"
    "  payload BLOB NOT NULL,"
    "  created_ms INTEGER NOT NULL,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_ms INTEGER NOT NULL,"
    "  started_ms INTEGER NOT NULL DEFAULT 0,"
    "  sent_ms INTEGER NOT NULL DEFAULT 0,"
    "  last_error TEXT NOT NULL DEFAULT '');"
    "CREATE UNIQUE INDEX outbox_event ON outbox (ticket_id, event_id, kind, backend);"
    "CREATE INDEX outbox_due ON outbox (sent_ms, next_ms);"
    "PRAGMA user_version = 4;",
    /* 5: the operator's runtime allowlist (abusectl allow / disallow). */
    "CREATE TABLE allowlist ("
    "  prefix TEXT PRIMARY KEY,"
    "  until_ms INTEGER NOT NULL DEFAULT 0,"
    "  uid INTEGER NOT NULL,"
    "  reason TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL);"
    "CREATE INDEX audit_subject ON audit (subject, time_ms);"
    "PRAGMA user_version = 5;",
    /*
     * 6: a thread message is queued with its outbox rows (store_outbox_add); one a crash left
     * unqueued goes out at the next start. Messages from before were all queued.
     */
    "ALTER TABLE ticket_messages ADD COLUMN queued INTEGER NOT NULL DEFAULT 1;"
    "CREATE INDEX ticket_messages_unqueued ON ticket_messages (queued) WHERE queued = 0;"
    "PRAGMA user_version = 6;",
    /* 7: a delivery the MTA or hook refused for good is marked failed, kept, not retried. */
    "ALTER TABLE outbox ADD COLUMN failed_ms INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX outbox_failed ON outbox (failed_ms) WHERE failed_ms != 0;"
    "PRAGMA user_version = 7;",
};
#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

/* The columns ban_from_row reads, in its order. */
#define BAN_COLUMNS                                                                                \
	"b.id, b.family, b.prefix_len, b.addr, b.category, b.scope, b.level, b.start_ms, "         \
	"b.expires_ms, b.lifted_ms, b.interface, b.mac, b.vm_name"
#define BAN_OF_SOURCE "b.addr = :addr AND b.family = :family AND b.prefix_len = :prefix_len"
#define BAN_ACTIVE    "b.lifted_ms = 0 AND b.start_ms <= :now AND b.expires_ms > :now"
/* The bans a ticket's offences led to: linked through its event rows. */
#define BAN_OF_TICKET                                                                              \
	"(b.id IN (SELECT ban_id FROM ticket_events WHERE ticket_id = :id AND ban_id IS NOT "      \
	"NULL) OR b.offence_id IN (SELECT offence_id FROM ticket_events WHERE ticket_id = :id "    \
	"AND "                                                                                     \
	"offence_id IS NOT NULL))"
/* The columns ticket_from_row reads, in its order, then BAN_COLUMNS of the current ban. */
#define TICKET_COLUMNS                                                                             \
	"t.id, t.customer, t.customer_name, t.contact, t.route, t.family, t.prefix_len, t.addr, "  \
	"t.category, t.interface, t.mac, t.vm_name, t.status, t.customer_status, t.opened_ms, "    \
	"t.first_seen_ms, t.last_seen_ms, t.deadline_ms, t.notified_ms, t.fixed_ms, "              \
	"t.changed_ms, "                                                                           \
	"t.closed_ms, t.event_count, t.updates, t.warned, " BAN_COLUMNS
#define TICKET_COLUMN_COUNT 25
#define TICKET_FROM         "tickets t LEFT JOIN bans b ON b.id = t.ban_id"
#define TICKET_UNFINISHED   "t.status NOT IN ('false-positive', 'closed')"

enum statement_id {
	STATEMENT_BEGIN,
	STATEMENT_COMMIT,
	STATEMENT_ROLLBACK,
	STATEMENT_OFFENCE_INSERT,
	STATEMENT_BAN_INSERT,
	STATEMENT_SOURCE_ACTIVE,
	STATEMENT_LIFT,
	STATEMENT_AUDIT_INSERT,
	STATEMENT_HISTORY,
	STATEMENT_ACTIVE_PAGE,
	STATEMENT_ACTIVE_COUNT,
	STATEMENT_PRUNE_BANS,
	STATEMENT_PRUNE_OFFENCES,
	STATEMENT_PRUNE_AUDIT,
	STATEMENT_VM_UPSERT,
	STATEMENT_VM_ADDRESSES_DELETE,
	STATEMENT_VM_ADDRESS_INSERT,
	STATEMENT_VM_LIST,
	STATEMENT_TICKET_INSERT,
	STATEMENT_TICKET_UPDATE,
	STATEMENT_TICKET_EVENT_INSERT,
	STATEMENT_TICKET_MESSAGE_INSERT,
	STATEMENT_TICKET_CHANGE_INSERT,
	STATEMENT_TICKET_OPEN_FOR,
	STATEMENT_TICKET_GET,
	STATEMENT_TICKET_LIST,
	STATEMENT_TICKET_STATUS_COUNTS,
	STATEMENT_TICKET_MESSAGES,
	STATEMENT_TICKET_MESSAGES_UNQUEUED,
	STATEMENT_TICKET_MESSAGE_QUEUED,
	STATEMENT_TICKET_EVENTS,
	STATEMENT_TICKET_CHANGES,
	STATEMENT_TICKET_BANS,
	STATEMENT_TICKET_ACTIVE_BANS,
	STATEMENT_TICKET_OFFENCES_FALSE,
	STATEMENT_TICKET_LIFT_BANS,
	STATEMENT_PRUNE_TICKETS,
	STATEMENT_OUTBOX_INSERT,
	STATEMENT_OUTBOX_DUE,
	STATEMENT_OUTBOX_ATTEMPT,
	STATEMENT_OUTBOX_SENT,
	STATEMENT_OUTBOX_RETRY,
	STATEMENT_OUTBOX_RECOVER,
	STATEMENT_OUTBOX_DEPTH,
	STATEMENT_OUTBOX_FAIL,
	STATEMENT_OUTBOX_LIST,
	STATEMENT_PRUNE_OUTBOX,
	STATEMENT_ALLOW_UPSERT,
	STATEMENT_ALLOW_DELETE,
	STATEMENT_ALLOW_LIST,
	STATEMENT_AUDIT_PAGE,
	STATEMENT_SOURCE_EVENTS,
	STATEMENT_COUNT
};

static const struct {
	const char *purpose; /* for the log: what failed */
	const char *sql;
} statements[STATEMENT_COUNT] = {
    [STATEMENT_BEGIN] = {"begin transaction", "BEGIN IMMEDIATE"},
    [STATEMENT_COMMIT] = {"commit", "COMMIT"},
    [STATEMENT_ROLLBACK] = {"roll back", "ROLLBACK"},
    [STATEMENT_OFFENCE_INSERT] =
        {"record offence",
         "INSERT INTO offences (source, family, prefix_len, addr, category, time_ms, "
         "attempts, destinations, detail, interface, mac, vm_name) VALUES (:source, :family, "
         ":prefix_len, :addr, "
         ":category, :time_ms, :attempts, :destinations, :detail, :interface, :mac, :vm_name)"},
    [STATEMENT_BAN_INSERT] =
        {"record ban",
         "INSERT INTO bans (offence_id, source, family, prefix_len, addr, category, scope, "
         "level, start_ms, expires_ms, lifted_ms, interface, mac, vm_name) VALUES (:offence_id, "
         ":source, :family, :prefix_len, :addr, :category, :scope, :level, :start_ms, "
         ":expires_ms, :lifted_ms, :interface, :mac, :vm_name)"},
    [STATEMENT_SOURCE_ACTIVE] = {"find active bans of source",
                                 "SELECT " BAN_COLUMNS " FROM bans b WHERE " BAN_OF_SOURCE
                                 " AND " BAN_ACTIVE " ORDER BY b.expires_ms, b.id"},
    [STATEMENT_LIFT] =
        {"lift bans",
         "UPDATE bans AS b SET lifted_ms = :now, lifted_by_uid = :uid, lift_reason = :reason "
         "WHERE " BAN_OF_SOURCE " AND " BAN_ACTIVE},
    [STATEMENT_AUDIT_INSERT] =
        {"write audit row",
         "INSERT INTO audit (time_ms, uid, action, subject, reason) VALUES (:time_ms, :uid, "
         ":action, :subject, :reason)"},
    [STATEMENT_HISTORY] = {"read history",
                           "SELECT " BAN_COLUMNS
                           " FROM bans b LEFT JOIN offences o ON o.id = b.offence_id "
                           "WHERE " BAN_OF_SOURCE " AND coalesce(o.false_positive, 0) = 0 "
                           "ORDER BY b.start_ms DESC, b.id DESC LIMIT :limit"},
    [STATEMENT_ACTIVE_PAGE] =
        {"read active bans",
         "SELECT " BAN_COLUMNS " FROM bans b WHERE " BAN_ACTIVE " AND (b.expires_ms > "
         ":after_expires OR (b.expires_ms = :after_expires AND b.id > :after_id)) "
         "ORDER BY b.expires_ms, b.id LIMIT :limit"},
    [STATEMENT_ACTIVE_COUNT] =
        {"count active bans",
         "SELECT count(*) FROM bans b WHERE b.family = :family AND " BAN_ACTIVE},
    /* A ban is history from its planned end: a lifted one is kept as long. */
    [STATEMENT_PRUNE_BANS] = {"prune bans",
                              "DELETE FROM bans WHERE id IN (SELECT id FROM bans WHERE "
                              "expires_ms < :before ORDER BY expires_ms LIMIT :limit)"},
    /* An offence goes once no kept ban refers to it. */
    [STATEMENT_PRUNE_OFFENCES] = {"prune offences",
                                  "DELETE FROM offences WHERE id IN (SELECT o.id FROM "
                                  "offences o WHERE o.time_ms < :before AND NOT EXISTS "
                                  "(SELECT 1 FROM bans b WHERE b.offence_id = o.id) "
                                  "ORDER BY o.time_ms LIMIT :limit)"},
    [STATEMENT_PRUNE_AUDIT] = {"prune audit rows",
                               "DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE "
                               "time_ms < :before ORDER BY time_ms LIMIT :limit)"},
    [STATEMENT_VM_UPSERT] = {"record VM",
                             "INSERT INTO vms (interface, name, customer, updated_ms) VALUES "
                             "(:interface, :name, :customer, :now) ON CONFLICT (interface) DO "
                             "UPDATE SET name = excluded.name, customer = excluded.customer, "
                             "updated_ms = excluded.updated_ms"},
    [STATEMENT_VM_ADDRESSES_DELETE] = {"replace VM addresses",
                                       "DELETE FROM vm_addresses WHERE interface = :interface"},
    [STATEMENT_VM_ADDRESS_INSERT] = {"record VM address",
                                     "INSERT OR IGNORE INTO vm_addresses (interface, address) "
                                     "VALUES (:interface, :address)"},
    [STATEMENT_VM_LIST] = {"read VMs",
                           "SELECT v.interface, v.name, v.customer, a.address FROM vms v LEFT "
                           "JOIN vm_addresses a ON a.interface = v.interface ORDER BY "
                           "v.interface, a.address"},
    [STATEMENT_TICKET_INSERT] =
        {"open ticket",
         "INSERT INTO tickets (customer, customer_name, contact, route, source, family, "
         "prefix_len, addr, category, interface, mac, vm_name, status, customer_status, "
         "opened_ms, first_seen_ms, last_seen_ms, deadline_ms, notified_ms, fixed_ms, "
         "changed_ms, closed_ms, event_count, updates, warned, ban_id) VALUES (:customer, "
         ":customer_name, :contact, :route, :source, :family, :prefix_len, :addr, :category, "
         ":interface, :mac, :vm_name, :status, :customer_status, :opened_ms, :first_seen_ms, "
         ":last_seen_ms, :deadline_ms, :notified_ms, :fixed_ms, :changed_ms, :closed_ms, "
         ":event_count, :updates, :warned, nullif(:ban_id, 0))"},
    [STATEMENT_TICKET_UPDATE] =
        {"update ticket",
         "UPDATE tickets SET interface = :interface, mac = :mac, vm_name = :vm_name, status = "
         ":status, customer_status = :customer_status, opened_ms = :opened_ms, first_seen_ms "
         "= :first_seen_ms, last_seen_ms = :last_seen_ms, deadline_ms = :deadline_ms, "
         "notified_ms = :notified_ms, fixed_ms = :fixed_ms, changed_ms = :changed_ms, "
         "closed_ms = :closed_ms, event_count = :event_count, updates = :updates, warned = "
         ":warned, ban_id = nullif(:ban_id, 0) WHERE id = :id"},
    [STATEMENT_TICKET_EVENT_INSERT] =
        {"record ticket event",
         "INSERT INTO ticket_events (ticket_id, time_ms, kind, offence_id, ban_id, detail) "
         "VALUES (:ticket_id, :time_ms, :kind, nullif(:offence_id, 0), nullif(:ban_id, 0), "
         ":detail)"},
    [STATEMENT_TICKET_MESSAGE_INSERT] =
        {"record ticket message",
         "INSERT INTO ticket_messages (ticket_id, time_ms, author, uid, direction, visibility, "
         "template, text, queued) VALUES (:ticket_id, :time_ms, :author, :uid, :direction, "
         ":visibility, :template, :text, 0)"},
    [STATEMENT_TICKET_CHANGE_INSERT] =
        {"record ticket status change",
         "INSERT INTO ticket_changes (ticket_id, time_ms, uid, axis, from_status, to_status, "
         "reason) VALUES (:ticket_id, :time_ms, :uid, :axis, :from_status, :to_status, "
         ":reason)"},
    [STATEMENT_TICKET_OPEN_FOR] = {"find open ticket",
                                   "SELECT " TICKET_COLUMNS " FROM " TICKET_FROM
                                   " WHERE t.addr = :addr AND t.family = :family AND "
                                   "t.prefix_len = :prefix_len AND t.category = :category AND "
                                   "t.customer = :customer AND " TICKET_UNFINISHED
                                   " ORDER BY t.id DESC LIMIT 1"},
    [STATEMENT_TICKET_GET] = {"read ticket",
                              "SELECT " TICKET_COLUMNS " FROM " TICKET_FROM " WHERE t.id = :id"},
    [STATEMENT_TICKET_LIST] =
        {"list tickets",
         "SELECT " TICKET_COLUMNS " FROM " TICKET_FROM " WHERE t.id > :after_id AND (:status "
         "IS NULL OR t.status = :status) AND (:unfinished = 0 OR " TICKET_UNFINISHED
         ") AND (:customer IS NULL OR t.customer = :customer) AND (:family IS NULL OR "
         "(t.addr = :addr AND t.family = :family AND t.prefix_len = :prefix_len)) ORDER BY "
         "t.id LIMIT :limit"},
    [STATEMENT_TICKET_STATUS_COUNTS] = {"count tickets by status",
                                        "SELECT status, COUNT(*) FROM tickets GROUP BY status"},
    [STATEMENT_TICKET_MESSAGES] = {"read ticket thread",
                                   "SELECT id, time_ms, author, uid, direction, visibility, "
                                   "template, text FROM ticket_messages WHERE ticket_id = :id "
                                   "ORDER BY id"},
    /* A ticket change and its outbox rows are two transactions: a crash between leaves this. */
    [STATEMENT_TICKET_MESSAGES_UNQUEUED] =
        {"find thread messages never queued",
         "SELECT id, time_ms, author, uid, direction, visibility, template, text, ticket_id "
         "FROM ticket_messages WHERE queued = 0 ORDER BY id LIMIT :limit"},
    [STATEMENT_TICKET_MESSAGE_QUEUED] = {"mark thread message queued",
                                         "UPDATE ticket_messages SET queued = 1 WHERE id = "
                                         ":event_id AND ticket_id = :ticket_id"},
    [STATEMENT_TICKET_EVENTS] = {"read ticket events",
                                 "SELECT id, time_ms, kind, coalesce(offence_id, 0), "
                                 "coalesce(ban_id, 0), detail FROM ticket_events WHERE "
                                 "ticket_id = :id ORDER BY id"},
    [STATEMENT_TICKET_CHANGES] = {"read ticket status changes",
                                  "SELECT time_ms, uid, axis, from_status, to_status, reason "
                                  "FROM ticket_changes WHERE ticket_id = :id ORDER BY id"},
    [STATEMENT_TICKET_BANS] = {"read ticket bans",
                               "SELECT " BAN_COLUMNS " FROM bans b WHERE " BAN_OF_TICKET
                               " ORDER BY b.start_ms DESC, b.id DESC LIMIT :limit"},
    [STATEMENT_TICKET_ACTIVE_BANS] = {"find active bans of ticket",
                                      "SELECT " BAN_COLUMNS " FROM bans b WHERE " BAN_OF_TICKET
                                      " AND " BAN_ACTIVE " ORDER BY b.expires_ms, b.id"},
    [STATEMENT_TICKET_OFFENCES_FALSE] = {"mark offences false positives",
                                         "UPDATE offences SET false_positive = 1 WHERE id IN "
                                         "(SELECT offence_id FROM ticket_events WHERE "
                                         "ticket_id = :id AND offence_id IS NOT NULL)"},
    [STATEMENT_TICKET_LIFT_BANS] =
        {"lift ticket bans",
         "UPDATE bans AS b SET lifted_ms = :now, lifted_by_uid = :uid, lift_reason = :reason "
         "WHERE " BAN_OF_TICKET " AND " BAN_ACTIVE},
    /* A ticket the desk is done with goes with the history of its time. */
    [STATEMENT_PRUNE_TICKETS] = {"prune tickets",
                                 "DELETE FROM tickets WHERE id IN (SELECT id FROM tickets t "
                                 "WHERE NOT " TICKET_UNFINISHED " AND t.changed_ms < :before "
                                 "ORDER BY t.changed_ms LIMIT :limit)"},
    /* The same ticket event for the same backend is one delivery, however often it comes. */
    [STATEMENT_OUTBOX_INSERT] = {"queue delivery",
                                 "INSERT OR IGNORE INTO outbox (backend, ticket_id, event_id, "
                                 "kind, message_id, payload, created_ms, next_ms) VALUES "
                                 "(:backend, :ticket_id, :event_id, :kind, :message_id, "
                                 ":payload, :created_ms, :next_ms)"},
    [STATEMENT_OUTBOX_DUE] = {"read due deliveries",
                              "SELECT id, backend, ticket_id, event_id, kind, message_id, "
                              "payload, created_ms, attempts, next_ms FROM outbox WHERE "
                              "sent_ms = 0 AND failed_ms = 0 AND started_ms = 0 AND next_ms "
                              "<= :now ORDER BY next_ms, id LIMIT :limit"},
    [STATEMENT_OUTBOX_ATTEMPT] = {"record delivery attempt",
                                  "UPDATE outbox SET attempts = attempts + 1, started_ms = "
                                  ":now WHERE id = :id AND sent_ms = 0"},
    [STATEMENT_OUTBOX_SENT] = {"record delivery",
                               "UPDATE outbox SET sent_ms = :now, started_ms = 0, last_error "
                               "= '' WHERE id = :id"},
    [STATEMENT_OUTBOX_RETRY] = {"record failed delivery",
                                "UPDATE outbox SET started_ms = 0, next_ms = :next_ms, "
                                "last_error = :error WHERE id = :id AND sent_ms = 0"},
    [STATEMENT_OUTBOX_FAIL] = {"record undeliverable delivery",
                               "UPDATE outbox SET started_ms = 0, failed_ms = :now, "
                               "last_error = :error WHERE id = :id AND sent_ms = 0"},
    /* What the desk sees: one ticket's deliveries, or everything not delivered. */
    [STATEMENT_OUTBOX_LIST] = {"list deliveries",
                               "SELECT id, backend, ticket_id, event_id, kind, message_id, "
                               "created_ms, attempts, next_ms, started_ms, sent_ms, "
                               "failed_ms, last_error FROM outbox WHERE (:ticket_id = 0 AND "
                               "sent_ms = 0) OR ticket_id = :ticket_id ORDER BY id LIMIT "
                               ":limit"},
    [STATEMENT_OUTBOX_RECOVER] = {"recover deliveries in doubt",
                                  "UPDATE outbox SET started_ms = 0, next_ms = :now, "
                                  "last_error = 'in doubt: the daemon stopped during the "
                                  "attempt' WHERE started_ms != 0 AND sent_ms = 0 AND "
                                  "failed_ms = 0"},
    [STATEMENT_OUTBOX_DEPTH] = {"count waiting deliveries",
                                "SELECT coalesce(sum(failed_ms = 0), 0), coalesce(sum(failed_ms "
                                "= 0 AND attempts > 0), 0), coalesce(sum(failed_ms != 0), 0) "
                                "FROM outbox WHERE sent_ms = 0"},
    /* Delivered and undeliverable notices go with the history; what waits is never pruned. */
    [STATEMENT_PRUNE_OUTBOX] = {"prune delivered notices",
                                "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE "
                                "(sent_ms != 0 AND sent_ms < :before) OR (failed_ms != 0 AND "
                                "failed_ms < :before) ORDER BY id LIMIT :limit)"},
    [STATEMENT_ALLOW_UPSERT] = {"record allowlist entry",
                                "INSERT INTO allowlist (prefix, until_ms, uid, reason, "
                                "created_ms) VALUES (:prefix, :until, :uid, :reason, :now) ON "
                                "CONFLICT (prefix) DO UPDATE SET until_ms = excluded.until_ms, "
                                "uid = excluded.uid, reason = excluded.reason, created_ms = "
                                "excluded.created_ms"},
    [STATEMENT_ALLOW_DELETE] = {"remove allowlist entry",
                                "DELETE FROM allowlist WHERE prefix = :prefix"},
    [STATEMENT_ALLOW_LIST] = {"read allowlist",
                              "SELECT prefix, until_ms, uid, reason, created_ms FROM allowlist "
                              "WHERE until_ms = 0 OR until_ms > :now ORDER BY prefix"},
    [STATEMENT_AUDIT_PAGE] = {"read audit trail",
                              "SELECT id, time_ms, uid, action, subject, reason FROM audit "
                              "WHERE time_ms >= :since AND id > :after ORDER BY id LIMIT :limit"},
    /*
     * Everything that happened to a source, newest first: offences, bans,
     * lifts (with who and why) and the operators' other changes naming it.
     */
    [STATEMENT_SOURCE_EVENTS] =
        {"read history of source",
         /* rank orders one moment: the operator's act, then the ban, then the offence. */
         "SELECT * FROM ("
         "SELECT o.time_ms AS t, 'offence' AS kind, o.category, '', 0, 0, o.detail, -1, '', "
         "o.false_positive, 1 AS rank FROM offences o WHERE o.addr = :addr AND "
         "o.family = :family AND o.prefix_len = :prefix_len "
         "UNION ALL SELECT b.start_ms, 'ban', b.category, b.scope, b.level + 1, b.expires_ms - "
         "b.start_ms, '', -1, '', 0, 2 FROM bans b WHERE " BAN_OF_SOURCE
         " UNION ALL SELECT b.lifted_ms, 'lift', b.category, b.scope, b.level + 1, 0, '', "
         "coalesce(b.lifted_by_uid, -1), coalesce(b.lift_reason, ''), 0, 3 FROM bans b "
         "WHERE " BAN_OF_SOURCE " AND b.lifted_ms > 0 "
         "UNION ALL SELECT a.time_ms, a.action, '', '', 0, 0, '', a.uid, a.reason, 0, 4 FROM "
         "audit a WHERE a.subject = :source AND a.action <> 'unban' "
         /* Its tickets: when each opened, and every change of status, with who and why. */
         "UNION ALL SELECT k.opened_ms, 'ticket', k.category, '', 0, 0, 'ticket ' || k.id || "
         "' for ' || k.customer || ', now ' || k.status, -1, '', 0, 3 FROM tickets k WHERE "
         "k.addr = :addr AND k.family = :family AND k.prefix_len = :prefix_len "
         "UNION ALL SELECT c.time_ms, 'ticket', k.category, '', 0, 0, 'ticket ' || k.id || ' ' "
         "|| c.axis || ': ' || c.from_status || ' -> ' || c.to_status, c.uid, c.reason, 0, 4 "
         "FROM ticket_changes c JOIN tickets k ON k.id = c.ticket_id WHERE k.addr = :addr AND "
         "k.family = :family AND k.prefix_len = :prefix_len) "
         "ORDER BY t DESC, rank DESC LIMIT :limit"},
};

struct store {
	sqlite3 *db;
	char path[PATH_MAX];
	sqlite3_stmt *statements[STATEMENT_COUNT];
	/* Set by every failure, cleared by a commit that wrote something. */
	bool failing;
	sqlite3_int64 changes_at_begin; /* of the open transaction */
	uint64_t errors;
	char last_error[STORE_ERROR_MAX];
};

static int
errno_from_sqlite(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return -EBADMSG;
	case SQLITE_INTERRUPT:
		return -ETIMEDOUT;
	default:
		return -EIO;
	}
}

/*
 * Logs a failed SQLite call once, naming the database and what was being
 * done. The connection's message is more precise, when it is about rc.
 */
static int
store_fail(struct store *store, const char *purpose, int rc)
{
	const char *message = (sqlite3_errcode(store->db) & 0xff) == (rc & 0xff)
	                          ? sqlite3_errmsg(store->db)
	                          : sqlite3_errstr(rc);
	int system_errno = sqlite3_system_errno(store->db);

	store->failing = true;
	store->errors++;
	/* A file that cannot be opened has a better reason than EIO: ENOENT, EACCES, ... */
	if ((rc & 0xff) == SQLITE_CANTOPEN && system_errno > 0) {
		snprintf(store->last_error, sizeof(store->last_error), "%s: %s: %s", purpose,
		         message, strerror(system_errno));
		log_warnx("%s: %s", store->path, store->last_error);
		return -system_errno;
	}
	snprintf(store->last_error, sizeof(store->last_error), "%s: %s", purpose, message);
	log_warnx("%s: %s", store->path, store->last_error);
	return errno_from_sqlite(rc);
}

static int
statement_fail(struct store *store, enum statement_id id, int rc)
{
	return store_fail(store, statements[id].purpose, rc);
}

/* Readies a statement for its next use; an error of the last step was already reported. */
static void
statement_reset(struct store *store, enum statement_id id)
{
	sqlite3_reset(store->statements[id]);
	sqlite3_clear_bindings(store->statements[id]);
}

/*
 * Binding: each helper does nothing once *rc holds an error, so a statement's
 * parameters are bound in a row and checked once.
 */
static void
bind_int64(struct store *store, enum statement_id id, const char *name, int64_t value, int *rc)
{
	sqlite3_stmt *statement = store->statements[id];
	int index = sqlite3_bind_parameter_index(statement, name);

	if (*rc != SQLITE_OK)
		return;
	*rc = index == 0 ? SQLITE_RANGE : sqlite3_bind_int64(statement, index, value);
}

static void
bind_text(struct store *store, enum statement_id id, const char *name, const char *text, size_t max,
          int *rc)
{
	sqlite3_stmt *statement = store->statements[id];
	int index = sqlite3_bind_parameter_index(statement, name);
	size_t length;

	if (*rc != SQLITE_OK)
		return;
	if (text == NULL)
		text = "";
	length = strnlen(text, max);
	if (index == 0)
		*rc = SQLITE_RANGE;
	else if (length > INT_MAX)
		*rc = SQLITE_TOOBIG;
	else
		*rc = sqlite3_bind_text(statement, index, text, (int)length, SQLITE_TRANSIENT);
}

static size_t
key_address_size(unsigned family)
{
	return family == SOURCE_FAMILY_IPV4 ? 4 : 16;
}

static int
key_valid(const struct source_key *key)
{
	if (key->family == SOURCE_FAMILY_IPV4)
		return key->prefix_len == 32;
	return key->family == SOURCE_FAMILY_IPV6 && key->prefix_len <= 128;
}

/* Binds :family, :prefix_len and :addr, the exact key. */
static void
bind_key(struct store *store, enum statement_id id, const struct source_key *key, int *rc)
{
	sqlite3_stmt *statement = store->statements[id];
	int index = sqlite3_bind_parameter_index(statement, ":addr");

	bind_int64(store, id, ":family", key->family, rc);
	bind_int64(store, id, ":prefix_len", key->prefix_len, rc);
	if (*rc != SQLITE_OK)
		return;
	*rc = index == 0 ? SQLITE_RANGE
	                 : sqlite3_bind_blob(statement, index, key->addr,
	                                     (int)key_address_size(key->family), SQLITE_TRANSIENT);
}

/* Binds :interface, :mac and :vm_name. */
static void
bind_vm(struct store *store, enum statement_id id, const struct vm_identity *vm, int *rc)
{
	bind_text(store, id, ":interface", vm->interface, sizeof(vm->interface), rc);
	bind_text(store, id, ":mac", vm->mac, sizeof(vm->mac), rc);
	bind_text(store, id, ":vm_name", vm->name, sizeof(vm->name), rc);
}

/* Binds the key and its text, for the rows that keep both. */
static void
bind_source(struct store *store, enum statement_id id, const struct source_key *key, int *rc)
{
	char text[SOURCE_STRLEN];

	bind_key(store, id, key, rc);
	bind_text(store, id, ":source", source_format(key, text, sizeof(text)), sizeof(text), rc);
}

/* Runs a statement that returns no rows. rc is the binding's outcome. */
static int
statement_execute(struct store *store, enum statement_id id, int rc)
{
	int error = 0;

	if (rc == SQLITE_OK)
		rc = sqlite3_step(store->statements[id]);
	if (rc != SQLITE_DONE)
		error = statement_fail(store, id, rc);
	statement_reset(store, id);
	return error;
}

static int
transaction_begin(struct store *store)
{
	store->changes_at_begin = sqlite3_total_changes64(store->db);
	return statement_execute(store, STATEMENT_BEGIN, SQLITE_OK);
}

/* Commits if error is 0, else (or if the commit fails) rolls back. Returns the outcome. */
static int
transaction_end(struct store *store, int error)
{
	if (error == 0)
		error = statement_execute(store, STATEMENT_COMMIT, SQLITE_OK);
	/* A commit that wrote nothing proves nothing about the disk. */
	if (error == 0 && sqlite3_total_changes64(store->db) > store->changes_at_begin)
		store->failing = false;
	/* SQLite may have rolled back on its own already (a full disk, for one). */
	if (error != 0 && !sqlite3_get_autocommit(store->db))
		(void)statement_execute(store, STATEMENT_ROLLBACK, SQLITE_OK);
	return error;
}

/* The VM behind a record, for people: text cut to its field, NULL as "". */
static void
column_label(sqlite3_stmt *row, int column, char *buf, size_t size)
{
	const unsigned char *text = sqlite3_column_text(row, column);

	snprintf(buf, size, "%s", text != NULL ? (const char *)text : "");
}

/*
 * Reads BAN_COLUMNS from column first of the row; a row this code could not
 * have written is an error.
 */
static int
ban_from_columns(struct store *store, enum statement_id id, int first, struct ban *out)
{
	sqlite3_stmt *row = store->statements[id];
	int64_t family = sqlite3_column_int64(row, first + 1);
	int64_t prefix_len = sqlite3_column_int64(row, first + 2);
	const void *addr = sqlite3_column_blob(row, first + 3);
	int addr_size = sqlite3_column_bytes(row, first + 3);
	const char *category = (const char *)sqlite3_column_text(row, first + 4);
	const char *scope = (const char *)sqlite3_column_text(row, first + 5);
	int64_t level = sqlite3_column_int64(row, first + 6);

	memset(out, 0, sizeof(*out));
	out->id = sqlite3_column_int64(row, first);
	out->source.family = (unsigned char)family;
	out->source.prefix_len = (unsigned char)prefix_len;
	if ((family != SOURCE_FAMILY_IPV4 && family != SOURCE_FAMILY_IPV6) || addr == NULL ||
	    (size_t)addr_size != key_address_size(out->source.family) ||
	    prefix_len != out->source.prefix_len || !key_valid(&out->source) || category == NULL ||
	    scope == NULL || category_parse(category, &out->category) < 0 ||
	    scope_parse(scope, &out->scope) < 0 || level < 0 || level > UINT_MAX) {
		log_warnx("%s: %s: ban %lld: malformed row", store->path, statements[id].purpose,
		          (long long)out->id);
		return -EIO;
	}
	memcpy(out->source.addr, addr, (size_t)addr_size);
	out->level = (unsigned)level;
	out->start_ms = sqlite3_column_int64(row, first + 7);
	out->expires_ms = sqlite3_column_int64(row, first + 8);
	out->lifted_ms = sqlite3_column_int64(row, first + 9);
	column_label(row, first + 10, out->vm.interface, sizeof(out->vm.interface));
	column_label(row, first + 11, out->vm.mac, sizeof(out->vm.mac));
	column_label(row, first + 12, out->vm.name, sizeof(out->vm.name));
	return 0;
}

static int
ban_from_row(struct store *store, enum statement_id id, struct ban *out)
{
	return ban_from_columns(store, id, 0, out);
}

/*
 * Steps a query that returns bans, copying at most max of them into out
 * (which may be NULL when max is 0) and counting all rows into *count.
 * rc is the binding's outcome. Resets the statement.
 */
static int
bans_read(struct store *store, enum statement_id id, int rc, struct ban *out, size_t max,
          size_t *count)
{
	int error = 0;

	*count = 0;
	if (rc == SQLITE_OK)
		while ((rc = sqlite3_step(store->statements[id])) == SQLITE_ROW) {
			if (*count < max && (error = ban_from_row(store, id, &out[*count])) < 0)
				break;
			(*count)++;
		}
	if (error == 0 && rc != SQLITE_DONE)
		error = statement_fail(store, id, rc);
	statement_reset(store, id);
	return error;
}

/* Runs one of store_open's one-row queries; the caller reads and finalizes *out. */
static int
query_row(struct store *store, const char *sql, const char *purpose, sqlite3_stmt **out)
{
	int rc = sqlite3_prepare_v2(store->db, sql, -1, out, NULL);

	if (rc == SQLITE_OK && (rc = sqlite3_step(*out)) == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		rc = SQLITE_ERROR;
	rc = store_fail(store, purpose, rc);
	sqlite3_finalize(*out);
	*out = NULL;
	return rc;
}

static int
store_exec(struct store *store, const char *sql, const char *purpose)
{
	int rc = sqlite3_exec(store->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : store_fail(store, purpose, rc);
}

static int
store_configure(struct store *store)
{
	sqlite3_stmt *mode;
	const char *journal;
	int wal, error;

	sqlite3_busy_timeout(store->db, STORE_BUSY_TIMEOUT_MS);
	/* WAL first: it is also the first read, so a file that is no database fails here. */
	if ((error = query_row(store, "PRAGMA journal_mode = WAL", "set WAL journal", &mode)) < 0)
		return error;
	journal = (const char *)sqlite3_column_text(mode, 0);
	wal = journal != NULL && sqlite3_stricmp(journal, "wal") == 0;
	sqlite3_finalize(mode);
	if (!wal) {
		log_warnx("%s: the database refuses WAL journaling", store->path);
		return -EIO;
	}
	return store_exec(store, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON",
	                  "set synchronous and foreign keys");
}

/*
 * Brings the schema up to SCHEMA_VERSION in one transaction, which also keeps
 * two processes opening a new file at once from both creating it.
 */
static int
store_migrate(struct store *store)
{
	sqlite3_stmt *version_row;
	int64_t version;
	int error;

	if ((error = store_exec(store, "BEGIN IMMEDIATE", "begin schema migration")) < 0)
		return error;
	if ((error = query_row(store, "PRAGMA user_version", "read schema version", &version_row)) <
	    0)
		goto out;
	version = sqlite3_column_int64(version_row, 0);
	sqlite3_finalize(version_row);
	if (version < 0 || version > SCHEMA_VERSION) {
		log_warnx("%s: schema version %lld, this program knows up to %d", store->path,
		          (long long)version, SCHEMA_VERSION);
		error = -EIO;
		goto out;
	}
	for (; version < SCHEMA_VERSION && error == 0; version++)
		error = store_exec(store, migrations[version], "migrate schema");
	if (error == 0)
		error = store_exec(store, "COMMIT", "commit schema migration");
out:
	if (error != 0 && !sqlite3_get_autocommit(store->db))
		(void)store_exec(store, "ROLLBACK", "roll back schema migration");
	return error;
}

static int
store_prepare(struct store *store)
{
	for (int id = 0; id < STATEMENT_COUNT; id++) {
		int rc =
		    sqlite3_prepare_v3(store->db, statements[id].sql, -1, SQLITE_PREPARE_PERSISTENT,
		                       &store->statements[id], NULL);

		if (rc != SQLITE_OK)
			return store_fail(store, statements[id].purpose, rc);
	}
	return 0;
}

int
store_scratch(struct store *store)
{
	return store_exec(store, "PRAGMA synchronous = OFF", "set synchronous off (scratch store)");
}

int
store_open(struct store **out, const char *path)
{
	struct store *store;
	int rc, error;

	*out = NULL;
	if (strlen(path) >= sizeof(store->path)) {
		log_warnx("%s: path too long", path);
		return -ENAMETOOLONG;
	}
	if ((store = calloc(1, sizeof(*store))) == NULL) {
		log_warn("%s: store", path);
		return -ENOMEM;
	}
	strcpy(store->path, path);
	rc = sqlite3_open_v2(path, &store->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK) {
		if (store->db == NULL) {
			log_warnx("%s: open: %s", path, sqlite3_errstr(rc));
			error = errno_from_sqlite(rc);
		} else
			error = store_fail(store, "open", rc);
		store_close(store);
		return error;
	}
	if ((error = store_configure(store)) < 0 || (error = store_migrate(store)) < 0 ||
	    (error = store_prepare(store)) < 0) {
		store_close(store);
		return error;
	}
	*out = store;
	return 0;
}

void
store_close(struct store *store)
{
	if (store == NULL)
		return;
	for (int id = 0; id < STATEMENT_COUNT; id++)
		sqlite3_finalize(store->statements[id]);
	if (store->db != NULL && sqlite3_close(store->db) != SQLITE_OK)
		log_warnx("%s: close: %s", store->path, sqlite3_errmsg(store->db));
	free(store);
}

static int
record_valid(const struct offence *offence, const struct ban *ban)
{
	if (!key_valid(&offence->source) || (unsigned)offence->category >= CATEGORY_COUNT)
		return 0;
	return ban == NULL ||
	       (source_equal(&ban->source, &offence->source) &&
	        (unsigned)ban->category < CATEGORY_COUNT && (unsigned)ban->scope < SCOPE_COUNT);
}

static int
offence_insert(struct store *store, struct offence *offence)
{
	enum statement_id id = STATEMENT_OFFENCE_INSERT;
	int rc = SQLITE_OK, error;

	bind_source(store, id, &offence->source, &rc);
	bind_text(store, id, ":category", category_name(offence->category), SIZE_MAX, &rc);
	bind_int64(store, id, ":time_ms", offence->time_ms, &rc);
	bind_int64(store, id, ":attempts", offence->attempts, &rc);
	bind_int64(store, id, ":destinations", offence->destinations, &rc);
	bind_text(store, id, ":detail", offence->detail, sizeof(offence->detail), &rc);
	bind_vm(store, id, &offence->vm, &rc);
	if ((error = statement_execute(store, id, rc)) == 0)
		offence->id = sqlite3_last_insert_rowid(store->db);
	return error;
}

static int
ban_insert(struct store *store, int64_t offence_id, struct ban *ban)
{
	enum statement_id id = STATEMENT_BAN_INSERT;
	int rc = SQLITE_OK, error;

	bind_int64(store, id, ":offence_id", offence_id, &rc);
	bind_source(store, id, &ban->source, &rc);
	bind_text(store, id, ":category", category_name(ban->category), SIZE_MAX, &rc);
	bind_text(store, id, ":scope", scope_name(ban->scope), SIZE_MAX, &rc);
	bind_int64(store, id, ":level", ban->level, &rc);
	bind_int64(store, id, ":start_ms", ban->start_ms, &rc);
	bind_int64(store, id, ":expires_ms", ban->expires_ms, &rc);
	bind_int64(store, id, ":lifted_ms", ban->lifted_ms, &rc);
	bind_vm(store, id, &ban->vm, &rc);
	if ((error = statement_execute(store, id, rc)) == 0)
		ban->id = sqlite3_last_insert_rowid(store->db);
	return error;
}

int
store_record(struct store *store, struct offence *offence, struct ban *ban)
{
	int error;

	if (!record_valid(offence, ban)) {
		char text[SOURCE_STRLEN];

		log_warnx("%s: record %s: bad source, category or scope", store->path,
		          source_format(&offence->source, text, sizeof(text)));
		return -EINVAL;
	}
	if ((error = transaction_begin(store)) < 0)
		return error;
	error = offence_insert(store, offence);
	if (error == 0 && ban != NULL)
		error = ban_insert(store, offence->id, ban);
	error = transaction_end(store, error);
	if (error != 0) {
		offence->id = 0;
		if (ban != NULL)
			ban->id = 0;
	}
	return error;
}

static int
audit_insert(struct store *store, int64_t now_ms, uid_t uid, const char *action,
             const char *subject, const char *reason)
{
	enum statement_id id = STATEMENT_AUDIT_INSERT;
	int rc = SQLITE_OK;

	bind_int64(store, id, ":time_ms", now_ms, &rc);
	bind_int64(store, id, ":uid", uid, &rc);
	bind_text(store, id, ":action", action, SIZE_MAX, &rc);
	bind_text(store, id, ":subject", subject, SIZE_MAX, &rc);
	bind_text(store, id, ":reason", reason, SIZE_MAX, &rc);
	return statement_execute(store, id, rc);
}

static int
bad_key(struct store *store, const char *what, const struct source_key *key)
{
	char text[SOURCE_STRLEN];

	log_warnx("%s: %s %s: bad source", store->path, what,
	          source_format(key, text, sizeof(text)));
	return -EINVAL;
}

int
store_lift(struct store *store, const struct source_key *source, int64_t now_ms, uid_t uid,
           const char *reason, struct ban *lifted_bans, size_t max, size_t *lifted)
{
	char text[SOURCE_STRLEN];
	size_t count = 0;
	int rc = SQLITE_OK, error;

	if (lifted != NULL)
		*lifted = 0;
	if (!key_valid(source))
		return bad_key(store, "lift", source);
	if (lifted_bans == NULL)
		max = 0;
	if ((error = transaction_begin(store)) < 0)
		return error;
	bind_key(store, STATEMENT_SOURCE_ACTIVE, source, &rc);
	bind_int64(store, STATEMENT_SOURCE_ACTIVE, ":now", now_ms, &rc);
	error = bans_read(store, STATEMENT_SOURCE_ACTIVE, rc, lifted_bans, max, &count);
	if (error == 0 && count == 0)
		error = -ENOENT;
	if (error == 0) {
		rc = SQLITE_OK;
		bind_key(store, STATEMENT_LIFT, source, &rc);
		bind_int64(store, STATEMENT_LIFT, ":now", now_ms, &rc);
		bind_int64(store, STATEMENT_LIFT, ":uid", uid, &rc);
		bind_text(store, STATEMENT_LIFT, ":reason", reason, SIZE_MAX, &rc);
		error = statement_execute(store, STATEMENT_LIFT, rc);
	}
	if (error == 0)
		error = audit_insert(store, now_ms, uid, "unban",
		                     source_format(source, text, sizeof(text)), reason);
	error = transaction_end(store, error);
	if (error != 0)
		return error;
	for (size_t i = 0; i < count && i < max; i++)
		lifted_bans[i].lifted_ms = now_ms;
	if (lifted != NULL)
		*lifted = count;
	return 0;
}

int
store_history(struct store *store, const struct source_key *source, struct ban *out, size_t max,
              size_t *count)
{
	int rc = SQLITE_OK;

	*count = 0;
	if (!key_valid(source))
		return bad_key(store, "history of", source);
	bind_key(store, STATEMENT_HISTORY, source, &rc);
	bind_int64(store, STATEMENT_HISTORY, ":limit", max > INT64_MAX ? INT64_MAX : (int64_t)max,
	           &rc);
	return bans_read(store, STATEMENT_HISTORY, rc, out, max, count);
}

int
store_active_page(struct store *store, int64_t now_ms, struct store_cursor *cursor, struct ban *out,
                  size_t max, size_t *count)
{
	enum statement_id id = STATEMENT_ACTIVE_PAGE;
	int rc = SQLITE_OK, error;

	bind_int64(store, id, ":now", now_ms, &rc);
	bind_int64(store, id, ":after_expires", cursor->expires_ms, &rc);
	bind_int64(store, id, ":after_id", cursor->id, &rc);
	bind_int64(store, id, ":limit", max > INT64_MAX ? INT64_MAX : (int64_t)max, &rc);
	if ((error = bans_read(store, id, rc, out, max, count)) < 0)
		return error;
	if (*count > 0) {
		cursor->expires_ms = out[*count - 1].expires_ms;
		cursor->id = out[*count - 1].id;
	}
	return 0;
}

int
store_active_bans(struct store *store, int64_t now_ms, int (*fn)(const struct ban *ban, void *arg),
                  void *arg)
{
	struct ban page[STORE_ACTIVE_PAGE];
	struct store_cursor cursor = STORE_CURSOR_START;
	size_t count;

	/*
	 * A page at a time, the statement reset before fn runs: fn may then use
	 * the store, even lift the ban it was handed.
	 */
	do {
		int error =
		    store_active_page(store, now_ms, &cursor, page, STORE_ACTIVE_PAGE, &count);

		if (error < 0)
			return error;
		for (size_t i = 0; i < count; i++)
			if ((error = fn(&page[i], arg)) != 0)
				return error;
	} while (count == STORE_ACTIVE_PAGE);
	return 0;
}

int
store_count_active(struct store *store, int64_t now_ms, unsigned family, size_t *count)
{
	enum statement_id id = STATEMENT_ACTIVE_COUNT;
	int rc = SQLITE_OK, error = 0;

	bind_int64(store, id, ":family", family, &rc);
	bind_int64(store, id, ":now", now_ms, &rc);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(store->statements[id]);
	if (rc == SQLITE_ROW)
		*count = (size_t)sqlite3_column_int64(store->statements[id], 0);
	else
		error = statement_fail(store, id, rc);
	statement_reset(store, id);
	return error;
}

int
store_audit(struct store *store, int64_t now_ms, uid_t uid, const char *action, const char *subject,
            const char *reason)
{
	int error;

	if ((error = transaction_begin(store)) < 0)
		return error;
	return transaction_end(store, audit_insert(store, now_ms, uid, action, subject, reason));
}

void
store_health(const struct store *store, struct store_health *out)
{
	out->healthy = !store->failing;
	out->errors = store->errors;
	snprintf(out->last_error, sizeof(out->last_error), "%s", store->last_error);
}

/* Ends a statement that runs past its deadline: SQLite then fails it with SQLITE_INTERRUPT. */
static int
check_deadline_passed(void *arg)
{
	const struct timespec *deadline = arg;
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > deadline->tv_sec ||
	       (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}

int
store_check(struct store *store, int64_t timeout_ms)
{
	char sql[64];
	struct timespec deadline;
	sqlite3_stmt *check;
	unsigned problems = 0;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (timeout_ms % 1000) * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	snprintf(sql, sizeof(sql), "PRAGMA integrity_check(%d)", STORE_CHECK_PROBLEMS);
	if ((rc = sqlite3_prepare_v2(store->db, sql, -1, &check, NULL)) != SQLITE_OK)
		return store_fail(store, "integrity check", rc);
	sqlite3_progress_handler(store->db, STORE_CHECK_STEPS, check_deadline_passed, &deadline);
	while ((rc = sqlite3_step(check)) == SQLITE_ROW) {
		const char *row = (const char *)sqlite3_column_text(check, 0);

		if (row != NULL && strcmp(row, "ok") == 0)
			continue;
		problems++;
		log_warnx("%s: integrity check: %s", store->path, row != NULL ? row : "(null)");
	}
	sqlite3_progress_handler(store->db, 0, NULL, NULL);
	sqlite3_finalize(check);
	if (rc == SQLITE_INTERRUPT) {
		log_warnx("%s: integrity check not finished within %lld ms", store->path,
		          (long long)timeout_ms);
		return -ETIMEDOUT;
	}
	if (rc != SQLITE_DONE)
		return store_fail(store, "integrity check", rc);
	if (problems > 0) {
		store->failing = true;
		store->errors++;
		snprintf(store->last_error, sizeof(store->last_error),
		         "integrity check: the database is damaged");
		return -EBADMSG;
	}
	return 0;
}

/* One batch of one prune statement; adds the rows deleted to *deleted. */
static int
prune_batch(struct store *store, enum statement_id id, int64_t before_ms, unsigned batch,
            size_t *deleted)
{
	int rc = SQLITE_OK, error;

	bind_int64(store, id, ":before", before_ms, &rc);
	bind_int64(store, id, ":limit", batch, &rc);
	if ((error = statement_execute(store, id, rc)) == 0)
		*deleted += (size_t)sqlite3_changes(store->db);
	return error;
}

int
store_prune(struct store *store, int64_t before_ms, unsigned batch, size_t *deleted)
{
	int error;

	*deleted = 0;
	if ((error = transaction_begin(store)) < 0)
		return error;
	/* Bans first: an offence is kept while a ban refers to it. */
	error = prune_batch(store, STATEMENT_PRUNE_BANS, before_ms, batch, deleted);
	if (error == 0)
		error = prune_batch(store, STATEMENT_PRUNE_OFFENCES, before_ms, batch, deleted);
	if (error == 0)
		error = prune_batch(store, STATEMENT_PRUNE_AUDIT, before_ms, batch, deleted);
	if (error == 0)
		error = prune_batch(store, STATEMENT_PRUNE_TICKETS, before_ms, batch, deleted);
	if (error == 0)
		error = prune_batch(store, STATEMENT_PRUNE_OUTBOX, before_ms, batch, deleted);
	error = transaction_end(store, error);
	if (error != 0)
		*deleted = 0;
	return error;
}

int
store_vm_set(struct store *store, const struct store_vm *vm, int64_t now_ms, uid_t uid,
             const char *reason)
{
	char text[SOURCE_STRLEN];
	int rc = SQLITE_OK, error;

	if (vm->interface[0] == '\0' || vm->address_count == 0 ||
	    vm->address_count > STORE_VM_ADDRESSES_MAX) {
		log_warnx("%s: record VM: no interface, or no or too many addresses", store->path);
		return -EINVAL;
	}
	if ((error = transaction_begin(store)) < 0)
		return error;
	bind_text(store, STATEMENT_VM_UPSERT, ":interface", vm->interface, SIZE_MAX, &rc);
	bind_text(store, STATEMENT_VM_UPSERT, ":name", vm->name, SIZE_MAX, &rc);
	bind_text(store, STATEMENT_VM_UPSERT, ":customer", vm->customer, SIZE_MAX, &rc);
	bind_int64(store, STATEMENT_VM_UPSERT, ":now", now_ms, &rc);
	error = statement_execute(store, STATEMENT_VM_UPSERT, rc);
	if (error == 0) {
		rc = SQLITE_OK;
		bind_text(store, STATEMENT_VM_ADDRESSES_DELETE, ":interface", vm->interface,
		          SIZE_MAX, &rc);
		error = statement_execute(store, STATEMENT_VM_ADDRESSES_DELETE, rc);
	}
	for (unsigned i = 0; i < vm->address_count && error == 0; i++) {
		rc = SQLITE_OK;
		bind_text(store, STATEMENT_VM_ADDRESS_INSERT, ":interface", vm->interface, SIZE_MAX,
		          &rc);
		bind_text(store, STATEMENT_VM_ADDRESS_INSERT, ":address",
		          prefix_format(&vm->addresses[i], text, sizeof(text)), sizeof(text), &rc);
		error = statement_execute(store, STATEMENT_VM_ADDRESS_INSERT, rc);
	}
	if (error == 0)
		error = audit_insert(store, now_ms, uid, "vm set", vm->interface, reason);
	return transaction_end(store, error);
}

/* Copies a text column into a buffer; NULL or too long is a row this code did not write. */
static int
column_text(sqlite3_stmt *row, int column, char *buf, size_t size)
{
	const unsigned char *text = sqlite3_column_text(row, column);

	if (text == NULL || strlen((const char *)text) >= size)
		return -EIO;
	strcpy(buf, (const char *)text);
	return 0;
}

int
store_vms(struct store *store, int (*fn)(const struct store_vm *vm, void *arg), void *arg)
{
	sqlite3_stmt *row = store->statements[STATEMENT_VM_LIST];
	static struct prefix addresses[STORE_VM_ADDRESSES_MAX];
	struct store_vm vm = {.addresses = addresses};
	char interface[sizeof(vm.interface)], address[SOURCE_STRLEN];
	int rc = SQLITE_OK, error = 0;

	while ((rc = sqlite3_step(row)) == SQLITE_ROW) {
		if (column_text(row, 0, interface, sizeof(interface)) < 0) {
			error = -EIO;
			break;
		}
		if (strcmp(interface, vm.interface) != 0) {
			if (vm.interface[0] != '\0' && (error = fn(&vm, arg)) != 0)
				break;
			memset(&vm, 0, sizeof(vm));
			vm.addresses = addresses;
			strcpy(vm.interface, interface);
			if (column_text(row, 1, vm.name, sizeof(vm.name)) < 0 ||
			    column_text(row, 2, vm.customer, sizeof(vm.customer)) < 0) {
				error = -EIO;
				break;
			}
		}
		if (sqlite3_column_type(row, 3) == SQLITE_NULL)
			continue;
		if (column_text(row, 3, address, sizeof(address)) < 0 ||
		    vm.address_count == STORE_VM_ADDRESSES_MAX ||
		    prefix_parse(address, &addresses[vm.address_count]) < 0) {
			error = -EIO;
			break;
		}
		vm.address_count++;
	}
	if (error == -EIO)
		log_warnx("%s: %s: VM %s: malformed row", store->path,
		          statements[STATEMENT_VM_LIST].purpose, interface);
	else if (error == 0 && rc != SQLITE_DONE)
		error = statement_fail(store, STATEMENT_VM_LIST, rc);
	statement_reset(store, STATEMENT_VM_LIST);
	if (error == 0 && vm.interface[0] != '\0')
		error = fn(&vm, arg);
	return error;
}

/* Tickets. */

static void
bind_ticket(struct store *store, enum statement_id id, const struct ticket *ticket, int *rc)
{
	bind_vm(store, id, &ticket->vm, rc);
	bind_text(store, id, ":status", ticket_status_name(ticket->status), SIZE_MAX, rc);
	bind_text(store, id, ":customer_status", customer_status_name(ticket->customer_status),
	          SIZE_MAX, rc);
	bind_int64(store, id, ":opened_ms", ticket->opened_ms, rc);
	bind_int64(store, id, ":first_seen_ms", ticket->first_seen_ms, rc);
	bind_int64(store, id, ":last_seen_ms", ticket->last_seen_ms, rc);
	bind_int64(store, id, ":deadline_ms", ticket->deadline_ms, rc);
	bind_int64(store, id, ":notified_ms", ticket->notified_ms, rc);
	bind_int64(store, id, ":fixed_ms", ticket->fixed_ms, rc);
	bind_int64(store, id, ":changed_ms", ticket->changed_ms, rc);
	bind_int64(store, id, ":closed_ms", ticket->closed_ms, rc);
	bind_int64(store, id, ":event_count", (int64_t)ticket->event_count, rc);
	bind_int64(store, id, ":updates", ticket->updates, rc);
	bind_int64(store, id, ":warned", ticket->warned, rc);
	bind_int64(store, id, ":ban_id", ticket->ban.id, rc);
}

static int
ticket_insert(struct store *store, struct ticket *ticket)
{
	enum statement_id id = STATEMENT_TICKET_INSERT;
	int rc = SQLITE_OK, error;

	bind_text(store, id, ":customer", ticket->customer, sizeof(ticket->customer), &rc);
	bind_text(store, id, ":customer_name", ticket->customer_name, sizeof(ticket->customer_name),
	          &rc);
	bind_text(store, id, ":contact", ticket->contact, sizeof(ticket->contact), &rc);
	bind_text(store, id, ":route", route_kind_name(ticket->route), SIZE_MAX, &rc);
	bind_source(store, id, &ticket->source, &rc);
	bind_text(store, id, ":category", category_name(ticket->category), SIZE_MAX, &rc);
	bind_ticket(store, id, ticket, &rc);
	if ((error = statement_execute(store, id, rc)) == 0)
		ticket->id = sqlite3_last_insert_rowid(store->db);
	return error;
}

static int
ticket_update(struct store *store, const struct ticket *ticket)
{
	enum statement_id id = STATEMENT_TICKET_UPDATE;
	int rc = SQLITE_OK;

	bind_int64(store, id, ":id", ticket->id, &rc);
	bind_ticket(store, id, ticket, &rc);
	return statement_execute(store, id, rc);
}

static int
ticket_event_insert(struct store *store, const struct ticket *ticket,
                    const struct ticket_change *change)
{
	enum statement_id id = STATEMENT_TICKET_EVENT_INSERT;
	int rc = SQLITE_OK;

	bind_int64(store, id, ":ticket_id", ticket->id, &rc);
	bind_int64(store, id, ":time_ms", ticket->changed_ms, &rc);
	bind_text(store, id, ":kind", ticket_event_name(change->event), SIZE_MAX, &rc);
	bind_int64(store, id, ":offence_id", change->offence_id, &rc);
	bind_int64(store, id, ":ban_id", change->ban_id, &rc);
	bind_text(store, id, ":detail", change->detail, 256, &rc);
	return statement_execute(store, id, rc);
}

static int
ticket_message_insert(struct store *store, const struct ticket *ticket,
                      struct ticket_message *message)
{
	enum statement_id id = STATEMENT_TICKET_MESSAGE_INSERT;
	int rc = SQLITE_OK, error;

	bind_int64(store, id, ":ticket_id", ticket->id, &rc);
	bind_int64(store, id, ":time_ms", message->time_ms, &rc);
	bind_text(store, id, ":author", message->author, sizeof(message->author), &rc);
	bind_int64(store, id, ":uid", message->uid, &rc);
	bind_text(store, id, ":direction", message_direction_name(message->direction), SIZE_MAX,
	          &rc);
	bind_text(store, id, ":visibility", message_visibility_name(message->visibility), SIZE_MAX,
	          &rc);
	bind_text(store, id, ":template", message_template_name(message->template_kind), SIZE_MAX,
	          &rc);
	bind_text(store, id, ":text", message->text, sizeof(message->text), &rc);
	if ((error = statement_execute(store, id, rc)) == 0) {
		message->id = sqlite3_last_insert_rowid(store->db);
		message->ticket_id = ticket->id;
	}
	return error;
}

static int
ticket_change_insert(struct store *store, const struct ticket *ticket,
                     const struct ticket_change *change, const char *axis, const char *from,
                     const char *to)
{
	enum statement_id id = STATEMENT_TICKET_CHANGE_INSERT;
	int rc = SQLITE_OK;

	bind_int64(store, id, ":ticket_id", ticket->id, &rc);
	bind_int64(store, id, ":time_ms", ticket->changed_ms, &rc);
	bind_int64(store, id, ":uid", change->uid, &rc);
	bind_text(store, id, ":axis", axis, SIZE_MAX, &rc);
	bind_text(store, id, ":from_status", from, SIZE_MAX, &rc);
	bind_text(store, id, ":to_status", to, SIZE_MAX, &rc);
	bind_text(store, id, ":reason", change->reason, TICKET_TEXT_MAX, &rc);
	return statement_execute(store, id, rc);
}

/* The writes of store_ticket_save, inside the caller's transaction. */
static int
ticket_write(struct store *store, struct ticket *ticket, struct ticket_change *change)
{
	bool new_ticket = ticket->id == 0;
	char subject[32];
	int error;

	error = new_ticket ? ticket_insert(store, ticket) : ticket_update(store, ticket);
	if (error == 0)
		error = ticket_event_insert(store, ticket, change);
	/* A new ticket's "none" is no change: the open event says it all. */
	if (error == 0 && !new_ticket && change->from_status != ticket->status)
		error = ticket_change_insert(store, ticket, change, "desk",
		                             ticket_status_name(change->from_status),
		                             ticket_status_name(ticket->status));
	if (error == 0 && !new_ticket && change->from_customer != ticket->customer_status)
		error = ticket_change_insert(store, ticket, change, "customer",
		                             customer_status_name(change->from_customer),
		                             customer_status_name(ticket->customer_status));
	if (error == 0 && change->message != NULL)
		error =
		    ticket_message_insert(store, ticket, (struct ticket_message *)change->message);
	if (error == 0 && change->audit_action != NULL) {
		snprintf(subject, sizeof(subject), "ticket %lld", (long long)ticket->id);
		error = audit_insert(store, ticket->changed_ms, change->uid, change->audit_action,
		                     subject, change->reason);
	}
	return error;
}

int
store_ticket_save(struct store *store, struct ticket *ticket, struct ticket_change *change)
{
	int64_t id = ticket->id;
	int error;

	if (!key_valid(&ticket->source))
		return bad_key(store, "ticket for", &ticket->source);
	if ((error = transaction_begin(store)) < 0)
		return error;
	error = transaction_end(store, ticket_write(store, ticket, change));
	if (error != 0)
		ticket->id = id;
	return error;
}

/* Reads one row of TICKET_COLUMNS; a row this code could not have written is an error. */
static int
ticket_from_row(struct store *store, enum statement_id id, struct ticket *out)
{
	sqlite3_stmt *row = store->statements[id];
	const void *addr = sqlite3_column_blob(row, 7);
	int addr_size = sqlite3_column_bytes(row, 7);
	int64_t family = sqlite3_column_int64(row, 5), prefix_len = sqlite3_column_int64(row, 6);
	const char *route = (const char *)sqlite3_column_text(row, 4);
	const char *category = (const char *)sqlite3_column_text(row, 8);
	const char *status = (const char *)sqlite3_column_text(row, 12);
	const char *customer_status = (const char *)sqlite3_column_text(row, 13);

	memset(out, 0, sizeof(*out));
	out->id = sqlite3_column_int64(row, 0);
	out->source.family = (unsigned char)family;
	out->source.prefix_len = (unsigned char)prefix_len;
	if ((family != SOURCE_FAMILY_IPV4 && family != SOURCE_FAMILY_IPV6) ||
	    prefix_len != out->source.prefix_len || addr == NULL ||
	    (size_t)addr_size != key_address_size(out->source.family) || route == NULL ||
	    category == NULL || status == NULL || customer_status == NULL ||
	    route_kind_parse(route, &out->route) < 0 ||
	    category_parse(category, &out->category) < 0 ||
	    ticket_status_parse(status, &out->status) < 0 ||
	    customer_status_parse(customer_status, &out->customer_status) < 0 ||
	    column_text(row, 1, out->customer, sizeof(out->customer)) < 0) {
		log_warnx("%s: %s: ticket %lld: malformed row", store->path, statements[id].purpose,
		          (long long)out->id);
		return -EIO;
	}
	memcpy(out->source.addr, addr, (size_t)addr_size);
	column_label(row, 2, out->customer_name, sizeof(out->customer_name));
	column_label(row, 3, out->contact, sizeof(out->contact));
	column_label(row, 9, out->vm.interface, sizeof(out->vm.interface));
	column_label(row, 10, out->vm.mac, sizeof(out->vm.mac));
	column_label(row, 11, out->vm.name, sizeof(out->vm.name));
	out->opened_ms = sqlite3_column_int64(row, 14);
	out->first_seen_ms = sqlite3_column_int64(row, 15);
	out->last_seen_ms = sqlite3_column_int64(row, 16);
	out->deadline_ms = sqlite3_column_int64(row, 17);
	out->notified_ms = sqlite3_column_int64(row, 18);
	out->fixed_ms = sqlite3_column_int64(row, 19);
	out->changed_ms = sqlite3_column_int64(row, 20);
	out->closed_ms = sqlite3_column_int64(row, 21);
	out->event_count = (uint64_t)sqlite3_column_int64(row, 22);
	out->updates = (uint32_t)sqlite3_column_int64(row, 23);
	out->warned = sqlite3_column_int64(row, 24) != 0;
	if (sqlite3_column_type(row, TICKET_COLUMN_COUNT) == SQLITE_NULL)
		return 0;
	return ban_from_columns(store, id, TICKET_COLUMN_COUNT, &out->ban);
}

/* Steps a query of tickets like bans_read. */
static int
tickets_read(struct store *store, enum statement_id id, int rc, struct ticket *out, size_t max,
             size_t *count)
{
	int error = 0;

	*count = 0;
	if (rc == SQLITE_OK)
		while (*count < max && (rc = sqlite3_step(store->statements[id])) == SQLITE_ROW) {
			if ((error = ticket_from_row(store, id, &out[*count])) < 0)
				break;
			(*count)++;
		}
	if (error == 0 && *count < max && rc != SQLITE_DONE)
		error = statement_fail(store, id, rc);
	statement_reset(store, id);
	return error;
}

int
store_ticket_open_for(struct store *store, const char *customer, const struct source_key *source,
                      enum category category, struct ticket *out)
{
	enum statement_id id = STATEMENT_TICKET_OPEN_FOR;
	size_t count;
	int rc = SQLITE_OK, error;

	if (!key_valid(source))
		return bad_key(store, "ticket of", source);
	bind_key(store, id, source, &rc);
	bind_text(store, id, ":category", category_name(category), SIZE_MAX, &rc);
	bind_text(store, id, ":customer", customer, SIZE_MAX, &rc);
	if ((error = tickets_read(store, id, rc, out, 1, &count)) < 0)
		return error;
	return count == 1 ? 0 : -ENOENT;
}

int
store_ticket_get(struct store *store, int64_t ticket_id, struct ticket *out)
{
	enum statement_id id = STATEMENT_TICKET_GET;
	size_t count;
	int rc = SQLITE_OK, error;

	bind_int64(store, id, ":id", ticket_id, &rc);
	if ((error = tickets_read(store, id, rc, out, 1, &count)) < 0)
		return error;
	return count == 1 ? 0 : -ENOENT;
}

int
store_tickets(struct store *store, const struct ticket_filter *filter, struct ticket *out,
              size_t max, size_t *count)
{
	enum statement_id id = STATEMENT_TICKET_LIST;
	int rc = SQLITE_OK;

	*count = 0;
	if (filter->source != NULL && !key_valid(filter->source))
		return bad_key(store, "tickets of", filter->source);
	bind_int64(store, id, ":after_id", filter->after_id, &rc);
	if (filter->status >= 0)
		bind_text(store, id, ":status",
		          ticket_status_name((enum ticket_status)filter->status), SIZE_MAX, &rc);
	bind_int64(store, id, ":unfinished", filter->unfinished, &rc);
	if (filter->customer != NULL)
		bind_text(store, id, ":customer", filter->customer, SIZE_MAX, &rc);
	if (filter->source != NULL)
		bind_key(store, id, filter->source, &rc);
	bind_int64(store, id, ":limit", max > INT64_MAX ? INT64_MAX : (int64_t)max, &rc);
	return tickets_read(store, id, rc, out, max, count);
}

/* A text column as a C string; NULL for SQL NULL (every parser refuses NULL). */
static const char *
column_string(sqlite3_stmt *row, int column)
{
	return (const char *)sqlite3_column_text(row, column);
}

int
store_ticket_status_counts(struct store *store, uint64_t counts[TICKET_STATUS_COUNT])
{
	enum statement_id id = STATEMENT_TICKET_STATUS_COUNTS;
	sqlite3_stmt *row = store->statements[id];
	int rc, error = 0;

	memset(counts, 0, sizeof(counts[0]) * TICKET_STATUS_COUNT);
	while ((rc = sqlite3_step(row)) == SQLITE_ROW) {
		const char *name = column_string(row, 0);
		enum ticket_status status;

		if (name != NULL && ticket_status_parse(name, &status) == 0)
			counts[status] = (uint64_t)sqlite3_column_int64(row, 1);
	}
	if (rc != SQLITE_DONE)
		error = statement_fail(store, id, rc);
	statement_reset(store, id);
	return error;
}

/* Walks a statement bound to :id, calling read_row for each row; rows go to fn. */
static int
ticket_rows(struct store *store, enum statement_id id, int64_t ticket_id,
            int (*read_row)(sqlite3_stmt *row, void *fn, void *arg), void *fn, void *arg)
{
	int rc = SQLITE_OK, error = 0;

	bind_int64(store, id, ":id", ticket_id, &rc);
	if (rc == SQLITE_OK)
		while ((rc = sqlite3_step(store->statements[id])) == SQLITE_ROW)
			if ((error = read_row(store->statements[id], fn, arg)) != 0)
				break;
	if (error == -EIO)
		log_warnx("%s: %s: ticket %lld: malformed row", store->path, statements[id].purpose,
		          (long long)ticket_id);
	else if (error == 0 && rc != SQLITE_DONE)
		error = statement_fail(store, id, rc);
	statement_reset(store, id);
	return error;
}

static int
message_row(sqlite3_stmt *row, void *fn, void *arg)
{
	int (*call)(const struct ticket_message *, void *) = fn;
	struct ticket_message message;

	memset(&message, 0, sizeof(message));
	message.id = sqlite3_column_int64(row, 0);
	if (sqlite3_column_count(row) > 8) /* across tickets: the row names its own */
		message.ticket_id = sqlite3_column_int64(row, 8);
	message.time_ms = sqlite3_column_int64(row, 1);
	message.uid = (uid_t)sqlite3_column_int64(row, 3);
	if (column_text(row, 2, message.author, sizeof(message.author)) < 0 ||
	    message_direction_parse(column_string(row, 4), &message.direction) < 0 ||
	    message_visibility_parse(column_string(row, 5), &message.visibility) < 0 ||
	    message_template_parse(column_string(row, 6), &message.template_kind) < 0 ||
	    column_text(row, 7, message.text, sizeof(message.text)) < 0)
		return -EIO;
	return call(&message, arg);
}

static int
event_row(sqlite3_stmt *row, void *fn, void *arg)
{
	int (*call)(const struct ticket_event_row *, void *) = fn;
	struct ticket_event_row event;

	memset(&event, 0, sizeof(event));
	event.id = sqlite3_column_int64(row, 0);
	event.time_ms = sqlite3_column_int64(row, 1);
	event.offence_id = sqlite3_column_int64(row, 3);
	event.ban_id = sqlite3_column_int64(row, 4);
	if (ticket_event_parse(column_string(row, 2), &event.kind) < 0 ||
	    column_text(row, 5, event.detail, sizeof(event.detail)) < 0)
		return -EIO;
	return call(&event, arg);
}

static int
change_row(sqlite3_stmt *row, void *fn, void *arg)
{
	int (*call)(const struct ticket_change_row *, void *) = fn;
	struct ticket_change_row change;

	memset(&change, 0, sizeof(change));
	change.time_ms = sqlite3_column_int64(row, 0);
	change.uid = (uid_t)sqlite3_column_int64(row, 1);
	if (column_text(row, 2, change.axis, sizeof(change.axis)) < 0 ||
	    column_text(row, 3, change.from, sizeof(change.from)) < 0 ||
	    column_text(row, 4, change.to, sizeof(change.to)) < 0 ||
	    column_text(row, 5, change.reason, sizeof(change.reason)) < 0)
		return -EIO;
	return call(&change, arg);
}

int
store_ticket_messages(struct store *store, int64_t id,
                      int (*fn)(const struct ticket_message *message, void *arg), void *arg)
{
	return ticket_rows(store, STATEMENT_TICKET_MESSAGES, id, message_row, (void *)fn, arg);
}

int
store_ticket_messages_unqueued(struct store *store, size_t max,
                               int (*fn)(const struct ticket_message *message, void *arg),
                               void *arg)
{
	enum statement_id id = STATEMENT_TICKET_MESSAGES_UNQUEUED;
	int rc = SQLITE_OK, error = 0;

	bind_int64(store, id, ":limit", max > INT64_MAX ? INT64_MAX : (int64_t)max, &rc);
	if (rc == SQLITE_OK)
		while ((rc = sqlite3_step(store->statements[id])) == SQLITE_ROW)
			if ((error = message_row(store->statements[id], (void *)fn, arg)) != 0)
				break;
	if (error == -EIO)
		log_warnx("%s: %s: malformed row", store->path, statements[id].purpose);
	else if (error == 0 && rc != SQLITE_DONE)
		error = statement_fail(store, id, rc);
	statement_reset(store, id);
	return error;
}

int
store_ticket_events(struct store *store, int64_t id,
                    int (*fn)(const struct ticket_event_row *row, void *arg), void *arg)
{
	return ticket_rows(store, STATEMENT_TICKET_EVENTS, id, event_row, (void *)fn, arg);
}

int
store_ticket_changes(struct store *store, int64_t id,
                     int (*fn)(const struct ticket_change_row *row, void *arg), void *arg)
{
	return ticket_rows(store, STATEMENT_TICKET_CHANGES, id, change_row, (void *)fn, arg);
}

int
store_ticket_bans(struct store *store, int64_t id, struct ban *out, size_t max, size_t *count)
{
	int rc = SQLITE_OK, error;

	bind_int64(store, STATEMENT_TICKET_BANS, ":id", id, &rc);
	bind_int64(store, STATEMENT_TICKET_BANS, ":limit",
	           max > INT64_MAX ? INT64_MAX : (int64_t)max, &rc);
	error = bans_read(store, STATEMENT_TICKET_BANS, rc, out, max, count);
	if (*count > max)
		*count = max;
	return error;
}

int
store_ticket_false_positive(struct store *store, struct ticket *ticket,
                            struct ticket_change *change, int64_t now_ms, struct ban *lifted,
                            size_t max, size_t *count)
{
	int rc = SQLITE_OK, error;

	*count = 0;
	if ((error = transaction_begin(store)) < 0)
		return error;
	bind_int64(store, STATEMENT_TICKET_ACTIVE_BANS, ":id", ticket->id, &rc);
	bind_int64(store, STATEMENT_TICKET_ACTIVE_BANS, ":now", now_ms, &rc);
	error = bans_read(store, STATEMENT_TICKET_ACTIVE_BANS, rc, lifted, max, count);
	if (error == 0) {
		rc = SQLITE_OK;
		bind_int64(store, STATEMENT_TICKET_LIFT_BANS, ":id", ticket->id, &rc);
		bind_int64(store, STATEMENT_TICKET_LIFT_BANS, ":now", now_ms, &rc);
		bind_int64(store, STATEMENT_TICKET_LIFT_BANS, ":uid", change->uid, &rc);
		bind_text(store, STATEMENT_TICKET_LIFT_BANS, ":reason", change->reason, SIZE_MAX,
		          &rc);
		error = statement_execute(store, STATEMENT_TICKET_LIFT_BANS, rc);
	}
	if (error == 0) {
		rc = SQLITE_OK;
		bind_int64(store, STATEMENT_TICKET_OFFENCES_FALSE, ":id", ticket->id, &rc);
		error = statement_execute(store, STATEMENT_TICKET_OFFENCES_FALSE, rc);
	}
	if (error == 0)
		error = ticket_write(store, ticket, change);
	error = transaction_end(store, error);
	if (error != 0) {
		*count = 0;
		return error;
	}
	if (*count > max)
		*count = max;
	for (size_t i = 0; i < *count; i++)
		lifted[i].lifted_ms = now_ms;
	return 0;
}

/* One row of STATEMENT_OUTBOX_DUE; the payload is copied into a new buffer. */
static int
delivery_from_row(struct store *store, struct store_delivery *out)
{
	sqlite3_stmt *row = store->statements[STATEMENT_OUTBOX_DUE];
	const void *payload = sqlite3_column_blob(row, 6);
	int payload_size = sqlite3_column_bytes(row, 6);

	memset(out, 0, sizeof(*out));
	out->id = sqlite3_column_int64(row, 0);
	column_label(row, 1, out->backend, sizeof(out->backend));
	out->ticket_id = sqlite3_column_int64(row, 2);
	out->event_id = sqlite3_column_int64(row, 3);
	column_label(row, 4, out->kind, sizeof(out->kind));
	column_label(row, 5, out->message_id, sizeof(out->message_id));
	out->created_ms = sqlite3_column_int64(row, 7);
	out->attempts = (unsigned)sqlite3_column_int64(row, 8);
	out->next_ms = sqlite3_column_int64(row, 9);
	out->payload_length = payload_size > 0 ? (size_t)payload_size : 0;
	if ((out->payload = malloc(out->payload_length + 1)) == NULL) {
		log_warnx("%s: delivery %lld: out of memory", store->path, (long long)out->id);
		return -ENOMEM;
	}
	if (out->payload_length > 0)
		memcpy(out->payload, payload, out->payload_length);
	((char *)out->payload)[out->payload_length] = '\0';
	return 0;
}

int
store_outbox_add(struct store *store, int64_t ticket_id, int64_t event_id,
                 const struct store_delivery *deliveries, size_t count, size_t *added)
{
	enum statement_id id = STATEMENT_OUTBOX_INSERT;
	int rc = SQLITE_OK, error;

	*added = 0;
	if ((error = transaction_begin(store)) < 0)
		return error;
	bind_int64(store, STATEMENT_TICKET_MESSAGE_QUEUED, ":event_id", event_id, &rc);
	bind_int64(store, STATEMENT_TICKET_MESSAGE_QUEUED, ":ticket_id", ticket_id, &rc);
	error = statement_execute(store, STATEMENT_TICKET_MESSAGE_QUEUED, rc);
	for (size_t i = 0; i < count && error == 0; i++) {
		const struct store_delivery *delivery = &deliveries[i];
		int rc = SQLITE_OK;
		sqlite3_int64 before = sqlite3_total_changes64(store->db);

		if (delivery->payload_length > INT_MAX) {
			error = store_fail(store, statements[id].purpose, SQLITE_TOOBIG);
			break;
		}
		bind_text(store, id, ":backend", delivery->backend, sizeof(delivery->backend), &rc);
		bind_int64(store, id, ":ticket_id", delivery->ticket_id, &rc);
		bind_int64(store, id, ":event_id", delivery->event_id, &rc);
		bind_text(store, id, ":kind", delivery->kind, sizeof(delivery->kind), &rc);
		bind_text(store, id, ":message_id", delivery->message_id,
		          sizeof(delivery->message_id), &rc);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_blob(
			    store->statements[id],
			    sqlite3_bind_parameter_index(store->statements[id], ":payload"),
			    delivery->payload, (int)delivery->payload_length, SQLITE_TRANSIENT);
		bind_int64(store, id, ":created_ms", delivery->created_ms, &rc);
		bind_int64(store, id, ":next_ms", delivery->next_ms, &rc);
		if ((error = statement_execute(store, id, rc)) == 0 &&
		    sqlite3_total_changes64(store->db) > before)
			(*added)++;
	}
	return transaction_end(store, error);
}

int
store_outbox_due(struct store *store, int64_t now_ms, struct store_delivery *out, size_t max,
                 size_t *count)
{
	enum statement_id id = STATEMENT_OUTBOX_DUE;
	int rc = SQLITE_OK, error = 0;

	*count = 0;
	bind_int64(store, id, ":now", now_ms, &rc);
	bind_int64(store, id, ":limit", (int64_t)max, &rc);
	if (rc == SQLITE_OK)
		while (*count < max && (rc = sqlite3_step(store->statements[id])) == SQLITE_ROW) {
			if ((error = delivery_from_row(store, &out[*count])) < 0)
				break;
			(*count)++;
		}
	if (error == 0 && rc != SQLITE_DONE && rc != SQLITE_ROW)
		error = statement_fail(store, id, rc);
	statement_reset(store, id);
	if (error < 0) {
		for (size_t i = 0; i < *count; i++)
			free(out[i].payload);
		*count = 0;
	}
	return error;
}

/* Runs one of the outbox's single-row updates in its own transaction. */
static int
outbox_update(struct store *store, enum statement_id id, int64_t delivery_id, int64_t now_ms,
              int64_t next_ms, const char *error_text)
{
	int rc = SQLITE_OK;

	if (delivery_id != 0)
		bind_int64(store, id, ":id", delivery_id, &rc);
	if (sqlite3_bind_parameter_index(store->statements[id], ":now") != 0)
		bind_int64(store, id, ":now", now_ms, &rc);
	if (sqlite3_bind_parameter_index(store->statements[id], ":next_ms") != 0)
		bind_int64(store, id, ":next_ms", next_ms, &rc);
	if (error_text != NULL)
		bind_text(store, id, ":error", error_text, STORE_ERROR_MAX, &rc);
	return statement_execute(store, id, rc);
}

int
store_outbox_attempt(struct store *store, int64_t id, int64_t now_ms)
{
	return outbox_update(store, STATEMENT_OUTBOX_ATTEMPT, id, now_ms, 0, NULL);
}

int
store_outbox_sent(struct store *store, int64_t id, int64_t now_ms)
{
	return outbox_update(store, STATEMENT_OUTBOX_SENT, id, now_ms, 0, NULL);
}

int
store_outbox_retry(struct store *store, int64_t id, int64_t next_ms, const char *error)
{
	return outbox_update(store, STATEMENT_OUTBOX_RETRY, id, 0, next_ms, error);
}

int
store_outbox_fail(struct store *store, int64_t id, int64_t now_ms, const char *error)
{
	return outbox_update(store, STATEMENT_OUTBOX_FAIL, id, now_ms, 0, error);
}

static int statement_walk(struct store *store, enum statement_id id, int rc,
                          int (*row)(sqlite3_stmt *statement, void *arg), void *arg);

struct delivery_walk {
	int (*fn)(const struct store_delivery_row *row, void *arg);
	void *arg;
};

static int
delivery_row(sqlite3_stmt *statement, void *arg)
{
	struct delivery_walk *walk = arg;
	struct store_delivery_row row;

	memset(&row, 0, sizeof(row));
	row.id = sqlite3_column_int64(statement, 0);
	column_label(statement, 1, row.backend, sizeof(row.backend));
	row.ticket_id = sqlite3_column_int64(statement, 2);
	row.event_id = sqlite3_column_int64(statement, 3);
	column_label(statement, 4, row.kind, sizeof(row.kind));
	column_label(statement, 5, row.message_id, sizeof(row.message_id));
	row.created_ms = sqlite3_column_int64(statement, 6);
	row.attempts = (unsigned)sqlite3_column_int64(statement, 7);
	row.next_ms = sqlite3_column_int64(statement, 8);
	row.started_ms = sqlite3_column_int64(statement, 9);
	row.sent_ms = sqlite3_column_int64(statement, 10);
	row.failed_ms = sqlite3_column_int64(statement, 11);
	column_label(statement, 12, row.last_error, sizeof(row.last_error));
	return walk->fn(&row, walk->arg);
}

int
store_outbox_list(struct store *store, int64_t ticket_id, size_t max,
                  int (*fn)(const struct store_delivery_row *row, void *arg), void *arg)
{
	struct delivery_walk walk = {fn, arg};
	int rc = SQLITE_OK;

	bind_int64(store, STATEMENT_OUTBOX_LIST, ":ticket_id", ticket_id, &rc);
	bind_int64(store, STATEMENT_OUTBOX_LIST, ":limit",
	           max > INT64_MAX ? INT64_MAX : (int64_t)max, &rc);
	return statement_walk(store, STATEMENT_OUTBOX_LIST, rc, delivery_row, &walk);
}

int
store_outbox_recover(struct store *store, int64_t now_ms, size_t *in_doubt)
{
	sqlite3_int64 before = sqlite3_total_changes64(store->db);
	int error = outbox_update(store, STATEMENT_OUTBOX_RECOVER, 0, now_ms, 0, NULL);

	*in_doubt = error == 0 ? (size_t)(sqlite3_total_changes64(store->db) - before) : 0;
	return error;
}

int
store_outbox_depth(struct store *store, size_t *waiting, size_t *retrying, size_t *failed)
{
	enum statement_id id = STATEMENT_OUTBOX_DEPTH;
	sqlite3_stmt *row = store->statements[id];
	int rc = sqlite3_step(row), error = 0;

	if (rc == SQLITE_ROW) {
		*waiting = (size_t)sqlite3_column_int64(row, 0);
		*retrying = (size_t)sqlite3_column_int64(row, 1);
		*failed = (size_t)sqlite3_column_int64(row, 2);
	} else
		error = statement_fail(store, id, rc);
	statement_reset(store, id);
	return error;
}

/*
 * Steps a query, handing each row to row (which reads its columns and may
 * stop the walk with a non-zero return, passed back). rc is the binding's
 * outcome: one that failed skips the walk. Resets the statement.
 */
static int
statement_walk(struct store *store, enum statement_id id, int rc,
               int (*row)(sqlite3_stmt *statement, void *arg), void *arg)
{
	sqlite3_stmt *statement = store->statements[id];
	int error = 0;

	if (rc == SQLITE_OK)
		while ((rc = sqlite3_step(statement)) == SQLITE_ROW)
			if ((error = row(statement, arg)) != 0)
				break;
	if (error == 0 && rc != SQLITE_DONE)
		error = statement_fail(store, id, rc);
	statement_reset(store, id);
	return error;
}

int
store_allow_set(struct store *store, const struct prefix *prefix, int64_t until_ms, int64_t now_ms,
                uid_t uid, const char *reason)
{
	enum statement_id id = STATEMENT_ALLOW_UPSERT;
	char text[SOURCE_STRLEN];
	int rc = SQLITE_OK, error;

	prefix_format(prefix, text, sizeof(text));
	if ((error = transaction_begin(store)) < 0)
		return error;
	bind_text(store, id, ":prefix", text, sizeof(text), &rc);
	bind_int64(store, id, ":until", until_ms, &rc);
	bind_int64(store, id, ":uid", uid, &rc);
	bind_text(store, id, ":reason", reason, SIZE_MAX, &rc);
	bind_int64(store, id, ":now", now_ms, &rc);
	error = statement_execute(store, id, rc);
	if (error == 0)
		error = audit_insert(store, now_ms, uid, "allow", text, reason);
	return transaction_end(store, error);
}

int
store_allow_remove(struct store *store, const struct prefix *prefix, int64_t now_ms, uid_t uid,
                   const char *reason)
{
	enum statement_id id = STATEMENT_ALLOW_DELETE;
	char text[SOURCE_STRLEN];
	int rc = SQLITE_OK, error;

	prefix_format(prefix, text, sizeof(text));
	if ((error = transaction_begin(store)) < 0)
		return error;
	bind_text(store, id, ":prefix", text, sizeof(text), &rc);
	error = statement_execute(store, id, rc);
	if (error == 0 && sqlite3_changes(store->db) == 0)
		error = -ENOENT;
	if (error == 0)
		error = audit_insert(store, now_ms, uid, "disallow", text, reason);
	return transaction_end(store, error);
}

struct allow_walk {
	struct store *store;
	int (*fn)(const struct store_allow *entry, void *arg);
	void *arg;
};

static int
allow_row(sqlite3_stmt *row, void *arg)
{
	struct allow_walk *walk = arg;
	struct store_allow entry;
	char text[SOURCE_STRLEN];

	memset(&entry, 0, sizeof(entry));
	if (column_text(row, 0, text, sizeof(text)) < 0 || prefix_parse(text, &entry.prefix) < 0 ||
	    column_text(row, 3, entry.reason, sizeof(entry.reason)) < 0) {
		log_warnx("%s: %s: malformed row", walk->store->path,
		          statements[STATEMENT_ALLOW_LIST].purpose);
		return -EIO;
	}
	entry.until_ms = sqlite3_column_int64(row, 1);
	entry.uid = (uid_t)sqlite3_column_int64(row, 2);
	entry.created_ms = sqlite3_column_int64(row, 4);
	return walk->fn(&entry, walk->arg);
}

int
store_allowlist(struct store *store, int64_t now_ms,
                int (*fn)(const struct store_allow *entry, void *arg), void *arg)
{
	struct allow_walk walk = {store, fn, arg};
	int rc = SQLITE_OK;

	bind_int64(store, STATEMENT_ALLOW_LIST, ":now", now_ms, &rc);
	return statement_walk(store, STATEMENT_ALLOW_LIST, rc, allow_row, &walk);
}

/* A text column for people, NULL as "", cut to the buffer. */
static const char *
column_or_empty(sqlite3_stmt *row, int column)
{
	const unsigned char *text = sqlite3_column_text(row, column);

	return text != NULL ? (const char *)text : "";
}

struct audit_walk {
	int (*fn)(const struct store_audit_row *row, void *arg);
	void *arg;
	int64_t *after_id;
	size_t *count;
};

static int
audit_row(sqlite3_stmt *row, void *arg)
{
	struct audit_walk *walk = arg;
	struct store_audit_row entry = {
	    .id = sqlite3_column_int64(row, 0),
	    .time_ms = sqlite3_column_int64(row, 1),
	    .uid = sqlite3_column_int64(row, 2),
	    .action = column_or_empty(row, 3),
	    .subject = column_or_empty(row, 4),
	    .reason = column_or_empty(row, 5),
	};

	*walk->after_id = entry.id;
	(*walk->count)++;
	return walk->fn(&entry, walk->arg);
}

int
store_audit_page(struct store *store, int64_t since_ms, int64_t *after_id, size_t max,
                 int (*fn)(const struct store_audit_row *row, void *arg), void *arg, size_t *count)
{
	enum statement_id id = STATEMENT_AUDIT_PAGE;
	struct audit_walk walk = {fn, arg, after_id, count};
	int rc = SQLITE_OK;

	*count = 0;
	bind_int64(store, id, ":since", since_ms, &rc);
	bind_int64(store, id, ":after", *after_id, &rc);
	bind_int64(store, id, ":limit", max > INT64_MAX ? INT64_MAX : (int64_t)max, &rc);
	return statement_walk(store, id, rc, audit_row, &walk);
}

struct event_walk {
	int (*fn)(const struct store_event *event, void *arg);
	void *arg;
};

static int
source_event_row(sqlite3_stmt *row, void *arg)
{
	struct event_walk *walk = arg;
	struct store_event event = {
	    .time_ms = sqlite3_column_int64(row, 0),
	    .kind = column_or_empty(row, 1),
	    .category = column_or_empty(row, 2),
	    .scope = column_or_empty(row, 3),
	    .level = (unsigned)sqlite3_column_int64(row, 4),
	    .duration_ms = sqlite3_column_int64(row, 5),
	    .detail = column_or_empty(row, 6),
	    .uid = sqlite3_column_int64(row, 7),
	    .reason = column_or_empty(row, 8),
	    .false_positive = sqlite3_column_int64(row, 9) != 0,
	};

	return walk->fn(&event, walk->arg);
}

int
store_source_events(struct store *store, const struct source_key *source, size_t max,
                    int (*fn)(const struct store_event *event, void *arg), void *arg)
{
	enum statement_id id = STATEMENT_SOURCE_EVENTS;
	struct event_walk walk = {fn, arg};
	int rc = SQLITE_OK;

	if (!key_valid(source))
		return bad_key(store, "history of", source);
	bind_source(store, id, source, &rc);
	bind_int64(store, id, ":limit", max > INT64_MAX ? INT64_MAX : (int64_t)max, &rc);
	return statement_walk(store, id, rc, source_event_row, &walk);
}
