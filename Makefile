# IMLane top-level Makefile (DuckDB's convention: make drives CMake).
#   make            install missing Debian packages, configure and build into build/
#   make test       the same, then the whole suite through ctest
#   make demo       the same, then a prediction query on DuckDB end to end (see README)
#   make demo-cpp   the C++ example against the installed package
#   make install    PREFIX=/usr/local (default)
#   make bench      micro benchmarks
#   make chaos      the chaos run (test/chaos/chaos.py; CHAOS_SECONDS, default 600; not part of make test)
#   make format     clang-format the C++ sources in place (FORMAT_FILES to narrow it)
#   make lint       clang-tidy over the C++ sources (LINT_FILES to narrow it; .clang-tidy says which checks)
MAKEFLAGS  += --no-print-directory
PREFIX     ?= /usr/local
BUILD_DIR  ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=
DEMO_PREFIX = $(abspath $(BUILD_DIR))/demo-install

.PHONY: all deps configure build pythonpkg test chaos demo demo-cpp install fuzz bench format lint clean

all: build

deps:
	@./install_deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_ARGS) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)
	@$(MAKE) pythonpkg

# The `imlane` Python package into the project venv (.venv, made by install_deps.sh); never into
# Debian's Python. Executors do not need it installed: they import it from share/imlane/python.
pythonpkg:
	@.venv/bin/python -m pip install --quiet --no-input --no-build-isolation --no-deps ./contrib/pythonpkg
	@rm -rf contrib/pythonpkg/build contrib/pythonpkg/*.egg-info

# IMLANE_IDLE_EXIT_MS=0: the suite's many short-lived databases leave no coordinator behind for
# imlane_idle_exit_ms (tests of that grace period set it themselves).
test: build
	cd $(BUILD_DIR) && IMLANE_IDLE_EXIT_MS=0 ctest --output-on-failure --timeout 600 -j 2

# Chaos: 4 DuckDB clients checking every result exactly while executors and the coordinator are
# killed, malformed control frames sent and functions re-registered; then leak checks (processes,
# fds, shared memory). Its own coordinator on a private socket. CHAOS_ARGS adds options (--seed N, ...).
CHAOS_SECONDS ?= 600
CHAOS_ARGS    ?=
chaos: build
	.venv/bin/python test/chaos/chaos.py --build-dir $(BUILD_DIR) --duration $(CHAOS_SECONDS) $(CHAOS_ARGS)

# The main demo: a scikit-learn model as a SQL function in DuckDB over 1M rows (demo/duckdb/).
demo: build
	@demo/duckdb/run_demo.sh $(BUILD_DIR)

# The C++ example built against the installed package (streams 1M rows with push/pull).
demo-cpp: build
	@cmake --install $(BUILD_DIR) --prefix $(DEMO_PREFIX) >/dev/null
	@cmake -S demo/cpp_example -B $(BUILD_DIR)/cpp_example -DCMAKE_PREFIX_PATH=$(DEMO_PREFIX) >/dev/null
	@cmake --build $(BUILD_DIR)/cpp_example -j $(JOBS) >/dev/null
	$(BUILD_DIR)/cpp_example/cpp_example --rows 1000000 --model demo/cpp_example/model.py

install: build
	cmake --install $(BUILD_DIR) --prefix $(PREFIX)
	cmake --install $(BUILD_DIR) --prefix $(PREFIX) --component postgres  # the PostgreSQL extension, if built

# The libFuzzer target for longer than make test's 60 s (FUZZ_SECONDS, default 600).
FUZZ_SECONDS ?= 600
fuzz: deps
	test/fuzz/run_fuzzers.sh $(BUILD_DIR)/fuzz $(FUZZ_SECONDS)
	test/fuzz/run_fuzzers.sh $(BUILD_DIR)/fuzz $(FUZZ_SECONDS) structured

bench: build
	$(BUILD_DIR)/bin/lane_bench

CXX_SOURCES   = $(shell git ls-files '*.cpp' '*.h' '*.hpp' | grep -v '^third_party/')
FORMAT_FILES ?= $(CXX_SOURCES)
LINT_FILES   ?= $(shell git ls-files 'src/*.cpp' 'database/*.cpp' 'bench/*.cpp' 'demo/*.cpp')
format: deps
	@clang-format -i $(FORMAT_FILES)

# Uses the compile commands of build/ (CMake writes them), so it sees the same flags as the build.
lint: configure
	@clang-tidy -p $(BUILD_DIR) --quiet $(LINT_FILES) 2>/dev/null | grep -E 'warning:|error:' && exit 1 || echo "lint: clean ($(words $(LINT_FILES)) files)"

clean:
	rm -rf $(BUILD_DIR)
