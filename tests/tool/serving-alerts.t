#!/usr/bin/env bash
# The kit-wide alert rules (share/serving/infrakit-alerts.yml) and the scrape job:
# promtool check rules/config + promtool test rules; each rule weakened in turn must
# make the unit tests fail (the tests can fail).
set -u
cd "${INFRA_SRCDIR:?}"
. "$INFRA_SRCDIR/tests/lib/tap.sh"
tmp=${INFRA_TMP:-$(mktemp -d)}
if ! command -v promtool >/dev/null; then
	nok "promtool not installed (scripts/install-deps installs prometheus)"
	echo "1..$n"; exit 1
fi
rules=share/serving/infrakit-alerts.yml
if promtool check rules $rules >"$tmp/check" 2>&1; then ok "promtool check rules $rules"
else nok "promtool check rules"; sed 's/^/#   /' "$tmp/check"; fi
# the scrape job as shipped: rule file path pointed at the tree, TLS files made by make-certs
scripts/make-certs -d "$tmp/tls" -n localhost -c prometheus >/dev/null
sed -e "s|/usr/local/share/infrakit/serving/|$PWD/share/serving/|" -e "s|/etc/prometheus/infrakit-tls|$tmp/tls|" \
	share/serving/prometheus-scrape.yml >"$tmp/prometheus.yml"
if promtool check config "$tmp/prometheus.yml" >"$tmp/cfg" 2>&1; then ok "promtool check config share/serving/prometheus-scrape.yml"
else nok "promtool check config"; sed 's/^/#   /' "$tmp/cfg"; fi
if (cd tests/alerts && promtool test rules infrakit-alerts-test.yml) >"$tmp/test" 2>&1; then
	ok "promtool test rules: every kit-wide alert fires when it should and not before"
else
	nok "promtool test rules"; sed 's/^/#   /' "$tmp/test"
fi
for rule in InfrakitToolDown InfrakitNoRecentSuccess InfrakitTextfileScrapeError; do
	grep -q "alertname: $rule" tests/alerts/infrakit-alerts-test.yml && ok "$rule has unit tests" || nok "$rule has no unit test"
done
mkdir -p "$tmp/m/tests/alerts" "$tmp/m/share/serving"
cp tests/alerts/infrakit-alerts-test.yml "$tmp/m/tests/alerts/"
while IFS='|' read -r what from to; do
	if ! sed "s/$from/$to/" $rules >"$tmp/m/$rules"; then nok "mutation '$what' is not a valid sed expression"; continue; fi
	if cmp -s $rules "$tmp/m/$rules"; then nok "mutation '$what' did not apply"; continue; fi
	if (cd "$tmp/m/tests/alerts" && promtool test rules infrakit-alerts-test.yml) >/dev/null 2>&1; then
		nok "unit tests still pass with $what"
	else
		ok "unit tests catch $what"
	fi
done <<'M'
tool down never fires|"(.+)_up") == 0|"(.+)_up") == 2
tool down also on per-service _up families|__name__=~"(osmon_orphans|__name__=~"(.*|
no-success window of 2 intervals|(3 \* infrakit:run_interval_seconds)|(2 * infrakit:run_interval_seconds)
no-success window of 4 intervals|(3 \* infrakit:run_interval_seconds)|(4 * infrakit:run_interval_seconds)
katapulse interval wrong|vector(60), "tool", "katapulse"|vector(600), "tool", "katapulse"
scrape error never fires|node_textfile_scrape_error == 1|node_textfile_scrape_error == 2
M
echo "1..$n"
