#!/bin/sh
# Heals the shipped model cut to the published "50M" shape (width 0.5,
# tied from lm_head) on the training split of the Swahili + Hausa New
# Testaments and measures held-out bits per byte before and after, as the
# README's "Healing" section reports. Not part of `make check`.
#
# Usage: tests/bench/heal_tiny.sh [BUILD_DIR] [STEPS] [WORK_DIR]
#   (run from the project root; needs python3 for the data split and
#   ../shared/data/corpus)
O=${1:-build}
STEPS=${2:-600}
WORK=${3:-/tmp/punguza-heal-tiny}
P=$O/punguza
A=assets/tiny-inkuba
CORPUS=${CORPUS:-../shared/data/corpus}
set -e
mkdir -p "$WORK"
# the model card's split: every 20th line held out (heldout_*.txt, which
# must equal the committed ones); heal on everything else
python3 $A/prepare_data.py "$CORPUS" "$WORK/split" "$WORK" 2>/dev/null
cmp -s "$WORK/split/heldout_swh.txt" $A/heldout_swh.txt
cmp -s "$WORK/split/heldout_hau.txt" $A/heldout_hau.txt
rm -rf "$WORK/p50" "$WORK/healed"
$P prune $A --width 0.5 --tie lm_head -o "$WORK/p50" >/dev/null
ev() {
	for l in swh hau; do
		printf '%-10s %s ' "$2" "$l"
		$P eval "$1" --text $A/heldout_$l.txt --lines --ctx 256 --json |
			grep -o '"bits_per_byte":[0-9.]*'
	done
}
ev $A original
ev "$WORK/p50" pruned
$P heal "$WORK/p50" --teacher $A --corpus "$WORK/train_swh.txt" \
	--corpus "$WORK/train_hau.txt" --corpus "$WORK/valid_swh.txt" \
	--corpus "$WORK/valid_hau.txt" --heldout $A/heldout_swh.txt \
	--steps "$STEPS" --eval-every 60 --eval-ctx 256 --threads 2 \
	-o "$WORK/healed"
ev "$WORK/healed" healed
