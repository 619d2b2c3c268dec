#!/usr/bin/env bash
# spot-agg move against the OpenStack simulator: dry run, --confirm, idempotent rerun,
# refusal with servers on the host, --allow-busy, a failed remove undone, a failed undo,
# the lock held by another move, unknown aggregates and usage errors.
set -u
cd "${INFRA_SRCDIR:?}"
BIN=${INFRA_BIN:-$PWD/${BUILD:-build}/bin}
tmp=${INFRA_TMP:-$(mktemp -d)}
. "$INFRA_SRCDIR/tests/lib/tap.sh"
vg=()
[ "${INFRA_VALGRIND:-0}" = 1 ] && vg=(valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99)

python3 tests/sim/spot_scenario.py small >"$tmp/seed.json"
python3 tests/sim/openstack.py --seed "$tmp/seed.json" --max-seconds 300 >"$tmp/sim.out" 2>"$tmp/sim.err" &
sim_pid=$!
trap 'kill $sim_pid 2>/dev/null; wait $sim_pid 2>/dev/null' EXIT
for _ in $(seq 100); do grep -q '^READY ' "$tmp/sim.out" 2>/dev/null && break; sleep 0.1; done
URL=$(awk '/^READY/{print $2}' "$tmp/sim.out")
unset OS_CLOUD OS_TOKEN OS_AUTH_TYPE OS_REGION_NAME
export OS_AUTH_URL=$URL/identity/v3 OS_USERNAME=admin OS_PASSWORD=secret OS_PROJECT_NAME=admin \
	OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default
mkdir -m 0700 "$tmp/run"
export RUNTIME_DIRECTORY=$tmp/run

# members of an aggregate, sorted, comma-joined
members() {
	python3 - "$URL" "$1" <<'PY'
import json, sys, urllib.request
base, name = sys.argv[1], sys.argv[2]
tok = urllib.request.Request(base + "/identity/v3/auth/tokens", method="POST", headers={"Content-Type": "application/json"},
    data=json.dumps({"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin", "password": "secret", "domain": {"name": "Default"}}}},
                              "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}}).encode())
t = urllib.request.urlopen(tok).headers["X-Subject-Token"]
r = urllib.request.Request(base + "/compute/v2.1/os-aggregates", headers={"X-Auth-Token": t})
for a in json.load(urllib.request.urlopen(r))["aggregates"]:
    if a["name"] == name:
        print(",".join(sorted(a["hosts"])))
PY
}
posts() { python3 -c "
import json, urllib.request
print(sum(1 for r in json.load(urllib.request.urlopen('$URL/_sim/requests')) if r['method'] == 'POST' and 'os-aggregates' in r['path']))"; }
fault() { curl -sf -X POST -H 'Content-Type: application/json' -d "$1" "$URL/_sim/fault"; }
nofaults() { curl -sf -X DELETE "$URL/_sim/faults"; }
move() { "${vg[@]}" "$BIN/spot-agg" move "$@" -f json >"$tmp/out.json" 2>"$tmp/err"; echo $? >"$tmp/rc"; }
rc() { cat "$tmp/rc"; }
jq_() { python3 -c "import json,sys; d=json.load(open('$tmp/out.json')); print($1)"; }

# 1. dry run (the default)
move gpu-07 --to H100-spot
check "dry run exits 0" test "$(rc)" = 0
check "... says it would add" test "$(jq_ "d['data']['steps'][0]['result']")" = "would add (dry run)"
check "... and changed nothing (no POST, H100-spot still gpu-01,gpu-02)" test "$(posts),$(members H100-spot)" = "0,gpu-01,gpu-02"

# 2. --confirm
move gpu-07 --to H100-spot --confirm
check "--confirm exits 0 and says added" test "$(rc),$(jq_ "d['data']['steps'][0]['result']")" = "0,added"
check "... gpu-07 is in H100-spot" test "$(members H100-spot)" = "gpu-01,gpu-02,gpu-07"

# 3. idempotent
before=$(posts)
move gpu-07 --to H100-spot --confirm
check "the same move again exits 0, changed false, 'already a member'" \
	test "$(rc),$(jq_ "d['data']['changed']"),$(jq_ "d['data']['steps'][0]['result']")" = "0,False,already a member"
check "... and made no aggregate POST" test "$(posts)" = "$before"

# 4. servers on the host
move gpu-01 --to H100-ondemand --confirm
check "a host with a server is refused: exit 1" test "$(rc)" = 1
check "... saying how many servers" grep -q "host gpu-01 has 1 server: not moved (--allow-busy" "$tmp/err"
check "... nothing changed" test "$(members H100-ondemand)/$(members H100-spot)" = "gpu-03/gpu-01,gpu-02,gpu-07"

# 5. --allow-busy: add to the target, remove from the other pool, the AZ aggregate untouched
move gpu-01 --to H100-ondemand --confirm --allow-busy
check "--allow-busy moves it: exit 0" test "$(rc)" = 0
check "... add then remove, in that order" test "$(jq_ "','.join(s['action']+':'+s['aggregate']+':'+s['result'] for s in d['data']['steps'])")" = \
	"add_host:H100-ondemand:added,remove_host:H100-spot:removed"
check "... H100-ondemand gpu-01,gpu-03; H100-spot gpu-02,gpu-07; az1 still has gpu-01" \
	test "$(members H100-ondemand)/$(members H100-spot)/$(members az1)" = "gpu-01,gpu-03/gpu-02,gpu-07/cpu-01,gpu-01,gpu-02,gpu-03"

# 6. the remove fails: the add is undone
fault '{"service": "compute", "path": "os-aggregates/1/action", "method": "POST", "kind": "500"}'
move gpu-07 --to H100-ondemand --confirm
check "a failed remove exits 2" test "$(rc)" = 2
check "... and undid the add" test "$(jq_ "','.join(s['action']+':'+s['aggregate'] for s in d['data']['steps'])"),$(jq_ "d['data']['rolled_back']")" = \
	"add_host:H100-ondemand,remove_host:H100-spot,undo add_host:H100-ondemand,True"
check "... the error says it rolled back" grep -q "rolled back (host removed from H100-ondemand again)" "$tmp/err"
check "... gpu-07 is where it was (H100-spot only)" test "$(members H100-ondemand)/$(members H100-spot)" = "gpu-01,gpu-03/gpu-02,gpu-07"
nofaults

# 7. the undo fails too
fault '{"service": "compute", "path": "os-aggregates/1/action", "method": "POST", "kind": "500"}'
fault '{"service": "compute", "path": "os-aggregates/2/action", "method": "POST", "kind": "500", "after": 1}'
move gpu-07 --to H100-ondemand --confirm
check "remove and undo failing: exit 2, says the host is in both" test "$(rc)" = 2
check "... message" grep -q "rollback FAILED too.*host left in both" "$tmp/err"
nofaults
move gpu-07 --to H100-ondemand --from H100-spot --confirm
check "a rerun with --from finishes the move (exit 0, add 'already a member', removed)" \
	test "$(rc),$(jq_ "','.join(s['result'] for s in d['data']['steps'])")" = "0,already a member,removed"

# 8. the lock
flock -o "$tmp/run/spot-agg-move.lock" sleep 3 &
holder=$!
sleep 0.3
move gpu-02 --to A100-spot --confirm --allow-busy
check "a move while another holds the lock exits 1" test "$(rc)" = 1
check "... naming the lock" grep -q "holds the lock" "$tmp/err"
check "... and changed nothing" test "$(members A100-spot)" = "gpu-04"
kill $holder 2>/dev/null; wait $holder 2>/dev/null

# 9. mistakes
move gpu-02 --to NoSuch-pool --confirm
check "an unknown --to exits 3" test "$(rc)" = 3
check "... naming it" grep -q "no aggregate named 'NoSuch-pool'" "$tmp/err"
move gpu-02 --to H100-spot --from A100-spot --confirm
check "--from an aggregate the host is not in: exit 0, 'not a member'" \
	test "$(rc),$(jq_ "d['data']['steps'][-1]['result']")" = "0,not a member"
"$BIN/spot-agg" move gpu-02 >/dev/null 2>"$tmp/err"
check "move without --to: exit 3" test "$?" = 3
"$BIN/spot-agg" --confirm -f json >/dev/null 2>"$tmp/err"
check "--confirm without move: exit 3" test "$?" = 3
OS_USERNAME=viewer OS_PROJECT_NAME=demo "$BIN/spot-agg" move gpu-02 --to H100-ondemand --confirm -f json >/dev/null 2>"$tmp/err"
check "a non-admin move: exit 3, 'no admin role'" test "$?,$(grep -c 'no admin role' "$tmp/err")" = "3,1"
echo "1..$n"
