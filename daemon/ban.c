/* Names of categories and scopes, and the end of a ban. */
#include <errno.h>
#include <string.h>

#include "ban.h"

static const char *const category_names[CATEGORY_COUNT] = {
    [CATEGORY_SPAM] = "spam",       [CATEGORY_SCAN] = "scan",
    [CATEGORY_CRAWLER] = "crawler", [CATEGORY_SPOOFING] = "spoofing",
    [CATEGORY_EVASION] = "evasion",
};

static const char *const scope_names[SCOPE_COUNT] = {
    [SCOPE_SMTP] = "smtp",
    [SCOPE_WEB] = "web",
    [SCOPE_ALL] = "all",
};

static int
name_lookup(const char *const *names, int count, const char *name)
{
	for (int i = 0; i < count; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -EINVAL;
}

const char *
category_name(enum category category)
{
	return (unsigned)category < CATEGORY_COUNT ? category_names[category] : "unknown";
}

int
category_parse(const char *name, enum category *out)
{
	int i = name_lookup(category_names, CATEGORY_COUNT, name);

	if (i < 0)
		return i;
	*out = (enum category)i;
	return 0;
}

const char *
scope_name(enum scope scope)
{
	return (unsigned)scope < SCOPE_COUNT ? scope_names[scope] : "unknown";
}

int
scope_parse(const char *name, enum scope *out)
{
	int i = name_lookup(scope_names, SCOPE_COUNT, name);

	if (i < 0)
		return i;
	*out = (enum scope)i;
	return 0;
}

int64_t
ban_end_ms(const struct ban *ban)
{
	if (ban->lifted_ms != 0 && ban->lifted_ms < ban->expires_ms)
		return ban->lifted_ms;
	return ban->expires_ms;
}

int
ban_active(const struct ban *ban, int64_t now_ms)
{
	return ban->start_ms <= now_ms && now_ms < ban_end_ms(ban);
}
