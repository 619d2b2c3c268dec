#!/usr/bin/env python3
"""nasmon-check's loaders (issue 10, make bench): what goes over the wire and what the simulators
answer.  TrueNAS datasets, snapshots, shares, targets and extents are queried with a
query-options "select" of only the fields the checks read, over JSON-RPC (25.10, 25.04) and over
REST (24.10, in the GET body); truenas.py applies select as the middleware's
filter_list.do_select (nested leaves, [path, alias] pairs, missing paths left out, no list
index); the planted world judged through the selected replies gives the same findings as the
engine over the whole world (tests/unit/test_nasmon.c plants); kube.py pages from its
pre-encoded objects are the objects themselves (name order, no kind/apiVersion on built-in
items, kind/apiVersion on CRD items) and a write still expires older continue tokens."""
import importlib.util
import json
import os
import signal
import subprocess
import sys
import urllib.request
import ssl

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


def get(url, token=None, ctx=None):
    req = urllib.request.Request(url, headers={"Authorization": "Bearer " + token} if token else {})
    with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
        return json.load(r)


def post(url, body, ctx=None):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
        return json.load(r)


spec = importlib.util.spec_from_file_location("truenas_sim", os.path.join(SRC, "tests/sim/truenas.py"))
tsim = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tsim)

# ---- the simulator's select, as filter_list.do_select ----
item = {"id": "tank/a@s", "pool": "tank", "properties": {"creation": {"rawvalue": "1", "source": "NONE"},
                                                         "x.y": {"rawvalue": "2"}}, "s": "str", "l": [1, 2]}
got = tsim.do_select([item], ["id", "properties.creation.rawvalue", ["properties.creation.rawvalue", "creation"],
                              "properties.x\\.y.rawvalue", "nope.deeper", "s.deeper",
                              ["properties.missing.rawvalue", "m"]])
ok(got == [{"id": "tank/a@s", "properties": {"creation": {"rawvalue": "1"}, "x.y": {"rawvalue": "2"}},
            "creation": "1", "s": "str"}],
   "sim select: nested leaves, aliases, escaped dots, missing paths left out, a scalar ends the walk", got)
try:
    tsim.do_select([item], ["l.0"])
    ok(False, "sim select refuses a list index")
except ValueError as e:
    ok("list index" in str(e), "sim select refuses a list index (%s)" % e)
ok(tsim.run_query([item, dict(item, id="tank/b@s")], [["id", "=", "tank/b@s"]], {"select": ["id"]}) == [{"id": "tank/b@s"}],
   "sim select after the filters")

with open(os.path.join(TMP, "token"), "w") as f:
    f.write("load-token\n")
with open(os.path.join(TMP, "key"), "w") as f:
    f.write("1-loadkey\n")
wpath = os.path.join(TMP, "all.json")
subprocess.run([sys.executable, os.path.join(SRC, "tests/sim/nas_scenario.py"), "--seed", "11", "-o", wpath], check=True)
w = json.load(open(wpath))
cfg = w["scenario"]["config"]
cfgargs = ["--csi-driver", ",".join(cfg["drivers"]), "--dataset-parent", ",".join(cfg["dataset_parents"]),
           "--snapshot-parent", ",".join(cfg["snapshot_parents"]), "--instance-id", ",".join(cfg["instance_ids"])]


def run(kurl, turl, *args):
    env = {k: v for k, v in os.environ.items() if k not in ("TRUENAS_API_KEY", "TRUENAS_API_KEY_FILE", "KUBECONFIG")}
    env["HOME"] = TMP
    cmd = [TOOL, "--kube-api", kurl, "--kube-token-file", os.path.join(TMP, "token"),
           "--kube-ca", os.path.join(TMP, "tls", "ca.pem"), "--truenas-url", turl,
           "--truenas-api-key-file", os.path.join(TMP, "key")] + list(args)
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)


def rank(s):
    return {"info": 1, "warning": 2, "critical": 3}.get(s, 0)


try:
    kp, kurl = start([sys.executable, os.path.join(SRC, "tests/sim/kube.py"), "--world", wpath,
                      "--tls-dir", os.path.join(TMP, "tls"), "--token", "load-token"])
    ctx = ssl.create_default_context(cafile=os.path.join(TMP, "tls", "ca.pem"))
    for version, transport in (("25.10", "jsonrpc"), ("25.04", "jsonrpc"), ("24.10", "rest")):
        tp, turl = start([sys.executable, os.path.join(SRC, "tests/sim/truenas.py"), "--world", wpath,
                          "--api-key", "1-loadkey", "--version", version])
        r = run(kurl, turl, "-f", "json", *cfgargs)
        doc = json.loads(r.stdout or "{}")
        ok(doc.get("data", {}).get("sources", {}).get("truenas", {}).get("transport") == transport,
           "%s read over %s" % (version, transport), r.stderr)
        st = get(turl + "/_sim/state")
        q = {m: o for m, o in st.get("queries", [])}
        snap = "pool.snapshot.query" if version == "25.10" else "zfs.snapshot.query"
        if transport == "rest":
            snap = "/zfs/snapshot"
            names = {"datasets": "/pool/dataset", "snapshots": snap, "nfs": "/sharing/nfs",
                     "extents": "/iscsi/extent", "targets": "/iscsi/target", "tes": "/iscsi/targetextent"}
        else:
            names = {"datasets": "pool.dataset.query", "snapshots": snap, "nfs": "sharing.nfs.query",
                     "extents": "iscsi.extent.query", "targets": "iscsi.target.query",
                     "tes": "iscsi.targetextent.query"}
        for what, m in sorted(names.items()):
            sel = (q.get(m) or {}).get("select")
            ok(isinstance(sel, list) and len(sel) > 0, "%s: %s carries a select" % (version, m), q.get(m))
        dsel = (q.get(names["datasets"]) or {}).get("select") or []
        ssel = (q.get(names["snapshots"]) or {}).get("select") or []
        flat = [s[0] for s in dsel if isinstance(s, list)]
        ok("user_properties.democratic-csi:managed_resource.rawvalue" in flat and "refquota.rawvalue" in flat
           and (q.get(names["datasets"]) or {}).get("extra", {}).get("retrieve_children") is False,
           "%s: datasets select rawvalues of the native and democratic-csi properties, flat" % version, dsel)
        ok(["properties.democratic-csi:csi_snapshot_name.source", "democratic-csi:csi_snapshot_name@source"] in ssel
           and "properties" not in ssel, "%s: snapshots select the csi_snapshot_name source, not all properties" % version,
           ssel)
        # the planted world judged through the selected replies: every firing case, no near miss
        bad = []
        for check, p in sorted(w["scenario"]["plants"].items()):
            for e in p["fire"]:
                if check == "CFG-TN" and e["kind"] == "Service":
                    continue
                got = max([rank(f["severity"]) for f in doc.get("data", {}).get("findings", [])
                           if f["check"] == check and f["object"]["name"] == e["name"]] or [0])
                if got != rank(e["severity"]):
                    bad.append((check, e["name"], e["severity"], got))
            for e in p.get("near", []):
                if any(f["check"] == check and f["object"]["name"] == e["name"] and rank(f["severity"]) > 1
                       for f in doc.get("data", {}).get("findings", [])):
                    bad.append((check, "near miss", e["name"]))
        ok(not bad, "%s: every plant fires with its severity and no near miss does, through select" % version, bad)
        stop(tp)

    # ---- kube.py pages from pre-encoded objects ----
    pv = get(kurl + "/api/v1/persistentvolumes?limit=3", "load-token", ctx)
    names = [o["metadata"]["name"] for o in w["kube"]["persistentvolumes"]]
    ok([o["metadata"]["name"] for o in pv["items"]] == sorted(names)[:3] and "kind" not in pv["items"][0]
       and pv["kind"] == "PersistentVolumeList" and pv["metadata"].get("continue"),
       "kube sim: a page of PVs in name order, built-in items without kind", pv["metadata"])
    whole = {o["metadata"]["name"]: o for o in w["kube"]["persistentvolumes"]}
    first = pv["items"][0]
    ok(all(first[k] == whole[first["metadata"]["name"]][k] for k in ("spec", "status")),
       "kube sim: the encoded object is the world's")
    vs = get(kurl + "/apis/snapshot.storage.k8s.io/v1/volumesnapshots?limit=1", "load-token", ctx)
    ok(vs["items"][0].get("kind") == "VolumeSnapshot" and vs["items"][0].get("apiVersion") == "snapshot.storage.k8s.io/v1",
       "kube sim: CRD items carry kind and apiVersion")
    post(kurl + "/_sim/mutate", {"op": "add", "resource": "persistentvolumes",
                                 "object": {"metadata": {"name": "aaa-new-pv"}, "spec": {}, "status": {"phase": "Available"}}}, ctx)
    try:
        get(kurl + "/api/v1/persistentvolumes?limit=3&continue=" + pv["metadata"]["continue"], "load-token", ctx)
        ok(False, "kube sim: a write expires the older continue token (410)")
    except urllib.error.HTTPError as e:
        ok(e.code == 410, "kube sim: a write expires the older continue token (%d)" % e.code)
    pv2 = get(kurl + "/api/v1/persistentvolumes?limit=1", "load-token", ctx)
    ok(pv2["items"][0]["metadata"]["name"] == "aaa-new-pv", "kube sim: the page after a write holds the new object")
finally:
    for p in procs:
        stop(p)

print("1..%d" % n)
sys.exit(1 if failed else 0)
