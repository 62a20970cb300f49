/*
 * The mail backend: the RFC 5322 message goes to the customer either by
 * SMTP submission to notify.smtp (the default, 127.0.0.1:25: works under
 * the unit's NoNewPrivileges, with no mail spool to write) or, when
 * notify.mail_command is set, on that command's stdin ("/usr/sbin/sendmail
 * -t -i" takes the recipients from To:). Either runs as a child; exit
 * status 0 means the MTA has the message, and from then on the MTA
 * retries.
 */
#include <stdio.h>
#include <unistd.h>

#include "deliver.h"
#include "smtp_submit.h"

/* The SMTP child's share of the backend's arguments. */
struct smtp_job {
	const struct notify_config *notify;
	const struct delivery *delivery;
};

static int
mail_enabled(const struct notify_config *notify)
{
	return notify->mail_command[0] != '\0' || notify->smtp[0] != '\0';
}

/* In the child: one submission; what failed goes to stderr, the outbox's last error. */
static int
smtp_child(void *arg)
{
	const struct smtp_job *job = arg;
	char helo[256], err[512];
	enum smtp_outcome outcome;
	int64_t timeout_ms = job->notify->timeout_ms;

	if (gethostname(helo, sizeof(helo)) < 0 || helo[0] == '\0')
		snprintf(helo, sizeof(helo), "localhost");
	helo[sizeof(helo) - 1] = '\0';
	/* A second before the outbox's kill, so the failure names its step. */
	if (timeout_ms > 2000)
		timeout_ms -= 1000;
	outcome = smtp_submit(job->notify->smtp, helo, job->delivery->payload,
	                      job->delivery->payload_length, timeout_ms, err, sizeof(err));
	if (outcome != SMTP_SENT)
		fprintf(stderr, "%s\n", err);
	return smtp_exit_status(outcome);
}

static int
mail_start(const struct notify_config *notify, const struct delivery *delivery, size_t output_max,
           struct subprocess *child, char *err, size_t errlen)
{
	struct smtp_job job = {.notify = notify, .delivery = delivery};
	int error;

	if (notify->mail_command[0] != '\0')
		error = subprocess_start(child, notify->mail_command, delivery->payload,
		                         delivery->payload_length, NULL, output_max, err, errlen);
	else
		error = subprocess_run(child, smtp_child, &job, output_max, err, errlen);
	return error < 0 ? error : DELIVER_STARTED;
}

const struct deliver_backend deliver_mail = {
    .name = "mail",
    .enabled = mail_enabled,
    .start = mail_start,
};
