# heapbench - GNU Makefile
#
#   make              build build/heapbench (installs missing Debian packages as root)
#   make bench        build, then the default suite (configs/default.yaml) into
#                     results/default-DATE (results/latest)
#   make test         build, then every test on the normal and the ASan+UBSan build
#   make ci-bench     the regression gate: configs/ci.yaml vs results/baselines/ci.jsonl
#   make ci-baseline  accept the current utilization as the new baseline (docs/ci.md)
#   make debug        build/asan/heapbench: -O1, AddressSanitizer + UBSan
#   make SANITIZE=1   the same as `make debug` for any target
#   make bench-parse  text parse MB/s and .hbt load time on a ~20 MB trace
#   make bench-scale  a 100M-op trace: gen, convert, replay, plot; time and peak RSS
#                     of each step, memory vs its bound (OPS=10000000 for a quick try)
#   make bench-overhead  heapbench's timed pass vs a direct loop (glibc, jemalloc, mimalloc)
#   make bench-record    recording's cost: plain vs heapbench record vs heaptrack
#   make bench-backends  Mops/s of every backend, ratios to system, 2M/1M time
#   make bench-checked   the checked pass's time at --check fast vs a timed
#                        pass's (segregated, first-fit, buddy, system; 2M-5M ops)
#   make bench-threads   --threads recorded vs a minimal pthread replay; one wait's cost
#   make bench-footprint utilization of system/jemalloc/mimalloc/tcmalloc vs an
#                        independent RSS reference (tests/bench/rss_reference.c)
#   make fuzz         build/fuzz/fuzz_trace and fuzz_config: libFuzzer over every
#                     trace reader and over the config loader
#   make fuzz-smoke   each fuzz target for FUZZ_SECONDS (30) on its seed corpus
#   make format       clang-format every source file
#   make clean

SHELL := /bin/bash
.DEFAULT_GOAL := all

# ---- Debian packages --------------------------------------------------------
# Everything heapbench builds or tests with; checked before any build.
DEB_PACKAGES := gcc make pkg-config libyaml-dev libzstd-dev zlib1g-dev \
                libjansson-dev libcmocka-dev zstd gzip jq \
                libjemalloc-dev libmimalloc-dev libgoogle-perftools-dev gnuplot-nox libxml2-utils \
                libzip-dev protobuf-c-compiler libprotobuf-c-dev

# The 32-bit C library for the 32-bit worker (mm:PATH:bits=32), on amd64
ifeq ($(shell dpkg --print-architecture 2>/dev/null),amd64)
  DEB_PACKAGES += gcc-multilib
endif

# The recorders whose logs the importers are tested against, and gdb, whose
# reading of the debug information checks that the 32-bit worker shares the
# job page's layout (tests only: heapbench runs without them).
TEST_PACKAGES := valgrind ltrace heaptrack gdb

# ---- Build flavours ---------------------------------------------------------
SANITIZE ?= 0
ifeq ($(SANITIZE),1)
  B := build/asan
  OPT := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all \
         -DHB_DEBUG=1
  LDSAN := -fsanitize=address,undefined
else
  B := build
  OPT := -O2 -g
  LDSAN :=
endif

CC ?= cc
WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wformat=2 -Wno-format-nonliteral -Wvla -Werror
GIT_REV := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
CPPFLAGS += -D_GNU_SOURCE -Iharness -Iallocators -Ibuild/gen -DHB_GIT='"$(GIT_REV)"'
# `override`: flags given on the command line (CFLAGS=-O0) come last and win,
# without dropping the project's own
override CFLAGS := -std=c11 $(OPT) $(WARN) -MMD -MP $(CFLAGS)
LDLIBS := -lyaml -lzstd -lz -lzip -lprotobuf-c -ljansson -lm

# harness/recorder/record.c is the preload library, and harness/cli/worker32.c
# the 32-bit worker's main, each built on its own below
HARNESS_DIRS := cli base trace replay suite report recorder
HARNESS_SRC := $(filter-out harness/recorder/record.c harness/cli/worker32.c,$(foreach d,$(HARNESS_DIRS),$(wildcard harness/$(d)/*.c))) \
               $(wildcard allocators/*.c) $(wildcard allocators/host/*.c)
# protobuf schemas of formats heapbench reads (harness/trace/*.proto):
# protoc-c generates their C code into build/gen/, compiled like the rest
# but without the project's warnings (the code is not ours)
PROTO_SRC := $(wildcard harness/trace/*.proto)
PROTO_C := $(patsubst harness/trace/%.proto,build/gen/%.pb-c.c,$(PROTO_SRC))
PROTO_OBJ := $(patsubst build/gen/%.c,$(B)/gen/%.o,$(PROTO_C))
HARNESS_OBJ := $(patsubst %.c,$(B)/%.o,$(HARNESS_SRC)) $(PROTO_OBJ)
LIB_OBJ := $(filter-out $(B)/harness/cli/main.o,$(HARNESS_OBJ))
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRC))
TOOL_SRC := $(wildcard tests/bench/*.c)
TOOL_BIN := $(patsubst tests/bench/%.c,$(B)/tests/%,$(TOOL_SRC))
# The catalog of broken backends (tests/cli_containment.sh): one library:
# object per fault of tests/backends/broken.c
BROKEN_FAULTS := garbage fork closeout exitfini initcrash runaway loop lying
BROKEN_SO := $(patsubst %,$(B)/tests/libbroken_%.so,$(BROKEN_FAULTS))

.PHONY: all debug test test-unit bench ci-bench ci-baseline bench-parse bench-scale bench-overhead bench-backends bench-checked bench-record bench-footprint bench-threads deps fuzz fuzz-smoke format clean
.SECONDARY:
all: $(B)/heapbench $(B)/libheapbench-record.so worker32

debug:
	$(MAKE) SANITIZE=1 all

# ---- Packages ---------------------------------------------------------------
# As root, install what is missing (apt-get update once first); otherwise stop
# with the exact command to run.  The stamp makes later builds skip the check.
# $(call install_packages,LIST): the recipe
define install_packages
	@mkdir -p build
	@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${db:Status-Status}' $$p 2>/dev/null | grep -qx installed || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "heapbench: installing Debian packages:$$missing"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing || exit 1; \
	  else \
	    echo "heapbench: missing Debian packages. Run:"; \
	    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends$$missing"; \
	    exit 1; \
	  fi; \
	fi
	@touch $@
endef
build/.deps-ok: Makefile
	$(call install_packages,$(DEB_PACKAGES))
deps: build/.deps-ok

# ---- Compile and link -------------------------------------------------------
$(B)/%.o: %.c | build/.deps-ok $(PROTO_C)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

build/gen/%.pb-c.c build/gen/%.pb-c.h: harness/trace/%.proto | build/.deps-ok
	@mkdir -p build/gen
	protoc-c --proto_path=harness/trace --c_out=build/gen $<
$(B)/gen/%.o: build/gen/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -std=c11 $(OPT) -c $< -o $@

# the malloc-lab headers mm:PATH builds a student's file with are part of
# the binary (.incbin in harness/replay/mmbuild.c)
$(B)/harness/replay/mmbuild.o: $(wildcard allocators/malloclab/*.h)

# the heap functions a library:PATH allocator calls (allocators/library.c)
EXPORTS := -Wl,--dynamic-list=allocators/exports.list

$(B)/heapbench: $(HARNESS_OBJ) allocators/exports.list
	$(CC) $(LDSAN) $(LDFLAGS) $(EXPORTS) -o $@ $(HARNESS_OBJ) $(LDLIBS)

# (EXPORTS: a test that starts a library:PATH backend in a worker re-executes
# itself, so it exports the heap functions as heapbench does)
$(B)/tests/test_%: $(B)/tests/unit/test_%.o $(LIB_OBJ) allocators/exports.list
	@mkdir -p $(@D)
	$(CC) $(LDSAN) $(LDFLAGS) $(EXPORTS) -o $@ $(filter %.o,$^) -lcmocka $(LDLIBS)

$(B)/tests/%: $(B)/tests/bench/%.o $(LIB_OBJ)
	@mkdir -p $(@D)
	$(CC) $(LDSAN) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# ---- The 32-bit worker --------------------------------------------------------
# heapbench-worker32 runs a 32-bit student's mm.c (mm:PATH:bits=32): the
# worker's files (replay, the allocators, the .hbt reader) built -m32 into
# build/m32/, next to each flavour's heapbench.  It links only the C
# library, so it needs no 32-bit library packages beyond gcc-multilib; it
# is never sanitized (its backend is the student's code, loaded as is).
# -Wno-type-limits: the size guards (n > 1 << 40) are always false there.
W32_SRC := harness/cli/worker32.c harness/base/diag.c harness/base/util.c \
           harness/trace/hbt.c harness/trace/verify.c harness/trace/trace.c \
           $(filter-out harness/replay/job.c harness/replay/batch.c harness/replay/backend_spec.c \
                        harness/replay/lab.c harness/replay/jobcheck.c harness/replay/watch.c,$(wildcard harness/replay/*.c)) \
           $(wildcard allocators/*.c) $(wildcard allocators/host/*.c)
W32_OBJ := $(patsubst %.c,build/m32/%.o,$(W32_SRC))
HAVE_M32 := $(shell printf 'int main(void){return 0;}' | $(CC) -m32 -x c - -o /dev/null 2>/dev/null && echo 1)
.PHONY: worker32
ifeq ($(HAVE_M32),1)
worker32: $(B)/heapbench-worker32
else
worker32:
	@echo "heapbench: no 32-bit C library (gcc-multilib): heapbench-worker32 not built, mm:PATH:bits=32 unavailable"
endif
build/m32/%.o: %.c | build/.deps-ok
	@mkdir -p $(@D)
	$(CC) -m32 $(CPPFLAGS) -std=c11 -O2 -g $(WARN) -Wno-type-limits -MMD -MP -c $< -o $@
build/m32/harness/replay/mmbuild.o: $(wildcard allocators/malloclab/*.h)
$(B)/heapbench-worker32: $(W32_OBJ) allocators/exports.list
	@mkdir -p $(@D)
	$(CC) -m32 $(EXPORTS) -o $@ $(W32_OBJ) -lm -pthread
-include $(W32_OBJ:.o=.d)

# ---- Tests ------------------------------------------------------------------
# Both flavours are built, then tests/run.sh runs every unit and command-line
# test against each and prints one summary line: "N passed, N failed".
build/.test-deps-ok: Makefile
	$(call install_packages,$(TEST_PACKAGES))

test: build/.deps-ok build/.test-deps-ok
	$(MAKE) --no-print-directory SANITIZE=0 all test-unit
	$(MAKE) --no-print-directory SANITIZE=1 all test-unit
	tests/run.sh build build/asan

test-unit: $(UNIT_BIN) $(TOOL_BIN) $(B)/tests/libcount.so $(B)/examples/mm.so $(B)/tests/record_prog \
           $(B)/tests/xprog $(B)/tests/threads $(B)/tests/liborderlog.so $(B)/tests/libunsafe.so \
           $(BROKEN_SO)

# The recorder that `heapbench record` preloads, next to the binary; never
# sanitized (it runs inside the recorded program).
$(B)/libheapbench-record.so: harness/recorder/record.c harness/recorder/raw.h | build/.deps-ok
	@mkdir -p $(@D)
	$(CC) -std=c11 -O2 -g $(WARN) -D_GNU_SOURCE -fPIC -shared -fvisibility=hidden -pthread \
		-o $@ $< -ldl

# The program with known allocations that the recorder tests record: plain
# (no sanitizer, no optimisation, no builtins: every call stays a call).
$(B)/tests/record_prog: tests/record/prog.c | build/.deps-ok
	@mkdir -p $(@D)
	$(CC) -std=c11 -O0 -g -fno-builtin $(WARN) -pthread -o $@ $<

# The program the importers' cross-check records with every tool
# (tests/cli_import_crosscheck.sh): plain, as record_prog.
$(B)/tests/xprog: tests/record/xprog.c | build/.deps-ok
	@mkdir -p $(@D)
	$(CC) -std=c11 -O0 -g -fno-builtin $(WARN) -o $@ $<

# The 8-thread program the threaded replay tests record (tests/cli_threads.sh).
$(B)/tests/threads: tests/record/threads.c | build/.deps-ok
	@mkdir -p $(@D)
	$(CC) -std=c11 -O0 -g -fno-builtin $(WARN) -pthread -o $@ $<

# Shared objects for the backend tests, never sanitized (they are loaded
# into a process): a counting malloc for preload:PATH, and the example user
# allocator for library:PATH (README: "Bring your own allocator").
SO_FLAGS := -std=c11 -O2 -g $(WARN) -fPIC -shared
$(B)/tests/libcount.so: tests/preload/count.c | build/.deps-ok
	@mkdir -p $(@D)
	$(CC) $(SO_FLAGS) -o $@ $<
# The threaded replay's test backends: one that records the order of its
# calls (library:), one deliberately thread-unsafe malloc (preload:).
$(B)/tests/liborderlog.so: tests/backends/orderlog.c allocators/allocator.h allocators/heap.h | build/.deps-ok
	@mkdir -p $(@D)
	$(CC) $(SO_FLAGS) -Iallocators -o $@ $<
# The catalog of broken backends: one object per fault (BROKEN_FAULTS)
$(B)/tests/libbroken_%.so: tests/backends/broken.c allocators/allocator.h allocators/heap.h | build/.deps-ok
	@mkdir -p $(@D)
	$(CC) $(SO_FLAGS) -Iallocators -DFAULT='"$*"' -o $@ $<
$(B)/tests/libunsafe.so: tests/preload/unsafe.c | build/.deps-ok
	@mkdir -p $(@D)
	$(CC) $(SO_FLAGS) -o $@ $<

$(B)/examples/mm.so: allocators/examples/mm.c allocators/allocator.h allocators/heap.h | build/.deps-ok
	@mkdir -p $(@D)
	$(CC) $(SO_FLAGS) -Iallocators -o $@ $<

# ---- Benchmarks -------------------------------------------------------------
bench-parse: build/.deps-ok
	$(MAKE) --no-print-directory SANITIZE=0 all test-unit
	tests/bench/parse.sh build

bench-scale: build/.deps-ok
	$(MAKE) --no-print-directory SANITIZE=0 all
	tests/bench/scale.sh build

bench-backends: build/.deps-ok
	$(MAKE) --no-print-directory SANITIZE=0 all test-unit
	tests/bench/backends.sh build

bench-checked: build/.deps-ok
	$(MAKE) --no-print-directory SANITIZE=0 all
	tests/bench/checked.sh build

# The main command: the default suite on the bundled real traces, into a
# new run directory under results/ (results/latest points at it).
BENCH_OUT ?= results/default-$(shell date +%Y%m%d-%H%M%S)
bench: build/.deps-ok
	$(MAKE) --no-print-directory SANITIZE=0 all
	build/heapbench run configs/default.yaml -o $(BENCH_OUT)
	ln -sfn $(notdir $(BENCH_OUT)) results/latest

# The project's own regression gate (docs/ci.md): configs/ci.yaml against
# results/baselines/ci.jsonl; ci-baseline accepts the current figures.
CI_RUN := build/ci-run
ci-bench: build/.deps-ok
	$(MAKE) --no-print-directory SANITIZE=0 all
	rm -rf $(CI_RUN)
	build/heapbench run configs/ci.yaml -o $(CI_RUN) --no-plots

ci-baseline: build/.deps-ok
	$(MAKE) --no-print-directory SANITIZE=0 all
	rm -rf $(CI_RUN)-baseline
	build/heapbench run configs/ci.yaml -o $(CI_RUN)-baseline --no-plots --no-compare
	mkdir -p results/baselines
	jq -c 'del(.timeline)' $(CI_RUN)-baseline/results.jsonl > results/baselines/ci.jsonl
	@echo "results/baselines/ci.jsonl: $$(wc -l < results/baselines/ci.jsonl) jobs; review and commit it"

# what bench-record runs besides heapbench: the workloads and heaptrack
BENCH_PACKAGES := sqlite3 perl heaptrack
build/.bench-deps-ok: Makefile
	$(call install_packages,$(BENCH_PACKAGES))

bench-record: build/.deps-ok build/.bench-deps-ok
	$(MAKE) --no-print-directory SANITIZE=0 all
	tests/bench/record.sh build

bench-threads: build/.deps-ok
	$(MAKE) --no-print-directory SANITIZE=0 all test-unit
	tests/bench/threads.sh build

bench-overhead: build/.deps-ok
	$(MAKE) --no-print-directory SANITIZE=0 all test-unit
	tests/bench/overhead.sh build

# heapbench's utilization of the process-wide backends against an independent
# reference: a plain libc program (never linked with the harness) that replays
# the trace, touches every page and reads the RSS after every op (issue 14)
bench-footprint: build/.deps-ok
	$(MAKE) --no-print-directory SANITIZE=0 all $(B)/tests/rss_reference
	tests/bench/footprint.sh build

$(B)/tests/rss_reference: tests/bench/rss_reference.c | build/.deps-ok
	@mkdir -p $(@D)
	$(CC) -std=c11 -O2 -g $(WARN) -D_GNU_SOURCE -o $@ $<

# ---- Fuzzing (clang + libFuzzer) ----------------------------------------------
# One target per input a user hands heapbench (tests/fuzz/fuzz_*.c): every
# trace reader, the suite config loader.  fuzz-smoke runs each for
# FUZZ_SECONDS on its committed seed corpus (CI does, after the tests): a
# crash, a sanitizer report or a leak fails it.
FUZZ_PACKAGES := clang libclang-rt-14-dev
FUZZ_CFLAGS := -std=c11 -O1 -g -fsanitize=fuzzer,address,undefined $(WARN)
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SECONDS ?= 30
fuzz: $(FUZZ_TARGETS)
build/.fuzz-deps-ok: Makefile
	$(call install_packages,$(FUZZ_PACKAGES))
build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(HARNESS_SRC) $(PROTO_C) $(wildcard harness/*/*.h allocators/*.h allocators/host/*.h) | build/.deps-ok build/.fuzz-deps-ok
	@mkdir -p $(@D)
	clang $(CPPFLAGS) $(FUZZ_CFLAGS) -o $@ $< \
		$(filter-out harness/cli/main.c,$(HARNESS_SRC)) $(PROTO_C) $(LDLIBS)
# the seeds: the test data's traces; the bundled configs and tests/fuzz/corpus/config
fuzz-smoke: $(FUZZ_TARGETS)
	@rm -rf build/fuzz/work && mkdir -p build/fuzz/work/trace build/fuzz/work/config
	set -o pipefail; build/fuzz/fuzz_trace -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=4096 -artifact_prefix=build/fuzz/work/ \
		-print_final_stats=1 build/fuzz/work/trace tests/data traces/examples 2>&1 | tail -n 12
	set -o pipefail; build/fuzz/fuzz_config -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=4096 -artifact_prefix=build/fuzz/work/ \
		-print_final_stats=1 build/fuzz/work/config configs tests/fuzz/corpus/config 2>&1 | tail -n 12

format:
	clang-format -i harness/*/*.[ch] allocators/*.[ch] allocators/host/*.[ch] \
		allocators/examples/*.c tests/unit/*.[ch] tests/bench/*.c tests/fuzz/*.c \
		tests/preload/*.c tests/record/*.c tests/backends/*.c

clean:
	rm -rf build

-include $(HARNESS_OBJ:.o=.d) $(wildcard $(B)/tests/*/*.d)
