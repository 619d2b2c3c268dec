#include "infra_nasmon_state.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "infra_history.h"
#include "infra_statedir.h"

#define RESTARTS_FILE "restarts.json"

static int restarts_path(const char *state_dir, char *path, size_t size, struct infra_err *err)
{
	int dfd, rc = infra_statedir_open(state_dir, 0700, "state directory", &dfd, err);

	if (rc)
		return rc;
	close(dfd);
	if ((size_t)snprintf(path, size, "%s/%s", state_dir, RESTARTS_FILE) >= size)
		return infra_err_set(err, -ENAMETOOLONG, "state directory %s: path too long", state_dir);
	return 0;
}

int infra_nasmon_restarts_load(const char *state_dir, json_object **pods, double *t, struct infra_err *err)
{
	char path[4096];
	json_object *doc = NULL, *p = NULL, *tv = NULL;
	int rc;

	*pods = NULL;
	*t = 0;
	if ((rc = restarts_path(state_dir, path, sizeof(path), err)))
		return rc;
	rc = infra_json_file_read(path, &doc, err);
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	if (!json_object_object_get_ex(doc, "pods", &p) || !json_object_is_type(p, json_type_object) ||
	    !json_object_object_get_ex(doc, "t", &tv)) {
		json_object_put(doc);
		return infra_err_set(err, -EILSEQ, "%s: not a restart count file (no \"t\" and \"pods\"); starting anew", path);
	}
	*pods = json_object_get(p);
	*t = json_object_get_double(tv);
	json_object_put(doc);
	return 0;
}

int infra_nasmon_restarts_save(const char *state_dir, const struct infra_nasmon_result *res, double now,
			       struct infra_err *err)
{
	char path[4096];
	json_object *doc;
	int rc;

	if (!res->restarts)
		return 0;
	if ((rc = restarts_path(state_dir, path, sizeof(path), err)))
		return rc;
	doc = json_object_new_object();
	json_object_object_add(doc, "t", json_object_new_int64((int64_t)now));
	json_object_object_add(doc, "pods", json_object_get(res->restarts));
	rc = infra_json_file_write(path, doc, err);
	json_object_put(doc);
	return rc;
}
