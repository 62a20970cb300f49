/* Spam bursts: the XDP program counts SMTP attempts; this confirms them. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "detect.h"
#include "source.h"

static int
threshold_reached(uint32_t count, uint32_t threshold)
{
	return threshold != 0 && count >= threshold;
}

int
detect_spam(const struct config *config, const struct threshold_event *event, int64_t time_ms,
            struct finding *out)
{
	char destination[INET6_ADDRSTRLEN];
	int destination_family;

	if (event->category != CATEGORY_SPAM || (event->source.family != SOURCE_FAMILY_IPV4 &&
	                                         event->source.family != SOURCE_FAMILY_IPV6))
		return -EINVAL;
	if (!config->spam.enabled)
		return 0;
	/* The program may still run with thresholds from before a reload. */
	if (!threshold_reached(event->smtp_attempts, config->spam.smtp_attempts) &&
	    !threshold_reached(event->smtp_destinations, config->spam.smtp_destinations))
		return 0;

	memset(out, 0, sizeof(*out));
	out->source = event->source;
	out->category = CATEGORY_SPAM;
	out->time_ms = time_ms;
	out->attempts = event->smtp_attempts;
	out->destinations = event->smtp_destinations;
	out->last_port = event->last_port;
	out->last_destination_family = event->source.family;
	memcpy(out->last_destination, event->last_destination, sizeof(out->last_destination));

	destination_family = event->source.family == SOURCE_FAMILY_IPV4 ? AF_INET : AF_INET6;
	inet_ntop(destination_family, event->last_destination, destination, sizeof(destination));
	snprintf(out->detail, sizeof(out->detail),
	         "%u SMTP connection attempts to %u destination%s within %llds (limits %u, %u); "
	         "last to %s port %u",
	         event->smtp_attempts, event->smtp_destinations,
	         event->smtp_destinations == 1 ? "" : "s",
	         (long long)(config->spam.window_ms / 1000), config->spam.smtp_attempts,
	         config->spam.smtp_destinations, destination, event->last_port);
	return 1;
}
