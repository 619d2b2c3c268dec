/* infra_json.h - json-c helpers: parsing with positioned errors, typed getters by path.
 *
 * Paths: dot-separated keys with optional [index] subscripts, e.g.
 * "token.catalog[0].endpoints[2].url".  A key containing '.' or '[' may be written
 * as ["key.with.dots"].  The empty path "" means the root itself.
 *
 * Errors name the path: "missing field 'token.catalog[0].type'",
 * "field 'servers[3].created' is a number, expected string".
 *
 * Ownership: getters borrow (returned objects and strings live as long as root);
 * infra_json_parse() hands a new reference to the caller (json_object_put it).
 */
#ifndef INFRA_JSON_H
#define INFRA_JSON_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "infra_err.h"

/* Parse a whole buffer (need not be NUL-terminated).  Trailing garbage, truncation
 * and nesting deeper than 256 are errors: "invalid JSON at byte N: reason". */
int infra_json_parse(const char *data, size_t len, json_object **out, struct infra_err *err);

/* Look up a path.  -ENOENT if any step is missing (or null when must_exist). */
int infra_json_get(json_object *root, const char *path, json_object **out, struct infra_err *err);
int infra_json_get_string(json_object *root, const char *path, const char **out, struct infra_err *err);
/* An integer, or a double with an integral value in int64_t range (else -ERANGE
 * "field 'p' is out of range"; NaN or a fraction -EINVAL). */
int infra_json_get_int64(json_object *root, const char *path, int64_t *out, struct infra_err *err);
int infra_json_get_double(json_object *root, const char *path, double *out, struct infra_err *err);
int infra_json_get_bool(json_object *root, const char *path, int *out, struct infra_err *err);
int infra_json_get_array(json_object *root, const char *path, json_object **out, struct infra_err *err);
int infra_json_get_object(json_object *root, const char *path, json_object **out, struct infra_err *err);

/* Optional variants: the default when missing or null; still an error (returns
 * dflt and sets *bad, if given) when present with the wrong type. */
const char *infra_json_opt_string(json_object *root, const char *path, const char *dflt);
int64_t infra_json_opt_int64(json_object *root, const char *path, int64_t dflt);
double infra_json_opt_double(json_object *root, const char *path, double dflt);

/* Serialise with sorted keys (canonical form for comparisons), caller frees. */
char *infra_json_canonical(json_object *obj, int pretty);

#endif
