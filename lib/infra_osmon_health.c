/* infra_osmon_health.c - osmon-run --health (read-only API checks per service, in
 * parallel) and the orphan counts recorded after a run (osmon-orphans' discovery
 * as library code). */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infra_exit.h"
#include "infra_history.h"
#include "infra_json.h"
#include "infra_lock.h"
#include "infra_nagios.h"
#include "infra_openstack.h"
#include "infra_orphans.h"
#include "infra_osmon.h"
#include "infra_ossvc.h"
#include "infra_rally.h"
#include "infra_report.h"

struct probe {
	const char *type;     /* service type (infra_ossvc.h): catalog lookup and report key */
	const char *path;     /* appended to the endpoint: one small page */
};

static const struct probe probes[] = {
	{ "identity", "/auth/projects" },
	{ "compute", "/servers?limit=1" },
	{ "network", "/networks?limit=1" },
	{ "image", "/images?limit=1" },
	{ "block-storage", "/volumes?limit=1" },
	{ "object-store", "?format=json&limit=1" },
	/* resource providers are admin-only: non-admins get the version document */
	{ "placement", "/resource_providers?name=osmon-health-probe" },
};
#define NPROBES (sizeof(probes) / sizeof(probes[0]))

struct check {
	json_object *svc;  /* this service's result object */
	double extra;      /* seconds added to the latency (identity: the token issue) */
};

/* name (a type) is in the comma-separated list, under any of its names */
static int selected(const char *list, const char *name)
{
	for (const char *p = list; p && *p;) {
		char item[64];
		size_t l = strcspn(p, ",");
		if (l < sizeof(item)) {
			memcpy(item, p, l);
			item[l] = '\0';
			if (!strcmp(infra_ossvc_type(item), name))
				return 1;
		}
		p += l + (p[l] == ',');
	}
	return 0;
}

int infra_osmon_health_known(const char *name)
{
	const char *type = infra_ossvc_type(name);

	for (size_t i = 0; i < NPROBES; i++)
		if (!strcmp(probes[i].type, type))
			return 1;
	return 0;
}

const char *infra_osmon_health_list(void)
{
	static char list[256];

	if (!list[0])
		for (size_t i = 0; i < NPROBES; i++)
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "", probes[i].type);
	return list;
}

static void set_result(json_object *svc, int up, double latency, long status, const char *error)
{
	json_object_object_add(svc, "up", json_object_new_boolean(up));
	json_object_object_add(svc, "latency_seconds", up || isfinite(latency) ? infra_rally_num(latency) : NULL);
	json_object_object_add(svc, "http_status", status ? json_object_new_int64(status) : NULL);
	json_object_object_add(svc, "error", error ? json_object_new_string(error) : NULL);
}

static void done(void *ud, long status, json_object *body, const struct infra_http_resp *resp, int rc,
		 const struct infra_err *err)
{
	struct check *c = ud;
	double lat = (resp ? resp->elapsed_seconds : NAN) + c->extra;
	char msg[INFRA_ERR_MSG_MAX + 64];

	if (rc) {
		set_result(c->svc, 0, lat, 0, err ? err->msg : "request failed");
	} else if (status >= 200 && status < 300) {
		set_result(c->svc, 1, lat, status, NULL);
	} else {
		const char *m = infra_os_error_message(body);
		snprintf(msg, sizeof(msg), "HTTP %ld%s%s", status, m ? ": " : "", m ? m : "");
		set_result(c->svc, 0, lat, status, msg);
	}
}

/* Status (any service down is CRITICAL, or -w/-c on the number down), and the
 * Nagios summary and perfdata of the check. */
static void health_status(const struct infra_osmon_health_cfg *cfg, struct infra_report *r,
			  json_object *services, int nup, int ndown)
{
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_threshold t;
	char down[512] = "";
	size_t len = 0;

	if (cfg->warn || cfg->crit) {
		infra_threshold_set(&t, cfg->warn, cfg->crit, &err); /* checked when parsed */
		infra_report_status(r, infra_threshold_status(&t, ndown));
	} else {
		infra_threshold_set(&t, NULL, "0", &err);
		if (ndown)
			infra_report_status(r, INFRA_EXIT_CRITICAL);
	}
	if (!nup && !ndown)
		infra_report_status(r, INFRA_EXIT_UNKNOWN);
	json_object_object_foreach(services, name, s) {
		json_object *lat = json_object_object_get(s, "latency_seconds");
		char label[128];
		if (!json_object_get_boolean(json_object_object_get(s, "up")) && len < sizeof(down)) {
			int n = snprintf(down + len, sizeof(down) - len, "%s%s", len ? ", " : "", name);
			len += n > 0 ? (size_t)n : 0;
		}
		snprintf(label, sizeof(label), "%s_latency", name);
		if (lat)
			infra_report_perf(r, label, json_object_get_double(lat), "s", NULL, 0, NAN);
	}
	if (ndown)
		infra_report_summary(r, "%d of %d services up; down: %s", nup, nup + ndown, down);
	else
		infra_report_summary(r, "%d of %d services up", nup, nup + ndown);
	infra_report_perf(r, "services_down", ndown, "", &t, 0, nup + ndown);
	infra_report_perf(r, "services_up", nup, "", NULL, 0, nup + ndown);
}

int infra_osmon_health(const struct infra_osmon_health_cfg *cfg, struct infra_report *r)
{
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_os *os = NULL;
	struct infra_http_batch *b = NULL;
	struct check checks[NPROBES];
	struct infra_http_opts hopts;
	json_object *services = json_object_new_object(), *skipped = json_object_new_array(), *entry;
	char path[PATH_MAX], ts[64];
	double t0, t = infra_now();
	int lock_fd = -1, rc, nup = 0, ndown = 0;

	infra_rfc3339(t, ts, sizeof(ts));
	json_object_object_add(r->data, "time", json_object_new_string(ts));
	json_object_object_add(r->data, "services", services);
	json_object_object_add(r->data, "skipped", skipped);
	if (strlen(cfg->state_dir) > PATH_MAX - 64) {
		infra_report_error(r, "state directory name too long");
		infra_report_status(r, INFRA_EXIT_UNKNOWN);
		return -ENAMETOOLONG;
	}
	rc = infra_lock_statedir(cfg->state_dir, "health.lock", 0, &lock_fd, &err);
	if (rc) {
		infra_report_error(r, "%s", err.msg);
		infra_report_status(r, INFRA_EXIT_UNKNOWN);
		return rc;
	}
	/* one attempt per request: a health check measures, retries would hide and stretch */
	hopts = *cfg->http;
	hopts.max_attempts = 1;
	t0 = infra_now_mono();
	rc = infra_os_connect(cfg->os_flags, &hopts, &os, &err);
	if (rc == -EACCES || rc == -EINVAL) {
		/* our configuration is wrong, not the cloud: say so, report no service */
		infra_report_error(r, "%s", err.msg);
		infra_report_status(r, INFRA_EXIT_UNKNOWN);
		infra_lock_release(lock_fd);
		return rc;
	}
	memset(checks, 0, sizeof(checks));
	if (rc) {
		json_object *ks = json_object_new_object();
		set_result(ks, 0, infra_now_mono() - t0, 0, err.msg);
		json_object_object_add(services, "identity", ks);
		infra_report_error(r, "identity: %s", err.msg);
	} else {
		double token = infra_now_mono() - t0;
		b = infra_http_batch_new(infra_os_http(os), cfg->jobs > 0 ? cfg->jobs : 8);
		for (size_t i = 0; b && i < NPROBES; i++) {
			const char *base = NULL;
			char url[2048];
			json_object *svc;
			if (!selected(cfg->services, probes[i].type))
				continue;
			if (!infra_os_catalog_url(os, probes[i].type)) {
				if (!cfg->services_explicit) {
					json_object_array_add(skipped, json_object_new_string(probes[i].type));
					continue;
				}
			}
			svc = json_object_new_object();
			json_object_object_add(services, probes[i].type, svc);
			if (infra_os_endpoint(os, probes[i].type, &base, &err)) {
				set_result(svc, 0, NAN, 0, err.msg);
				continue;
			}
			/* identity: the project list needs admin; others list the projects they may use */
			if (!strcmp(probes[i].type, "identity") && infra_os_is_admin(os))
				snprintf(url, sizeof(url), "%s/projects?limit=1", base);
			else if (!strcmp(probes[i].type, "placement") && !infra_os_is_admin(os))
				snprintf(url, sizeof(url), "%s/", base);
			else
				snprintf(url, sizeof(url), "%s%s", base, probes[i].path);
			json_object_object_add(svc, "endpoint", json_object_new_string(base));
			checks[i].svc = svc;
			checks[i].extra = i == 0 ? token : 0; /* identity: token issue + list projects */
			set_result(svc, 0, NAN, 0, "no answer");
			if (infra_os_batch_request(os, b, "GET", url, NULL, NULL, done, &checks[i]))
				set_result(svc, 0, NAN, 0, "cannot queue the request");
		}
		if (!b)
			infra_report_error(r, "out of memory");
		else if (infra_http_batch_run(b, &err))
			infra_report_error(r, "%s", err.msg);
	}
	json_object_object_foreach(services, name, s) {
		int up = json_object_get_boolean(json_object_object_get(s, "up"));
		const char *labels[3] = { "service", name, NULL };
		json_object *lat = json_object_object_get(s, "latency_seconds");
		if (up)
			nup++;
		else
			ndown++;
		if (!up && json_object_object_get(s, "error") && strcmp(name, "identity"))
			infra_report_error(r, "%s: %s", name, json_object_get_string(json_object_object_get(s, "error")));
		infra_prom_family(r->prom, "osmon_health_up", INFRA_PROM_GAUGE,
				  "1 if the read-only health check of the service succeeded", NULL);
		infra_prom_add(r->prom, "osmon_health_up", labels, up, NULL);
		if (lat) {
			infra_prom_family(r->prom, "osmon_health_latency_seconds", INFRA_PROM_GAUGE,
					  "Time of the health check requests of the service (identity: token issue + project list)",
					  NULL);
			infra_prom_add(r->prom, "osmon_health_latency_seconds", labels, json_object_get_double(lat), NULL);
		}
	}
	json_object_object_add(r->data, "up", json_object_new_int(nup));
	json_object_object_add(r->data, "down", json_object_new_int(ndown));
	health_status(cfg, r, services, nup, ndown);

	snprintf(path, sizeof(path), "%s/health.json", cfg->state_dir);
	if (infra_json_file_write(path, r->data, &err))
		infra_report_error(r, "%s", err.msg);
	entry = json_object_new_object();
	json_object_object_add(entry, "time", json_object_new_string(ts));
	json_object_object_add(entry, "services", json_object_get(services));
	snprintf(path, sizeof(path), "%s/health_history.json", cfg->state_dir);
	if (infra_history_append(path, entry, INFRA_OSMON_HEALTH_MAX, NULL, &err))
		infra_report_error(r, "%s", err.msg);
	json_object_put(entry);
	infra_http_batch_free(b);
	infra_os_free(os);
	infra_lock_release(lock_fd);
	return 0;
}

int infra_osmon_orphans(const struct infra_os_flags *flags, const struct infra_http_opts *http, int jobs,
			struct infra_report *r)
{
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_orph_matcher m;
	struct infra_orph_opts o;
	struct infra_orph_result res;
	struct infra_os *os = NULL;
	json_object *o_json = json_object_new_object(), *by = json_object_new_object();
	int rc, sel = 0, queried;

	json_object_object_add(r->data, "orphans", o_json);
	infra_orph_result_init(&res);
	rc = infra_orph_matcher_init(&m, NULL, 0, NULL, &err); /* Rally's name grammar */
	if (rc) {
		json_object_put(by);
		infra_report_error(r, "orphans: %s", err.msg);
		return rc;
	}
	memset(&o, 0, sizeof(o));
	o.matcher = &m;
	o.jobs = jobs > 0 ? jobs : 8;
	o.narrow = 1;
	o.now = infra_now();
	rc = infra_os_connect(flags, http, &os, &err);
	if (!rc)
		rc = infra_orph_discover(os, &o, &res, &err);
	if (rc) {
		json_object_object_add(o_json, "error", json_object_new_string(err.msg));
		infra_report_error(r, "orphans: %s", err.msg);
		infra_report_status(r, INFRA_EXIT_WARNING);
		json_object_put(by);
		goto out;
	}
	queried = infra_orph_queried_count(&res, &sel);
	for (size_t i = 0; i < res.n; i++) {
		char key[96];
		json_object *v;
		snprintf(key, sizeof(key), "%s/%s", infra_orph_services[infra_orph_types[res.items[i].type].service].name,
			 infra_orph_types[res.items[i].type].name);
		v = json_object_object_get(by, key);
		json_object_object_add(by, key, json_object_new_int(v ? json_object_get_int(v) + 1 : 1));
	}
	json_object_object_add(o_json, "total", json_object_new_int64((int64_t)res.n));
	json_object_object_add(o_json, "by_type", by);
	json_object_object_add(o_json, "types_queried", json_object_new_int(queried));
	json_object_object_add(o_json, "types_selected", json_object_new_int(sel));
	if (queried < sel)
		infra_report_error(r, "orphans: %d of %d resource types could not be listed", sel - queried, sel);
	if (res.n || queried < sel)
		infra_report_status(r, INFRA_EXIT_WARNING);
	if (infra_orph_to_prom(&res, r->prom, &err))
		infra_report_error(r, "orphans: %s", err.msg);
out:
	infra_os_free(os);
	infra_orph_result_release(&res);
	infra_orph_matcher_release(&m);
	return rc;
}

int infra_osmon_health_text(const struct infra_report *r, struct infra_buf *out)
{
	json_object *services = json_object_object_get(r->data, "services");
	int rc = 0;

	if (!services || !json_object_object_length(services))
		return 0; /* nothing was checked: the failure above says why, no "0 up, 0 down" */
	rc |= infra_buf_printf(out, "health %s: %d up, %d down\n",
			       json_object_get_string(json_object_object_get(r->data, "time")),
			       json_object_get_int(json_object_object_get(r->data, "up")),
			       json_object_get_int(json_object_object_get(r->data, "down")));
	rc |= infra_buf_printf(out, "%-13s %-4s %9s %s\n", "SERVICE", "UP", "LATENCY", "ERROR");
	json_object_object_foreach(services, name, s) {
		json_object *lat = json_object_object_get(s, "latency_seconds");
		char l[32] = "-";
		if (lat)
			snprintf(l, sizeof(l), "%.3fs", json_object_get_double(lat));
		rc |= infra_buf_printf(out, "%-13s %-4s %9s%s%s\n", name,
				       json_object_get_boolean(json_object_object_get(s, "up")) ? "up" : "DOWN", l,
				       json_object_object_get(s, "error") ? " " : "",
				       json_object_get_string(json_object_object_get(s, "error")) ?: "");
	}
	return rc ? -ENOMEM : 0;
}
