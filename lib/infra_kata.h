/* infra_kata.h - Kata Containers sandboxes on a node: discovery, shim monitor
 * sockets, pod metadata from disk (for katapulse-scrape).
 *
 * Discovery reads each sandbox root once (default /run/vc/sbs for the Go runtime,
 * /run/kata for runtime-rs; every path is taken under `sysroot` when one is
 * given).  An entry is a sandbox when its name is a valid id
 * (infra_kata_valid_id) and it is a real directory (never a symlink).  A
 * sandbox id present in two roots counts once: the first root wins (the Go root
 * by default, as kata-monitor's ClientSocketAddress does).
 *
 * Socket resolution, in kata-monitor's order: `<dir>/shim-monitor.sock` when it
 * is a socket (lstat, no symlink); otherwise, for the Go runtime, the abstract
 * names Kata 2.1 (`/run/vc/<id>/shim-monitor`) and 2.0
 * (`/containerd-shim/<ns>/<id>/shim-monitor.sock`) when /proc/net/unix shows them
 * bound.  A path longer than a sockaddr_un holds (108 bytes, likely under a deep
 * --sysroot) is reached through /proc/self/fd/<dirfd>/shim-monitor.sock, where
 * dirfd is the sandbox directory opened O_PATH|O_NOFOLLOW, so a long path and a
 * symlink swapped in after discovery are both harmless.  A sandbox directory
 * that cannot be searched (0700 and not root) is not "no socket": its
 * access_errno is set, and the caller reports it as a failure.
 *
 * Metadata (cri_uid, cri_name, cri_namespace), cheapest source first:
 *   1. Go runtime persist.json: .Config.ContainerConfigs[ID == id].Annotations
 *      (falls back to the first ContainerConfigs entry of type sandbox);
 *   2. the OCI bundle config.json .annotations: containerd
 *      /run/containerd/io.containerd.runtime.v2.task/<ns>/<id>/config.json (every
 *      namespace), CRI-O /run/containers/storage/overlay-containers/<id>/userdata/config.json;
 *   3. the CRI runtime (infra_cri.h), applied by the caller.
 * Annotation keys understood: containerd io.kubernetes.cri.sandbox-{name,namespace,uid};
 * CRI-O io.kubernetes.cri-o.Metadata (JSON name/uid/namespace), io.kubernetes.cri-o.Labels
 * (JSON io.kubernetes.pod.{name,namespace,uid}), io.kubernetes.cri-o.KubeName/Namespace,
 * and plain io.kubernetes.pod.{name,namespace,uid} keys.
 *
 * Ownership: a struct infra_kata_set owns every string and fd of its sandboxes;
 * infra_kata_set_release() frees and closes them.  Nothing here prints.
 */
#ifndef INFRA_KATA_H
#define INFRA_KATA_H

#include <json-c/json.h>
#include <stddef.h>

#include "infra_err.h"

enum infra_kata_runtime {
	INFRA_KATA_GO = 0, /* containerd-shim-kata-v2, /run/vc/sbs */
	INFRA_KATA_RS,     /* runtime-rs, /run/kata */
};

const char *infra_kata_runtime_name(enum infra_kata_runtime rt); /* "go" / "rs" */

struct infra_kata_root {
	const char *path;               /* e.g. "/run/vc/sbs" (under sysroot) */
	enum infra_kata_runtime runtime;
};

/* Default roots: /run/vc/sbs (go), /run/kata (rs). */
extern const struct infra_kata_root infra_kata_default_roots[2];

/* Parse "[go:|rs:]DIR" as given to --sandbox-dir; a bare DIR is runtime go
 * unless its last component is "kata".  The result borrows from s. */
int infra_kata_root_parse(const char *s, struct infra_kata_root *out, struct infra_err *err);

enum infra_kata_socket_kind {
	INFRA_KATA_SOCK_NONE = 0, /* no monitor socket found: the sandbox is skipped */
	INFRA_KATA_SOCK_PATH,     /* filesystem socket */
	INFRA_KATA_SOCK_ABSTRACT, /* abstract name (Kata 2.0/2.1) */
};

struct infra_kata_sandbox {
	char *id;
	enum infra_kata_runtime runtime;
	char *dir;                     /* full path of the sandbox directory (host view) */
	enum infra_kata_socket_kind socket_kind;
	char *socket;                  /* what to connect to: a path (maybe via /proc/self/fd) or abstract name */
	char *socket_display;          /* full path, or "@name" */
	int dirfd;                     /* O_PATH fd kept open for a long socket path, else -1 */
	const char *skip_reason;       /* static text when the sandbox is not scraped, else NULL */
	int access_errno;              /* the directory could not be searched (EACCES, EPERM): the
				        * sandbox is not skipped but failed, and the run is not up */
	const char *hypervisor;        /* runtime-rs: "qemu" / "firecracker" when detected, else NULL */
	char *cri_uid, *cri_name, *cri_namespace; /* never NULL after discovery ("" = unknown) */
	const char *meta_source;       /* "persist.json", "containerd-bundle", "crio-bundle", "cri", "none" */
};

struct infra_kata_set {
	struct infra_kata_sandbox *v;
	size_t n;
	size_t roots_read;             /* roots that existed and were read */
};

/* A sandbox id: 1..128 chars of [A-Za-z0-9_.-], starting with [A-Za-z0-9]
 * (so never "." or ".."), no '/'.  Returns 1 if valid. */
int infra_kata_valid_id(const char *id);

/* Discover the sandboxes of every root (sorted by id).  A missing root is not an
 * error (a node without Kata sandboxes yet); an unreadable one is (-EACCES etc.).
 * sysroot may be NULL or "" for "/".  On error the set is left empty. */
int infra_kata_discover(const char *sysroot, const struct infra_kata_root *roots, size_t nroots,
			struct infra_kata_set *out, struct infra_err *err);
void infra_kata_set_release(struct infra_kata_set *set);

/* Find a sandbox by exact id, else by unique id prefix.  NULL if none; *ambiguous
 * set when a prefix matches more than one. */
struct infra_kata_sandbox *infra_kata_find(struct infra_kata_set *set, const char *id, int *ambiguous);

/* Fill cri_* from annotations (an OCI annotations object).  Returns 1 if any of
 * name/namespace/uid was found. */
int infra_kata_apply_annotations(struct infra_kata_sandbox *sb, json_object *annotations);

/* Pod metadata from persist.json, then the bundle config.json files.  Sets
 * meta_source; returns 1 if found, 0 if not (never an error: metadata is optional;
 * an unreadable or corrupt file is a miss, described in *why if given). */
int infra_kata_metadata_from_disk(const char *sysroot, struct infra_kata_sandbox *sb,
				  char *why, size_t why_size);

/* A connectable name for a unix socket path: the path itself when it fits in
 * sun_path, else "/proc/self/fd/<fd>/<basename>" with the directory opened
 * O_PATH into *dirfd (close it after use; -1 when not needed).  NULL on error. */
char *infra_kata_socket_path(const char *path, int *dirfd);

/* Set cri_* (copies) and meta_source.  -ENOMEM. */
int infra_kata_set_meta(struct infra_kata_sandbox *sb, const char *uid, const char *name,
			const char *ns, const char *source);

#endif
