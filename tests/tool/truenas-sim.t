#!/usr/bin/env bash
# lib/infra_truenas against tests/sim/truenas.py (tests/tools/tn-client drives the library):
# every version (24.10 REST only, 25.04 / 25.10 JSON-RPC with their snapshot methods, 26.0 without
# REST), wss:// and https:// with a CA made by openssl here, the refusals (key over http:// or ws://
# to a non-loopback host, key too long for the 8 KiB pre-auth limit), key revocation, out-of-order
# replies, error objects, every fault (latency, drop mid-frame, 5xx, malformed JSON), a large result.
set -u
cd "${INFRA_SRCDIR:?}"
. "$INFRA_SRCDIR/tests/lib/tap.sh"
tmp=${INFRA_TMP:-$(mktemp -d)}
client=$INFRA_SRCDIR/${BUILD:-build}/tests/tools/tn-client
world=tests/sim/truenas-world-min.json
key=1-Zx9sEcReTkEyVaLuE0123456789abcdef
printf '%s\n' "$key" >"$tmp/key"
# the Debian interpreter starts in 0.2 s where a pyenv shim takes 2 s; the simulator needs only the stdlib
py=/usr/bin/python3
[ -x "$py" ] || py=python3
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done' EXIT
sims=0

start() { # args...: start the simulator, set $url and $pid
	sims=$((sims + 1))
	"$py" tests/sim/truenas.py --world "${WORLD:-$world}" --api-key "$key" --max-seconds 300 "$@" \
		>"$tmp/sim$sims.out" 2>"$tmp/sim$sims.err" &
	pid=$!
	pids+=($pid)
	for _ in $(seq 100); do grep -q READY "$tmp/sim$sims.out" 2>/dev/null && break; sleep 0.1; done
	url=$(sed -n 's/^READY //p' "$tmp/sim$sims.out")
}
stop() { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }
state() { curl -s ${CA:+--cacert "$CA"} "$url/_sim/state"; }
tn() { # out-file args...: run the client, status in $rc
	local out=$1; shift
	timeout 60 "$client" --key-file "$tmp/key" --timeout 5000 "$@" >"$tmp/$out" 2>"$tmp/$out.err"
	rc=$?
	cat "$tmp/$out.err" >>"$tmp/all-stderr"
	cat "$tmp/$out" >>"$tmp/all-stdout"
}
counts_ok() { # the per-query counts of the min world
	printf 'query pools ok 1 items\nquery datasets ok 4 items\nquery snapshots ok 3 items\nquery nfs_shares ok 2 items\nquery smb_shares ok 0 items\nquery iscsi_targets ok 1 items\nquery iscsi_extents ok 2 items\nquery iscsi_targetextents ok 1 items\n' |
		diff - <(grep '^query' "$tmp/$1") >/dev/null
}
used() { state | jq -r '[.requests[][0]] | join(" ")'; }

# ---- each version, auto-detected ----
start --version 24.10
tn v24 --url "$url" --query all
check "24.10: /api/versions is 404, REST chosen" grep -qx "version TrueNAS-SCALE-24.10.2 transport rest" "$tmp/v24"
check "24.10: all eight queries over REST, counts from the world" counts_ok v24
check "24.10: snapshots from /zfs/snapshot, datasets flat" grep -q "/zfs/snapshot" <<<"$(used)"
tn v24rpc --url "$url" --api jsonrpc --query pools
check "24.10: forcing JSON-RPC fails clearly (no /api/current)" \
	grep -q "no JSON-RPC API (TrueNAS 24.10 and older have only REST" "$tmp/v24rpc"
stop

for v in 25.04 25.10; do
	start --version "$v"
	tn "v$v" --url "$url" --query all
	check "$v: JSON-RPC chosen from /api/versions" grep -q "transport jsonrpc" "$tmp/v$v"
	check "$v: all eight queries, counts from the world" counts_ok "v$v"
	if [ "$v" = 25.04 ]; then
		check "25.04: snapshots by zfs.snapshot.query" grep -qw "zfs.snapshot.query" <<<"$(used)"
	else
		check "25.10: snapshots by pool.snapshot.query (zfs.snapshot.query is private there)" \
			grep -qw "pool.snapshot.query" <<<"$(used)"
		tn zfs25 --url "$url" --call zfs.snapshot.query
		check "25.10: calling zfs.snapshot.query is 'method does not exist' (ENOTSUP, code -32601)" \
			grep -q "^call zfs.snapshot.query error ENOTSUP: zfs.snapshot.query: Method does not exist (JSON-RPC error -32601)" "$tmp/zfs25"
	fi
	tn "rest$v" --url "$url" --api rest --query snapshots
	check "$v: REST still works when forced" grep -q "transport rest" "$tmp/rest$v"
	stop
done

start --version 26.0
tn v26 --url "$url" --query all
check "26.0: JSON-RPC, all queries" counts_ok v26
tn v26rest --url "$url" --api rest --query pools
check "26.0: REST forced fails: removed in 26 (exit 2)" test "$rc" = 2
check "26.0: the message says REST is gone" grep -q "has no REST API /api/v2.0 (removed in TrueNAS 26" "$tmp/v26rest"

# ---- out-of-order replies, matched by id ----
orders=$(state | jq -c '.reply_orders[0]')
check "the simulator answered out of order ($orders) and every result landed in its slot" \
	test "$(jq -c sort <<<"$orders")" != "$orders"

# ---- error objects ----
tn call-bad --url "$url" --call pool.dataset.query --params '[[["id","~~","x"]]]'
check "invalid params: error object -32602 with its data.extra in the message" \
	grep -q "^call pool.dataset.query error EINVAL: pool.dataset.query: Invalid params; pool.dataset.query.query-filters: invalid operator '~~' (JSON-RPC error -32602, EINVAL)" "$tmp/call-bad"
tn call-get --url "$url" --call pool.dataset.query --params '[[["id","=","nope"]],{"get":true}]'
check "CallError: ENOENT reason in the message" grep -q "error ENOENT: pool.dataset.query: Object not found (JSON-RPC error -32001, ENOENT)" "$tmp/call-get"
tn call-ok --url "$url" --call pool.query --params '[[["name","=","tank"]],{"select":["name","status"]}]'
check "a raw call with filters and select" grep -qx 'call pool.query ok \[{"name":"tank","status":"ONLINE"}\]' "$tmp/call-ok"
curl -s -X POST -d '{"kind":"error","method":"pool.query"}' "$url/_sim/fault" >/dev/null
tn err1 --url "$url" --query all
check "an error object for one query fails that query only (exit 1)" test "$rc" = 1
check "... with a clear message" grep -qx "query pools error ENOENT: pool.query: \[ENOENT\] simulated failure (JSON-RPC error -32001, ENOENT)" "$tmp/err1"
check "... and the seven others succeed" test "$(grep -c '^query .* ok ' "$tmp/err1")" = 7
stop

# ---- the server's limit on concurrent calls (middlewared: soft 10 / hard 20 per connection) ----
start --version 25.10 --max-concurrent 10
tn conc --url "$url" --query all --repeat 4
check "32 queries in one go against a 10-call limit: all answered" test "$(grep -c '^query .* ok ' "$tmp/conc")" = 32
check "... and never more than 10 open at once (no -32000 from the server)" \
	test "$(state | jq .busy)" = 0
stop
start --version 25.10 --max-concurrent 3
tn conc3 --url "$url" --query all --repeat 2
busy=$(state | jq .busy)
check "a server with a lower limit (3): the $busy calls refused with -32000 were sent again, all 16 answered" \
	test "$(grep -c '^query .* ok ' "$tmp/conc3")" = 16 -a "$busy" -gt 0
stop

# ---- the 8 KiB pre-auth limit ----
start --version 25.10
head -c 9000 /dev/zero | tr '\0' k >"$tmp/longkey"
timeout 20 "$client" --key-file "$tmp/longkey" --url "$url" --query pools >"$tmp/long" 2>&1; rc=$?
check "a key making the login message pass 8 KiB is refused before sending (exit 3)" test "$rc" = 3
check "... saying why" grep -q "the login message would pass the server's 8192-byte limit before authentication" "$tmp/long"
check "... and the server saw no login" test "$(state | jq .logins)" = 0
"$py" - "${url/http/ws}/api/current" >"$tmp/preauth" 2>&1 <<'PY'
import asyncio, sys, websockets
async def main():
    async with websockets.connect(sys.argv[1], max_size=None, compression=None) as ws:
        await ws.send("x" * 9000)
        try:
            await ws.recv()
        except websockets.ConnectionClosed as e:
            print("closed", e.code)
asyncio.run(main())
PY
check "the simulator closes a socket whose first message passes 8 KiB (1009), like the middleware" grep -qx "closed 1009" "$tmp/preauth"
tn badkey --url "$url" --query pools <<<"" ; printf 'wrong-key\n' >"$tmp/wrong"
timeout 20 "$client" --key-file "$tmp/wrong" --url "$url" --query pools >"$tmp/wrongk" 2>&1; rc=$?
check "a wrong key: login false -> EACCES (exit 2)" test "$rc" = 2 && grep -q "open error EACCES: .*TrueNAS rejected the API key" "$tmp/wrongk"
stop

# ---- refusals: the key never goes over http:// or ws:// to a non-loopback host ----
for u in http://192.0.2.10 ws://192.0.2.10:6000 http://truenas.example.com; do
	tn refuse --url "$u" --query pools
	check "refused: $u (exit 3, before any connection)" test "$rc" = 3
	check "refused: $u message" grep -q "refusing to send the API key over .* to $(sed "s|.*://||; s|:.*||" <<<"$u")" "$tmp/refuse.err"
done
check "refusal message is one line on stderr" test "$(wc -l <"$tmp/refuse.err")" = 1

# ---- key revocation over an insecure transport from a non-loopback peer ----
start --version 25.10 --pretend-remote
tn revoke --url "$url" --query pools
check "revocation: login over ws:// from a (pretended) remote peer fails (EACCES)" grep -q "open error EACCES" "$tmp/revoke"
check "revocation: the simulator revoked the key" \
	test "$(state | jq -c .revoked)" = "[\"$key\"]"
tn revoke2 --url "$url" --api rest --query pools
check "revocation: the revoked key fails on REST too (401 -> EACCES)" grep -q "open error EACCES: GET /system/info: HTTP 401" "$tmp/revoke2"
stop

# ---- TLS: wss:// and https:// with a CA made now ----
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/ca.key" -out "$tmp/ca.pem" -days 2 -subj "/CN=tn-ca" >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -keyout "$tmp/srv.key" -out "$tmp/srv.csr" -subj "/CN=localhost" >/dev/null 2>&1
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$tmp/ext"
openssl x509 -req -in "$tmp/srv.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" -CAcreateserial -out "$tmp/srv.pem" \
	-days 2 -extfile "$tmp/ext" >/dev/null 2>&1
start --version 25.10 --tls-cert "$tmp/srv.pem" --tls-key "$tmp/srv.key" --pretend-remote
CA=$tmp/ca.pem
tn tls --url "$url" --cacert "$tmp/ca.pem" --query all
check "wss://: JSON-RPC over TLS with our CA, all queries" counts_ok tls
check "wss://: a remote peer over TLS keeps its key (no revocation)" \
	test "$(state | jq -c .revoked)" = "[]"
tn tlsnoca --url "$url" --query pools
check "wss://: an unknown CA is a TLS error (exit 2)" test "$rc" = 2 && grep -q "TLS\|certificate" "$tmp/tlsnoca"
tn tlsrest --url "$url" --cacert "$tmp/ca.pem" --api rest --query all
check "https:// REST with our CA" counts_ok tlsrest
stop
CA=

# ---- faults ----
start --version 25.10 --fault kind=latency,ms=300
tn slow --url "$url" --query pools --timeout 5000
check "latency 300 ms within a 5 s timeout: fine" grep -q "query pools ok" "$tmp/slow"
timeout 60 "$client" --key-file "$tmp/key" --url "$url" --api jsonrpc --timeout 150 --attempts 1 --query pools >"$tmp/slow2" 2>&1; rc=$?
check "latency 300 ms over a 150 ms timeout: a timeout error (exit 2)" test "$rc" = 2 && grep -q "ETIMEDOUT.*timeout after 150 ms" "$tmp/slow2"
stop

start --version 25.10 --fault kind=drop,method=pool.dataset.query
tn drop --url "$url" --query all
check "drop mid-frame: transport failure (exit 2)" test "$rc" = 2
check "drop mid-frame: said as such" grep -q "^transport error ECONNRESET: .*connection closed by the peer in the middle of a frame" "$tmp/drop"
check "drop mid-frame: queries not answered are errors, never empty results" \
	test "$(grep -c '^query .* error ' "$tmp/drop")" -ge 1
stop

start --version 25.10 --fault kind=5xx,path=/api/versions,count=1
tn retry --url "$url" --query pools
check "one 503 on /api/versions: retried, then fine" grep -q "query pools ok 1 items" "$tmp/retry"
stop
start --version 25.10 --fault kind=5xx,path=/api/versions,count=-1
tn s503 --url "$url" --query pools --attempts 2
check "503 every time: the probe fails with the status (exit 2)" test "$rc" = 2 && grep -q "/api/versions: HTTP 503" "$tmp/s503"
tn s503f --url "$url" --api jsonrpc --query pools
check "503 on the probe only: forcing JSON-RPC skips the probe" grep -q "query pools ok 1 items" "$tmp/s503f"
stop
start --version 25.10 --fault kind=5xx,path=/api/current,count=-1
tn wsup503 --url "$url" --query pools --attempts 2
check "503 on the WebSocket upgrade: handshake error with the status" grep -q "handshake: HTTP 503" "$tmp/wsup503"
stop
start --version 24.10 --fault kind=5xx,path=/pool/dataset,count=-1,status=500
tn r500 --url "$url" --query pools,datasets --attempts 2
check "REST 500 on one endpoint: that query fails with the status, the other succeeds" \
	grep -q "query datasets error EIO: GET /pool/dataset.*HTTP 500" "$tmp/r500" && grep -q "query pools ok" "$tmp/r500"
stop

start --version 25.10 --fault kind=malformed,method=sharing.nfs.query
tn mal --url "$url" --query all
check "malformed JSON-RPC reply: a clear protocol error (exit 2)" test "$rc" = 2 && grep -q "EPROTO: .*invalid JSON-RPC reply: invalid JSON" "$tmp/mal"
stop
start --version 24.10 --fault kind=malformed,path=/iscsi/extent
tn malr --url "$url" --query all
check "malformed REST body: that query fails (EPROTO), the others succeed" \
	grep -q "query iscsi_extents error EPROTO: GET /iscsi/extent: invalid JSON" "$tmp/malr" && test "$(grep -c ' ok ' "$tmp/malr")" = 7
stop

# ---- a large result: many MB, fragmented, with pings between fragments ----
"$py" - "$world" "$tmp/big.json" <<'PY'
import copy, json, sys
w = json.load(open(sys.argv[1]))
ds = w["truenas"]["datasets"]
big = []
for i in range(4000):
    d = copy.deepcopy(ds[i % len(ds)])
    d["id"] = d["name"] = "tank/k8s/nfs/vols/pvc-%08d" % i
    big.append(d)
w["truenas"]["datasets"] = big
json.dump(w, open(sys.argv[2], "w"))
PY
WORLD=$tmp/big.json start --version 25.10 --frag-size 65536 --ping
tn big --url "$url" --query all
check "large result: 4000 datasets over JSON-RPC" grep -qx "query datasets ok 4000 items" "$tmp/big"
size=$(jq -c .truenas.datasets "$tmp/big.json" | wc -c)
check "large result: the message was $((size / 1048576)) MiB, in 64 KiB fragments" test "$size" -gt 5000000
pongs=$(state | jq -r '"\(.pongs) \(.pongs_mid)"')
check "large result: every ping of the server was answered ($pongs), also one sent between fragments" \
	test "${pongs% *}" -ge 11 -a "${pongs#* }" -ge 1
stop
WORLD=$tmp/big.json start --version 24.10
tn bigr --url "$url" --query datasets
check "large result over REST: 4000 datasets" grep -qx "query datasets ok 4000 items" "$tmp/bigr"
stop

# ---- the key never appears in any output ----
check "the API key appears in no output or error of any run" bash -c "! grep -qF -- '$key' '$tmp/all-stdout' '$tmp/all-stderr'"
echo "1..$n"
