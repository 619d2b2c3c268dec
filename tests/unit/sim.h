/* sim.h - start a Python simulator of tests/sim/ from a unit test (header-only):
 * python3 tests/sim/<script> --max-seconds 120 ARGS..., its first stdout line
 * must be "READY <url>".  The child gets SIGTERM when the test dies; sim_stop_all()
 * ends them at the end.  Paths are relative to $INFRA_SRCDIR (default "."). */
#ifndef INFRA_TEST_SIM_H
#define INFRA_TEST_SIM_H

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t sim_pids[16];
static int sim_n;

/* args: NULL-terminated, at most 10.  Returns 0 and the URL in where, or -1. */
static inline int sim_start(const char *script, const char *const *args, char *where, size_t wn)
{
	const char *srcdir = getenv("INFRA_SRCDIR");
	char path[PATH_MAX], line[512];
	const char *argv[16];
	size_t len = 0;
	int fds[2], i;
	pid_t pid;

	if (sim_n >= 16)
		return -1;
	snprintf(path, sizeof(path), "%s/tests/sim/%s", srcdir && *srcdir ? srcdir : ".", script);
	argv[0] = "python3";
	argv[1] = path;
	argv[2] = "--max-seconds";
	argv[3] = "120";
	for (i = 0; args && args[i] && i < 10; i++)
		argv[4 + i] = args[i];
	argv[4 + i] = NULL;
	if (pipe(fds) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (devnull >= 0)
			dup2(devnull, 0);
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execvp("python3", (char *const *)argv);
		_exit(127);
	}
	sim_pids[sim_n++] = pid;
	close(fds[1]);
	while (len < sizeof(line) - 1 && !memchr(line, '\n', len)) {
		struct pollfd p = { fds[0], POLLIN, 0 };
		ssize_t n;
		if (poll(&p, 1, 20000) <= 0)
			break;
		n = read(fds[0], line + len, sizeof(line) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fds[0]);
	line[len] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	if (strncmp(line, "READY ", 6) != 0) {
		printf("# %s did not start: [%s]\n", path, line);
		return -1;
	}
	if (strlen(line + 6) >= wn)
		return -1;
	memcpy(where, line + 6, strlen(line + 6) + 1);
	return 0;
}

static inline void sim_stop_all(void)
{
	for (int i = 0; i < sim_n; i++) {
		kill(sim_pids[i], SIGTERM);
		waitpid(sim_pids[i], NULL, 0);
	}
	sim_n = 0;
}

/* Write text to a file in dir; the path goes to out. */
static inline int sim_write_file(const char *dir, const char *name, const char *text, char *out, size_t on)
{
	FILE *f;

	snprintf(out, on, "%s/%s", dir, name);
	f = fopen(out, "w");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

#endif
