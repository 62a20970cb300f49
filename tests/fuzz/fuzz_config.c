/*
 * libFuzzer target for the policy file: config_load reads each input from a
 * memfd through its /proc/self/fd path, as it reads a file on disk. Beyond
 * "no crash", the contract of config.h must hold: an error names the file
 * and leaves the caller's config untouched; a success leaves a message empty.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"

static int policy_fd = -1;
static char policy_path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if ((policy_fd = memfd_create("fuzz-policy", MFD_CLOEXEC)) < 0) {
		perror("fuzz_config: memfd_create");
		exit(1);
	}
	snprintf(policy_path, sizeof(policy_path), "/proc/self/fd/%d", policy_fd);
	return 0;
}

static void
write_policy(const uint8_t *data, size_t size)
{
	size_t done = 0;

	if (ftruncate(policy_fd, 0) < 0) {
		perror("fuzz_config: ftruncate");
		exit(1);
	}
	while (done < size) {
		ssize_t n = pwrite(policy_fd, data + done, size - done, (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			perror("fuzz_config: pwrite");
			exit(1);
		}
		done += (size_t)n;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config config, before;
	char err[512];
	int rc;

	write_policy(data, size);
	memset(&config, 0x5a, sizeof(config));
	before = config;
	rc = config_load(policy_path, &config, err, sizeof(err));
	if (rc < 0) {
		/* "file:line: message" or "file: message", and nothing half-loaded. */
		if (strncmp(err, policy_path, strlen(policy_path)) != 0 ||
		    memcmp(&config, &before, sizeof(config)) != 0)
			abort();
	} else if (rc != 0 || err[0] != '\0' || strcmp(config.path, policy_path) != 0) {
		abort();
	}
	return 0;
}
