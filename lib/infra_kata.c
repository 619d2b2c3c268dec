#include "infra_kata.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "infra_file.h"
#include "infra_json.h"

#define SOCK_NAME "shim-monitor.sock"
#define META_MAX ((size_t)16 << 20) /* persist.json / config.json cap */

const struct infra_kata_root infra_kata_default_roots[2] = {
	{ "/run/vc/sbs", INFRA_KATA_GO },
	{ "/run/kata", INFRA_KATA_RS },
};

const char *infra_kata_runtime_name(enum infra_kata_runtime rt)
{
	return rt == INFRA_KATA_RS ? "rs" : "go";
}

int infra_kata_root_parse(const char *s, struct infra_kata_root *out, struct infra_err *err)
{
	const char *base;
	size_t len;

	if (!strncmp(s, "go:", 3) || !strncmp(s, "rs:", 3)) {
		out->runtime = s[0] == 'r' ? INFRA_KATA_RS : INFRA_KATA_GO;
		out->path = s + 3;
	} else {
		out->path = s;
		len = strlen(s);
		while (len > 1 && s[len - 1] == '/')
			len--;
		base = s + len;
		while (base > s && base[-1] != '/')
			base--;
		out->runtime = (s + len - base == 4 && !strncmp(base, "kata", 4)) ? INFRA_KATA_RS
									   : INFRA_KATA_GO;
	}
	if (!*out->path)
		return infra_err_set(err, -EINVAL, "empty sandbox directory in '%s'", s);
	return 0;
}

int infra_kata_valid_id(const char *id)
{
	size_t i;

	if (!id || !((id[0] >= 'a' && id[0] <= 'z') || (id[0] >= 'A' && id[0] <= 'Z') ||
		     (id[0] >= '0' && id[0] <= '9')))
		return 0;
	for (i = 0; id[i]; i++) {
		char c = id[i];
		if (i >= 128)
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return 0;
	}
	return 1;
}

static void sandbox_release(struct infra_kata_sandbox *sb)
{
	free(sb->id);
	free(sb->dir);
	free(sb->socket);
	free(sb->socket_display);
	free(sb->cri_uid);
	free(sb->cri_name);
	free(sb->cri_namespace);
	if (sb->dirfd >= 0)
		close(sb->dirfd);
	memset(sb, 0, sizeof(*sb));
	sb->dirfd = -1;
}

void infra_kata_set_release(struct infra_kata_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		sandbox_release(&set->v[i]);
	free(set->v);
	set->v = NULL;
	set->n = 0;
}

int infra_kata_set_meta(struct infra_kata_sandbox *sb, const char *uid, const char *name,
			const char *ns, const char *source)
{
	char *u = strdup(uid ? uid : ""), *n = strdup(name ? name : ""), *s = strdup(ns ? ns : "");

	if (!u || !n || !s) {
		free(u);
		free(n);
		free(s);
		return -ENOMEM;
	}
	free(sb->cri_uid);
	free(sb->cri_name);
	free(sb->cri_namespace);
	sb->cri_uid = u;
	sb->cri_name = n;
	sb->cri_namespace = s;
	sb->meta_source = source;
	return 0;
}

/* ---- abstract sockets bound in this network namespace (/proc/net/unix) ---- */

static int abstract_bound(const struct infra_buf *procnet, const char *name)
{
	size_t nl = strlen(name);
	const char *p = procnet->data;

	if (!p)
		return 0;
	/* each line ends with the path; abstract ones start with '@' */
	while ((p = strstr(p, name)) != NULL) {
		if (p > procnet->data && p[-1] == '@' && (p[nl] == '\n' || p[nl] == '\0'))
			return 1;
		p += nl;
	}
	return 0;
}

static int resolve_socket(struct infra_kata_sandbox *sb, int dirfd, const struct infra_buf *procnet)
{
	struct stat st;
	char buf[PATH_MAX];
	char *full;
	int denied = 0;

	if (fstatat(dirfd, SOCK_NAME, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		denied = errno == EACCES || errno == EPERM ? errno : 0;
	} else if (S_ISSOCK(st.st_mode)) {
		if (asprintf(&full, "%s/%s", sb->dir, SOCK_NAME) < 0)
			return -ENOMEM;
		sb->socket_display = full;
		sb->socket_kind = INFRA_KATA_SOCK_PATH;
		if (strlen(full) < sizeof(((struct sockaddr_un *)0)->sun_path)) {
			sb->socket = strdup(full);
		} else {
			/* through the directory we validated: no symlink can be swapped in */
			sb->dirfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
			if (sb->dirfd < 0)
				return -errno;
			snprintf(buf, sizeof(buf), "/proc/self/fd/%d/%s", sb->dirfd, SOCK_NAME);
			sb->socket = strdup(buf);
		}
		return sb->socket ? 0 : -ENOMEM;
	}
	if (sb->runtime == INFRA_KATA_GO) {
		/* Kata 2.1, then 2.0 (containerd namespace k8s.io, then default) */
		const char *fmts[] = { "/run/vc/%s/shim-monitor", "/containerd-shim/k8s.io/%s/shim-monitor.sock",
				       "/containerd-shim/default/%s/shim-monitor.sock" };
		for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
			snprintf(buf, sizeof(buf), fmts[i], sb->id);
			if (!abstract_bound(procnet, buf))
				continue;
			sb->socket = strdup(buf);
			if (asprintf(&sb->socket_display, "@%s", buf) < 0)
				sb->socket_display = NULL;
			if (!sb->socket || !sb->socket_display)
				return -ENOMEM;
			sb->socket_kind = INFRA_KATA_SOCK_ABSTRACT;
			return 0;
		}
	}
	if (denied)
		sb->access_errno = denied; /* not "no socket": we could not look */
	else
		sb->skip_reason = "no shim-monitor.sock";
	return 0;
}

char *infra_kata_socket_path(const char *path, int *dirfd)
{
	const char *slash = strrchr(path, '/');
	char *dir, *r;

	*dirfd = -1;
	if (strlen(path) < sizeof(((struct sockaddr_un *)0)->sun_path) || !slash || slash == path)
		return strdup(path);
	dir = strndup(path, (size_t)(slash - path));
	if (!dir)
		return NULL;
	*dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (*dirfd < 0 || asprintf(&r, "/proc/self/fd/%d/%s", *dirfd, slash + 1) < 0) {
		if (*dirfd >= 0)
			close(*dirfd);
		*dirfd = -1;
		return NULL;
	}
	return r;
}

static void detect_rs_hypervisor(struct infra_kata_sandbox *sb, int dirfd)
{
	struct stat st;

	if (sb->runtime != INFRA_KATA_RS)
		return;
	/* runtime-rs QEMU (qmp.sock) and Firecracker (fc.sock): /metrics hits todo!()
	 * and kills the shim (kata-containers #13708) */
	if (fstatat(dirfd, "qmp.sock", &st, AT_SYMLINK_NOFOLLOW) == 0)
		sb->hypervisor = "qemu";
	else if (fstatat(dirfd, "fc.sock", &st, AT_SYMLINK_NOFOLLOW) == 0)
		sb->hypervisor = "firecracker";
}

static int cmp_sandbox(const void *a, const void *b)
{
	const struct infra_kata_sandbox *x = a, *y = b;
	int c = strcmp(x->id, y->id);

	return c ? c : (int)x->runtime - (int)y->runtime;
}

static int have_id(const struct infra_kata_set *set, size_t upto, const char *id)
{
	for (size_t i = 0; i < upto; i++)
		if (!strcmp(set->v[i].id, id))
			return 1;
	return 0;
}

static int scan_root(const char *sysroot, const struct infra_kata_root *root, struct infra_kata_set *set,
		     size_t *alloc, size_t first_of_root, const struct infra_buf *procnet,
		     struct infra_err *err)
{
	char *path = infra_path_join(sysroot, root->path);
	struct dirent *de;
	DIR *d;
	int rc = 0;

	if (!path)
		return infra_err_set(err, -ENOMEM, "out of memory");
	d = opendir(path);
	if (!d) {
		rc = -errno;
		if (rc == -ENOENT) {
			free(path);
			return 0;
		}
		infra_err_set(err, rc, "cannot read sandbox directory '%s': %s", path, strerror(-rc));
		free(path);
		return rc;
	}
	set->roots_read++;
	while ((errno = 0, de = readdir(d)) != NULL) {
		struct infra_kata_sandbox *sb;
		int fd;

		if (!infra_kata_valid_id(de->d_name) || have_id(set, first_of_root, de->d_name))
			continue;
		/* a real directory only: O_NOFOLLOW refuses symlinks out of the root */
		fd = openat(dirfd(d), de->d_name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (set->n == *alloc) {
			size_t na = *alloc ? *alloc * 2 : 16;
			void *nv = realloc(set->v, na * sizeof(*set->v));
			if (!nv) {
				close(fd);
				rc = -ENOMEM;
				break;
			}
			set->v = nv;
			*alloc = na;
		}
		sb = &set->v[set->n++];
		memset(sb, 0, sizeof(*sb));
		sb->dirfd = -1;
		sb->runtime = root->runtime;
		sb->meta_source = "none";
		sb->id = strdup(de->d_name);
		if (!sb->id || asprintf(&sb->dir, "%s/%s", path, de->d_name) < 0 ||
		    infra_kata_set_meta(sb, "", "", "", "none")) {
			sb->dir = NULL;
			close(fd);
			rc = -ENOMEM;
			break;
		}
		detect_rs_hypervisor(sb, fd);
		rc = resolve_socket(sb, fd, procnet);
		close(fd);
		if (rc)
			break;
	}
	if (!rc && errno)
		rc = -errno;
	closedir(d);
	if (rc)
		infra_err_set(err, rc, "cannot read sandbox directory '%s': %s", path, strerror(-rc));
	free(path);
	return rc;
}

int infra_kata_discover(const char *sysroot, const struct infra_kata_root *roots, size_t nroots,
			struct infra_kata_set *out, struct infra_err *err)
{
	struct infra_buf procnet = INFRA_BUF_INIT;
	size_t alloc = 0;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	/* abstract sockets are not under sysroot: they live in the network namespace */
	if (infra_file_read_at(AT_FDCWD, "/proc/net/unix", 0, (size_t)64 << 20, &procnet, NULL))
		infra_buf_init(&procnet, 0);
	for (size_t i = 0; i < nroots && !rc; i++)
		rc = scan_root(sysroot, &roots[i], out, &alloc, out->n, &procnet, err);
	infra_buf_release(&procnet);
	if (rc) {
		infra_kata_set_release(out);
		return rc;
	}
	if (out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), cmp_sandbox);
	return 0;
}

struct infra_kata_sandbox *infra_kata_find(struct infra_kata_set *set, const char *id, int *ambiguous)
{
	struct infra_kata_sandbox *hit = NULL;
	size_t len = strlen(id);

	*ambiguous = 0;
	for (size_t i = 0; i < set->n; i++)
		if (!strcmp(set->v[i].id, id))
			return &set->v[i];
	if (!len)
		return NULL;
	for (size_t i = 0; i < set->n; i++) {
		if (strncmp(set->v[i].id, id, len))
			continue;
		if (hit) {
			*ambiguous = 1;
			return NULL;
		}
		hit = &set->v[i];
	}
	return hit;
}

/* ---- metadata ---- */

static const char *ann(json_object *a, const char *key)
{
	json_object *v;

	if (json_object_object_get_ex(a, key, &v) && json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return NULL;
}

/* A JSON-in-a-string annotation (CRI-O): look up `key` in it. */
static const char *ann_json(json_object *a, const char *outer, const char *key, json_object **keep)
{
	const char *s = ann(a, outer);
	json_object *o, *v;

	if (!s || infra_json_parse(s, strlen(s), &o, NULL))
		return NULL;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string)) {
		json_object_put(o);
		return NULL;
	}
	/* keep o alive while the caller uses the string; chain it to *keep */
	if (!*keep)
		*keep = json_object_new_array();
	json_object_array_add(*keep, o);
	return json_object_get_string(v);
}

int infra_kata_apply_annotations(struct infra_kata_sandbox *sb, json_object *a)
{
	json_object *keep = NULL;
	const char *name, *ns, *uid, *src = "containerd-bundle";
	int found;

	if (!a || !json_object_is_type(a, json_type_object))
		return 0;
	name = ann(a, "io.kubernetes.cri.sandbox-name");
	ns = ann(a, "io.kubernetes.cri.sandbox-namespace");
	uid = ann(a, "io.kubernetes.cri.sandbox-uid");
	if (!name && !ns && !uid) {
		src = "crio-bundle";
		name = ann_json(a, "io.kubernetes.cri-o.Metadata", "name", &keep);
		ns = ann_json(a, "io.kubernetes.cri-o.Metadata", "namespace", &keep);
		uid = ann_json(a, "io.kubernetes.cri-o.Metadata", "uid", &keep);
		if (!name)
			name = ann_json(a, "io.kubernetes.cri-o.Labels", "io.kubernetes.pod.name", &keep);
		if (!ns)
			ns = ann_json(a, "io.kubernetes.cri-o.Labels", "io.kubernetes.pod.namespace", &keep);
		if (!uid)
			uid = ann_json(a, "io.kubernetes.cri-o.Labels", "io.kubernetes.pod.uid", &keep);
		if (!name)
			name = ann(a, "io.kubernetes.cri-o.KubeName");
		if (!ns)
			ns = ann(a, "io.kubernetes.cri-o.Namespace");
		if (!name)
			name = ann(a, "io.kubernetes.pod.name");
		if (!ns)
			ns = ann(a, "io.kubernetes.pod.namespace");
		if (!uid)
			uid = ann(a, "io.kubernetes.pod.uid");
	}
	found = name || ns || uid;
	if (found && infra_kata_set_meta(sb, uid, name, ns, src))
		found = 0;
	json_object_put(keep);
	return found;
}

static int from_persist(struct infra_kata_sandbox *sb, char *why, size_t why_size)
{
	struct infra_err e = INFRA_ERR_INIT;
	struct infra_buf b = INFRA_BUF_INIT;
	json_object *root = NULL, *cfgs, *a = NULL;
	char *path;
	int found = 0;

	if (sb->runtime != INFRA_KATA_GO || asprintf(&path, "%s/persist.json", sb->dir) < 0)
		return 0;
	if (infra_file_read_at(AT_FDCWD, path, INFRA_FILE_NOFOLLOW, META_MAX, &b, &e)) {
		if (e.code != -ENOENT && why)
			snprintf(why, why_size, "%s", e.msg);
		goto out;
	}
	if (infra_json_parse(b.data, b.len, &root, &e) ||
	    infra_json_get_array(root, "Config.ContainerConfigs", &cfgs, &e)) {
		if (why)
			snprintf(why, why_size, "%s: %s", path, e.msg);
		goto out;
	}
	for (size_t i = 0; i < json_object_array_length(cfgs); i++) {
		json_object *c = json_object_array_get_idx(cfgs, i), *an;
		const char *cid = infra_json_opt_string(c, "ID", NULL);
		if (!json_object_object_get_ex(c, "Annotations", &an))
			continue;
		if (cid && !strcmp(cid, sb->id)) {
			a = an;
			break;
		}
		if (!a && (ann(an, "io.kubernetes.cri.container-type") || ann(an, "io.kubernetes.cri-o.ContainerType")) &&
		    (!strcmp(ann(an, "io.kubernetes.cri.container-type") ?: "", "sandbox") ||
		     !strcmp(ann(an, "io.kubernetes.cri-o.ContainerType") ?: "", "sandbox")))
			a = an;
	}
	if (a && infra_kata_apply_annotations(sb, a)) {
		sb->meta_source = "persist.json";
		found = 1;
	}
out:
	json_object_put(root);
	infra_buf_release(&b);
	free(path);
	return found;
}

static int from_bundle(struct infra_kata_sandbox *sb, const char *path, char *why, size_t why_size)
{
	struct infra_err e = INFRA_ERR_INIT;
	struct infra_buf b = INFRA_BUF_INIT;
	json_object *root = NULL, *a;
	int found = 0;

	if (infra_file_read_at(AT_FDCWD, path, INFRA_FILE_NOFOLLOW, META_MAX, &b, &e)) {
		if (e.code != -ENOENT && e.code != -ENOTDIR && why)
			snprintf(why, why_size, "%s", e.msg);
		return 0;
	}
	if (infra_json_parse(b.data, b.len, &root, &e)) {
		if (why)
			snprintf(why, why_size, "%s: %s", path, e.msg);
	} else if (json_object_object_get_ex(root, "annotations", &a)) {
		found = infra_kata_apply_annotations(sb, a);
	}
	json_object_put(root);
	infra_buf_release(&b);
	return found;
}

int infra_kata_metadata_from_disk(const char *sysroot, struct infra_kata_sandbox *sb,
				  char *why, size_t why_size)
{
	char *dir, *path;
	struct dirent *de;
	DIR *d;
	int found = 0;

	if (why && why_size)
		why[0] = '\0';
	if (from_persist(sb, why, why_size))
		return 1;
	/* containerd: every namespace of the v2 task state dir */
	dir = infra_path_join(sysroot, "/run/containerd/io.containerd.runtime.v2.task");
	if (dir && (d = opendir(dir)) != NULL) {
		while (!found && (de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			if (asprintf(&path, "%s/%s/%s/config.json", dir, de->d_name, sb->id) < 0)
				break;
			found = from_bundle(sb, path, why, why_size);
			free(path);
		}
		closedir(d);
	}
	free(dir);
	if (found)
		return 1;
	dir = infra_path_join(sysroot, "/run/containers/storage/overlay-containers");
	if (dir && asprintf(&path, "%s/%s/userdata/config.json", dir, sb->id) >= 0) {
		found = from_bundle(sb, path, why, why_size);
		free(path);
	}
	free(dir);
	return found;
}
