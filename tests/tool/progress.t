#!/usr/bin/env bash
# Long work is not silent (issue 9 item 12): on a terminal a progress line on stderr counts the
# requests (never on a pipe, never with -q); -vvv logs every request like `openstack --debug`
# (method, URL without secrets, status, time); osmon-purge --confirm shows its step with deleted,
# failed and remaining counts, and -v a line per finished step.
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

# osmon-purge --confirm: the step and its deleted/failed/remaining counters (a fresh cloud each run)
fresh_cloud() { # -> OS_AUTH_URL of a new simulator (the purge empties the one before)
	python3 tests/sim/openstack.py --seed tests/sim/seeds/realistic.json --latency-ms 20 --max-seconds 120 >"$tmp/sim$1.out" 2>&1 &
	sims+=($!)
	for _ in $(seq 100); do grep -q READY "$tmp/sim$1.out" && break; sleep 0.1; done
	export OS_AUTH_URL=$(awk '/^READY/{print $2}' "$tmp/sim$1.out")/identity/v3
}
sims=()
trap 'kill $sim "${sims[@]}" 2>/dev/null; wait 2>/dev/null' EXIT
fresh_cloud 2
timeout 120 script -qec "'$BIN/osmon-purge' --confirm --lock-file '$tmp/lock' -f json -o '$tmp/c.json'" /dev/null >"$tmp/ctty.err" 2>&1
tr '\r' '\n' <"$tmp/ctty.err" | sed 's/\x1b\[K//g' | grep 'step ' >"$tmp/csteps"
last=$(grep -oE 'step [0-9]+ of [0-9]+' "$tmp/csteps" | tail -1)
echo "# $(wc -l <"$tmp/csteps") progress updates, the last: $(tail -1 "$tmp/csteps")"
check "osmon-purge --confirm on a terminal: the step with deleted, failed and remaining counts" \
	grep -qE '^osmon-purge: step [0-9]+ of [0-9]+ \([a-z_, ]+\): [0-9]+ deleted, [0-9]+ failed, [0-9]+ remaining' "$tmp/csteps"
cur=${last#step }; cur=${cur%% of*}
check "... from the first step with everything remaining to the last step done (${last:-none})" \
	bash -c "grep -qE '^osmon-purge: step 1 of [0-9]+ \(servers\): 0 deleted, 0 failed, [1-9][0-9]* remaining' '$tmp/csteps' && [ -n '$cur' ] && [ '$last' = 'step $cur of $cur' ] && tail -1 '$tmp/csteps' | grep -qE ': [1-9][0-9]* deleted, 0 failed, 0 remaining'"
check "... the counts move: a step seen with some deleted and some remaining, or many updates" \
	bash -c "grep -qE ': [1-9][0-9]* deleted, [0-9]+ failed, [1-9][0-9]* remaining' '$tmp/csteps' || [ \$(wc -l <'$tmp/csteps') -gt 20 ]"
check "... and no request-count line while it deletes, the purge ran (exit 0)" \
	bash -c "! grep -q 'step.*requests done' '$tmp/ctty.err' && jq -e '.status == \"ok\"' '$tmp/c.json' >/dev/null"
fresh_cloud 3
"$BIN/osmon-purge" --confirm --lock-file "$tmp/lock" -v -f json >/dev/null 2>"$tmp/cv.err"
steps=$(grep -cE '^osmon-purge: step [0-9]+ of [0-9]+ \([a-z_, ]+\) done: [0-9]+ deleted, [0-9]+ failed' "$tmp/cv.err")
check "-v on a pipe: one line per finished step ($steps), no progress line" \
	bash -c "[ $steps -gt 3 ] && [ \"\$(grep -oE 'step [0-9]+ of [0-9]+' '$tmp/cv.err' | tail -1)\" = \"step $steps of $steps\" ] && ! grep -q \$'\\r' '$tmp/cv.err'"
fresh_cloud 4
timeout 120 script -qec "'$BIN/osmon-purge' --confirm --lock-file '$tmp/lock' -q -f json -o '$tmp/cq.json'" /dev/null >"$tmp/cq.err" 2>&1
check "-q on a terminal: no step progress" bash -c "! grep -q 'step ' '$tmp/cq.err' && jq -e '.status == \"ok\"' '$tmp/cq.json' >/dev/null"
echo "1..$n"
