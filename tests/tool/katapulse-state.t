#!/usr/bin/env bash
# katapulse-scrape counters across runs (what a declarative case cannot say):
# kata-monitor's counters and the katapulse_*_total counters grow run after run
# through the state file; a corrupt state file is reported and restarts them; the
# --sandbox/--list modes leave the state alone; the previous -o file keeps its
# last_success timestamp when a run cannot work.
set -u
cd "${INFRA_SRCDIR:?}"
. "$INFRA_SRCDIR/tests/lib/tap.sh"
tmp=${INFRA_TMP:-$(mktemp -d)}
bin=${INFRA_BIN:-$PWD/${BUILD:-build}/bin}/katapulse-scrape
vg=()
[ "${INFRA_VALGRIND:-0}" = 1 ] && vg=(valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99)

python3 tests/sim/kata_shims.py --root "$tmp/root" --max-seconds 120 \
	--spec tests/cases/katapulse-scrape/scenarios/faults.json >"$tmp/sim.out" 2>"$tmp/sim.err" &
sim=$!
trap 'kill $sim 2>/dev/null; wait $sim 2>/dev/null' EXIT
for _ in $(seq 100); do grep -q READY "$tmp/sim.out" && break; sleep 0.1; done
check "simulator ready" grep -q READY "$tmp/sim.out"

val() { # family file -> value of the unlabelled sample
	awk -v f="$1" '$1 == f {print $2}' "$2"
}
run() { # out.prom err args...
	local out=$1 err=$2; shift 2
	"${vg[@]}" "$bin" --sysroot "$tmp/root" -f prom -t 1 --max-body 1048576 "$@" >"$out" 2>"$err"
}

run "$tmp/1.prom" "$tmp/1.err" --state-file "$tmp/st/k.state"; rc=$?
check "first run exits 1 (some shims fail)" test "$rc" = 1
check "state file written" test -s "$tmp/st/k.state"
check "kata_monitor_scrape_count 1 after one run" test "$(val kata_monitor_scrape_count "$tmp/1.prom")" = 1
check "kata_monitor_scrape_failed_count 1 after one failing run" test "$(val kata_monitor_scrape_failed_count "$tmp/1.prom")" = 1
s1=$(val katapulse_shim_scrapes_total "$tmp/1.prom"); f1=$(val katapulse_shim_scrape_failures_total "$tmp/1.prom")
check "shim scrapes counted ($s1 requests, $f1 failures)" test "${s1:-0}" -gt 0 -a "${f1:-0}" -gt 0

run "$tmp/2.prom" "$tmp/2.err" --state-file "$tmp/st/k.state"
check "kata_monitor_scrape_count 2 after two runs" test "$(val kata_monitor_scrape_count "$tmp/2.prom")" = 2
check "katapulse_shim_scrapes_total doubled" test "$(val katapulse_shim_scrapes_total "$tmp/2.prom")" = $((s1 * 2))
check "katapulse_shim_scrape_failures_total doubled" test "$(val katapulse_shim_scrape_failures_total "$tmp/2.prom")" = $((f1 * 2))
check "duration histogram has 2 observations" \
	test "$(val kata_monitor_scrape_durations_histogram_milliseconds_count "$tmp/2.prom")" = 2
check "+Inf bucket equals the count" \
	grep -q '^kata_monitor_scrape_durations_histogram_milliseconds_bucket{le="+Inf"} 2$' "$tmp/2.prom"

"$bin" --sysroot "$tmp/root" --list -f json --state-file "$tmp/st/k.state" >/dev/null 2>&1
"$bin" --sysroot "$tmp/root" --sandbox b2ee -f prom --state-file "$tmp/st/k.state" >/dev/null 2>&1
run "$tmp/3.prom" "$tmp/3.err" --state-file "$tmp/st/k.state"
check "--list and --sandbox leave the counters alone" test "$(val kata_monitor_scrape_count "$tmp/3.prom")" = 3

echo '{"version":1,"counters":' >"$tmp/st/k.state"
run "$tmp/4.prom" "$tmp/4.err" --state-file "$tmp/st/k.state"
check "corrupt state: one warning naming the file" grep -q "state file '.*k.state' is corrupt" "$tmp/4.err"
check "corrupt state: counters restart at 1" test "$(val kata_monitor_scrape_count "$tmp/4.prom")" = 1
run "$tmp/5.prom" "$tmp/5.err" --state-file "$tmp/st/k.state"
check "state repaired by the next run" test "$(val kata_monitor_scrape_count "$tmp/5.prom")" = 2

run "$tmp/6.prom" "$tmp/6.err" --no-state
check "--no-state: counters count this run only" test "$(val kata_monitor_scrape_count "$tmp/6.prom")" = 1

"$bin" --sysroot "$tmp/root" --no-state -t 1 --max-body 1048576 -o "$tmp/kata.prom" 2>/dev/null
good=$(val katapulse_last_success_timestamp_seconds "$tmp/kata.prom")
sleep 1.1
"$bin" --sysroot "$tmp/nope" --no-state -o "$tmp/kata.prom" 2>/dev/null; rc=$?
check "a run that cannot work exits 3" test "$rc" = 3
check "katapulse_up 0 written" test "$(val katapulse_up "$tmp/kata.prom")" = 0
check "last success timestamp carried over from the previous file ($good)" \
	test -n "$good" -a "$(val katapulse_last_success_timestamp_seconds "$tmp/kata.prom")" = "$good"
echo "1..$n"
