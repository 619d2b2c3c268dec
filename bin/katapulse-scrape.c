/* katapulse-scrape - every Kata sandbox's shim metrics on a node, merged and
 * labelled like kata-monitor's /metrics, in one run (cron, textfile collector,
 * shell).  Options -> config -> libinfra (infra_kata*, infra_cri, infra_state)
 * -> report -> output -> exit code.  See man/katapulse-scrape.1. */
#include <argp.h>
#include <errno.h>
#include <malloc.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "infra_cli.h"
#include "infra_exit.h"
#include "infra_kata.h"
#include "infra_kata_scrape.h"
#include "infra_kata_top.h"
#include "infra_log.h"
#include "infra_report.h"
#include "infra_state.h"

#define MAX_LIST 64

enum mode { MODE_SCRAPE, MODE_LIST, MODE_SANDBOX, MODE_AGENT_URL, MODE_TUI };

static struct infra_cli cli;
static struct {
	enum mode mode;
	const char *sandbox;                 /* --sandbox / --agent-url ID */
	const char *sysroot;
	struct infra_kata_root roots[MAX_LIST];
	size_t nroots;
	const char *exclude[MAX_LIST + 1];
	size_t nexclude;
	const char *family[MAX_LIST + 1], *exclude_family[MAX_LIST + 1];
	size_t nfamily, nexclude_family;
	const char *runtime_endpoint;
	int no_cri, no_state, unsafe_rs;
	const char *state_file;
	long max_body, max_series, max_label;
	double interval;
} cfg = { .runtime_endpoint = "/run/containerd/containerd.sock", .max_body = 16L << 20, .max_series = 10000,
	  .max_label = 4096, .interval = 5 };

enum {
	OPT_SYSROOT = 0x3000, OPT_SANDBOX_DIR, OPT_SANDBOX, OPT_LIST, OPT_AGENT_URL, OPT_EXCLUDE,
	OPT_ENDPOINT, OPT_NO_CRI, OPT_STATE, OPT_NO_STATE, OPT_UNSAFE_RS, OPT_MAX_BODY, OPT_TUI, OPT_INTERVAL,
	OPT_FAMILY, OPT_EXCLUDE_FAMILY, OPT_MAX_SERIES, OPT_MAX_LABEL,
};

static const struct argp_option options[] = {
	{ NULL, 0, NULL, 0, "Modes (default: scrape and merge every sandbox):", 1 },
	{ "list", OPT_LIST, NULL, 0, "list sandboxes with runtime, socket and pod metadata; scrape nothing", 1 },
	{ "sandbox", OPT_SANDBOX, "ID", 0, "print one sandbox's raw shim metrics (ID or unique prefix)", 1 },
	{ "agent-url", OPT_AGENT_URL, "ID", 0, "print the shim's agent URL (e.g. vsock://CID:1024)", 1 },
	{ "tui", OPT_TUI, NULL, 0, "live table of sandboxes (CPU, memory, scrape status); q quits", 1 },
	{ "interval", OPT_INTERVAL, "SECONDS", 0, "--tui refresh interval (default 5)", 1 },
	{ NULL, 0, NULL, 0, "Discovery and metadata:", 2 },
	{ "sysroot", OPT_SYSROOT, "DIR", 0, "read every node path under DIR (replay a captured node)", 2 },
	{ "sandbox-dir", OPT_SANDBOX_DIR, "DIR", 0,
	  "sandbox root [go:|rs:]DIR, repeatable (default /run/vc/sbs and /run/kata)", 2 },
	{ "exclude", OPT_EXCLUDE, "ID", 0, "do not scrape sandboxes whose id starts with ID (repeatable)", 2 },
	{ "scrape-unsafe-rs", OPT_UNSAFE_RS, NULL, 0,
	  "also scrape runtime-rs sandboxes on QEMU/Firecracker (their shim may crash, #13708)", 2 },
	{ "runtime-endpoint", OPT_ENDPOINT, "FILE", 0,
	  "CRI socket for pod metadata (default /run/containerd/containerd.sock)", 2 },
	{ "no-cri", OPT_NO_CRI, NULL, 0, "never ask the CRI runtime (metadata from disk only)", 2 },
	{ NULL, 0, NULL, 0, "Scraping:", 3 },
	{ "max-body", OPT_MAX_BODY, "BYTES", 0, "largest shim reply accepted (default 16777216)", 3 },
	{ "max-series-per-sandbox", OPT_MAX_SERIES, "N", 0,
	  "leave out a sandbox with more series than N (default 10000)", 3 },
	{ "max-label-length", OPT_MAX_LABEL, "BYTES", 0,
	  "leave out a sandbox with a longer label name or value (default 4096)", 3 },
	{ "family", OPT_FAMILY, "REGEX", 0, "write only shim families matching REGEX (repeatable)", 3 },
	{ "exclude-family", OPT_EXCLUDE_FAMILY, "REGEX", 0, "never write shim families matching REGEX (repeatable)", 3 },
	{ "state-file", OPT_STATE, "FILE", 0, "where counters persist across runs", 3 },
	{ "no-state", OPT_NO_STATE, NULL, 0, "do not persist counters (they count this run only)", 3 },
	{ 0 }
};

static error_t parse(int key, char *arg, struct argp_state *state)
{
	struct infra_err err = INFRA_ERR_INIT;
	long n;

	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = &cli;
		break;
	case OPT_LIST:
	case OPT_SANDBOX:
	case OPT_AGENT_URL:
	case OPT_TUI:
		if (cfg.mode != MODE_SCRAPE)
			argp_error(state, "--list, --sandbox, --agent-url and --tui exclude each other");
		cfg.mode = key == OPT_LIST ? MODE_LIST : key == OPT_SANDBOX ? MODE_SANDBOX
			   : key == OPT_TUI ? MODE_TUI : MODE_AGENT_URL;
		cfg.sandbox = arg;
		if (arg && !infra_kata_valid_id(arg))
			argp_error(state, "invalid sandbox id '%s'", arg);
		break;
	case OPT_INTERVAL:
		if (infra_parse_duration(arg, &cfg.interval) || cfg.interval < 0.2)
			argp_error(state, "invalid --interval '%s' (at least 0.2 seconds)", arg);
		break;
	case OPT_SYSROOT:
		cfg.sysroot = arg;
		break;
	case OPT_SANDBOX_DIR:
		if (cfg.nroots == MAX_LIST || infra_kata_root_parse(arg, &cfg.roots[cfg.nroots], &err))
			argp_error(state, "invalid --sandbox-dir '%s'", arg);
		cfg.nroots++;
		break;
	case OPT_EXCLUDE:
		if (cfg.nexclude == MAX_LIST || !infra_kata_valid_id(arg))
			argp_error(state, "invalid --exclude '%s'", arg);
		cfg.exclude[cfg.nexclude++] = arg;
		break;
	case OPT_FAMILY:
	case OPT_EXCLUDE_FAMILY: {
		regex_t re;
		int bad = regcomp(&re, arg, REG_EXTENDED | REG_NOSUB);
		char why[128];
		if (bad) {
			regerror(bad, &re, why, sizeof(why)); /* the regex error, as grep says it */
			argp_error(state, "invalid --%s '%s': %s", key == OPT_FAMILY ? "family" : "exclude-family", arg, why);
		}
		if ((key == OPT_FAMILY ? cfg.nfamily : cfg.nexclude_family) == MAX_LIST)
			argp_error(state, "too many --%s (at most %d)", key == OPT_FAMILY ? "family" : "exclude-family", MAX_LIST);
		regfree(&re);
		if (key == OPT_FAMILY)
			cfg.family[cfg.nfamily++] = arg;
		else
			cfg.exclude_family[cfg.nexclude_family++] = arg;
		break;
	}
	case OPT_UNSAFE_RS:
		cfg.unsafe_rs = 1;
		break;
	case OPT_ENDPOINT:
		cfg.runtime_endpoint = strncmp(arg, "unix://", 7) ? arg : arg + 7;
		break;
	case OPT_NO_CRI:
		cfg.no_cri = 1;
		break;
	case OPT_MAX_BODY:
	case OPT_MAX_SERIES:
	case OPT_MAX_LABEL: { /* the per-sandbox limits */
		static const struct { const char *name; long min, max; long *dst; } lim[] = {
			{ "max-body", 1024, 1L << 32, &cfg.max_body },
			{ "max-series-per-sandbox", 1, 100000000, &cfg.max_series },
			{ "max-label-length", 16, 16L << 20, &cfg.max_label },
		};
		size_t i = key == OPT_MAX_BODY ? 0 : key == OPT_MAX_SERIES ? 1 : 2;
		if (infra_parse_long(arg, lim[i].min, lim[i].max, &n))
			argp_error(state, "invalid --%s '%s' (%ld to %ld)", lim[i].name, arg, lim[i].min, lim[i].max);
		*lim[i].dst = n;
		break;
	}
	case OPT_STATE:
		cfg.state_file = arg;
		break;
	case OPT_NO_STATE:
		cfg.no_state = 1;
		break;
	case ARGP_KEY_ARG:
		argp_error(state, "unexpected argument '%s'", arg);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp_child children[] = { { &infra_cli_argp, 0, NULL, 0 }, { 0 } };
static const struct argp argp = { options, parse, NULL,
	"Scrape every Kata Containers sandbox's shim metrics on this node and print them merged, "
	"labelled with sandbox_id and cri_uid/cri_name/cri_namespace as kata-monitor does.\v"
	"Exit status: 0 every selected shim scraped (or no sandbox); 1 some shims failed, a sandbox was over "
	"a limit or samples were dropped; 3 could not scrape (bad usage, no sandbox directory, permission "
	"denied, output not written).  See katapulse-scrape(1).",
	children, NULL, NULL };

static struct infra_kata_run run;

static int text_view(const struct infra_report *r, struct infra_buf *out)
{
	return infra_kata_text_table(r, &run, cfg.mode == MODE_SCRAPE, out);
}

static void scrape(struct infra_report *r, struct infra_http *h, const struct infra_kata_opts *o)
{
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_state *st = NULL;
	char *path = NULL;

	if (infra_kata_scrape(&run, h, o, 1, &err)) {
		infra_report_error(r, "%s", err.msg);
		infra_report_status(r, INFRA_EXIT_UNKNOWN);
	}
	infra_kata_report_sandboxes(r, &run, 1);
	if (!cfg.no_state) {
		path = cfg.state_file ? strdup(cfg.state_file) : infra_state_default_path("katapulse-scrape");
		if (path && infra_state_open(path, 10, &st, &err) && err.code != -EINVAL) {
			infra_log_warn("%s (counters count this run only)", err.msg);
			infra_state_close(st);
			st = NULL;
		} else if (err.code == -EINVAL) {
			infra_log_warn("%s", err.msg);
		}
	}
	if (infra_kata_own_metrics(&run, st, r->prom, &err) || (st && infra_state_save(st, &err))) {
		infra_report_error(r, "%s", err.msg);
		infra_report_status(r, INFRA_EXIT_UNKNOWN);
	}
	infra_state_close(st);
	free(path);
}

int main(int argc, char **argv)
{
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_kata_set set = { NULL, 0, 0 };
	struct infra_http_opts ho;
	struct infra_http *h = NULL;
	struct infra_report r;
	struct infra_kata_opts o;
	struct rlimit rl;
	int rc = 0;

	/* A one-shot run: every shim's body is received into a fresh buffer and freed
	 * once read.  Keep freed memory for the next body instead of giving it back
	 * and faulting it in again (mmap/munmap per body, page faults, TLB flushes):
	 * bodies (up to --max-body) come from the heap, and the heap is not trimmed. */
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	infra_cli_init(&cli, "katapulse-scrape", 0);
	cli.timeout = 3; /* per shim, as kata-monitor */
	argp_parse(&argp, argc, argv, 0, NULL, NULL);
	infra_cli_finish(&cli);
	/* one socket per shim in flight plus long-path directory fds */
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (infra_report_init(&r, "katapulse-scrape", "katapulse", INFRA_PROM_PAD_LABELS, &err)) {
		infra_log_error("%s", err.msg);
		return INFRA_EXIT_UNKNOWN;
	}
	memset(&o, 0, sizeof(o));
	o.sysroot = cfg.sysroot;
	o.runtime_endpoint = cfg.no_cri ? NULL : cfg.runtime_endpoint;
	o.timeout_ms = (long)(cli.timeout * 1000);
	o.jobs = cli.jobs;
	o.exclude = cfg.exclude;
	o.scrape_unsafe_rs = cfg.unsafe_rs;
	o.family = cfg.family;
	o.exclude_family = cfg.exclude_family;
	o.max_body = (size_t)cfg.max_body;
	o.max_series = (size_t)cfg.max_series;
	o.max_label_len = (size_t)cfg.max_label;
	infra_cli_http_opts(&cli, &ho);
	ho.max_attempts = 1;
	ho.max_body = (size_t)cfg.max_body;
	if (cfg.sysroot && access(cfg.sysroot, R_OK | X_OK) < 0) {
		infra_report_error(&r, "cannot use --sysroot '%s': %s", cfg.sysroot, strerror(errno));
		rc = -errno;
	} else if ((rc = infra_kata_discover(cfg.sysroot, cfg.nroots ? cfg.roots : infra_kata_default_roots,
					     cfg.nroots ? cfg.nroots : 2, &set, &err)) ||
		   (rc = infra_kata_run_init(&run, &set)) || (rc = infra_http_global_init(&err)) ||
		   !(h = infra_http_new(&ho, &err))) {
		infra_report_error(&r, "%s", err.code ? err.msg : "out of memory");
		rc = rc ? rc : -ENOMEM;
	}
	if (!rc) {
		infra_kata_enrich(&run, &o);
		infra_kata_select(&run, &o);
		if (run.cri_error[0])
			infra_log_warn("%s (pod labels from disk only)", run.cri_error);
		if (cfg.mode == MODE_TUI) {
			if ((rc = infra_kata_top(cfg.nroots ? cfg.roots : infra_kata_default_roots, cfg.nroots ? cfg.nroots : 2,
						 &o, h, cfg.interval, &err))) {
				infra_log_error("%s", err.msg);
				rc = INFRA_EXIT_UNKNOWN;
			}
			infra_http_free(h);
			infra_report_release(&r);
			infra_kata_run_release(&run);
			infra_kata_set_release(&set);
			return rc;
		} else if (cfg.mode == MODE_SANDBOX || cfg.mode == MODE_AGENT_URL) {
			rc = infra_kata_one(&r, &cli, h, &set, cfg.sandbox, cfg.mode == MODE_AGENT_URL, cfg.unsafe_rs);
		} else if (cfg.mode == MODE_LIST) {
			infra_kata_report_sandboxes(&r, &run, 0);
			if ((rc = infra_kata_info_metrics(&run, r.prom, &err)))
				infra_report_error(&r, "%s", err.msg);
		} else {
			scrape(&r, h, &o);
		}
	}
	if (rc < 0)
		infra_report_status(&r, INFRA_EXIT_UNKNOWN);
	infra_http_free(h);
	if (rc == 1) { /* raw body already written */
		rc = r.status;
		infra_report_release(&r);
		if (infra_close_stdout()) {
			infra_log_error("cannot write to stdout: %s", strerror(errno));
			rc = INFRA_EXIT_UNKNOWN;
		}
	} else {
		rc = infra_kata_report_done(&r, &cli, &run, text_view);
	}
	infra_kata_run_release(&run);
	infra_kata_set_release(&set);
	return rc;
}
