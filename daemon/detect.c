/* The table of detectors, one per category, and what they share. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "detect.h"

static int
spam_detector(const struct config *config, const struct abuse_event *event, int64_t time_ms,
              struct finding *out)
{
	return detect_spam(&config->spam, event, time_ms, out);
}

static int
scan_detector(const struct config *config, const struct abuse_event *event, int64_t time_ms,
              struct finding *out)
{
	return detect_scan(&config->scan, event, time_ms, out);
}

static int
spoofing_detector(const struct config *config, const struct abuse_event *event, int64_t time_ms,
                  struct finding *out)
{
	return detect_spoofing(&config->spoofing, event, time_ms, out);
}

static int
evasion_detector(const struct config *config, const struct abuse_event *event, int64_t time_ms,
                 struct finding *out)
{
	return detect_evasion(&config->evasion, event, time_ms, out);
}

static const struct detector detectors[CATEGORY_COUNT] = {
    [CATEGORY_SPAM] = {"spam", spam_detector},
    [CATEGORY_SCAN] = {"scan", scan_detector},
    [CATEGORY_SPOOFING] = {"spoofing", spoofing_detector},
    [CATEGORY_EVASION] = {"evasion", evasion_detector},
};

const struct detector *
detector_for(unsigned category)
{
	if (category >= CATEGORY_COUNT || detectors[category].detect == NULL)
		return NULL;
	return &detectors[category];
}

static int
family_valid(unsigned family)
{
	return family == SOURCE_FAMILY_IPV4 || family == SOURCE_FAMILY_IPV6;
}

int
finding_from_event(const struct abuse_event *event, int64_t time_ms, struct finding *out)
{
	if (event->category >= CATEGORY_COUNT || !family_valid(event->source.family) ||
	    event->sample_count > EVENT_SAMPLES)
		return -EINVAL;
	for (unsigned i = 0; i < event->sample_count; i++)
		if (!family_valid(event->samples[i].family))
			return -EINVAL;

	memset(out, 0, sizeof(*out));
	out->source = event->source;
	out->ifindex = event->ifindex;
	out->category = event->category;
	out->reason = event->reason;
	out->time_ms = time_ms;
	out->counts = event->counts;
	out->sample_count = event->sample_count;
	memcpy(out->samples, event->samples, sizeof(out->samples));
	return 0;
}

const char *
sample_protocol_name(unsigned protocol)
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
	case SAMPLE_PROTOCOL_ARP:
		return "ARP";
	case IPPROTO_HOPOPTS:
	case IPPROTO_ROUTING:
	case IPPROTO_DSTOPTS:
	case IPPROTO_FRAGMENT:
		return "IPv6 extension";
	default:
		return "IP";
	}
}

const char *
sample_format(const struct event_sample *sample, char *buf, size_t len)
{
	char address[INET6_ADDRSTRLEN];
	int family = sample->family == SOURCE_FAMILY_IPV4 ? AF_INET : AF_INET6;

	if (inet_ntop(family, sample->address, address, sizeof(address)) == NULL)
		snprintf(address, sizeof(address), "?");
	if (sample->port != 0)
		snprintf(buf, len, "%s port %u", address, sample->port);
	else
		snprintf(buf, len, "%s", address);
	return buf;
}
