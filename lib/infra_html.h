/* infra_html.h - self-contained HTML pages with inline SVG charts (no external
 * assets, no scripts): a dark page skeleton, escaping, a time-series line chart
 * and a status timeline.  Everything is appended to a struct infra_buf; the
 * caller writes it with infra_atomic_write.
 *
 * Ownership: inputs are borrowed; nothing is kept after a call returns.
 */
#ifndef INFRA_HTML_H
#define INFRA_HTML_H

#include <stddef.h>

#include "infra_buf.h"

/* Page start (doctype, <head> with the dark style sheet, <body>, <h1>title</h1>) and end. */
int infra_html_begin(struct infra_buf *b, const char *title, const char *subtitle);
int infra_html_end(struct infra_buf *b);

/* Append s with & < > " ' escaped. */
int infra_html_escape(struct infra_buf *b, const char *s);

struct infra_html_series {
	const char *name;
	size_t n;
	const double *x; /* unix seconds, ascending */
	const double *y; /* NaN = no value (a gap) */
};

/* A line chart of series over time; ymin/ymax NaN = from the data, rounded out
 * to the y ticks (1, 2 or 5 x 10^n).  unit is appended to y labels ("s", "%"
 * multiplies by 100).  The SVG grows to hold every legend line. */
int infra_html_line_chart(struct infra_buf *b, const char *title, const char *unit,
			  const struct infra_html_series *s, size_t ns, double ymin, double ymax);

enum infra_html_state { INFRA_HTML_NONE = 0, INFRA_HTML_OK, INFRA_HTML_WARN, INFRA_HTML_BAD };

struct infra_html_timeline_row {
	const char *name;
	size_t n;
	const double *x;          /* unix seconds, ascending */
	const int *state;         /* enum infra_html_state per point */
	const char *const *tip;   /* hover text per point, or NULL */
};

/* One row of coloured bars per name over a shared, proportional time axis: a
 * bar lasts until the next sample (one median interval at the end and before a
 * pause longer than three intervals, which stays empty), is at least 1 px wide,
 * never overlaps another and never covers a worse state. */
int infra_html_timeline(struct infra_buf *b, const char *title, const struct infra_html_timeline_row *rows,
			size_t nrows);

struct infra_html_bar {
	const char *name;
	double value;             /* NaN = no value (an empty row, "n/a") */
	int state;                /* enum infra_html_state: the bar's colour (NONE: blue) */
	const char *tip;          /* hover text, or NULL */
};

/* Horizontal bars, one row each (rows never overlap), over a shared axis from 0
 * to vmax (NaN: from the data, rounded up to a round tick; values beyond the
 * axis are drawn to its end), x ticks at round values, dashed marks at warn and
 * crit (NaN: none).  unit as for infra_html_line_chart ("%" multiplies by 100).
 * The row label is cut to fit the left margin (the whole name is its hover
 * title); the value is printed right of the axis. */
int infra_html_bar_chart(struct infra_buf *b, const char *title, const char *unit,
			 const struct infra_html_bar *bars, size_t n, double vmax, double warn, double crit);

#endif
