#!/usr/bin/env python3
"""The shipped systemd units and cron lines (share/serving/systemd, share/serving/cron):
one service + timer + cron line per scheduled tool; hardening keys; output into the
textfile directory; no secret on a command line or in an Environment= value; every
option named exists in the tool (when built on this branch); schedules equal the
intervals the alert rules assume (infrakit:run_interval_seconds); `systemd-analyze
verify` accepts every unit without a warning (when systemd-analyze is installed).
Each lint is also run on a broken copy, which it must reject."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

SRC = os.environ.get("INFRA_SRCDIR", ".")
BIN = os.environ.get("INFRA_BIN", os.path.join(SRC, "build/bin"))
SYSTEMD = os.path.join(SRC, "share/serving/systemd")
CRON = os.path.join(SRC, "share/serving/cron")
TEXTDIR = "/var/lib/prometheus/node-exporter"
# unit -> (tool binary, metric prefix, cron file)
UNITS = {
    "osmon-orphans": ("osmon-orphans", "osmon_orphans", "osmon-orphans.cron"),
    "osmon-run": ("osmon-run", "osmon", "osmon-run.cron"),
    "osmon-run-health": ("osmon-run", "osmon_health_check", "osmon-run.cron"),
    "katapulse-scrape": ("katapulse-scrape", "katapulse", "katapulse-scrape.cron"),
    "nasmon-check": ("nasmon-check", "nasmon", "nasmon-check.cron"),
    "spot-agg": ("spot-agg", "spot_agg", "spot-agg.cron"),
}
HARDENING = ["ProtectSystem=strict", "ReadWritePaths=" + TEXTDIR, "NoNewPrivileges=yes", "PrivateTmp=yes",
             "ProtectHome=yes", "ProtectKernelTunables=yes", "ProtectKernelModules=yes", "RestrictSUIDSGID=yes",
             "Type=oneshot"]
SECRET_OPT = re.compile(r"--(os-)?password(?!-file)|--token(?!-file)|--api-key(?!-file)|"
                        r"(PASSWORD|TOKEN|SECRET|API_KEY)=(?!%d/|/)", re.I)
n = 0


def ok(cond, what, detail=""):
    global n
    n += 1
    print(("ok %d - %s" if cond else "not ok %d - %s") % (n, what))
    if not cond and detail:
        for line in str(detail).splitlines()[:8]:
            print("#   " + line)
    return cond


def keys(text):
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")) and "=" in line:
            k, v = line.split("=", 1)
            out.setdefault(k, []).append(v)
    return out


def span(spec):
    m = re.fullmatch(r"(\d+)(s|sec|min|m|h|hr)?", spec)
    if m:
        return int(m.group(1)) * {"s": 1, "sec": 1, None: 1, "min": 60, "m": 60, "h": 3600, "hr": 3600}[m.group(2)]
    m = re.fullmatch(r"\*:0/(\d+)", spec)                 # every N minutes
    if m:
        return int(m.group(1)) * 60
    m = re.fullmatch(r"\*-\*-\* \d+/(\d+):\d+:\d+", spec)  # every N hours
    if m:
        return int(m.group(1)) * 3600
    return None


def cron_span(fields):
    minute, hour = fields[0], fields[1]
    if hour == "*":
        return 60 if minute == "*" else (int(minute[2:]) * 60 if minute.startswith("*/") else 3600)
    if hour.startswith("*/") and minute.isdigit():
        return int(hour[2:]) * 3600
    return None


def intervals(rules_text):
    return {t: int(v) for v, t in re.findall(r'vector\((\d+)\), "tool", "(\w+)"', rules_text)}


def lint(sysdir, crondir, rules_text, helps):
    """Problems (list of str) of the units in SYSDIR and cron files in CRONDIR."""
    probs = []
    want = intervals(rules_text)
    outputs = {}
    for unit, (tool, prefix, cronf) in UNITS.items():
        sp, tp = os.path.join(sysdir, unit + ".service"), os.path.join(sysdir, unit + ".timer")
        if not os.path.exists(sp) or not os.path.exists(tp):
            probs.append(f"{unit}: service or timer missing")
            continue
        text = open(sp).read()
        k = keys(text)
        for h in HARDENING:
            hk, hv = h.split("=", 1)
            if hv not in k.get(hk, []):
                probs.append(f"{unit}.service: no {h}")
        user = (k.get("User") or k.get("DynamicUser") or [""])[0]
        if not user:
            probs.append(f"{unit}.service: neither User= nor DynamicUser=")
        elif user == "root" and not re.search(r"^# root: ", text, re.M):
            probs.append(f"{unit}.service: User=root without a '# root: why' comment")
        if user != "root" and k.get("CapabilityBoundingSet") != [""]:
            probs.append(f"{unit}.service: a non-root tool keeps capabilities (CapabilityBoundingSet= empty)")
        execs = k.get("ExecStart", []) + k.get("ExecStartPost", [])
        main = k.get("ExecStart", [""])[0]
        m = re.search(r"-f prom -o (%s/[\w.-]+\.prom)(\s|$)" % re.escape(TEXTDIR), main)
        if not m:
            probs.append(f"{unit}.service: ExecStart does not write -f prom -o {TEXTDIR}/*.prom")
        else:
            if m.group(1) in outputs:
                probs.append(f"{unit}.service: writes {m.group(1)} like {outputs[m.group(1)]}")
            outputs[m.group(1)] = unit
        if not main.startswith("@BINDIR@/%s " % tool):
            probs.append(f"{unit}.service: ExecStart is not @BINDIR@/{tool}")
        for line in execs + k.get("Environment", []):
            if SECRET_OPT.search(line):
                probs.append(f"{unit}.service: a secret on a command line or in Environment=: {line[:60]}")
        for cred in k.get("LoadCredential", []):
            if not re.fullmatch(r"[\w.-]+:/etc/infrakit/[\w.-]+", cred):
                probs.append(f"{unit}.service: LoadCredential={cred} not NAME:/etc/infrakit/FILE")
        if tool in helps:
            for opt in set(re.findall(r"\s(--[a-z][\w-]*)", " ".join(execs))):
                if opt not in helps[tool]:
                    probs.append(f"{unit}.service: {tool} has no option {opt}")
        tk = keys(open(tp).read())
        spec = (tk.get("OnUnitActiveSec") or tk.get("OnCalendar") or [""])[0]
        secs = span(spec)
        if secs is None or secs != want.get(prefix):
            probs.append(f"{unit}.timer: every {spec} ({secs} s), the rules assume {want.get(prefix)} s for {prefix}")
        cp = os.path.join(crondir, cronf)
        if not os.path.exists(cp):
            probs.append(f"{unit}: cron file {cronf} missing")
            continue
        lines = [l for l in open(cp).read().splitlines() if re.match(r"^[\d*]", l)]
        health = unit.endswith("-health")
        mine = [l for l in lines if re.search(r"\b%s\b" % re.escape(tool), l) and ("--health" in l) == health]
        if not mine:
            probs.append(f"{unit}: no cron line in {cronf}")
            continue
        f = mine[0].split()
        if cron_span(f) != want.get(prefix):
            probs.append(f"{cronf}: '{' '.join(f[:5])}' is every {cron_span(f)} s, the rules assume {want.get(prefix)} s")
        if "-o %s/" % TEXTDIR not in mine[0] or m and m.group(1) not in mine[0]:
            probs.append(f"{cronf}: the cron line does not write the unit's textfile")
        if SECRET_OPT.search(mine[0]):
            probs.append(f"{cronf}: a secret on the cron line")
    return probs


def main():
    rules = open(os.path.join(SRC, "share/serving/infrakit-alerts.yml")).read()
    helps = {}
    for tool in sorted({t for t, _, _ in UNITS.values()}):
        exe = os.path.join(BIN, tool)
        if os.access(exe, os.X_OK):
            helps[tool] = subprocess.run([exe, "--help"], capture_output=True, text=True).stdout
        else:
            print(f"# {tool} is not built on this branch: its options are not checked against --help")
    ok(intervals(rules).keys() == {p for _, p, _ in UNITS.values()},
       "the rules name an interval for every scheduled tool", intervals(rules))
    probs = lint(SYSTEMD, CRON, rules, helps)
    ok(not probs, "every unit, timer and cron line passes the lint (%d units)" % len(UNITS), "\n".join(probs))

    # the lint can fail: broken copies
    tmp = os.environ.get("INFRA_TMP") or tempfile.mkdtemp()
    mutations = [
        ("osmon-orphans.service", "NoNewPrivileges=yes\n", "", "no NoNewPrivileges"),
        ("spot-agg.service", "ProtectSystem=strict", "ProtectSystem=full", "ProtectSystem=full"),
        ("nasmon-check.service", "Environment=TRUENAS_API_KEY_FILE=%d/truenas-api-key",
         "Environment=TRUENAS_API_KEY=abc123", "an API key in Environment="),
        ("osmon-run.service", "-q --state-dir", "--os-password hunter2 -q --state-dir", "a password on ExecStart"),
        ("katapulse-scrape.timer", "OnUnitActiveSec=1min", "OnUnitActiveSec=5min", "a timer slower than the rules assume"),
        ("osmon-orphans.service", "-q --min-age 2h", "-q --min-age 2h --no-such-option", "an option the tool lacks"),
        ("osmon-orphans.service", "User=infrakit\n", "", "no User="),
        ("katapulse-scrape.service", "# root: the shim", "# the shim", "root without a reason"),
    ]
    for fname, old, new, what in mutations:
        m = os.path.join(tmp, "mut")
        shutil.rmtree(m, ignore_errors=True)
        shutil.copytree(SYSTEMD, os.path.join(m, "systemd"))
        shutil.copytree(CRON, os.path.join(m, "cron"))
        p = os.path.join(m, "systemd", fname)
        text = open(p).read()
        if old not in text:
            ok(False, f"mutation '{what}' applies")
            continue
        with open(p, "w") as f:
            f.write(text.replace(old, new, 1))
        if what == "an option the tool lacks" and "osmon-orphans" not in helps:
            continue
        ok(lint(os.path.join(m, "systemd"), os.path.join(m, "cron"), rules, helps), f"the lint rejects {what}")
    cm = os.path.join(tmp, "mut", "cron", "spot-agg.cron")
    shutil.copy(os.path.join(CRON, "spot-agg.cron"), cm)
    with open(cm, "w") as f:
        f.write(open(os.path.join(CRON, "spot-agg.cron")).read().replace("*/10 * * * *", "*/20 * * * *"))
    ok(lint(os.path.join(tmp, "mut", "systemd"), os.path.join(tmp, "mut", "cron"), rules, helps),
       "the lint rejects a cron line slower than the rules assume")

    sa = shutil.which("systemd-analyze")
    if not sa:
        print("# systemd-analyze is not installed: units checked by the lint only")
    else:
        d = os.path.join(tmp, "verify")
        os.makedirs(os.path.join(d, "bin"), exist_ok=True)
        os.makedirs(os.path.join(d, "units"), exist_ok=True)
        for tool in {t for t, _, _ in UNITS.values()}:
            target = os.path.join(BIN, tool) if tool in helps else "/bin/true"
            if not os.path.exists(os.path.join(d, "bin", tool)):
                os.symlink(os.path.abspath(target), os.path.join(d, "bin", tool))
        names = []
        for f in sorted(os.listdir(SYSTEMD)):
            with open(os.path.join(d, "units", f), "w") as out:
                out.write(open(os.path.join(SYSTEMD, f)).read().replace("@BINDIR@", os.path.join(d, "bin")))
            names.append(f)
        r = subprocess.run([sa, "verify", "--man=no"] + names, cwd=os.path.join(d, "units"), capture_output=True,
                           text=True)
        ours = [l for l in (r.stdout + r.stderr).splitlines()
                if any(nm in l for nm in names) or os.path.join(d, "units") in l]
        ok(r.returncode == 0 and not ours, "systemd-analyze verify: every unit clean (%d files)" % len(names),
           "\n".join(ours) or r.stderr)
        # verify itself can fail here: an unknown key is a warning we catch
        with open(os.path.join(d, "units", "spot-agg.service"), "a") as f:
            f.write("ProtectSytem=strict\n")
        r = subprocess.run([sa, "verify", "--man=no", "spot-agg.service"], cwd=os.path.join(d, "units"),
                           capture_output=True, text=True)
        ok(any("spot-agg.service" in l for l in (r.stdout + r.stderr).splitlines()),
           "systemd-analyze verify reports a misspelt key")
    print("1..%d" % n)


if __name__ == "__main__":
    main()
