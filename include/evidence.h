/*
 * Evidence kept per ticket under the state directory, in
 * STATE_DIR/evidence/TICKET/: the plain-text log (evidence.log: UTC times,
 * source, VM, destinations and ports, counts, and the clear-text SMTP
 * envelope and header lines or HTTP request lines when the capture has
 * them) and any other file a capture adds (a pcap excerpt) through
 * evidence_add_file. Bounded per ticket by limits.ticket_evidence_files and
 * limits.ticket_evidence_bytes; what does not fit is dropped and counted. Each
 * file's SHA-256 is written to SHA256SUMS beside them (sha256sum -c reads
 * it) whenever a report lists them.
 */
#ifndef EVIDENCE_H
#define EVIDENCE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "ban.h"
#include "detect.h"
#include "report.h"

#define EVIDENCE_LOG_NAME  "evidence.log"
#define EVIDENCE_SUMS_NAME "SHA256SUMS"
#define EVIDENCE_LINE_MAX  1024 /* a line of the log, newline included */
#define EVIDENCE_PCAP_TYPE "application/vnd.tcpdump.pcap"

struct evidence_stats {
	uint64_t lines;         /* log lines written */
	uint64_t files;         /* files added */
	uint64_t lines_dropped; /* past limits.ticket_evidence_bytes */
	uint64_t files_refused; /* past limits.ticket_evidence_files or evidence_bytes */
	uint64_t errors;        /* the disk refused (logged) */
};

struct evidence {
	char dir[PATH_MAX]; /* STATE_DIR/evidence */
	uint32_t max_files;
	uint64_t max_bytes;
	struct evidence_stats stats;
};

/* Creates STATE_DIR/evidence if need be. 0 or -errno (logged). */
int evidence_init(struct evidence *evidence, const char *state_dir, uint32_t max_files,
                  uint64_t max_bytes);

/*
 * Appends one line to the ticket's log: "2026-12-02T04:09:03Z SOURCE [VM] TEXT".
 * Controls in text become spaces. 0, -ENOSPC when the ticket's bytes are
 * used up (counted), or -errno.
 */
int evidence_log(struct evidence *evidence, int64_t ticket_id, int64_t time_ms,
                 const struct source_key *source, const struct vm_identity *vm, const char *text);
/* The finding as log lines: what was counted, and each destination and port. */
int evidence_log_finding(struct evidence *evidence, int64_t ticket_id,
                         const struct finding *finding, const struct vm_identity *vm);

/* What the ticket may still hold: files and bytes under its limits. 0 or -errno. */
int evidence_room(struct evidence *evidence, int64_t ticket_id, unsigned *files_left,
                  uint64_t *bytes_left);

/*
 * The seam for captures: stores data as the ticket's file name (letters,
 * digits, '.', '-' and '_'), written whole then renamed into place, and
 * fills *out (may be NULL) with its path, size and SHA-256. -ENOSPC past
 * the ticket's files or bytes (counted), -EINVAL for a bad name.
 */
int evidence_add_file(struct evidence *evidence, int64_t ticket_id, const char *name,
                      const char *content_type, const void *data, size_t length,
                      struct report_file *out);

/*
 * The ticket's files with their SHA-256 (the log first), at most max, and
 * SHA256SUMS rewritten to match. *log gets the log's text (a new buffer,
 * the caller frees it; NULL if there is none). 0 or -errno.
 */
int evidence_collect(struct evidence *evidence, int64_t ticket_id, struct report_file *files,
                     unsigned max, unsigned *count, char **log, size_t *log_length);

struct metrics;
/* The counters above, for abusectl metrics and metrics.file. */
void evidence_metrics(const struct evidence *evidence, struct metrics *m);

#endif
