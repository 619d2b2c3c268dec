#!/usr/bin/env bash
# Run the test tiers and count TAP results.  Ends with "N passed, N failed".
#   BUILD=build (default)  INFRA_TIERS="unit tool real"  INFRA_SKIP_REAL=1  INFRA_VALGRIND=1
#   INFRA_TEST_FILTER=REGEX  (only test files whose path matches)
set -u
cd "$(dirname "$0")/.." || exit 2
export INFRA_SRCDIR=$PWD
export BUILD=${BUILD:-build}
export INFRA_BIN=$INFRA_SRCDIR/$BUILD/bin
export PATH=$INFRA_BIN:$INFRA_SRCDIR/$BUILD/tests/tools:$PATH
export LC_ALL=C.UTF-8
tiers=${INFRA_TIERS:-unit tool real}
filter=${INFRA_TEST_FILTER:-}
log_dir=$INFRA_SRCDIR/$BUILD/test-logs
rm -rf "$log_dir"; mkdir -p "$log_dir"
passed=0 failed=0 skipped=0
failed_names=()

# run one TAP producer; count its ok / not ok lines
run_tap() { # name cmd...
	local name=$1; shift
	local log=$log_dir/$(echo "$name" | tr '/ ' '__').log
	local tmp; tmp=$(mktemp -d "${TMPDIR:-/tmp}/infrakit-test.XXXXXX")
	local rc p f s
	INFRA_TMP=$tmp "$@" >"$log" 2>&1 </dev/null
	rc=$?
	rm -rf "$tmp"
	p=$(grep -E '^ok [0-9]+' "$log" | grep -vc '# SKIP' || true)
	s=$(grep -E '^ok [0-9]+' "$log" | grep -c '# SKIP' || true)
	f=$(grep -cE '^not ok [0-9]+' "$log" || true)
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		# crashed or exited non-zero without saying which test: one failure
		f=1
		echo "not ok - $name exited with status $rc" >>"$log"
	fi
	if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
		f=1
		echo "not ok - $name ran no test" >>"$log"
	fi
	passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
	if [ "$f" -gt 0 ]; then
		failed_names+=("$name")
		printf '%-48s %4d passed, %d FAILED (log: %s)\n' "$name" "$p" "$f" "${log#$INFRA_SRCDIR/}"
		grep -E '^not ok' "$log" | head -20 | sed 's/^/    /'
	else
		printf '%-48s %4d passed%s\n' "$name" "$p" "$([ "$s" -gt 0 ] && echo ", $s skipped")"
	fi
}

want() { [ -z "$filter" ] || [[ $1 =~ $filter ]]; }

vg=()
if [ "${INFRA_VALGRIND:-0}" = 1 ]; then
	vg=(valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99)
fi

for tier in $tiers; do
	case $tier in
	unit)
		echo "== unit tier"
		for t in "$BUILD"/tests/test_*; do
			[ -x "$t" ] || continue
			want "$t" || continue
			run_tap "unit/$(basename "$t")" "${vg[@]}" "$t"
		done
		;;
	tool)
		echo "== tool tier"
		for d in tests/cases/*/; do
			[ -d "$d" ] || continue
			ls "$d"*.toml >/dev/null 2>&1 || continue
			want "$d" || continue
			run_tap "cases/$(basename "$d")" python3 tests/harness/runcases.py "$d"
		done
		for t in tests/tool/*.t; do
			[ -x "$t" ] || continue
			want "$t" || continue
			run_tap "tool/$(basename "$t")" "$t"
		done
		;;
	real)
		echo "== real tier"
		if [ "${INFRA_SKIP_REAL:-0}" = 1 ]; then
			echo "real tier SKIPPED (INFRA_SKIP_REAL=1): nothing in it counts as passed"
			skipped=$((skipped + 1))
			continue
		fi
		for t in tests/real/*.t; do
			[ -x "$t" ] || continue
			want "$t" || continue
			run_tap "real/$(basename "$t")" "$t"
		done
		;;
	*) echo "unknown tier '$tier'"; failed=$((failed + 1)) ;;
	esac
done

echo
if [ ${#failed_names[@]} -gt 0 ]; then
	echo "failed: ${failed_names[*]}"
fi
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
