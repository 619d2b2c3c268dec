/* infra_kube.h - read-only Kubernetes API client (list endpoints) for nasmon-check.
 *
 * Credentials, first source that names an API server wins:
 *   1. flags: opts.api_url (--kube-api), with opts.token_file (--kube-token-file,
 *      read on open, trailing whitespace dropped) and opts.ca_file (--kube-ca);
 *   2. kubeconfig: opts.kubeconfig, else $KUBECONFIG (a colon-separated list: only
 *      the FIRST file is read; merging several files is not supported), else
 *      ~/.kube/config; the context opts.context or current-context.  Supported:
 *      cluster server, certificate-authority (file) / certificate-authority-data
 *      (base64), insecure-skip-tls-verify; user token, tokenFile,
 *      client-certificate / client-key (file) or -data (base64).  A user with
 *      exec or auth-provider is refused (-EINVAL, tool exit 3);
 *   3. in-cluster: KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT and the
 *      service account directory /var/run/secrets/kubernetes.io/serviceaccount
 *      (token, ca.crt; overridden by $INFRA_KUBE_SA_DIR for tests); the token is
 *      read on every open (projected tokens rotate).
 * Flags given without --kube-api complete the source they apply to (a
 * --kube-token-file or --kube-ca overrides the kubeconfig's token or CA).
 * TLS: the cluster's own CA (--kube-ca, the kubeconfig's, the service account's)
 * and the kubeconfig user's client certificate win over the generic CLI options
 * of opts.http (cacert, cert, key), which apply when the source names none;
 * insecure is the CLI's --insecure or the cluster's insecure-skip-tls-verify.
 * -data certificates go to libcurl as in-memory blobs (CURLOPT_*_BLOB, never
 * written to disk); a CA blob is then the only trust anchor.  Unsupported and
 * refused (-EINVAL): tls-server-name, basic auth, a bearer token over plain
 * http to a non-loopback host.
 *
 * Lists: every page is fetched with ?limit=N and &continue=TOKEN; a 410 Gone
 * (continue token expired) restarts the list from the first page (at most
 * INFRA_KUBE_MAX_RESTARTS times, then -ESTALE).
 *
 * Errors: messages never contain a token or key.
 * Ownership: infra_kube_list's array is the caller's (json_object_put).
 */
#ifndef INFRA_KUBE_H
#define INFRA_KUBE_H

#include <json-c/json.h>
#include <stdint.h>

#include "infra_err.h"
#include "infra_http.h"

#define INFRA_KUBE_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
#define INFRA_KUBE_DEFAULT_PAGE_LIMIT 500L
#define INFRA_KUBE_MAX_RESTARTS 3
#define INFRA_KUBE_MAX_PAGES 10000

struct infra_kube;

struct infra_kube_opts {
	const char *api_url;      /* --kube-api, or NULL */
	const char *token_file;   /* --kube-token-file, or NULL */
	const char *ca_file;      /* --kube-ca, or NULL */
	const char *kubeconfig;   /* NULL: $KUBECONFIG, then ~/.kube/config, then in-cluster */
	const char *context;      /* NULL: current-context */
	const struct infra_http_opts *http; /* timeouts, retries, cacert/cert/key/insecure from the CLI */
	long page_limit;          /* 0: INFRA_KUBE_DEFAULT_PAGE_LIMIT */
};

/* Resolve the API server and credentials (order: flags, kubeconfig, in-cluster).
 * -EINVAL with a clear err for configuration problems (tool exit 3), e.g.
 * "kubeconfig: user 'x' uses an exec plugin, which nasmon-check does not support";
 * -ENOENT when no source names a server; -ENOMEM. */
int infra_kube_open(struct infra_kube **out, const struct infra_kube_opts *o, struct infra_err *err);
const char *infra_kube_server(const struct infra_kube *k);      /* for messages */
const char *infra_kube_auth_source(const struct infra_kube *k); /* "flags", "kubeconfig:PATH", "in-cluster" */

/* GET every page of a list path ("/api/v1/persistentvolumes",
 * "/apis/snapshot.storage.k8s.io/v1/volumesnapshots", ...) and return a new json
 * array of the items.  0 on success; -ENOENT when the resource type is not served
 * (404: CRD absent); -EACCES for 401/403 (err says which verb/resource RBAC is
 * missing); -ESTALE after too many 410 restarts; -EPROTO for a malformed reply;
 * other negatives for transport/HTTP errors. */
int infra_kube_list(struct infra_kube *k, const char *path, json_object **items, struct infra_err *err);

/* The same, with every item replaced by fn(item, ud) as its page is parsed (a new
 * reference, or NULL for out of memory: -ENOMEM).  The page's parsed tree is freed before
 * the next page is fetched, so what fn returns is all that stays in memory (the loader of
 * nasmon-check keeps only the fields its checks read).  fn NULL = the items themselves. */
typedef json_object *(*infra_kube_item_fn)(json_object *item, void *ud);
int infra_kube_list_map(struct infra_kube *k, const char *path, infra_kube_item_fn fn, void *ud, json_object **items,
			struct infra_err *err);

/* Pages and 410 restarts of the last infra_kube_list (for tests and -v). */
int infra_kube_last_pages(const struct infra_kube *k);
int infra_kube_last_restarts(const struct infra_kube *k);

void infra_kube_close(struct infra_kube *k);

/* Kubernetes quantity -> bytes, exact ("10Gi", "500M", "1e9", "1.5Gi", "100m";
 * fractions round up like resource.Quantity.Value()).  -EINVAL for malformed,
 * -ERANGE past int64 (or below INT64_MIN). */
int infra_kube_quantity(const char *s, int64_t *out);

#endif
