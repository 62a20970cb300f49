/* Sources and prefixes: parsing, printing, masking. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "source.h"

static void
mask_bytes(unsigned char *addr, unsigned size, unsigned prefix_len)
{
	for (unsigned bit = prefix_len; bit < size * 8; bit++)
		addr[bit / 8] &= (unsigned char)~(0x80u >> (bit % 8));
}

/* Splits "ADDR/LEN"; *len is -1 without a "/". */
static int
split_prefix(const char *text, char *addr, size_t addr_size, int *len)
{
	const char *slash = strchr(text, '/');
	size_t addr_len = slash ? (size_t)(slash - text) : strlen(text);

	if (addr_len == 0 || addr_len >= addr_size)
		return -EINVAL;
	memcpy(addr, text, addr_len);
	addr[addr_len] = '\0';
	*len = -1;
	if (slash) {
		char *end;
		long value;

		if (slash[1] < '0' || slash[1] > '9')
			return -EINVAL;
		errno = 0;
		value = strtol(slash + 1, &end, 10);
		if (errno || *end != '\0' || value > 128)
			return -EINVAL;
		*len = (int)value;
	}
	return 0;
}

static int
address_parse(const char *text, unsigned char *family, unsigned char addr[16])
{
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, text, addr) == 1) {
		*family = SOURCE_FAMILY_IPV4;
		return 0;
	}
	if (inet_pton(AF_INET6, text, addr) == 1) {
		*family = SOURCE_FAMILY_IPV6;
		return 0;
	}
	return -EINVAL;
}

void
source_from_addr(int family, const void *addr, unsigned ipv6_prefix_len, struct source_key *out)
{
	memset(out, 0, sizeof(*out));
	out->family = (unsigned char)family;
	if (family == SOURCE_FAMILY_IPV4) {
		memcpy(out->addr, addr, 4);
		out->prefix_len = 32;
	} else {
		memcpy(out->addr, addr, 16);
		out->prefix_len = (unsigned char)ipv6_prefix_len;
		mask_bytes(out->addr, 16, ipv6_prefix_len);
	}
}

int
source_parse(const char *text, unsigned ipv6_prefix_len, struct source_key *out)
{
	char addr_text[INET6_ADDRSTRLEN];
	unsigned char family, addr[16];
	int len;

	if (split_prefix(text, addr_text, sizeof(addr_text), &len) < 0 ||
	    address_parse(addr_text, &family, addr) < 0)
		return -EINVAL;
	if (family == SOURCE_FAMILY_IPV4 && len != -1 && len != 32)
		return -EINVAL;
	if (family == SOURCE_FAMILY_IPV6 && len != -1 && (unsigned)len != ipv6_prefix_len)
		return -EINVAL;
	source_from_addr(family, addr, ipv6_prefix_len, out);
	return 0;
}

const char *
source_format(const struct source_key *source, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN];

	if (source->family == SOURCE_FAMILY_IPV4) {
		inet_ntop(AF_INET, source->addr, addr, sizeof(addr));
		snprintf(buf, len, "%s", addr);
	} else if (source->family == SOURCE_FAMILY_IPV6) {
		inet_ntop(AF_INET6, source->addr, addr, sizeof(addr));
		snprintf(buf, len, "%s/%u", addr, source->prefix_len);
	} else {
		snprintf(buf, len, "(family %u)", source->family);
	}
	return buf;
}

bool
source_equal(const struct source_key *a, const struct source_key *b)
{
	return a->family == b->family && a->prefix_len == b->prefix_len &&
	       memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

int
prefix_parse(const char *text, struct prefix *out)
{
	char addr_text[INET6_ADDRSTRLEN];
	int len;

	memset(out, 0, sizeof(*out));
	if (split_prefix(text, addr_text, sizeof(addr_text), &len) < 0 ||
	    address_parse(addr_text, &out->family, out->addr) < 0)
		return -EINVAL;
	if (len == -1)
		len = out->family == SOURCE_FAMILY_IPV4 ? 32 : 128;
	if (out->family == SOURCE_FAMILY_IPV4 && len > 32)
		return -EINVAL;
	out->len = (unsigned char)len;
	mask_bytes(out->addr, out->family == SOURCE_FAMILY_IPV4 ? 4 : 16, out->len);
	return 0;
}

const char *
prefix_format(const struct prefix *prefix, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN];

	inet_ntop(prefix->family == SOURCE_FAMILY_IPV4 ? AF_INET : AF_INET6, prefix->addr, addr,
	          sizeof(addr));
	snprintf(buf, len, "%s/%u", addr, prefix->len);
	return buf;
}

bool
prefix_contains(const struct prefix *prefix, const struct source_key *source)
{
	unsigned char masked[16];

	if (prefix->family != source->family)
		return false;
	/* An allowlisted /128 inside a /64 source does not cover the whole source. */
	if (source->family == SOURCE_FAMILY_IPV6 && prefix->len > source->prefix_len)
		return false;
	memcpy(masked, source->addr, 16);
	mask_bytes(masked, source->family == SOURCE_FAMILY_IPV4 ? 4 : 16, prefix->len);
	return memcmp(masked, prefix->addr, 16) == 0;
}

bool
prefix_overlaps(const struct prefix *a, const struct prefix *b)
{
	unsigned len = a->len < b->len ? a->len : b->len;
	unsigned whole = len / 8, rest = len % 8;

	if (a->family != b->family || memcmp(a->addr, b->addr, whole) != 0)
		return false;
	return rest == 0 ||
	       ((a->addr[whole] ^ b->addr[whole]) & (unsigned char)(0xff00u >> rest)) == 0;
}

void
prefix_mask(struct prefix *prefix, unsigned len)
{
	if (len >= prefix->len)
		return;
	prefix->len = (unsigned char)len;
	mask_bytes(prefix->addr, prefix->family == SOURCE_FAMILY_IPV4 ? 4 : 16, len);
}
