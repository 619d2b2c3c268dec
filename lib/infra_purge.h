/* infra_purge.h - delete orphans (infra_orphans.h) safely, in dependency order.
 *
 * A plan is the list of orphans sorted by tier (infra_orph_types[].tier):
 * servers; floating IPs; trunks; routers (routes cleared, gateway cleared,
 * interfaces removed, then the router); ports (router-interface ports through
 * remove_router_interface); subnets; networks; security groups; stacks;
 * snapshots and backups; volumes; images; keypairs and server groups;
 * containers (objects first); users; projects.  Tiers run one after another;
 * the items of a tier run in parallel on one batch (up to opts.jobs requests).
 *
 * The input (discovery, or a --from file) is a hint: which resources to look at.
 * For every item, immediately before acting on it, the resource is fetched again
 * and its reason re-derived from live state by infra_orph_qualify(), the rule
 * discovery uses, whatever the input said: its owner project is fetched from
 * keystone (admin only; a 404 there is "gone"), what it hangs off (a port's server
 * or router, a floating IP's port, and that port's own parent) is fetched and
 * qualified the same way.  What no longer qualifies is skipped and reported
 * (skip_reason "not-orphan", or "young" under min_age).
 *   name, owner, dead-owner  the resource is deleted;
 *   attached                 it is not Rally's (no name, no test project): it is
 *                            detached, not deleted (state "detached"): a floating
 *                            IP disassociated (PUT port_id null), a router
 *                            interface port removed from its router
 *                            (remove_router_interface); a port of a server is left
 *                            alone (skip_reason "attached": nova releases it with
 *                            the server).
 * Neutron updates and deletes carry If-Match: revision_number=N (the revision that
 * was checked); a 412 (changed since) skips the item (skip_reason "changed").  The
 * one exception is clearing a router's gateway, which Neutron answers 412 whatever
 * the revision (and does anyway): it is sent right after the conditional PUT that
 * clears the routes, without If-Match.  A
 * router that had to be emptied first (routes, gateway, interfaces) is fetched
 * again and its name and project compared with what was checked before its
 * conditional DELETE.  Other services have no conditional delete: their DELETE
 * follows the re-check GET immediately.
 * 404 at any step means already gone (done).  409/400 (dependency still there)
 * and transient failures (5xx, 429, timeouts after the HTTP layer's own retries)
 * are retried in up to opts.rounds rounds with a doubling delay; anything else
 * fails the item, and the run carries on.  Asynchronous deletes (servers, stacks,
 * volumes, snapshots, backups) are polled until 404 (or DELETE_COMPLETE) for at
 * most opts.wait_timeout seconds.  Nothing but the planned items is deleted,
 * except the objects inside a planned container.  A container is addressed in the
 * Swift account its id names (PROJECT_ID/NAME), else its project's, else the
 * token's own (infra_orph_swift_account_url), and re-qualified with that
 * account's project as owner; another account needs Swift's reseller-admin role
 * (a 403 otherwise fails the item).
 *
 * Ownership: the purge copies the orphans it plans; free with infra_purge_release.
 */
#ifndef INFRA_PURGE_H
#define INFRA_PURGE_H

#include <json-c/json.h>

#include "infra_buf.h"
#include "infra_err.h"
#include "infra_openstack.h"
#include "infra_orphans.h"
#include "infra_prom.h"

enum infra_purge_state {
	PURGE_PLANNED = 0,
	PURGE_DELETED,  /* deleted by this run */
	PURGE_GONE,     /* already gone (404) */
	PURGE_FAILED,
	PURGE_SKIPPED,  /* re-check failed: left alone (skip says why) */
	PURGE_DETACHED, /* attached, not Rally's: detached from the orphan, kept */
};

/* why a skipped item was left alone (JSON "skip_reason") */
enum infra_purge_skip {
	PURGE_SKIP_NONE = 0,
	PURGE_SKIP_NOT_ORPHAN, /* "not-orphan": live state does not qualify (message says why) */
	PURGE_SKIP_YOUNG,      /* "young": younger than --min-age */
	PURGE_SKIP_CHANGED,    /* "changed": it changed between the re-check and the DELETE (412) */
	PURGE_SKIP_ATTACHED,   /* "attached": a port of an orphan server, not Rally's: left to nova */
};
const char *infra_purge_skip_name(int skip);

/* Where a running purge is (infra_purge_opts.progress): its step (one tier of the
 * plan, in order, counting only tiers with items) and what happened to the step's
 * items so far.  Reported when a step starts (step_change 1), as its items end (at
 * most ten times a second) and when it ends (step_change 1). */
struct infra_purge_progress {
	int step, steps;       /* 1-based; steps = tiers with items */
	const char *what;      /* the types of the step: "snapshots, backups" */
	size_t deleted;        /* deleted or already gone */
	size_t detached, skipped, failed;
	size_t remaining;      /* not finished yet */
	int step_change;       /* the step starts or ends: show it now */
};
typedef void (*infra_purge_progress_fn)(void *ud, const struct infra_purge_progress *pr);

struct infra_purge_opts {
	const struct infra_orph_matcher *matcher; /* the same as discovery's */
	int jobs;
	double wait_timeout;  /* seconds, default 300 */
	int rounds;           /* attempts per item for conflicts/transient failures, default 5 */
	double round_delay;   /* first delay between rounds, default 1 s (doubles, max 8 s) */
	double min_age;       /* skip resources younger than this (0 = no check) */
	double now;
	infra_purge_progress_fn progress; /* optional; called from infra_purge_run's thread */
	void *progress_ud;
};

struct infra_purge_item {
	struct infra_orphan o;
	int state;
	int skip;             /* enum infra_purge_skip when skipped */
	int checked;          /* live_reason/live_kind were derived from live state */
	int live_reason, live_kind;
	char *msg;            /* why it failed or was skipped */
	/* run state (private) */
	int phase, pending, retry, attempts;
	struct purge_live *live; /* what the re-check fetched */
	char *aux;            /* ports: the router of an interface port */
	int flags;
	char **objs;          /* container objects to delete */
	size_t nobjs;
	double wait_start;
};

struct infra_purge {
	struct infra_purge_item *items;
	size_t n;
};

/* Plan: copy the orphans of r (selected services only when services != 0),
 * sorted by tier, type, name, id. */
int infra_purge_plan(struct infra_purge *p, const struct infra_orph_result *r, unsigned services,
		     struct infra_err *err);
void infra_purge_release(struct infra_purge *p);

/* Execute the plan.  Returns 0 when it ran (item failures are in the items),
 * a negative code when it could not run at all. */
int infra_purge_run(struct infra_os *os, struct infra_purge *p, const struct infra_purge_opts *o,
		    struct infra_err *err);

/* Count items in a state. */
size_t infra_purge_count(const struct infra_purge *p, int state);

/* JSON "data", Prometheus families, text; dry_run = the plan only. */
json_object *infra_purge_to_json(const struct infra_purge *p, int dry_run);
int infra_purge_to_prom(const struct infra_purge *p, int dry_run, struct infra_prom *prom, struct infra_err *err);
int infra_purge_to_text(const struct infra_purge *p, int dry_run, struct infra_buf *out);

/* Take the per-cloud lock through infra_lock: path (an explicit --lock-file,
 * opened with the same checks), or when NULL osmon-purge-<hash of the auth
 * URL>.lock in infra_lock_default's directory (/run/infrakit as root, never
 * /tmp).  Non-blocking: -EBUSY with "another run holds the lock FILE (pid N)"
 * when taken.  *fd stays open for the life of the process (the kernel drops
 * the lock on any exit, SIGKILL included). */
int infra_purge_lock(const char *path, const char *auth_url, int *fd, char *used, size_t used_size,
		     struct infra_err *err);

#endif
