/* infra_nasmon_state.h - what nasmon-check keeps in its --state-dir besides the
 * fill history (infra_nasmon_history): the restart counts of the democratic-csi
 * pods at the last run, STATE/restarts.json
 *   {"t": unix seconds, "pods": {"ns/pod": {"container": restartCount}}}
 * so that HLTH-PODS reports a container whose restartCount grew since then.
 *
 * The state directory is opened through infra_statedir (0700, ours, no
 * symlinks); the file is read without following a symlink, bounded, and written
 * atomically.  Ownership: *pods is a new reference for the caller.  Never prints.
 */
#ifndef INFRA_NASMON_STATE_H
#define INFRA_NASMON_STATE_H

#include <json-c/json.h>

#include "infra_err.h"
#include "infra_nasmon.h"

/* 0 and *pods, *t of the last run; 0 and *pods = NULL when there is none yet;
 * a corrupt file is -EILSEQ (the caller reports it and starts anew). */
int infra_nasmon_restarts_load(const char *state_dir, json_object **pods, double *t, struct infra_err *err);
/* Keep res->restarts (nothing when HLTH-PODS did not run). */
int infra_nasmon_restarts_save(const char *state_dir, const struct infra_nasmon_result *res, double now,
			       struct infra_err *err);

#endif
