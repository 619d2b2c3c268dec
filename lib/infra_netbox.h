/* infra_netbox.h - NetBox (v4) devices by name, for spot-agg's host view.
 *
 * Requests: GET <url>/api/dcim/devices/?name=a&name=b...&fields=<list>
 * &exclude=config_context&limit=<batch> — names in batches (repeated `name` is
 * a logical OR), pages followed by `next` until null; a `next` URL is followed
 * only when it has the same scheme://host:port as opts.url (a relative link,
 * path?query, is taken on that origin; a NetBox behind a
 * proxy that rewrites it otherwise is an error, never a request elsewhere with
 * the token).  The batches run in parallel on one infra_http batch with at most
 * `concurrency` requests in flight.  `?brief=true` is not used: a device's
 * brief form has no site, rack or tenant.
 *
 * Auth: "Authorization: Token <t>" (v1 tokens, deprecated in 4.6) or
 * "Authorization: Bearer nbt_<key>.<token>" (v2 tokens, 4.5+).  token_v2 < 0
 * picks from the token's form (it starts "nbt_" -> Bearer).  The token is never
 * put in a message.  401/403 -> -EACCES "NetBox <url>: HTTP 403 (token rejected:
 * <detail>)"; another non-2xx -> -EIO naming the status; a body that is not the
 * paginated JSON shape -> -EPROTO naming the URL (masked) and the JSON problem.
 *
 * Tenant: tenant_field NULL or "tenant" -> tenant.name; "owner" -> owner.name
 * (4.5+); "cf:<name>" -> custom_fields.<name> (a string, a number, or an
 * object's name/display).  Absent or null -> tenant NULL.
 *
 * Matching by host (match_host = 1): every name is reduced to its host key
 * (infra_netbox_host_key: up to the first dot, lower case: "GPU-01.dc1.example.org."
 * -> "gpu-01", the rule spot-agg joins its sources by) and NetBox is asked for
 * name__ie=<key> and, in a second request per batch (different lookups are ANDed),
 * name__isw=<key>. — so "gpu-01", "GPU-01" and "gpu-01.dc1.example.org" in NetBox
 * all answer "gpu-01" (never "gpu-010").  A device is returned (once, under its
 * NetBox name) for the first name whose key equals the device's key; of several
 * devices with one key, the lowest id.
 *
 * Ownership: *out is malloc'd (free with infra_netbox_devices_free); strings
 * are NUL-terminated copies, NULL when NetBox has none.  Devices come in the
 * order of `names` (first occurrence); a name NetBox does not know is absent.
 * A name NetBox returns twice (same name in two sites) keeps the lowest id.
 */
#ifndef INFRA_NETBOX_H
#define INFRA_NETBOX_H

#include <stddef.h>

#include <json-c/json.h>

#include "infra_err.h"
#include "infra_http.h"

struct infra_netbox_opts {
	const char *url;            /* https://netbox.example (no /api) */
	const char *token;          /* never printed */
	int token_v2;               /* 0: Token, 1: Bearer, -1: auto from the token ("nbt_" -> Bearer) */
	const char *tenant_field;   /* NULL/"tenant": tenant.name; "owner"; "cf:<custom field>" */
	size_t batch;               /* names per request, 0: 50 */
	int match_host;             /* 0: exact names (name=); 1: by host key, see below */
};

struct infra_netbox_device {
	char *name;
	char *site;
	char *rack;
	char *tenant;
	char *status;               /* status.value ("active", ...) */
};

/* 0 with *out and *nout (may be 0 devices), or a negative code with err. */
int infra_netbox_devices(struct infra_http *h, int concurrency, const struct infra_netbox_opts *o,
			 const char *const *names, size_t n, struct infra_netbox_device **out,
			 size_t *nout, struct infra_err *err);
void infra_netbox_devices_free(struct infra_netbox_device *d, size_t n);

/* A host name's key: the part before the first dot, lower case (out gets at
 * most size-1 bytes).  Also spot-agg's join rule (infra_spot_host_key). */
void infra_netbox_host_key(const char *name, char *out, size_t size);

/* Devices as JSON ({"devices":[{"name","site","rack","tenant","status"}]}), and
 * back: the form spot-agg keeps in its cache.  from_json: 0 or -EPROTO. */
json_object *infra_netbox_devices_to_json(const struct infra_netbox_device *d, size_t n);
int infra_netbox_devices_from_json(json_object *doc, struct infra_netbox_device **out, size_t *nout,
				   struct infra_err *err);

#endif
