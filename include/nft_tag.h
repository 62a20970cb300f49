/*
 * The daemon's tag on a kernel ban element: what the ban is, written into
 * the element's comment, so that a ban the store never recorded (the disk
 * was full, the daemon crashed) can be adopted from the kernel at the next
 * start instead of deleted. The kernel hands the comment back verbatim, and
 * anyone with CAP_NET_ADMIN can write one: decoding is a parser of outside
 * input (tests/fuzz/fuzz_nft_tag.c).
 */
#ifndef NFT_TAG_H
#define NFT_TAG_H

#include <stdbool.h>
#include <stdint.h>

#include "ban.h"

/* The comment's userdata at most: type, length, the text and its NUL. */
#define NFT_TAG_BYTES_MAX 128

struct nft_ban_tag {
	bool present;
	enum category category;
	unsigned level;
	unsigned prefix_len; /* the source's, when the ban was made */
	int64_t start_ms, duration_ms;
};

/*
 * Writes the tag as nftables writes an element's comment (libnftnl's udata:
 * type, length, text with its NUL) into buf; returns its length, 0 when the
 * tag is not present or does not fit.
 */
uint32_t nft_tag_encode(const struct nft_ban_tag *tag, uint8_t buf[NFT_TAG_BYTES_MAX]);
/*
 * Reads a tag back from an element's userdata: tag->present only when the
 * comment is one the daemon writes, with sane values; anything else is no tag.
 */
void nft_tag_decode(const void *data, uint32_t length, struct nft_ban_tag *tag);

#endif
