#!/usr/bin/env bash
# Every OpenStack tool presents a client certificate and verifies a private CA when
# asked: osmon-orphans, osmon-run --health and osmon-purge (dry run) against the
# OpenStack simulator behind TLS that requires a client certificate
# (tests/sim/openstack.py --client-ca).  Refused without one, works with it, through
# --cacert/--cert/--key and through OS_CACERT/OS_CERT/OS_KEY; a certificate of
# another CA is refused too.
set -u
cd "${INFRA_SRCDIR:?}"
. "$INFRA_SRCDIR/tests/lib/tap.sh"
tmp=${INFRA_TMP:-$(mktemp -d)}
T=tests/sim/tls
python3 tests/sim/openstack.py --seed tests/sim/seeds/realistic.json --max-seconds 120 \
	--tls-cert $T/server.pem --tls-key $T/server.key --client-ca $T/ca.pem >"$tmp/sim.out" 2>"$tmp/sim.err" &
sim=$!
trap 'kill $sim 2>/dev/null; wait $sim 2>/dev/null' EXIT
for _ in $(seq 100); do url=$(sed -n 's/^READY //p' "$tmp/sim.out"); [ -n "$url" ] && break; sleep 0.1; done
case $url in https://*) ok "simulator serves HTTPS ($url)" ;; *) nok "simulator did not start: $(cat "$tmp/sim.err")"; echo "1..$n"; exit 1 ;; esac
export OS_AUTH_URL=$url/identity/v3 OS_USERNAME=admin OS_PASSWORD=secret OS_PROJECT_NAME=admin \
	OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default
unset OS_CLOUD OS_CACERT OS_CERT OS_KEY
# another CA's client certificate (made here; never written to the tree)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=stranger \
	-keyout "$tmp/other.key" -out "$tmp/other.pem" 2>/dev/null
tls=(--cacert $T/ca.pem --cert $T/client.pem --key $T/client.key)
run() { # label expected-rc tool args...
	local label=$1 want=$2; shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?
	if [ "$rc" = "$want" ]; then ok "$label (exit $rc)"; else nok "$label: exit $rc, wanted $want"; sed 's/^/#   /' "$tmp/err" | head -5; fi
}
refused() { grep -Eq "TLS|SSL|certificate|Send failure|Recv failure|connection" "$tmp/err" && ok "$1: the error names the TLS/connection failure" || { nok "$1: no TLS error named"; sed 's/^/#   /' "$tmp/err" | head -3; }; }

run "osmon-orphans without a client certificate is refused" 3 osmon-orphans --cacert $T/ca.pem -f json
refused "osmon-orphans without a certificate"
run "osmon-orphans with another CA's certificate is refused" 3 osmon-orphans --cacert $T/ca.pem --cert "$tmp/other.pem" --key "$tmp/other.key" -f json
run "osmon-orphans without --cacert does not trust the private CA" 3 osmon-orphans --cert $T/client.pem --key $T/client.key -f json
refused "osmon-orphans without --cacert"
run "osmon-orphans --cacert/--cert/--key works (orphans found)" 1 osmon-orphans "${tls[@]}" -f json
cp "$tmp/out" "$tmp/orphans.json"
grep -q s_rally_ "$tmp/orphans.json" && ok "osmon-orphans listed the Rally orphans over mTLS" || nok "no orphans in the output"
run "osmon-orphans with OS_CACERT/OS_CERT/OS_KEY works" 1 env OS_CACERT=$T/ca.pem OS_CERT=$T/client.pem OS_KEY=$T/client.key osmon-orphans -f json

# keystone refusing the handshake is keystone unreachable: CRITICAL (2), as for any endpoint down
run "osmon-run --health without a client certificate: keystone unreachable, CRITICAL" 2 osmon-run --health --cacert $T/ca.pem --state-dir "$tmp/st1" -f prom
grep -qx 'osmon_health_up{service="identity"} 0' "$tmp/out" && ok "osmon-run --health without a certificate: keystone down" || nok "keystone not reported down"
refused "osmon-run --health without a certificate"
run "osmon-run --health with --cacert/--cert/--key: every service up" 0 osmon-run --health "${tls[@]}" --state-dir "$tmp/st2" -f prom
grep -qx 'osmon_health_check_up 1' "$tmp/out" && ok "osmon-run --health: osmon_health_check_up 1" || nok "osmon_health_check_up is not 1"

run "osmon-purge (dry run) without a client certificate cannot run" 3 osmon-purge --cacert $T/ca.pem --from "$tmp/orphans.json" -f json
refused "osmon-purge without a certificate"
run "osmon-purge (dry run) with --cacert/--cert/--key plans" 0 osmon-purge "${tls[@]}" --from "$tmp/orphans.json" -f json
grep -q s_rally_ "$tmp/out" && ok "osmon-purge's plan names the orphans" || nok "osmon-purge's plan is empty"
echo "1..$n"
