#!/usr/bin/env bash
# spot-agg with every source: OpenStack, NetBox, Hyperstack and RunPod simulators in
# parallel; the per-source caches (fresh hits skip the request, stale copies stand in
# for a failed source with their age, --refresh, --clear-cache, --cache-stats); one
# source failing never drops the others; OpenStack unreachable still reports the others.
set -u
cd "${INFRA_SRCDIR:?}"
BIN=${INFRA_BIN:-$PWD/${BUILD:-build}/bin}
tmp=${INFRA_TMP:-$(mktemp -d)}
. "$INFRA_SRCDIR/tests/lib/tap.sh"
vg=()
[ "${INFRA_VALGRIND:-0}" = 1 ] && vg=(valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99)

cat >"$tmp/world.json" <<'W'
{"netbox": {"tokens_v1": ["0123456789abcdef0123456789abcdef01234567"],
            "devices": [{"name": "gpu-01", "site": "ams1", "rack": "r12", "tenant": "research"},
                        {"name": "GPU-02", "site": "ams1", "rack": "r13", "tenant": null},
                        {"name": "gpu-04.dc1.example.org", "site": "fra2", "rack": null, "tenant": "ml-team"},
                        {"name": "gpu-010", "site": "wrong", "rack": "wrong", "tenant": "wrong"},
                        {"name": "other", "site": "x", "rack": "y", "tenant": "z"}]},
 "hyperstack": {"api_key": "hs-test-key",
                "vms": [{"name": "rent-in-1", "status": "ACTIVE", "gpu": "H100-80G-PCIe", "gpu_count": 8, "flavor": "n3-H100x8"},
                        {"name": "rent-in-2", "status": "ACTIVE", "gpu": "H100-80G-PCIe", "gpu_count": 4, "flavor": "n3-H100x4"},
                        {"name": "sleeping", "status": "HIBERNATED", "gpu": "L40", "gpu_count": 1, "flavor": "n3-L40x1"}]},
 "runpod": {"api_key": "rp-test-key",
            "pods": [{"id": "p1", "name": "train", "desiredStatus": "RUNNING", "gpuCount": 2, "gpuDisplayName": "H100 80GB HBM3"},
                     {"id": "p2", "name": "old", "desiredStatus": "EXITED", "gpuCount": 1, "gpuDisplayName": "A100 80GB"}]}}
W
python3 tests/sim/spot_scenario.py small >"$tmp/seed.json"
trap sim_stop_all EXIT
OS=$(sim_start os python3 tests/sim/openstack.py --seed "$tmp/seed.json")
NB=$(sim_start nb python3 tests/sim/netbox.py --world "$tmp/world.json")
HS=$(sim_start hs python3 tests/sim/hyperstack.py --world "$tmp/world.json")
RP=$(sim_start rp python3 tests/sim/runpod.py --world "$tmp/world.json")
unset OS_CLOUD OS_TOKEN OS_AUTH_TYPE OS_REGION_NAME NETBOX_URL NETBOX_TOKEN HYPERSTACK_API_KEY RUNPOD_API_KEY
export OS_AUTH_URL=$OS/identity/v3 OS_USERNAME=admin OS_PASSWORD=secret OS_PROJECT_NAME=admin \
	OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default \
	NETBOX_URL=$NB NETBOX_TOKEN=0123456789abcdef0123456789abcdef01234567 \
	HYPERSTACK_API_KEY=hs-test-key RUNPOD_API_KEY=rp-test-key
C=(--cache-dir "$tmp/cache" --gpu-class CUSTOM_L40S --gpus-per-host A100=8 --hyperstack-url "$HS/v1" --runpod-url "$RP/graphql")
run() { "${vg[@]}" "$BIN/spot-agg" "${C[@]}" "$@" >"$tmp/out" 2>"$tmp/err"; echo $? >"$tmp/rc"; }
rc() { cat "$tmp/rc"; }
py() { python3 -c "import json,sys; d=json.load(open('$tmp/out'))['data']; S={s['source']: s for s in d['sources']}; H={h['host']: h for h in (d['hosts'] or [])}; r=($1); print(r)"; }
count() { # sim path-regex: requests so far
	python3 -c "
import json, re, sys, urllib.request
r = json.load(urllib.request.urlopen('$1/_sim/requests'))
print(sum(1 for x in r if re.search(sys.argv[1], x.get('path', ''))))" "$2"; }

# 1. everything, cold
run -f json
check "all sources: exit 1 (gpu-07 is in no pool), every source up" \
	test "$(rc),$(py "','.join('%s=%d' % (k, S[k]['up']) for k in sorted(S))")" = \
	"1,aggregates=1,hyperstack=1,hypervisors=1,netbox=1,placement=1,runpod=1,servers=1"
check "NetBox site/rack/tenant joined by the host rule (GPU-02 and gpu-04.dc1.example.org in NetBox; gpu-010 is not gpu-01; tenant null -> null)" \
	test "$(py "H['gpu-01']['site'],H['gpu-01']['rack'],H['gpu-01']['tenant'],H['gpu-02']['rack'],H['gpu-02']['tenant'],H['gpu-04']['tenant'],H['gpu-03']['site']")" = \
	"('ams1', 'r12', 'research', 'r13', None, 'ml-team', None)"
check "external GPUs: Hyperstack H100 12 used, L40 1 stopped; RunPod H100 2 used, A100 1 stopped" \
	test "$(py "sorted((e['provider'], e['gpu_type'], e['state'], e['gpus']) for e in d['external'])")" = \
	"[('hyperstack', 'H100-80G-PCIe', 'used', 12), ('hyperstack', 'L40', 'stopped', 1), ('runpod', 'A100 80GB', 'stopped', 1), ('runpod', 'H100 80GB HBM3', 'used', 2)]"
check "cold: every cache lookup a miss" test "$(py "sum(s['cache_hits'] for s in d['sources'])")" = 0
check "the NetBox token, the API keys and the password are in no output" \
	sh -c "! grep -q -e 0123456789abcdef01234567 -e hs-test-key -e rp-test-key -e secret '$tmp/out' '$tmp/err'"
run -f prom
check "prom: spot_agg_external_gpus and spot_agg_host_info with NetBox labels" \
	sh -c "grep -q 'spot_agg_external_gpus{provider=\"hyperstack\",gpu_type=\"H100-80G-PCIe\",state=\"used\"} 12' '$tmp/out' && grep -q 'spot_agg_host_info{host=\"gpu-01\",site=\"ams1\",rack=\"r12\",tenant=\"research\"} 1' '$tmp/out'"
check "prom: promtool check metrics is clean" sh -c "promtool check metrics <'$tmp/out'"

# 2. warm: aggregates (1 h) and NetBox (30 min) from the cache, no request to them
agg0=$(count "$OS" os-aggregates); nb0=$(count "$NB" dcim/devices)
run -f json
check "warm: aggregates and netbox are cache hits" test "$(py "S['aggregates']['cache'],S['netbox']['cache'],S['aggregates']['cache_hits'],S['placement']['cache']")" = "('hit', 'hit', 1, 'live')"
check "... no os-aggregates and no NetBox request made" test "$(count "$OS" os-aggregates),$(count "$NB" dcim/devices)" = "$agg0,$nb0"
check "... same totals as cold" test "$(py "[(p['gpu_type'], p['pool'], p['gpus_total'], p['gpus_used']) for p in d['pools']]")" = \
	"[('A100', 'spot', 8, 4), ('H100', 'ondemand', 8, 8), ('H100', 'spot', 15, 5), ('L40S', 'runpod', 4, 1)]"
run -f json --refresh=aggregates
check "--refresh=aggregates asks again (netbox still a hit)" \
	test "$(count "$OS" os-aggregates),$(py "S['aggregates']['cache'],S['netbox']['cache']")" = "$((agg0 + 1)),('live', 'hit')"
run -f json --refresh
check "--refresh asks every source" test "$(py "sorted(set(s['cache'] for s in d['sources']))")" = "['live']"

# 3. a failing source with a stale copy: used, said so, with its age; exit 1
curl -sf -X POST -d '{"path": "virtual-machines", "kind": "503", "count": -1}' "$HS/_sim/fault" >/dev/null
run -f json
check "Hyperstack 503 with a copy from the last run: up, cache stale, its counts kept, exit 1" \
	test "$(rc),$(py "S['hyperstack']['up'],S['hyperstack']['cache'],S['hyperstack']['cache_age_seconds'] is not None,[e['gpus'] for e in d['external'] if e['provider']=='hyperstack']")" = \
	"1,(True, 'stale', True, [12, 1])"
check "... the error names Hyperstack and the stale copy" grep -q "hyperstack: .*503.*stale copy of" "$tmp/err"
run -f prom
check "... prom: source_up 1 and cache_age_seconds for hyperstack" \
	sh -c "grep -q 'spot_agg_source_up{source=\"hyperstack\"} 1' '$tmp/out' && grep -q 'spot_agg_source_cache_age_seconds{source=\"hyperstack\"}' '$tmp/out'"

# 4. --clear-cache, then a failing source without any copy: down, the others kept
"$BIN/spot-agg" --cache-dir "$tmp/cache" --clear-cache >"$tmp/out" 2>"$tmp/err"
check "--clear-cache exits 0 and empties the directory" test "$?,$(ls "$tmp/cache" | wc -l)" = "0,0"
curl -sf -X POST -d '{"kind": "graphql", "count": -1}' "$RP/_sim/fault" >/dev/null
run -f json
check "RunPod GraphQL errors (HTTP 200) and Hyperstack 503, no copies: both down, exit 1" \
	test "$(rc),$(py "S['runpod']['up'],S['hyperstack']['up'],S['netbox']['up'],S['placement']['up']")" = "1,(False, False, True, True)"
check "... OpenStack pools and NetBox data still there" test "$(py "len(d['pools']),H['gpu-01']['site']")" = "(4, 'ams1')"
"$BIN/spot-agg" --cache-dir "$tmp/cache" --cache-stats >"$tmp/out" 2>"$tmp/err"
check "--cache-stats lists every source with its TTL and state" \
	sh -c "grep -q '^aggregates *3600s .* fresh' '$tmp/out' && grep -q '^netbox *1800s' '$tmp/out' && grep -q '^runpod .*no copy' '$tmp/out'"

# 5. OpenStack unreachable: the other sources are still reported; exit 3
OS_AUTH_URL=http://127.0.0.1:9/v3 run -f json -t 2 --no-cache
check "keystone unreachable: exit 3, NetBox off (no hosts), Hyperstack/RunPod still asked" \
	test "$(rc),$(py "S['aggregates']['up'],S['placement']['up'],'hyperstack' in S,'runpod' in S")" = "3,(False, False, True, True)"
v=$(py "d['pools'],d['hosts'],d['unmapped_hosts'],d['conflicting_hosts']")
check "... pools, hosts, unmapped and conflicting hosts null (unknown), not empty lists that read as none" \
	test "$v" = "(None, None, None, None)"
[ "$v" = "(None, None, None, None)" ] || echo "#   got $v"

# 6. secrets never from argv
"$BIN/spot-agg" --netbox-token=sekrit-value -f json >"$tmp/out" 2>"$tmp/err"
check "--netbox-token is refused (exit 3) without echoing the value" \
	sh -c "test $? = 3 && grep -q 'refused' '$tmp/err' && ! grep -q sekrit-value '$tmp/err'"
echo "1..$n"
