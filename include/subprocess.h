/*
 * A child process the event loop watches: a command line split at spaces
 * (no shell), its standard input a copy of a buffer (a memfd, so nothing
 * blocks on a pipe), standard output and error into one non-blocking pipe
 * kept up to a bound, its own process group (a timeout kills all of it),
 * and a pidfd that becomes readable when it exits.
 */
#ifndef SUBPROCESS_H
#define SUBPROCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SUBPROCESS_MAX_ARGS 32

struct subprocess {
	pid_t pid;     /* 0: none */
	int pidfd;     /* readable once the child exited */
	int output_fd; /* its stdout and stderr; -1 once closed */
	char *output;  /* what it wrote, NUL-terminated, output_max bytes at most */
	size_t output_len, output_max;
	bool output_truncated; /* it wrote more than output_max */
};

/*
 * Starts command_line with input on its stdin and env (NULL-terminated
 * "KEY=value" strings, may be NULL) added to a small fixed environment.
 * 0, or -errno with what failed in err.
 */
int subprocess_start(struct subprocess *child, const char *command_line, const void *input,
                     size_t input_length, char *const env[], size_t output_max, char *err,
                     size_t errlen);
/*
 * Runs run(arg) in a forked child of the daemon, watched as a command is:
 * its stdout and stderr into the output pipe, no other descriptor, its own
 * process group; run's return is the exit status. 0, or -errno with what
 * failed in err.
 */
int subprocess_run(struct subprocess *child, int (*run)(void *arg), void *arg, size_t output_max,
                   char *err, size_t errlen);
/* Reads what the child has written so far; past output_max it is dropped and counted. */
void subprocess_read_output(struct subprocess *child);
/*
 * Once pidfd is readable: reads the last output, reaps the child and sets
 * *status as waitpid does. 0 or -errno.
 */
int subprocess_reap(struct subprocess *child, int *status);
/* Kills the child's process group (a timeout, or the daemon stopping). */
void subprocess_kill(struct subprocess *child);
/* Closes the descriptors and frees the output; a child not reaped is killed and reaped. */
void subprocess_close(struct subprocess *child);
/* "exit status 75", "killed by signal 9", for the log. */
const char *subprocess_status_text(int status, char *buf, size_t len);

#endif
