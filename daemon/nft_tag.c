/*
 * The tag in a kernel ban element's comment: fixed widths, so that every
 * tagged element of a message has the same size (nft.c's batch_report finds
 * a refused one by its offset), and "nft list" shows it to people:
 *   abuseguard spam     level 002 start 1764637200000 ms for 000604800000 ms prefix 032
 */
#include <stdio.h>
#include <string.h>

#include <libnftnl/udata.h>

#include "nft_tag.h"

#define TAG_FORMAT    "abuseguard %-8s level %03u start %013lld ms for %012lld ms prefix %03u"
#define TAG_SCAN      "abuseguard %15s level %u start %lld ms for %lld ms prefix %u%n"
#define TAG_LEVEL_MAX 999
/* What the format's widths hold: larger numbers are not the daemon's. */
#define TAG_START_MAX    9999999999999LL
#define TAG_DURATION_MAX 999999999999LL

uint32_t
nft_tag_encode(const struct nft_ban_tag *tag, uint8_t buf[NFT_TAG_BYTES_MAX])
{
	int length;

	if (!tag->present)
		return 0;
	length = snprintf((char *)buf + 2, NFT_TAG_BYTES_MAX - 2, TAG_FORMAT,
	                  category_name(tag->category),
	                  tag->level + 1 > TAG_LEVEL_MAX ? TAG_LEVEL_MAX : tag->level + 1,
	                  (long long)tag->start_ms, (long long)tag->duration_ms, tag->prefix_len);
	if (length < 0 || length + 1 > NFT_TAG_BYTES_MAX - 2)
		return 0;
	buf[0] = NFTNL_UDATA_SET_ELEM_COMMENT;
	buf[1] = (uint8_t)(length + 1);
	return (uint32_t)length + 3;
}

/*
 * The comment attribute of an element's userdata, or NULL: a walk of its
 * type-length-value attributes that never leaves the buffer. (libnftnl's
 * nftnl_udata_parse trusts each attribute's length and reads past the end of
 * a malformed one, which anyone can write: the kernel keeps userdata as given.)
 */
static const uint8_t *
comment_find(const uint8_t *data, uint32_t length, uint8_t *comment_length)
{
	const uint8_t *comment = NULL;

	for (uint32_t at = 0; at < length;) {
		uint32_t value_length;

		if (length - at < 2)
			return NULL;
		value_length = data[at + 1];
		if (length - at - 2 < value_length)
			return NULL;
		if (data[at] == NFTNL_UDATA_SET_ELEM_COMMENT) {
			comment = data + at + 2;
			*comment_length = (uint8_t)value_length;
		}
		at += 2 + value_length;
	}
	return comment;
}

void
nft_tag_decode(const void *data, uint32_t length, struct nft_ban_tag *tag)
{
	const uint8_t *comment;
	uint8_t comment_length = 0;
	char text[NFT_TAG_BYTES_MAX], category[16];
	uint8_t canonical[NFT_TAG_BYTES_MAX];
	long long start_ms, duration_ms;
	unsigned level, prefix_len;
	int end = 0;

	memset(tag, 0, sizeof(*tag));
	if (data == NULL || (comment = comment_find(data, length, &comment_length)) == NULL ||
	    comment_length == 0 || comment_length >= sizeof(text))
		return;
	memcpy(text, comment, comment_length);
	text[comment_length] = '\0';
	if (sscanf(text, TAG_SCAN, category, &level, &start_ms, &duration_ms, &prefix_len, &end) !=
	        5 ||
	    text[end] != '\0' || category_parse(category, &tag->category) < 0 || level < 1 ||
	    level > TAG_LEVEL_MAX || start_ms <= 0 || start_ms > TAG_START_MAX ||
	    duration_ms <= 0 || duration_ms > TAG_DURATION_MAX || prefix_len > 128)
		return;
	tag->prefix_len = prefix_len;
	tag->present = true;
	tag->level = level - 1; /* written from 1, as people count rungs */
	tag->start_ms = start_ms;
	tag->duration_ms = duration_ms;
	/*
	 * Only the daemon's own spelling: sscanf also takes signs, other
	 * spacing and numbers that overflow into plausible ones.
	 */
	if (nft_tag_encode(tag, canonical) != length || memcmp(canonical, data, length) != 0)
		memset(tag, 0, sizeof(*tag));
}
