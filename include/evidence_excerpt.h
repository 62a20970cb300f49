/*
 * The pcap excerpt of a ticket: what the capture rings (wire.h) hold of
 * the source, into the ticket's evidence (evidence.h) as excerpt-N.pcap,
 * N the offence it was taken for (the ticket's event count). The first
 * excerpt of a ticket takes all the ring has of the source, so it starts
 * before the finding; later ones start where their finding's window did.
 * An excerpt takes at most half of what the ticket may still hold, so the
 * log and later excerpts keep room.
 */
#ifndef EVIDENCE_EXCERPT_H
#define EVIDENCE_EXCERPT_H

#include <stdint.h>

#include "evidence.h"
#include "report.h"
#include "wire.h"

/*
 * Writes the excerpt of source's packets on ifname ("" or NULL: every
 * interface) captured at or after since_ms. *out (may be NULL) gets the
 * file. The number of packets kept (0: none, no file), -ENOSPC past the
 * ticket's limits (counted in evidence's files_refused), or -errno (logged).
 */
int evidence_excerpt(struct evidence *evidence, struct wire *wire, int64_t ticket_id,
                     uint64_t number, const char *ifname, const struct source_key *source,
                     int64_t since_ms, struct report_file *out);

#endif
