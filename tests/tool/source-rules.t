#!/usr/bin/env bash
# Source rules (style-anchors habit 9 and DESIGN.md section 1): no banned unsafe
# functions in lib/ and bin/; the library never exits (one documented exception,
# --list-options, which ends the process the way argp's own --help does) and never
# prints to stdout; every tool's main file stays thin.
set -u
cd "${INFRA_SRCDIR:?}"
. "$INFRA_SRCDIR/tests/lib/tap.sh"

for fn in sprintf vsprintf strcpy strcat strtok atoi atol gets gmtime localtime asctime ctime; do
	hits=$(grep -nE "(^|[^a-z_])$fn\s*\(" lib/*.c lib/*.h bin/*.c 2>/dev/null | grep -v '^\s*//' || true)
	if [ -z "$hits" ]; then ok "no $fn() in lib/ and bin/"; else nok "$fn() used:"; echo "$hits" | sed 's/^/#   /'; fi
done
hits=$(grep -nE '(^|[^a-z_])(exit|_exit|abort)\s*\(' lib/*.c | grep -v 'lib/infra_cli.c:.*exit(infra_close_stdout()' || true)
if [ -z "$hits" ]; then ok "lib/ never exits"; else nok "exit in lib/:"; echo "$hits" | sed 's/^/#   /'; fi
hits=$(grep -nE '(^|[^a-z_])(printf|puts|putchar)\s*\(|fprintf\s*\(\s*stdout' lib/*.c | grep -v 'lib/infra_log.c' || true)
if [ -z "$hits" ]; then ok "lib/ never prints to stdout"; else nok "lib/ prints:"; echo "$hits" | sed 's/^/#   /'; fi
for f in bin/*.c; do
	[ -f "$f" ] || continue
	lines=$(grep -cvE '^\s*($|/?\*|//)' "$f")
	if [ "$lines" -le 400 ]; then ok "$f is thin ($lines code lines)"; else nok "$f has $lines code lines (keep tools under ~300; plumbing goes to lib/)"; fi
done
echo "1..$n"
