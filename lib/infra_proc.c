#include "infra_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

extern char **environ;

/* the environment with env_set entries replacing or adding names; caller frees the array */
static char **make_env(const char *const *set)
{
	size_t n = 0, k = 0, m = 0;
	char **env;

	while (environ && environ[n])
		n++;
	while (set && set[m])
		m++;
	env = calloc(n + m + 1, sizeof(char *));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		int replaced = 0;
		for (size_t j = 0; j < m; j++) {
			size_t l = strcspn(set[j], "=");
			if (!strncmp(environ[i], set[j], l + 1))
				replaced = 1;
		}
		if (!replaced)
			env[k++] = environ[i];
	}
	for (size_t j = 0; j < m; j++)
		if (strchr(set[j], '='))
			env[k++] = (char *)set[j];
	env[k] = NULL;
	return env;
}

/* resolve a program like execvp does, so "not found" is known before spawning
 * (posix_spawn cannot always report it: under valgrind the child just exits 127) */
static int find_program(const char *name, char *buf, size_t size)
{
	const char *path = getenv("PATH"), *p;

	if (strchr(name, '/')) {
		snprintf(buf, size, "%s", name);
		return access(name, X_OK) == 0 ? 0 : errno;
	}
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path;; p += strcspn(p, ":") + 1) {
		size_t n = strcspn(p, ":");
		struct stat st;
		int len = snprintf(buf, size, "%.*s%s%s", (int)n, p, n ? "/" : "", name);
		if (len > 0 && (size_t)len < size && stat(buf, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(buf, X_OK) == 0)
			return 0;
		if (!p[n])
			break;
	}
	return ENOENT;
}

/* posix_spawn: own process group, default signals, empty mask, stdin /dev/null */
static int spawn(pid_t *pid, const char *prog, const char *const *argv, const struct infra_proc_opts *o,
		 int out_w)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, dfl;
	char **env = make_env(o->env_set);
	int rc;

	if (!env)
		return ENOMEM;
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);
	sigaddset(&dfl, SIGINT);
	sigaddset(&dfl, SIGTERM);
	sigaddset(&dfl, SIGHUP);
	sigaddset(&dfl, SIGQUIT);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &dfl);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (o->log_fd >= 0) {
		posix_spawn_file_actions_adddup2(&fa, out_w >= 0 ? out_w : o->log_fd, 1);
		posix_spawn_file_actions_adddup2(&fa, o->log_fd, 2);
	} else {
		if (out_w >= 0)
			posix_spawn_file_actions_adddup2(&fa, out_w, 1);
		else
			posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	}
	if (o->cwd)
		posix_spawn_file_actions_addchdir_np(&fa, o->cwd);
	rc = posix_spawn(pid, prog, &fa, &at, (char *const *)argv, env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	free(env);
	return rc;
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
	int outp[2] = { -1, -1 };
	char prog[4096];
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
	e = find_program(argv[0], prog, sizeof(prog));
	if (e)
		return infra_err_set(err, e == ENOENT || e == EACCES ? -ENOENT : -e, "cannot run '%s': %s",
				     argv[0], strerror(e));
	if (out && pipe2(outp, O_CLOEXEC) != 0)
		return infra_err_set(err, -errno, "cannot create a pipe: %s", strerror(errno));
	e = spawn(&pid, prog, argv, &o, out ? outp[1] : -1);
	if (out)
		close(outp[1]);
	if (e) {
		if (out)
			close(outp[0]);
		return infra_err_set(err, e == ENOENT || e == EACCES || e == ENOEXEC ? -ENOENT : -e,
				     "cannot run '%s': %s", argv[0], strerror(e));
	}
	current_pgid = pid;

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
