/* infra_html charts: timeline bars never overlap and keep a worse state visible,
 * y ticks at round values, every legend line inside the SVG. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infra_buf.h"
#include "infra_html.h"
#include "tap.h"

struct bar {
	double x, w;
	int y;
	char fill[8];
};

static size_t bars(const char *s, struct bar *out, size_t max)
{
	size_t n = 0;

	while (n < max && (s = strstr(s, "<rect x=\""))) {
		const char *f = strstr(s, "fill=\""), *end = strchr(s, '>');
		if (f && end && f < end &&
		    sscanf(s, "<rect x=\"%lf\" y=\"%d\" width=\"%lf\" height=\"16\"", &out[n].x, &out[n].y, &out[n].w) == 3 &&
		    sscanf(f, "fill=\"%7[#0-9a-f]", out[n].fill) == 1)
			n++;
		s++;
	}
	return n;
}

static int overlaps(const struct bar *b, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (b[i].y == b[i - 1].y && b[i - 1].x + b[i - 1].w > b[i].x + 0.011)
			return 1;
	return 0;
}

int main(void)
{
	struct infra_buf b;
	struct bar r[400];
	size_t n;
	double red = 0;

	/* duplicate times, a single-point row, an empty row */
	{
		double x[] = { 0, 900, 900, 1800, 1800, 2700 }, one[] = { 1800 };
		int st[] = { 1, 1, 3, 1, 3, 1 }, st1[] = { 3 };
		struct infra_html_timeline_row rows[] = { { "a", 6, x, st, NULL }, { "b", 1, one, st1, NULL },
							  { "c", 0, NULL, NULL, NULL } };
		infra_buf_init(&b, 0);
		tap_inteq(infra_html_timeline(&b, "t", rows, 3), 0, "timeline renders");
		n = bars(b.data, r, 400);
		tap_ok(n >= 4 && !overlaps(r, n), "duplicate times: %zu bars, none overlapping", n);
		tap_ok(strstr(b.data, "fill=\"#e53935\"") != NULL, "a bad sample at the time of a good one is drawn");
		infra_buf_release(&b);
	}
	/* 2000 fifteen-minute samples on a 546 px axis, one bad sample in the middle */
	{
		static double x[2000];
		static int st[2000];
		struct infra_html_timeline_row row = { "svc", 2000, x, st, NULL };
		for (int i = 0; i < 2000; i++) {
			x[i] = 1e9 + i * 900.0;
			st[i] = i == 1000 ? INFRA_HTML_BAD : INFRA_HTML_OK;
		}
		infra_buf_init(&b, 0);
		tap_inteq(infra_html_timeline(&b, "dense", &row, 1), 0, "dense timeline renders");
		static struct bar d[2000];
		n = bars(b.data, d, 2000);
		for (size_t i = 0; i < n; i++)
			if (!strcmp(d[i].fill, "#e53935"))
				red += d[i].w;
		tap_ok(n >= 1000 && !overlaps(d, n), "dense: %zu bars, none overlapping", n);
		tap_ok(red >= 0.99 && red <= 1.5, "one bad sample of 0.27 px is still %.2f px of red", red);
		infra_buf_release(&b);
	}
	/* y ticks at round values; a legend of 20 long names fits */
	{
		double x[] = { 0, 60, 120 }, y[] = { 0.011, 0.0421, 0.029 };
		struct infra_html_series s[20];
		char names[20][64];
		int vh = 0;
		for (int i = 0; i < 20; i++) {
			snprintf(names[i], sizeof(names[i]), "KeystoneBasic.create_and_list_users_&_more_%02d", i);
			s[i] = (struct infra_html_series){ names[i], 3, x, y };
		}
		infra_buf_init(&b, 0);
		tap_inteq(infra_html_line_chart(&b, "lat", "s", s, 20, NAN, NAN), 0, "line chart renders");
		tap_ok(strstr(b.data, ">0.01s</text>") && strstr(b.data, ">0.05s</text>") &&
			       !strstr(b.data, ">0.06s</text>"), "y ticks 0, 0.01 ... 0.05");
		if (sscanf(strstr(b.data, "viewBox=\"0 0 "), "viewBox=\"0 0 860 %d", &vh) != 1)
			vh = 0;
		tap_ok(vh >= 28 + 19 * 16 + 9, "viewBox height %d holds 20 legend lines", vh);
		tap_ok(strstr(b.data, "<title>KeystoneBasic.create_and_list_users_&amp;_more_19</title>"
				      "KeystoneBasic.create_and_list_use\xe2\x80\xa6</text>") != NULL,
		       "a long legend name is shortened, the full name is its hover title");
		infra_buf_release(&b);
	}
	{
		double x[] = { 0, 60 }, y[] = { 0.2, 0.9 };
		struct infra_html_series s = { "ok", 2, x, y };
		infra_buf_init(&b, 0);
		infra_html_line_chart(&b, "ratio", "%", &s, 1, 0, 1);
		tap_ok(strstr(b.data, ">20%</text>") && strstr(b.data, ">100%</text>") && !strstr(b.data, ">25%</text>"),
		       "a 0..1 ratio gets ticks every 20%%");
		infra_buf_release(&b);
	}
	return tap_done();
}
