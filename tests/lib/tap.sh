# tests/lib/tap.sh - TAP helpers shared by the scripted tests (tests/tool/*.t, tests/real/*.t).
# Source it after `cd "$INFRA_SRCDIR"`; print "1..$n" at the end.
n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
nok() { n=$((n + 1)); echo "not ok $n - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else nok "$what"; fi; }
