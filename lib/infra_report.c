#include "infra_report.h"
#include "infra_nagios.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "infra_exit.h"
#include "infra_file.h"
#include "infra_json.h"
#include "infra_log.h"

double infra_now(void)
{
	struct timespec ts;
	const char *fake = getenv("INFRA_NOW"); /* tests: a fixed clock */

	if (fake && *fake) {
		char *end;
		double v = strtod(fake, &end);
		if (!*end && isfinite(v))
			return v;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

double infra_now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void infra_rfc3339(double unix_seconds, char *buf, size_t size)
{
	time_t t = (time_t)floor(unix_seconds);
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, size, "1970-01-01T00:00:00Z");
}

int infra_parse_time(const char *s, double *unix_seconds)
{
	struct tm tm;
	const char *p;
	double frac = 0;
	long off = 0;
	time_t t;

	if (!s)
		return -EINVAL;
	memset(&tm, 0, sizeof(tm));
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		p = strptime(s, "%Y-%m-%d %H:%M:%S", &tm);
	if (!p)
		return -EINVAL;
	if (*p == '.') {
		char *end;
		frac = strtod(p, &end);
		p = end;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1, hh, mm;
		if (sscanf(p + 1, "%2d:%2d", &hh, &mm) == 2)
			p += 6;
		else if (sscanf(p + 1, "%2d%2d", &hh, &mm) == 2)
			p += 5;
		else
			return -EINVAL;
		off = sign * (hh * 3600L + mm * 60L);
	}
	if (*p)
		return -EINVAL;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -EINVAL;
	*unix_seconds = (double)(t - off) + frac;
	return 0;
}

int infra_report_init(struct infra_report *r, const char *tool, const char *prefix,
		      unsigned prom_flags, struct infra_err *err)
{
	memset(r, 0, sizeof(*r));
	r->tool = tool;
	r->prefix = prefix;
	r->start_time = infra_now();
	r->start_mono = infra_now_mono();
	r->status = INFRA_EXIT_OK;
	r->up = 1;
	r->errors = json_object_new_array();
	r->data = json_object_new_object();
	r->prom = infra_prom_new(prom_flags);
	if (!r->errors || !r->data || !r->prom) {
		infra_report_release(r);
		return infra_err_set(err, -ENOMEM, "out of memory");
	}
	return 0;
}

void infra_report_release(struct infra_report *r)
{
	json_object_put(r->errors);
	json_object_put(r->data);
	infra_prom_free(r->prom);
	infra_nagios_free(r->nagios);
	r->errors = r->data = NULL;
	r->prom = NULL;
	r->nagios = NULL;
}

void infra_report_error(struct infra_report *r, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (char *c = msg; *c; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	infra_mask_secrets(msg);
	json_object_array_add(r->errors, json_object_new_string(msg));
}

void infra_report_status(struct infra_report *r, int status)
{
	r->status = infra_status_worst(r->status, status);
	if (status == INFRA_EXIT_UNKNOWN)
		r->up = 0;
}

/* ---- previous output: last success ---- */

struct last_success_ctx {
	char name[256];
	double value;
	int found;
};

static int last_success_cb(void *ud, const struct infra_prom_event *ev)
{
	struct last_success_ctx *c = ud;

	if (ev->kind == INFRA_PROM_EV_SAMPLE && ev->nlabels == 0 && !strcmp(ev->name, c->name)) {
		c->value = ev->value;
		c->found = 1;
	}
	return 0;
}

int infra_report_read_last_success(const char *path, const char *prefix, double *ts)
{
	struct last_success_ctx c;
	struct infra_buf b = INFRA_BUF_INIT;
	int rc;

	/* a regular file only (never a FIFO or device at the -o path), bounded */
	if (infra_file_read_at(AT_FDCWD, path, INFRA_FILE_NOFOLLOW, (size_t)64 << 20, &b, NULL) || !b.len) {
		infra_buf_release(&b);
		return -ENOENT;
	}
	rc = -ENOENT;
	if (b.data[0] == '{') {
		json_object *root;
		double v;
		if (!infra_json_parse(b.data, b.len, &root, NULL)) {
			if (!infra_json_get_double(root, "last_success_timestamp", &v, NULL)) {
				*ts = v;
				rc = 0;
			}
			json_object_put(root);
		}
	} else {
		memset(&c, 0, sizeof(c));
		snprintf(c.name, sizeof(c.name), "%s_last_success_timestamp_seconds", prefix);
		if (!infra_prom_parse(b.data, b.len, last_success_cb, &c, NULL) && c.found &&
		    isfinite(c.value)) {
			*ts = c.value;
			rc = 0;
		}
	}
	infra_buf_release(&b);
	return rc;
}

static int add_gauge(struct infra_report *r, const char *suffix, const char *help, double v,
		     const char *label, const char *lvalue, struct infra_err *err)
{
	char name[256];
	const char *labels[3] = { label, lvalue, NULL };
	int rc;

	snprintf(name, sizeof(name), "%s_%s", r->prefix, suffix);
	rc = infra_prom_family(r->prom, name, INFRA_PROM_GAUGE, help, err);
	if (!rc)
		rc = infra_prom_add(r->prom, name, label ? labels : NULL, v, err);
	return rc;
}

int infra_report_finish(struct infra_report *r, const char *previous, struct infra_err *err)
{
	double prev;
	int rc;

	r->end_time = infra_now();
	r->duration = infra_now_mono() - r->start_mono;
	if (r->status == INFRA_EXIT_UNKNOWN)
		r->up = 0;
	if (r->up)
		r->last_success = r->end_time;
	else if (previous && !infra_report_read_last_success(previous, r->prefix, &prev))
		r->last_success = prev;
	else
		r->last_success = 0;

	rc = add_gauge(r, "up", "1 if the last run could do its job, 0 otherwise", r->up ? 1 : 0,
		       NULL, NULL, err);
	if (!rc)
		rc = add_gauge(r, "duration_seconds", "Wall time of the last run in seconds",
			       r->duration, NULL, NULL, err);
	if (!rc)
		rc = add_gauge(r, "last_completion_timestamp_seconds",
			       "Unix time the last run completed, successfully or not",
			       floor(r->end_time), NULL, NULL, err);
	if (!rc)
		rc = add_gauge(r, "last_success_timestamp_seconds",
			       "Unix time of the last successful run (0 if none is known)",
			       floor(r->last_success), NULL, NULL, err);
	if (!rc)
		rc = add_gauge(r, "build_info", "Version of the infrakit tool that wrote this, value 1",
			       1, "version", INFRA_VERSION, err);
	return rc;
}

/* ---- rendering ---- */

static int render_json(const struct infra_report *r, struct infra_buf *out, int pretty)
{
	json_object *env = json_object_new_object();
	char ts[64];
	char *s;
	int rc;

	infra_rfc3339(r->end_time ? r->end_time : r->start_time, ts, sizeof(ts));
	json_object_object_add(env, "tool", json_object_new_string(r->tool));
	json_object_object_add(env, "version", json_object_new_string(INFRA_VERSION));
	json_object_object_add(env, "timestamp", json_object_new_string(ts));
	json_object_object_add(env, "duration_seconds",
			       json_object_new_double(round(r->duration * 1e6) / 1e6));
	json_object_object_add(env, "status", json_object_new_string(infra_status_name(r->status)));
	json_object_object_add(env, "errors", json_object_get(r->errors));
	json_object_object_add(env, "last_success_timestamp",
			       r->last_success > 0 ? json_object_new_int64((int64_t)floor(r->last_success)) : NULL);
	json_object_object_add(env, "data", json_object_get(r->data));
	s = infra_json_canonical(env, pretty);
	json_object_put(env);
	if (!s)
		return -ENOMEM;
	rc = infra_buf_puts(out, s);
	if (!rc)
		rc = infra_buf_putc(out, '\n');
	free(s);
	return rc;
}

/* Text of a failed run (status UNKNOWN): "TOOL FAILED: first error", then the
 * other errors indented.  Tools' text writers add what they know after it and
 * never print an all-clear for a run that did not look. */
static int render_failure(const struct infra_report *r, struct infra_buf *out)
{
	size_t n = r->errors ? json_object_array_length(r->errors) : 0;
	int rc = 0;

	if (r->status != INFRA_EXIT_UNKNOWN)
		return 0;
	rc |= infra_buf_printf(out, "%s FAILED: %s\n", r->tool,
			       n ? json_object_get_string(json_object_array_get_idx(r->errors, 0)) : "could not do its job");
	for (size_t i = 1; i < n; i++)
		rc |= infra_buf_printf(out, "  %s\n", json_object_get_string(json_object_array_get_idx(r->errors, i)));
	return rc ? -ENOMEM : 0;
}

int infra_report_render(const struct infra_report *r, enum infra_format fmt,
			infra_render_fn text_fn, infra_render_fn nagios_fn,
			struct infra_buf *out, struct infra_err *err)
{
	int rc;

	switch (fmt) {
	case INFRA_FORMAT_PROM:
		return infra_prom_write(r->prom, out, err);
	case INFRA_FORMAT_TEXT:
		/* a run that could not do its job says so first, whatever its table says */
		if ((rc = render_failure(r, out)))
			break;
		if (text_fn) {
			rc = text_fn(r, out);
			break;
		}
		rc = render_json(r, out, 1);
		break;
	case INFRA_FORMAT_NAGIOS:
		if (!nagios_fn)
			return infra_err_set(err, -EINVAL, "this tool has no nagios format");
		rc = nagios_fn(r, out);
		break;
	case INFRA_FORMAT_JSON:
	default:
		rc = render_json(r, out, 0);
		break;
	}
	if (rc)
		return infra_err_set(err, rc, "cannot render output: %s", strerror(-rc));
	return 0;
}

int infra_output(const struct infra_cli *cli, const struct infra_report *r,
		 infra_render_fn text_fn, infra_render_fn nagios_fn, struct infra_err *err)
{
	struct infra_buf b = INFRA_BUF_INIT;
	int rc;

	rc = infra_report_render(r, cli->format, text_fn, nagios_fn, &b, err);
	if (!rc) {
		if (cli->output && strcmp(cli->output, "-") != 0) {
			rc = infra_atomic_write(cli->output, b.data ? b.data : "", b.len, err);
		} else if (b.len && fwrite(b.data, 1, b.len, stdout) != b.len) {
			rc = infra_err_set(err, -EIO, "cannot write to stdout: %s", strerror(errno));
		}
	}
	infra_buf_release(&b);
	return rc;
}

int infra_report_done(struct infra_report *r, const struct infra_cli *cli,
		      infra_render_fn text_fn, infra_render_fn nagios_fn)
{
	return infra_report_done_with(r, cli, text_fn, nagios_fn, NULL, NULL);
}

int infra_report_done_with(struct infra_report *r, const struct infra_cli *cli,
			   infra_render_fn text_fn, infra_render_fn nagios_fn,
			   infra_write_fn write_fn, void *ud)
{
	struct infra_err err = INFRA_ERR_INIT;
	int status;

	infra_log_progress_end(); /* the output never follows a progress line */
	if (!cli->quiet || r->status == INFRA_EXIT_UNKNOWN)
		for (size_t i = 0; i < json_object_array_length(r->errors); i++)
			infra_log_error("%s", json_object_get_string(json_object_array_get_idx(r->errors, i)));
	if (infra_report_finish(r, cli->output, &err) ||
	    (write_fn ? write_fn(r, cli, ud, &err) : infra_output(cli, r, text_fn, nagios_fn, &err))) {
		infra_log_error("%s", err.msg);
		r->status = INFRA_EXIT_UNKNOWN;
	}
	status = r->status;
	infra_report_release(r);
	if (infra_close_stdout()) {
		infra_log_error("cannot write to stdout: %s", strerror(errno));
		status = INFRA_EXIT_UNKNOWN;
	}
	return status;
}

/* ---- atomic write ---- */

int infra_atomic_write(const char *path, const void *data, size_t len, struct infra_err *err)
{
	struct infra_atomic_file af;
	int rc = infra_atomic_begin(&af, path, err);

	if (!rc)
		rc = infra_atomic_append(&af, data, len, err);
	if (!rc)
		return infra_atomic_commit(&af, err);
	infra_atomic_abort(&af);
	return rc;
}
