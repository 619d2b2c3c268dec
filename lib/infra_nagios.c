#include "infra_nagios.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infra_exit.h"
#include "infra_log.h"
#include "infra_report.h"

struct infra_nagios {
	char *summary;
	struct infra_buf perf;    /* items separated by one space */
	struct infra_buf details; /* lines, each ending in \n */
};

static struct infra_nagios *nagios_of(struct infra_report *r)
{
	if (!r->nagios) {
		r->nagios = calloc(1, sizeof(*r->nagios));
		if (r->nagios) {
			infra_buf_init(&r->nagios->perf, 64 * 1024);
			infra_buf_init(&r->nagios->details, 1024 * 1024);
		}
	}
	return r->nagios;
}

void infra_nagios_free(struct infra_nagios *n)
{
	if (!n)
		return;
	free(n->summary);
	infra_buf_release(&n->perf);
	infra_buf_release(&n->details);
	free(n);
}

/* ------------------------------------------------------------------ ranges */

static int parse_bound(const char *s, size_t len, double *v)
{
	char tmp[64], *end;

	if (len == 0 || len >= sizeof(tmp))
		return -EINVAL;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	errno = 0;
	*v = strtod(tmp, &end);
	if (*end || errno == ERANGE || !isfinite(*v))
		return -EINVAL;
	/* strtod takes hex, inf and nan; a range takes [-0-9.] only */
	for (size_t i = 0; i < len; i++)
		if (!isdigit((unsigned char)tmp[i]) && tmp[i] != '.' && tmp[i] != '-' && tmp[i] != '+')
			return -EINVAL;
	return 0;
}

int infra_range_parse(const char *s, struct infra_range *r, struct infra_err *err)
{
	const char *p = s, *colon;

	if (!s || !*s)
		return infra_err_set(err, -EINVAL, "empty threshold range");
	r->inside = 0;
	r->start = 0;
	r->end = INFINITY;
	if (*p == '@') {
		r->inside = 1;
		p++;
	}
	colon = strchr(p, ':');
	if (colon) {
		if (colon - p == 1 && *p == '~')
			r->start = -INFINITY;
		else if (colon != p && parse_bound(p, (size_t)(colon - p), &r->start))
			goto bad;
		p = colon + 1;
		if (*p && parse_bound(p, strlen(p), &r->end))
			goto bad;
	} else if (parse_bound(p, strlen(p), &r->end)) {
		goto bad;
	}
	if (r->start > r->end)
		return infra_err_set(err, -EINVAL, "invalid threshold range '%s' (start > end)", s);
	return 0;
bad:
	return infra_err_set(err, -EINVAL, "invalid threshold range '%s' (expected [@][start:][end], e.g. 10, 10:, ~:10, @10:20)", s);
}

int infra_range_alert(const struct infra_range *r, double v)
{
	int in = v >= r->start && v <= r->end;
	return r->inside ? in : !in;
}

int infra_threshold_set(struct infra_threshold *t, const char *warn, const char *crit, struct infra_err *err)
{
	int rc;

	memset(t, 0, sizeof(*t));
	t->warn = warn;
	t->crit = crit;
	if (warn && (rc = infra_range_parse(warn, &t->w, err)))
		return rc;
	if (crit && (rc = infra_range_parse(crit, &t->c, err)))
		return rc;
	t->has_w = warn != NULL;
	t->has_c = crit != NULL;
	return 0;
}

int infra_threshold_status(const struct infra_threshold *t, double v)
{
	if (t->has_c && infra_range_alert(&t->c, v))
		return INFRA_EXIT_CRITICAL;
	if (t->has_w && infra_range_alert(&t->w, v))
		return INFRA_EXIT_WARNING;
	return INFRA_EXIT_OK;
}

/* ------------------------------------------------------------------ options */

static const struct argp_option nagios_options[] = {
	{ NULL, 0, NULL, 0, "Check thresholds (monitoring-plugins ranges: 10, 10:, ~:10, @10:20):", INFRA_HELP_THRESHOLDS },
	{ "warning", 'w', "RANGE", 0, "WARNING when the checked value is outside RANGE", INFRA_HELP_THRESHOLDS },
	{ "critical", 'c', "RANGE", 0, "CRITICAL when the checked value is outside RANGE", INFRA_HELP_THRESHOLDS },
	{ 0 }
};

static error_t nagios_parse(int key, char *arg, struct argp_state *state)
{
	struct infra_nagios_cli *c = state->input;
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_range range;

	switch (key) {
	case 'w':
	case 'c':
		if (infra_range_parse(arg, &range, &err))
			argp_error(state, "--%s: %s", key == 'w' ? "warning" : "critical", err.msg);
		if (key == 'w')
			c->warn = arg;
		else
			c->crit = arg;
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

const struct argp infra_nagios_argp = { nagios_options, nagios_parse, NULL, NULL, NULL, NULL, NULL };

/* ------------------------------------------------------------------ report parts */

/* One line of text for the Nagios output: no newline, no '|' (it would start
 * perfdata), secrets masked. */
static void one_line(char *msg, size_t size, const char *fmt, va_list ap)
{
	vsnprintf(msg, size, fmt, ap);
	for (char *c = msg; *c; c++)
		if (*c == '\n' || *c == '\r' || *c == '|')
			*c = ' ';
	infra_mask_secrets(msg);
}

/* The summary (detail 0, replaces the last one) or one more long-output line. */
static void nagios_text(struct infra_report *r, int detail, const char *fmt, va_list ap)
{
	struct infra_nagios *n = nagios_of(r);
	char msg[1024];

	if (!n)
		return;
	one_line(msg, sizeof(msg), fmt, ap);
	if (detail) {
		infra_buf_printf(&n->details, "%s\n", msg);
	} else {
		free(n->summary);
		n->summary = strdup(msg);
	}
}

void infra_report_summary(struct infra_report *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	nagios_text(r, 0, fmt, ap);
	va_end(ap);
}

void infra_report_detail(struct infra_report *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	nagios_text(r, 1, fmt, ap);
	va_end(ap);
}

/* A perfdata number: plain decimal, no exponent, shortest that reads back. */
static int put_number(struct infra_buf *b, double v)
{
	char tmp[64];

	if (!isfinite(v))
		return infra_buf_putc(b, 'U');
	if (v == floor(v) && fabs(v) < 9007199254740992.0)
		return infra_buf_printf(b, "%.0f", v == 0 ? 0.0 : v);
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*f", prec, v);
		if (strtod(tmp, NULL) == v)
			return infra_buf_puts(b, tmp);
	}
	/* very small: the fixed form with enough digits to be close */
	snprintf(tmp, sizeof(tmp), "%.17f", v);
	return infra_buf_puts(b, tmp);
}

int infra_report_perf(struct infra_report *r, const char *label, double value, const char *uom,
		      const struct infra_threshold *t, double min, double max)
{
	struct infra_nagios *n = nagios_of(r);
	struct infra_buf *b;
	int rc = 0;

	if (!n)
		return -ENOMEM;
	b = &n->perf;
	if (b->len)
		rc |= infra_buf_putc(b, ' ');
	/* label: quoted; no '=' and a literal quote doubled (M3) */
	rc |= infra_buf_putc(b, '\'');
	for (const char *c = label; *c; c++) {
		if (*c == '\'')
			rc |= infra_buf_puts(b, "''");
		else if (*c == '=' || *c == '\n' || *c == '|')
			rc |= infra_buf_putc(b, '_');
		else
			rc |= infra_buf_putc(b, *c);
	}
	rc |= infra_buf_puts(b, "'=");
	rc |= put_number(b, value);
	rc |= infra_buf_puts(b, uom ? uom : "");
	rc |= infra_buf_printf(b, ";%s;%s;", t && t->warn ? t->warn : "", t && t->crit ? t->crit : "");
	if (!isnan(min))
		rc |= put_number(b, min);
	rc |= infra_buf_putc(b, ';');
	if (!isnan(max))
		rc |= put_number(b, max);
	/* drop empty trailing fields */
	while (b->len && b->data[b->len - 1] == ';')
		b->len--;
	b->data[b->len] = '\0';
	return rc ? -ENOMEM : 0;
}

/* ------------------------------------------------------------------ render */

int infra_nagios_render(const struct infra_report *r, struct infra_buf *out)
{
	const struct infra_nagios *n = r->nagios;
	size_t nerr = r->errors ? json_object_array_length(r->errors) : 0;
	const char *first_err = nerr ? json_object_get_string(json_object_array_get_idx(r->errors, 0)) : NULL;
	const char *summary = n && n->summary ? n->summary : NULL;
	int rc = 0;

	for (const char *c = r->tool; *c; c++)
		rc |= infra_buf_putc(out, *c == '-' ? '_' : (char)toupper((unsigned char)*c));
	rc |= infra_buf_printf(out, " %s: ", r->status == INFRA_EXIT_OK ? "OK" :
			       r->status == INFRA_EXIT_WARNING ? "WARNING" :
			       r->status == INFRA_EXIT_CRITICAL ? "CRITICAL" : "UNKNOWN");
	if (r->status == INFRA_EXIT_UNKNOWN && first_err) {
		/* what failed comes first: the one line a pager shows */
		rc |= infra_buf_puts(out, first_err);
		if (nerr > 1)
			rc |= infra_buf_printf(out, " (and %zu more errors)", nerr - 1);
	} else if (summary) {
		rc |= infra_buf_puts(out, summary);
	} else if (first_err) {
		rc |= infra_buf_puts(out, first_err);
	} else {
		rc |= infra_buf_puts(out, r->status == INFRA_EXIT_UNKNOWN ? "could not run" : "done");
	}
	if (n && n->perf.len)
		rc |= infra_buf_printf(out, " | %s", n->perf.data);
	rc |= infra_buf_putc(out, '\n');
	/* long output: the summary when an error took its place, then every error, then details */
	if (r->status == INFRA_EXIT_UNKNOWN && first_err && summary)
		rc |= infra_buf_printf(out, "%s\n", summary);
	for (size_t i = (r->status == INFRA_EXIT_UNKNOWN || !summary) ? 1 : 0; i < nerr; i++)
		rc |= infra_buf_printf(out, "%s\n", json_object_get_string(json_object_array_get_idx(r->errors, i)));
	if (n && n->details.len)
		rc |= infra_buf_append(out, n->details.data, n->details.len);
	return rc ? -ENOMEM : 0;
}
