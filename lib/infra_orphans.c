#include "infra_orphans.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infra_buf.h"
#include "infra_cli.h"
#include "infra_json.h"
#include "infra_ossvc.h"
#include "infra_report.h"

/* ------------------------------------------------------------------ model */

const struct infra_orph_service infra_orph_services[SVC_NSERVICES] = {
	[SVC_IDENTITY] = { "identity", "identity" },
	[SVC_COMPUTE] = { "compute", "compute" },
	[SVC_NETWORK] = { "network", "network" },
	[SVC_BLOCK_STORAGE] = { "block-storage", "volumev3" },
	[SVC_IMAGE] = { "image", "image" },
	[SVC_OBJECT_STORE] = { "object-store", "object-store" },
	[SVC_ORCHESTRATION] = { "orchestration", "orchestration" },
};

/* tiers follow the purge order of osmon-purge(1) */
const struct infra_orph_type infra_orph_types[ORPH_NTYPES] = {
	[ORPH_SERVERS] = { "servers", SVC_COMPUTE, 0, 1 },
	[ORPH_FLOATINGIPS] = { "floatingips", SVC_NETWORK, 1, 0 },
	[ORPH_TRUNKS] = { "trunks", SVC_NETWORK, 2, 0 },
	[ORPH_ROUTERS] = { "routers", SVC_NETWORK, 3, 0 },
	[ORPH_PORTS] = { "ports", SVC_NETWORK, 4, 0 },
	[ORPH_SUBNETS] = { "subnets", SVC_NETWORK, 5, 0 },
	[ORPH_NETWORKS] = { "networks", SVC_NETWORK, 6, 0 },
	[ORPH_SECURITY_GROUPS] = { "security_groups", SVC_NETWORK, 7, 0 },
	[ORPH_STACKS] = { "stacks", SVC_ORCHESTRATION, 8, 1 },
	[ORPH_SNAPSHOTS] = { "snapshots", SVC_BLOCK_STORAGE, 9, 1 },
	[ORPH_BACKUPS] = { "backups", SVC_BLOCK_STORAGE, 9, 1 },
	[ORPH_VOLUMES] = { "volumes", SVC_BLOCK_STORAGE, 10, 1 },
	[ORPH_IMAGES] = { "images", SVC_IMAGE, 11, 0 },
	[ORPH_KEYPAIRS] = { "keypairs", SVC_COMPUTE, 12, 0 },
	[ORPH_SERVER_GROUPS] = { "server_groups", SVC_COMPUTE, 12, 0 },
	[ORPH_CONTAINERS] = { "containers", SVC_OBJECT_STORE, 13, 0 },
	[ORPH_USERS] = { "users", SVC_IDENTITY, 14, 0 },
	[ORPH_PROJECTS] = { "projects", SVC_IDENTITY, 15, 0 },
};

int infra_orph_service_lookup(const char *name)
{
	const char *type = infra_ossvc_type(name); /* nova -> compute, volumev3 -> block-storage */

	for (int i = 0; i < SVC_NSERVICES; i++)
		if (!strcmp(infra_orph_services[i].name, type))
			return i;
	return -1;
}

int infra_orph_type_lookup(const char *service, const char *type)
{
	int s = service ? infra_orph_service_lookup(service) : -1;

	for (int i = 0; i < ORPH_NTYPES; i++)
		if (!strcmp(infra_orph_types[i].name, type) && (s < 0 || infra_orph_types[i].service == s))
			return (service && s < 0) ? -1 : i;
	return -1;
}

static const char *const reason_names[] = { "name", "owner", "attached", "dead-owner" };

const char *infra_orph_reason_name(int r)
{
	return (r >= 0 && r < 4) ? reason_names[r] : "name";
}

int infra_orph_reason_parse(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (!strcmp(s, reason_names[i]))
			return i;
	return -1;
}

const char *infra_orph_kind_name(int k)
{
	return k == ORPH_KIND_CONTEXT ? "context" : "scenario";
}

/* ------------------------------------------------------------------ matcher */

static int ascii_alnum(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int hex_run(const char *s, int n)
{
	for (int i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

int infra_orph_rally_name(const char *s)
{
	if (!s || (s[0] != 's' && s[0] != 'c') || strncmp(s + 1, "_rally_", 7))
		return 0;
	s += 8;
	for (int part = 0; part < 2; part++) {
		for (int i = 0; i < 8; i++)
			if (!ascii_alnum(s[i]))
				return 0;
		s += 8;
		if (part == 0 && *s++ != '_')
			return 0;
	}
	if (!*s)
		return 1;
	if (*s++ != '-')
		return 0;
	/* nova multi-create: -N (count from 1) or -UUID */
	if (*s >= '1' && *s <= '9' && !s[strspn(s, "0123456789")])
		return strlen(s) <= 9;
	return strlen(s) == 36 && hex_run(s, 8) && s[8] == '-' && hex_run(s + 9, 4) && s[13] == '-' &&
	       hex_run(s + 14, 4) && s[18] == '-' && hex_run(s + 19, 4) && s[23] == '-' && hex_run(s + 24, 12);
}

int infra_orph_matcher_init(struct infra_orph_matcher *m, const char **prefixes, size_t n, const char *regex,
			    struct infra_err *err)
{
	memset(m, 0, sizeof(*m));
	m->prefixes = prefixes;
	m->nprefixes = n;
	m->grammar = !n && !regex;
	for (size_t i = 0; i < n; i++)
		if (!prefixes[i][0])
			return infra_err_set(err, -EINVAL, "an empty --prefix would match everything");
	if (regex) {
		int rc = regcomp(&m->re, regex, REG_EXTENDED | REG_NOSUB);
		if (rc) {
			char msg[256];
			regerror(rc, &m->re, msg, sizeof(msg));
			return infra_err_set(err, -EINVAL, "invalid --match '%s': %s", regex, msg);
		}
		m->has_re = 1;
		m->re_src = strdup(regex);
		if (!m->re_src) {
			regfree(&m->re);
			m->has_re = 0;
			return infra_err_set(err, -ENOMEM, "out of memory");
		}
	}
	return 0;
}

void infra_orph_matcher_release(struct infra_orph_matcher *m)
{
	if (m->has_re)
		regfree(&m->re);
	free(m->re_src);
	m->has_re = 0;
	m->re_src = NULL;
}

int infra_orph_name_matches(const struct infra_orph_matcher *m, const char *name)
{
	if (!name || !*name)
		return 0;
	if (m->grammar && infra_orph_rally_name(name))
		return 1;
	for (size_t i = 0; i < m->nprefixes; i++)
		if (!strncmp(name, m->prefixes[i], strlen(m->prefixes[i])))
			return 1;
	return m->has_re && regexec(&m->re, name, 0, NULL, 0) == 0;
}

int infra_orph_kind_of_name(const char *name)
{
	return (name && name[0] == 'c' && (name[1] == '_' || name[1] == '-')) ? ORPH_KIND_CONTEXT : ORPH_KIND_SCENARIO;
}

/* ------------------------------------------------------------------ qualification */

/* where each type keeps its name, owner project and creation time */
static const struct { const char *name, *project, *created; } fields[ORPH_NTYPES] = {
	[ORPH_PROJECTS] = { "name", NULL, NULL },
	[ORPH_USERS] = { "name", "default_project_id", NULL },
	[ORPH_SERVERS] = { "name", "tenant_id", "created" },
	[ORPH_KEYPAIRS] = { "name", NULL, "created_at" },
	[ORPH_SERVER_GROUPS] = { "name", "project_id", NULL },
	[ORPH_FLOATINGIPS] = { "description", "project_id", "created_at" },
	[ORPH_TRUNKS] = { "name", "project_id", "created_at" },
	[ORPH_ROUTERS] = { "name", "project_id", "created_at" },
	[ORPH_PORTS] = { "name", "project_id", "created_at" },
	[ORPH_SUBNETS] = { "name", "project_id", "created_at" },
	[ORPH_NETWORKS] = { "name", "project_id", "created_at" },
	[ORPH_SECURITY_GROUPS] = { "name", "project_id", "created_at" },
	[ORPH_SNAPSHOTS] = { "name", "[\"os-extended-snapshot-attributes:project_id\"]", "created_at" },
	[ORPH_BACKUPS] = { "name", "[\"os-backup-project-attr:project_id\"]", "created_at" },
	[ORPH_VOLUMES] = { "name", "[\"os-vol-tenant-attr:tenant_id\"]", "created_at" },
	[ORPH_IMAGES] = { "name", "owner", "created_at" },
	[ORPH_CONTAINERS] = { "name", NULL, "last_modified" },
	[ORPH_STACKS] = { "stack_name", "project", "creation_time" },
};

static int json_true(json_object *o, const char *key)
{
	json_object *v;
	return json_object_object_get_ex(o, key, &v) && json_object_get_boolean(v);
}

void infra_orph_facts_from_json(int type, json_object *obj, struct infra_orph_facts *f)
{
	memset(f, 0, sizeof(*f));
	f->type = type;
	if (!json_object_is_type(obj, json_type_object))
		return;
	f->id = infra_json_opt_string(obj, "id", NULL);
	f->name = infra_json_opt_string(obj, fields[type].name, NULL);
	if (fields[type].project)
		f->project = infra_json_opt_string(obj, fields[type].project, NULL);
	if (infra_orph_types[type].service == SVC_NETWORK && !f->project)
		f->project = infra_json_opt_string(obj, "tenant_id", NULL);
	if (fields[type].created)
		f->created = infra_json_opt_string(obj, fields[type].created, NULL);
	if (type == ORPH_KEYPAIRS || type == ORPH_CONTAINERS)
		f->id = f->name;
	if (type == ORPH_KEYPAIRS)
		f->user_id = infra_json_opt_string(obj, "user_id", NULL);
	if (type == ORPH_PORTS) {
		f->device_id = infra_json_opt_string(obj, "device_id", NULL);
		f->device_owner = infra_json_opt_string(obj, "device_owner", NULL);
	}
	if (type == ORPH_FLOATINGIPS)
		f->port_id = infra_json_opt_string(obj, "port_id", NULL);
	/* external and shared networks serve other projects */
	if (type == ORPH_NETWORKS)
		f->shared = json_true(obj, "router:external") || json_true(obj, "shared");
}

static int neutron_owned(const struct infra_orph_facts *f)
{
	const char *o = f->device_owner ? f->device_owner : "";
	return f->type == ORPH_PORTS &&
	       (!strcmp(o, "network:dhcp") || !strcmp(o, "network:router_gateway") || !strcmp(o, "network:floatingip"));
}

int infra_orph_parent(const struct infra_orph_facts *f, const char **id)
{
	*id = NULL;
	if (f->type == ORPH_FLOATINGIPS && f->port_id && *f->port_id) {
		*id = f->port_id;
		return ORPH_PORTS;
	}
	if (f->type != ORPH_PORTS || !f->device_id || !*f->device_id || !f->device_owner || neutron_owned(f))
		return -1;
	*id = f->device_id;
	if (!strncmp(f->device_owner, "compute:", 8))
		return ORPH_SERVERS;
	if (!strncmp(f->device_owner, "network:router_interface", 24) ||
	    !strcmp(f->device_owner, "network:ha_router_replicated_interface"))
		return ORPH_ROUTERS;
	*id = NULL;
	return -1;
}

int infra_orph_owner_relevant(const struct infra_orph_facts *f)
{
	return f->project && *f->project && f->type != ORPH_PROJECTS && !f->shared && !neutron_owned(f);
}

/* a container's project is the account it was listed in: the token's own (never
 * gone) or a Rally or dead project's (INFRA_ORPH_RESELLER_ROLE) */
static int dead_owner_relevant(const struct infra_orph_facts *f)
{
	return infra_orph_owner_relevant(f) && f->type != ORPH_USERS && f->type != ORPH_KEYPAIRS;
}

int infra_orph_qualify(const struct infra_orph_matcher *m, const struct infra_orph_facts *f,
		       const struct infra_orph_ctx *c, struct infra_orph_verdict *v)
{
	const char *what = infra_orph_types[f->type].name, *pid = NULL;
	int ptype = infra_orph_parent(f, &pid);
	double t;

	memset(v, 0, sizeof(*v));
	v->reason = -1;
	if (neutron_owned(f)) {
		snprintf(v->why, sizeof(v->why), "a port neutron owns (%s): it goes with its network, router or floating IP",
			 f->device_owner);
		return 0;
	}
	if (f->type == ORPH_KEYPAIRS && c->user != ORPH_USER_OWN && c->user != ORPH_USER_ORPHAN) {
		snprintf(v->why, sizeof(v->why), "a keypair of user %s, who is %s", f->user_id ? f->user_id : "?",
			 c->user == ORPH_USER_OTHER ? "not a test user" : "unknown");
		return 0;
	}
	if (infra_orph_name_matches(m, f->name)) {
		v->reason = ORPH_REASON_NAME;
		v->kind = infra_orph_kind_of_name(f->name);
	} else if (infra_orph_owner_relevant(f) && c->project == ORPH_PROJ_ORPHAN) {
		v->reason = ORPH_REASON_OWNER;
		v->kind = ORPH_KIND_CONTEXT;
	} else if (ptype >= 0 && c->parent) {
		v->reason = ORPH_REASON_ATTACHED;
		v->kind = c->parent_kind;
		v->parent = pid;
	} else if (dead_owner_relevant(f) && c->project == ORPH_PROJ_GONE) {
		v->reason = ORPH_REASON_DEAD_OWNER;
		v->kind = ORPH_KIND_CONTEXT;
	}
	if (v->reason < 0) {
		struct infra_buf b = INFRA_BUF_INIT;
		char *msg;
		infra_buf_printf(&b, "name '%s' does not match", f->name ? f->name : "");
		if (f->type == ORPH_NETWORKS && f->shared)
			infra_buf_puts(&b, "; an external or shared network belongs to no test project");
		else if (!infra_orph_owner_relevant(f))
			infra_buf_printf(&b, "; %s never qualify by owner", f->type == ORPH_PROJECTS ? "projects" :
					 f->project && *f->project ? what : "resources without an owner project");
		else if (c->project == ORPH_PROJ_OTHER)
			infra_buf_printf(&b, "; owner project %s is not a test project", f->project);
		else if (c->project == ORPH_PROJ_GONE)
			infra_buf_printf(&b, "; owner project %s is gone, but %s are never dead-owner orphans", f->project, what);
		else
			infra_buf_printf(&b, "; owner project %s could not be checked", f->project);
		if (ptype >= 0)
			infra_buf_printf(&b, "; the %s it hangs off (%s) is not an orphan", infra_orph_types[ptype].name, pid);
		msg = infra_buf_steal(&b, NULL);
		snprintf(v->why, sizeof(v->why), "%s", msg ? msg : "not an orphan");
		free(msg);
		return 0;
	}
	if (c->min_age > 0 && f->created && !infra_parse_time(f->created, &t) && c->now - t < c->min_age) {
		v->young = 1;
		snprintf(v->why, sizeof(v->why), "younger than --min-age (created %s)", f->created);
		return 0;
	}
	v->orphan = 1;
	return 1;
}

/* ------------------------------------------------------------------ command line */

enum {
	OPT_PREFIX = 0x2100,
	OPT_MATCH,
	OPT_MIN_AGE,
	OPT_SERVICE,
	OPT_NO_NARROW,
};

static const struct argp_option orph_options[] = {
	{ NULL, 0, NULL, 0, "What is an orphan:", INFRA_HELP_DISCOVERY },
	{ "prefix", OPT_PREFIX, "PREFIX", 0, "names starting with PREFIX instead of Rally's name grammar (repeatable; wider: --prefix s_rally also takes s_rallyware-prod)", INFRA_HELP_DISCOVERY },
	{ "match", OPT_MATCH, "REGEX", 0, "names matching this POSIX extended regular expression instead of Rally's name grammar", INFRA_HELP_DISCOVERY },
	{ "min-age", OPT_MIN_AGE, "DURATION", 0, "skip resources younger than DURATION (30m, 2h, 1d)", INFRA_HELP_DISCOVERY },
	{ "service", OPT_SERVICE, "SERVICE", 0, "{" INFRA_OSSVC_COMPLETE "} only these services: catalog types, comma-separated or repeated (project names such as nova are accepted)", INFRA_HELP_DISCOVERY },
	{ "no-narrow", OPT_NO_NARROW, NULL, 0, "list everything and filter locally (also finds the servers and volumes of a dead project that left nothing else)", INFRA_HELP_DISCOVERY },
	{ 0 }
};

static error_t orph_parse(int key, char *arg, struct argp_state *state)
{
	struct infra_orph_cli *c = state->input;
	double d;

	if (!c)
		return ARGP_ERR_UNKNOWN;
	switch (key) {
	case OPT_PREFIX:
		if (!*arg)
			argp_error(state, "an empty --prefix would match everything");
		if (c->nprefixes >= INFRA_ORPH_MAX_PREFIXES)
			argp_error(state, "too many --prefix options (at most %d)", INFRA_ORPH_MAX_PREFIXES);
		c->prefixes[c->nprefixes++] = arg;
		break;
	case OPT_MATCH:
		c->match = arg;
		break;
	case OPT_MIN_AGE:
		if (infra_parse_duration(arg, &d))
			argp_error(state, "invalid --min-age '%s' (e.g. 90m, 2h, 1d)", arg);
		c->min_age = d;
		break;
	case OPT_SERVICE: {
		char buf[256];
		char *save = NULL, *tok;
		snprintf(buf, sizeof(buf), "%s", arg);
		for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			int s = infra_orph_service_lookup(tok);
			if (s < 0)
				argp_error(state, "unknown --service '%s' (identity, compute, network, block-storage, image, object-store, orchestration, or their project names)", tok);
			c->services |= 1u << s;
		}
		break;
	}
	case OPT_NO_NARROW:
		c->no_narrow = 1;
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

const struct argp infra_orph_argp = { orph_options, orph_parse, NULL, NULL, NULL, NULL, NULL };

int infra_orph_cli_setup(struct infra_orph_cli *c, int jobs, struct infra_orph_matcher *m,
			 struct infra_orph_opts *o, struct infra_err *err)
{
	int rc = infra_orph_matcher_init(m, c->prefixes, c->nprefixes, c->match, err);

	if (rc)
		return rc;
	memset(o, 0, sizeof(*o));
	o->matcher = m;
	o->min_age = c->min_age;
	o->services = c->services;
	o->jobs = jobs;
	o->narrow = !c->no_narrow;
	o->now = infra_now();
	return 0;
}

const struct argp_child infra_orph_tool_children[] = {
	{ &infra_cli_argp, 0, NULL, 0 },
	{ &infra_os_argp, 0, NULL, 0 },
	{ &infra_orph_argp, 0, NULL, 0 },
	{ 0 }
};

void infra_orph_tool_inputs(struct argp_state *state, struct infra_cli *cli, struct infra_os_flags *osf,
			    struct infra_orph_cli *oc)
{
	state->child_inputs[0] = cli;
	state->child_inputs[1] = osf;
	state->child_inputs[2] = oc;
}

int infra_orph_report_queried(struct infra_report *r, const struct infra_orph_result *res, int *selected)
{
	for (int t = 0; t < ORPH_NTYPES; t++)
		if (res->types[t].selected && !res->types[t].queried)
			infra_report_error(r, "%s/%s not queried: %s", infra_orph_services[infra_orph_types[t].service].name,
					   infra_orph_types[t].name, res->types[t].error ? res->types[t].error : "?");
	return infra_orph_queried_count(res, selected);
}

void infra_orph_report_data(struct infra_report *r, json_object *data)
{
	json_object_object_foreach(data, k, v)
		json_object_object_add(r->data, k, json_object_get(v));
	json_object_put(data);
}

/* ------------------------------------------------------------------ result */

void infra_orph_result_init(struct infra_orph_result *r)
{
	memset(r, 0, sizeof(*r));
	r->swift_reseller = -1;
}

static void orphan_free(struct infra_orphan *o)
{
	free(o->id);
	free(o->name);
	free(o->project);
	free(o->created_at);
	free(o->parent);
	free(o->user_id);
}

void infra_orph_result_release(struct infra_orph_result *r)
{
	for (size_t i = 0; i < r->n; i++)
		orphan_free(&r->items[i]);
	free(r->items);
	for (int t = 0; t < ORPH_NTYPES; t++)
		free(r->types[t].error);
	for (int s = 0; s < SVC_NSERVICES; s++)
		free(r->services[s].error);
	free(r->project_id);
	free(r->project_name);
	free(r->swift_note);
	memset(r, 0, sizeof(*r));
	r->swift_reseller = -1;
}

static char *sdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

int infra_orph_add(struct infra_orph_result *r, const struct infra_orphan *o)
{
	struct infra_orphan *d;

	if (r->n == r->alloc) {
		size_t na = r->alloc ? r->alloc * 2 : 64;
		struct infra_orphan *ni = realloc(r->items, na * sizeof(*ni));
		if (!ni)
			return -ENOMEM;
		r->items = ni;
		r->alloc = na;
	}
	d = &r->items[r->n];
	*d = *o;
	d->id = sdup(o->id);
	d->name = sdup(o->name ? o->name : "");
	d->project = sdup(o->project);
	d->created_at = sdup(o->created_at);
	d->parent = sdup(o->parent);
	d->user_id = sdup(o->user_id);
	if (!d->id || !d->name || (o->project && !d->project) || (o->created_at && !d->created_at) ||
	    (o->parent && !d->parent) || (o->user_id && !d->user_id)) {
		orphan_free(d);
		return -ENOMEM;
	}
	r->n++;
	return 0;
}

static void set_err(char **dst, const char *msg)
{
	if (!*dst)
		*dst = strdup(msg);
}

int infra_orph_queried_count(const struct infra_orph_result *r, int *selected)
{
	int q = 0, s = 0;

	for (int t = 0; t < ORPH_NTYPES; t++) {
		s += r->types[t].selected;
		q += r->types[t].selected && r->types[t].queried;
	}
	if (selected)
		*selected = s;
	return q;
}

static int cmp_orphan(const void *a, const void *b)
{
	const struct infra_orphan *x = a, *y = b;
	int c;

	if (infra_orph_types[x->type].service != infra_orph_types[y->type].service)
		return infra_orph_types[x->type].service - infra_orph_types[y->type].service;
	if (x->type != y->type)
		return strcmp(infra_orph_types[x->type].name, infra_orph_types[y->type].name);
	if ((c = strcmp(x->name, y->name)))
		return c;
	return strcmp(x->id, y->id);
}

void infra_orph_sort(struct infra_orph_result *r)
{
	if (r->n)
		qsort(r->items, r->n, sizeof(r->items[0]), cmp_orphan);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct idset {
	char **v;
	size_t n, a;
	int sorted;
};

static int idset_add(struct idset *s, char *id)
{
	if (s->n == s->a) {
		size_t na = s->a ? s->a * 2 : 64;
		char **nv = realloc(s->v, na * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		s->v = nv;
		s->a = na;
	}
	s->v[s->n++] = id;
	s->sorted = 0;
	return 0;
}

static int idset_has(struct idset *s, const char *id)
{
	if (!id || !s->n)
		return 0;
	if (!s->sorted) {
		qsort(s->v, s->n, sizeof(*s->v), cmp_str);
		s->sorted = 1;
	}
	return bsearch(&id, s->v, s->n, sizeof(*s->v), cmp_str) != NULL;
}

/* ------------------------------------------------------------------ discovery */

struct cand {
	int type;
	char *id, *name, *project, *created, *device_id, *device_owner, *port_id, *user_id;
	int shared;
};

struct disc {
	struct infra_os *os;
	struct infra_http_batch *b;
	const struct infra_orph_opts *o;
	struct infra_orph_result *r;
	struct cand *c;
	size_t nc, ac;
	int oom;
	char *url[SVC_NSERVICES];
	int depth[SVC_NSERVICES];     /* requests before the service's lists can start */
	int outstanding[ORPH_NTYPES]; /* chains still running */
	int projects_done, users_done, followups_queued;
	int projects_end, users_end;  /* depth at which they completed */
	/* dead-owner follow-ups: queued once every first-round list has ended */
	int primary_out;              /* first-round chains still running */
	int primary_end;              /* depth at which the last of them ended */
	int svc_pending;              /* endpoints not resolved yet */
	int queuing_followups;        /* add_list: the chain is a follow-up */
	int dead_queued;
	int swift_ok;                 /* other projects' Swift accounts can be listed */
	int swift_rally_queued, swift_dead_queued;
	struct idset swift_listed;    /* accounts queued */
};

struct chain {
	struct disc *d;
	int type;
	int depth;
	int followup;  /* queued after a first-round list ended */
	char *user_id; /* keypairs of another user; containers: another project's account */
};

static int push_cand(struct disc *d, const struct infra_orph_facts *f)
{
	struct cand *c;

	if (!f->id || !*f->id)
		return 0; /* an item without an id cannot be acted on; ignore it */
	if (d->nc == d->ac) {
		size_t na = d->ac ? d->ac * 2 : 256;
		struct cand *n = realloc(d->c, na * sizeof(*n));
		if (!n)
			return -ENOMEM;
		d->c = n;
		d->ac = na;
	}
	c = &d->c[d->nc];
	memset(c, 0, sizeof(*c));
	c->type = f->type;
	c->id = strdup(f->id);
	c->name = strdup(f->name ? f->name : "");
	c->project = sdup(f->project);
	c->created = sdup(f->created);
	c->device_id = sdup(f->device_id);
	c->device_owner = sdup(f->device_owner);
	c->port_id = sdup(f->port_id);
	c->shared = f->shared;
	d->nc++;
	return c->id && c->name ? 0 : -ENOMEM;
}

static void cand_facts(const struct cand *c, struct infra_orph_facts *f)
{
	memset(f, 0, sizeof(*f));
	f->type = c->type;
	f->id = c->id;
	f->name = c->name;
	f->project = c->project;
	f->created = c->created;
	f->device_id = c->device_id;
	f->device_owner = c->device_owner;
	f->port_id = c->port_id;
	f->user_id = c->user_id;
	f->shared = c->shared;
}

static int item_cb(void *ud, json_object *it)
{
	struct chain *ch = ud;
	struct disc *d = ch->d;
	struct infra_orph_facts f;
	int rc;

	if (!json_object_is_type(it, json_type_object))
		return 0;
	if (ch->type == ORPH_KEYPAIRS) {
		json_object *kp = it;
		json_object_object_get_ex(it, "keypair", &kp);
		infra_orph_facts_from_json(ch->type, kp, &f);
		rc = push_cand(d, &f);
		if (!rc && d->nc && f.id) {
			const char *u = ch->user_id ? ch->user_id : infra_os_user_id(d->os);
			d->c[d->nc - 1].user_id = sdup(u);
		}
		return rc;
	}
	infra_orph_facts_from_json(ch->type, it, &f);
	if (ch->type == ORPH_CONTAINERS && ch->user_id) {
		/* another project's account: the id says which (PROJECT_ID/NAME) */
		char id[1024];
		if (!f.name || !*f.name || (size_t)snprintf(id, sizeof(id), "%s/%s", ch->user_id, f.name) >= sizeof(id))
			return 0;
		f.id = id;
		f.project = ch->user_id;
		return push_cand(d, &f);
	}
	if (ch->type == ORPH_CONTAINERS)
		f.project = infra_os_project_id(d->os);
	return push_cand(d, &f);
}

static void queue_followups(struct disc *d);
static void queue_keypair_followups(struct disc *d);
static void queue_dead_followups(struct disc *d);
static void queue_swift_followups(struct disc *d);

static void type_error(struct disc *d, int t, const char *msg)
{
	set_err(&d->r->types[t].error, msg);
}

static void chain_done(void *ud, int rc, const struct infra_err *err, int pages)
{
	struct chain *ch = ud;
	struct disc *d = ch->d;
	int t = ch->type, end = ch->depth + pages;

	d->r->types[t].pages += pages;
	d->r->requests += pages + (rc ? 1 : 0);
	if (end > d->r->critical_path)
		d->r->critical_path = end;
	if (rc && t == ORPH_CONTAINERS && ch->user_id && rc == -ENOENT) {
		/* an account never used (Swift without account_autocreate): no containers */
	} else if (rc) {
		if (t == ORPH_TRUNKS && rc == -ENOENT) {
			/* the trunk extension is not enabled: nothing to look for */
			d->r->types[t].selected = 0;
			set_err(&d->r->types[t].error, "trunk extension not enabled");
		} else {
			type_error(d, t, err && err->msg[0] ? err->msg : "list failed");
		}
	}
	if (!ch->followup) {
		d->primary_out--;
		if (end > d->primary_end)
			d->primary_end = end;
	}
	if (--d->outstanding[t] == 0) {
		if (t == ORPH_PROJECTS) {
			d->projects_done = 1;
			d->projects_end = end;
			queue_followups(d);
		} else if (t == ORPH_USERS) {
			d->users_done = 1;
			d->users_end = end;
			queue_keypair_followups(d);
		}
	}
	queue_dead_followups(d);
	queue_swift_followups(d);
	free(ch->user_id);
	free(ch);
}

static int add_list(struct disc *d, int type, const char *url, const char *key, const char *mv,
		    enum infra_os_paging paging, int limit, int depth, const char *root, const char *user_id)
{
	struct chain *ch = calloc(1, sizeof(*ch));
	struct infra_os_list spec = { 0 };
	int rc;

	if (!ch)
		return -ENOMEM;
	ch->d = d;
	ch->type = type;
	ch->depth = depth;
	ch->followup = d->queuing_followups;
	ch->user_id = sdup(user_id);
	spec.url = url;
	spec.key = key;
	spec.mv = mv;
	spec.paging = paging;
	spec.limit = limit;
	spec.root = root;
	spec.item = item_cb;
	spec.done = chain_done;
	spec.ud = ch;
	d->outstanding[type]++;
	d->primary_out += !ch->followup;
	d->r->types[type].chains++;
	rc = infra_os_list(d->os, d->b, &spec);
	if (rc) {
		d->outstanding[type]--;
		d->primary_out -= !ch->followup;
		free(ch->user_id);
		free(ch);
		type_error(d, type, "cannot queue a request");
	}
	return rc;
}

static int selected(const struct disc *d, int t)
{
	return d->r->types[t].selected;
}

#define COMPUTE_MV "compute 2.35"
#define VOLUME_MV "volume 3.34"

static void urlf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void urlf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

/* Literal prefixes every matching name starts with (server-side narrowing):
 * the grammar's s_rally_ and c_rally_, or the --prefix list. */
static const char *const grammar_prefixes[] = { "s_rally_", "c_rally_" };

static const char *const *narrow_prefixes(const struct infra_orph_matcher *m, size_t *n)
{
	if (m->grammar) {
		*n = 2;
		return grammar_prefixes;
	}
	*n = m->nprefixes;
	return m->prefixes;
}

/* regex alternation of the literal prefixes for nova's name filter */
static int nova_name_regex(const struct infra_orph_matcher *m, char *out, size_t size)
{
	struct infra_buf b = INFRA_BUF_INIT;
	size_t np;
	const char *const *pf = narrow_prefixes(m, &np);
	char *s;

	infra_buf_puts(&b, "^(");
	for (size_t i = 0; i < np; i++) {
		if (i)
			infra_buf_putc(&b, '|');
		for (const char *p = pf[i]; *p; p++) {
			if (strchr(".^$*+?()[]{}|\\", *p))
				infra_buf_putc(&b, '\\');
			infra_buf_putc(&b, *p);
		}
	}
	infra_buf_putc(&b, ')');
	s = infra_buf_steal(&b, NULL);
	if (!s)
		return -ENOMEM;
	if (infra_os_urlencode(s, out, size)) {
		free(s);
		return -E2BIG;
	}
	free(s);
	return 0;
}

static int narrowing(const struct disc *d)
{
	/* narrow by name only when names alone select (no regex: APIs cannot do ERE) */
	return d->o->narrow && !d->o->matcher->has_re && (d->o->matcher->grammar || d->o->matcher->nprefixes > 0);
}

static void queue_service(struct disc *d, int s)
{
	const char *u = d->url[s];
	int admin = infra_os_is_admin(d->os), dep = d->depth[s];
	char url[4096], enc[1024];
	const struct infra_orph_matcher *m = d->o->matcher;
	size_t np;
	const char *const *pf = narrow_prefixes(m, &np);

	switch (s) {
	case SVC_IDENTITY: {
		char base[2048];
		size_t n = strlen(u);
		if (n >= 3 && !strcmp(u + n - 3, "/v3"))
			urlf(base, sizeof(base), "%s", u);
		else
			urlf(base, sizeof(base), "%s/v3", u);
		if (selected(d, ORPH_PROJECTS)) {
			urlf(url, sizeof(url), "%s/projects?limit=1000", base);
			add_list(d, ORPH_PROJECTS, url, "projects", NULL, INFRA_OS_PAGE_KEYSTONE, 0, dep, NULL, NULL);
		}
		/* users are listed whole: keystone cannot filter on default_project_id, and
		 * a user of a Rally project is an orphan whatever its name */
		if (selected(d, ORPH_USERS)) {
			urlf(url, sizeof(url), "%s/users?limit=1000", base);
			add_list(d, ORPH_USERS, url, "users", NULL, INFRA_OS_PAGE_KEYSTONE, 0, dep, NULL, NULL);
		}
		break;
	}
	case SVC_COMPUTE:
		if (selected(d, ORPH_SERVERS)) {
			if (admin && narrowing(d) && !nova_name_regex(m, enc, sizeof(enc)))
				urlf(url, sizeof(url), "%s/servers/detail?all_tenants=1&name=%s", u, enc);
			else
				urlf(url, sizeof(url), "%s/servers/detail%s", u, admin ? "?all_tenants=1" : "");
			add_list(d, ORPH_SERVERS, url, "servers", COMPUTE_MV, INFRA_OS_PAGE_LINKS, 0, dep, NULL, NULL);
		}
		if (selected(d, ORPH_KEYPAIRS)) {
			urlf(url, sizeof(url), "%s/os-keypairs", u);
			add_list(d, ORPH_KEYPAIRS, url, "keypairs", COMPUTE_MV, INFRA_OS_PAGE_LINKS, 0, dep, NULL, NULL);
		}
		if (selected(d, ORPH_SERVER_GROUPS)) {
			urlf(url, sizeof(url), "%s/os-server-groups?%slimit=1000", u, admin ? "all_projects=True&" : "");
			add_list(d, ORPH_SERVER_GROUPS, url, "server_groups", COMPUTE_MV, INFRA_OS_PAGE_OFFSET, 1000, dep,
				 NULL, NULL);
		}
		break;
	case SVC_NETWORK: {
		static const struct { int t; const char *coll, *key, *fields; } nets[] = {
			{ ORPH_FLOATINGIPS, "floatingips", "floatingips", "&fields=id&fields=description&fields=project_id&fields=tenant_id&fields=created_at&fields=port_id" },
			{ ORPH_TRUNKS, "trunks", "trunks", "&fields=id&fields=name&fields=project_id&fields=tenant_id&fields=created_at" },
			{ ORPH_ROUTERS, "routers", "routers", "&fields=id&fields=name&fields=project_id&fields=tenant_id&fields=created_at" },
			{ ORPH_PORTS, "ports", "ports", "&fields=id&fields=name&fields=project_id&fields=tenant_id&fields=created_at&fields=device_id&fields=device_owner" },
			{ ORPH_SUBNETS, "subnets", "subnets", "&fields=id&fields=name&fields=project_id&fields=tenant_id&fields=created_at" },
			{ ORPH_NETWORKS, "networks", "networks", "&fields=id&fields=name&fields=project_id&fields=tenant_id&fields=created_at&fields=router:external&fields=shared" },
			{ ORPH_SECURITY_GROUPS, "security-groups", "security_groups", "&fields=id&fields=name&fields=project_id&fields=tenant_id&fields=created_at" },
		};
		for (size_t i = 0; i < sizeof(nets) / sizeof(nets[0]); i++) {
			if (!selected(d, nets[i].t))
				continue;
			urlf(url, sizeof(url), "%s/%s?limit=1000%s", u, nets[i].coll, nets[i].fields);
			add_list(d, nets[i].t, url, nets[i].key, NULL, INFRA_OS_PAGE_LINKS, 0, dep, NULL, NULL);
		}
		break;
	}
	case SVC_BLOCK_STORAGE: {
		static const struct { int t; const char *coll; } vols[] = {
			{ ORPH_SNAPSHOTS, "snapshots" }, { ORPH_BACKUPS, "backups" }, { ORPH_VOLUMES, "volumes" },
		};
		for (size_t i = 0; i < 3; i++) {
			if (!selected(d, vols[i].t))
				continue;
			if (admin && narrowing(d)) {
				for (size_t p = 0; p < np; p++) {
					if (infra_os_urlencode(pf[p], enc, sizeof(enc)))
						continue;
					urlf(url, sizeof(url), "%s/%s/detail?all_tenants=1&name~=%s", u, vols[i].coll, enc);
					add_list(d, vols[i].t, url, vols[i].coll, VOLUME_MV, INFRA_OS_PAGE_LINKS, 0, dep, NULL, NULL);
				}
			} else {
				urlf(url, sizeof(url), "%s/%s/detail%s", u, vols[i].coll, admin ? "?all_tenants=1" : "");
				add_list(d, vols[i].t, url, vols[i].coll, VOLUME_MV, INFRA_OS_PAGE_LINKS, 0, dep, NULL, NULL);
			}
		}
		break;
	}
	case SVC_IMAGE:
		if (selected(d, ORPH_IMAGES)) {
			urlf(url, sizeof(url), "%s/images?limit=1000", u);
			add_list(d, ORPH_IMAGES, url, "images", NULL, INFRA_OS_PAGE_GLANCE, 0, dep, u, NULL);
		}
		break;
	case SVC_OBJECT_STORE:
		if (selected(d, ORPH_CONTAINERS)) {
			if (narrowing(d)) {
				for (size_t p = 0; p < np; p++) {
					if (infra_os_urlencode(pf[p], enc, sizeof(enc)))
						continue;
					urlf(url, sizeof(url), "%s?format=json&limit=1000&prefix=%s", u, enc);
					add_list(d, ORPH_CONTAINERS, url, NULL, NULL, INFRA_OS_PAGE_SWIFT, 1000, dep, NULL, NULL);
				}
			} else {
				urlf(url, sizeof(url), "%s?format=json&limit=1000", u);
				add_list(d, ORPH_CONTAINERS, url, NULL, NULL, INFRA_OS_PAGE_SWIFT, 1000, dep, NULL, NULL);
			}
		}
		break;
	case SVC_ORCHESTRATION:
		if (selected(d, ORPH_STACKS)) {
			urlf(url, sizeof(url), "%s/stacks?limit=1000%s", u, admin ? "&global_tenant=True" : "");
			add_list(d, ORPH_STACKS, url, "stacks", NULL, INFRA_OS_PAGE_LINKS, 0, dep, NULL, NULL);
		}
		break;
	}
}

/* projects whose name matches (the orphan context/scenario projects) */
static int is_orphan_project_cand(const struct disc *d, const struct cand *c)
{
	return c->type == ORPH_PROJECTS && infra_orph_name_matches(d->o->matcher, c->name);
}

static const struct { int t; const char *coll; } cinder_lists[] = {
	{ ORPH_SNAPSHOTS, "snapshots" }, { ORPH_BACKUPS, "backups" }, { ORPH_VOLUMES, "volumes" },
};

/* The servers, volumes, snapshots and backups of one project (all_tenants with
 * project_id: what nova and cinder can filter server-side), or of every project
 * when pid is NULL.  Follow-up lists, starting at depth. */
static void queue_project_lists(struct disc *d, const char *pid, int depth)
{
	char url[4096], enc[256], q[300];

	if (pid && infra_os_urlencode(pid, enc, sizeof(enc)))
		return;
	urlf(q, sizeof(q), "?all_tenants=1%s%s", pid ? "&project_id=" : "", pid ? enc : "");
	d->queuing_followups = 1;
	if (d->url[SVC_COMPUTE] && selected(d, ORPH_SERVERS)) {
		urlf(url, sizeof(url), "%s/servers/detail%s", d->url[SVC_COMPUTE], q);
		add_list(d, ORPH_SERVERS, url, "servers", COMPUTE_MV, INFRA_OS_PAGE_LINKS, 0, depth, NULL, NULL);
	}
	for (size_t v = 0; d->url[SVC_BLOCK_STORAGE] && v < 3; v++) {
		if (!selected(d, cinder_lists[v].t))
			continue;
		urlf(url, sizeof(url), "%s/%s/detail%s", d->url[SVC_BLOCK_STORAGE], cinder_lists[v].coll, q);
		add_list(d, cinder_lists[v].t, url, cinder_lists[v].coll, VOLUME_MV, INFRA_OS_PAGE_LINKS, 0, depth, NULL,
			 NULL);
	}
	d->queuing_followups = 0;
}

static void queue_followups(struct disc *d)
{
	size_t nc = d->nc;

	if (d->followups_queued || !narrowing(d) || !infra_os_is_admin(d->os))
		return;
	d->followups_queued = 1;
	for (size_t i = 0; i < nc; i++)
		if (is_orphan_project_cand(d, &d->c[i]))
			queue_project_lists(d, d->c[i].id, d->projects_end);
}

/* The projects named as owner by the first nc candidates (containers aside: their
 * project is the account they were listed in) that keystone no longer has. */
static void dead_set(struct disc *d, size_t nc, struct idset *known, struct idset *dead)
{
	for (size_t i = 0; i < nc; i++)
		if (d->c[i].type == ORPH_PROJECTS && idset_add(known, d->c[i].id))
			d->oom = 1;
	for (size_t i = 0; i < nc && !d->oom; i++) {
		const struct cand *c = &d->c[i];
		if (!c->project || !*c->project || c->type == ORPH_CONTAINERS || idset_has(known, c->project) ||
		    idset_has(dead, c->project))
			continue;
		if (idset_add(dead, c->project))
			d->oom = 1;
	}
}

/* Dead owners: projects that own something listed in the first round (networks,
 * ports, security groups, images, server groups, stacks, users' default project,
 * servers and volumes found by name) and that keystone no longer has.  Their
 * servers, volumes, snapshots and backups are listed per project once every
 * first-round list has ended; beyond INFRA_ORPH_DEAD_LISTS_MAX dead projects, those
 * four types are listed whole instead (fewer requests than one list each). */
static void queue_dead_followups(struct disc *d)
{
	struct idset known = { 0 }, dead = { 0 };
	size_t nc = d->nc;

	if (d->dead_queued || d->primary_out || d->svc_pending || !d->projects_done || !narrowing(d) ||
	    !infra_os_is_admin(d->os) || d->r->types[ORPH_PROJECTS].error ||
	    (!d->url[SVC_COMPUTE] && !d->url[SVC_BLOCK_STORAGE]))
		return;
	d->dead_queued = 1;
	dead_set(d, nc, &known, &dead);
	d->r->dead_projects = (int)dead.n;
	if (dead.n > INFRA_ORPH_DEAD_LISTS_MAX)
		queue_project_lists(d, NULL, d->primary_end);
	else
		for (size_t i = 0; i < dead.n; i++)
			queue_project_lists(d, dead.v[i], d->primary_end);
	free(known.v);
	free(dead.v);
}

static void queue_keypair_followups(struct disc *d)
{
	char url[4096], enc[256];
	size_t nc = d->nc;

	if (!d->url[SVC_COMPUTE] || !selected(d, ORPH_KEYPAIRS) || !infra_os_is_admin(d->os))
		return;
	for (size_t i = 0; i < nc; i++) {
		const struct cand *c = &d->c[i];
		if (c->type != ORPH_USERS || !infra_orph_name_matches(d->o->matcher, c->name))
			continue;
		if (infra_os_user_id(d->os) && !strcmp(c->id, infra_os_user_id(d->os)))
			continue;
		if (infra_os_urlencode(c->id, enc, sizeof(enc)))
			continue;
		urlf(url, sizeof(url), "%s/os-keypairs?user_id=%s", d->url[SVC_COMPUTE], enc);
		d->queuing_followups = 1;
		add_list(d, ORPH_KEYPAIRS, url, "keypairs", COMPUTE_MV, INFRA_OS_PAGE_LINKS, 0, d->users_end, NULL, c->id);
		d->queuing_followups = 0;
	}
}

/* The containers of another project's Swift account (a follow-up list). */
static void queue_swift_account(struct disc *d, const char *pid, int depth)
{
	char acct[4096], url[4200];
	const char *own = infra_os_project_id(d->os);
	char *copy;

	if (!pid || !*pid || (own && !strcmp(pid, own)) || idset_has(&d->swift_listed, pid))
		return;
	if (infra_orph_swift_account_url(d->url[SVC_OBJECT_STORE], own, pid, acct, sizeof(acct)))
		return;
	if (!(copy = strdup(pid)) || idset_add(&d->swift_listed, copy)) {
		free(copy);
		d->oom = 1;
		return;
	}
	urlf(url, sizeof(url), "%s?format=json&limit=1000", acct);
	d->queuing_followups = 1;
	if (!add_list(d, ORPH_CONTAINERS, url, NULL, NULL, INFRA_OS_PAGE_SWIFT, 1000, depth, NULL, pid))
		d->r->swift_accounts++;
	d->queuing_followups = 0;
}

/* With the reseller-admin role: the accounts of Rally projects once keystone's
 * project list is in, and of dead projects once every first-round list has ended. */
static void queue_swift_followups(struct disc *d)
{
	size_t nc = d->nc;

	if (!d->swift_ok || !d->url[SVC_OBJECT_STORE] || !d->projects_done || d->r->types[ORPH_PROJECTS].error)
		return;
	if (!d->swift_rally_queued) {
		d->swift_rally_queued = 1;
		for (size_t i = 0; i < nc; i++)
			if (is_orphan_project_cand(d, &d->c[i]))
				queue_swift_account(d, d->c[i].id, d->projects_end);
	}
	if (!d->swift_dead_queued && !d->primary_out && !d->svc_pending) {
		struct idset known = { 0 }, dead = { 0 };
		d->swift_dead_queued = 1;
		dead_set(d, nc, &known, &dead);
		if ((int)dead.n > d->r->dead_projects)
			d->r->dead_projects = (int)dead.n;
		for (size_t i = 0; i < dead.n; i++)
			queue_swift_account(d, dead.v[i], d->primary_end);
		free(known.v);
		free(dead.v);
	}
}

int infra_orph_swift_account_url(const char *own_url, const char *own_pid, const char *pid, char *out,
				 size_t size)
{
	size_t n, seg, np;

	if (!own_url || !own_pid || !*own_pid || !pid || !*pid || strspn(pid, "abcdefghijklmnopqrstuvwxyz"
		"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != strlen(pid))
		return -1;
	n = strlen(own_url);
	while (n && own_url[n - 1] == '/')
		n--;
	seg = n;
	while (seg && own_url[seg - 1] != '/')
		seg--;
	np = strlen(own_pid);
	if (n - seg < np || strncmp(own_url + n - np, own_pid, np))
		return -1;
	/* scheme://host/v1/<prefix><own_pid> -> scheme://host/v1/<prefix><pid> */
	if ((size_t)snprintf(out, size, "%.*s%s", (int)(n - np), own_url, pid) >= size)
		return -1;
	return 0;
}

const char *infra_orph_swift_note(const struct infra_orph_result *r)
{
	return r->swift_reseller == 0 ? r->swift_note : NULL;
}

int infra_orph_swift_to_prom(const struct infra_orph_result *r, struct infra_prom *p, const char *family,
			     struct infra_err *err)
{
	int rc;

	if (r->swift_reseller < 0)
		return 0;
	if ((rc = infra_prom_family(p, family, INFRA_PROM_GAUGE,
				    "1 when the Swift accounts of Rally and dead projects were listed too (the token has "
				    "Swift's reseller-admin role), 0 when containers were listed in the token's own "
				    "account only", err)))
		return rc;
	return infra_prom_addl(p, family, r->swift_reseller, err, NULL);
}

/* May other projects' Swift accounts be listed?  Decided when the endpoint is known. */
static void swift_scope(struct disc *d, const char *url)
{
	struct infra_orph_result *r = d->r;
	char probe[4096];
	const char *why = NULL;

	if (!selected(d, ORPH_CONTAINERS) || !infra_os_is_admin(d->os))
		return; /* own-project scope: the own account is all there is to see */
	if (!infra_os_has_role(d->os, INFRA_ORPH_RESELLER_ROLE))
		why = "the token lacks Swift's reseller-admin role, " INFRA_ORPH_RESELLER_ROLE;
	else if (infra_orph_swift_account_url(url, infra_os_project_id(d->os), "x", probe, sizeof(probe)))
		why = "the object-store endpoint does not end in the token's project id";
	r->swift_reseller = why ? 0 : 1;
	d->swift_ok = !why;
	if (why) {
		char msg[512];
		snprintf(msg, sizeof(msg), "object-store/containers: own account only (%s): the accounts of Rally and "
			 "dead projects (AUTH_<project_id>) were not listed", why);
		free(r->swift_note);
		r->swift_note = strdup(msg);
		if (!r->swift_note)
			d->oom = 1;
	}
}

struct svc_ctx {
	struct disc *d;
	int s;
};

static void svc_ready(void *ud, const char *url, const struct infra_err *err)
{
	struct svc_ctx *sc = ud;
	struct disc *d = sc->d;
	int s = sc->s;

	free(sc);
	d->svc_pending--;
	if (!url) {
		const char *m = err && err->msg[0] ? err->msg : "endpoint unavailable";
		set_err(&d->r->services[s].error, m);
		for (int t = 0; t < ORPH_NTYPES; t++)
			if (infra_orph_types[t].service == s && d->r->types[t].selected)
				type_error(d, t, m);
		queue_dead_followups(d);
		queue_swift_followups(d);
		return;
	}
	d->url[s] = strdup(url);
	if (!d->url[s]) {
		d->oom = 1;
		return;
	}
	if (s == SVC_OBJECT_STORE)
		swift_scope(d, url);
	queue_service(d, s);
	if (d->projects_done && (s == SVC_COMPUTE || s == SVC_BLOCK_STORAGE)) {
		d->followups_queued = 0;
		queue_followups(d);
	}
	queue_dead_followups(d);
	queue_swift_followups(d);
}

/* ---- classification ---- */

static int cmp_cand(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	if (x->type != y->type)
		return x->type - y->type;
	return strcmp(x->id, y->id);
}

struct cls {
	int reason, kind;
	const char *parent;
};

static double cand_age(const struct disc *d, const struct cand *c)
{
	double t;
	if (!c->created || infra_parse_time(c->created, &t))
		return -1;
	return d->o->now - t;
}

static int classify(struct disc *d)
{
	struct infra_orph_result *r = d->r;
	struct idset orphan_projects = { 0 }, known_projects = { 0 }, young_projects = { 0 };
	struct idset parents = { 0 }, parent_context = { 0 }, orphan_ports = { 0 }, port_context = { 0 };
	struct cls *cl;
	int rc = 0, owner_checks;
	size_t w = 0;

	/* dedupe (the same resource may come from a name list and an owner list) */
	if (d->nc)
		qsort(d->c, d->nc, sizeof(*d->c), cmp_cand);
	for (size_t i = 0; i < d->nc; i++) {
		if (w && d->c[w - 1].type == d->c[i].type && !strcmp(d->c[w - 1].id, d->c[i].id)) {
			struct cand *x = &d->c[i];
			free(x->id); free(x->name); free(x->project); free(x->created);
			free(x->device_id); free(x->device_owner); free(x->port_id); free(x->user_id);
			continue;
		}
		d->c[w++] = d->c[i];
	}
	d->nc = w;

	owner_checks = r->all_projects && r->types[ORPH_PROJECTS].selected && r->types[ORPH_PROJECTS].queried;
	r->owner_checks = owner_checks;
	cl = calloc(d->nc ? d->nc : 1, sizeof(*cl));
	if (!cl)
		return -ENOMEM;
	for (size_t i = 0; i < d->nc; i++) {
		cl[i].reason = -1;
		if (d->c[i].type != ORPH_PROJECTS)
			continue;
		if (owner_checks)
			idset_add(&known_projects, d->c[i].id);
		if (infra_orph_name_matches(d->o->matcher, d->c[i].name))
			idset_add(&orphan_projects, d->c[i].id);
	}
	/* pass 1: everything but ports and floating IPs; pass 2 ports; pass 3 floating
	 * IPs (what they hang off is decided by then) */
	for (int pass = 1; pass <= 3; pass++) {
		for (size_t i = 0; i < d->nc; i++) {
			struct cand *c = &d->c[i];
			struct infra_orph_facts f;
			struct infra_orph_ctx cx = { 0 };
			struct infra_orph_verdict v;
			const char *pid;
			int t = c->type, pt;
			if ((pass == 1) != (t != ORPH_PORTS && t != ORPH_FLOATINGIPS) ||
			    (pass == 2 && t != ORPH_PORTS) || (pass == 3 && t != ORPH_FLOATINGIPS))
				continue;
			cand_facts(c, &f);
			cx.min_age = d->o->min_age;
			cx.now = d->o->now;
			/* keypairs are listed for the caller and for test users only */
			if (t == ORPH_KEYPAIRS)
				cx.user = c->user_id && infra_os_user_id(d->os) && strcmp(c->user_id, infra_os_user_id(d->os)) ?
					  ORPH_USER_ORPHAN : ORPH_USER_OWN;
			if (c->project && *c->project) {
				if (idset_has(&orphan_projects, c->project))
					cx.project = ORPH_PROJ_ORPHAN;
				else if (owner_checks)
					cx.project = idset_has(&known_projects, c->project) ? ORPH_PROJ_OTHER : ORPH_PROJ_GONE;
			}
			pt = infra_orph_parent(&f, &pid);
			if (pt == ORPH_PORTS) {
				cx.parent = idset_has(&orphan_ports, pid);
				cx.parent_kind = idset_has(&port_context, pid) ? ORPH_KIND_CONTEXT : ORPH_KIND_SCENARIO;
			} else if (pt >= 0) {
				cx.parent = idset_has(&parents, pid);
				cx.parent_kind = idset_has(&parent_context, pid) ? ORPH_KIND_CONTEXT : ORPH_KIND_SCENARIO;
			}
			infra_orph_qualify(d->o->matcher, &f, &cx, &v);
			if (v.young) {
				/* young: a run in progress may own it, and so its project */
				if (c->project)
					idset_add(&young_projects, c->project);
				r->skipped_young++;
				continue;
			}
			if (!v.orphan)
				continue;
			cl[i].reason = v.reason;
			cl[i].kind = v.kind;
			cl[i].parent = v.parent;
			if (t == ORPH_ROUTERS || t == ORPH_SERVERS) {
				idset_add(&parents, c->id);
				if (cl[i].kind == ORPH_KIND_CONTEXT)
					idset_add(&parent_context, c->id);
			}
			if (t == ORPH_PORTS) {
				idset_add(&orphan_ports, c->id);
				if (cl[i].kind == ORPH_KIND_CONTEXT)
					idset_add(&port_context, c->id);
			}
		}
	}
	for (size_t i = 0; i < d->nc && !rc; i++) {
		struct cand *c = &d->c[i];
		struct infra_orphan o = { 0 };
		if (cl[i].reason < 0)
			continue;
		o.age = cand_age(d, c);
		if (d->o->min_age > 0 && o.age < 0) {
			/* no creation time (keystone, keypairs, server groups): skip what a
			 * young resource says may still be in use */
			const char *pid = c->type == ORPH_PROJECTS ? c->id : c->project;
			if (pid && idset_has(&young_projects, pid)) {
				r->skipped_young++;
				continue;
			}
		}
		o.type = c->type;
		o.id = c->id;
		o.name = c->name;
		o.project = c->project;
		o.created_at = c->created;
		o.reason = cl[i].reason;
		o.kind = cl[i].kind;
		o.parent = (char *)cl[i].parent;
		o.user_id = c->user_id;
		rc = infra_orph_add(r, &o);
	}
	free(cl);
	free(orphan_projects.v);
	free(known_projects.v);
	free(young_projects.v);
	free(parents.v);
	free(parent_context.v);
	free(orphan_ports.v);
	free(port_context.v);
	infra_orph_sort(r);
	return rc;
}

int infra_orph_discover(struct infra_os *os, const struct infra_orph_opts *o, struct infra_orph_result *r,
			struct infra_err *err)
{
	struct disc d;
	int rc = 0, admin = infra_os_is_admin(os);

	memset(&d, 0, sizeof(d));
	d.os = os;
	d.o = o;
	d.r = r;
	r->all_projects = admin;
	r->project_id = sdup(infra_os_project_id(os));
	r->project_name = sdup(infra_os_project_name(os));
	d.b = infra_http_batch_new(infra_os_http(os), o->jobs > 0 ? o->jobs : 8);
	if (!d.b)
		return infra_err_set(err, -ENOMEM, "cannot create a request batch");
	for (int s = 0; s < SVC_NSERVICES; s++) {
		int want = !o->services || (o->services & (1u << s));
		r->services[s].selected = want;
		if (!want)
			continue;
		r->services[s].in_catalog = infra_os_catalog_url(os, infra_orph_services[s].catalog) != NULL;
		for (int t = 0; t < ORPH_NTYPES; t++) {
			if (infra_orph_types[t].service != s)
				continue;
			if (!r->services[s].in_catalog) {
				set_err(&r->types[t].error, "not in the catalog");
				continue;
			}
			if (s == SVC_IDENTITY && !admin) {
				set_err(&r->types[t].error, "needs the admin role (own-project scope)");
				continue;
			}
			r->types[t].selected = 1;
		}
		if (!r->services[s].in_catalog) {
			set_err(&r->services[s].error, "not in the catalog");
			continue;
		}
		d.depth[s] = (s == SVC_NETWORK || s == SVC_IMAGE) ? 1 : 0;
	}
	for (int s = 0; s < SVC_NSERVICES && !rc; s++) {
		struct svc_ctx *sc;
		if (!r->services[s].selected || !r->services[s].in_catalog)
			continue;
		sc = malloc(sizeof(*sc));
		if (!sc) {
			rc = -ENOMEM;
			break;
		}
		sc->d = &d;
		sc->s = s;
		d.svc_pending++;
		rc = infra_os_endpoint_async(os, d.b, infra_orph_services[s].catalog, svc_ready, sc);
		if (rc) {
			d.svc_pending--;
			free(sc);
		}
		else if (d.depth[s])
			r->requests++;
	}
	if (!rc)
		rc = infra_http_batch_run(d.b, err);
	else
		infra_err_set(err, rc, "cannot queue requests");
	infra_http_batch_free(d.b);
	if (d.oom && !rc)
		rc = infra_err_set(err, -ENOMEM, "out of memory");
	for (int t = 0; t < ORPH_NTYPES; t++)
		r->types[t].queried = r->types[t].selected && !r->types[t].error;
	for (int s = 0; s < SVC_NSERVICES; s++) {
		int any = 0, bad = 0;
		for (int t = 0; t < ORPH_NTYPES; t++) {
			if (infra_orph_types[t].service != s || !r->types[t].selected)
				continue;
			any = 1;
			bad |= !r->types[t].queried;
		}
		r->services[s].queried = any && !bad;
		if (bad && !r->services[s].error)
			for (int t = 0; t < ORPH_NTYPES; t++)
				if (infra_orph_types[t].service == s && r->types[t].selected && r->types[t].error) {
					set_err(&r->services[s].error, r->types[t].error);
					break;
				}
	}
	if (!rc && classify(&d))
		rc = infra_err_set(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < d.nc; i++) {
		struct cand *x = &d.c[i];
		free(x->id); free(x->name); free(x->project); free(x->created);
		free(x->device_id); free(x->device_owner); free(x->port_id); free(x->user_id);
	}
	free(d.c);
	for (size_t i = 0; i < d.swift_listed.n; i++)
		free(d.swift_listed.v[i]);
	free(d.swift_listed.v);
	for (int s = 0; s < SVC_NSERVICES; s++)
		free(d.url[s]);
	return rc;
}

/* ------------------------------------------------------------------ output */

static json_object *jstr(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

/* The 8 hex digits after [sc]_rally_ / [sc]-rally- / rally_verify_: the start of
 * the Rally workload UUID, which groups one failed workload's debris. */
static int workload_of(const char *name, char out[9])
{
	static const char *const pre[] = { "s_rally_", "c_rally_", "s-rally-", "c-rally-", "rally_verify_", NULL };
	for (int i = 0; pre[i]; i++) {
		size_t n = strlen(pre[i]);
		if (strncmp(name, pre[i], n))
			continue;
		for (int k = 0; k < 8; k++)
			if (!isxdigit((unsigned char)name[n + k]))
				return 0;
		if (name[n + 8] != '_' && name[n + 8] != '-')
			return 0;
		memcpy(out, name + n, 8);
		out[8] = '\0';
		return 1;
	}
	return 0;
}

json_object *infra_orph_to_json(const struct infra_orph_result *r, const struct infra_orph_opts *o)
{
	char wl[9];
	json_object *data = json_object_new_object(), *arr = json_object_new_array();
	json_object *pfx = json_object_new_array(), *svcs = json_object_new_array(), *nq = json_object_new_array();
	json_object *counts = json_object_new_object();

	json_object_object_add(data, "scope", json_object_new_string(r->all_projects ? "all-projects" : "own-project"));
	json_object_object_add(data, "project_id", jstr(r->project_id));
	json_object_object_add(data, "project_name", jstr(r->project_name));
	json_object_object_add(data, "owner_checks", json_object_new_boolean(r->owner_checks));
	if (o) {
		for (size_t i = 0; i < o->matcher->nprefixes; i++)
			json_object_array_add(pfx, json_object_new_string(o->matcher->prefixes[i]));
		json_object_object_add(data, "prefixes", pfx);
		json_object_object_add(data, "match", jstr(o->matcher->re_src));
		json_object_object_add(data, "grammar", jstr(o->matcher->grammar ? INFRA_ORPH_RALLY_GRAMMAR : NULL));
		json_object_object_add(data, "min_age", json_object_new_double(o->min_age));
	} else {
		json_object_put(pfx);
	}
	for (int s = 0; s < SVC_NSERVICES; s++) {
		json_object *so, *types;
		if (!r->services[s].selected)
			continue;
		so = json_object_new_object();
		types = json_object_new_array();
		json_object_object_add(so, "service", json_object_new_string(infra_orph_services[s].name));
		json_object_object_add(so, "queried", json_object_new_boolean(r->services[s].queried));
		json_object_object_add(so, "error", jstr(r->services[s].error));
		for (int t = 0; t < ORPH_NTYPES; t++) {
			json_object *to;
			if (infra_orph_types[t].service != s)
				continue;
			to = json_object_new_object();
			json_object_object_add(to, "type", json_object_new_string(infra_orph_types[t].name));
			json_object_object_add(to, "queried", json_object_new_boolean(r->types[t].queried));
			json_object_object_add(to, "error", jstr(r->types[t].queried ? NULL : r->types[t].error));
			json_object_object_add(to, "pages", json_object_new_int(r->types[t].pages));
			json_object_array_add(types, to);
			if (!r->types[t].queried) {
				json_object *n = json_object_new_object();
				json_object_object_add(n, "service", json_object_new_string(infra_orph_services[s].name));
				json_object_object_add(n, "type", json_object_new_string(infra_orph_types[t].name));
				json_object_object_add(n, "reason", json_object_new_string(r->types[t].error ? r->types[t].error : "not queried"));
				json_object_array_add(nq, n);
			}
		}
		json_object_object_add(so, "types", types);
		json_object_array_add(svcs, so);
	}
	json_object_object_add(data, "services", svcs);
	json_object_object_add(data, "not_queried", nq);
	if (r->swift_reseller >= 0) {
		json_object *sw = json_object_new_object();
		json_object_object_add(sw, "other_accounts", json_object_new_boolean(r->swift_reseller == 1));
		json_object_object_add(sw, "accounts_listed", json_object_new_int(r->swift_accounts));
		json_object_object_add(sw, "note", jstr(infra_orph_swift_note(r)));
		json_object_object_add(data, "swift_accounts", sw);
	}
	for (size_t i = 0; i < r->n; i++) {
		const struct infra_orphan *x = &r->items[i];
		const struct infra_orph_type *ty = &infra_orph_types[x->type];
		json_object *it = json_object_new_object(), *sv;
		json_object_object_add(it, "service", json_object_new_string(infra_orph_services[ty->service].name));
		json_object_object_add(it, "type", json_object_new_string(ty->name));
		json_object_object_add(it, "id", json_object_new_string(x->id));
		json_object_object_add(it, "name", json_object_new_string(x->name));
		json_object_object_add(it, "project", jstr(x->project));
		json_object_object_add(it, "created_at", jstr(x->created_at));
		json_object_object_add(it, "age_seconds", x->age >= 0 ? json_object_new_int64((int64_t)floor(x->age)) : NULL);
		json_object_object_add(it, "kind", json_object_new_string(infra_orph_kind_name(x->kind)));
		json_object_object_add(it, "reason", json_object_new_string(infra_orph_reason_name(x->reason)));
		if (workload_of(x->name, wl))
			json_object_object_add(it, "workload", json_object_new_string(wl));
		if (x->parent)
			json_object_object_add(it, "parent", json_object_new_string(x->parent));
		if (x->user_id)
			json_object_object_add(it, "user_id", json_object_new_string(x->user_id));
		json_object_array_add(arr, it);
		if (!json_object_object_get_ex(counts, infra_orph_services[ty->service].name, &sv)) {
			sv = json_object_new_object();
			json_object_object_add(counts, infra_orph_services[ty->service].name, sv);
		}
		json_object *cnt;
		if (json_object_object_get_ex(sv, ty->name, &cnt))
			json_object_set_int(cnt, json_object_get_int(cnt) + 1);
		else
			json_object_object_add(sv, ty->name, json_object_new_int(1));
	}
	json_object_object_add(data, "orphans", arr);
	json_object_object_add(data, "counts", counts);
	json_object_object_add(data, "total", json_object_new_int((int)r->n));
	json_object_object_add(data, "skipped_young", json_object_new_int((int)r->skipped_young));
	return data;
}

int infra_orph_from_json(json_object *doc, struct infra_orph_result *r, struct infra_err *err)
{
	json_object *arr, *data = doc;
	char path[64];

	if (json_object_is_type(doc, json_type_object) && json_object_object_get_ex(doc, "data", &data) &&
	    json_object_is_type(data, json_type_object))
		doc = data;
	if (infra_json_get_array(doc, "orphans", &arr, err))
		return -EINVAL;
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *it = json_object_array_get_idx(arr, i);
		struct infra_orphan o = { 0 };
		const char *svc, *type, *reason, *kind;
		snprintf(path, sizeof(path), "orphans[%zu]", i);
		if (infra_json_get_string(it, "service", &svc, err) || infra_json_get_string(it, "type", &type, err) ||
		    infra_json_get_string(it, "id", (const char **)&o.id, err)) {
			infra_err_prefix(err, "%s", path);
			return -EINVAL;
		}
		o.type = infra_orph_type_lookup(svc, type);
		if (o.type < 0)
			return infra_err_set(err, -EINVAL, "%s: unknown resource type %s/%s", path, svc, type);
		o.name = (char *)infra_json_opt_string(it, "name", "");
		o.project = (char *)infra_json_opt_string(it, "project", NULL);
		o.created_at = (char *)infra_json_opt_string(it, "created_at", NULL);
		o.parent = (char *)infra_json_opt_string(it, "parent", NULL);
		o.user_id = (char *)infra_json_opt_string(it, "user_id", NULL);
		o.age = (double)infra_json_opt_int64(it, "age_seconds", -1);
		reason = infra_json_opt_string(it, "reason", "name");
		kind = infra_json_opt_string(it, "kind", "scenario");
		o.reason = infra_orph_reason_parse(reason);
		if (o.reason < 0)
			return infra_err_set(err, -EINVAL, "%s: unknown reason '%s'", path, reason);
		o.kind = !strcmp(kind, "context") ? ORPH_KIND_CONTEXT : ORPH_KIND_SCENARIO;
		if (infra_orph_add(r, &o))
			return infra_err_set(err, -ENOMEM, "out of memory");
	}
	return 0;
}

int infra_orph_to_prom(const struct infra_orph_result *r, struct infra_prom *p, struct infra_err *err)
{
	size_t cnt[ORPH_NTYPES][2] = { { 0 } }, per_svc[SVC_NSERVICES] = { 0 };
	int rc;

	for (size_t i = 0; i < r->n; i++) {
		cnt[r->items[i].type][r->items[i].kind]++;
		per_svc[infra_orph_types[r->items[i].type].service]++;
	}
	if ((rc = infra_prom_family(p, "osmon_orphans_service_up", INFRA_PROM_GAUGE,
				    "1 when every resource type of the service could be listed", err)))
		return rc;
	for (int s = 0; s < SVC_NSERVICES; s++)
		if (r->services[s].selected && r->services[s].in_catalog &&
		    (rc = infra_prom_addl(p, "osmon_orphans_service_up", r->services[s].queried ? 1 : 0, err, "service",
					  infra_orph_services[s].name, NULL)))
			return rc;
	/* nothing listed: no counts to give (and node_exporter rejects sample-less families) */
	if (!infra_orph_queried_count(r, NULL))
		return 0;
	if (r->types[ORPH_CONTAINERS].queried &&
	    (rc = infra_orph_swift_to_prom(r, p, "osmon_orphans_swift_other_accounts", err)))
		return rc;
	if ((rc = infra_prom_family(p, "osmon_orphaned_resources", INFRA_PROM_GAUGE,
				    "Resources left behind by test runs, by service, type and kind (scenario or context)", err)) ||
	    (rc = infra_prom_family(p, "rally_orphaned_resources", INFRA_PROM_GAUGE,
				    "Resources left behind by Rally runs, by service", err)) ||
	    (rc = infra_prom_family(p, "rally_cleanup_failure", INFRA_PROM_GAUGE,
				    "1 when any Rally resource was left behind", err)))
		return rc;
	for (int t = 0; t < ORPH_NTYPES; t++) {
		const char *svc = infra_orph_services[infra_orph_types[t].service].name;
		if (!r->types[t].queried)
			continue;
		for (int k = 0; k < 2; k++)
			if ((rc = infra_prom_addl(p, "osmon_orphaned_resources", (double)cnt[t][k], err, "service", svc,
						  "type", infra_orph_types[t].name, "kind", infra_orph_kind_name(k), NULL)))
				return rc;
	}
	for (int s = 0; s < SVC_NSERVICES; s++) {
		int any = 0;
		if (!r->services[s].selected || !r->services[s].in_catalog)
			continue;
		for (int t = 0; t < ORPH_NTYPES; t++)
			any |= infra_orph_types[t].service == s && r->types[t].queried;
		if (any && (rc = infra_prom_addl(p, "rally_orphaned_resources", (double)per_svc[s], err, "service",
						 infra_orph_services[s].name, NULL)))
			return rc;
	}
	return infra_prom_addl(p, "rally_cleanup_failure", r->n ? 1 : 0, err, NULL);
}

int infra_orph_to_text(const struct infra_orph_result *r, struct infra_buf *out)
{
	int sel = 0, q = infra_orph_queried_count(r, &sel);

	infra_buf_printf(out, "scope: %s (project %s)\n", r->all_projects ? "all projects" : "own project only",
			 r->project_name ? r->project_name : "?");
	for (int t = 0; t < ORPH_NTYPES; t++)
		if (r->services[infra_orph_types[t].service].selected && !r->types[t].queried && r->types[t].error)
			infra_buf_printf(out, "not queried: %s/%s: %s\n",
					 infra_orph_services[infra_orph_types[t].service].name, infra_orph_types[t].name,
					 r->types[t].error);
	if (infra_orph_swift_note(r))
		infra_buf_printf(out, "note: %s\n", infra_orph_swift_note(r));
	if (!r->n) {
		infra_buf_printf(out, "no orphans (%d of %d resource types queried)\n", q, sel);
		return 0;
	}
	infra_buf_printf(out, "%-14s %-16s %-36s %-32s %-10s %-8s %s\n", "SERVICE", "TYPE", "ID", "NAME", "REASON",
			 "KIND", "AGE");
	for (size_t i = 0; i < r->n; i++) {
		const struct infra_orphan *x = &r->items[i];
		char age[32] = "-";
		if (x->age >= 0) {
			double a = x->age;
			if (a >= 86400)
				snprintf(age, sizeof(age), "%.0fd", floor(a / 86400));
			else if (a >= 3600)
				snprintf(age, sizeof(age), "%.0fh", floor(a / 3600));
			else
				snprintf(age, sizeof(age), "%.0fm", floor(a / 60));
		}
		infra_buf_printf(out, "%-14s %-16s %-36s %-32s %-10s %-8s %s\n",
				 infra_orph_services[infra_orph_types[x->type].service].name, infra_orph_types[x->type].name,
				 x->id, x->name[0] ? x->name : "(unnamed)", infra_orph_reason_name(x->reason),
				 infra_orph_kind_name(x->kind), age);
	}
	infra_buf_printf(out, "%zu orphan%s (%d of %d resource types queried)\n", r->n, r->n == 1 ? "" : "s", q, sel);
	return 0;
}
