#!/usr/bin/python3
"""Helper of tests/real/purge-safety.t: what osmon-purge must never delete, on a real devcloud.

  purge_safety.py ifmatch STATE                    Neutron's revision-if-match on a scratch security group
  purge_safety.py setup STATE OUT                  make the resources below, write their ids to OUT
  purge_safety.py from SETUP ORPHANS OUT           --from file: this setup's part of osmon-orphans' JSON
                                                   plus hand-edited entries discovery never reports
  purge_safety.py proxy STATE SETUP LOG            keystone + neutron proxy; renames the race SG when its
                                                   DELETE arrives, before forwarding it ("READY URL" first)
  purge_safety.py check WHAT STATE SETUP PURGE LOG one check (see CHECKS), exit 0 when it holds
  purge_safety.py cleanup STATE SETUP              delete whatever of the setup is left (404 is fine)

The setup (every name carries a random tag, so a reused cloud never collides):
  ps-public-TAG     external network + subnet (admin): the FIP's and the rally router's gateway network
  ps-gone-TAG       a plain project, deleted at the end of the setup
  ps-ext-TAG        external network owned by ps-gone-TAG        --from: dead-owner
  ps-shared-TAG     shared network owned by the rally project     --from: owner
  ps-user-TAG       user whose default project is ps-gone-TAG     --from: dead-owner
                    (made after the delete: keystone unsets default_project_id of existing users)
  s_rallyware-prod  network (admin)                               --from: name (a prefix match, not rally's grammar)
  c_rallye-db       security group (admin)                        --from: name
  c_rally_X_Y       project, with s_rally_ network, subnet, router (gateway on ps-public, interface),
                    port                                          from discovery
  FIP (admin project, description ps-admin-fip-TAG) on ps-public, associated with the rally port:
                    discovery reports it as attached; the purge must disassociate it and keep it
  s_rally_X_Y       security group (admin): renamed by the proxy between the purge's re-check and its
                    DELETE; Neutron must answer the conditional DELETE with 412 and the SG stays
Only 127.0.0.1.  Uses scripts/devcloud-helper.py's Api (token from STATE/secrets).
"""
import http.server
import importlib.util
import json
import os
import random
import string
import sys
import threading
import urllib.error
import urllib.request

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_spec = importlib.util.spec_from_file_location("devcloud_helper", os.path.join(SRC, "scripts", "devcloud-helper.py"))
_dh = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_dh)

ALNUM = string.ascii_letters + string.digits
COLL = {"network": "networks", "subnet": "subnets", "router": "routers", "port": "ports",
        "floatingip": "floatingips", "security_group": "security-groups"}


def rand(n, chars=ALNUM):
    return "".join(random.choice(chars) for _ in range(n))


def rally_name(prefix):
    # rally's RESOURCE_NAME_FORMAT: s_rally_XXXXXXXX_XXXXXXXX; the first part is hex in practice
    return "%s_rally_%s_%s" % (prefix, rand(8, "0123456789abcdef"), rand(8))


class Cloud(_dh.Api):
    def __init__(self, state):
        super().__init__(state)
        self.auth()
        self.nurl = "http://%s:%s/v2.0" % (_dh.HOST, self.ports["neutron"])

    def n(self, method, path, body=None, ok=(200, 201, 202, 204), headers=None):
        return self.req(method, self.nurl + path, body, headers=headers, ok=ok)

    def make(self, kind, body):
        return self.n("POST", "/" + COLL[kind], {kind: body})[2][kind]


def load(p):
    with open(p) as f:
        return json.load(f)


def save(p, obj):
    with open(p + ".tmp", "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
    os.replace(p + ".tmp", p)


# ---------------------------------------------------------------- facts about the real Neutron
def cmd_ifmatch(state):
    c = Cloud(state)
    exts = {e["alias"] for e in c.n("GET", "/extensions")[2]["extensions"]}
    if "revision-if-match" not in exts:
        sys.exit("neutron does not list the revision-if-match extension")
    sg = c.make("security_group", {"name": "ps-ifmatch-" + rand(8), "project_id": c.project_id})
    r0 = sg["revision_number"]
    r1 = c.n("PUT", "/security-groups/" + sg["id"], {"security_group": {"name": "ps-ifmatch-renamed"}})[2][
        "security_group"]["revision_number"]
    h = {"If-Match": "revision_number=%d" % r0}
    code, _, body = c.n("DELETE", "/security-groups/" + sg["id"], headers=h, ok=(204, 412))
    if code != 412:
        c.n("DELETE", "/security-groups/" + sg["id"], ok=(204, 404))
        sys.exit("DELETE with the stale revision %d answered %d (want 412)" % (r0, code))
    err = (body or {}).get("NeutronError", {}).get("type", "") if isinstance(body, dict) else ""
    code2 = c.n("DELETE", "/security-groups/" + sg["id"], headers={"If-Match": "revision_number=%d" % r1},
                ok=(204, 412))[0]
    if code2 != 204:
        c.n("DELETE", "/security-groups/" + sg["id"], ok=(204, 404))
        sys.exit("DELETE with the current revision %d answered %d (want 204)" % (r1, code2))
    if r1 <= r0:
        sys.exit("a rename did not bump revision_number (%d -> %d)" % (r0, r1))
    print("rename bumps revision_number %d -> %d; DELETE If-Match: revision_number=%d -> 412 %s; "
          "revision_number=%d -> 204" % (r0, r1, r0, err, r1))


# ---------------------------------------------------------------- setup
def cmd_setup(state, out):
    c = Cloud(state)
    tag = rand(8, string.ascii_lowercase + string.digits)
    admin = c.project_id
    s = {"tag": tag, "admin_project": admin, "created": []}

    def rec(kind, obj, name=None, role=None):
        s["created"].append({"kind": kind, "id": obj["id"], "name": name if name is not None else obj.get("name", ""),
                             "role": role})
        return obj

    def project(name):
        return c.k("POST", "/projects", {"project": {"name": name, "domain_id": "default"}})["project"]

    # infrastructure the FIP and the rally router's gateway hang off (not in the --from)
    pub = rec("network", c.make("network", {"name": "ps-public-" + tag, "router:external": True,
                                            "project_id": admin}), role="infra")
    rec("subnet", c.make("subnet", {"name": "ps-public-subnet-" + tag, "network_id": pub["id"], "ip_version": 4,
                                    "cidr": "198.51.100.0/24", "enable_dhcp": False, "project_id": admin}),
        role="infra")
    # a plain project, to be deleted below: its external network and its user look "dead-owner"
    gone = rec("project", project("ps-gone-" + tag), role="gone")
    s["gone_project"] = gone["id"]
    ext = rec("network", c.make("network", {"name": "ps-ext-" + tag, "router:external": True,
                                            "project_id": gone["id"]}), role="external")
    # the rally project and its resources
    rp = rec("project", project(rally_name("c")), role="rally")
    s["rally_project"] = rp["id"]
    shared = rec("network", c.make("network", {"name": "ps-shared-" + tag, "shared": True,
                                               "project_id": rp["id"]}), role="shared")
    net = rec("network", c.make("network", {"name": rally_name("s"), "project_id": rp["id"]}), role="rally")
    sub = rec("subnet", c.make("subnet", {"name": rally_name("s"), "network_id": net["id"], "ip_version": 4,
                                          "cidr": "10.251.%d.0/24" % random.randint(0, 255),
                                          "project_id": rp["id"]}), role="rally")
    rt = rec("router", c.make("router", {"name": rally_name("s"), "project_id": rp["id"],
                                         "external_gateway_info": {"network_id": pub["id"]}}), role="rally")
    c.n("PUT", "/routers/%s/add_router_interface" % rt["id"], {"subnet_id": sub["id"]})
    port = rec("port", c.make("port", {"name": rally_name("s"), "network_id": net["id"], "project_id": rp["id"],
                                       "fixed_ips": [{"subnet_id": sub["id"]}]}), role="rally-port")
    s["rally_port"] = port["id"]
    fip = c.make("floatingip", {"floating_network_id": pub["id"], "project_id": admin,
                                "description": "ps-admin-fip-" + tag, "port_id": port["id"]})
    rec("floatingip", fip, name=fip["description"], role="fip")
    s["fip"] = fip["id"]
    s["fip_address"] = fip["floating_ip_address"]
    if fip.get("port_id") != port["id"]:
        sys.exit("floating IP %s not associated with the rally port (port_id %r)" % (fip["id"], fip.get("port_id")))
    # names a prefix match takes but rally's grammar does not
    rec("network", c.make("network", {"name": "s_rallyware-prod", "project_id": admin}), role="prefix")
    rec("security_group", c.make("security_group", {"name": "c_rallye-db", "project_id": admin}), role="prefix")
    # the race: a rally-named SG of the admin project, renamed by the proxy just before its DELETE
    race = rec("security_group", c.make("security_group", {"name": rally_name("s"), "project_id": admin}),
               role="race")
    s["race_sg"] = race["id"]
    s["race_rename"] = "ps-renamed-by-user-" + tag
    # now the plain project goes: its network and user are left behind, not rally's
    c.k("DELETE", "/projects/" + gone["id"])
    # keystone unsets default_project_id when the project is deleted through its API, but does not check
    # that it exists when a user is made (a project removed behind its back, another backend): a user
    # of a deleted project
    rec("user", c.k("POST", "/users", {"user": {"name": "ps-user-" + tag, "domain_id": "default",
                                                 "default_project_id": gone["id"],
                                                 "password": rand(24)}})["user"], role="user")
    save(out, s)
    roles = {}
    for r in s["created"]:
        roles[r["role"]] = roles.get(r["role"], 0) + 1
    print("tag %s: %d resources (%s); FIP %s on the rally port; project ps-gone-%s deleted" % (
        tag, len(s["created"]), ", ".join("%s %d" % kv for kv in sorted(roles.items())), fip["floating_ip_address"],
        tag))


# ---------------------------------------------------------------- the --from file
HAND_EDITS = {   # role -> (service, type, reason): what a careless or hostile edit would add
    "external": ("network", "networks", "dead-owner"),
    "shared": ("network", "networks", "owner"),
    "user": ("identity", "users", "dead-owner"),
    "prefix": (None, None, "name"),
}


def cmd_from(setup, orphans, out):
    s = load(setup)
    doc = load(orphans)
    found = doc.get("data", doc).get("orphans", [])
    ours = {r["id"] for r in s["created"]}
    keep, ids = [], set()
    changed = True
    # this setup's part of discovery: its ids, anything of the rally project, anything hanging off those
    while changed:
        changed = False
        for o in found:
            if o["id"] in ids:
                continue
            if o["id"] in ours or o.get("project") == s["rally_project"] or (o.get("parent") in ids):
                keep.append(o)
                ids.add(o["id"])
                changed = True
    edits = 0
    for r in s["created"]:
        if r["role"] not in HAND_EDITS or r["id"] in ids:
            continue
        svc, typ, reason = HAND_EDITS[r["role"]]
        if svc is None:
            svc, typ = "network", r["kind"] + "s"
        proj = s["gone_project"] if reason == "dead-owner" else (
            s["rally_project"] if reason == "owner" else s["admin_project"])
        keep.append({"service": svc, "type": typ, "id": r["id"], "name": r["name"], "project": proj,
                     "reason": reason, "kind": "context" if reason != "name" else "scenario"})
        ids.add(r["id"])
        edits += 1
    save(out, {"tool": "osmon-orphans", "status": "warning", "errors": [], "data": {"orphans": keep}})
    print("%d from discovery, %d hand-edited" % (len(keep) - edits, edits))


# ---------------------------------------------------------------- the proxy
class Proxy:
    def __init__(self, state, setup, log):
        self.c = Cloud(state)
        self.s = load(setup)
        self.log = open(log, "a")
        self.lock = threading.Lock()
        self.renamed = False
        self.kup = "http://%s:%s" % (_dh.HOST, self.c.ports["keystone"])
        self.nup = "http://%s:%s" % (_dh.HOST, self.c.ports["neutron"])

    def note(self, **kw):
        with self.lock:
            self.log.write(json.dumps(kw, sort_keys=True) + "\n")
            self.log.flush()

    def handler(self, upstream):
        px = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else None
                hdrs = {k: v for k, v in self.headers.items()
                        if k.lower() not in ("host", "accept-encoding", "connection", "content-length",
                                             "transfer-encoding")}
                entry = {"method": self.command, "path": self.path, "if_match": self.headers.get("If-Match")}
                race = "/v2.0/security-groups/" + px.s["race_sg"]
                with px.lock:
                    first = self.command == "DELETE" and self.path.split("?")[0] == race and not px.renamed
                    px.renamed = px.renamed or first
                if first:
                    # between the purge's last look and its DELETE: someone renames the group
                    b = px.c.n("PUT", "/security-groups/" + px.s["race_sg"],
                               {"security_group": {"name": px.s["race_rename"]}})[2]
                    entry["renamed_to"] = px.s["race_rename"]
                    entry["revision_after_rename"] = b["security_group"]["revision_number"]
                req = urllib.request.Request(upstream + self.path, data=body, method=self.command, headers=hdrs)
                try:
                    with urllib.request.urlopen(req, timeout=60) as r:
                        code, rh, data = r.status, r.headers, r.read()
                except urllib.error.HTTPError as e:
                    code, rh, data = e.code, e.headers, e.read()
                except (urllib.error.URLError, OSError) as e:
                    code, rh, data = 502, {}, str(e).encode()
                if data:   # the catalog, neutron's version document and its links: through the proxy
                    data = data.replace(px.nup.encode(), px.nurl.encode())
                entry["status"] = code
                px.note(**entry)
                self.send_response(code)
                for k, v in (rh.items() if rh else []):
                    if k.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do
        return H

    def serve(self):
        ns = http.server.ThreadingHTTPServer((_dh.HOST, 0), self.handler(self.nup))
        self.nurl = "http://%s:%d" % (_dh.HOST, ns.server_address[1])
        ks = http.server.ThreadingHTTPServer((_dh.HOST, 0), self.handler(self.kup))
        for srv in (ns, ks):
            srv.daemon_threads = True
            threading.Thread(target=srv.serve_forever, daemon=True).start()
        print("READY http://%s:%d/v3" % (_dh.HOST, ks.server_address[1]), flush=True)
        threading.Event().wait()


# ---------------------------------------------------------------- checks
def exists(c, kind, rid):
    if kind in ("project", "user"):
        return c.req("GET", "%s/%ss/%s" % (c.kurl, kind, rid), ok=(200, 404))[0] == 200
    return c.n("GET", "/%s/%s" % (COLL[kind], rid), ok=(200, 404))[0] == 200


def results(purge):
    doc = load(purge)
    return {it["id"]: it for it in doc.get("data", {}).get("plan", [])}, doc


def role_items(s, *roles):
    return [r for r in s["created"] if r["role"] in roles]


def chk_kept(c, s, res, roles, want_skipped=True):
    bad, msgs = [], []
    for r in role_items(s, *roles):
        if not exists(c, r["kind"], r["id"]):
            it = res.get(r["id"], {})
            bad.append("%s %s deleted (purge says %s)" % (r["kind"], r["name"], it.get("result", "-")))
            continue
        it = res.get(r["id"])
        if want_skipped:
            if not it:
                bad.append("%s %s not in the purge's report" % (r["kind"], r["name"]))
            elif it.get("result") != "skipped" or it.get("skip_reason") != "not-orphan" or not it.get("message"):
                bad.append("%s %s reported as %s/%s (want skipped/not-orphan, with a message)" % (
                    r["kind"], r["name"], it.get("result"), it.get("skip_reason", "-")))
            else:
                msgs.append("%s: %s" % (r["name"], it["message"]))
    if bad:
        sys.exit("; ".join(bad))
    print("kept, reported skipped: " + "; ".join(msgs) if msgs else "kept")


def chk_fip(c, s, res):
    code, _, b = c.n("GET", "/floatingips/" + s["fip"], ok=(200, 404))
    it = res.get(s["fip"], {})
    if code == 404:
        sys.exit("the admin project's floating IP %s was deleted (purge says %s)" % (s["fip_address"],
                                                                                     it.get("result", "-")))
    f = b["floatingip"]
    if f.get("port_id"):
        sys.exit("floating IP kept but still associated with port %s (purge says %s %s)" % (
            f["port_id"], it.get("result", "-"), it.get("message", "")))
    if f["project_id"] != s["admin_project"] or f["floating_ip_address"] != s["fip_address"]:
        sys.exit("floating IP changed: %r" % f)
    print("floating IP %s kept in the admin project, port_id null (purge says %s)" % (
        s["fip_address"], it.get("result", "-")))


def chk_fipreport(c, s, res):
    it = res.get(s["fip"])
    if not it:
        sys.exit("the floating IP is not in the purge's report")
    if it.get("result") != "detached":
        sys.exit("floating IP reported as %s (want detached)" % it.get("result"))
    print("floating IP reported as %s%s" % (it["result"], (": " + it["message"]) if it.get("message") else ""))


def chk_rallygone(c, s, res):
    left = [("%s %s (%s)" % (r["kind"], r["name"], res.get(r["id"], {}).get("result", "not planned")))
            for r in role_items(s, "rally", "rally-port") if exists(c, r["kind"], r["id"])]
    if left:
        sys.exit("rally leftovers not purged: " + ", ".join(left))
    print("%d rally resources (project, network, subnet, router, port) gone" % len(role_items(s, "rally", "rally-port")))


def chk_race(c, s, res, log):
    code, _, b = c.n("GET", "/security-groups/" + s["race_sg"], ok=(200, 404))
    it = res.get(s["race_sg"], {})
    if code == 404:
        sys.exit("security group renamed to %s before the DELETE was deleted (purge says %s)" % (
            s["race_rename"], it.get("result", "-")))
    name = b["security_group"]["name"]
    if name != s["race_rename"]:
        sys.exit("security group kept, but named %r: the proxy never renamed it (did the purge plan it?)" % name)
    if it.get("result") != "skipped" or it.get("skip_reason") != "changed":
        sys.exit("security group kept but reported as %s/%s (want skipped/changed)" % (
            it.get("result", "-"), it.get("skip_reason", "-")))
    print("kept as %s, reported skipped: %s" % (name, it.get("message", "")))


def chk_412(c, s, res, log):
    race = "/v2.0/security-groups/" + s["race_sg"]
    dels = [e for e in (json.loads(l) for l in open(log)) if e["method"] == "DELETE" and e["path"].split("?")[0] == race]
    if not dels:
        sys.exit("no DELETE of the race security group went through the proxy")
    d = dels[0]
    if not d.get("if_match") or not d["if_match"].startswith("revision_number="):
        sys.exit("DELETE sent without If-Match: revision_number=N (If-Match %r; neutron answered %d)" % (
            d.get("if_match"), d["status"]))
    if d["status"] != 412:
        sys.exit("DELETE with If-Match %s answered %d (want 412; revision after the rename %s)" % (
            d["if_match"], d["status"], d.get("revision_after_rename")))
    if len(dels) > 1:
        sys.exit("the DELETE was sent %d times: a 412 must not be retried" % len(dels))
    print("DELETE If-Match: %s after the rename to revision %s: neutron answered 412, not retried" % (
        d["if_match"], d.get("revision_after_rename")))


def cmd_check(what, state, setup, purge, log):
    c = Cloud(state)
    s = load(setup)
    res, _ = results(purge)
    if what == "external":
        chk_kept(c, s, res, ["external"])
    elif what == "shared":
        chk_kept(c, s, res, ["shared"])
    elif what == "user":
        chk_kept(c, s, res, ["user"])
    elif what == "prefix":
        chk_kept(c, s, res, ["prefix"])
    elif what == "infra":
        chk_kept(c, s, res, ["infra"], want_skipped=False)
    elif what == "fip":
        chk_fip(c, s, res)
    elif what == "fipreport":
        chk_fipreport(c, s, res)
    elif what == "rallygone":
        chk_rallygone(c, s, res)
    elif what == "race":
        chk_race(c, s, res, log)
    elif what == "412":
        chk_412(c, s, res, log)
    else:
        sys.exit("unknown check " + what)


def cmd_discovered(setup, orphans):
    """osmon-orphans: reports the rally project and the FIP, and none of the hand-edit targets."""
    s = load(setup)
    doc = load(orphans)
    found = {o["id"]: o for o in doc.get("data", doc).get("orphans", [])}
    bad = ["%s %s reported (%s)" % (r["kind"], r["name"], found[r["id"]].get("reason"))
           for r in role_items(s, "external", "shared", "user", "prefix", "infra") if r["id"] in found]
    missing = ["%s %s" % (r["kind"], r["name"]) for r in role_items(s, "rally", "rally-port", "fip", "race")
               if r["id"] not in found]
    if bad or missing:
        sys.exit("; ".join(bad + (["not reported: " + ", ".join(missing)] if missing else [])))
    f = found[s["fip"]]
    print("rally project, its resources, the race SG and the FIP (%s, parent %s) reported; none of the %d "
          "non-rally ones" % (f.get("reason"), (f.get("parent") or "-")[:8],
                              len(role_items(s, "external", "shared", "user", "prefix", "infra"))))


# ---------------------------------------------------------------- cleanup
def cmd_cleanup(state, setup):
    c = Cloud(state)
    s = load(setup)
    ok = (200, 202, 204, 404, 409)
    left = []
    if exists(c, "floatingip", s["fip"]):
        c.n("DELETE", "/floatingips/" + s["fip"], ok=ok)
    for r in role_items(s, "rally", "rally-port"):
        if r["kind"] == "router" and exists(c, "router", r["id"]):
            for p in c.n("GET", "/ports?device_id=" + r["id"])[2]["ports"]:
                if p["device_owner"] == "network:router_interface":
                    c.n("PUT", "/routers/%s/remove_router_interface" % r["id"], {"port_id": p["id"]}, ok=ok)
            c.n("PUT", "/routers/" + r["id"], {"router": {"external_gateway_info": {}}}, ok=ok)
    order = ["router", "port", "floatingip", "subnet", "network", "security_group", "user", "project"]
    for kind in order:
        for r in s["created"]:
            if r["kind"] != kind or not exists(c, kind, r["id"]):
                continue
            if kind in ("project", "user"):
                code = c.req("DELETE", "%s/%ss/%s" % (c.kurl, kind, r["id"]), ok=ok)[0]
            else:
                coll = COLL[kind]
                if kind == "network":
                    for p in c.n("GET", "/ports?network_id=" + r["id"])[2]["ports"]:
                        c.n("DELETE", "/ports/" + p["id"], ok=ok)
                code = c.n("DELETE", "/%s/%s" % (coll, r["id"]), ok=ok)[0]
            if code == 409:
                left.append("%s %s" % (kind, r["name"]))
    # the default security groups neutron made for the rally project and the deleted one
    for pid in (s["rally_project"], s["gone_project"]):
        for g in c.n("GET", "/security-groups?project_id=" + pid)[2]["security_groups"]:
            c.n("DELETE", "/security-groups/" + g["id"], ok=ok)
    if left:
        sys.exit("could not delete: " + ", ".join(left))
    print("setup %s removed" % s["tag"])


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd, a = argv[1], argv[2:]
    if cmd == "ifmatch":
        cmd_ifmatch(*a)
    elif cmd == "setup":
        cmd_setup(*a)
    elif cmd == "from":
        cmd_from(*a)
    elif cmd == "discovered":
        cmd_discovered(*a)
    elif cmd == "proxy":
        Proxy(*a).serve()
    elif cmd == "check":
        cmd_check(*a)
    elif cmd == "cleanup":
        cmd_cleanup(*a)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
