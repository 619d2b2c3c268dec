#!/usr/bin/env python3
"""Seeds for tests/sim/openstack.py: GPU clouds for spot-agg.

    spot_scenario.py small [--variant base|conflict|nonadmin] > seed.json
    spot_scenario.py large [--hosts 1000] [--aggregates 20] [--children 4] [--vms 8000] > seed.json

small: the hand-checked cloud of tests/cases/spot-agg (numbers in the comments below);
large: the bench cloud (every host in one of the aggregates "<TYPE>-<pool>", every host with
`children` GPU child providers of CUSTOM_PCI_10DE_2330 x 2, VMs spread round-robin, each
VM holding one GPU through an allocation on a child of its host)."""
import argparse
import json
import sys

ADMIN = {"projects": [{"name": "admin"}, {"name": "demo"}],
         "users": [{"name": "admin", "password": "secret", "roles": {"admin": "admin"}},
                   {"name": "viewer", "password": "secret", "roles": {"demo": "member"}}]}
PCI = "CUSTOM_PCI_10DE_2330"


def hyp(host, fqdn=None, state="up", status="enabled"):
    return {"host": host, "hypervisor_hostname": fqdn or host, "state": state, "status": status}


def small(variant):
    s = json.loads(json.dumps(ADMIN))
    s["aggregates"] = [
        {"name": "H100-spot", "hosts": ["gpu-01", "gpu-02"]},
        {"name": "H100-ondemand", "hosts": ["gpu-03"]},
        {"name": "A100-spot", "hosts": ["gpu-04"]},
        {"name": "rented", "metadata": {"gpu_type": "L40S", "pool": "runpod"}, "hosts": ["gpu-05"]},
        {"name": "az1", "metadata": {"availability_zone": "az1"}, "hosts": ["gpu-01", "gpu-02", "gpu-03", "cpu-01"]},
    ]
    s["hypervisors"] = [hyp("gpu-01", "GPU-01.dc1.example.org"), hyp("gpu-02", "gpu-02.dc1.example.org"),
                        hyp("gpu-03", "gpu-03.dc1.example.org", status="disabled"),
                        hyp("gpu-04", "gpu-04.dc1.example.org", state="down"),
                        hyp("gpu-05"), hyp("cpu-01"), hyp("gpu-07", "gpu-07.dc1.example.org")]
    rps = []

    def root(name, children=()):
        rps.append({"name": name, "inventories": {"VCPU": {"total": 64}, "MEMORY_MB": {"total": 515072}}})
        for i, inv in enumerate(children):
            rps.append({"name": "%s_pci_0000_%02x_00_0" % (name, 0x85 + i), "parent": name, "inventories": inv})
    # gpu-01: (4 - 0) x 1 + (4 - 1) x 1 = 7 GPUs, 2 used
    root("GPU-01.dc1.example.org", [{PCI: {"total": 4}}, {PCI: {"total": 4, "reserved": 1}}])
    # gpu-02: VGPU (4 - 0) x 2.0 = 8, 3 used
    root("gpu-02.dc1.example.org", [{"VGPU": {"total": 4, "allocation_ratio": 2.0}}])
    # gpu-03: 8, all 8 used
    root("gpu-03.dc1.example.org", [{PCI: {"total": 8}}])
    # gpu-04: no GPU provider (legacy PCI tracker): flavor method
    root("gpu-04.dc1.example.org")
    # gpu-05: a configured class (--gpu-class CUSTOM_L40S): 4, 1 used
    root("gpu-05", [{"CUSTOM_L40S": {"total": 4}}])
    # cpu-01: no GPUs at all
    root("cpu-01")
    # gpu-07: GPUs, but in no pool aggregate
    root("gpu-07.dc1.example.org", [{PCI: {"total": 2}}])
    s["resource_providers"] = rps
    a100 = {"id": "a100x2", "original_name": "a100.2", "vcpus": 8, "ram": 65536, "disk": 100,
            "extra_specs": {"pci_passthrough:alias": "a100:2"}}
    h100 = {"id": "h100x2", "original_name": "h100.2", "vcpus": 8, "ram": 65536, "disk": 100,
            "extra_specs": {"resources:" + PCI: "2"}}
    s["servers"] = [
        {"name": "vm-a", "project": "demo", "host": "gpu-01", "flavor": h100},
        {"name": "vm-b", "project": "demo", "host": "gpu-02", "flavor": {"id": "v3", "original_name": "vgpu.3", "extra_specs": {"resources1:VGPU": "3"}}},
        {"name": "vm-c", "project": "demo", "host": "gpu-03", "status": "SHUTOFF", "flavor": {"id": "h8", "extra_specs": {"resources:" + PCI: "8"}}},
        {"name": "vm-d", "project": "demo", "host": "gpu-04", "flavor": a100},
        {"name": "vm-e", "project": "admin", "host": "gpu-04", "flavor": a100},
        {"name": "vm-f", "project": "demo", "host": "gpu-05", "flavor": {"id": "l1", "extra_specs": {"resources:CUSTOM_L40S": "1"}}},
        {"name": "vm-g", "project": "demo", "host": "cpu-01"},
    ]
    s["allocations"] = [
        {"consumer": "vm-a", "resources": {"GPU-01.dc1.example.org_pci_0000_85_00_0": {PCI: 2}}},
        {"consumer": "vm-b", "resources": {"gpu-02.dc1.example.org_pci_0000_85_00_0": {"VGPU": 3}}},
        {"consumer": "vm-c", "resources": {"gpu-03.dc1.example.org_pci_0000_85_00_0": {PCI: 8}}},
        {"consumer": "vm-f", "resources": {"gpu-05_pci_0000_85_00_0": {"CUSTOM_L40S": 1}}},
    ]
    if variant == "conflict":
        s["aggregates"][1]["hosts"].append("gpu-02")  # gpu-02 in H100-spot and H100-ondemand
        s["aggregates"][0]["hosts"].append("gpu-07")
        s["aggregates"][0]["hosts"].remove("gpu-01")
    return s


def large(hosts, naggs, children, vms):
    s = json.loads(json.dumps(ADMIN))
    types = ["H100", "A100", "L40S", "H200", "B200"]
    pools = ["spot", "ondemand", "runpod", "reserved"]
    aggs = [{"name": "%s-%s" % (types[i % len(types)], pools[(i // len(types)) % len(pools)]), "hosts": []}
            for i in range(naggs)]
    s["hypervisors"], s["resource_providers"], s["servers"], s["allocations"] = [], [], [], []
    for h in range(hosts):
        name = "gpu-%04d" % h
        fq = name + ".dc1.example.org"
        aggs[h % naggs]["hosts"].append(name)
        s["hypervisors"].append(hyp(name, fq))
        s["resource_providers"].append({"name": fq, "inventories": {"VCPU": {"total": 128}}})
        for c in range(children):
            s["resource_providers"].append({"name": "%s_pci_0000_%02x_00_0" % (fq, 0x80 + c), "parent": fq,
                                            "inventories": {PCI: {"total": 2}}})
    s["aggregates"] = aggs
    for v in range(vms):
        h = v % hosts
        c = (v // hosts) % children
        fq = "gpu-%04d.dc1.example.org" % h
        s["servers"].append({"name": "vm-%05d" % v, "project": "demo", "host": "gpu-%04d" % h,
                             "flavor": {"id": "g1", "extra_specs": {"resources:" + PCI: "1"}}})
        s["allocations"].append({"consumer": "vm-%05d" % v,
                                 "resources": {"%s_pci_0000_%02x_00_0" % (fq, 0x80 + c): {PCI: 1}}})
    return s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["small", "large"])
    ap.add_argument("--variant", default="base", choices=["base", "conflict"])
    ap.add_argument("--hosts", type=int, default=1000)
    ap.add_argument("--aggregates", type=int, default=20)
    ap.add_argument("--children", type=int, default=4)
    ap.add_argument("--vms", type=int, default=8000)
    a = ap.parse_args()
    seed = small(a.variant) if a.kind == "small" else large(a.hosts, a.aggregates, a.children, a.vms)
    json.dump(seed, sys.stdout, indent=1 if a.kind == "small" else None, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    sys.exit(main())
