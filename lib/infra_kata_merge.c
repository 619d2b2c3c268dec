#include "infra_kata_merge.h"

#include <errno.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 512
#define MAX_LABELS 64

/* ---- families and a small string-keyed open-addressing table ---- */

struct fam {
	char *name;
	char *help;
	enum infra_prom_type type;
	int typed;              /* a TYPE line was seen for it */
	char **lnames;          /* label names seen (not le/quantile/extra), first-seen order */
	size_t nl, al;
	size_t samples;
	/* local (one body) */
	int dropped;
	struct fam *g;
	/* global, set by write */
	struct fam *alias;      /* untyped x_bucket/x_sum/x_count of a histogram/summary x */
	int skip;               /* left out (collides with own or with a histogram/summary) */
};

struct table {
	struct fam **slot;
	size_t cap, n;
};

static size_t hash_str(const char *s)
{
	size_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static struct fam *table_get(const struct table *t, const char *name)
{
	size_t i;

	if (!t->cap)
		return NULL;
	for (i = hash_str(name) & (t->cap - 1); t->slot[i]; i = (i + 1) & (t->cap - 1))
		if (!strcmp(t->slot[i]->name, name))
			return t->slot[i];
	return NULL;
}

static int table_grow(struct table *t)
{
	size_t ncap = t->cap ? t->cap * 2 : 64;
	struct fam **ns = calloc(ncap, sizeof(*ns));

	if (!ns)
		return -ENOMEM;
	for (size_t j = 0; j < t->cap; j++) {
		size_t i;
		if (!t->slot[j])
			continue;
		for (i = hash_str(t->slot[j]->name) & (ncap - 1); ns[i]; i = (i + 1) & (ncap - 1))
			;
		ns[i] = t->slot[j];
	}
	free(t->slot);
	t->slot = ns;
	t->cap = ncap;
	return 0;
}

/* Get or create; NULL on ENOMEM. */
static struct fam *table_put(struct table *t, const char *name)
{
	struct fam *f = table_get(t, name);
	size_t i;

	if (f)
		return f;
	if ((t->n + 1) * 2 > t->cap && table_grow(t))
		return NULL;
	f = calloc(1, sizeof(*f));
	if (!f || !(f->name = strdup(name))) {
		free(f);
		return NULL;
	}
	for (i = hash_str(name) & (t->cap - 1); t->slot[i]; i = (i + 1) & (t->cap - 1))
		;
	t->slot[i] = f;
	t->n++;
	return f;
}

static void table_release(struct table *t)
{
	for (size_t i = 0; i < t->cap; i++) {
		struct fam *f = t->slot[i];
		if (!f)
			continue;
		for (size_t k = 0; k < f->nl; k++)
			free(f->lnames[k]);
		free(f->lnames);
		free(f->name);
		free(f->help);
		free(f);
	}
	free(t->slot);
	memset(t, 0, sizeof(*t));
}

static int add_lname(struct fam *f, const char *name, size_t len)
{
	for (size_t k = 0; k < f->nl; k++)
		if (strlen(f->lnames[k]) == len && !memcmp(f->lnames[k], name, len))
			return 0;
	if (f->nl == f->al) {
		size_t na = f->al ? f->al * 2 : 4;
		char **nv = realloc(f->lnames, na * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		f->lnames = nv;
		f->al = na;
	}
	if (!(f->lnames[f->nl] = strndup(name, len)))
		return -ENOMEM;
	f->nl++;
	return 0;
}

/* A set of 64-bit series hashes (FNV-1a of the canonical key): duplicate
 * detection without keeping every key; a false match needs a 64-bit collision
 * inside one body. */
struct hset {
	uint64_t *slot;
	size_t cap, n;
};

static int hset_add(struct hset *h, uint64_t v)
{
	size_t i;

	if (!v)
		v = 1; /* 0 marks an empty slot */
	if ((h->n + 1) * 2 > h->cap) {
		size_t ncap = h->cap ? h->cap * 2 : 1024;
		uint64_t *ns = calloc(ncap, sizeof(*ns));
		if (!ns)
			return -ENOMEM;
		for (size_t j = 0; j < h->cap; j++) {
			if (!h->slot[j])
				continue;
			for (i = h->slot[j] & (ncap - 1); ns[i]; i = (i + 1) & (ncap - 1))
				;
			ns[i] = h->slot[j];
		}
		free(h->slot);
		h->slot = ns;
		h->cap = ncap;
	}
	for (i = v & (h->cap - 1); h->slot[i]; i = (i + 1) & (h->cap - 1))
		if (h->slot[i] == v)
			return 1;
	h->slot[i] = v;
	h->n++;
	return 0;
}

/* 64-bit hash of n bytes, eight at a time (a series key needs no more than
 * a good mix: a false match needs a 64-bit collision inside one body). */
static uint64_t mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

static uint64_t hash_mem(const char *s, size_t n, uint64_t seed)
{
	uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15ull), w;

	for (; n >= 8; s += 8, n -= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	if (n) {
		w = 0;
		memcpy(&w, s, n);
		h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
	}
	return mix64(h);
}

/* ---- the merger ---- */

struct run {
	struct fam *f;          /* local family while reading, then the global one */
	size_t start, end;      /* byte range of consecutive sample lines */
};

struct body {
	const char *data;
	size_t len;
	const char *const *extra;
	struct run *runs;
	size_t nruns;
};

struct infra_kata_merge {
	struct table global;
	struct body *bodies;
	size_t nbodies, abodies;
	regex_t *inc, *exc;
	size_t ninc, nexc;
	size_t max_series, max_label_len; /* 0 = no limit */
};

const char *infra_kata_limit_name(enum infra_kata_limit l)
{
	static const char *const names[INFRA_KATA_NLIMITS] = { "", "series", "label-length", "body-size" };

	return (unsigned)l < INFRA_KATA_NLIMITS ? names[l] : "";
}

void infra_kata_merge_limits(struct infra_kata_merge *m, size_t max_series, size_t max_label_len)
{
	m->max_series = max_series;
	m->max_label_len = max_label_len;
}

const char *infra_kata_rename(const char *name, char *buf, size_t size)
{
	size_t k = !strncmp(name, "go_", 3) || !strncmp(name, "process_", 8) ? 10 : 0, n = strlen(name);

	if (n + k >= size)
		return NULL;
	memcpy(buf, "kata_shim_", k);
	memcpy(buf + k, name, n + 1);
	return buf;
}

struct infra_kata_merge *infra_kata_merge_new(void)
{
	return calloc(1, sizeof(struct infra_kata_merge));
}

static void free_regexes(regex_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		regfree(&v[i]);
	free(v);
}

static int compile_all(const char *const *src, regex_t **out, size_t *n, const char *what,
		       struct infra_err *err)
{
	size_t k = 0;

	*out = NULL;
	*n = 0;
	while (src && src[k])
		k++;
	if (!k)
		return 0;
	if (!(*out = calloc(k, sizeof(**out))))
		return infra_err_set(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < k; i++) {
		int rc = regcomp(&(*out)[i], src[i], REG_EXTENDED | REG_NOSUB);
		if (rc) {
			char msg[128];
			regerror(rc, &(*out)[i], msg, sizeof(msg));
			free_regexes(*out, i);
			*out = NULL;
			return infra_err_set(err, -EINVAL, "invalid %s expression '%.100s': %s", what, src[i], msg);
		}
		(*n)++;
	}
	return 0;
}

int infra_kata_merge_filter(struct infra_kata_merge *m, const char *const *include,
			    const char *const *exclude, struct infra_err *err)
{
	regex_t *inc, *exc;
	size_t ninc, nexc;
	int rc = compile_all(include, &inc, &ninc, "--family", err);

	if (rc)
		return rc;
	if ((rc = compile_all(exclude, &exc, &nexc, "--exclude-family", err))) {
		free_regexes(inc, ninc);
		return rc;
	}
	free_regexes(m->inc, m->ninc);
	free_regexes(m->exc, m->nexc);
	m->inc = inc;
	m->ninc = ninc;
	m->exc = exc;
	m->nexc = nexc;
	return 0;
}

static int wanted(const struct infra_kata_merge *m, const char *name)
{
	int in = !m->ninc;

	for (size_t i = 0; i < m->ninc && !in; i++)
		in = !regexec(&m->inc[i], name, 0, NULL, 0);
	for (size_t i = 0; i < m->nexc && in; i++)
		in = regexec(&m->exc[i], name, 0, NULL, 0) != 0;
	return in;
}

void infra_kata_merge_free(struct infra_kata_merge *m)
{
	if (!m)
		return;
	free_regexes(m->inc, m->ninc);
	free_regexes(m->exc, m->nexc);
	for (size_t i = 0; i < m->nbodies; i++)
		free(m->bodies[i].runs);
	free(m->bodies);
	table_release(&m->global);
	free(m);
}

static void problem(struct infra_kata_merge_stats *st, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void problem(struct infra_kata_merge_stats *st, const char *fmt, ...)
{
	va_list ap;

	if (st->first_problem[0])
		return;
	va_start(ap, fmt);
	vsnprintf(st->first_problem, sizeof(st->first_problem), fmt, ap);
	va_end(ap);
}

static int is_extra(const char *const *extra, const char *name, size_t len)
{
	for (size_t i = 0; extra && extra[i]; i += 2)
		if (extra[i][0] == name[0] && !strncmp(extra[i], name, len) && !extra[i][len])
			return 1;
	return 0;
}

static int is_le_quantile(const char *name)
{
	return !strcmp(name, "le") || !strcmp(name, "quantile");
}

/* Well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */
static int utf8_ok(const unsigned char *s)
{
	while (*s) {
		unsigned c = *s, n, cp;
		if (c < 0x80) {
			s++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3, cp = c & 0x07;
		else
			return 0;
		for (unsigned i = 1; i <= n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i] & 0x3f);
		}
		if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return 0;
		s += n + 1;
	}
	return 1;
}

/* ---- reading a body ---- */

struct reader {
	struct infra_kata_merge *m;
	struct table local;
	struct hset keys;           /* series seen in this body (duplicates) */
	const char *body;
	size_t len;
	struct run *runs;
	size_t nruns, aruns;
	const char *const *extra;
	struct infra_kata_merge_stats *st;
	size_t nsamples;            /* every sample line of the body, kept or not */
	struct fam *last_f;         /* the family of the previous sample (NULL after HELP/TYPE) */
	char last_name[NAME_MAX_LEN];
	enum infra_kata_limit limit;/* the limit that stopped the read */
	char limit_msg[256];
};

static const char *const sufs[] = { "_bucket", "_sum", "_count" };

/* The family a sample belongs to in this body: its own name, or x for
 * x_bucket/x_sum/x_count when this body declares x a histogram/summary. */
static struct fam *local_family(struct reader *r, const char *sample)
{
	char base[NAME_MAX_LEN];
	struct fam *f = table_get(&r->local, sample);
	size_t n = strlen(sample);

	if (f)
		return f;
	for (size_t i = 0; i < 3; i++) {
		size_t sn = strlen(sufs[i]);
		if (n <= sn || n - sn >= sizeof(base) || strcmp(sample + n - sn, sufs[i]))
			continue;
		memcpy(base, sample, n - sn);
		base[n - sn] = '\0';
		f = table_get(&r->local, base);
		if (f && f->typed && (f->type == INFRA_PROM_HISTOGRAM || (f->type == INFRA_PROM_SUMMARY && i > 0)))
			return f;
	}
	return table_put(&r->local, sample);
}

/* The series key's hash: the name's, plus one mixed hash per label name=value
 * pair (a sum, so the labels' order does not matter; an empty value is the
 * same as no label). */
static uint64_t series_hash(const char *name, const struct infra_prom_event *ev)
{
	uint64_t h = hash_mem(name, strlen(name), 0x6b617461ull);

	for (size_t i = 0; i < ev->nlabels; i++) {
		const struct infra_prom_label *l = &ev->labels[i];
		if (l->value_len)
			h += mix64(hash_mem(l->value, l->value_len, hash_mem(l->name, l->name_len, 0x6c61626cull)) + 1);
	}
	return h;
}

static int limit_hit(struct reader *r, enum infra_kata_limit l, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int limit_hit(struct reader *r, enum infra_kata_limit l, const char *fmt, ...)
{
	va_list ap;

	r->limit = l;
	va_start(ap, fmt);
	vsnprintf(r->limit_msg, sizeof(r->limit_msg), fmt, ap);
	va_end(ap);
	return -E2BIG;
}

/* The body's limits: the whole sandbox is refused at the first sample over one. */
static int over_limit(struct reader *r, const struct infra_prom_event *ev)
{
	size_t max = r->m->max_label_len;

	if (r->m->max_series && ++r->nsamples > r->m->max_series)
		return limit_hit(r, INFRA_KATA_LIMIT_SERIES, "more than %zu series", r->m->max_series);
	for (size_t i = 0; max && i < ev->nlabels; i++) {
		const struct infra_prom_label *l = &ev->labels[i];
		if (l->name_len > max)
			return limit_hit(r, INFRA_KATA_LIMIT_LABEL, "line %zu: label name of %zu bytes (limit %zu)",
					 ev->line, l->name_len, max);
		if (l->value_len > max)
			return limit_hit(r, INFRA_KATA_LIMIT_LABEL, "line %zu: label %.*s: value of %zu bytes (limit %zu)",
					 ev->line, (int)(l->name_len > 64 ? 64 : l->name_len), l->name, l->value_len, max);
	}
	return 0;
}

/* A sample with both an extra label's name (say sandbox_id, which becomes
 * exported_sandbox_id) and exported_sandbox_id cannot be written: drop it,
 * counted.  Returns 1 when dropped. */
static int extra_twice(struct reader *r, const struct infra_prom_event *ev)
{
	for (size_t i = 0; i < ev->nlabels; i++) {
		const struct infra_prom_label *l = &ev->labels[i];
		if (!is_extra(r->extra, l->name, l->name_len))
			continue;
		for (size_t j = 0; j < ev->nlabels; j++) {
			const struct infra_prom_label *x = &ev->labels[j];
			if (x->name_len == l->name_len + 9 && !strncmp(x->name, "exported_", 9) &&
			    !memcmp(x->name + 9, l->name, l->name_len)) {
				r->st->dropped_samples++;
				problem(r->st, "sample %.200s has both %.*s and %.*s labels: dropped", ev->name,
					(int)l->name_len, l->name, (int)x->name_len, x->name);
				return 1;
			}
		}
	}
	return 0;
}

static int read_cb(void *ud, const struct infra_prom_event *ev)
{
	struct reader *r = ud;
	char nb[NAME_MAX_LEN];
	const char *name;
	struct fam *f;
	size_t start, end;
	int rc;

	if (ev->kind == INFRA_PROM_EV_HELP || ev->kind == INFRA_PROM_EV_TYPE) {
		r->last_f = NULL; /* a TYPE can change where x_bucket/x_sum/x_count go */
		if (!(name = infra_kata_rename(ev->name, nb, sizeof(nb))))
			return 0; /* its samples are refused below */
		if (!(f = table_put(&r->local, name)))
			return -ENOMEM;
		if (ev->kind == INFRA_PROM_EV_HELP) {
			if (!utf8_ok((const unsigned char *)ev->text)) {
				problem(r->st, "HELP of %.200s is not valid UTF-8: left out", name);
				return 0;
			}
			free(f->help);
			if (!(f->help = strdup(ev->text)))
				return -ENOMEM;
		} else {
			f->type = ev->type;
			f->typed = 1;
		}
		return 0;
	}
	if (ev->kind != INFRA_PROM_EV_SAMPLE)
		return 0;
	if ((rc = over_limit(r, ev)))
		return rc;
	if (extra_twice(r, ev))
		return 0;
	name = infra_kata_rename(ev->name, nb, sizeof(nb));
	if (!name || ev->nlabels + 8 > MAX_LABELS) {
		r->st->dropped_samples++;
		problem(r->st, "sample %.200s: name too long or too many labels", ev->name);
		return 0;
	}
	rc = hset_add(&r->keys, series_hash(name, ev));
	if (rc < 0)
		return rc;
	if (rc) {
		r->st->dropped_samples++;
		problem(r->st, "duplicate series %.200s dropped", name);
		return 0;
	}
	if (r->last_f && !strcmp(r->last_name, name)) {
		f = r->last_f;
	} else {
		if (!(f = local_family(r, name)))
			return -ENOMEM;
		r->last_f = f;
		memcpy(r->last_name, name, strlen(name) + 1); /* fits: rename checked NAME_MAX_LEN */
	}
	for (size_t i = 0; i < ev->nlabels; i++) {
		const struct infra_prom_label *l = &ev->labels[i];
		char en[NAME_MAX_LEN];
		if (is_le_quantile(l->name))
			continue;
		if (is_extra(r->extra, l->name, l->name_len)) {
			int n = snprintf(en, sizeof(en), "exported_%.*s", (int)l->name_len, l->name);
			rc = add_lname(f, en, (size_t)n);
		} else {
			rc = add_lname(f, l->name, l->name_len);
		}
		if (rc)
			return rc;
	}
	f->samples++;
	start = ev->offset;
	end = ev->offset + ev->line_len;
	if (end > r->len)
		return -EINVAL;
	if (r->nruns && r->runs[r->nruns - 1].f == f && r->runs[r->nruns - 1].end == start) {
		r->runs[r->nruns - 1].end = end;
		return 0;
	}
	if (r->nruns == r->aruns) {
		size_t na = r->aruns ? r->aruns * 2 : 64;
		struct run *nv = realloc(r->runs, na * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		r->runs = nv;
		r->aruns = na;
	}
	r->runs[r->nruns].f = f;
	r->runs[r->nruns].start = start;
	r->runs[r->nruns].end = end;
	r->nruns++;
	return 0;
}

/* This body's families against the ones merged so far. */
static int reconcile(struct reader *r)
{
	struct infra_kata_merge_stats *st = r->st;

	for (size_t i = 0; i < r->local.cap; i++) {
		struct fam *l = r->local.slot[i], *g;

		if (!l)
			continue;
		st->families++;
		if (!(g = table_put(&r->m->global, l->name)))
			return -ENOMEM;
		if (l->typed && g->typed && l->type != g->type) {
			l->dropped = 1;
			st->type_conflicts++;
			st->dropped_samples += l->samples;
			problem(st, "family %s: TYPE %s differs from the %s merged before: dropped", l->name,
				infra_prom_type_name(l->type), infra_prom_type_name(g->type));
			continue;
		}
		if (l->help) {
			if (!g->help) {
				if (!(g->help = strdup(l->help)))
					return -ENOMEM;
			} else if (strcmp(g->help, l->help)) {
				st->help_conflicts++;
			}
		}
		if (l->typed && !g->typed) {
			g->type = l->type;
			g->typed = 1;
		}
		for (size_t k = 0; k < l->nl; k++)
			if (add_lname(g, l->lnames[k], strlen(l->lnames[k])))
				return -ENOMEM;
		g->samples += l->samples;
		st->samples += l->samples;
		l->g = g;
	}
	return 0;
}

int infra_kata_merge_add(struct infra_kata_merge *m, const char *body, size_t len,
			 const char *const *extra, struct infra_kata_merge_stats *stats,
			 struct infra_err *err)
{
	struct reader r;
	size_t kept = 0;
	int rc = 0;

	memset(stats, 0, sizeof(*stats));
	memset(&r, 0, sizeof(r));
	r.m = m;
	r.body = body;
	r.extra = extra;
	r.st = stats;
	r.len = len;
	rc = infra_prom_parse(body, len, read_cb, &r, err);
	if (rc == -ENOMEM)
		infra_err_set(err, rc, "out of memory");
	else if (rc == -E2BIG && r.limit)
		infra_err_set(err, rc, "%s", r.limit_msg);
	else if (rc == -E2BIG) /* the parser's own line cap */
		r.limit = INFRA_KATA_LIMIT_LABEL;
	if (!rc && (rc = reconcile(&r)))
		infra_err_set(err, rc, "out of memory");
	if (!rc && m->nbodies == m->abodies) {
		size_t na = m->abodies ? m->abodies * 2 : 16;
		struct body *nv = realloc(m->bodies, na * sizeof(*nv));
		if (!nv)
			rc = infra_err_set(err, -ENOMEM, "out of memory");
		else {
			m->bodies = nv;
			m->abodies = na;
		}
	}
	if (!rc) {
		struct body *b = &m->bodies[m->nbodies++];
		/* keep the runs of families that were not dropped, pointing at the global family */
		for (size_t i = 0; i < r.nruns; i++)
			if (!r.runs[i].f->dropped)
				r.runs[kept++] = (struct run){ r.runs[i].f->g, r.runs[i].start, r.runs[i].end };
		b->data = body;
		b->len = len;
		b->extra = extra;
		b->runs = r.runs;
		b->nruns = kept;
		r.runs = NULL;
	} else if (rc != -ENOMEM) {
		memset(stats, 0, sizeof(*stats));
		stats->limit = rc == -E2BIG ? r.limit : INFRA_KATA_LIMIT_NONE;
	}
	free(r.runs);
	table_release(&r.local);
	free(r.keys.slot);
	return rc;
}

/* ---- writing ---- */

struct own_block {
	char name[NAME_MAX_LEN];
	const char *start;
	size_t len;
};

/* Split a rendered exposition into family blocks (HELP/TYPE lines start one). */
static int own_blocks(const char *own, size_t len, struct own_block **out, size_t *n)
{
	const char *p = own, *end = own + len;
	size_t a = 0;

	*out = NULL;
	*n = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *next = nl ? nl + 1 : end;
		char name[NAME_MAX_LEN] = "";

		if (!strncmp(p, "# HELP ", 7) || !strncmp(p, "# TYPE ", 7)) {
			const char *s = p + 7, *e = s;
			while (e < next && *e != ' ' && *e != '\n')
				e++;
			snprintf(name, sizeof(name), "%.*s", (int)(e - s), s);
		}
		if (!*n || (name[0] && strcmp(name, (*out)[*n - 1].name))) {
			if (*n == a) {
				size_t na = a ? a * 2 : 32;
				struct own_block *nv = realloc(*out, na * sizeof(*nv));
				if (!nv)
					return -ENOMEM;
				*out = nv;
				a = na;
			}
			snprintf((*out)[*n].name, sizeof((*out)[*n].name), "%s", name);
			(*out)[*n].start = p;
			(*out)[*n].len = 0;
			(*n)++;
		}
		(*out)[*n - 1].len += (size_t)(next - p);
		p = next;
	}
	return 0;
}

static int cmp_block(const void *a, const void *b)
{
	return strcmp(((const struct own_block *)a)->name, ((const struct own_block *)b)->name);
}

static int cmp_fam(const void *a, const void *b)
{
	return strcmp((*(struct fam *const *)a)->name, (*(struct fam *const *)b)->name);
}

/* Untyped x_bucket/x_sum/x_count go with a histogram/summary x; a typed one is
 * left out (it would be a second family for the same samples). */
static void resolve_aliases(struct infra_kata_merge *m)
{
	char base[NAME_MAX_LEN];

	for (size_t j = 0; j < m->global.cap; j++) {
		struct fam *f = m->global.slot[j], *b;
		size_t n;

		if (!f)
			continue;
		n = strlen(f->name);
		for (size_t i = 0; i < 3; i++) {
			size_t sn = strlen(sufs[i]);
			if (n <= sn || n - sn >= sizeof(base) || strcmp(f->name + n - sn, sufs[i]))
				continue;
			memcpy(base, f->name, n - sn);
			base[n - sn] = '\0';
			b = table_get(&m->global, base);
			if (!b || !b->typed || !(b->type == INFRA_PROM_HISTOGRAM || (b->type == INFRA_PROM_SUMMARY && i > 0)))
				continue;
			if (f->typed) {
				f->skip = 1;
			} else if (!f->alias) {
				f->alias = b;
				b->samples += f->samples;
			}
		}
	}
}

struct writer {
	struct infra_prom *p;
	const struct fam *f;
	const char *const *extra;
	size_t added, refused;
	int fatal;
};

static int write_cb(void *ud, const struct infra_prom_event *ev)
{
	struct writer *w = ud;
	const char *labels[2 * MAX_LABELS + 1];
	char lnames[MAX_LABELS][NAME_MAX_LEN];
	char nb[NAME_MAX_LEN];
	const char *name;
	struct infra_err e = INFRA_ERR_INIT;
	size_t k = 0;

	if (ev->kind != INFRA_PROM_EV_SAMPLE)
		return 0;
	if (!(name = infra_kata_rename(ev->name, nb, sizeof(nb))) || ev->nlabels + 8 > MAX_LABELS) {
		w->refused++;
		return 0;
	}
	for (size_t i = 0; i < ev->nlabels; i++) {
		const struct infra_prom_label *l = &ev->labels[i];
		if (is_extra(w->extra, l->name, l->name_len)) {
			snprintf(lnames[i], sizeof(lnames[i]), "exported_%.*s", (int)l->name_len, l->name);
			labels[k++] = lnames[i];
		} else {
			labels[k++] = l->name;
		}
		labels[k++] = l->value;
	}
	/* the family's other label names, empty (the same label set on every sample) */
	for (size_t j = 0; j < w->f->nl && k + 2 * 5 < 2 * MAX_LABELS; j++) {
		int have = 0;
		for (size_t i = 0; i < k && !have; i += 2)
			have = !strcmp(labels[i], w->f->lnames[j]);
		if (!have) {
			labels[k++] = w->f->lnames[j];
			labels[k++] = "";
		}
	}
	for (size_t i = 0; w->extra && w->extra[i] && k + 2 < 2 * MAX_LABELS; i += 2) {
		labels[k++] = w->extra[i];
		labels[k++] = w->extra[i + 1];
	}
	labels[k] = NULL;
	if (infra_prom_add(w->p, name, labels, ev->value, &e)) {
		if (e.code == -ENOMEM) {
			w->fatal = -ENOMEM;
			return -ENOMEM;
		}
		w->refused++;
		return 0;
	}
	w->added++;
	return 0;
}

/* Skip the HELP/TYPE lines at the start of a rendered chunk. */
static size_t after_header(const char *s, size_t len)
{
	size_t off = 0;

	while (off < len && s[off] == '#') {
		const char *nl = memchr(s + off, '\n', len - off);
		if (!nl)
			return len;
		off = (size_t)(nl - s) + 1;
	}
	return off;
}

/* ---- the fast path: one family, one chunk of bodies, straight to text ----
 *
 * What the infra_prom writer would make of the chunk, without building a
 * collection: the same label order (the chunk's first sample's own labels,
 * then the family's other label names, then the extra labels; le/quantile
 * last), the same padding with "", the same escaping and the same sample
 * order (label values in that order as bytes, then _bucket/plain < _sum <
 * _count, then le/quantile as numbers).  Values: NaN and +-Inf as the writer
 * writes them, integers (|v| < 2^53) as integers, any other number as the
 * shim wrote it (a shim's value passes through unchanged: no re-formatting).
 * Anything the writer would refuse or reorder (a label outside the chunk's
 * set, le/quantile where they do not belong, a "__" label) makes the chunk
 * take the writer's path instead, so the output is the writer's either way. */

enum { FK_PLAIN = 0, FK_BUCKET = 1, FK_SUM = 2, FK_COUNT = 3 };

struct fitem {
	size_t line, line_len;  /* in fast.lines */
	size_t key, key_len;    /* in fast.keys: the schema's label values, encoded to compare as bytes */
	size_t sp, sp_len;      /* le/quantile text in fast.keys */
	double num;             /* le/quantile as a number */
	int kind, special;
};

struct fast {
	const struct fam *f;
	enum infra_prom_type type; /* as declared to the writer */
	size_t flen;
	const char *const *extra;
	const char *const *xcheck; /* extra that xclean describes */
	unsigned char xclean[MAX_LABELS]; /* extra value k needs no escaping */
	size_t xlen[MAX_LABELS];          /* and its length */
	size_t hint[MAX_LABELS];          /* schema slot of the label at position i last time */
	size_t nsch_own;                  /* slots before the extras' */
	char sch[MAX_LABELS][NAME_MAX_LEN];
	size_t schl[MAX_LABELS];
	size_t nsch;
	int schema_set, fallback;
	struct infra_buf lines, keys;
	struct fitem *items, *tmp; /* tmp: the sort's, aitems long */
	size_t *runs;               /* the sort's run starts, aitems + 1 long */
	size_t nitems, aitems;
};

static int ends_with_suffix(const char *name, size_t n, const char *base, size_t bn, const char *suf)
{
	size_t sn = strlen(suf);

	return n == bn + sn && !memcmp(name, base, bn) && !memcmp(name + bn, suf, sn);
}

/* The value text: the shim's own when it is a plain decimal number that is
 * not an integer the writer would spell differently; else the writer's. */
static size_t fast_value(const struct infra_prom_event *ev, char *buf, size_t size)
{
	const char *t = ev->value_text;
	size_t n = ev->value_text_len, i;
	double v = ev->value;
	int integral, plain = n > 0 && n < size && t && t[0] != '+';

	for (i = 0; plain && i < n; i++)
		plain = (t[i] >= '0' && t[i] <= '9') || t[i] == '.' || t[i] == '-' || t[i] == '+' || t[i] == 'e' ||
			t[i] == 'E';
	integral = v == floor(v) && fabs(v) < 9007199254740992.0;
	if (plain && integral) { /* only a canonical integer passes: digits, no leading 0, no -0 */
		size_t d = t[0] == '-';
		for (i = d; plain && i < n; i++)
			plain = t[i] >= '0' && t[i] <= '9';
		plain = plain && n > d && (t[d] != '0' || (n == 1));
	}
	if (plain) {
		memcpy(buf, t, n);
		return n;
	}
	return infra_prom_format_value(v, buf, size);
}

static const unsigned char esc_byte[256] = { ['\\'] = 1, ['"'] = 1, ['\n'] = 1 };

static int needs_escape(const char *s)
{
	for (; *s; s++)
		if (esc_byte[(unsigned char)*s])
			return 1;
	return 0;
}

/* Label value escaping as the writer does it (\\ \" \n); w has room for 2n. */
static char *put_escaped(char *w, const char *s, size_t n)
{
	size_t i = 0;

	/* the common case: nothing to escape, one copy */
	while (i < n && !esc_byte[(unsigned char)s[i]])
		i++;
	memcpy(w, s, i);
	w += i;
	for (; i < n; i++) {
		char c = s[i];
		if (c == '\\' || c == '"') {
			*w++ = '\\';
			*w++ = c;
		} else if (c == '\n') {
			*w++ = '\\';
			*w++ = 'n';
		} else {
			*w++ = c;
		}
	}
	return w;
}

static int fast_schema_has(const struct fast *x, const char *name)
{
	for (size_t j = 0; j < x->nsch; j++)
		if (!strcmp(x->sch[j], name))
			return 1;
	return 0;
}

static int fast_schema_add(struct fast *x, const char *name, size_t len)
{
	if (x->nsch >= MAX_LABELS - 8 || len >= NAME_MAX_LEN)
		return -1;
	memcpy(x->sch[x->nsch], name, len);
	x->sch[x->nsch][len] = '\0';
	x->schl[x->nsch++] = len;
	return 0;
}

/* The label name a shim label is written under (exported_<name> for an
 * extra label's name); 0 or -1 when it does not fit. */
static int out_label_name(const struct fast *x, const struct infra_prom_label *l, char *buf, size_t size)
{
	size_t k = is_extra(x->extra, l->name, l->name_len) ? 9 : 0;

	if (l->name_len + k >= size)
		return -1;
	memcpy(buf, "exported_", k);
	memcpy(buf + k, l->name, l->name_len);
	buf[k + l->name_len] = '\0';
	return 0;
}

static int fast_cb(void *ud, const struct infra_prom_event *ev)
{
	struct fast *x = ud;
	const struct fam *f = x->f;
	const char *vals[MAX_LABELS];
	size_t vlens[MAX_LABELS], vn, nx = 0;
	unsigned char clean[MAX_LABELS];
	char nb[NAME_MAX_LEN], ln[NAME_MAX_LEN], *w;
	const struct infra_prom_label *sp = NULL;
	const char *name;
	struct fitem *it;
	size_t n, need;
	int kind = FK_PLAIN, rc;

	if (ev->kind != INFRA_PROM_EV_SAMPLE)
		return 0;
	if (!(name = infra_kata_rename(ev->name, nb, sizeof(nb))) || ev->nlabels + 8 > MAX_LABELS)
		goto slow;
	n = strlen(name);
	if (n != x->flen || memcmp(name, f->name, n)) {
		if (x->type == INFRA_PROM_HISTOGRAM && ends_with_suffix(name, n, f->name, x->flen, "_bucket"))
			kind = FK_BUCKET;
		else if ((x->type == INFRA_PROM_HISTOGRAM || x->type == INFRA_PROM_SUMMARY) &&
			 ends_with_suffix(name, n, f->name, x->flen, "_sum"))
			kind = FK_SUM;
		else if ((x->type == INFRA_PROM_HISTOGRAM || x->type == INFRA_PROM_SUMMARY) &&
			 ends_with_suffix(name, n, f->name, x->flen, "_count"))
			kind = FK_COUNT;
		else
			goto slow;
	} else if (x->type == INFRA_PROM_HISTOGRAM) {
		goto slow; /* the writer takes x_bucket, x_sum, x_count only */
	}
	while (x->extra && x->extra[nx])
		nx += 2;
	if (ev->nlabels + f->nl + nx / 2 + 2 > MAX_LABELS - 8)
		goto slow;
	if (x->xcheck != x->extra) { /* a new body: are its extra values plain? */
		for (size_t i = 0; i < nx; i += 2) {
			x->xclean[i / 2] = !needs_escape(x->extra[i + 1]);
			x->xlen[i / 2] = strlen(x->extra[i + 1]);
		}
		x->xcheck = x->extra;
	}
	/* le / quantile; any other name starting "__" is refused by the writer */
	for (size_t i = 0; i < ev->nlabels; i++) {
		const struct infra_prom_label *l = &ev->labels[i];
		int le = l->name_len == 2 && !memcmp(l->name, "le", 2);
		int q = l->name_len == 8 && !memcmp(l->name, "quantile", 8);
		if (l->name_len >= 2 && l->name[0] == '_' && l->name[1] == '_')
			goto slow;
		if ((le && x->type == INFRA_PROM_HISTOGRAM) || (q && x->type == INFRA_PROM_SUMMARY))
			sp = l;
		else if (le || q)
			goto slow; /* not in the family's label names: the writer would pad or extend */
	}
	if ((x->type == INFRA_PROM_HISTOGRAM && (kind == FK_BUCKET) != (sp != NULL)) ||
	    (x->type == INFRA_PROM_SUMMARY && (kind == FK_PLAIN) != (sp != NULL)))
		goto slow;
	if (!x->schema_set) { /* the first sample's own labels, the family's others, the extras */
		for (size_t i = 0; i < ev->nlabels; i++) {
			if (&ev->labels[i] == sp)
				continue;
			if (out_label_name(x, &ev->labels[i], ln, sizeof(ln)) || fast_schema_add(x, ln, strlen(ln)))
				goto slow;
		}
		for (size_t j = 0; j < f->nl; j++)
			if (!fast_schema_has(x, f->lnames[j]) && fast_schema_add(x, f->lnames[j], strlen(f->lnames[j])))
				goto slow;
		x->nsch_own = x->nsch;
		for (size_t i = 0; i < nx; i += 2)
			if (fast_schema_has(x, x->extra[i]) || fast_schema_add(x, x->extra[i], strlen(x->extra[i])))
				goto slow;
		x->schema_set = 1;
	}
	for (size_t j = 0; j < x->nsch; j++)
		vals[j] = NULL, vlens[j] = 0, clean[j] = 0;
	vn = 0;
	for (size_t i = 0; i < ev->nlabels + nx / 2; i++) {
		const char *lname, *lval;
		size_t j = x->hint[i], lvl, lnl;
		if (i < ev->nlabels) {
			const struct infra_prom_label *l = &ev->labels[i];
			if (l == sp)
				continue;
			lval = l->value;
			lvl = l->value_len;
			/* the slot this position had last time, if the name is the same (a shim
			 * label renamed exported_* is never in the slots before the extras) */
			if (j < x->nsch_own && x->schl[j] == l->name_len && !memcmp(x->sch[j], l->name, l->name_len))
				goto found;
			if (out_label_name(x, l, ln, sizeof(ln)))
				goto slow;
			lname = ln;
		} else {
			lname = x->extra[2 * (i - ev->nlabels)];
			lval = x->extra[2 * (i - ev->nlabels) + 1];
			lvl = x->xlen[i - ev->nlabels];
			if (j < x->nsch && !strcmp(x->sch[j], lname))
				goto found;
		}
		lnl = strlen(lname);
		for (j = 0; j < x->nsch && (x->schl[j] != lnl || memcmp(x->sch[j], lname, lnl)); j++)
			;
		x->hint[i] = j;
found:
		if (j == x->nsch || vals[j])
			goto slow; /* a label the chunk's first sample did not have, or twice */
		vals[j] = lval;
		vlens[j] = lvl;
		clean[j] = i >= ev->nlabels && x->xclean[i - ev->nlabels];
		vn++;
	}
	if (x->nitems == x->aitems) {
		size_t na = x->aitems ? x->aitems * 2 : 256;
		struct fitem *nv = realloc(x->items, na * sizeof(*nv)), *nt;
		size_t *nr;
		if (nv)
			x->items = nv;
		if (!nv || !(nt = realloc(x->tmp, na * sizeof(*nt))))
			return -ENOMEM;
		x->tmp = nt;
		if (!(nr = realloc(x->runs, (na + 1) * sizeof(*nr))))
			return -ENOMEM;
		x->runs = nr;
		x->aitems = na;
	}
	it = &x->items[x->nitems];
	memset(it, 0, sizeof(*it));
	it->kind = kind;
	if (sp) {
		if (infra_prom_parse_float(sp->value, sp->value_len, &it->num))
			goto slow;
		it->special = 1;
	}
	/* the sort key: the label values, each ended by 00 00 (a 00 byte in a value
	 * written 00 01), so that one memcmp orders two samples as comparing the
	 * values one by one would; then le/quantile's text; then the line */
	need = sp ? sp->value_len : 0;
	for (size_t j = 0; j < x->nsch; j++)
		need += 2 * vlens[j] + 2;
	if ((rc = infra_buf_reserve(&x->keys, need)))
		return rc;
	it->key = x->keys.len;
	w = x->keys.data + x->keys.len;
	for (size_t j = 0; j < x->nsch; j++) {
		if (vlens[j] && memchr(vals[j], 0, vlens[j])) {
			for (size_t k = 0; k < vlens[j]; k++)
				if ((*w++ = vals[j][k]) == 0)
					*w++ = 1;
		} else if (vlens[j]) {
			memcpy(w, vals[j], vlens[j]);
			w += vlens[j];
		}
		*w++ = 0;
		*w++ = 0;
	}
	it->key_len = (size_t)(w - x->keys.data) - it->key;
	it->sp = (size_t)(w - x->keys.data);
	it->sp_len = sp ? sp->value_len : 0;
	if (sp)
		memcpy(w, sp->value, sp->value_len);
	x->keys.len = it->sp + it->sp_len;
	it->line = x->lines.len;
	need = n + 64 + (sp ? 16 + 2 * sp->value_len : 0);
	for (size_t j = 0; j < x->nsch; j++)
		need += x->schl[j] + 4 + 2 * vlens[j];
	if ((rc = infra_buf_reserve(&x->lines, need)))
		return rc;
	w = x->lines.data + x->lines.len;
	memcpy(w, name, n);
	w += n;
	for (size_t j = 0; j < x->nsch + (sp != NULL); j++) {
		*w++ = j ? ',' : '{';
		if (j < x->nsch) {
			memcpy(w, x->sch[j], x->schl[j]);
			w += x->schl[j];
		} else {
			memcpy(w, sp->name, sp->name_len);
			w += sp->name_len;
		}
		*w++ = '=';
		*w++ = '"';
		if (j == x->nsch) {
			w = put_escaped(w, sp->value, sp->value_len);
		} else if (clean[j]) {
			memcpy(w, vals[j], vlens[j]);
			w += vlens[j];
		} else if (vals[j]) {
			w = put_escaped(w, vals[j], vlens[j]);
		}
		*w++ = '"';
	}
	if (x->nsch + (sp != NULL))
		*w++ = '}';
	*w++ = ' ';
	w += fast_value(ev, w, 48);
	*w++ = '\n';
	x->lines.len = (size_t)(w - x->lines.data);
	x->lines.data[x->lines.len] = '\0';
	it->line_len = x->lines.len - it->line;
	x->nitems++;
	return 0;
slow:
	x->fallback = 1;
	return 1; /* stop: the chunk goes the writer's way */
}

static int bytes_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);

	return c ? c : an < bn ? -1 : an > bn;
}

static int fitem_cmp(const void *a, const void *b, void *ud)
{
	const struct fast *x = ud;
	const struct fitem *p = a, *q = b;
	int kx, ky, c;

	if ((c = bytes_cmp(x->keys.data + p->key, p->key_len, x->keys.data + q->key, q->key_len)))
		return c;
	kx = p->kind == FK_BUCKET ? 0 : p->kind;
	ky = q->kind == FK_BUCKET ? 0 : q->kind;
	if (kx != ky)
		return kx < ky ? -1 : 1;
	if (p->special && q->special) {
		int nx = isnan(p->num), ny = isnan(q->num);
		if (nx != ny)
			return nx ? 1 : -1;
		if (!nx && p->num != q->num)
			return p->num < q->num ? -1 : 1;
		return bytes_cmp(x->keys.data + p->sp, p->sp_len, x->keys.data + q->sp, q->sp_len);
	}
	return 0;
}

/* Sort the chunk's samples: each body's samples mostly come sorted already,
 * so find the sorted runs and merge them pairwise (stable, as the writer's
 * qsort is), n log(runs) comparisons instead of n log n. */
static void fast_sort(struct fast *x)
{
	size_t n = x->nitems, nr = 0, *rs = x->runs;
	struct fitem *a = x->items, *t = x->tmp;

	if (n < 2)
		return;
	rs[nr++] = 0;
	for (size_t i = 1; i < n; i++)
		if (fitem_cmp(&a[i - 1], &a[i], x) > 0)
			rs[nr++] = i;
	rs[nr] = n;
	while (nr > 1) {
		struct fitem *sw;
		size_t k = 0;
		for (size_t r = 0; r < nr; r += 2) { /* rs[nr] == n; an odd last run is copied as is */
			size_t lo = rs[r], mid = rs[r + 1], hi = r + 2 <= nr ? rs[r + 2] : mid;
			size_t i = lo, j = mid, o = lo;
			while (i < mid && j < hi)
				t[o++] = fitem_cmp(&a[j], &a[i], x) < 0 ? a[j++] : a[i++];
			while (i < mid)
				t[o++] = a[i++];
			while (j < hi)
				t[o++] = a[j++];
			rs[k++] = lo;
		}
		rs[k] = n;
		nr = k;
		sw = a;
		a = t;
		t = sw;
	}
	if (a != x->items)
		memcpy(x->items, a, n * sizeof(*a));
}

/* Output in large writes: the sink sees at most one call per OUT_FLUSH bytes. */
#define OUT_FLUSH ((size_t)256 << 10)

struct outq {
	struct infra_buf b;
	infra_kata_sink sink;
	void *ud;
};

static int outq_flush(struct outq *q, struct infra_err *err)
{
	int rc = q->b.len ? q->sink(q->ud, q->b.data, q->b.len) : 0;

	if (rc && err && !err->code)
		infra_err_set(err, rc, "cannot write output: %s", strerror(-rc));
	infra_buf_reset(&q->b);
	return rc;
}

static int outq_put(struct outq *q, const char *data, size_t len, struct infra_err *err)
{
	int rc = 0;

	if (q->b.len + len > OUT_FLUSH && (rc = outq_flush(q, err)))
		return rc;
	if (len >= OUT_FLUSH) {
		rc = q->sink(q->ud, data, len);
		if (rc && err && !err->code)
			infra_err_set(err, rc, "cannot write output: %s", strerror(-rc));
		return rc;
	}
	if (infra_buf_append(&q->b, data, len))
		return infra_err_set(err, -ENOMEM, "out of memory");
	return 0;
}

/* One chunk through the fast path: 0 (written, or nothing to write), 1 when
 * the chunk needs the writer, or an error. */
static int fast_chunk(struct infra_kata_merge *m, struct fast *x, size_t c, struct infra_prom_parser **ps,
		      const struct infra_buf *header, int *header_done, struct outq *q, struct infra_err *err)
{
	int rc = 0;

	infra_buf_reset(&x->lines);
	infra_buf_reset(&x->keys);
	x->nitems = 0;
	x->nsch = 0;
	x->nsch_own = 0;
	x->schema_set = 0;
	memset(x->hint, 0xff, sizeof(x->hint)); /* no slot known */
	x->fallback = 0;
	for (size_t bi = c; bi < m->nbodies && bi < c + INFRA_KATA_MERGE_CHUNK && !rc; bi++) {
		const struct body *b = &m->bodies[bi];
		x->extra = b->extra;
		for (size_t ri = 0; ri < b->nruns && !rc; ri++) {
			const struct run *r = &b->runs[ri];
			if (r->f != x->f && r->f->alias != x->f)
				continue;
			/* runs hold whole sample lines only: one parser serves them all */
			if (!*ps && !(*ps = infra_prom_parser_new(fast_cb, x)))
				return infra_err_set(err, -ENOMEM, "out of memory");
			rc = infra_prom_parser_feed(*ps, b->data + r->start, r->end - r->start, err);
			if (rc) { /* a stopped parser stays stopped: the next run gets a new one */
				infra_prom_parser_free(*ps);
				*ps = NULL;
			}
		}
	}
	if (x->fallback)
		return 1;
	if (rc == -ENOMEM)
		return infra_err_set(err, rc, "out of memory");
	if (rc)
		return 1; /* cannot happen: these lines parsed before; let the writer decide */
	if (!x->nitems)
		return 0;
	fast_sort(x);
	if (!*header_done) {
		if ((rc = outq_put(q, header->data, header->len, err)))
			return rc;
		*header_done = 1;
	}
	if (q->b.len + x->lines.len > OUT_FLUSH && (rc = outq_flush(q, err)))
		return rc;
	if (infra_buf_reserve(&q->b, x->lines.len))
		return infra_err_set(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < x->nitems; i++) {
		memcpy(q->b.data + q->b.len, x->lines.data + x->items[i].line, x->items[i].line_len);
		q->b.len += x->items[i].line_len;
	}
	q->b.data[q->b.len] = '\0';
	return 0;
}

/* One chunk through the infra_prom writer (what the fast path cannot do). */
static int slow_chunk(struct infra_kata_merge *m, const struct fam *f, size_t c, int *header_done,
		      struct outq *q, struct infra_err *err)
{
	struct infra_buf out = INFRA_BUF_INIT;
	struct writer w;
	int rc = 0;

	memset(&w, 0, sizeof(w));
	w.f = f;
	if (!(w.p = infra_prom_new(INFRA_PROM_PAD_LABELS)))
		return infra_err_set(err, -ENOMEM, "out of memory");
	rc = infra_prom_family(w.p, f->name, f->typed ? f->type : INFRA_PROM_UNTYPED, f->help, err);
	for (size_t bi = c; bi < m->nbodies && bi < c + INFRA_KATA_MERGE_CHUNK && !rc; bi++) {
		const struct body *b = &m->bodies[bi];
		w.extra = b->extra;
		for (size_t ri = 0; ri < b->nruns && !rc; ri++) {
			const struct run *r = &b->runs[ri];
			if (r->f != f && r->f->alias != f)
				continue;
			rc = infra_prom_parse(b->data + r->start, r->end - r->start, write_cb, &w, err);
			if (w.fatal)
				rc = infra_err_set(err, w.fatal, "out of memory");
		}
	}
	if (!rc && w.added) {
		size_t off;
		rc = infra_prom_write(w.p, &out, err);
		off = *header_done ? after_header(out.data, out.len) : 0;
		if (!rc && out.len > off)
			rc = outq_put(q, out.data + off, out.len - off, err);
		*header_done = 1;
	}
	infra_prom_free(w.p);
	infra_buf_release(&out);
	return rc;
}

/* Write one family; a family the writer refuses to declare is left out
 * (*left_out incremented), only memory and output errors stop the write. */
static int write_family(struct infra_kata_merge *m, const struct fam *f, struct fast *x, struct outq *q,
			size_t *left_out, struct infra_err *err)
{
	struct infra_buf header = INFRA_BUF_INIT;
	struct infra_prom_parser *ps = NULL;
	struct infra_prom *hp;
	int header_done = 0, rc;

	/* the header as the writer renders a family without samples */
	if (!(hp = infra_prom_new(0)))
		return infra_err_set(err, -ENOMEM, "out of memory");
	rc = infra_prom_family(hp, f->name, f->typed ? f->type : INFRA_PROM_UNTYPED, f->help, err);
	if (rc && rc != -ENOMEM) {
		infra_prom_free(hp);
		infra_err_clear(err);
		(*left_out)++;
		return 0;
	}
	rc = rc ? rc : infra_prom_write(hp, &header, err);
	infra_prom_free(hp);
	if (rc) {
		infra_buf_release(&header);
		return rc;
	}
	x->f = f;
	x->type = f->typed ? f->type : INFRA_PROM_UNTYPED;
	x->flen = strlen(f->name);
	for (size_t c = 0; c < m->nbodies && !rc; c += INFRA_KATA_MERGE_CHUNK) {
		rc = fast_chunk(m, x, c, &ps, &header, &header_done, q, err);
		if (rc == 1) {
			infra_err_clear(err);
			rc = slow_chunk(m, f, c, &header_done, q, err);
		}
	}
	infra_prom_parser_free(ps);
	infra_buf_release(&header);
	return rc;
}

int infra_kata_merge_write(struct infra_kata_merge *m, const char *own, size_t own_len,
			   infra_kata_sink sink, void *ud, size_t *skipped, struct infra_err *err)
{
	struct own_block *blocks = NULL;
	struct fam **fams = NULL;
	size_t nblocks = 0, nfams = 0, bi = 0, fi = 0, skip = 0;
	struct outq q = { INFRA_BUF_INIT, sink, ud };
	struct fast *x = calloc(1, sizeof(*x)); /* its buffers serve every family */
	int rc = 0;

	if (own && own_len && own_blocks(own, own_len, &blocks, &nblocks))
		return infra_err_set(err, -ENOMEM, "out of memory");
	if (nblocks) /* the writer's order already; be sure */
		qsort(blocks, nblocks, sizeof(*blocks), cmp_block);
	resolve_aliases(m);
	fams = calloc(m->global.n + 1, sizeof(*fams));
	if (!fams) {
		free(blocks);
		return infra_err_set(err, -ENOMEM, "out of memory");
	}
	for (size_t j = 0; j < m->global.cap; j++) {
		struct fam *f = m->global.slot[j];
		if (!f || f->alias || !f->samples)
			continue;
		int collide = 0;
		for (size_t k = 0; k < nblocks && !collide; k++)
			collide = !strcmp(blocks[k].name, f->name);
		if (collide)
			skip++;
		else if (!f->skip && wanted(m, f->name))
			fams[nfams++] = f;
	}
	qsort(fams, nfams, sizeof(*fams), cmp_fam);
	/* two sorted lists, merged by name */
	while (!rc && (bi < nblocks || fi < nfams)) {
		if (fi == nfams || (bi < nblocks && strcmp(blocks[bi].name, fams[fi]->name) < 0)) {
			rc = outq_put(&q, blocks[bi].start, blocks[bi].len, err);
			bi++;
		} else {
			rc = x ? write_family(m, fams[fi++], x, &q, &skip, err) : infra_err_set(err, -ENOMEM, "out of memory");
		}
	}
	if (!rc)
		rc = outq_flush(&q, err);
	infra_buf_release(&q.b);
	if (x) {
		infra_buf_release(&x->lines);
		infra_buf_release(&x->keys);
		free(x->items);
		free(x->tmp);
		free(x->runs);
		free(x);
	}
	if (skipped)
		*skipped = skip;
	free(fams);
	free(blocks);
	return rc;
}
