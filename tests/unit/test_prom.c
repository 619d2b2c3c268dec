/* test_prom.c - unit tests of the Prometheus text writer and parser (TAP). */
#include "infra_prom.h"
#include "tap.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef FIXTURE_DIR
#define FIXTURE_DIR "tests/fixtures/kata" /* relative to the repository root */
#endif

static int have_promtool;
static const char *fixture_dir = FIXTURE_DIR; /* INFRA_KATA_FIXTURES overrides */

/* ---- helpers ---- */

static char *render(struct infra_prom *p)
{
	struct infra_buf b = INFRA_BUF_INIT;
	struct infra_err err = INFRA_ERR_INIT;
	char *s;

	if (infra_prom_write(p, &b, &err)) {
		tap_diag("write failed: %s", err.msg);
		infra_buf_release(&b);
		return NULL;
	}
	s = infra_buf_steal(&b, NULL);
	return s;
}

static char *fmtv(double v)
{
	static char buf[64];

	infra_prom_format_value(v, buf, sizeof(buf));
	return buf;
}

static int count_substr(const char *s, const char *sub)
{
	int n = 0;
	size_t l = strlen(sub);

	while (s && (s = strstr(s, sub)) != NULL) {
		n++;
		s += l;
	}
	return n;
}

static int file_exists_on_path(const char *name)
{
	const char *path = getenv("PATH");
	char buf[4096];

	while (path && *path) {
		const char *c = strchr(path, ':');
		size_t n = c ? (size_t)(c - path) : strlen(path);

		if (n && n + strlen(name) + 2 < sizeof(buf)) {
			memcpy(buf, path, n);
			buf[n] = '/';
			memcpy(buf + n + 1, name, strlen(name) + 1);
			if (access(buf, X_OK) == 0)
				return 1;
		}
		path = c ? c + 1 : NULL;
	}
	return 0;
}

/* Runs `promtool check metrics` on text; returns its exit status, -1 on setup failure. */
static int promtool_rc(const char *text)
{
	char path[] = "/tmp/test_prom_XXXXXX";
	char cmd[256];
	int fd = mkstemp(path), st;
	size_t n = strlen(text);

	if (fd < 0)
		return -1;
	if (write(fd, text, n) != (ssize_t)n) {
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s >/dev/null 2>&1", path);
	st = system(cmd);
	unlink(path);
	if (st == -1 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/* promtool's parser must agree with ours: reject at the same line, or accept
 * (exit 0, or 3 for lint findings). */
static void promtool_agrees(const char *text, int line, const char *what)
{
	char path[] = "/tmp/test_prom_XXXXXX", cmd[256], msg[512] = "";
	int fd, st, rc;
	size_t n = strlen(text);
	FILE *f;

	if (!have_promtool)
		return;
	fd = mkstemp(path);
	if (fd < 0 || write(fd, text, n) != (ssize_t)n) {
		tap_ok(0, "promtool input for %s", what);
		if (fd >= 0) {
			close(fd);
			unlink(path);
		}
		return;
	}
	close(fd);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 2>&1 >/dev/null", path);
	f = popen(cmd, "r");
	if (f) {
		size_t k = fread(msg, 1, sizeof(msg) - 1, f);

		msg[k] = '\0';
		st = pclose(f);
	} else {
		st = -1;
	}
	unlink(path);
	rc = st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	if (line) {
		char want[64];

		snprintf(want, sizeof(want), "error in line %d:", line);
		if (!tap_ok(rc == 1 && strstr(msg, want) != NULL, "promtool also rejects %s at line %d", what, line))
			tap_diag("promtool rc=%d: %s", rc, msg);
	} else {
		if (!tap_ok(rc == 0 || rc == 3, "promtool also accepts %s", what))
			tap_diag("promtool rc=%d: %s", rc, msg);
	}
}

static void promtool_ok(const char *text, const char *what)
{
	if (!have_promtool)
		return;
	tap_inteq(promtool_rc(text), 0, "promtool check metrics accepts %s", what);
}

/* Event dump: one line per event, used to compare parses. */
struct dump {
	struct infra_buf b;
	int nsamples;
};

static int dump_cb(void *ud, const struct infra_prom_event *ev)
{
	struct dump *d = ud;
	size_t i;
	char v[64];

	switch (ev->kind) {
	case INFRA_PROM_EV_HELP:
		infra_buf_printf(&d->b, "%zu HELP %s [%s]\n", ev->line, ev->name, ev->text);
		break;
	case INFRA_PROM_EV_TYPE:
		infra_buf_printf(&d->b, "%zu TYPE %s %s\n", ev->line, ev->name,
				 infra_prom_type_name(ev->type));
		break;
	case INFRA_PROM_EV_COMMENT:
		infra_buf_printf(&d->b, "%zu COMMENT [%s]\n", ev->line, ev->text);
		break;
	case INFRA_PROM_EV_SAMPLE:
		d->nsamples++;
		infra_buf_printf(&d->b, "%zu SAMPLE %s", ev->line, ev->name);
		for (i = 0; i < ev->nlabels; i++)
			infra_buf_printf(&d->b, " %s=[%s]", ev->labels[i].name, ev->labels[i].value);
		infra_prom_format_value(ev->value, v, sizeof(v));
		infra_buf_printf(&d->b, " = %s", v);
		if (ev->has_timestamp)
			infra_buf_printf(&d->b, " @%lld", (long long)ev->timestamp_ms);
		infra_buf_putc(&d->b, '\n');
		break;
	}
	return 0;
}

/* Parse text one-shot; returns rc, fills d (caller releases d->b). */
static int parse_dump(const char *text, size_t len, struct dump *d, struct infra_err *err)
{
	infra_buf_init(&d->b, 0);
	d->nsamples = 0;
	infra_buf_puts(&d->b, "");
	return infra_prom_parse(text, len, dump_cb, d, err);
}

/* A parser error: rc -EINVAL and message starting "line N:". */
static void expect_error(const char *text, int line, const char *frag, const char *what)
{
	struct dump d;
	struct infra_err err = INFRA_ERR_INIT;
	char prefix[32];
	int rc = parse_dump(text, strlen(text), &d, &err);

	snprintf(prefix, sizeof(prefix), "line %d: ", line);
	if (!tap_ok(rc == -EINVAL && strncmp(err.msg, prefix, strlen(prefix)) == 0 &&
		    (!frag || strstr(err.msg, frag)),
		    "parser rejects %s at line %d", what, line))
		tap_diag("rc=%d msg=[%s]", rc, err.msg);
	infra_buf_release(&d.b);
	if (strcmp(what, "gauge_histogram") != 0) /* the one deliberate difference */
		promtool_agrees(text, line, what);
}

static void expect_valid(const char *text, int nsamples, const char *what)
{
	struct dump d;
	struct infra_err err = INFRA_ERR_INIT;
	int rc = parse_dump(text, strlen(text), &d, &err);

	if (!tap_ok(rc == 0 && d.nsamples == nsamples, "parser accepts %s", what))
		tap_diag("rc=%d samples=%d msg=[%s]", rc, d.nsamples, err.msg);
	infra_buf_release(&d.b);
	promtool_agrees(text, 0, what);
}

/* Parse a single-sample line and return the dumped event text. */
static char *one(const char *text)
{
	struct dump d;
	struct infra_err err = INFRA_ERR_INIT;
	static char out[512];

	if (parse_dump(text, strlen(text), &d, &err)) {
		memcpy(out, "ERROR ", 6);
		memcpy(out + 6, err.msg, strlen(err.msg) + 1 < sizeof(out) - 6 ? strlen(err.msg) + 1 : sizeof(out) - 7);
		out[sizeof(out) - 1] = '\0';
	} else {
		size_t l = d.b.len < sizeof(out) - 1 ? d.b.len : sizeof(out) - 1;
		static int form;
		char what[32];

		memcpy(out, d.b.data, l);
		out[l] = '\0';
		snprintf(what, sizeof(what), "accepted input #%d", ++form);
		promtool_agrees(text, 0, what);
		if (strlen(out) && out[strlen(out) - 1] == '\n')
			out[strlen(out) - 1] = '\0';
	}
	infra_buf_release(&d.b);
	return out;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct infra_buf b = INFRA_BUF_INIT;
	char tmp[65536];
	size_t n;

	if (!f)
		return NULL;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		infra_buf_append(&b, tmp, n);
	fclose(f);
	return infra_buf_steal(&b, len);
}

/* ---- writer tests ---- */

static void test_values(void)
{
	tap_streq(fmtv(NAN), "NaN", "NaN written as NaN");
	tap_streq(fmtv(-NAN), "NaN", "negative NaN written as NaN, never -nan");
	tap_streq(fmtv(copysign(NAN, -1.0)), "NaN", "copysign(NaN,-1) written as NaN");
	tap_streq(fmtv(INFINITY), "+Inf", "+Inf");
	tap_streq(fmtv(-INFINITY), "-Inf", "-Inf");
	tap_streq(fmtv(-0.0), "0", "-0 written as 0");
	tap_streq(fmtv(0.0), "0", "0");
	tap_streq(fmtv(9007199254740991.0), "9007199254740991", "2^53-1 exact");
	tap_streq(fmtv(-9007199254740991.0), "-9007199254740991", "-(2^53-1) exact");
	tap_streq(fmtv(9007199254740992.0), "9007199254740992", "2^53 exact");
	tap_streq(fmtv(1234567.0), "1234567", "1234567 not 1.23457e+06");
	tap_streq(fmtv(0.1), "0.1", "0.1: the shortest text that reads back");
	tap_streq(fmtv(1.63), "1.63", "a shim's 1.63 stays 1.63 (not 1.6299999999999999)");
	tap_streq(fmtv(0.94), "0.94", "0.94 (not 0.93999999999999995)");
	tap_streq(fmtv(0.1 + 0.2), "0.30000000000000004", "0.1+0.2 needs 17 digits");
	tap_streq(fmtv(1.0 / 3), "0.3333333333333333", "1/3 needs 16 digits");
	tap_ok(strtod(fmtv(5e-324), NULL) == 5e-324, "the smallest subnormal reads back (%s)", fmtv(5e-324));
	tap_streq(fmtv(1.7976931348623157e308), "1.7976931348623157e+308", "DBL_MAX");
	{
		/* property: every value reads back exactly, and no shorter %g form would */
		unsigned long long x = 88172645463325252ULL;
		int bad = 0;
		for (int i = 0; i < 200000; i++) {
			double v;
			char *e;
			x ^= x << 13; x ^= x >> 7; x ^= x << 17;
			memcpy(&v, &x, sizeof(v));
			if (!isfinite(v))
				continue;
			fmtv(v);
			if (strtod(fmtv(v), &e) != v || *e)
				bad++;
		}
		tap_ok(bad == 0, "200000 random doubles read back exactly (%d did not)", bad);
	}
	tap_streq(fmtv(1.5), "1.5", "1.5");
	tap_streq(fmtv(-2.25), "-2.25", "-2.25");
	tap_streq(fmtv(1e20), "1e+20", "1e20");
	tap_streq(fmtv(1e-7), "1e-07", "1e-7 (not 9.9999999999999995e-08)");
	tap_streq(fmtv(7.4e-05), "7.4e-05", "7.4e-05 (not 7.3999999999999996e-05)");
	{
		char small[4];

		tap_inteq(infra_prom_format_value(1234567.0, small, sizeof(small)), 3,
			  "format_value truncates to the buffer");
	}
}

static char locale_dir[] = "/tmp/test_prom_loc_XXXXXX";
static int locale_dir_made;

static int make_comma_locale(void)
{
	char *dir = locale_dir, cmd[512];
	char probe[16];

	if (setlocale(LC_NUMERIC, "de_DE.UTF-8") || setlocale(LC_NUMERIC, "de_DE.utf8") ||
	    setlocale(LC_NUMERIC, "fr_FR.UTF-8"))
		goto check;
	if (!file_exists_on_path("localedef") || !mkdtemp(dir))
		return 0;
	locale_dir_made = 1;
	snprintf(cmd, sizeof(cmd),
		 "localedef -i de_DE -f UTF-8 %s/de_DE.UTF-8 >/dev/null 2>&1", dir);
	if (system(cmd) != 0)
		return 0;
	setenv("LOCPATH", dir, 1);
	if (!setlocale(LC_NUMERIC, "de_DE.UTF-8"))
		return 0;
	tap_diag("generated de_DE.UTF-8 with localedef in %s", dir);
check:
	snprintf(probe, sizeof(probe), "%.1f", 0.5);
	return strcmp(probe, "0,5") == 0;
}

static void test_locale(void)
{
	struct infra_prom *p;
	char *s, probe[16];

	if (!make_comma_locale()) {
		tap_diag("no comma-decimal locale available; locale checks not run");
		setlocale(LC_NUMERIC, "C");
		return;
	}
	snprintf(probe, sizeof(probe), "%.1f", 0.5);
	tap_streq(probe, "0,5", "precondition: printf uses a comma in de_DE");
	tap_streq(fmtv(0.5), "0.5", "format_value uses '.' under de_DE");
	tap_streq(fmtv(0.1), "0.1", "shortest form uses '.' and reads back under de_DE");
	tap_streq(fmtv(0.1 + 0.2), "0.30000000000000004", "the read-back check works under de_DE");
	p = infra_prom_new(0);
	infra_prom_family(p, "t_ratio", INFRA_PROM_GAUGE, "Ratio.", NULL);
	infra_prom_addl(p, "t_ratio", 0.25, NULL, "k", "v", NULL);
	infra_prom_family(p, "t_hist_seconds", INFRA_PROM_HISTOGRAM, "H.", NULL);
	infra_prom_addl(p, "t_hist_seconds_bucket", 1, NULL, "le", "0.5", NULL);
	infra_prom_addl(p, "t_hist_seconds_bucket", 2, NULL, "le", "0.25", NULL);
	infra_prom_addl(p, "t_hist_seconds_bucket", 2, NULL, "le", "+Inf", NULL);
	infra_prom_addl(p, "t_hist_seconds_sum", 0.75, NULL, NULL);
	infra_prom_addl(p, "t_hist_seconds_count", 2, NULL, NULL);
	s = render(p);
	tap_ok(s && strstr(s, "t_ratio{k=\"v\"} 0.25\n") && !strchr(s, ','), "writer output has no ',' decimal under de_DE");
	tap_ok(s && strstr(s, "le=\"0.25\"} 2\nt_hist_seconds_bucket{le=\"0.5\"} 1\n") != NULL,
	       "le sorted numerically under de_DE");
	tap_ok(s && strstr(s, "t_hist_seconds_sum 0.75\n") != NULL, "sum 0.75 under de_DE");
	{
		struct dump d;
		struct infra_err err = INFRA_ERR_INIT;

		tap_inteq(parse_dump("a 0.5\n", 6, &d, &err), 0, "parser under de_DE");
		tap_ok(strstr(d.b.data, "= 0.5\n") != NULL, "parser reads 0.5 under de_DE");
		infra_buf_release(&d.b);
	}
	free(s);
	infra_prom_free(p);
	setlocale(LC_NUMERIC, "C");
}

static void locale_cleanup(void)
{
	char cmd[128];

	if (!locale_dir_made)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", locale_dir);
	if (system(cmd) != 0)
		tap_diag("could not remove %s", locale_dir);
}

static void test_escaping(void)
{
	struct infra_prom *p = infra_prom_new(0);
	char *s;

	infra_prom_family(p, "esc_info", INFRA_PROM_GAUGE, "Back\\slash, new\nline, \"quotes\".", NULL);
	tap_inteq(infra_prom_addl(p, "esc_info", 1, NULL, "v", "a\\b", NULL), 0, "add backslash value");
	tap_inteq(infra_prom_addl(p, "esc_info", 1, NULL, "v", "q\"q", NULL), 0, "add quote value");
	tap_inteq(infra_prom_addl(p, "esc_info", 1, NULL, "v", "n\nn", NULL), 0, "add newline value");
	tap_inteq(infra_prom_addl(p, "esc_info", 1, NULL, "v", "t\tt", NULL), 0, "add tab value");
	s = render(p);
	tap_ok(s && strstr(s, "esc_info{v=\"a\\\\b\"} 1\n") != NULL, "label: backslash -> \\\\");
	tap_ok(s && strstr(s, "esc_info{v=\"q\\\"q\"} 1\n") != NULL, "label: quote -> \\\"");
	tap_ok(s && strstr(s, "esc_info{v=\"n\\nn\"} 1\n") != NULL, "label: newline -> \\n");
	tap_ok(s && strstr(s, "esc_info{v=\"t\tt\"} 1\n") != NULL, "label: tab left as is");
	tap_ok(s && strstr(s, "# HELP esc_info Back\\\\slash, new\\nline, \"quotes\".\n") != NULL,
	       "HELP: backslash and newline escaped, quote not escaped");
	tap_ok(s && !strstr(s, "\\\"quotes"), "HELP never contains \\\"");
	promtool_ok(s ? s : "", "escaped output");
	free(s);
	infra_prom_free(p);
}

static void test_sorting(void)
{
	struct infra_prom *p = infra_prom_new(0);
	char *s;
	const char *want =
		"# HELP srt_alpha_bytes A.\n# TYPE srt_alpha_bytes gauge\n"
		"srt_alpha_bytes{k=\"a\"} 1\nsrt_alpha_bytes{k=\"b\"} 2\nsrt_alpha_bytes{k=\"c\"} 3\n"
		"# HELP srt_beta_bytes AB.\n# TYPE srt_beta_bytes gauge\nsrt_beta_bytes 4\n"
		"# HELP srt_gamma_bytes B.\n# TYPE srt_gamma_bytes gauge\n"
		"srt_gamma_bytes{x=\"1\",y=\"b\"} 5\nsrt_gamma_bytes{x=\"1\",y=\"c\"} 6\nsrt_gamma_bytes{x=\"2\",y=\"a\"} 7\n";

	infra_prom_family(p, "srt_gamma_bytes", INFRA_PROM_GAUGE, "B.", NULL);
	infra_prom_family(p, "srt_beta_bytes", INFRA_PROM_GAUGE, "AB.", NULL);
	infra_prom_family(p, "srt_alpha_bytes", INFRA_PROM_GAUGE, "A.", NULL);
	infra_prom_addl(p, "srt_gamma_bytes", 7, NULL, "x", "2", "y", "a", NULL);
	infra_prom_addl(p, "srt_alpha_bytes", 3, NULL, "k", "c", NULL);
	infra_prom_addl(p, "srt_gamma_bytes", 6, NULL, "y", "c", "x", "1", NULL);
	infra_prom_addl(p, "srt_beta_bytes", 4, NULL, NULL);
	infra_prom_addl(p, "srt_alpha_bytes", 1, NULL, "k", "a", NULL);
	infra_prom_addl(p, "srt_gamma_bytes", 5, NULL, "x", "1", "y", "b", NULL);
	infra_prom_addl(p, "srt_alpha_bytes", 2, NULL, "k", "b", NULL);
	s = render(p);
	tap_streq(s, want, "families sorted by name, samples by label values, label order kept");
	promtool_ok(s ? s : "", "sorted output");
	free(s);
	infra_prom_free(p);
}

static void test_sorting_bytes(void)
{
	struct infra_prom *p = infra_prom_new(0);
	char *s;

	infra_prom_addl(p, "pfx_xy", 1, NULL, NULL);
	infra_prom_addl(p, "pfx_x_y", 2, NULL, NULL);
	infra_prom_addl(p, "pfx_x", 3, NULL, NULL);
	infra_prom_addl(p, "pfx_X", 4, NULL, NULL);
	infra_prom_addl(p, "lv", 1, NULL, "k", "b", NULL);
	infra_prom_addl(p, "lv", 2, NULL, "k", "", NULL);
	infra_prom_addl(p, "lv", 3, NULL, "k", "B", NULL);
	infra_prom_addl(p, "lv", 4, NULL, "k", "\xc3\xa9", NULL);
	infra_prom_addl(p, "lv", 5, NULL, "k", "ba", NULL);
	s = render(p);
	tap_streq(s, "# TYPE lv untyped\nlv{k=\"\"} 2\nlv{k=\"B\"} 3\nlv{k=\"b\"} 1\nlv{k=\"ba\"} 5\n"
		  "lv{k=\"\xc3\xa9\"} 4\n"
		  "# TYPE pfx_X untyped\npfx_X 4\n# TYPE pfx_x untyped\npfx_x 3\n"
		  "# TYPE pfx_x_y untyped\npfx_x_y 2\n# TYPE pfx_xy untyped\npfx_xy 1\n",
		  "byte order: prefix first, upper before lower, '_' before letters, UTF-8 last");
	free(s);
	infra_prom_family(p, "nohelp_bytes", INFRA_PROM_GAUGE, "", NULL);
	s = render(p);
	tap_ok(s && !strstr(s, "# HELP nohelp_bytes") && strstr(s, "# TYPE nohelp_bytes gauge\n"),
	       "empty help writes no HELP line");
	free(s);
	infra_prom_free(p);
}

static void test_histogram(void)
{
	struct infra_prom *p = infra_prom_new(0);
	char *s;
	const char *want =
		"# HELP h_seconds Latency.\n# TYPE h_seconds histogram\n"
		"h_seconds_bucket{op=\"get\",le=\"0.5\"} 1\n"
		"h_seconds_bucket{op=\"get\",le=\"1\"} 2\n"
		"h_seconds_bucket{op=\"get\",le=\"10\"} 3\n"
		"h_seconds_bucket{op=\"get\",le=\"+Inf\"} 4\n"
		"h_seconds_sum{op=\"get\"} 9.5\n"
		"h_seconds_count{op=\"get\"} 4\n"
		"h_seconds_bucket{op=\"put\",le=\"0.5\"} 0\n"
		"h_seconds_bucket{op=\"put\",le=\"1\"} 0\n"
		"h_seconds_bucket{op=\"put\",le=\"10\"} 1\n"
		"h_seconds_bucket{op=\"put\",le=\"+Inf\"} 1\n"
		"h_seconds_sum{op=\"put\"} 3\n"
		"h_seconds_count{op=\"put\"} 1\n"
		"# HELP q_seconds Quantiles.\n# TYPE q_seconds summary\n"
		"q_seconds{quantile=\"0.05\"} 1\n"
		"q_seconds{quantile=\"0.5\"} 2\n"
		"q_seconds{quantile=\"0.99\"} 3\n"
		"q_seconds_sum 6\n"
		"q_seconds_count 3\n";
	static const char *ops[2] = { "put", "get" };
	static const char *les[4] = { "10", "+Inf", "1", "0.5" };
	int i, j;
	double vals[2][4] = { { 1, 1, 0, 0 }, { 3, 4, 2, 1 } };

	infra_prom_family(p, "h_seconds", INFRA_PROM_HISTOGRAM, "Latency.", NULL);
	for (i = 0; i < 2; i++) {
		infra_prom_addl(p, "h_seconds_count", i ? 4 : 1, NULL, "op", ops[i], NULL);
		for (j = 0; j < 4; j++)
			infra_prom_addl(p, "h_seconds_bucket", vals[i][j], NULL, "le", les[j], "op", ops[i], NULL);
	}
	infra_prom_addl(p, "h_seconds_sum", 3, NULL, "op", "put", NULL);
	infra_prom_addl(p, "h_seconds_sum", 9.5, NULL, "op", "get", NULL);
	infra_prom_addl(p, "q_seconds_sum", 6, NULL, NULL); /* before the family exists */
	infra_prom_family(p, "q_seconds", INFRA_PROM_SUMMARY, "Quantiles.", NULL);
	infra_prom_addl(p, "q_seconds_count", 3, NULL, NULL);
	infra_prom_addl(p, "q_seconds", 3, NULL, "quantile", "0.99", NULL);
	infra_prom_addl(p, "q_seconds", 1, NULL, "quantile", "0.05", NULL);
	infra_prom_addl(p, "q_seconds", 2, NULL, "quantile", "0.5", NULL);
	s = render(p);
	tap_ok(s != NULL, "render histogram");
	tap_ok(s && strstr(s, "h_seconds_bucket{op=\"get\",le=\"0.5\"} 1\n"
			   "h_seconds_bucket{op=\"get\",le=\"1\"} 2\n"
			   "h_seconds_bucket{op=\"get\",le=\"10\"} 3\n"
			   "h_seconds_bucket{op=\"get\",le=\"+Inf\"} 4\n"
			   "h_seconds_sum{op=\"get\"} 9.5\n"
			   "h_seconds_count{op=\"get\"} 4\n") != NULL,
	       "histogram: le numeric 0.5<1<10<+Inf, then sum, then count, le last");
	tap_ok(s && count_substr(s, "# TYPE h_seconds histogram\n") == 1, "histogram TYPE once");
	free(s);
	infra_prom_free(p);

	p = infra_prom_new(0);
	infra_prom_family(p, "q_seconds", INFRA_PROM_SUMMARY, "Quantiles.", NULL);
	infra_prom_family(p, "h_seconds", INFRA_PROM_HISTOGRAM, "Latency.", NULL);
	infra_prom_addl(p, "q_seconds", 3, NULL, "quantile", "0.99", NULL);
	for (i = 0; i < 2; i++) {
		for (j = 0; j < 4; j++)
			infra_prom_addl(p, "h_seconds_bucket", vals[i][j], NULL, "op", ops[i], "le", les[j], NULL);
		infra_prom_addl(p, "h_seconds_count", i ? 4 : 1, NULL, "op", ops[i], NULL);
		infra_prom_addl(p, "h_seconds_sum", i ? 9.5 : 3, NULL, "op", ops[i], NULL);
	}
	infra_prom_addl(p, "q_seconds_count", 3, NULL, NULL);
	infra_prom_addl(p, "q_seconds", 1, NULL, "quantile", "0.05", NULL);
	infra_prom_addl(p, "q_seconds_sum", 6, NULL, NULL);
	infra_prom_addl(p, "q_seconds", 2, NULL, "quantile", "0.5", NULL);
	s = render(p);
	tap_streq(s, want, "histogram and summary grouped and ordered (bucket<sum<count per labelset)");
	promtool_ok(s ? s : "", "histogram/summary output");
	free(s);

	{
		struct infra_err err = INFRA_ERR_INIT;

		tap_inteq(infra_prom_addl(p, "h_seconds_bucket", 1, &err, "op", "x", NULL), -EINVAL,
			  "bucket without le rejected");
		tap_inteq(infra_prom_addl(p, "h_seconds_bucket", 1, &err, "op", "x", "le", "abc", NULL),
			  -EINVAL, "non-numeric le rejected");
		tap_inteq(infra_prom_addl(p, "h_seconds_sum", 1, &err, "op", "x", "le", "1", NULL),
			  -EINVAL, "le on _sum rejected");
		tap_inteq(infra_prom_addl(p, "h_seconds", 1, &err, NULL), -EINVAL,
			  "bare histogram name rejected");
		tap_inteq(infra_prom_addl(p, "q_seconds", 1, &err, NULL), -EINVAL,
			  "summary sample without quantile rejected");
		tap_inteq(infra_prom_addl(p, "h_seconds_bucket", 5, &err, "op", "get", "le", "1", NULL),
			  -EEXIST, "duplicate bucket rejected");
		tap_inteq(infra_prom_family(p, "h_seconds_count", INFRA_PROM_GAUGE, NULL, &err), -EINVAL,
			  "family clashing with histogram sample name rejected");
	}
	infra_prom_free(p);

	{
		struct infra_err err = INFRA_ERR_INIT;

		p = infra_prom_new(0);
		infra_prom_addl(p, "late_seconds_sum", 1, NULL, NULL);
		tap_inteq(infra_prom_family(p, "late_seconds", INFRA_PROM_SUMMARY, "x", &err), -EINVAL,
			  "summary declared after its _sum exists as a family is rejected");
		infra_prom_free(p);
	}
}

static void test_duplicates(void)
{
	struct infra_prom *p = infra_prom_new(INFRA_PROM_PAD_LABELS);
	struct infra_err err = INFRA_ERR_INIT;
	char *s;

	infra_prom_family(p, "d_bytes", INFRA_PROM_GAUGE, "D.", NULL);
	tap_inteq(infra_prom_addl(p, "d_bytes", 1, &err, "a", "1", "b", "2", NULL), 0, "first add");
	tap_inteq(infra_prom_addl(p, "d_bytes", 2, &err, "a", "1", "b", "2", NULL), -EEXIST,
		  "duplicate series -> -EEXIST");
	tap_ok(strstr(err.msg, "duplicate") != NULL, "duplicate error message: %s", err.msg);
	tap_inteq(infra_prom_addl(p, "d_bytes", 2, &err, "b", "2", "a", "1", NULL), -EEXIST,
		  "duplicate with labels in other order -> -EEXIST");
	tap_inteq(infra_prom_addl(p, "d_bytes", 2, &err, "a", "1", "b", "2", "c", "", NULL), -EEXIST,
		  "duplicate with an extra empty label (padding) -> -EEXIST");
	tap_inteq(infra_prom_addl(p, "d_bytes", 3, &err, "a", "1", "b", "3", NULL), 0,
		  "different value is not a duplicate");
	tap_inteq(infra_prom_addl(p, "d_bytes", 3, &err, "a", "1", "a", "3", NULL), -EINVAL,
		  "same label name twice -> -EINVAL");
	tap_inteq(infra_prom_series_count(p), 2, "series count 2");
	s = render(p);
	tap_inteq(count_substr(s, "d_bytes{"), 2, "only 2 series written");
	free(s);
	infra_prom_free(p);

	/* many series: dedup table growth keeps working */
	p = infra_prom_new(0);
	{
		int i, bad = 0;
		char v[32];

		for (i = 0; i < 20000; i++) {
			snprintf(v, sizeof(v), "%d", i);
			if (infra_prom_addl(p, "m_bytes", i, NULL, "i", v, "sandbox_id", "abc", NULL))
				bad++;
		}
		for (i = 0; i < 20000; i += 7) {
			snprintf(v, sizeof(v), "%d", i);
			if (infra_prom_addl(p, "m_bytes", i, NULL, "i", v, "sandbox_id", "abc", NULL) != -EEXIST)
				bad++;
		}
		tap_inteq(bad, 0, "20000 series added, every re-add rejected");
		tap_inteq(infra_prom_series_count(p), 20000, "series count 20000");
	}
	infra_prom_free(p);
}

static void test_consistency(void)
{
	struct infra_prom *p = infra_prom_new(0);
	struct infra_err err = INFRA_ERR_INIT;
	char *s;

	tap_inteq(infra_prom_addl(p, "c_bytes", 1, &err, "a", "1", "b", "2", NULL), 0, "strict: first");
	tap_inteq(infra_prom_addl(p, "c_bytes", 1, &err, "a", "2", NULL), -EINVAL,
		  "strict: missing label -> -EINVAL");
	tap_inteq(infra_prom_addl(p, "c_bytes", 1, &err, "a", "3", "b", "2", "c", "1", NULL), -EINVAL,
		  "strict: extra label -> -EINVAL");
	tap_inteq(infra_prom_addl(p, "c_bytes", 1, &err, "a", "3", "c", "2", NULL), -EINVAL,
		  "strict: different label name -> -EINVAL");
	tap_inteq(infra_prom_addl(p, "c_bytes", 1, &err, "b", "4", "a", "3", NULL), 0,
		  "strict: same names in other order ok");
	s = render(p);
	tap_streq(s, "# TYPE c_bytes untyped\nc_bytes{a=\"1\",b=\"2\"} 1\nc_bytes{a=\"3\",b=\"4\"} 1\n",
		  "strict: output uses first-seen label order; undeclared family is untyped, no HELP");
	free(s);
	infra_prom_free(p);

	p = infra_prom_new(INFRA_PROM_PAD_LABELS);
	infra_prom_family(p, "pad_bytes", INFRA_PROM_GAUGE, "P.", NULL);
	tap_inteq(infra_prom_addl(p, "pad_bytes", 1, &err, "a", "1", NULL), 0, "pad: first");
	tap_inteq(infra_prom_addl(p, "pad_bytes", 2, &err, "b", "x", NULL), 0, "pad: other label");
	tap_inteq(infra_prom_addl(p, "pad_bytes", 3, &err, "b", "y", "a", "2", NULL), 0, "pad: both");
	tap_inteq(infra_prom_addl(p, "pad_bytes", 4, NULL, NULL), 0, "pad: none");
	s = render(p);
	tap_streq(s, "# HELP pad_bytes P.\n# TYPE pad_bytes gauge\n"
		  "pad_bytes{a=\"\",b=\"\"} 4\n"
		  "pad_bytes{a=\"\",b=\"x\"} 2\n"
		  "pad_bytes{a=\"1\",b=\"\"} 1\n"
		  "pad_bytes{a=\"2\",b=\"y\"} 3\n",
		  "pad: missing labels written as \"\" and sorted first");
	promtool_ok(s ? s : "", "padded output");
	free(s);
	infra_prom_free(p);
}

static void test_names(void)
{
	struct infra_prom *p = infra_prom_new(0);
	struct infra_err err = INFRA_ERR_INIT;

	tap_inteq(infra_prom_addl(p, "1abc", 1, &err, NULL), -EINVAL, "metric name starting with digit");
	tap_inteq(infra_prom_addl(p, "a-b", 1, &err, NULL), -EINVAL, "metric name with '-'");
	tap_inteq(infra_prom_addl(p, "", 1, &err, NULL), -EINVAL, "empty metric name");
	tap_inteq(infra_prom_addl(p, "a.b", 1, &err, NULL), -EINVAL, "metric name with '.'");
	tap_inteq(infra_prom_addl(p, "ok:name_1", 1, &err, NULL), 0, "metric name with ':' and digits");
	tap_inteq(infra_prom_addl(p, "x", 1, &err, "1a", "v", NULL), -EINVAL, "label name starting with digit");
	tap_inteq(infra_prom_addl(p, "x", 1, &err, "__a", "v", NULL), -EINVAL, "label name starting __");
	tap_inteq(infra_prom_addl(p, "x", 1, &err, "a:b", "v", NULL), -EINVAL, "label name with ':'");
	tap_inteq(infra_prom_addl(p, "x", 1, &err, "_a", "v", NULL), 0, "label name _a ok");
	tap_inteq(infra_prom_addl(p, "y", 1, &err, "a", "\xff", NULL), -EINVAL, "invalid UTF-8 label value");
	tap_inteq(infra_prom_addl(p, "y", 1, &err, "a", "\xc3\xa9", NULL), 0, "UTF-8 label value ok");
	tap_inteq(infra_prom_family(p, "bad name", INFRA_PROM_GAUGE, NULL, &err), -EINVAL, "bad family name");
	tap_inteq(infra_prom_family(p, "g_bytes", INFRA_PROM_GAUGE, "first", &err), 0, "declare gauge");
	tap_inteq(infra_prom_family(p, "g_bytes", INFRA_PROM_GAUGE, "second", &err), 0, "re-declare same");
	tap_inteq(infra_prom_family(p, "g_bytes", INFRA_PROM_COUNTER, NULL, &err), -EINVAL,
		  "re-declare with other type");
	tap_ok(strstr(err.msg, "gauge") && strstr(err.msg, "counter"), "type error names both: %s", err.msg);
	tap_ok(infra_prom_has_family(p, "g_bytes") && !infra_prom_has_family(p, "nope"), "has_family");
	tap_inteq(infra_prom_family_count(p), 4, "family count");
	{
		char *s = render(p);

		tap_ok(s && strstr(s, "# HELP g_bytes first\n") != NULL, "first HELP kept");
		free(s);
	}
	{
		enum infra_prom_type t = INFRA_PROM_UNTYPED;

		tap_ok(infra_prom_type_parse("Summary", 7, &t) == 0 && t == INFRA_PROM_SUMMARY,
		       "type_parse case-insensitive");
		tap_inteq(infra_prom_type_parse("gauge_histogram", 15, &t), -EINVAL, "type_parse unknown");
		tap_streq(infra_prom_type_name(INFRA_PROM_COUNTER), "counter", "type_name");
	}
	infra_prom_free(p);
}

static void test_many_labels(void)
{
	struct infra_prom *p = infra_prom_new(INFRA_PROM_PAD_LABELS);
	struct infra_err err = INFRA_ERR_INIT;
	static char names[1100][16], vals[1100][16];
	const char *labels[2 * 1100 + 1];
	char le[200];
	int i, rc;
	char *s;

	for (i = 0; i < 1100; i++) {
		snprintf(names[i], sizeof(names[i]), "l%d", i);
		snprintf(vals[i], sizeof(vals[i]), "v%d", i);
	}
	for (i = 0; i < 300; i++) {
		labels[2 * i] = names[i];
		labels[2 * i + 1] = vals[i];
	}
	labels[600] = NULL;
	tap_inteq(infra_prom_add(p, "wide", labels, 1, &err), 0, "300 labels");
	labels[2] = NULL; /* only l0 */
	tap_inteq(infra_prom_add(p, "wide", labels, 2, &err), 0, "pad 299 missing labels");
	labels[2] = names[1];
	for (i = 0; i < 1100; i++) {
		labels[2 * i] = names[i];
		labels[2 * i + 1] = vals[i];
	}
	labels[2 * 1100] = NULL;
	tap_inteq(infra_prom_add(p, "wider", labels, 1, &err), -EINVAL, "more than 1024 labels rejected");
	labels[2 * 1024] = NULL;
	tap_inteq(infra_prom_add(p, "wider", labels, 1, &err), 0, "1024 labels accepted");
	s = render(p);
	tap_ok(s && strstr(s, "wide{l0=\"v0\",l1=\"\",l2=\"\"") != NULL, "padded wide series written");
	free(s);
	memset(le, '0', sizeof(le));
	le[0] = '0';
	le[1] = '.';
	le[sizeof(le) - 2] = '1';
	le[sizeof(le) - 1] = '\0';
	infra_prom_family(p, "long_le_seconds", INFRA_PROM_HISTOGRAM, "H.", NULL);
	rc = infra_prom_addl(p, "long_le_seconds_bucket", 1, &err, "le", le, NULL);
	tap_inteq(rc, 0, "198-digit le accepted (%s)", err.msg);
	infra_prom_free(p);
}

static void test_layout(void)
{
	struct infra_prom *p = infra_prom_new(0);
	struct infra_buf b = INFRA_BUF_INIT;
	char *s;

	tap_inteq(infra_prom_write(p, &b, NULL), 0, "empty collection writes");
	tap_inteq(b.len, 0, "empty collection writes nothing");
	infra_buf_release(&b);
	infra_prom_family(p, "e_bytes", INFRA_PROM_GAUGE, "Empty.", NULL);
	s = render(p);
	tap_streq(s, "# HELP e_bytes Empty.\n# TYPE e_bytes gauge\n", "empty family: HELP and TYPE only");
	free(s);
	infra_prom_addl(p, "late_bytes", 1, NULL, "k", "b", NULL);
	infra_prom_addl(p, "late_bytes", 2, NULL, "k", "a", NULL);
	infra_prom_family(p, "late_bytes", INFRA_PROM_GAUGE, "Declared after samples.", NULL);
	infra_prom_addl(p, "e2_bytes", 1, NULL, NULL);
	s = render(p);
	tap_ok(s && strstr(s, "# HELP late_bytes Declared after samples.\n# TYPE late_bytes gauge\n"
			   "late_bytes{k=\"a\"} 2\nlate_bytes{k=\"b\"} 1\n") != NULL,
	       "family declared after samples: HELP, TYPE before samples");
	tap_ok(s && s[strlen(s) - 1] == '\n', "output ends with newline");
	tap_inteq(count_substr(s, "# HELP"), 2, "one HELP per family with help");
	tap_inteq(count_substr(s, "# TYPE"), 3, "one TYPE per family");
	tap_ok(s && !strstr(s, "} 1 ") && !strstr(s, "} 2 "), "no timestamps");
	/* appends to existing buffer content */
	infra_buf_init(&b, 0);
	infra_buf_puts(&b, "PREFIX\n");
	infra_prom_write(p, &b, NULL);
	tap_ok(strncmp(b.data, "PREFIX\n# TYPE e2_bytes", 22) == 0, "write appends to buffer");
	infra_buf_release(&b);
	/* capped buffer: -E2BIG, buffer unchanged */
	infra_buf_init(&b, 16);
	infra_buf_puts(&b, "keep");
	tap_inteq(infra_prom_write(p, &b, NULL), -E2BIG, "capped buffer -> -E2BIG");
	tap_streq(b.data, "keep", "buffer unchanged after failed write");
	infra_buf_release(&b);
	free(s);
	infra_prom_free(p);
}

/* ---- parser tests ---- */

static void test_parse_values(void)
{
	tap_streq(one("a 1\n"), "1 SAMPLE a = 1", "value 1");
	tap_streq(one("a -1.5\n"), "1 SAMPLE a = -1.5", "value -1.5");
	tap_streq(one("a .5\n"), "1 SAMPLE a = 0.5", "value .5");
	tap_streq(one("a 5.\n"), "1 SAMPLE a = 5", "value 5.");
	tap_streq(one("a +3\n"), "1 SAMPLE a = 3", "value +3");
	tap_streq(one("a 1e3\n"), "1 SAMPLE a = 1000", "value 1e3");
	tap_streq(one("a 1.835008e+06\n"), "1 SAMPLE a = 1835008", "value 1.835008e+06");
	tap_streq(one("a 2.5E-3\n"), "1 SAMPLE a = 0.0025", "value 2.5E-3");
	tap_streq(one("a 0.1\n"), "1 SAMPLE a = 0.1", "value 0.1 exact double (shortest form reads back)");
	tap_streq(one("a 123456789012345678901234567890\n"), "1 SAMPLE a = 1.2345678901234568e+29",
		  "value with 30 digits");
	tap_streq(one("a 9007199254740993\n"), "1 SAMPLE a = 9007199254740992", "2^53+1 rounds like strtod");
	tap_streq(one("a 1e-400\n"), "1 SAMPLE a = 0", "underflow to 0 accepted");
	tap_streq(one("a NaN\n"), "1 SAMPLE a = NaN", "NaN");
	tap_streq(one("a nan\n"), "1 SAMPLE a = NaN", "nan");
	tap_streq(one("a +Inf\n"), "1 SAMPLE a = +Inf", "+Inf");
	tap_streq(one("a -Inf\n"), "1 SAMPLE a = -Inf", "-Inf");
	tap_streq(one("a inf\n"), "1 SAMPLE a = +Inf", "inf");
	tap_streq(one("a -infinity\n"), "1 SAMPLE a = -Inf", "-infinity");
	tap_streq(one("a -0\n"), "1 SAMPLE a = 0", "-0");
	tap_streq(one("a 1 1700000000000\n"), "1 SAMPLE a = 1 @1700000000000", "timestamp");
	tap_streq(one("a 1 -5\n"), "1 SAMPLE a = 1 @-5", "negative timestamp");
	tap_streq(one("a 1 -9223372036854775808\n"), "1 SAMPLE a = 1 @-9223372036854775808",
		  "int64 min timestamp");
	tap_streq(one("a{b=\"c\"}1\n"), "1 SAMPLE a b=[c] = 1", "no blank between } and value");
	tap_streq(one("foo-1 2\n"), "1 SAMPLE foo = -1 @2", "name directly followed by value (as expfmt)");
}

struct fcheck {
	const double *want;
	size_t n, bad;
	char **text;
};

static int fcheck_cb(void *ud, const struct infra_prom_event *ev)
{
	struct fcheck *c = ud;
	double w = c->want[c->n];

	if (ev->kind != INFRA_PROM_EV_SAMPLE)
		return 0;
	if (memcmp(&w, &ev->value, sizeof(w)) != 0 && !(isnan(w) && isnan(ev->value))) {
		if (c->bad++ < 5)
			tap_diag("value %s: got %.17g want %.17g", c->text[c->n], ev->value, w);
	}
	c->n++;
	return 0;
}

/* Every fast path of the value parser must round exactly like strtod. */
static void test_parse_float_exact(void)
{
	enum { N = 60000 };
	static double want[N];
	static char *text[N];
	struct infra_buf doc = INFRA_BUF_INIT;
	struct fcheck c = { want, 0, 0, text };
	uint64_t x = 0x853c49e6748fea9bULL;
	size_t i;
	int rc;

	for (i = 0; i < N; i++) {
		char buf[80];
		uint64_t bits;
		double d;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		switch (i % 4) {
		case 0: /* random finite double, printed with 15..20 digits */
			bits = x & 0x7fefffffffffffffULL;
			memcpy(&d, &bits, sizeof(d));
			snprintf(buf, sizeof(buf), "%.*g", 15 + (int)(x >> 60) % 6, d);
			break;
		case 1: /* random digits, decimal exponent -30..30 */
			snprintf(buf, sizeof(buf), "%llue%d", (unsigned long long)(x >> (x & 31)),
				 (int)((x >> 40) % 61) - 30);
			break;
		case 2: /* typical %.17g of small numbers */
			d = (double)(x >> 11) / (double)(1ULL << (x & 63));
			snprintf(buf, sizeof(buf), "%.17g", d);
			break;
		default: /* fixed-point with up to 19 digits after the point */
			snprintf(buf, sizeof(buf), "%llu.%0*llu", (unsigned long long)((x >> 50) % 1000),
				 1 + (int)((x >> 20) % 19), (unsigned long long)(x % 10000000000000000000ULL));
			break;
		}
		text[i] = strdup(buf);
		want[i] = strtod(buf, NULL);
		infra_buf_printf(&doc, "v %s\n", buf);
	}
	rc = infra_prom_parse(doc.data, doc.len, fcheck_cb, &c, NULL);
	tap_ok(rc == 0 && c.n == N && c.bad == 0, "%d random values parse bit-exactly like strtod (%zu differ)",
	       N, c.bad);
	for (i = 0; i < N; i++)
		free(text[i]);
	infra_buf_release(&doc);
}

static void test_parse_valid(void)
{
	tap_streq(one("  a \t {  b = \"c\" ,  d=\"e\" , } \t 1 \t 2\n"),
		  "1 SAMPLE a b=[c] d=[e] = 1 @2", "blanks and tabs everywhere, trailing comma");
	tap_streq(one("a{} 1\n"), "1 SAMPLE a = 1", "empty braces");
	tap_streq(one("a{b=\"x\\\\y\\\"z\\nw\"} 1\n"), "1 SAMPLE a b=[x\\y\"z\nw] = 1",
		  "label escapes \\\\ \\\" \\n unescaped");
	tap_streq(one("a{b=\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"} 1\n"),
		  "1 SAMPLE a b=[\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80] = 1", "UTF-8 label value");
	tap_streq(one("a{b=\"tab\there\"} 1\n"), "1 SAMPLE a b=[tab\there] = 1", "raw tab in label value");
	tap_streq(one("# HELP a x\\\\y\\nz \"q\" \n"), "1 HELP a [x\\y\nz \"q\" ]",
		  "HELP unescaped, raw quote kept, trailing blank kept");
	tap_streq(one("#HELP a b\n"), "1 HELP a [b]", "#HELP without blank is HELP");
	tap_streq(one("# TYPE a COUNTER\n"), "1 TYPE a counter", "TYPE case-insensitive");
	tap_streq(one("# some comment\n"), "1 COMMENT [some comment]", "free comment");
	tap_streq(one("#\n"), "1 COMMENT []", "bare #");
	tap_streq(one("# EOF\n"), "1 COMMENT [EOF]", "# EOF is a comment");
	tap_streq(one("# HELP a\n"), "1 COMMENT [HELP a]", "HELP without text is a comment");
	tap_streq(one("# HELP\n"), "1 COMMENT [HELP]", "HELP without name is a comment");
	tap_streq(one("\n  \n\t\n"), "", "blank lines");
	tap_streq(one("   \t"), "", "only blanks without final newline");
	tap_streq(one(""), "", "empty input");
	expect_valid("# HELP a\n# HELP a b\na 1\n", 1, "HELP without text does not count as HELP");
	expect_valid("a 1\nb 1\na 2\n", 3, "interleaved samples (expfmt merges them)");
	expect_valid("a{b=\"1\"} 1\na{b=\"1\"} 2\n", 2, "duplicate series (parser does not dedup)");
	expect_valid("a{__x=\"1\"} 1\n", 1, "label __x accepted by parser");
	expect_valid("# TYPE s summary\ns{quantile=\"0.5\",quantile=\"0.9\"} 1\n", 1,
		     "summary: duplicate quantile not checked (as expfmt)");
	expect_valid("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n", 3, "histogram");
	expect_valid("a:b 1\n", 1, "colon in metric name");
	expect_valid("# TYPE x_count counter\n# TYPE x summary\nx_count 1\n", 1,
		     "x_count family before summary x");
}

static int type_cb(void *ud, const struct infra_prom_event *ev)
{
	struct infra_buf *b = ud;

	if (ev->kind == INFRA_PROM_EV_SAMPLE)
		infra_buf_printf(b, "%s:%s ", ev->name, infra_prom_type_name(ev->type));
	return 0;
}

static void test_parse_types(void)
{
	const char *doc = "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_count 1\n# TYPE s summary\n"
			  "s_sum 1\n# TYPE g gauge\ng 1\nu 2\nh_total 3\n";
	struct infra_buf b = INFRA_BUF_INIT;

	infra_buf_puts(&b, "");
	tap_inteq(infra_prom_parse(doc, strlen(doc), type_cb, &b, NULL), 0, "typed document parses");
	tap_streq(b.data, "h_bucket:histogram h_count:histogram s_sum:summary g:gauge u:untyped h_total:untyped ",
		  "sample events carry their family's type");
	infra_buf_release(&b);
}

static void test_load(void)
{
	struct infra_prom *p = infra_prom_new(0);
	struct infra_err err = INFRA_ERR_INIT;
	const char *doc = "a_bytes 1\n# HELP a_bytes Late help.\n"
			  "# TYPE s_seconds summary\ns_seconds{quantile=\"0.5\"} 1\n# HELP s_seconds_count Via count.\n"
			  "# HELP h_seconds Before type.\n# HELP g_bytes Other.\n# TYPE h_seconds histogram\n"
			  "h_seconds_bucket{le=\"+Inf\"} 1\n";
	char *s;

	tap_inteq(infra_prom_load(p, doc, strlen(doc), NULL, &err), 0, "load: HELP after samples, via _count, before TYPE (%s)", err.msg);
	s = render(p);
	tap_streq(s, "# HELP a_bytes Late help.\n# TYPE a_bytes untyped\na_bytes 1\n"
		  "# HELP g_bytes Other.\n# TYPE g_bytes untyped\n"
		  "# HELP h_seconds Before type.\n# TYPE h_seconds histogram\nh_seconds_bucket{le=\"+Inf\"} 1\n"
		  "# HELP s_seconds Via count.\n# TYPE s_seconds summary\ns_seconds{quantile=\"0.5\"} 1\n",
		  "load keeps HELP/TYPE wherever they came");
	free(s);
	tap_inteq(infra_prom_load(p, "x 1\nx{a=\"1\"} 2\n", 15, NULL, &err), -EINVAL,
		  "load: inconsistent label names rejected");
	tap_ok(strncmp(err.msg, "line 2: ", 8) == 0 && strstr(err.msg, "lack"), "load error on line 2: %s", err.msg);
	tap_inteq(infra_prom_load(p, "y 1\ny -nan\n", 11, NULL, &err), -EINVAL, "load: parse error");
	tap_ok(strncmp(err.msg, "line 2: ", 8) == 0, "load parse error on line 2: %s", err.msg);
	infra_prom_free(p);
}

static void test_parse_errors(void)
{
	expect_error("a 1\nb 2", 2, "end of input", "missing final newline");
	expect_error("a 1\n#", 2, "end of input", "missing final newline after #");
	expect_error("a 1\nb{c=\"\\t\"} 1\n", 2, "escape", "bad escape \\t in label value");
	expect_error("a{c=\"x\\\"} 1\n", 1, NULL, "escaped quote at end of label value");
	expect_error("a 1\n\na -nan\n", 3, "float", "-nan");
	expect_error("a +nan\n", 1, "float", "+nan");
	expect_error("a 1e400\n", 1, "float", "1e400 overflow");
	expect_error("a 0x10\n", 1, "float", "hex value");
	expect_error("a 1_000\n", 1, "float", "underscore in value");
	expect_error("a 1 1.5\n", 1, "timestamp", "float timestamp");
	expect_error("a 1 9223372036854775808\n", 1, "timestamp", "timestamp overflow");
	expect_error("a 1 \n", 1, "timestamp", "trailing blank after value (as expfmt)");
	expect_error("a 1 2 \n", 1, "spurious", "trailing blank after timestamp");
	expect_error("a 1 2 # x\n", 1, "spurious", "text after timestamp");
	expect_error("# HELP a x\n# HELP a y\n", 2, "second HELP", "second HELP");
	expect_error("# TYPE s summary\n# HELP s x\n# HELP s_count y\n", 3, "second HELP",
		     "second HELP via summary _count");
	expect_error("# TYPE a gauge\n# TYPE a gauge\n", 2, "second TYPE", "second TYPE");
	expect_error("a 1\n# TYPE a gauge\n", 2, "TYPE", "TYPE after samples");
	expect_error("# TYPE a gauges\n", 1, "unknown metric type", "unknown type");
	expect_error("# TYPE a gauge \n", 1, "unknown metric type", "TYPE with trailing blank (as expfmt)");
	expect_error("# TYPE a gauge\r\na 1\r\n", 1, "unknown metric type", "CRLF");
	expect_error("# TYPE a gauge_histogram\n", 1, "unknown metric type", "gauge_histogram");
	expect_error("a 1\na{b=\"x\ny\"} 1\n", 2, "new-line", "raw newline in label value");
	expect_error("a{b=\"\xff\"} 1\n", 1, "invalid label value", "invalid UTF-8 label value");
	expect_error("a{b=\"\xed\xa0\x80\"} 1\n", 1, "invalid label value", "UTF-8 surrogate");
	expect_error("a{b=\"\xc0\xaf\"} 1\n", 1, "invalid label value", "overlong UTF-8");
	expect_error("1a 1\n", 1, "invalid metric name", "bad metric name");
	expect_error("{a=\"b\"} 1\n", 1, "invalid metric name", "braces without name");
	expect_error("# HELP 1a x\n", 1, "invalid metric name in comment", "bad name in HELP");
	expect_error("# HELP a-b x\n", 1, "invalid metric name in comment", "bad char after HELP name");
	expect_error("# HELP a x\\\"y\n", 1, "escape", "\\\" in HELP (as promtool 2.42)");
	expect_error("# HELP a x\\\n", 1, "escape", "backslash at end of HELP");
	expect_error("a{1b=\"c\"} 1\n", 1, "invalid label name", "bad label name");
	expect_error("a{,} 1\n", 1, "invalid label name", "lone comma");
	expect_error("a{b=\"1\",,} 1\n", 1, "invalid label name", "double comma");
	expect_error("a{b} 1\n", 1, "'='", "label without =");
	expect_error("a{b=c} 1\n", 1, "'\"'", "unquoted label value");
	expect_error("a{b=\"c\" d=\"e\"} 1\n", 1, "unexpected end of label value", "missing comma");
	expect_error("a{b=\"1\",b=\"2\"} 1\n", 1, "duplicate label", "duplicate label names");
	expect_error("a{__name__=\"x\"} 1\n", 1, "reserved", "__name__ label");
	expect_error("a{b=\"c\"}\n", 1, "float", "missing value");
	expect_error("a\n", 1, "float", "name only");
	expect_error("# TYPE s summary\ns{quantile=\"x\"} 1\n", 2, "quantile", "non-float quantile");
	expect_error("# TYPE h histogram\nh_bucket{le=\"-nan\"} 1\n", 2, "'le'", "non-float le");
	{
		/* errors are sticky; feed after error returns the same code */
		struct infra_prom_parser *ps = infra_prom_parser_new(NULL, NULL);
		struct infra_err err = INFRA_ERR_INIT;

		tap_inteq(infra_prom_parser_feed(ps, "a -nan\n", 7, &err), -EINVAL, "feed error");
		tap_inteq(infra_prom_parser_feed(ps, "b 1\n", 4, &err), -EINVAL, "error is sticky");
		tap_inteq(infra_prom_parser_finish(ps, &err), -EINVAL, "finish after error");
		infra_prom_parser_free(ps);
	}
}

static int stop_cb(void *ud, const struct infra_prom_event *ev)
{
	int *n = ud;

	(void)ev;
	return ++*n == 2 ? 42 : 0;
}

static void test_parse_misc(void)
{
	int n = 0;
	struct infra_err err = INFRA_ERR_INIT;

	tap_inteq(infra_prom_parse("a 1\nb 1\nc 1\n", 12, stop_cb, &n, &err), 42,
		  "callback's non-zero value stops and is returned");
	tap_inteq(n, 2, "no events after stop");
	{
		size_t len = ((size_t)16 << 20) + 10, i;
		char *big = malloc(len);
		struct infra_prom_parser *ps = infra_prom_parser_new(NULL, NULL);
		int rc = 0;

		memset(big, 'a', len);
		for (i = 0; i < len && !rc; i += 1 << 20)
			rc = infra_prom_parser_feed(ps, big + i, len - i < (1 << 20) ? len - i : 1 << 20, &err);
		tap_inteq(rc, -E2BIG, "line over 16 MiB -> -E2BIG (chunked)");
		infra_prom_parser_free(ps);
		big[len - 1] = '\n';
		tap_inteq(infra_prom_parse(big, len, NULL, NULL, &err), -E2BIG,
			  "line over 16 MiB -> -E2BIG (one shot)");
		free(big);
	}
}

static const char *sample_doc =
	"# HELP kata_guest_meminfo Guest meminfo. Back\\\\slash\\nnewline \"q\"\n"
	"# TYPE kata_guest_meminfo gauge\n"
	"kata_guest_meminfo{item=\"active\",sandbox_id=\"3f2\xc3\xa9\xe2\x82\xac\"} 1.835008e+06\n"
	"kata_guest_meminfo{item=\"in\\\\act\\\"ive\\n\",sandbox_id=\"\"} -Inf 1700000000000\n"
	"\t \n"
	"# a free comment with {braces} and \\ backslash\n"
	"# TYPE lat_seconds histogram\n"
	"lat_seconds_bucket{le=\"0.5\"} 1\n"
	"lat_seconds_bucket{le=\"+Inf\" , } 2\n"
	"lat_seconds_sum 0.1\n"
	"lat_seconds_count 2\n"
	"  up\t{ job = \"x\" }\tNaN\t-12\n";

static void test_chunked(void)
{
	size_t n = strlen(sample_doc), i, j;
	struct dump ref, d;
	struct infra_err err = INFRA_ERR_INIT;
	int bad = 0, rc;

	rc = parse_dump(sample_doc, n, &ref, &err);
	tap_ok(rc == 0 && ref.nsamples == 7, "sample document parses (%s)", err.msg);
	for (i = 0; i <= n; i++) {
		struct infra_prom_parser *ps;

		infra_buf_init(&d.b, 0);
		infra_buf_puts(&d.b, "");
		d.nsamples = 0;
		ps = infra_prom_parser_new(dump_cb, &d);
		rc = infra_prom_parser_feed(ps, sample_doc, i, &err);
		if (!rc)
			rc = infra_prom_parser_feed(ps, sample_doc + i, n - i, &err);
		if (!rc)
			rc = infra_prom_parser_finish(ps, &err);
		if (rc || strcmp(d.b.data, ref.b.data) != 0) {
			if (!bad)
				tap_diag("split at %zu differs: rc=%d", i, rc);
			bad++;
		}
		infra_prom_parser_free(ps);
		infra_buf_release(&d.b);
	}
	tap_inteq(bad, 0, "every 2-chunk split point gives the one-shot result (%zu splits)", n + 1);
	bad = 0;
	for (i = 1; i < n; i += 3) {
		for (j = i; j <= n; j += 5) {
			struct infra_prom_parser *ps;

			infra_buf_init(&d.b, 0);
			infra_buf_puts(&d.b, "");
			ps = infra_prom_parser_new(dump_cb, &d);
			rc = infra_prom_parser_feed(ps, sample_doc, i, &err);
			rc = rc ? rc : infra_prom_parser_feed(ps, sample_doc + i, j - i, &err);
			rc = rc ? rc : infra_prom_parser_feed(ps, sample_doc + j, n - j, &err);
			rc = rc ? rc : infra_prom_parser_finish(ps, &err);
			if (rc || strcmp(d.b.data, ref.b.data) != 0)
				bad++;
			infra_prom_parser_free(ps);
			infra_buf_release(&d.b);
		}
	}
	tap_inteq(bad, 0, "3-chunk splits give the one-shot result");
	{
		struct infra_prom_parser *ps;

		infra_buf_init(&d.b, 0);
		infra_buf_puts(&d.b, "");
		ps = infra_prom_parser_new(dump_cb, &d);
		rc = 0;
		for (i = 0; i < n && !rc; i++)
			rc = infra_prom_parser_feed(ps, sample_doc + i, 1, &err);
		rc = rc ? rc : infra_prom_parser_finish(ps, &err);
		tap_ok(rc == 0 && strcmp(d.b.data, ref.b.data) == 0, "byte-by-byte feeding");
		infra_prom_parser_free(ps);
		infra_buf_release(&d.b);
	}
	/* errors found at the same line whatever the split */
	{
		const char *bad_doc = "a 1\nb{c=\"\xc3\xa9\"} 2\nc{d=\"x\\ty\"} 3\n";
		size_t bn = strlen(bad_doc);
		int wrong = 0;

		for (i = 0; i <= bn; i++) {
			struct infra_prom_parser *ps = infra_prom_parser_new(NULL, NULL);

			infra_err_clear(&err);
			rc = infra_prom_parser_feed(ps, bad_doc, i, &err);
			rc = rc ? rc : infra_prom_parser_feed(ps, bad_doc + i, bn - i, &err);
			rc = rc ? rc : infra_prom_parser_finish(ps, &err);
			if (rc != -EINVAL || strncmp(err.msg, "line 3: ", 8) != 0)
				wrong++;
			infra_prom_parser_free(ps);
		}
		tap_inteq(wrong, 0, "error line number independent of chunking");
	}
	infra_buf_release(&ref.b);
}

/* ---- round trips ---- */

static void test_roundtrip(void)
{
	struct infra_prom *p = infra_prom_new(0), *q;
	struct infra_err err = INFRA_ERR_INIT;
	char *s1, *s2;
	int rc;

	infra_prom_family(p, "rt_info", INFRA_PROM_GAUGE, "Help with \\ and\nnewline and \"quote\".", NULL);
	infra_prom_addl(p, "rt_info", 1, NULL, "v", "a\\b\"c\nd\te", "w", "\xc3\xa9", NULL);
	infra_prom_addl(p, "rt_info", NAN, NULL, "v", "", "w", "x", NULL);
	infra_prom_addl(p, "rt_info", -INFINITY, NULL, "v", "z", "w", "x", NULL);
	infra_prom_addl(p, "rt_info", 0.1, NULL, "v", "y", "w", "x", NULL);
	infra_prom_addl(p, "rt_info", 1e300, NULL, "v", "y", "w", "y", NULL);
	infra_prom_addl(p, "rt_info", -4.9e-324, NULL, "v", "y", "w", "z", NULL);
	infra_prom_family(p, "rt_seconds", INFRA_PROM_HISTOGRAM, "H.", NULL);
	infra_prom_addl(p, "rt_seconds_bucket", 1, NULL, "le", "1", NULL);
	infra_prom_addl(p, "rt_seconds_bucket", 2, NULL, "le", "+Inf", NULL);
	infra_prom_addl(p, "rt_seconds_sum", 1.25, NULL, NULL);
	infra_prom_addl(p, "rt_seconds_count", 2, NULL, NULL);
	infra_prom_family(p, "rt_q_seconds", INFRA_PROM_SUMMARY, NULL, NULL);
	infra_prom_addl(p, "rt_q_seconds", 7, NULL, "quantile", "0.9", NULL);
	infra_prom_addl(p, "rt_q_seconds_sum", 7, NULL, NULL);
	infra_prom_addl(p, "rt_q_seconds_count", 1, NULL, NULL);
	infra_prom_addl(p, "rt_untyped", 3, NULL, NULL);
	s1 = render(p);
	q = infra_prom_new(0);
	rc = infra_prom_load(q, s1, strlen(s1), NULL, &err);
	tap_inteq(rc, 0, "parse(write(x)) loads (%s)", err.msg);
	s2 = render(q);
	tap_streq(s2, s1, "write(parse(write(x))) == write(x)");
	tap_inteq(infra_prom_series_count(q), infra_prom_series_count(p), "same series count after round trip");
	free(s2);
	infra_prom_free(q);
	/* extra labels, as kata-monitor appends them */
	q = infra_prom_new(0);
	{
		static const char *const extra[] = { "sandbox_id", "abc", "cri_uid", "", NULL };

		rc = infra_prom_load(q, s1, strlen(s1), extra, &err);
		tap_inteq(rc, 0, "load with extra labels");
		s2 = render(q);
		tap_ok(s2 && strstr(s2, "rt_seconds_bucket{sandbox_id=\"abc\",cri_uid=\"\",le=\"1\"} 1\n") != NULL,
		       "extra labels appended, le kept last");
		tap_inteq(infra_prom_load(q, s1, strlen(s1), extra, &err), -EEXIST,
			  "loading the same body twice -> -EEXIST");
		tap_ok(strncmp(err.msg, "line ", 5) == 0, "load error names the line: %s", err.msg);
		free(s2);
	}
	infra_prom_free(q);
	free(s1);
	infra_prom_free(p);
}

struct multiset {
	char **lines;
	size_t n, cap;
};

static int ms_cb(void *ud, const struct infra_prom_event *ev)
{
	struct multiset *m = ud;
	struct infra_buf b = INFRA_BUF_INIT;
	char v[64];
	size_t i, j;
	const struct infra_prom_label **ls;

	if (ev->kind != INFRA_PROM_EV_SAMPLE)
		return 0;
	/* labels sorted by name so label order does not matter */
	ls = malloc((ev->nlabels + 1) * sizeof(*ls));
	for (i = 0; i < ev->nlabels; i++)
		ls[i] = &ev->labels[i];
	for (i = 1; i < ev->nlabels; i++)
		for (j = i; j > 0 && strcmp(ls[j - 1]->name, ls[j]->name) > 0; j--) {
			const struct infra_prom_label *t = ls[j];

			ls[j] = ls[j - 1];
			ls[j - 1] = t;
		}
	infra_buf_puts(&b, ev->name);
	for (i = 0; i < ev->nlabels; i++)
		infra_buf_printf(&b, "|%s=%s", ls[i]->name, ls[i]->value);
	infra_prom_format_value(ev->value, v, sizeof(v));
	infra_buf_printf(&b, " %s", v);
	free(ls);
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 256;
		m->lines = realloc(m->lines, m->cap * sizeof(*m->lines));
	}
	m->lines[m->n++] = infra_buf_steal(&b, NULL);
	return 0;
}

static int cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void ms_free(struct multiset *m)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		free(m->lines[i]);
	free(m->lines);
}

static void test_fixtures(void)
{
	static const char *files[] = {
		"go-shim-qemu.prom", "go-shim-qemu-2.prom", "kata-monitor-2-sandboxes.prom",
		"rs-shim-dragonball.prom",
	};
	size_t i, k;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char path[512];
		size_t len;
		char *text, *s1, *s2;
		struct infra_prom *p, *q;
		struct infra_err err = INFRA_ERR_INIT;
		struct multiset a = { 0 }, b = { 0 };
		int rc, same;

		snprintf(path, sizeof(path), "%s/%s", fixture_dir, files[i]);
		text = read_file(path, &len);
		if (!text) {
			tap_ok(0, "fixture %s readable", files[i]);
			continue;
		}
		p = infra_prom_new(0);
		rc = infra_prom_load(p, text, len, NULL, &err);
		tap_inteq(rc, 0, "%s: loads (%s)", files[i], err.msg);
		s1 = render(p);
		rc = infra_prom_parse(text, len, ms_cb, &a, &err);
		rc |= infra_prom_parse(s1 ? s1 : "", s1 ? strlen(s1) : 0, ms_cb, &b, &err);
		tap_inteq(rc, 0, "%s: original and rewritten both parse", files[i]);
		qsort(a.lines, a.n, sizeof(char *), cmpstr);
		qsort(b.lines, b.n, sizeof(char *), cmpstr);
		same = a.n == b.n && a.n > 0;
		for (k = 0; same && k < a.n; k++)
			if (strcmp(a.lines[k], b.lines[k]) != 0) {
				tap_diag("first difference: [%s] vs [%s]", a.lines[k], b.lines[k]);
				same = 0;
			}
		tap_ok(same, "%s: write(parse(f)) has the same %zu samples", files[i], a.n);
		q = infra_prom_new(0);
		rc = infra_prom_load(q, s1, strlen(s1), NULL, &err);
		s2 = render(q);
		tap_ok(rc == 0 && s2 && strcmp(s1, s2) == 0, "%s: writer output is a fixed point", files[i]);
		tap_inteq(count_substr(s1, "# TYPE"), (long long)infra_prom_family_count(p),
			  "%s: one TYPE per family", files[i]);
		if (have_promtool) {
			int prc = promtool_rc(s1);

			/* upstream names carry lint warnings (rc 3); a parse error is rc 1 */
			tap_ok(prc == 0 || prc == 3, "%s: promtool parses the rewrite (rc %d)", files[i], prc);
		}
		free(s2);
		infra_prom_free(q);
		ms_free(&a);
		ms_free(&b);
		free(s1);
		infra_prom_free(p);
		free(text);
	}
	{
		/* two shim bodies merged with per-sandbox labels, like kata-monitor */
		size_t l1, l2;
		char p1[512], p2[512];
		char *t1, *t2, *s;
		struct infra_prom *p = infra_prom_new(INFRA_PROM_PAD_LABELS);
		struct infra_err err = INFRA_ERR_INIT;
		static const char *const e1[] = { "sandbox_id", "s1", "cri_uid", "u1", "cri_name", "n1",
						  "cri_namespace", "default", NULL };
		static const char *const e2[] = { "sandbox_id", "s2", "cri_uid", "", "cri_name", "",
						  "cri_namespace", "", NULL };

		snprintf(p1, sizeof(p1), "%s/go-shim-qemu.prom", fixture_dir);
		snprintf(p2, sizeof(p2), "%s/go-shim-qemu-2.prom", fixture_dir);
		t1 = read_file(p1, &l1);
		t2 = read_file(p2, &l2);
		tap_ok(t1 && t2 && infra_prom_load(p, t1, l1, e1, &err) == 0 &&
		       infra_prom_load(p, t2, l2, e2, &err) == 0, "merge two shim bodies (%s)", err.msg);
		s = render(p);
		tap_ok(s && count_substr(s, "# HELP go_gc_duration_seconds ") == 1,
		       "merged: one HELP per family");
		if (have_promtool && s) {
			int prc = promtool_rc(s);

			tap_ok(prc == 0 || prc == 3, "merged output parses in promtool (rc %d)", prc);
		}
		free(s);
		free(t1);
		free(t2);
		infra_prom_free(p);
	}
}

/* Events say where their line is in the input and keep the value's text. */
struct pos_log {
	size_t n, off[4], len[4];
	char val[4][16];
};

static int pos_cb(void *ud, const struct infra_prom_event *ev)
{
	struct pos_log *l = ud;

	if (l->n < 4) {
		l->off[l->n] = ev->offset;
		l->len[l->n] = ev->line_len;
		snprintf(l->val[l->n], sizeof(l->val[l->n]), "%.*s", (int)ev->value_text_len,
			 ev->value_text ? ev->value_text : "");
		l->n++;
	}
	return 0;
}

static void test_parse_positions(void)
{
	const char *in = "a 1\n# HELP b x\n\nb{l=\"v\\\"\"} 2.50 123\nc 6.2901757e+07\n";
	struct infra_err err = INFRA_ERR_INIT;

	for (size_t step = 1; step <= strlen(in); step += strlen(in) - 1) {
		struct infra_prom_parser *ps;
		struct pos_log l;
		int rc = 0;

		memset(&l, 0, sizeof(l));
		ps = infra_prom_parser_new(pos_cb, &l);
		for (size_t i = 0; i < strlen(in) && !rc; i += step)
			rc = infra_prom_parser_feed(ps, in + i, strlen(in) - i < step ? strlen(in) - i : step, &err);
		rc = rc ? rc : infra_prom_parser_finish(ps, &err);
		infra_prom_parser_free(ps);
		tap_inteq(rc, 0, "positions, chunks of %zu: parsed", step);
		tap_inteq(l.n, 4, "4 events");
		tap_ok(l.off[0] == 0 && l.len[0] == 4 && !strcmp(l.val[0], "1"), "sample at 0, 4 bytes, value text 1");
		tap_ok(l.off[1] == 4 && l.len[1] == 11 && !l.val[1][0], "HELP at 4, 11 bytes, no value text");
		tap_ok(l.off[2] == 16 && l.len[2] == 20 && !strcmp(l.val[2], "2.50"),
		       "sample after a blank line at 16, 20 bytes, value text 2.50 (as written): %zu %zu %s", l.off[2], l.len[2],
		       l.val[2]);
		tap_ok(l.off[3] == 36 && l.len[3] == 16 && !strcmp(l.val[3], "6.2901757e+07"), "last sample at 36: %s",
		       l.val[3]);
	}
	{
		double d;
		tap_ok(infra_prom_parse_float("2.5E-3", 6, &d) == 0 && d == 0.0025, "parse_float exported");
		tap_ok(infra_prom_parse_float("-nan", 4, &d) != 0 && infra_prom_parse_float("0x1p3", 5, &d) != 0,
		       "and refuses what the parser refuses");
	}
}

int main(void)
{
	setlocale(LC_ALL, "C");
	if (getenv("INFRA_KATA_FIXTURES")) {
		fixture_dir = getenv("INFRA_KATA_FIXTURES");
	} else if (getenv("INFRA_SRCDIR")) {
		static char dirbuf[4096];
		snprintf(dirbuf, sizeof(dirbuf), "%s/%s", getenv("INFRA_SRCDIR"), FIXTURE_DIR);
		fixture_dir = dirbuf;
	}
	have_promtool = file_exists_on_path("promtool");
	if (!have_promtool)
		tap_diag("promtool not on PATH: promtool checks not run");
	test_values();
	test_escaping();
	test_sorting();
	test_sorting_bytes();
	test_histogram();
	test_duplicates();
	test_consistency();
	test_names();
	test_layout();
	test_many_labels();
	test_parse_values();
	test_parse_float_exact();
	test_parse_valid();
	test_parse_errors();
	test_parse_types();
	test_load();
	test_parse_misc();
	test_chunked();
	test_parse_positions();
	test_roundtrip();
	test_fixtures();
	test_locale();
	locale_cleanup();
	return tap_done();
}
