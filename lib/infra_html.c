#include "infra_html.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define W 860
#define H 260
#define PADL 64
#define PADR 250
#define PADT 28
#define PADB 36
#define LEGEND_CHARS 34 /* fits PADR - 26 px at 11px */
#define ROW_CHARS 9     /* fits PADL - 6 px */
#define MIN_BAR 1.0     /* px: the narrowest visible timeline bar */

static const char *const palette[] = { "#4fc3f7", "#81c784", "#ffb74d", "#e57373", "#ba68c8",
				       "#4db6ac", "#f06292", "#dce775", "#90a4ae", "#ffd54f" };
#define NPAL (sizeof(palette) / sizeof(palette[0]))
static const char *const state_color[] = { "#37474f", "#43a047", "#fdd835", "#e53935" };

int infra_html_escape(struct infra_buf *b, const char *s)
{
	int rc = 0;

	for (; s && *s && !rc; s++) {
		switch (*s) {
		case '&': rc = infra_buf_puts(b, "&amp;"); break;
		case '<': rc = infra_buf_puts(b, "&lt;"); break;
		case '>': rc = infra_buf_puts(b, "&gt;"); break;
		case '"': rc = infra_buf_puts(b, "&quot;"); break;
		case '\'': rc = infra_buf_puts(b, "&#39;"); break;
		default: rc = infra_buf_putc(b, *s); break;
		}
	}
	return rc;
}

int infra_html_begin(struct infra_buf *b, const char *title, const char *subtitle)
{
	int rc = infra_buf_puts(b,
		"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
		"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
	rc |= infra_html_escape(b, title);
	rc |= infra_buf_puts(b, "</title>\n<style>\n"
		":root{color-scheme:dark}\n"
		"body{background:#121417;color:#d8dee4;font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px auto;max-width:1100px;padding:0 16px}\n"
		"h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;color:#e8edf2}\n"
		".sub{color:#8b949e;margin-bottom:16px}\n"
		"table{border-collapse:collapse;width:100%;margin:8px 0}th,td{padding:4px 8px;text-align:left;border-bottom:1px solid #2a2f36;vertical-align:top}\n"
		"th{color:#8b949e;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}\n"
		".pass,.ok{color:#66bb6a}.fail,.bad{color:#ef5350}.error,.warn{color:#ffca28}\n"
		".badge{display:inline-block;min-width:14px;padding:0 4px;border-radius:3px;font-size:12px;text-align:center}\n"
		".badge.pass{background:#1b5e20;color:#e8f5e9}.badge.fail{background:#b71c1c;color:#ffebee}.badge.error{background:#795548;color:#fff8e1}\n"
		".reason{color:#c9a0a0;font-size:12px}\n"
		".card{background:#1a1e23;border:1px solid #2a2f36;border-radius:6px;padding:12px;margin:12px 0}\n"
		"svg text{fill:#aab4be;font:11px system-ui,sans-serif}\n"
		"</style></head><body>\n<h1>");
	rc |= infra_html_escape(b, title);
	rc |= infra_buf_puts(b, "</h1>\n<div class=\"sub\">");
	rc |= infra_html_escape(b, subtitle);
	rc |= infra_buf_puts(b, "</div>\n");
	return rc ? -ENOMEM : 0;
}

int infra_html_end(struct infra_buf *b)
{
	return infra_buf_puts(b, "</body></html>\n");
}

static void time_label(double t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(buf, size, "%m-%d %H:%M", &tm))
		snprintf(buf, size, "?");
}

static void x_range(const double *const *xs, const size_t *ns, size_t k, double *x0, double *x1)
{
	*x0 = INFINITY;
	*x1 = -INFINITY;
	for (size_t i = 0; i < k; i++)
		for (size_t j = 0; j < ns[i]; j++) {
			if (xs[i][j] < *x0)
				*x0 = xs[i][j];
			if (xs[i][j] > *x1)
				*x1 = xs[i][j];
		}
	if (!isfinite(*x0)) {
		*x0 = 0;
		*x1 = 1;
	}
	if (*x1 <= *x0)
		*x1 = *x0 + 3600; /* one point: an hour wide */
}

static int time_axis(struct infra_buf *b, double x0, double x1, int y)
{
	int rc = 0;

	for (int i = 0; i <= 4; i++) {
		double t = x0 + (x1 - x0) * i / 4.0;
		double px = PADL + (W - PADL - PADR) * i / 4.0;
		char lab[32];
		time_label(t, lab, sizeof(lab));
		/* the last label ends at the axis end, clear of the legend */
		rc |= infra_buf_printf(b, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"%s\">%s</text>\n", px, y,
				       i == 4 ? "end" : "middle", lab);
	}
	return rc;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* the real time step of a schedule: the median spacing of x (0 if fewer than 2 points) */
static double median_step(const double *x, size_t n)
{
	double *d, m;

	if (n < 2)
		return 0;
	d = malloc((n - 1) * sizeof(*d));
	if (!d)
		return 0;
	for (size_t i = 1; i < n; i++)
		d[i - 1] = x[i] - x[i - 1];
	qsort(d, n - 1, sizeof(*d), cmp_d);
	m = d[(n - 1) / 2];
	free(d);
	return m > 0 ? m : 0;
}

/* consecutive points further apart than 3x the median spacing are a pause in the
 * schedule: no line joins them, no bar stretches over it */
static double max_gap(const double *x, size_t n)
{
	double m = n < 3 ? 0 : median_step(x, n);

	return m > 0 ? 3 * m : INFINITY;
}

/* a round tick step (1, 2 or 5 x 10^k) giving at most 6 intervals over span */
static double nice_step(double span)
{
	double raw = span / 6, p, f;

	if (!(raw > 0) || !isfinite(raw))
		return 1;
	p = pow(10, floor(log10(raw)));
	f = raw / p;
	return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

/* legend and row labels: at most max bytes (UTF-8 kept whole), "..." when cut */
static int short_label(struct infra_buf *b, const char *s, size_t max)
{
	char cut[128];
	size_t n = s ? strlen(s) : 0;

	if (n <= max || max + 1 > sizeof(cut) || max < 4)
		return infra_html_escape(b, s);
	n = max - 1;
	while (n && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--; /* do not split a multi-byte character */
	memcpy(cut, s, n);
	cut[n] = '\0';
	return infra_html_escape(b, cut) | infra_buf_puts(b, "\xe2\x80\xa6");
}

int infra_html_line_chart(struct infra_buf *b, const char *title, const char *unit,
			  const struct infra_html_series *s, size_t ns, double ymin, double ymax)
{
	const double *xs[64] = { 0 };
	size_t nn[64] = { 0 }, k = ns < 64 ? ns : 64;
	double x0, x1, lo = INFINITY, hi = -INFINITY, step;
	int pct = unit && !strcmp(unit, "%"), rc = 0;
	int hh = PADT + (int)k * 16 + 6 > H ? PADT + (int)k * 16 + 6 : H; /* room for every legend line */

	for (size_t i = 0; i < k; i++) {
		xs[i] = s[i].x;
		nn[i] = s[i].n;
		for (size_t j = 0; j < s[i].n; j++)
			if (isfinite(s[i].y[j])) {
				if (s[i].y[j] < lo)
					lo = s[i].y[j];
				if (s[i].y[j] > hi)
					hi = s[i].y[j];
			}
	}
	x_range(xs, nn, k, &x0, &x1);
	if (isfinite(ymin))
		lo = ymin;
	else if (isfinite(lo))
		lo = lo > 0 ? 0 : lo;
	else
		lo = 0;
	if (isfinite(ymax))
		hi = ymax;
	else if (!isfinite(hi) || hi <= lo)
		hi = lo + 1;
	else
		hi += (hi - lo) * 0.05;
	step = nice_step(hi - lo); /* y ticks at round values: the axis ends on them */
	if (!isfinite(ymin))
		lo = floor(lo / step) * step;
	if (!isfinite(ymax))
		hi = ceil(hi / step) * step;
	rc |= infra_buf_printf(b, "<div class=\"card\"><svg role=\"img\" width=\"100%%\" viewBox=\"0 0 %d %d\" "
			       "xmlns=\"http://www.w3.org/2000/svg\"><title>", W, hh);
	rc |= infra_html_escape(b, title);
	rc |= infra_buf_printf(b, "</title>\n<text x=\"%d\" y=\"16\" style=\"font-size:13px;fill:#e8edf2\">", PADL);
	rc |= infra_html_escape(b, title);
	rc |= infra_buf_puts(b, "</text>\n");
	for (double t = ceil(lo / step - 1e-9); t * step <= hi + step * 1e-9; t++) { /* grid and y labels */
		double v = fabs(t) < 0.5 ? 0 : t * step;
		double py = H - PADB - (H - PADT - PADB) * (v - lo) / (hi - lo);
		rc |= infra_buf_printf(b, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#2a2f36\"/>"
				       "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.3g%s</text>\n",
				       PADL, W - PADR, py, py, PADL - 6, py + 4, pct ? v * 100 : v,
				       unit ? unit : "");
	}
	rc |= time_axis(b, x0, x1, H - PADB + 18);
	for (size_t i = 0; i < k; i++) {
		const char *col = palette[i % NPAL];
		int pen = 0;
		double gap = max_gap(s[i].x, s[i].n);
		rc |= infra_buf_printf(b, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"2\" d=\"", col);
		for (size_t j = 0; j < s[i].n; j++) {
			double px, py;
			if (!isfinite(s[i].y[j])) {
				pen = 0;
				continue;
			}
			if (j && s[i].x[j] - s[i].x[j - 1] > gap)
				pen = 0; /* a pause in the schedule: no line across it */
			px = PADL + (W - PADL - PADR) * (s[i].x[j] - x0) / (x1 - x0);
			py = H - PADB - (H - PADT - PADB) * (s[i].y[j] - lo) / (hi - lo);
			rc |= infra_buf_printf(b, "%c%.1f %.1f ", pen ? 'L' : 'M', px, py);
			pen = 1;
		}
		rc |= infra_buf_puts(b, "\"/>\n");
		for (size_t j = 0; j < s[i].n; j++) {
			double px, py;
			if (!isfinite(s[i].y[j]))
				continue;
			px = PADL + (W - PADL - PADR) * (s[i].x[j] - x0) / (x1 - x0);
			py = H - PADB - (H - PADT - PADB) * (s[i].y[j] - lo) / (hi - lo);
			rc |= infra_buf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"><title>", px, py, col);
			rc |= infra_html_escape(b, s[i].name);
			rc |= infra_buf_printf(b, ": %.4g%s</title></circle>\n", pct ? s[i].y[j] * 100 : s[i].y[j],
					       unit ? unit : "");
		}
		rc |= infra_buf_printf(b, "<rect x=\"%d\" y=\"%zu\" width=\"10\" height=\"10\" fill=\"%s\"/>"
				       "<text x=\"%d\" y=\"%zu\"><title>", W - PADR + 12, PADT + i * 16, col, W - PADR + 26,
				       PADT + i * 16 + 9);
		rc |= infra_html_escape(b, s[i].name);
		rc |= infra_buf_puts(b, "</title>");
		rc |= short_label(b, s[i].name, LEGEND_CHARS);
		rc |= infra_buf_puts(b, "</text>\n");
	}
	rc |= infra_buf_puts(b, "</svg></div>\n");
	return rc ? -ENOMEM : 0;
}

static double r2(double v)
{
	return round(v * 100) / 100;
}

/* Each sample is a bar from its time to the next sample's (to one time step
 * after it at the end of the row or before a pause in the schedule), at least
 * MIN_BAR px wide (but never over a worse state that follows) and starting
 * where the previous bar ended if that is later: bars never overlap, the time
 * axis is proportional (within MIN_BAR), a pause stays empty, an outage is as
 * wide as it lasted and never thinner than MIN_BAR however long the history. */
int infra_html_timeline(struct infra_buf *b, const char *title, const struct infra_html_timeline_row *rows,
			size_t nrows)
{
	size_t k = nrows < 64 ? nrows : 64;
	double x0 = INFINITY, x1 = -INFINITY, step[64] = { 0 };
	int h = PADT + (int)k * 22 + PADB, rc = 0;

	for (size_t i = 0; i < k; i++) {
		if (!rows[i].n)
			continue;
		step[i] = median_step(rows[i].x, rows[i].n);
		if (rows[i].x[0] < x0)
			x0 = rows[i].x[0];
	}
	for (size_t i = 0; i < k; i++) {
		if (!rows[i].n)
			continue;
		if (!(step[i] > 0)) /* one point (or all at one time): an hour wide */
			step[i] = 3600;
		if (rows[i].x[rows[i].n - 1] + step[i] > x1)
			x1 = rows[i].x[rows[i].n - 1] + step[i];
	}
	if (!isfinite(x0)) {
		x0 = 0;
		x1 = 1;
	}
	/* crispEdges: abutting bars share a pixel edge, no dark seam between them */
	rc |= infra_buf_printf(b, "<div class=\"card\"><svg role=\"img\" width=\"100%%\" viewBox=\"0 0 %d %d\" "
			       "shape-rendering=\"crispEdges\" xmlns=\"http://www.w3.org/2000/svg\"><title>", W, h);
	rc |= infra_html_escape(b, title);
	rc |= infra_buf_printf(b, "</title>\n<text x=\"%d\" y=\"16\" style=\"font-size:13px;fill:#e8edf2\">", PADL);
	rc |= infra_html_escape(b, title);
	rc |= infra_buf_puts(b, "</text>\n");
	for (size_t i = 0; i < k; i++) {
		int y = PADT + (int)i * 22;
		const double *x = rows[i].x;
		double gap = max_gap(x, rows[i].n), scale = (W - PADL - PADR) / (x1 - x0);
		rc |= infra_buf_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\"><title>", PADL - 6, y + 13);
		rc |= infra_html_escape(b, rows[i].name);
		rc |= infra_buf_puts(b, "</title>");
		rc |= short_label(b, rows[i].name, ROW_CHARS);
		rc |= infra_buf_puts(b, "</text>\n");
		double cur = -INFINITY; /* where the previous bar ended */
		for (size_t j = 0; j < rows[i].n; j++) {
			int last = j + 1 == rows[i].n, st = rows[i].state[j];
			double end = !last && x[j + 1] - x[j] <= gap ? x[j + 1] : x[j] + step[i];
			double px = r2(PADL + scale * (x[j] - x0)), pe = r2(PADL + scale * (end - x0));
			if (st < 0 || st > 3)
				st = 0;
			if (pe - px < MIN_BAR)
				pe = px + MIN_BAR;
			for (size_t q = j + 1; q < rows[i].n && r2(PADL + scale * (x[q] - x0)) < pe; q++)
				if (rows[i].state[q] > st) { /* a worse state within reach is not covered */
					pe = r2(PADL + scale * (x[q] - x0));
					break;
				}
			if (px < cur)
				px = cur; /* never over the previous bar */
			if (pe <= px)
				continue; /* no room left: the neighbour is drawn */
			cur = pe;
			rc |= infra_buf_printf(b, "<rect x=\"%.2f\" y=\"%d\" width=\"%.2f\" height=\"16\" fill=\"%s\">",
					       px, y, pe - px, state_color[st]);
			if (rows[i].tip && rows[i].tip[j]) {
				rc |= infra_buf_puts(b, "<title>");
				rc |= infra_html_escape(b, rows[i].tip[j]);
				rc |= infra_buf_puts(b, "</title>");
			}
			rc |= infra_buf_puts(b, "</rect>\n");
		}
	}
	rc |= time_axis(b, x0, x1, h - PADB + 18);
	rc |= infra_buf_puts(b, "</svg></div>\n");
	return rc ? -ENOMEM : 0;
}

int infra_html_bar_chart(struct infra_buf *b, const char *title, const char *unit,
			 const struct infra_html_bar *bars, size_t n, double vmax, double warn, double crit)
{
	static const char *const bar_color[] = { "#4fc3f7", "#43a047", "#fdd835", "#e53935" };
	size_t k = n < 200 ? n : 200;
	int pct = unit && !strcmp(unit, "%"), rc = 0;
	int h = PADT + (int)k * 22 + PADB, plot = W - PADL - PADR;
	double hi = vmax, step;

	if (!isfinite(hi) || hi <= 0) {
		hi = 0;
		for (size_t i = 0; i < k; i++)
			if (isfinite(bars[i].value) && bars[i].value > hi)
				hi = bars[i].value;
		if (!(hi > 0))
			hi = 1;
	}
	step = nice_step(hi);
	if (!isfinite(vmax) || vmax <= 0)
		hi = ceil(hi / step - 1e-9) * step;
	rc |= infra_buf_printf(b, "<div class=\"card\"><svg role=\"img\" width=\"100%%\" viewBox=\"0 0 %d %d\" "
			       "shape-rendering=\"crispEdges\" xmlns=\"http://www.w3.org/2000/svg\"><title>", W, h);
	rc |= infra_html_escape(b, title);
	rc |= infra_buf_printf(b, "</title>\n<text x=\"%d\" y=\"16\" style=\"font-size:13px;fill:#e8edf2\">", PADL);
	rc |= infra_html_escape(b, title);
	rc |= infra_buf_puts(b, "</text>\n");
	for (double t = 0; t * step <= hi + step * 1e-9; t++) { /* grid and x labels at round values */
		double v = t * step, px = PADL + plot * v / hi;
		rc |= infra_buf_printf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#2a2f36\"/>"
				       "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.3g%s</text>\n",
				       px, px, PADT - 4, h - PADB + 2, px, h - PADB + 18, pct ? v * 100 : v,
				       unit ? unit : "");
	}
	for (int m = 0; m < 2; m++) {
		double v = m ? crit : warn;
		if (!isfinite(v) || v < 0 || v > hi)
			continue;
		rc |= infra_buf_printf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"%s\" "
				       "stroke-dasharray=\"4 3\"><title>%s %.4g%s</title></line>\n",
				       PADL + plot * v / hi, PADL + plot * v / hi, PADT - 4, h - PADB + 2,
				       m ? state_color[INFRA_HTML_BAD] : state_color[INFRA_HTML_WARN], m ? "critical" : "warning",
				       pct ? v * 100 : v, unit ? unit : "");
	}
	for (size_t i = 0; i < k; i++) {
		int y = PADT + (int)i * 22, st = bars[i].state;
		double v = bars[i].value, w = isfinite(v) && v > 0 ? plot * (v < hi ? v : hi) / hi : 0;
		if (st < 0 || st > 3)
			st = 0;
		rc |= infra_buf_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\"><title>", PADL - 6, y + 13);
		rc |= infra_html_escape(b, bars[i].name);
		rc |= infra_buf_puts(b, "</title>");
		rc |= short_label(b, bars[i].name, ROW_CHARS);
		rc |= infra_buf_puts(b, "</text>\n");
		if (w > 0) {
			if (w < MIN_BAR)
				w = MIN_BAR;
			rc |= infra_buf_printf(b, "<rect x=\"%d\" y=\"%d\" width=\"%.2f\" height=\"16\" fill=\"%s\">",
					       PADL, y, w, bar_color[st]);
			if (bars[i].tip) {
				rc |= infra_buf_puts(b, "<title>");
				rc |= infra_html_escape(b, bars[i].tip);
				rc |= infra_buf_puts(b, "</title>");
			}
			rc |= infra_buf_puts(b, "</rect>\n");
		}
		if (isfinite(v))
			rc |= infra_buf_printf(b, "<text x=\"%d\" y=\"%d\">%.4g%s</text>\n", W - PADR + 12, y + 13,
					       pct ? v * 100 : v, unit ? unit : "");
		else
			rc |= infra_buf_printf(b, "<text x=\"%d\" y=\"%d\">n/a</text>\n", W - PADR + 12, y + 13);
	}
	rc |= infra_buf_puts(b, "</svg></div>\n");
	return rc ? -ENOMEM : 0;
}
