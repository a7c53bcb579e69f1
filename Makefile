# Convenience wrapper around CMake. The two commands of the quick start:
#   make demo   install what is missing, build, and run the demo
#   make test   install what is missing, build, and run every test
BUILD     ?= build
JOBS      ?= $(shell nproc)
PREFIX    ?= /usr/local
CMAKE_ARGS ?=
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Debian 12 packages the build and the tests need.
DEBIAN_PACKAGES := build-essential cmake pkg-config libfaiss-dev libhnswlib-dev libxxhash-dev \
  libopenblas-dev librocksdb-dev libgtest-dev libgmock-dev libbenchmark-dev \
  pybind11-dev python3-dev python3-numpy python3-pytest python3-venv

.PHONY: deps configure build demo test tsan-test asan-test bench install clean

# Installs only what is missing, so it is quiet (and needs no network) when all is present.
deps:
	@missing=""; for p in $(DEBIAN_PACKAGES); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_ARGS) >/dev/null

build: configure
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	$(BUILD)/bin/vecperf demo

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS) --timeout 600

# The same suites under ThreadSanitizer and under AddressSanitizer + UndefinedBehaviorSanitizer.
# Under TSan, OpenBLAS and FAISS's OpenMP run on the calling thread: their worker threads
# synchronise through spin-waits in uninstrumented code, which TSan reports as races in the
# buffers they fill. Our own threads (searches, parallel_chunks, HNSW inserts) stay on.
tsan-test: deps
	cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVECPERF_SANITIZE=thread \
	  -DVECPERF_BUILD_BENCHMARKS=OFF >/dev/null
	cmake --build build-tsan -j $(JOBS)
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
	  ctest --test-dir build-tsan --output-on-failure -j $(JOBS) --timeout 1800

asan-test: deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVECPERF_SANITIZE=address,undefined \
	  -DVECPERF_BUILD_BENCHMARKS=OFF >/dev/null
	cmake --build build-asan -j $(JOBS)
	ASAN_OPTIONS="halt_on_error=1" UBSAN_OPTIONS="halt_on_error=1 print_stacktrace=1" \
	  ctest --test-dir build-asan --output-on-failure -j $(JOBS) --timeout 1800

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) build-tsan build-asan
