/* Addresses no VM can own, by range overlap. */
#include <string.h>

#include "addrclass.h"

static const struct reserved_range {
	const char *text;
	enum address_class class;
} reserved_ranges[] = {
    {"0.0.0.0/8", ADDRESS_UNSPECIFIED},
    {"127.0.0.0/8", ADDRESS_LOOPBACK},
    {"255.255.255.255/32", ADDRESS_BROADCAST},
    {"224.0.0.0/4", ADDRESS_MULTICAST},
    {"169.254.0.0/16", ADDRESS_LINK_LOCAL},
    {"::/128", ADDRESS_UNSPECIFIED},
    {"::1/128", ADDRESS_LOOPBACK},
    {"ff00::/8", ADDRESS_MULTICAST},
    {"fe80::/10", ADDRESS_LINK_LOCAL},
};
#define RESERVED_COUNT (sizeof(reserved_ranges) / sizeof(reserved_ranges[0]))

static const unsigned char ipv4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

enum address_class
address_classify(const struct prefix *range, const struct prefix *host, size_t host_count)
{
	static struct prefix reserved[RESERVED_COUNT];
	static bool parsed;
	struct prefix mapped;

	if (!parsed) {
		for (size_t i = 0; i < RESERVED_COUNT; i++)
			(void)prefix_parse(reserved_ranges[i].text, &reserved[i]);
		parsed = true;
	}
	if (range->family == SOURCE_FAMILY_IPV6 && range->len >= 96 &&
	    memcmp(range->addr, ipv4_mapped, sizeof(ipv4_mapped)) == 0) {
		memset(&mapped, 0, sizeof(mapped));
		mapped.family = SOURCE_FAMILY_IPV4;
		mapped.len = (unsigned char)(range->len - 96);
		memcpy(mapped.addr, range->addr + 12, 4);
		range = &mapped;
	}
	for (size_t i = 0; i < RESERVED_COUNT; i++)
		if (prefix_overlaps(range, &reserved[i]))
			return reserved_ranges[i].class;
	for (size_t i = 0; i < host_count; i++)
		if (prefix_overlaps(range, &host[i]))
			return ADDRESS_HOST;
	return ADDRESS_ORDINARY;
}

enum address_class
source_classify(const struct source_key *source, const struct prefix *host, size_t host_count)
{
	struct prefix range;

	memset(&range, 0, sizeof(range));
	range.family = source->family;
	range.len = source->prefix_len;
	memcpy(range.addr, source->addr, sizeof(range.addr));
	return address_classify(&range, host, host_count);
}

bool
address_ownable(const struct prefix *range, const struct prefix *host, size_t host_count)
{
	return address_classify(range, host, host_count) == ADDRESS_ORDINARY;
}

const char *address_class_name(enum address_class class)
{
	switch (class) {
	case ADDRESS_ORDINARY:
		return "ordinary";
	case ADDRESS_UNSPECIFIED:
		return "unspecified address";
	case ADDRESS_LOOPBACK:
		return "loopback address";
	case ADDRESS_BROADCAST:
		return "broadcast address";
	case ADDRESS_MULTICAST:
		return "multicast address";
	case ADDRESS_LINK_LOCAL:
		return "link-local address";
	case ADDRESS_HOST:
		return "hypervisor address";
	default:
		return "unknown";
	}
}
