/* infra_osmon.h - osmon-run's work: run one Rally task per service, keep the
 * state directory, summarise, and describe the result as JSON, Prometheus and text.
 *
 * State directory layout (all files written atomically):
 *   lock                    flock held for the whole run (cron overlap guard)
 *   rally/                  rally.conf, rally.db and rally's HOME (mode 0700: the db holds credentials)
 *   runs/<run id>/          <service>.json (rally's report, format 1.2), run.log, summary.json
 *   latest_summary.json     the data object of the last run
 *   history.json            {"version":1,"entries":[one compact entry per run]} (last 2000 runs)
 *   archive/<YYYY-MM>.tar.gz  expired run directories (see infra_archive.h)
 *
 * Report data (r->data): {"run_id","state_dir","deployment","services":{name:{...}},
 * "totals":{services,passed,failed,errors,scenarios,scenarios_failed},"retention":{...}}.
 * Statuses: every service passed -> OK; some failed or errored -> WARNING;
 * nothing could run (lock held, no state dir, every service errored) -> UNKNOWN.
 *
 * Ownership: cfg strings are borrowed.  The library never prints: progress goes
 * through cfg->progress.
 */
#ifndef INFRA_OSMON_H
#define INFRA_OSMON_H

#include "infra_buf.h"
#include "infra_http.h"
#include "infra_report.h"

struct infra_os_flags;

/* service types (infra_ossvc.h); project names are accepted in cfg.services */
#define INFRA_OSMON_SERVICES "identity,compute,network,image,block-storage,object-store"
#define INFRA_OSMON_HISTORY_MAX 2000
#define INFRA_OSMON_HEALTH_MAX 672 /* 7 days at 15 minutes */

typedef void (*infra_osmon_progress_fn)(void *ud, const char *msg);

struct infra_osmon_cfg {
	const char *state_dir;     /* resolved state directory */
	const char *services;      /* comma-separated names: service types, project names (aliases), own task names */
	const char *task_dir;      /* the user's own <service>.yaml files, or NULL */
	const char *data_dir;      /* shipped task files (<datadir>/osmon/tasks) */
	const char *data_dir_source; /* what chose data_dir (infra_datadir), for errors */
	const char *rally;         /* rally program */
	const char *rally_config;  /* rally --config-file, or NULL for STATE/rally/rally.conf */
	const char *deployment;    /* rally deployment name */
	double task_timeout;       /* seconds per `rally task start` */
	double cmd_timeout;        /* seconds per short rally command */
	int retention_days;        /* 0 = keep every run directory */
	infra_osmon_progress_fn progress;
	void *progress_ud;
	/* orphan discovery after the run (osmon-orphans' library code) */
	int orphans;
	const struct infra_os_flags *os_flags;
	const struct infra_http_opts *http;
	int jobs;
};

/* Do a whole run and fill r (data, prom, errors, status). */
int infra_osmon_run(const struct infra_osmon_cfg *cfg, struct infra_report *r);

/* Prometheus families of a run's data object (services) into r->prom. */
int infra_osmon_prom(struct infra_report *r, struct infra_err *err);

/* Text rendering of r->data (the summary table). */
int infra_osmon_text(const struct infra_report *r, struct infra_buf *out);

/* The task file for a service: task_dir/<svc>.yaml (or .yml, .json) first, then
 * data_dir/<svc>.yaml, where <svc> is the service type, then its other names
 * (compute.yaml, then nova.yaml: task directories made for older versions).
 * -ENOENT if none exists. */
int infra_osmon_task_file(const struct infra_osmon_cfg *cfg, const char *service, char *buf,
			  size_t size, struct infra_err *err);

/* --health: one small read-only request per service in parallel (keystone: token
 * issue + GET /auth/projects; compute servers, network networks, image images,
 * block-storage volumes, object-store account: limit=1; placement: resource
 * providers by name, the version document for non-admins), status and latency per
 * service type.  Writes
 * STATE/health.json and appends to STATE/health_history.json (672 entries); its
 * own lock STATE/health.lock, so checks run while a test run is going.  A service
 * missing from the catalog is skipped unless named in --services.  Status:
 * CRITICAL when a service is down, UNKNOWN when the configuration or credentials
 * are rejected.  Prometheus: osmon_health_up{service},
 * osmon_health_latency_seconds{service}. */
struct infra_osmon_health_cfg {
	const char *state_dir;
	const char *services;
	int services_explicit;
	const struct infra_os_flags *os_flags;
	const struct infra_http_opts *http;
	int jobs;
	const char *warn, *crit; /* -w/-c ranges on the number of services down (NULL: any down is CRITICAL) */
};
int infra_osmon_health(const struct infra_osmon_health_cfg *cfg, struct infra_report *r);
/* 1 if --health can check the service NAME (a type or an alias); the list of the
 * types it checks, comma-separated, for messages. */
int infra_osmon_health_known(const char *name);
const char *infra_osmon_health_list(void);
/* Text rendering of a health report. */
int infra_osmon_health_text(const struct infra_report *r, struct infra_buf *out);

/* Orphan discovery (Rally's name grammar) into r: data.orphans =
 * {"total","by_type":{"service/type":n},"types_queried","types_selected"} or
 * {"error"}; the osmon-orphans Prometheus families; WARNING when orphans were
 * found or types could not be listed. */
int infra_osmon_orphans(const struct infra_os_flags *flags, const struct infra_http_opts *http, int jobs,
			struct infra_report *r);

/* The terminal view of a state directory (latest run, run history, health history). */
int infra_osmon_tui(const char *state_dir, struct infra_err *err);

/* One self-contained HTML file (dark, inline SVG charts) from a state directory,
 * written atomically; *bytes (if given) receives its size. */
int infra_osmon_html(const char *state_dir, const char *path, size_t *bytes, struct infra_err *err);

#endif
