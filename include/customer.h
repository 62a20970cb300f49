/*
 * Customers and routing: which customer holds a source, from the policy's
 * customers list (prefixes, longest match, IPv4 and IPv6). A source outside
 * every prefix goes to the default queue, flagged, unless its VM names a
 * known customer. Pure: no I/O.
 */
#ifndef CUSTOMER_H
#define CUSTOMER_H

#include <stdbool.h>

#include "source.h"

#define CUSTOMER_ID_MAX       64 /* NUL included, as a VM's customer label */
#define CUSTOMER_NAME_MAX     128
#define CUSTOMER_CONTACT_MAX  256
#define CUSTOMER_PREFIXES_MAX 64
/* The id of the default queue: tickets no customer's prefix holds. */
#define CUSTOMER_DEFAULT_QUEUE "unrouted"

struct customer {
	char id[CUSTOMER_ID_MAX];
	char name[CUSTOMER_NAME_MAX];
	char contact[CUSTOMER_CONTACT_MAX]; /* an e-mail address */
	struct prefix prefixes[CUSTOMER_PREFIXES_MAX];
	unsigned prefix_count;
};

enum route_kind {
	ROUTE_PREFIX,  /* a prefix of the customer holds the source */
	ROUTE_VM,      /* no prefix does, but the VM's customer label names the customer */
	ROUTE_DEFAULT, /* nobody: the default queue, flagged for the desk */
};

struct route {
	const struct customer *customer; /* NULL for ROUTE_DEFAULT */
	enum route_kind kind;
	struct prefix matched; /* ROUTE_PREFIX: the prefix that won */
};

/*
 * Routes source among count customers: the longest prefix holding it wins;
 * else the customer whose id equals vm_customer (may be NULL or ""); else
 * the default queue.
 */
void customer_route(const struct customer *customers, unsigned count,
                    const struct source_key *source, const char *vm_customer, struct route *out);
/* The customer with this id, or NULL. */
const struct customer *customer_find(const struct customer *customers, unsigned count,
                                     const char *id);
/* "prefix", "vm", "default" */
const char *route_kind_name(enum route_kind kind);
int route_kind_parse(const char *name, enum route_kind *out); /* 0 or -EINVAL */
/* Is text an address a mail header may carry: local@domain, no space, quote or bracket? */
bool customer_contact_valid(const char *text);

#endif
