#!/usr/bin/env bash
# osmon-run across several runs: dated run directories, history.json in order,
# latest_summary.json of the last run, a corrupt history kept aside.
. "$(dirname "$0")/osmon-run-lib.sh"
st=$tmp/state
t1=$(ts 2026-11-23T00:00:00Z); t2=$(ts 2026-11-23T04:00:00Z); t3=$(ts 2026-11-23T08:00:00Z)

INFRA_NOW=$t1 osmon --state-dir "$st" --services keystone -f json >"$tmp/r1.json" 2>"$tmp/e1"; rc1=$?
INFRA_NOW=$t2 RALLY_SIM_BLOCK_STORAGE=mixed:cinder osmon --state-dir "$st" --services keystone,cinder -f json >"$tmp/r2.json" 2>"$tmp/e2"; rc2=$?
INFRA_NOW=$t3 osmon --state-dir "$st" --services keystone -f prom -o "$tmp/osmon.prom" 2>"$tmp/e3"; rc3=$?
check "three runs exit 0, 1, 0" test "$rc1 $rc2 $rc3" = "0 1 0"
check "three dated run directories" test "$(ls "$st/runs" | tr '\n' ' ')" = "20261123T000000Z 20261123T040000Z 20261123T080000Z "
for d in "$st"/runs/*; do
	check "$(basename "$d"): identity.json (--services keystone: the type) is a rally 1.2 report, run.log and summary.json present" \
		bash -c "jq -e '.info.format_version == \"1.2\"' '$d/identity.json' >/dev/null && test -s '$d/run.log' && test -s '$d/summary.json'"
done
check "history.json: 3 entries, oldest first, with per-run status" \
	test "$(jq -c '[.entries[] | [.run_id, .status]]' "$st/history.json")" = '[["20261123T000000Z","ok"],["20261123T040000Z","warning"],["20261123T080000Z","ok"]]'
check "history keeps per-scenario status and ratio (block-storage, asked for as cinder, failed in run 2)" \
	test "$(jq -c '.entries[1].services["block-storage"].scenarios["CinderVolumes.create_volume"] | [.status, .success_ratio, .failures]' "$st/history.json")" = '["fail",0,1]'
check "latest_summary.json is the last run" test "$(jq -r .run_id "$st/latest_summary.json")" = 20261123T080000Z
check "the run's summary.json equals the JSON output's data" \
	bash -c "diff <(jq -S .data '$tmp/r2.json') <(jq -S . '$st/runs/20261123T040000Z/summary.json') >/dev/null"
check "one rally deployment was created and reused (credentials unchanged)" \
	test "$(jq .created "$st/rally/rally-sim-state.json")" = 1
check "-o textfile written, ends with osmon_up 1" grep -q '^osmon_up 1$' "$tmp/osmon.prom"

# changed credentials: the deployment is recreated, never printed
INFRA_NOW=$((t3 + 3600)) OS_PASSWORD=new-pw osmon --state-dir "$st" --services keystone -f json >"$tmp/r4.json" 2>"$tmp/e4"; rc=$?
check "changed password: deployment destroyed and created again, run passes" \
	bash -c "[ $rc = 0 ] && [ \"\$(jq .created '$st/rally/rally-sim-state.json')\" = 2 ]"
check "no password in outputs, logs or history" \
	bash -c "! grep -rq -e s3cret-pw -e new-pw '$tmp'/r*.json '$tmp'/e* '$st/runs' '$st/history.json' '$st/latest_summary.json'"

# corrupt history: kept aside, a new one started, the run still succeeds with a warning
echo '{"version":1,"entries":[' >"$st/history.json"
INFRA_NOW=$((t3 + 7200)) osmon --state-dir "$st" --services keystone -f json >"$tmp/r5.json" 2>"$tmp/e5"; rc=$?
check "corrupt history.json: kept as history.json.corrupt" test -s "$st/history.json.corrupt"
check "corrupt history.json: new history with this run only" test "$(jq '.entries | length' "$st/history.json")" = 1
check "corrupt history.json: one error line names the file" grep -q "history.json.*invalid JSON" "$tmp/e5"
check "corrupt history.json: exit 0 (the tests passed)" test "$rc" = 0
echo "1..$n"
