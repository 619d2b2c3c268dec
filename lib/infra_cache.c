#include "infra_cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "infra_buf.h"
#include "infra_file.h"
#include "infra_json.h"
#include "infra_statedir.h"

#define CACHE_MAX_FILE ((size_t)256 << 20)
#define SOURCE_MAX 64

struct cache_count {
	char source[SOURCE_MAX + 1];
	unsigned long hits, misses;
	int seen;             /* this process read or wrote the file: written is known */
	double written;       /* its "written" stamp, -1 when the file was absent */
};

struct infra_cache {
	char *dir;
	int dirfd;
	pthread_mutex_t mu;
	struct cache_count *counts;
	size_t ncounts, capcounts;
};

static int valid_source(const char *s)
{
	size_t n = 0;

	if (!s)
		return 0;
	for (; s[n]; n++) {
		char ch = s[n];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '_' || ch == '-'))
			return 0;
	}
	return n >= 1 && n <= SOURCE_MAX;
}

static int check_source(const char *source, struct infra_err *err)
{
	if (!valid_source(source))
		return infra_err_set(err, -EINVAL, "cache: invalid source name '%.80s' (letters, digits, _ and -, 1 to %d)",
				     source ? source : "(null)", SOURCE_MAX);
	return 0;
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int infra_cache_open(struct infra_cache **out, const char *dir, struct infra_err *err)
{
	struct infra_cache *c;
	int fd, rc;

	*out = NULL;
	if (!dir || !*dir)
		return infra_err_set(err, -EINVAL, "cache directory: no path given");
	rc = infra_statedir_open(dir, 0700, "cache directory", &fd, err);
	if (rc)
		return rc;
	c = calloc(1, sizeof(*c));
	if (!c || !(c->dir = strdup(dir))) {
		free(c);
		close(fd);
		return infra_err_set(err, -ENOMEM, "cache directory %s: out of memory", dir);
	}
	c->dirfd = fd;
	pthread_mutex_init(&c->mu, NULL);
	*out = c;
	return 0;
}

void infra_cache_close(struct infra_cache *c)
{
	if (!c)
		return;
	close(c->dirfd);
	pthread_mutex_destroy(&c->mu);
	free(c->counts);
	free(c->dir);
	free(c);
}

const char *infra_cache_dir(const struct infra_cache *c)
{
	return c ? c->dir : NULL;
}

/* The counter slot of source (created); NULL on ENOMEM.  Called locked. */
static struct cache_count *count_slot(struct infra_cache *c, const char *source)
{
	size_t i;

	for (i = 0; i < c->ncounts; i++)
		if (strcmp(c->counts[i].source, source) == 0)
			return &c->counts[i];
	if (c->ncounts == c->capcounts) {
		size_t nc = c->capcounts ? c->capcounts * 2 : 8;
		struct cache_count *p = realloc(c->counts, nc * sizeof(*p));
		if (!p)
			return NULL;
		c->counts = p;
		c->capcounts = nc;
	}
	memset(&c->counts[c->ncounts], 0, sizeof(c->counts[0]));
	snprintf(c->counts[c->ncounts].source, sizeof(c->counts[0].source), "%s", source);
	return &c->counts[c->ncounts++];
}

/* Remember what this process saw or wrote, so infra_cache_stats need not read (and parse) the file again. */
static void note_written(struct infra_cache *c, const char *source, double written)
{
	struct cache_count *s;

	pthread_mutex_lock(&c->mu);
	s = count_slot(c, source);
	if (s) {
		s->seen = 1;
		s->written = written;
	}
	pthread_mutex_unlock(&c->mu);
}

static void count(struct infra_cache *c, const char *source, int hit)
{
	struct cache_count *s;

	pthread_mutex_lock(&c->mu);
	s = count_slot(c, source);
	if (s) {
		if (hit)
			s->hits++;
		else
			s->misses++;
	}
	pthread_mutex_unlock(&c->mu);
}

/* Read and check <source>.json: 1 with *doc (new ref) and *written, 0 when
 * absent, negative with err (symlink, not regular, unreadable, corrupt). */
static int load(struct infra_cache *c, const char *source, json_object **doc, double *written,
		struct infra_err *err)
{
	char name[SOURCE_MAX + 8];
	struct infra_buf b;
	json_object *root = NULL, *d;
	struct infra_err e2 = INFRA_ERR_INIT;
	const char *src;
	int rc;

	*doc = NULL;
	snprintf(name, sizeof(name), "%s.json", source);
	rc = infra_file_read_at(c->dirfd, name, INFRA_FILE_NOFOLLOW, CACHE_MAX_FILE, &b, &e2);
	if (rc == -ENOENT)
		return 0;
	if (rc == -ELOOP)
		return infra_err_set(err, rc, "cache file %s/%s: a symbolic link (refusing to follow it)", c->dir, name);
	if (rc == -EINVAL)
		return infra_err_set(err, rc, "cache file %s/%s: not a regular file (refusing to read it)", c->dir, name);
	if (rc)
		return infra_err_set(err, rc, "cache file %s/%s: %s", c->dir, name, strerror(-rc));
	rc = infra_json_parse(b.data, b.len, &root, &e2);
	infra_buf_release(&b);
	if (rc)
		return infra_err_set(err, -EPROTO, "cache file %s/%s: %s", c->dir, name, e2.msg);
	if (infra_json_get_string(root, "source", &src, &e2) || strcmp(src, source) != 0 ||
	    infra_json_get_double(root, "written", written, &e2) ||
	    !json_object_object_get_ex(root, "doc", &d) || !d) {
		json_object_put(root);
		return infra_err_set(err, -EPROTO, "cache file %s/%s: not a cache entry for '%s'", c->dir, name, source);
	}
	*doc = json_object_get(d);
	json_object_put(root);
	return 1;
}

int infra_cache_get(struct infra_cache *c, const char *source, long ttl_seconds,
		    json_object **doc, double *age_seconds, struct infra_err *err)
{
	json_object *d = NULL;
	double written = 0, age = -1;
	int rc, hit = 0;

	if (doc)
		*doc = NULL;
	if (age_seconds)
		*age_seconds = -1;
	rc = check_source(source, err);
	if (rc)
		return rc;
	rc = load(c, source, &d, &written, err);
	if (rc < 0) {
		count(c, source, 0);
		return rc;
	}
	if (rc == 1) {
		age = now_seconds() - written;
		if (age < 0)
			age = 0;
		hit = ttl_seconds > 0 && age < (double)ttl_seconds;
	}
	note_written(c, source, rc == 1 ? written : -1);
	count(c, source, hit);
	if (age_seconds)
		*age_seconds = age;
	if (doc)
		*doc = d;
	else
		json_object_put(d);
	return hit;
}

int infra_cache_put(struct infra_cache *c, const char *source, json_object *doc, struct infra_err *err)
{
	char name[SOURCE_MAX + 8];
	struct infra_atomic_file af;
	struct stat st;
	json_object *root;
	const char *text;
	char *path;
	double written;
	int rc;

	rc = check_source(source, err);
	if (rc)
		return rc;
	snprintf(name, sizeof(name), "%s.json", source);
	if (fstatat(c->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISLNK(st.st_mode))
			return infra_err_set(err, -ELOOP, "cache file %s/%s: a symbolic link (refusing to write through or replace it)",
					     c->dir, name);
		if (!S_ISREG(st.st_mode))
			return infra_err_set(err, -EINVAL, "cache file %s/%s: not a regular file (refusing to replace it)",
					     c->dir, name);
	} else if (errno != ENOENT) {
		return infra_err_set(err, -errno, "cache file %s/%s: %s", c->dir, name, strerror(errno));
	}
	root = json_object_new_object();
	if (!root)
		return infra_err_set(err, -ENOMEM, "cache %s: out of memory", source);
	json_object_object_add(root, "source", json_object_new_string(source));
	written = now_seconds();
	json_object_object_add(root, "written", json_object_new_double(written));
	json_object_object_add(root, "doc", json_object_get(doc));
	text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
	path = infra_path_join(c->dir, name);
	if (!text || !path) {
		free(path);
		json_object_put(root);
		return infra_err_set(err, -ENOMEM, "cache %s: out of memory", source);
	}
	rc = infra_atomic_begin(&af, path, err);
	if (!rc) {
		rc = infra_atomic_append(&af, text, strlen(text), err);
		if (!rc)
			rc = infra_atomic_append(&af, "\n", 1, err);
		if (rc)
			infra_atomic_abort(&af);
		else
			rc = infra_atomic_commit(&af, err);
	}
	if (!rc)
		note_written(c, source, written);
	free(path);
	json_object_put(root);
	return rc;
}

static int unlink_one(struct infra_cache *c, const char *name, struct infra_err *err)
{
	if (unlinkat(c->dirfd, name, 0) != 0 && errno != ENOENT)
		return infra_err_set(err, -errno, "cache file %s/%s: cannot remove it: %s", c->dir, name, strerror(errno));
	return 0;
}

/* "<source>.json", or a temp file an interrupted put left (".<source>.json.tmp.XXXXXX"). */
static int cache_name(const char *name)
{
	size_t n = strlen(name);
	char src[SOURCE_MAX + 1];
	const char *t;

	if (name[0] == '.' && (t = strstr(name, ".json.tmp.")) && (size_t)(t - name - 1) <= SOURCE_MAX) {
		snprintf(src, sizeof(src), "%.*s", (int)(t - name - 1), name + 1);
		return valid_source(src);
	}
	if (n <= 5 || n - 5 > SOURCE_MAX || strcmp(name + n - 5, ".json") != 0)
		return 0;
	snprintf(src, sizeof(src), "%.*s", (int)(n - 5), name);
	return valid_source(src);
}

int infra_cache_clear(struct infra_cache *c, const char *source, struct infra_err *err)
{
	char name[SOURCE_MAX + 8];
	struct dirent *de;
	DIR *d;
	int fd, rc = 0;

	if (source) {
		rc = check_source(source, err);
		if (rc)
			return rc;
		snprintf(name, sizeof(name), "%s.json", source);
		rc = unlink_one(c, name, err);
		if (!rc)
			note_written(c, source, -1);
		return rc;
	}
	pthread_mutex_lock(&c->mu);
	for (size_t i = 0; i < c->ncounts; i++)
		c->counts[i].seen = 0; /* read again from the disk */
	pthread_mutex_unlock(&c->mu);
	fd = openat(c->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd))) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		return infra_err_set(err, rc, "cache directory %s: %s", c->dir, strerror(-rc));
	}
	while (!rc && (de = readdir(d)))
		if (cache_name(de->d_name))
			rc = unlink_one(c, de->d_name, err);
	closedir(d);
	return rc;
}

int infra_cache_stats(struct infra_cache *c, const char *source, struct infra_cache_stat *st,
		      struct infra_err *err)
{
	struct cache_count *s;
	json_object *d = NULL;
	double written = 0;
	int rc, seen = 0;

	memset(st, 0, sizeof(*st));
	st->age_seconds = -1;
	rc = check_source(source, err);
	if (rc)
		return rc;
	pthread_mutex_lock(&c->mu);
	for (size_t i = 0; i < c->ncounts; i++) {
		s = &c->counts[i];
		if (strcmp(s->source, source) == 0) {
			st->hits = s->hits;
			st->misses = s->misses;
			seen = s->seen;
			written = s->written;
		}
	}
	pthread_mutex_unlock(&c->mu);
	if (seen) { /* what this process read or wrote last: no second read of a large file */
		if (written >= 0) {
			st->age_seconds = now_seconds() - written;
			if (st->age_seconds < 0)
				st->age_seconds = 0;
		}
	} else if (load(c, source, &d, &written, NULL) == 1) {
		st->age_seconds = now_seconds() - written;
		if (st->age_seconds < 0)
			st->age_seconds = 0;
	}
	json_object_put(d);
	return 0;
}
