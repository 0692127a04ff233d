#!/bin/sh
# End-to-end tests of the explorer: the real binary inside tmux, keys sent
# with send-keys, the screen read with capture-pane. Prints the summary line
# "N passed, N failed[, N skipped]" that tests/run.sh adds up.
#
# Usage: tests/tui/test_tui.sh [BUILD_DIR]   (run from the project root)
# UPDATE_EXPECTED=1 rewrites tests/tui/expected/ from the current screens.
O=${1:-${O:-build}}
BIN=$O/punguza
EXP=tests/tui/expected
passed=0 failed=0 skipped=0
TMP=$(mktemp -d /tmp/punguza-tui-XXXXXX)
# no measured scores from this machine's cache: the screens must not vary
export PUNGUZA_CACHE="$TMP/cache"
SOCK=punguza-test-$$
T="tmux -L $SOCK -f /dev/null"
trap '$T kill-server 2>/dev/null; rm -rf "$TMP"' EXIT INT TERM

ok() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "tests/tui/test_tui.sh: FAIL: $*" >&2; }
skip() { skipped=$((skipped + 1)); echo "tests/tui/test_tui.sh: SKIP: $*" >&2; }
check() { # check DESCRIPTION COMMAND...
	d=$1; shift
	if "$@"; then ok; else fail "$d"; fi
}

if ! command -v tmux >/dev/null 2>&1; then
	skip "tmux is not installed (make deps installs it)"
	echo "$passed passed, $failed failed, $skipped skipped"
	exit 0
fi

# start NAME COLS ROWS ARGS...: runs punguza in a fresh tmux session; when it
# exits, the shell records the terminal modes and the exit status.
start() {
	name=$1 cols=$2 rows=$3; shift 3
	rm -f "$TMP/$name.stty" "$TMP/$name.status"
	$T new-session -d -s "$name" -x "$cols" -y "$rows" \
		"$BIN $*; echo \$? > $TMP/$name.status; stty -a > $TMP/$name.stty; sleep 30"
}
screen() { $T capture-pane -p -t "$1" | sed 's/[[:space:]]*$//'; }
# wait_for NAME TEXT [SECONDS]: up to SECONDS (10) for TEXT to appear.
wait_for() {
	i=0
	while [ $i -lt $((${3:-10} * 10)) ]; do
		screen "$1" | grep -qF -- "$2" && return 0
		sleep 0.1; i=$((i + 1))
	done
	echo "--- screen of $1 (waiting for '$2'):" >&2
	screen "$1" >&2
	return 1
}
keys() { name=$1; shift; for k in "$@"; do $T send-keys -t "$name" "$k"; sleep 0.15; done; }
# json_num FILE KEY: the first number after "KEY": in a JSON text.
json_num() { grep -m1 "\"$2\":" "$1" | sed -E 's/.*:[[:space:]]*([-0-9.e+]+).*/\1/'; }
# compare NAME EXPECTED_FILE: the screen equals the committed capture.
compare() {
	screen "$1" > "$TMP/$1.now"
	if [ -n "${UPDATE_EXPECTED:-}" ]; then cp "$TMP/$1.now" "$2"; fi
	if diff -u "$2" "$TMP/$1.now" >&2; then ok; else fail "screen $1 differs from $2"; fi
}
# knob_flags NAME: the `punguza plan` flags equivalent to the knobs shown.
knob_flags() {
	scr=$(screen "$1")
	val() { printf '%s\n' "$scr" | grep -m1 "^ *$1 " | sed -E "s/^ *$1 +//; s/^[^0-9a-z]*//"; }
	v=$(val "Vocabulary"); d=$(val "Width d"); f=$(val "MLP width f")
	l=$(val "Layers"); t=$(val "Tying"); h=$(val "Heads")
	flags=""
	case "$v" in all*) ;; *) flags="$flags --vocab $(printf '%s' "$v" | sed -E 's/ of.*//; s/,//g')";; esac
	flags="$flags --hidden $(printf '%s' "$d" | sed -E 's/ .*//; s/,//g')"
	case "$f" in *follows*) ;; *) flags="$flags --inter $(printf '%s' "$f" | sed -E 's/ .*//; s/,//g')";; esac
	flags="$flags --layers $(printf '%s' "$l" | sed -E 's/ .*//')"
	case "$t" in *lm_head*) flags="$flags --tie lm_head";; *embedding*) flags="$flags --tie embed";;
		*mean*) flags="$flags --tie mean";; esac
	case "$h" in *drop*) flags="$flags --heads-mode heads";; esac
	printf '%s' "$flags"
}
# check_knobs NAME WHAT: total and zindi on screen equal `punguza plan`'s.
check_knobs() {
	fl=$(knob_flags "$1"); [ -n "${DEBUG_TUI:-}" ] && echo "knobs: $fl" >&2
	lb=$(screen "$1" | grep -m1 -oE 'LB [0-9.]+' | sed 's/LB //')
	$BIN plan --preset inkubalm-0.4b $fl --lb "$lb" --json > "$TMP/k.json" 2>"$TMP/k.err" ||
		{ fail "$2: punguza plan$fl failed: $(cat "$TMP/k.err")"; return; }
	total=$(sed -n '/"total"/,/}/p' "$TMP/k.json" | json_num /dev/stdin pruned)
	tot_fmt=$(printf '%s' "$total" | sed -E ':a; s/([0-9])([0-9]{3})($|,)/\1,\2\3/; ta')
	z=$(printf '%.4f' "$(json_num "$TMP/k.json" projected)")
	if screen "$1" | grep -E '^ .* total ' | grep -qF "$tot_fmt" &&
	   screen "$1" | grep -qF "zindi $z"; then ok
	else fail "$2: screen does not show total $tot_fmt / zindi $z of plan$fl"; fi
}
quit_and_check() { # the terminal is restored after quitting
	keys "$1" q
	i=0
	while [ ! -s "$TMP/$1.stty" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	check "$1: exits 0" grep -qx 0 "$TMP/$1.status"
	check "$1: terminal echo restored" grep -qE '(^| )echo( |$)' "$TMP/$1.stty"
	check "$1: canonical mode restored" grep -qE '(^| )icanon( |$)' "$TMP/$1.stty"
}

# --- plan-only mode on the real geometry: fully deterministic screens -----
start preset 100 30 --preset inkubalm-0.4b
if wait_for preset "KNOBS"; then
	ok
	compare preset "$EXP/home_preset_100x30.txt"
	# each preset and knob: the figures equal `punguza plan --json`
	keys preset p
	wait_for preset "preset published-50m" && ok || fail "preset key"
	$BIN plan --preset inkubalm-0.4b --vocab 8064 --width 0.5 --tie lm_head \
		--json > "$TMP/p50.json"
	total=$(sed -n '/"total"/,/}/p' "$TMP/p50.json" | json_num /dev/stdin pruned)
	zindi=$(printf '%.4f' "$(json_num "$TMP/p50.json" projected)")
	screen preset | grep -E ' total ' | grep -qF "50,480,128" && ok || fail "total 50,480,128 not on screen"
	[ "$total" = 50480128 ] && ok || fail "plan --json total $total"
	screen preset | grep -qF "zindi $zindi" && ok || fail "zindi $zindi not on screen"
	# layers: 8 -> 7 on the Layers knob
	keys preset j j j Left
	$BIN plan --preset inkubalm-0.4b --vocab 8064 --width 0.5 --tie lm_head \
		--layers 7 --json > "$TMP/p7.json"
	zindi=$(printf '%.4f' "$(json_num "$TMP/p7.json" projected)")
	wait_for preset "7 of 8" && ok || fail "layers knob"
	screen preset | grep -qF "zindi $zindi" && ok || fail "zindi $zindi after layers 7"
	# assumed LB up by 0.01
	keys preset +
	$BIN plan --preset inkubalm-0.4b --vocab 8064 --width 0.5 --tie lm_head \
		--layers 7 --lb 0.5426 --json > "$TMP/p7b.json"
	zindi=$(printf '%.4f' "$(json_num "$TMP/p7b.json" projected)")
	wait_for preset "LB 0.5426" && ok || fail "LB key"
	screen preset | grep -qF "zindi $zindi" && ok || fail "zindi $zindi at LB 0.5426"
	# every knob, one step each, from the identity plan
	keys preset 0 Home
	check_knobs preset "identity"
	keys preset Left;       check_knobs preset "vocabulary -1 step"
	keys preset j Left;     check_knobs preset "width -1 step"
	keys preset j Left;     check_knobs preset "mlp width -1 step"
	keys preset j Left;     check_knobs preset "layers -1"
	keys preset j Right;    check_knobs preset "tying from lm_head"
	keys preset j Right;    check_knobs preset "drop heads"
	keys preset k k k k Left Left; check_knobs preset "width -2 steps, heads mode"
	keys preset k Right Right; check_knobs preset "vocabulary +2 steps"
	# help overlay opens and closes
	keys preset '?'
	wait_for preset "this help" && ok || fail "help overlay"
	keys preset x
	# resize to 80x24 and back to a large size: still laid out
	$T resize-window -t preset -x 80 -y 24 2>/dev/null || $T resize-pane -t preset -x 80 -y 24
	sleep 0.4
	screen preset | grep -qF "ZINDI" && ok || fail "80x24 layout"
	[ "$(screen preset | wc -l)" -le 24 ] && ok || fail "80x24 height"
	$T resize-window -t preset -x 140 -y 45 2>/dev/null || $T resize-pane -t preset -x 140 -y 45
	sleep 0.4
	screen preset | grep -qF "ZINDI vs PARAMETERS" && ok || fail "140x45 layout"
	quit_and_check preset
else
	fail "explorer did not start in plan-only mode"
fi

# --- a real model: the shipped one (or TUI_MODEL) -------------------------
# Screens are compared with their committed captures after masking what
# legitimately varies: timings, the generated text, the temporary path.
MODEL=${TUI_MODEL:-assets/tiny-inkuba}
mask() { sed -E "s#$TMP#TMP#g; s/[0-9.]+ tok\/s/N tok\/s/g; s/[0-9]+ tokens  /N tokens  /g"; }
compare_masked() { # NAME FILE [FIRST_LINES]: the first lines only, masked
	screen "$1" | mask | head -n "${3:-100}" > "$TMP/$1.now"
	if [ -n "${UPDATE_EXPECTED:-}" ]; then cp "$TMP/$1.now" "$2"; fi
	if diff -u "$2" "$TMP/$1.now" >&2; then ok; else fail "screen $1 differs from $2"; fi
}
if [ -f "$MODEL/model.safetensors" ]; then
	start shipped 100 30 "$MODEL"
	if wait_for shipped "KNOBS"; then
		ok
		compare_masked shipped "$EXP/home_shipped_100x30.txt"
		# Vocabulary: the corpus is counted in the background
		keys shipped 2
		wait_for shipped "coverage" 120 && ok || fail "vocabulary screen counts"
		keys shipped Left Left
		wait_for shipped "tokens per word" && ok || fail "vocabulary K"
		compare_masked shipped "$EXP/vocab_shipped_100x30.txt"
		# Run: both sides stream text
		keys shipped 3 Enter
		wait_for shipped "(</s>)" >/dev/null 2>&1 || wait_for shipped "tok/s"
		i=0; while screen shipped | grep -qF "…" && [ $i -lt 100 ]; do sleep 0.2; i=$((i + 1)); done
		n=$(screen shipped | grep -oE '[0-9]+ tokens  [0-9.]+ tok/s' | wc -l)
		[ "$n" -eq 2 ] && ok || fail "run: both models generated ($n)"
		compare_masked shipped "$EXP/run_shipped_100x30.txt" 8
		# Quality: measured, then remembered
		keys shipped 4 m
		wait_for shipped "bits per byte" 300 && ok || fail "quality measured"
		compare_masked shipped "$EXP/quality_shipped_100x30.txt" 4
		# Export to a temporary directory, then load it with punguza info
		keys shipped 5 d
		for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30; do
			$T send-keys -t shipped BSpace
		done
		$T send-keys -t shipped -l "$TMP/export"
		keys shipped Enter Enter
		wait_for shipped "reproduce with:" 300 && ok || fail "export finished"
		compare_masked shipped "$EXP/export_shipped_100x30.txt" 17
		$BIN info "$TMP/export" > "$TMP/info.txt" 2>&1 && ok || fail "punguza info on the export"
		tot=$(screen shipped | grep -m1 -oE 'model: [0-9,]+ parameters' | sed -E 's/model: //; s/ parameters//')
		grep -qF "$tot" "$TMP/info.txt" && ok || fail "export has $tot parameters"
		quit_and_check shipped
	else
		fail "explorer did not open $MODEL"
	fi
else
	skip "$MODEL/model.safetensors is absent"
fi

if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
