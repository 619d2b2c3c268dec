# tests/tool/kube-lib.sh - shared by tests/tool/kube-*.t: start tests/sim/kube.py over TLS
# (certificates made by openssl in $tmp/tls at test time) and run the test tool kube-list.
set -u
cd "${INFRA_SRCDIR:?}"
. "$INFRA_SRCDIR/tests/lib/tap.sh"
tmp=${INFRA_TMP:-$(mktemp -d)}
klist=$INFRA_SRCDIR/${BUILD:-build}/tests/tools/kube-list
vg=()
[ "${INFRA_VALGRIND:-0}" = 1 ] && vg=(valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99)
sims=()
trap 'for p in "${sims[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done' EXIT

# start_sim NAME ARGS... : sets URL_<NAME>; world defaults to tests/sim/nas-world-min.json
start_sim() {
	local name=$1; shift
	python3 tests/sim/kube.py --tls-dir "$tmp/tls" --max-seconds 300 "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	sims+=($!)
	for _ in $(seq 200); do grep -q READY "$tmp/$name.out" && break; sleep 0.1; done
	check "kube.py ($name) ready" grep -q READY "$tmp/$name.out"
	printf -v "URL_$name" '%s' "$(sed -n 's/^READY //p' "$tmp/$name.out")"
}

# kl OUT ERR ARGS... : run kube-list, status in $rc
kl() {
	local out=$1 err=$2; shift 2
	"${vg[@]}" "$klist" "$@" >"$out" 2>"$err"
	rc=$?
}

# jq-like field access: jf FILE PYTHON-EXPR (d = the JSON document)
jf() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1" 2>/dev/null; }

# post URL PATH JSON : control endpoint of the simulator
sim_http() { # METHOD URL [BODY]
	python3 - "$tmp/tls/ca.pem" "$@" <<'PY'
import ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile=sys.argv[1])
body = sys.argv[4].encode() if len(sys.argv) > 4 else None
req = urllib.request.Request(sys.argv[3], data=body, method=sys.argv[2], headers={"Content-Type": "application/json"})
sys.stdout.write(urllib.request.urlopen(req, context=ctx).read().decode())
PY
}
post() { sim_http POST "$1$2" "$3" >/dev/null; }
requests() { sim_http GET "$1/_sim/requests"; }
