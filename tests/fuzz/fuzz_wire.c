/*
 * libFuzzer target for the wire's frame parsing and per-flow reassembly:
 * the input is a list of records, each either a raw frame (any bytes, as a
 * hostile VM could put on its interface) or a TCP segment of one of a few
 * connections between a VM and a server, in either direction, on the HTTP
 * and SMTP ports, with flags, retransmissions and gaps the record chooses.
 * Beyond "no crash": the flow table never passes its limit, every request
 * handed on is well formed, and an excerpt of the ring can be written.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../frame.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FLOWS 8

static void
check_request(void *arg, const struct wire_request *request)
{
	const struct http_request *http = request->http;

	(void)arg;
	if (http->method == NULL || http->method_len == 0 || request->client.port == 0 ||
	    (http->path != NULL && (http->path_len == 0 || http->path[0] != '/')))
		abort();
}

static void
check_robots(void *arg, const struct wire_robots *reply)
{
	(void)arg;
	if (reply->http->body == NULL || reply->http->body_len > 4096)
		abort();
}

static void
check_smtp(void *arg, const struct wire_smtp_line *line)
{
	(void)arg;
	if (line->len > 1000 || memchr(line->text, '\n', line->len) != NULL)
		abort();
}

/* One segment between the VM 10.0.0.5 and the server 10.0.1.2, either way. */
static size_t
segment(uint8_t *out, bool from_vm, uint16_t vm_port, uint16_t port, uint32_t seq, uint8_t flags,
        const uint8_t *payload, size_t len)
{
	static const char vm[] = "10.0.0.5", server[] = "10.0.1.2";

	if (from_vm)
		return test_frame(out, vm, vm_port, server, port, seq, flags, payload, len);
	return test_frame(out, server, port, vm, vm_port, seq, flags, payload, len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint16_t ports[4] = {80, 8080, 25, 587};
	static const uint8_t flag_choices[4] = {0x18, 0x02, 0x11, 0x04};
	struct wire_config config = {
	    .http_ports = {80, 8080},
	    .http_port_count = 2,
	    .max_flows = MAX_FLOWS,
	    .flow_idle_ms = 1000,
	    .ring_packets = 16,
	    .ring_bytes = 2048,
	    .robots_max_bytes = 4096,
	};
	struct wire_hooks hooks = {check_request, check_robots, check_smtp, NULL};
	uint32_t next[2][4][4] = {{{0}}}; /* per direction, port, connection */
	uint8_t frame[14 + 40 + 256];
	struct source_key source;
	struct wire_stats stats;
	struct wire *wire;
	int64_t time_us = 1700000000000000LL;
	size_t pos = 0;

	http_limits_default(&config.http);
	config.http.max_line_bytes = 200;
	config.http.max_head_bytes = 400;
	if (wire_open(&wire, NULL, &config, &hooks) < 0)
		return 0;
	while (pos + 2 <= size) {
		uint8_t control = data[pos], len = data[pos + 1];
		const uint8_t *payload = data + pos + 2;

		if ((size_t)len > size - pos - 2)
			len = (uint8_t)(size - pos - 2);
		pos += 2 + len;
		time_us += 1000 * (control & 0x0f);
		if (control == 0xff) {
			wire_packet(wire, 1, payload, len, len, time_us, len & 1);
			continue;
		}
		bool from_vm = control & 1;
		unsigned port = (control >> 1) & 3, connection = (control >> 3) & 3;
		uint8_t flags = flag_choices[(control >> 5) & 3];
		uint32_t *seq = &next[from_vm][port][connection];
		uint32_t sent = *seq;

		if (control & 0x80)
			sent -= len / 2; /* a retransmission reaching back */
		else if ((control & 0x60) == 0x60)
			sent += 3; /* a gap */
		wire_packet(wire, 1, frame,
		            segment(frame, from_vm, (uint16_t)(40000 + connection), ports[port],
		                    sent, flags, payload, len),
		            54 + len, time_us, from_vm);
		*seq = sent + len + ((flags & 0x03) ? 1 : 0);
		wire_stats(wire, &stats);
		if (stats.flows_open > MAX_FLOWS)
			abort();
		if (control == 0x7e)
			wire_expire(wire, time_us / 1000);
	}
	source_parse("10.0.0.5", 64, &source);
	if (wire_excerpt_write(wire, NULL, &source, 0, "/dev/null", 1 << 16) < 0)
		abort();
	wire_close(wire);
	return 0;
}
