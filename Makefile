# tern build. Every .c under src/ is built; each program's main() sits in its
# own file (MAINS), the rest go into build/libtern.a, which the unit tests
# link against too. `make CFLAGS=...` replaces only the optimisation flags.
CC      ?= cc
CFLAGS  ?= -O2 -g
PKGS    := libxml-2.0 libcurl libarchive ext2fs
override CFLAGS += -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Isrc -MMD -MP -pthread \
                   $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDFLAGS += -Wl,--as-needed
LDLIBS  += -lfdt -lslirp -lvdeplug -ljansson -lxxhash -lm -pthread -lcrypto -lssl -lzstd \
           $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lcivetweb -lcom_err

BUILD   := build
SRCS    := $(shell find src -name '*.c' | sort)
# The programs: build/tern (the VMM and per-VM commands), build/tern-tools
# (every command; tern runs the management ones through it: src/cli/main.c)
# and build/ternd (the host agent).
MAINS   := src/cli/main.c $(wildcard src/agent/ternd.c)
PROGS   := $(BUILD)/tern $(BUILD)/tern-tools $(if $(wildcard src/agent/ternd.c),$(BUILD)/ternd)
LIBSRCS := $(filter-out $(MAINS),$(SRCS))
OBJS    := $(patsubst %.c,$(BUILD)/%.o,$(LIBSRCS))
TESTSRC := $(wildcard tests/unit/test_*.c)
TESTS   := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(TESTSRC))

.PHONY: all web install deps guest demo check unit isa integration bench bench-migrate bench-jit fuzz fuzz-smoke clean
all: $(PROGS) web

# The dashboard: web/src/ plus npm vendor files (web/package-lock.json) in
# build/web/, which ternd serves.
WEB_SRCS := $(shell find web/src -type f 2>/dev/null)
web: $(BUILD)/web/.built
$(BUILD)/web/.built: web/package-lock.json $(WEB_SRCS) scripts/build-web.sh
	@scripts/build-web.sh $(BUILD)/web

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libtern.a: $(OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/src/cli/main-vmm.o: src/cli/main.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DTERN_VMM_ONLY -c $< -o $@

$(BUILD)/tern: $(BUILD)/src/cli/main-vmm.o $(BUILD)/libtern.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tern-tools: $(BUILD)/src/cli/main.o $(BUILD)/libtern.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/ternd: $(BUILD)/src/agent/ternd.o $(BUILD)/libtern.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libtern.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libtern.a $(LDLIBS) -lcmocka

# libFuzzer harnesses (tests/fuzz/fuzz_*.c), built with clang and ASan/UBSan
# against an instrumented copy of the library in build/fuzz/.
FUZZ_CC      ?= clang
FUZZ_CFLAGS  := -g -O1 -std=gnu11 -Isrc -pthread -fsanitize=address,undefined \
                -fno-sanitize-recover=undefined -Wno-unknown-attributes \
                $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 5
FUZZ_OBJS    := $(patsubst %.c,$(BUILD)/fuzz/%.o,$(LIBSRCS))
FUZZERS      := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))

$(BUILD)/fuzz/src/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(BUILD)/fuzz/libtern.a: $(FUZZ_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(BUILD)/fuzz/libtern.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $(filter %.c %.a,$^) $(LDLIBS)
$(FUZZERS): $(wildcard tests/fuzz/*.h)

# Each harness for FUZZ_SECONDS (default 60); `make check` runs a short smoke.
fuzz: deps all $(FUZZERS)
	@tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZERS)

fuzz-smoke: all $(FUZZERS)
	@tests/fuzz/run.sh $(FUZZ_SMOKE_SECONDS) $(FUZZERS)

# Debian packages needed to build, test and run (idempotent).
deps:
	@scripts/deps.sh

# The reference guest: Debian trixie riscv64 kernel + busybox initramfs.
guest:
	@guest/build-kit.sh

# First README command: boot the reference guest to a shell.
demo: deps
	@$(MAKE) --no-print-directory all
	@guest/build-kit.sh
	$(BUILD)/tern run --kernel $(BUILD)/guest/Image --initrd $(BUILD)/guest/initramfs.cpio.gz

# Run every unit test binary, then fail if any failed.
unit: $(TESTS)
	@failed=""; for t in $(TESTS); do echo "== $$t"; $$t || failed="$$failed $$t"; done; \
	if [ -n "$$failed" ]; then echo "unit tests failed:$$failed"; exit 1; fi

# Twice: with the block compiler (the default) and with the interpreter alone.
isa: all
	@tests/isa/run.sh
	@echo "== ISA tests again, interpreter only (TERN_JIT=off)"
	@TERN_JIT=off tests/isa/run.sh
	@echo "== bit-manipulation tests, JIT without BMI1/LZCNT/POPCNT/PCLMULQDQ (TERN_JIT_BASELINE=1)"
	@TERN_JIT_BASELINE=1 tests/isa/run.sh zba zbb zbc zbs

integration: all
	@guest/build-kit.sh
	@guest/build-rootfs.sh
	TERN_REQUIRE_ALL=1 /usr/bin/python3 -m pytest -v tests/integration

# Second README command: every test.
check: deps
	@$(MAKE) --no-print-directory all unit
	@$(MAKE) --no-print-directory fuzz-smoke
	@$(MAKE) --no-print-directory isa
	@$(MAKE) --no-print-directory integration

bench: deps all
	@guest/build-kit.sh
	@bench/run.sh
	@bench/disk.sh
	@bench/net.sh
	@bench/cluster.py
	@/usr/bin/python3 bench/hosts.py
	@/usr/bin/python3 bench/copy_storage.py
	@bench/smp.py

# The block compiler alone: host CPU time per iteration of three guest loops
# (bench/jit/), steady even on a loaded machine.
bench-jit: $(BUILD)/bench/jit_loops $(BUILD)/bench/jit_loops.bin
	@$(BUILD)/bench/jit_loops $(BUILD)/bench/jit_loops.bin

$(BUILD)/bench/jit_loops: bench/jit/jit_loops.c $(BUILD)/libtern.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(BUILD)/libtern.a $(LDLIBS) -lcmocka

$(BUILD)/bench/jit_loops.bin: bench/jit/loops.S
	@mkdir -p $(dir $@)
	riscv64-linux-gnu-as -march=rv64gc -mno-relax -o $(BUILD)/bench/jit_loops.o $<
	riscv64-linux-gnu-objcopy -O binary $(BUILD)/bench/jit_loops.o $@

# Live migration against QEMU (about 5 minutes; kept out of `make bench`,
# which must stay under 10 minutes).
bench-migrate: deps all
	@guest/build-kit.sh
	@bench/migrate.py
	@RUNS=3 bench/snapshot_bench.py --qemu --docs
	@bench/density.py --docs

# Installs as a Debian user expects: PREFIX (default /usr/local) and DESTDIR
# for packaging. The DTD and the dashboard go to PREFIX/share/tern, where
# tern and ternd look beside their binary (../share/tern).
PREFIX  ?= /usr/local
DESTDIR ?=
BINDIR  := $(PREFIX)/bin
DATADIR := $(PREFIX)/share/tern
DOCDIR  := $(PREFIX)/share/doc/tern
UNITDIR ?= $(PREFIX)/lib/systemd/system
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR) $(DESTDIR)$(DOCDIR) $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions
	install -m 0755 $(PROGS) $(DESTDIR)$(BINDIR)/
	$(if $(wildcard share/*),install -m 0644 $(wildcard share/*) $(DESTDIR)$(DATADIR)/)
	rm -rf $(DESTDIR)$(DATADIR)/web && cp -R $(BUILD)/web $(DESTDIR)$(DATADIR)/web && \
		rm -f $(DESTDIR)$(DATADIR)/web/.built
	install -m 0644 docs/*.md README.md $(DESTDIR)$(DOCDIR)/
	sed -e 's|@BINDIR@|$(BINDIR)|g; s|@DATADIR@|$(DATADIR)|g; s|@DOCDIR@|$(DOCDIR)|g' \
		contrib/ternd.service > $(DESTDIR)$(UNITDIR)/ternd.service
	install -m 0644 contrib/tern.bash-completion $(DESTDIR)$(PREFIX)/share/bash-completion/completions/tern

# The reference systemd root filesystem: Debian trixie riscv64 (mmdebstrap),
# build/rootfs/trixie.{img,tar.zst}; cached in ~/.cache/tern/rootfs/.
.PHONY: rootfs
rootfs: all
	@guest/build-kit.sh
	@guest/build-rootfs.sh

clean:
	rm -rf $(BUILD)/src $(BUILD)/tests $(BUILD)/tern $(BUILD)/ternd $(BUILD)/libtern.a $(BUILD)/fuzz/src $(BUILD)/fuzz/libtern.a $(FUZZERS)

-include $(OBJS:.o=.d) $(patsubst %.c,$(BUILD)/%.d,$(MAINS)) $(BUILD)/src/cli/main-vmm.d $(FUZZ_OBJS:.o=.d)

# Balloon, free-page skipping, KSM and clone density against QEMU (about
# 15 minutes; kept out of `make bench`). Needs root for the KSM case.
.PHONY: bench-memory
bench-memory: deps all
	@guest/build-kit.sh
	@bench/memory.py
