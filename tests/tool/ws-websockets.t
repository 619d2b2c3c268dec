#!/usr/bin/env bash
# lib/infra_ws against an INDEPENDENT WebSocket server: Debian's python3-websockets
# (tests/sim/ws_echo.py), over plain ws:// and over wss:// with a CA made here by openssl.
# Covers 7-, 16- and 64-bit payload lengths both ways, fragmented messages (continuation
# frames), ping/pong both ways, close codes and reasons both ways, the message size cap.
set -u
cd "${INFRA_SRCDIR:?}"
. "$INFRA_SRCDIR/tests/lib/tap.sh"
tmp=${INFRA_TMP:-$(mktemp -d)}
client=$INFRA_SRCDIR/${BUILD:-build}/tests/tools/ws-client
py=/usr/bin/python3   # the Debian interpreter, where python3-websockets lives
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done' EXIT

check "python3-websockets is installed (scripts/nasmon-tn.packages)" "$py" -c 'import websockets'

# a throwaway CA and a server certificate for 127.0.0.1, made now
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/ca.key" -out "$tmp/ca.pem" -days 2 \
	-subj "/CN=ws-test-ca" >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -keyout "$tmp/srv.key" -out "$tmp/srv.csr" -subj "/CN=127.0.0.1" >/dev/null 2>&1
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$tmp/ext"
openssl x509 -req -in "$tmp/srv.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" -CAcreateserial \
	-out "$tmp/srv.pem" -days 2 -extfile "$tmp/ext" >/dev/null 2>&1
check "openssl made a CA and a server certificate" test -s "$tmp/srv.pem"

start() { # name args...: start ws_echo.py, set $url
	local name=$1; shift
	"$py" tests/sim/ws_echo.py --log "$tmp/$name.log" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	pids+=($!)
	for _ in $(seq 100); do grep -q READY "$tmp/$name.out" && break; sleep 0.1; done
	url=$(sed -n 's/^READY //p' "$tmp/$name.out")
}
fnv() { "$py" -c 'import sys
n=int(sys.argv[1]); b=bytes(ord("a")+i%26 for i in range(n)); h=0xcbf29ce484222325
for c in b: h=((h^c)*0x100000001b3)&0xFFFFFFFFFFFFFFFF
print("%016x"%h)' "$1"; }

run_suite() { # label url client-options...
	local label=$1 u=$2; shift 2
	local out=$tmp/$label.client
	timeout 60 "$client" --timeout 10000 "$@" "$u" \
		sendn:100 recv sendn:126 recv sendn:65535 recv sendn:65536 recv sendn:3000000 recv sendbin:70000 recv \
		send:gen:125 recv send:gen:126 recv send:gen:65535 recv send:gen:65536 recv send:gen:5000000 recv \
		send:frag:1000000:13 recv send:frag:30:30 recv \
		send:ping recv ping:hello send:after-ping recv \
		send:close:4001:bye-now recv >"$out" 2>&1
	local lines; mapfile -t lines <"$out"
	check "$label: connected (handshake, Sec-WebSocket-Accept checked)" test "${lines[0]}" = connected
	local i=1 len
	for len in 100 126 65535 65536 3000000; do
		check "$label: client frame of $len bytes ($( [ $len -lt 126 ] && echo 7 || { [ $len -lt 65536 ] && echo 16 || echo 64; })-bit length) arrived intact" \
			grep -q "head=len=$len fnv=$(fnv $len)\$" <<<"${lines[$i]}"
		i=$((i + 1))
	done
	check "$label: binary client message of 70000 bytes arrived intact" grep -q "head=bin len=70000 fnv=$(fnv 70000)\$" <<<"${lines[$i]}"
	i=$((i + 1))
	for len in 125 126 65535 65536 5000000; do
		check "$label: server message of $len bytes received whole" grep -q "^recv op=text len=$len fnv=$(fnv $len) " <<<"${lines[$i]}"
		i=$((i + 1))
	done
	check "$label: fragmented message (13 frames, 1 MB) reassembled" grep -q "^recv op=text len=1000000 fnv=$(fnv 1000000) " <<<"${lines[$i]}"
	check "$label: fragmented message of 30 one-byte frames reassembled" grep -q "^recv op=text len=30 fnv=$(fnv 30) " <<<"${lines[$((i + 1))]}"
	check "$label: the server's ping was answered with a pong" grep -q "head=pong-received" <<<"${lines[$((i + 2))]}"
	check "$label: our ping was accepted, the connection still works" grep -q "head=len=10 fnv=" <<<"${lines[$((i + 3))]}"
	check "$label: the server's close code and reason reported" grep -qx "peer-close 4001 bye-now" "$out"
	check "$label: the close frame was echoed with the peer's code" grep -q "^client-close 4001" "$tmp/$label.srv.log"
}

start plain
check "plain server ready" test -n "$url"
: >"$tmp/plain.srv.log"; ln -sf "$tmp/plain.log" "$tmp/plain.srv.log"
run_suite plain "$url"
# client-initiated close with a code and reason
timeout 20 "$client" "$url" send:x recv close:4002:client-says-bye >"$tmp/c2.out" 2>&1
check "client close: the server echoed our close frame" grep -qx "closed peer-code=4002 reason=client-says-bye" "$tmp/c2.out"
sleep 0.3
check "client close: the server saw code 4002 and our reason" grep -qx "client-close 4002 client-says-bye" "$tmp/plain.log"
# message size cap: a 2 MB message against a 1 MB cap fails from the frame header, with close 1009
timeout 20 "$client" --max-message 1048576 "$url" send:gen:2000000 recv >"$tmp/cap.out" 2>&1; rc=$?
check "size cap: 2 MB message over a 1 MiB cap is an error (E2BIG)" grep -q "^error E2BIG: .*message larger than 1048576 bytes" "$tmp/cap.out"
check "size cap: exit status 1" test "$rc" = 1
sleep 0.3
check "size cap: the server got close code 1009 (message too big)" grep -q "^client-close 1009" "$tmp/plain.log"
timeout 20 "$client" --max-message 1048576 "$url" send:frag:2000000:4 recv >"$tmp/cap2.out" 2>&1
check "size cap: also for a fragmented message whose parts are each under the cap" grep -q "^error E2BIG: .*fragmented" "$tmp/cap2.out"

start tls --tls-cert "$tmp/srv.pem" --tls-key "$tmp/srv.key"
check "TLS server ready ($url)" grep -q '^wss://' <<<"$url"
ln -sf "$tmp/tls.log" "$tmp/tls.srv.log"
run_suite tls "$url" --cacert "$tmp/ca.pem"
timeout 20 "$client" "$url" send:x recv >"$tmp/noca.out" 2>&1; rc=$?
check "TLS: without our CA the certificate is refused (EPROTO, TLS error)" grep -q "^error EPROTO: .*TLS error" "$tmp/noca.out"
timeout 20 "$client" --insecure "$url" send:x recv >"$tmp/insec.out" 2>&1
check "TLS: --insecure connects anyway" grep -q "^recv op=text len=" "$tmp/insec.out"
timeout 20 "$client" "${url/wss:/ws:}" send:x recv >"$tmp/mix.out" 2>&1; rc=$?
check "plain ws:// to the TLS port fails cleanly (status 1, one error line)" test "$rc" = 1 -a "$(grep -c '^error' "$tmp/mix.out")" = 1
timeout 20 "$client" ws://127.0.0.1:1/x >"$tmp/refused.out" 2>&1
check "connection refused is reported" grep -q "^error ECONNREFUSED: ws://127.0.0.1:1/x: cannot connect" "$tmp/refused.out"
echo "1..$n"
