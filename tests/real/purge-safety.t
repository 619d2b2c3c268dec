#!/usr/bin/env bash
# tests/real/purge-safety.t - osmon-purge deletes only what Rally made (issue 8), against the real
# Keystone and Neutron of scripts/devcloud.
#
# A hand-edited --from names an external network, a shared network, a user of a deleted project and
# names a prefix match takes but rally's grammar does not (s_rallyware-prod, c_rallye-db): none may
# be deleted.  A floating IP of the admin project associated with a rally port: disassociated, kept.
# A rally-named security group renamed between the purge's last look and its DELETE (by a proxy in
# front of Keystone and Neutron, see tests/real/purge_safety.py): kept, because the DELETE carries
# If-Match: revision_number=N and the real Neutron answers 412.
#
# Reuses a running devcloud when DEVCLOUD_STATE names one (and leaves it running, minus what this
# test made); otherwise brings up keystone,neutron in $INFRA_TMP and takes it down at the end.
# Every check prints `ok N - ...` or `not ok N - ...`; a devcloud that cannot start fails them all.
set -u -o pipefail

SRC=${INFRA_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${INFRA_BIN:-$SRC/${BUILD:-build}/bin}
TMP=${INFRA_TMP:-}
if [[ -z $TMP ]]; then TMP=$(mktemp -d /var/tmp/purge-safety-t.XXXXXX); OWN_TMP=1; else OWN_TMP=0; fi
DC=$SRC/scripts/devcloud
H="/usr/bin/python3 $SRC/tests/real/purge_safety.py"
T_START=$(date +%s)
cd "$SRC" || exit 1
# shellcheck source=tests/lib/tap.sh
. "$SRC/tests/lib/tap.sh"
FAILED=0
nok() { n=$((n + 1)); FAILED=$((FAILED + 1)); echo "not ok $n - $*"; }   # tap.sh's, counted for the exit status

check() {   # description, command...: ok when it exits 0; its last output line becomes a comment
    local d=$1 out rc; shift
    out=$("$@" 2>&1); rc=$?
    if (( rc == 0 )); then ok "$d${out:+ (${out##*$'\n'})}"
    else nok "$d"; printf '%s\n' "$out" | tail -n 15 | sed 's/^/#   /'; fi
    return $rc
}
TOOL_CHECKS=(
    "osmon-orphans: reports the rally project, its resources, the race SG and the FIP; none of the others"
    "osmon-purge --confirm --from (hand-edited) through the proxy: exit 0 or 1, JSON"
    "external network of a deleted project (--from: dead-owner): kept, reported skipped"
    "shared network of the rally project (--from: owner): kept, reported skipped"
    "user of a deleted project (--from: dead-owner): kept, reported skipped"
    "s_rallyware-prod network, c_rallye-db security group (--from: name): kept, reported skipped"
    "external network of the gateway and FIP (not in --from): kept"
    "admin project's floating IP on a rally port: kept, disassociated"
    "admin project's floating IP: reported as detached"
    "rally project, network, subnet, router and port: gone"
    "rally security group renamed before its DELETE: kept under the new name, reported skipped"
    "its DELETE carried If-Match: revision_number=N, the real Neutron answered 412, not retried"
)
fail_rest() {   # every check that cannot run: not ok, with the reason
    local why=$1 d
    for d in "${TOOL_CHECKS[@]}"; do nok "$d: $why"; done
}

# ---------------------------------------------------------------- the devcloud
STARTED=0
if [[ -n ${DEVCLOUD_STATE:-} ]] && "$DC" status --state-dir "$DEVCLOUD_STATE" >/dev/null 2>&1; then
    STATE=$DEVCLOUD_STATE
    if grep -qw neutron "$STATE/services"; then
        ok "devcloud: reusing the running devcloud in $STATE (left running)"
    else
        nok "devcloud in $STATE runs no neutron ($(cat "$STATE/services"))"
        fail_rest "no neutron"; echo "1..$n"; exit 1
    fi
else
    STATE=$TMP/devcloud
    t=$(date +%s)
    STARTED=1
    if "$DC" up --services keystone,neutron --no-rally --state-dir "$STATE" >"$TMP/up.log" 2>&1; then
        ok "devcloud up --services keystone,neutron --no-rally (fresh state dir, $(($(date +%s) - t)) s)"
        grep 'timing' "$TMP/up.log" | sed 's/^/# /'
    else
        nok "devcloud up --services keystone,neutron: the real tier cannot start"
        tail -n 40 "$TMP/up.log" | sed 's/^/#   /'
        "$DC" down --state-dir "$STATE" >/dev/null 2>&1
        nok "neutron revision-if-match: devcloud did not come up"
        nok "setup: devcloud did not come up"
        fail_rest "devcloud did not come up (see test 1)"
        echo "1..$n"
exit $((FAILED > 0))
        if (( OWN_TMP )); then rm -rf "$TMP"; fi
        exit 1
    fi
fi
PROXY_PID=
SETUP=$TMP/setup.json
cleanup() {
    if [[ -n $PROXY_PID ]]; then kill "$PROXY_PID" 2>/dev/null; wait "$PROXY_PID" 2>/dev/null; fi
    if (( STARTED )); then "$DC" down --state-dir "$STATE" >/dev/null 2>&1
    elif [[ -s $SETUP ]]; then $H cleanup "$STATE" "$SETUP" >/dev/null 2>&1; fi
    if (( OWN_TMP )); then rm -rf "$TMP"; fi
}
trap cleanup EXIT

# ---------------------------------------------------------------- the real Neutron's facts
check "neutron: revision-if-match listed; a rename bumps revision_number; DELETE with the old revision -> 412, with the current -> 204" \
    $H ifmatch "$STATE"

# ---------------------------------------------------------------- setup
t=$(date +%s)
if ! check "setup: rally project with network, router (gateway), port + admin FIP on it; decoys; race SG" \
    $H setup "$STATE" "$SETUP"; then
    fail_rest "the setup failed"; echo "1..$n"; exit 1
fi
echo "# setup: $(($(date +%s) - t)) s"
if [[ ! -x $BIN/osmon-orphans || ! -x $BIN/osmon-purge ]]; then
    fail_rest "osmon-orphans or osmon-purge not built ($BIN)"; echo "1..$n"; exit 1
fi
eval "$("$DC" env --state-dir "$STATE")"

# ---------------------------------------------------------------- discovery, then a hand-edited --from
"$BIN/osmon-orphans" --service identity --service network -f json >"$TMP/orphans.json" 2>"$TMP/orphans.err"
check "${TOOL_CHECKS[0]}" $H discovered "$SETUP" "$TMP/orphans.json"
$H from "$SETUP" "$TMP/orphans.json" "$TMP/from.json" | sed 's/^/# --from: /'

# ---------------------------------------------------------------- the purge, through the proxy
$H proxy "$STATE" "$SETUP" "$TMP/proxy.log" >"$TMP/proxy.out" 2>"$TMP/proxy.err" &
PROXY_PID=$!
for _ in $(seq 100); do grep -q '^READY ' "$TMP/proxy.out" && break; sleep 0.1; done
URL=$(sed -n 's/^READY //p' "$TMP/proxy.out")
PURGE=$TMP/purge.json
if [[ -z $URL ]]; then
    nok "${TOOL_CHECKS[1]}: the proxy did not start"; sed 's/^/#   /' "$TMP/proxy.err"
else
    t=$(date +%s)
    OS_AUTH_URL=$URL "$BIN/osmon-purge" --confirm --from "$TMP/from.json" --lock-file "$TMP/purge.lock" \
        -f json >"$PURGE" 2>"$TMP/purge.err"
    rc=$?
    if (( rc <= 1 )) && /usr/bin/python3 -m json.tool "$PURGE" >/dev/null 2>&1; then
        ok "${TOOL_CHECKS[1]} (exit $rc, $(($(date +%s) - t)) s, $(grep -c . "$TMP/proxy.log") requests through the proxy)"
    else
        nok "${TOOL_CHECKS[1]}: exit $rc"; tail -n 10 "$TMP/purge.err" | sed 's/^/#   /'
    fi
fi
kill "$PROXY_PID" 2>/dev/null; wait "$PROXY_PID" 2>/dev/null; PROXY_PID=
[[ -s $PURGE ]] || echo '{}' >"$PURGE"
touch "$TMP/proxy.log"
i=2
for what in external shared user prefix infra fip fipreport rallygone race 412; do
    check "${TOOL_CHECKS[$i]}" $H check "$what" "$STATE" "$SETUP" "$PURGE" "$TMP/proxy.log"
    i=$((i + 1))
done

# ---------------------------------------------------------------- leave the cloud as found
if (( STARTED )); then
    t=$(date +%s)
    "$DC" down --state-dir "$STATE" >"$TMP/down.log" 2>&1
    left=$(ps -eo pid=,args= | grep -F -- "$STATE/" | grep -cE 'uwsgi-core|neutron-server')
    if [[ $left == 0 ]]; then ok "devcloud down: no daemon left ($(($(date +%s) - t)) s)"
    else nok "devcloud down: $left processes still mention $STATE"; fi
    STARTED=0
else
    check "cleanup: everything this test made is removed from the reused devcloud" $H cleanup "$STATE" "$SETUP"
fi
echo "# purge-safety.t: $(($(date +%s) - T_START)) s in all"
echo "1..$n"
exit $((FAILED > 0))
