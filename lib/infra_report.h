/* infra_report.h - the report object every tool fills, its writers, atomic output.
 *
 * One struct infra_report per run: status, error lines, a JSON data object and a
 * Prometheus collection.  infra_report_finish() adds the batch-job metrics of
 * DESIGN.md section 4 (<prefix>_up, _duration_seconds, _last_completion_timestamp_seconds,
 * _last_success_timestamp_seconds, _build_info{version}).  infra_output() renders
 * the chosen format and writes it to stdout or, atomically, to -o FILE.
 *
 * JSON envelope: {"tool","version","timestamp" (RFC 3339 UTC),"duration_seconds",
 * "status" ("ok"|"warning"|"critical"|"unknown"),"errors":[...],
 * "last_success_timestamp" (unix seconds or null),"data":{...}}.
 *
 * Ownership: the report owns data, errors and prom; tools add to them through
 * the accessors and never free them.
 */
#ifndef INFRA_REPORT_H
#define INFRA_REPORT_H

#include <json-c/json.h>

#include "infra_buf.h"
#include "infra_cli.h"
#include "infra_err.h"
#include "infra_prom.h"

struct infra_report {
	const char *tool;
	const char *prefix;     /* metric prefix, e.g. "osmon" */
	double start_time;      /* unix seconds (real clock) */
	double start_mono;      /* monotonic seconds */
	double end_time;
	double duration;        /* seconds, set by finish */
	int status;             /* INFRA_EXIT_* */
	int up;                 /* the job could do its work (status != UNKNOWN by default) */
	double last_success;    /* unix seconds, 0 = never; set by finish */
	json_object *errors;    /* array of strings */
	json_object *data;      /* object */
	struct infra_prom *prom;
	struct infra_nagios *nagios; /* summary, perfdata, long output (infra_nagios.h) */
};

int infra_report_init(struct infra_report *r, const char *tool, const char *prefix,
		      unsigned prom_flags, struct infra_err *err);
void infra_report_release(struct infra_report *r);

/* Record one error line (masked) in "errors"; does not change the status. */
void infra_report_error(struct infra_report *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Raise the status (never lowers it: Nagios order). */
void infra_report_status(struct infra_report *r, int status);

/* Finish: duration, batch-job metrics.  previous = the output file of the last
 * run (the -o target) or NULL: when this run is not up, its
 * <prefix>_last_success_timestamp_seconds (prom) or "last_success_timestamp"
 * (json) is carried forward. */
int infra_report_finish(struct infra_report *r, const char *previous, struct infra_err *err);

/* Read the last success time from a previous output file (prom or json).
 * Returns 0 and sets *ts, or -ENOENT when the file or the value is absent. */
int infra_report_read_last_success(const char *path, const char *prefix, double *ts);

typedef int (*infra_render_fn)(const struct infra_report *r, struct infra_buf *out);

/* Render a format: json (envelope), prom, text (text_fn or pretty JSON), nagios (nagios_fn). */
int infra_report_render(const struct infra_report *r, enum infra_format fmt,
			infra_render_fn text_fn, infra_render_fn nagios_fn,
			struct infra_buf *out, struct infra_err *err);

/* Render per cli->format and write to cli->output (atomically) or stdout. */
int infra_output(const struct infra_cli *cli, const struct infra_report *r,
		 infra_render_fn text_fn, infra_render_fn nagios_fn, struct infra_err *err);

/* The end of every tool's main(): log each error line on stderr, finish (batch
 * metrics, previous -o file for the last success), render and write per cli,
 * release the report, check stdout.  Returns the exit status: r->status, or
 * INFRA_EXIT_UNKNOWN when the output could not be written. */
int infra_report_done(struct infra_report *r, const struct infra_cli *cli,
		      infra_render_fn text_fn, infra_render_fn nagios_fn);

/* The same, with the output step done by write_fn (e.g. a tool that streams a
 * large exposition instead of rendering it in memory); write_fn NULL = infra_output. */
typedef int (*infra_write_fn)(struct infra_report *r, const struct infra_cli *cli, void *ud,
			      struct infra_err *err);
int infra_report_done_with(struct infra_report *r, const struct infra_cli *cli,
			   infra_render_fn text_fn, infra_render_fn nagios_fn,
			   infra_write_fn write_fn, void *ud);

/* Write data to path atomically: a temp file in the same directory whose name
 * does not end in .prom, fchmod 0644, fsync, rename; SIGINT/SIGTERM/SIGHUP are
 * held back while the temp file exists so a signal never leaves it behind.
 * On any error the old file is untouched and the temp file removed. */
int infra_atomic_write(const char *path, const void *data, size_t len, struct infra_err *err);

/* Time helpers. */
double infra_now(void);        /* unix seconds, real clock */
double infra_now_mono(void);   /* monotonic seconds */
/* RFC 3339 UTC "2026-11-23T13:47:00Z" (fractional seconds dropped). */
void infra_rfc3339(double unix_seconds, char *buf, size_t size);
/* Parse RFC 3339 / ISO 8601 as OpenStack writes it ("2026-11-23T13:47:00Z",
 * "...+00:00", "...000000", no zone = UTC).  -EINVAL if bad. */
int infra_parse_time(const char *s, double *unix_seconds);

#endif
