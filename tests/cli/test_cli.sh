#!/bin/sh
# End-to-end tests of the command line: the built binary on files this
# script makes in a temporary directory (removed at exit). A source model
# is a copy of assets/tiny-inkuba; every command that must not write it is
# checked with sha256sum over the whole tree. Prints the summary line
# "N passed, N failed[, N skipped]" that tests/run.sh adds up.
#
# Usage: tests/cli/test_cli.sh [BUILD_DIR]   (run from the project root)
# $GENMODEL (optional): the bench model generator to test as well.
TEST_NAME=tests/cli/test_cli.sh
. tests/lib.sh
case $BIN in /*) ;; *) BIN=$PWD/$BIN ;; esac
test_tmpdir cli
# nothing measured here may land in the user's cache
export PUNGUZA_CACHE="$TMP/cache"
check() { # check DESCRIPTION COMMAND...
	d=$1; shift
	if "$@"; then ok; else fail "$d"; fi
}
# sums DIR: one line per file (path relative to DIR, sha256), sorted.
sums() { (cd "$1" && find . -type f -exec sha256sum {} + | sort -k 2); }
# run NAME ARGS...: runs punguza; stdout, stderr and status in $TMP/NAME.*
run() {
	name=$1; shift
	"$BIN" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"
	echo $? >"$TMP/$name.status"
}
exit_status() { cat "$TMP/$1.status"; }
refused() { [ "$(exit_status "$1")" -ne 0 ]; }
succeeded() {
	[ "$(exit_status "$1")" -eq 0 ] && return 0
	sed "s/^/  $1: /" "$TMP/$1.err" >&2
	return 1
}
says() { grep -qF -- "$2" "$TMP/$1.err" || { echo "  $1 said:" >&2; cat "$TMP/$1.err" >&2; return 1; }; }
same_tree() { sums "$1" | cmp -s - "$2"; }
no_tmp_left() { ! ls -d "$1".tmp-* "$1".old-* >/dev/null 2>&1; }

if [ ! -x "$BIN" ]; then
	fail "no binary at $BIN"
	summary
	exit 1
fi

SRC=$TMP/src
cp -R assets/tiny-inkuba "$SRC"
sums "$SRC" >"$TMP/src.sums"
CORPUS=assets/corpus/udhr_swh.txt
VOCAB="vocab --corpus $CORPUS --keep 1000"

# ---- vocab -o: never into or over the source, atomic, --force ----------
run v_self $VOCAB "$SRC" -o "$SRC"
check "vocab -o SOURCE is refused" refused v_self
check "vocab -o SOURCE names the source" says v_self "source"
check "vocab -o SOURCE leaves the source as it was" same_tree "$SRC" "$TMP/src.sums"

run v_file $VOCAB "$SRC/tokenizer.json" -o "$SRC"
check "vocab FILE -o its directory is refused" refused v_file
check "vocab FILE -o its directory leaves the source" same_tree "$SRC" "$TMP/src.sums"

run v_under $VOCAB "$SRC" -o "$SRC/sub/out"
check "vocab -o under the source is refused" refused v_under
check "vocab -o under the source creates nothing" test ! -e "$SRC/sub"
check "vocab -o under the source leaves it" same_tree "$SRC" "$TMP/src.sums"

ln -s "$SRC" "$TMP/link"
run v_link $VOCAB "$SRC" -o "$TMP/link"
check "vocab -o a symlink to the source is refused" refused v_link
check "vocab -o a symlink to the source leaves it" same_tree "$SRC" "$TMP/src.sums"

mkdir "$TMP/full"
echo keep >"$TMP/full/keep.txt"
run v_full $VOCAB "$SRC" -o "$TMP/full"
check "vocab -o a non-empty folder is refused" refused v_full
check "vocab -o a non-empty folder says --force" says v_full "--force"
check "vocab -o a non-empty folder writes nothing there" \
	test "$(ls "$TMP/full")" = keep.txt
check "vocab -o a non-empty folder leaves no temporary" no_tmp_left "$TMP/full"

run v_force $VOCAB "$SRC" -o "$TMP/full" --force
check "vocab --force replaces a non-empty folder" succeeded v_force
check "vocab --force wrote the tokenizer" test -s "$TMP/full/tokenizer.json"
check "vocab --force removed the old content" test ! -e "$TMP/full/keep.txt"
check "vocab --force leaves no temporary" no_tmp_left "$TMP/full"

mkdir "$TMP/empty"
run v_new $VOCAB "$SRC" -o "$TMP/empty"
check "vocab -o an empty folder works" succeeded v_new
check "vocab -o an empty folder wrote vocab_map.json" test -s "$TMP/empty/vocab_map.json"
check "vocab -o leaves no temporary" no_tmp_left "$TMP/empty"
check "vocab runs left the source as it was" same_tree "$SRC" "$TMP/src.sums"

run v_spm vocab --spm-to-json "$SRC/tokenizer.model" -o "$SRC/tokenizer.model"
check "vocab --spm-to-json over its own input is refused" refused v_spm
check "vocab --spm-to-json over its input leaves the source" same_tree "$SRC" "$TMP/src.sums"

# ---- prune -o under the source ------------------------------------------
run p_under prune "$SRC" -o "$SRC/pruned" --width 0.5
check "prune -o SOURCE/sub is refused" refused p_under
check "prune -o SOURCE/sub names the source" says p_under "source"
check "prune -o SOURCE/sub writes nothing into the source" same_tree "$SRC" "$TMP/src.sums"
run p_self prune "$SRC" -o "$SRC" --width 0.5 --force
check "prune -o SOURCE --force is refused" refused p_self
check "prune -o SOURCE --force leaves the source" same_tree "$SRC" "$TMP/src.sums"

# ---- tasks -o its own --data --------------------------------------------
printf 'ID,task,lang,split,instruction,input,target\nID_aa_test__mt_eng-swa,mt,swa,public,Translate to Swahili,Hello,Habari\n' >"$TMP/rows.csv"
sha256sum "$TMP/rows.csv" >"$TMP/rows.sum"
run t_self tasks "$SRC" --data "$TMP/rows.csv" -o "$TMP/rows.csv"
check "tasks -o its --data file is refused" refused t_self
check "tasks -o its --data file says so" says t_self "rows.csv"
check "tasks -o its --data file leaves it" sha256sum -c --quiet "$TMP/rows.sum"
(cd "$TMP" && ln -s rows.csv alias.csv)
run t_alias tasks "$SRC" --data "$TMP/rows.csv" -o "$TMP/alias.csv"
check "tasks -o a symlink to its --data file is refused" refused t_alias
check "tasks -o a symlink to its --data leaves it" sha256sum -c --quiet "$TMP/rows.sum"

# ---- CSV line ends: LF, CRLF and bare CR score alike ---------------------
printf 'ID,task,lang,split,instruction,input,target\n' >"$TMP/ref.lf"
for i in 1 2 3; do
	printf 'ID_%s_sentiment_test__swahili,sentiment,swa,public,Classify,"text %s",%s\n' \
		"$i" "$i" "$((i - 1))" >>"$TMP/ref.lf"
done
printf 'ID,Response\nID_1_sentiment_test__swahili,0\nID_2_sentiment_test__swahili,2\nID_3_sentiment_test__swahili,"2"\n' >"$TMP/sub.lf"
mkdir "$TMP/lf" "$TMP/crlf" "$TMP/cr"
for f in ref sub; do
	tr '\n' '\r' <"$TMP/$f.lf" >"$TMP/cr/$f.csv"
	sed 's/$/\r/' "$TMP/$f.lf" >"$TMP/crlf/$f.csv"
	cp "$TMP/$f.lf" "$TMP/lf/$f.csv"
done
for k in lf crlf cr; do
	(cd "$TMP/$k" && "$BIN" score sub.csv --ref ref.csv --json \
		>"$TMP/s_$k.out" 2>"$TMP/s_$k.err"; echo $? >"$TMP/s_$k.status")
	check "score reads $k line ends" succeeded "s_$k"
done
check "bare-CR files score as LF files do" cmp -s "$TMP/s_lf.out" "$TMP/s_cr.out"
check "CRLF files score as LF files do" cmp -s "$TMP/s_lf.out" "$TMP/s_crlf.out"

# ---- run: the first generated word keeps its space ----------------------
# (greedy on the shipped model: the first piece after "Habari za" is
# "\u2581Yesu", printed after the prompt as " Yesu", never "Yesu")
run gen run "$SRC" -p "Habari za" -n 4 --temp 0
check "run succeeds" succeeded gen
check "run prints the first word's leading space" test "$(head -c 1 "$TMP/gen.out")" = " "

# ---- info on a .bin whose pickle is '/data.pkl' (empty prefix) ----------
mkdir "$TMP/noprefix"
cp "$SRC/config.json" "$TMP/noprefix/"
cp tests/data/io/empty_prefix.bin "$TMP/noprefix/pytorch_model.bin"
run noprefix info "$TMP/noprefix"
check "info on an empty-prefix .bin exits 1, not a crash" test "$(exit_status noprefix)" -eq 1
check "info on an empty-prefix .bin names the missing tensor" says noprefix "missing tensor"

# ---- a legacy (non-zip) torch.save file ---------------------------------
mkdir "$TMP/legacy"
cp "$SRC/config.json" "$TMP/legacy/"
# pickle protocol 2, then torch's legacy magic number 0x1950a86a20f9469cfc6c
printf '\200\002\212\012\154\374\234\106\371\040\152\250\120\031.\200\002}q\000.' \
	>"$TMP/legacy/pytorch_model.bin"
run legacy info "$TMP/legacy"
check "info on a legacy torch.save file fails" refused legacy
check "info names the legacy torch.save format" says legacy "legacy (non-zip) torch.save format is not supported"
check "info says how to re-save it" says legacy "_use_new_zipfile_serialization=True"

# ---- the bench model generator creates missing parents -------------------
if [ -n "${GENMODEL:-}" ] && [ -x "$GENMODEL" ]; then
	if "$GENMODEL" "$TMP/deep/er/model" --preset tiny >"$TMP/gen.out" 2>&1; then ok; else
		fail "genmodel into a missing parent folder"; cat "$TMP/gen.out" >&2
	fi
	check "genmodel wrote config.json under the new parents" test -s "$TMP/deep/er/model/config.json"
else
	skip "genmodel (set GENMODEL to the bench generator)"
fi

summary
