#!/usr/bin/env bash
# osmon-run finds its shipped task files wherever it is installed (issue 9, item 5): the data
# directory is resolved at run time (lib/infra_datadir.h), not only compiled in from PREFIX.
. "$(dirname "$0")/osmon-run-lib.sh"
unset INFRAKIT_DATADIR
# an installed tree under another prefix than the build's (as `make install PREFIX=...` lays it out)
inst=$tmp/usr
mkdir -p "$inst/bin" "$inst/share/infrakit"
cp "$OSMON" "$inst/bin/osmon-run"
cp -R share/. "$inst/share/infrakit/"
"$inst/bin/osmon-run" --no-orphans --state-dir "$tmp/s1" --services keystone -f json >"$tmp/inst.json" 2>"$tmp/inst.err"; rc=$?
check "installed under another prefix: runs the shipped keystone task (exit $rc)" test "$rc" = 0
check "installed under another prefix: no 'no task file' error" bash -c "! grep -q 'no task file' '$tmp/inst.err' '$tmp/inst.json'"

# the build tree's own binary, without INFRAKIT_DATADIR, finds the checkout's share/
"$OSMON" --no-orphans --state-dir "$tmp/s2" --services keystone -f json >"$tmp/build.json" 2>"$tmp/build.err"; rc=$?
check "build-tree binary finds the checkout's task files (exit $rc)" test "$rc" = 0

# a binary with no data next to it: the error names the directory, what chose it, and how to set it
mkdir -p "$tmp/bare/bin"
cp "$OSMON" "$tmp/bare/bin/osmon-run"
"$tmp/bare/bin/osmon-run" --no-orphans --state-dir "$tmp/s3" --services keystone -f json >"$tmp/bare.json" 2>"$tmp/bare.err"; rc=$?
check "no task files anywhere: exit 3" test "$rc" = 3
check "no task files: the error names --task-dir and INFRAKIT_DATADIR" \
	bash -c "grep -q 'no task file for service identity.*build-time DATADIR.*--task-dir DIR or INFRAKIT_DATADIR' '$tmp/bare.err'"

# INFRAKIT_DATADIR wins, and a wrong one is named as the source
INFRAKIT_DATADIR=$tmp/nowhere "$inst/bin/osmon-run" --no-orphans --state-dir "$tmp/s4" --services keystone -f json >/dev/null 2>"$tmp/env.err"; rc=$?
check "INFRAKIT_DATADIR pointing nowhere: exit 3, the error says INFRAKIT_DATADIR chose $tmp/nowhere" \
	bash -c "[ $rc = 3 ] && grep -q '$tmp/nowhere/osmon/tasks, from INFRAKIT_DATADIR' '$tmp/env.err'"
echo "1..$n"
