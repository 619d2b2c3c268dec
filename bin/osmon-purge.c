/* osmon-purge - delete what test runs (Rally) left behind in OpenStack, safely.
 *
 * Input: live discovery (the options of osmon-orphans) or --from FILE|- (the JSON
 * of osmon-orphans).  Without --confirm it prints the plan and deletes nothing.
 * With --confirm it deletes in dependency order (lib/infra_purge.c).  The input is a
 * hint: every item's reason is derived again from live state, by discovery's rule,
 * right before it is deleted or detached.  See osmon-purge(1).
 *
 * Exit: 0 all gone (or the dry-run plan); 1 some deletions failed (or discovery
 * was incomplete); 3 could not run (usage, input, auth, lock held, --max exceeded).
 */
#include <argp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "infra_cli.h"
#include "infra_exit.h"
#include "infra_json.h"
#include "infra_lock.h"
#include "infra_log.h"
#include "infra_openstack.h"
#include "infra_orphans.h"
#include "infra_purge.h"
#include "infra_report.h"

static struct infra_cli cli;
static struct infra_os_flags osf;
static struct infra_orph_cli ocli;
static const char *from, *lock_path;
static int confirm;
static long max_delete = -1, retries = 4;
static double wait_timeout = 300;
static struct infra_purge purge;

enum { OPT_CONFIRM = 0x3000, OPT_FROM, OPT_MAX, OPT_LOCK, OPT_WAIT, OPT_RETRIES };

static const struct argp_option options[] = {
	{ "confirm", OPT_CONFIRM, NULL, 0, "really delete (without it: print the plan, delete nothing)", 0 },
	{ "from", OPT_FROM, "FILE", 0, "orphans from osmon-orphans JSON in FILE ('-' = stdin) instead of discovery", 0 },
	{ "max", OPT_MAX, "N", 0, "refuse to run when more than N resources would be deleted", 0 },
	{ "lock-file", OPT_LOCK, "FILE", 0, "lock file (default /run/infrakit/osmon-purge-HASH.lock as root, one per cloud; see FILES)", 0 },
	{ "retries", OPT_RETRIES, "N", 0, "retry rounds for conflicts (409/400) and transient failures (default 4; 1, 2, 4, 8 s apart)", 0 },
	{ "wait-timeout", OPT_WAIT, "DURATION", 0, "how long to wait for asynchronous deletes (default 5m)", 0 },
	{ 0 }
};

static error_t parse(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case ARGP_KEY_INIT:
		infra_orph_tool_inputs(state, &cli, &osf, &ocli);
		break;
	case OPT_CONFIRM: confirm = 1; break;
	case OPT_FROM: from = arg; break;
	case OPT_LOCK: lock_path = arg; break;
	case OPT_MAX:
		if (infra_parse_long(arg, 0, 100000000, &max_delete))
			argp_error(state, "invalid --max '%s' (a number >= 0)", arg);
		break;
	case OPT_RETRIES:
		if (infra_parse_long(arg, 0, 20, &retries))
			argp_error(state, "invalid --retries '%s' (0 to 20)", arg);
		break;
	case OPT_WAIT:
		if (infra_parse_duration(arg, &wait_timeout) || wait_timeout <= 0)
			argp_error(state, "invalid --wait-timeout '%s' (e.g. 90s, 5m)", arg);
		break;
	case ARGP_KEY_ARG:
		argp_error(state, "unexpected argument '%s'", arg);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp argp = { options, parse, NULL,
	"Delete resources that test runs (Rally) left behind in OpenStack, in dependency order. "
	"Without --confirm only the plan is printed.\v"
	"The input is a hint: right before it is deleted, every item is fetched again and must still be an orphan "
	"by the rule of osmon-orphans (Rally's name grammar unless --prefix/--match), whatever the input says; "
	"what is attached to an orphan but not Rally's is detached, not deleted. "
	"Exit status: 0 all gone (or the plan), 1 some failed, 3 could not run.",
	infra_orph_tool_children, NULL, NULL };

static char *swift_note; /* discovery listed the own Swift account only: why */

static int text(const struct infra_report *r, struct infra_buf *out)
{
	/* a run that failed before it had a plan: the failure above says it all, never
	 * "nothing to delete" */
	if (r->status == INFRA_EXIT_UNKNOWN && !purge.n)
		return 0;
	if (swift_note)
		infra_buf_printf(out, "note: %s\n", swift_note);
	return infra_purge_to_text(&purge, !confirm, out);
}

/* The file records the name rule it was made with (prefixes, match).  A file
 * made with --match/--prefix and purged without them would be judged by Rally's
 * grammar and everything skipped; taking the rule from the file would let an
 * edited file widen it.  So: the command line's rule governs; when it gives none
 * and the file's differs, refuse and say which option to repeat. */
static int same_rule(json_object *doc, const char *name, struct infra_err *err)
{
	json_object *data = json_object_object_get(doc, "data"), *pfx, *match;
	size_t np;

	if (!data)
		data = doc;
	if (ocli.match || ocli.nprefixes)
		return 0;
	match = json_object_object_get(data, "match");
	if (match && json_object_is_type(match, json_type_string))
		return infra_err_set(err, -EINVAL, "%s was made with --match '%s': repeat --match '%s' to purge "
				     "by the same rule (without it Rally's name grammar applies); nothing deleted",
				     name, json_object_get_string(match), json_object_get_string(match));
	pfx = json_object_object_get(data, "prefixes");
	np = pfx && json_object_is_type(pfx, json_type_array) ? json_object_array_length(pfx) : 0;
	if (np) {
		char opts[1024] = "";
		size_t len = 0;
		for (size_t i = 0; i < np && len < sizeof(opts); i++) {
			int k = snprintf(opts + len, sizeof(opts) - len, "%s--prefix '%s'", i ? " " : "",
					 json_object_get_string(json_object_array_get_idx(pfx, i)));
			len += k > 0 ? (size_t)k : 0;
		}
		return infra_err_set(err, -EINVAL, "%s was made with %s: repeat %s to purge by the same rule "
				     "(without it Rally's name grammar applies); nothing deleted", name, opts, opts);
	}
	return 0;
}

/* Read the osmon-orphans JSON document. */
static int load_from(const char *path, struct infra_orph_result *res, struct infra_err *err)
{
	struct infra_buf b = INFRA_BUF_INIT;
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	json_object *doc = NULL;
	char chunk[65536];
	size_t n;
	int rc;

	if (!f)
		return infra_err_set(err, -errno, "cannot open %s: %s", path, strerror(errno));
	if (f == stdin && isatty(STDIN_FILENO))
		return infra_err_set(err, -EINVAL, "--from -: standard input is a terminal; pipe a file into it "
				     "(osmon-orphans -f json | osmon-purge --from -) or give --from FILE");
	infra_buf_init(&b, (size_t)256 << 20);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (infra_buf_append(&b, chunk, n)) {
			rc = infra_err_set(err, -E2BIG, "%s: input larger than 256 MiB", path);
			goto out;
		}
	if (ferror(f)) {
		rc = infra_err_set(err, -EIO, "cannot read %s", path);
		goto out;
	}
	if ((rc = infra_json_parse(b.data ? b.data : "", b.len, &doc, err))) {
		infra_err_prefix(err, "%s", strcmp(path, "-") ? path : "stdin");
		goto out;
	}
	if ((rc = infra_orph_from_json(doc, res, err)))
		infra_err_prefix(err, "%s", strcmp(path, "-") ? path : "stdin");
	else
		rc = same_rule(doc, strcmp(path, "-") ? path : "stdin", err);
out:
	if (doc)
		json_object_put(doc);
	infra_buf_release(&b);
	if (f != stdin)
		fclose(f);
	return rc;
}

/* On a terminal the step and its counts, rewritten in place (never with -q or on a
 * pipe: infra_log_progress); with -v a line per finished step. */
static void purge_progress(void *ud, const struct infra_purge_progress *pr)
{
	char more[96] = "";

	(void)ud;
	if (pr->detached || pr->skipped)
		snprintf(more, sizeof(more), ", %zu detached, %zu skipped", pr->detached, pr->skipped);
	infra_log_progress(pr->step_change, "step %d of %d (%s): %zu deleted, %zu failed, %zu remaining%s",
			   pr->step, pr->steps, pr->what, pr->deleted, pr->failed, pr->remaining, more);
	if (pr->step_change && !pr->remaining)
		infra_log(INFRA_LOG_INFO, "step %d of %d (%s) done: %zu deleted, %zu failed%s", pr->step, pr->steps,
			  pr->what, pr->deleted, pr->failed, more);
}

int main(int argc, char **argv)
{
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_http_opts hopts;
	struct infra_orph_matcher m;
	struct infra_orph_opts o;
	struct infra_orph_result res;
	struct infra_purge_opts po;
	struct infra_report r;
	struct infra_os *os = NULL;
	char lock_used[4096];
	int have_matcher = 0, lock_fd = -1, status;

	infra_cli_init(&cli, "osmon-purge", 0);
	argp_parse(&argp, argc, argv, 0, NULL, NULL);
	infra_cli_finish(&cli);
	if (infra_report_init(&r, "osmon-purge", "osmon_purge", 0, &err)) {
		infra_log_error("%s", err.msg);
		return INFRA_EXIT_UNKNOWN;
	}
	infra_orph_result_init(&res);
	memset(&purge, 0, sizeof(purge));
	infra_cli_http_opts(&cli, &hopts);
	if (infra_orph_cli_setup(&ocli, cli.jobs, &m, &o, &err))
		goto fail;
	have_matcher = 1;
	/* read the input before connecting: bad input costs no API call */
	if (from && load_from(from, &res, &err))
		goto fail;
	if (infra_os_connect(&osf, &hopts, &os, &err))
		goto fail;
	infra_cli_observe(infra_os_http(os), "purge");
	/* a second purge of the same cloud stops here, before any discovery or plan */
	if (confirm &&
	    infra_purge_lock(lock_path, infra_os_auth_url(os), &lock_fd, lock_used, sizeof(lock_used), &err))
		goto fail;
	if (!from) {
		int sel = 0, q;
		if (infra_orph_discover(os, &o, &res, &err))
			goto fail;
		q = infra_orph_report_queried(&r, &res, &sel);
		if (!q) {
			infra_err_set(&err, -EIO, "no resource type could be listed");
			goto fail;
		}
		if (q < sel)
			infra_report_status(&r, INFRA_EXIT_WARNING);
		if (infra_orph_swift_note(&res)) {
			swift_note = strdup(infra_orph_swift_note(&res));
			json_object_object_add(r.data, "swift_note", json_object_new_string(infra_orph_swift_note(&res)));
		}
		if (res.types[ORPH_CONTAINERS].queried &&
		    infra_orph_swift_to_prom(&res, r.prom, "osmon_purge_swift_other_accounts", &err))
			goto fail;
	}
	if (infra_purge_plan(&purge, &res, ocli.services, &err))
		goto fail;
	json_object_object_add(r.data, "source", json_object_new_string(from ? "file" : "discovery"));
	if (confirm && max_delete >= 0 && (long)purge.n > max_delete) {
		infra_err_set(&err, -E2BIG, "the plan has %zu deletions, more than --max %ld: nothing deleted", purge.n,
			      max_delete);
		infra_orph_report_data(&r, infra_purge_to_json(&purge, 1));
		goto fail;
	}
	if (confirm && purge.n) {
		infra_log(INFRA_LOG_INFO, "locked %s; deleting %zu resources", lock_used, purge.n);
		memset(&po, 0, sizeof(po));
		po.matcher = &m;
		po.jobs = cli.jobs;
		po.wait_timeout = wait_timeout;
		po.rounds = (int)retries + 1;
		po.min_age = o.min_age;
		po.now = o.now;
		po.progress = purge_progress;
		infra_cli_observe(infra_os_http(os), NULL); /* the steps say more than a request count */
		if (infra_purge_run(os, &purge, &po, &err))
			goto fail;
		for (size_t i = 0; i < purge.n; i++)
			if (purge.items[i].state == PURGE_FAILED)
				infra_report_error(&r, "%s/%s %s (%s): %s",
						   infra_orph_services[infra_orph_types[purge.items[i].o.type].service].name,
						   infra_orph_types[purge.items[i].o.type].name, purge.items[i].o.id,
						   purge.items[i].o.name, purge.items[i].msg ? purge.items[i].msg : "failed");
		if (infra_purge_count(&purge, PURGE_FAILED))
			infra_report_status(&r, INFRA_EXIT_WARNING);
	}
	infra_orph_report_data(&r, infra_purge_to_json(&purge, !confirm));
	if (infra_purge_to_prom(&purge, !confirm, r.prom, &err))
		infra_report_error(&r, "%s", err.msg);
	goto done;
fail:
	infra_report_error(&r, "%s", err.msg);
	infra_report_status(&r, INFRA_EXIT_UNKNOWN);
done:
	status = infra_report_done(&r, &cli, text, NULL);
	infra_lock_release(lock_fd);
	infra_os_free(os);
	infra_purge_release(&purge);
	infra_orph_result_release(&res);
	free(swift_note);
	if (have_matcher)
		infra_orph_matcher_release(&m);
	return status;
}
