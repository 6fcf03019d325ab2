"""The `limit` system: the physical limit of a prediction query on this machine.

Every row the UDF sees is already in numpy (read from a CSV the runner exported, untimed), the staged
UDF's one-off context is built (untimed), and one pyfun(*columns) call over all rows is timed on one
core: BLAS/OpenMP/torch limited to one thread, as in an IMLane executor. No engine, no batching, no
transfer. Prints one JSON object like bench_duckdb does.

  .venv/bin/python bench/limit.py --udf-file F --args "DOUBLE, VARCHAR" --inputs-csv X [--repeat N]
      [--returns INTEGER --result-csv ROWS.csv]

--result-csv writes the input columns plus the UDF's result of the last run ("prediction"), one row per
input row: the reference for peers that, like this script, run only the UDF (bench/peers/ray_data.py).
"""
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):  # torch too
    os.environ[_var] = "1"  # before numpy is imported

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402
from peers.common import as_udf_array  # noqa: E402  (the arrays an IMLane executor hands a function)


def read_columns(path, types):
    """The CSV's column names and its columns as the arrays an executor would pass."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    if frame.shape[1] != len(types):
        raise SystemExit(f"limit.py: {path} has {frame.shape[1]} columns, the UDF takes {len(types)}")
    cols = []
    for (_, values), t in zip(frame.items(), types):
        if t == "BOOLEAN":  # the CSV spells it true/false (no NULLs in the benchmark's inputs)
            cols.append(values.to_numpy() == "true")
        elif t in ("DOUBLE", "FLOAT", "INTEGER", "BIGINT", "SMALLINT", "TINYINT", "VARCHAR", "DATE"):
            text = values.to_numpy(dtype=object)
            cols.append(as_udf_array(text if t == "VARCHAR" else text.astype(str), t))
        else:
            raise SystemExit(f"limit.py: type {t} is not supported")
    return list(frame.columns), cols


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--udf-file", required=True)
    ap.add_argument("--args", required=True)
    ap.add_argument("--inputs-csv", required=True)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    # One call over every row, up to this many: ONNX Runtime's one-hot of Q1's 20 string columns over
    # all 328 k rows at once needs ~19 GB (the OOM killer ended it); calls of 65536 rows cost the same
    # per row (bench/sweep.py) and fit.
    ap.add_argument("--batch-rows", type=int, default=65536,
                    help="call pyfun on slices of at most this many rows (0 = all rows in one call)")
    ap.add_argument("--max-rows", type=int, default=0, help="use only the first N input rows")
    ap.add_argument("--returns", help="the UDF's SQL return type (needed with --result-csv)")
    ap.add_argument("--result-csv", help="write the input rows plus the last run's result here")
    a = ap.parse_args()
    if a.result_csv and not a.returns:
        ap.error("--result-csv needs --returns")
    types = [t.strip().upper() for t in a.args.split(",")]
    names, cols = read_columns(a.inputs_csv, types)
    if a.max_rows:
        cols = [c[:a.max_rows] for c in cols]
    n = len(cols[0]) if cols else 0
    step = min(a.batch_rows, max(n, 1)) if a.batch_rows > 0 else max(n, 1)
    ns = {"__file__": os.path.abspath(a.udf_file), "__name__": "imlane_udf_limit"}
    with open(a.udf_file) as f:
        exec(compile(f.read(), a.udf_file, "exec"), ns)
    if "pyinitial" in ns:
        ns["pyinitial"]()
    times = []
    for i in range(a.warmup + a.repeat):
        outs = []  # kept only for --result-csv (appending a reference costs nothing measurable)
        start = time.perf_counter()
        for lo in range(0, n, step):
            out = ns["pyfun"](*[c[lo:lo + step] for c in cols])
            if len(out) != min(step, n - lo):
                raise SystemExit(f"limit.py: the UDF returned {len(out)} values for {min(step, n - lo)} rows")
            if a.result_csv:
                outs.append(out)
        secs = time.perf_counter() - start
        if i >= a.warmup:
            times.append(secs)
    if a.result_csv:
        result = np.concatenate([np.asarray(o) for o in outs]) if outs else np.array([])
        compare.write_rows(a.result_csv, names + ["prediction"], cols + [result], types + [a.returns])
    batches = -(-n // step)
    print(json.dumps({"status": "ok", "times_s": times, "rows_udf": n, "batches": batches,
                      "mean_batch_rows": n / max(batches, 1)}))


if __name__ == "__main__":
    main()
