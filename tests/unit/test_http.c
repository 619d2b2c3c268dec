/* test_http.c - infra_http against tests/sim/faultserver.py (TCP, unix and
 * abstract sockets).  The servers are children of this process: they get
 * SIGTERM at exit (also after a crash, via PR_SET_PDEATHSIG and signal
 * handlers) and exit by themselves after --max-seconds anyway. */
#include "infra_http.h"
#include "tap.h"
#include "sim.h"

#include <curl/curl.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_SERVERS 6

static pid_t server_pids[MAX_SERVERS];
static int nservers;
static char base[128];          /* http://127.0.0.1:PORT */
static char sock_path[108];     /* filesystem unix socket */
static char abs_name[64];       /* abstract socket name */

static void kill_servers(void)
{
	int i, tries, status;

	for (i = 0; i < nservers; i++)
		if (server_pids[i] > 0)
			kill(server_pids[i], SIGTERM);
	for (i = 0; i < nservers; i++) {
		if (server_pids[i] <= 0)
			continue;
		for (tries = 0; tries < 40; tries++) {
			if (waitpid(server_pids[i], &status, WNOHANG) != 0)
				break;
			usleep(50000);
		}
		if (tries == 40) {
			kill(server_pids[i], SIGKILL);
			waitpid(server_pids[i], &status, 0);
		}
		server_pids[i] = 0;
	}
	nservers = 0;
	if (sock_path[0])
		unlink(sock_path);
}

static void on_fatal(int sig)
{
	int i;

	for (i = 0; i < nservers; i++)
		if (server_pids[i] > 0)
			kill(server_pids[i], SIGKILL);
	signal(sig, SIG_DFL);
	raise(sig);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Bounded copy (snprintf "%s" trips -Wformat-truncation at -O2). */
static void copy_str(char *dst, size_t n, const char *src)
{
	size_t l = strlen(src);

	if (l >= n)
		l = n - 1;
	memcpy(dst, src, l);
	dst[l] = '\0';
}

static void src_path(char *out, size_t n, const char *rel)
{
	const char *srcdir = getenv("INFRA_SRCDIR");

	snprintf(out, n, "%s/%s", srcdir && *srcdir ? srcdir : ".", rel);
}

/* Start faultserver.py with up to 8 extra args (NULL-terminated list), through
 * sim.h; copy what follows "READY " into where.  Its pid is also ours to kill. */
static int start_server_v(const char *const *args, char *where, size_t wn)
{
	if (nservers >= MAX_SERVERS || sim_start("faultserver.py", args, where, wn))
		return -1;
	server_pids[nservers++] = sim_pids[sim_n - 1];
	return 0;
}

static int start_server(const char *a1, const char *a2, char *where, size_t wn)
{
	const char *args[] = { a1, a2, NULL };

	return start_server_v(args, where, wn);
}

static int free_port(void)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) < 0)
		port = 1;
	else
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static struct infra_http *new_http(long base_ms, long max_ms, size_t max_body, long ra_max)
{
	struct infra_http_opts o;
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_http *h;

	memset(&o, 0, sizeof(o));
	o.timeout_ms = 5000;
	o.backoff_base_ms = base_ms;
	o.backoff_max_ms = max_ms;
	o.max_body = max_body;
	o.retry_after_max_ms = ra_max;
	h = infra_http_new(&o, &err);
	if (!h)
		tap_diag("infra_http_new: %s", err.msg);
	return h;
}

/* One request against the TCP server. */
static int req_do(struct infra_http *h, const char *method, const char *path,
		  const char *body, int retry_post, struct infra_http_resp *r,
		  struct infra_err *e)
{
	struct infra_http_req q;
	char url[512];

	memset(&q, 0, sizeof(q));
	snprintf(url, sizeof(url), "%s%s", base, path);
	q.method = method;
	q.url = url;
	q.body = body;
	q.body_len = body ? strlen(body) : 0;
	q.retry_post = retry_post;
	infra_err_clear(e);
	return infra_http_do(h, &q, r, e);
}

static int has(const char *hay, const char *needle)
{
	return hay && strstr(hay, needle) != NULL;
}

static long json_num(const char *body, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\": ", key);
	p = body ? strstr(body, pat) : NULL;
	return p ? strtol(p + strlen(pat), NULL, 10) : -1;
}

/* ---------- pure functions ---------- */

static void test_backoff(void)
{
	struct infra_http_opts o;

	memset(&o, 0, sizeof(o));
	o.backoff_base_ms = 200;
	o.backoff_max_ms = 5000;
	tap_inteq(infra_http_backoff_ms(&o, 1), 200, "backoff attempt 1 = base");
	tap_inteq(infra_http_backoff_ms(&o, 2), 400, "backoff attempt 2 doubles");
	tap_inteq(infra_http_backoff_ms(&o, 3), 800, "backoff attempt 3");
	tap_inteq(infra_http_backoff_ms(&o, 5), 3200, "backoff attempt 5");
	tap_inteq(infra_http_backoff_ms(&o, 6), 5000, "backoff capped at max");
	tap_inteq(infra_http_backoff_ms(&o, 1000), 5000, "backoff large attempt stays capped");
	memset(&o, 0, sizeof(o));
	tap_inteq(infra_http_backoff_ms(&o, 1), 200, "backoff defaults: base 200");
	tap_inteq(infra_http_backoff_ms(&o, 10), 5000, "backoff defaults: max 5000");
	tap_inteq(infra_http_backoff_ms(NULL, 2), 400, "backoff with NULL opts uses defaults");
}

static void test_retry_after_parse(void)
{
	const long long t = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT */

	tap_inteq(infra_http_parse_retry_after("120", 0), 120000, "Retry-After delta-seconds");
	tap_inteq(infra_http_parse_retry_after(" 7 ", 0), 7000, "Retry-After with spaces");
	tap_inteq(infra_http_parse_retry_after("0", 0), 0, "Retry-After 0");
	tap_inteq(infra_http_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", t - 30), 30000,
		  "Retry-After IMF-fixdate");
	tap_inteq(infra_http_parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", t - 30), 30000,
		  "Retry-After RFC 850 date");
	tap_inteq(infra_http_parse_retry_after("Sun Nov  6 08:49:37 1994", t - 30), 30000,
		  "Retry-After asctime date");
	tap_inteq(infra_http_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", t + 100), 0,
		  "Retry-After date in the past = 0");
	tap_inteq(infra_http_parse_retry_after("garbage", 0), -1, "Retry-After garbage = -1");
	tap_inteq(infra_http_parse_retry_after("", 0), -1, "Retry-After empty = -1");
	tap_inteq(infra_http_parse_retry_after(NULL, 0), -1, "Retry-After NULL = -1");
	tap_inteq(infra_http_parse_retry_after("-5", 0), -1, "Retry-After negative = -1");
	tap_inteq(infra_http_parse_retry_after("5s", 0), -1, "Retry-After trailing junk = -1");
	tap_inteq(infra_http_parse_retry_after("1.5", 0), -1, "Retry-After fraction = -1");
	tap_inteq(infra_http_parse_retry_after("Sun, 06 Nov 1994 25:49:37 GMT", 0), -1,
		  "Retry-After bad hour = -1");
	tap_inteq(infra_http_parse_retry_after("Sun, 06 Foo 1994 08:49:37 GMT", 0), -1,
		  "Retry-After bad month = -1");
	tap_ok(infra_http_parse_retry_after("99999999999999999999", 0) > 1000000000L,
	       "Retry-After huge value saturates instead of overflowing");
}

static void test_mask(void)
{
	char out[300];

	infra_http_mask_url("http://admin:hunter2@h:1/p?token=S1&a=1&api_key=S2#access_token=S3",
			    out, sizeof(out));
	tap_streq(out, "http://admin:***@h:1/p?token=***&a=1&api_key=***#access_token=***",
		  "mask_url: password, token, api_key, fragment token");
	infra_http_mask_url("https://ghp_SECRET@github.com/x", out, sizeof(out));
	tap_streq(out, "https://***@github.com/x", "mask_url: lone user part masked");
	infra_http_mask_url("http://h/p?Password=x&PASSWD=y&limit=5&client_secret=z", out,
			    sizeof(out));
	tap_streq(out, "http://h/p?Password=***&PASSWD=***&limit=5&client_secret=***",
		  "mask_url: case-insensitive names");
	infra_http_mask_url("http://h/a@b?x=1", out, sizeof(out));
	tap_streq(out, "http://h/a@b?x=1", "mask_url: @ in the path is not userinfo");
	infra_http_mask_url("http?token=S1://h/x", out, sizeof(out));
	tap_ok(!has(out, "S1"), "mask_url: a later \"://\" is not a scheme (fuzz find): [%s]", out);
	infra_http_mask_url("http://h/p?a=1?token=S3;password=S4&b=2", out, sizeof(out));
	tap_streq(out, "http://h/p?a=1?token=***;password=***&b=2",
		  "mask_url: '?' and ';' separate parameters too");
	infra_http_mask_url("user:pw@h/x?secret=S2", out, sizeof(out));
	tap_streq(out, "user:***@h/x?secret=***", "mask_url: URL without a scheme");
	infra_http_mask_url("http://h/p", out, 8);
	tap_ok(strlen(out) == 7, "mask_url: bounded by the output size");
}

/* ---------- single requests ---------- */

static void test_methods(struct infra_http *h)
{
	struct infra_http_resp r;
	struct infra_err e = INFRA_ERR_INIT;
	struct infra_http_req q;
	const char *hdrs[] = { "X-Test: one", "Content-Type: application/json", NULL };
	char url[256];
	int rc;

	rc = req_do(h, NULL, "/ok", NULL, 0, &r, &e);
	tap_ok(rc == 0 && r.status == 200 && r.body_len == 5 && strcmp(r.body, "hello") == 0,
	       "GET /ok -> 200 hello (rc %d, %s)", rc, e.msg);
	tap_inteq(r.attempts, 1, "GET /ok took one attempt");
	tap_ok(infra_http_resp_header(&r, "content-type") != NULL &&
	       strcmp(infra_http_resp_header(&r, "CONTENT-TYPE"), "text/plain") == 0,
	       "response header lookup is case-insensitive");
	tap_ok(infra_http_resp_header(&r, "X-Missing") == NULL, "missing header -> NULL");
	infra_http_resp_release(&r);

	memset(&q, 0, sizeof(q));
	snprintf(url, sizeof(url), "%s/echo?x=1", base);
	q.url = url;
	q.headers = hdrs;
	rc = infra_http_do(h, &q, &r, &e);
	tap_ok(rc == 0 && has(r.body, "\"method\": \"GET\"") && has(r.body, "\"x-test\": \"one\"") &&
	       has(r.body, "\"path\": \"/echo?x=1\""), "GET /echo with headers");
	tap_ok(has(r.body, "\"user-agent\": \"infrakit/"), "default User-Agent infrakit/VERSION");
	infra_http_resp_release(&r);

	q.method = "POST";
	q.body = "{\"a\": 1}";
	q.body_len = strlen(q.body);
	rc = infra_http_do(h, &q, &r, &e);
	tap_ok(rc == 0 && has(r.body, "\"method\": \"POST\"") &&
	       has(r.body, "\"body\": \"{\\\"a\\\": 1}\"") &&
	       has(r.body, "\"content-type\": \"application/json\""), "POST /echo with body");
	tap_ok(!has(r.body, "\"expect\""), "no Expect: 100-continue sent");
	infra_http_resp_release(&r);

	q.method = "PUT";
	q.body = "put-body";
	q.body_len = 8;
	rc = infra_http_do(h, &q, &r, &e);
	tap_ok(rc == 0 && has(r.body, "\"method\": \"PUT\"") && has(r.body, "\"body\": \"put-body\""),
	       "PUT /echo with body");
	infra_http_resp_release(&r);

	q.method = "DELETE";
	q.body = NULL;
	q.body_len = 0;
	rc = infra_http_do(h, &q, &r, &e);
	tap_ok(rc == 0 && has(r.body, "\"method\": \"DELETE\"") && has(r.body, "\"body\": \"\""),
	       "DELETE /echo");
	infra_http_resp_release(&r);

	q.method = "PATCH";
	q.body = "a\0b";
	q.body_len = 3;
	rc = infra_http_do(h, &q, &r, &e);
	tap_ok(rc == 0 && has(r.body, "\"method\": \"PATCH\"") &&
	       has(r.body, "\"content-length\": \"3\""), "PATCH with a binary body (NUL inside)");
	infra_http_resp_release(&r);

	rc = req_do(h, "HEAD", "/ok", NULL, 0, &r, &e);
	tap_ok(rc == 0 && r.status == 200 && r.body_len == 0 && r.body && r.body[0] == '\0',
	       "HEAD /ok -> 200, empty body (rc %d, %s)", rc, e.msg);
	infra_http_resp_release(&r);

	rc = req_do(h, NULL, "/header/X-Thing/v%201", NULL, 0, &r, &e);
	tap_streq(infra_http_resp_header(&r, "x-thing"), "v 1", "custom response header captured");
	infra_http_resp_release(&r);
}

static void test_status_and_retries(struct infra_http *h)
{
	struct infra_http_resp r;
	struct infra_err e = INFRA_ERR_INIT;
	struct infra_http_req q;
	char url[256];
	int rc;

	rc = req_do(h, NULL, "/status/404", NULL, 0, &r, &e);
	tap_ok(rc == 0 && r.status == 404 && r.attempts == 1, "404 returned, not retried");
	infra_http_resp_release(&r);
	rc = req_do(h, NULL, "/status/400", NULL, 0, &r, &e);
	tap_ok(rc == 0 && r.status == 400 && r.attempts == 1, "400 returned, not retried");
	infra_http_resp_release(&r);
	rc = req_do(h, NULL, "/status/501", NULL, 0, &r, &e);
	tap_ok(rc == 0 && r.status == 501 && r.attempts == 1, "501 not retried");
	infra_http_resp_release(&r);

	rc = req_do(h, NULL, "/flaky/f500/2/500", NULL, 0, &r, &e);
	tap_ok(rc == 0 && r.status == 200 && r.attempts == 3,
	       "500 twice then 200: retried, 3 attempts (status %ld, attempts %d)", r.status,
	       r.attempts);
	infra_http_resp_release(&r);
	req_do(h, NULL, "/count/f500", NULL, 0, &r, &e);
	tap_inteq(json_num(r.body, "count"), 3, "server saw 3 requests");
	infra_http_resp_release(&r);

	rc = req_do(h, NULL, "/flaky/fcap/5/500", NULL, 0, &r, &e);
	tap_ok(rc == 0 && r.status == 500 && r.attempts == 3,
	       "attempt cap: 500 returned after 3 attempts (status %ld, attempts %d)", r.status,
	       r.attempts);
	infra_http_resp_release(&r);
	req_do(h, NULL, "/count/fcap", NULL, 0, &r, &e);
	tap_inteq(json_num(r.body, "count"), 3, "server saw exactly max_attempts requests");
	infra_http_resp_release(&r);

	rc = req_do(h, NULL, "/flaky/f502/1/502", NULL, 0, &r, &e);
	tap_ok(rc == 0 && r.status == 200 && r.attempts == 2, "502 retried");
	infra_http_resp_release(&r);

	memset(&q, 0, sizeof(q));
	snprintf(url, sizeof(url), "%s/flaky/fmax/5/500", base);
	q.url = url;
	q.max_attempts = 1;
	rc = infra_http_do(h, &q, &r, &e);
	tap_ok(rc == 0 && r.status == 500 && r.attempts == 1, "req.max_attempts = 1: no retry");
	infra_http_resp_release(&r);

	rc = req_do(h, "POST", "/flaky/fpost/1/500", "x", 0, &r, &e);
	tap_ok(rc == 0 && r.status == 500 && r.attempts == 1, "POST not retried on 500");
	infra_http_resp_release(&r);
	rc = req_do(h, "POST", "/flaky/fpost2/1/500", "x", 1, &r, &e);
	tap_ok(rc == 0 && r.status == 200 && r.attempts == 2, "POST with retry_post retried on 500");
	infra_http_resp_release(&r);
}

static void test_retry_after(struct infra_http *h)
{
	struct infra_http_resp r;
	struct infra_err e = INFRA_ERR_INIT;
	struct infra_http *hc;
	int rc;

	rc = req_do(h, NULL, "/retry-after/ra1/1/1", NULL, 0, &r, &e);
	tap_ok(rc == 0 && r.status == 200 && r.attempts == 2, "429 then 200 (rc %d, %ld, %d)",
	       rc, r.status, r.attempts);
	tap_ok(r.elapsed_seconds >= 0.95, "Retry-After: 1 honoured (%.3f s)", r.elapsed_seconds);
	infra_http_resp_release(&r);

	rc = req_do(h, NULL, "/retry-after/ra503/1/1?code=503", NULL, 0, &r, &e);
	tap_ok(rc == 0 && r.status == 200 && r.attempts == 2 && r.elapsed_seconds >= 0.95,
	       "503 with Retry-After honoured (%.3f s)", r.elapsed_seconds);
	infra_http_resp_release(&r);

	rc = req_do(h, NULL, "/retry-after-date/rad/1/2", NULL, 0, &r, &e);
	tap_ok(rc == 0 && r.status == 200 && r.attempts == 2 && r.elapsed_seconds >= 0.9,
	       "Retry-After as HTTP date honoured (%.3f s)", r.elapsed_seconds);
	infra_http_resp_release(&r);

	hc = new_http(10, 50, 0, 500);
	rc = req_do(hc, NULL, "/retry-after/racap/1/30", NULL, 0, &r, &e);
	tap_ok(rc == 0 && r.status == 429 && r.attempts == 1 && r.elapsed_seconds < 1.0,
	       "Retry-After over retry_after_max_ms: 429 returned at once (%ld, %d, %.3f s)",
	       r.status, r.attempts, r.elapsed_seconds);
	tap_streq(infra_http_resp_header(&r, "Retry-After"), "30", "Retry-After header visible");
	infra_http_resp_release(&r);
	infra_http_free(hc);
}

static void test_failures(struct infra_http *h)
{
	struct infra_http_resp r;
	struct infra_err e = INFRA_ERR_INIT;
	struct infra_http_req q;
	char url[512], prefix[128];
	int rc, port = free_port();
	double t0;

	memset(&q, 0, sizeof(q));
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v3", port);
	q.url = url;
	rc = infra_http_do(h, &q, &r, &e);
	tap_ok(rc == -ECONNREFUSED && r.attempts == 3, "connect refused: -ECONNREFUSED after 3 "
	       "attempts (rc %d, attempts %d)", rc, r.attempts);
	snprintf(prefix, sizeof(prefix), "GET http://127.0.0.1:%d/v3: ", port);
	tap_ok(strncmp(e.msg, prefix, strlen(prefix)) == 0 && has(e.msg, "connection refused") &&
	       has(e.msg, "(after 3 attempts)"), "refused message: [%s]", e.msg);
	tap_ok(r.body == NULL && e.code == rc, "no body on error, err.code = rc");
	infra_http_resp_release(&r);

	q.method = "POST";
	q.body = "x";
	q.body_len = 1;
	rc = infra_http_do(h, &q, &r, &e);
	tap_ok(rc == -ECONNREFUSED && r.attempts == 3, "POST retried on connect errors");
	infra_http_resp_release(&r);

	/* secrets in the URL and headers never reach the message */
	{
		const char *hdrs[] = { "X-Auth-Token: HDRSECRET", NULL };

		memset(&q, 0, sizeof(q));
		snprintf(url, sizeof(url),
			 "http://admin:hunter2@127.0.0.1:%d/x?token=SECRET1&limit=5&password=SECRET2",
			 port);
		q.url = url;
		q.headers = hdrs;
		q.body = "BODYSECRET";
		q.body_len = 10;
		q.method = "PUT";
		q.max_attempts = 1;
		rc = infra_http_do(h, &q, &r, &e);
		tap_ok(rc < 0 && !has(e.msg, "SECRET") && !has(e.msg, "hunter2") &&
		       has(e.msg, "admin:***@") && has(e.msg, "limit=5") &&
		       has(e.msg, "(after 1 attempt)"), "secrets masked: [%s]", e.msg);
		infra_http_resp_release(&r);
	}

	memset(&q, 0, sizeof(q));
	snprintf(url, sizeof(url), "%s/slow/3000", base);
	q.url = url;
	q.timeout_ms = 300;
	q.max_attempts = 2;
	t0 = now_s();
	rc = infra_http_do(h, &q, &r, &e);
	tap_ok(rc == -ETIMEDOUT && has(e.msg, "timeout") && r.attempts == 2,
	       "slow server: timeout, retried (rc %d, [%s])", rc, e.msg);
	tap_ok(now_s() - t0 < 2.0, "per-request timeout applied (%.3f s)", now_s() - t0);
	infra_http_resp_release(&r);

	q.timeout_ms = 3000;
	snprintf(url, sizeof(url), "%s/slowbody/200", base);
	rc = infra_http_do(h, &q, &r, &e);
	tap_ok(rc == 0 && r.status == 200 && r.body_len == 100, "slow body within the timeout");
	infra_http_resp_release(&r);

	rc = req_do(h, NULL, "/truncate", NULL, 0, &r, &e);
	tap_ok(rc < 0 && r.attempts == 3 && has(e.msg, "partial"),
	       "truncated body: error after retries (rc %d, [%s])", rc, e.msg);
	infra_http_resp_release(&r);

	rc = req_do(h, NULL, "/close", NULL, 0, &r, &e);
	tap_ok(rc == -ECONNRESET && r.attempts == 3,
	       "closed without answer: error after retries (rc %d, [%s])", rc, e.msg);
	infra_http_resp_release(&r);

	rc = req_do(h, NULL, "/garbage", NULL, 0, &r, &e);
	tap_ok(rc < 0 && r.attempts == 1 && has(e.msg, "GET ") && !has(e.msg, "\n"),
	       "garbage reply: error, not retried (rc %d, [%s])", rc, e.msg);
	infra_http_resp_release(&r);

	memset(&q, 0, sizeof(q));
	q.url = "http://127.0.0.1:1/x";
	q.method = "GET";
	q.unix_socket = "/nonexistent/infra-test.sock";
	q.max_attempts = 1;
	rc = infra_http_do(h, &q, &r, &e);
	tap_ok(rc < 0 && has(e.msg, "unix socket /nonexistent/infra-test.sock"),
	       "missing unix socket named in the error: [%s]", e.msg);
	infra_http_resp_release(&r);

	memset(&q, 0, sizeof(q));
	q.url = "ftp://127.0.0.1/x";
	q.max_attempts = 1;
	rc = infra_http_do(h, &q, &r, &e);
	tap_ok(rc < 0 && r.attempts == 1, "non-http scheme refused: [%s]", e.msg);
	infra_http_resp_release(&r);

	rc = infra_http_do(h, NULL, &r, &e);
	tap_ok(rc == -EINVAL, "NULL request -> -EINVAL");

	{
		const char *bad_hdrs[] = { "X-A: 1\r\nX-Injected: 2", NULL };
		const char *no_colon[] = { "JustAName", NULL };

		memset(&q, 0, sizeof(q));
		snprintf(url, sizeof(url), "%s/echo", base);
		q.url = url;
		q.method = "GET /x HTTP/1.1\r\nX-Evil: 1\r\n";
		rc = infra_http_do(h, &q, &r, &e);
		tap_ok(rc == -EINVAL && has(e.msg, "invalid method") && !has(e.msg, "Evil"),
		       "method that is not a token rejected: [%s]", e.msg);
		q.method = NULL;
		q.headers = bad_hdrs;
		rc = infra_http_do(h, &q, &r, &e);
		tap_ok(rc == -EINVAL && has(e.msg, "header") && !has(e.msg, "Injected"),
		       "header with a line break rejected: [%s]", e.msg);
		q.headers = no_colon;
		rc = infra_http_do(h, &q, &r, &e);
		tap_ok(rc == -EINVAL, "header without a colon rejected");
		q.headers = NULL;
		q.url = "http://127.0.0.1/a b";
		rc = infra_http_do(h, &q, &r, &e);
		tap_ok(rc == -EINVAL && r.attempts == 0, "URL with a space rejected: [%s]", e.msg);
	}
}

static void test_body_cap(void)
{
	struct infra_http *hb = new_http(10, 50, 100000, 0);
	struct infra_http_resp r;
	struct infra_err e = INFRA_ERR_INIT;
	int rc;

	rc = req_do(hb, NULL, "/huge/200000", NULL, 0, &r, &e);
	tap_ok(rc == -E2BIG && has(e.msg, "response too large (> 100000 bytes)") && r.attempts == 1,
	       "Content-Length over the cap: -E2BIG (rc %d, [%s])", rc, e.msg);
	tap_ok(r.body == NULL && r.body_len == 0, "nothing partial returned");
	infra_http_resp_release(&r);

	rc = req_do(hb, NULL, "/huge-chunked/300000", NULL, 0, &r, &e);
	tap_ok(rc == -E2BIG && has(e.msg, "response too large") && r.attempts == 1,
	       "streamed body over the cap: -E2BIG (rc %d, [%s])", rc, e.msg);
	infra_http_resp_release(&r);

	rc = req_do(hb, NULL, "/huge/100000", NULL, 0, &r, &e);
	tap_ok(rc == 0 && r.body_len == 100000 && r.body[99999] == 'x' && r.body[100000] == '\0',
	       "body exactly at the cap accepted");
	infra_http_resp_release(&r);

	rc = req_do(hb, NULL, "/huge-chunked/99999", NULL, 0, &r, &e);
	tap_ok(rc == 0 && r.body_len == 99999, "chunked body under the cap accepted");
	infra_http_resp_release(&r);

	rc = req_do(hb, NULL, "/ok", NULL, 0, &r, &e);
	tap_ok(rc == 0 && r.status == 200, "handle still usable after -E2BIG");
	infra_http_resp_release(&r);
	infra_http_free(hb);
}

static long conn_id(struct infra_http *h, const char *url, const char *sock, int abstract)
{
	struct infra_http_req q;
	struct infra_http_resp r;
	struct infra_err e = INFRA_ERR_INIT;
	long id = -1;

	memset(&q, 0, sizeof(q));
	q.url = url;
	q.unix_socket = sock;
	q.abstract = abstract;
	if (infra_http_do(h, &q, &r, &e) == 0 && r.status == 200)
		id = json_num(r.body, "conn");
	else
		tap_diag("conn_id %s: %s", url, e.msg);
	infra_http_resp_release(&r);
	return id;
}

static void test_sockets(struct infra_http *h)
{
	struct infra_http_req q;
	struct infra_http_resp r;
	struct infra_err e = INFRA_ERR_INIT;
	char where[256], url[256];
	long a, b;
	int rc;

	snprintf(url, sizeof(url), "%s/conn", base);
	a = conn_id(h, url, NULL, 0);
	b = conn_id(h, url, NULL, 0);
	tap_ok(a > 0 && a == b, "TCP connection reused (%ld, %ld)", a, b);

	snprintf(sock_path, sizeof(sock_path), "/tmp/infra-test-http-%d.sock", (int)getpid());
	if (start_server("--unix", sock_path, where, sizeof(where)) == 0) {
		memset(&q, 0, sizeof(q));
		q.url = "http://localhost/ok";
		q.unix_socket = sock_path;
		rc = infra_http_do(h, &q, &r, &e);
		tap_ok(rc == 0 && r.status == 200 && has(r.body, "hello"),
		       "GET over a unix socket (%s)", e.msg);
		infra_http_resp_release(&r);
		a = conn_id(h, "http://localhost/conn", sock_path, 0);
		b = conn_id(h, "http://localhost/conn", sock_path, 0);
		tap_ok(a > 0 && a == b, "unix socket connection reused (%ld, %ld)", a, b);
	} else {
		tap_ok(0, "unix socket server started");
	}

	snprintf(abs_name, sizeof(abs_name), "infra-test-http-%d", (int)getpid());
	if (start_server("--abstract", abs_name, where, sizeof(where)) == 0) {
		memset(&q, 0, sizeof(q));
		q.url = "http://localhost/echo";
		q.method = "POST";
		q.body = "abs";
		q.body_len = 3;
		q.unix_socket = abs_name;
		q.abstract = 1;
		rc = infra_http_do(h, &q, &r, &e);
		tap_ok(rc == 0 && r.status == 200 && has(r.body, "\"body\": \"abs\""),
		       "POST over an abstract socket (%s)", e.msg);
		infra_http_resp_release(&r);
		q.unix_socket = "infra-test-no-such-abstract";
		q.method = NULL;
		q.body = NULL;
		q.body_len = 0;
		q.max_attempts = 1;
		rc = infra_http_do(h, &q, &r, &e);
		tap_ok(rc < 0 && has(e.msg, "abstract socket @infra-test-no-such-abstract"),
		       "missing abstract socket named: [%s]", e.msg);
		infra_http_resp_release(&r);
	} else {
		tap_ok(0, "abstract socket server started");
	}
}

static void test_jitter_and_final_headers(void)
{
	struct infra_http *hj = new_http(200, 200, 0, 0);
	struct infra_http_resp r;
	struct infra_err e = INFRA_ERR_INIT;
	int rc;

	rc = req_do(hj, NULL, "/flaky/jit/1/500", NULL, 0, &r, &e);
	tap_ok(rc == 0 && r.attempts == 2 && r.elapsed_seconds >= 0.095 &&
	       r.elapsed_seconds < 0.35, "backoff with jitter: 200 ms * [0.5, 1] (%.3f s)",
	       r.elapsed_seconds);
	infra_http_resp_release(&r);
	rc = req_do(hj, NULL, "/retry-after/fin/1/0", NULL, 0, &r, &e);
	tap_ok(rc == 0 && r.status == 200 && r.attempts == 2 &&
	       infra_http_resp_header(&r, "Retry-After") == NULL,
	       "headers are those of the final response (Retry-After: 0 retried at once, %.3f s)",
	       r.elapsed_seconds);
	infra_http_resp_release(&r);
	infra_http_free(hj);
}

static void test_post_timeout(struct infra_http *h)
{
	struct infra_http_req q;
	struct infra_http_resp r;
	struct infra_err e = INFRA_ERR_INIT;
	char url[256];
	int rc;

	memset(&q, 0, sizeof(q));
	snprintf(url, sizeof(url), "%s/slow/2000", base);
	q.url = url;
	q.method = "POST";
	q.body = "once";
	q.body_len = 4;
	q.timeout_ms = 200;
	rc = infra_http_do(h, &q, &r, &e);
	tap_ok(rc == -ETIMEDOUT && r.attempts == 1,
	       "POST timed out after sending: not retried (rc %d, %d attempts)", rc, r.attempts);
	infra_http_resp_release(&r);
}

static void test_tls(void)
{
	struct infra_http_opts o;
	struct infra_http *ht;
	struct infra_http_req q;
	struct infra_http_resp r;
	struct infra_err e = INFRA_ERR_INIT;
	char ca[PATH_MAX], cert[PATH_MAX], key[PATH_MAX], scert[PATH_MAX], skey[PATH_MAX];
	char where[256], url[300];
	long a, b;
	int rc;
	const char *args[] = { "--tls-cert", scert, "--tls-key", skey, "--client-ca", ca, NULL };

	src_path(ca, sizeof(ca), "tests/sim/tls/ca.pem");
	src_path(cert, sizeof(cert), "tests/sim/tls/client.pem");
	src_path(key, sizeof(key), "tests/sim/tls/client.key");
	src_path(scert, sizeof(scert), "tests/sim/tls/server.pem");
	src_path(skey, sizeof(skey), "tests/sim/tls/server.key");
	if (start_server_v(args, where, sizeof(where)) != 0) {
		tap_ok(0, "TLS faultserver started");
		return;
	}
	snprintf(url, sizeof(url), "%s/ok", where);
	memset(&q, 0, sizeof(q));
	q.url = url;

	memset(&o, 0, sizeof(o));
	o.backoff_base_ms = 10;
	ht = infra_http_new(&o, &e);
	rc = infra_http_do(ht, &q, &r, &e);
	tap_ok(rc == -EPROTO && r.attempts == 1 && has(e.msg, "TLS error"),
	       "unknown CA: TLS error, not retried: [%s]", e.msg);
	infra_http_resp_release(&r);
	infra_http_free(ht);

	o.cacert = ca;
	o.cert = cert;
	o.key = key;
	ht = infra_http_new(&o, &e);
	rc = infra_http_do(ht, &q, &r, &e);
	tap_ok(rc == 0 && r.status == 200 && has(r.body, "hello"),
	       "HTTPS with cacert and a client certificate (%s)", e.msg);
	infra_http_resp_release(&r);
	snprintf(url, sizeof(url), "%s/conn", where);
	a = conn_id(ht, url, NULL, 0);
	b = conn_id(ht, url, NULL, 0);
	tap_ok(a > 0 && a == b, "TLS connection reused (%ld, %ld)", a, b);
	infra_http_free(ht);

	o.cert = o.key = NULL;
	o.max_attempts = 1;
	ht = infra_http_new(&o, &e);
	snprintf(url, sizeof(url), "%s/ok", where);
	rc = infra_http_do(ht, &q, &r, &e);
	tap_ok(rc < 0, "client certificate required: error without one: [%s]", e.msg);
	infra_http_resp_release(&r);
	infra_http_free(ht);

	o.cacert = NULL;
	o.cert = cert;
	o.key = key;
	o.insecure = 1;
	ht = infra_http_new(&o, &e);
	rc = infra_http_do(ht, &q, &r, &e);
	tap_ok(rc == 0 && r.status == 200, "insecure skips verification (%s)", e.msg);
	infra_http_resp_release(&r);
	infra_http_free(ht);
}

static void test_h2_prior_knowledge(void)
{
	struct infra_http_opts o;
	struct infra_http *h2;
	struct infra_http_req q;
	struct infra_http_resp r;
	struct infra_err e = INFRA_ERR_INIT;
	char url[256];
	int rc;

	if (!(curl_version_info(CURLVERSION_NOW)->features & CURL_VERSION_HTTP2)) {
		tap_ok(1, "# SKIP libcurl without HTTP/2");
		return;
	}
	memset(&o, 0, sizeof(o));
	o.http2_prior_knowledge = 1;
	o.max_attempts = 1;
	o.timeout_ms = 2000;
	h2 = infra_http_new(&o, &e);
	memset(&q, 0, sizeof(q));
	snprintf(url, sizeof(url), "%s/ok", base);
	q.url = url;
	rc = infra_http_do(h2, &q, &r, &e);
	tap_ok(rc < 0 && r.status != 200,
	       "http2_prior_knowledge speaks h2c (an HTTP/1.1-only server fails): [%s]", e.msg);
	infra_http_resp_release(&r);
	infra_http_free(h2);
}

/* ---------- batch ---------- */

struct tally {
	int done, ok, failed;
	double t0;
	double t_slow_max, t_slow_first;
	double t_special;
	int special_attempts, special_status, special_order;
	int order;
};

static void tally_cb(void *ud, const struct infra_http_req *req, struct infra_http_resp *resp,
		     int rc, const struct infra_err *err)
{
	struct tally *t = ud;
	double dt = now_s() - t->t0;

	t->done++;
	t->order++;
	if (rc == 0 && resp->status == 200)
		t->ok++;
	else
		t->failed++;
	if (has(req->url, "/slow/")) {
		if (dt > t->t_slow_max)
			t->t_slow_max = dt;
	} else if (has(req->url, "/retry-after/") || has(req->url, "/flaky/")) {
		t->t_special = dt;
		t->special_attempts = resp->attempts;
		t->special_status = (int)resp->status;
		t->special_order = t->order;
	}
	(void)err;
}

struct chain {
	struct infra_http_batch *b;
	int pages, last_page, rc_bad;
};

static void chain_cb(void *ud, const struct infra_http_req *req, struct infra_http_resp *resp,
		     int rc, const struct infra_err *err)
{
	struct chain *c = ud;
	const char *next;
	char url[256];

	(void)req;
	(void)err;
	if (rc || resp->status != 200) {
		c->rc_bad++;
		return;
	}
	c->pages++;
	c->last_page = (int)json_num(resp->body, "page");
	next = strstr(resp->body, "\"next\": \"");
	if (next) {
		struct infra_http_req q;

		next += 9;
		memset(&q, 0, sizeof(q));
		snprintf(url, sizeof(url), "%s%.*s", base, (int)strcspn(next, "\""), next);
		q.url = url; /* copied by batch_add */
		if (infra_http_batch_add(c->b, &q, chain_cb, c))
			c->rc_bad++;
	}
	/* take the body: the runner must not free it twice */
	free(resp->body);
	resp->body = NULL;
}

static void err_cb(void *ud, const struct infra_http_req *req, struct infra_http_resp *resp,
		   int rc, const struct infra_err *err)
{
	struct infra_err *out = ud;

	(void)req;
	(void)resp;
	out->code = rc;
	copy_str(out->msg, sizeof(out->msg), err->msg);
}

struct ids {
	struct infra_http *h;
	long id[8];
	int n, nested_ok;
};

static void ids_cb(void *ud, const struct infra_http_req *req, struct infra_http_resp *resp,
		   int rc, const struct infra_err *err)
{
	struct ids *d = ud;
	struct infra_http_resp r2;
	struct infra_err e2 = INFRA_ERR_INIT;

	(void)req;
	(void)err;
	if (d->n < 8)
		d->id[d->n++] = rc == 0 ? json_num(resp->body, "conn") : -1;
	/* a blocking request on the same handle from inside a callback */
	if (req_do(d->h, NULL, "/ok", NULL, 0, &r2, &e2) == 0 && r2.status == 200)
		d->nested_ok++;
	infra_http_resp_release(&r2);
}

static void test_batch_reuse(struct infra_http *h)
{
	struct infra_http_batch *b = infra_http_batch_new(h, 1);
	struct infra_http_req q;
	struct infra_err e = INFRA_ERR_INIT;
	struct ids d;
	char url[256];
	int i, rc;

	memset(&d, 0, sizeof(d));
	d.h = h;
	memset(&q, 0, sizeof(q));
	snprintf(url, sizeof(url), "%s/conn", base);
	q.url = url;
	for (i = 0; i < 3; i++)
		infra_http_batch_add(b, &q, ids_cb, &d);
	rc = infra_http_batch_run(b, &e);
	tap_ok(rc == 0 && d.n == 3 && d.id[0] > 0 && d.id[0] == d.id[1] && d.id[1] == d.id[2],
	       "batch at concurrency 1 reuses one connection (%ld %ld %ld)", d.id[0], d.id[1],
	       d.id[2]);
	tap_inteq(d.nested_ok, 3, "infra_http_do works inside a batch callback");
	infra_http_batch_free(b);
}

static void test_batch(struct infra_http *h)
{
	struct infra_http_batch *b;
	struct infra_http_req q;
	struct infra_http_resp r;
	struct infra_err e = INFRA_ERR_INIT, cb_err = INFRA_ERR_INIT;
	struct tally t;
	struct chain c;
	char url[256];
	long first, second;
	int i, rc, addfail = 0;

	/* 50 requests, at most 4 in flight */
	memset(&t, 0, sizeof(t));
	b = infra_http_batch_new(h, 4);
	tap_ok(b != NULL, "batch_new");
	memset(&q, 0, sizeof(q));
	snprintf(url, sizeof(url), "%s/inflight/b50/40", base);
	q.url = url;
	for (i = 0; i < 50; i++)
		addfail += infra_http_batch_add(b, &q, tally_cb, &t) != 0;
	t.t0 = now_s();
	rc = infra_http_batch_run(b, &e);
	tap_ok(rc == 0 && addfail == 0, "batch of 50 ran (rc %d, %s)", rc, e.msg);
	tap_ok(t.done == 50 && t.ok == 50, "all 50 completed with 200 (%d done, %d ok)", t.done, t.ok);
	rc = req_do(h, NULL, "/inflight-max/b50", NULL, 0, &r, &e);
	tap_ok(json_num(r.body, "max") >= 2 && json_num(r.body, "max") <= 4,
	       "concurrency bound observed by the server (max in flight %ld, bound 4)",
	       json_num(r.body, "max"));
	infra_http_resp_release(&r);
	tap_ok(now_s() - t.t0 < 50 * 0.04, "ran in parallel (%.3f s < 2 s serial)", now_s() - t.t0);

	/* the batch is reusable; a connection left by infra_http_do is reused by it */
	snprintf(url, sizeof(url), "%s/conn", base);
	first = conn_id(h, url, NULL, 0);
	memset(&c, 0, sizeof(c));
	c.b = b;
	snprintf(url, sizeof(url), "%s/page/1/5", base);
	q.url = url;
	infra_http_batch_add(b, &q, chain_cb, &c);
	rc = infra_http_batch_run(b, &e);
	tap_ok(rc == 0 && c.pages == 5 && c.last_page == 5 && c.rc_bad == 0,
	       "callback-queued page chain: 5 pages (%d, last %d, bad %d)", c.pages, c.last_page,
	       c.rc_bad);
	snprintf(url, sizeof(url), "%s/conn", base);
	second = conn_id(h, url, NULL, 0);
	tap_ok(first > 0 && first == second, "connection cache shared by single and batch (%ld, %ld)",
	       first, second);
	infra_http_batch_free(b);

	/* a 1 s Retry-After wait does not stall the other transfers */
	memset(&t, 0, sizeof(t));
	b = infra_http_batch_new(h, 4);
	snprintf(url, sizeof(url), "%s/retry-after/bra/1/1", base);
	q.url = url;
	infra_http_batch_add(b, &q, tally_cb, &t);
	snprintf(url, sizeof(url), "%s/slow/150", base);
	for (i = 0; i < 8; i++)
		infra_http_batch_add(b, &q, tally_cb, &t);
	t.t0 = now_s();
	rc = infra_http_batch_run(b, &e);
	tap_ok(rc == 0 && t.ok == 9, "batch with a 429 and 8 slow requests all succeed (%d ok)", t.ok);
	tap_ok(t.special_status == 200 && t.special_attempts == 2 && t.t_special >= 0.95,
	       "429 retried inside the batch after Retry-After (%d, %d attempts, %.3f s)",
	       t.special_status, t.special_attempts, t.t_special);
	tap_ok(t.t_slow_max < 0.9 && t.special_order == 9,
	       "other transfers ran during the wait (slow done at %.3f s, 429 finished %dth)",
	       t.t_slow_max, t.special_order);

	/* flaky 500 retried inside the batch; errors reach the callback */
	memset(&t, 0, sizeof(t));
	snprintf(url, sizeof(url), "%s/flaky/bfl/2/500", base);
	q.url = url;
	infra_http_batch_add(b, &q, tally_cb, &t);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/nothing?secret=S3CR3T", free_port());
	q.url = url;
	infra_http_batch_add(b, &q, err_cb, &cb_err);
	t.t0 = now_s();
	rc = infra_http_batch_run(b, &e);
	tap_ok(rc == 0 && t.special_status == 200 && t.special_attempts == 3,
	       "500 retried inside the batch (%d, %d attempts)", t.special_status,
	       t.special_attempts);
	tap_ok(cb_err.code == -ECONNREFUSED && has(cb_err.msg, "(after 3 attempts)") &&
	       !has(cb_err.msg, "S3CR3T"), "batch error delivered to the callback: [%s]",
	       cb_err.msg);
	infra_http_batch_free(b);

	/* freeing a batch with queued work does not run it and does not leak */
	b = infra_http_batch_new(h, 2);
	snprintf(url, sizeof(url), "%s/ok", base);
	q.url = url;
	infra_http_batch_add(b, &q, tally_cb, &t);
	infra_http_batch_free(b);
	tap_ok(1, "batch freed with a queued request");
	tap_ok(infra_http_batch_add(NULL, &q, NULL, NULL) == -EINVAL, "batch_add(NULL) -> -EINVAL");
}

struct seq {
	char body[4][1024];
	long status[4];
	int n;
};

static void seq_cb(void *ud, const struct infra_http_req *req, struct infra_http_resp *resp,
		   int rc, const struct infra_err *err)
{
	struct seq *d = ud;

	(void)req;
	(void)err;
	if (d->n >= 4)
		return;
	d->status[d->n] = rc == 0 ? resp->status : -1;
	copy_str(d->body[d->n], sizeof(d->body[0]), rc == 0 && resp->body ? resp->body : "");
	d->n++;
}

/* At concurrency 1 each transfer gets the easy handle the previous one left
 * (reset): nothing of a POST with headers carries over to the GET after it. */
static void test_batch_handle_reuse(struct infra_http *h)
{
	struct infra_http_batch *b = infra_http_batch_new(h, 1);
	struct infra_http_req q;
	struct infra_err e = INFRA_ERR_INIT;
	const char *hdrs[] = { "X-Test: one", "Content-Type: application/json", NULL };
	struct seq d;
	char url[256];
	int rc, round;

	memset(&d, 0, sizeof(d));
	snprintf(url, sizeof(url), "%s/echo?x=1", base);
	for (round = 0; round < 2; round++) { /* the second round reuses the batch's idle handles */
		memset(&d, 0, sizeof(d));
		memset(&q, 0, sizeof(q));
		q.url = url;
		q.method = "PUT";
		q.headers = hdrs;
		q.body = "{\"a\": 1}";
		q.body_len = strlen(q.body);
		infra_http_batch_add(b, &q, seq_cb, &d);
		memset(&q, 0, sizeof(q));
		q.url = url;
		infra_http_batch_add(b, &q, seq_cb, &d);
		q.method = "HEAD";
		infra_http_batch_add(b, &q, seq_cb, &d);
		q.method = NULL;
		infra_http_batch_add(b, &q, seq_cb, &d);
		rc = infra_http_batch_run(b, &e);
		tap_ok(rc == 0 && d.n == 4 && d.status[0] == 200 && has(d.body[0], "\"method\": \"PUT\"") &&
		       has(d.body[0], "\"x-test\": \"one\"") && has(d.body[0], "\"a\\\": 1"),
		       "round %d: PUT with headers and body in a batch (%s)", round, d.body[0]);
		tap_ok(d.status[1] == 200 && has(d.body[1], "\"method\": \"GET\"") &&
		       !has(d.body[1], "x-test") && !has(d.body[1], "application/json") &&
		       has(d.body[1], "\"user-agent\": \"infrakit/"),
		       "round %d: the GET after it on the reused handle has no PUT method, header or "
		       "body (%s)", round, d.body[1]);
		tap_ok(d.status[2] == 200 && d.body[2][0] == '\0' && d.status[3] == 200 &&
		       has(d.body[3], "\"method\": \"GET\""),
		       "round %d: HEAD then GET on the reused handle (%s)", round, d.body[3]);
	}
	infra_http_batch_free(b);
}

int main(void)
{
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_http *h;
	char where[256], log_path[128], line[256];
	double t0 = now_s();
	FILE *lf;
	int seen = 0;

	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_fatal);
	signal(SIGTERM, on_fatal);
	signal(SIGSEGV, on_fatal);
	signal(SIGABRT, on_fatal);
	atexit(kill_servers);

	test_backoff();
	test_retry_after_parse();
	test_mask();

	tap_ok(infra_http_global_init(&err) == 0, "global init");
	tap_ok(infra_http_global_init(&err) == 0, "global init twice");
	snprintf(log_path, sizeof(log_path), "/tmp/infra-test-http-%d.log", (int)getpid());
	if (start_server("--log", log_path, where, sizeof(where)) != 0) {
		tap_ok(0, "faultserver started (python3 tests/sim/faultserver.py)");
		return tap_done();
	}
	copy_str(base, sizeof(base), where);
	tap_ok(strncmp(base, "http://127.0.0.1:", 17) == 0, "faultserver at %s", base);

	h = new_http(10, 50, 0, 0);
	if (!h) {
		tap_ok(0, "infra_http_new");
		return tap_done();
	}
	test_methods(h);
	test_status_and_retries(h);
	test_retry_after(h);
	test_failures(h);
	test_body_cap();
	test_sockets(h);
	test_post_timeout(h);
	test_jitter_and_final_headers();
	test_h2_prior_knowledge();
	test_tls();
	test_batch(h);
	test_batch_reuse(h);
	test_batch_handle_reuse(h);
	infra_http_free(h);
	kill_servers();
	lf = fopen(log_path, "r");
	while (lf && fgets(line, sizeof(line), lf))
		seen += strcmp(line, "GET /ok HTTP/1.1\n") == 0;
	if (lf)
		fclose(lf);
	unlink(log_path);
	tap_ok(seen >= 2, "faultserver --log recorded request lines (%d x GET /ok)", seen);
	tap_diag("test_http took %.1f s", now_s() - t0);
	return tap_done();
}
