/*
 * Test frames: one TCP segment over IPv4 in an Ethernet frame, as libpcap
 * hands it to wire_packet.
 */
#ifndef TEST_FRAME_H
#define TEST_FRAME_H

#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_PSH 0x08
#define TCP_ACK 0x10

/* Writes the frame into out (14 + 40 + len bytes) and returns its length. */
static inline size_t
test_frame(uint8_t *out, const char *from, uint16_t sport, const char *to, uint16_t dport,
           uint32_t seq, uint8_t flags, const void *payload, size_t len)
{
	uint8_t *ip = out + 14, *tcp = ip + 20;
	size_t total = 20 + 20 + len;

	memset(out, 0, 14 + total);
	memcpy(out, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02", 12);
	out[12] = 0x08;
	ip[0] = 0x45;
	ip[2] = (uint8_t)(total >> 8);
	ip[3] = (uint8_t)total;
	ip[8] = 64;
	ip[9] = 6;
	inet_pton(AF_INET, from, ip + 12);
	inet_pton(AF_INET, to, ip + 16);
	tcp[0] = (uint8_t)(sport >> 8);
	tcp[1] = (uint8_t)sport;
	tcp[2] = (uint8_t)(dport >> 8);
	tcp[3] = (uint8_t)dport;
	tcp[4] = (uint8_t)(seq >> 24);
	tcp[5] = (uint8_t)(seq >> 16);
	tcp[6] = (uint8_t)(seq >> 8);
	tcp[7] = (uint8_t)seq;
	tcp[12] = 5 << 4;
	tcp[13] = flags;
	if (len > 0)
		memcpy(tcp + 20, payload, len);
	return 14 + total;
}

#endif
