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
#include <stdlib.h>
#include <string.h>

#include "infra_cli.h"
#include "infra_exit.h"
#include "infra_log.h"
#include "infra_openstack.h"
#include "infra_orphans.h"
#include "infra_report.h"

static struct infra_cli cli;
static struct infra_os_flags osf;
static struct infra_orph_cli ocli;
static struct infra_orph_result result;

static error_t parse(int key, char *arg, struct argp_state *state)
{
	(void)arg;
	switch (key) {
	case ARGP_KEY_INIT:
		infra_orph_tool_inputs(state, &cli, &osf, &ocli);
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
	"Credentials come from OS_* variables or OS_CLOUD and clouds.yaml; secrets never on the command line. "
	"Exit status: 0 none, 1 orphans found (or some types not queried), 3 could not query.",
	infra_orph_tool_children, NULL, NULL };

static int text(const struct infra_report *r, struct infra_buf *out)
{
	(void)r;
	return infra_orph_to_text(&result, out);
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

	infra_cli_init(&cli, "osmon-orphans", 0);
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
	if (infra_orph_discover(os, &o, &result, &err)) {
		infra_report_error(&r, "%s", err.msg);
		infra_report_status(&r, INFRA_EXIT_UNKNOWN);
		goto out;
	}
	queried = infra_orph_report_queried(&r, &result, &sel);
	if (queried == 0) {
		infra_report_error(&r, "no resource type could be listed");
		infra_report_status(&r, INFRA_EXIT_UNKNOWN);
	} else if (result.n || queried < sel) {
		infra_report_status(&r, INFRA_EXIT_WARNING);
	}
	infra_log(INFRA_LOG_INFO, "%s scope, %d of %d types queried, %d requests, critical path %d requests",
		  result.all_projects ? "all-projects" : "own-project", queried, sel, result.requests,
		  result.critical_path);
	if (infra_orph_to_prom(&result, r.prom, &err))
		infra_report_error(&r, "%s", err.msg);
	infra_orph_report_data(&r, infra_orph_to_json(&result, &o));
	json_object_object_add(r.data, "requests", json_object_new_int(result.requests));
	json_object_object_add(r.data, "critical_path_requests", json_object_new_int(result.critical_path));
out:
	{
		int status = infra_report_done(&r, &cli, text, NULL);
		infra_os_free(os);
		infra_orph_result_release(&result);
		if (have_matcher)
			infra_orph_matcher_release(&m);
		return status;
	}
}
