/* infra_kata_scrape.h - katapulse-scrape's work between discovery and output:
 * pod metadata (disk, then CRI), which sandboxes to leave out, fetching every
 * shim's /metrics in parallel, merging in sandbox-id order, and the tool's own
 * metrics (kata-monitor's compatibility families with persisted counters,
 * per-sandbox up/duration, katapulse_* run facts).
 *
 * Ownership: results live in a struct infra_kata_run (one per sandbox of the
 * set, same index) and are freed by infra_kata_run_release().  Nothing prints.
 */
#ifndef INFRA_KATA_SCRAPE_H
#define INFRA_KATA_SCRAPE_H

#include <json-c/json.h>
#include <stddef.h>

#include "infra_buf.h"
#include "infra_err.h"
#include "infra_http.h"
#include "infra_kata.h"
#include "infra_kata_merge.h"
#include "infra_prom.h"
#include "infra_report.h"
#include "infra_state.h"

enum infra_kata_outcome {
	INFRA_KATA_SKIPPED = 0, /* not scraped: no socket, excluded, unsafe runtime-rs hypervisor */
	INFRA_KATA_OK,
	INFRA_KATA_FAILED,
	INFRA_KATA_OVER_LIMIT,  /* answered, but over a limit (--max-body, series, label length): left out */
};

struct infra_kata_result {
	enum infra_kata_outcome outcome;
	const char *reason;     /* skipped: why; failed: "connect", "timeout", "reset", "protocol", "http", "parse",
				 * "transport", "permission"; over-limit: infra_kata_limit_name() */
	enum infra_kata_limit limit; /* over-limit: which */
	char error[INFRA_ERR_MSG_MAX]; /* failed: one line (without the sandbox id) */
	long http_status;
	double duration;        /* seconds, this sandbox's fetch */
	size_t bytes;           /* body bytes read */
	char *body;             /* kept until infra_kata_run_release (the merger borrows it); owned
				 * by the run (body_mem), never free()d on its own */
	const char *extra[9];   /* sandbox_id, cri_uid, cri_name, cri_namespace pairs (borrowed by the merger) */
	struct infra_kata_merge_stats merge;
	/* merging scrape: the body is parsed as it arrives (and not kept), then
	 * committed to the merger in sandbox-id order */
	struct infra_kata_parsed *parsed;
	int parse_rc;           /* infra_kata_merge_parse's */
	int queued;             /* a request was made */
};

struct infra_kata_run {
	struct infra_kata_set *set;
	struct infra_kata_merge *merge; /* after infra_kata_scrape(..., merge = 1) */
	struct infra_kata_result *res; /* set->n entries */
	size_t scraped, failed, skipped, over_limit;
	size_t denied;          /* failed because their directory could not be searched (also in failed) */
	size_t dropped_sandboxes[INFRA_KATA_NLIMITS]; /* over-limit sandboxes by limit */
	size_t bytes, type_conflicts, help_conflicts, dropped_samples;
	double scrape_seconds;  /* fetch + merge wall time */
	char cri_error[INFRA_ERR_MSG_MAX]; /* "" if CRI was fine or not asked */
	int cri_used;
	char **body_mem;        /* set->n received bodies (NULL where none), freed on release;
				 * none are kept by a merging scrape */
	size_t settled;         /* merging scrape: results before this one are committed */
	int fatal;              /* merging scrape: out of memory while merging */
	char fatal_msg[INFRA_ERR_MSG_MAX];
};

struct infra_kata_opts {
	const char *sysroot;
	const char *runtime_endpoint; /* CRI socket (under sysroot), NULL = no CRI */
	long timeout_ms;
	int jobs;
	const char *const *exclude;   /* id prefixes, NULL-terminated, may be NULL */
	int scrape_unsafe_rs;         /* scrape runtime-rs QEMU/Firecracker sandboxes anyway */
	const char *const *family;    /* regexes: write only these shim families (NULL = all) */
	const char *const *exclude_family; /* regexes: never write these shim families */
	size_t max_body;              /* the HTTP body cap (for messages; the caller sets it in the http opts) */
	size_t max_series;            /* per sandbox, 0 = none */
	size_t max_label_len;         /* label name or value bytes, 0 = none */
};

int infra_kata_run_init(struct infra_kata_run *run, struct infra_kata_set *set);
void infra_kata_run_release(struct infra_kata_run *run);

/* Metadata from disk for every sandbox; then, for the ones still without, one
 * CRI ListPodSandbox (if opts->runtime_endpoint exists).  A CRI failure is not
 * fatal: it is described in run->cri_error. */
void infra_kata_enrich(struct infra_kata_run *run, const struct infra_kata_opts *opts);

/* Mark sandboxes not to scrape (no socket, --exclude, unsafe runtime-rs), and
 * fail the ones whose directory could not be searched (run->denied). */
void infra_kata_select(struct infra_kata_run *run, const struct infra_kata_opts *opts);

/* GET path from one sandbox's shim (single request, no retry). */
int infra_kata_fetch(struct infra_http *h, const struct infra_kata_sandbox *sb, const char *path,
		     long timeout_ms, struct infra_http_resp *resp, struct infra_err *err);

/* Fetch every selected shim in parallel and keep the bodies (res[i].body).
 * With merge set, each body is parsed into run->merge as it arrives and not
 * kept (res[i].body stays NULL), and the bodies are committed in sandbox-id
 * order as soon as the ones before are done (an invalid body fails its
 * sandbox, "parse").  Returns 0 or a negative code for a failure
 * of the run itself (out of memory, batch runner); per-shim failures are results. */
int infra_kata_scrape(struct infra_kata_run *run, struct infra_http *h, const struct infra_kata_opts *opts,
		      int merge, struct infra_err *err);

/* --sandbox / --agent-url: find id (or a unique prefix), GET /metrics (checked
 * with the parser; refused for runtime-rs QEMU/Firecracker unless
 * allow_unsafe_rs) or /agent-url.  JSON: the body goes into r->data and 0 is
 * returned; other formats: the raw body is written to stdout or atomically to
 * cli->output and 1 is returned.  Negative on failure (described in r). */
int infra_kata_one(struct infra_report *r, const struct infra_cli *cli, struct infra_http *h,
		   struct infra_kata_set *set, const char *id, int agent, int allow_unsafe_rs);

/* Like infra_report_done(), but the prom format streams the merged shim
 * families (interleaved with the report's own families) to stdout or,
 * atomically, to cli->output, so the labelled output never sits in memory. */
int infra_kata_report_done(struct infra_report *r, const struct infra_cli *cli, struct infra_kata_run *run,
			   infra_render_fn text_fn);

/* katapulse_sandbox_info{sandbox_id,runtime,cri_*,metadata_source} and
 * katapulse_sandboxes{state} (what --list emits). */
int infra_kata_info_metrics(const struct infra_kata_run *run, struct infra_prom *p, struct infra_err *err);

/* The tool's own metrics after a scrape, info metrics included.  state may be
 * NULL (counters then count this run only). */
int infra_kata_own_metrics(const struct infra_kata_run *run, struct infra_state *state,
			   struct infra_prom *p, struct infra_err *err);

/* JSON description of sandbox i (id, runtime, socket, cri_*, metadata_source,
 * state, reason, error, problem, duration_seconds, bytes, samples...).  state:
 * "ok", "partial" (merged, some samples dropped), "failed", "over-limit",
 * "skipped"; "ready" when only listed. */
json_object *infra_kata_sandbox_json(const struct infra_kata_run *run, size_t i, int scraped);

/* Put the sandboxes into r (data.sandboxes, one error line per problem) and
 * raise its status: WARNING for failed, over-limit or partial sandboxes,
 * UNKNOWN when sandbox directories could not be searched (permission denied
 * is an error, never a skip). */
void infra_kata_report_sandboxes(struct infra_report *r, const struct infra_kata_run *run, int scraped);

/* Text view of the sandboxes (list or scrape view); a report that failed
 * before any sandbox was found (run->set NULL) says what failed. */
int infra_kata_text_table(const struct infra_report *r, const struct infra_kata_run *run, int scraped,
			  struct infra_buf *out);

#endif
