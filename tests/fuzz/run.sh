#!/bin/sh
# Builds and runs libFuzzer targets: sh tests/fuzz/run.sh SECONDS fuzz_x.c...
#
# The library sources (core/ tokenizer/ prune/) are compiled once with clang
# and -fsanitize=fuzzer-no-link,address,undefined (not the gcc-built
# libpunguza.a); a source that does not compile is skipped with a warning
# (only targets that need it then fail to link), the rest go into one
# archive. Each target is linked with
# -fsanitize=fuzzer,address,undefined, its corpus is seeded from the
# committed test data and the saved regression inputs of
# tests/fuzz/corpus/<name without fuzz_>/ (copy every crash you fix there:
# make check runs them all through the targets, tests/test_fuzz_corpus.c),
# tests/fuzz/<name>.dict is used when present, and it runs for SECONDS.
# Prints one line per target:
#   NAME: N executions, K crashes (SECONDSs, log FILE)
# Work files go to $FUZZ_OUT (default build/fuzz). Exits 1 on any crash or
# build failure.
set -u
secs=${1:?usage: run.sh SECONDS fuzz_x.c...}
shift
out=${FUZZ_OUT:-build/fuzz}
CLANG=${CLANG:-clang}
if ! command -v "$CLANG" >/dev/null 2>&1; then
	echo "run.sh: clang is needed for libFuzzer (apt-get install clang)" >&2
	exit 1
fi
PKGS="libcjson openblas libutf8proc"
PKG_CFLAGS=$(pkg-config --cflags $PKGS 2>/dev/null)
PKG_LIBS=$(pkg-config --libs $PKGS 2>/dev/null || echo "-lcjson -lopenblas -lutf8proc")
CFLAGS="-std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -D_FILE_OFFSET_BITS=64
	-g -O1 -fno-sanitize-recover=all -Icore -Itokenizer -Iprune $PKG_CFLAGS"
obj="$out/obj"
mkdir -p "$obj"
rm -f "$obj"/*.o
echo "run.sh: compiling the library with $CLANG" >&2
for src in core/*.c tokenizer/*.c prune/*.c; do
	[ -f "$src" ] || continue
	o="$obj/$(echo "$src" | tr '/' '_' | sed 's/\.c$/.o/')"
	$CLANG $CFLAGS -fsanitize=fuzzer-no-link,address,undefined \
		-c -o "$o" "$src" 2>"$o.err" ||
		{ echo "run.sh: skipping $src (does not compile)" >&2; rm -f "$o"; }
done
# An archive: each target pulls in only the objects it needs.
lib="$out/libfuzz.a"
rm -f "$lib"
ar rcs "$lib" "$obj"/*.o
status=0
for src in "$@"; do
	name=$(basename "$src" .c)
	short=${name#fuzz_}
	bin="$out/$name"
	if ! $CLANG $CFLAGS -fsanitize=fuzzer,address,undefined -o "$bin" \
		"$src" "$lib" $PKG_LIBS -lm -lpthread; then
		echo "$name: build failed" >&2
		status=1
		continue
	fi
	corpus="$out/corpus-$name"
	mkdir -p "$corpus"
	dict=tests/fuzz/$short.dict
	case "$short" in
	safetensors) seeds=$(find tests/data/io -name '*.safetensors') ;;
	unpickle) seeds=$(find tests/data/io -name '*.pkl'); dict=tests/fuzz/pickle.dict ;;
	torchzip) seeds=$(find tests/data/io -name '*.bin'); dict=tests/fuzz/pickle.dict ;;
	spm) seeds=$(find tests/data/spm -name '*.model' 2>/dev/null) ;;
	config) seeds=$(find tests/data/models -name config.json) ;;
	*) seeds= ;;
	esac
	[ -d "tests/fuzz/corpus/$short" ] &&
		seeds="$seeds $(find "tests/fuzz/corpus/$short" -type f)"
	for s in $seeds; do
		cp "$s" "$corpus/seed-$(echo "$s" | tr '/' '_')"
	done
	dictopt=
	[ -f "$dict" ] && dictopt="-dict=$dict"
	rm -f "$out/$name-"crash-* "$out/$name-"leak-* "$out/$name-"timeout-* \
		"$out/$name-"oom-* "$out/$name-"slow-unit-*
	log="$out/$name.log"
	"$bin" -max_total_time="$secs" -max_len=65536 -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 $dictopt \
		-artifact_prefix="$out/$name-" "$corpus" >"$log" 2>&1
	rc=$?
	execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log" | tail -n 1)
	[ -n "$execs" ] || execs=$(sed -nE 's/^#([0-9]+).*/\1/p' "$log" | tail -n 1)
	crashes=$(ls "$out/$name-"crash-* "$out/$name-"leak-* \
		"$out/$name-"timeout-* "$out/$name-"oom-* 2>/dev/null | wc -l)
	echo "$name: ${execs:-0} executions, $crashes crashes (${secs}s, log $log)"
	if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
		tail -n 30 "$log" >&2
		status=1
	fi
done
exit $status
