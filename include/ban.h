/* A ban as every module sees it: who, what is dropped, on which rung, until when. */
#ifndef BAN_H
#define BAN_H

#include <stdint.h>

#include "abuseguard/abuseguard.h"

/* What a ban drops from the source (see DESIGN.md, "Scopes"). */
enum scope {
	SCOPE_SMTP = 0, /* new TCP connections to 25, 465, 587 */
	SCOPE_WEB = 1,  /* TCP 80/443 and UDP 443 */
	SCOPE_ALL = 2,  /* everything but the always-allowed destinations */
	SCOPE_COUNT
};

/* The VM behind an offence or a ban, as the abuse desk sees it: "" where unknown. */
struct vm_identity {
	char interface[16]; /* IF_NAMESIZE */
	char mac[18];       /* "52:54:00:12:34:56" */
	char name[64];
};

struct ban {
	int64_t id; /* store row; 0 before it is stored */
	struct source_key source;
	enum category category;
	enum scope scope;
	unsigned level;     /* rung, 0-based: 0 is the first (1 hour by default) */
	int64_t start_ms;   /* epoch milliseconds */
	int64_t expires_ms; /* planned end */
	int64_t lifted_ms;  /* when an operator lifted it; 0 if never */
	struct vm_identity vm;
};

/* When the ban really ended, or will end: the lift if it came first. */
int64_t ban_end_ms(const struct ban *ban);
int ban_active(const struct ban *ban, int64_t now_ms);

const char *category_name(enum category category);
int category_parse(const char *name, enum category *out); /* 0 or -EINVAL */
const char *scope_name(enum scope scope);
int scope_parse(const char *name, enum scope *out); /* 0 or -EINVAL */

#endif
