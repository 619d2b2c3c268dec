#!/usr/bin/env bash
# Long work is not silent (issue 9 item 12): on a terminal a progress line on stderr counts the
# requests (never on a pipe, never with -q); -vvv logs every request like `openstack --debug`
# (method, URL without secrets, status, time).
set -u
cd "${INFRA_SRCDIR:?}"
. "$INFRA_SRCDIR/tests/lib/tap.sh"
tmp=${INFRA_TMP:-$(mktemp -d)}
BIN=${INFRA_BIN:-$PWD/${BUILD:-build}/bin}
python3 tests/sim/openstack.py --seed tests/sim/seeds/realistic.json --latency-ms 20 --max-seconds 120 >"$tmp/sim.out" 2>&1 &
sim=$!
trap 'kill $sim 2>/dev/null; wait $sim 2>/dev/null' EXIT
for _ in $(seq 100); do grep -q READY "$tmp/sim.out" && break; sleep 0.1; done
URL=$(awk '/^READY/{print $2}' "$tmp/sim.out")
export OS_AUTH_URL=$URL/identity/v3 OS_USERNAME=admin OS_PASSWORD=secret OS_PROJECT_NAME=admin \
	OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default
unset OS_CLOUD

# a terminal on stderr (script gives the command a pty); stdout to a file
timeout 60 script -qec "'$BIN/osmon-orphans' -f json -o '$tmp/o.json'" /dev/null >"$tmp/tty.err" 2>&1
check "on a terminal: a progress line counts the requests" grep -q 'osmon-orphans: discovery: [0-9]* of [0-9]* requests done' "$tmp/tty.err"
check "... and it is cleared before the tool ends (erase sequence after the last update)" \
	bash -c "tail -c 20 '$tmp/tty.err' | grep -q \$'\\r\\033\\[K'"
timeout 60 script -qec "'$BIN/osmon-orphans' -q -f json -o '$tmp/o.json'" /dev/null >"$tmp/tty-q.err" 2>&1
check "with -q: no progress line" bash -c "! grep -q 'requests done' '$tmp/tty-q.err'"
"$BIN/osmon-orphans" -f json >/dev/null 2>"$tmp/pipe.err"
check "on a pipe: no progress line" bash -c "! grep -q 'requests done' '$tmp/pipe.err'"

"$BIN/osmon-orphans" -vvv -f json >/dev/null 2>"$tmp/vvv.err"
check "-vvv: every request logged with method, URL, status and time" \
	grep -qE "^osmon-orphans: GET $URL/[a-z-]+/.* -> 200 \([0-9.]+ s, attempt 1\)$" "$tmp/vvv.err"
check "-vvv: no password and no token in the trace" bash -c "! grep -qiE 'secret|x-auth-token|password' '$tmp/vvv.err'"
"$BIN/osmon-orphans" -vv -f json >/dev/null 2>"$tmp/vv.err"
check "-vv does not trace requests (each -v adds something)" bash -c "! grep -q ' -> 200 (' '$tmp/vv.err'"
timeout 60 script -qec "'$BIN/osmon-purge' -f json -o '$tmp/p.json'" /dev/null >"$tmp/ptty.err" 2>&1
check "osmon-purge on a terminal: progress too" grep -q 'osmon-purge: purge: [0-9]* of [0-9]* requests done' "$tmp/ptty.err"
echo "1..$n"
