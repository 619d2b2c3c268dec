#!/usr/bin/env bash
# katapulse-scrape --tui in a real terminal (tmux): the table shows every sandbox
# with its pod, state and guest memory; a dead shim is FAILED, a runtime-rs QEMU
# sandbox skipped; it refreshes; q quits with exit 0; without a terminal it
# refuses with one line and exit 3.
set -u
cd "${INFRA_SRCDIR:?}"
. "$INFRA_SRCDIR/tests/lib/tap.sh"
tmp=${INFRA_TMP:-$(mktemp -d)}
bin=${INFRA_BIN:-$PWD/${BUILD:-build}/bin}/katapulse-scrape

"$bin" --tui --no-state --sysroot "$tmp" </dev/null >"$tmp/out" 2>"$tmp/err"; rc=$?
check "--tui without a terminal: exit 3" test "$rc" = 3
check "--tui without a terminal: one line on stderr" \
	bash -c "[ \$(wc -l <'$tmp/err') = 1 ] && grep -q 'needs a terminal' '$tmp/err'"

if ! command -v tmux >/dev/null 2>&1; then
	nok "tmux is not installed (apt-get install tmux): the terminal view cannot be tested"
	echo "1..$n"; exit 0
fi
python3 tests/sim/kata_shims.py --root "$tmp/node" --max-seconds 120 \
	--spec tests/sim/kata-demo-node.json >"$tmp/sim.out" 2>"$tmp/sim.err" &
sim=$!
sess=katapulse-tui-$$
trap 'tmux kill-session -t $sess 2>/dev/null; kill $sim 2>/dev/null; wait $sim 2>/dev/null' EXIT
for _ in $(seq 100); do grep -q READY "$tmp/sim.out" && break; sleep 0.1; done
check "simulator ready" grep -q READY "$tmp/sim.out"

tmux new-session -d -s "$sess" -x 180 -y 24 \
	"TERM=xterm $bin --sysroot $tmp/node --no-state --tui --interval 0.5; echo EXIT=\$? >$tmp/exit; sleep 30"
screen() { tmux capture-pane -t "$sess" -p >"$tmp/screen"; }
for _ in $(seq 50); do screen; grep -q 'sandboxes,' "$tmp/screen" && break; sleep 0.1; done
check "title counts the sandboxes" grep -q 'katapulse-scrape --tui: 6 sandboxes, 4 ok, 1 failed, 1 skipped' "$tmp/screen"
check "header row" grep -q 'SANDBOX .*NAMESPACE/POD .*STATE .*MEM USED' "$tmp/screen"
check "pods by namespace/name" grep -q 'data/postgres-0 .* ok ' "$tmp/screen"
check "guest memory shown as used/total" grep -qE 'shop/web-7d9f8c6b5-x2k4p .* [0-9.]+ [MG]iB/[0-9.]+ [MG]iB' "$tmp/screen"
check "a dead shim is FAILED with the reason" grep -q 'shop/terminating-6f5c9 .*FAILED.*connect' "$tmp/screen"
check "runtime-rs on QEMU is skipped, with the reason" grep -q 'jobs/legacy-vm-0 .*skipped.*would crash the shim' "$tmp/screen"
sleep 1.2
screen
check "still running after refreshes" grep -q 'refresh every 0.5s' "$tmp/screen"
cpu=$(awk '$3 == "data/postgres-0" {print $6}' "$tmp/screen")
check "guest CPU% from kata_guest_cpu_time between refreshes ($cpu)" \
	awk -v c="$cpu" 'BEGIN { exit !(c + 0 > 1 && c + 0 < 100) }'
tmux send-keys -t "$sess" q
for _ in $(seq 50); do [ -s "$tmp/exit" ] && break; sleep 0.1; done
check "q quits with exit 0" grep -q 'EXIT=0' "$tmp/exit"
screen
check "the terminal is restored (no table left on the normal screen)" bash -c "! grep -q 'NAMESPACE/POD' '$tmp/screen'"
echo "1..$n"
