#include "infra_state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "infra_file.h"
#include "infra_json.h"
#include "infra_lock.h"
#include "infra_report.h"
#include "infra_statedir.h"

#define STATE_MAX ((size_t)1 << 20)

struct infra_state {
	char *path;
	int lockfd;
	json_object *counters;
};

int infra_state_open(const char *path, double lock_wait_seconds, struct infra_state **out,
		     struct infra_err *err)
{
	struct infra_buf b = INFRA_BUF_INIT;
	struct infra_state *s;
	json_object *root = NULL, *c;
	const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
	char *dir, *lock = NULL;
	int rc, dfd;

	*out = NULL;
	if (!*base)
		return infra_err_set(err, -EINVAL, "bad state file name '%s'", path);
	dir = slash ? (slash == path ? strdup("/") : strndup(path, (size_t)(slash - path))) : strdup(".");
	s = calloc(1, sizeof(*s));
	if (!dir || !s || !(s->path = strdup(path)) || asprintf(&lock, "%s.lock", base) < 0) {
		free(dir);
		if (s)
			free(s->path);
		free(s);
		return infra_err_set(err, -ENOMEM, "out of memory");
	}
	/* the directory: created 0700, ours, no symlink; the lock and the file inside it */
	rc = infra_statedir_open(dir, 0700, "state directory", &dfd, err);
	if (!rc) {
		char shown[4096];
		snprintf(shown, sizeof(shown), "%s.lock", path);
		rc = infra_lock_take_at(dfd, lock, shown, lock_wait_seconds, &s->lockfd, err);
		if (rc)
			close(dfd);
	}
	free(dir);
	free(lock);
	if (rc) {
		free(s->path);
		free(s);
		return rc;
	}
	s->counters = json_object_new_object();
	*out = s;
	rc = infra_file_read_at(dfd, base, INFRA_FILE_NOFOLLOW, STATE_MAX, &b, err);
	close(dfd);
	if (rc == -ENOENT) {
		infra_err_clear(err);
		return 0;
	}
	if (rc)
		return rc;
	if (infra_json_parse(b.data, b.len, &root, err) ||
	    infra_json_get_object(root, "counters", &c, err)) {
		infra_err_prefix(err, "state file '%s' is corrupt, counters restart from 0", path);
		rc = -EINVAL;
	} else {
		json_object_object_foreach(c, k, v) {
			if (json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int))
				json_object_object_add(s->counters, k, json_object_new_double(json_object_get_double(v)));
		}
	}
	json_object_put(root);
	infra_buf_release(&b);
	return rc;
}

double infra_state_get(const struct infra_state *s, const char *name)
{
	json_object *v;

	if (s && json_object_object_get_ex(s->counters, name, &v))
		return json_object_get_double(v);
	return 0;
}

void infra_state_set(struct infra_state *s, const char *name, double value)
{
	if (s)
		json_object_object_add(s->counters, name, json_object_new_double(value));
}

double infra_state_add(struct infra_state *s, const char *name, double delta)
{
	double v = infra_state_get(s, name) + delta;

	infra_state_set(s, name, v);
	return v;
}

int infra_state_save(struct infra_state *s, struct infra_err *err)
{
	json_object *root = json_object_new_object();
	char *text;
	int rc;

	json_object_object_add(root, "version", json_object_new_int(1));
	json_object_object_add(root, "counters", json_object_get(s->counters));
	text = infra_json_canonical(root, 1);
	json_object_put(root);
	if (!text)
		return infra_err_set(err, -ENOMEM, "out of memory");
	rc = infra_atomic_write(s->path, text, strlen(text), err);
	free(text);
	return rc;
}

void infra_state_close(struct infra_state *s)
{
	if (!s)
		return;
	infra_lock_release(s->lockfd);
	json_object_put(s->counters);
	free(s->path);
	free(s);
}

char *infra_state_default_path(const char *tool)
{
	const char *sd = getenv("STATE_DIRECTORY"), *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	char *p = NULL;
	int n;

	if (sd && *sd && !strchr(sd, ':'))
		n = asprintf(&p, "%s/%s.state", sd, tool);
	else if (geteuid() == 0)
		n = asprintf(&p, "/var/lib/infrakit/%s.state", tool);
	else if (xdg && *xdg == '/')
		n = asprintf(&p, "%s/infrakit/%s.state", xdg, tool);
	else if (home && *home == '/')
		n = asprintf(&p, "%s/.local/state/infrakit/%s.state", home, tool);
	else
		n = asprintf(&p, "/tmp/infrakit-%u/%s.state", (unsigned)geteuid(), tool);
	return n < 0 ? NULL : p;
}
