#include "infra_nasmon_html.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infra_exit.h"
#include "infra_html.h"
#include "infra_json.h"
#include "infra_report.h"

#define MAX_PER_CHECK 500 /* findings listed per check; the rest are counted */
#define MAX_VOLUMES 20    /* volumes nearest to full */
#define MAX_POOLS 64

static json_object *jo(json_object *o, const char *k)
{
	json_object *v = NULL;

	return o && json_object_object_get_ex(o, k, &v) ? v : NULL;
}

static const char *js(json_object *o, const char *k)
{
	json_object *v = jo(o, k);

	return v && !json_object_is_type(v, json_type_null) ? json_object_get_string(v) : NULL;
}

static double jd(json_object *o, const char *k)
{
	json_object *v = jo(o, k);

	return v && !json_object_is_type(v, json_type_null) ? json_object_get_double(v) : NAN;
}

static void fmt_bytes(double v, char *buf, size_t size)
{
	static const char *const u[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	int i = 0;

	if (!isfinite(v)) {
		snprintf(buf, size, "-");
		return;
	}
	while (fabs(v) >= 1024 && i < 6) {
		v /= 1024;
		i++;
	}
	snprintf(buf, size, i ? "%.1f %s" : "%.0f %s", v, u[i]);
}

static void fmt_days(json_object *d, char *buf, size_t size)
{
	if (!d || json_object_is_type(d, json_type_null))
		snprintf(buf, size, "not growing");
	else
		snprintf(buf, size, "%.1f", json_object_get_double(d));
}

static const char *sev_class(const char *sev)
{
	return !sev ? "" : !strcmp(sev, "critical") ? "bad" : !strcmp(sev, "warning") ? "warn" : "";
}

static int html_head(const struct infra_nasmon_html_run *run, struct infra_buf *b)
{
	static const char *const names[2] = { "kubernetes", "truenas" };
	char now[64];
	int rc = 0;

	infra_rfc3339(run->now, now, sizeof(now));
	rc |= infra_buf_printf(b, "<p>Run at %s: status <b class=\"%s\">", now,
			       *sev_class(run->status) ? sev_class(run->status) :
			       run->status && !strcmp(run->status, "ok") ? "ok" : "warn");
	rc |= infra_html_escape(b, run->status ? run->status : "unknown");
	rc |= infra_buf_puts(b, "</b></p>\n<h2>Sources</h2>\n<table><tr><th>source</th><th>up</th><th>details</th></tr>\n");
	for (int i = 0; i < 2; i++) {
		json_object *s = jo(run->sources, names[i]);
		int up = json_object_get_boolean(jo(s, "up"));

		rc |= infra_buf_printf(b, "<tr><td>%s</td><td class=\"%s\">%s</td><td>", names[i], up ? "ok" : "bad",
				       up ? "up" : "down");
		if (!up) {
			rc |= infra_html_escape(b, js(s, "error") ? js(s, "error") : "not reached");
		} else if (i == 0) {
			rc |= infra_html_escape(b, js(s, "server"));
			rc |= infra_buf_puts(b, " (");
			rc |= infra_html_escape(b, js(s, "auth"));
			rc |= infra_buf_printf(b, "), %d requests", json_object_get_int(jo(s, "requests")));
		} else {
			rc |= infra_html_escape(b, js(s, "version"));
			rc |= infra_buf_puts(b, " over ");
			rc |= infra_html_escape(b, js(s, "transport"));
		}
		rc |= infra_buf_puts(b, "</td></tr>\n");
	}
	rc |= infra_buf_puts(b, "</table>\n");
	if (run->errors && json_object_array_length(run->errors)) {
		rc |= infra_buf_puts(b, "<h2>Errors</h2>\n<ul>\n");
		for (size_t i = 0; i < json_object_array_length(run->errors); i++) {
			rc |= infra_buf_puts(b, "<li class=\"bad\">");
			rc |= infra_html_escape(b, json_object_get_string(json_object_array_get_idx(run->errors, i)));
			rc |= infra_buf_puts(b, "</li>\n");
		}
		rc |= infra_buf_puts(b, "</ul>\n");
	}
	return rc ? -ENOMEM : 0;
}

static int html_checks(const struct infra_nasmon_result *res, struct infra_buf *b)
{
	static const char *const st[] = { "ok", "warning", "critical", "unknown" };
	static const char *const cls[] = { "ok", "warn", "bad", "warn" };
	int rc = infra_buf_puts(b, "<h2>Checks</h2>\n<table><tr><th>check</th><th>status</th><th>critical</th>"
				"<th>warning</th><th>info</th><th>what it compares</th></tr>\n");

	for (int k = 0; k < NASMON_NCHECKS; k++) {
		const struct infra_nasmon_check_result *cr = &res->checks[k];
		int s = cr->status >= 0 && cr->status <= 3 ? cr->status : 3;

		if (!cr->selected)
			continue;
		rc |= infra_buf_printf(b, "<tr><td><a id=\"c-%s\"></a>%s</td><td class=\"%s\">%s</td>",
				       infra_nasmon_checks[k].id, infra_nasmon_checks[k].id, cls[s], st[s]);
		if (s == INFRA_EXIT_UNKNOWN) /* it did not run: no counts that would read as nothing found */
			rc |= infra_buf_puts(b, "<td class=\"num\" colspan=\"3\">not run</td><td>");
		else
			rc |= infra_buf_printf(b, "<td class=\"num\">%d</td><td class=\"num\">%d</td><td class=\"num\">%d</td><td>",
					       cr->counts[NASMON_SEV_CRITICAL], cr->counts[NASMON_SEV_WARNING],
					       cr->counts[NASMON_SEV_INFO]);
		rc |= infra_html_escape(b, infra_nasmon_checks[k].doc);
		if (s == INFRA_EXIT_UNKNOWN) {
			rc |= infra_buf_puts(b, "<div class=\"reason\">UNKNOWN: ");
			rc |= infra_html_escape(b, cr->unknown);
			rc |= infra_buf_puts(b, "</div>");
		}
		rc |= infra_buf_puts(b, "</td></tr>\n");
	}
	return rc | infra_buf_puts(b, "</table>\n");
}

static int html_findings(const struct infra_nasmon_result *res, struct infra_buf *b)
{
	size_t n = res->findings ? json_object_array_length(res->findings) : 0;
	int rc = infra_buf_printf(b, "<h2>Findings by check</h2>\n<p>%zu critical, %zu warning, %zu info.</p>\n",
				  res->nfindings[NASMON_SEV_CRITICAL], res->nfindings[NASMON_SEV_WARNING],
				  res->nfindings[NASMON_SEV_INFO]);

	for (int k = 0; k < NASMON_NCHECKS; k++) {
		const char *id = infra_nasmon_checks[k].id;
		size_t shown = 0, total = 0;

		for (size_t i = 0; i < n; i++) {
			json_object *f = json_object_array_get_idx(res->findings, i), *obj = jo(f, "object");
			const char *ns;

			if (!js(f, "check") || strcmp(js(f, "check"), id))
				continue;
			if (!total++)
				rc |= infra_buf_printf(b, "<h3>%s</h3>\n<table><tr><th>severity</th><th>kind</th><th>object</th>"
						       "<th>TrueNAS</th><th>message</th></tr>\n", id);
			if (shown >= MAX_PER_CHECK)
				continue;
			shown++;
			ns = js(obj, "namespace");
			rc |= infra_buf_printf(b, "<tr><td class=\"%s\">", sev_class(js(f, "severity")));
			rc |= infra_html_escape(b, js(f, "severity"));
			rc |= infra_buf_puts(b, "</td><td>");
			rc |= infra_html_escape(b, js(obj, "kind"));
			rc |= infra_buf_puts(b, "</td><td>");
			if (ns) {
				rc |= infra_html_escape(b, ns);
				rc |= infra_buf_puts(b, "/");
			}
			rc |= infra_html_escape(b, js(obj, "name"));
			rc |= infra_buf_puts(b, "</td><td>");
			rc |= infra_html_escape(b, js(jo(f, "truenas"), "id"));
			rc |= infra_buf_puts(b, "</td><td>");
			rc |= infra_html_escape(b, js(f, "message"));
			rc |= infra_buf_puts(b, "</td></tr>\n");
		}
		if (total > shown)
			rc |= infra_buf_printf(b, "<tr><td colspan=\"5\">... and %zu more (see -f json)</td></tr>\n", total - shown);
		if (total)
			rc |= infra_buf_puts(b, "</table>\n");
	}
	if (!n)
		rc |= infra_buf_puts(b, "<p class=\"ok\">No findings.</p>\n");
	return rc ? -ENOMEM : 0;
}

static int html_pools(const struct infra_nasmon_html_run *run, struct infra_buf *b)
{
	const struct infra_nasmon_result *res = run->res;
	json_object *tp = jo(res->trends, "pools");
	double warn = run->cfg ? run->cfg->checks[NASMON_CAP_POOL].warn : infra_nasmon_checks[NASMON_CAP_POOL].warn;
	double crit = run->cfg ? run->cfg->checks[NASMON_CAP_POOL].crit : infra_nasmon_checks[NASMON_CAP_POOL].crit;
	struct infra_html_bar bars[MAX_POOLS];
	struct infra_html_series ser[MAX_POOLS];
	double *xs[MAX_POOLS] = { 0 }, *ys[MAX_POOLS] = { 0 };
	char *names[MAX_POOLS] = { 0 }, *tips[MAX_POOLS] = { 0 };
	size_t np = 0, ns = 0;
	int rc = infra_buf_puts(b, "<h2>Pool fill</h2>\n");

	if (!res->pools || !json_object_object_length(res->pools))
		return rc | infra_buf_puts(b, "<p>No pool data (TrueNAS was not read).</p>\n");
	rc |= infra_buf_puts(b, "<table><tr><th>pool</th><th>status</th><th>used</th><th>usable</th><th>fill</th>"
			     "<th>provisioned (CSI)</th><th>days until full</th><th>history points</th></tr>\n");
	json_object_object_foreach(res->pools, pname, pv) {
		double used = jd(pv, "used_bytes"), usable = jd(pv, "usable_bytes"), fill = usable > 0 ? used / usable : NAN;
		json_object *t = jo(tp, pname);
		char u1[32], u2[32], u3[32], days[32], tip[160];
		int st = !isfinite(fill) ? INFRA_HTML_NONE : isfinite(crit) && fill > crit ? INFRA_HTML_BAD :
			 isfinite(warn) && fill > warn ? INFRA_HTML_WARN : INFRA_HTML_OK;

		fmt_bytes(used, u1, sizeof(u1));
		fmt_bytes(usable, u2, sizeof(u2));
		fmt_bytes(jd(pv, "provisioned_bytes"), u3, sizeof(u3));
		if (t)
			fmt_days(jo(t, "days_until_full"), days, sizeof(days));
		else
			snprintf(days, sizeof(days), "no history (--state-dir)");
		rc |= infra_buf_puts(b, "<tr><td>");
		rc |= infra_html_escape(b, pname);
		rc |= infra_buf_puts(b, "</td><td>");
		rc |= infra_html_escape(b, js(pv, "status"));
		rc |= infra_buf_printf(b, "</td><td class=\"num\">%s</td><td class=\"num\">%s</td><td class=\"num %s\">%.1f%%</td>"
				       "<td class=\"num\">%s</td><td class=\"num\">%s</td><td class=\"num\">%zu</td></tr>\n",
				       u1, u2, st == INFRA_HTML_BAD ? "bad" : st == INFRA_HTML_WARN ? "warn" : "", fill * 100, u3,
				       days, t ? json_object_array_length(jo(t, "points")) : 0);
		if (np >= MAX_POOLS)
			continue;
		snprintf(tip, sizeof(tip), "%s of %s used", u1, u2);
		tips[np] = strdup(tip);
		bars[np] = (struct infra_html_bar){ pname, fill, st, tips[np] };
		np++;
		if (t && json_object_array_length(jo(t, "points")) && ns < MAX_POOLS) {
			json_object *pts = jo(t, "points");
			size_t n = json_object_array_length(pts);
			char nm[300];

			xs[ns] = calloc(n, sizeof(double));
			ys[ns] = calloc(n, sizeof(double));
			if (!xs[ns] || !ys[ns]) {
				rc = -ENOMEM;
				break;
			}
			for (size_t i = 0; i < n; i++) {
				json_object *p = json_object_array_get_idx(pts, i);
				double size = json_object_get_double(json_object_array_get_idx(p, 2));

				xs[ns][i] = json_object_get_double(json_object_array_get_idx(p, 0));
				ys[ns][i] = size > 0 ? json_object_get_double(json_object_array_get_idx(p, 1)) / size : NAN;
			}
			snprintf(nm, sizeof(nm), "%s (full in %s%s)", pname, days, strcmp(days, "not growing") ? " days" : "");
			if (!strcmp(days, "not growing"))
				snprintf(nm, sizeof(nm), "%s (not growing)", pname);
			names[ns] = strdup(nm);
			ser[ns] = (struct infra_html_series){ names[ns] ? names[ns] : pname, n, xs[ns], ys[ns] };
			ns++;
		}
	}
	rc |= infra_buf_puts(b, "</table>\n");
	if (!rc && np)
		rc |= infra_html_bar_chart(b, "Pool fill now (used / usable; dashed: CAP-POOL warn and crit)", "%", bars, np,
					   1, warn, crit);
	if (!rc && ns)
		rc |= infra_html_line_chart(b, "Pool fill over the --state-dir history (days until full by least squares)", "%",
					    ser, ns, 0, 1);
	else if (!rc)
		rc |= infra_buf_puts(b, "<p>No fill history: run with <code>--state-dir DIR</code> to keep one and get a "
				     "trend and days until full.</p>\n");
	for (size_t i = 0; i < MAX_POOLS; i++) {
		free(xs[i]);
		free(ys[i]);
		free(names[i]);
		free(tips[i]);
	}
	return rc ? -ENOMEM : 0;
}

struct volrow {
	const char *name;
	double fill, used, prov;
	json_object *days;
};

static int cmp_vol(const void *x, const void *y)
{
	const struct volrow *a = x, *b = y;

	if (a->fill != b->fill)
		return a->fill < b->fill ? 1 : -1;
	return strcmp(a->name, b->name);
}

static int html_volumes(const struct infra_nasmon_result *res, struct infra_buf *b)
{
	size_t n = res->volumes ? (size_t)json_object_object_length(res->volumes) : 0, k = 0;
	struct volrow *v;
	int rc = 0;

	if (!n)
		return 0;
	v = calloc(n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	json_object_object_foreach(res->volumes, vn, vo) {
		v[k].name = vn;
		v[k].used = jd(vo, "used_bytes");
		v[k].prov = jd(vo, "provisioned_bytes");
		v[k].fill = v[k].prov > 0 ? v[k].used / v[k].prov : 0;
		v[k].days = jo(jo(jo(res->trends, "volumes"), vn), "days_until_full");
		k++;
	}
	qsort(v, k, sizeof(*v), cmp_vol);
	rc |= infra_buf_printf(b, "<h2>Volumes nearest to full</h2>\n<table><tr><th>volume</th><th>used</th>"
			       "<th>provisioned</th><th>fill</th><th>days until full</th></tr>\n");
	for (size_t i = 0; i < k && i < MAX_VOLUMES; i++) {
		char u1[32], u2[32], days[32];

		fmt_bytes(v[i].used, u1, sizeof(u1));
		fmt_bytes(v[i].prov, u2, sizeof(u2));
		if (res->trends && jo(jo(res->trends, "volumes"), v[i].name))
			fmt_days(v[i].days, days, sizeof(days));
		else
			snprintf(days, sizeof(days), "-");
		rc |= infra_buf_puts(b, "<tr><td>");
		rc |= infra_html_escape(b, v[i].name);
		rc |= infra_buf_printf(b, "</td><td class=\"num\">%s</td><td class=\"num\">%s</td><td class=\"num\">%.1f%%</td>"
				       "<td class=\"num\">%s</td></tr>\n", u1, u2, v[i].fill * 100, days);
	}
	free(v);
	return rc | infra_buf_puts(b, "</table>\n");
}

int infra_nasmon_html_render(const struct infra_nasmon_html_run *run, struct infra_buf *b)
{
	char sub[256], now[64];
	const struct infra_nasmon_result *res = run->res;
	int rc;

	infra_rfc3339(run->now, now, sizeof(now));
	if (res)
		snprintf(sub, sizeof(sub), "%s · %zu critical, %zu warning, %zu info findings · generated %s",
			 run->status ? run->status : "unknown", res->nfindings[NASMON_SEV_CRITICAL],
			 res->nfindings[NASMON_SEV_WARNING], res->nfindings[NASMON_SEV_INFO], now);
	else
		snprintf(sub, sizeof(sub), "%s · the checks did not run · generated %s", run->status ? run->status : "unknown", now);
	rc = infra_html_begin(b, "nasmon-check - Kubernetes, democratic-csi and TrueNAS", sub);
	rc |= html_head(run, b);
	if (res) {
		rc |= html_checks(res, b);
		rc |= html_findings(res, b);
		rc |= html_pools(run, b);
		rc |= html_volumes(res, b);
	}
	rc |= infra_html_end(b);
	return rc ? -ENOMEM : 0;
}

int infra_nasmon_html_write(const struct infra_nasmon_html_run *run, const char *path, size_t *bytes,
			    struct infra_err *err)
{
	struct infra_buf b;
	int rc;

	infra_buf_init(&b, 64 << 20);
	rc = infra_nasmon_html_render(run, &b);
	if (rc)
		rc = infra_err_set(err, -ENOMEM, "--html %s: out of memory rendering the page", path);
	else
		rc = infra_atomic_write(path, b.data ? b.data : "", b.len, err);
	if (!rc && bytes)
		*bytes = b.len;
	infra_buf_release(&b);
	return rc;
}
