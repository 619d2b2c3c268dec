/* infra_spot.h - GPU capacity per GPU type and pool from OpenStack (spot-agg).
 *
 * COLLECTION (infra_spot_collect), all on one infra_http batch of bounded
 * concurrency, after one Keystone authentication:
 *   compute  GET /os-aggregates                       (2.41: uuid)
 *   compute  GET /os-hypervisors/detail, paged         (2.53: service.host, state, status)
 *   placement GET /resource_providers                  (1.14: parent/root_provider_uuid)
 *     then, per provider that is a child, or a root without children:
 *            GET .../inventories and GET .../usages   (in parallel)
 *   compute  GET /servers/detail?all_tenants=1&host=H, paged (2.47: flavor with
 *            extra_specs), once per host of a pool aggregate (queued as soon as the
 *            aggregates are in)
 * The critical path is auth -> (aggregates -> servers pages | providers ->
 * inventories/usages | hypervisors pages).
 *
 * GPU resource classes: VGPU, CUSTOM_PCI_*, and the configured ones (opts.gpu_classes).
 * Capacity of a provider's class is Placement's own (total - reserved) x allocation_ratio;
 * used is its usage; free = capacity - used, never below 0.  A host whose provider tree has
 * any GPU class inventory uses method "placement".  Otherwise method "flavor": used = the sum,
 * over the host's servers, of the counts in the flavor's pci_passthrough:alias ("a:2, b:1") and
 * resources[N]:VGPU / resources[N]:<GPU class> extra specs; total = opts per GPU type
 * (--gpus-per-host) or the aggregate's metadata key "gpus_per_host"; unknown (-1) otherwise.
 *
 * A token without the admin role is a hard error (-EACCES): nova ignores host= for
 * non-admins, so every server returned for host H is also checked to be on H.
 *
 * MAPPING aggregate -> (gpu_type, pool): the metadata keys opts.type_key and opts.pool_key
 * (default "gpu_type", "pool") when both are set; else opts.name_regex (POSIX ERE, group 1 =
 * GPU type, group 2 = pool; default "^([A-Za-z0-9.]+)[-_]([A-Za-z0-9.]+)$", so "H100-spot" is
 * (H100, spot)); else the aggregate is not a pool (an availability zone, ...).  A host in two
 * pool aggregates of different (gpu_type, pool) is a conflict: it is reported and counted in
 * the first by aggregate name.  A host with GPUs in no pool is reported as unmapped.
 *
 * HOST NAMES: aggregate hosts (service hosts), hypervisor_hostname (= Placement root
 * provider names) and NetBox device names are joined by infra_spot_host_key(): lower case,
 * a trailing dot removed, then everything from the first dot removed ("GPU-01.dc1.example.org."
 * -> "gpu-01").  Hosts are shown by their compute service host name.
 *
 * Ownership: a result owns everything in it (infra_spot_result_release).
 */
#ifndef INFRA_SPOT_H
#define INFRA_SPOT_H

#include <stddef.h>

#include <json-c/json.h>

#include "infra_buf.h"
#include "infra_err.h"
#include "infra_openstack.h"
#include "infra_prom.h"

enum infra_spot_source {
	SPOT_SRC_AGGREGATES,
	SPOT_SRC_HYPERVISORS,
	SPOT_SRC_PLACEMENT,
	SPOT_SRC_SERVERS,
	SPOT_SRC_NETBOX,
	SPOT_SRC_HYPERSTACK,
	SPOT_SRC_RUNPOD,
	SPOT_NSOURCES
};
extern const char *const infra_spot_source_names[SPOT_NSOURCES];

struct infra_cache;

#define SPOT_DEFAULT_JOBS 256

#define INFRA_SPOT_DEFAULT_REGEX "^([A-Za-z0-9.]+)[-_]([A-Za-z0-9.]+)$"

struct infra_spot_opts {
	const char *name_regex;         /* NULL: INFRA_SPOT_DEFAULT_REGEX; "" : names never map */
	const char *type_key, *pool_key; /* NULL: "gpu_type", "pool"; "" : metadata never maps */
	const char *const *gpu_classes; /* extra resource classes counted as GPUs (CUSTOM_*) */
	size_t ngpu_classes;
	const char *const *gpus_per_host; /* "TYPE=N" totals for the flavor method */
	size_t ngpus_per_host;
	int jobs;                       /* concurrency of the batch (<1: 8; spot-agg's -j default: SPOT_DEFAULT_JOBS) */
	/* caching (infra_cache.h): NULL = none.  ttl per source in seconds (0 = live: always
	 * asked, the copy kept only as the stale fallback); refresh = bit (1 << source):
	 * ignore a fresh copy this run. */
	struct infra_cache *cache;
	long ttl[SPOT_NSOURCES];
	unsigned refresh;
	/* called once the pool hosts are known (from the aggregates), inside the batch:
	 * spot-agg starts its NetBox lookup there, in parallel with the rest */
	void (*on_hosts)(void *ud, const char *const *hosts, size_t n);
	void *on_hosts_ud;
};


struct infra_spot_source_status {
	int used;           /* configured / asked for */
	int up;             /* the data is there (live or from a cache) */
	int cached;         /* 1: from the cache (fresh hit), 2: stale cache after a failure */
	double seconds;     /* time the live requests took */
	double cache_age;   /* seconds, -1 = none */
	unsigned long cache_hits, cache_misses;
	int requests;
	char *error;        /* NULL when fine */
};

struct infra_spot_aggregate {
	char *name, *uuid;
	long id;
	char *gpu_type, *pool; /* NULL when not a pool */
	long gpus_per_host;    /* metadata "gpus_per_host", -1 if absent */
	char **hosts;          /* service host names as nova gives them */
	size_t nhosts;
};

struct infra_spot_host {
	char *key;             /* infra_spot_host_key of the service host */
	char *host;            /* service host (aggregate name of the host) */
	char *hypervisor;      /* hypervisor_hostname or NULL */
	char *aggregate, *gpu_type, *pool; /* NULL when unmapped */
	char *conflict;        /* "agg1,agg2" when in two pools, else NULL */
	int state_up, enabled; /* -1 unknown (no hypervisor entry) */
	const char *method;    /* "placement" | "flavor" */
	double gpus_total;     /* -1 unknown */
	double gpus_used;
	long vms;              /* servers on the host; -1 unknown */
	char *gpu_classes;     /* "CUSTOM_PCI_10DE_2330" or "VGPU,..." (placement) */
	char *site, *rack, *tenant; /* NetBox (filled by the caller) */
	int in_pool_aggregate; /* member of a pool aggregate */
	int has_gpus;          /* GPU inventory, or GPU flavors */
};

struct infra_spot_pool {
	char *gpu_type, *pool;
	double gpus_total, gpus_used, gpus_free;
	int total_known;       /* every host's total is known */
	long hosts, vms, hosts_up;
};

struct infra_spot_external {
	char *provider, *gpu_type, *state;
	long gpus;
};

struct infra_spot_result {
	struct infra_spot_aggregate *aggs;
	size_t naggs;
	struct infra_spot_host *hosts;   /* sorted by key */
	size_t nhosts;
	struct infra_spot_pool *pools;   /* sorted by gpu_type, pool */
	size_t npools;
	struct infra_spot_external *ext;
	size_t next;
	struct infra_spot_source_status src[SPOT_NSOURCES];
	int requests;
	int critical_path;               /* longest chain of dependent requests */
	size_t unmapped, conflicts;
	void *priv;                      /* collection state */
};

void infra_spot_result_init(struct infra_spot_result *r);
void infra_spot_result_release(struct infra_spot_result *r);

/* The host-name rule above; out gets at most size-1 bytes. */
void infra_spot_host_key(const char *name, char *out, size_t size);

/* Parse a flavor's extra_specs object: GPUs it asks for (alias counts + GPU class
 * resources); classes as in opts. */
long infra_spot_flavor_gpus(json_object *extra_specs, const struct infra_spot_opts *o);

/* Is rc a GPU resource class under opts? */
int infra_spot_is_gpu_class(const char *rc, const struct infra_spot_opts *o);

/* (gpu_type, pool) of an aggregate: 1 mapped (type and pool malloc-ed), 0 not a pool,
 * -EINVAL for a bad regex (err set). */
int infra_spot_map_aggregate(const char *name, json_object *metadata, const struct infra_spot_opts *o,
			     char **type, char **pool, struct infra_err *err);

/* Collect everything from OpenStack (see above).  Source failures are recorded in
 * r->src[] and do not fail the call; returns negative (err set) only for what makes
 * the whole run useless: -EACCES (non-admin token, 401/403 on the aggregates),
 * -EINVAL (bad options), -ENOMEM. */
int infra_spot_collect(struct infra_os *os, const struct infra_spot_opts *o, struct infra_spot_result *r,
		       struct infra_err *err);

/* Everything, in parallel: Hyperstack and RunPod (threads with their own infra_http) from
 * the start, NetBox (a thread) once the pool hosts are known, OpenStack on the calling
 * thread (os NULL: OpenStack could not be reached; os_error says why, and the other
 * sources still run).  Each source goes through opts->cache with its ttl: a fresh copy is
 * used without a request; a failed source falls back to a stale copy (cached = 2, its
 * age) and stays up.  Returns as infra_spot_collect. */
struct infra_netbox_opts;
struct infra_spot_ext {
	const struct infra_http_opts *http;
	const struct infra_netbox_opts *netbox;        /* NULL or url NULL: off */
	const char *hyperstack_url, *hyperstack_key;   /* key NULL: off */
	const char *runpod_url, *runpod_key;           /* key NULL: off */
};
int infra_spot_run(struct infra_os *os, const char *os_error, struct infra_spot_opts *o,
		   const struct infra_spot_ext *x, struct infra_spot_result *r, struct infra_err *err);

/* The errors and status of a collection in a report (infra_report.h): each failed source
 * (WARNING; "a stale copy of N s is used"), hosts in two pools or GPUs in no pool (WARNING),
 * the aggregates unknown (UNKNOWN). */
struct infra_report;
void infra_spot_report_status(const struct infra_spot_result *res, struct infra_report *r);

/* The cache directory: dir, else $XDG_CACHE_HOME/infrakit/spot-agg, else
 * ~/.cache/infrakit/spot-agg (infra_cache_open's rules). */
int infra_spot_cache_open(const char *dir, struct infra_cache **c, struct infra_err *err);
/* The --cache-stats table: each source's TTL, the age and state of its copy. */
int infra_spot_cache_table(struct infra_cache *c, const long ttl[SPOT_NSOURCES], struct infra_buf *out,
			   struct infra_err *err);

/* The --tui tables: "pools" (one row per GPU type and pool, the external clouds, the
 * sources), then one table per pool with its hosts (drill in with Tab or 2..N).
 * *tabs is malloc'd; free each with infra_tui_table_free, then the array. */
struct infra_tui_table;
int infra_spot_tui_tables(const struct infra_spot_result *r, struct infra_tui_table ***tabs, size_t *n);

/* The live view: infra_spot_run every `interval` seconds (the caches apply; 'r' asks every
 * source now) until q.  -ENOTTY without a terminal. */
int infra_spot_tui(struct infra_os *os, const char *os_error, struct infra_spot_opts *o, const struct infra_spot_ext *x,
		   double interval, struct infra_err *err);

/* Add an external cloud's count (provider "hyperstack" | "runpod"). */
int infra_spot_add_external(struct infra_spot_result *r, const char *provider, const char *gpu_type,
			    const char *state, long gpus);

/* Recompute r->pools from the hosts (after NetBox or anything else changed them). */
int infra_spot_totals(struct infra_spot_result *r);

/* Writers. */
json_object *infra_spot_to_json(const struct infra_spot_result *r);
int infra_spot_to_prom(const struct infra_spot_result *r, struct infra_prom *p, struct infra_err *err);
int infra_spot_to_text(const struct infra_spot_result *r, struct infra_buf *out);

/* ---- moving a host between pools ----
 * Steps, each only when needed (idempotent): the host's aggregates are read; when it is
 * not in `to`, add_host to `to`; when it is in `from` (default: every other pool aggregate
 * it is in), remove_host from it;
 * when a remove fails, the add made by this run is undone (remove_host from `to`).
 * Refused (-EBUSY) when the host has servers (any status but SHELVED_OFFLOADED) unless
 * allow_busy; dry_run only reads and says what it would do. */
struct infra_spot_move_opts {
	const char *host, *to, *from; /* from NULL: every pool aggregate but `to` */
	int dry_run, allow_busy;
};
struct infra_spot_move_result {
	json_object *steps;   /* [{"action","aggregate","host","result"}] in order */
	int changed;          /* anything was changed (and stays changed) */
	int rolled_back;
	int action_failed;    /* an add_host/remove_host was refused or failed (exit 2) */
	long vms;
};
int infra_spot_move(struct infra_os *os, const struct infra_spot_opts *o, const struct infra_spot_move_opts *m,
		    struct infra_spot_move_result *res, struct infra_err *err);
void infra_spot_move_result_release(struct infra_spot_move_result *res);

#endif
