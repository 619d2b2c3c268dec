/* infra_prom.h - Prometheus text exposition format 0.0.4: writer and streaming parser.
 *
 * WRITER.  A struct infra_prom collects families and samples in any order and
 * infra_prom_write() renders them so that every rule of DESIGN.md section 4 holds
 * by construction:
 *   - one HELP and one TYPE per family, before its samples; all samples of a
 *     family together; families sorted by name (byte order); samples sorted by
 *     label values (le / quantile compared numerically, bucket < sum < count);
 *   - duplicate series (same sample name and label set) are rejected at add time
 *     (-EEXIST), so they can never be written;
 *   - every sample of a family carries the same label names (-EINVAL otherwise,
 *     unless INFRA_PROM_PAD_LABELS is set, which pads missing ones with "");
 *     `le` (histogram _bucket) and `quantile` (summary) are exempt and written last;
 *   - no timestamps are ever written;
 *   - label values escape only \\ \" \n; HELP escapes only \\ and \n;
 *   - values: NaN, +Inf, -Inf literally (never -nan); integral values with
 *     |v| < 2^53 as integers (-0 as 0); anything else as the shortest %g text
 *     that reads back as the same double (0.94, not 0.93999999999999995); always C
 *     locale (formatting never depends on setlocale);
 *   - metric names [a-zA-Z_:][a-zA-Z0-9_:]* and label names [a-zA-Z_][a-zA-Z0-9_]*
 *     (not starting "__") are validated at add time (-EINVAL); label values and
 *     HELP must be valid UTF-8 (-EINVAL); at most 1024 labels per sample;
 *   - le must be a number on every x_bucket of a histogram and only there,
 *     quantile on every bare x of a summary and only there (-EINVAL);
 *   - output ends with "\n" (an empty collection writes nothing).
 * Label names are written in the order the family's first sample gave them
 * (then le/quantile); undeclared families get "# TYPE x untyped" and no HELP;
 * an empty help ("") counts as no HELP (and leading blanks of a HELP text do
 * not survive reading it back: every 0.0.4 parser skips them).
 * A family with no samples is written with its HELP and TYPE only (note: Go
 * parsers, and so node_exporter, drop such families when reading).
 * Histogram/summary samples are added by their full sample names (x_bucket,
 * x_sum, x_count, or x with a quantile label) and attach to the declared family x.
 * Samples for an undeclared name create an untyped family without HELP... unless
 * declared later; infra_prom_family() may be called before or after samples,
 * except that a histogram/summary x cannot be declared once samples named x,
 * x_bucket, x_sum or x_count created families of their own (-EINVAL).
 *
 * Ownership: all strings passed in are copied; the collection owns its memory.
 * Memory is compact (arena + interned strings): a collection of N series with
 * repeated label values costs little more than the text it renders to (about
 * 24 bytes per series, 4 per label value and 8-16 of dedup table, plus each
 * distinct string once).
 *
 * PARSER.  infra_prom_parser accepts input in chunks split anywhere, reports each
 * HELP, TYPE, comment and sample through a callback, and stops at the first error
 * with a message "line N: what (near 'token')".  It accepts everything the Go
 * expfmt 0.0.4 parser accepts (blanks/tabs, trailing comma in labels, NaN/+Inf/-Inf
 * in any case expfmt allows, optional int64 millisecond timestamps, free comments)
 * and rejects what it rejects (missing final newline at finish, bad escapes,
 * invalid UTF-8 in label values, `-nan`, float timestamps, a second HELP or TYPE
 * for a name, TYPE after samples of that name, unknown types).
 * Strings handed to the callback are valid only during the call.
 * Details, all as expfmt 0.0.4 in promtool 2.42 / node_exporter 1.5 do:
 *   - blanks after a value are an error unless a timestamp follows, and nothing
 *     but '\n' may follow the timestamp; "# TYPE x gauge " (trailing blank)
 *     is an unknown type; CR is never whitespace;
 *   - HELP escapes are only \\ and \n (\" is an error, as in promtool 2.42
 *     and node_exporter 1.5; newer expfmt accepts it); label values take
 *     \\ \" \n; names use the legacy charset only (no quoted names);
 *   - "# HELP x" / "# TYPE x" without text, and "# HELP" alone, are comments;
 *   - x_sum/x_count (summary or histogram x) and x_bucket (histogram x) belong
 *     to family x for the second-HELP / TYPE-after-samples rules;
 *   - type "gauge_histogram" (which expfmt accepts but cannot fill) is rejected.
 * For a SAMPLE event, type is the type of the family the sample belongs to.
 * Cost: each complete line is copied once into a scratch buffer, where tokens
 * are NUL-terminated and unescaped in place (no allocation per token); a line
 * split across chunks is carried over and parsed when its '\n' arrives.
 * Errors are reported in one line: "line N: what (near 'token')".
 */
#ifndef INFRA_PROM_H
#define INFRA_PROM_H

#include <stddef.h>
#include <stdint.h>

#include "infra_buf.h"
#include "infra_err.h"

enum infra_prom_type {
	INFRA_PROM_UNTYPED = 0,
	INFRA_PROM_COUNTER,
	INFRA_PROM_GAUGE,
	INFRA_PROM_HISTOGRAM,
	INFRA_PROM_SUMMARY,
};

const char *infra_prom_type_name(enum infra_prom_type t); /* "counter", ... */
/* Parses "counter" etc.; returns 0 or -EINVAL. */
int infra_prom_type_parse(const char *s, size_t len, enum infra_prom_type *out);

/* ---- writer ---- */

struct infra_prom;

enum infra_prom_flags {
	INFRA_PROM_PAD_LABELS = 1 << 0, /* pad missing label names with "" instead of -EINVAL */
};

struct infra_prom *infra_prom_new(unsigned flags);
void infra_prom_free(struct infra_prom *p);

/* Declare (or re-declare identically) a family.  help may be NULL (no HELP line).
 * A different type than an earlier declaration: -EINVAL with err naming both.
 * A different non-NULL help than an earlier one: the first is kept (returns 0). */
int infra_prom_family(struct infra_prom *p, const char *name, enum infra_prom_type type,
		      const char *help, struct infra_err *err);

/* Add one sample.  labels is a NULL-terminated array of name, value pairs
 * (may be NULL for none); values may contain any bytes except NUL. */
int infra_prom_add(struct infra_prom *p, const char *sample_name, const char *const *labels,
		   double value, struct infra_err *err);
/* Same, with a variadic NULL-terminated list of name, value pairs (at most 64). */
int infra_prom_addl(struct infra_prom *p, const char *sample_name, double value,
		    struct infra_err *err, ...) __attribute__((sentinel));

/* Number of families / series currently held. */
size_t infra_prom_family_count(const struct infra_prom *p);
size_t infra_prom_series_count(const struct infra_prom *p);
int infra_prom_has_family(const struct infra_prom *p, const char *name);

/* Parse an exposition (as infra_prom_parse) and add its families and samples
 * to p, appending extra_labels (NULL-terminated name, value pairs, may be NULL)
 * to every sample, after the sample's own labels.  Timestamps are dropped.
 * HELP/TYPE lines declare families (a family loaded twice keeps its first
 * HELP; a different TYPE is -EINVAL).  Returns 0, the parser's error, or the
 * first error of infra_prom_family/infra_prom_add (prefixed "line N: "), e.g.
 * -EEXIST for a duplicate series.  On error p keeps what was added before. */
int infra_prom_load(struct infra_prom *p, const char *data, size_t len,
		    const char *const *extra_labels, struct infra_err *err);

/* Render everything, appending to out. */
int infra_prom_write(const struct infra_prom *p, struct infra_buf *out, struct infra_err *err);

/* Format one value as the writer does (NaN, +Inf, -Inf, integer, shortest %g) into
 * buf (at least 32 bytes); returns the length. */
size_t infra_prom_format_value(double v, char *buf, size_t size);

/* ---- parser ---- */

enum infra_prom_event_kind {
	INFRA_PROM_EV_HELP,    /* name, text (unescaped) */
	INFRA_PROM_EV_TYPE,    /* name, type */
	INFRA_PROM_EV_COMMENT, /* text (after '#', leading blanks stripped) */
	INFRA_PROM_EV_SAMPLE,  /* name, labels, value, timestamp */
};

struct infra_prom_label {
	const char *name;
	size_t name_len;
	const char *value; /* unescaped, NUL-terminated */
	size_t value_len;
};

struct infra_prom_event {
	enum infra_prom_event_kind kind;
	const char *name; /* metric name, NUL-terminated (HELP/TYPE/SAMPLE) */
	size_t name_len;
	const char *text; /* HELP text or comment, unescaped, NUL-terminated */
	size_t text_len;
	enum infra_prom_type type;     /* TYPE */
	const struct infra_prom_label *labels; /* SAMPLE */
	size_t nlabels;
	double value;
	const char *value_text; /* SAMPLE: the value as written in the input (not NUL-terminated) */
	size_t value_text_len;
	int has_timestamp;
	int64_t timestamp_ms;
	size_t line; /* 1-based input line */
	size_t offset;   /* byte offset of the line's first byte in the input (all chunks fed) */
	size_t line_len; /* length of the line, its '\n' included */
};

/* Return 0 to go on; any other value stops parsing and is returned by feed/finish. */
typedef int (*infra_prom_cb)(void *ud, const struct infra_prom_event *ev);

struct infra_prom_parser;

struct infra_prom_parser *infra_prom_parser_new(infra_prom_cb cb, void *ud);
void infra_prom_parser_free(struct infra_prom_parser *ps);
/* Feed a chunk.  Returns 0, the callback's non-zero value, or -EINVAL on a
 * syntax error (err: "line N: ..."), -E2BIG if one line exceeds 16 MiB. */
int infra_prom_parser_feed(struct infra_prom_parser *ps, const char *data, size_t len,
			   struct infra_err *err);
/* End of input: an unterminated last line is an error ("unexpected end of input"). */
int infra_prom_parser_finish(struct infra_prom_parser *ps, struct infra_err *err);

/* A sample value or le/quantile label in the parser's syntax (Go ParseFloat as
 * expfmt restricts it: [+-]digits[.digits][e[+-]digits], [+-]Inf, NaN, any case).
 * Returns 0, or -1 for anything else (or a value out of double's range). */
int infra_prom_parse_float(const char *s, size_t n, double *out);

/* Convenience: parse a whole buffer. */
int infra_prom_parse(const char *data, size_t len, infra_prom_cb cb, void *ud,
		     struct infra_err *err);

#endif
