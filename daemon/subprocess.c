/*
 * Children for the delivery backends, started with posix_spawn (a
 * command) or fork (a function of the daemon's own, such as SMTP
 * submission). The
 * daemon blocks its signals for the signalfd and ignores SIGPIPE; a child
 * gets them back at their defaults, or a mail command could neither be
 * stopped nor see a closed pipe.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "subprocess.h"

/* A delivery needs nothing of the daemon's environment but a PATH. */
static const char *const base_env[] = {
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LC_ALL=C",
};
#define ENV_MAX 16

/* Splits at spaces and tabs into argv; words are pointers into copy. */
static int
split_words(char *copy, char *argv[SUBPROCESS_MAX_ARGS + 1])
{
	unsigned count = 0;

	for (char *word = strtok(copy, " \t"); word != NULL; word = strtok(NULL, " \t")) {
		if (count == SUBPROCESS_MAX_ARGS)
			return -E2BIG;
		argv[count++] = word;
	}
	argv[count] = NULL;
	return count == 0 ? -EINVAL : 0;
}

static int
input_memfd(const void *input, size_t length)
{
	const char *at = input;
	int fd = memfd_create("abuseguard-delivery", MFD_CLOEXEC);

	if (fd < 0)
		return -errno;
	while (length > 0) {
		ssize_t written = write(fd, at, length);

		if (written < 0) {
			int error = errno == EINTR ? 0 : -errno;

			if (error == 0)
				continue;
			close(fd);
			return error;
		}
		at += written;
		length -= (size_t)written;
	}
	if (lseek(fd, 0, SEEK_SET) < 0) {
		int error = -errno;

		close(fd);
		return error;
	}
	return fd;
}

/* What a child gets back at its default: the daemon blocks or ignores these. */
static const int child_default_signals[] = {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD};

static int
child_attributes(posix_spawnattr_t *attributes)
{
	sigset_t none, defaults;

	sigemptyset(&none);
	sigemptyset(&defaults);
	for (size_t i = 0; i < sizeof(child_default_signals) / sizeof(child_default_signals[0]);
	     i++)
		sigaddset(&defaults, child_default_signals[i]);
	if (posix_spawnattr_init(attributes) != 0)
		return -ENOMEM;
	if (posix_spawnattr_setflags(attributes, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
	                                             POSIX_SPAWN_SETSIGDEF) != 0 ||
	    posix_spawnattr_setpgroup(attributes, 0) != 0 ||
	    posix_spawnattr_setsigmask(attributes, &none) != 0 ||
	    posix_spawnattr_setsigdefault(attributes, &defaults) != 0) {
		posix_spawnattr_destroy(attributes);
		return -EINVAL;
	}
	return 0;
}

/* Fresh state, the output buffer and the output pipe (read end non-blocking). */
static int
child_prepare(struct subprocess *child, size_t output_max, int pipe_fds[2], char *err,
              size_t errlen)
{
	memset(child, 0, sizeof(*child));
	child->pidfd = child->output_fd = -1;
	child->output_max = output_max;
	pipe_fds[0] = pipe_fds[1] = -1;
	if ((child->output = malloc(output_max + 1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	child->output[0] = '\0';
	if (pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) < 0) {
		int error = -errno;

		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return error;
	}
	return 0;
}

/* The child runs: its pidfd, and the pipe's read end kept. 0 or -errno. */
static int
child_started(struct subprocess *child, int pipe_fds[2], char *err, size_t errlen)
{
	/* The child is not reaped before we say so: its pid cannot be reused meanwhile. */
	child->pidfd = (int)syscall(SYS_pidfd_open, child->pid, 0);
	if (child->pidfd < 0) {
		int error = -errno;

		snprintf(err, errlen, "pidfd_open: %s", strerror(errno));
		return error;
	}
	close(pipe_fds[1]);
	pipe_fds[1] = -1;
	child->output_fd = pipe_fds[0];
	return 0;
}

static void
child_fail(struct subprocess *child, int pipe_fds[2])
{
	if (pipe_fds[1] >= 0)
		close(pipe_fds[1]);
	if (pipe_fds[0] >= 0 && pipe_fds[0] != child->output_fd)
		close(pipe_fds[0]);
	subprocess_close(child);
}

int
subprocess_start(struct subprocess *child, const char *command_line, const void *input,
                 size_t input_length, char *const env[], size_t output_max, char *err,
                 size_t errlen)
{
	char *argv[SUBPROCESS_MAX_ARGS + 1], *envp[ENV_MAX + 1], *copy = NULL;
	posix_spawn_file_actions_t actions;
	posix_spawnattr_t attributes;
	int pipe_fds[2], input_fd = -1, error, envc = 0;

	if ((error = child_prepare(child, output_max, pipe_fds, err, errlen)) < 0)
		goto fail;
	if ((copy = strdup(command_line)) == NULL) {
		snprintf(err, errlen, "out of memory");
		error = -ENOMEM;
		goto fail;
	}
	if ((error = split_words(copy, argv)) < 0) {
		snprintf(err, errlen, "%s: %s", command_line,
		         error == -E2BIG ? "too many words" : "no command");
		goto fail;
	}
	for (size_t i = 0; i < sizeof(base_env) / sizeof(base_env[0]); i++)
		envp[envc++] = (char *)base_env[i];
	for (size_t i = 0; env != NULL && env[i] != NULL && envc < ENV_MAX; i++)
		envp[envc++] = env[i];
	envp[envc] = NULL;
	if ((input_fd = input_memfd(input, input_length)) < 0) {
		error = input_fd;
		snprintf(err, errlen, "memfd: %s", strerror(-error));
		goto fail;
	}
	if ((error = child_attributes(&attributes)) < 0) {
		snprintf(err, errlen, "spawn attributes: %s", strerror(-error));
		goto fail;
	}
	/* dup2 clears close-on-exec on the copies: the child keeps 0, 1 and 2 only. */
	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_adddup2(&actions, input_fd, STDIN_FILENO);
	posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDERR_FILENO);
	error = posix_spawn(&child->pid, argv[0], &actions, &attributes, argv, envp);
	posix_spawn_file_actions_destroy(&actions);
	posix_spawnattr_destroy(&attributes);
	if (error != 0) {
		snprintf(err, errlen, "%s: %s", argv[0], strerror(error));
		child->pid = 0;
		error = -error;
		goto fail;
	}
	if ((error = child_started(child, pipe_fds, err, errlen)) < 0)
		goto fail;
	close(input_fd);
	free(copy);
	return 0;
fail:
	if (input_fd >= 0)
		close(input_fd);
	free(copy);
	child_fail(child, pipe_fds);
	return error;
}

int
subprocess_run(struct subprocess *child, int (*run)(void *arg), void *arg, size_t output_max,
               char *err, size_t errlen)
{
	int pipe_fds[2], error;

	if ((error = child_prepare(child, output_max, pipe_fds, err, errlen)) < 0)
		goto fail;
	if ((child->pid = fork()) < 0) {
		error = -errno;
		snprintf(err, errlen, "fork: %s", strerror(errno));
		child->pid = 0;
		goto fail;
	}
	if (child->pid == 0) {
		sigset_t none;

		/* As a spawned command: its own process group, default signals, fds 1 and 2 only.
		 */
		setpgid(0, 0);
		for (size_t i = 0;
		     i < sizeof(child_default_signals) / sizeof(child_default_signals[0]); i++)
			signal(child_default_signals[i], SIG_DFL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (dup2(pipe_fds[1], STDOUT_FILENO) < 0 || dup2(pipe_fds[1], STDERR_FILENO) < 0)
			_exit(EX_OSERR);
		close_range(STDERR_FILENO + 1, ~0U, 0);
		_exit(run(arg));
	}
	/* Both sides set the group, so a kill right after fork reaches it either way. */
	setpgid(child->pid, child->pid);
	if ((error = child_started(child, pipe_fds, err, errlen)) < 0)
		goto fail;
	return 0;
fail:
	child_fail(child, pipe_fds);
	return error;
}

void
subprocess_read_output(struct subprocess *child)
{
	char scratch[4096];

	if (child->output == NULL)
		return; /* closed already */
	while (child->output_fd >= 0) {
		size_t room = child->output_max - child->output_len;
		ssize_t got = room > 0
		                  ? read(child->output_fd, child->output + child->output_len, room)
		                  : read(child->output_fd, scratch, sizeof(scratch));

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			/* End of output, or nothing more for now. */
			if (got == 0 || errno != EAGAIN) {
				close(child->output_fd);
				child->output_fd = -1;
			}
			break;
		}
		if (room > 0)
			child->output_len += (size_t)got;
		else
			child->output_truncated = true;
	}
	child->output[child->output_len] = '\0';
}

int
subprocess_reap(struct subprocess *child, int *status)
{
	pid_t reaped;

	subprocess_read_output(child);
	do
		reaped = waitpid(child->pid, status, 0);
	while (reaped < 0 && errno == EINTR);
	if (reaped < 0)
		return -errno;
	child->pid = 0;
	return 0;
}

void
subprocess_kill(struct subprocess *child)
{
	if (child->pid > 0)
		kill(-child->pid, SIGKILL);
}

void
subprocess_close(struct subprocess *child)
{
	int status;

	if (child->pid > 0) {
		subprocess_kill(child);
		while (waitpid(child->pid, &status, 0) < 0 && errno == EINTR)
			;
		child->pid = 0;
	}
	if (child->pidfd >= 0)
		close(child->pidfd);
	if (child->output_fd >= 0)
		close(child->output_fd);
	child->pidfd = child->output_fd = -1;
	free(child->output);
	child->output = NULL;
}

const char *
subprocess_status_text(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exit status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d", WTERMSIG(status));
	else
		snprintf(buf, len, "status %#x", status);
	return buf;
}
