/*
 * The capabilities the daemon needs, checked before it starts, so that one
 * missing is named rather than guessed from an EPERM deep in libbpf or
 * nftables. Root has them all; systemd's unit grants exactly these.
 */
#ifndef PRIVILEGE_H
#define PRIVILEGE_H

#include <stddef.h>

/* "CAP_NET_ADMIN CAP_BPF CAP_PERFMON": what abuseguard.service grants. */
extern const char privilege_needed[];

/*
 * Returns 0 when every needed capability is effective, or -EPERM and the
 * missing ones, each with what it is for, in missing ("CAP_PERFMON (the
 * BPF verifier's checks)"); -errno if they cannot be read.
 */
int privilege_check(char *missing, size_t len);

#endif
