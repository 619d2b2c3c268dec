/* infra_cri.h - a tiny CRI client: RuntimeService/ListPodSandbox over gRPC.
 *
 * gRPC is HTTP/2 with 5-byte length-prefixed protobuf messages.  The request is
 * sent with infra_http over the CRI unix socket with HTTP/2 prior knowledge
 * (h2c): POST /runtime.v1.RuntimeService/ListPodSandbox, content-type
 * application/grpc, te: trailers, body ListPodSandboxRequest{filter{state{READY}}}.
 * The few protobuf fields needed (runtime.v1 api.proto: PodSandbox.id = 1,
 * .metadata = 2 {name = 1, uid = 2, namespace = 3}, .state = 3,
 * .runtime_handler = 7) are decoded by hand; unknown fields are skipped.
 * Success needs HTTP 200 and grpc-status 0 (in the trailers, or in the headers
 * of a trailers-only reply).
 *
 * Ownership: a struct infra_cri_list owns its pods and their strings.
 */
#ifndef INFRA_CRI_H
#define INFRA_CRI_H

#include <stddef.h>
#include <stdint.h>

#include "infra_err.h"
#include "infra_http.h"

struct infra_cri_pod {
	char *id;
	char *name, *uid, *namespace_; /* "" when absent */
	char *runtime_handler;         /* e.g. "kata", "kata-qemu", "runc"; "" when absent */
	int state;                     /* 0 = SANDBOX_READY, 1 = SANDBOX_NOTREADY */
};

struct infra_cri_list {
	struct infra_cri_pod *v;
	size_t n;
};

/* The gRPC request body (5-byte prefix + ListPodSandboxRequest); sets *len. */
const uint8_t *infra_cri_list_request(size_t *len);

/* Decode a gRPC response body: one uncompressed length-prefixed
 * ListPodSandboxResponse.  -EINVAL with err on malformed input. */
int infra_cri_decode_list(const uint8_t *data, size_t len, struct infra_cri_list *out,
			  struct infra_err *err);

/* Call ListPodSandbox on a unix socket path.  h must have been made with
 * http2_prior_knowledge set.  Errors start "CRI ListPodSandbox: " (the caller
 * names the socket). */
int infra_cri_list_pod_sandboxes(struct infra_http *h, const char *socket_path, long timeout_ms,
				 struct infra_cri_list *out, struct infra_err *err);

const struct infra_cri_pod *infra_cri_find(const struct infra_cri_list *l, const char *id);
void infra_cri_list_release(struct infra_cri_list *l);

#endif
