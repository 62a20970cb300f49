/*
 * The event log for SIEMs: one JSON line per ticket event, appended and
 * flushed to disk before the outbox records it delivered. The file is
 * opened for each line, so logrotate may move it at any time.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "deliver.h"

static int
log_enabled(const struct notify_config *notify)
{
	return notify->event_log[0] != '\0';
}

static int
log_start(const struct notify_config *notify, const struct delivery *delivery, size_t output_max,
          struct subprocess *child, char *err, size_t errlen)
{
	const char *at = delivery->payload;
	size_t left = delivery->payload_length;
	int fd, error = 0;

	(void)output_max;
	(void)child;
	fd = open(notify->event_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
	if (fd < 0) {
		error = -errno;
		snprintf(err, errlen, "%s: %s", notify->event_log, strerror(errno));
		return error;
	}
	/* O_APPEND: one write of a whole line never interleaves with another writer's. */
	while (left > 0 && error == 0) {
		ssize_t written = write(fd, at, left);

		if (written < 0 && errno == EINTR)
			continue;
		if (written < 0)
			error = -errno;
		else {
			at += written;
			left -= (size_t)written;
		}
	}
	if (error == 0 && fdatasync(fd) < 0)
		error = -errno;
	if (error < 0)
		snprintf(err, errlen, "%s: %s", notify->event_log, strerror(-error));
	close(fd);
	return error < 0 ? error : DELIVER_DONE;
}

const struct deliver_backend deliver_log = {
    .name = "log",
    .enabled = log_enabled,
    .start = log_start,
};
