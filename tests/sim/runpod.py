#!/usr/bin/env python3
"""Stateful RunPod GraphQL API simulator for spot-agg; Python 3 stdlib only.

    runpod.py [--world FILE] [--latency-ms MS] [--fault SPEC]... [--max-seconds S]

Prints `READY http://127.0.0.1:PORT` first; the endpoint is that URL + "/graphql".
Options, faults and the /_sim/ control endpoints: see extsim.py; one more fault kind:
  graphql   HTTP 200 with {"errors": [{"message": ...}], "data": {"myself": null}} (how a
            GraphQL server reports a failed resolver; the official SDK treats any "errors"
            as a failure)

POST /graphql with {"query": DOCUMENT} and "Authorization: Bearer <key>" (or the older
?api_key=<key> query parameter).  No or a wrong key -> HTTP 401.  The document is parsed
(one operation, fields, nested selections, arguments skipped) and executed against the
types below; a field the type does not have -> HTTP 200 with errors
[{"message": "Cannot query field \\"x\\" on type \\"T\\"."}] and no data, as graphql servers
answer.  A syntax error -> the same with "Syntax Error: ...".  Types (a subset; the drift
test checks the client's query against tests/schemas/spot/runpod-pods.graphql):
  Query   { myself: User, gpuTypes: [GpuType] }
  User    { id, email, pods: [Pod] }
  Pod     { id, name, desiredStatus, gpuCount, costPerHr, machineId, memoryInGb, vcpuCount,
            podType, uptimeSeconds, imageName, lastStatusChange, machine: PodMachineInfo }
  PodMachineInfo { gpuDisplayName, podHostId }
  GpuType { id, displayName, memoryInGb }

World (the "runpod" key of a world file, or the whole file):
  {"api_key": "rp-test-key",
   "pods": [{"id": "p1", "name": "train", "desiredStatus": "RUNNING" | "EXITED" | "TERMINATED",
             "gpuCount": 2, "gpuDisplayName": "H100 80GB HBM3" | null}],
   "faults": [...]}
"""
import json
import re
import sys

import extsim

SCHEMA = {
    "Query": {"myself": "User", "gpuTypes": "GpuType"},
    "User": {"id": None, "email": None, "pods": "Pod"},
    "Pod": {"id": None, "name": None, "desiredStatus": None, "gpuCount": None, "costPerHr": None,
            "machineId": None, "memoryInGb": None, "vcpuCount": None, "podType": None,
            "uptimeSeconds": None, "imageName": None, "lastStatusChange": None,
            "machine": "PodMachineInfo"},
    "PodMachineInfo": {"gpuDisplayName": None, "podHostId": None},
    "GpuType": {"id": None, "displayName": None, "memoryInGb": None},
}
TOKEN = re.compile(r'\s*(?:(#[^\n]*)|([_A-Za-z][_0-9A-Za-z]*)|("(?:[^"\\]|\\.)*")|(-?[0-9][0-9.eE+-]*)|(\.\.\.|[{}()\[\]:,!$=@]))')


class GraphQLError(Exception):
    pass


def tokenize(doc):
    pos, out = 0, []
    while pos < len(doc):
        if doc[pos].isspace():
            pos += 1
            continue
        m = TOKEN.match(doc, pos)
        if not m or m.end() == pos:
            raise GraphQLError("Syntax Error: Unexpected character %r." % doc[pos])
        pos = m.end()
        if m.group(1):
            continue
        out.append(m.group(2) or m.group(3) or m.group(4) or m.group(5))
    return out


def parse(doc):
    """Returns the top selection set: [(name, subselection or None)]."""
    toks = tokenize(doc.replace(",", " "))  # commas are insignificant in GraphQL
    i = 0
    if toks and toks[0] in ("query", "mutation", "subscription"):
        if toks[0] != "query":
            raise GraphQLError("Only queries are simulated.")
        i = 1
        if i < len(toks) and toks[i] not in ("{", "("):
            i += 1  # operation name
        if i < len(toks) and toks[i] == "(":
            i = skip_parens(toks, i)
    sel, i = selection(toks, i)
    if i != len(toks):
        raise GraphQLError("Syntax Error: Unexpected %s." % toks[i])
    return sel


def skip_parens(toks, i):
    depth = 0
    while i < len(toks):
        depth += toks[i] == "("
        depth -= toks[i] == ")"
        i += 1
        if depth == 0:
            return i
    raise GraphQLError("Syntax Error: Expected ), found <EOF>.")


def selection(toks, i):
    if i >= len(toks) or toks[i] != "{":
        raise GraphQLError("Syntax Error: Expected {, found %s." % (toks[i] if i < len(toks) else "<EOF>"))
    i += 1
    fields = []
    while i < len(toks) and toks[i] != "}":
        name = toks[i]
        if not re.match(r"[_A-Za-z]", name):
            raise GraphQLError("Syntax Error: Expected Name, found %s." % name)
        i += 1
        if i < len(toks) and toks[i] == "(":
            i = skip_parens(toks, i)
        sub = None
        if i < len(toks) and toks[i] == "{":
            sub, i = selection(toks, i)
        fields.append((name, sub))
    if i >= len(toks):
        raise GraphQLError("Syntax Error: Expected Name, found <EOF>.")
    return fields, i + 1


def check(tname, sel):
    for name, sub in sel:
        if name == "__typename":
            continue
        if name not in SCHEMA[tname]:
            raise GraphQLError('Cannot query field "%s" on type "%s".' % (name, tname))
        child = SCHEMA[tname][name]
        if child and sub is None:
            raise GraphQLError('Field "%s" of type "%s" must have a selection of subfields.' % (name, child))
        if not child and sub is not None:
            raise GraphQLError('Field "%s" must not have a selection since its type has no subfields.' % name)
        if child:
            check(child, sub)


def project(obj, tname, sel):
    if obj is None:
        return None
    if isinstance(obj, list):
        return [project(o, tname, sel) for o in obj]
    out = {}
    for name, sub in sel:
        if name == "__typename":
            out[name] = tname
            continue
        child = SCHEMA[tname][name]
        out[name] = project(obj.get(name), child, sub) if child else obj.get(name)
    return out


class RunPod:
    def __init__(self):
        self.world = {}
        self.load({})

    def load(self, w):
        w = dict(w or {})
        w.setdefault("api_key", "rp-test-key")
        pods = []
        for i, p in enumerate(w.get("pods", [])):
            p = dict(p)
            p.setdefault("id", "pod%04d" % i)
            p.setdefault("name", "pod-%d" % i)
            p.setdefault("desiredStatus", "RUNNING")
            p.setdefault("gpuCount", 1)
            p.setdefault("gpuDisplayName", "RTX A6000")
            pods.append(p)
        w["pods"] = pods
        self.world = w

    def fault(self, kind, req):
        if kind == "graphql":
            return 200, {}, json.dumps({"errors": [{"message": "Something went wrong. Please try again later or contact support.",
                                                    "locations": [{"line": 1, "column": 3}], "path": ["myself"],
                                                    "extensions": {"code": "INTERNAL_SERVER_ERROR"}}],
                                        "data": {"myself": None}}).encode()
        return None

    def pod(self, p):
        g = p["gpuCount"]
        return {"id": p["id"], "name": p["name"], "desiredStatus": p["desiredStatus"], "gpuCount": g,
                "costPerHr": round(2.49 * g, 2), "machineId": "m-" + p["id"], "memoryInGb": 62.0 * max(g, 1),
                "vcpuCount": 16.0 * max(g, 1), "podType": "RESERVED", "uptimeSeconds": 3600,
                "imageName": "runpod/pytorch:2.4", "lastStatusChange": "Rented by User: Mon Nov 30 2026",
                "machine": {"gpuDisplayName": p["gpuDisplayName"], "podHostId": p["id"] + "-host"}
                if p["gpuDisplayName"] is not None else None}

    def handle(self, req):
        q = extsim.query_lists(req.query)
        key = None
        auth = req.header("Authorization") or ""
        if auth.startswith("Bearer "):
            key = auth[7:].strip()
        elif "api_key" in q:
            key = q["api_key"][0]
        if req.path != "/graphql":
            return 404, {}, b'{"message": "Not Found"}'
        if key != self.world["api_key"]:
            return 401, {}, json.dumps({"errors": [{"message": "Unauthorized"}]}).encode()
        if req.method != "POST":
            return 405, {}, json.dumps({"errors": [{"message": "GET query must be sent as POST"}]}).encode()
        try:
            body = req.json_body()
            doc = body["query"]
            sel = parse(doc)
            check("Query", sel)
        except (ValueError, KeyError, TypeError):
            return 400, {}, json.dumps({"errors": [{"message": "POST body must be JSON with a query"}]}).encode()
        except GraphQLError as e:
            return 200, {}, json.dumps({"errors": [{"message": str(e), "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}}]}).encode()
        root = {"myself": {"id": "user-1", "email": "ops@example.org", "pods": [self.pod(p) for p in self.world["pods"]]},
                "gpuTypes": [{"id": n, "displayName": n, "memoryInGb": 80}
                             for n in sorted({p["gpuDisplayName"] for p in self.world["pods"] if p["gpuDisplayName"]})]}
        return 200, {}, json.dumps({"data": project(root, "Query", sel)}).encode()


if __name__ == "__main__":
    sys.exit(extsim.main(RunPod(), "runpod", "RunPod GraphQL simulator"))
