/*
 * libFuzzer: whatever the relay answers (any bytes, replies cut short or
 * run together, endless lines, no answer at all), smtp_submit ends with
 * one of its outcomes, and a failure's message is printable, terminated
 * text that names the relay. Each input is the whole stream a relay on
 * loopback writes back, then it closes its side.
 */
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "smtp_submit.h"

static const char message[] = "From: abuse@provider.example\n"
                              "To: abuse@customer.example\n"
                              "Subject: [Abuse #1] Spam from 10.0.0.5\n"
                              "\n"
                              ".a line that starts with a dot\n"
                              "the notice\n";

static int listener = -1;
static char relay[32];

struct relay_stream {
	const uint8_t *data;
	size_t size;
};

/* The relay: takes one connection, writes the input, reads what comes until the client closes. */
static void *
relay_side(void *arg)
{
	const struct relay_stream *stream = arg;
	char sink[4096];
	size_t done = 0;
	int fd = accept(listener, NULL, NULL);

	if (fd < 0)
		return NULL;
	while (done < stream->size) {
		ssize_t sent = send(fd, stream->data + done, stream->size - done, MSG_NOSIGNAL);

		if (sent <= 0)
			break;
		done += (size_t)sent;
	}
	shutdown(fd, SHUT_WR);
	while (recv(fd, sink, sizeof(sink), 0) > 0)
		;
	close(fd);
	return NULL;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct sockaddr_in address = {.sin_family = AF_INET,
	                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t length = sizeof(address);

	(void)argc;
	(void)argv;
	listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listener < 0 || bind(listener, (struct sockaddr *)&address, sizeof(address)) < 0 ||
	    listen(listener, 4) < 0 ||
	    getsockname(listener, (struct sockaddr *)&address, &length) < 0)
		abort();
	snprintf(relay, sizeof(relay), "127.0.0.1:%u", ntohs(address.sin_port));
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct relay_stream stream = {.data = data, .size = size};
	char err[512];
	enum smtp_outcome outcome;
	pthread_t thread;
	size_t length;

	if (pthread_create(&thread, NULL, relay_side, &stream) != 0)
		abort();
	memset(err, 'x', sizeof(err));
	outcome = smtp_submit(relay, "fuzz.example", message, sizeof(message) - 1, 2000, err,
	                      sizeof(err));
	pthread_join(thread, NULL);
	if (outcome != SMTP_SENT && outcome != SMTP_REFUSED && outcome != SMTP_TEMPORARY)
		abort();
	if ((length = strnlen(err, sizeof(err))) == sizeof(err))
		abort(); /* not terminated */
	if (outcome != SMTP_SENT && strncmp(err, "smtp ", 5) != 0)
		abort(); /* a failure says what failed */
	for (size_t i = 0; i < length; i++)
		if ((unsigned char)err[i] < ' ' || (unsigned char)err[i] >= 0x7f)
			abort(); /* the relay's bytes reach the log as printable text only */
	if (smtp_exit_status(outcome) != 0 && outcome == SMTP_SENT)
		abort();
	return 0;
}
