/* nasmon-check --html: infra_html_bar_chart (rows never overlap, values past the
 * axis end at it, round ticks, names escaped) and infra_nasmon_html_render (every
 * name from the sources escaped, findings grouped by check, a run without results). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infra_buf.h"
#include "infra_html.h"
#include "infra_nasmon.h"
#include "infra_nasmon_html.h"
#include "tap.h"

int main(void)
{
	struct infra_buf b;

	{
		struct infra_html_bar bars[] = { { "tank", 0.45, INFRA_HTML_OK, "1 of 2" },
						 { "<script>x</script>", 1.7, INFRA_HTML_BAD, "<b>" },
						 { "empty", NAN, INFRA_HTML_NONE, NULL },
						 { "a-very-long-pool-name-indeed", 0.0001, INFRA_HTML_WARN, NULL } };
		double x, w, last = -100;
		int y, nr = 0, rows_ok = 1, maxw_ok = 1;
		const char *s;

		infra_buf_init(&b, 0);
		tap_inteq(infra_html_bar_chart(&b, "fill", "%", bars, 4, 1, 0.8, 0.9), 0, "bar chart renders");
		for (s = b.data; (s = strstr(s, "<rect x=\"")); s++) {
			if (sscanf(s, "<rect x=\"%lf\" y=\"%d\" width=\"%lf\"", &x, &y, &w) != 3)
				continue;
			nr++;
			rows_ok &= y >= last + 16;
			maxw_ok &= w >= 1 && x + w <= 860 - 250 + 0.01;
			last = y;
		}
		tap_ok(nr == 3 && rows_ok, "one bar per value (NaN: none), each in its own row: %d", nr);
		tap_ok(maxw_ok, "bars at least 1 px, never past the axis end (170%% stops at 100%%)");
		tap_ok(strstr(b.data, ">170%</text>") && strstr(b.data, ">n/a</text>"), "the value is printed, n/a for none");
		tap_ok(!strstr(b.data, "<script>") && strstr(b.data, "&lt;script&gt;x&lt;/script&gt;") &&
			       strstr(b.data, "<title>&lt;b&gt;</title>"), "names and tips escaped");
		tap_ok(strstr(b.data, ">a-very-l\xe2\x80\xa6</text>") != NULL, "a long name is cut to fit the margin");
		tap_ok(strstr(b.data, ">0%</text>") && strstr(b.data, ">20%</text>") && strstr(b.data, ">100%</text>") &&
			       !strstr(b.data, ">120%</text>"), "x ticks every 20%% up to 100%%");
		tap_ok(strstr(b.data, "<title>warning 80%</title>") && strstr(b.data, "<title>critical 90%</title>"),
		       "warn and crit marks");
		infra_buf_release(&b);
	}
	{
		struct infra_html_bar bars[] = { { "a", 37, 0, NULL }, { "b", 12, 0, NULL } };

		infra_buf_init(&b, 0);
		tap_inteq(infra_html_bar_chart(&b, "n", NULL, bars, 2, NAN, NAN, NAN), 0, "auto axis renders");
		tap_ok(strstr(b.data, ">40</text>") && !strstr(b.data, ">45</text>") && !strstr(b.data, "stroke-dasharray"),
		       "auto axis ends on a round tick above the largest value (40), no marks");
		infra_buf_release(&b);
	}
	{
		struct infra_nasmon_result res;
		struct infra_nasmon_html_run run = { 0 };
		json_object *f = json_tokener_parse(
			"{\"check\":\"ORPH-PV\",\"severity\":\"critical\",\"object\":{\"kind\":\"PersistentVolume\","
			"\"name\":\"<img src=x onerror=alert(1)>\",\"namespace\":\"ns&<\"},\"truenas\":{\"id\":\"tank/\\\"q\"},"
			"\"message\":\"</td><script>alert(2)</script>\",\"evidence\":{}}");
		json_object *src = json_tokener_parse("{\"kubernetes\":{\"up\":false,\"error\":\"<i>down</i>\"},"
						      "\"truenas\":{\"up\":true,\"version\":\"<v>\",\"transport\":\"rest\"}}");

		memset(&res, 0, sizeof(res));
		res.findings = json_object_new_array();
		json_object_array_add(res.findings, f);
		res.pools = json_tokener_parse("{\"<u>\":{\"used_bytes\":95,\"usable_bytes\":100,\"status\":\"ONLINE\"}}");
		res.checks[NASMON_ORPH_PV] = (struct infra_nasmon_check_result){ 1, 2, { 0, 0, 0, 1 }, "" };
		res.checks[NASMON_SNAP_AGE] = (struct infra_nasmon_check_result){ 1, 3, { 0 }, "needs <TrueNAS>" };
		res.nfindings[NASMON_SEV_CRITICAL] = 1;
		run.res = &res;
		run.sources = src;
		run.status = "critical";
		run.now = 1.8e9;
		infra_buf_init(&b, 0);
		tap_inteq(infra_nasmon_html_render(&run, &b), 0, "page renders");
		tap_ok(!strstr(b.data, "<script") && !strstr(b.data, "<img") && !strstr(b.data, "<i>") &&
			       !strstr(b.data, "<v>") && !strstr(b.data, "<u>"), "no name from the sources reaches the page as markup");
		tap_ok(strstr(b.data, "ns&amp;&lt;/&lt;img src=x onerror=alert(1)&gt;") &&
			       strstr(b.data, "tank/&quot;q") && strstr(b.data, "&lt;/td&gt;&lt;script&gt;"),
		       "namespace/name, TrueNAS id and message escaped");
		tap_ok(strstr(b.data, "<h3>ORPH-PV</h3>") && !strstr(b.data, "<h3>SNAP-AGE</h3>") &&
			       strstr(b.data, "UNKNOWN: needs &lt;TrueNAS&gt;"), "findings grouped by check; the UNKNOWN reason escaped");
		tap_ok(strstr(b.data, "class=\"num bad\">95.0%") != NULL, "a pool past CAP-POOL crit is marked bad");
		infra_buf_release(&b);
		run.res = NULL;
		infra_buf_init(&b, 0);
		tap_inteq(infra_nasmon_html_render(&run, &b), 0, "a run whose checks never ran renders");
		tap_ok(strstr(b.data, "the checks did not run") && strstr(b.data, "&lt;i&gt;down&lt;/i&gt;"),
		       "it says so and names the source error");
		infra_buf_release(&b);
		json_object_put(res.findings);
		json_object_put(res.pools);
		json_object_put(src);
	}
	return tap_done();
}
