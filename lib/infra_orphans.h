/* infra_orphans.h - what test runs (Rally) left behind in an OpenStack cloud:
 * the resource model, discovery and reporting shared by osmon-orphans,
 * osmon-purge and osmon-run (which calls discovery as library code).
 *
 * A resource is an orphan for one of four reasons:
 *   name        its name (a floating IP: its description) follows Rally's name
 *               grammar (the default, INFRA_ORPH_RALLY_GRAMMAR), or, when asked
 *               for explicitly, starts with a --prefix or matches --match REGEX;
 *   owner       it belongs to a project that is itself an orphan (a c_rally
 *               context project): its default security group, unnamed
 *               router-interface ports, images, volumes...;
 *   attached    it hangs off an orphan of another type: the interface ports of an
 *               orphaned router or server (device_id), a floating IP on an
 *               orphaned port;
 *   dead-owner  its project no longer exists in keystone (needs the full project
 *               list, so all-projects scope; users and keypairs never qualify).
 * kind is "context" for c_ names and for owner/dead-owner, "scenario" otherwise;
 * attached inherits the kind of what it hangs off.
 * Ports owned by neutron itself (network:dhcp, network:router_gateway,
 * network:floatingip) are never reported: they go with their network/router/FIP.
 *
 * Discovery runs every list of every selected service on one batch (services,
 * types and pages in parallel, up to opts.jobs requests).  Server-side narrowing
 * where the API has it (nova name regex, cinder name~ (admin), swift prefix), then
 * per-orphan-project follow-up lists (nova, cinder: all_tenants&project_id=) queued
 * when the keystone project list is complete, and keypairs per orphaned user when
 * the user list is complete.  Neutron, glance, heat, nova server groups and
 * keystone users are listed fully and filtered here.  When every first-round list
 * has ended, the projects owning something listed that keystone no longer has
 * (dead projects) get the same per-project server/volume lists (or, beyond
 * INFRA_ORPH_DEAD_LISTS_MAX of them, whole lists of those types).  With Swift's
 * reseller-admin role the accounts of Rally and dead projects are listed as
 * follow-ups too (INFRA_ORPH_RESELLER_ROLE).
 * With narrow = 0 everything is listed fully (also finds a dead project's
 * servers/volumes when it left nothing else).
 *
 * Ownership: a result owns its orphans and strings; free with infra_orph_result_release.
 */
#ifndef INFRA_ORPHANS_H
#define INFRA_ORPHANS_H

#include <argp.h>
#include <json-c/json.h>
#include <regex.h>

#include "infra_err.h"
#include "infra_openstack.h"
#include "infra_prom.h"

enum infra_orph_type_id {
	ORPH_PROJECTS, ORPH_USERS,
	ORPH_SERVERS, ORPH_KEYPAIRS, ORPH_SERVER_GROUPS,
	ORPH_FLOATINGIPS, ORPH_TRUNKS, ORPH_ROUTERS, ORPH_PORTS, ORPH_SUBNETS, ORPH_NETWORKS, ORPH_SECURITY_GROUPS,
	ORPH_SNAPSHOTS, ORPH_BACKUPS, ORPH_VOLUMES,
	ORPH_IMAGES,
	ORPH_CONTAINERS,
	ORPH_STACKS,
	ORPH_NTYPES
};

enum infra_orph_service_id {
	SVC_IDENTITY, SVC_COMPUTE, SVC_NETWORK, SVC_BLOCK_STORAGE, SVC_IMAGE, SVC_OBJECT_STORE, SVC_ORCHESTRATION,
	SVC_NSERVICES
};

struct infra_orph_type {
	const char *name;      /* "servers" */
	int service;           /* enum infra_orph_service_id */
	int tier;              /* purge order: lower first */
	int async;             /* its DELETE completes later (poll until 404) */
};

struct infra_orph_service {
	const char *name;      /* report label: "compute", "block-storage", ... */
	const char *catalog;   /* catalog type looked up: "compute", "volumev3", ... */
};

extern const struct infra_orph_type infra_orph_types[ORPH_NTYPES];
extern const struct infra_orph_service infra_orph_services[SVC_NSERVICES];

int infra_orph_type_lookup(const char *service, const char *type); /* index or -1 */
int infra_orph_service_lookup(const char *name);                   /* index or -1 */

enum infra_orph_reason { ORPH_REASON_NAME, ORPH_REASON_OWNER, ORPH_REASON_ATTACHED, ORPH_REASON_DEAD_OWNER };
enum infra_orph_kind { ORPH_KIND_SCENARIO, ORPH_KIND_CONTEXT };
const char *infra_orph_reason_name(int reason);
const char *infra_orph_kind_name(int kind);
int infra_orph_reason_parse(const char *s); /* -1 if unknown */

struct infra_orphan {
	int type;              /* enum infra_orph_type_id */
	char *id;              /* keypairs: the name; containers: the name, or PROJECT_ID/NAME in
				* another project's account (INFRA_ORPH_RESELLER_ROLE) */
	char *name;            /* floating IPs: the description */
	char *project;         /* owner project id or NULL */
	char *created_at;      /* as the API wrote it, or NULL */
	double age;            /* seconds, -1 when unknown */
	int reason, kind;
	char *parent;          /* attached: id of the orphan it hangs off */
	char *user_id;         /* keypairs: the owning user */
};

/* Rally's resource names (rally RESOURCE_NAME_FORMAT s_rally_XXXXXXXX_XXXXXXXX,
 * X from [A-Za-z0-9], s_ scenario and c_ context), whole name, plus the suffix
 * nova's multi-create appends (multi_instance_display_name_template: "-N" since
 * Liberty, "-UUID" before).  As an ERE, for documentation and JSON: */
#define INFRA_ORPH_RALLY_GRAMMAR \
	"^[sc]_rally_[A-Za-z0-9]{8}_[A-Za-z0-9]{8}(-[1-9][0-9]{0,8}|-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})?$"
/* 1 when name follows that grammar (ASCII only, case-sensitive). */
int infra_orph_rally_name(const char *name);

/* Name selection: Rally's grammar (the default), or the explicit wider forms:
 * prefixes and/or one POSIX extended regex. */
struct infra_orph_matcher {
	int grammar;           /* names follow INFRA_ORPH_RALLY_GRAMMAR */
	const char **prefixes;
	size_t nprefixes;
	int has_re;
	regex_t re;
	char *re_src;
};

/* Neither prefixes (n = 0) nor regex: Rally's grammar. */
int infra_orph_matcher_init(struct infra_orph_matcher *m, const char **prefixes, size_t n,
			    const char *regex, struct infra_err *err);
void infra_orph_matcher_release(struct infra_orph_matcher *m);
int infra_orph_name_matches(const struct infra_orph_matcher *m, const char *name);
int infra_orph_kind_of_name(const char *name);

/* ------------------------------------------------------------------ qualification
 * The one rule that decides whether a resource is an orphan, and why.  Discovery
 * calls it on every listed resource with the context of the listing; osmon-purge
 * calls it again on a fresh GET of every item, with context fetched live (its
 * owner project, what it hangs off), right before acting on it.  Precedence:
 * name, owner, attached, dead-owner.  Never orphans: ports neutron owns
 * (network:dhcp, network:router_gateway, network:floatingip); owner/dead-owner of
 * an external or shared network; dead-owner of a project, user or keypair
 * (a container qualifies by its account's project); a keypair of a user who is neither the caller nor a test user;
 * anything younger than min_age (then young = 1). */
struct infra_orph_facts {
	int type;                              /* enum infra_orph_type_id */
	const char *id, *name, *project, *created;
	const char *device_id, *device_owner;  /* ports */
	const char *port_id;                   /* floating IPs */
	const char *user_id;                   /* keypairs: the owning user */
	int shared;                            /* networks: router:external or shared */
};

/* Facts of a resource of this type from its API object (a list item or the
 * unwrapped body of a GET): strings borrowed from obj.  Keypairs: id = name;
 * containers: id = name, project left NULL (the caller knows the account and
 * sets project, and id in another account). */
void infra_orph_facts_from_json(int type, json_object *obj, struct infra_orph_facts *f);

enum infra_orph_project_state {
	ORPH_PROJ_UNKNOWN = 0, /* not known (no project, or not allowed to look) */
	ORPH_PROJ_ORPHAN,      /* exists and its name matches */
	ORPH_PROJ_OTHER,       /* exists, name does not match */
	ORPH_PROJ_GONE,        /* no longer exists (keystone said so to an admin) */
};

enum infra_orph_user_state {
	ORPH_USER_UNKNOWN = 0,
	ORPH_USER_OWN,         /* the caller's own keypairs */
	ORPH_USER_ORPHAN,      /* a user whose name matches */
	ORPH_USER_OTHER,       /* anyone else: their keypairs are never orphans */
};

struct infra_orph_ctx {
	int project;           /* enum infra_orph_project_state of f->project */
	int parent;            /* 1: what it hangs off (infra_orph_parent) is itself an orphan */
	int parent_kind;
	int user;              /* keypairs: enum infra_orph_user_state of f->user_id */
	double min_age, now;   /* min_age 0: no age rule */
};

struct infra_orph_verdict {
	int orphan;            /* 1: an orphan for reason/kind */
	int young;             /* it would be, but is younger than min_age */
	int reason, kind;
	const char *parent;    /* attached: the id it hangs off (borrowed from the facts) */
	char why[384];         /* not an orphan: why */
};

int infra_orph_qualify(const struct infra_orph_matcher *m, const struct infra_orph_facts *f,
		       const struct infra_orph_ctx *c, struct infra_orph_verdict *v);
/* What f hangs off: ORPH_SERVERS (compute: ports) or ORPH_ROUTERS (router interface
 * ports) for ports, ORPH_PORTS for floating IPs; -1 when nothing.  *id borrowed. */
int infra_orph_parent(const struct infra_orph_facts *f, const char **id);
/* 1 when its owner project can make it an orphan (owner or dead-owner). */
int infra_orph_owner_relevant(const struct infra_orph_facts *f);

struct infra_orph_opts {
	const struct infra_orph_matcher *matcher;
	double min_age;        /* seconds; 0 = no age filter; resources of unknown age are then skipped */
	unsigned services;     /* bit mask (1 << SVC_*); 0 = every service */
	int jobs;              /* concurrent requests */
	int narrow;            /* server-side narrowing (1 by default) */
	double now;            /* reference time (unix seconds) */
};

struct infra_orph_type_status {
	int selected;          /* asked for (service selected and in the catalog) */
	int queried;           /* every list of the type succeeded */
	int chains, pages;
	char *error;           /* why it could not be queried (first error) */
};

struct infra_orph_result {
	struct infra_orphan *items;
	size_t n, alloc;
	int all_projects;      /* scope: 1 all-projects, 0 own-project */
	int owner_checks;      /* the full project list was known (owner/dead-owner possible) */
	char *project_id, *project_name;
	struct infra_orph_type_status types[ORPH_NTYPES];
	struct {
		int selected, in_catalog, queried;
		char *error;
	} services[SVC_NSERVICES];
	int requests;          /* HTTP requests made (pages + discovery + follow-ups) */
	int critical_path;     /* longest chain of dependent requests (auth excluded) */
	size_t skipped_young;  /* excluded by --min-age */
	int dead_projects;     /* owner projects seen that keystone no longer has (narrowed discovery) */
	/* Swift accounts (see INFRA_ORPH_RESELLER_ROLE): -1 not applicable (containers
	 * not listed, or own-project scope), 0 the token's own account only (note says
	 * why), 1 the accounts of Rally and dead projects were listed too */
	int swift_reseller;
	int swift_accounts;    /* other projects' accounts listed */
	char *swift_note;      /* why only the own account was listed, or NULL */
};

/* Swift containers live in per-project accounts (AUTH_<project_id>); a token sees
 * only its own account unless it has Swift's reseller-admin role (keystoneauth's
 * reseller_admin_role, this name by default; Swift compares it case-insensitively).
 * With it and the admin role, discovery also lists the accounts of Rally projects
 * (name matches) and of dead projects (ids that other services' resources, users'
 * default projects included, name as owner and keystone no longer has: Swift has
 * no list of accounts, so a dead project that left only containers is not found).
 * A container in the token's own account has id = its name; in another account
 * id = "PROJECT_ID/NAME" (container names cannot contain '/') and project = that
 * account's project.  Containers in live non-Rally accounts are never listed. */
#define INFRA_ORPH_RESELLER_ROLE "ResellerAdmin"

/* The account URL of project pid from the token's own object-store endpoint
 * (own_url, whose last path segment is <reseller prefix><own_pid>).  -1 when the
 * endpoint does not end in own_pid, pid is not a plain id ([A-Za-z0-9_-]) or the
 * URL does not fit. */
int infra_orph_swift_account_url(const char *own_url, const char *own_pid, const char *pid, char *out,
				 size_t size);
/* The note of a result whose containers were listed in the own account only, or NULL. */
const char *infra_orph_swift_note(const struct infra_orph_result *r);
/* FAMILY 0/1 (swift_reseller) when applicable; nothing otherwise. */
int infra_orph_swift_to_prom(const struct infra_orph_result *r, struct infra_prom *p, const char *family,
			     struct infra_err *err);

/* Narrowed discovery lists the servers, volumes, snapshots and backups of each dead
 * project (all_tenants&project_id=); beyond this many dead projects it lists those
 * types whole instead. */
#define INFRA_ORPH_DEAD_LISTS_MAX 100

void infra_orph_result_init(struct infra_orph_result *r);
void infra_orph_result_release(struct infra_orph_result *r);

/* Run discovery.  Returns 0 when it ran (per-type failures are in r->types),
 * a negative code when it could not run at all. */
int infra_orph_discover(struct infra_os *os, const struct infra_orph_opts *o, struct infra_orph_result *r,
			struct infra_err *err);

/* Number of types that were selected / queried. */
int infra_orph_queried_count(const struct infra_orph_result *r, int *selected);

/* Sort orphans by service, type, name, id (stable report order). */
void infra_orph_sort(struct infra_orph_result *r);

/* JSON "data" of osmon-orphans (documented in osmon-orphans(1)). */
json_object *infra_orph_to_json(const struct infra_orph_result *r, const struct infra_orph_opts *o);
/* Read orphans back from that JSON (whole envelope or its data); -EINVAL with a
 * message naming the bad field. */
int infra_orph_from_json(json_object *doc, struct infra_orph_result *r, struct infra_err *err);

/* Prometheus families of osmon-orphans. */
int infra_orph_to_prom(const struct infra_orph_result *r, struct infra_prom *p, struct infra_err *err);

/* Text table of the orphans. */
int infra_orph_to_text(const struct infra_orph_result *r, struct infra_buf *out);

/* Command line of discovery, shared by osmon-orphans and osmon-purge:
 * --prefix (repeatable), --match REGEX, --min-age DURATION, --service (repeatable,
 * or comma-separated), --no-narrow.  Input: struct infra_orph_cli. */
#define INFRA_ORPH_MAX_PREFIXES 32
struct infra_orph_cli {
	const char *prefixes[INFRA_ORPH_MAX_PREFIXES];
	size_t nprefixes;
	const char *match;
	double min_age;
	unsigned services;
	int no_narrow;
};
extern const struct argp infra_orph_argp;

/* Options from the parsed command line (Rally's grammar when neither --prefix
 * nor --match was given: those replace it).  m must outlive o. */
int infra_orph_cli_setup(struct infra_orph_cli *c, int jobs, struct infra_orph_matcher *m,
			 struct infra_orph_opts *o, struct infra_err *err);

/* argp children every osmon tool includes: the common options (infra_cli), the
 * OpenStack options (infra_os_argp) and discovery (infra_orph_argp); in that order. */
extern const struct argp_child infra_orph_tool_children[];
struct infra_cli;
struct infra_report;
/* For ARGP_KEY_INIT: give the three children their inputs. */
void infra_orph_tool_inputs(struct argp_state *state, struct infra_cli *cli, struct infra_os_flags *osf,
			    struct infra_orph_cli *oc);
/* Add one "service/type not queried: why" error line per failed type; returns
 * the number of queried types and sets *selected. */
int infra_orph_report_queried(struct infra_report *r, const struct infra_orph_result *res, int *selected);
/* Move every member of data (an object, consumed) into the report's data. */
void infra_orph_report_data(struct infra_report *r, json_object *data);

/* Append a copy of o (strings duplicated). */
int infra_orph_add(struct infra_orph_result *r, const struct infra_orphan *o);

#endif
