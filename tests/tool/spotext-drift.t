#!/usr/bin/python3
"""spotext-drift.t - the spot-agg simulators cannot drift from the published API shapes.

Runs the C clients (tests/tools/spotext-probe: infra_netbox, infra_hyperstack_gpus,
infra_runpod_gpus) against tests/sim/{netbox,hyperstack,runpod}.py, replays every request the
clients made, and validates what the simulators answered against the schemas kept in
tests/schemas/spot/ (written for infrakit from the published documents; README.md there names
what each was checked against, at which commit, and what is unverified):
  - netbox-devices.schema.json (JSON Schema 2020-12): DeviceList / Device / Brief* / the 403
    body; `required` narrowed to the fields a request selects (fields=, exclude=config_context)
  - hyperstack-vms.schema.json (JSON Schema 2020-12): Instances, FlavorListResponse,
    ErrorResponseModel
  - runpod-pods.graphql (SDL): the client's GraphQL document (INFRA_RUNPOD_QUERY in
    lib/infra_gpucloud.h) validated with graphql-core; the simulator's answers type-checked
    against the SDL along the query's selections; every type and field of the simulator's own
    table must be in the SDL
Every object is closed (a field the schema does not know is an error).  Each validator is shown a
broken document it must reject, so a validator that accepts everything fails this test.
A missing python3-jsonschema / python3-graphql-core (scripts/spot.packages) or schema file is a
failure, not a skip.
"""
import copy
import importlib.util
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

SRC = os.environ.get("INFRA_SRCDIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
BUILD = os.environ.get("BUILD", "build")
TMP = os.environ.get("INFRA_TMP") or "/tmp"
PROBE = os.path.join(SRC, BUILD, "tests/tools/spotext-probe")
SCHEMAS = os.path.join(SRC, "tests/schemas/spot")
n = 0
failed = 0
procs = []

try:
    import jsonschema
except ImportError:
    jsonschema = None
try:
    import graphql
except ImportError:
    graphql = None


def ok(cond, what, diag=None):
    global n, failed
    n += 1
    print("%sok %d - %s" % ("" if cond else "not ", n, what), flush=True)
    if not cond:
        failed += 1
        if diag:
            for line in str(diag).splitlines()[:15]:
                print("# " + line)
    return cond


def load(name, parse):
    path = os.path.join(SCHEMAS, name)
    if not ok(os.path.isfile(path), "tests/schemas/spot/%s exists" % name):
        return None
    with open(path) as f:
        return parse(f.read())


def start(script, world):
    path = os.path.join(TMP, script + ".world.json")
    with open(path, "w") as f:
        json.dump(world, f)
    p = subprocess.Popen([sys.executable, os.path.join(SRC, "tests/sim", script), "--world", path,
                          "--max-seconds", "120"], stdout=subprocess.PIPE, text=True)
    procs.append(p)
    line = p.stdout.readline().strip()
    if not line.startswith("READY "):
        raise SystemExit("Bail out! %s did not start: %r" % (script, line))
    return line[6:]


def http(method, url, headers=None, body=None):
    req = urllib.request.Request(url, method=method, headers=headers or {},
                                 data=json.dumps(body).encode() if body is not None else None)
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, json.loads(r.read().decode())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read().decode())


def probe(*args, token):
    env = dict(os.environ, SPOTEXT_TOKEN=token)
    r = subprocess.run([PROBE] + list(args), capture_output=True, text=True, env=env, timeout=60)
    return r.returncode, r.stdout, r.stderr


def validator(doc, name, patch=None):
    defs = copy.deepcopy(doc["$defs"])
    if patch:
        patch(defs)
    return jsonschema.Draft202012Validator({"$ref": "#/$defs/" + name, "$defs": defs})


def leaves(err):
    """The errors under an anyOf [null, X] are those of X: report them, not the anyOf."""
    sub = [c for c in (err.context or []) if not (c.validator == "type" and c.validator_value == "null")]
    return [leaf for c in sub for leaf in leaves(c)] if sub else [err]


def errors_of(v, inst):
    return sorted(("/".join(map(str, e.absolute_path)) + ": " + e.message)
                  for top in v.iter_errors(inst) for e in leaves(top))


def rejects(errs, expect):
    """Each (path, word) of a negative control must be reported at that path."""
    missing = [(p, w) for p, w in expect if not any(e.startswith(p + ":") and w in e for e in errs)]
    return not missing, {"missed": missing, "errors": errs}


def has_commit(src, repo):
    return src.get("repository") == repo and bool(re.fullmatch(r"[0-9a-f]{40}", src.get("commit", "")))


# ---------------------------------------------------------------- NetBox
def netbox_world():
    devs = []
    for i in range(1, 31):
        devs.append({"name": "gpu-%03d" % i, "site": "ams1" if i % 2 else "fra2",
                     "rack": None if i % 4 == 0 else "r%02d" % (i % 6),
                     "tenant": None if i % 3 == 0 else "research", "owner": None if i % 5 == 0 else "team-a",
                     "status": ["active", "offline", "planned", "failed"][i % 4],
                     "custom_fields": {"billing": "ml" if i % 2 else None}})
    return {"netbox": {"tokens_v1": ["0123456789abcdef0123456789abcdef01234567"],
                       "tokens_v2": ["nbt_abcDEF123.v2secret"], "page_size": 50, "max_page_size": 10,
                       "devices": devs}}


def device_list_validator(doc, fields=None, drop=()):
    def narrow(defs):
        req = [f for f in defs["Device"]["required"] if f not in drop]
        if fields is not None:
            req = [f for f in req if f in fields]
        defs["Device"]["required"] = req
    return validator(doc, "DeviceList", narrow)


def test_netbox():
    doc = load("netbox-devices.schema.json", json.loads)
    if doc is None:
        return
    ok(has_commit(doc.get("x-source", {}), "netbox-community/netbox"),
       "NetBox schema names its source repository and commit")
    base = start("netbox.py", netbox_world())
    v1, v2 = "0123456789abcdef0123456789abcdef01234567", "nbt_abcDEF123.v2secret"
    names = ["gpu-%03d" % i for i in range(1, 31)] + ["absent-1"]
    for form, token in (("v1", v1), ("v2", v2)):
        for tf in ("tenant", "owner", "cf:billing"):
            rc, out, err = probe("netbox", base, "--batch", "12", "--tenant-field", tf, *names, token=token)
            ok(rc == 0 and len(json.loads(out)["devices"]) == 30,
               "infra_netbox (%s token, tenant field %s) reads all 30 devices through the simulator" % (form, tf), err)
    upper = [nm.upper() + ".dc1.example.org" for nm in names]
    rc, out, err = probe("netbox", base, "--by-host", "--batch", "12", *upper, token=v1)
    ok(rc == 0 and len(json.loads(out)["devices"]) == 30,
       "infra_netbox matching by host (name__ie=, name__isw=) finds the 30 devices from upper-case FQDNs", err)
    status, log = http("GET", base + "/_sim/requests")
    dev_reqs = [e for e in log if e["path"] == "/api/dcim/devices/"]
    ok(len(dev_reqs) >= 30 and any("name__isw" in e["query"] for e in dev_reqs),
       "the clients made %d device-list requests (batches and next pages)" % len(dev_reqs))
    auth = doc["x-auth"]
    ok({e["auth"] for e in dev_reqs} == {auth["v1"], auth["v2"]} and v2.startswith(auth["v2_prefix"]),
       "both Authorization header forms NetBox documents were used (%s <token>, %s %s<key>.<token>)"
       % (auth["v1"], auth["v2"], auth["v2_prefix"]), [e["auth"] for e in dev_reqs])
    hdr = {auth["v1"]: "%s %s" % (auth["v1"], v1), auth["v2"]: "%s %s" % (auth["v2"], v2)}
    bad, checked = [], 0
    for e in dev_reqs:
        status, body = http("GET", base + e["path"] + "?" + e["query"], {auth["header"]: hdr[e["auth"]]})
        q = dict(urllib.parse.parse_qsl(e["query"]))
        fields = q["fields"].split(",") if "fields" in q else None
        drop = ("config_context",) if "config_context" in q.get("exclude", "") else ()
        errs = errors_of(device_list_validator(doc, fields, drop), body) if status == 200 else ["HTTP %d" % status]
        extra = [k for r in body.get("results", []) for k in r if fields is not None and k not in fields]
        if errs or extra:
            bad.append((e["query"][:80], errs[:3], extra[:3]))
        checked += 1
    ok(checked and not bad, "every page the clients got is a valid DeviceList of Device (%d pages; required "
       "narrowed to fields=, nothing but the selected fields served)" % checked, bad)
    full_v = device_list_validator(doc)
    status, body = http("GET", base + "/api/dcim/devices/?limit=50", {"Authorization": hdr["Token"]})
    ok(status == 200 and len(body["results"]) == 10 and body["count"] == 30 and not errors_of(full_v, body),
       "full device objects (no fields=, config_context rendered) validate against Device with all its required fields",
       errors_of(full_v, body)[:5])
    status, body2 = http("GET", base + "/api/dcim/devices/?limit=5&offset=5", {"Authorization": hdr["Bearer"]})
    ok(status == 200 and body2["previous"] and body2["next"] and not errors_of(full_v, body2),
       "a middle page carries next and previous URLs and validates", errors_of(full_v, body2)[:5])
    broken = copy.deepcopy(body)
    broken["results"][0]["status"] = {"value": "up", "label": "Up"}
    del broken["results"][1]["site"]
    broken["results"][2]["rack"] = {"name": "r1"}
    broken["results"][3]["tenat"] = None
    broken["results"][4]["device_type"]["device_count"] = "1"
    good, diag = rejects(errors_of(full_v, broken), [
        ("results/0/status/value", "'up'"), ("results/1", "'site'"), ("results/2/rack", "'id'"),
        ("results/3", "'tenat'"), ("results/4/device_type/device_count", "'1'")])
    ok(good, "the validator rejects a drifted device (unknown status, missing site, rack without "
       "id/url/display, a misspelt field, a count as text), each where it is", diag)
    err_v = validator(doc, "ErrorDetail")
    status, body = http("GET", base + "/api/dcim/devices/")
    ok(status == 403 and not errors_of(err_v, body) and body["detail"] == "Authentication credentials were not provided.",
       "no token: 403 {\"detail\": ...} as NetBox documents it", body)
    status, body = http("GET", base + "/api/dcim/devices/", {"Authorization": "Token " + v2})
    ok(status == 403 and not errors_of(err_v, body), "a v2 token with the v1 keyword: 403 with a detail body", body)
    good, diag = rejects(errors_of(err_v, {"detail": 403, "code": "x"}), [("detail", "403"), ("", "'code'")])
    ok(good, "the 403 body validator rejects a drifted body (detail as a number, an unknown field)", diag)


# ---------------------------------------------------------------- Hyperstack
def hyperstack_world():
    vms = []
    for i in range(57):
        kind = i % 6
        vms.append({"gpu": ["H100-80G-PCIe", "L40", "A100-80G-PCIe", "", "H100-80G-PCIe", "L40"][kind],
                    "gpu_count": [8, 1, 4, 0, 8, 2][kind],
                    "status": ["ACTIVE", "ACTIVE", "SHUTOFF", "ACTIVE", "HIBERNATED", "BUILD"][kind],
                    "region": "CANADA-1" if i % 2 else "NORWAY-1"})
    return {"hyperstack": {"api_key": "hs-drift-key", "vms": vms}}


def test_hyperstack():
    doc = load("hyperstack-vms.schema.json", json.loads)
    if doc is None:
        return
    src = doc.get("x-source", {})
    ok(has_commit(src, "NexGenCloud/hyperstack-sdk-python") and src.get("openapi-document") == "not found",
       "Hyperstack schema names its source and commit, and that the OpenAPI document was not found")
    key_hdr = doc["x-auth"]["header"]
    base = start("hyperstack.py", hyperstack_world())
    rc, out, err = probe("hyperstack", base + "/v1", token="hs-drift-key")
    ok(rc == 0 and json.loads(out), "infra_hyperstack_gpus reads the simulator", err)
    status, log = http("GET", base + "/_sim/requests")
    reqs = [e for e in log if e["path"] == "/v1/core/virtual-machines"]
    ok(len(reqs) >= 2 and all(e["auth"] == key_hdr for e in reqs),
       "%d pages asked, with the %s header the SDK sends" % (len(reqs), key_hdr))
    inst_v = validator(doc, "Instances")
    bad = []
    for e in reqs:
        status, body = http("GET", base + e["path"] + "?" + e["query"], {key_hdr: "hs-drift-key"})
        errs = errors_of(inst_v, body)
        if status != 200 or errs or not isinstance(body.get("instances"), list):
            bad.append((e["query"], status, errs[:3]))
    ok(reqs and not bad, "every VM page the client got validates as Instances (InstanceFields, "
       "InstanceFlavorFields, InstanceEnvironmentFields, EnvironmentFeatures)", bad)
    status, body = http("GET", base + "/v1/core/virtual-machines?page=1&pageSize=5", {key_hdr: "hs-drift-key"})
    broken = copy.deepcopy(body)
    broken["instances"][0]["flavor"]["gpu_count"] = "8"
    broken["instances"][1]["gpus"] = 3
    broken["instances"][2]["environment"]["features"]["green_status"] = "GREENISH"
    broken["status"] = "true"
    good, diag = rejects(errors_of(inst_v, broken), [
        ("instances/0/flavor/gpu_count", "'8'"), ("instances/1", "'gpus'"),
        ("instances/2/environment/features/green_status", "GREENISH"), ("status", "'true'")])
    ok(good, "the validator rejects a drifted VM page (gpu_count as text, an unknown field, an unknown "
       "green_status, status as text), each where it is", diag)
    fl_v = validator(doc, "FlavorListResponse")
    status, body = http("GET", base + "/v1/core/flavors", {key_hdr: "hs-drift-key"})
    ok(status == 200 and body.get("data") and not errors_of(fl_v, body), "flavors validate as FlavorListResponse",
       errors_of(fl_v, body)[:3])
    broken = copy.deepcopy(body)
    broken["data"][0]["flavors"][0]["ram"] = "16GB"
    broken["data"][0]["region"] = "CANADA-1"
    good, diag = rejects(errors_of(fl_v, broken), [("data/0/flavors/0/ram", "16GB"), ("data/0", "'region'")])
    ok(good, "the flavor validator rejects a drifted list (ram as text, an unknown field)", diag)
    er_v = validator(doc, "ErrorResponseModel")
    status, body = http("GET", base + "/v1/core/virtual-machines", {key_hdr: "wrong"})
    ok(status == 401 and not errors_of(er_v, body) and body.get("status") is False,
       "a wrong key: 401 with an ErrorResponseModel body", body)
    good, diag = rejects(errors_of(er_v, {"status": 0, "error": "x"}), [("status", "0"), ("", "'error'")])
    ok(good, "the error validator rejects a drifted body (status as a number, an unknown field)", diag)


# ---------------------------------------------------------------- RunPod
def runpod_world():
    pods = [{"gpuCount": g, "gpuDisplayName": t, "desiredStatus": s}
            for g, t, s in [(2, "H100 80GB HBM3", "RUNNING"), (1, "RTX A6000", "EXITED"), (0, None, "RUNNING"),
                            (3, None, "RUNNING"), (8, "H200 SXM", "TERMINATED")]]
    return {"runpod": {"api_key": "rp-drift-key", "pods": pods}}


def client_query():
    with open(os.path.join(SRC, "lib/infra_gpucloud.h")) as f:
        text = f.read()
    m = re.search(r'#define INFRA_RUNPOD_QUERY\s*\\?\s*"((?:[^"\\]|\\.)*)"', text)
    return m.group(1) if m else None


# graphql-core 2 (Debian's python3-graphql-core) and 3 differ in a few names
def build_schema(sdl):
    if hasattr(graphql, "build_schema"):
        return graphql.build_schema(sdl)
    return graphql.build_ast_schema(graphql.parse(sdl))


def query_type(schema):
    return schema.query_type if hasattr(schema, "query_type") else schema.get_query_type()


def type_map(schema):
    return schema.type_map if hasattr(schema, "type_map") else schema.get_type_map()


def enum_names(t):
    return [v.name for v in t.values] if isinstance(t.values, list) else list(t.values)


def named(t):
    while hasattr(t, "of_type"):
        t = t.of_type
    return t


def check_value(gtype, value, selection, path, errs):
    """Type-check a response value against an SDL type along the query's selections."""
    if isinstance(gtype, graphql.GraphQLNonNull):
        if value is None:
            errs.append("%s: null for a non-null %s" % (path, gtype))
            return
        return check_value(gtype.of_type, value, selection, path, errs)
    if value is None:
        return
    if isinstance(gtype, graphql.GraphQLList):
        if not isinstance(value, list):
            errs.append("%s: not a list" % path)
            return
        for i, v in enumerate(value):
            check_value(gtype.of_type, v, selection, "%s[%d]" % (path, i), errs)
        return
    if isinstance(gtype, graphql.GraphQLEnumType):
        if value not in enum_names(gtype):
            errs.append("%s: %r not in %s" % (path, value, gtype.name))
        return
    if isinstance(gtype, graphql.GraphQLScalarType):
        want = {"String": str, "ID": str, "Int": int, "Float": (int, float), "Boolean": bool}[gtype.name]
        if not isinstance(value, want) or (gtype.name in ("Int", "Float") and isinstance(value, bool)):
            errs.append("%s: %r is not %s" % (path, value, gtype.name))
        return
    if not isinstance(value, dict):
        errs.append("%s: not an object" % path)
        return
    asked = [s.name.value for s in selection.selections]
    for sel in selection.selections:
        key = sel.name.value
        if key not in value:
            errs.append("%s.%s: missing" % (path, key))
        elif key not in gtype.fields:
            errs.append("%s.%s: not in %s" % (path, key, gtype.name))
        else:
            check_value(gtype.fields[key].type, value[key], sel.selection_set, path + "." + key, errs)
    for key in value:
        if key not in asked:
            errs.append("%s.%s: not asked for" % (path, key))


def full_query(schema):
    """A document selecting every field of the SDL (types reached from Query)."""
    def sel(t, depth):
        parts = []
        for name, f in t.fields.items():
            inner = named(f.type)
            if isinstance(inner, graphql.GraphQLObjectType):
                if depth < 4:
                    parts.append("%s { %s }" % (name, sel(inner, depth + 1)))
            else:
                parts.append(name)
        return " ".join(parts)
    return "query everything { %s }" % sel(query_type(schema), 0)


def type_check(schema, q, data):
    doc = graphql.parse(q)
    errs = []
    check_value(query_type(schema), data, doc.definitions[0].selection_set, "data", errs)
    return errs


def sim_table():
    sys.path.insert(0, os.path.join(SRC, "tests/sim"))
    spec = importlib.util.spec_from_file_location("runpod_sim", os.path.join(SRC, "tests/sim/runpod.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.SCHEMA


def test_runpod():
    sdl = load("runpod-pods.graphql", str)
    if sdl is None:
        return
    ok("runpod/runpod-python@07fc6e2b02b6a97a0e94fbdcf53c66949c1a6164" in sdl and "NOT the official schema" in sdl
       and "UNVERIFIED" in sdl, "RunPod SDL names its sources, says it is not the official schema and what is unverified")
    schema = build_schema(sdl)
    q = client_query()
    doc = graphql.parse(q) if q else None
    errs = graphql.validate(schema, doc) if doc else ["no INFRA_RUNPOD_QUERY in lib/infra_gpucloud.h"]
    ok(q and not errs, "the client's GraphQL document validates against the SDL (graphql-core %s)" %
       getattr(graphql, "__version__", "?"), errs)
    ok(q and len(graphql.validate(schema, graphql.parse(q.replace("gpuCount", "gpuCnt")))) >= 1,
       "graphql-core rejects a document with a field the SDL lacks")
    table = sim_table()
    missing = ["%s.%s" % (t, f) for t, fs in table.items() for f in fs
               if t not in type_map(schema) or f not in getattr(type_map(schema)[t], "fields", {})]
    ok(not missing, "every type and field of the simulator's table (tests/sim/runpod.py SCHEMA) is in the SDL", missing)
    base = start("runpod.py", runpod_world())
    rc, out, err = probe("runpod", base + "/graphql", token="rp-drift-key")
    ok(rc == 0, "infra_runpod_gpus reads the simulator", err)
    status, log = http("GET", base + "/_sim/requests")
    ok([e["auth"] for e in log if e["path"] == "/graphql"] == ["Bearer"], "the client sent one request, with a Bearer key")
    hdr = {"Authorization": "Bearer rp-drift-key", "Content-Type": "application/json"}
    status, body = http("POST", base + "/graphql", hdr, {"query": q})
    terrs = type_check(schema, q, body.get("data"))
    ok(status == 200 and "errors" not in body and not terrs and body["data"]["myself"]["pods"],
       "the simulator's answer to the client's query type-checks against the SDL", terrs)
    broken = copy.deepcopy(body)
    broken["data"]["myself"]["pods"][0]["desiredStatus"] = "STARTING"
    broken["data"]["myself"]["pods"][1]["gpuCount"] = None
    broken["data"]["myself"]["pods"][2]["gpuCount"] = "1"
    terrs = type_check(schema, q, broken["data"])
    good, diag = rejects(terrs, [("data.myself.pods[0].desiredStatus", "STARTING"),
                                 ("data.myself.pods[1].gpuCount", "null"), ("data.myself.pods[2].gpuCount", "'1'")])
    ok(good and len(terrs) == 3, "the checker rejects a drifted answer (an unknown PodStatus, a null gpuCount, "
       "a count as text), each where it is", diag)
    fq = full_query(schema)
    status, body = http("POST", base + "/graphql", hdr, {"query": fq})
    terrs = type_check(schema, fq, body.get("data")) if "data" in body else [body]
    ok(status == 200 and not graphql.validate(schema, graphql.parse(fq)) and "errors" not in body and not terrs,
       "every field of the SDL, asked at once, is served and type-checks", terrs)
    status, body = http("POST", base + "/graphql", hdr, {"query": "{ myself { pods { gpuCnt } } }"})
    ok(status == 200 and body.get("errors") and "data" not in body,
       "the simulator answers an unknown field like a GraphQL server: HTTP 200 with errors")


def main():
    have_js = ok(jsonschema is not None, "python3-jsonschema is installed (scripts/spot.packages)")
    have_gql = ok(graphql is not None and (hasattr(graphql, "build_schema") or hasattr(graphql, "build_ast_schema")),
                  "python3-graphql-core is installed (scripts/spot.packages)")
    if not ok(os.access(PROBE, os.X_OK), "%s is built (make unit-bins)" % PROBE):
        print("1..%d" % n)
        return 1
    try:
        if have_js:
            test_netbox()
            test_hyperstack()
        if have_gql:
            test_runpod()
    finally:
        for p in procs:
            p.terminate()
            p.wait()
    print("1..%d" % n)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
