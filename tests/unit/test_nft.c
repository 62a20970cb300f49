/*
 * The nft module against the real kernel, in a private network namespace:
 * the table it builds, bans as `nft` and ban_list show them, timeouts that
 * refresh and expire, reconcile, bulk installs, and real connections over
 * loopback that the rules drop or let through.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "check.h"
#include "log.h"
#include "nft.h"
#include "source.h"

#define TABLE  "abuseguard_test"
#define DAY_MS (24LL * 3600 * 1000)

struct listing {
	struct nft_ban bans[16384];
	size_t count;
};

static int
listing_add(const struct nft_ban *ban, void *arg)
{
	struct listing *listing = arg;

	if (listing->count == sizeof(listing->bans) / sizeof(listing->bans[0]))
		return -ENOBUFS;
	listing->bans[listing->count++] = *ban;
	return 0;
}

static struct listing listing;

/* Lists the bans; returns how many there are, or a negative errno. */
static int
list_bans(struct nft *nft)
{
	int r;

	listing.count = 0;
	if ((r = ban_list(nft, listing_add, &listing)) < 0)
		return r;
	return (int)listing.count;
}

/* The remaining time of a listed ban, or -1 when it is not listed. */
static int64_t
listed_remaining(const char *source_text, enum scope scope)
{
	struct source_key source;

	if (source_parse(source_text, 64, &source) < 0)
		return -2;
	for (size_t i = 0; i < listing.count; i++)
		if (listing.bans[i].scope == scope &&
		    source_equal(&listing.bans[i].source, &source))
			return listing.bans[i].remaining_ms;
	return -1;
}

static struct source_key source(const char *text);

/* A source to pass by pointer; a few stay valid at once. */
static const struct source_key *
key(const char *text)
{
	static struct source_key keys[4];
	static unsigned next;
	struct source_key *out = &keys[next++ % 4];

	*out = source(text);
	return out;
}

static struct source_key
source(const char *text)
{
	struct source_key key;

	if (source_parse(text, 64, &key) < 0) {
		fprintf(stderr, "bad test source %s\n", text);
		exit(2);
	}
	return key;
}

/* What `nft -j list table inet NAME` prints, parsed; NULL when the table is gone. */
static json_t *
table_json(const char *table)
{
	char command[128], *text = NULL;
	size_t size = 0;
	json_t *json;
	FILE *pipe, *memory;
	int c;

	snprintf(command, sizeof(command), "nft -j list table inet %s 2>/dev/null", table);
	if ((pipe = popen(command, "r")) == NULL || (memory = open_memstream(&text, &size)) == NULL)
		return NULL;
	while ((c = fgetc(pipe)) != EOF)
		fputc(c, memory);
	fclose(memory);
	if (pclose(pipe) != 0) {
		free(text);
		return NULL;
	}
	json = json_loads(text, 0, NULL);
	free(text);
	return json;
}

/* How many objects of a kind ("set", "chain", "rule") have key == value. */
static int
json_count(json_t *json, const char *kind, const char *key, const char *value)
{
	json_t *item;
	size_t i;
	int count = 0;

	json_array_foreach(json_object_get(json, "nftables"), i, item)
	{
		json_t *object = json_object_get(item, kind);

		if (object != NULL &&
		    strcmp(json_string_value(json_object_get(object, key)) ?: "", value) == 0)
			count++;
	}
	return count;
}

/* The elements of a set, as nft prints them, joined by spaces. */
static void
json_set_elements(json_t *json, const char *name, char *out, size_t size)
{
	json_t *item, *element;
	size_t i, j;

	out[0] = '\0';
	json_array_foreach(json_object_get(json, "nftables"), i, item)
	{
		json_t *set = json_object_get(item, "set");

		if (set == NULL || strcmp(json_string_value(json_object_get(set, "name")), name))
			continue;
		json_array_foreach(json_object_get(set, "elem"), j, element)
		{
			char *text = json_dumps(element, JSON_COMPACT | JSON_ENCODE_ANY);

			if (text != NULL && strlen(out) + strlen(text) + 2 < size) {
				strcat(out, text);
				strcat(out, " ");
			}
			free(text);
		}
	}
}

static char *
command_output(const char *command)
{
	char *text = NULL;
	size_t size = 0;
	FILE *pipe = popen(command, "r"), *memory = open_memstream(&text, &size);
	int c;

	if (pipe == NULL || memory == NULL)
		return NULL;
	while ((c = fgetc(pipe)) != EOF)
		fputc(c, memory);
	fclose(memory);
	pclose(pipe);
	return text;
}

static int
loopback_up(void)
{
	struct ifreq request = {0};
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	int r = 0;

	snprintf(request.ifr_name, sizeof(request.ifr_name), "lo");
	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &request) < 0)
		r = -1;
	request.ifr_flags |= IFF_UP;
	if (r == 0 && ioctl(fd, SIOCSIFFLAGS, &request) < 0)
		r = -1;
	if (fd >= 0)
		close(fd);
	return r;
}

static int
address_fill(const char *text, int port, struct sockaddr_storage *out, socklen_t *length)
{
	struct sockaddr_in *in = (struct sockaddr_in *)out;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;

	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, text, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		*length = sizeof(*in);
		return AF_INET;
	}
	if (inet_pton(AF_INET6, text, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*length = sizeof(*in6);
		return AF_INET6;
	}
	return -1;
}

static int
listen_on(const char *address, int port)
{
	struct sockaddr_storage addr;
	socklen_t length;
	int family = address_fill(address, port, &addr, &length), one = 1, fd;

	if (family < 0 || (fd = socket(family, SOCK_STREAM, 0)) < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&addr, length) < 0 || listen(fd, 64) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Does a TCP connection from `from` to to:port complete within 300 ms? The
 * client is bound to `from`, so the source address is the one under test.
 */
static bool
connects(const char *from, const char *to, int port)
{
	struct sockaddr_storage local, remote;
	socklen_t local_length, remote_length;
	int family = address_fill(from, 0, &local, &local_length), error = 0, fd;
	socklen_t error_length = sizeof(error);
	struct pollfd pollfd;
	bool connected = false;

	address_fill(to, port, &remote, &remote_length);
	if ((fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK, 0)) < 0)
		return false;
	if (bind(fd, (struct sockaddr *)&local, local_length) == 0 &&
	    (connect(fd, (struct sockaddr *)&remote, remote_length) == 0 || errno == EINPROGRESS)) {
		pollfd.fd = fd;
		pollfd.events = POLLOUT;
		if (poll(&pollfd, 1, 300) == 1 &&
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &error_length) == 0 && error == 0)
			connected = true;
	}
	close(fd);
	return connected;
}

static int64_t
monotonic_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static void
check_table(const struct nft_options *options)
{
	static const char *const set_names[] = {"ban4_smtp", "ban6_smtp", "ban4_web", "ban6_web",
	                                        "ban4_all",  "ban6_all",  "allow4",   "allow6"};
	char elements[4096];
	json_t *json = table_json(options->table);
	int missing = 0;

	CHECK(json != NULL, "nft -j list table inet %s shows the table", options->table);
	for (size_t i = 0; i < sizeof(set_names) / sizeof(set_names[0]); i++)
		missing += json_count(json, "set", "name", set_names[i]) != 1;
	CHECK(missing == 0, "the table holds the six ban sets and the two allow sets");
	CHECK(json_count(json, "set", "name", "timeout_update_probe") == 0,
	      "nft_open's probe set is gone again");
	CHECK(json_count(json, "chain", "name", "forward") == 1 &&
	          json_count(json, "chain", "name", "output") == 1 &&
	          json_count(json, "chain", "name", "spoofing") == 1,
	      "the table holds the forward, output and spoofing chains");
	CHECK(json_count(json, "rule", "chain", "spoofing") == 4,
	      "spoofing holds its four rules, checked and held sources for IPv4 and IPv6");
	CHECK(json_count(json, "rule", "chain", "forward") == 14 &&
	          json_count(json, "rule", "chain", "output") == 14,
	      "each chain holds 14 rules (smtp x3, web x3, all; each for IPv4 and IPv6), "
	      "forward %d, output %d",
	      json_count(json, "rule", "chain", "forward"),
	      json_count(json, "rule", "chain", "output"));
	json_set_elements(json, "allow4", elements, sizeof(elements));
	CHECK(strstr(elements, "127.0.0.2") && strstr(elements, "\"10.0.0.0\",\"len\":8") &&
	          !strstr(elements, "10.1.0.0") && strstr(elements, "\"255.255.255.0\",\"len\":24"),
	      "allow4 holds 127.0.0.2, 10.0.0.0/8 merged with 10.1.0.0/16, and the last /24: %s",
	      elements);
	json_set_elements(json, "allow6", elements, sizeof(elements));
	CHECK(strstr(elements, "\"2001:db8::\",\"len\":32") != NULL,
	      "allow6 holds 2001:db8::/32: %s", elements);
	json_decref(json);
}

static void
check_bans(struct nft *nft)
{
	CHECK(ban_install(nft, &(struct source_key){0}, SCOPE_SMTP, 1000) == -EINVAL,
	      "a source without a family is refused");
	struct source_key wrong_prefix = source("2001:db8:9::/64");
	wrong_prefix.prefix_len = 48;
	CHECK(ban_install(nft, &wrong_prefix, SCOPE_SMTP, 1000) == -EINVAL,
	      "an IPv6 source of another prefix length than the rules mask to is refused");

	CHECK(ban_install(nft, key("192.0.2.1"), SCOPE_SMTP, 60000) == 0,
	      "ban_install of 192.0.2.1 for 60 s, scope smtp");
	CHECK(ban_install(nft, key("2001:db8:1:2::5"), SCOPE_WEB, 120000) == 0,
	      "ban_install of 2001:db8:1:2::5 for 120 s, scope web");
	CHECK(list_bans(nft) == 2, "ban_list shows two bans (%zu)", listing.count);
	int64_t remaining = listed_remaining("192.0.2.1", SCOPE_SMTP);
	CHECK(remaining > 58000 && remaining <= 60000,
	      "192.0.2.1 is listed in smtp with about 60 s left (%lld ms)", (long long)remaining);
	remaining = listed_remaining("2001:db8:1:2::/64", SCOPE_WEB);
	CHECK(remaining > 118000 && remaining <= 120000,
	      "2001:db8:1:2::/64 is listed in web with about 120 s left (%lld ms)",
	      (long long)remaining);

	json_t *json = table_json(TABLE);
	char elements[4096];
	json_set_elements(json, "ban6_web", elements, sizeof(elements));
	CHECK(strstr(elements, "2001:db8:1:2::") != NULL,
	      "nft lists 2001:db8:1:2:: in ban6_web: %s", elements);
	json_decref(json);

	CHECK(ban_install(nft, key("192.0.2.1"), SCOPE_SMTP, 3600000) == 0,
	      "ban_install of 192.0.2.1 again, for an hour");
	list_bans(nft);
	remaining = listed_remaining("192.0.2.1", SCOPE_SMTP);
	CHECK(remaining > 3590000 && remaining <= 3600000 && listing.count == 2,
	      "the second install refreshed the timeout to an hour (%lld ms), no duplicate",
	      (long long)remaining);
	CHECK(ban_install(nft, key("192.0.2.1"), SCOPE_SMTP, 30000) == 0,
	      "ban_install of 192.0.2.1 a third time, for 30 s");
	list_bans(nft);
	remaining = listed_remaining("192.0.2.1", SCOPE_SMTP);
	CHECK(remaining > 28000 && remaining <= 30000,
	      "a shorter install replaces the timeout too (%lld ms)", (long long)remaining);

	CHECK(ban_install(nft, key("198.51.100.7"), SCOPE_ALL, 365 * DAY_MS) == 0,
	      "the kernel accepts a 365-day ban (31536000000 ms)");
	list_bans(nft);
	remaining = listed_remaining("198.51.100.7", SCOPE_ALL);
	CHECK(remaining > 365 * DAY_MS - 60000 && remaining <= 365 * DAY_MS,
	      "the 365-day ban is listed with 365 days left (%lld ms)", (long long)remaining);

	CHECK(ban_remove(nft, key("198.51.100.7"), SCOPE_ALL) == 0, "ban_remove of 198.51.100.7");
	list_bans(nft);
	CHECK(listed_remaining("198.51.100.7", SCOPE_ALL) == -1 && listing.count == 2,
	      "198.51.100.7 is gone, the other bans stay");
	CHECK(ban_remove(nft, key("198.51.100.7"), SCOPE_ALL) == 0,
	      "a second ban_remove of the same source is not an error");
	CHECK(ban_remove(nft, key("192.0.2.1"), SCOPE_WEB) == 0,
	      "removing a source from a scope it is not banned in is not an error");
	list_bans(nft);
	CHECK(listed_remaining("192.0.2.1", SCOPE_SMTP) > 0,
	      "and leaves its ban in the other scope alone");
}

static void
check_reconcile(struct nft *nft)
{
	struct nft_ban wanted[3] = {
	    {source("192.0.2.11"), SCOPE_SMTP, 60000, {0}},  /* B */
	    {source("2001:db8:c::"), SCOPE_WEB, 90000, {0}}, /* C */
	    {source("192.0.2.99"), SCOPE_WEB, -5, {0}},      /* already over */
	};
	int64_t remaining;

	ban_install(nft, key("192.0.2.10"), SCOPE_SMTP, 60000); /* A */
	ban_install(nft, key("192.0.2.11"), SCOPE_SMTP, 60000); /* B */
	CHECK(ban_reconcile(nft, wanted, 3, NULL, NULL, NULL) == 0,
	      "ban_reconcile of {A, B, ...} to {B, C}");
	CHECK(list_bans(nft) == 2, "exactly two bans are left (%zu)", listing.count);
	CHECK(listed_remaining("192.0.2.10", SCOPE_SMTP) == -1, "A is gone");
	remaining = listed_remaining("192.0.2.11", SCOPE_SMTP);
	CHECK(remaining > 58000 && remaining <= 60000, "B is kept (%lld ms)", (long long)remaining);
	remaining = listed_remaining("2001:db8:c::/64", SCOPE_WEB);
	CHECK(remaining > 88000 && remaining <= 90000, "C is added with its time (%lld ms)",
	      (long long)remaining);
	CHECK(listed_remaining("192.0.2.99", SCOPE_WEB) == -1,
	      "a wanted ban with no time left is not added");

	wanted[0].remaining_ms = 300000;
	CHECK(ban_reconcile(nft, wanted, 2, NULL, NULL, NULL) == 0,
	      "ban_reconcile with B wanted for 300 s");
	list_bans(nft);
	remaining = listed_remaining("192.0.2.11", SCOPE_SMTP);
	CHECK(remaining > 298000 && remaining <= 300000 && listing.count == 2,
	      "B's timer is refreshed to 300 s (%lld ms)", (long long)remaining);
}

/* What a reconcile changed, by why: what the periodic check counts. */
static void
check_reconcile_changes(struct nft *nft)
{
	struct nft_ban wanted[2] = {
	    {source("192.0.2.21"), SCOPE_SMTP, 600000, {0}},
	    {source("192.0.2.22"), SCOPE_SMTP, 600000, {0}},
	};
	struct nft_reconcile_changes changes;

	CHECK(ban_reconcile(nft, NULL, 0, NULL, NULL, NULL) == 0, "the sets are emptied");
	CHECK(ban_reconcile(nft, wanted, 2, NULL, NULL, &changes) == 0 && changes.restored == 2 &&
	          changes.foreign == 0 && changes.retimed == 0,
	      "two wanted bans missing from the kernel are counted as restored (%zu)",
	      changes.restored);
	CHECK(ban_reconcile(nft, wanted, 2, NULL, NULL, &changes) == 0 &&
	          changes.restored + changes.foreign + changes.retimed + changes.retagged == 0,
	      "a second reconcile finds nothing to change");
	CHECK(system("nft 'delete element inet " TABLE
	             " ban4_smtp { 192.0.2.21 }; add element inet " TABLE
	             " ban4_smtp { 192.0.2.21 timeout 365d }; delete element inet " TABLE
	             " ban4_smtp { 192.0.2.22 }; add element inet " TABLE
	             " ban4_smtp { 192.0.2.22 }; add element inet " TABLE
	             " ban4_smtp { 192.0.2.23 timeout 1h }'") == 0,
	      "another program gives one a year, another no timeout, and adds a third");
	CHECK(ban_reconcile(nft, wanted, 2, NULL, NULL, &changes) == 0 && changes.retimed == 2 &&
	          changes.foreign == 1 && changes.restored == 0,
	      "the reconcile resets both timeouts and removes the third (retimed %zu, foreign %zu)",
	      changes.retimed, changes.foreign);
	list_bans(nft);
	CHECK(listing.count == 2 && listed_remaining("192.0.2.21", SCOPE_SMTP) <= 600000 &&
	          listed_remaining("192.0.2.22", SCOPE_SMTP) <= 600000,
	      "both have the wanted 10 minutes again");
	CHECK(ban_reconcile(nft, NULL, 0, NULL, NULL, NULL) == 0, "and go");
}

static int
run(const char *command)
{
	return system(command) == 0 ? 0 : -1;
}

/* Chains, rules and allow sets changed by another program are found and rewritten. */
static void
check_ruleset(struct nft *nft, const struct nft_options *options)
{
	struct nft_ruleset_damage damage;

	CHECK(nft_ruleset_check(nft, &damage) == 0 &&
	          damage.sets_missing + damage.chains_missing + damage.chains_changed +
	                  damage.rules_changed + damage.allow_sets_changed ==
	              0,
	      "the table as nft_open wrote it passes the check");
	CHECK(run("nft delete rule inet " TABLE " forward handle $(nft -a list chain inet " TABLE
	          " forward | awk '/ban4_smtp/ { print $NF; exit }')") == 0 &&
	          run("nft insert rule inet " TABLE " output accept") == 0,
	      "another program deletes a forward rule and puts an accept first in output");
	CHECK(nft_ruleset_check(nft, &damage) == 0 && damage.rules_changed == 2 &&
	          damage.chains_missing == 0,
	      "the check finds both chains' rules changed (%u)", damage.rules_changed);
	check_table(options);
	CHECK(run("nft delete chain inet " TABLE " forward") == 0 &&
	          run("nft add chain inet " TABLE " output '{ policy drop; }'") == 0 &&
	          run("nft flush set inet " TABLE " allow6") == 0,
	      "another program deletes forward, makes output drop, and empties allow6");
	CHECK(nft_ruleset_check(nft, &damage) == 0 && damage.chains_missing == 1 &&
	          damage.chains_changed == 1 && damage.allow_sets_changed == 1,
	      "the check finds the missing chain, the changed one and the allow set");
	check_table(options);
	CHECK(run("nft list chain inet " TABLE " output | grep -q 'policy accept;'") == 0,
	      "output's policy is accept again");
	CHECK(run("nft delete chain inet " TABLE " forward && nft add chain inet " TABLE
	          " forward '{ type filter hook input priority 10; }'") == 0,
	      "another program makes forward an input chain");
	CHECK(nft_ruleset_check(nft, &damage) == 0 && damage.chains_changed == 1,
	      "the check finds it changed");
	check_table(options);
	CHECK(run("nft list chain inet " TABLE " forward | grep -q 'hook forward priority "
	          "filter;'") == 0,
	      "forward hooks forward again");
	CHECK(nft_ruleset_check(nft, &damage) == 0 &&
	          damage.sets_missing + damage.chains_missing + damage.chains_changed +
	                  damage.rules_changed + damage.allow_sets_changed ==
	              0,
	      "and after the repairs the next check finds nothing");
}

/*
 * The anti-spoofing chain, on lo (every packet over loopback arrives on it):
 * with 127.0.0.2 and 127.0.1.0/24 as lo's own IPv4 sources, a connection
 * from 127.0.0.1 is dropped and one from them is not; nft lists the rule and
 * the elements by interface name; a deleted rule and a deleted element come
 * back; an empty list lets everything through again.
 */
static void
check_vm_sources(struct nft *nft)
{
	struct prefix own[4];
	struct nft_vm_sources lo = {.ifindex = if_nametoindex("lo"),
	                            .check_ipv4 = true,
	                            .check_ipv6 = true,
	                            .addresses = own,
	                            .address_count = 4};
	struct nft_ruleset_damage damage;
	int listener = listen_on("0.0.0.0", 9025);

	prefix_parse("127.0.0.2", &own[0]);
	prefix_parse("127.0.1.0/24", &own[1]);
	prefix_parse("127.0.1.9", &own[2]); /* inside the /24: merged into it */
	prefix_parse("2001:db8:5::/64", &own[3]);
	CHECK(listener >= 0 && connects("127.0.0.1", "127.0.0.1", 9025),
	      "before any VM source is set, 127.0.0.1 connects over lo");
	CHECK(nft_set_vm_sources(nft, &lo, 1) == 0,
	      "nft_set_vm_sources: lo owns 127.0.0.2, 127.0.1.0/24 and 2001:db8:5::/64");
	CHECK(run("nft list chain inet " TABLE " spoofing | grep -q 'hook prerouting priority raw; "
	          "policy accept;'") == 0 &&
	          run("nft list chain inet " TABLE " spoofing | grep -q 'iif @vm4_interfaces ip "
	              "saddr != 0.0.0.0/8 ip saddr != 169.254.0.0/16 iif . ip saddr != "
	              "@vm4_sources counter packets [0-9]* bytes [0-9]* drop'") == 0,
	      "nft lists chain spoofing on prerouting, priority raw, with its IPv4 rule");
	CHECK(run("nft list set inet " TABLE " vm4_sources | tr -d '\\n\\t ' | grep -q "
	          "'elements={\"lo\".127.0.0.2,\"lo\".127.0.1.0/24}'") == 0 &&
	          run("nft list set inet " TABLE " vm6_sources | grep -q '\"lo\" . "
	              "2001:db8:5::/64'") == 0 &&
	          run("nft list set inet " TABLE " vm4_interfaces | grep -q 'elements = { "
	              "\"lo\" }'") == 0,
	      "the sets name lo and its ranges, the /32 inside the /24 merged");
	CHECK(!connects("127.0.0.1", "127.0.0.1", 9025),
	      "a connection from 127.0.0.1, not lo's, is dropped");
	CHECK(connects("127.0.0.2", "127.0.0.2", 9025) && connects("127.0.1.7", "127.0.1.7", 9025),
	      "connections from 127.0.0.2 and 127.0.1.7, lo's own, go through");
	CHECK(run("nft list chain inet " TABLE " spoofing | grep -q 'vm4_sources counter "
	          "packets [1-9]'") == 0,
	      "the rule counted the dropped SYNs");
	CHECK(nft_ruleset_check(nft, &damage) == 0 && damage.rules_changed == 0 &&
	          damage.vm_sets_changed == 0,
	      "the check finds the spoofing chain and the VM sets as written");
	/* nft 1.0.6 cannot delete one element of a concatenated range set: flush it. */
	CHECK(run("nft flush chain inet " TABLE " spoofing") == 0 &&
	          run("nft flush set inet " TABLE " vm4_sources") == 0,
	      "another program deletes the spoofing rules and empties vm4_sources");
	CHECK(connects("127.0.0.1", "127.0.0.1", 9025), "then 127.0.0.1 connects");
	CHECK(nft_ruleset_check(nft, &damage) == 0 && damage.rules_changed == 1 &&
	          damage.vm_sets_changed == 1,
	      "the check finds the rules and the set changed (%u, %u)", damage.rules_changed,
	      damage.vm_sets_changed);
	CHECK(!connects("127.0.0.1", "127.0.0.1", 9025) && connects("127.0.0.2", "127.0.0.2", 9025),
	      "repaired: 127.0.0.1 is dropped again and 127.0.0.2 goes through");
	/* An interface with no address known: only what another interface holds is forged there. */
	struct nft_vm_sources two[2] = {
	    {.ifindex = if_nametoindex("lo")},
	    {.ifindex = 0, .check_ipv4 = true, .addresses = own, .address_count = 1},
	};
	CHECK(run("ip link add agd0 type veth peer name agd1") == 0 &&
	          (two[1].ifindex = if_nametoindex("agd0")) > 0 &&
	          nft_set_vm_sources(nft, two, 2) == 0,
	      "lo with no address known, and agd0 holding 127.0.0.2");
	CHECK(run("nft list chain inet " TABLE " spoofing | grep -q 'iif @vm_interfaces ip saddr "
	          "@vm4_held iif . ip saddr != @vm4_sources counter'") == 0 &&
	          run("nft list set inet " TABLE
	              " vm4_held | grep -q 'elements = { 127.0.0.2 }'") == 0,
	      "nft lists the rule for held sources, and vm4_held holds 127.0.0.2");
	CHECK(!connects("127.0.0.2", "127.0.0.2", 9025),
	      "on lo, a connection from agd0's 127.0.0.2 is dropped");
	CHECK(connects("127.0.0.1", "127.0.0.1", 9025),
	      "lo's own, not yet known, 127.0.0.1 goes through");
	CHECK(nft_set_vm_sources(nft, NULL, 0) == 0 && connects("127.0.0.1", "127.0.0.1", 9025) &&
	          run("nft list set inet " TABLE " vm4_interfaces | grep -q elements") != 0,
	      "with no VM sources the sets are empty and 127.0.0.1 connects again");
	close(listener);
}

/*
 * The daemon's tag rides in the element's comment: dumps read it back, nft
 * shows it, and a reconcile that is asked to leaves tagged strangers alone.
 */
static void
check_tags(struct nft *nft)
{
	struct nft_ban tagged = {source("198.51.100.7"),
	                         SCOPE_SMTP,
	                         3600000,
	                         {true, CATEGORY_SPAM, 1, 32, 1764637200000LL, 604800000LL}};
	struct nft_ban *kept = NULL;
	size_t kept_count = 0;
	char *shown;
	const struct nft_ban *found = NULL;

	CHECK(ban_reconcile(nft, NULL, 0, NULL, NULL, NULL) == 0 &&
	          ban_install_many(nft, &tagged, 1) == 0,
	      "a tagged ban is installed");
	list_bans(nft);
	for (size_t i = 0; i < listing.count; i++)
		if (listing.bans[i].tag.present)
			found = &listing.bans[i];
	CHECK(listing.count == 1 && found != NULL && found->tag.category == CATEGORY_SPAM &&
	          found->tag.level == 1 && found->tag.start_ms == 1764637200000LL &&
	          found->tag.duration_ms == 604800000LL && found->tag.prefix_len == 32,
	      "the dump reads its tag back: category, level, start and duration");
	shown = command_output("nft list set inet " TABLE " ban4_smtp");
	CHECK(shown != NULL &&
	          strstr(shown, "comment \"abuseguard spam     level 002 start "
	                        "1764637200000 ms for 000604800000 ms prefix 032\"") != NULL,
	      "nft list shows it as the element's comment");
	free(shown);
	tagged.tag.level = 2;
	CHECK(ban_install_many(nft, &tagged, 1) == 0 && list_bans(nft) == 1 &&
	          listing.bans[0].tag.level == 2,
	      "a ban put again carries its new tag (level 2), not the old comment");
	CHECK(system("nft add element inet " TABLE " ban4_smtp '{ 198.51.100.8 timeout 1h }' && "
	             "nft add element inet " TABLE
	             " ban4_smtp '{ 198.51.100.9 timeout 1h comment \"not ours\" }'") == 0,
	      "two foreign elements, one with a comment of its own");
	CHECK(ban_reconcile(nft, NULL, 0, &kept, &kept_count, NULL) == 0 && kept_count == 1 &&
	          source_equal(&kept[0].source, key("198.51.100.7")) && kept[0].tag.level == 2,
	      "a reconcile that adopts returns the tagged element it does not want (%zu)",
	      kept_count);
	free(kept);
	list_bans(nft);
	CHECK(listing.count == 1 && listed_remaining("198.51.100.7", SCOPE_SMTP) > 0,
	      "and leaves it in place while removing the foreign ones (%zu left)", listing.count);
	CHECK(ban_reconcile(nft, NULL, 0, NULL, NULL, NULL) == 0 && list_bans(nft) == 0,
	      "a reconcile that does not adopt removes it too");
}

static void
check_expiry(struct nft *nft)
{
	CHECK(ban_install(nft, key("203.0.113.1"), SCOPE_WEB, 1000) == 0,
	      "ban_install of 203.0.113.1 for one second");
	list_bans(nft);
	CHECK(listed_remaining("203.0.113.1", SCOPE_WEB) > 0, "it is listed at first");
	usleep(2200 * 1000);
	list_bans(nft);
	CHECK(listed_remaining("203.0.113.1", SCOPE_WEB) == -1,
	      "two seconds later the kernel has expired it");
}

static void
check_many(struct nft *nft)
{
	static struct nft_ban bans[10001];
	size_t count = 0;
	int64_t started;
	int before, after, r;

	before = list_bans(nft);
	for (int i = 0; i < 8000; i++) {
		char text[64];

		snprintf(text, sizeof(text), "10.%d.%d.%d", i / 65536, (i / 256) % 256, i % 256);
		bans[count++] =
		    (struct nft_ban){source(text), (enum scope)(i % 3), 3600000 + i, {0}};
	}
	for (int i = 0; i < 2000; i++) {
		char text[64];

		snprintf(text, sizeof(text), "2001:db8:%x:%x::", i / 256, i % 256);
		bans[count++] = (struct nft_ban){source(text), (enum scope)(i % 3), 7200000, {0}};
	}
	/* A duplicate: one element, the longer time. */
	bans[count++] = (struct nft_ban){source("10.0.0.0"), SCOPE_SMTP, 9000000, {0}};
	started = monotonic_ms();
	r = ban_install_many(nft, bans, count);
	printf("# ban_install_many of %zu bans took %lld ms\n", count,
	       (long long)(monotonic_ms() - started));
	CHECK(r == 0, "ban_install_many of 10000 bans (plus a duplicate)");
	after = list_bans(nft);
	CHECK(after - before == 10000, "ban_list shows all 10000 new bans (%d)", after - before);
	/* Bans i = 7999 and IPv6 i = 1999 are in scope i % 3, web. */
	int64_t remaining = listed_remaining("10.0.31.63", SCOPE_WEB);
	CHECK(remaining > 3600000 + 7999 - 60000 && remaining <= 3600000 + 7999,
	      "the last IPv4 one has its own time (%lld ms)", (long long)remaining);
	remaining = listed_remaining("2001:db8:7:cf::/64", SCOPE_WEB);
	CHECK(remaining > 7100000, "an IPv6 one is in its scope's set (%lld ms)",
	      (long long)remaining);
	remaining = listed_remaining("10.0.0.0", SCOPE_SMTP);
	CHECK(remaining > 8900000, "the duplicate kept the longer time (%lld ms)",
	      (long long)remaining);
}

/* limits.max_bans: the kernel holds no more than the set's size, and says why. */
static bool
ruleset_clean(struct nft *nft)
{
	struct nft_ruleset_damage damage;

	return nft_ruleset_check(nft, &damage) == 0 &&
	       damage.sets_missing + damage.chains_missing + damage.chains_changed +
	               damage.rules_changed + damage.allow_sets_changed ==
	           0;
}

static int
rules_in(const char *table, const char *chain)
{
	json_t *json = table_json(table);
	int count = json_count(json, "rule", "chain", chain);

	json_decref(json);
	return count;
}

/* Hundreds of lookups in a few writes: each answer lands on its own ban. */
static void
check_lookup_many(struct nft *nft)
{
	enum { PRESENT = 300 };
	static struct nft_ban installed[PRESENT], asked[2 * PRESENT + 1];
	static int found[2 * PRESENT + 1];
	int present = 0, absent_found = 0, timers = 0;

	for (int i = 0; i < PRESENT; i++) {
		char text[32];

		snprintf(text, sizeof(text), "198.18.%d.%d", i / 200, i % 200);
		installed[i] = (struct nft_ban){source(text), SCOPE_SMTP, 600000 + i * 1000, {0}};
		asked[2 * i] = (struct nft_ban){.source = installed[i].source, .scope = SCOPE_SMTP};
		/* The same source in another scope has no element. */
		asked[2 * i + 1] =
		    (struct nft_ban){.source = installed[i].source, .scope = SCOPE_WEB};
	}
	asked[2 * PRESENT] =
	    (struct nft_ban){.source = source("2001:db8:77::/64"), .scope = SCOPE_ALL};
	CHECK(ban_install_many(nft, installed, PRESENT) == 0, "300 smtp bans installed");
	CHECK(ban_lookup_many(nft, asked, found, 2 * PRESENT + 1) == 0,
	      "601 lookups (past the 256 of one write) are answered");
	for (int i = 0; i < PRESENT; i++) {
		int64_t wanted = 600000 + i * 1000;

		present += found[2 * i];
		absent_found += found[2 * i + 1];
		timers += found[2 * i] && asked[2 * i].remaining_ms <= wanted &&
		          asked[2 * i].remaining_ms > wanted - 30000;
	}
	CHECK(present == PRESENT && absent_found == 0 && found[2 * PRESENT] == 0,
	      "each smtp ban is found, none of the web ones nor the IPv6 prefix (%d, %d)", present,
	      absent_found);
	CHECK(timers == PRESENT, "each answer carries its own ban's time left (%d of 300)", timers);
	CHECK(ban_reconcile(nft, NULL, 0, NULL, NULL, NULL) == 0, "and they go");
}

/* The cheap change test: the daemon's own commits are no change, anyone else's is. */
static void
check_generation(struct nft *nft)
{
	nft_generation_changed(nft);
	CHECK(nft_generation_changed(nft) == 0, "asked twice, the generation has not moved");
	CHECK(ban_install(nft, key("192.0.2.40"), SCOPE_SMTP, 60000) == 0 &&
	          ban_remove(nft, key("192.0.2.40"), SCOPE_SMTP) == 0 &&
	          nft_generation_changed(nft) == 0,
	      "the daemon's own ban and lift are no change");
	CHECK(run("nft add element inet " TABLE " ban4_web '{ 192.0.2.41 timeout 1h }'") == 0 &&
	          nft_generation_changed(nft) == 1 && nft_generation_changed(nft) == 0,
	      "another program's element is a change, seen once");
	CHECK(run("nft add table inet abuseguard_gen_other && nft delete table inet "
	          "abuseguard_gen_other") == 0 &&
	          nft_generation_changed(nft) == 1,
	      "so is a change to another table (the test is for the whole ruleset)");
	CHECK(run("nft delete element inet " TABLE " ban4_web '{ 192.0.2.41 }'") == 0 &&
	          ban_install(nft, key("192.0.2.42"), SCOPE_SMTP, 60000) == 0 &&
	          nft_generation_changed(nft) == 1,
	      "another program's commit before one of the daemon's still counts");
	ban_remove(nft, key("192.0.2.42"), SCOPE_SMTP);
	nft_generation_changed(nft);
}

/* The web scope drops the crawler's other HTTP ports too, and follows a reload of them. */
static void
check_web_ports(struct nft *nft)
{
	static const uint16_t read_ports[] = {80, 8080, 8080, 443};
	static const uint16_t other_ports[] = {8081};
	int alt = listen_on("127.0.0.1", 8080), other = listen_on("127.0.0.1", 8081);

	CHECK(alt >= 0 && other >= 0, "listening on ports 8080 and 8081");
	CHECK(nft_set_web_ports(nft, read_ports, 4) == 0 && rules_in(TABLE, "forward") == 16 &&
	          rules_in(TABLE, "output") == 16,
	      "web ports 80, 8080, 8080, 443 add one rule per family for 8080 alone (forward %d)",
	      rules_in(TABLE, "forward"));
	CHECK(ruleset_clean(nft), "the ruleset check expects the 8080 rules");
	ban_install(nft, key("127.0.0.1"), SCOPE_WEB, 60000);
	CHECK(!connects("127.0.0.1", "127.0.0.1", 8080) && connects("127.0.0.1", "127.0.0.1", 8081),
	      "banned for web, 127.0.0.1 cannot connect to :8080 but can to :8081");
	CHECK(nft_set_web_ports(nft, other_ports, 1) == 0 && ruleset_clean(nft),
	      "the web ports become 8081 (a reload), and the check expects that");
	CHECK(!connects("127.0.0.1", "127.0.0.1", 8081) && connects("127.0.0.1", "127.0.0.1", 8080),
	      "the same ban now drops :8081 and lets :8080 through");
	CHECK(!connects("127.0.0.1", "127.0.0.1", 80), "and still drops :80");
	ban_remove(nft, key("127.0.0.1"), SCOPE_WEB);
	CHECK(nft_set_web_ports(nft, NULL, 0) == 0 && rules_in(TABLE, "forward") == 14 &&
	          ruleset_clean(nft),
	      "without other web ports the chains hold their 14 rules again");
	close(alt);
	close(other);
}

static void
check_full_set(void)
{
	struct nft_options options = {
	    .table = "abuseguard_small",
	    .ipv6_prefix_len = 64,
	    .max_bans_per_set = 4,
	};
	struct nft_ban bans[4];
	char *listed;
	struct nft *nft = NULL;

	CHECK(nft_open(&nft, &options) == 0, "nft_open of a table whose sets hold 4 bans");
	if (nft == NULL)
		return;
	listed = command_output("nft list set inet abuseguard_small ban4_smtp");
	CHECK(listed != NULL && strstr(listed, "size 4") != NULL,
	      "the kernel set carries the size (nft list set shows \"size 4\")");
	free(listed);
	for (int i = 0; i < 4; i++) {
		char text[32];

		snprintf(text, sizeof(text), "198.51.100.%d", i + 1);
		bans[i] = (struct nft_ban){source(text), SCOPE_SMTP, 60000, {0}};
	}
	CHECK(ban_install_many(nft, bans, 4) == 0, "4 bans fit in a set of 4");
	CHECK(ban_install(nft, key("198.51.100.9"), SCOPE_SMTP, 60000) == -ENFILE,
	      "a fifth is refused with -ENFILE");
	CHECK(ban_install(nft, key("198.51.100.9"), SCOPE_WEB, 60000) == 0,
	      "another scope's set has its own room");
	CHECK(list_bans(nft) == 5 && listed_remaining("198.51.100.9", SCOPE_SMTP) == -1,
	      "the refused ban is not in the kernel; the other five are");
	CHECK(ban_install(nft, key("198.51.100.1"), SCOPE_SMTP, 120000) == 0 &&
	          list_bans(nft) == 5 && listed_remaining("198.51.100.1", SCOPE_SMTP) > 110000,
	      "refreshing a ban in a full set still works");
	nft_destroy(nft);
	nft_close(nft);
}

static void
check_traffic(struct nft *nft)
{
	int smtp = listen_on("0.0.0.0", 25), web = listen_on("0.0.0.0", 80);
	int smtp6 = listen_on("::", 25);

	CHECK(smtp >= 0 && web >= 0 && smtp6 >= 0, "listening on ports 25 and 80");
	CHECK(connects("127.0.0.1", "127.0.0.1", 25) && connects("127.0.0.1", "127.0.0.1", 80),
	      "without a ban, 127.0.0.1 connects to :25 and :80");

	/*
	 * A connection made before the ban, to a listener of its own (the one on
	 * :25 has the connections above queued): smtp bans drop new connections only.
	 */
	int submission = listen_on("127.0.0.1", 587);
	int before = socket(AF_INET, SOCK_STREAM, 0), accepted = -1;
	struct sockaddr_storage smtp_address;
	socklen_t smtp_length;
	char received = 0;

	address_fill("127.0.0.1", 587, &smtp_address, &smtp_length);
	if (connect(before, (struct sockaddr *)&smtp_address, smtp_length) == 0)
		accepted = accept(submission, NULL, NULL);
	ban_install(nft, key("127.0.0.1"), SCOPE_SMTP, 60000);
	CHECK(!connects("127.0.0.1", "127.0.0.1", 25),
	      "banned for smtp, 127.0.0.1 cannot connect to :25");
	struct pollfd readable = {.fd = accepted, .events = POLLIN};
	CHECK(accepted >= 0 && send(before, "x", 1, 0) == 1 && poll(&readable, 1, 1000) == 1 &&
	          recv(accepted, &received, 1, 0) == 1 && received == 'x',
	      "a connection to :25 made before the ban still carries data");
	close(before);
	if (accepted >= 0)
		close(accepted);
	CHECK(connects("127.0.0.1", "127.0.0.1", 80), "banned for smtp, it still connects to :80");
	ban_remove(nft, key("127.0.0.1"), SCOPE_SMTP);
	CHECK(connects("127.0.0.1", "127.0.0.1", 25), "after ban_remove it connects to :25 again");

	ban_install(nft, key("127.0.0.1"), SCOPE_WEB, 60000);
	CHECK(!connects("127.0.0.1", "127.0.0.1", 80) && connects("127.0.0.1", "127.0.0.1", 25),
	      "banned for web, 127.0.0.1 cannot connect to :80 but can to :25");
	ban_remove(nft, key("127.0.0.1"), SCOPE_WEB);

	ban_install(nft, key("127.0.0.1"), SCOPE_ALL, 60000);
	CHECK(!connects("127.0.0.1", "127.0.0.1", 80) && !connects("127.0.0.1", "127.0.0.1", 25),
	      "banned for all, 127.0.0.1 cannot connect to 127.0.0.1 on :80 or :25");
	CHECK(connects("127.0.0.1", "127.0.0.2", 80),
	      "banned for all, 127.0.0.1 still connects to always-allowed 127.0.0.2");
	/* Not 127.0.0.3 to 127.0.0.1: the answer from 127.0.0.1 is dropped too, as it should. */
	CHECK(connects("127.0.0.3", "127.0.0.3", 80), "another source, 127.0.0.3, is not affected");
	ban_remove(nft, key("127.0.0.1"), SCOPE_ALL);
	CHECK(connects("127.0.0.1", "127.0.0.1", 80), "after ban_remove 127.0.0.1 connects again");

	CHECK(connects("::1", "::1", 25), "without a ban, ::1 connects to [::1]:25");
	ban_install(nft, key("::1"), SCOPE_SMTP, 60000);
	CHECK(!connects("::1", "::1", 25),
	      "with ::/64 banned for smtp, ::1 (inside that /64) cannot connect to [::1]:25");
	ban_remove(nft, key("::1"), SCOPE_SMTP);
	CHECK(connects("::1", "::1", 25), "after ban_remove ::1 connects again");

	close(smtp);
	close(web);
	close(smtp6);
}

int
main(void)
{
	struct prefix allowed[5];
	struct nft_options options = {
	    .table = TABLE,
	    .ipv6_prefix_len = 64,
	    .always_allowed = allowed,
	    .always_allowed_count = 5,
	};
	const char *allowed_text[] = {"127.0.0.2", "10.1.0.0/16", "10.0.0.0/8", "2001:db8::/32",
	                              "255.255.255.0/24"};
	char *other_before, *other_after;
	struct nft *nft = NULL;

	if (unshare(CLONE_NEWNET) < 0) {
		CHECK(0, "a private network namespace (unshare: %s)", strerror(errno));
		return check_done();
	}
	log_init(1, 0, "test_nft");
	CHECK(loopback_up() == 0, "lo is up in the private namespace");
	for (int i = 0; i < 5; i++)
		prefix_parse(allowed_text[i], &allowed[i]);
	CHECK(
	    system("nft add table inet other && nft add set inet other keep '{ type ipv4_addr; }' "
	           "&& nft add element inet other keep '{ 192.0.2.1 }' && nft add chain inet "
	           "other input '{ type filter hook input priority 0; }' && nft add rule inet "
	           "other input tcp dport 9 accept") == 0,
	    "another table, inet other, with a set, a chain and a rule");
	other_before = command_output("nft -j list table inet other");

	options.ipv6_prefix_len = 0;
	CHECK(nft_open(&nft, &options) == -EINVAL && nft == NULL,
	      "nft_open refuses an IPv6 prefix length of 0");
	options.ipv6_prefix_len = 64;
	CHECK(nft_open(&nft, &options) == 0, "nft_open creates table inet %s", TABLE);
	if (nft == NULL)
		return check_done();
	/* First as the kernel does it: 6.10 on updates an element's timeout in place. */
	check_table(&options);
	check_bans(nft);
	check_many(nft);
	check_reconcile(nft);

	nft_close(nft);
	/* Then as for older kernels: timeouts refreshed by delete and add. */
	options.refresh_by_delete = true;
	CHECK(nft_open(&nft, &options) == 0, "nft_open again, as after a restart");
	if (nft == NULL)
		return check_done();
	CHECK(list_bans(nft) == 2 && listed_remaining("192.0.2.11", SCOPE_SMTP) > 290000 &&
	          listed_remaining("2001:db8:c::/64", SCOPE_WEB) > 0,
	      "the bans survive the restart with their timers (%zu)", listing.count);
	check_table(&options);
	CHECK(ban_reconcile(nft, NULL, 0, NULL, NULL, NULL) == 0 && list_bans(nft) == 0,
	      "ban_reconcile to nothing empties the sets");
	check_bans(nft);
	check_many(nft);
	check_reconcile(nft);
	check_reconcile_changes(nft);
	check_ruleset(nft, &options);
	check_vm_sources(nft);
	check_tags(nft);
	check_expiry(nft);
	check_traffic(nft);
	check_web_ports(nft);
	check_lookup_many(nft);
	check_generation(nft);
	check_full_set();

	other_after = command_output("nft -j list table inet other");
	CHECK(other_before && other_after && strstr(other_before, "192.0.2.1") &&
	          strcmp(other_before, other_after) == 0,
	      "table inet other is untouched");

	CHECK(nft_table_present(nft) == 1, "nft_table_present says the table is there");
	CHECK(nft_destroy(nft) == 0, "nft_destroy");
	CHECK(nft_table_present(nft) == 0, "nft_table_present says it is gone");
	json_t *json = table_json(TABLE);
	CHECK(json == NULL, "table inet %s is gone", TABLE);
	json_decref(json);
	CHECK(ban_install(nft, key("192.0.2.1"), SCOPE_SMTP, 1000) < 0,
	      "a ban without the table fails, and says so");
	nft_close(nft);
	other_after = (free(other_after), command_output("nft -j list table inet other"));
	CHECK(other_after && strcmp(other_before, other_after) == 0,
	      "table inet other survives nft_destroy");
	free(other_before);
	free(other_after);
	return check_done();
}
