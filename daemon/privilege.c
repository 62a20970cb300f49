/* Effective capabilities, read with capget(2): no libcap needed. */
#include <errno.h>
#include <linux/capability.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "privilege.h"

static const struct capability {
	int number;
	const char *name;
	const char *purpose;
} needed[] = {
    {CAP_NET_ADMIN, "CAP_NET_ADMIN", "nftables and XDP attachment"},
    {CAP_BPF, "CAP_BPF", "loading the BPF program"},
    {CAP_PERFMON, "CAP_PERFMON", "the BPF verifier's checks of the program"},
    {CAP_NET_RAW, "CAP_NET_RAW", "libpcap on the VM-facing interfaces"},
};

const char privilege_needed[] = "CAP_NET_ADMIN CAP_BPF CAP_PERFMON CAP_NET_RAW";

static int
effective(const struct __user_cap_data_struct *data, int number)
{
	return (data[number / 32].effective >> (number % 32)) & 1;
}

int
privilege_check(char *missing, size_t len)
{
	struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {{0}};
	size_t used = 0;

	if (len > 0)
		missing[0] = '\0';
	if (syscall(SYS_capget, &header, data) == -1)
		return -errno;
	for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++) {
		/* Before Linux 5.8 CAP_SYS_ADMIN stood for CAP_BPF and CAP_PERFMON. */
		if (effective(data, needed[i].number) ||
		    ((needed[i].number == CAP_BPF || needed[i].number == CAP_PERFMON) &&
		     effective(data, CAP_SYS_ADMIN)))
			continue;
		if (used < len)
			used += snprintf(missing + used, len - used, "%s%s (%s)",
			                 used > 0 ? ", " : "", needed[i].name, needed[i].purpose);
		else
			used++;
	}
	return used > 0 ? -EPERM : 0;
}
