/*
 * The learning parser on crafted frames: what the VM's ARP, NDP and DHCP
 * teach, and what it must not (probes, forged link-layer addresses,
 * link-local sources, routed NDP, truncated headers).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "learn.h"

static const unsigned char vm_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
static const unsigned char other_mac[6] = {0x52, 0x54, 0x00, 0x66, 0x66, 0x66};

struct frame {
	unsigned char bytes[1600];
	size_t length;
};

static void
put(struct frame *frame, const void *data, size_t length)
{
	memcpy(frame->bytes + frame->length, data, length);
	frame->length += length;
}

static void
put16(struct frame *frame, uint16_t value)
{
	unsigned char bytes[2] = {value >> 8, value & 0xff};

	put(frame, bytes, 2);
}

static void
put_ip(struct frame *frame, int family, const char *text)
{
	unsigned char addr[16];

	inet_pton(family, text, addr);
	put(frame, addr, family == AF_INET ? 4 : 16);
}

static void
ethernet(struct frame *frame, const unsigned char *source, uint16_t ethertype, int vlan)
{
	static const unsigned char broadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

	frame->length = 0;
	put(frame, broadcast, 6);
	put(frame, source, 6);
	if (vlan) {
		put16(frame, 0x8100);
		put16(frame, 42);
	}
	put16(frame, ethertype);
}

static void
arp(struct frame *frame, uint16_t operation, const unsigned char *sender_mac, const char *sender,
    const char *target, int vlan)
{
	static const unsigned char zero_mac[6];

	ethernet(frame, vm_mac, 0x0806, vlan);
	put16(frame, 1);
	put16(frame, 0x0800);
	put(frame, (unsigned char[]){6, 4}, 2);
	put16(frame, operation);
	put(frame, sender_mac, 6);
	put_ip(frame, AF_INET, sender);
	put(frame, zero_mac, 6);
	put_ip(frame, AF_INET, target);
}

/* An NDP message from source: type, then target (NS/NA), then an optional link-layer option. */
static void
ndp(struct frame *frame, uint8_t type, const char *source, const char *target,
    const unsigned char *option_mac, uint8_t hop_limit)
{
	size_t body = 8 + (target ? 16 : 0) + (option_mac ? 8 : 0);

	ethernet(frame, vm_mac, 0x86dd, 0);
	put(frame, (unsigned char[]){0x60, 0, 0, 0}, 4);
	put16(frame, (uint16_t)body);
	put(frame, (unsigned char[]){58, hop_limit}, 2);
	put_ip(frame, AF_INET6, source);
	put_ip(frame, AF_INET6, "ff02::1:ff00:5");
	put(frame, (unsigned char[]){type, 0, 0, 0, 0, 0, 0, 0}, 8);
	if (target)
		put_ip(frame, AF_INET6, target);
	if (option_mac) {
		put(frame, (unsigned char[]){type == 136 ? 2 : 1, 1}, 2);
		put(frame, option_mac, 6);
	}
}

/* A DHCP message: op 1 from the client, 2 from a server; options: type, requested. */
static void
dhcp(struct frame *frame, uint8_t op, uint8_t type, const char *ciaddr, const char *yiaddr,
     const char *requested, const unsigned char *chaddr)
{
	unsigned char bootp[236] = {0};
	size_t options = 4 + 3 + (requested ? 6 : 0) + 1;
	size_t udp_length = 8 + sizeof(bootp) + options;

	ethernet(frame, op == 1 ? vm_mac : other_mac, 0x0800, 0);
	put(frame, (unsigned char[]){0x45, 0}, 2);
	put16(frame, (uint16_t)(20 + udp_length));
	put(frame, (unsigned char[]){0, 0, 0, 0, 64, 17, 0, 0}, 8);
	put_ip(frame, AF_INET, op == 1 ? "0.0.0.0" : "192.0.2.1");
	put_ip(frame, AF_INET, "255.255.255.255");
	put16(frame, op == 1 ? 68 : 67);
	put16(frame, op == 1 ? 67 : 68);
	put16(frame, (uint16_t)udp_length);
	put16(frame, 0);
	bootp[0] = op;
	bootp[1] = 1;
	bootp[2] = 6;
	inet_pton(AF_INET, ciaddr, bootp + 12);
	inet_pton(AF_INET, yiaddr, bootp + 16);
	memcpy(bootp + 28, chaddr, 6);
	put(frame, bootp, sizeof(bootp));
	put(frame, (unsigned char[]){0x63, 0x82, 0x53, 0x63, 53, 1, type}, 7);
	if (requested) {
		put(frame, (unsigned char[]){50, 4}, 2);
		put_ip(frame, AF_INET, requested);
	}
	put(frame, (unsigned char[]){255}, 1);
}

static int
learned_is(const struct learned *learned, enum vm_origin origin, const char *text)
{
	struct prefix expected;

	if (prefix_parse(text, &expected) < 0 || learned->origin != origin)
		return 0;
	return memcmp(&learned->address, &expected, sizeof(expected)) == 0;
}

static void
test_arp(void)
{
	struct frame frame;
	struct learned learned;

	arp(&frame, 1, vm_mac, "192.0.2.10", "192.0.2.1", 0);
	CHECK(learn_parse(frame.bytes, frame.length, &learned) == 1 &&
	          learned_is(&learned, VM_ORIGIN_ARP, "192.0.2.10/32") &&
	          memcmp(learned.mac, vm_mac, 6) == 0,
	      "an ARP request teaches its sender address and the VM's MAC");
	arp(&frame, 2, vm_mac, "192.0.2.11", "192.0.2.1", 1);
	CHECK(learn_parse(frame.bytes, frame.length, &learned) == 1 &&
	          learned_is(&learned, VM_ORIGIN_ARP, "192.0.2.11/32"),
	      "an ARP reply behind a VLAN tag teaches its sender address");
	arp(&frame, 1, vm_mac, "0.0.0.0", "192.0.2.12", 0);
	CHECK(learn_parse(frame.bytes, frame.length, &learned) == 0,
	      "an ARP probe (sender 0.0.0.0) teaches nothing");
	arp(&frame, 1, other_mac, "192.0.2.13", "192.0.2.1", 0);
	CHECK(learn_parse(frame.bytes, frame.length, &learned) == 0,
	      "an ARP whose sender MAC is not the frame's teaches nothing");
	arp(&frame, 1, vm_mac, "127.0.0.1", "192.0.2.1", 0);
	CHECK(learn_parse(frame.bytes, frame.length, &learned) == 0,
	      "an ARP claiming 127.0.0.1 teaches nothing");
	arp(&frame, 1, vm_mac, "192.0.2.10", "192.0.2.1", 0);
	CHECK(learn_parse(frame.bytes, frame.length - 1, &learned) == -EINVAL,
	      "a truncated ARP is malformed");
}

static void
test_ndp(void)
{
	struct frame frame;
	struct learned learned;

	ndp(&frame, 135, "2001:db8:5::5", "2001:db8:5::1", vm_mac, 255);
	CHECK(learn_parse(frame.bytes, frame.length, &learned) == 1 &&
	          learned_is(&learned, VM_ORIGIN_NDP, "2001:db8:5::5/128"),
	      "a neighbour solicitation teaches its source address");
	ndp(&frame, 135, "::", "2001:db8:5::6", NULL, 255);
	CHECK(learn_parse(frame.bytes, frame.length, &learned) == 1 &&
	          learned_is(&learned, VM_ORIGIN_NDP, "2001:db8:5::6/128"),
	      "duplicate address detection (source ::) teaches the target");
	ndp(&frame, 136, "fe80::5054:ff:fe12:3456", "2001:db8:5::7", vm_mac, 255);
	CHECK(learn_parse(frame.bytes, frame.length, &learned) == 1 &&
	          learned_is(&learned, VM_ORIGIN_NDP, "2001:db8:5::7/128"),
	      "a neighbour advertisement teaches its target");
	ndp(&frame, 133, "2001:db8:5::8", NULL, NULL, 255);
	CHECK(learn_parse(frame.bytes, frame.length, &learned) == 1 &&
	          learned_is(&learned, VM_ORIGIN_NDP, "2001:db8:5::8/128"),
	      "a router solicitation teaches its source address");
	ndp(&frame, 133, "fe80::1", NULL, NULL, 255);
	CHECK(learn_parse(frame.bytes, frame.length, &learned) == 0,
	      "a link-local source teaches nothing");
	ndp(&frame, 135, "2001:db8:5::9", "2001:db8:5::1", other_mac, 255);
	CHECK(learn_parse(frame.bytes, frame.length, &learned) == 0,
	      "a solicitation naming another MAC teaches nothing");
	ndp(&frame, 135, "2001:db8:5::9", "2001:db8:5::1", vm_mac, 64);
	CHECK(learn_parse(frame.bytes, frame.length, &learned) == 0,
	      "NDP with a hop limit below 255 (routed) teaches nothing");
	ndp(&frame, 135, "2001:db8:5::9", "2001:db8:5::1", vm_mac, 255);
	frame.bytes[frame.length - 7] = 0; /* option length 0 */
	CHECK(learn_parse(frame.bytes, frame.length, &learned) == -EINVAL,
	      "an NDP option of length 0 is malformed");
	ndp(&frame, 135, "2001:db8:5::9", "2001:db8:5::1", NULL, 255);
	CHECK(learn_parse(frame.bytes, frame.length - 4, &learned) == -EINVAL,
	      "a truncated solicitation is malformed");
}

static void
test_dhcp(void)
{
	struct frame frame;
	struct learned learned;

	dhcp(&frame, 1, 3, "0.0.0.0", "0.0.0.0", "192.0.2.20", vm_mac);
	CHECK(learn_parse(frame.bytes, frame.length, &learned) == 1 &&
	          learned_is(&learned, VM_ORIGIN_DHCP, "192.0.2.20/32") && !learned.toward_vm,
	      "a DHCPREQUEST teaches its requested address");
	dhcp(&frame, 1, 3, "192.0.2.21", "0.0.0.0", NULL, vm_mac);
	CHECK(learn_parse(frame.bytes, frame.length, &learned) == 1 &&
	          learned_is(&learned, VM_ORIGIN_DHCP, "192.0.2.21/32"),
	      "a renewing DHCPREQUEST teaches its ciaddr");
	dhcp(&frame, 1, 1, "0.0.0.0", "0.0.0.0", "192.0.2.22", vm_mac);
	CHECK(learn_parse(frame.bytes, frame.length, &learned) == 0,
	      "a DHCPDISCOVER teaches nothing, even with a requested address");
	dhcp(&frame, 1, 3, "0.0.0.0", "0.0.0.0", "192.0.2.23", other_mac);
	CHECK(learn_parse(frame.bytes, frame.length, &learned) == 0,
	      "a DHCPREQUEST for another client hardware address teaches nothing");
	dhcp(&frame, 2, 5, "0.0.0.0", "192.0.2.24", NULL, vm_mac);
	CHECK(learn_parse(frame.bytes, frame.length, &learned) == 1 &&
	          learned_is(&learned, VM_ORIGIN_DHCP, "192.0.2.24/32") && learned.toward_vm &&
	          memcmp(learned.mac, vm_mac, 6) == 0,
	      "a server's DHCPACK teaches yiaddr for the client's MAC");
	dhcp(&frame, 2, 2, "0.0.0.0", "192.0.2.25", NULL, vm_mac);
	CHECK(learn_parse(frame.bytes, frame.length, &learned) == 0, "a DHCPOFFER teaches nothing");
	dhcp(&frame, 1, 3, "0.0.0.0", "0.0.0.0", "192.0.2.20", vm_mac);
	frame.bytes[frame.length - 6] = 200; /* requested-address option longer than the frame */
	CHECK(learn_parse(frame.bytes, frame.length, &learned) == -EINVAL,
	      "a DHCP option running past the datagram is malformed");
	CHECK(learn_parse(frame.bytes, 13, &learned) == -EINVAL,
	      "a frame shorter than an Ethernet header is malformed");
}

int
main(void)
{
	test_arp();
	test_ndp();
	test_dhcp();
	return check_done();
}
