/* Where the abusectl built beside a test program is: BUILD/tests/test_x -> BUILD/abusectl. */
#ifndef ABUSECTL_PATH_H
#define ABUSECTL_PATH_H

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

static inline const char *
abusectl_path(void)
{
	static char path[PATH_MAX];
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		return "build/abusectl";
	self[n] = '\0';
	snprintf(path, sizeof(path), "%s/abusectl", dirname(dirname(self)));
	return path;
}

#endif
