#!/usr/bin/env bash
# spotext-cache.t - infra_cache end to end through tests/tools/spotext-probe, run as
# root: TTL hits, ages, a live source (TTL 0) that still hands back its copy for a
# fallback, stale copies, counters, clear; and what another user (nobody) plants:
# a symlink at a cache file, a cache directory of its own, a symlinked cache
# directory, a world-writable parent.  Root never follows nor writes through them
# and the root-owned target stays byte-for-byte the same.  A concurrent reader
# never sees half a file.  Needs root (CI runs as root): otherwise it FAILS.
set -u
cd "${INFRA_SRCDIR:?}"
. "$INFRA_SRCDIR/tests/lib/tap.sh"
P=${INFRA_SRCDIR}/${BUILD:-build}/tests/tools/spotext-probe
tmp=${INFRA_TMP:-$(mktemp -d)}
T() { timeout -k 5 30 "$@"; }
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }

if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null; then
	nok "spotext-cache.t needs root and setpriv (running as uid $(id -u))"
	echo "1..$n"
	exit 1
fi
chmod 0711 "$tmp"
C=$tmp/cache

# ---- TTL, ages, live sources, stale copies, counters
echo '{"devices":[{"name":"gpu-001","site":"ams1"}]}' | T "$P" cache "$C" put netbox
check "put creates the cache directory 0700, owned by root" \
	sh -c "[ \"\$(stat -c %a:%U '$C')\" = 700:root ]"
check "the cache file holds source, written time and the document" \
	sh -c "jq -e '.source == \"netbox\" and (.written | type) == \"number\" and .doc.devices[0].site == \"ams1\"' '$C/netbox.json' >/dev/null"
out=$(T "$P" cache "$C" get netbox 1800); rc=$?
check "get with TTL 1800 right after put: a hit (exit 0), age < 5 s" \
	sh -c "[ $rc = 0 ] && echo '$out' | jq -e '.hit and .age < 5 and .doc.devices[0].name == \"gpu-001\"' >/dev/null"
out=$(T "$P" cache "$C" get netbox 0); rc=$?
check "TTL 0 (a live source): a miss (exit 3), the copy still handed back for a fallback" \
	sh -c "[ $rc = 3 ] && echo '$out' | jq -e '(.hit | not) and .doc.devices[0].name == \"gpu-001\"' >/dev/null"
now=$(date +%s)
jq -c --argjson w $((now - 4000)) '.written = $w' "$C/netbox.json" >"$tmp/old.json" && cp "$tmp/old.json" "$C/netbox.json"
out=$(T "$P" cache "$C" get netbox 3600); rc=$?
check "a copy written 4000 s ago with TTL 3600: stale (exit 3), its age about 4000 s and the copy handed back" \
	sh -c "[ $rc = 3 ] && echo '$out' | jq -e '(.hit | not) and .age >= 3999 and .age < 4100 and .doc != null' >/dev/null"
out=$(T "$P" cache "$C" get hyperstack 60); rc=$?
check "no copy at all: a miss with age -1 and doc null" \
	sh -c "[ $rc = 3 ] && echo '$out' | jq -e '.age == -1 and .doc == null' >/dev/null"
out=$(T "$P" cache "$C" stats netbox runpod)
check "stats: the age of the copy on disk, -1 when none" \
	sh -c "echo '$out' | jq -e '.netbox.age >= 3999 and .runpod.age == -1' >/dev/null"
echo '[1]' | T "$P" cache "$C" put runpod
T "$P" cache "$C" clear netbox
check "clear SOURCE removes only that copy" sh -c "[ ! -e '$C/netbox.json' ] && [ -e '$C/runpod.json' ]"
touch "$C/.runpod.json.tmp.a1b2c3" "$C/notes.txt"
T "$P" cache "$C" clear
check "clear (all) removes every copy and leftover temp files, nothing else" \
	sh -c "[ \"\$(ls -A '$C')\" = notes.txt ]"
err=$(echo '{}' | T "$P" cache "$C" put '../x' 2>&1); rc=$?
check "a source name with a path in it is refused: exit 1, one line" \
	sh -c "[ $rc = 1 ] && [ \$(printf '%s\n' \"$err\" | wc -l) = 1 ] && printf '%s' \"$err\" | grep -q 'invalid source name'"

# ---- atomic writes: a reader never sees half a file
big=$(jq -nc '[range(0; 30000) | "0123456789012345678901234567890123456789"]')
echo "$big" | T "$P" cache "$C" put placement
( for _ in $(seq 40); do echo "$big" | "$P" cache "$C" put placement || exit 1; done ) &
w=$!
bad=0 reads=0
while kill -0 $w 2>/dev/null; do
	T "$P" cache "$C" get placement 600 >"$tmp/read.json" 2>"$tmp/read.err"
	rc=$?
	reads=$((reads + 1))
	if [ $rc != 0 ] || [ "$(jq '.doc | length' "$tmp/read.json")" != 30000 ]; then
		bad=$((bad + 1)); cat "$tmp/read.err" >&2
	fi
done
wait $w; wrc=$?
check "40 puts of a 1.3 MB document while reading: every read whole ($reads reads, $bad bad), writer ok" \
	[ $wrc = 0 ] && [ $bad = 0 ] && [ $reads -gt 1 ]
check "no temp file left behind" sh -c "[ -z \"\$(ls -A '$C' | grep tmp)\" ]"

# ---- hostile files planted by nobody
precious=$tmp/precious
printf 'root-owned content: must never change\n' >"$precious"
sum0=$(sha256sum <"$precious")
unchanged() { [ "$(sha256sum <"$precious")" = "$sum0" ] && [ "$(stat -c %U "$precious")" = root ]; }

ww=$tmp/shared && mkdir -m 0777 "$ww" && chmod 0777 "$ww"     # a careless world-writable parent
err=$(echo '{}' | T "$P" cache "$ww/cache" put netbox 2>&1); rc=$?
check "a cache directory under a world-writable, non-sticky parent is refused" \
	sh -c "[ $rc = 1 ] && printf '%s' \"$err\" | grep -q 'writable by group or others'"
as_nobody mkdir -m 0700 "$ww/nb-cache"
err=$(echo '{}' | T "$P" cache "$ww/nb-cache" put netbox 2>&1); rc=$?
check "a cache directory nobody created under that parent is refused, nothing written in it" \
	sh -c "[ $rc = 1 ] && [ ! -e '$ww/nb-cache/netbox.json' ]"
sticky=$tmp/sticky && mkdir "$sticky" && chmod 1777 "$sticky"
as_nobody mkdir -m 0755 "$sticky/cache"
err=$(echo '{}' | T "$P" cache "$sticky/cache" put netbox 2>&1); rc=$?
check "a cache directory owned by nobody in a sticky /tmp-like directory is refused, naming the owner" \
	sh -c "[ $rc = 1 ] && printf '%s' \"$err\" | grep -q 'owned by uid 65534'"
mkdir -m 0700 "$tmp/rootcache"
as_nobody ln -s "$tmp/rootcache" "$sticky/linkcache"
err=$(echo '{}' | T "$P" cache "$sticky/linkcache" put netbox 2>&1); rc=$?
check "a cache directory that is nobody's symlink is not followed" \
	sh -c "[ $rc = 1 ] && [ ! -e '$tmp/rootcache/netbox.json' ]"

# a cache file swapped for a symlink: root's own cache directory, but made group-writable
# by a careless admin would be refused outright; here nobody had it before it became root's
R=$tmp/rcache
mkdir -m 0755 "$R" && chown 65534:65534 "$R"
as_nobody ln -s "$precious" "$R/netbox.json"
as_nobody ln -s "$precious" "$R/runpod.json"
chown root:root "$R" && chmod 0700 "$R"
err=$(echo '{"x":1}' | T "$P" cache "$R" put netbox 2>&1); rc=$?
check "put refuses a symlink at the cache file (exit 1, says so)" \
	sh -c "[ $rc = 1 ] && printf '%s' \"$err\" | grep -q 'symbolic link'"
check "the link's root-owned target is unchanged and the link still there" \
	sh -c "$(declare -f unchanged); sum0='$sum0'; precious='$precious'; unchanged && [ -L '$R/netbox.json' ]"
err=$(T "$P" cache "$R" get runpod 600 2>&1); rc=$?
check "get refuses to follow a symlink at the cache file (its target is never read)" \
	sh -c "[ $rc = 1 ] && printf '%s' \"$err\" | grep -q 'refusing to follow'"
rm -f "$R/runpod.json" && mkfifo "$R/runpod.json"
err=$(T "$P" cache "$R" get runpod 600 2>&1); rc=$?
check "a FIFO at the cache file: refused at once, no hang" sh -c "[ $rc = 1 ]"
check "the root-owned file never changed" unchanged

echo "1..$n"
