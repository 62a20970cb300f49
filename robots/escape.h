/*
 * Text from outside (a request's reason or note, a robots.txt line, a URL)
 * made safe to show: control characters, which could forge a log line or
 * carry terminal escapes, become the four characters \xNN. In the robots
 * library because both programs link it: the daemon's log and abusectl's
 * tables escape with it.
 */
#ifndef ESCAPE_H
#define ESCAPE_H

#include <stddef.h>

/* Also bytes from 0x80: for text that need not be UTF-8 (robots.txt, URLs). */
#define ESCAPE_NON_ASCII 1u
/* Also the backslash, so that no \xNN in the output was one in the text. */
#define ESCAPE_BACKSLASH 2u

/*
 * Writes the len bytes of text into out (size bytes, always NUL-terminated
 * when size > 0, cut to fit but never inside an escape) with every byte
 * below 0x20, 0x7f and the C1 controls as UTF-8 writes them (0xc2 0x80 to
 * 0xc2 0x9f) as \xNN, and as flags say the bytes from 0x80 and the
 * backslash too. Returns the length the whole escaped text needs, as
 * snprintf does.
 */
size_t escape_text(char *out, size_t size, const char *text, size_t len, unsigned flags);

#endif
