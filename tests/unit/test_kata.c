/* Unit tests for katapulse-scrape's lib modules: infra_kata (ids, discovery,
 * sockets, metadata), infra_kata_merge (renaming, labels, HELP/TYPE merge,
 * conflicts, hostile values), infra_cri (protobuf decoding), infra_state. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "infra_cri.h"
#include "infra_file.h"
#include "infra_kata.h"
#include "infra_kata_merge.h"
#include "infra_prom.h"
#include "infra_state.h"
#include "tap.h"

static char root[256];

static void put(const char *rel, const char *text)
{
	char path[1024], cmd[1200];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", path);
	if (system(cmd) != 0)
		return;
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static int bind_sock(const char *rel)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char path[1024];
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	if (strlen(path) >= sizeof(a.sun_path))
		return -1;
	memcpy(a.sun_path, path, strlen(path) + 1);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void test_ids(void)
{
	tap_ok(infra_kata_valid_id("0123456789abcdef"), "hex id valid");
	tap_ok(infra_kata_valid_id("pod_1.a-b"), "[A-Za-z0-9_.-] valid");
	tap_ok(!infra_kata_valid_id(".."), "'..' invalid");
	tap_ok(!infra_kata_valid_id("."), "'.' invalid");
	tap_ok(!infra_kata_valid_id("a/b"), "slash invalid");
	tap_ok(!infra_kata_valid_id(""), "empty invalid");
	tap_ok(!infra_kata_valid_id("-x"), "leading dash invalid");
	char longid[200];
	memset(longid, 'a', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	tap_ok(!infra_kata_valid_id(longid), "over 128 chars invalid");

	struct infra_kata_root r;
	tap_ok(!infra_kata_root_parse("rs:/x/y", &r, NULL) && r.runtime == INFRA_KATA_RS && !strcmp(r.path, "/x/y"),
	       "rs: prefix");
	tap_ok(!infra_kata_root_parse("/run/kata/", &r, NULL) && r.runtime == INFRA_KATA_RS, "bare .../kata is rs");
	tap_ok(!infra_kata_root_parse("/run/vc/sbs", &r, NULL) && r.runtime == INFRA_KATA_GO, "bare dir is go");
	tap_ok(infra_kata_root_parse("go:", &r, NULL) == -EINVAL, "empty dir rejected");
}

static void test_discovery(void)
{
	struct infra_kata_set set;
	struct infra_err err = INFRA_ERR_INIT;
	int fds[3], amb;
	char why[256];

	put("run/vc/sbs/aaa1/persist.json",
	    "{\"PersistVersion\":2,\"Config\":{\"ContainerConfigs\":[{\"ID\":\"aaa1\",\"Annotations\":"
	    "{\"io.kubernetes.cri.sandbox-name\":\"web\",\"io.kubernetes.cri.sandbox-namespace\":\"prod\","
	    "\"io.kubernetes.cri.sandbox-uid\":\"u-1\"}}]}}");
	fds[0] = bind_sock("run/vc/sbs/aaa1/shim-monitor.sock");
	put("run/vc/sbs/bbb2/persist.json", "{not json");
	put("run/kata/bbb2/state.json", "{}");       /* same id in the rs root: Go wins */
	fds[1] = bind_sock("run/kata/bbb2/shim-monitor.sock");
	put("run/kata/ccc3/state.json", "{}");
	fds[2] = bind_sock("run/kata/ccc3/shim-monitor.sock");
	put("run/kata/ccc3/qmp.sock", "");
	put("run/kata/notadir", "x");
	put("outside/evil/shim-monitor.sock", "");
	char link[512], target[512];
	snprintf(link, sizeof(link), "%s/run/kata/ddd4", root);
	snprintf(target, sizeof(target), "%s/outside/evil", root);
	tap_ok(symlink(target, link) == 0, "symlinked sandbox created");
	put("run/containers/storage/overlay-containers/ccc3/userdata/config.json",
	    "{\"annotations\":{\"io.kubernetes.cri-o.Metadata\":\"{\\\"name\\\":\\\"db\\\",\\\"uid\\\":\\\"u-3\\\","
	    "\\\"namespace\\\":\\\"data\\\",\\\"attempt\\\":0}\"}}");

	tap_inteq(infra_kata_discover(root, infra_kata_default_roots, 2, &set, &err), 0, "discover: %s", err.msg);
	tap_inteq(set.n, 3, "three sandboxes (symlink, file and duplicate id left out)");
	if (set.n == 3) {
		tap_streq(set.v[0].id, "aaa1", "sorted by id");
		tap_ok(set.v[0].socket_kind == INFRA_KATA_SOCK_PATH, "filesystem socket found");
		tap_ok(set.v[1].runtime == INFRA_KATA_GO, "id in both roots counts once, Go root wins");
		tap_ok(set.v[1].socket_kind == INFRA_KATA_SOCK_NONE && set.v[1].skip_reason,
		       "Go dir without socket is skipped with a reason");
		tap_ok(set.v[2].runtime == INFRA_KATA_RS && set.v[2].hypervisor &&
		       !strcmp(set.v[2].hypervisor, "qemu"), "runtime-rs QEMU detected by qmp.sock");
		tap_ok(infra_kata_metadata_from_disk(root, &set.v[0], why, sizeof(why)) == 1 &&
		       !strcmp(set.v[0].cri_name, "web") && !strcmp(set.v[0].cri_namespace, "prod") &&
		       !strcmp(set.v[0].cri_uid, "u-1") && !strcmp(set.v[0].meta_source, "persist.json"),
		       "containerd annotations from persist.json");
		tap_ok(infra_kata_metadata_from_disk(root, &set.v[1], why, sizeof(why)) == 0 && why[0] &&
		       !strcmp(set.v[1].cri_name, ""), "corrupt persist.json is a miss with a reason (%s)", why);
		tap_ok(infra_kata_metadata_from_disk(root, &set.v[2], why, sizeof(why)) == 1 &&
		       !strcmp(set.v[2].cri_name, "db") && !strcmp(set.v[2].cri_uid, "u-3") &&
		       !strcmp(set.v[2].meta_source, "crio-bundle"), "CRI-O Metadata annotation from bundle");
		tap_ok(infra_kata_find(&set, "cc", &amb) == &set.v[2], "find by unique prefix");
		tap_ok(!infra_kata_find(&set, "zz", &amb) && !amb, "unknown id not found");
	}
	infra_kata_set_release(&set);

	char bad[600];
	snprintf(bad, sizeof(bad), "%s/run/kata/notadir", root);
	struct infra_kata_root r = { "/run/kata/notadir", INFRA_KATA_RS };
	tap_ok(infra_kata_discover(root, &r, 1, &set, &err) < 0 && strstr(err.msg, "notadir"),
	       "a root that is not a directory is an error: %s", err.msg);
	struct infra_kata_root missing = { "/no/such/root", INFRA_KATA_GO };
	tap_inteq(infra_kata_discover(root, &missing, 1, &set, &err), 0, "a missing root is no sandboxes");
	tap_inteq(set.n, 0, "empty set");
	for (int i = 0; i < 3; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

static void test_long_path(void)
{
	char dir[400], path[500];
	int dfd;
	char *s;

	snprintf(dir, sizeof(dir), "%s/%s", root,
		 "very-long-directory-name-to-overflow-sun-path-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	mkdir(dir, 0755);
	snprintf(path, sizeof(path), "%s/shim-monitor.sock", dir);
	s = infra_kata_socket_path(path, &dfd);
	tap_ok(s && dfd >= 0 && !strncmp(s, "/proc/self/fd/", 14) && strlen(s) < 108,
	       "long socket path goes through /proc/self/fd (%s)", s ? s : "NULL");
	free(s);
	if (dfd >= 0)
		close(dfd);
	s = infra_kata_socket_path("/run/x.sock", &dfd);
	tap_ok(s && !strcmp(s, "/run/x.sock") && dfd == -1, "short path unchanged");
	free(s);
}

static int to_buf(void *ud, const char *data, size_t len)
{
	return infra_buf_append(ud, data, len);
}

static char *render(struct infra_kata_merge *m, const char *own)
{
	struct infra_buf b = INFRA_BUF_INIT;
	struct infra_err err = INFRA_ERR_INIT;

	if (infra_kata_merge_write(m, own, own ? strlen(own) : 0, to_buf, &b, NULL, &err))
		tap_diag("write: %s", err.msg);
	return b.data ? b.data : strdup("");
}

static int count(const char *s, const char *what)
{
	int n = 0;

	while ((s = strstr(s, what)) != NULL) {
		n++;
		s++;
	}
	return n;
}

static void test_merge(void)
{
	struct infra_kata_merge *m = infra_kata_merge_new();
	struct infra_kata_merge_stats st;
	struct infra_err err = INFRA_ERR_INIT;
	const char *x1[] = { "sandbox_id", "s1", "cri_uid", "u1", "cri_name", "n1", "cri_namespace", "ns", NULL };
	const char *x2[] = { "sandbox_id", "s2", "cri_uid", "", "cri_name", "", "cri_namespace", "", NULL };
	const char *x3[] = { "sandbox_id", "s3", "cri_uid", "", "cri_name", "", "cri_namespace", "", NULL };
	const char *b1 =
		"# HELP go_goroutines Number of goroutines that currently exist.\n"
		"# TYPE go_goroutines gauge\ngo_goroutines 12\n"
		"# HELP kata_shim_threads Kata containerd shim v2 process threads.\n"
		"# TYPE kata_shim_threads gauge\nkata_shim_threads 20\n"
		"# HELP kata_guest_load Guest system load.\n# TYPE kata_guest_load gauge\n"
		"kata_guest_load{item=\"load1\"} 0.5\n"
		"# TYPE kata_shim_rpc_durations_histogram_milliseconds histogram\n"
		"kata_shim_rpc_durations_histogram_milliseconds_bucket{action=\"create\",le=\"1\"} 1\n"
		"kata_shim_rpc_durations_histogram_milliseconds_bucket{action=\"create\",le=\"+Inf\"} 2\n"
		"kata_shim_rpc_durations_histogram_milliseconds_sum{action=\"create\"} 3.5\n"
		"kata_shim_rpc_durations_histogram_milliseconds_count{action=\"create\"} 2\n";
	/* no HELP, different family order, a TYPE conflict, a forged sandbox_id, a
	 * hostile value, a duplicate series, a family only with another label */
	const char *b2 =
		"# TYPE kata_shim_threads counter\nkata_shim_threads 7\n"
		"kata_guest_load{item=\"load1\",sandbox_id=\"forged\"} 1.5\n"
		"# TYPE go_goroutines gauge\ngo_goroutines 3\n"
		"# HELP kata_guest_load Guest system load, other words.\n"
		"kata_evil{v=\"a\\\"} 1\\nkata_injected 1\"} 1\n"
		"kata_dup{a=\"1\"} 1\nkata_dup{a=\"1\"} 2\n";
	/* histogram samples without a TYPE line: merged into the histogram family */
	const char *b3 =
		"kata_shim_rpc_durations_histogram_milliseconds_bucket{action=\"wait\",le=\"+Inf\"} 4\n"
		"kata_shim_rpc_durations_histogram_milliseconds_sum{action=\"wait\"} 9\n"
		"kata_shim_rpc_durations_histogram_milliseconds_count{action=\"wait\"} 4\n"
		"katapulse_up 0\n";
	const char *own = "# HELP katapulse_up 1 if ok\n# TYPE katapulse_up gauge\nkatapulse_up 1\n"
			  "# HELP kata_monitor_scrape_count Scape count.\n# TYPE kata_monitor_scrape_count counter\n"
			  "kata_monitor_scrape_count 3\n";
	char *out;
	size_t skipped = 0;

	tap_inteq(infra_kata_merge_add(m, b1, strlen(b1), x1, &st, &err), 0, "merge body 1: %s", err.msg);
	tap_inteq(st.samples, 7, "body 1: 7 samples");
	tap_inteq(infra_kata_merge_add(m, b2, strlen(b2), x2, &st, &err), 0, "merge body 2: %s", err.msg);
	tap_inteq(st.type_conflicts, 1, "TYPE conflict counted");
	tap_inteq(st.dropped_samples, 2, "conflicting family's sample and the duplicate dropped");
	tap_ok(strstr(st.first_problem, "duplicate series kata_dup") != NULL, "first problem described: %s", st.first_problem);
	tap_inteq(st.help_conflicts, 1, "HELP mismatch counted");
	tap_inteq(infra_kata_merge_add(m, b3, strlen(b3), x3, &st, &err), 0, "merge body 3: %s", err.msg);
	out = render(m, own);
	tap_ok(strstr(out, "# TYPE kata_shim_go_goroutines gauge\n") && !strstr(out, "\ngo_goroutines"),
	       "go_* renamed kata_shim_go_*");
	tap_ok(strstr(out, "kata_shim_go_goroutines{sandbox_id=\"s2\",cri_uid=\"\",cri_name=\"\",cri_namespace=\"\"} 3\n") != NULL,
	       "extra labels on every sample, kata-monitor's order");
	tap_ok(strstr(out, "exported_sandbox_id=\"forged\"") != NULL, "shim's own sandbox_id becomes exported_sandbox_id");
	tap_ok(strstr(out, "kata_guest_load{item=\"load1\",exported_sandbox_id=\"\",sandbox_id=\"s1\"") != NULL,
	       "missing label names padded with \"\" (one label set per family)");
	tap_ok(strstr(out, "# TYPE kata_shim_threads gauge\n") && !strstr(out, "kata_shim_threads counter") &&
	       !strstr(out, "} 7\n"), "one TYPE per family; conflicting samples not emitted");
	tap_ok(strstr(out, "v=\"a\\\"} 1\\nkata_injected 1\"") && !strstr(out, "\nkata_injected"),
	       "hostile label value re-escaped, no injected series");
	tap_inteq(count(out, "kata_dup{"), 1, "duplicate series written once");
	tap_ok(strstr(out, "# HELP kata_guest_load Guest system load.\n") != NULL, "first HELP kept");
	tap_inteq(count(out, "# HELP kata_guest_load "), 1, "one HELP for a family in two bodies");
	tap_inteq(count(out, "# TYPE kata_shim_rpc_durations_histogram_milliseconds"), 1, "one TYPE for the histogram");
	tap_ok(strstr(out, "action=\"wait\",sandbox_id=\"s3\",cri_uid=\"\",cri_name=\"\",cri_namespace=\"\",le=\"+Inf\"} 4") != NULL,
	       "TYPE-less histogram samples merged into the histogram family");
	tap_inteq(count(out, "# TYPE katapulse_up"), 1, "own family written once");
	tap_ok(strstr(out, "katapulse_up 1\n") && !strstr(out, "katapulse_up{"), "a shim family named like an own family is left out");
	{
		const char *a = strstr(out, "# HELP kata_guest_load"), *b = strstr(out, "# HELP kata_monitor_scrape_count"),
			   *c = strstr(out, "# TYPE kata_shim_go_goroutines"), *d = strstr(out, "# HELP katapulse_up");
		if (!tap_ok(a && b && c && d && a < b && b < c && c < d, "own families interleaved in name order"))
			tap_diag("%s", out);
	}
	tap_ok(infra_prom_parse(out, strlen(out), NULL, NULL, &err) == 0, "merged output parses: %s", err.msg);
	{
		struct infra_buf again = INFRA_BUF_INIT;
		tap_inteq(infra_kata_merge_write(m, own, strlen(own), to_buf, &again, &skipped, &err), 0, "write again");
		tap_ok(again.data && !strcmp(out, again.data), "byte-identical output the second time");
		tap_inteq(skipped, 1, "one shim family left out for an own name");
		infra_buf_release(&again);
	}
	free(out);

	const char *bad = "kata_x{a=\"1\"} 1\nkata_y{\n";
	tap_inteq(infra_kata_merge_add(m, bad, strlen(bad), x1, &st, &err), -EINVAL, "syntax error rejected");
	tap_ok(strstr(err.msg, "line 2") != NULL, "error names the line: %s", err.msg);
	out = render(m, NULL);
	tap_ok(!strstr(out, "kata_x"), "nothing of a broken body is written");
	free(out);
	infra_kata_merge_free(m);

	/* a HELP that is not UTF-8 is left out, the family and the rest still written */
	m = infra_kata_merge_new();
	{
		const char *hb = "# HELP kata_x bad\xff\xfe help\n# TYPE kata_x gauge\nkata_x 1\n"
				 "# HELP kata_y fine\n# TYPE kata_y gauge\nkata_y 2\n";
		tap_inteq(infra_kata_merge_add(m, hb, strlen(hb), x1, &st, &err), 0, "body with a non-UTF-8 HELP accepted");
		tap_ok(strstr(st.first_problem, "not valid UTF-8") != NULL, "and described: %s", st.first_problem);
		out = render(m, NULL);
		tap_ok(strstr(out, "# TYPE kata_x gauge\nkata_x{") && !strstr(out, "# HELP kata_x") &&
		       strstr(out, "# HELP kata_y fine\n"), "written without that HELP");
		free(out);
	}
	infra_kata_merge_free(m);

	/* many bodies: families written chunk by chunk stay one family */
	m = infra_kata_merge_new();
	static char bodies[150][128];
	static char ids[150][16];
	static const char *xs[150][9];
	for (int i = 0; i < 150; i++) {
		snprintf(bodies[i], sizeof(bodies[i]), "# HELP kata_guest_load Guest system load.\n"
			 "# TYPE kata_guest_load gauge\nkata_guest_load{item=\"load1\"} %d\n", i);
		snprintf(ids[i], sizeof(ids[i]), "s%03d", i);
		const char *x[] = { "sandbox_id", ids[i], NULL };
		memcpy(xs[i], x, sizeof(x));
		infra_kata_merge_add(m, bodies[i], strlen(bodies[i]), xs[i], &st, &err);
	}
	out = render(m, NULL);
	tap_inteq(count(out, "# TYPE kata_guest_load"), 1, "150 bodies in %d chunks: one TYPE", (150 + INFRA_KATA_MERGE_CHUNK - 1) / INFRA_KATA_MERGE_CHUNK);
	tap_inteq(count(out, "\nkata_guest_load{"), 150, "150 samples");
	tap_ok(strstr(out, "sandbox_id=\"s063\"} 63\nkata_guest_load{item=\"load1\",sandbox_id=\"s064\"} 64\n") != NULL,
	       "chunks follow each other in body order");
	tap_ok(infra_prom_parse(out, strlen(out), NULL, NULL, &err) == 0, "chunked output parses");
	free(out);
	infra_kata_merge_free(m);

	/* limits: a body over one is refused whole; the next body is read as usual */
	m = infra_kata_merge_new();
	infra_kata_merge_limits(m, 3, 16);
	{
		const char *many = "kata_a{i=\"1\"} 1\nkata_a{i=\"2\"} 1\nkata_a{i=\"3\"} 1\nkata_a{i=\"4\"} 1\n";
		const char *longv = "kata_b{mount=\"/a/seventeen/byte\"} 1\n";
		const char *longn = "kata_b{abcdefghijklmnopq=\"x\"} 1\n";
		const char *fits = "kata_c{i=\"1\"} 1\nkata_c{i=\"2\"} 1\nkata_c{i=\"3\"} 1\n";
		tap_inteq(infra_kata_merge_add(m, many, strlen(many), x1, &st, &err), -E2BIG, "4 series over a limit of 3");
		tap_ok(st.limit == INFRA_KATA_LIMIT_SERIES && strstr(err.msg, "more than 3 series"), "series limit: %s", err.msg);
		tap_inteq(infra_kata_merge_add(m, longv, strlen(longv), x1, &st, &err), -E2BIG, "17-byte label value refused");
		tap_ok(st.limit == INFRA_KATA_LIMIT_LABEL && strstr(err.msg, "value of 17 bytes"), "label limit: %s", err.msg);
		tap_inteq(infra_kata_merge_add(m, longn, strlen(longn), x1, &st, &err), -E2BIG, "17-byte label name refused");
		tap_inteq(infra_kata_merge_add(m, fits, strlen(fits), x1, &st, &err), 0, "3 series, short labels: kept");
		tap_streq(infra_kata_limit_name(INFRA_KATA_LIMIT_BODY), "body-size", "limit names");
		out = render(m, NULL);
		tap_ok(!strstr(out, "kata_a") && !strstr(out, "kata_b") && count(out, "\nkata_c{") == 3,
		       "nothing of the refused bodies written, all of the one that fits");
		free(out);
	}
	infra_kata_merge_free(m);

	/* a sample with both sandbox_id and exported_sandbox_id: dropped and counted */
	m = infra_kata_merge_new();
	{
		const char *both = "kata_f{exported_sandbox_id=\"x\",sandbox_id=\"forged\"} 1\n"
				   "kata_f{sandbox_id=\"forged\",item=\"one\"} 2\n";
		tap_inteq(infra_kata_merge_add(m, both, strlen(both), x1, &st, &err), 0, "body with a doubled sandbox_id read");
		tap_inteq(st.dropped_samples, 1, "the doubled sample counted as dropped");
		tap_inteq(st.samples, 1, "the other sample kept");
		tap_ok(strstr(st.first_problem, "both sandbox_id and exported_sandbox_id") != NULL, "described: %s",
		       st.first_problem);
		out = render(m, NULL);
		tap_ok(count(out, "\nkata_f{") == 1 && strstr(out, "exported_sandbox_id=\"forged\""),
		       "one sample written, its sandbox_id renamed");
		tap_ok(infra_prom_parse(out, strlen(out), NULL, NULL, &err) == 0, "output parses");
		free(out);
	}
	infra_kata_merge_free(m);

	char buf[32];
	tap_streq(infra_kata_rename("process_open_fds", buf, sizeof(buf)), "kata_shim_process_open_fds", "rename process_");
	tap_streq(infra_kata_rename("kata_guest_load", buf, sizeof(buf)), "kata_guest_load", "kata_* unchanged");
	tap_ok(infra_kata_rename("process_a_very_long_name_indeed", buf, sizeof(buf)) == NULL, "truncation detected");
}

/* The merger writes most families as text itself (no infra_prom collection):
 * for one chunk of bodies its output must be the writer's, byte for byte --
 * label order of the first sample, padding, escaping (of shim and extra label
 * values), sample order across bodies (label values as bytes, le/quantile as
 * numbers), histograms and summaries -- and a shim's value passes through. */
static void test_merge_fast(void)
{
	const char *x1[] = { "sandbox_id", "s1", "cri_uid", "u1", "cri_name", "n\"1", "cri_namespace", "ns", NULL };
	const char *x2[] = { "sandbox_id", "s2", "cri_uid", "u2", "cri_name", "n2\\x", "cri_namespace", "ns", NULL };
	const char *x3[] = { "sandbox_id", "s0", "cri_uid", "", "cri_name", "", "cri_namespace", "", NULL };
	const char *const *xs[] = { x1, x2, x3 };
	const char *bodies[] = {
		"# HELP kata_h Durations.\n# TYPE kata_h histogram\n"
		"kata_h_bucket{action=\"create\",le=\"0.5\"} 1\nkata_h_bucket{action=\"create\",le=\"1\"} 2\n"
		"kata_h_bucket{action=\"create\",le=\"10\"} 3\nkata_h_bucket{action=\"create\",le=\"+Inf\"} 4\n"
		"kata_h_sum{action=\"create\"} 2.5\nkata_h_count{action=\"create\"} 4\n"
		"# TYPE kata_q summary\nkata_q{quantile=\"0.5\"} 0.25\nkata_q{quantile=\"0.99\"} 0.75\n"
		"kata_q_sum 1.5\nkata_q_count 3\n"
		"# HELP kata_g A gauge.\n# TYPE kata_g gauge\n"
		"kata_g{a=\"x\",b=\"q\\\"uote\"} 1\nkata_g{a=\"y\",b=\"new\\nline\"} 2\n"
		"kata_g{a=\"z\",b=\"back\\\\slash\"} 3\n",
		"# TYPE kata_h histogram\n"
		"kata_h_bucket{action=\"create\",le=\"0.5\"} 0\nkata_h_bucket{action=\"create\",le=\"1\"} 0\n"
		"kata_h_bucket{action=\"create\",le=\"10\"} 5\nkata_h_bucket{action=\"create\",le=\"+Inf\"} 5\n"
		"kata_h_sum{action=\"create\"} 20\nkata_h_count{action=\"create\"} 5\n"
		"kata_h_bucket{action=\"attach\",le=\"1\"} 1\nkata_h_bucket{action=\"attach\",le=\"+Inf\"} 1\n"
		"kata_h_sum{action=\"attach\"} 0.125\nkata_h_count{action=\"attach\"} 1\n"
		"# TYPE kata_g gauge\nkata_g{b=\"b\",a=\"a\"} 4\nkata_g{b=\"c\",a=\"x\"} NaN\n"
		"# TYPE kata_q summary\nkata_q{quantile=\"0.99\"} 1\nkata_q{quantile=\"0.5\"} 0.5\nkata_q_sum 2\nkata_q_count 2\n",
		"# TYPE kata_g gauge\nkata_g{a=\"x\",b=\"q\\\"uote\"} -Inf\nkata_u 7\nkata_u{} 8\n",
	};
	struct infra_kata_merge *m = infra_kata_merge_new();
	struct infra_prom *p = infra_prom_new(INFRA_PROM_PAD_LABELS);
	struct infra_kata_merge_stats st;
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_buf want = INFRA_BUF_INIT;
	char *out;

	for (size_t i = 0; i < 3; i++) {
		tap_inteq(infra_kata_merge_add(m, bodies[i], strlen(bodies[i]), xs[i], &st, &err), 0, "fast: body %zu merged: %s",
			  i + 1, err.msg);
		if (infra_prom_load(p, bodies[i], strlen(bodies[i]), xs[i], &err))
			tap_diag("load %zu: %s", i + 1, err.msg);
	}
	out = render(m, NULL);
	tap_inteq(infra_prom_write(p, &want, &err), 0, "the writer renders the same bodies");
	tap_streq(out, want.data ? want.data : "", "merger's own text == the writer's, byte for byte");
	tap_ok(strstr(out, "cri_name=\"n\\\"1\"") && strstr(out, "cri_name=\"n2\\\\x\"") && strstr(out, "b=\"new\\nline\""),
	       "shim and extra label values escaped");
	free(out);
	infra_buf_release(&want);
	infra_prom_free(p);
	infra_kata_merge_free(m);

	/* values: integers as the writer spells them, other numbers as the shim wrote them */
	m = infra_kata_merge_new();
	{
		const char *vb = "kata_v{i=\"a\"} 0.93999999999999995\nkata_v{i=\"b\"} 1e+06\nkata_v{i=\"c\"} -0\n"
				 "kata_v{i=\"d\"} +inf\nkata_v{i=\"e\"} nan\nkata_v{i=\"f\"} 2.5E-3\nkata_v{i=\"g\"} 6.2901757e+07\n"
				 "kata_v{i=\"h\"} 007\nkata_v{i=\"i\"} +3.5\nkata_v{i=\"j\"} -12\nkata_v{i=\"k\"} 1.5\n";
		const char *x[] = { "sandbox_id", "s", NULL };
		tap_inteq(infra_kata_merge_add(m, vb, strlen(vb), x, &st, &err), 0, "values body merged");
		out = render(m, NULL);
		tap_streq(out, "# TYPE kata_v untyped\n"
			       "kata_v{i=\"a\",sandbox_id=\"s\"} 0.93999999999999995\n"
			       "kata_v{i=\"b\",sandbox_id=\"s\"} 1000000\n"
			       "kata_v{i=\"c\",sandbox_id=\"s\"} 0\n"
			       "kata_v{i=\"d\",sandbox_id=\"s\"} +Inf\n"
			       "kata_v{i=\"e\",sandbox_id=\"s\"} NaN\n"
			       "kata_v{i=\"f\",sandbox_id=\"s\"} 2.5E-3\n"
			       "kata_v{i=\"g\",sandbox_id=\"s\"} 62901757\n"
			       "kata_v{i=\"h\",sandbox_id=\"s\"} 7\n"
			       "kata_v{i=\"i\",sandbox_id=\"s\"} 3.5\n"
			       "kata_v{i=\"j\",sandbox_id=\"s\"} -12\n"
			       "kata_v{i=\"k\",sandbox_id=\"s\"} 1.5\n",
			  "a shim's non-integer value passes through unchanged; integers, NaN, Inf as the writer writes them");
		free(out);
	}
	infra_kata_merge_free(m);

	/* what only the writer does (a label the chunk's first sample lacks, le on a
	 * gauge): that chunk goes through it, the next chunk is written directly */
	m = infra_kata_merge_new();
	{
		static char b[40][96], id[40][16];
		static const char *x[40][3];
		struct infra_buf w1 = INFRA_BUF_INIT;
		struct infra_prom *p1 = infra_prom_new(INFRA_PROM_PAD_LABELS);
		for (int i = 0; i < 40; i++) {
			if (i == 1)
				snprintf(b[i], sizeof(b[i]), "kata_w{le=\"x\",z=\"%d\"} %d\n", i, i);
			else
				snprintf(b[i], sizeof(b[i]), "kata_w{z=\"%d\"} %d\n", i, i);
			snprintf(id[i], sizeof(id[i]), "s%02d", i);
			x[i][0] = "sandbox_id";
			x[i][1] = id[i];
			x[i][2] = NULL;
			infra_kata_merge_add(m, b[i], strlen(b[i]), x[i], &st, &err);
			if (i < INFRA_KATA_MERGE_CHUNK)
				infra_prom_load(p1, b[i], strlen(b[i]), x[i], &err);
		}
		out = render(m, NULL);
		infra_prom_write(p1, &w1, &err);
		tap_ok(w1.data && !strncmp(out, w1.data, w1.len), "first chunk: the writer's output");
		tap_ok(strstr(out, "kata_w{z=\"0\",sandbox_id=\"s00\",le=\"\"} 0\n") &&
		       strstr(out, "kata_w{z=\"39\",sandbox_id=\"s39\"} 39\n"), "padded in the first chunk only");
		tap_inteq(count(out, "\nkata_w{"), 40, "40 samples");
		tap_inteq(count(out, "# TYPE kata_w"), 1, "one TYPE");
		infra_buf_release(&w1);
		infra_prom_free(p1);
		free(out);
	}
	infra_kata_merge_free(m);
}

/* The merger keeps no body: each series is interned once across bodies and a
 * body leaves only (series id, value) records; bodies may be parsed in any
 * order and committed in a fixed one. */
static void test_merge_interned(void)
{
	static const char *const fams[] = { "kata_a", "kata_b", "go_c" };
	struct infra_kata_merge_stats st;
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_kata_merge *m = infra_kata_merge_new(), *m2 = infra_kata_merge_new();
	struct infra_kata_parsed *pb[40];
	static char id[40][16];
	static const char *x[40][3];
	size_t total = 0;
	char *out, *out2;

	for (int i = 0; i < 40; i++) {
		struct infra_buf b = INFRA_BUF_INIT;
		snprintf(id[i], sizeof(id[i]), "s%02d", i);
		x[i][0] = "sandbox_id";
		x[i][1] = id[i];
		x[i][2] = NULL;
		/* the same 3 x 50 series in every body, values that differ; a HELP and
		 * a TYPE that differ from body 7 on (the order decides which is kept) */
		for (size_t f = 0; f < 3; f++) {
			infra_buf_printf(&b, "# HELP %s help %d\n# TYPE %s %s\n", fams[f], i < 7 ? 0 : i, fams[f],
					 f == 1 && i >= 7 ? "counter" : "gauge");
			for (int k = 0; k < 50; k++)
				infra_buf_printf(&b, "%s{k=\"%02d\",path=\"/var/lib/kata/sandboxes/a/b\",q=\"v\\\\%d\"} %d.%d\n",
						 fams[f], (k * 7) % 50, k, i * k, i);
		}
		total += b.len;
		tap_inteq(infra_kata_merge_add(m, b.data, b.len, x[i], &st, &err), 0, "interned: body %d merged", i);
		/* the same body parsed into m2 now, committed later (reverse order of parsing) */
		if (infra_kata_merge_parse(m2, b.data, b.len, x[i], &pb[39 - i], &st, &err))
			tap_diag("parse %d: %s", i, err.msg);
		/* the merger must not read the body again */
		memset(b.data, '#', b.len);
		infra_buf_release(&b);
	}
	tap_inteq(infra_kata_merge_series(m), 150, "150 distinct series held for 40 bodies x 150 samples");
	tap_ok(infra_kata_merge_held(m) < total / 2, "merger holds %zu bytes for %zu bytes of bodies",
	       infra_kata_merge_held(m), total);
	out = render(m, NULL);
	tap_inteq(count(out, "\nkata_a{"), 40 * 50, "every kata_a sample written after the bodies were overwritten");
	tap_ok(strstr(out, "kata_a{k=\"13\",path=\"/var/lib/kata/sandboxes/a/b\",q=\"v\\\\9\",sandbox_id=\"s05\"} 45.5\n") != NULL, "a sample's text intact");
	tap_ok(strstr(out, "# HELP kata_a help 0\n") && strstr(out, "# TYPE kata_b gauge\n") &&
	       count(out, "\nkata_b{") == 7 * 50, "first HELP and TYPE kept, kata_b of bodies 7.. dropped (TYPE counter)");
	for (int i = 0; i < 40; i++) { /* committed in sandbox order: body i was parsed into pb[39 - i] */
		struct infra_kata_merge_stats cs;
		memset(&cs, 0, sizeof(cs));
		if (pb[39 - i] && infra_kata_merge_commit(m2, pb[39 - i], &cs, &err))
			tap_diag("commit %d: %s", i, err.msg);
		if (i == 7)
			tap_ok(cs.type_conflicts == 1 && cs.samples == 100, "body 7 committed: its kata_b dropped (TYPE)");
	}
	out2 = render(m2, NULL);
	tap_streq(out2, out, "parsed in reverse, committed in order: the same output as add in order");
	free(out);
	free(out2);
	infra_kata_merge_free(m);
	infra_kata_merge_free(m2);
}

/* Integral values written as integers, exactly as infra_prom_format_value does. */
static void test_merge_integers(void)
{
	static const char *const v[] = { "-1.5e+03", "9.007199254740991e+15", "-9.007199254740990e+15",
					 "1e+00", "-0.0", "4.2e+01", "1.8446744073709552e+19", "-1e+300", "123456789.0" };
	struct infra_kata_merge *m = infra_kata_merge_new();
	struct infra_kata_merge_stats st;
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_buf b = INFRA_BUF_INIT, want = INFRA_BUF_INIT;
	const char *x[] = { "sandbox_id", "s", NULL };
	char *out;

	infra_buf_printf(&want, "# TYPE kata_i untyped\n");
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char f[64];
		double d;
		infra_prom_parse_float(v[i], strlen(v[i]), &d);
		f[infra_prom_format_value(d, f, sizeof(f))] = '\0';
		infra_buf_printf(&b, "kata_i{i=\"%c\"} %s\n", (char)('a' + i), v[i]);
		infra_buf_printf(&want, "kata_i{i=\"%c\",sandbox_id=\"s\"} %s\n", (char)('a' + i), f);
	}
	tap_inteq(infra_kata_merge_add(m, b.data, b.len, x, &st, &err), 0, "integers body merged");
	out = render(m, NULL);
	tap_streq(out, want.data, "integral values as the writer formats them (-0 as 0, up to 2^53 - 1)");
	free(out);
	infra_buf_release(&b);
	infra_buf_release(&want);
	infra_kata_merge_free(m);
}

/* Random bodies of one chunk: the merger's text equals the writer's. */
static void test_merge_random(void)
{
	static const char *const lv[] = { "a", "b", "", "x\\\\y", "q\\\"t", "n\\nl", "zz", "0" };
	static const char *const les[] = { "0.5", "1", "2.5", "10", "+Inf" };
	unsigned seed = 12345;
	int same = 0;

	for (int round = 0; round < 20; round++) {
		struct infra_kata_merge *m = infra_kata_merge_new();
		struct infra_prom *p = infra_prom_new(INFRA_PROM_PAD_LABELS);
		struct infra_kata_merge_stats st;
		struct infra_err err = INFRA_ERR_INIT;
		struct infra_buf want = INFRA_BUF_INIT;
		static char id[16][16];
		static const char *x[16][5];
		int nb = 2 + (int)(rand_r(&seed) % 15), ok = 1;
		char *out;

		for (int i = 0; i < nb; i++) {
			struct infra_buf b = INFRA_BUF_INIT;
			int swap = (int)(rand_r(&seed) % 2);
			unsigned r1 = rand_r(&seed) % 8, r2 = rand_r(&seed) % 8;
			snprintf(id[i], sizeof(id[i]), "s%x", (unsigned)(i * 37 + round) % 64); /* distinct, not in body order */
			x[i][0] = "sandbox_id";
			x[i][1] = id[i];
			x[i][2] = "cri_name";
			x[i][3] = (rand_r(&seed) % 2) ? "p\"od" : "pod";
			x[i][4] = NULL;
			infra_buf_printf(&b, "# TYPE kata_g gauge\n# TYPE kata_h histogram\n# TYPE kata_s summary\n");
			for (int k = 0; k < 12; k++) {
				const char *a = lv[(k + r1) % 8], *c = lv[(k / 8 + r2) % 8]; /* distinct pairs */
				if (swap)
					infra_buf_printf(&b, "kata_g{c=\"%s\",a=\"%s\"} %u.5\n", c, a, rand_r(&seed) % 100);
				else
					infra_buf_printf(&b, "kata_g{a=\"%s\",c=\"%s\"} %u\n", a, c, rand_r(&seed) % 100);
			}
			for (int k = 0; k < 3; k++) {
				const char *a = lv[(i + k) % 8];
				for (int e = 0; e < 5; e++)
					infra_buf_printf(&b, "kata_h_bucket{a=\"%s\",le=\"%s\"} %d\n", a, les[(e + k) % 5], e);
				infra_buf_printf(&b, "kata_h_sum{a=\"%s\"} 1.25\nkata_h_count{a=\"%s\"} 4\n", a, a);
			}
			infra_buf_printf(&b, "kata_s{quantile=\"0.9\"} 3\nkata_s{quantile=\"0.1\"} 1\nkata_s_sum 4\nkata_s_count %d\n",
					 i);
			if (infra_kata_merge_add(m, b.data, b.len, x[i], &st, &err) == 0) {
				struct infra_err e2 = INFRA_ERR_INIT;
				if (infra_prom_load(p, b.data, b.len, x[i], &e2)) /* a duplicate: the merger drops it too */
					ok = 0;
			}
			infra_buf_release(&b);
		}
		out = render(m, NULL);
		infra_prom_write(p, &want, &err);
		if (ok && !strcmp(out, want.data ? want.data : ""))
			same++;
		else
			tap_diag("round %d differs:\n%s\n--- writer:\n%s", round, out, want.data);
		free(out);
		infra_buf_release(&want);
		infra_prom_free(p);
		infra_kata_merge_free(m);
	}
	tap_inteq(same, 20, "20 random chunks: the merger's text is the writer's");
}

static void test_cri(void)
{
	/* ListPodSandboxResponse{items:[{id:"abc", metadata{name:"web",uid:"u1",namespace:"ns"}, state:0,
	 * labels{app:web}, runtime_handler:"kata"}, {id:"r", runtime_handler:"runc"}]} */
	static const uint8_t msg[] = {
		0x00, 0, 0, 0, 54,
		0x0a, 41, 0x0a, 3, 'a', 'b', 'c', 0x12, 15, 0x0a, 3, 'w', 'e', 'b', 0x12, 2, 'u', '1',
		0x1a, 2, 'n', 's', 0x20, 0, 0x18, 0, 0x2a, 0, 0x3a, 4, 'k', 'a', 't', 'a', 0x21, 1, 2, 3, 4, 5, 6, 7, 8,
		0x0a, 9, 0x0a, 1, 'r', 0x3a, 4, 'r', 'u', 'n', 'c',
	};
	struct infra_cri_list l;
	struct infra_err err = INFRA_ERR_INIT;
	size_t n;

	tap_inteq(infra_cri_decode_list(msg, sizeof(msg), &l, &err), 0, "decode ListPodSandboxResponse: %s", err.msg);
	tap_inteq(l.n, 2, "two pods");
	if (l.n == 2) {
		tap_ok(!strcmp(l.v[0].id, "abc") && !strcmp(l.v[0].name, "web") && !strcmp(l.v[0].uid, "u1") &&
		       !strcmp(l.v[0].namespace_, "ns") && !strcmp(l.v[0].runtime_handler, "kata"),
		       "id, metadata and runtime_handler; unknown fields skipped");
		tap_ok(!strcmp(l.v[1].name, "") && !strcmp(l.v[1].runtime_handler, "runc"), "missing metadata is empty");
		tap_ok(infra_cri_find(&l, "r") == &l.v[1], "find by id");
	}
	infra_cri_list_release(&l);
	uint8_t trunc[sizeof(msg)];
	memcpy(trunc, msg, sizeof(msg));
	tap_inteq(infra_cri_decode_list(trunc, sizeof(msg) - 3, &l, &err), -EINVAL, "truncated message rejected");
	trunc[4] = 51;
	tap_inteq(infra_cri_decode_list(trunc, sizeof(msg) - 3, &l, &err), -EINVAL,
		  "field running past the end rejected: %s", err.msg);
	trunc[0] = 1;
	tap_inteq(infra_cri_decode_list(trunc, sizeof(msg), &l, &err), -EINVAL, "compressed message rejected");
	const uint8_t *req = infra_cri_list_request(&n);
	tap_ok(n == 9 && req[0] == 0 && req[4] == 4 && req[5] == 0x0a, "request is the 9-byte READY filter");
}

static void test_state(void)
{
	char path[512];
	struct infra_state *s;
	struct infra_err err = INFRA_ERR_INIT;

	snprintf(path, sizeof(path), "%s/state/sub/k.state", root);
	tap_inteq(infra_state_open(path, 1, &s, &err), 0, "open a new state (creates dirs): %s", err.msg);
	tap_ok(infra_state_add(s, "runs", 1) == 1, "counter starts at 0");
	tap_inteq(infra_state_save(s, &err), 0, "save");
	infra_state_close(s);
	tap_inteq(infra_state_open(path, 1, &s, &err), 0, "reopen");
	tap_ok(infra_state_add(s, "runs", 2) == 3, "counter persisted across opens");
	struct infra_state *s2;
	tap_ok(infra_state_open(path, 0.1, &s2, &err) == -ETIMEDOUT, "second opener waits for the lock, then fails: %s",
	       err.msg);
	infra_state_close(s);
	FILE *f = fopen(path, "w");
	fputs("{garbage", f);
	fclose(f);
	tap_inteq(infra_state_open(path, 1, &s, &err), -EINVAL, "corrupt state reported");
	tap_ok(s && infra_state_get(s, "runs") == 0, "corrupt state starts empty");
	infra_state_close(s);
}

static void test_file(void)
{
	struct infra_buf b;
	struct infra_err err = INFRA_ERR_INIT;
	char link[512];

	put("f/small", "hello");
	snprintf(link, sizeof(link), "%s/f/link", root);
	symlink("small", link);
	tap_inteq(infra_file_read_at(AT_FDCWD, link, INFRA_FILE_NOFOLLOW, 100, &b, &err), -ELOOP,
		  "NOFOLLOW refuses a symlink");
	snprintf(link, sizeof(link), "%s/f/small", root);
	tap_inteq(infra_file_read_at(AT_FDCWD, link, 0, 3, &b, &err), -E2BIG, "over the cap is an error");
	tap_inteq(infra_file_read_at(AT_FDCWD, link, 0, 100, &b, &err), 0, "read");
	tap_ok(b.len == 5 && !strcmp(b.data, "hello"), "content");
	infra_buf_release(&b);
	struct infra_atomic_file af;
	char target[512], cmd[2048];
	snprintf(target, sizeof(target), "%s/f/out.prom", root);
	put("f/out.prom", "old\n");
	tap_inteq(infra_atomic_begin(&af, target, &err), 0, "atomic begin");
	infra_atomic_append(&af, "new ", 4, &err);
	snprintf(cmd, sizeof(cmd), "grep -qx old '%s'", target);
	tap_ok(system(cmd) == 0, "old file untouched while writing");
	infra_atomic_append(&af, "content\n", 8, &err);
	tap_inteq(infra_atomic_commit(&af, &err), 0, "atomic commit");
	snprintf(cmd, sizeof(cmd), "grep -qx 'new content' '%s' && [ $(stat -c %%a '%s') = 644 ] && [ $(ls -A '%s/f' | grep -c tmp) = 0 ]",
		 target, target, root);
	tap_ok(system(cmd) == 0, "renamed into place, mode 0644, no temp file left");
	tap_inteq(infra_atomic_begin(&af, target, &err), 0, "atomic begin again");
	infra_atomic_append(&af, "half", 4, &err);
	infra_atomic_abort(&af);
	tap_ok(system(cmd) == 0, "abort keeps the old file and removes the temp file");
	snprintf(target, sizeof(target), "%s/no/such/dir/x.prom", root);
	tap_ok(infra_atomic_begin(&af, target, &err) == -ENOENT && strstr(err.msg, "x.prom"), "missing directory: %s", err.msg);
	char *j = infra_path_join("/sys/", "/run/x");
	tap_streq(j, "/sys/run/x", "path join");
	free(j);
	j = infra_path_join(NULL, "/run/x");
	tap_streq(j, "/run/x", "path join without root");
	free(j);
}

int main(void)
{
	char cmd[300];

	snprintf(root, sizeof(root), "%s/kt.XXXXXX", getenv("INFRA_TMP") ? getenv("INFRA_TMP") : "/tmp");
	if (!mkdtemp(root))
		return 1;
	test_ids();
	test_discovery();
	test_long_path();
	test_merge();
	test_merge_fast();
	test_merge_interned();
	test_merge_random();
	test_merge_integers();
	test_cri();
	test_state();
	test_file();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd) != 0)
		tap_diag("cleanup failed");
	return tap_done();
}
