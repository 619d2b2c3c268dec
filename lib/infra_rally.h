/* infra_rally.h - drive the rally CLI and summarise its report JSON (format 1.2).
 *
 * Rally is always run as a program (infra_proc: no shell, own process group,
 * timeout kills the group) with an optional --config-file and HOME (so its
 * ~/.rally files stay in the caller's state directory).  Results are read only
 * through `rally task report --json --out FILE`, never from human text; the task
 * uuid comes from `rally task list --tag TAG --uuids-only`.
 *
 * Summary of one report (infra_rally_summarize), one object per scenario:
 *   {"name","subtask","workload_uuid","status":"pass"|"fail","iterations",
 *    "iterations_planned","failures","success_ratio","durations":{min,median,p95,max}|null,
 *    "atomic_actions":[{name,count,failures,min,median,p95,max}],
 *    "sla":{"pass":bool,"failed":[{criterion,detail}]},
 *    "setup_errors":[..],"cleanup_errors":[..],"errors":[first 3 distinct],"reasons":[..]}
 * A scenario fails when any iteration failed, its SLA failed, no iteration ran
 * (a killed task stays `running` with 0 iterations and pass_sla true), fewer
 * iterations ran than planned, or a context setup/cleanup reported an error
 * (pass_sla stays true while cleanup leaked resources).  success_ratio is
 * successful/planned-or-ran iterations, 0 when none ran.
 *
 * Ownership: returned json objects are new references owned by the caller;
 * struct infra_rally's strings are borrowed.
 */
#ifndef INFRA_RALLY_H
#define INFRA_RALLY_H

#include <json-c/json.h>

#include "infra_err.h"
#include "infra_proc.h"

/* Credentials for `rally deployment create --fromenv`, given to rally as OS_*
 * variables of its environment (never on its command line).  NULL fields are
 * left out; with no infra_rally.creds rally inherits the caller's OS_* variables. */
struct infra_rally_creds {
	const char *auth_url, *username, *password, *project_name;
	const char *user_domain_name, *project_domain_name, *region_name, *interface, *cacert;
	const char *cert, *key; /* TLS client certificate and key files: OS_CERT/OS_KEY, which
				 * rally-openstack's --fromenv keeps as https_cert/https_key */
	int insecure;
};

struct infra_rally {
	const char *program;     /* "rally" (PATH) or a path */
	const char *config_file; /* passed as --config-file, or NULL */
	const char *home;        /* HOME for rally, or NULL to inherit */
	const char *deployment;  /* deployment / env name */
	int log_fd;              /* rally's stderr (and chatty stdout) go here */
	double cmd_timeout;      /* seconds for short commands (db, env, list, report) */
	const struct infra_rally_creds *creds; /* or NULL: the OS_* environment */
};

/* `rally db ensure`, then make sure a deployment named ra->deployment exists for
 * ra->creds or the OS_* credentials in the environment (created with --fromenv; destroyed and
 * created again when its auth URL, user, project, password, CA, client certificate or
 * key differ).
 * Secrets never appear in err. */
int infra_rally_ensure_deployment(const struct infra_rally *ra, struct infra_err *err);

struct infra_rally_start {
	char uuid[64];                 /* task uuid, "" if rally made none */
	struct infra_proc_result proc; /* how `rally task start` ended */
};

/* `rally task start --task FILE --deployment D --task-args ARGS --tag TAG --no-use`,
 * killed (process group) after timeout seconds; then find the task uuid by tag.
 * Returns 0 when a task uuid was found (even if rally failed or was killed),
 * -ENOENT when rally cannot be run, another negative code when no task exists. */
int infra_rally_task_start(const struct infra_rally *ra, const char *task_file,
			   const char *task_args_json, const char *tag, double timeout,
			   struct infra_rally_start *st, struct infra_err *err);

/* `rally task report --uuid UUID --json --out out_path`; then read, parse and
 * check it (format 1.x, exactly one task).  On success *report is the parsed
 * document and out_path holds it; a bad file is renamed to out_path + ".invalid". */
int infra_rally_task_report(const struct infra_rally *ra, const char *uuid, const char *out_path,
			    json_object **report, struct infra_err *err);

/* Summarise a parsed report: *out = {"task_uuid","task_status","pass_sla","status",
 * "reasons":[..],"scenarios":[..]}.  -EINVAL with err naming the bad field. */
int infra_rally_summarize(json_object *report, json_object **out, struct infra_err *err);

/* Percentile (0..1) of sorted values by linear interpolation; NaN when n == 0. */
double infra_rally_percentile(const double *sorted, size_t n, double p);

/* A JSON number rounded to 6 decimals, serialised without float noise. */
json_object *infra_rally_num(double v);

#endif
