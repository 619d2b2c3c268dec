/* Unit tests: monitoring-plugins ranges, thresholds, perfdata and the Nagios line. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "infra_exit.h"
#include "infra_nagios.h"
#include "infra_report.h"
#include "tap.h"

static int alerts(const char *range, double v)
{
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_range r;

	if (infra_range_parse(range, &r, &err))
		return -1;
	return infra_range_alert(&r, v);
}

static void ranges(void)
{
	/* the table of the monitoring-plugins guidelines (M4) */
	tap_ok(alerts("10", -1) == 1 && alerts("10", 0) == 0 && alerts("10", 10) == 0 && alerts("10", 11) == 1,
	       "'10' alerts below 0 and above 10, endpoints inclusive");
	tap_ok(alerts("10:", 9.5) == 1 && alerts("10:", 10) == 0 && alerts("10:", 1e9) == 0, "'10:' alerts below 10");
	tap_ok(alerts("~:10", -1e9) == 0 && alerts("~:10", 10) == 0 && alerts("~:10", 10.1) == 1, "'~:10' alerts above 10");
	tap_ok(alerts("10:20", 9) == 1 && alerts("10:20", 15) == 0 && alerts("10:20", 21) == 1, "'10:20' alerts outside");
	tap_ok(alerts("@10:20", 10) == 1 && alerts("@10:20", 20) == 1 && alerts("@10:20", 21) == 0 &&
	       alerts("@10:20", 9) == 0, "'@10:20' alerts inside, inclusive");
	tap_ok(alerts("0", 0) == 0 && alerts("0", 1) == 1, "'0' alerts on anything above 0");
	tap_ok(alerts("-5:-1", -3) == 0 && alerts("-5:-1", 0) == 1, "negative bounds");
	tap_ok(alerts("1.5:2.5", 2) == 0 && alerts("1.5:2.5", 2.6) == 1, "decimal bounds");
	tap_ok(alerts("", 0) == -1 && alerts("20:10", 0) == -1 && alerts("abc", 0) == -1 && alerts("0x10", 0) == -1 &&
	       alerts("inf", 0) == -1 && alerts("1e3", 0) == -1 && alerts("@", 0) == -1 && alerts("10:x", 0) == -1,
	       "bad ranges refused: empty, start > end, words, hex, inf, exponent, bare @");
	{
		struct infra_err err = INFRA_ERR_INIT;
		struct infra_range r;
		infra_range_parse("20:10", &r, &err);
		tap_ok(strstr(err.msg, "'20:10'") && strstr(err.msg, "start > end"), "error names the range: %s", err.msg);
	}
}

static void thresholds(void)
{
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_threshold t;

	tap_ok(infra_threshold_set(&t, "10", "20", &err) == 0, "thresholds -w 10 -c 20");
	tap_ok(infra_threshold_status(&t, 5) == INFRA_EXIT_OK && infra_threshold_status(&t, 15) == INFRA_EXIT_WARNING &&
	       infra_threshold_status(&t, 25) == INFRA_EXIT_CRITICAL, "ok / warning / critical");
	infra_threshold_set(&t, "100", "10", &err);
	tap_ok(infra_threshold_status(&t, 50) == INFRA_EXIT_CRITICAL, "critical is checked before warning");
	infra_threshold_set(&t, NULL, NULL, &err);
	tap_ok(infra_threshold_status(&t, 1e9) == INFRA_EXIT_OK, "no thresholds: OK");
	tap_ok(infra_threshold_set(&t, "x", NULL, &err) == -EINVAL, "bad warning range refused");
}

static char *render(struct infra_report *r)
{
	struct infra_buf b;
	infra_buf_init(&b, 0);
	infra_nagios_render(r, &b);
	return infra_buf_steal(&b, NULL);
}

static void lines(void)
{
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_report r;
	struct infra_threshold t;
	char *s;

	infra_report_init(&r, "osmon-orphans", "osmon_orphans", 0, &err);
	infra_threshold_set(&t, "0", "10", &err);
	infra_report_status(&r, INFRA_EXIT_WARNING);
	infra_report_summary(&r, "3 orphans (18 of 18 resource types queried)");
	infra_report_perf(&r, "orphans", 3, "", &t, 0, NAN);
	infra_report_perf(&r, "it's", 0.5, "s", NULL, NAN, NAN);
	infra_report_perf(&r, "ratio", 0.94, "", NULL, 0, 1);
	infra_report_perf(&r, "tiny", 7.4e-05, "s", NULL, NAN, NAN);
	infra_report_perf(&r, "nan", NAN, "", NULL, NAN, NAN);
	infra_report_detail(&r, "network/ports: 2");
	s = render(&r);
	tap_ok(!strcmp(s, "OSMON_ORPHANS WARNING: 3 orphans (18 of 18 resource types queried) | 'orphans'=3;0;10;0 "
			  "'it''s'=0.5s 'ratio'=0.94;;;0;1 'tiny'=0.000074s 'nan'=U\nnetwork/ports: 2\n"),
	       "line 1: NAME STATUS: summary | perfdata (quoted labels, no exponent, U, trailing ; dropped); long output");
	tap_diag("%s", s);
	free(s);
	infra_report_release(&r);

	/* a failed run: the summary is the error, never "0 found" */
	infra_report_init(&r, "osmon-orphans", "osmon_orphans", 0, &err);
	infra_report_summary(&r, "no orphans (0 of 0 resource types queried)");
	infra_report_error(&r, "cannot authenticate: 401 Unauthorized (password=hunter2)");
	infra_report_error(&r, "network/ports not queried");
	infra_report_status(&r, INFRA_EXIT_UNKNOWN);
	s = render(&r);
	tap_ok(!strncmp(s, "OSMON_ORPHANS UNKNOWN: cannot authenticate: 401 Unauthorized",
			strlen("OSMON_ORPHANS UNKNOWN: cannot authenticate: 401 Unauthorized")) &&
	       strstr(s, "(and 1 more errors)\n") && strstr(s, "\nnetwork/ports not queried\n") && !strstr(s, "hunter2"),
	       "UNKNOWN: the first error is the summary, the rest below, secrets masked");
	tap_ok(strchr(s, '\n') - s < (long)strlen(s) && !strncmp(strchr(s, '\n') + 1, "no orphans", 10),
	       "UNKNOWN: the tool's summary moves to the long output");
	tap_diag("%s", s);
	free(s);
	infra_report_release(&r);

	infra_report_init(&r, "osmon-run", "osmon", 0, &err);
	infra_report_summary(&r, "a | b\nc");
	s = render(&r);
	tap_ok(!strcmp(s, "OSMON_RUN OK: a   b c\n"), "a '|' or newline in the summary cannot start perfdata or a line");
	free(s);
	infra_report_release(&r);
}

int main(void)
{
	ranges();
	thresholds();
	lines();
	return tap_done();
}
