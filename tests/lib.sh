# tests/lib.sh — the start the shell tests share. Sourced from the project
# root (where every test runs) right after a test's comment:
#
#   TEST_NAME=tests/cli/test_cli.sh   # the prefix of its FAIL/SKIP lines
#   . tests/lib.sh
#
# Sets O (the build directory: the test's first argument, else $O, else
# build), BIN ($O/punguza), TINY (the shipped model) and the counters
# passed, failed, skipped; defines ok, fail, skip, status, test_tmpdir and
# summary. A test may redefine any of them after sourcing.

O=${1:-${O:-build}}
BIN=$O/punguza
TINY=assets/tiny-inkuba
passed=0 failed=0 skipped=0

ok() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "$TEST_NAME: FAIL: $*" >&2; }
skip() { skipped=$((skipped + 1)); echo "$TEST_NAME: SKIP: $*" >&2; }

# status DESCRIPTION EXPECTED COMMAND...: the command's exit status is
# EXPECTED (its stdout and stderr are left in $TMP/out and $TMP/err).
status() {
	d=$1 want=$2; shift 2
	"$@" >"$TMP/out" 2>"$TMP/err"
	got=$?
	if [ "$got" -eq "$want" ]; then ok; else
		fail "$d: exit $got, expected $want"; cat "$TMP/err" >&2
	fi
}

# test_tmpdir NAME [SIGNALS]: TMP = a new directory
# ${TMPDIR:-/tmp}/punguza-NAME-XXXXXX, removed at exit and on SIGNALS
# (default: INT TERM).
test_tmpdir() {
	TMP=$(mktemp -d "${TMPDIR:-/tmp}/punguza-$1-XXXXXX")
	trap 'rm -rf "$TMP"' EXIT ${2-INT TERM}
}

# summary: prints the line tests/run.sh adds up, "N passed, N failed"
# (", N skipped" when some were); false when a check failed.
summary() {
	if [ "$skipped" -gt 0 ]; then
		echo "$passed passed, $failed failed, $skipped skipped"
	else
		echo "$passed passed, $failed failed"
	fi
	[ "$failed" -eq 0 ]
}
