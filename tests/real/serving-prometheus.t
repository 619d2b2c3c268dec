#!/usr/bin/env python3
"""Real tier: Debian's Prometheus scrapes Debian's node_exporter over mutual TLS with
the shipped scrape job (share/serving/prometheus-scrape.yml) and rules
(share/serving/infrakit-alerts.yml), intervals shortened in the test copy.  The
textfiles come from real runs of the kit's tools against their simulators.  The
target is up, the kit's series arrive, InfrakitToolDown fires when osmon-orphans is
pointed at a dead cloud and resolves when it recovers.  A second Prometheus scrapes the
same node_exporter through the shipped nginx scrape cache (nginx-scrape-cache.conf)."""
import json
import os
import re
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serving_lib as S  # noqa: E402


def api(port, path, **q):
    url = "http://127.0.0.1:%d/api/v1/%s" % (port, path)
    if q:
        url += "?" + urllib.parse.urlencode(q)
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.load(r)["data"]


def wait(what, fn, timeout=30):
    """Poll FN until it returns something true; (value, seconds) or (None, timeout)."""
    t0 = time.time()
    last = None
    while time.time() - t0 < timeout:
        try:
            last = fn()
        except OSError:
            last = None
        if last:
            return last, time.time() - t0
        time.sleep(0.25)
    return None, timeout


def start_prometheus(tmp, name, cfg):
    """Prometheus with configuration CFG (TMP/NAME.yml, its own TSDB); returns its port."""
    with open(os.path.join(tmp, name + ".yml"), "w") as f:
        f.write(cfg)
    port = S.free_port()
    S.start(["prometheus", "--config.file=" + os.path.join(tmp, name + ".yml"),
             "--storage.tsdb.path=" + os.path.join(tmp, "tsdb-" + name), "--web.listen-address=127.0.0.1:%d" % port,
             "--log.level=warn"], tmp, name, ready=False)
    return port


def main():
    t_start = time.time()
    tmp = os.environ.get("INFRA_TMP") or tempfile.mkdtemp()
    pki, textdir = os.path.join(tmp, "pki"), os.path.join(tmp, "textfiles")
    os.makedirs(textdir)
    S.make_pki(pki)
    files, cloud = S.fill_textfiles(textdir, tmp)
    webcfg = S.web_config(pki, os.path.join(tmp, "web-config.yml"))
    _, ne_port = S.start_node_exporter(tmp, webcfg, textdir)

    # the shipped rules with pending times of one second; the shipped job with 1 s intervals
    rules = open(os.path.join(S.SRC, "share/serving/infrakit-alerts.yml")).read()
    fast = re.sub(r"for: \d+m", "for: 1s", rules)
    S.ok(fast != rules, "test copy of the rules: pending times shortened")
    with open(os.path.join(tmp, "rules.yml"), "w") as f:
        f.write(fast)
    job = open(os.path.join(S.SRC, "share/serving/prometheus-scrape.yml")).read()
    cfg = (job.replace("/usr/local/share/infrakit/serving/infrakit-alerts.yml", os.path.join(tmp, "rules.yml"))
              .replace("/etc/prometheus/infrakit-tls", pki)
              .replace("scrape_interval: 30s", "scrape_interval: 1s")
              .replace("scrape_timeout: 10s", "scrape_timeout: 1s")
              .replace("'localhost:9100'", "'127.0.0.1:%d'" % ne_port))
    S.ok(cfg.count(pki) == 3 and "127.0.0.1:%d" % ne_port in cfg and "scrape_interval: 1s" in cfg,
       "test copy of the scrape job: only paths, target and interval changed")
    cfg = "global:\n  evaluation_interval: 1s\n" + cfg
    port = start_prometheus(tmp, "prometheus", cfg)

    def target_up():
        ts = api(port, "targets")["activeTargets"]
        return ts and all(t["health"] == "up" for t in ts) and ts
    ts, secs = wait("target up", target_up)
    S.ok(ts is not None, "the infrakit target is up over mTLS (%.1f s)" % secs,
       open(os.path.join(tmp, "prometheus.err")).read()[-800:])
    if ts:
        S.ok(ts[0]["scrapeUrl"].startswith("https://"), "scraped over https (%s)" % ts[0]["scrapeUrl"])

    for prefix in sorted(set(files.values())):
        q = "%s_up" % prefix
        res, _ = wait(q, lambda: api(port, "query", query=q)["result"])
        S.ok(res is not None and res[0]["value"][1] == "1", "%s arrives in Prometheus and is 1" % q, res)
    res = api(port, "query", query='count({__name__=~"katapulse_.+|kata_.+"})')["result"]
    S.ok(res and int(res[0]["value"][1]) > 100, "katapulse-scrape's series arrive (%s)" % (res[0]["value"][1] if res else 0))
    res = api(port, "query", query="osmon_orphaned_resources")["result"]
    S.ok(len(res) > 5, "osmon_orphaned_resources arrives (%d series)" % len(res))
    # the status queries of README / docs/serving.md, as a person types them
    tools = "(osmon_orphans|osmon|osmon_health_check|katapulse|nasmon|spot_agg)"
    for q, check in (('{__name__=~"%s_build_info"}' % tools, lambda r: all(x["metric"].get("version") for x in r)),
                     ('{__name__=~"%s_up",source=""}' % tools, lambda r: all(x["value"][1] == "1" for x in r)),
                     ('time() - label_replace({__name__=~"%s_last_success_timestamp_seconds"}, "tool", "$1", "__name__", "(.+)_last_success_timestamp_seconds")' % tools,
                      lambda r: all(0 <= float(x["value"][1]) < 600 for x in r)),
                     ('{__name__=~"%s_duration_seconds"}' % tools, lambda r: all(float(x["value"][1]) >= 0 for x in r))):
        res = api(port, "query", query=q)["result"]
        S.ok(len(res) == len(files) and check(res), "status query %s: one sane series per tool (%d)" % (q, len(res)), res)
    res = api(port, "query", query="infrakit:run_interval_seconds")["result"]
    S.ok(len(res) == 6, "the interval recording rule evaluates (%d tools)" % len(res))

    def alert(state):
        for a in api(port, "alerts")["alerts"]:
            if a["labels"].get("alertname") == "InfrakitToolDown" and a["labels"].get("tool") == "osmon_orphans" \
                    and a["state"] == state:
                return a
        return None
    S.ok(alert("firing") is None and alert("pending") is None, "no InfrakitToolDown while osmon-orphans succeeds")

    # osmon-orphans pointed at a dead cloud: exit 3, _up 0 in its textfile
    env = S.os_env("http://127.0.0.1:%d" % S.free_port())
    r = S.run_tool(["osmon-orphans", "-q", "-f", "prom", "-o", os.path.join(textdir, "osmon-orphans.prom")], env, ok=(3,))
    S.ok(r.returncode == 3, "osmon-orphans against a dead cloud exits 3")
    t0 = time.time()
    a, _ = wait("firing", lambda: alert("firing"))
    S.ok(a is not None, "InfrakitToolDown{tool=osmon_orphans} fires (%.1f s after the failed run)" % (time.time() - t0))
    res = api(port, "query", query="osmon_orphans_up")["result"]
    S.ok(res and res[0]["value"][1] == "0", "osmon_orphans_up is 0 in Prometheus")

    S.run_tool(["osmon-orphans", "-q", "-f", "prom", "-o", os.path.join(textdir, "osmon-orphans.prom")], S.os_env(cloud))
    t0 = time.time()
    gone, _ = wait("resolved", lambda: alert("firing") is None and alert("pending") is None and
                   api(port, "query", query="osmon_orphans_up == 1")["result"])
    S.ok(gone is not None, "the alert resolves when osmon-orphans succeeds again (%.1f s)" % (time.time() - t0))
    total = time.time() - t_start
    S.ok(total < 60, "the whole test took %.1f s (< 60 s)" % total)

    # the same job through the shipped scrape cache (nginx-scrape-cache.conf; port 9443 in
    # a real set-up): a second Prometheus scrapes nginx, which scrapes node_exporter
    _, cport = S.start_nginx(tmp, pki, ne_port)
    port2 = start_prometheus(tmp, "prometheus-cache", cfg.replace("'127.0.0.1:%d'" % ne_port, "'127.0.0.1:%d'" % cport))

    def cache_target_up():
        ts = api(port2, "targets")["activeTargets"]
        return ts and all(t["health"] == "up" and t["scrapeUrl"].startswith("https://127.0.0.1:%d/" % cport)
                          for t in ts) and ts
    ts, secs = wait("target up", cache_target_up)
    S.ok(ts is not None, "through the nginx scrape cache: the shipped job's target is up over mTLS (%.1f s)" % secs,
         open(os.path.join(tmp, "prometheus-cache.err")).read()[-800:])
    res, _ = wait("series", lambda: api(port2, "query", query='{__name__=~"%s_up",source=""} == 1' % tools)["result"])
    S.ok(res is not None and len(res) == len(files),
         "through the cache: every tool's _up arrives and is 1 (%d of %d)" % (len(res or []), len(files)), res)


if __name__ == "__main__":
    S.tap_main(main)
