#!/usr/bin/env python3
"""Stateful Hyperstack (NexGen Cloud Infrahub REST API) simulator for spot-agg; stdlib only.

    hyperstack.py [--world FILE] [--latency-ms MS] [--fault SPEC]... [--max-seconds S]

Prints `READY http://127.0.0.1:PORT` first; the API base (what spot-agg is given) is that
URL + "/v1".  Options, faults and the /_sim/ control endpoints: see extsim.py.

Serves (header `api_key: <key>`, no prefix; a missing or wrong key -> 401 with the SDK's
ErrorResponseModel {"status": false, "message": ..., "error_reason": ...}):
  GET /v1/core/virtual-machines?page=N&pageSize=M   (also search=, environment=)
      {"status": true, "message": "Getting VMs successful", "page": N, "page_size": M,
       "count": <VMs on this page, or all of them with "count_mode": "total">,
       "instances": [InstanceFields...]}   oldest first; pageSize defaults to 20, capped at
       "max_page_size" (100); a page past the end has no instances
  GET /v1/core/flavors   {"status": true, "message": ..., "data": [{"gpu", "region_name",
       "flavors": [InstanceFlavorFields...]}]} (the flavors the VMs use)
VM objects carry only fields of the SDK models (Instances, InstanceFields, InstanceFlavorFields,
InstanceEnvironmentFields of NexGenCloud/hyperstack-sdk-python; tests/schemas/spot/README.md);
tests/tool/spotext-drift.t validates what this serves against that subset.

World (the "hyperstack" key of a world file, or the whole file):
  {"api_key": "hs-test-key", "max_page_size": 100, "count_mode": "page",
   "ignore_paging": false,                              # true: every page is page 1
   "vms": [{"name": "rent-in-1", "status": "ACTIVE", "gpu": "H100-80G-PCIe", "gpu_count": 8,
            "flavor": "n3-H100x8", "region": "CANADA-1", "environment": "spot", "id": 11}],
   "faults": [...]}
"""
import json
import sys
import zlib

import extsim


class Hyperstack:
    def __init__(self):
        self.world = {}
        self.load({})

    def load(self, w):
        w = dict(w or {})
        w.setdefault("api_key", "hs-test-key")
        w.setdefault("max_page_size", 100)
        w.setdefault("count_mode", "page")
        vms = []
        for i, v in enumerate(w.get("vms", [])):
            v = dict(v)
            v.setdefault("id", 1000 + i)
            v.setdefault("name", "vm-%d" % v["id"])
            v.setdefault("status", "ACTIVE")
            v.setdefault("gpu", "")
            v.setdefault("gpu_count", 0)
            v.setdefault("flavor", ("n3-%sx%d" % (v["gpu"], v["gpu_count"])) if v["gpu"] else "n1-cpu-small")
            v.setdefault("region", "CANADA-1")
            v.setdefault("environment", "default-" + v["region"])
            vms.append(v)
        w["vms"] = vms
        self.world = w

    def fault(self, kind, req):
        return None

    @staticmethod
    def flavor(v):
        gpus = v["gpu_count"]
        return {"id": zlib.crc32(v["flavor"].encode()) % 1000, "name": v["flavor"], "cpu": 4 + 28 * gpus,
                "ram": 16.0 + 180.0 * gpus, "disk": 100, "ephemeral": 750 if gpus else 0,
                "gpu": v["gpu"], "gpu_count": gpus, "labels": [], "features": {}}

    def instance(self, v):
        power = "RUNNING" if v["status"] == "ACTIVE" else "SHUTDOWN"
        return {
            "id": v["id"], "name": v["name"], "status": v["status"], "power_state": power,
            "vm_state": v["status"].lower(), "callback_url": None, "contract_id": None,
            "created_at": "2026-11-02T10:00:00", "fixed_ip": "10.0.0.%d" % (v["id"] % 250 + 2),
            "floating_ip": None, "floating_ip_status": "NOT_ATTACHED", "locked": False,
            "labels": [], "features": {}, "os": "Ubuntu Server 22.04 LTS",
            "port_randomization": False, "port_randomization_status": None,
            "requires_public_ip": False, "security_rules": [], "volume_attachments": [],
            "environment": {"id": zlib.crc32(v["environment"].encode()) % 1000, "name": v["environment"],
                            "org_id": 42, "region": v["region"],
                            "features": {"green_status": "GREEN", "network_optimised": False}},
            "flavor": self.flavor(v),
        }

    def handle(self, req):
        if req.header("api_key") != self.world["api_key"]:
            return 401, {}, json.dumps({"status": False, "message": "Invalid API key",
                                        "error_reason": "Unauthorized"}).encode()
        q = extsim.query_lists(req.query)
        if req.path == "/v1/core/virtual-machines" and req.method == "GET":
            try:
                page = int(q.get("page", ["1"])[0])
                size = int(q.get("pageSize", ["20"])[0])
            except ValueError:
                return 400, {}, json.dumps({"status": False, "message": "page and pageSize must be integers",
                                            "error_reason": "Bad Request"}).encode()
            if page < 1 or size < 1:
                return 400, {}, json.dumps({"status": False, "message": "page and pageSize must be positive",
                                            "error_reason": "Bad Request"}).encode()
            size = min(size, self.world["max_page_size"])
            if self.world.get("ignore_paging"):
                page = 1  # a broken API that always answers the first page
            vms = sorted(self.world["vms"], key=lambda v: v["id"])
            if "search" in q:
                vms = [v for v in vms if q["search"][0] in v["name"] or q["search"][0] == str(v["id"])]
            if "environment" in q:
                vms = [v for v in vms if q["environment"][0] in v["environment"]]
            chunk = vms[(page - 1) * size:page * size]
            body = {"status": True, "message": "Getting VMs successful", "page": page, "page_size": size,
                    "count": len(vms) if self.world["count_mode"] == "total" else len(chunk),
                    "instances": [self.instance(v) for v in chunk]}
            return 200, {}, json.dumps(body).encode()
        if req.path == "/v1/core/flavors" and req.method == "GET":
            groups = {}
            for v in self.world["vms"]:
                groups.setdefault((v["gpu"], v["region"]), {})[v["flavor"]] = self.flavor(v)
            data = [{"gpu": g, "region_name": r, "flavors": list(f.values())} for (g, r), f in sorted(groups.items())]
            return 200, {}, json.dumps({"status": True, "message": "Success", "data": data}).encode()
        return 404, {}, json.dumps({"status": False, "message": "Not found", "error_reason": "Not Found"}).encode()


if __name__ == "__main__":
    sys.exit(extsim.main(Hyperstack(), "hyperstack", "Hyperstack simulator"))
