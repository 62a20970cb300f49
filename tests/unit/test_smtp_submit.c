/*
 * SMTP submission as an MTA sees it: against a scripted relay on the
 * loopback, a notice goes through EHLO, MAIL FROM (the From: address),
 * RCPT TO (the To: address) and DATA with CRLF lines and a leading dot
 * doubled; a 5xx is a refusal (sendmail's EX_UNAVAILABLE), a 4xx, a
 * closed port, a silent relay or an endless reply are temporary
 * (EX_TEMPFAIL) and name the step; a silent relay costs no more than the
 * timeout. The mail backend runs it in a child the outbox can watch.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "deliver.h"
#include "smtp_submit.h"

static const char message[] = "From: \"Abuse Desk\" <abuse@provider.example>\n"
                              "To: Example Customer\n <abuse@customer.example>\n"
                              "Subject: [Abuse #1] spam from 10.0.0.5\n"
                              "\n"
                              "A line.\n"
                              ".a line that starts with a dot\n"
                              "last line without an end";

/* How the scripted relay answers. */
enum script {
	RELAY_ACCEPTS,
	RELAY_REFUSES_RCPT,  /* 550 to RCPT TO */
	RELAY_BUSY,          /* 421 greeting */
	RELAY_SILENT,        /* accepts the connection, says nothing */
	RELAY_ENDLESS_REPLY, /* a greeting that never ends */
};

struct relay {
	pid_t pid;
	int transcript; /* what the client sent, read end */
	char address[64];
};

static void
say(int fd, const char *text)
{
	if (write(fd, text, strlen(text)) < 0)
		_exit(1);
}

/* Reads one line (or the DATA up to the final dot) into the transcript. */
static int
hear(int fd, int transcript, const char *until)
{
	char seen[65536];
	size_t length = 0;

	while (length < sizeof(seen) - 1) {
		ssize_t got = read(fd, seen + length, 1);

		if (got <= 0)
			return -1;
		length++;
		seen[length] = '\0';
		if (length >= strlen(until) && strcmp(seen + length - strlen(until), until) == 0)
			break;
	}
	if (write(transcript, seen, length) < 0)
		return -1;
	return 0;
}

static void
serve(int listener, int transcript, enum script script)
{
	int fd = accept(listener, NULL, NULL);
	char endless[1024];

	if (fd < 0)
		_exit(1);
	switch (script) {
	case RELAY_SILENT:
		pause();
		_exit(0);
	case RELAY_BUSY:
		say(fd, "421 4.3.2 lab.example busy, try later\r\n");
		_exit(0);
	case RELAY_ENDLESS_REPLY:
		memset(endless, 'x', sizeof(endless));
		say(fd, "220-");
		for (int i = 0; i < 64; i++)
			if (write(fd, endless, sizeof(endless)) < 0)
				_exit(0);
		pause();
		_exit(0);
	case RELAY_ACCEPTS:
	case RELAY_REFUSES_RCPT:
		break;
	}
	say(fd, "220 lab.example ESMTP\r\n");
	hear(fd, transcript, "\r\n");
	say(fd, "250-lab.example\r\n250-PIPELINING\r\n250 8BITMIME\r\n");
	hear(fd, transcript, "\r\n");
	say(fd, "250 2.1.0 Ok\r\n");
	hear(fd, transcript, "\r\n");
	if (script == RELAY_REFUSES_RCPT) {
		say(fd, "550 5.1.1 <abuse@customer.example>: Recipient address rejected\r\n");
		hear(fd, transcript, "\r\n");
		_exit(0);
	}
	say(fd, "250 2.1.5 Ok\r\n");
	hear(fd, transcript, "\r\n");
	say(fd, "354 End data with <CR><LF>.<CR><LF>\r\n");
	hear(fd, transcript, "\r\n.\r\n");
	say(fd, "250 2.0.0 Ok: queued as 4F00D\r\n");
	hear(fd, transcript, "\r\n");
	say(fd, "221 2.0.0 Bye\r\n");
	_exit(0);
}

/* A relay on 127.0.0.1 and a free port, answering one connection by script. */
static int
relay_start(struct relay *relay, enum script script)
{
	struct sockaddr_in address = {.sin_family = AF_INET};
	socklen_t length = sizeof(address);
	int listener, pipe_fds[2];

	address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((listener = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    bind(listener, (struct sockaddr *)&address, sizeof(address)) < 0 ||
	    listen(listener, 1) < 0 ||
	    getsockname(listener, (struct sockaddr *)&address, &length) < 0 || pipe(pipe_fds) < 0)
		return -errno;
	snprintf(relay->address, sizeof(relay->address), "127.0.0.1:%u", ntohs(address.sin_port));
	if ((relay->pid = fork()) == 0) {
		close(pipe_fds[0]);
		alarm(10);
		serve(listener, pipe_fds[1], script);
	}
	close(listener);
	close(pipe_fds[1]);
	relay->transcript = pipe_fds[0];
	return 0;
}

/* Stops the relay; what the client sent, NUL-terminated, in buf. */
static void
relay_stop(struct relay *relay, char *buf, size_t len)
{
	size_t have = 0;
	ssize_t got;

	kill(relay->pid, SIGTERM);
	waitpid(relay->pid, NULL, 0);
	while (have < len - 1 && (got = read(relay->transcript, buf + have, len - 1 - have)) > 0)
		have += (size_t)got;
	buf[have] = '\0';
	close(relay->transcript);
}

static int64_t
now_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static void
test_relay_and_envelope(void)
{
	struct sockaddr_storage address;
	socklen_t length;
	char from[64], to[64];

	CHECK(smtp_relay_parse("127.0.0.1:25", &address, &length) == 0 &&
	          address.ss_family == AF_INET &&
	          ntohs(((struct sockaddr_in *)&address)->sin_port) == 25,
	      "127.0.0.1:25 is an IPv4 relay on port 25");
	CHECK(smtp_relay_parse("[::1]:587", &address, &length) == 0 &&
	          address.ss_family == AF_INET6 &&
	          ntohs(((struct sockaddr_in6 *)&address)->sin6_port) == 587,
	      "[::1]:587 is an IPv6 relay on port 587");
	CHECK(smtp_relay_parse("mail.example:25", &address, &length) == -EINVAL &&
	          smtp_relay_parse("127.0.0.1", &address, &length) == -EINVAL &&
	          smtp_relay_parse("127.0.0.1:0", &address, &length) == -EINVAL &&
	          smtp_relay_parse("127.0.0.1:65536", &address, &length) == -EINVAL &&
	          smtp_relay_parse("::1:25", &address, &length) == -EINVAL &&
	          smtp_relay_parse("[::1]25", &address, &length) == -EINVAL,
	      "a name, a missing or out-of-range port and an unbracketed IPv6 address are refused");
	CHECK(smtp_envelope(message, strlen(message), from, sizeof(from), to, sizeof(to)) == 0 &&
	          strcmp(from, "abuse@provider.example") == 0 &&
	          strcmp(to, "abuse@customer.example") == 0,
	      "the envelope is From:'s and the folded To:'s address: %s -> %s", from, to);
	CHECK(smtp_envelope("From: a@b.example\n\nTo: c@d.example\n", 35, from, sizeof(from), to,
	                    sizeof(to)) == -EINVAL,
	      "a To: in the body is no recipient: the message is refused");
}

static void
test_sent(void)
{
	struct relay relay;
	char err[512], heard[8192];
	enum smtp_outcome outcome;

	relay_start(&relay, RELAY_ACCEPTS);
	outcome = smtp_submit(relay.address, "hv.example", message, strlen(message), 5000, err,
	                      sizeof(err));
	relay_stop(&relay, heard, sizeof(heard));
	CHECK(outcome == SMTP_SENT && smtp_exit_status(outcome) == EX_OK,
	      "a relay that takes the message: sent, exit status 0 (%s)", err);
	CHECK(strstr(heard, "EHLO hv.example\r\nMAIL FROM:<abuse@provider.example>\r\n"
	                    "RCPT TO:<abuse@customer.example>\r\nDATA\r\n") == heard,
	      "the relay heard EHLO, MAIL FROM the sender, RCPT TO the customer, DATA");
	CHECK(strstr(heard, "\r\nA line.\r\n..a line that starts with a dot\r\n"
	                    "last line without an end\r\n.\r\nQUIT\r\n") != NULL,
	      "the message went in CRLF lines, its leading dot doubled, ended by a dot line");
}

static void
test_failures(void)
{
	struct relay relay;
	char err[512], heard[8192];
	enum smtp_outcome outcome;
	int64_t started;

	relay_start(&relay, RELAY_REFUSES_RCPT);
	outcome = smtp_submit(relay.address, "hv.example", message, strlen(message), 5000, err,
	                      sizeof(err));
	relay_stop(&relay, heard, sizeof(heard));
	CHECK(outcome == SMTP_REFUSED && smtp_exit_status(outcome) == EX_UNAVAILABLE &&
	          strstr(err, "RCPT TO: 550 5.1.1 <abuse@customer.example>") != NULL &&
	          strstr(err, relay.address) != NULL,
	      "a 550 to RCPT TO is a refusal (exit status 69) naming the relay, step and reply: %s",
	      err);
	CHECK(strstr(heard, "DATA") == NULL, "nothing is sent after the refusal");

	relay_start(&relay, RELAY_BUSY);
	outcome = smtp_submit(relay.address, "hv.example", message, strlen(message), 5000, err,
	                      sizeof(err));
	relay_stop(&relay, heard, sizeof(heard));
	CHECK(outcome == SMTP_TEMPORARY && smtp_exit_status(outcome) == EX_TEMPFAIL &&
	          strstr(err, "greeting: 421 4.3.2") != NULL,
	      "a 421 greeting is temporary (exit status 75): %s", err);

	relay_start(&relay, RELAY_SILENT);
	started = now_ms();
	outcome = smtp_submit(relay.address, "hv.example", message, strlen(message), 300, err,
	                      sizeof(err));
	relay_stop(&relay, heard, sizeof(heard));
	CHECK(outcome == SMTP_TEMPORARY && strstr(err, "greeting: no answer") != NULL &&
	          now_ms() - started < 2000,
	      "a silent relay is given up at the timeout (300 ms; took %lld ms): %s",
	      (long long)(now_ms() - started), err);

	relay_start(&relay, RELAY_ENDLESS_REPLY);
	outcome = smtp_submit(relay.address, "hv.example", message, strlen(message), 5000, err,
	                      sizeof(err));
	relay_stop(&relay, heard, sizeof(heard));
	CHECK(outcome == SMTP_TEMPORARY && strstr(err, "not an SMTP reply") != NULL,
	      "a reply longer than %d bytes is not read on: %s", SMTP_REPLY_MAX, err);

	/* The relay's port, now closed. */
	outcome = smtp_submit(relay.address, "hv.example", message, strlen(message), 5000, err,
	                      sizeof(err));
	CHECK(outcome == SMTP_TEMPORARY && strstr(err, "connect: Connection refused") != NULL,
	      "a relay that is not listening is temporary: %s", err);
}

/* The mail backend with notify.smtp: a child the outbox reaps, its exit status the outcome. */
static int
backend_delivers(enum script script, int *status, char *output, size_t output_len)
{
	struct config config;
	struct relay relay;
	struct subprocess child;
	struct delivery delivery = {.payload = message, .payload_length = strlen(message)};
	char err[256], heard[8192];
	int error;

	config_defaults(&config);
	relay_start(&relay, script);
	snprintf(config.notify.smtp, sizeof(config.notify.smtp), "%s", relay.address);
	config.notify.timeout_ms = 5000;
	error = deliver_mail.start(&config.notify, &delivery, 4096, &child, err, sizeof(err));
	if (error == DELIVER_STARTED) {
		/* As the outbox does: reaped once its pidfd says it has exited. */
		struct pollfd exited = {.fd = child.pidfd, .events = POLLIN};

		poll(&exited, 1, 10000);
		error = subprocess_reap(&child, status);
	}
	snprintf(output, output_len, "%s", error == 0 && child.output ? child.output : err);
	if (error == 0)
		subprocess_close(&child);
	relay_stop(&relay, heard, sizeof(heard));
	return error;
}

static void
test_backend(void)
{
	struct config config;
	char output[512];
	int status = -1;

	config_defaults(&config);
	CHECK(strcmp(config.notify.smtp, "127.0.0.1:25") == 0 &&
	          config.notify.mail_command[0] == '\0' && deliver_mail.enabled(&config.notify),
	      "by default the mail backend submits to 127.0.0.1:25");
	config.notify.smtp[0] = '\0';
	CHECK(!deliver_mail.enabled(&config.notify),
	      "with smtp and mail_command \"\" no mail goes");

	CHECK(backend_delivers(RELAY_ACCEPTS, &status, output, sizeof(output)) == 0 &&
	          WIFEXITED(status) && WEXITSTATUS(status) == 0 && output[0] == '\0',
	      "the backend's child submits the notice and exits 0 (status %#x, output \"%s\")",
	      status, output);
	CHECK(backend_delivers(RELAY_REFUSES_RCPT, &status, output, sizeof(output)) == 0 &&
	          WIFEXITED(status) && WEXITSTATUS(status) == EX_UNAVAILABLE &&
	          strstr(output, "RCPT TO: 550") != NULL,
	      "a refusal: the child exits 69 and its output, the outbox's last error, says why: %s",
	      output);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	test_relay_and_envelope();
	test_sent();
	test_failures();
	test_backend();
	return check_done();
}
