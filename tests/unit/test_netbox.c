/* test_netbox.c - infra_netbox against tests/sim/netbox.py: batches of names,
 * paging by next (same origin only), parallel requests, both token forms,
 * 403, malformed JSON, 5xx, tenant/owner/custom field, the cache form. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "infra_http.h"
#include "infra_json.h"
#include "infra_netbox.h"
#include "sim.h"
#include "tap.h"

#define NDEV 120
#define TOKEN_V1 "0123456789abcdef0123456789abcdef01234567"
#define TOKEN_V2 "nbt_K3yId9.s3cr3tT0kenV2value"

static struct infra_http *H;
static char tmpdir[256];

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static json_object *world(int max_page_size, const char *next_base)
{
	json_object *w = json_object_new_object(), *devs = json_object_new_array(), *t;
	char name[32], rack[16];

	json_object_object_add(w, "tokens_v1", t = json_object_new_array());
	json_object_array_add(t, json_object_new_string(TOKEN_V1));
	json_object_object_add(w, "tokens_v2", t = json_object_new_array());
	json_object_array_add(t, json_object_new_string(TOKEN_V2));
	json_object_object_add(w, "page_size", json_object_new_int(50));
	json_object_object_add(w, "max_page_size", json_object_new_int(max_page_size));
	if (next_base)
		json_object_object_add(w, "next_base", json_object_new_string(next_base));
	for (int i = 1; i <= NDEV; i++) {
		json_object *d = json_object_new_object(), *cf = json_object_new_object();
		snprintf(name, sizeof(name), "gpu-%03d", i);
		snprintf(rack, sizeof(rack), "r%02d", i % 10);
		json_object_object_add(d, "name", json_object_new_string(name));
		json_object_object_add(d, "site", json_object_new_string(i % 2 ? "ams1" : "fra2"));
		json_object_object_add(d, "rack", i % 7 ? json_object_new_string(rack) : NULL);
		json_object_object_add(d, "tenant", i % 3 ? json_object_new_string("research") : NULL);
		json_object_object_add(d, "owner", json_object_new_string("team-a"));
		json_object_object_add(d, "status", json_object_new_string(i % 5 ? "active" : "offline"));
		json_object_object_add(cf, "billing", json_object_new_string(i % 2 ? "ml" : "hpc"));
		json_object_object_add(d, "custom_fields", cf);
		json_object_array_add(devs, d);
	}
	/* the same name twice (two sites): the lower id must win */
	{
		json_object *d = json_object_new_object();
		json_object_object_add(d, "name", json_object_new_string("gpu-007"));
		json_object_object_add(d, "site", json_object_new_string("zzz-later"));
		json_object_object_add(d, "id", json_object_new_int(9999));
		json_object_array_add(devs, d);
	}
	json_object_object_add(w, "devices", devs);
	return w;
}

static int sim_call(const char *base, const char *method, const char *path, json_object *body, json_object **out)
{
	char url[512];
	struct infra_http_req req = { .method = method, .url = url };
	struct infra_http_resp resp = { 0 };
	struct infra_err err = INFRA_ERR_INIT;
	const char *text = body ? json_object_to_json_string(body) : NULL;
	int rc;

	snprintf(url, sizeof(url), "%s%s", base, path);
	if (text) {
		req.body = text;
		req.body_len = strlen(text);
	}
	rc = infra_http_do(H, &req, &resp, &err);
	if (!rc && out)
		rc = infra_json_parse(resp.body, resp.body_len, out, &err);
	if (!rc && resp.status != 200)
		rc = -EIO;
	infra_http_resp_release(&resp);
	return rc;
}

static void set_world(const char *base, json_object *w)
{
	if (sim_call(base, "POST", "/_sim/world", w, NULL))
		tap_diag("POST /_sim/world failed");
	json_object_put(w);
}

static json_object *requests_log(const char *base)
{
	json_object *log = NULL;
	sim_call(base, "GET", "/_sim/requests", NULL, &log);
	return log;
}

static void add_fault(const char *base, const char *kind, int count)
{
	json_object *f = json_object_new_object();
	json_object_object_add(f, "path", json_object_new_string("^/api/dcim/devices/"));
	json_object_object_add(f, "kind", json_object_new_string(kind));
	json_object_object_add(f, "count", json_object_new_int(count));
	sim_call(base, "POST", "/_sim/fault", f, NULL);
	json_object_put(f);
}

static const char **names_list(size_t *n)
{
	static char buf[NDEV + 5][32];
	static const char *names[NDEV + 5];
	size_t k = 0;

	/* reverse order, three unknown names, one duplicate */
	for (int i = NDEV; i >= 1; i--) {
		snprintf(buf[k], sizeof(buf[k]), "gpu-%03d", i);
		names[k] = buf[k];
		k++;
	}
	names[k++] = "nope-1";
	names[k++] = "gpu-120";
	names[k++] = "nope-2";
	names[k++] = "nope 3&name=gpu-001";
	*n = k;
	return names;
}

static const struct infra_netbox_device *find(const struct infra_netbox_device *d, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(d[i].name, name) == 0)
			return &d[i];
	return NULL;
}

static void test_basic(const char *base)
{
	struct infra_netbox_opts o = { .url = base, .token = TOKEN_V1, .token_v2 = -1 };
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_netbox_device *d = NULL;
	const struct infra_netbox_device *x;
	size_t n = 0, nn;
	const char **names = names_list(&nn);
	json_object *log;
	int rc, batches = 0, tokens = 0, fieldsok = 0;

	rc = infra_netbox_devices(H, 4, &o, names, nn, &d, &n, &err);
	tap_ok(rc == 0, "v1 token: %zu names looked up (%s)", nn, err.msg);
	tap_inteq(n, NDEV, "every known device found, unknown names absent, the duplicate once");
	tap_ok(n > 1 && strcmp(d[0].name, "gpu-120") == 0 && strcmp(d[n - 1].name, "gpu-001") == 0,
	       "devices come in the order of the names");
	x = find(d, n, "gpu-014");
	tap_ok(x && x->site && strcmp(x->site, "fra2") == 0 && x->rack == NULL && x->tenant && strcmp(x->tenant, "research") == 0 &&
		       strcmp(x->status, "active") == 0,
	       "gpu-014: site fra2, no rack (null), tenant research, active");
	x = find(d, n, "gpu-015");
	tap_ok(x && strcmp(x->rack, "r05") == 0 && x->tenant == NULL && strcmp(x->status, "offline") == 0,
	       "gpu-015: rack r05, tenant null, offline");
	x = find(d, n, "gpu-007");
	tap_ok(x && strcmp(x->site, "ams1") == 0, "a name NetBox returns twice keeps the lowest id (site %s)", x ? x->site : "-");

	log = requests_log(base);
	for (size_t i = 0; log && i < json_object_array_length(log); i++) {
		json_object *e = json_object_array_get_idx(log, i);
		const char *q = infra_json_opt_string(e, "query", "");
		if (strcmp(infra_json_opt_string(e, "path", ""), "/api/dcim/devices/") != 0)
			continue;
		batches++;
		tokens += strcmp(infra_json_opt_string(e, "auth", ""), "Token") == 0;
		fieldsok += strstr(q, "fields=id%2Cname%2Csite%2Crack%2Cstatus%2Ctenant") || strstr(q, "fields=id,name,site,rack,status,tenant");
		if (!strstr(q, "exclude=config_context") || !strstr(q, "limit=50") || strstr(q, "brief"))
			tap_diag("query without exclude/limit or with brief: %s", q);
	}
	tap_inteq(batches, 3, "124 names in batches of 50: 3 requests, no paging needed");
	tap_inteq(tokens, batches, "every request says 'Authorization: Token' (v1 token)");
	tap_inteq(fieldsok, batches, "every request selects fields=id,name,site,rack,status,tenant");
	json_object_put(log);
	{
		json_object *j = infra_netbox_devices_to_json(d, n);
		struct infra_netbox_device *back = NULL;
		size_t nb = 0;
		rc = infra_netbox_devices_from_json(j, &back, &nb, &err);
		tap_ok(rc == 0 && nb == n && strcmp(back[5].name, d[5].name) == 0 &&
			       ((!back[5].rack && !d[5].rack) || (back[5].rack && d[5].rack && !strcmp(back[5].rack, d[5].rack))),
		       "to_json/from_json round trip");
		infra_netbox_devices_free(back, nb);
		json_object_put(j);
		j = json_tokener_parse("{\"devices\":[{\"site\":\"x\"}]}");
		tap_inteq(infra_netbox_devices_from_json(j, &back, &nb, &err), -EPROTO, "from_json: a device without a name is refused");
		json_object_put(j);
	}
	infra_netbox_devices_free(d, n);
}

static void test_tokens(const char *base)
{
	struct infra_netbox_opts o = { .url = base, .token = TOKEN_V2, .token_v2 = -1 };
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_netbox_device *d = NULL;
	const char *one[] = { "gpu-001" };
	json_object *log;
	size_t n = 0;
	int rc;

	rc = infra_netbox_devices(H, 2, &o, one, 1, &d, &n, &err);
	tap_ok(rc == 0 && n == 1, "v2 token (nbt_...): found with auto header form (%s)", err.msg);
	infra_netbox_devices_free(d, n);
	log = requests_log(base);
	{
		json_object *last = json_object_array_get_idx(log, json_object_array_length(log) - 1);
		tap_streq(infra_json_opt_string(last, "auth", ""), "Bearer", "v2 token sent as 'Authorization: Bearer'");
	}
	json_object_put(log);

	o.token_v2 = 0; /* a v2 token forced into the v1 form: NetBox refuses it */
	rc = infra_netbox_devices(H, 2, &o, one, 1, &d, &n, &err);
	tap_ok(rc == -EACCES && strstr(err.msg, "HTTP 403") && strstr(err.msg, "Invalid token") && strstr(err.msg, "v1 token"),
	       "v2 token as 'Token': -EACCES naming 403, NetBox's detail and the form sent (%s)", err.msg);
	tap_ok(!strstr(err.msg, "s3cr3t") && !strstr(err.msg, "K3yId9"), "the token is not in the message");

	o.token = "wrong";
	o.token_v2 = -1;
	rc = infra_netbox_devices(H, 2, &o, one, 1, &d, &n, &err);
	tap_ok(rc == -EACCES && strstr(err.msg, "403"), "unknown token: -EACCES (%s)", err.msg);
	o.token = "";
	rc = infra_netbox_devices(H, 2, &o, one, 1, &d, &n, &err);
	tap_ok(rc == -EINVAL && strstr(err.msg, "no API token"), "empty token refused before any request (%s)", err.msg);
	o.token = TOKEN_V1;
	o.url = "ftp://netbox";
	rc = infra_netbox_devices(H, 2, &o, one, 1, &d, &n, &err);
	tap_ok(rc == -EINVAL, "a non-http URL is refused (%s)", err.msg);
	o.url = base;
	o.tenant_field = "bogus";
	rc = infra_netbox_devices(H, 2, &o, one, 1, &d, &n, &err);
	tap_ok(rc == -EINVAL && strstr(err.msg, "tenant field"), "an unknown tenant field is refused (%s)", err.msg);
	o.tenant_field = NULL;
	rc = infra_netbox_devices(H, 2, &o, NULL, 0, &d, &n, &err);
	tap_ok(rc == 0 && n == 0 && d == NULL, "no names: nothing asked, no devices");
}

static void test_tenant_fields(const char *base)
{
	struct infra_netbox_opts o = { .url = base, .token = TOKEN_V1, .token_v2 = 0, .tenant_field = "owner" };
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_netbox_device *d = NULL;
	const char *two[] = { "gpu-002", "gpu-003" };
	size_t n = 0;
	int rc;

	rc = infra_netbox_devices(H, 2, &o, two, 2, &d, &n, &err);
	tap_ok(rc == 0 && n == 2 && d[0].tenant && strcmp(d[0].tenant, "team-a") == 0, "tenant_field owner: owner.name");
	infra_netbox_devices_free(d, n);
	o.tenant_field = "cf:billing";
	rc = infra_netbox_devices(H, 2, &o, two, 2, &d, &n, &err);
	tap_ok(rc == 0 && n == 2 && strcmp(d[0].tenant, "hpc") == 0 && strcmp(d[1].tenant, "ml") == 0,
	       "tenant_field cf:billing: the custom field's value");
	infra_netbox_devices_free(d, n);
	o.tenant_field = "cf:absent";
	rc = infra_netbox_devices(H, 2, &o, two, 2, &d, &n, &err);
	tap_ok(rc == 0 && n == 2 && d[0].tenant == NULL, "an absent custom field: tenant NULL");
	infra_netbox_devices_free(d, n);
}

static void test_paging(const char *base)
{
	struct infra_netbox_opts o = { .url = base, .token = TOKEN_V1, .token_v2 = 0, .batch = 100 };
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_netbox_device *d = NULL;
	size_t n = 0, nn;
	const char **names = names_list(&nn);
	json_object *log;
	int rc, reqs = 0, nexts = 0;

	set_world(base, world(7, NULL)); /* MAX_PAGE_SIZE 7: limit=100 is cut, next links follow */
	log = requests_log(base);
	size_t since = log ? json_object_array_length(log) : 0;
	json_object_put(log);
	rc = infra_netbox_devices(H, 3, &o, names, nn, &d, &n, &err);
	tap_ok(rc == 0 && n == NDEV, "max_page_size 7: every device found by following next (%zu, %s)", n, err.msg);
	infra_netbox_devices_free(d, n);
	log = requests_log(base);
	for (size_t i = since; i < json_object_array_length(log); i++) {
		json_object *e = json_object_array_get_idx(log, i);
		if (strcmp(infra_json_opt_string(e, "path", ""), "/api/dcim/devices/") != 0)
			continue;
		reqs++;
		nexts += strstr(infra_json_opt_string(e, "query", ""), "offset=") != NULL;
	}
	json_object_put(log);
	/* 123 distinct names in batches of 100: 100 devices (15 pages) and 21 (gpu-007 twice: 3 pages) */
	tap_ok(nexts == 16 && reqs == nexts + 2, "pages after the first were fetched through next links (%d of %d requests)", nexts, reqs);

	{
		json_object *w = world(7, NULL);
		json_object_object_add(w, "relative_next", json_object_new_boolean(1));
		set_world(base, w);
	}
	rc = infra_netbox_devices(H, 3, &o, names, nn, &d, &n, &err);
	tap_ok(rc == 0 && n == NDEV, "relative next links (path?query) are followed on NetBox's own origin (%zu, %s)", n, err.msg);
	infra_netbox_devices_free(d, n);

	set_world(base, world(7, "http://127.0.0.2:9"));
	rc = infra_netbox_devices(H, 3, &o, names, nn, &d, &n, &err);
	tap_ok(rc == -EPROTO && strstr(err.msg, "next page is on http://127.0.0.2:9,") && strstr(err.msg, "refusing"),
	       "a next link on another origin is refused, never followed (%s)", err.msg);
	set_world(base, world(1000, NULL));
}

static void test_match_host(const char *base)
{
	const char *names[] = { "gpu-01", "GPU-02.dc9.example.org", "gpu-04", "gpu-05", "gpu-01.x", "." };
	const char *w = "{\"tokens_v1\": [\"" TOKEN_V1 "\"], \"devices\": ["
			"{\"id\": 1, \"name\": \"GPU-01.dc1.example.org\", \"site\": \"a\"},"
			"{\"id\": 2, \"name\": \"gpu-02\", \"site\": \"b\"},"
			"{\"id\": 3, \"name\": \"gpu-010\", \"site\": \"c\"},"
			"{\"id\": 5, \"name\": \"gpu-04.b.example\", \"site\": \"e\"},"
			"{\"id\": 4, \"name\": \"gpu-04.a.example\", \"site\": \"d\"},"
			"{\"id\": 6, \"name\": \"other\", \"site\": \"f\"}]}";
	struct infra_netbox_opts o = { .url = base, .token = TOKEN_V1, .token_v2 = 0, .match_host = 1 };
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_netbox_device *d = NULL;
	json_object *log;
	size_t n = 0, since;
	char key[16];
	int rc, ie = 0, isw = 0;

	set_world(base, json_tokener_parse(w));
	log = requests_log(base);
	since = json_object_array_length(log);
	json_object_put(log);
	rc = infra_netbox_devices(H, 2, &o, names, 6, &d, &n, &err);
	tap_ok(rc == 0 && n == 3, "match by host: 3 devices for 6 names (%zu, %s)", n, err.msg);
	tap_ok(n == 3 && !strcmp(d[0].name, "GPU-01.dc1.example.org") && !strcmp(d[1].name, "gpu-02") &&
		       !strcmp(d[2].name, "gpu-04.a.example"),
	       "gpu-01 finds GPU-01.dc1.example.org, GPU-02.dc9... finds gpu-02, gpu-04 the lower id of two; never gpu-010");
	infra_netbox_devices_free(d, n);
	log = requests_log(base);
	for (size_t i = since; i < json_object_array_length(log); i++) {
		const char *q = infra_json_opt_string(json_object_array_get_idx(log, i), "query", "");
		ie += strstr(q, "name__ie=gpu-01&name__ie=gpu-02&name__ie=gpu-04&name__ie=gpu-05&") != NULL;
		isw += strstr(q, "name__isw=gpu-01.&name__isw=gpu-02.") != NULL;
	}
	json_object_put(log);
	tap_ok(ie == 1 && isw == 1, "one name__ie= and one name__isw=<key>. request per batch, keys asked once");
	infra_netbox_host_key("GPU-01.dc1.example.org.", key, sizeof(key));
	tap_streq(key, "gpu-01", "host key: up to the first dot, lower case");
	infra_netbox_host_key("ABCDEFGHIJKLMNOPQRSTUVWXYZ", key, 5);
	tap_streq(key, "abcd", "host key: cut to the buffer");
	set_world(base, world(1000, NULL));
}

static void test_faults(const char *base)
{
	struct infra_netbox_opts o = { .url = base, .token = TOKEN_V1, .token_v2 = 0 };
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_netbox_device *d = NULL;
	const char *one[] = { "gpu-001" };
	size_t n = 0;
	int rc;

	add_fault(base, "malformed", 1);
	rc = infra_netbox_devices(H, 2, &o, one, 1, &d, &n, &err);
	tap_ok(rc == -EPROTO && strstr(err.msg, "malformed response") && strstr(err.msg, "invalid JSON"),
	       "malformed JSON: -EPROTO, clear message (%s)", err.msg);
	add_fault(base, "garbage", 1);
	rc = infra_netbox_devices(H, 2, &o, one, 1, &d, &n, &err);
	tap_ok(rc == -EPROTO, "an HTML page instead of JSON: -EPROTO (%s)", err.msg);
	add_fault(base, "503", 1);
	rc = infra_netbox_devices(H, 2, &o, one, 1, &d, &n, &err);
	tap_ok(rc == 0 && n == 1, "one 503: retried, then found (%s)", err.msg);
	infra_netbox_devices_free(d, n);
	add_fault(base, "500", 3);
	rc = infra_netbox_devices(H, 2, &o, one, 1, &d, &n, &err);
	tap_ok(rc == -EIO && strstr(err.msg, "HTTP 500"), "500 on every attempt: -EIO naming the status (%s)", err.msg);
}

static void test_parallel(void)
{
	struct infra_netbox_opts o = { .url = NULL, .token = TOKEN_V1, .token_v2 = 0, .batch = 20 };
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_netbox_device *d = NULL;
	char base[256], wpath[512];
	size_t n = 0, nn;
	const char **names = names_list(&nn);
	json_object *w = world(1000, NULL);
	double t0, par, ser;
	int rc;

	sim_write_file(tmpdir, "netbox-world.json", json_object_to_json_string(w), wpath, sizeof(wpath));
	json_object_put(w);
	{
		const char *a2[] = { "--latency-ms", "150", "--world", wpath, NULL };
		if (sim_start("netbox.py", a2, base, sizeof(base))) {
			tap_ok(0, "netbox.py with latency started");
			return;
		}
	}
	o.url = base;
	t0 = now_s();
	rc = infra_netbox_devices(H, 8, &o, names, nn, &d, &n, &err);
	par = now_s() - t0;
	infra_netbox_devices_free(d, n);
	t0 = now_s();
	rc |= infra_netbox_devices(H, 1, &o, names, nn, &d, &n, &err);
	ser = now_s() - t0;
	infra_netbox_devices_free(d, n);
	tap_ok(rc == 0, "7 batches at 150 ms each, concurrency 8 and 1 (%s)", err.msg);
	tap_ok(par < 0.6 && ser > 1.0, "batches run in parallel: %.2f s with 8 at once, %.2f s one by one", par, ser);
}

int main(void)
{
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_http_opts ho = { .timeout_ms = 10000, .backoff_base_ms = 20, .backoff_max_ms = 50 };
	char base[256], wpath[512];
	json_object *w;

	snprintf(tmpdir, sizeof(tmpdir), "%s", getenv("INFRA_TMP") ? getenv("INFRA_TMP") : "/tmp");
	infra_http_global_init(&err);
	H = infra_http_new(&ho, &err);
	w = world(1000, NULL);
	if (sim_write_file(tmpdir, "netbox-world.json", json_object_to_json_string(w), wpath, sizeof(wpath)) != 0) {
		tap_ok(0, "write the world file");
		return tap_done();
	}
	json_object_put(w);
	{
		const char *args[] = { "--world", wpath, NULL };
		if (sim_start("netbox.py", args, base, sizeof(base))) {
			tap_ok(0, "netbox.py started");
			return tap_done();
		}
	}
	test_basic(base);
	test_tokens(base);
	test_tenant_fields(base);
	test_paging(base);
	test_match_host(base);
	test_faults(base);
	test_parallel();
	sim_stop_all();
	infra_http_free(H);
	return tap_done();
}
