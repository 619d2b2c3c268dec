/* infra_err.h - error reporting for libinfra.
 *
 * Every fallible libinfra function returns 0 on success or a negative errno-style
 * code and, when given a non-NULL struct infra_err, fills it with one human line
 * (no newline, no trailing period, never a secret).  The library never prints.
 * Ownership: the struct is the caller's; it holds no pointers.
 */
#ifndef INFRA_ERR_H
#define INFRA_ERR_H

#include <stddef.h>

#define INFRA_ERR_MSG_MAX 512

struct infra_err {
	int code;                    /* negative errno-style code, 0 = no error */
	char msg[INFRA_ERR_MSG_MAX]; /* "what went wrong (context)" */
};

#define INFRA_ERR_INIT { 0, { 0 } }

/* Set code and message; returns code so callers can `return infra_err_set(...)`.
 * err may be NULL.  Newlines in the formatted text are replaced by spaces. */
int infra_err_set(struct infra_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Prefix an existing message: "prefix: old message". */
int infra_err_prefix(struct infra_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void infra_err_clear(struct infra_err *err);

#endif
