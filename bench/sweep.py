#!/usr/bin/env python3
"""Batch-size sweep: the per-row cost of each query's staged UDF at batch sizes 64 .. 131072, through
IMLane (DuckDB -> Lane -> one executor -> back, batch size pinned with imlane_batch_size) and
in-process (pyfun on numpy slices of the same size, one core, no engine), plus where IMLane's
adaptive tuner settles (imlane_batch_size = 0) on the same input.

  python3 bench/sweep.py --scale 1 [--queries Q2,Q3] [--out DIR]

Needs the data of `bench/run.py --scale S` (built on demand). Writes DIR/sweep.json, sweep.md and
sweep.png (default DIR: bench/out/scale-<S>/sweep).
"""
import os
import sys

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)

import run  # noqa: E402,I100  (re-executes this script under the project venv's python, as run.py does)

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
from workloads import all_queries  # noqa: E402

SIZES = [64, 256, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072]


def per_row_us(result, rows):
    if result.get("status") != "ok" or not result.get("times_s") or not rows:
        return None
    return statistics.median(result["times_s"]) / rows * 1e6


def sweep_query(bench, q, max_rows, time_limit):
    inputs = os.path.join(bench.input_dir, f"{q.name}.csv")
    table = f"sweep_{q.name.lower()}"
    n_args = len(run._types(q.args))
    cols = [f"c{i}" for i in range(n_args)]
    # The UDF's inputs as a table of their own: the sweep measures the UDF path, not the query's joins.
    names = ", ".join(f"'{c}'" for c in cols)
    casts = ", ".join(f"CAST({c} AS {t}) AS {c}" for c, t in zip(cols, run._types(q.args)))
    bench.duckdb([f"CREATE OR REPLACE TABLE {table} AS SELECT {casts} FROM read_csv('{inputs}', header = true, "
                  f"all_varchar = true, names = [{names}]) LIMIT {max_rows}"])
    with open(inputs) as f:
        rows = min(max_rows, max(0, sum(1 for _ in f) - 1))
    sql = f"SELECT count({q.udf}({', '.join(cols)})) FROM {table}"
    points = []
    for size in SIZES + [0]:
        if size > rows:
            continue
        base = [os.path.join(bench.bin, "bench_duckdb"), "--system", "imlane", "--db", bench.db, "--udf-name", q.udf,
                "--udf-file", bench.udf_file(q, "staged"), "--args", q.args, "--returns", q.returns,
                "--query", sql, "--repeat", "2", "--warmup", "1", "--time-limit", str(time_limit),
                "--set", f"imlane_batch_size={size}", "--set", "imlane_executors=1"]
        # The prediction operator sends at least one DuckDB vector (2048 rows) per batch.
        lane = run._run_json(base, time_limit * 6 + 120) if size == 0 or size >= 2048 else {}
        point = {"batch_rows": size or "adaptive", "imlane_us_per_row": per_row_us(lane, rows),
                 "imlane_mean_batch_rows": lane.get("mean_batch_rows")}
        if size:
            local = run._run_json([run.PYTHON, os.path.join(BENCH, "limit.py"), "--udf-file",
                                   bench.udf_file(q, "staged"), "--args", q.args, "--inputs-csv", inputs,
                                   "--batch-rows", str(size), "--max-rows", str(rows)], time_limit * 6 + 120)
            point["inprocess_us_per_row"] = per_row_us(local, rows)
        points.append(point)
        run.log(f"sweep {q.name} batch {point['batch_rows']}: {point}")
    bench.duckdb([f"DROP TABLE {table}"])
    return {"query": q.name, "rows": rows, "points": points}


def markdown(results):
    lines = ["Per-row cost of each query's UDF, microseconds per row (one executor for IMLane, one core "
             "in-process). `adaptive`: imlane_batch_size = 0, with the mean batch the tuner produced.", ""]
    lines.append("| query | rows | " + " | ".join(str(s) for s in SIZES) + " | adaptive |")
    lines.append("|---|---|" + "---|" * (len(SIZES) + 1))
    for r in results:
        by = {p["batch_rows"]: p for p in r["points"]}
        cells = []
        for s in SIZES:
            p = by.get(s)
            if not p:
                cells.append("-")
                continue
            a, b = p.get("imlane_us_per_row"), p.get("inprocess_us_per_row")
            cells.append(f"{a:.2f} / {b:.2f}" if a is not None and b is not None
                         else f"- / {b:.2f}" if b is not None else "error")
        ad = by.get("adaptive")
        cells.append(f"{ad['imlane_us_per_row']:.2f} @ {ad['imlane_mean_batch_rows']:.0f} rows"
                     if ad and ad.get("imlane_us_per_row") else "-")
        lines.append(f"| {r['query']} | {r['rows']} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Each cell: IMLane / in-process. IMLane starts at 2048 rows: its DuckDB operator sends at least "
                 "one DuckDB vector per batch.")
    return "\n".join(lines) + "\n"


def chart(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    n = len(results)
    cols = min(4, n)
    fig, axes = plt.subplots((n + cols - 1) // cols, cols, figsize=(4 * cols, 3.2 * ((n + cols - 1) // cols)),
                             squeeze=False)
    for ax, r in zip(axes.flat, results):
        pts = [p for p in r["points"] if p["batch_rows"] != "adaptive"]
        for key, label in (("imlane_us_per_row", "IMLane (1 executor)"), ("inprocess_us_per_row", "in-process")):
            xy = [(p["batch_rows"], p[key]) for p in pts if p.get(key)]
            if xy:
                ax.plot(*zip(*xy), marker="o", label=label)
        ad = next((p for p in r["points"] if p["batch_rows"] == "adaptive"), None)
        if ad and ad.get("imlane_us_per_row") and ad.get("imlane_mean_batch_rows"):
            ax.plot([ad["imlane_mean_batch_rows"]], [ad["imlane_us_per_row"]], marker="*", markersize=14,
                    linestyle="none", label="adaptive tuner")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_title(r["query"])
        ax.set_xlabel("batch rows")
        ax.set_ylabel("us per row")
        ax.grid(alpha=0.3, which="both")
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description="batch-size sweep (bench/README.md)")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--queries", default="Q1,Q2,Q3,Q4,Q5,Q6,Q7,Q8")
    ap.add_argument("--max-rows", type=int, default=262144, help="input rows per query")
    ap.add_argument("--time-limit", type=float, default=120)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--models", choices=run.MODEL_SETS, default="original", help="as run.py --models")
    ap.add_argument("--out")
    ap.add_argument("--build-dir", default=os.path.join(os.path.dirname(BENCH), "build"))
    a = ap.parse_args()
    a.queries = [s.strip().upper() for s in a.queries.split(",") if s.strip()]
    data_out = os.path.join(BENCH, "out", f"scale-{a.scale:g}")
    a.out = a.out or os.path.join(data_out, "sweep")
    os.makedirs(a.out, exist_ok=True)
    # Reuse run.py's data directory (and build it when missing).
    bench_args = argparse.Namespace(scale=a.scale, seed=a.seed, models=a.models, out=data_out,
                                    build_dir=a.build_dir, repeat=1,
                                    time_limit=a.time_limit, batch_size=0, no_chart=True, systems=[])
    bench = run.Bench(bench_args)
    queries = [q for q in all_queries() if q.name in a.queries]
    for d in dict.fromkeys(q.dataset for q in queries):
        bench.prepare_dataset(d)
    bench.copy_udfs(queries)
    results = []
    for q in queries:
        bench.export_csv(q.inputs_sql, os.path.join(bench.input_dir, f"{q.name}.csv"))
        results.append(sweep_query(bench, q, a.max_rows, a.time_limit))
        with open(os.path.join(a.out, "sweep.json"), "w") as f:
            json.dump(results, f, indent=1)
    with open(os.path.join(a.out, "sweep.md"), "w") as f:
        f.write(markdown(results))
    chart(results, os.path.join(a.out, "sweep.png"))
    print(markdown(results))


if __name__ == "__main__":
    main()
