#!/usr/bin/env python3
"""Stateful NetBox (REST API v4) simulator for spot-agg's NetBox source; Python 3 stdlib only.

    netbox.py [--world FILE] [--latency-ms MS] [--fault SPEC]... [--max-seconds S]

Prints `READY http://127.0.0.1:PORT` first (the NetBox base URL; the API is under /api/).
Options, faults and the /_sim/ control endpoints: see extsim.py.

Serves
  GET /api/dcim/devices/   filters: name (repeatable, exact, OR), name__ie (case-insensitive
                           exact, repeatable), name__isw (case-insensitive starts-with,
                           repeatable), id (repeatable), cf_<field>=value; different
                           filters are ANDed, as in NetBox;
                           limit (default page_size; larger than max_page_size is cut to it;
                           0 = max_page_size, or everything when max_page_size is 0), offset;
                           fields= (only these top-level fields), omit= (all but these),
                           brief=true (id, url, display, name, description),
                           exclude=config_context (without it a device carries config_context);
                           answer {"count", "next", "previous", "results"} with absolute next/
                           previous URLs built from the Host header (or the world's next_base)
  GET /api/status/         {"netbox-version": ...}
  every answer             header API-Version: <major.minor>
Auth (like NetBox 4.5+): "Authorization: Token <v1 token>" or "Authorization: Bearer
nbt_<key>.<token>" (a v2 token); no header -> 403 {"detail": "Authentication credentials were
not provided."}; an unknown token or the wrong keyword for its kind -> 403 {"detail": "Invalid
token"}.  Device objects follow the Device schema of NetBox's contrib/openapi.json (see
tests/schemas/spot/README.md; tests/tool/spotext-drift.t validates what this serves).

World (the "netbox" key of a world file, or the whole file):
  {"version": "4.7",                                   # API-Version header
   "tokens_v1": ["0123456789abcdef..."],               # accepted with "Token"
   "tokens_v2": ["nbt_Kf3Lq9.s3cr3t..."],              # accepted with "Bearer"
   "page_size": 50, "max_page_size": 1000,
   "next_base": null,                                  # e.g. "http://other:1": next/previous
                                                       # links on another origin (a proxy
                                                       # without X-Forwarded-Host)
   "relative_next": false,                             # true: next/previous as path?query
   "devices": [{"name": "gpu-001", "site": "ams1", "rack": "r12" | null,
                "tenant": "research" | null, "owner": "team-a" | null,
                "status": "active", "role": "gpu-server", "device_type": "XE9680",
                "manufacturer": "Dell", "custom_fields": {"billing": "ml"}, "id": 17 (optional)}],
   "faults": [...]}
"""
import json
import sys
from urllib.parse import quote, urlencode

import extsim

STATUS_LABELS = {"offline": "Offline", "active": "Active", "planned": "Planned", "staged": "Staged",
                 "failed": "Failed", "inventory": "Inventory", "decommissioning": "Decommissioning"}
BRIEF = ["id", "url", "display", "name", "description"]
STAMP = "2025-06-01T12:00:00.000000Z"


def slug(s):
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in s.lower()) or "x"


class NetBox:
    def __init__(self):
        self.world = {}
        self.load({})

    def load(self, w):
        w = dict(w or {})
        w.setdefault("version", "4.7")
        w.setdefault("tokens_v1", [])
        w.setdefault("tokens_v2", [])
        w.setdefault("page_size", 50)
        w.setdefault("max_page_size", 1000)
        w.setdefault("next_base", None)
        devs = []
        for i, d in enumerate(w.get("devices", [])):
            d = dict(d)
            d.setdefault("id", i + 1)
            d.setdefault("site", "site-1")
            d.setdefault("rack", None)
            d.setdefault("tenant", None)
            d.setdefault("owner", None)
            d.setdefault("status", "active")
            d.setdefault("role", "server")
            d.setdefault("device_type", "generic")
            d.setdefault("manufacturer", "generic")
            d.setdefault("custom_fields", {})
            devs.append(d)
        w["devices"] = devs
        self.world = w
        self.ids = {}

    def oid(self, kind, name):
        key = (kind, name)
        if key not in self.ids:
            self.ids[key] = len(self.ids) + 1
        return self.ids[key]

    def fault(self, kind, req):
        return None

    # ---- rendering (contrib/openapi.json: Device, Brief*) ----
    def brief(self, base, kind, path, name, extra=None):
        i = self.oid(kind, name)
        o = {"id": i, "url": "%s/api/%s/%d/" % (base, path, i), "display": name, "name": name,
             "description": ""}
        o.update(extra or {})
        return o

    def device(self, base, d):
        url = "%s/api/dcim/devices/%d/" % (base, d["id"])
        manu = self.brief(base, "manufacturer", "dcim/manufacturers", d["manufacturer"], {"slug": slug(d["manufacturer"])})
        dtype = self.brief(base, "device_type", "dcim/device-types", d["device_type"])
        dtype.pop("name")
        dtype.update({"manufacturer": manu, "model": d["device_type"], "slug": slug(d["device_type"]),
                      "device_count": 1})
        role = self.brief(base, "role", "dcim/device-roles", d["role"],
                          {"slug": slug(d["role"]), "device_count": 1, "virtualmachine_count": 0, "_depth": 0})
        st = d["status"]
        return {
            "id": d["id"], "url": url, "display_url": url.replace("/api/", "/"), "display": d["name"],
            "name": d["name"], "device_type": dtype, "role": role,
            "tenant": self.brief(base, "tenant", "tenancy/tenants", d["tenant"], {"slug": slug(d["tenant"])})
            if d["tenant"] else None,
            "platform": None, "serial": "", "asset_tag": None,
            "site": self.brief(base, "site", "dcim/sites", d["site"], {"slug": slug(d["site"])}),
            "location": None,
            "rack": self.brief(base, "rack", "dcim/racks", d["rack"]) if d["rack"] else None,
            "position": None, "face": {"value": "front", "label": "Front"},
            "latitude": None, "longitude": None, "parent_device": None,
            "status": {"value": st, "label": STATUS_LABELS.get(st, st.title())},
            "airflow": {"value": "front-to-rear", "label": "Front to rear"}, "cooling_method": None,
            "primary_ip": None, "primary_ip4": None, "primary_ip6": None, "oob_ip": None,
            "cluster": None, "virtual_chassis": None, "vc_position": None, "vc_priority": None,
            "description": "",
            "owner": self.brief(base, "owner", "users/owners", d["owner"]) if d["owner"] else None,
            "comments": "", "config_template": None, "config_context": {"ntp": ["10.0.0.1"]},
            "local_context_data": None, "tags": [], "custom_fields": dict(d["custom_fields"]),
            "created": STAMP, "last_updated": STAMP,
            "console_port_count": 0, "console_server_port_count": 0, "power_port_count": 2,
            "power_outlet_count": 0, "cooling_intake_count": 0, "cooling_outflow_count": 0,
            "interface_count": 4, "front_port_count": 0, "rear_port_count": 0, "device_bay_count": 0,
            "module_bay_count": 0, "inventory_item_count": 0,
        }

    # ---- requests ----
    def auth(self, req):
        h = req.header("Authorization")
        if not h:
            return {"detail": "Authentication credentials were not provided."}
        kw, _, tok = h.partition(" ")
        tok = tok.strip()
        if kw == "Token" and tok in self.world["tokens_v1"]:
            return None
        if kw == "Bearer" and tok in self.world["tokens_v2"]:
            return None
        return {"detail": "Invalid token"}

    def handle(self, req):
        hdrs = {"API-Version": self.world["version"]}
        bad = self.auth(req)
        if bad:
            return 403, hdrs, json.dumps(bad).encode()
        if req.path == "/api/status/":
            return 200, hdrs, json.dumps({"netbox-version": self.world["version"] + ".0",
                                          "django-version": "5.2", "plugins": {}}).encode()
        if req.path != "/api/dcim/devices/":
            return 404, hdrs, json.dumps({"detail": "Not found."}).encode()
        if req.method != "GET":
            return 405, hdrs, json.dumps({"detail": 'Method "%s" not allowed.' % req.method}).encode()
        q = extsim.query_lists(req.query)
        devs = self.world["devices"]
        if "name" in q:
            want = set(q["name"])
            devs = [d for d in devs if d["name"] in want]
        if "name__ie" in q:
            want = {n.lower() for n in q["name__ie"]}
            devs = [d for d in devs if d["name"].lower() in want]
        if "name__isw" in q:
            want = tuple(n.lower() for n in q["name__isw"])
            devs = [d for d in devs if d["name"].lower().startswith(want)]
        if "id" in q:
            try:
                want = {int(x) for x in q["id"]}
            except ValueError:
                return 400, hdrs, json.dumps({"id": ["Enter a whole number."]}).encode()
            devs = [d for d in devs if d["id"] in want]
        for k, vals in q.items():
            if k.startswith("cf_"):
                devs = [d for d in devs if str(d["custom_fields"].get(k[3:])) in vals]
        devs = sorted(devs, key=lambda d: d["id"])
        try:
            limit = int(q.get("limit", [self.world["page_size"]])[0])
            offset = int(q.get("offset", ["0"])[0])
        except ValueError:
            return 400, hdrs, json.dumps({"detail": "Invalid limit or offset."}).encode()
        mps = self.world["max_page_size"]
        if limit == 0:
            limit = mps if mps else len(devs)
        elif mps and limit > mps:
            limit = mps
        limit = max(limit, 1)
        page = devs[offset:offset + limit]
        base = "" if self.world.get("relative_next") else (self.world["next_base"] or req.base)

        def link(off):
            pairs = [(k, v) for k, vs in q.items() for v in vs if k not in ("limit", "offset")]
            pairs += [("limit", str(limit))] + ([("offset", str(off))] if off > 0 else [])
            return "%s%s?%s" % (base, quote(req.path), urlencode(pairs))
        nxt = link(offset + limit) if offset + limit < len(devs) else None
        prev = link(max(offset - limit, 0)) if offset > 0 else None
        results = [self.select(self.device(req.base, d), q) for d in page]
        body = {"count": len(devs), "next": nxt, "previous": prev, "results": results}
        return 200, hdrs, json.dumps(body).encode()

    @staticmethod
    def select(dev, q):
        if q.get("brief", ["false"])[0].lower() in ("true", "1"):
            return {k: dev[k] for k in BRIEF}
        if "fields" in q:
            keep = [f for f in ",".join(q["fields"]).split(",") if f]
            return {k: dev[k] for k in keep if k in dev}
        if "config_context" in ",".join(q.get("exclude", [])).split(","):
            dev.pop("config_context")
        for f in ",".join(q.get("omit", [])).split(","):
            dev.pop(f, None)
        return dev


if __name__ == "__main__":
    sys.exit(extsim.main(NetBox(), "netbox", "NetBox simulator"))
