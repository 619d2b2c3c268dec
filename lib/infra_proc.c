#include "infra_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "infra_report.h"

static volatile sig_atomic_t current_pgid;

void infra_proc_kill_current(int sig)
{
	pid_t pg = (pid_t)current_pgid;

	if (pg > 0)
		kill(-pg, sig);
}

void infra_proc_describe(const struct infra_proc_result *res, double timeout, char *buf, size_t size)
{
	if (res->timed_out)
		snprintf(buf, size, "timed out after %g s (process group killed)", timeout);
	else if (res->exited)
		snprintf(buf, size, "exited with status %d", res->exit_code);
	else
		snprintf(buf, size, "killed by signal %d (%s)", res->signal, strsignal(res->signal));
}

static void child(const char *const *argv, const struct infra_proc_opts *o, int out_w, int err_pipe)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	int logfd = o->log_fd >= 0 ? o->log_fd : null;
	int e;

	setpgid(0, 0);
	/* default dispositions and an empty mask for the program */
	signal(SIGPIPE, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	{
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
	}
	if (null >= 0)
		dup2(null, 0);
	dup2(out_w >= 0 ? out_w : logfd, 1);
	dup2(logfd, 2);
	for (const char *const *e2 = o->env_set; e2 && *e2; e2++) {
		const char *eq = strchr(*e2, '=');
		char name[256];
		size_t n;
		if (!eq)
			continue;
		n = (size_t)(eq - *e2);
		if (n >= sizeof(name))
			continue;
		memcpy(name, *e2, n);
		name[n] = '\0';
		setenv(name, eq + 1, 1);
	}
	if (o->cwd && chdir(o->cwd) != 0) {
		e = errno;
		if (write(err_pipe, &e, sizeof(e)) < 0) {
			/* nothing left to report to */
		}
		_exit(127);
	}
	execvp(argv[0], (char *const *)argv);
	e = errno;
	if (write(err_pipe, &e, sizeof(e)) < 0) {
		/* nothing left to report to */
	}
	_exit(127);
}

static void fill_status(struct infra_proc_result *res, int st)
{
	if (WIFEXITED(st)) {
		res->exited = 1;
		res->exit_code = WEXITSTATUS(st);
	} else if (WIFSIGNALED(st)) {
		res->signal = WTERMSIG(st);
	}
}

/* wait for pid up to `seconds`; 1 if reaped */
static int wait_for(pid_t pid, double seconds, int *st)
{
	double end = infra_now_mono() + seconds;

	for (;;) {
		pid_t w = waitpid(pid, st, WNOHANG);
		if (w == pid || (w < 0 && errno != EINTR))
			return w == pid;
		if (infra_now_mono() >= end)
			return 0;
		struct timespec ts = { 0, 20 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}

int infra_proc_run(const char *const *argv, const struct infra_proc_opts *opts,
		   struct infra_buf *out, struct infra_proc_result *res, struct infra_err *err)
{
	struct infra_proc_opts o = { 0, 5, -1, NULL, NULL };
	int outp[2] = { -1, -1 }, errp[2] = { -1, -1 };
	double start = infra_now_mono(), deadline;
	int st = 0, reaped = 0, too_big = 0, e = 0;
	pid_t pid;
	ssize_t n;

	if (opts)
		o = *opts;
	if (o.grace <= 0)
		o.grace = 5;
	memset(res, 0, sizeof(*res));
	if (!argv || !argv[0])
		return infra_err_set(err, -EINVAL, "no program to run");
	if ((out && pipe2(outp, O_CLOEXEC) != 0) || pipe2(errp, O_CLOEXEC) != 0) {
		e = errno;
		if (outp[0] >= 0) {
			close(outp[0]);
			close(outp[1]);
		}
		return infra_err_set(err, -e, "cannot create a pipe: %s", strerror(e));
	}
	pid = fork();
	if (pid < 0) {
		e = errno;
		if (out) {
			close(outp[0]);
			close(outp[1]);
		}
		close(errp[0]);
		close(errp[1]);
		return infra_err_set(err, -e, "cannot fork: %s", strerror(e));
	}
	if (pid == 0)
		child(argv, &o, out ? outp[1] : -1, errp[1]);
	setpgid(pid, pid); /* also in the parent: no race with killpg */
	current_pgid = pid;
	close(errp[1]);
	if (out)
		close(outp[1]);
	/* exec failure? (the pipe closes on a successful exec) */
	while ((n = read(errp[0], &e, sizeof(e))) < 0 && errno == EINTR)
		;
	close(errp[0]);
	if (n == (ssize_t)sizeof(e)) {
		waitpid(pid, &st, 0);
		current_pgid = 0;
		if (out)
			close(outp[0]);
		return infra_err_set(err, e == ENOENT || e == EACCES ? -ENOENT : -e,
				     "cannot run '%s': %s", argv[0], strerror(e));
	}

	deadline = o.timeout > 0 ? start + o.timeout : 0;
	while (!reaped) {
		double now = infra_now_mono();
		int wait_ms = 100;
		if (deadline && now >= deadline) {
			res->timed_out = 1;
			break;
		}
		if (deadline && (deadline - now) * 1000 < wait_ms)
			wait_ms = (int)((deadline - now) * 1000) + 1;
		if (out && outp[0] >= 0) {
			struct pollfd pfd = { outp[0], POLLIN, 0 };
			int pr = poll(&pfd, 1, wait_ms);
			if (pr > 0) {
				char chunk[16384];
				n = read(outp[0], chunk, sizeof(chunk));
				if (n > 0) {
					if (!too_big && infra_buf_append(out, chunk, (size_t)n))
						too_big = 1;
				} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
					close(outp[0]);
					outp[0] = -1;
				}
			}
		} else {
			struct timespec ts = { 0, (long)wait_ms * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
		if (waitpid(pid, &st, WNOHANG) == pid)
			reaped = 1;
	}
	if (res->timed_out) {
		kill(-pid, SIGTERM);
		reaped = wait_for(pid, o.grace, &st);
		kill(-pid, SIGKILL); /* the leader's forked workers too */
		if (!reaped)
			waitpid(pid, &st, 0);
	} else {
		/* the program ended: collect what is left on stdout (bounded wait) */
		double end = infra_now_mono() + 1.0;
		while (out && outp[0] >= 0 && infra_now_mono() < end) {
			struct pollfd pfd = { outp[0], POLLIN, 0 };
			char chunk[16384];
			if (poll(&pfd, 1, 100) <= 0)
				continue;
			n = read(outp[0], chunk, sizeof(chunk));
			if (n <= 0)
				break;
			if (!too_big && infra_buf_append(out, chunk, (size_t)n))
				too_big = 1;
		}
	}
	current_pgid = 0;
	if (out && outp[0] >= 0)
		close(outp[0]);
	fill_status(res, st);
	res->elapsed = infra_now_mono() - start;
	if (too_big)
		return infra_err_set(err, -E2BIG, "output of '%s' is larger than %zu bytes", argv[0],
				     out->max ? out->max : INFRA_BUF_DEFAULT_MAX);
	return 0;
}
