#!/usr/bin/python3
"""check-rally-tasks.py TASK...: render each shipped task file as rally does (Jinja2
with osmon-run's task arguments), parse it, and check every scenario name and every
scenario argument against the plugins of the installed rally / rally-openstack.
Prints "ok FILE: Scenario" or "FILE: Scenario: problem"; exit 1 on any problem."""
import inspect
import sys

import jinja2
import yaml
from rally.common.plugin import discover
from rally.task import scenario
discover.load_plugins("/nonexistent")
import rally_openstack  # noqa
discover.import_modules_from_package("rally_openstack.task.scenarios")
args = {"auth_url": "http://127.0.0.1:5000/v3", "flavor": "m1.tiny", "image": "cirros-0.6.2-x86_64-disk"}
bad = 0
for path in sys.argv[1:]:
    text = jinja2.Template(open(path).read()).render(**args)
    task = yaml.safe_load(text)
    assert task["version"] == 2, path
    for st in task["subtasks"]:
        for w in st["workloads"]:
            (name, sargs), = w["scenario"].items()
            try:
                cls = scenario.Scenario.get(name)
                sig = inspect.signature(cls.run)
                for a in (sargs or {}):
                    if a not in sig.parameters and not any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values()):
                        print(f"{path}: {name}: unknown argument {a}"); bad += 1
                print(f"ok {path}: {name}")
            except Exception as e:
                print(f"{path}: {name}: {type(e).__name__}: {e}"); bad += 1
sys.exit(1 if bad else 0)
