#!/usr/bin/env bash
# Real tier: every exposition the libinfra writer makes (tests/tools/prom-sample) must
# pass promtool check metrics and a real node_exporter textfile collector
# (tests/real/promcheck); and the gate itself must reject broken files, so that it
# can fail.
set -u
cd "${INFRA_SRCDIR:?}"
tmp=${INFRA_TMP:-$(mktemp -d)}
. "$INFRA_SRCDIR/tests/lib/tap.sh"
for t in promtool prometheus-node-exporter; do
	command -v $t >/dev/null || { nok "$t is not installed (scripts/install-deps)"; }
done
sample=$BUILD/tests/tools/prom-sample
for c in $("$sample" --list); do
	if ! "$sample" "$c" >"$tmp/$c.prom" 2>"$tmp/err"; then
		nok "writer case $c: $(cat "$tmp/err")"; continue
	fi
	if out=$(tests/real/promcheck "$tmp/$c.prom" 2>&1); then
		ok "writer case $c passes promtool and node_exporter"
	else
		nok "writer case $c rejected"; echo "$out" | sed 's/^/#   /'
	fi
done
# the gate must fail on each broken rule
bad() { # name content
	printf '%b' "$2" >"$tmp/bad.prom"
	if tests/real/promcheck "$tmp/bad.prom" >/dev/null 2>&1; then nok "promcheck accepted $1"; else ok "promcheck rejects $1"; fi
}
bad "a missing final newline" '# HELP x_a a\n# TYPE x_a gauge\nx_a 1'
bad "a timestamp" '# HELP x_a a\n# TYPE x_a gauge\nx_a 1 1700000000000\n'
bad "a duplicate series" '# HELP x_a a\n# TYPE x_a gauge\nx_a{k="1"} 1\nx_a{k="1"} 2\n'
bad "split family" '# HELP x_a a\n# TYPE x_a gauge\nx_a{k="1"} 1\n# HELP x_b b\n# TYPE x_b gauge\nx_b 1\nx_a{k="2"} 2\n'
bad "inconsistent label names" '# HELP x_a a\n# TYPE x_a gauge\nx_a{k="1"} 1\nx_a{j="1"} 2\n'
bad "an escaped quote in HELP" '# HELP x_a say \\"hi\\"\n# TYPE x_a gauge\nx_a 1\n'
bad "-nan" '# HELP x_a a\n# TYPE x_a gauge\nx_a -nan\n'
bad "unsorted families" '# HELP x_b b\n# TYPE x_b gauge\nx_b 1\n# HELP x_a a\n# TYPE x_a gauge\nx_a 1\n'
bad "a lint problem (no HELP)" '# TYPE x_a gauge\nx_a 1\n'
echo "1..$n"
