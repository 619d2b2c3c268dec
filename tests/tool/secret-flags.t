#!/usr/bin/env bash
# Secrets never come from the command line and are never echoed (issue 8, item 8), for
# every tool in $BUILD/bin: openstackclient's secret flags (--os-password, --os-token,
# --os-application-credential-secret, with a space or "=") are refused with exit 3;
# abbreviations that could reach --os-password-file and unknown "--flag=SECRET" forms
# are refused by getopt without the value; a secret given to --os-password-file (a
# mistyped password) is never named in a message, the JSON errors, or any file
# osmon-run writes in its state directory (health.json, health_history.json, history).
set -u
cd "${INFRA_SRCDIR:?}" && . tests/lib/tap.sh
BIN=${INFRA_BIN:?} tmp=${INFRA_TMP:?} vg=()
[ "${INFRA_VALGRIND:-0}" = 1 ] && vg=(valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99)

export PATH=$INFRA_SRCDIR/tests/sim:$PATH # osmon-run's rally stand-in
export INFRAKIT_DATADIR=$INFRA_SRCDIR/share HOME=$tmp/home
for v in $(env | sed -n 's/^\(OS_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done
# nothing listens on port 9 here: a tool that got as far as connecting fails at once
export OS_AUTH_URL=http://127.0.0.1:9/v3 OS_USERNAME=admin OS_PROJECT_NAME=admin
mkdir -p "$HOME"

secret="Pw-$$-q7Zx"
refused=( # argv fragments whose value must be refused without being shown
	"--os-password $secret" "--os-password=$secret" "--os-token $secret" "--os-token=$secret"
	"--os-application-credential-secret $secret" "--os-application-credential-secret=$secret"
	"--os-pass $secret" "--os-pass=$secret" "--os-passwo=$secret" "--os-passwd=$secret"
	"--os-tok=$secret" "--os-app $secret" "--password=$secret" "-v --os-password $secret"
)
mkdir -p "$tmp/adir-$secret"
: >"$tmp/afile"
file_forms=( # --os-password-file given a secret, a directory, something unreadable
	"--os-password-file $secret" "--os-password-file=$secret" "--os-password-f $secret"
	"--os-password-file $tmp/afile/$secret" "--os-password-file $tmp/adir-$secret" # keep the directory last
)

base_args() { # tool -> the arguments it needs to get to its OpenStack configuration
	case $1 in
	osmon-run) echo "--state-dir $tmp/state-run --health" ;;
	katapulse-scrape) echo "--sysroot $tmp/none" ;;
	*) ;;
	esac
}

lacks_secret() { ! grep -qrF -- "$secret" "$@"; }

for bin in "$BIN"/*; do
	[ -x "$bin" ] || continue
	t=$(basename "$bin")
	"$bin" --list-options >"$tmp/opts" 2>/dev/null
	has_os=0
	grep -q '^--os-password-file	' "$tmp/opts" && has_os=1
	for form in "${refused[@]}"; do
		# shellcheck disable=SC2046,SC2086
		timeout 60 "${vg[@]}" "$bin" -f json $(base_args "$t") $form >"$tmp/out" 2>"$tmp/err"
		rc=$?
		check "$t $form: exit 3, nothing on stdout" test "$rc" = 3 -a ! -s "$tmp/out"
		check "$t $form: the value is not on stderr" lacks_secret "$tmp/out" "$tmp/err"
		case "$has_os:$form" in
		1:--os-password[\ =]* | 1:--os-token[\ =]* | 1:--os-application-credential-secret[\ =]*)
			check "$t $form: says the flag is refused and where the secret comes from instead" \
				grep -q "^$t: --os-[a-z-]* is refused: secrets never come from the command line (use OS_[A-Z_]*" "$tmp/err"
			;;
		esac
	done
	[ "$has_os" = 1 ] || continue
	for form in "${file_forms[@]}"; do
		# shellcheck disable=SC2046,SC2086
		timeout 60 "${vg[@]}" "$bin" -f json $(base_args "$t") $form >"$tmp/out" 2>"$tmp/err"
		rc=$?
		check "$t $form: fails (exit $rc)" test "$rc" != 0
		check "$t $form: names the flag, not its argument, on stderr" \
			grep -q "the file given by --os-password-file" "$tmp/err"
		check "$t $form: neither stdout (JSON errors) nor stderr carries the argument" \
			lacks_secret "$tmp/out" "$tmp/err"
	done
	case $t in
	osmon-run)
		# the last form was the directory: a configuration error, UNKNOWN, said in the JSON
		# errors; health.json records no check (no keystone DOWN for our own mistake)
		check "osmon-run --os-password-file DIR: a clear error in the JSON errors" \
			grep -q "the file given by --os-password-file is a directory" "$tmp/out"
		check "osmon-run --os-password-file DIR: no service recorded down in health.json" \
			bash -c "! grep -qs '\"up\": *false' '$tmp/state-run/health.json'"
		# the Rally run records its errors in history.json and the run's files
		timeout 120 "${vg[@]}" "$bin" -f json --state-dir "$tmp/state-run" --no-orphans \
			--os-password-file "$secret" >"$tmp/out" 2>"$tmp/err"
		check "osmon-run wrote history.json" test -s "$tmp/state-run/history.json"
		check "osmon-run: no file under the state directory holds the argument" lacks_secret "$tmp/state-run" "$tmp/out" "$tmp/err"
		;;
	esac
done

# a password file that works is still read (first line), through a pipe too
python3 tests/sim/openstack.py --seed tests/sim/seeds/realistic.json --max-seconds 120 >"$tmp/sim.out" 2>"$tmp/sim.err" &
sim_pid=$!
trap 'kill $sim_pid 2>/dev/null; wait $sim_pid 2>/dev/null' EXIT
for _ in $(seq 100); do grep -q '^READY ' "$tmp/sim.out" 2>/dev/null && break; sleep 0.1; done
URL=$(awk '/^READY/{print $2}' "$tmp/sim.out")
export OS_AUTH_URL=$URL/identity/v3 OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default
printf 'secret\nsecond line\n' >"$tmp/pw"
"${vg[@]}" "$BIN/osmon-orphans" -f json --service orchestration --os-password-file "$tmp/pw" >"$tmp/out" 2>"$tmp/err"
check "osmon-orphans --os-password-file FILE: authenticates with its first line" grep -q '"status":"warning"' "$tmp/out"
"${vg[@]}" "$BIN/osmon-orphans" -f json --service orchestration --os-password-file <(printf 'secret\n') >"$tmp/out" 2>"$tmp/err"
check "osmon-orphans --os-password-file <(...): a pipe works" grep -q '"status":"warning"' "$tmp/out"
printf 'wrong-pw\n' >"$tmp/pw"
"${vg[@]}" "$BIN/osmon-orphans" -f json --service orchestration --os-password-file "$tmp/pw" >"$tmp/out" 2>"$tmp/err"
check "a rejected password from the file is never printed" \
	bash -c "grep -q '\"status\":\"unknown\"' '$tmp/out' && ! grep -qF wrong-pw '$tmp/out' '$tmp/err'"
echo "1..$n"
