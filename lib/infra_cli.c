#include "infra_cli.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "infra_exit.h"
#include "infra_log.h"

enum {
	OPT_CACERT = 0x1000,
	OPT_CERT,
	OPT_KEY,
	OPT_INSECURE,
	OPT_LIST_OPTIONS,
};

/* One table, two spellings of --format: the check tools also offer nagios. */
#define FORMAT_DOC(values) \
	"{" values "} output format (default: text on a terminal, json otherwise)"
#define COMMON_OPTIONS(format_doc) \
	{ NULL, 0, NULL, 0, "Output:", -1 }, \
	{ "format", 'f', "FMT", 0, format_doc, -1 }, \
	{ "output", 'o', "FILE", 0, "write the output to FILE atomically instead of stdout", -1 }, \
	{ "verbose", 'v', NULL, 0, "more detail on stderr (repeat for more)", -1 }, \
	{ "quiet", 'q', NULL, 0, "only errors on stderr", -1 }, \
	{ NULL, 0, NULL, 0, "Requests:", -1 }, \
	{ "timeout", 't', "SECONDS", 0, "timeout per request (default 30)", -1 }, \
	{ "jobs", 'j', "N", 0, "parallel requests (default 8)", -1 }, \
	{ "cacert", OPT_CACERT, "FILE", 0, "CA bundle to verify TLS servers", -1 }, \
	{ "cert", OPT_CERT, "FILE", 0, "TLS client certificate (PEM)", -1 }, \
	{ "key", OPT_KEY, "FILE", 0, "TLS client key (PEM)", -1 }, \
	{ "insecure", OPT_INSECURE, NULL, 0, "do not verify TLS certificates", -1 }, \
	{ "list-options", OPT_LIST_OPTIONS, NULL, OPTION_HIDDEN, "list every option (for completions)", -1 }, \
	{ 0 }

static const struct argp_option common_options[] = { COMMON_OPTIONS(FORMAT_DOC("json|prom|text")) };
static const struct argp_option check_options[] = { COMMON_OPTIONS(FORMAT_DOC("json|prom|text|nagios")) };

int infra_parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (*end || end == s)
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int infra_parse_duration(const char *s, double *seconds)
{
	char *end;
	double v, mul = 1;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno == ERANGE || !isfinite(v) || v < 0)
		return -EINVAL;
	if (*end) {
		if (!strcmp(end, "s"))
			mul = 1;
		else if (!strcmp(end, "ms"))
			mul = 0.001;
		else if (!strcmp(end, "m"))
			mul = 60;
		else if (!strcmp(end, "h"))
			mul = 3600;
		else if (!strcmp(end, "d"))
			mul = 86400;
		else if (!strcmp(end, "w"))
			mul = 7 * 86400;
		else
			return -EINVAL;
	}
	*seconds = v * mul;
	return 0;
}

static error_t common_parse(int key, char *arg, struct argp_state *state)
{
	struct infra_cli *cli = state->input;
	long n;
	double d;

	switch (key) {
	case ARGP_KEY_INIT:
		/* getopt names the program by argv[0] in "unrecognized option": make every
		 * message start with the tool's name, not the path it was started by */
		if (cli && cli->tool && state->argc > 0) {
			state->argv[0] = (char *)cli->tool;
			state->name = (char *)cli->tool;
		}
		return ARGP_ERR_UNKNOWN;
	case 'f':
		if (!strcmp(arg, "json"))
			cli->format = INFRA_FORMAT_JSON;
		else if (!strcmp(arg, "prom"))
			cli->format = INFRA_FORMAT_PROM;
		else if (!strcmp(arg, "text"))
			cli->format = INFRA_FORMAT_TEXT;
		else if (!strcmp(arg, "nagios") && (cli->flags & INFRA_CLI_NAGIOS))
			cli->format = INFRA_FORMAT_NAGIOS;
		else
			argp_error(state, "unknown format '%s' (json, prom, text%s)", arg,
				   (cli->flags & INFRA_CLI_NAGIOS) ? ", nagios" : "");
		break;
	case 'o':
		if (!*arg)
			argp_error(state, "--output needs a file name");
		cli->output = arg;
		break;
	case 'v':
		cli->verbose++;
		break;
	case 'q':
		cli->quiet = 1;
		break;
	case 't':
		if (infra_parse_duration(arg, &d) || d <= 0 || d > 86400)
			argp_error(state, "invalid timeout '%s' (seconds, > 0)", arg);
		cli->timeout = d;
		break;
	case 'j':
		if (infra_parse_long(arg, 1, 1024, &n))
			argp_error(state, "invalid --jobs '%s' (1 to 1024)", arg);
		cli->jobs = (int)n;
		break;
	case OPT_CACERT:
		cli->cacert = arg;
		break;
	case OPT_CERT:
		cli->cert = arg;
		break;
	case OPT_KEY:
		cli->key = arg;
		break;
	case OPT_INSECURE:
		cli->insecure = 1;
		break;
	case OPT_LIST_OPTIONS:
		infra_cli_list_options(state->root_argp, cli->flags, stdout);
		/* Like argp's own --help: the listing is the whole job of this call. */
		exit(infra_close_stdout() ? INFRA_EXIT_UNKNOWN : INFRA_EXIT_OK);
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

const struct argp infra_cli_argp = { common_options, common_parse, NULL, NULL, NULL, NULL, NULL };
const struct argp infra_cli_check_argp = { check_options, common_parse, NULL, NULL, NULL, NULL, NULL };

static char version_buf[128];

void infra_cli_init(struct infra_cli *cli, const char *tool, unsigned flags)
{
	memset(cli, 0, sizeof(*cli));
	cli->tool = tool;
	cli->flags = flags;
	cli->timeout = 30;
	cli->jobs = 8;
	snprintf(version_buf, sizeof(version_buf), "%s (infrakit) %s", tool, INFRA_VERSION);
	argp_program_version = version_buf;
	argp_program_bug_address = NULL;
	argp_err_exit_status = INFRA_EXIT_UNKNOWN;
	/* argp names the program in its messages by program_invocation_name: use the
	 * tool's name, not the path it was started by ("tool: ...", not "build/bin/tool: ..."). */
	program_invocation_name = (char *)tool;
	infra_log_init(tool, INFRA_LOG_ERROR);
}

void infra_cli_finish(struct infra_cli *cli)
{
	size_t olen = cli->output ? strlen(cli->output) : 0;

	/* one rule for every tool: -o FILE.prom means Prometheus unless -f says otherwise
	 * (node_exporter's textfile collector reads *.prom and drops a file it cannot parse) */
	if (cli->format == INFRA_FORMAT_AUTO && olen > 5 && !strcmp(cli->output + olen - 5, ".prom"))
		cli->format = INFRA_FORMAT_PROM;
	if (cli->format == INFRA_FORMAT_AUTO)
		cli->format = (!cli->output && isatty(STDOUT_FILENO)) ? INFRA_FORMAT_TEXT : INFRA_FORMAT_JSON;
	infra_log_init(cli->tool, cli->quiet ? INFRA_LOG_QUIET : cli->verbose);
}

void infra_cli_http_opts(const struct infra_cli *cli, struct infra_http_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->timeout_ms = (long)(cli->timeout * 1000);
	opts->cacert = cli->cacert;
	opts->cert = cli->cert;
	opts->key = cli->key;
	opts->insecure = cli->insecure;
}

static void list_one(const struct argp_option *o, unsigned flags, FILE *out)
{
	char values[256] = "-";
	const char *doc = o->doc ? o->doc : "";

	if (doc[0] == '{') {
		const char *end = strchr(doc, '}');
		if (end && (size_t)(end - doc) < sizeof(values)) {
			memcpy(values, doc + 1, (size_t)(end - doc - 1));
			values[end - doc - 1] = '\0';
			doc = end + 1;
			while (*doc == ' ')
				doc++;
			if (!(flags & INFRA_CLI_NAGIOS)) {
				char *n = strstr(values, "|nagios");
				if (n)
					memmove(n, n + 7, strlen(n + 7) + 1);
			}
		}
	} else if (o->arg && (strstr(o->arg, "FILE") || strstr(o->arg, "PATH"))) {
		snprintf(values, sizeof(values), "FILE");
	} else if (o->arg && strstr(o->arg, "DIR")) {
		snprintf(values, sizeof(values), "DIR");
	}
	fprintf(out, "--%s\t", o->name);
	if (o->key > 0 && o->key < 128 && isprint(o->key))
		fprintf(out, "-%c\t", o->key);
	else
		fputs("-\t", out);
	fprintf(out, "%s\t%s\t", o->arg ? o->arg : "-", values);
	for (; *doc; doc++)
		fputc(*doc == '\t' || *doc == '\n' ? ' ' : *doc, out);
	fputc('\n', out);
}

static void list_tree(const struct argp *a, unsigned flags, FILE *out)
{
	if (!a)
		return;
	for (const struct argp_option *o = a->options; o && (o->name || o->key || o->doc); o++) {
		if (!o->name || (o->flags & (OPTION_HIDDEN | OPTION_DOC)))
			continue;
		list_one(o, flags, out);
	}
	for (const struct argp_child *c = a->children; c && c->argp; c++)
		list_tree(c->argp, flags, out);
}

void infra_cli_list_options(const struct argp *root, unsigned flags, FILE *out)
{
	/* the tree argp hands the parser (state->root_argp) already holds argp's own
	 * --help, --usage and --version: list them once */
	list_tree(root, flags, out);
}

int infra_close_stdout(void)
{
	int rc = 0;

	if (fflush(stdout) != 0)
		rc = -errno;
	if (ferror(stdout) && !rc)
		rc = -EIO;
	if (fclose(stdout) != 0 && !rc)
		rc = -errno;
	return rc;
}
