#include "infra_kata_top.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infra_prom.h"
#include "infra_report.h"
#include "infra_tui.h"

static const char *label(const struct infra_prom_event *ev, const char *name)
{
	for (size_t i = 0; i < ev->nlabels; i++)
		if (!strcmp(ev->labels[i].name, name))
			return ev->labels[i].value;
	return NULL;
}

static int summary_cb(void *ud, const struct infra_prom_event *ev)
{
	struct infra_kata_summary *s = ud;
	const char *item;

	if (ev->kind != INFRA_PROM_EV_SAMPLE)
		return 0;
	s->samples++;
	item = label(ev, "item");
	if (!item)
		return 0;
	if (!strcmp(ev->name, "kata_guest_cpu_time")) {
		const char *cpu = label(ev, "cpu");
		if (cpu && !strcmp(cpu, "total") && strcmp(item, "idle") && strcmp(item, "iowait") &&
		    strcmp(item, "guest") && strcmp(item, "guest_nice"))
			s->cpu_busy_ms = (isnan(s->cpu_busy_ms) ? 0 : s->cpu_busy_ms) + ev->value;
	} else if (!strcmp(ev->name, "kata_guest_meminfo")) {
		if (!strcmp(item, "mem_total"))
			s->mem_total = ev->value;
		else if (!strcmp(item, "mem_available"))
			s->mem_available = ev->value;
	} else if (!strcmp(ev->name, "kata_guest_load") && !strcmp(item, "load1")) {
		s->load1 = ev->value;
	} else if (!strcmp(ev->name, "kata_hypervisor_proc_status") && !strcmp(item, "vmrss")) {
		s->vmm_rss = ev->value; /* Go runtime: bytes */
	} else if (!strcmp(ev->name, "kata_shim_proc_status") && !strcmp(item, "vmrss") &&
		   isnan(s->vmm_rss) && !label(ev, "interface")) {
		s->vmm_rss = -ev->value; /* provisional: kB, runtime-rs shim+VMM; fixed up below */
	}
	return 0;
}

int infra_kata_summarize(const char *body, size_t len, struct infra_kata_summary *s, struct infra_err *err)
{
	int rc;

	s->cpu_busy_ms = s->mem_total = s->mem_available = s->load1 = s->vmm_rss = NAN;
	s->samples = 0;
	rc = infra_prom_parse(body, len, summary_cb, s, err);
	if (!isnan(s->vmm_rss) && s->vmm_rss < 0)
		s->vmm_rss = -s->vmm_rss * 1024;
	return rc;
}

static void human(char *buf, size_t n, double bytes)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int u = 0;

	if (isnan(bytes)) {
		snprintf(buf, n, "-");
		return;
	}
	while (bytes >= 1024 && u < 4) {
		bytes /= 1024;
		u++;
	}
	snprintf(buf, n, u ? "%.1f %s" : "%.0f %s", bytes, unit[u]);
}

struct prev {
	char *id;
	double busy_ms, at;
};

/* most important first: at 80 columns the pod, state, CPU, memory, load and RSS
 * fit beside the sandbox id; the rest is reached with Right and is in the detail line */
enum { C_ID, C_POD, C_STATE, C_CPU, C_MEM, C_LOAD, C_RSS, C_SCRAPE, C_SERIES, C_RT, C_NOTE, NCOLS };
static const char *const headers[NCOLS] = {
	"SANDBOX", "NAMESPACE/POD", "STATE", "CPU%", "MEM USED", "LOAD1", "VMM RSS", "SCRAPE", "SERIES", "RT", "NOTE",
};
#define CELL 128

int infra_kata_top(const struct infra_kata_root *roots, size_t nroots, const struct infra_kata_opts *o,
		   struct infra_http *h, double interval, struct infra_err *err)
{
	struct infra_tui *ui = infra_tui_new(1, err);
	struct infra_tui_table *shown = NULL;
	struct prev *prev = NULL, *next;
	size_t nprev = 0;
	int key = 0, rc = 0;

	if (!ui)
		return err->code ? err->code : -ENOTTY;
	while (key != 'q' && !rc) {
		struct infra_kata_set set;
		struct infra_kata_run run;
		struct infra_tui_table *t = NULL;
		char title[256], status[512];
		size_t ok = 0, failed = 0;
		double now;

		if ((rc = infra_kata_discover(o->sysroot, roots, nroots, &set, err)))
			break;
		if ((rc = infra_kata_run_init(&run, &set))) {
			infra_kata_set_release(&set);
			break;
		}
		infra_kata_enrich(&run, o);
		infra_kata_select(&run, o);
		rc = infra_kata_scrape(&run, h, o, 0, err);
		now = infra_now_mono();
		next = calloc(set.n + 1, sizeof(*next));
		t = infra_tui_table_new("sandboxes", NCOLS, headers);
		if (!rc && (!next || !t))
			rc = infra_err_set(err, -ENOMEM, "out of memory");
		for (size_t k = C_CPU; !rc && k <= C_SERIES; k++)
			infra_tui_table_col(t, k, INFRA_TUI_NUM);
		if (!rc)
			infra_tui_table_col(t, C_ID, INFRA_TUI_KEY);
		for (size_t i = 0; !rc && i < set.n; i++) {
			const struct infra_kata_sandbox *sb = &set.v[i];
			struct infra_kata_result *r = &run.res[i];
			struct infra_kata_summary s;
			struct infra_err pe = INFRA_ERR_INIT;
			char c[NCOLS][CELL] = { { 0 } }, detail[1024];
			const char *cp[NCOLS];
			enum infra_tui_mark mark = INFRA_TUI_NORMAL;
			const char *why;

			for (size_t k = 0; k < NCOLS; k++)
				cp[k] = c[k];
			snprintf(c[C_ID], CELL, "%.12s", sb->id);
			snprintf(c[C_RT], CELL, "%s", infra_kata_runtime_name(sb->runtime));
			if (sb->cri_name[0])
				snprintf(c[C_POD], CELL, "%.30s/%.30s", sb->cri_namespace, sb->cri_name);
			else
				snprintf(c[C_POD], CELL, "-");
			next[i].id = sb->id;
			next[i].busy_ms = NAN;
			if (r->outcome == INFRA_KATA_OK && infra_kata_summarize(r->body, r->bytes, &s, &pe)) {
				r->outcome = INFRA_KATA_FAILED;
				r->reason = "parse";
				snprintf(r->error, sizeof(r->error), "invalid metrics: %.400s", pe.msg);
			}
			if (r->outcome == INFRA_KATA_SKIPPED) {
				snprintf(c[C_STATE], CELL, "skipped");
				mark = INFRA_TUI_DIM;
				snprintf(c[C_NOTE], CELL, "%.127s", r->reason ? r->reason : "");
			} else if (r->outcome != INFRA_KATA_OK) {
				snprintf(c[C_SCRAPE], CELL, "%.0fms", r->duration * 1000);
				snprintf(c[C_STATE], CELL, "FAILED");
				mark = INFRA_TUI_BAD;
				snprintf(c[C_NOTE], CELL, "%s: %.100s", r->reason, r->error);
				failed++;
			} else {
				snprintf(c[C_SCRAPE], CELL, "%.0fms", r->duration * 1000);
				ok++;
				snprintf(c[C_STATE], CELL, "ok");
				mark = INFRA_TUI_GOOD;
				next[i].busy_ms = s.cpu_busy_ms;
				next[i].at = now;
				snprintf(c[C_CPU], CELL, "-");
				for (size_t k = 0; k < nprev; k++) {
					double dt = (now - prev[k].at) * 1000;
					if (strcmp(prev[k].id, sb->id) || isnan(prev[k].busy_ms) || isnan(s.cpu_busy_ms) ||
					    dt <= 0)
						continue;
					snprintf(c[C_CPU], CELL, "%.1f",
						 fmax(0, s.cpu_busy_ms - prev[k].busy_ms) / dt * 100);
				}
				if (!isnan(s.mem_total) && !isnan(s.mem_available)) {
					char a[32], b[32];
					human(a, sizeof(a), s.mem_total - s.mem_available);
					human(b, sizeof(b), s.mem_total);
					snprintf(c[C_MEM], CELL, "%s/%s", a, b);
				} else {
					snprintf(c[C_MEM], CELL, "-");
				}
				if (isnan(s.load1))
					snprintf(c[C_LOAD], CELL, "-");
				else
					snprintf(c[C_LOAD], CELL, "%.2f", s.load1);
				human(c[C_RSS], CELL, s.vmm_rss);
				snprintf(c[C_SERIES], CELL, "%zu", s.samples);
			}
			/* the whole row, uncut, for the detail line */
			why = r->outcome == INFRA_KATA_SKIPPED ? (r->reason ? r->reason : "")
			      : r->outcome != INFRA_KATA_OK ? r->error : NULL;
			snprintf(detail, sizeof(detail), "pod %s  %s%s%s  (%s, sandbox %s)", c[C_POD], c[C_STATE],
				 why ? ": " : "", why ? why : "", infra_kata_runtime_name(sb->runtime), sb->id);
			rc = infra_tui_table_add(t, mark, cp, detail);
			if (rc)
				infra_err_set(err, rc, "out of memory");
		}
		snprintf(title, sizeof(title), "katapulse-scrape --tui: %zu sandboxes, %zu ok, %zu failed, %zu skipped",
			 set.n, ok, failed, run.skipped);
		snprintf(status, sizeof(status), "refresh every %.1fs (last scrape %.0f ms)%s%.300s",
			 interval, run.scrape_seconds * 1000, run.cri_error[0] ? "  CRI: " : "", run.cri_error);
		if (!rc && (rc = infra_tui_show(ui, title, status, &t, 1)))
			infra_err_set(err, rc, "out of memory");
		/* the view borrowed the last table until now */
		infra_tui_table_free(rc ? t : shown);
		shown = rc ? shown : t;
		/* keep this round's CPU counters (ids copied: the set goes away) */
		for (size_t k = 0; k < nprev; k++)
			free(prev[k].id);
		free(prev);
		prev = next;
		nprev = next ? set.n : 0;
		for (size_t k = 0; k < nprev; k++)
			if (prev[k].id && !(prev[k].id = strdup(prev[k].id)))
				rc = infra_err_set(err, -ENOMEM, "out of memory");
		infra_kata_run_release(&run);
		infra_kata_set_release(&set);
		if (!rc)
			key = infra_tui_wait(ui, interval);
	}
	for (size_t k = 0; k < nprev; k++)
		free(prev[k].id);
	free(prev);
	infra_tui_free(ui);
	infra_tui_table_free(shown);
	return rc;
}
