/* osmon-orphans - find what test runs (Rally) left behind in an OpenStack cloud.
 *
 * Options -> libinfra OpenStack client -> orphan discovery (lib/infra_orphans.c)
 * -> report (json | prom | text) -> exit code.  See osmon-orphans(1).
 *
 * Exit: 0 no orphans; 1 orphans found, or some resource types could not be
 * listed (they are named in "not_queried" and on stderr); 3 nothing could be
 * listed (configuration, authentication, every service failing).
 */
#include <argp.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "infra_cli.h"
#include "infra_exit.h"
#include "infra_log.h"
#include "infra_nagios.h"
#include "infra_openstack.h"
#include "infra_orphans.h"
#include "infra_report.h"

static struct infra_cli cli;
static struct infra_os_flags osf;
static struct infra_orph_cli ocli;
static struct infra_orph_result result;
static struct infra_nagios_cli ncli;

/* a check: the common options with --format nagios, then OpenStack, discovery, thresholds */
static const struct argp_child children[] = {
	{ &infra_cli_check_argp, 0, NULL, 0 },
	{ &infra_os_argp, 0, NULL, 0 },
	{ &infra_orph_argp, 0, NULL, 0 },
	{ &infra_nagios_argp, 0, NULL, 0 },
	{ 0 }
};

static error_t parse(int key, char *arg, struct argp_state *state)
{
	(void)arg;
	switch (key) {
	case ARGP_KEY_INIT:
		infra_orph_tool_inputs(state, &cli, &osf, &ocli);
		state->child_inputs[3] = &ncli;
		break;
	case ARGP_KEY_ARG:
		argp_error(state, "unexpected argument '%s'", arg);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp argp = { NULL, parse, NULL,
	"Find resources that test runs left behind in OpenStack: by name (Rally's s_rally_XXXXXXXX_XXXXXXXX grammar), "
	"by owner project, attached to an orphan, or owned by a project that no longer exists.\v"
	"Credentials come from OS_* variables or OS_CLOUD and clouds.yaml; secrets never on the command line.\n"
	"Exit status: 0 none, 1 orphans found (or some types not queried), 3 could not query; "
	"with -w/-c the orphan count is checked against the ranges instead (0 OK, 1 WARNING, 2 CRITICAL).",
	children, NULL, NULL };

static int text(const struct infra_report *r, struct infra_buf *out)
{
	int sel = 0;

	/* nothing listed: no table and no "no orphans" (the failure is above it) */
	if (r->status == INFRA_EXIT_UNKNOWN && infra_orph_queried_count(&result, &sel) == 0)
		return 0;
	return infra_orph_to_text(&result, out);
}

/* The status of a run that listed something: orphans (or -w/-c on their count) and
 * types that could not be listed; the Nagios summary and perfdata. */
static void nagios_status(struct infra_report *r, int queried, int sel)
{
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_threshold t;
	size_t per[SVC_NSERVICES] = { 0 };

	if (ncli.warn || ncli.crit) {
		infra_threshold_set(&t, ncli.warn, ncli.crit, &err); /* checked when parsed */
		infra_report_status(r, infra_threshold_status(&t, (double)result.n));
	} else {
		infra_threshold_set(&t, "0", NULL, &err); /* any orphan is a WARNING */
		if (result.n)
			infra_report_status(r, INFRA_EXIT_WARNING);
	}
	if (queried < sel)
		infra_report_status(r, INFRA_EXIT_WARNING);
	if (result.n)
		infra_report_summary(r, "%zu orphan%s (%d of %d resource types queried)", result.n,
				     result.n == 1 ? "" : "s", queried, sel);
	else
		infra_report_summary(r, "no orphans (%d of %d resource types queried)", queried, sel);
	infra_report_perf(r, "orphans", (double)result.n, "", &t, 0, NAN);
	infra_report_perf(r, "types_not_queried", sel - queried, "", NULL, 0, sel);
	for (size_t i = 0; i < result.n; i++)
		per[infra_orph_types[result.items[i].type].service]++;
	for (int s = 0; s < SVC_NSERVICES; s++)
		if (result.services[s].selected)
			infra_report_perf(r, infra_orph_services[s].name, (double)per[s], "", NULL, 0, NAN);
	if (infra_orph_swift_note(&result))
		infra_report_detail(r, "note: %s", infra_orph_swift_note(&result));
	for (int ty = 0; ty < ORPH_NTYPES; ty++)
		if (result.types[ty].selected && !result.types[ty].queried)
			infra_report_detail(r, "%s/%s not queried", infra_orph_services[infra_orph_types[ty].service].name,
					    infra_orph_types[ty].name);
}

int main(int argc, char **argv)
{
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_http_opts hopts;
	struct infra_orph_matcher m;
	struct infra_orph_opts o;
	struct infra_report r;
	struct infra_os *os = NULL;
	int sel = 0, queried, have_matcher = 0;

	infra_cli_init(&cli, "osmon-orphans", INFRA_CLI_NAGIOS);
	argp_parse(&argp, argc, argv, 0, NULL, NULL);
	infra_cli_finish(&cli);
	if (infra_report_init(&r, "osmon-orphans", "osmon_orphans", 0, &err)) {
		infra_log_error("%s", err.msg);
		return INFRA_EXIT_UNKNOWN;
	}
	infra_orph_result_init(&result);
	infra_cli_http_opts(&cli, &hopts);

	if (infra_orph_cli_setup(&ocli, cli.jobs, &m, &o, &err)) {
		infra_report_error(&r, "%s", err.msg);
		infra_report_status(&r, INFRA_EXIT_UNKNOWN);
		goto out;
	}
	have_matcher = 1;
	if (infra_os_connect(&osf, &hopts, &os, &err)) {
		infra_report_error(&r, "%s", err.msg);
		infra_report_status(&r, INFRA_EXIT_UNKNOWN);
		goto out;
	}
	infra_cli_observe(infra_os_http(os), "discovery");
	if (infra_orph_discover(os, &o, &result, &err)) {
		infra_report_error(&r, "%s", err.msg);
		infra_report_status(&r, INFRA_EXIT_UNKNOWN);
		goto out;
	}
	queried = infra_orph_report_queried(&r, &result, &sel);
	if (queried == 0) {
		infra_report_error(&r, "no resource type could be listed");
		infra_report_status(&r, INFRA_EXIT_UNKNOWN);
	} else {
		nagios_status(&r, queried, sel);
	}
	infra_log(INFRA_LOG_INFO, "%s scope, %d of %d types queried, %d requests, critical path %d requests",
		  result.all_projects ? "all-projects" : "own-project", queried, sel, result.requests,
		  result.critical_path);
	if (infra_orph_to_prom(&result, r.prom, &err))
		infra_report_error(&r, "%s", err.msg);
	infra_orph_report_data(&r, infra_orph_to_json(&result, &o));
	json_object_object_add(r.data, "requests", json_object_new_int(result.requests));
	json_object_object_add(r.data, "critical_path_requests", json_object_new_int(result.critical_path));
	json_object_object_add(r.data, "dead_projects", json_object_new_int(result.dead_projects));
out:
	{
		int status = infra_report_done(&r, &cli, text, infra_nagios_render);
		infra_os_free(os);
		infra_orph_result_release(&result);
		if (have_matcher)
			infra_orph_matcher_release(&m);
		return status;
	}
}
