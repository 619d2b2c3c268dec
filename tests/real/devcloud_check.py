#!/usr/bin/python3
"""Checks used by tests/real/devcloud.t.  Each command prints a one-line reason on failure
(to stdout) and exits non-zero; on success it prints a short summary and exits 0.

  devcloud_check.py manifest MANIFEST [TYPES]       sanity of the manifest itself (TYPES: more required
                                                    orphan types, comma-separated)
  devcloud_check.py listed MANIFEST CLI_OUTPUT      every manifest id is in the `openstack ... list` output
  devcloud_check.py found MANIFEST TOOL.json        every expected orphan id appears in the tool's JSON
  devcloud_check.py nodecoy MANIFEST TOOL.json      no decoy id appears in the tool's JSON (near-misses apart)
  devcloud_check.py nonearmiss MANIFEST TOOL.json   no near-miss decoy id appears (s_rally_/c_rally_ names
                                                    that break the rally grammar)
  devcloud_check.py none MANIFEST TOOL.json         no manifest orphan id appears (after the purge)
  devcloud_check.py prom MANIFEST TOOL.prom         osmon_orphans samples add up to >= the orphans
  devcloud_check.py same SNAP1 SNAP2                nothing was created or deleted between two snapshots
  devcloud_check.py gone MANIFEST SNAP              every expected orphan is gone
  devcloud_check.py survive MANIFEST SNAP           every decoy (and every non-orphan) is still there
  devcloud_check.py survivenearmiss MANIFEST SNAP   every near-miss decoy is still there
"""
import json
import re
import sys

RALLY_NAME = re.compile(r"^[sc]_rally_[0-9a-f]{8}_[A-Za-z0-9]{8}")
NEED_TYPES = ("project", "user", "network", "subnet", "router", "port", "security_group", "floatingip", "image", "volume")


def load(p):
    with open(p) as f:
        return json.load(f)


def strings(obj, out=None):
    """Every string (values and keys) anywhere in a JSON document: shape-agnostic id search."""
    out = set() if out is None else out
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.add(k)
            strings(v, out)
    elif isinstance(obj, list):
        for v in obj:
            strings(v, out)
    elif isinstance(obj, str):
        out.add(obj)
    return out


def orphans(m):
    return [r for r in m["resources"] if r["expected_orphan"]]


def decoys(m):
    return [r for r in m["resources"] if r["source"] == "decoy"]


def keep(m, near_miss):
    """Resources that must survive: near-miss decoys, or every other non-orphan."""
    return [r for r in m["resources"] if not r["expected_orphan"] and (r["ring"] == "near-miss") == near_miss]


def fail(msg):
    print(msg)
    sys.exit(1)


def short(rs, n=6):
    s = ", ".join("%s %s %r" % (r["type"], r["id"][:8], r["name"]) for r in rs[:n])
    return s + (" ... (%d in all)" % len(rs) if len(rs) > n else "")


def cmd_manifest(m, extra_types=""):
    m = load(m)
    tasks = m.get("rally_tasks", [])
    bad = [t["file"] for t in tasks if not t.get("killed_mid_run") or t.get("status") != "running"]
    if not tasks:
        fail("no rally task in the manifest")
    if bad:
        fail("rally tasks not killed mid-run / not left 'running': %s" % bad)
    o = orphans(m)
    have = {r["type"] for r in o}
    miss = [t for t in NEED_TYPES + tuple(x for x in extra_types.split(",") if x) if t not in have]
    if miss:
        fail("no expected orphan of type(s) %s" % miss)
    if not [r for r in o if r["ring"] == "owner"]:
        fail("no orphan found only through its owner (unnamed port / default security group)")
    badname = [r for r in o if r["ring"] == "name" and not RALLY_NAME.match(r["name"])]
    if badname:
        fail("ring=name orphans whose name does not match: %s" % short(badname))
    d = decoys(m)
    if len(d) < 8:
        fail("only %d decoys" % len(d))
    if not [r for r in d if r["ring"] == "near-miss"] or not [r for r in d if r["ring"] == "decoy"]:
        fail("decoys of both classes (near-miss and plain) are needed")
    dm = [r for r in d if RALLY_NAME.match(r["name"])]
    if dm:
        fail("decoys that do match the rally grammar: %s" % short(dm))
    if not any("rally" in r["name"].lower() for r in d):
        fail("no decoy has 'rally' in its name")
    other = [r for r in m["resources"] if not r["expected_orphan"] and r["source"] != "decoy"]
    if other:
        fail("unexplained new resources: %s" % short(other))
    print("%d rally tasks killed mid-run, %d orphans (%s), %d decoys" % (
        len(tasks), len(o), " ".join(sorted(have)), len(d)))


def cmd_listed(m, cli_out):
    m = load(m)
    text = open(cli_out).read()
    # the interactive CLI prints one JSON array per command; pull them all out
    dec, pos, seen = json.JSONDecoder(), 0, set()
    while True:
        i = text.find("[", pos)
        if i < 0:
            break
        try:
            obj, end = dec.raw_decode(text, i)
        except ValueError:
            pos = i + 1
            continue
        seen |= strings(obj)
        pos = end
    miss = [r for r in m["resources"] if r["id"] not in seen]
    if miss:
        fail("not in the openstack CLI lists: %s" % short(miss))
    print("all %d manifest resources are in the CLI lists" % len(m["resources"]))


def cmd_found(m, tool):
    m, t = load(m), strings(load(tool))
    want = [r for r in orphans(m) if r["ring"] != "implicit"]
    miss = [r for r in want if r["id"] not in t]
    if miss:
        fail("expected orphans not reported: %s" % short(miss))
    print("all %d expected orphans reported" % len(want))


def cmd_nodecoy(m, tool, near_miss=False):
    m, t = load(m), strings(load(tool))
    k = keep(m, near_miss)
    hit = [r for r in k if r["id"] in t]
    if hit:
        fail("%s reported as orphans: %s" % ("near-miss decoys" if near_miss else "decoys", short(hit)))
    print("none of %d %s reported" % (len(k), "near-miss decoys" if near_miss else "decoys"))


def cmd_nonearmiss(m, tool):
    cmd_nodecoy(m, tool, near_miss=True)


def cmd_none(m, tool):
    m, t = load(m), strings(load(tool))
    hit = [r for r in orphans(m) if r["id"] in t]
    if hit:
        fail("purged orphans still reported: %s" % short(hit))
    print("none of the %d purged orphans reported" % len(orphans(m)))


PROM_FAMILIES = ("osmon_orphaned_resources", "osmon_orphans")   # docs/osmon-orphans.md; first found wins


def cmd_prom(m, prom):
    m = load(m)
    totals, fams = {}, set()
    for line in open(prom):
        if line.startswith("#") or not line.strip():
            continue
        name = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0)
        fams.add(name)
        if name in PROM_FAMILIES:
            totals[name] = totals.get(name, 0.0) + float(line.rsplit(None, 1)[-1])
    fam = next((f for f in PROM_FAMILIES if f in fams), None)
    if fam is None:
        fail("no %s family (families: %s)" % (" or ".join(PROM_FAMILIES), " ".join(sorted(fams))[:300]))
    want = [r for r in orphans(m) if r["ring"] != "implicit"]   # implicit ones need not be reported
    if totals[fam] < len(want):
        fail("%s adds up to %g, the manifest has %d reportable orphans" % (fam, totals[fam], len(want)))
    print("%s adds up to %g (manifest: %d reportable)" % (fam, totals[fam], len(want)))


def ids(snap):
    return {(t, i) for t, items in snap.items() for i in items}


def cmd_same(a, b):
    a, b = ids(load(a)), ids(load(b))
    if a != b:
        fail("changed: %d deleted (%s), %d created (%s)" % (
            len(a - b), sorted(a - b)[:4], len(b - a), sorted(b - a)[:4]))
    print("nothing changed (%d resources)" % len(a))


def cmd_gone(m, snap):
    m, s = load(m), ids(load(snap))
    left = [r for r in orphans(m) if (r["type"], r["id"]) in s]
    if left:
        fail("orphans still there: %s" % short(left))
    print("all %d orphans gone" % len(orphans(m)))


def cmd_survive(m, snap, near_miss=False):
    m, s = load(m), ids(load(snap))
    k = keep(m, near_miss)
    lost = [r for r in k if (r["type"], r["id"]) not in s]
    what = "near-miss decoys" if near_miss else "decoys"
    if lost:
        fail("%s deleted: %s" % (what, short(lost)))
    print("all %d %s survive" % (len(k), what))


def cmd_survivenearmiss(m, snap):
    cmd_survive(m, snap, near_miss=True)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    f = globals().get("cmd_" + sys.argv[1])
    if not f:
        sys.exit(__doc__)
    f(*sys.argv[2:])
