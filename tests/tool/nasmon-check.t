#!/usr/bin/env python3
"""nasmon-check against tests/sim/kube.py (TLS, token) and tests/sim/truenas.py (JSON-RPC over
ws to loopback, and REST), both fed by the one generator tests/sim/nas_scenario.py: for every
check id every planted firing case is reported with its severity over the wire and no near miss
is; one source down (its checks UNKNOWN and named, the others run); a forbidden list; snapshot
CRDs absent; Nagios line and exit codes; bad configuration exit 3; secrets refused; the
Prometheus output through promcheck (promtool + node_exporter); history across runs."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

SRC = os.environ.get("INFRA_SRCDIR", os.getcwd())
BIN = os.environ.get("INFRA_BIN", os.path.join(SRC, "build", "bin"))
TMP = os.environ.get("INFRA_TMP") or __import__("tempfile").mkdtemp()
TOOL = os.path.join(BIN, "nasmon-check")
n = 0
failed = 0
procs = []


def ok(cond, what, diag=None):
    global n, failed
    n += 1
    print("%sok %d - %s" % ("" if cond else "not ", n, what))
    if not cond:
        failed += 1
        if diag:
            for line in str(diag).splitlines()[:20]:
                print("# " + line)
    sys.stdout.flush()
    return cond


def start(cmd):
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                         start_new_session=True)
    procs.append(p)
    line = p.stdout.readline().strip()
    if not line.startswith("READY "):
        raise SystemExit("Bail out! %s did not start: %r" % (cmd[1], line))
    return p, line.split(" ", 1)[1]


def stop(p):
    try:
        os.killpg(p.pid, signal.SIGTERM)
        p.wait(5)
    except Exception:
        pass


def world(name, *extra):
    path = os.path.join(TMP, name)
    subprocess.run([sys.executable, os.path.join(SRC, "tests/sim/nas_scenario.py"), "--seed", "11",
                    "-o", path] + list(extra), check=True)
    return path


def sims(wpath, *kube_extra, tn_version="25.10"):
    kp, kurl = start([sys.executable, os.path.join(SRC, "tests/sim/kube.py"), "--world", wpath,
                      "--tls-dir", os.path.join(TMP, "tls"), "--token", "sekrit-token"] + list(kube_extra))
    tp, turl = start([sys.executable, os.path.join(SRC, "tests/sim/truenas.py"), "--world", wpath,
                      "--api-key", "1-nasmonkey", "--version", tn_version])
    return kp, kurl, tp, turl


with open(os.path.join(TMP, "token"), "w") as f:
    f.write("sekrit-token\n")
with open(os.path.join(TMP, "key"), "w") as f:
    f.write("1-nasmonkey\n")


def run(kurl, turl, *args, env_extra=None, key=True):
    env = dict(os.environ)
    env.pop("TRUENAS_API_KEY", None)
    env.pop("TRUENAS_API_KEY_FILE", None)
    env.pop("KUBECONFIG", None)
    env["HOME"] = TMP
    if env_extra:
        env.update(env_extra)
    cmd = [TOOL]
    if kurl:
        cmd += ["--kube-api", kurl, "--kube-token-file", os.path.join(TMP, "token"),
                "--kube-ca", os.path.join(TMP, "tls", "ca.pem")]
    if turl:
        cmd += ["--truenas-url", turl]
        if key:
            cmd += ["--truenas-api-key-file", os.path.join(TMP, "key")]
    cmd += list(args)
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)


def rank(s):
    return {"info": 1, "warning": 2, "critical": 3}.get(s, 0)


def worst(doc, check, name):
    w = 0
    for f in doc["data"]["findings"]:
        if f["check"] == check and f["object"]["name"] == name:
            w = max(w, rank(f["severity"]))
    return w


def cfgargs(w):
    c = w["scenario"]["config"]
    return ["--csi-driver", ",".join(c["drivers"]), "--dataset-parent", ",".join(c["dataset_parents"]),
            "--snapshot-parent", ",".join(c["snapshot_parents"]), "--instance-id", ",".join(c["instance_ids"])]


try:
    # ---- every plant over the wire ----
    wpath = world("all.json")
    w = json.load(open(wpath))
    kp, kurl, tp, turl = sims(wpath)
    r = run(kurl, turl, "-f", "json", *cfgargs(w))
    ok(r.returncode == 2, "planted world: exit 2 (CRITICAL)", r.stderr)
    doc = json.loads(r.stdout)
    ok(doc["status"] == "critical" and doc["data"]["sources"]["truenas"]["transport"] == "jsonrpc",
       "status critical, TrueNAS over JSON-RPC", doc["data"]["sources"])
    for check, p in sorted(w["scenario"]["plants"].items()):
        for e in p["fire"]:
            got = worst(doc, check, e["name"])
            ok(got == rank(e["severity"]), "%s fires %s on %s %s" % (check, e["severity"], e["kind"], e["name"]),
               "got rank %d" % got)
        for e in p["near"]:
            got = worst(doc, check, e["name"])
            ok(got <= rank(e.get("allow")), "%s near miss %s %s" % (check, e["kind"], e["name"]), "got rank %d" % got)
    for f in doc["data"]["findings"]:
        if not all(k in f for k in ("check", "severity", "object", "truenas", "message", "evidence")):
            ok(False, "finding shape", f)
            break
    else:
        ok(True, "every finding has check, severity, object, truenas, message, evidence")
    r = run(kurl, turl, "-f", "json", "-vv", *cfgargs(w))
    ok(all(x in r.stderr for x in ("kubernetes: 13 requests in", "truenas: read in", "checks: ", "output written in")),
       "-vv says where the time went", r.stderr)

    # with 300 ms on every reply, what the client sends at once is all in flight together
    import urllib.request
    lp, lurl = start([sys.executable, os.path.join(SRC, "tests/sim/truenas.py"), "--world", wpath,
                      "--api-key", "1-nasmonkey", "--fault", "kind=latency,ms=300,count=-1"])
    r = run(None, lurl, "-f", "json", "--no-kube", *cfgargs(w))
    st = json.load(urllib.request.urlopen(lurl + "/_sim/state", timeout=10))
    ok(r.stdout.startswith("{") and st.get("max_inflight") == 9
       and any(q[0] == "service.query" for q in st["queries"]),
       "the 8 queries and service.query go out at once (one round trip)", (r.returncode, st.get("max_inflight")))
    stop(lp)

    # ---- nagios ----
    r = run(kurl, turl, "-f", "nagios", *cfgargs(w))
    first = r.stdout.splitlines()[0] if r.stdout else ""
    ok(r.returncode == 2 and first.startswith("NASMON_CHECK CRITICAL: ") and "'critical'=" in first
       and "'unknown_checks'=0" in first, "nagios: CRITICAL line with perfdata, exit 2", first)
    ok(len(r.stdout.splitlines()) > 5 and any(l.startswith("ORPH-PV critical:") for l in r.stdout.splitlines()),
       "nagios long output lists findings", r.stdout[:500])
    r = run(kurl, turl, "-f", "nagios", "--check", "HLTH-PODS", *cfgargs(w))
    ok(r.returncode == 1 and r.stdout.startswith("NASMON_CHECK WARNING: "), "--check HLTH-PODS: WARNING, exit 1", r.stdout[:300])
    r = run(kurl, turl, "-f", "nagios", "--check", "ORPH-PVC", "--set", "ORPH-PVC.severity=info", *cfgargs(w))
    ok(r.returncode == 0 and r.stdout.startswith("NASMON_CHECK OK: "), "--set ORPH-PVC.severity=info: OK, exit 0", r.stdout[:300])
    r = run(kurl, turl, "-f", "nagios", "--check", "HLTH-PODS", "-w", "5", "-c", "10", *cfgargs(w))
    ok(r.returncode == 0, "-w 5 -c 10 on 2 findings: OK", r.stdout[:300])

    # ---- prom through promtool and node_exporter ----
    out = os.path.join(TMP, "nasmon.prom")
    r = run(kurl, turl, "-o", out, *cfgargs(w))
    ok(r.returncode == 2 and os.path.exists(out), "-o FILE.prom written, exit 2", r.stderr)
    text = open(out).read() if os.path.exists(out) else ""
    for fam in ('nasmon_up{source="kubernetes"} 1', 'nasmon_up{source="truenas"} 1', 'nasmon_up{source=""} 1',
                'nasmon_truenas_info{version="TrueNAS-25.10', 'nasmon_check_status{check="ORPH-PV"} 2',
                'nasmon_check_findings{check="ORPH-PV",severity="critical"} 1', 'nasmon_pool_overcommit_ratio{pool="fast"}',
                'nasmon_truenas_service_running{service="iscsitarget"} 0', 'nasmon_truenas_service_enabled{service="nfs"} 0',
                "nasmon_last_success_timestamp_seconds"):
        ok(fam in text, "prom has %s" % fam)
    pc = subprocess.run([os.path.join(SRC, "tests/real/promcheck"), out], capture_output=True, text=True)
    ok(pc.returncode == 0, "promcheck (promtool + node_exporter textfile) accepts the output", pc.stderr)

    # ---- text ----
    r = run(kurl, turl, "-f", "text", *cfgargs(w))
    ok("25 checks:" in r.stdout and "ORPH-PV" in r.stdout, "text table with the summary line", r.stdout[-300:])

    # ---- inference: no driver/parent flags ----
    r = run(kurl, turl, "-f", "json")
    d2 = json.loads(r.stdout)
    ok(d2["data"]["checks"]["ORPH-PV"]["status"] == "critical" and
       "org.democratic-csi.nfs" in d2["data"]["context"]["drivers"], "without flags: drivers and parents inferred", d2["data"]["context"])

    # ---- history across runs ----
    st = os.path.join(TMP, "state")
    for i in range(2):
        r = run(kurl, turl, "-f", "json", "--state-dir", st, "--check", "CAP-POOL")
    d3 = json.loads(r.stdout)
    ok(d3["data"].get("trends", {}).get("entries") == 2 and len(d3["data"]["trends"]["pools"]["tank"]["points"]) == 2,
       "--state-dir: history of 2 runs, points per pool", d3["data"].get("trends"))
    ok(oct(os.stat(st).st_mode & 0o777) == "0o700", "state directory is 0700")
    notdir = os.path.join(TMP, "state-is-a-file")
    open(notdir, "w").close()
    r = run(kurl, turl, "-f", "json", "--state-dir", notdir)
    ok(r.stderr.count("not a directory") == 1 and "state-is-a-file" in r.stderr and
       json.loads(r.stdout).get("errors") and "trends" not in json.loads(r.stdout)["data"],
       "--state-dir that is not a directory: said once on stderr (not once per state file), in the JSON errors, no trends",
       r.stderr)

    # ---- TrueNAS down: its checks UNKNOWN and named, Kubernetes checks still run ----
    stop(tp)
    r = run(kurl, turl, "-f", "json", *cfgargs(w))
    d4 = json.loads(r.stdout) if r.stdout else {}
    ck = d4.get("data", {}).get("checks", {})
    ok(r.returncode == 3, "TrueNAS down: exit 3", r.stderr)
    ok(ck.get("ORPH-PV", {}).get("status") == "unknown" and "TrueNAS" in ck.get("ORPH-PV", {}).get("unknown", ""),
       "ORPH-PV UNKNOWN, naming TrueNAS", ck.get("ORPH-PV"))
    ok(ck.get("ORPH-PVC", {}).get("status") == "critical" and ck.get("HLTH-PODS", {}).get("status") == "warning",
       "Kubernetes-only checks still run (ORPH-PVC critical, HLTH-PODS warning)", ck)
    ok(d4.get("data", {}).get("sources", {}).get("truenas", {}).get("up") is False, "sources.truenas.up false")
    ok("findings" in ck.get("ORPH-PV", {}) and ck["ORPH-PV"]["findings"] is None and
       ck.get("ORPH-PVC", {}).get("findings", {}).get("critical", 0) >= 1 and d4["data"].get("counts") is not None,
       "JSON: an UNKNOWN check has findings null (not zeros); checks that ran keep their counts",
       (ck.get("ORPH-PV"), ck.get("ORPH-PVC")))
    ok(r.stderr.startswith("nasmon-check: truenas: ") and "1-nasmonkey" not in r.stderr + r.stdout,
       "one line on stderr naming the source, key never printed", r.stderr)
    r = run(kurl, turl, "-f", "nagios", *cfgargs(w))
    ok(r.returncode == 3 and r.stdout.startswith("NASMON_CHECK UNKNOWN: truenas:") and "ORPH-PV UNKNOWN:" in r.stdout,
       "nagios UNKNOWN with the unknown checks in the long output", r.stdout[:400])
    r = run(kurl, turl, "-f", "prom", *cfgargs(w))
    ok('nasmon_up{source="truenas"} 0' in r.stdout and 'nasmon_up{source="kubernetes"} 1' in r.stdout and
       'nasmon_up{source=""} 0' in r.stdout and "nasmon_source_up" not in r.stdout and
       'nasmon_check_status{check="ORPH-PV"} 3' in r.stdout, "prom: source down, check status 3", r.stdout[:300])
    ok('nasmon_check_findings{check="ORPH-PV",' not in r.stdout and
       'nasmon_check_findings{check="ORPH-PVC",severity="critical"} ' in r.stdout,
       "prom: no finding counts for a check that could not run (a 0 would read as nothing found); counts for those that ran",
       [l for l in r.stdout.splitlines() if "ORPH-PV" in l])
    r = run(kurl, turl, "-f", "text", *cfgargs(w))
    ok("findings of the checks that ran:" in r.stdout, "text: the findings line says it counts only the checks that ran",
       r.stdout[-400:])
    stop(kp)

    # ---- a forbidden list (RBAC) ----
    kp, kurl, tp, turl = sims(wpath, "--deny", "volumeattachments")
    r = run(kurl, turl, "-f", "json", *cfgargs(w))
    d5 = json.loads(r.stdout)
    ok(d5["data"]["checks"]["ORPH-VA"]["status"] == "unknown" and "volumeattachments" in d5["data"]["checks"]["ORPH-VA"]["unknown"],
       "403 on volumeattachments: ORPH-VA UNKNOWN, naming the list", d5["data"]["checks"]["ORPH-VA"])
    ok(d5["data"]["checks"]["ORPH-PV"]["status"] == "critical" and r.returncode == 3, "other checks still run; exit 3")

    # ---- Kubernetes down ----
    stop(kp)
    r = run(kurl, turl, "-f", "json", *cfgargs(w))
    d6 = json.loads(r.stdout)
    ok(r.returncode == 3 and d6["data"]["checks"]["CAP-POOL"]["status"] == "critical" and
       d6["data"]["checks"]["ORPH-REL"]["status"] == "unknown", "Kubernetes down: CAP-POOL runs, ORPH-REL UNKNOWN", d6["data"]["checks"])
    stop(tp)

    # ---- snapshot CRDs not installed, TrueNAS 24.10 over REST ----
    wp2 = world("nocrd.json", "--without", "volumesnapshots,volumesnapshotcontents,volumesnapshotclasses", "--plants", "SNAP-MISSING,ORPH-PV,CFG-TN")
    w2 = json.load(open(wp2))
    kp, kurl, tp, turl = sims(wp2, tn_version="24.10")
    r = run(kurl, turl, "-f", "json", *cfgargs(w2))
    d7 = json.loads(r.stdout)
    ok(d7["data"]["checks"]["SNAP-MISSING"]["status"] == "ok" and d7["data"]["sources"]["truenas"]["transport"] == "rest",
       "snapshot CRDs absent: SNAP-MISSING ok (not an error); 24.10 read over REST", d7["data"]["checks"].get("SNAP-MISSING"))
    ok(d7["data"]["checks"]["ORPH-PV"]["status"] == "critical", "ORPH-PV over REST fires")
    ok(worst(d7, "CFG-TN", "iscsitarget") == 3 and worst(d7, "CFG-TN", "nfs") == 2 and worst(d7, "CFG-TN", "nvmet") == 0,
       "CFG-TN over REST (GET /api/v2.0/service): iscsitarget stopped critical, nfs not enabled warning, nvmet unused quiet",
       [f for f in d7["data"]["findings"] if f["check"] == "CFG-TN"])
    stop(kp)
    stop(tp)

    # ---- a healthy world: OK ----
    wp3 = world("healthy.json", "--plants", "none")
    w3 = json.load(open(wp3))
    kp, kurl, tp, turl = sims(wp3)
    r = run(kurl, turl, "-f", "nagios", "--skip", "SNAP-FOREIGN", *cfgargs(w3))
    ok(r.returncode == 0 and r.stdout.startswith("NASMON_CHECK OK: 0 critical, 0 warning"), "healthy world: OK, exit 0", r.stdout[:500])

    # ---- bad configuration: exit 3, one line ----
    bad = os.path.join(TMP, "bad.yaml")
    with open(bad, "w") as f:
        f.write("checks:\n  SNAP-COUNT: {wran: 5}\n")
    r = run(kurl, turl, "-f", "json", "--config", bad)
    ok(r.returncode == 3 and "wran" in r.stderr and bad in r.stderr and len(r.stderr.strip().splitlines()) == 1,
       "misspelt key in --config: exit 3, one line naming file and key", r.stderr)
    r = run(kurl, turl, "--check", "ORPH-XX")
    ok(r.returncode == 3 and "ORPH-XX" in r.stderr, "unknown check id: exit 3", r.stderr)
    r = run(kurl, turl, "--set", "CAP-VOL.warn=lots")
    ok(r.returncode == 3 and "lots" in r.stderr, "bad threshold: exit 3", r.stderr)
    r = run(kurl, turl, "--grace", "soon")
    ok(r.returncode == 3 and "--grace" in r.stderr, "bad --grace: exit 3", r.stderr)
    r = run(kurl, turl, "--truenas-api-key", "1-topsecret")
    ok(r.returncode == 3 and "refused" in r.stderr and "1-topsecret" not in r.stderr + r.stdout,
       "--truenas-api-key refused without echoing the key", r.stderr)
    r = run(kurl, turl, "-f", "json", key=False)
    ok(r.returncode == 3 and "API key" in r.stderr, "no API key: exit 3", r.stderr)
    r = run(kurl, turl, "-f", "json", key=False, env_extra={"TRUENAS_API_KEY": "1-nasmonkey"})
    ok(r.returncode == 0 and json.loads(r.stdout)["data"]["sources"]["truenas"]["up"] is True,
       "TRUENAS_API_KEY from the environment works", r.stderr)
    r = run(kurl, "ws://192.0.2.1:1", "-f", "json", "--truenas-api", "jsonrpc")
    ok(r.returncode == 3 and "1-nasmonkey" not in r.stderr, "API key to a non-loopback ws:// host refused, exit 3", r.stderr)

    # ---- HLTH-PODS with --state-dir: a restartCount that grew since the last run fires, a stable
    # one above zero (the near miss, 3 restarts) does not ----
    stop(kp)
    stop(tp)
    wp4 = world("restarts.json", "--plants", "HLTH-PODS")
    w4 = json.load(open(wp4))
    near = w4["scenario"]["plants"]["HLTH-PODS"]["near"][0]["name"]
    calm = next(p for p in w4["kube"]["pods"] if p["metadata"]["name"] != near and
                p["metadata"]["labels"].get("app.kubernetes.io/csi-role") == "node" and
                all(c["restartCount"] == 0 and c["ready"] for c in p["status"]["containerStatuses"]))["metadata"]["name"]
    st4 = os.path.join(TMP, "state-restarts")
    kp, kurl, tp, turl = sims(wp4)
    r = run(kurl, turl, "-f", "json", "--check", "HLTH-PODS", "--state-dir", st4, *cfgargs(w4))
    d8 = json.loads(r.stdout)
    ok(worst(d8, "HLTH-PODS", calm) == 0 and worst(d8, "HLTH-PODS", near) == 0 and
       os.path.exists(os.path.join(st4, "restarts.json")), "first run with --state-dir: restart counts kept, no delta yet",
       d8["data"]["findings"])
    stop(kp)
    for p in w4["kube"]["pods"]:
        if p["metadata"]["name"] == calm:
            p["status"]["containerStatuses"][0]["restartCount"] = 2
    with open(wp4, "w") as f:
        json.dump(w4, f)
    kp, kurl, _, _ = sims(wp4)
    stop(procs[-1])
    r = run(kurl, turl, "-f", "json", "--check", "HLTH-PODS", "--state-dir", st4, *cfgargs(w4))
    d9 = json.loads(r.stdout)
    fc = [f for f in d9["data"]["findings"] if f["object"]["name"] == calm]
    ok(len(fc) == 1 and fc[0]["severity"] == "warning" and fc[0]["evidence"].get("restarts_since_last_run") == {"csi-driver": 2}
       and "restarted 2 times since the last run" in fc[0]["message"],
       "restartCount 0 -> 2 since the last run: HLTH-PODS warning on the pod, naming the container", d9["data"]["findings"])
    ok(worst(d9, "HLTH-PODS", near) == 0, "near miss: a stable restart count of 3 (below warn) does not fire")
    r = run(kurl, turl, "-f", "json", "--check", "HLTH-PODS", "--state-dir", st4, *cfgargs(w4))
    ok(worst(json.loads(r.stdout), "HLTH-PODS", calm) == 0, "the next run: the count is stable again, no finding")
    r = run(kurl, turl, "-f", "json", "--check", "HLTH-PODS", *cfgargs(w4))
    ok(worst(json.loads(r.stdout), "HLTH-PODS", calm) == 0, "without --state-dir: no delta")

    stop(kp)
    stop(tp)
finally:
    for p in procs:
        stop(p)
print("1..%d" % n)
sys.exit(1 if failed else 0)
