#include "infra_json.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "infra_buf.h"
#include "infra_prom.h"

int infra_json_parse(const char *data, size_t len, json_object **out, struct infra_err *err)
{
	struct json_tokener *tok;
	json_object *obj;
	enum json_tokener_error jerr;
	size_t off;

	*out = NULL;
	if (len > (size_t)INT32_MAX)
		return infra_err_set(err, -E2BIG, "invalid JSON: document too large (%zu bytes)", len);
	tok = json_tokener_new_ex(256);
	if (!tok)
		return infra_err_set(err, -ENOMEM, "out of memory");
	obj = json_tokener_parse_ex(tok, data, (int)len);
	jerr = json_tokener_get_error(tok);
	off = json_tokener_get_parse_end(tok);
	if (jerr == json_tokener_continue) {
		/* a bare number at the end of input is complete once the input ends */
		obj = json_tokener_parse_ex(tok, " ", 1);
		jerr = json_tokener_get_error(tok);
		if (jerr != json_tokener_success) { /* obj == NULL with success is JSON null */
			json_object_put(obj);
			json_tokener_free(tok);
			return infra_err_set(err, -EINVAL, "invalid JSON at byte %zu: unexpected end of input", len);
		}
		json_tokener_free(tok);
		*out = obj;
		return 0;
	}
	if (jerr != json_tokener_success) {
		json_tokener_free(tok);
		return infra_err_set(err, -EINVAL, "invalid JSON at byte %zu: %s", off,
				     json_tokener_error_desc(jerr));
	}
	for (; off < len; off++) {
		char c = data[off];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
			json_object_put(obj);
			json_tokener_free(tok);
			return infra_err_set(err, -EINVAL, "invalid JSON at byte %zu: trailing data", off);
		}
	}
	json_tokener_free(tok);
	*out = obj;
	return 0;
}

static const char *type_word(json_object *o)
{
	switch (json_object_get_type(o)) {
	case json_type_null: return "null";
	case json_type_boolean: return "a boolean";
	case json_type_double: return "a number";
	case json_type_int: return "a number";
	case json_type_object: return "an object";
	case json_type_array: return "an array";
	case json_type_string: return "a string";
	}
	return "unknown";
}

/* Walk the path; on a missing step, *out = NULL and return -ENOENT. */
static int walk(json_object *root, const char *path, json_object **out, struct infra_err *err)
{
	json_object *cur = root;
	const char *p = path;
	char key[256];

	while (*p) {
		if (*p == '[') {
			if (p[1] == '"') {
				const char *end = strstr(p + 2, "\"]");
				size_t n;
				if (!end || (n = (size_t)(end - p - 2)) >= sizeof(key))
					return infra_err_set(err, -EINVAL, "bad JSON path '%s'", path);
				memcpy(key, p + 2, n);
				key[n] = '\0';
				p = end + 2;
				goto by_key;
			} else {
				char *end;
				long idx = strtol(p + 1, &end, 10);
				if (end == p + 1 || *end != ']' || idx < 0)
					return infra_err_set(err, -EINVAL, "bad JSON path '%s'", path);
				if (!cur || !json_object_is_type(cur, json_type_array) ||
				    (size_t)idx >= json_object_array_length(cur)) {
					*out = NULL;
					return infra_err_set(err, -ENOENT, "missing field '%s'", path);
				}
				cur = json_object_array_get_idx(cur, (size_t)idx);
				p = end + 1;
				if (*p == '.')
					p++;
				continue;
			}
		} else {
			size_t n = strcspn(p, ".[");
			if (n == 0 || n >= sizeof(key))
				return infra_err_set(err, -EINVAL, "bad JSON path '%s'", path);
			memcpy(key, p, n);
			key[n] = '\0';
			p += n;
		}
by_key:
		if (*p == '.')
			p++;
		if (!cur || !json_object_is_type(cur, json_type_object) ||
		    !json_object_object_get_ex(cur, key, &cur)) {
			*out = NULL;
			return infra_err_set(err, -ENOENT, "missing field '%s'", path);
		}
	}
	*out = cur;
	return 0;
}

int infra_json_get(json_object *root, const char *path, json_object **out, struct infra_err *err)
{
	int rc = walk(root, path, out, err);

	if (rc)
		return rc;
	if (!*out)
		return infra_err_set(err, -ENOENT, "missing field '%s' (null)", path);
	return 0;
}

static int typed(json_object *root, const char *path, json_type want, const char *want_word,
		 json_object **out, struct infra_err *err)
{
	int rc = infra_json_get(root, path, out, err);

	if (rc)
		return rc;
	if (json_object_get_type(*out) != want &&
	    !(want == json_type_double && json_object_is_type(*out, json_type_int)))
		return infra_err_set(err, -EINVAL, "field '%s' is %s, expected %s", path,
				     type_word(*out), want_word);
	return 0;
}

int infra_json_get_string(json_object *root, const char *path, const char **out, struct infra_err *err)
{
	json_object *o;
	int rc = typed(root, path, json_type_string, "a string", &o, err);

	*out = rc ? NULL : json_object_get_string(o);
	return rc;
}

int infra_json_get_int64(json_object *root, const char *path, int64_t *out, struct infra_err *err)
{
	json_object *o;
	int rc = infra_json_get(root, path, &o, err);

	if (rc)
		return rc;
	if (json_object_is_type(o, json_type_int)) {
		errno = 0;
		*out = json_object_get_int64(o);
		if (errno == ERANGE)
			return infra_err_set(err, -ERANGE, "field '%s' is out of range", path);
		return 0;
	}
	if (json_object_is_type(o, json_type_double)) {
		double d = json_object_get_double(o);
		/* converting a double outside int64_t's range (or NaN) is undefined
		 * behaviour: check the range first; -2^63 <= d < 2^63 are exact doubles */
		if (isnan(d) || d != trunc(d))
			return infra_err_set(err, -EINVAL, "field '%s' is not an integer", path);
		if (!(d >= -0x1p63 && d < 0x1p63))
			return infra_err_set(err, -ERANGE, "field '%s' is out of range", path);
		*out = (int64_t)d;
		return 0;
	}
	return infra_err_set(err, -EINVAL, "field '%s' is %s, expected an integer", path, type_word(o));
}

int infra_json_get_double(json_object *root, const char *path, double *out, struct infra_err *err)
{
	json_object *o;
	int rc = typed(root, path, json_type_double, "a number", &o, err);

	*out = rc ? 0 : json_object_get_double(o);
	return rc;
}

int infra_json_get_bool(json_object *root, const char *path, int *out, struct infra_err *err)
{
	json_object *o;
	int rc = typed(root, path, json_type_boolean, "a boolean", &o, err);

	*out = rc ? 0 : json_object_get_boolean(o);
	return rc;
}

int infra_json_get_array(json_object *root, const char *path, json_object **out, struct infra_err *err)
{
	return typed(root, path, json_type_array, "an array", out, err);
}

int infra_json_get_object(json_object *root, const char *path, json_object **out, struct infra_err *err)
{
	return typed(root, path, json_type_object, "an object", out, err);
}

const char *infra_json_opt_string(json_object *root, const char *path, const char *dflt)
{
	json_object *o;

	if (walk(root, path, &o, NULL) || !o || !json_object_is_type(o, json_type_string))
		return dflt;
	return json_object_get_string(o);
}

int64_t infra_json_opt_int64(json_object *root, const char *path, int64_t dflt)
{
	int64_t v;

	if (infra_json_get_int64(root, path, &v, NULL))
		return dflt;
	return v;
}

double infra_json_opt_double(json_object *root, const char *path, double dflt)
{
	double v;

	if (infra_json_get_double(root, path, &v, NULL))
		return dflt;
	return v;
}

static int canon(json_object *o, struct infra_buf *b, int pretty, int depth);

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int indent(struct infra_buf *b, int pretty, int depth)
{
	int rc = 0;

	if (!pretty)
		return 0;
	rc = infra_buf_putc(b, '\n');
	for (int i = 0; i < depth && !rc; i++)
		rc = infra_buf_puts(b, "  ");
	return rc;
}

static int canon(json_object *o, struct infra_buf *b, int pretty, int depth)
{
	int rc = 0;

	if (json_object_is_type(o, json_type_object)) {
		size_t n = (size_t)json_object_object_length(o), i = 0;
		const char **keys = calloc(n ? n : 1, sizeof(*keys));
		if (!keys)
			return -ENOMEM;
		json_object_object_foreach(o, k, unused) {
			(void)unused;
			keys[i++] = k;
		}
		qsort(keys, n, sizeof(*keys), cmp_str);
		rc = infra_buf_putc(b, '{');
		for (i = 0; i < n && !rc; i++) {
			json_object *val = json_object_object_get(o, keys[i]);
			json_object *ks = json_object_new_string(keys[i]);
			rc = (i ? infra_buf_putc(b, ',') : 0) || indent(b, pretty, depth + 1) ||
			     infra_buf_puts(b, json_object_to_json_string_ext(ks, JSON_C_TO_STRING_PLAIN)) ||
			     infra_buf_puts(b, pretty ? ": " : ":") || canon(val, b, pretty, depth + 1);
			json_object_put(ks);
		}
		if (!rc && n)
			rc = indent(b, pretty, depth);
		if (!rc)
			rc = infra_buf_putc(b, '}');
		free(keys);
		return rc ? -ENOMEM : 0;
	}
	if (json_object_is_type(o, json_type_array)) {
		size_t n = json_object_array_length(o);
		rc = infra_buf_putc(b, '[');
		for (size_t i = 0; i < n && !rc; i++)
			rc = (i ? infra_buf_putc(b, ',') : 0) || indent(b, pretty, depth + 1) ||
			     canon(json_object_array_get_idx(o, i), b, pretty, depth + 1);
		if (!rc && n)
			rc = indent(b, pretty, depth);
		if (!rc)
			rc = infra_buf_putc(b, ']');
		return rc ? -ENOMEM : 0;
	}
	if (o && json_object_is_type(o, json_type_double) && isfinite(json_object_get_double(o))) {
		/* the shortest text that reads back as the same double, as Go and Python
		 * print it (json-c's default is %.17g: 7.3999999999999996e-05) */
		char num[40];
		double v = json_object_get_double(o);
		infra_prom_format_value(v, num, sizeof(num));
		rc = infra_buf_puts(b, num);
		/* an integral double keeps json-c's ".0" (it stays a double when read back) */
		if (!rc && !strpbrk(num, ".eE"))
			rc = infra_buf_puts(b, ".0");
		return rc ? -ENOMEM : 0;
	}
	return infra_buf_puts(b, o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
						      JSON_C_TO_STRING_NOSLASHESCAPE) : "null");
}

char *infra_json_canonical(json_object *obj, int pretty)
{
	struct infra_buf b = INFRA_BUF_INIT;

	if (canon(obj, &b, pretty, 0)) {
		infra_buf_release(&b);
		return NULL;
	}
	return infra_buf_steal(&b, NULL);
}
