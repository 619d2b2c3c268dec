#!/usr/bin/env python3
"""faultserver.py - HTTP/1.1 fault-injecting server for infrakit tests (stdlib only).

Listens on 127.0.0.1 with an ephemeral port (default), a filesystem unix socket
(--unix PATH) or an abstract unix socket (--abstract NAME).  The first stdout
line is "READY <where>" (http://127.0.0.1:PORT, unix:PATH or abstract:NAME).
Keep-alive, one thread per connection.  With --tls-cert/--tls-key it speaks
HTTPS (READY https://127.0.0.1:PORT); --client-ca also requires a client
certificate signed by that CA.  Exits on SIGTERM/SIGINT, and by itself
after --max-seconds (default 600).

Behaviour is chosen by path (KEY = any word; state is per KEY):
  /ok                          200 "hello"
  /status/CODE                 CODE with body "status CODE"
  /flaky/KEY/N/CODE            first N requests for KEY answer CODE, then 200 "ok"
  /retry-after/KEY/N/SECONDS   first N: 429 (or ?code=503) with Retry-After: SECONDS
  /retry-after-date/KEY/N/SECONDS  the same with an IMF-fixdate now+SECONDS
  /slow/MS                     waits MS before the headers, then 200 "slow"
  /slowbody/MS                 headers and half the body, waits MS, then the rest
  /truncate                    Content-Length 100, 10 bytes, close
  /close                       closes the connection without answering
  /garbage                     non-HTTP bytes, then close
  /huge/BYTES                  BYTES bytes with Content-Length
  /huge-chunked/BYTES          BYTES bytes, chunked (no Content-Length)
  /echo                        JSON {method, path, headers, body}
  /count/KEY                   JSON {"count": requests seen for KEY}
  /hit/KEY                     counts a request for KEY, 200 "hit"
  /conn                        JSON {"conn": id of this TCP connection}
  /inflight/KEY/MS             counts requests in flight for KEY, holds MS, JSON {"max": ...}
  /inflight-max/KEY            JSON {"max": highest in-flight count seen for KEY}
  /page/N/TOTAL                JSON {"page": N, "next": "/page/N+1/TOTAL" or null}
  /header/NAME/VALUE           200 with response header NAME: VALUE
"""

import argparse
import email.utils
import http.server
import json
import os
import signal
import socket
import socketserver
import sys
import threading
import time
import urllib.parse

import simtls  # tests/sim/simtls.py

LOCK = threading.Lock()
COUNTS = {}
INFLIGHT = {}
INFLIGHT_MAX = {}
CONN_SEQ = [0]
LOG = [None]


def bump(key):
    with LOCK:
        COUNTS[key] = COUNTS.get(key, 0) + 1
        return COUNTS[key]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "faultserver/1"
    timeout = 60

    def setup(self):
        super().setup()
        if self.connection.family == socket.AF_INET:
            # headers and body go out in separate writes: no Nagle delays
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with LOCK:
            CONN_SEQ[0] += 1
            self.conn_id = CONN_SEQ[0]

    def address_string(self):
        if isinstance(self.client_address, tuple) and self.client_address:
            return str(self.client_address[0])
        return "unix"

    def log_message(self, fmt, *args):
        pass

    def log_request(self, code="-", size="-"):
        pass

    # ---- helpers ----
    def reply(self, code, body=b"", ctype="text/plain", headers=None):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        for name, value in (headers or []):
            self.send_header(name, value)
        if code in (204, 304) or 100 <= code < 200:
            body = b""
        else:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)
        self.wfile.flush()

    def reply_json(self, code, obj, headers=None):
        self.reply(code, json.dumps(obj, sort_keys=True) + "\n", "application/json", headers)

    def read_body(self):
        te = self.headers.get("Transfer-Encoding", "")
        if te.lower() == "chunked":
            out = b""
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length", "0") or "0")
        return self.rfile.read(n) if n > 0 else b""

    def hard_close(self):
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # ---- dispatch ----
    def dispatch(self):
        if LOG[0] is not None:
            with LOCK:
                LOG[0].write(self.requestline + "\n")
                LOG[0].flush()
        body = self.read_body()
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        parts = [p for p in url.path.split("/") if p]
        name = parts[0] if parts else ""
        args = parts[1:]
        try:
            handler = getattr(self, "h_" + name.replace("-", "_"), None)
            if handler is None:
                self.reply(404, "no such endpoint\n")
                return
            handler(args, query, body)
        except (ValueError, IndexError):
            self.reply(400, "bad arguments\n")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = dispatch

    # ---- endpoints ----
    def h_ok(self, args, query, body):
        self.reply(200, "hello")

    def h_status(self, args, query, body):
        code = int(args[0])
        self.reply(code, "status %d\n" % code)

    def h_flaky(self, args, query, body):
        key, n, code = args[0], int(args[1]), int(args[2])
        if bump(key) <= n:
            self.reply(code, "flaky %d\n" % code)
        else:
            self.reply(200, "ok")

    def _retry_after(self, args, query, date):
        key, n, secs = args[0], int(args[1]), int(args[2])
        code = int(query.get("code", ["429"])[0])
        if bump(key) <= n:
            if date:
                value = email.utils.formatdate(time.time() + secs, usegmt=True)
            else:
                value = str(secs)
            self.reply(code, "slow down\n", headers=[("Retry-After", value)])
        else:
            self.reply(200, "ok")

    def h_retry_after(self, args, query, body):
        self._retry_after(args, query, False)

    def h_retry_after_date(self, args, query, body):
        self._retry_after(args, query, True)

    def h_slow(self, args, query, body):
        time.sleep(int(args[0]) / 1000.0)
        self.reply(200, "slow")

    def h_slowbody(self, args, query, body):
        data = b"0123456789" * 10
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[:50])
        self.wfile.flush()
        time.sleep(int(args[0]) / 1000.0)
        self.wfile.write(data[50:])
        self.wfile.flush()

    def h_truncate(self, args, query, body):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", "100")
        self.end_headers()
        self.wfile.write(b"0123456789")
        self.hard_close()

    def h_close(self, args, query, body):
        self.hard_close()

    def h_garbage(self, args, query, body):
        self.wfile.write(b"\x00\x01\x02 this is not http \xff\xfe\r\n\r\n")
        self.hard_close()

    def h_huge(self, args, query, body):
        n = int(args[0])
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(n))
        self.end_headers()
        self._stream(n, False)

    def h_huge_chunked(self, args, query, body):
        n = int(args[0])
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self._stream(n, True)
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _stream(self, n, chunked):
        block = b"x" * 65536
        while n > 0:
            piece = block[:min(n, len(block))]
            if chunked:
                self.wfile.write(b"%x\r\n" % len(piece) + piece + b"\r\n")
            else:
                self.wfile.write(piece)
            n -= len(piece)
        self.wfile.flush()

    def h_echo(self, args, query, body):
        self.reply_json(200, {
            "method": self.command,
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body.decode("utf-8", "replace"),
        })

    def h_count(self, args, query, body):
        with LOCK:
            n = COUNTS.get(args[0], 0)
        self.reply_json(200, {"count": n})

    def h_hit(self, args, query, body):
        bump(args[0])
        self.reply(200, "hit")

    def h_conn(self, args, query, body):
        self.reply_json(200, {"conn": self.conn_id})

    def h_inflight(self, args, query, body):
        key, ms = args[0], int(args[1])
        with LOCK:
            INFLIGHT[key] = INFLIGHT.get(key, 0) + 1
            INFLIGHT_MAX[key] = max(INFLIGHT_MAX.get(key, 0), INFLIGHT[key])
        try:
            time.sleep(ms / 1000.0)
        finally:
            with LOCK:
                INFLIGHT[key] -= 1
                mx = INFLIGHT_MAX[key]
        self.reply_json(200, {"max": mx})

    def h_inflight_max(self, args, query, body):
        with LOCK:
            mx = INFLIGHT_MAX.get(args[0], 0)
        self.reply_json(200, {"max": mx})

    def h_page(self, args, query, body):
        n, total = int(args[0]), int(args[1])
        nxt = "/page/%d/%d" % (n + 1, total) if n < total else None
        self.reply_json(200, {"page": n, "next": nxt})

    def h_header(self, args, query, body):
        self.reply(200, "header", headers=[(args[0], urllib.parse.unquote(args[1]))])


def quiet_error(self, request, client_address):
    """Clients hanging up (a body cap, a timeout) are part of the tests."""
    if not isinstance(sys.exc_info()[1], OSError):
        socketserver.BaseServer.handle_error(self, request, client_address)


class TCPServer(simtls.HandshakeInThread, http.server.ThreadingHTTPServer):
    # simtls.HandshakeInThread: with `tls` set, the handshake runs in the connection's thread
    daemon_threads = True
    allow_reuse_address = True
    handle_error = quiet_error


class UnixServer(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True
    handle_error = quiet_error

    def server_bind(self):
        socketserver.UnixStreamServer.server_bind(self)
        self.server_name = "localhost"
        self.server_port = 0


def main():
    ap = argparse.ArgumentParser(description="fault-injecting HTTP/1.1 test server")
    where = ap.add_mutually_exclusive_group()
    where.add_argument("--unix", metavar="PATH", help="listen on a filesystem unix socket")
    where.add_argument("--abstract", metavar="NAME", help="listen on an abstract unix socket")
    ap.add_argument("--port", type=int, default=0, help="TCP port (default: ephemeral)")
    ap.add_argument("--tls-cert", metavar="PEM", help="serve HTTPS with this certificate")
    ap.add_argument("--tls-key", metavar="PEM", help="private key of --tls-cert")
    ap.add_argument("--client-ca", metavar="PEM", help="require client certificates from this CA")
    ap.add_argument("--log", metavar="FILE", help="append each request line to FILE")
    ap.add_argument("--max-seconds", type=float, default=600, help="exit after this long")
    opts = ap.parse_args()

    if opts.log:
        LOG[0] = open(opts.log, "a", encoding="utf-8")

    if opts.unix:
        if os.path.exists(opts.unix):
            os.unlink(opts.unix)
        server = UnixServer(opts.unix, Handler)
        ready = "unix:" + opts.unix
    elif opts.abstract:
        server = UnixServer("\0" + opts.abstract, Handler)
        ready = "abstract:" + opts.abstract
    else:
        server = TCPServer(("127.0.0.1", opts.port), Handler)
        ready = "http://127.0.0.1:%d" % server.server_address[1]
        if opts.tls_cert:
            server.tls = simtls.server_context(opts.tls_cert, opts.tls_key, opts.client_ca)
            ready = "https://127.0.0.1:%d" % server.server_address[1]

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              daemon=True)
    thread.start()
    print("READY " + ready, flush=True)
    stop.wait(opts.max_seconds)
    server.shutdown()
    server.server_close()
    if opts.unix:
        try:
            os.unlink(opts.unix)
        except OSError:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
