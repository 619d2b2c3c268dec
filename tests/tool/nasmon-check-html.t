#!/usr/bin/env python3
"""nasmon-check --html FILE against tests/sim/kube.py and tests/sim/truenas.py (one world from
tests/sim/nas_scenario.py, with a hostile PV name): one self-contained page (no scripts, no
external assets, balanced tags) with the findings grouped by check (every finding of the JSON
output), every name from the sources escaped, the pool fill bars (rows never overlap, round x
ticks, CAP-POOL marks), the fill history of --state-dir as a line chart (a pause in the schedule
is a gap, round y ticks, every legend line inside the SVG) with the days until full of the JSON
output; written atomically (a bad target: exit 3, one line, the old file kept); rendered by
headless Chromium (dark page, the full pool in red)."""
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from html.parser import HTMLParser

SRC = os.environ.get("INFRA_SRCDIR", os.getcwd())
BIN = os.environ.get("INFRA_BIN", os.path.join(SRC, "build", "bin"))
TMP = os.environ.get("INFRA_TMP") or __import__("tempfile").mkdtemp()
TOOL = os.path.join(BIN, "nasmon-check")
EVIL = "pvc-<script>alert(1)</script>"
n = failed = 0
procs = []


def ok(cond, what, diag=None):
    global n, failed
    n += 1
    print("%sok %d - %s" % ("" if cond else "not ", n, what))
    if not cond:
        failed += 1
        for line in str(diag or "").splitlines()[:20]:
            print("# " + line)
    sys.stdout.flush()
    return cond


def start(cmd):
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    procs.append(p)
    line = p.stdout.readline().strip()
    if not line.startswith("READY "):
        raise SystemExit("Bail out! %s did not start: %r" % (cmd[1], line))
    return line.split(" ", 1)[1]


wpath = os.path.join(TMP, "world.json")
subprocess.run([sys.executable, os.path.join(SRC, "tests/sim/nas_scenario.py"), "--seed", "11", "-o", wpath], check=True)
w = json.load(open(wpath))
# an orphaned PV (no dataset on TrueNAS) gets a hostile name: it is reported by ORPH-PV
orphan = w["scenario"]["plants"]["ORPH-PV"]["fire"][0]["name"]
for pv in w["kube"]["persistentvolumes"]:
    if pv["metadata"]["name"] == orphan:
        pv["metadata"]["name"] = EVIL
json.dump(w, open(wpath, "w"))
for f, v in (("token", "sekrit-token"), ("key", "1-nasmonkey")):
    with open(os.path.join(TMP, f), "w") as fh:
        fh.write(v + "\n")

NOW = w["scenario"]["now"]
HOUR = 3600


def run(*args, now=NOW):
    env = dict(os.environ, HOME=TMP, INFRA_NOW=str(now))
    for k in ("TRUENAS_API_KEY", "TRUENAS_API_KEY_FILE", "KUBECONFIG"):
        env.pop(k, None)
    cmd = [TOOL, "--kube-api", kurl, "--kube-token-file", os.path.join(TMP, "token"), "--kube-ca",
           os.path.join(TMP, "tls", "ca.pem"), "--truenas-url", turl, "--truenas-api-key-file", os.path.join(TMP, "key")]
    return subprocess.run(cmd + list(args), capture_output=True, text=True, env=env, timeout=120)


class Tags(HTMLParser):
    VOID = {"meta", "br", "hr", "img", "input", "link"}

    def __init__(self):
        super().__init__()
        self.stack, self.bad = [], 0

    def handle_starttag(self, t, a):
        if t not in self.VOID:
            self.stack.append(t)

    def handle_endtag(self, t):
        if not self.stack or self.stack.pop() != t:
            self.bad += 1


def svg_text_outside(svg):
    vw, vh = (int(x) for x in re.search(r'viewBox="0 0 (\d+) (\d+)"', svg).groups())
    out = []
    for m in re.finditer(r'<text x="([\d.]+)" y="([\d.]+)"( text-anchor="(\w+)")?[^>]*>(?:<title>.*?</title>)?([^<]*)</text>', svg):
        x, y, anchor, s = float(m[1]), float(m[2]), m[4] or "start", m[5]
        k = len(s)  # about 6 px a character at 11px
        left = x - 6 * k if anchor == "end" else x - 3 * k if anchor == "middle" else x
        if y > vh or y < 10 or left < 0 or left + 6 * k > vw:
            out.append("%r at %s,%s outside 0 0 %d %d" % (s, x, y, vw, vh))
    return out


def round_step(vals):
    steps = {round(b - a, 9) for a, b in zip(vals, vals[1:])}
    if len(vals) < 3 or len(steps) != 1:
        return False
    st = steps.pop()
    mant = st / 10 ** math.floor(math.log10(st))
    return any(abs(mant - d) < 1e-6 for d in (1, 2, 5)) and all(abs(v / st - round(v / st)) < 1e-6 for v in vals)


try:
    kurl = start([sys.executable, os.path.join(SRC, "tests/sim/kube.py"), "--world", wpath, "--tls-dir",
                  os.path.join(TMP, "tls"), "--token", "sekrit-token"])
    turl = start([sys.executable, os.path.join(SRC, "tests/sim/truenas.py"), "--world", wpath, "--api-key", "1-nasmonkey"])

    # a fill history: hourly runs for a day, a 12-hour pause, hourly runs for half a day, tank
    # growing 0.2 % of its usable bytes an hour; then the real run at NOW appends its own entry
    st = os.path.join(TMP, "state")
    os.makedirs(st, mode=0o700)
    pools = {p["name"]: p for p in w["truenas"]["pools"]}
    ds = {d["id"]: d for d in w["truenas"]["datasets"]}
    tank = ds["tank"]
    used = tank["used"]["parsed"]
    usable = used + tank["available"]["parsed"]
    times = [NOW - 48 * HOUR + i * HOUR for i in range(24)] + [NOW - 12 * HOUR + i * HOUR for i in range(12)]
    entries = [{"t": t, "pools": {"tank": [int(used - usable * 0.002 * (NOW - t) / HOUR), usable]}, "volumes": {}}
               for t in times]
    with open(os.path.join(st, "history.json"), "w") as fh:
        json.dump({"version": 1, "entries": entries}, fh)

    out = os.path.join(TMP, "report.html")
    r = run("-f", "json", "--state-dir", st, "--html", out)
    ok(r.returncode == 2, "--html with a planted world: exit 2 as without it", r.stderr)
    if not r.stdout.startswith("{"):
        raise SystemExit("Bail out! no JSON output: %s" % r.stderr.strip())
    doc = json.loads(r.stdout)
    page = open(out).read() if os.path.exists(out) else ""
    ok(page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>"), "a complete HTML document", page[:200])
    ok(not re.search(r"<script|<link|<iframe|<img|(src|href)=|url\(|@import", page, re.I),
       "self-contained: no script, no src/href, no CSS url(), no @import")
    p = Tags()
    p.feed(page)
    p.close()
    ok(not p.bad and not p.stack, "tags balanced (html.parser)", (p.bad, p.stack[-5:]))
    ok("&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page,
       "the hostile PV name is escaped", [l for l in page.splitlines() if "alert" in l][:3])
    ok("background:#121417" in page, "the kit's dark page skeleton (lib/infra_html)")

    # findings by check: every check with findings has its section, every finding one row
    want = {}
    for f in doc["data"]["findings"]:
        want[f["check"]] = want.get(f["check"], 0) + 1
    secs = dict(re.findall(r"<h3>([A-Z-]+)</h3>\n<table>(.*?)</table>", page, re.S))
    got = {k: v.count("<tr><td class=") for k, v in secs.items()}
    ok(want == got and len(want) >= 20, "findings by check: %d checks, rows per check as in the JSON" % len(want),
       "want %s\ngot %s" % (want, got))
    ok(all(('<a id="c-%s"></a>%s</td><td class="%s">%s</td>' % (c, c, {"ok": "ok", "warning": "warn", "critical": "bad",
            "unknown": "warn"}[v["status"]], v["status"])) in page for c, v in doc["data"]["checks"].items()),
       "the checks table has every check with its status")

    # pool fill bars
    svgs = re.findall(r"<svg.*?</svg>", page, re.S)
    bar = next((s for s in svgs if "Pool fill now" in s), "")
    rects = [(float(x), int(y), float(wd), f) for x, y, wd, f in
             re.findall(r'<rect x="([\d.]+)" y="(\d+)" width="([\d.]+)" height="16" fill="(#[0-9a-f]+)"', bar)]
    ys = sorted(y for _, y, _, _ in rects)
    ok(len(rects) == len(pools) and all(b - a >= 16 for a, b in zip(ys, ys[1:])),
       "pool bars: one per pool, rows never overlap", rects)
    plot = 860 - 64 - 250
    fills = {pn: v["used_bytes"] / v["usable_bytes"] for pn, v in doc["data"]["pools"].items()}
    names = re.findall(r'text-anchor="end"><title>([^<]*)</title>', bar)
    ok(sorted(names) == sorted(fills) and
       all(abs(wd - plot * min(fills[pn], 1)) < 1.5 for (x, y, wd, f), pn in zip(rects, names)),
       "bar widths are the fill ratios of the JSON on a 0-100% axis", (rects, fills))
    red = [f for _, _, _, f in rects if f == "#e53935"]
    ok(len(red) == sum(v > 0.9 for v in fills.values()) >= 1, "pools past CAP-POOL crit are red", (rects, fills))
    xt = [float(v) for v in re.findall(r'text-anchor="middle">([\d.]+)%</text>', bar)]
    ok(round_step(xt) and xt[0] == 0 and xt[-1] == 100, "x ticks at round values 0..100%%: %s" % xt)
    ok(bar.count('stroke-dasharray="4 3"') == 2, "CAP-POOL warn and crit marks")

    # the history chart
    line = next((s for s in svgs if "Pool fill over the --state-dir history" in s), "")
    ok(bool(line), "a line chart of the fill history")
    tp = doc["data"]["trends"]["pools"]["tank"]
    days = tp["days_until_full"]
    ok(len(tp["points"]) == 37 and days is not None and 0 < days < 1000,
       "JSON: tank has 37 history points and a days-until-full (%s)" % days)
    ok(("tank (full in %.1f days)" % days) in line and re.search(r"<td>tank</td>.*?<td class=\"num\">%.1f</td>" % days, page),
       "the legend and the pool table show the same days until full as the JSON")
    paths = re.findall(r'<path fill="none" stroke="(#[0-9a-f]+)" stroke-width="2" d="([^"]*)"', line)
    tank_d = paths[0][1] if paths else ""
    ok(tank_d.count("M") == 2 and tank_d.count("L") == 37 - 2,
       "the tank line is broken at the 12-hour pause (2 pieces, 37 points)", tank_d[:200])
    yl = [float(v) for v in re.findall(r'text-anchor="end">(-?[\d.]+)%</text>', line)]
    ok(round_step(yl) and yl[0] == 0 and yl[-1] == 100, "y ticks at round values 0..100%%: %s" % yl)
    outside = [t for s in (bar, line) for t in svg_text_outside(s)]
    ok(not outside, "every label and legend line inside its SVG", "\n".join(outside))

    # the HTML does not change the other output; without --state-dir the page says how to get a trend
    r2 = run("-f", "json", "--html", os.path.join(TMP, "nostate.html"))
    p2 = open(os.path.join(TMP, "nostate.html")).read()
    ok(r2.returncode == 2 and "No fill history" in p2 and "no history (--state-dir)" in p2,
       "without --state-dir: no trend chart, the page says why")

    # atomic: a bad target leaves nothing and fails the run; an old file stays on failure
    r3 = run("-f", "json", "--html", os.path.join(TMP, "no", "such", "dir", "r.html"))
    ok(r3.returncode == 3 and len(r3.stderr.strip().splitlines()) == 1 and "no/such/dir" in r3.stderr and "--html" in r3.stderr,
       "unwritable --html target: exit 3, one line naming it", r3.stderr)
    ok(json.loads(r3.stdout)["status"] == "unknown", "the JSON output says the run failed")
    ok(not [f for f in os.listdir(TMP) if ".tmp." in f], "no temp files left next to the target")

    # a run that cannot read TrueNAS still writes its page, saying so
    r4 = subprocess.run([TOOL, "--no-truenas", "--kube-api", kurl, "--kube-token-file", os.path.join(TMP, "token"),
                         "--kube-ca", os.path.join(TMP, "tls", "ca.pem"), "--html", os.path.join(TMP, "nontn.html"),
                         "-f", "json"], capture_output=True, text=True, env=dict(os.environ, HOME=TMP), timeout=120)
    p4 = open(os.path.join(TMP, "nontn.html")).read() if os.path.exists(os.path.join(TMP, "nontn.html")) else ""
    ok(r4.returncode == 3 and "not queried (--no-truenas)" in p4 and "No pool data" in p4 and 'class="warn">unknown' in p4,
       "TrueNAS not queried: exit 3, the page names it and shows the UNKNOWN checks", r4.stderr)
    row = re.search(r'<a id="c-ORPH-PROV"></a>.*?</tr>', p4, re.S)
    row = row.group(0) if row else ""
    ok("not run" in row and not re.search(r'<td class="num">0</td>', row),
       "an UNKNOWN check's row says 'not run', no zero counts that read as nothing found", row[:300])

    # headless Chromium: it renders, the page is dark, the red bar of the full pool shows
    if not shutil.which("chromium"):
        ok(False, "chromium not installed (scripts/osmon-html.packages; scripts/install-deps installs it)")
    else:
        png = os.path.join(TMP, "report.png")
        subprocess.run(["timeout", "60", "chromium", "--headless", "--no-sandbox", "--disable-gpu",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        "--no-first-run", "--user-data-dir=" + os.path.join(TMP, "chromium"), "--window-size=1000,900",
                        "--screenshot=" + png, "file://" + out], capture_output=True)
        ok(os.path.exists(png) and os.path.getsize(png) > 0, "chromium wrote a screenshot")
        s = subprocess.run([sys.executable, os.path.join(SRC, "tests/tool/helpers/pngstat.py"), png],
                           capture_output=True, text=True).stdout.split()
        print("# screenshot %s" % " ".join(s))
        ok(len(s) == 6 and float(s[2]) > 0.8, "dark theme: most of the page is dark", s)
        # the top of the page is the findings tables; the pool section is below: render it alone
        cut = os.path.join(TMP, "pools.html")
        head = page.split("<h2>Sources</h2>")[0]
        with open(cut, "w") as fh:
            fh.write(head + "<h2>Pool fill</h2>" + page.split("<h2>Pool fill</h2>")[1])
        png2 = os.path.join(TMP, "pools.png")
        subprocess.run(["timeout", "60", "chromium", "--headless", "--no-sandbox", "--disable-gpu",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        "--no-first-run", "--user-data-dir=" + os.path.join(TMP, "chromium"), "--window-size=1000,900",
                        "--screenshot=" + png2, "file://" + cut], capture_output=True)
        s = subprocess.run([sys.executable, os.path.join(SRC, "tests/tool/helpers/pngstat.py"), png2],
                           capture_output=True, text=True).stdout.split()
        print("# pool section screenshot %s" % " ".join(s))
        ok(len(s) == 6 and int(s[3]) > 50 and int(s[4]) > 50 and int(s[5]) > 50,
           "pool section rendered: green bars and the red bar of the full pool", s)
finally:
    for pr in procs:
        try:
            os.killpg(pr.pid, signal.SIGTERM)
            pr.wait(5)
        except Exception:
            pass
print("1..%d" % n)
sys.exit(1 if failed else 0)
