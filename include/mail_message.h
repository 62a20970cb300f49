/*
 * The notice as mail: an RFC 5322 message with MIME parts for the mail
 * command (sendmail -t reads its recipients from To:). A human-readable
 * part in the kind's own template (notice, update, deadline warning,
 * closure, note), then for a complaint the X-ARF JSON and the text log as
 * attachments. A note or a closure carries no X-ARF part, so a customer's
 * ticket system never files it as a new complaint. Lines end in "\n", as a
 * local sendmail expects. Pure.
 */
#ifndef MAIL_MESSAGE_H
#define MAIL_MESSAGE_H

#include <stddef.h>

#include "report.h"

/* Room for the human-readable part; the attachments come on top. */
#define MAIL_MESSAGE_TEXT_MAX 16384

/*
 * Renders the message into a new buffer (*out, *length; the caller frees
 * it). -EINVAL when the sender or recipient is not a plain mail address
 * (customer_contact_valid)
 * (the default queue, which has none, goes to the sender), -ENOMEM.
 */
int mail_message_render(const struct abuse_report *report, char **out, size_t *length);

#endif
