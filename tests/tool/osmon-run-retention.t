#!/usr/bin/env bash
# Retention with dated run directories (INFRA_NOW fixes the clock): expired runs are
# packed into archive/<YYYY-MM>.tar.gz (appending to the month's archive), verified,
# then removed; nothing is lost; a broken archive keeps the directories.
. "$(dirname "$0")/osmon-run-lib.sh"
st=$tmp/state
run_at() { # date [args...]
	local d=$1; shift
	INFRA_NOW=$(ts "$d") osmon --state-dir "$st" --services keystone -f json "$@" >"$tmp/out.json" 2>"$tmp/err"
}
for d in 2026-10-30T06:00:00Z 2026-10-31T06:00:00Z 2026-11-01T06:00:00Z 2026-11-20T06:00:00Z; do
	run_at "$d" --retention-days 0
done
check "four dated run directories before retention" test "$(ls "$st/runs" | wc -l)" = 4
cp -a "$st/runs" "$tmp/runs-before"

run_at 2026-11-23T06:00:00Z --retention-days 7; rc=$?
check "retention run exits 0" test "$rc" = 0
check "expired runs removed, the last 7 days kept" \
	test "$(ls "$st/runs" | tr '\n' ' ')" = "20261120T060000Z 20261123T060000Z "
check "report says 3 archived, 2 kept, two monthly archives" \
	test "$(jq -c '.data.retention | [.archived_runs, .kept_runs, .archives]' "$tmp/out.json")" = '[3,2,["archive/2026-10.tar.gz","archive/2026-11.tar.gz"]]'
check "October runs in archive/2026-10.tar.gz" \
	bash -c "tar tzf '$st/archive/2026-10.tar.gz' | grep -c '/identity.json\$' | grep -qx 2"
check "November run in archive/2026-11.tar.gz" \
	bash -c "tar tzf '$st/archive/2026-11.tar.gz' | grep -q '^runs/20261101T060000Z/run.log\$'"
mkdir -p "$tmp/x1"
tar xzf "$st/archive/2026-10.tar.gz" -C "$tmp/x1" && tar xzf "$st/archive/2026-11.tar.gz" -C "$tmp/x1"
check "archived files are byte-identical to the run directories" \
	bash -c "for r in 20261030T060000Z 20261031T060000Z 20261101T060000Z; do diff -r '$tmp/runs-before/'\$r '$tmp/x1/runs/'\$r || exit 1; done"
check "no temp files left in archive/" test "$(ls -A "$st/archive" | grep -vc '\.tar\.gz$')" = 0

# a month later: appending to the existing November archive keeps its old entries
cp -a "$st/runs/." "$tmp/runs-before/"
run_at 2026-12-05T06:00:00Z --retention-days 7; rc=$?
check "second retention run exits 0" test "$rc" = 0
check "November archive now holds three runs (old entry kept, two appended)" \
	test "$(tar tzf "$st/archive/2026-11.tar.gz" | grep -c '/identity.json$')" = 3
check "each entry once in the archive" test -z "$(tar tzf "$st/archive/2026-11.tar.gz" | sort | uniq -d)"
mkdir -p "$tmp/x2"
tar xzf "$st/archive/2026-11.tar.gz" -C "$tmp/x2"
check "nothing lost: every November run extracts identical" \
	bash -c "for r in 20261101T060000Z 20261120T060000Z 20261123T060000Z; do diff -r '$tmp/runs-before/'\$r '$tmp/x2/runs/'\$r || exit 1; done"
check "history still lists every run (retention packs directories, not history)" \
	test "$(jq '.entries | length' "$st/history.json")" = 6

# a corrupt archive: its month's directories stay, the old archive is untouched, exit 1
run_at 2026-12-06T06:00:00Z --retention-days 0
echo "not a tar.gz" >"$st/archive/2026-12.tar.gz"
cp "$st/archive/2026-12.tar.gz" "$tmp/corrupt.copy"
run_at 2026-12-20T06:00:00Z --retention-days 7; rc=$?
check "corrupt month archive: exit 1 with a retention error on stderr" \
	bash -c "[ $rc = 1 ] && grep -q 'retention: cannot read .*2026-12.tar.gz' '$tmp/err'"
check "corrupt month archive: the expired directories are kept" \
	test -d "$st/runs/20261205T060000Z" -a -d "$st/runs/20261206T060000Z"
check "corrupt month archive: left as it was, no temp file" \
	bash -c "cmp -s '$tmp/corrupt.copy' '$st/archive/2026-12.tar.gz' && [ \$(ls -A '$st/archive' | grep -c tmp) = 0 ]"
echo "1..$n"
