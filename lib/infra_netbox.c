#include "infra_netbox.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "infra_buf.h"
#include "infra_json.h"
#include "infra_openstack.h"

#define NETBOX_MAX_PAGES 10000

struct nb_dev {
	struct infra_netbox_device d;
	char *key;            /* what names are matched on: the name, or its host key */
	long long id;
	int taken;            /* moved to the result (d.name shared with it) */
};

struct nb_ctx {
	const struct infra_netbox_opts *o;
	struct infra_http_batch *b;
	const char *const *hdrs;
	char *base;           /* opts.url without trailing '/' */
	struct nb_dev *devs;
	size_t ndevs, cap;
	int pages;
	int v2;               /* header form sent: Bearer */
	int rc;
	struct infra_err err;
};

static char *dupnull(const char *s)
{
	return s ? strdup(s) : NULL;
}

void infra_netbox_host_key(const char *name, char *out, size_t size)
{
	size_t n = strcspn(name, "."), i;

	if (!size)
		return;
	if (n >= size)
		n = size - 1;
	for (i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)name[i]);
	out[n] = '\0';
}

/* The key a name is matched on (malloc'd): itself, or its host key. */
static char *match_key(const char *name, int host)
{
	char *k;

	if (!host)
		return strdup(name);
	k = malloc(strlen(name) + 1);
	if (k)
		infra_netbox_host_key(name, k, strlen(name) + 1);
	return k;
}

static void dev_release(struct infra_netbox_device *d)
{
	free(d->name);
	free(d->site);
	free(d->rack);
	free(d->tenant);
	free(d->status);
}

void infra_netbox_devices_free(struct infra_netbox_device *d, size_t n)
{
	if (!d)
		return;
	for (size_t i = 0; i < n; i++)
		dev_release(&d[i]);
	free(d);
}

/* scheme://host[:port] of url, port made explicit: "https://nb:443". */
static int origin_of(const char *url, char *out, size_t size)
{
	const char *p = strstr(url, "://"), *h, *e, *colon;
	int https, n;

	if (!p)
		return -1;
	if ((size_t)(p - url) == 5 && strncasecmp(url, "https", 5) == 0)
		https = 1;
	else if ((size_t)(p - url) == 4 && strncasecmp(url, "http", 4) == 0)
		https = 0;
	else
		return -1;
	h = p + 3;
	e = h + strcspn(h, "/?#");
	if (memchr(h, '@', (size_t)(e - h)))
		return -1; /* credentials in a next link: never ours */
	colon = e;
	for (const char *q = e; q > h; q--)
		if (q[-1] == ':') {
			colon = q - 1;
			break;
		} else if (q[-1] == ']') {
			break;
		}
	if (colon < e)
		n = snprintf(out, size, "%s://%.*s:%.*s", https ? "https" : "http", (int)(colon - h), h,
			     (int)(e - colon - 1), colon + 1);
	else
		n = snprintf(out, size, "%s://%.*s:%s", https ? "https" : "http", (int)(e - h), h, https ? "443" : "80");
	if (n < 0 || (size_t)n >= size)
		return -1;
	for (char *c = out; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	return 0;
}

/* A masked URL cut short for messages: its query may hold 50 host names. */
static void short_url(const char *url, char *out, size_t size)
{
	infra_http_mask_url(url, out, size);
	if (size > 124 && strlen(out) > 120)
		memcpy(out + 117, "...", 4);
}

static int same_origin(const char *a, const char *b)
{
	char oa[512], ob[512];

	return origin_of(a, oa, sizeof(oa)) == 0 && origin_of(b, ob, sizeof(ob)) == 0 && strcmp(oa, ob) == 0;
}

static const char *tenant_of(json_object *dev, const char *field)
{
	json_object *v;

	if (!field || !*field || strcmp(field, "tenant") == 0)
		return infra_json_opt_string(dev, "tenant.name", NULL);
	if (strcmp(field, "owner") == 0)
		return infra_json_opt_string(dev, "owner.name", NULL);
	if (strncmp(field, "cf:", 3) == 0) {
		json_object *cf = json_object_object_get(dev, "custom_fields");
		if (!cf || !json_object_is_type(cf, json_type_object) ||
		    !json_object_object_get_ex(cf, field + 3, &v) || !v)
			return NULL;
		if (json_object_is_type(v, json_type_object)) {
			const char *s = infra_json_opt_string(v, "name", NULL);
			return s ? s : infra_json_opt_string(v, "display", NULL);
		}
		if (json_object_is_type(v, json_type_array))
			return NULL;
		return json_object_get_string(v); /* string, number or bool as text */
	}
	return NULL;
}

static const char *fields_param(const char *field)
{
	if (field && strcmp(field, "owner") == 0)
		return "id,name,site,rack,status,owner";
	if (field && strncmp(field, "cf:", 3) == 0)
		return "id,name,site,rack,status,custom_fields";
	return "id,name,site,rack,status,tenant";
}

static void fail(struct nb_ctx *c, int rc, const struct infra_err *e)
{
	if (c->rc)
		return;
	c->rc = rc;
	c->err = *e;
}

static int add_dev(struct nb_ctx *c, json_object *item, struct infra_err *err)
{
	struct nb_dev *nd;
	const char *name = infra_json_opt_string(item, "name", NULL);

	if (!json_object_is_type(item, json_type_object))
		return infra_err_set(err, -EPROTO, "a device is not an object");
	if (!name)
		return 0; /* unnamed devices cannot match a host */
	if (c->ndevs == c->cap) {
		size_t nc = c->cap ? c->cap * 2 : 64;
		struct nb_dev *p = realloc(c->devs, nc * sizeof(*p));
		if (!p)
			return infra_err_set(err, -ENOMEM, "out of memory");
		c->devs = p;
		c->cap = nc;
	}
	nd = &c->devs[c->ndevs];
	memset(nd, 0, sizeof(*nd));
	nd->id = infra_json_opt_int64(item, "id", 0);
	nd->d.name = strdup(name);
	nd->d.site = dupnull(infra_json_opt_string(item, "site.name", NULL));
	nd->d.rack = dupnull(infra_json_opt_string(item, "rack.name", NULL));
	nd->d.tenant = dupnull(tenant_of(item, c->o->tenant_field));
	nd->d.status = dupnull(infra_json_opt_string(item, "status.value", NULL));
	nd->key = match_key(name, c->o->match_host);
	c->ndevs++;
	if (!nd->d.name || !nd->key)
		return infra_err_set(err, -ENOMEM, "out of memory");
	return 0;
}

static void page_done(void *ud, const struct infra_http_req *req, struct infra_http_resp *resp, int rc,
		      const struct infra_err *herr);

static int queue(struct nb_ctx *c, const char *url, struct infra_err *err)
{
	struct infra_http_req req = { .method = "GET", .url = url, .headers = c->hdrs };
	int rc;

	if (++c->pages > NETBOX_MAX_PAGES)
		return infra_err_set(err, -ELOOP, "NetBox %s: more than %d pages (pagination loop?)", c->base,
				     NETBOX_MAX_PAGES);
	rc = infra_http_batch_add(c->b, &req, page_done, c);
	if (rc)
		return infra_err_set(err, rc, "NetBox %s: cannot queue a request: %s", c->base, strerror(-rc));
	return 0;
}

static void page_done(void *ud, const struct infra_http_req *req, struct infra_http_resp *resp, int rc,
		      const struct infra_err *herr)
{
	struct nb_ctx *c = ud;
	struct infra_err e = INFRA_ERR_INIT;
	json_object *body = NULL, *results = NULL, *next;
	char shown[300];

	if (c->rc)
		return;
	short_url(req->url, shown, sizeof(shown));
	if (rc) {
		infra_err_set(&e, rc, "NetBox: %s", herr->msg);
		fail(c, rc, &e);
		return;
	}
	if (resp->status == 401 || resp->status == 403) {
		const char *detail = NULL;
		if (infra_json_parse(resp->body, resp->body_len, &body, NULL) == 0)
			detail = infra_json_opt_string(body, "detail", NULL);
		if (detail && c->o->token && *c->o->token && strstr(detail, c->o->token))
			detail = NULL; /* never echo a secret */
		infra_err_set(&e, -EACCES, "NetBox %s: HTTP %ld (token rejected%s%.160s; check the token and its form: %s)",
			      c->base, resp->status, detail ? ": " : "", detail ? detail : "",
			      c->v2 ? "sent as a v2 token, Bearer" : "sent as a v1 token, Token");
		json_object_put(body);
		fail(c, -EACCES, &e);
		return;
	}
	if (resp->status < 200 || resp->status > 299) {
		infra_err_set(&e, -EIO, "NetBox GET %s: HTTP %ld", shown, resp->status);
		fail(c, -EIO, &e);
		return;
	}
	if (infra_json_parse(resp->body, resp->body_len, &body, &e)) {
		infra_err_prefix(&e, "NetBox GET %s: malformed response", shown);
		fail(c, -EPROTO, &e);
		return;
	}
	if (infra_json_get_array(body, "results", &results, &e)) {
		infra_err_prefix(&e, "NetBox GET %s: not a device list", shown);
		json_object_put(body);
		fail(c, -EPROTO, &e);
		return;
	}
	for (size_t i = 0; i < json_object_array_length(results); i++) {
		int r = add_dev(c, json_object_array_get_idx(results, i), &e);
		if (r) {
			infra_err_prefix(&e, "NetBox GET %s: results[%zu]", shown, i);
			json_object_put(body);
			fail(c, r == -ENOMEM ? r : -EPROTO, &e);
			return;
		}
	}
	next = json_object_object_get(body, "next");
	if (next && !json_object_is_type(next, json_type_null)) {
		const char *nx = json_object_get_string(next);
		char norigin[512], *abs = NULL;
		if (json_object_is_type(next, json_type_string) && nx[0] == '/' && nx[1] != '/' &&
		    origin_of(c->base, norigin, sizeof(norigin)) == 0) {
			/* a relative link (path and query): on our own origin */
			struct infra_buf u;
			const char *h = strstr(c->base, "://") + 3; /* origin_of() checked it is there */
			size_t ol = (size_t)(h - c->base) + strcspn(h, "/?#");
			infra_buf_init(&u, 0);
			infra_buf_printf(&u, "%.*s%s", (int)ol, c->base, nx);
			abs = infra_buf_steal(&u, NULL);
			if (abs)
				nx = abs;
		}
		if (!json_object_is_type(next, json_type_string) || !*nx) {
			infra_err_set(&e, -EPROTO, "NetBox GET %s: field 'next' is not a URL", shown);
			fail(c, -EPROTO, &e);
		} else if (!same_origin(nx, c->base)) {
			if (origin_of(nx, norigin, sizeof(norigin)) != 0)
				snprintf(norigin, sizeof(norigin), "%s", "an unusable URL");
			infra_err_set(&e, -EPROTO,
				      "NetBox: the next page is on %.200s, not on %.200s (refusing to send the token elsewhere; "
				      "a proxy in front of NetBox may need X-Forwarded-Proto/Host) (GET %s)", norigin, c->base, shown);
			fail(c, -EPROTO, &e);
		} else if (strcmp(nx, req->url) == 0) {
			infra_err_set(&e, -ELOOP, "NetBox GET %s: the next link repeats the page (pagination loop)", shown);
			fail(c, -ELOOP, &e);
		} else {
			int r = queue(c, nx, &e);
			if (r)
				fail(c, r, &e);
		}
		free(abs);
	}
	json_object_put(body);
}

static int cmp_dev(const void *a, const void *b)
{
	const struct nb_dev *x = a, *y = b;
	int r = strcmp(x->key, y->key);

	if (r)
		return r;
	return x->id < y->id ? -1 : x->id > y->id;
}

static int cmp_key(const void *key, const void *elt)
{
	return strcmp(key, ((const struct nb_dev *)elt)->key);
}

/* Build the request URL of one batch of names. */
static char *batch_url(struct nb_ctx *c, const char *lookup, const char *suffix, char *const *names, size_t n,
		       size_t limit)
{
	struct infra_buf u;
	char enc[1024];

	infra_buf_init(&u, 0);
	infra_buf_printf(&u, "%s/api/dcim/devices/?", c->base);
	for (size_t i = 0; i < n; i++) {
		if (infra_os_urlencode(names[i], enc, sizeof(enc)) != 0) {
			infra_buf_release(&u);
			return NULL;
		}
		infra_buf_printf(&u, "%s=%s%s&", lookup, enc, suffix);
	}
	if (infra_buf_printf(&u, "fields=%s&exclude=config_context&limit=%zu", fields_param(c->o->tenant_field), limit)) {
		infra_buf_release(&u);
		return NULL;
	}
	return infra_buf_steal(&u, NULL);
}

int infra_netbox_devices(struct infra_http *h, int concurrency, const struct infra_netbox_opts *o,
			 const char *const *names, size_t n, struct infra_netbox_device **out,
			 size_t *nout, struct infra_err *err)
{
	struct nb_ctx c;
	struct infra_buf auth;
	const char *hdrs[3];
	size_t batch = o->batch ? o->batch : 50, bl, i, k = 0;
	struct infra_netbox_device *res = NULL;
	char **keys = NULL, key[1024];
	size_t nkeys = 0;
	int v2, rc = 0;

	*out = NULL;
	*nout = 0;
	if (!o->url || !*o->url || !same_origin(o->url, o->url))
		return infra_err_set(err, -EINVAL, "NetBox: URL '%.200s' is not http(s)://host[:port]", o->url ? o->url : "");
	if (!o->token || !*o->token)
		return infra_err_set(err, -EINVAL, "NetBox %s: no API token", o->url);
	if (o->tenant_field && *o->tenant_field && strcmp(o->tenant_field, "tenant") != 0 &&
	    strcmp(o->tenant_field, "owner") != 0 && !(strncmp(o->tenant_field, "cf:", 3) == 0 && o->tenant_field[3]))
		return infra_err_set(err, -EINVAL, "NetBox: tenant field '%.80s' is not tenant, owner or cf:<name>",
				     o->tenant_field);
	if (n == 0)
		return 0;
	memset(&c, 0, sizeof(c));
	c.o = o;
	bl = strlen(o->url);
	while (bl > 0 && o->url[bl - 1] == '/')
		bl--;
	c.base = strndup(o->url, bl);
	v2 = o->token_v2 < 0 ? strncmp(o->token, "nbt_", 4) == 0 : o->token_v2 != 0;
	c.v2 = v2;
	infra_buf_init(&auth, 0);
	infra_buf_printf(&auth, "Authorization: %s %s", v2 ? "Bearer" : "Token", o->token);
	hdrs[0] = auth.data;
	hdrs[1] = "Accept: application/json";
	hdrs[2] = NULL;
	c.hdrs = hdrs;
	c.b = infra_http_batch_new(h, concurrency < 1 ? 1 : concurrency);
	if (!c.base || !auth.data || !c.b) {
		rc = infra_err_set(err, -ENOMEM, "NetBox: out of memory");
		goto out;
	}
	keys = calloc(n, sizeof(*keys));
	if (!keys) {
		rc = infra_err_set(err, -ENOMEM, "NetBox: out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		size_t j;
		char *mk = match_key(names[i], o->match_host);
		if (!mk) {
			rc = infra_err_set(err, -ENOMEM, "NetBox: out of memory");
			goto out;
		}
		for (j = 0; j < nkeys && strcmp(keys[j], mk) != 0; j++)
			;
		if (j < nkeys || !*mk)
			free(mk); /* asked twice (or nothing left of it) */
		else
			keys[nkeys++] = mk;
	}
	for (i = 0; i < nkeys && !rc; i += batch) {
		size_t m = nkeys - i < batch ? nkeys - i : batch;
		/* exact: name=; by host: name__ie=<key> (gpu-01, GPU-01) and, as a separate
		 * request (different lookups are ANDed), name__isw=<key>. (gpu-01.dc1...) */
		for (int pass = 0; pass < (o->match_host ? 2 : 1) && !rc; pass++) {
			char *url = batch_url(&c, !o->match_host ? "name" : pass ? "name__isw" : "name__ie",
					      pass ? "." : "", keys + i, m, batch);
			if (!url) {
				rc = infra_err_set(err, -EINVAL, "NetBox: a host name is too long to query");
				break;
			}
			rc = queue(&c, url, err);
			free(url);
		}
	}
	if (!rc)
		rc = infra_http_batch_run(c.b, err);
	if (!rc && c.rc) {
		rc = c.rc;
		if (err)
			*err = c.err;
	}
	if (rc)
		goto out;
	if (c.ndevs)
		qsort(c.devs, c.ndevs, sizeof(*c.devs), cmp_dev);
	res = calloc(n, sizeof(*res));
	if (!res) {
		rc = infra_err_set(err, -ENOMEM, "NetBox: out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct nb_dev *d;
		if (o->match_host)
			infra_netbox_host_key(names[i], key, sizeof(key));
		d = c.ndevs ? bsearch(o->match_host ? key : names[i], c.devs, c.ndevs, sizeof(*c.devs), cmp_key) : NULL;
		if (!d)
			continue;
		while (d > c.devs && strcmp(d[-1].key, d->key) == 0)
			d--; /* the lowest id of that name (key) */
		if (d->taken)
			continue; /* name given twice */
		res[k++] = d->d;
		d->taken = 1;
		d->d.site = d->d.rack = d->d.tenant = d->d.status = NULL;
	}
	*out = res;
	*nout = k;
out:
	for (i = 0; i < c.ndevs; i++) {
		if (c.devs[i].taken)
			c.devs[i].d.name = NULL; /* owned by the result */
		dev_release(&c.devs[i].d);
		free(c.devs[i].key);
	}
	for (i = 0; i < nkeys; i++)
		free(keys[i]);
	free(keys);
	free(c.devs);
	if (c.b)
		infra_http_batch_free(c.b);
	if (auth.data)
		explicit_bzero(auth.data, auth.len);
	infra_buf_release(&auth);
	free(c.base);
	return rc;
}

static void add_str(json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, v ? json_object_new_string(v) : NULL);
}

json_object *infra_netbox_devices_to_json(const struct infra_netbox_device *d, size_t n)
{
	json_object *root = json_object_new_object(), *arr = json_object_new_array();

	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_new_object();
		add_str(o, "name", d[i].name);
		add_str(o, "site", d[i].site);
		add_str(o, "rack", d[i].rack);
		add_str(o, "tenant", d[i].tenant);
		add_str(o, "status", d[i].status);
		json_object_array_add(arr, o);
	}
	json_object_object_add(root, "devices", arr);
	return root;
}

int infra_netbox_devices_from_json(json_object *doc, struct infra_netbox_device **out, size_t *nout,
				   struct infra_err *err)
{
	json_object *arr;
	struct infra_netbox_device *r;
	size_t n, i;

	*out = NULL;
	*nout = 0;
	if (infra_json_get_array(doc, "devices", &arr, err))
		return -EPROTO;
	n = json_object_array_length(arr);
	r = calloc(n ? n : 1, sizeof(*r));
	if (!r)
		return infra_err_set(err, -ENOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(arr, i);
		const char *name = infra_json_opt_string(o, "name", NULL);
		if (!name) {
			infra_netbox_devices_free(r, i);
			return infra_err_set(err, -EPROTO, "devices[%zu]: no name", i);
		}
		r[i].name = strdup(name);
		r[i].site = dupnull(infra_json_opt_string(o, "site", NULL));
		r[i].rack = dupnull(infra_json_opt_string(o, "rack", NULL));
		r[i].tenant = dupnull(infra_json_opt_string(o, "tenant", NULL));
		r[i].status = dupnull(infra_json_opt_string(o, "status", NULL));
	}
	*out = r;
	*nout = n;
	return 0;
}
