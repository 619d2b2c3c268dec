/* infra_ossvc.c - OpenStack service types and their aliases (infra_ossvc.h). */
#include "infra_ossvc.h"

#include <stdlib.h>
#include <string.h>

#define LIST(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define NONE ((const char *const[]){ NULL })

/* service-types-authority (service-types.openstack.org): type, project, the
 * aliases it lists that a catalog may carry, and the spellings of openstacksdk
 * (block_storage) and of the catalog entries' names (cinderv3).  volumev2 is left
 * out on purpose: a catalog with both volumev2 and volumev3 must give v3. */
const struct infra_ossvc infra_ossvc_table[] = {
	{ "identity", "keystone", NONE, NONE },
	{ "compute", "nova", NONE, NONE },
	{ "network", "neutron", NONE, NONE },
	{ "block-storage", "cinder", LIST("volumev3", "volume", "block-store"), LIST("block_storage", "cinderv3") },
	{ "image", "glance", NONE, NONE },
	{ "object-store", "swift", NONE, LIST("object_store") },
	{ "orchestration", "heat", NONE, NONE },
	{ "placement", "placement", NONE, NONE },
	{ "load-balancer", "octavia", NONE, LIST("load_balancer") },
	{ "dns", "designate", NONE, NONE },
	{ "key-manager", "barbican", NONE, LIST("key_manager") },
	{ "shared-file-system", "manila", LIST("sharev2", "share"), LIST("shared_file_system") },
	{ "baremetal", "ironic", NONE, NONE },
};
const size_t infra_ossvc_count = sizeof(infra_ossvc_table) / sizeof(infra_ossvc_table[0]);

static int in(const char *const *list, const char *name)
{
	for (; *list; list++)
		if (!strcmp(*list, name))
			return 1;
	return 0;
}

const struct infra_ossvc *infra_ossvc_find(const char *name)
{
	const struct infra_ossvc *s;

	if (!name)
		return NULL;
	for (s = infra_ossvc_table; s < infra_ossvc_table + infra_ossvc_count; s++)
		if (!strcmp(s->type, name) || !strcmp(s->project, name) || in(s->catalog, name) || in(s->aliases, name))
			return s;
	return NULL;
}

const char *infra_ossvc_type(const char *name)
{
	const struct infra_ossvc *s = infra_ossvc_find(name);

	return s ? s->type : name;
}

int infra_ossvc_catalog_match(const char *want, const char *have)
{
	const struct infra_ossvc *s;

	if (!strcmp(want, have))
		return 1;
	s = infra_ossvc_find(want);
	return s && (!strcmp(s->type, have) || in(s->catalog, have));
}

size_t infra_ossvc_names(const struct infra_ossvc *s, const char **names, size_t max)
{
	size_t n = 0;

	if (n < max && strcmp(s->project, s->type))
		names[n++] = s->project;
	for (const char *const *c = s->catalog; *c && n < max; c++)
		names[n++] = *c;
	for (const char *const *a = s->aliases; *a && n < max; a++)
		names[n++] = *a;
	return n;
}

void infra_ossvc_json_keys(json_object *obj)
{
	struct { char *key; json_object *val; } *e;
	size_t n = 0, len, i;
	int renamed = 0;

	if (!json_object_is_type(obj, json_type_object))
		return;
	json_object_object_foreach(obj, k0, v0) {
		(void)v0;
		renamed |= strcmp(infra_ossvc_type(k0), k0) != 0;
	}
	if (!renamed)
		return;
	len = (size_t)json_object_object_length(obj);
	e = calloc(len, sizeof(*e));
	if (!e)
		return; /* left as it was: the names are still readable */
	json_object_object_foreach(obj, k, v) {
		e[n].key = strdup(infra_ossvc_type(k));
		e[n].val = json_object_get(v);
		n++;
	}
	/* every key out, then back in their order under their types */
	for (i = 0; i < n; i++) {
		json_object_object_foreach(obj, k1, v1) {
			char *first = strdup(k1);
			(void)v1;
			if (first)
				json_object_object_del(obj, first);
			free(first);
			break;
		}
	}
	for (i = 0; i < n; i++) {
		if (e[i].key && !json_object_object_get_ex(obj, e[i].key, NULL))
			json_object_object_add(obj, e[i].key, json_object_get(e[i].val));
		json_object_put(e[i].val);
		free(e[i].key);
	}
	free(e);
}
