/*
 * The running daemon's state, as bgpd.h holds bgpd's: one struct the main
 * program owns and the command handlers read. Only abuseguardd.c and the
 * modules that serve it (commands.c) include this.
 */
#ifndef DAEMON_H
#define DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "allowlist.h"
#include "attribution.h"
#include "capture.h"
#include "clock.h"
#include "config.h"
#include "control.h"
#include "crawl.h"
#include "engine.h"
#include "loop.h"
#include "metrics.h"
#include "nft.h"
#include "notify.h"
#include "ticket_notify.h"
#include "store.h"
#include "wire.h"

#define ABUSEGUARD_VERSION "0.1"
/* Events abusectl events shows before it follows. */
#define DAEMON_RECENT_EVENTS 64

struct daemon {
	struct config config;
	struct clock clock;
	struct loop loop;
	struct store *store;
	struct nft *nft;
	struct engine engine;
	struct tickets tickets;
	struct capture *capture;
	struct wire *wire;   /* libpcap: HTTP and SMTP of the VMs, the evidence rings */
	struct crawl *crawl; /* robots.txt judged per site */
	struct control *control;
	struct attribution attribution;
	struct loop_watch signal_watch;
	struct loop_watch timer_watch; /* every second: scan sweep; every few: nft check */
	uint64_t ticks;
	struct nft_options nft_options;
	struct notify notify;
	struct outbox *outbox;              /* notices waiting for delivery */
	struct evidence evidence;           /* per ticket, under the state dir */
	struct ticket_notify ticket_notify; /* the tickets' sink: events into the outbox */
	struct smtp_transcript
	    *smtp_transcript; /* the VMs' SMTP lines, until a ticket takes them */
	/* The command line's settings, put over every policy read, at start and on reload. */
	struct {
		char **interfaces;
		unsigned interface_count;
		const char *state_dir, *socket_path;
	} overrides;
	/* Decisions since start, for the metrics: by category and action, bans by scope. */
	uint64_t decisions[CATEGORY_COUNT][ACTION_COUNT];
	uint64_t bans[CATEGORY_COUNT][SCOPE_COUNT];
	struct loop_watch metrics_watch;
	int64_t metrics_interval_ms; /* the timer's period now */
	uint64_t metrics_write_errors;
	uint32_t event_ifindex; /* the interface of the event being handled, 0 between events */
	bool metrics_failing;   /* said once, until a write works again */
	uint64_t nft_restores, reloads, reload_failures;
	/* Sets, chains, rules and allow sets found changed by others and rewritten. */
	uint64_t ruleset_repairs;
	/* Ruleset checks skipped: the generation had not moved (NFT_FULL_CHECK_INTERVAL_S). */
	uint64_t nft_checks_skipped;
	uint64_t store_pruned;          /* history rows past the retention, deleted */
	uint64_t tiny_fragments_logged; /* the XDP counter when last logged */
	uint64_t scan_no_upstream_seen; /* the XDP counter at the last check */
	bool upstream_outage;           /* said in the log; said again when it ends */
	int64_t started_ms;
	/* The operators' allowlist, loaded from the store at start. */
	struct allowlist allowlist;
	/* Set by abusectl mode: kept over reloads until restart; -1 while the policy's holds. */
	int64_t mode_uid;
	/* Re-reads the policy (abuseguardd.c): 0, or -errno with "file:line: message". */
	int (*reload)(struct daemon *daemon, char *message, size_t len);
	/* The latest events, for abusectl events before it follows: a ring, oldest first. */
	json_t *recent_events[DAEMON_RECENT_EVENTS];
	unsigned recent_next, recent_count;
};
/* Everything the status counts, in Prometheus' text format (metrics.file and `abusectl metrics`).
 */
void daemon_metrics(struct daemon *daemon, struct metrics *metrics);
/*
 * Something an operator or the SOC watches for: "finding", "ban", "lift",
 * "allow", a ticket's change... Adds "event" and "time" to fields (taking
 * the reference), keeps it among the recent ones and sends it to every
 * abusectl events --follow.
 */
void daemon_event(struct daemon *daemon, const char *event, json_t *fields);
/* Releases what the commands hold (the recent events). */
void daemon_commands_close(struct daemon *daemon);

#endif
