/* libFuzzer target for the JSON helpers: parse arbitrary bytes, then walk the
 * result with typed getters on paths derived from the input, and canonicalise. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "infra_json.h"

static const char *const paths[] = {
	"", "a", "a.b", "a[0]", "a[0].b", "token.catalog[0].endpoints[1].url", "[\"a.b\"].c",
	"servers[3].name", "links[0].href", "x[", "x[-1]", "x]", "..", "a..b", "[\"unterminated",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct infra_err err;
	json_object *root, *o;
	const char *s;
	int64_t i;
	double d;
	int b;

	if (infra_json_parse((const char *)data, size, &root, &err))
		return 0;
	for (size_t k = 0; k < sizeof(paths) / sizeof(paths[0]); k++) {
		infra_json_get(root, paths[k], &o, &err);
		infra_json_get_string(root, paths[k], &s, &err);
		infra_json_get_int64(root, paths[k], &i, &err);
		infra_json_get_double(root, paths[k], &d, &err);
		infra_json_get_bool(root, paths[k], &b, &err);
		infra_json_get_array(root, paths[k], &o, &err);
		infra_json_get_object(root, paths[k], &o, &err);
		infra_json_opt_string(root, paths[k], NULL);
	}
	/* a path taken from the input itself */
	if (size > 0 && size < 64) {
		char p[64];
		memcpy(p, data, size);
		p[size] = 0;
		infra_json_get(root, p, &o, &err);
	}
	{
		char *c = infra_json_canonical(root, (int)(size & 1));
		json_object *again;
		/* canonical output must parse again */
		if (c && infra_json_parse(c, strlen(c), &again, &err) != 0)
			abort();
		if (c)
			json_object_put(again);
		free(c);
	}
	json_object_put(root);
	return 0;
}
