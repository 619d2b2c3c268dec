#!/usr/bin/env bash
# kata-monitor compatibility: the two Go shim bodies of tests/fixtures/kata served by
# the simulator must come out of katapulse-scrape with exactly the series (names,
# label sets, values), HELP and TYPE that kata-monitor's /metrics gives for them
# (tests/fixtures/kata/kata-monitor-2-sandboxes.prom): sandbox_id and cri_* labels,
# go_*/process_* renamed kata_shim_*.  kata-monitor's own families are compared by
# name and type only (their values are its own).
set -u
cd "${INFRA_SRCDIR:?}"
. "$INFRA_SRCDIR/tests/lib/tap.sh"
tmp=${INFRA_TMP:-$(mktemp -d)}
bin=${INFRA_BIN:-$PWD/${BUILD:-build}/bin}/katapulse-scrape
fx=$PWD/tests/fixtures/kata
cat >"$tmp/spec.json" <<JSON
{"sandboxes": [
 {"id": "4a3c9f0e2d7b1c8a5f6e0d9c2b1a3f4e5d6c7b8a9f0e1d2c3b4a5f6e7d8c9b0a", "runtime": "go", "meta": "persist",
  "pod": {"name": "web-0", "namespace": "shop", "uid": "7f3d2c1b-aaaa-4bbb-8ccc-000000000001"},
  "body": "file:$fx/go-shim-qemu.prom"},
 {"id": "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d", "runtime": "go", "meta": "none",
  "body": "file:$fx/go-shim-qemu-2.prom"}
]}
JSON
python3 tests/sim/kata_shims.py --root "$tmp/root" --spec "$tmp/spec.json" --max-seconds 60 >"$tmp/sim.out" 2>"$tmp/sim.err" &
sim=$!
trap 'kill $sim 2>/dev/null; wait $sim 2>/dev/null' EXIT
for _ in $(seq 100); do grep -q READY "$tmp/sim.out" && break; sleep 0.1; done
"$bin" --sysroot "$tmp/root" --no-state --no-cri -f prom >"$tmp/out.prom" 2>"$tmp/err"; rc=$?
if [ "$rc" = 0 ]; then ok "two fixture shims scraped (exit 0)"; else nok "exit $rc: $(cat "$tmp/err")"; fi
python3 - "$tmp/out.prom" "$fx/kata-monitor-2-sandboxes.prom" "$n" >"$tmp/tap" <<'PY'
import re, sys
LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$')
LAB = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?')
def load(path):
    series, help_, type_ = {}, {}, {}
    for line in open(path):
        line = line.rstrip("\n")
        if line.startswith("# HELP "):
            p = line.split(" ", 3); help_[p[2]] = p[3] if len(p) > 3 else ""
        elif line.startswith("# TYPE "):
            p = line.split(" "); type_[p[2]] = p[3]
        elif line and not line.startswith("#"):
            m = LINE.match(line)
            labels = frozenset(LAB.findall(m.group(2) or ""))
            series[(m.group(1), labels)] = float(m.group(3))
    return series, help_, type_
ours, oh, ot = load(sys.argv[1])
theirs, th, tt = load(sys.argv[2])
shim = lambda name: name.startswith("kata_") and not name.startswith("kata_monitor_")
n = int(sys.argv[3])
def check(cond, what, detail=""):
    global n
    n += 1
    print(("ok" if cond else "not ok") + f" {n} - {what}")
    if not cond and detail:
        for l in str(detail).splitlines()[:10]:
            print("#   " + l)
ours_s = {k: v for k, v in ours.items() if shim(k[0])}
theirs_s = {k: v for k, v in theirs.items() if shim(k[0])}
missing = sorted(set(theirs_s) - set(ours_s), key=str)
extra = sorted(set(ours_s) - set(theirs_s), key=str)
check(not missing, f"every one of kata-monitor's {len(theirs_s)} shim series is there", "\n".join(map(str, missing)))
check(not extra, "no series kata-monitor would not have", "\n".join(map(str, extra)))
bad = [k for k in theirs_s if k in ours_s and ours_s[k] != theirs_s[k]]
check(not bad, "the same values", "\n".join(f"{k}: {ours_s[k]} vs {theirs_s[k]}" for k in bad))
fams = {f for f in tt if shim(f)}
check(all(ot.get(f) == tt[f] for f in fams), f"the same TYPE for all {len(fams)} shim families",
      [f for f in fams if ot.get(f) != tt[f]])
check(all(oh.get(f) == th.get(f) for f in fams), "the same HELP", [f for f in fams if oh.get(f) != th.get(f)])
mon = {f: t for f, t in tt.items() if f.startswith("kata_monitor_") and not f.startswith(("kata_monitor_go_", "kata_monitor_process_"))}
check(all(ot.get(f) == t for f, t in mon.items()), f"kata-monitor's own families {sorted(mon)} with the same types",
      [f for f in mon if ot.get(f) != mon[f]])
check(not any(k[0].startswith(("go_", "process_")) for k in ours), "no unrenamed go_*/process_* family")
print(f"#count {n}")
PY
grep -v "^#count" "$tmp/tap"
n=$(sed -n 's/^#count //p' "$tmp/tap")
echo "1..${n:-0}"
