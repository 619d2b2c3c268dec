#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "infra_cli.h"
#include "infra_exit.h"
#include "tap.h"

static struct infra_cli cli;
static const char *extra;

static const struct argp_option opts[] = {
	{ "extra", 'x', "DIR", 0, "an option of the tool", 0 },
	{ 0 }
};

static error_t parse(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = &cli;
		return 0;
	case 'x':
		extra = arg;
		return 0;
	}
	return ARGP_ERR_UNKNOWN;
}

static const struct argp_child children[] = { { &infra_cli_argp, 0, NULL, 0 }, { 0 } };
static const struct argp argp = { opts, parse, NULL, "test tool", children, NULL, NULL };
static const struct argp_child check_children[] = { { &infra_cli_check_argp, 0, NULL, 0 }, { 0 } };
static const struct argp check_argp = { opts, parse, NULL, "test check", check_children, NULL, NULL };

/* A module that reads a secret the way infra_openstack does: a --token-file
 * option, and the --token flag other clients take, declared only to refuse it. */
enum { OPT_TOKEN_FILE = 0x3000, OPT_TOKEN };
static const struct infra_cli_secret secrets[] = {
	{ OPT_TOKEN, "token", "TOKEN or --token-file" },
	{ 0, NULL, NULL }
};
static const struct argp_option secret_opts[] = {
	{ "token-file", OPT_TOKEN_FILE, "FILE", 0, "read the token from FILE", 0 },
	INFRA_CLI_SECRET_OPTION("token", OPT_TOKEN),
	{ 0 }
};
static error_t secret_parse(int key, char *arg, struct argp_state *state)
{
	(void)state;
	switch (key) {
	case OPT_TOKEN_FILE:
		extra = arg;
		return 0;
	case OPT_TOKEN:
		infra_cli_refuse_secret(state, secrets, key, arg);
		return 0;
	}
	return ARGP_ERR_UNKNOWN;
}
static const struct argp secret_argp = { secret_opts, secret_parse, NULL, NULL, NULL, NULL, NULL };
static const struct argp_child secret_children[] = {
	{ &infra_cli_argp, 0, NULL, 0 }, { &secret_argp, 0, NULL, 0 }, { 0 }
};
static const struct argp tool_with_secret = { opts, parse, NULL, "test tool", secret_children, NULL, NULL };

/* Run argp_parse in a child; return its exit status (or 0 if it returned) and
 * capture its stdout+stderr. */
static int run(const struct argp *a, unsigned flags, char **argv, char *out, size_t outsz)
{
	int pfd[2], status;
	pid_t pid;
	ssize_t n;
	size_t got = 0;

	if (pipe(pfd))
		return -1;
	pid = fork();
	if (pid == 0) {
		int argc = 0;
		close(pfd[0]);
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		while (argv[argc])
			argc++;
		infra_cli_init(&cli, "tool", flags);
		argp_parse(a, argc, argv, 0, NULL, NULL);
		infra_cli_finish(&cli);
		printf("format=%d output=%s timeout=%g jobs=%d verbose=%d quiet=%d cacert=%s insecure=%d extra=%s\n",
		       cli.format, cli.output ? cli.output : "-", cli.timeout, cli.jobs, cli.verbose, cli.quiet,
		       cli.cacert ? cli.cacert : "-", cli.insecure, extra ? extra : "-");
		fflush(stdout);
		_exit(0);
	}
	close(pfd[1]);
	while (got + 1 < outsz && (n = read(pfd[0], out + got, outsz - got - 1)) > 0)
		got += (size_t)n;
	out[got] = 0;
	close(pfd[0]);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

int main(void)
{
	char out[8192];
	double d;
	long l;
	int rc;

	tap_ok(infra_parse_duration("30", &d) == 0 && d == 30, "duration plain seconds");
	tap_ok(infra_parse_duration("1.5", &d) == 0 && d == 1.5, "duration fractional");
	tap_ok(infra_parse_duration("15m", &d) == 0 && d == 900, "duration minutes");
	tap_ok(infra_parse_duration("2h", &d) == 0 && d == 7200, "duration hours");
	tap_ok(infra_parse_duration("7d", &d) == 0 && d == 604800, "duration days");
	tap_ok(infra_parse_duration("250ms", &d) == 0 && d == 0.25, "duration milliseconds");
	tap_ok(infra_parse_duration("5x", &d) == -EINVAL, "duration bad unit");
	tap_ok(infra_parse_duration("-1", &d) == -EINVAL, "duration negative");
	tap_ok(infra_parse_duration("", &d) == -EINVAL, "duration empty");
	tap_ok(infra_parse_duration("nan", &d) == -EINVAL, "duration nan");
	tap_ok(infra_parse_long("12", 1, 100, &l) == 0 && l == 12, "long in range");
	tap_ok(infra_parse_long("12a", 1, 100, &l) == -EINVAL, "long trailing garbage");
	tap_ok(infra_parse_long("101", 1, 100, &l) == -ERANGE, "long over max");
	tap_ok(infra_parse_long("99999999999999999999", 1, 100, &l) == -ERANGE, "long overflow");

	{
		char *argv[] = { "tool", "-f", "prom", "-o", "/tmp/x.prom", "-t", "2.5", "-j", "16", "-vv",
				 "--cacert", "/etc/ca.pem", "--insecure", "-x", "/d", NULL };
		rc = run(&argp, 0, argv, out, sizeof(out));
		tap_inteq(rc, 0, "common options parse");
		tap_streq(out, "format=2 output=/tmp/x.prom timeout=2.5 jobs=16 verbose=2 quiet=0 cacert=/etc/ca.pem insecure=1 extra=/d\n",
			  "common options land in struct infra_cli, tool options in the tool");
	}
	{
		char *argv[] = { "tool", NULL };
		rc = run(&argp, 0, argv, out, sizeof(out));
		tap_streq(out, "format=1 output=- timeout=30 jobs=8 verbose=0 quiet=0 cacert=- insecure=0 extra=-\n",
			  "defaults; json when stdout is not a terminal");
	}
	{
		char *argv[] = { "tool", "-f", "nagios", NULL };
		rc = run(&argp, 0, argv, out, sizeof(out));
		tap_inteq(rc, INFRA_EXIT_UNKNOWN, "nagios format refused for a non-check tool: exit 3");
		tap_ok(strstr(out, "tool: unknown format 'nagios' (json, prom, text)\n") != NULL, "one clear line naming the format");
		tap_ok(strstr(out, "Try `tool --help'") || strstr(out, "Try 'tool --help'"), "points at --help");
		rc = run(&check_argp, INFRA_CLI_NAGIOS, argv, out, sizeof(out));
		tap_inteq(rc, 0, "nagios format accepted for a check");
		tap_ok(strncmp(out, "format=4", 8) == 0, "nagios format set");
	}
	{
		char *argv[] = { "tool", "--no-such-option", NULL };
		rc = run(&argp, 0, argv, out, sizeof(out));
		tap_inteq(rc, INFRA_EXIT_UNKNOWN, "unknown option exits 3");
		tap_ok(strstr(out, "unrecognized option '--no-such-option'") != NULL, "says which option");
	}
	{
		char *argv[] = { "tool", "-j", "0", NULL };
		rc = run(&argp, 0, argv, out, sizeof(out));
		tap_inteq(rc, INFRA_EXIT_UNKNOWN, "--jobs 0 refused");
		char *argv2[] = { "tool", "-t", "soon", NULL };
		rc = run(&argp, 0, argv2, out, sizeof(out));
		tap_inteq(rc, INFRA_EXIT_UNKNOWN, "bad --timeout refused");
		tap_ok(strstr(out, "invalid timeout 'soon'") != NULL, "timeout error names the value");
	}
	{
		char *argv[] = { "tool", "--help", NULL };
		rc = run(&argp, 0, argv, out, sizeof(out));
		tap_inteq(rc, 0, "--help exits 0");
		tap_ok(strstr(out, "--format=FMT") && strstr(out, "--extra=DIR") && !strstr(out, "list-options"),
		       "--help lists tool and common options, not the hidden one");
		char *argv2[] = { "tool", "--version", NULL };
		rc = run(&argp, 0, argv2, out, sizeof(out));
		tap_ok(rc == 0 && strncmp(out, "tool (infrakit) ", 16) == 0, "--version: %s", out);
	}
	{
		char *argv[] = { "tool", "--list-options", NULL };
		rc = run(&argp, 0, argv, out, sizeof(out));
		tap_inteq(rc, 0, "--list-options exits 0");
		tap_ok(strstr(out, "--extra\t-x\tDIR\tDIR\tan option of the tool\n") != NULL, "tool option listed with arg kind");
		tap_ok(strstr(out, "--format\t-f\tFMT\tjson|prom|text\toutput format") != NULL, "format values listed");
		tap_ok(strstr(out, "--output\t-o\tFILE\tFILE\t") != NULL, "FILE argument");
		tap_ok(strstr(out, "--insecure\t-\t-\t-\t") != NULL, "flag without short option");
		tap_ok(!strstr(out, "list-options"), "hidden option not listed");
		tap_ok(strstr(out, "--version\t-V") != NULL, "argp's own options listed");
		rc = run(&check_argp, INFRA_CLI_NAGIOS, argv, out, sizeof(out));
		tap_ok(strstr(out, "json|prom|text|nagios") != NULL, "check tool lists nagios");
	}
	/* secrets on the command line: refused, never echoed */
	{
		static const char *const refused[][3] = {
			{ "--token", "S3cret-value", NULL },
			{ "--token=S3cret-value", NULL, NULL },
			{ "-v", "--token", "S3cret-value" },
			{ "--tok", "S3cret-value", NULL },          /* ambiguous: --token, --token-file */
			{ "--tok=S3cret-value", NULL, NULL },
			{ "--tokn=S3cret-value", NULL, NULL },      /* no such option */
			{ "--password=S3cret-value", NULL, NULL },
			{ "--extra=x", "--tokens=S3cret-value", NULL },
		};
		for (size_t k = 0; k < sizeof(refused) / sizeof(refused[0]); k++) {
			char *argv[5] = { "tool" };
			char shown[128] = "";
			for (int j = 0; j < 3 && refused[k][j]; j++) {
				argv[j + 1] = strdup(refused[k][j]);
				snprintf(shown + strlen(shown), sizeof(shown) - strlen(shown), " %s", refused[k][j]);
			}
			rc = run(&tool_with_secret, 0, argv, out, sizeof(out));
			tap_inteq(rc, INFRA_EXIT_UNKNOWN, "tool%s: exit 3", shown);
			tap_ok(!strstr(out, "S3cret"), "tool%s: the value is never shown", shown);
			if (!strncmp(refused[k][0], "--token", 7) || (refused[k][1] && !strcmp(refused[k][1], "--token")))
				tap_ok(strstr(out, "tool: --token is refused: secrets never come from the command line "
					       "(use TOKEN or --token-file)\n") != NULL, "... says it is refused and what to use");
			for (int j = 1; argv[j]; j++)
				free(argv[j]);
		}
	}
	{
		/* what getopt accepts keeps its value; only rejected "=value"s are cut */
		static const struct { const char *args[4]; const char *extra; } kept[] = {
			{ { "-x", "--weird=1", NULL }, "--weird=1" },
			{ { "--extra", "--weird=1", NULL }, "--weird=1" },
			{ { "--ext=--a=b", NULL }, "--a=b" },
			{ { "-vx--a=b", NULL }, "--a=b" },
			{ { "--token-file", "--tokn=x", NULL }, "--tokn=x" },
			{ { "--token-f=/run/tok", NULL }, "/run/tok" },
		};
		for (size_t k = 0; k < sizeof(kept) / sizeof(kept[0]); k++) {
			char *argv[6] = { "tool" };
			char want[128];
			for (int j = 0; kept[k].args[j]; j++)
				argv[j + 1] = strdup(kept[k].args[j]);
			rc = run(&tool_with_secret, 0, argv, out, sizeof(out));
			snprintf(want, sizeof(want), "extra=%s\n", kept[k].extra);
			if (!tap_ok(rc == 0 && strstr(out, want) != NULL, "%s %s: value kept", kept[k].args[0],
				    kept[k].args[1] ? kept[k].args[1] : ""))
				tap_diag("exit %d: %s", rc, out);
			for (int j = 1; argv[j]; j++)
				free(argv[j]);
		}
	}
	{
		char dir[] = "/tmp/test_cli.XXXXXX", path[256], *s = NULL;
		struct infra_err err = INFRA_ERR_INIT;
		FILE *f;

		if (!mkdtemp(dir)) {
			tap_ok(0, "mkdtemp");
			return tap_done();
		}
		snprintf(path, sizeof(path), "%s/S3cret-value", dir);
		rc = infra_cli_read_secret_file(path, "token-file", &s, &err);
		tap_inteq(rc, -ENOENT, "missing secret file: -ENOENT");
		tap_streq(err.msg, "cannot read the file given by --token-file: No such file or directory",
			  "... named by its flag, not its path");
		rc = infra_cli_read_secret_file(dir, "token-file", &s, &err);
		tap_inteq(rc, -EISDIR, "a directory: -EISDIR");
		tap_streq(err.msg, "the file given by --token-file is a directory", "... says so");
		f = fopen(path, "w");
		if (f)
			fclose(f);
		rc = infra_cli_read_secret_file(path, "token-file", &s, &err);
		tap_inteq(rc, -EINVAL, "an empty file: -EINVAL");
		tap_ok(!strstr(err.msg, "S3cret"), "... without the path: %s", err.msg);
		f = fopen(path, "w");
		if (f) {
			fputs("tok-1\r\nsecond\n", f);
			fclose(f);
		}
		rc = infra_cli_read_secret_file(path, "token-file", &s, &err);
		tap_ok(rc == 0 && s && !strcmp(s, "tok-1"), "the first line, without CR LF");
		f = fopen(path, "w");
		if (f) {
			for (int k = 0; k < 20000; k++)
				fputc('a', f);
			fclose(f);
		}
		rc = infra_cli_read_secret_file(path, "token-file", &s, &err);
		tap_inteq(rc, -E2BIG, "a first line over 16 KiB: -E2BIG");
		tap_ok(s && !strcmp(s, "tok-1"), "... and *out left as it was");
		free(s);
		snprintf(path, sizeof(path), "rm -rf '%s'", dir);
		if (system(path) != 0)
			tap_diag("could not remove %s", dir);
	}
	return tap_done();
}
