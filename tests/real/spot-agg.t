#!/bin/bash
# Real tier: spot-agg against the devcloud's real Nova API and Placement (scripts/devcloud).
# Fake compute hosts; aggregates with metadata, GPU child resource providers with VGPU and
# CUSTOM_PCI_10DE_* inventories, reserved and allocation ratios, allocations for consumers,
# all made through the real APIs by tests/real/spot_agg_real.py, which also computes the
# expected totals on its own; then spot-agg's totals are compared with them, and `move` is
# run against the real aggregate API, including a failed remove (a reverse proxy answers
# 500 to that one request; the add and its undo reach nova) and the rollback.
#
# Reuses a running devcloud when DEVCLOUD_STATE names one (left running, our objects
# removed at the end); otherwise brings keystone,glance,neutron,placement,nova up in
# $INFRA_TMP and down at the end.  Run it under `flock /work/wt/devcloud.lock` when other
# sessions may use the devcloud ports.
set -u -o pipefail
SRC=${INFRA_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${INFRA_BIN:-$SRC/${BUILD:-build}/bin}
TMP=${INFRA_TMP:-$(mktemp -d /var/tmp/spot-agg-t.XXXXXX)}
DC=$SRC/scripts/devcloud
H="/usr/bin/python3 $SRC/tests/real/spot_agg_real.py"
PREFIX=spot$$
N=0
ok() { N=$((N + 1)); echo "ok $N - $*"; }
not_ok() { N=$((N + 1)); echo "not ok $N - $*"; }
check() { local d=$1 out rc; shift; out=$("$@" 2>&1); rc=$?
	if (( rc == 0 )); then ok "$d"; else not_ok "$d"; printf '%s\n' "$out" | tail -n 15 | sed 's/^/#   /'; fi; return $rc; }
echo "1..18"

STARTED=0
if [[ -n ${DEVCLOUD_STATE:-} ]] && "$DC" status --state-dir "$DEVCLOUD_STATE" >/dev/null 2>&1; then
	STATE=$DEVCLOUD_STATE
	ok "devcloud: reusing $STATE"
else
	STATE=$TMP/devcloud
	t=$(date +%s)
	if "$DC" up --services keystone,glance,neutron,placement,nova --no-rally --state-dir "$STATE" >"$TMP/up.log" 2>&1; then
		STARTED=1
		ok "devcloud up keystone,glance,neutron,placement,nova ($(($(date +%s) - t)) s)"
	else
		not_ok "devcloud up failed"; tail -20 "$TMP/up.log" | sed 's/^/#   /'
		for i in $(seq 2 18); do not_ok "not run: no devcloud"; done
		exit 1
	fi
fi
proxy_pid=
finish() {
	[ -n "$proxy_pid" ] && kill "$proxy_pid" 2>/dev/null
	$H cleanup "$PREFIX" >"$TMP/cleanup.log" 2>&1 || echo "# cleanup failed: $(tail -1 "$TMP/cleanup.log")"
	(( STARTED )) && "$DC" down --state-dir "$STATE" >/dev/null 2>&1
}
trap finish EXIT
export DEVCLOUD_STATE=$STATE
eval "$("$DC" env --state-dir "$STATE")"
unset OS_CLOUD
export OS_INTERFACE=public

check "fake compute hosts $PREFIX-gpu-1..4" "$DC" fake-compute --state-dir "$STATE" "$PREFIX-gpu-1" "$PREFIX-gpu-2" "$PREFIX-gpu-3" "$PREFIX-gpu-4"
check "aggregates, GPU providers, inventories and allocations made through the real APIs" \
	bash -c "$H setup $PREFIX >'$TMP/expected.json'"
echo "# expected (computed by the helper): $(cat "$TMP/expected.json")"

"$BIN/spot-agg" --no-cache -f json >"$TMP/out.json" 2>"$TMP/err"
rc=$?
check "spot-agg runs against the real Nova and Placement (exit 0 or 1, every OpenStack source up)" \
	python3 -c "
import json, sys
d = json.load(open('$TMP/out.json'))
bad = [s for s in d['data']['sources'] if not s['up']]
sys.exit(0 if $rc in (0, 1) and not bad else 'exit $rc, down: %s, errors %s' % (bad, d['errors']))"
check "pool totals equal the independently computed ones (capacity (total-reserved) x ratio, usages)" \
	python3 -c "
import json, sys
exp = json.load(open('$TMP/expected.json'))
got = {p['gpu_type'] + '/' + p['pool']: {k: p[k] for k in ('gpus_total', 'gpus_used', 'gpus_free', 'hosts')}
       for p in json.load(open('$TMP/out.json'))['data']['pools']}
got = {k: v for k, v in got.items() if k in exp or k.startswith(('H100/', 'L40S/'))}
sys.exit(0 if got == exp else 'expected %s\ngot      %s' % (exp, got))"
check "every host of ours: method placement, GPU classes named, hypervisor joined (state known)" \
	python3 -c "
import json, sys
hs = [h for h in json.load(open('$TMP/out.json'))['data']['hosts'] if h['host'].startswith('$PREFIX-')]
bad = [h for h in hs if h['method'] != 'placement' or not h['gpu_classes'] or h['up'] is None]
sys.exit(0 if len(hs) == 4 and not bad else 'hosts %d, bad %s' % (len(hs), bad))"
"$BIN/spot-agg" --no-cache -f prom >"$TMP/out.prom" 2>/dev/null
check "prom output passes promtool check metrics" bash -c "promtool check metrics <'$TMP/out.prom'"

# move: dry run, confirm, idempotent
mem() { $H members "$1"; }
export RUNTIME_DIRECTORY=$TMP/run
mkdir -p -m 0700 "$RUNTIME_DIRECTORY"
"$BIN/spot-agg" move "$PREFIX-gpu-2" --to H100-ondemand -f json >"$TMP/m.json" 2>"$TMP/m.err"
check "move dry run exits 0 and changes nothing" bash -c "[ $? = 0 ] && [ \"\$($H members H100-ondemand)\" = '$PREFIX-gpu-3' ]"
"$BIN/spot-agg" move "$PREFIX-gpu-2" --to H100-ondemand --confirm -f json >"$TMP/m.json" 2>"$TMP/m.err"
check "move --confirm exits 0" test $? = 0
check "... gpu-2 is in H100-ondemand and no longer in H100-spot (real aggregate API)" \
	test "$(mem H100-ondemand)/$(mem H100-spot)" = "$PREFIX-gpu-2,$PREFIX-gpu-3/$PREFIX-gpu-1"
check "... placement follows: the pool totals moved with the host" \
	python3 -c "
import json, subprocess, sys
d = json.loads(subprocess.run(['$BIN/spot-agg', '--no-cache', '-f', 'json'], capture_output=True, text=True).stdout)
p = {x['gpu_type'] + '/' + x['pool']: x for x in d['data']['pools']}
sys.exit(0 if p['H100/ondemand']['hosts'] == 2 and p['H100/spot']['hosts'] == 1 and p['H100/ondemand']['gpus_total'] == 12 else str(p))"
"$BIN/spot-agg" move "$PREFIX-gpu-2" --to H100-ondemand --confirm -f json >"$TMP/m.json" 2>"$TMP/m.err"
check "the same move again: exit 0, nothing changed ('already a member')" \
	bash -c "[ $? = 0 ] && grep -q 'already a member' '$TMP/m.json' && grep -q '\"changed\":false' '$TMP/m.json'"

# a failed remove through the proxy: the add reaches nova, the remove is refused, the undo reaches nova
/usr/bin/python3 "$SRC/tests/real/spot_agg_real.py" proxy H100-spot >"$TMP/proxy.out" 2>"$TMP/proxy.err" &
proxy_pid=$!
for _ in $(seq 100); do grep -q '^READY ' "$TMP/proxy.out" 2>/dev/null && break; sleep 0.1; done
PROXY=$(awk '/^READY/{print $2}' "$TMP/proxy.out")
OS_AUTH_URL=$PROXY "$BIN/spot-agg" move "$PREFIX-gpu-1" --to H100-ondemand --confirm -f json >"$TMP/m.json" 2>"$TMP/m.err"
rc=$?
check "a remove that fails: exit 2" test "$rc" = 2
check "... steps: added, the remove failed, the add undone" \
	python3 -c "
import json, sys
s = json.load(open('$TMP/m.json'))['data']['steps']
got = [(x['action'], x['aggregate'], x['result'][:12]) for x in s]
sys.exit(0 if got == [('add_host', 'H100-ondemand', 'added'), ('remove_host', 'H100-spot', got[1][2]), ('undo add_host', 'H100-ondemand', 'removed agai')] and 'HTTP 500' in s[1]['result'] else str(got))"
check "... the real aggregates are as before (gpu-1 only in H100-spot)" \
	test "$(mem H100-ondemand)/$(mem H100-spot)" = "$PREFIX-gpu-2,$PREFIX-gpu-3/$PREFIX-gpu-1"
check "... stderr says it rolled back" grep -q "rolled back (host removed from H100-ondemand again)" "$TMP/m.err"
kill "$proxy_pid" 2>/dev/null; proxy_pid=

"$BIN/spot-agg" move "no-such-host-$PREFIX" --to H100-ondemand --confirm -f json >"$TMP/m.json" 2>"$TMP/m.err"
check "moving a host nova does not know: exit 2, nova's 404 named" \
	bash -c "[ $? = 2 ] && grep -q 'could not be found' '$TMP/m.err'"
check "our objects are removed again" $H cleanup "$PREFIX"
