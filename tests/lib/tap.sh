# tests/lib/tap.sh - TAP helpers shared by the scripted tests (tests/tool/*.t, tests/real/*.t).
# Source it after `cd "$INFRA_SRCDIR"`; print "1..$n" at the end.
n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
nok() { n=$((n + 1)); echo "not ok $n - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else nok "$what"; fi; }
# sim_start NAME CMD...: start a simulator (tests/sim/*.py, --max-seconds 300 added) with its
# output in $tmp/NAME.out/.err, print its URL once it says READY (empty if it did not);
# its pid goes to $tmp/NAME.simpid (a file: callers run this in $(...)) for sim_stop_all.
sim_start() {
	local name=$1 _i; shift
	"$@" --max-seconds 300 >"$tmp/$name.out" 2>"$tmp/$name.err" &
	echo $! >"$tmp/$name.simpid"
	for _i in $(seq 150); do grep -q '^READY ' "$tmp/$name.out" 2>/dev/null && break; sleep 0.1; done
	awk '/^READY/{print $2}' "$tmp/$name.out"
}
sim_stop_all() {
	local p
	for p in "$tmp"/*.simpid; do [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null; done
	wait 2>/dev/null
}
