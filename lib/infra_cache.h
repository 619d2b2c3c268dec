/* infra_cache.h - per-source on-disk TTL cache of JSON documents (spot-agg).
 *
 * One file per source, <dir>/<source>.json, under a directory opened with
 * infra_statedir_open (created 0700; a real directory owned by the caller, not
 * writable by group or others, parents checked; no symlink followed for it).
 * Source names: [A-Za-z0-9_-]{1,64} (anything else -EINVAL).
 * A cache file is read only when it is a regular file (a symlink in its place
 * is refused with -ELOOP, naming the path) and written atomically
 * (infra_atomic_*: temp in the same directory, fsync, rename; a reader sees
 * the old or the new file, never a half one); a symlink at the target is
 * refused, never written through or replaced.  The file holds
 * {"source": S, "written": <unix seconds, double>, "doc": <document>}; the
 * age is now - written (clamped at 0), so copying the directory keeps ages.
 *
 * Counters: every infra_cache_get counts a hit (fresh copy returned) or a miss
 * (ttl 0, absent, stale, unreadable) for its source; infra_cache_stats reads
 * them with the current age on disk.  The counters are guarded by a mutex: one
 * cache may be used from several threads.
 */
#ifndef INFRA_CACHE_H
#define INFRA_CACHE_H

#include <stddef.h>

#include <json-c/json.h>

#include "infra_err.h"

struct infra_cache;

/* 0 or -errno (the statedir refusals). */
int infra_cache_open(struct infra_cache **out, const char *dir, struct infra_err *err);
/* 1 = fresh hit (age < ttl): *doc is a new reference (json_object_put it).
 * 0 = miss: ttl <= 0 (live source: never a hit), absent, or stale; when a copy
 *     exists (stale, or any copy with ttl 0) *doc is that copy and *age its age,
 *     so a caller can fall back to it when the live source fails; else *doc NULL
 *     and *age -1.
 * <0 = error (a symlink or non-regular file at the path, unreadable, corrupt
 *     JSON: -ELOOP/-EACCES/-EPROTO ...), *doc NULL; the caller treats it as a miss.
 * doc and age_seconds may be NULL. */
int infra_cache_get(struct infra_cache *c, const char *source, long ttl_seconds,
		    json_object **doc, double *age_seconds, struct infra_err *err);
/* Store doc (borrowed) for source, atomically.  0 or -errno. */
int infra_cache_put(struct infra_cache *c, const char *source, json_object *doc, struct infra_err *err);
/* Remove the copy of source (NULL: every <name>.json in the directory).  Absent is fine. */
int infra_cache_clear(struct infra_cache *c, const char *source, struct infra_err *err);

struct infra_cache_stat {
	unsigned long hits, misses;
	double age_seconds;   /* of the copy on disk now, -1 when none */
};
/* Counters since open for source, and its age on disk: from what this process last read,
 * wrote or cleared for the source (no second read of the file), else read from the disk.
 * 0 or -EINVAL. */
int infra_cache_stats(struct infra_cache *c, const char *source, struct infra_cache_stat *st,
		      struct infra_err *err);
/* The directory (as given to open). */
const char *infra_cache_dir(const struct infra_cache *c);
void infra_cache_close(struct infra_cache *c);

#endif
