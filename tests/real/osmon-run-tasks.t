#!/usr/bin/env bash
# The task files osmon-run ships (share/osmon/tasks) against the real rally 3.3 and
# rally-openstack 2.2 from Debian: each renders (Jinja2 with osmon-run's task
# arguments) to a version 2 task whose scenarios and arguments exist in the plugins.
set -u
cd "${INFRA_SRCDIR:?}"
. "$INFRA_SRCDIR/tests/lib/tap.sh"
if ! /usr/bin/python3 -c 'import rally_openstack' 2>/dev/null; then
	nok "rally-openstack is not installed (scripts/osmon-rally.packages; scripts/install-deps)"
	echo "1..$n"; exit 1
fi
for t in share/osmon/tasks/*.yaml; do
	out=$(/usr/bin/python3 tests/real/helpers/check-rally-tasks.py "$t" 2>&1 | grep -v -i warning)
	if [ $? -eq 0 ] && ! echo "$out" | grep -qv '^ok '; then
		ok "$(basename "$t"): $(echo "$out" | sed 's/^ok [^:]*: //' | tr '\n' ' ')"
	else
		nok "$(basename "$t")"; echo "$out" | grep -v '^ok ' | sed 's/^/#   /'
	fi
done
for svc in identity compute network image block-storage object-store; do  # service types (lib/infra_ossvc.h)
	[ -f "share/osmon/tasks/$svc.yaml" ] && ok "a task file for $svc is shipped" || nok "no task file for $svc"
done
echo "1..$n"
