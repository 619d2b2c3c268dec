/* test_kube.c - infra_kube: quantities, the auth order and kubeconfig parsing, and
 * lists against tests/sim/kube.py over TLS (paging, 410 restart, 404, 401/403,
 * malformed JSON, wrong CA, client certificates from files and -data). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "infra_buf.h"
#include "infra_file.h"
#include "infra_http.h"
#include "infra_kube.h"
#include "tap.h"

static char tmpdir[1024];
static pid_t sim_pid = -1;
static char sim_url[512];

/* ---------- quantities ---------- */

static void q_ok(const char *s, int64_t want)
{
	int64_t v = -12345;
	int rc = infra_kube_quantity(s, &v);

	tap_ok(rc == 0 && v == want, "quantity '%s' = %lld (got rc %d, %lld)", s, (long long)want, rc, (long long)v);
}

static void q_bad(const char *s, int want_rc)
{
	int64_t v = 0;
	int rc = infra_kube_quantity(s, &v);

	tap_ok(rc == want_rc, "quantity '%s' refused with %s (got %d)", s, want_rc == -ERANGE ? "ERANGE" : "EINVAL", rc);
}

static void test_quantities(void)
{
	q_ok("0", 0);
	q_ok("1073741824", 1073741824LL);
	q_ok("10Gi", 10737418240LL);
	q_ok("1Ki", 1024);
	q_ok("1Mi", 1048576);
	q_ok("1Ti", 1099511627776LL);
	q_ok("1Pi", 1125899906842624LL);
	q_ok("1Ei", 1152921504606846976LL);
	q_ok("7Ei", 8070450532247928832LL);
	q_ok("500M", 500000000);
	q_ok("1k", 1000);
	q_ok("1G", 1000000000);
	q_ok("2T", 2000000000000LL);
	q_ok("3P", 3000000000000000LL);
	q_ok("9E", 9000000000000000000LL);
	q_ok("1E", 1000000000000000000LL);       /* a bare E is exa, not an exponent */
	q_ok("1e9", 1000000000);
	q_ok("1E3", 1000);
	q_ok("1e+3", 1000);
	q_ok("12e-1", 2);                          /* 1.2 rounds up */
	q_ok("1e-1000000", 1);                     /* tiny but positive: 1 */
	q_ok("0e1000000", 0);
	q_ok("1.5Gi", 1610612736LL);
	q_ok("0.5Ki", 512);
	q_ok("0.1Ki", 103);                        /* 102.4 rounds up */
	q_ok(".5Mi", 524288);
	q_ok("5.", 5);
	q_ok("1.5", 2);
	q_ok("100m", 1);                           /* 0.1 rounds up, as Quantity.Value() */
	q_ok("1000m", 1);
	q_ok("1500m", 2);
	q_ok("0m", 0);
	q_ok("+10Mi", 10485760);
	q_ok("-1Ki", -1024);
	q_ok("-1.5", -2);                          /* away from zero, as Value() */
	q_ok("007Gi", 7516192768LL);
	q_ok("1.000000000000000000000000001", 2);  /* a fraction far past double precision */
	q_ok("0.000000000000000000000000000001Ei", 1);
	q_ok("9223372036854775807", INT64_MAX);
	q_ok("-9223372036854775808", INT64_MIN);
	q_ok("9223372036854775.807k", INT64_MAX);
	q_ok("-8Ei", INT64_MIN);
}

static void test_quantity_errors(void)
{
	q_bad("", -EINVAL);
	q_bad("Gi", -EINVAL);
	q_bad(".", -EINVAL);
	q_bad("+", -EINVAL);
	q_bad("1 Gi", -EINVAL);
	q_bad(" 1", -EINVAL);
	q_bad("1gi", -EINVAL);
	q_bad("1KiB", -EINVAL);
	q_bad("1K", -EINVAL);                      /* decimal kilo is lower-case k */
	q_bad("1e", -EINVAL);
	q_bad("1e3Ki", -EINVAL);
	q_bad("1e1.5", -EINVAL);
	q_bad("1.2.3", -EINVAL);
	q_bad("0x10", -EINVAL);
	q_bad("--1", -EINVAL);
	q_bad("9223372036854775808", -ERANGE);
	q_bad("-9223372036854775809", -ERANGE);
	q_bad("8Ei", -ERANGE);
	q_bad("10E", -ERANGE);
	q_bad("1e19", -ERANGE);
	q_bad("1e100000000000000000000", -ERANGE);
	q_bad("100000000000000000000000000000Ki", -ERANGE);
	q_bad("9223372036854775807.5", -ERANGE);   /* rounds up past INT64_MAX */
	{
		char big[1100];

		memset(big, '1', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		q_bad(big, -EINVAL);               /* longer than the 1024-byte bound */
	}
}

/* ---------- files ---------- */

static void put(const char *name, const char *content, char *path, size_t n)
{
	FILE *f;

	snprintf(path, n, "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	if (f) {
		fputs(content, f);
		fclose(f);
	}
}

static char *slurp_b64(const char *path)
{
	static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	struct infra_buf in = INFRA_BUF_INIT, out = INFRA_BUF_INIT;
	size_t i;

	if (infra_file_read_at(AT_FDCWD, path, 0, 1 << 20, &in, NULL) < 0)
		return strdup("");
	for (i = 0; i + 2 < in.len; i += 3) {
		unsigned v = ((unsigned char)in.data[i] << 16) | ((unsigned char)in.data[i + 1] << 8) | (unsigned char)in.data[i + 2];
		char q[4] = { tbl[v >> 18], tbl[(v >> 12) & 63], tbl[(v >> 6) & 63], tbl[v & 63] };

		infra_buf_append(&out, q, 4);
	}
	if (in.len - i == 1) {
		unsigned v = (unsigned char)in.data[i] << 16;
		char q[4] = { tbl[v >> 18], tbl[(v >> 12) & 63], '=', '=' };

		infra_buf_append(&out, q, 4);
	} else if (in.len - i == 2) {
		unsigned v = ((unsigned char)in.data[i] << 16) | ((unsigned char)in.data[i + 1] << 8);
		char q[4] = { tbl[v >> 18], tbl[(v >> 12) & 63], tbl[(v >> 6) & 63], '=' };

		infra_buf_append(&out, q, 4);
	}
	infra_buf_release(&in);
	if (!out.data)
		return strdup("");
	return infra_buf_steal(&out, NULL);
}

/* A kubeconfig with one context "c" -> cluster "k" (cluster_yaml) and user "u" (user_yaml). */
static void kubeconfig(const char *name, const char *cluster_yaml, const char *user_yaml, char *path, size_t n)
{
	struct infra_buf b = INFRA_BUF_INIT;

	infra_buf_printf(&b,
			 "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
			 "contexts:\n- name: other\n  context: {cluster: nope, user: nope}\n"
			 "- name: c\n  context:\n    cluster: k\n    user: u\n"
			 "clusters:\n- name: k\n  cluster:\n%s"
			 "users:\n- name: u\n  user:\n%s",
			 cluster_yaml, user_yaml);
	put(name, b.data, path, n);
	infra_buf_release(&b);
}

static void clear_env(void)
{
	unsetenv("KUBECONFIG");
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	unsetenv("INFRA_KUBE_SA_DIR");
	setenv("HOME", tmpdir, 1); /* no ~/.kube/config unless a test writes one */
}

static int open_k(struct infra_kube **k, const struct infra_kube_opts *o, struct infra_err *err)
{
	infra_err_clear(err);
	*k = NULL;
	return infra_kube_open(k, o, err);
}

static int open_list(const struct infra_kube_opts *o, const char *path, struct infra_kube **k, json_object **items,
		     struct infra_err *err)
{
	int rc = open_k(k, o, err);

	if (rc == 0)
		rc = infra_kube_list(*k, path, items, err);
	return rc;
}

static void close_list(struct infra_kube *k, json_object **items)
{
	infra_kube_close(k);
	json_object_put(*items);
	*items = NULL;
}

static void expect_refused(const char *what, const char *cluster, const char *user, const char *needle)
{
	char p[PATH_MAX];
	struct infra_kube_opts o = { 0 };
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_kube *k;
	int rc;

	kubeconfig("refused.yaml", cluster, user, p, sizeof(p));
	o.kubeconfig = p;
	rc = open_k(&k, &o, &err);
	tap_ok(rc == -EINVAL && strstr(err.msg, needle) != NULL, "%s refused: rc %d, '%s'", what, rc, err.msg);
	infra_kube_close(k);
}

static void test_kubeconfig_refusals(void)
{
	const char *srv = "    server: https://127.0.0.1:1\n";
	char cfg[PATH_MAX], p[PATH_MAX];
	struct infra_kube_opts o = { 0 };
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_kube *k;
	int rc;

	clear_env();
	expect_refused("exec plugin", srv,
		       "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: aws\n      args: [eks, get-token]\n",
		       "uses an exec plugin (aws), which is not supported");
	expect_refused("auth-provider", srv, "    auth-provider:\n      name: oidc\n      config: {}\n",
		       "auth-provider 'oidc', which is not supported");
	expect_refused("basic auth", srv, "    username: admin\n    password: hunter2\n", "basic auth");
	expect_refused("cluster without server", "    insecure-skip-tls-verify: true\n", "    token: t\n", "has no server");
	expect_refused("certificate-authority-data not base64",
		       "    server: https://127.0.0.1:1\n    certificate-authority-data: '%%%not-base64'\n", "    token: t\n",
		       "certificate-authority-data is not valid base64");
	expect_refused("missing certificate-authority file",
		       "    server: https://127.0.0.1:1\n    certificate-authority: /nonexistent/ca.pem\n", "    token: t\n",
		       "cannot read '/nonexistent/ca.pem'");
	expect_refused("tls-server-name", "    server: https://127.0.0.1:1\n    tls-server-name: api.example\n", "    token: t\n",
		       "tls-server-name");
	expect_refused("certificate without key", srv, "    client-certificate-data: QUJD\n",
		       "client certificate without a key");
	expect_refused("token over plain http to a remote host", "    server: http://192.0.2.1:8080\n", "    token: t\n",
		       "refusing to send a bearer token over plain http");

	/* context errors */
	put("nocur.yaml", "apiVersion: v1\nclusters: []\n", cfg, sizeof(cfg));
	o.kubeconfig = cfg;
	rc = open_k(&k, &o, &err);
	tap_ok(rc == -EINVAL && strstr(err.msg, "no current-context"), "no current-context: '%s'", err.msg);
	kubeconfig("ctx.yaml", srv, "    token: t\n", cfg, sizeof(cfg));
	o.kubeconfig = cfg;
	o.context = "missing";
	rc = open_k(&k, &o, &err);
	tap_ok(rc == -EINVAL && strstr(err.msg, "context 'missing' not found"), "unknown --context: '%s'", err.msg);
	o.context = "other";
	rc = open_k(&k, &o, &err);
	tap_ok(rc == -EINVAL && strstr(err.msg, "cluster 'nope'"), "context naming a missing cluster: '%s'", err.msg);
	o.context = NULL;
	put("notyaml.yaml", "a: [unclosed\n", p, sizeof(p));
	o.kubeconfig = p;
	rc = open_k(&k, &o, &err);
	tap_ok(rc == -EINVAL && strstr(err.msg, "kubeconfig") && strstr(err.msg, "notyaml.yaml"), "malformed YAML: '%s'", err.msg);
	o.kubeconfig = "/nonexistent/kubeconfig";
	rc = open_k(&k, &o, &err);
	tap_ok(rc == -EINVAL && strstr(err.msg, "/nonexistent/kubeconfig"), "missing --kubeconfig file: '%s'", err.msg);
	/* no secret in any message */
	kubeconfig("secret.yaml", "    server: http://192.0.2.1\n", "    token: s3cr3t-t0ken\n", cfg, sizeof(cfg));
	o.kubeconfig = cfg;
	rc = open_k(&k, &o, &err);
	tap_ok(rc < 0 && !strstr(err.msg, "s3cr3t"), "the token is not in the message: '%s'", err.msg);
}

static void test_resolution_order(void)
{
	char kc[PATH_MAX], kc2[1200], tok[PATH_MAX], sa[PATH_MAX], p[PATH_MAX];
	struct infra_kube_opts o = { 0 };
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_kube *k;
	int rc;

	clear_env();
	rc = open_k(&k, &o, &err);
	tap_ok(rc == -ENOENT && strstr(err.msg, "no Kubernetes API configured"), "no source at all: -ENOENT '%s'", err.msg);

	/* in-cluster (service account dir overridden) */
	snprintf(sa, sizeof(sa), "%s/sa", tmpdir);
	mkdir(sa, 0700);
	put("sa/token", "sa-token-1\n", tok, sizeof(tok));
	put("sa/ca.crt", "not used before a request\n", p, sizeof(p));
	setenv("INFRA_KUBE_SA_DIR", sa, 1);
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	rc = open_k(&k, &o, &err);
	tap_ok(rc == 0 && strcmp(infra_kube_auth_source(k), "in-cluster") == 0 &&
	       strcmp(infra_kube_server(k), "https://10.96.0.1:443") == 0,
	       "in-cluster: %s at %s (%s)", k ? infra_kube_auth_source(k) : "-", k ? infra_kube_server(k) : "-", err.msg);
	infra_kube_close(k);
	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	rc = open_k(&k, &o, &err);
	tap_ok(rc == 0 && strcmp(infra_kube_server(k), "https://[fd00::1]:443") == 0, "in-cluster IPv6 host bracketed: %s",
	       k ? infra_kube_server(k) : err.msg);
	infra_kube_close(k);
	put("sa/token", "", tok, sizeof(tok));
	rc = open_k(&k, &o, &err);
	tap_ok(rc == -EINVAL && strstr(err.msg, "is empty"), "in-cluster empty token refused: '%s'", err.msg);
	unlink(tok);
	rc = open_k(&k, &o, &err);
	tap_ok(rc == -EINVAL && strstr(err.msg, "in-cluster service account") && strstr(err.msg, "token"),
	       "in-cluster without a token file: '%s'", err.msg);
	put("sa/token", "sa-token-1\n", tok, sizeof(tok));

	/* ~/.kube/config beats in-cluster */
	snprintf(p, sizeof(p), "%s/.kube", tmpdir);
	mkdir(p, 0700);
	kubeconfig(".kube/config", "    server: https://home.example:6443/\n", "    token: t\n", kc, sizeof(kc));
	rc = open_k(&k, &o, &err);
	tap_ok(rc == 0 && strstr(infra_kube_auth_source(k), "kubeconfig:") && strstr(infra_kube_auth_source(k), ".kube/config") &&
	       strcmp(infra_kube_server(k), "https://home.example:6443") == 0,
	       "~/.kube/config before in-cluster: %s %s", k ? infra_kube_auth_source(k) : err.msg, k ? infra_kube_server(k) : "");
	infra_kube_close(k);

	/* $KUBECONFIG (first entry of a colon list) beats ~/.kube/config */
	kubeconfig("env.yaml", "    server: https://env.example:6443\n", "    token: t\n", kc2, sizeof(kc2));
	snprintf(p, sizeof(p), "%s:%s/does-not-exist.yaml", kc2, tmpdir);
	setenv("KUBECONFIG", p, 1);
	rc = open_k(&k, &o, &err);
	tap_ok(rc == 0 && strcmp(infra_kube_server(k), "https://env.example:6443") == 0 &&
	       strstr(infra_kube_auth_source(k), "env.yaml"),
	       "$KUBECONFIG first entry before ~/.kube/config: %s", k ? infra_kube_server(k) : err.msg);
	infra_kube_close(k);
	snprintf(p, sizeof(p), "%s/does-not-exist.yaml:%s", tmpdir, kc2);
	setenv("KUBECONFIG", p, 1);
	rc = open_k(&k, &o, &err);
	tap_ok(rc == 0 && strcmp(infra_kube_server(k), "https://env.example:6443") == 0,
	       "$KUBECONFIG: a file of the list that does not exist is skipped, as kubectl does (%s)",
	       k ? infra_kube_server(k) : err.msg);
	infra_kube_close(k);
	snprintf(p, sizeof(p), "%s/does-not-exist.yaml:%s/nor-this.yaml", tmpdir, tmpdir);
	setenv("KUBECONFIG", p, 1);
	rc = open_k(&k, &o, &err);
	tap_ok(rc == -EINVAL && strstr(err.msg, "none of its files exists"), "$KUBECONFIG: none of the files exists: '%s'",
	       err.msg);
	setenv("KUBECONFIG", kc2, 1);

	/* --kubeconfig beats $KUBECONFIG */
	o.kubeconfig = kc;
	rc = open_k(&k, &o, &err);
	tap_ok(rc == 0 && strcmp(infra_kube_server(k), "https://home.example:6443") == 0, "--kubeconfig before $KUBECONFIG");
	infra_kube_close(k);

	/* flags beat everything */
	o.api_url = "https://flags.example:443";
	rc = open_k(&k, &o, &err);
	tap_ok(rc == 0 && strcmp(infra_kube_auth_source(k), "flags") == 0 &&
	       strcmp(infra_kube_server(k), "https://flags.example:443") == 0, "--kube-api before any kubeconfig");
	infra_kube_close(k);
	o.api_url = "ftp://x";
	rc = open_k(&k, &o, &err);
	tap_ok(rc == -EINVAL && strstr(err.msg, "not an http(s) URL"), "--kube-api must be http(s): '%s'", err.msg);
	o.api_url = "https://flags.example";
	o.token_file = "/nonexistent/token";
	rc = open_k(&k, &o, &err);
	tap_ok(rc == -EINVAL && strstr(err.msg, "--kube-token-file") && strstr(err.msg, "/nonexistent/token"),
	       "missing --kube-token-file: '%s'", err.msg);
	put("twolines", "a\nb\n", p, sizeof(p));
	o.token_file = p;
	rc = open_k(&k, &o, &err);
	tap_ok(rc == -EINVAL && strstr(err.msg, "control character"), "a token file with two lines is refused: '%s'", err.msg);
	o.token_file = NULL;
	o.ca_file = "/nonexistent/ca";
	rc = open_k(&k, &o, &err);
	tap_ok(rc == -EINVAL && strstr(err.msg, "--kube-ca"), "missing --kube-ca: '%s'", err.msg);
	unlink(kc); /* the later tests have no ~/.kube/config */
	clear_env();
}

/* ---------- against the simulator ---------- */

static int start_sim(const char *extra1, const char *extra2, const char *extra3)
{
	char script[PATH_MAX], world[PATH_MAX], tls[PATH_MAX], line[512];
	const char *src = getenv("INFRA_SRCDIR");
	const char *argv[20];
	int fds[2], n = 0;
	size_t len = 0;
	double deadline;

	if (sim_pid > 0) {
		kill(sim_pid, SIGTERM);
		waitpid(sim_pid, NULL, 0);
		sim_pid = -1;
	}
	snprintf(script, sizeof(script), "%s/tests/sim/kube.py", src && *src ? src : ".");
	snprintf(world, sizeof(world), "%s/tests/sim/nas-world-min.json", src && *src ? src : ".");
	snprintf(tls, sizeof(tls), "%s/tls", tmpdir);
	argv[n++] = "python3";
	argv[n++] = script;
	argv[n++] = "--world";
	argv[n++] = world;
	argv[n++] = "--tls-dir";
	argv[n++] = tls;
	argv[n++] = "--max-seconds";
	argv[n++] = "120";
	argv[n++] = "--token";
	argv[n++] = "good-token";
	if (extra1)
		argv[n++] = extra1;
	if (extra2)
		argv[n++] = extra2;
	if (extra3)
		argv[n++] = extra3;
	argv[n] = NULL;
	if (pipe(fds) < 0)
		return -1;
	sim_pid = fork();
	if (sim_pid < 0)
		return -1;
	if (sim_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execvp("python3", (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	deadline = (double)time(NULL) + 30;
	while (len < sizeof(line) - 1 && !memchr(line, '\n', len)) {
		struct pollfd pf = { fds[0], POLLIN, 0 };
		ssize_t r;

		if ((double)time(NULL) > deadline || poll(&pf, 1, 1000) < 0)
			break;
		if (!(pf.revents & (POLLIN | POLLHUP)))
			continue;
		r = read(fds[0], line + len, sizeof(line) - 1 - len);
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(fds[0]);
	line[len] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	if (strncmp(line, "READY ", 6) != 0) {
		tap_diag("kube.py did not start: [%s]", line);
		return -1;
	}
	snprintf(sim_url, sizeof(sim_url), "%s", line + 6);
	return 0;
}

static void tls_path(const char *name, char *out, size_t n)
{
	snprintf(out, n, "%s/tls/%s", tmpdir, name);
}

static struct infra_http_opts fast_http = { .max_attempts = 2, .backoff_base_ms = 20, .timeout_ms = 10000 };

/* open with flags (token file + CA); list path; return rc, count, pages, restarts */
static int flag_list(const char *token, const char *path, long limit, int *count, struct infra_kube **kk,
		     struct infra_err *err)
{
	char ca[PATH_MAX], tok[PATH_MAX];
	struct infra_kube_opts o = { 0 };
	json_object *items = NULL;
	int rc;

	tls_path("ca.pem", ca, sizeof(ca));
	put("flag-token", token, tok, sizeof(tok));
	o.api_url = sim_url;
	o.token_file = tok;
	o.ca_file = ca;
	o.page_limit = limit;
	o.http = &fast_http;
	*count = -1;
	rc = open_k(kk, &o, err);
	if (rc < 0)
		return rc;
	rc = infra_kube_list(*kk, path, &items, err);
	if (rc == 0)
		*count = (int)json_object_array_length(items);
	json_object_put(items);
	return rc;
}

static void sim_post(const char *path, const char *json)
{
	char ca[PATH_MAX], url[1024];
	struct infra_http_opts ho = { 0 };
	struct infra_http *h;
	struct infra_http_req req = { 0 };
	struct infra_http_resp resp = { 0 };
	const char *hdrs[] = { "Content-Type: application/json", NULL };

	tls_path("ca.pem", ca, sizeof(ca));
	ho.cacert = ca;
	h = infra_http_new(&ho, NULL);
	snprintf(url, sizeof(url), "%s%s", sim_url, path);
	req.method = "POST";
	req.url = url;
	req.headers = hdrs;
	req.body = json;
	req.body_len = strlen(json);
	if (h && infra_http_do(h, &req, &resp, NULL) == 0)
		infra_http_resp_release(&resp);
	infra_http_free(h);
}

static void test_lists(void)
{
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_kube *k = NULL;
	int rc, count;

	clear_env();
	if (start_sim("--deny", "volumeattachments", NULL) < 0) {
		tap_ok(0, "kube.py started");
		return;
	}
	rc = flag_list("good-token\n", "/api/v1/persistentvolumes", 0, &count, &k, &err);
	tap_ok(rc == 0 && count == 3 && infra_kube_last_pages(k) == 1, "flags + token file + --kube-ca: 3 PVs in 1 page (rc %d %s)",
	       rc, err.msg);
	infra_kube_close(k);
	rc = flag_list("good-token", "/api/v1/pods", 1, &count, &k, &err);
	tap_ok(rc == 0 && count == 4 && infra_kube_last_pages(k) == 4 && infra_kube_last_restarts(k) == 0,
	       "limit 1: 4 pods over 4 pages with continue (pages %d, rc %d %s)", k ? infra_kube_last_pages(k) : -1, rc, err.msg);
	infra_kube_close(k);
	rc = flag_list("good-token", "/api/v1/namespaces/democratic-csi/pods?labelSelector=app.kubernetes.io%2Fcsi-role%3Dnode",
		       1, &count, &k, &err);
	tap_ok(rc == 0 && count == 2 && infra_kube_last_pages(k) == 2, "a path with a query gets &limit and &continue (%d items)", count);
	infra_kube_close(k);

	/* 410 once: the list restarts and still returns every item exactly once */
	sim_post("/_sim/fault", "{\"path\": \"persistentvolumes\", \"kind\": \"expire\", \"count\": 1}");
	rc = flag_list("good-token", "/api/v1/persistentvolumes", 1, &count, &k, &err);
	tap_ok(rc == 0 && count == 3 && infra_kube_last_restarts(k) == 1 && infra_kube_last_pages(k) == 5,
	       "410 on a continue restarts the list: 3 items, 1 restart, 5 pages (got %d, %d, %d: %s)", count,
	       k ? infra_kube_last_restarts(k) : -1, k ? infra_kube_last_pages(k) : -1, err.msg);
	infra_kube_close(k);
	/* 410 forever: bounded */
	sim_post("/_sim/fault", "{\"path\": \"nodes\", \"kind\": \"expire\", \"count\": -1}");
	rc = flag_list("good-token", "/api/v1/nodes", 1, &count, &k, &err);
	tap_ok(rc == -ESTALE && infra_kube_last_restarts(k) == INFRA_KUBE_MAX_RESTARTS && strstr(err.msg, "410 Gone"),
	       "410 every time: -ESTALE after %d restarts: '%s'", INFRA_KUBE_MAX_RESTARTS, err.msg);
	infra_kube_close(k);
	/* a world change between pages: the sim expires older tokens (real etcd compaction) */
	rc = flag_list("good-token", "/api/v1/persistentvolumeclaims", 0, &count, &k, &err);
	tap_ok(rc == 0 && count == 2, "2 PVCs");
	infra_kube_close(k);

	rc = flag_list("good-token", "/apis/snapshot.storage.k8s.io/v1/volumesnapshots", 0, &count, &k, &err);
	tap_ok(rc == 0 && count == 1, "snapshot CRD installed: 1 VolumeSnapshot");
	infra_kube_close(k);
	rc = flag_list("good-token", "/apis/groupsnapshot.storage.k8s.io/v1beta1/volumegroupsnapshots", 0, &count, &k, &err);
	tap_ok(rc == -ENOENT && strstr(err.msg, "404") && strstr(err.msg, "not installed"), "CRD absent: -ENOENT '%s'", err.msg);
	infra_kube_close(k);
	rc = flag_list("good-token", "/apis/storage.k8s.io/v1/volumeattachments", 0, &count, &k, &err);
	tap_ok(rc == -EACCES && strstr(err.msg, "403") && strstr(err.msg, "volumeattachments") &&
	       strstr(err.msg, "storage.k8s.io") && strstr(err.msg, "list"), "RBAC 403: -EACCES naming the resource: '%s'", err.msg);
	infra_kube_close(k);
	rc = flag_list("wrong-token", "/api/v1/nodes", 0, &count, &k, &err);
	tap_ok(rc == -EACCES && strstr(err.msg, "401") && !strstr(err.msg, "wrong-token"), "bad token: 401 -> -EACCES without the token: '%s'",
	       err.msg);
	infra_kube_close(k);
	sim_post("/_sim/fault", "{\"path\": \"csidrivers\", \"kind\": \"garbage\", \"count\": 1}");
	rc = flag_list("good-token", "/apis/storage.k8s.io/v1/csidrivers", 0, &count, &k, &err);
	tap_ok(rc == -EPROTO && strstr(err.msg, "malformed JSON"), "malformed JSON: -EPROTO '%s'", err.msg);
	infra_kube_close(k);
	sim_post("/_sim/fault", "{\"path\": \"csinodes\", \"kind\": \"500\", \"count\": 1}");
	rc = flag_list("good-token", "/apis/storage.k8s.io/v1/csinodes", 0, &count, &k, &err);
	tap_ok(rc == 0 && count == 2, "one 500 is retried by infra_http (rc %d %s)", rc, err.msg);
	infra_kube_close(k);
	sim_post("/_sim/fault", "{\"path\": \"storageclasses\", \"kind\": \"500\", \"count\": -1}");
	rc = flag_list("good-token", "/apis/storage.k8s.io/v1/storageclasses", 0, &count, &k, &err);
	tap_ok(rc == -EIO && strstr(err.msg, "HTTP 500"), "a lasting 500: -EIO '%s'", err.msg);
	infra_kube_close(k);
}

static void test_tls_and_kubeconfig(void)
{
	char ca[PATH_MAX], oca[PATH_MAX], cert[PATH_MAX], key[PATH_MAX], kc[PATH_MAX], tok[PATH_MAX], sa[PATH_MAX], p[PATH_MAX];
	char cl[8192], us[16384];
	char *ca64, *oca64, *cert64, *key64;
	struct infra_kube_opts o = { 0 };
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_kube *k = NULL;
	json_object *items = NULL;
	int rc;

	clear_env();
	tls_path("ca.pem", ca, sizeof(ca));
	tls_path("other-ca.pem", oca, sizeof(oca));
	tls_path("client.pem", cert, sizeof(cert));
	tls_path("client.key", key, sizeof(key));
	ca64 = slurp_b64(ca);
	oca64 = slurp_b64(oca);
	cert64 = slurp_b64(cert);
	key64 = slurp_b64(key);
	o.http = &fast_http;

	/* wrong CA (flags) */
	put("tok", "good-token", tok, sizeof(tok));
	o.api_url = sim_url;
	o.token_file = tok;
	o.ca_file = oca;
	rc = open_list(&o, "/api/v1/nodes", &k, &items, &err);
	tap_ok(rc == -EPROTO && strstr(err.msg, "certificate"), "a server certificate of another CA is refused: '%s'", err.msg);
	close_list(k, &items);
	/* no CA at all: the system bundle does not know the test CA */
	o.ca_file = NULL;
	rc = open_list(&o, "/api/v1/nodes", &k, &items, &err);
	tap_ok(rc == -EPROTO, "no --kube-ca: the system bundle refuses the test CA: '%s'", err.msg);
	infra_kube_close(k);
	memset(&o, 0, sizeof(o));
	o.http = &fast_http;

	/* kubeconfig: CA and client certificate as files (relative paths: to the kubeconfig's dir) */
	snprintf(cl, sizeof(cl), "    server: %s\n    certificate-authority: tls/ca.pem\n", sim_url);
	snprintf(us, sizeof(us), "    client-certificate: tls/client.pem\n    client-key: %s\n", key);
	kubeconfig("kc-files.yaml", cl, us, kc, sizeof(kc));
	o.kubeconfig = kc;
	rc = open_list(&o, "/api/v1/nodes", &k, &items, &err);
	tap_ok(rc == 0 && json_object_array_length(items) == 2, "kubeconfig with CA and client certificate files: client-cert auth (%s)",
	       err.msg);
	close_list(k, &items);

	/* kubeconfig: everything as -data */
	snprintf(cl, sizeof(cl), "    server: %s\n    certificate-authority-data: %s\n", sim_url, ca64);
	snprintf(us, sizeof(us), "    client-certificate-data: %s\n    client-key-data: %s\n", cert64, key64);
	kubeconfig("kc-data.yaml", cl, us, kc, sizeof(kc));
	o.kubeconfig = kc;
	rc = open_list(&o, "/apis/storage.k8s.io/v1/csinodes", &k, &items, &err);
	tap_ok(rc == 0 && json_object_array_length(items) == 2, "kubeconfig with certificate-authority-data and client -data (%s)", err.msg);
	close_list(k, &items);
	/* -data CA of another CA: refused, even though the system bundle is there too */
	snprintf(cl, sizeof(cl), "    server: %s\n    certificate-authority-data: %s\n", sim_url, oca64);
	kubeconfig("kc-wrongca.yaml", cl, us, kc, sizeof(kc));
	o.kubeconfig = kc;
	rc = open_list(&o, "/api/v1/nodes", &k, &items, &err);
	tap_ok(rc == -EPROTO, "certificate-authority-data of another CA is refused: '%s'", err.msg);
	infra_kube_close(k);
	/* ... unless insecure-skip-tls-verify */
	snprintf(cl, sizeof(cl), "    server: %s\n    insecure-skip-tls-verify: true\n", sim_url);
	kubeconfig("kc-insecure.yaml", cl, "    token: good-token\n", kc, sizeof(kc));
	o.kubeconfig = kc;
	rc = open_list(&o, "/api/v1/nodes", &k, &items, &err);
	tap_ok(rc == 0, "insecure-skip-tls-verify with a token (%s)", err.msg);
	close_list(k, &items);
	/* tokenFile relative to the kubeconfig, and --kube-token-file overriding it */
	snprintf(cl, sizeof(cl), "    server: %s\n    certificate-authority: %s\n", sim_url, ca);
	put("kc-token", "good-token\n", p, sizeof(p));
	kubeconfig("kc-tokenfile.yaml", cl, "    tokenFile: kc-token\n", kc, sizeof(kc));
	setenv("KUBECONFIG", kc, 1);
	o.kubeconfig = NULL;
	rc = open_list(&o, "/api/v1/nodes", &k, &items, &err);
	tap_ok(rc == 0 && strstr(infra_kube_auth_source(k), "kc-tokenfile.yaml"), "$KUBECONFIG with tokenFile (%s)", err.msg);
	close_list(k, &items);
	put("bad-token", "wrong-token\n", p, sizeof(p));
	o.token_file = p;
	rc = open_list(&o, "/api/v1/nodes", &k, &items, &err);
	tap_ok(rc == -EACCES, "--kube-token-file overrides the kubeconfig's token (a bad one: 401): '%s'", err.msg);
	infra_kube_close(k);
	o.token_file = NULL;

	/* $KUBECONFIG as a colon list, merged as kubectl does: current-context from the first
	 * file that sets it, the first file wins for a name, relative paths are relative to the
	 * file an entry comes from */
	{
		char d2[PATH_MAX], a[PATH_MAX], b2[PATH_MAX], txt[16384];

		snprintf(d2, sizeof(d2), "%s/other-dir", tmpdir);
		mkdir(d2, 0700);
		put("other-dir/tok", "good-token\n", p, sizeof(p));
		snprintf(txt, sizeof(txt),
			 "apiVersion: v1\nkind: Config\ncurrent-context: merged\n"
			 "contexts:\n- name: merged\n  context: {cluster: k, user: u2}\n"
			 "clusters:\n- name: k\n  cluster:\n    server: %s\n    certificate-authority: %s\n",
			 sim_url, ca);
		put("merge-a.yaml", txt, a, sizeof(a));
		snprintf(txt, sizeof(txt),
			 "apiVersion: v1\nkind: Config\ncurrent-context: not-this-one\n"
			 "clusters:\n- name: k\n  cluster:\n    server: https://loser.example:6443\n"
			 "users:\n- name: u2\n  user:\n    tokenFile: tok\n");
		put("other-dir/merge-b.yaml", txt, b2, sizeof(b2));
		snprintf(txt, sizeof(txt), "%s:%s", a, b2);
		setenv("KUBECONFIG", txt, 1);
		rc = open_list(&o, "/api/v1/nodes", &k, &items, &err);
		tap_ok(rc == 0 && strcmp(infra_kube_server(k), sim_url) == 0,
		       "$KUBECONFIG a:b merged: context of a, user and its relative tokenFile of b, cluster of a wins (%s)",
		       k ? infra_kube_server(k) : err.msg);
		close_list(k, &items);
	}
	/* proxy-url is used (a proxy that cannot be resolved fails the request, said so) */
	snprintf(cl, sizeof(cl), "    server: %s\n    certificate-authority: %s\n    proxy-url: http://no-such-proxy.invalid:3128\n",
		 sim_url, ca);
	kubeconfig("kc-proxy.yaml", cl, "    token: good-token\n", kc, sizeof(kc));
	setenv("KUBECONFIG", kc, 1);
	rc = open_list(&o, "/api/v1/nodes", &k, &items, &err);
	tap_ok(rc != 0 && strstr(err.msg, "proxy"), "kubeconfig proxy-url is used, not ignored: '%s'", err.msg);
	close_list(k, &items);
	snprintf(cl, sizeof(cl), "    server: %s\n    proxy-url: ftp://proxy.example\n", sim_url);
	kubeconfig("kc-proxy2.yaml", cl, "    token: good-token\n", kc, sizeof(kc));
	setenv("KUBECONFIG", kc, 1);
	rc = open_k(&k, &o, &err);
	tap_ok(rc == -EINVAL && strstr(err.msg, "proxy-url"), "a proxy-url that is not http/https/socks5 is refused: '%s'", err.msg);
	infra_kube_close(k);
	unsetenv("KUBECONFIG");

	/* in-cluster against the simulator; the token is re-read at every open */
	snprintf(sa, sizeof(sa), "%s/sa2", tmpdir);
	mkdir(sa, 0700);
	put("sa2/token", "good-token\n", tok, sizeof(tok));
	{
		struct infra_buf b = INFRA_BUF_INIT;

		infra_file_read_at(AT_FDCWD, ca, 0, 1 << 20, &b, NULL);
		put("sa2/ca.crt", b.data ? b.data : "", p, sizeof(p));
		infra_buf_release(&b);
	}
	setenv("INFRA_KUBE_SA_DIR", sa, 1);
	setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", strrchr(sim_url, ':') + 1, 1);
	rc = open_list(&o, "/api/v1/nodes", &k, &items, &err);
	tap_ok(rc == 0 && strcmp(infra_kube_auth_source(k), "in-cluster") == 0, "in-cluster service account token and ca.crt (%s)",
	       err.msg);
	close_list(k, &items);
	put("sa2/token", "rotated-but-unknown\n", tok, sizeof(tok));
	rc = open_list(&o, "/api/v1/nodes", &k, &items, &err);
	tap_ok(rc == -EACCES, "in-cluster token re-read on the next open (the rotated one is sent): '%s'", err.msg);
	infra_kube_close(k);
	clear_env();
	free(ca64);
	free(oca64);
	free(cert64);
	free(key64);
}

int main(void)
{
	const char *t = getenv("INFRA_TMP");

	snprintf(tmpdir, sizeof(tmpdir), "%s/test_kube.XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(tmpdir)) {
		tap_ok(0, "mkdtemp");
		return tap_done();
	}
	if (infra_http_global_init(NULL) < 0)
		tap_ok(0, "curl global init");
	test_quantities();
	test_quantity_errors();
	test_kubeconfig_refusals();
	test_resolution_order();
	test_lists();
	test_tls_and_kubeconfig();
	if (sim_pid > 0) {
		kill(sim_pid, SIGTERM);
		waitpid(sim_pid, NULL, 0);
	}
	if (!t || !*t) {
		char cmd[PATH_MAX + 16];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			tap_diag("could not remove %s", tmpdir);
	}
	return tap_done();
}
