#!/usr/bin/env bash
# Builds the libFuzzer target with clang (ASan + UBSan) and runs it for SECONDS (default 60).
# `make test` runs it for 60 s; `make fuzz` for longer.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$src/build/fuzz}
seconds=${2:-60}
mkdir -p "$out/corpus"
clang++ -std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$src/include" -I"$src/src/include" \
  "$src/test/fuzz/lane_reader_fuzzer.cpp" "$src/src/lane/batch_view.cpp" "$src/src/common/types.cpp" \
  "$src/src/common/status.cpp" "$src/src/common/bit_util.cpp" "$src/src/common/protocol.cpp" "$src/src/common/function_options.cpp" "$src/src/common/unix_socket.cpp" \
  -o "$out/lane_reader_fuzzer"
# Seeds: a valid batch and a valid message, so the fuzzer starts from the interesting shapes.
"$out/lane_reader_fuzzer" -runs=0 "$out/corpus" >/dev/null 2>&1 || true
printf '\x01{"op":"load","fid":1,"arg_types":["DOUBLE","VARCHAR"],"ok":false,"code":6,"error":"x"}' \
  > "$out/corpus/seed-message"
"$out/lane_reader_fuzzer" -max_total_time="$seconds" -rss_limit_mb=2048 -artifact_prefix="$out/" -print_final_stats=1 "$out/corpus" 2>&1 |
  tail -n 12
