/* Routing a source to the customer who holds it: longest prefix first. */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "customer.h"

void
customer_route(const struct customer *customers, unsigned count, const struct source_key *source,
               const char *vm_customer, struct route *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = ROUTE_DEFAULT;
	for (unsigned i = 0; i < count; i++)
		for (unsigned j = 0; j < customers[i].prefix_count; j++) {
			const struct prefix *prefix = &customers[i].prefixes[j];

			if (!prefix_contains(prefix, source) ||
			    (out->customer != NULL && prefix->len <= out->matched.len))
				continue;
			out->customer = &customers[i];
			out->kind = ROUTE_PREFIX;
			out->matched = *prefix;
		}
	if (out->customer != NULL || vm_customer == NULL || vm_customer[0] == '\0')
		return;
	if ((out->customer = customer_find(customers, count, vm_customer)) != NULL)
		out->kind = ROUTE_VM;
}

const struct customer *
customer_find(const struct customer *customers, unsigned count, const char *id)
{
	for (unsigned i = 0; i < count; i++)
		if (strcmp(customers[i].id, id) == 0)
			return &customers[i];
	return NULL;
}

const char *
route_kind_name(enum route_kind kind)
{
	switch (kind) {
	case ROUTE_PREFIX:
		return "prefix";
	case ROUTE_VM:
		return "vm";
	case ROUTE_DEFAULT:
		break;
	}
	return "default";
}

/*
 * The contact goes into a mail header: one address, nothing that could end
 * the header or start another address (no space, comma, quote, bracket).
 */
bool
customer_contact_valid(const char *text)
{
	const char *at = strchr(text, '@');

	if (at == NULL || at == text || at[1] == '\0' || strchr(at + 1, '@') != NULL ||
	    strchr(at + 1, '.') == NULL)
		return false;
	for (const char *c = text; *c; c++)
		if (!isgraph((unsigned char)*c) || strchr("<>()[],;:\"\\", *c) != NULL)
			return false;
	return true;
}

int
route_kind_parse(const char *name, enum route_kind *out)
{
	for (int kind = ROUTE_PREFIX; kind <= ROUTE_DEFAULT; kind++)
		if (strcmp(route_kind_name((enum route_kind)kind), name) == 0) {
			*out = (enum route_kind)kind;
			return 0;
		}
	return -EINVAL;
}
