#!/usr/bin/env bash
# Drift test: every object tests/sim/kube.py serves validates against the JSON Schemas in
# tests/schemas/kube/ (written by this project from the official Kubernetes OpenAPI v3 documents
# and the external-snapshotter CRDs; each file names its source and commit), with Debian's
# python3-jsonschema, strictly (unknown fields are errors).  Worlds: tests/sim/nas-world-min.json,
# tests/sim/nas_scenario.py with every plant, with none, and without the snapshot CRDs, plus any
# world files given as arguments.  The schema files are checked themselves (valid, strict, every
# $ref resolves, source commit named, a schema for every resource kube.py serves).  Negative
# controls show the validator rejects a misspelt field, a wrong type, a missing required field,
# an invented CRD field, a bad enum value, a bad date-time and an int32 overflow.  Without
# python3-jsonschema or a schema file it fails; it never passes by skipping.
set -u
cd "${INFRA_SRCDIR:?}"
. "$INFRA_SRCDIR/tests/lib/tap.sh"
tmp=${INFRA_TMP:-$(mktemp -d)}
py=/usr/bin/python3
[ -x "$py" ] || py=python3
val() { "$py" tests/schemas/kube/validate.py "$@"; }
sd=tests/schemas/kube

check "python3-jsonschema importable by $py" "$py" -c "import jsonschema"
val --check-files >"$tmp/files.out" 2>&1; rc=$?
if [ "$rc" = 2 ]; then
	nok "schema files present ($(grep -v '^#' "$tmp/files.out" | head -1))"
	echo "1..$n"
	exit 1
fi
check "schema files: valid, strict, refs resolve, sources named ($(tail -1 "$tmp/files.out"))" test "$rc" = 0
[ "$rc" = 0 ] || grep -v '^#' "$tmp/files.out" | sed 's/^/# /' | head -30

val tests/sim/nas-world-min.json >"$tmp/min.out" 2>&1; rc=$?
check "nas-world-min.json: every served object validates ($(tail -1 "$tmp/min.out"))" test "$rc" = 0
[ "$rc" = 0 ] || grep -v '^#' "$tmp/min.out" | sed 's/^/# /' | head -30
check "nas-world-min.json: all 13 resources validated" grep -q "of 13 resources validated, 0 problems" "$tmp/min.out"

worlds=("$@")
scen() { # NAME ARGS...: a nas_scenario.py world
	local name=$1; shift
	python3 tests/sim/nas_scenario.py --now 1760400000 "$@" >"$tmp/$name.json" 2>"$tmp/$name.err"
	check "nas_scenario.py $*: wrote a world" test -s "$tmp/$name.json"
	worlds+=("$tmp/$name.json")
}
scen scenario-all
scen scenario-none --plants none
scen scenario-nosnap --seed 7 --pvs 60 --without volumesnapshots,volumesnapshotcontents,volumesnapshotclasses
for w in "${worlds[@]}"; do
	val "$w" >"$tmp/w.out" 2>&1; rc=$?
	check "$(basename "$w"): every served object validates ($(tail -1 "$tmp/w.out"))" test "$rc" = 0
	[ "$rc" = 0 ] || grep -v '^#' "$tmp/w.out" | sed 's/^/# /' | head -30
done

# negative controls: the validator must catch drift
drift() { # WHAT MUTATION(python, w = the world) PATTERN... : exit 1 and every PATTERN in the output
	local what=$1 m=$2 out=$tmp/drift.$n p; shift 2
	python3 -c "
import json,sys
w=json.load(open('tests/sim/nas-world-min.json'))
$m
json.dump(w, open(sys.argv[1],'w'))" "$out.json"
	val "$out.json" >"$out" 2>&1
	local rc=$? good=1
	for p in "$@"; do grep -q -- "$p" "$out" || good=0; done
	check "$what" test "$rc:$good" = 1:1
	[ "$rc:$good" = 1:1 ] || grep -v '^#' "$out" | sed 's/^/# /' | head -10
}
drift "a misspelt field (volumeHandel) is drift, named" \
	"w['kube']['persistentvolumes'][0]['spec']['csi']['volumeHandel']=w['kube']['persistentvolumes'][0]['spec']['csi'].pop('volumeHandle')" \
	"'volumeHandel' was unexpected" "spec/csi: 'volumeHandle' is a required property"
drift "a wrong type (attached: \"yes\") is drift" "w['kube']['volumeattachments'][0]['status']['attached']='yes'" \
	"status/attached: 'yes' is not of type 'boolean'"
drift "a missing required field (spec.attacher) is drift" "del w['kube']['volumeattachments'][1]['spec']['attacher']" \
	"'attacher' is a required property"
drift "an invented CRD field (VolumeSnapshot spec.sourcePVC) is drift" \
	"w['kube']['volumesnapshots'][0]['spec']['sourcePVC']='data-postgres-0'" \
	"^volumesnapshots db/pg-nightly: spec: .*'sourcePVC' was unexpected"
drift "CRD rules apply (exactly one source; readyToUse a boolean)" \
	"w['kube']['volumesnapshotcontents'][0]['spec']['source']['snapshotHandle']='x@y'; w['kube']['volumesnapshots'][0]['status']['readyToUse']='true'" \
	"^volumesnapshotcontents -/snapcontent-.*spec/source: .* is valid under each of" "readyToUse: 'true' is not of type 'boolean'"
drift "a CRD enum applies (deletionPolicy Keep)" "w['kube']['volumesnapshotclasses'][0]['deletionPolicy']='Keep'" \
	"deletionPolicy: 'Keep' is not one of \['Delete', 'Retain'\]"
drift "a bad date-time and an int32 overflow are drift" \
	"w['kube']['nodes'][0]['metadata']['creationTimestamp']='2025-10-13 10:20'; w['kube']['pods'][0]['status']['containerStatuses'][0]['restartCount']=2**31" \
	"metadata/creationTimestamp: '2025-10-13 10:20' is not a 'date-time'" "restartCount: 2147483648 is not a 'int32'"
drift "null is absent: an optional null passes, a required null (spec.nodeName) fails" \
	"w['kube']['csinodes'][0]['spec']['drivers'][0]['topologyKeys']=None; w['kube']['volumeattachments'][0]['spec']['nodeName']=None" \
	"'nodeName' is a required property" "1 problems"
drift "CRD metadata is checked against ObjectMeta" "w['kube']['volumesnapshots'][0]['metadata']['labels']={'a': 1}" \
	"metadata/labels/a: 1 is not of type 'string'"

# the schema files: a missing one fails (exit 2), a loosened one is caught
mkdir -p "$tmp/s1" "$tmp/s2"
cp "$sd"/*.json "$tmp/s1/" && rm "$tmp/s1/storage-v1.json"
val --schemas "$tmp/s1" tests/sim/nas-world-min.json >"$tmp/s1.out" 2>&1; rc=$?
check "a missing schema file fails the run (exit 2, named)" test "$rc:$(grep -c 'storage-v1.json' "$tmp/s1.out")" = 2:1
cp "$sd"/*.json "$tmp/s2/"
"$py" -c "
import json,sys
p=sys.argv[1]; d=json.load(open(p))
del d['definitions']['io.k8s.api.core.v1.NodeSpec']['additionalProperties']
json.dump(d, open(p,'w'))" "$tmp/s2/core-v1.json"
val --schemas "$tmp/s2" --check-files >"$tmp/s2.out" 2>&1; rc=$?
check "a schema that is not strict is caught by --check-files" \
	test "$rc:$(grep -c 'NodeSpec lists properties but does not say additionalProperties' "$tmp/s2.out")" = 1:1
echo "1..$n"
