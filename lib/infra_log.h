/* infra_log.h - stderr logging for tools, with levels and secret masking.
 *
 * Only tools call these (the library itself never prints).  The log level and
 * the program name are the only global mutable state in libinfra.
 *
 * Masking: every message goes through infra_mask_secrets() before it is written:
 * values of X-Auth-Token / X-Subject-Token / Authorization / Cookie headers,
 * JSON members named password, secret, token, key, application_credential_secret,
 * api_key, and query/form parameters with those names are replaced by "***".
 */
#ifndef INFRA_LOG_H
#define INFRA_LOG_H

#include <stddef.h>

enum infra_log_level {
	INFRA_LOG_QUIET = -1, /* -q: errors only */
	INFRA_LOG_ERROR = 0,  /* "tool: what went wrong (context)" - always shown */
	INFRA_LOG_WARN = 0,   /* warnings are shown at the default level too */
	INFRA_LOG_INFO = 1,   /* -v */
	INFRA_LOG_DEBUG = 2,  /* -vv */
	INFRA_LOG_TRACE = 3,  /* -vvv */
};

void infra_log_init(const char *progname, int level);
int infra_log_level(void);
const char *infra_log_progname(void);

/* "prog: message" on stderr (one line, masked).  Errors are printed even with -q. */
void infra_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "prog: warning: message"; suppressed by -q. */
void infra_log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "prog: message" if the level is at least `level`. */
void infra_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Mask secrets in place (the result is never longer than the input). */
void infra_mask_secrets(char *s);

/* A progress line on stderr, only on a terminal, never with -q or -vvv; rewritten
 * in place at most ten times a second (force: now); any other message and
 * infra_log_progress_end() clear it. */
void infra_log_progress(int force, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void infra_log_progress_end(void);

/* 1 if stderr is a terminal and NO_COLOR is unset. */
int infra_log_color(void);

#endif
