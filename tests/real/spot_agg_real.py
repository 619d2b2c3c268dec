#!/usr/bin/env python3
"""Helper of tests/real/spot-agg.t: builds a GPU cloud in the devcloud's real Nova and
Placement through their APIs, computes the expected totals on its own, and runs a
fault-injecting reverse proxy for the failed-remove test.  Python 3 stdlib only.

    spot_agg_real.py setup PREFIX        -> prints the expected pools as JSON
    spot_agg_real.py members AGGREGATE   -> hosts, sorted, comma-joined
    spot_agg_real.py cleanup PREFIX      -> removes the aggregates and providers it made
    spot_agg_real.py proxy FAIL_AGG      -> READY <auth url>; forwards keystone and nova,
                                            answers 500 to remove_host on FAIL_AGG (by name)
Credentials: OS_AUTH_URL, OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME (admin).
"""
import http.client
import json
import os
import sys
import threading
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

PCI = "CUSTOM_PCI_10DE_2330"
PCI2 = "CUSTOM_PCI_10DE_2335"


def auth():
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": os.environ["OS_USERNAME"], "password": os.environ["OS_PASSWORD"],
        "domain": {"name": os.environ.get("OS_USER_DOMAIN_NAME", "Default")}}}},
        "scope": {"project": {"name": os.environ["OS_PROJECT_NAME"],
                              "domain": {"name": os.environ.get("OS_PROJECT_DOMAIN_NAME", "Default")}}}}}
    url = os.environ["OS_AUTH_URL"].rstrip("/")
    if not url.endswith("/v3"):
        url += "/v3"
    r = urllib.request.urlopen(urllib.request.Request(url + "/auth/tokens", json.dumps(body).encode(),
                                                      {"Content-Type": "application/json"}))
    tok = r.headers["X-Subject-Token"]
    cat = json.load(r)["token"]
    eps = {}
    for s in cat["catalog"]:
        for e in s["endpoints"]:
            if e["interface"] == "public":
                eps[s["type"]] = e["url"].rstrip("/")
    return tok, eps, cat["project"]["id"], cat["user"]["id"]


class API:
    def __init__(self):
        self.tok, self.eps, self.pid, self.uid = auth()

    def req(self, method, svc, path, body=None, ok=(200, 201, 202, 204)):
        mv = {"compute": "compute 2.53", "placement": "placement 1.39"}[svc]
        h = {"X-Auth-Token": self.tok, "Accept": "application/json", "OpenStack-API-Version": mv,
             "Content-Type": "application/json"}
        r = urllib.request.Request(self.eps[svc] + path, json.dumps(body).encode() if body is not None else None, h,
                                   method=method)
        try:
            resp = urllib.request.urlopen(r)
        except urllib.error.HTTPError as e:
            if e.code in ok:
                return None
            raise SystemExit("%s %s: HTTP %d %s" % (method, path, e.code, e.read()[:300]))
        data = resp.read()
        return json.loads(data) if data else None

    def aggs(self):
        return self.req("GET", "compute", "/os-aggregates")["aggregates"]

    def rp(self, name, parent=None):
        u = str(uuid.uuid4())
        b = {"name": name, "uuid": u}
        if parent:
            b["parent_provider_uuid"] = parent
        self.req("POST", "placement", "/resource_providers", b)
        return u

    def inv(self, u, inv):
        g = self.req("GET", "placement", "/resource_providers/%s" % u)["generation"]
        self.req("PUT", "placement", "/resource_providers/%s/inventories" % u,
                 {"resource_provider_generation": g, "inventories": inv})


def setup(prefix):
    api = API()
    for rc in (PCI, PCI2):
        api.req("PUT", "placement", "/resource_classes/" + rc, ok=(201, 204))
    h = ["%s-gpu-%d" % (prefix, i) for i in range(1, 5)]
    # (host, [child inventories], [(child index, rc, n) allocations])
    plan = [
        (h[0], [{PCI: {"total": 8, "reserved": 2, "max_unit": 8}}, {PCI: {"total": 8, "max_unit": 8}}],
         [(0, PCI, 2), (1, PCI, 4)]),
        (h[1], [{"VGPU": {"total": 4, "reserved": 1, "allocation_ratio": 2.0, "max_unit": 4}}], [(0, "VGPU", 3)]),
        (h[2], [{PCI2: {"total": 4, "allocation_ratio": 1.5, "max_unit": 4}}], [(0, PCI2, 3), (0, PCI2, 3)]),
        (h[3], [{PCI: {"total": 8, "reserved": 8, "max_unit": 8}}], []),
    ]
    aggs = {"H100-spot": [h[0], h[1]], "H100-ondemand": [h[2]], prefix + "-rented": [h[3]]}
    meta = {prefix + "-rented": {"gpu_type": "L40S", "pool": "runpod"}, "H100-spot": {"note": prefix}}
    expected = {}
    pool_of = {}
    for name, hosts in aggs.items():
        t, p = (meta[name]["gpu_type"], meta[name]["pool"]) if "gpu_type" in meta.get(name, {}) else name.split("-", 1)
        for x in hosts:
            pool_of[x] = (t, p)
    for host, children, allocs in plan:
        root = api.rp(host)
        api.inv(root, {"VCPU": {"total": 64}, "MEMORY_MB": {"total": 515072}})
        kids = []
        for i, inv in enumerate(children):
            c = api.rp("%s_pci_0000_%02x_00_0" % (host, 0x85 + i), root)
            api.inv(c, inv)
            kids.append(c)
        cap = sum((v["total"] - v.get("reserved", 0)) * v.get("allocation_ratio", 1.0) for inv in children for v in inv.values())
        used = 0
        for idx, rc, n in allocs:
            cons = str(uuid.uuid4())
            api.req("PUT", "placement", "/allocations/" + cons,
                    {"allocations": {kids[idx]: {"resources": {rc: n}}, root: {"resources": {"VCPU": 1}}},
                     "project_id": api.pid.replace("-", ""), "user_id": api.uid.replace("-", ""),
                     "consumer_generation": None, "consumer_type": "INSTANCE"})
            used += n
        key = "%s/%s" % pool_of[host]
        e = expected.setdefault(key, {"gpus_total": 0, "gpus_used": 0, "gpus_free": 0, "hosts": 0})
        e["gpus_total"] += cap
        e["gpus_used"] += used
        e["gpus_free"] += max(0, cap - used)
        e["hosts"] += 1
    for name, hosts in aggs.items():
        a = api.req("POST", "compute", "/os-aggregates", {"aggregate": {"name": name}})["aggregate"]
        if name in meta:
            api.req("POST", "compute", "/os-aggregates/%s/action" % a["id"], {"set_metadata": {"metadata": meta[name]}})
        for x in hosts:
            api.req("POST", "compute", "/os-aggregates/%s/action" % a["id"], {"add_host": {"host": x}})
    print(json.dumps(expected, sort_keys=True))


def members(name):
    for a in API().aggs():
        if a["name"] == name:
            print(",".join(sorted(a["hosts"])))


def cleanup(prefix):
    api = API()
    for a in api.aggs():
        if a["name"] in ("H100-spot", "H100-ondemand", prefix + "-rented"):
            for x in a["hosts"]:
                api.req("POST", "compute", "/os-aggregates/%s/action" % a["id"], {"remove_host": {"host": x}})
            api.req("DELETE", "compute", "/os-aggregates/%s" % a["id"])
    rps = api.req("GET", "placement", "/resource_providers")["resource_providers"]
    mine = [r for r in rps if r["name"].startswith(prefix + "-gpu-")]
    for r in mine:
        for c in api.req("GET", "placement", "/resource_providers/%s/allocations" % r["uuid"])["allocations"]:
            api.req("DELETE", "placement", "/allocations/" + c, ok=(204, 404))
    for r in sorted(mine, key=lambda r: r["parent_provider_uuid"] is None):  # children first
        api.req("DELETE", "placement", "/resource_providers/" + r["uuid"], ok=(204, 404))


def proxy(fail_agg):
    api = API()
    ks = urlsplit(os.environ["OS_AUTH_URL"])
    nova = urlsplit(api.eps["compute"])
    fail_id = [str(a["id"]) for a in api.aggs() if a["name"] == fail_agg][0]
    origins = {"keystone": (ks.hostname, ks.port), "nova": (nova.hostname, nova.port)}

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def fwd(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n else None
            parts = self.path.split("/", 2)
            which, rest = parts[1], "/" + (parts[2] if len(parts) > 2 else "")
            if which == "nova" and self.command == "POST" and rest.endswith("/os-aggregates/%s/action" % fail_id) \
                    and body and b"remove_host" in body:
                out = json.dumps({"computeFault": {"code": 500, "message": "injected by the test proxy"}}).encode()
                self.send_response(500)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)
                return
            c = http.client.HTTPConnection(*origins[which], timeout=60)
            hd = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
            c.request(self.command, rest, body, hd)
            r = c.getresponse()
            data = r.read()
            if which == "keystone" and rest.endswith("/auth/tokens") and self.command == "POST" and r.status == 201:
                me = "http://127.0.0.1:%d" % self.server.server_address[1]
                data = data.replace(("http://%s:%d" % origins["nova"]).encode(), (me + "/nova").encode())
            self.send_response(r.status)
            for k, v in r.getheaders():
                if k.lower() not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        do_GET = do_POST = do_PUT = do_DELETE = fwd

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    srv.daemon_threads = True
    print("READY http://127.0.0.1:%d/keystone%s" % (srv.server_address[1], ks.path), flush=True)
    threading.Timer(600, srv.shutdown).start()
    srv.serve_forever()


if __name__ == "__main__":
    cmd = sys.argv[1]
    {"setup": setup, "members": members, "cleanup": cleanup, "proxy": proxy}[cmd](*sys.argv[2:])
