/* infra-probe - test-only tool (not installed): fetches URLs in parallel through
 * libinfra and reports status and latency.  It exists so the foundation's
 * harness, common options, output formats, batch-job metrics and atomic -o can be
 * tested end to end before the real tools land. */
#include <argp.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "infra_cli.h"
#include "infra_exit.h"
#include "infra_http.h"
#include "infra_log.h"
#include "infra_report.h"

static struct infra_cli cli;
static const char *socket_path;
static int abstract_socket;
static double warn_latency = -1;
static char **urls;
static int nurls;

enum { OPT_UNIX = 0x2000, OPT_ABSTRACT, OPT_WARN };

static const struct argp_option options[] = {
	{ "unix-socket", OPT_UNIX, "PATH", 0, "connect to this unix socket instead of TCP", 0 },
	{ "abstract", OPT_ABSTRACT, "NAME", 0, "connect to this abstract unix socket", 0 },
	{ "warn-latency", OPT_WARN, "SECONDS", 0, "warning when a request takes longer", 0 },
	{ 0 }
};

static error_t parse(int key, char *arg, struct argp_state *state)
{
	double d;

	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = &cli;
		break;
	case OPT_UNIX:
		socket_path = arg;
		break;
	case OPT_ABSTRACT:
		socket_path = arg;
		abstract_socket = 1;
		break;
	case OPT_WARN:
		if (infra_parse_duration(arg, &d))
			argp_error(state, "invalid --warn-latency '%s'", arg);
		warn_latency = d;
		break;
	case ARGP_KEY_ARGS:
		urls = state->argv + state->next;
		nurls = state->argc - state->next;
		break;
	case ARGP_KEY_NO_ARGS:
		argp_error(state, "no URL given");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp_child children[] = { { &infra_cli_argp, 0, NULL, 0 }, { 0 } };
static const struct argp argp = { options, parse, "URL...",
	"Fetch URLs in parallel and report status and latency (test tool).\v"
	"Exit status: 0 all URLs answered 2xx/3xx; 1 some answered another status; 2 some could not be "
	"reached; 3 usage or output error.", children, NULL, NULL };

struct probe_ctx {
	struct infra_report *r;
	json_object *results;
};

struct probe_item { /* one per URL: results keep the command-line order */
	struct probe_ctx *c;
	size_t idx;
};

static void done(void *ud, const struct infra_http_req *req, struct infra_http_resp *resp, int rc,
		 const struct infra_err *err)
{
	struct probe_item *it = ud;
	struct probe_ctx *c = it->c;
	json_object *o = json_object_new_object();
	const char *labels[] = { "url", req->url, NULL };
	int ok = rc == 0 && resp->status >= 200 && resp->status < 400;

	json_object_object_add(o, "url", json_object_new_string(req->url));
	json_object_object_add(o, "status", json_object_new_int64(rc ? 0 : resp->status));
	json_object_object_add(o, "attempts", json_object_new_int(resp->attempts));
	json_object_object_add(o, "bytes", json_object_new_int64(rc ? 0 : (int64_t)resp->body_len));
	json_object_object_add(o, "latency_seconds", json_object_new_double(resp->elapsed_seconds));
	if (rc) {
		json_object_object_add(o, "error", json_object_new_string(err->msg));
		infra_report_error(c->r, "%s", err->msg);
	}
	json_object_array_put_idx(c->results, it->idx, o);
	infra_prom_add(c->r->prom, "infra_probe_target_up", labels, ok, NULL);
	infra_prom_add(c->r->prom, "infra_probe_latency_seconds", labels, resp->elapsed_seconds, NULL);
	if (!ok)
		infra_report_status(c->r, rc ? INFRA_EXIT_CRITICAL : INFRA_EXIT_WARNING);
	else if (warn_latency >= 0 && resp->elapsed_seconds > warn_latency)
		infra_report_status(c->r, INFRA_EXIT_WARNING);
}

static int text(const struct infra_report *r, struct infra_buf *out)
{
	json_object *res = json_object_object_get(r->data, "results");
	int rc = 0;

	for (size_t i = 0; i < json_object_array_length(res) && !rc; i++) {
		json_object *o = json_object_array_get_idx(res, i);
		rc = infra_buf_printf(out, "%-50s %3d %s\n", json_object_get_string(json_object_object_get(o, "url")),
				      json_object_get_int(json_object_object_get(o, "status")),
				      json_object_get_string(json_object_object_get(o, "error")) ?: "");
	}
	return rc;
}

int main(int argc, char **argv)
{
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_http_opts hopts;
	struct infra_http *h = NULL;
	struct infra_http_batch *b = NULL;
	struct infra_report r;
	struct probe_ctx c;
	struct probe_item *items = NULL;

	infra_cli_init(&cli, "infra-probe", 0);
	argp_parse(&argp, argc, argv, 0, NULL, NULL);
	infra_cli_finish(&cli);
	if (infra_report_init(&r, "infra-probe", "infra_probe", 0, &err)) {
		infra_log_error("%s", err.msg);
		return INFRA_EXIT_UNKNOWN;
	}
	infra_prom_family(r.prom, "infra_probe_target_up", INFRA_PROM_GAUGE, "1 if the URL answered 2xx or 3xx", NULL);
	infra_prom_family(r.prom, "infra_probe_latency_seconds", INFRA_PROM_GAUGE, "Time to the full response, retries included", NULL);
	c.r = &r;
	c.results = json_object_new_array();
	json_object_object_add(r.data, "results", c.results);

	infra_cli_http_opts(&cli, &hopts);
	if (infra_http_global_init(&err) || !(h = infra_http_new(&hopts, &err)) ||
	    !(b = infra_http_batch_new(h, cli.jobs))) {
		infra_report_error(&r, "%s", err.msg);
		infra_report_status(&r, INFRA_EXIT_UNKNOWN);
	} else {
		items = calloc((size_t)nurls, sizeof(*items));
		for (int i = 0; items && i < nurls; i++) {
			struct infra_http_req req = { .url = urls[i], .unix_socket = socket_path,
						      .abstract = abstract_socket };
			items[i].c = &c;
			items[i].idx = (size_t)i;
			infra_http_batch_add(b, &req, done, &items[i]);
		}
		if (infra_http_batch_run(b, &err)) {
			infra_report_error(&r, "%s", err.msg);
			infra_report_status(&r, INFRA_EXIT_UNKNOWN);
		}
	}
	infra_http_batch_free(b);
	infra_http_free(h);
	free(items);
	return infra_report_done(&r, &cli, text, NULL);
}
