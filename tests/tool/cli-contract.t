#!/usr/bin/env bash
# The command-line contract every tool keeps (DESIGN.md section 2; style-anchors habits 2 and 3):
# --help/--version on stdout with exit 0 and empty stderr; unknown options exit 3 with one
# "tool: ..." line; the man page OPTIONS section lists exactly the options of the option
# table (--list-options); the committed completions are what the generator makes now.
set -u
cd "${INFRA_SRCDIR:?}"
. "$INFRA_SRCDIR/tests/lib/tap.sh"

tools=()
for b in "$BUILD"/bin/*; do [ -x "$b" ] && tools+=("$b"); done
tools+=("$BUILD/tests/tools/infra-probe")
tmp=${INFRA_TMP:-$(mktemp -d)}

man_of() { # binary -> man page path
	local t; t=$(basename "$1")
	if [ -f "man/$t.1" ]; then echo "man/$t.1"; else echo "tests/tools/$t.1"; fi
}

for bin in "${tools[@]}"; do
	t=$(basename "$bin")
	if [ ! -x "$bin" ]; then nok "$t: not built"; continue; fi
	"$bin" --help >"$tmp/out" 2>"$tmp/err"; rc=$?
	check "$t --help exits 0 with usage on stdout, nothing on stderr" \
		test "$rc" = 0 -a -s "$tmp/out" -a ! -s "$tmp/err"
	"$bin" --version >"$tmp/out" 2>"$tmp/err"; rc=$?
	check "$t --version: '$t (infrakit) VERSION'" \
		grep -q "^$t (infrakit) $(cat VERSION)\$" "$tmp/out"
	"$bin" --no-such-option >"$tmp/out" 2>"$tmp/err"; rc=$?
	check "$t unknown option exits 3, nothing on stdout, says so on stderr" \
		bash -c "[ $rc = 3 ] && [ ! -s '$tmp/out' ] && grep -q \"^$t: unrecognized option '--no-such-option'\" '$tmp/err'"
	"$bin" --list-options >"$tmp/opts" 2>"$tmp/err"; rc=$?
	check "$t --list-options exits 0" test "$rc" = 0 -a -s "$tmp/opts"
	check "$t --list-options lists every option once (completions offer no duplicates)" \
		test -z "$(cut -f1 "$tmp/opts" | sort | uniq -d)"
	if [ "$t" != infra-probe ]; then
		check "$t: infrakit(7) SEE ALSO names $t(1)" \
			bash -c "sed -n '/^\.SH SEE ALSO/,\$p' man/infrakit.7 | grep -q '^\.BR $t (1)'"
		check "$t: the man page header names the suite 'infrakit' like every other page" \
			grep -q '^\.TH [A-Z-]* 1 "[0-9-]*" "infrakit [0-9.]*" "infrakit"$' "$(man_of "$bin")"
	fi
	man=$(man_of "$bin")
	if [ ! -f "$man" ]; then nok "$t: man page $man missing"; continue; fi
	cut -f1 "$tmp/opts" | sort -u >"$tmp/want"
	# options documented in the OPTIONS section: every \-\-name on the line after a .TP
	awk '/^\.SH /{sec=$2} sec=="OPTIONS" && prev ~ /^\.TP/ {print} {prev=$0}' "$man" |
		sed 's/\\-/-/g; s/\\f[BIRP]//g' | grep -o -- '--[a-z0-9][a-z0-9-]*' | sort -u >"$tmp/have"
	if diff -u "$tmp/want" "$tmp/have" >"$tmp/diff"; then
		ok "$t: man page OPTIONS lists exactly the options of --list-options"
	else
		nok "$t: man page OPTIONS differs from --list-options (- missing in man, + extra in man)"
		sed 's/^/#   /' "$tmp/diff"
	fi
	check "$t: man page has NAME, SYNOPSIS, EXIT STATUS sections" \
		bash -c "grep -q '^.SH NAME' '$man' && grep -q '^.SH SYNOPSIS' '$man' && grep -q '^.SH \"\\?EXIT STATUS' '$man'"
	if command -v groff >/dev/null 2>&1; then
		w=$(groff -man -Tutf8 -ww -z "$man" 2>&1 || true)
		check "$t: man page renders without groff warnings" test -z "$w"
		[ -z "$w" ] || echo "$w" | head -5 | sed 's/^/#   /'
	fi
	case $bin in
	"$BUILD"/bin/*)
		mkdir -p "$tmp/comp"
		scripts/gen-completions "$bin" "$tmp/comp"
		check "$t: committed bash completion is up to date (make completions)" cmp -s "$tmp/comp/bash/$t" "completions/bash/$t"
		check "$t: committed zsh completion is up to date (make completions)" cmp -s "$tmp/comp/zsh/_$t" "completions/zsh/_$t"
		fn=$(sed -n 's/^complete -F \([^ ]*\) .*/\1/p' "completions/bash/$t")
		check "$t: bash completion offers the --format values" \
			bash -c "source completions/bash/$t; COMP_WORDS=($t --format ''); COMP_CWORD=2; $fn; [[ \" \${COMPREPLY[*]} \" == *' json '* ]]"
		check "$t: bash completion offers the long options" \
			bash -c "source completions/bash/$t; COMP_WORDS=($t --ou); COMP_CWORD=1; $fn; [[ \" \${COMPREPLY[*]} \" == *' --output '* ]]"
		if command -v zsh >/dev/null 2>&1; then
			check "$t: zsh completion parses" zsh -n "completions/zsh/_$t"
		fi
		;;
	esac
done
echo "1..$n"
