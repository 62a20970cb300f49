/*
 * SMTP submission of one RFC 5322 message to a relay (RFC 5321): the
 * notice goes to an MTA listening on an address, so the daemon needs no
 * setgid sendmail, no writable mail spool and no new privileges. The
 * relay is an address literal and a port ("127.0.0.1:25",
 * "[::1]:25"); the daemon resolves no names. Plain SMTP without AUTH or
 * TLS: a relay on the host itself or one that trusts the host by address.
 */
#ifndef SMTP_SUBMIT_H
#define SMTP_SUBMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* The longest reply read from the relay (all lines of it), in bytes. */
#define SMTP_REPLY_MAX 4096

/* "ADDRESS:PORT" or "[IPV6]:PORT" into *address. 0 or -EINVAL. */
int smtp_relay_parse(const char *relay, struct sockaddr_storage *address, socklen_t *length);

/*
 * The envelope of message: the address of its From: and of its To:
 * header ("Name <a@b>" or "a@b"). 0, or -EINVAL if either is missing.
 */
int smtp_envelope(const char *message, size_t length, char *from, size_t from_len, char *to,
                  size_t to_len);

/* How a submission ended. */
enum smtp_outcome {
	SMTP_SENT = 0,      /* the relay took the message (250 after DATA) */
	SMTP_TEMPORARY = 1, /* unreachable, timed out, a 4xx reply: try again later */
	SMTP_REFUSED = 2,   /* a 5xx reply: the relay will not take this message */
};

/*
 * Submits message to relay within timeout_ms (connect, every reply and
 * the upload together), blocking: the daemon runs it in a child. Returns
 * the outcome; unless SMTP_SENT, err says which step failed and the
 * relay's reply.
 */
enum smtp_outcome smtp_submit(const char *relay, const char *helo, const void *message,
                              size_t length, int64_t timeout_ms, char *err, size_t errlen);

/* The child's exit status for an outcome, as sendmail(8) would exit (sysexits.h). */
int smtp_exit_status(enum smtp_outcome outcome);

#endif
