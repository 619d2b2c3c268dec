#!/usr/bin/env bash
# share/nasmon/rbac.yaml: read-only (get/list only), exactly the resources nasmon-check lists
# (those tests/sim/kube.py serves), no Secrets, bound to the nasmon-check ServiceAccount; and
# enough: kube.py enforcing it (--rbac) lets that ServiceAccount's token list all 13 resources,
# while the same file without one rule gives a 403 for that resource only.
. "$INFRA_SRCDIR/tests/tool/kube-lib.sh"
rbac=share/nasmon/rbac.yaml
facts=$(python3 - "$rbac" <<'PY'
import sys, yaml
sys.path.insert(0, "tests/sim")
import kube
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
kinds = sorted(d["kind"] for d in docs)
role = [d for d in docs if d["kind"] == "ClusterRole"][0]
binding = [d for d in docs if d["kind"] == "ClusterRoleBinding"][0]
sa = [d for d in docs if d["kind"] == "ServiceAccount"][0]
granted = {(g, r) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]}
served = {(g, r) for r, (g, *_ ) in kube.RESOURCES.items()}
verbs = {v for rule in role["rules"] for v in rule["verbs"]}
print("kinds=" + ",".join(kinds))
print("verbs=" + ",".join(sorted(verbs)))
print("exact=%s" % (granted == served))
print("extra=%s missing=%s" % (sorted(granted - served), sorted(served - granted)))
print("secrets=%s wildcard=%s" % (any(r == "secrets" for _, r in granted), any("*" in (g, r) for g, r in granted) or "*" in verbs))
s = binding["subjects"][0]
print("bound=%s" % (binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role["metadata"]["name"]}
                    and s["kind"] == "ServiceAccount" and s["name"] == sa["metadata"]["name"] and s["namespace"] == sa["metadata"]["namespace"]))
print("user=system:serviceaccount:%s:%s" % (sa["metadata"]["namespace"], sa["metadata"]["name"]))
PY
)
echo "$facts" | sed 's/^/# /'
has() { echo "$facts" | grep -qx "$1"; }
check "rbac.yaml: Namespace, ServiceAccount, ClusterRole, ClusterRoleBinding" has "kinds=ClusterRole,ClusterRoleBinding,Namespace,ServiceAccount"
check "rbac.yaml: verbs get and list only" has "verbs=get,list"
check "rbac.yaml: exactly the resources nasmon-check lists" has "exact=True"
check "rbac.yaml: no secrets, no wildcard" has "secrets=False wildcard=False"
check "rbac.yaml: the binding ties the role to the ServiceAccount" has "bound=True"
user=$(echo "$facts" | sed -n 's/^user=//p')

paths=(/api/v1/persistentvolumes /api/v1/persistentvolumeclaims /api/v1/nodes /api/v1/pods
	/apis/storage.k8s.io/v1/storageclasses /apis/storage.k8s.io/v1/volumeattachments
	/apis/storage.k8s.io/v1/csidrivers /apis/storage.k8s.io/v1/csinodes
	/apis/snapshot.storage.k8s.io/v1/volumesnapshots /apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents
	/apis/snapshot.storage.k8s.io/v1/volumesnapshotclasses /apis/apps/v1/daemonsets /apis/apps/v1/deployments)
echo sa-token >"$tmp/token"; echo other-token >"$tmp/other"
start_sim a --world tests/sim/nas-world-min.json --rbac "$rbac" --token "sa-token=$user" --token "other-token=someone"
kl "$tmp/ok.json" "$tmp/ok.err" --kube-api "$URL_a" --kube-token-file "$tmp/token" --kube-ca "$tmp/tls/ca.pem" "${paths[@]}"
check "the ServiceAccount lists all 13 resources under rbac.yaml (exit $rc)" \
	test "$rc:$(jf "$tmp/ok.json" "sum('count' in v for v in d['lists'].values())")" = "0:13"
kl "$tmp/no.json" "$tmp/no.err" --kube-api "$URL_a" --kube-token-file "$tmp/other" --kube-ca "$tmp/tls/ca.pem" /api/v1/nodes
check "a user the binding does not name gets 403" test "$(jf "$tmp/no.json" "d['lists']['/api/v1/nodes']['errno']")" = EACCES

python3 -c "
import sys, yaml
docs = [d for d in yaml.safe_load_all(open('$rbac')) if d]
for d in docs:
    if d['kind'] == 'ClusterRole':
        for r in d['rules']:
            r['resources'] = [x for x in r['resources'] if x != 'volumeattachments']
yaml.safe_dump_all(docs, open(sys.argv[1], 'w'))" "$tmp/less.yaml"
start_sim b --world tests/sim/nas-world-min.json --rbac "$tmp/less.yaml" --token "sa-token=$user"
kl "$tmp/less.json" "$tmp/less.err" --kube-api "$URL_b" --kube-token-file "$tmp/token" --kube-ca "$tmp/tls/ca.pem" "${paths[@]}"
check "without the volumeattachments rule: 403 for it alone, 12 lists work" \
	test "$(jf "$tmp/less.json" "d['lists']['/apis/storage.k8s.io/v1/volumeattachments']['errno'], sum('count' in v for v in d['lists'].values())")" = "EACCES 12"
echo "1..$n"
