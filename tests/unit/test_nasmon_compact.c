/* test_nasmon_compact.c - the loader's compact items (infra_nasmon_compact): every check gives
 * the same result over the planted world (tests/sim/nas_scenario.py, a firing case and a near
 * miss for every check) whole and with its Kubernetes lists compacted as the loader keeps them;
 * a compact item is one flat object that shares nothing with the parsed page (it outlives it);
 * the small lists are kept whole.  The TrueNAS snapshots likewise (infra_nasmon_compact_tn): the
 * same judgement, the printed form, and a compact snapshot kept costs under 320 bytes of heap
 * (a whole one, as the loader kept them before, over 1 KiB).  Over JSON-RPC (tests/sim/truenas.py)
 * infra_truenas_query_map converts the snapshots while it parses the reply: the heap never
 * holds the whole reply tree (before, the loader converted the list once it was parsed). */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "infra_history.h"
#include "infra_json.h"
#include "infra_nasmon.h"
#include "infra_truenas.h"
#include "tap.h"

static char tmpdir[256];

static json_object *gen_world(const char *extra)
{
	const char *src = getenv("INFRA_SRCDIR");
	char cmd[2048], path[512];
	json_object *w = NULL;
	struct infra_err err = INFRA_ERR_INIT;
	static int n;

	snprintf(path, sizeof(path), "%s/world-%d.json", tmpdir, n++);
	snprintf(cmd, sizeof(cmd), "python3 %s/tests/sim/nas_scenario.py --seed 7 --now 1764806400 %s -o %s",
		 src ? src : ".", extra, path);
	if (system(cmd) != 0) {
		tap_diag("generator failed: %s", cmd);
		return NULL;
	}
	if (infra_json_file_read(path, &w, &err))
		tap_diag("%s", err.msg);
	return w;
}

/* The result as one canonical string: findings (sorted by the engine), per-check status and
 * counts, pools, volumes and context. */
static char *judge(json_object *w, json_object *kube, json_object *tn)
{
	struct infra_nasmon_config cfg;
	struct infra_nasmon_input in = { 0 };
	struct infra_nasmon_result res;
	struct infra_err err = INFRA_ERR_INIT;
	json_object *c, *doc;
	char *s;

	infra_nasmon_config_init(&cfg);
	if (!infra_json_get(w, "scenario.config", &c, NULL)) {
		cfg.drivers = json_object_get(json_object_object_get(c, "drivers"));
		cfg.dataset_parents = json_object_get(json_object_object_get(c, "dataset_parents"));
		cfg.snapshot_parents = json_object_get(json_object_object_get(c, "snapshot_parents"));
		cfg.instance_ids = json_object_get(json_object_object_get(c, "instance_ids"));
	}
	in.kube = kube;
	in.truenas = tn ? tn : json_object_object_get(w, "truenas");
	in.transport = "jsonrpc";
	in.now = (double)infra_json_opt_int64(w, "scenario.now", 0);
	if (infra_nasmon_run(&cfg, &in, &res, NULL, &err)) {
		tap_diag("run: %s", err.msg);
		infra_nasmon_config_release(&cfg);
		return NULL;
	}
	doc = infra_nasmon_to_json(&res);
	s = infra_json_canonical(doc, 0);
	json_object_put(doc);
	infra_nasmon_result_release(&res);
	infra_nasmon_config_release(&cfg);
	return s;
}

/* kube as the loader keeps it: every item through infra_nasmon_compact, the original dropped */
static json_object *compact_kube(json_object *kube)
{
	json_object *out = json_object_new_object();

	json_object_object_foreach(kube, list, arr) {
		json_object *a = json_object_new_array();

		for (size_t i = 0; i < json_object_array_length(arr); i++)
			json_object_array_add(a, infra_nasmon_compact(list, json_object_array_get_idx(arr, i)));
		json_object_object_add(out, list, a);
	}
	return out;
}

/* truenas as the loader keeps it: every list item through infra_nasmon_compact_tn, from a copy
 * that is freed */
static json_object *compact_tn(json_object *tn)
{
	json_object *out = json_object_new_object(), *whole = NULL;

	if (json_object_deep_copy(tn, &whole, NULL))
		return out;
	json_object_object_foreach(whole, list, val) {
		json_object *a;

		if (!json_object_is_type(val, json_type_array)) {
			json_object_object_add(out, list, json_object_get(val));
			continue;
		}
		a = json_object_new_array();
		for (size_t i = 0; i < json_object_array_length(val); i++)
			json_object_array_add(a, infra_nasmon_compact_tn(list, json_object_array_get_idx(val, i)));
		json_object_object_add(out, list, a);
	}
	json_object_put(whole);
	return out;
}

static void test_same_judgement(const char *what, const char *args)
{
	json_object *w = gen_world(args), *whole = NULL, *compact, *tn;
	char *a, *b;

	if (!tap_ok(w != NULL, "%s: generator wrote a world", what))
		return;
	/* a deep copy of the whole lists, compacted, then the copy freed: the compact items must
	 * not borrow from the parsed page (ASan would see a use after free) */
	if (json_object_deep_copy(json_object_object_get(w, "kube"), &whole, NULL)) {
		tap_ok(0, "deep copy");
		json_object_put(w);
		return;
	}
	compact = compact_kube(whole);
	json_object_put(whole);
	tn = compact_tn(json_object_object_get(w, "truenas"));
	a = judge(w, json_object_object_get(w, "kube"), NULL);
	b = judge(w, compact, tn);
	tap_ok(a && b && !strcmp(a, b), "%s: every check judges the compacted lists (Kubernetes and TrueNAS) as the whole ones",
	       what);
	if (a && b && strcmp(a, b)) {
		size_t i = 0;

		while (a[i] && a[i] == b[i])
			i++;
		tap_diag("first difference at %zu: whole '%.160s' compact '%.160s'", i, a + (i > 40 ? i - 40 : 0),
			 b + (i > 40 ? i - 40 : 0));
	}
	free(a);
	free(b);
	json_object_put(compact);
	json_object_put(tn);
	json_object_put(w);
}

static void test_shape(void)
{
	json_object *w = gen_world("--plants ORPH-VA,SNAP-DANGLING --pvs 4"), *pv, *c, *v, *node;
	int nested = 0, flat = 1;

	if (!tap_ok(w != NULL, "small world"))
		return;
	pv = json_object_array_get_idx(json_object_object_get(json_object_object_get(w, "kube"), "persistentvolumes"), 0);
	c = infra_nasmon_compact("persistentvolumes", pv);
	tap_ok(c && c != pv && json_object_object_get_ex(c, "spec.csi.driver", &v) &&
		       !strcmp(json_object_get_string(v), infra_json_opt_string(pv, "spec.csi.driver", "")),
	       "a compact PV is a new object keyed by the paths the checks read");
	json_object_object_foreach(c, k, val) {
		(void)k;
		if (!json_object_is_type(val, json_type_string))
			flat = 0;
	}
	tap_ok(flat && !json_object_object_get_ex(c, "spec", NULL) && !json_object_object_get_ex(c, "metadata", NULL) &&
		       json_object_object_length(c) < json_object_object_length(pv) + 14,
	       "a compact PV is flat: strings only, no nested spec/metadata");
	tap_ok(!json_object_object_get_ex(c, "spec.claimRef.uid", NULL) && !json_object_object_get_ex(c, "metadata.uid", NULL),
	       "fields no check reads are dropped");
	json_object_put(c);
	/* a VolumeAttachment keeps status.attachError nested (jo() tests it), only when present */
	{
		json_object *va = json_object_object_get(json_object_object_get(w, "kube"), "volumeattachments");

		for (size_t i = 0; i < json_object_array_length(va); i++) {
			json_object *o = json_object_array_get_idx(va, i), *st;

			c = infra_nasmon_compact("volumeattachments", o);
			int err_in_original = !infra_json_get(o, "status.attachError", &v, NULL) ||
					      !infra_json_get(o, "status.detachError", &v, NULL);

			if (json_object_object_get_ex(c, "status", &st) != err_in_original)
				nested = -1000;
			else if (err_in_original)
				nested++;
			json_object_put(c);
		}
		tap_ok(nested > 0, "a compact VolumeAttachment has a status exactly when it has an attach/detach error (%d)",
		       nested);
	}
	node = json_object_array_get_idx(json_object_object_get(json_object_object_get(w, "kube"), "nodes"), 0);
	c = infra_nasmon_compact("nodes", node);
	tap_ok(c == node, "small lists (nodes) are kept whole");
	json_object_put(c);
	tap_ok(infra_nasmon_compact("persistentvolumes", NULL) == NULL, "a null item stays null");
	json_object_put(w);
}

/* A snapshot as truenas.py answers the loader's select (after infra_truenas_flatten_sources). */
static json_object *selected_snapshot(int i, int local)
{
	char buf[200];
	json_object *o = json_object_new_object();

	snprintf(buf, sizeof(buf), "tank/k8s/vols/pvc-%08d-0000-4000-8000-000000000000@snapshot-%08d-1111-4000-8000-000000000000",
		 i / 5, i);
	json_object_object_add(o, "id", json_object_new_string(buf));
	json_object_object_add(o, "creation", json_object_new_string("1764806400"));
	json_object_object_add(o, "used", json_object_new_string("1048576"));
	snprintf(buf, sizeof(buf), "snapshot-%08d-1111-4000-8000-000000000000", i);
	json_object_object_add(o, "democratic-csi:csi_snapshot_name", json_object_new_string(buf));
	json_object_object_add(o, "democratic-csi:csi_snapshot_name@source", json_object_new_string(local ? "LOCAL" : "INHERITED"));
	infra_truenas_flatten_sources(o);
	return o;
}

static size_t heap_used(void)
{
	struct mallinfo2 m = mallinfo2();

	return m.uordblks + m.hblkhd;
}

/* mallinfo2 measures glibc's heap, not ASan's */
static int heap_measured(void)
{
#if defined(__SANITIZE_ADDRESS__)
	return 0;
#else
	return 1;
#endif
}

static void test_tn_shape(void)
{
	enum { N = 5000 };
	json_object *whole = json_object_new_array_ext(N), *kept = json_object_new_array_ext(N), *c, *s;
	size_t h0, h1, h2, per_whole, per_kept;
	int same = 1;

	s = selected_snapshot(3, 0);
	c = infra_nasmon_compact_tn("snapshots", s);
	tap_ok(c && c != s && json_object_is_type(c, json_type_string) &&
		       !strcmp(json_object_get_string(c), json_object_get_string(json_object_object_get(s, "id"))),
	       "a compact snapshot is a new json string: its id");
	tap_ok(c && !strcmp(json_object_to_json_string_ext(c, JSON_C_TO_STRING_PLAIN),
			     json_object_to_json_string_ext(s, JSON_C_TO_STRING_PLAIN)),
	       "printed, a compact snapshot is the flat object it stands for (source kept when not local): %s",
	       c ? json_object_to_json_string_ext(c, JSON_C_TO_STRING_PLAIN) : "(null)");
	json_object_put(c);
	json_object_put(s);
	{
		json_object *pool = json_object_new_object();

		c = infra_nasmon_compact_tn("pools", pool);
		tap_ok(c == pool, "other TrueNAS lists are kept whole");
		json_object_put(c);
		json_object_put(pool);
	}
	tap_ok(infra_nasmon_compact_tn("snapshots", NULL) == NULL, "a null snapshot stays null");

	/* heap per snapshot kept: whole (the loader before) vs compact */
	h0 = heap_used();
	for (int i = 0; i < N; i++)
		json_object_array_add(whole, selected_snapshot(i, i % 3 != 0));
	h1 = heap_used();
	for (int i = 0; i < N; i++)
		json_object_array_add(kept, infra_nasmon_compact_tn("snapshots", json_object_array_get_idx(whole, i)));
	h2 = heap_used();
	for (int i = 0; i < N; i++) { /* after the measure: printing caches a buffer in each object */
		json_object *w = json_object_array_get_idx(whole, i);

		c = json_object_array_get_idx(kept, i);
		if (!c || strcmp(json_object_to_json_string_ext(c, JSON_C_TO_STRING_PLAIN),
				 json_object_to_json_string_ext(w, JSON_C_TO_STRING_PLAIN)))
			same = 0;
	}
	per_whole = (h1 - h0) / N;
	per_kept = (h2 - h1) / N;
	tap_ok(same, "%d compact snapshots print as their whole forms", N);
	if (!heap_measured()) {
		tap_ok(1, "# SKIP heap per snapshot: mallinfo2 does not see a sanitizer's allocator");
		tap_ok(1, "# SKIP heap per whole snapshot: mallinfo2 does not see a sanitizer's allocator");
	} else {
		tap_ok(per_kept < 320, "a compact snapshot kept costs %zu bytes of heap (< 320)", per_kept);
		tap_ok(per_whole > 1024 && per_kept * 4 < per_whole, "a whole one costs %zu (over 1 KiB, 4x the compact one)",
		       per_whole);
	}
	json_object_put(whole);
	json_object_put(kept);
}

/* ---- the conversion while the reply is parsed (infra_truenas_query_map) */

struct mapstat {
	size_t h0, peak, n, whole_items;
};

static json_object *measure_cb(enum infra_tn_query q, json_object *item, void *ud)
{
	struct mapstat *m = ud;
	size_t h = heap_used();

	if (q != INFRA_TN_SNAPSHOTS)
		return NULL;
	if (h > m->h0 && h - m->h0 > m->peak)
		m->peak = h - m->h0;
	m->n++;
	m->whole_items += json_object_is_type(item, json_type_object);
	infra_truenas_flatten_sources(item);
	return infra_nasmon_compact_tn("snapshots", item);
}

static void test_tn_streamed(void)
{
	enum { NSNAP = 20000 };
	const char *src = getenv("INFRA_SRCDIR");
	char world[600], cmd[1200], line[300] = "", *url;
	json_object *w;
	int fd[2], strings = 1;
	pid_t pid;
	FILE *f;
	struct infra_truenas *t = NULL;
	struct infra_err err = INFRA_ERR_INIT, errs[1];
	struct infra_truenas_opts o = { 0 };
	enum infra_tn_query q[1] = { INFRA_TN_SNAPSHOTS };
	json_object *res[1] = { NULL };
	struct mapstat m = { 0 };

	snprintf(cmd, sizeof(cmd), "--pvs 4000 --snapshots %d --volumesnapshots 10 --plants none", NSNAP);
	if (!(w = gen_world(cmd)))
		return;
	json_object_put(w);
	snprintf(world, sizeof(world), "%s/world-%d.json", tmpdir, 4); /* gen_world's fifth world */
	if (pipe(fd) || (pid = fork()) < 0) {
		tap_ok(0, "fork");
		return;
	}
	if (pid == 0) {
		char sim[600];

		dup2(fd[1], 1);
		close(fd[0]);
		snprintf(sim, sizeof(sim), "%s/tests/sim/truenas.py", src ? src : ".");
		execlp("python3", "python3", sim, "--world", world, "--api-key", "1-streamkey", "--max-seconds", "120",
		       (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	f = fdopen(fd[0], "r");
	while (f && fgets(line, sizeof(line), f) && strncmp(line, "READY ", 6))
		;
	if (!tap_ok(!strncmp(line, "READY ", 6), "truenas.py started")) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
		return;
	}
	url = line + 6;
	url[strcspn(url, "\r\n")] = '\0';
	o.url = url;
	o.api_key = "1-streamkey";
	o.api = INFRA_TN_JSONRPC;
	if (tap_ok(!infra_truenas_open(&t, &o, &err), "open %s: %s", url, err.msg)) {
		m.h0 = heap_used();
		tap_ok(!infra_truenas_query_map(t, 1, q, measure_cb, &m, res, errs, &err) && res[0],
		       "the snapshots query answered: %s %s", err.msg, errs[0].msg);
		tap_ok(m.n == NSNAP && m.whole_items == NSNAP && json_object_array_length(res[0]) == NSNAP,
		       "map saw each of the %d snapshots whole once (%zu, %zu objects), the list holds %zu", NSNAP, m.n,
		       m.whole_items, json_object_array_length(res[0]));
		for (size_t i = 0; i < json_object_array_length(res[0]); i++)
			strings &= json_object_is_type(json_object_array_get_idx(res[0], i), json_type_string);
		tap_ok(strings, "the list holds the compact snapshots map returned");
		/* the whole tree alone would be over 1 KiB a snapshot (test_tn_shape) */
		if (!heap_measured())
			tap_ok(1, "# SKIP heap while converting: mallinfo2 does not see a sanitizer's allocator");
		else
			tap_ok(m.peak < (size_t)NSNAP * 640, "heap while converting peaked %zu bytes above the start (< %d x 640: no whole tree)",
		       m.peak, NSNAP);
		json_object_put(res[0]);
	}
	infra_truenas_close(t);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	if (f)
		fclose(f);
}

int main(void)
{
	char cmd[300];

	snprintf(tmpdir, sizeof(tmpdir), "%s/nasmon-compact-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_same_judgement("every plant", "");
	test_same_judgement("no snapshot CRDs", "--without volumesnapshots,volumesnapshotcontents,volumesnapshotclasses");
	test_same_judgement("no plants, 40 PVs", "--plants none --pvs 40 --snapshots 120 --volumesnapshots 20");
	test_shape();
	test_tn_shape();
	test_tn_streamed();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		tap_diag("could not remove %s", tmpdir);
	return tap_done();
}
