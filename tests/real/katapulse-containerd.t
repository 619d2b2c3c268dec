#!/usr/bin/env bash
# Real tier: katapulse-scrape's CRI client (gRPC ListPodSandbox over HTTP/2 prior
# knowledge on a unix socket, hand-decoded protobuf, grpc-status from the trailers)
# against Debian's containerd, started here on private sockets and directories.
# Without Kubernetes there are no pods, so the answer is an empty list: the test
# proves the protocol works end to end (katapulse_cri_up 1), and that a socket
# speaking something else (containerd's ttrpc socket) is reported, not trusted.
set -u
cd "${INFRA_SRCDIR:?}"
tmp=${INFRA_TMP:-$(mktemp -d)}
bin=${INFRA_BIN:-$PWD/${BUILD:-build}/bin}/katapulse-scrape
. "$INFRA_SRCDIR/tests/lib/tap.sh"

if ! command -v containerd >/dev/null 2>&1; then
	nok "containerd is not installed (apt-get install containerd; scripts/install-deps)"
	echo "1..$n"; exit 0
fi
node=$tmp/node
mkdir -p "$node/run/containerd" "$node/run/vc/sbs/0a1b2c3d4e5f"
cat >"$tmp/config.toml" <<TOML
version = 2
root = "$tmp/root"
state = "$tmp/state"
[grpc]
  address = "$node/run/containerd/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  disable_cgroup = true
  disable_apparmor = true
  restrict_oom_score_adj = true
TOML
containerd --config "$tmp/config.toml" >"$tmp/containerd.log" 2>&1 &
cd_pid=$!
trap 'kill $cd_pid 2>/dev/null; wait $cd_pid 2>/dev/null' EXIT
for _ in $(seq 100); do [ -S "$node/run/containerd/containerd.sock" ] && break; sleep 0.1; done
sleep 0.5 # the CRI service registers after the socket appears
check "containerd $(containerd --version | awk '{print $3}') started" test -S "$node/run/containerd/containerd.sock"

"$bin" --sysroot "$node" --no-state -f prom >"$tmp/out.prom" 2>"$tmp/err"; rc=$?
check "scrape exits 0 (the sandbox has no shim socket: skipped)" test "$rc" = 0
check "containerd answered ListPodSandbox: katapulse_cri_up 1" grep -qx 'katapulse_cri_up 1' "$tmp/out.prom"
check "no warning on stderr" test ! -s "$tmp/err"
check "no pods in a Kubernetes-less containerd: metadata stays empty" \
	grep -q 'katapulse_sandbox_info{sandbox_id="0a1b2c3d4e5f",runtime="go",cri_uid="",cri_name="",cri_namespace="",metadata_source="none"} 1' "$tmp/out.prom"

"$bin" --sysroot "$node" --no-state -t 2 --runtime-endpoint /run/containerd/containerd.sock.ttrpc \
	-f prom >"$tmp/out2.prom" 2>"$tmp/err2"; rc=$?
check "a socket that does not speak gRPC (ttrpc): still exit 0" test "$rc" = 0
check "... katapulse_cri_up 0" grep -qx 'katapulse_cri_up 0' "$tmp/out2.prom"
check "... one warning line naming the CRI call" \
	bash -c "[ \$(wc -l <'$tmp/err2') = 1 ] && grep -q 'CRI ListPodSandbox' '$tmp/err2'"
echo "1..$n"
