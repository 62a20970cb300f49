/*
 * Evidence files per ticket. The bound is on what the ticket's directory
 * holds: before a write, the sizes there are summed (a few files at most),
 * so a restart or a deleted file never lets a ticket grow past it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "encode.h"
#include "evidence.h"
#include "log.h"
#include "metrics.h"
#include "source.h"

int
evidence_init(struct evidence *evidence, const char *state_dir, uint32_t max_files,
              uint64_t max_bytes)
{
	memset(evidence, 0, sizeof(*evidence));
	evidence->max_files = max_files;
	evidence->max_bytes = max_bytes;
	if ((size_t)snprintf(evidence->dir, sizeof(evidence->dir), "%s/evidence", state_dir) >=
	    sizeof(evidence->dir))
		return -ENAMETOOLONG;
	if (mkdir(evidence->dir, 0750) < 0 && errno != EEXIST) {
		log_warn("%s: mkdir", evidence->dir);
		return -errno;
	}
	return 0;
}

/* Copies text whole into a field, or says it does not fit. */
static bool
copy_text(char *field, size_t size, const char *text)
{
	size_t length = strnlen(text, size);

	if (length == size)
		return false;
	memcpy(field, text, length + 1);
	return true;
}

static int
ticket_dir(const struct evidence *evidence, int64_t ticket_id, char *buf, size_t len)
{
	if ((size_t)snprintf(buf, len, "%s/%" PRId64, evidence->dir, ticket_id) >= len)
		return -ENAMETOOLONG;
	if (mkdir(buf, 0750) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static bool
name_valid(const char *name)
{
	if (name[0] == '\0' || name[0] == '.' ||
	    strlen(name) >= sizeof(((struct report_file){0}).name))
		return false;
	for (const char *c = name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '.' || *c == '-' || *c == '_'))
			return false;
	return strcmp(name, EVIDENCE_SUMS_NAME) != 0;
}

/* What the ticket's directory holds: files (SHA256SUMS and temporaries left out) and bytes. */
static int
ticket_usage(const char *dir, unsigned *files, uint64_t *bytes)
{
	DIR *listing = opendir(dir);
	struct dirent *entry;

	*files = 0;
	*bytes = 0;
	if (listing == NULL)
		return -errno;
	while ((entry = readdir(listing)) != NULL) {
		struct stat st;

		if (!name_valid(entry->d_name) ||
		    fstatat(dirfd(listing), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		(*files)++;
		*bytes += (uint64_t)st.st_size;
	}
	closedir(listing);
	return 0;
}

static int
write_all(int fd, const void *data, size_t length)
{
	const char *at = data;

	while (length > 0) {
		ssize_t written = write(fd, at, length);

		if (written < 0 && errno == EINTR)
			continue;
		if (written < 0)
			return -errno;
		at += written;
		length -= (size_t)written;
	}
	return 0;
}

/* Checks the bounds for adding length bytes, as a new file or not. */
static int
room_for(struct evidence *evidence, const char *dir, size_t length, bool new_file)
{
	unsigned files;
	uint64_t bytes;
	int error = ticket_usage(dir, &files, &bytes);

	if (error < 0)
		return error;
	if ((new_file && files >= evidence->max_files) || bytes + length > evidence->max_bytes)
		return -ENOSPC;
	return 0;
}

int
evidence_room(struct evidence *evidence, int64_t ticket_id, unsigned *files_left,
              uint64_t *bytes_left)
{
	char dir[PATH_MAX];
	unsigned files;
	uint64_t bytes;
	int error;

	*files_left = 0;
	*bytes_left = 0;
	if ((error = ticket_dir(evidence, ticket_id, dir, sizeof(dir))) < 0 ||
	    (error = ticket_usage(dir, &files, &bytes)) < 0)
		return error;
	*files_left = files < evidence->max_files ? evidence->max_files - files : 0;
	*bytes_left = bytes < evidence->max_bytes ? evidence->max_bytes - bytes : 0;
	return 0;
}

int
evidence_log(struct evidence *evidence, int64_t ticket_id, int64_t time_ms,
             const struct source_key *source, const struct vm_identity *vm, const char *text)
{
	char dir[PATH_MAX], path[PATH_MAX + 32], line[EVIDENCE_LINE_MAX], when[32],
	    address[SOURCE_STRLEN];
	struct stat st;
	int length, fd, error;

	if ((error = ticket_dir(evidence, ticket_id, dir, sizeof(dir))) < 0)
		goto fail;
	snprintf(path, sizeof(path), "%s/" EVIDENCE_LOG_NAME, dir);
	length = snprintf(
	    line, sizeof(line), "%s %s%s%s%s%s%s %s", report_time_iso(time_ms, when, sizeof(when)),
	    source_format(source, address, sizeof(address)),
	    vm != NULL && (vm->name[0] || vm->interface[0]) ? " [" : "", vm != NULL ? vm->name : "",
	    vm != NULL && vm->name[0] && vm->interface[0] ? " " : "",
	    vm != NULL ? vm->interface : "",
	    vm != NULL && (vm->name[0] || vm->interface[0]) ? "]" : "", text);
	if (length < 0 || (size_t)length >= sizeof(line) - 1)
		length = (int)sizeof(line) - 2;
	/* One line each: what the capture saw cannot start a line of its own. */
	for (int i = 0; i < length; i++)
		if ((unsigned char)line[i] < ' ' || line[i] == 0x7f)
			line[i] = ' ';
	line[length++] = '\n';
	if ((error = room_for(evidence, dir, (size_t)length, stat(path, &st) < 0)) == -ENOSPC) {
		evidence->stats.lines_dropped++;
		return error;
	}
	if (error < 0)
		goto fail;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0) {
		error = -errno;
		goto fail;
	}
	error = write_all(fd, line, (size_t)length);
	close(fd);
	if (error < 0)
		goto fail;
	evidence->stats.lines++;
	return 0;
fail:
	evidence->stats.errors++;
	log_warnx("%s/%" PRId64 "/" EVIDENCE_LOG_NAME ": %s", evidence->dir, ticket_id,
	          strerror(-error));
	return error;
}

int
evidence_log_finding(struct evidence *evidence, int64_t ticket_id, const struct finding *finding,
                     const struct vm_identity *vm)
{
	char text[EVIDENCE_LINE_MAX], sample[96];
	int error;

	snprintf(text, sizeof(text),
	         "%s: %" PRIu32 " attempts, %" PRIu32 " destinations, %" PRIu32 " ports, %" PRIu32
	         " failed, %" PRIu32 " answered: %s",
	         category_name(finding->category), finding->counts.attempts,
	         finding->counts.destinations, finding->counts.ports, finding->counts.failures,
	         finding->counts.successes, finding->detail);
	if ((error = evidence_log(evidence, ticket_id, finding->time_ms, &finding->source, vm,
	                          text)) < 0)
		return error;
	for (unsigned i = 0; i < finding->sample_count && i < EVENT_SAMPLES; i++) {
		const struct event_sample *destination = &finding->samples[i];

		snprintf(text, sizeof(text), "  to %s (%s)",
		         sample_format(destination, sample, sizeof(sample)),
		         destination->protocol == 6                     ? "tcp"
		         : destination->protocol == 17                  ? "udp"
		         : destination->protocol == SAMPLE_PROTOCOL_ARP ? "arp"
		                                                        : "icmp");
		if ((error = evidence_log(evidence, ticket_id, finding->time_ms, &finding->source,
		                          vm, text)) < 0)
			return error;
	}
	return 0;
}

int
evidence_add_file(struct evidence *evidence, int64_t ticket_id, const char *name,
                  const char *content_type, const void *data, size_t length,
                  struct report_file *out)
{
	char dir[PATH_MAX], path[PATH_MAX + 160], temporary[PATH_MAX + 176];
	struct stat st;
	int fd, error;

	if (!name_valid(name))
		return -EINVAL;
	if ((error = ticket_dir(evidence, ticket_id, dir, sizeof(dir))) < 0)
		goto fail;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(temporary, sizeof(temporary), "%s/.%s.tmp", dir, name);
	/* A file replaced: its old size is freed by the rename. */
	if ((error = room_for(evidence, dir,
	                      length - (stat(path, &st) == 0 && (size_t)st.st_size <= length
	                                    ? (size_t)st.st_size
	                                    : 0),
	                      stat(path, &st) < 0)) == -ENOSPC) {
		evidence->stats.files_refused++;
		log_warnx("%s: not kept: ticket %" PRId64
		          " holds its limits.ticket_evidence_files or "
		          "limits.ticket_evidence_bytes already",
		          path, ticket_id);
		return error;
	}
	if (error < 0)
		goto fail;
	fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0) {
		error = -errno;
		goto fail;
	}
	error = write_all(fd, data, length);
	if (error == 0 && fsync(fd) < 0)
		error = -errno;
	close(fd);
	if (error == 0 && rename(temporary, path) < 0)
		error = -errno;
	if (error < 0) {
		unlink(temporary);
		goto fail;
	}
	evidence->stats.files++;
	if (out != NULL) {
		memset(out, 0, sizeof(*out));
		if (!copy_text(out->path, sizeof(out->path), path))
			log_warnx("%s: path longer than a report names", path);
		copy_text(out->name, sizeof(out->name), name); /* name_valid bounds it */
		copy_text(out->content_type, sizeof(out->content_type), content_type);
		encode_sha256_hex(data, length, out->sha256);
		out->bytes = length;
	}
	return 0;
fail:
	evidence->stats.errors++;
	log_warnx("%s/%" PRId64 "/%s: %s", evidence->dir, ticket_id, name, strerror(-error));
	return error;
}

/* Reads a whole file of at most max bytes into a new buffer. */
static int
read_file(const char *path, uint64_t max, char **out, size_t *length)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	char *buf;
	size_t got = 0;

	*out = NULL;
	*length = 0;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size > max) {
		close(fd);
		return -EFBIG;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	*out = buf;
	*length = got;
	return 0;
}

static const char *
content_type_of(const char *name)
{
	size_t length = strlen(name);

	if (length > 5 && strcmp(name + length - 5, ".pcap") == 0)
		return EVIDENCE_PCAP_TYPE;
	if (length > 4 &&
	    (strcmp(name + length - 4, ".log") == 0 || strcmp(name + length - 4, ".txt") == 0))
		return "text/plain";
	return "application/octet-stream";
}

static int
file_order(const void *a, const void *b)
{
	const struct report_file *left = a, *right = b;
	bool left_log = strcmp(left->name, EVIDENCE_LOG_NAME) == 0;
	bool right_log = strcmp(right->name, EVIDENCE_LOG_NAME) == 0;

	if (left_log != right_log)
		return left_log ? -1 : 1;
	return strcmp(left->name, right->name);
}

int
evidence_collect(struct evidence *evidence, int64_t ticket_id, struct report_file *files,
                 unsigned max, unsigned *count, char **log, size_t *log_length)
{
	char dir[PATH_MAX], path[PATH_MAX + 160], sums[PATH_MAX + 32];
	struct dirent *entry;
	FILE *sums_file;
	DIR *listing;
	int error;

	*count = 0;
	*log = NULL;
	*log_length = 0;
	if ((error = ticket_dir(evidence, ticket_id, dir, sizeof(dir))) < 0)
		return error;
	if ((listing = opendir(dir)) == NULL)
		return -errno;
	while ((entry = readdir(listing)) != NULL && *count < max) {
		struct report_file *file = &files[*count];
		char *data;
		size_t length;

		if (!name_valid(entry->d_name) ||
		    snprintf(path, sizeof(path), "%s/%s", dir, entry->d_name) >=
		        (int)sizeof(path) ||
		    read_file(path, evidence->max_bytes, &data, &length) < 0)
			continue;
		memset(file, 0, sizeof(*file));
		copy_text(file->name, sizeof(file->name), entry->d_name);
		copy_text(file->path, sizeof(file->path), path);
		snprintf(file->content_type, sizeof(file->content_type), "%s",
		         content_type_of(entry->d_name));
		encode_sha256_hex(data, length, file->sha256);
		file->bytes = length;
		if (strcmp(entry->d_name, EVIDENCE_LOG_NAME) == 0) {
			*log = data;
			*log_length = length;
		} else
			free(data);
		(*count)++;
	}
	closedir(listing);
	qsort(files, *count, sizeof(*files), file_order);
	/* sha256sum -c SHA256SUMS, in the ticket's directory, checks them all. */
	snprintf(sums, sizeof(sums), "%s/" EVIDENCE_SUMS_NAME, dir);
	if ((sums_file = fopen(sums, "we")) != NULL) {
		for (unsigned i = 0; i < *count; i++)
			fprintf(sums_file, "%s  %s\n", files[i].sha256, files[i].name);
		if (fclose(sums_file) != 0)
			evidence->stats.errors++;
	}
	return 0;
}

void
evidence_metrics(const struct evidence *evidence, struct metrics *m)
{
	const struct evidence_stats *stats = &evidence->stats;

	metrics_single(m, "abuseguard_evidence_lines_total", "counter",
	               "Lines written to tickets' evidence logs.", stats->lines);
	metrics_single(m, "abuseguard_evidence_files_total", "counter",
	               "Files a capture added to tickets' evidence.", stats->files);
	metrics_single(m, "abuseguard_evidence_lines_dropped_total", "counter",
	               "Evidence log lines dropped: the ticket held limits.ticket_evidence_bytes.",
	               stats->lines_dropped);
	metrics_single(m, "abuseguard_evidence_files_refused_total", "counter",
	               "Evidence files refused: past limits.ticket_evidence_files or _bytes.",
	               stats->files_refused);
	metrics_single(m, "abuseguard_evidence_errors_total", "counter",
	               "Evidence writes the disk refused.", stats->errors);
}
