#!/usr/bin/env bash
# The lock stops two runs overlapping (cron): the second says who holds it and exits 3.
. "$(dirname "$0")/osmon-run-lib.sh"
st=$tmp/state
RALLY_SIM_DELAY=3 osmon --state-dir "$st" --services keystone -f json >"$tmp/first.json" 2>"$tmp/first.err" &
first=$!
for _ in $(seq 50); do [ -s "$st/lock" ] && break; sleep 0.1; done
holder=$(cat "$st/lock" 2>/dev/null)
osmon --state-dir "$st" --services keystone -f json >"$tmp/second.json" 2>"$tmp/second.err"; rc=$?
check "second run while the first holds the lock: exit 3" test "$rc" = 3
check "second run: one stderr line naming the lock and the holder's pid" \
	bash -c "[ \$(wc -l <'$tmp/second.err') = 1 ] && grep -q 'another run holds the lock $st/lock (pid $holder)' '$tmp/second.err'"
check "second run: JSON still written, status unknown" test "$(jq -r .status "$tmp/second.json")" = unknown
check "second run: created no run directory of its own" test "$(ls "$st/runs" | wc -l)" = 1
wait "$first"; rc=$?
check "first run finished normally" test "$rc" = 0
osmon --state-dir "$st" --services keystone -f json >/dev/null 2>"$tmp/third.err"; rc=$?
check "after the first run, the lock is free again" test "$rc" = 0
echo "1..$n"
