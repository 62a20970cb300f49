/* The Prometheus text format, and the file node_exporter reads. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "metrics.h"

void
metrics_init(struct metrics *metrics)
{
	memset(metrics, 0, sizeof(*metrics));
}

void
metrics_free(struct metrics *metrics)
{
	free(metrics->text);
	metrics_init(metrics);
}

/* Appends length bytes, or drops the whole line and counts it. */
static void
append(struct metrics *metrics, const char *text, size_t length)
{
	if (metrics->len + length + 1 > metrics->size) {
		size_t size = metrics->size > 0 ? metrics->size : 4096;
		char *grown;

		while (size < metrics->len + length + 1)
			size *= 2;
		if (size > METRICS_MAX_BYTES || (grown = realloc(metrics->text, size)) == NULL) {
			metrics->dropped++;
			return;
		}
		metrics->text = grown;
		metrics->size = size;
	}
	memcpy(metrics->text + metrics->len, text, length);
	metrics->len += length;
	metrics->text[metrics->len] = '\0';
}

void
metrics_family(struct metrics *metrics, const char *name, const char *type, const char *help)
{
	char line[512];
	int length =
	    snprintf(line, sizeof(line), "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);

	if (length > 0 && (size_t)length < sizeof(line))
		append(metrics, line, (size_t)length);
	else
		metrics->dropped++;
}

/* A label value as the format wants it: backslash, double quote and newline escaped. */
static size_t
escape_label(const char *value, char *out, size_t size)
{
	size_t used = 0;

	for (; *value != '\0' && used + 3 < size; value++) {
		if (*value == '\\' || *value == '"' || *value == '\n') {
			out[used++] = '\\';
			out[used++] = *value == '\n' ? 'n' : *value;
		} else {
			out[used++] = *value;
		}
	}
	out[used] = '\0';
	return used;
}

void
metrics_sample(struct metrics *metrics, const char *name, uint64_t value, ...)
{
	char line[1024], escaped[256];
	size_t used;
	const char *label;
	va_list ap;
	int labels = 0;

	used = (size_t)snprintf(line, sizeof(line), "%s", name);
	va_start(ap, value);
	while ((label = va_arg(ap, const char *)) != NULL && used < sizeof(line)) {
		escape_label(va_arg(ap, const char *), escaped, sizeof(escaped));
		used += (size_t)snprintf(line + used, sizeof(line) - used, "%s%s=\"%s\"",
		                         labels++ == 0 ? "{" : ",", label, escaped);
	}
	va_end(ap);
	if (used < sizeof(line))
		used += (size_t)snprintf(line + used, sizeof(line) - used, "%s %" PRIu64 "\n",
		                         labels > 0 ? "}" : "", value);
	if (used >= sizeof(line)) {
		metrics->dropped++;
		return;
	}
	append(metrics, line, used);
}

void
metrics_single(struct metrics *metrics, const char *name, const char *type, const char *help,
               uint64_t value)
{
	metrics_family(metrics, name, type, help);
	metrics_sample(metrics, name, value, NULL);
}

int
metrics_write_file(const struct metrics *metrics, const char *path)
{
	char temporary[PATH_MAX];
	size_t written = 0;
	int fd, error = 0;

	/* node_exporter skips files not ending in .prom, so a .tmp is never read half-written. */
	if (snprintf(temporary, sizeof(temporary), "%s.%d.tmp", path, (int)getpid()) >=
	    (int)sizeof(temporary))
		return -ENAMETOOLONG;
	fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd == -1)
		return -errno;
	while (written < metrics->len) {
		ssize_t n = write(fd, metrics->text + written, metrics->len - written);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			error = n == -1 ? -errno : -EIO;
			break;
		}
		written += (size_t)n;
	}
	/* The umask (the unit's 0077) must not hide the file from the collector. */
	if (error == 0 && fchmod(fd, 0644) == -1)
		error = -errno;
	if (close(fd) == -1 && error == 0)
		error = -errno;
	if (error == 0 && rename(temporary, path) == -1)
		error = -errno;
	if (error < 0)
		unlink(temporary);
	return error;
}
