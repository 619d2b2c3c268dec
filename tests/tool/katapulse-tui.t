#!/usr/bin/env bash
# katapulse-scrape --tui in a real terminal (tmux), at 80x24 and at 200x50: the
# table shows every sandbox with its pod, state and guest memory; the column
# headers stay and values are never cut (at 80 columns Right reaches the
# columns that do not fit); the selected row's detail line; no stray line after
# a resize; a dead shim is FAILED, a runtime-rs QEMU sandbox skipped; it
# refreshes; q quits with exit 0; without a terminal it refuses with one line
# and exit 3.
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
sock=$tmp/tmux.sock
tm() { tmux -S "$sock" "$@"; }
trap 'tmux -S "$sock" kill-server 2>/dev/null; kill $sim 2>/dev/null; wait $sim 2>/dev/null' EXIT
for _ in $(seq 100); do grep -q READY "$tmp/sim.out" && break; sleep 0.1; done
check "simulator ready" grep -q READY "$tmp/sim.out"

start() { # session width height
	rm -f "$tmp/exit.$1"
	tm new-session -d -s "$1" -x "$2" -y "$3" \
		"TERM=xterm $bin --sysroot $tmp/node --no-state --tui --interval 0.5; echo EXIT=\$? >$tmp/exit.$1; sleep 30"
}
screen() { tm capture-pane -t "$1" -p >"$tmp/screen"; }
wait_for() { # session regex: poll the pane up to 5 s, leave it in $tmp/screen
	for _ in $(seq 50); do screen "$1"; grep -qE -- "$2" "$tmp/screen" && return 0; sleep 0.1; done
	return 1
}
fits() { # width height: the pane is no larger than that
	[ "$(wc -l <"$tmp/screen")" -le "$2" ] && ! awk -v w="$1" 'length > w' "$tmp/screen" | grep -q .
}
# the line right after the last sandbox row is empty: nothing wrapped or left over
no_stray() { [ -z "$(awk 'p {print; exit} /^f268a386e30f/ {p = 1}' "$tmp/screen")" ]; }
# a guest memory cell shown whole in each of the 4 scraped rows
mem_whole() { [ "$(grep -cE ' [0-9.]+ [KMGT]?i?B/[0-9.]+ [KMGT]?i?B( |$)' "$tmp/screen")" = 4 ]; }

# ---- 80x24
start k80 80 24
wait_for k80 'sandboxes,' >/dev/null
check "80x24: title counts the sandboxes" grep -q 'katapulse-scrape --tui: 6 sandboxes, 4 ok, 1 failed, 1 skipped' "$tmp/screen"
check "80x24: the header keeps the memory, load and RSS columns" \
	grep -qE '^SANDBOX +NAMESPACE/POD +STATE +CPU% +MEM USED +LOAD1 +VMM RSS' "$tmp/screen"
check "80x24: guest memory values are whole (no '1006.4 Mi')" mem_whole
check "80x24: no stray line after the table" no_stray
check "80x24: fits the pane" fits 80 24
check "80x24: the selected row's detail line (whole pod, reason)" \
	grep -q 'pod jobs/legacy-vm-0  skipped: runtime-rs on QEMU' "$tmp/screen"
check "80x24: the footer lists the keys that work" \
	grep -qE '^q quit  r refresh  Up/Down select  Left/Right columns +1/6$' "$tmp/screen"
tm send-keys -t k80 Right
check "80x24: Right scrolls to the columns that did not fit" wait_for k80 '^SANDBOX .*SERIES +RT'
check "80x24: the sandbox column stays when scrolled" grep -qE '^b0b409d52f83 .*1412 go' "$tmp/screen"
check "80x24: scrolled, values still whole" mem_whole
tm send-keys -t k80 Left
check "80x24: Left scrolls back" wait_for k80 '^SANDBOX +NAMESPACE/POD'
tm send-keys -t k80 Down
check "80x24: Down selects the dead shim, its error below" wait_for k80 '^pod shop/terminating-6f5c9  FAILED: GET http'
tm resize-window -t k80 -x 200 -y 50 2>/dev/null || tm resize-pane -t k80 -x 200 -y 50
check "resized to 200x50: the whole table" wait_for k80 '^SANDBOX .*SERIES +RT +NOTE'
tm resize-window -t k80 -x 80 -y 24 2>/dev/null || tm resize-pane -t k80 -x 80 -y 24
wait_for k80 '^SANDBOX +NAMESPACE/POD +STATE +CPU% +MEM USED' >/dev/null; sleep 0.7; screen k80
check "resized back to 80x24: no stray line, fits, values whole" bash -c "$(declare -f no_stray fits mem_whole); tmp='$tmp'; no_stray && fits 80 24 && mem_whole"
tm send-keys -t k80 q
for _ in $(seq 50); do [ -s "$tmp/exit.k80" ] && break; sleep 0.1; done
check "80x24: q quits with exit 0" grep -q 'EXIT=0' "$tmp/exit.k80"

# ---- colour: on a terminal that has it, never with NO_COLOR
tm new-session -d -s col -x 80 -y 24 "TERM=xterm-256color $bin --sysroot $tmp/node --no-state --tui --interval 5; sleep 30"
tm new-session -d -s nocol -x 80 -y 24 "TERM=xterm-256color NO_COLOR=1 $bin --sysroot $tmp/node --no-state --tui --interval 5; sleep 30"
wait_for col 'sandboxes,' >/dev/null; wait_for nocol 'sandboxes,' >/dev/null
check "colour on a colour terminal (ok rows green)" bash -c "tmux -S '$sock' capture-pane -e -p -t col | grep -q \$'\\e\\[32m'"
check "no colour with NO_COLOR" bash -c "tmux -S '$sock' capture-pane -e -p -t nocol | grep -q 'sandboxes,' &&
	! tmux -S '$sock' capture-pane -e -p -t nocol | grep -qE \$'\\e\\[(3[0-7]|9[0-7]|38;)'"
tm send-keys -t col q; tm send-keys -t nocol q

# ---- 200x50
start k200 200 50
wait_for k200 'sandboxes,' >/dev/null
check "200x50: every column header in one row" \
	grep -qE '^SANDBOX +NAMESPACE/POD +STATE +CPU% +MEM USED +LOAD1 +VMM RSS +SCRAPE +SERIES +RT +NOTE' "$tmp/screen"
check "200x50: pods by namespace/name" grep -qE 'data/postgres-0 +ok ' "$tmp/screen"
check "200x50: guest memory shown as used/total" grep -qE 'shop/web-7d9f8c6b5-x2k4p .* [0-9.]+ [MG]iB/[0-9.]+ [MG]iB' "$tmp/screen"
check "200x50: values whole, no stray line, fits" bash -c "$(declare -f no_stray fits mem_whole); tmp='$tmp'; mem_whole && no_stray && fits 200 50"
check "200x50: a dead shim is FAILED with the reason" grep -q 'shop/terminating-6f5c9 .*FAILED.*connect' "$tmp/screen"
check "200x50: runtime-rs on QEMU is skipped, with the reason" grep -q 'jobs/legacy-vm-0 .*skipped.*would crash the shim' "$tmp/screen"
check "200x50: the footer offers no Left/Right (everything fits)" \
	bash -c "grep -qE '^q quit  r refresh  Up/Down select +1/6$' '$tmp/screen'"
sleep 1.2
screen k200
check "200x50: still running after refreshes" grep -q 'refresh every 0.5s' "$tmp/screen"
cpu=$(sed -nE 's/.*data\/postgres-0 +ok +([0-9.]+) .*/\1/p' "$tmp/screen")
check "guest CPU% from kata_guest_cpu_time between refreshes ($cpu)" \
	awk -v c="$cpu" 'BEGIN { exit !(c + 0 > 1 && c + 0 < 100) }'
tm send-keys -t k200 Down Down
check "200x50: the selection survives refreshes" \
	bash -c "sleep 1.2; tmux -S '$sock' capture-pane -t k200 -p | grep -q '^pod data/postgres-0  ok  (go, sandbox b0b409d52f83'"
tm send-keys -t k200 q
for _ in $(seq 50); do [ -s "$tmp/exit.k200" ] && break; sleep 0.1; done
check "200x50: q quits with exit 0" grep -q 'EXIT=0' "$tmp/exit.k200"
screen k200
check "the terminal is restored (no table left on the normal screen)" bash -c "! grep -q 'NAMESPACE/POD' '$tmp/screen'"
echo "1..$n"
