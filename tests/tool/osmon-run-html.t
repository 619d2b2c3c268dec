#!/usr/bin/env bash
# osmon-run --html FILE: one self-contained file (no scripts, no external assets),
# names escaped, written atomically; rendered by headless Chromium into a screenshot
# that is dark and shows the pass/fail timeline.
. "$(dirname "$0")/osmon-run-lib.sh"
st=$tmp/state
t0=$(ts 2026-11-21T00:00:00Z)
for i in 0 1 2 3; do
	ks=keystone-basic; [ "$i" = 2 ] && ks=keystone-only
	INFRA_NOW=$((t0 + i * 14400)) RALLY_SIM_KEYSTONE=$ks osmon --state-dir "$st" --services keystone,neutron,cinder -f json >/dev/null 2>&1
done
# health checks against the OpenStack simulator: the page gets a health timeline
python3 "$INFRA_SRCDIR/tests/sim/openstack.py" --seed "$INFRA_SRCDIR/tests/sim/seeds/realistic.json" >"$tmp/cloud.out" 2>"$tmp/cloud.err" &
cloud=$!
trap 'kill $cloud 2>/dev/null' EXIT
for _ in $(seq 50); do grep -q READY "$tmp/cloud.out" && break; sleep 0.1; done
url=$(awk '/READY/ {print $2}' "$tmp/cloud.out")
for i in 1 2 3; do
	OS_AUTH_URL=$url/identity/v3 OS_PASSWORD=secret OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default \
		INFRA_NOW=$((t0 + i * 900)) "$OSMON" --state-dir "$st" --health -f json >/dev/null 2>&1
done
out=$tmp/report.html
osmon --state-dir "$st" --html "$out" >"$tmp/stdout" 2>"$tmp/err"; rc=$?
check "--html exits 0, prints nothing" bash -c "[ $rc = 0 ] && [ ! -s '$tmp/stdout' ] && [ ! -s '$tmp/err' ]"
check "a complete HTML document" bash -c "head -c 15 '$out' | grep -q '<!DOCTYPE html>' && tail -1 '$out' | grep -q '</html>'"
check "self-contained: no script, no src/href, no CSS url(), no @import" \
	bash -c "! grep -Eiq '<script|<link|<iframe|<img|(src|href)=|url\\(|@import' '$out'"
check "inline SVG charts: timeline, success ratio and one duration chart per service" \
	bash -c "[ \$(grep -c '<svg' '$out') -ge 5 ] && grep -q 'Success ratio per service' '$out' && grep -q 'keystone: median iteration duration' '$out'"
check "dark theme" grep -q 'background:#121417' "$out"
check "health timeline and latency chart from health_history.json" \
	bash -c "grep -q 'Health per service (green up, red down)' '$out' && grep -q 'Health check latency' '$out' && grep -q '3 health checks recorded' '$out'"
check "latest run table shows the cinder failure reason" grep -q '1 of 1 iterations failed' "$out"
check "charts carry values as SVG titles (hover)" grep -q '<title>KeystoneBasic.create_user: 0.06005s</title>' "$out"
python3 - "$out" <<'PY' && ok "tags balanced (html.parser)" || nok "tags unbalanced"
import sys
from html.parser import HTMLParser
void = {"meta", "br", "hr", "img", "input", "link"}
class P(HTMLParser):
    def __init__(s):
        super().__init__(); s.stack = []; s.bad = 0
    def handle_starttag(s, t, a):
        if t not in void: s.stack.append(t)
    def handle_startendtag(s, t, a): pass
    def handle_endtag(s, t):
        if not s.stack or s.stack.pop() != t: s.bad += 1
p = P(); p.feed(open(sys.argv[1]).read()); p.close()
sys.exit(1 if p.bad or p.stack else 0)
PY

# names from the state directory are escaped
mkdir -p "$tmp/evil"
cat >"$tmp/evil/latest_summary.json" <<'J'
{"run_id":"20261123T000000Z","services":{"<img src=x onerror=alert(1)>":{"status":"fail","error":"</td><script>alert(2)</script>","scenarios":[]}}}
J
echo '{"version":1,"entries":[{"run_id":"20261123T000000Z","time":"2026-11-23T00:00:00Z","status":"warning","services":{"<b>x</b>":{"status":"error","scenarios":{}}}}]}' >"$tmp/evil/history.json"
osmon --state-dir "$tmp/evil" --html "$tmp/evil.html" 2>"$tmp/err"; rc=$?
check "hostile names: exit 0, every < escaped" \
	bash -c "[ $rc = 0 ] && ! grep -q '<script>alert' '$tmp/evil.html' && ! grep -q '<img src' '$tmp/evil.html' && grep -q '&lt;img src=x onerror=alert(1)&gt;' '$tmp/evil.html'"

# atomic: a bad target leaves nothing; an existing file is replaced whole
echo old >"$tmp/keep.html"
osmon --state-dir "$st" --html "$tmp/no/such/dir/r.html" 2>"$tmp/err"; rc=$?
check "unwritable target: exit 3, one line naming it" \
	bash -c "[ $rc = 3 ] && [ \$(wc -l <'$tmp/err') = 1 ] && grep -q 'no/such/dir' '$tmp/err'"
osmon --state-dir "$tmp/nothing-here" --html "$tmp/keep.html" 2>"$tmp/err"; rc=$?
check "empty state: exit 3, the old file untouched" bash -c "[ $rc = 3 ] && [ \"\$(cat '$tmp/keep.html')\" = old ]"
check "no temp files left next to the target" test -z "$(ls -A "$tmp" | grep '\.tmp\.')"

# headless Chromium: it renders, the page is dark, the timeline shows green and red cells
if ! command -v chromium >/dev/null; then
	nok "chromium not installed (scripts/osmon-html.packages; scripts/install-deps installs it)"
else
	png=$tmp/report.png
	timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
		--disable-component-update --disable-sync --no-first-run --user-data-dir="$tmp/chromium" \
		--window-size=1000,900 --screenshot="$png" "file://$out" >"$tmp/chromium.log" 2>&1
	check "chromium wrote a screenshot" test -s "$png"
	read -r w h dark colours green red < <(python3 "$INFRA_SRCDIR/tests/tool/helpers/pngstat.py" "$png" 2>&1)
	echo "# screenshot ${w}x${h}: dark $dark, $colours colours, $green green and $red red samples"
	check "screenshot is 1000x900" test "$w $h" = "1000 900"
	check "dark theme: most of the page is dark" python3 -c "import sys; sys.exit(0 if float('$dark') > 0.8 else 1)"
	check "charts rendered: many colours, green pass and red fail cells" test "$colours" -gt 100 -a "$green" -gt 50 -a "$red" -gt 50
fi
echo "1..$n"
