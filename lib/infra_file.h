/* infra_file.h - reading small local files safely (state, metadata, /proc).
 *
 * infra_file_read_at() reads a whole file into a bounded buffer: relative to
 * dirfd (AT_FDCWD for ordinary paths), optionally refusing a symlink in the last
 * component (INFRA_FILE_NOFOLLOW), and only regular files or /proc entries.
 * A file larger than `max` bytes is an error (-E2BIG), never a silent truncation.
 * Ownership: the caller owns `out` (infra_buf_release).
 */
#ifndef INFRA_FILE_H
#define INFRA_FILE_H

#include <stddef.h>

#include "infra_buf.h"
#include "infra_err.h"

enum infra_file_flags {
	INFRA_FILE_NOFOLLOW = 1 << 0, /* the last path component must not be a symlink */
};

/* Returns 0, or -errno (-ENOENT, -EACCES, -ELOOP for a refused symlink, -E2BIG,
 * -EISDIR ...) with err set to "cannot read 'path': reason". */
int infra_file_read_at(int dirfd, const char *path, unsigned flags, size_t max,
		       struct infra_buf *out, struct infra_err *err);

/* Writing a file atomically while streaming (infra_atomic_write() is the same
 * for content in memory): a temp file ".<name>.tmp.XXXXXX" in the target's
 * directory (never ending in .prom), SIGINT/SIGTERM/SIGHUP/SIGQUIT held back
 * while it exists; commit = fchmod 0644, fsync, rename; abort (or any failed
 * step) unlinks it and leaves the old file untouched.
 * A target that exists and is not a regular file is never replaced: a
 * character device (/dev/null) or a FIFO with a reader is written through
 * (tmp[0] == '\0'); a directory, block device, socket, FIFO with no reader,
 * or a symlink of another user to a non-regular file is refused with err
 * naming the path.  A symlink to a regular file is replaced (its target is
 * never written). */
struct infra_atomic_file {
	int fd;
	char path[4096];
	char tmp[4096];
	unsigned long oldmask[16]; /* sigset_t storage */
};

int infra_atomic_begin(struct infra_atomic_file *af, const char *path, struct infra_err *err);
int infra_atomic_append(struct infra_atomic_file *af, const void *data, size_t len, struct infra_err *err);
int infra_atomic_commit(struct infra_atomic_file *af, struct infra_err *err);
void infra_atomic_abort(struct infra_atomic_file *af);

/* Join a root (NULL, "" or "/" = none) and an absolute path: "/sys" + "/run/x".
 * Returns a malloc'd string or NULL (ENOMEM). */
char *infra_path_join(const char *root, const char *path);

#endif
