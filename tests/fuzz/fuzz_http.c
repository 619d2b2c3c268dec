/* libFuzzer target for the pure parts of infra_http: Retry-After parsing and URL
 * masking.  Invariant checked: for any prefix P without '?' or '#', the masked
 * forms of P?token=SECRET and P#a=1&token=SECRET never show SECRET. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "infra_http.h"

static void check_masked(const char *prefix, size_t n, const char *tail)
{
	char url[512], out[300];

	if (n + strlen(tail) >= sizeof(url) || n > 150 || memchr(prefix, '?', n) ||
	    memchr(prefix, '#', n) || memchr(prefix, '\0', n))
		return;
	memcpy(url, prefix, n);
	memcpy(url + n, tail, strlen(tail) + 1);
	if (strstr(url, "FUZZSECRET") != url + n + strcspn(tail, "F"))
		return; /* the prefix has the marker itself */
	infra_http_mask_url(url, out, sizeof(out));
	if (strstr(out, "FUZZSECRET"))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	char out[300], small[16];
	long ms;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	ms = infra_http_parse_retry_after(s, 1700000000LL);
	if (ms < -1)
		abort();
	infra_http_mask_url(s, out, sizeof(out));
	if (strlen(out) >= sizeof(out))
		abort();
	infra_http_mask_url(s, small, sizeof(small));
	check_masked(s, size, "?token=FUZZSECRET");
	check_masked(s, size, "#a=1&token=FUZZSECRET");
	free(s);
	return 0;
}
