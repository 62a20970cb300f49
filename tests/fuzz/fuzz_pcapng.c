/*
 * libFuzzer: the pcapng block walker takes any file, reads nothing past it,
 * and names only interfaces its section defined.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pcapng.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pcapng_interface interface;
	struct pcapng *walker;
	uint64_t packets = 0;
	FILE *stream;
	int r;

	if (size == 0 || (stream = fmemopen((void *)data, size, "rb")) == NULL)
		return 0;
	r = pcapng_open(&walker, stream);
	if (r != 0 && r != -ENOMSG && r != -EINVAL && r != -E2BIG && r != -EIO)
		abort();
	if (r == 0) {
		while ((r = pcapng_next_packet(walker, &interface)) == 1) {
			if (interface.id >= PCAPNG_INTERFACES_MAX || interface.section == 0 ||
			    strnlen(interface.name, sizeof(interface.name)) ==
			        sizeof(interface.name) ||
			    interface.named != (interface.name[0] != '\0'))
				abort(); /* an interface no block defined, or a name without its end
				          */
			packets++;
		}
		if ((r != 0 && r != -EINVAL && r != -E2BIG && r != -EIO) ||
		    pcapng_packets(walker) != packets ||
		    pcapng_next_packet(walker, &interface) != r)
			abort(); /* the end, or an error, and it stays */
		pcapng_close(walker);
	}
	fclose(stream);
	return 0;
}
