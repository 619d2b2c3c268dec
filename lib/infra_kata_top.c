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

static const struct infra_tui_col cols[] = {
	{ "SANDBOX", 12, 0 }, { "RT", 2, 0 }, { "NAMESPACE/POD", 30, 0 }, { "STATE", 7, 0 },
	{ "SCRAPE", 7, 1 }, { "CPU%", 6, 1 }, { "MEM USED", 19, 1 }, { "LOAD1", 5, 1 },
	{ "VMM RSS", 9, 1 }, { "SERIES", 6, 1 }, { "NOTE", 0, 0 },
};
#define NCOLS (sizeof(cols) / sizeof(cols[0]))
#define CELL 128

int infra_kata_top(const struct infra_kata_root *roots, size_t nroots, const struct infra_kata_opts *o,
		   struct infra_http *h, double interval, struct infra_err *err)
{
	struct infra_tui *t = infra_tui_new(cols, NCOLS, err);
	struct prev *prev = NULL, *next;
	size_t nprev = 0;
	int key = 0, rc = 0;

	if (!t)
		return err->code ? err->code : -ENOTTY;
	while (key != 'q' && !rc) {
		struct infra_kata_set set;
		struct infra_kata_run run;
		char (*cells)[CELL] = NULL;
		const char **ptr = NULL;
		enum infra_tui_mark *marks = NULL;
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
		cells = calloc(set.n * NCOLS + 1, CELL);
		ptr = calloc(set.n * NCOLS + 1, sizeof(*ptr));
		marks = calloc(set.n + 1, sizeof(*marks));
		next = calloc(set.n + 1, sizeof(*next));
		if (!rc && (!cells || !ptr || !marks || !next))
			rc = infra_err_set(err, -ENOMEM, "out of memory");
		for (size_t i = 0; !rc && i < set.n; i++) {
			const struct infra_kata_sandbox *sb = &set.v[i];
			struct infra_kata_result *r = &run.res[i];
			struct infra_kata_summary s;
			struct infra_err pe = INFRA_ERR_INIT;
			char (*c)[CELL] = &cells[i * NCOLS];
			const char *note = "";

			for (size_t k = 0; k < NCOLS; k++)
				ptr[i * NCOLS + k] = c[k];
			snprintf(c[0], CELL, "%.12s", sb->id);
			snprintf(c[1], CELL, "%s", infra_kata_runtime_name(sb->runtime));
			if (sb->cri_name[0])
				snprintf(c[2], CELL, "%.30s/%.30s", sb->cri_namespace, sb->cri_name);
			else
				snprintf(c[2], CELL, "-");
			next[i].id = sb->id;
			next[i].busy_ms = NAN;
			if (r->outcome == INFRA_KATA_OK && infra_kata_summarize(r->body, r->bytes, &s, &pe)) {
				r->outcome = INFRA_KATA_FAILED;
				r->reason = "parse";
				snprintf(r->error, sizeof(r->error), "invalid metrics: %.400s", pe.msg);
			}
			if (r->outcome == INFRA_KATA_SKIPPED) {
				snprintf(c[3], CELL, "skipped");
				marks[i] = INFRA_TUI_DIM;
				note = r->reason ? r->reason : "";
				snprintf(c[10], CELL, "%.127s", note);
				continue;
			}
			snprintf(c[4], CELL, "%.0fms", r->duration * 1000);
			if (r->outcome != INFRA_KATA_OK) {
				snprintf(c[3], CELL, "FAILED");
				marks[i] = INFRA_TUI_BAD;
				snprintf(c[10], CELL, "%s: %.50s", r->reason, r->error);
				failed++;
				continue;
			}
			ok++;
			snprintf(c[3], CELL, "ok");
			marks[i] = INFRA_TUI_GOOD;
			next[i].busy_ms = s.cpu_busy_ms;
			next[i].at = now;
			snprintf(c[5], CELL, "-");
			for (size_t k = 0; k < nprev; k++) {
				double dt = (now - prev[k].at) * 1000;
				if (strcmp(prev[k].id, sb->id) || isnan(prev[k].busy_ms) || isnan(s.cpu_busy_ms) || dt <= 0)
					continue;
				snprintf(c[5], CELL, "%.1f", fmax(0, s.cpu_busy_ms - prev[k].busy_ms) / dt * 100);
			}
			if (!isnan(s.mem_total) && !isnan(s.mem_available)) {
				char a[32], b[32];
				human(a, sizeof(a), s.mem_total - s.mem_available);
				human(b, sizeof(b), s.mem_total);
				snprintf(c[6], CELL, "%s/%s", a, b);
			} else {
				snprintf(c[6], CELL, "-");
			}
			if (isnan(s.load1))
				snprintf(c[7], CELL, "-");
			else
				snprintf(c[7], CELL, "%.2f", s.load1);
			human(c[8], CELL, s.vmm_rss);
			snprintf(c[9], CELL, "%zu", s.samples);
		}
		snprintf(title, sizeof(title), "katapulse-scrape --tui: %zu sandboxes, %zu ok, %zu failed, %zu skipped",
			 set.n, ok, failed, run.skipped);
		snprintf(status, sizeof(status), "refresh every %.1fs (last scrape %.0f ms)  q quit  r refresh  arrows scroll%s%.300s",
			 interval, run.scrape_seconds * 1000, run.cri_error[0] ? "  CRI: " : "", run.cri_error);
		if (!rc)
			rc = infra_tui_draw(t, title, status, ptr, marks, set.n);
		/* keep this round's CPU counters (ids copied: the set goes away) */
		for (size_t k = 0; k < nprev; k++)
			free(prev[k].id);
		free(prev);
		prev = next;
		nprev = next ? set.n : 0;
		for (size_t k = 0; k < nprev; k++)
			if (prev[k].id && !(prev[k].id = strdup(prev[k].id)))
				rc = infra_err_set(err, -ENOMEM, "out of memory");
		free(cells);
		free(ptr);
		free(marks);
		infra_kata_run_release(&run);
		infra_kata_set_release(&set);
		if (!rc)
			key = infra_tui_wait(t, interval);
	}
	for (size_t k = 0; k < nprev; k++)
		free(prev[k].id);
	free(prev);
	infra_tui_free(t);
	return rc;
}
