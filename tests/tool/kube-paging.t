#!/usr/bin/env bash
# infra_kube lists as a process against tests/sim/kube.py: limit + continue across pages,
# a 410 Gone (expired continue token) restarting the list, the restart bound, snapshot CRDs
# absent (404 -> ENOENT), 5xx and malformed JSON, and a 1,200-PV world in pages of 500.
. "$INFRA_SRCDIR/tests/tool/kube-lib.sh"

echo sim-token >"$tmp/token"
auth=(--kube-token-file "$tmp/token" --kube-ca "$tmp/tls/ca.pem")
start_sim a --world tests/sim/nas-world-min.json
U=$URL_a
pages() { jf "$1" "d['lists']['$2']['pages'], d['lists']['$2']['restarts'], d['lists']['$2'].get('count', d['lists']['$2'].get('errno'))"; }

# 1. paging with continue
kl "$tmp/p.json" "$tmp/p.err" --kube-api "$U" "${auth[@]}" --page-limit 1 /api/v1/pods /apis/apps/v1/daemonsets
check "limit 1: 4 pods in 4 pages, no restart" test "$(pages "$tmp/p.json" /api/v1/pods)" = "4 0 4"
check "limit 1: names unique and sorted" \
	test "$(jf "$tmp/p.json" "len(set(d['lists']['/api/v1/pods']['names'])) == 4 and d['lists']['/api/v1/pods']['names'] == sorted(d['lists']['/api/v1/pods']['names'])")" = True
conts=$(requests "$U" | python3 -c "import json,sys; print(sum('continue=' in r['path'] for r in json.load(sys.stdin) if '/pods' in r['path']))")
check "3 of the 4 pod requests carried a continue token ($conts)" test "$conts" = 3
lim=$(requests "$U" | python3 -c "import json,sys; print(all('limit=1' in r['path'] for r in json.load(sys.stdin)))")
check "every request carried limit=1 ($lim)" test "$lim" = True

# 2. one 410 on a continue: the list restarts from the first page, every item once
post "$U" /_sim/fault '{"path": "persistentvolumes", "kind": "expire", "count": 1}'
kl "$tmp/g.json" "$tmp/g.err" --kube-api "$U" "${auth[@]}" --page-limit 1 /api/v1/persistentvolumes
check "410 once: exit 0, 5 pages, 1 restart, 3 PVs" test "$rc:$(pages "$tmp/g.json" /api/v1/persistentvolumes)" = "0:5 1 3"
check "410 once: no PV twice" test "$(jf "$tmp/g.json" "len(set(d['lists']['/api/v1/persistentvolumes']['names']))")" = 3

# 3. a write between two pages (the sim compacts at every write: the older continue token answers 410)
post "$U" /_sim/fault '{"path": "persistentvolumeclaims.*continue=", "kind": "write", "count": 1, "resource": "persistentvolumeclaims", "object": {"metadata": {"name": "zz-new", "namespace": "db", "uid": "00000000-0000-4000-8000-000000000099"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}, "status": {"phase": "Pending"}}}'
kl "$tmp/m.json" "$tmp/m.err" --kube-api "$U" "${auth[@]}" --page-limit 1 /api/v1/persistentvolumeclaims
check "a change during the list: restarted once, the new PVC seen (3 PVCs)" \
	test "$rc:$(pages "$tmp/m.json" /api/v1/persistentvolumeclaims)" = "0:5 1 3"

# 4. tokens that always expire: bounded restarts, then ESTALE
start_sim b --world tests/sim/nas-world-min.json --continue-ttl 0.05 --latency-ms 120
kl "$tmp/s.json" "$tmp/s.err" --kube-api "$URL_b" "${auth[@]}" --page-limit 1 /api/v1/nodes
check "continue tokens older than the TTL: ESTALE after 3 restarts, exit 1" \
	test "$rc:$(pages "$tmp/s.json" /api/v1/nodes)" = "1:8 3 ESTALE"
check "ESTALE message says 410 and the restarts" grep -q "after 3 restarts.*410 Gone" "$tmp/s.json"

# 5. snapshot CRDs absent: 404 -> ENOENT, the other lists still work
python3 -c "
import json,sys
w=json.load(open('tests/sim/nas-world-min.json'))
for k in ('volumesnapshots','volumesnapshotcontents','volumesnapshotclasses'): del w['kube'][k]
json.dump(w, open(sys.argv[1],'w'))" "$tmp/nosnap.json"
start_sim c --world "$tmp/nosnap.json"
kl "$tmp/n.json" "$tmp/n.err" --kube-api "$URL_c" "${auth[@]}" \
	/apis/snapshot.storage.k8s.io/v1/volumesnapshots /apis/snapshot.storage.k8s.io/v1/volumesnapshotclasses /apis/storage.k8s.io/v1/csidrivers
check "no snapshot CRDs: ENOENT for both" \
	test "$(jf "$tmp/n.json" "d['lists']['/apis/snapshot.storage.k8s.io/v1/volumesnapshots']['errno'], d['lists']['/apis/snapshot.storage.k8s.io/v1/volumesnapshotclasses']['errno']")" = "ENOENT ENOENT"
check "no snapshot CRDs: 'not installed' in the message" grep -q "404 Not Found.*not installed" "$tmp/n.json"
check "no snapshot CRDs: CSIDrivers still listed" test "$(jf "$tmp/n.json" "d['lists']['/apis/storage.k8s.io/v1/csidrivers']['count']")" = 2

# 6. faults: a 503 is retried, malformed JSON is an error that says so
post "$U" /_sim/fault '{"path": "csidrivers", "kind": "503", "count": 1}'
post "$U" /_sim/fault '{"path": "storageclasses", "kind": "garbage", "count": 1}'
kl "$tmp/x.json" "$tmp/x.err" --kube-api "$U" "${auth[@]}" /apis/storage.k8s.io/v1/csidrivers /apis/storage.k8s.io/v1/storageclasses
check "503 once: retried, 2 CSIDrivers" test "$(jf "$tmp/x.json" "d['lists']['/apis/storage.k8s.io/v1/csidrivers']['count']")" = 2
check "malformed JSON: EPROTO 'malformed JSON'" \
	sh -c "test '$(jf "$tmp/x.json" "d['lists']['/apis/storage.k8s.io/v1/storageclasses']['errno']")' = EPROTO && grep -q 'malformed JSON' '$tmp/x.json'"

# 7. a large world: 1,200 PVs in pages of 500 (the default limit)
python3 -c "
import json,sys,copy
w=json.load(open('tests/sim/nas-world-min.json'))
pv=w['kube']['persistentvolumes'][0]
w['kube']['persistentvolumes']=[]
for i in range(1200):
    p=copy.deepcopy(pv); p['metadata']['name']='pvc-%06d' % i; w['kube']['persistentvolumes'].append(p)
json.dump(w, open(sys.argv[1],'w'))" "$tmp/big.json"
start_sim d --world "$tmp/big.json"
kl "$tmp/b.json" "$tmp/b.err" --kube-api "$URL_d" "${auth[@]}" /api/v1/persistentvolumes
check "1,200 PVs: 3 pages of 500, all there once" \
	test "$(pages "$tmp/b.json" /api/v1/persistentvolumes):$(jf "$tmp/b.json" "len(set(d['lists']['/api/v1/persistentvolumes']['names']))")" = "3 0 1200:1200"
echo "1..$n"
