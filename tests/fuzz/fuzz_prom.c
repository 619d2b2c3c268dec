/* fuzz_prom.c - libFuzzer target for the Prometheus text parser and writer.
 *
 * For every input:
 *   1. parse one-shot, recording every event (or the error) as bytes;
 *   2. parse again in 1-8 chunks split at input-derived points: the record and
 *      the result must be identical;
 *   3. feed the accepted events to a collection (errors such as duplicates or
 *      inconsistent label names are allowed and skipped), write it, and check
 *      that the output parses, loads back without any error, and writes back
 *      byte-identical.
 */
#include "infra_prom.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rec {
	struct infra_buf b;
	struct infra_prom *p; /* optional: add events here */
	char help_name[256];
	struct infra_buf help;
	int have_help;
	const char **labels;
	size_t cap;
};

static void put_bytes(struct infra_buf *b, const char *s, size_t n)
{
	infra_buf_append(b, &n, sizeof(n));
	infra_buf_append(b, s, n);
}

static void declare_pending(struct rec *r)
{
	if (r->p && r->have_help)
		infra_prom_family(r->p, r->help_name, INFRA_PROM_UNTYPED, r->help.data, NULL);
	r->have_help = 0;
}

static int rec_cb(void *ud, const struct infra_prom_event *ev)
{
	struct rec *r = ud;
	size_t i, k = 0;
	int kind = (int)ev->kind;

	infra_buf_append(&r->b, &kind, sizeof(kind));
	infra_buf_append(&r->b, &ev->line, sizeof(ev->line));
	if (ev->name)
		put_bytes(&r->b, ev->name, ev->name_len);
	if (ev->text)
		put_bytes(&r->b, ev->text, ev->text_len);
	switch (ev->kind) {
	case INFRA_PROM_EV_COMMENT:
		return 0;
	case INFRA_PROM_EV_HELP:
		declare_pending(r);
		if (ev->name_len < sizeof(r->help_name) && !memchr(ev->text, '\0', ev->text_len)) {
			memcpy(r->help_name, ev->name, ev->name_len + 1);
			infra_buf_reset(&r->help);
			infra_buf_append(&r->help, ev->text, ev->text_len);
			r->have_help = 1;
		}
		return 0;
	case INFRA_PROM_EV_TYPE:
		infra_buf_append(&r->b, &ev->type, sizeof(ev->type));
		if (r->p) {
			int same = r->have_help && strcmp(r->help_name, ev->name) == 0;

			if (!same)
				declare_pending(r);
			infra_prom_family(r->p, ev->name, ev->type, same ? r->help.data : NULL, NULL);
			if (same)
				r->have_help = 0;
		}
		return 0;
	case INFRA_PROM_EV_SAMPLE:
		break;
	}
	declare_pending(r);
	infra_buf_append(&r->b, &ev->type, sizeof(ev->type));
	infra_buf_append(&r->b, &ev->value, sizeof(ev->value));
	infra_buf_append(&r->b, &ev->has_timestamp, sizeof(ev->has_timestamp));
	if (ev->has_timestamp)
		infra_buf_append(&r->b, &ev->timestamp_ms, sizeof(ev->timestamp_ms));
	for (i = 0; i < ev->nlabels; i++) {
		if (strlen(ev->labels[i].name) != ev->labels[i].name_len ||
		    ev->labels[i].value[ev->labels[i].value_len] != '\0')
			abort(); /* names and values must be NUL-terminated at their length */
		put_bytes(&r->b, ev->labels[i].name, ev->labels[i].name_len);
		put_bytes(&r->b, ev->labels[i].value, ev->labels[i].value_len);
	}
	if (!r->p)
		return 0;
	if (2 * ev->nlabels + 1 > r->cap) {
		r->cap = 2 * ev->nlabels + 1;
		r->labels = realloc(r->labels, r->cap * sizeof(*r->labels));
	}
	for (i = 0; i < ev->nlabels; i++) {
		if (memchr(ev->labels[i].value, '\0', ev->labels[i].value_len))
			return 0; /* the writer API takes C strings */
		r->labels[k++] = ev->labels[i].name;
		r->labels[k++] = ev->labels[i].value;
	}
	r->labels[k] = NULL;
	infra_prom_add(r->p, ev->name, r->labels, ev->value, NULL);
	return 0;
}

/* Writer output rules that no parser checks: families sorted and contiguous,
 * one TYPE each before its samples, no timestamps. */
struct layout {
	char fam[512];
	int type;
	int have;
};

static int layout_cb(void *ud, const struct infra_prom_event *ev)
{
	struct layout *l = ud;
	size_t fl;

	if (ev->kind == INFRA_PROM_EV_TYPE) {
		if (ev->name_len >= sizeof(l->fam))
			abort();
		if (l->have && strcmp(l->fam, ev->name) >= 0) {
			fprintf(stderr, "families out of order: %s then %s\n", l->fam, ev->name);
			abort();
		}
		memcpy(l->fam, ev->name, ev->name_len + 1);
		l->type = (int)ev->type;
		l->have = 1;
		return 0;
	}
	if (ev->kind != INFRA_PROM_EV_SAMPLE)
		return 0;
	fl = strlen(l->fam);
	if (!l->have || ev->has_timestamp || ev->name_len < fl ||
	    memcmp(ev->name, l->fam, fl) != 0 ||
	    (ev->name_len > fl && l->type != INFRA_PROM_HISTOGRAM && l->type != INFRA_PROM_SUMMARY)) {
		fprintf(stderr, "sample %s outside its family (%s) or with a timestamp\n", ev->name, l->fam);
		abort();
	}
	return 0;
}

static void rec_init(struct rec *r, struct infra_prom *p)
{
	memset(r, 0, sizeof(*r));
	infra_buf_init(&r->b, 0);
	infra_buf_init(&r->help, 0);
	infra_buf_puts(&r->help, "");
	r->p = p;
}

static void rec_free(struct rec *r)
{
	infra_buf_release(&r->b);
	infra_buf_release(&r->help);
	free(r->labels);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct infra_err e1 = INFRA_ERR_INIT, e2 = INFRA_ERR_INIT;
	struct infra_prom *p = infra_prom_new(size && (data[0] & 1) ? INFRA_PROM_PAD_LABELS : 0);
	struct infra_prom_parser *ps;
	struct infra_buf out = INFRA_BUF_INIT, out2 = INFRA_BUF_INIT;
	struct rec r1, r2;
	uint64_t x = 0x9e3779b97f4a7c15ULL ^ size;
	size_t pos = 0, i;
	int rc1, rc2, nchunks;

	for (i = 0; i < size && i < 16; i++)
		x = (x ^ data[i]) * 0x100000001b3ULL;
	rec_init(&r1, p);
	rc1 = infra_prom_parse(text, size, rec_cb, &r1, &e1);

	rec_init(&r2, NULL);
	ps = infra_prom_parser_new(rec_cb, &r2);
	nchunks = 1 + (int)(x % 8);
	rc2 = 0;
	while (nchunks-- > 1 && !rc2 && pos < size) {
		size_t n;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		n = (size_t)(x % (size - pos + 1));
		rc2 = infra_prom_parser_feed(ps, text + pos, n, &e2);
		pos += n;
	}
	if (!rc2)
		rc2 = infra_prom_parser_feed(ps, text + pos, size - pos, &e2);
	if (!rc2)
		rc2 = infra_prom_parser_finish(ps, &e2);
	infra_prom_parser_free(ps);
	if (rc1 != rc2 || r1.b.len != r2.b.len ||
	    (r1.b.len && memcmp(r1.b.data, r2.b.data, r1.b.len) != 0) ||
	    (rc1 && strcmp(e1.msg, e2.msg) != 0)) {
		fprintf(stderr, "chunked parse differs: rc %d/%d [%s] [%s]\n", rc1, rc2, e1.msg, e2.msg);
		abort();
	}
	if (rc1 && strncmp(e1.msg, "line ", 5) != 0) {
		fprintf(stderr, "error without line: %s\n", e1.msg);
		abort();
	}
	declare_pending(&r1);

	/* writer output must always parse, load cleanly and be a fixed point */
	if (infra_prom_write(p, &out, &e1)) {
		fprintf(stderr, "write failed: %s\n", e1.msg);
		abort();
	}
	if (out.len && out.data[out.len - 1] != '\n')
		abort();
	{
		struct layout l;

		memset(&l, 0, sizeof(l));
		if (infra_prom_parse(out.data ? out.data : "", out.len, layout_cb, &l, NULL))
			abort();
	}
	{
		struct infra_prom *q = infra_prom_new(0);

		if (infra_prom_load(q, out.data ? out.data : "", out.len, NULL, &e2)) {
			fprintf(stderr, "writer output does not load: %s\n---\n%s---\n", e2.msg,
				out.data ? out.data : "");
			abort();
		}
		if (infra_prom_series_count(q) != infra_prom_series_count(p) ||
		    infra_prom_write(q, &out2, &e2) || out.len != out2.len ||
		    (out.len && memcmp(out.data, out2.data, out.len) != 0)) {
			fprintf(stderr, "rewrite differs\n---\n%s---\n%s---\n", out.data ? out.data : "",
				out2.data ? out2.data : "");
			abort();
		}
		infra_prom_free(q);
	}
	infra_buf_release(&out);
	infra_buf_release(&out2);
	rec_free(&r1);
	rec_free(&r2);
	infra_prom_free(p);
	return 0;
}
