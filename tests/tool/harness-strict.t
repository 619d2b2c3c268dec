#!/usr/bin/env bash
# The case harness (tests/harness/runcases.py) refuses a case file with a key it does not
# know, at the top or under [expect]: a misspelt or misplaced check would otherwise never
# run and the case would pass whatever the tool did.  Two infra-probe cases had their
# `after` check under [expect] and it had never run.
set -u
cd "${INFRA_SRCDIR:?}"
. "$INFRA_SRCDIR/tests/lib/tap.sh"
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
base='description = "x"
tool = "nasmon-check"
args = ["--list-checks"]'

printf '%s\n[expect]\nexit = 0\n' "$base" > "$d/good.toml"
out=$(python3 tests/harness/runcases.py "$d/good.toml" 2>&1)
check "a case with known keys runs and passes" grep -q '^ok 1 ' <<<"$out"

printf '%s\n[expect]\nexit = 0\nstdout_not_contains = ["ORPH-PV"]\n' "$base" > "$d/typo.toml"
out=$(python3 tests/harness/runcases.py "$d/typo.toml" 2>&1)
check "an unknown [expect] key fails the case, naming it" grep -q 'unknown key(s) in the case file: expect.stdout_not_contains' <<<"$out"
check "... and is not ok" grep -q '^not ok 1 ' <<<"$out"

printf '%s\nafterr = ["false"]\n[expect]\nexit = 0\n' "$base" > "$d/top.toml"
out=$(python3 tests/harness/runcases.py "$d/top.toml" 2>&1)
check "an unknown top-level key fails the case" grep -q 'unknown key(s) in the case file: afterr' <<<"$out"

printf '%s\n[expect]\nexit = 0\nafter = ["false"]\n' "$base" > "$d/misplaced.toml"
out=$(python3 tests/harness/runcases.py "$d/misplaced.toml" 2>&1)
check "an after-check placed under [expect] fails the case" grep -q 'expect.after' <<<"$out"

printf '%s\nafter = ["false"]\n[expect]\nexit = 0\n' "$base" > "$d/after.toml"
out=$(python3 tests/harness/runcases.py "$d/after.toml" 2>&1)
check "a failing after-check at the top fails the case" grep -q 'after-check failed' <<<"$out"

bad=$(python3 - <<'PY'
import glob, tomllib, sys
sys.path.insert(0, "tests/harness")
import runcases
for f in sorted(glob.glob("tests/cases/*/*.toml")):
    c = tomllib.load(open(f, "rb"))
    b = sorted(set(c) - runcases.CASE_KEYS) + sorted(set(c.get("expect", {})) - runcases.EXPECT_KEYS)
    if b:
        print(f, b)
PY
)
check "every case file in tests/cases uses known keys only" test -z "$bad"
[ -z "$bad" ] || echo "$bad" | sed 's/^/#   /'
echo "1..$n"
