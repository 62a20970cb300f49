/*
 * `abusectl robots check ROBOTS_FILE AGENT URL...`: judges URLs against a
 * robots.txt offline, with the parser the crawler detector uses, and prints
 * per URL "allowed" or "disallowed" and the deciding rule, for people or as
 * JSON. No daemon, no network.
 */
#ifndef ROBOTS_CHECK_H
#define ROBOTS_CHECK_H

#include <stdbool.h>
#include <stdio.h>

/* Exit codes, documented in abusectl(8). */
#define ROBOTS_CHECK_ALLOWED    0  /* every URL allowed */
#define ROBOTS_CHECK_DISALLOWED 1  /* at least one URL disallowed */
#define ROBOTS_CHECK_USAGE      64 /* EX_USAGE */
#define ROBOTS_CHECK_NO_INPUT   66 /* EX_NOINPUT: ROBOTS_FILE unreadable */
#define ROBOTS_CHECK_SOFTWARE   70 /* EX_SOFTWARE: out of memory */

/*
 * Reads path ("-": standard input), judges each URL for agent (a product
 * token or a whole User-Agent header) and prints the verdicts to out;
 * problems with the file go to err, prefixed "abusectl: ". Returns one of
 * the exit codes above.
 */
int robots_check(FILE *out, FILE *err, const char *path, const char *agent, char *const urls[],
                 int url_count, bool json);

#endif
