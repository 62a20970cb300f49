/* Sources: the unit the ladder counts, an IPv4 address or an IPv6 prefix. */
#ifndef SOURCE_H
#define SOURCE_H

#include <stddef.h>
#include <stdbool.h>

#include "abuseguard/abuseguard.h"

/* "2001:db8:1:2::/64" is the longest form: 43 bytes and a NUL. */
#define SOURCE_STRLEN 64

/*
 * Parses "10.0.0.5", "2001:db8::1" or "2001:db8::/64". IPv6 addresses are
 * masked to ipv6_prefix_len unless the text carries its own prefix, which
 * must then equal ipv6_prefix_len. Returns 0 or -EINVAL.
 */
int source_parse(const char *text, unsigned ipv6_prefix_len, struct source_key *out);
/* Writes "10.0.0.5" or "2001:db8:1:2::/64" into buf (SOURCE_STRLEN bytes). */
const char *source_format(const struct source_key *source, char *buf, size_t len);
/* Builds a key from a raw address (4 or 16 bytes), masking IPv6. */
void source_from_addr(int family, const void *addr, unsigned ipv6_prefix_len,
                      struct source_key *out);
bool source_equal(const struct source_key *a, const struct source_key *b);

/* An address range from the policy: allowlists, always-allowed destinations. */
struct prefix {
	unsigned char family; /* SOURCE_FAMILY_IPV4 or SOURCE_FAMILY_IPV6 */
	unsigned char len;
	unsigned char addr[16]; /* masked to len */
};

/* Parses "192.0.2.0/24", "2001:db8::/32" or a bare address (full length). 0 or -EINVAL. */
int prefix_parse(const char *text, struct prefix *out);
const char *prefix_format(const struct prefix *prefix, char *buf, size_t len);
/* Does the prefix hold the source (for IPv6: the whole source prefix)? */
bool prefix_contains(const struct prefix *prefix, const struct source_key *source);
/* Shortens a prefix to len bits (no longer than it is), clearing the rest. */
void prefix_mask(struct prefix *prefix, unsigned len);
/* Do two prefixes share an address (the shorter one then holds the longer)? */
bool prefix_overlaps(const struct prefix *a, const struct prefix *b);

#endif
