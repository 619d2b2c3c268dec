#!/usr/bin/python3
"""Drift test: every object tests/sim/kube.py serves from a world file must validate against this
directory's JSON Schemas, which this project wrote from the official Kubernetes OpenAPI v3
documents and the external-snapshotter CRDs (README.md; each file's "$comment" names its source
and commit).

    validate.py [--schemas DIR] WORLD.json...
    validate.py [--schemas DIR] --check-files

Starts kube.py (--http, loopback) on each WORLD, lists every resource the world installs (all
pages, limit 50) as a client would, and validates with python3-jsonschema (Debian), Draft 7:
  - each item against its kind's definition; items of built-in kinds carry no kind/apiVersion
    (as the API server sends them) or the right ones, CRD items must carry the right ones;
  - the List envelope: kind and apiVersion as the API server sets them, metadata against
    ListMeta, items an array, nothing else.
The schemas are strict (additionalProperties false wherever a type lists its properties), so a
misspelt or invented field is an error, as with the API server's fieldValidation=Strict.
A null value counts as absent: the API server writes nil slices and maps of fields without
omitempty as null (e.g. CSINodeDriver.topologyKeys); a null required field is still an error.
Formats are checked: date-time (RFC 3339), int32, int64.
--check-files checks the schema files themselves: valid Draft 7, every $ref resolves, every
object type with properties says additionalProperties, each file names its source commit, and
every resource kube.py can serve has a definition.
Prints one line per problem (resource, object, JSON path, message); exit 0 clean, 1 drift,
2 when it could not run (python3-jsonschema or a schema file missing, simulator did not start).
"""
import argparse
import datetime
import importlib.util
import json
import os
import re
import subprocess
import sys
import urllib.request

try:
    import jsonschema
except ImportError:
    print("validate.py: python3-jsonschema is not installed (Debian package python3-jsonschema)")
    sys.exit(2)

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
KUBE_PY = os.path.join(SRC, "tests", "sim", "kube.py")
FILES = ["meta-v1.json", "core-v1.json", "apps-v1.json", "storage-v1.json", "snapshot-v1.json"]
# resource -> (schema file, definition)
TYPES = {
    "persistentvolumes": ("core-v1.json", "io.k8s.api.core.v1.PersistentVolume"),
    "persistentvolumeclaims": ("core-v1.json", "io.k8s.api.core.v1.PersistentVolumeClaim"),
    "nodes": ("core-v1.json", "io.k8s.api.core.v1.Node"),
    "pods": ("core-v1.json", "io.k8s.api.core.v1.Pod"),
    "storageclasses": ("storage-v1.json", "io.k8s.api.storage.v1.StorageClass"),
    "volumeattachments": ("storage-v1.json", "io.k8s.api.storage.v1.VolumeAttachment"),
    "csidrivers": ("storage-v1.json", "io.k8s.api.storage.v1.CSIDriver"),
    "csinodes": ("storage-v1.json", "io.k8s.api.storage.v1.CSINode"),
    "volumesnapshots": ("snapshot-v1.json", "io.k8s.storage.snapshot.v1.VolumeSnapshot"),
    "volumesnapshotcontents": ("snapshot-v1.json", "io.k8s.storage.snapshot.v1.VolumeSnapshotContent"),
    "volumesnapshotclasses": ("snapshot-v1.json", "io.k8s.storage.snapshot.v1.VolumeSnapshotClass"),
    "daemonsets": ("apps-v1.json", "io.k8s.api.apps.v1.DaemonSet"),
    "deployments": ("apps-v1.json", "io.k8s.api.apps.v1.Deployment"),
}
LISTMETA = "meta-v1.json#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"
RFC3339 = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def sim_resources():
    """kube.py's RESOURCES table: resource -> (group, version, list kind, namespaced, builtin)."""
    spec = importlib.util.spec_from_file_location("kube_sim", KUBE_PY)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.RESOURCES


def uri(d, f):
    return "file://" + os.path.join(os.path.abspath(d), f)


def load(d):
    """{file: document}; None and a message when a file is missing or unreadable."""
    docs = {}
    for f in FILES:
        p = os.path.join(d, f)
        try:
            with open(p) as fh:
                docs[f] = json.load(fh)
        except (OSError, ValueError) as e:
            return None, "schema file %s: %s" % (p, e)
    return docs, None


def format_checker():
    fc = jsonschema.FormatChecker(formats=())

    @fc.checks("date-time")
    def date_time(v):
        if not isinstance(v, str):
            return True
        m = RFC3339.match(v)
        if not m:
            return False
        try:
            datetime.datetime(*(int(m.group(i)) for i in range(1, 7)))
        except ValueError:
            return False
        return True

    @fc.checks("int32")
    def int32(v):
        return not isinstance(v, int) or -2**31 <= v < 2**31

    @fc.checks("int64")
    def int64(v):
        return not isinstance(v, int) or -2**63 <= v < 2**63
    return fc


def validator(d, docs, schema):
    """A Draft 7 validator for schema (which may $ref FILE#/definitions/NAME) with every
    schema file in the resolver's store."""
    store = {uri(d, f): doc for f, doc in docs.items()}
    # the referrer gets a URI of its own in the same directory (not one of the files')
    resolver = jsonschema.RefResolver(base_uri=uri(d, "(validate.py)"), referrer=schema, store=store)
    return jsonschema.Draft7Validator(schema, resolver=resolver, format_checker=format_checker())


def walk(node, path=""):
    if isinstance(node, dict):
        yield path, node
        for k, v in node.items():
            yield from walk(v, path + "/" + k)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, "%s/%d" % (path, i))


def check_files(d, docs):
    problems = []
    for f, doc in docs.items():
        try:
            jsonschema.Draft7Validator.check_schema(doc)
        except jsonschema.SchemaError as e:
            problems.append("%s: not a valid Draft 7 schema: %s" % (f, e.message))
        if not re.search(r"commit [0-9a-f]{40}", doc.get("$comment", "")):
            problems.append("%s: the top-level $comment does not name a source commit" % f)
        for path, node in walk(doc):
            if "properties" in node and "additionalProperties" not in node:
                problems.append("%s: %s lists properties but does not say additionalProperties" % (f, path))
            if "$ref" in node:
                if len(set(node) - {"$ref", "$comment"}) > 0:
                    problems.append("%s: %s has keywords beside $ref (Draft 7 ignores them)" % (f, path))
                target = node["$ref"]
                if target.startswith("#"):
                    target = f + target
                try:
                    validator(d, docs, {"$ref": target}).resolver.resolve(target)
                except jsonschema.RefResolutionError as e:
                    problems.append("%s: %s: $ref %s does not resolve: %s" % (f, path, node["$ref"], e))
    for res in sorted(sim_resources()):
        if res not in TYPES:
            problems.append("kube.py serves %s, which has no schema here" % res)
        else:
            f, name = TYPES[res]
            if name not in docs[f].get("definitions", {}):
                problems.append("%s: no definition %s (for %s)" % (f, name, res))
    return problems


def start_sim(world):
    p = subprocess.Popen([sys.executable, KUBE_PY, "--world", world, "--http", "--anonymous", "--max-seconds", "300"],
                         stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline().strip()
    if not line.startswith("READY "):
        p.kill()
        p.wait()
        return None, None
    return p, line[6:]


def fetch_all(base, path):
    pages, cont = [], None
    while True:
        url = base + path + "?limit=50" + ("&continue=" + cont if cont else "")
        with urllib.request.urlopen(url, timeout=30) as r:
            doc = json.load(r)
        pages.append(doc)
        cont = (doc.get("metadata") or {}).get("continue")
        if not cont or len(pages) > 10000:
            return pages


def drop_nulls(node):
    """null is absent (see the module comment)."""
    if isinstance(node, dict):
        return {k: drop_nulls(v) for k, v in node.items() if v is not None}
    if isinstance(node, list):
        return [drop_nulls(v) for v in node]
    return node


def where(err):
    return "/".join(str(x) for x in err.absolute_path) or "(root)"


def validate_world(d, docs, resources, world_file):
    """(objects, resources listed, problems), or None when the simulator did not start."""
    with open(world_file) as f:
        world = json.load(f).get("kube", {})
    sim, base = start_sim(world_file)
    if not sim:
        return None
    problems, objects = [], 0
    try:
        for res in sorted(world):
            group, version, list_kind, _ns, builtin = resources[res]
            api_version = "%s/%s" % (group, version) if group else version
            path = ("/apis/%s/%s/%s" % (group, version, res)) if group else ("/api/%s/%s" % (version, res))
            f, name = TYPES[res]
            item_v = validator(d, docs, {"$ref": "%s#/definitions/%s" % (f, name)})
            list_v = validator(d, docs, {
                "type": "object",
                "properties": {"apiVersion": {"const": api_version}, "kind": {"const": list_kind},
                               "metadata": {"$ref": LISTMETA}, "items": {"type": "array"}},
                "required": ["apiVersion", "kind", "items"], "additionalProperties": False})
            kind = list_kind[:-len("List")]
            for page in fetch_all(base, path):
                page_items = page.get("items")
                for e in list_v.iter_errors(page if not isinstance(page_items, list) else dict(page, items=[])):
                    problems.append("%s: list %s: %s" % (res, where(e), e.message[:300]))
                for it in page_items if isinstance(page_items, list) else []:
                    objects += 1
                    it = drop_nulls(it)
                    meta = it.get("metadata") if isinstance(it.get("metadata"), dict) else {}
                    oname = "%s/%s" % (meta.get("namespace", "-"), meta.get("name"))
                    for e in item_v.iter_errors(it):
                        problems.append("%s %s: %s: %s" % (res, oname, where(e), e.message[:300]))
                    for key, want in (("kind", kind), ("apiVersion", api_version)):
                        if (not builtin or key in it) and it.get(key) != want:
                            problems.append("%s %s: %s: %r, expected %r" % (res, oname, key, it.get(key), want))
    finally:
        sim.kill()  # plain HTTP, nothing to clean up; SIGTERM would wait for its 0.5 s poll
        sim.wait()
    return objects, len(world), problems


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--schemas", default=HERE, help="directory of the schema files (default: beside this script)")
    ap.add_argument("--check-files", action="store_true", help="check the schema files themselves")
    ap.add_argument("world", nargs="*")
    a = ap.parse_args()
    docs, err = load(a.schemas)
    if docs is None:
        print("validate.py: %s" % err)
        return 2
    for f in FILES:
        print("# %s: %s" % (f, re.sub(r"\s+", " ", docs[f].get("$comment", ""))[:160]))
    if a.check_files:
        problems = check_files(a.schemas, docs)
        for p in problems:
            print(p)
        print("%d schema files checked, %d problems" % (len(docs), len(problems)))
        return 1 if problems else 0
    if not a.world:
        ap.error("a world file, or --check-files")
    resources = sim_resources()
    rc = 0
    for w in a.world:
        r = validate_world(a.schemas, docs, resources, w)
        if r is None:
            print("validate.py: kube.py did not start on %s" % w)
            return 2
        objects, nres, problems = r
        for p in problems:
            print(p)
        print("%s: %d objects of %d resources validated, %d problems" % (os.path.basename(w), objects, nres, len(problems)))
        if problems:
            rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
