/*
 * The log as journald receives it: this test binds a datagram socket as the
 * journal does, points the log at it and reads each message back: PRIORITY=,
 * SYSLOG_IDENTIFIER=, the caller's fields (SOURCE=, CATEGORY=, INTERFACE=),
 * MESSAGE=, a message's control characters escaped so that it stays one
 * line, a field with a newline in the binary form that cannot forge a field,
 * and stderr again when the journal goes away. $JOURNAL_STREAM is
 * matched against stderr as systemd sets it.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "check.h"
#include "log.h"

static char datagram[8192];
static ssize_t datagram_len;

/* The next datagram, or 0 bytes when none is waiting. */
static void
receive(int fd)
{
	datagram_len = recv(fd, datagram, sizeof(datagram) - 1, MSG_DONTWAIT);
	datagram[datagram_len > 0 ? datagram_len : 0] = '\0';
}

static int
has_line(const char *line)
{
	char wanted[512];

	snprintf(wanted, sizeof(wanted), "%s\n", line);
	/* A field is a whole line: at the start or after a newline. */
	return strncmp(datagram, wanted, strlen(wanted)) == 0 ||
	       memmem(datagram, (size_t)(datagram_len > 0 ? datagram_len : 0), wanted,
	              strlen(wanted)) != NULL;
}

int
main(void)
{
	char dir[] = "/tmp/abuseguard-log-XXXXXX", socket_path[128], err_path[128], stream[64];
	struct sockaddr_un address = {.sun_family = AF_UNIX};
	const char *fields[] = {"SOURCE=10.0.0.5", "CATEGORY=spam", "INTERFACE=tap3", NULL};
	const char *forged[] = {"SOURCE=10.0.0.5\nPRIORITY=0", NULL};
	struct stat status;
	int journal, err_fd, saved_stderr = dup(STDERR_FILENO);
	char expected[64], text[4096];
	uint64_t length;
	FILE *err_file;

	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(socket_path, sizeof(socket_path), "%s/socket", dir);
	snprintf(err_path, sizeof(err_path), "%s/stderr", dir);

	/* stderr to a file, as systemd connects it to the journal's stream. */
	err_fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(err_fd, STDERR_FILENO);
	fstat(STDERR_FILENO, &status);
	unsetenv("JOURNAL_STREAM");
	CHECK(!log_stderr_is_journal(), "without JOURNAL_STREAM stderr is not the journal");
	snprintf(stream, sizeof(stream), "%llu:%llu", (unsigned long long)status.st_dev,
	         (unsigned long long)status.st_ino + 1);
	setenv("JOURNAL_STREAM", stream, 1);
	CHECK(!log_stderr_is_journal(), "JOURNAL_STREAM naming another file is not our stderr");
	snprintf(stream, sizeof(stream), "%llu:%llu", (unsigned long long)status.st_dev,
	         (unsigned long long)status.st_ino);
	setenv("JOURNAL_STREAM", stream, 1);
	CHECK(log_stderr_is_journal(), "JOURNAL_STREAM=%s names our stderr", stream);

	journal = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	strcpy(address.sun_path, socket_path);
	if (bind(journal, (struct sockaddr *)&address, sizeof(address)) == -1)
		return 1;
	log_init(1, 0, "test_log");
	CHECK(log_journal_open(socket_path) == 0, "the log connects to the journal's socket");

	log_fields(LOG_WARNING, fields, "10.0.0.5: banned for %s", "1h");
	receive(journal);
	CHECK(has_line("PRIORITY=4") && has_line("SYSLOG_IDENTIFIER=test_log"),
	      "a warning arrives with PRIORITY=4 and SYSLOG_IDENTIFIER");
	CHECK(has_line("SOURCE=10.0.0.5") && has_line("CATEGORY=spam") &&
	          has_line("INTERFACE=tap3"),
	      "the caller's SOURCE=, CATEGORY= and INTERFACE= fields arrive");
	CHECK(has_line("MESSAGE=10.0.0.5: banned for 1h"), "MESSAGE= holds the text");

	log_info("started");
	receive(journal);
	CHECK(has_line("PRIORITY=6") && has_line("MESSAGE=started"), "log_info is PRIORITY=6");
	log_debug("not shown");
	receive(journal);
	CHECK(datagram_len <= 0, "log_debug sends nothing without -v");

	log_warnx("reason: %s", "first\nabuseguardd: 10.0.0.9: banned");
	receive(journal);
	CHECK(has_line("MESSAGE=reason: first\\x0aabuseguardd: 10.0.0.9: banned"),
	      "a newline from outside is escaped: the message stays one line, forging none");
	log_warnx("note: %s", "\x1b[2J\x1b]0;owned\x07red\r\x7f");
	receive(journal);
	CHECK(has_line("MESSAGE=note: \\x1b[2J\\x1b]0;owned\\x07red\\x0d\\x7f"),
	      "terminal escapes, BEL, CR and DEL are escaped as \\xNN");
	log_warnx("csi: %s", "a\xc2\x9b"
	                     "2Jb\xc2\xa0"
	                     "c");
	receive(journal);
	CHECK(has_line("MESSAGE=csi: a\\xc2\\x9b2Jb\xc2\xa0"
	               "c"),
	      "a C1 control in UTF-8 (CSI, U+009B) is escaped; the no-break space U+00A0 is not");
	log_warnx("path: %s", "/caf\xc3\xa9\\x41");
	receive(journal);
	CHECK(has_line("MESSAGE=path: /caf\xc3\xa9\\x41"),
	      "UTF-8 and backslashes are left as they are");

	log_fields(LOG_INFO, forged, "forged");
	receive(journal);
	length = htole64(strlen(forged[0]) - strlen("SOURCE="));
	memcpy(expected, "SOURCE\n", 7);
	memcpy(expected + 7, &length, 8);
	memcpy(expected + 15, "10.0.0.5\nPRIORITY=0\n", 20);
	CHECK(memmem(datagram, (size_t)datagram_len, expected, 35) != NULL &&
	          strncmp(datagram, "PRIORITY=6\n", 11) == 0,
	      "a field value with a newline is sent as data, so it cannot add a field");

	/* The journal goes away: messages go to stderr again. */
	close(journal);
	unlink(socket_path);
	log_warnx("after the journal: %s", "x\n2026-12-02T14:00:00.000Z 10.0.0.9: banned");
	fflush(stderr);
	err_file = fopen(err_path, "r");
	text[fread(text, 1, sizeof(text) - 1, err_file)] = '\0';
	fclose(err_file);
	CHECK(strstr(text, "after the journal") != NULL,
	      "with the journal gone the message is written to stderr");
	CHECK(strstr(text, "\n2026-12-02T14:00:00.000Z 10.0.0.9") == NULL &&
	          strstr(text, "x\\x0a2026-12-02T14:00:00.000Z 10.0.0.9: banned\n") != NULL,
	      "on stderr too, a newline from outside starts no line of its own");
	log_journal_close();
	CHECK(log_journal_open(socket_path) == -ENOENT,
	      "a journal socket that is not there is -ENOENT");

	dup2(saved_stderr, STDERR_FILENO);
	unlink(err_path);
	rmdir(dir);
	return check_done();
}
