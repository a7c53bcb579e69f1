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
  libopenblas-dev librocksdb-dev libhdf5-dev libgtest-dev libgmock-dev libbenchmark-dev \
  pybind11-dev python3-dev python3-numpy python3-pytest python3-venv \
  libcpp-httplib-dev nlohmann-json3-dev

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

# compile_commands.json is what clang-tidy (make lint) and editors read.
configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DCMAKE_EXPORT_COMPILE_COMMANDS=ON \
	  $(CMAKE_ARGS) >/dev/null

build: configure
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	$(BUILD)/bin/vecperf demo

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS) --timeout 600

# The C++ suites under AddressSanitizer + UndefinedBehaviorSanitizer and under ThreadSanitizer,
# each in its own build of the library and the C++ tests only (no CLI, Python module, benchmarks
# or CUDA; the package and service tests are left out of sanitizer builds). Any report fails the
# run (halt_on_error), and tests labelled `slow` are left out (docs/reliability.md,
# "Sanitizers"). `make sanitizers` runs both, for CI.
# Under TSan, OpenBLAS and FAISS's OpenMP run on the calling thread: their worker threads
# synchronise through spin-waits in uninstrumented code, which TSan reports as races in the
# buffers they fill. Our own threads (searches, parallel_chunks, HNSW inserts) stay on.
SANITIZER_CMAKE_ARGS := -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVECPERF_WITH_CUDA=OFF \
  -DVECPERF_BUILD_BENCHMARKS=OFF -DVECPERF_BUILD_CLI=OFF -DVECPERF_BUILD_PYTHON=OFF \
  -DVECPERF_BUILD_SOAK=OFF
SANITIZER_CTEST := ctest --output-on-failure -j $(JOBS) --timeout 1800 -LE slow
.PHONY: sanitizers

tsan-test: deps
	cmake -S . -B build-tsan -DVECPERF_SANITIZE=thread $(SANITIZER_CMAKE_ARGS) >/dev/null
	cmake --build build-tsan -j $(JOBS)
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
	  $(SANITIZER_CTEST) --test-dir build-tsan

asan-test: deps
	cmake -S . -B build-asan -DVECPERF_SANITIZE=address,undefined $(SANITIZER_CMAKE_ARGS) >/dev/null
	cmake --build build-asan -j $(JOBS)
	ASAN_OPTIONS="halt_on_error=1 detect_leaks=1" UBSAN_OPTIONS="halt_on_error=1 print_stacktrace=1" \
	  $(SANITIZER_CTEST) --test-dir build-asan

sanitizers:
	@$(MAKE) --no-print-directory asan-test
	@$(MAKE) --no-print-directory tsan-test

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) build-tsan build-asan build-soak build-cov

# Lint (docs/architecture.md, "Layers"; .clang-format; .clang-tidy): the layer check on the
# includes, clang-format over every C++ and CUDA file (any file it would change fails), and
# clang-tidy over the library's sources with the checks .clang-tidy lists and justifies. Needs
# only a configured build tree, not a build. `make format` rewrites the files in place.
LINT_PACKAGES := clang-tidy clang-format
LINT_SOURCES   = $(shell find src include tests bench python examples \
                   \( -name '*.h' -o -name '*.cc' -o -name '*.cu' -o -name '*.cuh' \) \
                   -not -path 'tests/fuzz/corpus/*' | sort)
.PHONY: lint format

lint: configure
	@$(MAKE) --no-print-directory deps DEBIAN_PACKAGES="$(LINT_PACKAGES)"
	/usr/bin/python3 tests/lint/check_layers.py
	@clang-format --dry-run -Werror $(LINT_SOURCES) && echo "clang-format: OK"
	run-clang-tidy -p $(BUILD) -j $(JOBS) -quiet '$(CURDIR)/src/.*\.cc$$'

format: deps
	@$(MAKE) --no-print-directory deps DEBIAN_PACKAGES="clang-format"
	clang-format -i $(LINT_SOURCES)

# Performance gate (docs/perf-gate.md): instruction counts of fixed workloads under callgrind,
# compared with bench/perf_gate/baseline.json; perf-gate-update rewrites that baseline.
# valgrind is installed by these targets only, never by `make test`. perf-build reconfigures
# after the install so that the workload program is rebuilt with callgrind's client requests.
PERF_PACKAGES := valgrind
.PHONY: perf-deps perf-build perf-gate perf-gate-update

perf-deps: deps
	@$(MAKE) --no-print-directory deps DEBIAN_PACKAGES="$(PERF_PACKAGES)"

perf-build: perf-deps
	@$(MAKE) --no-print-directory configure
	cmake --build $(BUILD) -j $(JOBS) --target vecperf_perf_workloads

perf-gate: perf-build
	/usr/bin/python3 bench/perf_gate/perf_gate.py --build $(BUILD) --jobs $(JOBS)

perf-gate-update: perf-build
	/usr/bin/python3 bench/perf_gate/perf_gate.py --build $(BUILD) --jobs $(JOBS) --update

# Fuzzing (docs/reliability.md): libFuzzer targets built with clang, ASan and UBSan in their own
# build, each run for FUZZ_SECONDS over its checked-in seed corpus (tests/fuzz/corpus/<target>,
# read only; new inputs go to $(FUZZ_BUILD)/fuzz-work). Any crash, leak, sanitizer report or
# timeout fails the target and leaves the input in $(FUZZ_BUILD)/fuzz-work. fuzz-corpus
# regenerates the seeds (a crash input worth keeping is copied into the corpus by hand).
FUZZ_PACKAGES := clang libclang-rt-14-dev libomp-dev
FUZZ_BUILD    ?= build-fuzz
FUZZ_SECONDS  ?= 60
# 0 = a new random seed each run; CI pins one so that a failure there can be replayed.
FUZZ_SEED     ?= 0
FUZZ_TARGETS  := index_payload index_file cache_record json dataset
FUZZ_RUN_ENV  := OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
.PHONY: fuzz-build fuzz fuzz-corpus

fuzz-build: deps
	@$(MAKE) --no-print-directory deps DEBIAN_PACKAGES="$(FUZZ_PACKAGES)"
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DVECPERF_BUILD_FUZZERS=ON -DVECPERF_BUILD_TESTS=OFF -DVECPERF_BUILD_BENCHMARKS=OFF \
	  -DVECPERF_BUILD_CLI=OFF -DVECPERF_BUILD_PYTHON=OFF -DVECPERF_WITH_CUDA=OFF >/dev/null
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target $(addprefix fuzz_,$(FUZZ_TARGETS)) vecperf_fuzz_corpus

fuzz: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
	  echo "== fuzz_$$t: $(FUZZ_SECONDS) s (log: $(FUZZ_BUILD)/fuzz-work/$$t.log)"; \
	  mkdir -p $(FUZZ_BUILD)/fuzz-work/$$t; \
	  if ! $(FUZZ_RUN_ENV) $(FUZZ_BUILD)/bin/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) \
	      -timeout=30 -rss_limit_mb=2048 -max_len=8192 -print_final_stats=1 -seed=$(FUZZ_SEED) \
	      -artifact_prefix=$(FUZZ_BUILD)/fuzz-work/$$t- \
	      $(FUZZ_BUILD)/fuzz-work/$$t tests/fuzz/corpus/$$t > $(FUZZ_BUILD)/fuzz-work/$$t.log 2>&1; then \
	    tail -n 60 $(FUZZ_BUILD)/fuzz-work/$$t.log; echo "fuzz_$$t FAILED"; exit 1; \
	  fi; \
	  grep -e '^Done' -e 'stat::number_of_executed_units' -e 'stat::peak_rss' \
	    $(FUZZ_BUILD)/fuzz-work/$$t.log; \
	done

fuzz-corpus: fuzz-build
	$(FUZZ_RUN_ENV) $(FUZZ_BUILD)/bin/vecperf_fuzz_corpus tests/fuzz/corpus

# Benchmark sweep (docs/benchmarks.md, "vecperf-bench"): a short default run on a synthetic set,
# IVF and HNSW each with FAISS and hnswlib beside them, writing bench/results/*.{json,csv} and
# the recall-vs-QPS plots. matplotlib is installed by this target only, never by `make test`.
BENCH_PACKAGES := python3-matplotlib
BENCH_ARGS ?= --synthetic 100000,128 --nq 1000 --threads 2 --repeats 3 --target-recall 0.95 --tune
.PHONY: bench-deps

bench-deps: deps
	@$(MAKE) --no-print-directory deps DEBIAN_PACKAGES="$(BENCH_PACKAGES)"

bench: bench-deps
	@$(MAKE) --no-print-directory configure
	cmake --build $(BUILD) -j $(JOBS) --target vecperf-bench
	mkdir -p bench/results
	$(BUILD)/bin/vecperf-bench $(BENCH_ARGS) --index ivf --nprobe 1,2,4,8,16,32,64,128 \
	  --peers faiss --json bench/results/ivf.json --csv bench/results/ivf.csv
	$(BUILD)/bin/vecperf-bench $(BENCH_ARGS) --index hnsw --ef-search 10,16,32,64,128,256 \
	  --peers faiss,hnswlib --json bench/results/hnsw.json --csv bench/results/hnsw.csv
	/usr/bin/python3 bench/plot.py bench/results/ivf.json --out bench/results/ivf
	/usr/bin/python3 bench/plot.py bench/results/hnsw.json --out bench/results/hnsw

# Soak test (docs/reliability.md, "Soak"): a steady add/remove/search workload on each backend and
# get/put on the cache (RAM over disk), failing when resident memory keeps growing. Built in its
# own Release build with VECPERF_BUILD_SOAK; SOAK_SECONDS is the total run time.
SOAK_BUILD   ?= build-soak
SOAK_SECONDS ?= 150
.PHONY: soak

soak: deps
	cmake -S . -B $(SOAK_BUILD) -DCMAKE_BUILD_TYPE=Release -DVECPERF_BUILD_SOAK=ON -DVECPERF_WITH_CUDA=OFF \
	  -DVECPERF_BUILD_BENCHMARKS=OFF -DVECPERF_BUILD_CLI=OFF -DVECPERF_BUILD_PYTHON=OFF >/dev/null
	cmake --build $(SOAK_BUILD) -j $(JOBS) --target vecperf_soak_tests
	VECPERF_SOAK_SECONDS=$(SOAK_SECONDS) $(SOAK_BUILD)/bin/vecperf_soak_tests

# Line coverage (docs/reliability.md, "Coverage"): the C++ unit tests (not the slow, package or
# service ones) built with gcc --coverage at -O0 in $(COV_BUILD); lcov (installed by this target only) collects src/ and
# include/, genhtml writes $(COV_BUILD)/coverage/html. The counters are reset before each run.
COVERAGE_PACKAGES := lcov
COV_BUILD ?= build-cov
.PHONY: coverage

coverage: deps
	@$(MAKE) --no-print-directory deps DEBIAN_PACKAGES="$(COVERAGE_PACKAGES)"
	cmake -S . -B $(COV_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O0 -g --coverage" \
	  -DCMAKE_EXE_LINKER_FLAGS=--coverage -DCMAKE_SHARED_LINKER_FLAGS=--coverage \
	  -DVECPERF_WITH_CUDA=OFF -DVECPERF_BUILD_BENCHMARKS=OFF -DVECPERF_BUILD_CLI=OFF \
	  -DVECPERF_BUILD_PYTHON=OFF -DVECPERF_BUILD_SOAK=OFF >/dev/null
	cmake --build $(COV_BUILD) -j $(JOBS)
	find $(COV_BUILD) -name '*.gcda' -delete
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 ctest --test-dir $(COV_BUILD) -j $(JOBS) --timeout 1800 \
	  -LE 'slow|package|service' --output-on-failure
	tests/coverage/report.sh $(COV_BUILD)
