#!/bin/sh
# An export interrupted by SIGTERM or SIGINT leaves no OUT.tmp-* behind and
# the process dies of the signal; one killed with SIGKILL leaves its
# temporary directory, which the next export to the same OUT removes and
# reports. Uses a random model big enough (about 160 MB of f32) that the
# export is still running when the signal arrives. Prints the summary line
# "N passed, N failed[, N skipped]" that tests/run.sh adds up.
#
# Usage: tests/tui/test_signals.sh [BUILD_DIR]   (run from the project root)
TEST_NAME=tests/tui/test_signals.sh
. tests/lib.sh
GEN=$O/bench/genmodel
test_tmpdir signals ""
DEFSIG=
tmps() { ls -d "$TMP/out".tmp-* 2>/dev/null | wc -l; }
# an export under way: its temporary directory holds the pid marker
marked() { ls "$TMP/out".tmp-*/.punguza-export >/dev/null 2>&1; }

if ! "$GEN" "$TMP/src" --vocab 8000 --hidden 768 --inter 2048 --layers 8 \
	--heads 12 --kv-heads 12 --format safetensors >/dev/null 2>&1; then
	fail "genmodel could not write the model"
	summary
	exit
fi

# interrupt SIG: starts an export, waits for its temporary directory,
# sends SIG and checks the outcome.
interrupt() {
	sig=$1 want=$2
	rm -rf "$TMP/out" "$TMP/out".tmp-*
	# a background job of a non-interactive shell starts with SIGINT
	# ignored (and punguza leaves ignored signals ignored): reset it
	$DEFSIG "$BIN" prune "$TMP/src" -o "$TMP/out" --format hf \
		>"$TMP/$sig.out" 2>"$TMP/$sig.err" &
	pid=$!
	i=0
	while ! marked && [ $i -lt 3000 ] && kill -0 $pid 2>/dev/null; do
		sleep 0.01; i=$((i + 1))
	done
	# freeze it mid-export so the signal lands before it can finish,
	# however fast the machine writes
	kill -s STOP $pid 2>/dev/null
	if [ "$(tmps)" -eq 0 ]; then
		kill -s CONT $pid 2>/dev/null
		fail "$sig: no temporary directory appeared"
		wait $pid
		return
	fi
	kill -s "$sig" $pid
	kill -s CONT $pid
	wait $pid
	rc=$?
	if [ -e "$TMP/out" ]; then
		fail "$sig: the export finished before the signal (make the model bigger)"
		return
	fi
	[ "$rc" -eq "$want" ] && ok || fail "$sig: exit status $rc, want $want"
	[ "$(tmps)" -eq 0 ] && ok || fail "$sig: $(tmps) OUT.tmp-* left behind"
	grep -q "interrupted by SIG$sig" "$TMP/$sig.err" && ok ||
		fail "$sig: no 'interrupted by SIG$sig' on stderr: $(cat "$TMP/$sig.err")"
}
interrupt TERM 143
if env --default-signal=INT true 2>/dev/null; then
	DEFSIG="env --default-signal=INT"
	interrupt INT 130
else
	skipped=$((skipped + 1))
	echo "tests/tui/test_signals.sh: SKIP: SIGINT: env --default-signal is missing (coreutils < 8.31)" >&2
fi

# SIGKILL cannot be caught: the next export cleans up after it.
interrupt_kill() {
	rm -rf "$TMP/out" "$TMP/out".tmp-*
	"$BIN" prune "$TMP/src" -o "$TMP/out" --format hf >/dev/null 2>&1 &
	pid=$!
	i=0
	while ! marked && [ $i -lt 3000 ] && kill -0 $pid 2>/dev/null; do
		sleep 0.01; i=$((i + 1))
	done
	kill -s STOP $pid 2>/dev/null # before it can finish
	kill -s KILL $pid
	wait $pid
}
interrupt_kill
left=$(ls -d "$TMP/out".tmp-* 2>/dev/null)
if [ -z "$left" ] || [ -e "$TMP/out" ]; then
	fail "SIGKILL: expected one OUT.tmp-* and no OUT"
else
	ok
	"$BIN" prune "$TMP/src" -o "$TMP/out" --format hf >/dev/null 2>"$TMP/next.err"
	rc=$?
	[ "$rc" -eq 0 ] && ok || fail "next export: exit status $rc: $(cat "$TMP/next.err")"
	[ "$(tmps)" -eq 0 ] && ok || fail "next export: the dead export's $left remains"
	grep -qF "removed '$left', left by an interrupted export (pid $pid)" \
		"$TMP/next.err" && ok ||
		fail "next export did not report removing $left: $(cat "$TMP/next.err")"
fi
summary
