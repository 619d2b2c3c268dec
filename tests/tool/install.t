#!/usr/bin/env bash
# make install lays out what a stranger needs (issue 9 items 5 and 18): binaries, man pages,
# completions, the data files, and the cron/systemd examples with the real BINDIR in them.
set -u
cd "${INFRA_SRCDIR:?}"
. "$INFRA_SRCDIR/tests/lib/tap.sh"
tmp=${INFRA_TMP:-$(mktemp -d)}
dest=$tmp/dest
# BINDIR only: DATADIR (compiled in) stays as built, so nothing is rebuilt here
san=; [ "${BUILD:-build}" = build-asan ] && san=SANITIZE=1   # make check-asan: the same flags
make -s install DESTDIR="$dest" BINDIR=/opt/ik/bin BUILD="${BUILD:-build}" $san >"$tmp/log" 2>&1; rc=$?
check "make install DESTDIR=... BINDIR=/opt/ik/bin succeeds" test "$rc" = 0
for t in osmon-orphans osmon-purge osmon-run katapulse-scrape nasmon-check spot-agg; do
	check "$t installed with its man page and bash and zsh completions" test -x "$dest/opt/ik/bin/$t" \
		-a -f "$dest/usr/local/share/man/man1/$t.1" -a -f "$dest/usr/local/share/bash-completion/completions/$t" \
		-a -f "$dest/usr/local/share/zsh/vendor-completions/_$t"
	check "the installed $t runs: --version" sh -c "'$dest/opt/ik/bin/$t' --version | grep -q '^$t '"
done
check "exactly the six tools are installed (no seventh executable)" test "$(ls "$dest/opt/ik/bin" | wc -l)" = 6
check "nasmon-check's read-only ClusterRole is installed" \
	sh -c "grep -q 'kind: ClusterRole' '$dest/usr/local/share/infrakit/nasmon/rbac.yaml' && ! grep -q secrets '$dest/usr/local/share/infrakit/nasmon/rbac.yaml'"
ex=$dest/usr/local/share/infrakit/examples
check "the cron and systemd examples are installed" \
	test -f "$ex/osmon-run.cron" -a -f "$ex/osmon-run.service" -a -f "$ex/osmon-run.timer" -a -f "$ex/katapulse-scrape.service"
check "the examples name the installed BINDIR, not a hard-coded /usr/local/bin" \
	bash -c "grep -q '^ExecStart=/opt/ik/bin/osmon-run ' '$ex/osmon-run.service' && ! grep -rq '/usr/local/bin\|@BINDIR@' '$ex'"
sv=$dest/usr/local/share/infrakit/serving
check "the serving set is installed (web config, nginx scrape cache, scrape job, kit alerts, make-certs, units for every tool)" \
	test -f "$sv/web-config.yml" -a -f "$sv/nginx-scrape-cache.conf" -a -f "$sv/prometheus-scrape.yml" -a -f "$sv/infrakit-alerts.yml" -a -x "$sv/make-certs" \
	-a -f "$sv/systemd/osmon-orphans.timer" -a -f "$sv/systemd/nasmon-check.service" -a -f "$sv/cron/spot-agg.cron" \
	-a -f "$dest/usr/local/share/doc/infrakit/serving.md"
check "the installed units name the installed BINDIR" \
	bash -c "grep -q '^ExecStart=/opt/ik/bin/osmon-orphans ' '$sv/systemd/osmon-orphans.service' && ! grep -rq '@BINDIR@' '$sv'"
check "osmon-run's task files are installed beside the man pages" test -f "$dest/usr/local/share/infrakit/osmon/tasks/identity.yaml"
echo "1..$n"
