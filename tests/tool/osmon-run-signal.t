#!/usr/bin/env bash
# SIGTERM while rally runs (a systemd stop, a cron kill): osmon-run takes rally's whole
# process group with it, leaves no half-written state file, and the lock is free again.
. "$(dirname "$0")/osmon-run-lib.sh"
st=$tmp/state
RALLY_SIM_IDENTITY=hang "$OSMON" --no-orphans --state-dir "$st" --services keystone -f json -o "$tmp/out.json" 2>"$tmp/err" &
pid=$!
for _ in $(seq 100); do [ -s "$st/rally/hang-identity.pid" ] && break; sleep 0.1; done
worker=$(cat "$st/rally/hang-identity.pid" 2>/dev/null)
check "rally's forked worker is running (pid ${worker:-none})" test -n "$worker"
kill -TERM "$pid"
wait "$pid"; rc=$?
check "osmon-run ends by SIGTERM (status 143)" test "$rc" = 143
sleep 0.3
s=$(ps -o stat= -p "${worker:-0}" 2>/dev/null)
check "rally's worker is gone (state '${s:-none}')" bash -c "[ -z '$s' ] || [ '${s#Z}' != '$s' ]"
check "no latest_summary.json or history.json from the interrupted run" test ! -e "$st/latest_summary.json" -a ! -e "$st/history.json"
check "no -o file and no temp file left" bash -c "[ ! -e '$tmp/out.json' ] && ! ls -A '$tmp' '$st' | grep -q '\.tmp\.'"
RALLY_SIM_IDENTITY=keystone-basic osmon --state-dir "$st" --services keystone -f json >/dev/null 2>&1; rc=$?
check "the lock was released: the next run passes" test "$rc" = 0
echo "1..$n"
