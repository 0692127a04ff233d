#!/bin/sh
# Runs every test binary given, adds up their summary lines and prints the
# total as the last line: "N passed, N failed[, N skipped]". Exits 1 when any
# check failed or a binary died without a summary (a crash counts as a
# failure, never as "ran nothing").
passed=0 failed=0 skipped=0 status=0
for t in "$@"; do
	out=$("$t" 2>"$t.stderr")
	rc=$?
	cat "$t.stderr" >&2
	printf '%s\n' "$out"
	line=$(printf '%s\n' "$out" | grep -E '[0-9]+ passed, [0-9]+ failed' | tail -n 1)
	if [ -z "$line" ]; then
		echo "$t: exited $rc without a summary" >&2
		failed=$((failed + 1)); status=1; continue
	fi
	p=$(printf '%s' "$line" | sed -E 's/(^|.* )([0-9]+) passed.*/\2/')
	f=$(printf '%s' "$line" | sed -E 's/(^|.* )([0-9]+) failed.*/\2/')
	s=$(printf '%s' "$line" | sed -nE 's/(^|.* )([0-9]+) skipped.*/\2/p')
	passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + ${s:-0}))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "$t: exited $rc" >&2
		failed=$((failed + 1))
	fi
	[ "$rc" -ne 0 ] && status=1
done
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ] || status=1
exit $status
