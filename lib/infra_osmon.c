#include "infra_osmon.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "infra_archive.h"
#include "infra_exit.h"
#include "infra_history.h"
#include "infra_json.h"
#include "infra_lock.h"
#include "infra_openstack.h"
#include "infra_ossvc.h"
#include "infra_rally.h"
#include "infra_statedir.h"

/* length of an array, 0 for anything else (json-c asserts on non-arrays) */
static size_t alen(json_object *a)
{
	return json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}

/* snprintf for paths whose total length was bounded up front (state dir < PATH_MAX - 512) */
static void pathf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void pathf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

static void progress(const struct infra_osmon_cfg *cfg, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void progress(const struct infra_osmon_cfg *cfg, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!cfg->progress)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cfg->progress(cfg->progress_ud, msg);
}

int infra_osmon_task_file(const struct infra_osmon_cfg *cfg, const char *service, char *buf,
			  size_t size, struct infra_err *err)
{
	static const char *const ext[] = { "yaml", "yml", "json" };
	const char *dirs[2] = { cfg->task_dir, cfg->data_dir };
	const struct infra_ossvc *svc = infra_ossvc_find(service);
	const char *names[16];
	size_t nnames = 1;

	names[0] = svc ? svc->type : service; /* compute.yaml, then nova.yaml (older task dirs) */
	if (svc)
		nnames += infra_ossvc_names(svc, names + 1, sizeof(names) / sizeof(names[0]) - 1);
	for (int d = 0; d < 2; d++) {
		if (!dirs[d])
			continue;
		for (size_t i = 0; i < nnames; i++)
			for (size_t e = 0; e < sizeof(ext) / sizeof(ext[0]); e++) {
				snprintf(buf, size, "%s/%s.%s", dirs[d], names[i], ext[e]);
				if (access(buf, R_OK) == 0)
					return 0;
			}
	}
	return infra_err_set(err, -ENOENT,
			     "no task file for service %s (looked for %s.yaml%s%s in %s%s%s%s%s; "
			     "--task-dir DIR or INFRAKIT_DATADIR set where to look)",
			     names[0], names[0], nnames > 1 ? " or " : "", nnames > 1 ? names[1] : "",
			     cfg->task_dir ? cfg->task_dir : "",
			     cfg->task_dir ? " (--task-dir) and " : "", cfg->data_dir ? cfg->data_dir : "?",
			     cfg->data_dir_source ? ", from " : "", cfg->data_dir_source ? cfg->data_dir_source : "");
}

static int ensure_rally_dir(const struct infra_osmon_cfg *cfg, char *rdir, size_t rsize,
			    char *conf, size_t csize, struct infra_err *err)
{
	char text[PATH_MAX + 128];
	struct stat st;
	int rc, n, sfd, rfd;

	pathf(rdir, rsize, "%s/rally", cfg->state_dir);
	/* rally.db keeps the deployment's credentials: a real directory, ours, 0700 */
	rc = infra_statedir_open(cfg->state_dir, 0700, "state directory", &sfd, err);
	if (rc)
		return rc;
	rc = infra_statedir_sub(sfd, "rally", rdir, 0700, 1, &rfd, err);
	close(sfd);
	if (rc)
		return rc;
	close(rfd);
	if (cfg->rally_config) {
		snprintf(conf, csize, "%s", cfg->rally_config);
		return 0;
	}
	pathf(conf, csize, "%s/rally.conf", rdir);
	if (lstat(conf, &st) == 0)
		return S_ISREG(st.st_mode) ? 0 : infra_err_set(err, -EINVAL, "%s is not a regular file (refusing to use it)", conf);
	n = snprintf(text, sizeof(text),
		     "# written by osmon-run: rally's own database in the state directory\n"
		     "[DEFAULT]\n[database]\nconnection = sqlite:///%s/rally.db\n", rdir);
	return infra_atomic_write(conf, text, (size_t)n, err);
}

static json_object *task_args(void)
{
	json_object *a = json_object_new_object();
	const char *url = getenv("OS_AUTH_URL"), *fl = getenv("RALLY_NOVA_FLAVOR"),
		   *im = getenv("RALLY_NOVA_IMAGE"), *loc = getenv("RALLY_GLANCE_IMAGE_LOCATION");

	json_object_object_add(a, "auth_url", json_object_new_string(url ? url : ""));
	json_object_object_add(a, "flavor", json_object_new_string(fl && *fl ? fl : "m1.tiny"));
	json_object_object_add(a, "image", json_object_new_string(im && *im ? im : "cirros-0.6.2-x86_64-disk"));
	if (loc && *loc) /* else the glance task's own default (a cirros download URL) */
		json_object_object_add(a, "image_location", json_object_new_string(loc));
	return a;
}

static json_object *service_error(json_object *svc, const char *msg)
{
	json_object_object_add(svc, "status", json_object_new_string("error"));
	json_object_object_add(svc, "error", json_object_new_string(msg));
	return svc;
}

/* one service: task start, report, summary */
static json_object *run_service(const struct infra_osmon_cfg *cfg, const struct infra_rally *ra,
				const char *service, const char *run_dir, const char *run_id,
				const char *args, struct infra_report *r)
{
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_rally_start st;
	json_object *svc = json_object_new_object(), *report = NULL, *sum = NULL;
	char task[PATH_MAX], tag[128], out[PATH_MAX], rel[PATH_MAX];
	double t0 = infra_now_mono();
	int rc;

	json_object_object_add(svc, "error", NULL);
	rc = infra_osmon_task_file(cfg, service, task, sizeof(task), &err);
	if (rc) {
		infra_report_error(r, "%s: %s", service, err.msg);
		return service_error(svc, err.msg);
	}
	json_object_object_add(svc, "task_file", json_object_new_string(task));
	pathf(tag, sizeof(tag), "osmon-%s-%s", run_id, service);
	progress(cfg, "%s: rally task start %s", service, task);
	rc = infra_rally_task_start(ra, task, args, tag, cfg->task_timeout, &st, &err);
	if (rc) {
		infra_report_error(r, "%s: %s", service, err.msg);
		service_error(svc, err.msg);
		goto done;
	}
	json_object_object_add(svc, "task_uuid", json_object_new_string(st.uuid));
	json_object_object_add(svc, "killed_after_timeout", json_object_new_boolean(st.proc.timed_out));
	if (st.proc.timed_out)
		progress(cfg, "%s: task %s killed after --task-timeout %g s", service, st.uuid, cfg->task_timeout);
	pathf(out, sizeof(out), "%s/%s.json", run_dir, service);
	rc = infra_rally_task_report(ra, st.uuid, out, &report, &err);
	if (rc) {
		infra_report_error(r, "%s: %s", service, err.msg);
		service_error(svc, err.msg);
		goto done;
	}
	pathf(rel, sizeof(rel), "runs/%s/%s.json", run_id, service);
	json_object_object_add(svc, "report_file", json_object_new_string(rel));
	rc = infra_rally_summarize(report, &sum, &err);
	json_object_put(report);
	if (rc) {
		infra_err_prefix(&err, "report of task %s", st.uuid);
		infra_report_error(r, "%s: %s", service, err.msg);
		service_error(svc, err.msg);
		goto done;
	}
	json_object_object_foreach(sum, k, v)
		json_object_object_add(svc, k, json_object_get(v));
	json_object_put(sum);
	if (st.proc.timed_out) {
		char m[128];
		snprintf(m, sizeof(m), "killed after --task-timeout %g s", cfg->task_timeout);
		json_object_array_add(json_object_object_get(svc, "reasons"), json_object_new_string(m));
		json_object_object_add(svc, "status", json_object_new_string("fail"));
	}
	progress(cfg, "%s: %s", service, json_object_get_string(json_object_object_get(svc, "status")));
done:
	json_object_object_add(svc, "duration_seconds", infra_rally_num(infra_now_mono() - t0));
	return svc;
}

static json_object *history_entry(const char *run_id, double t, json_object *services, int status)
{
	json_object *e = json_object_new_object(), *svcs = json_object_new_object();
	char ts[64];

	infra_rfc3339(t, ts, sizeof(ts));
	json_object_object_add(e, "run_id", json_object_new_string(run_id));
	json_object_object_add(e, "time", json_object_new_string(ts));
	json_object_object_add(e, "status", json_object_new_string(infra_status_name(status)));
	json_object_object_foreach(services, name, s) {
		json_object *h = json_object_new_object(), *sc = json_object_object_get(s, "scenarios");
		json_object *scs = json_object_new_object();
		json_object_object_add(h, "status", json_object_get(json_object_object_get(s, "status")));
		for (size_t i = 0; i < alen(sc); i++) {
			json_object *x = json_object_array_get_idx(sc, i), *y = json_object_new_object();
			json_object *d = json_object_object_get(x, "durations");
			json_object_object_add(y, "status", json_object_get(json_object_object_get(x, "status")));
			json_object_object_add(y, "success_ratio",
					       json_object_get(json_object_object_get(x, "success_ratio")));
			json_object_object_add(y, "iterations", json_object_get(json_object_object_get(x, "iterations")));
			json_object_object_add(y, "failures", json_object_get(json_object_object_get(x, "failures")));
			json_object_object_add(y, "median", json_object_get(json_object_object_get(d, "median")));
			json_object_object_add(y, "p95", json_object_get(json_object_object_get(d, "p95")));
			json_object_object_add(scs, json_object_get_string(json_object_object_get(x, "name")), y);
		}
		json_object_object_add(h, "scenarios", scs);
		json_object_object_add(svcs, name, h);
	}
	json_object_object_add(e, "services", svcs);
	return e;
}

static int count_status(json_object *services, const char *status)
{
	int n = 0;

	json_object_object_foreach(services, k, s) {
		(void)k;
		n += !strcmp(json_object_get_string(json_object_object_get(s, "status")), status);
	}
	return n;
}

/* Did the user configure OpenStack at all (a cloud, an auth URL, a password file)?
 * Without any, rally keeps the deployment it has. */
static int os_config_given(const struct infra_os_flags *fl)
{
	const char *e;

	if (fl->cloud || fl->auth_url || fl->password_file)
		return 1;
	return ((e = getenv("OS_CLOUD")) && *e) || ((e = getenv("OS_AUTH_URL")) && *e);
}

int infra_osmon_run(const struct infra_osmon_cfg *cfg, struct infra_report *r)
{
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_rally ra;
	struct infra_rally_creds creds;
	struct infra_os_config oscfg;
	int have_oscfg = 0;
	char run_dir[PATH_MAX], run_id[64], rdir[PATH_MAX], conf[PATH_MAX];
	char logp[PATH_MAX], path[PATH_MAX];
	json_object *services = json_object_new_object(), *totals, *args_o, *entry;
	const char *args;
	int lock_fd = -1, log_fd = -1, rc, nsvc = 0, scen = 0, scen_failed = 0;
	double t = infra_now();
	const char *p;

	if (strlen(cfg->state_dir) > PATH_MAX - 512) {
		infra_report_error(r, "state directory name too long");
		infra_report_status(r, INFRA_EXIT_UNKNOWN);
		return -ENAMETOOLONG;
	}
	json_object_object_add(r->data, "state_dir", json_object_new_string(cfg->state_dir));
	json_object_object_add(r->data, "deployment", json_object_new_string(cfg->deployment));
	json_object_object_add(r->data, "services", services);
	rc = infra_lock_statedir(cfg->state_dir, "lock", 0, &lock_fd, &err);
	if (!rc)
		rc = infra_run_dir_create(cfg->state_dir, t, run_dir, sizeof(run_dir), run_id, sizeof(run_id), &err);
	if (rc) {
		infra_report_error(r, "%s", err.msg);
		infra_report_status(r, INFRA_EXIT_UNKNOWN);
		infra_lock_release(lock_fd);
		return rc;
	}
	json_object_object_add(r->data, "run_id", json_object_new_string(run_id));
	pathf(logp, sizeof(logp), "%s/run.log", run_dir);
	log_fd = open(logp, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0644); /* read back for error lines */
	progress(cfg, "run %s (log %s)", run_id, logp);

	memset(&ra, 0, sizeof(ra));
	memset(&creds, 0, sizeof(creds));
	memset(&oscfg, 0, sizeof(oscfg));
	ra.program = cfg->rally;
	ra.deployment = cfg->deployment;
	ra.log_fd = log_fd;
	ra.cmd_timeout = cfg->cmd_timeout;
	rc = ensure_rally_dir(cfg, rdir, sizeof(rdir), conf, sizeof(conf), &err);
	ra.config_file = conf;
	ra.home = rdir;
	/* the same OpenStack configuration as the health checks and orphan discovery
	 * (clouds.yaml, OS_*, --os-*), handed to rally as OS_* variables */
	if (cfg->os_flags)
		have_oscfg = 1; /* released below whatever the load says */
	if (!rc && cfg->os_flags && os_config_given(cfg->os_flags)) {
		/* something was configured: a broken configuration is our error (UNKNOWN),
		 * never silently replaced by whatever rally or the environment holds */
		rc = infra_os_config_load(&oscfg, cfg->os_flags, &err);
	}
	if (!rc && cfg->os_flags && oscfg.auth_url) {
		creds.auth_url = oscfg.auth_url;
		creds.username = oscfg.username;
		creds.password = oscfg.password;
		creds.project_name = oscfg.project_name;
		creds.user_domain_name = oscfg.user_domain_name ? oscfg.user_domain_name : oscfg.domain_name;
		creds.project_domain_name = oscfg.project_domain_name ? oscfg.project_domain_name : oscfg.domain_name;
		creds.region_name = oscfg.region_name;
		creds.interface = oscfg.interface;
		/* TLS as the health checks get it: --cacert, then the configuration; the
		 * command line's --cert/--key pair wins as a whole */
		creds.cacert = cfg->http && cfg->http->cacert ? cfg->http->cacert : oscfg.cacert;
		creds.cert = oscfg.cert;
		creds.key = oscfg.key;
		if (cfg->http && (cfg->http->cert || cfg->http->key)) {
			creds.cert = cfg->http->cert;
			creds.key = cfg->http->key;
		}
		creds.insecure = oscfg.insecure || (cfg->http && cfg->http->insecure);
		ra.creds = &creds;
	}
	if (!rc) {
		progress(cfg, "rally deployment %s", cfg->deployment);
		rc = infra_rally_ensure_deployment(&ra, &err);
	}
	args_o = task_args();
	args = json_object_to_json_string_ext(args_o, JSON_C_TO_STRING_PLAIN);
	for (p = cfg->services; *p;) {
		char name[64];
		size_t n = strcspn(p, ",");
		json_object *svc;
		if (n == 0 || n >= sizeof(name)) {
			p += n + (p[n] == ',');
			continue;
		}
		memcpy(name, p, n);
		name[n] = '\0';
		p += n + (p[n] == ',');
		/* one vocabulary: nova runs and reports as compute (infra_ossvc.h) */
		if (infra_ossvc_find(name))
			snprintf(name, sizeof(name), "%s", infra_ossvc_find(name)->type);
		if (json_object_object_get_ex(services, name, NULL))
			continue;
		nsvc++;
		if (rc) { /* no rally or no deployment: every service says so, stderr once */
			svc = json_object_new_object();
			service_error(svc, err.msg);
			if (nsvc == 1)
				infra_report_error(r, "%s", err.msg);
		} else {
			svc = run_service(cfg, &ra, name, run_dir, run_id, args, r);
		}
		json_object_object_add(services, name, svc);
	}
	json_object_put(args_o);
	if (have_oscfg)
		infra_os_config_release(&oscfg);

	json_object_object_foreach(services, sname, s) {
		json_object *sc = json_object_object_get(s, "scenarios");
		(void)sname;
		for (size_t i = 0; i < alen(sc); i++) {
			scen++;
			scen_failed += strcmp(json_object_get_string(
				json_object_object_get(json_object_array_get_idx(sc, i), "status")), "pass") != 0;
		}
	}
	totals = json_object_new_object();
	json_object_object_add(totals, "services", json_object_new_int(nsvc));
	json_object_object_add(totals, "passed", json_object_new_int(count_status(services, "pass")));
	json_object_object_add(totals, "failed", json_object_new_int(count_status(services, "fail")));
	json_object_object_add(totals, "errors", json_object_new_int(count_status(services, "error")));
	json_object_object_add(totals, "scenarios", json_object_new_int(scen));
	json_object_object_add(totals, "scenarios_failed", json_object_new_int(scen_failed));
	json_object_object_add(r->data, "totals", totals);
	if (nsvc == 0 || count_status(services, "error") == nsvc)
		infra_report_status(r, INFRA_EXIT_UNKNOWN);
	else if (count_status(services, "pass") != nsvc)
		infra_report_status(r, INFRA_EXIT_WARNING);
	if (cfg->orphans && nsvc && count_status(services, "error") != nsvc) {
		progress(cfg, "orphans: looking for what the tests left behind");
		infra_osmon_orphans(cfg->os_flags, cfg->http, cfg->jobs, r);
	}

	if (cfg->retention_days > 0) {
		struct infra_retention_result rr;
		progress(cfg, "retention: packing run directories older than %d days", cfg->retention_days);
		rc = infra_retention_apply(cfg->state_dir, run_id, t - cfg->retention_days * 86400.0, &rr, &err);
		json_object_object_add(r->data, "retention", infra_retention_json(&rr, cfg->retention_days));
		if (rc) {
			infra_report_error(r, "retention: %s", err.msg);
			infra_report_status(r, INFRA_EXIT_WARNING);
		}
	}
	/* state: the run's summary, the latest summary, the history */
	pathf(path, sizeof(path), "%s/summary.json", run_dir);
	if (infra_json_file_write(path, r->data, &err))
		infra_report_error(r, "%s", err.msg);
	pathf(path, sizeof(path), "%s/latest_summary.json", cfg->state_dir);
	if (infra_json_file_write(path, r->data, &err))
		infra_report_error(r, "%s", err.msg);
	entry = history_entry(run_id, t, services, r->status);
	{
		json_object *orph = json_object_object_get(json_object_object_get(r->data, "orphans"), "total");
		if (orph)
			json_object_object_add(entry, "orphans", json_object_get(orph));
	}
	pathf(path, sizeof(path), "%s/history.json", cfg->state_dir);
	rc = infra_history_append(path, entry, INFRA_OSMON_HISTORY_MAX, NULL, &err);
	if (rc)
		infra_report_error(r, "%s", err.msg);
	json_object_put(entry);

	if (log_fd >= 0)
		close(log_fd);
	infra_lock_release(lock_fd);
	return infra_osmon_prom(r, &err);
}

/* ---- Prometheus ---- */

/* declare the family with its first sample only: node_exporter does not serve empty families */
static int gauge(struct infra_report *r, const char *name, double v, struct infra_err *err, const char *svc,
		 const char *scenario, const char *stat)
{
	static const struct {
		const char *name, *help;
	} helps[] = {
		{ "osmon_service_pass", "1 if every scenario of the service passed in the last run (0 also when rally could not run it)" },
		{ "osmon_scenario_success_ratio", "Successful iterations / planned iterations (0-1, 0 when none ran)" },
		{ "osmon_scenario_duration_seconds", "Iteration duration of the scenario in the last run by stat (min, median, p95, max)" },
		{ "osmon_scenario_iterations", "Iterations of the scenario that ran in the last run" },
		{ "osmon_scenario_failures", "Iterations of the scenario that failed in the last run" },
		{ "osmon_sla_pass", "1 if the scenario's SLA passed (0 when no SLA could be evaluated, e.g. a killed task)" },
	};
	const char *labels[7] = { "service", svc, NULL, NULL, NULL, NULL, NULL };
	int rc;

	if (scenario) {
		labels[2] = "scenario";
		labels[3] = scenario;
	}
	if (stat) {
		labels[4] = "stat";
		labels[5] = stat;
	}
	for (size_t i = 0; i < sizeof(helps) / sizeof(helps[0]); i++)
		if (!strcmp(helps[i].name, name) &&
		    (rc = infra_prom_family(r->prom, name, INFRA_PROM_GAUGE, helps[i].help, err)))
			return rc;
	return infra_prom_add(r->prom, name, labels, v, err);
}

int infra_osmon_prom(struct infra_report *r, struct infra_err *err)
{
	json_object *services = json_object_object_get(r->data, "services");
	static const char *const stat[] = { "min", "median", "p95", "max" };
	int rc = 0;

	json_object_object_foreach(services, svc, s) {
		json_object *sc = json_object_object_get(s, "scenarios");
		const char *st = json_object_get_string(json_object_object_get(s, "status"));
		rc = gauge(r, "osmon_service_pass", !strcmp(st, "pass"), err, svc, NULL, NULL);
		for (size_t i = 0; !rc && i < alen(sc); i++) {
			json_object *x = json_object_array_get_idx(sc, i), *d = json_object_object_get(x, "durations");
			const char *name = json_object_get_string(json_object_object_get(x, "name"));
			rc = gauge(r, "osmon_scenario_success_ratio",
				   json_object_get_double(json_object_object_get(x, "success_ratio")), err, svc, name, NULL);
			rc = rc ? rc : gauge(r, "osmon_scenario_iterations",
				   (double)json_object_get_int64(json_object_object_get(x, "iterations")), err, svc, name, NULL);
			rc = rc ? rc : gauge(r, "osmon_scenario_failures",
				   (double)json_object_get_int64(json_object_object_get(x, "failures")), err, svc, name, NULL);
			rc = rc ? rc : gauge(r, "osmon_sla_pass",
				   json_object_get_boolean(json_object_object_get(json_object_object_get(x, "sla"), "pass")),
				   err, svc, name, NULL);
			for (int k = 0; !rc && d && k < 4; k++)
				rc = gauge(r, "osmon_scenario_duration_seconds",
					   json_object_get_double(json_object_object_get(d, stat[k])), err, svc, name, stat[k]);
		}
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- text ---- */

int infra_osmon_text(const struct infra_report *r, struct infra_buf *out)
{
	json_object *services = json_object_object_get(r->data, "services");
	json_object *tot = json_object_object_get(r->data, "totals"), *ret;
	int rc = 0;

	if (!services)
		return 0;
	if (!json_object_object_get(r->data, "run_id"))
		return 0; /* no run started (state directory, lock): the failure says it all */
	rc |= infra_buf_printf(out, "run %s: %d of %d services passed, %d failed, %d errors\n",
			       json_object_get_string(json_object_object_get(r->data, "run_id")),
			       json_object_get_int(json_object_object_get(tot, "passed")),
			       json_object_get_int(json_object_object_get(tot, "services")),
			       json_object_get_int(json_object_object_get(tot, "failed")),
			       json_object_get_int(json_object_object_get(tot, "errors")));
	rc |= infra_buf_printf(out, "%-13s %-6s %-42s %7s %5s %6s %9s %9s %4s\n", "SERVICE", "STATUS",
			       "SCENARIO", "ITER", "FAIL", "RATIO", "MEDIAN", "P95", "SLA");
	json_object_object_foreach(services, svc, s) {
		json_object *sc = json_object_object_get(s, "scenarios"), *rs;
		const char *st = json_object_get_string(json_object_object_get(s, "status"));
		if (!alen(sc))
			rc |= infra_buf_printf(out, "%-13s %-6s %s\n", svc, st,
					       json_object_get_string(json_object_object_get(s, "error")) ?: "-");
		for (size_t i = 0; i < alen(sc); i++) {
			json_object *x = json_object_array_get_idx(sc, i), *d = json_object_object_get(x, "durations");
			char iter[32], med[32] = "-", p95[32] = "-";
			snprintf(iter, sizeof(iter), "%lld/%lld",
				 (long long)json_object_get_int64(json_object_object_get(x, "iterations")),
				 (long long)json_object_get_int64(json_object_object_get(x, "iterations_planned")));
			if (d) {
				snprintf(med, sizeof(med), "%.3fs", json_object_get_double(json_object_object_get(d, "median")));
				snprintf(p95, sizeof(p95), "%.3fs", json_object_get_double(json_object_object_get(d, "p95")));
			}
			rc |= infra_buf_printf(out, "%-13s %-6s %-42.42s %7s %5lld %6.2f %9s %9s %4s\n",
					       i ? "" : svc, i ? "" : st,
					       json_object_get_string(json_object_object_get(x, "name")), iter,
					       (long long)json_object_get_int64(json_object_object_get(x, "failures")),
					       json_object_get_double(json_object_object_get(x, "success_ratio")), med, p95,
					       json_object_get_boolean(json_object_object_get(
						       json_object_object_get(x, "sla"), "pass")) ? "pass" : "FAIL");
			rs = json_object_object_get(x, "reasons");
			for (size_t j = 0; j < alen(rs); j++)
				rc |= infra_buf_printf(out, "%21s ! %s\n", "",
						       json_object_get_string(json_object_array_get_idx(rs, j)));
		}
		rs = json_object_object_get(s, "reasons");
		for (size_t j = 0; j < alen(rs); j++)
			rc |= infra_buf_printf(out, "%21s ! %s\n", "", json_object_get_string(json_object_array_get_idx(rs, j)));
	}
	{
		json_object *o = json_object_object_get(r->data, "orphans");
		if (json_object_object_get(o, "total"))
			rc |= infra_buf_printf(out, "orphans: %lld resources left behind by test runs\n",
					       (long long)json_object_get_int64(json_object_object_get(o, "total")));
		else if (json_object_object_get(o, "error"))
			rc |= infra_buf_printf(out, "orphans: not checked (%s)\n",
					       json_object_get_string(json_object_object_get(o, "error")));
	}
	ret = json_object_object_get(r->data, "retention");
	if (ret && json_object_get_int(json_object_object_get(ret, "archived_runs")) > 0)
		rc |= infra_buf_printf(out, "retention: %d run directories archived\n",
				       json_object_get_int(json_object_object_get(ret, "archived_runs")));
	return rc ? -ENOMEM : 0;
}
