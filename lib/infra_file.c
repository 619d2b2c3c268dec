#include "infra_file.h"

#include <errno.h>
#include <fcntl.h>
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
