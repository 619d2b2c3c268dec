#!/usr/bin/env python3
"""Stateful TrueNAS SCALE API simulator for nasmon-check tests (Python 3 stdlib only).

    truenas.py --world FILE [--version 24.10|25.04|25.10|26.0] [--tls-cert PEM --tls-key PEM [--client-ca PEM]]
               [--api-key KEY]... [--fault SPEC]... [--frag-size N] [--ping] [--max-concurrent N]
               [--pretend-remote] [--listen ADDR] [--max-seconds S]

Listens on ADDR (default 127.0.0.1, ephemeral port) and prints `READY http(s)://ADDR:PORT` as its
first stdout line.  Serves, from the "truenas" part of the world file (kept in memory):

  GET /api/versions        25.04 and later: ["v25.04.0", ...]; 24.10: 404 (REST only)
  /api/current, /api/vXX   25.04 and later: JSON-RPC 2.0 over an RFC 6455 WebSocket (own framing)
  /api/v2.0/...            REST (24.10, 25.04, 25.10; removed in 26.0 -> 404), Authorization: Bearer

JSON-RPC methods: auth.login_with_api_key, core.ping, system.info, system.version, pool.query,
pool.dataset.query, sharing.nfs.query, sharing.smb.query, iscsi.{target,extent,targetextent}.query,
service.query (entries {id, service, enable, state "RUNNING"|"STOPPED", pids}: plugins/service.py), and per version zfs.snapshot.query (24.10, 25.04; private from 25.10: "method does not exist") or
pool.snapshot.query (25.10 and later).  Query methods take [filters, options] (ops = != > >= < <=
~ in nin ^ !^ $ !$; options select, order_by, offset, limit, count, get).  Every call except the
login needs a logged-in socket.  REST: /system/info, /system/version, /pool, /pool/dataset,
/pool/snapshot (25.10) or /zfs/snapshot (<= 25.04), /sharing/nfs, /sharing/smb, /iscsi/target,
/iscsi/extent, /iscsi/targetextent, /service; limit/offset query parameters, or a GET body
{"query-filters","query-options"}; 401 without a valid key.

Behaviours modelled after the middleware:
  * An API key that arrives over an insecure transport (no TLS) from a non-loopback peer is revoked
    at once and the login fails (auth.py: "Attempt to use over an insecure transport"); REST Bearer
    does not revoke.  --pretend-remote treats every peer as non-loopback (the tests run on loopback).
    A revoked key fails everywhere afterwards (REST 401, login false).
  * Messages before login are limited to 8 KiB, after login to 64 KiB: a bigger one closes the
    socket (close 1009).
  * Calls run concurrently and replies come out of order: in a burst, the Nth call on a socket is
    answered after (7 - N mod 8) * 5 ms, so up to 8 calls come back in reverse.  More than
    --max-concurrent calls in flight get error -32000.
  * Replies longer than --frag-size bytes are sent as fragmented messages (continuation frames);
    with --ping the server pings before every reply and records the client's pongs.

Faults (--fault, or POST /_sim/fault with a JSON object): `kind=K[,method=M][,path=REGEX][,count=N][,ms=MS]`
  latency    delay every HTTP response and JSON-RPC reply by ms
  drop       JSON-RPC: send half of the reply frame for method M, then close the TCP connection
  5xx        HTTP: answer a request whose path matches with 503 (status=500 for 500)
  malformed  JSON-RPC: the reply for M is not JSON; REST: the body for path is not JSON
  error      JSON-RPC: the reply for M is an error object (code=-32001, CallError ENOENT)
count: how many times it fires (default 1, -1 = always).

Control (no auth): GET /_sim/state -> {"revoked": [...], "logins": N, "pongs": N, "pongs_mid": N, "busy": N, "reply_orders":
[[ids in the order answered], ...], "requests": [[method/path, transport], ...], "queries": [[method/path,
query-options], ...], "max_preauth": N, "max_inflight": N}.
Exits on SIGTERM/SIGINT and after --max-seconds.
"""
import argparse
import base64
import hashlib
import ipaddress
import json
import os
import re
import signal
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # also when loaded as a module (nasmon-load.t)
import simtls  # noqa: E402  tests/sim/simtls.py

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
VERSIONS = {"24.10": "TrueNAS-SCALE-24.10.2", "25.04": "TrueNAS-25.04.2", "25.10": "TrueNAS-25.10.1",
            "26.0": "TrueNAS-26.0.0-BETA.1"}
API_VERSIONS = {"25.04": ["v25.04.0", "v25.04.2"], "25.10": ["v25.04.0", "v25.04.2", "v25.10.0", "v25.10.1"],
                "26.0": ["v25.04.0", "v25.04.2", "v25.10.0", "v25.10.1", "v26.0.0"]}
PREAUTH_MAX = 8192
POSTAUTH_MAX = 65536

STATE_LOCK = threading.Lock()


class Sim:
    def __init__(self, args):
        world = json.load(open(args.world))
        self.tn = world.get("truenas", world)
        self.ver = args.version
        self.vnum = tuple(int(x) for x in self.ver.split("."))
        if args.version_string:
            self.tn["version"] = args.version_string
        else:
            self.tn["version"] = VERSIONS[self.ver]
        self.keys = set(args.api_key or ["1-testkey"])
        self.revoked = set()
        self.faults = [parse_fault(f) for f in (args.fault or [])]
        self.memo = {}
        self.args = args
        self.logins = 0
        self.pongs = 0
        self.busy = 0  # calls refused with -32000
        self.pongs_mid = 0  # pongs to pings sent between the fragments of a message
        self.reply_orders = []
        self.requests = []
        self.queries = []  # [method or REST path, query-options], one per query call
        self.max_preauth = 0
        self.max_inflight = 0  # the most calls one connection had in flight at once

    # --- which APIs exist
    def has_jsonrpc(self):
        return self.vnum >= (25, 4)

    def has_rest(self):
        return self.vnum < (26, 0)

    def methods(self):
        m = {"core.ping": None, "system.info": None, "system.version": None,
             "pool.query": "pools", "pool.dataset.query": "datasets",
             "sharing.nfs.query": "nfs_shares", "sharing.smb.query": "smb_shares",
             "iscsi.target.query": "iscsi_targets", "iscsi.extent.query": "iscsi_extents",
             "iscsi.targetextent.query": "iscsi_targetextents", "service.query": "services"}
        if self.vnum >= (25, 10):
            m["pool.snapshot.query"] = "snapshots"
        else:
            m["zfs.snapshot.query"] = "snapshots"
        return m

    def rest_paths(self):
        p = {"/pool": "pools", "/pool/dataset": "datasets", "/sharing/nfs": "nfs_shares",
             "/sharing/smb": "smb_shares", "/iscsi/target": "iscsi_targets", "/iscsi/extent": "iscsi_extents",
             "/iscsi/targetextent": "iscsi_targetextents", "/service": "services"}
        p["/pool/snapshot" if self.vnum >= (25, 10) else "/zfs/snapshot"] = "snapshots"
        return p

    def system_info(self):
        return {"version": self.tn["version"], "hostname": "truenas-sim", "uptime_seconds": 1296000.0,
                "system_product": "simulated", "physmem": 68719476736, "cores": 8,
                "buildtime": {"$date": 1760000000000}, "timezone": "UTC"}

    def fault(self, kind, method=None, path=None):
        with STATE_LOCK:
            for f in self.faults:
                if f["kind"] != kind or f["count"] == 0:
                    continue
                if method is not None and f.get("method") not in (None, method):
                    continue
                if path is not None and f.get("path") and not re.search(f["path"], path):
                    continue
                if method is None and path is None and (f.get("method") or f.get("path")):
                    continue
                if f["count"] > 0:
                    f["count"] -= 1
                return f
        return None

    def latency(self):
        with STATE_LOCK:
            ms = sum(f.get("ms", 0) for f in self.faults if f["kind"] == "latency" and f["count"] != 0)
        if ms:
            time.sleep(ms / 1000.0)

    def key_ok(self, key):
        return key in self.keys and key not in self.revoked


def parse_fault(spec):
    if isinstance(spec, dict):
        f = dict(spec)
    else:
        f = {}
        for part in spec.split(","):
            k, _, v = part.partition("=")
            f[k.strip()] = v.strip()
    for k in ("count", "ms", "status", "code"):
        if k in f:
            f[k] = int(f[k])
    f.setdefault("count", -1 if f.get("kind") == "latency" else 1)
    return f


# ---- query filters and options (query_methods.rst) ----

def get_field(obj, name):
    for part in re.split(r"(?<!\\)\.", name):
        part = part.replace("\\.", ".")
        if not isinstance(obj, dict) or part not in obj:
            return None
        obj = obj[part]
    return obj


def match(obj, flt):
    if isinstance(flt, list) and len(flt) == 2 and flt[0] == "OR":
        return any(match(obj, f) for f in flt[1])
    if not (isinstance(flt, list) and len(flt) == 3):
        raise ValueError("filter must be [field, op, value]")
    field, op, val = flt
    v = get_field(obj, field)
    ci = op.startswith("C") and len(op) > 1
    if ci:
        op = op[1:]
        v = v.lower() if isinstance(v, str) else v
        val = val.lower() if isinstance(val, str) else val
    ops = {"=": lambda: v == val, "!=": lambda: v != val, ">": lambda: v is not None and v > val,
           ">=": lambda: v is not None and v >= val, "<": lambda: v is not None and v < val,
           "<=": lambda: v is not None and v <= val, "~": lambda: isinstance(v, str) and re.search(val, v),
           "in": lambda: v in val, "nin": lambda: v not in val,
           "^": lambda: isinstance(v, str) and v.startswith(val), "!^": lambda: isinstance(v, str) and not v.startswith(val),
           "$": lambda: isinstance(v, str) and v.endswith(val), "!$": lambda: isinstance(v, str) and not v.endswith(val)}
    if op not in ops:
        raise ValueError(f"invalid operator {op!r}")
    return bool(ops[op]())


_MISSING = object()
_SPLIT = {}


def split_path(path):
    """'a.b\\.c' -> ['a', 'b.c'] (filter_list.partition: a backslash escapes a dot); cached."""
    p = _SPLIT.get(path)
    if p is None:
        p = [x.replace("\\.", ".") for x in re.split(r"(?<!\\)\.", path)]
        _SPLIT[path] = p
    return p


def do_select(items, select):
    """query-options select as filter_list.do_select: "a.b.c" keeps that leaf nested under a/b
    (objects on the way are new, only the selected keys); ["a.b", "alias"] puts it at the top
    level under alias; a path that is missing is left out; a non-object on the way ends the walk
    (its value is taken); a list on the way is refused (no index selection)."""
    if not isinstance(select, list):
        raise ValueError("select must be a list")
    plan = []
    for s in select:
        if isinstance(s, list) and len(s) == 2 and all(isinstance(x, str) for x in s):
            plan.append((split_path(s[0]), s[1]))
        elif isinstance(s, str):
            plan.append((split_path(s), None))
        else:
            raise ValueError("select entries must be a field name or [field, alias]")
    rv = []
    for i in items:
        entry = {}
        for keys, alias in plan:
            cur, n = i, 0
            for k in keys:
                if isinstance(cur, dict):
                    cur = cur.get(k, _MISSING)
                    n += 1
                elif isinstance(cur, (list, tuple)):
                    raise ValueError("Selecting by list index is not supported")
            if cur is _MISSING:
                continue
            if alias is not None:
                entry[alias] = cur
                continue
            obj = entry
            for k in keys[:n - 1]:
                obj = obj.setdefault(k, {})
            obj[keys[n - 1]] = cur
        rv.append(entry)
    return rv


def run_query(items, filters, options):
    if not isinstance(filters, list):
        raise ValueError("query-filters must be a list")
    options = options or {}
    out = [i for i in items if all(match(i, f) for f in filters)]
    for key in reversed(options.get("order_by") or []):
        rev = key.startswith("-")
        out.sort(key=lambda i: (get_field(i, key.lstrip("-")) is None, get_field(i, key.lstrip("-"))), reverse=rev)
    if options.get("count"):
        return len(out)
    off = int(options.get("offset") or 0)
    lim = options.get("limit")
    out = out[off:off + int(lim)] if lim else out[off:]
    if options.get("select"):
        out = do_select(out, options["select"])
    if options.get("get"):
        if not out:
            raise LookupError("Object not found")
        return out[0]
    return out


class RawResult:
    """A JSON-RPC reply whose result is already serialized."""

    def __init__(self, rid, result_text):
        self.rid, self.result_text = rid, result_text

    def text(self):
        return '{"jsonrpc": "2.0", "id": ' + json.dumps(self.rid) + ', "result": ' + self.result_text + "}"


# ---- WebSocket framing ----

class WSClosed(Exception):
    pass


def ws_frame(op, payload, fin=True):
    n = len(payload)
    b0 = (0x80 if fin else 0) | op
    if n < 126:
        h = struct.pack("!BB", b0, n)
    elif n < 65536:
        h = struct.pack("!BBH", b0, 126, n)
    else:
        h = struct.pack("!BBQ", b0, 127, n)
    return h + payload


class WSConn:
    def __init__(self, sim, rfile, sock, secure, loopback):
        self.sim, self.rfile, self.sock = sim, rfile, sock
        self.secure, self.loopback = secure, loopback
        self.wlock = threading.Lock()
        self.authed = False
        self.inflight = 0
        self.seq = 0
        self.order = []
        self.closed = False

    def send_raw(self, data):
        with self.wlock:
            if self.closed:
                return
            try:
                self.sock.sendall(data)
            except OSError:
                self.closed = True

    def send_text(self, text):
        data = text.encode()
        fs = self.sim.args.frag_size
        if self.sim.args.ping:
            self.send_raw(ws_frame(0x9, b"sim-ping"))
        if fs and len(data) > fs:
            with self.wlock:
                parts = [data[i:i + fs] for i in range(0, len(data), fs)]
                out = []
                for k, p in enumerate(parts):
                    out.append(ws_frame(0x1 if k == 0 else 0x0, p, fin=(k == len(parts) - 1)))
                    if k == 0:
                        out.append(ws_frame(0x9, b"mid"))  # a control frame between fragments
                try:
                    self.sock.sendall(b"".join(out))
                except OSError:
                    self.closed = True
        else:
            self.send_raw(ws_frame(0x1, data))

    def close(self, code, reason):
        self.send_raw(ws_frame(0x8, struct.pack("!H", code) + reason.encode()))
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def read_exact(self, n):
        b = self.rfile.read(n)
        if b is None or len(b) < n:
            raise WSClosed()
        return b

    def recv(self, limit):
        """One whole message (opcode, bytes); answers ping, drops pong."""
        buf, op0 = b"", None
        while True:
            b0, b1 = self.read_exact(2)
            op, fin, masked, n = b0 & 0x0F, b0 & 0x80, b1 & 0x80, b1 & 0x7F
            if b0 & 0x70:
                self.close(1002, "reserved bits")
                raise WSClosed()
            if n == 126:
                n = struct.unpack("!H", self.read_exact(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self.read_exact(8))[0]
            if not masked:
                self.close(1002, "client frames must be masked")
                raise WSClosed()
            mask = self.read_exact(4)
            if op < 8 and len(buf) + n > limit:
                self.close(1009, "Message too big")
                raise WSClosed()
            data = bytearray(self.read_exact(n))
            for i in range(n):
                data[i] ^= mask[i & 3]
            data = bytes(data)
            if op == 0x8:
                code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 1000
                self.close(code if code not in (1005, 1006) else 1000, "")
                raise WSClosed()
            if op == 0x9:
                self.send_raw(ws_frame(0xA, data))
                continue
            if op == 0xA:
                with STATE_LOCK:
                    self.sim.pongs += 1
                    if data == b"mid":
                        self.sim.pongs_mid += 1
                continue
            if op == 0x0 and op0 is None:
                self.close(1002, "continuation without start")
                raise WSClosed()
            if op0 is None:
                op0 = op
            buf += data
            if fin:
                return op0, buf

    def serve(self):
        try:
            while not self.closed:
                limit = POSTAUTH_MAX if self.authed else PREAUTH_MAX
                op, data = self.recv(limit)
                if not self.authed:
                    with STATE_LOCK:
                        self.sim.max_preauth = max(self.sim.max_preauth, len(data))
                if op != 0x1:
                    self.close(1003, "Only text frames are accepted")
                    break
                try:
                    req = json.loads(data)
                except ValueError:
                    self.send_text(json.dumps({"jsonrpc": "2.0", "id": None,
                                               "error": {"code": -32700, "message": "Parse error"}}))
                    continue
                if not isinstance(req, dict) or req.get("jsonrpc") != "2.0" or "method" not in req:
                    self.send_text(json.dumps({"jsonrpc": "2.0", "id": req.get("id") if isinstance(req, dict) else None,
                                               "error": {"code": -32600, "message": "Invalid Request"}}))
                    continue
                if req["method"] == "auth.login_with_api_key":
                    self.reply(req, 0)  # login is answered in order, before anything else
                    continue
                with STATE_LOCK:
                    self.inflight += 1
                    busy = self.inflight > self.sim.args.max_concurrent
                    if not busy:
                        self.sim.max_inflight = max(self.sim.max_inflight, self.inflight)
                    seq = self.seq
                    self.seq += 1
                if busy:
                    with STATE_LOCK:
                        self.inflight -= 1
                        self.sim.busy += 1
                    self.send_text(json.dumps({"jsonrpc": "2.0", "id": req.get("id"), "error": {
                        "code": -32000, "message": "Too many concurrent calls",
                        "data": {"error": 16, "errname": "EBUSY", "reason": "Too many concurrent calls", "extra": []}}}))
                    continue
                threading.Thread(target=self.reply, args=(req, (7 - seq % 8) * 0.005), daemon=True).start()
        except (WSClosed, OSError, ValueError):
            pass
        finally:
            with STATE_LOCK:
                self.sim.reply_orders.append(self.order)

    def error(self, req, code, message, errname=None, errno=None, extra=None):
        e = {"code": code, "message": message}
        if errname:
            e["data"] = {"error": errno, "errname": errname, "reason": message, "trace": None,
                         "extra": extra or [], "py_exception": None}
        return {"jsonrpc": "2.0", "id": req.get("id"), "error": e}

    def done(self, req):
        """The call is over (before its reply goes out, as the server's semaphore is released)."""
        if req["method"] != "auth.login_with_api_key":
            with STATE_LOCK:
                self.inflight -= 1

    def reply(self, req, delay):
        finished = False
        try:
            if delay:
                time.sleep(delay)
            self.sim.latency()
            method = req["method"]
            with STATE_LOCK:
                self.sim.requests.append([method, "jsonrpc"])
            resp = self.handle(req)
            f = self.sim.fault("error", method=method)
            if f:
                resp = self.error(req, f.get("code", -32001), f.get("message", "[ENOENT] simulated failure"),
                                  "ENOENT", 2)
            text = resp.text() if isinstance(resp, RawResult) else json.dumps(resp)
            self.done(req)
            finished = True
            if self.sim.fault("drop", method=method):
                frame = ws_frame(0x1, text.encode())
                self.send_raw(frame[:max(2, len(frame) // 2)])
                self.closed = True
                try:
                    self.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            if self.sim.fault("malformed", method=method):
                text = text[: len(text) // 2] + "<<not json"
            with STATE_LOCK:
                self.order.append(req.get("id"))
            self.send_text(text)
        finally:
            if not finished:
                self.done(req)

    def handle(self, req):
        method, params = req["method"], req.get("params", [])
        if not isinstance(params, list):
            return self.error(req, -32602, "Invalid params", "EINVAL", 22, [["params", "must be a list", 22]])
        sim = self.sim
        if method == "auth.login_with_api_key":
            key = params[0] if params and isinstance(params[0], str) else None
            with STATE_LOCK:
                sim.logins += 1
                ok = key is not None and sim.key_ok(key)
                if ok and not self.secure and not self.loopback:
                    sim.revoked.add(key)  # auth.py: "Attempt to use over an insecure transport"
                    ok = False
            if ok:
                self.authed = True
            return {"jsonrpc": "2.0", "id": req.get("id"), "result": ok}
        methods = sim.methods()
        if method not in methods:
            return self.error(req, -32601, "Method does not exist")
        if not self.authed and method != "core.ping":
            return self.error(req, -32001, "Not authenticated", "ENOTAUTHENTICATED", 13)
        if method == "core.ping":
            return {"jsonrpc": "2.0", "id": req.get("id"), "result": "pong"}
        if method == "system.info":
            return {"jsonrpc": "2.0", "id": req.get("id"), "result": sim.system_info()}
        if method == "system.version":
            return {"jsonrpc": "2.0", "id": req.get("id"), "result": sim.tn["version"]}
        filters = params[0] if len(params) > 0 else []
        options = params[1] if len(params) > 1 else {}
        with STATE_LOCK:
            sim.queries.append([method, options])
        # the world never changes after start: a query's serialized result is computed once
        # (so a large bench measures the client, not this simulator's Python)
        try:
            memo = (method, json.dumps([filters, options], sort_keys=True))
        except (TypeError, ValueError):
            memo = None
        with STATE_LOCK:
            text = sim.memo.get(memo) if memo else None
        if text is None:
            try:
                with STATE_LOCK:
                    items = list(sim.tn.get(methods[method]) or [])
                res = run_query(items, filters, options)
            except LookupError as e:
                return self.error(req, -32001, str(e), "ENOENT", 2)
            except (ValueError, TypeError) as e:
                return self.error(req, -32602, "Invalid params", "EINVAL", 22, [[f"{method}.query-filters", str(e), 22]])
            text = json.dumps(res)
            if memo:
                with STATE_LOCK:
                    sim.memo[memo] = text
        return RawResult(req.get("id"), text)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "TrueNAS-sim"

    def log_message(self, fmt, *a):
        pass

    def send_json(self, status, obj, raw=None):
        body = raw if raw is not None else json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def peer_loopback(self):
        if self.server.sim.args.pretend_remote:
            return False
        try:
            return ipaddress.ip_address(self.client_address[0]).is_loopback
        except ValueError:
            return False

    def do_POST(self):
        sim = self.server.sim
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        if self.path == "/_sim/fault":
            with STATE_LOCK:
                sim.faults.append(parse_fault(json.loads(body)))
            return self.send_json(200, {"ok": True})
        self.send_json(405, {"message": "Method not allowed"})

    def do_GET(self):
        sim = self.server.sim
        u = urlsplit(self.path)
        path = u.path
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        if path == "/_sim/state":
            with STATE_LOCK:
                st = {"revoked": sorted(sim.revoked), "logins": sim.logins, "pongs": sim.pongs, "pongs_mid": sim.pongs_mid, "busy": sim.busy,
                      "reply_orders": sim.reply_orders, "requests": sim.requests, "queries": sim.queries,
                      "max_preauth": sim.max_preauth, "max_inflight": sim.max_inflight,
                      "version": sim.tn["version"]}
            return self.send_json(200, st)
        sim.latency()
        f = sim.fault("5xx", path=path)
        if f:
            return self.send_json(f.get("status", 503), {"message": "simulated server error"})
        if path == "/api/versions":
            if not sim.has_jsonrpc():
                return self.send_json(404, None, raw=b"404: Not Found")
            return self.send_json(200, API_VERSIONS[sim.ver])
        if path == "/api/current" or re.fullmatch(r"/api/v\d+\.\d+\.\d+", path):
            if not sim.has_jsonrpc():
                return self.send_json(404, None, raw=b"404: Not Found")
            return self.upgrade()
        if path.startswith("/api/v2.0/") or path == "/api/v2.0":
            return self.rest(path[len("/api/v2.0"):].rstrip("/") or "/", u.query, body)
        self.send_json(404, None, raw=b"404: Not Found")

    def upgrade(self):
        key = self.headers.get("Sec-WebSocket-Key")
        if (self.headers.get("Upgrade", "").lower() != "websocket" or not key
                or self.headers.get("Sec-WebSocket-Version") != "13"):
            return self.send_json(400, {"message": "expected a WebSocket upgrade"})
        accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        self.wfile.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          f"Sec-WebSocket-Accept: {accept}\r\n\r\n").encode())
        self.wfile.flush()
        conn = WSConn(self.server.sim, self.rfile, self.connection, self.server.tls is not None, self.peer_loopback())
        conn.serve()
        self.close_connection = True

    def rest(self, sub, query, body):
        sim = self.server.sim
        with STATE_LOCK:
            sim.requests.append([sub, "rest"])
        if not sim.has_rest():
            return self.send_json(404, None, raw=b"404: Not Found")
        auth = self.headers.get("Authorization", "")
        key = auth[7:] if auth.startswith("Bearer ") else None
        if key is None or not sim.key_ok(key):
            return self.send_json(401, {"message": "Invalid credentials"})
        if sub == "/system/info":
            return self.send_json(200, sim.system_info())
        if sub == "/system/version":
            return self.send_json(200, sim.tn["version"])
        paths = sim.rest_paths()
        if sub not in paths:
            return self.send_json(404, {"message": "Not found"})
        q = parse_qs(query)
        filters, options = [], {}
        if body:
            try:
                b = json.loads(body)
                filters, options = b.get("query-filters", []), b.get("query-options", {})
            except (ValueError, AttributeError):
                return self.send_json(400, {"message": "invalid JSON body"})
        for k in ("limit", "offset"):
            if k in q:
                options[k] = int(q[k][0])
        with STATE_LOCK:
            sim.queries.append([sub, options])
        try:
            with STATE_LOCK:
                items = list(sim.tn.get(paths[sub]) or [])
            res = run_query(items, filters, options)
        except (ValueError, TypeError, LookupError) as e:
            return self.send_json(422, {"message": str(e), "errno": 22})
        if sim.fault("malformed", path=sub):
            return self.send_json(200, None, raw=json.dumps(res).encode()[:50] + b"<<not json")
        self.send_json(200, res)


class Server(simtls.HandshakeInThread, ThreadingHTTPServer):
    # simtls.HandshakeInThread: `tls` is the SSLContext; a refused client never stalls the others
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--world", required=True)
    ap.add_argument("--version", default="25.10", choices=sorted(VERSIONS))
    ap.add_argument("--version-string", help="override system.info version")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--client-ca", help="with --tls-cert: every client must present a certificate this CA signed")
    ap.add_argument("--api-key", action="append")
    ap.add_argument("--fault", action="append")
    ap.add_argument("--frag-size", type=int, default=0)
    ap.add_argument("--ping", action="store_true")
    ap.add_argument("--max-concurrent", type=int, default=20)
    ap.add_argument("--pretend-remote", action="store_true")
    ap.add_argument("--listen", default="127.0.0.1")
    ap.add_argument("--max-seconds", type=float, default=600)
    args = ap.parse_args()
    srv = Server((args.listen, 0), Handler)
    srv.sim = Sim(args)
    if args.tls_cert:
        srv.tls = simtls.server_context(args.tls_cert, args.tls_key, args.client_ca)
    host, port = srv.server_address[:2]
    print(f"READY {'https' if srv.tls else 'http'}://{host}:{port}", flush=True)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    if args.max_seconds:
        t = threading.Timer(args.max_seconds, srv.shutdown)
        t.daemon = True
        t.start()
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
