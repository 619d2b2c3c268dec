/* Unit tests of the YAML reader (lib/infra_yaml.c): the JSON it makes, aliases,
 * and its bounds (input size, nodes with alias expansions counted, depth); the
 * billion-laughs clouds.yaml is refused quickly and in little memory, measured in
 * a child process with getrusage (and, outside ASan, an address-space limit so an
 * unbounded reader fails there instead of taking the machine). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "infra_json.h"
#include "infra_yaml.h"
#include "tap.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#else
#define UNDER_ASAN 0
#endif

/* Nine levels of nine aliases: 9^9 = 387,420,489 scalars once expanded. */
static const char bomb[] =
	"a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
	"b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
	"c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
	"d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
	"e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
	"f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
	"g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
	"h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
	"i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n"
	"clouds:\n  devcloud:\n    auth: *i\n";

static json_object *parse(const char *s, const struct infra_yaml_limits *lim, struct infra_err *err)
{
	return infra_yaml_parse(s, strlen(s), "t.yaml", lim, err);
}

static void test_shapes(void)
{
	struct infra_err err = INFRA_ERR_INIT;
	json_object *y;
	char *c;

	y = parse("clouds:\n  dev:\n    auth: {url: 'http://a', port: 5000}\n    list: [x, \"y\", ~, '']\n"
		  "    verify: false\n", NULL, &err);
	c = y ? infra_json_canonical(y, 0) : NULL;
	tap_streq(c, "{\"clouds\":{\"dev\":{\"auth\":{\"port\":\"5000\",\"url\":\"http://a\"},"
		     "\"list\":[\"x\",\"y\",\"~\",\"\"],\"verify\":\"false\"}}}",
		  "mappings, sequences, flow style; every scalar a string");
	free(c);
	json_object_put(y);

	y = parse("", NULL, &err);
	tap_ok(y && json_object_is_type(y, json_type_object) && json_object_object_length(y) == 0,
	       "empty input: an empty object");
	json_object_put(y);
	y = parse("a: 1\n---\nb: 2\n", NULL, &err);
	c = y ? infra_json_canonical(y, 0) : NULL;
	tap_streq(c, "{\"a\":\"1\"}", "only the first document");
	free(c);
	json_object_put(y);
	y = parse("? [x, y]\n: dropped\nk: v\n", NULL, &err);
	c = y ? infra_json_canonical(y, 0) : NULL;
	tap_streq(c, "{\"k\":\"v\"}", "a pair with a collection as key is dropped");
	free(c);
	json_object_put(y);

	y = parse("a: [unclosed\n", NULL, &err);
	tap_ok(!y && err.code == -EINVAL, "malformed YAML refused");
	tap_ok(strncmp(err.msg, "t.yaml: line ", 13) == 0, "... with the name and a line: %s", err.msg);
}

static void test_aliases(void)
{
	struct infra_err err = INFRA_ERR_INIT;
	json_object *y, *a, *b;
	char *c;

	y = parse("base: &b {region_name: R1, auth: {auth_url: 'http://k/v3'}}\n"
		  "clouds:\n  one: *b\n  two: *b\n  name: &n dev\n  again: *n\n", NULL, &err);
	c = y ? infra_json_canonical(y, 0) : NULL;
	tap_streq(c, "{\"base\":{\"auth\":{\"auth_url\":\"http://k/v3\"},\"region_name\":\"R1\"},"
		     "\"clouds\":{\"again\":\"dev\",\"name\":\"dev\",\"one\":{\"auth\":{\"auth_url\":\"http://k/v3\"},"
		     "\"region_name\":\"R1\"},\"two\":{\"auth\":{\"auth_url\":\"http://k/v3\"},\"region_name\":\"R1\"}}}",
		  "aliases of a mapping and a scalar expand");
	free(c);
	if (y && !infra_json_get_object(y, "clouds.one", &a, NULL) && !infra_json_get_object(y, "clouds.two", &b, NULL)) {
		tap_ok(a != b, "each alias is its own copy");
		json_object_object_add(a, "changed", json_object_new_string("x"));
		tap_ok(!json_object_object_get_ex(b, "changed", NULL), "changing one copy leaves the other");
	} else {
		tap_ok(0, "each alias is its own copy");
		tap_ok(0, "changing one copy leaves the other");
	}
	json_object_put(y);

	y = parse("a: &x 1\nb: &x 2\nc: *x\n", NULL, &err);
	tap_streq(y ? infra_json_opt_string(y, "c", NULL) : NULL, "2", "a redefined anchor: the latest one");
	json_object_put(y);
	y = parse("a: *nothing\n", NULL, &err);
	tap_ok(!y, "an alias without an anchor is refused");
	y = parse("a: &r [1, *r]\n", NULL, &err);
	tap_ok(!y && strstr(err.msg, "unknown alias"), "an alias inside its own anchor (a cycle) is refused: %s", err.msg);
}

static void test_limits(void)
{
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_yaml_limits lim = { 0, 10, 0, 0 };
	json_object *y;
	char *deep;

	/* 1 mapping + 4 key/value scalars = 5 nodes; each alias of &l adds 3 */
	y = parse("a: &l [x, y]\nb: z\n", &lim, &err);
	tap_ok(y != NULL, "8 nodes under a limit of 10");
	json_object_put(y);
	y = parse("a: &l [x, y]\nb: *l\n", &lim, &err);
	tap_ok(y != NULL, "exactly 10 nodes with one alias expansion: allowed");
	json_object_put(y);
	y = parse("a: &l [x, y]\nb: *l\nc: *l\n", &lim, &err);
	tap_ok(!y && err.code == -E2BIG, "a second expansion passes the limit: refused");
	tap_streq(err.msg, "t.yaml: too many aliases/nodes (limit 10 nodes)", "... saying which limit");
	y = parse("[a, b, c, d, e, f, g, h, i, j, k]\n", &lim, &err);
	tap_streq(y ? "parsed" : err.msg, "t.yaml: too many aliases/nodes (limit 10 nodes)", "plain nodes count too");
	lim = (struct infra_yaml_limits){ 0, 0, 5, 0 };
	y = parse("a: &l [x, y]\nb: *l\n", &lim, &err);
	tap_ok(y != NULL, "3 nodes through aliases under a limit of 5");
	json_object_put(y);
	y = parse("a: &l [x, y]\nb: *l\nc: *l\n", &lim, &err);
	tap_streq(y ? "parsed" : err.msg, "t.yaml: too many aliases/nodes (limit 5 nodes through aliases)",
		  "6 nodes through aliases over a limit of 5: refused");
	y = parse("[a, b, c, d, e, f, g, h, i, j, k]\n", &lim, &err);
	tap_ok(y != NULL, "plain nodes do not count against the alias limit");
	json_object_put(y);

	lim = (struct infra_yaml_limits){ 16, 0, 0, 0 };
	y = parse("key: a value longer than sixteen bytes\n", &lim, &err);
	tap_ok(!y && err.code == -E2BIG, "input larger than max_bytes refused: %s", err.msg);

	deep = malloc(2 * 100 + 1);
	for (int k = 0; k < 100; k++) {
		deep[k] = '[';
		deep[100 + k] = ']';
	}
	deep[200] = '\0';
	y = parse(deep, NULL, &err);
	tap_ok(!y && strstr(err.msg, "nested deeper than 64"), "nesting deeper than 64 refused: %s", err.msg);
	free(deep);
	{
		char ok64[2 * 64 + 1];
		memset(ok64, '[', 64);
		memset(ok64 + 64, ']', 64);
		ok64[128] = '\0';
		y = parse(ok64, NULL, &err);
		tap_ok(y != NULL, "64 levels are fine (%s)", y ? "ok" : err.msg);
		json_object_put(y);
	}
}

/* The billion laughs, from a file as the tools read clouds.yaml, in a child: it
 * reports its result, CPU time and peak-memory growth on a pipe. */
struct bomb_result {
	int refused;
	char msg[INFRA_ERR_MSG_MAX];
	double cpu_seconds;
	long rss_growth_kb;
};

static void test_bomb(const char *dir)
{
	char path[512];
	struct bomb_result res;
	FILE *f;
	int fds[2], status = 0;
	pid_t pid;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/clouds.yaml", dir);
	f = fopen(path, "w");
	if (!f || fputs(bomb, f) < 0 || fclose(f)) {
		tap_ok(0, "write %s", path);
		return;
	}
	tap_diag("bomb: %zu bytes, 9 levels of 9 aliases", strlen(bomb));
	if (pipe(fds)) {
		tap_ok(0, "pipe");
		return;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		struct rusage before, after;
		struct infra_err err = INFRA_ERR_INIT;
		json_object *y;

		close(fds[0]);
		alarm(10); /* an unbounded reader would run for minutes */
		if (!UNDER_ASAN) { /* ASan reserves terabytes of address space: no RLIMIT_AS there */
			struct rlimit rl = { (rlim_t)1 << 30, (rlim_t)1 << 30 };
			setrlimit(RLIMIT_AS, &rl);
		}
		memset(&res, 0, sizeof(res));
		getrusage(RUSAGE_SELF, &before);
		y = infra_yaml_load_file(path, &err);
		getrusage(RUSAGE_SELF, &after);
		res.refused = y == NULL;
		snprintf(res.msg, sizeof(res.msg), "%s", y ? "(parsed)" : err.msg);
		res.cpu_seconds = (double)(after.ru_utime.tv_sec - before.ru_utime.tv_sec) +
				  (double)(after.ru_utime.tv_usec - before.ru_utime.tv_usec) / 1e6 +
				  (double)(after.ru_stime.tv_sec - before.ru_stime.tv_sec) +
				  (double)(after.ru_stime.tv_usec - before.ru_stime.tv_usec) / 1e6;
		res.rss_growth_kb = after.ru_maxrss - before.ru_maxrss;
		json_object_put(y);
		if (write(fds[1], &res, sizeof(res)) != (ssize_t)sizeof(res))
			_exit(2);
		_exit(0);
	}
	close(fds[1]);
	memset(&res, 0, sizeof(res));
	n = pid > 0 ? read(fds[0], &res, sizeof(res)) : -1;
	close(fds[0]);
	if (pid > 0)
		waitpid(pid, &status, 0);
	if (n != (ssize_t)sizeof(res)) {
		tap_ok(0, "billion laughs: the reader finished (child %s %d)",
		       WIFSIGNALED(status) ? "killed by signal" : "exited", WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
		tap_ok(0, "billion laughs: refused quickly");
		tap_ok(0, "billion laughs: in little memory");
		return;
	}
	tap_ok(res.refused, "billion laughs clouds.yaml refused");
	tap_ok(strstr(res.msg, "clouds.yaml: too many aliases/nodes (limit 10000 nodes through aliases)") != NULL, "... %s", res.msg);
	tap_diag("billion laughs: %.3f s CPU, peak RSS grew by %ld KiB", res.cpu_seconds, res.rss_growth_kb);
	/* generous bounds (ASan and a loaded machine); an unbounded reader needs minutes and gigabytes */
	tap_ok(res.cpu_seconds < 1.0, "billion laughs: refused in under a second of CPU (%.3f s)", res.cpu_seconds);
	tap_ok(res.rss_growth_kb < 8 * 1024, "billion laughs: in under 8 MiB (%ld KiB)", res.rss_growth_kb);
}

int main(void)
{
	char dir[] = "/tmp/test_yaml.XXXXXX";
	struct infra_err err = INFRA_ERR_INIT;

	test_shapes();
	test_aliases();
	test_limits();
	tap_ok(!infra_yaml_load_file("/nonexistent/clouds.yaml", &err) && err.code == -ENOENT,
	       "missing file: -ENOENT");
	tap_ok(!infra_yaml_load_file("/tmp", &err) && err.code == -EISDIR, "a directory: -EISDIR (%s)", err.msg);
	if (mkdtemp(dir)) {
		char cmd[300];
		test_bomb(dir);
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			tap_diag("could not remove %s", dir);
	} else {
		tap_ok(0, "mkdtemp");
	}
	return tap_done();
}
