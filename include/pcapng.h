/*
 * A pcapng block walker: which interface each packet of a pcapng capture
 * was captured on. libpcap reads pcapng packets but does not say which
 * interface block (IDB) a packet names; replay walks the same file beside
 * it, block by block, and takes each packet's interface from here. It reads
 * section headers (either byte order, each section its own), interface
 * blocks with their if_name option, and the three packet blocks (enhanced,
 * simple, obsolete); it skips any other block. Bounded: a block is at most
 * PCAPNG_BLOCK_MAX bytes, of which only an interface block's are kept, and a
 * section at most PCAPNG_INTERFACES_MAX interfaces. The file is input from
 * outside: anything malformed is an error, never a read past what was read
 * (tests/fuzz/fuzz_pcapng.c).
 */
#ifndef PCAPNG_H
#define PCAPNG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define PCAPNG_BLOCK_MAX      (16u * 1024 * 1024) /* as libpcap's limit */
#define PCAPNG_INTERFACE_MAX  (64u * 1024)        /* an interface block, options and all */
#define PCAPNG_INTERFACES_MAX 1024
#define PCAPNG_NAME_MAX       64 /* if_name, NUL included; a longer one is cut */

/* The interface a packet block names. */
struct pcapng_interface {
	uint32_t section; /* 1 for the file's first section header, then counted on */
	uint32_t id;      /* the interface block's number in its section, from 0 */
	uint16_t link_type;
	bool named;
	char name[PCAPNG_NAME_MAX]; /* if_name, or "" */
};

struct pcapng;

/*
 * Starts a walk of stream (read from its current position, not closed):
 * 0 when it begins with a section header block, -ENOMSG when it is no
 * pcapng, -EINVAL when the header is malformed, -ENOMEM.
 */
int pcapng_open(struct pcapng **out, FILE *stream);
void pcapng_close(struct pcapng *walker);

/*
 * Walks to the next packet block and says whose interface it is: 1 with
 * *out filled, 0 at the end of the file, -EINVAL for a malformed block or
 * one naming an interface not defined in its section, -E2BIG past the
 * bounds, -EIO for a read error. After an error every call returns it.
 */
int pcapng_next_packet(struct pcapng *walker, struct pcapng_interface *out);

/* Packet blocks walked so far. */
uint64_t pcapng_packets(const struct pcapng *walker);

#endif
