#!/bin/sh
# make bench: every benchmark side by side with its reference in the same
# run, reported as figures and ratios. Not part of make check (timings
# vary with the machine and its load).
# Usage: sh tests/bench/run.sh BUILD_DIR
set -u
O=${1:-build}
B=$O/bench
DATA=../shared/data
TMP=${PUNGUZA_BENCH_DIR:-/tmp/punguza-bench}
echo "# punguza benchmarks ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores)"
run() { echo "## $*"; "$@" || echo "(failed: $?)"; }

# training (heal): one full step (forward, distillation loss, backward,
# clipping, AdamW), ours against the same step in batched PyTorch, same
# B, T and thread count, back to back; the ratio is tokens/s ours / theirs.
# PUNGUZA_BENCH_ONLY=train runs just this part.
train_bench() {
	TRAIN_THREADS=${PUNGUZA_TRAIN_THREADS:-2}
	TRAIN_STEPS=${PUNGUZA_TRAIN_STEPS:-2}
	if [ ! -f "$TMP/train-50m/config.json" ]; then
		echo "## generating a random 50M-shaped model (V 8064, d 1024, f 2816, 8 layers, 32 heads, tied, shared MLP) in $TMP/train-50m"
		"$B/genmodel" "$TMP/train-50m" --vocab 8064 --hidden 1024 --inter 2816 \
			--layers 8 --heads 32 --kv-heads 32 --tied --format safetensors || exit 1
	fi
	tps() { sed -n 's/.*: \([0-9.]*\) tokens\/s.*/\1/p' | head -n 1; }
	for M in assets/tiny-inkuba "$TMP/train-50m"; do
		echo "## training step on $M: B 16, T 128, $TRAIN_THREADS threads"
		ours=$(env OPENBLAS_NUM_THREADS=$TRAIN_THREADS "$B/bench_train" "$M" \
			--batch 16 --ctx 128 --steps "$TRAIN_STEPS" 2>&1)
		echo "$ours"
		if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
			ref=$(env OMP_NUM_THREADS=$TRAIN_THREADS /usr/bin/python3 \
				tests/bench/train_ref_speed.py "$M" --batch 16 --ctx 128 \
				--steps "$TRAIN_STEPS" --threads "$TRAIN_THREADS" 2>&1)
			echo "$ref"
			a=$(echo "$ours" | tps); b=$(echo "$ref" | tps)
			[ -n "$a" ] && [ -n "$b" ] &&
				echo "ratio ours/pytorch: $(echo "scale=2; $a / $b" | bc)x"
		else
			echo "skip: the PyTorch reference needs Debian's python3-torch"
		fi
	done
}

mkdir -p "$TMP"
if [ "${PUNGUZA_BENCH_ONLY:-}" = train ]; then
	train_bench
	exit 0
fi

run "$B/bench_plan"
if [ -d "$DATA" ]; then
	run "$B/bench_tok" "$DATA"
	# the Hugging Face reference on the same text (node + npm packages)
	if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
		NM=$O/node
		[ -d "$NM/node_modules/tokenizers" ] ||
			npm install --silent --prefix "$NM" tokenizers @huggingface/tokenizers >/dev/null 2>&1
		[ -d "$NM/node_modules/tokenizers" ] &&
			run env NODE_PATH="$NM/node_modules" node tests/bench/tok_ref_speed.js "$DATA"
	else
		echo "skip: the JavaScript reference needs node and npm"
	fi
	run "$B/bench_spm" "$DATA"
	run "$B/bench_vocab" "$DATA"
else
	echo "skip: tokenizer benchmarks need $DATA"
fi

train_bench

# the full InkubaLM geometry with random weights (2.66 GB each format)
if [ ! -f "$TMP/inkubalm/config.json" ]; then
	echo "## generating a random full-size InkubaLM-geometry model in $TMP"
	"$B/genmodel" "$TMP/inkubalm-st" --preset inkubalm --format safetensors || exit 1
	"$B/genmodel" "$TMP/inkubalm-bin" --preset inkubalm --format bin || exit 1
	mkdir -p "$TMP/inkubalm"
	ln -f "$TMP/inkubalm-st/"* "$TMP/inkubalm/" 2>/dev/null
	ln -f "$TMP/inkubalm-bin/pytorch_model.bin" "$TMP/inkubalm/"
fi
for f in "$TMP/inkubalm-bin/pytorch_model.bin" "$TMP/inkubalm-st/model.safetensors"; do
	[ -f "$f" ] || continue
	t0=$(date +%s.%N); cat "$f" > /dev/null; t1=$(date +%s.%N)
	echo "## cat $f > /dev/null: $(echo "$t1 - $t0" | bc) s (the I/O reference)"
	run "$B/bench_load" "$f"
done
run env OPENBLAS_NUM_THREADS=$(nproc) "$B/bench_forward" "$TMP/inkubalm-st"
rm -rf "$TMP/out-50m"
run "$B/bench_apply" "$TMP/inkubalm-st" "$TMP/out-50m" --plan published-50m \
	${DATA:+--corpus "$DATA/corpus/swh_nt.txt"}
rm -rf "$TMP/out-50m"
