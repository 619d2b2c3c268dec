#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "infra_json.h"
#include "tap.h"

static const char doc[] =
	"{\"token\": {\"catalog\": [{\"type\": \"identity\", \"endpoints\": [{\"url\": \"http://a\"}, "
	"{\"url\": \"http://b\", \"port\": 5000}]}], \"expires\": 1.5, \"ok\": true, \"n\": null},"
	" \"a.b\": {\"c\": 7}, \"big\": 9007199254740993}";

int main(void)
{
	struct infra_err err = INFRA_ERR_INIT;
	json_object *root, *o;
	const char *s;
	int64_t i;
	double d;
	int b, rc;

	tap_inteq(infra_json_parse(doc, strlen(doc), &root, &err), 0, "parse a valid document");
	tap_inteq(infra_json_get_string(root, "token.catalog[0].endpoints[1].url", &s, &err), 0, "string by path with subscripts");
	tap_streq(s, "http://b", "value of token.catalog[0].endpoints[1].url");
	tap_inteq(infra_json_get_int64(root, "token.catalog[0].endpoints[1].port", &i, &err), 0, "int64 by path");
	tap_inteq(i, 5000, "port value");
	tap_inteq(infra_json_get_int64(root, "big", &i, &err), 0, "int64 beyond 2^53 exactly");
	tap_ok(i == 9007199254740993LL, "big value exact");
	tap_inteq(infra_json_get_double(root, "token.expires", &d, &err), 0, "double by path");
	tap_ok(d == 1.5, "double value");
	tap_inteq(infra_json_get_double(root, "token.catalog[0].endpoints[1].port", &d, &err), 0, "int accepted as double");
	tap_inteq(infra_json_get_bool(root, "token.ok", &b, &err), 0, "bool by path");
	tap_ok(b == 1, "bool value");
	tap_inteq(infra_json_get_int64(root, "[\"a.b\"].c", &i, &err), 0, "quoted key with a dot");
	tap_inteq(i, 7, "quoted key value");

	rc = infra_json_get_string(root, "token.catalog[0].endpoints[5].url", &s, &err);
	tap_inteq(rc, -ENOENT, "index out of range is -ENOENT");
	tap_streq(err.msg, "missing field 'token.catalog[0].endpoints[5].url'", "error names the path");
	rc = infra_json_get_string(root, "token.nope", &s, &err);
	tap_streq(err.msg, "missing field 'token.nope'", "missing key named");
	rc = infra_json_get_string(root, "token.expires", &s, &err);
	tap_inteq(rc, -EINVAL, "wrong type is -EINVAL");
	tap_streq(err.msg, "field 'token.expires' is a number, expected a string", "type error names path and types");
	rc = infra_json_get_int64(root, "token.expires", &i, &err);
	tap_streq(err.msg, "field 'token.expires' is not an integer", "fractional number is not an integer");
	rc = infra_json_get_string(root, "token.n", &s, &err);
	tap_inteq(rc, -ENOENT, "null counts as missing");
	rc = infra_json_get_array(root, "token", &o, &err);
	tap_streq(err.msg, "field 'token' is an object, expected an array", "object vs array");
	tap_inteq(infra_json_get_object(root, "", &o, &err), 0, "empty path is the root");
	tap_ok(o == root, "root returned");
	rc = infra_json_get(root, "token.catalog[x]", &o, &err);
	tap_inteq(rc, -EINVAL, "bad subscript is a path error");
	tap_streq(infra_json_opt_string(root, "token.catalog[0].type", "d"), "identity", "opt string present");
	tap_streq(infra_json_opt_string(root, "token.zzz", "d"), "d", "opt string default");
	tap_streq(infra_json_opt_string(root, "token.expires", "d"), "d", "opt string default on wrong type");
	tap_inteq(infra_json_opt_int64(root, "token.nope", 42), 42, "opt int default");
	tap_ok(infra_json_opt_double(root, "token.expires", 0) == 1.5, "opt double present");

	{
		char *c = infra_json_canonical(root, 0);
		tap_ok(c && strncmp(c, "{\"a.b\":{\"c\":7},\"big\":9007199254740993,\"token\":{", 45) == 0,
		       "canonical form sorts keys");
		free(c);
	}
	json_object_put(root);
	{
		/* doubles: the shortest text that reads back (issue 9 item 19) */
		json_object *dd = json_object_new_object();
		char *c;
		json_object_object_add(dd, "a", json_object_new_double(7.4e-05));
		json_object_object_add(dd, "b", json_object_new_double(1.63));
		json_object_object_add(dd, "c", json_object_new_double(2.0));
		json_object_object_add(dd, "d", json_object_new_double(0.1 + 0.2));
		json_object_object_add(dd, "e", json_object_new_double(1e300));
		c = infra_json_canonical(dd, 0);
		tap_ok(c && !strcmp(c, "{\"a\":7.4e-05,\"b\":1.63,\"c\":2.0,\"d\":0.30000000000000004,\"e\":1e+300}"),
		       "canonical JSON writes doubles shortest: %s", c ? c : "(null)");
		free(c);
		json_object_put(dd);
	}

	/* invalid documents */
	{
		static const struct { const char *in; const char *msg; } bad[] = {
			{ "{\"a\": 1", "invalid JSON at byte 7: unexpected end of input" },
			{ "{\"a\": 1} x", "invalid JSON at byte 9: trailing data" },
			{ "", "invalid JSON at byte 0: unexpected end of input" },
			{ "[1,2,}", NULL },
			{ "{\"a\":\"\\x\"}", NULL },
			{ "nul", NULL },
		};
		for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
			rc = infra_json_parse(bad[k].in, strlen(bad[k].in), &root, &err);
			tap_ok(rc == -EINVAL && root == NULL, "invalid JSON rejected: %s", bad[k].in);
			if (bad[k].msg)
				tap_streq(err.msg, bad[k].msg, "message for %s", bad[k].in);
			else
				tap_ok(strncmp(err.msg, "invalid JSON at byte ", 21) == 0, "message has a byte offset: %s", err.msg);
		}
	}
	/* nesting bomb: deeper than 256 */
	{
		char *deep = malloc(2 * 1000 + 1);
		for (int k = 0; k < 1000; k++) {
			deep[k] = '[';
			deep[1000 + k] = ']';
		}
		deep[2000] = 0;
		rc = infra_json_parse(deep, 2000, &root, &err);
		tap_ok(rc == -EINVAL, "nesting deeper than 256 rejected");
		free(deep);
	}
	/* a truncated body is not JSON, a number at the end is fine */
	tap_inteq(infra_json_parse("42", 2, &root, &err), 0, "bare number parses");
	json_object_put(root);
	tap_inteq(infra_json_parse("null", 4, &root, &err), 0, "bare null at the end of input parses (found by fuzz_json)");
	tap_ok(root == NULL, "JSON null is a NULL object");
	tap_inteq(infra_json_parse("tru", 3, &root, &err), -EINVAL, "truncated literal rejected");
	tap_inteq(infra_json_parse("{\"a\":[1,2]}\n", 12, &root, &err), 0, "trailing newline allowed");
	json_object_put(root);

	/* doubles that do not fit int64_t: converting them is undefined behaviour
	 * (found by the clang fuzz build with {"a":1e300}); a range error, never a cast */
	{
		static const struct { const char *in; int rc; } big[] = {
			{ "{\"a\":1e300}", -ERANGE },
			{ "{\"a\":-1e300}", -ERANGE },
			{ "{\"a\":9223372036854775808.0}", -ERANGE },   /* 2^63 */
			{ "{\"a\":-9223372036854777856.0}", -ERANGE },  /* next double below -2^63 */
			{ "{\"a\":1.5e19}", -ERANGE },
			{ "{\"a\":0.5}", -EINVAL },
			{ "{\"a\":-9223372036854775808.0}", 0 },        /* -2^63 fits */
			{ "{\"a\":4611686018427387904.0}", 0 },         /* 2^62 */
		};
		for (size_t k = 0; k < sizeof(big) / sizeof(big[0]); k++) {
			i = 12345;
			tap_inteq(infra_json_parse(big[k].in, strlen(big[k].in), &root, &err), 0, "parse %s", big[k].in);
			rc = infra_json_get_int64(root, "a", &i, &err);
			tap_inteq(rc, big[k].rc, "int64 of %s", big[k].in);
			if (big[k].rc == -ERANGE)
				tap_streq(err.msg, "field 'a' is out of range", "... says out of range");
			json_object_put(root);
		}
		tap_ok(i == (int64_t)4611686018427387904LL, "2^62 as a double reads back exactly");
		root = json_object_new_object();
		json_object_object_add(root, "nan", json_object_new_double(NAN));
		json_object_object_add(root, "inf", json_object_new_double(INFINITY));
		json_object_object_add(root, "ninf", json_object_new_double(-INFINITY));
		tap_inteq(infra_json_get_int64(root, "nan", &i, &err), -EINVAL, "NaN is not an integer");
		tap_inteq(infra_json_get_int64(root, "inf", &i, &err), -ERANGE, "+Inf is out of range");
		tap_inteq(infra_json_get_int64(root, "ninf", &i, &err), -ERANGE, "-Inf is out of range");
		tap_ok(infra_json_opt_int64(root, "inf", 3) == 3, "opt int64 of +Inf is the default");
		json_object_put(root);
	}
	return tap_done();
}
