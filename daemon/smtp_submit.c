/*
 * SMTP submission to a relay: connect, EHLO, MAIL FROM, RCPT TO, DATA
 * with the message dot-stuffed and in CRLF lines, QUIT. Every step waits
 * on poll() against one deadline; every reply is read up to
 * SMTP_REPLY_MAX bytes. No AUTH, no TLS, no name resolution.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "smtp_submit.h"

#define SMTP_ADDRESS_MAX 256

int
smtp_relay_parse(const char *relay, struct sockaddr_storage *address, socklen_t *length)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port_text, *end;
	bool bracketed = relay[0] == '[';
	unsigned long port;
	char *stop;

	if (bracketed) {
		if ((end = strchr(relay, ']')) == NULL || end[1] != ':')
			return -EINVAL;
		port_text = end + 2;
		relay++;
	} else {
		if ((end = strrchr(relay, ':')) == NULL)
			return -EINVAL;
		port_text = end + 1;
	}
	if ((size_t)(end - relay) >= sizeof(host) || !isdigit((unsigned char)port_text[0]))
		return -EINVAL;
	snprintf(host, sizeof(host), "%.*s", (int)(end - relay), relay);
	errno = 0;
	port = strtoul(port_text, &stop, 10);
	if (errno != 0 || *stop != '\0' || port == 0 || port > 65535)
		return -EINVAL;
	memset(address, 0, sizeof(*address));
	if (!bracketed) {
		struct sockaddr_in *in = (struct sockaddr_in *)address;

		if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
			return -EINVAL;
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		*length = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)address;

		if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
			return -EINVAL;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*length = sizeof(*in6);
	}
	return 0;
}

/* The address of a header's value: inside its last <...>, else the value trimmed. */
static int
header_address(const char *value, size_t length, char *out, size_t out_len)
{
	const char *open = NULL, *close = NULL;

	for (size_t i = 0; i < length; i++) {
		if (value[i] == '<')
			open = value + i;
		else if (value[i] == '>' && open != NULL)
			close = value + i;
	}
	if (open != NULL && close != NULL && close > open) {
		value = open + 1;
		length = (size_t)(close - open - 1);
	}
	while (length > 0 && isspace((unsigned char)value[0]))
		value++, length--;
	while (length > 0 && isspace((unsigned char)value[length - 1]))
		length--;
	if (length == 0 || length >= out_len || memchr(value, '@', length) == NULL)
		return -EINVAL;
	for (size_t i = 0; i < length; i++)
		if (isspace((unsigned char)value[i]) || value[i] == '<' || value[i] == '>' ||
		    value[i] == ',' || !isprint((unsigned char)value[i]))
			return -EINVAL;
	memcpy(out, value, length);
	out[length] = '\0';
	return 0;
}

int
smtp_envelope(const char *message, size_t length, char *from, size_t from_len, char *to,
              size_t to_len)
{
	const char *at = message, *end = message + length;
	bool have_from = false, have_to = false;

	/* Header lines up to the first empty one; a line starting with a blank continues the last.
	 */
	while (at < end && *at != '\n' && !(*at == '\r' && at + 1 < end && at[1] == '\n')) {
		const char *line_end = memchr(at, '\n', (size_t)(end - at)), *next;
		const char *value;

		line_end = line_end != NULL ? line_end : end;
		next = line_end;
		while (next + 1 < end && (next[1] == ' ' || next[1] == '\t')) {
			const char *more = memchr(next + 1, '\n', (size_t)(end - next - 1));

			next = more != NULL ? more : end;
		}
		value = memchr(at, ':', (size_t)(line_end - at));
		if (value != NULL) {
			size_t name_len = (size_t)(value - at);
			bool *seen = NULL;
			char *out = NULL;
			size_t out_len = 0;

			if (name_len == 4 && strncasecmp(at, "From", 4) == 0)
				seen = &have_from, out = from, out_len = from_len;
			else if (name_len == 2 && strncasecmp(at, "To", 2) == 0)
				seen = &have_to, out = to, out_len = to_len;
			if (seen != NULL && !*seen) {
				if (header_address(value + 1, (size_t)(next - value - 1), out,
				                   out_len) < 0)
					return -EINVAL;
				*seen = true;
			}
		}
		at = next < end ? next + 1 : end;
	}
	return have_from && have_to ? 0 : -EINVAL;
}

int
smtp_exit_status(enum smtp_outcome outcome)
{
	switch (outcome) {
	case SMTP_SENT:
		return EX_OK;
	case SMTP_REFUSED:
		return EX_UNAVAILABLE;
	case SMTP_TEMPORARY:
		break;
	}
	return EX_TEMPFAIL;
}

/* One submission's connection and what it has read. */
struct session {
	int fd;
	struct timespec deadline;
	const char *relay;
	char reply[SMTP_REPLY_MAX + 1];
	size_t reply_len;
	char *err;
	size_t errlen;
};

/* Milliseconds left before the deadline, at least 0. */
static int
remaining_ms(const struct session *session)
{
	struct timespec now;
	int64_t left;

	clock_gettime(CLOCK_MONOTONIC, &now);
	left = (session->deadline.tv_sec - now.tv_sec) * 1000 +
	       (session->deadline.tv_nsec - now.tv_nsec) / 1000000;
	return left < 0 ? 0 : left > 3600 * 1000 ? 3600 * 1000 : (int)left;
}

/* Waits for events on the session's socket. 0, or -ETIMEDOUT / -errno. */
static int
wait_for(struct session *session, short events)
{
	struct pollfd pfd = {.fd = session->fd, .events = events};

	for (;;) {
		int left = remaining_ms(session), ready;

		if (left == 0)
			return -ETIMEDOUT;
		ready = poll(&pfd, 1, left);
		if (ready > 0)
			return 0;
		if (ready < 0 && errno != EINTR)
			return -errno;
	}
}

static enum smtp_outcome
failed(struct session *session, enum smtp_outcome outcome, const char *step, const char *what)
{
	snprintf(session->err, session->errlen, "smtp %s: %s: %s", session->relay, step, what);
	return outcome;
}

static enum smtp_outcome
failed_errno(struct session *session, const char *step, int error)
{
	return failed(session, SMTP_TEMPORARY, step,
	              error == -ETIMEDOUT ? "no answer before notify.timeout" : strerror(-error));
}

static int
send_all(struct session *session, const char *data, size_t length)
{
	while (length > 0) {
		ssize_t sent = send(session->fd, data, length, MSG_NOSIGNAL);
		int error;

		if (sent > 0) {
			data += sent;
			length -= (size_t)sent;
			continue;
		}
		if (sent < 0 && errno == EINTR)
			continue;
		if (sent < 0 && errno != EAGAIN)
			return -errno;
		if ((error = wait_for(session, POLLOUT)) < 0)
			return error;
	}
	return 0;
}

/* The code of a complete reply in session->reply: its last line is "NNN " or "NNN\r\n". */
static int
reply_code(const struct session *session)
{
	const char *last = session->reply, *line;

	if (session->reply_len < 2 || session->reply[session->reply_len - 1] != '\n')
		return 0;
	for (line = session->reply; line < session->reply + session->reply_len - 1;) {
		const char *next = strchr(line, '\n');

		if (next == NULL || next >= session->reply + session->reply_len - 1)
			break;
		line = next + 1;
		last = line;
	}
	for (int i = 0; i < 3; i++)
		if (!isdigit((unsigned char)last[i]))
			return -EPROTO;
	if (last[3] == '-')
		return 0; /* a continuation line: more to come */
	if (last[3] != ' ' && last[3] != '\r' && last[3] != '\n')
		return -EPROTO;
	return (last[0] - '0') * 100 + (last[1] - '0') * 10 + (last[2] - '0');
}

/* Reads one whole reply; its code, or -errno (-EMSGSIZE past SMTP_REPLY_MAX). */
static int
read_reply(struct session *session)
{
	int code, error;

	session->reply_len = 0;
	session->reply[0] = '\0';
	for (;;) {
		ssize_t got;

		if ((code = reply_code(session)) != 0)
			return code;
		if (session->reply_len == SMTP_REPLY_MAX)
			return -EMSGSIZE;
		got = recv(session->fd, session->reply + session->reply_len,
		           SMTP_REPLY_MAX - session->reply_len, 0);
		if (got > 0) {
			session->reply_len += (size_t)got;
			session->reply[session->reply_len] = '\0';
			if (memchr(session->reply, '\0', session->reply_len) != NULL)
				return -EPROTO;
			continue;
		}
		if (got == 0)
			return -ECONNRESET;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		if ((error = wait_for(session, POLLIN)) < 0)
			return error;
	}
}

/* The reply's first line, printable, for an error message. */
static const char *
reply_text(struct session *session)
{
	size_t length = strcspn(session->reply, "\r\n");

	session->reply[length > 200 ? 200 : length] = '\0';
	for (char *c = session->reply; *c != '\0'; c++)
		if (!isprint((unsigned char)*c))
			*c = '?';
	return session->reply;
}

/*
 * Sends command (unless NULL) and reads the reply, which must be of class
 * expect (2 or 3). SMTP_SENT when it is, else what the failure means.
 */
static enum smtp_outcome
exchange(struct session *session, const char *command, const char *step, int expect)
{
	int code;

	if (command != NULL && (code = send_all(session, command, strlen(command))) < 0)
		return failed_errno(session, step, code);
	if ((code = read_reply(session)) < 0)
		return code == -EMSGSIZE || code == -EPROTO
		           ? failed(session, SMTP_TEMPORARY, step, "not an SMTP reply")
		           : failed_errno(session, step, code);
	if (code / 100 == expect)
		return SMTP_SENT;
	return failed(session, code / 100 == 5 ? SMTP_REFUSED : SMTP_TEMPORARY, step,
	              reply_text(session));
}

/* The message as DATA: CRLF line ends, a leading dot doubled, the final dot line. */
static char *
data_body(const char *message, size_t length, size_t *out_len)
{
	char *body = malloc(length * 2 + 8), *out = body;
	bool line_start = true;

	if (body == NULL)
		return NULL;
	for (size_t i = 0; i < length; i++) {
		char c = message[i];

		if (line_start && c == '.')
			*out++ = '.';
		if (c == '\n' && (i == 0 || message[i - 1] != '\r'))
			*out++ = '\r';
		*out++ = c;
		line_start = c == '\n';
	}
	if (!line_start) {
		*out++ = '\r';
		*out++ = '\n';
	}
	memcpy(out, ".\r\n", 3);
	*out_len = (size_t)(out + 3 - body);
	return body;
}

static enum smtp_outcome
connect_relay(struct session *session)
{
	struct sockaddr_storage address;
	socklen_t length, error_len = sizeof(int);
	int error = 0;

	if (smtp_relay_parse(session->relay, &address, &length) < 0)
		return failed(session, SMTP_TEMPORARY, "relay", "not ADDRESS:PORT");
	session->fd = socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (session->fd < 0)
		return failed_errno(session, "socket", -errno);
	if (connect(session->fd, (struct sockaddr *)&address, length) < 0) {
		if (errno != EINPROGRESS)
			return failed_errno(session, "connect", -errno);
		if ((error = wait_for(session, POLLOUT)) < 0)
			return failed_errno(session, "connect", error);
		if (getsockopt(session->fd, SOL_SOCKET, SO_ERROR, &error, &error_len) < 0)
			return failed_errno(session, "connect", -errno);
		if (error != 0)
			return failed_errno(session, "connect", -error);
	}
	return exchange(session, NULL, "greeting", 2);
}

static enum smtp_outcome
dialogue(struct session *session, const char *helo, const char *message, size_t length)
{
	char from[SMTP_ADDRESS_MAX], to[SMTP_ADDRESS_MAX], line[2 * SMTP_ADDRESS_MAX];
	enum smtp_outcome outcome;
	size_t body_len;
	char *body;
	int error;

	if (smtp_envelope(message, length, from, sizeof(from), to, sizeof(to)) < 0)
		return failed(session, SMTP_REFUSED, "envelope", "the message has no From: or To:");
	if ((outcome = connect_relay(session)) != SMTP_SENT)
		return outcome;
	snprintf(line, sizeof(line), "EHLO %s\r\n", helo);
	if ((outcome = exchange(session, line, "EHLO", 2)) == SMTP_REFUSED) {
		snprintf(line, sizeof(line), "HELO %s\r\n", helo);
		outcome = exchange(session, line, "HELO", 2);
	}
	if (outcome != SMTP_SENT)
		return outcome;
	snprintf(line, sizeof(line), "MAIL FROM:<%s>\r\n", from);
	if ((outcome = exchange(session, line, "MAIL FROM", 2)) != SMTP_SENT)
		return outcome;
	snprintf(line, sizeof(line), "RCPT TO:<%s>\r\n", to);
	if ((outcome = exchange(session, line, "RCPT TO", 2)) != SMTP_SENT)
		return outcome;
	if ((outcome = exchange(session, "DATA\r\n", "DATA", 3)) != SMTP_SENT)
		return outcome;
	if ((body = data_body(message, length, &body_len)) == NULL)
		return failed(session, SMTP_TEMPORARY, "DATA", "out of memory");
	error = send_all(session, body, body_len);
	free(body);
	if (error < 0)
		return failed_errno(session, "message", error);
	if ((outcome = exchange(session, NULL, "end of message", 2)) != SMTP_SENT)
		return outcome;
	/* Taken: the answer to QUIT changes nothing. */
	exchange(session, "QUIT\r\n", "QUIT", 2);
	return SMTP_SENT;
}

enum smtp_outcome
smtp_submit(const char *relay, const char *helo, const void *message, size_t length,
            int64_t timeout_ms, char *err, size_t errlen)
{
	struct session session = {.fd = -1, .relay = relay, .err = err, .errlen = errlen};
	enum smtp_outcome outcome;

	clock_gettime(CLOCK_MONOTONIC, &session.deadline);
	session.deadline.tv_sec += timeout_ms / 1000;
	session.deadline.tv_nsec += (timeout_ms % 1000) * 1000000;
	if (session.deadline.tv_nsec >= 1000000000) {
		session.deadline.tv_sec++;
		session.deadline.tv_nsec -= 1000000000;
	}
	err[0] = '\0';
	outcome = dialogue(&session, helo, message, length);
	if (session.fd >= 0)
		close(session.fd);
	return outcome;
}
