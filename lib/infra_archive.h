/* infra_archive.h - tar.gz archives with libarchive: append directories safely,
 * list entries.
 *
 * libarchive cannot append to a compressed tar in place, so an append writes a
 * new archive to a temp file in the same directory: every entry of the old
 * archive (except those replaced by a new entry of the same name), then the new
 * files; reads the temp file back and checks that every expected entry is there
 * and that each new file's bytes equal the file on disk (gzip CRCs are checked
 * on the way); fsyncs it and renames it over the old archive.  On any error the
 * old archive is untouched and the temp file removed.  Nothing is deleted here:
 * the caller removes the source directories after a successful append.
 *
 * Ownership: all strings are the caller's.
 */
#ifndef INFRA_ARCHIVE_H
#define INFRA_ARCHIVE_H

#include <json-c/json.h>
#include <stddef.h>

#include "infra_err.h"

/* Append the trees base/dirs[i] (entries named dirs[i]/...) to archive. */
int infra_archive_append_dirs(const char *archive, const char *base, const char *const *dirs,
			      size_t ndirs, struct infra_err *err);

/* List the entry names of an archive into a new JSON array of
 * {"name","size","type":"file"|"dir"} (in archive order). */
int infra_archive_list(const char *archive, json_object **entries, struct infra_err *err);

/* Read one entry's content (bounded to max bytes). -ENOENT if absent; the caller frees *data. */
int infra_archive_read_entry(const char *archive, const char *name, size_t max, char **data,
			     size_t *len, struct infra_err *err);

#endif
