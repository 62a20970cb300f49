/* Spam bursts: the XDP program counts SMTP attempts; this confirms them. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>

#include "detect.h"

static int
threshold_reached(uint32_t count, uint32_t threshold)
{
	return threshold != 0 && count >= threshold;
}

int
detect_spam(const struct spam_config *spam, const struct abuse_event *event, int64_t time_ms,
            struct finding *out)
{
	char destination[INET6_ADDRSTRLEN + 16];
	const struct event_counts *counts = &event->counts;

	if (event->category != CATEGORY_SPAM || event->sample_count == 0)
		return -EINVAL;
	if (finding_from_event(event, time_ms, out) < 0)
		return -EINVAL;
	if (!spam->enabled)
		return 0;
	/* The program may still run with thresholds from before a reload. */
	if (!threshold_reached(counts->attempts, spam->smtp_attempts) &&
	    !threshold_reached(counts->destinations, spam->smtp_destinations))
		return 0;

	snprintf(out->detail, sizeof(out->detail),
	         "%u SMTP connection attempts to %u destination%s within %llds (limits %u, %u); "
	         "last to %s",
	         counts->attempts, counts->destinations, counts->destinations == 1 ? "" : "s",
	         (long long)(spam->window_ms / 1000), spam->smtp_attempts, spam->smtp_destinations,
	         sample_format(&event->samples[0], destination, sizeof(destination)));
	return 1;
}
