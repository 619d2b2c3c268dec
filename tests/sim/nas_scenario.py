#!/usr/bin/env python3
"""nas_scenario.py - the ONE scenario generator of nasmon-check (issue 10).

Writes one JSON "world": a Kubernetes cluster whose volumes and snapshots
democratic-csi provisions on a TrueNAS SCALE box, in the shapes the real APIs
return (tests/sim/kube.py and tests/sim/truenas.py serve it), built from
democratic-csi's real naming (notes/truenas.md section 1):

  PV name = CSI volume name = volume_id = pvc-<PVC uid>; dataset P/<volume_id>;
  ZFS user properties democratic-csi:managed_resource / provision_success /
  csi_volume_name / volume_context_provisioner_driver / _instance_id /
  freenas_*_id / csi_share_volume_context; CSI snapshots P/<vol>@snapshot-<VS uid>
  (csi_snapshot_name LOCAL) and detached ones S/<vol>/snapshot-<VS uid>;
  VolumeSnapshotContent snapcontent-<VS uid> with snapshotHandle <vol>@<name>;
  foreign (sanoid/periodic task) snapshots inherit managed_resource and
  csi_volume_name (source INHERITED) and carry no csi_snapshot_name.

Parameters: --seed, --pvs, --snapshots (ZFS snapshots in all, CSI + foreign),
--volumesnapshots, --now.  --plants all|none|ID,... plants, for every check id
of nasmon-check, one object on which the check must fire and one near miss on
which it must not (a foreign snapshot, a dataset of another provisioner
instance, a PV of another driver, an object inside its grace period, a value
just under a threshold).  The world's "scenario" key lists them:

  "scenario": {"seed", "now", "config": {drivers, dataset_parents,
               snapshot_parents, instance_ids},
               "plants": {"ORPH-PV": {"fire": [{"kind","name","severity"}],
                                      "near": [{"kind","name","allow"?}]}, ...}}

"allow" names the highest severity a near miss may still get ("info" for a
dataset of another instance, which is reported as foreign, never as an orphan).
Everything is deterministic for a given seed and --now.
"""
import argparse
import json
import random
import sys
import time
import uuid

GiB = 1 << 30
MiB = 1 << 20
HOUR = 3600
DAY = 86400
CHECKS = ["ORPH-PV", "ORPH-DS", "ORPH-PROV", "ORPH-REL", "ORPH-PVC", "ORPH-VA", "ORPH-SHARE",
          "SHARE-MISSING", "SNAP-ORPH", "SNAP-MISSING", "SNAP-DANGLING", "SNAP-COUNT", "SNAP-AGE",
          "SNAP-SPACE", "SNAP-FOREIGN", "SNAP-CLONE", "CAP-OVERCOMMIT", "CAP-SPARSE", "CAP-POOL",
          "CAP-VOL", "CAP-SIZE", "CFG-DRIVER", "CFG-SC", "CFG-TN", "HLTH-PODS"]
NS = "democratic-csi"
IQN_BASE = "iqn.2005-10.org.freenas.ctl"
SERVER = "192.0.2.10"

# The drivers of this cluster (one Helm release each, as the chart examples set them).
DRIVERS = [
    {"release": "zfs-nfs", "csi": "org.democratic-csi.nfs", "driver": "freenas-api-nfs", "kind": "nfs",
     "pool": "tank", "parent": "tank/k8s/nfs/vols", "snaps": "tank/k8s/nfs/snaps",
     "instance": "clustera-nfs", "sc": "freenas-nfs-csi", "vsc": "freenas-nfs-csi"},
    {"release": "zfs-iscsi", "csi": "org.democratic-csi.iscsi", "driver": "freenas-api-iscsi", "kind": "iscsi",
     "pool": "tank", "parent": "tank/k8s/iscsi/vols", "snaps": "tank/k8s/iscsi/snaps",
     "instance": "clustera-iscsi", "sc": "freenas-iscsi-csi", "vsc": "freenas-iscsi-csi"},
    {"release": "zfs-fast", "csi": "org.democratic-csi.iscsi-fast", "driver": "freenas-api-iscsi", "kind": "iscsi",
     "pool": "fast", "parent": "fast/k8s/vols", "snaps": "fast/k8s/snaps",
     "instance": "clustera-fast", "sc": "fast-iscsi", "vsc": None},
]


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def human(n):
    for unit, div in (("TiB", 1 << 40), ("GiB", GiB), ("MiB", MiB), ("KiB", 1024)):
        if n >= div:
            return "%.2f %s" % (n / div, unit)
    return "%d B" % n


def dprop(raw, source="NONE"):
    """A pool.dataset.query property object (always read rawvalue)."""
    if isinstance(raw, int):
        return {"parsed": raw if raw else None if source in ("DEFAULT", "LOCAL") else 0,
                "rawvalue": str(raw), "value": human(raw) if raw else None if source in ("DEFAULT", "LOCAL") else "0 B",
                "source": source, "source_info": None}
    return {"parsed": raw, "rawvalue": raw, "value": raw, "source": source, "source_info": None}


def dtime(t):
    return {"parsed": {"$date": int(t) * 1000}, "rawvalue": str(int(t)),
            "value": time.strftime("%a %b %d %H:%M %Y", time.gmtime(t)), "source": "NONE", "source_info": None}


def sprop(raw, source="NONE"):
    """A pool.snapshot.query property object (no source_info)."""
    if isinstance(raw, int):
        return {"value": human(raw), "rawvalue": str(raw), "source": source, "parsed": raw}
    return {"value": raw, "rawvalue": raw, "source": source, "parsed": raw}


class World:
    def __init__(self, seed, now, pvs, snapshots, volumesnapshots, plants, version):
        self.rng = random.Random(seed)
        self.now = int(now)
        self.seed = seed
        self.kube = {k: [] for k in ("persistentvolumes", "persistentvolumeclaims", "storageclasses",
                                     "volumeattachments", "csidrivers", "csinodes", "nodes",
                                     "volumesnapshots", "volumesnapshotcontents", "volumesnapshotclasses",
                                     "pods", "daemonsets", "deployments")}
        self.tn = {"version": version, "pools": [], "datasets": [], "snapshots": [], "nfs_shares": [],
                   "smb_shares": [], "iscsi_targets": [], "iscsi_extents": [], "iscsi_targetextents": [],
                   "services": []}
        self.ds_by_id = {}
        self.vols = []           # healthy volumes: dicts
        self.ids = {"nfs": 0, "target": 0, "extent": 0, "te": 0}
        self.plants = {c: {"fire": [], "near": []} for c in CHECKS}
        self.selected = plants
        self.nodes = ["worker-1", "worker-2", "worker-3"]
        self.n_pvs, self.n_snaps, self.n_vs = pvs, snapshots, volumesnapshots

    # ---- helpers ----
    def uid(self):
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def meta(self, name, age, ns=None, **extra):
        m = {"name": name, "uid": self.uid(), "resourceVersion": str(self.rng.randint(1000, 999999)),
             "creationTimestamp": rfc3339(self.now - age)}
        if ns:
            m["namespace"] = ns
        m.update(extra)
        return m

    def plant(self, check, which, kind, name, severity=None, allow=None):
        if check not in self.selected:
            return
        e = {"kind": kind, "name": name}
        if severity:
            e["severity"] = severity
        if allow:
            e["allow"] = allow
        self.plants[check][which].append(e)

    def on(self, check):
        return check in self.selected

    def dataset(self, dsid, dtype="FILESYSTEM", used=0, avail=0, age=30 * DAY, uprops=None, refquota=0,
                volsize=0, refreservation=0, usedbysnapshots=0, origin="", volblocksize=16384):
        pool = dsid.split("/")[0]
        d = {"id": dsid, "type": dtype, "name": dsid, "pool": pool,
             "used": dprop(used), "available": dprop(avail), "usedbysnapshots": dprop(usedbysnapshots),
             "usedbydataset": dprop(max(0, used - usedbysnapshots)), "usedbychildren": dprop(0),
             "refreservation": dprop(refreservation, "LOCAL" if refreservation else "DEFAULT"),
             "origin": dprop(origin), "creation": dtime(self.now - age),
             "user_properties": {k: dprop(v, "LOCAL") for k, v in (uprops or {}).items()},
             "mountpoint": None if dtype == "VOLUME" else "/mnt/" + dsid, "children": []}
        if dtype == "VOLUME":
            d["volsize"] = dprop(volsize, "LOCAL")
            d["volblocksize"] = dprop(volblocksize, "DEFAULT")
            d["sparse"] = dprop("true" if not refreservation else "false")
        else:
            d["refquota"] = dprop(refquota, "LOCAL" if refquota else "DEFAULT")
            d["quota"] = dprop(0, "DEFAULT")
        self.tn["datasets"].append(d)
        self.ds_by_id[dsid] = d
        return d

    def snapshot(self, dsid, name, age, used, csi=None, managed=True, source_vol=None):
        """csi = CSI snapshot name (LOCAL) or None for a foreign snapshot that
        inherits democratic-csi's properties from its CSI volume (issue #562)."""
        props = {"creation": sprop(str(self.now - age)), "used": sprop(used), "referenced": sprop(used * 4)}
        props["creation"]["parsed"] = {"$date": (self.now - age) * 1000}
        props["creation"]["value"] = time.strftime("%a %b %d %H:%M %Y", time.gmtime(self.now - age))
        leaf = dsid.rsplit("/", 1)[1]
        if csi:
            props["democratic-csi:managed_resource"] = sprop("true", "LOCAL")
            props["democratic-csi:csi_snapshot_name"] = sprop(csi, "LOCAL")
            props["democratic-csi:csi_snapshot_source_volume_id"] = sprop(source_vol or leaf, "LOCAL")
            props["democratic-csi:provision_success"] = sprop("true", "LOCAL")
            props["democratic-csi:csi_volume_name"] = sprop(leaf, "INHERITED")
        elif managed:
            props["democratic-csi:managed_resource"] = sprop("true", "INHERITED")
            props["democratic-csi:csi_volume_name"] = sprop(leaf, "INHERITED")
            props["democratic-csi:provision_success"] = sprop("true", "INHERITED")
        sid = dsid + "@" + name
        s = {"id": sid, "name": sid, "pool": dsid.split("/")[0], "type": "SNAPSHOT", "snapshot_name": name,
             "dataset": dsid, "createtxg": str(1000000 + len(self.tn["snapshots"])), "properties": props}
        self.tn["snapshots"].append(s)
        return s

    # ---- cluster scaffolding ----
    def scaffold(self, n_tank_vols_bytes):
        for i, n in enumerate(self.nodes + ["worker-4", "worker-5"]):
            ready = "False" if n == "worker-5" else "True"
            self.kube["nodes"].append({"apiVersion": "v1", "kind": "Node", "metadata": self.meta(n, 200 * DAY, labels={"kubernetes.io/hostname": n}),
                                       "spec": {}, "status": {"conditions": [{"type": "Ready", "status": ready, "reason": "KubeletReady" if ready == "True" else "NodeStatusUnknown",
                                                                              "lastTransitionTime": rfc3339(self.now - 100 * DAY)}]}})
        csinode_nodes = list(self.nodes)
        if not self.on("CFG-DRIVER"):
            csinode_nodes += ["worker-4"]
        for n in csinode_nodes:
            self.kube["csinodes"].append({"apiVersion": "storage.k8s.io/v1", "kind": "CSINode", "metadata": self.meta(n, 200 * DAY),
                                          "spec": {"drivers": [{"name": d["csi"], "nodeID": n, "topologyKeys": None} for d in DRIVERS]}})
        if self.on("CFG-DRIVER"):
            # worker-4 is Ready and its CSINode has no democratic-csi driver: not registered
            self.kube["csinodes"].append({"apiVersion": "storage.k8s.io/v1", "kind": "CSINode", "metadata": self.meta("worker-4", 200 * DAY),
                                          "spec": {"drivers": []}})
            self.plant("CFG-DRIVER", "fire", "Node", "worker-4", "warning")
            # worker-5 is NotReady without a CSINode at all: not judged
            self.plant("CFG-DRIVER", "near", "Node", "worker-5")
        for d in DRIVERS:
            self.kube["csidrivers"].append({"apiVersion": "storage.k8s.io/v1", "kind": "CSIDriver", "metadata": self.meta(d["csi"], 200 * DAY),
                                            "spec": {"attachRequired": True, "podInfoOnMount": True, "fsGroupPolicy": "ReadWriteOnceWithFSType",
                                                     "storageCapacity": False, "requiresRepublish": False, "volumeLifecycleModes": ["Persistent"]}})
            self.kube["storageclasses"].append(self.storageclass(d["sc"], d["csi"], "nfs" if d["kind"] == "nfs" else "ext4", d["release"]))
            if d["vsc"]:
                self.kube["volumesnapshotclasses"].append({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotClass",
                                                           "metadata": self.meta(d["vsc"], 200 * DAY, labels={"app.kubernetes.io/instance": d["release"]}),
                                                           "driver": d["csi"], "deletionPolicy": "Delete", "parameters": {"detachedSnapshots": "false"}})
            self.pods(d)
        # TrueNAS: pools, roots, parents
        tank_size = max(4 * 1024 * GiB, int(n_tank_vols_bytes * 1.6))
        self.pool("tank", tank_size, int(tank_size * 0.45))
        self.pool("fast", 2048 * GiB, int(2048 * GiB * (0.93 if self.on("CAP-POOL") else 0.5)))
        self.pool("backup", 8192 * GiB, 1024 * GiB, status="DEGRADED" if self.on("CAP-POOL") else "ONLINE")
        if self.on("CAP-POOL"):
            self.plant("CAP-POOL", "fire", "Pool", "fast", "critical")
            self.plant("CAP-POOL", "fire", "Pool", "backup", "critical")
            self.plant("CAP-POOL", "near", "Pool", "tank")
        for d in DRIVERS:
            parts = d["parent"].split("/")
            for i in range(2, len(parts) + 1):
                dsid = "/".join(parts[:i])
                if dsid not in self.ds_by_id:
                    self.dataset(dsid, age=300 * DAY)
            if self.on("CFG-TN") and d["release"] == "zfs-fast":
                continue   # its snapshot parent is missing (configured, never created)
            parts = d["snaps"].split("/")
            for i in range(2, len(parts) + 1):
                dsid = "/".join(parts[:i])
                if dsid not in self.ds_by_id:
                    self.dataset(dsid, age=300 * DAY)
        if self.on("CFG-TN"):
            self.plant("CFG-TN", "fire", "Dataset", "fast/k8s/snaps", "critical")
            self.plant("CFG-TN", "fire", "Service", "iscsitarget", "critical")
            self.plant("CFG-TN", "fire", "Service", "nfs", "warning")    # running, but not started at boot
            self.plant("CFG-TN", "near", "Service", "nvmet")    # stopped, but no NVMe-oF volume needs it
            self.plant("CFG-TN", "near", "Dataset", "tank/k8s/nfs/snaps")
        self.dataset("tank/media", used=200 * GiB, age=400 * DAY)   # not democratic-csi's
        # service.query entries (plugins/service.py: id, service, enable, state, pids)
        cfg = self.on("CFG-TN")
        for svc, state, enable in (("nfs", "RUNNING", not cfg), ("iscsitarget", "STOPPED" if cfg else "RUNNING", not cfg),
                                   ("nvmet", "STOPPED", False), ("cifs", "STOPPED", False)):
            self.tn["services"].append({"id": len(self.tn["services"]) + 1, "service": svc, "enable": enable,
                                        "state": state, "pids": [1234 + len(self.tn["services"])] if state == "RUNNING" else []})

    def pool(self, name, usable, used, status="ONLINE"):
        self.tn["pools"].append({"id": len(self.tn["pools"]) + 1, "name": name, "guid": str(self.rng.getrandbits(63)),
                                 "path": "/mnt/" + name, "status": status, "healthy": status == "ONLINE",
                                 "warning": status != "ONLINE", "status_code": "HEALTHY" if status == "ONLINE" else "DEGRADED",
                                 "status_detail": None if status == "ONLINE" else "One or more devices has experienced an error resulting in data corruption.",
                                 "size": int(usable * 1.34), "allocated": int(used * 1.34), "free": int((usable - used) * 1.34),
                                 "freeing": 0, "fragmentation": "7", "is_decrypted": True})
        self.dataset(name, used=used, avail=usable - used, age=500 * DAY)

    def storageclass(self, name, provisioner, fstype, release=None, reclaim="Delete", expansion=True, params=None):
        sc = {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
              "metadata": self.meta(name, 200 * DAY, annotations={"storageclass.kubernetes.io/is-default-class": "false"}),
              "provisioner": provisioner, "reclaimPolicy": reclaim, "volumeBindingMode": "Immediate",
              "allowVolumeExpansion": expansion, "parameters": dict(params or {"fsType": fstype})}
        if release:
            sc["metadata"]["labels"] = {"app.kubernetes.io/name": "democratic-csi", "app.kubernetes.io/instance": release}
        return sc

    def pods(self, d):
        labels = {"app.kubernetes.io/name": "democratic-csi", "app.kubernetes.io/instance": d["release"]}
        ctl = d["release"] + "-democratic-csi-controller"
        ctl_containers = ["csi-driver", "external-provisioner", "external-attacher", "external-resizer", "external-snapshotter"]
        self.kube["deployments"].append({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": self.meta(ctl, 100 * DAY, NS, labels=dict(labels)),
                                         "spec": {"replicas": 1, "selector": {"matchLabels": dict(labels, **{"app.kubernetes.io/csi-role": "controller"})},
                                                  "template": self.template(labels, "controller", ctl_containers)},
                                         "status": {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1, "updatedReplicas": 1}})
        self.pod(ctl + "-6d9f7c5b8-" + self.rng.choice("abcdefgh") + "x2lq", d, "controller", "worker-1", ctl_containers)
        node = d["release"] + "-democratic-csi-node"
        node_containers = ["csi-driver", "driver-registrar", "cleanup"]
        bad = self.on("HLTH-PODS") and d["release"] == "zfs-iscsi"
        self.kube["daemonsets"].append({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": self.meta(node, 100 * DAY, NS, labels=dict(labels)),
                                        "spec": {"selector": {"matchLabels": dict(labels, **{"app.kubernetes.io/csi-role": "node"})},
                                                 "template": self.template(labels, "node", node_containers)},
                                        "status": {"desiredNumberScheduled": len(self.nodes), "currentNumberScheduled": len(self.nodes),
                                                   "numberReady": len(self.nodes) - (1 if bad else 0), "numberAvailable": len(self.nodes) - (1 if bad else 0),
                                                   "numberMisscheduled": 0, "updatedNumberScheduled": len(self.nodes)}})
        for i, n in enumerate(self.nodes):
            name = "%s-%s" % (node, "".join(self.rng.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5)))
            restarts = 0
            ready = True
            if bad and n == "worker-2":
                ready, restarts = False, 41
                self.plant("HLTH-PODS", "fire", "Pod", name, "warning")
                self.plant("HLTH-PODS", "fire", "DaemonSet", node, "warning")
            if self.on("HLTH-PODS") and d["release"] == "zfs-nfs" and n == "worker-3":
                restarts = 3    # below the restart threshold
                self.plant("HLTH-PODS", "near", "Pod", name)
            self.pod(name, d, "node", n, node_containers, ready, restarts)

    @staticmethod
    def template(labels, role, containers):
        """The pod template of a Deployment or DaemonSet (required by the API: spec.template)."""
        return {"metadata": {"labels": dict(labels, **{"app.kubernetes.io/csi-role": role, "app.kubernetes.io/component": role + "-linux"})},
                "spec": {"containers": [{"name": c, "image": "docker.io/democraticcsi/democratic-csi:v1.9.4"} for c in containers]}}

    def pod(self, name, d, role, node, containers, ready=True, restarts=0):
        labels = {"app.kubernetes.io/name": "democratic-csi", "app.kubernetes.io/instance": d["release"],
                  "app.kubernetes.io/csi-role": role, "app.kubernetes.io/component": role + "-linux"}
        cs = [{"name": c, "ready": ready or c != "csi-driver", "restartCount": restarts if c == "csi-driver" else 0,
               "image": "docker.io/democraticcsi/democratic-csi:v1.9.4", "imageID": "", "started": True,
               "state": {"running": {"startedAt": rfc3339(self.now - 10 * DAY)}} if ready or c != "csi-driver" else
               {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed container"}}} for c in containers]
        self.kube["pods"].append({"apiVersion": "v1", "kind": "Pod", "metadata": self.meta(name, 10 * DAY, NS, labels=labels),
                                  "spec": {"nodeName": node, "containers": [{"name": c, "image": "docker.io/democraticcsi/democratic-csi:v1.9.4"} for c in containers]},
                                  "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                                             "containerStatuses": cs}})

    # ---- one democratic-csi volume, every object of it ----
    def volume(self, d, size, fill=0.4, age=60 * DAY, ns="apps", pvc=None, phase="Bound", pvc_phase="Bound",
               reclaim="Delete", dataset=True, share=True, success=True, instance=None, snapbytes=0,
               attach=True, phase_age=None, volsize=None, refquota=None, refreservation=0, origin="", sc=None,
               driver_csi=None, pvname=None):
        uid = self.uid()
        name = pvname or "pvc-" + uid
        pvc = pvc or "data-%s-%d" % (self.rng.choice(["postgres", "redis", "minio", "gitea", "loki", "kafka"]), self.rng.randint(0, 9))
        csi = driver_csi or d["csi"]
        used = int(size * fill)
        inst = instance if instance is not None else d["instance"]
        v = {"name": name, "driver": d, "size": size, "pvc": pvc, "ns": ns, "dsid": d["parent"] + "/" + name, "ds": None}
        attrs = {"node_attach_driver": d["kind"], "provisioner_driver": d["driver"],
                 "storage.kubernetes.io/csiProvisionerIdentity": "1760000000000-8081-" + csi}
        if inst:
            attrs["provisioner_driver_instance_id"] = inst
        uprops = {"democratic-csi:csi_volume_name": name, "democratic-csi:managed_resource": "true",
                  "democratic-csi:volume_context_provisioner_driver": d["driver"]}
        if inst:
            uprops["democratic-csi:volume_context_provisioner_instance_id"] = inst
        if d["kind"] == "nfs":
            ctx = {"node_attach_driver": "nfs", "server": SERVER, "share": "/mnt/" + v["dsid"]}
        else:
            assets = ("csi-%s-clustera" % name).lower()
            ctx = {"node_attach_driver": "iscsi", "portal": SERVER + ":3260", "portals": "", "interface": "",
                   "iqn": IQN_BASE + ":" + assets, "lun": 0}
            v["assets"] = assets
        attrs.update({k: str(x) for k, x in ctx.items()})
        if dataset:
            if share:
                uprops["democratic-csi:csi_share_volume_context"] = json.dumps(ctx, separators=(",", ":"))
                if d["kind"] == "nfs":
                    self.ids["nfs"] += 1
                    sid = self.ids["nfs"]
                    self.tn["nfs_shares"].append({"id": sid, "path": "/mnt/" + v["dsid"], "aliases": [], "comment": "", "networks": [], "hosts": [],
                                                  "ro": False, "maproot_user": "root", "maproot_group": "root", "mapall_user": None,
                                                  "mapall_group": None, "security": [], "enabled": True, "locked": False})
                    uprops["democratic-csi:freenas_nfs_share_id"] = str(sid)
                    v["share"] = self.tn["nfs_shares"][-1]
                else:
                    for k in ("target", "extent", "te"):
                        self.ids[k] += 1
                    t, e, te = self.ids["target"], self.ids["extent"], self.ids["te"]
                    self.tn["iscsi_targets"].append({"id": t, "name": assets, "alias": None, "mode": "ISCSI",
                                                     "groups": [{"portal": 1, "initiator": 1, "auth": None, "authmethod": "NONE"}]})
                    self.tn["iscsi_extents"].append({"id": e, "name": assets, "type": "DISK", "disk": "zvol/" + v["dsid"], "comment": "",
                                                     "blocksize": 512, "ro": False, "enabled": True, "locked": False})
                    self.tn["iscsi_targetextents"].append({"id": te, "target": t, "lunid": 0, "extent": e})
                    uprops.update({"democratic-csi:freenas_iscsi_target_id": str(t), "democratic-csi:freenas_iscsi_extent_id": str(e),
                                   "democratic-csi:freenas_iscsi_targettoextent_id": str(te),
                                   "democratic-csi:freenas_iscsi_assets_name": assets})
                    v["extent"] = self.tn["iscsi_extents"][-1]
            if success:
                uprops["democratic-csi:provision_success"] = "true"
            if d["kind"] == "nfs":
                v["ds"] = self.dataset(v["dsid"], used=used + snapbytes, avail=max(0, size - used), age=age, uprops=uprops,
                                       refquota=size if refquota is None else refquota, usedbysnapshots=snapbytes, origin=origin)
            else:
                vs = size if volsize is None else volsize
                v["ds"] = self.dataset(v["dsid"], "VOLUME", used=used + snapbytes, avail=0, age=age, uprops=uprops,
                                       volsize=vs, refreservation=refreservation, usedbysnapshots=snapbytes, origin=origin)
        pvcuid = name[4:] if name.startswith("pvc-") else self.uid()
        if pvc_phase is not None:
            claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                     "metadata": self.meta(pvc, age, ns, annotations={"pv.kubernetes.io/bind-completed": "yes",
                                                                       "volume.kubernetes.io/storage-provisioner": csi}),
                     "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": qty(size)}},
                              "storageClassName": sc or d["sc"], "volumeMode": "Filesystem", "volumeName": name},
                     "status": {"phase": pvc_phase, "accessModes": ["ReadWriteOnce"], "capacity": {"storage": qty(size)}}}
            claim["metadata"]["uid"] = pvcuid
            if pvc_phase == "Pending":
                del claim["spec"]["volumeName"]
                claim["status"] = {"phase": "Pending"}
            self.kube["persistentvolumeclaims"].append(claim)
            v["claim"] = claim
        if phase is not None:
            pv = {"apiVersion": "v1", "kind": "PersistentVolume",
                  "metadata": self.meta(name, age, annotations={"pv.kubernetes.io/provisioned-by": csi}, finalizers=["kubernetes.io/pv-protection"]),
                  "spec": {"accessModes": ["ReadWriteOnce"], "capacity": {"storage": qty(size)},
                           "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "name": pvc, "namespace": ns, "uid": pvcuid},
                           "csi": {"driver": csi, "fsType": "nfs" if d["kind"] == "nfs" else "ext4", "volumeHandle": name, "volumeAttributes": attrs},
                           "persistentVolumeReclaimPolicy": reclaim, "storageClassName": sc or d["sc"], "volumeMode": "Filesystem"},
                  "status": {"phase": phase, "lastPhaseTransitionTime": rfc3339(self.now - (phase_age if phase_age is not None else age))}}
            self.kube["persistentvolumes"].append(pv)
            v["pv"] = pv
            if attach and phase == "Bound":
                node = self.rng.choice(self.nodes)
                self.kube["volumeattachments"].append(self.va(csi, node, name, age))
        return v

    def va(self, attacher, node, pvname, age, **status):
        import hashlib
        h = hashlib.sha256(("%s%s%s" % (pvname, attacher, node)).encode()).hexdigest()
        va = {"apiVersion": "storage.k8s.io/v1", "kind": "VolumeAttachment", "metadata": self.meta("csi-" + h, age),
              "spec": {"attacher": attacher, "nodeName": node, "source": {"persistentVolumeName": pvname}},
              "status": {"attached": True, "attachmentMetadata": {}}}
        va["status"].update(status)
        return va

    def volumesnapshot(self, v, age, ready=True, vs_exists=True, zfs=True, policy="Delete", driver=None, detached=False,
                       vsname=None, used=None):
        d = v["driver"]
        vsuid = self.uid()
        snapname = "snapshot-" + vsuid
        handle = v["name"] + ("/" if detached else "@") + snapname
        vsname = vsname or "%s-%s" % (v["pvc"], self.rng.choice(["nightly", "hourly", "weekly", "pre-upgrade"])) + "-%d" % self.rng.randint(0, 99999)
        vscname = "snapcontent-" + vsuid
        used = used if used is not None else self.rng.randint(1, 64) * MiB
        if zfs:
            if detached:
                self.dataset(d["snaps"] + "/" + handle, v["ds"]["type"], used=used, age=age,
                             uprops={"democratic-csi:managed_resource": "true", "democratic-csi:csi_snapshot_name": snapname,
                                     "democratic-csi:csi_snapshot_source_volume_id": v["name"], "democratic-csi:provision_success": "true"},
                             volsize=v["size"], refquota=0)
            else:
                self.snapshot(v["dsid"], snapname, age, used, csi=snapname)
        vsc = {"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotContent",
               "metadata": self.meta(vscname, age, finalizers=["snapshot.storage.kubernetes.io/volumesnapshotcontent-bound-protection"]),
               "spec": {"deletionPolicy": policy, "driver": driver or d["csi"], "source": {"volumeHandle": v["name"]},
                        "sourceVolumeMode": "Filesystem", "volumeSnapshotClassName": d["vsc"] or "freenas-iscsi-csi",
                        "volumeSnapshotRef": {"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
                                              "name": vsname, "namespace": v["ns"], "uid": vsuid}},
               "status": {"creationTime": (self.now - age) * 1000000000, "readyToUse": ready, "restoreSize": v["size"],
                          "snapshotHandle": handle}}
        if not ready:
            del vsc["status"]["snapshotHandle"]
        self.kube["volumesnapshotcontents"].append(vsc)
        if vs_exists:
            vs = {"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot", "metadata": self.meta(vsname, age, v["ns"]),
                  "spec": {"source": {"persistentVolumeClaimName": v["pvc"]}, "volumeSnapshotClassName": d["vsc"] or "freenas-iscsi-csi"},
                  "status": {"boundVolumeSnapshotContentName": vscname, "creationTime": rfc3339(self.now - age),
                             "readyToUse": ready, "restoreSize": qty(v["size"])}}
            vs["metadata"]["uid"] = vsuid
            if not ready:
                vs["status"]["error"] = {"time": rfc3339(self.now - age), "message": "Failed to check and update snapshot content: rpc error: code = Internal"}
            self.kube["volumesnapshots"].append(vs)
        return {"vs": vsname, "vsc": vscname, "handle": handle, "snap": v["dsid"] + "@" + snapname}

    # ---- the world ----
    def build(self):
        rng = self.rng
        sizes = [1 * GiB, 2 * GiB, 5 * GiB, 10 * GiB, 20 * GiB, 50 * GiB]
        plan = [rng.choice(sizes) for _ in range(self.n_pvs)]
        self.scaffold(sum(plan))
        tankdrv = [DRIVERS[0], DRIVERS[0], DRIVERS[1]]
        for i, size in enumerate(plan):
            d = tankdrv[i % 3]
            self.vols.append(self.volume(d, size, fill=rng.uniform(0.05, 0.7), age=rng.randint(2, 400) * DAY,
                                         ns=rng.choice(["apps", "db", "monitoring", "ci"]),
                                         refreservation=0 if d["kind"] == "iscsi" and i % 2 else (size if d["kind"] == "iscsi" else 0)))
        # VolumeSnapshots spread over the volumes, each a CSI ZFS snapshot
        vols = self.vols or []
        nvs = self.n_vs if vols else 0
        for i in range(nvs):
            v = vols[(i * 7) % len(vols)]
            if v["driver"]["vsc"] is None:
                v = vols[0]
            self.volumesnapshot(v, rng.randint(2, 25) * DAY)
        # the remaining ZFS snapshots: foreign (sanoid / periodic task), inherited props
        nforeign = max(0, self.n_snaps - nvs)
        for i in range(nforeign):
            v = vols[(i * 13) % len(vols)] if vols else None
            if v is None:
                break
            age = (i % 48 + 1) * HOUR
            self.snapshot(v["dsid"], "auto-%s" % time.strftime("%Y-%m-%d_%H-%M", time.gmtime(self.now - age - (i // 48) * 60)),
                          age, rng.randint(0, 8) * MiB)
        self.plant_all()
        return self

    def plant_all(self):
        nfs, iscsi, fast = DRIVERS
        on = self.on
        # a driver of another vendor (NFS subdir), with its own StorageClass and PVs
        other = {"release": None, "csi": "nfs.csi.k8s.io", "driver": "nfs", "kind": "nfs", "pool": "tank",
                 "parent": "tank/other/vols", "snaps": "tank/other/snaps", "instance": "", "sc": "nfs-subdir", "vsc": None}
        if any(on(c) for c in ("ORPH-PV", "ORPH-PVC", "CFG-SC", "ORPH-VA", "SNAP-MISSING")):
            self.kube["storageclasses"].append(self.storageclass("nfs-subdir", "nfs.csi.k8s.io", "ext4", params={"fsType": "ext4", "server": "nfs.example"}))
            if on("CFG-SC"):
                self.plant("CFG-SC", "near", "StorageClass", "nfs-subdir")
        if on("ORPH-PV"):
            v = self.volume(nfs, 10 * GiB, dataset=False, age=20 * DAY)
            self.plant("ORPH-PV", "fire", "PersistentVolume", v["name"], "critical")
            v = self.volume(iscsi, 5 * GiB, dataset=False, age=20 * DAY, phase="Available", pvc_phase=None, attach=False)
            self.plant("ORPH-PV", "fire", "PersistentVolume", v["name"], "warning")
            v = self.volume(other, 10 * GiB, dataset=False, age=20 * DAY, driver_csi="nfs.csi.k8s.io", sc="nfs-subdir")
            self.plant("ORPH-PV", "near", "PersistentVolume", v["name"])
            v = self.volume(nfs, 10 * GiB, dataset=False, age=600)     # inside its grace period (1 h)
            self.plant("ORPH-PV", "near", "PersistentVolume", v["name"])
            # a static node-manual PV has no dataset by design
            v = self.volume(nfs, 10 * GiB, dataset=False, age=20 * DAY)
            v["pv"]["spec"]["csi"]["volumeAttributes"]["provisioner_driver"] = "node-manual"
            v["pv"]["spec"]["csi"]["volumeHandle"] = "manual-" + v["name"]
            self.plant("ORPH-PV", "near", "PersistentVolume", v["name"])
        if on("ORPH-DS"):
            v = self.volume(nfs, 5 * GiB, phase=None, pvc_phase=None, age=40 * DAY)
            self.plant("ORPH-DS", "fire", "Dataset", v["dsid"], "warning")
            v = self.volume(nfs, 5 * GiB, phase=None, pvc_phase=None, age=40 * DAY, instance="clusterb-nfs")
            self.plant("ORPH-DS", "near", "Dataset", v["dsid"], allow="info")
            v = self.volume(iscsi, 5 * GiB, phase=None, pvc_phase=None, age=900)
            self.plant("ORPH-DS", "near", "Dataset", v["dsid"])
        if on("ORPH-PROV"):
            v = self.volume(nfs, 5 * GiB, phase=None, pvc_phase=None, age=3 * DAY, success=False, share=False)
            self.plant("ORPH-PROV", "fire", "Dataset", v["dsid"], "warning")
            v = self.volume(nfs, 5 * GiB, phase=None, pvc_phase="Pending", age=120, success=False, share=False)
            self.plant("ORPH-PROV", "near", "Dataset", v["dsid"])
            self.plant("SHARE-MISSING", "near", "Dataset", v["dsid"])
        if on("ORPH-REL"):
            v = self.volume(nfs, 5 * GiB, phase="Released", pvc_phase=None, reclaim="Delete", age=400 * DAY, phase_age=330 * DAY)
            self.plant("ORPH-REL", "fire", "PersistentVolume", v["name"], "warning")
            v = self.volume(iscsi, 5 * GiB, phase="Released", pvc_phase=None, reclaim="Retain", age=100 * DAY, phase_age=30 * DAY)
            self.plant("ORPH-REL", "fire", "PersistentVolume", v["name"], "info")
            v = self.volume(nfs, 5 * GiB, phase="Released", pvc_phase=None, reclaim="Retain", age=100 * DAY, phase_age=1 * DAY)
            self.plant("ORPH-REL", "near", "PersistentVolume", v["name"])
        if on("ORPH-PVC"):
            v = self.volume(nfs, 5 * GiB, dataset=False, phase=None, pvc_phase="Pending", age=2 * HOUR)
            self.plant("ORPH-PVC", "fire", "PersistentVolumeClaim", v["pvc"], "critical")
            v = self.volume(iscsi, 5 * GiB, dataset=False, phase=None, pvc_phase="Pending", age=30 * 60)
            self.plant("ORPH-PVC", "fire", "PersistentVolumeClaim", v["pvc"], "warning")
            v = self.volume(nfs, 5 * GiB, dataset=False, phase=None, pvc_phase="Pending", age=5 * 60)
            self.plant("ORPH-PVC", "near", "PersistentVolumeClaim", v["pvc"])
            v = self.volume(other, 5 * GiB, dataset=False, phase=None, pvc_phase="Pending", age=5 * HOUR, sc="nfs-subdir", driver_csi="nfs.csi.k8s.io")
            self.plant("ORPH-PVC", "near", "PersistentVolumeClaim", v["pvc"])
        if on("ORPH-VA"):
            va = self.va(iscsi["csi"], "worker-gone", self.vols[2]["name"] if len(self.vols) > 2 else "pvc-x", 90 * DAY,
                         detachError={"time": rfc3339(self.now - 2 * DAY), "message": "rpc error: code = Unavailable desc = node not found"})
            va["metadata"]["deletionTimestamp"] = rfc3339(self.now - 2 * DAY)
            self.kube["volumeattachments"].append(va)
            self.plant("ORPH-VA", "fire", "VolumeAttachment", va["metadata"]["name"], "warning")
            va = self.va(nfs["csi"], "worker-1", "pvc-00000000-dead-4000-8000-000000000001", 10 * DAY)
            self.kube["volumeattachments"].append(va)
            self.plant("ORPH-VA", "fire", "VolumeAttachment", va["metadata"]["name"], "warning")
            va = self.va("nfs.csi.k8s.io", "worker-1", "pvc-00000000-dead-4000-8000-000000000002", 10 * DAY)
            self.kube["volumeattachments"].append(va)
            self.plant("ORPH-VA", "near", "VolumeAttachment", va["metadata"]["name"])
            if len(self.vols) > 1:
                va = self.va(nfs["csi"], "worker-2", self.vols[1]["name"] if self.vols[1]["driver"] is nfs else self.vols[0]["name"], 60)
                va["metadata"]["deletionTimestamp"] = rfc3339(self.now - 30)   # detaching right now
                self.kube["volumeattachments"].append(va)
                self.plant("ORPH-VA", "near", "VolumeAttachment", va["metadata"]["name"])
        if on("ORPH-SHARE"):
            self.ids["nfs"] += 1
            gone = nfs["parent"] + "/pvc-0ddba11e-0000-4000-8000-00000000000a"
            self.tn["nfs_shares"].append({"id": self.ids["nfs"], "path": "/mnt/" + gone, "aliases": [], "comment": "", "networks": [], "hosts": [],
                                          "ro": False, "maproot_user": "root", "maproot_group": "root", "mapall_user": None, "mapall_group": None,
                                          "security": [], "enabled": True, "locked": False})
            self.plant("ORPH-SHARE", "fire", "NFSShare", "/mnt/" + gone, "warning")
            self.ids["extent"] += 1
            self.tn["iscsi_extents"].append({"id": self.ids["extent"], "name": "csi-pvc-deadbeef-0000-4000-8000-000000000000-clustera", "type": "DISK",
                                             "disk": "zvol/" + iscsi["parent"] + "/pvc-deadbeef-0000-4000-8000-000000000000", "comment": "",
                                             "blocksize": 512, "ro": False, "enabled": True, "locked": False})
            self.plant("ORPH-SHARE", "fire", "ISCSIExtent", self.tn["iscsi_extents"][-1]["name"], "warning")
            self.ids["target"] += 1
            self.tn["iscsi_targets"].append({"id": self.ids["target"], "name": "csi-pvc-feedface-0000-4000-8000-000000000000-clustera", "alias": None,
                                             "mode": "ISCSI", "groups": [{"portal": 1, "initiator": 1, "auth": None, "authmethod": "NONE"}]})
            self.plant("ORPH-SHARE", "fire", "ISCSITarget", self.tn["iscsi_targets"][-1]["name"], "warning")
            # not democratic-csi's: a share outside every dataset parent, a hand-made target
            self.ids["nfs"] += 1
            self.tn["nfs_shares"].append({"id": self.ids["nfs"], "path": "/mnt/tank/media/old", "aliases": [], "comment": "media", "networks": [],
                                          "hosts": [], "ro": True, "maproot_user": None, "maproot_group": None, "mapall_user": None,
                                          "mapall_group": None, "security": [], "enabled": True, "locked": False})
            self.plant("ORPH-SHARE", "near", "NFSShare", "/mnt/tank/media/old")
            self.ids["target"] += 1
            self.tn["iscsi_targets"].append({"id": self.ids["target"], "name": "backup-lun", "alias": "manual", "mode": "ISCSI", "groups": []})
            self.plant("ORPH-SHARE", "near", "ISCSITarget", "backup-lun")
            # SMB: a share of a gone volume under a dataset parent; a user share elsewhere
            self.tn["smb_shares"].append({"id": 1, "name": "csi-gone", "path": "/mnt/" + nfs["parent"] + "/pvc-5ca1ab1e-0000-4000-8000-00000000000b",
                                          "enabled": True, "locked": False, "purpose": "NO_PRESET", "comment": ""})
            self.plant("ORPH-SHARE", "fire", "SMBShare", self.tn["smb_shares"][-1]["path"], "warning")
            self.tn["smb_shares"].append({"id": 2, "name": "media", "path": "/mnt/tank/media/smb", "enabled": True, "locked": False,
                                          "purpose": "NO_PRESET", "comment": ""})
            self.plant("ORPH-SHARE", "near", "SMBShare", "/mnt/tank/media/smb")
            # a target-extent whose target is gone; a healthy one (ids are numbers, as the API sends them)
            self.ids["te"] += 1
            self.tn["iscsi_targetextents"].append({"id": self.ids["te"], "target": 9999, "lunid": 0, "extent": self.ids["extent"]})
            self.plant("ORPH-SHARE", "fire", "ISCSITargetExtent", str(self.ids["te"]), "warning")
            if self.tn["iscsi_targetextents"][0]["target"] != 9999:
                self.plant("ORPH-SHARE", "near", "ISCSITargetExtent", str(self.tn["iscsi_targetextents"][0]["id"]))
        if on("SHARE-MISSING"):
            v = self.volume(nfs, 5 * GiB, age=30 * DAY)
            self.tn["nfs_shares"].remove(v["share"])
            self.plant("SHARE-MISSING", "fire", "PersistentVolume", v["name"], "critical")
            v = self.volume(iscsi, 5 * GiB, age=30 * DAY)
            v["extent"]["enabled"] = False
            self.plant("SHARE-MISSING", "fire", "PersistentVolume", v["name"], "critical")
            # an SMB volume whose share id points nowhere (freenas_smb_share_id)
            v = self.volume(nfs, 5 * GiB, age=30 * DAY)
            self.tn["nfs_shares"].remove(v["share"])
            del v["ds"]["user_properties"]["democratic-csi:freenas_nfs_share_id"]
            v["ds"]["user_properties"]["democratic-csi:freenas_smb_share_id"] = dprop("77", "LOCAL")
            self.plant("SHARE-MISSING", "fire", "PersistentVolume", v["name"], "critical")
        if on("SNAP-ORPH") or on("SNAP-MISSING") or on("SNAP-DANGLING"):
            sv = self.volume(nfs, 10 * GiB, age=100 * DAY)
        if on("SNAP-ORPH"):
            s = self.snapshot(sv["dsid"], "snapshot-" + self.uid(), 10 * DAY, 7 * MiB, csi=None)
            s["properties"]["democratic-csi:csi_snapshot_name"] = sprop(s["snapshot_name"], "LOCAL")
            s["properties"]["democratic-csi:managed_resource"] = sprop("true", "LOCAL")
            self.plant("SNAP-ORPH", "fire", "Snapshot", s["id"], "warning")
            s = self.snapshot(sv["dsid"], "auto-2025-11-01_00-00", 10 * DAY, 7 * MiB)   # foreign: inherited props only
            self.plant("SNAP-ORPH", "near", "Snapshot", s["id"])
            s = self.snapshot(sv["dsid"], "snapshot-" + self.uid(), 60, 1 * MiB, csi=None)
            s["properties"]["democratic-csi:csi_snapshot_name"] = sprop(s["snapshot_name"], "LOCAL")
            self.plant("SNAP-ORPH", "near", "Snapshot", s["id"])                       # being created (grace)
            # a detached snapshot dataset whose VSC is gone
            self.dataset(nfs["snaps"] + "/" + sv["name"], age=30 * DAY)
            dname = nfs["snaps"] + "/" + sv["name"] + "/snapshot-" + self.uid()
            self.dataset(dname, used=3 * GiB, age=30 * DAY, uprops={"democratic-csi:managed_resource": "true",
                                                                   "democratic-csi:csi_snapshot_name": dname.rsplit("/", 1)[1],
                                                                   "democratic-csi:csi_snapshot_source_volume_id": sv["name"],
                                                                   "democratic-csi:provision_success": "true"})
            self.plant("SNAP-ORPH", "fire", "Dataset", dname, "warning")
        if on("SNAP-MISSING"):
            r = self.volumesnapshot(sv, 5 * DAY, zfs=False)
            self.plant("SNAP-MISSING", "fire", "VolumeSnapshotContent", r["vsc"], "critical")
            r = self.volumesnapshot(sv, 5 * DAY, zfs=False, vs_exists=False, policy="Retain")
            self.plant("SNAP-MISSING", "fire", "VolumeSnapshotContent", r["vsc"], "warning")
            self.plant("SNAP-DANGLING", "fire", "VolumeSnapshotContent", r["vsc"], "info")
            r = self.volumesnapshot(sv, 5 * DAY, zfs=False, driver="nfs.csi.k8s.io")
            self.plant("SNAP-MISSING", "near", "VolumeSnapshotContent", r["vsc"])
            r = self.volumesnapshot(sv, 5 * DAY, detached=True)
            self.plant("SNAP-MISSING", "near", "VolumeSnapshotContent", r["vsc"])
            self.plant("SNAP-ORPH", "near", "Dataset", nfs["snaps"] + "/" + r["handle"])
        if on("SNAP-DANGLING"):
            r = self.volumesnapshot(sv, 3 * DAY, vs_exists=False, policy="Delete")
            self.plant("SNAP-DANGLING", "fire", "VolumeSnapshotContent", r["vsc"], "warning")
            r = self.volumesnapshot(sv, 2 * DAY, ready=False, zfs=False)
            self.plant("SNAP-DANGLING", "fire", "VolumeSnapshot", r["vs"], "warning")
            r = self.volumesnapshot(sv, 0, ready=False, zfs=False)
            self.kube["volumesnapshotcontents"][-1]["metadata"]["creationTimestamp"] = rfc3339(self.now - 60)
            self.plant("SNAP-DANGLING", "near", "VolumeSnapshot", r["vs"])
            self.plant("SNAP-MISSING", "near", "VolumeSnapshotContent", r["vsc"])
        if on("SNAP-COUNT"):
            v = self.volume(nfs, 10 * GiB, age=200 * DAY)
            for i in range(210):
                self.volumesnapshot(v, 2 * DAY + i * 60, used=MiB)
            self.plant("SNAP-COUNT", "fire", "PersistentVolume", v["name"], "critical")
            v = self.volume(nfs, 10 * GiB, age=200 * DAY)
            for i in range(50):
                self.volumesnapshot(v, 2 * DAY + i * 60, used=MiB)
            for i in range(80):
                self.snapshot(v["dsid"], "auto-%03d" % i, 3 * DAY + i * HOUR, MiB)
            self.plant("SNAP-COUNT", "near", "PersistentVolume", v["name"])
        if on("SNAP-AGE"):
            v = self.volume(iscsi, 10 * GiB, age=200 * DAY)
            self.volumesnapshot(v, 45 * DAY)
            self.volumesnapshot(v, 1 * DAY)
            self.plant("SNAP-AGE", "fire", "PersistentVolume", v["name"], "warning")
            v = self.volume(iscsi, 10 * GiB, age=200 * DAY)
            self.volumesnapshot(v, 29 * DAY)
            self.snapshot(v["dsid"], "auto-monthly-2025-01", 120 * DAY, MiB)   # old but foreign
            self.plant("SNAP-AGE", "near", "PersistentVolume", v["name"])
        if on("SNAP-SPACE"):
            v = self.volume(nfs, 10 * GiB, age=100 * DAY, snapbytes=6 * GiB, fill=0.3)
            self.plant("SNAP-SPACE", "fire", "PersistentVolume", v["name"], "warning")
            v = self.volume(nfs, 10 * GiB, age=100 * DAY, snapbytes=4 * GiB, fill=0.3)
            self.plant("SNAP-SPACE", "near", "PersistentVolume", v["name"])
        if on("SNAP-FOREIGN"):
            v = self.volume(nfs, 5 * GiB, age=100 * DAY)
            self.snapshot(v["dsid"], "auto-2025-12-01_00-00", 3 * DAY, MiB)
            self.plant("SNAP-FOREIGN", "fire", "PersistentVolume", v["name"], "info")
            v = self.volume(nfs, 5 * GiB, age=100 * DAY, phase="Released", pvc_phase=None, reclaim="Delete", phase_age=2 * DAY)
            self.snapshot(v["dsid"], "auto-2025-12-01_00-00", 3 * DAY, MiB)
            self.plant("SNAP-FOREIGN", "fire", "PersistentVolume", v["name"], "warning")
            self.plant("ORPH-REL", "near", "PersistentVolume", v["name"])
            v = self.volume(nfs, 5 * GiB, age=100 * DAY)
            self.volumesnapshot(v, 3 * DAY)
            self.plant("SNAP-FOREIGN", "near", "PersistentVolume", v["name"])
            s = self.snapshot("tank/media", "auto-2025-12-01_00-00", 3 * DAY, MiB, managed=False)
            self.plant("SNAP-FOREIGN", "near", "Dataset", "tank/media")
        if on("SNAP-CLONE"):
            src = self.volume(nfs, 10 * GiB, age=100 * DAY)
            r = self.volumesnapshot(src, 10 * DAY)
            clone = self.volume(nfs, 10 * GiB, age=9 * DAY, origin=r["snap"])
            clone["ds"]["user_properties"]["democratic-csi:csi_volume_content_source_type"] = dprop("snapshot", "LOCAL")
            clone["ds"]["user_properties"]["democratic-csi:csi_volume_content_source_id"] = dprop(r["handle"], "LOCAL")
            self.plant("SNAP-CLONE", "fire", "Snapshot", r["snap"], "info")
            leak = self.snapshot(src["dsid"], "volume-source-for-volume-pvc-" + self.uid(), 5 * DAY, MiB, managed=True)
            self.plant("SNAP-CLONE", "fire", "Snapshot", leak["id"], "warning")
            self.plant("SNAP-FOREIGN", "near", "PersistentVolume", src["name"])   # temp snapshots are CSI's own
            clone2name = "pvc-" + self.uid()
            tmp = self.snapshot(src["dsid"], "volume-source-for-volume-" + clone2name, 2 * DAY, MiB, managed=True)
            c2 = self.volume(nfs, 10 * GiB, age=2 * DAY, origin=tmp["id"], pvname=clone2name)
            c2["ds"]["user_properties"]["democratic-csi:csi_volume_content_source_type"] = dprop("volume", "LOCAL")
            self.plant("SNAP-CLONE", "near", "Snapshot", tmp["id"])
            young = self.snapshot(src["dsid"], "volume-source-for-volume-pvc-" + self.uid(), 120, MiB, managed=True)
            self.plant("SNAP-CLONE", "near", "Snapshot", young["id"])
        if on("CAP-OVERCOMMIT") or on("CAP-SPARSE") or on("CAP-POOL"):
            # pool fast (2 TiB usable) carries 5 TiB of sparse zvols: overcommit 2.5, sparse exposure > available
            for i in range(5):
                self.volume(fast, 1024 * GiB, fill=0.15, age=50 * DAY, refreservation=0)
            self.plant("CAP-OVERCOMMIT", "fire", "Pool", "fast", "critical")
            self.plant("CAP-OVERCOMMIT", "near", "Pool", "tank")
            self.plant("CAP-SPARSE", "fire", "Pool", "fast", "warning")
            self.plant("CAP-SPARSE", "near", "Pool", "tank")
        if on("CAP-VOL"):
            v = self.volume(nfs, 10 * GiB, fill=0.97, age=50 * DAY)
            self.plant("CAP-VOL", "fire", "PersistentVolume", v["name"], "critical")
            v = self.volume(iscsi, 10 * GiB, fill=0.90, age=50 * DAY)
            self.plant("CAP-VOL", "fire", "PersistentVolume", v["name"], "warning")
            v = self.volume(nfs, 10 * GiB, fill=0.84, age=50 * DAY)
            self.plant("CAP-VOL", "near", "PersistentVolume", v["name"])
        if on("CAP-SIZE"):
            v = self.volume(iscsi, 20 * GiB, volsize=10 * GiB, fill=0.2, age=50 * DAY)   # expansion never reached the zvol
            self.plant("CAP-SIZE", "fire", "PersistentVolume", v["name"], "critical")
            v = self.volume(nfs, 10 * GiB, refquota=0, fill=0.2, age=50 * DAY)           # datasetEnableQuotas: false
            self.plant("CAP-SIZE", "fire", "PersistentVolume", v["name"], "info")
            v = self.volume(iscsi, 1000000000, volsize=1000013824, fill=0.2, age=50 * DAY)  # rounded up to 16K volblocksize
            self.plant("CAP-SIZE", "near", "PersistentVolume", v["name"])
            v = self.volume(nfs, 500 * MiB, refquota=1 * GiB, fill=0.2, age=50 * DAY)      # API minimum 1 GiB
            self.plant("CAP-SIZE", "near", "PersistentVolume", v["name"])
        if on("CFG-DRIVER"):
            self.kube["storageclasses"].append(self.storageclass("freenas-smb-csi", "org.democratic-csi.smb", "cifs", "zfs-smb"))
            self.plant("CFG-DRIVER", "fire", "CSIDriver", "org.democratic-csi.smb", "critical")
            self.plant("CFG-DRIVER", "near", "CSIDriver", "nfs.csi.k8s.io")
        if on("CFG-SC"):
            self.kube["storageclasses"].append(self.storageclass("freenas-nfs-broken", nfs["csi"], "ext4", "zfs-nfs"))
            self.plant("CFG-SC", "fire", "StorageClass", "freenas-nfs-broken", "warning")
            self.kube["storageclasses"].append(self.storageclass("freenas-iscsi-retain", iscsi["csi"], "xfs", "zfs-iscsi", reclaim="Retain"))
            self.plant("CFG-SC", "fire", "StorageClass", "freenas-iscsi-retain", "info")
            self.kube["volumesnapshotclasses"].append({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotClass",
                                                       "metadata": self.meta("freenas-nfs-odd", 100 * DAY), "driver": nfs["csi"],
                                                       "deletionPolicy": "Delete", "parameters": {"detachedSnapshots": "yes"}})
            self.plant("CFG-SC", "fire", "VolumeSnapshotClass", "freenas-nfs-odd", "warning")
            self.plant("CFG-SC", "near", "StorageClass", nfs["sc"])


def qty(n):
    if n % GiB == 0:
        return "%dGi" % (n // GiB)
    if n % MiB == 0:
        return "%dMi" % (n // MiB)
    return str(n)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--pvs", type=int, default=30, help="healthy democratic-csi volumes (PV + PVC + dataset + share)")
    ap.add_argument("--snapshots", type=int, default=60, help="ZFS snapshots on them in all (CSI for each VolumeSnapshot, the rest foreign)")
    ap.add_argument("--volumesnapshots", type=int, default=10)
    ap.add_argument("--now", type=int, default=None, help="unix seconds the world is built around (default: now)")
    ap.add_argument("--plants", default="all", help="all, none, or check ids (comma separated) to plant firing + near-miss cases for")
    ap.add_argument("--version", default="TrueNAS-25.10.1")
    ap.add_argument("--without", default="", help="kube resources to leave out (not installed), comma separated, e.g. volumesnapshots,volumesnapshotcontents,volumesnapshotclasses")
    ap.add_argument("-o", "--output", default="-")
    a = ap.parse_args()
    if a.plants == "all":
        plants = set(CHECKS)
    elif a.plants == "none":
        plants = set()
    else:
        plants = set(x.strip() for x in a.plants.split(",") if x.strip())
        bad = plants - set(CHECKS)
        if bad:
            ap.error("unknown check id(s): " + ",".join(sorted(bad)))
    w = World(a.seed, a.now if a.now is not None else time.time(), a.pvs, a.snapshots, a.volumesnapshots, plants, a.version).build()
    for k in a.without.split(","):
        if k.strip():
            w.kube.pop(k.strip(), None)
    doc = {"kube": w.kube, "truenas": w.tn,
           "scenario": {"seed": a.seed, "now": w.now,
                        "config": {"drivers": [d["csi"] for d in DRIVERS] + (["org.democratic-csi.smb"] if "CFG-DRIVER" in plants else []),
                                   "dataset_parents": [d["parent"] for d in DRIVERS],
                                   "snapshot_parents": [d["snaps"] for d in DRIVERS],
                                   "instance_ids": [d["instance"] for d in DRIVERS]},
                        "plants": {c: p for c, p in w.plants.items() if c in plants}}}
    out = sys.stdout if a.output == "-" else open(a.output, "w")
    json.dump(doc, out, separators=(",", ":"), sort_keys=True)
    out.write("\n")
    if out is not sys.stdout:
        out.close()


if __name__ == "__main__":
    main()
