/* The pcapng block walker: each packet's interface, read beside libpcap. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pcapng.h"

#define BLOCK_SECTION_HEADER 0x0a0d0d0aU /* the same in either byte order */
#define BLOCK_INTERFACE      1U
#define BLOCK_PACKET         2U /* obsolete: a 16-bit interface id */
#define BLOCK_SIMPLE_PACKET  3U /* no interface id: the section's first */
#define BLOCK_ENHANCED       6U
#define BYTE_ORDER_MAGIC     0x1a2b3c4dU
#define OPTION_END           0
#define OPTION_IF_NAME       2
/* Type, length, and the trailing copy of the length. */
#define BLOCK_OVERHEAD 12u

struct pcapng {
	FILE *stream;
	bool big_endian; /* the current section's byte order */
	uint32_t section;
	struct pcapng_interface *interfaces; /* PCAPNG_INTERFACES_MAX */
	uint32_t interface_count;
	uint8_t *block; /* an interface block's body */
	uint64_t packets, interface_blocks;
	int error; /* sticky */
};

static uint32_t
get32(const struct pcapng *walker, const uint8_t *p)
{
	if (walker->big_endian)
		return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static uint16_t
get16(const struct pcapng *walker, const uint8_t *p)
{
	return walker->big_endian ? (uint16_t)(p[0] << 8 | p[1]) : (uint16_t)(p[1] << 8 | p[0]);
}

/* Exactly length bytes: 0, or -EINVAL for a file that ends first, -EIO. */
static int
read_exact(struct pcapng *walker, void *buf, size_t length)
{
	if (length == 0 || fread(buf, 1, length, walker->stream) == length)
		return 0;
	return ferror(walker->stream) ? -EIO : -EINVAL;
}

/* Reads past length bytes (a packet's data), through a small buffer: pipes cannot seek. */
static int
skip(struct pcapng *walker, size_t length)
{
	uint8_t scratch[4096];
	int r;

	while (length > 0) {
		size_t chunk = length < sizeof(scratch) ? length : sizeof(scratch);

		if ((r = read_exact(walker, scratch, chunk)) < 0)
			return r;
		length -= chunk;
	}
	return 0;
}

/* A block's total length: a multiple of 4, room for its fixed fields, bounded. */
static int
length_check(uint32_t length, uint32_t fixed)
{
	if (length % 4 != 0 || length < BLOCK_OVERHEAD + fixed)
		return -EINVAL;
	return length > PCAPNG_BLOCK_MAX ? -E2BIG : 0;
}

/* The rest of a section header, after its type: byte order, length, and the body skipped. */
static int
section_read(struct pcapng *walker, uint32_t *length)
{
	uint8_t head[8];
	int r;

	if ((r = read_exact(walker, head, sizeof(head))) < 0)
		return r;
	/* The magic after the length says the section's byte order. */
	walker->big_endian = false;
	if (get32(walker, head + 4) != BYTE_ORDER_MAGIC) {
		walker->big_endian = true;
		if (get32(walker, head + 4) != BYTE_ORDER_MAGIC)
			return -EINVAL;
	}
	*length = get32(walker, head);
	/* Magic, version (4 bytes) and section length (8). */
	if ((r = length_check(*length, 16)) < 0)
		return r;
	walker->section++;
	walker->interface_count = 0;
	return skip(walker, *length - BLOCK_OVERHEAD - 4);
}

/* An interface block's body: its link type and if_name. */
static int
interface_read(struct pcapng *walker, uint32_t body_length)
{
	struct pcapng_interface *interface;
	uint8_t *body = walker->block;
	uint32_t offset = 8; /* link type, reserved, snap length */
	int r;

	if (body_length > PCAPNG_INTERFACE_MAX)
		return -E2BIG;
	if (walker->interface_count == PCAPNG_INTERFACES_MAX)
		return -E2BIG;
	if ((r = read_exact(walker, body, body_length)) < 0)
		return r;
	interface = &walker->interfaces[walker->interface_count];
	memset(interface, 0, sizeof(*interface));
	interface->section = walker->section;
	interface->id = walker->interface_count;
	interface->link_type = get16(walker, body);
	/* Options to the end of the body, or to opt_endofopt. */
	while (offset + 4 <= body_length) {
		uint16_t code = get16(walker, body + offset);
		uint32_t length = get16(walker, body + offset + 2);

		if (code == OPTION_END)
			break;
		if (length > body_length - offset - 4)
			return -EINVAL;
		if (code == OPTION_IF_NAME && !interface->named) {
			size_t n = strnlen((const char *)body + offset + 4, length);

			if (n >= sizeof(interface->name))
				n = sizeof(interface->name) - 1;
			memcpy(interface->name, body + offset + 4, n);
			interface->name[n] = '\0';
			interface->named = n > 0;
		}
		offset += 4 + ((length + 3) & ~3u);
	}
	walker->interface_count++;
	walker->interface_blocks++;
	return 0;
}

/* The interface id a packet block names, its body read past. */
static int
packet_read(struct pcapng *walker, uint32_t type, uint32_t body_length, uint32_t *id)
{
	uint8_t head[4];
	int r;

	*id = 0;
	if (type != BLOCK_SIMPLE_PACKET) {
		if ((r = read_exact(walker, head, sizeof(head))) < 0)
			return r;
		*id = type == BLOCK_ENHANCED ? get32(walker, head) : get16(walker, head);
		body_length -= sizeof(head);
	}
	if (*id >= walker->interface_count)
		return -EINVAL;
	return skip(walker, body_length);
}

/* A block ends with its length again. */
static int
trailer_check(struct pcapng *walker, uint32_t length)
{
	uint8_t trailer[4];
	int r;

	if ((r = read_exact(walker, trailer, sizeof(trailer))) < 0)
		return r;
	return get32(walker, trailer) == length ? 0 : -EINVAL;
}

/* One block: 1 when it was a packet (*id set), 0 for any other, -errno. */
static int
block_read(struct pcapng *walker, uint32_t *id)
{
	uint8_t head[8];
	uint32_t type, length;
	int r, packet = 0;

	if ((r = read_exact(walker, head, 4)) < 0)
		return r;
	if (get32(walker, head) == BLOCK_SECTION_HEADER) {
		if ((r = section_read(walker, &length)) < 0)
			return r;
	} else {
		if ((r = read_exact(walker, head + 4, 4)) < 0)
			return r;
		type = get32(walker, head);
		length = get32(walker, head + 4);
		/* The fixed fields: interface (8), enhanced and obsolete packet (20), simple (4).
		 */
		switch (type) {
		case BLOCK_INTERFACE:
			if ((r = length_check(length, 8)) == 0)
				r = interface_read(walker, length - BLOCK_OVERHEAD);
			break;
		case BLOCK_ENHANCED:
		case BLOCK_PACKET:
		case BLOCK_SIMPLE_PACKET:
			r = length_check(length, type == BLOCK_SIMPLE_PACKET ? 4 : 20);
			if (r == 0 &&
			    (r = packet_read(walker, type, length - BLOCK_OVERHEAD, id)) == 0)
				packet = 1;
			break;
		default:
			if ((r = length_check(length, 0)) == 0)
				r = skip(walker, length - BLOCK_OVERHEAD);
			break;
		}
		if (r < 0)
			return r;
	}
	if ((r = trailer_check(walker, length)) < 0)
		return r;
	return packet;
}

int
pcapng_open(struct pcapng **out, FILE *stream)
{
	struct pcapng *walker;
	uint8_t magic[4];
	uint32_t length;
	int r;

	*out = NULL;
	if (fread(magic, 1, sizeof(magic), stream) != sizeof(magic) ||
	    memcmp(magic, "\x0a\x0d\x0d\x0a", sizeof(magic)) != 0)
		return -ENOMSG;
	if ((walker = calloc(1, sizeof(*walker))) == NULL ||
	    (walker->interfaces = calloc(PCAPNG_INTERFACES_MAX, sizeof(*walker->interfaces))) ==
	        NULL ||
	    (walker->block = malloc(PCAPNG_INTERFACE_MAX)) == NULL) {
		pcapng_close(walker);
		return -ENOMEM;
	}
	walker->stream = stream;
	if ((r = section_read(walker, &length)) < 0 || (r = trailer_check(walker, length)) < 0) {
		pcapng_close(walker);
		return r;
	}
	*out = walker;
	return 0;
}

void
pcapng_close(struct pcapng *walker)
{
	if (walker == NULL)
		return;
	free(walker->interfaces);
	free(walker->block);
	free(walker);
}

int
pcapng_next_packet(struct pcapng *walker, struct pcapng_interface *out)
{
	uint32_t id = 0;
	int r;

	if (walker->error != 0)
		return walker->error;
	for (;;) {
		/* The end of the file, between blocks, is the end of the walk. */
		int c = fgetc(walker->stream);

		if (c == EOF)
			return ferror(walker->stream) ? (walker->error = -EIO) : 0;
		ungetc(c, walker->stream);
		if ((r = block_read(walker, &id)) < 0)
			return walker->error = r;
		if (r == 1)
			break;
	}
	walker->packets++;
	*out = walker->interfaces[id];
	return 1;
}

uint64_t
pcapng_packets(const struct pcapng *walker)
{
	return walker->packets;
}
