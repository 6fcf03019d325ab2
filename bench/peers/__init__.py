"""The peers of bench/run.py: the systems a user would run instead of IMLane, one script each.

run.py runs a peer as a subprocess of the project venv's python (so PyPI's duckdb, pyspark, ray and
the original models' libraries import beside Debian's numpy stack):

  .venv/bin/python bench/peers/<script>.py --system NAME --query QN --db BENCH.duckdb
      --sql "<the query, {udf} already replaced by --udf-name>" --inputs-sql "<SELECT of the UDF's
      argument expressions>" --udf-name qN --udf-file <out>/udfs/qN_staged.py --args "DOUBLE, VARCHAR"
      --returns INTEGER --repeat R --time-limit T --result-csv ROWS.csv --work-dir <out>/peers

and reads the last line of its stdout that starts with "{": one JSON object

  {"status": "ok" | "timeout" | "error", "times_s": [seconds of each timed run], "rows": rows returned,
   "rows_udf": rows the UDF saw, "mean_batch_rows": rows per UDF call, "error": "..." (if not ok),
   plus any system-specific keys (start-up seconds, sweeps), kept in results.json as "extra"}

A peer runs one untimed warm-up, then R timed runs (a run over a tenth of T is not repeated; a run over
T stops the peer with status "timeout"), and writes the last run's result rows as CSV with a header
row to --result-csv, in the format bench/compare.py reads. --work-dir is a directory it may keep
state in across queries (Parquet exports, caches); it is under the benchmark's output directory.
"""
