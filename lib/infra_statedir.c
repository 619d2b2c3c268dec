#include "infra_statedir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_CLOEXEC)

int infra_statedir_check_fd(int fd, const char *shown, const char *what, struct infra_err *err)
{
	struct stat st;
	unsigned me = (unsigned)geteuid();

	if (fstat(fd, &st) != 0)
		return infra_err_set(err, -errno, "%s %s: %s", what, shown, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return infra_err_set(err, -ENOTDIR, "%s %s: not a directory", what, shown);
	if ((unsigned)st.st_uid != me)
		return infra_err_set(err, -EPERM, "%s %s: owned by uid %u, not by uid %u (refusing to use it)",
				     what, shown, (unsigned)st.st_uid, me);
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return infra_err_set(err, -EPERM, "%s %s: writable by group or others (mode %04o; refusing to use it)",
				     what, shown, (unsigned)(st.st_mode & 07777));
	return 0;
}

/* A directory on the way to the one we want: root's or ours, and writable by
 * others only when sticky (then only its owner and root can swap our entry). */
static int check_parent(int fd, const char *parent, int plen, const char *path, const char *what,
			struct infra_err *err)
{
	struct stat st;
	unsigned me = (unsigned)geteuid();

	if (fstat(fd, &st) != 0)
		return infra_err_set(err, -errno, "%s %s: %s", what, path, strerror(errno));
	if ((unsigned)st.st_uid != 0 && (unsigned)st.st_uid != me)
		return infra_err_set(err, -EPERM, "%s %s: its parent %.*s is owned by uid %u (refusing to use it)",
				     what, path, plen, parent, (unsigned)st.st_uid);
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))
		return infra_err_set(err, -EPERM,
				     "%s %s: its parent %.*s is writable by group or others (mode %04o; refusing to use it)",
				     what, path, plen, parent, (unsigned)(st.st_mode & 07777));
	return 0;
}

/* One component below at, created with mode when missing.  The last one is
 * never followed when it is a symlink; a parent only when root or we own it. */
static int open_comp(int at, const char *name, mode_t mode, int last, const char *shown,
		     const char *what, struct infra_err *err)
{
	struct stat st;
	int fd = openat(at, name, DIR_FLAGS | O_NOFOLLOW);

	if (fd < 0 && errno == ENOENT) {
		if (mkdirat(at, name, mode) != 0 && errno != EEXIST)
			return infra_err_set(err, -errno, "cannot create %s %s: %s", what, shown, strerror(errno));
		fd = openat(at, name, DIR_FLAGS | O_NOFOLLOW);
	}
	if (fd < 0 && (errno == ELOOP || errno == ENOTDIR) &&
	    fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
		if (last)
			return infra_err_set(err, -ELOOP, "%s %s: a symbolic link (refusing to follow it)", what, shown);
		if ((unsigned)st.st_uid != 0 && st.st_uid != geteuid())
			return infra_err_set(err, -ELOOP, "%s %s: a symbolic link owned by uid %u on the way (refusing to follow it)",
					     what, shown, (unsigned)st.st_uid);
		fd = openat(at, name, DIR_FLAGS);
	}
	if (fd < 0) {
		int e = errno;
		if (e == ENOTDIR)
			return infra_err_set(err, -e, "%s %s: not a directory", what, shown);
		return infra_err_set(err, -e, "cannot open %s %s: %s", what, shown, strerror(e));
	}
	return fd;
}

int infra_statedir_open(const char *path, mode_t mode, const char *what, int *dirfd,
			struct infra_err *err)
{
	char buf[PATH_MAX];
	size_t n = path ? strlen(path) : 0;
	char *p, *slash;
	int cur, fd, rc;

	*dirfd = -1;
	if (n == 0 || n >= sizeof(buf))
		return infra_err_set(err, -ENAMETOOLONG, "bad %s name '%s'", what, path ? path : "");
	memcpy(buf, path, n + 1);
	while (n > 1 && buf[n - 1] == '/')
		buf[--n] = '\0';
	cur = open(buf[0] == '/' ? "/" : ".", DIR_FLAGS);
	if (cur < 0)
		return infra_err_set(err, -errno, "cannot open %s %s: %s", what, path, strerror(errno));
	for (p = buf; *p == '/'; p++)
		;
	while (*p) {
		int plen = (int)(p - buf);
		while (plen > 1 && buf[plen - 1] == '/')
			plen--;
		if ((rc = check_parent(cur, plen ? path : ".", plen ? plen : 1, path, what, err))) {
			close(cur);
			return rc;
		}
		slash = strchr(p, '/');
		if (slash)
			*slash = '\0';
		fd = open_comp(cur, p, slash ? 0755 : mode, !slash, buf, what, err);
		close(cur);
		if (fd < 0)
			return fd;
		cur = fd;
		if (!slash)
			break;
		*slash = '/';
		for (p = slash + 1; *p == '/'; p++)
			;
	}
	rc = infra_statedir_check_fd(cur, path, what, err);
	if (rc) {
		close(cur);
		return rc;
	}
	*dirfd = cur;
	return 0;
}

int infra_statedir_sub(int dirfd, const char *name, const char *shown, mode_t mode, int tighten,
		       int *subfd, struct infra_err *err)
{
	struct stat st;
	int fd = open_comp(dirfd, name, mode, 1, shown, "state directory", err), rc;

	*subfd = -1;
	if (fd < 0)
		return fd;
	if (tighten && fstat(fd, &st) == 0 && st.st_uid == geteuid() && (st.st_mode & 07777) != mode &&
	    fchmod(fd, mode) != 0) {
		rc = infra_err_set(err, -errno, "cannot chmod %s: %s", shown, strerror(errno));
		close(fd);
		return rc;
	}
	rc = infra_statedir_check_fd(fd, shown, "state directory", err);
	if (rc) {
		close(fd);
		return rc;
	}
	*subfd = fd;
	return 0;
}

DIR *infra_opendir_nofollow(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), e;
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

	if (!d && fd >= 0) {
		e = errno;
		close(fd);
		errno = e;
	}
	return d;
}
