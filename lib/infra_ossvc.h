/* infra_ossvc.h - the one vocabulary for OpenStack services across the kit.
 *
 * A service is named by its service type (the OpenStack service-types-authority:
 * what the Keystone catalog and openstackclient use): "identity", "compute",
 * "network", "block-storage", "image", "object-store", ...  That name is the key
 * in JSON, the value of every `service` label, the column in text and the file
 * name of osmon-run's task files.  On input (options, task files, state files
 * written by older versions) the project names ("nova", "cinder", ...) and the
 * older catalog types ("volumev3", "volume", ...) are aliases of the type.
 *
 * Every tool resolves names through this table; nothing else in lib/ lists them.
 */
#ifndef INFRA_OSSVC_H
#define INFRA_OSSVC_H

#include <json-c/json.h>
#include <stddef.h>

/* The services the kit's tools work on, for --help and completion (a tool's option
 * doc "{" INFRA_OSSVC_COMPLETE "} ..."): the same list wherever a service is named. */
#define INFRA_OSSVC_COMPLETE "identity|compute|network|block-storage|image|object-store|orchestration"

struct infra_ossvc {
	const char *type;             /* the name everywhere: "block-storage" */
	const char *project;          /* its project: "cinder" */
	const char *const *catalog;   /* other types a catalog registers it under ("volumev3"), NULL-terminated */
	const char *const *aliases;   /* other names accepted on input ("block_storage"), NULL-terminated */
};

extern const struct infra_ossvc infra_ossvc_table[];
extern const size_t infra_ossvc_count;

/* The service a name denotes (its type, project name, a catalog type or an alias;
 * exact, case-sensitive), or NULL. */
const struct infra_ossvc *infra_ossvc_find(const char *name);

/* The type of a name; the name itself when it is not a known service (osmon-run
 * runs the user's own task files under any name). */
const char *infra_ossvc_type(const char *name);

/* 1 when a catalog entry of type `have` serves the type `want` (want "block-storage"
 * matches a "volumev3" entry).  Project names never match: a catalog entry's type
 * is a type. */
int infra_ossvc_catalog_match(const char *want, const char *have);

/* The names a service may also go by, in the order to try them after its type
 * (project name, catalog types, aliases): names[i] for i < *n (at most max). */
size_t infra_ossvc_names(const struct infra_ossvc *s, const char **names, size_t max);

/* Rename the keys of a JSON object keyed by service (a summary's or history
 * entry's "services") to their types, in place, keeping the order.  State files
 * written before the vocabulary used project names; a key whose type is already a
 * key keeps the first value.  Anything not an object is left alone. */
void infra_ossvc_json_keys(json_object *obj);

#endif
