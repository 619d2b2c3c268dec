#!/usr/bin/python3
"""Helper of tests/real/swift-accounts.t: Swift containers in other projects' accounts, real devcloud.

  swift_accounts.py config STATE             the proxy's keystoneauth has reseller_admin_role, keystone
                                             has the role; prints them
  swift_accounts.py setup STATE OUT          make the setup below, write ids and the reseller user's
                                             password to OUT (mode 0600)
  swift_accounts.py env SETUP                shell exports for the reseller user (OS_USERNAME, OS_PASSWORD)
  swift_accounts.py listed SETUP ORPHANS MODE  osmon-orphans' JSON: MODE reseller = the Rally and dead
                                             accounts' containers, nothing of the live one; MODE own =
                                             the own account's only, and the note
  swift_accounts.py from SETUP ORPHANS OUT   --from file: this setup's part of ORPHANS plus a hand-edited
                                             entry for the live project's container (reason owner);
                                             OUT.others: its containers in other accounts only
  swift_accounts.py purged SETUP PURGE MODE  osmon-purge's JSON: MODE noreseller = the other accounts'
                                             containers failed (403), nothing deleted there; MODE
                                             reseller = deleted, the live one skipped (not-orphan)
  swift_accounts.py left SETUP MODE          what Swift itself holds now (GET as the reseller user,
                                             not through the tools): MODE before = everything of the
                                             setup; MODE after = the Rally and dead accounts empty, the
                                             live and the admin decoy untouched, with their objects
  swift_accounts.py cleanup STATE SETUP      delete whatever of the setup is left (404 is fine)

The setup (every name carries a random tag, so a reused cloud never collides):
  infrakit-swres-TAG  user with admin and ResellerAdmin on project admin (the tools run as it)
  c_rally_X_Y (live)  project; containers "mybucket-TAG" (objects a, dir/b) and s_rally_X_Y (object o)
  c_rally_X_Y (dead)  project with a network (neutron: the only trace of it once it is gone) and
                      container "dead-TAG" (object d1); then the project is deleted
  swacct-live-TAG     a live non-Rally project; container "keep-me-TAG" (object q): never listed,
                      never deleted, even named in --from
  admin account       "swacct-keep-TAG" (object x): a decoy; s_rally_X_Y (object o): an orphan by name
Only 127.0.0.1.  Uses scripts/devcloud-helper.py's Api (admin token from STATE/secrets).
"""
import importlib.util
import json
import os
import random
import string
import sys
import urllib.parse

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_spec = importlib.util.spec_from_file_location("devcloud_helper", os.path.join(SRC, "scripts", "devcloud-helper.py"))
_dh = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_dh)

ALNUM = string.ascii_letters + string.digits


def rand(n, chars=ALNUM):
    return "".join(random.choice(chars) for _ in range(n))


def rally_name(prefix):
    return "%s_rally_%s_%s" % (prefix, rand(8, "0123456789abcdef"), rand(8))


def load(p):
    with open(p) as f:
        return json.load(f)


def save(p, obj):
    fd = os.open(p + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
    os.replace(p + ".tmp", p)


class Cloud(_dh.Api):
    def __init__(self, state, user="admin", password=None):
        super().__init__(state)
        self.roles = self.auth(user, password)["token"].get("roles", [])
        self.surl = "http://%s:%s/v1" % (_dh.HOST, self.ports["swift_proxy"])

    def s(self, method, acct, path="", ok=(200, 201, 202, 204), data=None):
        url = "%s/AUTH_%s%s" % (self.surl, acct, path)
        return self.req(method, url, ok=ok, raw=data)

    def containers(self, acct):
        st, _, body = self.s("GET", acct, "?format=json", ok=(200, 204, 404))
        return [c["name"] for c in (body or [])] if st in (200,) else []

    def objects(self, acct, cont):
        st, _, body = self.s("GET", acct, "/" + urllib.parse.quote(cont) + "?format=json", ok=(200, 204, 404))
        return sorted(o["name"] for o in (body or [])) if st == 200 else None


def cmd_config(state):
    conf = open(os.path.join(state, "swift", "etc", "proxy-server.conf")).read()
    sect = conf.split("[filter:keystoneauth]", 1)[1].split("\n[", 1)[0]
    line = [x.strip() for x in sect.splitlines() if x.strip().startswith("reseller_admin_role")]
    api = _dh.Api(state)
    api.auth()
    roles = [r["name"] for r in api.k("GET", "/roles")["roles"]]
    if not line or "ResellerAdmin" not in roles:
        print("keystoneauth: %s; keystone roles: %s" % (line or "no reseller_admin_role", roles))
        return 1
    print("%s; keystone has the role ResellerAdmin" % line[0])
    return 0


def cmd_setup(state, out):
    a = Cloud(state)
    tag = rand(8, string.ascii_lowercase + string.digits)
    s = {"tag": tag, "admin_project": a.project_id, "projects": [], "users": [], "networks": []}
    save(out, s)
    roles = {r["name"]: r["id"] for r in a.k("GET", "/roles")["roles"]}

    def project(name):
        p = a.k("POST", "/projects", {"project": {"name": name, "domain_id": "default", "enabled": True}})["project"]
        s["projects"].append(p["id"])
        save(out, s)
        return p["id"]

    pw = rand(24)
    u = a.k("POST", "/users", {"user": {"name": "infrakit-swres-" + tag, "domain_id": "default", "password": pw,
                                         "enabled": True}})["user"]
    s["users"].append(u["id"])
    s["reseller_user"], s["reseller_password"] = u["name"], pw
    for rn in ("admin", "ResellerAdmin"):
        a.k("PUT", "/projects/%s/users/%s/roles/%s" % (a.project_id, u["id"], roles[rn]))
    save(out, s)
    r = Cloud(state, u["name"], pw)
    if "ResellerAdmin" not in [x["name"] for x in r.roles]:
        raise SystemExit("the reseller user's token has no ResellerAdmin role: %s" % r.roles)

    s["rally"] = project(rally_name("c"))
    s["dead"] = project(rally_name("c"))
    s["live"] = project("swacct-live-" + tag)
    s["c_rally_bucket"], s["c_rally_named"] = "mybucket-" + tag, rally_name("s")
    s["c_dead"], s["c_live"] = "dead-" + tag, "keep-me-" + tag
    s["c_admin_keep"], s["c_admin_rally"] = "swacct-keep-" + tag, rally_name("s")
    save(out, s)

    def put(acct, cont, objs):
        r.s("PUT", acct, "/" + urllib.parse.quote(cont), data=b"")
        for o in objs:
            r.s("PUT", acct, "/%s/%s" % (urllib.parse.quote(cont), urllib.parse.quote(o)), data=b"x")

    put(s["rally"], s["c_rally_bucket"], ["a", "dir/b"])
    put(s["rally"], s["c_rally_named"], ["o"])
    put(s["dead"], s["c_dead"], ["d1"])
    put(s["live"], s["c_live"], ["q"])
    put(a.project_id, s["c_admin_keep"], ["x"])
    put(a.project_id, s["c_admin_rally"], ["o"])
    # what a dead project leaves elsewhere: a network that names it as owner
    nurl = "http://%s:%s/v2.0" % (_dh.HOST, a.ports["neutron"])
    net = a.req("POST", nurl + "/networks", {"network": {"name": "swacct-net-" + tag, "project_id": s["dead"]}})[2]
    s["networks"].append(net["network"]["id"])
    save(out, s)
    a.k("DELETE", "/projects/" + s["dead"])
    s["projects"].remove(s["dead"])
    save(out, s)
    print("tag %s: rally %s, dead %s (deleted), live %s" % (tag, s["rally"], s["dead"], s["live"]))
    return 0


def cmd_env(setup):
    s = load(setup)
    print("export OS_USERNAME=%s OS_PASSWORD=%s" % (s["reseller_user"], s["reseller_password"]))
    return 0


def containers_of(doc):
    return {(o["project"], o["name"]): o for o in doc["data"]["orphans"]
            if o["type"] == "containers"}


def cmd_listed(setup, orphans, mode):
    s, doc = load(setup), load(orphans)
    got = containers_of(doc)
    sw = doc["data"].get("swift_accounts") or {}
    bad = []
    mine = {(p, n) for (p, n) in got if p in (s["rally"], s["dead"], s["live"], s["admin_project"])}
    if mode == "reseller":
        want = {(s["rally"], s["c_rally_bucket"]): "owner", (s["rally"], s["c_rally_named"]): "name",
                (s["dead"], s["c_dead"]): "dead-owner", (s["admin_project"], s["c_admin_rally"]): "name"}
        if sw.get("other_accounts") is not True or sw.get("note"):
            bad.append("swift_accounts: %s" % sw)
    else:
        want = {(s["admin_project"], s["c_admin_rally"]): "name"}
        if sw.get("other_accounts") is not False or "ResellerAdmin" not in (sw.get("note") or ""):
            bad.append("no note: swift_accounts = %s" % sw)
    for k, reason in want.items():
        if k not in got:
            bad.append("missing %s/%s" % k)
        elif got[k]["reason"] != reason:
            bad.append("%s/%s: reason %s, not %s" % (k[0], k[1], got[k]["reason"], reason))
    for k in sorted(mine - set(want)):
        bad.append("listed %s/%s (%s)" % (k[0], k[1], got[k]["reason"]))
    if bad:
        print("\n".join(bad))
        return 1
    print("%d containers of this setup listed, as expected" % len(want))
    return 0


def cmd_from(setup, orphans, out):
    s, doc = load(setup), load(orphans)
    keep = []
    for o in doc["data"]["orphans"]:
        if o["type"] == "containers" and o.get("project") in (s["rally"], s["dead"], s["live"]) \
                or o["type"] == "containers" and o["name"] == s["c_admin_rally"] \
                or o["type"] == "networks" and o["id"] in s["networks"]:
            keep.append(o)
    keep.append({"service": "object-store", "type": "containers", "id": "%s/%s" % (s["live"], s["c_live"]),
                 "name": s["c_live"], "project": s["live"], "reason": "owner", "kind": "context"})
    doc["data"]["orphans"] = keep
    save(out, doc)
    # OUT.others: the other accounts' containers only (for the run without the role)
    doc["data"]["orphans"] = [o for o in keep if o["type"] == "containers" and "/" in o["id"]]
    save(out + ".others", doc)
    print("%d entries, %d in other accounts" % (len(keep), len(doc["data"]["orphans"])))
    return 0


def cmd_purged(setup, purge, mode):
    s, doc = load(setup), load(purge)
    res = {}
    for it in doc["data"].get("plan", []):
        if it["type"] == "containers":
            res[it["name"]] = (it["result"], it.get("skip_reason"), it.get("message", ""))
    bad = []
    if mode == "noreseller":
        for c in (s["c_rally_bucket"], s["c_rally_named"], s["c_dead"], s["c_live"]):
            r = res.get(c)
            if not r or r[0] != "failed" or "403" not in r[2]:
                bad.append("%s: %s (want failed with HTTP 403)" % (c, r))
    else:
        for c in (s["c_rally_bucket"], s["c_rally_named"], s["c_dead"], s["c_admin_rally"]):
            if res.get(c, ("?",))[0] != "deleted":
                bad.append("%s: %s (want deleted)" % (c, res.get(c)))
        r = res.get(s["c_live"])
        if not r or r[0] != "skipped" or r[1] != "not-orphan":
            bad.append("%s: %s (want skipped, not-orphan)" % (s["c_live"], r))
    if bad:
        print("\n".join(bad))
        return 1
    print(", ".join("%s %s" % (k, v[0]) for k, v in sorted(res.items())))
    return 0


def cmd_left(setup, mode):
    s = load(setup)
    r = Cloud(os.environ["DEVCLOUD_STATE"], s["reseller_user"], s["reseller_password"])
    have = {
        "rally": {c: r.objects(s["rally"], c) for c in r.containers(s["rally"])},
        "dead": {c: r.objects(s["dead"], c) for c in r.containers(s["dead"])},
        "live": {c: r.objects(s["live"], c) for c in r.containers(s["live"])},
        "admin": {c: r.objects(s["admin_project"], c) for c in (s["c_admin_keep"], s["c_admin_rally"])
                  if r.objects(s["admin_project"], c) is not None},
    }
    full = {"rally": {s["c_rally_bucket"]: ["a", "dir/b"], s["c_rally_named"]: ["o"]},
            "dead": {s["c_dead"]: ["d1"]}, "live": {s["c_live"]: ["q"]},
            "admin": {s["c_admin_keep"]: ["x"], s["c_admin_rally"]: ["o"]}}
    if mode == "after":
        full.update({"rally": {}, "dead": {}, "admin": {s["c_admin_keep"]: ["x"]}})
    if have != full:
        print("Swift holds %s\nexpected    %s" % (json.dumps(have, sort_keys=True), json.dumps(full, sort_keys=True)))
        return 1
    print("Swift: " + "; ".join("%s %s" % (k, sorted(v)) for k, v in sorted(have.items())))
    return 0


def cmd_cleanup(state, setup):
    s = load(setup)
    a = Cloud(state)
    try:
        r = Cloud(state, s["reseller_user"], s["reseller_password"])
    except Exception:
        r = None
    if r:
        for acct in [x for x in (s.get("rally"), s.get("dead"), s.get("live")) if x] + [s["admin_project"]]:
            for c in r.containers(acct):
                if acct == s["admin_project"] and c not in (s.get("c_admin_keep"), s.get("c_admin_rally")):
                    continue
                for o in r.objects(acct, c) or []:
                    r.s("DELETE", acct, "/%s/%s" % (urllib.parse.quote(c), urllib.parse.quote(o)), ok=(204, 404))
                r.s("DELETE", acct, "/" + urllib.parse.quote(c), ok=(204, 404, 409))
    nurl = "http://%s:%s/v2.0" % (_dh.HOST, a.ports["neutron"])
    for n in s.get("networks", []):
        a.req("DELETE", nurl + "/networks/" + n, ok=(204, 404))
    for p in s.get("projects", []):
        a.k("DELETE", "/projects/" + p, ok=(204, 404))
    for u in s.get("users", []):
        a.k("DELETE", "/users/" + u, ok=(204, 404))
    return 0


def main(argv):
    cmds = {"config": (cmd_config, 1), "setup": (cmd_setup, 2), "env": (cmd_env, 1), "listed": (cmd_listed, 3),
            "from": (cmd_from, 3), "purged": (cmd_purged, 3), "left": (cmd_left, 2), "cleanup": (cmd_cleanup, 2)}
    if len(argv) < 2 or argv[1] not in cmds or len(argv) - 2 != cmds[argv[1]][1]:
        print(__doc__, file=sys.stderr)
        return 2
    return cmds[argv[1]][0](*argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
