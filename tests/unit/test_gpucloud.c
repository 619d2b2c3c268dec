/* test_gpucloud.c - infra_hyperstack_gpus against tests/sim/hyperstack.py and
 * infra_runpod_gpus against tests/sim/runpod.py: paging, counting per GPU type
 * and state, auth, GraphQL errors with HTTP 200, malformed JSON, 5xx. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infra_gpucloud.h"
#include "infra_http.h"
#include "infra_json.h"
#include "sim.h"
#include "tap.h"

static struct infra_http *H;
static char tmpdir[256];

static long gpus_of(const struct infra_gpucloud_count *c, size_t n, const char *type, const char *state)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(c[i].gpu_type, type) == 0 && strcmp(c[i].state, state) == 0)
			return c[i].gpus;
	return -1;
}

static int sim_post(const char *base, const char *path, const char *body)
{
	char url[512];
	struct infra_http_req req = { .method = "POST", .url = url, .body = body, .body_len = strlen(body) };
	struct infra_http_resp resp = { 0 };
	int rc;

	snprintf(url, sizeof(url), "%s%s", base, path);
	rc = infra_http_do(H, &req, &resp, NULL);
	if (!rc && resp.status != 200)
		rc = -EIO;
	infra_http_resp_release(&resp);
	return rc;
}

/* Requests the simulator logged for path since `since`, and how many carried auth form `auth`. */
static int logged(const char *base, const char *path, int since, const char *auth, int *with_auth)
{
	char url[512];
	struct infra_http_req req = { .url = url };
	struct infra_http_resp resp = { 0 };
	json_object *log = NULL;
	int n = 0;

	*with_auth = 0;
	snprintf(url, sizeof(url), "%s/_sim/requests", base);
	if (infra_http_do(H, &req, &resp, NULL) == 0 && infra_json_parse(resp.body, resp.body_len, &log, NULL) == 0) {
		for (size_t i = (size_t)since; i < json_object_array_length(log); i++) {
			json_object *e = json_object_array_get_idx(log, i);
			if (strcmp(infra_json_opt_string(e, "path", ""), path) != 0)
				continue;
			n++;
			*with_auth += strcmp(infra_json_opt_string(e, "auth", ""), auth) == 0;
		}
	}
	json_object_put(log);
	infra_http_resp_release(&resp);
	return n;
}

/* 130 VMs: 40 H100 x8 ACTIVE, 5 H100 x8 SHUTOFF, 3 H100 x8 HIBERNATED, 30 L40 x1 ACTIVE,
 * 2 L40 x1 BUILD, 50 CPU VMs. */
static char *hs_world(int nvms_extra, int ignore_paging)
{
	json_object *w = json_object_new_object(), *vms = json_object_new_array();
	struct { const char *gpu, *status; int count, n; } groups[] = {
		{ "H100-80G-SXM5", "ACTIVE", 8, 40 }, { "H100-80G-SXM5", "SHUTOFF", 8, 5 },
		{ "H100-80G-SXM5", "HIBERNATED", 8, 3 }, { "L40", "ACTIVE", 1, 30 }, { "L40", "BUILD", 1, 2 },
		{ "", "ACTIVE", 0, 50 },
	};
	char *s;

	json_object_object_add(w, "api_key", json_object_new_string("hs-secret-key"));
	json_object_object_add(w, "ignore_paging", json_object_new_boolean(ignore_paging));
	for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++)
		for (int i = 0; i < groups[g].n + (g == 5 ? nvms_extra : 0); i++) {
			json_object *v = json_object_new_object();
			json_object_object_add(v, "gpu", json_object_new_string(groups[g].gpu));
			json_object_object_add(v, "gpu_count", json_object_new_int(groups[g].count));
			json_object_object_add(v, "status", json_object_new_string(groups[g].status));
			json_object_array_add(vms, v);
		}
	json_object_object_add(w, "vms", vms);
	s = strdup(json_object_to_json_string(w));
	json_object_put(w);
	return s;
}

static void test_hyperstack(void)
{
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_gpucloud_count *c = NULL;
	char base[256], api[300], wpath[512], *w = hs_world(0, 0);
	size_t n = 0;
	int rc, reqs, keyed;

	sim_write_file(tmpdir, "hs-world.json", w, wpath, sizeof(wpath));
	free(w);
	{
		const char *args[] = { "--world", wpath, NULL };
		if (sim_start("hyperstack.py", args, base, sizeof(base))) {
			tap_ok(0, "hyperstack.py started");
			return;
		}
	}
	snprintf(api, sizeof(api), "%s/v1/", base);
	rc = infra_hyperstack_gpus(H, api, "hs-secret-key", &c, &n, &err);
	tap_ok(rc == 0, "Hyperstack: 130 VMs listed (%s)", err.msg);
	tap_inteq(gpus_of(c, n, "H100-80G-SXM5", "used"), 320, "H100 used: 40 ACTIVE VMs x 8");
	tap_inteq(gpus_of(c, n, "H100-80G-SXM5", "stopped"), 64, "H100 stopped: SHUTOFF and HIBERNATED VMs hold none (8 x 8)");
	tap_inteq(gpus_of(c, n, "L40", "used"), 32, "L40 used: 30 ACTIVE + 2 BUILD");
	tap_inteq(n, 3, "CPU VMs are skipped: three (type, state) entries");
	tap_ok(n == 3 && strcmp(c[0].gpu_type, "H100-80G-SXM5") == 0 && strcmp(c[0].state, "stopped") == 0,
	       "sorted by type then state");
	{
		json_object *j = infra_gpucloud_counts_to_json(c, n);
		struct infra_gpucloud_count *b = NULL;
		size_t nb = 0;
		rc = infra_gpucloud_counts_from_json(j, &b, &nb, &err);
		tap_ok(rc == 0 && nb == n && gpus_of(b, nb, "L40", "used") == 32, "counts to_json/from_json round trip");
		infra_gpucloud_counts_free(b, nb);
		json_object_put(j);
	}
	infra_gpucloud_counts_free(c, n);
	reqs = logged(base, "/v1/core/virtual-machines", 0, "api_key", &keyed);
	tap_ok(reqs == 3 && keyed == 3, "3 pages of 50 (the last one short ends it), each with the api_key header (%d, %d)", reqs,
	       keyed);

	/* 150 VMs: three full pages, then an empty one */
	w = hs_world(20, 0);
	sim_post(base, "/_sim/world", w);
	free(w);
	{
		int before = logged(base, "/v1/core/virtual-machines", 0, "api_key", &keyed);
		rc = infra_hyperstack_gpus(H, api, "hs-secret-key", &c, &n, &err);
		reqs = logged(base, "/v1/core/virtual-machines", 0, "api_key", &keyed) - before;
	}
	tap_ok(rc == 0 && reqs == 4 && gpus_of(c, n, "H100-80G-SXM5", "used") == 320,
	       "150 VMs: 4 requests (the 4th page is empty), same counts (%d requests)", reqs);
	infra_gpucloud_counts_free(c, n);

	{
		/* a server that caps pageSize at 20: pages of 20 are full, not the last one */
		char *w2 = hs_world(20, 0);
		json_object *jw = json_tokener_parse(w2);
		json_object_object_add(jw, "max_page_size", json_object_new_int(20));
		sim_post(base, "/_sim/world", json_object_to_json_string(jw));
		json_object_put(jw);
		free(w2);
		int before = logged(base, "/v1/core/virtual-machines", 0, "api_key", &keyed);
		rc = infra_hyperstack_gpus(H, api, "hs-secret-key", &c, &n, &err);
		reqs = logged(base, "/v1/core/virtual-machines", 0, "api_key", &keyed) - before;
		tap_ok(rc == 0 && reqs == 8 && gpus_of(c, n, "H100-80G-SXM5", "used") == 320 && gpus_of(c, n, "L40", "used") == 32,
		       "pageSize capped at 20 by the server: 150 VMs in 7 full pages and a short one, nothing missed (%d requests)",
		       reqs);
		infra_gpucloud_counts_free(c, n);
	}

	w = hs_world(20, 1);
	sim_post(base, "/_sim/world", w);
	free(w);
	rc = infra_hyperstack_gpus(H, api, "hs-secret-key", &c, &n, &err);
	tap_ok(rc == -ELOOP && strstr(err.msg, "repeats"), "an API that ignores page= is caught, not looped on (%s)", err.msg);

	rc = infra_hyperstack_gpus(H, api, "wrong-key", &c, &n, &err);
	tap_ok(rc == -EACCES && strstr(err.msg, "HTTP 401") && !strstr(err.msg, "wrong-key"),
	       "wrong API key: -EACCES, key not in the message (%s)", err.msg);
	rc = infra_hyperstack_gpus(H, api, NULL, &c, &n, &err);
	tap_ok(rc == -EINVAL && strstr(err.msg, "no API key"), "no API key: refused before any request");

	w = hs_world(0, 0);
	sim_post(base, "/_sim/world", w);
	free(w);
	sim_post(base, "/_sim/fault", "{\"path\": \"virtual-machines\", \"kind\": \"malformed\", \"count\": 1, \"after\": 1}");
	rc = infra_hyperstack_gpus(H, api, "hs-secret-key", &c, &n, &err);
	tap_ok(rc == -EPROTO && strstr(err.msg, "malformed response") && strstr(err.msg, "page=2"),
	       "malformed JSON on page 2: -EPROTO naming the page (%s)", err.msg);
	sim_post(base, "/_sim/fault", "{\"path\": \"virtual-machines\", \"kind\": \"502\", \"count\": 1}");
	rc = infra_hyperstack_gpus(H, api, "hs-secret-key", &c, &n, &err);
	tap_ok(rc == 0 && gpus_of(c, n, "L40", "used") == 32, "one 502: retried, counts complete (%s)", err.msg);
	infra_gpucloud_counts_free(c, n);
	sim_post(base, "/_sim/fault", "{\"path\": \"virtual-machines\", \"kind\": \"500\", \"count\": -1}");
	rc = infra_hyperstack_gpus(H, api, "hs-secret-key", &c, &n, &err);
	tap_ok(rc == -EIO && strstr(err.msg, "HTTP 500") && c == NULL && n == 0, "500 every time: -EIO, nothing returned (%s)", err.msg);
}

static void test_runpod(void)
{
	const char *world =
		"{\"api_key\": \"rp-secret-key\", \"pods\": ["
		"{\"gpuCount\": 2, \"gpuDisplayName\": \"H100 80GB HBM3\", \"desiredStatus\": \"RUNNING\"},"
		"{\"gpuCount\": 2, \"gpuDisplayName\": \"H100 80GB HBM3\", \"desiredStatus\": \"RUNNING\"},"
		"{\"gpuCount\": 4, \"gpuDisplayName\": \"H100 80GB HBM3\", \"desiredStatus\": \"RUNNING\"},"
		"{\"gpuCount\": 1, \"gpuDisplayName\": \"H100 80GB HBM3\", \"desiredStatus\": \"EXITED\"},"
		"{\"gpuCount\": 1, \"gpuDisplayName\": \"RTX A6000\", \"desiredStatus\": \"RUNNING\"},"
		"{\"gpuCount\": 0, \"gpuDisplayName\": null, \"desiredStatus\": \"RUNNING\"},"
		"{\"gpuCount\": 3, \"gpuDisplayName\": null, \"desiredStatus\": \"RUNNING\"}]}";
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_gpucloud_count *c = NULL;
	char base[256], url[300], wpath[512];
	size_t n = 0;
	int rc, reqs, bearer;

	sim_write_file(tmpdir, "rp-world.json", world, wpath, sizeof(wpath));
	{
		const char *args[] = { "--world", wpath, NULL };
		if (sim_start("runpod.py", args, base, sizeof(base))) {
			tap_ok(0, "runpod.py started");
			return;
		}
	}
	snprintf(url, sizeof(url), "%s/graphql", base);
	rc = infra_runpod_gpus(H, url, "rp-secret-key", &c, &n, &err);
	tap_ok(rc == 0, "RunPod: pods listed; the query is valid for the simulated schema (%s)", err.msg);
	tap_inteq(gpus_of(c, n, "H100 80GB HBM3", "used"), 8, "H100 used: RUNNING pods 2+2+4");
	tap_inteq(gpus_of(c, n, "H100 80GB HBM3", "stopped"), 1, "H100 stopped: an EXITED pod");
	tap_inteq(gpus_of(c, n, "RTX A6000", "used"), 1, "A6000 used: 1");
	tap_inteq(gpus_of(c, n, "unknown", "used"), 3, "a GPU pod without machine info counts as 'unknown'");
	tap_inteq(n, 4, "a CPU pod (gpuCount 0) is skipped");
	infra_gpucloud_counts_free(c, n);
	reqs = logged(base, "/graphql", 0, "Bearer", &bearer);
	tap_ok(reqs == 1 && bearer == 1, "one POST with 'Authorization: Bearer' (never ?api_key=)");

	rc = infra_runpod_gpus(H, url, "bad", &c, &n, &err);
	tap_ok(rc == -EACCES && strstr(err.msg, "HTTP 401") && !strstr(err.msg, "bad)"), "bad key: -EACCES (%s)", err.msg);
	sim_post(base, "/_sim/fault", "{\"path\": \"graphql\", \"kind\": \"graphql\", \"count\": 1}");
	rc = infra_runpod_gpus(H, url, "rp-secret-key", &c, &n, &err);
	tap_ok(rc == -EIO && strstr(err.msg, "GraphQL error: Something went wrong") && c == NULL,
	       "HTTP 200 with errors: a failure naming the first message (%s)", err.msg);
	sim_post(base, "/_sim/fault", "{\"path\": \"graphql\", \"kind\": \"malformed\", \"count\": 1}");
	rc = infra_runpod_gpus(H, url, "rp-secret-key", &c, &n, &err);
	tap_ok(rc == -EPROTO && strstr(err.msg, "malformed response"), "malformed JSON: -EPROTO (%s)", err.msg);
	sim_post(base, "/_sim/fault", "{\"path\": \"graphql\", \"kind\": \"503\", \"count\": 1}");
	rc = infra_runpod_gpus(H, url, "rp-secret-key", &c, &n, &err);
	tap_ok(rc == 0 && n == 4, "one 503: the POST is retried (the query is idempotent) (%s)", err.msg);
	infra_gpucloud_counts_free(c, n);
	sim_post(base, "/_sim/world", "{\"api_key\": \"rp-secret-key\", \"pods\": []}");
	rc = infra_runpod_gpus(H, url, "rp-secret-key", &c, &n, &err);
	tap_ok(rc == 0 && n == 0, "no pods: no counts, no error");
	infra_gpucloud_counts_free(c, n);
	{
		json_object *bad = json_tokener_parse("[{\"gpu_type\": \"x\", \"state\": \"used\"}]");
		rc = infra_gpucloud_counts_from_json(bad, &c, &n, &err);
		tap_ok(rc == -EPROTO && c == NULL, "from_json: an entry without gpus is refused (%s)", err.msg);
		json_object_put(bad);
	}
}

int main(void)
{
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_http_opts ho = { .timeout_ms = 10000, .backoff_base_ms = 20, .backoff_max_ms = 50 };

	snprintf(tmpdir, sizeof(tmpdir), "%s", getenv("INFRA_TMP") ? getenv("INFRA_TMP") : "/tmp");
	infra_http_global_init(&err);
	H = infra_http_new(&ho, &err);
	test_hyperstack();
	test_runpod();
	sim_stop_all();
	infra_http_free(H);
	return tap_done();
}
