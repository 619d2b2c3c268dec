#!/usr/bin/env python3
"""Real tier: Debian's nginx with the shipped share/serving/nginx-scrape-cache.conf in front
of Debian's node_exporter (the shipped web config: mutual TLS) over a textfile directory
filled by real runs of the kit's tools against their simulators.
Clients without the scrape CA's certificate get no metrics (no certificate, another CA's,
an expired one, TLS 1.2, plain HTTP); the right one gets every kit family, gzip or not,
promtool-clean; node_exporter is asked about once a second however many requests come;
a rewritten textfile shows within two seconds; with node_exporter stopped no stale copy
is served (502) and it recovers; nginx's own client certificate is what node_exporter
lets in.  Mutations of the shipped file show each check can fail."""
import os
import re
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serving_lib as S  # noqa: E402


def attempt(port, ctx, **kw):
    """(status, headers, text) or (error string, {}, '')."""
    try:
        st, h, _, t = S.get(port, ctx, **kw)
        return st, h, t
    except (ssl.SSLError, OSError) as e:
        return "%s: %s" % (type(e).__name__, e), {}, ""


def no_metrics(port, ctx, what, want=r"^400$"):
    st, _, t = attempt(port, ctx)
    S.ok(re.search(want, str(st)) is not None and "node_textfile" not in t and "_up" not in t,
         "%s: no metrics (%s)" % (what, str(st)[:80]), t[:300])




def bodies(port, ctx, n):
    """N requests in a row on one connection each; (distinct bodies, seconds taken, statuses)."""
    seen, statuses = set(), set()
    t0 = time.time()
    for _ in range(n):
        st, _, t = attempt(port, ctx, gz=True)
        statuses.add(st)
        seen.add(t)
    return len(seen), time.time() - t0, statuses


def write_atomic(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.rename(path + ".tmp", path)


def main():
    tmp = os.environ.get("INFRA_TMP") or tempfile.mkdtemp()
    pki, textdir = os.path.join(tmp, "pki"), os.path.join(tmp, "textfiles")
    os.makedirs(textdir)
    S.make_pki(pki)
    mode = os.stat(os.path.join(pki, "nginx.key")).st_mode & 0o777
    S.ok(mode == 0o600, "make-certs -c nginx: nginx.key is mode 0600 (%o)" % mode)
    files, _ = S.fill_textfiles(textdir, tmp)
    webcfg = S.web_config(pki, os.path.join(tmp, "web-config.yml"))
    ne, ne_port = S.start_node_exporter(tmp, webcfg, textdir)
    ng, port = S.start_nginx(tmp, pki, ne_port)
    ctx = S.client_context(pki)
    conf = open(os.path.join(tmp, "nginx-%d.conf" % port)).read()
    S.ok("include /etc/nginx/mime.types;" in conf and "gzip on;" in conf,
         "nginx runs the shipped file inside Debian's own %s (its conf.d/ include)" % S.DEBIAN_NGINX_CONF,
         "Debian's nginx.conf is missing or not the packaged one: " + conf[:300])

    # who gets in
    no_metrics(port, S.client_context(pki, cert=None), "no client certificate")
    no_metrics(port, S.other_context(pki), "a certificate of another CA")
    no_metrics(port, S.expired_context(pki), "an expired certificate of the right CA")
    no_metrics(port, S.client_context(pki, tls=ssl.TLSVersion.TLSv1_2), "TLS 1.2 (ssl_protocols TLSv1.3)",
               r"PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL|WRONG_VERSION")
    reply = S.plain_http(port)
    S.ok(reply.startswith(b"HTTP/1.1 400") and b"node_textfile" not in reply,
         "plain HTTP on the TLS port: 400, no metrics (%r)" % reply[:30])
    st, _, _ = attempt(port, ctx, path="/")
    S.ok(st == 404, "only /metrics is passed on: / is 404 (%s)" % st)

    # what the right client gets
    st, h, text = attempt(port, ctx)
    S.ok(st == 200, "the scrape CA's client certificate: HTTP 200 (%s)" % st)
    S.ok(not h.get("content-encoding"), "no gzip asked: a plain body (nginx gunzips the cached gzip copy)", h)
    gst, gh, gtext = attempt(port, ctx, gz=True)
    S.ok(gst == 200 and gh.get("content-encoding") == "gzip", "Accept-Encoding: gzip -> Content-Encoding: gzip", gh)
    S.ok(gh.get("x-cache-status") in ("HIT", "MISS", "UPDATING", "STALE", "EXPIRED"),
         "the answer says how the cache served it (X-Cache-Status: %s)" % gh.get("x-cache-status"))
    # the two encodings of one cached copy are the same exposition, byte for byte
    same = False
    for _ in range(5):
        a, ha, ta = attempt(port, ctx, gz=True)
        b, hb, tb = attempt(port, ctx)
        if ha.get("x-cache-status") == hb.get("x-cache-status") == "HIT" and ta == tb:
            same = True
            break
    S.ok(same, "a cached copy: the gzip body decompresses to exactly the plain one")
    r = subprocess.run(["promtool", "check", "metrics"], input=gtext, capture_output=True, text=True)
    bad = [line for line in r.stderr.splitlines() if line.strip() and not line.startswith("kata_")]
    S.ok(r.returncode == 0 or (r.returncode == 3 and not bad),
         "promtool check metrics passes the body nginx serves (lint findings only in Kata's own kata_* names)", r.stderr)
    served = set(S.families(gtext))
    for f, prefix in sorted(files.items()):
        want = S.families(open(os.path.join(textdir, f)).read())
        missing = [x for x in want if x not in served]
        S.ok(want and not missing, "%s: all %d families served through the cache" % (f, len(want)),
             "missing: " + ", ".join(missing[:10]))
    S.ok(re.search(r"^node_textfile_scrape_error 0$", gtext, re.M) is not None, "node_textfile_scrape_error 0")

    # the cache: node_exporter answers differently on every scrape (its textfile collector's
    # duration), so distinct bodies count how often it was asked
    n, secs, sts = bodies(port, ctx, 150)
    S.ok(sts == {200} and n <= int(secs) + 2,
         "150 requests in %.1f s: node_exporter asked %d times (at most once a second + 1)" % (secs, n), sts)

    # a textfile rewritten by a tool shows within the cache's second (+ the refresh)
    marker = "infrakit_cache_probe"
    write_atomic(os.path.join(textdir, "probe.prom"), "# HELP %s p\n# TYPE %s gauge\n%s 42\n" % (marker, marker, marker))
    seen_after = None
    t0 = time.time()
    while time.time() - t0 < 6:
        st, _, t = attempt(port, ctx, gz=True)
        if st == 200 and re.search(r"^%s 42$" % marker, t, re.M):
            seen_after = time.time() - t0
            break
        time.sleep(0.1)
    S.ok(seen_after is not None and seen_after < 2.5,
         "a rewritten textfile is served within 2.5 s (%s s)" % ("%.1f" % seen_after if seen_after is not None else "never"))

    # node_exporter stopped: no stale copy for long, 502; it comes back when node_exporter does
    S.stop(ne)
    time.sleep(2.2)  # proxy_cache_valid 1s: nginx's clock ticks in whole seconds, so a copy lives 1-2 s
    seq = [attempt(port, ctx, gz=True)[0] for _ in range(4)]
    S.ok(seq[-1] == 502 and seq[1:].count(200) == 0,
         "node_exporter down: 502 after at most one stale answer (%s)" % seq)
    ne, _ = S.start_node_exporter(tmp, webcfg, textdir, port=ne_port)
    back = None
    t0 = time.time()
    while time.time() - t0 < 10:
        st, _, t = attempt(port, ctx, gz=True)
        if st == 200 and marker in t:
            back = time.time() - t0
            break
        time.sleep(0.2)
    S.ok(back is not None, "node_exporter back: 200 again (after %s s)" % ("%.1f" % back if back is not None else "never"))
    S.stop(ng)

    shipped = open(S.SHIPPED_NGINX).read()

    def mutated(old, new):
        assert old in shipped, old
        return S.start_nginx(tmp, pki, ne_port, text=shipped.replace(old, new))

    # mutations: each weakening of the shipped file is caught by a check above
    m, mport = mutated("ssl_verify_client on;", "ssl_verify_client optional;")
    st, _, t = attempt(mport, S.client_context(pki, cert=None))
    S.ok(st == 200 and "_up" in t, "mutation: with ssl_verify_client optional a client without a certificate gets "
         "metrics (so the refusal above can fail)", st)
    S.stop(m)
    m, mport = mutated("proxy_cache infrakit_metrics;", "proxy_cache off;")
    n, secs, _ = bodies(mport, ctx, 40)
    S.ok(n > int(secs) + 2, "mutation: without proxy_cache node_exporter is asked every time (%d bodies of 40 in %.1f s)"
         % (n, secs))
    S.stop(m)
    # nginx's own client certificate is what opens node_exporter: without it, 502
    m, mport = mutated("        proxy_ssl_certificate     /etc/prometheus/node-exporter-tls/nginx.pem;\n"
                       "        proxy_ssl_certificate_key /etc/prometheus/node-exporter-tls/nginx.key;\n", "")
    st, _, _ = attempt(mport, ctx)
    S.ok(st == 502, "without nginx's client certificate node_exporter refuses it: 502 (%s)" % st)
    S.stop(m)
    # the down check can fail: with proxy_cache_background_update nginx keeps handing out
    # the old copy while node_exporter is down
    m, mport = mutated("proxy_cache_use_stale updating;\n",
                       "proxy_cache_use_stale updating;\n        proxy_cache_background_update on;\n")
    attempt(mport, ctx, gz=True)
    S.stop(ne)
    time.sleep(2.2)
    seq = [attempt(mport, ctx, gz=True)[0] for _ in range(4)]
    S.ok(seq.count(200) == 4, "mutation: with proxy_cache_background_update node_exporter's absence is hidden "
         "(%s; so the 502 check above can fail)" % seq)
    S.stop(m)
    ne, _ = S.start_node_exporter(tmp, webcfg, textdir, port=ne_port)
    # the commented TLS 1.2 switch
    m, mport = S.start_nginx(tmp, pki, ne_port, tls12=True)
    st, _, _ = attempt(mport, S.client_context(pki, tls=ssl.TLSVersion.TLSv1_2))
    S.ok(st == 200, "with the TLS 1.2 switch a TLS 1.2 client with the right certificate gets 200 (%s)" % st)
    st, _, t = attempt(mport, S.other_context(pki, tls=ssl.TLSVersion.TLSv1_2))
    S.ok(st == 400 and "_up" not in t, "TLS 1.2 with another CA's certificate: 400, no metrics (%s)" % st)
    S.stop(m)
    S.stop(ne)


if __name__ == "__main__":
    S.tap_main(main)
