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
};

static const struct ptype ptypes[ORPH_NTYPES] = {
	[ORPH_PROJECTS] = { "projects", "project" },
	[ORPH_USERS] = { "users", "user" },
	[ORPH_SERVERS] = { "servers", "server" },
	[ORPH_KEYPAIRS] = { "os-keypairs", "keypair" },
	[ORPH_SERVER_GROUPS] = { "os-server-groups", "server_group" },
	[ORPH_FLOATINGIPS] = { "floatingips", "floatingip" },
	[ORPH_TRUNKS] = { "trunks", "trunk" },
	[ORPH_ROUTERS] = { "routers", "router" },
	[ORPH_PORTS] = { "ports", "port" },
	[ORPH_SUBNETS] = { "subnets", "subnet" },
	[ORPH_NETWORKS] = { "networks", "network" },
	[ORPH_SECURITY_GROUPS] = { "security-groups", "security_group" },
	[ORPH_SNAPSHOTS] = { "snapshots", "snapshot" },
	[ORPH_BACKUPS] = { "backups", "backup" },
	[ORPH_VOLUMES] = { "volumes", "volume" },
	[ORPH_IMAGES] = { "images", NULL },
	[ORPH_CONTAINERS] = { "", NULL },
	[ORPH_STACKS] = { "stacks", "stack" },
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

/* ------------------------------------------------------------------ run */

enum step {
	S_NODE, S_NODE_PROJECT, S_NODE_USER, S_CLEAR_ROUTER, S_CLEAR_GATEWAY, S_LIST_IFACES, S_REMOVE_IFACE,
	S_REFRESH, S_DELETE_OBJ, S_DELETE, S_POLL, S_DETACH,
};

enum { PH_NONE = 0, PH_WAIT = 1, PH_DONE = 2 };
enum { F_NEED_CLEAR = 1, F_IFACE_PORT = 2, F_MODIFIED = 4 };

/* What the re-check fetched: the item (node 0), what it hangs off (1) and, for a
 * floating IP, what its port hangs off (2). */
#define LIVE_DEPTH 3

struct live_node {
	int type;
	char *id;
	json_object *obj;            /* the fresh GET, unwrapped (a reference we hold) */
	struct infra_orph_facts f;   /* borrowed from obj */
	int project;                 /* enum infra_orph_project_state */
	int parent, parent_kind;     /* the node above it qualified, with this kind */
	int user;                    /* keypairs: enum infra_orph_user_state */
};

struct purge_live {
	struct live_node n[LIVE_DEPTH];
	long revision;               /* neutron revision_number that was checked, -1 none */
};

struct run {
	struct infra_os *os;
	const struct infra_purge_opts *o;
	struct infra_http_batch *b;
	int admin;
	char *ep[SVC_NSERVICES];
	char *ep_err[SVC_NSERVICES];
	/* progress */
	const struct infra_purge *p;
	int tier, step, steps;
	double progress_last;
};

/* Report the current step's counts to opts.progress (force: now, else at most
 * ten times a second). */
static void progress(struct run *rn, int force)
{
	struct infra_purge_progress pr;
	char what[256] = "";
	size_t wl = 0;
	int seen[ORPH_NTYPES] = { 0 };
	double now;

	if (!rn->o->progress || !rn->p)
		return;
	now = infra_now_mono();
	if (!force && now - rn->progress_last < 0.1)
		return;
	rn->progress_last = now;
	memset(&pr, 0, sizeof(pr));
	for (size_t i = 0; i < rn->p->n; i++) {
		const struct infra_purge_item *it = &rn->p->items[i];
		if (infra_orph_types[it->o.type].tier != rn->tier)
			continue;
		if (!seen[it->o.type] && wl < sizeof(what) - 1) {
			int n = snprintf(what + wl, sizeof(what) - wl, "%s%s", wl ? ", " : "", infra_orph_types[it->o.type].name);
			wl += n > 0 ? (size_t)n : 0;
			seen[it->o.type] = 1;
		}
		switch (it->state) {
		case PURGE_DELETED:
		case PURGE_GONE:
			pr.deleted++;
			break;
		case PURGE_DETACHED:
			pr.detached++;
			break;
		case PURGE_SKIPPED:
			pr.skipped++;
			break;
		case PURGE_FAILED:
			pr.failed++;
			break;
		default:
			pr.remaining++;
		}
	}
	pr.step = rn->step;
	pr.steps = rn->steps;
	pr.what = what;
	pr.step_change = force;
	rn->o->progress(rn->o->progress_ud, &pr);
}

struct stepctx {
	struct run *rn;
	struct infra_purge_item *it;
	enum step step;
	int level;
};

static void live_free(struct purge_live *l)
{
	if (!l)
		return;
	for (int i = 0; i < LIVE_DEPTH; i++) {
		free(l->n[i].id);
		if (l->n[i].obj)
			json_object_put(l->n[i].obj);
	}
	free(l);
}

static void item_reset(struct infra_purge_item *it)
{
	for (size_t i = 0; i < it->nobjs; i++)
		free(it->objs[i]);
	free(it->objs);
	it->objs = NULL;
	it->nobjs = 0;
	live_free(it->live);
	it->live = NULL;
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

static void skip(struct infra_purge_item *it, int why)
{
	it->skip = why;
	finish(it, PURGE_SKIPPED);
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

/* Where a container is: its account's project (PROJECT_ID/NAME in another
 * account, else the input's project, else the token's own) and its name. */
static int container_loc(struct run *rn, const struct infra_purge_item *it, char *acct, size_t asize,
			 const char **name)
{
	const char *slash = strchr(it->o.id, '/');
	const char *own = infra_os_project_id(rn->os);

	if (slash) {
		if ((size_t)(slash - it->o.id) >= asize || !slash[1])
			return -1;
		memcpy(acct, it->o.id, (size_t)(slash - it->o.id));
		acct[slash - it->o.id] = '\0';
		*name = slash + 1;
	} else {
		if ((size_t)snprintf(acct, asize, "%s", it->o.project && *it->o.project ? it->o.project :
				      own ? own : "") >= asize)
			return -1;
		*name = it->o.id;
	}
	return *acct ? 0 : -1;
}

/* URL of the container (its account's, INFRA_ORPH_RESELLER_ROLE) */
static int container_url(struct run *rn, const struct infra_purge_item *it, char *out, size_t size)
{
	const char *base = rn->ep[SVC_OBJECT_STORE], *own = infra_os_project_id(rn->os), *name;
	char acct[256], abase[2048], e[1024];

	if (!base || container_loc(rn, it, acct, sizeof(acct), &name) || enc(name, e, sizeof(e)))
		return -1;
	if (!own || strcmp(acct, own)) {
		if (infra_orph_swift_account_url(base, own, acct, abase, sizeof(abase)))
			return -1;
		base = abase;
	}
	return urlf(out, size, "%s/%s", base, e);
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
	if (it->o.type == ORPH_CONTAINERS) {
		char c[2048];
		return container_url(rn, it, c, sizeof(c)) ? -1 : urlf(out, size, "%s?format=json&limit=10000", c);
	}
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

static void queue_hdr(struct run *rn, struct infra_purge_item *it, enum step st, int level, const char *method,
		      const char *url, const char *mv, const char *body, const char *header)
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
	c->level = level;
	it->pending++;
	if (infra_os_batch_request_hdr(rn->os, rn->b, method, url, mv, body, header, step_cb, c)) {
		it->pending--;
		free(c);
		set_msg(it, "cannot queue %s %s", method, url);
		finish(it, PURGE_FAILED);
	}
}

static void queue(struct run *rn, struct infra_purge_item *it, enum step st, const char *method, const char *url,
		  const char *mv, const char *body)
{
	queue_hdr(rn, it, st, 0, method, url, mv, body, NULL);
}

/* Neutron: make the change conditional on the revision that was checked. */
static const char *if_match(const struct infra_purge_item *it, char *buf, size_t size)
{
	if (infra_orph_types[it->o.type].service != SVC_NETWORK || !it->live || it->live->revision < 0)
		return NULL;
	snprintf(buf, size, "If-Match: revision_number=%ld", it->live->revision);
	return buf;
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

/* 412 from neutron: what was checked is not what is there now */
static void changed(struct infra_purge_item *it, const char *what, json_object *body)
{
	const char *m = infra_os_error_message(body);

	set_msg(it, "changed between the re-check and the %s (HTTP 412%s%s): left alone", what, m ? ": " : "",
		m ? m : "");
	skip(it, PURGE_SKIP_CHANGED);
}

static void act(struct run *rn, struct infra_purge_item *it);
static void resolve(struct run *rn, struct infra_purge_item *it, int level);

static void get_node(struct run *rn, struct infra_purge_item *it, int level)
{
	struct live_node *n = &it->live->n[level];
	char url[2048];

	if (level == 0 ? item_url(rn, it, url, sizeof(url)) : svc_url(rn, n->type, n->id, NULL, url, sizeof(url))) {
		if (level == 0 && it->o.type == ORPH_CONTAINERS) {
			set_msg(it, "cannot address its Swift account (the object-store endpoint must end in the "
				"token's project id, the account's project id must be a plain id)");
			finish(it, PURGE_FAILED);
		} else if (level == 0) {
			set_msg(it, "cannot build the URL");
			finish(it, PURGE_FAILED);
		} else {
			resolve(rn, it, level - 1); /* cannot look: it does not count as an orphan */
		}
		return;
	}
	queue_hdr(rn, it, S_NODE, level, "GET", url, mv_of(n->type), NULL, NULL);
}

/* after the name (and the owner project): what it hangs off */
static void node_parent(struct run *rn, struct infra_purge_item *it, int level)
{
	struct live_node *n = &it->live->n[level];
	const char *pid;
	int pt = infra_orph_parent(&n->f, &pid);

	if (pt < 0 || level + 1 >= LIVE_DEPTH || !rn->ep[infra_orph_types[pt].service]) {
		resolve(rn, it, level);
		return;
	}
	it->live->n[level + 1].type = pt;
	it->live->n[level + 1].id = strdup(pid);
	if (!it->live->n[level + 1].id) {
		set_msg(it, "out of memory");
		finish(it, PURGE_FAILED);
		return;
	}
	get_node(rn, it, level + 1);
}

/* after the GET: what else the rule needs to know */
static void node_context(struct run *rn, struct infra_purge_item *it, int level)
{
	struct live_node *n = &it->live->n[level];
	char url[2048];

	if (n->type == ORPH_KEYPAIRS && n->user == ORPH_USER_UNKNOWN) {
		/* a keypair is addressed by name and user: whose is it? */
		const char *me = infra_os_user_id(rn->os), *uid = it->o.user_id;
		n->f.user_id = uid ? uid : me;
		if (!uid || (me && !strcmp(uid, me)))
			n->user = ORPH_USER_OWN;
		else if (!rn->admin || svc_url(rn, ORPH_USERS, uid, NULL, url, sizeof(url)))
			n->user = ORPH_USER_OTHER;
		else {
			queue_hdr(rn, it, S_NODE_USER, level, "GET", url, NULL, NULL, NULL);
			return;
		}
	}
	if (infra_orph_name_matches(rn->o->matcher, n->f.name)) {
		resolve(rn, it, level);
		return;
	}
	if (infra_orph_owner_relevant(&n->f) && rn->admin &&
	    !svc_url(rn, ORPH_PROJECTS, n->f.project, NULL, url, sizeof(url))) {
		queue_hdr(rn, it, S_NODE_PROJECT, level, "GET", url, NULL, NULL, NULL);
		return;
	}
	node_parent(rn, it, level);
}

static void detach(struct run *rn, struct infra_purge_item *it, const char *parent);

static void decide(struct run *rn, struct infra_purge_item *it, const struct infra_orph_verdict *v)
{
	it->checked = 1;
	it->live_reason = v->orphan ? v->reason : -1;
	it->live_kind = v->kind;
	if (v->young) {
		set_msg(it, "%s", v->why);
		skip(it, PURGE_SKIP_YOUNG);
	} else if (!v->orphan) {
		set_msg(it, "not an orphan now: %s", v->why);
		skip(it, PURGE_SKIP_NOT_ORPHAN);
	} else if (v->reason == ORPH_REASON_ATTACHED) {
		detach(rn, it, v->parent);
	} else {
		act(rn, it);
	}
}

/* the rule, on a node whose context is complete; then the node above it */
static void resolve(struct run *rn, struct infra_purge_item *it, int level)
{
	struct live_node *n = &it->live->n[level];
	struct infra_orph_ctx cx = { 0 };
	struct infra_orph_verdict v;

	cx.project = n->project;
	cx.user = n->user;
	cx.parent = n->parent;
	cx.parent_kind = n->parent_kind;
	cx.min_age = rn->o->min_age;
	cx.now = rn->o->now;
	infra_orph_qualify(rn->o->matcher, &n->f, &cx, &v);
	if (level == 0) {
		decide(rn, it, &v);
		return;
	}
	it->live->n[level - 1].parent = v.orphan;
	it->live->n[level - 1].parent_kind = v.kind;
	resolve(rn, it, level - 1);
}

static char *sdup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

static void on_node(struct run *rn, struct infra_purge_item *it, int level, json_object *body)
{
	struct live_node *n = &it->live->n[level];
	json_object *obj = body;

	if (n->type == ORPH_CONTAINERS) {
		size_t cnt = body && json_object_is_type(body, json_type_array) ? json_object_array_length(body) : 0;
		char acct[256];
		const char *cname;
		memset(&n->f, 0, sizeof(n->f));
		n->f.type = ORPH_CONTAINERS;
		/* the account it was fetched from is its project (the rule checks that one) */
		if (container_loc(rn, it, acct, sizeof(acct), &cname) || !(it->aux = strdup(acct))) {
			set_msg(it, "out of memory");
			finish(it, PURGE_FAILED);
			return;
		}
		n->f.id = it->o.id;
		n->f.name = cname;
		n->f.project = it->aux;
		if (!it->o.project || strcmp(it->o.project, acct)) {
			free(it->o.project);
			it->o.project = strdup(acct);
		}
		it->objs = calloc(cnt ? cnt : 1, sizeof(char *));
		for (size_t i = 0; it->objs && i < cnt; i++) {
			const char *on = infra_json_opt_string(json_object_array_get_idx(body, i), "name", NULL);
			if (on)
				it->objs[it->nobjs++] = strdup(on);
		}
		node_context(rn, it, level);
		return;
	}
	if (ptypes[n->type].wrapper && infra_json_get_object(body, ptypes[n->type].wrapper, &obj, NULL)) {
		set_msg(it, "unexpected answer to GET %s %s (no '%s')", infra_orph_types[n->type].name, n->id,
			ptypes[n->type].wrapper);
		finish(it, PURGE_FAILED);
		return;
	}
	n->obj = json_object_get(obj);
	infra_orph_facts_from_json(n->type, n->obj, &n->f);
	if (!n->f.id || strcmp(n->f.id, n->id)) {
		/* an API that resolves names too (heat's NAME/ID) answered with another resource */
		if (level > 0) {
			it->live->n[level - 1].parent = 0;
			resolve(rn, it, level - 1);
			return;
		}
		set_msg(it, "asked for %s %s, the API answered with %s: left alone", infra_orph_types[n->type].name,
			n->id, n->f.id ? n->f.id : "no id");
		skip(it, PURGE_SKIP_NOT_ORPHAN);
		return;
	}
	if (level > 0) {
		node_context(rn, it, level);
		return;
	}
	/* report what is there, not what the input said */
	{
		char *nm = sdup_or_empty(n->f.name), *pr = n->f.project ? strdup(n->f.project) : NULL;
		if (!nm || (n->f.project && !pr)) {
			free(nm);
			free(pr);
			set_msg(it, "out of memory");
			finish(it, PURGE_FAILED);
			return;
		}
		free(it->o.name);
		it->o.name = nm;
		if (n->type != ORPH_KEYPAIRS) {
			free(it->o.project);
			it->o.project = pr;
		} else {
			free(pr);
		}
	}
	if (infra_orph_types[n->type].service == SVC_NETWORK)
		it->live->revision = (long)infra_json_opt_int64(obj, "revision_number", -1);
	if (n->type == ORPH_ROUTERS) {
		json_object *routes = NULL, *gw = NULL;
		if ((json_object_object_get_ex(obj, "routes", &routes) && json_object_is_type(routes, json_type_array) &&
		     json_object_array_length(routes) > 0) ||
		    (json_object_object_get_ex(obj, "external_gateway_info", &gw) && gw &&
		     json_object_is_type(gw, json_type_object) && json_object_object_length(gw) > 0))
			it->flags |= F_NEED_CLEAR;
	}
	if (n->type == ORPH_PORTS) {
		const char *owner = infra_json_opt_string(obj, "device_owner", "");
		const char *dev = infra_json_opt_string(obj, "device_id", "");
		if (!strncmp(owner, "network:router_interface", 24) && *dev) {
			it->flags |= F_IFACE_PORT;
			free(it->aux);
			it->aux = strdup(dev);
		}
	}
	node_context(rn, it, level);
}

static void on_project(struct run *rn, struct infra_purge_item *it, int level, long status, json_object *body)
{
	struct live_node *n = &it->live->n[level];

	if (status == 404) {
		n->project = ORPH_PROJ_GONE;
	} else {
		const char *pname = infra_json_opt_string(body, "project.name", "");
		n->project = infra_orph_name_matches(rn->o->matcher, pname) ? ORPH_PROJ_ORPHAN : ORPH_PROJ_OTHER;
	}
	if (n->project == ORPH_PROJ_ORPHAN)
		resolve(rn, it, level); /* owner comes before attached */
	else
		node_parent(rn, it, level);
}

static void do_delete(struct run *rn, struct infra_purge_item *it)
{
	char url[2048], hdr[64];

	if (item_url(rn, it, url, sizeof(url))) {
		set_msg(it, "no endpoint for %s", infra_orph_services[infra_orph_types[it->o.type].service].name);
		finish(it, PURGE_FAILED);
		return;
	}
	if (it->o.type == ORPH_CONTAINERS)
		*strchr(url, '?') = '\0';
	queue_hdr(rn, it, S_DELETE, 0, "DELETE", url, mv_of(it->o.type), NULL, if_match(it, hdr, sizeof(hdr)));
}

/* a router we emptied first: is it still the one that was checked? */
static void before_delete(struct run *rn, struct infra_purge_item *it)
{
	char url[2048];

	if (!(it->flags & F_MODIFIED)) {
		do_delete(rn, it);
		return;
	}
	if (svc_url(rn, it->o.type, it->o.id, NULL, url, sizeof(url))) {
		set_msg(it, "no network endpoint");
		finish(it, PURGE_FAILED);
		return;
	}
	queue(rn, it, S_REFRESH, "GET", url, NULL, NULL);
}

static void on_refresh(struct run *rn, struct infra_purge_item *it, json_object *body)
{
	json_object *obj;
	struct infra_orph_facts f;

	if (infra_json_get_object(body, ptypes[it->o.type].wrapper, &obj, NULL)) {
		set_msg(it, "unexpected answer to GET (no '%s')", ptypes[it->o.type].wrapper);
		finish(it, PURGE_FAILED);
		return;
	}
	infra_orph_facts_from_json(it->o.type, obj, &f);
	if (strcmp(f.name ? f.name : "", it->o.name) ||
	    strcmp(f.project ? f.project : "", it->o.project ? it->o.project : "")) {
		set_msg(it, "changed while it was being emptied (now '%s'): left alone", f.name ? f.name : "");
		skip(it, PURGE_SKIP_CHANGED);
		return;
	}
	it->live->revision = (long)infra_json_opt_int64(obj, "revision_number", -1);
	do_delete(rn, it);
}

static void remove_iface(struct run *rn, struct infra_purge_item *it, enum step st, const char *router,
			 const char *port)
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
	queue(rn, it, st, "PUT", url, NULL, body);
}

static void detach(struct run *rn, struct infra_purge_item *it, const char *parent)
{
	char url[2048], hdr[64];
	const struct live_node *n = &it->live->n[0];
	const char *pid;
	int pt = infra_orph_parent(&n->f, &pid);

	free(it->msg);
	it->msg = NULL;
	if (it->o.type == ORPH_FLOATINGIPS) {
		if (svc_url(rn, ORPH_FLOATINGIPS, it->o.id, NULL, url, sizeof(url))) {
			set_msg(it, "no network endpoint");
			finish(it, PURGE_FAILED);
			return;
		}
		set_msg(it, "disassociated from port %s (an orphan); the floating IP is not Rally's: kept", parent);
		queue_hdr(rn, it, S_DETACH, 0, "PUT", url, NULL, "{\"floatingip\":{\"port_id\":null}}",
			  if_match(it, hdr, sizeof(hdr)));
		return;
	}
	if (it->o.type == ORPH_PORTS && pt == ORPH_ROUTERS) {
		set_msg(it, "removed from router %s (an orphan); the port is not Rally's", parent);
		remove_iface(rn, it, S_DETACH, parent, it->o.id);
		return;
	}
	set_msg(it, "attached to %s %s (an orphan), not Rally's itself: left alone (%s)",
		pt >= 0 ? infra_orph_types[pt].name : "a resource", parent,
		pt == ORPH_SERVERS ? "nova releases or deletes it with the server" : "nothing to detach it with");
	skip(it, PURGE_SKIP_ATTACHED);
}

static void act(struct run *rn, struct infra_purge_item *it)
{
	char url[2048], e[1024], hdr[64];

	switch (it->o.type) {
	case ORPH_ROUTERS:
		if (it->flags & F_NEED_CLEAR) {
			if (svc_url(rn, ORPH_ROUTERS, it->o.id, NULL, url, sizeof(url)))
				break;
			/* Two PUTs: the real Neutron (21.0) answers a gateway clearing with If-Match 412
			 * even at the current revision, and removes the gateway all the same (see
			 * docs/devcloud.md).  So the routes go first, conditional on the checked
			 * revision, and the gateway right after without If-Match; the router is
			 * fetched again before its conditional DELETE (F_MODIFIED). */
			queue_hdr(rn, it, S_CLEAR_ROUTER, 0, "PUT", url, NULL, "{\"router\":{\"routes\":[]}}",
				  if_match(it, hdr, sizeof(hdr)));
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
			remove_iface(rn, it, S_REMOVE_IFACE, it->aux, it->o.id);
			return;
		}
		break;
	case ORPH_CONTAINERS:
		if (it->nobjs) {
			char eo[2048], cu[2048];
			if (container_url(rn, it, cu, sizeof(cu)))
				break;
			for (size_t i = 0; i < it->nobjs; i++) {
				if (enc(it->objs[i], eo, sizeof(eo)) || urlf(url, sizeof(url), "%s/%s", cu, eo))
					continue;
				queue(rn, it, S_DELETE_OBJ, "DELETE", url, NULL, NULL);
			}
			return;
		}
		break;
	default:
		break;
	}
	before_delete(rn, it);
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
				remove_iface(rn, it, S_REMOVE_IFACE, it->o.id, pid);
				n++;
			}
		}
	}
	if (n)
		it->flags |= F_MODIFIED;
	else
		before_delete(rn, it);
}

static int ok2xx(int rc, long status)
{
	return !rc && status >= 200 && status < 300;
}

static void step_do(void *ud, long status, json_object *body, const struct infra_http_resp *resp, int rc,
		    const struct infra_err *err);

/* every answer: advance the item, then tell the caller where the step is */
static void step_cb(void *ud, long status, json_object *body, const struct infra_http_resp *resp, int rc,
		    const struct infra_err *err)
{
	struct run *rn = ((struct stepctx *)ud)->rn;

	step_do(ud, status, body, resp, rc, err);
	progress(rn, 0);
}

static void step_do(void *ud, long status, json_object *body, const struct infra_http_resp *resp, int rc,
		    const struct infra_err *err)
{
	struct stepctx *c = ud;
	struct run *rn = c->rn;
	struct infra_purge_item *it = c->it;
	enum step st = c->step;
	int level = c->level;

	(void)resp;
	free(c);
	it->pending--;
	if (it->phase == PH_DONE && st != S_DELETE_OBJ && st != S_REMOVE_IFACE)
		return; /* already decided */
	switch (st) {
	case S_NODE:
		if (!rc && status == 404) {
			if (level == 0) {
				finish(it, PURGE_GONE);
			} else {
				it->live->n[level - 1].parent = 0; /* what it hung off is gone */
				resolve(rn, it, level - 1);
			}
		} else if (!ok2xx(rc, status)) {
			bad_status(it, level ? "re-checking what it hangs off" : "re-check", status, body, rc, err);
		} else {
			on_node(rn, it, level, body);
		}
		break;
	case S_NODE_PROJECT:
		if (!rc && (status == 404 || (status >= 200 && status < 300)))
			on_project(rn, it, level, status, body);
		else
			bad_status(it, "owner re-check", status, body, rc, err);
		break;
	case S_NODE_USER:
		if (!rc && (status == 404 || (status >= 200 && status < 300))) {
			it->live->n[level].user = status == 404 ? ORPH_USER_OTHER :
				infra_orph_name_matches(rn->o->matcher, infra_json_opt_string(body, "user.name", "")) ?
				ORPH_USER_ORPHAN : ORPH_USER_OTHER;
			node_context(rn, it, level);
		} else {
			bad_status(it, "keypair owner re-check", status, body, rc, err);
		}
		break;
	case S_CLEAR_ROUTER:  /* the routes (If-Match), then the gateway (without, see act()) */
	case S_CLEAR_GATEWAY: {
		char url[2048];
		if (!rc && status == 404) {
			finish(it, PURGE_GONE);
		} else if (!rc && status == 412 && st == S_CLEAR_ROUTER) {
			changed(it, "clearing of its routes and gateway", body);
		} else if (!ok2xx(rc, status)) {
			bad_status(it, "clearing routes and gateway", status, body, rc, err);
		} else if (st == S_CLEAR_GATEWAY) {
			it->flags &= ~F_NEED_CLEAR;
			it->flags |= F_MODIFIED;
			act(rn, it);
		} else if (svc_url(rn, ORPH_ROUTERS, it->o.id, NULL, url, sizeof(url))) {
			set_msg(it, "no network endpoint");
			finish(it, PURGE_FAILED);
		} else {
			queue(rn, it, S_CLEAR_GATEWAY, "PUT", url, NULL, "{\"router\":{\"external_gateway_info\":{}}}");
		}
		break;
	}
	case S_LIST_IFACES:
		if (!ok2xx(rc, status))
			bad_status(it, "listing router interfaces", status, body, rc, err);
		else
			on_list_ifaces(rn, it, body);
		break;
	case S_REFRESH:
		if (!rc && status == 404)
			finish(it, PURGE_GONE);
		else if (!ok2xx(rc, status))
			bad_status(it, "re-check before the DELETE", status, body, rc, err);
		else
			on_refresh(rn, it, body);
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
			before_delete(rn, it);
		break;
	case S_DETACH:
		if (!rc && status == 404 && it->o.type == ORPH_FLOATINGIPS) {
			finish(it, PURGE_GONE);
		} else if (!rc && status == 404) {
			set_msg(it, "no longer an interface of router %s", it->aux ? it->aux : "?");
			skip(it, PURGE_SKIP_NOT_ORPHAN);
		} else if (!rc && status == 412) {
			changed(it, "detach", body);
		} else if (ok2xx(rc, status)) {
			finish(it, PURGE_DETACHED);
		} else {
			bad_status(it, "detach", status, body, rc, err);
		}
		break;
	case S_DELETE:
		if (!rc && status == 404)
			finish(it, PURGE_GONE);
		else if (!rc && status == 412)
			changed(it, "DELETE", body);
		else if (ok2xx(rc, status)) {
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
	item_reset(it);
	it->phase = PH_NONE;
	it->retry = 0;
	if (!rn->ep[infra_orph_types[it->o.type].service]) {
		const char *why = rn->ep_err[infra_orph_types[it->o.type].service];
		set_msg(it, "%s", why ? why : "no endpoint");
		finish(it, PURGE_FAILED);
		return;
	}
	it->live = calloc(1, sizeof(*it->live));
	if (!it->live || !(it->live->n[0].id = strdup(it->o.id))) {
		set_msg(it, "out of memory");
		finish(it, PURGE_FAILED);
		return;
	}
	it->live->n[0].type = it->o.type;
	it->live->revision = -1;
	get_node(rn, it, 0);
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
	rn.admin = infra_os_is_admin(os);
	/* endpoints of the services in the plan, and of what the re-checks look at:
	 * keystone (owner projects), neutron and nova (what ports and floating IPs hang off) */
	for (size_t i = 0; i < p->n; i++) {
		int own = infra_orph_types[p->items[i].o.type].service;
		int svcs[4] = { own, SVC_IDENTITY, own == SVC_NETWORK ? SVC_NETWORK : -1, own == SVC_NETWORK ? SVC_COMPUTE : -1 };
		for (int k = 0; k < 4; k++) {
			int s = svcs[k];
			const char *url;
			struct infra_err e = INFRA_ERR_INIT;
			if (s < 0 || rn.ep[s] || rn.ep_err[s] || (s == SVC_IDENTITY && !rn.admin && own != SVC_IDENTITY))
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
	rn.p = p;
	for (int tier = 0; tier <= 15; tier++)
		for (size_t i = 0; i < p->n; i++)
			if (infra_orph_types[p->items[i].o.type].tier == tier) {
				rn.steps++;
				break;
			}
	for (int tier = 0; tier <= 15 && !rc; tier++) {
		double delay = o->round_delay > 0 ? o->round_delay : 1;
		int here = 0;
		for (size_t i = 0; i < p->n && !here; i++)
			here = infra_orph_types[p->items[i].o.type].tier == tier;
		if (!here)
			continue;
		rn.tier = tier;
		rn.step++;
		progress(&rn, 1);
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
		progress(&rn, 1);
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

static const char *const state_names[] = { "planned", "deleted", "gone", "failed", "skipped", "detached" };
#define NSTATES 6

static const char *state_name(int s)
{
	return (s >= 0 && s < NSTATES) ? state_names[s] : "planned";
}

const char *infra_purge_skip_name(int s)
{
	static const char *const n[] = { "", "not-orphan", "young", "changed", "attached" };
	return (s > 0 && s <= PURGE_SKIP_ATTACHED) ? n[s] : "not-orphan";
}

/* the reason it was acted on: re-derived from live state when it was checked */
static int item_reason(const struct infra_purge_item *it)
{
	return it->checked && it->live_reason >= 0 ? it->live_reason : it->o.reason;
}

static json_object *item_json(const struct infra_purge_item *it, size_t step)
{
	json_object *o = json_object_new_object();
	const struct infra_orph_type *t = &infra_orph_types[it->o.type];
	int reason = item_reason(it);

	json_object_object_add(o, "step", json_object_new_int((int)step));
	json_object_object_add(o, "tier", json_object_new_int(t->tier));
	json_object_object_add(o, "service", json_object_new_string(infra_orph_services[t->service].name));
	json_object_object_add(o, "type", json_object_new_string(t->name));
	json_object_object_add(o, "id", json_object_new_string(it->o.id));
	json_object_object_add(o, "name", json_object_new_string(it->o.name));
	json_object_object_add(o, "project", it->o.project ? json_object_new_string(it->o.project) : NULL);
	json_object_object_add(o, "reason", json_object_new_string(infra_orph_reason_name(reason)));
	if (reason != it->o.reason)
		json_object_object_add(o, "input_reason", json_object_new_string(infra_orph_reason_name(it->o.reason)));
	json_object_object_add(o, "kind", json_object_new_string(
		infra_orph_kind_name(it->checked && it->live_reason >= 0 ? it->live_kind : it->o.kind)));
	json_object_object_add(o, "action", json_object_new_string(reason == ORPH_REASON_ATTACHED ? "detach" : "delete"));
	json_object_object_add(o, "result", json_object_new_string(state_name(it->state)));
	if (it->state == PURGE_SKIPPED)
		json_object_object_add(o, "skip_reason", json_object_new_string(infra_purge_skip_name(it->skip)));
	if (it->msg && (it->state == PURGE_FAILED || it->state == PURGE_SKIPPED || it->state == PURGE_DETACHED))
		json_object_object_add(o, "message", json_object_new_string(it->msg));
	return o;
}

json_object *infra_purge_to_json(const struct infra_purge *p, int dry_run)
{
	json_object *d = json_object_new_object(), *plan = json_object_new_array();
	json_object *lists[NSTATES], *counts = json_object_new_object();

	for (int s = 1; s < NSTATES; s++)
		lists[s] = json_object_new_array();
	for (size_t i = 0; i < p->n; i++) {
		json_object_array_add(plan, item_json(&p->items[i], i + 1));
		if (!dry_run && p->items[i].state > 0 && p->items[i].state < NSTATES)
			json_object_array_add(lists[p->items[i].state], item_json(&p->items[i], i + 1));
	}
	json_object_object_add(d, "mode", json_object_new_string(dry_run ? "dry-run" : "confirm"));
	json_object_object_add(d, "plan", plan);
	for (int s = 1; s < NSTATES; s++)
		json_object_object_add(d, state_name(s), lists[s]);
	json_object_object_add(counts, "planned", json_object_new_int((int)p->n));
	for (int s = 1; s < NSTATES; s++)
		json_object_object_add(counts, state_name(s), json_object_new_int((int)infra_purge_count(p, s)));
	json_object_object_add(d, "counts", counts);
	return d;
}

int infra_purge_to_prom(const struct infra_purge *p, int dry_run, struct infra_prom *prom, struct infra_err *err)
{
	size_t del[ORPH_NTYPES] = { 0 }, fail[ORPH_NTYPES] = { 0 }, plan[ORPH_NTYPES] = { 0 }, skip_n[ORPH_NTYPES] = { 0 };
	size_t det[ORPH_NTYPES] = { 0 };
	int rc;

	if (!p->n)
		return 0;
	for (size_t i = 0; i < p->n; i++) {
		int t = p->items[i].o.type, s = p->items[i].state;
		plan[t]++;
		del[t] += s == PURGE_DELETED || s == PURGE_GONE;
		fail[t] += s == PURGE_FAILED;
		skip_n[t] += s == PURGE_SKIPPED;
		det[t] += s == PURGE_DETACHED;
	}
	if ((rc = infra_prom_family(prom, "osmon_purge_planned", INFRA_PROM_GAUGE,
				    "Orphans planned for deletion by the last run, by service and type", err)) ||
	    (!dry_run && (rc = infra_prom_family(prom, "osmon_purge_deleted", INFRA_PROM_GAUGE,
						  "Orphans deleted (or found already gone) by the last run", err))) ||
	    (!dry_run && (rc = infra_prom_family(prom, "osmon_purge_detached", INFRA_PROM_GAUGE,
						  "Resources the last run detached from an orphan and kept (not Rally's)", err))) ||
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
		    (rc = infra_prom_addl(prom, "osmon_purge_detached", (double)det[t], err, "service", svc, "type", ty, NULL)) ||
		    (rc = infra_prom_addl(prom, "osmon_purge_failed", (double)fail[t], err, "service", svc, "type", ty, NULL)) ||
		    (rc = infra_prom_addl(prom, "osmon_purge_skipped", (double)skip_n[t], err, "service", svc, "type", ty, NULL)))
			return rc;
	}
	return 0;
}

int infra_purge_to_text(const struct infra_purge *p, int dry_run, struct infra_buf *out)
{
	if (!p->n)
		return infra_buf_puts(out, "nothing to delete\n");
	if (dry_run)
		infra_buf_printf(out, "dry run: would act on %zu resources in this order, each re-checked first "
				 "(use --confirm to delete)\n", p->n);
	infra_buf_printf(out, "%-4s %-4s %-14s %-16s %-36s %-32s %s\n", "STEP", "TIER", "SERVICE", "TYPE", "ID",
			 "NAME", dry_run ? "REASON     ACTION" : "REASON     RESULT");
	for (size_t i = 0; i < p->n; i++) {
		const struct infra_purge_item *it = &p->items[i];
		const struct infra_orph_type *t = &infra_orph_types[it->o.type];
		int reason = item_reason(it);
		infra_buf_printf(out, "%-4zu %-4d %-14s %-16s %-36s %-32s ", i + 1, t->tier,
				 infra_orph_services[t->service].name, t->name, it->o.id,
				 it->o.name[0] ? it->o.name : "(unnamed)");
		if (dry_run)
			infra_buf_printf(out, "%-10s %s\n", infra_orph_reason_name(reason),
					 reason == ORPH_REASON_ATTACHED ? "detach" : "delete");
		else if (it->state == PURGE_SKIPPED)
			infra_buf_printf(out, "%-10s skipped (%s): %s\n", infra_orph_reason_name(reason),
					 infra_purge_skip_name(it->skip), it->msg ? it->msg : "");
		else
			infra_buf_printf(out, "%-10s %s%s%s\n", infra_orph_reason_name(reason), state_name(it->state),
					 it->msg ? ": " : "", it->msg ? it->msg : "");
	}
	if (!dry_run)
		infra_buf_printf(out, "%zu deleted, %zu detached, %zu already gone, %zu failed, %zu skipped\n",
				 infra_purge_count(p, PURGE_DELETED), infra_purge_count(p, PURGE_DETACHED),
				 infra_purge_count(p, PURGE_GONE), infra_purge_count(p, PURGE_FAILED),
				 infra_purge_count(p, PURGE_SKIPPED));
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
