#!/usr/bin/env python3
"""Check what a running openstack.py simulator holds (for tests).

usage: osstate.py URL [--none-start PREFIX]... [--has NAME]... [--count N] [--field T/NAME/F=JSON]...
  --none-start P  no resource name starts with P (fails listing those that do)
  --has NAME      a resource with this name exists
  --count N       exactly N resources exist (all types, objects excluded)
  --field T/NAME/F=JSON  the resource of type T named NAME (floating IPs: description; or its id)
                  exists and its field F equals the JSON value (e.g. floatingips/x/port_id=null)
Exit 0 when every condition holds, 1 otherwise (reasons on stderr).
"""
import argparse
import json
import sys
import urllib.request

ap = argparse.ArgumentParser()
ap.add_argument("url")
ap.add_argument("--none-start", action="append", default=[])
ap.add_argument("--has", action="append", default=[])
ap.add_argument("--count", type=int)
ap.add_argument("--field", action="append", default=[])
a = ap.parse_args()
with urllib.request.urlopen(a.url.rstrip("/") + "/_sim/state", timeout=10) as r:
    state = json.load(r)
names = []
for t, v in state.items():
    if isinstance(v, list):
        names += [(t, x.split("|")[0]) for x in v]
bad = []
for p in a.none_start:
    left = [f"{t}:{n}" for t, n in names if n.startswith(p)]
    if left:
        bad.append(f"{len(left)} names start with {p}: {', '.join(left[:10])}")
for n in a.has:
    if n not in [x for _, x in names]:
        bad.append(f"{n} is gone")
if a.count is not None and len(names) != a.count:
    bad.append(f"{len(names)} resources, expected {a.count}")
if a.field:
    with urllib.request.urlopen(a.url.rstrip("/") + "/_sim/db", timeout=10) as r:
        db = json.load(r)
    for spec in a.field:
        path, _, want = spec.partition("=")
        t, name, field = path.split("/")
        recs = [x for x in db.get(t, []) if name in (x.get("id"), x.get("description") if t == "floatingips" else x.get("name"))]
        if not recs:
            bad.append(f"{t} {name} is gone")
        elif recs[0].get(field) != json.loads(want):
            bad.append(f"{t} {name}: {field} is {json.dumps(recs[0].get(field))}, expected {want}")
for b in bad:
    print("osstate: " + b, file=sys.stderr)
sys.exit(1 if bad else 0)
