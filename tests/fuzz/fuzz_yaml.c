/* libFuzzer target for the YAML reader (lib/infra_yaml.c): arbitrary bytes, small
 * limits so that alias expansion hits them often; a tree that comes back must keep
 * to the node limit and serialise. */
#include <stdint.h>
#include <stdlib.h>

#include "infra_json.h"
#include "infra_yaml.h"

static size_t nodes(json_object *o)
{
	size_t n = 1;

	if (json_object_is_type(o, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(o); i++)
			n += nodes(json_object_array_get_idx(o, i));
	} else if (json_object_is_type(o, json_type_object)) {
		json_object_object_foreach(o, k, v) {
			(void)k;
			n += 1 + nodes(v); /* the key is a node too */
		}
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct infra_yaml_limits lim = { 65536, 2000, 500, 16 };
	struct infra_err err;
	json_object *y = infra_yaml_parse((const char *)data, size, "fuzz.yaml", &lim, &err);
	char *c;

	if (!y)
		return 0;
	if (nodes(y) > lim.max_nodes)
		abort();
	c = infra_json_canonical(y, 0);
	free(c);
	json_object_put(y);
	return 0;
}
