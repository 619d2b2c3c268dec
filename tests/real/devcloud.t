#!/bin/bash
# Real tier: a real OpenStack control plane (scripts/devcloud) with real Rally leftovers
# (scripts/devcloud-orphans), then osmon-orphans / osmon-purge against it.
#
# Reuses a running devcloud when DEVCLOUD_STATE names one (and leaves it running); otherwise
# brings a fresh one up in $INFRA_TMP and takes it down at the end.
# Env: DEVCLOUD_TEST_SERVICES (default: all 7, keystone,glance,neutron,cinder,placement,nova,swift),
#      OSMON_ORPHANS_ARGS (default none), OSMON_PURGE_DRY_ARGS (default none: dry run),
#      OSMON_PURGE_CONFIRM_ARGS (default --confirm).
# Every check prints `ok N - ...` or `not ok N - ...`; nothing is skipped silently.
set -u -o pipefail

SRC=${INFRA_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${INFRA_BIN:-$SRC/${BUILD:-build}/bin}
TMP=${INFRA_TMP:-}
if [[ -z $TMP ]]; then TMP=$(mktemp -d /var/tmp/devcloud-t.XXXXXX); OWN_TMP=1; else OWN_TMP=0; fi
DC=$SRC/scripts/devcloud
ORPH=$SRC/scripts/devcloud-orphans
CHK="/usr/bin/python3 $SRC/tests/real/devcloud_check.py"
SERVICES=${DEVCLOUD_TEST_SERVICES:-keystone,glance,neutron,cinder,placement,nova,swift}
T_START=$(date +%s)

N=0 FAILED=0
ok()     { N=$((N + 1)); echo "ok $N - $*"; }
not_ok() { N=$((N + 1)); FAILED=$((FAILED + 1)); echo "not ok $N - $*"; }
check()  {   # description, command...: ok when the command exits 0; its output becomes a comment
    local d=$1 out rc; shift
    out=$("$@" 2>&1); rc=$?
    if (( rc == 0 )); then ok "$d${out:+ (${out##*$'\n'})}"
    else not_ok "$d"; printf '%s\n' "$out" | tail -n 15 | sed 's/^/#   /'; fi
    return $rc
}
note() { echo "# $*"; }

svc_type() {
    case $1 in keystone) echo identity ;; glance) echo image ;; neutron) echo network ;;
        cinder) echo volumev3 ;; placement) echo placement ;; nova) echo compute ;; swift) echo object-store ;; esac
}
REUSE=0
if [[ -n ${DEVCLOUD_STATE:-} ]] && "$DC" status --state-dir "$DEVCLOUD_STATE" >/dev/null 2>&1; then
    REUSE=1
    SERVICES=$(tr ' ' ',' <"$DEVCLOUD_STATE/services")
fi
read -r -a S_LIST <<<"${SERVICES//,/ }"
NS=${#S_LIST[@]}
TOOL_TESTS=11
echo "1..$((13 + 2 * NS + TOOL_TESTS))"

# ---------------------------------------------------------------- 1: bring-up
STARTED=0
if (( REUSE )); then
    STATE=$DEVCLOUD_STATE
    ok "devcloud up: reusing the running devcloud in $STATE (left running)"
else
    STATE=$TMP/devcloud
    t=$(date +%s)
    if "$DC" up --services "$SERVICES" --state-dir "$STATE" >"$TMP/up.log" 2>&1; then
        STARTED=1
        ok "devcloud up --services $SERVICES (fresh state dir, $(($(date +%s) - t)) s)"
        grep 'timing' "$TMP/up.log" | sed 's/^/# /'
    else
        STARTED=1
        not_ok "devcloud up --services $SERVICES: the real tier cannot start"
        tail -n 40 "$TMP/up.log" | sed 's/^/#   /'
        "$DC" down --state-dir "$STATE" >/dev/null 2>&1
        # every remaining check counts as failed, with the reason
        while (( N < 13 + 2 * NS + TOOL_TESTS )); do not_ok "devcloud did not come up (see test 1)"; done
        if (( OWN_TMP )); then rm -rf "$TMP"; fi
        exit 1
    fi
fi
export DEVCLOUD_STATE=$STATE
cleanup() {
    if (( STARTED )); then "$DC" down --state-dir "$STATE" >/dev/null 2>&1; fi
    if (( OWN_TMP )); then rm -rf "$TMP"; fi
}
trap cleanup EXIT

# ---------------------------------------------------------------- 2-: the cloud itself
check "devcloud status: every daemon running" "$DC" status --state-dir "$STATE"
eval "$("$DC" env --state-dir "$STATE")"
check "openstack token issue (admin)" sh -c 'openstack token issue -f value -c id | grep -Eq "^[A-Za-z0-9_-]{20,}$" && echo issued'
cy_check() {
    local f
    f=$("$DC" clouds-yaml --state-dir "$STATE" --out "$TMP/clouds.yaml") || return 1
    [[ $(stat -c %a "$f") == 600 ]] || { echo "clouds.yaml mode $(stat -c %a "$f")"; return 1; }
    local want got
    want=$(openstack project show demo -f value -c id) || return 1
    got=$(env -u OS_AUTH_URL -u OS_USERNAME -u OS_PASSWORD -u OS_PROJECT_NAME -u OS_USER_DOMAIN_NAME \
        -u OS_PROJECT_DOMAIN_NAME OS_CLIENT_CONFIG_FILE="$f" OS_CLOUD=devcloud-demo \
        openstack token issue -f value -c project_id) || return 1
    [[ -n $want && $got == "$want" ]] || { echo "token project '$got', demo is '$want'"; return 1; }
    echo "OS_CLOUD=devcloud-demo gets a token for project demo"
}
check "devcloud clouds-yaml (mode 0600) works with OS_CLOUD" cy_check
check "openstack token issue (demo project, member role)" sh -c \
    "eval \"\$('$DC' env --project demo)\"; openstack token issue -f value -c project_id | grep -Eq '^[0-9a-f]{32}$' && echo issued"
openstack catalog list -f json >"$TMP/catalog.json" 2>"$TMP/catalog.err"
for s in "${S_LIST[@]}"; do
    check "catalog has $(svc_type "$s") ($s) on 127.0.0.1" /usr/bin/python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))
e = [x for x in c if x["Type"] == sys.argv[2]]
urls = [ep["url"] for x in e for ep in x["Endpoints"]]
if not urls or not all(u.startswith("http://127.0.0.1:") for u in urls):
    sys.exit("catalog: %r" % e)
print(urls[0])' "$TMP/catalog.json" "$(svc_type "$s")"
done
/usr/bin/python3 "$SRC/scripts/devcloud-helper.py" smoke "$STATE" "${S_LIST[*]}" >"$TMP/smoke.txt" 2>&1
for s in "${S_LIST[@]}"; do
    check "$s API answers an authenticated GET" grep -E "^ok $s " "$TMP/smoke.txt"
done
t=$(date +%s.%N)
"$DC" up --services "$(IFS=,; echo "${S_LIST[*]}")" --state-dir "$STATE" >"$TMP/up2.log" 2>&1
rc=$?
dt=$(awk -v a="$t" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
if (( rc == 0 )) && grep -q 'started now: none' "$TMP/up2.log" && awk -v d="$dt" 'BEGIN{exit !(d<20)}'; then
    ok "second devcloud up is idempotent and fast (${dt} s, started nothing)"
else
    not_ok "second devcloud up (rc $rc, ${dt} s)"; tail -n 5 "$TMP/up2.log" | sed 's/^/#   /'
fi
listen_check() {
    local pids bad
    pids=$(cat "$STATE"/run/*.pid | paste -sd'|')
    bad=$(ss -Htlnp | grep -E "pid=($pids)," | awk '{print $4}' | grep -v '^127\.0\.0\.1:')
    # (ss names every process holding a socket: masters and their workers)
    [[ -z $bad ]] || { echo "listening elsewhere: $bad"; return 1; }
    echo "$(ss -Htln | grep -c '127.0.0.1:') listeners on 127.0.0.1"
}
check "devcloud daemons listen on 127.0.0.1 only" listen_check
secret_check() {
    local m pw p
    m=$(stat -c %a "$STATE/secrets")
    [[ $m == 600 ]] || { echo "secrets mode $m"; return 1; }
    pw=$(sed -n 's/^ADMIN_PASSWORD=//p' "$STATE/secrets")
    for p in /proc/[0-9]*/cmdline; do
        if tr '\0' ' ' <"$p" 2>/dev/null | grep -qF -f <(printf '%s\n' "$pw"); then echo "admin password on the command line of ${p%/cmdline}"; return 1; fi
    done
    if grep -rlF -- "$pw" "$STATE/log" 2>/dev/null | head -3 | grep -q .; then
        echo "admin password written to a log: $(grep -rlF -- "$pw" "$STATE/log" | head -3 | tr '\n' ' ')"; return 1
    fi
    echo "mode 600, not in any command line, not in any log"
}
check "admin password: secrets file mode 0600, in no process command line, in no log" secret_check

busy_check() {   # a second cloud whose keystone port is the running one's: must fail, name it, leave nothing
    local b=$TMP/busy port out rc
    port=$(sed -n 's/^keystone=//p' "$STATE/ports")
    mkdir -p "$b"
    cp "$STATE/ports" "$b/ports"   # the same ports as the running cloud
    out=$("$DC" up --services keystone --no-rally --no-install --state-dir "$b" 2>&1); rc=$?
    "$DC" status --state-dir "$b" >/dev/null 2>&1; local st=$?
    "$DC" down --state-dir "$b" >/dev/null 2>&1
    (( rc == 1 )) || { echo "exit $rc (want 1)"; return 1; }
    grep -q "service keystone failed: port 127.0.0.1:$port is already in use" <<<"$out" || { echo "$out" | tail -3; return 1; }
    (( st == 3 )) || { echo "status $st after the failed up (want 3: nothing running)"; return 1; }
    echo "exit 1: $(grep -m1 'service keystone failed' <<<"$out" | cut -c1-80)"
}
check "devcloud up on a taken port fails at once, names the service, starts nothing" busy_check

# ---------------------------------------------------------------- orphans
MAN=$TMP/manifest.json
t=$(date +%s)
if "$ORPH" --state-dir "$STATE" --out "$MAN" >"$TMP/orphans.log" 2>&1; then
    ok "devcloud-orphans: $(head -1 "$TMP/orphans.log" | sed 's/^devcloud-orphans: //; s/; manifest.*//') in $(($(date +%s) - t)) s"
    sed -n '2,$p' "$TMP/orphans.log" | sed 's/^/# /'
else
    not_ok "devcloud-orphans failed"; tail -n 20 "$TMP/orphans.log" | sed 's/^/#   /'
fi
EXTRA_TYPES=
[[ " ${S_LIST[*]} " == *" nova "* ]] && EXTRA_TYPES=server,keypair,server_group
check "manifest: rally tasks killed mid-run, orphans of every type, decoys that never match" $CHK manifest "$MAN" "$EXTRA_TYPES"
# every manifest resource, checked against the openstack CLI (one interactive process)
{
    echo "project list -f json"
    echo "user list -f json"
    [[ " ${S_LIST[*]} " == *" neutron "* ]] && printf '%s\n' "network list -f json" "subnet list -f json" \
        "router list -f json" "port list -f json" "security group list --all-projects -f json" \
        "floating ip list -f json"
    [[ " ${S_LIST[*]} " == *" glance "* ]] && echo "image list -f json"
    [[ " ${S_LIST[*]} " == *" cinder "* ]] && echo "volume list --all-projects -f json"
    [[ " ${S_LIST[*]} " == *" swift "* ]] && echo "container list -f json"
    if [[ " ${S_LIST[*]} " == *" nova "* ]]; then
        printf '%s\n' "server list --all-projects -f json" "server group list --all-projects -f json" "flavor list --all -f json"
        # keypairs belong to users: one list per user that has one in the manifest
        /usr/bin/python3 -c 'import json, sys
for u in sorted({r["user_id"] for r in json.load(open(sys.argv[1]))["resources"] if r["type"] == "keypair"}):
    print("keypair list --user %s -f json" % u)' "$MAN"
    fi
} | OS_COMPUTE_API_VERSION=2.10 openstack >"$TMP/cli-lists.txt" 2>&1
check "manifest matches 'openstack ... list' (every id listed)" $CHK listed "$MAN" "$TMP/cli-lists.txt"

# ---------------------------------------------------------------- osmon-orphans / osmon-purge
snap() { "$ORPH" --state-dir "$STATE" --snapshot "$1"; }
if [[ ! -x $BIN/osmon-orphans || ! -x $BIN/osmon-purge ]]; then
    for d in "osmon-orphans -f json" "osmon-orphans: every expected orphan found" "osmon-orphans: no decoy reported" \
             "osmon-orphans: no near-miss name reported" "osmon-orphans -f prom" "osmon-purge dry run deletes nothing" \
             "osmon-purge --confirm: orphans gone" "osmon-purge --confirm: decoys survive" \
             "osmon-purge --confirm: near-miss decoys survive" "osmon-orphans rerun: clean" "osmon-purge rerun converges"; do
        not_ok "$d: osmon-orphans not built ($BIN/osmon-orphans, $BIN/osmon-purge missing)"
    done
else
    # The tools match the --prefix (default s_rally, c_rally) by default; the near-miss decoys
    # (s_rally_backup_2024, ...) start with it, so this test runs them with the exact Rally
    # name grammar through --match, as an operator with such names would.  Plain decoys
    # (names with rally elsewhere) are covered by the default mode in the simulator tier.
    RALLY_RE='^[sc]_rally_[0-9a-f]{8}_[A-Za-z0-9]{8}$'
    read -r -a OA <<<"${OSMON_ORPHANS_ARGS:---match $RALLY_RE}"
    read -r -a PD <<<"${OSMON_PURGE_DRY_ARGS:---match $RALLY_RE}"
    read -r -a PC <<<"${OSMON_PURGE_CONFIRM_ARGS:---confirm --match $RALLY_RE}"
    "$BIN/osmon-orphans" "${OA[@]}" -f json >"$TMP/orphans.json" 2>"$TMP/orphans.err"; rc=$?
    if (( rc == 1 )) && /usr/bin/python3 -m json.tool "$TMP/orphans.json" >/dev/null 2>&1; then
        ok "osmon-orphans -f json: exit 1 (orphans found), valid JSON"
    else
        not_ok "osmon-orphans -f json: exit $rc (want 1) or invalid JSON"; tail -n 5 "$TMP/orphans.err" | sed 's/^/#   /'
    fi
    check "osmon-orphans: every expected orphan found" $CHK found "$MAN" "$TMP/orphans.json"
    check "osmon-orphans: no decoy reported" $CHK nodecoy "$MAN" "$TMP/orphans.json"
    check "osmon-orphans: no near-miss name reported (s_rally_/c_rally_ names that break the rally grammar)" \
        $CHK nonearmiss "$MAN" "$TMP/orphans.json"
    prom_check() {
        "$BIN/osmon-orphans" "${OA[@]}" -f prom >"$TMP/orphans.prom" 2>"$TMP/orphans-prom.err"; local rc=$?
        (( rc == 1 )) || { echo "exit $rc (want 1)"; return 1; }
        # the project's gate for every Prometheus output: own rules + promtool + node_exporter textfile
        "$SRC/tests/real/promcheck" "$TMP/orphans.prom" || return 1
        $CHK prom "$MAN" "$TMP/orphans.prom"
    }
    check "osmon-orphans -f prom: exit 1, passes tests/real/promcheck, osmon_orphaned_resources counts them" prom_check
    snap "$TMP/snap0.json"
    "$BIN/osmon-purge" "${PD[@]}" >"$TMP/purge-dry.out" 2>"$TMP/purge-dry.err"; rc=$?
    snap "$TMP/snap1.json"
    if (( rc <= 1 )) && out=$($CHK same "$TMP/snap0.json" "$TMP/snap1.json"); then
        ok "osmon-purge ${PD[*]:-(dry run)}: exit $rc, $out"
    else
        not_ok "osmon-purge dry run: exit $rc: ${out:-}"; tail -n 5 "$TMP/purge-dry.err" | sed 's/^/#   /'
    fi
    t=$(date +%s)
    "$BIN/osmon-purge" "${PC[@]}" >"$TMP/purge.out" 2>"$TMP/purge.err"; rc=$?
    note "osmon-purge ${PC[*]}: exit $rc in $(($(date +%s) - t)) s"
    (( rc <= 1 )) || tail -n 10 "$TMP/purge.err" | sed 's/^/#   /'
    snap "$TMP/snap2.json"
    check "osmon-purge ${PC[*]}: every expected orphan gone" $CHK gone "$MAN" "$TMP/snap2.json"
    check "osmon-purge ${PC[*]}: every decoy survives" $CHK survive "$MAN" "$TMP/snap2.json"
    check "osmon-purge ${PC[*]}: every near-miss decoy survives" $CHK survivenearmiss "$MAN" "$TMP/snap2.json"
    rerun_check() {
        "$BIN/osmon-orphans" "${OA[@]}" -f json >"$TMP/orphans2.json" 2>"$TMP/orphans2.err"; local rc=$?
        $CHK none "$MAN" "$TMP/orphans2.json" || return 1
        (( rc == 0 )) || { echo "exit $rc (want 0: nothing left)"; return 1; }
    }
    check "osmon-orphans rerun: exit 0, none of the purged orphans" rerun_check
    converge_check() {
        "$BIN/osmon-purge" "${PC[@]}" >"$TMP/purge2.out" 2>"$TMP/purge2.err"; local rc=$?
        snap "$TMP/snap3.json"
        (( rc == 0 )) || { echo "exit $rc (want 0)"; return 1; }
        $CHK same "$TMP/snap2.json" "$TMP/snap3.json"
    }
    check "osmon-purge rerun converges: exit 0, nothing changed" converge_check
fi

# ---------------------------------------------------------------- down
if (( STARTED )); then
    t=$(date +%s)
    "$DC" down --state-dir "$STATE" >"$TMP/down.log" 2>&1
    left=$(ps -eo pid=,args= | grep -F -- "$STATE/" | grep -cE 'uwsgi-core|glance-api|neutron-server|cinder-api|swift-[a-z]+-server|rally')
    if [[ $left == 0 ]]; then ok "devcloud down: no daemon left ($(($(date +%s) - t)) s)"
    else not_ok "devcloud down: $left processes still mention $STATE"; fi
    STARTED=0
else
    check "reused devcloud still running (left for its owner)" "$DC" status --state-dir "$STATE"
fi
note "devcloud.t: $(($(date +%s) - T_START)) s in all"
exit $(( FAILED > 0 ))
