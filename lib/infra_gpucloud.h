/* infra_gpucloud.h - GPUs in use on external GPU clouds (Hyperstack, RunPod).
 *
 * Hyperstack (NexGen Cloud Infrahub REST): GET <url>/core/virtual-machines
 * ?page=N&pageSize=50 with header "api_key: <key>", pages until a short or
 * empty page (short against the envelope's `page_size` when the server caps it
 * lower; `count` is not trusted as a grand total), a page that repeats the
 * previous one is an error (-ELOOP: the server ignores page=); every
 * VM's flavor.gpu (model) and flavor.gpu_count.  url default (NULL):
 * https://infrahub-api.nexgencloud.com/v1.  A body with "status": false is a
 * failure naming its `message`.
 *
 * RunPod (GraphQL): POST <url> (default https://api.runpod.io/graphql) with
 * "Authorization: Bearer <key>" and {"query": INFRA_RUNPOD_QUERY}; the pods
 * you rent (myself.pods: gpuCount, desiredStatus, machine.gpuDisplayName).
 * HTTP 200 with an `errors` array is a failure naming the first message.
 *
 * Counts: one entry per (gpu_type, state), sorted by gpu_type then state.
 * state "used": the VM/pod holds its GPUs (Hyperstack: every status but the
 * ones that release the GPU, see INFRA_HYPERSTACK_FREED; RunPod: desiredStatus
 * RUNNING); "stopped": it exists but holds none (counted for the report, never
 * in "used").  VMs/pods without a GPU are skipped.
 *
 * Errors: 401/403 -> -EACCES ("HTTP 401 (API key rejected)"), other non-2xx
 * -> -EIO, bad JSON or shape -> -EPROTO; the key is never in a message.
 * Ownership: *out malloc'd, free with infra_gpucloud_counts_free.
 */
#ifndef INFRA_GPUCLOUD_H
#define INFRA_GPUCLOUD_H

#include <stddef.h>

#include <json-c/json.h>

#include "infra_err.h"
#include "infra_http.h"

#define INFRA_HYPERSTACK_URL "https://infrahub-api.nexgencloud.com/v1"
#define INFRA_RUNPOD_URL "https://api.runpod.io/graphql"
/* Hyperstack VM statuses whose GPUs are released (compared case-insensitively). */
#define INFRA_HYPERSTACK_FREED "HIBERNATED", "SHUTOFF", "DELETED", "DELETING", "ERROR", "HIBERNATING"
/* The GraphQL document sent to RunPod (tests validate it against the schema). */
#define INFRA_RUNPOD_QUERY \
	"query spotAggPods { myself { pods { id desiredStatus gpuCount machine { gpuDisplayName } } } }"

struct infra_gpucloud_count {
	char *gpu_type;
	char *state;   /* "used" | "stopped" */
	long gpus;
};

int infra_hyperstack_gpus(struct infra_http *h, const char *url, const char *api_key,
			  struct infra_gpucloud_count **out, size_t *n, struct infra_err *err);
int infra_runpod_gpus(struct infra_http *h, const char *url, const char *api_key,
		      struct infra_gpucloud_count **out, size_t *n, struct infra_err *err);
void infra_gpucloud_counts_free(struct infra_gpucloud_count *c, size_t n);

/* Counts as JSON ([{"gpu_type","state","gpus"}]) and back, for the cache. */
json_object *infra_gpucloud_counts_to_json(const struct infra_gpucloud_count *c, size_t n);
int infra_gpucloud_counts_from_json(json_object *doc, struct infra_gpucloud_count **out, size_t *n,
				    struct infra_err *err);

#endif
