/* infra_datadir.h - where the kit's shipped data files (task files, alert rules)
 * are, resolved at run time so that a binary finds its own files wherever it was
 * installed, whatever PREFIX it was compiled with.
 *
 * Order:
 *   1. $INFRAKIT_DATADIR when set and not empty;
 *   2. next to the executable: <dir of /proc/self/exe>/../share/infrakit (an
 *      installed tree, any PREFIX or DESTDIR-relocated copy);
 *   3. the build tree: <dir of the executable>/../../share when it holds the
 *      source tree's share/ (build/bin/TOOL run from a checkout);
 *   4. the directory compiled in (INFRA_DATADIR, from the Makefile's DATADIR).
 * A candidate counts only when it holds `probe` (a relative path such as
 * "osmon/tasks"); when none does, the compiled-in directory is returned.
 * *source names what chose the path, for error messages ("INFRAKIT_DATADIR",
 * "the executable's prefix", "the build tree", "the build-time DATADIR").
 */
#ifndef INFRA_DATADIR_H
#define INFRA_DATADIR_H

#include <stddef.h>

/* Fills buf (always NUL-terminated); returns 0, or -ENAMETOOLONG. */
int infra_datadir(const char *probe, char *buf, size_t size, const char **source);

#endif
