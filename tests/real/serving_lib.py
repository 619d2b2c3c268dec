"""Shared by tests/real/serving-*.t and scripts/bench-serving: certificates made by
scripts/make-certs, a textfile directory filled by real runs of the kit's tools
against their simulators, a real node_exporter (Debian's) on 127.0.0.1 with the
shipped share/serving/web-config.yml, and an HTTPS client with a client certificate.
Ports are picked free at run time; every process started is stopped by stop_all()."""
import gzip
import http.client
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time

SRC = os.environ.get("INFRA_SRCDIR") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("BUILD", "build")
BIN = os.environ.get("INFRA_BIN") or os.path.join(SRC, BUILD, "bin")
PROCS = []


class Fail(Exception):
    pass


N = [0]


def ok(cond, what, detail=""):
    """One TAP line; the first lines of DETAIL as comments when it failed."""
    N[0] += 1
    print(("ok %d - %s" if cond else "not ok %d - %s") % (N[0], what), flush=True)
    if not cond and detail:
        for line in str(detail).splitlines()[:8]:
            print("#   " + line)
    return cond


def tap_main(main):
    """Run MAIN; a setup failure is a failed test; every process started is stopped."""
    try:
        main()
    except Fail as e:
        ok(False, "setup: %s" % e)
    finally:
        stop_all()
    print("1..%d" % N[0])


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start(cmd, tmp, name, ready=True, env=None, timeout=60):
    """Start CMD; with READY, wait for its `READY <value>` line and return (proc, value).
    A process that exits or stays silent before READY is started once more (a TAP comment
    says why); the second failure is a Fail that says how it ended, what it printed and the
    free space where it writes."""
    why = None
    for attempt in (1, 2):
        proc, value, why = _start_once(cmd, tmp, name if attempt == 1 else name + "-2", ready, env, timeout)
        if why is None:
            return proc, value
        if attempt == 1:
            print("# %s did not start (%s); starting it again" % (name, why.splitlines()[0]), flush=True)
    raise Fail(f"{name} did not start: {why}")


def _start_once(cmd, tmp, name, ready, env, timeout):
    """(proc, READY value, None), or (proc, None, what went wrong)."""
    out = open(os.path.join(tmp, name + ".out"), "w+")
    err = open(os.path.join(tmp, name + ".err"), "w+")
    proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, start_new_session=True)
    PROCS.append(proc)
    if not ready:
        return proc, None, None
    end = time.time() + timeout
    while time.time() < end:
        out.seek(0)
        line = out.readline()
        if line.startswith("READY ") and line.endswith("\n"):
            return proc, line.split(None, 1)[1].strip(), None
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    rc = proc.poll()
    if rc is None:
        how = "no READY line within %d s" % timeout
        stop(proc)
    elif rc < 0:
        how = "killed by signal %d" % -rc
    else:
        how = "exited with status %d" % rc
    out.seek(0)
    err.seek(0)
    st = os.statvfs(tmp)
    return proc, None, "%s; %d MB free in %s; stdout %r; stderr %r" % (
        how, st.f_bavail * st.f_frsize // 1000000, tmp, out.read()[:200], err.read()[-400:])


def stop(proc):
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def stop_all():
    for p in PROCS:
        stop(p)


def sh(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


# ---------------------------------------------------------------- certificates

CLIENT_EXT = "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n"


def make_pki(d):
    """d/ca.pem, server.*, prometheus.* (scripts/make-certs); d/other/ (a second CA and
    its client 'stranger'); d/expired.pem/.key (signed by the right CA, valid only in 2020)."""
    r = sh([os.path.join(SRC, "scripts/make-certs"), "-d", d, "-n", "localhost", "-i", "127.0.0.1",
            "-c", "prometheus", "-c", "nginx"])
    if r.returncode:
        raise Fail("make-certs: " + r.stderr)
    r = sh([os.path.join(SRC, "scripts/make-certs"), "-d", os.path.join(d, "other"), "-n", "localhost",
            "-c", "stranger"])
    if r.returncode:
        raise Fail("make-certs (other CA): " + r.stderr)
    # an expired client certificate of the right CA: `openssl ca` takes explicit dates
    ca = os.path.join(d, "expca")
    os.makedirs(ca, exist_ok=True)
    open(os.path.join(ca, "index.txt"), "w").close()
    with open(os.path.join(ca, "serial"), "w") as f:
        f.write("1000\n")
    with open(os.path.join(ca, "ext"), "w") as f:
        f.write(CLIENT_EXT)
    with open(os.path.join(ca, "cnf"), "w") as f:
        f.write("[ca]\ndefault_ca=c\n[c]\ndatabase=%s/index.txt\nnew_certs_dir=%s\nserial=%s/serial\n"
                "default_md=sha256\npolicy=p\n[p]\ncommonName=supplied\n" % (ca, ca, ca))
    key = os.path.join(d, "expired.key")
    r = sh(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-subj", "/CN=expired", "-keyout", key, "-out", os.path.join(ca, "csr")])
    if r.returncode:
        raise Fail("openssl req: " + r.stderr)
    r = sh(["openssl", "ca", "-batch", "-config", os.path.join(ca, "cnf"), "-cert", os.path.join(d, "ca.pem"),
            "-keyfile", os.path.join(d, "ca.key"), "-in", os.path.join(ca, "csr"),
            "-out", os.path.join(d, "expired.pem"), "-notext", "-extfile", os.path.join(ca, "ext"),
            "-startdate", "20200101000000Z", "-enddate", "20200102000000Z"])
    if r.returncode:
        raise Fail("openssl ca: " + r.stderr)


def web_config(d, out, tls12=False):
    """The shipped web config with its certificate paths pointed at D."""
    text = open(os.path.join(SRC, "share/serving/web-config.yml")).read()
    text = text.replace("/etc/prometheus/node-exporter-tls", d)
    if tls12:
        text = text.replace("  min_version: TLS13\n  # min_version: TLS12\n", "  # min_version: TLS13\n  min_version: TLS12\n")
    with open(out, "w") as f:
        f.write(text)
    return out


# ---------------------------------------------------------------- textfiles by real runs

OS_ENV = {"OS_USERNAME": "admin", "OS_PASSWORD": "secret", "OS_PROJECT_NAME": "admin",
          "OS_USER_DOMAIN_NAME": "Default", "OS_PROJECT_DOMAIN_NAME": "Default"}


def os_env(cloud_url):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(OS_ENV)
    env["OS_AUTH_URL"] = cloud_url + "/identity/v3"
    return env


def run_tool(args, env=None, ok=(0, 1, 2)):
    r = sh([os.path.join(BIN, args[0])] + args[1:], env=env)
    if r.returncode not in ok:
        raise Fail(f"{' '.join(args[:2])} exited {r.returncode}: {r.stderr.strip()[-300:]}")
    return r


def start_cloud(tmp, seed="tests/sim/seeds/realistic.json", extra=()):
    return start(["python3", os.path.join(SRC, "tests/sim/openstack.py"), "--seed", os.path.join(SRC, seed),
                  "--max-seconds", "600"] + list(extra), tmp, "cloud")


def start_kata(tmp, n, profile="small", name="kata"):
    return start(["python3", os.path.join(SRC, "tests/sim/kata_shims.py"), "--root", os.path.join(tmp, name + "-root"),
                  "--generate", str(n), "--profile", profile, "--max-seconds", "900"], tmp, name, timeout=300)


def nasmon_textfile(out, tmp, scenario=("--seed", "5"), name="nas"):
    """nasmon-check -o OUT against the Kubernetes and TrueNAS simulators serving one world of
    tests/sim/nas_scenario.py (SCENARIO: its arguments; by default every check planted)."""
    world = os.path.join(tmp, name + "-world.json")
    sh(["python3", os.path.join(SRC, "tests/sim/nas_scenario.py")] + list(scenario) + ["-o", world], check=True)
    kp, kurl = start(["python3", os.path.join(SRC, "tests/sim/kube.py"), "--world", world, "--tls-dir",
                      os.path.join(tmp, name + "-tls"), "--token", "serving-token"], tmp, name + "-kube", timeout=120)
    tp, turl = start(["python3", os.path.join(SRC, "tests/sim/truenas.py"), "--world", world, "--api-key",
                      "1-servingkey"], tmp, name + "-truenas", timeout=120)
    for f, v in (("token", "serving-token"), ("key", "1-servingkey")):
        with open(os.path.join(tmp, name + "-" + f), "w") as fh:
            fh.write(v + "\n")
    try:
        run_tool(["nasmon-check", "-q", "--kube-api", kurl, "--kube-token-file", os.path.join(tmp, name + "-token"),
                  "--kube-ca", os.path.join(tmp, name + "-tls", "ca.pem"), "--truenas-url", turl,
                  "--truenas-api-key-file", os.path.join(tmp, name + "-key"), "-f", "prom", "-o", out])
    finally:
        stop(kp)
        stop(tp)


def spot_textfile(out, tmp, hosts=None, name="spot"):
    """spot-agg -o OUT against the OpenStack simulator: the spot cases' seed, or with HOSTS a
    generated GPU cloud of that many hosts (tests/sim/spot_scenario.py large)."""
    if hosts:
        seed = os.path.join(tmp, name + "-seed.json")
        with open(seed, "w") as fh:
            subprocess.run(["python3", os.path.join(SRC, "tests/sim/spot_scenario.py"), "large", "--hosts", str(hosts),
                            "--aggregates", str(max(2, hosts // 50)), "--children", "4", "--vms", str(hosts * 8)],
                           check=True, stdout=fh)
        extra = []
    else:
        seed = os.path.join(SRC, "tests/cases/spot-agg/seed.json")
        extra = ["--gpu-class", "CUSTOM_L40S", "--gpus-per-host", "A100=8"]
    p, url = start(["python3", os.path.join(SRC, "tests/sim/openstack.py"), "--seed", seed, "--max-seconds", "600"],
                   tmp, name + "-cloud", timeout=120)
    try:
        run_tool(["spot-agg", "-q", "--no-cache", "-f", "prom", "-o", out] + extra, os_env(url))
    finally:
        stop(p)


def fill_textfiles(textdir, tmp, kata_sandboxes=3):
    """Real runs of every tool that writes a textfile: osmon-orphans and osmon-run --health
    against the OpenStack simulator, katapulse-scrape against simulated Kata shims,
    nasmon-check against the Kubernetes and TrueNAS simulators, spot-agg against a GPU
    cloud.  Returns ({file: prefix}, the OpenStack simulator's URL)."""
    _, cloud = start_cloud(tmp)
    env = os_env(cloud)
    run_tool(["osmon-orphans", "-q", "-f", "prom", "-o", os.path.join(textdir, "osmon-orphans.prom")], env)
    run_tool(["osmon-run", "--health", "-q", "--state-dir", os.path.join(tmp, "osmon-state"), "-f", "prom",
              "-o", os.path.join(textdir, "osmon-health.prom")], env)
    _, root = start_kata(tmp, kata_sandboxes)
    run_tool(["katapulse-scrape", "-q", "--sysroot", root, "--no-state", "-f", "prom",
              "-o", os.path.join(textdir, "katapulse.prom")])
    nasmon_textfile(os.path.join(textdir, "nasmon.prom"), tmp)
    spot_textfile(os.path.join(textdir, "spot-agg.prom"), tmp)
    return {"osmon-orphans.prom": "osmon_orphans", "osmon-health.prom": "osmon_health_check",
            "katapulse.prom": "katapulse", "nasmon.prom": "nasmon", "spot-agg.prom": "spot_agg"}, cloud


def families(text):
    """The families of an exposition that have samples: a HELP/TYPE header alone (e.g.
    spot_agg_source_cache_age_seconds when every source was live) is not served by
    node_exporter, and rightly so."""
    typed = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}
    sampled = {re.split(r"[{ ]", line, 1)[0] for line in text.splitlines() if line and not line.startswith("#")}
    return sorted(f for f in typed if f in sampled or any(s.startswith(f + "_") and s[len(f) + 1:] in
                                                            ("bucket", "sum", "count", "total", "created") for s in sampled))


# ---------------------------------------------------------------- node_exporter and the client

SHIPPED_DEFAULT = os.path.join(SRC, "share/serving/prometheus-node-exporter.default")


def shipped_node_exporter(textdir, webcfg):
    """(arguments, environment) of the shipped /etc/default/prometheus-node-exporter,
    its textfile directory and web config pointed at TEXTDIR and WEBCFG."""
    args, env = [], {}
    for line in open(SHIPPED_DEFAULT):
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        k, v = line.split("=", 1)
        v = v.strip('"')
        if k == "ARGS":
            for a in v.split():
                if a.startswith("--collector.textfile.directory="):
                    a = "--collector.textfile.directory=" + textdir
                elif a.startswith("--web.config.file="):
                    a = "--web.config.file=" + webcfg
                args.append(a)
        else:
            env[k] = v
    return args, env


def start_node_exporter(tmp, webcfg, textdir, port=None, extra=(), shipped=True, env=None, drop=()):
    """node_exporter as shipped (share/serving/prometheus-node-exporter.default; DROP: shipped
    arguments to leave out), or with SHIPPED false as Debian runs it by default (every
    default collector, exporter metrics, Go's default GC) plus the textfile directory and
    web config."""
    exe = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
    if not exe:
        raise Fail("prometheus-node-exporter is not installed (scripts/install-deps)")
    port = port or free_port()
    if shipped:
        args, senv = shipped_node_exporter(textdir, webcfg)
        args = [a for a in args if a not in drop]
    else:
        args, senv = ["--collector.textfile.directory=" + textdir, "--web.config.file=" + webcfg], {}
    penv = {k: v for k, v in os.environ.items() if k not in ("GOGC", "GOMAXPROCS", "GOMEMLIMIT")}
    penv.update(senv)
    penv.update(env or {})
    proc, _ = start([exe] + args + ["--web.listen-address=127.0.0.1:%d" % port] + list(extra), tmp,
                    "node-exporter", ready=False, env=penv)
    return listening(proc, port, "node_exporter", os.path.join(tmp, "node-exporter.err"))


def listening(proc, port, what, errfile, timeout=30):
    """(PROC, PORT) once PROC accepts connections on 127.0.0.1:PORT; Fail with the end of
    ERRFILE when it exits or does not listen in TIMEOUT seconds."""
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return proc, port
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.1)
    raise Fail("%s did not listen: %s" % (what, open(errfile).read()[-500:]))


def client_context(pki, cert="prometheus", ca=None, tls=None):
    ctx = ssl.create_default_context(cafile=ca or os.path.join(pki, "ca.pem"))
    ctx.check_hostname = True
    if tls:
        ctx.minimum_version = ctx.maximum_version = tls
    if cert:
        ctx.load_cert_chain(os.path.join(pki, cert + ".pem"), os.path.join(pki, cert + ".key"))
    return ctx


def other_context(pki, tls=None):
    """A client with the certificate of make_pki's second CA (client 'stranger')."""
    ctx = client_context(pki, cert=None, tls=tls)
    ctx.load_cert_chain(os.path.join(pki, "other", "stranger.pem"), os.path.join(pki, "other", "stranger.key"))
    return ctx


def expired_context(pki):
    """A client with make_pki's expired certificate of the right CA."""
    ctx = client_context(pki, cert=None)
    ctx.load_cert_chain(os.path.join(pki, "expired.pem"), os.path.join(pki, "expired.key"))
    return ctx


def plain_http(port):
    """The first bytes the server answers to a plain-HTTP GET /metrics on its TLS port."""
    s = socket.create_connection(("127.0.0.1", port), 5)
    try:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
        return s.recv(4096)
    finally:
        s.close()


def get(port, ctx, path="/metrics", gz=False, server_name="localhost", timeout=20):
    """(status, headers, raw body, exposition text); raises ssl.SSLError/OSError when refused."""
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=timeout)
    conn._server_hostname = server_name  # SNI/verification name, the scrape job's server_name
    sock = socket.create_connection(("127.0.0.1", port), timeout)
    conn.sock = ctx.wrap_socket(sock, server_hostname=server_name)
    # TLS 1.3: a refused client certificate surfaces on the first read, not in wrap_socket
    conn.request("GET", path, headers={"Accept-Encoding": "gzip"} if gz else {})
    r = conn.getresponse()
    raw = r.read()
    headers = {k.lower(): v for k, v in r.getheaders()}
    text = gzip.decompress(raw) if headers.get("content-encoding") == "gzip" else raw
    conn.close()
    return r.status, headers, raw, text.decode()


# ---------------------------------------------------------------- the nginx scrape cache

SHIPPED_NGINX = os.path.join(SRC, "share/serving/nginx-scrape-cache.conf")
DEBIAN_NGINX_CONF = "/etc/nginx/nginx.conf"


def nginx_conf(tmp, pki, ne_port, port, text=None, tls12=False):
    """The shipped share/serving/nginx-scrape-cache.conf (or TEXT, a changed copy) with its
    certificates, cache directory and ports pointed at PKI, TMP, NE_PORT and PORT, included
    by a copy of Debian's /etc/nginx/nginx.conf (or, when that is missing or not the packaged
    one, by a minimal nginx.conf; serving-cache.t fails then).  Returns the path of that copy."""
    text = text if text is not None else open(SHIPPED_NGINX).read()
    text = (text.replace("/etc/prometheus/node-exporter-tls", pki)
                .replace("/var/lib/nginx/infrakit-metrics", os.path.join(tmp, "nginx-cache-%d" % port))
                .replace("server 127.0.0.1:9100;", "server 127.0.0.1:%d;" % ne_port)
                .replace("listen 9443 ssl;", "listen 127.0.0.1:%d ssl;" % port)
                .replace("listen [::]:9443 ssl;\n", ""))
    if tls12:
        text = text.replace("    ssl_protocols TLSv1.3;\n    # ssl_protocols TLSv1.2 TLSv1.3;\n",
                            "    # ssl_protocols TLSv1.3;\n    ssl_protocols TLSv1.2 TLSv1.3;\n")
    site = os.path.join(tmp, "nginx-site-%d.conf" % port)
    with open(site, "w") as f:
        f.write(text)
    conf = os.path.join(tmp, "nginx-%d.conf" % port)
    # as root, nginx's workers would drop to www-data, who cannot enter the test's 0700 directory
    user = "user root root;" if os.geteuid() == 0 else ""
    temps = "".join("  %s_temp_path %s/nginx-tmp;\n" % (t, tmp) for t in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    # Debian's own /etc/nginx/nginx.conf around it, as `cp ... /etc/nginx/conf.d/` gives (its
    # gzip on, ssl_protocols and access_log at http level), with its run-time paths in TMP
    debian = DEBIAN_NGINX_CONF if os.path.exists(DEBIAN_NGINX_CONF) else None
    swaps = (("user www-data;", user), ("pid /run/nginx.pid;", "pid %s/nginx-%d.pid;" % (tmp, port)),
             ("error_log /var/log/nginx/error.log;", "error_log %s/nginx-%d.err info;" % (tmp, port)),
             ("access_log /var/log/nginx/access.log;", "access_log %s/nginx-%d.access;" % (tmp, port)),
             ("include /etc/nginx/conf.d/*.conf;", temps + "  include %s;" % site),
             ("include /etc/nginx/sites-enabled/*;", ""))
    main = open(debian).read() if debian else ""
    if main and all(a in main for a, _ in swaps):
        for a, b in swaps:
            main = main.replace(a, b)
    else:
        main = ("%s\nworker_processes auto;\npid %s/nginx-%d.pid;\nerror_log %s/nginx-%d.err info;\n"
                "events { worker_connections 1024; }\nhttp {\n%s  sendfile on;\n  include %s;\n}\n" %
                (user, tmp, port, tmp, port, temps, site))
    with open(conf, "w") as f:
        f.write(main)
    return conf


def start_nginx(tmp, pki, ne_port, text=None, tls12=False):
    """nginx (Debian's) with the shipped scrape cache in front of node_exporter on NE_PORT;
    returns (process, port) once it listens."""
    exe = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.access(exe, os.X_OK):
        raise Fail("nginx is not installed (scripts/install-deps)")
    os.makedirs(os.path.join(tmp, "nginx-tmp"), exist_ok=True)
    port = free_port()
    conf = nginx_conf(tmp, pki, ne_port, port, text, tls12)
    r = sh([exe, "-t", "-q", "-p", tmp, "-e", os.path.join(tmp, "nginx-t.err"), "-c", conf])
    if r.returncode:
        raise Fail("nginx -t: " + (r.stderr.strip() or open(os.path.join(tmp, "nginx-t.err")).read())[-400:])
    proc, _ = start([exe, "-p", tmp, "-e", os.path.join(tmp, "nginx-%d.err" % port), "-c", conf, "-g", "daemon off;"],
                    tmp, "nginx-%d" % port, ready=False)
    return listening(proc, port, "nginx", os.path.join(tmp, "nginx-%d.err" % port))
