#!/usr/bin/env bash
# One vocabulary for OpenStack services across the kit (issue 9 item 7; lib/infra_ossvc.h):
# the catalog's service types in options, JSON, Prometheus labels, text, nagios, HTML and
# state files; the project names (nova, cinder, ...) accepted as aliases wherever a service
# is named; state files written with project names read as types; the same completion.
. "$(dirname "$0")/osmon-run-lib.sh"
ORPH=$INFRA_SRCDIR/$BUILD/bin/osmon-orphans
PURGE=$INFRA_SRCDIR/$BUILD/bin/osmon-purge

python3 "$INFRA_SRCDIR/tests/sim/openstack.py" --seed "$INFRA_SRCDIR/tests/sim/seeds/realistic.json" >"$tmp/cloud.out" 2>"$tmp/cloud.err" &
cloud=$!
trap 'kill $cloud 2>/dev/null' EXIT
for _ in $(seq 100); do grep -q READY "$tmp/cloud.out" && break; sleep 0.1; done
url=$(awk '/READY/ {print $2}' "$tmp/cloud.out")
cloudenv=(env OS_AUTH_URL="$url/identity/v3" OS_USERNAME=admin OS_PASSWORD=secret OS_PROJECT_NAME=admin
	OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default)
labels() { # family file -> the service label values, sorted, one line
	sed -n "s/^$1{service=\"\\([^\"]*\\)\".*/\\1/p" "$2" | sort -u | tr '\n' ' '
}

# --- osmon-run --health: types in, types out; project names are the same services
"${cloudenv[@]}" "$OSMON" --state-dir "$tmp/h1" --health --services compute,network -f json >"$tmp/h1.json" 2>"$tmp/h1.err"; rc=$?
check "osmon-run --health --services compute,network: exit 0, keyed compute and network (exit $rc)" \
	bash -c "[ $rc = 0 ] && [ \"\$(jq -c '.data.services | keys' '$tmp/h1.json')\" = '[\"compute\",\"network\"]' ]"
"${cloudenv[@]}" "$OSMON" --state-dir "$tmp/h2" --health --services nova,compute,cinder,volumev3 -f prom >"$tmp/h2.prom" 2>"$tmp/h2.err"; rc=$?
l=$(labels osmon_health_up "$tmp/h2.prom")
check "--services nova,compute,cinder,volumev3: two services, labelled block-storage and compute (exit $rc)" \
	bash -c "[ $rc = 0 ] && [ '$l' = 'block-storage compute ' ] && [ \$(grep -c '^osmon_health_up{' '$tmp/h2.prom') = 2 ]"
"${cloudenv[@]}" "$OSMON" --state-dir "$tmp/h3" --health --services keystone,swift -f nagios >"$tmp/h3.txt" 2>&1; rc=$?
check "-f nagios perfdata named by type (identity_latency, object-store_latency)" \
	bash -c "[ $rc = 0 ] && grep -q \"'identity_latency'=\" '$tmp/h3.txt' && grep -q \"'object-store_latency'=\" '$tmp/h3.txt' && ! grep -q keystone '$tmp/h3.txt'"
"${cloudenv[@]}" "$OSMON" --state-dir "$tmp/h3" --health --services glance -f text >"$tmp/h4.txt" 2>&1; rc=$?
check "-f text: the SERVICE column says image for --services glance" \
	bash -c "[ $rc = 0 ] && grep -qE '^image +up ' '$tmp/h4.txt' && ! grep -q glance '$tmp/h4.txt'"

# --- osmon-orphans / osmon-purge --service: project names are aliases
"${cloudenv[@]}" "$ORPH" --service nova -f json >"$tmp/o1.json" 2>"$tmp/o1.err"; rc=$?
check "osmon-orphans --service nova: accepted, lists compute only (exit $rc)" \
	bash -c "[ $rc != 3 ] && [ \"\$(jq -c '[.data.services[].service]' '$tmp/o1.json')\" = '[\"compute\"]' ]"
"${cloudenv[@]}" "$ORPH" --service cinder,glance -f json >"$tmp/o2.json" 2>"$tmp/o2.err"
"${cloudenv[@]}" "$ORPH" --service block-storage,image -f json >"$tmp/o3.json" 2>"$tmp/o3.err"
check "osmon-orphans --service cinder,glance finds what --service block-storage,image finds" \
	bash -c "[ -n \"\$(jq -c '.data.counts' '$tmp/o2.json')\" ] && diff <(jq -S '.data.counts, [.data.services[].service]' '$tmp/o2.json') <(jq -S '.data.counts, [.data.services[].service]' '$tmp/o3.json') >/dev/null"
"${cloudenv[@]}" "$PURGE" --service cinder -f json >"$tmp/p1.json" 2>"$tmp/p1.err"; rc=$?
check "osmon-purge --service cinder (dry run): accepted, plans block-storage resources only (exit $rc)" \
	bash -c "[ $rc = 0 ] && [ \"\$(jq -c '[.data.plan[]?.service] | unique' '$tmp/p1.json')\" = '[\"block-storage\"]' ]"
"$ORPH" --service nosuch -f json >/dev/null 2>"$tmp/o4.err"; rc=$?
check "an unknown --service is still a usage error naming the vocabulary (exit $rc)" \
	bash -c "[ $rc = 3 ] && grep -q \"unknown --service 'nosuch' (identity, compute, .*project names)\" '$tmp/o4.err'"

# --- the metrics join: the same service has the same label in every tool
"${cloudenv[@]}" "$OSMON" --state-dir "$tmp/h5" --health -f prom >"$tmp/health.prom" 2>/dev/null
"${cloudenv[@]}" "$ORPH" -f prom >"$tmp/orphans.prom" 2>/dev/null
h=$(labels osmon_health_up "$tmp/health.prom"); o=$(labels osmon_orphans_service_up "$tmp/orphans.prom")
echo "# osmon_health_up: $h"
echo "# osmon_orphans_service_up: $o"
check "every osmon_health_up{service} has its osmon_orphans_service_up{service} (joinable on service)" \
	bash -c "[ -n '$h' ] && for s in $h; do [[ ' $o' == *\" \$s \"* ]] || exit 1; done"
check "the six services checked by default are the catalog types" \
	test "$h" = "block-storage compute identity image network object-store "

# --- osmon-run with rally: types in the summary, run files and task files; old task dirs work
osmon --state-dir "$tmp/r1" --services identity -f json >"$tmp/r1.json" 2>"$tmp/r1.err"; rc=$?
check "osmon-run --services identity: runs the shipped identity task, passes (exit $rc)" \
	bash -c "[ $rc = 0 ] && [ \"\$(jq -r '.data.services.identity.status' '$tmp/r1.json')\" = pass ] && jq -r '.data.services.identity.task_file' '$tmp/r1.json' | grep -q '/osmon/tasks/identity.yaml\$' && test -s '$tmp/r1/runs/'*/identity.json"
osmon --state-dir "$tmp/r2" --services keystone,identity -f prom >"$tmp/r2.prom" 2>"$tmp/r2.err"; rc=$?
l=$(labels osmon_service_pass "$tmp/r2.prom")
check "--services keystone,identity: one service, osmon_service_pass{service=\"identity\"} (exit $rc)" \
	bash -c "[ $rc = 0 ] && [ '$l' = 'identity ' ]"
mkdir -p "$tmp/mytasks"
cp "$INFRA_SRCDIR/share/osmon/tasks/identity.yaml" "$tmp/mytasks/keystone.yaml"
RALLY_SIM_LOG=$tmp/rally.log osmon --state-dir "$tmp/r3" --services identity --task-dir "$tmp/mytasks" -f json >"$tmp/r3.json" 2>"$tmp/r3.err"; rc=$?
check "a task directory made for older versions (keystone.yaml) is used for --services identity (exit $rc)" \
	bash -c "[ $rc = 0 ] && grep -q -- '--task $tmp/mytasks/keystone.yaml' '$tmp/rally.log'"

# --- state written by an older version (project names) reads as types, one series per service
old=$tmp/old
mkdir -p "$old"
cat >"$old/latest_summary.json" <<'J'
{"run_id":"20261120T000000Z","services":{"keystone":{"status":"pass","scenarios":[]},"cinder":{"status":"fail","error":"boom","scenarios":[]}},"totals":{"services":2,"passed":1,"failed":1,"errors":0}}
J
cat >"$old/history.json" <<'J'
{"version":1,"entries":[
{"run_id":"20261120T000000Z","time":"2026-11-20T00:00:00Z","status":"warning","services":{"keystone":{"status":"pass","scenarios":{}},"cinder":{"status":"fail","scenarios":{}}}},
{"run_id":"20261120T040000Z","time":"2026-11-20T04:00:00Z","status":"ok","services":{"keystone":{"status":"pass","scenarios":{}},"cinder":{"status":"pass","scenarios":{}}}}]}
J
cat >"$old/health_history.json" <<'J'
{"version":1,"entries":[{"time":"2026-11-20T00:15:00Z","services":{"nova":{"up":true,"latency_seconds":0.02},"neutron":{"up":false,"error":"HTTP 500"}}}]}
J
osmon --state-dir "$old" --html "$tmp/old1.html" 2>"$tmp/old1.err"; rc=$?
check "--html of an older state directory: exit 0, services named by type" \
	bash -c "[ $rc = 0 ] && grep -q '>identity<' '$tmp/old1.html' && grep -q '>block-storage<' '$tmp/old1.html' && grep -q '>compute<' '$tmp/old1.html' && ! grep -Eq '>(keystone|cinder|nova|neutron)<' '$tmp/old1.html'"
INFRA_NOW=$(ts 2026-11-20T08:00:00Z) osmon --state-dir "$old" --services identity,block-storage -f json >/dev/null 2>"$tmp/old2.err"; rc=$?
"${cloudenv[@]}" INFRA_NOW=$(ts 2026-11-20T08:15:00Z) "$OSMON" --state-dir "$old" --health --services compute,network -f json >/dev/null 2>&1
osmon --state-dir "$old" --html "$tmp/old2.html" 2>>"$tmp/old2.err"
hdr=$(sed -n '/<h2>Recent runs<\/h2>/,/<\/table>/p' "$tmp/old2.html" | grep -m1 '<th>')
echo "# $(sed 's/<[^>]*>/ /g; s/  */ /g' <<<"$hdr")"
check "a new run after the old ones: one column per service (block-storage, identity) in the run history" \
	bash -c "[ $rc = 1 ] && grep -q '<th>status</th><th>block-storage</th><th>identity</th></tr>\$' <<<'$hdr'"
check "and every run has a cell in both columns (the old runs are the same series)" \
	bash -c "sed -n '/<h2>Recent runs<\\/h2>/,/<\\/table>/p' '$tmp/old2.html' | grep -o 'badge pass\\|badge fail' | wc -l | grep -qx 6"
check "history.json keeps what was written; the new entry says identity and block-storage" \
	test "$(jq -c '[.entries[] | .services | keys]' "$old/history.json")" = '[["cinder","keystone"],["cinder","keystone"],["block-storage","identity"]]'

# --- completion: the same values for both tools, list-aware
comp() { # tool option word -> COMPREPLY
	bash -c "source '$INFRA_SRCDIR/completions/bash/$1'; fn=\$(sed -n 's/^complete -F \\([^ ]*\\) .*/\\1/p' '$INFRA_SRCDIR/completions/bash/$1'); COMP_WORDS=($1 $2 '$3'); COMP_CWORD=2; \$fn; echo \"\${COMPREPLY[*]}\""
}
a=$(comp osmon-run --services ""); b=$(comp osmon-orphans --service ""); c=$(comp osmon-purge --service "")
echo "# osmon-run --services: $a"
check "osmon-run --services and osmon-orphans/purge --service complete the same service types" \
	bash -c "[ -n '$a' ] && [ '$a' = '$b' ] && [ '$b' = '$c' ] && [[ ' $a ' == *' block-storage '* && ' $a ' == *' compute '* ]]"
check "completion continues a comma-separated list (compute,bl -> compute,block-storage) in both" \
	bash -c "[ \"\$(comp() { $(declare -f comp | tail -n +2); }; comp osmon-run --services compute,bl)\" = compute,block-storage ] && [ \"\$(comp() { $(declare -f comp | tail -n +2); }; comp osmon-orphans --service compute,bl)\" = compute,block-storage ]"
echo "1..$n"
