#!/bin/sh
# make bench: runs every benchmark side by side with its reference in the
# same run and prints ratios. Not part of make check (timings vary).
# Usage: sh tests/bench/run.sh BUILD_DIR
set -u
O=${1:-build}
B=$O/bench
DATA=../shared/data
TMP=${PUNGUZA_BENCH_DIR:-/tmp/punguza-bench}
echo "# punguza benchmarks ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores)"
run() { echo "## $*"; "$@" || echo "(failed: $?)"; }
[ -x "$B/bench_plan" ] && run "$B/bench_plan"
if [ -d "$DATA" ]; then
	[ -x "$B/bench_tok" ] && run "$B/bench_tok" "$DATA"
	[ -x "$B/bench_spm" ] && run "$B/bench_spm" "$DATA"
else
	echo "skip: tokenizer benchmarks need $DATA"
fi
if [ -x "$B/genmodel" ]; then
	if [ ! -f "$TMP/inkubalm/config.json" ]; then
		echo "## generating a random full-size InkubaLM-geometry model in $TMP/inkubalm"
		"$B/genmodel" "$TMP/inkubalm" --preset inkubalm --format both || exit 1
	fi
	[ -x "$B/bench_load" ] && run "$B/bench_load" "$TMP/inkubalm"
	[ -x "$B/bench_forward" ] && run "$B/bench_forward" "$TMP/inkubalm"
fi
