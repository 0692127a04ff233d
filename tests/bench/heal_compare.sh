#!/bin/sh
# Compares ways of getting a small model at one equal budget, 120 steps of
# batch 16 x 128 (245,760 tokens), as the README's "Healing" section
# reports: the "40M" shape (6 layers) healed by distillation, the "50M"
# shape cut fine-tuned on cross-entropy only, healed data-free (no corpus,
# teacher-sampled sequences), and the same architecture from random
# weights trained on cross-entropy. Prints held-out bits per byte
# (Swahili, Hausa) and each heal's CPU seconds (user + system). The
# 50M-shape cut healed with the default KD is heal_tiny.sh's run (its
# step 120). Not part of `make check`.
#
# Usage: tests/bench/heal_compare.sh [BUILD_DIR] [WORK_DIR]
#   (run from the project root; needs python3 with numpy and
#   ../shared/data/corpus; runs two heals at a time, one thread each)
O=${1:-build}
WORK=${2:-/tmp/punguza-heal-compare}
STEPS=${STEPS:-120}
P=$O/punguza
A=assets/tiny-inkuba
CORPUS=${CORPUS:-../shared/data/corpus}
PY=${PYTHON:-python3}
set -e
mkdir -p "$WORK"
$PY $A/prepare_data.py "$CORPUS" "$WORK/split" "$WORK" 2>/dev/null
cmp -s "$WORK/split/heldout_swh.txt" $A/heldout_swh.txt
cmp -s "$WORK/split/heldout_hau.txt" $A/heldout_hau.txt
rm -rf "$WORK"/p50 "$WORK"/p40 "$WORK"/p50r "$WORK"/h_*
$P prune $A --width 0.5 --tie lm_head -o "$WORK/p50" >/dev/null
$P prune $A --width 0.5 --tie lm_head --layers 6 -o "$WORK/p40" >/dev/null
cp -r "$WORK/p50" "$WORK/p50r"
$PY tests/bench/reinit.py "$WORK/p50r" >/dev/null
C="--corpus $WORK/train_swh.txt --corpus $WORK/train_hau.txt
   --corpus $WORK/valid_swh.txt --corpus $WORK/valid_hau.txt"
heal() { # NAME STUDENT ARGS...
	n=$1 s=$2
	shift 2
	/usr/bin/time -f "%U %S" -o "$WORK/time_$n" "$P" heal "$s" "$@" \
		--steps "$STEPS" --threads 1 -o "$WORK/h_$n" >"$WORK/log_$n" 2>&1
}
# shellcheck disable=SC2086
{
	heal p40kd "$WORK/p40" --teacher $A $C &
	heal p50free "$WORK/p50" --teacher $A &
	wait
	heal p50ft "$WORK/p50" --kd-weight 0 $C &
	heal scratch "$WORK/p50r" --kd-weight 0 $C &
	wait
}
bpb() {
	$P eval "$1" --text "$A/heldout_$2.txt" --lines --ctx 256 --json |
		grep -o '"bits_per_byte":[0-9.]*' | cut -d: -f2
}
row() { # LABEL DIR [TIMEFILE]
	t=
	[ -n "$3" ] && t=$(awk '{ printf "%.0f", $1 + $2 }' "$3")
	printf '%-30s %8.4f %8.4f %6s\n' "$1" "$(bpb "$2" swh)" \
		"$(bpb "$2" hau)" "$t"
}
printf '%-30s %8s %8s %6s\n' run swh hau "cpu s"
row original $A
row "40M cut" "$WORK/p40"
row "40M cut + KD" "$WORK/h_p40kd" "$WORK/time_p40kd"
row "50M cut" "$WORK/p50"
row "50M cut + plain FT" "$WORK/h_p50ft" "$WORK/time_p50ft"
row "50M cut + data-free KD" "$WORK/h_p50free" "$WORK/time_p50free"
row "random init" "$WORK/p50r"
row "random init + CE (scratch)" "$WORK/h_scratch" "$WORK/time_scratch"
