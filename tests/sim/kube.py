#!/usr/bin/env python3
"""Stateful Kubernetes API server simulator for nasmon-check and infra_kube tests (stdlib only).

    kube.py --world FILE [--tls-dir DIR | --tls-cert PEM --tls-key PEM [--client-ca PEM] | --http]
            [--token TOKEN[=USER]]... [--deny [USER:]RESOURCE]... [--anonymous]
            [--continue-ttl S] [--fault SPEC]... [--latency-ms MS] [--max-seconds S]

Serves, read-only, the `kube` part of a world file (tests/sim/nas-world-min.json, or the output
of tests/sim/nas_scenario.py): {"kube": {"persistentvolumes": [...], ...}}.  A resource whose key
is absent is not installed: its URLs answer 404 "404 page not found" like an API server without
that CRD.  Listens on 127.0.0.1 (ephemeral port) and prints `READY https://127.0.0.1:PORT` first.

TLS: --tls-dir DIR makes (with openssl, once) DIR/ca.pem, DIR/ca.key, DIR/server.{pem,key}
(CN=localhost, SAN IP:127.0.0.1, DNS:localhost) and DIR/client.{pem,key} (CN=nasmon-client,
O=nasmon), plus DIR/other-ca.pem (a CA that signed nothing here, for "wrong CA" tests), then
serves HTTPS with it and verifies client certificates against DIR/ca.pem.  --http serves
plain HTTP (loopback tests only).

Auth (like the API server): `Authorization: Bearer TOKEN` with a --token (default user
"system:serviceaccount:nasmon:nasmon-check"), or a client certificate verified against the CA
(user = its CN).  A bad token gives 401; no credentials give 401 unless --anonymous
(user "system:anonymous").  RBAC: --deny RESOURCE (everyone) or --deny USER:RESOURCE answers
403 with the API server's Status message for that list; --rbac FILE (ClusterRoles and
ClusterRoleBindings, e.g. share/nasmon/rbac.yaml; needs python3-yaml) allows a list only to the
users a binding grants 'list' on it (a ServiceAccount subject is system:serviceaccount:NS:NAME).

Lists (GET, all namespaces and /namespaces/NS/...):
  /api/v1/{persistentvolumes,persistentvolumeclaims,nodes,pods}
  /apis/storage.k8s.io/v1/{storageclasses,volumeattachments,csidrivers,csinodes}
  /apis/snapshot.storage.k8s.io/v1/{volumesnapshots,volumesnapshotcontents,volumesnapshotclasses}
  /apis/apps/v1/{daemonsets,deployments}
with labelSelector (k=v, k==v, k!=v, k, !k; comma = and), fieldSelector metadata.name= and
metadata.namespace=, limit + continue (metadata.continue, metadata.remainingItemCount,
metadata.resourceVersion).  A continue token older than --continue-ttl (default 300) seconds,
or one issued before the world changed (/_sim/mutate), answers 410 Gone (reason Expired).
Objects are served in name order (namespace, name), as etcd keys are.  Items of built-in
types carry no kind/apiVersion (as the API server sends them); CRD items (snapshots) do.
Also: GET /version, /api, /apis (discovery, the installed groups only).

Control (no auth): GET /_sim/requests (log: method, path, status, auth), GET /_sim/world,
POST /_sim/fault (JSON fault), POST /_sim/mutate {"op": "add"|"delete", "resource": R,
"object": {...} | "name": N, "namespace": NS} (bumps resourceVersion: older continue tokens
then answer 410), POST /_sim/expire (every continue token issued so far answers 410).
Faults (--fault k=v,k=v or JSON): {"path": REGEX (searched in path?query), "kind": K, "count": N|-1,
"after": N, "ms": M}
  kind: 500 | 503 | 429 | latency | garbage (malformed JSON, 200) | truncate (Content-Length
  longer than the body) | close (drop the connection) | expire (410 for a request with continue) |
  write (before answering, a write by someone else: resourceVersion bumped and, with "resource"
  and "object", that object added; the request's older continue token then answers 410)
Exits on SIGTERM/SIGINT and after --max-seconds.
"""
import argparse
import base64
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

# resource -> (group, version, list kind, namespaced, builtin)
RESOURCES = {
    "persistentvolumes": ("", "v1", "PersistentVolumeList", False, True),
    "persistentvolumeclaims": ("", "v1", "PersistentVolumeClaimList", True, True),
    "nodes": ("", "v1", "NodeList", False, True),
    "pods": ("", "v1", "PodList", True, True),
    "storageclasses": ("storage.k8s.io", "v1", "StorageClassList", False, True),
    "volumeattachments": ("storage.k8s.io", "v1", "VolumeAttachmentList", False, True),
    "csidrivers": ("storage.k8s.io", "v1", "CSIDriverList", False, True),
    "csinodes": ("storage.k8s.io", "v1", "CSINodeList", False, True),
    "volumesnapshots": ("snapshot.storage.k8s.io", "v1", "VolumeSnapshotList", True, False),
    "volumesnapshotcontents": ("snapshot.storage.k8s.io", "v1", "VolumeSnapshotContentList", False, False),
    "volumesnapshotclasses": ("snapshot.storage.k8s.io", "v1", "VolumeSnapshotClassList", False, False),
    "daemonsets": ("apps", "v1", "DaemonSetList", True, True),
    "deployments": ("apps", "v1", "DeploymentList", True, True),
}
DEFAULT_USER = "system:serviceaccount:nasmon:nasmon-check"
EXPIRED_MSG = ("The provided continue parameter is too old to display a consistent list result. You can "
               "start a new list without the continue parameter, or use the continue token in this response "
               "to retrieve the remainder of the results. Continuing with the provided token results in an "
               "inconsistent list - objects that were created, modified, or deleted between the time the "
               "first chunk was returned and now may show up in the list.")


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_tls(d):
    """CA, server and client certificates made with openssl (once per directory)."""
    os.makedirs(d, exist_ok=True)
    p = lambda n: os.path.join(d, n)
    if os.path.exists(p("client.pem")) and os.path.exists(p("other-ca.pem")):
        return
    for ca in ("ca", "other-ca"):
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", p(ca + ".key"), "-out", p(ca + ".pem"), "-days", "3650",
                "-subj", "/CN=kube-sim %s" % ca, "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    ext = p("server.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    with open(p("client.ext"), "w") as f:
        f.write("extendedKeyUsage=clientAuth\n")
    for who, subj in (("server", "/CN=localhost"), ("client", "/O=nasmon/CN=nasmon-client")):
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", p(who + ".key"), "-out", p(who + ".csr"), "-subj", subj)
        openssl("x509", "-req", "-in", p(who + ".csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"),
                "-CAcreateserial", "-out", p(who + ".pem"), "-days", "3650", "-extfile", p(who + ".ext"))
    for n in os.listdir(d):
        if n.endswith(".key"):
            os.chmod(p(n), 0o600)


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
    f["kind"] = str(f.get("kind", "500"))
    f.setdefault("path", ".")
    f["seen"] = 0
    return f


def match_labels(sel, labels):
    for term in [t.strip() for t in sel.split(",") if t.strip()]:
        if "!=" in term:
            k, v = term.split("!=", 1)
            if labels.get(k.strip()) == v.strip():
                return False
        elif "=" in term:
            k, v = re.split("==?", term, maxsplit=1)
            if labels.get(k.strip()) != v.strip():
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def load_rbac(path):
    """ClusterRoles and ClusterRoleBindings of a YAML file -> {user: {(group, resource, verb)}}."""
    import yaml  # only with --rbac (python3-yaml)
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    roles = {d["metadata"]["name"]: d.get("rules") or [] for d in docs if d.get("kind") == "ClusterRole"}
    allowed = {}
    for b in (d for d in docs if d.get("kind") == "ClusterRoleBinding"):
        perms = set()
        for r in roles.get(b["roleRef"]["name"], []):
            for g in r.get("apiGroups", []):
                for res in r.get("resources", []):
                    for v in r.get("verbs", []):
                        perms.add((g, res, v))
        for sub in b.get("subjects") or []:
            user = ("system:serviceaccount:%s:%s" % (sub.get("namespace"), sub["name"])
                    if sub.get("kind") == "ServiceAccount" else sub["name"])
            allowed.setdefault(user, set()).update(perms)
    return allowed


def rbac_allows(allowed, user, group, res, verb):
    p = allowed.get(user, set())
    return any((g in (group, "*")) and (r in (res, "*")) and (v in (verb, "*")) for g, r, v in p)


class Sim:
    def __init__(self, args, world):
        self.args = args
        self.lock = threading.Lock()
        self.kube = world.get("kube", {})
        for r in self.kube:
            if r not in RESOURCES:
                raise SystemExit("kube.py: unknown resource %r in the world file" % r)
        self.rv = 1000
        self.epoch = 0  # bumped by /_sim/expire: older continue tokens are too old
        self.faults = [parse_fault(f) for f in args.fault]
        self.log = []
        self.tokens = {}
        for t in args.token or ["sim-token"]:
            tok, _, user = t.partition("=")
            self.tokens[tok] = user or DEFAULT_USER
        self.rbac = None
        if args.rbac:
            self.rbac = load_rbac(args.rbac)
        self.deny = []
        for d in args.deny:
            user, _, res = d.rpartition(":")
            self.deny.append((user or None, res))
        for r, objs in self.kube.items():
            for o in objs:
                self.stamp(o)
        # Encoded once per state of the world: res -> (rv, epoch of writes, [(obj, bytes)] in
        # name order).  Any write bumps self.rv, which invalidates every entry.
        self.encoded = {}
        for r in self.kube:
            self.sorted_encoded(r)

    def sorted_encoded(self, res):
        """The objects of res in (namespace, name) order, each with its JSON bytes as served
        (built-in items without kind/apiVersion, CRD items with them).  Call with the lock held
        (or before serving)."""
        c = self.encoded.get(res)
        if c is not None and c[0] == self.rv and c[1] is self.kube[res]:
            return c[2]
        spec = RESOURCES[res]
        objs = sorted(self.kube[res], key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"].get("name", "")))
        out = []
        for o in objs:
            if spec[4]:
                o2 = {k: v for k, v in o.items() if k not in ("kind", "apiVersion")}
            else:
                o2 = dict(o)
                o2["kind"] = spec[2][:-4]
                o2["apiVersion"] = "%s/%s" % (spec[0], spec[1])
            out.append((o, json.dumps(o2).encode()))
        self.encoded[res] = (self.rv, self.kube[res], out)
        return out

    def stamp(self, o):
        self.rv += 1
        o.setdefault("metadata", {}).setdefault("resourceVersion", str(self.rv))

    def objects(self, res, ns):
        """[(obj, encoded bytes)] of res (in namespace ns), in name order."""
        objs = self.sorted_encoded(res)
        if ns is not None:
            objs = [e for e in objs if e[0].get("metadata", {}).get("namespace") == ns]
        return objs

    def write(self, res, obj):
        """A write by someone else: a new resourceVersion (older continue tokens expire)."""
        with self.lock:
            self.rv += 1
            if res in RESOURCES and obj:
                obj = json.loads(json.dumps(obj))
                obj.setdefault("metadata", {})["resourceVersion"] = str(self.rv)
                self.kube.setdefault(res, []).append(obj)

    def token(self, start):
        raw = json.dumps({"rv": self.rv, "start": start, "t": time.time(), "e": self.epoch}).encode()
        return base64.urlsafe_b64encode(raw).decode()

    def decode(self, tok):
        try:
            pad = "=" * (-len(tok) % 4)
            d = json.loads(base64.urlsafe_b64decode(tok + pad))
            return int(d["rv"]), int(d["start"]), float(d["t"]), int(d["e"])
        except (ValueError, KeyError, TypeError):
            return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kube-sim/1"

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt, *a):
        if self.server.sim.args.verbose:
            sys.stderr.write("kube-sim: " + (fmt % a) + "\n")

    def send_raw(self, code, body, ctype="application/json", extra=None, length=None):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        self.status = code

    def send_json(self, code, obj, extra=None):
        self.send_raw(code, json.dumps(obj).encode(), extra=extra)

    def status_obj(self, code, reason, msg, details=None):
        st = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
              "message": msg, "reason": reason, "code": code}
        if details:
            st["details"] = details
        self.send_json(code, st)

    def who(self):
        sim = self.server.sim
        auth = self.headers.get("Authorization", "")
        if auth:
            if not auth.startswith("Bearer "):
                return None, "bad-scheme"
            tok = auth[7:].strip()
            if tok in sim.tokens:
                return sim.tokens[tok], "token"
            return None, "bad-token"
        cert = getattr(self.connection, "getpeercert", lambda: None)()
        if cert:
            cn = [v for rdn in cert.get("subject", ()) for k, v in rdn if k == "commonName"]
            if cn:
                return cn[0], "cert"
        if sim.args.anonymous:
            return "system:anonymous", "anonymous"
        return None, "none"

    def fault(self, path, has_continue):
        sim = self.server.sim
        with sim.lock:
            for f in sim.faults:
                if not re.search(f["path"], path):
                    continue
                if f["kind"] == "expire" and not has_continue:
                    continue
                f["seen"] += 1
                if f["seen"] <= f["after"] or f["count"] == 0:
                    continue
                if f["count"] > 0:
                    f["count"] -= 1
                return f
        return None

    def do_GET(self):
        self.status = 0
        u = urlsplit(self.path)
        q = {k: v[-1] for k, v in parse_qs(u.query, keep_blank_values=True).items()}
        sim = self.server.sim
        user, how = None, ""
        try:
            if u.path.startswith("/_sim/"):
                return self.control_get(u.path)
            if sim.args.latency_ms:
                time.sleep(sim.args.latency_ms / 1000.0)
            f = self.fault(self.path, bool(q.get("continue")))
            if f:
                k = f["kind"]
                if k == "latency":
                    time.sleep(float(f.get("ms", 500)) / 1000.0)
                elif k in ("500", "503", "429"):
                    extra = {"Retry-After": "1"} if k != "500" else None
                    reason = {"500": "InternalError", "503": "ServiceUnavailable", "429": "TooManyRequests"}[k]
                    return self.send_json(int(k), {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                                   "status": "Failure", "message": "injected fault",
                                                   "reason": reason, "code": int(k)}, extra)
                elif k == "garbage":
                    return self.send_raw(200, b'{"kind":"PersistentVolumeList","items":[{"metadata":')
                elif k == "truncate":
                    return self.send_raw(200, b'{"kind":"List","items":[', length=4096)
                elif k == "close":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                elif k == "expire":
                    return self.status_obj(410, "Expired", EXPIRED_MSG)
                elif k == "write":
                    sim.write(f.get("resource"), f.get("object"))
            user, how = self.who()
            if user is None:
                return self.status_obj(401, "Unauthorized", "Unauthorized")
            self.route(u.path, q, user)
        except BrokenPipeError:
            pass
        finally:
            if not u.path.startswith("/_sim/"):
                with sim.lock:
                        sim.log.append({"method": "GET", "path": self.path, "status": self.status, "auth": how,
                                    "user": user})

    def route(self, path, q, user):
        sim = self.server.sim
        if path == "/version":
            return self.send_json(200, {"major": "1", "minor": "31", "gitVersion": "v1.31.0-kube-sim",
                                        "platform": "linux/amd64"})
        if path == "/api":
            return self.send_json(200, {"kind": "APIVersions", "versions": ["v1"],
                                        "serverAddressByClientCIDRs": []})
        if path == "/apis":
            groups = sorted({RESOURCES[r][0] for r in sim.kube if RESOURCES[r][0]})
            return self.send_json(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": g, "versions": [{"groupVersion": g + "/v1", "version": "v1"}],
                 "preferredVersion": {"groupVersion": g + "/v1", "version": "v1"}} for g in groups]})
        m = re.fullmatch(r"/(?:api/v1|apis/([a-z0-9.-]+)/v1)(?:/namespaces/([a-z0-9-]+))?/([a-z]+)", path)
        if not m:
            return self.send_raw(404, b"404 page not found\n", "text/plain; charset=utf-8")
        group, ns, res = m.group(1) or "", m.group(2), m.group(3)
        spec = RESOURCES.get(res)
        if not spec or spec[0] != group or res not in sim.kube or (ns is not None and not spec[3]):
            return self.send_raw(404, b"404 page not found\n", "text/plain; charset=utf-8")
        denied = sim.rbac is not None and not rbac_allows(sim.rbac, user, group, res, "list")
        for du, dr in sim.deny + ([(user, res)] if denied else []):
            if dr == res and (du is None or du == user):
                scope = ('in the namespace "%s"' % ns) if ns else "at the cluster scope"
                return self.status_obj(403, "Forbidden",
                                       '%s is forbidden: User "%s" cannot list resource "%s" in API group "%s" %s'
                                       % (res + ("." + group if group else ""), user, res, group, scope),
                                       {"group": group, "kind": res})
        self.list(res, spec, ns, q)

    def list(self, res, spec, ns, q):
        sim = self.server.sim
        try:
            limit = int(q.get("limit", "0") or 0)
        except ValueError:
            return self.status_obj(400, "BadRequest", "invalid limit")
        with sim.lock:
            objs = sim.objects(res, ns)
            start = 0
            if q.get("continue"):
                d = sim.decode(q["continue"])
                if d is None:
                    return self.status_obj(400, "BadRequest", "continue key is not valid: illegal base64 data")
                rv, start, t, epoch = d
                if rv != sim.rv or epoch != sim.epoch or time.time() - t > sim.args.continue_ttl:
                    return self.status_obj(410, "Expired", EXPIRED_MSG)
            sel = q.get("labelSelector")
            if sel:
                objs = [e for e in objs if match_labels(sel, e[0]["metadata"].get("labels", {}))]
            fsel = q.get("fieldSelector")
            if fsel:
                for term in fsel.split(","):
                    k, _, v = term.partition("=")
                    key = {"metadata.name": "name", "metadata.namespace": "namespace"}.get(k.rstrip("="))
                    if key is None:
                        return self.status_obj(400, "BadRequest", 'field label not supported: %s' % k)
                    v = v.lstrip("=")
                    objs = [e for e in objs if e[0]["metadata"].get(key, "") == v]
            meta = {"resourceVersion": str(sim.rv)}
            page = objs[start:]
            if limit > 0 and len(page) > limit:
                page = page[:limit]
                meta["continue"] = sim.token(start + limit)
                meta["remainingItemCount"] = len(objs) - start - limit
            items = b",".join(e[1] for e in page)
        api_version = "%s/%s" % (spec[0], spec[1]) if spec[0] else spec[1]
        head = json.dumps({"kind": spec[2], "apiVersion": api_version, "metadata": meta})
        self.send_raw(200, head[:-1].encode() + b', "items": [' + items + b"]}")

    def control_get(self, path):
        sim = self.server.sim
        with sim.lock:
            if path == "/_sim/requests":
                return self.send_json(200, sim.log)
            if path == "/_sim/world":
                return self.send_json(200, {"kube": sim.kube})
        return self.send_raw(404, b"404 page not found\n", "text/plain")

    def do_POST(self):
        self.status = 0
        sim = self.server.sim
        n = int(self.headers.get("Content-Length", "0") or 0)
        body = json.loads(self.rfile.read(n) or b"{}")
        with sim.lock:
            if self.path == "/_sim/fault":
                sim.faults.append(parse_fault(body))
                return self.send_json(200, {"faults": len(sim.faults)})
            if self.path == "/_sim/expire":
                sim.epoch += 1
                return self.send_json(200, {"epoch": sim.epoch})
            if self.path == "/_sim/mutate":
                res = body.get("resource")
                if res not in RESOURCES:
                    return self.send_json(400, {"error": "unknown resource"})
                objs = sim.kube.setdefault(res, [])
                if body.get("op") == "add":
                    o = body["object"]
                    sim.rv += 1
                    o.setdefault("metadata", {})["resourceVersion"] = str(sim.rv)
                    objs.append(o)
                elif body.get("op") == "delete":
                    keep = [o for o in objs if not (o["metadata"].get("name") == body.get("name") and
                                                    o["metadata"].get("namespace") == body.get("namespace"))]
                    sim.kube[res] = keep
                    sim.rv += 1
                else:
                    return self.send_json(400, {"error": "op must be add or delete"})
                return self.send_json(200, {"resourceVersion": str(sim.rv)})
        self.send_raw(405, b'{"kind":"Status","code":405,"reason":"MethodNotAllowed"}')


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    tls = None

    def finish_request(self, request, client_address):
        if self.tls is not None:
            request.settimeout(10)
            try:
                request = self.tls.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError) as e:
                if self.sim.args.verbose:
                    sys.stderr.write("kube-sim: TLS handshake failed: %s\n" % e)
                return
            request.settimeout(None)
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


def main():
    ap = argparse.ArgumentParser(description="stateful Kubernetes API simulator")
    ap.add_argument("--world", required=True, help="world JSON file (its 'kube' part is served)")
    tls = ap.add_mutually_exclusive_group(required=True)
    tls.add_argument("--tls-dir", help="make (once) and use a CA, server and client certificate here")
    tls.add_argument("--tls-cert", help="server certificate (PEM); with --tls-key")
    tls.add_argument("--http", action="store_true", help="plain HTTP (loopback tests)")
    ap.add_argument("--tls-key")
    ap.add_argument("--client-ca", help="CA to verify client certificates (with --tls-cert)")
    ap.add_argument("--token", action="append", help="accepted bearer token, TOKEN[=USER] (default sim-token)")
    ap.add_argument("--deny", action="append", default=[], help="[USER:]RESOURCE answers 403")
    ap.add_argument("--rbac", help="YAML with ClusterRoles + ClusterRoleBindings: 'list' only where a binding allows it")
    ap.add_argument("--anonymous", action="store_true", help="requests without credentials are system:anonymous")
    ap.add_argument("--continue-ttl", type=float, default=300.0, help="seconds a continue token lives")
    ap.add_argument("--fault", action="append", default=[], help="fault spec k=v,... (repeatable)")
    ap.add_argument("--latency-ms", type=float, default=0.0)
    ap.add_argument("--max-seconds", type=float, default=600.0)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    with open(args.world) as f:
        world = json.load(f)
    sim = Sim(args, world)
    srv = Server(("127.0.0.1", 0), Handler)
    srv.sim = sim
    scheme = "http"
    if not args.http:
        if args.tls_dir:
            make_tls(args.tls_dir)
            cert, key = os.path.join(args.tls_dir, "server.pem"), os.path.join(args.tls_dir, "server.key")
            client_ca = os.path.join(args.tls_dir, "ca.pem")
        else:
            cert, key, client_ca = args.tls_cert, args.tls_key, args.client_ca
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        if client_ca:
            ctx.load_verify_locations(client_ca)
            ctx.verify_mode = ssl.CERT_OPTIONAL
        srv.tls = ctx
        scheme = "https"

    def stop(*_):
        threading.Thread(target=srv.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    timer = threading.Timer(args.max_seconds, stop)
    timer.daemon = True
    timer.start()
    print("READY %s://127.0.0.1:%d" % (scheme, srv.server_address[1]), flush=True)
    srv.serve_forever()
    srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
