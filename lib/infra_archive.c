#include "infra_archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "infra_statedir.h"

#define BLOCK 65536

/* "a/b" into buf; -ENAMETOOLONG when it does not fit */
static int pjoin(char *buf, size_t size, const char *a, const char *b)
{
	int n = snprintf(buf, size, "%s/%s", a, b);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}
#define MAX_FILE ((size_t)512 << 20)

struct names {
	char **v;
	size_t n, alloc;
};

static int names_add(struct names *s, const char *name)
{
	if (s->n == s->alloc) {
		size_t na = s->alloc ? s->alloc * 2 : 64;
		char **nv = realloc(s->v, na * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		s->v = nv;
		s->alloc = na;
	}
	s->v[s->n] = strdup(name);
	if (!s->v[s->n])
		return -ENOMEM;
	s->n++;
	return 0;
}

static int names_has(const struct names *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i], name))
			return 1;
	return 0;
}

static void names_free(struct names *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* read a regular file (never through a symlink, never blocking on a FIFO);
 * st receives its mode and times, from the file actually read */
static int read_disk(const char *path, char **data, size_t *len, struct stat *stp,
		     struct infra_err *err)
{
	struct stat st;
	ssize_t n;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);

	if (fd < 0)
		return infra_err_set(err, -errno, "cannot read %s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > MAX_FILE) {
		close(fd);
		return infra_err_set(err, -EFBIG, "cannot archive %s: not a regular file, too large or unreadable", path);
	}
	*stp = st;
	*data = malloc((size_t)st.st_size + 1);
	if (!*data) {
		close(fd);
		return infra_err_set(err, -ENOMEM, "out of memory");
	}
	while (got < (size_t)st.st_size && (n = read(fd, *data + got, (size_t)st.st_size - got)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			free(*data);
			close(fd);
			return infra_err_set(err, -errno, "cannot read %s: %s", path, strerror(errno));
		}
		got += (size_t)n;
	}
	close(fd);
	*len = got;
	return 0;
}

/* collect relative file and dir names under base/rel */
static int walk(const char *base, const char *rel, struct names *files, struct names *dirs,
		struct infra_err *err)
{
	char path[PATH_MAX];
	DIR *d;
	struct dirent *e;
	int rc = 0;

	if (pjoin(path, sizeof(path), base, rel))
		return infra_err_set(err, -ENAMETOOLONG, "name too long under %s", base);
	d = infra_opendir_nofollow(path); /* never through a symlinked directory (a run dir pointing elsewhere) */
	if (!d) {
		rc = -errno;
		return infra_err_set(err, rc, "cannot open %s: %s", path, strerror(-rc));
	}
	if (names_add(dirs, rel)) {
		closedir(d);
		return infra_err_set(err, -ENOMEM, "out of memory");
	}
	while (!rc && (e = readdir(d))) {
		char sub[PATH_MAX], full[PATH_MAX];
		struct stat st;
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", rel, e->d_name) >= sizeof(sub))
			return infra_err_set(err, -ENAMETOOLONG, "name too long under %s", path);
		if (pjoin(full, sizeof(full), base, sub))
			rc = infra_err_set(err, -ENAMETOOLONG, "name too long under %s", path);
		else if (lstat(full, &st) != 0) {
			rc = infra_err_set(err, -errno, "cannot stat %s: %s", full, strerror(errno));
		} else if (S_ISDIR(st.st_mode)) {
			rc = walk(base, sub, files, dirs, err);
		} else if (S_ISREG(st.st_mode)) {
			if (names_add(files, sub))
				rc = infra_err_set(err, -ENOMEM, "out of memory");
		} /* sockets, symlinks...: not run data, skipped */
	}
	closedir(d);
	return rc;
}

static int arch_err(struct infra_err *err, struct archive *a, const char *what, const char *path)
{
	return infra_err_set(err, -EIO, "%s %s: %s", what, path,
			     archive_error_string(a) ? archive_error_string(a) : "libarchive error");
}

/* a reader of tar.gz opened on path, or NULL with err set */
static struct archive *open_reader(const char *path, const char *what, struct infra_err *err)
{
	struct archive *rd = archive_read_new();

	if (!rd) {
		infra_err_set(err, -ENOMEM, "out of memory");
		return NULL;
	}
	archive_read_support_filter_gzip(rd);
	archive_read_support_format_tar(rd);
	if (archive_read_open_filename(rd, path, BLOCK) != ARCHIVE_OK) {
		arch_err(err, rd, what, path);
		archive_read_free(rd);
		return NULL;
	}
	return rd;
}

static int write_file_entry(struct archive *w, const char *name, const char *data, size_t len,
			    const struct stat *st, struct infra_err *err, const char *tmp)
{
	struct archive_entry *e = archive_entry_new();
	int rc = 0;

	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, st->st_mode & 07777);
	archive_entry_set_size(e, (la_int64_t)len);
	archive_entry_set_mtime(e, st->st_mtime, 0);
	if (archive_write_header(w, e) != ARCHIVE_OK ||
	    (len && archive_write_data(w, data, len) != (la_ssize_t)len))
		rc = arch_err(err, w, "cannot write", tmp);
	archive_entry_free(e);
	return rc;
}

/* copy the old archive's entries, except names in skip */
static int copy_old(struct archive *w, const char *archive, const struct names *skip,
		    struct names *kept, const char *tmp, struct infra_err *err)
{
	struct archive *rd;
	struct archive_entry *e;
	char *buf = malloc(BLOCK);
	int rc = 0, r;

	if (!buf)
		return infra_err_set(err, -ENOMEM, "out of memory");
	rd = open_reader(archive, "cannot read", err);
	if (!rd) {
		free(buf);
		return err ? err->code : -EIO;
	}
	while ((r = archive_read_next_header(rd, &e)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);
		la_ssize_t n;
		if (!name || names_has(skip, name)) {
			archive_read_data_skip(rd);
			continue;
		}
		if (names_add(kept, name)) {
			rc = infra_err_set(err, -ENOMEM, "out of memory");
			goto out;
		}
		if (archive_write_header(w, e) != ARCHIVE_OK) {
			rc = arch_err(err, w, "cannot write", tmp);
			goto out;
		}
		while ((n = archive_read_data(rd, buf, BLOCK)) > 0)
			if (archive_write_data(w, buf, (size_t)n) != n) {
				rc = arch_err(err, w, "cannot write", tmp);
				goto out;
			}
		if (n < 0) {
			rc = arch_err(err, rd, "cannot read", archive);
			goto out;
		}
	}
	if (r != ARCHIVE_EOF)
		rc = arch_err(err, rd, "cannot read", archive);
out:
	free(buf);
	archive_read_free(rd);
	return rc;
}

/* read tmp back: all expected names present once, new files byte-equal */
static int verify(const char *tmp, const char *base, const struct names *kept, const struct names *files,
		  const struct names *dirs, struct infra_err *err)
{
	struct archive *rd = open_reader(tmp, "cannot read back", err);
	struct archive_entry *e;
	struct names seen = { 0 };
	int rc = 0, r = ARCHIVE_EOF;

	if (!rd)
		return -EIO;
	while (!rc && (r = archive_read_next_header(rd, &e)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);
		char *disk = NULL, *got = NULL;
		size_t dlen = 0, glen = 0, cap;
		la_ssize_t n;
		if (!name || names_has(&seen, name) || names_add(&seen, name)) {
			rc = infra_err_set(err, -EIO, "verify %s: duplicate or unnamed entry", tmp);
			break;
		}
		if (!names_has(files, name)) {
			char sink[BLOCK];
			while ((n = archive_read_data(rd, sink, sizeof(sink))) > 0)
				;
			if (n < 0)
				rc = arch_err(err, rd, "verify", tmp);
			continue;
		}
		{
			char path[PATH_MAX];
			struct stat st;
			rc = pjoin(path, sizeof(path), base, name)
				     ? infra_err_set(err, -ENAMETOOLONG, "name too long: %s", name)
				     : read_disk(path, &disk, &dlen, &st, err);
		}
		if (rc)
			break;
		cap = dlen + 1;
		got = malloc(cap);
		while (got && (n = archive_read_data(rd, got + glen, cap - glen)) > 0) {
			glen += (size_t)n;
			if (glen == cap)
				break; /* more than on disk: mismatch */
		}
		if (!got || glen != dlen || memcmp(got, disk, dlen) != 0)
			rc = infra_err_set(err, -EIO, "verify %s: entry %s differs from the file on disk", tmp, name);
		free(got);
		free(disk);
	}
	if (!rc && r != ARCHIVE_EOF)
		rc = arch_err(err, rd, "verify", tmp);
	for (size_t i = 0; !rc && i < kept->n; i++)
		if (!names_has(&seen, kept->v[i]))
			rc = infra_err_set(err, -EIO, "verify %s: old entry %s missing", tmp, kept->v[i]);
	for (size_t i = 0; !rc && i < files->n; i++)
		if (!names_has(&seen, files->v[i]))
			rc = infra_err_set(err, -EIO, "verify %s: new entry %s missing", tmp, files->v[i]);
	for (size_t i = 0; !rc && i < dirs->n; i++) {
		char dn[PATH_MAX];
		snprintf(dn, sizeof(dn), "%.4000s/", dirs->v[i]);
		if (!names_has(&seen, dn))
			rc = infra_err_set(err, -EIO, "verify %s: directory entry %s missing", tmp, dn);
	}
	names_free(&seen);
	archive_read_free(rd);
	return rc;
}

int infra_archive_append_dirs(const char *archive, const char *base, const char *const *dirs,
			      size_t ndirs, struct infra_err *err)
{
	struct names files = { 0 }, dnames = { 0 }, skip = { 0 }, kept = { 0 };
	struct archive *w = NULL;
	char tmp[PATH_MAX], adir[PATH_MAX];
	const char *slash;
	int fd = -1, rc = 0;

	slash = strrchr(archive, '/');
	snprintf(adir, sizeof(adir), "%.*s", slash ? (int)(slash - archive) : 1, slash ? archive : ".");
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.tmp.XXXXXX", adir, slash ? slash + 1 : archive) >= sizeof(tmp))
		return infra_err_set(err, -ENAMETOOLONG, "archive name too long");
	for (size_t i = 0; !rc && i < ndirs; i++)
		rc = walk(base, dirs[i], &files, &dnames, err);
	for (size_t i = 0; !rc && i < files.n; i++)
		rc = names_add(&skip, files.v[i]) ? infra_err_set(err, -ENOMEM, "out of memory") : 0;
	for (size_t i = 0; !rc && i < dnames.n; i++) {
		char dn[PATH_MAX];
		snprintf(dn, sizeof(dn), "%.4000s/", dnames.v[i]);
		rc = names_add(&skip, dn) ? infra_err_set(err, -ENOMEM, "out of memory") : 0;
	}
	if (rc)
		goto out;
	fd = mkstemp(tmp);
	if (fd < 0) {
		rc = infra_err_set(err, -errno, "cannot create %s: %s", tmp, strerror(errno));
		goto out;
	}
	fchmod(fd, 0644);
	w = archive_write_new();
	archive_write_add_filter_gzip(w);
	archive_write_set_format_pax_restricted(w);
	if (archive_write_open_fd(w, fd) != ARCHIVE_OK) {
		rc = arch_err(err, w, "cannot write", tmp);
		goto out;
	}
	if (access(archive, F_OK) == 0)
		rc = copy_old(w, archive, &skip, &kept, tmp, err);
	for (size_t i = 0; !rc && i < dnames.n; i++) {
		struct archive_entry *e = archive_entry_new();
		struct stat st;
		char dn[PATH_MAX], path[PATH_MAX];
		snprintf(dn, sizeof(dn), "%.4000s/", dnames.v[i]);
		if (pjoin(path, sizeof(path), base, dnames.v[i]) || lstat(path, &st) != 0)
			st.st_mtime = 0;
		archive_entry_set_pathname(e, dn);
		archive_entry_set_filetype(e, AE_IFDIR);
		archive_entry_set_perm(e, 0755);
		archive_entry_set_mtime(e, st.st_mtime, 0);
		if (archive_write_header(w, e) != ARCHIVE_OK)
			rc = arch_err(err, w, "cannot write", tmp);
		archive_entry_free(e);
	}
	for (size_t i = 0; !rc && i < files.n; i++) {
		char path[PATH_MAX], *data = NULL;
		size_t len = 0;
		struct stat st;
		if (pjoin(path, sizeof(path), base, files.v[i])) {
			rc = infra_err_set(err, -ENAMETOOLONG, "name too long: %s", files.v[i]);
			break;
		}
		rc = read_disk(path, &data, &len, &st, err);
		if (!rc)
			rc = write_file_entry(w, files.v[i], data, len, &st, err, tmp);
		free(data);
	}
	if (!rc && archive_write_close(w) != ARCHIVE_OK)
		rc = arch_err(err, w, "cannot finish", tmp);
	archive_write_free(w);
	w = NULL;
	if (!rc && fsync(fd) != 0)
		rc = infra_err_set(err, -errno, "cannot sync %s: %s", tmp, strerror(errno));
	close(fd);
	fd = -1;
	if (!rc)
		rc = verify(tmp, base, &kept, &files, &dnames, err);
	if (!rc && rename(tmp, archive) != 0)
		rc = infra_err_set(err, -errno, "cannot rename %s to %s: %s", tmp, archive, strerror(errno));
	if (!rc) {
		int dfd = open(adir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
	}
out:
	if (w)
		archive_write_free(w);
	if (fd >= 0)
		close(fd);
	if (rc)
		unlink(tmp);
	names_free(&files);
	names_free(&dnames);
	names_free(&skip);
	names_free(&kept);
	return rc;
}

int infra_archive_list(const char *archive, json_object **entries, struct infra_err *err)
{
	struct archive *rd = open_reader(archive, "cannot read", err);
	struct archive_entry *e;
	json_object *list;
	int rc = 0, r;

	*entries = NULL;
	if (!rd)
		return -EIO;
	list = json_object_new_array();
	while ((r = archive_read_next_header(rd, &e)) == ARCHIVE_OK) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "name", json_object_new_string(archive_entry_pathname(e) ?: ""));
		json_object_object_add(o, "size", json_object_new_int64(archive_entry_size(e)));
		json_object_object_add(o, "type", json_object_new_string(
			archive_entry_filetype(e) == AE_IFDIR ? "dir" : "file"));
		json_object_array_add(list, o);
		archive_read_data_skip(rd);
	}
	if (r != ARCHIVE_EOF)
		rc = arch_err(err, rd, "cannot read", archive);
	archive_read_free(rd);
	if (rc)
		json_object_put(list);
	else
		*entries = list;
	return rc;
}

int infra_archive_read_entry(const char *archive, const char *name, size_t max, char **data,
			     size_t *len, struct infra_err *err)
{
	struct archive *rd = open_reader(archive, "cannot read", err);
	struct archive_entry *e;
	int rc = -ENOENT, r;

	*data = NULL;
	*len = 0;
	if (!rd)
		return -EIO;
	while ((r = archive_read_next_header(rd, &e)) == ARCHIVE_OK) {
		la_int64_t size = archive_entry_size(e);
		la_ssize_t n;
		size_t got = 0;
		if (strcmp(archive_entry_pathname(e) ?: "", name)) {
			archive_read_data_skip(rd);
			continue;
		}
		if (size < 0 || (size_t)size > max) {
			rc = infra_err_set(err, -E2BIG, "%s in %s is larger than %zu bytes", name, archive, max);
			goto out;
		}
		*data = malloc((size_t)size + 1);
		if (!*data) {
			rc = infra_err_set(err, -ENOMEM, "out of memory");
			goto out;
		}
		while (got < (size_t)size && (n = archive_read_data(rd, *data + got, (size_t)size - got)) > 0)
			got += (size_t)n;
		(*data)[got] = '\0';
		*len = got;
		rc = got == (size_t)size ? 0 : arch_err(err, rd, "cannot read", archive);
		goto out;
	}
	if (r != ARCHIVE_EOF)
		rc = arch_err(err, rd, "cannot read", archive);
	else
		infra_err_set(err, -ENOENT, "%s has no entry %s", archive, name);
out:
	archive_read_free(rd);
	if (rc) {
		free(*data);
		*data = NULL;
	}
	return rc;
}
