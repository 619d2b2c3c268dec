/* infra_truenas.c - TrueNAS API client (see infra_truenas.h). */
#include "infra_truenas.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "infra_buf.h"
#include "infra_json.h"
#include "infra_ws.h"

#define TN_PREAUTH_MAX 8192   /* server closes the socket on a bigger message before login */
#define TN_MAX_INFLIGHT 10    /* middlewared: per-connection semaphore, soft 10 / hard 20 (-32000 past it) */
#define TN_MAX_BUSY_RETRIES 8 /* a call answered -32000 is sent again this often at most */
#define TN_SHOWN 256

struct infra_truenas {
	char base[1024];          /* scheme://host[:port], no trailing slash */
	char shown[TN_SHOWN];     /* masked base, for messages */
	char *key;
	char *auth_header;        /* "Authorization: Bearer KEY" (REST) */
	int rest, tls;
	struct infra_http *http;
	struct infra_http_opts hopts;
	struct infra_ws *ws;
	int64_t next_id;
	char version[128];
	infra_truenas_map_fn map;  /* during infra_truenas_query_map */
	void *map_ud;
};

/* Replace any copy of the key in a message by "***" (a hostile or echoing server). */
static void tn_scrub(const struct infra_truenas *t, const char *key, struct infra_err *err)
{
	const char *k = key ? key : t ? t->key : NULL;
	size_t kl = k ? strlen(k) : 0;
	char *p;

	if (!err || kl < 4)
		return;
	while ((p = strstr(err->msg, k))) {
		memcpy(p, "***", 3);
		memmove(p + 3, p + kl, strlen(p + kl) + 1);
	}
}

/* ---- versions and methods ---- */

/* major*100 + minor of the first "N.N" in a version string; 0 if none. */
static int tn_version_num(const char *v)
{
	const char *p;

	for (p = v ? v : ""; *p; p++) {
		long maj = 0, min = 0;
		const char *q = p;

		if (*p < '0' || *p > '9' || (p > v && p[-1] >= '0' && p[-1] <= '9'))
			continue;
		while (*q >= '0' && *q <= '9' && maj < 10000)
			maj = maj * 10 + (*q++ - '0');
		if (*q != '.' || q[1] < '0' || q[1] > '9')
			continue;
		q++;
		while (*q >= '0' && *q <= '9' && min < 100)
			min = min * 10 + (*q++ - '0');
		return (int)(maj * 100 + min);
	}
	return 0;
}

const char *infra_truenas_method_for(enum infra_tn_query q, const char *version, int rest)
{
	int v = tn_version_num(version);
	int new_snap = v == 0 || v >= 2510; /* unknown: assume the newest */

	if (rest && v >= 2600)
		return NULL; /* REST removed in 26 */
	switch (q) {
	case INFRA_TN_POOLS:
		return rest ? "/pool" : "pool.query";
	case INFRA_TN_DATASETS:
		return rest ? "/pool/dataset?extra.retrieve_children=false" : "pool.dataset.query";
	case INFRA_TN_SNAPSHOTS:
		if (rest)
			return new_snap ? "/pool/snapshot" : "/zfs/snapshot";
		return new_snap ? "pool.snapshot.query" : "zfs.snapshot.query";
	case INFRA_TN_NFS_SHARES:
		return rest ? "/sharing/nfs" : "sharing.nfs.query";
	case INFRA_TN_SMB_SHARES:
		return rest ? "/sharing/smb" : "sharing.smb.query";
	case INFRA_TN_ISCSI_TARGETS:
		return rest ? "/iscsi/target" : "iscsi.target.query";
	case INFRA_TN_ISCSI_EXTENTS:
		return rest ? "/iscsi/extent" : "iscsi.extent.query";
	case INFRA_TN_ISCSI_TARGETEXTENTS:
		return rest ? "/iscsi/targetextent" : "iscsi.targetextent.query";
	case INFRA_TN_SERVICES:
		return rest ? "/service" : "service.query";
	default:
		return NULL;
	}
}

/* query-options "select" (middleware filter_list.do_select; aliases ["path","name"] exist in
 * every version modelled): only the fields nasmon-check reads, each ZFS property as its
 * rawvalue string at the top level under its own name (zprop() finds it there), and the source
 * of the two user properties whose origin matters as "NAME@source" ('@' cannot occur in a ZFS
 * property name).  infra_truenas_flatten_sources() folds those back.  The replies shrink from
 * about 1.1 KiB (snapshot) and 3.2 KiB (dataset) to a few hundred bytes, one flat object each.
 * Shares, targets and extents: the fields the checks read, whole.  A field a check reads of
 * any of these must be added here. */
#define TN_UPROP(n) { "user_properties.democratic-csi:" n ".rawvalue", "democratic-csi:" n }
#define TN_NPROP(n) { n ".rawvalue", n }
static const char *const tn_select_datasets[][2] = {
	{ "id", NULL }, { "type", NULL }, { "pool", NULL }, { "mountpoint", NULL },
	TN_NPROP("used"), TN_NPROP("available"), TN_NPROP("referenced"), TN_NPROP("usedbydataset"),
	TN_NPROP("usedbysnapshots"), TN_NPROP("refquota"), TN_NPROP("refreservation"), TN_NPROP("volsize"),
	TN_NPROP("volblocksize"), TN_NPROP("origin"), TN_NPROP("creation"),
	TN_UPROP("managed_resource"),
	{ "user_properties.democratic-csi:managed_resource.source", "democratic-csi:managed_resource@source" },
	TN_UPROP("provision_success"), TN_UPROP("csi_volume_name"), TN_UPROP("csi_snapshot_name"),
	{ "user_properties.democratic-csi:csi_snapshot_name.source", "democratic-csi:csi_snapshot_name@source" },
	TN_UPROP("volume_context_provisioner_instance_id"), TN_UPROP("freenas_nfs_share_id"),
	TN_UPROP("freenas_smb_share_id"), TN_UPROP("freenas_iscsi_target_id"), TN_UPROP("freenas_iscsi_extent_id"),
	TN_UPROP("freenas_iscsi_targettoextent_id"), TN_UPROP("freenas_iscsi_assets_name"),
	TN_UPROP("freenas_nvmeof_subsystem_id"),
};
static const char *const tn_select_snapshots[][2] = {
	{ "id", NULL }, /* also "name" in every version; the checks read id */
	{ "properties.creation.rawvalue", "creation" }, { "properties.used.rawvalue", "used" },
	{ "properties.democratic-csi:csi_snapshot_name.rawvalue", "democratic-csi:csi_snapshot_name" },
	{ "properties.democratic-csi:csi_snapshot_name.source", "democratic-csi:csi_snapshot_name@source" },
};
static const char *const tn_select_nfs[][2] = {
	{ "id", NULL }, { "path", NULL }, { "paths", NULL }, { "enabled", NULL }, { "locked", NULL } };
static const char *const tn_select_smb[][2] = {
	{ "id", NULL }, { "name", NULL }, { "path", NULL }, { "enabled", NULL }, { "locked", NULL } };
static const char *const tn_select_targets[][2] = { { "id", NULL }, { "name", NULL } };
static const char *const tn_select_extents[][2] = {
	{ "id", NULL }, { "name", NULL }, { "disk", NULL }, { "enabled", NULL }, { "locked", NULL } };
static const char *const tn_select_tes[][2] = { { "id", NULL }, { "target", NULL }, { "extent", NULL } };
#undef TN_UPROP
#undef TN_NPROP

static json_object *tn_select(const char *const (*sel)[2], size_t n)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_new_string(sel[i][0]);

		if (sel[i][1]) {
			json_object *pair = json_object_new_array();

			json_object_array_add(pair, e);
			json_object_array_add(pair, json_object_new_string(sel[i][1]));
			e = pair;
		}
		json_object_array_add(a, e);
	}
	return a;
}

/* Positional params of a query method: [filters, options]. */
static json_object *tn_query_params(enum infra_tn_query q)
{
	json_object *p = json_object_new_array(), *opts = json_object_new_object();

	json_object_array_add(p, json_object_new_array());
#define TN_SEL(a) tn_select(a, sizeof(a) / sizeof(a[0]))
	if (q == INFRA_TN_NFS_SHARES)
		json_object_object_add(opts, "select", TN_SEL(tn_select_nfs));
	else if (q == INFRA_TN_SMB_SHARES)
		json_object_object_add(opts, "select", TN_SEL(tn_select_smb));
	else if (q == INFRA_TN_ISCSI_TARGETS)
		json_object_object_add(opts, "select", TN_SEL(tn_select_targets));
	else if (q == INFRA_TN_ISCSI_EXTENTS)
		json_object_object_add(opts, "select", TN_SEL(tn_select_extents));
	else if (q == INFRA_TN_ISCSI_TARGETEXTENTS)
		json_object_object_add(opts, "select", TN_SEL(tn_select_tes));
#undef TN_SEL
	if (q == INFRA_TN_DATASETS) {
		json_object *extra = json_object_new_object();

		/* every dataset once, flat (children are also top-level items) */
		json_object_object_add(extra, "retrieve_children", json_object_new_boolean(0));
		json_object_object_add(opts, "extra", extra);
		json_object_object_add(opts, "select",
				       tn_select(tn_select_datasets, sizeof(tn_select_datasets) / sizeof(tn_select_datasets[0])));
	} else if (q == INFRA_TN_SNAPSHOTS) {
		json_object_object_add(opts, "select",
				       tn_select(tn_select_snapshots, sizeof(tn_select_snapshots) / sizeof(tn_select_snapshots[0])));
	}
	json_object_array_add(p, opts);
	return p;
}

void infra_truenas_flatten_sources(json_object *item)
{
	struct lh_entry *e, *tmp;
	char key[256];

	if (!json_object_is_type(item, json_type_object))
		return;
	lh_foreach_safe(json_object_get_object(item), e, tmp) {
		const char *k = lh_entry_k(e), *src, *v;
		size_t n = strlen(k);
		json_object *val, *o;

		if (n < 8 || n - 7 >= sizeof(key) || strcmp(k + n - 7, "@source"))
			continue;
		memcpy(key, k, n - 7);
		key[n - 7] = '\0';
		src = json_object_get_string((json_object *)lh_entry_v(e));
		if (src && strcmp(src, "LOCAL") && strcmp(src, "RECEIVED") &&
		    json_object_object_get_ex(item, key, &val) && json_object_is_type(val, json_type_string)) {
			/* not local: the value with its source, as the unselected reply had it */
			v = json_object_get_string(val);
			o = json_object_new_object();
			json_object_object_add(o, "rawvalue", json_object_new_string(v));
			json_object_object_add(o, "source", json_object_new_string(src));
			json_object_object_add(item, key, o);
		}
		json_object_object_del(item, k);
	}
}

/* ---- URL checks ---- */

static int tn_is_loopback(const char *host)
{
	size_t n = strlen(host);

	if (strcasecmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0 || strcmp(host, "::1") == 0)
		return 1;
	if (n > 10 && strcasecmp(host + n - 10, ".localhost") == 0)
		return 1;
	if (strncmp(host, "127.", 4) == 0) {
		const char *p;
		int dots = 0;

		for (p = host; *p; p++) {
			if (*p == '.')
				dots++;
			else if (*p < '0' || *p > '9')
				return 0;
		}
		return dots == 3;
	}
	return 0;
}

/* Split the configured URL into t->base (http or https) and check it. */
static int tn_parse_url(struct infra_truenas *t, const char *url, int have_key, struct infra_err *err)
{
	const char *rest;
	char *host = NULL, *port = NULL, *path = NULL;
	char tmp[1024];
	CURLU *u;
	int rc = 0;

	infra_http_mask_url(url, t->shown, sizeof(t->shown));
	if (strncasecmp(url, "https://", 8) == 0 || strncasecmp(url, "wss://", 6) == 0)
		t->tls = 1;
	else if (strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "ws://", 5) == 0)
		t->tls = 0;
	else
		return infra_err_set(err, -EINVAL, "TrueNAS URL %s: expected https://HOST[:PORT]", t->shown);
	rest = strstr(url, "://") + 3;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s://%s", t->tls ? "https" : "http", rest) >= sizeof(tmp))
		return infra_err_set(err, -EINVAL, "TrueNAS URL %s: too long", t->shown);
	u = curl_url();
	if (!u || curl_url_set(u, CURLUPART_URL, tmp, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		curl_url_cleanup(u);
		return infra_err_set(err, -EINVAL, "TrueNAS URL %s: malformed", t->shown);
	}
	curl_url_get(u, CURLUPART_PORT, &port, 0);
	curl_url_get(u, CURLUPART_PATH, &path, 0);
	if (path && strcmp(path, "/") != 0 && path[0])
		rc = infra_err_set(err, -EINVAL, "TrueNAS URL %s: give only scheme://host[:port] (the client adds /api/...)",
				   t->shown);
	else if (have_key && !t->tls && !tn_is_loopback(host))
		rc = infra_err_set(err, -EINVAL,
				   "refusing to send the API key over %s to %s: TrueNAS revokes a key used over an "
				   "insecure transport; use https://", strncasecmp(url, "ws", 2) == 0 ? "ws://" : "http://",
				   host);
	else
		snprintf(t->base, sizeof(t->base), "%s://%s%s%s", t->tls ? "https" : "http", host,
			 port ? ":" : "", port ? port : "");
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_url_cleanup(u);
	return rc;
}

/* ---- JSON-RPC ---- */

struct tn_call {
	const char *method;
	json_object *params;    /* borrowed */
	json_object *result;    /* new reference on success */
	struct infra_err *err;
	int64_t id;
	int sent, done, rc, busy;
	int q;                  /* the query (infra_truenas_query_map), -1 for a plain call */
	int mapped;             /* result items converted while parsed */
};

/* JSON whitespace (a NUL byte is not: strchr would take it) */
#define TN_WS(c) ((c) == ' ' || (c) == '\t' || (c) == '\r' || (c) == '\n')

/* One value of a JSON text from *pos (whitespace skipped before and after); NULL with *ok = 0
 * when it is not one whole value followed by `,`, `]` or `}`. */
static json_object *tn_value(struct json_tokener *tok, const char *s, size_t len, size_t *pos, int *ok)
{
	json_object *v;

	while (*pos < len && TN_WS(s[*pos]))
		(*pos)++;
	json_tokener_reset(tok);
	v = json_tokener_parse_ex(tok, s + *pos, (int)(len - *pos));
	if (json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(v);
		*ok = 0;
		return NULL;
	}
	*pos += json_tokener_get_parse_end(tok);
	while (*pos < len && TN_WS(s[*pos]))
		(*pos)++;
	*ok = *pos < len && (s[*pos] == ',' || s[*pos] == ']' || s[*pos] == '}');
	return v;
}

/* A JSON-RPC reply whose "result" list is converted item by item as it is parsed
 * (map(q, item, ud), a new reference; NULL keeps the item), so that the whole reply tree of a
 * 50,000-snapshot list never exists at once.  Only a top-level object of plain members is
 * taken this way; anything else (and any error) is left to infra_json_parse (NULL returned), so
 * what this accepts is what infra_json_parse accepts (values by the same tokener, nesting limit
 * its 256 less the two levels above an item). */
static json_object *tn_parse_mapped(struct infra_truenas *t, struct tn_call *calls, size_t n, const char *s,
				    size_t len)
{
	struct tn_call *c = NULL;
	struct json_tokener *tok;
	json_object *root;
	size_t pos = 0;
	int ok = 1;

	if (!t->map)
		return NULL;
	while (pos < len && TN_WS(s[pos]))
		pos++;
	if (pos >= len || s[pos] != '{' || len > (size_t)INT32_MAX || !(tok = json_tokener_new_ex(254)))
		return NULL;
	root = json_object_new_object();
	pos++;
	while (ok && root) {
		json_object *k, *v;

		while (pos < len && TN_WS(s[pos]))
			pos++;
		if (pos < len && s[pos] == '}' && !json_object_object_length(root)) {
			pos++;
			break;
		}
		if (pos >= len || s[pos] != '"')
			break;
		/* the key: a JSON string up to the ':' */
		json_tokener_reset(tok);
		k = json_tokener_parse_ex(tok, s + pos, (int)(len - pos));
		if (json_tokener_get_error(tok) != json_tokener_success || !json_object_is_type(k, json_type_string)) {
			json_object_put(k);
			break;
		}
		pos += json_tokener_get_parse_end(tok);
		while (pos < len && TN_WS(s[pos]))
			pos++;
		if (pos >= len || s[pos] != ':') {
			json_object_put(k);
			break;
		}
		pos++;
		while (pos < len && TN_WS(s[pos]))
			pos++;
		if (!strcmp(json_object_get_string(k), "result") && pos < len && s[pos] == '[') {
			json_object *idv;

			/* the call, when its id came first (else the items are converted afterwards) */
			if (json_object_object_get_ex(root, "id", &idv) && json_object_is_type(idv, json_type_int))
				for (size_t i = 0; i < n; i++)
					if (calls[i].sent && !calls[i].done && calls[i].q >= 0 &&
					    calls[i].id == json_object_get_int64(idv))
						c = &calls[i];
			v = json_object_new_array();
			pos++;
			while (pos < len && TN_WS(s[pos]))
				pos++;
			if (pos < len && s[pos] == ']') {
				pos++;
			} else {
				for (;;) {
					json_object *it = tn_value(tok, s, len, &pos, &ok), *m;

					if (!ok) {
						json_object_put(it);
						break;
					}
					m = c ? t->map((enum infra_tn_query)c->q, it, t->map_ud) : NULL;
					if (m) {
						json_object_put(it);
						it = m;
					}
					json_object_array_add(v, it);
					if (s[pos++] == ']')
						break;
					if (s[pos - 1] != ',') {
						ok = 0;
						break;
					}
				}
			}
			while (ok && pos < len && TN_WS(s[pos]))
				pos++;
			ok = ok && pos < len && (s[pos] == ',' || s[pos] == '}');
		} else {
			v = tn_value(tok, s, len, &pos, &ok);
		}
		json_object_object_add(root, json_object_get_string(k), v);
		json_object_put(k);
		if (!ok || s[pos] == ']')
			break;
		if (s[pos++] == '}') {
			while (pos < len && TN_WS(s[pos]))
				pos++;
			if (pos == len) {
				json_tokener_free(tok);
				if (c)
					c->mapped = 1;
				return root;
			}
			break;
		}
	}
	json_tokener_free(tok);
	json_object_put(root);
	return NULL;
}

/* Turn a JSON-RPC error object into a code and one line. */
static int tn_rpc_error(const char *method, json_object *e, struct infra_err *err)
{
	int64_t code = infra_json_opt_int64(e, "code", 0);
	const char *msg = infra_json_opt_string(e, "message", "");
	const char *reason = infra_json_opt_string(e, "data.reason", NULL);
	const char *errname = infra_json_opt_string(e, "data.errname", NULL);
	json_object *extra = NULL;
	struct infra_buf b;
	int rc;

	if (code == -32601)
		rc = -ENOTSUP;
	else if (code == -32602)
		rc = -EINVAL;
	else if (errname && (!strcmp(errname, "EACCES") || !strcmp(errname, "EPERM") ||
			     !strcmp(errname, "ENOTAUTHENTICATED")))
		rc = -EACCES;
	else if (errname && !strcmp(errname, "ENOENT"))
		rc = -ENOENT;
	else if (code == -32000)
		rc = -EBUSY;
	else
		rc = -EIO;
	infra_buf_init(&b, 1024);
	infra_buf_printf(&b, "%s: %s", method, reason && reason[0] ? reason : msg[0] ? msg : "error");
	if (infra_json_get_array(e, "data.extra", &extra, NULL) == 0) {
		size_t i;

		for (i = 0; i < json_object_array_length(extra) && i < 3; i++) {
			json_object *it = json_object_array_get_idx(extra, i);

			if (json_object_is_type(it, json_type_array) && json_object_array_length(it) >= 2)
				infra_buf_printf(&b, "; %s: %s",
						 json_object_get_string(json_object_array_get_idx(it, 0)),
						 json_object_get_string(json_object_array_get_idx(it, 1)));
		}
	}
	infra_buf_printf(&b, " (JSON-RPC error %lld%s%s)", (long long)code, errname ? ", " : "", errname ? errname : "");
	infra_err_set(err, rc, "%s", b.data ? b.data : method);
	infra_buf_release(&b);
	return rc;
}

static int tn_rpc_send(struct infra_truenas *t, struct tn_call *c, size_t limit, struct infra_err *err)
{
	json_object *req = json_object_new_object();
	const char *s;
	size_t n;
	int rc;

	c->id = ++t->next_id;
	json_object_object_add(req, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(req, "id", json_object_new_int64(c->id));
	json_object_object_add(req, "method", json_object_new_string(c->method));
	json_object_object_add(req, "params", c->params ? json_object_get(c->params) : json_object_new_array());
	s = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	n = strlen(s);
	if (limit && n >= limit) {
		json_object_put(req);
		return infra_err_set(err, -EINVAL, "%s: the request is %zu bytes, over the server's %zu-byte limit",
				     c->method, n, limit);
	}
	rc = infra_ws_send(t->ws, INFRA_WS_TEXT, s, n, err);
	json_object_put(req);
	c->sent = 1;
	return rc;
}

/* Send every call (at most `cap` unanswered, TN_MAX_INFLIGHT at first) and collect the replies by
 * id.  A call refused with -32000 (too many concurrent calls) goes back in the queue and the cap
 * drops below what the server accepted.  Per-call failures go to calls[i].err; a negative return is
 * a transport failure. */
static int tn_rpc_run(struct infra_truenas *t, struct tn_call *calls, size_t n, size_t limit, struct infra_err *err)
{
	size_t done = 0, inflight = 0, cap = TN_MAX_INFLIGHT, next = 0, i;
	int rc;

	while (done < n) {
		char *msg = NULL;
		size_t len;
		enum infra_ws_opcode op;
		json_object *root = NULL, *idv = NULL, *e = NULL, *res = NULL;
		struct infra_err perr = INFRA_ERR_INIT;
		struct tn_call *c = NULL;
		int64_t id;

		for (i = 0; i < n && inflight < cap; i++) {
			struct tn_call *s = &calls[(next + i) % n];

			if (s->sent || s->done)
				continue;
			if ((rc = tn_rpc_send(t, s, limit, err)))
				return rc;
			inflight++;
		}
		if ((rc = infra_ws_recv(t->ws, &msg, &len, &op, 0, err)))
			return rc;
		if (op != INFRA_WS_TEXT) {
			free(msg);
			continue;
		}
		/* the reply to a mapped query: its result list converted item by item */
		root = tn_parse_mapped(t, calls, n, msg, len);
		rc = root ? 0 : infra_json_parse(msg, len, &root, &perr);
		free(msg);
		if (rc)
			return infra_err_set(err, -EPROTO, "%s: invalid JSON-RPC reply: %s", t->shown, perr.msg);
		if (!json_object_is_type(root, json_type_object)) {
			json_object_put(root);
			return infra_err_set(err, -EPROTO, "%s: invalid JSON-RPC reply: not an object", t->shown);
		}
		if (!json_object_object_get_ex(root, "id", &idv) || json_object_is_type(idv, json_type_null)) {
			/* a notification (collection_update, ...) or an error without id */
			if (json_object_object_get_ex(root, "error", &e) && json_object_is_type(e, json_type_object)) {
				tn_rpc_error("request", e, err);
				json_object_put(root);
				return infra_err_set(err, -EPROTO, "%s: the server rejected a request: %s", t->shown,
						     err ? err->msg : "");
			}
			json_object_put(root);
			continue;
		}
		id = json_object_get_int64(idv);
		for (i = 0; i < n; i++)
			if (calls[i].sent && !calls[i].done && calls[i].id == id)
				c = &calls[i];
		if (!c) {
			json_object_put(root);
			return infra_err_set(err, -EPROTO, "%s: JSON-RPC reply with an unknown id %lld", t->shown,
					     (long long)id);
		}
		inflight--;
		if (json_object_object_get_ex(root, "error", &e) && !json_object_is_type(e, json_type_null) &&
		    infra_json_opt_int64(e, "code", 0) == -32000 && c->busy < TN_MAX_BUSY_RETRIES) {
			/* the server's concurrency limit: send it again once fewer calls are open */
			c->busy++;
			c->sent = 0;
			next = (size_t)(c - calls);
			cap = inflight > 1 ? inflight : 1;
			json_object_put(root);
			continue;
		}
		c->done = 1;
		done++;
		if (json_object_object_get_ex(root, "error", &e) && !json_object_is_type(e, json_type_null)) {
			c->rc = tn_rpc_error(c->method, e, c->err);
		} else if (json_object_object_get_ex(root, "result", &res)) {
			c->result = json_object_get(res);
			c->rc = 0;
		} else {
			c->rc = infra_err_set(c->err, -EPROTO, "%s: reply without result or error", c->method);
		}
		json_object_put(root);
	}
	return 0;
}

static int tn_rpc_call1(struct infra_truenas *t, const char *method, json_object *params, size_t limit,
			json_object **result, struct infra_err *err)
{
	struct infra_err cerr = INFRA_ERR_INIT;
	struct tn_call c = { .q = -1 };
	int rc;

	c.method = method;
	c.params = params;
	c.err = &cerr;
	*result = NULL;
	if ((rc = tn_rpc_run(t, &c, 1, limit, err))) {
		json_object_put(c.result);
		return rc;
	}
	if (c.rc) {
		if (err)
			*err = cerr;
		return c.rc;
	}
	*result = c.result;
	return 0;
}

/* ---- REST ---- */

/* Interpret a REST response: 0 with *result, or a negative code with err set. */
static int tn_rest_result(const char *path, const struct infra_http_resp *resp, json_object **result,
			  struct infra_err *err)
{
	struct infra_err perr = INFRA_ERR_INIT;
	int rc = 0;

	*result = NULL;
	if (resp->status == 401 || resp->status == 403) {
		rc = infra_err_set(err, -EACCES, "GET %s: HTTP %ld: TrueNAS %s the API key", path, resp->status,
				   resp->status == 401 ? "rejected" : "refused this call for");
	} else if (resp->status == 404) {
		rc = infra_err_set(err, -ENOTSUP, "GET %s: HTTP 404: this TrueNAS has no such REST endpoint", path);
	} else if (resp->status != 200) {
		json_object *eb = NULL;
		const char *m = NULL;

		if (infra_json_parse(resp->body, resp->body_len, &eb, NULL) == 0)
			m = infra_json_opt_string(eb, "message", NULL);
		rc = infra_err_set(err, resp->status == 422 ? -EINVAL : -EIO, "GET %s: HTTP %ld%s%s", path,
				   resp->status, m ? ": " : "", m ? m : "");
		json_object_put(eb);
	} else if ((rc = infra_json_parse(resp->body, resp->body_len, result, &perr))) {
		rc = infra_err_set(err, -EPROTO, "GET %s: invalid JSON: %s", path, perr.msg);
	}
	return rc;
}

/* A REST GET request for path (under /api/v2.0); url and hdrs are the caller's storage (hdrs: 4
 * slots).  params [filters, options] become the GET body; *body_obj is then the caller's to put. */
static int tn_rest_req(struct infra_truenas *t, const char *path, json_object *params, char *url, size_t urlsz,
		       const char **hdrs, json_object **body_obj, struct infra_http_req *req, struct infra_err *err)
{
	const char *body = NULL;

	*body_obj = NULL;
	hdrs[0] = t->auth_header;
	hdrs[1] = "Accept: application/json";
	hdrs[2] = hdrs[3] = NULL;
	if ((size_t)snprintf(url, urlsz, "%s/api/v2.0%s%s", t->base, path[0] == '/' ? "" : "/", path) >= urlsz)
		return infra_err_set(err, -EINVAL, "REST path too long (%s)", path);
	if (params && json_object_is_type(params, json_type_array) && json_object_array_length(params) > 0) {
		/* restful.py maps a GET body {"query-filters","query-options"} to the query */
		json_object *b = json_object_new_object();

		json_object_object_add(b, "query-filters", json_object_get(json_object_array_get_idx(params, 0)));
		if (json_object_array_length(params) > 1)
			json_object_object_add(b, "query-options", json_object_get(json_object_array_get_idx(params, 1)));
		body = json_object_to_json_string_ext(b, JSON_C_TO_STRING_PLAIN);
		hdrs[2] = "Content-Type: application/json";
		*body_obj = b;
	}
	memset(req, 0, sizeof(*req));
	req->method = "GET";
	req->url = url;
	req->headers = hdrs;
	req->body = body;
	req->body_len = body ? strlen(body) : 0;
	return 0;
}

static int tn_rest_get(struct infra_truenas *t, const char *path, json_object *params, json_object **result,
		       struct infra_err *err)
{
	const char *hdrs[4];
	struct infra_http_req req;
	struct infra_http_resp resp = { 0 };
	char url[2048];
	json_object *b = NULL;
	int rc;

	*result = NULL;
	if ((rc = tn_rest_req(t, path, params, url, sizeof(url), hdrs, &b, &req, err)))
		return rc;
	rc = infra_http_do(t->http, &req, &resp, err);
	json_object_put(b);
	if (rc)
		return rc;
	rc = tn_rest_result(path, &resp, result, err);
	infra_http_resp_release(&resp);
	return rc;
}

/* One GET of a REST query_many, run in a batch. */
struct tn_rest_job {
	const char *path;
	json_object *result;
	struct infra_err *err;
	int rc, transport;
};

static void tn_rest_done(void *ud, const struct infra_http_req *req, struct infra_http_resp *resp, int rc,
			 const struct infra_err *e)
{
	struct tn_rest_job *j = ud;

	(void)req;
	if (rc) {
		/* no HTTP response at all: the connection failed */
		if (j->err && e)
			*j->err = *e;
		j->rc = rc;
		j->transport = 1;
		return;
	}
	j->rc = tn_rest_result(j->path, resp, &j->result, j->err);
}

/* Run the GETs of a query_many concurrently on the shared connection cache. */
static int tn_rest_many(struct infra_truenas *t, size_t n, const enum infra_tn_query *q, json_object **results,
			struct infra_err *errs, struct infra_err *err)
{
	struct tn_rest_job *jobs = calloc(n ? n : 1, sizeof(*jobs));
	struct infra_http_batch *b = infra_http_batch_new(t->http, n > 8 ? 8 : (int)(n ? n : 1));
	int rc = 0;
	size_t i;

	if (!jobs || !b) {
		free(jobs);
		infra_http_batch_free(b);
		return infra_err_set(err, -ENOMEM, "out of memory");
	}
	for (i = 0; i < n && !rc; i++) {
		const char *hdrs[4];
		struct infra_http_req req;
		char url[2048];
		json_object *body = NULL;

		jobs[i].path = infra_truenas_method_for(q[i], t->version, 1);
		jobs[i].err = &errs[i];
		if (!jobs[i].path) {
			jobs[i].rc = -ENOTSUP;
			continue;
		}
		{
			/* the query-options (select, extra) go in a GET body, which restful.py takes
			 * only without a query string: the path's "?extra..." is in the body too */
			char path[256];
			json_object *params = tn_query_params(q[i]);

			snprintf(path, sizeof(path), "%.*s", (int)strcspn(jobs[i].path, "?"), jobs[i].path);
			if ((rc = tn_rest_req(t, path, params, url, sizeof(url), hdrs, &body, &req, &errs[i])) ||
			    (rc = infra_http_batch_add(b, &req, tn_rest_done, &jobs[i])))
				infra_err_set(err, rc, "GET %s: cannot queue the request", jobs[i].path);
			json_object_put(params);
		}
		json_object_put(body);
	}
	if (!rc)
		rc = infra_http_batch_run(b, err);
	for (i = 0; i < n; i++) {
		if (!rc && jobs[i].transport) {
			rc = jobs[i].rc;
			if (err)
				*err = errs[i];
		}
		if (jobs[i].result && json_object_is_type(jobs[i].result, json_type_array)) {
			results[i] = jobs[i].result;
		} else if (jobs[i].result) {
			infra_err_set(&errs[i], -EPROTO, "GET %s: not a JSON list", jobs[i].path);
			json_object_put(jobs[i].result);
		} else if (!errs[i].code) {
			infra_err_set(&errs[i], jobs[i].rc ? jobs[i].rc : -EIO, "GET %s: no answer",
				      jobs[i].path ? jobs[i].path : "(none)");
		}
	}
	infra_http_batch_free(b);
	free(jobs);
	return rc;
}

/* "pool.dataset.query" -> "/pool/dataset", "system.info" -> "/system/info"; a path stays. */
static void tn_rest_path(const char *method, char *out, size_t outsz)
{
	size_t i, o = 0, n = strlen(method);

	if (strchr(method, '/') || outsz < 2) {
		snprintf(out, outsz, "%s", method);
		return;
	}
	if (n > 6 && strcmp(method + n - 6, ".query") == 0)
		n -= 6;
	out[o++] = '/';
	for (i = 0; i < n && o + 1 < outsz; i++)
		out[o++] = method[i] == '.' ? '/' : method[i];
	out[o] = '\0';
}

/* ---- opening ---- */

static int tn_probe(struct infra_truenas *t, int *rest, struct infra_err *err)
{
	struct infra_http_req req = { 0 };
	struct infra_http_resp resp = { 0 };
	json_object *v = NULL;
	char url[1100];
	int rc;

	snprintf(url, sizeof(url), "%s/api/versions", t->base);
	req.url = url;
	if ((rc = infra_http_do(t->http, &req, &resp, err)))
		return rc;
	if (resp.status == 404) {
		*rest = 1;
	} else if (resp.status == 200 && infra_json_parse(resp.body, resp.body_len, &v, NULL) == 0 &&
		   json_object_is_type(v, json_type_array)) {
		*rest = 0;
	} else {
		rc = infra_err_set(err, -EPROTO, "%s/api/versions: %s%ld (expected a JSON list, or 404 for REST only)",
				   t->shown, resp.status == 200 ? "not a JSON list, HTTP " : "HTTP ", resp.status);
	}
	json_object_put(v);
	infra_http_resp_release(&resp);
	return rc;
}

static int tn_ws_open(struct infra_truenas *t, struct infra_err *err)
{
	struct infra_ws_opts wo = { 0 };
	char url[1100];
	int attempt, max = t->hopts.max_attempts > 0 ? t->hopts.max_attempts : 3, rc = 0;

	snprintf(url, sizeof(url), "%s://%s/api/current", t->tls ? "wss" : "ws", strstr(t->base, "://") + 3);
	wo.http = &t->hopts;
	wo.timeout_ms = t->hopts.timeout_ms;
	wo.max_message = t->hopts.max_body > INFRA_WS_DEFAULT_MAX_MESSAGE ? t->hopts.max_body : 0;
	for (attempt = 1; attempt <= max; attempt++) {
		rc = infra_ws_connect(&t->ws, url, &wo, err);
		/* retry what may pass: refused/reset connections and 5xx-like handshake failures */
		if (rc == 0 || rc == -EINVAL || rc == -EACCES || rc == -ENOENT || rc == -ENOMEM ||
		    (rc == -EPROTO && err && strstr(err->msg, "TLS")) || attempt == max)
			break;
		usleep((useconds_t)infra_http_backoff_ms(&t->hopts, attempt) * 1000);
	}
	if (rc == -ENOENT)
		infra_err_prefix(err, "no JSON-RPC API (TrueNAS 24.10 and older have only REST; try --truenas-api rest)");
	return rc;
}

static int tn_login(struct infra_truenas *t, struct infra_err *err)
{
	json_object *params = json_object_new_array(), *res = NULL, *info = NULL;
	const char *ver;
	int rc;

	json_object_array_add(params, json_object_new_string(t->key));
	rc = tn_rpc_call1(t, "auth.login_with_api_key", params, TN_PREAUTH_MAX, &res, err);
	json_object_put(params);
	if (rc == -EINVAL && err && strstr(err->msg, "over the server's"))
		return infra_err_set(err, -EINVAL, "the API key is too long: the login message would pass the "
				     "server's %d-byte limit before authentication", TN_PREAUTH_MAX);
	if (rc)
		return rc;
	if (!json_object_is_type(res, json_type_boolean) || !json_object_get_boolean(res)) {
		json_object_put(res);
		return infra_err_set(err, -EACCES, "%s: TrueNAS rejected the API key (auth.login_with_api_key "
				     "returned false: unknown, revoked or expired key)", t->shown);
	}
	json_object_put(res);
	if ((rc = tn_rpc_call1(t, "system.info", NULL, 0, &info, err)))
		return rc;
	ver = infra_json_opt_string(info, "version", NULL);
	snprintf(t->version, sizeof(t->version), "%s", ver ? ver : "unknown");
	json_object_put(info);
	return 0;
}

static int tn_rest_login(struct infra_truenas *t, struct infra_err *err)
{
	json_object *info = NULL;
	const char *ver;
	int rc = tn_rest_get(t, "/system/info", NULL, &info, err);

	if (rc == -ENOTSUP)
		return infra_err_set(err, -ENOTSUP, "%s has no REST API /api/v2.0 (removed in TrueNAS 26; use JSON-RPC)",
				     t->shown);
	if (rc)
		return rc;
	ver = infra_json_opt_string(info, "version", NULL);
	snprintf(t->version, sizeof(t->version), "%s", ver ? ver : "unknown");
	json_object_put(info);
	return 0;
}

int infra_truenas_open(struct infra_truenas **out, const struct infra_truenas_opts *o, struct infra_err *err)
{
	struct infra_truenas *t;
	struct infra_buf ah;
	int rest = 0, rc;

	*out = NULL;
	if (!o || !o->url || !o->url[0])
		return infra_err_set(err, -EINVAL, "no TrueNAS URL");
	if (!o->api_key || !o->api_key[0])
		return infra_err_set(err, -EINVAL, "no TrueNAS API key");
	if (strpbrk(o->api_key, "\r\n"))
		return infra_err_set(err, -EINVAL, "the TrueNAS API key contains a line break");
	if (!(t = calloc(1, sizeof(*t))))
		return infra_err_set(err, -ENOMEM, "out of memory");
	if ((rc = tn_parse_url(t, o->url, 1, err)))
		goto fail;
	if (o->http)
		t->hopts = *o->http;
	t->key = strdup(o->api_key);
	infra_buf_init(&ah, 0);
	if (!t->key || infra_buf_printf(&ah, "Authorization: Bearer %s", o->api_key)) {
		infra_buf_release(&ah);
		rc = infra_err_set(err, -ENOMEM, "out of memory");
		goto fail;
	}
	t->auth_header = infra_buf_steal(&ah, NULL);
	if (!(t->http = infra_http_new(&t->hopts, err))) {
		rc = err ? err->code : -ENOMEM;
		goto fail;
	}
	if (o->api == INFRA_TN_REST)
		rest = 1;
	else if (o->api == INFRA_TN_AUTO && (rc = tn_probe(t, &rest, err)))
		goto fail;
	t->rest = rest;
	if (rest)
		rc = tn_rest_login(t, err);
	else if (!(rc = tn_ws_open(t, err)))
		rc = tn_login(t, err);
	if (rc)
		goto fail;
	*out = t;
	return 0;
fail:
	tn_scrub(t, o->api_key, err);
	infra_truenas_close(t);
	return rc;
}

const char *infra_truenas_version(const struct infra_truenas *t)
{
	return t->version;
}

const char *infra_truenas_transport(const struct infra_truenas *t)
{
	return t->rest ? "rest" : "jsonrpc";
}

/* items of a list not converted while parsed: each replaced by map's conversion in place */
static void tn_map_after(struct infra_truenas *t, enum infra_tn_query q, json_object *a)
{
	for (size_t j = 0; j < json_object_array_length(a); j++) {
		json_object *m = t->map(q, json_object_array_get_idx(a, j), t->map_ud);

		if (m)
			json_object_array_put_idx(a, j, m);
	}
}

int infra_truenas_query_many(struct infra_truenas *t, size_t n, const enum infra_tn_query *q,
			     json_object **results, struct infra_err *errs, struct infra_err *err)
{
	return infra_truenas_query_map(t, n, q, NULL, NULL, results, errs, err);
}

int infra_truenas_query_map(struct infra_truenas *t, size_t n, const enum infra_tn_query *q, infra_truenas_map_fn map,
			    void *ud, json_object **results, struct infra_err *errs, struct infra_err *err)
{
	struct tn_call *calls;
	size_t i, k = 0;
	int rc = 0;

	if (!(calls = calloc(n ? n : 1, sizeof(*calls))))
		return infra_err_set(err, -ENOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		const char *m = infra_truenas_method_for(q[i], t->version, t->rest);

		results[i] = NULL;
		infra_err_clear(&errs[i]);
		if (!m) {
			infra_err_set(&errs[i], -ENOTSUP, "%s has no %s for query %d (%s)", t->version,
				      t->rest ? "REST endpoint" : "method", (int)q[i], t->rest ? "REST" : "JSON-RPC");
			continue;
		}
		if (t->rest)
			continue;
		calls[k].method = m;
		calls[k].params = tn_query_params(q[i]);
		calls[k].err = &errs[i];
		calls[k].id = (int64_t)i; /* index until sent */
		calls[k].q = (int)q[i];
		k++;
	}
	t->map = map;
	t->map_ud = ud;
	if (t->rest) {
		rc = tn_rest_many(t, n, q, results, errs, err);
		for (i = 0; map && i < n; i++)
			if (results[i])
				tn_map_after(t, q[i], results[i]);
	} else if (k) {
		rc = tn_rpc_run(t, calls, k, 0, err);
		for (i = 0, k = 0; i < n; i++) {
			struct tn_call *c;

			if (!infra_truenas_method_for(q[i], t->version, 0))
				continue;
			c = &calls[k++];
			if (rc == 0 && c->rc == 0 && !json_object_is_type(c->result, json_type_array)) {
				infra_err_set(&errs[i], -EPROTO, "%s: result is not a list", c->method);
				json_object_put(c->result);
			} else if (rc == 0 && c->rc == 0) {
				results[i] = c->result;
				if (map && !c->mapped)
					tn_map_after(t, q[i], results[i]);
			} else {
				json_object_put(c->result);
				if (rc && !errs[i].code)
					infra_err_set(&errs[i], rc, "%s: not answered (%s)", c->method,
						      err ? err->msg : "connection failed");
			}
			json_object_put(c->params);
		}
	}
	t->map = NULL;
	t->map_ud = NULL;
	free(calls);
	for (i = 0; i < n; i++)
		tn_scrub(t, NULL, &errs[i]);
	tn_scrub(t, NULL, err);
	return rc;
}

int infra_truenas_call(struct infra_truenas *t, const char *method, json_object *params,
		       json_object **result, struct infra_err *err)
{
	int rc;

	if (t->rest) {
		char path[512];

		tn_rest_path(method, path, sizeof(path));
		rc = tn_rest_get(t, path, params, result, err);
	} else {
		rc = tn_rpc_call1(t, method, params, 0, result, err);
	}
	tn_scrub(t, NULL, err);
	return rc;
}

void infra_truenas_close(struct infra_truenas *t)
{
	if (!t)
		return;
	if (t->ws) {
		infra_ws_close(t->ws, 1000, NULL, NULL);
		infra_ws_free(t->ws);
	}
	infra_http_free(t->http);
	if (t->key) {
		explicit_bzero(t->key, strlen(t->key));
		free(t->key);
	}
	if (t->auth_header) {
		explicit_bzero(t->auth_header, strlen(t->auth_header));
		free(t->auth_header);
	}
	free(t);
}
