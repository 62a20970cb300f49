/*
 * Delivery backends, looked up by name (OpenSMTPD's delivery_backend
 * pattern): the outbox knows only this interface. "mail" pipes the RFC 5322
 * message into notify.mail_command, "exec" the ticket JSON into
 * notify.exec, "log" appends the ticket JSON as one line to
 * notify.event_log. A backend either starts a child for the outbox to
 * watch or finishes at once.
 */
#ifndef DELIVER_H
#define DELIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "subprocess.h"

/* One queued delivery, as the outbox hands it to a backend. */
struct delivery {
	int64_t id;
	int64_t ticket_id, event_id;
	const char *kind;       /* report_kind_name() */
	const char *message_id; /* the same on every attempt */
	const void *payload;
	size_t payload_length;
	unsigned attempt; /* 1 for the first */
};

enum deliver_result {
	DELIVER_DONE = 0,    /* delivered already */
	DELIVER_STARTED = 1, /* *child runs; its exit status 0 means delivered */
};

struct deliver_backend {
	const char *name;
	/* Is the backend configured at all? */
	int (*enabled)(const struct notify_config *notify);
	/*
	 * DELIVER_DONE, DELIVER_STARTED with *child filled, or -errno with
	 * what failed in err.
	 */
	int (*start)(const struct notify_config *notify, const struct delivery *delivery,
	             size_t output_max, struct subprocess *child, char *err, size_t errlen);
};

/*
 * Is a child's failure for good? status as waitpid gives it, output what
 * it wrote (its first line counts). Permanent: exit status EX_DATAERR,
 * EX_NOUSER, EX_NOHOST, EX_UNAVAILABLE or EX_PROTOCOL (sysexits.h, what
 * sendmail(1) and most MTAs' sendmail use), or output that starts with an
 * SMTP reply of class 5 ("550 5.1.1 ..."). Anything else, EX_TEMPFAIL,
 * a timeout or a signal among them, is worth retrying.
 */
bool deliver_refused_for_good(int status, const char *output);
/* The backend of that name, or NULL. */
const struct deliver_backend *deliver_backend_lookup(const char *name);
/* Every backend, for the outbox to offer a report to each: NULL-terminated. */
extern const struct deliver_backend *const deliver_backends[];

extern const struct deliver_backend deliver_mail;
extern const struct deliver_backend deliver_exec;
extern const struct deliver_backend deliver_log;

#endif
