#!/usr/bin/env bash
# spotext-clients.t - the NetBox, Hyperstack and RunPod clients end to end through
# tests/tools/spotext-probe against the three simulators fed one world file
# (tests/sim/seeds/spotext-world.json, the shape spot's scenario generator writes):
# results, one clear stderr line per failure, and the secret never on stdout or
# stderr whatever fails (403/401, GraphQL errors, malformed JSON, 5xx, refused
# connection, a next link to another origin).  Then NetBox at scale: 1,000 devices,
# 50 ms per request, batches of 50 in parallel.
set -u
cd "${INFRA_SRCDIR:?}"
. "$INFRA_SRCDIR/tests/lib/tap.sh"
P=${INFRA_SRCDIR}/${BUILD:-build}/tests/tools/spotext-probe
tmp=${INFRA_TMP:-$(mktemp -d)}
W=tests/sim/seeds/spotext-world.json
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null' EXIT

start() { # name script args...: sets URL_<name>
	local name=$1 script=$2; shift 2
	python3 "tests/sim/$script" --max-seconds 300 "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	pids+=($!)
	for _ in $(seq 100); do grep -q '^READY ' "$tmp/$name.out" && break; sleep 0.1; done
	eval "URL_$name=\$(awk '/^READY/{print \$2}' \"$tmp/$name.out\")"
}
start nb netbox.py --world "$W"
start hs hyperstack.py --world "$W"
start rp runpod.py --world "$W"
check "three simulators ready from one world file" test -n "$URL_nb" -a -n "$URL_hs" -a -n "$URL_rp"

NB1=0123456789abcdef0123456789abcdef01234567
NB2=nbt_DemoKey01.demo-v2-secret
names="gpu01.dc1.example.org gpu02.dc1.example.org GPU07 GPU08 GPU12 not-in-netbox"
out=$(SPOTEXT_TOKEN=$NB2 timeout -k 5 60 "$P" netbox "$URL_nb" $names 2>"$tmp/e"); rc=$?
check "netbox (v2 token): 5 of 6 names found, site/rack/tenant as in the world" \
	sh -c "[ $rc = 0 ] && echo '$out' | jq -e '(.devices | length) == 5 and .devices[2].name == \"GPU07\" and .devices[2].site == \"fra2\" and .devices[2].rack == \"r3\" and .devices[2].tenant == \"research\" and .devices[4].tenant == null' >/dev/null"
out=$(SPOTEXT_TOKEN=$NB1 timeout -k 5 60 "$P" netbox "$URL_nb" --tenant-field cf:billing gpu01.dc1.example.org 2>"$tmp/e"); rc=$?
check "netbox (v1 token, tenant from custom field billing)" \
	sh -c "[ $rc = 0 ] && echo '$out' | jq -e '.devices[0].tenant == \"spot\"' >/dev/null"
out=$(SPOTEXT_TOKEN=hs-demo-key timeout -k 5 60 "$P" hyperstack "$URL_hs/v1" 2>"$tmp/e"); rc=$?
check "hyperstack: 24 H100 GPUs used (3 VMs x 8), 2 L40 stopped, the CPU VM skipped" \
	sh -c "[ $rc = 0 ] && echo '$out' | jq -e '. == [{\"gpu_type\":\"H100-80G-SXM5\",\"state\":\"used\",\"gpus\":24},{\"gpu_type\":\"L40\",\"state\":\"stopped\",\"gpus\":2}]' >/dev/null"
out=$(SPOTEXT_TOKEN=rp-demo-key timeout -k 5 60 "$P" runpod "$URL_rp/graphql" 2>"$tmp/e"); rc=$?
check "runpod: 6 H100 used, 1 L40S stopped" \
	sh -c "[ $rc = 0 ] && echo '$out' | jq -e '. == [{\"gpu_type\":\"H100 80GB HBM3\",\"state\":\"used\",\"gpus\":6},{\"gpu_type\":\"L40S\",\"state\":\"stopped\",\"gpus\":1}]' >/dev/null"

# ---- failures: exit 1, one stderr line, never the secret
fails() { # what secret cmd...: the run fails with one line on stderr that holds no secret
	local what=$1 secret=$2; shift 2
	local o e rc
	o=$("$@" 2>"$tmp/err"); rc=$?
	e=$(cat "$tmp/err")
	if [ $rc = 1 ] && [ "$(printf '%s\n' "$e" | wc -l)" = 1 ] && [[ $e == spotext-probe:* ]] &&
		[[ $e != *"$secret"* ]] && [[ $o != *"$secret"* ]]; then
		ok "$what: $e"
	else
		nok "$what (rc $rc): $e"
	fi
}
fault() { curl -s -X POST -d "$2" "$1/_sim/fault" >/dev/null; }
fails "netbox: a wrong token" s3cr3t-wrong env SPOTEXT_TOKEN=s3cr3t-wrong timeout -k 5 60 "$P" netbox "$URL_nb" GPU07
fails "netbox: a v2 token sent as v1" demo-v2-secret env SPOTEXT_TOKEN=$NB2 timeout -k 5 60 "$P" netbox "$URL_nb" --v1 GPU07
fault "$URL_nb" '{"path": "devices", "kind": "malformed", "count": 1}'
fails "netbox: malformed JSON" $NB1 env SPOTEXT_TOKEN=$NB1 timeout -k 5 60 "$P" netbox "$URL_nb" GPU07
fault "$URL_nb" '{"path": "devices", "kind": "500", "count": 3}'
fails "netbox: HTTP 500 on every attempt" $NB1 env SPOTEXT_TOKEN=$NB1 timeout -k 5 60 "$P" netbox "$URL_nb" GPU07
fails "netbox: nothing listening" $NB1 env SPOTEXT_TOKEN=$NB1 timeout -k 5 60 "$P" netbox http://127.0.0.1:9 GPU07
fails "hyperstack: a wrong key" hs-wrong-key env SPOTEXT_TOKEN=hs-wrong-key timeout -k 5 60 "$P" hyperstack "$URL_hs/v1"
fault "$URL_hs" '{"path": "virtual-machines", "kind": "garbage", "count": 1}'
fails "hyperstack: an HTML page instead of JSON" hs-demo-key env SPOTEXT_TOKEN=hs-demo-key timeout -k 5 60 "$P" hyperstack "$URL_hs/v1"
fails "runpod: a wrong key" rp-wrong-key env SPOTEXT_TOKEN=rp-wrong-key timeout -k 5 60 "$P" runpod "$URL_rp/graphql"
fault "$URL_rp" '{"path": "graphql", "kind": "graphql", "count": 1}'
fails "runpod: HTTP 200 with GraphQL errors" rp-demo-key env SPOTEXT_TOKEN=rp-demo-key timeout -k 5 60 "$P" runpod "$URL_rp/graphql"
start other netbox.py --world "$W"                  # another server the next links point to
jq --arg o "$URL_other" '.netbox.next_base = $o | .netbox.max_page_size = 2 | .netbox' "$W" |
	curl -s -X POST --data-binary @- "$URL_nb/_sim/world" >/dev/null
fails "netbox: a next link to another origin" $NB1 env SPOTEXT_TOKEN=$NB1 timeout -k 5 60 "$P" netbox "$URL_nb" $names
check "no request (so no token) reached the other origin" \
	sh -c "[ \"\$(curl -s '$URL_other/_sim/requests' | jq length)\" = 0 ]"

# ---- NetBox at scale: 1,000 devices, 50 ms per request
jq -n '{netbox: {tokens_v1: ["'$NB1'"], max_page_size: 1000,
	devices: [range(1; 1001) | {name: ("node\(.)"), site: "dc\(. % 4)", rack: "r\(. % 40)", tenant: "t\(. % 7)"}]}}' >"$tmp/big.json"
start big netbox.py --world "$tmp/big.json" --latency-ms 50
seq -f 'node%g' 1 1000 >"$tmp/names"
t0=$(date +%s.%N)
out=$(SPOTEXT_TOKEN=$NB1 timeout -k 5 60 "$P" netbox "$URL_big" -j 8 $(cat "$tmp/names") 2>"$tmp/e"); rc=$?
t1=$(date +%s.%N)
secs=$(printf '%.3f' "$(echo "$t1 - $t0" | bc)")
reqs=$(curl -s "$URL_big/_sim/requests" | jq '[.[] | select(.path == "/api/dcim/devices/")] | length')
check "1,000 devices in batches of 50 at 50 ms: all found, 20 requests, ${secs}s with -j 8 (< 1.5 s; one by one >= 1 s of latency alone)" \
	sh -c "[ $rc = 0 ] && [ \$(echo '$out' | jq '.devices | length') = 1000 ] && [ $reqs = 20 ] && [ \$(echo '$secs < 1.5' | bc) = 1 ]"
echo "# netbox 1000 devices, 50 ms latency, -j 8: ${secs}s, $reqs requests"

echo "1..$n"
