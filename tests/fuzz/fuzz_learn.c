/* libFuzzer: the learning parser takes any frame without reading past it. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "learn.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct learned learned;
	/* A copy of exactly size bytes, so ASan sees any read past the frame. */
	uint8_t *frame = malloc(size ? size : 1);
	int result;

	if (frame == NULL)
		return 0;
	memcpy(frame, data, size);
	result = learn_parse(frame, size, &learned);
	if (result == 1 && learned.address.family != SOURCE_FAMILY_IPV4 &&
	    learned.address.family != SOURCE_FAMILY_IPV6)
		abort(); /* learned something that is no address */
	if (result != 1 && result != 0 && result != -22)
		abort();
	free(frame);
	return 0;
}
