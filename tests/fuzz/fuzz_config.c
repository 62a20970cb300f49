/*
 * libFuzzer target for the policy file: config_load reads each input from a
 * memfd through its /proc/self/fd path, as it reads a file on disk. Beyond
 * "no crash", the contract of config.h must hold: an error names the file
 * and leaves the caller's config untouched; a success leaves a message empty.
 */
#include <stdint.h>
#include <string.h>

#include "config.h"
#include "memfd.h"

static int policy_fd = -1;
static char policy_path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	policy_fd = memfd_input_open("fuzz-policy", policy_path);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config config, before;
	char err[512];
	int rc;

	memfd_input_write(policy_fd, data, size);
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
