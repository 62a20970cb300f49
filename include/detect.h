/*
 * Detectors: pure functions from observations to findings. No I/O, no clock
 * of their own: the time comes in with the observation.
 */
#ifndef DETECT_H
#define DETECT_H

#include <stdint.h>

#include "abuseguard/abuseguard.h"
#include "ban.h"
#include "config.h"

/* Something a detector is sure enough about to hand to the policy. */
struct finding {
	struct source_key source;
	enum category category;
	int64_t time_ms;
	uint32_t attempts;
	uint32_t destinations;
	uint16_t last_port;
	unsigned char last_destination_family;
	unsigned char last_destination[16];
	char detail[256]; /* one line for people and the store */
};

/*
 * A threshold event from the XDP program, checked against the policy's spam
 * thresholds (the program may have run with older ones). Returns 1 and fills
 * *out for a finding, 0 if the event does not make one, -EINVAL for an event
 * that is not a well-formed spam event.
 */
int detect_spam(const struct config *config, const struct threshold_event *event, int64_t time_ms,
                struct finding *out);

#endif
