# shared by tests/tool/osmon-run-*.t: TAP helpers and the stand-in rally environment
set -u
n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
nok() { n=$((n + 1)); echo "not ok $n - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else nok "$what"; fi; }
cd "${INFRA_SRCDIR:?}"
BUILD=${BUILD:-build}
OSMON=$INFRA_SRCDIR/$BUILD/bin/osmon-run
tmp=${INFRA_TMP:-$(mktemp -d)}
export PATH=$INFRA_SRCDIR/tests/sim:$PATH
export INFRAKIT_DATADIR=$INFRA_SRCDIR/share
export OS_AUTH_URL=http://127.0.0.1:5000/v3 OS_USERNAME=admin OS_PASSWORD=s3cret-pw OS_PROJECT_NAME=admin
unset OS_CLOUD
vg=()
if [ "${INFRA_VALGRIND:-0}" = 1 ]; then
	vg=(valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99)
fi
osmon() { "${vg[@]}" "$OSMON" --no-orphans "$@"; }  # no OpenStack here: rally only
# unix time of a UTC date: ts 2026-11-23T12:00:00
ts() { date -u -d "$1" +%s; }
