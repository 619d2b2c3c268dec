#!/usr/bin/env bash
# spot-agg's request shape against the OpenStack simulator's request log (small cloud of
# tests/cases/spot-agg): VMs per host come from the one hypervisor listing
# (os-hypervisors/detail?with_servers=true), servers are asked only for the host that takes
# the flavor method; every GPU provider's usages are asked on every run, its inventories
# only while Placement's generation of the provider changed (an inventory change bumps it);
# a run with every cache fresh makes no OpenStack request and gives the same numbers.
set -u
cd "${INFRA_SRCDIR:?}"
BIN=${INFRA_BIN:-$PWD/${BUILD:-build}/bin}
tmp=${INFRA_TMP:-$(mktemp -d)}
. "$INFRA_SRCDIR/tests/lib/tap.sh"
vg=()
[ "${INFRA_VALGRIND:-0}" = 1 ] && vg=(valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99)

python3 tests/sim/spot_scenario.py small >"$tmp/seed.json"
python3 tests/sim/openstack.py --seed "$tmp/seed.json" --max-seconds 300 >"$tmp/os.out" 2>"$tmp/os.err" &
pid=$!
trap 'kill $pid 2>/dev/null; wait 2>/dev/null' EXIT
for _ in $(seq 100); do grep -q '^READY ' "$tmp/os.out" 2>/dev/null && break; sleep 0.1; done
OS=$(awk '/^READY/{print $2}' "$tmp/os.out")
unset OS_CLOUD OS_TOKEN OS_AUTH_TYPE OS_REGION_NAME NETBOX_URL NETBOX_TOKEN HYPERSTACK_API_KEY RUNPOD_API_KEY
export OS_AUTH_URL=$OS/identity/v3 OS_USERNAME=admin OS_PASSWORD=secret OS_PROJECT_NAME=admin \
	OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default
C=(--cache-dir "$tmp/cache" --gpu-class CUSTOM_L40S --gpus-per-host A100=8 -f json)
run() { # label args...: runs spot-agg, keeps the output as $tmp/<label>.json and the log position before it
	local label=$1; shift
	curl -s "$OS/_sim/requests" | python3 -c "import json,sys; print(len(json.load(sys.stdin)))" >"$tmp/$label.from"
	"${vg[@]}" "$BIN/spot-agg" "${C[@]}" "$@" >"$tmp/$label.json" 2>"$tmp/$label.err"
	echo $? >"$tmp/$label.rc"
}
reqs() { # label regex -> the paths of that run's requests matching regex (identity excluded), one a line
	curl -s "$OS/_sim/requests" | python3 -c "
import json, re, sys
log = json.load(sys.stdin)[int(open('$tmp/$1.from').read()):]
for r in log:
    if r['service'] not in ('identity', '_sim') and re.search(sys.argv[1], r['path']):
        print(r['path'])" "$2"
}
cnt() { reqs "$@" | wc -l; }
pools() { python3 -c "
import json
d = json.load(open('$tmp/$1.json'))['data']
print(sorted((p['gpu_type'], p['pool'], p['gpus_total'], p['gpus_used'], p['hosts'], p['vms']) for p in d['pools']),
      sorted((h['host'], h['method'], h['vms'], h['gpus_total'], h['gpus_used']) for h in d['hosts']))"; }

# 1. cold
run cold
check "cold: exit 1 (gpu-07 has GPUs in no pool)" test "$(cat "$tmp/cold.rc")" = 1
check "cold: one hypervisor listing, with_servers=true" \
	test "$(cnt cold '/os-hypervisors/detail')/$(cnt cold '/os-hypervisors/detail\?with_servers=true$')" = 1/1
check "cold: servers asked once, for gpu-04 only (the flavor-method host), not per pool host" \
	test "$(reqs cold '/servers/detail')" = "/compute/v2.1/servers/detail?all_tenants=1&host=gpu-04"
check "cold: VMs per host equal the seed's servers per host" python3 -c "
import collections, json, sys
seed = json.load(open('$tmp/seed.json'))
want = collections.Counter(s['host'] for s in seed['servers'] if s.get('host'))
got = {h['host']: h['vms'] for h in json.load(open('$tmp/cold.json'))['data']['hosts'] if h['vms'] is not None}
sys.exit(0 if got == {h: want[h] for h in got} and len(got) == 5 else 'got %s want %s' % (got, dict(want)))"
check "cold: inventories and usages once per asked provider (8 each)" \
	test "$(cnt cold '/inventories$')/$(cnt cold '/usages$')" = 8/8
check "cold: the run counts what the simulator saw" python3 -c "
import json, sys
d = json.load(open('$tmp/cold.json'))['data']
sys.exit(0 if d['requests'] == $(cnt cold .) else d['requests'])"

# 2. warm, default TTLs: Placement live, inventories reused (generations unchanged)
run warm
check "warm: no inventories asked (every generation unchanged), usages asked again (8)" \
	test "$(cnt warm '/inventories$')/$(cnt warm '/usages$')" = 0/8
check "warm: the same numbers as cold" test "$(pools warm)" = "$(pools cold)"

# 3. an operator changes one inventory: its generation moves, only it is asked again
prov=gpu-02.dc1.example.org_pci_0000_85_00_0
uuid=$(curl -s -X POST -H 'Content-Type: application/json' -d "{\"provider\": \"$prov\", \"rc\": \"VGPU\", \"total\": 6}" \
	"$OS/_sim/placement/inventory" | python3 -c "import json,sys; print(json.load(sys.stdin)['uuid'])")
run changed
check "changed: exactly one inventories request, for the provider whose generation moved" python3 -c "
import sys
paths = '''$(reqs changed '/inventories$')'''.split()
sys.exit(0 if paths == ['/placement/resource_providers/$uuid/inventories'] else str(paths))"
check "changed: its new capacity counts: H100/spot 7 + (6 - 0) x 2.0 = 19 GPUs" python3 -c "
import json, sys
p = {(x['gpu_type'], x['pool']): x for x in json.load(open('$tmp/changed.json'))['data']['pools']}
sys.exit(0 if p[('H100', 'spot')]['gpus_total'] == 19 else p[('H100', 'spot')])"
run changed2
check "after it: the new inventory is reused (no inventories request), same numbers" \
	test "$(cnt changed2 '/inventories$')/$(pools changed2)" = "0/$(pools changed)"

# 4. every cache fresh: no OpenStack request, the same numbers (Placement's copy keeps its GPU providers)
run fresh --cache-ttl hypervisors=600 --cache-ttl placement=600 --cache-ttl servers=600
check "fresh caches: no OpenStack request" test "$(cnt fresh .)" = 0
check "fresh caches: the same numbers and methods as the live run before" test "$(pools fresh)" = "$(pools changed2)"
check "no valgrind errors / every run exited 1" bash -c "cat '$tmp'/*.rc | sort -u | tr -d '\n' | grep -qx 1"
echo "1..$n"
