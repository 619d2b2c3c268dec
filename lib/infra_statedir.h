/* infra_statedir.h - directories a tool keeps its own files in (state, locks,
 * caches), opened so that nobody else can redirect what the tool writes there.
 *
 * infra_statedir_open() walks the path one component at a time with
 * openat(O_DIRECTORY|O_NOFOLLOW), creating what is missing (parents 0755, the
 * directory itself with `mode`), and accepts it only when:
 *   - the directory itself is a real directory, not a symlink, owned by the
 *     caller (euid) and not writable by group or others;
 *   - every parent is owned by root or the caller and, when writable by group
 *     or others, sticky (/tmp: then the next component must be ours or root's);
 *     a symlinked parent is followed only when root or the caller owns the link.
 * Refusals name the path and the problem: "state directory /x: owned by uid
 * 65534, not by uid 0 (refusing to use it)".
 *
 * infra_statedir_sub() does the same for one entry below an open directory fd
 * (e.g. "rally", "runs"): created with mode, never a symlink, ours, and not
 * writable by group or others.  When tighten is set, an older looser mode
 * (0755) is narrowed to `mode` (directories that hold credentials).
 *
 * Ownership: the caller closes the returned directory fds.
 */
#ifndef INFRA_STATEDIR_H
#define INFRA_STATEDIR_H

#include <dirent.h>
#include <sys/types.h>

#include "infra_err.h"

/* what names the directory in messages ("state directory", "lock directory").
 * Returns 0 and *dirfd (O_RDONLY|O_DIRECTORY|O_CLOEXEC), or -errno. */
int infra_statedir_open(const char *path, mode_t mode, const char *what, int *dirfd,
			struct infra_err *err);

/* shown = the full path for messages.  Returns 0 and *subfd, or -errno. */
int infra_statedir_sub(int dirfd, const char *name, const char *shown, mode_t mode, int tighten,
		       int *subfd, struct infra_err *err);

/* Check an open directory: a directory, owned by the caller, not writable by
 * group or others.  -EPERM (-ENOTDIR) with err naming shown and the problem. */
int infra_statedir_check_fd(int fd, const char *shown, const char *what, struct infra_err *err);

/* opendir(3) that never follows a symlink in the last component (walks of
 * run directories, retention).  NULL with errno set (ELOOP for a symlink). */
DIR *infra_opendir_nofollow(const char *path);

#endif
