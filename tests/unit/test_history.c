/* test_history.c - run ids, history append/cap/corruption, archive append/verify,
 * retention, and infra_proc (exit codes, capture, timeout killing the group). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "infra_archive.h"
#include "infra_history.h"
#include "infra_json.h"
#include "infra_proc.h"
#include "infra_report.h"
#include "tap.h"

static char dir[512];

static void put(const char *rel, const char *text)
{
	char p[1024];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	f = fopen(p, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void test_run_id(void)
{
	char id[32];
	double t;

	infra_run_id(1795435200.7, id, sizeof(id));
	tap_streq(id, "20261123T120000Z", "run id is the UTC time, seconds");
	tap_ok(infra_run_id_parse(id, &t) == 0 && t == 1795435200, "run id parses back");
	tap_ok(infra_run_id_parse("20261123T120000Z-2", &t) == 0 && t == 1795435200, "a -2 suffix parses");
	tap_ok(infra_run_id_parse("archive", &t) == -EINVAL, "other names are not run ids");
	tap_ok(infra_run_id_parse("20261123T120000Zx", &t) == -EINVAL, "trailing junk rejected");
}

static void test_run_dirs(void)
{
	char d1[1024], d2[1024], id1[32], id2[32];
	struct infra_err err = INFRA_ERR_INIT;

	tap_ok(infra_run_dir_create(dir, 1795435200, d1, sizeof(d1), id1, sizeof(id1), &err) == 0 &&
	       infra_run_dir_create(dir, 1795435200, d2, sizeof(d2), id2, sizeof(id2), &err) == 0,
	       "two run dirs in the same second");
	tap_streq(id2, "20261123T120000Z-2", "the second gets -2");
}

static void test_history(void)
{
	char p[1024];
	struct infra_err err = INFRA_ERR_INIT;
	json_object *entries = NULL;
	int rc = 0;

	snprintf(p, sizeof(p), "%s/history.json", dir);
	for (int i = 0; i < 5 && !rc; i++) {
		json_object *e = json_object_new_object();
		json_object_object_add(e, "n", json_object_new_int(i));
		rc = infra_history_append(p, e, 3, NULL, &err);
		json_object_put(e);
	}
	tap_ok(rc == 0, "five appends");
	tap_ok(infra_history_read(p, &entries, &err) == 0 && json_object_array_length(entries) == 3,
	       "capped at 3 entries");
	tap_inteq(infra_json_opt_int64(json_object_array_get_idx(entries, 0), "n", -1), 2, "oldest dropped first");
	tap_inteq(infra_json_opt_int64(json_object_array_get_idx(entries, 2), "n", -1), 4, "newest last");
	json_object_put(entries);
	put("history.json", "{\"version\":1,\"entries\":[{");
	{
		json_object *e = json_object_new_object();
		rc = infra_history_append(p, e, 3, &entries, &err);
		json_object_put(e);
	}
	tap_ok(rc == -EILSEQ && strstr(err.msg, "kept as"), "corrupt history: -EILSEQ, kept aside (%s)", err.msg);
	tap_ok(entries && json_object_array_length(entries) == 1, "new history with the one entry");
	json_object_put(entries);
	snprintf(p, sizeof(p), "%s/history.json.corrupt", dir);
	tap_ok(access(p, F_OK) == 0, "history.json.corrupt exists");
	snprintf(p, sizeof(p), "%s/none.json", dir);
	tap_ok(infra_history_read(p, &entries, &err) == 0 && json_object_array_length(entries) == 0,
	       "absent history reads as empty");
	json_object_put(entries);
}

static void test_archive(void)
{
	char a[1024], *data = NULL;
	size_t len = 0;
	const char *d1[] = { "runs/A" }, *d2[] = { "runs/B", "runs/A" };
	struct infra_err err = INFRA_ERR_INIT;
	json_object *list = NULL;

	snprintf(a, sizeof(a), "%s/runs", dir);
	infra_mkdir_p(a, 0755, NULL);
	snprintf(a, sizeof(a), "%s/runs/A/sub", dir);
	infra_mkdir_p(a, 0755, NULL);
	snprintf(a, sizeof(a), "%s/runs/B", dir);
	infra_mkdir_p(a, 0755, NULL);
	put("runs/A/x.json", "{\"a\":1}\n");
	put("runs/A/sub/empty", "");
	put("runs/B/y.txt", "hello");
	snprintf(a, sizeof(a), "%s/m.tar.gz", dir);
	tap_ok(infra_archive_append_dirs(a, dir, d1, 1, &err) == 0, "new archive with runs/A (%s)", err.msg);
	tap_ok(infra_archive_list(a, &list, &err) == 0 && json_object_array_length(list) == 4,
	       "runs/A/, runs/A/sub/, two files");
	json_object_put(list);
	put("runs/A/x.json", "{\"a\":2}\n"); /* re-archived A replaces the old entries, once */
	tap_ok(infra_archive_append_dirs(a, dir, d2, 2, &err) == 0, "append runs/B and runs/A again");
	tap_ok(infra_archive_list(a, &list, &err) == 0 && json_object_array_length(list) == 6,
	       "6 entries, none twice");
	json_object_put(list);
	tap_ok(infra_archive_read_entry(a, "runs/A/x.json", 1024, &data, &len, &err) == 0 &&
	       !strcmp(data, "{\"a\":2}\n"), "replaced entry has the new content");
	free(data);
	tap_ok(infra_archive_read_entry(a, "runs/B/y.txt", 1024, &data, &len, &err) == 0 && len == 5,
	       "appended entry readable");
	free(data);
	tap_ok(infra_archive_read_entry(a, "runs/B/y.txt", 2, &data, &len, &err) == -E2BIG, "read bounded");
	tap_ok(infra_archive_read_entry(a, "nope", 10, &data, &len, &err) == -ENOENT, "absent entry -ENOENT");
	put("bad.tar.gz", "garbage");
	snprintf(a, sizeof(a), "%s/bad.tar.gz", dir);
	tap_ok(infra_archive_append_dirs(a, dir, d1, 1, &err) < 0, "appending to a corrupt archive fails (%s)", err.msg);
	{
		FILE *f = fopen(a, "r");
		char buf[16] = "";
		if (f) {
			if (!fgets(buf, sizeof(buf), f))
				buf[0] = '\0';
			fclose(f);
		}
		tap_streq(buf, "garbage", "the corrupt archive is left as it was");
	}
}

static void test_retention(void)
{
	char st[1024], p[1100];
	struct infra_retention_result rr;
	struct infra_err err = INFRA_ERR_INIT;
	const char *ids[] = { "20261030T000000Z", "20261101T000000Z", "20261120T000000Z", "20261123T000000Z" };

	snprintf(st, sizeof(st), "%s/state", dir);
	for (int i = 0; i < 4; i++) {
		snprintf(p, sizeof(p), "%s/runs/%s", st, ids[i]);
		infra_mkdir_p(p, 0755, NULL);
		snprintf(p, sizeof(p), "%s/runs/%s/run.log", st, ids[i]);
		FILE *f = fopen(p, "w");
		if (f) {
			fprintf(f, "log %d\n", i);
			fclose(f);
		}
	}
	snprintf(p, sizeof(p), "%s/runs/notarun", st);
	infra_mkdir_p(p, 0755, NULL);
	/* cutoff 2026-11-16: the first two go; the current run (last) is never touched */
	tap_ok(infra_retention_apply(st, ids[3], 1794787200, &rr, &err) == 0, "retention applied (%s)", err.msg);
	tap_ok(rr.archived_runs == 2 && rr.kept_runs == 2 && rr.narchives == 2, "2 archived into 2 months, 2 kept");
	tap_streq(rr.archives[0], "archive/2026-10.tar.gz", "October archive");
	snprintf(p, sizeof(p), "%s/runs/%s", st, ids[0]);
	tap_ok(access(p, F_OK) != 0, "archived directory removed");
	snprintf(p, sizeof(p), "%s/runs/notarun", st);
	tap_ok(access(p, F_OK) == 0, "directories that are not run ids are left alone");
}

/* a run directory that is a symlink (to a private directory) is not a run:
 * never walked, so its 0600 file never lands in a 0644 archive */
static void test_retention_symlink(void)
{
	char st[1024], p[1100], priv[1024];
	struct infra_retention_result rr;
	struct infra_err err = INFRA_ERR_INIT;
	struct stat sb;
	int fd;

	snprintf(st, sizeof(st), "%s/state2", dir);
	snprintf(priv, sizeof(priv), "%s/private", dir);
	infra_mkdir_p(priv, 0700, NULL);
	snprintf(p, sizeof(p), "%s/secret", priv);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd >= 0) {
		tap_ok(write(fd, "s3cret\n", 7) == 7, "private file written");
		close(fd);
	}
	snprintf(p, sizeof(p), "%s/runs", st);
	infra_mkdir_p(p, 0755, NULL);
	snprintf(p, sizeof(p), "%s/runs/20200101T000000Z", st);
	tap_ok(symlink(priv, p) == 0, "a symlinked old run directory");
	tap_ok(infra_retention_apply(st, NULL, 1794787200, &rr, &err) == 0, "retention ran (%s)", err.msg);
	tap_ok(rr.archived_runs == 0, "the symlink was not archived (%d archived)", rr.archived_runs);
	snprintf(p, sizeof(p), "%s/archive/2020-01.tar.gz", st);
	tap_ok(access(p, F_OK) != 0, "no archive was written with the private file");
	snprintf(p, sizeof(p), "%s/secret", priv);
	tap_ok(stat(p, &sb) == 0, "the symlink's target is untouched");
}

static void test_proc(void)
{
	struct infra_buf out = INFRA_BUF_INIT;
	struct infra_proc_result res;
	struct infra_err err = INFRA_ERR_INIT;
	const char *echo[] = { "sh", "-c", "printf hello; exit 7", NULL };
	const char *nope[] = { "/no/such/program", NULL };
	const char *big[] = { "sh", "-c", "head -c 100000 /dev/zero", NULL };
	const char *env[] = { "INFRA_T=v1", NULL };
	const char *penv[] = { "sh", "-c", "printf %s \"$INFRA_T\"", NULL };
	/* the leader forks a worker; both must die on timeout */
	char cmd[1200];
	const char *hang[] = { "sh", "-c", cmd, NULL };
	struct infra_proc_opts o = { 0, 1, -1, NULL, NULL };
	double t0;

	tap_ok(infra_proc_run(echo, NULL, &out, &res, &err) == 0 && res.exited && res.exit_code == 7 &&
	       !strcmp(out.data, "hello"), "stdout captured, exit status 7");
	infra_buf_release(&out);
	tap_ok(infra_proc_run(nope, NULL, NULL, &res, &err) == -ENOENT && strstr(err.msg, "cannot run '/no/such/program'"),
	       "missing program: -ENOENT (%s)", err.msg);
	infra_buf_init(&out, 1000);
	tap_ok(infra_proc_run(big, NULL, &out, &res, &err) == -E2BIG, "stdout over the cap: -E2BIG");
	infra_buf_release(&out);
	o.env_set = env;
	tap_ok(infra_proc_run(penv, &o, &out, &res, &err) == 0 && !strcmp(out.data ? out.data : "", "v1"),
	       "environment entries added");
	infra_buf_release(&out);
	snprintf(cmd, sizeof(cmd), "sleep 60 & echo $! > %s/worker.pid; wait", dir);
	o.env_set = NULL;
	o.timeout = 0.5;
	t0 = infra_now_mono();
	tap_ok(infra_proc_run(hang, &o, NULL, &res, &err) == 0 && res.timed_out, "timeout reported");
	tap_ok(infra_now_mono() - t0 < 5, "returned soon after the timeout");
	{
		char p[1100], buf[32] = "";
		FILE *f;
		snprintf(p, sizeof(p), "%s/worker.pid", dir);
		f = fopen(p, "r");
		if (f) {
			if (!fgets(buf, sizeof(buf), f))
				buf[0] = '\0';
			fclose(f);
		}
		pid_t w = (pid_t)strtol(buf, NULL, 10);
		int alive = 0;
		if (w > 0) {
			char sp[64], stat[512] = "";
			FILE *sf;
			snprintf(sp, sizeof(sp), "/proc/%ld/stat", (long)w);
			sf = fopen(sp, "r");
			if (sf) {
				if (fgets(stat, sizeof(stat), sf)) {
					char *rp = strrchr(stat, ')');
					alive = rp && rp[2] != 'Z';
				}
				fclose(sf);
			}
		}
		tap_ok(w > 0 && !alive, "the forked worker was killed with the group (pid %ld)", (long)w);
	}
	{
		char how[128];
		infra_proc_describe(&res, 0.5, how, sizeof(how));
		tap_streq(how, "timed out after 0.5 s (process group killed)", "timeout described");
	}
}

int main(void)
{
	snprintf(dir, sizeof(dir), "%s/test_history.XXXXXX", getenv("INFRA_TMP") ? getenv("INFRA_TMP") : "/tmp");
	if (!mkdtemp(dir))
		return 1;
	test_run_id();
	test_run_dirs();
	test_history();
	test_archive();
	test_retention();
	test_retention_symlink();
	test_proc();
	{
		struct infra_err err = INFRA_ERR_INIT;
		infra_rm_rf(dir, &err);
		tap_ok(access(dir, F_OK) != 0, "infra_rm_rf removed the test tree");
	}
	return tap_done();
}
