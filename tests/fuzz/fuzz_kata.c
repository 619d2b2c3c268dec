/* libFuzzer target for katapulse-scrape's input handling: arbitrary bytes as
 * (1) two shim bodies merged and written (the second is the input with its
 * first line dropped, so TYPE/HELP conflicts between bodies get exercised), with
 * an own exposition interleaved; (2) a CRI ListPodSandbox gRPC reply; (3) a
 * shim body summarised for --tui.  Whatever is accepted must write an
 * exposition that parses again. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "infra_cri.h"
#include "infra_kata_merge.h"
#include "infra_kata_top.h"

static int to_buf(void *ud, const char *data, size_t len)
{
	return infra_buf_append(ud, data, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char own[] = "# HELP katapulse_up 1 if ok\n# TYPE katapulse_up gauge\nkatapulse_up 1\n";
	const char *x1[] = { "sandbox_id", "a", "cri_uid", "", "cri_name", "n", "cri_namespace", "ns", NULL };
	const char *x2[] = { "sandbox_id", "b", "cri_uid", "", "cri_name", "", "cri_namespace", "", NULL };
	const char *body = (const char *)data, *nl = memchr(data, '\n', size);
	struct infra_kata_merge_stats st;
	struct infra_kata_summary sum;
	struct infra_cri_list l;
	struct infra_buf out = INFRA_BUF_INIT;
	struct infra_err err;
	struct infra_kata_merge *m = infra_kata_merge_new();

	if (!m)
		return 0;
	infra_kata_merge_add(m, body, size, x1, &st, &err);
	if (nl)
		infra_kata_merge_add(m, nl + 1, size - (size_t)(nl + 1 - body), x2, &st, &err);
	int rc = infra_kata_merge_write(m, own, sizeof(own) - 1, to_buf, &out, NULL, &err);
	if (rc && rc != -ENOMEM)
		abort(); /* whatever was accepted must be writable: one bad shim never sinks the output */
	if (!rc && out.len && infra_prom_parse(out.data, out.len, NULL, NULL, &err) != 0)
		abort(); /* the merge wrote something that is not a valid exposition */
	infra_buf_release(&out);
	infra_kata_merge_free(m);

	if (infra_cri_decode_list(data, size, &l, &err) == 0)
		infra_cri_list_release(&l);
	infra_kata_summarize(body, size, &sum, &err);
	return 0;
}
