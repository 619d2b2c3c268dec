#!/usr/bin/env python3
"""Stateful OpenStack simulator for the osmon-* tool tests (Python 3 stdlib only).

    openstack.py [--seed FILE | --generate N] [--latency-ms MS] [--fault SPEC]...
                 [--page-size N] [--async-delay S] [--token-ttl S] [--max-seconds S]
                 [--tls-cert PEM --tls-key PEM [--client-ca PEM]]

Listens on 127.0.0.1 (ephemeral port), prints `READY http://127.0.0.1:PORT` and serves:

  /identity/v3     keystone: POST auth/tokens (password by name or id + domains, application
                   credential, token), projects, users (name, name__startswith, limit/marker,
                   links.next), role_assignments; GET/DELETE by id
  /compute/v2.1    nova: servers/detail (all_tenants, name regex, project_id, limit/marker,
                   servers_links), os-keypairs (user_id, 2.35 paging), os-server-groups
                   (all_projects, limit/offset); async server deletes
  /network         neutron (unversioned root = version discovery): /v2.0/{networks,subnets,
                   ports,routers,floatingips,security-groups,trunks} with exact filters,
                   limit/marker, <res>_links; 409s like neutron; remove_router_interface;
                   PUT/DELETE honour If-Match: revision_number=N (412 when it changed)
  /volume/v3/PID   cinder: volumes|snapshots|backups /detail (all_tenants, name~ with
                   microversion >= 3.34, project_id, limit/marker, <res>_links); async deletes
  /image           glance (unversioned root = version discovery): /v2/images (owner, name,
                   limit/marker, relative `next`)
  /object/v1/AUTH_PID  swift: account listing (prefix, limit, marker), containers, objects; one
                   account per project: another project's needs the ResellerAdmin role (a seed
                   user with "reseller_admin": true), else 403
  /orchestration/v1/PID  heat: stacks (global_tenant, limit/marker, links), async deletes

Control (no auth): GET /_sim/state (what exists), GET /_sim/db (every record, as the
API shows it), GET /_sim/requests (request log),
POST /_sim/fault (JSON fault spec, appended).  Faults (--fault or seed "faults" or
/_sim/fault) are JSON objects or `k=v,k=v` strings:
  {"service": "network"|"*", "path": REGEX, "method": "GET", "kind": K, "count": N|-1, "after": N}
  kind: 500 | 503 | 429 (Retry-After: 1) | latency (ms=) | truncate | garbage | huge |
        slow (body trickles) | close (drop the connection) | expire (invalidate every token -> 401) |
        rename (neutron: after answering a matching GET of one resource, rename it to name=
        (a floating IP: its description) and bump its revision_number: a change between a
        client's check and its DELETE)
Exits on SIGTERM/SIGINT and after --max-seconds.
"""
import argparse
import hashlib
import json
import random
import re
import signal
import socket
import string
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlsplit

import fasthttp  # tests/sim/fasthttp.py: header parsing without the email package
import simtls  # tests/sim/simtls.py

NS = uuid.UUID("6f1d3a2e-0000-4000-8000-0a5e0c0ffee0")
TYPES = ["projects", "users", "servers", "keypairs", "server_groups", "floatingips", "routers",
         "ports", "subnets", "networks", "security_groups", "trunks", "volumes", "snapshots",
         "backups", "images", "containers", "stacks"]
LOAD_ORDER = ["users", "networks", "subnets", "security_groups", "routers", "servers", "ports", "trunks",
              "floatingips", "keypairs", "server_groups", "volumes", "snapshots", "backups", "images",
              "containers", "stacks"]
SERVICES = {"identity": "identity", "compute": "compute", "network": "network",
            "volume": "volumev3", "image": "image", "object": "object-store",
            "orchestration": "orchestration", "placement": "placement"}


def iso(t, micro=False):
    s = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t))
    return s + (".%06d" % int((t % 1) * 1e6) if micro else "Z")


def det_id(kind, key, hexonly=False):
    u = uuid.uuid5(NS, f"{kind}:{key}")
    return u.hex if hexonly else str(u)


class HTTPError(Exception):
    def __init__(self, code, msg, title=None, headers=None):
        super().__init__(msg)
        self.code, self.msg, self.title, self.headers = code, msg, title, headers or {}


class Cloud:
    def __init__(self, args):
        self.lock = threading.RLock()
        self.args = args
        self.page_size = args.page_size
        self.async_delay = args.async_delay
        self.token_ttl = args.token_ttl
        self.tokens = {}
        self.faults = []
        self.requests = []
        self.services = [s for s in SERVICES if s != "placement"]  # placement: with spot data (load_spot)
        self.db = {t: {} for t in TYPES}
        self.objects = {}  # container id -> {name: object}
        self.creds = []    # application credentials
        self.pending = []  # (until, type, id) async deletes
        self.base = ""

    # ---- seeding ----
    def load_seed(self, seed):
        now = time.time()
        self.page_size = seed.get("page_size", self.page_size)
        if "services" in seed:
            self.services = list(seed["services"])
        for f in seed.get("faults", []):
            self.faults.append(parse_fault(f))
        for c in seed.get("application_credentials", []):
            self.creds.append(c)
        names = {}
        for p in seed.get("projects", []):
            p = dict(p)
            p.setdefault("id", det_id("project", p["name"], True))
            p.setdefault("domain_id", "default")
            p.setdefault("enabled", True)
            p.setdefault("description", "")
            p.setdefault("is_domain", False)
            p.setdefault("parent_id", p["domain_id"])
            p.setdefault("tags", [])
            names[p["name"]] = p["id"]
            self._age(p, now, "created_at")
            self.db["projects"][p["id"]] = p
        self.pnames = names
        for t in LOAD_ORDER:
            for i, r in enumerate(seed.get(t, [])):
                self.add(t, dict(r), now, i)
        self.load_spot(seed)

    def pid(self, ref):
        if ref is None:
            return None
        return self.pnames.get(ref, ref)

    def _age(self, r, now, key, micro=False):
        if "_age" in r:
            r[key] = iso(now - float(r.pop("_age")), micro)
        else:
            r.setdefault(key, iso(now - 3600, micro))

    def add(self, t, r, now, i=0):
        name = r.get("name", r.get("stack_name", ""))
        r.setdefault("id", det_id(t, f"{name}:{r.get('project', '')}:{i}", t == "users"))
        proj = self.pid(r.pop("project", None))
        pr = proj or self.admin_pid
        if t == "users":
            r.setdefault("domain_id", "default")
            r.setdefault("enabled", True)
            r.setdefault("password_expires_at", None)
            r.setdefault("options", {})
            if proj:
                r["default_project_id"] = proj
            r["roles"] = {self.pid(k): v for k, v in r.get("roles", {}).items()}
            self._age(r, now, "created_at")
        elif t == "servers":
            r.setdefault("status", "ACTIVE")
            r["tenant_id"] = pr
            r.setdefault("user_id", det_id("user", "admin", True))
            r.setdefault("OS-EXT-STS:task_state", None)
            r.setdefault("OS-EXT-STS:vm_state", r["status"].lower())
            r.setdefault("metadata", {})
            r.setdefault("addresses", {})
            r.setdefault("locked", False)
            r.setdefault("image", "")  # booted from a volume (the API writes "" then)
            r.setdefault("flavor", {"id": "1", "original_name": "m1.tiny", "vcpus": 1, "ram": 512, "disk": 1})
            if "host" in r:  # spot-agg: the compute service host and hypervisor of the server
                h = r.pop("host")
                r["OS-EXT-SRV-ATTR:host"] = h
                r.setdefault("OS-EXT-SRV-ATTR:hypervisor_hostname", r.pop("node", h))
            self._age(r, now, "created")
            r["updated"] = r["created"]
        elif t == "keypairs":
            r.setdefault("user_id", self.users_by_name(r.pop("user", "admin")))
            r.setdefault("type", "ssh")
            r.setdefault("fingerprint", "12:34:56:78:9a:bc:de:f0:12:34:56:78:9a:bc:de:f0")
            r.setdefault("public_key", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB0 sim")
            r["id"] = r["user_id"] + "/" + r["name"]
            self._age(r, now, "created_at", True)
        elif t == "server_groups":
            r["project_id"] = pr
            r.setdefault("user_id", det_id("user", "admin", True))
            r.setdefault("policy", "anti-affinity")
            r.setdefault("members", [])
            r.setdefault("rules", {})
        elif t in ("floatingips", "routers", "ports", "subnets", "networks", "security_groups", "trunks"):
            r["project_id"] = r["tenant_id"] = pr
            r.setdefault("name", "")
            r.setdefault("description", "")
            r.setdefault("tags", [])
            r.setdefault("revision_number", 1)
            self._age(r, now, "created_at")
            r.setdefault("updated_at", r["created_at"])
            if t == "ports":
                r["network_id"] = self.ref("networks", r.get("network_id", ""))
                r.setdefault("device_owner", "")
                r["device_id"] = self.ref("routers", self.ref("servers", r.get("device_id", "")))
                r.setdefault("mac_address", "fa:16:3e:%02x:%02x:%02x" % tuple(hashlib.md5(r["id"].encode()).digest()[:3]))
                r.setdefault("status", "DOWN")
                r.setdefault("admin_state_up", True)
                r["fixed_ips"] = [{"subnet_id": self.ref("subnets", f["subnet_id"]), "ip_address": f.get("ip_address", "10.0.0.1")}
                                  for f in r.get("fixed_ips", [])]
                r["security_groups"] = [self.ref("security_groups", s) for s in r.get("security_groups", [])]
                r.setdefault("binding:vif_type", "unbound")
            elif t == "subnets":
                r["network_id"] = self.ref("networks", r.get("network_id", ""))
                r.setdefault("ip_version", 4)
                r.setdefault("cidr", "10.0.0.0/24")
                r.setdefault("gateway_ip", "10.0.0.1")
                r.setdefault("enable_dhcp", True)
            elif t == "networks":
                r.setdefault("status", "ACTIVE")
                r.setdefault("shared", False)
                r.setdefault("router:external", False)
                r.setdefault("admin_state_up", True)
                r.setdefault("mtu", 1450)
            elif t == "routers":
                r.setdefault("status", "ACTIVE")
                r.setdefault("external_gateway_info", None)
                r.setdefault("routes", [])
                r.setdefault("admin_state_up", True)
            elif t == "security_groups":
                r.setdefault("stateful", True)
                r.setdefault("security_group_rules", [])
            elif t == "floatingips":
                r.setdefault("floating_ip_address", "172.24.4.%d" % (10 + i % 200))
                r.setdefault("floating_network_id", det_id("networks", "public"))
                r["port_id"] = self.ref("ports", r.get("port_id")) if r.get("port_id") else None
                r.setdefault("status", "DOWN")
                r.setdefault("router_id", None)
            elif t == "trunks":
                r["port_id"] = self.ref("ports", r.get("port_id", ""))
                r.setdefault("status", "DOWN")
                r.setdefault("sub_ports", [])
        elif t in ("volumes", "snapshots", "backups"):
            r.setdefault("status", "available")
            r.setdefault("size", 1)
            r.setdefault("description", None)
            r.setdefault("metadata", {})
            self._age(r, now, "created_at", True)
            r.setdefault("updated_at", None)
            if t == "volumes":
                r["os-vol-tenant-attr:tenant_id"] = pr
                r.setdefault("attachments", [])
                r.setdefault("volume_type", "__DEFAULT__")
                r.setdefault("bootable", "false")
                r.setdefault("os-vol-host-attr:host", None)
            elif t == "snapshots":
                r["os-extended-snapshot-attributes:project_id"] = pr
                r["volume_id"] = self.ref("volumes", r.get("volume_id", ""))
            else:
                r["os-backup-project-attr:project_id"] = pr
                r["volume_id"] = self.ref("volumes", r.get("volume_id", ""))
                r.setdefault("is_incremental", False)
        elif t == "images":
            r["owner"] = pr
            r.setdefault("status", "active")
            r.setdefault("visibility", "private")
            r.setdefault("protected", False)
            r.setdefault("disk_format", "raw")
            r.setdefault("container_format", "bare")
            r.setdefault("size", 0)
            r.setdefault("tags", [])
            self._age(r, now, "created_at")
            r.setdefault("updated_at", r["created_at"])
            r["self"] = "/v2/images/" + r["id"]
            r["file"] = r["self"] + "/file"
            r["schema"] = "/v2/schemas/image"
        elif t == "containers":
            # per-account storage: the admin account's containers keep their name as id,
            # another project's account has PROJECT_ID/NAME (what osmon-orphans reports)
            r["id"] = r["name"] if pr == self.admin_pid else pr + "/" + r["name"]
            r["_project"] = pr
            objs = {o: {"name": o, "bytes": 1, "hash": "d41d8cd98f00b204e9800998ecf8427e",
                        "content_type": "application/octet-stream", "last_modified": iso(now - 60, True)}
                    for o in r.pop("objects", [])}
            self.objects[r["id"]] = objs
            self._age(r, now, "last_modified", True)
        elif t == "stacks":
            r.setdefault("stack_name", r.pop("name", "stack"))
            r["project"] = pr
            r.setdefault("stack_status", "CREATE_COMPLETE")
            r.setdefault("stack_status_reason", "")
            r.setdefault("description", "")
            self._age(r, now, "creation_time")
            r.setdefault("updated_time", None)
            r.setdefault("stack_owner", None)
            r.setdefault("parent", None)
        self.db[t][r["id"]] = r

    def ref(self, t, key):
        """Seeds may refer to other resources by name; ids pass through."""
        if not key:
            return key
        if key in self.db[t]:
            return key
        for r in self.db[t].values():
            if r.get("name") == key:
                return r["id"]
        return key

    def users_by_name(self, name):
        for u in self.db["users"].values():
            if u["name"] == name or u["id"] == name:
                return u["id"]
        return det_id("user", name, True)

    @property
    def admin_pid(self):
        return self.pnames.get("admin", "")

    def generate(self, n, rally_ratio=0.1):
        """A seed of n resources spread over the types, ~rally_ratio of them rally orphans."""
        rnd = random.Random(42)

        def rname(prefix):
            return "%s_%08x_%s" % (prefix, rnd.getrandbits(32), "".join(rnd.choice(string.ascii_letters + string.digits) for _ in range(8)))
        seed = {"projects": [{"name": "admin"}, {"name": "service"}], "users": [
            {"name": "admin", "password": "secret", "roles": {"admin": "admin"}}]}
        for i in range(20):
            seed["projects"].append({"name": rname("c_rally") if i % 4 == 0 else "tenant-%02d" % i})
        kinds = ["servers", "networks", "subnets", "ports", "routers", "security_groups", "floatingips",
                 "volumes", "snapshots", "images", "server_groups", "users", "containers", "stacks", "backups", "trunks"]
        weights = [10, 8, 8, 20, 4, 8, 4, 10, 4, 8, 2, 4, 4, 2, 2, 2]
        projs = [p["name"] for p in seed["projects"]]
        # projects deleted in keystone whose resources stayed (dead owners): ids only
        projs += ["%032x" % rnd.getrandbits(128) for _ in range(4)]
        for i in range(n - len(projs) - 1):
            t = rnd.choices(kinds, weights)[0]
            rally = rnd.random() < rally_ratio
            nm = rname(rnd.choice(["s_rally", "c_rally"])) if rally else "%s-%05d" % (t[:-1], i)
            r = {"name": nm, "project": rnd.choice(projs), "_age": rnd.randint(60, 86400 * 30)}
            if t == "stacks":
                r = {"stack_name": nm, "project": r["project"], "_age": r["_age"]}
            seed.setdefault(t, []).append(r)
        return seed

    # ---- spot-agg: aggregates, hypervisors, placement (seed keys below) ----
    def load_spot(self, seed):
        """Seed keys (all optional; any of them puts placement in the catalog):
          "aggregates": [{"name", "metadata": {}, "hosts": [service hosts], "availability_zone",
                          "fail_actions": ["remove_host"|"add_host"] (answer 500: fault injection)}]
          "hypervisors": [{"host" (service host), "hypervisor_hostname" (default host),
                           "state": "up", "status": "enabled", "disabled_reason": null}]
          "resource_providers": [{"name", "uuid"?, "parent": NAME?, "inventories": {RC: {"total",
                           "reserved", "allocation_ratio", ...}}}]
          "allocations": [{"consumer": server name or uuid, "project": NAME?,
                           "resources": {RP name: {RC: N}}}]
        Servers take "host" (and "node") for OS-EXT-SRV-ATTR:host/hypervisor_hostname and a flavor
        with extra_specs (shown at compute 2.47+, as nova embeds it)."""
        keys = ("aggregates", "hypervisors", "resource_providers", "allocations")
        self.aggs, self.hyps, self.rps, self.allocs = {}, [], {}, {}
        if not any(k in seed for k in keys):
            return
        if "placement" not in self.services:
            self.services.append("placement")
        for i, a in enumerate(seed.get("aggregates", [])):
            a = dict(a)
            a.setdefault("id", i + 1)
            a.setdefault("uuid", det_id("aggregate", a["name"]))
            a.setdefault("metadata", {})
            a.setdefault("hosts", [])
            a.setdefault("availability_zone", a["metadata"].get("availability_zone"))
            self.aggs[a["id"]] = a
        for h in seed.get("hypervisors", []):
            h = dict(h)
            h.setdefault("hypervisor_hostname", h["host"])
            h.setdefault("id", det_id("hypervisor", h["host"]))
            h.setdefault("state", "up")
            h.setdefault("status", "enabled")
            h.setdefault("disabled_reason", None)
            self.hyps.append(h)
        byname = {}
        for r in seed.get("resource_providers", []):
            r = dict(r)
            r.setdefault("uuid", det_id("rp", r["name"]))
            r.setdefault("inventories", {})
            for inv in r["inventories"].values():
                for k, v in (("reserved", 0), ("allocation_ratio", 1.0), ("min_unit", 1),
                             ("max_unit", inv.get("total", 0)), ("step_size", 1)):
                    inv.setdefault(k, v)
            r["generation"] = 1
            byname[r["name"]] = r
            self.rps[r["uuid"]] = r
        for r in self.rps.values():
            par = r.pop("parent", None)
            r["parent_provider_uuid"] = byname[par]["uuid"] if par in byname else par
        for r in self.rps.values():
            root = r
            while root["parent_provider_uuid"]:
                root = self.rps[root["parent_provider_uuid"]]
            r["root_provider_uuid"] = root["uuid"]
        for a in seed.get("allocations", []):
            cons = self.ref("servers", a["consumer"])
            for rpname, res in a["resources"].items():
                rp = byname[rpname] if rpname in byname else self.rps[rpname]
                self.allocs.setdefault(rp["uuid"], {}).setdefault(cons, {}).update(res)

    # ---- lazy async completion ----
    def tick(self):
        now = time.time()
        keep = []
        for until, t, rid in self.pending:
            if now >= until:
                self.finish_delete(t, rid)
            else:
                keep.append((until, t, rid))
        self.pending = keep

    def finish_delete(self, t, rid):
        r = self.db[t].pop(rid, None)
        if r is None:
            return
        if t == "servers":
            for p in [p for p in self.db["ports"].values()
                      if p["device_id"] == rid and p["device_owner"].startswith("compute:")]:
                self.db["ports"].pop(p["id"], None)
            for v in self.db["volumes"].values():
                v["attachments"] = [a for a in v["attachments"] if a.get("server_id") != rid]
                if not v["attachments"] and v["status"] == "in-use":
                    v["status"] = "available"

    def start_async(self, t, rid):
        self.pending.append((time.time() + self.async_delay, t, rid))


def parse_fault(f):
    if isinstance(f, str):
        d = {}
        for part in f.split(","):
            k, _, v = part.partition("=")
            d[k.strip()] = v.strip()
        f = d
    f = dict(f)
    f["count"] = int(f.get("count", -1))
    f["after"] = int(f.get("after", 0))
    f.setdefault("service", "*")
    f["kind"] = str(f.get("kind", "500"))
    return f


def neutron_err(code, typ, msg):
    return HTTPError(code, msg, typ)


class Handler(fasthttp.FastParse, BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "osmon-sim/1"

    def setup(self):
        super().setup()
        # headers and body go out in separate writes: without this, Nagle plus
        # the client's delayed ACK add ~40 ms to every keep-alive response
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt, *a):  # quiet; requests are in /_sim/requests
        if self.server.cloud.args.verbose:
            sys.stderr.write("sim: " + (fmt % a) + "\n")

    # ---- plumbing ----
    def do_GET(self):
        self.handle_any("GET")

    def do_HEAD(self):
        self.handle_any("HEAD")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_DELETE(self):
        self.handle_any("DELETE")

    def do_PATCH(self):
        self.handle_any("PATCH")

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(n) if n else b""
        if not data:
            return {}
        try:
            return json.loads(data)
        except ValueError:
            raise HTTPError(400, "Malformed request body")

    def send(self, code, body=None, headers=None, raw=None, ctype="application/json"):
        fault = getattr(self, "fault", None)
        data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        if fault and fault["kind"] == "huge":
            data = b'{"pad": "' + b"x" * (80 << 20) + b'"}'
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if data or code not in (204, 304):
            self.send_header("Content-Type", ctype)
        if fault and fault["kind"] in ("truncate", "slow"):
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command == "HEAD":
                return
            if fault["kind"] == "truncate":
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            for i in range(0, len(data), max(1, len(data) // 10)):
                self.wfile.write(data[i:i + max(1, len(data) // 10)])
                self.wfile.flush()
                time.sleep(float(fault.get("ms", 300)) / 1000)
            return
        if fault and fault["kind"] == "garbage":
            data = b"<html><body>502 Bad Gateway</body>" + b"\x00\xff{[" * 8
        self.send_header("Content-Length", str(len(data)))
        self._headers_buffer.append(b"\r\n")  # headers and body in one write (fasthttp.py)
        if self.command != "HEAD" and data:
            self._headers_buffer.append(data)
        self.flush_headers()

    def pick_fault(self, service, path):
        cloud = self.server.cloud
        if not cloud.faults:  # the usual case: no lock round trip (a list read is atomic)
            return None
        with cloud.lock:
            for f in cloud.faults:
                if f["service"] not in ("*", service):
                    continue
                if f.get("path") and not re.search(f["path"], path):
                    continue
                if f.get("method") and f["method"] != self.command:
                    continue
                if f["after"] > 0:
                    f["after"] -= 1
                    continue
                if f["count"] == 0:
                    continue
                if f["count"] > 0:
                    f["count"] -= 1
                return dict(f)
        return None

    def handle_any(self, method):
        cloud = self.server.cloud
        self.fault = None
        self.after = None
        u = urlsplit(self.path)
        path = unquote(u.path)
        self.query = parse_qs(u.query, keep_blank_values=True)
        parts = [p for p in path.split("/") if p]
        service = parts[0] if parts else ""
        logged = {"t": time.time(), "method": method, "path": self.path, "service": service}
        cloud.requests.append(logged)  # atomic under the GIL: no lock round trip
        try:
            if service == "_sim":
                return self.control(method, parts[1:])
            if service not in SERVICES or service not in cloud.services:
                raise HTTPError(404, "The resource could not be found.", "Not Found")
            if cloud.args.latency_ms:
                time.sleep(cloud.args.latency_ms / 1000.0)
            f = self.pick_fault(service, self.path)
            if f:
                k = f["kind"]
                if k == "latency":
                    time.sleep(float(f.get("ms", 1000)) / 1000)
                elif k in ("500", "502", "503", "504"):
                    self.rfile.read(int(self.headers.get("Content-Length") or 0))  # keep-alive: the next request starts after this body
                    raise HTTPError(int(k), "simulated failure", "Internal Server Error")
                elif k == "429":
                    raise HTTPError(429, "Too many requests", "Too Many Requests", {"Retry-After": f.get("retry_after", "1")})
                elif k == "close":
                    self.close_connection = True
                    self.wfile.flush()
                    self.connection.shutdown(2)
                    return
                elif k == "expire":
                    with cloud.lock:
                        cloud.tokens.clear()
                elif k == "rename":
                    self.after = f
                else:
                    self.fault = f
            body = self.read_body() if method in ("POST", "PUT", "PATCH") else {}
            if body and service != "identity":
                logged["body"] = body  # never keystone's: it holds passwords
            with cloud.lock:
                cloud.tick()
                if service == "identity" and parts[1:4] == ["v3", "auth", "tokens"] and method == "POST":
                    return self.auth(body)
                if method == "GET" and self.is_version_doc(service, parts):
                    return self.versions(service, parts)
                self.ctx = self.check_token()
                getattr(self, "svc_" + service)(method, parts[1:], body)
                if self.after and service == "network":
                    self.rename_after(parts[1:])
        except HTTPError as e:
            if service in ("network",):
                body = {"NeutronError": {"type": e.title or "Error", "message": e.msg, "detail": ""}}
            elif service in ("compute", "volume"):
                key = {400: "badRequest", 401: "unauthorized", 403: "forbidden", 404: "itemNotFound",
                       409: "conflictingRequest"}.get(e.code, "computeFault")
                body = {key: {"code": e.code, "message": e.msg}}
            else:
                body = {"error": {"code": e.code, "message": e.msg, "title": e.title or "Error"}}
            if e.code == 401:
                e.headers.setdefault("WWW-Authenticate", 'Keystone uri="%s/identity"' % cloud.base)
            self.send(e.code, body, e.headers)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def control(self, method, parts):
        cloud = self.server.cloud
        with cloud.lock:
            cloud.tick()
            if parts == ["state"]:
                out = {t: sorted((r.get("name") or r.get("stack_name") or "") + "|" + r["id"] for r in cloud.db[t].values())
                       for t in TYPES}
                out["objects"] = {c: sorted(o) for c, o in cloud.objects.items()}
                out["pending"] = len(cloud.pending)
                return self.send(200, out)
            if parts == ["requests"]:
                return self.send(200, cloud.requests)
            if parts == ["db"]:
                return self.send(200, {t: [self.pub(r) for r in cloud.db[t].values()] for t in TYPES})
            if parts == ["fault"] and method == "POST":
                cloud.faults.append(parse_fault(self.read_body()))
                return self.send(204)
            if parts == ["faults"] and method == "DELETE":
                cloud.faults.clear()
                return self.send(204)
            if parts == ["placement", "inventory"] and method == "POST":
                # an operator changing one inventory (what PUT .../inventories/{rc} does):
                # {"provider": NAME or uuid, "rc": RC, "total"/"reserved"/"allocation_ratio": ...};
                # placement bumps the provider's generation
                b = self.read_body()
                r = next((x for x in cloud.rps.values() if b.get("provider") in (x["name"], x["uuid"])), None)
                if not r or not b.get("rc"):
                    raise HTTPError(404, "no such provider")
                inv = r["inventories"].setdefault(b["rc"], {"total": 0, "reserved": 0, "allocation_ratio": 1.0,
                                                            "min_unit": 1, "max_unit": 0, "step_size": 1})
                inv.update({k: v for k, v in b.items() if k in ("total", "reserved", "allocation_ratio")})
                r["generation"] += 1
                return self.send(200, {"uuid": r["uuid"], "inventories": r["inventories"],
                                       "resource_provider_generation": r["generation"]})
        raise HTTPError(404, "no such control")

    # ---- keystone ----
    def check_token(self):
        cloud = self.server.cloud
        tok = self.headers.get("X-Auth-Token")
        t = cloud.tokens.get(tok or "")
        if not t or t["expires"] < time.time():
            raise HTTPError(401, "The request you have made requires authentication.", "Unauthorized")
        return t

    def auth(self, body):
        cloud = self.server.cloud
        try:
            ident = body["auth"]["identity"]
            methods = ident["methods"]
        except (KeyError, TypeError):
            raise HTTPError(400, "Expecting to find identity in auth.", "Bad Request")
        user = None
        scope_pid = None
        unauth = HTTPError(401, "The request you have made requires authentication.", "Unauthorized")
        if "password" in methods:
            u = ident.get("password", {}).get("user", {})
            for cand in cloud.db["users"].values():
                if (u.get("id") and cand["id"] == u["id"]) or (u.get("name") and cand["name"] == u["name"] and self.domain_ok(u.get("domain", {}))):
                    user = cand
            if not user or user.get("password") is None or user.get("password") != u.get("password"):
                raise unauth
        elif "application_credential" in methods:
            ac = ident.get("application_credential", {})
            for c in cloud.creds:
                if (ac.get("id") == c.get("id") or (ac.get("name") == c.get("name") and ac.get("name"))) and ac.get("secret") == c.get("secret"):
                    user = cloud.db["users"].get(cloud.users_by_name(c["user"]))
                    scope_pid = cloud.pid(c["project"])
            if not user:
                raise unauth
        elif "token" in methods:
            old = cloud.tokens.get(ident.get("token", {}).get("id", ""))
            if not old or old["expires"] < time.time():
                raise unauth
            user = cloud.db["users"].get(old["user"])
            scope_pid = old["project"]
        else:
            raise HTTPError(401, "Unsupported authentication method", "Unauthorized")
        sc = body["auth"].get("scope", {}).get("project") if isinstance(body["auth"].get("scope"), dict) else None
        if sc:
            for p in cloud.db["projects"].values():
                if (sc.get("id") and p["id"] == sc["id"]) or (sc.get("name") and p["name"] == sc["name"] and self.domain_ok(sc.get("domain", {}))):
                    scope_pid = p["id"]
            if not scope_pid:
                raise unauth
        if scope_pid is None:
            scope_pid = user.get("default_project_id")
        role = user.get("roles", {}).get(scope_pid)
        if scope_pid and not role:
            raise unauth
        tok = "gAAAAA" + uuid.uuid4().hex + uuid.uuid4().hex
        exp = time.time() + cloud.token_ttl
        cloud.tokens[tok] = {"user": user["id"], "project": scope_pid, "admin": role == "admin", "expires": exp,
                             "reseller": bool(user.get("reseller_admin"))}
        proj = cloud.db["projects"].get(scope_pid, {})
        token = {"methods": methods, "expires_at": iso(exp, True) + "Z", "issued_at": iso(time.time(), True) + "Z",
                 "audit_ids": [uuid.uuid4().hex[:22]], "is_domain": False,
                 "user": {"id": user["id"], "name": user["name"], "domain": {"id": "default", "name": "Default"},
                          "password_expires_at": None},
                 "roles": [{"id": det_id("role", role, True), "name": role}] + ([{"id": det_id("role", "reader", True), "name": "reader"}] if role == "admin" else [])
                          + ([{"id": det_id("role", "ResellerAdmin", True), "name": "ResellerAdmin"}] if user.get("reseller_admin") else []),
                 "catalog": self.catalog(scope_pid)}
        if scope_pid:
            token["project"] = {"id": scope_pid, "name": proj.get("name"), "domain": {"id": "default", "name": "Default"}}
        self.send(201, {"token": token}, {"X-Subject-Token": tok})

    def domain_ok(self, d):
        return (not d) or d.get("id") == "default" or d.get("name") == "Default"

    def catalog(self, pid):
        b = self.server.cloud.base
        urls = {"identity": b + "/identity/v3", "compute": b + "/compute/v2.1", "network": b + "/network",
                "volume": "%s/volume/v3/%s" % (b, pid), "image": b + "/image",
                "object": "%s/object/v1/AUTH_%s" % (b, pid), "orchestration": "%s/orchestration/v1/%s" % (b, pid),
                "placement": b + "/placement"}
        names = {"identity": "keystone", "compute": "nova", "network": "neutron", "volume": "cinderv3",
                 "image": "glance", "object": "swift", "orchestration": "heat", "placement": "placement"}
        cat = []
        for s in self.server.cloud.services:
            eps = []
            for iface in ("public", "internal", "admin"):
                for region in ("RegionOne", "RegionTwo"):
                    url = urls[s] if region == "RegionOne" else urls[s].replace(b, "http://127.0.0.1:9")
                    eps.append({"id": det_id("endpoint", s + iface + region, True), "interface": iface,
                                "region_id": region, "region": region, "url": url})
            cat.append({"endpoints": eps, "id": det_id("service", s, True), "type": SERVICES[s], "name": names[s]})
        return cat

    @staticmethod
    def is_version_doc(service, parts):
        """unauthenticated version discovery documents (what keystoneauth asks first)"""
        if len(parts) == 1:
            return True
        if service in ("identity", "compute") and len(parts) == 2:
            return True
        if service in ("volume", "orchestration") and len(parts) in (2, 3):
            return True
        return False

    def versions(self, service, parts=None):
        b = self.server.cloud.base
        one = parts is not None and len(parts) > 1
        if service == "identity":
            v = {"id": "v3.14", "status": "stable", "updated": "2020-04-07T00:00:00Z",
                 "links": [{"rel": "self", "href": b + "/identity/v3/"}],
                 "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}]}
            return self.send(200, {"version": v} if one else {"versions": {"values": [v]}})
        if service == "compute":
            v = {"id": "v2.1", "status": "CURRENT", "version": "2.90", "min_version": "2.1",
                 "updated": "2013-07-23T11:33:21Z", "links": [{"rel": "self", "href": b + "/compute/v2.1/"}]}
            return self.send(200, {"version": v} if one else {"versions": [v]})
        if service == "volume":
            v = {"id": "v3.0", "status": "CURRENT", "version": "3.70", "min_version": "3.0",
                 "updated": "2023-02-02T00:00:00Z", "links": [{"rel": "self", "href": b + "/volume/v3/"}]}
            return self.send(200, {"version": v} if one else {"versions": [v]})
        if service == "orchestration":
            v = {"id": "v1.0", "status": "CURRENT", "links": [{"rel": "self", "href": b + "/orchestration/v1/"}]}
            return self.send(200, {"version": v} if one else {"versions": [v]})
        if service == "object":
            return self.send(200, {"swift": {"version": "2.30.0", "account_listing_limit": 10000}})
        if service == "placement":
            return self.send(200, {"versions": [{"id": "v1.0", "max_version": "1.39", "min_version": "1.0",
                                                 "status": "CURRENT", "links": [{"rel": "self", "href": ""}]}]})
        if service == "network":
            v = {"versions": [{"id": "v2.0", "status": "CURRENT",
                               "links": [{"href": b + "/network/v2.0/", "rel": "self"}]}]}
        else:
            v = {"versions": [{"id": "v2.9", "status": "CURRENT", "links": [{"href": b + "/image/v2/", "rel": "self"}]},
                              {"id": "v2.0", "status": "SUPPORTED", "links": [{"href": b + "/image/v2/", "rel": "self"}]}]}
        self.send(300 if service == "image" else 200, v)

    def q1(self, key, default=None):
        v = self.query.get(key)
        return v[0] if v else default

    def page(self, items, default_limit=None, unpaged=False):
        """limit/marker over items sorted by id; returns (page, more, last_id).
        unpaged: without a limit the service returns everything (neutron, keystone, heat)."""
        items = sorted(items, key=lambda r: r["id"])
        if unpaged and self.q1("limit") is None and self.q1("marker") is None:
            return items, False, None
        marker = self.q1("marker")
        if marker:
            idx = [i for i, r in enumerate(items) if r["id"] == marker]
            if not idx:
                raise HTTPError(400, "marker [%s] not found" % marker, "BadRequest")
            items = items[idx[0] + 1:]
        try:
            limit = int(self.q1("limit", default_limit or self.server.cloud.page_size))
        except ValueError:
            raise HTTPError(400, "Invalid limit")
        limit = max(1, min(limit, self.server.cloud.page_size))
        pg = items[:limit]
        more = len(items) > limit or (len(pg) == limit and self.server.cloud.args.nova_style_links)
        return pg, more, (pg[-1]["id"] if pg else None)

    def next_url(self, path, last):
        q = {k: v for k, v in self.query.items() if k not in ("marker",)}
        qs = "&".join("%s=%s" % (k, quote(x, safe="")) for k, vs in q.items() for x in vs)
        return "%s%s?%s%smarker=%s" % (self.server.cloud.base, path, qs, "&" if qs else "", quote(last))

    def visible(self, r_pid):
        return self.ctx["admin"] or r_pid == self.ctx["project"]

    def svc_identity(self, method, parts, body):
        cloud = self.server.cloud
        if parts[:1] != ["v3"] or len(parts) < 2:
            raise HTTPError(404, "not found")
        coll = parts[1]
        if coll not in ("projects", "users", "role_assignments"):
            raise HTTPError(404, "Could not find resource.")
        if not self.ctx["admin"] and not (coll == "users" and len(parts) == 3 and parts[2] == self.ctx["user"]):
            raise HTTPError(403, "You are not authorized to perform the requested action: identity:list_%s." % coll, "Forbidden")
        if coll == "role_assignments":
            ra = [{"role": {"id": det_id("role", v, True)}, "user": {"id": u["id"]}, "scope": {"project": {"id": p}}}
                  for u in cloud.db["users"].values() for p, v in u.get("roles", {}).items()]
            return self.send(200, {"role_assignments": ra, "links": {"self": cloud.base + self.path, "next": None, "previous": None}})
        table = cloud.db[coll]
        one = coll[:-1]
        if len(parts) == 3:
            r = table.get(parts[2])
            if not r:
                raise HTTPError(404, "Could not find %s: %s." % (one, parts[2]), "Not Found")
            if method == "DELETE":
                del table[parts[2]]
                return self.send(204)
            return self.send(200, {one: self.pub_ks(r)})
        items = list(table.values())
        for k, vs in self.query.items():
            v = vs[0]
            if k == "name":
                items = [r for r in items if r["name"] == v]
            elif k == "name__startswith":
                items = [r for r in items if r["name"].startswith(v)]
            elif k == "name__contains":
                items = [r for r in items if v in r["name"]]
            elif k == "domain_id":
                items = [r for r in items if r.get("domain_id") == v]
        if cloud.args.keystone_list_limit:
            # keystone before 2025.1: no paging, list_limit cuts the list and says so
            items = sorted(items, key=lambda r: r["id"])
            out = {coll: [self.pub_ks(r) for r in items[:cloud.args.keystone_list_limit]],
                   "links": {"self": cloud.base + self.path, "previous": None, "next": None}}
            if len(items) > cloud.args.keystone_list_limit:
                out["truncated"] = True
            return self.send(200, out)
        pg, more, last = self.page(items, unpaged=True)
        links = {"self": cloud.base + self.path, "previous": None,
                 "next": self.next_url("/identity/v3/" + coll, last) if more else None}
        self.send(200, {coll: [self.pub_ks(r) for r in pg], "links": links})

    def pub_ks(self, r):
        # keystone keeps no creation time for projects and users
        return {k: v for k, v in self.pub(r).items() if k != "created_at"}

    @staticmethod
    def pub(r):
        return {k: v for k, v in r.items() if k not in ("password", "roles") and not k.startswith("_")}

    # ---- nova ----
    def svc_compute(self, method, parts, body):
        cloud = self.server.cloud
        if parts[:1] != ["v2.1"]:
            raise HTTPError(404, "not found")
        parts = parts[1:]
        mv = self.headers.get("OpenStack-API-Version", "") or self.headers.get("X-OpenStack-Nova-API-Version", "")
        m = re.search(r"(\d+)\.(\d+)", mv)
        micro = (int(m.group(1)), int(m.group(2))) if m else (2, 1)
        if not parts:
            raise HTTPError(404, "not found")
        if parts[0] in ("os-aggregates", "os-hypervisors"):
            return self.spot_compute(method, parts, body, micro)
        if parts[0] == "servers":
            if len(parts) == 2 and parts[1] == "detail" or len(parts) == 1:
                items = list(cloud.db["servers"].values())
                all_t = self.q1("all_tenants") not in (None, "0", "false", "False")
                if all_t and not self.ctx["admin"]:
                    raise HTTPError(403, "Policy doesn't allow os_compute_api:servers:index:get_all_tenants to be performed.")
                pid = self.q1("project_id") or self.q1("tenant_id")
                if not all_t:
                    items = [s for s in items if s["tenant_id"] == self.ctx["project"]]
                elif pid:
                    items = [s for s in items if s["tenant_id"] == pid]
                if self.q1("name"):
                    try:
                        rx = re.compile(self.q1("name"))
                    except re.error:
                        raise HTTPError(400, "Invalid regex")
                    items = [s for s in items if rx.search(s["name"])]
                if self.ctx["admin"] and self.q1("host") is not None and not cloud.args.ignore_host:  # nova ignores host= for non-admins
                    items = [s for s in items if s.get("OS-EXT-SRV-ATTR:host") == self.q1("host")]
                pg, more, last = self.page(items)
                out = {"servers": [self.spot_server_view(s, micro) for s in pg]}
                if more:
                    out["servers_links"] = [{"rel": "next", "href": self.next_url("/compute/v2.1/servers/detail", last)}]
                return self.send(200, out)
            s = cloud.db["servers"].get(parts[1])
            if not s or not self.visible(s["tenant_id"]):
                raise HTTPError(404, "Instance %s could not be found." % parts[1])
            if method == "DELETE":
                if s["locked"] and not self.ctx["admin"]:
                    raise HTTPError(409, "Instance %s is locked" % s["id"])
                if s["OS-EXT-STS:task_state"] != "deleting":
                    s["OS-EXT-STS:task_state"] = "deleting"
                    cloud.start_async("servers", s["id"])
                return self.send(204)
            return self.send(200, {"server": self.pub(s)})
        if parts[0] == "os-keypairs":
            uid = self.q1("user_id") or self.ctx["user"]
            if uid != self.ctx["user"] and not self.ctx["admin"]:
                raise HTTPError(403, "Policy doesn't allow os_compute_api:os-keypairs:index to be performed.")
            if len(parts) == 2:
                k = cloud.db["keypairs"].get(uid + "/" + parts[1])
                if not k:
                    raise HTTPError(404, "Keypair %s not found for user %s" % (parts[1], uid))
                if method == "DELETE":
                    del cloud.db["keypairs"][k["id"]]
                    return self.send(202 if micro < (2, 2) else 204)
                return self.send(200, {"keypair": self.pub_kp(k, True)})
            items = [k for k in cloud.db["keypairs"].values() if k["user_id"] == uid]
            if micro >= (2, 35):
                # nova pages keypairs by name
                items = sorted(items, key=lambda k: k["name"])
                mk = self.q1("marker")
                if mk:
                    idx = [i for i, k in enumerate(items) if k["name"] == mk]
                    if not idx:
                        raise HTTPError(400, "marker [%s] not found" % mk)
                    items = items[idx[0] + 1:]
                lim = min(int(self.q1("limit", cloud.page_size)), cloud.page_size)
                pg = items[:lim]
                out = {"keypairs": [{"keypair": self.pub_kp(k)} for k in pg]}
                if len(items) > lim:
                    q = "user_id=%s&" % uid if self.q1("user_id") else ""
                    out["keypairs_links"] = [{"rel": "next", "href": "%s/compute/v2.1/os-keypairs?%slimit=%d&marker=%s" % (cloud.base, q, lim, quote(pg[-1]["name"]))}]
                return self.send(200, out)
            return self.send(200, {"keypairs": [{"keypair": self.pub_kp(k)} for k in items]})
        if parts[0] == "os-server-groups":
            if len(parts) == 2:
                g = cloud.db["server_groups"].get(parts[1])
                if not g or not self.visible(g["project_id"]):
                    raise HTTPError(404, "Server group %s could not be found." % parts[1])
                if method == "DELETE":
                    del cloud.db["server_groups"][g["id"]]
                    return self.send(204)
                return self.send(200, {"server_group": self.pub(g)})
            items = list(cloud.db["server_groups"].values())
            if self.q1("all_projects") in (None, "0", "false", "False") or not self.ctx["admin"]:
                items = [g for g in items if g["project_id"] == self.ctx["project"]]
            items.sort(key=lambda g: g["id"])
            off = int(self.q1("offset", 0))
            lim = min(int(self.q1("limit", cloud.page_size)), cloud.page_size)
            return self.send(200, {"server_groups": [self.pub(g) for g in items[off:off + lim]]})
        raise HTTPError(404, "not found")

    def pub_kp(self, k, full=False):
        d = {"name": k["name"], "public_key": k["public_key"], "fingerprint": k["fingerprint"], "type": k["type"]}
        if full:
            d.update({"user_id": k["user_id"], "created_at": k["created_at"], "id": 1, "deleted": False})
        return d

    # ---- neutron ----
    NEUTRON = {"networks": "networks", "subnets": "subnets", "ports": "ports", "routers": "routers",
               "floatingips": "floatingips", "security-groups": "security_groups", "trunks": "trunks"}

    def svc_network(self, method, parts, body):
        cloud = self.server.cloud
        if parts[:1] != ["v2.0"] or len(parts) < 2 or parts[1] not in self.NEUTRON:
            raise HTTPError(404, "The resource could not be found.", "HTTPNotFound")
        coll = parts[1]
        t = self.NEUTRON[coll]
        one = {"security_groups": "security_group", "floatingips": "floatingip"}.get(t, t[:-1])
        table = cloud.db[t]
        if len(parts) == 2:
            items = [r for r in table.values() if self.visible(r["project_id"])]
            for k, vs in self.query.items():
                if k in ("limit", "marker", "fields", "page_reverse", "sort_key", "sort_dir"):
                    continue
                items = [r for r in items if str(r.get(k, "")) in vs or (r.get(k) is None and "" in vs)]
            pg, more, last = self.page(items, unpaged=True)
            fields = self.query.get("fields")
            out = {t: [({f: r.get(f) for f in fields} if fields else self.pub(r)) for r in pg]}
            if more and self.q1("limit"):
                out[t + "_links"] = [{"rel": "next", "href": self.next_url("/network/v2.0/" + coll, last)}]
            return self.send(200, out)
        r = table.get(parts[2])
        if not r or not self.visible(r["project_id"]):
            raise HTTPError(404, "%s %s could not be found." % (one.capitalize(), parts[2]), one.capitalize() + "NotFound")
        if method in ("PUT", "DELETE"):
            self.if_match(r)
        if len(parts) == 4 and t == "routers" and method == "PUT":
            return self.router_action(r, parts[3], body)
        if method == "PUT":
            upd = body.get(one, {})
            for k, v in upd.items():
                r[k] = v
            r["revision_number"] += 1
            return self.send(200, {one: self.pub(r)})
        if method == "DELETE":
            self.neutron_delete(t, r)
            return self.send(204)
        return self.send(200, {one: self.pub(r)})

    def if_match(self, r):
        """neutron's revision-if-match: If-Match: revision_number=N, 412 when it differs"""
        im = self.headers.get("If-Match")
        if not im:
            return
        m = re.fullmatch(r"\s*revision_number=(\d+)\s*", im)
        if not m:
            raise neutron_err(400, "HTTPBadRequest", "If-Match only supports revision_number=N")
        if int(m.group(1)) != r["revision_number"]:
            raise neutron_err(412, "RevisionNumberConstraintFailed",
                              "Constrained to %s, but current revision is %d" % (m.group(1), r["revision_number"]))

    def rename_after(self, parts):
        """fault 'rename': the resource just read changes under the client's feet"""
        if len(parts) != 3 or parts[1] not in self.NEUTRON:
            return
        r = self.server.cloud.db[self.NEUTRON[parts[1]]].get(parts[2])
        if r is None:
            return
        r["description" if parts[1] == "floatingips" else "name"] = self.after.get("name", "renamed")
        r["revision_number"] += 1

    def neutron_delete(self, t, r):
        db = self.server.cloud.db
        rid = r["id"]
        if t == "networks":
            busy = [p for p in db["ports"].values() if p["network_id"] == rid and p["device_owner"] != "network:dhcp"]
            if busy:
                raise neutron_err(409, "NetworkInUse", "Unable to complete operation on network %s. There are one or more ports still in use on the network." % rid)
            for p in [p for p in db["ports"].values() if p["network_id"] == rid]:
                del db["ports"][p["id"]]
            for s in [s for s in db["subnets"].values() if s["network_id"] == rid]:
                del db["subnets"][s["id"]]
        elif t == "subnets":
            for p in db["ports"].values():
                if p["device_owner"] != "network:dhcp" and any(f["subnet_id"] == rid for f in p["fixed_ips"]):
                    raise neutron_err(409, "SubnetInUse", "Unable to complete operation on subnet %s: One or more ports have an IP allocation from this subnet." % rid)
        elif t == "routers":
            if any(p["device_id"] == rid and p["device_owner"].startswith("network:router_interface") for p in db["ports"].values()):
                raise neutron_err(409, "RouterInUse", "Router %s still has ports" % rid)
            for p in [p for p in db["ports"].values() if p["device_id"] == rid]:
                del db["ports"][p["id"]]  # the gateway port goes with the router
        elif t == "ports":
            if r["device_owner"].startswith("network:router_interface"):
                raise neutron_err(409, "PortInUse", "Port %s cannot be deleted directly via the port API: has device owner %s." % (rid, r["device_owner"]))
            if any(tr["port_id"] == rid for tr in db["trunks"].values()):
                raise neutron_err(409, "PortInUseByTrunk", "Port %s is currently a parent port for trunk." % rid)
            for f in db["floatingips"].values():
                if f["port_id"] == rid:
                    f["port_id"] = None
        elif t == "security_groups":
            if any(rid in p["security_groups"] for p in db["ports"].values()):
                raise neutron_err(409, "SecurityGroupInUse", "Security Group %s in use." % rid)
            if r["name"] == "default" and not self.ctx["admin"]:
                raise neutron_err(409, "SecurityGroupCannotRemoveDefault", "Insufficient rights for removing default security group.")
        del db[t][rid]

    def router_action(self, r, action, body):
        db = self.server.cloud.db
        if action == "remove_router_interface":
            pid, sid = body.get("port_id"), body.get("subnet_id")
            for p in list(db["ports"].values()):
                if p["device_id"] != r["id"] or not p["device_owner"].startswith("network:router_interface"):
                    continue
                if (pid and p["id"] == pid) or (sid and any(f["subnet_id"] == sid for f in p["fixed_ips"])):
                    del db["ports"][p["id"]]
                    r["revision_number"] += 1
                    return self.send(200, {"id": r["id"], "tenant_id": r["project_id"], "port_id": p["id"],
                                           "subnet_id": p["fixed_ips"][0]["subnet_id"] if p["fixed_ips"] else None})
            raise neutron_err(404, "RouterInterfaceNotFound", "Router %s does not have an interface with id %s" % (r["id"], pid or sid))
        if action == "add_router_interface":
            raise HTTPError(400, "not simulated")
        raise HTTPError(404, "not found")

    # ---- cinder ----
    CINDER = {"volumes": ("volumes", "volume", "os-vol-tenant-attr:tenant_id"),
              "snapshots": ("snapshots", "snapshot", "os-extended-snapshot-attributes:project_id"),
              "backups": ("backups", "backup", "os-backup-project-attr:project_id")}

    def svc_volume(self, method, parts, body):
        cloud = self.server.cloud
        if parts[:1] != ["v3"] or len(parts) < 3 or parts[2] not in self.CINDER:
            raise HTTPError(404, "The resource could not be found.")
        if parts[1] != self.ctx["project"]:
            raise HTTPError(401, "The request you have made requires authentication.")
        t, one, pkey = self.CINDER[parts[2]]
        mv = self.headers.get("OpenStack-API-Version", "")
        m = re.search(r"volume (\d+)\.(\d+)", mv)
        micro = (int(m.group(1)), int(m.group(2))) if m else (3, 0)
        table = cloud.db[t]
        rest = parts[3:]
        if not rest or rest == ["detail"]:
            items = list(table.values())
            all_t = self.q1("all_tenants") not in (None, "0", "false", "False") and self.ctx["admin"]
            if not all_t:
                items = [r for r in items if r[pkey] == self.ctx["project"]]
            elif self.q1("project_id"):
                items = [r for r in items if r[pkey] == self.q1("project_id")]
            for k, vs in self.query.items():
                if k == "name~":
                    if micro < (3, 34):
                        raise HTTPError(400, "Invalid filters name~ are provided.")
                    items = [r for r in items if vs[0] in (r.get("name") or "")]
                elif k == "name":
                    items = [r for r in items if r.get("name") == vs[0]]
            pg, more, last = self.page(items)
            out = {t: [self.pub(r) for r in pg]}
            if more:
                out[t + "_links"] = [{"rel": "next", "href": self.next_url("/volume/v3/%s/%s%s" % (parts[1], t, "/detail" if rest else ""), last)}]
            return self.send(200, out)
        r = table.get(rest[0])
        if not r or not self.visible(r[pkey]):
            raise HTTPError(404, "%s %s could not be found." % (one.capitalize(), rest[0]))
        if method == "DELETE":
            if r["status"] == "deleting":
                return self.send(202)
            if t == "volumes":
                snaps = [s for s in cloud.db["snapshots"].values() if s["volume_id"] == r["id"]]
                if snaps and self.q1("cascade") not in ("true", "True", "1"):
                    raise HTTPError(400, "Invalid volume: Volume %s still has %d dependent snapshots." % (r["id"], len(snaps)))
                if r["attachments"] or r["status"] == "in-use":
                    raise HTTPError(400, "Invalid volume: Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots or be disassociated from snapshots after volume transfer.")
                for s in snaps:
                    cloud.db["snapshots"].pop(s["id"], None)
            r["status"] = "deleting"
            cloud.start_async(t, r["id"])
            return self.send(202)
        return self.send(200, {one: self.pub(r)})

    # ---- glance ----
    def svc_image(self, method, parts, body):
        cloud = self.server.cloud
        if parts[:2] != ["v2", "images"]:
            raise HTTPError(404, "The resource could not be found.")
        table = cloud.db["images"]
        if len(parts) == 2:
            items = [i for i in table.values() if self.ctx["admin"] or i["owner"] == self.ctx["project"] or i["visibility"] == "public"]
            for k in ("owner", "name", "status", "visibility"):
                if self.q1(k) is not None:
                    items = [i for i in items if i.get(k) == self.q1(k)]
            pg, more, last = self.page(items, 25)
            out = {"images": [self.pub(i) for i in pg], "first": "/v2/images", "schema": "/v2/schemas/images"}
            if more:
                q = {k: v for k, v in self.query.items() if k != "marker"}
                qs = "&".join("%s=%s" % (k, quote(x, safe="")) for k, vs in q.items() for x in vs)
                out["next"] = "/v2/images?%s%smarker=%s" % (qs, "&" if qs else "", last)
            return self.send(200, out)
        i = table.get(parts[2])
        if not i or not (self.ctx["admin"] or i["owner"] == self.ctx["project"]):
            raise HTTPError(404, "No image found with ID %s" % parts[2], "Not Found")
        if method == "DELETE":
            if i["protected"]:
                raise HTTPError(403, "Image %s is protected and cannot be deleted." % i["id"], "Forbidden")
            del table[i["id"]]
            return self.send(204)
        return self.send(200, self.pub(i))

    # ---- swift ----
    def svc_object(self, method, parts, body):
        # Per-account storage (AUTH_<project_id>), keystoneauth's rule: a token reaches
        # its own project's account; another account only with the ResellerAdmin role
        # (seed a user with "reseller_admin": true), else 403.  An account never used
        # lists empty (account_autocreate).
        cloud = self.server.cloud
        if parts[:1] != ["v1"] or len(parts) < 2 or not parts[1].startswith("AUTH_"):
            raise HTTPError(403, "Forbidden")
        acct = parts[1][len("AUTH_"):]
        if acct != (self.ctx["project"] or "") and not self.ctx.get("reseller"):
            raise HTTPError(403, "Forbidden")
        table = cloud.db["containers"]
        if len(parts) == 2:
            items = sorted((c for c in table.values() if c["_project"] == acct), key=lambda c: c["name"])
            return self.swift_list(items, lambda c: {"name": c["name"], "count": len(cloud.objects.get(c["id"], {})),
                                                     "bytes": 0, "last_modified": c["last_modified"]})
        cname = parts[2]
        c = next((x for x in table.values() if x["_project"] == acct and x["name"] == cname), None)
        if not c:
            raise HTTPError(404, "Not Found")
        cid = c["id"]
        objs = cloud.objects.setdefault(cid, {})
        if len(parts) == 3:
            if method == "DELETE":
                if objs:
                    raise HTTPError(409, "There was a conflict when trying to complete your request.", "Conflict")
                del table[cid]
                cloud.objects.pop(cid, None)
                return self.send(204)
            return self.swift_list(sorted(objs.values(), key=lambda o: o["name"]), lambda o: o,
                                   {"X-Container-Object-Count": str(len(objs))})
        oname = "/".join(parts[3:])
        if oname not in objs:
            raise HTTPError(404, "Not Found")
        if method == "DELETE":
            del objs[oname]
            return self.send(204)
        return self.send(200, raw=b"x", ctype="application/octet-stream")

    def swift_list(self, items, view, headers=None):
        prefix = self.q1("prefix")
        if prefix:
            items = [i for i in items if i["name"].startswith(prefix)]
        mk = self.q1("marker")
        if mk:
            items = [i for i in items if i["name"] > mk]
        lim = min(int(self.q1("limit", 10000)), 10000)
        pg = items[:lim]
        if self.q1("format") == "json" or "json" in (self.headers.get("Accept") or ""):
            return self.send(200 if pg else 204 if self.command == "HEAD" else 200, [view(i) for i in pg], headers)
        return self.send(200, raw="".join(i["name"] + "\n" for i in pg).encode(), headers=headers, ctype="text/plain")

    # ---- heat ----
    def svc_orchestration(self, method, parts, body):
        cloud = self.server.cloud
        if parts[:1] != ["v1"] or len(parts) < 3 or parts[2] != "stacks":
            raise HTTPError(404, "The resource could not be found.")
        table = cloud.db["stacks"]
        if len(parts) == 3:
            items = [s for s in table.values() if s["stack_status"] != "DELETE_COMPLETE"]
            if not (self.q1("global_tenant") in ("True", "true", "1") and self.ctx["admin"]):
                items = [s for s in items if s["project"] == self.ctx["project"]]
            pg, more, last = self.page(items, unpaged=True)
            out = {"stacks": [self.stack_view(s) for s in pg]}
            if more:
                out["links"] = [{"rel": "next", "href": self.next_url("/orchestration/v1/%s/stacks" % parts[1], last)}]
            return self.send(200, out)
        s = table.get(parts[-1]) or next((x for x in table.values() if x["stack_name"] == parts[3]), None)
        if not s or not self.visible(s["project"]):
            raise HTTPError(404, "The Stack (%s) could not be found." % parts[3], "Not Found")
        if method == "DELETE":
            if s["stack_status"] != "DELETE_IN_PROGRESS":
                s["stack_status"] = "DELETE_IN_PROGRESS"
                cloud.start_async("stacks", s["id"])
            return self.send(204)
        return self.send(200, {"stack": self.stack_view(s)})

    def stack_view(self, s):
        v = self.pub(s)
        v["links"] = [{"href": "%s/orchestration/v1/%s/stacks/%s/%s" % (self.server.cloud.base, s["project"], s["stack_name"], s["id"]), "rel": "self"}]
        return v

    # ---- spot-agg: nova aggregates/hypervisors, servers with flavors, placement ----
    def spot_server_view(self, s, micro):
        v = self.pub(s)
        if micro < (2, 47) and isinstance(v.get("flavor"), dict) and "extra_specs" in v["flavor"]:
            v["flavor"] = {"id": v["flavor"].get("id", "1"), "links": []}  # before 2.47: a reference only
        return v

    def spot_compute(self, method, parts, body, micro):
        cloud = self.server.cloud
        if not self.ctx["admin"]:
            raise HTTPError(403, "Policy doesn't allow os_compute_api:%s:index to be performed." % parts[0])
        if parts[0] == "os-hypervisors":
            if parts[1:] != ["detail"]:
                raise HTTPError(404, "not found")
            out = []
            on_host = None
            ws = self.q1("with_servers")
            if ws is not None and micro >= (2, 53):  # nova: bool_from_string(strict=True)
                if ws.lower() not in ("1", "0", "t", "f", "true", "false", "on", "off", "y", "n", "yes", "no"):
                    raise HTTPError(400, "Unrecognized value '%s', acceptable values are: '0', '1', 'f', 'false', "
                                    "'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'" % ws)
                if ws.lower() in ("1", "t", "true", "on", "y", "yes"):
                    # InstanceList.get_by_host: the non-deleted instances of the service host
                    # (shelved-offloaded ones have no host)
                    on_host = {}
                    for sv in sorted(cloud.db["servers"].values(), key=lambda x: x["id"]):
                        hn = sv.get("OS-EXT-SRV-ATTR:host")
                        if hn and sv.get("status") != "SHELVED_OFFLOADED":
                            on_host.setdefault(hn, []).append({"name": sv["name"], "uuid": sv["id"]})
            for h in sorted(cloud.hyps, key=lambda h: h["id"]):
                d = {"id": h["id"] if micro >= (2, 53) else abs(hash(h["id"])) % 100000,
                     "hypervisor_hostname": h["hypervisor_hostname"], "hypervisor_type": "fake",
                     "hypervisor_version": 1000, "host_ip": "192.0.2.1", "state": h["state"],
                     "status": h["status"], "service": {"host": h["host"], "id": det_id("service", h["host"]),
                                                        "disabled_reason": h["disabled_reason"]}}
                if micro < (2, 88):
                    d.update({"vcpus": 64, "vcpus_used": 0, "running_vms": 0, "memory_mb": 515072})
                else:
                    d["uptime"] = None
                if on_host is not None and (on_host.get(h["host"]) or micro >= (2, 75)):
                    d["servers"] = on_host.get(h["host"], [])  # before 2.75 only when there are some
                out.append(d)
            pg, more, last = self.page(out)
            res = {"hypervisors": pg}
            if more:
                res["hypervisors_links"] = [{"rel": "next", "href": self.next_url("/compute/v2.1/os-hypervisors/detail", last)}]
            return self.send(200, res)
        if len(parts) == 1 and method == "GET":
            return self.send(200, {"aggregates": [self.spot_agg_view(a, micro) for a in
                                                  sorted(cloud.aggs.values(), key=lambda a: a["id"])]})
        try:
            a = cloud.aggs[int(parts[1])]
        except (ValueError, KeyError, IndexError):
            raise HTTPError(404, "Aggregate %s could not be found." % (parts[1:2] or [""])[0])
        if len(parts) == 2 and method == "GET":
            return self.send(200, {"aggregate": self.spot_agg_view(a, micro)})
        if parts[2:] != ["action"] or method != "POST" or not isinstance(body, dict) or len(body) != 1:
            raise HTTPError(400, "Invalid input for aggregate action")
        act, arg = next(iter(body.items()))
        if act in ("add_host", "remove_host"):
            host = (arg or {}).get("host")
            if act in a.get("fail_actions", []):
                raise HTTPError(500, "simulated %s failure" % act)
            if host not in [h["host"] for h in cloud.hyps]:
                raise HTTPError(404, "Compute host %s could not be found." % host)
            if act == "add_host":
                if host in a["hosts"]:
                    raise HTTPError(409, "Aggregate %s already has host %s." % (a["id"], host))
                a["hosts"].append(host)
            else:
                if host not in a["hosts"]:
                    raise HTTPError(404, "Cannot remove host %s in aggregate %s" % (host, a["id"]))
                a["hosts"].remove(host)
            return self.send(200, {"aggregate": self.spot_agg_view(a, micro)})
        if act == "set_metadata":
            for k, v in arg.get("metadata", {}).items():
                if v is None:
                    a["metadata"].pop(k, None)
                else:
                    a["metadata"][k] = v
            return self.send(200, {"aggregate": self.spot_agg_view(a, micro)})
        raise HTTPError(400, "Invalid input for aggregate action")

    @staticmethod
    def spot_agg_view(a, micro):
        v = {k: a[k] for k in ("id", "name", "availability_zone", "hosts", "metadata")}
        v.update({"created_at": "2026-01-01T00:00:00.000000", "updated_at": None, "deleted": False,
                  "deleted_at": None})
        if micro >= (2, 41):
            v["uuid"] = a["uuid"]
        return v

    def svc_placement(self, method, parts, body):
        cloud = self.server.cloud
        mv = self.headers.get("OpenStack-API-Version", "")
        m = re.search(r"placement (\d+)\.(\d+)", mv)
        micro = (int(m.group(1)), int(m.group(2))) if m else (1, 0)
        if micro > (1, 39):
            raise HTTPError(406, "Unacceptable version header: %s" % mv)
        if not self.ctx["admin"]:
            raise HTTPError(403, "Policy does not allow placement:resource_providers:list to be performed.")
        if method != "GET" or not parts or parts[0] != "resource_providers":
            raise HTTPError(404, "not found")

        def view(r):
            v = {"uuid": r["uuid"], "name": r["name"], "generation": r["generation"],
                 "links": [{"rel": "self", "href": "/resource_providers/" + r["uuid"]}]}
            if micro >= (1, 14):
                v["parent_provider_uuid"] = r["parent_provider_uuid"]
                v["root_provider_uuid"] = r["root_provider_uuid"]
            return v
        if len(parts) == 1:
            items = list(cloud.rps.values())
            if self.q1("in_tree") is not None:
                if micro < (1, 14):
                    raise HTTPError(400, "Invalid query string parameters: 'in_tree' was unexpected")
                t = cloud.rps.get(self.q1("in_tree"))
                items = [r for r in items if t and r["root_provider_uuid"] == t["root_provider_uuid"]]
            if self.q1("name") is not None:
                items = [r for r in items if r["name"] == self.q1("name")]
            return self.send(200, {"resource_providers": [view(r) for r in sorted(items, key=lambda r: r["uuid"])]})
        r = cloud.rps.get(parts[1])
        if not r:
            raise HTTPError(404, "No resource provider with uuid %s found" % parts[1])
        sub = parts[2:]
        allocs = cloud.allocs.get(r["uuid"], {})
        if not sub:
            return self.send(200, view(r))
        if sub == ["inventories"]:
            return self.send(200, {"inventories": r["inventories"], "resource_provider_generation": r["generation"]})
        if sub == ["usages"]:
            use = {rc: 0 for rc in r["inventories"]}
            for res in allocs.values():
                for rc, n in res.items():
                    use[rc] = use.get(rc, 0) + n
            return self.send(200, {"usages": use, "resource_provider_generation": r["generation"]})
        if sub == ["allocations"]:
            return self.send(200, {"allocations": {c: {"resources": res} for c, res in allocs.items()},
                                   "resource_provider_generation": r["generation"]})
        if sub == ["aggregates"]:
            host = [h["host"] for h in cloud.hyps if h["hypervisor_hostname"] == r["name"]]
            aggs = [a["uuid"] for a in cloud.aggs.values() if set(host) & set(a["hosts"])]
            return self.send(200, {"aggregates": aggs, "resource_provider_generation": r["generation"]})
        raise HTTPError(404, "not found")


def main():
    ap = argparse.ArgumentParser(description="stateful OpenStack simulator")
    ap.add_argument("--seed", help="seed JSON file")
    ap.add_argument("--generate", type=int, help="generate a seed of N resources (bench)")
    ap.add_argument("--write-seed", help="with --generate: write the seed to this file and exit")
    ap.add_argument("--latency-ms", type=float, default=0.0, help="latency added to every request")
    ap.add_argument("--fault", action="append", default=[], help="fault spec k=v,... (repeatable)")
    ap.add_argument("--page-size", type=int, default=1000, help="largest page a list returns")
    ap.add_argument("--async-delay", type=float, default=0.3, help="seconds an async delete takes")
    ap.add_argument("--token-ttl", type=float, default=3600.0)
    ap.add_argument("--max-seconds", type=float, default=600.0)
    ap.add_argument("--service", action="append", help="services in the catalog (default: all)")
    ap.add_argument("--nova-style-links", action="store_true",
                    help="emit a next link whenever a page is full (clients must accept an empty last page)")
    ap.add_argument("--keystone-list-limit", type=int, default=0,
                    help="emulate an old keystone with [DEFAULT] list_limit: cut lists, say truncated")
    ap.add_argument("--tls-cert", metavar="PEM", help="serve HTTPS with this certificate (READY https://...)")
    ap.add_argument("--tls-key", metavar="PEM", help="private key of --tls-cert")
    ap.add_argument("--client-ca", metavar="PEM", help="with --tls-cert: require a client certificate from this CA")
    ap.add_argument("--ignore-host-filter", dest="ignore_host", action="store_true",
                    help="servers/detail ignores host= even for admins (what nova does for non-admins)")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    cloud = Cloud(args)
    if args.generate:
        seed = cloud.generate(args.generate)
        if args.write_seed:
            with open(args.write_seed, "w") as f:
                json.dump(seed, f)
            return 0
    elif args.seed:
        with open(args.seed) as f:
            seed = json.load(f)
    else:
        seed = {"projects": [{"name": "admin"}], "users": [{"name": "admin", "password": "secret", "roles": {"admin": "admin"}}]}
    cloud.load_seed(seed)
    if args.service:
        cloud.services = [s for s in SERVICES if s in args.service]
    for f in args.fault:
        cloud.faults.append(parse_fault(f))
    class Server(simtls.HandshakeInThread, ThreadingHTTPServer):
        # simtls.HandshakeInThread: the TLS handshake in the connection's thread; a refused one ends quietly
        request_queue_size = 256  # the default 5 drops SYNs of parallel clients (1 s retransmits)
    srv = Server(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.cloud = cloud
    cloud.base = "http://127.0.0.1:%d" % srv.server_address[1]
    if args.tls_cert:
        srv.tls = simtls.server_context(args.tls_cert, args.tls_key, args.client_ca)
        cloud.base = "https://127.0.0.1:%d" % srv.server_address[1]

    def stop(*_):
        threading.Thread(target=srv.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    timer = threading.Timer(args.max_seconds, stop)
    timer.daemon = True
    timer.start()
    print("READY " + cloud.base, flush=True)
    srv.serve_forever()
    srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
