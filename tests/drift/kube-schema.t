#!/usr/bin/env bash
# Drift test: every object tests/sim/kube.py serves validates against the official OpenAPI v3
# schemas (subsets made by tests/schemas/kube/extract.py; sources and commits in
# tests/schemas/kube/README.md), with Debian's python3-jsonschema, strictly (unknown fields are
# errors).  Worlds: tests/sim/nas-world-min.json, the output of tests/sim/nas_scenario.py when
# that generator exists, and any world files given as arguments.  Negative controls show the
# validator rejects a misspelt field, a wrong type, a missing required field and an invented
# CRD field.  Without the schema subsets it fails (it never passes by skipping).
set -u
cd "${INFRA_SRCDIR:?}"
. "$INFRA_SRCDIR/tests/lib/tap.sh"
tmp=${INFRA_TMP:-$(mktemp -d)}
py=/usr/bin/python3
[ -x "$py" ] || py=python3
val() { "$py" tests/schemas/kube/validate.py "$@"; }

check "python3-jsonschema importable by $py" "$py" -c "import jsonschema"
val tests/sim/nas-world-min.json >"$tmp/min.out" 2>&1; rc=$?
if [ "$rc" = 2 ]; then
	nok "schema subsets present ($(head -1 "$tmp/min.out"))"
	echo "1..$n"
	exit 1
fi
check "nas-world-min.json: every served object validates ($(tail -1 "$tmp/min.out"))" test "$rc" = 0
[ "$rc" = 0 ] || sed 's/^/# /' "$tmp/min.out" | head -30
check "nas-world-min.json: all 13 resources validated" grep -q "of 13 resources validated, 0 problems" "$tmp/min.out"

worlds=("$@")
if [ -f tests/sim/nas_scenario.py ]; then
	python3 tests/sim/nas_scenario.py --now 1760400000 >"$tmp/scenario.json" 2>"$tmp/scenario.err"
	check "nas_scenario.py wrote a world" test -s "$tmp/scenario.json"
	worlds+=("$tmp/scenario.json")
fi
for w in "${worlds[@]}"; do
	val "$w" >"$tmp/w.out" 2>&1; rc=$?
	check "$(basename "$w"): every served object validates ($(tail -1 "$tmp/w.out"))" test "$rc" = 0
	[ "$rc" = 0 ] || sed 's/^/# /' "$tmp/w.out" | head -30
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
}
drift "a misspelt field (volumeHandel) is drift, named" \
	"w['kube']['persistentvolumes'][0]['spec']['csi']['volumeHandel']=w['kube']['persistentvolumes'][0]['spec']['csi'].pop('volumeHandle')" \
	"'volumeHandel' was unexpected" "spec/csi: 'volumeHandle' is a required property"
drift "a wrong type (attached: \"yes\") is drift" "w['kube']['volumeattachments'][0]['status']['attached']='yes'" \
	"status/attached: 'yes' is not of type 'boolean'"
drift "a missing required field (spec.attacher) is drift" "del w['kube']['volumeattachments'][1]['spec']['attacher']" \
	"'attacher' is a required property"
drift "snapshot CRD schemas apply (oneOf source, readyToUse type)" \
	"w['kube']['volumesnapshotcontents'][0]['spec']['snapshotHandle']='x@y'; w['kube']['volumesnapshots'][0]['status']['readyToUse']='true'" \
	"^volumesnapshotcontents" "readyToUse: 'true' is not of type 'boolean'"
drift "null is absent: an optional null passes, a required null (spec.nodeName) fails" \
	"w['kube']['csinodes'][0]['spec']['drivers'][0]['topologyKeys']=None; w['kube']['volumeattachments'][0]['spec']['nodeName']=None" \
	"'nodeName' is a required property" "1 problems"
drift "CRD metadata is checked against ObjectMeta" "w['kube']['volumesnapshots'][0]['metadata']['labels']={'a': 1}" \
	"metadata/labels/a: 1 is not of type"
echo "1..$n"
