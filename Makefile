# infrakit - hand-written GNU Makefile.  `./configure` (autoconf) may write
# config.mk with PREFIX and feature settings; plain `make` works without it.
-include config.mk

VERSION   := $(shell cat VERSION)
PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin
DATADIR   ?= $(PREFIX)/share
MANDIR    ?= $(DATADIR)/man
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
ZSHCOMPDIR  ?= $(DATADIR)/zsh/vendor-completions
DESTDIR   ?=

CC        ?= cc
PKG_CONFIG ?= pkg-config
PKGS      := libcurl json-c libarchive ncurses yaml-0.1
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS))
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS))

WARN      := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-nonliteral
OPT       ?= -O2 -g
BUILD     ?= build
ifeq ($(SANITIZE),1)
# gcc's "undefined" leaves out float-cast-overflow (a double out of an integer's range
# converted to it); name it.  Any finding stops the program: no recovering.
SANFLAGS  := -fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=all
OPT       := -O1 -g -fno-omit-frame-pointer $(SANFLAGS)
LDSAN     := $(SANFLAGS)
BUILD     := build-asan
endif
CPPFLAGS  += -D_GNU_SOURCE -DINFRA_VERSION='"$(VERSION)"' -DINFRA_DATADIR='"$(DATADIR)/infrakit"' -Ilib
CFLAGS    += -std=c11 $(WARN) $(OPT) $(PKG_CFLAGS)
LDLIBS    += $(PKG_LIBS) -lm -lpthread
LDFLAGS   += $(LDSAN)

LIB_SRC   := $(wildcard lib/*.c)
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB_A     := $(BUILD)/libinfra.a
TOOLS     := $(notdir $(basename $(wildcard bin/*.c)))
TOOL_BIN  := $(TOOLS:%=$(BUILD)/bin/%)
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TTOOL_SRC := $(wildcard tests/tools/*.c)
TTOOL_BIN := $(TTOOL_SRC:tests/tools/%.c=$(BUILD)/tests/tools/%)
HDRS      := $(wildcard lib/*.h)

.PHONY: all check check-asan bench fuzz demo install uninstall clean completions unit-bins

all: $(LIB_A) $(TOOL_BIN) completions

$(BUILD)/lib/%.o: lib/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# The compiled-in data directory follows DATADIR: `make install PREFIX=/usr` after a
# plain `make` rebuilds what depends on it (the binaries also look next to themselves
# at run time first; lib/infra_datadir.h).
DATADIR_STAMP := $(BUILD)/datadir.stamp
$(shell mkdir -p $(BUILD); [ "$$(cat $(DATADIR_STAMP) 2>/dev/null)" = "$(DATADIR)" ] || echo "$(DATADIR)" >$(DATADIR_STAMP))
$(BUILD)/lib/infra_datadir.o: $(DATADIR_STAMP)

$(LIB_A): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/bin/%: bin/%.c $(LIB_A) $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_A) $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(LIB_A) $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(LIB_A) $(LDLIBS)

$(BUILD)/tests/tools/%: tests/tools/%.c $(LIB_A) $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_A) $(LDLIBS)

unit-bins: $(UNIT_BIN) $(TTOOL_BIN)

# Completions are generated from each tool's option table (hidden --list-options).
completions: $(TOOL_BIN)
	@for t in $(TOOLS); do \
	  scripts/gen-completions $(BUILD)/bin/$$t completions || exit 1; \
	done

# make check: all three tiers.  INFRA_SKIP_REAL=1 skips the real tier (reported as skipped, never passed).
check: all unit-bins
	@BUILD=$(BUILD) tests/run-all.sh

check-asan:
	$(MAKE) SANITIZE=1 all unit-bins
	@BUILD=build-asan INFRA_TIERS="unit tool" ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 tests/run-all.sh

check-valgrind: all unit-bins
	@BUILD=$(BUILD) INFRA_TIERS="unit tool" INFRA_VALGRIND=1 tests/run-all.sh

bench: all $(BUILD)/tests/tools/scrape-load
	@BUILD=$(BUILD) scripts/bench

FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build-fuzz/%)
FUZZ_SECONDS ?= 60
build-fuzz/%: tests/fuzz/%.c $(LIB_SRC) $(HDRS)
	@mkdir -p build-fuzz
	clang $(CPPFLAGS) -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined $(PKG_CFLAGS) -o $@ $< $(LIB_SRC) $(LDLIBS)
fuzz: $(FUZZ_BIN)
	@for f in $(FUZZ_BIN); do \
	  n=$$(basename $$f); mkdir -p build-fuzz/corpus-$$n; \
	  cp -n tests/fuzz/seeds/$$n/* build-fuzz/corpus-$$n/ 2>/dev/null; \
	  echo "fuzz: $$n for $(FUZZ_SECONDS)s"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -max_len=65536 build-fuzz/corpus-$$n || exit 1; \
	done

demo: all
	@scripts/demo

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man7 \
	  $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(DATADIR)/infrakit
	@for t in $(TOOLS); do \
	  install -m 0755 $(BUILD)/bin/$$t $(DESTDIR)$(BINDIR)/$$t && \
	  install -m 0644 man/$$t.1 $(DESTDIR)$(MANDIR)/man1/$$t.1 && \
	  install -m 0644 completions/bash/$$t $(DESTDIR)$(BASHCOMPDIR)/$$t && \
	  install -m 0644 completions/zsh/_$$t $(DESTDIR)$(ZSHCOMPDIR)/_$$t || exit 1; \
	done
	install -m 0644 man/infrakit.7 $(DESTDIR)$(MANDIR)/man7/infrakit.7
	@if [ -d share ]; then cp -R share/. $(DESTDIR)$(DATADIR)/infrakit/; fi
	install -d $(DESTDIR)$(DATADIR)/infrakit/examples
	@for f in scripts/*.cron scripts/*.service scripts/*.timer share/serving/systemd/* share/serving/cron/*; do \
	  [ -f $$f ] || continue; \
	  sed 's|@BINDIR@|$(BINDIR)|g' $$f >$(DESTDIR)$(DATADIR)/infrakit/examples/$$(basename $$f) && \
	  chmod 0644 $(DESTDIR)$(DATADIR)/infrakit/examples/$$(basename $$f) || exit 1; \
	done
	sed -i 's|@BINDIR@|$(BINDIR)|g' $(DESTDIR)$(DATADIR)/infrakit/serving/systemd/* $(DESTDIR)$(DATADIR)/infrakit/serving/cron/*
	install -d $(DESTDIR)$(DATADIR)/doc/infrakit && install -m 0644 docs/*.md $(DESTDIR)$(DATADIR)/doc/infrakit/
	install -m 0755 scripts/make-certs $(DESTDIR)$(DATADIR)/infrakit/serving/make-certs

uninstall:
	@for t in $(TOOLS); do \
	  rm -f $(DESTDIR)$(BINDIR)/$$t $(DESTDIR)$(MANDIR)/man1/$$t.1 \
	    $(DESTDIR)$(BASHCOMPDIR)/$$t $(DESTDIR)$(ZSHCOMPDIR)/_$$t; \
	done
	rm -f $(DESTDIR)$(MANDIR)/man7/infrakit.7
	rm -rf $(DESTDIR)$(DATADIR)/infrakit

clean:
	rm -rf build build-asan build-fuzz
