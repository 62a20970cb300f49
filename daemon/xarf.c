/*
 * X-ARF v4 reports. The core fields come from the report; each type adds
 * what its schema asks for (tests/xarf/ holds the schemas the unit test
 * validates against). What abuseguard did not see is left out, never made
 * up, with one exception the schema forces: a spam report over SMTP must
 * name the envelope sender, and when STARTTLS (or port 465) hid it the
 * report says "unknown@unknown.invalid" (RFC 2606: a name that is no one's).
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"
#include "source.h"
#include "xarf.h"

#define XARF_UNKNOWN_SENDER "unknown@unknown.invalid"
/* The schema bounds description at 1000 characters. */
#define XARF_DESCRIPTION_MAX 1000
#define XARF_EVIDENCE_MAX    5242880

/* The provider as X-ARF's reporter and sender: organisation, contact, domain. */
static json_t *
contact_json(const struct abuse_report *report)
{
	char address[REPORT_ADDRESS_MAX], domain[REPORT_ADDRESS_MAX], org[REPORT_ADDRESS_MAX];
	const char *open = strchr(report->from, '<');

	report_from_address(report, address, sizeof(address));
	report_from_domain(report, domain, sizeof(domain));
	/* "Provider Abuse Desk <abuse@provider.example>" names the organisation. */
	if (open != NULL && open > report->from) {
		size_t length = (size_t)(open - report->from);

		while (length > 0 && report->from[length - 1] == ' ')
			length--;
		snprintf(org, sizeof(org), "%.*s", (int)length, report->from);
	} else
		snprintf(org, sizeof(org), "%s", domain);
	return json_pack("{s:s, s:s, s:s}", "org", org, "contact", address, "domain", domain);
}

static const char *
protocol_name(unsigned protocol)
{
	switch (protocol) {
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
	case SAMPLE_PROTOCOL_ARP: /* X-ARF names no ARP; host discovery, like a ping sweep */
		return "icmp";
	case IPPROTO_SCTP:
		return "sctp";
	default:
		return "tcp";
	}
}

/* The latest destination, as destination_ip and destination_port. */
static void
put_destination(json_t *object, const struct abuse_report *report, bool *complete)
{
	const struct event_sample *sample = &report->destinations[0];
	char address[SOURCE_STRLEN];

	if (report->destination_count == 0)
		return;
	report_json_set(object, "destination_ip",
	                json_string(report_sample_address(sample, address, sizeof(address))),
	                complete);
	if (sample->port != 0)
		report_json_set(object, "destination_port", json_integer(sample->port), complete);
}

/* The text log, as the one evidence item: base64, with its size and SHA-256. */
static void
put_evidence(json_t *object, const struct abuse_report *report, bool *complete)
{
	char digest[ENCODE_SHA256_HEX], hash[ENCODE_SHA256_HEX + 8];
	char *payload;
	json_t *item;

	/* The schema takes an item of 5 MiB at most; a longer log goes in the mail alone. */
	if (report->log == NULL || report->log_len == 0 || report->log_len > XARF_EVIDENCE_MAX)
		return;
	if ((payload = encode_base64(report->log, report->log_len, 0)) == NULL) {
		*complete = false;
		return;
	}
	encode_sha256_hex(report->log, report->log_len, digest);
	snprintf(hash, sizeof(hash), "sha256:%s", digest);
	item = json_pack("{s:s, s:s, s:s, s:s, s:I}", "content_type", "text/plain", "description",
	                 "abuseguard's log of the traffic seen from the source (UTC)", "payload",
	                 payload, "hash", hash, "size", (json_int_t)report->log_len);
	free(payload);
	report_json_set(object, "evidence", item != NULL ? json_pack("[o]", item) : NULL, complete);
}

static void
put_spam(json_t *object, const struct abuse_report *report, bool *complete)
{
	report_json_set(object, "evidence_source", json_string("automated_filter"), complete);
	report_json_set(object, "protocol", json_string("smtp"), complete);
	report_json_set(object, "smtp_from",
	                json_string(report->smtp_from[0] ? report->smtp_from : XARF_UNKNOWN_SENDER),
	                complete);
	if (report->smtp_to[0])
		report_json_set(object, "smtp_to", json_string(report->smtp_to), complete);
	if (report->subject[0])
		report_json_set(object, "subject", json_string(report->subject), complete);
}

static void
put_scan(json_t *object, const struct abuse_report *report, bool *complete)
{
	report_json_set(object, "evidence_source", json_string("traffic_analysis"), complete);
	report_json_set(object, "protocol",
	                json_string(protocol_name(report->destination_count > 0
	                                              ? report->destinations[0].protocol
	                                              : IPPROTO_TCP)),
	                complete);
	put_destination(object, report, complete);
	report_json_set_time(object, "first_seen", report->first_seen_ms, complete);
	report_json_set_time(object, "last_seen", report->last_seen_ms, complete);
}

static void
put_scraping(json_t *object, const struct abuse_report *report, bool *complete)
{
	report_json_set(object, "evidence_source", json_string("traffic_analysis"), complete);
	report_json_set(object, "protocol", json_string("tcp"), complete);
	put_destination(object, report, complete);
	report_json_set(object, "total_requests",
	                json_integer(report->attempts > 0 ? report->attempts : 1), complete);
	report_json_set(object, "respects_robots_txt", json_false(), complete);
	if (report->user_agent[0])
		report_json_set(object, "user_agent", json_string(report->user_agent), complete);
	report_json_set_time(object, "first_seen", report->first_seen_ms, complete);
	report_json_set_time(object, "last_seen", report->last_seen_ms, complete);
}

static void
put_description(json_t *object, const struct abuse_report *report, bool *complete)
{
	char source[SOURCE_STRLEN], text[XARF_DESCRIPTION_MAX + 1];

	snprintf(
	    text, sizeof(text),
	    "%s from %s%s%s, %llu event(s) between %s and %s, seen at the source by the "
	    "hosting provider (ticket %lld)",
	    category_name(report->category), source_format(&report->source, source, sizeof(source)),
	    report->vm.name[0] ? ", VM " : "", report->vm.name,
	    (unsigned long long)report->event_count,
	    report_time_iso(report->first_seen_ms, (char[32]){0}, 32),
	    report_time_iso(report->last_seen_ms, (char[32]){0}, 32), (long long)report->ticket_id);
	report_json_set(object, "description", json_string(text), complete);
}

int
xarf_report(const struct abuse_report *report, json_t **out)
{
	const char *category, *type;
	char source[SOURCE_STRLEN], tag[48];
	bool complete = true;
	json_t *object;

	*out = NULL;
	if (report_xarf_type(report->category, &category, &type) < 0)
		return -ENOTSUP;
	if ((object = json_object()) == NULL)
		return -ENOMEM;
	report_json_set(object, "xarf_version", json_string(XARF_VERSION), &complete);
	report_json_set(object, "report_id", json_string(report->report_id), &complete);
	/* When the abuse took place: the latest event the report is about. */
	report_json_set_time(object, "timestamp",
	                     report->last_seen_ms ? report->last_seen_ms : report->time_ms,
	                     &complete);
	report_json_set(object, "reporter", contact_json(report), &complete);
	report_json_set(object, "sender", contact_json(report), &complete);
	report_json_set(object, "source_identifier",
	                json_string(source_format(&report->source, source, sizeof(source))),
	                &complete);
	if (report->source_port != 0)
		report_json_set(object, "source_port", json_integer(report->source_port),
		                &complete);
	report_json_set(object, "category", json_string(category), &complete);
	report_json_set(object, "type", json_string(type), &complete);
	snprintf(tag, sizeof(tag), "ticket:%lld", (long long)report->ticket_id);
	report_json_set(object, "tags", json_pack("[s]", tag), &complete);
	put_description(object, report, &complete);
	switch (report->category) {
	case CATEGORY_SPAM:
		put_spam(object, report, &complete);
		break;
	case CATEGORY_SCAN:
		put_scan(object, report, &complete);
		break;
	default:
		put_scraping(object, report, &complete);
		break;
	}
	put_evidence(object, report, &complete);
	if (!complete) {
		json_decref(object);
		return -ENOMEM;
	}
	*out = object;
	return 0;
}
