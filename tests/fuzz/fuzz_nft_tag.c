/*
 * libFuzzer: the tag reader takes any element userdata the kernel hands back
 * (anyone with CAP_NET_ADMIN writes comments) without reading past it, and
 * what it accepts as a tag is the daemon's own spelling: written again, it
 * gives the same bytes, and read again the same tag.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nft_tag.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nft_ban_tag tag, again;
	uint8_t written[NFT_TAG_BYTES_MAX];
	/* A copy of exactly size bytes, so ASan sees any read past the userdata. */
	uint8_t *udata = malloc(size ? size : 1);
	uint32_t length;

	if (udata == NULL || size > UINT32_MAX)
		return 0;
	memcpy(udata, data, size);
	nft_tag_decode(udata, (uint32_t)size, &tag);
	if (tag.present) {
		length = nft_tag_encode(&tag, written);
		if (length != size || memcmp(written, udata, size) != 0)
			abort(); /* accepted a spelling the daemon never writes */
		nft_tag_decode(written, length, &again);
		if (!again.present || memcmp(&again, &tag, sizeof(tag)) != 0)
			abort();
		if (tag.start_ms <= 0 || tag.duration_ms <= 0 || tag.prefix_len > 128)
			abort();
	}
	free(udata);
	return 0;
}
