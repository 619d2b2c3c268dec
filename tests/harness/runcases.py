#!/usr/bin/env python3
"""Run declarative tool-test cases (tests/README.md) and print TAP.

usage: runcases.py DIR_OR_CASE...
Each case: start simulators, run the tool, compare exit code, stdout (normalised
per format), stderr, written files; stop simulators whatever happens.
"""
import difflib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import tomllib

SRC = os.environ.get("INFRA_SRCDIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("BUILD", "build")
BIN = os.path.join(SRC, BUILD, "bin")
TOOLS = os.path.join(SRC, BUILD, "tests", "tools")
UPDATE = os.environ.get("INFRA_UPDATE_EXPECTED") == "1"
VALGRIND = os.environ.get("INFRA_VALGRIND") == "1"
NORM = "<normalised>"
JSON_TIME_KEYS = {"timestamp", "duration_seconds", "last_success_timestamp"}
JSON_TIME_SUFFIXES = ("_seconds", "_at")
PROM_TIME_RE = re.compile(r"(_duration_seconds|_latency_seconds|_timestamp_seconds|_milliseconds_bucket|_milliseconds_sum|_milliseconds_count)$")


class CaseError(Exception):
    pass


def expand(value, ctx):
    if isinstance(value, str):
        def rep(m):
            key = m.group(1)
            if key not in ctx:
                raise CaseError(f"unknown placeholder {{{key}}}")
            return ctx[key]
        return re.sub(r"\{([a-z_]+(?:\.[A-Za-z0-9_-]+)?)\}", rep, value)
    if isinstance(value, list):
        return [expand(v, ctx) for v in value]
    if isinstance(value, dict):
        return {expand(k, ctx): expand(v, ctx) for k, v in value.items()}
    return value


def start_sim(spec, ctx, logdir):
    name = spec["name"]
    cmd = expand(spec["cmd"], ctx)
    log = open(os.path.join(logdir, f"sim-{name}.log"), "wb")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
                            cwd=SRC, start_new_session=True)
    deadline = time.monotonic() + float(spec.get("ready_timeout", 20))
    line = b""
    import select
    while time.monotonic() < deadline:
        r, _, _ = select.select([proc.stdout], [], [], 0.2)
        if r:
            ch = proc.stdout.readline()
            if not ch:
                break
            line = ch.strip()
            if line.startswith(b"READY"):
                ctx[f"sim.{name}"] = line[5:].strip().decode()
                return proc
        if proc.poll() is not None:
            break
    stop_proc(proc)
    raise CaseError(f"simulator {name} did not print READY (see {log.name})")


def stop_proc(proc):
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
    if proc.stdout:
        proc.stdout.close()


def norm_json(obj, ignore):
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if k in JSON_TIME_KEYS or k in ignore or (k.endswith(JSON_TIME_SUFFIXES) and not isinstance(v, (dict, list))):
                out[k] = NORM if v is not None else None
            else:
                out[k] = norm_json(v, ignore)
        return out
    if isinstance(obj, list):
        return [norm_json(v, ignore) for v in obj]
    return obj


def norm_prom(text, ignore):
    out = []
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            out.append(line)
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)(\s+\S+)?$", line)
        if not m:
            out.append(line)
            continue
        name = m.group(1)
        if PROM_TIME_RE.search(name) or any(i in name for i in ignore):
            line = f"{name}{m.group(2) or ''} 0"
        out.append(line)
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


def norm_text(text, ignore):
    text = re.sub(r"\b\d+(\.\d+)?(ms|s|µs|us)\b", "N\\2", text)
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "TIMESTAMP", text)
    for i in ignore:
        text = re.sub(i, "<normalised>", text)
    return text


def normalise(fmt, text, ignore):
    if fmt == "json":
        try:
            return json.dumps(norm_json(json.loads(text), ignore), indent=1, sort_keys=True) + "\n"
        except json.JSONDecodeError as e:
            return f"<invalid JSON: {e}>\n{text}"
    if fmt == "prom":
        return norm_prom(text, ignore)
    return norm_text(text, ignore)


def promcheck(path, lint_allow=None):
    checker = os.path.join(SRC, "tests", "real", "promcheck")
    env = dict(os.environ)
    if lint_allow:
        env["PROMCHECK_LINT_ALLOW"] = lint_allow
    r = subprocess.run([checker, path], capture_output=True, text=True, env=env)
    return r.returncode == 0, (r.stdout + r.stderr).strip()


def unexpand(text, ctx):
    """Put placeholders back for run-specific values (ports, temp dirs) so goldens are stable."""
    pairs = [(v, "{" + k + "}") for k, v in ctx.items() if k.startswith("sim.") or k == "tmp"]
    for v, k in sorted(pairs, key=lambda p: -len(p[0])):
        if v:
            text = text.replace(v, k)
    return text


def compare(fmt, got, expected_path, ignore, problems, what, ctx=None):
    if ctx:
        got = unexpand(got, ctx)
    got_n = normalise(fmt, got, ignore)
    if UPDATE:
        os.makedirs(os.path.dirname(expected_path), exist_ok=True)
        with open(expected_path, "w") as f:
            f.write(got_n)
        return
    try:
        with open(expected_path) as f:
            want_n = normalise(fmt, f.read(), ignore) if fmt != "text" else f.read()
    except FileNotFoundError:
        problems.append(f"{what}: golden file {expected_path} missing (INFRA_UPDATE_EXPECTED=1 creates it)")
        return
    if got_n != want_n:
        diff = "".join(difflib.unified_diff(want_n.splitlines(True), got_n.splitlines(True),
                                            "expected", "got", n=2))
        problems.append(f"{what} differs:\n{diff[:6000]}")


CASE_KEYS = {"description", "tool", "args", "expect", "sim", "env", "after", "setup", "timeout", "stdin"}
EXPECT_KEYS = {"exit", "format", "stdout", "stderr_regex", "stdout_contains", "stderr_empty", "stdout_lacks",
               "stderr_lines", "ignore", "stderr_lacks", "lint_allow", "files", "promcheck"}


def run_case(path):
    with open(path, "rb") as f:
        case = tomllib.load(f)
    casedir = os.path.dirname(os.path.abspath(path))
    # a misspelt or misplaced key would be a check that silently never runs
    bad = sorted(set(case) - CASE_KEYS) + sorted("expect." + k for k in set(case.get("expect", {})) - EXPECT_KEYS)
    if bad:
        return case.get("description", ""), [f"unknown key(s) in the case file: {', '.join(bad)}"]
    tmp = tempfile.mkdtemp(prefix="case-", dir=os.environ.get("INFRA_TMP"))
    ctx = {"src": SRC, "tmp": tmp, "bin": BIN, "casedir": casedir}
    sims = []
    problems = []
    try:
        if "setup" in case:
            r = subprocess.run(expand(case["setup"], ctx), cwd=SRC, capture_output=True, text=True)
            if r.returncode != 0:
                raise CaseError(f"setup failed: {r.stderr.strip()}")
        for spec in case.get("sim", []):
            sims.append(start_sim(spec, ctx, tmp))
        tool = case["tool"]
        exe = os.path.join(BIN, tool)
        if not os.path.exists(exe) and os.path.exists(os.path.join(TOOLS, tool)):
            exe = os.path.join(TOOLS, tool)
        if not os.path.exists(exe):
            raise CaseError(f"tool {tool} not built ({exe})")
        argv = [exe] + expand(case.get("args", []), ctx)
        if VALGRIND:
            argv = ["valgrind", "-q", "--leak-check=full", "--errors-for-leak-kinds=definite",
                    "--error-exitcode=99"] + argv
        env = dict(os.environ)
        env.pop("OS_CLOUD", None)
        for k in [k for k in env if k.startswith("OS_")]:
            env.pop(k)
        env.update(expand(case.get("env", {}), ctx))
        stdin_data = None
        if "stdin" in case:
            with open(os.path.join(casedir, case["stdin"]), "rb") as f:
                stdin_data = f.read()
        timeout = float(case.get("timeout", 60)) * (10 if VALGRIND else 1)
        try:
            r = subprocess.run(argv, input=stdin_data, capture_output=True, env=env, cwd=tmp,
                               timeout=timeout)
        except subprocess.TimeoutExpired:
            raise CaseError(f"tool did not finish within {timeout:.0f} s")
        out = r.stdout.decode("utf-8", "replace")
        err = r.stderr.decode("utf-8", "replace")
        exp = case.get("expect", {})
        ignore = exp.get("ignore", [])
        if VALGRIND and r.returncode == 99:
            problems.append(f"valgrind reported errors:\n{err[-3000:]}")
        if "exit" in exp and r.returncode != exp["exit"]:
            problems.append(f"exit status {r.returncode}, expected {exp['exit']}; stderr: {err.strip()[:800]}")
        fmt = exp.get("format", "text")
        if "stdout" in exp:
            compare(fmt, out, os.path.join(casedir, exp["stdout"]), ignore, problems, "stdout", ctx)
        for s in exp.get("stdout_contains", []):
            if expand(s, ctx) not in out:
                problems.append(f"stdout lacks {s!r}")
        for s in exp.get("stdout_lacks", []):
            if expand(s, ctx) in out:
                problems.append(f"stdout contains {s!r}")
        if "stderr_regex" in exp and not re.search(exp["stderr_regex"], err):
            problems.append(f"stderr does not match /{exp['stderr_regex']}/: {err.strip()[:800]}")
        if exp.get("stderr_empty") and err.strip() and not VALGRIND:
            problems.append(f"stderr not empty: {err.strip()[:800]}")
        if "stderr_lines" in exp and len(err.splitlines()) != exp["stderr_lines"]:
            problems.append(f"stderr has {len(err.splitlines())} lines, expected {exp['stderr_lines']}: {err.strip()[:800]}")
        for s in exp.get("stderr_lacks", []):
            if expand(s, ctx) in err or expand(s, ctx) in out:
                problems.append(f"output contains {s!r}")
        files = expand(exp.get("files", {}), ctx)
        for fpath, golden in files.items():
            if not os.path.exists(fpath):
                problems.append(f"file {fpath} not written")
                continue
            with open(fpath) as f:
                content = f.read()
            ffmt = "prom" if fpath.endswith(".prom") else "json" if fpath.endswith(".json") else "text"
            compare(ffmt, content, os.path.join(casedir, golden), ignore, problems, f"file {os.path.basename(fpath)}", ctx)
            if ffmt == "prom" and exp.get("promcheck", True):
                ok, msg = promcheck(fpath, exp.get("lint_allow"))
                if not ok:
                    problems.append(f"promcheck {fpath}: {msg}")
        if fmt == "prom" and exp.get("promcheck", True) and out:
            p = os.path.join(tmp, "stdout.prom")
            with open(p, "w") as f:
                f.write(out)
            ok, msg = promcheck(p, exp.get("lint_allow"))
            if not ok:
                problems.append(f"promcheck stdout: {msg}")
        if "after" in case:
            a = subprocess.run(expand(case["after"], ctx), cwd=tmp, capture_output=True, text=True, env=env)
            if a.returncode != 0:
                problems.append(f"after-check failed: {(a.stdout + a.stderr).strip()[:800]}")
    except CaseError as e:
        problems.append(str(e))
    finally:
        for p in sims:
            stop_proc(p)
        subprocess.run(["rm", "-rf", tmp])
    return case.get("description", ""), problems


def main(argv):
    paths = []
    for a in argv:
        if os.path.isdir(a):
            paths += sorted(os.path.join(a, f) for f in os.listdir(a) if f.endswith(".toml"))
        else:
            paths.append(a)
    n = 0
    failed = 0
    for p in paths:
        n += 1
        name = os.path.relpath(p, SRC)
        t0 = time.monotonic()
        try:
            desc, problems = run_case(p)
        except Exception as e:  # a broken case file is a failure, not a crash
            desc, problems = "", [f"harness error: {type(e).__name__}: {e}"]
        dt = time.monotonic() - t0
        label = f"{name}" + (f" - {desc}" if desc else "")
        if problems:
            failed += 1
            print(f"not ok {n} - {label}")
            for pr in problems:
                for line in pr.splitlines():
                    print(f"#   {line}")
        else:
            print(f"ok {n} - {label} ({dt:.1f}s)")
        sys.stdout.flush()
    print(f"1..{n}")
    return 1 if failed or n == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
