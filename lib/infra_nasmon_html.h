/* infra_nasmon_html.h - nasmon-check --html FILE: the result of one run as one
 * self-contained HTML page (no scripts, no external assets; lib/infra_html's
 * skeleton, escaping and SVG charts): status and sources, the checks, the
 * findings grouped by check, pool fill (bars with the CAP-POOL thresholds), the
 * fill history from --state-dir as a line chart with days-until-full, and the
 * volumes nearest to full.  Every name from the sources is HTML-escaped.
 *
 * Ownership: everything is borrowed; the page is written atomically
 * (infra_atomic_write: the old FILE stays on any error).  Never prints.
 */
#ifndef INFRA_NASMON_HTML_H
#define INFRA_NASMON_HTML_H

#include <json-c/json.h>
#include <stddef.h>

#include "infra_buf.h"
#include "infra_err.h"
#include "infra_nasmon.h"

struct infra_nasmon_html_run {
	const struct infra_nasmon_result *res;  /* NULL when the checks never ran */
	const struct infra_nasmon_config *cfg;  /* thresholds for the pool chart (may be NULL) */
	json_object *sources;  /* data.sources: {"kubernetes":{"up",...},"truenas":{...}} or NULL */
	json_object *errors;   /* the report's error lines (array) or NULL */
	const char *status;    /* "ok" | "warning" | "critical" | "unknown" */
	double now;            /* unix seconds of the run */
};

/* Render the page into b. */
int infra_nasmon_html_render(const struct infra_nasmon_html_run *run, struct infra_buf *b);
/* Render and write it to path atomically; *bytes (may be NULL) gets its size. */
int infra_nasmon_html_write(const struct infra_nasmon_html_run *run, const char *path, size_t *bytes,
			    struct infra_err *err);

#endif
