#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "infra_exit.h"
#include "infra_report.h"
#include "tap.h"

static char dir[256];

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	fread(buf, 1, (size_t)n, f);
	fclose(f);
	return buf;
}

static int count_entries(const char *d)
{
	DIR *dp = opendir(d);
	struct dirent *e;
	int n = 0;

	while (dp && (e = readdir(dp)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	if (dp)
		closedir(dp);
	return n;
}

static void test_atomic(void)
{
	struct infra_err err = INFRA_ERR_INIT;
	char path[512], sub[512];
	struct stat st;
	char *s;
	int rc;

	snprintf(path, sizeof(path), "%s/out.prom", dir);
	rc = infra_atomic_write(path, "a 1\n", 4, &err);
	tap_inteq(rc, 0, "atomic write creates the file");
	s = slurp(path);
	tap_streq(s, "a 1\n", "content written");
	free(s);
	stat(path, &st);
	tap_inteq(st.st_mode & 0777, 0644, "mode 0644 whatever the umask (mkstemp makes 0600)");
	tap_inteq(count_entries(dir), 1, "no temp file left");

	/* unwritable target: the name is a directory -> rename fails, temp removed */
	snprintf(sub, sizeof(sub), "%s/isdir", dir);
	mkdir(sub, 0755);
	rc = infra_atomic_write(sub, "x", 1, &err);
	tap_ok(rc < 0, "write onto a directory fails");
	tap_ok(strstr(err.msg, "cannot write '") != NULL, "error says what failed: %s", err.msg);
	tap_inteq(count_entries(dir), 2, "temp file removed after the failed rename");

	/* missing directory */
	snprintf(sub, sizeof(sub), "%s/nodir/out.prom", dir);
	rc = infra_atomic_write(sub, "x", 1, &err);
	tap_inteq(rc, -ENOENT, "missing directory: -ENOENT");
	tap_ok(strstr(err.msg, "No such file or directory") != NULL, "strerror in message");

	/* a write that fails half way (file size limit, like a full disk): the old
	 * file stays untouched and no temp file is left */
	{
		pid_t pid = fork();
		int status;
		if (pid == 0) {
			struct rlimit rl = { 1024, 1024 };
			char *big = malloc(1 << 20);
			signal(SIGXFSZ, SIG_IGN);
			setrlimit(RLIMIT_FSIZE, &rl);
			memset(big, 'x', 1 << 20);
			_exit(infra_atomic_write(path, big, 1 << 20, NULL) == -EFBIG ? 0 : 1);
		}
		waitpid(pid, &status, 0);
		tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "write failing half way returns the error");
		s = slurp(path);
		tap_streq(s, "a 1\n", "old file untouched after a failed write");
		free(s);
		tap_inteq(count_entries(dir), 2, "no temp file left after a failed write");
	}
	/* a full filesystem, for real, when this machine lets us mount a small tmpfs */
	{
		char mnt[512], cmd[1200], fpath[600];
		snprintf(mnt, sizeof(mnt), "%s/full", dir);
		mkdir(mnt, 0755);
		snprintf(cmd, sizeof(cmd), "mount -t tmpfs -o size=64k tmpfs %s 2>/dev/null", mnt);
		if (system(cmd) == 0) {
			char *big = malloc(256 * 1024);
			memset(big, 'y', 256 * 1024);
			snprintf(fpath, sizeof(fpath), "%s/m.prom", mnt);
			tap_inteq(infra_atomic_write(fpath, "old\n", 4, NULL), 0, "tmpfs: small write ok");
			rc = infra_atomic_write(fpath, big, 256 * 1024, &err);
			tap_inteq(rc, -ENOSPC, "full filesystem: -ENOSPC");
			s = slurp(fpath);
			tap_streq(s, "old\n", "full filesystem: old file untouched");
			free(s);
			tap_inteq(count_entries(mnt), 1, "full filesystem: no temp file left");
			free(big);
			snprintf(cmd, sizeof(cmd), "umount %s", mnt);
			system(cmd);
		} else {
			tap_diag("cannot mount tmpfs here; the RLIMIT_FSIZE test above covers a failing write");
		}
		rmdir(mnt);
	}
}

static void test_report(void)
{
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_report r;
	struct infra_buf b = INFRA_BUF_INIT;
	char prev[512];
	double ts;
	int rc;

	setenv("INFRA_NOW", "1700000000.75", 1);
	rc = infra_report_init(&r, "demo-tool", "demo", 0, &err);
	tap_inteq(rc, 0, "report init");
	infra_report_status(&r, INFRA_EXIT_WARNING);
	infra_report_status(&r, INFRA_EXIT_OK);
	tap_inteq(r.status, INFRA_EXIT_WARNING, "status never lowered");
	infra_report_error(&r, "login failed: password=hunter2\nagain");
	json_object_object_add(r.data, "count", json_object_new_int(3));
	tap_inteq(infra_report_finish(&r, NULL, &err), 0, "finish");
	tap_inteq(infra_report_render(&r, INFRA_FORMAT_JSON, NULL, NULL, &b, &err), 0, "render json");
	{
		json_object *o = json_tokener_parse(b.data);
		tap_ok(o != NULL, "json envelope parses");
		tap_streq(json_object_get_string(json_object_object_get(o, "tool")), "demo-tool", "envelope tool");
		tap_streq(json_object_get_string(json_object_object_get(o, "status")), "warning", "envelope status");
		tap_streq(json_object_get_string(json_object_object_get(o, "timestamp")), "2023-11-14T22:13:20Z", "RFC 3339 UTC timestamp");
		tap_streq(json_object_get_string(json_object_array_get_idx(json_object_object_get(o, "errors"), 0)),
			  "login failed: password=*** again", "errors are one masked line");
		tap_inteq(json_object_get_int(json_object_object_get(json_object_object_get(o, "data"), "count")), 3, "data kept");
		tap_inteq(json_object_get_int64(json_object_object_get(o, "last_success_timestamp")), 1700000000, "last success now");
		tap_ok(json_object_object_get(o, "version") && json_object_object_get(o, "duration_seconds"), "version and duration present");
		json_object_put(o);
	}
	infra_buf_reset(&b);
	tap_inteq(infra_report_render(&r, INFRA_FORMAT_PROM, NULL, NULL, &b, &err), 0, "render prom");
	tap_ok(strstr(b.data, "# TYPE demo_up gauge\ndemo_up 1\n") != NULL, "demo_up 1");
	tap_ok(strstr(b.data, "demo_last_success_timestamp_seconds 1700000000\n") != NULL, "last success integer seconds");
	tap_ok(strstr(b.data, "demo_last_completion_timestamp_seconds 1700000000\n") != NULL, "last completion");
	tap_ok(strstr(b.data, "demo_build_info{version=\"" INFRA_VERSION "\"} 1\n") != NULL, "build_info with version");
	tap_ok(strstr(b.data, "# TYPE demo_duration_seconds gauge\n") != NULL, "duration gauge");
	snprintf(prev, sizeof(prev), "%s/prev.prom", dir);
	infra_atomic_write(prev, b.data, b.len, NULL);
	infra_buf_reset(&b);
	tap_inteq(infra_report_render(&r, INFRA_FORMAT_NAGIOS, NULL, NULL, &b, &err), -EINVAL, "no nagios renderer: error");
	infra_report_release(&r);

	/* a failed run keeps the previous success time, read back from the old file */
	setenv("INFRA_NOW", "1700003600", 1);
	infra_report_init(&r, "demo-tool", "demo", 0, &err);
	infra_report_status(&r, INFRA_EXIT_UNKNOWN);
	infra_report_finish(&r, prev, &err);
	tap_ok(r.up == 0, "unknown status means not up");
	tap_ok(r.last_success == 1700000000, "last success carried from the previous prom file");
	infra_buf_reset(&b);
	infra_report_render(&r, INFRA_FORMAT_JSON, NULL, NULL, &b, &err);
	snprintf(prev, sizeof(prev), "%s/prev.json", dir);
	infra_atomic_write(prev, b.data, b.len, NULL);
	infra_report_release(&r);
	tap_inteq(infra_report_read_last_success(prev, "demo", &ts), 0, "read last success from previous JSON");
	tap_ok(ts == 1700000000, "carried again through JSON");
	/* and from nothing */
	infra_report_init(&r, "demo-tool", "demo", 0, &err);
	infra_report_status(&r, INFRA_EXIT_UNKNOWN);
	infra_report_finish(&r, "/nonexistent/file.prom", &err);
	tap_ok(r.last_success == 0, "no previous file: last success 0");
	infra_report_release(&r);
	/* garbage previous file */
	snprintf(prev, sizeof(prev), "%s/garbage.prom", dir);
	infra_atomic_write(prev, "demo_last_success_timestamp_seconds{\n", 37, NULL);
	tap_inteq(infra_report_read_last_success(prev, "demo", &ts), -ENOENT, "garbage previous file: no value");
	infra_buf_release(&b);
	unsetenv("INFRA_NOW");
}

static void test_time(void)
{
	char buf[64];
	double t;

	infra_rfc3339(0, buf, sizeof(buf));
	tap_streq(buf, "1970-01-01T00:00:00Z", "rfc3339 epoch");
	tap_ok(infra_parse_time("2026-11-23T13:47:00Z", &t) == 0 && t == 1795441620, "parse Z");
	tap_ok(infra_parse_time("2026-11-23T13:47:00.000000", &t) == 0 && t == 1795441620, "parse no zone (OpenStack) as UTC");
	tap_ok(infra_parse_time("2026-11-23T14:47:00+01:00", &t) == 0 && t == 1795441620, "parse offset");
	tap_ok(infra_parse_time("2026-11-23T13:47:00.5Z", &t) == 0 && t == 1795441620.5, "parse fraction");
	tap_ok(infra_parse_time("2026-11-23 13:47:00", &t) == 0 && t == 1795441620, "parse space form");
	tap_ok(infra_parse_time("yesterday", &t) == -EINVAL, "parse garbage");
	tap_ok(infra_parse_time("2026-11-23T13:47:00Zjunk", &t) == -EINVAL, "parse trailing junk");
	tap_inteq(infra_status_worst(INFRA_EXIT_WARNING, INFRA_EXIT_UNKNOWN), INFRA_EXIT_UNKNOWN, "unknown worse than warning");
	tap_inteq(infra_status_worst(INFRA_EXIT_CRITICAL, INFRA_EXIT_UNKNOWN), INFRA_EXIT_CRITICAL, "critical worse than unknown");
	tap_streq(infra_status_name(7), "unknown", "status name of junk");
}

int main(void)
{
	const char *base = getenv("INFRA_TMP");

	snprintf(dir, sizeof(dir), "%s/report-XXXXXX", base ? base : "/tmp");
	if (!mkdtemp(dir))
		return 1;
	umask(077);
	test_atomic();
	test_report();
	test_time();
	{
		char cmd[600];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		system(cmd);
	}
	return tap_done();
}
