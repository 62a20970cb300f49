/*
 * abuseguardd: watches what virtual machines send, bans abusive sources in
 * nftables on an escalation ladder, and answers on a control socket.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <net/if.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <syslog.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "attribution.h"
#include "capture.h"
#include "clock.h"
#include "commands.h"
#include "config.h"
#include "control.h"
#include "crawl.h"
#include "daemon.h"
#include "engine.h"
#include "hostaddr.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "nft.h"
#include "notify.h"
#include "outbox.h"
#include "ticket_notify.h"
#include "privilege.h"
#include "reload.h"
#include "replay.h"
#include "source.h"
#include "store.h"
#include "vm.h"
#include "wire.h"

/* How often the daemon checks that its nftables table is still there. */
#define NFT_CHECK_INTERVAL_S 5
/* The full check of the table and the ban sets runs at least this often (s). */
#define NFT_FULL_CHECK_INTERVAL_S 60
/* How often tickets' deadlines, updates and auto-close are looked at. */
#define TICKETS_TICK_INTERVAL_S 60
/* Room for "file:line: message", or the list of settings a reload kept. */
#define RELOAD_MESSAGE_MAX (PATH_MAX + 1024)
/* The STATUS= line systemctl status shows. */
#define STATUS_LINE_MAX (PATH_MAX + 128)

static void apply_overrides(struct config *config, char **interfaces, unsigned interface_count,
                            const char *state_dir, const char *socket_path);
static int metrics_timer_arm(struct daemon *daemon);
/* Rows of each table the timer prunes at a time: no tick holds the store long. */
#define STORE_PRUNE_BATCH 500
/* The store failed its integrity check at start. */
#define EXIT_STORE_DAMAGED 65 /* EX_DATAERR */

static void __attribute__((noreturn)) usage(int status)
{
	fprintf(status ? stderr : stdout,
	        "usage: abuseguardd [-tv] [-c file] [-i interface]... [--state-dir dir]\n"
	        "                   [--socket path]\n"
	        "       abuseguardd [-v] [-c file] [-i interface]...\n"
	        "                   [--replay-interface [index=]interface]...\n"
	        "                   [--replay-batch frames] --replay file [--replay file]...\n");
	exit(status);
}

/*
 * The SMTP lines and HTTP requests libpcap holds are older than the BPF
 * event that woke us: followed first, the ticket a ban files has them.
 */
static void
on_before_events(void *arg)
{
	struct daemon *daemon = arg;

	if (daemon->wire != NULL)
		wire_drain(daemon->wire);
}

static void
on_abuse_event(void *arg, const struct abuse_event *event)
{
	struct daemon *daemon = arg;
	struct abuse_event attributed;

	if (attribution_event(&daemon->attribution, event, &attributed, &event) < 0)
		return;
	/* Errors are logged where they happen; the loop goes on. */
	daemon->event_ifindex = event->ifindex; /* for the decision's INTERFACE= field */
	/* Its ticket's notice carries what this event counted and where it went. */
	daemon->ticket_notify.current_event = event;
	daemon->ticket_notify.current_time_ms =
	    clock_from_program_ns(&daemon->clock, event->time_ns);
	daemon->ticket_notify.current_window_ms =
	    clock_from_program_ns(&daemon->clock, event->window_start_ns);
	engine_handle_event(&daemon->engine, event);
	daemon->ticket_notify.current_event = NULL;
	daemon->event_ifindex = 0;
}

static void
on_learn_frame(void *arg, struct capture *capture, int ifindex, const void *frame, size_t length)
{
	struct daemon *daemon = arg;

	attribution_learn(&daemon->attribution, capture, ifindex, frame, length);
}

static void
on_interface(void *arg, struct capture *capture, int ifindex, const char *name, bool attached)
{
	struct daemon *daemon = arg;

	attribution_interface(&daemon->attribution, capture, ifindex, name, attached);
	if (attached)
		(void)wire_attach(daemon->wire, ifindex, name); /* logged there */
	else
		wire_detach(daemon->wire, ifindex);
}

static void
on_wire_request(void *arg, const struct wire_request *request)
{
	struct daemon *daemon = arg;

	crawl_request(daemon->crawl, request);
}

static void
on_wire_robots(void *arg, const struct wire_robots *reply)
{
	struct daemon *daemon = arg;

	crawl_robots(daemon->crawl, reply);
}

/*
 * The tickets' sink: each change goes to the outbox (with its evidence),
 * then to abusectl events as "ticket". What the outbox refused is counted
 * by the ticket core; the event is shown either way.
 */
static int
on_ticket_event(void *arg, const struct ticket *ticket, enum ticket_event event,
                const struct ticket_message *message)
{
	struct daemon *daemon = arg;
	char source[SOURCE_STRLEN];
	int error = ticket_notify_event(&daemon->ticket_notify, ticket, event, message);

	source_format(&ticket->source, source, sizeof(source));
	daemon_event(daemon, "ticket",
	             json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "ticket",
	                       (json_int_t)ticket->id, "change", ticket_event_name(event), "status",
	                       ticket_status_name(ticket->status), "customer_status",
	                       customer_status_name(ticket->customer_status), "customer",
	                       ticket->customer, "source", source, "category",
	                       category_name(ticket->category), "events",
	                       (json_int_t)ticket->event_count));
	return error;
}

/* Kept until the source's ticket takes it into its evidence. */
static void
on_wire_smtp_line(void *arg, const struct wire_smtp_line *line)
{
	struct daemon *daemon = arg;
	struct source_key source;

	source_from_addr(line->client.family, line->client.addr, daemon->config.ipv6_prefix_len,
	                 &source);
	smtp_transcript_add(daemon->smtp_transcript, &source, line);
}

/* A crawler finding: its whole evidence in the log, then the ladder as for any other. */
static void
on_crawler_finding(void *arg, int ifindex, const struct crawler_finding *crawler)
{
	struct daemon *daemon = arg;
	char source[SOURCE_STRLEN], evidence[CRAWLER_EVIDENCE_MAX];
	struct finding finding;

	crawler_finding_convert(crawler, (unsigned)ifindex, &finding);
	crawler_evidence_format(crawler, evidence, sizeof(evidence));
	log_info("%s: crawler evidence: %s",
	         source_format(&crawler->source, source, sizeof(source)), evidence);
	daemon->event_ifindex = (uint32_t)ifindex;
	engine_handle_finding(&daemon->engine, &finding);
	daemon->event_ifindex = 0;
}

/* The abuse desk's view of each decision, in the daemon's log. */
static void
log_decision(void *arg, const struct finding *finding, const struct decision *decision,
             const struct ban *ban)
{
	struct daemon *daemon = arg;
	char source[SOURCE_STRLEN], duration[32], interface[IF_NAMESIZE] = "";
	char source_field[SOURCE_STRLEN + 8], category_field[32], scope_field[32];
	char interface_field[IF_NAMESIZE + 16], action_field[32];
	const char *fields[6] = {source_field, category_field, scope_field,
	                         action_field, NULL,           NULL};

	daemon->decisions[finding->category][decision->action]++;
	if (ban != NULL)
		daemon->bans[ban->category][ban->scope]++;
	source_format(&finding->source, source, sizeof(source));
	duration_format(decision->step.duration_ms, duration, sizeof(duration));
	/* The journal's fields: journalctl SOURCE=10.0.0.5, CATEGORY=spam, INTERFACE=tap3. */
	snprintf(source_field, sizeof(source_field), "SOURCE=%s", source);
	snprintf(category_field, sizeof(category_field), "CATEGORY=%s",
	         category_name(finding->category));
	snprintf(scope_field, sizeof(scope_field), "SCOPE=%s", scope_name(decision->scope));
	snprintf(action_field, sizeof(action_field), "ACTION=%s", action_name(decision->action));
	if (daemon->event_ifindex != 0 &&
	    if_indextoname(daemon->event_ifindex, interface) != NULL) {
		snprintf(interface_field, sizeof(interface_field), "INTERFACE=%s", interface);
		fields[4] = interface_field;
	}
	daemon_event(daemon,
	             ban != NULL                        ? "ban"
	             : decision->action == ACTION_ALERT ? "alert"
	                                                : "finding",
	             json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:s, s:s}", "source", source,
	                       "category", category_name(finding->category), "action",
	                       action_name(decision->action), "why",
	                       decision_reason_name(decision->why), "scope",
	                       scope_name(decision->scope), "level", (int)decision->step.level + 1,
	                       "duration_s", (json_int_t)(decision->step.duration_ms / 1000),
	                       "detail", finding->detail, "interface", interface));
	if (ban != NULL)
		log_fields(LOG_WARNING, fields,
		           "%s: banned for %s, scope %s, level %u (%s): %s%s%s%s%s%s%s", source,
		           duration, scope_name(ban->scope), ban->level + 1,
		           category_name(ban->category), finding->detail,
		           ban->vm.interface[0] ? "; VM on " : "", ban->vm.interface,
		           ban->vm.mac[0] ? " " : "", ban->vm.mac, ban->vm.name[0] ? " named " : "",
		           ban->vm.name);
	else if (decision->action == ACTION_ALERT)
		log_fields(LOG_WARNING, fields,
		           "%s: %s, not banned (%s; would be level %u, %s, scope %s): %s", source,
		           category_name(finding->category), decision_reason_name(decision->why),
		           decision->step.level + 1, duration, scope_name(decision->scope),
		           finding->detail);
	else
		log_fields(LOG_DEBUG, fields, "%s: %s finding ignored (%s): %s", source,
		           category_name(finding->category), decision_reason_name(decision->why),
		           finding->detail);
}

/* One line for the service manager: what runs, on how much. */
static void
daemon_status_line(struct daemon *daemon, char *buf, size_t len)
{
	snprintf(buf, len, "%s mode, %zu interface(s) attached, policy %s",
	         daemon->config.mode == MODE_OBSERVE ? "observe" : "enforce",
	         capture_interfaces(daemon->capture, NULL, 0), daemon->config.path);
}

struct reload_report {
	char *message;
	size_t len, used;
};

static void
reload_kept(void *arg, const char *setting)
{
	struct reload_report *report = arg;

	if (report->used < report->len)
		report->used += snprintf(report->message + report->used, report->len - report->used,
		                         "%s%s", report->used > 0 ? ", " : "", setting);
}

/*
 * Re-reads the policy from the file it came from and puts it in place in one
 * step: a policy that does not parse changes nothing. Thresholds reach the
 * XDP program without reloading it; restart-only settings keep their running
 * values and are named. Returns 0 or -errno; message says what happened
 * ("file:line: message" on error). Logged here, once.
 */
/*
 * The crawler section is live: its detector and fetching, the ports libpcap
 * reads and the ports a web ban drops change together. What fails is logged
 * here; that part keeps running as before.
 */
_Static_assert(CONFIG_MAX_HTTP_PORTS <= NFT_WEB_PORTS_MAX &&
                   CONFIG_MAX_HTTP_PORTS <= WIRE_MAX_PORTS,
               "every HTTP port the policy may name is read and dropped");

static void
crawler_reload(struct daemon *daemon)
{
	const struct crawler_config *crawler = &daemon->config.crawler;

	if (crawl_configure(daemon->crawl) < 0)
		log_warnx("reload: crawler: the detector or the robots.txt fetcher kept the old "
		          "settings");
	if (wire_set_http_ports(daemon->wire, crawler->http_ports, crawler->http_port_count) < 0)
		log_warnx("reload: crawler.http_ports: libpcap keeps the old filter on some "
		          "interfaces");
	if (nft_set_web_ports(daemon->nft, crawler->http_ports, crawler->http_port_count) < 0)
		log_warnx("reload: crawler.http_ports: inet %s keeps the old web rules",
		          daemon->config.nft_table);
}

static int
daemon_reload(struct daemon *daemon, char *message, size_t len)
{
	struct config next;
	char status[STATUS_LINE_MAX], kept[1024] = "";
	struct reload_report report = {kept, sizeof(kept), 0};
	int error;

	notify_reloading(&daemon->notify, "reloading the policy");
	error = config_load(daemon->config.path, &next, message, len);
	if (error < 0) {
		daemon->reload_failures++;
		log_warnx("reload: %s; the running policy stays", message);
	} else {
		apply_overrides(&next, daemon->overrides.interfaces,
		                daemon->overrides.interface_count, daemon->overrides.state_dir,
		                daemon->overrides.socket_path);
		reload_keep_restart_only(&next, &daemon->config, reload_kept, &report);
		/* An operator's abusectl mode holds until restart: a reload does not undo it. */
		if (daemon->mode_uid >= 0 && next.mode != daemon->config.mode)
			reload_kept(&report, "mode (set with abusectl mode)");
		if (daemon->mode_uid >= 0)
			next.mode = daemon->config.mode;
		daemon->config = next; /* the engine and capture read it through a pointer */
		capture_set_thresholds(daemon->capture, &daemon->config);
		outbox_configure(daemon->outbox, &daemon->config);
		crawler_reload(daemon);
		daemon->reloads++;
		if (metrics_timer_arm(daemon) < 0)
			log_warn("reload: metrics timer");
		if (kept[0] != '\0')
			snprintf(message, len,
			         "%s: policy reloaded; changed but kept until restart: %s",
			         daemon->config.path, kept);
		else
			snprintf(message, len, "%s: policy reloaded", daemon->config.path);
		log_info("%s", message);
	}
	daemon_status_line(daemon, status, sizeof(status));
	notify_ready(&daemon->notify, status);
	return error;
}

static void
signal_ready(struct loop_watch *watch, uint32_t events)
{
	struct daemon *daemon =
	    (struct daemon *)((char *)watch - offsetof(struct daemon, signal_watch));
	struct signalfd_siginfo info;

	(void)events;
	while (read(watch->fd, &info, sizeof(info)) == sizeof(info)) {
		if (info.ssi_signo == SIGHUP) {
			char message[RELOAD_MESSAGE_MAX];

			/* daemon_reload logs the outcome; the audit trail names who sent it. */
			int error = daemon_reload(daemon, message, sizeof(message));

			(void)store_audit(
			    daemon->store, clock_now_ms(&daemon->clock), (uid_t)info.ssi_uid,
			    error < 0 ? "reload refused" : "reload", daemon->config.path, "SIGHUP");
			continue;
		}
		log_info("signal %u: stopping", info.ssi_signo);
		daemon->loop.stop = 1;
	}
}

static int
signals_open(struct daemon *daemon)
{
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) == -1)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	daemon->signal_watch.fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (daemon->signal_watch.fd == -1)
		return -errno;
	daemon->signal_watch.ready = signal_ready;
	return loop_add(&daemon->loop, &daemon->signal_watch, EPOLLIN);
}

/*
 * Another program may flush the whole ruleset (nftables.service does when it
 * restarts) and take the bans with it, or delete or change a part of the
 * table. The store still knows the bans: a missing table is rebuilt and
 * reconciled, as at start; a damaged one is rewritten (its ban elements are
 * engine_check_sets').
 */
static void
nft_check(struct daemon *daemon)
{
	struct nft_ruleset_damage damage;
	struct nft *restored;
	int present = nft_table_present(daemon->nft);

	if (present == 1 && nft_ruleset_check(daemon->nft, &damage) == 0)
		daemon->ruleset_repairs += damage.sets_missing + damage.chains_missing +
		                           damage.chains_changed + damage.rules_changed +
		                           damage.allow_sets_changed + damage.vm_sets_changed;
	if (present != 0)
		return; /* there, or the question failed and was logged */
	log_warnx("inet %s: the table is gone (was the ruleset flushed?); restoring it and "
	          "its bans from the store",
	          daemon->config.nft_table);
	if (nft_open(&restored, &daemon->nft_options) < 0) {
		log_warnx("inet %s: cannot restore the table; trying again in %d s",
		          daemon->config.nft_table, NFT_CHECK_INTERVAL_S);
		return;
	}
	nft_close(daemon->nft);
	daemon->nft = restored;
	daemon->engine.nft = restored;
	daemon->attribution.nft = restored;
	daemon->nft_restores++;
	if (attribution_filter_sync(&daemon->attribution) < 0)
		log_warnx("inet %s: restored, but the anti-spoofing sets could not be written",
		          daemon->config.nft_table);
	if (engine_reconcile(&daemon->engine) < 0)
		log_warnx("inet %s: restored, but the bans could not all be put back",
		          daemon->config.nft_table);
}

/*
 * Tiny first fragments (RFC 1858) hide their ports and flags: the program
 * counts them but cannot say what they were. Said in the log, at most once a
 * check interval, so an operator sees the attack without a line per packet.
 */
static void
tiny_fragments_check(struct daemon *daemon, const struct capture_stats *capture)
{
	uint64_t seen = capture->counters[COUNTER_TINY_FRAGMENTS];

	if (seen > daemon->tiny_fragments_logged)
		log_warnx("XDP: %" PRIu64
		          " tiny IP fragments in the last %d s (first fragments too "
		          "short to show ports and flags, RFC 1858); from VMs' own sources they "
		          "are judged as evasion",
		          seen - daemon->tiny_fragments_logged, NFT_CHECK_INTERVAL_S);
	daemon->tiny_fragments_logged = seen;
}

/*
 * An upstream outage holds the scan detector's timeouts (no verdict: every
 * VM's first contacts go unanswered at once). Said in the log when probes
 * begin to be held and when traffic from beyond the host comes back, so an
 * operator learns of the outage, and of what the detector does meanwhile.
 */
static const char *
upstream_age_text(int64_t age_ms, char *text, size_t size)
{
	if (age_ms < 0)
		return "never";
	snprintf(text, size, "%.1f s ago", (double)age_ms / 1000);
	return text;
}

static void
upstream_check(struct daemon *daemon, const struct capture_stats *capture)
{
	uint64_t held = capture->counters[COUNTER_SCAN_NO_UPSTREAM] - daemon->scan_no_upstream_seen;
	int64_t ages_ms[UPSTREAM_FAMILIES];
	char ipv4[32], ipv6[32];
	bool back;

	daemon->scan_no_upstream_seen = capture->counters[COUNTER_SCAN_NO_UPSTREAM];
	capture_upstream_ages(daemon->capture, ages_ms);
	if (held > 0 && !daemon->upstream_outage) {
		log_warnx("scan: %" PRIu64
		          " first contacts timed out in the last %d s with nothing "
		          "from beyond the host coming back to any VM since they were sent (IPv4 "
		          "last seen %s, IPv6 %s): no verdict, as in an upstream outage; "
		          "rejections still count",
		          held, NFT_CHECK_INTERVAL_S,
		          upstream_age_text(ages_ms[UPSTREAM_IPV4], ipv4, sizeof(ipv4)),
		          upstream_age_text(ages_ms[UPSTREAM_IPV6], ipv6, sizeof(ipv6)));
		daemon->upstream_outage = true;
		return;
	}
	back =
	    (ages_ms[UPSTREAM_IPV4] >= 0 && ages_ms[UPSTREAM_IPV4] < NFT_CHECK_INTERVAL_S * 1000) ||
	    (ages_ms[UPSTREAM_IPV6] >= 0 && ages_ms[UPSTREAM_IPV6] < NFT_CHECK_INTERVAL_S * 1000);
	if (held == 0 && daemon->upstream_outage && back) {
		log_info("scan: traffic from beyond the host comes back to the VMs again: timeouts "
		         "count as failures again");
		daemon->upstream_outage = false;
	}
}

/*
 * The whole table and every ban element are compared with the store only
 * when the ruleset's generation moved by another program's commit (a few
 * microseconds to ask), or once a minute: with 50,000 bans a full check
 * costs a set dump, most of the daemon's idle CPU when done every 5 s.
 * The minute's check catches what changes no generation: the kernel's own
 * timeouts, and the daemon's own bans refused before.
 */
static bool
nft_full_check_due(struct daemon *daemon)
{
	int changed = nft_generation_changed(daemon->nft);

	if (changed == 0 && daemon->ticks % NFT_FULL_CHECK_INTERVAL_S != 0) {
		daemon->nft_checks_skipped++;
		return false;
	}
	return true;
}

/* Queued records are written, then history past the retention goes, a small batch each tick. */
static void
store_maintain(struct daemon *daemon)
{
	int64_t before_ms = clock_now_ms(&daemon->clock) - daemon->config.store.retention_ms;
	size_t deleted;

	/* What the store refused is tried again first: space may have come back. */
	if (engine_flush_pending(&daemon->engine) < 0)
		return;
	if (store_prune(daemon->store, before_ms, STORE_PRUNE_BATCH, &deleted) == 0)
		daemon->store_pruned += deleted;
}

static void
timer_ready(struct loop_watch *watch, uint32_t events)
{
	struct daemon *daemon =
	    (struct daemon *)((char *)watch - offsetof(struct daemon, timer_watch));
	struct capture_stats capture;
	uint64_t expirations;

	(void)events;
	if (read(watch->fd, &expirations, sizeof(expirations)) != sizeof(expirations))
		return;
	/* Live, the program reads its own clock: the time passed here is not used. */
	if (capture_sweep(daemon->capture, 0) < 0)
		log_warnx("capture: scan sweep failed");
	outbox_tick(daemon->outbox);
	crawl_tick(daemon->crawl, clock_now_ms(&daemon->clock));
	wire_expire(daemon->wire, clock_now_ms(&daemon->clock));
	(void)ticket_notify_tick(&daemon->ticket_notify, clock_now_ms(&daemon->clock));
	if (++daemon->ticks % NFT_CHECK_INTERVAL_S == 0) {
		bool full = nft_full_check_due(daemon);

		if (full)
			nft_check(daemon);
		store_maintain(daemon);
		if (full)
			(void)engine_check_sets(&daemon->engine); /* errors were logged */
		/* One read of the program's counters serves both checks. */
		capture_stats(daemon->capture, &capture);
		tiny_fragments_check(daemon, &capture);
		upstream_check(daemon, &capture);
	}
	if (daemon->ticks % TICKETS_TICK_INTERVAL_S == 0 && tickets_tick(&daemon->tickets) < 0)
		log_warnx("tickets: deadlines and updates not looked at; trying again in %d s",
		          TICKETS_TICK_INTERVAL_S);
}

static int
timer_open(struct daemon *daemon)
{
	struct itimerspec period = {
	    .it_interval = {.tv_sec = 1},
	    .it_value = {.tv_sec = 1},
	};

	daemon->timer_watch.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (daemon->timer_watch.fd == -1 ||
	    timerfd_settime(daemon->timer_watch.fd, 0, &period, NULL) == -1)
		return -errno;
	daemon->timer_watch.ready = timer_ready;
	return loop_add(&daemon->loop, &daemon->timer_watch, EPOLLIN);
}

/* metrics.file: written whole and renamed into place, every metrics.interval. */
static void
metrics_file_write(struct daemon *daemon)
{
	const char *path = daemon->config.metrics.file;
	struct metrics metrics;
	int error;

	if (path[0] == '\0')
		return;
	metrics_init(&metrics);
	daemon_metrics(daemon, &metrics);
	error = metrics.text == NULL ? -ENOMEM : metrics_write_file(&metrics, path);
	metrics_free(&metrics);
	if (error < 0) {
		daemon->metrics_write_errors++;
		if (!daemon->metrics_failing)
			log_warnx("%s: cannot write the metrics: %s (trying every %llds)", path,
			          strerror(-error),
			          (long long)(daemon->config.metrics.interval_ms / 1000));
		daemon->metrics_failing = true;
	} else if (daemon->metrics_failing) {
		log_info("%s: metrics written again", path);
		daemon->metrics_failing = false;
	}
}

static void
metrics_timer_ready(struct loop_watch *watch, uint32_t events)
{
	struct daemon *daemon =
	    (struct daemon *)((char *)watch - offsetof(struct daemon, metrics_watch));
	uint64_t expirations;

	(void)events;
	if (read(watch->fd, &expirations, sizeof(expirations)) != sizeof(expirations))
		return;
	metrics_file_write(daemon);
}

/* Starts, changes or stops the timer to match the policy (start and reload). */
static int
metrics_timer_arm(struct daemon *daemon)
{
	int64_t interval_ms = daemon->config.metrics.file[0] != '\0'
	                          ? daemon->config.metrics.interval_ms
	                          : 0; /* 0 disarms */
	struct itimerspec period = {
	    .it_interval = {.tv_sec = interval_ms / 1000,
	                    .tv_nsec = (interval_ms % 1000) * 1000000},
	};
	int error;

	if (daemon->metrics_watch.fd == -1) {
		daemon->metrics_watch.fd =
		    timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		daemon->metrics_watch.ready = metrics_timer_ready;
		if (daemon->metrics_watch.fd == -1 ||
		    (error = loop_add(&daemon->loop, &daemon->metrics_watch, EPOLLIN)) < 0)
			return daemon->metrics_watch.fd == -1 ? -errno : error;
	}
	if (interval_ms == daemon->metrics_interval_ms)
		return 0;
	period.it_value = period.it_interval;
	if (timerfd_settime(daemon->metrics_watch.fd, 0, &period, NULL) == -1)
		return -errno;
	daemon->metrics_interval_ms = interval_ms;
	/* The first file at once, not an interval after start. */
	metrics_file_write(daemon);
	return 0;
}

static void
apply_overrides(struct config *config, char **interfaces, unsigned interface_count,
                const char *state_dir, const char *socket_path)
{
	if (interface_count > 0) {
		if (interface_count > CONFIG_MAX_INTERFACES)
			fatalx("-i: at most %d interfaces", CONFIG_MAX_INTERFACES);
		/* Zeroed, so that a reload compares the same overrides as equal. */
		memset(config->interfaces, 0, sizeof(config->interfaces));
		for (unsigned i = 0; i < interface_count; i++) {
			if (strlen(interfaces[i]) >= CONFIG_MAX_PATTERN)
				fatalx("-i %s: longer than %d characters", interfaces[i],
				       CONFIG_MAX_PATTERN - 1);
			strcpy(config->interfaces[i], interfaces[i]);
		}
		config->interface_count = interface_count;
	}
	if (state_dir != NULL) {
		if (state_dir[0] != '/' || strlen(state_dir) >= sizeof(config->state_dir))
			fatalx("--state-dir %s: must be an absolute path", state_dir);
		strcpy(config->state_dir, state_dir);
	}
	if (socket_path != NULL) {
		if (socket_path[0] != '/' || strlen(socket_path) >= sizeof(config->control_socket))
			fatalx("--socket %s: must be an absolute path", socket_path);
		strcpy(config->control_socket, socket_path);
	}
}

/*
 * A damaged store would answer with errors, or worse with half a history:
 * the daemon does not run on one.
 */
static void
store_start(struct daemon *daemon, const char *database)
{
	int error = store_open(&daemon->store, database);

	if (error == 0 &&
	    (error = store_check(daemon->store, daemon->config.store.check_timeout_ms)) ==
	        -ETIMEDOUT) {
		log_warnx("%s: running without a complete integrity check (store.check_timeout)",
		          database);
		error = 0;
	}
	if (error == -EBADMSG) {
		log_warnx(
		    "%s: the store is damaged; not running on it. Stop here, move the "
		    "database aside with its -wal and -shm files (mv %s %s.damaged) and start "
		    "again on a new store, or restore it from a backup",
		    database, database, database);
		exit(EXIT_STORE_DAMAGED);
	}
	if (error < 0)
		fatalx("%s: cannot open the store", database);
}

static int
allowlist_load(const struct store_allow *entry, void *arg)
{
	struct daemon *daemon = arg;
	char text[SOURCE_STRLEN];

	if (allowlist_set(&daemon->allowlist, &entry->prefix, entry->until_ms) < 0)
		log_warnx(
		    "%s: runtime allowlist entry not loaded: limits.runtime_allowlist (%u) is "
		    "full",
		    prefix_format(&entry->prefix, text, sizeof(text)), daemon->allowlist.size);
	return 0;
}

/* The operators' allowlist, as the store kept it. */
static void
allowlist_start(struct daemon *daemon)
{
	if (allowlist_init(&daemon->allowlist, daemon->config.limits.runtime_allowlist) < 0)
		fatalx("runtime allowlist: no memory for %u entries",
		       daemon->config.limits.runtime_allowlist);
	if (store_allowlist(daemon->store, clock_now_ms(&daemon->clock), allowlist_load, daemon) <
	    0)
		fatalx("runtime allowlist: cannot read it from the store");
	if (daemon->allowlist.count > 0)
		log_info("runtime allowlist: %u entries", daemon->allowlist.count);
}

/* What a crash left between a ticket's change and its queueing goes out now. */
static void
outbox_recover(struct daemon *daemon)
{
	size_t requeued;

	if (ticket_notify_recover(&daemon->ticket_notify, daemon->store, &requeued) < 0)
		log_warnx("outbox: cannot look for ticket events a crash left unqueued");
	else if (requeued > 0)
		log_warnx("outbox: %zu ticket event(s) a crash left unqueued are queued now",
		          requeued);
}

static void
daemon_start(struct daemon *daemon)
{
	const struct config *config = &daemon->config;
	struct control_options control_options = {
	    .path = config->control_socket,
	    .group = config->control_group,
	    .max_clients = config->limits.control_clients,
	    .max_line_bytes = config->limits.control_line_bytes,
	    .idle_timeout_ms = config->limits.control_idle_ms,
	    .max_event_queue_bytes = config->limits.control_event_queue,
	    .commands = daemon_commands,
	    .context = daemon,
	};
	const struct capture_hooks hooks = {
	    .on_event = on_abuse_event,
	    .on_learn = on_learn_frame,
	    .on_interface = on_interface,
	    .before_events = on_before_events,
	    .arg = daemon,
	};
	const struct wire_hooks wire_hooks = {
	    .on_request = on_wire_request,
	    .on_robots = on_wire_robots,
	    .on_smtp_line = on_wire_smtp_line,
	    .arg = daemon,
	};
	struct wire_config wire_config;
	char database[PATH_MAX + 32], status[STATUS_LINE_MAX];

	if (mkdir(config->state_dir, 0750) == -1 && errno != EEXIST)
		fatal("%s: mkdir", config->state_dir);
	snprintf(database, sizeof(database), "%s/abuseguard.db", config->state_dir);
	daemon->metrics_watch.fd = -1;
	if (loop_init(&daemon->loop) < 0 || signals_open(daemon) < 0)
		fatalx("cannot set up the event loop");
	if (notify_open(&daemon->notify, &daemon->loop) < 0)
		fatalx("cannot talk to the service manager"); /* the variable was named */
	store_start(daemon, database);
	if (outbox_open(&daemon->outbox, &daemon->loop, daemon->store, &daemon->clock, config) < 0)
		fatalx("%s: cannot open the outbox of notices", database);
	daemon->nft_options = (struct nft_options){
	    .table = config->nft_table,
	    .ipv6_prefix_len = config->ipv6_prefix_len,
	    .always_allowed = config->always_allowed,
	    .always_allowed_count = config->always_allowed_count,
	    .max_bans_per_set = config->limits.max_bans,
	    .web_ports = config->crawler.http_ports,
	    .web_port_count = config->crawler.http_port_count,
	};
	if (nft_open(&daemon->nft, &daemon->nft_options) < 0)
		fatalx("nftables: cannot set up table inet %s", config->nft_table);
	if (attribution_open(&daemon->attribution, &daemon->loop, config, &daemon->clock,
	                     daemon->store) < 0)
		fatalx("cannot set up the VM registry");
	daemon->attribution.nft = daemon->nft;
	if (engine_init(&daemon->engine, config, &daemon->clock, daemon->store, daemon->nft) < 0)
		fatalx("cannot set up the engine");
	daemon->engine.on_decision = log_decision;
	daemon->engine.arg = daemon;
	daemon->engine.host = &daemon->attribution.host;
	daemon->engine.vms = &daemon->attribution.vms;
	tickets_init(&daemon->tickets, config, &daemon->clock, daemon->store);
	daemon->engine.tickets = &daemon->tickets;
	allowlist_start(daemon);
	daemon->engine.allowlist = &daemon->allowlist;
	daemon->mode_uid = -1;
	daemon->reload = daemon_reload;
	/* Every ticket event goes to the outbox, with the ticket's evidence. */
	if (evidence_init(&daemon->evidence, config->state_dir,
	                  config->limits.ticket_evidence_files,
	                  config->limits.ticket_evidence_bytes) < 0)
		fatalx("%s/evidence: cannot keep evidence", config->state_dir);
	if (smtp_transcript_open(&daemon->smtp_transcript, config->limits.smtp_transcript_sources,
	                         config->limits.smtp_transcript_lines) < 0)
		fatalx("SMTP transcripts: no memory for %u sources of %u lines",
		       config->limits.smtp_transcript_sources,
		       config->limits.smtp_transcript_lines);
	daemon->ticket_notify = (struct ticket_notify){
	    .config = &daemon->config,
	    .outbox = daemon->outbox,
	    .evidence = &daemon->evidence,
	    .transcript = daemon->smtp_transcript,
	};
	daemon->tickets.sink = (struct ticket_sink){
	    .event = on_ticket_event,
	    .arg = daemon,
	};
	outbox_recover(daemon);
	if (engine_reconcile(&daemon->engine) < 0)
		log_warnx("nftables: reconcile with the store failed; bans may be missing");
	if (timer_open(daemon) < 0)
		fatal("timerfd");
	if (control_init(&daemon->control, &daemon->loop, &control_options) < 0)
		fatalx("%s: cannot open the control socket", config->control_socket);
	wire_config_from(config, &wire_config);
	if (wire_open(&daemon->wire, &daemon->loop, &wire_config, &wire_hooks) < 0 ||
	    crawl_open(&daemon->crawl, &daemon->loop, config, &daemon->attribution.host,
	               on_crawler_finding, daemon) < 0)
		fatalx("cannot set up the crawler path (libpcap, robots.txt)");
	daemon->ticket_notify.wire = daemon->wire; /* pcap excerpts from its rings */
	if (capture_open_hooks(&daemon->capture, &daemon->loop, config, &hooks) < 0)
		fatalx("cannot load or attach the XDP program");
	if (metrics_timer_arm(daemon) < 0)
		fatal("metrics timer");
	log_info("abuseguardd %s running (%s mode), %u interface pattern(s), state in %s",
	         ABUSEGUARD_VERSION, config->mode == MODE_OBSERVE ? "observe" : "enforce",
	         config->interface_count, config->state_dir);
	/* The store is open, the table is in place and the programs are attached. */
	daemon_status_line(daemon, status, sizeof(status));
	notify_ready(&daemon->notify, status);
}

static void
daemon_stop(struct daemon *daemon)
{
	notify_stopping(&daemon->notify, "stopping; bans stay in the kernel until they expire");
	/* Bans stay in the kernel and expire on their own. */
	/* The anti-spoofing sets outlive the daemon, as bans do: detaching leaves them. */
	daemon->attribution.nft = NULL;
	capture_close(daemon->capture);
	wire_close(daemon->wire);
	smtp_transcript_close(daemon->smtp_transcript);
	crawl_close(daemon->crawl);
	control_close(daemon->control);
	daemon_commands_close(daemon);
	engine_close(&daemon->engine);
	allowlist_close(&daemon->allowlist);
	attribution_close(&daemon->attribution);
	nft_close(daemon->nft);
	outbox_close(daemon->outbox);
	store_close(daemon->store);
	notify_close(&daemon->notify);
	if (daemon->metrics_watch.fd != -1)
		close(daemon->metrics_watch.fd);
	loop_close(&daemon->loop);
	log_info("abuseguardd stopped");
}

int
main(int argc, char *argv[])
{
	static const struct option long_options[] = {
	    {"state-dir", required_argument, NULL, 'S'},
	    {"socket", required_argument, NULL, 's'},
	    {"replay", required_argument, NULL, 'R'},
	    {"replay-interface", required_argument, NULL, 'I'},
	    {"replay-batch", required_argument, NULL, 'B'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	static struct daemon daemon;
	const char *config_path = CONFIG_DEFAULT_PATH, *state_dir = NULL, *socket_path = NULL;
	char *interfaces[CONFIG_MAX_INTERFACES + 1];
	char **replay_files = NULL;
	struct replay_options replay = {.index_max = (unsigned)argc};
	unsigned interface_count = 0, replay_count = 0;
	int check_only = 0, verbose = 0, option;
	char error[PATH_MAX + 256];

	while ((option = getopt_long(argc, argv, "c:hi:tv", long_options, NULL)) != -1) {
		switch (option) {
		case 'c':
			config_path = optarg;
			break;
		case 'i':
			if (interface_count > CONFIG_MAX_INTERFACES)
				fatalx("-i: at most %d interfaces", CONFIG_MAX_INTERFACES);
			interfaces[interface_count++] = optarg;
			break;
		case 't':
			check_only = 1;
			break;
		case 'v':
			verbose++;
			break;
		case 'S':
			state_dir = optarg;
			break;
		case 's':
			socket_path = optarg;
			break;
		case 'R':
			/* At most one per argument: argc bounds them. */
			if (replay_files == NULL &&
			    (replay_files = calloc(argc, sizeof(*replay_files))) == NULL)
				fatal("--replay");
			replay_files[replay_count++] = optarg;
			break;
		case 'I':
			/* At most one per argument: argc bounds them. */
			if (replay.indexes == NULL &&
			    (replay.indexes = calloc(argc, sizeof(*replay.indexes))) == NULL)
				fatal("--replay-interface");
			if (replay_option_interface(&replay, optarg) < 0)
				usage(64);
			break;
		case 'B':
			if (replay_option_batch(&replay, optarg) < 0)
				usage(64);
			break;
		case 'h':
			usage(0);
		default:
			usage(64);
		}
	}
	if (optind != argc)
		usage(64);
	if (replay_count == 0 && (replay.interface != NULL || replay.index_count > 0)) {
		fprintf(stderr, "abuseguardd: --replay-interface is for --replay\n");
		usage(64);
	}
	if (replay_count == 0 && replay.batch != 0) {
		fprintf(stderr, "abuseguardd: --replay-batch is for --replay\n");
		usage(64);
	}

	log_init(1, verbose, "abuseguardd");
	if (config_load(config_path, &daemon.config, error, sizeof(error)) < 0) {
		fprintf(stderr, "abuseguardd: %s\n", error);
		return CONFIG_EXIT_INVALID;
	}
	daemon.overrides.interfaces = interfaces;
	daemon.overrides.interface_count = interface_count;
	daemon.overrides.state_dir = state_dir;
	daemon.overrides.socket_path = socket_path;
	apply_overrides(&daemon.config, interfaces, interface_count, state_dir, socket_path);
	if (check_only) {
		printf("%s: configuration OK\n", config_path);
		return 0;
	}
	if (replay_count > 0) {
		int status;

		replay.files = replay_files;
		replay.file_count = replay_count;
		status = replay_run(&daemon.config, &replay);
		free(replay_files);
		free(replay.indexes);
		return status;
	}

	if (privilege_check(error, sizeof(error)) < 0)
		fatalx("missing capabilities: %s; run as root or with %s, as abuseguard.service "
		       "grants",
		       error[0] != '\0' ? error : "cannot read them", privilege_needed);
	clock_init_live(&daemon.clock);
	daemon.started_ms = clock_now_ms(&daemon.clock);
	daemon_start(&daemon);
	if (loop_run(&daemon.loop) < 0)
		log_warnx("event loop failed");
	daemon_stop(&daemon);
	return 0;
}
