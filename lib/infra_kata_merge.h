/* infra_kata_merge.h - merge Kata shim /metrics bodies into one Prometheus
 * exposition the way kata-monitor does, minus its bugs, in bounded memory.
 *
 * Two steps.  infra_kata_merge_add() reads one body (call it for the bodies in
 * a fixed order, e.g. sorted by sandbox id: that order decides which HELP is
 * kept and which TYPE wins):
 *   - the body is parsed completely; a syntax error rejects the whole sandbox
 *     (-EINVAL, nothing kept), as kata-monitor does;
 *   - family and sample names starting go_ or process_ become kata_shim_go_* /
 *     kata_shim_process_* (kata-monitor's renaming; it also keeps the textfile
 *     collector's own go_* / process_* free);
 *   - families merge across bodies: one HELP (the first seen) and one TYPE; a
 *     body without HELP or TYPE, or with its families in another order, merges
 *     into the same family.  A body whose TYPE for a family differs from the
 *     one merged before has that family dropped (counted, first one described
 *     in stats.first_problem), never emitted twice;
 *   - duplicate series inside a body are dropped (counted), as are samples
 *     with more than 60 labels or names longer than 500 bytes, and samples
 *     that carry both an extra label's name and exported_<that name> (the
 *     shim's label would be renamed onto the other one);
 *   - limits (infra_kata_merge_limits; the guest VM controls part of a body):
 *     a body with more samples than max_series, or a label name or value
 *     longer than max_label_len bytes, is refused whole (-E2BIG, nothing
 *     kept, stats.limit says which), so one sandbox cannot blow up the output;
 *   - the body is not kept: each series (sample name and labels as written)
 *     is interned once across all bodies, and per body only (series id,
 *     value text) records grouped by family remain; the extra label values
 *     are borrowed until the merger is freed.
 * infra_kata_merge_write() then writes the exposition family by family (sorted
 * by name), interleaved with the families of `own` (an exposition already
 * rendered by the writer, e.g. the tool's own metrics; a shim family with a
 * name that `own` has is left out).  Each family is built with the infra_prom
 * writer in chunks of INFRA_KATA_MERGE_CHUNK bodies and handed to the sink
 * chunk by chunk, so memory stays below the size of the bodies instead of the
 * (several times larger) labelled output.  Within a family, samples come chunk
 * by chunk in body order, sorted by labels inside a chunk.  Every sample gets
 * the extra labels after its own (kata-monitor's order); a shim label already
 * named like an extra label becomes exported_<name>; label values are parsed
 * and re-escaped as the writer does, so a hostile value cannot inject lines or
 * series; missing label names of a family are padded with "".  The text is the
 * infra_prom writer's, byte for byte, but written directly (the writer itself
 * only for a chunk it alone can handle), except that a shim's non-integer
 * value passes through as the shim wrote it (integers, NaN and Inf are
 * written as the writer writes them).
 *
 * Ownership: extra label arrays are borrowed (must outlive the merger); a
 * body only for the call that reads it.
 */
#ifndef INFRA_KATA_MERGE_H
#define INFRA_KATA_MERGE_H

#include <stddef.h>

#include "infra_err.h"
#include "infra_prom.h"

#define INFRA_KATA_MERGE_CHUNK 16

/* Why a sandbox was left out for its size (body-size is the HTTP cap, not
 * checked here). */
enum infra_kata_limit {
	INFRA_KATA_LIMIT_NONE = 0,
	INFRA_KATA_LIMIT_SERIES,       /* more samples than max_series */
	INFRA_KATA_LIMIT_LABEL,        /* a label name or value longer than max_label_len */
	INFRA_KATA_LIMIT_BODY,         /* reply larger than the HTTP body cap */
	INFRA_KATA_NLIMITS
};

/* "series", "label-length", "body-size" ("" for NONE). */
const char *infra_kata_limit_name(enum infra_kata_limit l);

struct infra_kata_merge_stats {
	size_t families;        /* families in the body */
	size_t samples;         /* samples that will be written */
	size_t dropped_samples; /* samples left out (conflicting family, duplicate, too many labels) */
	size_t type_conflicts;  /* families dropped because of a different TYPE */
	size_t help_conflicts;  /* families whose HELP differs from the one kept */
	char first_problem[256];/* first conflict or refusal, "" if none */
	enum infra_kata_limit limit; /* set when infra_kata_merge_add returned -E2BIG */
};

struct infra_kata_merge;

struct infra_kata_merge *infra_kata_merge_new(void);
void infra_kata_merge_free(struct infra_kata_merge *m);

/* Limits for the bodies read after this call; 0 = none (the default). */
void infra_kata_merge_limits(struct infra_kata_merge *m, size_t max_series, size_t max_label_len);

/* Read one body.  extra: NULL-terminated name, value pairs appended to every
 * sample (borrowed).  Returns 0 (stats filled; conflicts are not errors),
 * -EINVAL for a body that does not parse (err "line N: ..."), -E2BIG for a
 * body over a limit (stats->limit, err says what), -ENOMEM. */
int infra_kata_merge_add(struct infra_kata_merge *m, const char *body, size_t len,
			 const char *const *extra, struct infra_kata_merge_stats *stats,
			 struct infra_err *err);

/* The same in two steps, for bodies that arrive in any order: parse a body
 * as soon as it is received (the body is not kept: the merger keeps each
 * series once, interned across bodies, and per body only the series ids and
 * value texts), then commit the parsed bodies in the fixed order (HELP/TYPE
 * and conflicts are decided there; commit fills the rest of stats).  parse
 * returns what add returns and *out only on 0; commit consumes pb (also on
 * error: -ENOMEM only); discard frees a parsed body never committed. */
struct infra_kata_parsed;
int infra_kata_merge_parse(struct infra_kata_merge *m, const char *body, size_t len, const char *const *extra,
			   struct infra_kata_parsed **out, struct infra_kata_merge_stats *stats,
			   struct infra_err *err);
int infra_kata_merge_commit(struct infra_kata_merge *m, struct infra_kata_parsed *pb,
			    struct infra_kata_merge_stats *stats, struct infra_err *err);
void infra_kata_merge_discard(struct infra_kata_parsed *pb);

/* Distinct series held (interned across bodies), and the bytes the merger
 * holds for its series and bodies (a body's text is never among them). */
size_t infra_kata_merge_series(const struct infra_kata_merge *m);
size_t infra_kata_merge_held(const struct infra_kata_merge *m);

/* Write only the families whose (renamed) name matches one of `include` (all
 * when NULL or empty) and none of `exclude`: POSIX extended regular
 * expressions, unanchored (use ^...$ for whole names), NULL-terminated arrays.
 * Only the shim families are filtered, never `own`.  -EINVAL for a bad
 * expression (err names it). */
int infra_kata_merge_filter(struct infra_kata_merge *m, const char *const *include,
			    const char *const *exclude, struct infra_err *err);

/* Where the output goes; returns 0 or a negative code that stops the write. */
typedef int (*infra_kata_sink)(void *ud, const char *data, size_t len);

/* Write the merged exposition (with `own` interleaved, may be NULL).
 * *skipped (may be NULL) gets the number of shim families left out because
 * `own` has a family of that name or the writer refused to declare them. */
int infra_kata_merge_write(struct infra_kata_merge *m, const char *own, size_t own_len,
			   infra_kata_sink sink, void *ud, size_t *skipped, struct infra_err *err);

/* kata-monitor's rename: "go_x" -> "kata_shim_go_x", "process_x" -> ...; other
 * names unchanged.  Writes into buf; returns buf, or NULL if it does not fit. */
const char *infra_kata_rename(const char *name, char *buf, size_t size);

#endif
