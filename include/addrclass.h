/*
 * Addresses no VM can own: loopback, unspecified, broadcast, multicast and
 * link-local, and the hypervisor's own. Traffic claiming them is never
 * anyone's offence, so they are never banned. Documentation ranges are
 * ordinary here: the tests use them. Pure; the host's addresses come in.
 */
#ifndef ADDRCLASS_H
#define ADDRCLASS_H

#include <stdbool.h>
#include <stddef.h>

#include "source.h"

enum address_class {
	ADDRESS_ORDINARY = 0,
	ADDRESS_UNSPECIFIED, /* 0.0.0.0/8, :: */
	ADDRESS_LOOPBACK,    /* 127.0.0.0/8, ::1 */
	ADDRESS_BROADCAST,   /* 255.255.255.255 */
	ADDRESS_MULTICAST,   /* 224.0.0.0/4, ff00::/8 */
	ADDRESS_LINK_LOCAL,  /* 169.254.0.0/16, fe80::/10 */
	ADDRESS_HOST,        /* one of the hypervisor's own addresses */
	ADDRESS_CLASS_COUNT
};

/*
 * The class of a range (an IPv4 address, an IPv6 prefix): not ordinary if
 * any address no VM can own falls inside it, since banning the range would
 * ban that address too. IPv4-mapped IPv6 (::ffff:a.b.c.d) is judged as the
 * IPv4 address. host may be NULL (no host addresses known).
 */
enum address_class address_classify(const struct prefix *range, const struct prefix *host,
                                    size_t host_count);
/* The same for a ladder source (an IPv4 address or an IPv6 prefix). */
enum address_class source_classify(const struct source_key *source, const struct prefix *host,
                                   size_t host_count);
/* May a VM hold this address (an ordinary one that is not the host's)? */
bool address_ownable(const struct prefix *range, const struct prefix *host, size_t host_count);
/* "loopback", "hypervisor address", ... */
const char *address_class_name(enum address_class class);

#endif
