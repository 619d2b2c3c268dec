/* nasmon-check - Kubernetes/OpenShift <-> democratic-csi <-> TrueNAS SCALE, correlated,
 * in one run: what is orphaned, leaking, filling up or misconfigured.
 *
 * Options -> config (YAML file, flags, --set) -> Kubernetes lists (lib/infra_kube)
 * and TrueNAS queries (lib/infra_truenas) -> checks engine (lib/infra_nasmon) ->
 * report (json | prom | text | nagios) -> exit code.  See nasmon-check(1).
 *
 * Exit: the worst check (0 OK, 1 WARNING, 2 CRITICAL; info findings never count),
 * 3 UNKNOWN when a source a selected check needs is down (the other checks still
 * run and are reported), on a configuration error, or when nothing could be read.
 */
#include <argp.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "infra_cli.h"
#include "infra_exit.h"
#include "infra_kube.h"
#include "infra_log.h"
#include "infra_nagios.h"
#include "infra_nasmon.h"
#include "infra_nasmon_html.h"
#include "infra_nasmon_state.h"
#include "infra_report.h"
#include "infra_truenas.h"

enum {
	OPT_KUBE_API = 0x3000, OPT_KUBE_TOKEN_FILE, OPT_KUBE_CA, OPT_KUBECONFIG, OPT_KUBE_CONTEXT,
	OPT_TN_URL, OPT_TN_KEY_FILE, OPT_TN_KEY, OPT_TN_API, OPT_DRIVER, OPT_DSPARENT, OPT_SNPARENT,
	OPT_INSTANCE, OPT_CONFIG, OPT_CHECK, OPT_SKIP, OPT_SET, OPT_GRACE, OPT_STATE_DIR, OPT_LIST_CHECKS,
	OPT_NO_KUBE, OPT_NO_TRUENAS, OPT_KUBE_PAGE, OPT_HTML,
};

static const struct argp_option options[] = {
	{ NULL, 0, NULL, 0, "What to check:", 1 },
	{ "check", OPT_CHECK, "IDS", 0, "run only these checks (comma separated, e.g. ORPH-PV,SNAP-COUNT)", 1 },
	{ "skip", OPT_SKIP, "IDS", 0, "do not run these checks", 1 },
	{ "set", OPT_SET, "ID.KEY=VALUE", 0, "a check setting: warn, crit, grace, severity, enabled (repeatable)", 1 },
	{ "grace", OPT_GRACE, "DURATION", 0, "grace period of every check (objects younger are not judged)", 1 },
	{ "config", OPT_CONFIG, "FILE", 0, "YAML config: drivers, parents, instance ids, checks (flags win)", 1 },
	{ "list-checks", OPT_LIST_CHECKS, NULL, 0, "list the check ids with their defaults and exit", 1 },
	{ "state-dir", OPT_STATE_DIR, "DIR", 0, "keep fill history and pod restart counts here: days until full, restarts since the last run", 1 },
	{ "html", OPT_HTML, "FILE", 0, "also write a self-contained HTML report (findings, pool fill and trend)", 1 },
	{ NULL, 0, NULL, 0, "democratic-csi:", 2 },
	{ "csi-driver", OPT_DRIVER, "NAMES", 0, "CSI driver names (default: the org.democratic-csi.* provisioners)", 2 },
	{ "dataset-parent", OPT_DSPARENT, "DATASETS", 0, "zfs.datasetParentName of the drivers (default: inferred)", 2 },
	{ "snapshot-parent", OPT_SNPARENT, "DATASETS", 0, "zfs.detachedSnapshotsDatasetParentName (default: inferred)", 2 },
	{ "instance-id", OPT_INSTANCE, "IDS", 0, "this cluster's provisioner instance ids (default: from its PVs)", 2 },
	{ NULL, 0, NULL, 0, "Kubernetes:", INFRA_HELP_SOURCE },
	{ "kube-api", OPT_KUBE_API, "URL", 0, "API server (default: kubeconfig, then in-cluster)", INFRA_HELP_SOURCE },
	{ "kube-token-file", OPT_KUBE_TOKEN_FILE, "FILE", 0, "bearer token file", INFRA_HELP_SOURCE },
	{ "kube-ca", OPT_KUBE_CA, "FILE", 0, "CA of the API server", INFRA_HELP_SOURCE },
	{ "kubeconfig", OPT_KUBECONFIG, "FILE", 0, "kubeconfig (default $KUBECONFIG, ~/.kube/config)", INFRA_HELP_SOURCE },
	{ "kube-context", OPT_KUBE_CONTEXT, "NAME", 0, "kubeconfig context (default current-context)", INFRA_HELP_SOURCE },
	{ "kube-page-size", OPT_KUBE_PAGE, "N", 0, "items per list page (limit; default 2000)", INFRA_HELP_SOURCE },
	{ "no-kube", OPT_NO_KUBE, NULL, 0, "do not query Kubernetes (its checks are UNKNOWN)", INFRA_HELP_SOURCE },
	{ NULL, 0, NULL, 0, "TrueNAS:", INFRA_HELP_SOURCE + 1 },
	{ "truenas-url", OPT_TN_URL, "URL", 0, "https://HOST[:PORT] (default $TRUENAS_URL)", INFRA_HELP_SOURCE + 1 },
	{ "truenas-api-key-file", OPT_TN_KEY_FILE, "FILE", 0,
	  "API key file (default $TRUENAS_API_KEY_FILE, else $TRUENAS_API_KEY)", INFRA_HELP_SOURCE + 1 },
	{ "truenas-api", OPT_TN_API, "API", 0, "{auto|jsonrpc|rest} (default auto: probe /api/versions)", INFRA_HELP_SOURCE + 1 },
	{ "no-truenas", OPT_NO_TRUENAS, NULL, 0, "do not query TrueNAS (its checks are UNKNOWN)", INFRA_HELP_SOURCE + 1 },
	INFRA_CLI_SECRET_OPTION("truenas-api-key", OPT_TN_KEY),
	{ 0 }
};

static const struct infra_cli_secret secrets[] = {
	{ OPT_TN_KEY, "truenas-api-key", "--truenas-api-key-file, TRUENAS_API_KEY_FILE or TRUENAS_API_KEY" },
	{ 0, NULL, NULL }
};

static struct infra_cli cli;
static struct infra_nagios_cli ncli;
static struct infra_kube_opts kopts = { .page_limit = 2000 };
static const char *tn_url, *tn_key_file, *config_file, *state_dir, *grace, *html;
static enum infra_tn_api tn_api = INFRA_TN_AUTO;
static int no_kube, no_tn;
/* flags that change the config, applied in order after the config file */
static struct { int key; const char *arg; } settings[256];
static size_t nsettings;

static const struct argp_child children[] = {
	{ &infra_cli_check_argp, 0, NULL, 0 },
	{ &infra_nagios_argp, 0, NULL, 0 },
	{ 0 }
};

static error_t parse(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = &cli;
		state->child_inputs[1] = &ncli;
		break;
	case OPT_KUBE_API: kopts.api_url = arg; break;
	case OPT_KUBE_TOKEN_FILE: kopts.token_file = arg; break;
	case OPT_KUBE_CA: kopts.ca_file = arg; break;
	case OPT_KUBECONFIG: kopts.kubeconfig = arg; break;
	case OPT_KUBE_CONTEXT: kopts.context = arg; break;
	case OPT_NO_KUBE: no_kube = 1; break;
	case OPT_KUBE_PAGE:
		if (infra_parse_long(arg, 1, 100000, &kopts.page_limit))
			argp_error(state, "--kube-page-size must be an integer 1..100000, not '%s'", arg);
		break;
	case OPT_NO_TRUENAS: no_tn = 1; break;
	case OPT_TN_URL: tn_url = arg; break;
	case OPT_TN_KEY_FILE: tn_key_file = arg; break;
	case OPT_TN_KEY: infra_cli_refuse_secret(state, secrets, key, arg); break;
	case OPT_TN_API:
		if (!strcmp(arg, "auto"))
			tn_api = INFRA_TN_AUTO;
		else if (!strcmp(arg, "jsonrpc"))
			tn_api = INFRA_TN_JSONRPC;
		else if (!strcmp(arg, "rest"))
			tn_api = INFRA_TN_REST;
		else
			argp_error(state, "--truenas-api must be auto, jsonrpc or rest, not '%s'", arg);
		break;
	case OPT_CONFIG: config_file = arg; break;
	case OPT_STATE_DIR: state_dir = arg; break;
	case OPT_HTML: html = arg; break;
	case OPT_GRACE: grace = arg; break;
	case OPT_LIST_CHECKS: {
		struct infra_buf lb;

		infra_buf_init(&lb, 0);
		infra_nasmon_list_checks(&lb);
		fputs(lb.data ? lb.data : "", stdout);
		infra_buf_release(&lb);
		exit(infra_close_stdout() ? INFRA_EXIT_UNKNOWN : 0);
	}
	case OPT_DRIVER: case OPT_DSPARENT: case OPT_SNPARENT: case OPT_INSTANCE:
	case OPT_CHECK: case OPT_SKIP: case OPT_SET:
		if (nsettings >= sizeof(settings) / sizeof(settings[0]))
			argp_error(state, "too many settings");
		settings[nsettings].key = key;
		settings[nsettings++].arg = arg;
		break;
	case ARGP_KEY_ARG:
		argp_error(state, "unexpected argument '%s'", arg);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp argp = { options, parse, NULL,
	"Correlate Kubernetes (PVs, PVCs, snapshots, attachments, CSI objects, driver pods), democratic-csi "
	"(ZFS user properties, naming) and TrueNAS SCALE (datasets, snapshots, shares, pools): orphans, leaks, "
	"fill and misconfiguration, as JSON, Prometheus text, a table or a Nagios/Icinga check.\v"
	"The TrueNAS API key comes from --truenas-api-key-file, TRUENAS_API_KEY_FILE or TRUENAS_API_KEY, never "
	"from the command line, and is only sent over TLS (or to a loopback host).\n"
	"Exit status: 0 OK, 1 WARNING, 2 CRITICAL (the worst finding; info never counts), 3 UNKNOWN (a source a "
	"selected check needs is down, bad configuration); with -w/-c the count of warning and critical findings "
	"is checked against the ranges instead.",
	children, NULL, NULL };

/* config file, then the flags in order, then --grace */
static int build_config(struct infra_nasmon_config *cfg, struct infra_err *err)
{
	static const char *const names[] = { "drivers", "dataset-parents", "snapshot-parents", "instance-ids" };
	char buf[4200];
	int rc;

	infra_nasmon_config_init(cfg);
	if (config_file && (rc = infra_nasmon_config_load(cfg, config_file, err)))
		return rc;
	for (size_t i = 0; i < nsettings; i++) {
		int key = settings[i].key;
		const char *arg = settings[i].arg;

		if (key == OPT_CHECK || key == OPT_SKIP)
			rc = infra_nasmon_config_select(cfg, arg, key == OPT_CHECK, err);
		else if (key == OPT_SET)
			rc = infra_nasmon_config_set(cfg, arg, err);
		else {
			snprintf(buf, sizeof(buf), "%s=%s", names[key - OPT_DRIVER], arg);
			rc = infra_nasmon_config_set(cfg, buf, err);
		}
		if (rc)
			return rc;
	}
	if (grace) {
		for (int k = 0; k < NASMON_NCHECKS; k++) {
			snprintf(buf, sizeof(buf), "%s.grace=%s", infra_nasmon_checks[k].id, grace);
			if ((rc = infra_nasmon_config_set(cfg, buf, err)))
				return infra_err_set(err, rc, "--grace: expected a duration (90s, 15m, 2h, 7d), not '%s'", grace);
		}
	}
	return 0;
}

static struct infra_nasmon_result res;
static int have_res;

static int text(const struct infra_report *r, struct infra_buf *out)
{
	(void)r;
	return have_res ? infra_nasmon_to_text(&res, out) : 0;
}

/* Open and read one source; returns 0, or -EINVAL for a configuration error (exit 3). */
static int kube_source(const struct infra_http_opts *h, json_object **kube, json_object **failed, json_object *src,
		       const char **why, int *requests)
{
	static struct infra_err err;
	struct infra_kube *k = NULL;
	int rc;

	kopts.http = h;
	rc = infra_kube_open(&k, &kopts, &err);
	if (!rc) {
		json_object_object_add(src, "server", json_object_new_string(infra_kube_server(k)));
		json_object_object_add(src, "auth", json_object_new_string(infra_kube_auth_source(k)));
		rc = infra_nasmon_fetch_kube(k, &kopts, cli.jobs, kube, failed, requests, &err);
	}
	infra_kube_close(k);
	if (rc)
		*why = err.msg;
	return rc == -EINVAL ? rc : 0;
}

static int tn_source(const struct infra_http_opts *h, json_object **tn, json_object **failed, json_object *src,
		     const char **why)
{
	static struct infra_err err;
	struct infra_truenas_opts o = { 0 };
	struct infra_truenas *t = NULL;
	const char *file = tn_key_file ? tn_key_file : getenv("TRUENAS_API_KEY_FILE");
	char *key = NULL;
	int rc = 0;

	o.url = tn_url ? tn_url : getenv("TRUENAS_URL");
	o.api = tn_api;
	o.http = h;
	if (!o.url || !*o.url) {
		*why = "no TrueNAS URL (--truenas-url or TRUENAS_URL)";
		return -EINVAL;
	}
	if (file)
		rc = infra_cli_read_secret_file(file, tn_key_file ? "--truenas-api-key-file" : "TRUENAS_API_KEY_FILE",
						&key, &err);
	else if (getenv("TRUENAS_API_KEY") && *getenv("TRUENAS_API_KEY"))
		key = strdup(getenv("TRUENAS_API_KEY"));
	else
		rc = infra_err_set(&err, -EINVAL, "no TrueNAS API key (--truenas-api-key-file, TRUENAS_API_KEY_FILE or TRUENAS_API_KEY)");
	if (!rc) {
		o.api_key = key;
		rc = infra_truenas_open(&t, &o, &err);
	}
	if (!rc) {
		json_object_object_add(src, "version", json_object_new_string(infra_truenas_version(t)));
		json_object_object_add(src, "transport", json_object_new_string(infra_truenas_transport(t)));
		rc = infra_nasmon_fetch_truenas(t, tn, failed, &err);
	}
	infra_truenas_close(t);
	if (key) {
		explicit_bzero(key, strlen(key));
		free(key);
	}
	if (rc)
		*why = err.msg;
	return rc == -EINVAL ? rc : 0;
}

struct tn_job {
	const struct infra_http_opts *h;
	json_object *tn, *failed, *src;
	const char *why;
	double seconds;
	int rc;
};

static void *tn_thread(void *arg)
{
	struct tn_job *j = arg;
	double t0 = infra_now_mono();

	j->rc = tn_source(j->h, &j->tn, &j->failed, j->src, &j->why);
	j->seconds = infra_now_mono() - t0;
	return NULL;
}

int main(int argc, char **argv)
{
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_http_opts hopts;
	struct infra_nasmon_config cfg;
	struct infra_nasmon_input in = { 0 };
	struct infra_report r;
	json_object *kube = NULL, *tn = NULL, *kfailed = NULL, *tfailed = NULL, *sources, *ks, *ts;
	const char *kwhy = NULL, *twhy = NULL;
	int requests = 0, status, krc = 0, tstarted = 0, kube_up = 0, tn_up = 0;
	double t_run;
	struct tn_job tj = { 0 };
	pthread_t tth;

	infra_cli_init(&cli, "nasmon-check", INFRA_CLI_NAGIOS);
	argp_parse(&argp, argc, argv, 0, NULL, NULL);
	infra_cli_finish(&cli);
	/* padded labels: the run's nasmon_up (added by the report without labels) shares its family
	 * with the per-source samples as nasmon_up{source=""}, which Prometheus stores as the plain
	 * nasmon_up of every other tool */
	if (infra_report_init(&r, "nasmon-check", "nasmon", INFRA_PROM_PAD_LABELS, &err)) {
		infra_log_error("%s", err.msg);
		return INFRA_EXIT_UNKNOWN;
	}
	infra_cli_http_opts(&cli, &hopts);
	sources = json_object_new_object();
	ks = json_object_new_object();
	ts = json_object_new_object();
	json_object_object_add(sources, "kubernetes", ks);
	json_object_object_add(sources, "truenas", ts);
	if (build_config(&cfg, &err)) {
		infra_report_error(&r, "%s", err.msg);
		infra_report_status(&r, INFRA_EXIT_UNKNOWN);
		goto out;
	}
	/* both sources at once: TrueNAS in a thread, the Kubernetes lists here */
	tj.h = &hopts;
	tj.src = ts;
	if (no_tn)
		twhy = "not queried (--no-truenas)";
	else if (pthread_create(&tth, NULL, tn_thread, &tj) == 0)
		tstarted = 1;
	else
		tn_thread(&tj);
	if (no_kube)
		kwhy = "not queried (--no-kube)";
	else
		krc = kube_source(&hopts, &kube, &kfailed, ks, &kwhy, &requests);
	if (!no_kube)
		infra_log(INFRA_LOG_DEBUG, "kubernetes: %d requests in %.2f s", requests, infra_now_mono() - r.start_mono);
	if (tstarted)
		pthread_join(tth, NULL);
	if (!no_tn)
		infra_log(INFRA_LOG_DEBUG, "truenas: read in %.2f s", tj.seconds);
	if (!no_tn) {
		tn = tj.tn;
		tfailed = tj.failed;
		twhy = tj.why;
	}
	if (krc || (!no_tn && tj.rc)) {
		if (krc)
			infra_report_error(&r, "kubernetes: %s", kwhy);
		if (!no_tn && tj.rc)
			infra_report_error(&r, "truenas: %s", twhy);
		infra_report_status(&r, INFRA_EXIT_UNKNOWN);
		goto out;
	}
	if (kwhy && !no_kube)
		infra_report_error(&r, "kubernetes: %s", kwhy);
	if (twhy && !no_tn)
		infra_report_error(&r, "truenas: %s", twhy);
	infra_nasmon_report_failed(&r, "kubernetes", kfailed);
	infra_nasmon_report_failed(&r, "truenas", tfailed);
	if (!kube && !tn) { /* every check is UNKNOWN; the engine still says why, per check */
		infra_report_error(&r, "no source could be read");
		infra_report_status(&r, INFRA_EXIT_UNKNOWN);
	}
	in.kube = kube;
	in.truenas = tn;
	in.kube_error = kwhy;
	in.truenas_error = twhy;
	in.kube_failed = kfailed;
	in.truenas_failed = tfailed;
	in.transport = json_object_get_string(json_object_object_get(ts, "transport"));
	in.now = r.start_time;
	if (state_dir && kube && infra_nasmon_restarts_load(state_dir, &in.restarts_prev, &in.restarts_prev_time, &err)) {
		infra_report_error(&r, "state: %s", err.msg);
		if (err.code != -EILSEQ) /* the directory itself: saying it again for each file adds nothing */
			state_dir = NULL;
	}
	t_run = infra_now_mono();
	if (infra_nasmon_run(&cfg, &in, &res, r.prom, &err)) {
		json_object_put(in.restarts_prev);
		infra_report_error(&r, "%s", err.msg);
		infra_report_status(&r, INFRA_EXIT_UNKNOWN);
		goto out;
	}
	have_res = 1;
	infra_log(INFRA_LOG_DEBUG, "checks: %zu findings in %.2f s", json_object_array_length(res.findings),
		  infra_now_mono() - t_run);
	json_object_put(in.restarts_prev);
	if (state_dir && infra_nasmon_restarts_save(state_dir, &res, r.start_time, &err))
		infra_report_error(&r, "state: %s", err.msg);
	if (state_dir && tn && infra_nasmon_history(&cfg, state_dir, r.start_time, &res, r.prom, &err))
		infra_report_error(&r, "history: %s", err.msg);
	/* the fetched objects are no longer needed (the result owns copies): freed before the
	 * output is rendered, which keeps the peak of a large run down (make bench) */
	kube_up = kube != NULL;
	tn_up = tn != NULL;
	json_object_put(kube);
	json_object_put(tn);
	kube = tn = NULL;
	infra_nasmon_nagios(&r, &res, ncli.warn, ncli.crit);
	infra_log(INFRA_LOG_INFO, "%d Kubernetes requests, %zu findings", requests, json_object_array_length(res.findings));
	{
		json_object *d = infra_nasmon_to_json(&res);

		json_object_object_foreach(d, dk, dv)
			json_object_object_add(r.data, dk, json_object_get(dv));
		json_object_put(d);
	}
out:
	kube_up = kube_up || kube != NULL;
	tn_up = tn_up || tn != NULL;
	json_object_object_add(ks, "up", json_object_new_boolean(kube_up));
	json_object_object_add(ks, "error", kube_up ? NULL : json_object_new_string(kwhy ? kwhy : "not reached"));
	json_object_object_add(ts, "up", json_object_new_boolean(tn_up));
	json_object_object_add(ts, "error", tn_up ? NULL : json_object_new_string(twhy ? twhy : "not reached"));
	json_object_object_add(ks, "requests", json_object_new_int(requests));
	json_object_object_add(r.data, "sources", sources);
	infra_nasmon_source_metrics(r.prom, kube_up, tn_up ? ts : NULL);
	if (html) {
		struct infra_nasmon_html_run hr = { have_res ? &res : NULL, &cfg, sources, r.errors,
						    infra_status_name(r.status), r.start_time };
		size_t bytes = 0;

		if (infra_nasmon_html_write(&hr, html, &bytes, &err)) {
			/* like a failed -o FILE: the run failed, whatever it found (exit 3, nasmon_up 0) */
			infra_report_error(&r, "--html: %s", err.msg);
			infra_report_status(&r, INFRA_EXIT_UNKNOWN);
			r.status = INFRA_EXIT_UNKNOWN;
		} else {
			infra_log(INFRA_LOG_INFO, "wrote %s (%zu bytes)", html, bytes);
		}
	}
	t_run = infra_now_mono();
	status = infra_report_done(&r, &cli, text, infra_nagios_render);
	infra_log(INFRA_LOG_DEBUG, "output written in %.2f s (%.2f s in all)", infra_now_mono() - t_run,
		  infra_now_mono() - r.start_mono);
	if (have_res)
		infra_nasmon_result_release(&res);
	infra_nasmon_config_release(&cfg);
	json_object_put(kube);
	json_object_put(tn);
	json_object_put(kfailed);
	json_object_put(tfailed);
	return status;
}
