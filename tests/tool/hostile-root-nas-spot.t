#!/usr/bin/env bash
# hostile-root.t for the two newer tools: nasmon-check (--state-dir, its history file,
# -o) and spot-agg (--cache-dir, the move lock, -o), run as root where another user
# (nobody) has planted symlinks, FIFOs and directories of its own.  Each path is
# refused with one clear stderr line (or, for -o on a symlink, the link is replaced,
# never followed), nothing hangs, nothing is written where a link points, and the
# root-owned file stays byte-for-byte the same.  Needs root (CI runs as root): as
# another user it says why and FAILS.
set -u
cd "${INFRA_SRCDIR:?}"
. "$INFRA_SRCDIR/tests/lib/tap.sh"
BIN=${INFRA_BIN:-$PWD/${BUILD:-build}/bin}
tmp=${INFRA_TMP:-$(mktemp -d)}

if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null; then
	nok "hostile-root-nas-spot.t needs root and setpriv (uid $(id -u))"
	echo "1..$n"
	exit 1
fi
T() { timeout -k 5 60 "$@"; }
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
chmod 0711 "$tmp"
h=$tmp/hostile && mkdir "$h" && chown 65534:65534 "$h" && chmod 0755 "$h"
ww=$tmp/shared && mkdir -m 0777 "$ww" && chmod 0777 "$ww"
sticky=$tmp/sticky && mkdir "$sticky" && chmod 1777 "$sticky"
precious=$tmp/precious
printf 'root-owned content: must never change\n' >"$precious"
sum0=$(sha256sum <"$precious")
unchanged() { [ "$(sha256sum <"$precious")" = "$sum0" ] && [ "$(stat -c %U "$precious")" = root ]; }
mkdir -m 0700 "$tmp/rootdir"
empty_rootdir() { [ -z "$(ls -A "$tmp/rootdir")" ]; }
plant() {
	case $1 in
	link) as_nobody ln -s "$precious" "$2" ;;
	dirlink) as_nobody ln -s "$tmp/rootdir" "$2" ;;
	fifo) as_nobody mkfifo -m 0666 "$2" ;;
	dir) as_nobody mkdir -m 0755 "$2" ;;
	esac
}
said() { # what rc wanted-rc regex: the exit status and the one reason on stderr
	if [ "$2" = "$3" ] && grep -Eq "$4" "$tmp/err" && unchanged; then
		ok "$1"
	else
		nok "$1 (exit $2, wanted $3; stderr: $(head -c 300 "$tmp/err" | tr '\n' ' '))"
	fi
}

pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null' EXIT
start() { # name cmd...: READY url on its first line
	"${@:2}" --max-seconds 300 >"$tmp/$1.out" 2>"$tmp/$1.err" &
	pids+=($!)
	for _ in $(seq 200); do grep -q '^READY ' "$tmp/$1.out" 2>/dev/null && break; sleep 0.1; done
	awk '/^READY/{print $2}' "$tmp/$1.out"
}

# ---- nasmon-check against the Kubernetes and TrueNAS simulators
python3 tests/sim/nas_scenario.py --seed 11 -o "$tmp/world.json"
K=$(start kube python3 tests/sim/kube.py --world "$tmp/world.json" --http --token kube-token)
TN=$(start tn python3 tests/sim/truenas.py --world "$tmp/world.json" --api-key 1-nasmonkey --version 25.10)
check "nasmon simulators ready" test -n "$K" -a -n "$TN"
printf 'kube-token\n' >"$tmp/token"
printf '1-nasmonkey\n' >"$tmp/key" && chmod 0600 "$tmp/key"
nas() { T "$BIN/nasmon-check" --kube-api "$K" --kube-token-file "$tmp/token" --truenas-url "$TN" \
	--truenas-api-key-file "$tmp/key" "$@" >"$tmp/out" 2>"$tmp/err"; }
nas -f json; rc=$?
check "nasmon-check runs (planted world: exit 2)" test "$rc" = 2
plant dirlink "$sticky/nas-link"
nas -f json --state-dir "$sticky/nas-link"; rc=$?
said "nasmon-check: a symlinked state directory is refused" "$rc" 2 "state: state directory $sticky/nas-link: a symbolic link"
check "... nothing written where it points" empty_rootdir
check "... and the refusal is in the JSON errors too" grep -q 'a symbolic link' "$tmp/out"
plant dir "$sticky/nas-foreign"
nas -f json --state-dir "$sticky/nas-foreign"; rc=$?
said "nasmon-check: nobody's state directory is refused" "$rc" 2 "state directory $sticky/nas-foreign: owned by uid 65534"
check "... nothing written into it" test -z "$(ls -A "$sticky/nas-foreign")"
nas -f json --state-dir "$ww"; rc=$?
said "nasmon-check: a world-writable state directory is refused" "$rc" 2 "state directory $ww: writable by group or others"
plant fifo "$sticky/nas-fifo"
nas -f json --state-dir "$sticky/nas-fifo"; rc=$?
said "nasmon-check: a FIFO as state directory: refused, no hang" "$rc" 2 "nas-fifo: not a directory"
mkdir -m 0700 "$tmp/nst"
ln -s "$precious" "$tmp/nst/history.json"
nas -f json --state-dir "$tmp/nst"; rc=$?
check "nasmon-check: a history.json that is a symlink is not followed (set aside, a new history started)" \
	sh -c "test -f '$tmp/nst/history.json' -a ! -L '$tmp/nst/history.json' && grep -q 'new history was started' '$tmp/err'"
check "... the file it pointed to is unchanged" unchanged
plant fifo "$h/nas.prom"
nas -f prom -o "$h/nas.prom"; rc=$?
said "nasmon-check -o on nobody's FIFO with no reader: a clear error, no hang" "$rc" 3 "nas.prom': a FIFO with no reader"
check "... it is still a FIFO" test -p "$h/nas.prom"
plant link "$h/nas-link.prom"
nas -f prom -o "$h/nas-link.prom"; rc=$?
check "nasmon-check -o on nobody's symlink: the link is replaced, not followed (exit $rc)" \
	test -f "$h/nas-link.prom" -a ! -L "$h/nas-link.prom"
check "... the root file is unchanged" unchanged

# ---- spot-agg against the OpenStack simulator
python3 tests/sim/spot_scenario.py small >"$tmp/seed.json"
OS=$(start os python3 tests/sim/openstack.py --seed "$tmp/seed.json")
check "OpenStack simulator ready" test -n "$OS"
unset OS_CLOUD OS_TOKEN OS_AUTH_TYPE OS_REGION_NAME XDG_RUNTIME_DIR
export OS_AUTH_URL=$OS/identity/v3 OS_USERNAME=admin OS_PASSWORD=secret OS_PROJECT_NAME=admin \
	OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default
spot() { T "$BIN/spot-agg" "$@" >"$tmp/out" 2>"$tmp/err"; }
plant dirlink "$sticky/cache-link"
spot -f json --cache-dir "$sticky/cache-link"; rc=$?
said "spot-agg: a symlinked cache directory is refused" "$rc" 3 "cache directory $sticky/cache-link: a symbolic link"
check "... nothing cached where it points" empty_rootdir
plant dir "$h/cache"
spot -f json --cache-dir "$h/cache"; rc=$?
said "spot-agg: a cache directory in nobody's directory is refused" "$rc" 3 "cache directory $h/cache: its parent $h is owned by uid 65534"
check "... nothing written into it" test -z "$(ls -A "$h/cache")"
spot -f json --cache-dir "$ww"; rc=$?
said "spot-agg: a world-writable cache directory is refused" "$rc" 3 "cache directory $ww: writable by group or others"
check "... nothing cached in it" test -z "$(ls -A "$ww")"
plant link "$ww/spot-agg-move.lock"
RUNTIME_DIRECTORY=$ww spot move gpu-01 --to H100-ondemand --confirm --no-cache --allow-busy -f json; rc=$?
said "spot-agg move: a world-writable lock directory is refused" "$rc" 3 "lock directory $ww: writable by group or others"
mkdir -m 0700 "$tmp/run"
ln -s "$precious" "$tmp/run/spot-agg-move.lock"
RUNTIME_DIRECTORY=$tmp/run spot move gpu-01 --to H100-ondemand --confirm --no-cache --allow-busy -f json; rc=$?
said "spot-agg move: a lock file that is a symlink is refused" "$rc" 3 "spot-agg-move.lock is a symbolic link"
plant fifo "$h/spot.prom"
spot -f prom --no-cache -o "$h/spot.prom"; rc=$?
said "spot-agg -o on nobody's FIFO with no reader: a clear error, no hang" "$rc" 3 "spot.prom': a FIFO with no reader"
plant link "$h/spot-link.prom"
spot -f prom --no-cache -o "$h/spot-link.prom"; rc=$?
check "spot-agg -o on nobody's symlink: the link is replaced, not followed (exit $rc)" \
	test -f "$h/spot-link.prom" -a ! -L "$h/spot-link.prom"
mknod "$tmp/null" c 1 3 && chmod 0666 "$tmp/null"
spot -f prom --no-cache -o "$tmp/null"; rc=$?
check "spot-agg -o on a null device writes through it (exit $rc)" test "$rc" != 3 -a -c "$tmp/null"

check "the root-owned file is byte-for-byte unchanged after all of it" unchanged
echo "1..$n"
