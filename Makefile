# Thin wrapper over CMake. `make demo` and `make test` work on a fresh Debian 12 machine as root.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 30
FUZZ_RUNS    ?= 60000
FUZZ_TARGETS = fuzz_csv fuzz_image fuzz_checkpoint fuzz_config fuzz_tokenizer fuzz_wordvec fuzz_video fuzz_serve_request
JOBS       ?= $(shell nproc)
CMAKE      ?= cmake

.PHONY: all deps test-deps build asan fuzz-build fuzz test test-fast test-asan test-fuzz demo bench clean

all: build

deps:
	@scripts/install-deps.sh

# what the test run needs beyond the build: Debian's python3 with torch and numpy (tests/test_python*.sh)
test-deps:
	@scripts/install-deps.sh --reference

$(BUILD)/CMakeCache.txt:
	@$(CMAKE) -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null

build: deps $(BUILD)/CMakeCache.txt
	@$(CMAKE) --build $(BUILD) -j $(JOBS)

$(ASAN_BUILD)/CMakeCache.txt:
	@$(CMAKE) -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLOOM_SANITIZE=ON >/dev/null

asan: deps $(ASAN_BUILD)/CMakeCache.txt
	@$(CMAKE) --build $(ASAN_BUILD) -j $(JOBS)

# libFuzzer harnesses (fuzz/fuzz_*.c): clang, ASan + UBSan, everything instrumented for coverage.
$(FUZZ_BUILD)/CMakeCache.txt:
	@scripts/install-deps.sh --fuzz
	@CC=clang CXX=clang++ $(CMAKE) -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLOOM_FUZZ=ON -DLOOM_BUILD_TESTS=OFF >/dev/null

fuzz-build: deps $(FUZZ_BUILD)/CMakeCache.txt
	@$(CMAKE) --build $(FUZZ_BUILD) -j $(JOBS) --target $(FUZZ_TARGETS)

# Each harness for FUZZ_SECONDS from its seed corpus (tests/fuzz/<target>/corpus); stops at a crash.
fuzz: fuzz-build
	@scripts/fuzz.sh $(FUZZ_BUILD)/bin $(FUZZ_SECONDS) $(FUZZ_BUILD)/fuzz-work

# The whole suite twice: an optimised build, then the same tests under ASan + UBSan; then a short,
# bounded fuzzing campaign of every harness (FUZZ_RUNS inputs from seed 1, fresh corpus: ~40 s in all);
# `make fuzz FUZZ_SECONDS=N` is the open-ended, time-based search.
test: test-fast test-asan test-fuzz

test-fuzz: fuzz-build
	@rm -rf $(FUZZ_BUILD)/fuzz-test
	@FUZZ_RUNS=$(FUZZ_RUNS) FUZZ_SEED=1 scripts/fuzz.sh $(FUZZ_BUILD)/bin 0 $(FUZZ_BUILD)/fuzz-test

test-fast: build test-deps
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-asan: asan test-deps
	@cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		LOOM_SANITIZED=1 ctest --output-on-failure -j $(JOBS)

demo: build
	@scripts/demo.sh $(BUILD)/bin

bench: build
	@scripts/bench.sh $(BUILD)/bin

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
