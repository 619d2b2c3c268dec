#include "infra_buf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void infra_buf_init(struct infra_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
	b->max = max;
}

static size_t cap_of(const struct infra_buf *b)
{
	return b->max ? b->max : INFRA_BUF_DEFAULT_MAX;
}

int infra_buf_reserve(struct infra_buf *b, size_t extra)
{
	size_t need, n;
	char *p;

	if (extra > cap_of(b) || b->len > cap_of(b) - extra)
		return -E2BIG;
	need = b->len + extra + 1;
	if (need <= b->alloc)
		return 0;
	n = b->alloc ? b->alloc : 256;
	while (n < need)
		n = n > ((size_t)-1) / 2 ? need : n * 2;
	p = realloc(b->data, n);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->alloc = n;
	return 0;
}

int infra_buf_append(struct infra_buf *b, const void *data, size_t len)
{
	int rc = infra_buf_reserve(b, len);

	if (rc)
		return rc;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int infra_buf_puts(struct infra_buf *b, const char *s)
{
	return infra_buf_append(b, s, strlen(s));
}

int infra_buf_putc(struct infra_buf *b, char c)
{
	return infra_buf_append(b, &c, 1);
}

int infra_buf_vprintf(struct infra_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n, rc;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return -EINVAL;
	rc = infra_buf_reserve(b, (size_t)n);
	if (rc)
		return rc;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int infra_buf_printf(struct infra_buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = infra_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

void infra_buf_reset(struct infra_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void infra_buf_release(struct infra_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->alloc = 0;
}

char *infra_buf_steal(struct infra_buf *b, size_t *len)
{
	char *p = b->data;

	if (!p) {
		p = calloc(1, 1);
		if (!p)
			return NULL;
	}
	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = b->alloc = 0;
	return p;
}
