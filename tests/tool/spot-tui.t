#!/usr/bin/env bash
# spot-agg --tui in a real terminal (tmux): the pools table with totals, Tab to a pool's
# hosts with NetBox-less columns, the refresh, q quits with exit 0; without a terminal exit 3.
set -u
cd "${INFRA_SRCDIR:?}"
. "$INFRA_SRCDIR/tests/lib/tap.sh"
tmp=${INFRA_TMP:-$(mktemp -d)}
bin=${INFRA_BIN:-$PWD/${BUILD:-build}/bin}/spot-agg

python3 tests/sim/spot_scenario.py small >"$tmp/seed.json"
python3 tests/sim/openstack.py --seed "$tmp/seed.json" --max-seconds 120 >"$tmp/sim.out" 2>"$tmp/sim.err" &
sim=$!
sock=$tmp/tmux.sock
trap 'tmux -S "$sock" kill-server 2>/dev/null; kill $sim 2>/dev/null; wait $sim 2>/dev/null' EXIT
for _ in $(seq 100); do grep -q READY "$tmp/sim.out" && break; sleep 0.1; done
URL=$(awk '/^READY/{print $2}' "$tmp/sim.out")
unset OS_CLOUD OS_TOKEN
export OS_AUTH_URL=$URL/identity/v3 OS_USERNAME=admin OS_PASSWORD=secret OS_PROJECT_NAME=admin \
	OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default

"$bin" --tui --no-cache </dev/null >"$tmp/out" 2>"$tmp/err"; rc=$?
check "--tui without a terminal: exit 3, one line" bash -c "[ $rc = 3 ] && [ \$(wc -l <'$tmp/err') = 1 ]"
if ! command -v tmux >/dev/null 2>&1; then
	nok "tmux is not installed: the terminal view cannot be tested"; echo "1..$n"; exit 0
fi
tm() { tmux -S "$sock" "$@"; }
tm new-session -d -s s -x 120 -y 30 \
	"TERM=xterm $bin --no-cache --gpu-class CUSTOM_L40S --gpus-per-host A100=8 --tui --interval 1; echo EXIT=\$? >$tmp/exit; sleep 30"
wait_for() { for _ in $(seq 80); do tm capture-pane -t s -p >"$tmp/screen"; grep -qE -- "$1" "$tmp/screen" && return 0; sleep 0.1; done; return 1; }
check "the pools table: H100/spot 15 total, 5 used, 10 free, 2 hosts" wait_for 'H100/spot +15 +5 +10 +2'
check "... A100/spot from flavors: 8 total, 4 used" wait_for 'A100/spot +8 +4 +4 +1'
tm send-keys -t s Tab
check "Tab shows the first pool's hosts (A100/spot: gpu-04, flavor, down)" wait_for 'gpu-04 +A100-spot +flavor +4 +4 +2 +down'
tm send-keys -t s 4
check "4 shows H100/spot: gpu-01 and gpu-02 with their numbers" \
	bash -c "$(declare -f wait_for tm); sock='$sock' tmp='$tmp'; wait_for 'gpu-01 +H100-spot +placement +2 +5 +1 +up' && grep -qE 'gpu-02 +H100-spot +placement +3 +5 +1 +up' '$tmp/screen'"
n0=$(python3 -c "import json,urllib.request; print(sum(1 for r in json.load(urllib.request.urlopen('$URL/_sim/requests')) if 'os-aggregates' in r['path']))")
sleep 2.5
n1=$(python3 -c "import json,urllib.request; print(sum(1 for r in json.load(urllib.request.urlopen('$URL/_sim/requests')) if 'os-aggregates' in r['path']))")
check "it refreshes on --interval (aggregates asked again: $n0 -> $n1)" test "$n1" -gt "$n0"
tm send-keys -t s q
for _ in $(seq 50); do [ -f "$tmp/exit" ] && break; sleep 0.1; done
check "q quits with exit 0" grep -q 'EXIT=0' "$tmp/exit"
echo "1..$n"
