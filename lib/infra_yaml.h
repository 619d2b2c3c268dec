/* infra_yaml.h - the one YAML reader of the kit (clouds.yaml, secure.yaml, kubeconfig):
 * the first document of a YAML stream as a json-c tree.
 *
 * Scalars become JSON strings whatever their style or tag ("true", "8080", "" for
 * an empty value); mappings become objects (a key that is not a scalar drops the
 * pair), sequences arrays; an alias becomes a copy of its anchored node.
 *
 * Bounded, because ./clouds.yaml is read from the current directory and a few
 * hundred bytes of nested aliases ("billion laughs") expand to billions of nodes:
 *   - input size (default 4 MiB; a larger file is refused before parsing);
 *   - nodes of the result (default 100,000), alias expansions included;
 *   - nodes made by alias expansion, each alias counted with the full size of what
 *     it copies (default 10,000), checked before copying, so refusing a bomb costs
 *     neither time nor memory (memory grows with the input, never more than that);
 *     both say "NAME: too many aliases/nodes (limit N ...)";
 *   - nesting depth (default 64).
 * Built from libyaml's event parser, never its document loader.
 *
 * Ownership: the returned tree is the caller's (json_object_put).
 */
#ifndef INFRA_YAML_H
#define INFRA_YAML_H

#include <json-c/json.h>
#include <stddef.h>

#include "infra_err.h"

#define INFRA_YAML_MAX_BYTES ((size_t)4 << 20)
#define INFRA_YAML_MAX_NODES ((size_t)100000)
#define INFRA_YAML_MAX_ALIAS_NODES ((size_t)10000)
#define INFRA_YAML_MAX_DEPTH 64

struct infra_yaml_limits {
	size_t max_bytes; /* 0 = INFRA_YAML_MAX_BYTES */
	size_t max_nodes; /* 0 = INFRA_YAML_MAX_NODES */
	size_t max_alias_nodes; /* 0 = INFRA_YAML_MAX_ALIAS_NODES */
	int max_depth;    /* 0 = INFRA_YAML_MAX_DEPTH */
};

/* Parse len bytes of YAML; name (a file name) starts every message:
 * "NAME: line 3: mapping values are not allowed in this context".
 * lim NULL = the defaults.  NULL + err on error (-EINVAL, -E2BIG, -ENOMEM). */
json_object *infra_yaml_parse(const char *data, size_t len, const char *name,
			      const struct infra_yaml_limits *lim, struct infra_err *err);

/* Read a regular file (at most max_bytes) and parse it; the path names it in
 * messages.  lim NULL = the defaults. */
json_object *infra_yaml_load_file_limits(const char *path, const struct infra_yaml_limits *lim,
					 struct infra_err *err);
json_object *infra_yaml_load_file(const char *path, struct infra_err *err);

#endif
