/* kube-list - test-only tool (not installed): lists Kubernetes resources through
 * infra_kube, so the auth order, TLS, paging and error mapping are tested as a
 * process against tests/sim/kube.py (tests/tool/kube-*.t).
 *
 *   kube-list [--kube-api URL] [--kube-token-file F] [--kube-ca F] [--kubeconfig F]
 *             [--context C] [--cacert F] [--insecure] [--page-limit N] [--items] PATH...
 *
 * stdout: one JSON object {"server", "auth_source", "lists": {PATH: {"count", "names",
 * "pages", "restarts"} | {"error", "errno"}}} (with --items, "items" too).
 * Exit: 0 every list worked, 1 some list failed, 3 open failed (message on stderr).
 */
#include <argp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infra_http.h"
#include "infra_kube.h"

static struct infra_kube_opts ko;
static struct infra_http_opts ho;
static int with_items;
static char **paths;
static int npaths;

enum { O_API = 0x3000, O_TOKEN, O_CA, O_KCFG, O_CTX, O_CACERT, O_INSECURE, O_LIMIT, O_ITEMS };

static const struct argp_option options[] = {
	{ "kube-api", O_API, "URL", 0, "API server URL", 0 },
	{ "kube-token-file", O_TOKEN, "FILE", 0, "bearer token file", 0 },
	{ "kube-ca", O_CA, "FILE", 0, "CA of the API server", 0 },
	{ "kubeconfig", O_KCFG, "FILE", 0, "kubeconfig file", 0 },
	{ "context", O_CTX, "NAME", 0, "kubeconfig context", 0 },
	{ "cacert", O_CACERT, "FILE", 0, "generic CA bundle (the CLI's --cacert)", 0 },
	{ "insecure", O_INSECURE, 0, 0, "skip TLS verification", 0 },
	{ "page-limit", O_LIMIT, "N", 0, "items per page", 0 },
	{ "items", O_ITEMS, 0, 0, "print the items too", 0 },
	{ 0 }
};

static error_t parse(int key, char *arg, struct argp_state *state)
{
	char *end;

	switch (key) {
	case O_API: ko.api_url = arg; break;
	case O_TOKEN: ko.token_file = arg; break;
	case O_CA: ko.ca_file = arg; break;
	case O_KCFG: ko.kubeconfig = arg; break;
	case O_CTX: ko.context = arg; break;
	case O_CACERT: ho.cacert = arg; break;
	case O_INSECURE: ho.insecure = 1; break;
	case O_LIMIT:
		errno = 0;
		ko.page_limit = strtol(arg, &end, 10);
		if (errno || *end || ko.page_limit < 1)
			argp_error(state, "--page-limit: not a positive number: %s", arg);
		break;
	case O_ITEMS: with_items = 1; break;
	case ARGP_KEY_ARGS:
		paths = state->argv + state->next;
		npaths = state->argc - state->next;
		break;
	case ARGP_KEY_NO_ARGS:
		argp_error(state, "give at least one list path");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct argp ap = { options, parse, "PATH...", "List Kubernetes resources through infra_kube (test tool).", 0, 0, 0 };
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_kube *k;
	json_object *out, *lists;
	int failed = 0;

	if (argp_parse(&ap, argc, argv, 0, NULL, NULL) != 0)
		return 3;
	ho.max_attempts = 2;
	ho.backoff_base_ms = 50;
	ko.http = &ho;
	if (infra_http_global_init(&err) < 0 || infra_kube_open(&k, &ko, &err) < 0) {
		fprintf(stderr, "kube-list: %s\n", err.msg);
		return 3;
	}
	out = json_object_new_object();
	lists = json_object_new_object();
	json_object_object_add(out, "server", json_object_new_string(infra_kube_server(k)));
	json_object_object_add(out, "auth_source", json_object_new_string(infra_kube_auth_source(k)));
	json_object_object_add(out, "lists", lists);
	for (int i = 0; i < npaths; i++) {
		json_object *items = NULL, *r = json_object_new_object();
		int rc = infra_kube_list(k, paths[i], &items, &err);

		json_object_object_add(r, "pages", json_object_new_int(infra_kube_last_pages(k)));
		json_object_object_add(r, "restarts", json_object_new_int(infra_kube_last_restarts(k)));
		if (rc < 0) {
			failed = 1;
			json_object_object_add(r, "error", json_object_new_string(err.msg));
			json_object_object_add(r, "errno", json_object_new_string(strerrorname_np(-rc) ? strerrorname_np(-rc) : "?"));
		} else {
			json_object *names = json_object_new_array();

			for (size_t j = 0; j < json_object_array_length(items); j++) {
				json_object *m, *n;

				if (json_object_object_get_ex(json_object_array_get_idx(items, j), "metadata", &m) &&
				    json_object_object_get_ex(m, "name", &n))
					json_object_array_add(names, json_object_get(n));
			}
			json_object_object_add(r, "count", json_object_new_int((int)json_object_array_length(items)));
			json_object_object_add(r, "names", names);
			if (with_items)
				json_object_object_add(r, "items", items);
			else
				json_object_put(items);
		}
		json_object_object_add(lists, paths[i], r);
	}
	puts(json_object_to_json_string_ext(out, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(out);
	infra_kube_close(k);
	return failed ? 1 : 0;
}
