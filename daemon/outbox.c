/*
 * The outbox: ticket events rendered once, committed, then delivered by the
 * backends from the event loop. The store holds the state; this module
 * holds only the children that run now.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <time.h>

#include "deliver.h"
#include "log.h"
#include "mail_message.h"
#include "metrics.h"
#include "outbox.h"

/* What a tick looks at when no child slot is free: nothing. */
#define OUTBOX_MAX_RUNNING 64

struct outbox_child {
	struct outbox *outbox;
	struct loop_watch exit_watch;   /* the pidfd */
	struct loop_watch output_watch; /* stdout and stderr */
	struct subprocess process;
	const struct deliver_backend *backend;
	int64_t id, ticket_id;
	unsigned attempt;
	int64_t started_ms;
	bool killed; /* past notify.timeout */
	bool running;
};

struct outbox {
	struct loop *loop;
	struct store *store;
	struct clock *clock;
	struct notify_config notify;
	uint32_t max_queued, max_running, output_max;
	struct outbox_child children[OUTBOX_MAX_RUNNING];
	size_t running;
	struct outbox_stats stats;
};

static void outbox_start_due(struct outbox *outbox);

/* A random UUID, version 4 (RFC 9562), for X-ARF's report_id. */
static void
uuid_v4(char out[REPORT_UUID_LEN])
{
	unsigned char bytes[16];

	if (getrandom(bytes, sizeof(bytes), 0) != sizeof(bytes)) {
		/* Early boot without entropy: unique enough with the time and a counter. */
		static uint64_t counter;
		uint64_t now = (uint64_t)time(NULL), next = ++counter;

		memcpy(bytes, &now, 8);
		memcpy(bytes + 8, &next, 8);
	}
	bytes[6] = (unsigned char)((bytes[6] & 0x0f) | 0x40);
	bytes[8] = (unsigned char)((bytes[8] & 0x3f) | 0x80);
	snprintf(out, REPORT_UUID_LEN,
	         "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", bytes[0],
	         bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7], bytes[8],
	         bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]);
}

static void
outbox_refresh_depth(struct outbox *outbox)
{
	size_t depth, retrying, undeliverable;

	if (store_outbox_depth(outbox->store, &depth, &retrying, &undeliverable) == 0) {
		outbox->stats.depth = depth;
		outbox->stats.retrying = retrying;
		outbox->stats.undeliverable = undeliverable;
	}
}

void
outbox_configure(struct outbox *outbox, const struct config *config)
{
	outbox->notify = config->notify;
	outbox->max_queued = config->limits.outbox;
	outbox->max_running = config->limits.deliveries < OUTBOX_MAX_RUNNING
	                          ? config->limits.deliveries
	                          : OUTBOX_MAX_RUNNING;
	outbox->output_max = config->limits.delivery_output;
}

int
outbox_open(struct outbox **out, struct loop *loop, struct store *store, struct clock *clock,
            const struct config *config)
{
	struct outbox *outbox;
	size_t in_doubt = 0;
	int error;

	*out = NULL;
	if ((outbox = calloc(1, sizeof(*outbox))) == NULL)
		return -ENOMEM;
	outbox->loop = loop;
	outbox->store = store;
	outbox->clock = clock;
	outbox_configure(outbox, config);
	/* Attempts a crash cut short: their outcome is unknown, so they go again. */
	if ((error = store_outbox_recover(store, clock_now_ms(clock), &in_doubt)) < 0) {
		free(outbox);
		return error;
	}
	if (in_doubt > 0)
		log_warnx("outbox: %zu deliveries were running when the daemon stopped; sending "
		          "them again with the same Message-ID, receivers may see a copy",
		          in_doubt);
	outbox->stats.in_doubt = in_doubt;
	outbox_refresh_depth(outbox);
	*out = outbox;
	return 0;
}

/* The backoff after the n-th failed attempt: retry, doubling, at most retry_max. */
static int64_t
retry_delay_ms(const struct notify_config *notify, unsigned attempt)
{
	int64_t delay = notify->retry_ms;

	for (unsigned i = 1; i < attempt && delay < notify->retry_max_ms; i++)
		delay *= 2;
	return delay < notify->retry_max_ms ? delay : notify->retry_max_ms;
}

/* A delivery leaves the waiting ones: delivered, or refused for good. */
static void
left_waiting(struct outbox *outbox, unsigned attempt)
{
	if (outbox->stats.depth > 0)
		outbox->stats.depth--;
	if (attempt > 1 && outbox->stats.retrying > 0)
		outbox->stats.retrying--;
}

/*
 * Records the outcome of an attempt; the commit comes first, the log after.
 * failure NULL: delivered; permanent: refused for good, kept and never tried
 * again; else retried after the backoff.
 */
static void
attempt_done(struct outbox *outbox, const struct deliver_backend *backend, int64_t id,
             int64_t ticket_id, unsigned attempt, const char *failure, bool permanent)
{
	int64_t now_ms = clock_now_ms(outbox->clock);
	char delay[32];

	if (failure == NULL) {
		if (store_outbox_sent(outbox->store, id, now_ms) == 0) {
			outbox->stats.delivered++;
			left_waiting(outbox, attempt);
			log_info("outbox: ticket %" PRId64 ": delivered by %s (attempt %u)",
			         ticket_id, backend->name, attempt);
		}
		return;
	}
	if (permanent) {
		if (store_outbox_fail(outbox->store, id, now_ms, failure) == 0) {
			outbox->stats.refused_for_good++;
			outbox->stats.undeliverable++;
			left_waiting(outbox, attempt);
			log_warnx("outbox: ticket %" PRId64
			          ": %s delivery refused for good (attempt "
			          "%u): %s; not retried (abusectl outbox shows it)",
			          ticket_id, backend->name, attempt, failure);
		}
		return;
	}
	outbox->stats.failed++;
	if (attempt == 1)
		outbox->stats.retrying++;
	duration_format(retry_delay_ms(&outbox->notify, attempt), delay, sizeof(delay));
	if (store_outbox_retry(outbox->store, id, now_ms + retry_delay_ms(&outbox->notify, attempt),
	                       failure) == 0)
		log_warnx("outbox: ticket %" PRId64 ": %s delivery failed (attempt %u): %s; "
		          "trying again in %s",
		          ticket_id, backend->name, attempt, failure, delay);
}

static void
child_finish(struct outbox_child *child)
{
	struct outbox *outbox = child->outbox;
	char failure[512], status_text[64];
	int status = 0;

	loop_remove(outbox->loop, &child->exit_watch);
	if (child->process.output_fd >= 0)
		loop_remove(outbox->loop, &child->output_watch);
	if (subprocess_reap(&child->process, &status) < 0) {
		snprintf(failure, sizeof(failure), "cannot reap the child: %s", strerror(errno));
		status = -1;
	} else if (status != 0) {
		/* What it said goes into the error: the first line is usually the reason. */
		size_t line = strcspn(child->process.output, "\n");

		subprocess_status_text(status, status_text, sizeof(status_text));
		snprintf(failure, sizeof(failure), "%s%s%s%.*s", child->killed ? "timed out, " : "",
		         status_text, line > 0 ? ": " : "", (int)(line < 300 ? line : 300),
		         child->process.output);
	}
	if (child->process.output_truncated)
		outbox->stats.output_truncated++;
	if (child->killed)
		outbox->stats.timeouts++;
	attempt_done(outbox, child->backend, child->id, child->ticket_id, child->attempt,
	             status == 0 ? NULL : failure,
	             !child->killed && deliver_refused_for_good(status, child->process.output));
	subprocess_close(&child->process);
	child->running = false;
	outbox->running--;
}

static void
child_exited(struct loop_watch *watch, uint32_t events)
{
	struct outbox_child *child =
	    (struct outbox_child *)((char *)watch - offsetof(struct outbox_child, exit_watch));

	(void)events;
	child_finish(child);
	outbox_start_due(child->outbox);
}

static void
child_output(struct loop_watch *watch, uint32_t events)
{
	struct outbox_child *child =
	    (struct outbox_child *)((char *)watch - offsetof(struct outbox_child, output_watch));

	(void)events;
	/*
	 * The exit and the output can come in one batch of the loop: when the exit
	 * came first, the child is finished (its output read and freed) and this
	 * event is stale. (Were the slot taken by the next delivery meanwhile, this
	 * reads that child's non-blocking pipe early: harmless.)
	 */
	if (!child->running || child->process.output_fd < 0)
		return;
	subprocess_read_output(&child->process);
	if (child->process.output_fd < 0)
		loop_remove(child->outbox->loop, &child->output_watch);
}

static struct outbox_child *
free_child(struct outbox *outbox)
{
	for (size_t i = 0; i < outbox->max_running; i++)
		if (!outbox->children[i].running)
			return &outbox->children[i];
	return NULL;
}

/* One due delivery: the attempt is committed, then the backend runs. */
static void
delivery_start(struct outbox *outbox, struct store_delivery *row)
{
	const struct deliver_backend *backend = deliver_backend_lookup(row->backend);
	struct delivery delivery = {
	    .id = row->id,
	    .ticket_id = row->ticket_id,
	    .event_id = row->event_id,
	    .kind = row->kind,
	    .message_id = row->message_id,
	    .payload = row->payload,
	    .payload_length = row->payload_length,
	    .attempt = row->attempts + 1,
	};
	struct outbox_child *child = free_child(outbox);
	char err[512] = "";
	int result;

	if (backend == NULL || !backend->enabled(&outbox->notify)) {
		/* Queued for a backend the policy no longer has: it waits for one. */
		store_outbox_retry(outbox->store, row->id,
		                   clock_now_ms(outbox->clock) + outbox->notify.retry_max_ms,
		                   "the backend is not configured");
		return;
	}
	if (child == NULL ||
	    store_outbox_attempt(outbox->store, row->id, clock_now_ms(outbox->clock)) < 0)
		return; /* the store said why; it is due again next tick */
	result = backend->start(&outbox->notify, &delivery, outbox->output_max, &child->process,
	                        err, sizeof(err));
	if (result != DELIVER_STARTED) {
		attempt_done(outbox, backend, row->id, row->ticket_id, delivery.attempt,
		             result < 0 ? err : NULL, false);
		return;
	}
	child->outbox = outbox;
	child->backend = backend;
	child->id = row->id;
	child->ticket_id = row->ticket_id;
	child->attempt = delivery.attempt;
	child->started_ms = clock_now_ms(outbox->clock);
	child->killed = false;
	child->running = true;
	child->exit_watch = (struct loop_watch){.fd = child->process.pidfd, .ready = child_exited};
	child->output_watch =
	    (struct loop_watch){.fd = child->process.output_fd, .ready = child_output};
	outbox->running++;
	if (loop_add(outbox->loop, &child->exit_watch, EPOLLIN) < 0 ||
	    loop_add(outbox->loop, &child->output_watch, EPOLLIN) < 0) {
		/* Without a watch the exit would go unseen: wait for it here, once. */
		log_warn("outbox: cannot watch a delivery");
		subprocess_kill(&child->process);
		child->killed = true;
		child_finish(child);
	}
}

static void
outbox_start_due(struct outbox *outbox)
{
	struct store_delivery rows[OUTBOX_MAX_RUNNING];
	size_t count = 0, slots;

	if (outbox->stats.depth <= outbox->running || outbox->running >= outbox->max_running)
		return;
	slots = outbox->max_running - outbox->running;
	if (store_outbox_due(outbox->store, clock_now_ms(outbox->clock), rows, slots, &count) < 0)
		return;
	for (size_t i = 0; i < count; i++) {
		delivery_start(outbox, &rows[i]);
		free(rows[i].payload);
	}
}

void
outbox_tick(struct outbox *outbox)
{
	int64_t now_ms = clock_now_ms(outbox->clock);

	for (size_t i = 0; i < OUTBOX_MAX_RUNNING; i++) {
		struct outbox_child *child = &outbox->children[i];

		if (child->running && !child->killed &&
		    now_ms - child->started_ms >= outbox->notify.timeout_ms) {
			subprocess_kill(&child->process);
			child->killed = true; /* its exit comes through the pidfd */
		}
	}
	outbox_start_due(outbox);
}

/* The payload a backend gets: the message for mail, the ticket JSON for the others. */
static int
render(const char *backend, const struct abuse_report *report, char **out, size_t *length)
{
	json_t *object;
	char *text;

	if (strcmp(backend, "mail") == 0)
		return mail_message_render(report, out, length);
	if ((object = report_json(report)) == NULL)
		return -ENOMEM;
	text = json_dumps(object, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(object);
	if (text == NULL)
		return -ENOMEM;
	*length = strlen(text) + 1;
	/* One line each: the event log's format, and a hook reads to the newline too. */
	text[*length - 1] = '\n';
	*out = text;
	return 0;
}

/* Which backends take this event: a customer never gets an internal note. */
static bool
backend_takes(const struct outbox *outbox, const struct deliver_backend *backend,
              const struct abuse_report *report)
{
	if (!backend->enabled(&outbox->notify))
		return false;
	return backend != &deliver_mail || report->visibility == REPORT_VISIBLE_CUSTOMER;
}

int
outbox_enqueue(struct outbox *outbox, const struct abuse_report *given)
{
	struct store_delivery rows[4];
	struct abuse_report report = *given;
	char message_id[REPORT_MESSAGE_ID_MAX];
	size_t count = 0, added = 0;
	int error = 0;

	if (report.report_id[0] == '\0')
		uuid_v4(report.report_id);
	if (report.from[0] == '\0')
		snprintf(report.from, sizeof(report.from), "%s", outbox->notify.from);
	report_message_id(&report, message_id, sizeof(message_id));
	for (size_t i = 0; deliver_backends[i] != NULL && error == 0; i++) {
		const struct deliver_backend *backend = deliver_backends[i];
		struct store_delivery *row = &rows[count];

		if (!backend_takes(outbox, backend, &report))
			continue;
		memset(row, 0, sizeof(*row));
		snprintf(row->backend, sizeof(row->backend), "%s", backend->name);
		row->ticket_id = report.ticket_id;
		row->event_id = report.event_id;
		/* The ticket core's event name keeps two events of one template apart. */
		snprintf(row->kind, sizeof(row->kind), "%s",
		         report.event_name[0] ? report.event_name : report_kind_name(report.kind));
		snprintf(row->message_id, sizeof(row->message_id), "%s", message_id);
		row->created_ms = clock_now_ms(outbox->clock);
		row->next_ms = row->created_ms;
		if ((error = render(backend->name, &report, (char **)&row->payload,
		                    &row->payload_length)) < 0) {
			outbox->stats.render_errors++;
			log_warnx("outbox: ticket %" PRId64 ": cannot render the %s for %s: %s",
			          report.ticket_id, report_kind_name(report.kind), backend->name,
			          strerror(-error));
			break;
		}
		count++;
	}
	if (error == 0 && count > 0 && outbox->stats.depth + count > outbox->max_queued) {
		outbox->stats.refused++;
		log_warnx("outbox: ticket %" PRId64 ": %s not queued: %zu deliveries wait already "
		          "(limits.outbox)",
		          report.ticket_id, report_kind_name(report.kind), outbox->stats.depth);
		error = -ENOSPC;
	}
	/* Even with no backend taking it: its thread message is then queued, not lost. */
	if (error == 0 && (error = store_outbox_add(outbox->store, report.ticket_id,
	                                            report.event_id, rows, count, &added)) == 0) {
		outbox->stats.queued += added;
		outbox->stats.duplicate += count - added;
		outbox->stats.depth += added;
	}
	for (size_t i = 0; i < count; i++)
		free(rows[i].payload);
	if (error == 0)
		outbox_start_due(outbox);
	return error;
}

void
outbox_stats(const struct outbox *outbox, struct outbox_stats *out)
{
	*out = outbox->stats;
	out->running = outbox->running;
}

void
outbox_close(struct outbox *outbox)
{
	if (outbox == NULL)
		return;
	/* What runs now is killed; an exit status of 0 that came first still counts. */
	for (size_t i = 0; i < OUTBOX_MAX_RUNNING; i++)
		if (outbox->children[i].running) {
			subprocess_kill(&outbox->children[i].process);
			outbox->children[i].killed = true;
			child_finish(&outbox->children[i]);
		}
	free(outbox);
}

void
outbox_metrics(const struct outbox *outbox, struct metrics *m)
{
	struct outbox_stats stats;

	outbox_stats(outbox, &stats);
	metrics_family(m, "abuseguard_notify_deliveries_total", "counter",
	               "Attempts to deliver a notice, by outcome (a failed one is retried, a "
	               "refused one is not).");
	metrics_sample(m, "abuseguard_notify_deliveries_total", stats.delivered, "outcome", "ok",
	               NULL);
	metrics_sample(m, "abuseguard_notify_deliveries_total", stats.failed, "outcome", "failed",
	               NULL);
	metrics_sample(m, "abuseguard_notify_deliveries_total", stats.refused_for_good, "outcome",
	               "refused", NULL);
	metrics_single(m, "abuseguard_notify_timeouts_total", "counter",
	               "Deliveries killed at notify.timeout.", stats.timeouts);
	metrics_single(m, "abuseguard_notify_outbox_depth", "gauge",
	               "Deliveries in the outbox, not yet delivered.", stats.depth);
	metrics_single(m, "abuseguard_notify_retrying", "gauge",
	               "Deliveries in the outbox that failed at least once.", stats.retrying);
	metrics_single(m, "abuseguard_notify_undeliverable", "gauge",
	               "Deliveries refused for good (a permanent MTA or hook error), kept, not "
	               "retried.",
	               stats.undeliverable);
	metrics_single(m, "abuseguard_notify_running", "gauge",
	               "Mail commands and exec hooks running now.", stats.running);
	metrics_single(m, "abuseguard_notify_queued_total", "counter",
	               "Deliveries queued in the outbox.", stats.queued);
	metrics_single(m, "abuseguard_notify_duplicates_total", "counter",
	               "Ticket events queued again and ignored.", stats.duplicate);
	metrics_single(m, "abuseguard_notify_refused_total", "counter",
	               "Ticket events not queued: the outbox was full (limits.outbox).",
	               stats.refused);
	metrics_single(m, "abuseguard_notify_in_doubt_total", "counter",
	               "Attempts a stop cut short, sent again with the same Message-ID.",
	               stats.in_doubt);
	metrics_single(m, "abuseguard_notify_output_truncated_total", "counter",
	               "Deliveries whose output passed limits.delivery_output.",
	               stats.output_truncated);
	metrics_single(m, "abuseguard_notify_render_errors_total", "counter",
	               "Ticket events that could not be rendered.", stats.render_errors);
}
