/*
 * Prometheus' text exposition format (version 0.0.4), written into a buffer:
 * a family's # HELP and # TYPE lines, then its samples with their labels,
 * label values escaped. The daemon serves the text on the control socket
 * and writes it to a file for node_exporter's textfile collector.
 */
#ifndef METRICS_H
#define METRICS_H

#include <stddef.h>
#include <stdint.h>

/* Grows up to METRICS_MAX_BYTES; past that, further samples are dropped and counted. */
#define METRICS_MAX_BYTES (1u << 20)

struct metrics {
	char *text; /* NUL-terminated */
	size_t len, size;
	unsigned dropped; /* lines left out: out of memory or past METRICS_MAX_BYTES */
};

void metrics_init(struct metrics *metrics);
void metrics_free(struct metrics *metrics);
/* type is "counter" or "gauge"; a counter's name ends in _total. */
void metrics_family(struct metrics *metrics, const char *name, const char *type, const char *help);
/*
 * One sample of the family just begun: name, value, then label name/value
 * pairs ending with NULL: metrics_sample(m, "x_total", 3, "scope", "smtp", NULL).
 */
void metrics_sample(struct metrics *metrics, const char *name, uint64_t value, ...)
    __attribute__((sentinel));
/* A family with one sample and no labels. */
void metrics_single(struct metrics *metrics, const char *name, const char *type, const char *help,
                    uint64_t value);
/*
 * Writes the text to path atomically (a temporary file in the same
 * directory, flushed, then renamed over it), mode 0644 so the collector can
 * read it. Returns 0 or -errno.
 */
int metrics_write_file(const struct metrics *metrics, const char *path);

#endif
