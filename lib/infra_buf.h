/* infra_buf.h - bounded growable byte buffer (curl's dynbuf idea).
 *
 * Every buffer has a hard cap (`max`); an append that would pass it fails with
 * -E2BIG and leaves the buffer as it was.  data is always NUL-terminated (the NUL
 * is not counted in len).  Ownership: the buffer owns data; infra_buf_release()
 * frees it; infra_buf_steal() hands it to the caller (who frees it).
 */
#ifndef INFRA_BUF_H
#define INFRA_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct infra_buf {
	char *data;
	size_t len;
	size_t alloc;
	size_t max; /* 0 = INFRA_BUF_DEFAULT_MAX */
};

#define INFRA_BUF_DEFAULT_MAX ((size_t)1 << 30) /* 1 GiB */
#define INFRA_BUF_INIT { NULL, 0, 0, 0 }

void infra_buf_init(struct infra_buf *b, size_t max);
int infra_buf_append(struct infra_buf *b, const void *data, size_t len);
int infra_buf_puts(struct infra_buf *b, const char *s);
int infra_buf_putc(struct infra_buf *b, char c);
int infra_buf_printf(struct infra_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int infra_buf_vprintf(struct infra_buf *b, const char *fmt, va_list ap);
/* Make room for at least `extra` more bytes (plus the NUL). */
int infra_buf_reserve(struct infra_buf *b, size_t extra);
void infra_buf_reset(struct infra_buf *b); /* len = 0, keeps memory */
void infra_buf_release(struct infra_buf *b);
char *infra_buf_steal(struct infra_buf *b, size_t *len);

#endif
