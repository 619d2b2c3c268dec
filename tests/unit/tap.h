/* tap.h - minimal TAP producer for libinfra unit tests (header-only).
 * Each check prints "ok N - name" or "not ok N - name"; tests/run-all.sh counts
 * them.  tap_done() returns the process exit status (0 only if all passed and at
 * least one check ran). */
#ifndef INFRA_TAP_H
#define INFRA_TAP_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

static inline int tap_ok(int cond, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static inline int tap_ok(int cond, const char *fmt, ...)
{
	va_list ap;

	tap_n++;
	printf("%sok %d - ", cond ? "" : "not ", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!cond)
		tap_failed++;
	return cond;
}

static inline void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void tap_diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* String equality with a diagnostic showing both sides. */
#define tap_streq(got, want, ...) do { \
	const char *g_ = (got), *w_ = (want); \
	if (!tap_ok(g_ && w_ && strcmp(g_, w_) == 0, __VA_ARGS__)) \
		tap_diag("got:  [%s]\n# want: [%s]", g_ ? g_ : "(null)", w_ ? w_ : "(null)"); \
} while (0)

#define tap_inteq(got, want, ...) do { \
	long long g_ = (long long)(got), w_ = (long long)(want); \
	if (!tap_ok(g_ == w_, __VA_ARGS__)) \
		tap_diag("got %lld, want %lld", g_, w_); \
} while (0)

static inline int tap_done(void)
{
	printf("1..%d\n", tap_n);
	return (tap_failed || tap_n == 0) ? 1 : 0;
}

#endif
