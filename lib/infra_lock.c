#include "infra_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "infra_statedir.h"

static const char *kind(mode_t m)
{
	if (S_ISLNK(m))
		return "a symbolic link";
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISCHR(m) || S_ISBLK(m))
		return "a device";
	if (S_ISSOCK(m))
		return "a socket";
	return "not a regular file";
}

/* The holder's pid, from the lock file we hold open: bounded, digits only. */
static void holder_pid(int fd, char *buf, size_t size)
{
	ssize_t n = pread(fd, buf, size - 1, 0);
	size_t i = 0;

	while (n > 0 && i < (size_t)n && buf[i] >= '0' && buf[i] <= '9')
		i++;
	buf[i] = '\0';
}

int infra_lock_take_at(int dirfd, const char *name, const char *shown, double wait, int *fd,
		       struct infra_err *err)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	struct stat st;
	char pid[32];
	double waited = 0;
	int f, n;

	*fd = -1;
	/* refuse a FIFO or device before open(2) can touch it; fstat below decides */
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(st.st_mode))
		return infra_err_set(err, S_ISLNK(st.st_mode) ? -ELOOP : -EINVAL,
				     "lock file %s is %s (refusing to use it)", shown, kind(st.st_mode));
	f = openat(dirfd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0644);
	if (f < 0) {
		int e = errno;
		if (e == ELOOP)
			return infra_err_set(err, -e, "lock file %s is a symbolic link (refusing to use it)", shown);
		return infra_err_set(err, -e, "cannot open lock file %s: %s", shown, strerror(e));
	}
	if (fstat(f, &st) != 0) {
		int e = errno;
		close(f);
		return infra_err_set(err, -e, "cannot open lock file %s: %s", shown, strerror(e));
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || st.st_nlink != 1) {
		close(f);
		if (!S_ISREG(st.st_mode))
			return infra_err_set(err, -EINVAL, "lock file %s is %s (refusing to use it)", shown,
					     kind(st.st_mode));
		if (st.st_uid != geteuid())
			return infra_err_set(err, -EPERM, "lock file %s is owned by uid %u, not by uid %u (refusing to use it)",
					     shown, (unsigned)st.st_uid, (unsigned)geteuid());
		return infra_err_set(err, -EPERM, "lock file %s has %lu hard links (refusing to use it)", shown,
				     (unsigned long)st.st_nlink);
	}
	while (flock(f, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		if (e == EINTR)
			continue;
		if (e != EWOULDBLOCK) {
			close(f);
			return infra_err_set(err, -e, "cannot lock %s: %s", shown, strerror(e));
		}
		if (waited >= wait) {
			holder_pid(f, pid, sizeof(pid));
			close(f);
			return infra_err_set(err, wait > 0 ? -ETIMEDOUT : -EBUSY,
					     "another run holds the lock %s (pid %s)", shown, pid[0] ? pid : "unknown");
		}
		nanosleep(&ts, NULL);
		waited += 0.05;
	}
	/* ours now: only then is the old pid replaced */
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(f, 0) != 0 || pwrite(f, pid, (size_t)n, 0) != n) {
		/* the pid is only informative */
	}
	*fd = f;
	return 0;
}

int infra_lock_take(const char *path, double wait, int *fd, struct infra_err *err)
{
	return infra_lock_take_at(AT_FDCWD, path, path, wait, fd, err);
}

/* XDG_RUNTIME_DIR counts only when it is ours and private (pam_systemd's 0700). */
static int runtime_dir_ok(const char *dir)
{
	struct stat st;

	return dir && dir[0] == '/' && lstat(dir, &st) == 0 && S_ISDIR(st.st_mode) &&
	       st.st_uid == geteuid() && (st.st_mode & 07777) == 0700;
}

int infra_lock_dir(char *buf, size_t size, int *dirfd, struct infra_err *err)
{
	const char *rd = getenv("RUNTIME_DIRECTORY"), *xdg = getenv("XDG_RUNTIME_DIR");
	const char *st = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	mode_t mode = 0700;
	int n;

	*dirfd = -1;
	if (rd && rd[0] == '/' && !strchr(rd, ':')) {
		n = snprintf(buf, size, "%s", rd);
	} else if (geteuid() == 0) {
		n = snprintf(buf, size, "/run/infrakit");
		mode = 0755;
	} else if (runtime_dir_ok(xdg)) {
		n = snprintf(buf, size, "%s/infrakit", xdg);
	} else if (st && st[0] == '/') {
		n = snprintf(buf, size, "%s/infrakit", st);
	} else if (home && home[0] == '/') {
		n = snprintf(buf, size, "%s/.local/state/infrakit", home);
	} else {
		return infra_err_set(err, -ENOENT,
				     "no lock directory: XDG_RUNTIME_DIR and HOME are not usable (use --lock-file)");
	}
	if (n < 0 || (size_t)n >= size)
		return infra_err_set(err, -ENAMETOOLONG, "lock directory name too long");
	return infra_statedir_open(buf, mode, "lock directory", dirfd, err);
}

int infra_lock_default(const char *name, double wait, int *fd, char *used, size_t used_size,
		       struct infra_err *err)
{
	char dir[4096];
	int dfd, rc, n;

	*fd = -1;
	rc = infra_lock_dir(dir, sizeof(dir), &dfd, err);
	if (rc)
		return rc;
	n = snprintf(used, used_size, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= used_size)
		rc = infra_err_set(err, -ENAMETOOLONG, "lock file name too long");
	else
		rc = infra_lock_take_at(dfd, name, used, wait, fd, err);
	close(dfd);
	return rc;
}

int infra_lock_statedir(const char *dir, const char *name, double wait, int *fd,
			struct infra_err *err)
{
	char shown[4096];
	int dfd, rc, n;

	*fd = -1;
	n = snprintf(shown, sizeof(shown), "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= sizeof(shown))
		return infra_err_set(err, -ENAMETOOLONG, "lock file name too long");
	rc = infra_statedir_open(dir, 0700, "state directory", &dfd, err);
	if (rc)
		return rc;
	rc = infra_lock_take_at(dfd, name, shown, wait, fd, err);
	close(dfd);
	return rc;
}

void infra_lock_release(int fd)
{
	if (fd >= 0) {
		if (ftruncate(fd, 0) != 0) {
			/* informative only */
		}
		close(fd); /* drops the flock */
	}
}
