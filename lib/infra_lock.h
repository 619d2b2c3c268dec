/* infra_lock.h - the one lock helper every tool uses (cron overlap, purges).
 *
 * A lock is an flock(2) on a regular file.  The file is opened
 * O_RDWR|O_CREAT|O_NOFOLLOW|O_CLOEXEC|O_NONBLOCK|O_NOCTTY and used only when
 * it is a regular file owned by the caller with one link: a symlink, FIFO,
 * device, directory, someone else's file or a hard link to another file is
 * refused with a message naming the path, never opened for writing through.
 * Nothing is truncated before the lock is held; the holder's pid is written
 * then, and read back (at most 31 bytes, digits only) from the fd we hold
 * open when another process has the lock.
 *
 * Where locks live (infra_lock_default):
 *   $RUNTIME_DIRECTORY (systemd RuntimeDirectory=) when set;
 *   else /run/infrakit when root (created 0755, must be root's and not
 *   writable by group or others);
 *   else $XDG_RUNTIME_DIR/infrakit when XDG_RUNTIME_DIR is ours with mode 0700;
 *   else the state directory ($XDG_STATE_HOME/infrakit or ~/.local/state/infrakit).
 * Never a world-writable directory such as /tmp.  Each directory is opened
 * through infra_statedir_open (same ownership and symlink rules).
 *
 * Ownership: the caller releases the fd with infra_lock_release.
 */
#ifndef INFRA_LOCK_H
#define INFRA_LOCK_H

#include <stddef.h>

#include "infra_err.h"

/* Take an exclusive lock on name below dirfd (AT_FDCWD: a path), waiting up to
 * wait seconds (0 = try once).  shown names the lock in messages.  When
 * another process holds it: -EBUSY (wait 0) or -ETIMEDOUT (after waiting),
 * err "another run holds the lock P (pid N)". */
int infra_lock_take_at(int dirfd, const char *name, const char *shown, double wait, int *fd,
		       struct infra_err *err);
/* The same for a path (an explicit --lock-file): the same checks. */
int infra_lock_take(const char *path, double wait, int *fd, struct infra_err *err);

/* The default lock directory above: its path into buf, and an open fd to it. */
int infra_lock_dir(char *buf, size_t size, int *dirfd, struct infra_err *err);

/* Take the lock named name in the default directory; used receives its path. */
int infra_lock_default(const char *name, double wait, int *fd, char *used, size_t used_size,
		       struct infra_err *err);

/* Open (create 0700) the state directory dir through infra_statedir_open and
 * take the lock name inside it (osmon-run's lock, katapulse's state lock). */
int infra_lock_statedir(const char *dir, const char *name, double wait, int *fd,
			struct infra_err *err);

/* Empty the pid and drop the lock (fd < 0: nothing). */
void infra_lock_release(int fd);

#endif
