#!/usr/bin/python3
"""Drift test: every object tests/sim/kube.py serves from a world file must validate against
the official OpenAPI v3 schemas (subsets made by extract.py; see README.md).

    validate.py [--schemas DIR] WORLD.json

Starts kube.py (--http, loopback) with WORLD, lists every resource the world has (all pages,
limit 50) exactly as a client would, and validates with python3-jsonschema (Debian):
  - each item against its type (core/v1, apps/v1, storage.k8s.io/v1 definitions; for the
    snapshot CRDs the CRD's openAPIV3Schema, with metadata checked against ObjectMeta);
  - the List envelope: kind, apiVersion, metadata against ListMeta.
Strict, like the API server's fieldValidation=Strict: an object schema with properties and
no additionalProperties (and no x-kubernetes-preserve-unknown-fields) gets
additionalProperties: false, so a misspelt or invented field is an error, not ignored.
A null value counts as absent (the API server writes nil slices/maps of fields without
omitempty as null, e.g. CSINodeDriver.topologyKeys); a null required field is still an error.
Prints one line per problem (resource, object, JSON path, message); exit 0 clean, 1 drift,
2 when it could not run (schemas missing, simulator did not start).
"""
import argparse
import copy
import json
import os
import subprocess
import sys
import urllib.request

import jsonschema

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
FILES = ["core-v1.json", "apps-v1.json", "storage-v1.json", "snapshot-v1.json"]
TYPES = {
    "persistentvolumes": ("/api/v1/persistentvolumes", "io.k8s.api.core.v1.PersistentVolume", "PersistentVolumeList", "v1"),
    "persistentvolumeclaims": ("/api/v1/persistentvolumeclaims", "io.k8s.api.core.v1.PersistentVolumeClaim",
                               "PersistentVolumeClaimList", "v1"),
    "nodes": ("/api/v1/nodes", "io.k8s.api.core.v1.Node", "NodeList", "v1"),
    "pods": ("/api/v1/pods", "io.k8s.api.core.v1.Pod", "PodList", "v1"),
    "storageclasses": ("/apis/storage.k8s.io/v1/storageclasses", "io.k8s.api.storage.v1.StorageClass",
                       "StorageClassList", "storage.k8s.io/v1"),
    "volumeattachments": ("/apis/storage.k8s.io/v1/volumeattachments", "io.k8s.api.storage.v1.VolumeAttachment",
                          "VolumeAttachmentList", "storage.k8s.io/v1"),
    "csidrivers": ("/apis/storage.k8s.io/v1/csidrivers", "io.k8s.api.storage.v1.CSIDriver", "CSIDriverList",
                   "storage.k8s.io/v1"),
    "csinodes": ("/apis/storage.k8s.io/v1/csinodes", "io.k8s.api.storage.v1.CSINode", "CSINodeList", "storage.k8s.io/v1"),
    "volumesnapshots": ("/apis/snapshot.storage.k8s.io/v1/volumesnapshots", "io.k8s.storage.snapshot.v1.VolumeSnapshot",
                        "VolumeSnapshotList", "snapshot.storage.k8s.io/v1"),
    "volumesnapshotcontents": ("/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents",
                               "io.k8s.storage.snapshot.v1.VolumeSnapshotContent", "VolumeSnapshotContentList",
                               "snapshot.storage.k8s.io/v1"),
    "volumesnapshotclasses": ("/apis/snapshot.storage.k8s.io/v1/volumesnapshotclasses",
                              "io.k8s.storage.snapshot.v1.VolumeSnapshotClass", "VolumeSnapshotClassList",
                              "snapshot.storage.k8s.io/v1"),
    "daemonsets": ("/apis/apps/v1/daemonsets", "io.k8s.api.apps.v1.DaemonSet", "DaemonSetList", "apps/v1"),
    "deployments": ("/apis/apps/v1/deployments", "io.k8s.api.apps.v1.Deployment", "DeploymentList", "apps/v1"),
}
META = "io.k8s.apimachinery.pkg.apis.meta.v1."


def find_schemas(arg):
    cands = [arg] if arg else [os.environ.get("INFRA_KUBE_SCHEMAS"), HERE,
                                os.path.join(SRC, "..", "shared", "schemas", "kube")]
    for d in cands:
        if d and all(os.path.exists(os.path.join(d, f)) for f in FILES):
            return d
    return None


def strict(node):
    """additionalProperties: false wherever an object schema lists its properties."""
    if isinstance(node, dict):
        if ("properties" in node and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")):
            node["additionalProperties"] = False
        for v in node.values():
            strict(v)
    elif isinstance(node, list):
        for v in node:
            strict(v)
    return node


def load(d):
    merged, sources = {}, []
    for f in FILES:
        with open(os.path.join(d, f)) as fh:
            doc = json.load(fh)
        sources.append("%s: %s %s @ %s" % (f, doc["source"]["repository"], doc["source"]["path"],
                                           doc["source"]["commit"][:12]))
        for k, v in doc["components"]["schemas"].items():
            if k in merged and merged[k] != v:
                # the same core/meta type from two files: keep the first, say so
                print("note: %s differs between schema files; using the first" % k, file=sys.stderr)
                continue
            merged[k] = v
    return strict(copy.deepcopy(merged)), sources


def validator(merged, name):
    return jsonschema.Draft7Validator({"$ref": "#/components/schemas/" + name, "components": {"schemas": merged}})


def start_sim(world):
    p = subprocess.Popen([sys.executable, os.path.join(SRC, "tests", "sim", "kube.py"), "--world", world, "--http",
                          "--anonymous", "--max-seconds", "300"], stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline().strip()
    if not line.startswith("READY "):
        p.kill()
        return None, None
    return p, line[6:]


def fetch_all(base, path):
    pages, cont = [], None
    while True:
        url = base + path + "?limit=50" + ("&continue=" + cont if cont else "")
        with urllib.request.urlopen(url, timeout=30) as r:
            doc = json.load(r)
        pages.append(doc)
        cont = doc.get("metadata", {}).get("continue")
        if not cont or len(pages) > 10000:
            return pages


def drop_nulls(node):
    """null is absent: the API server writes nil slices and maps of fields without omitempty as
    null (e.g. CSINodeDriver.topologyKeys), which the schemas type as array/object."""
    if isinstance(node, dict):
        return {k: drop_nulls(v) for k, v in node.items() if v is not None}
    if isinstance(node, list):
        return [drop_nulls(v) for v in node]
    return node


def where(err):
    return "/".join(str(x) for x in err.absolute_path) or "(root)"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--schemas")
    ap.add_argument("world")
    a = ap.parse_args()
    d = find_schemas(a.schemas)
    if not d:
        print("validate.py: schema subsets not found (looked in --schemas, $INFRA_KUBE_SCHEMAS, %s, "
              "../shared/schemas/kube); make them with tests/schemas/kube/extract.py (README.md)" % HERE)
        return 2
    merged, sources = load(d)
    for s in sources:
        print("# " + s)
    with open(a.world) as f:
        world = json.load(f).get("kube", {})
    sim, base = start_sim(a.world)
    if not sim:
        print("validate.py: kube.py did not start")
        return 2
    problems = objects = 0
    try:
        meta_v = validator(merged, META + "ObjectMeta")
        list_v = validator(merged, META + "ListMeta")
        for res in sorted(world):
            path, typ, list_kind, api_version = TYPES[res]
            item_v = validator(merged, typ)
            crd = typ.startswith("io.k8s.storage.snapshot.")
            for page in fetch_all(base, path):
                if page.get("kind") != list_kind or page.get("apiVersion") != api_version:
                    problems += 1
                    print("%s: list kind/apiVersion %s %s, expected %s %s" % (res, page.get("kind"),
                          page.get("apiVersion"), list_kind, api_version))
                for e in list_v.iter_errors(page.get("metadata", {})):
                    problems += 1
                    print("%s: list metadata/%s: %s" % (res, where(e), e.message))
                for it in page.get("items") or []:
                    objects += 1
                    it = drop_nulls(it)
                    name = "%s/%s" % (it.get("metadata", {}).get("namespace", "-"), it.get("metadata", {}).get("name"))
                    errs = [(where(e), e) for e in item_v.iter_errors(it)]
                    if crd:
                        errs += [("metadata/" + where(e), e) for e in meta_v.iter_errors(it.get("metadata", {}))]
                    for at, e in errs:
                        problems += 1
                        print("%s %s: %s: %s" % (res, name, at, e.message[:300]))
    finally:
        sim.terminate()
        sim.wait()
    print("%d objects of %d resources validated, %d problems" % (objects, len(world), problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
