#!/usr/bin/env bash
# infra_kube's auth sources as a process (tests/tools/kube-list) against tests/sim/kube.py over
# TLS with a CA made by openssl at test time: flags, $KUBECONFIG with -data and file
# certificates (client-certificate auth), tokenFile, in-cluster service account; exec and
# auth-provider plugins refused with exit 3; a server certificate of another CA refused;
# no token ever printed.
. "$INFRA_SRCDIR/tests/tool/kube-lib.sh"

start_sim a --world tests/sim/nas-world-min.json --token s3cret-token-a --deny volumeattachments
U=$URL_a
printf 's3cret-token-a\n' >"$tmp/token"
b64() { base64 -w0 <"$1"; }
kubeconfig() { # FILE CLUSTER-LINES USER-LINES
	printf 'apiVersion: v1\nkind: Config\ncurrent-context: sim\ncontexts:\n- name: sim\n  context: {cluster: simc, user: simu}\nclusters:\n- name: simc\n  cluster:\n%s\nusers:\n- name: simu\n  user:\n%s\n' "$2" "$3" >"$1"
}
last_auth() { requests "$U" | python3 -c "import json,sys; print(json.load(sys.stdin)[-1]['auth'])"; }

# 1. flags
kl "$tmp/f.json" "$tmp/f.err" --kube-api "$U" --kube-token-file "$tmp/token" --kube-ca "$tmp/tls/ca.pem" /api/v1/persistentvolumes
check "flags: exit 0" test "$rc" = 0
check "flags: auth_source flags" test "$(jf "$tmp/f.json" "d['auth_source']")" = flags
check "flags: 3 PVs" test "$(jf "$tmp/f.json" "d['lists']['/api/v1/persistentvolumes']['count']")" = 3
check "flags: the server saw a bearer token" test "$(last_auth)" = token

# 2. $KUBECONFIG (a colon list: the absent file is skipped) with certificate-authority-data and client -data
kubeconfig "$tmp/kc-data.yaml" "    server: $U
    certificate-authority-data: $(b64 "$tmp/tls/ca.pem")" "    client-certificate-data: $(b64 "$tmp/tls/client.pem")
    client-key-data: $(b64 "$tmp/tls/client.key")"
KUBECONFIG="$tmp/kc-data.yaml:$tmp/absent.yaml" kl "$tmp/d.json" "$tmp/d.err" /api/v1/nodes
check "KUBECONFIG -data: exit 0" test "$rc" = 0
check "KUBECONFIG -data: auth_source names the file" test "$(jf "$tmp/d.json" "d['auth_source']")" = "kubeconfig:$tmp/kc-data.yaml"
check "KUBECONFIG -data: 2 nodes" test "$(jf "$tmp/d.json" "d['lists']['/api/v1/nodes']['count']")" = 2
check "KUBECONFIG -data: the server saw a client certificate" test "$(last_auth)" = cert
check "KUBECONFIG -data: nothing written next to the kubeconfig (no temp key files)" \
	test "$(ls "$tmp" | grep -c -v -E '^(tls|kc-data.yaml|token|[a-z]\.(out|err|json))$')" = 0

# 3. ~/.kube/config with certificate files (relative to the kubeconfig's directory)
mkdir -p "$tmp/home/.kube" && cp "$tmp/tls/client.pem" "$tmp/tls/client.key" "$tmp/tls/ca.pem" "$tmp/home/.kube/"
kubeconfig "$tmp/home/.kube/config" "    server: $U
    certificate-authority: ca.pem" "    client-certificate: client.pem
    client-key: $tmp/home/.kube/client.key"
HOME=$tmp/home kl "$tmp/h.json" "$tmp/h.err" /apis/storage.k8s.io/v1/csinodes
check "~/.kube/config with files: exit 0" test "$rc" = 0
check "~/.kube/config with files: 2 CSINodes" test "$(jf "$tmp/h.json" "d['lists']['/apis/storage.k8s.io/v1/csinodes']['count']")" = 2
check "~/.kube/config with files: client certificate" test "$(last_auth)" = cert

# 4. tokenFile
kubeconfig "$tmp/kc-tf.yaml" "    server: $U
    certificate-authority: $tmp/tls/ca.pem" "    tokenFile: token"
kl "$tmp/t.json" "$tmp/t.err" --kubeconfig "$tmp/kc-tf.yaml" /api/v1/nodes
check "tokenFile (relative): exit 0 with a bearer token" test "$rc:$(last_auth)" = 0:token

# 5. in-cluster service account (directory overridden), token re-read on every run
mkdir -p "$tmp/sa" && cp "$tmp/tls/ca.pem" "$tmp/sa/ca.crt" && cp "$tmp/token" "$tmp/sa/token"
port=${U##*:}
incluster() { HOME=$tmp/nohome KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT=$port INFRA_KUBE_SA_DIR=$tmp/sa kl "$@"; }
incluster "$tmp/i.json" "$tmp/i.err" /api/v1/persistentvolumeclaims
check "in-cluster: exit 0" test "$rc" = 0
check "in-cluster: auth_source in-cluster" test "$(jf "$tmp/i.json" "d['auth_source']")" = in-cluster
echo "rotated-token-unknown" >"$tmp/sa/token"
incluster "$tmp/j.json" "$tmp/j.err" /api/v1/persistentvolumeclaims
check "in-cluster: the rotated token is read on the next run (401 now)" \
	test "$rc:$(jf "$tmp/j.json" "d['lists']['/api/v1/persistentvolumeclaims']['errno']")" = 1:EACCES
check "in-cluster: the 401 names the source, not the token" \
	sh -c "grep -q 'in-cluster' '$tmp/j.json' && ! grep -q rotated-token '$tmp/j.json' '$tmp/j.err'"

# 6. exec / auth-provider refused (exit 3, one line naming the plugin)
kubeconfig "$tmp/kc-exec.yaml" "    server: $U" "    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: gke-gcloud-auth-plugin"
kl "$tmp/e.json" "$tmp/e.err" --kubeconfig "$tmp/kc-exec.yaml" /api/v1/nodes
check "exec plugin: exit 3" test "$rc" = 3
check "exec plugin: one stderr line naming it" \
	sh -c "test \$(wc -l <'$tmp/e.err') = 1 && grep -q 'exec plugin (gke-gcloud-auth-plugin), which is not supported' '$tmp/e.err'"
check "exec plugin: nothing on stdout" test ! -s "$tmp/e.json"
kubeconfig "$tmp/kc-ap.yaml" "    server: $U" "    auth-provider:
      name: azure"
kl "$tmp/p.json" "$tmp/p.err" --kubeconfig "$tmp/kc-ap.yaml" /api/v1/nodes
check "auth-provider: exit 3, named" sh -c "test $rc = 3 && grep -q \"auth-provider 'azure'\" '$tmp/p.err'"

# 7. TLS: a server certificate signed by another CA is refused, before any request is answered
before=$(requests "$U" | python3 -c "import json,sys; print(len(json.load(sys.stdin)))")
kl "$tmp/w.json" "$tmp/w.err" --kube-api "$U" --kube-token-file "$tmp/token" --kube-ca "$tmp/tls/other-ca.pem" /api/v1/nodes
check "wrong CA: the list fails (exit 1) with a TLS error" \
	sh -c "test $rc = 1 && grep -q 'certificate' '$tmp/w.json'"
after=$(requests "$U" | python3 -c "import json,sys; print(len(json.load(sys.stdin)))")
check "wrong CA: the server got no request ($before -> $after)" test "$before" = "$after"
kubeconfig "$tmp/kc-wrong.yaml" "    server: $U
    certificate-authority-data: $(b64 "$tmp/tls/other-ca.pem")" "    token: s3cret-token-a"
kl "$tmp/x.json" "$tmp/x.err" --kubeconfig "$tmp/kc-wrong.yaml" /api/v1/nodes
check "wrong certificate-authority-data: refused" sh -c "test $rc = 1 && grep -q 'certificate' '$tmp/x.json'"

# 8. RBAC 403 names the resource; the token never appears anywhere
kl "$tmp/r.json" "$tmp/r.err" --kube-api "$U" --kube-token-file "$tmp/token" --kube-ca "$tmp/tls/ca.pem" \
	/apis/storage.k8s.io/v1/volumeattachments /api/v1/nodes
check "403: EACCES for volumeattachments, the other list still works" \
	test "$(jf "$tmp/r.json" "d['lists']['/apis/storage.k8s.io/v1/volumeattachments']['errno'], d['lists']['/api/v1/nodes']['count']")" = "EACCES 2"
check "403: the message names verb, resource and group" \
	grep -q "list volumeattachments (API group .*storage.k8s.io.*403 Forbidden" "$tmp/r.json"
check "no token in any output" sh -c "! grep -l s3cret-token-a '$tmp'/*.json '$tmp'/*.err"
echo "1..$n"
