#include "infra_gpucloud.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "infra_buf.h"
#include "infra_json.h"

#define HS_PAGE_SIZE 50
#define HS_MAX_PAGES 10000

struct counts {
	struct infra_gpucloud_count *c;
	size_t n, cap;
};

void infra_gpucloud_counts_free(struct infra_gpucloud_count *c, size_t n)
{
	if (!c)
		return;
	for (size_t i = 0; i < n; i++) {
		free(c[i].gpu_type);
		free(c[i].state);
	}
	free(c);
}

static int add_count(struct counts *cs, const char *type, const char *state, long gpus)
{
	size_t i;

	for (i = 0; i < cs->n; i++)
		if (strcmp(cs->c[i].gpu_type, type) == 0 && strcmp(cs->c[i].state, state) == 0) {
			cs->c[i].gpus += gpus;
			return 0;
		}
	if (cs->n == cs->cap) {
		size_t nc = cs->cap ? cs->cap * 2 : 8;
		struct infra_gpucloud_count *p = realloc(cs->c, nc * sizeof(*p));
		if (!p)
			return -ENOMEM;
		cs->c = p;
		cs->cap = nc;
	}
	cs->c[cs->n].gpu_type = strdup(type);
	cs->c[cs->n].state = strdup(state);
	cs->c[cs->n].gpus = gpus;
	cs->n++;
	if (!cs->c[cs->n - 1].gpu_type || !cs->c[cs->n - 1].state)
		return -ENOMEM;
	return 0;
}

static int cmp_count(const void *a, const void *b)
{
	const struct infra_gpucloud_count *x = a, *y = b;
	int r = strcmp(x->gpu_type, y->gpu_type);

	return r ? r : strcmp(x->state, y->state);
}

static int finish(struct counts *cs, int rc, struct infra_gpucloud_count **out, size_t *n)
{
	if (rc) {
		infra_gpucloud_counts_free(cs->c, cs->n);
		return rc;
	}
	if (cs->n)
		qsort(cs->c, cs->n, sizeof(*cs->c), cmp_count);
	*out = cs->c;
	*n = cs->n;
	return 0;
}

/* A status answer that is not 2xx: -EACCES for 401/403, else -EIO. */
static int http_status_err(const char *what, const char *shown, long status, struct infra_err *err)
{
	if (status == 401 || status == 403)
		return infra_err_set(err, -EACCES, "%s %s: HTTP %ld (API key rejected)", what, shown, status);
	return infra_err_set(err, -EIO, "%s %s: HTTP %ld", what, shown, status);
}

static char *header_line(const char *name, const char *prefix, const char *key)
{
	struct infra_buf b;

	infra_buf_init(&b, 0);
	if (infra_buf_printf(&b, "%s: %s%s", name, prefix, key)) {
		infra_buf_release(&b);
		return NULL;
	}
	return infra_buf_steal(&b, NULL);
}

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static int hs_freed(const char *status)
{
	static const char *const freed[] = { INFRA_HYPERSTACK_FREED };

	for (size_t i = 0; i < sizeof(freed) / sizeof(freed[0]); i++)
		if (strcasecmp(status, freed[i]) == 0)
			return 1;
	return 0;
}

/* Count one page's instances; *nitems = how many; *first_id = the first id (loop check). */
static int hs_page(json_object *body, const char *shown, struct counts *cs, size_t *nitems, long long *first_id,
		   struct infra_err *err)
{
	json_object *arr, *st;
	struct infra_err e = INFRA_ERR_INIT;

	st = json_object_object_get(body, "status");
	if (st && json_object_is_type(st, json_type_boolean) && !json_object_get_boolean(st))
		return infra_err_set(err, -EIO, "Hyperstack GET %s: request failed: %.200s", shown,
				     infra_json_opt_string(body, "message", "(no message)"));
	if (infra_json_get_array(body, "instances", &arr, &e))
		return infra_err_set(err, -EPROTO, "Hyperstack GET %s: not a VM list (%s)", shown, e.msg);
	*nitems = json_object_array_length(arr);
	*first_id = *nitems ? infra_json_opt_int64(json_object_array_get_idx(arr, 0), "id", -1) : -1;
	for (size_t i = 0; i < *nitems; i++) {
		json_object *vm = json_object_array_get_idx(arr, i), *gc = NULL;
		const char *gpu, *status;
		int64_t count;

		if (!json_object_is_type(vm, json_type_object))
			return infra_err_set(err, -EPROTO, "Hyperstack GET %s: instances[%zu] is not an object", shown, i);
		gpu = infra_json_opt_string(vm, "flavor.gpu", NULL);
		if (!gpu || !*gpu)
			continue; /* a CPU flavor (or no flavor) */
		if (infra_json_get(vm, "flavor.gpu_count", &gc, NULL) || !gc)
			continue;
		if (infra_json_get_int64(vm, "flavor.gpu_count", &count, &e))
			return infra_err_set(err, -EPROTO, "Hyperstack GET %s: instances[%zu]: %s", shown, i, e.msg);
		if (count <= 0)
			continue;
		status = infra_json_opt_string(vm, "status", "");
		if (add_count(cs, gpu, hs_freed(status) ? "stopped" : "used", (long)count))
			return infra_err_set(err, -ENOMEM, "Hyperstack: out of memory");
	}
	return 0;
}

int infra_hyperstack_gpus(struct infra_http *h, const char *url, const char *api_key,
			  struct infra_gpucloud_count **out, size_t *n, struct infra_err *err)
{
	struct counts cs = { 0 };
	const char *base = url && *url ? url : INFRA_HYPERSTACK_URL;
	char *auth, shown[300];
	const char *hdrs[3];
	size_t bl = strlen(base);
	long long prev_first = -2;
	int rc = 0;

	*out = NULL;
	*n = 0;
	if (!api_key || !*api_key)
		return infra_err_set(err, -EINVAL, "Hyperstack %s: no API key", base);
	while (bl > 0 && base[bl - 1] == '/')
		bl--;
	auth = header_line("api_key", "", api_key);
	if (!auth)
		return infra_err_set(err, -ENOMEM, "Hyperstack: out of memory");
	hdrs[0] = auth;
	hdrs[1] = "Accept: application/json";
	hdrs[2] = NULL;
	for (int page = 1; !rc; page++) {
		struct infra_http_req req = { .method = "GET", .headers = hdrs };
		struct infra_http_resp resp = { 0 };
		json_object *body = NULL;
		struct infra_err e = INFRA_ERR_INIT;
		char pageurl[1200];
		size_t items = 0, full = HS_PAGE_SIZE;
		long long first = -1;

		if (page > HS_MAX_PAGES) {
			rc = infra_err_set(err, -ELOOP, "Hyperstack %.*s: more than %d pages", (int)bl, base, HS_MAX_PAGES);
			break;
		}
		if (snprintf(pageurl, sizeof(pageurl), "%.*s/core/virtual-machines?page=%d&pageSize=%d", (int)bl, base,
			     page, HS_PAGE_SIZE) >= (int)sizeof(pageurl)) {
			rc = infra_err_set(err, -EINVAL, "Hyperstack: URL too long");
			break;
		}
		req.url = pageurl;
		infra_http_mask_url(pageurl, shown, sizeof(shown));
		rc = infra_http_do(h, &req, &resp, &e);
		if (rc) {
			infra_err_set(err, rc, "Hyperstack: %s", e.msg);
			break;
		}
		if (resp.status < 200 || resp.status > 299) {
			rc = http_status_err("Hyperstack GET", shown, resp.status, err);
		} else if (infra_json_parse(resp.body, resp.body_len, &body, &e)) {
			rc = infra_err_set(err, -EPROTO, "Hyperstack GET %s: malformed response: %s", shown, e.msg);
		} else {
			int64_t ps = infra_json_opt_int64(body, "page_size", 0);
			rc = hs_page(body, shown, &cs, &items, &first, err);
			if (ps > 0 && ps < HS_PAGE_SIZE)
				full = (size_t)ps; /* the server caps pageSize: a page of that size is full */
			if (!rc && items && first == prev_first)
				rc = infra_err_set(err, -ELOOP, "Hyperstack GET %s: the page repeats the previous one (paging ignored)",
						   shown);
		}
		json_object_put(body);
		infra_http_resp_release(&resp);
		if (rc || items == 0 || items < full)
			break;
		prev_first = first;
	}
	wipe_free(auth);
	return finish(&cs, rc, out, n);
}

int infra_runpod_gpus(struct infra_http *h, const char *url, const char *api_key,
		      struct infra_gpucloud_count **out, size_t *n, struct infra_err *err)
{
	struct counts cs = { 0 };
	const char *base = url && *url ? url : INFRA_RUNPOD_URL;
	struct infra_http_req req = { .method = "POST", .retry_post = 1 };
	struct infra_http_resp resp = { 0 };
	struct infra_err e = INFRA_ERR_INIT;
	json_object *body = NULL, *q, *errors, *pods;
	const char *hdrs[4], *qs;
	char *auth, shown[300];
	int rc = 0;

	*out = NULL;
	*n = 0;
	if (!api_key || !*api_key)
		return infra_err_set(err, -EINVAL, "RunPod %s: no API key", base);
	infra_http_mask_url(base, shown, sizeof(shown));
	auth = header_line("Authorization", "Bearer ", api_key);
	q = json_object_new_object();
	json_object_object_add(q, "query", json_object_new_string(INFRA_RUNPOD_QUERY));
	qs = json_object_to_json_string_ext(q, JSON_C_TO_STRING_PLAIN);
	if (!auth || !qs) {
		wipe_free(auth);
		json_object_put(q);
		return infra_err_set(err, -ENOMEM, "RunPod: out of memory");
	}
	hdrs[0] = auth;
	hdrs[1] = "Content-Type: application/json";
	hdrs[2] = "Accept: application/json";
	hdrs[3] = NULL;
	req.url = base;
	req.headers = hdrs;
	req.body = qs;
	req.body_len = strlen(qs);
	rc = infra_http_do(h, &req, &resp, &e);
	wipe_free(auth);
	json_object_put(q);
	if (rc)
		return infra_err_set(err, rc, "RunPod: %s", e.msg);
	if (resp.status < 200 || resp.status > 299) {
		rc = http_status_err("RunPod POST", shown, resp.status, err);
		goto out;
	}
	if (infra_json_parse(resp.body, resp.body_len, &body, &e)) {
		rc = infra_err_set(err, -EPROTO, "RunPod POST %s: malformed response: %s", shown, e.msg);
		goto out;
	}
	errors = json_object_object_get(body, "errors");
	if (errors && !json_object_is_type(errors, json_type_null)) {
		const char *msg = json_object_is_type(errors, json_type_array) && json_object_array_length(errors) > 0
					  ? infra_json_opt_string(json_object_array_get_idx(errors, 0), "message", NULL)
					  : NULL;
		rc = infra_err_set(err, -EIO, "RunPod POST %s: GraphQL error: %.200s", shown, msg ? msg : "(no message)");
		goto out;
	}
	if (infra_json_get_array(body, "data.myself.pods", &pods, &e)) {
		rc = infra_err_set(err, -EPROTO, "RunPod POST %s: not a pod list (%s)", shown, e.msg);
		goto out;
	}
	for (size_t i = 0; i < json_object_array_length(pods) && !rc; i++) {
		json_object *pod = json_object_array_get_idx(pods, i);
		const char *gpu, *status;
		int64_t count;

		if (!json_object_is_type(pod, json_type_object)) {
			rc = infra_err_set(err, -EPROTO, "RunPod POST %s: pods[%zu] is not an object", shown, i);
			break;
		}
		if (infra_json_get_int64(pod, "gpuCount", &count, &e)) {
			rc = infra_err_set(err, -EPROTO, "RunPod POST %s: pods[%zu]: %s", shown, i, e.msg);
			break;
		}
		if (count <= 0)
			continue; /* a CPU pod */
		gpu = infra_json_opt_string(pod, "machine.gpuDisplayName", NULL);
		status = infra_json_opt_string(pod, "desiredStatus", "");
		if (add_count(&cs, gpu && *gpu ? gpu : "unknown", strcmp(status, "RUNNING") == 0 ? "used" : "stopped",
			      (long)count))
			rc = infra_err_set(err, -ENOMEM, "RunPod: out of memory");
	}
out:
	json_object_put(body);
	infra_http_resp_release(&resp);
	return finish(&cs, rc, out, n);
}

json_object *infra_gpucloud_counts_to_json(const struct infra_gpucloud_count *c, size_t n)
{
	json_object *arr = json_object_new_array();

	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "gpu_type", json_object_new_string(c[i].gpu_type));
		json_object_object_add(o, "state", json_object_new_string(c[i].state));
		json_object_object_add(o, "gpus", json_object_new_int64(c[i].gpus));
		json_object_array_add(arr, o);
	}
	return arr;
}

int infra_gpucloud_counts_from_json(json_object *doc, struct infra_gpucloud_count **out, size_t *n,
				    struct infra_err *err)
{
	struct counts cs = { 0 };
	int rc = 0;

	*out = NULL;
	*n = 0;
	if (!json_object_is_type(doc, json_type_array))
		return infra_err_set(err, -EPROTO, "GPU counts: not an array");
	for (size_t i = 0; i < json_object_array_length(doc) && !rc; i++) {
		json_object *o = json_object_array_get_idx(doc, i);
		const char *t, *s;
		int64_t g;
		if (infra_json_get_string(o, "gpu_type", &t, err) || infra_json_get_string(o, "state", &s, err) ||
		    infra_json_get_int64(o, "gpus", &g, err))
			rc = -EPROTO;
		else if (add_count(&cs, t, s, (long)g))
			rc = infra_err_set(err, -ENOMEM, "out of memory");
	}
	return finish(&cs, rc, out, n);
}
