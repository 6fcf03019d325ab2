"""The `ray-data` peer: Ray Data batch inference over the UDF's input rows (bench/peers/__init__.py).

What a user of Ray Data would write for a prediction query: the relational part runs in DuckDB first
(--inputs-sql on the benchmark file, to an Arrow table; timed once and reported as "relational_s",
not in times_s), then

  ray.data.from_arrow(table, override_num_blocks=N)
      .map_batches(Predictor, batch_format="numpy", concurrency=N, batch_size=B).to_pandas()

on a single-node Ray cluster this script starts (N = cores; start-up untimed, "startup_s"). Each of
the N actors is its own Python process (its own GIL) that execs the staged UDF file and calls
pyinitial() once, then converts each batch to the arrays an IMLane executor passes and calls pyfun.
One timed run is everything from building the dataset to the predictions in the driver, so it
includes Ray Data starting the actor pool (a pool lives for one execution) and loading the model.

Batch size: times_s are runs with Ray Data's default (batch_size=None: each block is one batch, here
rows/N); then a short sweep, one run per size, and the fastest size is run again ("sweep",
"best_batch", "best_times_s"). Every sweep run must give the default's predictions.

--result-csv gets the input columns plus the prediction per input row (bench/compare.py's format,
written by compare.write_rows like bench/limit.py --result-csv): bench/run.py checks them against
the `limit` system's rows, since this peer returns the UDF's results, not the query's rows.
"""
import os

# Before numpy/pyarrow are imported. The actors get the same through the job's runtime_env.
ONE_THREAD = {v: "1" for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                                 "NUMEXPR_NUM_THREADS")}  # torch reads OMP_NUM_THREADS
os.environ.update(ONE_THREAD)
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"

import argparse  # noqa: E402
import glob  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402

import numpy as np  # noqa: E402

BENCH = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, BENCH)
import compare  # noqa: E402
from peers.common import as_result_array, as_udf_array, load_staged_udf  # noqa: E402

TMP_PREFIX = "imlane-ray-"  # + pid: the Ray cluster's temp dir
ROW = "__row"  # input row number: maps each prediction back to its input row (Ray may reorder blocks)
SQL_TO_ARROW = {"DOUBLE": "float64", "FLOAT": "float32", "INTEGER": "int32", "BIGINT": "int64",
                "SMALLINT": "int16", "TINYINT": "int8", "VARCHAR": "string", "BOOLEAN": "bool_",
                "DATE": "date32"}


class Predictor:
    """One actor of the pool: the staged UDF loaded once, pyfun called per batch. Records its start-up
    and batch counts in stats_dir/<pid>.json (rewritten per batch: a small write next to a model call)
    so the driver can report mean batch rows and how long the pool took to start."""

    def __init__(self, udf_file, names, types, returns, stats_dir):
        started = time.time()
        self.pyfun = load_staged_udf(udf_file, "imlane_udf_ray")
        self.names, self.types, self.returns = names, types, returns
        self.stats_path = os.path.join(stats_dir, f"{os.getpid()}.json")
        self.stats = {"started": started, "ready": time.time(), "calls": 0, "rows": 0}
        self._save()

    def _save(self):
        with open(self.stats_path, "w") as f:
            json.dump(self.stats, f)

    def __call__(self, batch):
        n = len(batch[ROW])
        cols = [as_udf_array(batch[name], t) for name, t in zip(self.names, self.types)]
        out = self.pyfun(*cols)
        if len(out) != n:
            raise ValueError(f"the UDF returned {len(out)} values for {n} rows")
        self.stats["calls"] += 1
        self.stats["rows"] += n
        self._save()
        return {ROW: batch[ROW], "prediction": as_result_array(out, self.returns)}


class RunTimeout(Exception):
    pass


_alarm = {"fired": False}


def _on_alarm(signum, frame):
    # Raised wherever the main thread is; inside a C call it may surface as another exception
    # (SystemError), so run() also checks the flag.
    _alarm["fired"] = True
    raise RunTimeout()


class RayPeer:
    def __init__(self, a, table, names, types):
        self.a, self.table, self.names, self.types = a, table, names, types
        self.n = table.num_rows
        self.actors = a.actors
        self.tmp = None
        self.runs = 0

    def start(self):
        import ray
        # Under /tmp, not --work-dir: Ray's socket paths inside it must stay below the 107-byte limit.
        # A peer killed outright (run.py's timeout) cannot remove its directory: the next one does.
        for old in glob.glob(os.path.join(tempfile.gettempdir(), TMP_PREFIX + "*")):
            pid = os.path.basename(old)[len(TMP_PREFIX):].split("-")[0]
            if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
                shutil.rmtree(old, ignore_errors=True)
        self.tmp = tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{os.getpid()}-", dir=tempfile.gettempdir())
        self.stats_root = os.path.join(self.tmp, "stats")
        os.makedirs(self.stats_root)
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, _node_ip_address="127.0.0.1",
                 object_store_memory=self.a.object_store_mb << 20, _temp_dir=self.tmp,
                 log_to_driver=False,
                 # The actors import the UDF helpers (peers.common) from bench/, as this script does.
                 runtime_env={"env_vars": dict(ONE_THREAD, PYTHONPATH=BENCH)})
        import ray.data
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        # Ray Data dispatches blocks as soon as the first actor is up (up to 4 per actor), so the N
        # blocks would queue on whichever actor starts first; the pool is fixed at N, so wait for it.
        ctx.wait_for_min_actors_s = int(self.a.time_limit) + 1

    def stop(self):
        import ray
        try:
            if ray.is_initialized():
                ray.shutdown()
        finally:
            if self.tmp:
                shutil.rmtree(self.tmp, ignore_errors=True)

    def run(self, batch_size):
        """One timed run: (seconds, predictions in input row order, actor stats). RunTimeout past T."""
        import ray.data
        self.runs += 1
        stats_dir = os.path.join(self.stats_root, f"run-{self.runs}")
        os.makedirs(stats_dir)
        _alarm["fired"] = False
        signal.setitimer(signal.ITIMER_REAL, self.a.time_limit)
        try:
            wall0 = time.time()
            start = time.perf_counter()
            ds = ray.data.from_arrow(self.table, override_num_blocks=self.actors).map_batches(
                Predictor, batch_format="numpy", batch_size=batch_size, concurrency=self.actors,
                fn_constructor_kwargs={"udf_file": self.a.udf_file, "names": self.names, "types": self.types,
                                       "returns": self.a.returns, "stats_dir": stats_dir})
            frame = ds.to_pandas()
            secs = time.perf_counter() - start
        except Exception as e:
            if _alarm["fired"] and not isinstance(e, RunTimeout):
                raise RunTimeout() from e
            raise
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        rows = frame[ROW].to_numpy()
        order = np.argsort(rows, kind="stable")
        if len(rows) != self.n or not np.array_equal(rows[order], np.arange(self.n)):
            raise RuntimeError(f"Ray Data returned {len(rows)} rows for {self.n} input rows, "
                               "not one per input row")
        stats = [json.load(open(p)) for p in glob.glob(os.path.join(stats_dir, "*.json"))]
        # pandas may widen a column (dates to datetime64[ns]): back to the return type's array.
        predictions = as_result_array(frame["prediction"].to_numpy()[order], self.a.returns)
        return secs, predictions, _summary(stats, wall0)


def _summary(stats, wall0):
    calls = sum(s["calls"] for s in stats)
    rows = sum(s["rows"] for s in stats)
    return {"actors": len(stats), "calls": calls, "rows": rows,
            "pool_ready_s": max((s["ready"] - wall0 for s in stats), default=0.0),
            "actor_init_s": max((s["ready"] - s["started"] for s in stats), default=0.0),
            "rows_per_actor": sorted(s["rows"] for s in stats)}


def _same(a, b):
    if a.dtype.kind == "f" and b.dtype.kind == "f":
        return np.allclose(a, b, rtol=compare.REL_TOL, atol=compare.ABS_TOL, equal_nan=True)
    return a.shape == b.shape and all(x == y for x, y in zip(a.tolist(), b.tolist()))


def relational(a, types):
    """The UDF's input rows from DuckDB as an Arrow table of the declared argument types."""
    import duckdb
    import pyarrow as pa
    con = duckdb.connect(a.db, read_only=True)
    try:
        table = con.execute(a.inputs_sql).fetch_arrow_table()
    finally:
        con.close()
    if table.num_columns != len(types):
        raise ValueError(f"--inputs-sql returns {table.num_columns} columns, --args declares {len(types)}")
    for i, (field, t) in enumerate(zip(table.schema, types)):
        if t not in SQL_TO_ARROW:
            raise ValueError(f"argument {i + 1} ({field.name}): SQL type {t} is not supported")
        want = getattr(pa, SQL_TO_ARROW[t])()
        if field.type != want:  # e.g. a DECIMAL expression for a DOUBLE argument, as DuckDB would cast
            table = table.set_column(i, field.name, table.column(i).cast(want))
    return table


def sweep(a, peer, sizes, expected, result):
    """One run per batch size (sizes past the first that holds every row in one batch would repeat
    that run, so they are left out), then R runs in all of the fastest (under the T/10 rule)."""
    times, batches = {}, {}
    for size in sizes:
        try:
            secs, predictions, stats = peer.run(size)
        except RunTimeout:
            # The stopped execution may still hold the pool's CPUs: no further runs.
            times[str(size)] = None
            result.update(sweep=times, sweep_batches=batches,
                          sweep_note=f"batch_size {size} ran over {a.time_limit:g} s; the sweep stopped there")
            return
        if not _same(predictions, expected):
            raise RuntimeError(f"batch_size {size} gave other predictions than the default batch size")
        times[str(size)], batches[str(size)] = secs, stats["calls"]
        result.update(sweep=times, sweep_batches=batches)
        if size >= peer.n:
            break
    if not times:
        return
    best = min(times, key=times.get)
    best_times = [times[best]]
    try:
        for _ in range(a.repeat - 1 if times[best] <= a.time_limit / 10 else 0):
            best_times.append(peer.run(int(best))[0])
    except RunTimeout:
        best_times.append(a.time_limit)  # a lower bound, as run.py records a timeout
        result["sweep_note"] = f"a rerun of batch_size {best} ran over {a.time_limit:g} s"
    result.update(best_batch=int(best), best_times_s=best_times, best_median_s=statistics.median(best_times))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for opt in ("--system", "--query", "--db", "--sql", "--inputs-sql", "--udf-name", "--udf-file", "--args",
                "--returns", "--result-csv", "--work-dir"):
        ap.add_argument(opt, required=opt not in ("--system", "--query", "--sql", "--udf-name", "--work-dir"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--time-limit", type=float, default=60)
    ap.add_argument("--actors", type=int, default=os.cpu_count(), help="actor pool size (default: cores)")
    ap.add_argument("--sweep", default="1024,4096,16384,65536", help="batch sizes to try ('' = none)")
    ap.add_argument("--object-store-mb", type=int, default=2048)
    a = ap.parse_args()
    types = [t.strip().upper() for t in a.args.split(",")]
    a.returns = a.returns.strip().upper()
    sweep_sizes = [int(s) for s in a.sweep.split(",") if s.strip()]
    result = {"status": "error", "times_s": []}
    peer = None
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))  # still stop the cluster
    begin = time.perf_counter()
    try:
        import pyarrow as pa
        t0 = time.perf_counter()
        table = relational(a, types)
        result["relational_s"] = time.perf_counter() - t0
        names = table.column_names
        if ROW in names:
            raise ValueError(f"an input column is named {ROW}, the row number column of this script")
        n = table.num_rows
        table = table.append_column(ROW, pa.array(np.arange(n, dtype=np.int64)))
        result.update(rows_udf=n, actors=a.actors, blocks=a.actors, default_batch_size=None)

        peer = RayPeer(a, table, names, types)
        t0 = time.perf_counter()
        peer.start()
        result["startup_s"] = time.perf_counter() - t0

        # Default batch size: one untimed warm-up, then R runs unless the warm-up took over T/10.
        warm, expected, stats = peer.run(None)
        runs, last = ([(warm, stats)], expected) if warm > a.time_limit / 10 else ([], None)
        for _ in range(0 if runs else a.repeat):
            secs, last, stats = peer.run(None)
            if not _same(last, expected):
                raise RuntimeError("two runs with the default batch size gave different predictions")
            runs.append((secs, stats))
        result.update(status="ok", times_s=[s for s, _ in runs], rows=n,
                      batches=runs[-1][1]["calls"], mean_batch_rows=n / max(runs[-1][1]["calls"], 1),
                      pool_ready_s=[st["pool_ready_s"] for _, st in runs],
                      actor_init_s=max(st["actor_init_s"] for _, st in runs),
                      rows_per_actor=runs[-1][1]["rows_per_actor"])
        inputs = [as_udf_array(table.column(i).to_numpy(), t) for i, t in enumerate(types)]
        compare.write_rows(a.result_csv, names + ["prediction"], inputs + [last], types + [a.returns])
        sweep(a, peer, sweep_sizes, expected, result)
    except RunTimeout:
        result.update(status="timeout", times_s=[], error=f"a run took longer than {a.time_limit:g} s")
    except Exception as e:  # reported in the JSON line, which run.py records
        traceback.print_exc()
        result.update(status="error", error=f"{type(e).__name__}: {e}")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        if peer:
            peer.stop()
    result["peer_wall_s"] = time.perf_counter() - begin
    print(json.dumps(result, default=_json_default), flush=True)


def _json_default(v):
    if isinstance(v, (np.integer, np.floating)):
        return v.item()
    return str(v)


if __name__ == "__main__":
    main()
