#!/usr/bin/env bash
# osmon-run --tui in tmux panes of 80x24 and 200x50: the three views, the column
# headers, moving, the detail line, the footer naming the keys (Tab/1-3 for three
# views), quitting with q (exit 0); without a terminal it refuses with exit 3.
. "$(dirname "$0")/osmon-run-lib.sh"
if ! command -v tmux >/dev/null; then nok "tmux not installed (scripts/install-deps installs it)"; echo "1..$n"; exit 1; fi
st=$tmp/state
t0=$(ts 2026-11-21T00:00:00Z)
for i in 0 1 2; do
	ks=keystone-basic; [ "$i" = 1 ] && ks=keystone-only
	INFRA_NOW=$((t0 + i * 14400)) RALLY_SIM_IDENTITY=$ks osmon --state-dir "$st" --services keystone,cinder -f json >/dev/null 2>&1
done
# two health checks against the OpenStack simulator, network failing in the second
python3 "$INFRA_SRCDIR/tests/sim/openstack.py" --seed "$INFRA_SRCDIR/tests/sim/seeds/realistic.json" >"$tmp/cloud.out" 2>"$tmp/cloud.err" &
cloud=$!
trap 'kill $cloud 2>/dev/null' EXIT
for _ in $(seq 50); do grep -q READY "$tmp/cloud.out" && break; sleep 0.1; done
url=$(awk '/READY/ {print $2}' "$tmp/cloud.out")
OS_AUTH_URL=$url/identity/v3 OS_PASSWORD=secret OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default \
	INFRA_NOW=$((t0 + 600)) "$OSMON" --state-dir "$st" --health -f json >/dev/null 2>&1
curl -s -X POST -d '{"service": "network", "path": "/networks", "kind": "500", "count": 1}' "$url/_sim/fault" >/dev/null
OS_AUTH_URL=$url/identity/v3 OS_PASSWORD=secret OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default \
	INFRA_NOW=$((t0 + 1500)) "$OSMON" --state-dir "$st" --health -f json >/dev/null 2>&1
sock=$tmp/tmux.sock
tm() { tmux -S "$sock" "$@"; }
pane() { tm capture-pane -p -t osv; }
wait_for() { # text: poll the pane up to 5 s
	for _ in $(seq 50); do pane | grep -qF -- "$1" && return 0; sleep 0.1; done
	return 1
}
tm new-session -d -s osv -x 80 -y 24 "env TERM=xterm-256color LC_ALL=C.UTF-8 $OSMON --state-dir '$st' --tui; echo EXIT=\$?; sleep 30"
check "starts on the latest run view" wait_for "1:Latest run"
pane >"$tmp/p1"
check "title names the state dir and the last run" grep -q "osmon-run  $st  last run 20261121T080000Z (warning)" "$tmp/p1"
check "latest run lists identity (--services keystone) scenarios as passing" grep -qE '^identity +pass +KeystoneBasic.create_delet' "$tmp/p1"
check "latest run lists the block-storage failure with FAIL SLA" grep -qE '^block-storage +fail +CinderVolumes.create_volume +1/1 +0% .*FAIL' "$tmp/p1"
check "the selected row's reasons are shown at the bottom" grep -q "1 of 1 iterations failed" "$tmp/p1"
check "fits 80x24: 24 lines, none wider than 80" bash -c "[ \$(wc -l <'$tmp/p1') -le 24 ] && ! awk 'length > 80' '$tmp/p1' | grep -q ."
check "80x24: the header row stays" grep -qE '^SERVICE +STATUS +SCENARIO +ITER +RATIO +MEDIAN +P95 +SLA' "$tmp/p1"
check "80x24: numbers right-aligned under their headers" grep -qE '^block-storage .* 16\.202s 16\.202s FAIL' "$tmp/p1"
check "80x24: a long detail continues on the second line" grep -q '^= 100.00% <= 0.00% - Failed' "$tmp/p1"
check "80x24: the footer names the keys of three views (Tab/1-3, not 1-9)" \
	grep -qE '^q quit  Tab/1-3 view  Up/Down select +1/3$' "$tmp/p1"
tm send-keys -t osv Tab
check "Tab: run history, newest first" wait_for "2026-11-21T08:00:00Z warning"
pane >"$tmp/p2"
check "run history shows the cleanup-leak run as an identity failure" grep -qE '^2026-11-21T04:00:00Z warning +fail +fail' "$tmp/p2"
tm send-keys -t osv Down
check "Down: detail of the 04:00 run names the failed scenarios" wait_for "failed; identity/KeystoneBasic.cre"
tm send-keys -t osv 3
check "3: health view, newest check first, network DOWN" wait_for "2026-11-21T00:25:00Z"
pane >"$tmp/p3"
check "health view: its header row" grep -qE '^CHECK \(UTC\) +block-storage +compute +identity +image +network +object-store' "$tmp/p3"
check "health view: the older check has every service up" grep -qE '^2026-11-21T00:10:00Z +up [0-9]+ms +up' "$tmp/p3"
check "health view: the newer check shows network DOWN and its error below" \
	bash -c "grep -qE '^2026-11-21T00:25:00Z .*DOWN' '$tmp/p3' && grep -q 'network: HTTP 500' '$tmp/p3'"
tm send-keys -t osv 1 Down
check "1 then Down: back on the latest run, second row selected" wait_for "all iterations passed"
tm send-keys -t osv q
check "q quits with exit 0" wait_for "EXIT=0"
tm new-session -d -s big -x 200 -y 50 "env TERM=xterm-256color $OSMON --state-dir '$st' --tui; echo EXIT=\$?; sleep 30"
for _ in $(seq 50); do tm capture-pane -p -t big | grep -q "1:Latest run" && break; sleep 0.1; done
tm capture-pane -p -t big >"$tmp/b1"
check "200x50: header, rows, the whole detail on one line, the footer" \
	bash -c "grep -qE '^SERVICE +STATUS +SCENARIO +ITER +RATIO +MEDIAN +P95 +SLA\$' '$tmp/b1' &&
		 grep -qE '^identity +pass +KeystoneBasic.create_delete_user +2/2 +100%' '$tmp/b1' &&
		 grep -q '1 of 1 iterations failed; SLA failure_rate failed: Failure rate criteria 0.00% <= 100.00% <= 0.00% - Failed' '$tmp/b1' &&
		 grep -qE '^q quit  Tab/1-3 view  Up/Down select +1/3\$' '$tmp/b1'"
check "200x50: fits, nothing left over below the table" \
	bash -c "[ \$(wc -l <'$tmp/b1') -le 50 ] && ! awk 'length > 200' '$tmp/b1' | grep -q . &&
		 [ -z \"\$(awk 'p {print; exit} /^identity +pass +KeystoneBasic.create_user/ {p = 1}' '$tmp/b1')\" ]"
tm send-keys -t big Tab
check "200x50: Tab to the run history" bash -c "for _ in \$(seq 50); do tmux -S '$sock' capture-pane -p -t big | grep -qE '^RUN \\(UTC\\) +STATUS +block-storage +identity' && exit 0; sleep 0.1; done; exit 1"
tm send-keys -t big q
check "200x50: q quits with exit 0" bash -c "for _ in \$(seq 50); do tmux -S '$sock' capture-pane -p -t big | grep -q EXIT=0 && exit 0; sleep 0.1; done; exit 1"
tm kill-server 2>/dev/null
"$OSMON" --state-dir "$st" --tui </dev/null >"$tmp/out" 2>"$tmp/err"; rc=$?
check "without a terminal: exit 3 and one clear line" \
	bash -c "[ $rc = 3 ] && grep -q '^osmon-run: --tui needs a terminal' '$tmp/err' && [ \$(wc -l <'$tmp/err') = 1 ]"
"$OSMON" --state-dir "$tmp/empty" --tui </dev/null >"$tmp/out" 2>"$tmp/err"; rc=$?
check "empty state directory: exit 3, says nothing is recorded" \
	bash -c "[ $rc = 3 ] && grep -q 'nothing recorded in $tmp/empty yet' '$tmp/err'"
mkdir -p "$tmp/rally-only"
cp "$st/history.json" "$st/latest_summary.json" "$tmp/rally-only/"
tm new-session -d -s osv2 -x 80 -y 24 "env TERM=xterm-256color $OSMON --state-dir '$tmp/rally-only' --tui; sleep 30"
tm send-keys -t osv2 3
for _ in $(seq 50); do tm capture-pane -p -t osv2 | grep -q "no health checks recorded yet" && break; sleep 0.1; done
check "no health history: the health view says how to record it" \
	bash -c "tmux -S '$sock' capture-pane -p -t osv2 | grep -q 'no health checks recorded yet (osmon-run --health)'"
tm send-keys -t osv2 q
tm kill-server 2>/dev/null
echo "1..$n"
