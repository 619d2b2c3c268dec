#!/usr/bin/env python3
"""After-check of the swift-* purge cases: exactly these containers (ACCOUNT/NAME,
ACCOUNT = a project name, or the id of a project keystone no longer has) are left,
each with these objects.  usage: swift_left.py SIM_URL ACCOUNT/NAME=OBJ,OBJ ..."""
import json
import sys
import urllib.request

with urllib.request.urlopen(sys.argv[1].rstrip("/") + "/_sim/state", timeout=10) as r:
    st = json.load(r)
pname = {x.split("|")[1]: x.split("|")[0] for x in st["projects"]}
admin = [i for i, n in pname.items() if n == "admin"][0]
have = {}
for x in st["containers"]:
    name, cid = x.split("|", 1)
    acct = cid.split("/")[0] if "/" in cid else admin
    have["%s/%s" % (pname.get(acct, acct), name)] = sorted(st["objects"].get(cid, []))
want = {}
for a in sys.argv[2:]:
    k, _, objs = a.partition("=")
    want[k] = sorted(o for o in objs.split(",") if o)
if have != want:
    print("containers left: %s\nexpected:        %s" % (json.dumps(have, sort_keys=True), json.dumps(want, sort_keys=True)))
    sys.exit(1)
