/* infra_http.h - HTTP client over libcurl for every infrakit tool.
 *
 * One struct infra_http per run holds the shared options and a connection cache
 * (a CURLSH sharing connections, DNS and TLS sessions): connections are reused
 * across requests, in single and batch mode alike.  A struct infra_http and its
 * batches belong to one thread at a time (no locking); use one per thread.
 *
 * Targets: plain http(s) URLs; a filesystem unix socket (req.unix_socket = path);
 * an abstract unix socket (req.unix_socket = name without the leading '@' or NUL,
 * req.abstract = 1).  With a socket, the URL's host part is only the Host header.
 * Only http and https are allowed; redirects are not followed (3xx is returned).
 *
 * Retries: a request is retried (up to opts.max_attempts attempts in all) on
 * connect/resolve/send/recv errors and partial bodies, on 5xx (except 501) and on
 * 429.  The wait before attempt k+1 is exponential backoff with full jitter,
 * min(backoff_max_ms, backoff_base_ms * 2^(k-1)) * random[0.5, 1.0]; a 429 or 503
 * with Retry-After (delta-seconds or an HTTP date) waits that long instead, capped
 * at retry_after_max_ms (past the cap the response is returned as it is).
 * Non-idempotent requests (any method but GET, HEAD, PUT, DELETE, OPTIONS, TRACE)
 * are retried only on connect/resolve errors and on timeouts before anything was
 * sent, unless req.retry_post is set.  Timeouts (whole request, per attempt) are
 * otherwise retried like connect errors.  TLS verification failures, invalid
 * (non-HTTP) replies and an oversized body are not retried.  In a batch, waits
 * between attempts never hold up the other transfers.
 *
 * Body cap: a body larger than opts.max_body (default 64 MiB) aborts the transfer
 * with -E2BIG ("response too large (> N bytes)"), early when Content-Length says
 * so, else while receiving; nothing partial is returned.
 *
 * Errors: functions return 0 when an HTTP response was received (whatever its
 * status: check resp.status), or a negative code with err set to one line such as
 * "GET http://127.0.0.1:5000/v3: connection refused (after 3 attempts)".
 * Codes: -ECONNREFUSED (or the connect errno), -EHOSTUNREACH (resolve),
 * -ETIMEDOUT, -ECONNRESET (closed/reset), -EPROTO (partial body, invalid reply,
 * TLS), -E2BIG (body cap), -EINVAL (invalid request: non-token method, header
 * with a line break, no URL), -ENOMEM, -EIO (other).
 * Messages never contain request headers or bodies (they may hold secrets);
 * URLs have any user:password@ part and query values of token/password/secret/
 * key parameters masked (see infra_http_mask_url).
 *
 * Ownership: requests are borrowed (copied when queued in a batch); a response's
 * memory belongs to the response until infra_http_resp_release().  On success
 * resp.body is never NULL; on error it is NULL, with status/attempts/elapsed set.
 */
#ifndef INFRA_HTTP_H
#define INFRA_HTTP_H

#include <stddef.h>

#include "infra_err.h"

struct infra_http_opts {
	long timeout_ms;          /* whole request, per attempt; default 30000 */
	long connect_timeout_ms;  /* default min(timeout_ms, 10000) */
	int max_attempts;         /* default 3; 1 = no retry */
	long backoff_base_ms;     /* default 200 */
	long backoff_max_ms;      /* default 5000 */
	long retry_after_max_ms;  /* default 60000 */
	size_t max_body;          /* default 64 MiB */
	const char *cacert;       /* CA bundle file */
	const char *cert, *key;   /* client certificate and key (PEM) */
	int insecure;             /* skip TLS verification */
	const char *user_agent;   /* default "infrakit/<version>" */
	int http2_prior_knowledge; /* speak h2c without upgrade (gRPC over a unix socket) */
	const char *proxy;        /* proxy URL (http://, https://, socks5://; kubeconfig proxy-url);
				   * NULL: libcurl's own rule (https_proxy, no_proxy, ...) */
	/* PEM in memory (kubeconfig *-data), copied by infra_http_new; each one replaces its
	 * file option above (CURLOPT_*_BLOB).  A CA blob is the only trust anchor. */
	const void *cacert_blob, *cert_blob, *key_blob;
	size_t cacert_blob_len, cert_blob_len, key_blob_len;
};

struct infra_http_header {
	char *name;
	char *value;
};

struct infra_http_req {
	const char *method;               /* "GET" (default when NULL), "POST", "PUT", "DELETE", ... */
	const char *url;
	const char *const *headers;       /* NULL-terminated "Name: value" strings, or NULL */
	const void *body;                 /* request body or NULL */
	size_t body_len;
	const char *unix_socket;          /* path or abstract name, or NULL */
	int abstract;                     /* unix_socket is an abstract name */
	long timeout_ms;                  /* 0 = opts.timeout_ms */
	int max_attempts;                 /* 0 = opts.max_attempts */
	int retry_post;                   /* retry a POST like a GET (idempotent by design) */
	size_t body_hint;                 /* expected body size: the body buffer starts this large
					   * (at most max_body), so a body that fits is never moved
					   * while it arrives; 0 = grow from small */
};

struct infra_http_resp {
	long status;                      /* HTTP status, 0 if none */
	char *body;                       /* NUL-terminated; may contain NULs */
	size_t body_len;
	struct infra_http_header *headers; /* of the final response */
	size_t nheaders;
	int attempts;                     /* attempts made */
	double elapsed_seconds;           /* from the first attempt, including waits */
};

struct infra_http;

/* Global libcurl init (once, before threads); safe to call more than once. */
int infra_http_global_init(struct infra_err *err);

struct infra_http *infra_http_new(const struct infra_http_opts *opts, struct infra_err *err);

/* One attempt of a request, as the observer hears of it (after the attempt). */
struct infra_http_event {
	const char *method, *url;  /* the URL as requested (may carry a query; mask before printing) */
	long status;               /* HTTP status, 0 when none */
	const char *error;         /* transport error, or NULL */
	double seconds;            /* since the request's first attempt */
	int attempt;               /* 1, 2, ... */
	int final;                 /* 1: the request is finished (no retry follows) */
	size_t started, finished;  /* requests made / finished on this handle so far */
};
typedef void (*infra_http_observer_fn)(void *ud, const struct infra_http_event *ev);
/* Tell fn of every attempt of every request of h (NULL: stop).  The library
 * never prints: tools use it for -vvv traces and progress (infra_cli_observe). */
void infra_http_set_observer(struct infra_http *h, infra_http_observer_fn fn, void *ud);
void infra_http_free(struct infra_http *h);

/* Perform one request (blocking, with retries). */
int infra_http_do(struct infra_http *h, const struct infra_http_req *req,
		  struct infra_http_resp *resp, struct infra_err *err);

/* Case-insensitive header lookup in a response; NULL if absent. */
const char *infra_http_resp_header(const struct infra_http_resp *resp, const char *name);
void infra_http_resp_release(struct infra_http_resp *resp);

/* ---- batch runner (curl multi) ----
 * Requests queued in a batch run with at most `concurrency` in flight.  Each
 * result goes to its callback as soon as it is complete (retries included);
 * rc/err as for infra_http_do.  A callback may queue more requests on the same
 * batch (pagination chains).  The callback must not keep resp past its return
 * unless it moves the body out (it may set resp->body = NULL after taking it).
 * It must not free the batch or run it again (infra_http_batch_run returns
 * -EBUSY when nested).  req is the batch's copy, valid during the callback. */
typedef void (*infra_http_done_cb)(void *ud, const struct infra_http_req *req,
				   struct infra_http_resp *resp, int rc,
				   const struct infra_err *err);

struct infra_http_batch;

/* concurrency < 1 means 1.  NULL on ENOMEM.  The batch borrows h. */
struct infra_http_batch *infra_http_batch_new(struct infra_http *h, int concurrency);
void infra_http_batch_free(struct infra_http_batch *b);
/* Queue a request (copied, with its headers and body).  0, -EINVAL (invalid
 * request) or -ENOMEM; failures of the request itself go to the callback. */
int infra_http_batch_add(struct infra_http_batch *b, const struct infra_http_req *req,
			 infra_http_done_cb cb, void *ud);
/* Run until nothing is queued or in flight.  Returns 0, or a negative code for a
 * failure of the runner itself (not of a request); requests it did not deliver
 * stay queued and are dropped, without callbacks, by infra_http_batch_free().
 * A batch may be run again after more requests are added. */
int infra_http_batch_run(struct infra_http_batch *b, struct infra_err *err);

/* Backoff before attempt `attempt+1` (attempt >= 1), without jitter; exposed for tests.
 * opts may be NULL; zero fields mean the defaults. */
long infra_http_backoff_ms(const struct infra_http_opts *opts, int attempt);
/* Parse a Retry-After value (delta-seconds or IMF-fixdate) relative to now (unix seconds);
 * returns milliseconds to wait, or -1 if unparseable. */
long infra_http_parse_retry_after(const char *value, long long now);

/* Copy url to out (always NUL-terminated, truncated with "..." past ~240 chars)
 * with the password of a user:password@ part, a lone user@ part and the values
 * of query/fragment parameters whose names contain token, pass, secret, key,
 * auth, sig, credential or session replaced by "***" (in the query and the
 * fragment, '&', ';', '?' and '#' all separate parameters).  Paths are copied as
 * they are.  For messages and logs. */
void infra_http_mask_url(const char *url, char *out, size_t outsz);

#endif
