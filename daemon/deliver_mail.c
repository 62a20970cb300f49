/*
 * The mail backend: the RFC 5322 message on the mail command's stdin
 * ("/usr/sbin/sendmail -t -i" takes the recipients from To:). Exit status
 * 0 means the MTA has queued it; from then on the MTA retries.
 */
#include "deliver.h"

static int
mail_enabled(const struct notify_config *notify)
{
	return notify->mail_command[0] != '\0';
}

static int
mail_start(const struct notify_config *notify, const struct delivery *delivery, size_t output_max,
           struct subprocess *child, char *err, size_t errlen)
{
	int error = subprocess_start(child, notify->mail_command, delivery->payload,
	                             delivery->payload_length, NULL, output_max, err, errlen);

	return error < 0 ? error : DELIVER_STARTED;
}

const struct deliver_backend deliver_mail = {
    .name = "mail",
    .enabled = mail_enabled,
    .start = mail_start,
};
