/*
 * `abusectl robots check`'s engine: what it prints per URL, for people and
 * as JSON, its exit codes, and what it says about a file past the limits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "check.h"
#include "robots.h"
#include "robots_check.h"

static const char shop[] = "User-agent: *\n"
                           "Disallow: /cart/\n"
                           "\n"
                           "User-agent: FooBot\n"
                           "Crawl-delay: 2\n"
                           "Disallow: /private/ # keep out\n"
                           "Allow: /private/ok\n";

struct run {
	int status;
	char *out, *err;
};

static char *
write_file(const char *text, size_t len)
{
	static char path[] = "/tmp/test_robots_check.XXXXXX";
	char *copy = strdup(path);
	int fd = mkstemp(copy);

	if (fd < 0 || write(fd, text, len) != (ssize_t)len) {
		printf("not ok - cannot write %s\n", copy);
		exit(1);
	}
	close(fd);
	return copy;
}

static struct run
run_check(const char *path, const char *agent, char *const urls[], int count, bool json)
{
	struct run run;
	size_t out_len, err_len;
	FILE *out = open_memstream(&run.out, &out_len);
	FILE *err = open_memstream(&run.err, &err_len);

	run.status = robots_check(out, err, path, agent, urls, count, json);
	fclose(out);
	fclose(err);
	return run;
}

static void
run_free(struct run *run)
{
	free(run->out);
	free(run->err);
}

static void
test_people(void)
{
	char *path = write_file(shop, strlen(shop));
	char *urls[] = {"http://shop.example/private/a", "/private/ok", "/cart/1", "/robots.txt"};
	char *allowed_only[] = {"/cart/1", "/x?y=1"};
	struct run run = run_check(path, "FooBot/1.0 (+http://foo.example/bot)", urls, 4, false);

	CHECK(run.status == ROBOTS_CHECK_DISALLOWED, "a disallowed URL exits %d: %d",
	      ROBOTS_CHECK_DISALLOWED, run.status);
	CHECK(strstr(run.out,
	             "disallowed http://shop.example/private/a  line 6: Disallow: /private/"
	             "  (group of line 4, user-agent FooBot)\n") != NULL,
	      "the disallowed URL names its rule's line and text and the group");
	CHECK(strstr(run.out, "allowed    /private/ok  line 7: Allow: /private/ok") != NULL,
	      "an allow rule that decides is named too");
	CHECK(strstr(run.out, "allowed    /cart/1  no rule matches  (group of line 4") != NULL,
	      "FooBot's own group: the * rule does not apply to it");
	CHECK(strstr(run.out, "allowed    /robots.txt  /robots.txt is always allowed") != NULL,
	      "/robots.txt is said to be always allowed");
	CHECK(run.err[0] == '\0', "nothing on stderr for a plain file: \"%s\"", run.err);
	run_free(&run);

	run = run_check(path, "FooBot", allowed_only + 1, 1, false);
	CHECK(run.status == ROBOTS_CHECK_ALLOWED, "only allowed URLs exit 0: %d", run.status);
	run_free(&run);
	run = run_check(path, "", allowed_only, 1, false);
	CHECK(run.status == ROBOTS_CHECK_DISALLOWED &&
	          strstr(run.err, "no product token") != NULL &&
	          strstr(run.out, "user-agent *)") != NULL,
	      "an agent without a product token gets the * group, and is told so");
	run_free(&run);
	unlink(path);
	free(path);
}

static void
test_json(void)
{
	char *path = write_file(shop, strlen(shop));
	char *urls[] = {"/private/a#frag", "/\xff"};
	struct run run = run_check(path, "FooBot", urls, 2, true);
	json_t *report = json_loads(run.out, 0, NULL), *first, *second, *expected;

	CHECK(run.status == ROBOTS_CHECK_DISALLOWED && json_is_object(report),
	      "--json prints one object and keeps the exit code");
	first = json_array_get(json_object_get(report, "urls"), 0);
	second = json_array_get(json_object_get(report, "urls"), 1);
	expected =
	    json_pack("{s:s, s:s, s:s, s:s, s:{s:i, s:s, s:s}, s:{s:i, s:s}, "
	              "s:f}",
	              "url", "/private/a#frag", "path", "/private/a", "verdict", "disallowed",
	              "reason", "rule", "rule", "line", 6, "text", "Disallow: /private/", "type",
	              "disallow", "group", "line", 4, "agent", "FooBot", "crawl_delay_s", 2.0);
	CHECK(json_equal(first, expected), "the first URL: verdict, rule, group and crawl-delay");
	json_decref(expected);
	CHECK(json_is_string(json_object_get(second, "url")) &&
	          strcmp(json_string_value(json_object_get(second, "url")), "/\\xff") == 0,
	      "a URL that is not UTF-8 is shown escaped, not dropped");
	CHECK(json_integer_value(json_object_get(json_object_get(report, "robots"), "rules")) == 3,
	      "the file's counts come along");
	json_decref(report);
	run_free(&run);
	unlink(path);
	free(path);
}

static void
test_errors_and_limits(void)
{
	char *urls[] = {"/x"};
	struct run run = run_check("/nonexistent/robots.txt", "a", urls, 1, false);
	size_t len = 0, size = ROBOTS_DEFAULT_MAX_BYTES + 4096;
	char *text = malloc(size), *path;

	CHECK(run.status == ROBOTS_CHECK_NO_INPUT &&
	          strstr(run.err, "/nonexistent/robots.txt: No such file") != NULL,
	      "an unreadable file exits %d and says why: %s", ROBOTS_CHECK_NO_INPUT, run.err);
	run_free(&run);

	len += sprintf(text, "User-agent: *\nDisallow: /x\n");
	while (len < size - 100)
		len += sprintf(text + len, "# %060d\n", 0);
	len += sprintf(text + len, "Disallow: /\n");
	path = write_file(text, len);
	run = run_check(path, "a", urls, 1, false);
	CHECK(strstr(run.err, "bytes, only the first") != NULL,
	      "a file past 500 KiB is reported: %s", run.err);
	run_free(&run);
	urls[0] = "/y";
	run = run_check(path, "a", urls, 1, false);
	CHECK(run.status == ROBOTS_CHECK_ALLOWED, "and the rule past the cap is not applied");
	run_free(&run);
	unlink(path);
	free(path);
	free(text);
}

int
main(void)
{
	test_people();
	test_json();
	test_errors_and_limits();
	return check_done();
}
