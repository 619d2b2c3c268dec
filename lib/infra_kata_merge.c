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
	uint64_t lnsig;         /* label names of the last sample (lnames already has them) */
	int lnsig_set;
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

/* ---- the merger ----
 *
 * A body is read once and not kept.  Each sample's series (its name and its
 * labels as the shim wrote them) is interned: the bodies of a node share almost
 * all of their series, so the merger holds each series once (struct skey) and,
 * per body, only records of (series id, value text) grouped in runs by family.
 * The write pass builds every line from the series and the records, without
 * parsing anything again. */

struct skey {
	uint64_t h;             /* hash of the encoded form (the intern table's) */
	uint64_t sh;            /* series_hash(): duplicates inside a body */
	size_t enc, enc_len;    /* the encoded form in m->ktext (see key_encode) */
	size_t rname;           /* its sample name renamed (infra_kata_rename) in m->ktext, or SIZE_MAX */
	uint64_t lnsig;         /* hash of its label names (le/quantile left out), in order */
	uint64_t xsig;          /* the extra label names twice and has_extra are for (0: none yet) */
	int twice, has_extra, sh_set;
	/* the write pass, valid while stamp is the chunk's */
	unsigned stamp;
	int slow, kind, special;
	double num;             /* le/quantile as a number */
	size_t own, own_len;    /* in fast.keys: the own slots' values, encoded to compare as bytes */
	size_t pre, pre_len;    /* in fast.keys: name{own labels */
	size_t suf, suf_len;    /* in fast.keys: ,le="..." } and the blank before the value */
	size_t sp, sp_len;      /* in fast.keys: le/quantile text */
	uint32_t group, sub;    /* rank of the own values, rank inside them */
};

struct run {
	struct fam *f;          /* local family while reading, then the global one */
	size_t start, end;      /* byte range of records in the body's recs */
};

/* A record: u32 series id, u8 value length, the value text (as written out). */
struct body {
	const char *const *extra;
	struct run *runs;
	size_t nruns;
	unsigned char *recs;
	size_t rlen;
};

struct infra_kata_merge {
	struct table global;
	struct body *bodies;
	size_t nbodies, abodies;
	regex_t *inc, *exc;
	size_t ninc, nexc;
	size_t max_series, max_label_len; /* 0 = no limit */
	struct skey *keys;      /* interned series */
	size_t nkeys, akeys;
	uint64_t *kslot;        /* intern table: hash's high 32 bits << 32 | id + 1, 0 = empty */
	size_t kcap;
	struct infra_buf ktext; /* the series' encoded forms */
	unsigned stamp;
};

/* One body read but not yet merged (infra_kata_merge_parse). */
struct infra_kata_parsed {
	struct body b;
	struct table local;
	size_t nruns;
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
	for (size_t i = 0; i < m->nbodies; i++) {
		free(m->bodies[i].runs);
		free(m->bodies[i].recs);
	}
	free(m->bodies);
	table_release(&m->global);
	free(m->keys);
	free(m->kslot);
	infra_buf_release(&m->ktext);
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
	if (integral && size >= 24) { /* as the writer spells it: the integer, -0 as 0 */
		char tmp[24];
		size_t k = 0;
		int64_t iv = (int64_t)v;
		uint64_t u = iv < 0 ? (uint64_t)0 - (uint64_t)iv : (uint64_t)iv;
		do
			tmp[k++] = (char)('0' + u % 10);
		while (u /= 10);
		if (iv < 0)
			tmp[k++] = '-';
		for (i = 0; i < k; i++)
			buf[i] = tmp[k - 1 - i];
		return k;
	}
	return infra_prom_format_value(v, buf, size);
}

/* ---- reading a body ---- */

struct reader {
	struct infra_kata_merge *m;
	struct table local;
	struct hset keys;           /* series seen in this body (duplicates) */
	struct infra_buf enc;       /* the sample's series, encoded */
	struct infra_buf recs;      /* the records */
	struct run *runs;
	size_t nruns, aruns;
	const char *const *extra;
	uint64_t xsig;              /* signature of the extra label names (never 0) */
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
static int extra_twice_at(const char *const *extra, const struct infra_prom_event *ev, size_t *at)
{
	for (size_t i = 0; i < ev->nlabels; i++) {
		const struct infra_prom_label *l = &ev->labels[i];
		if (!is_extra(extra, l->name, l->name_len))
			continue;
		for (size_t j = 0; j < ev->nlabels; j++) {
			const struct infra_prom_label *x = &ev->labels[j];
			if (x->name_len == l->name_len + 9 && !strncmp(x->name, "exported_", 9) &&
			    !memcmp(x->name + 9, l->name, l->name_len)) {
				if (at) {
					at[0] = i;
					at[1] = j;
				}
				return 1;
			}
		}
	}
	return 0;
}

static int extra_twice(struct reader *r, const struct infra_prom_event *ev)
{
	size_t at[2];

	if (!extra_twice_at(r->extra, ev, at))
		return 0;
	r->st->dropped_samples++;
	problem(r->st, "sample %.200s has both %.*s and %.*s labels: dropped", ev->name, (int)ev->labels[at[0]].name_len,
		ev->labels[at[0]].name, (int)ev->labels[at[1]].name_len, ev->labels[at[1]].name);
	return 1;
}

/* A series encoded: u32 label count, u32 name length, name, 00, then per
 * label u32 name length, u32 value length, name, 00, value, 00.  Two samples
 * are the same series as written when their encoded forms are equal. */
static int key_encode(struct infra_buf *b, const struct infra_prom_event *ev)
{
	size_t need = 8 + ev->name_len + 1;
	uint32_t u;
	char *w;
	int rc;

	for (size_t i = 0; i < ev->nlabels; i++)
		need += 8 + ev->labels[i].name_len + ev->labels[i].value_len + 2;
	infra_buf_reset(b);
	if ((rc = infra_buf_reserve(b, need)))
		return rc;
	w = b->data;
	u = (uint32_t)ev->nlabels;
	memcpy(w, &u, 4);
	u = (uint32_t)ev->name_len;
	memcpy(w + 4, &u, 4);
	memcpy(w + 8, ev->name, ev->name_len);
	w += 8 + ev->name_len;
	*w++ = 0;
	for (size_t i = 0; i < ev->nlabels; i++) {
		const struct infra_prom_label *l = &ev->labels[i];
		u = (uint32_t)l->name_len;
		memcpy(w, &u, 4);
		u = (uint32_t)l->value_len;
		memcpy(w + 4, &u, 4);
		memcpy(w + 8, l->name, l->name_len);
		w += 8 + l->name_len;
		*w++ = 0;
		memcpy(w, l->value, l->value_len);
		w += l->value_len;
		*w++ = 0;
	}
	b->len = (size_t)(w - b->data);
	return 0;
}

/* The series of an encoded form: name (NUL-terminated) and labels (names and
 * values NUL-terminated, pointing into the form); n has room for MAX_LABELS. */
static size_t key_decode(const char *e, const char **name, struct infra_prom_label *l, size_t room)
{
	uint32_t n, len, vlen;

	memcpy(&n, e, 4);
	memcpy(&len, e + 4, 4);
	*name = e + 8;
	e += 8 + len + 1;
	for (uint32_t i = 0; i < n; i++) {
		memcpy(&len, e, 4);
		memcpy(&vlen, e + 4, 4);
		if (i < room) {
			l[i].name = e + 8;
			l[i].name_len = len;
			l[i].value = e + 8 + len + 1;
			l[i].value_len = vlen;
		}
		e += 8 + len + 1 + vlen + 1;
	}
	return n;
}

/* The id of the series encoded in enc (ev's), interned if new; -ENOMEM. */
static long key_intern(struct infra_kata_merge *m, const struct infra_buf *enc, const struct infra_prom_event *ev)
{
	uint64_t h = hash_mem(enc->data, enc->len, 0x6b6579ull);
	struct skey *k;
	size_t i;

	if ((m->nkeys + 1) * 2 > m->kcap) {
		size_t ncap = m->kcap ? m->kcap * 2 : 1024;
		uint64_t *ns = calloc(ncap, sizeof(*ns));
		if (!ns || m->nkeys >= UINT32_MAX - 1) {
			free(ns);
			return -ENOMEM;
		}
		for (size_t j = 0; j < m->kcap; j++) {
			if (!m->kslot[j])
				continue;
			for (i = m->keys[(uint32_t)m->kslot[j] - 1].h & (ncap - 1); ns[i]; i = (i + 1) & (ncap - 1))
				;
			ns[i] = m->kslot[j];
		}
		free(m->kslot);
		m->kslot = ns;
		m->kcap = ncap;
	}
	/* the slot holds the hash's high half: a probe touches the series only on a match */
	for (i = h & (m->kcap - 1); m->kslot[i]; i = (i + 1) & (m->kcap - 1)) {
		if (m->kslot[i] >> 32 != h >> 32)
			continue;
		k = &m->keys[(uint32_t)m->kslot[i] - 1];
		if (k->h == h && k->enc_len == enc->len && !memcmp(m->ktext.data + k->enc, enc->data, enc->len))
			return (long)((uint32_t)m->kslot[i] - 1);
	}
	if (m->nkeys == m->akeys) {
		size_t na = m->akeys ? m->akeys * 2 : 256;
		struct skey *nv = realloc(m->keys, na * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		m->keys = nv;
		m->akeys = na;
	}
	k = &m->keys[m->nkeys];
	memset(k, 0, sizeof(*k));
	k->h = h;
	k->lnsig = 0x6c6e73ull;
	for (size_t j = 0; j < ev->nlabels; j++)
		if (!is_le_quantile(ev->labels[j].name))
			k->lnsig = hash_mem(ev->labels[j].name, ev->labels[j].name_len, k->lnsig);
	k->enc = m->ktext.len;
	k->enc_len = enc->len;
	if (infra_buf_append(&m->ktext, enc->data, enc->len))
		return -ENOMEM;
	{
		char nb[NAME_MAX_LEN];
		const char *rn = infra_kata_rename(ev->name, nb, sizeof(nb));
		k->rname = rn ? m->ktext.len : SIZE_MAX;
		if (rn && infra_buf_append(&m->ktext, rn, strlen(rn) + 1))
			return -ENOMEM;
	}
	m->kslot[i] = (h >> 32) << 32 | (uint32_t)++m->nkeys;
	return (long)(m->nkeys - 1);
}

static int read_cb(void *ud, const struct infra_prom_event *ev)
{
	struct reader *r = ud;
	char nb[NAME_MAX_LEN];
	const char *name;
	struct fam *f;
	struct skey *k;
	size_t start, end;
	long id;
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
	/* the series: what depends only on it (and the extra label names) is worked
	 * out once, not per body */
	if ((rc = key_encode(&r->enc, ev)))
		return rc;
	id = key_intern(r->m, &r->enc, ev);
	if (id < 0)
		return (int)id;
	k = &r->m->keys[id];
	if (k->xsig != r->xsig) {
		k->twice = extra_twice_at(r->extra, ev, NULL);
		k->has_extra = 0;
		for (size_t i = 0; i < ev->nlabels && !k->has_extra; i++)
			k->has_extra = is_extra(r->extra, ev->labels[i].name, ev->labels[i].name_len);
		k->xsig = r->xsig;
	}
	if (k->twice && extra_twice(r, ev))
		return 0;
	name = k->rname == SIZE_MAX ? NULL : r->m->ktext.data + k->rname;
	if (!name || ev->nlabels + 8 > MAX_LABELS) {
		r->st->dropped_samples++;
		problem(r->st, "sample %.200s: name too long or too many labels", ev->name);
		return 0;
	}
	if (!k->sh_set) {
		k->sh = series_hash(name, ev);
		k->sh_set = 1;
	}
	rc = hset_add(&r->keys, k->sh);
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
	/* the family's label names: nothing new when the last sample had the same */
	for (size_t i = 0; (!f->lnsig_set || f->lnsig != k->lnsig) && i < ev->nlabels; i++) {
		const struct infra_prom_label *l = &ev->labels[i];
		char en[NAME_MAX_LEN];
		if (is_le_quantile(l->name))
			continue;
		if (k->has_extra && is_extra(r->extra, l->name, l->name_len)) {
			int n = snprintf(en, sizeof(en), "exported_%.*s", (int)l->name_len, l->name);
			rc = add_lname(f, en, (size_t)n);
		} else {
			rc = add_lname(f, l->name, l->name_len);
		}
		if (rc)
			return rc;
	}
	f->lnsig = k->lnsig;
	f->lnsig_set = 1;
	f->samples++;
	/* the record: series id, the value as it will be written */
	start = r->recs.len;
	if ((rc = infra_buf_reserve(&r->recs, 4 + 1 + 48)))
		return rc;
	{
		unsigned char *w = (unsigned char *)r->recs.data + start;
		uint32_t u = (uint32_t)id;
		size_t vn = fast_value(ev, (char *)w + 5, 48);
		memcpy(w, &u, 4);
		w[4] = (unsigned char)vn;
		r->recs.len += 5 + vn;
	}
	end = r->recs.len;
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
static int reconcile(struct infra_kata_merge *m, struct table *local, struct infra_kata_merge_stats *st)
{
	for (size_t i = 0; i < local->cap; i++) {
		struct fam *l = local->slot[i], *g;

		if (!l)
			continue;
		st->families++;
		if (!(g = table_put(&m->global, l->name)))
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

void infra_kata_merge_discard(struct infra_kata_parsed *pb)
{
	if (!pb)
		return;
	free(pb->b.runs);
	free(pb->b.recs);
	table_release(&pb->local);
	free(pb);
}

int infra_kata_merge_parse(struct infra_kata_merge *m, const char *body, size_t len, const char *const *extra,
			   struct infra_kata_parsed **out, struct infra_kata_merge_stats *stats,
			   struct infra_err *err)
{
	struct infra_kata_parsed *pb;
	struct reader r;
	int rc = 0;

	*out = NULL;
	memset(stats, 0, sizeof(*stats));
	memset(&r, 0, sizeof(r));
	r.m = m;
	r.extra = extra;
	r.xsig = 0x78736967ull;
	for (size_t i = 0; extra && extra[i]; i += 2)
		r.xsig = hash_mem(extra[i], strlen(extra[i]) + 1, r.xsig);
	r.xsig |= 1;
	r.st = stats;
	rc = infra_prom_parse(body, len, read_cb, &r, err);
	if (rc == -ENOMEM)
		infra_err_set(err, rc, "out of memory");
	else if (rc == -E2BIG && r.limit)
		infra_err_set(err, rc, "%s", r.limit_msg);
	else if (rc == -E2BIG) /* the parser's own line cap */
		r.limit = INFRA_KATA_LIMIT_LABEL;
	if (!rc && !(pb = calloc(1, sizeof(*pb))))
		rc = infra_err_set(err, -ENOMEM, "out of memory");
	if (!rc) {
		/* only the records stay, trimmed to their size */
		size_t n;
		unsigned char *recs = (unsigned char *)infra_buf_steal(&r.recs, &n);
		unsigned char *t = recs ? realloc(recs, n ? n : 1) : NULL;
		struct run *rt = r.nruns ? realloc(r.runs, r.nruns * sizeof(*rt)) : NULL;
		pb->b.extra = extra;
		pb->b.recs = t ? t : recs;
		pb->b.rlen = n;
		pb->b.runs = rt ? rt : r.runs;
		pb->b.nruns = r.nruns;
		pb->local = r.local;
		r.runs = NULL;
		memset(&r.local, 0, sizeof(r.local));
		*out = pb;
	} else if (rc != -ENOMEM) {
		memset(stats, 0, sizeof(*stats));
		stats->limit = rc == -E2BIG ? r.limit : INFRA_KATA_LIMIT_NONE;
	}
	free(r.runs);
	infra_buf_release(&r.recs);
	infra_buf_release(&r.enc);
	table_release(&r.local);
	free(r.keys.slot);
	return rc;
}

int infra_kata_merge_commit(struct infra_kata_merge *m, struct infra_kata_parsed *pb,
			    struct infra_kata_merge_stats *stats, struct infra_err *err)
{
	size_t kept = 0;
	int rc;

	if ((rc = reconcile(m, &pb->local, stats))) {
		infra_kata_merge_discard(pb);
		return infra_err_set(err, rc, "out of memory");
	}
	if (m->nbodies == m->abodies) {
		size_t na = m->abodies ? m->abodies * 2 : 16;
		struct body *nv = realloc(m->bodies, na * sizeof(*nv));
		if (!nv) {
			infra_kata_merge_discard(pb);
			return infra_err_set(err, -ENOMEM, "out of memory");
		}
		m->bodies = nv;
		m->abodies = na;
	}
	/* keep the runs of families that were not dropped, pointing at the global family */
	for (size_t i = 0; i < pb->b.nruns; i++)
		if (!pb->b.runs[i].f->dropped)
			pb->b.runs[kept++] = (struct run){ pb->b.runs[i].f->g, pb->b.runs[i].start, pb->b.runs[i].end };
	pb->b.nruns = kept;
	m->bodies[m->nbodies++] = pb->b;
	pb->b.runs = NULL;
	pb->b.recs = NULL;
	infra_kata_merge_discard(pb);
	return 0;
}

int infra_kata_merge_add(struct infra_kata_merge *m, const char *body, size_t len,
			 const char *const *extra, struct infra_kata_merge_stats *stats,
			 struct infra_err *err)
{
	struct infra_kata_parsed *pb;
	int rc = infra_kata_merge_parse(m, body, len, extra, &pb, stats, err);

	return rc ? rc : infra_kata_merge_commit(m, pb, stats, err);
}

size_t infra_kata_merge_series(const struct infra_kata_merge *m)
{
	return m->nkeys;
}

size_t infra_kata_merge_held(const struct infra_kata_merge *m)
{
	size_t n = m->ktext.alloc + m->akeys * sizeof(struct skey) + m->kcap * sizeof(uint64_t) +
		   m->abodies * sizeof(struct body);

	for (size_t i = 0; i < m->nbodies; i++)
		n += m->bodies[i].rlen + m->bodies[i].nruns * sizeof(struct run);
	return n;
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
	uint64_t ord;           /* own values' rank << 32 | body's extras' rank << 24 | rank inside the own values */
	uint32_t key;           /* series id */
	uint32_t body;          /* index in the chunk */
	const unsigned char *val; /* the record's value: length byte, text */
};

struct fast {
	const struct fam *f;
	enum infra_prom_type type; /* as declared to the writer */
	size_t flen;
	const char *const *extra;  /* the chunk's (every body of the chunk has these names) */
	size_t nx;                 /* 2 * extra labels */
	size_t nsch_own;           /* slots before the extras' */
	char sch[MAX_LABELS][NAME_MAX_LEN];
	size_t schl[MAX_LABELS];
	size_t nsch;
	int schema_set;
	struct infra_buf keys;     /* the chunk's series texts (skey.own, pre, suf, sp) */
	struct infra_buf ext;      /* the chunk's bodies' extra labels: text and sort key */
	size_t bt[INFRA_KATA_MERGE_CHUNK], btl[INFRA_KATA_MERGE_CHUNK];  /* text in ext */
	size_t bk[INFRA_KATA_MERGE_CHUNK], bkl[INFRA_KATA_MERGE_CHUNK];  /* sort key in ext */
	uint32_t brank[INFRA_KATA_MERGE_CHUNK];
	int bused[INFRA_KATA_MERGE_CHUNK];
	uint32_t *kl;              /* the chunk's series, first seen first */
	size_t nkl, akl;
	struct fitem *items, *tmp; /* tmp: the sort's, aitems long */
	size_t *runs;              /* the sort's run starts, aitems + 1 long */
	size_t nitems, aitems;
	const struct infra_kata_merge *m; /* for the series sort */
};

static int ends_with_suffix(const char *name, size_t n, const char *base, size_t bn, const char *suf)
{
	size_t sn = strlen(suf);

	return n == bn + sn && !memcmp(name, base, bn) && !memcmp(name + bn, suf, sn);
}

static const unsigned char esc_byte[256] = { ['\\'] = 1, ['"'] = 1, ['\n'] = 1 };

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

/* Encode a label value to compare as bytes (00 -> 00 01), ended by 00 00. */
static char *put_sortable(char *w, const char *v, size_t n)
{
	if (n && memchr(v, 0, n)) {
		for (size_t k = 0; k < n; k++)
			if ((*w++ = v[k]) == 0)
				*w++ = 1;
	} else if (n) {
		memcpy(w, v, n);
		w += n;
	}
	*w++ = 0;
	*w++ = 0;
	return w;
}

/* What the writer would make of series k in this chunk (the checks the
 * parser-fed fast path made per sample, made once per series): k->slow when
 * the chunk must go the writer's way; else its sort key and texts in x->keys.
 * The first series of the chunk sets the label schema. */
static int prep_key(const struct infra_kata_merge *m, struct fast *x, struct skey *k)
{
	struct infra_prom_label lab[MAX_LABELS];
	const struct infra_prom_label *sp = NULL;
	const struct fam *f = x->f;
	const char *vals[MAX_LABELS], *oname, *name;
	size_t vlens[MAX_LABELS], nl, n, need;
	char nb[NAME_MAX_LEN], ln[NAME_MAX_LEN], *w, *w0;
	int kind = FK_PLAIN, rc;

	k->stamp = m->stamp;
	k->slow = 1;
	nl = key_decode(m->ktext.data + k->enc, &oname, lab, MAX_LABELS);
	if (!(name = infra_kata_rename(oname, nb, sizeof(nb))) || nl + 8 > MAX_LABELS)
		return 0;
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
			return 0;
	} else if (x->type == INFRA_PROM_HISTOGRAM) {
		return 0; /* the writer takes x_bucket, x_sum, x_count only */
	}
	if (nl + f->nl + x->nx / 2 + 2 > MAX_LABELS - 8)
		return 0;
	/* le / quantile; any other name starting "__" is refused by the writer */
	for (size_t i = 0; i < nl; i++) {
		const struct infra_prom_label *l = &lab[i];
		int le = l->name_len == 2 && !memcmp(l->name, "le", 2);
		int q = l->name_len == 8 && !memcmp(l->name, "quantile", 8);
		if (l->name_len >= 2 && l->name[0] == '_' && l->name[1] == '_')
			return 0;
		if ((le && x->type == INFRA_PROM_HISTOGRAM) || (q && x->type == INFRA_PROM_SUMMARY))
			sp = l;
		else if (le || q)
			return 0; /* not in the family's label names: the writer would pad or extend */
	}
	if ((x->type == INFRA_PROM_HISTOGRAM && (kind == FK_BUCKET) != (sp != NULL)) ||
	    (x->type == INFRA_PROM_SUMMARY && (kind == FK_PLAIN) != (sp != NULL)))
		return 0;
	if (!x->schema_set) { /* the first sample's own labels, the family's others, the extras */
		for (size_t i = 0; i < nl; i++) {
			if (&lab[i] == sp)
				continue;
			if (out_label_name(x, &lab[i], ln, sizeof(ln)) || fast_schema_add(x, ln, strlen(ln)))
				return 0;
		}
		for (size_t j = 0; j < f->nl; j++)
			if (!fast_schema_has(x, f->lnames[j]) && fast_schema_add(x, f->lnames[j], strlen(f->lnames[j])))
				return 0;
		x->nsch_own = x->nsch;
		for (size_t i = 0; i < x->nx; i += 2)
			if (fast_schema_has(x, x->extra[i]) || fast_schema_add(x, x->extra[i], strlen(x->extra[i])))
				return 0;
		x->schema_set = 1;
	}
	for (size_t j = 0; j < x->nsch; j++)
		vals[j] = NULL, vlens[j] = 0;
	for (size_t i = 0; i < nl; i++) {
		const struct infra_prom_label *l = &lab[i];
		size_t j, lnl;
		if (l == sp)
			continue;
		if (out_label_name(x, l, ln, sizeof(ln)))
			return 0;
		lnl = strlen(ln);
		for (j = 0; j < x->nsch && (x->schl[j] != lnl || memcmp(x->sch[j], ln, lnl)); j++)
			;
		/* not in the chunk's schema, twice, or on an extra label's slot (which the
		 * extra label then finds taken) */
		if (j >= x->nsch_own || vals[j])
			return 0;
		vals[j] = l->value;
		vlens[j] = l->value_len;
	}
	if (sp) {
		if (infra_prom_parse_float(sp->value, sp->value_len, &k->num))
			return 0;
		k->special = 1;
	} else {
		k->special = 0;
	}
	k->kind = kind;
	/* sort key, name{own labels, [,le="..."]} and the blank, le's text */
	need = n + 16 + (sp ? 3 * sp->value_len + sp->name_len + 16 : 0);
	for (size_t j = 0; j < x->nsch_own; j++)
		need += 4 * vlens[j] + x->schl[j] + 8;
	if ((rc = infra_buf_reserve(&x->keys, need)))
		return rc;
	w0 = w = x->keys.data + x->keys.len;
	for (size_t j = 0; j < x->nsch_own; j++)
		w = put_sortable(w, vals[j], vlens[j]);
	k->own = (size_t)(w0 - x->keys.data);
	k->own_len = (size_t)(w - w0);
	w0 = w;
	memcpy(w, name, n);
	w += n;
	for (size_t j = 0; j < x->nsch_own; j++) {
		*w++ = j ? ',' : '{';
		memcpy(w, x->sch[j], x->schl[j]);
		w += x->schl[j];
		*w++ = '=';
		*w++ = '"';
		if (vals[j])
			w = put_escaped(w, vals[j], vlens[j]);
		*w++ = '"';
	}
	k->pre = (size_t)(w0 - x->keys.data);
	k->pre_len = (size_t)(w - w0);
	w0 = w;
	if (sp) {
		*w++ = x->nsch ? ',' : '{';
		memcpy(w, sp->name, sp->name_len);
		w += sp->name_len;
		*w++ = '=';
		*w++ = '"';
		w = put_escaped(w, sp->value, sp->value_len);
		*w++ = '"';
	}
	if (x->nsch + (sp != NULL))
		*w++ = '}';
	*w++ = ' ';
	k->suf = (size_t)(w0 - x->keys.data);
	k->suf_len = (size_t)(w - w0);
	k->sp = (size_t)(w - x->keys.data);
	k->sp_len = sp ? sp->value_len : 0;
	if (sp) {
		memcpy(w, sp->value, sp->value_len);
		w += sp->value_len;
	}
	x->keys.len = (size_t)(w - x->keys.data);
	k->slow = 0;
	return 0;
}

static int bytes_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);

	return c ? c : an < bn ? -1 : an > bn;
}

/* Two series of a chunk: own values, then _bucket/plain < _sum < _count, then
 * le/quantile as numbers (NaN last), then as text.  *same_own: the own values
 * are equal. */
static int skey_cmp2(const struct fast *x, const struct skey *p, const struct skey *q, int *same_own)
{
	int kx, ky, c;

	*same_own = 0;
	if ((c = bytes_cmp(x->keys.data + p->own, p->own_len, x->keys.data + q->own, q->own_len)))
		return c;
	*same_own = 1;
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

static int skey_cmp(const void *a, const void *b, void *ud)
{
	const struct fast *x = ud;
	int same;

	return skey_cmp2(x, &x->m->keys[*(const uint32_t *)a], &x->m->keys[*(const uint32_t *)b], &same);
}

static int body_cmp(const void *a, const void *b, void *ud)
{
	const struct fast *x = ud;
	size_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;

	return bytes_cmp(x->ext.data + x->bk[i], x->bkl[i], x->ext.data + x->bk[j], x->bkl[j]);
}

/* Sort the chunk's samples by ord: each body's samples mostly come sorted
 * already, so find the sorted runs and merge them pairwise (stable, as the
 * writer's qsort is), n log(runs) comparisons instead of n log n. */
static void fast_sort(struct fast *x)
{
	size_t n = x->nitems, nr = 0, *rs = x->runs;
	struct fitem *a = x->items, *t = x->tmp;

	if (n < 2)
		return;
	rs[nr++] = 0;
	for (size_t i = 1; i < n; i++)
		if (a[i - 1].ord > a[i].ord)
			rs[nr++] = i;
	rs[nr] = n;
	while (nr > 1) {
		struct fitem *sw;
		size_t k = 0;
		for (size_t r = 0; r < nr; r += 2) { /* rs[nr] == n; an odd last run is copied as is */
			size_t lo = rs[r], mid = rs[r + 1], hi = r + 2 <= nr ? rs[r + 2] : mid;
			size_t i = lo, j = mid, o = lo;
			while (i < mid && j < hi)
				t[o++] = a[j].ord < a[i].ord ? a[j++] : a[i++];
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

static int same_extra_names(const char *const *a, const char *const *b)
{
	size_t i;

	if (a == b)
		return 1;
	for (i = 0; a && b && a[i] && b[i]; i += 2)
		if (strcmp(a[i], b[i]))
			return 0;
	return (!a || !a[i]) && (!b || !b[i]);
}

static int fast_item(struct fast *x, uint32_t key, uint32_t body, const unsigned char *val)
{
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
	x->items[x->nitems++] = (struct fitem){ 0, key, body, val };
	return 0;
}

/* One chunk through the fast path: 0 (written, or nothing to write), 1 when
 * the chunk needs the writer, or an error. */
static int fast_chunk(struct infra_kata_merge *m, struct fast *x, size_t c, const struct infra_buf *header,
		      int *header_done, struct outq *q, struct infra_err *err)
{
	size_t nb = 0;
	int rc = 0, same;

	infra_buf_reset(&x->keys);
	infra_buf_reset(&x->ext);
	x->nitems = 0;
	x->nkl = 0;
	x->nsch = 0;
	x->nsch_own = 0;
	x->schema_set = 0;
	x->extra = NULL;
	x->m = m;
	if (++m->stamp == 0) { /* wrapped: no series may look prepared */
		for (size_t i = 0; i < m->nkeys; i++)
			m->keys[i].stamp = 0;
		m->stamp = 1;
	}
	/* the chunk's samples in body order, each series prepared once */
	for (size_t bi = c; bi < m->nbodies && bi < c + INFRA_KATA_MERGE_CHUNK; bi++, nb++) {
		const struct body *b = &m->bodies[bi];
		x->bused[nb] = 0;
		for (size_t ri = 0; ri < b->nruns; ri++) {
			const struct run *r = &b->runs[ri];
			const unsigned char *p = b->recs + r->start, *e = b->recs + r->end;
			if (r->f != x->f && r->f->alias != x->f)
				continue;
			if (!x->bused[nb]) {
				if (!x->extra) {
					x->extra = b->extra;
					for (x->nx = 0; x->extra && x->extra[x->nx]; x->nx += 2)
						;
				} else if (!same_extra_names(x->extra, b->extra)) {
					return 1;
				}
				x->bused[nb] = 1;
			}
			for (; p < e; p += 5 + p[4]) {
				uint32_t id;
				struct skey *k;
				memcpy(&id, p, 4);
				k = &m->keys[id];
				if (k->stamp != m->stamp) {
					if ((rc = prep_key(m, x, k)))
						return infra_err_set(err, rc, "out of memory");
					if (k->slow)
						return 1;
					if (x->nkl == x->akl) {
						size_t na = x->akl ? x->akl * 2 : 256;
						uint32_t *nv = realloc(x->kl, na * sizeof(*nv));
						if (!nv)
							return infra_err_set(err, -ENOMEM, "out of memory");
						x->kl = nv;
						x->akl = na;
					}
					x->kl[x->nkl++] = id;
				}
				if (fast_item(x, id, (uint32_t)nb, p + 4))
					return infra_err_set(err, -ENOMEM, "out of memory");
			}
		}
	}
	if (!x->nitems)
		return 0;
	if (x->nkl >= (1u << 24))
		return 1;
	/* the series' ranks: own values, then inside them */
	qsort_r(x->kl, x->nkl, sizeof(*x->kl), skey_cmp, x);
	for (size_t i = 0, g = 0, sub = 0; i < x->nkl; i++) {
		struct skey *k = &m->keys[x->kl[i]];
		if (i) {
			int d = skey_cmp2(x, &m->keys[x->kl[i - 1]], k, &same);
			g += !same;
			sub += d != 0;
		}
		k->group = (uint32_t)g;
		k->sub = (uint32_t)sub;
	}
	/* the bodies' extra labels: text and rank */
	{
		uint32_t order[INFRA_KATA_MERGE_CHUNK];
		size_t no = 0;
		for (size_t i = 0; i < nb; i++) {
			const char *const *xe = m->bodies[c + i].extra;
			size_t need = 0;
			char *w, *w0;
			if (!x->bused[i])
				continue;
			for (size_t k = 0; k < x->nx; k++)
				need += 3 * strlen(xe[k]) + 8;
			if (infra_buf_reserve(&x->ext, need))
				return infra_err_set(err, -ENOMEM, "out of memory");
			w0 = w = x->ext.data + x->ext.len;
			for (size_t k = 0; k < x->nx; k += 2) {
				size_t ln = strlen(xe[k]);
				*w++ = x->nsch_own + k / 2 ? ',' : '{';
				memcpy(w, xe[k], ln);
				w += ln;
				*w++ = '=';
				*w++ = '"';
				w = put_escaped(w, xe[k + 1], strlen(xe[k + 1]));
				*w++ = '"';
			}
			x->bt[i] = (size_t)(w0 - x->ext.data);
			x->btl[i] = (size_t)(w - w0);
			w0 = w;
			for (size_t k = 0; k < x->nx; k += 2)
				w = put_sortable(w, xe[k + 1], strlen(xe[k + 1]));
			x->bk[i] = (size_t)(w0 - x->ext.data);
			x->bkl[i] = (size_t)(w - w0);
			x->ext.len = (size_t)(w - x->ext.data);
			order[no++] = (uint32_t)i;
		}
		qsort_r(order, no, sizeof(*order), body_cmp, x);
		for (size_t i = 0, r = 0; i < no; i++) {
			if (i && body_cmp(&order[i - 1], &order[i], x))
				r++;
			x->brank[order[i]] = (uint32_t)r;
		}
	}
	for (size_t i = 0; i < x->nitems; i++) {
		struct fitem *it = &x->items[i];
		const struct skey *k = &m->keys[it->key];
		it->ord = (uint64_t)k->group << 32 | (uint64_t)x->brank[it->body] << 24 | k->sub;
	}
	fast_sort(x);
	if (!*header_done) {
		if ((rc = outq_put(q, header->data, header->len, err)))
			return rc;
		*header_done = 1;
	}
	for (size_t i = 0; i < x->nitems; i++) {
		const struct fitem *it = &x->items[i];
		const struct skey *k = &m->keys[it->key];
		size_t vn = it->val[0], need = k->pre_len + x->btl[it->body] + k->suf_len + vn + 1;
		char *w;
		if (q->b.len + need > OUT_FLUSH && (rc = outq_flush(q, err)))
			return rc;
		if (infra_buf_reserve(&q->b, need))
			return infra_err_set(err, -ENOMEM, "out of memory");
		w = q->b.data + q->b.len;
		memcpy(w, x->keys.data + k->pre, k->pre_len);
		w += k->pre_len;
		memcpy(w, x->ext.data + x->bt[it->body], x->btl[it->body]);
		w += x->btl[it->body];
		memcpy(w, x->keys.data + k->suf, k->suf_len);
		w += k->suf_len;
		memcpy(w, it->val + 1, vn);
		w += vn;
		*w++ = '\n';
		q->b.len = (size_t)(w - q->b.data);
	}
	q->b.data[q->b.len] = '\0';
	return 0;
}

/* One chunk through the infra_prom writer (what the fast path cannot do). */
static int slow_chunk(struct infra_kata_merge *m, const struct fam *f, size_t c, int *header_done,
		      struct outq *q, struct infra_err *err)
{
	struct infra_buf out = INFRA_BUF_INIT;
	struct infra_prom_label lab[MAX_LABELS];
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
			const unsigned char *p = b->recs + r->start, *e = b->recs + r->end;
			if (r->f != f && r->f->alias != f)
				continue;
			for (; p < e && !rc; p += 5 + p[4]) {
				struct infra_prom_event ev;
				uint32_t id;
				memcpy(&id, p, 4);
				memset(&ev, 0, sizeof(ev));
				ev.kind = INFRA_PROM_EV_SAMPLE;
				ev.nlabels = key_decode(m->ktext.data + m->keys[id].enc, &ev.name, lab, MAX_LABELS);
				ev.name_len = strlen(ev.name);
				ev.labels = lab;
				if (infra_prom_parse_float((const char *)p + 5, p[4], &ev.value))
					ev.value = NAN; /* cannot happen: the text was written to read back */
				rc = write_cb(&w, &ev);
				if (w.fatal)
					rc = infra_err_set(err, w.fatal, "out of memory");
			}
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
		rc = fast_chunk(m, x, c, &header, &header_done, q, err);
		if (rc == 1) {
			infra_err_clear(err);
			rc = slow_chunk(m, f, c, &header_done, q, err);
		}
	}
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
		infra_buf_release(&x->ext);
		infra_buf_release(&x->keys);
		free(x->kl);
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
