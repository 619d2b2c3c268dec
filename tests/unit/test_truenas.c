/* test_truenas.c - lib/infra_truenas without a server: method per version, URL checks and the
 * refusal to send an API key over a cleartext transport to a non-loopback host. */
#include <errno.h>
#include <string.h>

#include "infra_truenas.h"
#include "tap.h"

#define KEY "7-SeCrEtKeYvAlUe0123456789"

static void test_methods(void)
{
	static const struct { const char *ver; int rest; const char *want; } snap[] = {
		{ "TrueNAS-SCALE-24.10.2", 1, "/zfs/snapshot" },
		{ "TrueNAS-25.04.2", 0, "zfs.snapshot.query" },
		{ "25.04.0", 1, "/zfs/snapshot" },
		{ "TrueNAS-25.10.0", 0, "pool.snapshot.query" },
		{ "TrueNAS-25.10.1", 1, "/pool/snapshot" },
		{ "TrueNAS-26.0.0-BETA.3", 0, "pool.snapshot.query" },
		{ "TrueNAS-26.0.0-BETA.3", 1, NULL },
		{ "FreeNAS-11.2-U5", 1, "/zfs/snapshot" },
		{ "TrueNAS-12.0-RELEASE", 0, "zfs.snapshot.query" },
		{ "TrueNAS-SCALE-20.11-MASTER-20201127-092915", 0, "zfs.snapshot.query" },
		{ "", 0, "pool.snapshot.query" },
		{ "unknown", 0, "pool.snapshot.query" },
	};
	size_t i;

	for (i = 0; i < sizeof(snap) / sizeof(snap[0]); i++) {
		const char *got = infra_truenas_method_for(INFRA_TN_SNAPSHOTS, snap[i].ver, snap[i].rest);

		tap_ok((got == NULL && snap[i].want == NULL) || (got && snap[i].want && !strcmp(got, snap[i].want)),
		       "snapshots on '%s' over %s: %s (got %s)", snap[i].ver, snap[i].rest ? "REST" : "JSON-RPC",
		       snap[i].want ? snap[i].want : "none", got ? got : "none");
	}
	tap_streq(infra_truenas_method_for(INFRA_TN_DATASETS, "TrueNAS-25.10.1", 0), "pool.dataset.query",
		  "datasets: pool.dataset.query");
	tap_streq(infra_truenas_method_for(INFRA_TN_DATASETS, "TrueNAS-SCALE-24.10.2", 1),
		  "/pool/dataset?extra.retrieve_children=false", "datasets over REST: flat, no nested children");
	tap_streq(infra_truenas_method_for(INFRA_TN_ISCSI_TARGETEXTENTS, "TrueNAS-25.04.2", 0),
		  "iscsi.targetextent.query", "iSCSI target-extents: iscsi.targetextent.query");
	tap_streq(infra_truenas_method_for(INFRA_TN_NFS_SHARES, "TrueNAS-25.04.2", 1), "/sharing/nfs",
		  "NFS shares over REST: /sharing/nfs");
	tap_ok(infra_truenas_method_for(INFRA_TN_NQUERIES, "TrueNAS-25.10.1", 0) == NULL, "no method past the list");
}

static int open_err(const char *url, const char *key, struct infra_err *err)
{
	struct infra_truenas *t = NULL;
	struct infra_truenas_opts o = { 0 };
	struct infra_http_opts h = { 0 };
	int rc;

	h.timeout_ms = 2000;
	h.max_attempts = 1;
	o.url = url;
	o.api_key = key;
	o.http = &h;
	infra_err_clear(err);
	rc = infra_truenas_open(&t, &o, err);
	infra_truenas_close(t);
	return rc;
}

static void test_refusals(void)
{
	static const char *cleartext[] = { "http://192.0.2.7", "ws://192.0.2.7:6000", "http://truenas.example.com",
		"HTTP://10.1.2.3:80/", "http://127.0.0.1.evil.example", "http://localhost.evil.example",
		"http://[2001:db8::1]:8080" };
	static const char *bad[] = { "ftp://truenas", "truenas.example.com", "https://truenas/api/current", "" };
	struct infra_err err = INFRA_ERR_INIT;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(cleartext) / sizeof(cleartext[0]); i++) {
		rc = open_err(cleartext[i], KEY, &err);
		tap_ok(rc == -EINVAL && strstr(err.msg, "refusing to send the API key over") &&
		       strstr(err.msg, "use https://") && !strstr(err.msg, KEY),
		       "%s: refused before connecting (%s)", cleartext[i], err.msg);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rc = open_err(bad[i], KEY, &err);
		tap_ok(rc == -EINVAL && !strstr(err.msg, KEY), "'%s': invalid URL (%s)", bad[i], err.msg);
	}
	rc = open_err("https://192.0.2.7", NULL, &err);
	tap_ok(rc == -EINVAL && strstr(err.msg, "no TrueNAS API key"), "no key: EINVAL (%s)", err.msg);
	rc = open_err("https://192.0.2.7", "abc\ndef", &err);
	tap_ok(rc == -EINVAL && strstr(err.msg, "line break") && !strstr(err.msg, "abc"),
	       "a key with a line break: EINVAL, the key not shown (%s)", err.msg);
	/* loopback over cleartext is allowed (tests): the failure is the connection, not a refusal */
	rc = open_err("http://127.0.0.1:1", KEY, &err);
	tap_ok(rc != -EINVAL && rc < 0 && !strstr(err.msg, KEY), "http://127.0.0.1:1 is not refused, it fails to connect (%s)",
	       err.msg);
	rc = open_err("ws://localhost:1", KEY, &err);
	tap_ok(rc != -EINVAL && rc < 0, "ws://localhost:1 is not refused (%s)", err.msg);
	rc = open_err("http://[::1]:1", KEY, &err);
	tap_ok(rc != -EINVAL && rc < 0, "http://[::1]:1 is not refused (%s)", err.msg);
}

int main(void)
{
	test_methods();
	test_refusals();
	return tap_done();
}
