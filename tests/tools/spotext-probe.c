/* spotext-probe - test-only tool (not installed): drives infra_netbox,
 * infra_gpucloud and infra_cache from the shell so tests/tool/spotext-*.t can
 * check them end to end (against tests/sim/{netbox,hyperstack,runpod}.py) before
 * spot-agg uses them.  Secrets come from the environment (SPOTEXT_TOKEN), never
 * from argv.
 *
 *   spotext-probe netbox URL [-j N] [--batch N] [--tenant-field F] [--v1|--v2] [--by-host] NAME...
 *   spotext-probe hyperstack URL          spotext-probe runpod URL
 *   spotext-probe cache DIR get SOURCE TTL | put SOURCE (JSON on stdin) |
 *                           clear [SOURCE] | stats SOURCE...
 *
 * Output: one JSON document on stdout.  Errors: "spotext-probe: message" on
 * stderr, exit 1 (2 for usage).  cache get exits 0 on a fresh hit, 3 on a miss
 * (printing {"hit": false, "age": A, "doc": stale copy or null}). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infra_buf.h"
#include "infra_cache.h"
#include "infra_gpucloud.h"
#include "infra_http.h"
#include "infra_json.h"
#include "infra_netbox.h"

static int usage(void)
{
	fputs("usage: spotext-probe netbox URL [-j N] [--batch N] [--tenant-field F] [--v1|--v2] [--by-host] NAME...\n"
	      "       spotext-probe hyperstack|runpod URL\n"
	      "       spotext-probe cache DIR get SOURCE TTL | put SOURCE | clear [SOURCE] | stats SOURCE...\n",
	      stderr);
	return 2;
}

static int fail(const struct infra_err *e)
{
	fprintf(stderr, "spotext-probe: %s\n", e->msg);
	return 1;
}

static void print(json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
}

static int cache_cmd(int argc, char **argv)
{
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_cache *c;
	int rc = 0;

	if (argc < 4)
		return usage();
	if (infra_cache_open(&c, argv[2], &err))
		return fail(&err);
	if (!strcmp(argv[3], "get") && argc == 6) {
		json_object *doc = NULL, *o = json_object_new_object();
		double age;
		int hit = infra_cache_get(c, argv[4], strtol(argv[5], NULL, 10), &doc, &age, &err);
		if (hit < 0) {
			rc = fail(&err);
			json_object_put(o);
		} else {
			json_object_object_add(o, "hit", json_object_new_boolean(hit));
			json_object_object_add(o, "age", json_object_new_double(age));
			json_object_object_add(o, "doc", doc);
			print(o);
			rc = hit ? 0 : 3;
		}
	} else if (!strcmp(argv[3], "put") && argc == 5) {
		struct infra_buf in;
		char chunk[4096];
		size_t n;
		json_object *doc = NULL;
		infra_buf_init(&in, 0);
		while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
			infra_buf_append(&in, chunk, n);
		if (infra_json_parse(in.data ? in.data : "", in.len, &doc, &err) ||
		    infra_cache_put(c, argv[4], doc, &err))
			rc = fail(&err);
		json_object_put(doc);
		infra_buf_release(&in);
	} else if (!strcmp(argv[3], "clear") && argc <= 5) {
		if (infra_cache_clear(c, argc == 5 ? argv[4] : NULL, &err))
			rc = fail(&err);
	} else if (!strcmp(argv[3], "stats") && argc >= 5) {
		json_object *o = json_object_new_object();
		for (int i = 4; i < argc && !rc; i++) {
			struct infra_cache_stat st;
			json_object *s = json_object_new_object();
			if (infra_cache_stats(c, argv[i], &st, &err)) {
				rc = fail(&err);
				json_object_put(s);
				break;
			}
			json_object_object_add(s, "hits", json_object_new_int64((int64_t)st.hits));
			json_object_object_add(s, "misses", json_object_new_int64((int64_t)st.misses));
			json_object_object_add(s, "age", json_object_new_double(st.age_seconds));
			json_object_object_add(o, argv[i], s);
		}
		if (rc)
			json_object_put(o);
		else
			print(o);
	} else {
		rc = usage();
	}
	infra_cache_close(c);
	return rc;
}

int main(int argc, char **argv)
{
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_http_opts ho = { .timeout_ms = 10000, .backoff_base_ms = 20, .backoff_max_ms = 100 };
	const char *key = getenv("SPOTEXT_TOKEN");
	struct infra_http *h;
	int rc = 0;

	if (argc < 3)
		return usage();
	if (!strcmp(argv[1], "cache"))
		return cache_cmd(argc, argv);
	if (infra_http_global_init(&err) || !(h = infra_http_new(&ho, &err)))
		return fail(&err);
	if (!strcmp(argv[1], "netbox")) {
		struct infra_netbox_opts o = { .url = argv[2], .token = key, .token_v2 = -1 };
		struct infra_netbox_device *d = NULL;
		size_t n = 0;
		int j = 4, i = 3;
		for (; i < argc && argv[i][0] == '-'; i++) {
			if (!strcmp(argv[i], "-j") && i + 1 < argc)
				j = (int)strtol(argv[++i], NULL, 10);
			else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
				o.batch = (size_t)strtoul(argv[++i], NULL, 10);
			else if (!strcmp(argv[i], "--tenant-field") && i + 1 < argc)
				o.tenant_field = argv[++i];
			else if (!strcmp(argv[i], "--v1"))
				o.token_v2 = 0;
			else if (!strcmp(argv[i], "--v2"))
				o.token_v2 = 1;
			else if (!strcmp(argv[i], "--by-host"))
				o.match_host = 1;
			else
				return usage();
		}
		if (infra_netbox_devices(h, j, &o, (const char *const *)argv + i, (size_t)(argc - i), &d, &n, &err))
			rc = fail(&err);
		else
			print(infra_netbox_devices_to_json(d, n));
		infra_netbox_devices_free(d, n);
	} else if (!strcmp(argv[1], "hyperstack") || !strcmp(argv[1], "runpod")) {
		struct infra_gpucloud_count *c = NULL;
		size_t n = 0;
		int r = argv[1][0] == 'h' ? infra_hyperstack_gpus(h, argv[2], key, &c, &n, &err)
					  : infra_runpod_gpus(h, argv[2], key, &c, &n, &err);
		if (r)
			rc = fail(&err);
		else
			print(infra_gpucloud_counts_to_json(c, n));
		infra_gpucloud_counts_free(c, n);
	} else {
		rc = usage();
	}
	infra_http_free(h);
	return rc;
}
