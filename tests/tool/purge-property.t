#!/usr/bin/env python3
"""Property test of osmon-purge (issue 8): a purge never touches what discovery would not report.

A random cloud is seeded into the simulator: PURGE_PROPERTY_COUNT (default 2000) resources
of every kind, named from Rally's grammar and from near misses of it (prefix look-alikes
like s_rallyware-prod, case changes, parts of 7 or 9 characters, bad nova suffixes, other
separators, unicode look-alikes and zero-width characters), in Rally projects, other
projects and deleted ones; shared and external networks; ports on routers and servers;
floating IPs on any port.  osmon-orphans --no-narrow reports D (the rule applied to
everything listed: narrowing only hides dead-owner servers and volumes, and users of
test projects, from the listing).  The report is then edited at random as
a hostile hand would (reasons, names, kinds, projects and parents changed, ids swapped
within and across types, services/types swapped, keypairs given to another user, unrelated resources added) and given to
osmon-purge --confirm --from.  Checked:
  1. every DELETE and every PUT the purge sends targets a resource in D (a
     remove_router_interface: the port, or the router being deleted);
  2. everything not in D is still there afterwards, except what goes with a deleted
     member of D (ports of a deleted server or router, ports and subnets of a deleted
     network);
  3. every planned item has a result, every skip a skip_reason and a message, and the
     counts add up;
  4. nothing it reports deleted or detached is outside D.
PURGE_PROPERTY_SEED (default fixed) and PURGE_PROPERTY_COUNT choose the cloud.
"""
import json
import os
import random
import re
import string
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

SRC = os.environ.get("INFRA_SRCDIR", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BIN = os.environ.get("INFRA_BIN") or os.path.join(SRC, os.environ.get("BUILD", "build"), "bin")
TMP = os.environ.get("INFRA_TMP") or tempfile.mkdtemp()
SEED = int(os.environ.get("PURGE_PROPERTY_SEED", "20261204"))
COUNT = int(os.environ.get("PURGE_PROPERTY_COUNT", "2000"))
rnd = random.Random(SEED)
n_test = 0
failed = 0


def tap(ok, what, detail=None):
    global n_test, failed
    n_test += 1
    print("%s %d - %s" % ("ok" if ok else "not ok", n_test, what))
    if not ok:
        failed += 1
        for line in (detail or "").splitlines()[:40]:
            print("#   " + line)
    sys.stdout.flush()


ALNUM = string.ascii_letters + string.digits


def part(n=8):
    return "".join(rnd.choice(ALNUM) for _ in range(n))


def rally_name(kind=None, suffix=False):
    n = "%s_rally_%s_%s" % (kind or rnd.choice("sc"), part(), part())
    if suffix:
        n += rnd.choice(["-%d" % rnd.randint(1, 30), "-" + str(uuid.UUID(int=rnd.getrandbits(128)))])
    return n


LOOKALIKE = {"s": ["S", "ѕ", "ｓ", "ſ"], "c": ["C", "с", "ｃ"], "a": ["A", "а", "á"], "l": ["L", "ӏ", "1"],
             "y": ["Y", "у"], "r": ["R", "г"], "_": ["-", " ", "__", "\u200b_"]}


def near_miss():
    base = rally_name()
    k = rnd.randrange(12)
    if k == 0:
        return rnd.choice(["s_rally", "c_rally"]) + rnd.choice(["ware-prod", "e-db", "-ci", "_backup", "", "_", "x"]) + \
            rnd.choice(["", part(rnd.randint(1, 12))])
    if k == 1:   # one character of the fixed part changed (case, look-alike, separator)
        i = rnd.randrange(8)
        ch = base[i]
        alts = LOOKALIKE.get(ch, [ch.upper() if ch.islower() else ch.lower()])
        return base[:i] + rnd.choice(alts) + base[i + 1:]
    if k == 2:   # a part of 7 or 9 characters
        return "%s_rally_%s_%s" % (rnd.choice("sc"), part(rnd.choice([7, 9, 8])), part(rnd.choice([7, 9])))
    if k == 3:   # bad nova suffixes and trailing junk
        return base + rnd.choice(["-0", "-01", "-", "_1", "-1a", "x", " ", "\n", "-1-2", ".", "-" + str(uuid.uuid4()).upper(),
                                  "-1234567890"])
    if k == 4:   # unicode inside a random part
        i = rnd.randrange(8, len(base))
        return base[:i] + rnd.choice(["é", "ß", "Ａ", "\u200b", "\u00a0", "😀", "İ"]) + base[i + 1:]
    if k == 5:   # leading junk
        return rnd.choice(["my_", " ", "x", "prod_", "\u200b"]) + base
    if k == 6:   # whole name in another case
        return rnd.choice([base.upper(), base.capitalize(), base.swapcase()])
    if k == 7:   # other separators
        return base.replace("_", rnd.choice(["-", ".", ":"]))
    if k == 8:   # non-alphanumeric inside a part
        i = rnd.randrange(8, len(base))
        return base[:i] + rnd.choice("-_.!~ /%") + base[i + 1:]
    if k == 9:
        return rnd.choice(["rally", "rally-ci", "s-rally-user", "rallyware", "default", "", "demo", "prod-rally-db"])
    if k == 10:  # the first part only
        return base[:16]
    return "".join(rnd.choice(ALNUM + "_-") for _ in range(rnd.randint(1, 30)))


def name():
    r = rnd.random()
    return rally_name(suffix=rnd.random() < 0.2) if r < 0.3 else near_miss()


def rid():
    return str(uuid.UUID(int=rnd.getrandbits(128)))


def hexid():
    return uuid.UUID(int=rnd.getrandbits(128)).hex


def make_seed(count):
    seed = {"page_size": 1000, "projects": [{"name": "admin", "id": hexid()}, {"name": "demo", "id": hexid()}],
            "users": [{"name": "admin", "password": "secret", "roles": {"admin": "admin"}}]}
    for _ in range(max(6, count // 60)):
        seed["projects"].append({"name": name() or "p", "id": hexid()})
    live = [p["id"] for p in seed["projects"]]
    gone = [hexid() for _ in range(4)]

    def proj():
        r = rnd.random()
        return rnd.choice(gone) if r < 0.15 else rnd.choice(live)

    def age():
        return rnd.randint(60, 86400 * 400)
    weights = {"users": 4, "servers": 10, "networks": 6, "subnets": 5, "routers": 4, "ports": 20, "floatingips": 6,
               "security_groups": 8, "volumes": 8, "images": 6, "server_groups": 3, "stacks": 3, "containers": 2,
               "keypairs": 2, "trunks": 1}
    kinds = list(weights)
    nets, subnets, routers, servers, ports = [], [], [], [], []
    for t in ["networks", "subnets", "routers", "servers", "ports"]:
        seed[t] = []
    order = sorted(rnd.choices(kinds, [weights[k] for k in kinds], k=count),
                   key=lambda t: ["networks", "subnets", "routers", "servers", "ports"].index(t)
                   if t in ("networks", "subnets", "routers", "servers", "ports") else 9)
    for t in order:
        r = {"id": rid(), "name": name(), "project": proj(), "_age": age()}
        if t == "users":
            r = {"id": hexid(), "name": r["name"] or "u", "project": rnd.choice([proj(), None])}
            if r["project"] is None:
                del r["project"]
        elif t == "networks":
            x = rnd.random()
            if x < 0.1:
                r["shared"] = True
            elif x < 0.2:
                r["router:external"] = True
            nets.append(r["id"])
        elif t == "subnets":
            if not nets:
                continue
            r["network_id"] = rnd.choice(nets)
            subnets.append((r["id"], r["network_id"]))
        elif t == "routers":
            routers.append(r["id"])
        elif t == "servers":
            servers.append(r["id"])
        elif t == "ports":
            if not nets:
                continue
            x = rnd.random()
            if x < 0.25 and routers and subnets:
                sn, net = rnd.choice(subnets)
                r.update({"network_id": net, "device_owner": "network:router_interface", "device_id": rnd.choice(routers),
                          "fixed_ips": [{"subnet_id": sn, "ip_address": "10.0.0.1"}]})
                if rnd.random() < 0.6:
                    r["name"] = ""
            elif x < 0.5 and servers:
                r.update({"network_id": rnd.choice(nets), "device_owner": rnd.choice(["compute:nova", "compute:az1"]),
                          "device_id": rnd.choice(servers)})
                if rnd.random() < 0.6:
                    r["name"] = ""
            elif x < 0.6:
                r.update({"network_id": rnd.choice(nets), "device_owner": rnd.choice(
                    ["network:dhcp", "network:router_gateway", "network:floatingip"]), "device_id": rid()})
            else:
                r["network_id"] = rnd.choice(nets)
            ports.append(r["id"])
        elif t == "floatingips":
            r["description"] = r.pop("name")
            if ports and rnd.random() < 0.7:
                r["port_id"] = rnd.choice(ports)
        elif t == "stacks":
            r["stack_name"] = r.pop("name") or "st"
        elif t == "containers":
            r = {"name": (r["name"] or "c").replace("/", "_").strip() or "c", "project": "admin",
                 "objects": ["o%d" % i for i in range(rnd.randint(0, 2))], "_age": age()}
        elif t == "keypairs":
            users = [u["id"] for u in seed["users"] if "id" in u]
            r = {"name": (r["name"] or "k").replace("/", "_").strip() or "k", "_age": age(),
                 "user": rnd.choice(users) if users and rnd.random() < 0.5 else "admin"}
        elif t == "trunks":
            if not ports:
                continue
            r["port_id"] = rnd.choice(ports)
        seed.setdefault(t, []).append(r)
    # containers and keypairs are addressed by name: keep the names unique
    for t in ("containers", "keypairs"):
        seen, keep = set(), []
        for r in seed.get(t, []):
            if r["name"] not in seen:
                seen.add(r["name"])
                keep.append(r)
        seed[t] = keep
    return seed


def sanitizer(err):
    """an ASan/UBSan report (make check-asan): its exit status 1 would pass for 'orphans found'"""
    return "Sanitizer" in err or "runtime error:" in err


def start_sim(seed_path):
    p = subprocess.Popen([sys.executable, os.path.join(SRC, "tests/sim/openstack.py"), "--seed", seed_path,
                          "--max-seconds", "600", "--async-delay", "0.05"],
                         stdout=subprocess.PIPE, stderr=open(os.path.join(TMP, "sim.err"), "w"), text=True)
    line = p.stdout.readline()
    if not line.startswith("READY "):
        raise SystemExit("simulator did not start: " + line)
    return p, line.split()[1]


def get(url):
    with urllib.request.urlopen(url, timeout=60) as r:
        return json.load(r)


NEUTRON = {"networks": "networks", "subnets": "subnets", "ports": "ports", "routers": "routers",
           "floatingips": "floatingips", "security-groups": "security_groups", "trunks": "trunks"}


def target(method, path, body=None):
    """(type, id) a mutating request is about, from the simulator's request log."""
    p = [urllib.parse.unquote(x) for x in path.split("?")[0].split("/") if x]
    svc = p[0]
    if svc == "network" and p[-1] == "remove_router_interface":
        return ("ports", (body or {}).get("port_id"))
    if svc == "network" and len(p) >= 4:
        return (NEUTRON.get(p[2], p[2]), p[3])
    if svc == "compute" and len(p) >= 4:
        return ({"servers": "servers", "os-keypairs": "keypairs", "os-server-groups": "server_groups"}.get(p[2], p[2]), p[3])
    if svc == "volume" and len(p) >= 5:
        return (p[3], p[4])
    if svc == "image" and len(p) >= 4:
        return ("images", p[3])
    if svc == "object" and len(p) >= 4:
        return ("containers", p[3])
    if svc == "orchestration" and len(p) >= 5:
        return ("stacks", p[-1])
    if svc == "identity" and len(p) >= 4:
        return (p[2], p[3])
    return ("?", path)


SERVICE_OF = {"projects": "identity", "users": "identity", "servers": "compute", "keypairs": "compute",
              "server_groups": "compute", "floatingips": "network", "trunks": "network", "routers": "network",
              "ports": "network", "subnets": "network", "networks": "network", "security_groups": "network",
              "snapshots": "block-storage", "backups": "block-storage", "volumes": "block-storage", "images": "image",
              "containers": "object-store", "stacks": "orchestration"}


def hostile(orphans, db):
    """The report as a hostile hand edits it."""
    out = []
    ids = {t: [r.get("id") if t not in ("containers", "keypairs") else r.get("name") for r in rs] for t, rs in db.items()}
    alltypes = [t for t in ids if ids[t]]
    users = [u["id"] for u in db.get("users", [])]
    for o in orphans:
        o = dict(o)
        for _ in range(rnd.choice([0, 0, 1, 1, 2, 3])):
            e = rnd.randrange(10)
            if e == 0:
                o["reason"] = rnd.choice(["name", "owner", "attached", "dead-owner"])
            elif e == 1:
                o["name"] = rnd.choice([rally_name(), near_miss(), ""])
            elif e == 2:
                o["kind"] = rnd.choice(["scenario", "context"])
            elif e == 3:   # an id of another resource of the same type
                if ids.get(o["type"]):
                    o["id"] = rnd.choice(ids[o["type"]])
            elif e == 4:   # an id of a resource of another type
                t = rnd.choice(alltypes)
                o["id"] = rnd.choice(ids[t])
            elif e == 5:   # service and type swapped, id kept
                t = rnd.choice(list(SERVICE_OF))
                o["type"], o["service"] = t, SERVICE_OF[t]
            elif e == 6:
                o["project"] = rnd.choice([hexid(), None])
            elif e == 7:
                o["parent"] = rid()
                o["reason"] = "attached"
            elif e == 8 and users:   # a keypair of someone else (keypairs are addressed by name + user)
                o["user_id"] = rnd.choice(users)
            else:
                o["reason"] = rnd.choice(["owner", "dead-owner"])
        out.append(o)
    # unrelated resources, claimed as orphans
    kp_user = {k["name"]: k["user_id"] for k in db.get("keypairs", [])}
    for _ in range(max(20, len(orphans) // 2)):
        t = rnd.choice(alltypes)
        if t not in SERVICE_OF:
            continue
        o = {"service": SERVICE_OF[t], "type": t, "id": rnd.choice(ids[t]), "name": rally_name(),
             "reason": rnd.choice(["name", "owner", "attached", "dead-owner"]),
             "kind": rnd.choice(["scenario", "context"]), "parent": rid()}
        if t == "keypairs":
            o["user_id"] = kp_user.get(o["id"])
        out.append(o)
    rnd.shuffle(out)
    return {"tool": "osmon-orphans", "data": {"orphans": out}}


def main():
    seed = make_seed(COUNT)
    seed_path = os.path.join(TMP, "property-seed.json")
    with open(seed_path, "w") as f:
        json.dump(seed, f)
    print("# seed %d, %d resources requested" % (SEED, COUNT))
    sim, url = start_sim(seed_path)
    env = dict(os.environ, OS_AUTH_URL=url + "/identity/v3", OS_USERNAME="admin", OS_PASSWORD="secret",
               OS_PROJECT_NAME="admin", OS_USER_DOMAIN_NAME="Default", OS_PROJECT_DOMAIN_NAME="Default")
    for k in ("OS_CLOUD", "OS_TOKEN", "OS_AUTH_TYPE", "OS_REGION_NAME"):
        env.pop(k, None)
    try:
        t0 = time.time()
        d = subprocess.run([os.path.join(BIN, "osmon-orphans"), "-f", "json", "--no-narrow"], env=env, capture_output=True, text=True,
                           timeout=120)
        try:
            disc = json.loads(d.stdout)["data"]
        except ValueError:
            disc = None
        tap(d.returncode in (0, 1) and disc is not None and not disc["not_queried"] and not sanitizer(d.stderr),
            "osmon-orphans on %d random resources: every type queried (exit %d)" % (COUNT, d.returncode), d.stderr)
        if disc is None:
            return
        D = {(o["type"], o["id"]) for o in disc["orphans"]}
        db = get(url + "/_sim/db")
        total = sum(len(v) for v in db.values())
        print("# %d resources, %d reported by discovery (%.1f s)" % (total, len(D), time.time() - t0))
        doc = hostile(disc["orphans"], db)
        from_path = os.path.join(TMP, "hostile.json")
        with open(from_path, "w") as f:
            json.dump(doc, f)
        nreq = len(get(url + "/_sim/requests"))
        t0 = time.time()
        p = subprocess.run([os.path.join(BIN, "osmon-purge"), "-f", "json", "--confirm", "--from", from_path,
                            "--retries", "1", "--wait-timeout", "20s", "--lock-file", os.path.join(TMP, "lock")],
                           env=env, capture_output=True, text=True, timeout=300)
        try:
            res = json.loads(p.stdout)["data"]
        except (ValueError, KeyError):
            res = None
        tap(p.returncode in (0, 1) and res is not None and not sanitizer(p.stderr),
            "osmon-purge --confirm --from (%d hand-edited entries) ran: exit %d in %.1f s" %
            (len(doc["data"]["orphans"]), p.returncode, time.time() - t0), p.stderr[-3000:])
        reqs = get(url + "/_sim/requests")[nreq:]
        after = get(url + "/_sim/db")

        # 1. every mutation targets D
        bad = []
        muts = [r for r in reqs if r["method"] in ("DELETE", "PUT", "POST", "PATCH") and r["service"] != "identity"
                or (r["service"] == "identity" and r["method"] == "DELETE")]
        for r in muts:
            t = target(r["method"], r["path"], r.get("body"))
            if r["path"].endswith("/remove_router_interface") and ("routers", r["path"].split("/")[-2]) in D:
                continue  # a router of D is emptied before its DELETE
            if t not in D:
                bad.append("%s %s -> %s/%s not reported by discovery" % (r["method"], r["path"], t[0], t[1]))
        tap(not bad, "every DELETE/PUT of the purge (%d) targets what discovery reported" % len(muts), "\n".join(bad))

        # 2. what is not in D survives, unless it went with a deleted member of D
        def key(t, r):
            return r.get("name") if t in ("containers", "keypairs") else r.get("id")
        before_ids = {(t, key(t, r)): r for t, rs in db.items() for r in rs}
        after_ids = {(t, key(t, r)) for t, rs in after.items() for r in rs}
        gone = set(before_ids) - after_ids
        gone_d = {x for x in gone if x in D}
        dead = {i for (t, i) in gone_d}
        bad = []
        for (t, i) in sorted(gone - D):
            r = before_ids[(t, i)]
            if t == "ports" and (r.get("device_id") in dead or r.get("network_id") in dead):
                continue
            if t == "subnets" and r.get("network_id") in dead:
                continue
            bad.append("%s %s (%r) is gone but discovery did not report it" % (t, i, r.get("name") or r.get("description")))
        tap(not bad, "nothing outside D is gone (%d gone, %d of them in D)" % (len(gone), len(gone_d)), "\n".join(bad))
        if res is None:
            return

        # 3. every planned item has a result; skips say why
        entries = {(o["type"], o["id"]) for o in doc["data"]["orphans"]}
        plan = res["plan"]
        bad = []
        if len(plan) != len(entries):
            bad.append("%d planned for %d distinct entries" % (len(plan), len(entries)))
        for it in plan:
            if it["result"] not in ("deleted", "gone", "failed", "skipped", "detached"):
                bad.append("%s %s: result %s" % (it["type"], it["id"], it["result"]))
            if it["result"] == "skipped" and (it.get("skip_reason") not in ("not-orphan", "young", "changed", "attached")
                                               or not it.get("message")):
                bad.append("%s %s: skipped without skip_reason/message: %s" % (it["type"], it["id"], it))
            if it["result"] == "failed" and not it.get("message"):
                bad.append("%s %s: failed without a message" % (it["type"], it["id"]))
        c = res["counts"]
        if sum(c[k] for k in ("deleted", "gone", "failed", "skipped", "detached")) != c["planned"]:
            bad.append("counts do not add up: %s" % c)
        tap(not bad, "every one of %d planned items has a result, every skip a reason (%s)" %
            (len(plan), ", ".join("%s %d" % (k, c[k]) for k in sorted(c))), "\n".join(bad))

        # 4. what it says it deleted or detached was reported by discovery
        bad = ["%s %s %s" % (it["result"], it["type"], it["id"]) for it in plan
               if it["result"] in ("deleted", "detached") and (it["type"], it["id"]) not in D]
        tap(not bad, "everything reported deleted or detached is in D", "\n".join(bad))
    finally:
        sim.terminate()
        sim.wait()


if __name__ == "__main__":
    import urllib.parse  # noqa: E402 (used by target)
    main()
    print("1..%d" % n_test)
    sys.exit(1 if failed else 0)
