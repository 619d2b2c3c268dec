#include "infra_kata_merge.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 512
#define MAX_LABELS 64

/* ---- a small string-keyed open-addressing table ---- */

struct fam {
	char *name;
	char *help;
	enum infra_prom_type type;
	int typed;      /* a TYPE line was seen for it */
	int dropped;    /* local table: this body's family is dropped */
	int declared;   /* global table: declared to the writer */
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
		if (!t->slot[i])
			continue;
		free(t->slot[i]->name);
		free(t->slot[i]->help);
		free(t->slot[i]);
	}
	free(t->slot);
	memset(t, 0, sizeof(*t));
}

/* ---- merger ---- */

struct infra_kata_merge {
	struct infra_prom *p;
	struct table global;
};

struct body_ctx {
	struct infra_kata_merge *m;
	struct table local;
	const char *const *extra;
	struct infra_kata_merge_stats *st;
	int fatal;                 /* -ENOMEM during pass 2 */
	struct infra_err *err;
};

const char *infra_kata_rename(const char *name, char *buf, size_t size)
{
	int n;

	if (!strncmp(name, "go_", 3) || !strncmp(name, "process_", 8))
		n = snprintf(buf, size, "kata_shim_%s", name);
	else
		n = snprintf(buf, size, "%s", name);
	return n >= 0 && (size_t)n < size ? buf : NULL;
}

struct infra_kata_merge *infra_kata_merge_new(struct infra_prom *p)
{
	struct infra_kata_merge *m = calloc(1, sizeof(*m));

	if (m)
		m->p = p;
	return m;
}

void infra_kata_merge_free(struct infra_kata_merge *m)
{
	if (!m)
		return;
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

/* pass 1: syntax check and this body's HELP/TYPE declarations */
static int pass1_cb(void *ud, const struct infra_prom_event *ev)
{
	struct body_ctx *c = ud;
	char nb[NAME_MAX_LEN];
	const char *name;
	struct fam *f;

	if (ev->kind != INFRA_PROM_EV_HELP && ev->kind != INFRA_PROM_EV_TYPE)
		return 0;
	name = infra_kata_rename(ev->name, nb, sizeof(nb));
	if (!name)
		return 0; /* an over-long name: its samples are refused in pass 2 */
	f = table_put(&c->local, name);
	if (!f)
		return -ENOMEM;
	if (ev->kind == INFRA_PROM_EV_HELP) {
		free(f->help);
		if (!(f->help = strdup(ev->text)))
			return -ENOMEM;
	} else {
		f->type = ev->type;
		f->typed = 1;
	}
	return 0;
}

/* Between the passes: reconcile this body's families with the merged ones. */
static int reconcile(struct body_ctx *c)
{
	struct infra_kata_merge *m = c->m;
	struct infra_err e = INFRA_ERR_INIT;

	for (size_t i = 0; i < c->local.cap; i++) {
		struct fam *l = c->local.slot[i], *g;
		int help_new = 0;

		if (!l)
			continue;
		c->st->families++;
		g = table_put(&m->global, l->name);
		if (!g)
			return -ENOMEM;
		if (l->typed && g->typed && l->type != g->type) {
			l->dropped = 1;
			c->st->type_conflicts++;
			problem(c->st, "family %s: TYPE %s differs from the one merged before: dropped",
				l->name, infra_prom_type_name(l->type));
			continue;
		}
		if (l->help) {
			if (!g->help) {
				if (!(g->help = strdup(l->help)))
					return -ENOMEM;
				help_new = 1;
			} else if (strcmp(g->help, l->help)) {
				c->st->help_conflicts++;
			}
		}
		if (l->typed && !g->typed) {
			if (infra_prom_family(m->p, l->name, l->type, g->help, &e)) {
				if (e.code == -ENOMEM)
					return -ENOMEM;
				l->dropped = 1;
				c->st->type_conflicts++;
				problem(c->st, "family %s: %s", l->name, e.msg);
				continue;
			}
			g->type = l->type;
			g->typed = 1;
			g->declared = 1;
		} else if (help_new && g->declared) {
			/* the family was declared without HELP; add the HELP now */
			if (infra_prom_family(m->p, g->name, g->type, g->help, &e) && e.code == -ENOMEM)
				return -ENOMEM;
		}
	}
	return 0;
}

static const struct fam *family_of(const struct table *t, const char *sample)
{
	static const char *const sufs[] = { "_bucket", "_sum", "_count" };
	char base[NAME_MAX_LEN];
	const struct fam *f = table_get(t, sample);
	size_t n = strlen(sample);

	if (f)
		return f;
	for (size_t i = 0; i < 3; i++) {
		size_t sn = strlen(sufs[i]);
		if (n <= sn || n - sn >= sizeof(base) || strcmp(sample + n - sn, sufs[i]))
			continue;
		memcpy(base, sample, n - sn);
		base[n - sn] = '\0';
		f = table_get(t, base);
		if (f && f->typed && (f->type == INFRA_PROM_HISTOGRAM ||
				      (f->type == INFRA_PROM_SUMMARY && i > 0)))
			return f;
	}
	return NULL;
}

static int is_extra(const char *const *extra, const char *name, size_t len)
{
	for (size_t i = 0; extra && extra[i]; i += 2)
		if (strlen(extra[i]) == len && !memcmp(extra[i], name, len))
			return 1;
	return 0;
}

/* pass 2: add the samples */
static int pass2_cb(void *ud, const struct infra_prom_event *ev)
{
	struct body_ctx *c = ud;
	const char *labels[2 * MAX_LABELS + 1];
	char lnames[MAX_LABELS][NAME_MAX_LEN];
	char nb[NAME_MAX_LEN];
	struct infra_err e = INFRA_ERR_INIT;
	const struct fam *f;
	const char *name;
	size_t k = 0;

	if (ev->kind != INFRA_PROM_EV_SAMPLE)
		return 0;
	name = infra_kata_rename(ev->name, nb, sizeof(nb));
	f = name ? family_of(&c->local, name) : NULL;
	if (!name || (f && f->dropped) || ev->nlabels + 4 > MAX_LABELS) {
		c->st->dropped_samples++;
		if (!name || !f || !f->dropped)
			problem(c->st, "sample %.200s: name too long or too many labels", ev->name);
		return 0;
	}
	for (size_t i = 0; i < ev->nlabels; i++) {
		const struct infra_prom_label *l = &ev->labels[i];
		if (is_extra(c->extra, l->name, l->name_len)) {
			snprintf(lnames[i], sizeof(lnames[i]), "exported_%.*s", (int)l->name_len, l->name);
			labels[k++] = lnames[i];
		} else {
			labels[k++] = l->name;
		}
		labels[k++] = l->value;
	}
	for (size_t i = 0; c->extra && c->extra[i]; i += 2) {
		labels[k++] = c->extra[i];
		labels[k++] = c->extra[i + 1];
	}
	labels[k] = NULL;
	if (infra_prom_add(c->m->p, name, labels, ev->value, &e)) {
		if (e.code == -ENOMEM) {
			c->fatal = -ENOMEM;
			return -ENOMEM;
		}
		c->st->dropped_samples++;
		problem(c->st, "%s", e.msg);
		return 0;
	}
	c->st->samples++;
	return 0;
}

int infra_kata_merge_body(struct infra_kata_merge *m, const char *body, size_t len,
			  const char *const *extra, struct infra_kata_merge_stats *stats,
			  struct infra_err *err)
{
	struct body_ctx c;
	int rc;

	memset(stats, 0, sizeof(*stats));
	memset(&c, 0, sizeof(c));
	c.m = m;
	c.extra = extra;
	c.st = stats;
	c.err = err;
	rc = infra_prom_parse(body, len, pass1_cb, &c, err);
	if (rc == -ENOMEM)
		infra_err_set(err, rc, "out of memory");
	if (!rc)
		rc = reconcile(&c);
	if (!rc) {
		rc = infra_prom_parse(body, len, pass2_cb, &c, err);
		if (c.fatal)
			rc = infra_err_set(err, c.fatal, "out of memory");
	}
	if (rc == -ENOMEM && err && !err->code)
		infra_err_set(err, rc, "out of memory");
	table_release(&c.local);
	return rc;
}

int infra_kata_merge_finish(struct infra_kata_merge *m, struct infra_err *err)
{
	for (size_t i = 0; i < m->global.cap; i++) {
		struct fam *g = m->global.slot[i];
		int rc;

		if (!g || g->typed || !g->help || !infra_prom_has_family(m->p, g->name))
			continue;
		rc = infra_prom_family(m->p, g->name, INFRA_PROM_UNTYPED, g->help, err);
		if (rc == -ENOMEM)
			return rc;
		g->declared = !rc;
	}
	return 0;
}
