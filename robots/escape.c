/* Control characters as \xNN: see escape.h. */
#include <stdbool.h>
#include <stdio.h>

#include "escape.h"

size_t
escape_text(char *out, size_t size, const char *text, size_t len, unsigned flags)
{
	size_t used = 0, written = 0; /* written: the bytes of out that hold text */
	bool full = size == 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		/* U+0080..U+009F in UTF-8 (0xc2 0x80..0x9f): C1 controls, CSI among them. */
		bool c1 =
		    (c == 0xc2 && i + 1 < len && ((unsigned char)text[i + 1] & 0xe0) == 0x80) ||
		    (i > 0 && (unsigned char)text[i - 1] == 0xc2 && (c & 0xe0) == 0x80);
		bool plain = c >= 0x20 && c != 0x7f && !c1 &&
		             (c < 0x80 || !(flags & ESCAPE_NON_ASCII)) &&
		             (c != '\\' || !(flags & ESCAPE_BACKSLASH));
		size_t width = plain ? 1 : 4;

		if (!full && written + width < size) {
			if (plain)
				out[written] = (char)c;
			else
				snprintf(out + written, 5, "\\x%02x", c);
			written += width;
		} else {
			full = true; /* the rest is only counted */
		}
		used += width;
	}
	if (size > 0)
		out[written] = '\0';
	return used;
}
