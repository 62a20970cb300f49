/*
 * Scans: the XDP and tc programs judge each first contact by its outcome
 * and run the sequential test; this confirms the event against the policy
 * and names the kind for people: horizontal (one port, many hosts),
 * vertical (one host, many ports) or a sweep, by protocol. An ARP sweep
 * comes with the VM's own address as its source (the daemon put it there):
 * the program counts ARP per interface.
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
	case SCAN_REASON_ARP:
		/* Like the sequential test: the net count never exceeds the failures. */
		return threshold_reached(counts->failures, scan->arp_hosts);
	default:
		return -EINVAL;
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

	if (event->reason == SCAN_REASON_ARP)
		return "host-discovery sweep";
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
	case SCAN_REASON_ARP:
		return "unanswered ARP requests";
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

	if (event->category != CATEGORY_SCAN || event->sample_count == 0 ||
	    (event->reason == SCAN_REASON_ARP) !=
	        (event->samples[0].protocol == SAMPLE_PROTOCOL_ARP))
		return -EINVAL;
	if (finding_from_event(event, time_ms, out) < 0)
		return -EINVAL;
	confirmed = scan_confirmed(scan, event);
	if (confirmed < 0)
		return -EINVAL;
	if (!scan->enabled || !confirmed)
		return 0;

	sample_format(&event->samples[0], sample, sizeof(sample));
	if (event->reason == SCAN_REASON_ARP) {
		snprintf(out->detail, sizeof(out->detail),
		         "ARP %s (%s): %u addresses asked for on its link within %llds, "
		         "%u failed, %u answered; last for %s",
		         scan_kind(event), reason_name(event->reason), counts->attempts,
		         (long long)(scan->window_ms / 1000), counts->failures, counts->successes,
		         sample);
		return 1;
	}
	if (samples_share_port(event) && event->samples[0].port != 0)
		snprintf(port, sizeof(port), " port %u", event->samples[0].port);
	snprintf(out->detail, sizeof(out->detail),
	         "%s %s scan%s (%s): %u first contacts within %llds, %u failed, %u answered; "
	         "%u hosts on one port, %u ports on one host; last to %s",
	         sample_protocol_name(event->samples[0].protocol), scan_kind(event), port,
	         reason_name(event->reason), counts->attempts, (long long)(scan->window_ms / 1000),
	         counts->failures, counts->successes, counts->destinations, counts->ports, sample);
	return 1;
}
