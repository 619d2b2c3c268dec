#include "infra_history.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "infra_archive.h"
#include "infra_buf.h"
#include "infra_file.h"
#include "infra_json.h"
#include "infra_report.h"
#include "infra_statedir.h"

int infra_state_dir_default(const char *app, char *buf, size_t size, struct infra_err *err)
{
	const char *x = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	int n;

	if (geteuid() == 0)
		n = snprintf(buf, size, "/var/lib/infrakit/%s", app);
	else if (x && x[0] == '/')
		n = snprintf(buf, size, "%s/infrakit/%s", x, app);
	else if (home && *home)
		n = snprintf(buf, size, "%s/.local/state/infrakit/%s", home, app);
	else
		return infra_err_set(err, -ENOENT, "no state directory: HOME is not set (use --state-dir)");
	if (n < 0 || (size_t)n >= size)
		return infra_err_set(err, -ENAMETOOLONG, "state directory name too long");
	return 0;
}

int infra_mkdir_p(const char *path, mode_t mode, struct infra_err *err)
{
	char p[PATH_MAX];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(p))
		return infra_err_set(err, -ENAMETOOLONG, "bad directory name '%s'", path);
	memcpy(p, path, n + 1);
	for (char *s = p + 1; ; s++) {
		if (*s == '/' || *s == '\0') {
			char c = *s;
			*s = '\0';
			if (mkdir(p, mode) != 0 && errno != EEXIST)
				return infra_err_set(err, -errno, "cannot create directory %s: %s", p, strerror(errno));
			*s = c;
			if (!c)
				break;
		}
	}
	{
		struct stat st;
		if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
			return infra_err_set(err, -ENOTDIR, "%s is not a directory", path);
	}
	return 0;
}

void infra_run_id(double t, char *buf, size_t size)
{
	time_t tt = (time_t)floor(t);
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(buf, size, "%Y%m%dT%H%M%SZ", &tm))
		snprintf(buf, size, "19700101T000000Z");
}

int infra_run_id_parse(const char *id, double *t)
{
	struct tm tm;
	const char *p;
	time_t tt;

	memset(&tm, 0, sizeof(tm));
	if (strlen(id) < 16)
		return -EINVAL;
	p = strptime(id, "%Y%m%dT%H%M%SZ", &tm);
	if (!p || (*p && *p != '-'))
		return -EINVAL;
	tt = timegm(&tm);
	if (tt == (time_t)-1)
		return -EINVAL;
	*t = (double)tt;
	return 0;
}

int infra_run_dir_create(const char *state, double t, char *dir, size_t dsize, char *id,
			 size_t isize, struct infra_err *err)
{
	char base[32], runs[PATH_MAX];
	int sfd, rfd, rc;

	snprintf(runs, sizeof(runs), "%s/runs", state);
	rc = infra_statedir_open(state, 0700, "state directory", &sfd, err);
	if (rc)
		return rc;
	rc = infra_statedir_sub(sfd, "runs", runs, 0755, 0, &rfd, err);
	close(sfd);
	if (rc)
		return rc;
	infra_run_id(t, base, sizeof(base));
	for (int i = 1; i < 1000; i++) {
		if (i == 1)
			snprintf(id, isize, "%s", base);
		else
			snprintf(id, isize, "%s-%d", base, i);
		if ((size_t)snprintf(dir, dsize, "%s/%s", runs, id) >= dsize) {
			close(rfd);
			return infra_err_set(err, -ENAMETOOLONG, "run directory name too long");
		}
		if (mkdirat(rfd, id, 0755) == 0) {
			close(rfd);
			return 0;
		}
		if (errno != EEXIST) {
			rc = infra_err_set(err, -errno, "cannot create %s: %s", dir, strerror(errno));
			close(rfd);
			return rc;
		}
	}
	close(rfd);
	return infra_err_set(err, -EEXIST, "too many runs in the same second under %s", runs);
}

int infra_json_file_read(const char *path, json_object **out, struct infra_err *err)
{
	struct infra_buf b = INFRA_BUF_INIT;
	int rc;

	*out = NULL;
	rc = infra_file_read_at(AT_FDCWD, path, INFRA_FILE_NOFOLLOW, (size_t)256 << 20, &b, err);
	if (rc == -ENOENT)
		return infra_err_set(err, -ENOENT, "%s does not exist", path);
	if (rc)
		return rc;
	if (infra_json_parse(b.data, b.len, out, err))
		rc = infra_err_prefix(err, "%s", path);
	infra_buf_release(&b);
	return rc;
}

int infra_json_file_write(const char *path, json_object *o, struct infra_err *err)
{
	char *s = infra_json_canonical(o, 1);
	struct infra_buf b = INFRA_BUF_INIT;
	int rc;

	if (!s)
		return infra_err_set(err, -ENOMEM, "out of memory");
	rc = infra_buf_puts(&b, s);
	free(s);
	if (!rc)
		rc = infra_buf_putc(&b, '\n');
	if (rc)
		rc = infra_err_set(err, rc, "out of memory");
	else
		rc = infra_atomic_write(path, b.data, b.len, err);
	infra_buf_release(&b);
	return rc;
}

int infra_history_read(const char *path, json_object **entries, struct infra_err *err)
{
	json_object *doc = NULL, *list = NULL;
	int rc = infra_json_file_read(path, &doc, err);

	*entries = NULL;
	if (rc == -ENOENT) {
		*entries = json_object_new_array();
		return 0;
	}
	if (rc)
		return rc;
	if (infra_json_get_array(doc, "entries", &list, err)) {
		json_object_put(doc);
		return infra_err_prefix(err, "%s", path);
	}
	*entries = json_object_get(list);
	json_object_put(doc);
	return 0;
}

int infra_history_append(const char *path, json_object *entry, size_t max,
			 json_object **entries, struct infra_err *err)
{
	struct infra_err rerr = INFRA_ERR_INIT;
	json_object *list = NULL, *doc, *keep;
	size_t n, skip;
	int corrupt = 0, rc;

	rc = infra_history_read(path, &list, &rerr);
	if (rc) {
		char aside[PATH_MAX];
		if (rc == -EIO || rc == -EACCES || rc == -EPERM)
			return infra_err_set(err, rc, "%s", rerr.msg);
		snprintf(aside, sizeof(aside), "%s.corrupt", path);
		if (rename(path, aside) != 0)
			return infra_err_set(err, -errno, "%s; cannot move it aside: %s", rerr.msg, strerror(errno));
		corrupt = 1;
		list = json_object_new_array();
	}
	json_object_array_add(list, json_object_get(entry));
	n = json_object_array_length(list);
	skip = max && n > max ? n - max : 0;
	keep = json_object_new_array();
	for (size_t i = skip; i < n; i++)
		json_object_array_add(keep, json_object_get(json_object_array_get_idx(list, i)));
	json_object_put(list);
	doc = json_object_new_object();
	json_object_object_add(doc, "version", json_object_new_int(1));
	json_object_object_add(doc, "entries", json_object_get(keep));
	rc = infra_json_file_write(path, doc, err);
	json_object_put(doc);
	if (!rc && entries)
		*entries = json_object_get(keep);
	json_object_put(keep);
	if (!rc && corrupt)
		return infra_err_set(err, -EILSEQ, "%s (kept as %s.corrupt, a new history was started)",
				     rerr.msg, path);
	return rc;
}

int infra_rm_rf(const char *path, struct infra_err *err)
{
	struct stat st;
	DIR *d;
	struct dirent *e;
	int rc = 0;

	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : infra_err_set(err, -errno, "cannot remove %s: %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode)) {
		if (unlink(path) != 0)
			return infra_err_set(err, -errno, "cannot remove %s: %s", path, strerror(errno));
		return 0;
	}
	d = infra_opendir_nofollow(path);
	if (!d) {
		rc = -errno;
		return infra_err_set(err, rc, "cannot open %s: %s", path, strerror(-rc));
	}
	while (!rc && (e = readdir(d))) {
		char sub[PATH_MAX];
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name) >= sizeof(sub))
			rc = infra_err_set(err, -ENAMETOOLONG, "name too long under %s", path);
		else
			rc = infra_rm_rf(sub, err);
	}
	closedir(d);
	if (!rc && rmdir(path) != 0)
		rc = infra_err_set(err, -errno, "cannot remove %s: %s", path, strerror(errno));
	return rc;
}

/* ---- retention ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int infra_retention_apply(const char *state, const char *current, double cutoff,
			  struct infra_retention_result *rr, struct infra_err *err)
{
	char runs[PATH_MAX], adir[PATH_MAX];
	char **ids = NULL;
	size_t n = 0, alloc = 0;
	DIR *d;
	struct dirent *e;
	int rc = 0, first_rc = 0;

	memset(rr, 0, sizeof(*rr));
	snprintf(runs, sizeof(runs), "%s/runs", state);
	d = infra_opendir_nofollow(runs); /* runs/ and its entries are never followed through a symlink */
	if (!d) {
		rc = errno;
		return rc == ENOENT ? 0 : infra_err_set(err, -rc, "cannot open %s: %s", runs, strerror(rc));
	}
	while ((e = readdir(d))) {
		struct stat st;
		double t;
		if (e->d_name[0] == '.' || infra_run_id_parse(e->d_name, &t) ||
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode))
			continue; /* not a run directory (a symlink is never one) */
		if (t >= cutoff || (current && !strcmp(e->d_name, current))) {
			rr->kept_runs++;
			continue;
		}
		if (n == alloc) {
			size_t na = alloc ? alloc * 2 : 32;
			char **nv = realloc(ids, na * sizeof(*nv));
			if (!nv) {
				rc = infra_err_set(err, -ENOMEM, "out of memory");
				break;
			}
			ids = nv;
			alloc = na;
		}
		if (!(ids[n] = strdup(e->d_name))) {
			rc = infra_err_set(err, -ENOMEM, "out of memory");
			break;
		}
		n++;
	}
	closedir(d);
	if (!rc && n) {
		int sfd, afd;
		snprintf(adir, sizeof(adir), "%s/archive", state);
		rc = infra_statedir_open(state, 0700, "state directory", &sfd, err);
		if (!rc) {
			rc = infra_statedir_sub(sfd, "archive", adir, 0755, 0, &afd, err);
			close(sfd);
			if (!rc)
				close(afd);
		}
	}
	if (!rc && n)
		qsort(ids, n, sizeof(*ids), cmp_str);
	/* one archive per month (YYYYMM of the id) */
	for (size_t i = 0; !rc && i < n;) {
		char month[8], archive[PATH_MAX], rel[24][PATH_MAX / 16];
		const char *dirs[24];
		size_t j = i, k;
		struct infra_err merr = INFRA_ERR_INIT;
		int mrc;

		snprintf(month, sizeof(month), "%.4s-%.2s", ids[i], ids[i] + 4);
		/* batches of at most 24 directories of the same month */
		for (k = 0; j < n && k < 24 && !strncmp(ids[j], ids[i], 6); j++, k++) {
			snprintf(rel[k], sizeof(rel[k]), "runs/%s", ids[j]);
			dirs[k] = rel[k];
		}
		if ((size_t)snprintf(archive, sizeof(archive), "%s/%s.tar.gz", adir, month) >= sizeof(archive))
			mrc = infra_err_set(&merr, -ENAMETOOLONG, "archive name too long");
		else
			mrc = infra_archive_append_dirs(archive, state, dirs, k, &merr);
		if (!mrc) {
			char name[40];
			int known = 0;
			snprintf(name, sizeof(name), "archive/%s.tar.gz", month);
			for (int a = 0; a < rr->narchives; a++)
				known |= !strcmp(rr->archives[a], name);
			if (!known && rr->narchives < 24)
				snprintf(rr->archives[rr->narchives++], sizeof(rr->archives[0]), "%s", name);
			for (size_t m = 0; m < k && !mrc; m++) {
				char full[PATH_MAX];
				if ((size_t)snprintf(full, sizeof(full), "%s/%s", state, dirs[m]) >= sizeof(full))
					mrc = infra_err_set(&merr, -ENAMETOOLONG, "name too long");
				else
					mrc = infra_rm_rf(full, &merr);
				if (!mrc)
					rr->archived_runs++;
			}
		}
		if (mrc) {
			rr->kept_runs += (int)k;
			if (!first_rc) {
				first_rc = mrc;
				infra_err_set(err, mrc, "%s", merr.msg);
			}
		}
		i = j;
	}
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	return rc ? rc : first_rc;
}

json_object *infra_retention_json(const struct infra_retention_result *rr, int days)
{
	json_object *o = json_object_new_object(), *a = json_object_new_array();

	json_object_object_add(o, "days", json_object_new_int(days));
	json_object_object_add(o, "archived_runs", json_object_new_int(rr->archived_runs));
	json_object_object_add(o, "kept_runs", json_object_new_int(rr->kept_runs));
	for (int i = 0; i < rr->narchives; i++)
		json_object_array_add(a, json_object_new_string(rr->archives[i]));
	json_object_object_add(o, "archives", a);
	return o;
}
