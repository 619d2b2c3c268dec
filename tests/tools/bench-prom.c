/* bench-prom - throughput and memory of the Prometheus text parser and writer.
 *
 *   bench-prom FILE [REPEAT]   parse FILE REPEAT times (default 10), one shot and
 *                              in 64 KiB chunks; print MB/s
 *   bench-prom --write N       build N series (4 labels each, kata-monitor shape:
 *                              1,250 series per sandbox), write them; print times,
 *                              output size and peak RSS
 *   bench-prom --load FILE N [OUT]  load FILE N times with 4 per-sandbox labels
 *                              each (as kata-monitor aggregates shims), write
 *                              the result (to OUT if given); print RSS
 */
#include "infra_prom.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long peak_rss_kb(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static int count_cb(void *ud, const struct infra_prom_event *ev)
{
	size_t *n = ud;

	if (ev->kind == INFRA_PROM_EV_SAMPLE)
		(*n)++;
	return 0;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct infra_buf b = INFRA_BUF_INIT;
	char tmp[1 << 16];
	size_t n;

	if (!f)
		return NULL;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		if (infra_buf_append(&b, tmp, n)) {
			fclose(f);
			infra_buf_release(&b);
			return NULL;
		}
	fclose(f);
	return infra_buf_steal(&b, len);
}

static long parse_long(const char *s, long min)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < min) {
		fprintf(stderr, "bench-prom: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

static int bench_parse(const char *path, long repeat)
{
	struct infra_err err = INFRA_ERR_INIT;
	size_t len, samples = 0;
	char *text = slurp(path, &len);
	double t0, t1;
	long i;

	if (!text) {
		fprintf(stderr, "bench-prom: cannot read %s\n", path);
		return 1;
	}
	double best = 1e30, c0, c1;

	c0 = cpu_now();
	t0 = now();
	for (i = 0; i < repeat; i++) {
		double r0 = now(), r1;

		samples = 0;
		if (infra_prom_parse(text, len, count_cb, &samples, &err)) {
			fprintf(stderr, "bench-prom: %s: %s\n", path, err.msg);
			free(text);
			return 1;
		}
		r1 = now();
		if (r1 - r0 < best)
			best = r1 - r0;
	}
	t1 = now();
	c1 = cpu_now();
	printf("parse one-shot: %zu bytes, %zu samples, %ld runs, %.3f s, %.1f MB/s (best run %.1f MB/s; "
	       "%.1f MB per CPU second)\n",
	       len, samples, repeat, t1 - t0, (double)len * (double)repeat / (t1 - t0) / 1e6,
	       (double)len / best / 1e6, (double)len * (double)repeat / (c1 - c0) / 1e6);
	t0 = now();
	for (i = 0; i < repeat; i++) {
		struct infra_prom_parser *ps = infra_prom_parser_new(count_cb, &samples);
		size_t off;
		int rc = 0;

		samples = 0;
		for (off = 0; off < len && !rc; off += 65536)
			rc = infra_prom_parser_feed(ps, text + off, len - off < 65536 ? len - off : 65536, &err);
		if (!rc)
			rc = infra_prom_parser_finish(ps, &err);
		infra_prom_parser_free(ps);
		if (rc) {
			fprintf(stderr, "bench-prom: %s: %s\n", path, err.msg);
			free(text);
			return 1;
		}
	}
	t1 = now();
	printf("parse 64KiB chunks: %.3f s, %.1f MB/s\n", t1 - t0,
	       (double)len * (double)repeat / (t1 - t0) / 1e6);
	free(text);
	return 0;
}

static int bench_write(long n)
{
	struct infra_prom *p = infra_prom_new(0);
	struct infra_buf out;
	struct infra_err err = INFRA_ERR_INIT;
	const long per_sandbox = 1250;
	long i, nfam = per_sandbox;
	double t0, t1, t2;
	char name[64], sid[80], uid[48], pod[48];

	infra_buf_init(&out, (size_t)4 << 30);
	for (i = 0; i < nfam && i < n; i++) {
		snprintf(name, sizeof(name), "bench_family_%04ld_bytes", i);
		infra_prom_family(p, name, INFRA_PROM_GAUGE, "Benchmark family.", NULL);
	}
	t0 = now();
	for (i = 0; i < n; i++) {
		long sb = i / per_sandbox;
		double v = (i % 3) ? (double)(i * 4096) : (double)i * 0.37;

		snprintf(name, sizeof(name), "bench_family_%04ld_bytes", i % per_sandbox);
		snprintf(sid, sizeof(sid), "%016lx%016lx%016lx%016lx", sb * 7919, sb, sb ^ 0x5a5a, sb + 99);
		snprintf(uid, sizeof(uid), "%08lx-1234-5678-9abc-%012lx", sb, sb * 31);
		snprintf(pod, sizeof(pod), "pod-%ld", sb);
		if (infra_prom_addl(p, name, v, &err, "sandbox_id", sid, "cri_uid", uid, "cri_name", pod,
				    "cri_namespace", "default", NULL)) {
			fprintf(stderr, "bench-prom: add: %s\n", err.msg);
			return 1;
		}
	}
	t1 = now();
	printf("build: %ld series in %.3f s (%.0f series/s), peak RSS %ld KiB\n", n, t1 - t0,
	       (double)n / (t1 - t0), peak_rss_kb());
	if (infra_prom_write(p, &out, &err)) {
		fprintf(stderr, "bench-prom: write: %s\n", err.msg);
		return 1;
	}
	t2 = now();
	printf("write: %zu bytes in %.3f s (%.1f MB/s)\n", out.len, t2 - t1,
	       (double)out.len / (t2 - t1) / 1e6);
	printf("peak RSS %ld KiB = %.2f x output size\n", peak_rss_kb(),
	       (double)peak_rss_kb() * 1024.0 / (double)(out.len ? out.len : 1));
	infra_buf_release(&out);
	infra_prom_free(p);
	return 0;
}

static int bench_load(const char *path, long n, const char *save)
{
	struct infra_prom *p = infra_prom_new(INFRA_PROM_PAD_LABELS);
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_buf out;
	size_t len, in_total = 0;
	char *text = slurp(path, &len);
	char sid[80], uid[48], pod[48];
	double t0, t1, t2;
	long i;

	if (!text) {
		fprintf(stderr, "bench-prom: cannot read %s\n", path);
		return 1;
	}
	infra_buf_init(&out, (size_t)4 << 30);
	t0 = now();
	for (i = 0; i < n; i++) {
		const char *extra[] = { "sandbox_id", sid, "cri_uid", uid, "cri_name", pod,
					"cri_namespace", "default", NULL };

		snprintf(sid, sizeof(sid), "%016lx%016lx%016lx%016lx", i * 7919, i, i ^ 0x5a5a, i + 99);
		snprintf(uid, sizeof(uid), "%08lx-1234-5678-9abc-%012lx", i, i * 31);
		snprintf(pod, sizeof(pod), "pod-%ld", i);
		if (infra_prom_load(p, text, len, extra, &err)) {
			fprintf(stderr, "bench-prom: load: %s\n", err.msg);
			return 1;
		}
		in_total += len;
	}
	t1 = now();
	printf("load: %ld x %zu bytes, %zu series in %.3f s, peak RSS %ld KiB\n", n, len,
	       infra_prom_series_count(p), t1 - t0, peak_rss_kb());
	if (infra_prom_write(p, &out, &err)) {
		fprintf(stderr, "bench-prom: write: %s\n", err.msg);
		return 1;
	}
	t2 = now();
	printf("write: %zu bytes in %.3f s; peak RSS %ld KiB = %.2f x output size\n", out.len,
	       t2 - t1, peak_rss_kb(), (double)peak_rss_kb() * 1024.0 / (double)out.len);
	(void)in_total;
	if (save) {
		FILE *f = fopen(save, "wb");

		if (!f || fwrite(out.data, 1, out.len, f) != out.len || fclose(f) != 0) {
			fprintf(stderr, "bench-prom: cannot write %s\n", save);
			return 1;
		}
	}
	infra_buf_release(&out);
	infra_prom_free(p);
	free(text);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--write") == 0)
		return bench_write(parse_long(argv[2], 1));
	if ((argc == 4 || argc == 5) && strcmp(argv[1], "--load") == 0)
		return bench_load(argv[2], parse_long(argv[3], 1), argc == 5 ? argv[4] : NULL);
	if (argc == 2 || argc == 3)
		return bench_parse(argv[1], argc == 3 ? parse_long(argv[2], 1) : 10);
	fprintf(stderr, "usage: bench-prom FILE [REPEAT] | --write N | --load FILE N [OUT]\n");
	return 2;
}
