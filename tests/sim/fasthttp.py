"""Cheaper request parsing and replies for the simulators' BaseHTTPRequestHandler (stdlib only).

http.server parses every request's headers with the email package (~70 us a request on this
machine), which made the simulators, not the tools, the bottleneck of the large benchmarks
(8,000 Placement requests).  FastParse is a mixin that reads the header block itself into a
case-insensitive mapping with the part of email.message.Message the simulators use (get,
[], in, get_all, items); anything unusual in the request line goes the stdlib way.
Semantics kept: HTTP/1.1 keep-alive unless "Connection: close", HTTP/1.0 closes unless
"Connection: keep-alive", Expect: 100-continue, 431 for a header line over 64 KiB or more
than 100 headers, 400 for a line without a colon.  reply() sends status line, headers and
body in one write (one segment instead of two on keep-alive connections)."""

MAX_LINE = 65536
MAX_HEADERS = 100


class Headers(dict):
    """Lower-cased names; the first of repeated headers wins for get/[] (as Message.get)."""

    def __init__(self):
        super().__init__()
        self.all = []

    def get(self, name, default=None):
        return dict.get(self, name.lower(), default)

    def __getitem__(self, name):
        return dict.get(self, name.lower())

    def __contains__(self, name):
        return dict.__contains__(self, name.lower())

    def get_all(self, name, failobj=None):
        v = [val for k, val in self.all if k == name.lower()]
        return v or failobj

    def items(self):
        return list(self.all)


class FastParse:
    def parse_request(self):
        line = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        words = line.split()
        if len(words) != 3 or words[2] not in ("HTTP/1.1", "HTTP/1.0"):
            return super().parse_request()  # the stdlib's checks and error replies
        self.requestline = line
        self.command, self.path, self.request_version = words
        self.close_connection = not (words[2] == "HTTP/1.1" and self.protocol_version >= "HTTP/1.1")
        h = Headers()
        while True:
            raw = self.rfile.readline(MAX_LINE + 1)
            if len(raw) > MAX_LINE:
                self.send_error(431, "Line too long")
                return False
            if raw in (b"\r\n", b"\n", b""):
                break
            if len(h.all) >= MAX_HEADERS:
                self.send_error(431, "Too many headers")
                return False
            name, sep, value = raw.decode("iso-8859-1").partition(":")
            if not sep:
                self.send_error(400, "Bad header line")
                return False
            name, value = name.strip().lower(), value.strip()
            h.all.append((name, value))
            if not dict.__contains__(h, name):
                dict.__setitem__(h, name, value)
        self.headers = h
        conn = h.get("Connection", "").lower()
        if conn == "close":
            self.close_connection = True
        elif conn == "keep-alive" and self.protocol_version >= "HTTP/1.1":
            self.close_connection = False
        if (h.get("Expect", "").lower() == "100-continue" and self.protocol_version >= "HTTP/1.1"
                and self.request_version >= "HTTP/1.1"):
            if not self.handle_expect_100():
                return False
        return True

    def reply(self, code, headers, data):
        """Status line, headers (an iterable of pairs), Content-Length and data in one write."""
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self._headers_buffer.append(b"\r\n")
        if self.command != "HEAD" and data:
            self._headers_buffer.append(data)
        self.flush_headers()
