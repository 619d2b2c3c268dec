/* infra_nasmon.h - the checks engine of nasmon-check (issue 10): Kubernetes <->
 * democratic-csi <-> TrueNAS SCALE, correlated.
 *
 * Pure over the fetched objects: the caller (bin/nasmon-check.c, the unit tests)
 * hands in one JSON object per source, in the shapes of the world file of
 * tests/sim/nas_scenario.py:
 *   kube    {"persistentvolumes":[...], "persistentvolumeclaims":[...], ...}
 *           (a key absent = that API resource is not installed, e.g. no snapshot CRDs)
 *   truenas {"version":"TrueNAS-25.10.1", "pools":[...], "datasets":[...],
 *            "snapshots":[...], "nfs_shares":[...], "iscsi_targets":[...],
 *            "iscsi_extents":[...], "iscsi_targetextents":[...], "services":[...]}
 * plus the status of each source and of each list that failed (403, 5xx).  A
 * check that needs a source (or a list) that failed is UNKNOWN and says which;
 * the others still run.
 *
 * Checks (notes/truenas.md section 5): ORPH-PV ORPH-DS ORPH-PROV ORPH-REL ORPH-PVC
 * ORPH-VA ORPH-SHARE SHARE-MISSING SNAP-ORPH SNAP-MISSING SNAP-DANGLING SNAP-COUNT
 * SNAP-AGE SNAP-SPACE SNAP-FOREIGN SNAP-CLONE CAP-OVERCOMMIT CAP-SPARSE CAP-POOL
 * CAP-VOL CAP-SIZE CFG-DRIVER CFG-SC CFG-TN HLTH-PODS.  Each has a default
 * severity, warn/crit thresholds (their unit is the check's, see
 * infra_nasmon_checks[].threshold_doc) and a grace period (objects younger than
 * it are not judged), all settable with infra_nasmon_config_set() ("ID.key=value",
 * keys enabled, severity, warn, crit, grace) or a YAML file.
 *
 * Findings: {"check","severity","object":{"kind","name","namespace"},
 * "truenas":{"id"},"message","evidence":{...}}.  Severities: info (never changes
 * the exit code), warning, critical.
 *
 * History: with a state directory, one entry per run of pool and volume fill
 * (bounded: history_max entries, the history_volumes fullest volumes), and
 * days-until-full per pool and volume by least squares over the entries, with
 * the points used.
 *
 * Ownership: the config owns its lists; the result owns its JSON; the input is
 * borrowed for the duration of infra_nasmon_run().  Never prints, never exits.
 */
#ifndef INFRA_NASMON_H
#define INFRA_NASMON_H

#include <json-c/json.h>
#include <stddef.h>

#include "infra_err.h"
#include "infra_prom.h"

enum infra_nasmon_check {
	NASMON_ORPH_PV, NASMON_ORPH_DS, NASMON_ORPH_PROV, NASMON_ORPH_REL, NASMON_ORPH_PVC,
	NASMON_ORPH_VA, NASMON_ORPH_SHARE, NASMON_SHARE_MISSING, NASMON_SNAP_ORPH,
	NASMON_SNAP_MISSING, NASMON_SNAP_DANGLING, NASMON_SNAP_COUNT, NASMON_SNAP_AGE,
	NASMON_SNAP_SPACE, NASMON_SNAP_FOREIGN, NASMON_SNAP_CLONE, NASMON_CAP_OVERCOMMIT,
	NASMON_CAP_SPARSE, NASMON_CAP_POOL, NASMON_CAP_VOL, NASMON_CAP_SIZE, NASMON_CFG_DRIVER,
	NASMON_CFG_SC, NASMON_CFG_TN, NASMON_HLTH_PODS,
	NASMON_NCHECKS
};

enum infra_nasmon_sev { NASMON_SEV_NONE = 0, NASMON_SEV_INFO, NASMON_SEV_WARNING, NASMON_SEV_CRITICAL };

struct infra_nasmon_check_def {
	const char *id;
	int severity;              /* default severity of its findings */
	double warn, crit;         /* default thresholds (NAN = not used) */
	double grace;              /* default grace period, seconds */
	const char *threshold_doc; /* what warn/crit mean */
	const char *doc;           /* one line: what it compares */
};
extern const struct infra_nasmon_check_def infra_nasmon_checks[NASMON_NCHECKS];

struct infra_nasmon_check_cfg {
	int enabled;
	int severity;   /* -1: the default; else replaces warning/critical findings' severity */
	double warn, crit, grace;
};

struct infra_nasmon_config {
	struct infra_nasmon_check_cfg checks[NASMON_NCHECKS];
	json_object *drivers;          /* CSI driver names (array of strings); NULL = inferred */
	json_object *dataset_parents;  /* P; NULL = inferred from the datasets */
	json_object *snapshot_parents; /* S; NULL = inferred */
	json_object *instance_ids;     /* this cluster's provisioner instance ids; NULL = from its PVs */
	size_t history_max;            /* entries kept (default 96) */
	size_t history_volumes;        /* volumes kept per entry (default 200, the fullest) */
};

void infra_nasmon_config_init(struct infra_nasmon_config *cfg);
void infra_nasmon_config_release(struct infra_nasmon_config *cfg);
/* Check id ("ORPH-PV", case-insensitive) -> index, or -1. */
int infra_nasmon_check_index(const char *id);
/* "ID,ID,...": only = 1 runs only these (--check), 0 skips them (--skip). */
int infra_nasmon_config_select(struct infra_nasmon_config *cfg, const char *list, int only,
			       struct infra_err *err);
/* "ID.key=value" (keys: enabled, severity, warn, crit, grace) or one of
 * "drivers=a,b", "dataset-parents=..", "snapshot-parents=..", "instance-ids=..",
 * "history-max=N", "history-volumes=N".  Durations accept 90s/15m/2h/7d. */
int infra_nasmon_config_set(struct infra_nasmon_config *cfg, const char *assignment,
			    struct infra_err *err);
/* YAML config:
 *   drivers: [org.democratic-csi.nfs, ...]     dataset_parents: [...]
 *   snapshot_parents: [...]  instance_ids: [...]  history_max: 96  history_volumes: 200
 *   checks: { SNAP-COUNT: { warn: 50, crit: 200, severity: warning, grace: 1h, enabled: true } }
 * Unknown keys and check ids are errors (-EINVAL naming the path and key). */
int infra_nasmon_config_load(struct infra_nasmon_config *cfg, const char *path,
			     struct infra_err *err);

struct infra_nasmon_input {
	json_object *kube;          /* NULL when the Kubernetes source is down */
	json_object *truenas;       /* NULL when the TrueNAS source is down */
	const char *kube_error;     /* why it is down (NULL: not configured / up) */
	const char *truenas_error;
	json_object *kube_failed;   /* {"volumeattachments":"403 ...", ...} lists that failed, or NULL */
	json_object *truenas_failed;/* {"snapshots":"...", ...} queries that failed, or NULL */
	const char *transport;      /* "jsonrpc" | "rest" | NULL */
	double now;                 /* unix seconds */
	json_object *restarts_prev; /* HLTH-PODS: {"ns/pod":{"container":restartCount}} of the last run
				     * (infra_nasmon_restarts_load), or NULL: no restart delta */
	double restarts_prev_time;  /* unix seconds of that run */
};

struct infra_nasmon_check_result {
	int selected;
	int status;                 /* INFRA_EXIT_OK..UNKNOWN */
	int counts[4];              /* per enum infra_nasmon_sev (NONE unused) */
	char unknown[256];          /* why UNKNOWN */
};

struct infra_nasmon_result {
	struct infra_nasmon_check_result checks[NASMON_NCHECKS];
	json_object *findings;      /* array */
	json_object *pools;         /* {"tank":{"usable_bytes","used_bytes","provisioned_bytes",...}} */
	json_object *volumes;       /* {"pvc-...":{"used_bytes","provisioned_bytes","pool"}} (CSI volumes) */
	json_object *trends;        /* {"pools":{...},"volumes":{...}} after infra_nasmon_history() */
	json_object *context;       /* drivers, parents, instance ids used (given or inferred) */
	int status;                 /* worst check status */
	size_t nfindings[4];
	json_object *restarts;      /* HLTH-PODS ran: {"ns/pod":{"container":restartCount}} of the
				     * democratic-csi pods, for infra_nasmon_restarts_save; else NULL */
};

/* Run the selected checks; metrics go to prom (may be NULL).  Returns 0, or a
 * negative code for an internal failure (out of memory). */
int infra_nasmon_run(const struct infra_nasmon_config *cfg, const struct infra_nasmon_input *in,
		     struct infra_nasmon_result *res, struct infra_prom *prom, struct infra_err *err);
void infra_nasmon_result_release(struct infra_nasmon_result *res);

/* Append this run's fill to STATE/history.json (state dir through
 * infra_statedir, 0700) and compute the trends into res->trends and prom
 * (nasmon_pool_days_until_full{pool}, nasmon_volume_days_until_full{persistentvolume},
 * nasmon_trend_points{pool}).  Needs res->pools from a run with TrueNAS up. */
int infra_nasmon_history(const struct infra_nasmon_config *cfg, const char *state_dir, double now,
			 struct infra_nasmon_result *res, struct infra_prom *prom,
			 struct infra_err *err);

/* Least squares over points [[t, used, size], ...]: days until used reaches
 * size at the fitted rate; -1 when not growing or fewer than 2 points. */
double infra_nasmon_days_until_full(json_object *points, double now);

/* Fetching (the only part that talks to the sources; the checks stay pure).
 * Kubernetes: every list the checks use (pods/DaemonSets/Deployments by the label
 * app.kubernetes.io/name=democratic-csi) into *kube {"persistentvolumes":[...],...};
 * a 404 leaves the key out (not installed); a 401/403 or another failure of one
 * list goes to *failed {"resource":"message"}.  Returns 0, or the error of the
 * first list when it failed for a reason other than 403/404 (the source is down).
 * TrueNAS: the queries plus service.query into *tn {"version",...}; failed
 * queries into *failed; negative when the connection failed. */
struct infra_kube;
struct infra_truenas;
struct infra_kube_opts;
/* k: an open handle (the first list's failure means the source is down); with o,
 * up to jobs-1 more handles are opened from o and the lists run in parallel. */
int infra_nasmon_fetch_kube(struct infra_kube *k, const struct infra_kube_opts *o, int jobs, json_object **kube,
			    json_object **failed, int *requests, struct infra_err *err);
int infra_nasmon_fetch_truenas(struct infra_truenas *t, json_object **tn, json_object **failed,
			       struct infra_err *err);

/* The loader's compact form of one item of a Kubernetes list ("persistentvolumes", ...): for
 * the five big lists (PVs, PVCs, VolumeAttachments, VolumeSnapshots, VolumeSnapshotContents) a
 * new flat object with only the fields the checks read, keyed by their paths; for the others
 * (and a non-object) the item itself.  A new reference; NULL when out of memory.  The checks
 * give the same result over whole and compacted items. */
json_object *infra_nasmon_compact(const char *list, json_object *item);
/* The same for one item of a TrueNAS list (after infra_truenas_flatten_sources): "snapshots"
 * (an object) -> a compact snapshot (a json string, its id, carrying the values the checks
 * read; printed, the flat object it stands for); anything else -> the item itself.  A new
 * reference; NULL when out of memory. */
json_object *infra_nasmon_compact_tn(const char *list, json_object *item);

/* Writers. */
json_object *infra_nasmon_to_json(const struct infra_nasmon_result *res);
#include "infra_buf.h"
int infra_nasmon_to_text(const struct infra_nasmon_result *res, struct infra_buf *out);

const char *infra_nasmon_sev_name(int sev);

/* The check table for --list-checks. */
int infra_nasmon_list_checks(struct infra_buf *out);
/* Report helpers of the tool: one error line per failed list; the Nagios status,
 * summary, perfdata and long output (warn/crit: -w/-c ranges on the number of
 * warning and critical findings, or NULL). */
struct infra_report;
/* nasmon_up{source="kubernetes"|"truenas"} and, when TrueNAS was read (its source object
 * {version, transport} given), nasmon_truenas_info{version,transport} 1. */
void infra_nasmon_source_metrics(struct infra_prom *prom, int kube_up, json_object *truenas_source);
void infra_nasmon_report_failed(struct infra_report *r, const char *source, json_object *failed);
void infra_nasmon_nagios(struct infra_report *r, const struct infra_nasmon_result *res, const char *warn,
			 const char *crit); /* "info", "warning", "critical" */

#endif
