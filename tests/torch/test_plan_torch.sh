#!/bin/sh
# `punguza heal --plan-torch` without Python (part of `make check`): exit
# statuses, and the token file is the stream punguza heal trains on — per
# line BOS, `punguza tokenize --no-special`'s ids, EOS — as little-endian
# int32 after a safetensors header. Prints "N passed, N failed".
#
# Usage: tests/torch/test_plan_torch.sh [BUILD_DIR]   (from the project root)
TEST_NAME=tests/torch/test_plan_torch.sh
. tests/lib.sh
test_tmpdir plan-torch

# a corpus with an empty line and a CRLF line (both as punguza heal sees them)
head -n 40 $TINY/heldout_swh.txt >"$TMP/a.txt"
printf '\nNeno la mwisho.\r\n' >>"$TMP/a.txt"
head -n 10 $TINY/heldout_hau.txt >"$TMP/b.txt"
H="$BIN heal $TINY --teacher $TINY --corpus $TMP/a.txt --corpus $TMP/b.txt"

status "plan" 0 $H --steps 12 --batch 4 --ctx 64 --nproc 2 -o "$TMP/healed" \
	--plan-torch "$TMP/plan" --json
json=$(cat "$TMP/out")
cmd=$(sed -n 's/.*"command":"\(.*\)"}$/\1/p' "$TMP/out")
case $cmd in
*"torchrun --standalone --nproc_per_node 2 "*"heal.py --teacher $TINY --student $TINY --ids $TMP/plan/train.ids -o $TMP/healed --steps 12 --batch 4 --ctx 64 --lr 0.001 --warmup 1 "*"--kd-weight 1 --seed 1") ok ;;
*) fail "the command: $json" ;;
esac
[ -x "$TMP/plan/torchrun.sh" ] && grep -q "^torchrun " "$TMP/plan/torchrun.sh" &&
	ok || fail "torchrun.sh"

# the expected stream
for f in a b; do
	tr -d '\r' <"$TMP/$f.txt" | grep -v '^$' >"$TMP/$f.lines"
	$BIN tokenize $TINY --no-special <"$TMP/$f.lines" |
		awk '{ printf "1"; for (i = 1; i <= NF; i++) printf " %s", $i; print " 2" }'
done | tr ' ' '\n' >"$TMP/want"
n=$(grep -c . "$TMP/want")
tokens=$(printf '%s' "$json" | sed -n 's/.*"tokens":\([0-9]*\).*/\1/p')
[ "$tokens" = "$n" ] && ok || fail "tokens: $tokens, expected $n"
docs=$(printf '%s' "$json" | sed -n 's/.*"documents":\([0-9]*\).*/\1/p')
[ "$docs" = 51 ] && ok || fail "documents: $docs, expected 51"

# the file: u64 header length, JSON header, int32 ids
f="$TMP/plan/train.ids"
hl=$(od -An -v -t u8 -N 8 "$f" | tr -d ' ')
size=$(wc -c <"$f")
[ $((hl % 8)) -eq 0 ] && [ "$size" -eq $((8 + hl + 4 * n)) ] && ok ||
	fail "size $size, header $hl, $n tokens"
head -c $((8 + hl)) "$f" | tail -c "$hl" >"$TMP/header"
grep -q '"__metadata__":{"format":"punguza-ids","version":"1","vocab_size":"4000","documents":"51","mode":"lines","bos":"1","eos":"2","sources":' "$TMP/header" &&
	grep -q '"tokens":{"dtype":"I32","shape":\['"$n"'\],"data_offsets":\[0,'$((4 * n))'\]}' "$TMP/header" &&
	ok || fail "header: $(cat "$TMP/header")"
od -An -v -t d4 -j $((8 + hl)) "$f" | tr -s ' ' '\n' | grep -v '^$' >"$TMP/got"
cmp -s "$TMP/got" "$TMP/want" && ok || fail "the ids differ from punguza tokenize's"

# --whole-text: each file as one text, one document each
status "whole text" 0 $H --steps 3 --whole-text -o "$TMP/healed" \
	--plan-torch "$TMP/plan2" --json
grep -q '"documents":2,' "$TMP/out" && ok || fail "whole text: $(cat "$TMP/out")"

status "minutes" 2 $H --minutes 1 -o "$TMP/healed" --plan-torch "$TMP/p3"
status "no corpus" 2 $BIN heal $TINY --teacher $TINY --steps 3 -o "$TMP/healed" --plan-torch "$TMP/p3"
status "batch not a multiple of nproc" 2 $H --steps 3 --batch 6 --nproc 4 -o "$TMP/healed" --plan-torch "$TMP/p3"
status "context beyond the positions" 2 $H --steps 3 --ctx 1024 -o "$TMP/healed" --plan-torch "$TMP/p3"
[ ! -e "$TMP/p3" ] && [ ! -e "$TMP/healed" ] && ok || fail "a refused plan wrote files"

summary
