#!/usr/bin/python3
"""spotext-drift.t - the simulators cannot drift from the published API shapes.

Runs the C clients (tests/tools/spotext-probe: infra_netbox, infra_hyperstack_gpus,
infra_runpod_gpus) against tests/sim/{netbox,hyperstack,runpod}.py, replays every request the
clients made, and validates what the simulators answered against the schema parts kept under
tests/schemas/spot/ (README.md there names source, path and commit):
  - NetBox: PaginatedDeviceList/Device/Brief* of contrib/openapi.json (OpenAPI 3.0 `nullable`
    turned into JSON Schema), with `required` narrowed to the fields a request selects
    (fields=, exclude=config_context); full objects too; the 403 body; the auth schemes
  - Hyperstack: Instances/InstanceFields/... JSON Schemas written from the SDK's generated models
  - RunPod: the client's GraphQL document (INFRA_RUNPOD_QUERY in lib/infra_gpucloud.h) validated
    against runpod-subset.graphql with graphql-core, and the response data type-checked
    against the same SDL along the query's selections
Each validator is also shown a broken document it must reject (a validator that accepts
everything would make this test pass for nothing).
Debian's /usr/bin/python3 with python3-jsonschema and python3-graphql-core (scripts/spot.packages).
"""
import copy
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request

import graphql
import jsonschema

SRC = os.environ.get("INFRA_SRCDIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
BUILD = os.environ.get("BUILD", "build")
TMP = os.environ.get("INFRA_TMP") or "/tmp"
PROBE = os.path.join(SRC, BUILD, "tests/tools/spotext-probe")
SCHEMAS = os.path.join(SRC, "tests/schemas/spot")
n = 0
failed = 0
procs = []


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


# ---- OpenAPI 3.0 -> JSON Schema (draft 4): nullable becomes anyOf [..., null] ----
def oas_to_js(node):
    if isinstance(node, list):
        return [oas_to_js(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: oas_to_js(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable"):
        return {"anyOf": [{"type": "null"}, out]}
    return out


def refs_in(node, acc):
    if isinstance(node, dict):
        if "$ref" in node:
            acc.add(node["$ref"].rsplit("/", 1)[1])
        for v in node.values():
            refs_in(v, acc)
    elif isinstance(node, list):
        for v in node:
            refs_in(v, acc)
    return acc


def netbox_validator(doc, required_fields=None, drop_required=()):
    d = copy.deepcopy(doc)
    dev = d["components"]["schemas"]["Device"]
    req = [f for f in dev["required"] if f not in drop_required]
    if required_fields is not None:
        req = [f for f in req if f in required_fields]
    dev["required"] = req
    comps = oas_to_js(d["components"])
    # schemas the subset does not keep: only null may stand there (anything else fails, loudly)
    for name in refs_in(comps, set()) - set(comps["schemas"]):
        comps["schemas"][name] = {"not": {}, "description": "not extracted (tests/schemas/spot/README.md)"}
    root = {"$ref": "#/components/schemas/PaginatedDeviceList", "components": comps}
    return jsonschema.Draft4Validator(root)


def errors_of(validator, inst):
    return sorted(("/".join(map(str, e.absolute_path)) + ": " + e.message) for e in validator.iter_errors(inst))


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


def test_netbox():
    doc = json.load(open(os.path.join(SCHEMAS, "netbox-openapi-subset.json")))
    src = doc.get("x-source", {})
    ok(src.get("repository") == "netbox-community/netbox" and re.fullmatch(r"[0-9a-f]{40}", src.get("commit", "")),
       "NetBox schema subset names its repository and commit")
    base = start("netbox.py", netbox_world())
    names = ["gpu-%03d" % i for i in range(1, 31)] + ["absent-1"]
    for form, token in (("v1", "0123456789abcdef0123456789abcdef01234567"), ("v2", "nbt_abcDEF123.v2secret")):
        for tf in ("tenant", "owner", "cf:billing"):
            rc, out, err = probe("netbox", base, "--batch", "12", "--tenant-field", tf, *names, token=token)
            ok(rc == 0 and len(json.loads(out)["devices"]) == 30,
               "infra_netbox (%s token, tenant field %s) reads all 30 devices through the simulator" % (form, tf), err)
    upper = [nm.upper() + ".dc1.example.org" for nm in names]
    rc, out, err = probe("netbox", base, "--by-host", "--batch", "12", *upper, token="0123456789abcdef0123456789abcdef01234567")
    ok(rc == 0 and len(json.loads(out)["devices"]) == 30,
       "infra_netbox matching by host (name__ie=, name__isw=) finds the 30 devices from upper-case FQDNs", err)
    status, log = http("GET", base + "/_sim/requests")
    dev_reqs = [e for e in log if e["path"] == "/api/dcim/devices/"]
    ok(len(dev_reqs) >= 6 * 4 + 6 and any("name__isw" in e["query"] for e in dev_reqs), "the clients made %d device-list requests (batches and next pages)" % len(dev_reqs))
    auth = {"Token": "Token 0123456789abcdef0123456789abcdef01234567", "Bearer": "Bearer nbt_abcDEF123.v2secret"}
    ok({e["auth"] for e in dev_reqs} == {"Token", "Bearer"},
       "both header forms of the published tokenAuth scheme were used",
       [e["auth"] for e in dev_reqs])
    scheme = doc["components"]["securitySchemes"]["tokenAuth"]
    ok(scheme["in"] == "header" and scheme["name"] == "Authorization" and "Token <token>" in scheme["description"]
       and "Bearer <key>.<token>" in scheme["description"],
       "the simulator's auth matches tokenAuth: Authorization header, `Token <token>` or `Bearer <key>.<token>`")
    bad, checked = [], 0
    for e in dev_reqs:
        status, body = http("GET", base + e["path"] + "?" + e["query"], {"Authorization": auth[e["auth"]]})
        q = dict(urllib.parse.parse_qsl(e["query"]))
        fields = q["fields"].split(",") if "fields" in q else None
        drop = ("config_context",) if "config_context" in q.get("exclude", "") else ()
        v = netbox_validator(doc, fields, drop)
        errs = errors_of(v, body) if status == 200 else ["HTTP %d" % status]
        extra = [k for r in body.get("results", []) for k in r if fields is not None and k not in fields]
        if errs or extra:
            bad.append((e["query"][:80], errs[:3], extra[:3]))
        checked += 1
    ok(checked and not bad, "every page the clients got is a valid PaginatedDeviceList of Device (%d pages; "
       "required narrowed to fields=, only selected fields served)" % checked, bad)
    full_v = netbox_validator(doc)
    status, body = http("GET", base + "/api/dcim/devices/?limit=50", {"Authorization": auth["Token"]})
    ok(status == 200 and len(body["results"]) == 10 and body["count"] == 30 and not errors_of(full_v, body),
       "full device objects (no fields=, config_context rendered) validate against Device with all its required fields",
       errors_of(full_v, body)[:5])
    status, body2 = http("GET", base + "/api/dcim/devices/?limit=5&offset=5", {"Authorization": auth["Bearer"]})
    ok(status == 200 and body2["previous"] and body2["next"] and not errors_of(full_v, body2),
       "a middle page carries next and previous URLs and validates")
    broken = copy.deepcopy(body)
    broken["results"][0]["status"] = {"value": "up", "label": "Up"}
    del broken["results"][1]["site"]
    broken["results"][2]["rack"] = {"name": "r1"}
    errs = errors_of(full_v, broken)
    ok(len(errs) >= 3, "the validator rejects a drifted device (unknown status, missing site, rack without id/url/display)",
       errs)
    status, body = http("GET", base + "/api/dcim/devices/")
    ok(status == 403 and set(body) == {"detail"} and body["detail"] == "Authentication credentials were not provided.",
       "no token: 403 {\"detail\": ...} as NetBox answers")
    status, body = http("GET", base + "/api/dcim/devices/", {"Authorization": "Token nbt_abcDEF123.v2secret"})
    ok(status == 403 and set(body) == {"detail"}, "a v2 token with the v1 keyword: 403")


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
    doc = json.load(open(os.path.join(SCHEMAS, "hyperstack-sdk-subset.json")))
    ok(doc["x-source"]["repository"] == "NexGenCloud/hyperstack-sdk-python" and "NOT the OpenAPI document" in doc["x-source"]["note"],
       "Hyperstack schema subset names its source and says it is not the OpenAPI document")

    def val(name):
        return jsonschema.Draft4Validator({"$ref": "#/definitions/" + name, "definitions": doc["definitions"]})
    base = start("hyperstack.py", hyperstack_world())
    rc, out, err = probe("hyperstack", base + "/v1", token="hs-drift-key")
    ok(rc == 0 and json.loads(out), "infra_hyperstack_gpus reads the simulator", err)
    status, log = http("GET", base + "/_sim/requests")
    reqs = [e for e in log if e["path"] == "/v1/core/virtual-machines"]
    ok(len(reqs) == 2 and all(e["auth"] == "api_key" for e in reqs), "two pages asked, with the api_key header")
    bad = []
    for e in reqs:
        status, body = http("GET", base + e["path"] + "?" + e["query"], {"api_key": "hs-drift-key"})
        errs = errors_of(val("Instances"), body)
        if status != 200 or errs:
            bad.append((e["query"], status, errs[:3]))
    ok(not bad, "every VM page validates as the SDK's Instances (InstanceFields, InstanceFlavorFields, ...)", bad)
    status, body = http("GET", base + "/v1/core/virtual-machines?page=1&pageSize=5", {"api_key": "hs-drift-key"})
    broken = copy.deepcopy(body)
    broken["instances"][0]["flavor"]["gpu_count"] = "8"
    broken["instances"][1]["gpus"] = 3
    ok(len(errors_of(val("Instances"), broken)) >= 2, "the validator rejects a drifted VM (gpu_count as text, an unknown field)")
    status, body = http("GET", base + "/v1/core/flavors", {"api_key": "hs-drift-key"})
    ok(status == 200 and not errors_of(val("FlavorListResponse"), body), "flavors validate as FlavorListResponse",
       errors_of(val("FlavorListResponse"), body)[:3])
    status, body = http("GET", base + "/v1/core/virtual-machines", {"api_key": "wrong"})
    ok(status == 401 and not errors_of(val("ErrorResponseModel"), body) and body["status"] is False,
       "a wrong key: 401 with an ErrorResponseModel body")


def runpod_world():
    pods = [{"gpuCount": g, "gpuDisplayName": t, "desiredStatus": s}
            for g, t, s in [(2, "H100 80GB HBM3", "RUNNING"), (1, "RTX A6000", "EXITED"), (0, None, "RUNNING"),
                            (3, None, "RUNNING"), (8, "H200 SXM", "TERMINATED")]]
    return {"runpod": {"api_key": "rp-drift-key", "pods": pods}}


def client_query():
    text = open(os.path.join(SRC, "lib/infra_gpucloud.h")).read()
    m = re.search(r'#define INFRA_RUNPOD_QUERY\s*\\?\s*"((?:[^"\\]|\\.)*)"', text)
    return m.group(1) if m else None


def build_schema(sdl):
    if hasattr(graphql, "build_schema"):
        return graphql.build_schema(sdl)
    return graphql.build_ast_schema(graphql.parse(sdl))


def unwrap(t):
    return t.of_type if hasattr(t, "of_type") else t


def check_value(schema, gtype, value, selection, path, errs):
    """Type-check a response value against an SDL type along the query's selections."""
    name = type(gtype).__name__
    if "NonNull" in name:
        if value is None:
            errs.append("%s: null for a non-null %s" % (path, gtype))
            return
        return check_value(schema, gtype.of_type, value, selection, path, errs)
    if value is None:
        return
    if "List" in name:
        if not isinstance(value, list):
            errs.append("%s: not a list" % path)
            return
        for i, v in enumerate(value):
            check_value(schema, gtype.of_type, v, selection, "%s[%d]" % (path, i), errs)
        return
    if "Enum" in name:
        names = [v.name for v in gtype.values] if isinstance(gtype.values, list) else list(gtype.values)
        if value not in names:
            errs.append("%s: %r not in %s" % (path, value, gtype.name))
        return
    if "Scalar" in name:
        want = {"String": str, "ID": str, "Int": int, "Float": (int, float), "Boolean": bool}[gtype.name]
        if not isinstance(value, want) or (gtype.name in ("Int", "Float") and isinstance(value, bool)):
            errs.append("%s: %r is not %s" % (path, value, gtype.name))
        return
    if not isinstance(value, dict):
        errs.append("%s: not an object" % path)
        return
    fields = gtype.fields
    for sel in selection.selections:
        key = sel.name.value
        if key not in value:
            errs.append("%s.%s: missing" % (path, key))
            continue
        check_value(schema, fields[key].type, value[key], sel.selection_set, path + "." + key, errs)
    for key in value:
        if key not in [s.name.value for s in selection.selections]:
            errs.append("%s.%s: not asked for" % (path, key))


def test_runpod():
    sdl = open(os.path.join(SCHEMAS, "runpod-subset.graphql")).read()
    ok("runpod/runpod-python@07fc6e2b02b6a97a0e94fbdcf53c66949c1a6164" in sdl and "NOT the official schema" in sdl,
       "RunPod SDL subset names its sources and says it is not the official schema")
    schema = build_schema(sdl)
    q = client_query()
    doc = graphql.parse(q) if q else None
    errs = graphql.validate(schema, doc) if doc else ["no INFRA_RUNPOD_QUERY in lib/infra_gpucloud.h"]
    ok(q and not errs, "the client's GraphQL document validates against the SDL (graphql-core %s)" %
       getattr(graphql, "__version__", "?"), errs)
    bad_doc = graphql.parse(q.replace("gpuCount", "gpuCnt"))
    ok(len(graphql.validate(schema, bad_doc)) >= 1, "graphql-core rejects a document with a field the SDL lacks")
    base = start("runpod.py", runpod_world())
    rc, out, err = probe("runpod", base + "/graphql", token="rp-drift-key")
    ok(rc == 0, "infra_runpod_gpus reads the simulator", err)
    status, body = http("POST", base + "/graphql", {"Authorization": "Bearer rp-drift-key",
                                                    "Content-Type": "application/json"}, {"query": q})
    op = doc.definitions[0]
    terrs = []
    check_value(schema, schema.get_query_type(), body.get("data"), op.selection_set, "data", terrs)
    ok(status == 200 and "errors" not in body and not terrs,
       "the simulator's answer to the client's query type-checks against the SDL", terrs)
    broken = copy.deepcopy(body)
    broken["data"]["myself"]["pods"][0]["desiredStatus"] = "STARTING"
    broken["data"]["myself"]["pods"][1]["gpuCount"] = None
    terrs = []
    check_value(schema, schema.get_query_type(), broken["data"], op.selection_set, "data", terrs)
    ok(len(terrs) == 2, "the checker rejects a drifted answer (an unknown PodStatus, a null gpuCount)", terrs)
    status, body = http("POST", base + "/graphql", {"Authorization": "Bearer rp-drift-key"},
                        {"query": "{ myself { pods { gpuCnt } } }"})
    ok(status == 200 and body.get("errors") and "data" not in body,
       "the simulator answers an unknown field like a GraphQL server: HTTP 200 with errors")


def main():
    if not os.access(PROBE, os.X_OK):
        print("Bail out! %s not built (make unit-bins)" % PROBE)
        return 1
    try:
        test_netbox()
        test_hyperstack()
        test_runpod()
    finally:
        for p in procs:
            p.terminate()
            p.wait()
    print("1..%d" % n)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
