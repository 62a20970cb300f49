/*
 * The crawler path's cost: HTTP from many VMs to many sites, keep-alive
 * connections with requests split across segments, each site's robots.txt
 * reply on the wire, written as a capture; then that capture read through
 * libpcap into the wire (reassembly, request and response readers) and the
 * crawler (robots.txt judged per request), as the daemon does live.
 * bench/crawler.sh sets it against tcpdump -r with the same filter.
 *
 *   bench_crawler --write FILE [--sessions N]
 *   bench_crawler --read FILE     prints "packets P requests R findings F ms T"
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "config.h"
#include "crawl.h"
#include "wire.h"

#define SITES             50
#define VMS               1000
#define REQUESTS_PER_FLOW 8
#define START_SECONDS     1700000000
#define SPACING_US        10

static const char robots_txt[] = "User-agent: *\nDisallow: /private/\nDisallow: /cart\n\n"
                                 "User-agent: GoodBot\nAllow: /\n";
static const uint8_t vm_mac[6] = {0x52, 0x54, 0, 0, 0, 5}, host_mac[6] = {0xfe, 0, 0, 0, 0, 1};

struct writer {
	pcap_dumper_t *dumper;
	uint64_t time_us, packets;
};

static void
emit(struct writer *writer, uint32_t vm, uint32_t site, uint16_t port, bool from_vm, uint32_t seq,
     uint8_t flags, const char *payload, size_t len)
{
	struct frame_spec spec = {
	    .protocol = IPPROTO_TCP,
	    .source_port = from_vm ? port : 80,
	    .destination_port = from_vm ? 80 : port,
	    .tcp_flags = flags,
	    .tcp_sequence = seq,
	    .payload_bytes = (uint16_t)len,
	    .payload = payload,
	};
	unsigned char frame[FRAME_BYTES_MAX];
	struct pcap_pkthdr header;
	char vm_text[32], site_text[32];

	snprintf(vm_text, sizeof(vm_text), "10.0.%u.%u", vm / 250, vm % 250 + 1);
	snprintf(site_text, sizeof(site_text), "192.0.2.%u", site + 1);
	frame_set_addresses(&spec, from_vm ? vm_text : site_text, from_vm ? site_text : vm_text);
	memcpy(spec.source_mac, from_vm ? vm_mac : host_mac, 6);
	memcpy(spec.destination_mac, from_vm ? host_mac : vm_mac, 6);
	header.caplen = header.len = (uint32_t)frame_build(&spec, frame);
	writer->time_us += SPACING_US;
	header.ts.tv_sec = START_SECONDS + (time_t)(writer->time_us / 1000000);
	header.ts.tv_usec = (suseconds_t)(writer->time_us % 1000000);
	pcap_dump((unsigned char *)writer->dumper, &header, frame);
	writer->packets++;
}

/* One keep-alive connection: its requests (every fourth split in two), each answered. */
static void
session(struct writer *writer, uint32_t vm, uint32_t site, uint16_t port, unsigned number,
        bool robots)
{
	static const char body[] = "<html><body>a page of the site, enough to be a page</body>"
	                           "</html>";
	uint32_t client = 1000, server = 50000;
	char request[512], response[256];

	emit(writer, vm, site, port, true, client++, TH_SYN, NULL, 0);
	emit(writer, vm, site, port, false, server++, TH_SYN | TH_ACK, NULL, 0);
	for (unsigned i = 0; i < (robots ? 1 : REQUESTS_PER_FLOW); i++) {
		unsigned page = (number * REQUESTS_PER_FLOW + i) % 97;
		int len = snprintf(request, sizeof(request),
		                   "GET %s%u.html HTTP/1.1\r\nHost: site%u.lab\r\n"
		                   "User-Agent: Mozilla/5.0 (compatible; FooBot/2.1; "
		                   "+http://foo.example/bot)\r\nAccept: */*\r\n\r\n",
		                   page % 4 == 0 ? "/private/" : "/shop/", page, site);
		const char *reply = body;
		size_t reply_len = sizeof(body) - 1;
		int head;

		if (robots) {
			len =
			    snprintf(request, sizeof(request),
			             "GET /robots.txt HTTP/1.1\r\nHost: site%u.lab\r\n\r\n", site);
			reply = robots_txt;
			reply_len = sizeof(robots_txt) - 1;
		}
		if (i % 4 == 3) {
			emit(writer, vm, site, port, true, client, TH_ACK | TH_PUSH, request, 20);
			emit(writer, vm, site, port, true, client + 20, TH_ACK | TH_PUSH,
			     request + 20, (size_t)len - 20);
		} else {
			emit(writer, vm, site, port, true, client, TH_ACK | TH_PUSH, request,
			     (size_t)len);
		}
		client += (uint32_t)len;
		head = snprintf(response, sizeof(response),
		                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: "
		                "%zu\r\n\r\n%s",
		                reply_len, reply);
		emit(writer, vm, site, port, false, server, TH_ACK | TH_PUSH, response,
		     (size_t)head);
		server += (uint32_t)head;
	}
	emit(writer, vm, site, port, true, client, TH_FIN | TH_ACK, NULL, 0);
	emit(writer, vm, site, port, false, server, TH_FIN | TH_ACK, NULL, 0);
}

static int
write_capture(const char *path, unsigned sessions)
{
	struct writer writer = {0};
	pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);

	if ((writer.dumper = pcap_dump_open(dead, path)) == NULL) {
		fprintf(stderr, "%s: %s\n", path, pcap_geterr(dead));
		return 1;
	}
	for (uint32_t site = 0; site < SITES; site++)
		session(&writer, site, site, 30000, 0, true);
	for (unsigned i = 0; i < sessions; i++)
		session(&writer, i % VMS, i % SITES, (uint16_t)(32768 + i % 28000), i, false);
	pcap_dump_close(writer.dumper);
	pcap_close(dead);
	printf("packets %llu\n", (unsigned long long)writer.packets);
	return 0;
}

struct reader {
	struct wire *wire;
	struct crawl *crawl;
	uint64_t packets, findings;
};

static void
on_request(void *arg, const struct wire_request *request)
{
	struct reader *reader = arg;

	crawl_request(reader->crawl, request);
}

static void
on_robots(void *arg, const struct wire_robots *reply)
{
	struct reader *reader = arg;

	crawl_robots(reader->crawl, reply);
}

static void
on_finding(void *arg, int ifindex, const struct crawler_finding *finding)
{
	struct reader *reader = arg;

	(void)ifindex;
	(void)finding;
	reader->findings++;
}

static void
on_packet(unsigned char *user, const struct pcap_pkthdr *header, const unsigned char *frame)
{
	struct reader *reader = (struct reader *)user;

	reader->packets++;
	wire_packet(reader->wire, 1, frame, header->caplen, header->len,
	            (int64_t)header->ts.tv_sec * 1000000 + header->ts.tv_usec,
	            memcmp(frame + 6, host_mac, 6) != 0);
}

static int
read_capture(const char *path)
{
	static struct config config;
	struct wire_hooks hooks = {.on_request = on_request, .on_robots = on_robots};
	struct reader reader = {0};
	struct wire_config wire_config;
	struct wire_stats stats;
	char errbuf[PCAP_ERRBUF_SIZE], filter[1024];
	struct bpf_program program;
	uint64_t start;
	pcap_t *pcap;

	config_defaults(&config);
	config.crawler.max_sources = 4096;
	wire_config_from(&config, &wire_config);
	hooks.arg = &reader;
	start = monotonic_ns();
	if ((pcap = pcap_open_offline(path, errbuf)) == NULL) {
		fprintf(stderr, "%s: %s\n", path, errbuf);
		return 1;
	}
	/* The daemon's kernel filter, here run by libpcap in userspace as tcpdump -r runs it. */
	if (wire_filter(&wire_config, filter, sizeof(filter)) < 0 ||
	    pcap_compile(pcap, &program, filter, 1, PCAP_NETMASK_UNKNOWN) < 0 ||
	    pcap_setfilter(pcap, &program) < 0 ||
	    wire_open(&reader.wire, NULL, &wire_config, &hooks) < 0 ||
	    crawl_open(&reader.crawl, NULL, &config, NULL, on_finding, &reader) < 0) {
		fprintf(stderr, "%s: cannot set up the crawler path\n", path);
		return 1;
	}
	pcap_freecode(&program);
	pcap_loop(pcap, -1, on_packet, (unsigned char *)&reader);
	wire_stats(reader.wire, &stats);
	printf("packets %llu requests %llu robots %llu findings %llu ms %.1f filter %s\n",
	       (unsigned long long)reader.packets, (unsigned long long)stats.requests,
	       (unsigned long long)stats.robots_replies, (unsigned long long)reader.findings,
	       (double)(monotonic_ns() - start) / 1e6, filter);
	crawl_close(reader.crawl);
	wire_close(reader.wire);
	pcap_close(pcap);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option options[] = {
	    {"write", required_argument, NULL, 'w'},
	    {"read", required_argument, NULL, 'r'},
	    {"sessions", required_argument, NULL, 's'},
	    {NULL, 0, NULL, 0},
	};
	const char *write_path = NULL, *read_path = NULL;
	unsigned sessions = 100000;
	int option;

	while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (option == 'w')
			write_path = optarg;
		else if (option == 'r')
			read_path = optarg;
		else if (option == 's')
			sessions = (unsigned)strtoul(optarg, NULL, 10);
		else
			return 2;
	}
	if (write_path != NULL)
		return write_capture(write_path, sessions);
	if (read_path != NULL)
		return read_capture(read_path);
	fprintf(stderr, "usage: bench_crawler --write FILE [--sessions N] | --read FILE\n");
	return 2;
}
