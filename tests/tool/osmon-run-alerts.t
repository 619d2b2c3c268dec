#!/usr/bin/env bash
# The shipped alert rules: promtool check rules + promtool test rules; a broken
# copy of the rules must fail the same unit tests (the tests can fail).
set -u
cd "${INFRA_SRCDIR:?}"
. "$INFRA_SRCDIR/tests/lib/tap.sh"
tmp=${INFRA_TMP:-$(mktemp -d)}
if ! command -v promtool >/dev/null; then
	nok "promtool not installed (scripts/install-deps installs prometheus)"
	echo "1..$n"; exit 1
fi
if promtool check rules share/osmon/alerts.yml >"$tmp/check" 2>&1; then ok "promtool check rules share/osmon/alerts.yml"
else nok "promtool check rules"; sed 's/^/#   /' "$tmp/check"; fi
if (cd tests/alerts && promtool test rules osmon-alerts-test.yml) >"$tmp/test" 2>&1; then
	ok "promtool test rules: every alert fires when it should and not before"
else
	nok "promtool test rules"; sed 's/^/#   /' "$tmp/test"
fi
for rule in OsmonServiceFailing OsmonSLAFailing OsmonOrphansPresent OsmonHealthDown OsmonNoSuccessfulRun OsmonTextfileStale; do
	grep -q "alertname: $rule" tests/alerts/osmon-alerts-test.yml && ok "$rule has unit tests" || nok "$rule has no unit test"
done
# mutation: each rule weakened in turn must make the unit tests fail
mkdir -p "$tmp/m/tests/alerts" "$tmp/m/share/osmon"
cp tests/alerts/osmon-alerts-test.yml "$tmp/m/tests/alerts/"
while IFS='|' read -r what from to; do
	sed "s/$from/$to/" share/osmon/alerts.yml >"$tmp/m/share/osmon/alerts.yml"
	if cmp -s share/osmon/alerts.yml "$tmp/m/share/osmon/alerts.yml"; then nok "mutation '$what' did not apply"; continue; fi
	if (cd "$tmp/m/tests/alerts" && promtool test rules osmon-alerts-test.yml) >/dev/null 2>&1; then
		nok "unit tests still pass with $what"
	else
		ok "unit tests catch $what"
	fi
done <<'M'
service failing never fires|osmon_service_pass == 0|osmon_service_pass == 2
SLA rule inverted|osmon_sla_pass == 0|osmon_sla_pass == 1
orphans threshold off|(osmon_orphaned_resources) > 0|(osmon_orphaned_resources) > 5
health down too eager|for: 10m|for: 1m
no-success window too long|osmon_last_success_timestamp_seconds > 8 \* 3600|osmon_last_success_timestamp_seconds > 10 * 3600
stale window too long|osmon_last_completion_timestamp_seconds > 8 \* 3600|osmon_last_completion_timestamp_seconds > 10 * 3600
M
echo "1..$n"
