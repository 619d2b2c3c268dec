#!/bin/bash
# Real tier: osmon-run driving real Rally (rally 3.3, rally-openstack 2.2 from Debian)
# against the real services of scripts/devcloud: keystone, glance, neutron, nova
# (keypairs, server groups) and swift scenarios that pass, one whose SLA fails, one
# killed by --task-timeout; then history and retention across runs with a faked clock.
#
# Reuses a running devcloud when DEVCLOUD_STATE names one (and leaves it running);
# otherwise brings one up in $INFRA_TMP (standard or alternative ports) and takes it
# down at the end.  Task files: tests/real/osmon-run/*.yaml.
set -u -o pipefail

SRC=${INFRA_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${BUILD:-build}
OSMON=$SRC/$BUILD/bin/osmon-run
DC=${OSMON_DEVCLOUD:-$SRC/scripts/devcloud}
TASKS=$SRC/tests/real/osmon-run
TMP=${INFRA_TMP:-$(mktemp -d /var/tmp/osmon-run-t.XXXXXX)}
SERVICES=keystone,glance,neutron,placement,nova,swift

N=0
ok() { N=$((N + 1)); echo "ok $N - $*"; }
not_ok() { N=$((N + 1)); echo "not ok $N - $*"; }
check() { local d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }
jqc() { jq -r "$1" "$2" 2>/dev/null; }

if [[ ! -x $DC ]]; then
	not_ok "scripts/devcloud is missing: the real tier cannot start"
	echo "1..$N"; exit 1
fi
if ! command -v rally >/dev/null || ! command -v jq >/dev/null; then
	not_ok "rally or jq not installed (scripts/install-deps with scripts/devcloud.packages)"
	echo "1..$N"; exit 1
fi

STARTED=0
if [[ -n ${DEVCLOUD_STATE:-} ]] && "$DC" status --state-dir "$DEVCLOUD_STATE" >/dev/null 2>&1; then
	STATE=$DEVCLOUD_STATE
	ok "devcloud: reusing the running one in $STATE (left running)"
else
	STATE=$TMP/devcloud
	t=$(date +%s)
	if "$DC" up --services "$SERVICES" --state-dir "$STATE" --no-rally >"$TMP/up.log" 2>&1; then
		ok "devcloud up --services $SERVICES ($(($(date +%s) - t)) s)"
	else
		not_ok "devcloud up --services $SERVICES: the real tier cannot start"
		tail -n 30 "$TMP/up.log" | sed 's/^/#   /'
		"$DC" down --state-dir "$STATE" >/dev/null 2>&1
		echo "1..$N"; exit 1
	fi
	STARTED=1
fi
cleanup() { ((STARTED)) && "$DC" down --state-dir "$STATE" >/dev/null 2>&1; }
trap cleanup EXIT

# credentials as an operator would source them; never printed
eval "$("$DC" env --state-dir "$STATE")"
unset OS_CLOUD
export INFRAKIT_DATADIR=$SRC/share
head -c 1024 /dev/urandom >"$TMP/tiny.img"
export RALLY_GLANCE_IMAGE_LOCATION=$TMP/tiny.img
OST=$TMP/osmon
have_os=0   # osmon-run with the OpenStack client: health checks, orphan counts after a run
"$OSMON" --help | grep -q -- '--health' && have_os=1

# 1: identity, image, network, compute, object-store pass (service types; the task files in
# $TASKS carry the project names, found as aliases); the dummy task fails its SLA
t=$(date +%s)
"$OSMON" --state-dir "$OST" --task-dir "$TASKS" --services identity,image,network,compute,object-store,slafail \
	--task-timeout 10m -f json -o "$TMP/run1.json" 2>"$TMP/run1.err"
rc=$?
echo "# run 1: exit $rc in $(($(date +%s) - t)) s"
check "run 1 exits 1 (slafail fails, the rest passes)" test "$rc" = 1
for s in identity image network compute object-store; do
	st=$(jqc ".data.services[\"$s\"].status" "$TMP/run1.json")
	if [[ $st == pass ]]; then
		ok "real rally: $s passes ($(jqc "[.data.services[\"$s\"].scenarios[] | .name + \" \" + (.iterations|tostring) + \"/\" + (.iterations_planned|tostring)] | join(\", \")" "$TMP/run1.json"))"
	else
		not_ok "real rally: $s is $st"
		jq -c ".data.services[\"$s\"] | {error, reasons, scenarios: [.scenarios[]? | {name, reasons, errors}]}" "$TMP/run1.json" | sed 's/^/#   /'
	fi
done
check "slafail: scenario fails with SLA failure_rate failed" \
	test "$(jqc '.data.services.slafail.scenarios[0] | [.status, .sla.pass, .sla.failed[0].criterion] | map(tostring) | join(" ")' "$TMP/run1.json")" = "fail false failure_rate"
check "slafail: first error message is rally's DummyScenarioException" \
	grep -q "DummyScenarioException: Dummy scenario expected exception: 'boom'" <(jqc '.data.services.slafail.scenarios[0].errors[0]' "$TMP/run1.json")
check "each service has rally's format 1.2 report in the run directory" \
	bash -c "for s in identity image network compute object-store slafail; do jq -e '.info.format_version == \"1.2\"' $OST/runs/*/\$s.json >/dev/null || exit 1; done"
check "durations recorded: identity median between 1 ms and 30 s" \
	bash -c "jq -e '.data.services.identity.scenarios[0].durations.median | . > 0.001 and . < 30' '$TMP/run1.json' >/dev/null"
check "no password in the output, the logs or the state" \
	bash -c "! grep -rqF -- \"\$OS_PASSWORD\" '$TMP/run1.json' '$TMP/run1.err' '$OST/runs' '$OST/history.json' '$OST/latest_summary.json'"

# 2: a task killed by --task-timeout: rally and its forked runner gone, task stays running
t=$(date +%s)
"$OSMON" --state-dir "$OST" --task-dir "$TASKS" --services killed --task-timeout 20 -f prom -o "$TMP/run2.prom" \
	2>"$TMP/run2.err"
rc=$?
el=$(($(date +%s) - t))
echo "# run 2: exit $rc in $el s"
check "killed run exits 1 and ends soon after --task-timeout ($el s)" test "$rc" = 1 -a "$el" -lt 120
check "killed: osmon_service_pass 0, iterations 0, SLA not passed" \
	bash -c "grep -q '^osmon_service_pass{service=\"killed\"} 0$' '$TMP/run2.prom' && grep -q '^osmon_scenario_iterations{service=\"killed\",scenario=\"KeystoneBasic.create_user\"} 0$' '$TMP/run2.prom' && grep -q '^osmon_sla_pass{service=\"killed\",scenario=\"KeystoneBasic.create_user\"} 0$' '$TMP/run2.prom'"
check "killed: rally reports the task as running (latest summary)" \
	test "$(jqc '.services.killed | [.task_status, .killed_after_timeout] | map(tostring) | join(" ")' "$OST/latest_summary.json")" = "running true"
check "killed: no rally process of the task is left" \
	bash -c "! pgrep -f -- '[t]ask start --task $TASKS/killed.yaml' >/dev/null"  # [t]: not this shell
if [[ -x $SRC/tests/real/promcheck ]]; then
	check "killed run textfile passes promtool and node_exporter" "$SRC/tests/real/promcheck" "$TMP/run2.prom"
fi

# health checks and orphan counts need the OpenStack client (osmon-run --health exists then)
if ((have_os)); then
	"$OSMON" --state-dir "$OST" --health -f json -o "$TMP/health.json" 2>"$TMP/health.err"
	rc=$?
	check "--health against the real services: exit 0, every checked service up" \
		bash -c "[ $rc = 0 ] && [ \"\$(jq -r '[.data.services[] | .up] | all' '$TMP/health.json')\" = true ]"
	echo "# health: $(jq -c '[.data.services | to_entries[] | .key + " " + (.value.latency_seconds|tostring) + "s"]' "$TMP/health.json")"
	check "--health checked compute, identity, image, network and object-store (service types)" \
		test "$(jq -c '[.data.services | keys[]]' "$TMP/health.json")" = '["compute","identity","image","network","object-store"]'
	check "run 1 recorded the orphan counts of the real cloud" \
		bash -c "jq -e '.data.orphans.total | type == \"number\"' '$TMP/run1.json' >/dev/null"
	echo "# orphans after run 1: $(jq -c '.data.orphans | {total, by_type}' "$TMP/run1.json")"
fi

# 3: history and retention across runs, the clock moved forward 10 days
t3=$(($(date +%s) + 10 * 86400))
INFRA_NOW=$t3 "$OSMON" --state-dir "$OST" --task-dir "$TASKS" --services keystone --retention-days 7 \
	-f json -o "$TMP/run3.json" 2>"$TMP/run3.err"
rc=$?
if ((have_os)); then
	# the killed task never ran its context cleanup: its c_rally project and user are left
	check "run 3 (clock +10 days): --services keystone passes as identity, the killed task's leftovers are found (exit 1)" \
		bash -c "[ $rc = 1 ] && [ \"\$(jq -r '.data.services.identity.status' '$TMP/run3.json')\" = pass ] && [ \"\$(jq -r '.data.orphans.by_type[\"identity/projects\"] // 0' '$TMP/run3.json')\" -ge 1 ]"
	echo "# orphans after run 3: $(jq -c '.data.orphans | {total, by_type}' "$TMP/run3.json")"
	want='["warning","warning","warning"]'
else
	check "run 3 (clock +10 days) passes" test "$rc" = 0
	want='["warning","warning","ok"]'
fi
check "history has the three runs in order with their statuses" \
	test "$(jq -c '[.entries[].status]' "$OST/history.json")" = "$want"
check "retention archived the two older runs, the third stays" \
	test "$(jqc '.data.retention | [.archived_runs, .kept_runs] | map(tostring) | join(" ")' "$TMP/run3.json")" = "2 1"
arch=$(ls "$OST"/archive/*.tar.gz 2>/dev/null | head -1)
check "the archive holds rally's reports of the archived runs" \
	bash -c "[ -n '$arch' ] && [ \$(tar tzf '$arch' | grep -cE '/(identity|killed)\\.json\$') -ge 2 ]"
echo "1..$N"
