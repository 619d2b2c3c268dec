/* spot-agg - GPU capacity per GPU type and pool from OpenStack (and NetBox, Hyperstack,
 * RunPod), and moving a host between pools.  See spot-agg(1).
 *
 * Options -> libinfra OpenStack client -> infra_spot_collect (lib/infra_spot.c)
 * -> report (json | prom | text) -> exit code.
 *
 * Exit (report): 0 all sources up, every GPU host in exactly one pool; 1 a source failed
 * (its data missing or from a stale cache), or hosts in no pool or in two; 3 nothing
 * usable (configuration, authentication, a non-admin token, the aggregates unknown).
 * Exit (move): 0 moved, already there, or dry run; 1 refused (servers on the host, the
 * lock held); 2 a remove failed (the add was undone, or the undo failed too); 3 bad
 * usage, authentication, no such aggregate.
 */
#include <argp.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "infra_cache.h"
#include "infra_cli.h"
#include "infra_exit.h"
#include "infra_gpucloud.h"
#include "infra_lock.h"
#include "infra_log.h"
#include "infra_netbox.h"
#include "infra_openstack.h"
#include "infra_report.h"
#include "infra_spot.h"
#include "infra_tui.h"

enum { OPT_REGEX = 1000, OPT_TYPE_KEY, OPT_POOL_KEY, OPT_GPU_CLASS, OPT_GPUS_PER_HOST, OPT_TO, OPT_FROM,
       OPT_CONFIRM, OPT_ALLOW_BUSY, OPT_LOCK_WAIT, OPT_NB_URL, OPT_NB_TOKEN_FILE, OPT_NB_TENANT, OPT_HS_URL,
       OPT_HS_KEY_FILE, OPT_RP_URL, OPT_RP_KEY_FILE, OPT_CACHE_DIR, OPT_NO_CACHE, OPT_TTL, OPT_REFRESH,
       OPT_CLEAR_CACHE, OPT_CACHE_STATS, OPT_TUI, OPT_INTERVAL, OPT_NB_TOKEN, OPT_HS_KEY, OPT_RP_KEY };

#define MAXLIST 64
static struct infra_cli cli;
static struct infra_os_flags osf;
static struct infra_spot_opts so;
static const char *classes[MAXLIST], *per_host[MAXLIST];
static struct infra_spot_move_opts mo = { .dry_run = 1 };
static int moving;
static double lock_wait;
static struct infra_netbox_opts nbo = { .token_v2 = -1, .match_host = 1 };
static const char *nb_token_file, *hs_url, *hs_key_file, *rp_url, *rp_key_file, *cache_dir;
static int no_cache, clear_cache, cache_stats, tui;
static double interval = 30;
static const struct infra_cli_secret secrets[] = {
	{ OPT_NB_TOKEN, "netbox-token", "NETBOX_TOKEN or --netbox-token-file" },
	{ OPT_HS_KEY, "hyperstack-api-key", "HYPERSTACK_API_KEY or --hyperstack-api-key-file" },
	{ OPT_RP_KEY, "runpod-api-key", "RUNPOD_API_KEY or --runpod-api-key-file" },
	{ 0, NULL, NULL }
};
static const long default_ttl[SPOT_NSOURCES] = { 3600, 0, 0, 0, 1800, 0, 0 };

static const struct argp_option options[] = {
	{ NULL, 0, NULL, 0, "Pools:", 1 },
	{ "aggregate-regex", OPT_REGEX, "REGEX", 0,
	  "aggregate name -> (GPU type, pool): POSIX ERE with two groups (default " INFRA_SPOT_DEFAULT_REGEX "; '' = names never map)", 1 },
	{ "type-key", OPT_TYPE_KEY, "KEY", 0, "aggregate metadata key of the GPU type (default gpu_type; wins over the name)", 1 },
	{ "pool-key", OPT_POOL_KEY, "KEY", 0, "aggregate metadata key of the pool (default pool)", 1 },
	{ "gpu-class", OPT_GPU_CLASS, "RC", 0, "also count this Placement resource class as GPUs (besides VGPU, CUSTOM_PCI_*); repeatable", 1 },
	{ "gpus-per-host", OPT_GPUS_PER_HOST, "TYPE=N", 0, "GPUs of a host of TYPE whose GPUs are not in Placement (flavor method); repeatable", 1 },
	{ "tui", OPT_TUI, NULL, 0, "live view: totals per GPU type and pool, Tab to a pool's hosts; q quits", 1 },
	{ "interval", OPT_INTERVAL, "SECONDS", 0, "--tui refresh interval (default 30; the caches still apply)", 1 },
	{ NULL, 0, NULL, 0, "move HOST --to AGGREGATE:", 2 },
	{ "to", OPT_TO, "AGGREGATE", 0, "aggregate to move the host into", 2 },
	{ "from", OPT_FROM, "AGGREGATE", 0, "aggregate to take it out of (default: every other pool aggregate it is in)", 2 },
	{ "confirm", OPT_CONFIRM, NULL, 0, "really change the aggregates (default: dry run)", 2 },
	{ "allow-busy", OPT_ALLOW_BUSY, NULL, 0, "move even when servers run on the host", 2 },
	{ "lock-wait", OPT_LOCK_WAIT, "SECONDS", 0, "wait this long for another move's lock (default 0)", 2 },
	{ NULL, 0, NULL, 0, "Other sources (each off unless configured):", 3 },
	{ "netbox-url", OPT_NB_URL, "URL", 0, "NetBox (v4) base URL for site, rack and tenant of each host (env NETBOX_URL)", 3 },
	{ "netbox-token-file", OPT_NB_TOKEN_FILE, "FILE", 0, "file holding the NetBox token, v1 or nbt_ v2 (env NETBOX_TOKEN, NETBOX_TOKEN_FILE)", 3 },
	{ "netbox-tenant-field", OPT_NB_TENANT, "FIELD", 0, "tenant (default), owner, or cf:NAME (a custom field)", 3 },
	{ "hyperstack-url", OPT_HS_URL, "URL", 0, "Hyperstack API base (default " INFRA_HYPERSTACK_URL "); on when a key is given", 3 },
	{ "hyperstack-api-key-file", OPT_HS_KEY_FILE, "FILE", 0, "file holding the Hyperstack API key (env HYPERSTACK_API_KEY)", 3 },
	{ "runpod-url", OPT_RP_URL, "URL", 0, "RunPod GraphQL endpoint (default " INFRA_RUNPOD_URL "); on when a key is given", 3 },
	{ "runpod-api-key-file", OPT_RP_KEY_FILE, "FILE", 0, "file holding the RunPod API key (env RUNPOD_API_KEY)", 3 },
	INFRA_CLI_SECRET_OPTION("netbox-token", OPT_NB_TOKEN),
	INFRA_CLI_SECRET_OPTION("hyperstack-api-key", OPT_HS_KEY),
	INFRA_CLI_SECRET_OPTION("runpod-api-key", OPT_RP_KEY),
	{ NULL, 0, NULL, 0, "Caches:", 4 },
	{ "cache-dir", OPT_CACHE_DIR, "DIR", 0, "per-source cache directory (default $XDG_CACHE_HOME/infrakit/spot-agg)", 4 },
	{ "no-cache", OPT_NO_CACHE, NULL, 0, "neither read nor write the caches", 4 },
	{ "cache-ttl", OPT_TTL, "SOURCE=SECONDS", 0, "how long a source's copy is used without asking (defaults: aggregates 3600, netbox 1800, others 0 = live); repeatable", 4 },
	{ "refresh", OPT_REFRESH, "SOURCE", OPTION_ARG_OPTIONAL, "ask every source (or SOURCE) even when its copy is fresh", 4 },
	{ "clear-cache", OPT_CLEAR_CACHE, NULL, 0, "remove every cached copy and exit", 4 },
	{ "cache-stats", OPT_CACHE_STATS, NULL, 0, "print each source's cached copy (age, TTL) and exit", 4 },
	{ 0 }
};

static const struct argp_child children[] = {
	{ &infra_cli_argp, 0, NULL, 0 },
	{ &infra_os_argp, 0, NULL, 0 },
	{ 0 }
};

static void add_list(struct argp_state *state, const char **list, size_t *n, const char *arg, const char *what)
{
	if (*n >= MAXLIST)
		argp_error(state, "too many --%s (at most %d)", what, MAXLIST);
	list[(*n)++] = arg;
}

static error_t parse(int key, char *arg, struct argp_state *state)
{
	long v;

	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = &cli;
		state->child_inputs[1] = &osf;
		memcpy(so.ttl, default_ttl, sizeof so.ttl);
		break;
	case OPT_REGEX: so.name_regex = arg; break;
	case OPT_TYPE_KEY: so.type_key = arg; break;
	case OPT_POOL_KEY: so.pool_key = arg; break;
	case OPT_GPU_CLASS:
		if (strncmp(arg, "CUSTOM_", 7) && strcmp(arg, "VGPU") && strcmp(arg, "PGPU"))
			argp_error(state, "--gpu-class %s: a resource class such as CUSTOM_A100", arg);
		add_list(state, classes, &so.ngpu_classes, arg, "gpu-class");
		break;
	case OPT_GPUS_PER_HOST: {
		const char *eq = strchr(arg, '=');
		if (!eq || eq == arg || infra_parse_long(eq + 1, 0, 1000000, &v))
			argp_error(state, "--gpus-per-host %s: expected TYPE=N", arg);
		add_list(state, per_host, &so.ngpus_per_host, arg, "gpus-per-host");
		break;
	}
	case OPT_TO: mo.to = arg; break;
	case OPT_FROM: mo.from = arg; break;
	case OPT_CONFIRM: mo.dry_run = 0; break;
	case OPT_ALLOW_BUSY: mo.allow_busy = 1; break;
	case OPT_LOCK_WAIT:
		if (infra_parse_duration(arg, &lock_wait))
			argp_error(state, "--lock-wait %s: not a duration", arg);
		break;
	case OPT_NB_URL: nbo.url = arg; break;
	case OPT_NB_TOKEN_FILE: nb_token_file = arg; break;
	case OPT_NB_TENANT:
		if (strcmp(arg, "tenant") && strcmp(arg, "owner") && strncmp(arg, "cf:", 3))
			argp_error(state, "--netbox-tenant-field %s: tenant, owner or cf:NAME", arg);
		nbo.tenant_field = arg;
		break;
	case OPT_HS_URL: hs_url = arg; break;
	case OPT_HS_KEY_FILE: hs_key_file = arg; break;
	case OPT_RP_URL: rp_url = arg; break;
	case OPT_RP_KEY_FILE: rp_key_file = arg; break;
	case OPT_CACHE_DIR: cache_dir = arg; break;
	case OPT_NO_CACHE: no_cache = 1; break;
	case OPT_CLEAR_CACHE: clear_cache = 1; break;
	case OPT_CACHE_STATS: cache_stats = 1; break;
	case OPT_TUI: tui = 1; break;
	case OPT_INTERVAL:
		if (infra_parse_duration(arg, &interval) || interval < 0.2)
			argp_error(state, "--interval %s: a duration of at least 0.2 s", arg);
		break;
	case OPT_TTL:
	case OPT_REFRESH: {
		const char *eq = arg ? strchr(arg, '=') : NULL;
		size_t l = arg ? (key == OPT_TTL && eq ? (size_t)(eq - arg) : strlen(arg)) : 0;
		int src = -1;
		double secs = 0;
		if (!arg) {
			so.refresh = ~0u;
			break;
		}
		for (int i = 0; i < SPOT_NSOURCES; i++)
			if (strlen(infra_spot_source_names[i]) == l && !strncmp(arg, infra_spot_source_names[i], l))
				src = i;
		if (src < 0)
			argp_error(state, "--%s %s: unknown source (aggregates, hypervisors, placement, servers, netbox, hyperstack, runpod)",
				   key == OPT_TTL ? "cache-ttl" : "refresh", arg);
		if (key == OPT_REFRESH) {
			so.refresh |= 1u << src;
		} else {
			if (!eq || infra_parse_duration(eq + 1, &secs) || secs < 0)
				argp_error(state, "--cache-ttl %s: expected SOURCE=SECONDS", arg);
			so.ttl[src] = (long)secs;
		}
		break;
	}
	case ARGP_KEY_ARG:
		if (state->arg_num == 0 && !strcmp(arg, "move"))
			moving = 1;
		else if (state->arg_num == 1 && moving)
			mo.host = arg;
		else
			argp_error(state, "unexpected argument '%s'", arg);
		break;
	case ARGP_KEY_END:
		if (moving && (!mo.host || !mo.to))
			argp_error(state, "move needs a HOST and --to AGGREGATE");
		if (!moving && (mo.to || mo.from || !mo.dry_run || mo.allow_busy))
			argp_error(state, "--to, --from, --confirm and --allow-busy belong to 'move'");
		break;
	case OPT_NB_TOKEN:
	case OPT_HS_KEY:
	case OPT_RP_KEY:
		infra_cli_refuse_secret(state, secrets, key, arg);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp argp = { options, parse, "\nmove HOST --to AGGREGATE [--from AGGR] [--confirm]",
	"GPU capacity per GPU type and pool from OpenStack host aggregates, hypervisors and Placement "
	"(flavors of the servers for hosts whose GPUs are not in Placement), collected in parallel; "
	"or move a host from one pool aggregate to another.\v"
	"Credentials come from OS_* variables or OS_CLOUD and clouds.yaml (an admin account); secrets never on the command line.\n"
	"Exit status: 0 OK, 1 a source failed or hosts in no pool or two, 3 nothing usable.  "
	"move: 0 done (or dry run), 1 refused, 2 a remove failed (the add undone), 3 could not try.",
	children, NULL, NULL };

static const struct infra_spot_result *cur;

static int text(const struct infra_report *r, struct infra_buf *out)
{
	if (r->status == INFRA_EXIT_UNKNOWN && (!cur || !cur->nhosts))
		return 0;
	return infra_spot_to_text(cur, out);
}

static struct infra_spot_move_result mres;

static int move_text(const struct infra_report *r, struct infra_buf *out)
{
	(void)r;
	for (size_t i = 0; mres.steps && i < json_object_array_length(mres.steps); i++) {
		json_object *s = json_object_array_get_idx(mres.steps, i);
		infra_buf_printf(out, "%s %s %s: %s\n", json_object_get_string(json_object_object_get(s, "action")),
				 json_object_get_string(json_object_object_get(s, "host")),
				 json_object_get_string(json_object_object_get(s, "aggregate")),
				 json_object_get_string(json_object_object_get(s, "result")));
	}
	return 0;
}

static int do_move(struct infra_report *r, struct infra_os *os)
{
	struct infra_err err = INFRA_ERR_INIT;
	char used[512];
	int fd = -1, rc;

	if ((rc = infra_lock_default("spot-agg-move.lock", lock_wait, &fd, used, sizeof used, &err))) {
		infra_report_error(r, "%s", err.msg);
		infra_report_status(r, rc == -EBUSY || rc == -ETIMEDOUT ? INFRA_EXIT_WARNING : INFRA_EXIT_UNKNOWN);
		return 0;
	}
	rc = infra_spot_move(os, &so, &mo, &mres, &err);
	infra_lock_release(fd);
	json_object_object_add(r->data, "host", json_object_new_string(mo.host));
	json_object_object_add(r->data, "to", json_object_new_string(mo.to));
	json_object_object_add(r->data, "dry_run", json_object_new_boolean(mo.dry_run));
	json_object_object_add(r->data, "changed", json_object_new_boolean(mres.changed));
	json_object_object_add(r->data, "rolled_back", json_object_new_boolean(mres.rolled_back));
	json_object_object_add(r->data, "vms", json_object_new_int64(mres.vms));
	json_object_object_add(r->data, "steps", json_object_get(mres.steps));
	if (rc) {
		infra_report_error(r, "move %s --to %s: %s", mo.host, mo.to, err.msg);
		infra_report_status(r, rc == -EBUSY ? INFRA_EXIT_WARNING : mres.action_failed ? INFRA_EXIT_CRITICAL
										: INFRA_EXIT_UNKNOWN);
	}
	return 0;
}

static int run_tui(struct infra_os *os, const char *os_error, const struct infra_spot_ext *x)
{
	struct infra_err err = INFRA_ERR_INIT;

	if (infra_spot_tui(os, os_error, &so, x, interval, &err)) {
		infra_log_error("--tui: %s", err.msg);
		return INFRA_EXIT_UNKNOWN;
	}
	return INFRA_EXIT_OK;
}

/* A secret from ENV, else the file named by --FLAG or ENV_FILE; NULL when none. */
static int secret(const char *env, const char *file, const char *flag, char **out, struct infra_err *err)
{
	char envfile[64];
	const char *v = getenv(env);

	*out = NULL;
	if (v && *v)
		return (*out = strdup(v)) ? 0 : -ENOMEM;
	snprintf(envfile, sizeof envfile, "%s_FILE", env);
	if (!file)
		file = getenv(envfile);
	if (!file || !*file)
		return 0;
	return infra_cli_read_secret_file(file, flag, out, err);
}

static int cache_command(struct infra_cache *c)
{
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_buf b;
	int rc;

	infra_buf_init(&b, 0);
	rc = clear_cache ? infra_cache_clear(c, NULL, &err) : infra_spot_cache_table(c, so.ttl, &b, &err);
	if (!rc && clear_cache)
		rc = infra_buf_printf(&b, "cleared %s\n", infra_cache_dir(c));
	if (rc)
		infra_log_error("%s", err.msg);
	else
		fwrite(b.data, 1, b.len, stdout);
	infra_buf_release(&b);
	return rc ? INFRA_EXIT_UNKNOWN : INFRA_EXIT_OK;
}

int main(int argc, char **argv)
{
	struct infra_err err = INFRA_ERR_INIT, oserr = INFRA_ERR_INIT;
	struct infra_http_opts hopts;
	struct infra_spot_result res;
	struct infra_spot_ext x = { 0 };
	struct infra_report r;
	struct infra_os *os = NULL;
	struct infra_cache *cache = NULL;
	char *nb_token = NULL, *hs_key = NULL, *rp_key = NULL;
	int rc, status;

	infra_cli_init(&cli, "spot-agg", 0);
	/* throughput-bound: thousands of small Placement requests, each a round trip; keep-alive
	 * connections, at most this many at once (the cold bench needs ~8,000 / -j round trips) */
	cli.jobs = SPOT_DEFAULT_JOBS;
	argp_parse(&argp, argc, argv, 0, NULL, NULL);
	infra_cli_finish(&cli);
	so.gpu_classes = classes;
	so.gpus_per_host = per_host;
	so.jobs = cli.jobs;
	infra_spot_result_init(&res);
	if (!no_cache && !moving && infra_spot_cache_open(cache_dir, &cache, &err)) {
		infra_log_error("cache: %s", err.msg);
		return INFRA_EXIT_UNKNOWN;
	}
	if (clear_cache || cache_stats) {
		if (!cache) {
			infra_log_error("--clear-cache and --cache-stats need the cache (not --no-cache)");
			return INFRA_EXIT_UNKNOWN;
		}
		status = cache_command(cache);
		infra_cache_close(cache);
		return infra_close_stdout() ? INFRA_EXIT_UNKNOWN : status;
	}
	so.cache = cache;
	if (infra_report_init(&r, "spot-agg", "spot_agg", 0, &err)) {
		infra_log_error("%s", err.msg);
		return INFRA_EXIT_UNKNOWN;
	}
	infra_cli_http_opts(&cli, &hopts);
	if (!nbo.url)
		nbo.url = getenv("NETBOX_URL");
	if (secret("NETBOX_TOKEN", nb_token_file, "--netbox-token-file", &nb_token, &err) ||
	    secret("HYPERSTACK_API_KEY", hs_key_file, "--hyperstack-api-key-file", &hs_key, &err) ||
	    secret("RUNPOD_API_KEY", rp_key_file, "--runpod-api-key-file", &rp_key, &err)) {
		infra_report_error(&r, "%s", err.msg);
		infra_report_status(&r, INFRA_EXIT_UNKNOWN);
		goto out;
	}
	if (nbo.url && *nbo.url && !nb_token) {
		infra_report_error(&r, "NetBox %s: no token (NETBOX_TOKEN or --netbox-token-file)", nbo.url);
		infra_report_status(&r, INFRA_EXIT_UNKNOWN);
		goto out;
	}
	nbo.token = nb_token;
	x.http = &hopts;
	x.netbox = nbo.url && *nbo.url ? &nbo : NULL;
	x.hyperstack_url = hs_url ? hs_url : INFRA_HYPERSTACK_URL;
	x.hyperstack_key = hs_key;
	x.runpod_url = rp_url ? rp_url : INFRA_RUNPOD_URL;
	x.runpod_key = rp_key;
	if (infra_os_connect(&osf, &hopts, &os, &oserr)) {
		if (moving || oserr.code == -EINVAL) {
			infra_report_error(&r, "%s", oserr.msg);
			infra_report_status(&r, INFRA_EXIT_UNKNOWN);
			goto out;
		}
	} else {
		infra_cli_observe(infra_os_http(os), moving ? "move" : "collection");
	}
	if (moving) {
		do_move(&r, os);
		status = infra_report_done(&r, &cli, move_text, NULL);
		infra_spot_move_result_release(&mres);
		infra_os_free(os);
		return status;
	}
	if (tui) {
		infra_report_release(&r);
		status = run_tui(os, oserr.msg, &x);
		infra_os_free(os);
		infra_cache_close(cache);
		free(nb_token);
		free(hs_key);
		free(rp_key);
		return status;
	}
	rc = infra_spot_run(os, oserr.msg, &so, &x, &res, &err);
	cur = &res;
	if (rc) {
		infra_report_error(&r, "%s", err.msg);
		infra_report_status(&r, INFRA_EXIT_UNKNOWN);
	} else {
		infra_spot_report_status(&res, &r);
	}
	if (infra_spot_to_prom(&res, r.prom, &err))
		infra_report_error(&r, "%s", err.msg);
	json_object_put(r.data);
	r.data = infra_spot_to_json(&res);
	if (cache)
		json_object_object_add(r.data, "cache_dir", json_object_new_string(infra_cache_dir(cache)));
	infra_log(INFRA_LOG_INFO, "%d requests, critical path %d requests", res.requests, res.critical_path);
out:
	cur = &res;
	status = infra_report_done(&r, &cli, text, NULL);
	infra_os_free(os);
	infra_spot_result_release(&res);
	infra_cache_close(cache);
	free(nb_token);
	free(hs_key);
	free(rp_key);
	return status;
}
