#include "infra_rally.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "infra_buf.h"
#include "infra_history.h"
#include "infra_json.h"

#define MAX_ARGS 24
#define FIRST_ERRORS 3

json_object *infra_rally_num(double v)
{
	char buf[64];
	size_t n;

	if (!isfinite(v))
		return NULL;
	v = round(v * 1e6) / 1e6;
	if (v == 0)
		v = 0; /* no -0 */
	snprintf(buf, sizeof(buf), "%.6f", v);
	n = strlen(buf);
	while (n > 1 && buf[n - 1] == '0')
		buf[--n] = '\0';
	if (buf[n - 1] == '.')
		buf[--n] = '\0';
	return json_object_new_double_s(v, buf);
}

double infra_rally_percentile(const double *sorted, size_t n, double p)
{
	double pos, frac;
	size_t lo;

	if (n == 0)
		return NAN;
	pos = p * (double)(n - 1);
	lo = (size_t)floor(pos);
	if (lo >= n - 1)
		return sorted[n - 1];
	frac = pos - (double)lo;
	return sorted[lo] + (sorted[lo + 1] - sorted[lo]) * frac;
}

/* ---- running rally ---- */

struct argv_b {
	const char *v[MAX_ARGS + 1];
	int n;
};

static void args_base(struct argv_b *a, const struct infra_rally *ra)
{
	a->n = 0;
	a->v[a->n++] = ra->program ? ra->program : "rally";
	if (ra->config_file) {
		a->v[a->n++] = "--config-file";
		a->v[a->n++] = ra->config_file;
	}
	a->v[a->n] = NULL;
}

static void args_add(struct argv_b *a, const char *s)
{
	if (a->n < MAX_ARGS) {
		a->v[a->n++] = s;
		a->v[a->n] = NULL;
	}
}

#define NCRED_ENV 12

/* "NAME=value" strings of the credentials, in one buffer; env gets pointers */
static void creds_env(const struct infra_rally_creds *c, char *buf, size_t size, const char **env, size_t *n)
{
	const char *names[NCRED_ENV] = { "OS_AUTH_URL", "OS_USERNAME", "OS_PASSWORD", "OS_PROJECT_NAME",
					 "OS_USER_DOMAIN_NAME", "OS_PROJECT_DOMAIN_NAME", "OS_REGION_NAME",
					 "OS_INTERFACE", "OS_CACERT", "OS_CERT", "OS_KEY", "OS_INSECURE" };
	const char *vals[NCRED_ENV] = { c->auth_url, c->username, c->password, c->project_name,
					c->user_domain_name, c->project_domain_name, c->region_name,
					c->interface, c->cacert, c->cert, c->key, c->insecure ? "true" : NULL };
	size_t used = 0;

	for (size_t i = 0; i < NCRED_ENV; i++) {
		int len;
		if (!vals[i])
			continue;
		len = snprintf(buf + used, size - used, "%s=%s", names[i], vals[i]);
		if (len < 0 || (size_t)len >= size - used)
			break;
		env[(*n)++] = buf + used;
		used += (size_t)len + 1;
	}
}

static int run(const struct infra_rally *ra, const struct argv_b *a, double timeout,
	       struct infra_buf *out, struct infra_proc_result *res, struct infra_err *err)
{
	char home[4096 + 8], cred[8192];
	const char *env[NCRED_ENV + 2] = { NULL };
	size_t nenv = 0;
	struct infra_proc_opts o = { timeout, 5, ra->log_fd, env, NULL };
	int rc;

	if (ra->home) {
		snprintf(home, sizeof(home), "HOME=%s", ra->home);
		env[nenv++] = home;
	}
	if (ra->creds)
		creds_env(ra->creds, cred, sizeof(cred), env, &nenv);
	if (ra->log_fd >= 0) {
		/* a header line per command in the log; never the arguments after --task-args */
		char line[512];
		int len = snprintf(line, sizeof(line), "+ rally");
		for (int i = 1; i < a->n && len < (int)sizeof(line); i++) {
			len += snprintf(line + len, sizeof(line) - (size_t)len, " %s", a->v[i]);
			if (!strcmp(a->v[i], "--task-args") && i + 1 < a->n) {
				len += snprintf(line + len, sizeof(line) - (size_t)len, " ...");
				i++;
			}
		}
		if (len >= (int)sizeof(line))
			len = (int)sizeof(line) - 1;
		line[len++] = '\n';
		if (write(ra->log_fd, line, (size_t)len) < 0) {
			/* the log is best effort */
		}
	}
	rc = infra_proc_run(a->v, &o, out, res, err);
	explicit_bzero(cred, sizeof(cred));
	return rc;
}

/* the last non-empty line rally wrote to the log since offset, for error messages */
static void log_tail(int fd, off_t from, char *buf, size_t size)
{
	char chunk[4096];
	off_t end;
	ssize_t n;
	size_t len;

	buf[0] = '\0';
	if (fd < 0 || (end = lseek(fd, 0, SEEK_END)) <= from)
		return;
	if (end - from > (off_t)sizeof(chunk) - 1)
		from = end - (off_t)sizeof(chunk) + 1;
	n = pread(fd, chunk, (size_t)(end - from), from);
	if (n <= 0)
		return;
	chunk[n] = '\0';
	len = (size_t)n;
	while (len && (chunk[len - 1] == '\n' || chunk[len - 1] == '\r' || chunk[len - 1] == ' '))
		chunk[--len] = '\0';
	{
		char *line = strrchr(chunk, '\n');
		line = line ? line + 1 : chunk;
		if (*line && strncmp(line, "+ rally", 7) != 0)
			snprintf(buf, size, ": %.200s", line);
	}
}

static off_t log_pos(int fd)
{
	off_t o = fd >= 0 ? lseek(fd, 0, SEEK_END) : -1;

	return o < 0 ? 0 : o;
}

/* run a short command; rc 0 only when it exited 0 */
static int run_short(const struct infra_rally *ra, const struct argv_b *a, const char *what,
		     struct infra_buf *out, struct infra_err *err)
{
	struct infra_proc_result res;
	char how[128], tail[256];
	off_t pos = log_pos(ra->log_fd);
	int rc;

	rc = run(ra, a, ra->cmd_timeout > 0 ? ra->cmd_timeout : 120, out, &res, err);
	if (rc)
		return rc;
	if (res.timed_out || !res.exited || res.exit_code != 0) {
		infra_proc_describe(&res, ra->cmd_timeout > 0 ? ra->cmd_timeout : 120, how, sizeof(how));
		log_tail(ra->log_fd, pos, tail, sizeof(tail));
		return infra_err_set(err, -EIO, "rally %s %s%s", what, how, tail);
	}
	return 0;
}

static const char *env_or(const char *a, const char *b)
{
	const char *v = getenv(a);

	if ((!v || !*v) && b)
		v = getenv(b);
	return v && *v ? v : NULL;
}

static int str_same(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

int infra_rally_ensure_deployment(const struct infra_rally *ra, struct infra_err *err)
{
	struct infra_buf out = INFRA_BUF_INIT;
	struct argv_b a;
	json_object *list = NULL, *found = NULL;
	const struct infra_rally_creds *c = ra->creds;
	const char *url = c ? c->auth_url : env_or("OS_AUTH_URL", NULL);
	const char *user = c ? c->username : env_or("OS_USERNAME", NULL);
	const char *project = c ? c->project_name : env_or("OS_PROJECT_NAME", "OS_TENANT_NAME");
	const char *password = c ? c->password : env_or("OS_PASSWORD", NULL);
	const char *cacert = c ? c->cacert : env_or("OS_CACERT", NULL);
	const char *cert = c ? c->cert : env_or("OS_CERT", NULL);
	const char *key = c ? c->key : env_or("OS_KEY", NULL);
	int rc;

	if (!url)
		return infra_err_set(err, -EINVAL, c ? "no auth URL in the OpenStack configuration"
					       : "OS_AUTH_URL is not set: rally needs OS_* credentials "
						 "in the environment (source an openrc file)");
	args_base(&a, ra);
	args_add(&a, "db");
	args_add(&a, "ensure");
	rc = run_short(ra, &a, "db ensure", NULL, err);
	if (rc)
		return rc;

	infra_buf_init(&out, 16 << 20);
	args_base(&a, ra);
	args_add(&a, "env");
	args_add(&a, "list");
	args_add(&a, "--json");
	rc = run_short(ra, &a, "env list", &out, err);
	if (!rc && infra_json_parse(out.data ? out.data : "", out.len, &list, err))
		rc = infra_err_prefix(err, "rally env list --json");
	infra_buf_release(&out); /* it holds the credentials of every env */
	if (rc)
		return rc;
	if (!json_object_is_type(list, json_type_array)) {
		json_object_put(list);
		return infra_err_set(err, -EINVAL, "rally env list --json: not a JSON list");
	}
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		json_object *e = json_object_array_get_idx(list, i);
		if (str_same(infra_json_opt_string(e, "name", NULL), ra->deployment))
			found = e;
	}
	if (found) {
		json_object *spec = NULL;
		int same = 0;
		if (!infra_json_get_object(found, "spec[\"existing@openstack\"]", &spec, NULL)) {
			same = str_same(infra_json_opt_string(spec, "auth_url", NULL), url) &&
			       str_same(infra_json_opt_string(spec, "admin.username", NULL), user) &&
			       str_same(infra_json_opt_string(spec, "admin.project_name", NULL), project) &&
			       str_same(infra_json_opt_string(spec, "admin.password", NULL), password) &&
			       str_same(infra_json_opt_string(spec, "https_cacert", NULL), cacert) &&
			       str_same(infra_json_opt_string(spec, "https_cert", NULL), cert) &&
			       str_same(infra_json_opt_string(spec, "https_key", NULL), key);
		}
		json_object_put(list);
		if (same)
			return 0;
		args_base(&a, ra);
		args_add(&a, "deployment");
		args_add(&a, "destroy");
		args_add(&a, "--deployment");
		args_add(&a, ra->deployment);
		rc = run_short(ra, &a, "deployment destroy (credentials changed)", NULL, err);
		if (rc)
			return rc;
	} else {
		json_object_put(list);
	}
	args_base(&a, ra);
	args_add(&a, "deployment");
	args_add(&a, "create");
	args_add(&a, "--fromenv");
	args_add(&a, "--name");
	args_add(&a, ra->deployment);
	args_add(&a, "--no-use");
	return run_short(ra, &a, "deployment create --fromenv", NULL, err);
}

static int is_uuid(const char *s, size_t n)
{
	if (n != 36)
		return 0;
	for (size_t i = 0; i < n; i++) {
		int dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? s[i] != '-' : !strchr("0123456789abcdefABCDEF", s[i]))
			return 0;
	}
	return 1;
}

int infra_rally_task_start(const struct infra_rally *ra, const char *task_file,
			   const char *task_args_json, const char *tag, double timeout,
			   struct infra_rally_start *st, struct infra_err *err)
{
	struct infra_buf out = INFRA_BUF_INIT;
	struct infra_err lerr = INFRA_ERR_INIT;
	struct argv_b a;
	char how[128], tail[256];
	off_t pos = log_pos(ra->log_fd);
	int rc;

	memset(st, 0, sizeof(*st));
	args_base(&a, ra);
	args_add(&a, "task");
	args_add(&a, "start");
	args_add(&a, "--task");
	args_add(&a, task_file);
	args_add(&a, "--deployment");
	args_add(&a, ra->deployment);
	if (task_args_json) {
		args_add(&a, "--task-args");
		args_add(&a, task_args_json);
	}
	args_add(&a, "--tag");
	args_add(&a, tag);
	args_add(&a, "--no-use");
	rc = run(ra, &a, timeout, NULL, &st->proc, err);
	if (rc)
		return rc;
	log_tail(ra->log_fd, pos, tail, sizeof(tail));

	infra_buf_init(&out, 1 << 20);
	args_base(&a, ra);
	args_add(&a, "task");
	args_add(&a, "list");
	args_add(&a, "--deployment");
	args_add(&a, ra->deployment);
	args_add(&a, "--tag");
	args_add(&a, tag);
	args_add(&a, "--uuids-only");
	rc = run_short(ra, &a, "task list", &out, &lerr);
	if (!rc) {
		/* the last uuid line (a tag is unique per run and service) */
		const char *p = out.data ? out.data : "";
		while (*p) {
			size_t n = strcspn(p, "\r\n");
			while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
				n--;
			if (is_uuid(p, n)) {
				memcpy(st->uuid, p, n);
				st->uuid[n] = '\0';
			}
			p += strcspn(p, "\n");
			if (*p)
				p++;
		}
	}
	infra_buf_release(&out);
	infra_proc_describe(&st->proc, timeout, how, sizeof(how));
	if (!st->uuid[0]) {
		if (rc)
			return infra_err_set(err, rc, "rally task start %s; %s", how, lerr.msg);
		return infra_err_set(err, -EIO, "rally task start %s and created no task%s", how, tail);
	}
	return 0;
}

int infra_rally_task_report(const struct infra_rally *ra, const char *uuid, const char *out_path,
			    json_object **report, struct infra_err *err)
{
	struct argv_b a;
	json_object *doc = NULL, *tasks;
	const char *fv;
	char bad[4096 + 16];
	int rc;

	*report = NULL;
	unlink(out_path);
	args_base(&a, ra);
	args_add(&a, "task");
	args_add(&a, "report");
	args_add(&a, "--uuid");
	args_add(&a, uuid);
	args_add(&a, "--json");
	args_add(&a, "--out");
	args_add(&a, out_path);
	rc = run_short(ra, &a, "task report --json", NULL, err);
	if (rc)
		return rc;
	rc = infra_json_file_read(out_path, &doc, err);
	if (rc == -EINVAL && err) {
		/* "PATH: invalid JSON at byte N": the file is about to become PATH.invalid */
		char inner[INFRA_ERR_MSG_MAX];
		size_t pl = strlen(out_path);
		const char *m = strncmp(err->msg, out_path, pl) == 0 && !strncmp(err->msg + pl, ": ", 2)
					? err->msg + pl + 2 : err->msg;
		snprintf(inner, sizeof(inner), "%s", m);
		infra_err_set(err, rc, "unreadable report JSON of task %s: %s (kept as %s.invalid)", uuid,
			      inner, out_path);
	}
	if (!rc) {
		fv = infra_json_opt_string(doc, "info.format_version", NULL);
		if (!fv || strncmp(fv, "1.", 2) != 0)
			rc = infra_err_set(err, -EINVAL, "report of task %s: format_version %s, expected 1.x",
					   uuid, fv ? fv : "missing");
		else if (infra_json_get_array(doc, "tasks", &tasks, err))
			rc = infra_err_prefix(err, "report of task %s", uuid);
		else if (json_object_array_length(tasks) != 1)
			rc = infra_err_set(err, -EINVAL, "report of task %s has %zu tasks, expected 1", uuid,
					   json_object_array_length(tasks));
	}
	if (rc) {
		json_object_put(doc);
		snprintf(bad, sizeof(bad), "%s.invalid", out_path);
		rename(out_path, bad);
		return rc;
	}
	*report = doc;
	return 0;
}

/* ---- summary ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static json_object *stats(double *v, size_t n)
{
	json_object *o;

	if (n == 0)
		return NULL;
	qsort(v, n, sizeof(*v), cmp_double);
	o = json_object_new_object();
	json_object_object_add(o, "min", infra_rally_num(v[0]));
	json_object_object_add(o, "median", infra_rally_num(infra_rally_percentile(v, n, 0.5)));
	json_object_object_add(o, "p95", infra_rally_num(infra_rally_percentile(v, n, 0.95)));
	json_object_object_add(o, "max", infra_rally_num(v[n - 1]));
	return o;
}

/* "Type: message" of a rally error triple, or NULL */
static int error_text(json_object *e, char *buf, size_t size)
{
	const char *type, *msg;

	if (!json_object_is_type(e, json_type_array) || json_object_array_length(e) < 2)
		return 0;
	type = json_object_get_string(json_object_array_get_idx(e, 0));
	msg = json_object_get_string(json_object_array_get_idx(e, 1));
	snprintf(buf, size, "%s: %s", type ? type : "Error", msg ? msg : "");
	return 1;
}

static void add_unique(json_object *arr, const char *s, size_t max)
{
	for (size_t i = 0; i < json_object_array_length(arr); i++)
		if (!strcmp(json_object_get_string(json_object_array_get_idx(arr, i)), s))
			return;
	if (json_object_array_length(arr) < max)
		json_object_array_add(arr, json_object_new_string(s));
}

static void reason(json_object *reasons, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reason(json_object *reasons, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_object_array_add(reasons, json_object_new_string(buf));
}

struct action_acc {
	char name[256];
	double *v;
	size_t n, alloc;
	int failures;
};

static struct action_acc *action_get(struct action_acc **acts, size_t *nacts, const char *name)
{
	struct action_acc *na;

	for (size_t i = 0; i < *nacts; i++)
		if (!strcmp((*acts)[i].name, name))
			return &(*acts)[i];
	na = realloc(*acts, (*nacts + 1) * sizeof(**acts));
	if (!na)
		return NULL;
	*acts = na;
	memset(&na[*nacts], 0, sizeof(*na));
	snprintf(na[*nacts].name, sizeof(na[*nacts].name), "%s", name);
	return &na[(*nacts)++];
}

static void action_walk(json_object *list, struct action_acc **acts, size_t *nacts, const char *prefix)
{
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		json_object *a = json_object_array_get_idx(list, i), *kids = NULL;
		const char *name = infra_json_opt_string(a, "name", NULL);
		double s = infra_json_opt_double(a, "started_at", NAN);
		double f = infra_json_opt_double(a, "finished_at", NAN);
		char full[256];
		struct action_acc *acc;

		if (!name)
			continue;
		snprintf(full, sizeof(full), "%s%s%s", prefix, *prefix ? " > " : "", name);
		acc = action_get(acts, nacts, full);
		if (!acc)
			return;
		if (isfinite(s) && isfinite(f)) {
			if (acc->n == acc->alloc) {
				size_t na = acc->alloc ? acc->alloc * 2 : 16;
				double *nv = realloc(acc->v, na * sizeof(*nv));
				if (!nv)
					return;
				acc->v = nv;
				acc->alloc = na;
			}
			acc->v[acc->n++] = f - s;
		}
		if (json_object_get_boolean(json_object_object_get(a, "failed")))
			acc->failures++;
		if (!infra_json_get_array(a, "children", &kids, NULL))
			action_walk(kids, acts, nacts, full);
	}
}

static json_object *scenario_name(json_object *w)
{
	json_object *sc = json_object_object_get(w, "scenario");

	if (json_object_is_type(sc, json_type_object)) {
		json_object_object_foreach(sc, k, v) {
			(void)v;
			return json_object_new_string(k);
		}
	}
	return json_object_new_string("unknown");
}

static int64_t planned_times(json_object *w)
{
	json_object *runner = json_object_object_get(w, "runner");

	if (json_object_is_type(runner, json_type_object)) {
		json_object_object_foreach(runner, k, cfg) {
			(void)k;
			return infra_json_opt_int64(cfg, "times", -1);
		}
	}
	return -1;
}

static int summarize_workload(json_object *w, const char *subtask, int task_finished,
			      json_object **out, struct infra_err *err)
{
	json_object *o = json_object_new_object(), *data = NULL, *reasons = json_object_new_array();
	json_object *errors = json_object_new_array(), *setup_e = json_object_new_array();
	json_object *cleanup_e = json_object_new_array(), *sla = json_object_new_object();
	json_object *sla_failed = json_object_new_array(), *ctxs = NULL, *slares = NULL, *acts_j;
	struct action_acc *acts = NULL;
	size_t nacts = 0, ndur = 0;
	double *dur = NULL;
	int64_t total, failed, planned, ok_iters;
	int pass_sla, sla_ok, fail = 0;
	char buf[1024];
	json_object *name = scenario_name(w);

	json_object_object_add(o, "name", name);
	json_object_object_add(o, "subtask", json_object_new_string(subtask ? subtask : ""));
	json_object_object_add(o, "workload_uuid",
			       json_object_new_string(infra_json_opt_string(w, "uuid", "")));
	if (infra_json_get_array(w, "data", &data, err)) {
		/* a killed task has data: [] ; a missing one is a malformed report */
		json_object_put(o);
		json_object_put(reasons);
		json_object_put(errors);
		json_object_put(setup_e);
		json_object_put(cleanup_e);
		json_object_put(sla);
		json_object_put(sla_failed);
		return -EINVAL;
	}
	total = infra_json_opt_int64(w, "total_iteration_count", (int64_t)json_object_array_length(data));
	failed = infra_json_opt_int64(w, "failed_iteration_count", 0);
	planned = planned_times(w);
	dur = calloc(json_object_array_length(data) + 1, sizeof(*dur));
	for (size_t i = 0; dur && i < json_object_array_length(data); i++) {
		json_object *it = json_object_array_get_idx(data, i), *acts_l = NULL;
		double d = infra_json_opt_double(it, "duration", NAN);
		if (isfinite(d))
			dur[ndur++] = d;
		if (error_text(json_object_object_get(it, "error"), buf, sizeof(buf)))
			add_unique(errors, buf, FIRST_ERRORS);
		if (!infra_json_get_array(it, "atomic_actions", &acts_l, NULL))
			action_walk(acts_l, &acts, &nacts, "");
	}
	if (!infra_json_get_array(w, "contexts_results", &ctxs, NULL)) {
		for (size_t i = 0; i < json_object_array_length(ctxs); i++) {
			json_object *c = json_object_array_get_idx(ctxs, i);
			const char *plugin = infra_json_opt_string(c, "plugin_name", "context");
			char e[900];
			if (error_text(json_object_object_get(json_object_object_get(c, "setup"), "error"), e, sizeof(e))) {
				snprintf(buf, sizeof(buf), "%s: %s", plugin, e);
				json_object_array_add(setup_e, json_object_new_string(buf));
			}
			if (error_text(json_object_object_get(json_object_object_get(c, "cleanup"), "error"), e, sizeof(e))) {
				snprintf(buf, sizeof(buf), "%s: %s", plugin, e);
				json_object_array_add(cleanup_e, json_object_new_string(buf));
			}
		}
	}
	pass_sla = json_object_get_boolean(json_object_object_get(w, "pass_sla"));
	sla_ok = pass_sla;
	if (!infra_json_get_array(w, "sla_results.sla", &slares, NULL)) {
		for (size_t i = 0; i < json_object_array_length(slares); i++) {
			json_object *c = json_object_array_get_idx(slares, i), *f;
			if (json_object_get_boolean(json_object_object_get(c, "success")))
				continue;
			sla_ok = 0;
			f = json_object_new_object();
			json_object_object_add(f, "criterion",
					       json_object_new_string(infra_json_opt_string(c, "criterion", "")));
			json_object_object_add(f, "detail",
					       json_object_new_string(infra_json_opt_string(c, "detail", "")));
			json_object_array_add(sla_failed, f);
		}
	} else {
		slares = NULL;
	}
	/* no SLA was evaluated (killed or unfinished task): that is not a pass */
	if (!task_finished || total == 0)
		sla_ok = 0;

	ok_iters = total - failed;
	if (ok_iters < 0)
		ok_iters = 0;
	if (total == 0) {
		fail = 1;
		if (planned > 0)
			reason(reasons, "no iteration ran (0 of %lld)%s", (long long)planned,
			       task_finished ? "" : ": the task was killed or is still running");
		else
			reason(reasons, "no iteration ran%s", task_finished ? "" : ": the task was killed or is still running");
	} else if (planned > 0 && total < planned) {
		fail = 1;
		reason(reasons, "only %lld of %lld iterations ran", (long long)total, (long long)planned);
	}
	if (failed > 0) {
		fail = 1;
		reason(reasons, "%lld of %lld iterations failed", (long long)failed, (long long)total);
	}
	for (size_t i = 0; i < json_object_array_length(sla_failed); i++) {
		json_object *f = json_object_array_get_idx(sla_failed, i);
		fail = 1;
		reason(reasons, "SLA %s failed: %s", infra_json_opt_string(f, "criterion", ""),
		       infra_json_opt_string(f, "detail", ""));
	}
	if (!pass_sla && json_object_array_length(sla_failed) == 0) {
		fail = 1;
		reason(reasons, "SLA failed");
	}
	for (size_t i = 0; i < json_object_array_length(setup_e); i++) {
		fail = 1;
		reason(reasons, "context setup failed: %s",
		       json_object_get_string(json_object_array_get_idx(setup_e, i)));
	}
	for (size_t i = 0; i < json_object_array_length(cleanup_e); i++) {
		fail = 1;
		reason(reasons, "context cleanup failed, resources may have leaked: %s",
		       json_object_get_string(json_object_array_get_idx(cleanup_e, i)));
	}
	if (!task_finished && total > 0) {
		fail = 1;
		reason(reasons, "the task did not finish");
	}

	json_object_object_add(o, "status", json_object_new_string(fail ? "fail" : "pass"));
	json_object_object_add(o, "iterations", json_object_new_int64(total));
	json_object_object_add(o, "iterations_planned", planned >= 0 ? json_object_new_int64(planned) : NULL);
	json_object_object_add(o, "failures", json_object_new_int64(failed));
	{
		int64_t denom = total > planned ? total : planned;
		if (denom <= 0)
			denom = total;
		json_object_object_add(o, "success_ratio",
				       infra_rally_num(denom > 0 ? (double)ok_iters / (double)denom : 0));
	}
	json_object_object_add(o, "durations", stats(dur, ndur));
	acts_j = json_object_new_array();
	for (size_t i = 0; i < nacts; i++) {
		json_object *a = json_object_new_object(), *s = stats(acts[i].v, acts[i].n);
		json_object_object_add(a, "name", json_object_new_string(acts[i].name));
		json_object_object_add(a, "count", json_object_new_int64((int64_t)acts[i].n));
		json_object_object_add(a, "failures", json_object_new_int(acts[i].failures));
		if (s) {
			json_object_object_foreach(s, k, v)
				json_object_object_add(a, k, json_object_get(v));
			json_object_put(s);
		}
		json_object_array_add(acts_j, a);
		free(acts[i].v);
	}
	free(acts);
	free(dur);
	json_object_object_add(o, "atomic_actions", acts_j);
	json_object_object_add(sla, "pass", json_object_new_boolean(sla_ok));
	json_object_object_add(sla, "failed", sla_failed);
	json_object_object_add(o, "sla", sla);
	json_object_object_add(o, "setup_errors", setup_e);
	json_object_object_add(o, "cleanup_errors", cleanup_e);
	json_object_object_add(o, "errors", errors);
	json_object_object_add(o, "reasons", reasons);
	*out = o;
	return 0;
}

int infra_rally_summarize(json_object *report, json_object **out, struct infra_err *err)
{
	json_object *task = NULL, *subtasks = NULL, *o, *scen, *reasons;
	const char *status;
	int finished, fail = 0, rc;
	char path[64];

	*out = NULL;
	if (infra_json_get_object(report, "tasks[0]", &task, err) ||
	    infra_json_get_array(task, "subtasks", &subtasks, err))
		return -EINVAL;
	status = infra_json_opt_string(task, "status", "unknown");
	finished = !strcmp(status, "finished");
	o = json_object_new_object();
	scen = json_object_new_array();
	reasons = json_object_new_array();
	json_object_object_add(o, "task_uuid", json_object_new_string(infra_json_opt_string(task, "uuid", "")));
	json_object_object_add(o, "task_status", json_object_new_string(status));
	json_object_object_add(o, "pass_sla",
			       json_object_new_boolean(json_object_get_boolean(json_object_object_get(task, "pass_sla"))));
	for (size_t i = 0; i < json_object_array_length(subtasks); i++) {
		json_object *st = json_object_array_get_idx(subtasks, i), *wls = NULL;
		snprintf(path, sizeof(path), "tasks[0].subtasks[%zu].workloads", i);
		if (infra_json_get_array(st, "workloads", &wls, err)) {
			infra_err_set(err, -EINVAL, "missing field '%s'", path);
			goto bad;
		}
		for (size_t j = 0; j < json_object_array_length(wls); j++) {
			json_object *s;
			rc = summarize_workload(json_object_array_get_idx(wls, j),
						infra_json_opt_string(st, "title", ""), finished, &s, err);
			if (rc) {
				infra_err_prefix(err, "tasks[0].subtasks[%zu].workloads[%zu]", i, j);
				goto bad;
			}
			if (strcmp(json_object_get_string(json_object_object_get(s, "status")), "pass"))
				fail = 1;
			json_object_array_add(scen, s);
		}
	}
	/* a scenario name used twice in one task gets "#2", "#3"... so series stay unique */
	for (size_t i = 0; i < json_object_array_length(scen); i++) {
		json_object *s = json_object_array_get_idx(scen, i);
		const char *n = json_object_get_string(json_object_object_get(s, "name"));
		int dup = 1;
		for (size_t j = 0; j < i; j++) {
			const char *m = json_object_get_string(
				json_object_object_get(json_object_array_get_idx(scen, j), "name"));
			if (!strncmp(m, n, strlen(n)) && (m[strlen(n)] == '\0' || m[strlen(n)] == '#'))
				dup++;
		}
		if (dup > 1) {
			char nn[300];
			snprintf(nn, sizeof(nn), "%s#%d", n, dup);
			json_object_object_add(s, "name", json_object_new_string(nn));
		}
	}
	if (!finished) {
		fail = 1;
		reason(reasons, "task status is '%s'%s", status,
		       !strcmp(status, "running") ? " (killed, or still running)" : "");
	}
	if (json_object_array_length(scen) == 0) {
		fail = 1;
		reason(reasons, "the report has no scenarios");
	}
	json_object_object_add(o, "status", json_object_new_string(fail ? "fail" : "pass"));
	json_object_object_add(o, "reasons", reasons);
	json_object_object_add(o, "scenarios", scen);
	*out = o;
	return 0;
bad:
	json_object_put(o);
	json_object_put(scen);
	json_object_put(reasons);
	return -EINVAL;
}
