/*
 * Evasion: the XDP program counts, per source, first fragments too short
 * to show the ports and flags a filter judges by (RFC 1858's tiny-fragment
 * attack; for IPv6, a first fragment without the upper-layer header, which
 * RFC 7112 forbids). No honest stack sends one: IPv6's minimum MTU keeps
 * every header in the first fragment, and IPv4's keeps at least 8 bytes of
 * transport header behind the largest IP header. The finding carries the
 * latest fragment's fields as evidence.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>

#include "detect.h"

int
detect_evasion(const struct evasion_config *evasion, const struct abuse_event *event,
               int64_t time_ms, struct finding *out)
{
	char destination[64];
	const struct event_sample *sample = &event->samples[0];

	if (event->category != CATEGORY_EVASION || event->reason != EVASION_REASON_TINY_FRAGMENTS ||
	    event->sample_count == 0)
		return -EINVAL;
	if (finding_from_event(event, time_ms, out) < 0)
		return -EINVAL;
	if (evasion->tiny_fragments == 0 || event->counts.attempts < evasion->tiny_fragments)
		return 0;
	snprintf(out->detail, sizeof(out->detail),
	         "%u tiny %s first fragments in a window (limit %u, RFC 1858): the latest to %s, "
	         "protocol %u, id 0x%x, %u bytes of %s header, too few to show its ports and flags",
	         event->counts.attempts, sample->family == SOURCE_FAMILY_IPV6 ? "IPv6" : "IPv4",
	         evasion->tiny_fragments, sample_format(sample, destination, sizeof(destination)),
	         sample->protocol, event->fragment_id, event->fragment_bytes,
	         sample_protocol_name(sample->protocol));
	return 1;
}
