#!/usr/bin/env python3
"""Extract the schema subsets tests/tool/kube-schema.t validates the simulator against.

    extract.py --client-go GITDIR --snapshotter GITDIR --storage storage-v1.transcribed.json
               --core-overlay core-v1-overlay.transcribed.json --out DIR

GITDIR is a git directory (a bare clone, e.g. what the search tool's `fetch` brings) of
kubernetes/client-go and of kubernetes-csi/external-snapshotter; HEAD is read unless
GITDIR@COMMIT is given.  Writes to DIR, each with a "source" {repository, path, commit}:

  core-v1.json      components.schemas closure of PersistentVolume, PersistentVolumeClaim, Node,
                    Pod (and PersistentVolumeSpec for storage) from
                    client-go openapi/openapitest/testdata/api__v1_openapi.json, with the
                    definitions of --core-overlay (newer ones, from kubernetes/kubernetes) replacing
                    their older namesakes
  apps-v1.json      closure of DaemonSet, Deployment from .../apis__apps__v1_openapi.json
  storage-v1.json   the io.k8s.api.storage.v1.* definitions of --storage (transcribed from
                    kubernetes/kubernetes api/openapi-spec/v3/apis__storage.k8s.io__v1_openapi.json)
                    plus the core/meta definitions they refer to, from the core file
  snapshot-v1.json  spec.versions[v1].schema.openAPIV3Schema of the VolumeSnapshot,
                    VolumeSnapshotContent and VolumeSnapshotClass CRDs
                    (external-snapshotter client/config/crd/snapshot.storage.k8s.io_*.yaml)

Only "description" keys are left out (size); every other keyword is kept as it is.
"""
import argparse
import json
import os
import subprocess
import sys

import yaml

CG_DIR = "openapi/openapitest/testdata/"
CORE = "io.k8s.api.core.v1."
APPS = "io.k8s.api.apps.v1."
CRDS = {"VolumeSnapshot": "client/config/crd/snapshot.storage.k8s.io_volumesnapshots.yaml",
        "VolumeSnapshotContent": "client/config/crd/snapshot.storage.k8s.io_volumesnapshotcontents.yaml",
        "VolumeSnapshotClass": "client/config/crd/snapshot.storage.k8s.io_volumesnapshotclasses.yaml"}


def git_show(spec, path):
    gitdir, _, commit = spec.partition("@")
    commit = commit or subprocess.run(["git", "--git-dir", gitdir, "rev-parse", "HEAD"], check=True,
                                      capture_output=True, text=True).stdout.strip()
    data = subprocess.run(["git", "--git-dir", gitdir, "show", "%s:%s" % (commit, path)], check=True,
                          capture_output=True).stdout
    return data, commit


def strip(node):
    if isinstance(node, dict):
        return {k: strip(v) for k, v in node.items() if k != "description"}
    if isinstance(node, list):
        return [strip(v) for v in node]
    return node


def refs(node, out):
    if isinstance(node, dict):
        r = node.get("$ref")
        if isinstance(r, str) and r.startswith("#/components/schemas/"):
            out.add(r[len("#/components/schemas/"):])
        for v in node.values():
            refs(v, out)
    elif isinstance(node, list):
        for v in node:
            refs(v, out)


def closure(all_schemas, roots):
    todo, seen = list(roots), {}
    while todo:
        n = todo.pop()
        if n in seen:
            continue
        if n not in all_schemas:
            raise SystemExit("extract.py: %s is not defined in the source" % n)
        seen[n] = strip(all_schemas[n])
        more = set()
        refs(seen[n], more)
        todo.extend(sorted(more - set(seen)))
    return dict(sorted(seen.items()))


def write(out, name, source, schemas):
    doc = {"source": source, "components": {"schemas": schemas}}
    with open(os.path.join(out, name), "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write("\n")
    print("%s: %d definitions" % (name, len(schemas)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--client-go", required=True)
    ap.add_argument("--snapshotter", required=True)
    ap.add_argument("--storage", required=True)
    ap.add_argument("--core-overlay", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)

    raw, commit = git_show(a.client_go, CG_DIR + "api__v1_openapi.json")
    core = json.loads(raw)["components"]["schemas"]
    with open(a.core_overlay) as f:
        ov = json.load(f)
    core.update(ov["components"]["schemas"])
    src = {"repository": "kubernetes/client-go", "path": CG_DIR + "api__v1_openapi.json", "commit": commit,
           "note": "client-go's test copy of kubernetes/kubernetes api/openapi-spec/v3/api__v1_openapi.json "
                   "(published from kubernetes/kubernetes staging/src/k8s.io/client-go)",
           "overlay": dict(ov["source"], definitions=sorted(ov["components"]["schemas"]))}
    write(a.out, "core-v1.json", src, closure(core, [CORE + t for t in (
        "PersistentVolume", "PersistentVolumeClaim", "Node", "Pod", "PersistentVolumeSpec")]
        + ["io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"]))

    raw, commit = git_show(a.client_go, CG_DIR + "apis__apps__v1_openapi.json")
    apps = json.loads(raw)["components"]["schemas"]
    src = dict(src, path=CG_DIR + "apis__apps__v1_openapi.json", commit=commit,
               note="client-go's test copy of kubernetes/kubernetes api/openapi-spec/v3/apis__apps__v1_openapi.json")
    write(a.out, "apps-v1.json", src, closure(apps, [APPS + "DaemonSet", APPS + "Deployment"]))

    with open(a.storage) as f:
        st = json.load(f)
    own = st["components"]["schemas"]
    outside = set()
    refs(own, outside)
    outside -= set(own)
    schemas = dict(own)
    schemas.update(closure(core, sorted(outside)))
    src = dict(st["source"], referenced_core_meta_from="kubernetes/client-go " + CG_DIR + "api__v1_openapi.json")
    write(a.out, "storage-v1.json", src, dict(sorted(schemas.items())))

    crds, commit = {}, None
    for kind, path in CRDS.items():
        raw, commit = git_show(a.snapshotter, path)
        crd = yaml.safe_load(raw)
        v1 = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
        if not v1:
            raise SystemExit("extract.py: %s has no v1 version" % path)
        crds["io.k8s.storage.snapshot.v1." + kind] = strip(v1[0]["schema"]["openAPIV3Schema"])
    write(a.out, "snapshot-v1.json", {"repository": "kubernetes-csi/external-snapshotter",
                                      "path": "client/config/crd/snapshot.storage.k8s.io_{volumesnapshots,"
                                              "volumesnapshotcontents,volumesnapshotclasses}.yaml",
                                      "commit": commit}, crds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
