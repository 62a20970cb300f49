/*
 * Scans: the XDP and tc programs judge each first contact by its outcome
 * and run the sequential test; this confirms the event against the policy
 * and names the kind for people: horizontal (one port, many hosts),
 * vertical (one host, many ports) or a sweep, by protocol.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>

#include "detect.h"

static int
threshold_reached(uint32_t count, uint32_t threshold)
{
	return threshold != 0 && count >= threshold;
}

/* The test the policy still passes: the program may run with older thresholds. */
static int
scan_confirmed(const struct scan_config *scan, const struct abuse_event *event)
{
	const struct event_counts *counts = &event->counts;

	switch (event->reason) {
	case SCAN_REASON_SEQUENTIAL:
		/* The program's score never exceeds the failures it counted. */
		return threshold_reached(counts->failures, scan->sequential);
	case SCAN_REASON_HORIZONTAL:
		return threshold_reached(counts->failures, scan->hosts_per_port);
	case SCAN_REASON_VERTICAL:
		return threshold_reached(counts->failures, scan->ports_per_host);
	default:
		return -EINVAL;
	}
}

static const char *
protocol_name(unsigned protocol)
{
	switch (protocol) {
	case IPPROTO_TCP:
		return "TCP";
	case IPPROTO_UDP:
		return "UDP";
	case IPPROTO_ICMP:
		return "ICMP";
	case IPPROTO_ICMPV6:
		return "ICMPv6";
	default:
		return "IP";
	}
}

static int
samples_share_port(const struct abuse_event *event)
{
	for (unsigned i = 1; i < event->sample_count; i++)
		if (event->samples[i].port != event->samples[0].port ||
		    event->samples[i].protocol != event->samples[0].protocol)
			return 0;
	return 1;
}

/* "horizontal", "vertical" or "sweep": which of the breadths dominates. */
static const char *
scan_kind(const struct abuse_event *event)
{
	const struct event_counts *counts = &event->counts;

	if (event->sample_count > 0 && (event->samples[0].protocol == IPPROTO_ICMP ||
	                                event->samples[0].protocol == IPPROTO_ICMPV6))
		return "ping sweep";
	if (counts->ports > counts->destinations)
		return "vertical";
	if (counts->destinations > 1)
		return "horizontal";
	return "sweep";
}

static const char *
reason_name(unsigned reason)
{
	switch (reason) {
	case SCAN_REASON_SEQUENTIAL:
		return "sequential test";
	case SCAN_REASON_HORIZONTAL:
		return "hosts per port";
	case SCAN_REASON_VERTICAL:
	default:
		return "ports per host";
	}
}

int
detect_scan(const struct scan_config *scan, const struct abuse_event *event, int64_t time_ms,
            struct finding *out)
{
	const struct event_counts *counts = &event->counts;
	char sample[INET6_ADDRSTRLEN + 16], port[32] = "";
	int confirmed;

	if (event->category != CATEGORY_SCAN || event->sample_count == 0)
		return -EINVAL;
	if (finding_from_event(event, time_ms, out) < 0)
		return -EINVAL;
	confirmed = scan_confirmed(scan, event);
	if (confirmed < 0)
		return -EINVAL;
	if (!scan->enabled || !confirmed)
		return 0;

	if (samples_share_port(event) && event->samples[0].port != 0)
		snprintf(port, sizeof(port), " port %u", event->samples[0].port);
	snprintf(out->detail, sizeof(out->detail),
	         "%s %s scan%s (%s): %u first contacts within %llds, %u failed, %u answered; "
	         "%u hosts on one port, %u ports on one host; last to %s",
	         protocol_name(event->samples[0].protocol), scan_kind(event), port,
	         reason_name(event->reason), counts->attempts, (long long)(scan->window_ms / 1000),
	         counts->failures, counts->successes, counts->destinations, counts->ports,
	         sample_format(&event->samples[0], sample, sizeof(sample)));
	return 1;
}
