/* test_lock.c - files a tool touches that someone else could redirect:
 * infra_lock (symlink, FIFO, directory, foreign file, hard link, holder pid),
 * infra_statedir (created 0700, symlinks, foreign and writable directories),
 * -o targets that are not regular files (infra_atomic_write), the previous
 * output read back on failure (FIFO, symlink), infra_json_file_read.
 * Checks that need another uid run only as root (CI) and say so otherwise. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "infra_file.h"
#include "infra_history.h"
#include "infra_lock.h"
#include "infra_report.h"
#include "infra_statedir.h"
#include "tap.h"

#define NOBODY 65534

static char dir[512];

static void path(char *buf, size_t size, const char *rel)
{
	snprintf(buf, size, "%s/%s", dir, rel);
}

static void put(const char *p, const char *text)
{
	FILE *f = fopen(p, "w");

	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

/* the whole small file, or "" */
static const char *slurp(const char *p)
{
	static char buf[256];
	FILE *f = fopen(p, "r");
	size_t n = 0;

	if (f) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return buf;
}

/* Run fn in a child that is killed after 5 s: a test that would hang fails. */
static int in_child(int (*fn)(void *), void *ud)
{
	int st;
	pid_t pid = fork();

	if (pid == 0) {
		alarm(5);
		_exit(fn(ud));
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void test_lock_basic(void)
{
	char p[1024];
	struct infra_err err = INFRA_ERR_INIT;
	int fd = -1, fd2 = -1, st;
	pid_t pid;

	path(p, sizeof(p), "lock");
	tap_ok(infra_lock_take(p, 0, &fd, &err) == 0, "lock taken (%s)", err.msg);
	pid = fork();
	if (pid == 0) {
		struct infra_err e2 = INFRA_ERR_INIT;
		int rc = infra_lock_take(p, 0, &fd2, &e2);
		char want[64];
		snprintf(want, sizeof(want), "(pid %ld)", (long)getppid());
		_exit(rc == -EBUSY && strstr(e2.msg, want) ? 0 : 1);
	}
	waitpid(pid, &st, 0);
	tap_ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "another process gets -EBUSY naming our pid");
	infra_lock_release(fd);
	tap_ok(infra_lock_take(p, 0, &fd2, &err) == 0, "free again after release");
	infra_lock_release(fd2);
}

/* the holder's pid is read back bounded and only as digits */
static void test_lock_holder_text(void)
{
	char p[1024];
	struct infra_err err = INFRA_ERR_INIT;
	int fd = -1, st;
	pid_t pid;

	path(p, sizeof(p), "lock-text");
	tap_ok(infra_lock_take(p, 0, &fd, &err) == 0, "lock taken");
	/* what a holder (or anyone who could write it) left there */
	if (pwrite(fd, "12\033[31m-and-a-long-text-that-goes-on-and-on\n", 44, 0) != 44)
		tap_diag("pwrite failed");
	pid = fork();
	if (pid == 0) {
		struct infra_err e2 = INFRA_ERR_INIT;
		int fd2, rc = infra_lock_take(p, 0, &fd2, &e2);
		_exit(rc == -EBUSY && strstr(e2.msg, "(pid 12)") && !strchr(e2.msg, '\033') ? 0 : 1);
	}
	waitpid(pid, &st, 0);
	tap_ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the holder pid is shown as digits only");
	tap_ok(strncmp(slurp(p), "12\033", 3) == 0, "a refused taker does not truncate the held lock");
	infra_lock_release(fd);
}

static int take_fifo_lock(void *ud)
{
	struct infra_err err = INFRA_ERR_INIT;
	int fd;
	int rc = infra_lock_take(ud, 0, &fd, &err);

	return rc == -EINVAL && strstr(err.msg, "a FIFO") ? 0 : 1;
}

static void test_lock_hostile(void)
{
	char target[1024], p[1024];
	struct infra_err err = INFRA_ERR_INIT;
	int fd = -1, rc;

	path(target, sizeof(target), "precious");
	put(target, "precious content\n");

	path(p, sizeof(p), "lock-link");
	tap_ok(symlink(target, p) == 0, "symlink planted at the lock path");
	rc = infra_lock_take(p, 0, &fd, &err);
	tap_ok(rc == -ELOOP && strstr(err.msg, "symbolic link") && strstr(err.msg, p), "a symlink is refused: %s",
	       err.msg);
	infra_lock_release(fd);
	tap_streq(slurp(target), "precious content\n", "the symlink's target is unchanged");

	path(p, sizeof(p), "lock-hard");
	tap_ok(link(target, p) == 0, "hard link planted at the lock path");
	rc = infra_lock_take(p, 0, &fd, &err);
	tap_ok(rc == -EPERM && strstr(err.msg, "hard links"), "a hard link is refused: %s", err.msg);
	infra_lock_release(fd);
	tap_streq(slurp(target), "precious content\n", "the hard link's other name is unchanged");

	path(p, sizeof(p), "lock-fifo");
	tap_ok(mkfifo(p, 0666) == 0, "FIFO planted at the lock path");
	tap_ok(in_child(take_fifo_lock, p) == 0, "a FIFO is refused, without hanging");

	path(p, sizeof(p), "lock-dir");
	mkdir(p, 0755);
	err.msg[0] = '\0';
	rc = infra_lock_take(p, 0, &fd, &err);
	tap_ok(rc < 0 && strstr(err.msg, "a directory"), "a directory is refused: %s", err.msg);
	infra_lock_release(fd);

	if (geteuid() != 0) {
		tap_diag("not root: a lock file of another uid is checked by tests/tool/hostile-root.t");
		return;
	}
	path(p, sizeof(p), "lock-foreign");
	put(p, "");
	tap_ok(chown(p, NOBODY, NOBODY) == 0, "lock file given to nobody");
	rc = infra_lock_take(p, 0, &fd, &err);
	tap_ok(rc == -EPERM && strstr(err.msg, "owned by uid 65534"), "someone else's lock file is refused: %s",
	       err.msg);
	infra_lock_release(fd);
}

/* the default lock directory ($RUNTIME_DIRECTORY here) is checked like a state dir */
static void test_lock_dir(void)
{
	char p[1024], used[1100];
	struct infra_err err = INFRA_ERR_INIT;
	int fd = -1, rc;

	path(p, sizeof(p), "rundir");
	setenv("RUNTIME_DIRECTORY", p, 1);
	rc = infra_lock_default("x.lock", 0, &fd, used, sizeof(used), &err);
	tap_ok(rc == 0 && strstr(used, "rundir/x.lock"), "the lock directory is created and used (%s)", err.msg);
	infra_lock_release(fd);
	{
		struct stat sb;
		tap_ok(stat(p, &sb) == 0 && (sb.st_mode & 0777) == 0700, "created 0700");
	}
	chmod(p, 0777);
	rc = infra_lock_default("x.lock", 0, &fd, used, sizeof(used), &err);
	tap_ok(rc == -EPERM && strstr(err.msg, "writable by group or others") && strstr(err.msg, p),
	       "a world-writable lock directory is refused: %s", err.msg);
	infra_lock_release(fd);
	unsetenv("RUNTIME_DIRECTORY");
}

static void test_statedir(void)
{
	char p[1024], q[1100];
	struct infra_err err = INFRA_ERR_INIT;
	struct stat sb;
	int fd = -1, sub = -1, rc;

	path(p, sizeof(p), "a/b/state");
	rc = infra_statedir_open(p, 0700, "state directory", &fd, &err);
	tap_ok(rc == 0 && fd >= 0, "missing state directory created (%s)", err.msg);
	tap_ok(stat(p, &sb) == 0 && (sb.st_mode & 0777) == 0700, "created 0700");
	if (fd >= 0) {
		snprintf(q, sizeof(q), "%s/rally", p);
		mkdir(q, 0755);
		rc = infra_statedir_sub(fd, "rally", q, 0700, 1, &sub, &err);
		tap_ok(rc == 0 && stat(q, &sb) == 0 && (sb.st_mode & 0777) == 0700, "an old 0755 rally/ is narrowed to 0700");
		if (sub >= 0)
			close(sub);
		snprintf(q, sizeof(q), "%s/runs", p);
		tap_ok(symlink("/etc", q) == 0, "runs/ replaced by a symlink");
		rc = infra_statedir_sub(fd, "runs", q, 0755, 0, &sub, &err);
		tap_ok(rc == -ELOOP && strstr(err.msg, "symbolic link"), "a symlinked entry is refused: %s", err.msg);
		close(fd);
	}

	path(p, sizeof(p), "state-link");
	path(q, sizeof(q), "a");
	tap_ok(symlink(q, p) == 0, "state directory is a symlink");
	rc = infra_statedir_open(p, 0700, "state directory", &fd, &err);
	tap_ok(rc == -ELOOP && strstr(err.msg, p), "a symlinked state directory is refused: %s", err.msg);

	path(p, sizeof(p), "state-file");
	put(p, "x");
	rc = infra_statedir_open(p, 0700, "state directory", &fd, &err);
	tap_ok(rc == -ENOTDIR, "a file where the state directory should be is refused: %s", err.msg);

	path(p, sizeof(p), "state-open");
	mkdir(p, 0777);
	chmod(p, 0777);
	rc = infra_statedir_open(p, 0700, "state directory", &fd, &err);
	tap_ok(rc == -EPERM && strstr(err.msg, "writable by group or others"), "a world-writable one is refused: %s",
	       err.msg);

	path(p, sizeof(p), "state-open/inner");
	rc = infra_statedir_open(p, 0700, "state directory", &fd, &err);
	tap_ok(rc == -EPERM && strstr(err.msg, "its parent"), "... and so is one below it (not sticky): %s", err.msg);
	path(p, sizeof(p), "state-open");
	chmod(p, 01777);
	path(p, sizeof(p), "state-open/inner");
	rc = infra_statedir_open(p, 0700, "state directory", &fd, &err);
	tap_ok(rc == 0, "below a sticky world-writable directory (like /tmp), our own one is fine (%s)", err.msg);
	if (fd >= 0)
		close(fd);

	if (geteuid() != 0) {
		tap_diag("not root: a state directory of another uid is checked by tests/tool/hostile-root.t");
		return;
	}
	path(p, sizeof(p), "state-foreign");
	mkdir(p, 0700);
	tap_ok(chown(p, NOBODY, NOBODY) == 0, "state directory given to nobody");
	rc = infra_statedir_open(p, 0700, "state directory", &fd, &err);
	tap_ok(rc == -EPERM && strstr(err.msg, "owned by uid 65534") && strstr(err.msg, p),
	       "someone else's state directory is refused: %s", err.msg);
}

/* -o on something that is not a regular file: written through, never replaced */
static int fifo_reader(void *ud)
{
	char buf[64];
	int fd = open(ud, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	return n == 6 && !memcmp(buf, "hello\n", 6) ? 0 : 1;
}

static int write_fifo_noreader(void *ud)
{
	struct infra_err err = INFRA_ERR_INIT;
	int rc = infra_atomic_write(ud, "x\n", 2, &err);

	return rc < 0 && strstr(err.msg, "no reader") ? 0 : 1;
}

static void test_output_nonregular(void)
{
	char p[1024], q[1100], target[1024];
	struct infra_err err = INFRA_ERR_INIT;
	struct stat sb;
	int rc, st;
	pid_t pid;

	if (geteuid() == 0) {
		path(p, sizeof(p), "null");
		tap_ok(mknod(p, S_IFCHR | 0666, makedev(1, 3)) == 0, "a null character device");
	} else {
		snprintf(p, sizeof(p), "/dev/null");
	}
	rc = infra_atomic_write(p, "data\n", 5, &err);
	tap_ok(rc == 0, "-o to a character device writes through it (%s)", err.msg);
	tap_ok(lstat(p, &sb) == 0 && S_ISCHR(sb.st_mode), "... and it is still a character device");

	path(p, sizeof(p), "fifo-out");
	mkfifo(p, 0600);
	pid = fork();
	if (pid == 0) {
		alarm(5);
		_exit(fifo_reader(p));
	}
	for (int i = 0; i < 100; i++) { /* until the reader has the FIFO open */
		rc = infra_atomic_write(p, "hello\n", 6, &err);
		if (rc != -ENXIO)
			break;
		usleep(20000);
	}
	waitpid(pid, &st, 0);
	tap_ok(rc == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "-o to a FIFO with a reader writes through (%s)",
	       err.msg);
	tap_ok(lstat(p, &sb) == 0 && S_ISFIFO(sb.st_mode), "... and it is still a FIFO");
	tap_ok(in_child(write_fifo_noreader, p) == 0, "-o to a FIFO with no reader: a clear error, no hang");

	path(p, sizeof(p), "outdir");
	mkdir(p, 0755);
	rc = infra_atomic_write(p, "x", 1, &err);
	tap_ok(rc == -EISDIR && strstr(err.msg, p), "-o to a directory is refused: %s", err.msg);

	path(target, sizeof(target), "precious2");
	put(target, "precious\n");
	path(q, sizeof(q), "out-link.prom");
	tap_ok(symlink(target, q) == 0, "-o is a symlink to a file");
	rc = infra_atomic_write(q, "new\n", 4, &err);
	tap_ok(rc == 0 && lstat(q, &sb) == 0 && S_ISREG(sb.st_mode), "the link itself is replaced");
	tap_streq(slurp(target), "precious\n", "its target is never written");
}

/* the previous output, read back when a run fails (last success time) */
static int read_prev(void *ud)
{
	double ts = 0;

	return infra_report_read_last_success(ud, "osmon", &ts) == -ENOENT ? 0 : 1;
}

static void test_previous_output(void)
{
	char p[1024], q[1024];
	double ts = 0;

	path(q, sizeof(q), "prev.prom");
	put(q, "# HELP osmon_last_success_timestamp_seconds x\n# TYPE osmon_last_success_timestamp_seconds gauge\n"
	       "osmon_last_success_timestamp_seconds 1700000000\n");
	tap_ok(infra_report_read_last_success(q, "osmon", &ts) == 0 && ts == 1700000000, "a regular previous file is read");

	path(p, sizeof(p), "prev-fifo.prom");
	mkfifo(p, 0666);
	tap_ok(in_child(read_prev, p) == 0, "a FIFO at the -o path is not read (no hang)");

	path(p, sizeof(p), "prev-link.prom");
	tap_ok(symlink(q, p) == 0, "previous output is a symlink");
	tap_ok(in_child(read_prev, p) == 0, "a symlink at the -o path is not followed");
}

static void test_json_read(void)
{
	char p[1024], q[1024];
	struct infra_err err = INFRA_ERR_INIT;
	json_object *o = NULL;

	path(q, sizeof(q), "real.json");
	put(q, "{\"a\":1}\n");
	path(p, sizeof(p), "link.json");
	tap_ok(symlink(q, p) == 0, "a state JSON file that is a symlink");
	tap_ok(infra_json_file_read(p, &o, &err) == -ELOOP, "is not followed: %s", err.msg);
	json_object_put(o);
}

int main(void)
{
	struct infra_err err = INFRA_ERR_INIT;

	snprintf(dir, sizeof(dir), "%s/test_lock.XXXXXX", getenv("INFRA_TMP") ? getenv("INFRA_TMP") : "/tmp");
	if (!mkdtemp(dir))
		return 1;
	signal(SIGPIPE, SIG_IGN);
	test_lock_basic();
	test_lock_holder_text();
	test_lock_hostile();
	test_lock_dir();
	test_statedir();
	test_output_nonregular();
	test_previous_output();
	test_json_read();
	infra_rm_rf(dir, &err);
	return tap_done();
}
