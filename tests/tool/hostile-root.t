#!/usr/bin/env bash
# Every tool run as root on a host where another user (nobody) has planted, at
# the lock, state and output paths, symlinks to a root-owned file, directories
# of its own and FIFOs.  Each tool refuses (one clear stderr line, exit 3) or
# works around them (katapulse's counters for this run only), never hangs
# (every run under `timeout`), and the root-owned file stays byte-for-byte the
# same.  Needs root: run as another user it says why and FAILS (CI runs as root).
set -u
cd "${INFRA_SRCDIR:?}"
. "$INFRA_SRCDIR/tests/lib/tap.sh"
BIN=${INFRA_BIN:-$PWD/${BUILD:-build}/bin}
tmp=${INFRA_TMP:-$(mktemp -d)}

if [ "$(id -u)" != 0 ]; then
	nok "hostile-root.t needs root (it plants files as nobody against a root run); running as uid $(id -u)"
	echo "1..$n"
	exit 1
fi
if ! command -v setpriv >/dev/null; then
	nok "setpriv (util-linux) is needed to act as nobody"
	echo "1..$n"
	exit 1
fi
T() { timeout -k 5 30 "$@"; }                       # a hang is a failure (exit 124), never a stuck suite
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }

chmod 0711 "$tmp"                                    # nobody may reach its own directory below
h=$tmp/hostile                                       # a directory of nobody's
mkdir "$h" && chown 65534:65534 "$h" && chmod 0755 "$h"
ww=$tmp/shared                                       # root's, but world-writable (a careless state dir)
mkdir "$ww" && chmod 0777 "$ww"
sticky=$tmp/sticky                                   # root's, world-writable and sticky, like /tmp
mkdir "$sticky" && chmod 1777 "$sticky"
precious=$tmp/precious                               # root's file nobody wants to damage
printf 'root-owned content: must never change\n' >"$precious"
sum0=$(sha256sum <"$precious")
unchanged() { [ "$(sha256sum <"$precious")" = "$sum0" ] && [ "$(stat -c %U "$precious")" = root ]; }
mkdir -p "$tmp/rootdir" && chmod 0700 "$tmp/rootdir"  # a root directory nobody wants filled
plant() { # kind path: what nobody leaves there
	case $1 in
	link) as_nobody ln -s "$precious" "$2" ;;
	dirlink) as_nobody ln -s "$tmp/rootdir" "$2" ;;
	fifo) as_nobody mkfifo -m 0666 "$2" ;;
	dir) as_nobody mkdir -m 0755 "$2" ;;
	file) as_nobody sh -c ": >'$2'" ;;
	esac
}
check "nobody can plant files in its directory, the world-writable and the sticky one" \
	sh -c "$(declare -f as_nobody); as_nobody touch '$h/probe' '$ww/probe' '$sticky/probe' && rm -f '$h/probe' '$ww/probe' '$sticky/probe'"

# ---- the OpenStack simulator for osmon-purge and osmon-orphans
python3 tests/sim/openstack.py --seed tests/sim/seeds/realistic.json --max-seconds 300 >"$tmp/sim.out" 2>"$tmp/sim.err" &
sim=$!
python3 tests/sim/kata_shims.py --root "$tmp/node" --max-seconds 300 \
	--spec tests/cases/katapulse-scrape/scenarios/faults.json >"$tmp/kata.out" 2>"$tmp/kata.err" &
kata=$!
trap 'kill $sim $kata 2>/dev/null; wait $sim $kata 2>/dev/null; rm -rf /tmp/infrakit-4242' EXIT
for _ in $(seq 100); do grep -q '^READY ' "$tmp/sim.out" && grep -q READY "$tmp/kata.out" && break; sleep 0.1; done
check "simulators ready" sh -c "grep -q '^READY ' '$tmp/sim.out' && grep -q READY '$tmp/kata.out'"
URL=$(awk '/^READY/{print $2}' "$tmp/sim.out")
export OS_AUTH_URL=$URL/identity/v3 OS_USERNAME=admin OS_PASSWORD=secret OS_PROJECT_NAME=admin \
	OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default
unset OS_CLOUD OS_TOKEN OS_AUTH_TYPE OS_REGION_NAME RUNTIME_DIRECTORY XDG_RUNTIME_DIR STATE_DIRECTORY

refused() { # what rc-file err-file regex: exit 3, the one reason on stderr, the root file unchanged
	local what=$1 rc=$2 err=$3 re=$4
	if [ "$rc" = 3 ] && grep -Eq "$re" "$err" && unchanged; then
		ok "$what"
	else
		nok "$what (exit $rc; stderr: $(head -c 300 "$err" | tr '\n' ' '))"
	fi
}

# ---- osmon-purge: its lock
for kind in link fifo file; do
	plant "$kind" "$h/purge-$kind.lock"
	T "$BIN/osmon-purge" --confirm --service network --lock-file "$h/purge-$kind.lock" -f json \
		>"$tmp/out.json" 2>"$tmp/err"; rc=$?
	case $kind in
	link) re="purge-link.lock is a symbolic link" ;;
	fifo) re="purge-fifo.lock is a FIFO" ;;
	file) re="purge-file.lock is owned by uid 65534" ;;
	esac
	refused "osmon-purge --lock-file on nobody's $kind: refused" "$rc" "$tmp/err" "$re"
done
plant dir "$sticky/rundir"
RUNTIME_DIRECTORY=$sticky/rundir T "$BIN/osmon-purge" --confirm --service network -f json >"$tmp/out.json" 2>"$tmp/err"; rc=$?
refused "osmon-purge: a lock directory of nobody's is refused" "$rc" "$tmp/err" "lock directory $sticky/rundir: owned by uid 65534"
plant dirlink "$sticky/runlink"
RUNTIME_DIRECTORY=$sticky/runlink T "$BIN/osmon-purge" --confirm --service network -f json >"$tmp/out.json" 2>"$tmp/err"; rc=$?
refused "osmon-purge: a symlinked lock directory is refused" "$rc" "$tmp/err" "lock directory $sticky/runlink: a symbolic link"
check "... and nothing was created in the directory it points to" test -z "$(ls -A "$tmp/rootdir")"
RUNTIME_DIRECTORY=$h/rundir T "$BIN/osmon-purge" --confirm --service network -f json >"$tmp/out.json" 2>"$tmp/err"; rc=$?
refused "osmon-purge: a lock directory below one of nobody's is refused" "$rc" "$tmp/err" \
	"lock directory $h/rundir: its parent $h is owned by uid 65534"
check "... and nothing was created in it" test ! -e "$h/rundir"
# the default, as cron runs it (no XDG_RUNTIME_DIR): /run/infrakit, never /tmp
T "$BIN/osmon-purge" --confirm --service network -v -f json >"$tmp/out.json" 2>"$tmp/err"; rc=$?
check "osmon-purge as root under cron takes its lock in /run/infrakit (exit $rc)" \
	grep -q "locked /run/infrakit/osmon-purge-[0-9a-f]*\.lock" "$tmp/err"
check "... a root-owned directory not writable by others" \
	test "$(stat -c '%U %a' /run/infrakit 2>/dev/null)" = "root 755"

# ---- osmon-run: the state directory, its locks, rally/
export PATH=$INFRA_SRCDIR/tests/sim:$PATH INFRAKIT_DATADIR=$INFRA_SRCDIR/share
osmon() { T "$BIN/osmon-run" --no-orphans --services keystone -f json "$@" >"$tmp/out.json" 2>"$tmp/err"; }
plant dirlink "$sticky/state-link"
osmon --state-dir "$sticky/state-link"; rc=$?
refused "osmon-run: a symlinked state directory is refused" "$rc" "$tmp/err" "state directory $sticky/state-link: a symbolic link"
check "... and nothing was written where it points" test -z "$(ls -A "$tmp/rootdir")"
plant dir "$sticky/state-foreign"
osmon --state-dir "$sticky/state-foreign"; rc=$?
refused "osmon-run: nobody's state directory is refused" "$rc" "$tmp/err" "state directory $sticky/state-foreign: owned by uid 65534"
check "... and nothing was written into it" test -z "$(ls -A "$sticky/state-foreign")"
plant fifo "$sticky/state-fifo"
osmon --state-dir "$sticky/state-fifo"; rc=$?
refused "osmon-run: a FIFO as state directory is refused, no hang" "$rc" "$tmp/err" "state-fifo: not a directory"
plant link "$ww/lock"
plant link "$ww/health.lock"
osmon --state-dir "$ww"; rc=$?
refused "osmon-run: a world-writable state directory (nobody's lock symlink in it) is refused" "$rc" "$tmp/err" \
	"state directory $ww: writable by group or others"
osmon --state-dir "$ww" --health; rc=$?
refused "osmon-run --health: the same for health.lock" "$rc" "$tmp/err" "state directory $ww: writable by group or others"
mkdir -m 0700 "$tmp/st"
ln -s "$h" "$tmp/st/rally"                           # rally/ (credentials) pointing into nobody's directory
osmon --state-dir "$tmp/st"; rc=$?
check "osmon-run: a symlinked rally/ directory is refused (exit $rc)" \
	grep -q "state directory $tmp/st/rally: a symbolic link" "$tmp/err"
check "... nothing written into nobody's directory" test -z "$(find "$h" -newer "$precious" -name 'rally*')"
check "... and its mode is untouched" test "$(stat -c %a "$h")" = 755

# ---- katapulse-scrape: the state file's directory and lock (works around: counters for this run only)
kp() { T "$BIN/katapulse-scrape" --sysroot "$tmp/node" -f prom -t 1 "$@" >"$tmp/out.prom" 2>"$tmp/err"; }
plant link "$ww/k.state.lock"
kp --state-file "$ww/k.state"; rc=$?
check "katapulse-scrape: a world-writable state directory is not used (exit $rc)" \
	grep -q "state directory $ww: writable by group or others.*counters count this run only" "$tmp/err"
check "... the root file is unchanged" unchanged
check "... and the run still wrote its metrics" grep -q '^katapulse_up ' "$tmp/out.prom"
plant dir "$sticky/kstate"
kp --state-file "$sticky/kstate/k.state"; rc=$?
check "katapulse-scrape: nobody's state directory is not used" grep -q "state directory $sticky/kstate: owned by uid 65534" "$tmp/err"
check "... nothing written into it" test -z "$(ls -A "$sticky/kstate")"
# the non-root fallback without HOME: /tmp/infrakit-<uid>, here made by nobody first
rm -rf /tmp/infrakit-4242
mkdir -m 0755 "$tmp/empty"                           # a node with no sandbox, readable by uid 4242
for kind in dir dirlink; do
	plant "$kind" /tmp/infrakit-4242
	(unset HOME XDG_STATE_HOME; T setpriv --reuid=4242 --regid=4242 --clear-groups \
		"$BIN/katapulse-scrape" --sysroot "$tmp/empty" -f prom -t 1 >"$tmp/out.prom" 2>"$tmp/err")
	check "katapulse-scrape as uid 4242: a /tmp/infrakit-4242 $kind made by nobody is not used" \
		grep -Eq "state directory /tmp/infrakit-4242: (owned by uid 65534|a symbolic link)" "$tmp/err"
	check "... nothing written where it leads" test -z "$(ls -A /tmp/infrakit-4242/ 2>/dev/null)$(ls -A "$tmp/rootdir")"
	rm -rf /tmp/infrakit-4242
done

# ---- osmon-orphans -o: previous output read back, non-regular targets
plant fifo "$h/orph.prom"
OS_PASSWORD=wrong T "$BIN/osmon-orphans" -f prom --service network -o "$h/orph.prom" >/dev/null 2>"$tmp/err"; rc=$?
refused "a failed run does not hang reading nobody's FIFO for the last success" "$rc" "$tmp/err" "orph.prom': a FIFO with no reader"
T "$BIN/osmon-orphans" -f prom --service network -o "$h/orph.prom" >/dev/null 2>"$tmp/err"; rc=$?
refused "osmon-orphans -o on nobody's FIFO with no reader: a clear error, no hang" "$rc" "$tmp/err" "orph.prom': a FIFO with no reader"
check "... and it is still a FIFO" test -p "$h/orph.prom"
plant link "$h/orph-link.prom"
T "$BIN/osmon-orphans" -f prom --service network -o "$h/orph-link.prom" >/dev/null 2>"$tmp/err"; rc=$?
check "osmon-orphans -o on nobody's symlink: the link is replaced (exit $rc)" test -f "$h/orph-link.prom" -a ! -L "$h/orph-link.prom"
check "... the root file it pointed to is unchanged" unchanged
mknod "$tmp/null" c 1 3 && chmod 0666 "$tmp/null"   # /dev/null's twin: the real one is not put at risk
T "$BIN/osmon-orphans" -f prom --service network -o "$tmp/null" >/dev/null 2>"$tmp/err"; rc=$?
check "osmon-orphans -o on a null device writes through it (exit $rc)" test "$rc" != 3
check "... and it is still a character device" test -c "$tmp/null"
mknod "$tmp/null2" c 1 3 && chmod 0666 "$tmp/null2"
kp --no-state -o "$tmp/null2"; rc=$?
check "katapulse-scrape's streamed -o on a null device writes through it (exit $rc)" test "$rc" != 3 -a -c "$tmp/null2"

check "the root-owned file is byte-for-byte unchanged after all of it" unchanged
echo "1..$n"
