/* test_cache.c - infra_cache: TTL, ages, live sources, stale copies, atomic
 * writes (a concurrent reader never sees half a file), refused symlinks,
 * clear, counters. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "infra_cache.h"
#include "infra_json.h"
#include "tap.h"

static char base[256];

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		perror(path);
		exit(2);
	}
	fputs(text, f);
	fclose(f);
}

static int count_entries(const char *dir)
{
	char cmd[512];
	FILE *p;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", dir);
	p = popen(cmd, "r");
	if (p) {
		if (fscanf(p, "%d", &n) != 1)
			n = -1;
		pclose(p);
	}
	return n;
}

static json_object *doc_n(int n)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "n", json_object_new_int(n));
	return o;
}

static void test_basic(void)
{
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_cache *c;
	struct infra_cache_stat st;
	json_object *d, *doc;
	double age;
	char dir[300], path[400];
	struct stat sb;
	int rc;

	snprintf(dir, sizeof(dir), "%s/c1/sub", base);
	rc = infra_cache_open(&c, dir, &err);
	tap_inteq(rc, 0, "open creates the directory (%s)", err.msg);
	tap_ok(stat(dir, &sb) == 0 && (sb.st_mode & 07777) == 0700, "cache directory is mode 0700");

	rc = infra_cache_get(c, "netbox", 60, &d, &age, &err);
	tap_ok(rc == 0 && d == NULL && age == -1, "absent: miss, no copy, age -1");

	doc = doc_n(7);
	rc = infra_cache_put(c, "netbox", doc, &err);
	tap_inteq(rc, 0, "put (%s)", err.msg);
	rc = infra_cache_get(c, "netbox", 60, &d, &age, &err);
	tap_ok(rc == 1 && d && json_object_get_int(json_object_object_get(d, "n")) == 7,
	       "fresh copy is a hit with the document");
	tap_ok(age >= 0 && age < 5, "age of a fresh copy is small (%.3f)", age);
	json_object_put(d);

	rc = infra_cache_get(c, "netbox", 0, &d, &age, &err);
	tap_ok(rc == 0 && d != NULL, "ttl 0 (live source): never a hit, the copy is still handed back for fallback");
	json_object_put(d);

	/* a copy written 100 s ago */
	snprintf(path, sizeof(path), "%s/hyperstack.json", dir);
	{
		char text[256];
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		snprintf(text, sizeof(text), "{\"source\":\"hyperstack\",\"written\":%lld,\"doc\":[1,2]}\n",
			 (long long)ts.tv_sec - 100);
		write_file(path, text);
	}
	rc = infra_cache_get(c, "hyperstack", 50, &d, &age, &err);
	tap_ok(rc == 0 && d && json_object_array_length(d) == 2, "stale copy (age 100 > ttl 50): miss, copy handed back");
	tap_ok(age >= 99 && age < 110, "stale age is about 100 s (%.1f)", age);
	json_object_put(d);
	rc = infra_cache_get(c, "hyperstack", 200, &d, &age, &err);
	tap_ok(rc == 1, "same copy with ttl 200: hit");
	json_object_put(d);
	rc = infra_cache_get(c, "hyperstack", 200, NULL, NULL, &err);
	tap_inteq(rc, 1, "doc and age may be NULL");

	rc = infra_cache_stats(c, "hyperstack", &st, &err);
	tap_ok(rc == 0 && st.hits == 2 && st.misses == 1 && st.age_seconds >= 99,
	       "stats: hyperstack 2 hits, 1 miss, age ~100 (got %lu/%lu/%.1f)", st.hits, st.misses, st.age_seconds);
	infra_cache_stats(c, "netbox", &st, &err);
	tap_ok(st.hits == 1 && st.misses == 2, "stats: netbox 1 hit, 2 misses (got %lu/%lu)", st.hits, st.misses);
	infra_cache_stats(c, "runpod", &st, &err);
	tap_ok(st.hits == 0 && st.misses == 0 && st.age_seconds == -1, "stats: unused source, no copy: age -1");

	/* corrupt copy: an error, counted as a miss, never a crash */
	snprintf(path, sizeof(path), "%s/runpod.json", dir);
	write_file(path, "{\"source\":\"runpod\",\"written\":1,\"doc\":[1,");
	rc = infra_cache_get(c, "runpod", 60, &d, &age, &err);
	tap_ok(rc == -EPROTO && d == NULL && strstr(err.msg, "runpod.json"), "corrupt copy: -EPROTO naming the file (%s)", err.msg);
	write_file(path, "{\"source\":\"netbox\",\"written\":1,\"doc\":1}");
	rc = infra_cache_get(c, "runpod", 60, &d, &age, &err);
	tap_inteq(rc, -EPROTO, "a file holding another source's entry is refused");

	rc = infra_cache_put(c, "../etc", doc, &err);
	tap_ok(rc == -EINVAL && strstr(err.msg, "invalid source"), "source name with a slash refused (%s)", err.msg);
	rc = infra_cache_get(c, "", 60, &d, &age, &err);
	tap_inteq(rc, -EINVAL, "empty source name refused");

	/* clear one, then all (leftover temp files too) */
	rc = infra_cache_clear(c, "netbox", &err);
	tap_ok(rc == 0 && infra_cache_get(c, "netbox", 60, &d, &age, &err) == 0 && !d, "clear netbox removes its copy");
	tap_inteq(infra_cache_clear(c, "netbox", &err), 0, "clearing an absent copy is fine");
	infra_cache_put(c, "netbox", doc, &err);
	snprintf(path, sizeof(path), "%s/.netbox.json.tmp.abc123", dir);
	write_file(path, "half");
	snprintf(path, sizeof(path), "%s/keep.txt", dir);
	write_file(path, "not ours");
	rc = infra_cache_clear(c, NULL, &err);
	tap_ok(rc == 0 && count_entries(dir) == 1, "clear all leaves only files that are not the cache's (%d left)",
	       count_entries(dir));
	json_object_put(doc);
	infra_cache_close(c);

	/* a directory writable by others is refused */
	snprintf(dir, sizeof(dir), "%s/open", base);
	mkdir(dir, 0777);
	chmod(dir, 0777);
	rc = infra_cache_open(&c, dir, &err);
	tap_ok(rc < 0 && strstr(err.msg, "writable by group or others"), "group/other-writable cache directory refused (%s)",
	       err.msg);
}

static void test_symlink(void)
{
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_cache *c;
	json_object *d = NULL, *doc = doc_n(1);
	char dir[300], path[400], victim[400], buf[64] = "";
	double age;
	FILE *f;
	int rc;

	snprintf(dir, sizeof(dir), "%s/c2", base);
	if (infra_cache_open(&c, dir, &err)) {
		tap_ok(0, "open %s: %s", dir, err.msg);
		return;
	}
	snprintf(victim, sizeof(victim), "%s/victim", base);
	write_file(victim, "precious\n");
	snprintf(path, sizeof(path), "%s/netbox.json", dir);
	if (symlink(victim, path) != 0)
		perror("symlink");
	rc = infra_cache_put(c, "netbox", doc, &err);
	tap_ok(rc == -ELOOP && strstr(err.msg, "symbolic link"), "put refuses a symlink at the cache path (%s)", err.msg);
	f = fopen(victim, "r");
	if (f) {
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = '\0';
		fclose(f);
	}
	tap_streq(buf, "precious\n", "the link's target is untouched");
	{
		struct stat lst;
		tap_ok(lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode), "the link itself is left in place (not replaced)");
	}
	/* a link to a valid cache entry is not read either */
	write_file(victim, "{\"source\":\"netbox\",\"written\":9999999999,\"doc\":1}");
	rc = infra_cache_get(c, "netbox", 60, &d, &age, &err);
	tap_ok(rc == -ELOOP && !d && strstr(err.msg, "refusing to follow"), "get refuses to follow the symlink (%s)", err.msg);
	unlink(path);
	mkfifo(path, 0600);
	rc = infra_cache_put(c, "netbox", doc, &err);
	tap_ok(rc == -EINVAL && strstr(err.msg, "not a regular file"), "put refuses a FIFO at the cache path (%s)", err.msg);
	rc = infra_cache_get(c, "netbox", 60, &d, &age, &err);
	tap_ok(rc == -EINVAL, "get refuses a FIFO at the cache path (no hang)");
	json_object_put(doc);
	infra_cache_close(c);
}

/* A writer replaces a ~1 MB document 200 times while a reader reads it: every
 * read must be a whole entry (a non-atomic write would show a truncated file). */
static void test_atomic(void)
{
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_cache *c;
	char dir[300];
	pid_t pid;
	int i, bad = 0, reads = 0, status = 0;

	snprintf(dir, sizeof(dir), "%s/c3", base);
	if (infra_cache_open(&c, dir, &err)) {
		tap_ok(0, "open %s: %s", dir, err.msg);
		return;
	}
	{
		json_object *big = json_object_new_array();
		for (i = 0; i < 20000; i++)
			json_object_array_add(big, json_object_new_string("0123456789012345678901234567890123456789"));
		infra_cache_put(c, "placement", big, &err);
		pid = fork();
		if (pid == 0) {
			for (i = 0; i < 200; i++)
				if (infra_cache_put(c, "placement", big, &err) != 0)
					_exit(1);
			_exit(0);
		}
		json_object_put(big);
	}
	while (waitpid(pid, &status, WNOHANG) == 0) {
		json_object *d = NULL;
		double age;
		int rc = infra_cache_get(c, "placement", 60, &d, &age, &err);
		reads++;
		if (rc != 1 || !d || json_object_array_length(d) != 20000) {
			if (bad++ == 0)
				tap_diag("read %d: rc %d: %s", reads, rc, err.msg);
		}
		json_object_put(d);
	}
	tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer put 200 copies");
	tap_ok(bad == 0 && reads > 1, "a concurrent reader saw only whole entries (%d reads, %d bad)", reads, bad);
	tap_inteq(count_entries(dir), 1, "no temp file left behind");
	infra_cache_close(c);
}

int main(void)
{
	snprintf(base, sizeof(base), "%s/test_cache.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(base)) {
		perror("mkdtemp");
		return 2;
	}
	chmod(base, 0700);
	test_basic();
	test_symlink();
	test_atomic();
	{
		char cmd[400];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
		if (system(cmd) != 0)
			tap_diag("cleanup of %s failed", base);
	}
	return tap_done();
}
