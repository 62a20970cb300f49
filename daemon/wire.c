/*
 * libpcap beside XDP: TCP of the watched ports on the VM-facing interfaces,
 * followed per connection into the HTTP readers and the SMTP line reader,
 * and kept for a while in a ring per interface for evidence.
 */
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "log.h"
#include "robots.h"
#include "wire.h"

#define WIRE_SNAPLEN     65535
#define ETHERNET_LENGTH  14
#define ETHERTYPE_IPV4   0x0800
#define ETHERTYPE_IPV6   0x86dd
#define ETHERTYPE_VLAN   0x8100
#define ETHERTYPE_QINQ   0x88a8
#define TCP_FIN          0x01
#define TCP_SYN          0x02
#define TCP_RST          0x04
#define TCP_ACK          0x10
#define SMTP_LINE_MAX    1000 /* RFC 5321 4.5.3.1.6, with its CRLF */
#define DISPATCH_BUDGET  4096 /* packets read per wakeup: the loop serves others too */
#define PCAP_FILE_HEADER 24
#define PCAP_RECORD      16
/* robots.txt replies being kept at once, over all flows: 16 x 500 KiB at most. */
#define WIRE_ROBOTS_KEPT_MAX 16
/* A connection silent this long is forgotten: keep-alive timeouts are shorter. */
#define WIRE_FLOW_IDLE_MS (5 * 60 * 1000)

static const uint16_t smtp_ports[] = {25, 465, 587};
/* Port 465 is TLS from the first byte: nothing of it is clear text. */
#define SMTPS_PORT 465

struct ring_slot {
	int64_t time_us;
	uint32_t offset, caplen, len;
};

struct ring {
	struct ring_slot *slots;
	uint32_t slot_count, oldest, count;
	uint8_t *bytes;
	uint32_t size, write;
};

struct interface {
	int ifindex;
	char name[IF_NAMESIZE];
	uint8_t mac[6]; /* the host's side: frames from it go toward the VM */
	pcap_t *pcap;
	struct loop_watch watch;
	struct wire *wire;
	struct ring ring;
	uint64_t drops_seen, ifdrops_seen;
};

enum flow_kind { FLOW_HTTP, FLOW_SMTP };

enum smtp_state {
	SMTP_COMMANDS, /* before STARTTLS: every line is handed on */
	SMTP_HEADERS,  /* after DATA, up to the blank line */
	SMTP_BODY,     /* up to the line with a single dot */
	SMTP_DONE,     /* TLS, BDAT or lost bytes: nothing more is clear or known */
};

struct flow_key {
	int ifindex;
	struct wire_endpoint client, server;
};

struct flow {
	struct flow_key key;
	struct flow *hash_next, *lru_prev, *lru_next; /* lru_next: the next older one */
	int64_t last_ms;
	enum flow_kind kind;
	bool client_fin, server_fin;
	/* HTTP */
	struct http_flow http;
	struct http_response_flow response;
	bool response_synced;
	uint32_t response_next_seq;
	char *robots_host;    /* the Host of the robots.txt request in flight */
	unsigned robots_kept; /* robots.txt replies this flow waits to keep */
	/* SMTP */
	enum smtp_state smtp;
	bool smtp_synced;
	uint32_t smtp_next_seq;
	char *line;
	size_t line_len;
	bool line_cut;
};

struct wire {
	struct wire_config config;
	struct wire_hooks hooks;
	struct loop *loop;
	struct interface **interfaces; /* each on its own: the loop holds their watches */
	unsigned interface_count, interface_max;
	struct flow **buckets;
	uint32_t bucket_count, flow_count;
	struct flow *newest, *oldest;
	int64_t now_ms;
	unsigned robots_kept; /* over all flows: each may buffer robots_max_bytes */
	struct wire_stats stats;
	/* The packet being read, for the hooks. */
	int ifindex;
};

/* One parsed TCP segment. */
struct segment {
	struct wire_endpoint from, to;
	uint32_t seq;
	uint8_t flags;
	const uint8_t *payload;
	size_t payload_len;
};

static uint16_t
be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static bool
http_port(const struct wire *wire, uint16_t port)
{
	for (unsigned i = 0; i < wire->config.http_port_count; i++)
		if (wire->config.http_ports[i] == port)
			return true;
	return false;
}

static bool
smtp_port(uint16_t port)
{
	for (size_t i = 0; i < sizeof(smtp_ports) / sizeof(smtp_ports[0]); i++)
		if (smtp_ports[i] == port)
			return true;
	return false;
}

/* Ethernet, up to two VLAN tags, IPv4 or IPv6, TCP: 0, or -1 if it is not that whole. */
static int
segment_parse(const uint8_t *frame, size_t caplen, struct segment *out)
{
	size_t offset = 12, ip_len, header_len, tcp_len;
	const uint8_t *ip, *tcp;
	uint16_t type;
	uint8_t protocol;

	memset(out, 0, sizeof(*out));
	if (caplen < ETHERNET_LENGTH)
		return -1;
	type = be16(frame + offset);
	for (int tags = 0; (type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ) && tags < 2; tags++) {
		offset += 4;
		if (caplen < offset + 2)
			return -1;
		type = be16(frame + offset);
	}
	offset += 2;
	ip = frame + offset;
	if (type == ETHERTYPE_IPV4) {
		if (caplen < offset + 20 || (ip[0] >> 4) != 4)
			return -1;
		header_len = (size_t)(ip[0] & 0x0f) * 4;
		ip_len = be16(ip + 2);
		/* Fragments are left out: a request split into them is not read. */
		if (header_len < 20 || ip_len < header_len || (be16(ip + 6) & 0x3fff) != 0)
			return -1;
		protocol = ip[9];
		out->from.family = out->to.family = SOURCE_FAMILY_IPV4;
		memcpy(out->from.addr, ip + 12, 4);
		memcpy(out->to.addr, ip + 16, 4);
	} else if (type == ETHERTYPE_IPV6) {
		if (caplen < offset + 40 || (ip[0] >> 4) != 6)
			return -1;
		header_len = 40;
		ip_len = 40 + (size_t)be16(ip + 4);
		protocol = ip[6]; /* extension headers are left out, as fragments are */
		out->from.family = out->to.family = SOURCE_FAMILY_IPV6;
		memcpy(out->from.addr, ip + 8, 16);
		memcpy(out->to.addr, ip + 24, 16);
	} else {
		return -1;
	}
	if (protocol != IPPROTO_TCP || caplen < offset + ip_len)
		return -1; /* truncated: its payload cannot be followed */
	tcp = ip + header_len;
	tcp_len = ip_len - header_len;
	if (tcp_len < 20 || (size_t)(tcp[12] >> 4) * 4 < 20 || (size_t)(tcp[12] >> 4) * 4 > tcp_len)
		return -1;
	out->from.port = be16(tcp);
	out->to.port = be16(tcp + 2);
	out->seq = be32(tcp + 4);
	out->flags = tcp[13];
	out->payload = tcp + (size_t)(tcp[12] >> 4) * 4;
	out->payload_len = tcp_len - (size_t)(tcp[12] >> 4) * 4;
	return 0;
}

/* --- the flow table: a hash of connections, with an LRU list to evict from --- */

static uint32_t
flow_hash(const struct flow_key *key)
{
	const uint8_t *p = (const uint8_t *)key;
	uint32_t hash = 2166136261u;

	for (size_t i = 0; i < sizeof(*key); i++)
		hash = (hash ^ p[i]) * 16777619u;
	return hash;
}

static void
lru_unlink(struct wire *wire, struct flow *flow)
{
	if (flow->lru_prev != NULL)
		flow->lru_prev->lru_next = flow->lru_next;
	else
		wire->newest = flow->lru_next;
	if (flow->lru_next != NULL)
		flow->lru_next->lru_prev = flow->lru_prev;
	else
		wire->oldest = flow->lru_prev;
	flow->lru_prev = flow->lru_next = NULL;
}

static void
lru_push(struct wire *wire, struct flow *flow)
{
	flow->lru_next = wire->newest;
	if (wire->newest != NULL)
		wire->newest->lru_prev = flow;
	wire->newest = flow;
	if (wire->oldest == NULL)
		wire->oldest = flow;
}

static void flow_end(struct wire *wire, struct flow *flow);

static void
flow_free(struct wire *wire, struct flow *flow)
{
	struct flow **link = &wire->buckets[flow_hash(&flow->key) & (wire->bucket_count - 1)];

	while (*link != flow)
		link = &(*link)->hash_next;
	*link = flow->hash_next;
	lru_unlink(wire, flow);
	wire->robots_kept -= flow->robots_kept;
	http_flow_free(&flow->http);
	http_response_free(&flow->response);
	free(flow->robots_host);
	free(flow->line);
	free(flow);
	wire->flow_count--;
}

static struct flow *
flow_find(struct wire *wire, const struct flow_key *key)
{
	struct flow *flow = wire->buckets[flow_hash(key) & (wire->bucket_count - 1)];

	while (flow != NULL && memcmp(&flow->key, key, sizeof(*key)) != 0)
		flow = flow->hash_next;
	return flow;
}

static struct flow *
flow_create(struct wire *wire, const struct flow_key *key, enum flow_kind kind)
{
	uint32_t bucket = flow_hash(key) & (wire->bucket_count - 1);
	struct flow *flow;

	if (wire->flow_count >= wire->config.max_flows) {
		wire->stats.flows_evicted++;
		flow_end(wire, wire->oldest);
	}
	if ((flow = calloc(1, sizeof(*flow))) == NULL) {
		wire->stats.flow_table_full++;
		return NULL;
	}
	flow->key = *key;
	flow->kind = kind;
	http_flow_init(&flow->http);
	http_response_init(&flow->response, wire->config.robots_max_bytes);
	flow->hash_next = wire->buckets[bucket];
	wire->buckets[bucket] = flow;
	lru_push(wire, flow);
	wire->flow_count++;
	wire->stats.flows++;
	return flow;
}

/* --- HTTP --- */

struct http_context {
	struct wire *wire;
	struct flow *flow;
};

static bool
is_robots_request(const struct http_request *request)
{
	static const char robots[] = "/robots.txt";

	return request->path != NULL && request->path_len == sizeof(robots) - 1 &&
	       memcmp(request->path, robots, sizeof(robots) - 1) == 0 &&
	       ((request->method_len == 3 && memcmp(request->method, "GET", 3) == 0));
}

static void
on_http_request(void *context, const struct http_request *request)
{
	struct http_context *ctx = context;
	struct wire *wire = ctx->wire;
	struct flow *flow = ctx->flow;
	bool robots = is_robots_request(request);
	bool head = request->method_len == 4 && memcmp(request->method, "HEAD", 4) == 0;
	struct wire_request out = {
	    .ifindex = flow->key.ifindex,
	    .time_ms = wire->now_ms,
	    .client = flow->key.client,
	    .server = flow->key.server,
	    .http = request,
	};

	wire->stats.requests++;
	/* Each kept reply may buffer robots_max_bytes: so many at once, no more. */
	if (robots && wire->robots_kept >= WIRE_ROBOTS_KEPT_MAX) {
		wire->stats.robots_not_kept++;
		robots = false;
	}
	if (http_response_expect(&flow->response, &wire->stats.responses, robots, head) == 0 &&
	    robots) {
		flow->robots_kept++;
		wire->robots_kept++;
		free(flow->robots_host);
		flow->robots_host =
		    request->host != NULL ? strndup(request->host, request->host_len) : NULL;
	}
	if (wire->hooks.on_request != NULL)
		wire->hooks.on_request(wire->hooks.arg, &out);
}

static void
on_http_response(void *context, const struct http_response *response)
{
	struct http_context *ctx = context;
	struct wire *wire = ctx->wire;
	struct flow *flow = ctx->flow;
	struct wire_robots out = {
	    .ifindex = flow->key.ifindex,
	    .time_ms = wire->now_ms,
	    .client = flow->key.client,
	    .server = flow->key.server,
	    .host = flow->robots_host,
	    .http = response,
	};

	wire->stats.robots_replies++;
	if (flow->robots_kept > 0) {
		flow->robots_kept--;
		wire->robots_kept--;
	}
	if (wire->hooks.on_robots != NULL)
		wire->hooks.on_robots(wire->hooks.arg, &out);
}

/*
 * Lines a segment up with a stream read in order: 0 with *p and *len the
 * bytes not seen yet; 1 when there are none (a SYN, a retransmission); -1
 * for a gap, or for a stream joined in the middle unless may_join.
 */
static int
stream_align(bool *synced, uint32_t *next_seq, const struct segment *segment, bool may_join,
             const uint8_t **p, size_t *len)
{
	int32_t offset;

	*p = segment->payload;
	*len = segment->payload_len;
	if (segment->flags & TCP_SYN) {
		*synced = true;
		*next_seq = segment->seq + 1;
		return 1;
	}
	if (*len == 0)
		return 1;
	if (!*synced) {
		if (!may_join)
			return -1;
		*synced = true;
		*next_seq = segment->seq;
	}
	offset = (int32_t)(segment->seq - *next_seq);
	if (offset > 0)
		return -1;
	if ((size_t) - (int64_t)offset >= *len)
		return 1;
	*p += -(int64_t)offset;
	*len -= (size_t) - (int64_t)offset;
	*next_seq = segment->seq + (uint32_t)segment->payload_len;
	return 0;
}

/* The server's side, in order: a gap ends the reading (where a response begins is lost). */
static void
http_server_bytes(struct wire *wire, struct flow *flow, const struct segment *segment)
{
	struct http_context ctx = {wire, flow};
	const uint8_t *p;
	size_t len;
	int aligned =
	    stream_align(&flow->response_synced, &flow->response_next_seq, segment, true, &p, &len);

	if (aligned < 0) {
		http_response_lost(&flow->response);
		return;
	}
	if (aligned == 0 && http_response_feed(&flow->response, &wire->stats.responses, p, len,
	                                       on_http_response, &ctx) == -ENOMEM)
		log_warnx("wire: no memory for a robots.txt reply");
}

static void
http_client_bytes(struct wire *wire, struct flow *flow, const struct segment *segment)
{
	struct http_context ctx = {wire, flow};
	uint32_t seq = segment->seq;

	if (segment->flags & TCP_SYN) {
		seq++; /* a SYN with data (TFO) starts after the SYN's number */
		if (segment->payload_len == 0) {
			flow->http.synced = true;
			flow->http.next_seq = seq;
			return;
		}
	}
	if (segment->payload_len > 0)
		http_feed(&flow->http, &wire->config.http, &wire->stats.http, seq, segment->payload,
		          segment->payload_len, on_http_request, &ctx);
}

/* --- SMTP: the clear-text lines a VM sends --- */

static bool
command_is(const char *line, size_t len, const char *verb)
{
	size_t n = strlen(verb);

	return len >= n && strncasecmp(line, verb, n) == 0 && (len == n || line[n] == ' ');
}

static void
smtp_line(struct wire *wire, struct flow *flow, const char *text, size_t len)
{
	struct wire_smtp_line out = {
	    .ifindex = flow->key.ifindex,
	    .time_ms = wire->now_ms,
	    .client = flow->key.client,
	    .server = flow->key.server,
	    .text = text,
	    .len = len,
	};

	switch (flow->smtp) {
	case SMTP_COMMANDS:
		out.kind = WIRE_SMTP_COMMAND;
		if (command_is(text, len, "STARTTLS") || command_is(text, len, "BDAT"))
			flow->smtp = SMTP_DONE;
		else if (command_is(text, len, "DATA"))
			flow->smtp = SMTP_HEADERS;
		break;
	case SMTP_HEADERS:
		if (len == 0) {
			flow->smtp = SMTP_BODY;
			return;
		}
		if (len == 1 && text[0] == '.') {
			flow->smtp = SMTP_COMMANDS;
			return;
		}
		out.kind = WIRE_SMTP_HEADER;
		break;
	case SMTP_BODY:
		if (len == 1 && text[0] == '.')
			flow->smtp = SMTP_COMMANDS;
		return;
	default:
		return;
	}
	wire->stats.smtp_lines++;
	if (wire->hooks.on_smtp_line != NULL)
		wire->hooks.on_smtp_line(wire->hooks.arg, &out);
}

static bool
smtp_greeting(const uint8_t *payload, size_t len)
{
	return len >= 5 && (strncasecmp((const char *)payload, "EHLO ", 5) == 0 ||
	                    strncasecmp((const char *)payload, "HELO ", 5) == 0 ||
	                    strncasecmp((const char *)payload, "LHLO ", 5) == 0);
}

static void
smtp_client_bytes(struct wire *wire, struct flow *flow, const struct segment *segment)
{
	const uint8_t *bytes;
	const char *p;
	size_t len;
	int aligned;

	if (flow->smtp == SMTP_DONE)
		return;
	/*
	 * The client's first bytes are its greeting (the capture sees no SYN:
	 * the filter keeps bare SYNs in the kernel). Joined anywhere else, or
	 * with bytes lost, where a line or a message begins is unknown.
	 */
	if (!flow->smtp_synced && !(segment->flags & TCP_SYN) &&
	    !smtp_greeting(segment->payload, segment->payload_len)) {
		flow->smtp = SMTP_DONE;
		return;
	}
	aligned =
	    stream_align(&flow->smtp_synced, &flow->smtp_next_seq, segment, true, &bytes, &len);
	if (aligned < 0)
		flow->smtp = SMTP_DONE;
	if (aligned != 0)
		return;
	p = (const char *)bytes;
	if (flow->line == NULL && (flow->line = malloc(SMTP_LINE_MAX)) == NULL) {
		flow->smtp = SMTP_DONE;
		return;
	}
	for (size_t i = 0; i < len && flow->smtp != SMTP_DONE; i++) {
		if (p[i] != '\n') {
			if (flow->line_len < SMTP_LINE_MAX)
				flow->line[flow->line_len++] = p[i];
			else
				flow->line_cut = true; /* handed on cut to the limit */
			continue;
		}
		if (flow->line_len > 0 && flow->line[flow->line_len - 1] == '\r')
			flow->line_len--;
		smtp_line(wire, flow, flow->line, flow->line_len);
		flow->line_len = 0;
		flow->line_cut = false;
	}
}

/* --- per packet --- */

static void
flow_end(struct wire *wire, struct flow *flow)
{
	struct http_context ctx = {wire, flow};

	if (flow->kind == FLOW_HTTP)
		http_response_end(&flow->response, &wire->stats.responses, on_http_response, &ctx);
	flow_free(wire, flow);
}

static void
segment_follow(struct wire *wire, int ifindex, const struct segment *segment, bool from_vm)
{
	struct flow_key key;
	enum flow_kind kind;
	bool from_client;
	struct flow *flow;

	memset(&key, 0, sizeof(key));
	key.ifindex = ifindex;
	/* The VM is the client: a connection it opened to a watched port. */
	if (from_vm && (http_port(wire, segment->to.port) || smtp_port(segment->to.port))) {
		key.client = segment->from;
		key.server = segment->to;
		from_client = true;
	} else if (!from_vm &&
	           (http_port(wire, segment->from.port) || smtp_port(segment->from.port))) {
		key.client = segment->to;
		key.server = segment->from;
		from_client = false;
	} else {
		return; /* the VM serving, or a port no reader wants */
	}
	kind = http_port(wire, key.server.port) ? FLOW_HTTP : FLOW_SMTP;
	if (kind == FLOW_SMTP && key.server.port == SMTPS_PORT)
		return;
	flow = flow_find(wire, &key);
	if (flow == NULL) {
		/* Only bytes make a flow: a flood of SYNs or RSTs costs no memory. */
		if (segment->payload_len == 0 || (segment->flags & TCP_RST))
			return;
		if ((flow = flow_create(wire, &key, kind)) == NULL)
			return;
	} else {
		lru_unlink(wire, flow);
		lru_push(wire, flow);
	}
	flow->last_ms = wire->now_ms;
	if (kind == FLOW_HTTP && from_client)
		http_client_bytes(wire, flow, segment);
	else if (kind == FLOW_HTTP)
		http_server_bytes(wire, flow, segment);
	else if (from_client)
		smtp_client_bytes(wire, flow, segment);
	if (segment->flags & TCP_FIN) {
		if (from_client)
			flow->client_fin = true;
		else
			flow->server_fin = true;
	}
	if ((segment->flags & TCP_RST) || (flow->client_fin && flow->server_fin))
		flow_end(wire, flow);
}

/* --- the evidence ring --- */

static int
ring_init(struct ring *ring, uint32_t slots, uint32_t bytes)
{
	memset(ring, 0, sizeof(*ring));
	if (slots == 0 || bytes == 0)
		return 0;
	ring->slots = calloc(slots, sizeof(*ring->slots));
	ring->bytes = malloc(bytes);
	if (ring->slots == NULL || ring->bytes == NULL) {
		free(ring->slots);
		free(ring->bytes);
		memset(ring, 0, sizeof(*ring));
		return -ENOMEM;
	}
	/* Touched now: the ring's memory is the daemon's from the start, whatever comes. */
	memset(ring->bytes, 0, bytes);
	ring->slot_count = slots;
	ring->size = bytes;
	return 0;
}

static void
ring_free(struct ring *ring)
{
	free(ring->slots);
	free(ring->bytes);
	memset(ring, 0, sizeof(*ring));
}

static bool
slot_overlaps(const struct ring_slot *slot, uint32_t offset, uint32_t len)
{
	return slot->offset < offset + len && offset < slot->offset + slot->caplen;
}

/* Packets are laid out in the order they came, so the oldest is always the next in the way. */
static void
ring_push(struct wire *wire, struct ring *ring, const void *frame, uint32_t caplen, uint32_t len,
          int64_t time_us)
{
	struct ring_slot *slot;

	if (ring->slot_count == 0)
		return;
	if (caplen > ring->size) {
		wire->stats.ring_too_big++;
		return;
	}
	if (ring->write + caplen > ring->size)
		ring->write = 0;
	while (ring->count > 0 &&
	       (ring->count == ring->slot_count ||
	        slot_overlaps(&ring->slots[ring->oldest], ring->write, caplen))) {
		ring->oldest = (ring->oldest + 1) % ring->slot_count;
		ring->count--;
		wire->stats.ring_wrapped++;
	}
	slot = &ring->slots[(ring->oldest + ring->count) % ring->slot_count];
	slot->time_us = time_us;
	slot->offset = ring->write;
	slot->caplen = caplen;
	slot->len = len;
	memcpy(ring->bytes + ring->write, frame, caplen);
	ring->write += caplen;
	ring->count++;
}

static struct interface *
interface_find(struct wire *wire, int ifindex)
{
	for (unsigned i = 0; i < wire->interface_count; i++)
		if (wire->interfaces[i]->ifindex == ifindex)
			return wire->interfaces[i];
	return NULL;
}

static struct interface *
interface_add(struct wire *wire, int ifindex, const char *name)
{
	struct interface *interface;

	if (wire->interface_count == wire->interface_max) {
		unsigned max = wire->interface_max ? wire->interface_max * 2 : 8;
		struct interface **grown = reallocarray(wire->interfaces, max, sizeof(*grown));

		if (grown == NULL)
			return NULL;
		wire->interfaces = grown;
		wire->interface_max = max;
	}
	if ((interface = calloc(1, sizeof(*interface))) == NULL)
		return NULL;
	interface->ifindex = ifindex;
	interface->wire = wire;
	snprintf(interface->name, sizeof(interface->name), "%s", name);
	if (ring_init(&interface->ring, wire->config.ring_packets, wire->config.ring_bytes) < 0) {
		free(interface);
		return NULL;
	}
	wire->interfaces[wire->interface_count++] = interface;
	return interface;
}

void
wire_packet(struct wire *wire, int ifindex, const void *frame, size_t caplen, size_t len,
            int64_t time_us, bool from_vm)
{
	struct interface *interface = interface_find(wire, ifindex);
	struct segment segment;

	if (interface == NULL) {
		char name[IF_NAMESIZE];

		if (if_indextoname((unsigned)ifindex, name) == NULL)
			snprintf(name, sizeof(name), "if%d", ifindex);
		if ((interface = interface_add(wire, ifindex, name)) == NULL)
			return;
	}
	wire->stats.packets++;
	wire->stats.bytes += len;
	wire->now_ms = time_us / 1000;
	ring_push(wire, &interface->ring, frame, (uint32_t)caplen, (uint32_t)len, time_us);
	if (segment_parse(frame, caplen, &segment) < 0) {
		wire->stats.not_parsed++;
		return;
	}
	wire->ifindex = ifindex;
	segment_follow(wire, ifindex, &segment, from_vm);
}

void
wire_expire(struct wire *wire, int64_t now_ms)
{
	while (wire->oldest != NULL && wire->oldest->last_ms < now_ms - wire->config.flow_idle_ms) {
		wire->stats.flows_expired++;
		flow_end(wire, wire->oldest);
	}
}

/* --- live capture --- */

static void
packet_handler(unsigned char *user, const struct pcap_pkthdr *header, const unsigned char *frame)
{
	struct interface *interface = (struct interface *)user;
	bool from_vm = header->caplen < 12 || memcmp(frame + 6, interface->mac, 6) != 0;

	wire_packet(interface->wire, interface->ifindex, frame, header->caplen, header->len,
	            (int64_t)header->ts.tv_sec * 1000000 + header->ts.tv_usec, from_vm);
}

/* Reads what the interface's handle holds, up to the budget. */
static void
interface_read(struct interface *interface)
{
	int read = 0, got;

	if (interface->pcap == NULL)
		return;
	while (read < DISPATCH_BUDGET && (got = pcap_dispatch(interface->pcap, -1, packet_handler,
	                                                      (unsigned char *)interface)) > 0)
		read += got;
}

static void
pcap_ready(struct loop_watch *watch, uint32_t events)
{
	(void)events;
	interface_read((struct interface *)((char *)watch - offsetof(struct interface, watch)));
}

void
wire_drain(struct wire *wire)
{
	for (unsigned i = 0; i < wire->interface_count; i++)
		interface_read(wire->interfaces[i]);
}

int
wire_filter(const struct wire_config *config, char *out, size_t size)
{
	/*
	 * Segments with payload, and FIN or RST: what the readers use. Bare
	 * SYNs and ACKs stay in the kernel, so a SYN flood from forged sources
	 * costs the daemon nothing here (XDP counts it). IPv6 as the readers
	 * take it: TCP right after the fixed header.
	 */
	static const char carrying[] =
	    "((ip and (ip[2:2] - ((ip[0] & 0xf) << 2) - ((tcp[12] & 0xf0) >> 2)) != 0) or "
	    "(ip6 and (ip6[4:2] - ((ip6[52] & 0xf0) >> 2)) != 0) or "
	    "(ip and tcp[13] & 5 != 0) or (ip6 and ip6[53] & 5 != 0))";
	char ports[WIRE_MAX_PORTS * 16 + 64] = "";
	size_t used = 0;

	for (unsigned i = 0; i < config->http_port_count; i++)
		used += (size_t)snprintf(ports + used, sizeof(ports) - used, "%sport %u",
		                         used ? " or " : "", config->http_ports[i]);
	for (size_t i = 0; i < sizeof(smtp_ports) / sizeof(smtp_ports[0]); i++)
		used += (size_t)snprintf(ports + used, sizeof(ports) - used, " or port %u",
		                         smtp_ports[i]);
	/* The second half reads the same behind a VLAN tag. */
	return snprintf(out, size, "(tcp and (%s) and %s) or (vlan and tcp and (%s) and %s)", ports,
	                carrying, ports, carrying) < (int)size
	           ? 0
	           : -ENOSPC;
}

static int
interface_mac(const char *name, uint8_t mac[6])
{
	struct ifreq request;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int error = 0;

	if (fd == -1)
		return -errno;
	memset(&request, 0, sizeof(request));
	snprintf(request.ifr_name, sizeof(request.ifr_name), "%s", name);
	if (ioctl(fd, SIOCGIFHWADDR, &request) == -1)
		error = -errno;
	else
		memcpy(mac, request.ifr_hwaddr.sa_data, 6);
	close(fd);
	return error;
}

/* The kernel filter of wire->config on one handle. 0, or -EIO (logged). */
static int
filter_set(struct wire *wire, pcap_t *pcap, const char *name)
{
	char filter[4096];
	struct bpf_program program;

	if (wire_filter(&wire->config, filter, sizeof(filter)) < 0 ||
	    pcap_compile(pcap, &program, filter, 1, PCAP_NETMASK_UNKNOWN) < 0) {
		log_warnx("%s: wire: filter \"%s\": %s", name, filter, pcap_geterr(pcap));
		return -EIO;
	}
	if (pcap_setfilter(pcap, &program) < 0) {
		log_warnx("%s: wire: filter \"%s\": %s", name, filter, pcap_geterr(pcap));
		pcap_freecode(&program);
		return -EIO;
	}
	pcap_freecode(&program);
	return 0;
}

static int
pcap_start(struct wire *wire, struct interface *interface)
{
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	pcap_t *pcap;
	int status;

	if ((status = interface_mac(interface->name, interface->mac)) < 0) {
		log_warnx("%s: wire: its MAC address: %s", interface->name, strerror(-status));
		return status;
	}
	if ((pcap = pcap_create(interface->name, errbuf)) == NULL) {
		log_warnx("%s: wire: %s", interface->name, errbuf);
		return -ENODEV;
	}
	pcap_set_snaplen(pcap, WIRE_SNAPLEN);
	pcap_set_promisc(pcap, 0);
	pcap_set_immediate_mode(pcap, 1);
	pcap_set_buffer_size(pcap, (int)wire->config.buffer_bytes);
	if ((status = pcap_activate(pcap)) < 0) {
		log_warnx("%s: wire: pcap_activate: %s", interface->name, pcap_geterr(pcap));
		pcap_close(pcap);
		return -EIO;
	}
	if ((status = filter_set(wire, pcap, interface->name)) < 0 ||
	    pcap_setnonblock(pcap, 1, errbuf) < 0 || pcap_get_selectable_fd(pcap) < 0) {
		if (status == 0)
			log_warnx("%s: wire: %s", interface->name, errbuf);
		pcap_close(pcap);
		return -EIO;
	}
	interface->pcap = pcap;
	interface->watch.fd = pcap_get_selectable_fd(pcap);
	interface->watch.ready = pcap_ready;
	if ((status = loop_add(wire->loop, &interface->watch, EPOLLIN)) < 0) {
		pcap_close(pcap);
		interface->pcap = NULL;
		return status;
	}
	return 0;
}

int
wire_attach(struct wire *wire, int ifindex, const char *name)
{
	struct interface *interface = interface_find(wire, ifindex);
	int error;

	if (wire->loop == NULL)
		return 0;
	if (interface != NULL && interface->pcap != NULL)
		return 0;
	if (interface == NULL && (interface = interface_add(wire, ifindex, name)) == NULL) {
		wire->stats.attach_failures++;
		log_warnx("%s: wire: no memory for its ring", name);
		return -ENOMEM;
	}
	snprintf(interface->name, sizeof(interface->name), "%s", name);
	if ((error = pcap_start(wire, interface)) < 0) {
		wire->stats.attach_failures++;
		return error;
	}
	log_info("%s: libpcap reading TCP of the HTTP and SMTP ports", name);
	return 0;
}

static void
interface_stop(struct wire *wire, struct interface *interface)
{
	struct pcap_stat stat;

	if (interface->pcap == NULL)
		return;
	if (pcap_stats(interface->pcap, &stat) == 0) {
		wire->stats.kernel_drops += stat.ps_drop - interface->drops_seen;
		wire->stats.interface_drops += stat.ps_ifdrop - interface->ifdrops_seen;
	}
	if (wire->loop != NULL)
		loop_remove(wire->loop, &interface->watch);
	pcap_close(interface->pcap);
	interface->pcap = NULL;
}

void
wire_detach(struct wire *wire, int ifindex)
{
	struct interface *interface = interface_find(wire, ifindex);
	struct flow *flow, *older;

	if (interface == NULL)
		return;
	for (flow = wire->newest; flow != NULL; flow = older) {
		older = flow->lru_next;
		if (flow->key.ifindex == ifindex)
			flow_end(wire, flow);
	}
	interface_stop(wire, interface);
	ring_free(&interface->ring);
	for (unsigned i = 0; i < wire->interface_count; i++)
		if (wire->interfaces[i] == interface)
			wire->interfaces[i] = wire->interfaces[--wire->interface_count];
	free(interface);
}

int
wire_set_http_ports(struct wire *wire, const uint16_t *ports, unsigned count)
{
	int error = 0;

	wire->config.http_port_count = 0;
	for (unsigned i = 0; i < count && i < WIRE_MAX_PORTS; i++)
		wire->config.http_ports[wire->config.http_port_count++] = ports[i];
	for (unsigned i = 0; i < wire->interface_count; i++) {
		struct interface *interface = wire->interfaces[i];
		int status;

		if (interface->pcap != NULL &&
		    (status = filter_set(wire, interface->pcap, interface->name)) < 0)
			error = status;
	}
	return error;
}

void
wire_config_from(const struct config *policy, struct wire_config *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < policy->crawler.http_port_count && i < WIRE_MAX_PORTS; i++)
		out->http_ports[out->http_port_count++] = policy->crawler.http_ports[i];
	out->max_flows = policy->limits.wire_flows;
	out->flow_idle_ms = WIRE_FLOW_IDLE_MS;
	out->buffer_bytes = policy->limits.wire_buffer_bytes;
	out->ring_packets = policy->limits.evidence_packets;
	out->ring_bytes = policy->limits.evidence_bytes;
	out->robots_max_bytes = ROBOTS_DEFAULT_MAX_BYTES;
	http_limits_default(&out->http);
}

int
wire_open(struct wire **out, struct loop *loop, const struct wire_config *config,
          const struct wire_hooks *hooks)
{
	struct wire *wire = calloc(1, sizeof(*wire));
	uint32_t buckets = 64;

	*out = NULL;
	if (wire == NULL)
		return -ENOMEM;
	wire->config = *config;
	wire->hooks = *hooks;
	wire->loop = loop;
	if (wire->config.max_flows == 0)
		wire->config.max_flows = 1;
	while (buckets < wire->config.max_flows && buckets < (1u << 24))
		buckets <<= 1;
	wire->bucket_count = buckets;
	if ((wire->buckets = calloc(buckets, sizeof(*wire->buckets))) == NULL) {
		free(wire);
		return -ENOMEM;
	}
	*out = wire;
	return 0;
}

void
wire_close(struct wire *wire)
{
	if (wire == NULL)
		return;
	while (wire->oldest != NULL)
		flow_free(wire, wire->oldest);
	for (unsigned i = 0; i < wire->interface_count; i++) {
		interface_stop(wire, wire->interfaces[i]);
		ring_free(&wire->interfaces[i]->ring);
		free(wire->interfaces[i]);
	}
	free(wire->interfaces);
	free(wire->buckets);
	free(wire);
}

void
wire_stats(struct wire *wire, struct wire_stats *out)
{
	*out = wire->stats;
	out->flows_open = wire->flow_count;
	for (unsigned i = 0; i < wire->interface_count; i++) {
		struct interface *interface = wire->interfaces[i];
		struct pcap_stat stat;

		if (interface->pcap == NULL || pcap_stats(interface->pcap, &stat) < 0)
			continue;
		out->kernel_drops += stat.ps_drop;
		out->interface_drops += stat.ps_ifdrop;
	}
}

/* --- excerpts --- */

static bool
endpoint_in(const uint8_t family, const uint8_t *addr, const struct source_key *source)
{
	struct source_key key;

	if (family != source->family)
		return false;
	source_from_addr(family, addr, source->prefix_len, &key);
	return source_equal(&key, source);
}

static bool
frame_of(const uint8_t *frame, size_t caplen, const struct source_key *source)
{
	struct segment segment;

	if (segment_parse(frame, caplen, &segment) < 0)
		return false;
	return endpoint_in(segment.from.family, segment.from.addr, source) ||
	       endpoint_in(segment.to.family, segment.to.addr, source);
}

static int
ring_excerpt(const struct ring *ring, pcap_dumper_t *dumper, const struct source_key *source,
             int64_t since_ms, size_t max_bytes, size_t *used)
{
	int written = 0;

	for (uint32_t i = 0; i < ring->count; i++) {
		const struct ring_slot *slot = &ring->slots[(ring->oldest + i) % ring->slot_count];
		const uint8_t *frame = ring->bytes + slot->offset;
		struct pcap_pkthdr header;

		if (slot->time_us / 1000 < since_ms || !frame_of(frame, slot->caplen, source))
			continue;
		if (*used + PCAP_RECORD + slot->caplen > max_bytes)
			break;
		header.ts.tv_sec = slot->time_us / 1000000;
		header.ts.tv_usec = slot->time_us % 1000000;
		header.caplen = slot->caplen;
		header.len = slot->len;
		pcap_dump((unsigned char *)dumper, &header, frame);
		*used += PCAP_RECORD + slot->caplen;
		written++;
	}
	return written;
}

int
wire_excerpt_write(struct wire *wire, const char *ifname, const struct source_key *source,
                   int64_t since_ms, const char *path, size_t max_bytes)
{
	size_t used = PCAP_FILE_HEADER;
	pcap_dumper_t *dumper;
	bool found = false;
	int written = 0;
	pcap_t *dead;

	if (max_bytes < PCAP_FILE_HEADER)
		return -EINVAL;
	if ((dead = pcap_open_dead(DLT_EN10MB, WIRE_SNAPLEN)) == NULL)
		return -ENOMEM;
	if ((dumper = pcap_dump_open(dead, path)) == NULL) {
		int error = errno ? -errno : -EIO;

		log_warnx("%s: pcap excerpt: %s", path, pcap_geterr(dead));
		pcap_close(dead);
		return error;
	}
	for (unsigned i = 0; i < wire->interface_count; i++) {
		if (ifname != NULL && strcmp(wire->interfaces[i]->name, ifname) != 0)
			continue;
		found = true;
		written += ring_excerpt(&wire->interfaces[i]->ring, dumper, source, since_ms,
		                        max_bytes, &used);
	}
	pcap_dump_close(dumper);
	pcap_close(dead);
	return found || ifname == NULL ? written : -ENOENT;
}
