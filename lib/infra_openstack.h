/* infra_openstack.h - OpenStack client: configuration, Keystone v3 auth, catalog,
 * version discovery, microversions, authenticated requests and paginated lists
 * run as page chains on the infra_http batch runner.
 *
 * CONFIGURATION (infra_os_config_load), lowest to highest precedence:
 *   1. clouds.yaml entry named by --os-cloud / OS_CLOUD, from the first of
 *      $OS_CLIENT_CONFIG_FILE, ./clouds.yaml, $XDG_CONFIG_HOME/openstack/clouds.yaml
 *      (default ~/.config/openstack/), /etc/openstack/clouds.yaml; secure.yaml
 *      from the same directories ($OS_SECURE_FILE) merged over it;
 *   2. OS_* environment variables (OS_AUTH_URL, OS_AUTH_TYPE, OS_USERNAME, OS_USER_ID,
 *      OS_PASSWORD, OS_USER_DOMAIN_NAME/_ID, OS_PROJECT_NAME/_ID (OS_TENANT_NAME/_ID),
 *      OS_PROJECT_DOMAIN_NAME/_ID, OS_DOMAIN_NAME/_ID (default for both),
 *      OS_APPLICATION_CREDENTIAL_ID/_NAME/_SECRET, OS_TOKEN, OS_REGION_NAME,
 *      OS_INTERFACE (OS_ENDPOINT_TYPE), OS_CACERT);
 *   3. command line flags (infra_os_argp).
 * Secrets (password, application credential secret, token) come only from
 * clouds.yaml/secure.yaml, the environment or a file (--os-password-file): never
 * from argv.  No message of this module ever contains one.
 *
 * AUTH: POST {auth_url}/auth/tokens (auth_url with or without /v3) with the
 * password, v3applicationcredential or token method; one token per run; a 401
 * on any later request re-authenticates once and retries that request.
 *
 * CATALOG: infra_os_endpoint() picks an endpoint by service type (aliases:
 * volumev3 = block-storage = volume), interface (default public) and region
 * (default: the first); an endpoint without a version in its path (network,
 * image) is resolved by GETting its version document.
 *
 * LISTS: infra_os_list() queues the first page of a list on a batch; each page's
 * callback queues the next one (marker/limit with <res>_links, keystone links.next,
 * glance relative `next`, heat links, swift markers, nova offset), so all lists
 * and their pages run in parallel up to the batch's concurrency.
 *
 * Ownership: infra_os_config strings are owned by the config (free with
 * infra_os_config_release); struct infra_os copies what it needs.
 */
#ifndef INFRA_OPENSTACK_H
#define INFRA_OPENSTACK_H

#include <argp.h>
#include <json-c/json.h>

#include "infra_err.h"
#include "infra_http.h"
#include "infra_yaml.h" /* clouds.yaml is read by the kit's one bounded YAML reader */

struct infra_os_config {
	char *cloud;
	char *auth_url;
	char *auth_type; /* password | v3applicationcredential | token | NULL = guess */
	char *username, *user_id, *user_domain_name, *user_domain_id;
	char *password; /* secret */
	char *project_name, *project_id, *project_domain_name, *project_domain_id;
	char *domain_name, *domain_id;
	char *app_cred_id, *app_cred_name, *app_cred_secret; /* secret */
	char *token; /* secret */
	char *region_name;
	char *interface;
	char *cacert;
	char *cert, *key; /* TLS client certificate and key files (clouds.yaml cert/key, OS_CERT/OS_KEY) */
	int insecure;
	char *config_file; /* where the cloud came from (for messages) */
};

/* Flags given on the command line (borrowed argv strings); filled by infra_os_argp. */
struct infra_os_flags {
	const char *cloud, *auth_url, *region_name, *interface;
	const char *username, *user_domain_name, *project_name, *project_domain_name;
	const char *password_file;
};

/* argp child: --os-cloud, --os-auth-url, --os-region-name, --os-interface,
 * --os-username, --os-user-domain-name, --os-project-name,
 * --os-project-domain-name, --os-password-file.  Input: struct infra_os_flags. */
extern const struct argp infra_os_argp;

/* Build the configuration from clouds.yaml, environment and flags (see above).
 * -EINVAL with a message naming what is missing or wrong. */
int infra_os_config_load(struct infra_os_config *cfg, const struct infra_os_flags *flags,
			 struct infra_err *err);
void infra_os_config_release(struct infra_os_config *cfg);


struct infra_os;

struct infra_os *infra_os_new(const struct infra_os_config *cfg, const struct infra_http_opts *opts,
			      struct infra_err *err);
void infra_os_free(struct infra_os *os);

/* Load the configuration, create the client and authenticate: the usual start
 * of a tool.  On error *out is NULL and err says what failed (never a secret);
 * a configuration or credentials problem (config load, 401/403) is -EINVAL or
 * -EACCES, which every tool reports as UNKNOWN (exit 3). */
int infra_os_connect(const struct infra_os_flags *flags, const struct infra_http_opts *opts,
		     struct infra_os **out, struct infra_err *err);

/* Get a token and the catalog.  -EACCES for rejected credentials (401),
 * other negative codes for transport or format problems. */
int infra_os_authenticate(struct infra_os *os, struct infra_err *err);

int infra_os_is_admin(const struct infra_os *os);       /* token has the admin role */
/* The token has this role (case-insensitive, as Swift's keystoneauth compares). */
int infra_os_has_role(const struct infra_os *os, const char *role);
const char *infra_os_project_id(const struct infra_os *os);
const char *infra_os_project_name(const struct infra_os *os);
const char *infra_os_user_id(const struct infra_os *os);
const char *infra_os_auth_url(const struct infra_os *os);
struct infra_http *infra_os_http(struct infra_os *os);
/* Number of authentications made (1 after infra_os_authenticate, 2 after a re-auth). */
int infra_os_auth_count(const struct infra_os *os);

/* Catalog URL (not version-resolved) for a service type, or NULL if the catalog
 * has no such endpoint for the interface/region. */
const char *infra_os_catalog_url(const struct infra_os *os, const char *service_type);

/* Resolved endpoint of a service type (version discovery done synchronously when
 * needed); -ENOENT if the catalog lacks it. *url borrowed from os. */
int infra_os_endpoint(struct infra_os *os, const char *service_type, const char **url,
		      struct infra_err *err);

/* Same, on a batch: cb(ud, url or NULL, err) is called when the endpoint is known
 * (immediately when no discovery is needed). */
typedef void (*infra_os_endpoint_cb)(void *ud, const char *url, const struct infra_err *err);
int infra_os_endpoint_async(struct infra_os *os, struct infra_http_batch *b, const char *service_type,
			    infra_os_endpoint_cb cb, void *ud);

/* A response of an authenticated request: status, parsed JSON body (NULL when the
 * body is empty; the callee owns it and puts it after the callback returns). */
typedef void (*infra_os_done_cb)(void *ud, long status, json_object *body,
				 const struct infra_http_resp *resp, int rc, const struct infra_err *err);

/* Authenticated request (X-Auth-Token, Accept/Content-Type JSON, microversion
 * header when mv is "compute 2.35"-like).  body may be NULL.  rc < 0: transport
 * error; rc 0: a response was received (any status); a body that is not valid
 * JSON (when non-empty and status < 300) gives -EBADMSG. */
int infra_os_request(struct infra_os *os, const char *method, const char *url, const char *mv,
		     const char *body, long *status, json_object **json, struct infra_err *err);
int infra_os_batch_request(struct infra_os *os, struct infra_http_batch *b, const char *method,
			   const char *url, const char *mv, const char *body, infra_os_done_cb cb, void *ud);
/* Same with one more header "Name: value" (e.g. "If-Match: revision_number=4" for a
 * Neutron update or delete conditional on what was checked; 412 when it changed). */
int infra_os_batch_request_hdr(struct infra_os *os, struct infra_http_batch *b, const char *method,
			       const char *url, const char *mv, const char *body, const char *header,
			       infra_os_done_cb cb, void *ud);

enum infra_os_paging {
	INFRA_OS_PAGE_NONE = 0,  /* one page */
	INFRA_OS_PAGE_LINKS,     /* "<key>_links" (or "links") array with rel=next (nova, neutron, cinder, heat) */
	INFRA_OS_PAGE_KEYSTONE,  /* "links": {"next": URL|null}; "truncated": true is an error */
	INFRA_OS_PAGE_GLANCE,    /* top-level "next", relative to the endpoint root */
	INFRA_OS_PAGE_SWIFT,     /* body is an array; next marker = last name; ends when fewer than limit */
	INFRA_OS_PAGE_OFFSET,    /* limit/offset (nova server groups); ends on an empty page */
};

struct infra_os_list {
	const char *url;        /* first page, query included */
	const char *key;        /* array member ("servers"); NULL when the body is the array */
	const char *mv;         /* microversion header or NULL */
	enum infra_os_paging paging;
	int limit;              /* page size for SWIFT/OFFSET (the url must carry it for OFFSET) */
	const char *root;       /* GLANCE: base URL that relative next links are joined to */
	/* Each item; return non-zero to stop the chain with an error. */
	int (*item)(void *ud, json_object *item);
	/* End of the chain: rc 0 or an error (err set); pages = pages fetched. */
	void (*done)(void *ud, int rc, const struct infra_err *err, int pages);
	void *ud;
};

/* Queue a paginated list on b (the spec is copied). */
int infra_os_list(struct infra_os *os, struct infra_http_batch *b, const struct infra_os_list *spec);

/* URL-encode a query value into out (size); -E2BIG if it does not fit. */
int infra_os_urlencode(const char *s, char *out, size_t size);

/* The API's error message from a JSON error body ("NeutronError.message",
 * "badRequest.message", "error.message", ...) or NULL. */
const char *infra_os_error_message(json_object *body);

#endif
