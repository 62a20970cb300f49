/*
 * Detectors: pure functions from observations to findings. No I/O, no clock
 * of their own: the time comes in with the observation. Each detector reads
 * only its own section of the policy; the engine finds the detector of an
 * event's category through detector_for().
 */
#ifndef DETECT_H
#define DETECT_H

#include <stddef.h>
#include <stdint.h>

#include "abuseguard/abuseguard.h"
#include "ban.h"
#include "config.h"

/* Something a detector is sure enough about to hand to the policy. */
struct finding {
	struct source_key source;
	enum category category;
	unsigned reason; /* the category's reason, as in the event */
	int64_t time_ms;
	struct event_counts counts;
	struct event_sample samples[EVENT_SAMPLES]; /* the latest first */
	unsigned sample_count;
	char detail[256]; /* one line for people and the store */
	unsigned ifindex; /* the interface it came from, as the event says */
};

/*
 * A detector: 1 and *out filled for a finding, 0 if the event does not make
 * one (the detector is off, or the program ran with older thresholds),
 * -EINVAL for an event that is not well formed for its category.
 */
typedef int (*detect_fn)(const struct config *config, const struct abuse_event *event,
                         int64_t time_ms, struct finding *out);

struct detector {
	const char *name;
	detect_fn detect;
};

/* The detector of a category, or NULL for a category nothing detects. */
const struct detector *detector_for(unsigned category);

/*
 * Checks what every event must hold (category, source family, sample count)
 * and copies it into *out with an empty detail. -EINVAL if it does not hold.
 */
int finding_from_event(const struct abuse_event *event, int64_t time_ms, struct finding *out);

/* A sample's protocol as people name it: "TCP", "ICMPv6", "ARP", "IPv6 extension", ... */
const char *sample_protocol_name(unsigned protocol);

/* Formats a sample as "address port N" (or just the address without a port). */
const char *sample_format(const struct event_sample *sample, char *buf, size_t len);

/* Spam bursts, from the XDP program's SMTP counters. */
int detect_spam(const struct spam_config *spam, const struct abuse_event *event, int64_t time_ms,
                struct finding *out);

/* Scans, from the outcomes of first contacts the BPF programs saw. */
int detect_scan(const struct scan_config *scan, const struct abuse_event *event, int64_t time_ms,
                struct finding *out);

/* Spoofing, from the XDP program's per-interface count of forged sources. */
int detect_spoofing(const struct spoofing_config *spoofing, const struct abuse_event *event,
                    int64_t time_ms, struct finding *out);

/* Evasion, from the XDP program's per-source count of tiny first fragments. */
int detect_evasion(const struct evasion_config *evasion, const struct abuse_event *event,
                   int64_t time_ms, struct finding *out);

#endif
