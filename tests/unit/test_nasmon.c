/* test_nasmon.c - the nasmon-check engine over worlds written by the one scenario
 * generator (tests/sim/nas_scenario.py): for every check id, each planted firing
 * case gives a finding of its severity and no near miss gives one; source down,
 * failed lists, selection, thresholds, config files, history and trends. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "infra_exit.h"
#include "infra_history.h"
#include "infra_json.h"
#include "infra_nasmon.h"
#include "infra_nasmon_state.h"
#include "tap.h"

static char tmpdir[256];

static json_object *gen_world(const char *extra)
{
	const char *src = getenv("INFRA_SRCDIR");
	char cmd[2048], path[512];
	json_object *w = NULL;
	struct infra_err err = INFRA_ERR_INIT;
	static int n;

	snprintf(path, sizeof(path), "%s/world-%d.json", tmpdir, n++);
	snprintf(cmd, sizeof(cmd), "python3 %s/tests/sim/nas_scenario.py --seed 7 --now 1764806400 %s -o %s",
		 src ? src : ".", extra, path);
	if (system(cmd) != 0) {
		tap_diag("generator failed: %s", cmd);
		return NULL;
	}
	if (infra_json_file_read(path, &w, &err))
		tap_diag("%s", err.msg);
	return w;
}

static void config_from(struct infra_nasmon_config *cfg, json_object *w)
{
	json_object *c;

	infra_nasmon_config_init(cfg);
	if (infra_json_get(w, "scenario.config", &c, NULL))
		return;
	cfg->drivers = json_object_get(json_object_object_get(c, "drivers"));
	cfg->dataset_parents = json_object_get(json_object_object_get(c, "dataset_parents"));
	cfg->snapshot_parents = json_object_get(json_object_object_get(c, "snapshot_parents"));
	cfg->instance_ids = json_object_get(json_object_object_get(c, "instance_ids"));
}

static int run(json_object *w, const struct infra_nasmon_config *cfg, struct infra_nasmon_result *res,
	       int kube_up, int tn_up, json_object *kfailed, struct infra_prom *prom)
{
	struct infra_nasmon_input in = { 0 };
	struct infra_err err = INFRA_ERR_INIT;
	int rc;

	in.kube = kube_up ? json_object_object_get(w, "kube") : NULL;
	in.truenas = tn_up ? json_object_object_get(w, "truenas") : NULL;
	in.kube_error = kube_up ? NULL : "connection refused (https://127.0.0.1:1)";
	in.truenas_error = tn_up ? NULL : "API key rejected";
	in.kube_failed = kfailed;
	in.transport = "jsonrpc";
	in.now = (double)infra_json_opt_int64(w, "scenario.now", 0);
	rc = infra_nasmon_run(cfg, &in, res, prom, &err);
	if (rc)
		tap_diag("run: %s", err.msg);
	return rc;
}

static int sev_rank(const char *s)
{
	return !s ? 0 : !strcmp(s, "info") ? 1 : !strcmp(s, "warning") ? 2 : !strcmp(s, "critical") ? 3 : 0;
}

/* the worst severity among findings of check on the object name (0 = none) */
static int worst(const struct infra_nasmon_result *res, const char *check, const char *name, const char **kind)
{
	int w = 0;

	for (size_t i = 0; i < json_object_array_length(res->findings); i++) {
		json_object *f = json_object_array_get_idx(res->findings, i);
		const char *c = infra_json_opt_string(f, "check", ""), *n = infra_json_opt_string(f, "object.name", "");

		if (strcmp(c, check) || strcmp(n, name))
			continue;
		if (sev_rank(infra_json_opt_string(f, "severity", NULL)) > w) {
			w = sev_rank(infra_json_opt_string(f, "severity", NULL));
			if (kind)
				*kind = infra_json_opt_string(f, "object.kind", "");
		}
	}
	return w;
}

static void test_plants(void)
{
	json_object *w = gen_world(""), *plants;
	struct infra_nasmon_config cfg;
	struct infra_nasmon_result res;
	int covered[NASMON_NCHECKS] = { 0 }, near_covered[NASMON_NCHECKS] = { 0 };
	struct infra_prom *prom = infra_prom_new(0);
	struct infra_buf b;
	struct infra_err err = INFRA_ERR_INIT;

	if (!tap_ok(w != NULL, "generator wrote a world"))
		return;
	config_from(&cfg, w);
	tap_inteq(run(w, &cfg, &res, 1, 1, NULL, prom), 0, "engine runs over the planted world");
	infra_json_get(w, "scenario.plants", &plants, NULL);
	json_object_object_foreach(plants, check, p) {
		int k = infra_nasmon_check_index(check);
		json_object *fire = json_object_object_get(p, "fire"), *near = json_object_object_get(p, "near");

		for (size_t i = 0; i < json_object_array_length(fire); i++) {
			json_object *e = json_object_array_get_idx(fire, i);
			const char *name = infra_json_opt_string(e, "name", ""), *kind = NULL;
			const char *want = infra_json_opt_string(e, "severity", "");
			int got = worst(&res, check, name, &kind);

			if (!tap_ok(got == sev_rank(want), "%s fires %s on %s %s", check, want,
				    infra_json_opt_string(e, "kind", ""), name))
				tap_diag("got severity rank %d", got);
			else
				tap_streq(kind, infra_json_opt_string(e, "kind", ""), "%s finding names the %s", check,
					  infra_json_opt_string(e, "kind", ""));
			if (k >= 0)
				covered[k]++;
		}
		for (size_t i = 0; i < json_object_array_length(near); i++) {
			json_object *e = json_object_array_get_idx(near, i);
			const char *name = infra_json_opt_string(e, "name", "");
			int allow = sev_rank(infra_json_opt_string(e, "allow", NULL));
			int got = worst(&res, check, name, NULL);

			if (!tap_ok(got <= allow, "%s near miss %s %s: no finding%s", check,
				    infra_json_opt_string(e, "kind", ""), name, allow ? " above info" : ""))
				tap_diag("got severity rank %d", got);
			if (k >= 0)
				near_covered[k]++;
		}
	}
	for (int k = 0; k < NASMON_NCHECKS; k++)
		tap_ok(covered[k] > 0 && near_covered[k] > 0, "%s has a firing case and a near miss in the world",
		       infra_nasmon_checks[k].id);
	tap_inteq(res.status, INFRA_EXIT_CRITICAL, "the planted world is CRITICAL");
	infra_buf_init(&b, 0);
	tap_inteq(infra_prom_write(prom, &b, &err), 0, "the metrics render as Prometheus text");
	tap_ok(b.data && strstr(b.data, "nasmon_check_status{check=\"ORPH-PV\"} 2"), "nasmon_check_status of ORPH-PV is 2");
	tap_ok(b.data && strstr(b.data, "nasmon_check_findings{check=\"SNAP-FOREIGN\",severity=\"info\"}"),
	       "nasmon_check_findings per check and severity");
	tap_ok(b.data && strstr(b.data, "nasmon_pool_overcommit_ratio{pool=\"fast\"} 2.5"), "overcommit ratio of pool fast is 2.5");
	infra_buf_release(&b);
	infra_buf_init(&b, 0);
	tap_inteq(infra_nasmon_to_text(&res, &b), 0, "text renders");
	tap_ok(b.data && strstr(b.data, "25 checks:"), "text ends with the per-check summary");
	infra_buf_release(&b);
	{
		json_object *j = infra_nasmon_to_json(&res);
		json_object *f0 = json_object_array_get_idx(json_object_object_get(j, "findings"), 0);

		tap_streq(infra_json_opt_string(f0, "severity", NULL), "critical", "findings sorted worst first");
		tap_ok(json_object_object_get(f0, "object") && json_object_object_get(f0, "truenas") &&
		       json_object_object_get(f0, "evidence") && json_object_object_get(f0, "message"),
		       "a finding has object, truenas, message, evidence");
		json_object_put(j);
	}
	infra_prom_free(prom);
	infra_nasmon_result_release(&res);
	infra_nasmon_config_release(&cfg);
	json_object_put(w);
}

static int check_status(const struct infra_nasmon_result *res, const char *id)
{
	return res->checks[infra_nasmon_check_index(id)].status;
}

static void test_sources(void)
{
	json_object *w = gen_world(""), *failed;
	struct infra_nasmon_config cfg;
	struct infra_nasmon_result res;

	if (!w)
		return;
	config_from(&cfg, w);
	run(w, &cfg, &res, 1, 0, NULL, NULL);
	tap_inteq(check_status(&res, "ORPH-PV"), INFRA_EXIT_UNKNOWN, "TrueNAS down: ORPH-PV is UNKNOWN");
	tap_ok(strstr(res.checks[NASMON_ORPH_PV].unknown, "TrueNAS") &&
	       strstr(res.checks[NASMON_ORPH_PV].unknown, "API key rejected"), "and says the TrueNAS API is down and why");
	tap_inteq(check_status(&res, "ORPH-PVC"), INFRA_EXIT_CRITICAL, "TrueNAS down: ORPH-PVC (Kubernetes only) still runs");
	tap_inteq(check_status(&res, "HLTH-PODS"), INFRA_EXIT_WARNING, "TrueNAS down: HLTH-PODS still runs");
	tap_inteq(res.status, INFRA_EXIT_UNKNOWN, "TrueNAS down: the run is UNKNOWN");
	infra_nasmon_result_release(&res);

	run(w, &cfg, &res, 0, 1, NULL, NULL);
	tap_inteq(check_status(&res, "ORPH-REL"), INFRA_EXIT_UNKNOWN, "Kubernetes down: ORPH-REL is UNKNOWN");
	tap_inteq(check_status(&res, "CAP-POOL"), INFRA_EXIT_CRITICAL, "Kubernetes down: CAP-POOL still runs");
	tap_inteq(check_status(&res, "ORPH-PROV"), INFRA_EXIT_WARNING, "Kubernetes down: ORPH-PROV still runs");
	tap_inteq(check_status(&res, "SHARE-MISSING"), INFRA_EXIT_CRITICAL, "Kubernetes down: SHARE-MISSING still runs on share ids");
	infra_nasmon_result_release(&res);

	failed = json_object_new_object();
	json_object_object_add(failed, "volumeattachments",
			       json_object_new_string("403 Forbidden: cannot list volumeattachments.storage.k8s.io"));
	run(w, &cfg, &res, 1, 1, failed, NULL);
	tap_inteq(check_status(&res, "ORPH-VA"), INFRA_EXIT_UNKNOWN, "VolumeAttachments forbidden: ORPH-VA UNKNOWN");
	tap_ok(strstr(res.checks[NASMON_ORPH_VA].unknown, "volumeattachments") != NULL, "naming the list");
	tap_inteq(check_status(&res, "ORPH-PV"), INFRA_EXIT_CRITICAL, "the other checks still run");
	infra_nasmon_result_release(&res);
	json_object_put(failed);
	infra_nasmon_config_release(&cfg);
	json_object_put(w);

	/* snapshot CRDs not installed: snapshots checks run, CSI snapshots are orphans */
	w = gen_world("--without volumesnapshots,volumesnapshotcontents,volumesnapshotclasses");
	if (!w)
		return;
	config_from(&cfg, w);
	run(w, &cfg, &res, 1, 1, NULL, NULL);
	tap_inteq(check_status(&res, "SNAP-MISSING"), INFRA_EXIT_OK, "no snapshot CRDs: SNAP-MISSING OK, not UNKNOWN");
	tap_inteq(check_status(&res, "SNAP-ORPH"), INFRA_EXIT_WARNING, "no snapshot CRDs: CSI snapshots have no VSC");
	infra_nasmon_result_release(&res);
	infra_nasmon_config_release(&cfg);
	json_object_put(w);
}

static void test_config(void)
{
	json_object *w = gen_world("--plants SNAP-COUNT,ORPH-PV");
	struct infra_nasmon_config cfg;
	struct infra_nasmon_result res;
	struct infra_err err = INFRA_ERR_INIT;
	char path[512];
	FILE *f;

	if (!w)
		return;
	config_from(&cfg, w);
	tap_inteq(infra_nasmon_config_select(&cfg, "snap-count,ORPH-PV", 1, &err), 0, "--check takes ids, any case");
	run(w, &cfg, &res, 1, 1, NULL, NULL);
	tap_ok(res.checks[NASMON_SNAP_COUNT].selected && !res.checks[NASMON_CAP_POOL].selected, "--check runs only those");
	tap_inteq(check_status(&res, "SNAP-COUNT"), INFRA_EXIT_CRITICAL, "SNAP-COUNT critical above 200");
	infra_nasmon_result_release(&res);
	tap_inteq(infra_nasmon_config_set(&cfg, "SNAP-COUNT.crit=300", &err), 0, "--set ID.crit=N");
	run(w, &cfg, &res, 1, 1, NULL, NULL);
	tap_inteq(check_status(&res, "SNAP-COUNT"), INFRA_EXIT_WARNING, "crit 300: 210 snapshots only warn");
	infra_nasmon_result_release(&res);
	tap_inteq(infra_nasmon_config_set(&cfg, "SNAP-COUNT.severity=info", &err), 0, "--set ID.severity=info");
	run(w, &cfg, &res, 1, 1, NULL, NULL);
	tap_inteq(check_status(&res, "SNAP-COUNT"), INFRA_EXIT_OK, "severity info never changes the status");
	tap_inteq(res.checks[NASMON_SNAP_COUNT].counts[NASMON_SEV_INFO], 1, "but the finding is kept as info");
	infra_nasmon_result_release(&res);
	tap_inteq(infra_nasmon_config_select(&cfg, "ORPH-PV", 0, &err), 0, "--skip");
	run(w, &cfg, &res, 1, 1, NULL, NULL);
	tap_ok(!res.checks[NASMON_ORPH_PV].selected, "--skip drops the check");
	infra_nasmon_result_release(&res);
	tap_ok(infra_nasmon_config_select(&cfg, "ORPH-XX", 1, &err) == -EINVAL && strstr(err.msg, "ORPH-XX"),
	       "unknown id refused, named");
	tap_ok(infra_nasmon_config_set(&cfg, "CAP-VOL.warn=lots", &err) == -EINVAL && strstr(err.msg, "lots"),
	       "bad threshold refused, named");
	tap_ok(infra_nasmon_config_set(&cfg, "CAP-VOL.colour=red", &err) == -EINVAL, "unknown setting refused");
	tap_inteq(infra_nasmon_config_set(&cfg, "ORPH-REL.warn=2d", &err), 0, "thresholds take durations");
	tap_ok(fabs(cfg.checks[NASMON_ORPH_REL].warn - 172800) < 1e-9, "2d = 172800 s");
	infra_nasmon_config_release(&cfg);

	snprintf(path, sizeof(path), "%s/nasmon.yaml", tmpdir);
	f = fopen(path, "w");
	fputs("drivers: [org.democratic-csi.nfs]\ndataset_parents:\n  - tank/k8s/nfs/vols/\nchecks:\n"
	      "  SNAP-COUNT: {warn: 10, crit: 20, grace: 2h}\n  CAP-POOL:\n    enabled: false\n", f);
	fclose(f);
	infra_nasmon_config_init(&cfg);
	tap_inteq(infra_nasmon_config_load(&cfg, path, &err), 0, "YAML config loads");
	tap_ok(cfg.checks[NASMON_SNAP_COUNT].warn == 10 && cfg.checks[NASMON_SNAP_COUNT].crit == 20 &&
	       cfg.checks[NASMON_SNAP_COUNT].grace == 7200 && !cfg.checks[NASMON_CAP_POOL].enabled,
	       "thresholds, grace and enabled from YAML");
	tap_ok(cfg.drivers && json_object_array_length(cfg.drivers) == 1, "drivers from YAML");
	run(w, &cfg, &res, 1, 1, NULL, NULL);
	tap_ok(json_object_array_length(json_object_object_get(res.context, "dataset_parents")) == 1 &&
	       !strcmp(json_object_get_string(json_object_array_get_idx(json_object_object_get(res.context, "dataset_parents"), 0)),
		       "tank/k8s/nfs/vols"), "a trailing / of a dataset parent is stripped");
	infra_nasmon_result_release(&res);
	infra_nasmon_config_release(&cfg);
	f = fopen(path, "w");
	fputs("checks:\n  SNAP-COUNT: {wran: 10}\n", f);
	fclose(f);
	infra_nasmon_config_init(&cfg);
	tap_ok(infra_nasmon_config_load(&cfg, path, &err) == -EINVAL && strstr(err.msg, "wran") && strstr(err.msg, path),
	       "YAML with a misspelt key is refused, naming file and key");
	infra_nasmon_config_release(&cfg);
	f = fopen(path, "w");
	fputs("checks: [oops\n", f);
	fclose(f);
	infra_nasmon_config_init(&cfg);
	tap_ok(infra_nasmon_config_load(&cfg, path, &err) < 0, "broken YAML is refused");
	infra_nasmon_config_release(&cfg);
	json_object_put(w);
}

static void test_inference(void)
{
	json_object *w = gen_world("--plants ORPH-PV,ORPH-DS,SNAP-ORPH,CFG-DRIVER");
	struct infra_nasmon_config cfg;
	struct infra_nasmon_result res;
	json_object *drivers;
	int smb = 0;

	if (!w)
		return;
	infra_nasmon_config_init(&cfg); /* nothing given: drivers, parents and instances inferred */
	run(w, &cfg, &res, 1, 1, NULL, NULL);
	drivers = json_object_object_get(res.context, "drivers");
	for (size_t i = 0; i < json_object_array_length(drivers); i++)
		smb |= !strcmp(json_object_get_string(json_object_array_get_idx(drivers, i)), "org.democratic-csi.smb");
	tap_ok(smb && json_object_array_length(drivers) == 4, "drivers inferred from StorageClasses (democratic-csi's only)");
	/* only the two tank parents hold volumes in this world (pool fast's come with the CAP plants) */
	tap_inteq(json_object_array_length(json_object_object_get(res.context, "dataset_parents")), 2,
		  "dataset parents inferred from managed datasets");
	tap_inteq(check_status(&res, "ORPH-PV"), INFRA_EXIT_CRITICAL, "ORPH-PV fires with inferred config");
	tap_inteq(check_status(&res, "SNAP-ORPH"), INFRA_EXIT_WARNING, "SNAP-ORPH (incl. detached) fires with inferred config");
	tap_inteq(check_status(&res, "ORPH-DS"), INFRA_EXIT_WARNING, "ORPH-DS with inferred instance ids");
	infra_nasmon_result_release(&res);
	infra_nasmon_config_release(&cfg);
	json_object_put(w);
}

static json_object *pt(double t, double u, double s)
{
	json_object *p = json_object_new_array();

	json_object_array_add(p, json_object_new_double(t));
	json_object_array_add(p, json_object_new_double(u));
	json_object_array_add(p, json_object_new_double(s));
	return p;
}

static void test_history(void)
{
	json_object *pts = json_object_new_array(), *w;
	struct infra_nasmon_config cfg;
	struct infra_nasmon_result res;
	struct infra_err err = INFRA_ERR_INIT;
	char state[512];
	double now = 1764806400, d;

	/* 10 GiB a day into 1000 GiB, 500 GiB used now: 50 days */
	for (int i = 0; i < 5; i++)
		json_object_array_add(pts, pt(now - (4 - i) * 86400.0, (460.0 + 10 * i) * 1073741824.0, 1000 * 1073741824.0));
	d = infra_nasmon_days_until_full(pts, now + 86400 * 3);
	tap_ok(fabs(d - 47) < 1e-6, "least squares: 10 GiB/day, 500 GiB of 1000 used at the last point, 3 days on: 47 days (got %g)", d);
	json_object_put(pts);
	pts = json_object_new_array();
	json_object_array_add(pts, pt(now, 5, 10));
	tap_ok(infra_nasmon_days_until_full(pts, now) < 0, "one point: no trend");
	json_object_array_add(pts, pt(now + 60, 4, 10));
	tap_ok(infra_nasmon_days_until_full(pts, now) < 0, "shrinking: no trend");
	json_object_put(pts);

	w = gen_world("--plants none --pvs 6");
	if (!w)
		return;
	config_from(&cfg, w);
	snprintf(state, sizeof(state), "%s/state", tmpdir);
	for (int i = 0; i < 3; i++) {
		json_object *root;

		/* the pool fills by 100 GiB a day */
		infra_json_get(w, "truenas.datasets[0]", &root, NULL);
		run(w, &cfg, &res, 1, 1, NULL, NULL);
		{
			json_object *tank = json_object_object_get(res.pools, "tank");
			double used = json_object_get_double(json_object_object_get(tank, "used_bytes"));

			json_object_object_add(tank, "used_bytes", json_object_new_double(used + i * 100 * 1073741824.0));
		}
		tap_inteq(infra_nasmon_history(&cfg, state, 1764806400 + i * 86400.0, &res, NULL, &err), 0,
			  "history entry %d written", i + 1);
		if (i == 2) {
			json_object *t = NULL;

			infra_json_get(res.trends, "pools.tank", &t, NULL);
			tap_inteq(json_object_array_length(json_object_object_get(t, "points")), 3, "the trend lists its 3 points");
			tap_ok(json_object_object_get(t, "days_until_full") &&
			       json_object_get_double(json_object_object_get(t, "days_until_full")) > 0,
			       "tank: days until full from the history");
			infra_json_get(res.trends, "pools.fast", &t, NULL);
			tap_ok(t && !json_object_object_get(t, "days_until_full"), "fast: not filling, no estimate");
		}
		infra_nasmon_result_release(&res);
	}
	{
		struct stat st;

		tap_ok(stat(state, &st) == 0 && (st.st_mode & 0777) == 0700, "state directory is 0700");
	}
	cfg.history_max = 2;
	run(w, &cfg, &res, 1, 1, NULL, NULL);
	infra_nasmon_history(&cfg, state, 1764806400 + 4 * 86400.0, &res, NULL, &err);
	tap_inteq(infra_json_opt_int64(res.trends, "entries", 0), 2, "history bounded by history_max");
	infra_nasmon_result_release(&res);
	infra_nasmon_config_release(&cfg);
	json_object_put(w);
}

/* HLTH-PODS restart delta: a count that grew since the last run fires, a stable one does
 * not; the counts go through STATE/restarts.json */
static void test_restarts(void)
{
	json_object *w = gen_world("--plants HLTH-PODS"), *pods, *prev = NULL, *near = NULL, *calm = NULL, *ev;
	struct infra_nasmon_config cfg;
	struct infra_nasmon_result res;
	struct infra_nasmon_input in = { 0 };
	struct infra_err err = INFRA_ERR_INIT;
	char st[300], path[400];
	const char *nname = NULL, *cname = NULL;
	double t = 0;
	int found = 0;

	if (!tap_ok(w != NULL, "restarts: world generated"))
		return;
	config_from(&cfg, w);
	infra_nasmon_config_select(&cfg, "HLTH-PODS", 1, &err);
	infra_json_get(w, "scenario.plants.HLTH-PODS.near", &near, NULL);
	nname = json_object_get_string(json_object_object_get(json_object_array_get_idx(near, 0), "name"));
	pods = json_object_object_get(json_object_object_get(w, "kube"), "pods");
	for (size_t i = 0; i < json_object_array_length(pods) && !calm; i++) {
		json_object *p = json_object_array_get_idx(pods, i), *cs;
		const char *n = infra_json_opt_string(p, "metadata.name", "");

		infra_json_get(p, "status.containerStatuses", &cs, NULL);
		if (strcmp(n, nname) && strstr(n, "-node-") &&
		    !infra_json_opt_int64(json_object_array_get_idx(cs, 0), "restartCount", 1)) {
			calm = json_object_array_get_idx(cs, 0);
			cname = n;
		}
	}
	in.kube = json_object_object_get(w, "kube");
	in.now = 1764806400;
	tap_inteq(infra_nasmon_run(&cfg, &in, &res, NULL, &err), 0, "restarts: first run");
	tap_ok(calm && res.restarts && json_object_object_length(res.restarts) >= 6, "the counts of every democratic-csi pod are kept");
	snprintf(st, sizeof(st), "%s/restart-state", tmpdir);
	tap_inteq(infra_nasmon_restarts_save(st, &res, in.now, &err), 0, "saved to STATE/restarts.json");
	infra_nasmon_result_release(&res);
	tap_inteq(infra_nasmon_restarts_load(st, &prev, &t, &err), 0, "loaded back");
	tap_ok(prev && t == 1764806400, "with the time of that run");
	json_object_object_add(calm, "restartCount", json_object_new_int(2));
	in.restarts_prev = prev;
	in.restarts_prev_time = t;
	in.now += 600;
	tap_inteq(infra_nasmon_run(&cfg, &in, &res, NULL, &err), 0, "restarts: second run");
	for (size_t i = 0; i < json_object_array_length(res.findings); i++) {
		json_object *f = json_object_array_get_idx(res.findings, i);
		const char *n = infra_json_opt_string(f, "object.name", "");

		if (!strcmp(n, nname))
			found |= 2;
		if (strcmp(n, cname))
			continue;
		ev = json_object_object_get(f, "evidence");
		found |= infra_json_opt_int64(ev, "restarts_since_last_run.csi-driver", 0) == 2 &&
			 infra_json_opt_int64(ev, "last_run", 0) == 1764806400 ? 1 : 4;
	}
	tap_ok(found == 1, "0 -> 2 restarts since the last run fires (evidence: 2, last run); the stable 3 does not (%d)", found);
	infra_nasmon_result_release(&res);
	json_object_put(prev);
	snprintf(path, sizeof(path), "%s/restarts.json", st);
	{
		FILE *f = fopen(path, "w");

		if (f) {
			fputs("{\"pods\": 3}", f);
			fclose(f);
		}
	}
	prev = NULL;
	tap_inteq(infra_nasmon_restarts_load(st, &prev, &t, &err), -EILSEQ, "a corrupt file is -EILSEQ: %s", err.msg);
	tap_ok(!prev, "and no counts");
	unlink(path);
	tap_ok(symlink("/etc/passwd", path) == 0 && infra_nasmon_restarts_load(st, &prev, &t, &err) != 0 && !prev,
	       "a symlinked restarts.json is refused");
	unlink(path);
	infra_nasmon_config_release(&cfg);
	json_object_put(w);
}

int main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "%s/nasmon-unit-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_plants();
	test_sources();
	test_config();
	test_inference();
	test_history();
	test_restarts();
	{
		struct infra_err err = INFRA_ERR_INIT;

		infra_rm_rf(tmpdir, &err);
	}
	return tap_done();
}
