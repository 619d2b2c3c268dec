/* infra_truenas.h - TrueNAS API client: JSON-RPC 2.0 over WebSocket and REST v2.0.
 *
 * Opening: unless the API is forced, GET /api/versions first: a JSON list of
 * versions means the JSON-RPC API (25.04 and later) at wss://HOST/api/current;
 * 404 means REST only (24.10 and older) at /api/v2.0 with "Authorization: Bearer".
 * Over JSON-RPC the client logs in with auth.login_with_api_key and reads
 * system.info; over REST it reads GET /api/v2.0/system/info.
 *
 * Secrets: the API key is only ever sent over TLS, or to a loopback host (tests).
 * Otherwise infra_truenas_open refuses with -EINVAL before connecting (TrueNAS
 * revokes a key that arrives over an insecure transport).  The key never appears
 * in an error message.  Messages sent before login stay under 8 KiB (the
 * server's pre-authentication limit).
 *
 * Queries: infra_truenas_query_many sends every JSON-RPC call at once on the one
 * socket and matches the replies by id (in any order); over REST it runs the GETs
 * one after the other on the shared connection.  The method is chosen per version:
 * pool.snapshot.query from 25.10, zfs.snapshot.query before; REST paths for REST.
 * A JSON-RPC error object becomes "METHOD: MESSAGE (code N[, errname])".
 */
#ifndef INFRA_TRUENAS_H
#define INFRA_TRUENAS_H

#include <json-c/json.h>
#include <stddef.h>

#include "infra_err.h"
#include "infra_http.h"

struct infra_truenas;

enum infra_tn_api { INFRA_TN_AUTO, INFRA_TN_JSONRPC, INFRA_TN_REST };

struct infra_truenas_opts {
	const char *url;          /* https://host[:port] (or http:// for loopback tests) */
	const char *api_key;      /* the key itself (the tool reads it from file/env); never printed */
	enum infra_tn_api api;    /* --truenas-api */
	const struct infra_http_opts *http;
};

/* Probe GET /api/versions (404 = REST only), connect, log in.  -EINVAL: configuration refused
 * (e.g. API key over ws:// or http:// to a non-loopback host: exit 3); -EACCES: key rejected. */
int infra_truenas_open(struct infra_truenas **out, const struct infra_truenas_opts *o, struct infra_err *err);
const char *infra_truenas_version(const struct infra_truenas *t);   /* "TrueNAS-25.10.1" */
const char *infra_truenas_transport(const struct infra_truenas *t); /* "jsonrpc" | "rest" */

/* The logical queries nasmon-check needs; the client picks the method per version
 * (pool.snapshot.query from 25.10, zfs.snapshot.query before; REST paths for REST). */
enum infra_tn_query { INFRA_TN_POOLS, INFRA_TN_DATASETS, INFRA_TN_SNAPSHOTS, INFRA_TN_NFS_SHARES,
	INFRA_TN_SMB_SHARES, INFRA_TN_ISCSI_TARGETS, INFRA_TN_ISCSI_EXTENTS, INFRA_TN_ISCSI_TARGETEXTENTS,
	INFRA_TN_SERVICES, INFRA_TN_NQUERIES };

/* Method (JSON-RPC) or path (REST, under /api/v2.0) for a query on a version
 * ("TrueNAS-25.10.1", "25.04.2", ...); NULL when that version has none. */
const char *infra_truenas_method_for(enum infra_tn_query q, const char *version, int rest);

/* Run several queries concurrently on one connection (ids matched, out-of-order replies); results[i]
 * a new json array or NULL with errs[i] set (a method the version lacks: -ENOTSUP). Returns 0 if the
 * transport worked (per-query errors in errs), negative if the connection failed. */
/* Datasets and snapshots are queried with a "select" of the fields nasmon-check reads (each
 * ZFS property as a rawvalue string at the top level; see tn_select_* in infra_truenas.c).
 * This folds the "NAME@source" keys of such an item back: a property whose source is not
 * LOCAL/RECEIVED becomes {"rawvalue","source"}, a local one stays a plain string. */
void infra_truenas_flatten_sources(json_object *item);
int infra_truenas_query_many(struct infra_truenas *t, size_t n, const enum infra_tn_query *q,
			     json_object **results, struct infra_err *errs, struct infra_err *err);
/* The same, each item of a list converted by map(q, item, ud) (a new reference that replaces
 * the item; NULL keeps it).  Over JSON-RPC a reply whose "id" comes before its "result" list
 * is converted item by item as it is parsed, so its whole tree never exists at once (50,000
 * snapshots: ~85 MB of json-c objects); otherwise, and over REST, once it is parsed. */
typedef json_object *(*infra_truenas_map_fn)(enum infra_tn_query q, json_object *item, void *ud);
int infra_truenas_query_map(struct infra_truenas *t, size_t n, const enum infra_tn_query *q, infra_truenas_map_fn map,
			    void *ud, json_object **results, struct infra_err *errs, struct infra_err *err);
/* A raw JSON-RPC call (or REST GET for REST), for anything else.  params may be NULL
 * (borrowed); *result is a new reference. */
int infra_truenas_call(struct infra_truenas *t, const char *method, json_object *params,
		       json_object **result, struct infra_err *err);
void infra_truenas_close(struct infra_truenas *t);

#endif
