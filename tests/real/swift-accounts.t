#!/usr/bin/env bash
# tests/real/swift-accounts.t - Swift containers in the accounts (AUTH_<project_id>) of Rally projects
# and of dead projects (issue 9 item 17), against the real Keystone, Neutron and Swift of scripts/devcloud.
#
# Setup (tests/real/swift_accounts.py): a live c_rally project and a c_rally project that is then
# deleted (dead: only its network still names it), each with containers and objects in its own
# account; a live non-Rally project with a container (must never be listed nor deleted, even when a
# hand-edited --from names it); the admin account's Rally container and a decoy.  The tools run as the
# devcloud admin (no ResellerAdmin: own account only, and the output says so; a --from naming other
# accounts fails there with 403) and as a user with admin + ResellerAdmin (lists and purges the Rally
# and dead accounts).  What is left is checked through the Swift API directly, not through the tools.
#
# Reuses a running devcloud when DEVCLOUD_STATE names one with neutron and swift (and leaves it
# running, minus what this test made); otherwise brings up keystone,neutron,swift in $INFRA_TMP and
# takes it down at the end.  Run it under `flock /work/wt/devcloud.lock` when other tests may use the
# devcloud ports.  Every check prints `ok N - ...` or `not ok N - ...`; a devcloud that cannot start
# fails them all.
set -u -o pipefail

SRC=${INFRA_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${INFRA_BIN:-$SRC/${BUILD:-build}/bin}
TMP=${INFRA_TMP:-}
if [[ -z $TMP ]]; then TMP=$(mktemp -d /var/tmp/swift-accounts-t.XXXXXX); OWN_TMP=1; else OWN_TMP=0; fi
DC=$SRC/scripts/devcloud
H="/usr/bin/python3 $SRC/tests/real/swift_accounts.py"
cd "$SRC" || exit 1
# shellcheck source=tests/lib/tap.sh
. "$SRC/tests/lib/tap.sh"
FAILED=0
nok() { n=$((n + 1)); FAILED=$((FAILED + 1)); echo "not ok $n - $*"; }

check() {   # description, command...: ok when it exits 0; its last output line becomes a comment
    local d=$1 out rc; shift
    out=$("$@" 2>&1); rc=$?
    if (( rc == 0 )); then ok "$d${out:+ (${out##*$'\n'})}"
    else nok "$d"; printf '%s\n' "$out" | tail -n 15 | sed 's/^/#   /'; fi
    return $rc
}
CHECKS=(
    "devcloud swift: keystoneauth reseller_admin_role = ResellerAdmin, and keystone has the role"
    "setup: c_rally project (live) and c_rally project (deleted) with containers + objects, live non-Rally project's container, admin decoy"
    "Swift holds every container and object of the setup"
    "osmon-orphans as admin without ResellerAdmin: the own account's Rally container only, JSON swift_accounts says so"
    "osmon-orphans text without ResellerAdmin: one note line naming the role"
    "osmon-purge --confirm --from without ResellerAdmin: the other accounts' containers fail with HTTP 403"
    "osmon-orphans with ResellerAdmin: Rally account's containers (owner, name), dead account's (dead-owner); nothing of the live non-Rally project"
    "osmon-purge --confirm --from with ResellerAdmin (live project's container hand-added as owner): exit 0, JSON"
    "osmon-purge: Rally and dead accounts' containers deleted, the live project's skipped (not-orphan)"
    "Swift (asked directly): Rally and dead accounts empty; live project's container and the admin decoy keep their objects"
)
fail_rest() {   # every check from index $1 on: not ok, with the reason
    local i
    for (( i = $1; i < ${#CHECKS[@]}; i++ )); do nok "${CHECKS[$i]}: $2"; done
}

# ---------------------------------------------------------------- the devcloud
STARTED=0
if [[ -n ${DEVCLOUD_STATE:-} ]] && "$DC" status --state-dir "$DEVCLOUD_STATE" >/dev/null 2>&1; then
    STATE=$DEVCLOUD_STATE
    if grep -qw swift "$STATE/services" && grep -qw neutron "$STATE/services"; then
        ok "devcloud: reusing the running devcloud in $STATE (left running)"
    else
        nok "devcloud in $STATE runs no swift or no neutron ($(cat "$STATE/services"))"
        fail_rest 0 "no swift or neutron"; echo "1..$n"; exit 1
    fi
else
    STATE=$TMP/devcloud
    t=$(date +%s)
    STARTED=1
    if "$DC" up --services keystone,neutron,swift --no-rally --state-dir "$STATE" >"$TMP/up.log" 2>&1; then
        ok "devcloud up --services keystone,neutron,swift --no-rally (fresh state dir, $(($(date +%s) - t)) s)"
        grep 'timing' "$TMP/up.log" | sed 's/^/# /'
    else
        nok "devcloud up --services keystone,neutron,swift: the real tier cannot start"
        tail -n 40 "$TMP/up.log" | sed 's/^/#   /'
        "$DC" down --state-dir "$STATE" >/dev/null 2>&1
        fail_rest 0 "devcloud did not come up (see test 1)"
        echo "1..$n"
        if (( OWN_TMP )); then rm -rf "$TMP"; fi
        exit 1
    fi
fi
export DEVCLOUD_STATE=$STATE
SETUP=$TMP/setup.json
cleanup() {
    if (( STARTED )); then "$DC" down --state-dir "$STATE" >/dev/null 2>&1
    elif [[ -s $SETUP ]]; then $H cleanup "$STATE" "$SETUP" >/dev/null 2>&1; fi
    if (( OWN_TMP )); then rm -rf "$TMP"; fi
}
trap cleanup EXIT

check "${CHECKS[0]}" $H config "$STATE"
if ! check "${CHECKS[1]}" $H setup "$STATE" "$SETUP"; then
    fail_rest 2 "the setup failed"; echo "1..$n"; exit 1
fi
check "${CHECKS[2]}" $H left "$SETUP" before
if [[ ! -x $BIN/osmon-orphans || ! -x $BIN/osmon-purge ]]; then
    fail_rest 3 "osmon-orphans or osmon-purge not built ($BIN)"; echo "1..$n"; exit 1
fi
eval "$("$DC" env --state-dir "$STATE")"
SVC=(--service identity --service network --service object-store)

# ---------------------------------------------------------------- as the admin, without ResellerAdmin
"$BIN/osmon-orphans" "${SVC[@]}" -f json >"$TMP/own.json" 2>"$TMP/own.err"
check "${CHECKS[3]}" $H listed "$SETUP" "$TMP/own.json" own
"$BIN/osmon-orphans" "${SVC[@]}" -f text >"$TMP/own.txt" 2>&1
check "${CHECKS[4]}" sh -c "test \"\$(grep -c '^note: object-store/containers: own account only (the token lacks Swift.s reseller-admin role, ResellerAdmin)' '$TMP/own.txt')\" = 1 && grep '^note:' '$TMP/own.txt'"

# ---------------------------------------------------------------- as the reseller admin
(
    eval "$($H env "$SETUP")"
    "$BIN/osmon-orphans" "${SVC[@]}" -f json >"$TMP/res.json" 2>"$TMP/res.err"
)
$H from "$SETUP" "$TMP/res.json" "$TMP/from.json" | sed 's/^/# --from: /'
# the --from (other accounts named) by the admin without the role: Swift refuses, nothing deleted there
"$BIN/osmon-purge" --confirm --from "$TMP/from.json.others" --lock-file "$TMP/purge.lock" --retries 0 -f json \
    >"$TMP/purge-own.json" 2>"$TMP/purge-own.err"
check "${CHECKS[5]}" $H purged "$SETUP" "$TMP/purge-own.json" noreseller
check "${CHECKS[6]}" $H listed "$SETUP" "$TMP/res.json" reseller
t=$(date +%s)
(
    eval "$($H env "$SETUP")"
    "$BIN/osmon-purge" --confirm --from "$TMP/from.json" --lock-file "$TMP/purge.lock" -f json \
        >"$TMP/purge.json" 2>"$TMP/purge.err"
)
rc=$?
if (( rc == 0 )) && /usr/bin/python3 -m json.tool "$TMP/purge.json" >/dev/null 2>&1; then
    ok "${CHECKS[7]} ($(($(date +%s) - t)) s)"
else
    nok "${CHECKS[7]}: exit $rc"; tail -n 10 "$TMP/purge.err" | sed 's/^/#   /'
fi
[[ -s $TMP/purge.json ]] || echo '{"data":{}}' >"$TMP/purge.json"
check "${CHECKS[8]}" $H purged "$SETUP" "$TMP/purge.json" reseller
check "${CHECKS[9]}" $H left "$SETUP" after

echo "1..$n"
exit $((FAILED > 0))
