#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "infra_buf.h"
#include "infra_err.h"
#include "tap.h"

int main(void)
{
	struct infra_buf b;
	struct infra_err err = INFRA_ERR_INIT;
	char *s;
	size_t n;

	infra_buf_init(&b, 10);
	tap_inteq(infra_buf_puts(&b, "hello"), 0, "append under cap");
	tap_inteq(infra_buf_printf(&b, "%d", 12345), 0, "printf up to the cap");
	tap_inteq(b.len, 10, "length 10");
	tap_inteq(infra_buf_putc(&b, 'x'), -E2BIG, "append past the cap: -E2BIG");
	tap_streq(b.data, "hello12345", "buffer unchanged by the refused append");
	tap_inteq(infra_buf_append(&b, "x", (size_t)-1), -E2BIG, "huge length refused without overflow");
	s = infra_buf_steal(&b, &n);
	tap_ok(n == 10 && !strcmp(s, "hello12345") && b.data == NULL, "steal hands over the data");
	free(s);
	infra_buf_init(&b, 0);
	for (int i = 0; i < 100000; i++)
		infra_buf_puts(&b, "abcdefghij");
	tap_inteq(b.len, 1000000, "grows to 1 MB with the default cap");
	infra_buf_reset(&b);
	tap_ok(b.len == 0 && b.data[0] == 0, "reset keeps memory, empties");
	infra_buf_release(&b);
	s = infra_buf_steal(&b, &n);
	tap_ok(s && n == 0 && s[0] == 0, "steal of an empty buffer gives an empty string");
	free(s);

	tap_inteq(infra_err_set(&err, -EINVAL, "bad %s\nline", "thing"), -EINVAL, "err_set returns the code");
	tap_streq(err.msg, "bad thing line", "newlines flattened");
	infra_err_prefix(&err, "GET %s", "/x");
	tap_streq(err.msg, "GET /x: bad thing line", "prefix");
	infra_err_clear(&err);
	tap_ok(err.code == 0 && err.msg[0] == 0, "clear");
	return tap_done();
}
