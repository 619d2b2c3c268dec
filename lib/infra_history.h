/* infra_history.h - a tool's state directory: location, lock, dated run
 * directories, JSON files written atomically, bounded history lists.
 *
 * Run ids are UTC timestamps "YYYYMMDDTHHMMSSZ" (sortable, no ':' so they are
 * safe file names); a second run in the same second gets "-2", "-3"...
 * History files are {"version":1,"entries":[...]} with the oldest entry first;
 * appending drops the oldest beyond max entries.  A corrupt history file is
 * kept aside as FILE.corrupt and a new one is started (reported through err
 * with code -EILSEQ so the caller can warn; the append itself succeeded).
 *
 * Ownership: paths are the caller's; JSON read is a new reference for the caller.
 */
#ifndef INFRA_HISTORY_H
#define INFRA_HISTORY_H

#include <json-c/json.h>
#include <stddef.h>
#include <sys/types.h>

#include "infra_err.h"

/* Default state directory of an app: /var/lib/infrakit/APP when root, else
 * $XDG_STATE_HOME/infrakit/APP or ~/.local/state/infrakit/APP. */
int infra_state_dir_default(const char *app, char *buf, size_t size, struct infra_err *err);

/* mkdir -p with mode for the directories it creates. */
int infra_mkdir_p(const char *path, mode_t mode, struct infra_err *err);

/* Run id from unix seconds, and back (-EINVAL if not a run id). */
void infra_run_id(double t, char *buf, size_t size);
int infra_run_id_parse(const char *id, double *t);

/* Create STATE/runs/<id> for time t; dir and id receive the path and the id.
 * STATE and runs/ are opened through infra_statedir (ours, no symlinks). */
int infra_run_dir_create(const char *state, double t, char *dir, size_t dsize, char *id,
			 size_t isize, struct infra_err *err);

/* Read a JSON file (bounded to 256 MiB, regular files only, a symlink in the
 * last component refused: infra_file_read_at); -ENOENT when absent. */
int infra_json_file_read(const char *path, json_object **out, struct infra_err *err);
/* Write a JSON value atomically (canonical, pretty, trailing newline). */
int infra_json_file_write(const char *path, json_object *o, struct infra_err *err);

/* Append entry (a reference is taken) to the history file at path, keeping at
 * most max entries.  *entries, if given, receives a new reference to the list. */
int infra_history_append(const char *path, json_object *entry, size_t max,
			 json_object **entries, struct infra_err *err);
/* Read the entries of a history file ([] when absent). */
int infra_history_read(const char *path, json_object **entries, struct infra_err *err);

/* Remove a directory tree (no symlinks followed). */
int infra_rm_rf(const char *path, struct infra_err *err);

/* ---- retention ---- */

struct infra_retention_result {
	int archived_runs;     /* run directories packed and removed */
	int kept_runs;         /* run directories left in runs/ */
	int narchives;
	char archives[24][40]; /* "archive/2026-11.tar.gz" names touched */
};

/* Pack every STATE/runs/<id> older than cutoff (unix seconds, by the time in its
 * id; never `current`) into STATE/archive/<YYYY-MM>.tar.gz of its month
 * (infra_archive_append_dirs: old entries kept, read back and verified), then
 * remove the packed directories.  A month that fails keeps its directories. */
int infra_retention_apply(const char *state, const char *current, double cutoff,
			  struct infra_retention_result *rr, struct infra_err *err);
/* {"days","archived_runs","kept_runs","archives":[...]} */
json_object *infra_retention_json(const struct infra_retention_result *rr, int days);

#endif
