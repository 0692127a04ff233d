#!/bin/sh
# The layers, checked from the sources (README, "Layout"):
#
#   core/  <-  tokenizer/  <-  prune/  <-  tui/workbench*  <-  tui/
#
# Every project include ("x.h") must name a header of the same layer or a
# lower one; the workbench (the explorer's headless model) must not include
# ncurses; no two folders may hold a header of the same name (the build puts
# core/, tokenizer/ and prune/ on one include path); and no module (x.c with
# x.h) may reach itself through the headers its files include: the include
# graph between modules has no circle.
#
# Run from the project root: sh tests/test_layers.sh.  Prints one "ok"/"FAIL"
# line per rule and the summary line tests/run.sh counts.
set -u
cd "$(dirname "$0")/.." || exit 1

files=$(ls core/*.[ch] tokenizer/*.[ch] prune/*.[ch] tui/*.[ch] 2>/dev/null)
[ -n "$files" ] || { echo "test_layers: no sources found" >&2; exit 1; }

# One line per project include: "<file> <included header>".
edges=$(for f in $files; do
	sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f" |
		while read -r h; do echo "$f $h"; done
done)

passed=0
failed=0
report() { # report RULE PROBLEMS
	if [ -z "$2" ]; then
		echo "ok: $1"
		passed=$((passed + 1))
	else
		echo "FAIL: $1:" >&2
		echo "$2" | sed 's/^/  /' >&2
		failed=$((failed + 1))
	fi
}

# Each header's folder, and clashes between folders.
headers=$(for f in $files; do case $f in *.h) echo "$f" ;; esac; done)
clash=$(echo "$headers" | awk -F/ '{n[$NF]++; w[$NF]=w[$NF] " " $0}
	END {for (h in n) if (n[h] > 1) print h ":" w[h]}')
report "no header name in two folders" "$clash"

layer_of() { # the rank of a file's layer
	case $1 in
	core/*) echo 0 ;;
	tokenizer/*) echo 1 ;;
	prune/*) echo 2 ;;
	tui/workbench*) echo 3 ;;
	tui/*) echo 4 ;;
	*) echo 9 ;;
	esac
}

up=$(echo "$edges" | while read -r f h; do
	[ -n "$f" ] || continue
	dir=${f%/*}
	# A quoted include resolves next to the file first, then on -I.
	if [ -f "$dir/$h" ]; then target="$dir/$h"
	else target=$(echo "$headers" | grep -m1 "/$h\$")
	fi
	if [ -z "$target" ]; then echo "$f includes \"$h\", which is no project header"; continue; fi
	[ "$(layer_of "$target")" -le "$(layer_of "$f")" ] ||
		echo "$f includes $target, a layer above it"
done)
report "every include points down the layers" "$up"

curses=$(grep -l -E '#[[:space:]]*include[[:space:]]*<n?curses' tui/workbench* 2>/dev/null)
report "the workbench has no ncurses in it" "$curses"

# Module graph: a module is a file's name without .c/.h; an edge m -> n when
# a file of m includes n.h.  A circle shows as a module that reaches itself.
circle=$(echo "$edges" | awk '
	NF == 2 {
		m = $1; sub(/.*\//, "", m); sub(/\.[ch]$/, "", m)
		n = $2; sub(/.*\//, "", n); sub(/\.h$/, "", n)
		if (m != n && !((m, n) in seen)) { seen[m, n] = 1; out[m] = out[m] " " n; mods[m] = mods[n] = 1 }
	}
	function reach(from, at,    k, i, nx) {
		if (at in visited) return 0
		visited[at] = 1
		k = split(out[at], nx, " ")
		for (i = 1; i <= k; i++) {
			if (nx[i] == from) { path[from] = at; return 1 }
			if (reach(from, nx[i])) return 1
		}
		return 0
	}
	END {
		for (m in mods) {
			delete visited
			if (reach(m, m)) print m " reaches itself (through " path[m] ")"
		}
	}' | sort)
report "no include circle between modules" "$circle"

echo "test_layers: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
