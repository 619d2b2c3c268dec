#!/usr/bin/env python3
"""Build tests/sim/seeds/realistic.json from the devcloud recordings in
../shared/fixtures/openstack/orphans/api (real keystone/neutron/glance/cinder
responses of rally runs killed mid-run), plus nova/swift/heat resources, dead-owner
resources and decoys.  Ages are relative to the newest recorded timestamp so the
seed does not drift with the calendar.

usage: make-realistic-seed.py FIXTURE_API_DIR > seeds/realistic.json
"""
import calendar
import json
import os
import sys
import time

api = sys.argv[1]


def load(name):
    with open(os.path.join(api, name)) as f:
        return json.load(f)


def ts(s):
    s = s.rstrip("Z").split(".")[0]
    return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%S"))


REF = ts("2026-11-22T18:30:00Z")  # just after the recordings
AGE0 = 3 * 3600                   # the recordings are made "3 hours ago"


def age(s):
    return AGE0 + (REF - ts(s))


seed = {"page_size": 5, "projects": [], "users": []}
projects = load("keystone-projects.json")["projects"]
pname = {p["id"]: p["name"] for p in projects}
for p in projects:
    seed["projects"].append({"id": p["id"], "name": p["name"], "description": p["description"], "_age": AGE0 + 600})
admin = next(p["id"] for p in projects if p["name"] == "admin")
for u in load("keystone-users.json")["users"]:
    d = {"id": u["id"], "name": u["name"], "_age": AGE0 + 600}
    if u.get("default_project_id"):
        d["project"] = u["default_project_id"]
    if u["name"] == "admin":
        d["password"] = "secret"
        d["roles"] = {admin: "admin"}
    seed["users"].append(d)
# a non-admin user for own-project scope tests
seed["projects"].append({"name": "demo", "_age": 86400 * 30})
seed["users"].append({"name": "demo", "password": "demo-pass", "project": "demo", "roles": {"demo": "member"}})
seed["application_credentials"] = [{"id": "0ac0ffee0ac0ffee0ac0ffee0ac0ffee", "name": "osmon", "secret": "ac-secret-value",
                                     "user": "admin", "project": "admin"}]

KEEP = {"networks": ["id", "name", "description", "shared", "router:external", "status", "mtu", "admin_state_up"],
        "subnets": ["id", "name", "network_id", "cidr", "gateway_ip", "ip_version", "enable_dhcp"],
        "ports": ["id", "name", "network_id", "device_id", "device_owner", "fixed_ips", "security_groups", "mac_address", "status"],
        "routers": ["id", "name", "external_gateway_info", "routes", "status"],
        "security_groups": ["id", "name", "description", "stateful"]}
for t, f in [("networks", "neutron-networks.json"), ("subnets", "neutron-subnets.json"), ("ports", "neutron-ports.json"),
             ("routers", "neutron-routers.json"), ("security_groups", "neutron-security-groups.json")]:
    seed[t] = []
    for r in load(f)[t]:
        d = {k: r[k] for k in KEEP[t] if k in r}
        d["project"] = r["project_id"]
        d["_age"] = age(r["created_at"])
        seed[t].append(d)
seed["images"] = [{"id": i["id"], "name": i["name"], "project": i["owner"], "status": i["status"],
                   "visibility": i["visibility"], "_age": age(i["created_at"])} for i in load("glance-images.json")["images"]]
seed["volumes"] = [{"id": v["id"], "name": v["name"], "project": v["os-vol-tenant-attr:tenant_id"], "status": v["status"],
                    "size": v["size"], "_age": age(v["created_at"])} for v in load("cinder-volumes-detail.json")["volumes"]]

# --- not recorded on the devcloud (nova/swift/heat were added later): same shapes, made up ---
ctx = "c_rally_b6ae02ee_GWaGKE6t"
seed["servers"] = [
    {"name": "s_rally_b6ae02ee_Vm0aXk1q", "project": ctx, "status": "ERROR", "_age": AGE0},
    {"name": "s_rally_b6ae02ee_Vm1bYl2r", "project": ctx, "status": "ERROR", "_age": AGE0},
    {"name": "web-frontend-1", "project": "admin", "_age": 86400 * 40},
    {"name": "my_s_rally_notes", "project": "admin", "_age": 86400 * 2},        # decoy: rally inside
]
seed["ports"] += [
    {"name": "", "network_id": "s_rally_b6ae02ee_cQ00XDKu", "device_owner": "compute:nova",
     "device_id": "s_rally_b6ae02ee_Vm0aXk1q", "project": ctx, "_age": AGE0},
]
seed["keypairs"] = [{"name": "s_rally_b6ae02ee_KeyPair1", "user": "admin", "_age": AGE0},
                    {"name": "ops-rally-key", "user": "admin", "_age": 86400 * 9}]          # decoy
seed["server_groups"] = [{"name": "s_rally_09d0ecda_SrvGrp01", "project": "c_rally_09d0ecda_a5hWfwug"},
                         {"name": "anti-affinity-db", "project": "admin"}]
seed["floatingips"] = [{"description": "s_rally_b6ae02ee_FipDescr", "project": ctx, "_age": AGE0}]
seed["trunks"] = []
seed["snapshots"] = [{"name": "s_rally_c9b4219c_Snap0001", "volume_id": "s_rally_c9b4219c_jafVo8Kn",
                      "project": "c_rally_c9b4219c_9RLikdD2", "_age": AGE0}]
seed["backups"] = [{"name": "s_rally_c9b4219c_Bkup0001", "volume_id": "s_rally_c9b4219c_loVQx9q4",
                    "project": "c_rally_c9b4219c_9RLikdD2", "_age": AGE0}]
seed["volumes"] += [{"name": "", "project": "c_rally_c9b4219c_9RLikdD2", "_age": AGE0},           # unnamed, owner
                    {"name": "prod-db-rally-metrics", "project": "admin", "_age": 86400 * 100},   # decoy
                    {"name": "data-of-deleted-project", "project": "5f0c0ffee5f0c0ffee5f0c0ffee5f0c0", "_age": 86400 * 3}]
seed["containers"] = [{"name": "s_rally_b6ae02ee_Bucket01", "project": "admin", "objects": ["o1", "dir/o2"], "_age": AGE0},
                      {"name": "backups-rally", "project": "admin", "objects": ["x"], "_age": 86400 * 5}]
seed["stacks"] = [{"stack_name": "s_rally_b0bc3ac0_StackAbc", "project": "c_rally_b0bc3ac0_FvpCffCn", "_age": AGE0},
                  {"stack_name": "infra-stack", "project": "admin", "_age": 86400 * 20}]
seed["networks"] += [{"name": "public", "project": "admin", "router:external": True, "_age": 86400 * 60},
                     {"name": "rally_shared_net", "project": "admin", "_age": 86400 * 60},           # decoy
                     {"name": "net-of-deleted-project", "project": "5f0c0ffee5f0c0ffee5f0c0ffee5f0c0", "_age": 86400 * 3}]
seed["images"] += [{"name": "cirros-rally", "project": "admin", "visibility": "public", "_age": 86400 * 50},  # decoy
                   {"name": "s_rally_7d52664c_Fresh001", "project": "c_rally_7d52664c_h7RszcsN", "_age": 120}]  # young
seed["users"] += [{"name": "rally-ci", "_age": 86400 * 90}]                                                     # decoy
json.dump(seed, sys.stdout, indent=1, sort_keys=True)
sys.stdout.write("\n")
