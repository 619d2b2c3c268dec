#!/usr/bin/env bash
# osmon-orphans / osmon-purge against the OpenStack simulator, for what a case file
# cannot say: the pipe, the lock held by another purge, SIGKILL in the middle of a
# purge and a rerun that converges, token and password-file auth, secrets never printed.
set -u
cd "${INFRA_SRCDIR:?}"
BIN=${INFRA_BIN:-$PWD/${BUILD:-build}/bin}
tmp=${INFRA_TMP:-$(mktemp -d)}
. "$INFRA_SRCDIR/tests/lib/tap.sh"
vg=()
[ "${INFRA_VALGRIND:-0}" = 1 ] && vg=(valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99)

sim_pid=
start_sim() { # extra simulator args...
	stop_sim
	python3 tests/sim/openstack.py --seed tests/sim/seeds/realistic.json --max-seconds 300 "$@" >"$tmp/sim.out" 2>"$tmp/sim.err" &
	sim_pid=$!
	for _ in $(seq 100); do
		grep -q '^READY ' "$tmp/sim.out" 2>/dev/null && break
		sleep 0.1
	done
	URL=$(awk '/^READY/{print $2}' "$tmp/sim.out")
	export OS_AUTH_URL=$URL/identity/v3 OS_USERNAME=admin OS_PASSWORD=secret OS_PROJECT_NAME=admin \
		OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default
}
stop_sim() {
	if [ -n "$sim_pid" ]; then kill "$sim_pid" 2>/dev/null; wait "$sim_pid" 2>/dev/null; sim_pid=; fi
}
trap stop_sim EXIT
unset OS_CLOUD OS_TOKEN OS_AUTH_TYPE OS_REGION_NAME
state() { python3 tests/sim/osstate.py "$URL" "$@"; }
DECOYS=(--has my_s_rally_notes --has prod-db-rally-metrics --has rally_shared_net --has cirros-rally
	--has rally-ci --has backups-rally --has ops-rally-key --has web-frontend-1 --has infra-stack --has admin)

# 1. the pipe
start_sim
"${vg[@]}" "$BIN/osmon-orphans" -f json | "${vg[@]}" "$BIN/osmon-purge" --from - --confirm -f json \
	--lock-file "$tmp/lock" >"$tmp/purge.json" 2>"$tmp/purge.err"
check "osmon-orphans -f json | osmon-purge --from - --confirm exits 0" test "$?" = 0
check "... deleted what was found (83 planned, none failed)" \
	python3 -c "import json,sys; c=json.load(open('$tmp/purge.json'))['data']['counts']; sys.exit(not (c['planned']==83 and c['failed']==0 and c['deleted']+c['gone']==83))"
check "... no s_rally/c_rally name left, every decoy survives" state --none-start s_rally --none-start c_rally "${DECOYS[@]}"
"$BIN/osmon-orphans" -f json >/dev/null 2>&1
check "osmon-orphans afterwards exits 0 (nothing left)" test "$?" = 0

# 2. the lock: a second purge while one holds it
start_sim
flock "$tmp/held.lock" sleep 5 &
holder=$!
sleep 0.3
"$BIN/osmon-purge" --confirm --lock-file "$tmp/held.lock" -f json >"$tmp/out" 2>"$tmp/err"
rc=$?
check "a purge while another holds the lock exits 3" test "$rc" = 3
check "... and says who holds which lock" grep -q "holds the lock $tmp/held.lock" "$tmp/err"
check "... and deleted nothing" state --count 103
check "... and took the lock first: no list request, no plan printed (issue 9 item 13)" \
	python3 -c "
import json, sys, urllib.request
reqs = json.load(urllib.request.urlopen('$URL/_sim/requests'))
lists = [r for r in reqs if r['service'] != '_sim' and 'auth/tokens' not in r['path']]
out = json.load(open('$tmp/out'))
sys.exit(1 if lists or out['data'].get('plan') or out['data'].get('items') else 0)"
kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null
"$BIN/osmon-purge" --lock-file "$tmp/held.lock" -f json >/dev/null 2>&1
check "a dry run needs no lock and deletes nothing" state --count 103

# 3. SIGKILL in the middle of a purge, then a rerun converges
start_sim --latency-ms 60
"$BIN/osmon-purge" --confirm --lock-file "$tmp/kill.lock" -f json -j 2 >/dev/null 2>"$tmp/err" &
victim=$!
count() { python3 -c "import json,urllib.request as u; s=json.load(u.urlopen('$URL/_sim/state')); print(sum(len(v) for v in s.values() if isinstance(v,list)))"; }
# kill it once it is into the deletions, whatever the machine's speed (well before the end: a loaded
# machine, e.g. make check-asan, polls slowly)
for _ in $(seq 300); do
	[ "$(count)" -le 92 ] && break
	sleep 0.05
done
kill -KILL "$victim" 2>/dev/null
wait "$victim" 2>/dev/null
killed=$(count)
check "the killed purge had deleted some but not all ($killed of 103 left)" test "$killed" -lt 103 -a "$killed" -gt 21
"$BIN/osmon-purge" --confirm --lock-file "$tmp/kill.lock" -f json >"$tmp/rerun.json" 2>"$tmp/err"
check "the rerun after SIGKILL takes the (kernel-released) lock and exits 0" test "$?" = 0
check "... converges: no orphan left, decoys intact" state --none-start s_rally --none-start c_rally "${DECOYS[@]}"
"$BIN/osmon-purge" --confirm --lock-file "$tmp/kill.lock" -f json >"$tmp/third.json" 2>&1
check "a third run has nothing to do (planned 0, exit 0)" \
	python3 -c "import json,sys; sys.exit(json.load(open('$tmp/third.json'))['data']['counts']['planned'] != 0)"

# 4. auth variants and secrets
start_sim
printf 'secret\n' >"$tmp/pw"
OS_PASSWORD= "$BIN/osmon-orphans" --os-password-file "$tmp/pw" --service orchestration -f json >"$tmp/out" 2>&1
check "--os-password-file authenticates (exit 1: the stack orphan)" test "$?" = 1
TOKEN=$(curl -s -i -X POST "$OS_AUTH_URL/auth/tokens" -H 'Content-Type: application/json' \
	-d '{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","domain":{"id":"default"},"password":"secret"}}},"scope":{"project":{"name":"admin","domain":{"id":"default"}}}}}' |
	tr -d '\r' | awk -F': ' 'tolower($1)=="x-subject-token"{print $2}')
env -u OS_PASSWORD -u OS_USERNAME OS_AUTH_TYPE=token OS_TOKEN="$TOKEN" \
	"$BIN/osmon-orphans" --service orchestration -f json -vvv >"$tmp/out" 2>"$tmp/err"
check "an existing token (OS_TOKEN) authenticates" test "$?" = 1
check "... and is never printed, even with -vvv" bash -c "! grep -qF '$TOKEN' '$tmp/out' '$tmp/err'"
OS_PASSWORD=wrong-pass-123 "$BIN/osmon-orphans" -vvv -f json >"$tmp/out" 2>"$tmp/err"
check "wrong password: exit 3" test "$?" = 3
check "... the password appears nowhere (stdout, stderr with -vvv)" bash -c "! grep -q 'wrong-pass-123' '$tmp/out' '$tmp/err'"
"$BIN/osmon-orphans" --os-password=x >/dev/null 2>"$tmp/err"
check "there is no password option (secrets never on argv)" test "$?" = 3
stop_sim

# 5. --from keeps the rule it was made with (issue 9 item 14), --from - on a terminal (item 18)
start_sim
"$BIN/osmon-orphans" --match '^s_rally_' -f json >"$tmp/match.json" 2>/dev/null
"$BIN/osmon-purge" --from "$tmp/match.json" --confirm --lock-file "$tmp/l5" -f json >"$tmp/out" 2>"$tmp/err"; rc=$?
check "--from a file made with --match, purged without it: exit 3, says which option to repeat" \
	bash -c "[ $rc = 3 ] && grep -q \"was made with --match '^s_rally_': repeat --match '^s_rally_'\" '$tmp/err'"
check "... and deleted nothing" state --count 103
"$BIN/osmon-purge" --from "$tmp/match.json" --match '^s_rally_' --confirm --lock-file "$tmp/l5" -f json >"$tmp/out" 2>"$tmp/err"; rc=$?
check "... with the same --match repeated it purges (exit $rc), no item skipped as 'does not match'" \
	python3 -c "import json,sys; d=json.load(open('$tmp/out'))['data']; c=d['counts']; sys.exit(not ($rc in (0,1) and c['deleted']+c.get('detached',0)+c['gone'] > 0))"
timeout 10 script -qec "'$BIN/osmon-purge' --from - -f json" /dev/null >"$tmp/tty.out" 2>&1 </dev/null; rc=$?
check "--from - with a terminal on stdin: refused at once (exit 3, not a silent wait)" \
	bash -c "[ $rc = 3 ] && grep -q 'standard input is a terminal' '$tmp/tty.out'"
stop_sim
echo "1..$n"
