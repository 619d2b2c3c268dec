#!/usr/bin/env bash
# nasmon-check and spot-agg present a client certificate and verify a private CA when
# asked, against simulators that require one (tests/sim/*.py --client-ca): every
# spot-agg source (OpenStack, NetBox, Hyperstack, RunPod) through --cacert/--cert/--key,
# OpenStack alone through OS_CACERT/OS_CERT/OS_KEY and clouds.yaml cacert/cert/key;
# nasmon-check's TrueNAS over REST (24.10) and JSON-RPC over wss (25.10) through
# --cacert/--cert/--key.  Without a certificate, or with another CA's, each source is
# refused and reported down with exit 3; no secret is printed.
# (osmon-*: tls-client-cert.t; kubeconfig client certificates: kube-auth.t)
set -u
cd "${INFRA_SRCDIR:?}"
BIN=${INFRA_BIN:-$PWD/${BUILD:-build}/bin}
tmp=${INFRA_TMP:-$(mktemp -d)}
. "$INFRA_SRCDIR/tests/lib/tap.sh"
T=tests/sim/tls
TLS=(--tls-cert $T/server.pem --tls-key $T/server.key --client-ca $T/ca.pem)
trap sim_stop_all EXIT
# another CA's client certificate (made here; never written to the tree)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=stranger \
	-keyout "$tmp/other.key" -out "$tmp/other.pem" 2>/dev/null

# ---- spot-agg: four simulators behind TLS that requires a client certificate of the test CA
cat >"$tmp/world.json" <<'W'
{"netbox": {"tokens_v1": ["0123456789abcdef0123456789abcdef01234567"],
            "devices": [{"name": "gpu-01", "site": "ams1", "rack": "r12", "tenant": "research"}]},
 "hyperstack": {"api_key": "hs-test-key",
                "vms": [{"name": "rent-in-1", "status": "ACTIVE", "gpu": "H100-80G-PCIe", "gpu_count": 8, "flavor": "n3-H100x8"}]},
 "runpod": {"api_key": "rp-test-key",
            "pods": [{"id": "p1", "name": "train", "desiredStatus": "RUNNING", "gpuCount": 2, "gpuDisplayName": "H100 80GB HBM3"}]}}
W
python3 tests/sim/spot_scenario.py small >"$tmp/seed.json"
OS=$(sim_start os python3 tests/sim/openstack.py --seed "$tmp/seed.json" "${TLS[@]}")
NB=$(sim_start nb python3 tests/sim/netbox.py --world "$tmp/world.json" "${TLS[@]}")
HS=$(sim_start hs python3 tests/sim/hyperstack.py --world "$tmp/world.json" "${TLS[@]}")
RP=$(sim_start rp python3 tests/sim/runpod.py --world "$tmp/world.json" "${TLS[@]}")
check "the four spot simulators serve HTTPS ($OS $NB $HS $RP)" \
	sh -c "case '$OS$NB$HS$RP' in https://*https://*https://*https://*) exit 0;; *) exit 1;; esac"
unset OS_CLOUD OS_TOKEN OS_AUTH_TYPE OS_REGION_NAME OS_CACERT OS_CERT OS_KEY OS_CLIENT_CONFIG_FILE \
	NETBOX_URL NETBOX_TOKEN NETBOX_TOKEN_FILE HYPERSTACK_API_KEY RUNPOD_API_KEY
export OS_AUTH_URL=$OS/identity/v3 OS_USERNAME=admin OS_PASSWORD=secret OS_PROJECT_NAME=admin \
	OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default \
	NETBOX_URL=$NB NETBOX_TOKEN=0123456789abcdef0123456789abcdef01234567 \
	HYPERSTACK_API_KEY=hs-test-key RUNPOD_API_KEY=rp-test-key
C=(--no-cache --gpu-class CUSTOM_L40S --gpus-per-host A100=8 --hyperstack-url "$HS/v1" --runpod-url "$RP/graphql" -f json)
spot() { "$BIN/spot-agg" "${C[@]}" "$@" >"$tmp/out" 2>"$tmp/err"; echo $? >"$tmp/rc"; }
ups() { python3 -c "import json; d=json.load(open('$tmp/out'))['data']; print(','.join('%s=%d' % (s['source'], s['up']) for s in sorted(d['sources'], key=lambda s: s['source'])))" 2>&1; }
ALL_UP="aggregates=1,hypervisors=1,netbox=1,placement=1,runpod=1,servers=1,hyperstack=1"
ALL_UP=$(echo "$ALL_UP" | tr ',' '\n' | sort | paste -sd,)
ALL_DOWN=$(echo "$ALL_UP" | sed 's/=1/=0/g')
OS_ONLY="aggregates=1,hyperstack=0,hypervisors=1,netbox=0,placement=1,runpod=0,servers=1"

spot --cacert $T/ca.pem --cert $T/client.pem --key $T/client.key
check "spot-agg --cacert/--cert/--key: every source answers (exit $(cat "$tmp/rc"), $(ups))" \
	test "$(cat "$tmp/rc"),$(ups)" = "1,$ALL_UP"
spot --cacert $T/ca.pem
check "spot-agg without a client certificate: every source refused, exit 3 ($(ups))" \
	test "$(cat "$tmp/rc"),$(ups)" = "3,$ALL_DOWN"
check "... each source says what failed, naming the URL (NetBox: not asked, no host is known)" \
	sh -c "grep -q '^spot-agg: aggregates: .*$OS/' '$tmp/err' && grep -q '^spot-agg: hyperstack: .*$HS/' '$tmp/err' && grep -q '^spot-agg: runpod: .*$RP/' '$tmp/err' && grep -q '^spot-agg: netbox: not asked' '$tmp/err'"
spot --cacert $T/ca.pem --cert "$tmp/other.pem" --key "$tmp/other.key"
check "spot-agg with another CA's certificate: every source refused, exit 3" \
	test "$(cat "$tmp/rc"),$(ups)" = "3,$ALL_DOWN"
check "... no token, API key or password in the output or the errors" \
	sh -c "! grep -q -e 0123456789abcdef01234567 -e hs-test-key -e rp-test-key -e secret '$tmp/out' '$tmp/err'"
OS_CACERT=$T/ca.pem OS_CERT=$T/client.pem OS_KEY=$T/client.key spot
check "OS_CACERT/OS_CERT/OS_KEY: the OpenStack sources answer, the others (not OpenStack's) do not ($(ups))" \
	test "$(ups)" = "$OS_ONLY"
printf 'clouds:\n  tlscloud:\n    auth:\n      auth_url: %s/identity/v3\n      username: admin\n      password: secret\n      project_name: admin\n      user_domain_name: Default\n      project_domain_name: Default\n    cacert: %s/ca.pem\n    cert: %s/client.pem\n    key: %s/client.key\n' \
	"$OS" "$PWD/$T" "$PWD/$T" "$PWD/$T" >"$tmp/clouds.yaml"
OS_CLIENT_CONFIG_FILE=$tmp/clouds.yaml OS_CLOUD=tlscloud spot
check "clouds.yaml cacert/cert/key: the OpenStack sources answer ($(ups))" test "$(ups)" = "$OS_ONLY"
OS_CLIENT_CONFIG_FILE=$tmp/clouds.yaml OS_CLOUD=tlscloud spot --cacert $T/ca.pem --cert $T/client.pem --key $T/client.key
check "clouds.yaml for OpenStack and --cacert/--cert/--key for the rest: every source answers" \
	test "$(cat "$tmp/rc"),$(ups)" = "1,$ALL_UP"

# ---- nasmon-check: TrueNAS behind TLS that requires a client certificate, REST and JSON-RPC
python3 tests/sim/nas_scenario.py --seed 5 -o "$tmp/nas.json"
printf 'kube-token\n' >"$tmp/token"
printf '1-nas-api-key\n' >"$tmp/apikey"
KU=$(sim_start kube python3 tests/sim/kube.py --world "$tmp/nas.json" "${TLS[@]}" --token kube-token)
for v in 24.10 25.10; do
	TN=$(sim_start tn$v python3 tests/sim/truenas.py --world "$tmp/nas.json" --version $v --api-key 1-nas-api-key "${TLS[@]}")
	want=rest; [ $v = 25.10 ] && want=jsonrpc
	nas() { "$BIN/nasmon-check" --kube-api "$KU" --kube-ca $T/ca.pem --kube-token-file "$tmp/token" \
		--truenas-url "$TN" --truenas-api-key-file "$tmp/apikey" -f json "$@" >"$tmp/out" 2>"$tmp/err"; echo $? >"$tmp/rc"; }
	tn() { python3 -c "import json; t=json.load(open('$tmp/out'))['data']['sources']['truenas']; print('%s,%s' % (t['up'], t.get('transport')))" 2>&1; }
	nas --cacert $T/ca.pem --cert $T/client.pem --key $T/client.key
	check "nasmon-check, TrueNAS $v ($want): --cacert/--cert/--key reach it (exit $(cat "$tmp/rc"), $(tn))" \
		sh -c "case '$(cat "$tmp/rc")' in 0|1|2) test '$(tn)' = 'True,$want';; *) exit 1;; esac"
	nas --cacert $T/ca.pem
	check "nasmon-check, TrueNAS $v: without a client certificate refused, exit 3, the error names TrueNAS" \
		sh -c "test '$(cat "$tmp/rc")' = 3 && python3 -c \"import json,sys; t=json.load(open('$tmp/out'))['data']['sources']['truenas']; sys.exit(0 if t['up'] is False and t['error'] else 1)\" && grep -q '^nasmon-check: truenas: .*$TN' '$tmp/err'"
	nas --cacert $T/ca.pem --cert "$tmp/other.pem" --key "$tmp/other.key"
	check "nasmon-check, TrueNAS $v: another CA's certificate refused, exit 3" \
		sh -c "test '$(cat "$tmp/rc")' = 3 && grep -q '^nasmon-check: truenas: ' '$tmp/err'"
	check "... the API key and the token are in no output" \
		sh -c "! grep -q -e 1-nas-api-key -e kube-token '$tmp/out' '$tmp/err'"
done
echo "1..$n"
