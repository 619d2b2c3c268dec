/* infra_http.c - HTTP client over libcurl (easy for single requests, multi for
 * batches).  See infra_http.h for the contract.
 *
 * Every request, single or batched, becomes one struct http_xfer that owns a
 * copy of the request, one easy handle (reused across its attempts), the body
 * buffer and the headers of the current response.  http_xfer_attempt_done()
 * decides after each attempt whether to retry (and how long to wait) or to
 * finish; both runners share it.  Connections, DNS and TLS sessions live in a
 * CURLSH owned by struct infra_http, so both runners reuse the same connections.
 */
#include "infra_http.h"
#include "infra_buf.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#ifndef INFRA_VERSION
#define INFRA_VERSION "0"
#endif

#define HTTP_DEF_TIMEOUT_MS 30000L
#define HTTP_DEF_CONNECT_TIMEOUT_MS 10000L
#define HTTP_DEF_ATTEMPTS 3
#define HTTP_DEF_BACKOFF_BASE_MS 200L
#define HTTP_DEF_BACKOFF_MAX_MS 5000L
#define HTTP_DEF_RETRY_AFTER_MAX_MS 60000L
#define HTTP_DEF_MAX_BODY ((size_t)64 << 20)
#define HTTP_MAX_HEADERS 256          /* per response; more is an error */
#define HTTP_URL_SHOWN 240            /* masked URL length in messages */

struct infra_http {
	struct infra_http_opts opts;  /* defaults applied; strings below */
	char *cacert, *cert, *key, *user_agent, *proxy;
	void *blob[3];                /* copies of the cacert/cert/key blobs */
	CURLSH *share;
	uint64_t rng;                 /* xorshift64* state, seeded once at _new */
	infra_http_observer_fn observer; /* -vvv trace and progress (the tool's), or NULL */
	void *observer_ud;
	size_t started, finished;     /* requests made and finished (progress) */
};

struct http_xfer {
	struct infra_http *h;
	struct http_xfer *next;       /* link in one batch list */
	struct http_xfer *prev;       /* in the running list only */
	/* owned copy of the request */
	struct infra_http_req req;
	char *method, *url, *sock;
	char **hdrv;
	void *body;
	infra_http_done_cb cb;
	void *ud;
	/* transfer state */
	CURL *easy;
	struct curl_slist *slist;
	char errbuf[CURL_ERROR_SIZE];
	struct infra_buf buf;
	struct infra_http_header *hdrs;
	size_t nhdrs;
	long cur_status;              /* from the last status line seen */
	int too_big, nomem, too_many_headers;
	int idempotent;
	int configured;               /* easy handle set up for this request */
	int attempts, max_attempts;
	long timeout_ms;
	double t_start;               /* monotonic seconds at the first attempt */
	long long due;                /* monotonic ms when a waiting retry may start */
	/* outcome */
	int rc;
	struct infra_err err;
	struct infra_http_resp resp;
};

struct infra_http_batch {
	struct infra_http *h;
	CURLM *multi;
	int concurrency;
	struct http_xfer *ready, *ready_tail; /* queued, not started (FIFO) */
	struct http_xfer *waiting;            /* between attempts, until ->due */
	struct http_xfer *running;            /* in the multi handle (doubly linked) */
	int nrunning;
	int in_run;
	/* curl_multi_socket_action driven by epoll: only the sockets that are
	 * ready are looked at, not every running transfer's on each wake-up */
	int epfd;
	long long timer_due;                  /* monotonic ms libcurl wants a call, -1 none */
	CURL **idle;                          /* reset easy handles for the next transfers */
	size_t nidle, idle_cap;
};

/* ---------- small helpers ---------- */

static long long http_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double http_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void http_sleep_ms(long ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static char *http_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static uint64_t http_seed(void)
{
	uint64_t s = 0;
	int fd;

	if (getrandom(&s, sizeof(s), GRND_NONBLOCK) != (ssize_t)sizeof(s)) {
		fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			if (read(fd, &s, sizeof(s)) != (ssize_t)sizeof(s))
				s = 0;
			close(fd);
		}
	}
	if (!s)
		s = (uint64_t)http_now_ms() * 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid();
	return s ? s : 0x2545f4914f6cdd1dULL;
}

/* Uniform in [0, 1). */
static double http_rand01(struct infra_http *h)
{
	uint64_t x = h->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	h->rng = x;
	return (double)((x * 0x2545f4914f6cdd1dULL) >> 11) * (1.0 / 9007199254740992.0);
}

/* Bounded string appender for messages: never overflows, marks truncation. */
struct http_out {
	char *p;
	size_t cap, len;
};

static void http_out_mem(struct http_out *o, const char *s, size_t n)
{
	size_t room;

	if (o->cap == 0)
		return;
	room = o->cap - 1 - o->len;
	if (n > room)
		n = room;
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static void http_out_str(struct http_out *o, const char *s)
{
	http_out_mem(o, s, strlen(s));
}

/* ---------- URL masking ---------- */

static int http_secret_name(const char *name, size_t n)
{
	static const char *const words[] = {
		"token", "pass", "secret", "key", "auth", "sig", "credential", "session",
	};
	char low[64];
	size_t i;

	if (n >= sizeof(low))
		return 1; /* absurdly long name: mask, to be safe */
	for (i = 0; i < n; i++)
		low[i] = (char)((name[i] >= 'A' && name[i] <= 'Z') ? name[i] + 32 : name[i]);
	low[n] = '\0';
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strstr(low, words[i]))
			return 1;
	return 0;
}

/* Copy "a=1&token=x" masking the values of secret-looking names.  ';' and a
 * stray '?' or '#' separate parameters too (some servers split on them). */
static void http_mask_params(struct http_out *o, const char *s, size_t n)
{
	const char *end = s + n;

	while (s < end) {
		const char *sep = s;
		const char *eq;

		while (sep < end && !strchr("&;?#", *sep))
			sep++;
		eq = memchr(s, '=', (size_t)(sep - s));
		if (eq && http_secret_name(s, (size_t)(eq - s))) {
			http_out_mem(o, s, (size_t)(eq - s) + 1);
			http_out_str(o, "***");
		} else {
			http_out_mem(o, s, (size_t)(sep - s));
		}
		if (sep < end)
			http_out_mem(o, sep, 1);
		s = sep < end ? sep + 1 : end;
	}
}

void infra_http_mask_url(const char *url, char *out, size_t outsz)
{
	struct http_out o = { out, outsz, 0 };
	char tmp[HTTP_URL_SHOWN + 1];
	struct http_out t = { tmp, sizeof(tmp), 0 };
	const char *p, *auth, *auth_end, *at, *q, *hash, *end;

	if (!out || outsz == 0)
		return;
	out[0] = '\0';
	if (!url)
		return;
	end = url + strlen(url);
	/* "scheme://" only at the start (a "://" later on may sit in the query);
	 * without one, curl reads the URL as starting with the host part */
	p = url + strspn(url, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.");
	auth = (p > url && strncmp(p, "://", 3) == 0) ? p + 3 : url;
	auth_end = auth + strcspn(auth, "/?#");
	http_out_mem(&t, url, (size_t)(auth - url));
	/* userinfo: keep the user name, mask the password; a lone user part may be a token */
	at = NULL;
	for (p = auth; p < auth_end; p++)
		if (*p == '@')
			at = p;
	if (at) {
		const char *colon = memchr(auth, ':', (size_t)(at - auth));

		if (colon) {
			http_out_mem(&t, auth, (size_t)(colon - auth));
			http_out_str(&t, ":***@");
		} else {
			http_out_str(&t, "***@");
		}
		auth = at + 1;
	}
	q = memchr(auth, '?', (size_t)(end - auth));
	hash = memchr(auth, '#', (size_t)(end - auth));
	if (q && hash && hash < q)
		q = NULL;
	http_out_mem(&t, auth, (size_t)((q ? q : hash ? hash : end) - auth));
	if (q) {
		const char *qe = hash ? hash : end;

		http_out_str(&t, "?");
		http_mask_params(&t, q + 1, (size_t)(qe - q - 1));
	}
	if (hash) {
		http_out_str(&t, "#");
		http_mask_params(&t, hash + 1, (size_t)(end - hash - 1));
	}
	if (t.len >= sizeof(tmp) - 1) {
		/* truncated: say so */
		t.len = sizeof(tmp) - 4;
		tmp[t.len] = '\0';
		http_out_str(&t, "...");
	}
	http_out_str(&o, tmp);
}

/* ---------- options ---------- */

long infra_http_backoff_ms(const struct infra_http_opts *opts, int attempt)
{
	long base = opts && opts->backoff_base_ms > 0 ? opts->backoff_base_ms
						       : HTTP_DEF_BACKOFF_BASE_MS;
	long max = opts && opts->backoff_max_ms > 0 ? opts->backoff_max_ms
						     : HTTP_DEF_BACKOFF_MAX_MS;
	long v = base;
	int i;

	for (i = 1; i < attempt && v < max; i++)
		v = v > max / 2 ? max : v * 2;
	return v < max ? v : max;
}

/* ---------- Retry-After ---------- */

static int http_month(const char *s, size_t n)
{
	static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	int i;

	if (n != 3)
		return -1;
	for (i = 0; i < 12; i++)
		if (strncasecmp(s, names + 3 * i, 3) == 0)
			return i;
	return -1;
}

static int http_weekday(const char *s, size_t n)
{
	static const char *const days[] = {
		"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun",
		"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
	};
	size_t i;

	for (i = 0; i < sizeof(days) / sizeof(days[0]); i++)
		if (strlen(days[i]) == n && strncasecmp(s, days[i], n) == 0)
			return 1;
	return 0;
}

static int http_digits(const char *s, size_t n, long *out)
{
	long v = 0;
	size_t i;

	if (n == 0 || n > 9)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* HTTP-date in any of its three forms (IMF-fixdate, RFC 850, asctime):
 * tokens separated by spaces, commas or dashes; returns unix seconds or -1. */
static long long http_parse_date(const char *s)
{
	long day = -1, year = -1, hh = -1, mi = -1, ss = -1, v;
	int mon = -1, zone = 0;
	struct tm tm;
	time_t t;

	while (*s) {
		size_t n;

		if (*s == ' ' || *s == ',' || *s == '-' || *s == '\t') {
			s++;
			continue;
		}
		n = strcspn(s, " ,-\t");
		if (n == 8 && s[2] == ':' && s[5] == ':' && hh < 0) {
			if (http_digits(s, 2, &hh) || http_digits(s + 3, 2, &mi) ||
			    http_digits(s + 6, 2, &ss))
				return -1;
		} else if (http_digits(s, n, &v) == 0) {
			if (n <= 2 && day < 0)
				day = v;
			else if ((n == 2 || n == 4) && year < 0)
				year = n == 2 ? (v < 70 ? 2000 + v : 1900 + v) : v;
			else
				return -1;
		} else if (http_month(s, n) >= 0 && mon < 0) {
			mon = http_month(s, n);
		} else if (n == 3 && strncmp(s, "GMT", 3) == 0 && !zone) {
			zone = 1;
		} else if (!http_weekday(s, n)) {
			return -1;
		}
		s += n;
	}
	if (day < 1 || day > 31 || mon < 0 || year < 1970 || hh < 0 || hh > 23 ||
	    mi > 59 || ss > 60)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = (int)(year - 1900);
	tm.tm_mon = mon;
	tm.tm_mday = (int)day;
	tm.tm_hour = (int)hh;
	tm.tm_min = (int)mi;
	tm.tm_sec = (int)ss;
	t = timegm(&tm);
	return t == (time_t)-1 ? -1 : (long long)t;
}

long infra_http_parse_retry_after(const char *value, long long now)
{
	const char *s = value, *e;
	long long secs = 0, t;

	if (!s)
		return -1;
	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		e--;
	if (e == s)
		return -1;
	if (*s >= '0' && *s <= '9') {
		const char *p;

		for (p = s; p < e; p++) {
			if (*p < '0' || *p > '9')
				return -1;
			if (secs < 1000000000LL)
				secs = secs * 10 + (*p - '0');
		}
	} else {
		char tmp[64];

		if ((size_t)(e - s) >= sizeof(tmp))
			return -1;
		memcpy(tmp, s, (size_t)(e - s));
		tmp[e - s] = '\0';
		t = http_parse_date(tmp);
		if (t < 0)
			return -1;
		secs = t > now ? t - now : 0;
		if (secs > 1000000000LL)
			secs = 1000000000LL;
	}
	if (secs > LONG_MAX / 1000)
		return LONG_MAX;
	return (long)(secs * 1000);
}

/* ---------- handle ---------- */

int infra_http_global_init(struct infra_err *err)
{
	CURLcode cc = curl_global_init(CURL_GLOBAL_DEFAULT);

	if (cc != CURLE_OK)
		return infra_err_set(err, -EIO, "libcurl initialisation failed: %s",
				     curl_easy_strerror(cc));
	return 0;
}

/* Copy a blob option in place (*p = the copy, also returned); NULL when none or ENOMEM. */
static void *http_blobdup(const void **p, size_t len)
{
	void *c = NULL;

	if (*p && len && (c = malloc(len)))
		memcpy(c, *p, len);
	*p = c;
	return c;
}

struct infra_http *infra_http_new(const struct infra_http_opts *opts, struct infra_err *err)
{
	struct infra_http *h = calloc(1, sizeof(*h));
	struct infra_http_opts *o;
	char ua[64];

	if (!h) {
		infra_err_set(err, -ENOMEM, "http: out of memory");
		return NULL;
	}
	o = &h->opts;
	if (opts)
		*o = *opts;
	if (o->timeout_ms <= 0)
		o->timeout_ms = HTTP_DEF_TIMEOUT_MS;
	if (o->connect_timeout_ms <= 0)
		o->connect_timeout_ms = HTTP_DEF_CONNECT_TIMEOUT_MS;
	if (o->connect_timeout_ms > o->timeout_ms)
		o->connect_timeout_ms = o->timeout_ms;
	if (o->max_attempts <= 0)
		o->max_attempts = HTTP_DEF_ATTEMPTS;
	if (o->backoff_base_ms <= 0)
		o->backoff_base_ms = HTTP_DEF_BACKOFF_BASE_MS;
	if (o->backoff_max_ms <= 0)
		o->backoff_max_ms = HTTP_DEF_BACKOFF_MAX_MS;
	if (o->retry_after_max_ms <= 0)
		o->retry_after_max_ms = HTTP_DEF_RETRY_AFTER_MAX_MS;
	if (o->max_body == 0)
		o->max_body = HTTP_DEF_MAX_BODY;
	snprintf(ua, sizeof(ua), "infrakit/%s", INFRA_VERSION);
	h->cacert = http_strdup(o->cacert);
	h->cert = http_strdup(o->cert);
	h->key = http_strdup(o->key);
	h->user_agent = http_strdup(o->user_agent ? o->user_agent : ua);
	h->proxy = http_strdup(o->proxy);
	o->proxy = h->proxy;
	o->cacert = h->cacert;
	o->cert = h->cert;
	o->key = h->key;
	o->user_agent = h->user_agent;
	h->blob[0] = http_blobdup(&o->cacert_blob, o->cacert_blob_len);
	h->blob[1] = http_blobdup(&o->cert_blob, o->cert_blob_len);
	h->blob[2] = http_blobdup(&o->key_blob, o->key_blob_len);
	if ((opts && opts->cacert && !h->cacert) || (opts && opts->cert && !h->cert) ||
	    (opts && opts->key && !h->key) || !h->user_agent || (opts && opts->proxy && !h->proxy) ||
	    (opts && opts->cacert_blob && !h->blob[0]) || (opts && opts->cert_blob && !h->blob[1]) ||
	    (opts && opts->key_blob && !h->blob[2])) {
		infra_err_set(err, -ENOMEM, "http: out of memory");
		infra_http_free(h);
		return NULL;
	}
	h->share = curl_share_init();
	if (!h->share ||
	    curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) != CURLSHE_OK ||
	    curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK ||
	    curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK) {
		infra_err_set(err, -ENOMEM, "http: cannot set up the shared connection cache");
		infra_http_free(h);
		return NULL;
	}
	h->rng = http_seed();
	return h;
}

void infra_http_free(struct infra_http *h)
{
	if (!h)
		return;
	if (h->share)
		curl_share_cleanup(h->share);
	free(h->cacert);
	free(h->proxy);
	free(h->cert);
	free(h->key);
	free(h->user_agent);
	for (int i = 0; i < 3; i++) {
		if (h->blob[i])
			explicit_bzero(h->blob[i], i == 0 ? h->opts.cacert_blob_len :
				       i == 1 ? h->opts.cert_blob_len : h->opts.key_blob_len);
		free(h->blob[i]);
	}
	free(h);
}

/* ---------- response ---------- */

static void http_headers_free(struct infra_http_header *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].value);
	}
	free(v);
}

const char *infra_http_resp_header(const struct infra_http_resp *resp, const char *name)
{
	size_t i;

	if (!resp || !name)
		return NULL;
	for (i = 0; i < resp->nheaders; i++)
		if (strcasecmp(resp->headers[i].name, name) == 0)
			return resp->headers[i].value;
	return NULL;
}

void infra_http_resp_release(struct infra_http_resp *resp)
{
	if (!resp)
		return;
	free(resp->body);
	http_headers_free(resp->headers, resp->nheaders);
	memset(resp, 0, sizeof(*resp));
}

/* ---------- transfer ---------- */

static int http_method_idempotent(const char *m)
{
	static const char *const idem[] = { "GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE" };
	size_t i;

	for (i = 0; i < sizeof(idem) / sizeof(idem[0]); i++)
		if (strcmp(m, idem[i]) == 0)
			return 1;
	return 0;
}

static void http_xfer_clear_headers(struct http_xfer *x)
{
	http_headers_free(x->hdrs, x->nhdrs);
	x->hdrs = NULL;
	x->nhdrs = 0;
}

static void http_xfer_free(struct http_xfer *x)
{
	size_t i;

	if (!x)
		return;
	if (x->easy)
		curl_easy_cleanup(x->easy);
	curl_slist_free_all(x->slist);
	infra_buf_release(&x->buf);
	http_xfer_clear_headers(x);
	infra_http_resp_release(&x->resp);
	free(x->method);
	free(x->url);
	free(x->sock);
	if (x->hdrv) {
		for (i = 0; x->hdrv[i]; i++)
			free(x->hdrv[i]);
		free(x->hdrv);
	}
	free(x->body);
	free(x);
}

/* An HTTP token (RFC 9110 tchar), as a method must be. */
static int http_is_token(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || strchr("!#$%&'*+-.^_`|~", *s)))
			return 0;
	return 1;
}

/* Why a request cannot be sent as given, or NULL. */
static const char *http_req_invalid(const struct infra_http_req *req)
{
	size_t i;

	if (!req)
		return "no request";
	if (!req->url || !*req->url)
		return "no URL";
	if (strpbrk(req->url, " \t\r\n"))
		return "whitespace in the URL";
	if (req->method && *req->method && !http_is_token(req->method))
		return "invalid method";
	if (req->body_len && !req->body)
		return "body_len without a body";
	if (req->unix_socket && !*req->unix_socket)
		return "empty unix socket name";
	for (i = 0; req->headers && req->headers[i]; i++) {
		const char *hd = req->headers[i];
		size_t nl = strcspn(hd, ":;");

		if (strpbrk(hd, "\r\n") || nl == 0 || !hd[nl])
			return "malformed request header (want \"Name: value\", no line breaks)";
	}
	return NULL;
}

/* Copy the request.  Returns NULL on ENOMEM or an invalid request (*rc says
 * which, *why says what is wrong with it). */
static struct http_xfer *http_xfer_new(struct infra_http *h, const struct infra_http_req *req,
				       int *rc, const char **why)
{
	struct http_xfer *x;
	size_t n = 0, i;

	*rc = -EINVAL;
	*why = h ? http_req_invalid(req) : "no http handle";
	if (*why)
		return NULL;
	*why = "out of memory";
	*rc = -ENOMEM;
	x = calloc(1, sizeof(*x));
	if (!x)
		return NULL;
	x->h = h;
	x->method = strdup(req->method && *req->method ? req->method : "GET");
	x->url = strdup(req->url);
	x->sock = http_strdup(req->unix_socket);
	if (!x->method || !x->url || (req->unix_socket && !x->sock))
		goto fail;
	if (req->headers) {
		while (req->headers[n])
			n++;
		x->hdrv = calloc(n + 1, sizeof(*x->hdrv));
		if (!x->hdrv)
			goto fail;
		for (i = 0; i < n; i++)
			if (!(x->hdrv[i] = strdup(req->headers[i])))
				goto fail;
	}
	x->body = malloc(req->body_len ? req->body_len : 1);
	if (!x->body)
		goto fail;
	if (req->body_len)
		memcpy(x->body, req->body, req->body_len);
	x->req = *req;
	x->req.method = x->method;
	x->req.url = x->url;
	x->req.unix_socket = x->sock;
	x->req.headers = (const char *const *)x->hdrv;
	x->req.body = req->body ? x->body : NULL;
	x->idempotent = http_method_idempotent(x->method) || req->retry_post;
	x->max_attempts = req->max_attempts > 0 ? req->max_attempts : h->opts.max_attempts;
	x->timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : h->opts.timeout_ms;
	infra_buf_init(&x->buf, h->opts.max_body);
	h->started++;
	*rc = 0;
	return x;
fail:
	http_xfer_free(x);
	return NULL;
}

static size_t http_write_cb(char *data, size_t size, size_t nmemb, void *ud)
{
	struct http_xfer *x = ud;
	size_t n = size * nmemb;
	int rc;

	if (!x->buf.alloc && x->req.body_hint > n) /* first data of the transfer */
		(void)infra_buf_reserve(&x->buf, (x->req.body_hint < x->h->opts.max_body ?
						       x->req.body_hint : x->h->opts.max_body) - 1);
	rc = infra_buf_append(&x->buf, data, n);

	if (rc == -E2BIG) {
		x->too_big = 1;
		return 0;
	}
	if (rc) {
		x->nomem = 1;
		return 0;
	}
	return n;
}

static char *http_trimdup(const char *s, size_t n)
{
	while (n && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	return strndup(s, n);
}

static size_t http_header_cb(char *data, size_t size, size_t nmemb, void *ud)
{
	struct http_xfer *x = ud;
	size_t n = size * nmemb, len = n;
	const char *colon;
	struct infra_http_header *v, *hd;

	while (len && (data[len - 1] == '\n' || data[len - 1] == '\r'))
		len--;
	if (len == 0)
		return n; /* end of a header block */
	if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		/* a new response (interim, redirect or final): start over */
		const char *sp = memchr(data, ' ', len);

		http_xfer_clear_headers(x);
		x->cur_status = sp ? strtol(sp + 1, NULL, 10) : 0;
		return n;
	}
	if (data[0] == ' ' || data[0] == '\t') {
		/* obsolete line folding: continue the previous value */
		char *joined, *more;
		size_t a, b;

		if (!x->nhdrs)
			return n;
		hd = &x->hdrs[x->nhdrs - 1];
		more = http_trimdup(data, len);
		if (!more)
			goto nomem;
		a = strlen(hd->value);
		b = strlen(more);
		joined = realloc(hd->value, a + b + 2);
		if (!joined) {
			free(more);
			goto nomem;
		}
		joined[a] = ' ';
		memcpy(joined + a + 1, more, b + 1);
		hd->value = joined;
		free(more);
		return n;
	}
	colon = memchr(data, ':', len);
	if (!colon)
		return n;
	if ((size_t)(colon - data) == 14 && strncasecmp(data, "Content-Length", 14) == 0 &&
	    strcmp(x->method, "HEAD") != 0 && x->cur_status >= 200 &&
	    x->cur_status != 204 && x->cur_status != 304) {
		unsigned long long cl;
		char *end;

		errno = 0;
		cl = strtoull(colon + 1, &end, 10);
		if (errno == 0 && cl > x->h->opts.max_body) {
			x->too_big = 1;
			return 0; /* abort before reading the body */
		}
	}
	if (x->nhdrs >= HTTP_MAX_HEADERS) {
		x->too_many_headers = 1;
		return 0;
	}
	v = realloc(x->hdrs, (x->nhdrs + 1) * sizeof(*v));
	if (!v)
		goto nomem;
	x->hdrs = v;
	hd = &v[x->nhdrs];
	hd->name = http_trimdup(data, (size_t)(colon - data));
	hd->value = http_trimdup(colon + 1, len - (size_t)(colon - data) - 1);
	if (!hd->name || !hd->value) {
		free(hd->name);
		free(hd->value);
		goto nomem;
	}
	x->nhdrs++;
	return n;
nomem:
	x->nomem = 1;
	return 0;
}

static int http_has_header(const struct http_xfer *x, const char *name)
{
	size_t n = strlen(name), i;

	if (!x->hdrv)
		return 0;
	for (i = 0; x->hdrv[i]; i++)
		if (strncasecmp(x->hdrv[i], name, n) == 0 && x->hdrv[i][n] == ':')
			return 1;
	return 0;
}

/* Prefix the error message with "METHOD URL: " and suffix the attempt count. */
static int http_xfer_fail(struct http_xfer *x, int code, const char *reason)
{
	char url[HTTP_URL_SHOWN + 8];

	infra_http_mask_url(x->url, url, sizeof(url));
	if (x->attempts == 0)
		x->rc = infra_err_set(&x->err, code, "%s %s: %s", x->method, url, reason);
	else
		x->rc = infra_err_set(&x->err, code, "%s %s: %s (after %d attempt%s)", x->method,
				      url, reason, x->attempts, x->attempts == 1 ? "" : "s");
	return x->rc;
}

/* Create and configure the easy handle (once per transfer). */
static int http_xfer_setup(struct http_xfer *x)
{
	const struct infra_http_opts *o = &x->h->opts;
	CURLcode cc = CURLE_OK;
	CURL *e;
	size_t i;
	long ct = o->connect_timeout_ms < x->timeout_ms ? o->connect_timeout_ms : x->timeout_ms;
	int has_body = x->req.body != NULL;
	char reason[CURL_ERROR_SIZE + 64];

	if (!x->easy) /* a batch may have handed over a reset handle */
		x->easy = curl_easy_init();
	e = x->easy;
	if (!e)
		return http_xfer_fail(x, -ENOMEM, "cannot create a curl handle");
	for (i = 0; x->hdrv && x->hdrv[i]; i++) {
		struct curl_slist *l = curl_slist_append(x->slist, x->hdrv[i]);

		if (!l)
			return http_xfer_fail(x, -ENOMEM, "out of memory");
		x->slist = l;
	}
	if (!http_has_header(x, "Expect")) {
		/* no 100-continue round trip for large bodies */
		struct curl_slist *l = curl_slist_append(x->slist, "Expect:");

		if (!l)
			return http_xfer_fail(x, -ENOMEM, "out of memory");
		x->slist = l;
	}

#define HTTP_SETOPT(opt, val) do { \
		if (cc == CURLE_OK) \
			cc = curl_easy_setopt(e, opt, val); \
	} while (0)
	HTTP_SETOPT(CURLOPT_PRIVATE, (void *)x);
	HTTP_SETOPT(CURLOPT_NOSIGNAL, 1L);
	HTTP_SETOPT(CURLOPT_ERRORBUFFER, x->errbuf);
	HTTP_SETOPT(CURLOPT_SHARE, x->h->share);
	HTTP_SETOPT(CURLOPT_URL, x->url);
	HTTP_SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
	HTTP_SETOPT(CURLOPT_WRITEFUNCTION, http_write_cb);
	HTTP_SETOPT(CURLOPT_WRITEDATA, (void *)x);
	HTTP_SETOPT(CURLOPT_HEADERFUNCTION, http_header_cb);
	HTTP_SETOPT(CURLOPT_HEADERDATA, (void *)x);
	HTTP_SETOPT(CURLOPT_TIMEOUT_MS, x->timeout_ms);
	HTTP_SETOPT(CURLOPT_CONNECTTIMEOUT_MS, ct);
	HTTP_SETOPT(CURLOPT_USERAGENT, o->user_agent);
	HTTP_SETOPT(CURLOPT_ACCEPT_ENCODING, "");
	HTTP_SETOPT(CURLOPT_TCP_KEEPALIVE, 1L);
	HTTP_SETOPT(CURLOPT_HTTPHEADER, x->slist);
	if (strcmp(x->method, "GET") == 0 && !has_body) {
		HTTP_SETOPT(CURLOPT_HTTPGET, 1L);
	} else if (strcmp(x->method, "HEAD") == 0) {
		HTTP_SETOPT(CURLOPT_NOBODY, 1L);
	} else {
		if (strcmp(x->method, "POST") != 0)
			HTTP_SETOPT(CURLOPT_CUSTOMREQUEST, x->method);
		/* a body, or Content-Length: 0 for a body-carrying method without one */
		if (has_body || strcmp(x->method, "POST") == 0 || strcmp(x->method, "PUT") == 0 ||
		    strcmp(x->method, "PATCH") == 0) {
			HTTP_SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->req.body_len);
			HTTP_SETOPT(CURLOPT_POSTFIELDS, x->body);
		}
	}
	if (x->sock) {
		if (x->req.abstract)
			HTTP_SETOPT(CURLOPT_ABSTRACT_UNIX_SOCKET, x->sock);
		else
			HTTP_SETOPT(CURLOPT_UNIX_SOCKET_PATH, x->sock);
	}
	if (o->proxy)
		HTTP_SETOPT(CURLOPT_PROXY, o->proxy);
	if (o->cacert_blob) {
		struct curl_blob b = { (void *)o->cacert_blob, o->cacert_blob_len, CURL_BLOB_NOCOPY };

		HTTP_SETOPT(CURLOPT_CAINFO, NULL); /* the blob alone, not the system bundle too */
		HTTP_SETOPT(CURLOPT_CAPATH, NULL);
		HTTP_SETOPT(CURLOPT_CAINFO_BLOB, &b);
	} else if (o->cacert) {
		HTTP_SETOPT(CURLOPT_CAINFO, o->cacert);
	}
	if (o->cert_blob) {
		struct curl_blob b = { (void *)o->cert_blob, o->cert_blob_len, CURL_BLOB_NOCOPY };

		HTTP_SETOPT(CURLOPT_SSLCERT_BLOB, &b);
	} else if (o->cert) {
		HTTP_SETOPT(CURLOPT_SSLCERT, o->cert);
	}
	if (o->key_blob) {
		struct curl_blob b = { (void *)o->key_blob, o->key_blob_len, CURL_BLOB_NOCOPY };

		HTTP_SETOPT(CURLOPT_SSLKEY_BLOB, &b);
	} else if (o->key) {
		HTTP_SETOPT(CURLOPT_SSLKEY, o->key);
	}
	if (o->insecure) {
		HTTP_SETOPT(CURLOPT_SSL_VERIFYPEER, 0L);
		HTTP_SETOPT(CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (o->http2_prior_knowledge) {
		HTTP_SETOPT(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
		HTTP_SETOPT(CURLOPT_PIPEWAIT, 1L);
	}
#undef HTTP_SETOPT
	if (cc != CURLE_OK) {
		snprintf(reason, sizeof(reason), "cannot configure the request: %s",
			 curl_easy_strerror(cc));
		return http_xfer_fail(x, cc == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EINVAL, reason);
	}
	return 0;
}

/* Prepare one attempt: set up the handle on the first, reset per-attempt state. */
static int http_xfer_begin(struct http_xfer *x)
{
	if (!x->configured) {
		x->t_start = http_now_s();
		x->configured = 1;
		if (http_xfer_setup(x))
			return x->rc;
	}
	x->attempts++;
	infra_buf_reset(&x->buf);
	http_xfer_clear_headers(x);
	x->errbuf[0] = '\0';
	x->cur_status = 0;
	x->too_big = x->nomem = x->too_many_headers = 0;
	return 0;
}

static void http_xfer_stamp(struct http_xfer *x, long status)
{
	x->resp.status = status;
	x->resp.attempts = x->attempts;
	x->resp.elapsed_seconds = x->t_start > 0 ? http_now_s() - x->t_start : 0.0;
}

/* Turn a curl failure into an errno-style code and a reason (no secrets). */
static int http_reason(struct http_xfer *x, CURLcode cc, char *buf, size_t n)
{
	long oserr = 0;
	char tmp[128];
	const char *sys = "connection failed";
	const char *detail = x->errbuf[0] ? x->errbuf : curl_easy_strerror(cc);
	size_t dl;

	/* curl's detail text ends with a newline sometimes */
	dl = strlen(x->errbuf);
	while (dl && (x->errbuf[dl - 1] == '\n' || x->errbuf[dl - 1] == '\r'))
		x->errbuf[--dl] = '\0';
	curl_easy_getinfo(x->easy, CURLINFO_OS_ERRNO, &oserr);
	switch (cc) {
	case CURLE_COULDNT_CONNECT:
		if (oserr)
			sys = strerror_r((int)oserr, tmp, sizeof(tmp));
		if (x->sock)
			snprintf(buf, n, "cannot connect to %s %s%s: %s",
				 x->req.abstract ? "abstract socket" : "unix socket",
				 x->req.abstract ? "@" : "", x->sock, sys);
		else if (oserr == ECONNREFUSED)
			snprintf(buf, n, "connection refused");
		else
			snprintf(buf, n, "cannot connect: %s", sys);
		return oserr > 0 ? -(int)oserr : -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		snprintf(buf, n, "cannot resolve %s", cc == CURLE_COULDNT_RESOLVE_PROXY ? "proxy" : "host");
		return -EHOSTUNREACH;
	case CURLE_OPERATION_TIMEDOUT:
		snprintf(buf, n, "timeout after %ld ms", x->timeout_ms);
		return -ETIMEDOUT;
	case CURLE_PARTIAL_FILE:
		snprintf(buf, n, "connection closed before the whole body arrived (partial response)");
		return -EPROTO;
	case CURLE_GOT_NOTHING:
		snprintf(buf, n, "connection closed without a response");
		return -ECONNRESET;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
		snprintf(buf, n, "connection error while %s: %s",
			 cc == CURLE_SEND_ERROR ? "sending" : "receiving", detail);
		return -ECONNRESET;
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_BAD_CONTENT_ENCODING:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		snprintf(buf, n, "invalid HTTP response: %s", detail);
		return -EPROTO;
	case CURLE_URL_MALFORMAT:
		snprintf(buf, n, "malformed URL");
		return -EINVAL;
	case CURLE_OUT_OF_MEMORY:
		snprintf(buf, n, "out of memory");
		return -ENOMEM;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_USE_SSL_FAILED:
		snprintf(buf, n, "TLS error: %s", detail);
		return -EPROTO;
	default:
		snprintf(buf, n, "%s", detail);
		return -EIO;
	}
}

/* How a failed attempt may be retried. */
enum { HTTP_NO_RETRY, HTTP_RETRY_ALWAYS, HTTP_RETRY_IDEMPOTENT, HTTP_RETRY_TIMEOUT };

static int http_retry_class(CURLcode cc)
{
	switch (cc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return HTTP_RETRY_ALWAYS;
	case CURLE_OPERATION_TIMEDOUT:
		return HTTP_RETRY_TIMEOUT;
	case CURLE_PARTIAL_FILE:
	case CURLE_GOT_NOTHING:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_SSL_CONNECT_ERROR:
		return HTTP_RETRY_IDEMPOTENT;
	default:
		return HTTP_NO_RETRY;
	}
}

/* After an attempt: returns the milliseconds to wait before the next attempt,
 * or -1 when the transfer is finished (x->rc, x->err and x->resp are set). */
static long http_xfer_attempt_result(struct http_xfer *x, CURLcode cc);

/* Every attempt is told to the observer (a trace line at -vvv, progress on a
 * terminal): method, URL, status or error, time, and the handle's counters. */
static long http_xfer_attempt_done(struct http_xfer *x, CURLcode cc)
{
	long wait = http_xfer_attempt_result(x, cc);

	if (wait < 0)
		x->h->finished++;
	if (x->h->observer) {
		struct infra_http_event ev;
		long status = 0;
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
		memset(&ev, 0, sizeof(ev));
		ev.method = x->method;
		ev.url = x->url;
		ev.status = status;
		ev.error = cc == CURLE_OK ? NULL : (x->errbuf[0] ? x->errbuf : curl_easy_strerror(cc));
		ev.seconds = http_now_s() - x->t_start;
		ev.attempt = x->attempts;
		ev.final = wait < 0;
		ev.started = x->h->started;
		ev.finished = x->h->finished;
		x->h->observer(x->h->observer_ud, &ev);
	}
	return wait;
}

void infra_http_set_observer(struct infra_http *h, infra_http_observer_fn fn, void *ud)
{
	if (!h)
		return;
	h->observer = fn;
	h->observer_ud = ud;
}

static long http_xfer_attempt_result(struct http_xfer *x, CURLcode cc)
{
	long status = 0, wait = -1, reqsize = 0;
	int retry = 0;
	char reason[CURL_ERROR_SIZE + 160];

	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	if (x->too_big) {
		http_xfer_stamp(x, status);
		snprintf(reason, sizeof(reason), "response too large (> %zu bytes)",
			 x->h->opts.max_body);
		http_xfer_fail(x, -E2BIG, reason);
		return -1;
	}
	if (x->nomem || x->too_many_headers) {
		http_xfer_stamp(x, status);
		http_xfer_fail(x, x->nomem ? -ENOMEM : -EPROTO,
			       x->nomem ? "out of memory" : "too many response headers");
		return -1;
	}
	if (cc != CURLE_OK) {
		switch (http_retry_class(cc)) {
		case HTTP_RETRY_ALWAYS:
			retry = 1;
			break;
		case HTTP_RETRY_IDEMPOTENT:
			retry = x->idempotent;
			break;
		case HTTP_RETRY_TIMEOUT:
			/* a POST that timed out before anything was sent is safe to repeat */
			curl_easy_getinfo(x->easy, CURLINFO_REQUEST_SIZE, &reqsize);
			retry = x->idempotent || reqsize == 0;
			break;
		default:
			break;
		}
	} else if (status == 429 || (status >= 500 && status <= 599 && status != 501)) {
		retry = x->idempotent;
		if (retry && (status == 429 || status == 503)) {
			const char *ra = NULL;
			size_t i;

			for (i = 0; i < x->nhdrs; i++)
				if (strcasecmp(x->hdrs[i].name, "Retry-After") == 0)
					ra = x->hdrs[i].value;
			wait = ra ? infra_http_parse_retry_after(ra, (long long)time(NULL)) : -1;
			if (wait > x->h->opts.retry_after_max_ms)
				retry = 0; /* too far away: hand the response back */
		}
	}
	if (retry && x->attempts < x->max_attempts) {
		if (wait < 0) {
			long b = infra_http_backoff_ms(&x->h->opts, x->attempts);

			wait = (long)((double)b * (0.5 + 0.5 * http_rand01(x->h)));
		}
		return wait;
	}
	http_xfer_stamp(x, status);
	if (cc != CURLE_OK) {
		int code = http_reason(x, cc, reason, sizeof(reason));

		http_xfer_fail(x, code, reason);
		return -1;
	}
	x->resp.body = infra_buf_steal(&x->buf, &x->resp.body_len);
	if (!x->resp.body) {
		http_xfer_fail(x, -ENOMEM, "out of memory");
		return -1;
	}
	x->resp.headers = x->hdrs;
	x->resp.nheaders = x->nhdrs;
	x->hdrs = NULL;
	x->nhdrs = 0;
	x->rc = 0;
	infra_err_clear(&x->err);
	return -1;
}

/* Hand the outcome to the caller's structs; the transfer keeps nothing. */
static int http_xfer_take(struct http_xfer *x, struct infra_http_resp *resp,
			  struct infra_err *err)
{
	*resp = x->resp;
	memset(&x->resp, 0, sizeof(x->resp));
	if (err)
		*err = x->err;
	return x->rc;
}

int infra_http_do(struct infra_http *h, const struct infra_http_req *req,
		  struct infra_http_resp *resp, struct infra_err *err)
{
	struct http_xfer *x;
	const char *why;
	int rc;

	if (!resp)
		return infra_err_set(err, -EINVAL, "http: no response struct");
	memset(resp, 0, sizeof(*resp));
	x = http_xfer_new(h, req, &rc, &why);
	if (!x)
		return infra_err_set(err, rc, "http: invalid request: %s", why);
	for (;;) {
		long wait;
		CURLcode cc;

		if (http_xfer_begin(x)) {
			http_xfer_stamp(x, 0);
			break;
		}
		cc = curl_easy_perform(x->easy);
		wait = http_xfer_attempt_done(x, cc);
		if (wait < 0)
			break;
		http_sleep_ms(wait);
	}
	rc = http_xfer_take(x, resp, err);
	http_xfer_free(x);
	return rc;
}

/* ---------- batch runner ---------- */

/* libcurl tells which sockets to watch for what: mirror it in the epoll set.
 * socketp is non-NULL once the socket is in the set. */
static int http_batch_socket_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct infra_http_batch *b = userp;
	struct epoll_event ev;

	(void)e;
	if (what == CURL_POLL_REMOVE) {
		if (socketp)
			(void)epoll_ctl(b->epfd, EPOLL_CTL_DEL, s, NULL);
		return 0;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
	ev.data.fd = s;
	if (socketp) {
		if (epoll_ctl(b->epfd, EPOLL_CTL_MOD, s, &ev) == 0)
			return 0;
		if (errno != ENOENT)
			return -1;
	}
	if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, s, &ev) != 0 &&
	    (errno != EEXIST || epoll_ctl(b->epfd, EPOLL_CTL_MOD, s, &ev) != 0))
		return -1;
	curl_multi_assign(b->multi, s, (void *)b);
	return 0;
}

/* libcurl's single timer: when it wants curl_multi_socket_action(TIMEOUT). */
static int http_batch_timer_cb(CURLM *m, long timeout_ms, void *userp)
{
	struct infra_http_batch *b = userp;

	(void)m;
	b->timer_due = timeout_ms < 0 ? -1 : http_now_ms() + timeout_ms;
	return 0;
}

struct infra_http_batch *infra_http_batch_new(struct infra_http *h, int concurrency)
{
	struct infra_http_batch *b;

	if (!h)
		return NULL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->h = h;
	b->concurrency = concurrency > 0 ? concurrency : 1;
	b->timer_due = -1;
	b->epfd = epoll_create1(EPOLL_CLOEXEC);
	b->multi = curl_multi_init();
	if (!b->multi || b->epfd < 0 ||
	    curl_multi_setopt(b->multi, CURLMOPT_SOCKETFUNCTION, http_batch_socket_cb) != CURLM_OK ||
	    curl_multi_setopt(b->multi, CURLMOPT_SOCKETDATA, (void *)b) != CURLM_OK ||
	    curl_multi_setopt(b->multi, CURLMOPT_TIMERFUNCTION, http_batch_timer_cb) != CURLM_OK ||
	    curl_multi_setopt(b->multi, CURLMOPT_TIMERDATA, (void *)b) != CURLM_OK) {
		if (b->multi)
			curl_multi_cleanup(b->multi);
		if (b->epfd >= 0)
			close(b->epfd);
		free(b);
		return NULL;
	}
	return b;
}

static void http_list_free(struct http_xfer *x)
{
	while (x) {
		struct http_xfer *next = x->next;

		http_xfer_free(x);
		x = next;
	}
}

void infra_http_batch_free(struct infra_http_batch *b)
{
	struct http_xfer *x;

	if (!b)
		return;
	for (x = b->running; x; x = x->next)
		curl_multi_remove_handle(b->multi, x->easy);
	http_list_free(b->running);
	http_list_free(b->ready);
	http_list_free(b->waiting);
	curl_multi_cleanup(b->multi);
	while (b->nidle)
		curl_easy_cleanup(b->idle[--b->nidle]);
	free(b->idle);
	close(b->epfd);
	free(b);
}

static void http_batch_push_ready(struct infra_http_batch *b, struct http_xfer *x)
{
	x->next = NULL;
	if (b->ready_tail)
		b->ready_tail->next = x;
	else
		b->ready = x;
	b->ready_tail = x;
}

int infra_http_batch_add(struct infra_http_batch *b, const struct infra_http_req *req,
			 infra_http_done_cb cb, void *ud)
{
	struct http_xfer *x;
	const char *why;
	int rc;

	if (!b)
		return -EINVAL;
	x = http_xfer_new(b->h, req, &rc, &why);
	if (!x)
		return rc;
	x->cb = cb;
	x->ud = ud;
	http_batch_push_ready(b, x);
	return 0;
}

/* Finished: run the callback (which may queue more) and drop the transfer;
 * its easy handle, reset (connections stay in the share), serves a later one. */
static void http_batch_deliver(struct infra_http_batch *b, struct http_xfer *x)
{
	if (x->cb)
		x->cb(x->ud, &x->req, &x->resp, x->rc, &x->err);
	if (x->easy && b->nidle < (size_t)b->concurrency) {
		if (b->nidle == b->idle_cap) {
			size_t cap = b->idle_cap ? b->idle_cap * 2 : 16;
			CURL **v = realloc(b->idle, cap * sizeof(*v));

			if (v) {
				b->idle = v;
				b->idle_cap = cap;
			}
		}
		if (b->nidle < b->idle_cap) {
			curl_easy_reset(x->easy);
			b->idle[b->nidle++] = x->easy;
			x->easy = NULL;
		}
	}
	http_xfer_free(x);
}

static void http_batch_unlink_running(struct infra_http_batch *b, struct http_xfer *x)
{
	if (x->prev)
		x->prev->next = x->next;
	else
		b->running = x->next;
	if (x->next)
		x->next->prev = x->prev;
	b->nrunning--;
	x->next = x->prev = NULL;
}

/* Move waiting transfers whose time has come to the front of the ready queue;
 * returns the milliseconds until the next one is due (LONG_MAX if none). */
static long http_batch_wake(struct infra_http_batch *b, long long now)
{
	struct http_xfer **pp = &b->waiting;
	long next = LONG_MAX;

	while (*pp) {
		struct http_xfer *x = *pp;

		if (x->due <= now) {
			*pp = x->next;
			x->next = b->ready;
			b->ready = x;
			if (!b->ready_tail)
				b->ready_tail = x;
		} else {
			if (x->due - now < next)
				next = (long)(x->due - now);
			pp = &x->next;
		}
	}
	return next;
}

/* Start queued transfers up to the concurrency bound.  A transfer that cannot
 * start is finished with its error (the callback hears of it). */
static void http_batch_start(struct infra_http_batch *b)
{
	while (b->ready && b->nrunning < b->concurrency) {
		struct http_xfer *x = b->ready;
		CURLMcode mc;

		b->ready = x->next;
		if (!b->ready)
			b->ready_tail = NULL;
		x->next = NULL;
		if (!x->easy && b->nidle)
			x->easy = b->idle[--b->nidle];
		if (http_xfer_begin(x)) {
			http_xfer_stamp(x, 0);
			http_batch_deliver(b, x);
			continue;
		}
		mc = curl_multi_add_handle(b->multi, x->easy);
		if (mc != CURLM_OK) {
			char reason[128];

			snprintf(reason, sizeof(reason), "cannot start the transfer: %s",
				 curl_multi_strerror(mc));
			http_xfer_stamp(x, 0);
			http_xfer_fail(x, mc == CURLM_OUT_OF_MEMORY ? -ENOMEM : -EIO, reason);
			http_batch_deliver(b, x);
			continue;
		}
		x->prev = NULL;
		x->next = b->running;
		if (b->running)
			b->running->prev = x;
		b->running = x;
		b->nrunning++;
	}
}

/* Collect finished attempts: retry later, or deliver. */
static void http_batch_collect(struct infra_http_batch *b)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(b->multi, &left))) {
		CURL *e = msg->easy_handle;
		CURLcode cc = msg->data.result;
		struct http_xfer *x = NULL;
		long wait;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&x);
		curl_multi_remove_handle(b->multi, e); /* msg is invalid from here */
		if (!x)
			continue;
		http_batch_unlink_running(b, x);
		wait = http_xfer_attempt_done(x, cc);
		if (wait >= 0) {
			x->due = http_now_ms() + wait;
			x->next = b->waiting;
			b->waiting = x;
		} else {
			http_batch_deliver(b, x);
		}
	}
}

int infra_http_batch_run(struct infra_http_batch *b, struct infra_err *err)
{
	int rc = 0;

	if (!b)
		return infra_err_set(err, -EINVAL, "http batch: no batch");
	if (b->in_run)
		return infra_err_set(err, -EBUSY, "http batch: already running");
	b->in_run = 1;
	while (b->ready || b->waiting || b->running) {
		CURLMcode mc = CURLM_OK;
		int still = 0, n, i;
		long timeout = 1000, next;
		long long now;
		struct epoll_event evs[64];

		http_batch_wake(b, http_now_ms());
		http_batch_start(b); /* new handles ask for a timer call now */
		if (b->timer_due >= 0 && b->timer_due <= http_now_ms()) {
			b->timer_due = -1;
			mc = curl_multi_socket_action(b->multi, CURL_SOCKET_TIMEOUT, 0, &still);
		}
		if (mc != CURLM_OK) {
			rc = infra_err_set(err, -EIO, "http batch: %s", curl_multi_strerror(mc));
			break;
		}
		http_batch_collect(b);
		/* callbacks may have queued work, retries may be due */
		now = http_now_ms();
		next = http_batch_wake(b, now);
		if (b->ready && b->nrunning < b->concurrency)
			continue;
		if (!b->ready && !b->waiting && !b->running)
			break;
		if (next < timeout)
			timeout = next;
		if (b->timer_due >= 0 && b->timer_due - now < timeout)
			timeout = (long)(b->timer_due - now);
		if (timeout <= 0)
			continue;
		n = epoll_wait(b->epfd, evs, (int)(sizeof(evs) / sizeof(evs[0])), (int)timeout);
		if (n < 0 && errno != EINTR) {
			rc = infra_err_set(err, -errno, "http batch: epoll_wait: %s", strerror(errno));
			break;
		}
		if (n == 0 && b->running) {
			/* nothing ready before the wait ran out: let libcurl check its
			 * timeouts (as curl_multi_perform did on every round) */
			b->timer_due = -1;
			mc = curl_multi_socket_action(b->multi, CURL_SOCKET_TIMEOUT, 0, &still);
		}
		for (i = 0; i < n && mc == CURLM_OK; i++) {
			int f = (evs[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
				(evs[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
				(evs[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);

			mc = curl_multi_socket_action(b->multi, evs[i].data.fd, f, &still);
		}
		if (mc != CURLM_OK) {
			rc = infra_err_set(err, -EIO, "http batch: %s", curl_multi_strerror(mc));
			break;
		}
	}
	b->in_run = 0;
	return rc;
}
