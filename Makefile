# Makefile -- a thin wrapper around CMake.  The two commands a newcomer needs:
#
#   make run    install missing packages (as root), build, run the Basis demo
#   make test   install missing packages (as root), build, run every test
#
# Other targets: deps, build, asan, fuzz, bench, clean, install-test, bindings
# (see README.md).
# Variables: BT_VECTORS_DIR=DIR (reference vectors, default ../shared/vectors),
# FUZZ_SECONDS (per fuzz target, default 60), JOBS (default 2).

DEB_PACKAGES := build-essential cmake pkg-config libsodium-dev libjansson-dev \
                libcmocka-dev zlib1g-dev librocksdb-dev libinih-dev libzstd-dev clang libclang-rt-14-dev \
                valgrind
JOBS ?= 2
FUZZ_SECONDS ?= 60
CMAKE_ARGS := $(if $(BT_VECTORS_DIR),-DBT_VECTORS_DIR=$(abspath $(BT_VECTORS_DIR)))

# Targets are steps in order (deps before build before test); the parallelism
# is inside cmake --build and ctest.
.NOTPARALLEL:
.PHONY: all deps build test run asan tsan fuzz bench clean install-test bindings torture fuzz-long

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

# The main job: a tracker's day on the local data directory ./demo-data
# (DEMO_ARGS: more options, e.g. DEMO_ARGS="--updates 500000").
run: deps build
	./build/basis-trees demo demo-data --fresh $(DEMO_ARGS)

# ThreadSanitizer build; runs the multi-threaded tests (suppressions for the
# uninstrumented RocksDB and compression libraries in tests/tsan.supp).
tsan: deps
	cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBT_TSAN=ON $(CMAKE_ARGS)
	cmake --build build-tsan -j$(JOBS) --target test_db_threads test_kv test_checkpoint
	TSAN_OPTIONS="suppressions=$(CURDIR)/tests/tsan.supp halt_on_error=1" \
	    ctest --test-dir build-tsan --output-on-failure -R 'unit/test_(db_threads|kv|checkpoint)$$'

# AddressSanitizer + UndefinedBehaviorSanitizer build of everything, all tests.
asan: deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBT_SANITIZE=ON $(CMAKE_ARGS)
	cmake --build build-asan -j$(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    ctest --test-dir build-asan --output-on-failure -j$(JOBS) -LE slow

fuzz: deps
	bash fuzz/run.sh $(FUZZ_SECONDS)

# The long forms of the reliability tests (docs/RELIABILITY.md): hours.
# TORTURE_SCALE=N divides every count by N (a rehearsal: TORTURE_SCALE=50).
torture: deps build
	CRASH_BINDIR=$(CURDIR)/build/tests/crash REL_BINDIR=$(CURDIR)/build/tests/reliability \
	    nice bash tests/reliability/torture.sh build/torture

# Every fuzz target for FUZZ_LONG_SECONDS (default 4 hours), two at a time.
FUZZ_LONG_SECONDS ?= 14400
fuzz-long: deps
	bash fuzz/run.sh $(FUZZ_LONG_SECONDS)

# cmake --install into build/install-test, then build and run C consumers
# with pkg-config and CMake (tests/pkg/install_test.sh).
install-test: deps build
	bash tests/pkg/install_test.sh build build/install-test

# The Rust crate (cargo test --offline) and the Python module against the
# library installed by install-test (tests/pkg/bindings_test.sh).
bindings: install-test
	$(if $(BT_VECTORS_DIR),BT_VECTORS_DIR=$(abspath $(BT_VECTORS_DIR))) \
	    bash tests/pkg/bindings_test.sh build/install-test build/cargo-target

# The quick benchmark profile (< 3 minutes): ours against the upstream-style
# baseline, the plan's target table; results and plots in build/bench-results
# (bench/BENCHMARKS.md; the full profile: ./build/basis-trees bench --profile full).
# gnuplot-nox (plots only) is installed here, as root, not by deps.
bench: deps build
	@command -v gnuplot >/dev/null 2>&1 || { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends gnuplot-nox >/dev/null 2>&1 || \
	    { apt-get update >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends gnuplot-nox >/dev/null 2>&1; } || \
	    echo "bench: could not install gnuplot-nox; the table is printed without plots"; \
	else echo "bench: no gnuplot (plots need: apt-get install gnuplot-nox); the table is printed without plots"; fi; }
	./build/basis-trees bench --profile quick --out build/bench-results

clean:
	rm -rf build build-asan build-fuzz build-fuzz.cmake.log
