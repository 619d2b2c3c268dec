#include "infra_cli.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
	{ NULL, 0, NULL, 0, "Output:", INFRA_HELP_OUTPUT }, \
	{ "format", 'f', "FMT", 0, format_doc, INFRA_HELP_OUTPUT }, \
	{ "output", 'o', "FILE", 0, "write the output to FILE atomically instead of stdout", INFRA_HELP_OUTPUT }, \
	{ "verbose", 'v', NULL, 0, "more detail on stderr (repeat for more)", INFRA_HELP_OUTPUT }, \
	{ "quiet", 'q', NULL, 0, "only errors on stderr", INFRA_HELP_OUTPUT }, \
	{ NULL, 0, NULL, 0, "Requests:", INFRA_HELP_REQUESTS }, \
	{ "timeout", 't', "SECONDS", 0, "timeout per request (default %g)", INFRA_HELP_REQUESTS }, \
	{ "jobs", 'j', "N", 0, "parallel requests (default %d)", INFRA_HELP_REQUESTS }, \
	{ "cacert", OPT_CACERT, "FILE", 0, "CA bundle to verify TLS servers", INFRA_HELP_REQUESTS }, \
	{ "cert", OPT_CERT, "FILE", 0, "TLS client certificate (PEM)", INFRA_HELP_REQUESTS }, \
	{ "key", OPT_KEY, "FILE", 0, "TLS client key (PEM)", INFRA_HELP_REQUESTS }, \
	{ "insecure", OPT_INSECURE, NULL, 0, "do not verify TLS certificates", INFRA_HELP_REQUESTS }, \
	{ "list-options", OPT_LIST_OPTIONS, NULL, OPTION_HIDDEN, "list every option (for completions)", INFRA_HELP_REQUESTS }, \
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

/* ------------------------------------------------------------------ secrets */

/* The option an entry stands for: an OPTION_ALIAS entry means the one before it. */
static const struct argp_option *real_option(const struct argp_option *table, const struct argp_option *o)
{
	while (o > table && (o->flags & OPTION_ALIAS))
		o--;
	return o;
}

struct lookup {
	const char *name; /* long name (len chars), or NULL for a short option */
	size_t len;
	int key;          /* short option */
	const struct argp_option *exact, *prefix;
	int ambiguous;
};

/* Walk the whole argp tree (the tool's table, the children, argp's --help and
 * --version) the way getopt_long matches: an exact name wins; otherwise a prefix
 * of exactly one option (its aliases counted once). */
static void lookup_tree(const struct argp *a, struct lookup *l)
{
	if (!a)
		return;
	for (const struct argp_option *o = a->options; o && (o->name || o->key || o->doc || o->group); o++) {
		const struct argp_option *r = real_option(a->options, o);

		if (o->flags & OPTION_DOC)
			continue;
		if (!l->name) {
			if (o->key == l->key && !l->exact)
				l->exact = r;
			continue;
		}
		if (!o->name || strncmp(o->name, l->name, l->len))
			continue;
		if (o->name[l->len] == '\0') {
			if (!l->exact)
				l->exact = r;
		} else if (!l->prefix) {
			l->prefix = r;
		} else if (l->prefix != r) {
			l->ambiguous = 1;
		}
	}
	for (const struct argp_child *c = a->children; c && c->argp; c++)
		lookup_tree(c->argp, l);
}

static const struct argp_option *find_option(const struct argp *root, const char *name, size_t len, int key)
{
	struct lookup l = { name, len, key, NULL, NULL, 0 };

	lookup_tree(root, &l);
	if (l.exact)
		return l.exact;
	return l.ambiguous ? NULL : l.prefix;
}

static int needs_arg(const struct argp_option *o)
{
	return o->arg && !(o->flags & OPTION_ARG_OPTIONAL);
}

/* Before getopt sees argv: an "--name=value" that getopt will reject (no such
 * option, or an ambiguous abbreviation) loses its "=value", so the message getopt
 * prints ("unrecognized option '--os-passwd=SECRET'") cannot carry a secret.
 * Arguments of options are skipped as getopt would take them. */
static void strip_rejected_values(struct argp_state *state)
{
	for (int i = 1; i < state->argc; i++) {
		char *a = state->argv[i];
		const struct argp_option *o;

		if (!strcmp(a, "--"))
			break;
		if (a[0] != '-' || !a[1])
			continue;
		if (a[1] == '-') {
			char *eq = strchr(a + 2, '=');
			size_t len = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);

			o = find_option(state->root_argp, a + 2, len, 0);
			if (!o) {
				if (eq)
					*eq = '\0';
			} else if (!eq && needs_arg(o)) {
				i++;
			}
			continue;
		}
		for (const char *p = a + 1; *p; p++) {
			o = find_option(state->root_argp, NULL, 0, (unsigned char)*p);
			if (!o || !o->arg)
				continue;
			if (!p[1] && needs_arg(o))
				i++;
			break;
		}
	}
}

void infra_cli_refuse_secret(struct argp_state *state, const struct infra_cli_secret *table, int key, char *arg)
{
	for (; table && table->key; table++) {
		if (table->key != key)
			continue;
		if (arg) /* out of /proc/PID/cmdline too, for the moment left */
			explicit_bzero(arg, strlen(arg));
		argp_error(state, "--%s is refused: secrets never come from the command line (use %s)",
			   table->flag, table->instead);
		return;
	}
}

int infra_cli_read_secret_file(const char *path, const char *flag, char **out, struct infra_err *err)
{
	char buf[16384];
	size_t n = 0;
	struct stat st;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		rc = -errno;
		return infra_err_set(err, rc, "cannot read the file given by --%s: %s", flag, strerror(-rc));
	}
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		return infra_err_set(err, -EISDIR, "the file given by --%s is a directory", flag);
	}
	/* up to the first newline (a pipe need not be closed after it) or the end */
	while (n < sizeof(buf) - 1 && !memchr(buf, '\n', n)) {
		ssize_t r = read(fd, buf + n, sizeof(buf) - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			break;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	if (rc) {
		explicit_bzero(buf, sizeof(buf));
		return infra_err_set(err, rc, "cannot read the file given by --%s: %s", flag, strerror(-rc));
	}
	if (n == sizeof(buf) - 1 && !memchr(buf, '\n', n)) {
		explicit_bzero(buf, sizeof(buf));
		return infra_err_set(err, -E2BIG, "the first line of the file given by --%s is longer than %zu bytes",
				     flag, sizeof(buf) - 2);
	}
	buf[strcspn(buf, "\r\n")] = '\0';
	if (!buf[0]) {
		explicit_bzero(buf, sizeof(buf));
		return infra_err_set(err, -EINVAL, "the file given by --%s is empty (the secret is its first line)", flag);
	}
	free(*out);
	*out = strdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return *out ? 0 : infra_err_set(err, -ENOMEM, "out of memory");
}

/* ------------------------------------------------------------------ parser */

/* argp's help formatter leaves a line of blanks where a doc string ends exactly
 * at the right margin: --help goes through this stream, which drops lines made
 * only of blanks and writes the rest to stdout (fd 1; nothing else is on stdout
 * before --help or --version). */
struct help_cookie {
	char line[4096];
	size_t len;
};

static void help_flush_line(struct help_cookie *c)
{
	size_t i = 0, off = 0;

	while (i < c->len && c->line[i] == ' ')
		i++;
	if (c->len && (i < c->len && c->line[i] != '\n' ? 0 : i > 0))
		c->len = 0; /* only blanks (and the newline): drop it */
	while (off < c->len) {
		ssize_t n = write(STDOUT_FILENO, c->line + off, c->len - off);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	c->len = 0;
}

static ssize_t help_write(void *cookie, const char *buf, size_t size)
{
	struct help_cookie *c = cookie;

	for (size_t i = 0; i < size; i++) {
		c->line[c->len++] = buf[i];
		if (buf[i] == '\n' || c->len == sizeof(c->line))
			help_flush_line(c);
	}
	return (ssize_t)size;
}

static int help_close(void *cookie)
{
	help_flush_line(cookie);
	return 0;
}

/* static: one per process, nothing to free (argp may exit inside the parse) */
static struct help_cookie help_cookie;
static FILE *help_file;

static FILE *help_stream(void)
{
	cookie_io_functions_t io = { NULL, help_write, NULL, help_close };

	if (!help_file)
		help_file = fopencookie(&help_cookie, "w", io);
	return help_file;
}

static error_t common_parse(int key, char *arg, struct argp_state *state)
{
	struct infra_cli *cli = state->input;
	long n;
	double d;

	switch (key) {
	case ARGP_KEY_FINI:
		/* parsing is over without --help/--version: hand stdout back, free the stream */
		if (help_file && state->out_stream == help_file) {
			fclose(help_file);
			help_file = NULL;
			state->out_stream = stdout;
		}
		return ARGP_ERR_UNKNOWN;
	case ARGP_KEY_INIT:
		/* getopt names the program by argv[0] in "unrecognized option": make every
		 * message start with the tool's name, not the path it was started by */
		if (cli && cli->tool && state->argc > 0) {
			state->argv[0] = (char *)cli->tool;
			state->name = (char *)cli->tool;
		}
		strip_rejected_values(state);
		if (state->out_stream == stdout) {
			FILE *f = help_stream();
			if (f)
				state->out_stream = f;
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

/* --help shows the defaults this tool really has (katapulse-scrape: -t 3), from
 * the struct infra_cli the tool set up before argp_parse. */
static char *common_help_filter(int key, const char *text, void *input)
{
	const struct infra_cli *cli = input;
	char *s = NULL;

	if (!text || !cli || (key != 't' && key != 'j'))
		return (char *)text;
	if (key == 't' && asprintf(&s, text, cli->timeout) < 0)
		return (char *)text;
	if (key == 'j' && asprintf(&s, text, cli->jobs) < 0)
		return (char *)text;
	return s;
}

const struct argp infra_cli_argp = { common_options, common_parse, NULL, NULL, NULL, common_help_filter, NULL };
const struct argp infra_cli_check_argp = { check_options, common_parse, NULL, NULL, NULL, common_help_filter, NULL };

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

/* The kit's HTTP observer: -vvv logs every attempt (method, URL without secrets,
 * status, time), like `openstack --debug`; on a terminal a progress line counts
 * the requests. */
static void cli_observer(void *ud, const struct infra_http_event *ev)
{
	const char *what = ud;

	if (infra_log_level() >= INFRA_LOG_TRACE) {
		char url[1024];
		snprintf(url, sizeof(url), "%s", ev->url);
		infra_mask_secrets(url);
		if (ev->error)
			infra_log(INFRA_LOG_TRACE, "%s %s -> %s (%.3f s, attempt %d)", ev->method, url, ev->error,
				  ev->seconds, ev->attempt);
		else
			infra_log(INFRA_LOG_TRACE, "%s %s -> %ld (%.3f s, attempt %d)", ev->method, url, ev->status,
				  ev->seconds, ev->attempt);
	}
	if (what)
		infra_log_progress(0, "%s: %zu of %zu requests done", what, ev->finished, ev->started);
}

void infra_cli_observe(struct infra_http *h, const char *what)
{
	infra_http_set_observer(h, cli_observer, (void *)what);
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
