#!/bin/sh
# End-to-end tests of `punguza heal` and `punguza prune --heal-*`: exit
# statuses, refusals, SIGTERM leaving a checkpoint (exit 143), and a
# recipe's heal section replayed to the same bytes. Prints the summary line
# "N passed, N failed" that tests/run.sh adds up.
#
# Usage: tests/test_heal_cli.sh [BUILD_DIR]   (run from the project root)
TEST_NAME=tests/test_heal_cli.sh
. tests/lib.sh
test_tmpdir heal-cli

head -n 60 $TINY/heldout_swh.txt >"$TMP/corpus.txt"
head -n 5 $TINY/heldout_hau.txt >"$TMP/held.txt"
SMALL="--width 0.25 --layers 2 --tie lm_head --threads 1"

status "heal --help" 0 $BIN heal --help
grep -q -- "--kd-weight" "$TMP/out" && ok || fail "heal --help lists --kd-weight"
status "no budget" 2 $BIN heal $TINY --teacher $TINY --corpus "$TMP/corpus.txt" -o "$TMP/x"
status "two budgets" 2 $BIN heal $TINY --teacher $TINY --steps 1 --tokens 5 -o "$TMP/x"
status "kd without teacher" 2 $BIN heal $TINY --corpus "$TMP/corpus.txt" --steps 1 --kd-weight 1 -o "$TMP/x"
status "bad value" 2 $BIN heal $TINY --teacher $TINY --steps 1 --lr -1 -o "$TMP/x"
status "out inside the source" 2 $BIN heal $TINY --teacher $TINY --corpus "$TMP/corpus.txt" --steps 1 -o $TINY/healed
[ ! -e $TINY/healed ] && ok || fail "nothing written inside the source"

# prune and heal in one go, then replay the recipe: the same bytes
status "prune --heal-steps" 0 $BIN prune $TINY $SMALL --heal-steps 2 \
	--heal-corpus "$TMP/corpus.txt" --heldout "$TMP/held.txt" -o "$TMP/ph"
grep -q '"heal"' "$TMP/ph/punguza.json" && ok || fail "the recipe has a heal section"
grep -q '"done": true' "$TMP/ph/heal_state.json" && ok || fail "heal_state done"
[ ! -e "$TMP/ph/optimizer.safetensors" ] && ok || fail "no optimizer state in a result"
status "prune --recipe replays the heal" 0 $BIN prune $TINY --recipe "$TMP/ph/punguza.json" \
	--heal-corpus "$TMP/corpus.txt" -o "$TMP/ph2"
cmp -s "$TMP/ph/model.safetensors" "$TMP/ph2/model.safetensors" && ok ||
	fail "replayed heal: different weights"
status "replay with other data" 2 $BIN prune $TINY --recipe "$TMP/ph/punguza.json" \
	--heal-corpus "$TMP/held.txt" -o "$TMP/ph3"
status "non-empty OUT" 2 $BIN heal "$TMP/ph" --teacher $TINY --corpus "$TMP/corpus.txt" \
	--steps 1 -o "$TMP/ph2"

# SIGTERM: a checkpoint, exit 143; --resume is accepted on it
$BIN heal "$TMP/ph" --teacher $TINY --corpus "$TMP/corpus.txt" --steps 100000 \
	--batch 2 --ctx 16 --threads 1 -o "$TMP/sig" >/dev/null 2>"$TMP/sig.err" &
pid=$!
i=0
while [ $i -lt 300 ] && ! grep -q '^2	' "$TMP/sig/heal_log.tsv" 2>/dev/null; do
	sleep 0.1; i=$((i + 1))
done
kill -TERM $pid
wait $pid
got=$?
[ "$got" -eq 143 ] && ok || { fail "SIGTERM: exit $got, expected 143"; cat "$TMP/sig.err" >&2; }
grep -q '"done": false' "$TMP/sig/heal_state.json" 2>/dev/null && ok || fail "SIGTERM: no checkpoint state"
[ -e "$TMP/sig/optimizer.safetensors" ] && ok || fail "SIGTERM: no optimizer state"
[ -e "$TMP/sig/model.safetensors" ] && ok || fail "SIGTERM: no weights"

summary
