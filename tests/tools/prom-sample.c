/* prom-sample CASE - write one exposition built with the libinfra writer, for the
 * real-tier gate (tests/real/prom-writer.t): promtool and node_exporter must accept
 * every one of them.  `prom-sample --list` names the cases. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "infra_prom.h"
#include "infra_report.h"

static int add(struct infra_prom *p, const char *name, double v, const char *k1, const char *v1,
	       const char *k2, const char *v2)
{
	const char *labels[5] = { k1, v1, k2, v2, NULL };
	if (!k1)
		labels[0] = NULL;
	else if (!k2)
		labels[2] = NULL;
	return infra_prom_add(p, name, labels, v, NULL);
}

static int build(const char *c, struct infra_prom *p)
{
	int rc = 0;

	if (!strcmp(c, "escaping")) {
		rc |= infra_prom_family(p, "sample_escape_info", INFRA_PROM_GAUGE,
					"Label values with \\ backslash, \"quotes\" and a\nnewline", NULL);
		rc |= add(p, "sample_escape_info", 1, "v", "back\\slash", NULL, NULL);
		rc |= add(p, "sample_escape_info", 1, "v", "a \"quoted\" word", NULL, NULL);
		rc |= add(p, "sample_escape_info", 1, "v", "two\nlines", NULL, NULL);
		rc |= add(p, "sample_escape_info", 1, "v", "tab\there", NULL, NULL);
		rc |= add(p, "sample_escape_info", 1, "v", "utf8 \xc3\xa9\xe2\x82\xac", NULL, NULL);
		rc |= add(p, "sample_escape_info", 1, "v", "} injected_series 1\n#", NULL, NULL);
		rc |= add(p, "sample_escape_info", 1, "v", "", NULL, NULL);
	} else if (!strcmp(c, "values")) {
		rc |= infra_prom_family(p, "sample_value", INFRA_PROM_GAUGE, "Special and exact values", NULL);
		rc |= add(p, "sample_value", NAN, "k", "nan", NULL, NULL);
		rc |= add(p, "sample_value", -NAN, "k", "negnan", NULL, NULL);
		rc |= add(p, "sample_value", INFINITY, "k", "inf", NULL, NULL);
		rc |= add(p, "sample_value", -INFINITY, "k", "neginf", NULL, NULL);
		rc |= add(p, "sample_value", 9007199254740992.0, "k", "2p53", NULL, NULL);
		rc |= add(p, "sample_value", 1234567, "k", "int", NULL, NULL);
		rc |= add(p, "sample_value", 0.1, "k", "tenth", NULL, NULL);
		rc |= add(p, "sample_value", 1e-300, "k", "tiny", NULL, NULL);
		rc |= add(p, "sample_value", -0.0, "k", "negzero", NULL, NULL);
		rc |= add(p, "sample_value", 1.7976931348623157e308, "k", "max", NULL, NULL);
	} else if (!strcmp(c, "histogram")) {
		static const double le[] = { 1, 2, 4, 8, 16, 32, 64, 128, 256, 512 };
		char buf[32];
		rc |= infra_prom_family(p, "sample_request_duration_seconds", INFRA_PROM_HISTOGRAM,
					"Request durations", NULL);
		for (int s = 0; s < 2; s++) {
			const char *svc = s ? "nova" : "keystone";
			for (int i = 9; i >= 0; i--) {
				infra_prom_format_value(le[i], buf, sizeof(buf));
				rc |= add(p, "sample_request_duration_seconds_bucket", i * 2 + s, "service", svc, "le", buf);
			}
			rc |= add(p, "sample_request_duration_seconds_bucket", 30, "service", svc, "le", "+Inf");
			rc |= add(p, "sample_request_duration_seconds_count", 30, "service", svc, NULL, NULL);
			rc |= add(p, "sample_request_duration_seconds_sum", 123.5, "service", svc, NULL, NULL);
		}
		rc |= infra_prom_family(p, "sample_latency_seconds", INFRA_PROM_SUMMARY, "Latency quantiles", NULL);
		rc |= add(p, "sample_latency_seconds", 0.9, "quantile", "0.99", NULL, NULL);
		rc |= add(p, "sample_latency_seconds", 0.5, "quantile", "0.5", NULL, NULL);
		rc |= add(p, "sample_latency_seconds_sum", 10, NULL, NULL, NULL, NULL);
		rc |= add(p, "sample_latency_seconds_count", 20, NULL, NULL, NULL, NULL);
	} else if (!strcmp(c, "order")) {
		/* added in reverse and interleaved: the writer groups and sorts */
		rc |= add(p, "sample_zeta_total", 1, "b", "2", NULL, NULL);
		rc |= add(p, "sample_alpha", 1, "a", "x", NULL, NULL);
		rc |= add(p, "sample_zeta_total", 2, "b", "1", NULL, NULL);
		rc |= add(p, "sample_alpha", 2, "a", "w", NULL, NULL);
		rc |= infra_prom_family(p, "sample_zeta_total", INFRA_PROM_COUNTER, "Declared after its samples", NULL);
		rc |= infra_prom_family(p, "sample_alpha", INFRA_PROM_GAUGE, "Alpha", NULL);
		rc |= infra_prom_family(p, "sample_empty", INFRA_PROM_GAUGE, "A family with no samples", NULL);
	} else if (!strcmp(c, "batch")) {
		struct infra_report r;
		/* the batch-job metrics of every tool */
		if (infra_report_init(&r, "prom-sample", "sample", 0, NULL))
			return -1;
		infra_report_finish(&r, NULL, NULL);
		{
			struct infra_buf b = INFRA_BUF_INIT;
			rc = infra_prom_write(r.prom, &b, NULL);
			fwrite(b.data ? b.data : "", 1, b.len, stdout);
			infra_buf_release(&b);
		}
		infra_report_release(&r);
		return rc ? rc : 1; /* 1 = already written */
	} else {
		return -2;
	}
	return rc;
}

int main(int argc, char **argv)
{
	static const char *const cases[] = { "escaping", "values", "histogram", "order", "batch", NULL };
	struct infra_prom *p;
	struct infra_buf b = INFRA_BUF_INIT;
	struct infra_err err = INFRA_ERR_INIT;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: prom-sample CASE|--list\n");
		return 2;
	}
	if (!strcmp(argv[1], "--list")) {
		for (int i = 0; cases[i]; i++)
			puts(cases[i]);
		return 0;
	}
	p = infra_prom_new(0);
	rc = build(argv[1], p);
	if (rc == 1) {
		infra_prom_free(p);
		return 0;
	}
	if (rc) {
		fprintf(stderr, "prom-sample: case %s failed to build (%d)\n", argv[1], rc);
		infra_prom_free(p);
		return 1;
	}
	rc = infra_prom_write(p, &b, &err);
	if (rc)
		fprintf(stderr, "prom-sample: %s\n", err.msg);
	else
		fwrite(b.data, 1, b.len, stdout);
	infra_buf_release(&b);
	infra_prom_free(p);
	return rc ? 1 : 0;
}
