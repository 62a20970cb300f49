/*
 * Spoofing: the XDP program counts, per interface, packets whose source is
 * not the interface's; this turns its event into a finding against the
 * VM's own address, which the daemon has put in the event's source.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "detect.h"

int
detect_spoofing(const struct spoofing_config *spoofing, const struct abuse_event *event,
                int64_t time_ms, struct finding *out)
{
	char samples[EVENT_SAMPLES * (INET6_ADDRSTRLEN + 2)] = "";
	size_t used = 0;

	if (event->category != CATEGORY_SPOOFING || event->reason != SPOOF_REASON_PACKETS)
		return -EINVAL;
	if (finding_from_event(event, time_ms, out) < 0)
		return -EINVAL;
	if (spoofing->packets == 0 || event->counts.attempts < spoofing->packets)
		return 0;
	for (unsigned i = 0; i < event->sample_count && used < sizeof(samples); i++) {
		char address[INET6_ADDRSTRLEN];

		inet_ntop(event->samples[i].family == SOURCE_FAMILY_IPV4 ? AF_INET : AF_INET6,
		          event->samples[i].address, address, sizeof(address));
		used += (size_t)snprintf(samples + used, sizeof(samples) - used, "%s%s",
		                         i > 0 ? ", " : "", address);
	}
	snprintf(out->detail, sizeof(out->detail),
	         "%u packets from sources not its own in a window (limit %u); forged: %.150s",
	         event->counts.attempts, spoofing->packets, samples[0] ? samples : "(none kept)");
	return 1;
}
