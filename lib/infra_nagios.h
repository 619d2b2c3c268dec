/* infra_nagios.h - the monitoring-plugins (Nagios/Icinga) output of every check
 * (DESIGN.md section 4; notes/prometheus-conventions.md rules M1-M4).
 *
 *   line 1   NAME STATUS: summary | 'label'=value[UOM];warn;crit;min;max ...
 *   then     long output: one line per error or detail (stdout only)
 *
 * NAME is the tool's name in upper case with '-' as '_' (OSMON_ORPHANS); STATUS
 * is OK, WARNING, CRITICAL or UNKNOWN from the report's status, which is also the
 * exit code.  A run that failed (UNKNOWN) puts its first error in the summary, so
 * the one line Nagios shows says what failed, never "0 found".
 *
 * Ranges are the monitoring-plugins range expressions [@][start:][end]: "10"
 * alerts outside 0..10, "10:" below 10, "~:10" above 10, "10:20" outside,
 * "@10:20" inside (endpoints inclusive).  Critical is checked before warning.
 *
 * Ownership: struct infra_nagios owns its strings; the report owns its
 * infra_nagios (infra_report_release frees it).
 */
#ifndef INFRA_NAGIOS_H
#define INFRA_NAGIOS_H

#include "infra_buf.h"
#include "infra_err.h"

struct infra_report;

struct infra_range {
	double start, end;  /* -INFINITY / +INFINITY for open ends */
	int inside;         /* '@': alert inside [start, end] */
};

/* Parse a range expression; -EINVAL with a message naming it when bad. */
int infra_range_parse(const char *s, struct infra_range *r, struct infra_err *err);
/* 1 when v is an alert for the range. */
int infra_range_alert(const struct infra_range *r, double v);

/* Warning/critical thresholds of one value; NULL strings = not set. */
struct infra_threshold {
	const char *warn, *crit;  /* as given (perfdata repeats them) */
	struct infra_range w, c;
	int has_w, has_c;
};
int infra_threshold_set(struct infra_threshold *t, const char *warn, const char *crit,
			struct infra_err *err);
/* 0 OK, 1 WARNING, 2 CRITICAL for v (critical first). */
int infra_threshold_status(const struct infra_threshold *t, double v);

/* The thresholds of a check's command line: -w/--warning RANGE, -c/--critical
 * RANGE (the monitoring-plugins options), an argp child whose input is a
 * struct infra_nagios_cli.  Ranges are checked when parsed (usage error, exit 3). */
#include <argp.h>
struct infra_nagios_cli {
	const char *warn, *crit;
};
extern const struct argp infra_nagios_argp;

/* The check's summary (after "STATUS: "); replaces an earlier one. */
void infra_report_summary(struct infra_report *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* One perfdata item.  t may be NULL; min/max NAN = not given.  uom: "", "s",
 * "ms", "%", "B", "c".  Values are written without exponent (M3). */
int infra_report_perf(struct infra_report *r, const char *label, double value, const char *uom,
		      const struct infra_threshold *t, double min, double max);
/* One long-output line (after the errors). */
void infra_report_detail(struct infra_report *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The renderer tools pass as nagios_fn to infra_report_done. */
int infra_nagios_render(const struct infra_report *r, struct infra_buf *out);

/* Free a report's nagios part (called by infra_report_release). */
struct infra_nagios;
void infra_nagios_free(struct infra_nagios *n);

#endif
