/*
 * The robots.txt parser and matcher as a conformance table: every example
 * of RFC 9309, the cases Google's open-source matcher tests (robots_test.cc,
 * rewritten here; where we differ from Google, the row says why), and the
 * limits. Each row judges a URL for an agent as `abusectl robots check`
 * does: the URL through robots_url_path, the agent through
 * robots_product_token.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "robots.h"

#define ALLOWED    true
#define DISALLOWED false

struct row {
	const char *name;
	const char *robots;
	const char *agent;
	const char *url;
	bool allowed;
	unsigned line; /* of the deciding rule; 0: no rule decides */
};

/* RFC 9309 5.1, "Simple Example". */
static const char rfc_simple[] = "User-Agent: *\n"
                                 "Disallow: *.gif$\n"
                                 "Disallow: /example/\n"
                                 "Allow: /publications/\n"
                                 "\n"
                                 "User-Agent: foobot\n"
                                 "Disallow:/\n"
                                 "Allow:/example/page.html\n"
                                 "Allow:/example/allowed.gif\n"
                                 "\n"
                                 "User-Agent: barbot\n"
                                 "User-Agent: bazbot\n"
                                 "Disallow: /example/page.html\n"
                                 "\n"
                                 "User-Agent: quxbot\n"
                                 "\n"
                                 "EOF\n";

/* RFC 9309 5.2, "Longest Match". */
static const char rfc_longest[] = "User-Agent: foobot\n"
                                  "Allow: /example/page/\n"
                                  "Disallow: /example/page/disallowed.gif\n";

/* RFC 9309 2.2.1: two groups for one agent are merged. */
static const char rfc_merged[] = "user-agent: ExampleBot\n"
                                 "disallow: /foo\n"
                                 "disallow: /bar\n"
                                 "\n"
                                 "user-agent: ExampleBot\n"
                                 "disallow: /baz\n";

/* RFC 9309 2.2.2's percent-encoding table, each path allowed under "Disallow: /". */
static const char rfc_encoding[] = "User-agent: FooBot\n"
                                   "Disallow: /\n"
                                   "Allow: /foo/bar?baz=quz\n"
                                   "Allow: /foo/bar/\xe3\x83\x84\n"
                                   "Allow: /foo/bar/%E3%83%85\n"
                                   "Allow: /foo/bar/%62%61%7A\n";

/* RFC 9309 2.2.3's special characters. */
static const char rfc_special[] = "User-agent: FooBot\n"
                                  "Disallow: /\n"
                                  "Allow: /in-line # comment in line\n"
                                  "# comment on its own line\n"
                                  "Allow: /this/path/exactly$\n"
                                  "Allow: /this/*/exactly\n";

/* Google robots_test.cc ID_LineSyntax_Groups. */
static const char google_groups[] = "allow: /foo/bar/\n"
                                    "\n"
                                    "user-agent: FooBot\n"
                                    "disallow: /\n"
                                    "allow: /x/\n"
                                    "user-agent: BarBot\n"
                                    "disallow: /\n"
                                    "allow: /y/\n"
                                    "\n"
                                    "\n"
                                    "allow: /w/\n"
                                    "user-agent: BazBot\n"
                                    "\n"
                                    "user-agent: FooBot\n"
                                    "allow: /z/\n"
                                    "disallow: /\n";

/* Google's DocumentationChecks, "URL matching based on path values". */
static const char fish[] = "user-agent: FooBot\ndisallow: /\nallow: /fish\n";
static const char fish_star[] = "user-agent: FooBot\ndisallow: /\nallow: /fish*\n";
static const char fish_slash[] = "user-agent: FooBot\ndisallow: /\nallow: /fish/\n";
static const char php[] = "user-agent: FooBot\ndisallow: /\nallow: /*.php\n";
static const char php_end[] = "user-agent: FooBot\ndisallow: /\nallow: /*.php$\n";
static const char fish_php[] = "user-agent: FooBot\ndisallow: /\nallow: /fish*.php\n";

static const struct row rows[] = {
    /* RFC 9309 5.1 */
    {"rfc 5.1: foobot is disallowed what no allow names", rfc_simple, "foobot", "/x", DISALLOWED,
     7},
    {"rfc 5.1: foobot is allowed /example/page.html", rfc_simple, "foobot",
     "http://example.com/example/page.html", ALLOWED, 8},
    {"rfc 5.1: foobot is allowed /example/allowed.gif", rfc_simple, "foobot",
     "/example/allowed.gif", ALLOWED, 9},
    {"rfc 5.1: foobot ignores the * group", rfc_simple, "foobot", "/publications/", DISALLOWED, 7},
    {"rfc 5.1: barbot is disallowed /example/page.html", rfc_simple, "barbot", "/example/page.html",
     DISALLOWED, 13},
    {"rfc 5.1: barbot is allowed the rest", rfc_simple, "barbot", "/example/other.gif", ALLOWED, 0},
    {"rfc 5.1: bazbot shares barbot's group", rfc_simple, "BazBot/2.0", "/example/page.html",
     DISALLOWED, 13},
    {"rfc 5.1: quxbot's empty group allows everything", rfc_simple, "quxbot", "/example/x.gif",
     ALLOWED, 0},
    {"rfc 5.1: another agent falls back to *: .gif at the end", rfc_simple, "otherbot", "/a/b.gif",
     DISALLOWED, 2},
    {"rfc 5.1: *.gif$ needs the end", rfc_simple, "otherbot", "/a/b.gif?x=1", ALLOWED, 0},
    {"rfc 5.1: * disallows /example/", rfc_simple, "otherbot", "/example/y", DISALLOWED, 3},
    {"rfc 5.1: * allows /publications/ (longer than *.gif$)", rfc_simple, "otherbot",
     "/publications/a.gif", ALLOWED, 4},
    {"rfc 5.1: an empty agent gets the * group", rfc_simple, "", "/example/", DISALLOWED, 3},
    /* RFC 9309 5.2 */
    {"rfc 5.2: the longer disallow wins", rfc_longest, "foobot", "/example/page/disallowed.gif",
     DISALLOWED, 3},
    {"rfc 5.2: the allow covers the rest", rfc_longest, "foobot", "/example/page/ok.gif", ALLOWED,
     2},
    {"rfc 5.2: outside every rule is allowed", rfc_longest, "foobot", "/example/pag", ALLOWED, 0},
    /* RFC 9309 2.2.1 and 2.2.2 */
    {"rfc 2.2.1: merged groups: first group's rule", rfc_merged, "ExampleBot/1.1", "/foo/x",
     DISALLOWED, 2},
    {"rfc 2.2.1: merged groups: second group's rule", rfc_merged, "examplebot", "/baz", DISALLOWED,
     6},
    {"rfc 2.2.1: merged groups: others allowed", rfc_merged, "ExampleBot", "/qux", ALLOWED, 0},
    {"rfc 2.2.1: product token from the user agent", rfc_merged, "ExampleBot/1.1 (+http://e.x)",
     "/bar", DISALLOWED, 3},
    {"rfc 2.2.2: /robots.txt is implicitly allowed", "User-agent: *\nDisallow: /\n", "a",
     "/robots.txt", ALLOWED, 0},
    {"rfc 2.2.2: but not /robots.txt.bak", "User-agent: *\nDisallow: /\n", "a", "/robots.txt.bak",
     DISALLOWED, 2},
    {"rfc 2.2.2: reserved characters stay literal", rfc_encoding, "FooBot", "/foo/bar?baz=quz",
     ALLOWED, 3},
    {"rfc 2.2.2: a UTF-8 rule matches the encoded path", rfc_encoding, "FooBot",
     "/foo/bar/%E3%83%84", ALLOWED, 4},
    {"rfc 2.2.2: a UTF-8 rule matches the raw path", rfc_encoding, "FooBot",
     "/foo/bar/\xe3\x83\x84", ALLOWED, 4},
    {"rfc 2.2.2: lower-case hex is the same octet", rfc_encoding, "FooBot", "/foo/bar/%e3%83%85",
     ALLOWED, 5},
    {"rfc 2.2.2: an encoded rule matches the raw path", rfc_encoding, "FooBot",
     "/foo/bar/\xe3\x83\x85", ALLOWED, 5},
    /* Google's ID_Encoding refuses this one; RFC 9309's table decodes %62%61%7A to "baz". */
    {"rfc 2.2.2: encoded unreserved octets are decoded", rfc_encoding, "FooBot", "/foo/bar/baz",
     ALLOWED, 6},
    {"rfc 2.2.2: on both sides", rfc_encoding, "FooBot", "/foo/bar/%62a%7a", ALLOWED, 6},
    {"rfc 2.2.2: matching is case-sensitive", "user-agent: FooBot\ndisallow: /X/\n", "FooBot",
     "/x/y", ALLOWED, 0},
    {"rfc 2.2.2: an encoded slash is not a slash", "user-agent: *\ndisallow: /a/b\n", "x", "/a%2fb",
     ALLOWED, 0},
    /* RFC 9309 2.2.3 */
    {"rfc 2.2.3: a comment ends the rule", rfc_special, "FooBot", "/in-line", ALLOWED, 3},
    {"rfc 2.2.3: $ ends the match", rfc_special, "FooBot", "/this/path/exactly", ALLOWED, 5},
    {"rfc 2.2.3: * needs what follows it", rfc_special, "FooBot", "/this/path/exactl", DISALLOWED,
     2},
    {"rfc 2.2.3: $ refuses longer paths", "User-agent: *\nDisallow: /\nAllow: /exactly$\n", "x",
     "/exactly/not", DISALLOWED, 2},
    {"rfc 2.2.3: * spans segments", rfc_special, "FooBot", "/this/a/b/exactly", ALLOWED, 6},
    {"rfc 2.2.3: $ inside a pattern is literal", "user-agent: *\ndisallow: /a$b\n", "x", "/a$bc",
     DISALLOWED, 2},
    /* Google: line syntax */
    {"google: keys without colon", "user-agent FooBot\ndisallow /\n", "FooBot", "/x/y", DISALLOWED,
     2},
    {"google: unknown keys are no rules", "foo: FooBot\nbar: /\n", "FooBot", "/x/y", ALLOWED, 0},
    {"google: a blank for a colon takes one word only", "user-agent: FooBot\ndisallow / x\n",
     "FooBot", "/x", ALLOWED, 0},
    {"google groups: FooBot's first group", google_groups, "FooBot", "/x/b", ALLOWED, 5},
    {"google groups: FooBot's second group", google_groups, "FooBot", "/z/d", ALLOWED, 15},
    {"google groups: FooBot not allowed BarBot's path", google_groups, "FooBot", "/y/c", DISALLOWED,
     4},
    {"google groups: BarBot's group", google_groups, "BarBot", "/y/c", ALLOWED, 8},
    {"google groups: a rule between groups stays in BarBot's", google_groups, "BarBot", "/w/a",
     ALLOWED, 11},
    {"google groups: BarBot gets no FooBot rule", google_groups, "BarBot", "/z/d", DISALLOWED, 7},
    {"google groups: BazBot shares FooBot's second group", google_groups, "BazBot", "/z/d", ALLOWED,
     15},
    {"google groups: a rule before any group is ignored", google_groups, "FooBot", "/foo/bar/",
     DISALLOWED, 4},
    {"google: sitemap does not end a group",
     "User-agent: BarBot\nSitemap: https://foo.bar/sitemap\nUser-agent: *\nDisallow: /\n", "BarBot",
     "/", DISALLOWED, 4},
    {"google: an unknown line does not end a group",
     "User-agent: FooBot\nInvalid-Unknown-Line: unknown\nUser-agent: *\nDisallow: /\n", "FooBot",
     "/", DISALLOWED, 4},
    {"google: keys are case-insensitive", "uSeR-aGeNt: FooBot\nAlLoW: /x/\ndIsAlLoW: /\n", "FooBot",
     "/a/b", DISALLOWED, 3},
    {"google: agent values are case-insensitive", "User-Agent: FoO bAr\nAllow: /x/\nDisallow: /\n",
     "foo", "/x/y", ALLOWED, 2},
    {"google: agent value up to the first space",
     "User-Agent: *\nDisallow: /\n"
     "User-Agent: Foo Bar\nAllow: /x/\nDisallow: /\n",
     "Foo", "/x/y", ALLOWED, 4},
    {"google: \"* anything\" is the * group", "User-Agent: * foo\nDisallow: /\n", "bar", "/",
     DISALLOWED, 2},
    {"google: a specific group beats *",
     "user-agent: *\nallow: /\nuser-agent: FooBot\ndisallow: /\n", "FooBot", "/x/y", DISALLOWED, 4},
    {"google: * for the others", "user-agent: *\nallow: /\nuser-agent: FooBot\ndisallow: /\n",
     "BarBot", "/x/y", ALLOWED, 2},
    {"google: no group and no * allows",
     "user-agent: FooBot\nallow: /\nuser-agent: BarBot\n"
     "disallow: /\n",
     "QuxBot", "/x/y", ALLOWED, 0},
    {"google: an empty file allows", "", "FooBot", "/", ALLOWED, 0},
    {"google: an empty URL is /", "user-agent: FooBot\ndisallow: /\n", "FooBot", "", DISALLOWED, 2},
    {"google: the most specific group for FooBot",
     "User-agent: *\nDisallow: /x/\n"
     "User-agent: FooBot\nDisallow: /y/\n",
     "FooBot", "/x/page", ALLOWED, 0},
    /* Google: longest match */
    {"google longest: disallow longer", "user-agent: FooBot\ndisallow: /x/page.html\nallow: /x/\n",
     "FooBot", "/x/page.html", DISALLOWED, 2},
    {"google longest: allow longer", "user-agent: FooBot\nallow: /x/page.html\ndisallow: /x/\n",
     "FooBot", "/x/page.html", ALLOWED, 2},
    {"google longest: the shorter disallow",
     "user-agent: FooBot\nallow: /x/page.html\n"
     "disallow: /x/\n",
     "FooBot", "/x/", DISALLOWED, 3},
    {"google longest: empty patterns match nothing", "user-agent: FooBot\ndisallow: \nallow: \n",
     "FooBot", "/x/page.html", ALLOWED, 0},
    {"google longest: allow wins a tie", "user-agent: FooBot\ndisallow: /\nallow: /\n", "FooBot",
     "/x", ALLOWED, 3},
    {"google longest: allow wins a tie, either order",
     "user-agent: FooBot\nallow: /x/page.html\n"
     "disallow: /x/page.html\n",
     "FooBot", "/x/page.html", ALLOWED, 2},
    {"google longest: /x is shorter than /x/", "user-agent: FooBot\ndisallow: /x\nallow: /x/\n",
     "FooBot", "/x", DISALLOWED, 2},
    {"google longest: /x/ allowed", "user-agent: FooBot\ndisallow: /x\nallow: /x/\n", "FooBot",
     "/x/", ALLOWED, 3},
    {"google longest: a wildcard counts its octets",
     "user-agent: FooBot\nallow: /page\n"
     "disallow: /*.html\n",
     "FooBot", "/page.html", DISALLOWED, 3},
    {"google longest: the allow alone", "user-agent: FooBot\nallow: /page\ndisallow: /*.html\n",
     "FooBot", "/page", ALLOWED, 2},
    {"google longest: /x/page. against /*.html",
     "user-agent: FooBot\nallow: /x/page.\n"
     "disallow: /*.html\n",
     "FooBot", "/x/page.html", ALLOWED, 2},
    {"google order: allow /p beats disallow /", "user-agent: FooBot\nallow: /p\ndisallow: /\n",
     "FooBot", "/page", ALLOWED, 2},
    {"google order: equal folder rules allow",
     "user-agent: FooBot\nallow: /folder\n"
     "disallow: /folder\n",
     "FooBot", "/folder/page", ALLOWED, 2},
    {"google order: /*.htm beats /page", "user-agent: FooBot\nallow: /page\ndisallow: /*.htm\n",
     "FooBot", "/page.htm", DISALLOWED, 3},
    {"google order: /$ allows the root", "user-agent: FooBot\nallow: /$\ndisallow: /\n", "FooBot",
     "/", ALLOWED, 2},
    {"google order: /$ only the root", "user-agent: FooBot\nallow: /$\ndisallow: /\n", "FooBot",
     "/page.html", DISALLOWED, 3},
    /* Google: special characters */
    {"google special: /foo/*/qux does not match quz",
     "User-agent: FooBot\n"
     "Disallow: /foo/bar/quz\n"
     "Allow: /foo/*/qux\n",
     "FooBot", "/foo/bar/quz", DISALLOWED, 2},
    {"google special: /foo/quz allowed",
     "User-agent: FooBot\nDisallow: /foo/bar/quz\n"
     "Allow: /foo/*/qux\n",
     "FooBot", "/foo/quz", ALLOWED, 0},
    {"google special: /foo/bar$",
     "User-agent: FooBot\nDisallow: /foo/bar$\n"
     "Allow: /foo/bar/qux\n",
     "FooBot", "/foo/bar", DISALLOWED, 2},
    {"google special: /foo/bar/ not ended",
     "User-agent: FooBot\nDisallow: /foo/bar$\n"
     "Allow: /foo/bar/qux\n",
     "FooBot", "/foo/bar/", ALLOWED, 0},
    {"google special: # comments",
     "User-agent: FooBot\n# Disallow: /\n"
     "Disallow: /foo/quz#qux\nAllow: /\n",
     "FooBot", "/foo/quz", DISALLOWED, 3},
    {"google special: a commented rule is none",
     "User-agent: FooBot\n# Disallow: /\n"
     "Disallow: /foo/quz#qux\nAllow: /\n",
     "FooBot", "/foo/bar", ALLOWED, 4},
    {"google encoding: a query with a URL in it",
     "User-agent: FooBot\nDisallow: /\n"
     "Allow: /foo/bar?qux=taz&baz=http://foo.bar?tar&par\n",
     "FooBot", "http://foo.bar/foo/bar?qux=taz&baz=http://foo.bar?tar&par", ALLOWED, 3},
    /* Google: documentation */
    {"fish: /bar", fish, "FooBot", "/bar", DISALLOWED, 2},
    {"fish: /fish", fish, "FooBot", "/fish", ALLOWED, 3},
    {"fish: /fish.html", fish, "FooBot", "/fish.html", ALLOWED, 3},
    {"fish: /fish/salmon.html", fish, "FooBot", "/fish/salmon.html", ALLOWED, 3},
    {"fish: /fishheads", fish, "FooBot", "/fishheads", ALLOWED, 3},
    {"fish: /fish.html?id=anything", fish, "FooBot", "/fish.html?id=anything", ALLOWED, 3},
    {"fish: /Fish.asp", fish, "FooBot", "/Fish.asp", DISALLOWED, 2},
    {"fish: /catfish", fish, "FooBot", "/catfish", DISALLOWED, 2},
    {"fish: /?id=fish", fish, "FooBot", "/?id=fish", DISALLOWED, 2},
    {"fish*: /fishheads/yummy.html", fish_star, "FooBot", "/fishheads/yummy.html", ALLOWED, 3},
    {"fish*: /Fish.bar", fish_star, "FooBot", "/Fish.bar", DISALLOWED, 2},
    {"fish/: /fish/?salmon", fish_slash, "FooBot", "/fish/?salmon", ALLOWED, 3},
    {"fish/: /fish", fish_slash, "FooBot", "/fish", DISALLOWED, 2},
    {"fish/: /Fish/Salmon.html", fish_slash, "FooBot", "/Fish/Salmon.html", DISALLOWED, 2},
    {"*.php: /folder/filename.php?parameters", php, "FooBot", "/folder/filename.php?parameters",
     ALLOWED, 3},
    {"*.php: //folder/any.php.file.html", php, "FooBot", "//folder/any.php.file.html", ALLOWED, 3},
    {"*.php: /index?f=filename.php/", php, "FooBot", "/index?f=filename.php/", ALLOWED, 3},
    {"*.php: /php/", php, "FooBot", "/php/", DISALLOWED, 2},
    {"*.php: /windows.PHP", php, "FooBot", "/windows.PHP", DISALLOWED, 2},
    {"*.php$: /folder/filename.php", php_end, "FooBot", "/folder/filename.php", ALLOWED, 3},
    {"*.php$: /filename.php?parameters", php_end, "FooBot", "/filename.php?parameters", DISALLOWED,
     2},
    {"*.php$: /filename.php5", php_end, "FooBot", "/filename.php5", DISALLOWED, 2},
    {"*.php$: /aaaphpaaa", php_end, "FooBot", "/aaaphpaaa", DISALLOWED, 2},
    {"fish*.php: /fishheads/catfish.php?parameters", fish_php, "FooBot",
     "/fishheads/catfish.php?parameters", ALLOWED, 3},
    {"fish*.php: /Fish.PHP", fish_php, "FooBot", "/Fish.PHP", DISALLOWED, 2},
    /* Line breaks and byte order marks: the deciding line is counted right. */
    {"LF", "User-Agent: foo\nAllow: /some/path\nUser-Agent: bar\n\n\nDisallow: /\n", "bar", "/x",
     DISALLOWED, 6},
    {"CRLF", "User-Agent: foo\r\nAllow: /some/path\r\nUser-Agent: bar\r\n\r\n\r\nDisallow: /\r\n",
     "bar", "/x", DISALLOWED, 6},
    {"CR", "User-Agent: foo\rAllow: /some/path\rUser-Agent: bar\r\r\rDisallow: /\r", "bar", "/x",
     DISALLOWED, 6},
    {"no final line break", "User-Agent: foo\nAllow: /some/path\nUser-Agent: bar\n\n\nDisallow: /",
     "bar", "/x", DISALLOWED, 6},
    {"mixed line breaks",
     "User-Agent: foo\nAllow: /some/path\r\nUser-Agent: bar\n\r\n\nDisallow: /", "bar", "/x",
     DISALLOWED, 6},
    {"a full BOM is skipped", "\xef\xbb\xbfUser-Agent: foo\nDisallow: /AnyValue\n", "foo",
     "/AnyValue", DISALLOWED, 2},
    {"two bytes of a BOM are skipped", "\xef\xbbUser-Agent: foo\nDisallow: /AnyValue\n", "foo",
     "/AnyValue", DISALLOWED, 2},
    {"one byte of a BOM is skipped", "\xefUser-Agent: foo\nDisallow: /AnyValue\n", "foo",
     "/AnyValue", DISALLOWED, 2},
    {"a broken BOM spoils the first line", "\xef\x11\xbfUser-Agent: foo\nDisallow: /AnyValue\n",
     "foo", "/AnyValue", ALLOWED, 0},
    {"a BOM mid-file spoils its line",
     "User-Agent: foo\n\xef\xbb\xbf"
     "Disallow: /AnyValue\n",
     "foo", "/AnyValue", ALLOWED, 0},
    /* Ours */
    {"a pattern not starting with / or * matches nothing", "user-agent: *\ndisallow: private\n",
     "x", "/private", ALLOWED, 0},
    {"$ counts as an octet of the pattern", "user-agent: *\ndisallow: /ab$\nallow: /a*\n", "x",
     "/ab", DISALLOWED, 2},
    {"* matches everything", "user-agent: *\ndisallow: *\n", "x", "/", DISALLOWED, 2},
    {"** is *", "user-agent: *\ndisallow: /a**b$\n", "x", "/a/x/b", DISALLOWED, 2},
    {"*$ after a run", "user-agent: *\ndisallow: /a*b*$\n", "x", "/ab", DISALLOWED, 2},
    {"the last run of a $ pattern ends the path", "user-agent: *\ndisallow: /*ab$\n", "x", "/abab",
     DISALLOWED, 2},
    {"the last run may not overlap the earlier", "user-agent: *\ndisallow: /*aba*aba$\n", "x",
     "/aba", ALLOWED, 0},
    {"a fragment is no part of the path", "user-agent: *\ndisallow: /a$\n", "x", "http://h/a#top",
     DISALLOWED, 2},
    {"a host and query without path", "user-agent: *\ndisallow: /?a\n", "x", "example.com?a",
     DISALLOWED, 2},
    {"a user-agent with no token matches no one", "user-agent: /slashbot\ndisallow: /\n",
     "slashbot", "/", ALLOWED, 0},
    {"a token is not a prefix", "user-agent: Googlebot\ndisallow: /\n", "Googlebot-News", "/",
     ALLOWED, 0},
    {"a NUL byte is an ordinary octet", "user-agent: *\ndisallow: /a\0b\n", "x", "/a%00b",
     DISALLOWED, 2},
};

static struct robots *
parse_or_die(const char *text, size_t len, const struct robots_limits *limits)
{
	struct robots *robots;

	if (robots_parse(text, len, limits, &robots) < 0) {
		printf("not ok - robots_parse: out of memory\n");
		exit(1);
	}
	return robots;
}

static struct robots_verdict
judge_url(const struct robots *robots, const char *agent, const char *url)
{
	struct robots_verdict verdict;
	size_t token_len, path_len;
	const char *token = robots_product_token(agent, strlen(agent), &token_len);
	char *path = malloc(strlen(url) + 2);

	path_len = robots_url_path(url, strlen(url), path);
	memset(&verdict, 0xa5, sizeof(verdict));
	if (robots_judge(robots, token, token_len, path, path_len, &verdict) < 0)
		verdict.reason = (enum robots_reason) - 1;
	free(path);
	return verdict;
}

/* Rows whose text has a NUL in it give their length by sizeof: the table uses strlen. */
static size_t
row_length(const struct row *row)
{
	if (strcmp(row->name, "a NUL byte is an ordinary octet") == 0)
		return sizeof("user-agent: *\ndisallow: /a\0b\n") - 1;
	return strlen(row->robots);
}

static void
test_table(void)
{
	struct robots_limits limits;

	robots_limits_default(&limits);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *row = &rows[i];
		struct robots *robots = parse_or_die(row->robots, row_length(row), &limits);
		struct robots_verdict verdict = judge_url(robots, row->agent, row->url);
		unsigned line = verdict.reason == ROBOTS_RULE ? verdict.rule_line : 0;

		CHECK(verdict.allowed == row->allowed && line == row->line &&
		          (row->line == 0) == (verdict.reason != ROBOTS_RULE),
		      "%s: %s for \"%s\" is %s by line %u", row->name, row->url, row->agent,
		      verdict.allowed ? "allowed" : "disallowed", line);
		robots_free(robots);
	}
}

static void
test_verdict_names_rule_and_group(void)
{
	static const char text[] = "# shop\n"
	                           "User-agent: *\n"
	                           "Disallow: /cart/\n"
	                           "\n"
	                           "User-agent: FooBot/3 # ours\n"
	                           "User-agent: BarBot\n"
	                           "Crawl-delay: 2.5\n"
	                           "Disallow:   /private/*.pdf$   # no documents\n";
	struct robots_limits limits;
	struct robots *robots;
	struct robots_verdict verdict;

	robots_limits_default(&limits);
	robots = parse_or_die(text, strlen(text), &limits);
	verdict = judge_url(robots, "barbot/1.0", "http://shop.example/private/a/b.pdf");
	CHECK(!verdict.allowed && verdict.reason == ROBOTS_RULE && !verdict.rule_allow &&
	          verdict.rule_line == 8,
	      "the verdict is disallowed by line %u", verdict.rule_line);
	CHECK(verdict.rule_text_len == strlen("Disallow:   /private/*.pdf$") &&
	          memcmp(verdict.rule_text, "Disallow:   /private/*.pdf$", verdict.rule_text_len) ==
	              0,
	      "the rule's text is the line without comment and outer blanks: \"%.*s\"",
	      (int)verdict.rule_text_len, verdict.rule_text);
	CHECK(verdict.group_line == 5 && verdict.group_agent_len == 6 &&
	          memcmp(verdict.group_agent, "BarBot", 6) == 0,
	      "the group is the one from line %u, selected by \"%.*s\"", verdict.group_line,
	      (int)verdict.group_agent_len, verdict.group_agent);
	CHECK(verdict.crawl_delay_ms == 2500, "its crawl-delay is read: %lld ms",
	      (long long)verdict.crawl_delay_ms);

	verdict = judge_url(robots, "FooBot", "/public");
	CHECK(verdict.allowed && verdict.reason == ROBOTS_NO_RULE && verdict.group_line == 5 &&
	          verdict.group_agent_len == 6 && memcmp(verdict.group_agent, "FooBot", 6) == 0,
	      "no rule matching: allowed, the group named (line %u)", verdict.group_line);

	verdict = judge_url(robots, "curl/8.0", "/cart/1");
	CHECK(!verdict.allowed && verdict.rule_line == 3 && verdict.group_line == 2 &&
	          verdict.group_agent_len == 1 && verdict.group_agent[0] == '*' &&
	          verdict.crawl_delay_ms == -1,
	      "another agent: the * group of line %u decides", verdict.group_line);
	robots_free(robots);

	robots = parse_or_die("User-agent: FooBot\nDisallow: /\n", 30, &limits);
	verdict = judge_url(robots, "curl", "/");
	CHECK(verdict.allowed && verdict.reason == ROBOTS_NO_GROUP && verdict.group_line == 0,
	      "no group for the agent: allowed, no group named");
	verdict = judge_url(robots, "FooBot", "/robots.txt");
	CHECK(verdict.allowed && verdict.reason == ROBOTS_IMPLICIT,
	      "/robots.txt: implicitly allowed");
	robots_free(robots);
}

static void
test_stats(void)
{
	static const char text[] = "Disallow: /orphan\n"
	                           "Sitemap: http://e.x/s.xml\n"
	                           "just words here\n"
	                           "User-agent: a\n"
	                           "Crawl-delay: soon\n"
	                           "Disallow: /x\n"
	                           "Allow:\n";
	struct robots_limits limits;
	struct robots *robots;
	const struct robots_stats *stats;

	robots_limits_default(&limits);
	robots = parse_or_die(text, strlen(text), &limits);
	stats = robots_stats(robots);
	CHECK(stats->lines == 7 && stats->groups == 1 && stats->agents == 1 && stats->rules == 1,
	      "7 lines, 1 group, 1 agent, 1 rule (the empty allow is none): %u %u %u %u",
	      stats->lines, stats->groups, stats->agents, stats->rules);
	CHECK(stats->orphan_rules == 1 && stats->other_lines == 3,
	      "a rule before any group and 3 other lines counted: %u, %u", stats->orphan_rules,
	      stats->other_lines);
	robots_free(robots);
}

/* A file past max_bytes: what follows the last line break inside it is ignored. */
static void
test_size_cap(void)
{
	struct robots_limits limits;
	struct robots *robots;
	struct robots_verdict verdict;
	size_t len = 0, size = 600 * 1024;
	char *text = malloc(size);
	const struct robots_stats *stats;

	robots_limits_default(&limits);
	len += sprintf(text, "User-agent: *\nDisallow: /first\n");
	while (len < ROBOTS_DEFAULT_MAX_BYTES - 40)
		len += sprintf(text + len, "# padding padding padding padding\n");
	/* Cut by the cap after "Disallow: /": it must not become "disallow everything". */
	while (len < ROBOTS_DEFAULT_MAX_BYTES - 11)
		text[len++] = ' ';
	len += sprintf(text + len, "Disallow: /cut-by-the-cap\nDisallow: /past\n");
	robots = parse_or_die(text, len, &limits);
	stats = robots_stats(robots);
	CHECK(stats->bytes <= ROBOTS_DEFAULT_MAX_BYTES &&
	          stats->bytes + stats->bytes_ignored == len,
	      "500 KiB parsed, the rest counted: %zu + %zu of %zu", stats->bytes,
	      stats->bytes_ignored, len);
	verdict = judge_url(robots, "x", "/first");
	CHECK(!verdict.allowed, "a rule inside the cap applies");
	verdict = judge_url(robots, "x", "/past");
	CHECK(verdict.allowed, "a rule past the cap does not");
	verdict = judge_url(robots, "x", "/other");
	CHECK(verdict.allowed, "the line the cap cuts is dropped, not read as \"Disallow: /\"");
	robots_free(robots);
	free(text);
}

static void
test_rule_limits(void)
{
	struct robots_limits limits;
	struct robots *robots;
	struct robots_verdict verdict;
	char text[4096];
	size_t len = 0;

	robots_limits_default(&limits);
	limits.max_rules = 3;
	limits.max_agents = 2;
	limits.max_line_bytes = 40;
	len += sprintf(text + len, "User-agent: a\nDisallow: /1\nDisallow: /2\nDisallow: /3\n");
	len += sprintf(text + len, "Disallow: /4\n");
	len += sprintf(text + len, "Disallow: /a-pattern-longer-than-forty-bytes-in-all\n");
	len += sprintf(text + len, "User-agent: b\nDisallow: /b\n");
	len += sprintf(text + len, "User-agent: c\nDisallow: /c\n");
	robots = parse_or_die(text, len, &limits);
	CHECK(robots_stats(robots)->rules == 3 && robots_stats(robots)->rules_dropped == 3,
	      "max_rules 3: 3 kept, 3 dropped and counted (%u)",
	      robots_stats(robots)->rules_dropped);
	CHECK(robots_stats(robots)->agents == 2 && robots_stats(robots)->agents_dropped == 1,
	      "max_agents 2: the third dropped and counted");
	CHECK(robots_stats(robots)->long_lines == 1, "a line past max_line_bytes is counted");
	verdict = judge_url(robots, "a", "/3");
	CHECK(!verdict.allowed, "the rules within the limit apply");
	verdict = judge_url(robots, "a", "/4");
	CHECK(verdict.allowed, "the rule past the limit does not");
	verdict = judge_url(robots, "a", "/a-pattern-longer-than-forty-bytes-in-all");
	CHECK(verdict.allowed, "the long line is ignored whole, not cut into a shorter rule");
	verdict = judge_url(robots, "c", "/c");
	CHECK(verdict.allowed && verdict.reason == ROBOTS_NO_GROUP,
	      "a dropped agent's rules go nowhere, nor into the group before");
	verdict = judge_url(robots, "b", "/c");
	CHECK(verdict.allowed, "nor into the group before it");
	robots_free(robots);
}

static void
test_helpers(void)
{
	static const struct {
		const char *url, *path;
	} paths[] = {
	    {"", "/"},
	    {"http://www.example.com", "/"},
	    {"http://www.example.com/", "/"},
	    {"http://www.example.com/a", "/a"},
	    {"http://www.example.com/a/b?c=http://d.e/", "/a/b?c=http://d.e/"},
	    {"http://www.example.com/a/b?c=d&e=f#fragment", "/a/b?c=d&e=f"},
	    {"example.com", "/"},
	    {"example.com/a/", "/a/"},
	    {"example.com:8080/a", "/a"},
	    {"a", "/"},
	    {"/a", "/a"},
	    {"a/b", "/b"},
	    {"example.com?a", "/?a"},
	    {"example.com/a;b#c", "/a;b"},
	    {"//a/b/c", "/b/c"},
	};
	static const struct {
		const char *in, *out;
	} encodings[] = {
	    {"/a/b/c", "/a/b/c"}, {"\xc3\xa1", "%C3%A1"},
	    {"%aa", "%AA"},       {"%41%7e%2f", "A~%2F"},
	    {"%", "%"},           {"%4", "%4"},
	    {"%zz", "%zz"},       {"a b\x7f", "a%20b%7F"},
	    {"*$", "*$"},         {"http://www.example.com", "http://www.example.com"},
	};
	char out[256];
	size_t len;

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		len = robots_url_path(paths[i].url, strlen(paths[i].url), out);
		CHECK(len == strlen(paths[i].path) && memcmp(out, paths[i].path, len) == 0,
		      "the path of \"%s\" is \"%.*s\"", paths[i].url, (int)len, out);
	}
	for (size_t i = 0; i < sizeof(encodings) / sizeof(encodings[0]); i++) {
		len = robots_normalise(encodings[i].in, strlen(encodings[i].in), out);
		CHECK(len == strlen(encodings[i].out) && memcmp(out, encodings[i].out, len) == 0,
		      "\"%s\" normalises to \"%.*s\"", encodings[i].in, (int)len, out);
	}
}

/* A hostile file and request: many wildcards against a long path stay linear. */
static void
test_wildcards_on_long_path(void)
{
	struct robots_limits limits;
	struct robots *robots;
	struct robots_verdict verdict;
	size_t path_len = 8000, len = 0;
	char *path = malloc(path_len + 1), *text = malloc(200 * 1024);

	robots_limits_default(&limits);
	len += sprintf(text, "User-agent: *\n");
	for (int i = 0; i < 1000; i++)
		len += sprintf(text + len, "Disallow: /*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b%d$\n", i);
	memset(path, 'a', path_len);
	path[0] = '/';
	path[path_len] = '\0';
	robots = parse_or_die(text, len, &limits);
	verdict = judge_url(robots, "x", path);
	CHECK(verdict.allowed && verdict.reason == ROBOTS_NO_RULE,
	      "1000 wildcard rules against an 8000-byte path: no match, judged");
	path[path_len - 2] = 'b';
	path[path_len - 1] = '7';
	verdict = judge_url(robots, "x", path);
	CHECK(!verdict.allowed && verdict.rule_line == 9, "and the one that ends in b7 matches");
	robots_free(robots);
	free(path);
	free(text);
}

int
main(void)
{
	test_table();
	test_verdict_names_rule_and_group();
	test_stats();
	test_size_cap();
	test_rule_limits();
	test_helpers();
	test_wildcards_on_long_path();
	return check_done();
}
