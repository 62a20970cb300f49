/*
 * What a reload changes: a new policy's thresholds, ladder, mode and
 * allowlist are taken; its map sizes, table name, paths and the like keep
 * the running values, and each one that differed is named.
 * Runs from the repository root (policy/abuseguard.conf).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "reload.h"

struct kept {
	char names[512];
	unsigned count;
};

static void
note_kept(void *arg, const char *setting)
{
	struct kept *kept = arg;

	kept->count++;
	strncat(kept->names, setting, sizeof(kept->names) - strlen(kept->names) - 2);
	strcat(kept->names, " ");
}

/* The default policy with sed-like edits: each pair replaces its first match. */
static int
write_policy(const char *path, const char *const *edits)
{
	char text[16384], *at;
	FILE *in = fopen("policy/abuseguard.conf", "r"), *out;
	size_t length;

	if (in == NULL)
		return -1;
	length = fread(text, 1, sizeof(text) - 1, in);
	fclose(in);
	text[length] = '\0';
	for (; edits[0] != NULL; edits += 2) {
		char rest[16384];

		if ((at = strstr(text, edits[0])) == NULL)
			return -1;
		snprintf(rest, sizeof(rest), "%s", at + strlen(edits[0]));
		snprintf(at, sizeof(text) - (at - text), "%s%s", edits[1], rest);
	}
	if ((out = fopen(path, "w")) == NULL)
		return -1;
	fputs(text, out);
	return fclose(out);
}

int
main(void)
{
	static const char *const live_only[] = {
	    "smtp_attempts = 30;",
	    "smtp_attempts = 5;",
	    "mode = \"enforce\";",
	    "mode = \"observe\";",
	    "allowlist = [ ];",
	    "allowlist = [ \"192.0.2.10\" ];",
	    NULL,
	};
	static const char *const mixed[] = {
	    "smtp_attempts = 30;",
	    "smtp_attempts = 7;",
	    "max_sources = 262144;",
	    "max_sources = 4096;",
	    "nft_table = \"abuseguard\";",
	    "nft_table = \"other\";",
	    "interfaces = [ \"tap*\", \"vnet*\" ];",
	    "interfaces = [ \"tap*\" ];",
	    NULL,
	};
	static const char *const crawler[] = {
	    "disallowed_requests = 10;",
	    "disallowed_requests = 3;",
	    "http_ports = [ 80, 8080 ];",
	    "http_ports = [ 80, 8081 ];",
	    "max_sites = 256;",
	    "max_sites = 512;",
	    NULL,
	};
	static struct config running, next, copy;
	char path[] = "/tmp/abuseguard-reload-XXXXXX", error[512];
	struct kept kept = {"", 0};
	unsigned changed;
	int fd = mkstemp(path);

	if (fd < 0)
		return 1;
	close(fd);
	CHECK(config_load("policy/abuseguard.conf", &running, error, sizeof(error)) == 0,
	      "the default policy loads as the running one");

	copy = running;
	changed = reload_keep_restart_only(&copy, &running, note_kept, &kept);
	CHECK(changed == 0 && kept.count == 0 && memcmp(&copy, &running, sizeof(copy)) == 0,
	      "reloading the same policy keeps nothing back and changes nothing");

	CHECK(write_policy(path, live_only) == 0 &&
	          config_load(path, &next, error, sizeof(error)) == 0,
	      "a policy changing thresholds, mode and allowlist loads");
	changed = reload_keep_restart_only(&next, &running, note_kept, &kept);
	CHECK(changed == 0, "thresholds, mode and allowlist change live (%u kept: %s)", changed,
	      kept.names);
	CHECK(next.spam.smtp_attempts == 5 && next.mode == MODE_OBSERVE &&
	          next.allowlist_count == 1,
	      "the reloaded policy has the new threshold, mode and allowlist");

	CHECK(write_policy(path, mixed) == 0 && config_load(path, &next, error, sizeof(error)) == 0,
	      "a policy changing a threshold, a map size, the table and the interfaces loads");
	changed = reload_keep_restart_only(&next, &running, note_kept, &kept);
	CHECK(changed == 3 && strcmp(kept.names, "interfaces nft_table limits.max_sources ") == 0,
	      "the map size, the table and the interfaces are named as kept until restart (%s)",
	      kept.names);
	CHECK(next.spam.smtp_attempts == 7, "the threshold of the same policy is taken at once");
	CHECK(next.limits.max_sources == running.limits.max_sources &&
	          strcmp(next.nft_table, "abuseguard") == 0 && next.interface_count == 2 &&
	          strcmp(next.interfaces[1], "vnet*") == 0,
	      "the restart-only settings keep their running values");
	CHECK(reload_keep_restart_only(&next, &running, NULL, NULL) == 0,
	      "once kept, the merged policy differs from the running one only in live settings");

	kept.names[0] = '\0';
	kept.count = 0;
	CHECK(write_policy(path, crawler) == 0 &&
	          config_load(path, &next, error, sizeof(error)) == 0,
	      "a policy changing the crawler's threshold, ports and site table loads");
	changed = reload_keep_restart_only(&next, &running, note_kept, &kept);
	CHECK(changed == 1 && strcmp(kept.names, "crawler.max_sites ") == 0,
	      "only crawler.max_sites is kept until restart (%s)", kept.names);
	CHECK(next.crawler.disallowed_requests == 3 && next.crawler.http_ports[1] == 8081 &&
	          next.crawler.max_sites == running.crawler.max_sites,
	      "the threshold and the ports are taken at once, the table keeps its size");
	unlink(path);
	return check_done();
}
