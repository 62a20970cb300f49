/* The table of delivery backends. */
#include <string.h>

#include "deliver.h"

const struct deliver_backend *const deliver_backends[] = {
    &deliver_mail,
    &deliver_exec,
    &deliver_log,
    NULL,
};

const struct deliver_backend *
deliver_backend_lookup(const char *name)
{
	for (size_t i = 0; deliver_backends[i] != NULL; i++)
		if (strcmp(deliver_backends[i]->name, name) == 0)
			return deliver_backends[i];
	return NULL;
}
