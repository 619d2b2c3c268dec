/* osmon-run - scheduled cloud tests through Rally, with a state directory,
 * history and retention (issue 4).  Options -> config -> libinfra -> output -> exit code. */
#include <argp.h>
#include <ctype.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "infra_cli.h"
#include "infra_datadir.h"
#include "infra_exit.h"
#include "infra_history.h"
#include "infra_log.h"
#include "infra_nagios.h"
#include "infra_openstack.h"
#include "infra_osmon.h"
#include "infra_ossvc.h"
#include "infra_proc.h"
#include "infra_report.h"

static struct infra_cli cli;
static struct infra_os_flags osf;
static struct infra_osmon_cfg cfg = {
	.services = INFRA_OSMON_SERVICES,
	.rally = "rally",
	.deployment = "osmon",
	.task_timeout = 1800,
	.cmd_timeout = 300,
	.retention_days = 7,
	.orphans = 1,
};

enum {
	OPT_SERVICES = 0x2000, OPT_STATE_DIR, OPT_TASK_DIR, OPT_TASK_TIMEOUT, OPT_RETENTION,
	OPT_RALLY, OPT_RALLY_CONFIG, OPT_DEPLOYMENT, OPT_TUI, OPT_HTML, OPT_HEALTH, OPT_NO_ORPHANS,
};
static int tui, health, services_explicit;
static struct infra_nagios_cli ncli;
static const char *html;

static const struct argp_option options[] = {
	{ "services", OPT_SERVICES, "LIST", 0,
	  "{" INFRA_OSSVC_COMPLETE "} comma-separated service types to test (default: identity, compute, network, "
	  "image, block-storage, object-store); project names such as nova are accepted, any other name "
	  "runs your own task file", 0 },
	{ "state-dir", OPT_STATE_DIR, "DIR", 0,
	  "state directory (default /var/lib/infrakit/osmon as root, else $XDG_STATE_HOME/infrakit/osmon)", 0 },
	{ "task-dir", OPT_TASK_DIR, "DIR", 0, "your own task files, DIR/<service>.yaml, used before the shipped ones", 0 },
	{ "task-timeout", OPT_TASK_TIMEOUT, "SECONDS", 0, "kill a rally task (its process group) after this long (default 30m)", 0 },
	{ "retention-days", OPT_RETENTION, "DAYS", 0,
	  "archive run directories older than this into archive/YYYY-MM.tar.gz (default 7, 0 = never)", 0 },
	{ "rally", OPT_RALLY, "PROGRAM", 0, "the rally program (default rally, from PATH)", 0 },
	{ "rally-config", OPT_RALLY_CONFIG, "FILE", 0, "rally --config-file (default: STATE/rally/rally.conf, written once)", 0 },
	{ "deployment", OPT_DEPLOYMENT, "NAME", 0, "rally deployment to create or reuse (default osmon)", 0 },
	{ "no-orphans", OPT_NO_ORPHANS, NULL, 0, "do not look for resources the tests left behind after the run", 0 },
	{ "health", OPT_HEALTH, NULL, 0, "read-only API health checks per service instead of rally tests", 1 },
	{ "tui", OPT_TUI, NULL, 0, "look at the state directory in a terminal view (runs nothing)", 1 },
	{ "html", OPT_HTML, "FILE", 0, "write the state directory as one self-contained HTML file (runs nothing)", 1 },
	{ 0 }
};

static int valid_services(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) && *s != ',' && *s != '-' && *s != '_')
			return 0;
	return 1;
}

static error_t parse(int key, char *arg, struct argp_state *state)
{
	long v;

	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = &cli;
		state->child_inputs[1] = &osf;
		state->child_inputs[2] = &ncli;
		break;
	case OPT_HEALTH:
		health = 1;
		break;
	case OPT_NO_ORPHANS:
		cfg.orphans = 0;
		break;
	case OPT_SERVICES:
		if (!valid_services(arg))
			argp_error(state, "invalid --services '%s' (comma-separated lowercase names)", arg);
		cfg.services = arg;
		services_explicit = 1;
		break;
	case OPT_STATE_DIR:
		cfg.state_dir = arg;
		break;
	case OPT_TASK_DIR:
		cfg.task_dir = arg;
		break;
	case OPT_TASK_TIMEOUT:
		if (infra_parse_duration(arg, &cfg.task_timeout) || cfg.task_timeout <= 0)
			argp_error(state, "invalid --task-timeout '%s'", arg);
		break;
	case OPT_RETENTION:
		if (infra_parse_long(arg, 0, 36500, &v))
			argp_error(state, "invalid --retention-days '%s' (0-36500)", arg);
		cfg.retention_days = (int)v;
		break;
	case OPT_RALLY:
		cfg.rally = arg;
		break;
	case OPT_RALLY_CONFIG:
		cfg.rally_config = arg;
		break;
	case OPT_DEPLOYMENT:
		if (!*arg)
			argp_error(state, "empty --deployment");
		cfg.deployment = arg;
		break;
	case OPT_TUI:
		tui = 1;
		break;
	case OPT_HTML:
		html = arg;
		break;
	case ARGP_KEY_END:
		if (tui + !!html + health > 1)
			argp_error(state, "--tui, --html and --health cannot be used together");
		if (!health && (cli.format == INFRA_FORMAT_NAGIOS || ncli.warn || ncli.crit))
			argp_error(state, "-f nagios, --warning and --critical are for the --health check");
		if (health && services_explicit)
			for (const char *p = cfg.services; *p;) {
				char name[64];
				size_t n = strcspn(p, ",");
				snprintf(name, sizeof(name), "%.*s", (int)(n < sizeof(name) ? n : sizeof(name) - 1), p);
				if (n && !infra_osmon_health_known(name))
					argp_error(state, "--health cannot check '%s'; it checks %s", name,
						   infra_osmon_health_list());
				p += n + (p[n] == ',');
			}
		break;
	case ARGP_KEY_ARG:
		argp_error(state, "unexpected argument '%s'", arg);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp_child children[] = {
	{ &infra_cli_check_argp, 0, NULL, 0 }, { &infra_os_argp, 0, NULL, 0 }, { &infra_nagios_argp, 0, NULL, 0 }, { 0 }
};
static const struct argp argp = { options, parse, NULL,
	"Run Rally test scenarios per OpenStack service, keep their history in a state "
	"directory and report them as JSON, Prometheus or text.\v"
	"Exit status: 0 every service passed (--health: every service up); 1 a scenario or service failed, "
	"orphans found; 2 --health: a service is down (or past -c); 3 could not run (bad usage, state "
	"directory, lock held, credentials, every service errored).  See osmon-run(1).", children, NULL, NULL };

static void show_progress(void *ud, const char *msg)
{
	(void)ud;
	if (cli.verbose || (!cli.quiet && isatty(STDERR_FILENO)))
		fprintf(stderr, "%s: %s\n", infra_log_progname(), msg);
}

static void on_signal(int sig)
{
	infra_proc_kill_current(SIGKILL); /* rally and its forked runner */
	signal(sig, SIG_DFL);
	raise(sig);
}

int main(int argc, char **argv)
{
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_report r;
	struct infra_http_opts hopts;
	char state[PATH_MAX], tasks[PATH_MAX + 16], datadir[PATH_MAX];

	infra_cli_init(&cli, "osmon-run", INFRA_CLI_NAGIOS);
	argp_parse(&argp, argc, argv, 0, NULL, NULL);
	infra_cli_finish(&cli);
	/* health checks run every few minutes into their own textfile: their own batch-job prefix */
	if (infra_report_init(&r, "osmon-run", health ? "osmon_health_check" : "osmon", 0, &err)) {
		infra_log_error("%s", err.msg);
		return INFRA_EXIT_UNKNOWN;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	infra_datadir("osmon/tasks", datadir, sizeof(datadir), &cfg.data_dir_source);
	if (snprintf(tasks, sizeof(tasks), "%s/osmon/tasks", datadir) >= (int)sizeof(tasks))
		tasks[0] = '\0'; /* too long: "no task file" names the empty path */
	cfg.data_dir = tasks;
	cfg.progress = show_progress;
	infra_cli_http_opts(&cli, &hopts);
	cfg.os_flags = &osf;
	cfg.http = &hopts;
	cfg.jobs = cli.jobs;
	if (!cfg.state_dir && infra_state_dir_default("osmon", state, sizeof(state), &err) == 0)
		cfg.state_dir = state;
	if (!cfg.state_dir) {
		infra_report_error(&r, "%s", err.msg);
		infra_report_status(&r, INFRA_EXIT_UNKNOWN);
	} else if (tui || html) {
		/* views: read the state directory, print nothing on stdout */
		size_t bytes = 0;
		int rc = tui ? infra_osmon_tui(cfg.state_dir, &err) : infra_osmon_html(cfg.state_dir, html, &bytes, &err);
		infra_report_release(&r);
		if (rc) {
			infra_log_error("%s", err.msg);
			return INFRA_EXIT_UNKNOWN;
		}
		if (html)
			infra_log(INFRA_LOG_INFO, "wrote %s (%zu bytes)", html, bytes);
		return infra_close_stdout() ? INFRA_EXIT_UNKNOWN : INFRA_EXIT_OK;
	} else if (health) {
		struct infra_osmon_health_cfg h = { cfg.state_dir, cfg.services, services_explicit, &osf, &hopts, cli.jobs,
						    ncli.warn, ncli.crit };
		infra_osmon_health(&h, &r);
	} else {
		infra_osmon_run(&cfg, &r);
	}
	return infra_report_done(&r, &cli, health ? infra_osmon_health_text : infra_osmon_text,
				 health ? infra_nagios_render : NULL);
}
