#include "infra_err.h"
#include "infra_buf.h"
#include "infra_exit.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void flatten(char *s)
{
	for (; *s; s++)
		if (*s == '\n' || *s == '\r')
			*s = ' ';
}

int infra_err_set(struct infra_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return code;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	flatten(err->msg);
	return code;
}

int infra_err_prefix(struct infra_err *err, const char *fmt, ...)
{
	char prefix[INFRA_ERR_MSG_MAX], old[INFRA_ERR_MSG_MAX];
	va_list ap;

	if (!err)
		return -1;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	{
		struct infra_buf b = INFRA_BUF_INIT;
		infra_buf_init(&b, sizeof(err->msg) * 3);
		if (!infra_buf_printf(&b, "%s: %s", prefix, old)) {
			size_t n = b.len < sizeof(err->msg) - 1 ? b.len : sizeof(err->msg) - 1;
			memcpy(err->msg, b.data, n);
			err->msg[n] = '\0';
		}
		infra_buf_release(&b);
	}
	flatten(err->msg);
	return err->code;
}

void infra_err_clear(struct infra_err *err)
{
	if (err) {
		err->code = 0;
		err->msg[0] = '\0';
	}
}

const char *infra_status_name(int status)
{
	switch (status) {
	case INFRA_EXIT_OK: return "ok";
	case INFRA_EXIT_WARNING: return "warning";
	case INFRA_EXIT_CRITICAL: return "critical";
	default: return "unknown";
	}
}

static int rank(int s)
{
	switch (s) {
	case INFRA_EXIT_OK: return 0;
	case INFRA_EXIT_WARNING: return 1;
	case INFRA_EXIT_CRITICAL: return 3;
	default: return 2; /* unknown between warning and critical, as Nagios orders them */
	}
}

int infra_status_worst(int a, int b)
{
	return rank(a) >= rank(b) ? a : b;
}
