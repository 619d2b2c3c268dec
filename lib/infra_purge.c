#include "infra_purge.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "infra_json.h"
#include "infra_lock.h"
#include "infra_report.h"

/* ------------------------------------------------------------------ per type */

struct ptype {
	const char *coll;     /* URL collection under the service endpoint */
	const char *wrapper;  /* member holding the resource in a GET, NULL = the body */
	const char *name;     /* name field */
	const char *project;  /* owner field (json path) */
	const char *created;  /* creation time field */
};

static const struct ptype ptypes[ORPH_NTYPES] = {
	[ORPH_PROJECTS] = { "projects", "project", "name", NULL, NULL },
	[ORPH_USERS] = { "users", "user", "name", "default_project_id", NULL },
	[ORPH_SERVERS] = { "servers", "server", "name", "tenant_id", "created" },
	[ORPH_KEYPAIRS] = { "os-keypairs", "keypair", "name", NULL, "created_at" },
	[ORPH_SERVER_GROUPS] = { "os-server-groups", "server_group", "name", "project_id", NULL },
	[ORPH_FLOATINGIPS] = { "floatingips", "floatingip", "description", "project_id", "created_at" },
	[ORPH_TRUNKS] = { "trunks", "trunk", "name", "project_id", "created_at" },
	[ORPH_ROUTERS] = { "routers", "router", "name", "project_id", "created_at" },
	[ORPH_PORTS] = { "ports", "port", "name", "project_id", "created_at" },
	[ORPH_SUBNETS] = { "subnets", "subnet", "name", "project_id", "created_at" },
	[ORPH_NETWORKS] = { "networks", "network", "name", "project_id", "created_at" },
	[ORPH_SECURITY_GROUPS] = { "security-groups", "security_group", "name", "project_id", "created_at" },
	[ORPH_SNAPSHOTS] = { "snapshots", "snapshot", "name", "[\"os-extended-snapshot-attributes:project_id\"]", "created_at" },
	[ORPH_BACKUPS] = { "backups", "backup", "name", "[\"os-backup-project-attr:project_id\"]", "created_at" },
	[ORPH_VOLUMES] = { "volumes", "volume", "name", "[\"os-vol-tenant-attr:tenant_id\"]", "created_at" },
	[ORPH_IMAGES] = { "images", NULL, "name", "owner", "created_at" },
	[ORPH_CONTAINERS] = { "", NULL, NULL, NULL, NULL },
	[ORPH_STACKS] = { "stacks", "stack", "stack_name", "project", "creation_time" },
};

/* ------------------------------------------------------------------ plan */

static char *sdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int cmp_item(const void *a, const void *b)
{
	const struct infra_purge_item *x = a, *y = b;
	int c;

	if (infra_orph_types[x->o.type].tier != infra_orph_types[y->o.type].tier)
		return infra_orph_types[x->o.type].tier - infra_orph_types[y->o.type].tier;
	if (x->o.type != y->o.type)
		return x->o.type - y->o.type;
	if ((c = strcmp(x->o.name, y->o.name)))
		return c;
	return strcmp(x->o.id, y->o.id);
}

int infra_purge_plan(struct infra_purge *p, const struct infra_orph_result *r, unsigned services,
		     struct infra_err *err)
{
	memset(p, 0, sizeof(*p));
	p->items = calloc(r->n ? r->n : 1, sizeof(*p->items));
	if (!p->items)
		return infra_err_set(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < r->n; i++) {
		const struct infra_orphan *o = &r->items[i];
		struct infra_purge_item *it;
		if (services && !(services & (1u << infra_orph_types[o->type].service)))
			continue;
		/* the same resource twice (a hand-edited input) is planned once */
		int dup = 0;
		for (size_t j = 0; j < p->n && !dup; j++)
			dup = p->items[j].o.type == o->type && !strcmp(p->items[j].o.id, o->id);
		if (dup)
			continue;
		it = &p->items[p->n];
		it->o = *o;
		it->o.id = sdup(o->id);
		it->o.name = sdup(o->name ? o->name : "");
		it->o.project = sdup(o->project);
		it->o.created_at = sdup(o->created_at);
		it->o.parent = sdup(o->parent);
		it->o.user_id = sdup(o->user_id);
		p->n++;
		if (!it->o.id || !it->o.name)
			return infra_err_set(err, -ENOMEM, "out of memory");
	}
	if (p->n)
		qsort(p->items, p->n, sizeof(*p->items), cmp_item);
	return 0;
}

static void item_reset(struct infra_purge_item *it)
{
	for (size_t i = 0; i < it->nobjs; i++)
		free(it->objs[i]);
	free(it->objs);
	it->objs = NULL;
	it->nobjs = 0;
	free(it->ref);
	it->ref = NULL;
	free(it->aux);
	it->aux = NULL;
	it->flags = 0;
	it->pending = 0;
}

void infra_purge_release(struct infra_purge *p)
{
	for (size_t i = 0; i < p->n; i++) {
		struct infra_purge_item *it = &p->items[i];
		free(it->o.id);
		free(it->o.name);
		free(it->o.project);
		free(it->o.created_at);
		free(it->o.parent);
		free(it->o.user_id);
		free(it->msg);
		item_reset(it);
	}
	free(p->items);
	memset(p, 0, sizeof(*p));
}

size_t infra_purge_count(const struct infra_purge *p, int state)
{
	size_t n = 0;
	for (size_t i = 0; i < p->n; i++)
		n += p->items[i].state == state;
	return n;
}

/* ------------------------------------------------------------------ run */

enum step {
	S_VERIFY, S_PROJECT, S_PARENT, S_CLEAR_ROUTER, S_LIST_IFACES, S_REMOVE_IFACE, S_DELETE_OBJ, S_DELETE, S_POLL,
};

enum { PH_NONE = 0, PH_WAIT = 1, PH_DONE = 2 };
enum { F_NEED_CLEAR = 1, F_IFACE_PORT = 2, F_PARENT_ROUTER = 4, F_PARENT_SERVER = 8, F_PARENT_PORT = 16,
       F_DEAD = 32 };

struct run {
	struct infra_os *os;
	const struct infra_purge_opts *o;
	struct infra_http_batch *b;
	char *ep[SVC_NSERVICES];
	char *ep_err[SVC_NSERVICES];
};

struct stepctx {
	struct run *rn;
	struct infra_purge_item *it;
	enum step step;
};

static void set_msg(struct infra_purge_item *it, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_msg(struct infra_purge_item *it, const char *fmt, ...)
{
	struct infra_buf b = INFRA_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	infra_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	free(it->msg);
	it->msg = infra_buf_steal(&b, NULL);
}

static void finish(struct infra_purge_item *it, int state)
{
	it->state = state;
	it->phase = PH_DONE;
	if (state == PURGE_DELETED || state == PURGE_GONE) {
		free(it->msg);
		it->msg = NULL;
	}
}

static void retry_later(struct infra_purge_item *it)
{
	it->retry = 1;
	it->phase = PH_DONE;
}

/* snprintf that reports truncation (URLs must never be cut short) */
static int urlf(char *out, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int urlf(char *out, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, size, fmt, ap);
	va_end(ap);
	return (n < 0 || (size_t)n >= size) ? -1 : 0;
}

static int enc(const char *s, char *out, size_t size)
{
	return infra_os_urlencode(s, out, size);
}

static int svc_url(struct run *rn, int type, const char *id, const char *extra, char *out, size_t size)
{
	const struct ptype *pt = &ptypes[type];
	const char *base = rn->ep[infra_orph_types[type].service];
	char e[1024];

	if (!base || enc(id, e, sizeof(e)))
		return -1;
	if (type == ORPH_CONTAINERS)
		return urlf(out, size, "%s/%s%s", base, e, extra ? extra : "");
	return urlf(out, size, "%s/%s/%s%s", base, pt->coll, e, extra ? extra : "");
}

static int item_url(struct run *rn, const struct infra_purge_item *it, char *out, size_t size)
{
	char extra[1200] = "", e[1024];

	if (it->o.type == ORPH_KEYPAIRS && it->o.user_id) {
		if (enc(it->o.user_id, e, sizeof(e)))
			return -1;
		if (urlf(extra, sizeof(extra), "?user_id=%s", e))
			return -1;
	}
	if (it->o.type == ORPH_CONTAINERS)
		snprintf(extra, sizeof(extra), "?format=json&limit=10000");
	if (it->o.type == ORPH_STACKS) {
		/* heat addresses a stack as NAME/ID */
		char ename[1024];
		const char *base = rn->ep[SVC_ORCHESTRATION];
		if (!base || enc(it->o.name, ename, sizeof(ename)) || enc(it->o.id, e, sizeof(e)))
			return -1;
		return urlf(out, size, "%s/stacks/%s/%s", base, ename, e);
	}
	return svc_url(rn, it->o.type, it->o.id, extra, out, size);
}

static const char *mv_of(int type)
{
	int s = infra_orph_types[type].service;
	if (s == SVC_COMPUTE)
		return "compute 2.35";
	if (s == SVC_BLOCK_STORAGE)
		return "volume 3.34";
	return NULL;
}

static void step_cb(void *ud, long status, json_object *body, const struct infra_http_resp *resp, int rc,
		    const struct infra_err *err);

static void queue(struct run *rn, struct infra_purge_item *it, enum step st, const char *method, const char *url,
		  const char *mv, const char *body)
{
	struct stepctx *c = malloc(sizeof(*c));

	if (!c) {
		set_msg(it, "out of memory");
		finish(it, PURGE_FAILED);
		return;
	}
	c->rn = rn;
	c->it = it;
	c->step = st;
	it->pending++;
	if (infra_os_batch_request(rn->os, rn->b, method, url, mv, body, step_cb, c)) {
		it->pending--;
		free(c);
		set_msg(it, "cannot queue %s %s", method, url);
		finish(it, PURGE_FAILED);
	}
}

static int transient(long status)
{
	return status == 0 || status == 429 || status >= 500;
}

/* a response that is neither what we wanted nor 404: retry or fail */
static void bad_status(struct infra_purge_item *it, const char *what, long status, json_object *body, int rc,
		       const struct infra_err *err)
{
	const char *m = infra_os_error_message(body);

	if (rc)
		set_msg(it, "%s: %s", what, err && err->msg[0] ? err->msg : "request failed");
	else
		set_msg(it, "%s: HTTP %ld%s%s", what, status, m ? ": " : "", m ? m : "");
	if (rc || transient(status) || status == 409 || status == 400)
		retry_later(it);
	else
		finish(it, PURGE_FAILED);
}

static void act(struct run *rn, struct infra_purge_item *it);

static void check_project(struct run *rn, struct infra_purge_item *it, const char *pid)
{
	char url[2048];

	if (!pid || !*pid) {
		set_msg(it, "no owner project to re-check");
		finish(it, PURGE_SKIPPED);
		return;
	}
	free(it->ref);
	it->ref = strdup(pid);
	if (svc_url(rn, ORPH_PROJECTS, pid, NULL, url, sizeof(url))) {
		set_msg(it, "no identity endpoint to re-check the owner project");
		finish(it, PURGE_FAILED);
		return;
	}
	queue(rn, it, S_PROJECT, "GET", url, NULL, NULL);
}

static void on_verify(struct run *rn, struct infra_purge_item *it, long status, json_object *body)
{
	const struct ptype *pt = &ptypes[it->o.type];
	const struct infra_orph_matcher *m = rn->o->matcher;
	json_object *obj = body;
	const char *name, *created;
	double t;

	if (it->o.type == ORPH_CONTAINERS) {
		size_t n;
		if (!infra_orph_name_matches(m, it->o.id)) {
			set_msg(it, "container name '%s' does not match", it->o.id);
			finish(it, PURGE_SKIPPED);
			return;
		}
		n = body && json_object_is_type(body, json_type_array) ? json_object_array_length(body) : 0;
		it->objs = calloc(n ? n : 1, sizeof(char *));
		for (size_t i = 0; it->objs && i < n; i++) {
			const char *on = infra_json_opt_string(json_object_array_get_idx(body, i), "name", NULL);
			if (on)
				it->objs[it->nobjs++] = strdup(on);
		}
		act(rn, it);
		return;
	}
	(void)status;
	if (pt->wrapper && infra_json_get_object(body, pt->wrapper, &obj, NULL)) {
		set_msg(it, "unexpected answer to GET (no '%s')", pt->wrapper);
		finish(it, PURGE_FAILED);
		return;
	}
	name = infra_json_opt_string(obj, pt->name, "");
	created = pt->created ? infra_json_opt_string(obj, pt->created, NULL) : NULL;
	if (rn->o->min_age > 0 && created && !infra_parse_time(created, &t) && rn->o->now - t < rn->o->min_age) {
		set_msg(it, "younger than --min-age (created %s)", created);
		finish(it, PURGE_SKIPPED);
		return;
	}
	if (it->o.type == ORPH_ROUTERS) {
		json_object *routes = NULL, *gw = NULL;
		if ((json_object_object_get_ex(obj, "routes", &routes) && json_object_is_type(routes, json_type_array) &&
		     json_object_array_length(routes) > 0) ||
		    (json_object_object_get_ex(obj, "external_gateway_info", &gw) && gw &&
		     json_object_is_type(gw, json_type_object) && json_object_object_length(gw) > 0))
			it->flags |= F_NEED_CLEAR;
	}
	if (it->o.type == ORPH_PORTS) {
		const char *owner = infra_json_opt_string(obj, "device_owner", "");
		const char *dev = infra_json_opt_string(obj, "device_id", "");
		if (!strncmp(owner, "network:router_interface", 24) && *dev) {
			it->flags |= F_IFACE_PORT;
			free(it->aux);
			it->aux = strdup(dev);
		}
		if (!strcmp(owner, "network:dhcp")) {
			set_msg(it, "DHCP port: goes with its network");
			finish(it, PURGE_SKIPPED);
			return;
		}
	}
	switch (it->o.reason) {
	case ORPH_REASON_NAME:
		if (!infra_orph_name_matches(m, name)) {
			set_msg(it, "name '%s' does not match", name);
			finish(it, PURGE_SKIPPED);
			return;
		}
		act(rn, it);
		return;
	case ORPH_REASON_OWNER:
	case ORPH_REASON_DEAD_OWNER:
		if (it->o.reason == ORPH_REASON_DEAD_OWNER)
			it->flags |= F_DEAD;
		if (!pt->project) {
			set_msg(it, "a %s has no owner project to re-check", infra_orph_types[it->o.type].name);
			finish(it, PURGE_SKIPPED);
			return;
		}
		check_project(rn, it, infra_json_opt_string(obj, pt->project, NULL));
		return;
	case ORPH_REASON_ATTACHED: {
		const char *now_parent = NULL;
		char url[2048];
		int ptype = -1;
		if (it->o.type == ORPH_PORTS) {
			const char *owner = infra_json_opt_string(obj, "device_owner", "");
			now_parent = infra_json_opt_string(obj, "device_id", NULL);
			ptype = !strncmp(owner, "compute:", 8) ? ORPH_SERVERS :
				!strncmp(owner, "network:router", 14) ? ORPH_ROUTERS : -1;
		} else if (it->o.type == ORPH_FLOATINGIPS) {
			now_parent = infra_json_opt_string(obj, "port_id", NULL);
			ptype = ORPH_PORTS;
		}
		if (ptype < 0 || !now_parent || !it->o.parent || strcmp(now_parent, it->o.parent)) {
			set_msg(it, "no longer attached to %s", it->o.parent ? it->o.parent : "its parent");
			finish(it, PURGE_SKIPPED);
			return;
		}
		it->flags |= ptype == ORPH_SERVERS ? F_PARENT_SERVER : ptype == ORPH_ROUTERS ? F_PARENT_ROUTER : F_PARENT_PORT;
		if (svc_url(rn, ptype, now_parent, NULL, url, sizeof(url))) {
			set_msg(it, "no endpoint to re-check the parent");
			finish(it, PURGE_FAILED);
			return;
		}
		queue(rn, it, S_PARENT, "GET", url, mv_of(ptype), NULL);
		return;
	}
	}
}

static void on_parent(struct run *rn, struct infra_purge_item *it, long status, json_object *body)
{
	int ptype = (it->flags & F_PARENT_SERVER) ? ORPH_SERVERS : (it->flags & F_PARENT_ROUTER) ? ORPH_ROUTERS : ORPH_PORTS;
	json_object *obj;

	if (status == 404) {
		act(rn, it); /* the parent is gone: this is what it left */
		return;
	}
	if (infra_json_get_object(body, ptypes[ptype].wrapper, &obj, NULL)) {
		set_msg(it, "unexpected answer re-checking the parent");
		finish(it, PURGE_FAILED);
		return;
	}
	if (infra_orph_name_matches(rn->o->matcher, infra_json_opt_string(obj, "name", ""))) {
		act(rn, it);
		return;
	}
	check_project(rn, it, infra_json_opt_string(obj, ptypes[ptype].project, NULL));
}

static void on_project(struct run *rn, struct infra_purge_item *it, long status, json_object *body)
{
	const char *pname;

	if (status == 404) {
		act(rn, it);
		return;
	}
	if (it->flags & F_DEAD) {
		set_msg(it, "owner project %s exists", it->ref);
		finish(it, PURGE_SKIPPED);
		return;
	}
	pname = infra_json_opt_string(body, "project.name", "");
	if (!infra_orph_name_matches(rn->o->matcher, pname)) {
		set_msg(it, "owner project '%s' does not match", pname);
		finish(it, PURGE_SKIPPED);
		return;
	}
	act(rn, it);
}

static void do_delete(struct run *rn, struct infra_purge_item *it)
{
	char url[2048];

	if (item_url(rn, it, url, sizeof(url))) {
		set_msg(it, "no endpoint for %s", infra_orph_services[infra_orph_types[it->o.type].service].name);
		finish(it, PURGE_FAILED);
		return;
	}
	if (it->o.type == ORPH_CONTAINERS)
		*strchr(url, '?') = '\0';
	queue(rn, it, S_DELETE, "DELETE", url, mv_of(it->o.type), NULL);
}

static void remove_iface(struct run *rn, struct infra_purge_item *it, const char *router, const char *port)
{
	char url[2048], body[512];
	json_object *b = json_object_new_object();

	json_object_object_add(b, "port_id", json_object_new_string(port));
	snprintf(body, sizeof(body), "%s", json_object_to_json_string_ext(b, JSON_C_TO_STRING_PLAIN));
	json_object_put(b);
	if (svc_url(rn, ORPH_ROUTERS, router, "/remove_router_interface", url, sizeof(url))) {
		set_msg(it, "no network endpoint");
		finish(it, PURGE_FAILED);
		return;
	}
	queue(rn, it, S_REMOVE_IFACE, "PUT", url, NULL, body);
}

static void act(struct run *rn, struct infra_purge_item *it)
{
	char url[2048], e[1024];

	switch (it->o.type) {
	case ORPH_ROUTERS:
		if (it->flags & F_NEED_CLEAR) {
			if (svc_url(rn, ORPH_ROUTERS, it->o.id, NULL, url, sizeof(url)))
				break;
			queue(rn, it, S_CLEAR_ROUTER, "PUT", url, NULL,
			      "{\"router\":{\"routes\":[],\"external_gateway_info\":{}}}");
			return;
		}
		if (!rn->ep[SVC_NETWORK] || enc(it->o.id, e, sizeof(e)))
			break;
		if (urlf(url, sizeof(url), "%s/ports?device_id=%s&fields=id&fields=device_owner", rn->ep[SVC_NETWORK], e))
			break;
		queue(rn, it, S_LIST_IFACES, "GET", url, NULL, NULL);
		return;
	case ORPH_PORTS:
		if (it->flags & F_IFACE_PORT) {
			remove_iface(rn, it, it->aux, it->o.id);
			return;
		}
		break;
	case ORPH_CONTAINERS:
		if (it->nobjs) {
			const char *base = rn->ep[SVC_OBJECT_STORE];
			char eo[2048];
			if (!base || enc(it->o.id, e, sizeof(e)))
				break;
			for (size_t i = 0; i < it->nobjs; i++) {
				if (enc(it->objs[i], eo, sizeof(eo)) || urlf(url, sizeof(url), "%s/%s/%s", base, e, eo))
					continue;
				queue(rn, it, S_DELETE_OBJ, "DELETE", url, NULL, NULL);
			}
			return;
		}
		break;
	default:
		break;
	}
	do_delete(rn, it);
}

static void on_list_ifaces(struct run *rn, struct infra_purge_item *it, json_object *body)
{
	json_object *ports;
	int n = 0;

	if (!infra_json_get_array(body, "ports", &ports, NULL)) {
		for (size_t i = 0; i < json_object_array_length(ports); i++) {
			json_object *p = json_object_array_get_idx(ports, i);
			const char *owner = infra_json_opt_string(p, "device_owner", "");
			const char *pid = infra_json_opt_string(p, "id", NULL);
			if (pid && !strncmp(owner, "network:router_interface", 24)) {
				remove_iface(rn, it, it->o.id, pid);
				n++;
			}
		}
	}
	if (!n)
		do_delete(rn, it);
}

static void step_cb(void *ud, long status, json_object *body, const struct infra_http_resp *resp, int rc,
		    const struct infra_err *err)
{
	struct stepctx *c = ud;
	struct run *rn = c->rn;
	struct infra_purge_item *it = c->it;
	enum step st = c->step;

	(void)resp;
	free(c);
	it->pending--;
	if (it->phase == PH_DONE && st != S_DELETE_OBJ && st != S_REMOVE_IFACE)
		return; /* already decided */
	switch (st) {
	case S_VERIFY:
		if (!rc && status == 404)
			finish(it, PURGE_GONE);
		else if (rc || status >= 300)
			bad_status(it, "re-check", status, body, rc, err);
		else
			on_verify(rn, it, status, body);
		break;
	case S_PROJECT:
		if (!rc && (status == 404 || (status >= 200 && status < 300)))
			on_project(rn, it, status, body);
		else
			bad_status(it, "owner re-check", status, body, rc, err);
		break;
	case S_PARENT:
		if (!rc && (status == 404 || (status >= 200 && status < 300)))
			on_parent(rn, it, status, body);
		else
			bad_status(it, "parent re-check", status, body, rc, err);
		break;
	case S_CLEAR_ROUTER:
		if (!rc && status == 404)
			finish(it, PURGE_GONE);
		else if (rc || status >= 300)
			bad_status(it, "clearing routes and gateway", status, body, rc, err);
		else {
			it->flags &= ~F_NEED_CLEAR;
			act(rn, it);
		}
		break;
	case S_LIST_IFACES:
		if (rc || status >= 300)
			bad_status(it, "listing router interfaces", status, body, rc, err);
		else
			on_list_ifaces(rn, it, body);
		break;
	case S_REMOVE_IFACE:
	case S_DELETE_OBJ:
		if (it->phase == PH_DONE) {
			/* a sibling request already failed the item */
		} else if (!rc && (status == 404 || (status >= 200 && status < 300))) {
			if (st == S_REMOVE_IFACE && (it->flags & F_IFACE_PORT)) {
				finish(it, status == 404 ? PURGE_GONE : PURGE_DELETED);
				break;
			}
		} else {
			bad_status(it, st == S_REMOVE_IFACE ? "removing a router interface" : "deleting an object", status,
				   body, rc, err);
		}
		if (it->pending == 0 && it->phase != PH_DONE)
			do_delete(rn, it);
		break;
	case S_DELETE:
		if (!rc && status == 404)
			finish(it, PURGE_GONE);
		else if (!rc && status >= 200 && status < 300) {
			if (infra_orph_types[it->o.type].async) {
				it->phase = PH_WAIT;
				it->wait_start = infra_now_mono();
			} else {
				finish(it, PURGE_DELETED);
			}
		} else {
			bad_status(it, "DELETE", status, body, rc, err);
		}
		break;
	case S_POLL: {
		json_object *obj = body;
		const char *st2;
		if (!rc && status == 404) {
			finish(it, PURGE_DELETED);
			break;
		}
		if (rc || status >= 300 || !body)
			break; /* keep waiting */
		if (ptypes[it->o.type].wrapper)
			json_object_object_get_ex(body, ptypes[it->o.type].wrapper, &obj);
		st2 = infra_json_opt_string(obj, it->o.type == ORPH_STACKS ? "stack_status" : "status", "");
		if (!strcmp(st2, "DELETE_COMPLETE") || !strcasecmp(st2, "deleted")) {
			finish(it, PURGE_DELETED);
		} else if (!strcmp(st2, "DELETE_FAILED") || !strcasecmp(st2, "error_deleting")) {
			set_msg(it, "delete failed: status %s%s%s", st2,
				*infra_json_opt_string(obj, "stack_status_reason", "") ? ": " : "",
				infra_json_opt_string(obj, "stack_status_reason", ""));
			finish(it, PURGE_FAILED);
		}
		break;
	}
	}
}

static void start(struct run *rn, struct infra_purge_item *it)
{
	char url[2048];

	item_reset(it);
	it->phase = PH_NONE;
	it->retry = 0;
	if (!rn->ep[infra_orph_types[it->o.type].service]) {
		const char *why = rn->ep_err[infra_orph_types[it->o.type].service];
		set_msg(it, "%s", why ? why : "no endpoint");
		finish(it, PURGE_FAILED);
		return;
	}
	if (item_url(rn, it, url, sizeof(url))) {
		set_msg(it, "cannot build the URL");
		finish(it, PURGE_FAILED);
		return;
	}
	queue(rn, it, S_VERIFY, "GET", url, mv_of(it->o.type), NULL);
}

static void sleep_seconds(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - floor(s)) * 1e9) };
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static int run_batch(struct run *rn, struct infra_err *err)
{
	int rc;

	rc = infra_http_batch_run(rn->b, err);
	return rc;
}

static int wait_async(struct run *rn, struct infra_purge *p, int tier, struct infra_err *err)
{
	double delay = 0.2;

	for (;;) {
		int waiting = 0;
		for (size_t i = 0; i < p->n; i++) {
			struct infra_purge_item *it = &p->items[i];
			char url[2048];
			if (infra_orph_types[it->o.type].tier != tier || it->phase != PH_WAIT)
				continue;
			if (infra_now_mono() - it->wait_start > rn->o->wait_timeout) {
				set_msg(it, "still deleting after %.0f s", rn->o->wait_timeout);
				finish(it, PURGE_FAILED);
				continue;
			}
			if (item_url(rn, it, url, sizeof(url)))
				continue;
			waiting++;
			queue(rn, it, S_POLL, "GET", url, mv_of(it->o.type), NULL);
		}
		if (!waiting)
			return 0;
		sleep_seconds(delay);
		if (run_batch(rn, err))
			return -1;
		delay = delay * 2 > 2 ? 2 : delay * 2;
	}
}

int infra_purge_run(struct infra_os *os, struct infra_purge *p, const struct infra_purge_opts *o,
		    struct infra_err *err)
{
	struct run rn;
	int rc = 0, rounds = o->rounds > 0 ? o->rounds : 5;

	memset(&rn, 0, sizeof(rn));
	rn.os = os;
	rn.o = o;
	/* endpoints of the services in the plan (+ identity and network for re-checks) */
	for (size_t i = 0; i < p->n; i++) {
		int svcs[3] = { infra_orph_types[p->items[i].o.type].service, SVC_IDENTITY, SVC_NETWORK };
		for (int k = 0; k < 3; k++) {
			int s = svcs[k];
			const char *url;
			struct infra_err e = INFRA_ERR_INIT;
			if (rn.ep[s] || rn.ep_err[s])
				continue;
			if (k > 0 && s != infra_orph_types[p->items[i].o.type].service &&
			    !(k == 1 && p->items[i].o.reason != ORPH_REASON_NAME) &&
			    !(k == 2 && (p->items[i].o.type == ORPH_ROUTERS || p->items[i].o.reason == ORPH_REASON_ATTACHED)))
				continue;
			if (infra_os_endpoint(os, infra_orph_services[s].catalog, &url, &e)) {
				rn.ep_err[s] = strdup(e.msg);
				continue;
			}
			if (s == SVC_IDENTITY) {
				size_t n = strlen(url);
				struct infra_buf b = INFRA_BUF_INIT;
				infra_buf_printf(&b, "%s%s", url, (n >= 3 && !strcmp(url + n - 3, "/v3")) ? "" : "/v3");
				rn.ep[s] = infra_buf_steal(&b, NULL);
			} else {
				rn.ep[s] = strdup(url);
			}
		}
	}
	rn.b = infra_http_batch_new(infra_os_http(os), o->jobs > 0 ? o->jobs : 8);
	if (!rn.b) {
		rc = infra_err_set(err, -ENOMEM, "cannot create a request batch");
		goto out;
	}
	for (int tier = 0; tier <= 15 && !rc; tier++) {
		double delay = o->round_delay > 0 ? o->round_delay : 1;
		for (int round = 0; round < rounds && !rc; round++) {
			int any = 0;
			for (size_t i = 0; i < p->n; i++) {
				struct infra_purge_item *it = &p->items[i];
				if (infra_orph_types[it->o.type].tier != tier || it->state != PURGE_PLANNED)
					continue;
				if (round > 0 && !it->retry)
					continue;
				it->attempts++;
				start(&rn, it);
				any = 1;
			}
			if (!any)
				break;
			if (run_batch(&rn, err) || wait_async(&rn, p, tier, err)) {
				rc = err && err->code ? err->code : -EIO;
				break;
			}
			any = 0;
			for (size_t i = 0; i < p->n; i++) {
				struct infra_purge_item *it = &p->items[i];
				if (infra_orph_types[it->o.type].tier != tier || it->state != PURGE_PLANNED)
					continue;
				if (!it->retry) {
					/* neither finished nor to retry: should not happen; be explicit */
					set_msg(it, "no result");
					finish(it, PURGE_FAILED);
				} else if (round == rounds - 1) {
					finish(it, PURGE_FAILED);
				} else {
					any = 1;
				}
			}
			if (any) {
				sleep_seconds(delay);
				delay = delay * 2 > 8 ? 8 : delay * 2;
			}
		}
	}
out:
	if (rn.b)
		infra_http_batch_free(rn.b);
	for (int s = 0; s < SVC_NSERVICES; s++) {
		free(rn.ep[s]);
		free(rn.ep_err[s]);
	}
	return rc;
}

/* ------------------------------------------------------------------ output */

static const char *state_name(int s)
{
	static const char *const n[] = { "planned", "deleted", "gone", "failed", "skipped" };
	return (s >= 0 && s <= 4) ? n[s] : "planned";
}

static json_object *item_json(const struct infra_purge_item *it, size_t step)
{
	json_object *o = json_object_new_object();
	const struct infra_orph_type *t = &infra_orph_types[it->o.type];

	json_object_object_add(o, "step", json_object_new_int((int)step));
	json_object_object_add(o, "tier", json_object_new_int(t->tier));
	json_object_object_add(o, "service", json_object_new_string(infra_orph_services[t->service].name));
	json_object_object_add(o, "type", json_object_new_string(t->name));
	json_object_object_add(o, "id", json_object_new_string(it->o.id));
	json_object_object_add(o, "name", json_object_new_string(it->o.name));
	json_object_object_add(o, "project", it->o.project ? json_object_new_string(it->o.project) : NULL);
	json_object_object_add(o, "reason", json_object_new_string(infra_orph_reason_name(it->o.reason)));
	json_object_object_add(o, "kind", json_object_new_string(infra_orph_kind_name(it->o.kind)));
	json_object_object_add(o, "result", json_object_new_string(state_name(it->state)));
	if (it->msg && (it->state == PURGE_FAILED || it->state == PURGE_SKIPPED))
		json_object_object_add(o, "message", json_object_new_string(it->msg));
	return o;
}

json_object *infra_purge_to_json(const struct infra_purge *p, int dry_run)
{
	json_object *d = json_object_new_object(), *plan = json_object_new_array();
	json_object *lists[5], *counts = json_object_new_object();

	for (int s = 1; s < 5; s++)
		lists[s] = json_object_new_array();
	for (size_t i = 0; i < p->n; i++) {
		json_object_array_add(plan, item_json(&p->items[i], i + 1));
		if (!dry_run && p->items[i].state > 0)
			json_object_array_add(lists[p->items[i].state], item_json(&p->items[i], i + 1));
	}
	json_object_object_add(d, "mode", json_object_new_string(dry_run ? "dry-run" : "confirm"));
	json_object_object_add(d, "plan", plan);
	json_object_object_add(d, "deleted", lists[PURGE_DELETED]);
	json_object_object_add(d, "gone", lists[PURGE_GONE]);
	json_object_object_add(d, "failed", lists[PURGE_FAILED]);
	json_object_object_add(d, "skipped", lists[PURGE_SKIPPED]);
	json_object_object_add(counts, "planned", json_object_new_int((int)p->n));
	for (int s = 1; s < 5; s++)
		json_object_object_add(counts, state_name(s), json_object_new_int((int)infra_purge_count(p, s)));
	json_object_object_add(d, "counts", counts);
	return d;
}

int infra_purge_to_prom(const struct infra_purge *p, int dry_run, struct infra_prom *prom, struct infra_err *err)
{
	size_t del[ORPH_NTYPES] = { 0 }, fail[ORPH_NTYPES] = { 0 }, plan[ORPH_NTYPES] = { 0 }, skip[ORPH_NTYPES] = { 0 };
	int rc;

	if (!p->n)
		return 0;
	for (size_t i = 0; i < p->n; i++) {
		int t = p->items[i].o.type, s = p->items[i].state;
		plan[t]++;
		del[t] += s == PURGE_DELETED || s == PURGE_GONE;
		fail[t] += s == PURGE_FAILED;
		skip[t] += s == PURGE_SKIPPED;
	}
	if ((rc = infra_prom_family(prom, "osmon_purge_planned", INFRA_PROM_GAUGE,
				    "Orphans planned for deletion by the last run, by service and type", err)) ||
	    (!dry_run && (rc = infra_prom_family(prom, "osmon_purge_deleted", INFRA_PROM_GAUGE,
						  "Orphans deleted (or found already gone) by the last run", err))) ||
	    (!dry_run && (rc = infra_prom_family(prom, "osmon_purge_failed", INFRA_PROM_GAUGE,
						  "Orphans the last run failed to delete", err))) ||
	    (!dry_run && (rc = infra_prom_family(prom, "osmon_purge_skipped", INFRA_PROM_GAUGE,
						  "Planned orphans left alone because their re-check failed", err))))
		return rc;
	for (int t = 0; t < ORPH_NTYPES; t++) {
		const char *svc = infra_orph_services[infra_orph_types[t].service].name, *ty = infra_orph_types[t].name;
		if (!plan[t])
			continue;
		if ((rc = infra_prom_addl(prom, "osmon_purge_planned", (double)plan[t], err, "service", svc, "type", ty, NULL)))
			return rc;
		if (dry_run)
			continue;
		if ((rc = infra_prom_addl(prom, "osmon_purge_deleted", (double)del[t], err, "service", svc, "type", ty, NULL)) ||
		    (rc = infra_prom_addl(prom, "osmon_purge_failed", (double)fail[t], err, "service", svc, "type", ty, NULL)) ||
		    (rc = infra_prom_addl(prom, "osmon_purge_skipped", (double)skip[t], err, "service", svc, "type", ty, NULL)))
			return rc;
	}
	return 0;
}

int infra_purge_to_text(const struct infra_purge *p, int dry_run, struct infra_buf *out)
{
	if (!p->n)
		return infra_buf_puts(out, "nothing to delete\n");
	if (dry_run)
		infra_buf_printf(out, "dry run: would delete %zu resources in this order (use --confirm to delete)\n", p->n);
	infra_buf_printf(out, "%-4s %-4s %-14s %-16s %-36s %-32s %s\n", "STEP", "TIER", "SERVICE", "TYPE", "ID",
			 "NAME", dry_run ? "REASON" : "REASON     RESULT");
	for (size_t i = 0; i < p->n; i++) {
		const struct infra_purge_item *it = &p->items[i];
		const struct infra_orph_type *t = &infra_orph_types[it->o.type];
		infra_buf_printf(out, "%-4zu %-4d %-14s %-16s %-36s %-32s ", i + 1, t->tier,
				 infra_orph_services[t->service].name, t->name, it->o.id,
				 it->o.name[0] ? it->o.name : "(unnamed)");
		if (dry_run)
			infra_buf_printf(out, "%s\n", infra_orph_reason_name(it->o.reason));
		else
			infra_buf_printf(out, "%-10s %s%s%s\n", infra_orph_reason_name(it->o.reason), state_name(it->state),
					 it->msg ? ": " : "", it->msg ? it->msg : "");
	}
	if (!dry_run)
		infra_buf_printf(out, "%zu deleted, %zu already gone, %zu failed, %zu skipped\n",
				 infra_purge_count(p, PURGE_DELETED), infra_purge_count(p, PURGE_GONE),
				 infra_purge_count(p, PURGE_FAILED), infra_purge_count(p, PURGE_SKIPPED));
	return 0;
}

/* ------------------------------------------------------------------ lock */

int infra_purge_lock(const char *path, const char *auth_url, int *fd, char *used, size_t used_size,
		     struct infra_err *err)
{
	uint64_t h = 1469598103934665603ULL;
	char name[64];

	if (path) {
		snprintf(used, used_size, "%s", path);
		return infra_lock_take(path, 0, fd, err);
	}
	for (const char *s = auth_url ? auth_url : ""; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	snprintf(name, sizeof(name), "osmon-purge-%016llx.lock", (unsigned long long)h);
	return infra_lock_default(name, 0, fd, used, used_size, err);
}
