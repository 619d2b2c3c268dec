#!/usr/bin/env bash
# -o FILE is never half-written: katapulse-scrape streams a large merged output into
# a temp file and renames it at the end; SIGTERM/SIGINT arriving at any moment must
# leave either the previous complete file or the new complete one, and no temp file.
set -u
cd "${INFRA_SRCDIR:?}"
. "$INFRA_SRCDIR/tests/lib/tap.sh"
tmp=${INFRA_TMP:-$(mktemp -d)}
bin=${INFRA_BIN:-$PWD/${BUILD:-build}/bin}/katapulse-scrape

python3 tests/sim/kata_shims.py --root "$tmp/node" --generate 40 --variants 4 --max-seconds 120 \
	>"$tmp/sim.out" 2>"$tmp/sim.err" &
sim=$!
trap 'kill $sim 2>/dev/null; wait $sim 2>/dev/null' EXIT
for _ in $(seq 200); do grep -q READY "$tmp/sim.out" && break; sleep 0.1; done
check "simulator with 40 realistic shims ready" grep -q READY "$tmp/sim.out"
mkdir -p "$tmp/out"
"$bin" --sysroot "$tmp/node" --no-state -q -o "$tmp/out/kata.prom"; rc=$?
check "a complete first file ($(stat -c %s "$tmp/out/kata.prom" 2>/dev/null) bytes)" test "$rc" = 0 -a -s "$tmp/out/kata.prom"
complete() { # the file parses and ends with the last family the tool writes
	tail -1 "$1" | grep -q '^katapulse_up ' && python3 - "$1" <<'PY'
import re, sys
ok = re.compile(r'^(# (HELP|TYPE) .*|[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? \S+)$')
sys.exit(0 if all(ok.match(l) for l in open(sys.argv[1]).read().split("\n")[:-1]) else 1)
PY
}
bad=0 torn=0 killed=0
for delay in 0.02 0.05 0.08 0.11 0.15 0.2 0.25 0.3 0.4 0.5; do
	for sig in TERM INT; do
		"$bin" --sysroot "$tmp/node" --no-state -q -o "$tmp/out/kata.prom" &
		pid=$!
		sleep "$delay"
		kill -"$sig" "$pid" 2>/dev/null && killed=$((killed + 1))
		wait "$pid" 2>/dev/null
		complete "$tmp/out/kata.prom" || bad=$((bad + 1))
		[ "$(ls -A "$tmp/out")" = kata.prom ] || torn=$((torn + 1))
	done
done
check "20 runs interrupted at different moments ($killed signalled while running)" test "$killed" -gt 0
check "the output file was complete after every interruption" test "$bad" = 0
check "no temp file left behind" test "$torn" = 0
echo "1..$n"
