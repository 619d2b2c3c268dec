/* test_ossvc.c - the one service vocabulary (lib/infra_ossvc.h): types, project
 * names and catalog types as aliases, catalog matching, and state files written
 * with project names read back under types. */
#include <string.h>

#include "infra_ossvc.h"
#include "tap.h"

static const char *keys(json_object *o, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	json_object_object_foreach(o, k, v) {
		(void)v;
		int n = snprintf(buf + len, size - len, "%s%s", len ? "," : "", k);
		if (n > 0 && (size_t)n < size - len)
			len += (size_t)n;
	}
	return buf;
}

int main(void)
{
	static const char *const pairs[][2] = {
		{ "keystone", "identity" }, { "nova", "compute" }, { "neutron", "network" },
		{ "glance", "image" }, { "cinder", "block-storage" }, { "swift", "object-store" },
		{ "heat", "orchestration" }, { "placement", "placement" }, { "volumev3", "block-storage" },
		{ "volume", "block-storage" }, { "block_storage", "block-storage" }, { "cinderv3", "block-storage" },
		{ "object_store", "object-store" }, { "compute", "compute" }, { "block-storage", "block-storage" },
	};
	char buf[512];
	json_object *o, *e;
	const char *names[16];
	size_t n;

	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++)
		tap_ok(!strcmp(infra_ossvc_type(pairs[i][0]), pairs[i][1]), "%s is %s", pairs[i][0], pairs[i][1]);
	tap_ok(!strcmp(infra_ossvc_type("slafail"), "slafail"), "an unknown name (a user's own task) is kept");
	tap_ok(infra_ossvc_find("Nova") == NULL && infra_ossvc_find("") == NULL && infra_ossvc_find(NULL) == NULL,
	       "no match for other case, empty or NULL");
	tap_ok(infra_ossvc_find("volumev2") == NULL, "volumev2 is not block-storage (a catalog with v2 and v3 must give v3)");
	for (size_t i = 0; i < infra_ossvc_count; i++) {
		const struct infra_ossvc *s = &infra_ossvc_table[i];
		int unique = 1;
		for (size_t j = 0; j < infra_ossvc_count; j++)
			unique &= j == i || (strcmp(s->type, infra_ossvc_table[j].type) &&
					     infra_ossvc_find(s->project) == s);
		tap_ok(unique && infra_ossvc_find(s->type) == s, "%s/%s: one entry, found by type and project", s->type,
		       s->project);
	}

	/* catalog entries */
	tap_ok(infra_ossvc_catalog_match("block-storage", "volumev3"), "block-storage is served by a volumev3 entry");
	tap_ok(infra_ossvc_catalog_match("volumev3", "block-storage"), "and the other way round");
	tap_ok(infra_ossvc_catalog_match("compute", "compute"), "compute by compute");
	tap_ok(!infra_ossvc_catalog_match("block-storage", "volumev2"), "not by volumev2");
	tap_ok(!infra_ossvc_catalog_match("compute", "nova"), "a catalog type is never a project name");
	tap_ok(!infra_ossvc_catalog_match("compute", "network"), "compute is not network");

	n = infra_ossvc_names(infra_ossvc_find("cinder"), names, 16);
	tap_ok(n >= 2 && !strcmp(names[0], "cinder") && !strcmp(names[1], "volumev3"),
	       "block-storage's other names: cinder first, then volumev3 (%zu names)", n);
	n = infra_ossvc_names(infra_ossvc_find("placement"), names, 16);
	tap_ok(n == 0, "placement has no other name (its project is its type)");

	/* a history entry written before the vocabulary */
	e = json_tokener_parse("{\"nova\":{\"up\":true},\"keystone\":{\"up\":false},\"slafail\":{\"up\":true},"
			       "\"cinder\":{\"up\":true}}");
	infra_ossvc_json_keys(e);
	tap_ok(!strcmp(keys(e, buf, sizeof(buf)), "compute,identity,slafail,block-storage"),
	       "project-name keys read as types, order and other names kept: %s", buf);
	tap_ok(json_object_get_boolean(json_object_object_get(json_object_object_get(e, "identity"), "up")) == 0,
	       "values move with their keys");
	json_object_put(e);
	e = json_tokener_parse("{\"compute\":{\"up\":true},\"nova\":{\"up\":false}}");
	infra_ossvc_json_keys(e);
	tap_ok(!strcmp(keys(e, buf, sizeof(buf)), "compute") &&
	       json_object_get_boolean(json_object_object_get(json_object_object_get(e, "compute"), "up")),
	       "both spellings in one entry: one key, the first value");
	json_object_put(e);
	o = json_tokener_parse("{\"compute\":1,\"network\":2}");
	infra_ossvc_json_keys(o);
	tap_ok(!strcmp(keys(o, buf, sizeof(buf)), "compute,network"), "types alone are left as they are");
	json_object_put(o);
	o = json_object_new_array();
	infra_ossvc_json_keys(o);
	infra_ossvc_json_keys(NULL);
	tap_ok(json_object_array_length(o) == 0, "an array or NULL is left alone");
	json_object_put(o);
	return tap_done();
}
