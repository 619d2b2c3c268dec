#!/usr/bin/env bash
# katapulse-scrape as a user who cannot search the 0700 sandbox directories (what
# a declarative case cannot say: it needs another uid).  Permission denied is an
# error, never "skipped": exit 3, katapulse_up 0, JSON status "unknown" with the
# sandboxes failed for "permission", and the text view says so.  As root (CI) the
# tool runs as nobody through setpriv; as another user the directories are made
# unsearchable (mode 0) instead.
set -u
cd "${INFRA_SRCDIR:?}"
. "$INFRA_SRCDIR/tests/lib/tap.sh"
# a directory nobody can reach (INFRA_TMP may sit in a 0700 one)
d=$(mktemp -d /tmp/katapulse-nonroot.XXXXXX)
chmod 755 "$d"
sim=
trap '[ -n "$sim" ] && kill $sim 2>/dev/null; wait 2>/dev/null; rm -rf "$d"' EXIT
install -m 755 "${INFRA_BIN:-$PWD/${BUILD:-build}/bin}/katapulse-scrape" "$d/katapulse-scrape"
cat >"$d/spec.json" <<'SPEC'
{"sandboxes": [
  {"id": "nr0-go", "runtime": "go", "meta": "persist"},
  {"id": "nr1-rs", "runtime": "rs"}
]}
SPEC
python3 tests/sim/kata_shims.py --root "$d/root" --max-seconds 120 --spec "$d/spec.json" >"$d/sim.out" 2>"$d/sim.err" &
sim=$!
for _ in $(seq 100); do grep -q READY "$d/sim.out" && break; sleep 0.1; done
check "simulator ready" grep -q READY "$d/sim.out"
chmod 755 "$d/root"
if [ "$(id -u)" = 0 ]; then
	as=(setpriv --reuid=nobody --regid=nogroup --clear-groups --)
	check "sandbox directories are 0700 root" test "$(stat -c %a:%U "$d/root/run/vc/sbs/nr0-go")" = 700:root
else
	as=()
	chmod 0 "$d/root/run/vc/sbs/nr0-go" "$d/root/run/kata/nr1-rs"
	ok "sandbox directories made unsearchable (not root)"
fi
run() { # name args... -> $d/name.out, $d/name.err, $d/name.rc
	local name=$1; shift
	(cd "$d" && "${as[@]}" ./katapulse-scrape --sysroot "$d/root" --no-state --no-cri "$@" \
		>"$d/$name.out" 2>"$d/$name.err"; echo $? >"$d/$name.rc")
}

run prom -f prom
check "prom: exit 3 (got $(cat "$d/prom.rc"))" test "$(cat "$d/prom.rc")" = 3
check "prom: katapulse_up 0" grep -qx 'katapulse_up 0' "$d/prom.out"
check "prom: both sandboxes failed, none skipped" \
	grep -qx 'katapulse_sandboxes{state="failed"} 2' "$d/prom.out"
check "prom: nothing counted as skipped" grep -qx 'katapulse_sandboxes{state="skipped"} 0' "$d/prom.out"
check "prom: katapulse_shim_up 0 for each" test "$(grep -c '^katapulse_shim_up{sandbox_id="nr[01]-[a-z]*"} 0$' "$d/prom.out")" = 2
check "prom: no shim request counted" grep -qx 'katapulse_shim_scrapes_total 0' "$d/prom.out"
check "stderr: one line, permission denied, says to run as root" \
	sh -c "test \$(wc -l <'$d/prom.err') = 1 && grep -q 'permission denied: 2 of 2 sandbox directories cannot be searched .*run as root' '$d/prom.err'"
if PROMCHECK_LINT_ALLOW="^kata_" tests/real/promcheck "$d/prom.out" >"$d/promcheck.out" 2>&1; then ok "prom: promcheck"; else
	nok "prom: promcheck"; sed 's/^/# /' "$d/promcheck.out"; fi

run json -f json
check "json: exit 3" test "$(cat "$d/json.rc")" = 3
check "json: status unknown, failed for permission, error says Permission denied" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
sb = d["data"]["sandboxes"]
assert d["status"] == "unknown", d["status"]
assert any("permission denied" in e for e in d["errors"]), d["errors"]
assert len(sb) == 2 and all(s["state"] == "failed" and s["reason"] == "permission" for s in sb), sb
assert all("Permission denied" in s["error"] for s in sb), sb
' "$d/json.out"

run text -f text
check "text: exit 3" test "$(cat "$d/text.rc")" = 3
check "text: each sandbox failed with Permission denied" \
	test "$(grep -c ' failed .*cannot look into .*: Permission denied$' "$d/text.out")" = 2
check "text: the run says it failed" grep -q '^katapulse-scrape FAILED: permission denied: 2 of 2' "$d/text.out"
check "text: nothing reads skipped" sh -c "! grep -q skipped '$d/text.out' || grep -q '0 skipped' '$d/text.out'"

run list --list -f text
check "--list: exit 3" test "$(cat "$d/list.rc")" = 3
check "--list: sandboxes failed, not ready" test "$(grep -c ' failed .*Permission denied$' "$d/list.out")" = 2

run one --sandbox nr0-go -f prom
check "--sandbox: exit 3, Permission denied" \
	sh -c "test \$(cat '$d/one.rc') = 3 && grep -q 'Permission denied' '$d/one.err'"
echo "1..$n"
