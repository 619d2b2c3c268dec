#!/usr/bin/python3
"""Helper for scripts/devcloud (run with Debian's /usr/bin/python3, which has the OpenStack libs).

  devcloud-helper.py keystone-setup STATE SERVICES     service project/role, demo project+user,
                                                       service users, services and endpoints
  devcloud-helper.py smoke STATE SERVICES              token + catalog + one GET per service
  devcloud-helper.py wal DB...                         PRAGMA journal_mode=WAL on sqlite files
  devcloud-helper.py neutron-db URL                    create neutron's tables (alembic fails on sqlite)
  devcloud-helper.py fake-compute NOVA_CONF HOST...    nova-compute service + compute node rows
  devcloud-helper.py fail-builds NOVA_CONF             bury BUILD-forever servers in cell0 as ERROR

Secrets come from STATE/secrets (KEY=VALUE lines, mode 0600), ports from STATE/ports.
Everything talks to 127.0.0.1 only.
"""
import json
import sys
import time
import urllib.error
import urllib.request

HOST = "127.0.0.1"


def read_kv(path):
    out = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                out[k] = v
    return out


class Api:
    def __init__(self, state):
        self.secrets = read_kv(state + "/secrets")
        self.ports = read_kv(state + "/ports")
        self.kurl = "http://%s:%s/v3" % (HOST, self.ports["keystone"])
        self.token = None
        self.catalog = []
        self.project_id = None

    def req(self, method, url, body=None, headers=None, token=True, ok=(200, 201, 202, 204), raw=None):
        h = {"Accept": "application/json", "Connection": "close"}
        if body is not None:
            h["Content-Type"] = "application/json"
            body = json.dumps(body).encode()
        elif raw is not None:
            body = raw
        if token and self.token:
            h["X-Auth-Token"] = self.token
        h.update(headers or {})
        r = urllib.request.Request(url, data=body, method=method, headers=h)
        for attempt in range(3):
            try:
                with urllib.request.urlopen(r, timeout=30) as resp:
                    data = resp.read()
                    code, hdrs = resp.status, resp.headers
                break
            except urllib.error.HTTPError as e:
                data, code, hdrs = e.read(), e.code, e.headers
                break
            except (ConnectionError, urllib.error.URLError) as e:
                if attempt == 2:
                    raise SystemExit("%s %s: %s" % (method, url, e))
                time.sleep(1)
        if code not in ok:
            raise SystemExit("%s %s -> %d %s" % (method, url, code, data[:300].decode("utf-8", "replace")))
        try:
            return code, hdrs, (json.loads(data) if data else None)
        except ValueError:
            return code, hdrs, data

    def auth(self, user="admin", password=None, project="admin"):
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": user, "domain": {"id": "default"},
            "password": password or self.secrets["ADMIN_PASSWORD"]}}},
            "scope": {"project": {"name": project, "domain": {"id": "default"}}}}}
        _, hdrs, data = self.req("POST", self.kurl + "/auth/tokens", body, token=False, ok=(201,))
        self.token = hdrs["X-Subject-Token"]
        self.catalog = data["token"].get("catalog", [])
        self.project_id = data["token"]["project"]["id"]
        return data

    def k(self, method, path, body=None, ok=(200, 201, 202, 204)):
        return self.req(method, self.kurl + path, body, ok=ok)[2]

    def get_or_create(self, coll, key, name, body, query=None):
        q = query or ("name=" + urllib.request.quote(name))
        items = self.k("GET", "/%s?%s" % (coll, q))[coll]
        if items:
            return items[0]
        return self.k("POST", "/" + coll, {key: body})[key]


def service_defs(ports):
    """type, name, url for every optional service."""
    p = ports
    return {
        "glance": [("image", "glance", "http://%s:%s" % (HOST, p["glance"]))],
        "neutron": [("network", "neutron", "http://%s:%s" % (HOST, p["neutron"]))],
        "cinder": [("volumev3", "cinderv3", "http://%s:%s/v3/%%(project_id)s" % (HOST, p["cinder"]))],
        "placement": [("placement", "placement", "http://%s:%s" % (HOST, p["placement"]))],
        "nova": [("compute", "nova", "http://%s:%s/v2.1" % (HOST, p["nova"]))],
        "swift": [("object-store", "swift", "http://%s:%s/v1/AUTH_%%(project_id)s" % (HOST, p["swift_proxy"]))],
    }


def keystone_setup(state, services):
    api = Api(state)
    api.auth()
    roles = {r["name"]: r["id"] for r in api.k("GET", "/roles")["roles"]}
    # ResellerAdmin: Swift's keystoneauth reseller_admin_role (every account), swift only
    for rn in ("service", "member", "reader") + (("ResellerAdmin",) if "swift" in services else ()):
        if rn not in roles:
            roles[rn] = api.k("POST", "/roles", {"role": {"name": rn}})["role"]["id"]
    projects = {}
    for pn, desc in (("service", "devcloud service project"), ("demo", "devcloud demo project")):
        projects[pn] = api.get_or_create("projects", "project", pn, {
            "name": pn, "domain_id": "default", "description": desc, "enabled": True})["id"]

    def user(name, password, project, role_names):
        u = api.get_or_create("users", "user", name, {
            "name": name, "domain_id": "default", "password": password,
            "default_project_id": project, "enabled": True})
        for rn in role_names:
            api.k("PUT", "/projects/%s/users/%s/roles/%s" % (project, u["id"], roles[rn]))
        return u

    user("demo", api.secrets["DEMO_PASSWORD"], projects["demo"], ["member"])
    defs = service_defs(api.ports)
    region = "RegionOne"
    existing_svc = api.k("GET", "/services")["services"]
    existing_ep = api.k("GET", "/endpoints")["endpoints"]
    # services of an earlier up that are not started now leave the catalog: a catalog entry
    # whose port answers nothing would look like an outage to every client
    for svc, entries in defs.items():
        if svc in services:
            continue
        for stype, sname, _ in entries:
            for s in [x for x in existing_svc if x["type"] == stype and x["name"] == sname]:
                api.k("DELETE", "/services/" + s["id"])   # deletes its endpoints too
                print("removed %s (%s) from the catalog" % (sname, stype))
    for svc in services:
        if svc == "keystone":
            continue
        user(svc, api.secrets["SERVICE_PASSWORD"], projects["service"], ["admin", "service"])
        for stype, sname, url in defs[svc]:
            s = next((x for x in existing_svc if x["type"] == stype and x["name"] == sname), None)
            if s is None:
                s = api.k("POST", "/services", {"service": {"type": stype, "name": sname,
                                                            "enabled": True}})["service"]
            for iface in ("public", "internal", "admin"):
                eps = [e for e in existing_ep if e["service_id"] == s["id"] and e["interface"] == iface]
                good = [e for e in eps if e["url"] == url]
                for e in eps:
                    if e not in good or e is not good[0]:
                        api.k("DELETE", "/endpoints/" + e["id"])
                if not good:
                    api.k("POST", "/endpoints", {"endpoint": {"service_id": s["id"], "interface": iface,
                                                              "url": url, "region_id": region,
                                                              "enabled": True}})


def smoke(state, services):
    """Token, catalog and one authenticated GET per service; prints one line each."""
    api = Api(state)
    t = time.time()
    api.auth()
    print("token admin/admin issued in %.2fs, catalog: %s" % (
        time.time() - t, " ".join(sorted(c["type"] for c in api.catalog))))
    demo = Api(state)
    demo.auth("demo", demo.secrets["DEMO_PASSWORD"], "demo")
    print("token demo/demo issued")
    want = {"keystone": "identity", "glance": "image", "neutron": "network", "cinder": "volumev3",
            "placement": "placement", "nova": "compute", "swift": "object-store"}
    checks = {
        "keystone": ("/projects", {}),
        "glance": ("/v2/images", {}),
        "neutron": ("/v2.0/networks", {}),
        "cinder": ("/volumes", {}),
        "placement": ("/resource_providers", {"OpenStack-API-Version": "placement 1.39"}),
        "nova": ("/os-keypairs", {}),
        "swift": ("?format=json", {}),
    }
    bad = 0
    for svc in services:
        entry = next((c for c in api.catalog if c["type"] == want[svc]), None)
        url = entry and next((e["url"] for e in entry["endpoints"] if e["interface"] == "public"), None)
        if not url:
            print("FAIL %s: no public %s endpoint in the catalog" % (svc, want[svc]))
            bad += 1
            continue
        path, hdr = checks[svc]
        t = time.time()
        try:
            code, _, _ = api.req("GET", url.rstrip("/") + path if path[0] == "/" else url + path, headers=hdr)
            print("ok %s %s %d %.0fms" % (svc, url, code, (time.time() - t) * 1000))
        except SystemExit as e:
            print("FAIL %s: %s" % (svc, e))
            bad += 1
    return 1 if bad else 0


def wal(paths):
    import sqlite3
    for p in paths:
        c = sqlite3.connect(p)
        c.execute("PRAGMA journal_mode=WAL")
        c.close()


def neutron_db(url):
    import sqlalchemy
    from neutron.db.migration.models import head
    eng = sqlalchemy.create_engine(url)
    head.get_metadata().create_all(eng)
    print("neutron tables: %d" % len(head.get_metadata().tables))


def nova_init(conf):
    from nova import config, objects
    from nova import context as nctx
    objects.register_all()
    config.parse_args(["nova", "--config-file", conf])
    return nctx.get_admin_context(), objects


def fake_compute(conf, hosts):
    """Service + ComputeNode rows in cell1 for each host, always 'down' (created in 2000)."""
    import datetime
    from nova import context as nctx
    ctx, objects = nova_init(conf)
    cell = next(c for c in objects.CellMappingList.get_all(ctx) if c.name == "cell1")
    old = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)
    with nctx.target_cell(ctx, cell) as cctx:
        for h in hosts:
            try:
                svc = objects.Service.get_by_compute_host(cctx, h)
            except Exception:
                svc = objects.Service(cctx, host=h, binary="nova-compute", topic="compute",
                                      report_count=0)
                svc.create()
            from nova.db.main import api as dbapi
            dbapi.service_update(cctx, svc.id, {"created_at": old, "updated_at": old})
            try:
                objects.ComputeNode.get_by_host_and_nodename(cctx, h, h)
            except Exception:
                cn = objects.ComputeNode(cctx, host=h, hypervisor_hostname=h, vcpus=64, memory_mb=515072,
                                         local_gb=1000, vcpus_used=0, memory_mb_used=0, local_gb_used=0,
                                         hypervisor_type="fake", hypervisor_version=1000,
                                         cpu_info="{}", service_id=svc.id, host_ip=HOST,
                                         cpu_allocation_ratio=1.0, ram_allocation_ratio=1.0,
                                         disk_allocation_ratio=1.0)
                cn.create()
            print("fake compute host %s" % h)


def fail_builds(conf):
    """What the conductor does on NoValidHost: put each build request into cell0 as ERROR."""
    ctx, objects = nova_init(conf)
    from nova.conductor import manager
    from nova import exception
    brs = objects.BuildRequestList.get_all(ctx)
    if not brs:
        print("no build requests")
        return
    mgr = manager.ComputeTaskManager()
    for br in brs:
        try:
            spec = objects.RequestSpec.get_by_instance_uuid(ctx, br.instance_uuid)
        except exception.RequestSpecNotFound:
            spec = None
        exc = exception.NoValidHost(reason="devcloud: no nova-compute")
        # not instances=[br.instance]: let the conductor call br.get_new_instance()
        mgr._bury_in_cell0(ctx, spec, exc, build_requests=[br])
        print("buried %s in cell0 (ERROR)" % br.instance_uuid)


def main(argv):
    if len(argv) < 2:
        raise SystemExit(__doc__)
    cmd, args = argv[1], argv[2:]
    if cmd == "keystone-setup":
        keystone_setup(args[0], args[1].replace(",", " ").split())
    elif cmd == "smoke":
        return smoke(args[0], args[1].replace(",", " ").split())
    elif cmd == "wal":
        wal(args)
    elif cmd == "neutron-db":
        neutron_db(args[0])
    elif cmd == "fake-compute":
        fake_compute(args[0], args[1:])
    elif cmd == "fail-builds":
        fail_builds(args[0])
    else:
        raise SystemExit("unknown command " + cmd)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
