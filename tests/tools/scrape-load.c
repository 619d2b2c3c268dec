/* scrape-load: a small HTTP(S) load client for scripts/bench-serving, on libcurl multi.
 *
 *   scrape-load [-c CONNS] [-n MAX] [-t SECONDS] [--cacert F] [--cert F --key F]
 *               [--gzip] [--decode] [--new-conn] [--no-tls-resume] URL
 *
 * CONNS connections (default 1) each keep one request in flight, HTTP/1.1 keep-alive:
 * a connection is reused for the next request unless --new-conn (a new TCP + TLS
 * handshake for every request; TLS session resumption still allowed unless
 * --no-tls-resume).  --gzip sends "Accept-Encoding: gzip" and counts the answers that
 * came gzip-encoded; the body is discarded undecoded (Prometheus decodes; --decode makes
 * libcurl decode too, to count that cost).  Stops after MAX requests (default 1000000)
 * or SECONDS (default 10), whichever comes first; a request still running then is
 * waited for at most 5 s more.  Loopback only: the URL's host must be 127.0.0.1 or
 * localhost (resolved to 127.0.0.1; its name is the one the server certificate is
 * checked against).
 *
 * Prints one line of key=value pairs:
 *   requests ok failed seconds rps p50_ms p99_ms max_ms gzip bytes client_cpu_ms_per_req
 * p50/p99/max are over the successful (HTTP 200) requests, from the request's start to
 * its last byte.  client_cpu_ms_per_req is this process's own user+system CPU per
 * request, so a caller sees whether the client is the bottleneck.
 * Exit 0 when every request succeeded, 1 when some failed, 2 on bad usage.
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>

#include "infra_report.h"

struct conn {
	CURL *h;
	double start;
	char err[CURL_ERROR_SIZE];
	int gz;
};

#define now infra_now_mono

static double cpu_seconds(void)
{
	struct rusage u;

	getrusage(RUSAGE_SELF, &u);
	return (double)u.ru_utime.tv_sec + (double)u.ru_utime.tv_usec / 1e6 + (double)u.ru_stime.tv_sec +
	       (double)u.ru_stime.tv_usec / 1e6;
}

static unsigned long long body_bytes;

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
	(void)p;
	(void)ud;
	body_bytes += size * n;
	return size * n;
}

static size_t header(char *p, size_t size, size_t n, void *ud)
{
	struct conn *c = ud;
	size_t len = size * n;

	if (len >= 17 && !strncasecmp(p, "Content-Encoding:", 17) && memmem(p, len, "gzip", 4))
		c->gz = 1;
	return len;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double pct(const double *v, size_t n, double p)
{
	size_t i;

	if (!n)
		return 0;
	i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

static void usage(void)
{
	fprintf(stderr, "usage: scrape-load [-c CONNS] [-n MAX] [-t SECONDS] [--cacert F] [--cert F --key F] "
			"[--gzip] [--decode] [--new-conn] [--no-tls-resume] https://127.0.0.1:PORT/PATH\n");
	exit(2);
}

static long num(const char *s, long lo, long hi, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < lo || v > hi) {
		fprintf(stderr, "scrape-load: %s must be %ld..%ld, not %s\n", what, lo, hi, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	long conns = 1, max = 1000000, seconds = 10;
	const char *cacert = NULL, *cert = NULL, *key = NULL, *url = NULL;
	int gzip = 0, decode = 0, new_conn = 0, no_resume = 0;
	struct conn *cs;
	struct curl_slist *hdrs = NULL, *resolve = NULL;
	CURLM *m;
	CURLU *u;
	char *host = NULL, *port = NULL, rbuf[128];
	double *lat, t0, t_end, cpu0, wall;
	size_t nlat = 0, cap;
	unsigned long long started = 0, done = 0, ok = 0, failed = 0, gz = 0;
	int running = 0, draining = 0;
	char first_err[CURL_ERROR_SIZE + 32] = "";

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-c") && i + 1 < argc)
			conns = num(argv[++i], 1, 1024, "-c");
		else if (!strcmp(a, "-n") && i + 1 < argc)
			max = num(argv[++i], 1, 100000000, "-n");
		else if (!strcmp(a, "-t") && i + 1 < argc)
			seconds = num(argv[++i], 1, 3600, "-t");
		else if (!strcmp(a, "--cacert") && i + 1 < argc)
			cacert = argv[++i];
		else if (!strcmp(a, "--cert") && i + 1 < argc)
			cert = argv[++i];
		else if (!strcmp(a, "--key") && i + 1 < argc)
			key = argv[++i];
		else if (!strcmp(a, "--gzip"))
			gzip = 1;
		else if (!strcmp(a, "--decode"))
			decode = gzip = 1;
		else if (!strcmp(a, "--new-conn"))
			new_conn = 1;
		else if (!strcmp(a, "--no-tls-resume"))
			no_resume = 1;
		else if (a[0] == '-' || url)
			usage();
		else
			url = a;
	}
	if (!url || (!cert) != (!key))
		usage();
	u = curl_url();
	if (!u || curl_url_set(u, CURLUPART_URL, url, 0) || curl_url_get(u, CURLUPART_HOST, &host, 0) ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT)) {
		fprintf(stderr, "scrape-load: not a URL: %s\n", url);
		curl_free(host);
		curl_url_cleanup(u);
		return 2;
	}
	if (strcmp(host, "127.0.0.1") && strcmp(host, "localhost")) {
		fprintf(stderr, "scrape-load: loopback only (127.0.0.1 or localhost), not %s\n", host);
		curl_free(host);
		curl_free(port);
		curl_url_cleanup(u);
		return 2;
	}
	snprintf(rbuf, sizeof(rbuf), "%s:%s:127.0.0.1", host, port);
	resolve = curl_slist_append(NULL, rbuf);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	if (gzip && !decode)
		hdrs = curl_slist_append(NULL, "Accept-Encoding: gzip");

	curl_global_init(CURL_GLOBAL_DEFAULT);
	m = curl_multi_init();
	curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, conns);
	curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, conns);
	cs = calloc((size_t)conns, sizeof(*cs));
	cap = 65536;
	lat = malloc(cap * sizeof(*lat));
	if (!cs || !lat || !m) {
		fprintf(stderr, "scrape-load: out of memory\n");
		return 2;
	}
	for (long i = 0; i < conns; i++) {
		CURL *h = curl_easy_init();
		cs[i].h = h;
		curl_easy_setopt(h, CURLOPT_URL, url);
		curl_easy_setopt(h, CURLOPT_RESOLVE, resolve);
		curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
		curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
		curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header);
		curl_easy_setopt(h, CURLOPT_HEADERDATA, &cs[i]);
		curl_easy_setopt(h, CURLOPT_PRIVATE, &cs[i]);
		curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cs[i].err);
		curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)seconds + 5);
		curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 5L);
		curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
		if (hdrs)
			curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
		if (decode)
			curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "gzip");
		if (cacert)
			curl_easy_setopt(h, CURLOPT_CAINFO, cacert);
		if (cert) {
			curl_easy_setopt(h, CURLOPT_SSLCERT, cert);
			curl_easy_setopt(h, CURLOPT_SSLKEY, key);
		}
		if (new_conn) {
			curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
			curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
		}
		if (no_resume)
			curl_easy_setopt(h, CURLOPT_SSL_SESSIONID_CACHE, 0L);
	}

	t0 = now();
	t_end = t0 + (double)seconds;
	cpu0 = cpu_seconds();
	for (long i = 0; i < conns && started < (unsigned long long)max; i++) {
		cs[i].start = now();
		cs[i].gz = 0;
		curl_multi_add_handle(m, cs[i].h);
		started++;
	}
	for (;;) {
		CURLMsg *msg;
		int left;
		double tn;

		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &left))) {
			struct conn *c = NULL;
			long code = 0;
			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
			curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
			done++;
			if (msg->data.result == CURLE_OK && code == 200) {
				ok++;
				gz += (unsigned long long)c->gz;
				if (nlat == cap) {
					double *n2 = realloc(lat, 2 * cap * sizeof(*lat));
					if (n2) {
						lat = n2;
						cap *= 2;
					}
				}
				if (nlat < cap)
					lat[nlat++] = (now() - c->start) * 1000;
			} else {
				failed++;
				if (!first_err[0])
					snprintf(first_err, sizeof(first_err), "%s (HTTP %ld)",
						 c->err[0] ? c->err : curl_easy_strerror(msg->data.result), code);
			}
			curl_multi_remove_handle(m, msg->easy_handle);
			tn = now();
			if (!draining && (tn >= t_end || started >= (unsigned long long)max))
				draining = 1;
			if (!draining) {
				c->start = tn;
				c->gz = 0;
				c->err[0] = '\0';
				curl_multi_add_handle(m, c->h);
				started++;
			}
		}
		if (done == started)
			break;
		if (now() > t_end + 5) {
			failed += started - done;
			if (!first_err[0])
				snprintf(first_err, sizeof(first_err), "requests still running 5 s after the end");
			break;
		}
		curl_multi_poll(m, NULL, 0, 100, NULL);
	}
	wall = now() - t0;
	qsort(lat, nlat, sizeof(*lat), cmp_double);
	printf("requests=%llu ok=%llu failed=%llu seconds=%.2f rps=%.1f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f "
	       "gzip=%llu bytes=%llu client_cpu_ms_per_req=%.3f\n",
	       done, ok, failed, wall, (double)ok / wall, pct(lat, nlat, 50), pct(lat, nlat, 99),
	       nlat ? lat[nlat - 1] : 0.0, gz, body_bytes, done ? (cpu_seconds() - cpu0) * 1000 / (double)done : 0.0);
	if (first_err[0])
		fprintf(stderr, "scrape-load: %llu failed; first: %s\n", failed, first_err);
	for (long i = 0; i < conns; i++)
		curl_easy_cleanup(cs[i].h);
	curl_multi_cleanup(m);
	curl_slist_free_all(hdrs);
	curl_slist_free_all(resolve);
	curl_global_cleanup();
	free(cs);
	free(lat);
	return failed ? 1 : 0;
}
