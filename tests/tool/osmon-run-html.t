#!/usr/bin/env bash
# osmon-run --html FILE: one self-contained file (no scripts, no external assets),
# names escaped, written atomically; rendered by headless Chromium into a screenshot
# that is dark and shows the pass/fail timeline.
. "$(dirname "$0")/osmon-run-lib.sh"
st=$tmp/state
t0=$(ts 2026-11-21T00:00:00Z)
for i in 0 1 2 3; do
	ks=keystone-basic; [ "$i" = 2 ] && ks=keystone-only
	INFRA_NOW=$((t0 + i * 14400)) RALLY_SIM_IDENTITY=$ks osmon --state-dir "$st" --services keystone,neutron,cinder -f json >/dev/null 2>&1
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
	bash -c "[ \$(grep -c '<svg' '$out') -ge 5 ] && grep -q 'Success ratio per service' '$out' && grep -q 'identity: median iteration duration' '$out'"
check "dark theme" grep -q 'background:#121417' "$out"
check "health timeline and latency chart from health_history.json" \
	bash -c "grep -q 'Health per service (green up, red down)' '$out' && grep -q 'Health check latency' '$out' && grep -q '3 health checks recorded' '$out'"
check "latest run table shows the block-storage failure reason" grep -q '1 of 1 iterations failed' "$out"
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

# headless Chromium (flags for this closed network: see the env notes): SIZE PNG HTML
screenshot() {
	timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
		--disable-component-update --disable-sync --no-first-run --user-data-dir="$tmp/chromium" \
		--window-size="$1" --screenshot="$2" "file://$3" >"$tmp/chromium.log" 2>&1
}

# headless Chromium: it renders, the page is dark, the timeline shows green and red cells
if ! command -v chromium >/dev/null; then
	nok "chromium not installed (scripts/osmon-html.packages; scripts/install-deps installs it)"
else
	png=$tmp/report.png
	screenshot 1000,900 "$png" "$out"
	check "chromium wrote a screenshot" test -s "$png"
	read -r w h dark colours green red < <(python3 "$INFRA_SRCDIR/tests/tool/helpers/pngstat.py" "$png" 2>&1)
	echo "# screenshot ${w}x${h}: dark $dark, $colours colours, $green green and $red red samples"
	check "screenshot is 1000x900" test "$w $h" = "1000 900"
	check "dark theme: most of the page is dark" python3 -c "import sys; sys.exit(0 if float('$dark') > 0.8 else 1)"
	check "charts rendered: many colours, green pass and red fail cells" test "$colours" -gt 100 -a "$green" -gt 50 -a "$red" -gt 50
fi
# health chart after a pause in the schedule: 15-minute checks 00:00-06:00 and 18:00-23:45 on two
# days (12-hour pauses), neutron down for one hour (4 checks) on the second evening, 16 services
# (the latency legend needs 16 lines) one of them with a long name
og=$tmp/outage
mkdir -p "$og"
python3 - "$og/health_history.json" "$(ts 2026-11-21T00:00:00Z)" <<'PY'
import json, sys
t0 = int(sys.argv[2])
svcs = ["keystone", "neutron", "cinder", "nova", "glance", "placement", "heat", "swift", "octavia",
        "designate", "barbican", "manila", "ironic", "magnum", "trove",
        "object-storage-proxy-public-endpoint-internal"]
out = t0 + 86400 + 20 * 3600  # day 2, 20:00-21:00
entries = []
for day in (0, 1):
    for start in (0, 18 * 3600):
        for k in range(25 if start == 0 else 24):
            t = t0 + day * 86400 + start + k * 900
            entries.append({"time": __import__("time").strftime("%Y-%m-%dT%H:%M:%SZ", __import__("time").gmtime(t)),
                            "services": {s: {"up": not (s == "neutron" and out <= t < out + 3600),
                                             "latency_seconds": 0.031 + 0.0007 * i + 0.0001 * (k % 7)}
                                         for i, s in enumerate(svcs)}})
json.dump({"version": 1, "entries": entries}, open(sys.argv[1], "w"))
PY
ohtml=$tmp/outage.html
osmon --state-dir "$og" --html "$ohtml" 2>"$tmp/err"; rc=$?
check "health-only state: --html exits 0" test "$rc" = 0
python3 - "$ohtml" "$(ts 2026-11-21T00:00:00Z)" >"$tmp/svgcheck" 2>&1 <<'PY'
import calendar, math, re, sys, time
page, t0 = open(sys.argv[1]).read(), int(sys.argv[2])
svgs = re.findall(r'<svg[^>]*viewBox="0 0 (\d+) (\d+)".*?</svg>', page, re.S)
bodies = re.findall(r'<svg.*?</svg>', page, re.S)
fail = []
def t2px(svg):  # the time axis: its first and last labels give pixels per second
    labs = [(float(x), l) for x, l in re.findall(r'<text x="([\d.]+)" y="\d+" text-anchor="(?:middle|end)">(\d\d-\d\d \d\d:\d\d)</text>', svg)]
    (xa, la), (xb, lb) = labs[0], labs[-1]
    ta, tb = (calendar.timegm(time.strptime("2026-" + l, "%Y-%m-%d %H:%M")) for l in (la, lb))
    return lambda t: xa + (t - ta) * (xb - xa) / (tb - ta)
tl = next(b for b in bodies if "Health per service" in b)
px = t2px(tl)
rects = [(int(y), float(x), float(w), f) for x, y, w, f in
         re.findall(r'<rect x="([-\d.]+)" y="(\d+)" width="([-\d.]+)" height="16"[^>]*fill="(#[0-9a-f]+)"', tl)]
rows = {}
for y, x, w, f in rects:
    rows.setdefault(y, []).append((x, w, f))
for y, rs in rows.items():
    rs.sort()
    for (xa, wa, _), (xb, wb, _) in zip(rs, rs[1:]):
        if xa + wa > xb + 0.011:
            fail.append(f"overlap in row y={y}: bar at {xa} width {wa} runs over the bar at {xb}")
    if min(w for _, w, _ in rs) < 0.99:
        fail.append(f"row y={y}: a bar narrower than 1 px")
    for gs, ge in ((t0 + 6 * 3600 + 900, t0 + 18 * 3600), (t0 + 86400 + 6 * 3600 + 900, t0 + 86400 + 18 * 3600)):
        a, b = px(gs) + 1, px(ge) - 1
        if any(x < b and x + w > a for x, w, _ in rs):
            fail.append(f"row y={y}: a bar drawn across the pause {a:.1f}-{b:.1f} px")
red = [(x, w) for y, x, w, f in rects if f == "#e53935"]
want = px(t0 + 86400 + 21 * 3600) - px(t0 + 86400 + 20 * 3600)
got = sum(w for _, w in red)
print(f"# outage: {len(red)} red bars, {got:.2f} px wide (one hour is {want:.2f} px), from {min(x for x, _ in red):.2f} px (20:00 is {px(t0 + 86400 + 20 * 3600):.2f} px)")
if abs(got - want) > 0.1 * want or abs(min(x for x, _ in red) - px(t0 + 86400 + 20 * 3600)) > 1:
    fail.append("the outage's red bars are not one hour wide at 20:00")
for (vw, vh), b in zip(svgs, bodies):
    vw, vh = int(vw), int(vh)
    for m in re.finditer(r'<text x="([\d.]+)" y="([\d.]+)"( text-anchor="(\w+)")?[^>]*>(?:<title>.*?</title>)?([^<]*)</text>', b):
        x, y, anchor, s = float(m[1]), float(m[2]), m[4] or "start", m[5]
        n = len(s)  # about 6 px a character at 11px
        left = x - 6 * n if anchor == "end" else x - 3 * n if anchor == "middle" else x
        if y > vh or y < 10 or left < 0 or left + 6 * n > vw:
            fail.append(f"text {s!r} at {x},{y} outside the viewBox 0 0 {vw} {vh}")
    if "<path" in b:  # a line chart: y labels at a round step (1, 2 or 5 x 10^n)
        ys = [float(v) for v in re.findall(r'text-anchor="end">(-?[\d.]+(?:e-?\d+)?)[s%]?</text>', b)]
        steps = {round(b2 - a2, 12) for a2, b2 in zip(ys, ys[1:])}
        ok = len(ys) >= 3 and len(steps) == 1
        if ok:
            st = steps.pop()
            mant = st / 10 ** math.floor(math.log10(st))
            ok = any(abs(mant - d) < 1e-6 for d in (1, 2, 5)) and all(abs(v / st - round(v / st)) < 1e-6 for v in ys)
        print(f"# y labels {ys}")
        if not ok:
            fail.append(f"y labels not at a round step: {ys}")
for f in fail[:8]:
    print("# " + f)
sys.exit(1 if fail else 0)
PY
src=$?; cat "$tmp/svgcheck"
check "health timeline: no bars overlap, pauses empty, the 1-hour outage is one hour of red at 20:00; y ticks round; no text outside its SVG" test "$src" = 0
if command -v chromium >/dev/null; then
	opng=$tmp/outage.png
	screenshot 1000,500 "$opng" "$ohtml"
	python3 - "$opng" "$INFRA_SRCDIR/tests/tool/helpers" >"$tmp/pngcheck" 2>&1 <<'PY'
import sys
sys.path.insert(0, sys.argv[2])
from pngstat import decode, near
w, h, bpp, rows = decode(sys.argv[1])
def cls(r, x):
    p = r[x * bpp:x * bpp + 3]
    return "r" if near(p, (0xe5, 0x39, 0x35)) else "g" if near(p, (0x43, 0xa0, 0x47)) else "."
# the neutron row: the pixel row with the most red
best = max(range(h), key=lambda y: sum(cls(rows[y], x) == "r" for x in range(0, w)))
line = "".join(cls(rows[best], x) for x in range(w))
red, green = line.count("r"), line.count("g")
first, last = min(line.find("r"), line.find("g")), max(line.rfind("r"), line.rfind("g"))
# bars from 00:00 on day 1 to 00:00 on day 3 (48 h): 24.5 h of checks, two pauses of 11.75 h
hour = (last + 1 - first) / 48
gaps = [len(s) for s in line[first:last + 1].split("r") for s in s.split("g") if s]
print(f"# screenshot row {best}: {red} red px, {green} green px, one hour {hour:.1f} px, empty runs {sorted(gaps)[-3:]}")
ok = abs(red - hour) <= 0.2 * hour + 1 and abs(green - 23.5 * hour) <= 0.05 * 23.5 * hour + 2
ok = ok and len([g for g in gaps if g > 2]) == 2 and all(abs(g - 11.75 * hour) <= 0.05 * 11.75 * hour + 2 for g in gaps if g > 2)
sys.exit(0 if ok else 1)
PY
	prc=$?; cat "$tmp/pngcheck"
	check "screenshot: the outage is one hour of red, the pauses are empty" test "$prc" = 0
fi
# a long history: one morning of checks three weeks earlier, then a day of 15-minute checks with
# the same 1-hour neutron outage, about 1 px on the time axis: still red, nothing overlapping
lg=$tmp/long
mkdir -p "$lg"
python3 - "$lg/health_history.json" "$(ts 2026-11-01T00:00:00Z)" "$(ts 2026-11-21T00:00:00Z)" <<'PY'
import json, sys, time
a, b = int(sys.argv[2]), int(sys.argv[3])
ts = [a + k * 900 for k in range(25)] + [b + k * 900 for k in range(96)]
out = b + 20 * 3600
entries = [{"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)),
            "services": {"keystone": {"up": True, "latency_seconds": 0.03},
                         "neutron": {"up": not out <= t < out + 3600, "latency_seconds": 0.04}}} for t in ts]
json.dump({"version": 1, "entries": entries}, open(sys.argv[1], "w"))
PY
lhtml=$tmp/long.html
osmon --state-dir "$lg" --html "$lhtml" 2>"$tmp/err"
python3 - "$lhtml" >"$tmp/longcheck" 2>&1 <<'PY'
import re, sys
tl = next(b for b in re.findall(r'<svg.*?</svg>', open(sys.argv[1]).read(), re.S) if "Health per service" in b)
rects = sorted((int(y), float(x), float(w), f) for x, y, w, f in
               re.findall(r'<rect x="([-\d.]+)" y="(\d+)" width="([-\d.]+)" height="16"[^>]*fill="(#[0-9a-f]+)"', tl))
over = [(r, s) for r, s in zip(rects, rects[1:]) if r[0] == s[0] and r[1] + r[2] > s[1] + 0.011]
red = sum(w for _, _, w, f in rects if f == "#e53935")
hour = 546 / (21 * 24)  # plot width over 11-01 00:00 .. 11-22 00:00
print(f"# long history: {len(rects)} bars, {len(over)} overlapping, {red:.2f} px red (one hour is {hour:.2f} px)")
sys.exit(0 if not over and 1 <= red <= hour + 1.5 else 1)
PY
lrc=$?; cat "$tmp/longcheck"
check "long history: no bars overlap, the outage is 1 to 1 hour + 1.5 px of red" test "$lrc" = 0
if command -v chromium >/dev/null; then
	lpng=$tmp/long.png
	screenshot 1000,500 "$lpng" "$lhtml"
	python3 - "$lpng" "$INFRA_SRCDIR/tests/tool/helpers" >"$tmp/pngcheck" 2>&1 <<'PY'
import sys
sys.path.insert(0, sys.argv[2])
from pngstat import decode, near
w, h, bpp, rows = decode(sys.argv[1])
red = [sum(near(rows[y][x * bpp:x * bpp + 3], (0xe5, 0x39, 0x35)) for x in range(w)) for y in range(h)]
print(f"# long-history screenshot: {max(red)} red px in the reddest pixel row, {sum(r > 0 for r in red)} rows with red")
sys.exit(0 if max(red) >= 1 and sum(r > 0 for r in red) >= 12 else 1)
PY
	prc=$?; cat "$tmp/pngcheck"
	check "long-history screenshot: the outage is visible in red" test "$prc" = 0
fi
echo "1..$n"
