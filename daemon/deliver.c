/* The table of delivery backends, and what a child's failure means. */
#include <ctype.h>
#include <string.h>
#include <sys/wait.h>
#include <sysexits.h>

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

/* "550 ...", "554-...", "5.1.1 ...": an SMTP reply or enhanced status code of class 5. */
static bool
smtp_permanent(const char *line)
{
	if (line[0] != '5')
		return false;
	if (isdigit((unsigned char)line[1]) && isdigit((unsigned char)line[2]) &&
	    (line[3] == ' ' || line[3] == '-'))
		return true;
	return line[1] == '.' && isdigit((unsigned char)line[2]);
}

bool
deliver_refused_for_good(int status, const char *output)
{
	if (status == 0 || !WIFEXITED(status))
		return false; /* delivered, or killed (a timeout, a signal): worth another try */
	switch (WEXITSTATUS(status)) {
	case EX_DATAERR:     /* the message itself */
	case EX_NOUSER:      /* no such recipient */
	case EX_NOHOST:      /* no such domain */
	case EX_UNAVAILABLE: /* the service refuses it */
	case EX_PROTOCOL:    /* the remote side said no */
		return true;
	default:
		return output != NULL && smtp_permanent(output);
	}
}
