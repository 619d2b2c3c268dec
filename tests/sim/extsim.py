#!/usr/bin/env python3
"""Shared plumbing of the spot-agg external-source simulators (netbox.py, hyperstack.py,
runpod.py); Python 3 stdlib only.

Each simulator is an App with handle(req) -> (status, headers, body); this module runs it on
127.0.0.1 (ephemeral port), prints `READY http://127.0.0.1:PORT` first, and adds:

  common options   --world FILE (JSON; a simulator reads its own top-level key, e.g. "netbox",
                   or the whole file when that key is absent), --latency-ms MS (every request),
                   --fault SPEC (repeatable), --max-seconds S, --verbose,
                   --tls-cert PEM --tls-key PEM [--client-ca PEM] (HTTPS; a client certificate required)
  faults           JSON objects or `k=v,k=v` strings, also from the world's "faults" list and
                   POST /_sim/fault:
                     {"path": REGEX, "method": "GET", "kind": K, "count": N|-1, "after": N, "ms": MS}
                   kind: 500 | 502 | 503 | 429 (Retry-After: 1) | 401 | 403 | latency (ms=) |
                         malformed (a 200 whose JSON body is cut in half) | garbage (a 200 HTML page) |
                         close (drop the connection) | and what an app adds (runpod: graphql)
                   `after` matching requests pass first; `count` faults then fire (-1: forever).
  control          GET /_sim/requests (every request: method, path, query, auth form, fault),
                   POST /_sim/fault (append a fault), POST /_sim/world (replace the app's
                   world: stateful changes between two runs), GET /_sim/world
Exits on SIGTERM/SIGINT and after --max-seconds.
"""
import argparse
import json
import re
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import fasthttp  # tests/sim/fasthttp.py
import simtls  # tests/sim/simtls.py


class Request:
    def __init__(self, method, path, query, headers, body, base):
        self.method, self.path, self.query, self.headers = method, path, query, headers
        self.body, self.base = body, base

    def header(self, name):
        return self.headers.get(name)

    def json_body(self):
        return json.loads(self.body.decode("utf-8")) if self.body else None


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
    f.setdefault("path", ".*")
    return f


def jbody(obj):
    return json.dumps(obj).encode()


class Sim:
    def __init__(self, app, args):
        self.app, self.args = app, args
        self.lock = threading.Lock()
        self.faults = [parse_fault(f) for f in args.fault]
        self.log = []
        self.base = ""

    def pick_fault(self, req):
        with self.lock:
            for f in self.faults:
                if f.get("method") and f["method"] != req.method:
                    continue
                if not re.search(f["path"], req.path + ("?" + req.query if req.query else "")):
                    continue
                if f["after"] > 0:
                    f["after"] -= 1
                    continue
                if f["count"] == 0:
                    continue
                if f["count"] > 0:
                    f["count"] -= 1
                return f
        return None

    def control(self, req):
        if req.path == "/_sim/requests":
            with self.lock:
                return 200, {}, jbody(self.log)
        if req.path == "/_sim/fault" and req.method == "POST":
            with self.lock:
                self.faults.append(parse_fault(req.json_body()))
            return 200, {}, b"{}"
        if req.path == "/_sim/world":
            if req.method == "POST":
                with self.lock:
                    self.app.load(req.json_body())
                return 200, {}, b"{}"
            with self.lock:
                return 200, {}, jbody(self.app.world)
        return 404, {}, jbody({"detail": "no such control"})


class Handler(fasthttp.FastParse, BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "spot-extsim/1"

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt, *a):
        if self.server.sim.args.verbose:
            sys.stderr.write("sim: " + (fmt % a) + "\n")

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_DELETE(self):
        self.handle_any("DELETE")

    def handle_any(self, method):
        sim = self.server.sim
        u = urlsplit(self.path)
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        host = self.headers.get("Host") or sim.base.split("//", 1)[1]
        req = Request(method, u.path, u.query, self.headers, body, "http://" + host)
        if u.path.startswith("/_sim/"):
            return self.send(*sim.control(req))
        if sim.args.latency_ms:
            time.sleep(sim.args.latency_ms / 1000.0)
        fault = sim.pick_fault(req)
        auth = self.headers.get("Authorization") or ""
        entry = {"method": method, "path": u.path, "query": u.query,
                 "auth": auth.split(" ", 1)[0] if auth else ("api_key" if self.headers.get("api_key") else ""),
                 "fault": fault["kind"] if fault else None, "t": time.time()}
        with sim.lock:
            sim.log.append(entry)
        if fault:
            k = fault["kind"]
            if k == "latency":
                time.sleep(float(fault.get("ms", 1000)) / 1000.0)
            elif k == "close":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            elif k in ("500", "502", "503", "429", "401", "403"):
                hdrs = {"Retry-After": "1"} if k == "429" else {}
                return self.send(int(k), hdrs, jbody({"detail": "injected fault %s" % k}))
            elif k == "garbage":
                return self.send(200, {"Content-Type": "text/html"}, b"<html><body>Bad gateway</body></html>")
            elif k != "malformed":
                r = sim.app.fault(k, req)
                if r is not None:
                    return self.send(*r)
        try:
            with sim.lock:
                status, hdrs, out = sim.app.handle(req)
        except Exception as e:  # a simulator bug must show, not hang the client
            status, hdrs, out = 500, {}, jbody({"detail": "simulator error: %r" % e})
        if fault and fault["kind"] == "malformed":
            out = out[: max(1, len(out) // 2)]
        self.send(status, hdrs, out)

    def send(self, status, hdrs, body):
        hdrs = dict(hdrs)
        hdrs.setdefault("Content-Type", "application/json")
        self.reply(status, hdrs.items(), body)


def arg_parser(desc):
    ap = argparse.ArgumentParser(description=desc)
    ap.add_argument("--world", help="world JSON (this simulator's key, or the whole file)")
    ap.add_argument("--latency-ms", type=float, default=0.0)
    ap.add_argument("--fault", action="append", default=[])
    ap.add_argument("--max-seconds", type=float, default=600.0)
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM)")
    ap.add_argument("--tls-key", help="... and this key")
    ap.add_argument("--client-ca", help="with --tls-cert: every client must present a certificate this CA signed")
    return ap


def load_world(path, key):
    if not path:
        return None
    with open(path) as f:
        w = json.load(f)
    return w.get(key, w) if isinstance(w, dict) else w


def serve(app, args, world_faults=()):
    sim = Sim(app, args)
    sim.faults.extend(parse_fault(f) for f in world_faults)

    class Server(simtls.HandshakeInThread, ThreadingHTTPServer):
        request_queue_size = 256
    srv = Server(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.sim = sim
    sim.base = "http://127.0.0.1:%d" % srv.server_address[1]
    if getattr(args, "tls_cert", None):
        srv.tls = simtls.server_context(args.tls_cert, args.tls_key, args.client_ca)
        sim.base = "https://127.0.0.1:%d" % srv.server_address[1]

    def stop(*_):
        threading.Thread(target=srv.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    timer = threading.Timer(args.max_seconds, stop)
    timer.daemon = True
    timer.start()
    print("READY " + sim.base, flush=True)
    srv.serve_forever()
    srv.server_close()
    return 0


def main(app, key, desc):
    """Parse the common options, load the world's `key` part into app, serve."""
    args = arg_parser(desc).parse_args()
    world = load_world(args.world, key) or {}
    app.load(world)
    return serve(app, args, world.get("faults", []))


def query_lists(query):
    return parse_qs(query, keep_blank_values=True)
