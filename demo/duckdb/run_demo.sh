#!/usr/bin/env bash
# make demo: train a model, load 1M rows into DuckDB, run prediction queries through IMLane.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
mkdir -p "$build/demo"
/usr/bin/python3 demo/duckdb/train_model.py "$build/demo/fraud_model.pkl"
export IMLANE_DEMO_MODEL=$PWD/$build/demo/fraud_model.pkl
out=$build/demo/output.txt
"$build/bin/imlane-duckdb" -f demo/duckdb/demo.sql | tee "$out"
# Run times of the two prediction queries (3rd and 4th timed statements).
mapfile -t times < <(awk '/^Run Time:/ {print $3}' "$out")
echo
for i in 3 4; do
  t=${times[$((i - 1))]}
  awk -v t="$t" -v q="$((i - 2))" 'BEGIN { printf "prediction query %d over the 1,000,000-row table: %.2f s = %.0f rows/s\n", q, t, 1000000 / t }'
done
