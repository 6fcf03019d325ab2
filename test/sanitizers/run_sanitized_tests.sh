#!/usr/bin/env bash
# Builds the C++ tests, the coordinator and the executor with AddressSanitizer and
# UndefinedBehaviorSanitizer into OUT (default build/sanitized) and runs every C++ test binary once:
# unit, end-to-end through DBEnd with real executors, and DuckDB SQL. `make test` runs it via ctest.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$src/build/sanitized}
flags="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
cmake -S "$src" -B "$out" -DCMAKE_BUILD_TYPE=Debug -DIMLANE_BUILD_BENCH=OFF \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_C_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
cmake --build "$out" -j "$(nproc)" --target imlane_unit_tests imlane_integration_tests imlane_duckdb_tests \
  imlane imlane-executor imlane_executor_runtime 2>&1 | grep -E "error|warning: .*sanitize" || true
# Leaks: the unit tests are checked; processes that embed Python (executors) or DuckDB keep
# interpreter-lifetime allocations by design, so leak detection is off for them.
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ASAN_OPTIONS=detect_leaks=1 "$out/bin/imlane_unit_tests" --gtest_brief=1
# handle_segv=0: a UDF that segfaults must kill its executor with SIGSEGV, as in a normal build.
export ASAN_OPTIONS=detect_leaks=0:handle_segv=0
# Not the address-space limit test: RLIMIT_AS cannot coexist with ASan's shadow memory.
"$out/bin/imlane_integration_tests" --gtest_brief=1 --gtest_filter='-*ALeakingFunctionGetsMemoryError*:*MemoryBudgetCountsTheFunctionNotTheLanesOfOtherClients*'
# The 2,000-query soak runs once, unsanitized, in the main suite.
"$out/bin/imlane_duckdb_tests" --gtest_brief=1 --gtest_filter='-*Soak*'
echo "sanitized C++ tests: passed"
