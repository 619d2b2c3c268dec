#include "infra_kata_scrape.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "infra_cri.h"
#include "infra_exit.h"
#include "infra_file.h"
#include "infra_log.h"
#include "infra_report.h"

#define PENDING ((enum infra_kata_outcome)99)

static const char reason_permission[] = "permission";

/* Failed at selection: its directory could not be searched (no request made). */
static int denied(const struct infra_kata_result *r)
{
	return r->outcome == INFRA_KATA_FAILED && r->reason == reason_permission;
}

static const double monitor_buckets[] = { 1, 2, 4, 8, 16, 32, 64, 128, 256, 512 };
#define NBUCKETS (sizeof(monitor_buckets) / sizeof(monitor_buckets[0]))

int infra_kata_run_init(struct infra_kata_run *run, struct infra_kata_set *set)
{
	memset(run, 0, sizeof(*run));
	run->set = set;
	run->res = calloc(set->n ? set->n : 1, sizeof(*run->res));
	run->body_mem = calloc(set->n ? set->n : 1, sizeof(*run->body_mem));
	return run->res && run->body_mem ? 0 : -ENOMEM;
}

/* A shim's body is received straight into a buffer that starts large enough for
 * a typical body (INFRA_KATA_BODY_HINT: no copies while it arrives), kept as it
 * is and trimmed to its length: one copy from the socket, resident memory equal
 * to the bytes read. */
#define INFRA_KATA_BODY_HINT ((size_t)256 << 10)

void infra_kata_run_release(struct infra_kata_run *run)
{
	infra_kata_merge_free(run->merge);
	run->merge = NULL;
	for (size_t i = 0; run->set && run->res && i < run->set->n; i++)
		infra_kata_merge_discard(run->res[i].parsed);
	free(run->res);
	run->res = NULL;
	for (size_t i = 0; run->set && i < run->set->n && run->body_mem; i++)
		free(run->body_mem[i]);
	free(run->body_mem);
	run->body_mem = NULL;
}

/* ---- metadata ---- */

static int cri_list(const struct infra_kata_opts *opts, const char *path, struct infra_cri_list *l,
		    struct infra_err *err)
{
	struct infra_http_opts ho;
	struct infra_http *h;
	char *sock;
	int dfd, rc;

	memset(&ho, 0, sizeof(ho));
	ho.timeout_ms = opts->timeout_ms;
	ho.max_attempts = 1;
	ho.http2_prior_knowledge = 1;
	ho.max_body = (size_t)64 << 20;
	if (!(h = infra_http_new(&ho, err)))
		return err->code ? err->code : -ENOMEM;
	sock = infra_kata_socket_path(path, &dfd);
	if (!sock)
		rc = infra_err_set(err, -ENOMEM, "out of memory");
	else
		rc = infra_cri_list_pod_sandboxes(h, sock, opts->timeout_ms, l, err);
	if (dfd >= 0)
		close(dfd);
	free(sock);
	infra_http_free(h);
	return rc;
}

void infra_kata_enrich(struct infra_kata_run *run, const struct infra_kata_opts *opts)
{
	struct infra_kata_set *set = run->set;
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_cri_list l = { NULL, 0 };
	struct stat st;
	size_t missing = 0;
	char *path;

	for (size_t i = 0; i < set->n; i++)
		if (!infra_kata_metadata_from_disk(opts->sysroot, &set->v[i], NULL, 0))
			missing++;
	if (!missing || !opts->runtime_endpoint)
		return;
	path = infra_path_join(opts->sysroot, opts->runtime_endpoint);
	if (!path)
		return;
	/* no CRI socket on this node (or in this capture): nothing to ask */
	if (stat(path, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		free(path);
		return;
	}
	run->cri_used = 1;
	if (cri_list(opts, path, &l, &err)) {
		snprintf(run->cri_error, sizeof(run->cri_error), "%.200s: %.300s", path, err.msg);
	} else {
		for (size_t i = 0; i < set->n; i++) {
			struct infra_kata_sandbox *sb = &set->v[i];
			const struct infra_cri_pod *pod;
			if (strcmp(sb->meta_source, "none") || !(pod = infra_cri_find(&l, sb->id)))
				continue;
			infra_kata_set_meta(sb, pod->uid, pod->name, pod->namespace_, "cri");
		}
	}
	infra_cri_list_release(&l);
	free(path);
}

/* ---- selection ---- */

void infra_kata_select(struct infra_kata_run *run, const struct infra_kata_opts *opts)
{
	for (size_t i = 0; i < run->set->n; i++) {
		const struct infra_kata_sandbox *sb = &run->set->v[i];
		struct infra_kata_result *r = &run->res[i];
		int excluded = 0;

		for (size_t k = 0; opts->exclude && opts->exclude[k]; k++)
			if (!strncmp(sb->id, opts->exclude[k], strlen(opts->exclude[k])))
				excluded = 1;
		r->outcome = INFRA_KATA_SKIPPED;
		if (sb->access_errno) {
			r->outcome = INFRA_KATA_FAILED;
			r->reason = reason_permission;
			snprintf(r->error, sizeof(r->error), "cannot look into %.400s: %s", sb->dir,
				 strerror(sb->access_errno));
			run->failed++;
			run->denied++;
			continue;
		} else if (sb->skip_reason)
			r->reason = sb->skip_reason;
		else if (excluded)
			r->reason = "excluded";
		else if (sb->hypervisor && !opts->scrape_unsafe_rs)
			r->reason = !strcmp(sb->hypervisor, "qemu")
					    ? "runtime-rs on QEMU: /metrics would crash the shim (kata-containers #13708)"
					    : "runtime-rs on Firecracker: /metrics would crash the shim (kata-containers #13708)";
		else
			r->outcome = PENDING;
		if (r->outcome == INFRA_KATA_SKIPPED)
			run->skipped++;
	}
}

/* ---- fetching ---- */

static void fill_req(struct infra_http_req *req, const struct infra_kata_sandbox *sb, const char *url,
		     long timeout_ms)
{
	memset(req, 0, sizeof(*req));
	req->method = "GET";
	req->url = url;
	req->unix_socket = sb->socket;
	req->abstract = sb->socket_kind == INFRA_KATA_SOCK_ABSTRACT;
	req->timeout_ms = timeout_ms;
	req->max_attempts = 1; /* a shim that crashed must not be hit twice */
	req->body_hint = INFRA_KATA_BODY_HINT;
}

/* Messages name what was connected to; show the sandbox's real socket path
 * instead of the /proc/self/fd/N alias used for long paths. */
static void message(char *dst, size_t size, const char *msg, const struct infra_kata_sandbox *sb)
{
	const char *hit = sb->socket && sb->socket_display && strcmp(sb->socket, sb->socket_display)
				  ? strstr(msg, sb->socket) : NULL;

	if (!hit)
		snprintf(dst, size, "%s", msg);
	else
		snprintf(dst, size, "%.*s%s%s", (int)(hit - msg), msg, sb->socket_display,
			 hit + strlen(sb->socket));
}

int infra_kata_fetch(struct infra_http *h, const struct infra_kata_sandbox *sb, const char *path,
		     long timeout_ms, struct infra_http_resp *resp, struct infra_err *err)
{
	struct infra_http_req req;
	char url[256];
	int rc;

	if (sb->access_errno)
		return infra_err_set(err, -sb->access_errno, "sandbox %s: cannot look into %s: %s", sb->id, sb->dir,
				     strerror(sb->access_errno));
	if (sb->socket_kind == INFRA_KATA_SOCK_NONE)
		return infra_err_set(err, -ENOENT, "sandbox %s: %s", sb->id,
				     sb->skip_reason ? sb->skip_reason : "no monitor socket");
	snprintf(url, sizeof(url), "http://shim%s", path);
	fill_req(&req, sb, url, timeout_ms);
	rc = infra_http_do(h, &req, resp, err);
	if (rc && err) {
		char m[INFRA_ERR_MSG_MAX];
		message(m, sizeof(m), err->msg, sb);
		snprintf(err->msg, sizeof(err->msg), "%s", m);
	}
	return rc;
}

static const char *classify(int code)
{
	switch (code) {
	case -ETIMEDOUT:
		return "timeout";
	case -ECONNREFUSED:
	case -ENOENT:
	case -EACCES:
	case -EHOSTUNREACH:
		return "connect";
	case -ECONNRESET: /* e.g. a runtime-rs shim panicking on /metrics */
		return "reset";
	case -EPROTO:
		return "protocol";
	default:
		return "transport";
	}
}

struct fetch_ctx {
	struct infra_kata_run *run;
	const struct infra_kata_opts *opts;
	size_t i;
	int merge;
};

static void settle_ready(struct infra_kata_run *run, int merge, int all);

static void fetched(void *ud, const struct infra_http_req *req, struct infra_http_resp *resp, int rc,
		    const struct infra_err *err)
{
	struct fetch_ctx *c = ud;
	struct infra_kata_result *r = &c->run->res[c->i];
	(void)req;
	r->duration = resp->elapsed_seconds;
	r->http_status = rc ? 0 : resp->status;
	if (rc == -E2BIG) {
		r->outcome = INFRA_KATA_OVER_LIMIT;
		r->limit = INFRA_KATA_LIMIT_BODY;
		r->reason = infra_kata_limit_name(r->limit);
		snprintf(r->error, sizeof(r->error), "reply larger than %zu bytes (--max-body)", c->opts->max_body);
	} else if (rc) {
		r->outcome = INFRA_KATA_FAILED;
		r->reason = classify(rc);
		message(r->error, sizeof(r->error), err->msg, &c->run->set->v[c->i]);
	} else if (resp->status != 200) {
		r->outcome = INFRA_KATA_FAILED;
		r->reason = "http";
		r->bytes = resp->body_len;
		snprintf(r->error, sizeof(r->error), "shim answered HTTP %ld", resp->status);
	} else if (c->merge) {
		/* read now; the transfer frees the body when this returns */
		struct infra_err e = INFRA_ERR_INIT;
		r->outcome = INFRA_KATA_OK;
		r->bytes = resp->body_len;
		if (!c->run->fatal) {
			r->parse_rc = infra_kata_merge_parse(c->run->merge, resp->body, resp->body_len, r->extra,
							     &r->parsed, &r->merge, &e);
			if (r->parse_rc)
				snprintf(r->error, sizeof(r->error), "%s", e.msg);
		}
	} else {
		char *trim = realloc(resp->body, resp->body_len + 1); /* in place: gives back the tail */
		r->body = c->run->body_mem[c->i] = trim ? trim : resp->body;
		resp->body = NULL; /* ours now */
		r->outcome = INFRA_KATA_OK;
		r->bytes = resp->body_len;
	}
	if (c->merge)
		settle_ready(c->run, 1, 0);
}

/* Count result i and, merging, commit its body (in sandbox-id order). */
static void settle(struct infra_kata_run *run, size_t i, int merge)
{
	struct infra_kata_result *r = &run->res[i];
	struct infra_err e = INFRA_ERR_INIT;
	int rc;

	if (!r->queued)
		return; /* not fetched: skipped or failed by infra_kata_select */
	if (r->outcome == PENDING) { /* the runner never called back */
		r->outcome = INFRA_KATA_FAILED;
		r->reason = "transport";
		snprintf(r->error, sizeof(r->error), "no response");
	}
	if (r->outcome == INFRA_KATA_FAILED) {
		run->failed++;
		return;
	}
	if (r->outcome == INFRA_KATA_OVER_LIMIT) {
		run->over_limit++;
		run->dropped_sandboxes[r->limit]++;
		return;
	}
	if (r->outcome != INFRA_KATA_OK)
		return;
	run->bytes += r->bytes;
	if (!merge)
		return; /* the caller reads the bodies */
	rc = r->parse_rc;
	if (rc == -EINVAL) {
		char msg[INFRA_ERR_MSG_MAX];
		snprintf(msg, sizeof(msg), "%s", r->error);
		r->outcome = INFRA_KATA_FAILED;
		r->reason = "parse";
		snprintf(r->error, sizeof(r->error), "invalid metrics: %.400s", msg);
		run->failed++;
		return;
	}
	if (rc == -E2BIG) { /* over a limit: the whole sandbox is left out */
		static const char *const opt[INFRA_KATA_NLIMITS] = {
			"", "--max-series-per-sandbox", "--max-label-length", "--max-body" };
		char msg[INFRA_ERR_MSG_MAX];
		snprintf(msg, sizeof(msg), "%s", r->error);
		r->outcome = INFRA_KATA_OVER_LIMIT;
		r->limit = r->merge.limit ? r->merge.limit : INFRA_KATA_LIMIT_LABEL;
		r->reason = infra_kata_limit_name(r->limit);
		snprintf(r->error, sizeof(r->error), "%.400s (%s)", msg, opt[r->limit]);
		run->over_limit++;
		run->dropped_sandboxes[r->limit]++;
		return;
	}
	if (!rc && r->parsed) {
		rc = infra_kata_merge_commit(run->merge, r->parsed, &r->merge, &e);
		r->parsed = NULL; /* consumed */
	} else if (!rc) {
		rc = infra_err_set(&e, -ENOMEM, "out of memory"); /* the run stopped merging */
	}
	if (rc) {
		r->error[0] = '\0';
		if (!run->fatal) {
			run->fatal = rc;
			snprintf(run->fatal_msg, sizeof(run->fatal_msg), "%s", e.msg[0] ? e.msg : "out of memory");
		}
		return;
	}
	run->scraped++;
	run->type_conflicts += r->merge.type_conflicts;
	run->help_conflicts += r->merge.help_conflicts;
	run->dropped_samples += r->merge.dropped_samples;
}

/* Settle the results in order while they are done (all: also the ones whose
 * callback never came). */
static void settle_ready(struct infra_kata_run *run, int merge, int all)
{
	while (run->settled < run->set->n && !run->fatal) {
		struct infra_kata_result *r = &run->res[run->settled];
		if (r->queued && r->outcome == PENDING && !all)
			break;
		settle(run, run->settled++, merge);
	}
}

int infra_kata_scrape(struct infra_kata_run *run, struct infra_http *h, const struct infra_kata_opts *opts,
		      int merge, struct infra_err *err)
{
	struct infra_kata_set *set = run->set;
	struct infra_http_batch *b;
	struct fetch_ctx *ctx;
	double t0 = infra_now_mono();
	int rc = 0;

	ctx = calloc(set->n ? set->n : 1, sizeof(*ctx));
	b = infra_http_batch_new(h, opts->jobs);
	if (merge && !run->merge)
		run->merge = infra_kata_merge_new();
	if (!ctx || !b || (merge && !run->merge)) {
		rc = infra_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	if (merge && (rc = infra_kata_merge_filter(run->merge, opts->family, opts->exclude_family, err)))
		goto out;
	if (merge)
		infra_kata_merge_limits(run->merge, opts->max_series, opts->max_label_len);
	run->settled = 0;
	for (size_t i = 0; i < set->n && !rc; i++) {
		struct infra_kata_result *r = &run->res[i];
		const struct infra_kata_sandbox *sb = &set->v[i];
		const char *extra[] = { "sandbox_id", sb->id, "cri_uid", sb->cri_uid, "cri_name", sb->cri_name,
					"cri_namespace", sb->cri_namespace, NULL };
		struct infra_http_req req;
		if (r->outcome != PENDING)
			continue;
		memcpy(r->extra, extra, sizeof(extra));
		ctx[i].run = run;
		ctx[i].opts = opts;
		ctx[i].i = i;
		ctx[i].merge = merge;
		fill_req(&req, sb, "http://shim/metrics", opts->timeout_ms);
		rc = infra_http_batch_add(b, &req, fetched, &ctx[i]);
		if (rc)
			infra_err_set(err, rc, "cannot queue request: %s", strerror(-rc));
		else
			r->queued = 1;
	}
	if (!rc)
		rc = infra_http_batch_run(b, err);
	/* counted (and merged) in sandbox-id order: first HELP/TYPE and conflicts are deterministic */
	if (!rc)
		settle_ready(run, merge, 1);
	if (!rc && run->fatal)
		rc = infra_err_set(err, run->fatal, "%s", run->fatal_msg);
out:
	run->scrape_seconds = infra_now_mono() - t0;
	infra_http_batch_free(b);
	free(ctx);
	return rc;
}

/* ---- one sandbox (--sandbox, --agent-url) ---- */

int infra_kata_one(struct infra_report *r, const struct infra_cli *cli, struct infra_http *h,
		   struct infra_kata_set *set, const char *id, int agent, int allow_unsafe_rs)
{
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_http_resp resp;
	struct infra_kata_sandbox *sb;
	int ambiguous, rc;

	memset(&resp, 0, sizeof(resp));
	sb = infra_kata_find(set, id, &ambiguous);
	if (!sb && ambiguous) {
		/* name the candidates, so the next try can be exact */
		char list[512] = "";
		size_t len = 0, nmatch = 0, idlen = strlen(id);
		for (size_t i = 0; i < set->n; i++) {
			if (strncmp(set->v[i].id, id, idlen))
				continue;
			nmatch++;
			if (len < sizeof(list) - 1) {
				int k = snprintf(list + len, sizeof(list) - len, "%s%s", len ? ", " : "", set->v[i].id);
				len += k > 0 ? (size_t)k : 0;
			}
		}
		infra_report_error(r, "sandbox '%s': ambiguous id prefix, %zu sandboxes match: %s", id, nmatch, list);
		return -ENOENT;
	}
	if (!sb) {
		infra_report_error(r, "sandbox '%s': not found", id);
		return -ENOENT;
	}
	if (!agent && sb->hypervisor && !allow_unsafe_rs) {
		infra_report_error(r, "sandbox %s: runtime-rs on %s: /metrics would crash the shim (kata-containers "
				   "#13708); --scrape-unsafe-rs to do it anyway", sb->id, sb->hypervisor);
		return -EPERM;
	}
	rc = infra_kata_fetch(h, sb, agent ? "/agent-url" : "/metrics", (long)(cli->timeout * 1000), &resp, &err);
	if (!rc && resp.status != 200)
		rc = infra_err_set(&err, -EPROTO, "shim answered HTTP %ld", resp.status);
	if (!rc && !agent && infra_prom_parse(resp.body, resp.body_len, NULL, NULL, &err))
		rc = infra_err_prefix(&err, "invalid metrics");
	if (rc) {
		infra_report_error(r, "sandbox %s: %s", sb->id, err.msg);
	} else {
		json_object_object_add(r->data, "sandbox", json_object_new_string(sb->id));
		json_object_object_add(r->data, agent ? "agent_url" : "metrics",
				       json_object_new_string_len(resp.body, (int)resp.body_len));
		if (cli->format != INFRA_FORMAT_JSON) {
			struct infra_buf b = INFRA_BUF_INIT;
			rc = infra_buf_append(&b, resp.body, resp.body_len);
			if (!rc && agent)
				rc = infra_buf_putc(&b, '\n');
			if (!rc && cli->output && strcmp(cli->output, "-"))
				rc = infra_atomic_write(cli->output, b.data, b.len, &err);
			else if (!rc && fwrite(b.data, 1, b.len, stdout) != b.len)
				rc = infra_err_set(&err, -EIO, "cannot write to stdout: %s", strerror(errno));
			if (rc)
				infra_report_error(r, "%s", err.msg);
			infra_buf_release(&b);
			rc = rc ? rc : 1; /* written: no envelope */
		}
	}
	infra_http_resp_release(&resp);
	return rc;
}

/* ---- streamed prom output ---- */

struct sink_ctx {
	struct infra_atomic_file af; /* -o FILE */
	int file;
	struct infra_err *err;
};

static int sink(void *ud, const char *data, size_t len)
{
	struct sink_ctx *s = ud;

	if (s->file)
		return infra_atomic_append(&s->af, data, len, s->err);
	if (fwrite(data, 1, len, stdout) != len)
		return infra_err_set(s->err, -EIO, "cannot write to stdout: %s", strerror(errno));
	return 0;
}

static int stream_prom(const struct infra_report *r, const struct infra_cli *cli, struct infra_kata_run *run,
		       struct infra_err *err)
{
	struct infra_buf own = INFRA_BUF_INIT;
	struct sink_ctx s;
	size_t skipped = 0;
	int rc;

	memset(&s, 0, sizeof(s));
	s.err = err;
	rc = infra_prom_write(r->prom, &own, err);
	s.file = cli->output && strcmp(cli->output, "-") != 0;
	if (!rc && s.file)
		rc = infra_atomic_begin(&s.af, cli->output, err);
	if (!rc)
		rc = infra_kata_merge_write(run->merge, own.data, own.len, sink, &s, &skipped, err);
	if (s.file && !rc)
		rc = infra_atomic_commit(&s.af, err);
	else if (s.file)
		infra_atomic_abort(&s.af);
	if (!rc && skipped)
		infra_log_warn("%zu shim families left out (named like katapulse-scrape's own, or refused by the writer)",
			       skipped);
	infra_buf_release(&own);
	return rc;
}

static int stream_prom_cb(struct infra_report *r, const struct infra_cli *cli, void *ud,
			  struct infra_err *err)
{
	return stream_prom(r, cli, ud, err);
}

int infra_kata_report_done(struct infra_report *r, const struct infra_cli *cli, struct infra_kata_run *run,
			   infra_render_fn text_fn)
{
	if (cli->format != INFRA_FORMAT_PROM || !run->merge)
		return infra_report_done(r, cli, text_fn, NULL);
	/* the merged exposition is streamed, not rendered in memory */
	return infra_report_done_with(r, cli, text_fn, NULL, stream_prom_cb, run);
}

/* ---- own metrics ---- */

static int fam(struct infra_prom *p, const char *name, enum infra_prom_type t, const char *help,
	       struct infra_err *err)
{
	return infra_prom_family(p, name, t, help, err);
}

static int counter(struct infra_prom *p, struct infra_state *s, const char *name, const char *help,
		   double delta, struct infra_err *err)
{
	double v = s ? infra_state_add(s, name, delta) : delta;

	return fam(p, name, INFRA_PROM_COUNTER, help, err) ||
	       infra_prom_add(p, name, NULL, v, err);
}

static int monitor_histogram(struct infra_prom *p, struct infra_state *s, double seconds,
			     struct infra_err *err)
{
	static const char *name = "kata_monitor_scrape_durations_histogram_milliseconds";
	double ms = floor(seconds * 1000); /* kata-monitor observes whole milliseconds */
	char key[128], le[32];
	double count;
	int rc;

	rc = fam(p, name, INFRA_PROM_HISTOGRAM, "Time used to scrape from shims", err);
	for (size_t i = 0; i < NBUCKETS && !rc; i++) {
		const char *labels[] = { "le", le, NULL };
		double v;
		snprintf(key, sizeof(key), "%s_bucket_%g", name, monitor_buckets[i]);
		v = ms <= monitor_buckets[i] ? 1 : 0;
		v = s ? infra_state_add(s, key, v) : v;
		infra_prom_format_value(monitor_buckets[i], le, sizeof(le));
		rc = infra_prom_add(p, "kata_monitor_scrape_durations_histogram_milliseconds_bucket", labels, v, err);
	}
	snprintf(key, sizeof(key), "%s_count", name);
	count = s ? infra_state_add(s, key, 1) : 1;
	if (!rc)
		rc = infra_prom_addl(p, "kata_monitor_scrape_durations_histogram_milliseconds_bucket", count, err,
				     "le", "+Inf", NULL);
	if (!rc)
		rc = infra_prom_add(p, "kata_monitor_scrape_durations_histogram_milliseconds_count", NULL, count, err);
	snprintf(key, sizeof(key), "%s_sum", name);
	if (!rc)
		rc = infra_prom_add(p, "kata_monitor_scrape_durations_histogram_milliseconds_sum", NULL,
				    s ? infra_state_add(s, key, ms) : ms, err);
	return rc;
}

static int gauge(struct infra_prom *p, const char *name, const char *help, double v, struct infra_err *err)
{
	return fam(p, name, INFRA_PROM_GAUGE, help, err) || infra_prom_add(p, name, NULL, v, err);
}

int infra_kata_info_metrics(const struct infra_kata_run *run, struct infra_prom *p, struct infra_err *err)
{
	const struct infra_kata_set *set = run->set;
	int rc = !set->n ? 0 : fam(p, "katapulse_sandbox_info", INFRA_PROM_GAUGE,
		     "Discovered Kata sandboxes with runtime and pod metadata (source: persist.json, bundle, cri or none), value 1",
		     err);

	for (size_t i = 0; i < set->n && !rc; i++) {
		const struct infra_kata_sandbox *sb = &set->v[i];
		rc = infra_prom_addl(p, "katapulse_sandbox_info", 1, err, "sandbox_id", sb->id, "runtime",
				     infra_kata_runtime_name(sb->runtime), "cri_uid", sb->cri_uid, "cri_name",
				     sb->cri_name, "cri_namespace", sb->cri_namespace, "metadata_source",
				     sb->meta_source, NULL);
	}
	rc = rc ? rc : fam(p, "katapulse_sandboxes", INFRA_PROM_GAUGE,
			   "Sandboxes found in the last run by outcome (scraped, failed, over-limit, skipped; ready when only listed)",
			   err);
	rc = rc ? rc : infra_prom_addl(p, "katapulse_sandboxes", (double)run->scraped, err, "state", "scraped", NULL);
	rc = rc ? rc : infra_prom_addl(p, "katapulse_sandboxes", (double)run->failed, err, "state", "failed", NULL);
	rc = rc ? rc : infra_prom_addl(p, "katapulse_sandboxes", (double)run->over_limit, err, "state", "over-limit", NULL);
	rc = rc ? rc : infra_prom_addl(p, "katapulse_sandboxes",
				       (double)(set->n - run->scraped - run->failed - run->over_limit - run->skipped), err,
				       "state", "ready", NULL);
	rc = rc ? rc : infra_prom_addl(p, "katapulse_sandboxes", (double)run->skipped, err, "state", "skipped", NULL);
	return rc;
}

int infra_kata_own_metrics(const struct infra_kata_run *run, struct infra_state *state,
			   struct infra_prom *p, struct infra_err *err)
{
	const struct infra_kata_set *set = run->set;
	/* requests made: the sandboxes failed at selection (permission) were not asked */
	size_t asked = run->scraped + run->failed - run->denied + run->over_limit;
	size_t failures = run->failed - run->denied + run->over_limit;
	int rc;

	/* kata-monitor's own families, same names, HELP (typos included) and buckets */
	rc = gauge(p, "kata_monitor_running_shim_count", "Running shim count(running sandboxes).",
		   (double)set->n, err);
	rc = rc ? rc : counter(p, state, "kata_monitor_scrape_count", "Scape count.", 1, err);
	rc = rc ? rc : counter(p, state, "kata_monitor_scrape_failed_count", "Failed scape count.",
			       run->failed || run->over_limit ? 1 : 0, err);
	rc = rc ? rc : monitor_histogram(p, state, run->scrape_seconds, err);
	rc = rc ? rc : counter(p, state, "katapulse_shim_scrapes_total",
			       "Shim /metrics requests made, over all runs", (double)asked, err);
	rc = rc ? rc : counter(p, state, "katapulse_shim_scrape_failures_total",
			       "Shim /metrics requests that failed (connect, timeout, HTTP status, parse, over a limit), over all runs",
			       (double)failures, err);
	/* per-sandbox families only when there are samples (an empty family is
	 * not served by node_exporter's textfile collector) */
	if (!rc && run->scraped + run->failed + run->over_limit) {
		rc = fam(p, "katapulse_shim_up", INFRA_PROM_GAUGE,
			 "1 if the sandbox's shim answered /metrics with a valid exposition within the limits in the last run",
			 err);
		rc = rc ? rc : fam(p, "katapulse_shim_scrape_duration_seconds", INFRA_PROM_GAUGE,
				   "Time to fetch the sandbox's shim /metrics in the last run", err);
	}
	for (size_t i = 0; i < set->n && !rc; i++) {
		const struct infra_kata_sandbox *sb = &set->v[i];
		const struct infra_kata_result *r = &run->res[i];
		const char *id[] = { "sandbox_id", sb->id, NULL };

		if (r->outcome == INFRA_KATA_SKIPPED)
			continue;
		rc = infra_prom_add(p, "katapulse_shim_up", id, r->outcome == INFRA_KATA_OK, err);
		if (!rc)
			rc = infra_prom_add(p, "katapulse_shim_scrape_duration_seconds", id, r->duration, err);
	}
	rc = rc ? rc : infra_kata_info_metrics(run, p, err);
	rc = rc ? rc : gauge(p, "katapulse_scraped_bytes", "Bytes of shim /metrics read in the last run",
			     (double)run->bytes, err);
	rc = rc ? rc : gauge(p, "katapulse_type_conflicts",
			     "Sandbox families dropped in the last run because their TYPE differed from the merged one",
			     (double)run->type_conflicts, err);
	rc = rc ? rc : gauge(p, "katapulse_help_conflicts",
			     "Sandbox families whose HELP differed from the merged one (first kept) in the last run",
			     (double)run->help_conflicts, err);
	rc = rc ? rc : gauge(p, "katapulse_dropped_samples",
			     "Shim samples left out in the last run (conflicting family, duplicate series, "
			     "both a sandbox label and its exported_ name)",
			     (double)run->dropped_samples, err);
	rc = rc ? rc : fam(p, "katapulse_dropped_sandboxes", INFRA_PROM_GAUGE,
			   "Sandboxes left out of the output in the last run because they were over a limit "
			   "(body-size: --max-body, series: --max-series-per-sandbox, label-length: --max-label-length)",
			   err);
	for (int l = INFRA_KATA_LIMIT_SERIES; l < INFRA_KATA_NLIMITS && !rc; l++)
		rc = infra_prom_addl(p, "katapulse_dropped_sandboxes", (double)run->dropped_sandboxes[l], err, "reason",
				     infra_kata_limit_name((enum infra_kata_limit)l), NULL);
	if (!rc && run->cri_used)
		rc = gauge(p, "katapulse_cri_up", "1 if the CRI runtime answered ListPodSandbox in the last run",
			   run->cri_error[0] ? 0 : 1, err);
	return rc;
}

/* ---- views ---- */

static const char *outcome_name(const struct infra_kata_result *r, int scraped)
{
	switch (r->outcome) {
	case INFRA_KATA_SKIPPED:
		return "skipped";
	case INFRA_KATA_FAILED:
		return "failed"; /* also when only listed: a directory that cannot be searched */
	case INFRA_KATA_OVER_LIMIT:
		return "over-limit";
	default:
		if (!scraped)
			return "ready";
		return r->merge.dropped_samples ? "partial" : "ok";
	}
}

json_object *infra_kata_sandbox_json(const struct infra_kata_run *run, size_t i, int scraped)
{
	const struct infra_kata_sandbox *sb = &run->set->v[i];
	const struct infra_kata_result *r = &run->res[i];
	json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_string(sb->id));
	json_object_object_add(o, "runtime", json_object_new_string(infra_kata_runtime_name(sb->runtime)));
	json_object_object_add(o, "directory", json_object_new_string(sb->dir));
	json_object_object_add(o, "socket", sb->socket_display ? json_object_new_string(sb->socket_display) : NULL);
	json_object_object_add(o, "cri_uid", json_object_new_string(sb->cri_uid));
	json_object_object_add(o, "cri_name", json_object_new_string(sb->cri_name));
	json_object_object_add(o, "cri_namespace", json_object_new_string(sb->cri_namespace));
	json_object_object_add(o, "metadata_source", json_object_new_string(sb->meta_source));
	if (sb->hypervisor)
		json_object_object_add(o, "hypervisor", json_object_new_string(sb->hypervisor));
	json_object_object_add(o, "state", json_object_new_string(outcome_name(r, scraped)));
	if (r->reason)
		json_object_object_add(o, "reason", json_object_new_string(r->reason));
	if (r->error[0])
		json_object_object_add(o, "error", json_object_new_string(r->error));
	if (!scraped || r->outcome == INFRA_KATA_SKIPPED || denied(r))
		return o;
	if (r->merge.first_problem[0])
		json_object_object_add(o, "problem", json_object_new_string(r->merge.first_problem));
	json_object_object_add(o, "duration_seconds", json_object_new_double(round(r->duration * 1e6) / 1e6));
	json_object_object_add(o, "bytes", json_object_new_int64((int64_t)r->bytes));
	json_object_object_add(o, "samples", json_object_new_int64((int64_t)r->merge.samples));
	json_object_object_add(o, "families", json_object_new_int64((int64_t)r->merge.families));
	json_object_object_add(o, "type_conflicts", json_object_new_int64((int64_t)r->merge.type_conflicts));
	json_object_object_add(o, "dropped_samples", json_object_new_int64((int64_t)r->merge.dropped_samples));
	return o;
}

void infra_kata_report_sandboxes(struct infra_report *r, const struct infra_kata_run *run, int scraped)
{
	json_object *arr = json_object_new_array();
	const char *first_denied = NULL;

	for (size_t i = 0; i < run->set->n; i++) {
		const struct infra_kata_result *res = &run->res[i];
		const char *id = run->set->v[i].id;

		if (denied(res))
			first_denied = first_denied ? first_denied : run->set->v[i].dir;
		else if (res->outcome == INFRA_KATA_FAILED)
			infra_report_error(r, "sandbox %s: %s", id, res->error);
		else if (res->outcome == INFRA_KATA_OVER_LIMIT)
			infra_report_error(r, "sandbox %s: over a limit, left out: %s", id, res->error);
		else if (res->merge.first_problem[0])
			infra_report_error(r, "sandbox %s: %s", id, res->merge.first_problem);
		json_object_array_add(arr, infra_kata_sandbox_json(run, i, scraped));
	}
	json_object_object_add(r->data, "sandboxes", arr);
	if (run->failed > run->denied || run->over_limit || run->type_conflicts || run->dropped_samples)
		infra_report_status(r, INFRA_EXIT_WARNING);
	if (run->denied) {
		/* one line, not one per sandbox: the cause is the same for all */
		infra_report_error(r, "permission denied: %zu of %zu sandbox directories cannot be searched (%s%s); "
				   "run as root", run->denied, run->set->n, run->denied > 1 ? "e.g. " : "", first_denied);
		infra_report_status(r, INFRA_EXIT_UNKNOWN);
	}
}

int infra_kata_text_table(const struct infra_report *rep, const struct infra_kata_run *run, int scraped,
			  struct infra_buf *out)
{
	int rc = 0;

	/* a failed run's errors are already above the table (infra_report_render) */
	(void)rep;
	if (!run->set || !run->res) /* failed before any sandbox was found */
		return infra_buf_printf(out, "no sandbox could be %s\n", scraped ? "scraped" : "listed");
	rc = infra_buf_printf(out, "%-14s %-3s %-32s %-17s %-10s %8s %8s  %s\n", "SANDBOX", "RT", "POD",
			      "SOURCE", "STATE", "SAMPLES", "TIME", scraped ? "ERROR" : "SOCKET");
	for (size_t i = 0; i < run->set->n && !rc; i++) {
		const struct infra_kata_sandbox *sb = &run->set->v[i];
		const struct infra_kata_result *r = &run->res[i];
		char pod[256], samples[32] = "-", ms[32] = "-";
		const char *note;

		if (sb->cri_name[0])
			snprintf(pod, sizeof(pod), "%s/%s", sb->cri_namespace, sb->cri_name);
		else
			snprintf(pod, sizeof(pod), "-");
		if (scraped && r->outcome != INFRA_KATA_SKIPPED && !denied(r)) {
			snprintf(samples, sizeof(samples), "%zu", r->merge.samples);
			snprintf(ms, sizeof(ms), "%.0fms", r->duration * 1000);
		}
		if (r->outcome == INFRA_KATA_SKIPPED)
			note = r->reason ? r->reason : "";
		else if (r->error[0])
			note = r->error;
		else if (scraped)
			note = r->merge.first_problem;
		else
			note = sb->socket_display ? sb->socket_display : "";
		rc = infra_buf_printf(out, "%-14.12s %-3s %-32.32s %-17s %-10s %8s %8s  %s\n", sb->id,
				      infra_kata_runtime_name(sb->runtime), pod, sb->meta_source,
				      outcome_name(r, scraped), samples, ms, note);
	}
	if (!rc && scraped)
		rc = infra_buf_printf(out, "%zu sandboxes: %zu scraped, %zu failed, %zu over a limit, %zu skipped; "
				      "%zu bytes in %.0fms\n", run->set->n, run->scraped, run->failed, run->over_limit,
				      run->skipped, run->bytes, run->scrape_seconds * 1000);
	else if (!rc)
		rc = infra_buf_printf(out, "%zu sandboxes: %zu ready, %zu failed, %zu skipped\n", run->set->n,
				      run->set->n - run->failed - run->skipped, run->failed, run->skipped);
	return rc;
}
