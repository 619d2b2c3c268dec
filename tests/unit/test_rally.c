/* test_rally.c - rally report summaries from the recorded reports (tests/sim/rally-data),
 * percentiles, number formatting, malformed reports. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "infra_history.h"
#include "infra_json.h"
#include "infra_rally.h"
#include "tap.h"

static json_object *load(const char *name)
{
	char path[1024];
	const char *src = getenv("INFRA_SRCDIR");
	json_object *o = NULL;
	struct infra_err err = INFRA_ERR_INIT;

	snprintf(path, sizeof(path), "%s/tests/sim/rally-data/%s.task-report.json", src ? src : ".", name);
	if (infra_json_file_read(path, &o, &err))
		tap_diag("%s", err.msg);
	return o;
}

static json_object *scen(json_object *sum, size_t i)
{
	return json_object_array_get_idx(json_object_object_get(sum, "scenarios"), i);
}

static const char *s_of(json_object *o, const char *path)
{
	return infra_json_opt_string(o, path, "(missing)");
}

static int has_reason(json_object *o, const char *needle)
{
	json_object *r = json_object_object_get(o, "reasons");

	for (size_t i = 0; r && i < json_object_array_length(r); i++)
		if (strstr(json_object_get_string(json_object_array_get_idx(r, i)), needle))
			return 1;
	return 0;
}

static void test_percentile(void)
{
	double one[] = { 5 }, two[] = { 1, 3 }, five[] = { 1, 2, 3, 4, 100 };

	tap_ok(isnan(infra_rally_percentile(NULL, 0, 0.5)), "percentile of nothing is NaN");
	tap_ok(infra_rally_percentile(one, 1, 0.95) == 5, "percentile of one value is that value");
	tap_ok(infra_rally_percentile(two, 2, 0.5) == 2, "median of two interpolates");
	tap_ok(fabs(infra_rally_percentile(five, 5, 0.95) - 80.8) < 1e-9, "p95 of 1,2,3,4,100 = 80.8 (linear)");
	tap_ok(infra_rally_percentile(five, 5, 1.0) == 100 && infra_rally_percentile(five, 5, 0) == 1,
	       "p0 and p100 are min and max");
}

static void test_num(void)
{
	json_object *a = infra_rally_num(0.10878599999999999), *b = infra_rally_num(2), *c = infra_rally_num(-0.0000001);

	tap_streq(json_object_to_json_string(a), "0.108786", "numbers rounded to 6 decimals without float noise");
	tap_streq(json_object_to_json_string(b), "2", "integral values without a fraction");
	tap_streq(json_object_to_json_string(c), "0", "no -0");
	tap_ok(infra_rally_num(NAN) == NULL, "NaN becomes null");
	json_object_put(a);
	json_object_put(b);
	json_object_put(c);
}

static void test_pass(void)
{
	struct infra_err err = INFRA_ERR_INIT;
	json_object *rep = load("keystone-basic"), *sum = NULL, *s0, *a0;

	tap_ok(rep && infra_rally_summarize(rep, &sum, &err) == 0, "keystone-basic summarised");
	if (!sum)
		return;
	tap_streq(s_of(sum, "status"), "pass", "keystone-basic passes");
	tap_inteq(json_object_array_length(json_object_object_get(sum, "scenarios")), 2, "two scenarios");
	s0 = scen(sum, 0);
	tap_streq(s_of(s0, "name"), "KeystoneBasic.create_delete_user", "scenario name from the workload");
	tap_streq(s_of(s0, "subtask"), "create_delete_user", "subtask title");
	tap_inteq(infra_json_opt_int64(s0, "iterations", -1), 2, "2 iterations ran");
	tap_inteq(infra_json_opt_int64(s0, "iterations_planned", -1), 2, "2 planned (constant runner times)");
	tap_ok(infra_json_opt_double(s0, "success_ratio", -1) == 1, "success ratio 1");
	tap_ok(fabs(infra_json_opt_double(s0, "durations.min", -1) - 0.107395) < 1e-9 &&
	       fabs(infra_json_opt_double(s0, "durations.max", -1) - 0.110178) < 1e-9,
	       "duration min/max from data[].duration");
	tap_ok(fabs(infra_json_opt_double(s0, "durations.median", -1) - 0.108786) < 1e-9,
	       "duration median interpolated");
	a0 = json_object_array_get_idx(json_object_object_get(s0, "atomic_actions"), 0);
	tap_streq(s_of(a0, "name"), "keystone_v3.create_user", "atomic action name");
	tap_inteq(infra_json_opt_int64(a0, "count", -1), 2, "atomic action counted per iteration");
	tap_ok(json_object_get_boolean(json_object_object_get(json_object_object_get(s0, "sla"), "pass")), "SLA pass");
	json_object_put(sum);
	json_object_put(rep);
}

static void test_cleanup_leak(void)
{
	struct infra_err err = INFRA_ERR_INIT;
	json_object *rep = load("keystone-only"), *sum = NULL, *s0;

	tap_ok(rep && infra_rally_summarize(rep, &sum, &err) == 0, "keystone-only summarised");
	if (!sum)
		return;
	s0 = scen(sum, 0);
	tap_streq(s_of(sum, "status"), "fail", "pass_sla true + cleanup error: the service fails");
	tap_streq(s_of(s0, "status"), "fail", "... and the scenario fails");
	tap_ok(json_object_get_boolean(json_object_object_get(json_object_object_get(s0, "sla"), "pass")),
	       "the SLA itself passed (rally's verdict kept)");
	tap_streq(json_object_get_string(json_object_array_get_idx(json_object_object_get(s0, "cleanup_errors"), 0)),
		  "users@openstack: EndpointNotFound: public endpoint for network service in RegionOne region not found",
		  "the cleanup error names the context plugin");
	tap_ok(has_reason(s0, "resources may have leaked"), "reason says resources may have leaked");
	json_object_put(sum);
	json_object_put(rep);
}

static void test_killed(void)
{
	struct infra_err err = INFRA_ERR_INIT;
	json_object *rep = load("killed-create_user"), *sum = NULL, *s0;

	tap_ok(rep && infra_rally_summarize(rep, &sum, &err) == 0, "killed task summarised");
	if (!sum)
		return;
	s0 = scen(sum, 0);
	tap_streq(s_of(sum, "task_status"), "running", "killed task stays running");
	tap_streq(s_of(sum, "status"), "fail", "killed task fails");
	tap_ok(has_reason(sum, "task status is 'running'"), "service reason: status running");
	tap_inteq(infra_json_opt_int64(s0, "iterations", -1), 0, "0 iterations");
	tap_inteq(infra_json_opt_int64(s0, "iterations_planned", -1), 100, "100 planned");
	tap_ok(infra_json_opt_double(s0, "success_ratio", -1) == 0, "success ratio 0");
	tap_ok(!json_object_get_boolean(json_object_object_get(json_object_object_get(s0, "sla"), "pass")),
	       "pass_sla true but nothing evaluated: SLA not passed");
	tap_ok(json_object_object_get(s0, "durations") == NULL, "no durations");
	tap_ok(has_reason(s0, "no iteration ran (0 of 100)"), "reason: no iteration ran");
	json_object_put(sum);
	json_object_put(rep);
}

static void test_mixed(void)
{
	struct infra_err err = INFRA_ERR_INIT;
	json_object *rep = load("mixed"), *sum = NULL, *cinder, *dummy, *sla0;

	tap_ok(rep && infra_rally_summarize(rep, &sum, &err) == 0, "mixed summarised");
	if (!sum)
		return;
	tap_streq(s_of(scen(sum, 0), "status"), "pass", "neutron routers pass");
	tap_streq(s_of(scen(sum, 1), "status"), "pass", "glance images pass");
	cinder = scen(sum, 2);
	dummy = scen(sum, 3);
	tap_streq(s_of(cinder, "status"), "fail", "cinder timeout fails");
	tap_inteq(infra_json_opt_int64(cinder, "failures", -1), 1, "1 failure");
	tap_ok(strstr(json_object_get_string(json_object_array_get_idx(json_object_object_get(cinder, "errors"), 0)),
		      "TimeoutException: Rally tired waiting 15.00 seconds") != NULL, "first error message kept");
	sla0 = json_object_array_get_idx(json_object_object_get(json_object_object_get(cinder, "sla"), "failed"), 0);
	tap_streq(s_of(sla0, "criterion"), "failure_rate", "failing SLA criterion named");
	tap_inteq(json_object_array_length(json_object_object_get(dummy, "errors")), 1,
		  "two identical errors are listed once");
	tap_inteq(json_object_array_length(json_object_object_get(cinder, "atomic_actions")), 1, "cinder has one atomic action");
	tap_inteq(infra_json_opt_int64(json_object_array_get_idx(json_object_object_get(cinder, "atomic_actions"), 0),
				       "failures", -1), 1, "the failed atomic action is counted");
	json_object_put(sum);
	json_object_put(rep);
}

static void test_bad(void)
{
	struct infra_err err = INFRA_ERR_INIT;
	json_object *sum = NULL, *o;
	int rc;

	o = json_tokener_parse("{\"tasks\":[]}");
	rc = infra_rally_summarize(o, &sum, &err);
	tap_ok(rc == -EINVAL && sum == NULL && strstr(err.msg, "tasks[0]"), "no task: -EINVAL naming tasks[0] (%s)", err.msg);
	json_object_put(o);
	o = json_tokener_parse("{\"tasks\":[{\"status\":\"finished\",\"subtasks\":[{\"workloads\":[{\"scenario\":{}}]}]}]}");
	rc = infra_rally_summarize(o, &sum, &err);
	tap_ok(rc == -EINVAL && strstr(err.msg, "workloads[0]") && strstr(err.msg, "data"),
	       "workload without data: error names the workload and field (%s)", err.msg);
	json_object_put(o);
	o = json_tokener_parse("{\"tasks\":[{\"status\":\"finished\",\"subtasks\":[]}]}");
	rc = infra_rally_summarize(o, &sum, &err);
	tap_ok(rc == 0 && !strcmp(s_of(sum, "status"), "fail") && has_reason(sum, "no scenarios"),
	       "a finished task without scenarios is a failure, not a pass");
	json_object_put(sum);
	json_object_put(o);
}

static void test_duplicate_names(void)
{
	struct infra_err err = INFRA_ERR_INIT;
	json_object *rep = load("keystone-basic"), *sum = NULL, *st;

	/* make both workloads the same scenario */
	st = json_object_array_get_idx(json_object_object_get(json_object_array_get_idx(
		json_object_object_get(rep, "tasks"), 0), "subtasks"), 1);
	json_object_object_add(json_object_array_get_idx(json_object_object_get(st, "workloads"), 0), "scenario",
			       json_tokener_parse("{\"KeystoneBasic.create_delete_user\":{}}"));
	tap_ok(infra_rally_summarize(rep, &sum, &err) == 0, "summary with a repeated scenario");
	tap_streq(s_of(scen(sum, 1), "name"), "KeystoneBasic.create_delete_user#2", "second use labelled #2");
	json_object_put(sum);
	json_object_put(rep);
}

int main(void)
{
	test_percentile();
	test_num();
	test_pass();
	test_cleanup_leak();
	test_killed();
	test_mixed();
	test_bad();
	test_duplicate_names();
	return tap_done();
}
