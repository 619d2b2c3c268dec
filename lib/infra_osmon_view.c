/* infra_osmon_view.c - looking at osmon-run's state directory: the terminal view
 * (infra_tui) and the self-contained HTML report (infra_html). */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infra_history.h"
#include "infra_html.h"
#include "infra_json.h"
#include "infra_osmon.h"
#include "infra_ossvc.h"
#include "infra_report.h"
#include "infra_tui.h"

#define CHART_RUNS 500

struct state {
	json_object *latest;  /* latest_summary.json or NULL */
	json_object *runs;    /* history entries (array) */
	json_object *health;  /* health history entries (array) */
	char dir[PATH_MAX];
};

static size_t alen(json_object *a)
{
	return json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}

static const char *jstr(json_object *o, const char *key, const char *dflt)
{
	json_object *v = json_object_object_get(o, key);

	return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : dflt;
}

static void state_release(struct state *s)
{
	json_object_put(s->latest);
	json_object_put(s->runs);
	json_object_put(s->health);
}

static int state_load(const char *dir, struct state *s, struct infra_err *err)
{
	char p[PATH_MAX + 32];
	int rc;

	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	snprintf(p, sizeof(p), "%s/latest_summary.json", dir);
	rc = infra_json_file_read(p, &s->latest, err);
	if (rc && rc != -ENOENT)
		return rc;
	snprintf(p, sizeof(p), "%s/history.json", dir);
	rc = infra_history_read(p, &s->runs, err);
	if (rc)
		goto bad;
	snprintf(p, sizeof(p), "%s/health_history.json", dir);
	rc = infra_history_read(p, &s->health, err);
	if (rc)
		goto bad;
	/* files written before one vocabulary say nova, cinder...: read them as types,
	 * so an old and a new entry of the same service are one column */
	infra_ossvc_json_keys(json_object_object_get(s->latest, "services"));
	for (size_t i = 0; i < alen(s->runs); i++)
		infra_ossvc_json_keys(json_object_object_get(json_object_array_get_idx(s->runs, i), "services"));
	for (size_t i = 0; i < alen(s->health); i++)
		infra_ossvc_json_keys(json_object_object_get(json_object_array_get_idx(s->health, i), "services"));
	if (!s->latest && !alen(s->runs) && !alen(s->health)) {
		rc = infra_err_set(err, -ENOENT, "nothing recorded in %s yet (run osmon-run first)", dir);
		goto bad;
	}
	return 0;
bad:
	state_release(s);
	return rc;
}

static double run_time(json_object *entry)
{
	double t = NAN;
	const char *id = jstr(entry, "run_id", NULL), *ts = jstr(entry, "time", NULL);

	if (ts && !infra_parse_time(ts, &t))
		return t;
	if (id && !infra_run_id_parse(id, &t))
		return t;
	return NAN;
}

static enum infra_tui_mark status_attr(const char *st)
{
	if (!st)
		return INFRA_TUI_NORMAL;
	if (!strcmp(st, "pass") || !strcmp(st, "ok") || !strcmp(st, "up"))
		return INFRA_TUI_GOOD;
	if (!strcmp(st, "fail") || !strcmp(st, "critical") || !strcmp(st, "down"))
		return INFRA_TUI_BAD;
	return INFRA_TUI_WARN;
}

static void fmt_secs(json_object *v, char *buf, size_t size)
{
	if (json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int))
		snprintf(buf, size, "%.3fs", json_object_get_double(v));
	else
		snprintf(buf, size, "-");
}

static void join_reasons(json_object *svc, json_object *sc, char *buf, size_t size)
{
	size_t len = 0;
	json_object *lists[2] = { json_object_object_get(sc, "reasons"), json_object_object_get(svc, "reasons") };

	buf[0] = '\0';
	for (int l = 0; l < 2; l++)
		for (size_t i = 0; i < alen(lists[l]) && len < size; i++) {
			int n = snprintf(buf + len, size - len, "%s%s", len ? "; " : "",
					 json_object_get_string(json_object_array_get_idx(lists[l], i)));
			if (n > 0)
				len += (size_t)n;
		}
	if (!buf[0] && jstr(svc, "error", NULL))
		snprintf(buf, size, "%s", jstr(svc, "error", ""));
}

/* the service names seen in the history, in first-seen order */
static json_object *service_names(json_object *entries, const char *key)
{
	json_object *names = json_object_new_array();

	for (size_t i = 0; i < alen(entries); i++) {
		json_object *svcs = json_object_object_get(json_object_array_get_idx(entries, i), key);
		if (!json_object_is_type(svcs, json_type_object))
			continue;
		json_object_object_foreach(svcs, name, v) {
			int seen = 0;
			(void)v;
			for (size_t j = 0; j < alen(names); j++)
				seen |= !strcmp(json_object_get_string(json_object_array_get_idx(names, j)), name);
			if (!seen)
				json_object_array_add(names, json_object_new_string(name));
		}
	}
	return names;
}

/* ---- terminal view ---- */

static struct infra_tui_table *tui_latest(const struct state *s)
{
	static const char *const h[] = { "SERVICE", "STATUS", "SCENARIO", "ITER", "RATIO", "MEDIAN", "P95", "SLA" };
	struct infra_tui_table *t = infra_tui_table_new("Latest run", 8, h);
	json_object *svcs = json_object_object_get(s->latest, "services");

	if (!t)
		return NULL;
	for (size_t c = 3; c < 7; c++)
		infra_tui_table_col(t, c, INFRA_TUI_NUM);
	infra_tui_table_empty_text(t, "no run recorded yet");
	if (!json_object_is_type(svcs, json_type_object))
		return t;
	json_object_object_foreach(svcs, name, svc) {
		json_object *sc = json_object_object_get(svc, "scenarios");
		const char *st = jstr(svc, "status", "?");
		char detail[2048];
		if (!alen(sc)) {
			const char *cells[8] = { name, st, jstr(svc, "error", "-"), "", "", "", "", "" };
			join_reasons(svc, NULL, detail, sizeof(detail));
			infra_tui_table_add(t, status_attr(st), cells, detail);
		}
		for (size_t i = 0; i < alen(sc); i++) {
			json_object *x = json_object_array_get_idx(sc, i), *d = json_object_object_get(x, "durations");
			char iter[32], ratio[16], med[24], p95[24];
			const char *xs = jstr(x, "status", "?");
			const char *cells[8] = { name, xs, jstr(x, "name", "?"), iter, ratio, med, p95,
						 json_object_get_boolean(json_object_object_get(
							 json_object_object_get(x, "sla"), "pass")) ? "pass" : "FAIL" };
			snprintf(iter, sizeof(iter), "%lld/%lld",
				 (long long)json_object_get_int64(json_object_object_get(x, "iterations")),
				 (long long)json_object_get_int64(json_object_object_get(x, "iterations_planned")));
			snprintf(ratio, sizeof(ratio), "%.0f%%",
				 100 * json_object_get_double(json_object_object_get(x, "success_ratio")));
			fmt_secs(json_object_object_get(d, "median"), med, sizeof(med));
			fmt_secs(json_object_object_get(d, "p95"), p95, sizeof(p95));
			join_reasons(svc, x, detail, sizeof(detail));
			infra_tui_table_add(t, status_attr(xs), cells, detail[0] ? detail : "all iterations passed");
		}
	}
	return t;
}

/* a table with `nfirst` fixed columns then one per service name seen in entries */
struct svc_table {
	json_object *names;
	size_t nfirst, nsvc, ncols;
	const char **h, **cells;
	char (*buf)[24];
	struct infra_tui_table *t;
};

static int svc_table_init(struct svc_table *st, const char *title, const char *const *first, size_t nfirst,
			  json_object *entries, const char *empty)
{
	memset(st, 0, sizeof(*st));
	st->names = service_names(entries, "services");
	st->nfirst = nfirst;
	st->nsvc = alen(st->names);
	st->ncols = nfirst + st->nsvc;
	st->h = calloc(st->ncols, sizeof(char *));
	st->cells = calloc(st->ncols, sizeof(char *));
	st->buf = calloc(st->ncols, sizeof(*st->buf));
	if (!st->h || !st->cells || !st->buf)
		return -ENOMEM;
	for (size_t j = 0; j < nfirst; j++)
		st->h[j] = first[j];
	for (size_t j = 0; j < st->nsvc; j++)
		st->h[nfirst + j] = json_object_get_string(json_object_array_get_idx(st->names, j));
	st->t = infra_tui_table_new(title, st->ncols, st->h);
	if (!st->t)
		return -ENOMEM;
	infra_tui_table_col(st->t, 0, INFRA_TUI_KEY);
	return infra_tui_table_empty_text(st->t, empty);
}

/* the table (or NULL), everything else released */
static struct infra_tui_table *svc_table_done(struct svc_table *st, int rc)
{
	json_object_put(st->names);
	free(st->h);
	free(st->cells);
	free(st->buf);
	if (rc) {
		infra_tui_table_free(st->t);
		st->t = NULL;
	}
	return st->t;
}

static struct infra_tui_table *tui_runs(const struct state *s)
{
	static const char *const first[] = { "RUN (UTC)", "STATUS" };
	struct svc_table st;
	int rc = svc_table_init(&st, "Run history", first, 2, s->runs, "no run recorded yet");

	for (size_t i = alen(s->runs); !rc && i-- > 0;) { /* newest first */
		json_object *e = json_object_array_get_idx(s->runs, i), *svcs = json_object_object_get(e, "services");
		char detail[1024];
		size_t dl = 0;
		st.cells[0] = jstr(e, "time", jstr(e, "run_id", "?"));
		st.cells[1] = jstr(e, "status", "?");
		detail[0] = '\0';
		for (size_t j = 0; j < st.nsvc; j++) {
			json_object *sv = json_object_object_get(svcs, st.h[2 + j]), *scs;
			snprintf(st.buf[2 + j], sizeof(st.buf[0]), "%s", sv ? jstr(sv, "status", "?") : "-");
			st.cells[2 + j] = st.buf[2 + j];
			scs = json_object_object_get(sv, "scenarios");
			if (!json_object_is_type(scs, json_type_object))
				continue;
			json_object_object_foreach(scs, scn, x) {
				int n;
				if (!strcmp(jstr(x, "status", "pass"), "pass") || dl >= sizeof(detail) - 1)
					continue;
				n = snprintf(detail + dl, sizeof(detail) - dl, "%s%s/%s failed", dl ? "; " : "",
					     st.h[2 + j], scn);
				if (n > 0)
					dl += (size_t)n;
			}
		}
		rc = infra_tui_table_add(st.t, status_attr(!strcmp(st.cells[1], "ok") ? "pass" :
							       !strcmp(st.cells[1], "warning") ? "fail" : "error"),
					     st.cells, detail[0] ? detail : "every scenario passed");
	}
	return svc_table_done(&st, rc);
}

static struct infra_tui_table *tui_health(const struct state *s)
{
	static const char *const first[] = { "CHECK (UTC)" };
	struct svc_table st;
	int rc = svc_table_init(&st, "Health history", first, 1, s->health,
				"no health checks recorded yet (osmon-run --health)");

	for (size_t i = alen(s->health); !rc && i-- > 0;) {
		json_object *e = json_object_array_get_idx(s->health, i), *svcs = json_object_object_get(e, "services");
		int down = 0;
		char detail[1024];
		size_t dl = 0;
		detail[0] = '\0';
		st.cells[0] = jstr(e, "time", "?");
		for (size_t j = 0; j < st.nsvc; j++) {
			json_object *sv = json_object_object_get(svcs, st.h[1 + j]);
			if (!sv) {
				snprintf(st.buf[1 + j], sizeof(st.buf[0]), "-");
			} else if (json_object_get_boolean(json_object_object_get(sv, "up"))) {
				snprintf(st.buf[1 + j], sizeof(st.buf[0]), "up %.0fms",
					 1000 * json_object_get_double(json_object_object_get(sv, "latency_seconds")));
			} else {
				snprintf(st.buf[1 + j], sizeof(st.buf[0]), "DOWN");
				down++;
				if (dl < sizeof(detail) - 1) {
					int n = snprintf(detail + dl, sizeof(detail) - dl, "%s%s: %s", dl ? "; " : "",
							 st.h[1 + j], jstr(sv, "error", "down"));
					if (n > 0)
						dl += (size_t)n;
				}
			}
			st.cells[1 + j] = st.buf[1 + j];
		}
		rc = infra_tui_table_add(st.t, down ? INFRA_TUI_BAD : INFRA_TUI_GOOD, st.cells,
					     detail[0] ? detail : "every service up");
	}
	return svc_table_done(&st, rc);
}

int infra_osmon_tui(const char *state_dir, struct infra_err *err)
{
	struct state s;
	struct infra_tui_table *tabs[3];
	char title[PATH_MAX + 128];
	int rc;

	rc = state_load(state_dir, &s, err);
	if (rc)
		return rc;
	tabs[0] = tui_latest(&s);
	tabs[1] = tui_runs(&s);
	tabs[2] = tui_health(&s);
	snprintf(title, sizeof(title), "osmon-run  %s  last run %s (%s)", state_dir,
		 s.latest ? jstr(s.latest, "run_id", "?") : "none",
		 alen(s.runs) ? jstr(json_object_array_get_idx(s.runs, alen(s.runs) - 1), "status", "?") : "-");
	if (!tabs[0] || !tabs[1] || !tabs[2])
		rc = infra_err_set(err, -ENOMEM, "out of memory");
	else
		rc = infra_tui_run(title, tabs, 3, err);
	for (int i = 0; i < 3; i++)
		infra_tui_table_free(tabs[i]);
	state_release(&s);
	return rc;
}

/* ---- HTML ---- */

static int html_latest(struct infra_buf *b, const struct state *s)
{
	json_object *svcs = json_object_object_get(s->latest, "services");
	int rc = infra_buf_puts(b, "<h2>Latest run</h2>\n<table><tr><th>service</th><th>status</th><th>scenario</th>"
			       "<th>iterations</th><th>failures</th><th>success</th><th>median</th><th>p95</th>"
			       "<th>max</th><th>SLA</th></tr>\n");

	if (!json_object_is_type(svcs, json_type_object))
		return rc | infra_buf_puts(b, "</table><p>No run recorded yet.</p>\n");
	json_object_object_foreach(svcs, name, svc) {
		json_object *sc = json_object_object_get(svc, "scenarios");
		const char *st = jstr(svc, "status", "?");
		char reasons[2048];
		if (!alen(sc)) {
			rc |= infra_buf_puts(b, "<tr><td>");
			rc |= infra_html_escape(b, name);
			rc |= infra_buf_printf(b, "</td><td class=\"%s\">%s</td><td colspan=\"8\" class=\"reason\">",
					       st, !strcmp(st, "error") ? "error" : st);
			rc |= infra_html_escape(b, jstr(svc, "error", ""));
			rc |= infra_buf_puts(b, "</td></tr>\n");
		}
		for (size_t i = 0; i < alen(sc); i++) {
			json_object *x = json_object_array_get_idx(sc, i), *d = json_object_object_get(x, "durations");
			const char *xs = jstr(x, "status", "?");
			char med[24], p95[24], mx[24];
			fmt_secs(json_object_object_get(d, "median"), med, sizeof(med));
			fmt_secs(json_object_object_get(d, "p95"), p95, sizeof(p95));
			fmt_secs(json_object_object_get(d, "max"), mx, sizeof(mx));
			rc |= infra_buf_puts(b, "<tr><td>");
			if (i == 0)
				rc |= infra_html_escape(b, name);
			rc |= infra_buf_printf(b, "</td><td class=\"%s\">%s</td><td>", !strcmp(xs, "pass") ? "pass" : "fail",
					       !strcmp(xs, "pass") ? "pass" : "fail");
			rc |= infra_html_escape(b, jstr(x, "name", "?"));
			join_reasons(i + 1 == alen(sc) ? svc : NULL, x, reasons, sizeof(reasons));
			if (reasons[0]) {
				rc |= infra_buf_puts(b, "<div class=\"reason\">");
				rc |= infra_html_escape(b, reasons);
				rc |= infra_buf_puts(b, "</div>");
			}
			rc |= infra_buf_printf(b, "</td><td class=\"num\">%lld/%lld</td><td class=\"num\">%lld</td>"
					       "<td class=\"num\">%.0f%%</td><td class=\"num\">%s</td><td class=\"num\">%s</td>"
					       "<td class=\"num\">%s</td><td class=\"%s\">%s</td></tr>\n",
					       (long long)json_object_get_int64(json_object_object_get(x, "iterations")),
					       (long long)json_object_get_int64(json_object_object_get(x, "iterations_planned")),
					       (long long)json_object_get_int64(json_object_object_get(x, "failures")),
					       100 * json_object_get_double(json_object_object_get(x, "success_ratio")),
					       med, p95, mx,
					       json_object_get_boolean(json_object_object_get(json_object_object_get(x, "sla"), "pass")) ? "pass" : "fail",
					       json_object_get_boolean(json_object_object_get(json_object_object_get(x, "sla"), "pass")) ? "pass" : "fail");
		}
	}
	return rc | infra_buf_puts(b, "</table>\n");
}

static int html_charts(struct infra_buf *b, const struct state *s)
{
	size_t total = alen(s->runs), first = total > CHART_RUNS ? total - CHART_RUNS : 0, n = total - first;
	json_object *names = service_names(s->runs, "services");
	size_t nsvc = alen(names);
	double *x = calloc(n + 1, sizeof(double)), *y = calloc((n + 1) * (nsvc + 1), sizeof(double));
	int *states = calloc((n + 1) * (nsvc + 1), sizeof(int));
	const char **tips = calloc((n + 1) * (nsvc + 1), sizeof(char *));
	struct infra_html_series *ser = calloc(nsvc + 1, sizeof(*ser));
	struct infra_html_timeline_row *rows = calloc(nsvc + 1, sizeof(*rows));
	int rc = 0;

	if (!x || !y || !states || !tips || !ser || !rows) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		x[i] = run_time(json_object_array_get_idx(s->runs, first + i));
	for (size_t j = 0; j < nsvc; j++) {
		const char *svc = json_object_get_string(json_object_array_get_idx(names, j));
		for (size_t i = 0; i < n; i++) {
			json_object *e = json_object_array_get_idx(s->runs, first + i);
			json_object *sv = json_object_object_get(json_object_object_get(e, "services"), svc);
			json_object *scs = json_object_object_get(sv, "scenarios");
			const char *st = sv ? jstr(sv, "status", "?") : NULL;
			double sum = 0;
			int cnt = 0;
			if (json_object_is_type(scs, json_type_object)) {
				json_object_object_foreach(scs, k, v) {
					(void)k;
					sum += json_object_get_double(json_object_object_get(v, "success_ratio"));
					cnt++;
				}
			}
			y[j * n + i] = !sv ? NAN : cnt ? sum / cnt : 0;
			states[j * n + i] = !st ? INFRA_HTML_NONE : !strcmp(st, "pass") ? INFRA_HTML_OK :
					    !strcmp(st, "fail") ? INFRA_HTML_BAD : INFRA_HTML_WARN;
			tips[j * n + i] = jstr(e, "run_id", NULL);
		}
		ser[j] = (struct infra_html_series){ svc, n, x, y + j * n };
		rows[j] = (struct infra_html_timeline_row){ svc, n, x, states + j * n, tips + j * n };
	}
	rc |= infra_buf_puts(b, "<h2>Over time</h2>\n");
	if (nsvc) {
		rc |= infra_html_timeline(b, "Run result per service (green pass, red fail, yellow error)", rows, nsvc);
		rc |= infra_html_line_chart(b, "Success ratio per service (mean of its scenarios)", "%", ser, nsvc, 0, 1);
	}
	/* durations: one chart per service, one line per scenario */
	for (size_t j = 0; j < nsvc && !rc; j++) {
		const char *svc = json_object_get_string(json_object_array_get_idx(names, j));
		json_object *scn = json_object_new_array();
		struct infra_html_series *ds;
		double *dy;
		size_t ns;
		char title[256];
		for (size_t i = 0; i < n; i++) {
			json_object *scs = json_object_object_get(json_object_object_get(json_object_object_get(
				json_object_array_get_idx(s->runs, first + i), "services"), svc), "scenarios");
			if (!json_object_is_type(scs, json_type_object))
				continue;
			json_object_object_foreach(scs, k, v) {
				int seen = 0;
				(void)v;
				for (size_t q = 0; q < alen(scn); q++)
					seen |= !strcmp(json_object_get_string(json_object_array_get_idx(scn, q)), k);
				if (!seen)
					json_object_array_add(scn, json_object_new_string(k));
			}
		}
		ns = alen(scn);
		ds = calloc(ns + 1, sizeof(*ds));
		dy = calloc((ns + 1) * (n + 1), sizeof(double));
		if (ns && ds && dy) {
			for (size_t q = 0; q < ns; q++) {
				const char *k = json_object_get_string(json_object_array_get_idx(scn, q));
				for (size_t i = 0; i < n; i++) {
					json_object *v = json_object_object_get(json_object_object_get(json_object_object_get(
						json_object_object_get(json_object_array_get_idx(s->runs, first + i), "services"),
						svc), "scenarios"), k), *m = json_object_object_get(v, "median");
					dy[q * n + i] = m ? json_object_get_double(m) : NAN;
				}
				ds[q] = (struct infra_html_series){ k, n, x, dy + q * n };
			}
			snprintf(title, sizeof(title), "%s: median iteration duration per scenario", svc);
			rc |= infra_html_line_chart(b, title, "s", ds, ns, NAN, NAN);
		} else if (ns) {
			rc = -ENOMEM;
		}
		free(ds);
		free(dy);
		json_object_put(scn);
	}
out:
	free(x);
	free(y);
	free(states);
	free(tips);
	free(ser);
	free(rows);
	json_object_put(names);
	return rc ? -ENOMEM : 0;
}

static int html_health(struct infra_buf *b, const struct state *s)
{
	size_t n = alen(s->health);
	json_object *names = service_names(s->health, "services");
	size_t nsvc = alen(names);
	double *x = calloc(n + 1, sizeof(double)), *lat = calloc((n + 1) * (nsvc + 1), sizeof(double));
	int *st = calloc((n + 1) * (nsvc + 1), sizeof(int)), rc = 0;
	struct infra_html_timeline_row *rows = calloc(nsvc + 1, sizeof(*rows));
	struct infra_html_series *ser = calloc(nsvc + 1, sizeof(*ser));

	rc |= infra_buf_puts(b, "<h2>Health checks</h2>\n");
	if (!x || !lat || !st || !rows || !ser) {
		rc = -ENOMEM;
		goto out;
	}
	if (!n) {
		rc |= infra_buf_puts(b, "<p>No health checks recorded yet (<code>osmon-run --health</code>).</p>\n");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		x[i] = run_time(json_object_array_get_idx(s->health, i));
	for (size_t j = 0; j < nsvc; j++) {
		const char *svc = json_object_get_string(json_object_array_get_idx(names, j));
		for (size_t i = 0; i < n; i++) {
			json_object *sv = json_object_object_get(json_object_object_get(
				json_object_array_get_idx(s->health, i), "services"), svc);
			int up = json_object_get_boolean(json_object_object_get(sv, "up"));
			st[j * n + i] = !sv ? INFRA_HTML_NONE : up ? INFRA_HTML_OK : INFRA_HTML_BAD;
			lat[j * n + i] = sv && up ? json_object_get_double(json_object_object_get(sv, "latency_seconds")) : NAN;
		}
		rows[j] = (struct infra_html_timeline_row){ svc, n, x, st + j * n, NULL };
		ser[j] = (struct infra_html_series){ svc, n, x, lat + j * n };
	}
	rc |= infra_html_timeline(b, "Health per service (green up, red down)", rows, nsvc);
	rc |= infra_html_line_chart(b, "Health check latency", "s", ser, nsvc, NAN, NAN);
out:
	free(x);
	free(lat);
	free(st);
	free(rows);
	free(ser);
	json_object_put(names);
	return rc ? -ENOMEM : 0;
}

static int html_runs_table(struct infra_buf *b, const struct state *s)
{
	json_object *names = service_names(s->runs, "services");
	size_t nsvc = alen(names), shown = 0;
	int rc = infra_buf_puts(b, "<h2>Recent runs</h2>\n<table><tr><th>run (UTC)</th><th>status</th>");

	for (size_t j = 0; j < nsvc; j++) {
		rc |= infra_buf_puts(b, "<th>");
		rc |= infra_html_escape(b, json_object_get_string(json_object_array_get_idx(names, j)));
		rc |= infra_buf_puts(b, "</th>");
	}
	rc |= infra_buf_puts(b, "</tr>\n");
	for (size_t i = alen(s->runs); i-- > 0 && shown < 50; shown++) {
		json_object *e = json_object_array_get_idx(s->runs, i);
		const char *st = jstr(e, "status", "?");
		rc |= infra_buf_puts(b, "<tr><td>");
		rc |= infra_html_escape(b, jstr(e, "time", jstr(e, "run_id", "?")));
		rc |= infra_buf_printf(b, "</td><td class=\"%s\">", !strcmp(st, "ok") ? "ok" : !strcmp(st, "warning") ? "bad" : "warn");
		rc |= infra_html_escape(b, st);
		rc |= infra_buf_puts(b, "</td>");
		for (size_t j = 0; j < nsvc; j++) {
			json_object *sv = json_object_object_get(json_object_object_get(e, "services"),
				json_object_get_string(json_object_array_get_idx(names, j)));
			const char *ss = sv ? jstr(sv, "status", "?") : NULL;
			if (!ss)
				rc |= infra_buf_puts(b, "<td></td>");
			else
				rc |= infra_buf_printf(b, "<td><span class=\"badge %s\">%s</span></td>",
						       !strcmp(ss, "pass") ? "pass" : !strcmp(ss, "fail") ? "fail" : "error",
						       !strcmp(ss, "pass") ? "pass" : !strcmp(ss, "fail") ? "fail" : "error");
		}
		rc |= infra_buf_puts(b, "</tr>\n");
	}
	json_object_put(names);
	return rc | infra_buf_puts(b, "</table>\n");
}

int infra_osmon_html(const char *state_dir, const char *path, size_t *bytes, struct infra_err *err)
{
	struct infra_buf b = INFRA_BUF_INIT;
	struct state s;
	char sub[PATH_MAX + 256], now[64];
	int rc;

	rc = state_load(state_dir, &s, err);
	if (rc)
		return rc;
	infra_rfc3339(infra_now(), now, sizeof(now));
	snprintf(sub, sizeof(sub), "state %s · last run %s · %zu runs and %zu health checks recorded · generated %s",
		 state_dir, s.latest ? jstr(s.latest, "run_id", "?") : "none", alen(s.runs), alen(s.health), now);
	infra_buf_init(&b, 64 << 20);
	rc = infra_html_begin(&b, "osmon - OpenStack test runs", sub);
	rc |= html_latest(&b, &s);
	rc |= html_charts(&b, &s);
	rc |= html_health(&b, &s);
	rc |= html_runs_table(&b, &s);
	rc |= infra_html_end(&b);
	if (rc)
		rc = infra_err_set(err, -ENOMEM, "out of memory rendering HTML");
	else
		rc = infra_atomic_write(path, b.data, b.len, err);
	if (!rc && bytes)
		*bytes = b.len;
	infra_buf_release(&b);
	state_release(&s);
	return rc;
}
