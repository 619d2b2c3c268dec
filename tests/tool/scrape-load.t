#!/usr/bin/env bash
# tests/tools/scrape-load (scripts/bench-serving's load client) against the OpenStack
# simulator behind TLS that requires a client certificate: with the certificate every
# request succeeds and the figures line is complete; bounded by -n; without a certificate
# every request fails (exit 1); a host that is not loopback or bad usage is refused (exit 2).
set -u
cd "${INFRA_SRCDIR:?}"
. "$INFRA_SRCDIR/tests/lib/tap.sh"
tmp=${INFRA_TMP:-$(mktemp -d)}
L=$INFRA_SRCDIR/${BUILD:-build}/tests/tools/scrape-load
T=tests/sim/tls
python3 tests/sim/openstack.py --seed tests/sim/seeds/realistic.json --max-seconds 60 \
	--tls-cert $T/server.pem --tls-key $T/server.key --client-ca $T/ca.pem >"$tmp/sim.out" 2>"$tmp/sim.err" &
sim=$!
trap 'kill $sim 2>/dev/null; wait $sim 2>/dev/null' EXIT
for _ in $(seq 100); do url=$(sed -n 's/^READY //p' "$tmp/sim.out"); [ -n "$url" ] && break; sleep 0.1; done
case $url in https://*) ok "simulator serves HTTPS ($url)" ;; *) nok "simulator did not start: $(cat "$tmp/sim.err")"; echo "1..$n"; exit 1 ;; esac
url=${url/127.0.0.1/localhost}/identity/v3
field() { sed -n "s/.*[ ^]$1=\([^ ]*\).*/\1/p; s/^$1=\([^ ]*\).*/\1/p" "$tmp/out" | head -1; }

"$L" -c 2 -n 20 -t 30 --gzip --cacert $T/ca.pem --cert $T/client.pem --key $T/client.key "$url" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc = 0 ] && ok "with the client certificate: exit 0" || { nok "with the client certificate: exit $rc"; sed 's/^/#   /' "$tmp/err" | head -3; }
[ "$(field requests)" = 20 ] && [ "$(field ok)" = 20 ] && [ "$(field failed)" = 0 ] && ok "-n 20: 20 requests, 20 ok" || nok "counts: $(cat "$tmp/out")"
for k in rps p50_ms p99_ms max_ms client_cpu_ms_per_req; do
	v=$(field $k)
	awk -v v="$v" 'BEGIN { exit !(v + 0 > 0) }' && ok "$k is a positive figure ($v)" || nok "$k missing or zero: $(cat "$tmp/out")"
done
awk -v a="$(field p50_ms)" -v b="$(field p99_ms)" -v c="$(field max_ms)" 'BEGIN { exit !(a <= b && b <= c) }' && ok "p50 <= p99 <= max" || nok "percentiles out of order: $(cat "$tmp/out")"

"$L" -c 2 -n 5 -t 30 --cacert $T/ca.pem "$url" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc = 1 ] && [ "$(field ok)" = 0 ] && [ "$(field failed)" = 5 ] && ok "without a client certificate: 5 of 5 failed, exit 1" || nok "without a certificate: exit $rc, $(cat "$tmp/out")"
grep -q 'failed; first:' "$tmp/err" && ok "the first failure is named on stderr" || nok "no failure named: $(cat "$tmp/err")"

"$L" -n 1 https://192.0.2.1:9100/metrics >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc = 2 ] && grep -q 'loopback only' "$tmp/err" && ok "a host that is not loopback is refused (exit 2)" || nok "non-loopback: exit $rc, $(cat "$tmp/err")"
"$L" -c 0 "$url" >/dev/null 2>"$tmp/err"
rc=$?
[ $rc = 2 ] && grep -q -- '-c must be' "$tmp/err" && ok "-c 0 is bad usage (exit 2)" || nok "-c 0: exit $rc"
"$L" --cert $T/client.pem "$url" >/dev/null 2>&1
[ $? = 2 ] && ok "--cert without --key is bad usage (exit 2)" || nok "--cert without --key accepted"
echo "1..$n"
