/* infra_spot.c - GPU capacity per GPU type and pool from OpenStack (see infra_spot.h). */
#include "infra_spot.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infra_cache.h"
#include "infra_exit.h"
#include "infra_json.h"
#include "infra_report.h"

#define MV_AGG "compute 2.41"
#define MV_HYP "compute 2.53"
#define MV_SRV "compute 2.47"
#define MV_PLC "placement 1.14"

/* Placement inventories reused while the provider's generation is unchanged (see rp_cached_inventories) */
#define SPOT_INVENTORY_CACHE "placement-inventories"
#define SPOT_INVENTORY_TTL (24L * 3600)

const char *const infra_spot_source_names[SPOT_NSOURCES] = {
	"aggregates", "hypervisors", "placement", "servers", "netbox", "hyperstack", "runpod",
};

static char *xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* ------------------------------------------------------------ small rules */

void infra_spot_host_key(const char *name, char *out, size_t size)
{
	size_t n = 0;

	if (!size)
		return;
	for (const char *p = name ? name : ""; *p && *p != '.' && n + 1 < size; p++)
		out[n++] = (char)tolower((unsigned char)*p);
	out[n] = '\0';
}

int infra_spot_is_gpu_class(const char *rc, const struct infra_spot_opts *o)
{
	if (!rc)
		return 0;
	if (!strcmp(rc, "VGPU") || !strncmp(rc, "CUSTOM_PCI_", 11))
		return 1;
	for (size_t i = 0; o && i < o->ngpu_classes; i++)
		if (!strcmp(rc, o->gpu_classes[i]))
			return 1;
	return 0;
}

/* "a:2, b:1" -> 3; malformed parts count 0 */
static long alias_count(const char *s)
{
	long sum = 0;

	while (s && *s) {
		const char *colon = strchr(s, ':'), *comma = strchr(s, ',');
		while (*s == ' ')
			s++;
		if (colon && (!comma || colon < comma) && colon > s) { /* nova's [^:]+:\d+ */
			char *end;
			long v = strtol(colon + 1, &end, 10);
			if (end != colon + 1 && v > 0)
				sum += v;
		}
		s = comma ? comma + 1 : NULL;
	}
	return sum;
}

long infra_spot_flavor_gpus(json_object *specs, const struct infra_spot_opts *o)
{
	long sum = 0;

	if (!specs || !json_object_is_type(specs, json_type_object))
		return 0;
	json_object_object_foreach(specs, k, v) {
		const char *val = json_object_get_string(v);
		if (!strcmp(k, "pci_passthrough:alias")) {
			sum += alias_count(val);
		} else if (!strncmp(k, "resources", 9)) {
			const char *c = strchr(k, ':');
			if (c && infra_spot_is_gpu_class(c + 1, o)) {
				char *end;
				long n = val ? strtol(val, &end, 10) : 0;
				if (val && end != val && n > 0)
					sum += n;
			}
		}
	}
	return sum;
}

int infra_spot_map_aggregate(const char *name, json_object *md, const struct infra_spot_opts *o,
			     char **type, char **pool, struct infra_err *err)
{
	const char *tk = o && o->type_key ? o->type_key : "gpu_type";
	const char *pk = o && o->pool_key ? o->pool_key : "pool";
	const char *rx = o && o->name_regex ? o->name_regex : INFRA_SPOT_DEFAULT_REGEX;
	regmatch_t m[3];
	regex_t re;
	int rc;

	*type = *pool = NULL;
	if (*tk && *pk && md) {
		const char *t = infra_json_opt_string(md, tk, NULL), *p = infra_json_opt_string(md, pk, NULL);
		if (t && p && *t && *p) {
			*type = strdup(t);
			*pool = strdup(p);
			return *type && *pool ? 1 : -ENOMEM;
		}
	}
	if (!*rx || !name)
		return 0;
	if ((rc = regcomp(&re, rx, REG_EXTENDED))) {
		char msg[128];
		regerror(rc, &re, msg, sizeof msg);
		return infra_err_set(err, -EINVAL, "bad --aggregate-regex '%s': %s", rx, msg);
	}
	if (re.re_nsub < 2) {
		regfree(&re);
		return infra_err_set(err, -EINVAL, "bad --aggregate-regex '%s': it needs two groups (GPU type, pool)", rx);
	}
	rc = regexec(&re, name, 3, m, 0);
	regfree(&re);
	if (rc || m[1].rm_so < 0 || m[2].rm_so < 0 || m[1].rm_eo == m[1].rm_so || m[2].rm_eo == m[2].rm_so)
		return 0;
	*type = strndup(name + m[1].rm_so, (size_t)(m[1].rm_eo - m[1].rm_so));
	*pool = strndup(name + m[2].rm_so, (size_t)(m[2].rm_eo - m[2].rm_so));
	return *type && *pool ? 1 : -ENOMEM;
}

/* ------------------------------------------------------------ collection state */

struct rp {
	char *uuid, *name, *parent, *root;
	int children;
	int has_gpu;          /* GPU class inventory seen */
	double cap, used;
	char *classes;        /* GPU classes, comma-separated */
	int failed;
	long long gen;        /* generation in the provider list, -1 unknown */
	json_object *inv;     /* raw inventories (fetched, or reused while gen is unchanged) */
	int inv_fetched;      /* inv came from the live request (to be cached) */
};

struct srvq {                /* one host's servers chain */
	struct spot_ctx *c;
	size_t host;          /* index in c->hk */
};

struct hostacc {             /* per host key, before the result is built */
	char *key, *host;
	long vms, flavor_gpus;
	long srv_vms;         /* counted in this host's servers listing */
	int servers_ok;       /* servers listing (or its cached copy) read */
	int vms_ok;           /* vms known (hypervisor with_servers, or the servers listing) */
	int gpu;              /* a GPU provider of Placement belongs to the host */
	char *leak;           /* a server of another host came back for host= */
};

struct spot_ctx {
	struct infra_os *os;
	const struct infra_spot_opts *o;
	struct infra_spot_result *r;
	struct infra_http_batch *b;
	const char *compute, *placement;
	struct rp *rps;
	size_t nrps, caprps;
	json_object *hyps;     /* array of hypervisor objects */
	struct hostacc *hk;
	size_t nhk;
	struct srvq *sq;
	int fatal;
	struct infra_err fatal_err;
	double t0, tend[SPOT_NSOURCES];
	int pending[SPOT_NSOURCES];
	int depth_servers, depth_placement;
	json_object *stale[SPOT_NSOURCES]; /* the cached copy when not fresh (fallback) */
	double stale_age[SPOT_NSOURCES];
	json_object *fresh_servers;        /* servers from a fresh cache copy */
	json_object *invcache;             /* placement-inventories copy: {uuid: {generation, inventories}} */
	int inv_new;                       /* inventories fetched this run */
	struct hypx { char *hkey, *skey; json_object *hyp; } *hx; /* hypervisors by hypervisor_hostname key */
	size_t nhx;
	size_t rp_next;                    /* providers are queued a window at a time (rp_pump) */
};

/* ---- cache helpers ---- */

/* 1: a fresh copy is in *doc; 0: ask the source (c->stale[s] may hold the fallback). */
static int cache_try(struct spot_ctx *c, int s, json_object **doc)
{
	const struct infra_spot_opts *o = c->o;
	double age = -1;
	int rc;

	*doc = NULL;
	if (!o->cache)
		return 0;
	rc = infra_cache_get(o->cache, infra_spot_source_names[s], (o->refresh & (1u << s)) ? 0 : o->ttl[s], doc, &age, NULL);
	if (rc == 1) {
		c->r->src[s].cached = 1;
		c->r->src[s].cache_age = age;
		c->r->src[s].up = 1;
		return 1;
	}
	c->stale[s] = rc == 0 ? *doc : NULL;
	c->stale_age[s] = age;
	*doc = NULL;
	return 0;
}

static void cache_store_name(struct spot_ctx *c, const char *name, json_object *doc)
{
	if (c->o->cache && doc)
		infra_cache_put(c->o->cache, name, doc, NULL); /* a cache that cannot be written is no failure */
}

static void cache_store(struct spot_ctx *c, int s, json_object *doc)
{
	cache_store_name(c, infra_spot_source_names[s], doc);
}

/* The live source failed: take the stale copy when there is one (returns it, borrowed). */
static json_object *cache_fallback(struct spot_ctx *c, int s)
{
	if (!c->stale[s])
		return NULL;
	c->r->src[s].cached = 2;
	c->r->src[s].cache_age = c->stale_age[s];
	return c->stale[s];
}

static void src_fail(struct spot_ctx *c, int s, const char *msg)
{
	struct infra_spot_source_status *st = &c->r->src[s];
	if (!st->error)
		st->error = strdup(msg);
	st->up = 0;
}

static void src_step(struct spot_ctx *c, int s, int delta)
{
	c->pending[s] += delta;
	c->r->src[s].requests += delta > 0 ? delta : 0;
	if (delta > 0)
		c->r->requests += delta;
	if (!c->pending[s])
		c->tend[s] = infra_now_mono();
}

/* ---- aggregates ---- */

static void aggs_free(struct infra_spot_result *r)
{
	for (size_t i = 0; i < r->naggs; i++) {
		free(r->aggs[i].name);
		free(r->aggs[i].uuid);
		free(r->aggs[i].gpu_type);
		free(r->aggs[i].pool);
		for (size_t j = 0; j < r->aggs[i].nhosts; j++)
			free(r->aggs[i].hosts[j]);
		free(r->aggs[i].hosts);
	}
	free(r->aggs);
	r->aggs = NULL;
	r->naggs = 0;
}

static int agg_ingest(struct spot_ctx *c, json_object *arr, struct infra_err *err)
{
	struct infra_spot_result *r = c->r;
	size_t n = json_object_array_length(arr);

	aggs_free(r);

	r->aggs = calloc(n ? n : 1, sizeof *r->aggs);
	if (!r->aggs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_object *a = json_object_array_get_idx(arr, i), *hosts = NULL, *md = NULL;
		struct infra_spot_aggregate *g = &r->aggs[r->naggs];
		const char *name = infra_json_opt_string(a, "name", NULL);
		int rc;

		if (!name)
			continue;
		r->naggs++;
		g->name = strdup(name);
		g->uuid = xstrdup(infra_json_opt_string(a, "uuid", NULL));
		g->id = (long)infra_json_opt_int64(a, "id", -1);
		json_object_object_get_ex(a, "metadata", &md);
		rc = infra_spot_map_aggregate(name, md, c->o, &g->gpu_type, &g->pool, err);
		if (rc < 0)
			return rc;
		g->gpus_per_host = -1;
		if (md) {
			const char *gp = infra_json_opt_string(md, "gpus_per_host", NULL);
			long v;
			if (gp && !infra_parse_long(gp, 0, 1000000, &v))
				g->gpus_per_host = v;
		}
		if (json_object_object_get_ex(a, "hosts", &hosts) && json_object_is_type(hosts, json_type_array)) {
			size_t nh = json_object_array_length(hosts);
			g->hosts = calloc(nh ? nh : 1, sizeof *g->hosts);
			if (!g->hosts)
				return -ENOMEM;
			for (size_t j = 0; j < nh; j++) {
				const char *h = json_object_get_string(json_object_array_get_idx(hosts, j));
				if (h)
					g->hosts[g->nhosts++] = strdup(h);
			}
		}
	}
	return 0;
}

static int hk_cmp(const void *a, const void *b)
{
	return strcmp(((const struct hostacc *)a)->key, ((const struct hostacc *)b)->key);
}

static struct hostacc *hk_find(struct spot_ctx *c, const char *key)
{
	struct hostacc k = { .key = (char *)key };
	return c->nhk ? bsearch(&k, c->hk, c->nhk, sizeof *c->hk, hk_cmp) : NULL;
}

static int srv_item(void *ud, json_object *s)
{
	struct srvq *q = ud;
	struct spot_ctx *c = q->c;
	struct hostacc *h = &c->hk[q->host];
	const char *on = infra_json_opt_string(s, "OS-EXT-SRV-ATTR:host", NULL);
	const char *st = infra_json_opt_string(s, "status", "");
	json_object *specs = NULL;

	if (!on || strcmp(on, h->host)) {
		/* nova ignored host=: not an admin token (or a broken proxy); reported after the
		 * batch for the first such host by name, so the message does not depend on timing */
		h->leak = strdup(on ? on : "(no host attribute)");
		c->fatal = -EACCES;
		return 1;
	}
	if (!strcmp(st, "SHELVED_OFFLOADED") || !strcmp(st, "DELETED"))
		return 0;
	h->srv_vms++;
	if (infra_json_get(s, "flavor.extra_specs", &specs, NULL) == 0)
		h->flavor_gpus += infra_spot_flavor_gpus(specs, c->o);
	return 0;
}

static void srv_done(void *ud, int rc, const struct infra_err *err, int pages)
{
	struct srvq *q = ud;
	struct spot_ctx *c = q->c;

	if (pages > c->depth_servers)
		c->depth_servers = pages;
	c->r->src[SPOT_SRC_SERVERS].requests += pages > 1 ? pages - 1 : 0;
	c->r->requests += pages > 1 ? pages - 1 : 0;
	if (rc) {
		if (rc == -EPERM || rc == -EACCES) {
			c->fatal = -EACCES;
			infra_err_set(&c->fatal_err, -EACCES, "%s (spot-agg needs an admin token)", err->msg);
		}
		if (!c->hk[q->host].leak) /* a leak is reported once, by name, after the batch */
			src_fail(c, SPOT_SRC_SERVERS, err->msg);
	} else {
		struct hostacc *h = &c->hk[q->host];
		h->servers_ok = 1;
		if (!h->vms_ok) {
			h->vms = h->srv_vms;
			h->vms_ok = 1;
		}
	}
	src_step(c, SPOT_SRC_SERVERS, -1);
}

/* The pool hosts, once the aggregates are known: one accumulator per host key (NetBox
 * starts its lookup from here).  Their servers are asked later, and only where needed
 * (queue_servers). */
static void build_hosts(struct spot_ctx *c)
{
	struct infra_spot_result *r = c->r;
	size_t cap = 0, n = 0;

	for (size_t i = 0; i < r->naggs; i++)
		if (r->aggs[i].gpu_type)
			cap += r->aggs[i].nhosts;
	c->hk = calloc(cap ? cap : 1, sizeof *c->hk);
	c->sq = calloc(cap ? cap : 1, sizeof *c->sq);
	if (!c->hk || !c->sq) {
		c->fatal = -ENOMEM;
		return;
	}
	for (size_t i = 0; i < r->naggs; i++) {
		if (!r->aggs[i].gpu_type)
			continue;
		for (size_t j = 0; j < r->aggs[i].nhosts; j++) {
			char key[256];
			infra_spot_host_key(r->aggs[i].hosts[j], key, sizeof key);
			c->hk[c->nhk].key = strdup(key);
			c->hk[c->nhk].host = strdup(r->aggs[i].hosts[j]);
			c->nhk++;
		}
	}
	/* sorted by key, duplicates (a host in two pools) dropped: the first spelling stays */
	for (size_t i = 0; i < c->nhk; i++)
		c->hk[i].vms = (long)i; /* the order of appearance, for a stable choice */
	if (c->nhk) /* qsort(NULL, 0) is undefined (UBSan) */
		qsort(c->hk, c->nhk, sizeof *c->hk, hk_cmp);
	for (size_t i = 0; i < c->nhk; i++) {
		if (n && !strcmp(c->hk[n - 1].key, c->hk[i].key)) {
			struct hostacc *keep = &c->hk[n - 1], *h = &c->hk[i];
			if (h->vms < keep->vms) {
				char *t = keep->host;
				keep->host = h->host;
				h->host = t;
				keep->vms = h->vms;
			}
			free(h->key);
			free(h->host);
			continue;
		}
		c->hk[n++] = c->hk[i];
	}
	c->nhk = n;
	for (size_t i = 0; i < c->nhk; i++)
		c->hk[i].vms = 0;
	if (c->o->on_hosts) {
		const char **names = calloc(c->nhk ? c->nhk : 1, sizeof *names);
		for (size_t i = 0; names && i < c->nhk; i++)
			names[i] = c->hk[i].host;
		if (names)
			c->o->on_hosts(c->o->on_hosts_ud, names, c->nhk);
		free(names);
	}
}

/* After the first round: ask /servers/detail?all_tenants=1&host=X only for the pool hosts
 * that need it: no GPU provider in Placement (the flavor method sums their flavors), or
 * no VM count from the hypervisor listing (with_servers).  Returns how many were queued. */
static size_t queue_servers(struct spot_ctx *c)
{
	size_t n = 0;

	if (cache_try(c, SPOT_SRC_SERVERS, &c->fresh_servers)) {
		/* a fresh copy: the hosts it holds are taken from it, the others asked */
		for (size_t i = 0; i < c->nhk; i++) {
			struct hostacc *h = &c->hk[i];
			json_object *a;
			if ((h->gpu && h->vms_ok) || !json_object_object_get_ex(c->fresh_servers, h->key, &a) ||
			    !json_object_is_type(a, json_type_array) || json_object_array_length(a) != 2)
				continue;
			h->flavor_gpus = (long)json_object_get_int64(json_object_array_get_idx(a, 1));
			if (!h->vms_ok) {
				h->vms = (long)json_object_get_int64(json_object_array_get_idx(a, 0));
				h->vms_ok = 1;
			}
			h->servers_ok = 1;
		}
	}
	for (size_t i = 0; i < c->nhk; i++) {
		struct infra_os_list spec = { 0 };
		char url[1024], enc[600];

		if (!c->compute)
			break;
		if (c->hk[i].servers_ok || (c->hk[i].gpu && c->hk[i].vms_ok))
			continue;
		if (infra_os_urlencode(c->hk[i].host, enc, sizeof enc))
			continue;
		snprintf(url, sizeof url, "%s/servers/detail?all_tenants=1&host=%s", c->compute, enc);
		c->sq[i].c = c;
		c->sq[i].host = i;
		spec.url = url;
		spec.key = "servers";
		spec.mv = MV_SRV;
		spec.paging = INFRA_OS_PAGE_LINKS;
		spec.item = srv_item;
		spec.done = srv_done;
		spec.ud = &c->sq[i];
		src_step(c, SPOT_SRC_SERVERS, 1);
		n++;
		if (infra_os_list(c->os, c->b, &spec)) {
			src_fail(c, SPOT_SRC_SERVERS, "cannot queue a servers request");
			src_step(c, SPOT_SRC_SERVERS, -1);
		}
	}
	return n;
}

static void agg_done(void *ud, long status, json_object *body, const struct infra_http_resp *resp, int rc,
		     const struct infra_err *herr)
{
	struct spot_ctx *c = ud;
	struct infra_err err = INFRA_ERR_INIT;
	json_object *arr = NULL;
	char msg[INFRA_ERR_MSG_MAX + 64];

	(void)resp;
	if (rc) {
		src_fail(c, SPOT_SRC_AGGREGATES, herr->msg);
	} else if (status == 401 || status == 403) {
		const char *m = infra_os_error_message(body);
		infra_err_set(&c->fatal_err, -EACCES, "GET %s/os-aggregates: HTTP %ld%s%s (spot-agg needs an admin token)",
			      c->compute, status, m ? ": " : "", m ? m : "");
		c->fatal = -EACCES;
		src_fail(c, SPOT_SRC_AGGREGATES, c->fatal_err.msg);
	} else if (status != 200 || infra_json_get_array(body, "aggregates", &arr, &err)) {
		const char *m = status != 200 ? infra_os_error_message(body) : err.msg;
		snprintf(msg, sizeof msg, "GET %s/os-aggregates: HTTP %ld%s%s", c->compute, status, m ? ": " : "",
			 m ? m : "");
		src_fail(c, SPOT_SRC_AGGREGATES, msg);
	} else if ((rc = agg_ingest(c, arr, &err))) {
		if (rc == -EINVAL) {
			c->fatal = rc;
			c->fatal_err = err;
		}
		src_fail(c, SPOT_SRC_AGGREGATES, err.msg[0] ? err.msg : "out of memory");
	} else {
		c->r->src[SPOT_SRC_AGGREGATES].up = 1;
		cache_store(c, SPOT_SRC_AGGREGATES, arr);
		build_hosts(c);
	}
	if (!c->r->src[SPOT_SRC_AGGREGATES].up && !c->fatal && (arr = cache_fallback(c, SPOT_SRC_AGGREGATES)) &&
	    !agg_ingest(c, arr, &err)) {
		c->r->src[SPOT_SRC_AGGREGATES].up = 1;
		build_hosts(c);
	}
	src_step(c, SPOT_SRC_AGGREGATES, -1);
}

/* ---- hypervisors ---- */

/* with_servers=true (2.53+): nova lists the host's instances (name, uuid) in every
 * hypervisor entry (InstanceList.get_by_host: the non-deleted instances whose host is the
 * service host; shelved-offloaded ones have none).  Kept as a count, "spot_vms"; the
 * field is absent before 2.75 when the host has none. */
static int hyp_item(void *ud, json_object *h)
{
	struct spot_ctx *c = ud;
	json_object *sv = NULL, *o, *svc;
	long vms = 0;
	const char *f[] = { "hypervisor_hostname", "state", "status" };

	if (json_object_object_get_ex(h, "servers", &sv) && json_object_is_type(sv, json_type_array))
		vms = (long)json_object_array_length(sv);
	/* only what is used is kept (and cached): service.host, hypervisor_hostname, state, status */
	o = json_object_new_object();
	svc = json_object_new_object();
	if (!o || !svc) {
		json_object_put(o);
		json_object_put(svc);
		return 1;
	}
	for (size_t i = 0; i < sizeof f / sizeof *f; i++) {
		const char *v = infra_json_opt_string(h, f[i], NULL);
		if (v)
			json_object_object_add(o, f[i], json_object_new_string(v));
	}
	if (infra_json_opt_string(h, "service.host", NULL))
		json_object_object_add(svc, "host", json_object_new_string(infra_json_opt_string(h, "service.host", NULL)));
	json_object_object_add(o, "service", svc);
	json_object_object_add(o, "spot_vms", json_object_new_int64(vms));
	return json_object_array_add(c->hyps, o) ? 1 : 0;
}

static void hyp_done(void *ud, int rc, const struct infra_err *err, int pages)
{
	struct spot_ctx *c = ud;

	c->r->src[SPOT_SRC_HYPERVISORS].requests += pages > 1 ? pages - 1 : 0;
	c->r->requests += pages > 1 ? pages - 1 : 0;
	if (rc) {
		json_object *st;
		src_fail(c, SPOT_SRC_HYPERVISORS, err->msg);
		if ((st = cache_fallback(c, SPOT_SRC_HYPERVISORS))) {
			json_object_put(c->hyps);
			c->hyps = json_object_get(st);
			c->r->src[SPOT_SRC_HYPERVISORS].up = 1;
		}
	} else {
		c->r->src[SPOT_SRC_HYPERVISORS].up = 1;
		cache_store(c, SPOT_SRC_HYPERVISORS, c->hyps);
	}
	src_step(c, SPOT_SRC_HYPERVISORS, -1);
}

/* ---- placement ---- */

struct rpq {
	struct spot_ctx *c;
	size_t i;
	int what; /* 0 inventories, 1 usages */
};

static void add_class(struct rp *p, const char *rc)
{
	size_t n = p->classes ? strlen(p->classes) : 0;
	char *s;

	if (p->classes) {
		const char *q = p->classes;
		size_t l = strlen(rc);
		while ((q = strstr(q, rc))) {
			if ((q == p->classes || q[-1] == ',') && (q[l] == ',' || !q[l]))
				return;
			q += l;
		}
	}
	s = realloc(p->classes, n + strlen(rc) + 2);
	if (!s)
		return;
	if (n)
		s[n++] = ',';
	memcpy(s + n, rc, strlen(rc) + 1);
	p->classes = s;
}

/* Capacity exactly as Placement computes it: (total - reserved) x allocation_ratio, per GPU class. */
static void rp_apply_inventories(struct spot_ctx *c, struct rp *p, json_object *inv)
{
	p->cap = 0;
	json_object_object_foreach(inv, rcname, v) {
		double total, reserved, ratio;
		if (!infra_spot_is_gpu_class(rcname, c->o))
			continue;
		if (json_object_is_type(v, json_type_array)) { /* the kept copy: [total, reserved, ratio] */
			total = json_object_get_double(json_object_array_get_idx(v, 0));
			reserved = json_object_get_double(json_object_array_get_idx(v, 1));
			ratio = json_object_array_length(v) > 2 ? json_object_get_double(json_object_array_get_idx(v, 2)) : 1.0;
		} else {
			total = infra_json_opt_double(v, "total", 0);
			reserved = infra_json_opt_double(v, "reserved", 0);
			ratio = infra_json_opt_double(v, "allocation_ratio", 1.0);
		}
		p->cap += (total - reserved) * ratio;
		p->has_gpu = 1;
		add_class(p, rcname);
	}
}

static void rp_pump(struct spot_ctx *c);

static void rp_part_done(void *ud, long status, json_object *body, const struct infra_http_resp *resp, int rc,
			 const struct infra_err *herr)
{
	struct rpq *q = ud;
	struct spot_ctx *c = q->c;
	struct rp *p = &c->rps[q->i];
	json_object *obj;
	char msg[INFRA_ERR_MSG_MAX + 64];

	(void)resp;
	if (rc || status != 200 ||
	    !json_object_object_get_ex(body, q->what ? "usages" : "inventories", &obj) ||
	    !json_object_is_type(obj, json_type_object)) {
		const char *m = rc ? herr->msg : infra_os_error_message(body);
		snprintf(msg, sizeof msg, "GET %s/resource_providers/%s/%s: %s%ld%s%s", c->placement, p->uuid,
			 q->what ? "usages" : "inventories", rc ? "" : "HTTP ", rc ? 0L : status, m ? ": " : "",
			 m ? m : (status == 200 ? ": malformed body" : ""));
		p->failed = 1;
		src_fail(c, SPOT_SRC_PLACEMENT, msg);
	} else if (q->what) {
		json_object_object_foreach(obj, rcname, v) {
			if (infra_spot_is_gpu_class(rcname, c->o))
				p->used += json_object_get_double(v);
		}
	} else {
		rp_apply_inventories(c, p, obj);
		if (p->inv)
			json_object_put(p->inv);
		p->inv = json_object_get(obj);
		p->gen = infra_json_opt_int64(body, "resource_provider_generation", -1);
		p->inv_fetched = 1;
		c->inv_new = 1;
	}
	free(q);
	rp_pump(c);
	src_step(c, SPOT_SRC_PLACEMENT, -1);
}

/* The inventories of a provider are configuration, and Placement bumps the provider's
 * generation on every inventory change (set, update, delete); so a copy taken at
 * generation G is still exact while the provider list says G.  (Allocations bump it too,
 * but not every allocation change does - DELETE /allocations/{consumer} leaves it - so
 * usages are always asked.) */
static json_object *rp_cached_inventories(struct spot_ctx *c, const struct rp *p)
{
	json_object *e, *inv;

	if (!c->invcache || p->gen < 0 || !json_object_object_get_ex(c->invcache, p->uuid, &e) ||
	    !json_object_is_type(e, json_type_array) || json_object_array_length(e) != 2 ||
	    !json_object_is_type(json_object_array_get_idx(e, 0), json_type_int) ||
	    json_object_get_int64(json_object_array_get_idx(e, 0)) != p->gen)
		return NULL;
	inv = json_object_array_get_idx(e, 1);
	return json_object_is_type(inv, json_type_object) ? inv : NULL;
}

static void rp_queue(struct spot_ctx *c, size_t i)
{
	json_object *inv = rp_cached_inventories(c, &c->rps[i]);

	if (inv) {
		rp_apply_inventories(c, &c->rps[i], inv);
		c->rps[i].inv = json_object_get(inv);
	}
	for (int w = inv ? 1 : 0; w < 2; w++) {
		struct rpq *q = malloc(sizeof *q);
		char url[1024];

		if (!q) {
			c->fatal = -ENOMEM;
			return;
		}
		q->c = c;
		q->i = i;
		q->what = w;
		snprintf(url, sizeof url, "%s/resource_providers/%s/%s", c->placement, c->rps[i].uuid,
			 w ? "usages" : "inventories");
		src_step(c, SPOT_SRC_PLACEMENT, 1);
		if (infra_os_batch_request(c->os, c->b, "GET", url, MV_PLC, NULL, rp_part_done, q)) {
			free(q);
			src_fail(c, SPOT_SRC_PLACEMENT, "cannot queue a placement request");
			src_step(c, SPOT_SRC_PLACEMENT, -1);
		}
	}
}

/* Queue the usages (and inventories) of the next providers - every child provider and every
 * root without children - while fewer than 4 x -j placement requests are outstanding: the
 * batch stays full without thousands of queued requests (memory, allocator churn). */
static void rp_pump(struct spot_ctx *c)
{
	int window = 4 * (c->o->jobs > 0 ? c->o->jobs : 8);

	while (c->rp_next < c->nrps && c->pending[SPOT_SRC_PLACEMENT] < window && !c->fatal) {
		size_t i = c->rp_next++;
		if (c->rps[i].parent || !c->rps[i].children)
			rp_queue(c, i);
	}
}

static int rp_cmp(const void *a, const void *b)
{
	return strcmp(((const struct rp *)a)->uuid, ((const struct rp *)b)->uuid);
}

static struct rp *rp_find(struct spot_ctx *c, const char *uuid)
{
	struct rp k = { .uuid = (char *)uuid };
	return uuid && c->nrps ? bsearch(&k, c->rps, c->nrps, sizeof *c->rps, rp_cmp) : NULL;
}

static void rps_done(void *ud, long status, json_object *body, const struct infra_http_resp *resp, int rc,
		     const struct infra_err *herr)
{
	struct spot_ctx *c = ud;
	json_object *arr;
	char msg[INFRA_ERR_MSG_MAX + 64];
	size_t n;

	(void)resp;
	if (rc || status != 200 || !json_object_object_get_ex(body, "resource_providers", &arr) ||
	    !json_object_is_type(arr, json_type_array)) {
		const char *m = rc ? herr->msg : infra_os_error_message(body);
		if (status == 401 || status == 403) {
			c->fatal = -EACCES;
			infra_err_set(&c->fatal_err, -EACCES, "GET %s/resource_providers: HTTP %ld%s%s (spot-agg needs an admin token)",
				      c->placement, status, m ? ": " : "", m ? m : "");
		}
		snprintf(msg, sizeof msg, "GET %s/resource_providers: %s%ld%s%s", c->placement, rc ? "" : "HTTP ",
			 rc ? 0L : status, m ? ": " : "", m ? m : (status == 200 ? ": malformed body" : ""));
		src_fail(c, SPOT_SRC_PLACEMENT, msg);
		src_step(c, SPOT_SRC_PLACEMENT, -1);
		return;
	}
	n = json_object_array_length(arr);
	c->rps = calloc(n ? n : 1, sizeof *c->rps);
	if (!c->rps) {
		c->fatal = -ENOMEM;
		src_step(c, SPOT_SRC_PLACEMENT, -1);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(arr, i);
		const char *u = infra_json_opt_string(o, "uuid", NULL), *name = infra_json_opt_string(o, "name", NULL);
		struct rp *p = &c->rps[c->nrps];
		if (!u || !name)
			continue;
		p->uuid = strdup(u);
		p->name = strdup(name);
		p->parent = xstrdup(infra_json_opt_string(o, "parent_provider_uuid", NULL));
		p->root = strdup(infra_json_opt_string(o, "root_provider_uuid", u));
		p->gen = infra_json_opt_int64(o, "generation", -1);
		c->nrps++;
	}
	if (c->nrps)
		qsort(c->rps, c->nrps, sizeof *c->rps, rp_cmp);
	for (size_t i = 0; i < c->nrps; i++) {
		struct rp *root = rp_find(c, c->rps[i].root);
		if (root && root != &c->rps[i])
			root->children++;
	}
	c->rp_next = 0;
	rp_pump(c);
	c->r->src[SPOT_SRC_PLACEMENT].up = 1; /* until a part fails */
	src_step(c, SPOT_SRC_PLACEMENT, -1);
}

/* placement and servers as cached documents */
static void rps_free(struct spot_ctx *c)
{
	for (size_t i = 0; i < c->nrps; i++) {
		free(c->rps[i].uuid);
		free(c->rps[i].name);
		free(c->rps[i].parent);
		free(c->rps[i].root);
		free(c->rps[i].classes);
		if (c->rps[i].inv)
			json_object_put(c->rps[i].inv);
	}
	free(c->rps);
	c->rps = NULL;
	c->nrps = 0;
}

static json_object *rps_to_doc(struct spot_ctx *c)
{
	json_object *a = json_object_new_array();

	/* one array a provider (cheaper to parse than objects):
	 * [uuid, name, parent|null, root, gpu, capacity, used, classes|null] */
	for (size_t i = 0; a && i < c->nrps; i++) {
		struct rp *p = &c->rps[i];
		json_object *o = json_object_new_array_ext(8);
		json_object_array_add(o, json_object_new_string(p->uuid));
		json_object_array_add(o, json_object_new_string(p->name));
		json_object_array_add(o, p->parent ? json_object_new_string(p->parent) : NULL);
		json_object_array_add(o, json_object_new_string(p->root));
		json_object_array_add(o, json_object_new_boolean(p->has_gpu));
		json_object_array_add(o, json_object_new_double(p->cap));
		json_object_array_add(o, json_object_new_double(p->used));
		json_object_array_add(o, p->classes ? json_object_new_string(p->classes) : NULL);
		json_object_array_add(a, o);
	}
	return a;
}

static int rps_from_doc(struct spot_ctx *c, json_object *a)
{
	size_t n = json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;

	rps_free(c);
	c->rps = calloc(n ? n : 1, sizeof *c->rps);
	if (!c->rps)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(a, i);
		const char *u, *nm;
		struct rp *p = &c->rps[c->nrps];
		if (json_object_is_type(o, json_type_array)) { /* rps_to_doc's form */
			json_object *x[8];
			if (json_object_array_length(o) != 8)
				continue;
			for (int k = 0; k < 8; k++)
				x[k] = json_object_array_get_idx(o, (size_t)k);
			if (!json_object_is_type(x[0], json_type_string) || !json_object_is_type(x[1], json_type_string) ||
			    !json_object_is_type(x[3], json_type_string))
				continue;
			p->uuid = strdup(json_object_get_string(x[0]));
			p->name = strdup(json_object_get_string(x[1]));
			p->parent = x[2] ? strdup(json_object_get_string(x[2])) : NULL;
			p->root = strdup(json_object_get_string(x[3]));
			p->has_gpu = json_object_get_boolean(x[4]);
			p->cap = json_object_get_double(x[5]);
			p->used = json_object_get_double(x[6]);
			p->classes = x[7] ? strdup(json_object_get_string(x[7])) : NULL;
			p->gen = -1;
			c->nrps++;
			continue;
		}
		u = infra_json_opt_string(o, "uuid", NULL);
		nm = infra_json_opt_string(o, "name", NULL);
		if (!u || !nm)
			continue;
		p->uuid = strdup(u);
		p->name = strdup(nm);
		p->parent = xstrdup(infra_json_opt_string(o, "parent", NULL));
		p->root = strdup(infra_json_opt_string(o, "root", u));
		{	/* written as a JSON boolean (infra_json_opt_int64 takes no boolean: every
			 * provider read back from a fresh copy used to lose its GPUs) */
			json_object *g = NULL;
			p->has_gpu = json_object_object_get_ex(o, "gpu", &g) && json_object_get_boolean(g);
		}
		p->cap = infra_json_opt_double(o, "capacity", 0);
		p->used = infra_json_opt_double(o, "used", 0);
		p->classes = xstrdup(infra_json_opt_string(o, "classes", NULL));
		c->nrps++;
	}
	if (c->nrps)
		qsort(c->rps, c->nrps, sizeof *c->rps, rp_cmp);
	return 0;
}

/* placement-inventories: every provider's inventories (every class, whatever --gpu-class
 * says next time) with the generation they were read at:
 * {uuid: [generation, {RC: [total, reserved, allocation_ratio]}]} */
static json_object *invs_to_doc(struct spot_ctx *c)
{
	json_object *d = json_object_new_object();

	for (size_t i = 0; d && i < c->nrps; i++) {
		struct rp *p = &c->rps[i];
		json_object *e, *inv;
		if (!p->inv || p->gen < 0 || p->failed)
			continue;
		inv = json_object_new_object();
		json_object_object_foreach(p->inv, rcname, v) {
			json_object *t;
			if (json_object_is_type(v, json_type_array)) {
				json_object_object_add(inv, rcname, json_object_get(v));
				continue;
			}
			t = json_object_new_array_ext(3);
			json_object_array_add(t, json_object_new_double(infra_json_opt_double(v, "total", 0)));
			json_object_array_add(t, json_object_new_double(infra_json_opt_double(v, "reserved", 0)));
			json_object_array_add(t, json_object_new_double(infra_json_opt_double(v, "allocation_ratio", 1.0)));
			json_object_object_add(inv, rcname, t);
		}
		e = json_object_new_array_ext(2);
		json_object_array_add(e, json_object_new_int64(p->gen));
		json_object_array_add(e, inv);
		json_object_object_add(d, p->uuid, e);
	}
	return d;
}

static json_object *servers_to_doc(struct spot_ctx *c)
{
	json_object *d = json_object_new_object();

	for (size_t i = 0; d && i < c->nhk; i++) {
		json_object *a;
		if (!c->hk[i].servers_ok)
			continue;
		a = json_object_new_array();
		json_object_array_add(a, json_object_new_int64(c->hk[i].vms));
		json_object_array_add(a, json_object_new_int64(c->hk[i].flavor_gpus));
		json_object_object_add(d, c->hk[i].key, a);
	}
	return d;
}

/* fill hosts not asked (fresh copy) or failed (stale copy) from doc; returns how many are still unknown */
static size_t servers_from_doc(struct spot_ctx *c, json_object *d)
{
	size_t missing = 0;

	for (size_t i = 0; i < c->nhk; i++) {
		json_object *a;
		if (c->hk[i].servers_ok || (c->hk[i].gpu && c->hk[i].vms_ok))
			continue;
		if (d && json_object_object_get_ex(d, c->hk[i].key, &a) && json_object_is_type(a, json_type_array) &&
		    json_object_array_length(a) == 2) {
			if (!c->hk[i].vms_ok) {
				c->hk[i].vms = (long)json_object_get_int64(json_object_array_get_idx(a, 0));
				c->hk[i].vms_ok = 1;
			}
			c->hk[i].flavor_gpus = (long)json_object_get_int64(json_object_array_get_idx(a, 1));
			c->hk[i].servers_ok = 1;
		} else {
			missing++;
		}
	}
	return missing;
}

/* ---- hosts after the first round ---- */

static int hx_cmp(const void *a, const void *b)
{
	return strcmp(((const struct hypx *)a)->hkey, ((const struct hypx *)b)->hkey);
}

static const struct hypx *hx_find(const struct spot_ctx *c, const char *hkey)
{
	struct hypx k = { .hkey = (char *)hkey };
	return c->nhx ? bsearch(&k, c->hx, c->nhx, sizeof *c->hx, hx_cmp) : NULL;
}

static void hx_free(struct spot_ctx *c)
{
	for (size_t i = 0; i < c->nhx; i++) {
		free(c->hx[i].hkey);
		free(c->hx[i].skey);
	}
	free(c->hx);
	c->hx = NULL;
	c->nhx = 0;
}

/* The hypervisors by the key of hypervisor_hostname (the name of the Placement root
 * provider), with the key of their service host (the aggregates' name). */
static int hx_build(struct spot_ctx *c)
{
	size_t nh = c->hyps ? json_object_array_length(c->hyps) : 0;
	char key[256];

	hx_free(c);
	c->hx = calloc(nh ? nh : 1, sizeof *c->hx);
	if (!c->hx)
		return -ENOMEM;
	for (size_t i = 0; i < nh; i++) {
		json_object *o = json_object_array_get_idx(c->hyps, i);
		const char *sh = infra_json_opt_string(o, "service.host", NULL);
		const char *hh = infra_json_opt_string(o, "hypervisor_hostname", NULL);
		struct hypx *x = &c->hx[c->nhx];
		if (!sh)
			continue;
		infra_spot_host_key(hh ? hh : sh, key, sizeof key);
		x->hkey = strdup(key);
		infra_spot_host_key(sh, key, sizeof key);
		x->skey = strdup(key);
		x->hyp = o;
		if (!x->hkey || !x->skey) {
			free(x->hkey);
			free(x->skey);
			return -ENOMEM;
		}
		c->nhx++;
	}
	if (c->nhx)
		qsort(c->hx, c->nhx, sizeof *c->hx, hx_cmp);
	return 0;
}

/* The service host key a provider tree belongs to (its root's name through the hypervisors). */
static const char *rp_host_key(struct spot_ctx *c, const struct rp *p, char *key, size_t size, json_object **hyp)
{
	struct rp *root = rp_find(c, p->root);
	const struct hypx *x;

	infra_spot_host_key(root ? root->name : p->name, key, size);
	x = hx_find(c, key);
	if (hyp)
		*hyp = x ? x->hyp : NULL;
	return x ? x->skey : key;
}

/* After the first round: VMs per pool host from the hypervisor listing, and which hosts
 * have GPU providers in Placement (the others take the flavor method). */
static void hosts_mark(struct spot_ctx *c)
{
	char key[256];

	for (size_t i = 0; i < c->nhx; i++) {
		json_object *v;
		struct hostacc *h = hk_find(c, c->hx[i].skey);
		long n;
		if (!h || !json_object_object_get_ex(c->hx[i].hyp, "spot_vms", &v))
			continue;
		/* nodes of one service host (ironic) each list all the host's instances */
		n = (long)json_object_get_int64(v);
		if (!h->vms_ok || n > h->vms)
			h->vms = n;
		h->vms_ok = 1;
	}
	for (size_t i = 0; i < c->nrps; i++) {
		struct hostacc *h;
		if (!c->rps[i].has_gpu)
			continue;
		h = hk_find(c, rp_host_key(c, &c->rps[i], key, sizeof key, NULL));
		if (h)
			h->gpu = 1;
	}
}

/* ------------------------------------------------------------ result */

void infra_spot_result_init(struct infra_spot_result *r)
{
	memset(r, 0, sizeof *r);
	for (int s = 0; s < SPOT_NSOURCES; s++)
		r->src[s].cache_age = -1;
}

void infra_spot_result_release(struct infra_spot_result *r)
{
	aggs_free(r);
	for (size_t i = 0; i < r->nhosts; i++) {
		struct infra_spot_host *h = &r->hosts[i];
		free(h->key);
		free(h->host);
		free(h->hypervisor);
		free(h->aggregate);
		free(h->gpu_type);
		free(h->pool);
		free(h->conflict);
		free(h->gpu_classes);
		free(h->site);
		free(h->rack);
		free(h->tenant);
	}
	free(r->hosts);
	for (size_t i = 0; i < r->npools; i++) {
		free(r->pools[i].gpu_type);
		free(r->pools[i].pool);
	}
	free(r->pools);
	for (size_t i = 0; i < r->next; i++) {
		free(r->ext[i].provider);
		free(r->ext[i].gpu_type);
		free(r->ext[i].state);
	}
	free(r->ext);
	for (int s = 0; s < SPOT_NSOURCES; s++)
		free(r->src[s].error);
	infra_spot_result_init(r);
}

static int host_cmp(const void *a, const void *b)
{
	return strcmp(((const struct infra_spot_host *)a)->key, ((const struct infra_spot_host *)b)->key);
}

static struct infra_spot_host *host_get(struct infra_spot_result *r, const char *key, const char *shown, size_t *cap)
{
	for (size_t i = 0; i < r->nhosts; i++) /* callers keep r->nhosts small per call (join below sorts) */
		if (!strcmp(r->hosts[i].key, key))
			return &r->hosts[i];
	if (r->nhosts == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		struct infra_spot_host *n = realloc(r->hosts, nc * sizeof *n);
		if (!n)
			return NULL;
		r->hosts = n;
		*cap = nc;
	}
	struct infra_spot_host *h = &r->hosts[r->nhosts++];
	memset(h, 0, sizeof *h);
	h->key = strdup(key);
	h->host = strdup(shown);
	h->state_up = h->enabled = -1;
	h->gpus_total = -1;
	h->vms = -1;
	h->method = "placement";
	return h;
}

static long per_type_total(const struct infra_spot_opts *o, const char *type)
{
	size_t tl = type ? strlen(type) : 0;

	for (size_t i = 0; o && type && i < o->ngpus_per_host; i++) {
		const char *s = o->gpus_per_host[i];
		long v;
		if (!strncmp(s, type, tl) && s[tl] == '=' && !infra_parse_long(s + tl + 1, 0, 1000000, &v))
			return v;
	}
	return -1;
}

/* Build r->hosts from what was collected. */
static int join(struct spot_ctx *c)
{
	struct infra_spot_result *r = c->r;
	size_t cap = 0;
	char key[256];
	struct infra_spot_host *h;

	/* 1. pool aggregates: every host of them (hash-free: hosts are few thousand, sorted after) */
	for (size_t i = 0; i < c->nhk; i++) {
		if (r->nhosts == cap) {
			cap = cap ? cap * 2 : 64;
			h = realloc(r->hosts, cap * sizeof *h);
			if (!h)
				goto nomem;
			r->hosts = h;
		}
		h = &r->hosts[r->nhosts++];
		memset(h, 0, sizeof *h);
		h->key = strdup(c->hk[i].key);
		h->host = strdup(c->hk[i].host);
		h->state_up = h->enabled = -1;
		h->gpus_total = -1;
		h->vms = c->hk[i].vms_ok ? c->hk[i].vms : -1;
		h->method = "placement";
		h->in_pool_aggregate = 1;
	}
	if (r->nhosts) /* qsort(NULL, 0) is undefined (UBSan) */
		qsort(r->hosts, r->nhosts, sizeof *r->hosts, host_cmp);
	for (size_t i = 0; i < r->naggs; i++) {
		struct infra_spot_aggregate *g = &r->aggs[i];
		if (!g->gpu_type)
			continue;
		for (size_t j = 0; j < g->nhosts; j++) {
			struct infra_spot_host k;
			infra_spot_host_key(g->hosts[j], key, sizeof key);
			k.key = key;
			h = r->nhosts ? bsearch(&k, r->hosts, r->nhosts, sizeof *h, host_cmp) : NULL;
			if (!h)
				continue;
			if (!h->aggregate) {
				h->aggregate = strdup(g->name);
				h->gpu_type = strdup(g->gpu_type);
				h->pool = strdup(g->pool);
			} else if (strcmp(h->gpu_type, g->gpu_type) || strcmp(h->pool, g->pool)) {
				size_t l = (h->conflict ? strlen(h->conflict) : strlen(h->aggregate)) + strlen(g->name) + 2;
				char *s = malloc(l);
				if (!s)
					goto nomem;
				snprintf(s, l, "%s,%s", h->conflict ? h->conflict : h->aggregate, g->name);
				free(h->conflict);
				h->conflict = s;
				if (strcmp(g->name, h->aggregate) < 0) { /* counted in the first by name */
					free(h->aggregate);
					free(h->gpu_type);
					free(h->pool);
					h->aggregate = strdup(g->name);
					h->gpu_type = strdup(g->gpu_type);
					h->pool = strdup(g->pool);
				}
			}
		}
	}
	/* 2. hypervisors: state/status, hypervisor_hostname -> service host key */
	for (size_t i = 0; i < c->nhx; i++) {
		json_object *o = c->hx[i].hyp;
		const char *hh = infra_json_opt_string(o, "hypervisor_hostname", NULL);
		struct infra_spot_host k;
		k.key = c->hx[i].skey;
		h = r->nhosts ? bsearch(&k, r->hosts, r->nhosts, sizeof *h, host_cmp) : NULL; /* bsearch(NULL, 0): UBSan */
		if (!h)
			continue;
		h->state_up = !strcmp(infra_json_opt_string(o, "state", ""), "up");
		h->enabled = !strcmp(infra_json_opt_string(o, "status", ""), "enabled");
		free(h->hypervisor);
		h->hypervisor = xstrdup(hh);
	}
	/* 3. placement: roll GPU providers up to their root, root name -> host */
	{
		size_t base = r->nhosts, extra_cap = 0;
		struct infra_spot_host *extra = NULL;
		size_t nextra = 0;

		for (size_t i = 0; i < c->nrps; i++) {
			struct rp *p = &c->rps[i], *root;
			json_object *hy = NULL;
			struct infra_spot_host k;
			if (!p->has_gpu)
				continue;
			root = rp_find(c, p->root);
			k.key = (char *)rp_host_key(c, p, key, sizeof key, &hy);
			h = base ? bsearch(&k, r->hosts, base, sizeof *h, host_cmp) : NULL;
			if (!h) { /* GPUs on a host of no pool: kept aside, reported unmapped */
				struct infra_spot_result tmp = { .hosts = extra, .nhosts = nextra };
				h = host_get(&tmp, k.key, hy ? infra_json_opt_string(hy, "service.host", k.key) : root ? root->name : p->name,
					     &extra_cap);
				extra = tmp.hosts;
				nextra = tmp.nhosts;
				if (!h)
					goto nomem;
				if (hy && !h->hypervisor) {
					h->state_up = !strcmp(infra_json_opt_string(hy, "state", ""), "up");
					h->enabled = !strcmp(infra_json_opt_string(hy, "status", ""), "enabled");
					h->hypervisor = xstrdup(infra_json_opt_string(hy, "hypervisor_hostname", NULL));
				}
			}
			if (h->gpus_total < 0)
				h->gpus_total = 0;
			h->gpus_total += p->cap;
			h->gpus_used += p->used;
			h->has_gpus = 1;
			if (p->classes) {
				struct rp t = { .classes = h->gpu_classes };
				char *s = strdup(p->classes), *save = NULL;
				for (char *tok = s ? strtok_r(s, ",", &save) : NULL; tok; tok = strtok_r(NULL, ",", &save))
					add_class(&t, tok);
				free(s);
				h->gpu_classes = t.classes;
			}
		}
		if (nextra) {
			struct infra_spot_host *n = realloc(r->hosts, (r->nhosts + nextra) * sizeof *n);
			if (!n) {
				free(extra);
				goto nomem;
			}
			r->hosts = n;
			memcpy(r->hosts + r->nhosts, extra, nextra * sizeof *extra);
			r->nhosts += nextra;
			free(extra);
		}
	}
	/* 4. flavor fallback for pool hosts without GPU providers */
	for (size_t i = 0; i < r->nhosts; i++) {
		struct hostacc *a;
		h = &r->hosts[i];
		if (h->has_gpus || !h->in_pool_aggregate)
			continue;
		h->method = "flavor";
		a = hk_find(c, h->key);
		h->gpus_used = a ? (double)a->flavor_gpus : 0;
		h->gpus_total = per_type_total(c->o, h->gpu_type);
		if (h->gpus_total < 0)
			for (size_t j = 0; j < r->naggs; j++)
				if (h->aggregate && !strcmp(r->aggs[j].name, h->aggregate) && r->aggs[j].gpus_per_host >= 0)
					h->gpus_total = (double)r->aggs[j].gpus_per_host;
		h->has_gpus = h->gpus_used > 0 || h->gpus_total > 0;
	}
	/* unmapped hosts of hypervisors with GPUs found only in flavors are not listed (no servers asked) */
	if (r->nhosts)
		qsort(r->hosts, r->nhosts, sizeof *r->hosts, host_cmp);
	return infra_spot_totals(r);
nomem:
	return -ENOMEM;
}

static int pool_cmp(const void *a, const void *b)
{
	const struct infra_spot_pool *x = a, *y = b;
	int d = strcmp(x->gpu_type, y->gpu_type);
	return d ? d : strcmp(x->pool, y->pool);
}

int infra_spot_totals(struct infra_spot_result *r)
{
	for (size_t i = 0; i < r->npools; i++) {
		free(r->pools[i].gpu_type);
		free(r->pools[i].pool);
	}
	free(r->pools);
	r->pools = NULL;
	r->npools = 0;
	r->unmapped = r->conflicts = 0;
	for (size_t i = 0; i < r->nhosts; i++) {
		struct infra_spot_host *h = &r->hosts[i];
		struct infra_spot_pool *p = NULL;
		if (h->conflict)
			r->conflicts++;
		if (!h->gpu_type) {
			if (h->has_gpus)
				r->unmapped++;
			continue;
		}
		for (size_t j = 0; j < r->npools && !p; j++)
			if (!strcmp(r->pools[j].gpu_type, h->gpu_type) && !strcmp(r->pools[j].pool, h->pool))
				p = &r->pools[j];
		if (!p) {
			struct infra_spot_pool *n = realloc(r->pools, (r->npools + 1) * sizeof *n);
			if (!n)
				return -ENOMEM;
			r->pools = n;
			p = &r->pools[r->npools++];
			memset(p, 0, sizeof *p);
			p->gpu_type = strdup(h->gpu_type);
			p->pool = strdup(h->pool);
			p->total_known = 1;
		}
		p->hosts++;
		if (h->state_up == 1 && h->enabled == 1)
			p->hosts_up++;
		if (h->vms > 0)
			p->vms += h->vms;
		p->gpus_used += h->gpus_used;
		if (h->gpus_total >= 0) {
			p->gpus_total += h->gpus_total;
			p->gpus_free += h->gpus_total > h->gpus_used ? h->gpus_total - h->gpus_used : 0;
		} else {
			p->total_known = 0;
		}
	}
	if (r->npools)
		qsort(r->pools, r->npools, sizeof *r->pools, pool_cmp);
	return 0;
}

int infra_spot_add_external(struct infra_spot_result *r, const char *provider, const char *gpu_type,
			    const char *state, long gpus)
{
	struct infra_spot_external *n;

	for (size_t i = 0; i < r->next; i++)
		if (!strcmp(r->ext[i].provider, provider) && !strcmp(r->ext[i].gpu_type, gpu_type) &&
		    !strcmp(r->ext[i].state, state)) {
			r->ext[i].gpus += gpus;
			return 0;
		}
	n = realloc(r->ext, (r->next + 1) * sizeof *n);
	if (!n)
		return -ENOMEM;
	r->ext = n;
	n = &r->ext[r->next++];
	n->provider = strdup(provider);
	n->gpu_type = strdup(gpu_type);
	n->state = strdup(state);
	n->gpus = gpus;
	return n->provider && n->gpu_type && n->state ? 0 : -ENOMEM;
}

/* ------------------------------------------------------------ collect */

int infra_spot_collect(struct infra_os *os, const struct infra_spot_opts *o, struct infra_spot_result *r,
		       struct infra_err *err)
{
	struct spot_ctx c = { 0 };
	struct infra_os_list spec = { 0 };
	char url[1024];
	int rc = 0;
	char *t = NULL, *p = NULL;
	json_object *doc = NULL;

	c.os = os;
	c.o = o;
	c.r = r;
	/* the options are checked before any request */
	if ((rc = infra_spot_map_aggregate("x-y", NULL, o, &t, &p, err)) < 0)
		return rc;
	free(t);
	free(p);
	if (!infra_os_is_admin(os))
		return infra_err_set(err, -EACCES,
				     "the token has no admin role: nova would ignore host= and hide other projects' servers, "
				     "so the numbers would be wrong (use an admin account)");
	for (int s = SPOT_SRC_AGGREGATES; s <= SPOT_SRC_SERVERS; s++)
		r->src[s].used = 1;
	if ((rc = infra_os_endpoint(os, "compute", &c.compute, err)))
		return rc;
	c.placement = infra_os_catalog_url(os, "placement");
	c.hyps = json_object_new_array();
	c.b = infra_http_batch_new(infra_os_http(os), o->jobs > 0 ? o->jobs : 8);
	if (!c.b || !c.hyps) {
		rc = -ENOMEM;
		goto out;
	}
	c.t0 = infra_now_mono();
	if (cache_try(&c, SPOT_SRC_AGGREGATES, &doc)) {
		rc = agg_ingest(&c, doc, err);
		json_object_put(doc);
		if (rc)
			goto out;
		build_hosts(&c);
	} else {
		snprintf(url, sizeof url, "%s/os-aggregates", c.compute);
		src_step(&c, SPOT_SRC_AGGREGATES, 1);
		if (infra_os_batch_request(os, c.b, "GET", url, MV_AGG, NULL, agg_done, &c))
			src_step(&c, SPOT_SRC_AGGREGATES, -1);
	}
	snprintf(url, sizeof url, "%s/os-hypervisors/detail?with_servers=true", c.compute);
	spec.url = url;
	spec.key = "hypervisors";
	spec.mv = MV_HYP;
	spec.paging = INFRA_OS_PAGE_LINKS;
	spec.item = hyp_item;
	spec.done = hyp_done;
	spec.ud = &c;
	if (cache_try(&c, SPOT_SRC_HYPERVISORS, &doc)) {
		json_object_put(c.hyps);
		c.hyps = doc;
	} else {
		src_step(&c, SPOT_SRC_HYPERVISORS, 1);
		if (infra_os_list(os, c.b, &spec))
			src_step(&c, SPOT_SRC_HYPERVISORS, -1);
	}
	if (cache_try(&c, SPOT_SRC_PLACEMENT, &doc)) {
		rc = rps_from_doc(&c, doc);
		json_object_put(doc);
		if (rc)
			goto out;
	} else if (c.placement) {
		if (o->cache && !(o->refresh & (1u << SPOT_SRC_PLACEMENT)) &&
		    infra_cache_get(o->cache, SPOT_INVENTORY_CACHE, SPOT_INVENTORY_TTL, &doc, NULL, NULL) == 1)
			c.invcache = doc;
		doc = NULL;
		snprintf(url, sizeof url, "%s/resource_providers", c.placement);
		src_step(&c, SPOT_SRC_PLACEMENT, 1);
		if (infra_os_batch_request(os, c.b, "GET", url, MV_PLC, NULL, rps_done, &c))
			src_step(&c, SPOT_SRC_PLACEMENT, -1);
	} else {
		src_fail(&c, SPOT_SRC_PLACEMENT, "the catalog has no placement endpoint");
	}
	/* round 1: aggregates, hypervisor pages, providers -> their usages (and inventories) */
	if ((rc = infra_http_batch_run(c.b, err)))
		goto out;
	if (!c.fatal) {
		if (r->src[SPOT_SRC_PLACEMENT].error) {
			r->src[SPOT_SRC_PLACEMENT].up = 0;
			if ((doc = cache_fallback(&c, SPOT_SRC_PLACEMENT)) && !rps_from_doc(&c, doc))
				r->src[SPOT_SRC_PLACEMENT].up = 1;
		} else if (!r->src[SPOT_SRC_PLACEMENT].cached && c.nrps) {
			doc = rps_to_doc(&c);
			cache_store(&c, SPOT_SRC_PLACEMENT, doc);
			json_object_put(doc);
			if (c.inv_new && (doc = invs_to_doc(&c))) {
				cache_store_name(&c, SPOT_INVENTORY_CACHE, doc);
				json_object_put(doc);
			}
		}
		if ((rc = hx_build(&c)))
			goto out;
		hosts_mark(&c);
		/* round 2: servers of the hosts that need them (flavor method, or no VM count) */
		if (c.hk && queue_servers(&c) && (rc = infra_http_batch_run(c.b, err)))
			goto out;
	}
	for (size_t i = 0; i < c.nhk; i++)
		if (c.hk[i].leak) {
			infra_err_set(&c.fatal_err, -EACCES,
				      "GET servers/detail?host=%s returned a server on %s: the token is not admin, numbers would be wrong",
				      c.hk[i].host, c.hk[i].leak);
			break;
		}
	if (c.fatal) {
		rc = c.fatal;
		if (c.fatal_err.msg[0])
			*err = c.fatal_err;
		else
			infra_err_set(err, rc, "out of memory");
		goto out;
	}
	for (int s = SPOT_SRC_AGGREGATES; s <= SPOT_SRC_SERVERS; s++) {
		r->src[s].seconds = c.tend[s] > c.t0 ? c.tend[s] - c.t0 : 0;
		if (!r->src[s].error && s == SPOT_SRC_SERVERS)
			r->src[s].up = r->src[SPOT_SRC_AGGREGATES].up;
	}
	if (r->src[SPOT_SRC_SERVERS].error) {
		if ((doc = cache_fallback(&c, SPOT_SRC_SERVERS)) && !servers_from_doc(&c, doc))
			r->src[SPOT_SRC_SERVERS].up = 1;
	} else if (r->src[SPOT_SRC_SERVERS].requests) {
		doc = servers_to_doc(&c);
		cache_store(&c, SPOT_SRC_SERVERS, doc);
		json_object_put(doc);
	}
	if (!r->src[SPOT_SRC_AGGREGATES].up && !r->src[SPOT_SRC_SERVERS].error)
		src_fail(&c, SPOT_SRC_SERVERS, "not asked: the aggregates are unknown");
	{	/* auth, then the longest chain of round 1 (aggregates; hypervisor pages; providers ->
		 * usages/inventories), then round 2's servers pages (sources taken from a fresh
		 * cache copy make no request) */
		int agg = r->src[SPOT_SRC_AGGREGATES].cached == 1 ? 0 : 1, plc = r->src[SPOT_SRC_PLACEMENT].requests > 1 ? 2 :
			  r->src[SPOT_SRC_PLACEMENT].requests, hyp = r->src[SPOT_SRC_HYPERVISORS].requests;
		int round1 = agg > plc ? agg : plc;
		if (hyp > round1)
			round1 = hyp;
		r->critical_path = 1 + round1 + c.depth_servers;
	}
	rc = join(&c);
	if (rc)
		infra_err_set(err, rc, "out of memory");
out:
	infra_http_batch_free(c.b);
	if (c.hyps)
		json_object_put(c.hyps);
	rps_free(&c);
	for (int s = 0; s < SPOT_NSOURCES; s++)
		if (c.stale[s])
			json_object_put(c.stale[s]);
	if (c.fresh_servers)
		json_object_put(c.fresh_servers);
	if (c.invcache)
		json_object_put(c.invcache);
	hx_free(&c);
	for (size_t i = 0; i < c.nhk; i++) {
		free(c.hk[i].key);
		free(c.hk[i].host);
		free(c.hk[i].leak);
	}
	free(c.hk);
	free(c.sq);
	return rc;
}

/* ------------------------------------------------------------ writers */

static json_object *num_or_null(double v)
{
	return v < 0 || isnan(v) ? NULL : (v == floor(v) && fabs(v) < 1e15 ? json_object_new_int64((int64_t)v)
									   : json_object_new_double(v));
}

static json_object *str_or_null(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

json_object *infra_spot_to_json(const struct infra_spot_result *r)
{
	json_object *d = json_object_new_object(), *pools = json_object_new_array(),
		    *hosts = json_object_new_array(), *ext = json_object_new_array(),
		    *srcs = json_object_new_array(), *unm = json_object_new_array(),
		    *conf = json_object_new_array();

	for (size_t i = 0; i < r->npools; i++) {
		const struct infra_spot_pool *p = &r->pools[i];
		json_object *o = json_object_new_object();
		json_object_object_add(o, "gpu_type", json_object_new_string(p->gpu_type));
		json_object_object_add(o, "pool", json_object_new_string(p->pool));
		json_object_object_add(o, "gpus_total", p->total_known ? num_or_null(p->gpus_total) : NULL);
		json_object_object_add(o, "gpus_used", num_or_null(p->gpus_used));
		json_object_object_add(o, "gpus_free", p->total_known ? num_or_null(p->gpus_free) : NULL);
		json_object_object_add(o, "hosts", json_object_new_int64(p->hosts));
		json_object_object_add(o, "hosts_up", json_object_new_int64(p->hosts_up));
		json_object_object_add(o, "vms", json_object_new_int64(p->vms));
		json_object_array_add(pools, o);
	}
	for (size_t i = 0; i < r->nhosts; i++) {
		const struct infra_spot_host *h = &r->hosts[i];
		json_object *o = json_object_new_object();
		double fr = h->gpus_total >= 0 ? (h->gpus_total > h->gpus_used ? h->gpus_total - h->gpus_used : 0) : -1;
		json_object_object_add(o, "host", json_object_new_string(h->host));
		json_object_object_add(o, "hypervisor_hostname", str_or_null(h->hypervisor));
		json_object_object_add(o, "aggregate", str_or_null(h->aggregate));
		json_object_object_add(o, "gpu_type", str_or_null(h->gpu_type));
		json_object_object_add(o, "pool", str_or_null(h->pool));
		json_object_object_add(o, "method", json_object_new_string(h->method));
		json_object_object_add(o, "gpu_classes", str_or_null(h->gpu_classes));
		json_object_object_add(o, "gpus_total", num_or_null(h->gpus_total));
		json_object_object_add(o, "gpus_used", num_or_null(h->gpus_used));
		json_object_object_add(o, "gpus_free", num_or_null(fr));
		json_object_object_add(o, "vms", h->vms >= 0 ? json_object_new_int64(h->vms) : NULL);
		json_object_object_add(o, "up", h->state_up >= 0 ? json_object_new_boolean(h->state_up) : NULL);
		json_object_object_add(o, "enabled", h->enabled >= 0 ? json_object_new_boolean(h->enabled) : NULL);
		json_object_object_add(o, "site", str_or_null(h->site));
		json_object_object_add(o, "rack", str_or_null(h->rack));
		json_object_object_add(o, "tenant", str_or_null(h->tenant));
		if (h->conflict) {
			json_object_object_add(o, "conflict", json_object_new_string(h->conflict));
			json_object_array_add(conf, json_object_new_string(h->host));
		}
		if (!h->gpu_type && h->has_gpus)
			json_object_array_add(unm, json_object_new_string(h->host));
		json_object_array_add(hosts, o);
	}
	for (size_t i = 0; i < r->next; i++) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "provider", json_object_new_string(r->ext[i].provider));
		json_object_object_add(o, "gpu_type", json_object_new_string(r->ext[i].gpu_type));
		json_object_object_add(o, "state", json_object_new_string(r->ext[i].state));
		json_object_object_add(o, "gpus", json_object_new_int64(r->ext[i].gpus));
		json_object_array_add(ext, o);
	}
	for (int s = 0; s < SPOT_NSOURCES; s++) {
		const struct infra_spot_source_status *st = &r->src[s];
		json_object *o;
		if (!st->used)
			continue;
		o = json_object_new_object();
		json_object_object_add(o, "source", json_object_new_string(infra_spot_source_names[s]));
		json_object_object_add(o, "up", json_object_new_boolean(st->up));
		json_object_object_add(o, "cache", json_object_new_string(st->cached == 1 ? "hit" : st->cached == 2 ? "stale" : "live"));
		json_object_object_add(o, "duration_seconds", json_object_new_double(st->seconds));
		json_object_object_add(o, "cache_age_seconds", st->cache_age >= 0 ? json_object_new_double(st->cache_age) : NULL);
		json_object_object_add(o, "requests", json_object_new_int(st->requests));
		json_object_object_add(o, "cache_hits", json_object_new_int64((int64_t)st->cache_hits));
		json_object_object_add(o, "cache_misses", json_object_new_int64((int64_t)st->cache_misses));
		json_object_object_add(o, "error", str_or_null(st->error));
		json_object_array_add(srcs, o);
	}
	if (!r->src[SPOT_SRC_AGGREGATES].up) {
		/* without the aggregates no pool is known: null, not lists that read as "none" */
		json_object_put(pools);
		json_object_put(unm);
		json_object_put(conf);
		pools = unm = conf = NULL;
	}
	if (!r->src[SPOT_SRC_AGGREGATES].up && !r->src[SPOT_SRC_HYPERVISORS].up && !r->src[SPOT_SRC_PLACEMENT].up) {
		json_object_put(hosts); /* no source of hosts could be read */
		hosts = NULL;
	}
	json_object_object_add(d, "pools", pools);
	json_object_object_add(d, "hosts", hosts);
	json_object_object_add(d, "unmapped_hosts", unm);
	json_object_object_add(d, "conflicting_hosts", conf);
	json_object_object_add(d, "external", ext);
	json_object_object_add(d, "sources", srcs);
	json_object_object_add(d, "requests", json_object_new_int(r->requests));
	json_object_object_add(d, "critical_path_requests", json_object_new_int(r->critical_path));
	return d;
}

static int fam(struct infra_prom *p, const char *name, const char *help, struct infra_err *err)
{
	return infra_prom_family(p, name, INFRA_PROM_GAUGE, help, err);
}

int infra_spot_to_prom(const struct infra_spot_result *r, struct infra_prom *p, struct infra_err *err)
{
	int rc = 0;

	rc = rc ? rc : fam(p, "spot_agg_gpus", "GPUs per GPU type, pool and state (used, free), from Placement or flavors", err);
	rc = rc ? rc : fam(p, "spot_agg_gpu_capacity", "GPU capacity per GPU type and pool: Placement's (total - reserved) x allocation_ratio, or configured for the flavor method", err);
	rc = rc ? rc : fam(p, "spot_agg_hosts", "Compute hosts per GPU type and pool", err);
	rc = rc ? rc : fam(p, "spot_agg_hosts_up", "Compute hosts per GPU type and pool that are up and enabled", err);
	rc = rc ? rc : fam(p, "spot_agg_vms", "Servers on the hosts of a GPU type and pool", err);
	for (size_t i = 0; !rc && i < r->npools; i++) {
		const struct infra_spot_pool *q = &r->pools[i];
		rc = infra_prom_addl(p, "spot_agg_gpus", q->gpus_used, err, "gpu_type", q->gpu_type, "pool", q->pool, "state", "used", NULL);
		if (!rc && q->total_known)
			rc = infra_prom_addl(p, "spot_agg_gpus", q->gpus_free, err, "gpu_type", q->gpu_type, "pool", q->pool, "state", "free", NULL);
		if (!rc && q->total_known)
			rc = infra_prom_addl(p, "spot_agg_gpu_capacity", q->gpus_total, err, "gpu_type", q->gpu_type, "pool", q->pool, NULL);
		rc = rc ? rc : infra_prom_addl(p, "spot_agg_hosts", (double)q->hosts, err, "gpu_type", q->gpu_type, "pool", q->pool, NULL);
		rc = rc ? rc : infra_prom_addl(p, "spot_agg_hosts_up", (double)q->hosts_up, err, "gpu_type", q->gpu_type, "pool", q->pool, NULL);
		rc = rc ? rc : infra_prom_addl(p, "spot_agg_vms", (double)q->vms, err, "gpu_type", q->gpu_type, "pool", q->pool, NULL);
	}
	rc = rc ? rc : fam(p, "spot_agg_host_gpus", "GPUs of one host by state (used, free)", err);
	rc = rc ? rc : fam(p, "spot_agg_host_vms", "Servers on one host", err);
	rc = rc ? rc : fam(p, "spot_agg_host_up", "1 when the host's hypervisor is up and enabled", err);
	rc = rc ? rc : fam(p, "spot_agg_host_pool_info", "The pool of a host and how its numbers were found (method placement or flavor)", err);
	rc = rc ? rc : fam(p, "spot_agg_host_info", "Where a host stands in NetBox (empty when unknown)", err);
	for (size_t i = 0; !rc && i < r->nhosts; i++) {
		const struct infra_spot_host *h = &r->hosts[i];
		rc = infra_prom_addl(p, "spot_agg_host_gpus", h->gpus_used, err, "host", h->host, "state", "used", NULL);
		if (!rc && h->gpus_total >= 0)
			rc = infra_prom_addl(p, "spot_agg_host_gpus", h->gpus_total > h->gpus_used ? h->gpus_total - h->gpus_used : 0,
					     err, "host", h->host, "state", "free", NULL);
		if (!rc && h->vms >= 0)
			rc = infra_prom_addl(p, "spot_agg_host_vms", (double)h->vms, err, "host", h->host, NULL);
		if (!rc && h->state_up >= 0)
			rc = infra_prom_addl(p, "spot_agg_host_up", h->state_up == 1 && h->enabled == 1, err, "host", h->host, NULL);
		rc = rc ? rc : infra_prom_addl(p, "spot_agg_host_pool_info", 1, err, "host", h->host, "aggregate",
					       h->aggregate ? h->aggregate : "", "gpu_type", h->gpu_type ? h->gpu_type : "",
					       "pool", h->pool ? h->pool : "", "method", h->method, NULL);
		rc = rc ? rc : infra_prom_addl(p, "spot_agg_host_info", 1, err, "host", h->host, "site", h->site ? h->site : "",
					       "rack", h->rack ? h->rack : "", "tenant", h->tenant ? h->tenant : "", NULL);
	}
	rc = rc ? rc : fam(p, "spot_agg_unmapped_hosts", "Hosts with GPUs in no pool aggregate", err);
	rc = rc ? rc : fam(p, "spot_agg_conflicting_hosts", "Hosts in two pool aggregates (counted in the first by name)", err);
	if (r->src[SPOT_SRC_AGGREGATES].up) { /* absent, not 0, when the aggregates could not be read */
		rc = rc ? rc : infra_prom_addl(p, "spot_agg_unmapped_hosts", (double)r->unmapped, err, NULL);
		rc = rc ? rc : infra_prom_addl(p, "spot_agg_conflicting_hosts", (double)r->conflicts, err, NULL);
	}
	if (r->next)
		rc = rc ? rc : fam(p, "spot_agg_external_gpus", "GPUs rented in or out on external clouds by provider, GPU type and state", err);
	for (size_t i = 0; !rc && i < r->next; i++)
		rc = infra_prom_addl(p, "spot_agg_external_gpus", (double)r->ext[i].gpus, err, "provider", r->ext[i].provider,
				     "gpu_type", r->ext[i].gpu_type, "state", r->ext[i].state, NULL);
	rc = rc ? rc : fam(p, "spot_agg_source_up", "1 when the source's data is there (live or from its cache)", err);
	rc = rc ? rc : fam(p, "spot_agg_source_duration_seconds", "Time the source's live requests took", err);
	rc = rc ? rc : fam(p, "spot_agg_source_cache_age_seconds", "Age of the cached copy used for the source (absent when live)", err);
	rc = rc ? rc : fam(p, "spot_agg_source_requests", "HTTP requests made for the source in this run", err);
	rc = rc ? rc : fam(p, "spot_agg_source_cache_hits", "Fresh cache copies used for the source in this run", err);
	rc = rc ? rc : fam(p, "spot_agg_source_cache_misses", "Cache lookups for the source that found no fresh copy in this run", err);
	for (int s = 0; !rc && s < SPOT_NSOURCES; s++) {
		const struct infra_spot_source_status *st = &r->src[s];
		const char *n = infra_spot_source_names[s];
		if (!st->used)
			continue;
		rc = infra_prom_addl(p, "spot_agg_source_up", st->up, err, "source", n, NULL);
		rc = rc ? rc : infra_prom_addl(p, "spot_agg_source_duration_seconds", st->seconds, err, "source", n, NULL);
		rc = rc ? rc : infra_prom_addl(p, "spot_agg_source_requests", st->requests, err, "source", n, NULL);
		if (!rc && st->cached)
			rc = infra_prom_addl(p, "spot_agg_source_cache_age_seconds", st->cache_age, err, "source", n, NULL);
		rc = rc ? rc : infra_prom_addl(p, "spot_agg_source_cache_hits", (double)st->cache_hits, err, "source", n, NULL);
		rc = rc ? rc : infra_prom_addl(p, "spot_agg_source_cache_misses", (double)st->cache_misses, err, "source", n, NULL);
	}
	return rc;
}

static void fmt_num(char *buf, size_t n, double v, int known)
{
	if (!known || v < 0)
		snprintf(buf, n, "?");
	else
		infra_prom_format_value(v, buf, n);
}

int infra_spot_to_text(const struct infra_spot_result *r, struct infra_buf *out)
{
	char a[32], b[32], c[32];

	infra_buf_printf(out, "%-10s %-12s %6s %6s %6s %6s %6s\n", "GPU TYPE", "POOL", "TOTAL", "USED", "FREE", "HOSTS", "VMS");
	for (size_t i = 0; i < r->npools; i++) {
		const struct infra_spot_pool *p = &r->pools[i];
		fmt_num(a, sizeof a, p->gpus_total, p->total_known);
		fmt_num(b, sizeof b, p->gpus_used, 1);
		fmt_num(c, sizeof c, p->gpus_free, p->total_known);
		infra_buf_printf(out, "%-10s %-12s %6s %6s %6s %6ld %6ld\n", p->gpu_type, p->pool, a, b, c, p->hosts, p->vms);
	}
	if (!r->src[SPOT_SRC_AGGREGATES].up)
		infra_buf_puts(out, "(pools unknown: the aggregates could not be read)\n");
	else if (!r->npools)
		infra_buf_puts(out, "(no pool aggregates found)\n");
	if (r->next) {
		infra_buf_printf(out, "\n%-12s %-14s %-8s %6s\n", "PROVIDER", "GPU TYPE", "STATE", "GPUS");
		for (size_t i = 0; i < r->next; i++)
			infra_buf_printf(out, "%-12s %-14s %-8s %6ld\n", r->ext[i].provider, r->ext[i].gpu_type, r->ext[i].state,
					 r->ext[i].gpus);
	}
	if (r->nhosts) {
		infra_buf_printf(out, "\n%-24s %-16s %-9s %5s %5s %4s %-5s %s\n", "HOST", "AGGREGATE", "METHOD", "USED", "FREE",
				 "VMS", "STATE", "SITE/RACK/TENANT");
		for (size_t i = 0; i < r->nhosts; i++) {
			const struct infra_spot_host *h = &r->hosts[i];
			char v[32];
			fmt_num(b, sizeof b, h->gpus_used, 1);
			fmt_num(c, sizeof c, h->gpus_total > h->gpus_used ? h->gpus_total - h->gpus_used : 0, h->gpus_total >= 0);
			fmt_num(v, sizeof v, (double)h->vms, h->vms >= 0);
			infra_buf_printf(out, "%-24s %-16s %-9s %5s %5s %4s %-5s %s/%s/%s%s%s\n", h->host,
					 h->aggregate ? h->aggregate : "(none)", h->method, b, c, v,
					 h->state_up < 0 ? "?" : h->state_up && h->enabled ? "up" : h->state_up ? "dis" : "down",
					 h->site ? h->site : "-", h->rack ? h->rack : "-", h->tenant ? h->tenant : "-",
					 h->conflict ? "  CONFLICT " : "", h->conflict ? h->conflict : "");
		}
	}
	for (int s = 0; s < SPOT_NSOURCES; s++) {
		const struct infra_spot_source_status *st = &r->src[s];
		if (!st->used)
			continue;
		if (st->error && st->cached == 2)
			infra_buf_printf(out, "source %s FAILED, stale cache used (%.0f s old): %s\n", infra_spot_source_names[s],
					 st->cache_age, st->error);
		else if (st->error)
			infra_buf_printf(out, "source %s FAILED: %s\n", infra_spot_source_names[s], st->error);
	}
	return 0;
}

/* ------------------------------------------------------------ move */

static void step(struct infra_spot_move_result *res, const char *action, const char *agg, const char *host,
		 const char *result)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "action", json_object_new_string(action));
	json_object_object_add(o, "aggregate", json_object_new_string(agg));
	json_object_object_add(o, "host", json_object_new_string(host));
	json_object_object_add(o, "result", json_object_new_string(result));
	json_object_array_add(res->steps, o);
}

static int agg_action(struct infra_os *os, const char *compute, long id, const char *action, const char *host,
		      struct infra_err *err)
{
	json_object *body = json_object_new_object(), *arg = json_object_new_object(), *resp = NULL;
	char url[1024];
	long status = 0;
	int rc;

	json_object_object_add(arg, "host", json_object_new_string(host));
	json_object_object_add(body, action, arg);
	snprintf(url, sizeof url, "%s/os-aggregates/%ld/action", compute, id);
	rc = infra_os_request(os, "POST", url, MV_AGG, json_object_to_json_string(body), &status, &resp, err);
	json_object_put(body);
	if (!rc && status != 200) {
		const char *m = infra_os_error_message(resp);
		rc = infra_err_set(err, status == 404 ? -ENOENT : status == 409 ? -EEXIST : -EPROTO,
				   "POST %s {\"%s\"}: HTTP %ld%s%s", url, action, status, m ? ": " : "", m ? m : "");
	}
	if (resp)
		json_object_put(resp);
	return rc;
}

static int in_agg(const struct infra_spot_aggregate *g, const char *host, const char **exact)
{
	char k1[256], k2[256];

	infra_spot_host_key(host, k1, sizeof k1);
	for (size_t i = 0; i < g->nhosts; i++) {
		infra_spot_host_key(g->hosts[i], k2, sizeof k2);
		if (!strcmp(k1, k2)) {
			if (exact)
				*exact = g->hosts[i];
			return 1;
		}
	}
	return 0;
}

static int count_vms(struct infra_os *os, const char *compute, const char *host, long *vms, struct infra_err *err)
{
	char url[1024], enc[600];
	json_object *body = NULL, *arr;
	long status = 0;
	int rc;

	*vms = 0;
	if (infra_os_urlencode(host, enc, sizeof enc))
		return infra_err_set(err, -EINVAL, "host name too long");
	snprintf(url, sizeof url, "%s/servers/detail?all_tenants=1&host=%s&limit=1000", compute, enc);
	if ((rc = infra_os_request(os, "GET", url, MV_SRV, NULL, &status, &body, err)))
		return rc;
	if (status != 200 || infra_json_get_array(body, "servers", &arr, NULL)) {
		const char *m = infra_os_error_message(body);
		rc = infra_err_set(err, status == 403 ? -EACCES : -EPROTO, "GET %s: HTTP %ld%s%s", url, status, m ? ": " : "",
				   m ? m : "");
	} else {
		for (size_t i = 0; i < json_object_array_length(arr); i++) {
			json_object *s = json_object_array_get_idx(arr, i);
			const char *on = infra_json_opt_string(s, "OS-EXT-SRV-ATTR:host", NULL);
			if (!on || strcmp(on, host)) {
				rc = infra_err_set(err, -EACCES, "GET %s returned a server on another host: the token is not admin", url);
				break;
			}
			if (strcmp(infra_json_opt_string(s, "status", ""), "SHELVED_OFFLOADED"))
				(*vms)++;
		}
	}
	if (body)
		json_object_put(body);
	return rc;
}

int infra_spot_move(struct infra_os *os, const struct infra_spot_opts *o, const struct infra_spot_move_opts *m,
		    struct infra_spot_move_result *res, struct infra_err *err)
{
	struct infra_spot_result r;
	struct spot_ctx c = { 0 };
	const char *compute, *exact = m->host;
	json_object *body = NULL, *arr;
	struct infra_spot_aggregate *to = NULL, *from_named = NULL;
	struct infra_spot_aggregate **from = NULL;
	size_t nfrom = 0;
	char url[1024];
	long status = 0;
	int rc, added = 0;

	memset(res, 0, sizeof *res);
	res->steps = json_object_new_array();
	infra_spot_result_init(&r);
	if (!infra_os_is_admin(os))
		return infra_err_set(err, -EACCES, "the token has no admin role: moving hosts between aggregates needs one");
	if ((rc = infra_os_endpoint(os, "compute", &compute, err)))
		return rc;
	snprintf(url, sizeof url, "%s/os-aggregates", compute);
	if ((rc = infra_os_request(os, "GET", url, MV_AGG, NULL, &status, &body, err)))
		return rc;
	if (status != 200 || infra_json_get_array(body, "aggregates", &arr, err)) {
		const char *msg = infra_os_error_message(body);
		rc = infra_err_set(err, status == 403 || status == 401 ? -EACCES : -EPROTO, "GET %s: HTTP %ld%s%s", url, status,
				   msg ? ": " : "", msg ? msg : "");
		goto out;
	}
	c.o = o;
	c.r = &r;
	if ((rc = agg_ingest(&c, arr, err)))
		goto out;
	for (size_t i = 0; i < r.naggs; i++) {
		if (!strcmp(r.aggs[i].name, m->to))
			to = &r.aggs[i];
		if (m->from && !strcmp(r.aggs[i].name, m->from))
			from_named = &r.aggs[i];
	}
	if (!to) {
		rc = infra_err_set(err, -ENOENT, "no aggregate named '%s'", m->to);
		goto out;
	}
	if (m->from && !from_named) {
		rc = infra_err_set(err, -ENOENT, "no aggregate named '%s'", m->from);
		goto out;
	}
	if (m->from && from_named == to) {
		rc = infra_err_set(err, -EINVAL, "--from and --to name the same aggregate '%s'", m->to);
		goto out;
	}
	from = calloc(r.naggs ? r.naggs : 1, sizeof *from);
	if (!from) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < r.naggs; i++) {
		struct infra_spot_aggregate *g = &r.aggs[i];
		if (g == to || !in_agg(g, m->host, &exact))
			continue;
		if (m->from ? g == from_named : g->gpu_type != NULL)
			from[nfrom++] = g;
	}
	in_agg(to, m->host, &exact);
	if (!in_agg(to, m->host, NULL) || nfrom) {
		if ((rc = count_vms(os, compute, exact, &res->vms, err)))
			goto out;
		if (res->vms && !m->allow_busy) {
			rc = infra_err_set(err, -EBUSY, "host %s has %ld server%s: not moved (--allow-busy moves it anyway)", exact,
					   res->vms, res->vms == 1 ? "" : "s");
			goto out;
		}
	}
	if (in_agg(to, m->host, NULL)) {
		step(res, "add_host", to->name, exact, "already a member");
	} else if (m->dry_run) {
		step(res, "add_host", to->name, exact, "would add (dry run)");
	} else if ((rc = agg_action(os, compute, to->id, "add_host", exact, err))) {
		step(res, "add_host", to->name, exact, err->msg);
		res->action_failed = 1;
		goto out;
	} else {
		step(res, "add_host", to->name, exact, "added");
		added = 1;
		res->changed = 1;
	}
	if (m->from && !nfrom)
		step(res, "remove_host", m->from, exact, "not a member");
	for (size_t i = 0; i < nfrom; i++) {
		struct infra_err e2 = INFRA_ERR_INIT;
		if (m->dry_run) {
			step(res, "remove_host", from[i]->name, exact, "would remove (dry run)");
			continue;
		}
		if (!(rc = agg_action(os, compute, from[i]->id, "remove_host", exact, err))) {
			step(res, "remove_host", from[i]->name, exact, "removed");
			res->changed = 1;
			continue;
		}
		step(res, "remove_host", from[i]->name, exact, err->msg);
		res->action_failed = 1;
		if (added) {
			if (agg_action(os, compute, to->id, "remove_host", exact, &e2)) {
				step(res, "undo add_host", to->name, exact, e2.msg);
				infra_err_prefix(err, "rollback FAILED too (%s), host left in both", e2.msg);
			} else {
				step(res, "undo add_host", to->name, exact, "removed again");
				res->rolled_back = 1;
				infra_err_prefix(err, "rolled back (host removed from %s again)", to->name);
			}
		}
		res->changed = 0;
		goto out;
	}
out:
	free(from);
	if (body)
		json_object_put(body);
	infra_spot_result_release(&r);
	return rc;
}

void infra_spot_move_result_release(struct infra_spot_move_result *res)
{
	if (res->steps)
		json_object_put(res->steps);
	res->steps = NULL;
}

/* ------------------------------------------------------------ all sources */

#include <pthread.h>

#include "infra_gpucloud.h"
#include "infra_netbox.h"

struct ext_job {
	int src;
	struct infra_spot_opts *o;
	const struct infra_spot_ext *x;
	pthread_t th;
	int started;
	/* results */
	struct infra_gpucloud_count *counts;
	size_t ncounts;
	struct infra_netbox_device *devs;
	size_t ndevs;
	char **names;
	size_t nnames;
	int rc, cached;       /* cached: 1 fresh, 2 stale */
	double seconds, age;
	struct infra_err err;
};

static void *ext_thread(void *arg)
{
	struct ext_job *j = arg;
	const char *name = infra_spot_source_names[j->src];
	struct infra_http *h;
	json_object *doc = NULL;
	double t0 = infra_now_mono(), age = -1;
	int c;

	j->age = -1;
	if (j->o->cache) {
		c = infra_cache_get(j->o->cache, name, (j->o->refresh & (1u << j->src)) ? 0 : j->o->ttl[j->src], &doc, &age, NULL);
		if (c == 1) {
			if (j->src == SPOT_SRC_NETBOX) {
				j->rc = infra_netbox_devices_from_json(doc, &j->devs, &j->ndevs, &j->err);
			} else {
				j->rc = infra_gpucloud_counts_from_json(doc, &j->counts, &j->ncounts, &j->err);
			}
			json_object_put(doc);
			if (!j->rc) {
				j->cached = 1;
				j->age = age;
				return NULL;
			}
			doc = NULL;
		}
	}
	h = infra_http_new(j->x->http, &j->err);
	if (!h) {
		j->rc = j->err.code ? j->err.code : -ENOMEM;
	} else if (j->src == SPOT_SRC_NETBOX) {
		j->rc = infra_netbox_devices(h, j->o->jobs > 0 ? j->o->jobs : 8, j->x->netbox, (const char *const *)j->names,
					     j->nnames, &j->devs, &j->ndevs, &j->err);
	} else if (j->src == SPOT_SRC_HYPERSTACK) {
		j->rc = infra_hyperstack_gpus(h, j->x->hyperstack_url, j->x->hyperstack_key, &j->counts, &j->ncounts, &j->err);
	} else {
		j->rc = infra_runpod_gpus(h, j->x->runpod_url, j->x->runpod_key, &j->counts, &j->ncounts, &j->err);
	}
	infra_http_free(h);
	j->seconds = infra_now_mono() - t0;
	if (!j->rc && j->o->cache) {
		json_object *d = j->src == SPOT_SRC_NETBOX ? infra_netbox_devices_to_json(j->devs, j->ndevs)
							   : infra_gpucloud_counts_to_json(j->counts, j->ncounts);
		if (d) {
			infra_cache_put(j->o->cache, name, d, NULL);
			json_object_put(d);
		}
	} else if (j->rc && doc) { /* stale copy */
		int c2 = j->src == SPOT_SRC_NETBOX ? infra_netbox_devices_from_json(doc, &j->devs, &j->ndevs, NULL)
						   : infra_gpucloud_counts_from_json(doc, &j->counts, &j->ncounts, NULL);
		if (!c2) {
			j->cached = 2;
			j->age = age;
		}
	}
	if (doc)
		json_object_put(doc);
	return NULL;
}

static void ext_start(struct ext_job *j)
{
	j->started = pthread_create(&j->th, NULL, ext_thread, j) == 0;
	if (!j->started) {
		j->rc = -EAGAIN;
		infra_err_set(&j->err, -EAGAIN, "cannot start a thread");
	}
}

static void on_hosts_netbox(void *ud, const char *const *hosts, size_t n)
{
	struct ext_job *j = ud;

	j->names = calloc(n ? n : 1, sizeof *j->names);
	if (!j->names)
		return;
	for (size_t i = 0; i < n; i++)
		if ((j->names[j->nnames] = strdup(hosts[i])))
			j->nnames++;
	ext_start(j);
}

static void ext_finish(struct ext_job *j, struct infra_spot_result *r)
{
	struct infra_spot_source_status *st = &r->src[j->src];

	if (j->started)
		pthread_join(j->th, NULL);
	st->used = 1;
	st->seconds = j->seconds;
	st->cached = j->cached;
	st->cache_age = j->age;
	st->up = !j->rc || j->cached == 2;
	if (j->rc && !j->started && !j->names && j->src == SPOT_SRC_NETBOX)
		infra_err_set(&j->err, -ENOENT, "not asked: no pool hosts are known");
	if (j->rc) {
		free(st->error);
		st->error = strdup(j->err.msg[0] ? j->err.msg : "failed");
	}
	if (j->src == SPOT_SRC_NETBOX) {
		for (size_t i = 0; i < j->ndevs; i++) {
			char key[256];
			struct infra_spot_host k = { .key = key }, *h;
			infra_spot_host_key(j->devs[i].name, key, sizeof key);
			h = r->nhosts ? bsearch(&k, r->hosts, r->nhosts, sizeof *h, host_cmp) : NULL;
			if (!h)
				continue;
			free(h->site);
			free(h->rack);
			free(h->tenant);
			h->site = xstrdup(j->devs[i].site);
			h->rack = xstrdup(j->devs[i].rack);
			h->tenant = xstrdup(j->devs[i].tenant);
		}
		infra_netbox_devices_free(j->devs, j->ndevs);
	} else {
		for (size_t i = 0; i < j->ncounts; i++)
			infra_spot_add_external(r, infra_spot_source_names[j->src], j->counts[i].gpu_type, j->counts[i].state,
						j->counts[i].gpus);
		infra_gpucloud_counts_free(j->counts, j->ncounts);
	}
	for (size_t i = 0; i < j->nnames; i++)
		free(j->names[i]);
	free(j->names);
}

int infra_spot_run(struct infra_os *os, const char *os_error, struct infra_spot_opts *o,
		   const struct infra_spot_ext *x, struct infra_spot_result *r, struct infra_err *err)
{
	struct ext_job jobs[3];
	int use[3], rc = 0;

	memset(jobs, 0, sizeof jobs);
	use[0] = x->netbox && x->netbox->url;
	use[1] = x->hyperstack_key != NULL;
	use[2] = x->runpod_key != NULL;
	for (int i = 0; i < 3; i++) {
		jobs[i].src = SPOT_SRC_NETBOX + i;
		jobs[i].o = o;
		jobs[i].x = x;
		jobs[i].rc = -ENOENT;
	}
	for (int i = 1; i < 3; i++)
		if (use[i]) {
			jobs[i].rc = 0;
			ext_start(&jobs[i]);
		}
	if (use[0]) {
		o->on_hosts = on_hosts_netbox;
		o->on_hosts_ud = &jobs[0];
		jobs[0].rc = 0;
	}
	if (os) {
		rc = infra_spot_collect(os, o, r, err);
	} else {
		for (int s = SPOT_SRC_AGGREGATES; s <= SPOT_SRC_SERVERS; s++) {
			r->src[s].used = 1;
			r->src[s].error = strdup(os_error ? os_error : "OpenStack not reachable");
		}
	}
	o->on_hosts = NULL;
	if (use[0] && !jobs[0].started && !jobs[0].names)
		jobs[0].rc = -ENOENT;
	for (int i = 0; i < 3; i++)
		if (use[i])
			ext_finish(&jobs[i], r);
	if (o->cache)
		for (int s = 0; s < SPOT_NSOURCES; s++) {
			struct infra_cache_stat cs;
			if (r->src[s].used && !infra_cache_stats(o->cache, infra_spot_source_names[s], &cs, NULL)) {
				r->src[s].cache_hits = cs.hits;
				r->src[s].cache_misses = cs.misses;
			}
		}
	return rc;
}

/* ------------------------------------------------------------ report helpers */

void infra_spot_report_status(const struct infra_spot_result *res, struct infra_report *r)
{
	for (int s = 0; s < SPOT_NSOURCES; s++) {
		const struct infra_spot_source_status *st = &res->src[s];
		if (!st->used || !st->error)
			continue;
		if (st->cached == 2)
			infra_report_error(r, "%s: %s (a stale copy of %.0f s is used)", infra_spot_source_names[s], st->error,
					   st->cache_age);
		else
			infra_report_error(r, "%s: %s", infra_spot_source_names[s], st->error);
		infra_report_status(r, INFRA_EXIT_WARNING);
	}
	if (!res->src[SPOT_SRC_AGGREGATES].up)
		infra_report_status(r, INFRA_EXIT_UNKNOWN);
	for (size_t i = 0; i < res->nhosts; i++) {
		const struct infra_spot_host *h = &res->hosts[i];
		if (h->conflict)
			infra_report_error(r, "host %s is in two pools (%s); counted in %s", h->host, h->conflict, h->aggregate);
		else if (!h->gpu_type && h->has_gpus && res->src[SPOT_SRC_AGGREGATES].up)
			infra_report_error(r, "host %s has GPUs but is in no pool aggregate", h->host);
	}
	if ((res->unmapped || res->conflicts) && res->src[SPOT_SRC_AGGREGATES].up)
		infra_report_status(r, INFRA_EXIT_WARNING);
}

int infra_spot_cache_open(const char *dir, struct infra_cache **c, struct infra_err *err)
{
	char buf[4096];
	const char *x = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");

	if (!dir) {
		if (x && x[0] == '/')
			snprintf(buf, sizeof buf, "%s/infrakit/spot-agg", x);
		else if (home && home[0] == '/')
			snprintf(buf, sizeof buf, "%s/.cache/infrakit/spot-agg", home);
		else
			return infra_err_set(err, -ENOENT, "no cache directory: set XDG_CACHE_HOME or HOME, give --cache-dir, or --no-cache");
		dir = buf;
	}
	return infra_cache_open(c, dir, err);
}

int infra_spot_cache_table(struct infra_cache *c, const long ttl[SPOT_NSOURCES], struct infra_buf *out,
			   struct infra_err *err)
{
	int rc;

	infra_buf_printf(out, "%-12s %10s %12s  %s\n", "SOURCE", "TTL", "AGE", "STATE");
	for (int s = 0; s < SPOT_NSOURCES; s++) {
		struct infra_cache_stat st;
		char age[32];
		if ((rc = infra_cache_stats(c, infra_spot_source_names[s], &st, err)))
			return rc;
		if (st.age_seconds < 0)
			snprintf(age, sizeof age, "-");
		else
			snprintf(age, sizeof age, "%.0fs", st.age_seconds);
		infra_buf_printf(out, "%-12s %9lds %12s  %s\n", infra_spot_source_names[s], ttl[s], age,
				 st.age_seconds < 0 ? "no copy" : ttl[s] > 0 && st.age_seconds < ttl[s] ? "fresh" :
				 ttl[s] > 0 ? "stale (fallback)" : "live (fallback copy)");
	}
	return infra_buf_printf(out, "cache directory %s\n", infra_cache_dir(c));
}

/* ------------------------------------------------------------ --tui tables */

#include "infra_tui.h"

int infra_spot_tui_tables(const struct infra_spot_result *r, struct infra_tui_table ***tabs, size_t *n)
{
	static const char *const ph[] = { "GPU TYPE/POOL", "TOTAL", "USED", "FREE", "HOSTS", "UP", "VMS" };
	static const char *const hh[] = { "HOST", "AGGREGATE", "METHOD", "USED", "FREE", "VMS", "STATE", "SITE", "RACK", "TENANT" };
	struct infra_tui_table **t = calloc(r->npools + 1, sizeof *t);
	char a[32], b[32], c[32], d[32], e[32], f[32], name[160], det[512];

	if (!t)
		return -ENOMEM;
	*n = 0;
	t[0] = infra_tui_table_new("pools", 7, ph);
	for (size_t i = 1; t[0] && i < 7; i++)
		infra_tui_table_col(t[0], i, INFRA_TUI_NUM);
	for (size_t i = 0; t[0] && i < r->npools; i++) {
		const struct infra_spot_pool *p = &r->pools[i];
		const char *cells[7] = { name, a, b, c, d, e, f };
		snprintf(name, sizeof name, "%s/%s", p->gpu_type, p->pool);
		fmt_num(a, sizeof a, p->gpus_total, p->total_known);
		fmt_num(b, sizeof b, p->gpus_used, 1);
		fmt_num(c, sizeof c, p->gpus_free, p->total_known);
		snprintf(d, sizeof d, "%ld", p->hosts);
		snprintf(e, sizeof e, "%ld", p->hosts_up);
		snprintf(f, sizeof f, "%ld", p->vms);
		snprintf(det, sizeof det, "%s %s: %s of %s GPUs free on %ld hosts (%ld up and enabled), %ld servers; Tab: its hosts",
			 p->gpu_type, p->pool, c, a, p->hosts, p->hosts_up, p->vms);
		infra_tui_table_add(t[0], !p->total_known ? INFRA_TUI_WARN : p->gpus_free > 0 ? INFRA_TUI_GOOD : INFRA_TUI_BAD,
				    cells, det);
	}
	for (size_t i = 0; t[0] && i < r->next; i++) {
		const char *cells[7] = { name, "", b, "", "", "", "" };
		snprintf(name, sizeof name, "%s %s (%s)", r->ext[i].provider, r->ext[i].gpu_type, r->ext[i].state);
		snprintf(b, sizeof b, "%ld", r->ext[i].gpus);
		infra_tui_table_add(t[0], INFRA_TUI_DIM, cells, "external GPU cloud");
	}
	for (int s = 0; t[0] && s < SPOT_NSOURCES; s++) {
		const struct infra_spot_source_status *st = &r->src[s];
		const char *cells[7] = { name, "", "", "", "", "", "" };
		if (!st->used || (!st->error && !st->cached))
			continue;
		snprintf(name, sizeof name, "source %s: %s", infra_spot_source_names[s],
			 st->error ? (st->cached == 2 ? "FAILED, stale copy" : "FAILED") : "cached");
		snprintf(det, sizeof det, "%s%s(copy %.0f s old)", st->error ? st->error : "", st->error ? " " : "",
			 st->cache_age);
		infra_tui_table_add(t[0], st->error ? (st->up ? INFRA_TUI_WARN : INFRA_TUI_BAD) : INFRA_TUI_DIM, cells, det);
	}
	if (!t[0])
		goto nomem;
	infra_tui_table_empty_text(t[0], "no pool aggregates found");
	*n = 1;
	for (size_t i = 0; i < r->npools; i++) {
		const struct infra_spot_pool *p = &r->pools[i];
		snprintf(name, sizeof name, "%s/%s", p->gpu_type, p->pool);
		t[*n] = infra_tui_table_new(name, 10, hh);
		if (!t[*n])
			goto nomem;
		for (size_t col = 3; col < 6; col++)
			infra_tui_table_col(t[*n], col, INFRA_TUI_NUM);
		for (size_t j = 0; j < r->nhosts; j++) {
			const struct infra_spot_host *h = &r->hosts[j];
			const char *st = h->state_up < 0 ? "?" : h->state_up && h->enabled ? "up" : h->state_up ? "disabled" : "down";
			const char *cells[10] = { h->host, h->aggregate, h->method, b, c, d, st, h->site, h->rack, h->tenant };
			if (!h->gpu_type || strcmp(h->gpu_type, p->gpu_type) || strcmp(h->pool, p->pool))
				continue;
			fmt_num(b, sizeof b, h->gpus_used, 1);
			fmt_num(c, sizeof c, h->gpus_total > h->gpus_used ? h->gpus_total - h->gpus_used : 0, h->gpus_total >= 0);
			fmt_num(d, sizeof d, (double)h->vms, h->vms >= 0);
			snprintf(det, sizeof det, "%s: hypervisor %s, classes %s%s%s", h->host, h->hypervisor ? h->hypervisor : "?",
				 h->gpu_classes ? h->gpu_classes : "-", h->conflict ? ", CONFLICT " : "", h->conflict ? h->conflict : "");
			infra_tui_table_add(t[*n], h->conflict ? INFRA_TUI_WARN : strcmp(st, "up") ? INFRA_TUI_BAD : INFRA_TUI_NORMAL,
					    cells, det);
		}
		(*n)++;
	}
	*tabs = t;
	return 0;
nomem:
	for (size_t i = 0; i <= r->npools; i++)
		infra_tui_table_free(t[i]);
	free(t);
	return -ENOMEM;
}

int infra_spot_tui(struct infra_os *os, const char *os_error, struct infra_spot_opts *o, const struct infra_spot_ext *x,
		   double interval, struct infra_err *err)
{
	struct infra_tui *ui = infra_tui_new(1, err);
	struct infra_tui_table **tabs = NULL, **old = NULL;
	size_t n = 0, nold = 0;
	char status[600];
	int key = 0;

	if (!ui)
		return err->code ? err->code : -ENOTTY;
	while (key != 'q') {
		struct infra_spot_result res;
		struct infra_err e = INFRA_ERR_INIT;
		infra_spot_result_init(&res);
		o->refresh = key == 'r' ? ~0u : 0; /* r asks every source; a timed refresh keeps the caches */
		if (infra_spot_run(os, os_error, o, x, &res, &e))
			snprintf(status, sizeof status, "FAILED: %s", e.msg);
		else
			snprintf(status, sizeof status, "%d requests; refresh every %.0f s (r: now, asking every source)",
				 res.requests, interval);
		if (!infra_spot_tui_tables(&res, &tabs, &n))
			infra_tui_show(ui, "spot-agg: GPUs per type and pool", status, tabs, n);
		for (size_t i = 0; i < nold; i++)
			infra_tui_table_free(old[i]);
		free(old);
		old = tabs, nold = n, tabs = NULL, n = 0;
		infra_spot_result_release(&res);
		key = infra_tui_wait(ui, interval);
	}
	infra_tui_free(ui);
	for (size_t i = 0; i < nold; i++)
		infra_tui_table_free(old[i]);
	free(old);
	return 0;
}
