/* infra_cli.h - the common command line of every infrakit tool (DESIGN.md section 2).
 *
 * Each tool has one argp option table; it includes infra_cli_argp as a child:
 *
 *     static struct infra_cli cli;
 *     static const struct argp_child children[] = { { &infra_cli_argp, 0, NULL, 0 }, { 0 } };
 *     ...in the tool's parser:  case ARGP_KEY_INIT: state->child_inputs[0] = &cli; break;
 *     infra_cli_init(&cli, "tool", INFRA_CLI_NAGIOS?);  argp_parse(...);  infra_cli_finish(&cli);
 *
 * The option table is the single source of truth: the hidden --list-options
 * prints every option of the whole argp tree (tool + common) one per line as
 *     --long<TAB>-s<TAB>ARG<TAB>values<TAB>doc
 * (empty fields as "-"; values are `a|b|c` taken from a "{a|b|c}" prefix of the
 * doc string, or "FILE"/"DIR" when the argument name says so) and exits 0.
 * scripts/gen-completions turns that into bash and zsh completions, and
 * tests/real/... checks that man/<tool>.1 documents exactly those options.
 *
 * Usage errors exit INFRA_EXIT_UNKNOWN (3) with "tool: message" and
 * "Try 'tool --help' ..." (argp_err_exit_status).  --help and --version exit 0.
 * Ownership: strings in struct infra_cli point into argv (borrowed).
 */
#ifndef INFRA_CLI_H
#define INFRA_CLI_H

#include <argp.h>
#include <stdio.h>

#include "infra_err.h"
#include "infra_http.h"

enum infra_format {
	INFRA_FORMAT_AUTO = 0, /* text on a terminal, json otherwise */
	INFRA_FORMAT_JSON,
	INFRA_FORMAT_PROM,
	INFRA_FORMAT_TEXT,
	INFRA_FORMAT_NAGIOS,
};

/* Help groups, in the order --help shows them: the tool's own options (0, and
 * 1-9 for its own headed groups), then the shared children, then argp's
 * --help/--usage/--version (-1).  Every option names its group explicitly. */
enum infra_help_group {
	INFRA_HELP_DISCOVERY = 20,  /* osmon: what is an orphan */
	INFRA_HELP_THRESHOLDS = 30, /* checks: -w/-c */
	INFRA_HELP_SOURCE = 40,     /* OpenStack, Kubernetes, TrueNAS... connection options */
	INFRA_HELP_OUTPUT = 50,
	INFRA_HELP_REQUESTS = 60,
};

enum infra_cli_flags {
	INFRA_CLI_NAGIOS = 1 << 0, /* the tool is a check: --format accepts nagios */
};

struct infra_cli {
	const char *tool;
	unsigned flags;
	enum infra_format format;
	const char *output;  /* -o FILE, or NULL for stdout */
	double timeout;      /* seconds per request */
	int jobs;            /* parallel requests */
	int verbose;         /* -v count */
	int quiet;
	const char *cacert, *cert, *key;
	int insecure;
};

extern const struct argp infra_cli_argp;       /* --format json|prom|text */
extern const struct argp infra_cli_check_argp; /* the same plus --format nagios (checks) */

/* argp_program_version / bug address / err exit status for the tool. */
void infra_cli_init(struct infra_cli *cli, const char *tool, unsigned flags);
/* After argp_parse: resolve FORMAT_AUTO (-o *.prom: prom; a terminal: text; else json), set up logging, register the stdout check. */
void infra_cli_finish(struct infra_cli *cli);
/* HTTP options from the common flags (timeout, TLS). */
void infra_cli_http_opts(const struct infra_cli *cli, struct infra_http_opts *opts);
/* Observe every request of h: -vvv traces each attempt (method, URL masked,
 * status, time); on a terminal a progress line "WHAT: N of M requests done"
 * (not with -q; cleared by any message and at the end of infra_report_done).
 * what NULL: the trace only (the caller shows its own progress). */
void infra_cli_observe(struct infra_http *h, const char *what);
/* Parse "30", "1.5", "90s", "15m", "2h", "7d" into seconds; -EINVAL if bad. */
int infra_parse_duration(const char *s, double *seconds);
/* Strict integer parse with bounds; -EINVAL/-ERANGE. */
int infra_parse_long(const char *s, long min, long max, long *out);
/* Print the option list of an argp tree (used by --list-options). */
void infra_cli_list_options(const struct argp *root, unsigned flags, FILE *out);
/* Flush and close stdout; returns 0 or -errno (ENOSPC, EPIPE, EIO...).  Tools call
 * it last and turn a failure into INFRA_EXIT_UNKNOWN. */
int infra_close_stdout(void);

/* SECRETS ON THE COMMAND LINE.  Secrets never come from argv (DESIGN.md section 2):
 * a module that reads a secret takes it from the environment, its config file or a
 * file named by a `--...-file` flag, and declares the flags other clients take the
 * secret itself by (openstackclient's --os-password, ...) only to refuse them, from
 * one table:
 *
 *     static const struct infra_cli_secret secrets[] = {
 *         { OPT_OS_PASSWORD, "os-password", "OS_PASSWORD, clouds.yaml or --os-password-file" },
 *         { 0, NULL, NULL } };
 *     options: INFRA_CLI_SECRET_OPTION("os-password", OPT_OS_PASSWORD), ...
 *     parser:  case OPT_OS_PASSWORD: infra_cli_refuse_secret(state, secrets, key, arg); break;
 *
 * The refusal says "--os-password is refused: secrets never come from the command
 * line (use ...)", exit 3, and wipes the value from argv; the value is never printed.
 * Declaring the exact flag also keeps argp's prefix matching from taking
 * `--os-password SECRET` for `--os-password-file SECRET`.
 *
 * The common child (infra_cli_argp) also makes sure getopt's own messages never
 * carry a value: an `--name=value` that is not an option of the tool, or is an
 * ambiguous abbreviation, loses its `=value` before getopt reports it
 * ("unrecognized option '--os-passwd'"). */
struct infra_cli_secret {
	int key;             /* the refusing option's key in the module's table */
	const char *flag;    /* its long name, without "--" */
	const char *instead; /* where the secret comes from instead */
};
#define INFRA_CLI_SECRET_OPTION(name, key) \
	{ name, key, "SECRET", OPTION_HIDDEN, "refused: secrets never come from the command line", 0 }
/* Refuse key if it is in table (ends with a 0 key): argp_error, which exits 3.
 * Returns (doing nothing) for any other key. */
void infra_cli_refuse_secret(struct argp_state *state, const struct infra_cli_secret *table, int key, char *arg);

/* Read a secret from the first line of the file given by --FLAG (flag without "--"),
 * at most 16 KiB: a regular file or a pipe (`--os-password-file <(pass show x)`).
 * Messages name the flag, never the path (it may be a mistyped secret):
 * "cannot read the file given by --os-password-file: Permission denied",
 * "the file given by --os-password-file is a directory", "... is empty".
 * *out (freed first if set) gets a malloc'd copy; the buffer is wiped. */
int infra_cli_read_secret_file(const char *path, const char *flag, char **out, struct infra_err *err);

#endif
