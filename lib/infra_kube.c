/* infra_kube.c - read-only Kubernetes API client.  See infra_kube.h for the contract.
 *
 * infra_kube_open() resolves one credential set (struct kube_creds: server, token,
 * CA / client certificate as files or PEM blobs, insecure) from the first source
 * that names a server, applies the --kube-* overrides, and builds one struct
 * infra_http with the merged TLS options.  infra_kube_list() walks the pages.
 */
#include "infra_kube.h"
#include "infra_buf.h"
#include "infra_file.h"
#include "infra_json.h"
#include "infra_yaml.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KUBE_TOKEN_MAX ((size_t)64 << 10)    /* a token file larger than this is refused */
#define KUBE_PEM_MAX ((size_t)1 << 20)       /* a CA bundle / certificate in -data */
#define KUBE_QUANTITY_MAX_LEN 1024           /* longer quantity strings are refused */
#define KUBE_URL_MAX 8192

struct infra_kube {
	struct infra_http *http;
	char *server;        /* no trailing '/' */
	char *source;        /* "flags", "kubeconfig:PATH", "in-cluster" */
	char *auth_header;   /* "Authorization: Bearer ..." or NULL */
	long page_limit;
	int last_pages, last_restarts;
};

/* What one source gives; strings and blobs malloc'd. */
struct kube_creds {
	char *server, *source, *token;
	char *ca_file, *cert_file, *key_file;
	char *ca_pem, *cert_pem, *key_pem;   /* decoded -data */
	size_t ca_len, cert_len, key_len;
	int insecure;
	char *proxy;                         /* the cluster's proxy-url */
};

static void wipe_free(char *p, size_t len)
{
	if (p) {
		explicit_bzero(p, len);
		free(p);
	}
}

static void creds_free(struct kube_creds *c)
{
	free(c->server);
	free(c->source);
	wipe_free(c->token, c->token ? strlen(c->token) : 0);
	free(c->ca_file);
	free(c->cert_file);
	free(c->key_file);
	free(c->proxy);
	wipe_free(c->ca_pem, c->ca_len);
	wipe_free(c->cert_pem, c->cert_len);
	wipe_free(c->key_pem, c->key_len);
	memset(c, 0, sizeof(*c));
}

static int set_str(char **dst, const char *s, struct infra_err *err)
{
	char *d = s ? strdup(s) : NULL;

	if (s && !d)
		return infra_err_set(err, -ENOMEM, "kube: out of memory");
	free(*dst);
	*dst = d;
	return 0;
}

/* ---------- small parsers ---------- */

static int b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

/* Decode standard (or URL-safe) base64, whitespace ignored, padding optional.
 * *out is malloc'd and NUL-terminated (not counted in *outlen). */
static int b64_decode(const char *s, char **out, size_t *outlen)
{
	size_t n = strlen(s), o = 0;
	unsigned acc = 0;
	int bits = 0, pad = 0;
	char *d = malloc(n / 4 * 3 + 4);

	if (!d)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i], v;

		if (isspace(c))
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		if (pad || (v = b64val(c)) < 0) {
			free(d);
			return -EINVAL;
		}
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			d[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	if (bits >= 6 || pad > 2) { /* a lone trailing sextet cannot be a byte */
		free(d);
		return -EINVAL;
	}
	d[o] = '\0';
	*out = d;
	*outlen = o;
	return 0;
}

/* Read a token file: trailing whitespace dropped; empty or containing a
 * control character (it goes into a header line) refused. */
static int read_token(const char *path, const char *what, char **out, struct infra_err *err)
{
	struct infra_buf b = INFRA_BUF_INIT;
	int rc = infra_file_read_at(AT_FDCWD, path, 0, KUBE_TOKEN_MAX, &b, err);

	if (rc < 0) {
		infra_err_prefix(err, "%s", what);
		infra_buf_release(&b);
		return rc == -ENOMEM ? rc : -EINVAL;
	}
	while (b.len && isspace((unsigned char)b.data[b.len - 1]))
		b.data[--b.len] = '\0';
	for (size_t i = 0; i < b.len; i++) {
		if (iscntrl((unsigned char)b.data[i]) || b.data[i] == ' ') {
			rc = infra_err_set(err, -EINVAL, "%s: token file '%s' holds more than one token line or a control character",
					   what, path);
			break;
		}
	}
	if (!rc && b.len == 0)
		rc = infra_err_set(err, -EINVAL, "%s: token file '%s' is empty", what, path);
	if (rc) {
		explicit_bzero(b.data, b.alloc);
		infra_buf_release(&b);
		return rc;
	}
	*out = infra_buf_steal(&b, NULL);
	return *out ? 0 : infra_err_set(err, -ENOMEM, "kube: out of memory");
}

/* A file that must exist and be readable (CA, certificate, key): checked at open
 * so a typo is a configuration error, not a TLS failure later. */
static int check_file(const char *path, const char *what, struct infra_err *err)
{
	if (access(path, R_OK) != 0)
		return infra_err_set(err, -EINVAL, "%s: cannot read '%s': %s", what, path, strerror(errno));
	return 0;
}

/* ---------- kubeconfig ---------- */

static const char *yget(json_object *o, const char *key)
{
	json_object *v;

	if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* The "name: X" entry of a named list (contexts, clusters, users) -> its `field` object. */
static json_object *named(json_object *root, const char *list, const char *name, const char *field)
{
	json_object *arr, *v;

	if (!json_object_object_get_ex(root, list, &arr) || !json_object_is_type(arr, json_type_array))
		return NULL;
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *e = json_object_array_get_idx(arr, i);
		const char *n = yget(e, "name");

		if (n && strcmp(n, name) == 0) {
			if (!json_object_object_get_ex(e, field, &v) || !json_object_is_type(v, json_type_object))
				return NULL;
			return v;
		}
	}
	return NULL;
}

/* A path from a kubeconfig: relative ones are relative to the kubeconfig's directory. */
static char *kc_path(const char *kcpath, const char *p)
{
	const char *slash;
	char *r;
	size_t dl;

	if (p[0] == '/' || !(slash = strrchr(kcpath, '/')))
		return strdup(p);
	dl = (size_t)(slash - kcpath);
	r = malloc(dl + 1 + strlen(p) + 1);
	if (r) {
		memcpy(r, kcpath, dl);
		r[dl] = '/';
		memcpy(r + dl + 1, p, strlen(p) + 1);
	}
	return r;
}

static int kc_bool(const char *v)
{
	return v && (strcmp(v, "true") == 0 || strcmp(v, "True") == 0 || strcmp(v, "TRUE") == 0);
}

/* A file-or-data pair of a kubeconfig entry (certificate-authority[-data], ...). */
static int kc_pem(const char *kcpath, json_object *o, const char *key, const char *what,
		  char **file, char **pem, size_t *pemlen, struct infra_err *err)
{
	char dkey[64];
	const char *f = yget(o, key), *d;

	snprintf(dkey, sizeof(dkey), "%s-data", key);
	d = yget(o, dkey);
	if (d && *d) {
		int rc = b64_decode(d, pem, pemlen);

		if (rc == -ENOMEM)
			return infra_err_set(err, rc, "kube: out of memory");
		if (rc < 0)
			return infra_err_set(err, -EINVAL, "kubeconfig %s: %s %s is not valid base64", kcpath, what, dkey);
		if (*pemlen == 0 || *pemlen > KUBE_PEM_MAX)
			return infra_err_set(err, -EINVAL, "kubeconfig %s: %s %s is empty or too large", kcpath, what, dkey);
		return 0;
	}
	if (f && *f) {
		if (!(*file = kc_path(kcpath, f)))
			return infra_err_set(err, -ENOMEM, "kube: out of memory");
		char ctx[512];

		snprintf(ctx, sizeof(ctx), "kubeconfig %s: %s %s", kcpath, what, key);
		return check_file(*file, ctx, err);
	}
	return 0;
}

/* The file an entry came from (kc_load marks them): relative paths are relative to it. */
static const char *kc_origin(json_object *entry, const char *path)
{
	const char *f = yget(entry, "__kcpath");

	return f ? f : path;
}

/* Load one kubeconfig, or merge a KUBECONFIG colon list as kubectl does: files that do
 * not exist are skipped, current-context comes from the first file that sets it, and
 * for a context, cluster or user of the same name the first file wins (entries are
 * appended in file order; named() takes the first).  Every context/cluster/user body
 * is marked with the file it came from. */
static json_object *kc_load(const char *list, int is_list, struct infra_buf *used, struct infra_err *err)
{
	static const char *const lists[][2] = { { "contexts", "context" }, { "clusters", "cluster" }, { "users", "user" } };
	json_object *merged = json_object_new_object();
	char file[PATH_MAX];
	int loaded = 0;

	if (!merged) {
		infra_err_set(err, -ENOMEM, "kube: out of memory");
		return NULL;
	}
	for (const char *p = list; *p;) {
		size_t n = is_list ? strcspn(p, ":") : strlen(p);
		json_object *root;
		const char *cc;
		struct stat st;

		if (n == 0 || n >= sizeof(file)) {
			if (n >= sizeof(file)) {
				infra_err_set(err, -EINVAL, "KUBECONFIG: path too long");
				json_object_put(merged);
				return NULL;
			}
			p += n + (p[n] == ':');
			continue;
		}
		memcpy(file, p, n);
		file[n] = '\0';
		p += n + (p[n] == ':');
		if (is_list && stat(file, &st) != 0 && errno == ENOENT)
			continue;
		root = infra_yaml_load_file(file, err);
		if (!root) {
			infra_err_prefix(err, "kubeconfig");
			json_object_put(merged);
			return NULL;
		}
		if (!json_object_is_type(root, json_type_object)) {
			infra_err_set(err, -EINVAL, "kubeconfig %s: not a mapping", file);
			json_object_put(root);
			json_object_put(merged);
			return NULL;
		}
		if (infra_buf_printf(used, "%s%s", loaded ? ":" : "", file)) {
			infra_err_set(err, -ENOMEM, "kube: out of memory");
			json_object_put(root);
			json_object_put(merged);
			return NULL;
		}
		loaded++;
		cc = yget(root, "current-context");
		if (cc && *cc && !yget(merged, "current-context"))
			json_object_object_add(merged, "current-context", json_object_new_string(cc));
		for (size_t l = 0; l < sizeof(lists) / sizeof(lists[0]); l++) {
			json_object *arr, *dst;

			if (!json_object_object_get_ex(root, lists[l][0], &arr) || !json_object_is_type(arr, json_type_array))
				continue;
			if (!json_object_object_get_ex(merged, lists[l][0], &dst)) {
				dst = json_object_new_array();
				json_object_object_add(merged, lists[l][0], dst);
			}
			for (size_t i = 0; i < json_object_array_length(arr); i++) {
				json_object *e = json_object_array_get_idx(arr, i), *body;

				if (json_object_object_get_ex(e, lists[l][1], &body) && json_object_is_type(body, json_type_object))
					json_object_object_add(body, "__kcpath", json_object_new_string(file));
				json_object_array_add(dst, json_object_get(e));
			}
		}
		json_object_put(root);
	}
	if (!loaded) {
		infra_err_set(err, -ENOENT, "KUBECONFIG: none of its files exists (%s)", list);
		json_object_put(merged);
		return NULL;
	}
	return merged;
}

static int from_kubeconfig(const char *path, int is_list, const char *context, struct kube_creds *c,
			   struct infra_err *err)
{
	json_object *root, *ctx, *cl, *user = NULL, *ap;
	const char *cname, *clname, *uname, *v;
	struct infra_buf used = INFRA_BUF_INIT;
	int rc = 0;

	root = kc_load(path, is_list, &used, err);
	if (!root) {
		infra_buf_release(&used);
		return err && err->code == -ENOMEM ? -ENOMEM : -EINVAL;
	}
	path = used.data; /* the files that were read: messages and auth_source name them */
	cname = context ? context : yget(root, "current-context");
	if (!cname || !*cname) {
		rc = infra_err_set(err, -EINVAL, "kubeconfig %s: no current-context is set", path);
		goto out;
	}
	if (!(ctx = named(root, "contexts", cname, "context"))) {
		rc = infra_err_set(err, -EINVAL, "kubeconfig %s: context '%s' not found", path, cname);
		goto out;
	}
	clname = yget(ctx, "cluster");
	uname = yget(ctx, "user");
	if (!clname || !(cl = named(root, "clusters", clname, "cluster"))) {
		rc = infra_err_set(err, -EINVAL, "kubeconfig %s: cluster '%s' of context '%s' not found", path,
				   clname ? clname : "", cname);
		goto out;
	}
	v = yget(cl, "server");
	if (!v || !*v) {
		rc = infra_err_set(err, -EINVAL, "kubeconfig %s: cluster '%s' has no server", path, clname);
		goto out;
	}
	if ((rc = set_str(&c->server, v, err)))
		goto out;
	if (yget(cl, "tls-server-name")) {
		rc = infra_err_set(err, -EINVAL, "kubeconfig %s: cluster '%s' sets tls-server-name, which is not supported",
				   path, clname);
		goto out;
	}
	c->insecure = kc_bool(yget(cl, "insecure-skip-tls-verify"));
	if ((v = yget(cl, "proxy-url")) && *v) {
		if (strncmp(v, "http://", 7) && strncmp(v, "https://", 8) && strncmp(v, "socks5://", 9) &&
		    strncmp(v, "socks5h://", 10)) {
			rc = infra_err_set(err, -EINVAL,
					   "kubeconfig %s: cluster '%s' proxy-url is not an http, https or socks5 URL", path, clname);
			goto out;
		}
		if ((rc = set_str(&c->proxy, v, err)))
			goto out;
	}
	if ((rc = kc_pem(kc_origin(cl, path), cl, "certificate-authority", "cluster", &c->ca_file, &c->ca_pem, &c->ca_len, err)))
		goto out;
	if (uname && *uname) {
		user = named(root, "users", uname, "user");
		if (!user) {
			rc = infra_err_set(err, -EINVAL, "kubeconfig %s: user '%s' of context '%s' not found", path, uname, cname);
			goto out;
		}
	}
	if (user && json_object_object_get_ex(user, "exec", &ap) && json_object_is_type(ap, json_type_object)) {
		v = yget(ap, "command");
		rc = infra_err_set(err, -EINVAL,
				   "kubeconfig %s: user '%s' uses an exec plugin (%s), which is not supported: give a token (--kube-token-file) or a client certificate",
				   path, uname, v ? v : "no command");
		goto out;
	}
	if (user && json_object_object_get_ex(user, "auth-provider", &ap)) {
		v = yget(ap, "name");
		rc = infra_err_set(err, -EINVAL,
				   "kubeconfig %s: user '%s' uses the auth-provider '%s', which is not supported: give a token (--kube-token-file) or a client certificate",
				   path, uname, v ? v : "?");
		goto out;
	}
	if (user && (yget(user, "username") || yget(user, "password"))) {
		rc = infra_err_set(err, -EINVAL, "kubeconfig %s: user '%s' uses basic auth (username/password), which is not supported",
				   path, uname);
		goto out;
	}
	if (user && (v = yget(user, "token")) && *v) {
		if (strpbrk(v, "\r\n")) {
			rc = infra_err_set(err, -EINVAL, "kubeconfig %s: user '%s': token holds a line break", path, uname);
			goto out;
		}
		if ((rc = set_str(&c->token, v, err)))
			goto out;
	} else if (user && (v = yget(user, "tokenFile")) && *v) {
		char *tf = kc_path(kc_origin(user, path), v), what[512];

		if (!tf) {
			rc = infra_err_set(err, -ENOMEM, "kube: out of memory");
			goto out;
		}
		snprintf(what, sizeof(what), "kubeconfig %s: user '%s' tokenFile", path, uname);
		rc = read_token(tf, what, &c->token, err);
		free(tf);
		if (rc)
			goto out;
	}
	if (user) {
		if ((rc = kc_pem(kc_origin(user, path), user, "client-certificate", "user", &c->cert_file, &c->cert_pem,
				 &c->cert_len, err)) ||
		    (rc = kc_pem(kc_origin(user, path), user, "client-key", "user", &c->key_file, &c->key_pem, &c->key_len, err)))
			goto out;
		if ((c->cert_file || c->cert_pem) != (c->key_file || c->key_pem)) {
			rc = infra_err_set(err, -EINVAL, "kubeconfig %s: user '%s' has a client certificate without a key, or a key without a certificate",
					   path, uname);
			goto out;
		}
	}
	{
		size_t n = strlen("kubeconfig:") + strlen(path) + 1;

		c->source = malloc(n);
		if (!c->source) {
			rc = infra_err_set(err, -ENOMEM, "kube: out of memory");
			goto out;
		}
		snprintf(c->source, n, "kubeconfig:%s", path);
	}
out:
	json_object_put(root);
	infra_buf_release(&used);
	return rc;
}

/* ---------- in-cluster ---------- */

static int from_cluster(const char *host, struct kube_creds *c, struct infra_err *err)
{
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	const char *dir = getenv("INFRA_KUBE_SA_DIR");
	char tok[PATH_MAX], ca[PATH_MAX], url[512];
	int rc;

	if (!dir || !*dir)
		dir = INFRA_KUBE_SA_DIR;
	if (!port || !*port)
		port = "443";
	if (strspn(port, "0123456789") != strlen(port) || strlen(port) > 5 || strpbrk(host, "/?#@ "))
		return infra_err_set(err, -EINVAL, "in-cluster: KUBERNETES_SERVICE_HOST/PORT do not form a URL");
	snprintf(url, sizeof(url), strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host, port);
	snprintf(tok, sizeof(tok), "%s/token", dir);
	snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
	if ((rc = set_str(&c->server, url, err)) || (rc = set_str(&c->source, "in-cluster", err)))
		return rc;
	if ((rc = read_token(tok, "in-cluster service account", &c->token, err)))
		return rc;
	if ((rc = check_file(ca, "in-cluster service account", err)))
		return rc;
	return set_str(&c->ca_file, ca, err);
}

/* ---------- open ---------- */

static int resolve(const struct infra_kube_opts *o, struct kube_creds *c, struct infra_err *err)
{
	const char *env = getenv("KUBECONFIG"), *home = getenv("HOME"), *host;
	char path[PATH_MAX];
	int rc;

	if (o->api_url && *o->api_url) {
		if ((rc = set_str(&c->server, o->api_url, err)) || (rc = set_str(&c->source, "flags", err)))
			return rc;
		return 0;
	}
	if (o->kubeconfig && *o->kubeconfig)
		return from_kubeconfig(o->kubeconfig, 0, o->context, c, err);
	if (env && env[strspn(env, ":")]) /* a colon list, merged as kubectl does (kc_load) */
		return from_kubeconfig(env, 1, o->context, c, err);
	if (home && *home) {
		struct stat st;

		snprintf(path, sizeof(path), "%s/.kube/config", home);
		if (stat(path, &st) == 0)
			return from_kubeconfig(path, 0, o->context, c, err);
	}
	host = getenv("KUBERNETES_SERVICE_HOST");
	if (host && *host)
		return from_cluster(host, c, err);
	return infra_err_set(err, -ENOENT,
			     "no Kubernetes API configured: give --kube-api, set KUBECONFIG or write ~/.kube/config, or run in a pod");
}

int infra_kube_open(struct infra_kube **out, const struct infra_kube_opts *o, struct infra_err *err)
{
	struct kube_creds c;
	struct infra_http_opts ho;
	struct infra_kube *k;
	size_t n;
	int rc;

	memset(&c, 0, sizeof(c));
	*out = NULL;
	if ((rc = resolve(o, &c, err)))
		goto fail;
	n = strlen(c.server);
	while (n > 0 && c.server[n - 1] == '/')
		c.server[--n] = '\0';
	if (strncmp(c.server, "https://", 8) != 0 && strncmp(c.server, "http://", 7) != 0) {
		rc = infra_err_set(err, -EINVAL, "%s: API server '%s' is not an http(s) URL", c.source, c.server);
		goto fail;
	}
	/* --kube-token-file / --kube-ca complete or override any source */
	if (o->token_file && *o->token_file) {
		wipe_free(c.token, c.token ? strlen(c.token) : 0);
		c.token = NULL;
		if ((rc = read_token(o->token_file, "--kube-token-file", &c.token, err)))
			goto fail;
	}
	if (o->ca_file && *o->ca_file) {
		if ((rc = check_file(o->ca_file, "--kube-ca", err)) || (rc = set_str(&c.ca_file, o->ca_file, err)))
			goto fail;
		wipe_free(c.ca_pem, c.ca_len);
		c.ca_pem = NULL;
		c.ca_len = 0;
	}
	if (c.token && strncmp(c.server, "http://", 7) == 0) {
		const char *h = c.server + 7;

		if (strncmp(h, "127.", 4) != 0 && strncmp(h, "localhost", 9) != 0 && strncmp(h, "[::1]", 5) != 0) {
			rc = infra_err_set(err, -EINVAL, "%s: refusing to send a bearer token over plain http to %s",
					   c.source, c.server);
			goto fail;
		}
	}
	if (o->http)
		ho = *o->http;
	else
		memset(&ho, 0, sizeof(ho));
	/* the cluster's own CA and client certificate win over the generic --cacert/--cert */
	if (c.ca_pem) {
		ho.cacert = NULL;
		ho.cacert_blob = c.ca_pem;
		ho.cacert_blob_len = c.ca_len;
	} else if (c.ca_file) {
		ho.cacert = c.ca_file;
		ho.cacert_blob = NULL;
	}
	if (c.cert_pem || c.cert_file) {
		ho.cert = c.cert_file;
		ho.cert_blob = c.cert_pem;
		ho.cert_blob_len = c.cert_len;
		ho.key = c.key_file;
		ho.key_blob = c.key_pem;
		ho.key_blob_len = c.key_len;
	}
	ho.insecure = ho.insecure || c.insecure;
	if (c.proxy)
		ho.proxy = c.proxy;
	k = calloc(1, sizeof(*k));
	if (!k) {
		rc = infra_err_set(err, -ENOMEM, "kube: out of memory");
		goto fail;
	}
	k->http = infra_http_new(&ho, err);
	if (!k->http) {
		rc = err && err->code ? err->code : -ENOMEM;
		free(k);
		goto fail;
	}
	k->server = c.server;
	k->source = c.source;
	c.server = c.source = NULL;
	if (c.token) {
		n = strlen("Authorization: Bearer ") + strlen(c.token) + 1;
		k->auth_header = malloc(n);
		if (!k->auth_header) {
			infra_kube_close(k);
			rc = infra_err_set(err, -ENOMEM, "kube: out of memory");
			goto fail;
		}
		snprintf(k->auth_header, n, "Authorization: Bearer %s", c.token);
	}
	k->page_limit = o->page_limit > 0 ? o->page_limit : INFRA_KUBE_DEFAULT_PAGE_LIMIT;
	creds_free(&c);
	*out = k;
	return 0;
fail:
	creds_free(&c);
	return rc;
}

const char *infra_kube_server(const struct infra_kube *k)
{
	return k->server;
}

const char *infra_kube_auth_source(const struct infra_kube *k)
{
	return k->source;
}

int infra_kube_last_pages(const struct infra_kube *k)
{
	return k->last_pages;
}

int infra_kube_last_restarts(const struct infra_kube *k)
{
	return k->last_restarts;
}

void infra_kube_close(struct infra_kube *k)
{
	if (!k)
		return;
	infra_http_free(k->http);
	free(k->server);
	free(k->source);
	wipe_free(k->auth_header, k->auth_header ? strlen(k->auth_header) : 0);
	free(k);
}

/* ---------- lists ---------- */

static int url_escape(struct infra_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	int rc = 0;

	for (; *s && !rc; s++) {
		unsigned char ch = (unsigned char)*s;

		if (isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
			rc = infra_buf_putc(b, (char)ch);
		} else {
			char e[3] = { '%', hex[ch >> 4], hex[ch & 15] };

			rc = infra_buf_append(b, e, 3);
		}
	}
	return rc;
}

/* "list persistentvolumes (API group \"\")" for RBAC messages, from the path. */
static void describe(const char *path, char *out, size_t n)
{
	char p[512], *q, *save = NULL, *seg[16];
	int ns = 0;

	snprintf(p, sizeof(p), "%s", path);
	p[strcspn(p, "?")] = '\0';
	for (q = strtok_r(p, "/", &save); q && ns < 16; q = strtok_r(NULL, "/", &save))
		seg[ns++] = q;
	if (ns >= 3 && strcmp(seg[0], "api") == 0)
		snprintf(out, n, "list %s (API group \"\"%s%s)", seg[ns - 1],
			 ns >= 5 && strcmp(seg[2], "namespaces") == 0 ? ", namespace " : "",
			 ns >= 5 && strcmp(seg[2], "namespaces") == 0 ? seg[3] : "");
	else if (ns >= 4 && strcmp(seg[0], "apis") == 0)
		snprintf(out, n, "list %s (API group \"%s\"%s%s)", seg[ns - 1], seg[1],
			 ns >= 6 && strcmp(seg[3], "namespaces") == 0 ? ", namespace " : "",
			 ns >= 6 && strcmp(seg[3], "namespaces") == 0 ? seg[4] : "");
	else
		snprintf(out, n, "GET %s", path);
}

/* The message of a Kubernetes Status body, if the body is one. */
static void status_message(const struct infra_http_resp *r, char *out, size_t n)
{
	json_object *st = NULL;
	const char *m;

	out[0] = '\0';
	if (infra_json_parse(r->body, r->body_len, &st, NULL) == 0) {
		m = infra_json_opt_string(st, "message", NULL);
		if (m && *m)
			snprintf(out, n, ": %s", m);
	}
	json_object_put(st);
}

/* ---------- a list body, item by item ----------
 *
 * {"kind":..,"metadata":{..,"continue":".."},"items":[{..},{..},..]}: the top level is scanned
 * here and each value (each item, the metadata, anything else) parsed on its own with one
 * json_tokener, so only one item's tree exists at a time; fn's result is all that stays. */
static size_t skip_ws(const char *b, size_t len, size_t i)
{
	while (i < len && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r'))
		i++;
	return i;
}

/* One JSON value at b[*i]; *i moves past it.  -EINVAL when malformed. */
static int scan_value(struct json_tokener *tok, const char *b, size_t len, size_t *i, json_object **out)
{
	enum json_tokener_error jerr;

	json_tokener_reset(tok);
	*out = json_tokener_parse_ex(tok, b + *i, (int)(len - *i));
	jerr = json_tokener_get_error(tok);
	if (jerr != json_tokener_success) { /* a bare number would need more input: never a list body */
		json_object_put(*out);
		*out = NULL;
		return -EINVAL;
	}
	*i += json_tokener_get_parse_end(tok);
	return 0;
}

/* 0, -EINVAL (malformed; *at = the byte), -EPROTO (no items array), -ENOMEM (fn failed). */
static int scan_list(const char *b, size_t len, infra_kube_item_fn fn, void *ud, json_object *items,
		     json_object **meta, size_t *at)
{
	struct json_tokener *tok = json_tokener_new_ex(256);
	size_t i = 0;
	int rc = -EINVAL, have_items = 0, first = 1;

	*meta = NULL;
	if (!tok)
		return -ENOMEM;
	if (len > (size_t)INT32_MAX)
		goto out;
	i = skip_ws(b, len, i);
	if (i >= len || b[i++] != '{')
		goto out;
	for (;;) {
		size_t ks, ke;
		json_object *v = NULL;

		i = skip_ws(b, len, i);
		if (i < len && b[i] == '}' && first) { /* {} */
			i++;
			break;
		}
		first = 0;
		if (i >= len || b[i] != '"')
			goto out;
		ks = ++i;
		while (i < len && b[i] != '"')
			i += b[i] == '\\' ? 2 : 1;
		if (i >= len)
			goto out;
		ke = i++;
		i = skip_ws(b, len, i);
		if (i >= len || b[i++] != ':')
			goto out;
		i = skip_ws(b, len, i);
		if (ke - ks == 5 && !memcmp(b + ks, "items", 5) && i < len && b[i] == '[') {
			have_items = 1;
			i = skip_ws(b, len, i + 1);
			if (i < len && b[i] == ']') {
				i++;
			} else {
				for (;;) {
					json_object *it = NULL, *kept;

					if (scan_value(tok, b, len, &i, &it))
						goto out;
					kept = fn ? fn(it, ud) : json_object_get(it);
					json_object_put(it);
					if (!kept || json_object_array_add(items, kept)) {
						json_object_put(kept);
						rc = -ENOMEM;
						goto out;
					}
					i = skip_ws(b, len, i);
					if (i < len && b[i] == ',') {
						i = skip_ws(b, len, i + 1);
						continue;
					}
					if (i < len && b[i] == ']') {
						i++;
						break;
					}
					goto out;
				}
			}
		} else {
			if (scan_value(tok, b, len, &i, &v))
				goto out;
			if (ke - ks == 5 && !memcmp(b + ks, "items", 5)) {
				if (v) { /* "items": not an array (null is an empty list) */
					json_object_put(v);
					rc = -EPROTO;
					goto out;
				}
				have_items = 1;
			} else if (ke - ks == 8 && !memcmp(b + ks, "metadata", 8) && !*meta) {
				*meta = v;
				v = NULL;
			}
			json_object_put(v);
		}
		i = skip_ws(b, len, i);
		if (i < len && b[i] == ',') {
			i++;
			continue;
		}
		if (i < len && b[i] == '}') {
			i++;
			break;
		}
		goto out;
	}
	i = skip_ws(b, len, i);
	rc = i < len ? -EINVAL : have_items ? 0 : -EPROTO;
out:
	json_tokener_free(tok);
	*at = i;
	if (rc) {
		json_object_put(*meta);
		*meta = NULL;
	}
	return rc;
}

static int list_page(struct infra_kube *k, const char *path, const char *cont, infra_kube_item_fn fn, void *ud,
		     json_object *items, char **next, long *status, struct infra_err *err)
{
	struct infra_buf url = INFRA_BUF_INIT;
	struct infra_http_req req;
	struct infra_http_resp resp;
	const char *hdrs[3] = { "Accept: application/json", k->auth_header, NULL };
	char shown[320], what[600], msg[300];
	json_object *doc = NULL, *c;
	int rc;

	*next = NULL;
	*status = 0;
	infra_buf_init(&url, KUBE_URL_MAX);
	rc = infra_buf_printf(&url, "%s%s%climit=%ld", k->server, path, strchr(path, '?') ? '&' : '?', k->page_limit);
	if (!rc && cont) {
		rc = infra_buf_puts(&url, "&continue=");
		if (!rc)
			rc = url_escape(&url, cont);
	}
	if (rc) {
		infra_buf_release(&url);
		return infra_err_set(err, rc == -ENOMEM ? -ENOMEM : -EINVAL, "kube: list URL too long (%s)", path);
	}
	memset(&req, 0, sizeof(req));
	memset(&resp, 0, sizeof(resp));
	req.method = "GET";
	req.url = url.data;
	req.headers = hdrs;
	infra_http_mask_url(url.data, shown, sizeof(shown));
	rc = infra_http_do(k->http, &req, &resp, err);
	infra_buf_release(&url);
	if (rc < 0)
		return rc;
	*status = resp.status;
	describe(path, what, sizeof(what));
	if (resp.status != 200) {
		status_message(&resp, msg, sizeof(msg));
		switch (resp.status) {
		case 404:
			rc = infra_err_set(err, -ENOENT, "%s: 404 Not Found: the API server does not serve this resource (not installed)%s",
					   what, msg);
			break;
		case 401:
			rc = infra_err_set(err, -EACCES, "%s: 401 Unauthorized: the API server rejected the credentials (%s)%s",
					   what, k->source, msg);
			break;
		case 403:
			rc = infra_err_set(err, -EACCES, "%s: 403 Forbidden: the credentials (%s) lack the RBAC verb 'list' on this resource%s",
					   what, k->source, msg);
			break;
		case 410:
			rc = infra_err_set(err, -ESTALE, "%s: 410 Gone: the continue token expired%s", what, msg);
			break;
		default:
			rc = infra_err_set(err, -EIO, "GET %s: HTTP %ld%s", shown, resp.status, msg);
		}
		infra_http_resp_release(&resp);
		return rc;
	}
	{
		size_t at = 0;

		rc = scan_list(resp.body, resp.body_len, fn, ud, items, &doc, &at);
		infra_http_resp_release(&resp);
		if (rc == -ENOMEM)
			return infra_err_set(err, -ENOMEM, "kube: out of memory");
		if (rc == -EINVAL)
			return infra_err_set(err, -EPROTO, "GET %s: malformed JSON: invalid JSON at byte %zu", shown, at);
		if (rc)
			return infra_err_set(err, -EPROTO, "GET %s: the reply is not a list (no 'items' array)", shown);
	}
	if (doc && json_object_is_type(doc, json_type_object) && json_object_object_get_ex(doc, "continue", &c) &&
	    json_object_is_type(c, json_type_string) && json_object_get_string_len(c) > 0) {
		*next = strdup(json_object_get_string(c));
		if (!*next) {
			json_object_put(doc);
			return infra_err_set(err, -ENOMEM, "kube: out of memory");
		}
	}
	json_object_put(doc);
	return 0;
}

int infra_kube_list(struct infra_kube *k, const char *path, json_object **items, struct infra_err *err)
{
	return infra_kube_list_map(k, path, NULL, NULL, items, err);
}

int infra_kube_list_map(struct infra_kube *k, const char *path, infra_kube_item_fn fn, void *ud, json_object **items,
			struct infra_err *err)
{
	json_object *arr = json_object_new_array();
	char *cont = NULL, *next = NULL;
	long status;
	int rc = 0;

	*items = NULL;
	k->last_pages = 0;
	k->last_restarts = 0;
	if (!arr)
		return infra_err_set(err, -ENOMEM, "kube: out of memory");
	if (!path || path[0] != '/') {
		json_object_put(arr);
		return infra_err_set(err, -EINVAL, "kube: list path must start with '/'");
	}
	for (;;) {
		if (k->last_pages >= INFRA_KUBE_MAX_PAGES) {
			rc = infra_err_set(err, -EPROTO, "list %s: more than %d pages, giving up", path, INFRA_KUBE_MAX_PAGES);
			break;
		}
		rc = list_page(k, path, cont, fn, ud, arr, &next, &status, err);
		k->last_pages++;
		if (rc == -ESTALE && status == 410) {
			if (k->last_restarts >= INFRA_KUBE_MAX_RESTARTS) {
				infra_err_prefix(err, "after %d restarts", k->last_restarts);
				break;
			}
			/* the snapshot the continue token named is gone: start over */
			k->last_restarts++;
			json_object_put(arr);
			arr = json_object_new_array();
			free(cont);
			cont = NULL;
			if (!arr) {
				rc = infra_err_set(err, -ENOMEM, "kube: out of memory");
				break;
			}
			continue;
		}
		if (rc < 0)
			break;
		free(cont);
		cont = next;
		next = NULL;
		if (!cont)
			break;
	}
	free(cont);
	if (rc < 0) {
		json_object_put(arr);
		return rc;
	}
	*items = arr;
	return 0;
}

/* ---------- quantities ---------- */

/* resource.Quantity grammar: [+-] (digits | digits. | .digits | digits.digits) suffix,
 * suffix = "" | m | k M G T P E | Ki Mi Gi Ti Pi Ei | (e|E)[+-]digits.
 * Exact: the decimal digits are multiplied by 2^b as a decimal big number, then the
 * decimal point is placed; a non-zero remainder rounds away from zero (Value()). */
int infra_kube_quantity(const char *s, int64_t *out)
{
	static const struct {
		const char *sfx;
		int b2, e10;
	} sfx[] = {
		{ "", 0, 0 }, { "m", 0, -3 }, { "k", 0, 3 }, { "M", 0, 6 }, { "G", 0, 9 }, { "T", 0, 12 },
		{ "P", 0, 15 }, { "E", 0, 18 }, { "Ki", 10, 0 }, { "Mi", 20, 0 }, { "Gi", 30, 0 },
		{ "Ti", 40, 0 }, { "Pi", 50, 0 }, { "Ei", 60, 0 },
	};
	const char *p = s, *ip, *fp = NULL, *suf;
	size_t il, fl = 0, nd, cap, len;
	int neg = 0, b2 = -1;
	long e10 = 0;
	unsigned char *d;
	uint64_t v = 0;
	int frac = 0;

	if (!s || !out)
		return -EINVAL;
	len = strlen(s);
	if (len == 0 || len > KUBE_QUANTITY_MAX_LEN)
		return -EINVAL;
	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	ip = p;
	il = strspn(p, "0123456789");
	p += il;
	if (*p == '.') {
		fp = ++p;
		fl = strspn(p, "0123456789");
		p += fl;
	}
	if (il + fl == 0)
		return -EINVAL;
	suf = p;
	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		if (strcmp(suf, sfx[i].sfx) == 0) {
			b2 = sfx[i].b2;
			e10 = sfx[i].e10;
			break;
		}
	}
	if (b2 < 0) {
		/* decimal exponent: e|E then a signed integer (a bare "E" is exa, above) */
		const char *q = suf + 1;
		int eneg = 0;
		size_t el;

		if (*suf != 'e' && *suf != 'E')
			return -EINVAL;
		if (*q == '+' || *q == '-')
			eneg = *q++ == '-';
		el = strspn(q, "0123456789");
		if (el == 0 || q[el] != '\0')
			return -EINVAL;
		b2 = 0;
		for (size_t i = 0; i < el; i++) {
			if (e10 < 100000)
				e10 = e10 * 10 + (q[i] - '0');
		}
		if (eneg)
			e10 = -e10;
	}
	/* digits = int part then fraction; value = digits * 10^(e10 - fl) * 2^b2 */
	cap = il + fl + 20; /* 2^60 adds at most 19 digits */
	d = calloc(cap, 1);
	if (!d)
		return -ENOMEM;
	nd = 0;
	for (size_t i = 0; i < il; i++)
		if (nd || ip[i] != '0')
			d[nd++] = (unsigned char)(ip[i] - '0');
	for (size_t i = 0; i < fl; i++)
		if (nd || fp[i] != '0')
			d[nd++] = (unsigned char)(fp[i] - '0');
	e10 -= (long)fl;
	if (nd == 0) {
		free(d);
		*out = 0;
		return 0;
	}
	/* multiply the big-endian decimal digits by 2^b2, one doubling at a time */
	for (int t = 0; t < b2; t++) {
		int carry = 0;

		for (size_t i = nd; i-- > 0;) {
			int x = d[i] * 2 + carry;

			d[i] = (unsigned char)(x % 10);
			carry = x / 10;
		}
		if (carry) {
			memmove(d + 1, d, nd);
			d[0] = (unsigned char)carry;
			nd++;
		}
	}
	/* integer part: the first nd + e10 digits (followed by e10 zeros when e10 > 0) */
	if (e10 >= 0) {
		if ((long)nd + e10 > 19) {
			free(d);
			return -ERANGE;
		}
		for (size_t i = 0; i < nd + (size_t)e10; i++) {
			unsigned dig = i < nd ? d[i] : 0;

			v = v * 10 + dig; /* < 10^19 < 2^64: no wrap */
		}
	} else {
		long keep = (long)nd + e10; /* digits before the point */

		if (keep > 19) {
			free(d);
			return -ERANGE;
		}
		for (long i = 0; i < (long)nd; i++) {
			if (i < keep)
				v = v * 10 + d[i];
			else if (d[i])
				frac = 1;
		}
	}
	free(d);
	if (frac)
		v++; /* away from zero, as Quantity.Value() */
	if (!neg && v > (uint64_t)INT64_MAX)
		return -ERANGE;
	if (neg && v > (uint64_t)INT64_MAX + 1)
		return -ERANGE;
	*out = neg ? (v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v) : (int64_t)v;
	return 0;
}
