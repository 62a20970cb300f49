/*
 * wire_excerpt_write writes a file by path; the excerpt goes through a
 * memfd (its /proc/self/fd path) so that evidence_add_file stores it like
 * any other file: bounded, written whole and renamed, with its SHA-256.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "evidence_excerpt.h"
#include "log.h"

#define PCAP_HEADER_BYTES 24 /* a pcap file's header: an excerpt smaller holds nothing */

int
evidence_excerpt(struct evidence *evidence, struct wire *wire, int64_t ticket_id, uint64_t number,
                 const char *ifname, const struct source_key *source, int64_t since_ms,
                 struct report_file *out)
{
	char path[64], name[48];
	unsigned files_left;
	uint64_t bytes_left;
	struct stat st;
	void *data;
	int fd, packets, error;

	if ((error = evidence_room(evidence, ticket_id, &files_left, &bytes_left)) < 0)
		return error;
	if (files_left == 0 || bytes_left / 2 < PCAP_HEADER_BYTES * 2) {
		evidence->stats.files_refused++;
		return -ENOSPC;
	}
	if ((fd = memfd_create("abuseguard-excerpt", MFD_CLOEXEC)) < 0) {
		error = -errno;
		log_warn("ticket %" PRId64 ": pcap excerpt: memfd_create", ticket_id);
		return error;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	packets = wire_excerpt_write(wire, ifname != NULL && ifname[0] ? ifname : NULL, source,
	                             since_ms, path, (size_t)(bytes_left / 2));
	if (packets == -ENOENT) /* the VM's interface has no capture (yet): nothing of it kept */
		packets = 0;
	if (packets <= 0 || fstat(fd, &st) < 0 || st.st_size < PCAP_HEADER_BYTES) {
		close(fd);
		return packets < 0 ? packets : 0;
	}
	data = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (data == MAP_FAILED) {
		error = -errno;
		log_warn("ticket %" PRId64 ": pcap excerpt: mmap", ticket_id);
		return error;
	}
	snprintf(name, sizeof(name), "excerpt-%" PRIu64 ".pcap", number);
	error = evidence_add_file(evidence, ticket_id, name, EVIDENCE_PCAP_TYPE, data,
	                          (size_t)st.st_size, out);
	munmap(data, (size_t)st.st_size);
	return error < 0 ? error : packets;
}
