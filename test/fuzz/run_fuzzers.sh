#!/usr/bin/env bash
# Builds the libFuzzer target with clang (ASan + UBSan) and runs it for SECONDS (default 60).
# MODE: "all" (default: Lane regions, raw messages and structured messages, chosen by the first
# byte) or "structured" (only the structure-aware mode: real ops with fields of wrong types and
# shapes). `make test` runs each for 60 s; `make fuzz` for longer.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$src/build/fuzz}
seconds=${2:-60}
mode=${3:-all}
corpus="$out/corpus-$mode"
mkdir -p "$corpus"
clang++ -std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$src/include" -I"$src/src/include" \
  "$src/test/fuzz/lane_reader_fuzzer.cpp" "$src/src/lane/batch_view.cpp" "$src/src/common/types.cpp" \
  "$src/src/common/status.cpp" "$src/src/common/bit_util.cpp" "$src/src/common/protocol.cpp" "$src/src/common/messages.cpp" "$src/src/common/function_options.cpp" "$src/src/common/unix_socket.cpp" \
  -o "$out/lane_reader_fuzzer-$mode"
# Seeds: a valid message, so the fuzzer starts from the interesting shapes.
if [ "$mode" = structured ]; then
  export IMLANE_FUZZ_MODE=structured
else
  printf '\x01{"op":"load","fid":1,"arg_types":["DOUBLE","VARCHAR"],"ok":false,"code":6,"error":"x"}' \
    > "$corpus/seed-message"
fi
"$out/lane_reader_fuzzer-$mode" -max_total_time="$seconds" -rss_limit_mb=2048 -artifact_prefix="$out/$mode-" -print_final_stats=1 "$corpus" 2>&1 |
  tail -n 12  # pipefail: a crash (an input left in $out/$mode-crash-*) fails the script
