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
#include "infra_report.h"

#define STATE_MAX ((size_t)1 << 20)

struct infra_state {
	char *path;
	int lockfd;
	json_object *counters;
};

static int mkdir_p(const char *dir)
{
	char buf[4096];
	size_t n = strlen(dir);

	if (n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, dir, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int take_lock(const char *path, double wait, struct infra_err *err)
{
	char *lp;
	int fd;
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	double waited = 0;

	if (asprintf(&lp, "%s.lock", path) < 0)
		return infra_err_set(err, -ENOMEM, "out of memory");
	fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		int e = errno;
		infra_err_set(err, -e, "cannot open state lock '%s': %s", lp, strerror(e));
		free(lp);
		return -e;
	}
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK || waited >= wait) {
			int e = errno == EWOULDBLOCK ? ETIMEDOUT : errno;
			infra_err_set(err, -e, "cannot lock state '%s': %s", lp,
				      e == ETIMEDOUT ? "another run holds it" : strerror(e));
			close(fd);
			free(lp);
			return -e;
		}
		nanosleep(&ts, NULL);
		waited += 0.05;
	}
	free(lp);
	return fd;
}

int infra_state_open(const char *path, double lock_wait_seconds, struct infra_state **out,
		     struct infra_err *err)
{
	struct infra_buf b = INFRA_BUF_INIT;
	struct infra_state *s;
	json_object *root = NULL, *c;
	const char *slash = strrchr(path, '/');
	int rc = 0;

	*out = NULL;
	if (slash && slash != path) {
		char *dir = strndup(path, (size_t)(slash - path));
		rc = dir ? mkdir_p(dir) : -ENOMEM;
		if (rc)
			infra_err_set(err, rc, "cannot create state directory '%s': %s", dir ? dir : path,
				      strerror(-rc));
		free(dir);
		if (rc)
			return rc;
	}
	s = calloc(1, sizeof(*s));
	if (!s || !(s->path = strdup(path))) {
		free(s);
		return infra_err_set(err, -ENOMEM, "out of memory");
	}
	s->lockfd = take_lock(path, lock_wait_seconds, err);
	if (s->lockfd < 0) {
		rc = s->lockfd;
		free(s->path);
		free(s);
		return rc;
	}
	s->counters = json_object_new_object();
	*out = s;
	rc = infra_file_read_at(AT_FDCWD, path, 0, STATE_MAX, &b, err);
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
	if (s->lockfd >= 0)
		close(s->lockfd);
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
