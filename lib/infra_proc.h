/* infra_proc.h - run an external program safely: fork/exec (never a shell string),
 * its own process group, a wall-clock timeout that kills the whole group, stdout
 * captured into a bounded buffer, stderr appended to a log file descriptor.
 *
 * A program that forks workers (rally runs scenario iterations in a child) is
 * stopped completely: on timeout the group gets SIGTERM, then SIGKILL after
 * `grace` seconds.  SIGINT/SIGTERM to the caller while a child runs are not
 * handled here; the caller may call infra_proc_kill_current() from a handler.
 *
 * Ownership: argv and env are borrowed; the result's buffer belongs to the
 * caller's struct infra_buf.
 */
#ifndef INFRA_PROC_H
#define INFRA_PROC_H

#include "infra_buf.h"
#include "infra_err.h"

struct infra_proc_opts {
	double timeout;           /* seconds, 0 = none */
	double grace;             /* seconds between SIGTERM and SIGKILL (default 5) */
	int log_fd;               /* child's stderr (and stdout when out is NULL) go here; -1 = /dev/null */
	const char *const *env_set; /* NULL-terminated "NAME=value" entries added to the environment */
	const char *cwd;          /* working directory or NULL */
};

struct infra_proc_result {
	int exited;     /* 1 if it exited normally */
	int exit_code;  /* when exited */
	int signal;     /* terminating signal when !exited */
	int timed_out;  /* the timeout fired and the group was killed */
	double elapsed; /* seconds */
};

/* Run argv[0] (searched in PATH when it has no '/').  stdout goes to out (bounded;
 * more than out->max is an error after the program ends) or, when out is NULL, to
 * log_fd.  Returns 0 when the program ran (whatever its exit status), -ENOENT when
 * it cannot be found or executed, another negative code for a local failure. */
int infra_proc_run(const char *const *argv, const struct infra_proc_opts *opts,
		   struct infra_buf *out, struct infra_proc_result *res, struct infra_err *err);

/* Describe a result: "exited with status 1", "killed by signal 9",
 * "timed out after 30 s".  buf of at least 64 bytes. */
void infra_proc_describe(const struct infra_proc_result *res, double timeout, char *buf, size_t size);

/* Async-signal-safe: send sig to the process group of the child being run, if any. */
void infra_proc_kill_current(int sig);

#endif
