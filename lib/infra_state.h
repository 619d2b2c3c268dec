/* infra_state.h - a small persisted counter state for one-shot tools, so that
 * counters written to Prometheus keep growing across runs.
 *
 * The file is one JSON object {"version":1,"counters":{"name":value,...}},
 * written with infra_atomic_write (never half-written).  infra_state_open()
 * takes an exclusive flock on "<path>.lock" (waits up to the given seconds) so
 * two runs at once do not lose increments; infra_state_close() releases it.
 * A missing file is an empty state; a corrupt one is reported (-EINVAL) and the
 * state starts empty (counters reset, which Prometheus' rate() tolerates).
 *
 * The directory is opened through infra_statedir_open (created 0700; refused
 * when it is a symlink, someone else's, or writable by group/others), the lock
 * taken through infra_lock inside it, the file read without following a
 * symlink (infra_file_read_at).
 *
 * Default location: $STATE_DIRECTORY (systemd), else /var/lib/infrakit when
 * root, else $XDG_STATE_HOME/infrakit or ~/.local/state/infrakit, else (no
 * HOME) /tmp/infrakit-<uid>, which is used only when it is ours.
 * Ownership: the state owns its JSON; names are copied.
 */
#ifndef INFRA_STATE_H
#define INFRA_STATE_H

#include "infra_err.h"

struct infra_state;

/* Open (lock, read) the state at path; creates the directory when missing.
 * On -EINVAL (corrupt file) *out is still a usable empty state. */
int infra_state_open(const char *path, double lock_wait_seconds, struct infra_state **out,
		     struct infra_err *err);
double infra_state_get(const struct infra_state *s, const char *name);
void infra_state_set(struct infra_state *s, const char *name, double value);
/* Add and return the new value. */
double infra_state_add(struct infra_state *s, const char *name, double delta);
/* Write atomically (keeps the lock). */
int infra_state_save(struct infra_state *s, struct infra_err *err);
/* Unlock and free (does not save). */
void infra_state_close(struct infra_state *s);

/* Default path for tool (malloc'd): <dir>/<tool>.state as documented above. */
char *infra_state_default_path(const char *tool);

#endif
