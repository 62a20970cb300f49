/*
 * An input as a file: fuzzers of readers that take a path (the policy, a
 * capture) write each input into one memfd and hand its /proc/self/fd path.
 */
#ifndef FUZZ_MEMFD_H
#define FUZZ_MEMFD_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* The memfd, its path in path (64 bytes); exits on failure. */
static inline int
memfd_input_open(const char *name, char path[64])
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	if (fd < 0) {
		perror("memfd_create");
		exit(1);
	}
	snprintf(path, 64, "/proc/self/fd/%d", fd);
	return fd;
}

/* The file holds exactly data from now on; exits on failure. */
static inline void
memfd_input_write(int fd, const uint8_t *data, size_t size)
{
	size_t done = 0;

	if (ftruncate(fd, 0) < 0) {
		perror("ftruncate");
		exit(1);
	}
	while (done < size) {
		ssize_t n = pwrite(fd, data + done, size - done, (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			perror("pwrite");
			exit(1);
		}
		done += (size_t)n;
	}
}

#endif
