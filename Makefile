# Makefile -- a thin wrapper around CMake.  The two commands a newcomer needs:
#
#   make run    install missing packages (as root), build, run the Basis demo
#   make test   install missing packages (as root), build, run every test
#
# Other targets: deps, build, asan, fuzz, bench, clean (see README.md).
# Variables: BT_VECTORS_DIR=DIR (reference vectors, default ../shared/vectors),
# FUZZ_SECONDS (per fuzz target, default 60), JOBS (default 2).

DEB_PACKAGES := build-essential cmake pkg-config libsodium-dev libjansson-dev \
                libcmocka-dev zlib1g-dev librocksdb-dev libinih-dev clang libclang-rt-14-dev
JOBS ?= 2
FUZZ_SECONDS ?= 60
CMAKE_ARGS := $(if $(BT_VECTORS_DIR),-DBT_VECTORS_DIR=$(abspath $(BT_VECTORS_DIR)))

# Targets are steps in order (deps before build before test); the parallelism
# is inside cmake --build and ctest.
.NOTPARALLEL:
.PHONY: all deps build test run asan tsan fuzz bench clean

all: build

# Installs only what is missing, so it costs one dpkg query per package when
# everything is present.  Without root it only says what is missing.
deps:
	@if ! command -v dpkg >/dev/null 2>&1; then \
	    echo "deps: not a Debian system; needed: $(DEB_PACKAGES) (or equivalents)"; exit 0; \
	fi; \
	missing=""; \
	for p in $(DEB_PACKAGES); do \
	    dpkg -s "$$p" 2>/dev/null | grep -q '^Status: install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then \
	    echo "deps: all packages present"; \
	elif [ "$$(id -u)" = 0 ]; then \
	    echo "deps: installing$$missing"; \
	    apt-get update && DEBIAN_FRONTEND=noninteractive \
	        apt-get install -y --no-install-recommends $$missing; \
	else \
	    echo "deps: missing Debian packages:$$missing"; \
	    echo "deps: as root: apt-get install -y --no-install-recommends$$missing"; \
	fi

build:
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS)
	cmake --build build -j$(JOBS)

test: deps build
	ctest --test-dir build --output-on-failure -j$(JOBS)

run: deps build
	./build/basis-trees demo

# ThreadSanitizer build; runs the multi-threaded tests (suppressions for the
# uninstrumented RocksDB and compression libraries in tests/tsan.supp).
tsan: deps
	cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBT_TSAN=ON $(CMAKE_ARGS)
	cmake --build build-tsan -j$(JOBS) --target test_db_threads test_kv
	TSAN_OPTIONS="suppressions=$(CURDIR)/tests/tsan.supp halt_on_error=1" \
	    ctest --test-dir build-tsan --output-on-failure -R 'unit/test_(db_threads|kv)$$'

# AddressSanitizer + UndefinedBehaviorSanitizer build of everything, all tests.
asan: deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBT_SANITIZE=ON $(CMAKE_ARGS)
	cmake --build build-asan -j$(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    ctest --test-dir build-asan --output-on-failure -j$(JOBS)

fuzz: deps
	bash fuzz/run.sh $(FUZZ_SECONDS)

bench: build
	@if [ -x build/bench_core ]; then ./build/bench_core; \
	else echo "bench: build/bench_core does not exist (no bench/bench_core.c yet)"; fi

clean:
	rm -rf build build-asan build-fuzz build-fuzz.cmake.log
