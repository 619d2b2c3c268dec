/* infra_kata_merge.h - merge Kata shim /metrics bodies into one Prometheus collection
 * the way kata-monitor does, minus its bugs.
 *
 * For each body (call in a fixed order, e.g. sorted by sandbox id, for
 * byte-stable output):
 *   - the body is parsed completely first; a syntax error drops the whole
 *     sandbox (-EINVAL, nothing added), as kata-monitor does;
 *   - family and sample names starting go_ or process_ become kata_shim_go_* /
 *     kata_shim_process_* (kata-monitor's renaming; it keeps the textfile
 *     collector's own go_* / process_* free);
 *   - every sample gets the extra labels (sandbox_id, cri_uid, cri_name,
 *     cri_namespace) after its own; a shim label that already has one of
 *     those names is renamed exported_<name> (Prometheus honor_labels style);
 *   - families merge across bodies: one HELP (the first seen) and one TYPE.  A
 *     body that omits HELP or TYPE, or orders families differently, merges
 *     into the same family.  A body whose TYPE for a family differs from the
 *     one already merged has that family dropped (counted, described in
 *     stats.first_problem), never emitted twice;
 *   - label values are copied as parsed (unescaped) and re-escaped by the
 *     writer, so a hostile value cannot inject lines or series;
 *   - a sample the writer refuses (a duplicate series, an invalid name) is
 *     dropped and counted.
 * infra_kata_merge_finish() declares families that only ever came without a
 * TYPE (untyped) with the HELP seen for them.
 *
 * Ownership: the merger borrows the collection (which must outlive it).
 */
#ifndef INFRA_KATA_MERGE_H
#define INFRA_KATA_MERGE_H

#include <stddef.h>

#include "infra_err.h"
#include "infra_prom.h"

struct infra_kata_merge_stats {
	size_t families;        /* families in the body */
	size_t samples;         /* samples added to the collection */
	size_t dropped_samples; /* samples not added (conflicting family, refused by the writer) */
	size_t type_conflicts;  /* families dropped because of a different TYPE */
	size_t help_conflicts;  /* families whose HELP differs from the one kept */
	char first_problem[256];/* first conflict or refusal, "" if none */
};

struct infra_kata_merge;

struct infra_kata_merge *infra_kata_merge_new(struct infra_prom *p);
void infra_kata_merge_free(struct infra_kata_merge *m);

/* Merge one body.  extra: NULL-terminated name, value pairs appended to every
 * sample.  Returns 0 (stats filled; conflicts are not errors), -EINVAL for a
 * body that does not parse (err "line N: ..."), -ENOMEM. */
int infra_kata_merge_body(struct infra_kata_merge *m, const char *body, size_t len,
			  const char *const *extra, struct infra_kata_merge_stats *stats,
			  struct infra_err *err);

/* Declare the families that were only seen untyped, with their HELP. */
int infra_kata_merge_finish(struct infra_kata_merge *m, struct infra_err *err);

/* kata-monitor's rename: "go_x" -> "kata_shim_go_x", "process_x" -> ...; other
 * names unchanged.  Writes into buf; returns buf (truncation-safe, size >= 16). */
const char *infra_kata_rename(const char *name, char *buf, size_t size);

#endif
