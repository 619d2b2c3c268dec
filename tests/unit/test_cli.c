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
	return tap_done();
}
