#include "infra_file.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int infra_file_read_at(int dirfd, const char *path, unsigned flags, size_t max,
		       struct infra_buf *out, struct infra_err *err)
{
	struct stat st;
	char chunk[65536];
	ssize_t n;
	int fd, rc = 0;

	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK |
		    ((flags & INFRA_FILE_NOFOLLOW) ? O_NOFOLLOW : 0));
	if (fd < 0) {
		rc = -errno;
		return infra_err_set(err, rc, "cannot read '%s': %s", path, strerror(-rc));
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
	} else if (S_ISDIR(st.st_mode)) {
		rc = -EISDIR;
	} else if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
	} else if ((size_t)st.st_size > max) {
		rc = -E2BIG;
	}
	infra_buf_init(out, max + 1);
	while (!rc && (n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		if (out->len + (size_t)n > max)
			rc = -E2BIG;
		else
			rc = infra_buf_append(out, chunk, (size_t)n);
	}
	close(fd);
	if (rc) {
		infra_buf_release(out);
		if (rc == -E2BIG)
			return infra_err_set(err, rc, "cannot read '%s': larger than %zu bytes", path, max);
		if (rc == -EINVAL)
			return infra_err_set(err, rc, "cannot read '%s': not a regular file", path);
		return infra_err_set(err, rc, "cannot read '%s': %s", path, strerror(-rc));
	}
	if (!out->data) /* empty file: still a valid, NUL-terminated buffer */
		rc = infra_buf_append(out, "", 0);
	return rc;
}

char *infra_path_join(const char *root, const char *path)
{
	size_t rl, pl;
	char *s;

	if (!root || !*root || strcmp(root, "/") == 0)
		return strdup(path);
	rl = strlen(root);
	while (rl > 1 && root[rl - 1] == '/')
		rl--;
	pl = strlen(path);
	s = malloc(rl + pl + 2);
	if (!s)
		return NULL;
	memcpy(s, root, rl);
	if (path[0] != '/')
		s[rl++] = '/';
	memcpy(s + rl, path, pl + 1);
	return s;
}

/* An existing -o target that is not a regular file (a character device such as
 * /dev/null, a FIFO) is written through, never replaced.  Returns 1 with *fd
 * open for writing, 0 when the target is absent or regular (replace it), or
 * -errno with err set (directory, block device, socket, FIFO with no reader). */
static int open_through(const char *path, int *fd, struct infra_err *err)
{
	struct stat st, lst;
	int f, fl;

	*fd = -1;
	if (lstat(path, &lst) != 0 || S_ISREG(lst.st_mode))
		return 0;
	st = lst;
	if (S_ISLNK(lst.st_mode)) {
		if (stat(path, &st) != 0 || S_ISREG(st.st_mode))
			return 0; /* the link itself is replaced, its target never written */
		if (lst.st_uid != 0 && lst.st_uid != geteuid())
			return infra_err_set(err, -EPERM,
					     "cannot write '%s': a symbolic link of uid %u to a non-regular file (refusing to write through it)",
					     path, (unsigned)lst.st_uid);
	}
	if (S_ISDIR(st.st_mode))
		return infra_err_set(err, -EISDIR, "cannot write '%s': %s", path, strerror(EISDIR));
	if (!S_ISCHR(st.st_mode) && !S_ISFIFO(st.st_mode))
		return infra_err_set(err, -EINVAL,
				     "cannot write '%s': a %s (only regular files, character devices and FIFOs)",
				     path, S_ISBLK(st.st_mode) ? "block device" : "socket");
	f = open(path, O_WRONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (f < 0) {
		int e = errno;
		if (e == ENXIO && S_ISFIFO(st.st_mode))
			return infra_err_set(err, -e, "cannot write '%s': a FIFO with no reader", path);
		return infra_err_set(err, -e, "cannot write '%s': %s", path, strerror(e));
	}
	if (fstat(f, &st) != 0 || !(S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode))) {
		close(f);
		return infra_err_set(err, -EAGAIN, "cannot write '%s': it changed while being opened", path);
	}
	fl = fcntl(f, F_GETFL);
	if (fl >= 0)
		fcntl(f, F_SETFL, fl & ~O_NONBLOCK);
	*fd = f;
	return 1;
}

int infra_atomic_begin(struct infra_atomic_file *af, const char *path, struct infra_err *err)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	int dl = slash ? (int)(slash - path) : 1, e;
	sigset_t block;

	_Static_assert(sizeof(af->oldmask) >= sizeof(sigset_t), "sigset_t storage");
	af->fd = -1;
	af->tmp[0] = '\0';
	if (!*base)
		return infra_err_set(err, -EINVAL, "cannot write '%s': not a file name", path);
	if (snprintf(af->path, sizeof(af->path), "%s", path) >= (int)sizeof(af->path))
		return infra_err_set(err, -ENAMETOOLONG, "cannot write '%s': name too long", path);
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGQUIT);
	sigprocmask(SIG_BLOCK, &block, (sigset_t *)af->oldmask);
	e = open_through(path, &af->fd, err);
	if (e) {
		if (e < 0)
			sigprocmask(SIG_SETMASK, (sigset_t *)af->oldmask, NULL);
		return e < 0 ? e : 0; /* tmp[0] == '\0': written through */
	}
	if (snprintf(af->tmp, sizeof(af->tmp), "%.*s/.%s.tmp.XXXXXX", slash == path ? 0 : dl,
		     slash ? path : ".", base) >= (int)sizeof(af->tmp)) {
		sigprocmask(SIG_SETMASK, (sigset_t *)af->oldmask, NULL);
		return infra_err_set(err, -ENAMETOOLONG, "cannot write '%s': name too long", path);
	}
	af->fd = mkostemp(af->tmp, O_CLOEXEC);
	if (af->fd < 0) {
		e = errno;
		sigprocmask(SIG_SETMASK, (sigset_t *)af->oldmask, NULL);
		return infra_err_set(err, -e, "cannot write '%s': %s", path, strerror(e));
	}
	return 0;
}

int infra_atomic_append(struct infra_atomic_file *af, const void *data, size_t len, struct infra_err *err)
{
	const char *p = data;

	while (len > 0) {
		ssize_t w = write(af->fd, p, len);
		if (w < 0) {
			int e = errno;
			if (e == EINTR)
				continue;
			return infra_err_set(err, -e, "cannot write '%s': %s", af->path, strerror(e));
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int infra_atomic_commit(struct infra_atomic_file *af, struct infra_err *err)
{
	int rc = 0, through = !af->tmp[0];

	if (!through && (fchmod(af->fd, 0644) < 0 || fsync(af->fd) < 0))
		rc = -errno;
	if (close(af->fd) < 0 && !rc)
		rc = -errno;
	af->fd = -1;
	if (!rc && !through && rename(af->tmp, af->path) < 0)
		rc = -errno;
	if (rc) {
		if (!through)
			unlink(af->tmp);
		infra_err_set(err, rc, "cannot write '%s': %s", af->path, strerror(-rc));
	}
	sigprocmask(SIG_SETMASK, (sigset_t *)af->oldmask, NULL);
	return rc;
}

void infra_atomic_abort(struct infra_atomic_file *af)
{
	if (af->fd < 0)
		return;
	close(af->fd);
	af->fd = -1;
	if (af->tmp[0])
		unlink(af->tmp);
	sigprocmask(SIG_SETMASK, (sigset_t *)af->oldmask, NULL);
}
