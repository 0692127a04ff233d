# punguza — build, test, run.  See README.md.
#
#   make run      install missing Debian packages, build, open the explorer
#   make check    same set-up, then every test ("N passed, N failed")
#   make bench    benchmarks (not part of check)
#   make fuzz     libFuzzer targets (clang), a few minutes each
#   make fuzz-ci  the same, 30 s each; skipped with a message without clang
#   make check-torch  the PyTorch scale-out path (assets/torch/heal.py)
#                 against punguza heal; needs Debian's python3-torch
#
# Options: SANITIZE=address,undefined  DEVELOPER=1 (-Werror)  O=build-dir

CC      ?= cc
O       ?= build
PREFIX  ?= /usr/local
DESTDIR ?=

LIB_PKGS := libcjson openblas libutf8proc
TUI_PKGS := ncursesw
DEB_PKGS := libncurses-dev libcjson-dev libopenblas-dev libutf8proc-dev pkg-config tmux

WARN := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
        -Wmissing-prototypes -Wformat=2 -Wvla
OPT  ?= -O2 -g
CPPFLAGS_BASE := -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L \
        -D_FILE_OFFSET_BITS=64 -MMD -MP -Icore -Itokenizer -Iprune

ifneq ($(DEVELOPER),)
WARN += -Werror
endif
ifneq ($(SANITIZE),)
SAN := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
# gcc's "undefined" leaves out float -> integer overflow (clang's fuzzers
# found one): ask for it too.
ifneq ($(findstring undefined,$(SANITIZE)),)
SAN += -fsanitize=float-cast-overflow
endif
endif

# Evaluated lazily (=), so `make deps` can install pkg-config files first.
LIB_CFLAGS = $(shell pkg-config --cflags $(LIB_PKGS) 2>/dev/null)
LIB_LIBS   = $(shell pkg-config --libs $(LIB_PKGS) 2>/dev/null) -lm -lpthread
TUI_CFLAGS = $(shell pkg-config --cflags $(TUI_PKGS) 2>/dev/null)
TUI_LIBS   = $(shell pkg-config --libs $(TUI_PKGS) 2>/dev/null)

CFLAGS_ALL = $(CPPFLAGS_BASE) $(WARN) $(OPT) $(SAN) $(LIB_CFLAGS) $(CFLAGS)
LDFLAGS_ALL = $(SAN) $(LDFLAGS)

LIB_SRC  := $(wildcard core/*.c tokenizer/*.c prune/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(O)/%.o)
# The explorer's headless model (tui/workbench*.c): above prune/, below the
# screens, with no ncurses in it, so tests drive it as the screens do.
WB_SRC   := $(wildcard tui/workbench*.c)
WB_OBJ   := $(WB_SRC:%.c=$(O)/%.o)
TUI_SRC  := $(filter-out $(WB_SRC),$(wildcard tui/*.c))
TUI_OBJ  := $(TUI_SRC:%.c=$(O)/%.o)
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(O)/tests/%)
BENCH_SRC := $(wildcard tests/bench/*.c)
BENCH_BIN := $(BENCH_SRC:tests/bench/%.c=$(O)/bench/%)

LIB := $(O)/libpunguza.a
WB_LIB := $(O)/libworkbench.a
BIN := $(O)/punguza

.PHONY: all deps run check check-torch test bench fuzz fuzz-ci clean install uninstall tiny-model

all: $(BIN)

# Installs the Debian packages the build needs, only when something is missing.
deps:
	@if ! pkg-config --exists $(LIB_PKGS) $(TUI_PKGS) 2>/dev/null || \
	    ! command -v tmux >/dev/null 2>&1; then \
		echo "punguza: installing build dependencies: $(DEB_PKGS)" >&2; \
		SUDO=; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(DEB_PKGS); \
	fi

run: deps
	@$(MAKE) --no-print-directory all
	./$(BIN)

check: deps
	@$(MAKE) --no-print-directory test

test: $(BIN) $(TEST_BIN) $(O)/bench/genmodel
	@O=$(O) GENMODEL=$(O)/bench/genmodel sh tests/run.sh $(TEST_BIN) \
		tests/cli/test_cli.sh tests/test_heal_cli.sh \
		tests/torch/test_plan_torch.sh tests/tui/test_tui.sh \
		tests/tui/test_signals.sh tests/test_layers.sh

# Not part of check (check needs no Python): skipped with a message
# when /usr/bin/python3 cannot import torch.
check-torch: deps
	@$(MAKE) --no-print-directory $(BIN)
	@O=$(O) sh tests/torch/test_scaleout.sh

bench: deps
	@$(MAKE) --no-print-directory $(BIN) $(BENCH_BIN)
	@sh tests/bench/run.sh $(O)

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(WB_LIB): $(WB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(TUI_OBJ) $(WB_LIB) $(LIB)
	$(CC) $(LDFLAGS_ALL) -o $@ $(TUI_OBJ) $(WB_LIB) $(LIB) $(LIB_LIBS) $(TUI_LIBS)

# The workbench compiles without ncurses' flags: it must not need them.
$(WB_OBJ): $(O)/tui/%.o: tui/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c -o $@ $<

$(O)/tui/%.o: tui/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(TUI_CFLAGS) -c -o $@ $<

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c -o $@ $<

$(O)/tests/%: tests/%.c $(WB_LIB) $(LIB) tests/test.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itests -Itui -o $@ $< $(WB_LIB) $(LIB) $(LIB_LIBS) $(LDFLAGS_ALL)

$(O)/bench/%: tests/bench/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itests -o $@ $< $(LIB) $(LIB_LIBS) $(LDFLAGS_ALL)

# libFuzzer targets need clang; each runs FUZZ_SECONDS.
FUZZ_SECONDS ?= 120
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
fuzz: deps
	@sh tests/fuzz/run.sh "$(FUZZ_SECONDS)" $(FUZZ_SRC)

# CI's short run: every target for FUZZ_CI_SECONDS; without clang it says so
# and succeeds (the sanitizer run of `make check` still covers the readers).
FUZZ_CI_SECONDS ?= 30
fuzz-ci: deps
	@if command -v $${CLANG:-clang} >/dev/null 2>&1; then \
		sh tests/fuzz/run.sh "$(FUZZ_CI_SECONDS)" $(FUZZ_SRC); \
	else \
		echo "fuzz-ci: skipped: clang not found (apt-get install clang)" >&2; \
	fi

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/punguza
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/punguza
	install -m 644 man/punguza.1 $(DESTDIR)$(PREFIX)/share/man/man1/punguza.1
	cp -R assets/. $(DESTDIR)$(PREFIX)/share/punguza/

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/punguza $(DESTDIR)$(PREFIX)/share/man/man1/punguza.1
	rm -rf $(DESTDIR)$(PREFIX)/share/punguza

clean:
	rm -rf $(O)

-include $(LIB_OBJ:.o=.d) $(WB_OBJ:.o=.d) $(TUI_OBJ:.o=.d) $(TEST_BIN:=.d)

# The shipped model (assets/tiny-inkuba/README.md), end to end: data split,
# tokenizer (spm_train), training + bf16 export + golden logits
# (tests/data/tiny), PyTorch measurements.  Needs Debian's python3-torch and
# python3-sentencepiece; never part of `check`.  Replays the committed
# per-step schedule of the shipped run, so it rebuilds the same model; about
# two hours on one core.
TINY_WORK ?= $(O)/tiny-work
TINY_PY := OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 /usr/bin/python3
tiny-model:
	@mkdir -p $(TINY_WORK)
	$(TINY_PY) assets/tiny-inkuba/prepare_data.py ../shared/data/corpus \
		assets/tiny-inkuba $(TINY_WORK)
	sh assets/tiny-inkuba/make_tokenizer.sh $(TINY_WORK) \
		2>$(TINY_WORK)/spm_train.log
	$(TINY_PY) assets/tiny-inkuba/train.py --work $(TINY_WORK) \
		--out assets/tiny-inkuba --golden tests/data/tiny \
		--steps 1500 --eval-every 50 --dropout 0.1 --lr 2e-3 \
		--warmup 100 --threads 1 --replay assets/tiny-inkuba/schedule.tsv
	$(TINY_PY) assets/tiny-inkuba/evaluate.py assets/tiny-inkuba \
		assets/tiny-inkuba/eval_results.json
	@$(MAKE) --no-print-directory $(BIN)
	./$(BIN) vocab --spm-to-json assets/tiny-inkuba/tokenizer.model \
		-o assets/tiny-inkuba/tokenizer.json
