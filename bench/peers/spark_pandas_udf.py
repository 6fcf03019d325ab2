"""The `spark-pandas-udf` peer: the query in PySpark's SQL, the UDF as a Series-to-Series pandas_udf.

What a Spark user would run: PySpark 3.5 in local[N] (N = cores, one JVM holding the driver and the
executor threads), the benchmark's tables exported once from the DuckDB file to Parquet and registered
as temp views of the same names, Arrow enabled. The UDF runs in PySpark's Python workers (one process
per running task, reused across the tasks and runs of a query), each of which loads the staged UDF
file and calls pyinitial() once (bench/peers/spark_worker.py), then pyfun(*numpy arrays) once per
Arrow batch of spark.sql.execution.arrow.maxRecordsPerBatch rows.

Timed: spark.sql(q).toPandas(), from the submit of the query text to the rows as a pandas DataFrame in
the driver (Arrow collect, what a pandas user calls). The SparkSession start (JVM launch) is untimed
and reported as "startup_s", the Parquet export as "export_s".

times_s are the runs at Spark's default maxRecordsPerBatch (10000). After them, a short sweep runs
the query once per size in --sweep (skipping a size that cannot batch differently: one above the
rows the UDF sees, when another such size ran); "sweep" maps each size to its median seconds,
"best_batch" is the fastest, and "best_times_s" its runs (the sweep run plus up to R-1 more). The
interface is in bench/peers/__init__.py.
"""
import argparse
import csv
import datetime
import decimal
import json
import math
import os
import re
import signal
import statistics
import sys
import threading
import time

PEERS = os.path.dirname(os.path.abspath(__file__))
DEFAULT_BATCH = 10000  # spark.sql.execution.arrow.maxRecordsPerBatch's default in Spark 3.5
RETURN_TYPES = {"DOUBLE": "double", "FLOAT": "float", "INTEGER": "int", "BIGINT": "bigint",
                "SMALLINT": "smallint", "TINYINT": "tinyint", "BOOLEAN": "boolean", "VARCHAR": "string",
                "DATE": "date"}


class Timeout(Exception):
    pass


def log(msg):
    print(f"spark_pandas_udf: {msg}", file=sys.stderr, flush=True)


# ---- data: Parquet exports of the DuckDB tables ------------------------------------------------------

def export_tables(db, sql, parquet_dir, cores):
    """Writes every table `sql` mentions to <parquet_dir>/<table>.parquet unless a copy newer than the
    DuckDB file exists; returns {table: path}."""
    import duckdb
    os.makedirs(parquet_dir, exist_ok=True)
    con = duckdb.connect(db, read_only=True)
    try:
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall()]
        mentioned = [t for t in tables if re.search(rf"\b{re.escape(t)}\b", sql, re.IGNORECASE)]
        if not mentioned:
            raise ValueError(f"the query names none of the tables in {db}: {tables}")
        paths = {}
        for t in mentioned:
            path = os.path.join(parquet_dir, f"{t}.parquet")
            paths[t] = path
            if os.path.exists(path) and os.path.getmtime(path) > os.path.getmtime(db):
                continue
            rows = con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
            # Spark parallelises a Parquet scan by row group: at least 4 per core (DuckDB's default of
            # 122,880 rows would leave a small table in one group, so one task on one core).
            group = max(2048, min(122880, math.ceil(rows / (4 * cores))))
            tmp = path + ".tmp"
            con.execute(f"COPY \"{t}\" TO '{tmp}' (FORMAT parquet, ROW_GROUP_SIZE {group})")
            os.replace(tmp, path)
        return paths
    finally:
        con.close()


# ---- Spark ------------------------------------------------------------------------------------------

def start_spark(cores, work_dir):
    # The environment the JVM, and through it the Python workers, inherit: the venv's python, this
    # directory importable (spark_worker), one BLAS/OpenMP thread per worker as in an IMLane executor
    # (N workers run at once on N cores).
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    os.environ["PYTHONPATH"] = PEERS
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ[var] = "1"
    from pyspark.sql import SparkSession
    total_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    memory_gb = int(max(1, min(8, total_gb // 4)))  # driver = executor in local mode; workers are extra
    tmp = os.path.join(work_dir, "tmp")
    os.makedirs(tmp, exist_ok=True)
    # Spark 3.5's launcher adds the --add-opens options Java 17 needs to the driver JVM itself; Arrow's
    # Netty allocator also wants reflective access to direct buffers.
    # Spark's scratch space (spark.local.dir) defaults to java.io.tmpdir: under the work dir, not /tmp.
    java_opts = f"-Dio.netty.tryReflectionSetAccessible=true -Djava.io.tmpdir={tmp}"
    builder = (SparkSession.builder.master(f"local[{cores}]").appName("imlane-bench")
               .config("spark.driver.memory", f"{memory_gb}g")
               .config("spark.driver.extraJavaOptions", java_opts)
               .config("spark.driver.host", "127.0.0.1")
               .config("spark.driver.bindAddress", "127.0.0.1")
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.sql.execution.arrow.pyspark.enabled", "true")
               .config("spark.sql.execution.arrow.pyspark.fallback.enabled", "false")
               # One Parquet file per table: without this a file under 4 MB is one split, one task.
               .config("spark.sql.files.openCostInBytes", str(64 * 1024))
               .config("spark.sql.shuffle.partitions", str(max(8, 4 * cores))))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def stop_spark(spark):
    """Stops the session and makes sure the JVM (and with it the Python workers' daemon) is gone."""
    from pyspark import SparkContext
    gateway = SparkContext._gateway
    if spark is not None:
        try:
            spark.stop()
        except Exception as e:  # noqa: BLE001  (the JVM may already be gone; kill it below either way)
            log(f"spark.stop() failed: {e}")
    proc = getattr(gateway, "proc", None) if gateway is not None else None
    if gateway is not None:
        try:
            gateway.shutdown()
        except Exception:  # noqa: BLE001
            pass
    if proc is not None:
        try:
            proc.stdin.close()  # the gateway JVM exits on EOF on its stdin
            proc.wait(timeout=20)
        except Exception:  # noqa: BLE001
            proc.kill()
            proc.wait()
    SparkContext._gateway = None
    SparkContext._jvm = None


class Runner:
    """Runs the query; each run is its own Spark job group, cancelled when it exceeds the limit."""

    def __init__(self, spark, sql, time_limit, rows_acc, calls_acc):
        self.spark, self.sql, self.time_limit = spark, sql, time_limit
        self.rows_acc, self.calls_acc = rows_acc, calls_acc
        self.runs = 0

    def run(self, batch):
        sc = self.spark.sparkContext
        self.spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(batch))
        self.rows_acc.value = 0
        self.calls_acc.value = 0
        self.runs += 1
        group = f"run-{self.runs}"
        sc.setJobGroup(group, f"batch {batch}", interruptOnCancel=True)
        expired = threading.Event()

        def cancel():
            expired.set()
            sc.cancelJobGroup(group)

        timer = threading.Timer(self.time_limit, cancel)
        timer.start()
        start = time.perf_counter()
        try:
            frame = self.spark.sql(self.sql).toPandas()
        except Exception:
            if expired.is_set():
                raise Timeout(f"a run at maxRecordsPerBatch {batch} took over {self.time_limit:g} s "
                              f"(cancelled, ended after {time.perf_counter() - start:.1f} s)")
            raise
        finally:
            timer.cancel()
        secs = time.perf_counter() - start
        if expired.is_set():  # finished just as the timer fired
            raise Timeout(f"a run at maxRecordsPerBatch {batch} took over {self.time_limit:g} s")
        return secs, frame, (self.rows_acc.value, self.calls_acc.value)


# ---- result rows ------------------------------------------------------------------------------------

def _cell(v, integral):
    """A value in the spelling bench_duckdb writes (compare.py normalises the rest)."""
    if v is None:
        return ""
    if isinstance(v, float):
        if math.isnan(v):
            return ""  # toPandas turns NULLs of numeric columns into NaN
        return str(int(v)) if integral else repr(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, datetime.datetime):
        return v.isoformat(sep=" ")
    if isinstance(v, datetime.date):
        return v.isoformat()
    if isinstance(v, decimal.Decimal):
        return str(v)
    return str(v)


def write_csv(frame, schema, path):
    from pyspark.sql.types import IntegralType
    integral = [isinstance(f.dataType, IntegralType) for f in schema.fields]
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(list(frame.columns))
        for row in frame.astype(object).itertuples(index=False, name=None):
            w.writerow([_cell(v.item() if hasattr(v, "item") else v, i) for v, i in zip(row, integral)])


# ---- main -------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--system", default="spark-pandas-udf")
    ap.add_argument("--query", required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--sql", required=True, help="the query in Spark SQL, the UDF's name already in it")
    ap.add_argument("--inputs-sql", help="unused: Spark runs the query itself")
    ap.add_argument("--udf-name", required=True)
    ap.add_argument("--udf-file", required=True)
    ap.add_argument("--args", required=True)
    ap.add_argument("--returns", required=True)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--time-limit", type=float, default=60)
    ap.add_argument("--result-csv", required=True)
    ap.add_argument("--work-dir", required=True)
    ap.add_argument("--sweep", default="2048,50000,200000",
                    help="maxRecordsPerBatch sizes tried besides the default 10000 ('' = no sweep)")
    a = ap.parse_args()
    arg_types = [t.strip().upper() for t in a.args.split(",")]
    return_type = a.returns.strip().upper()
    if return_type not in RETURN_TYPES:
        raise SystemExit(f"spark_pandas_udf: return type {return_type} is not supported")
    sweep_sizes = [int(s) for s in a.sweep.split(",") if s.strip() and int(s) != DEFAULT_BATCH]
    cores = os.cpu_count() or 1
    work_dir = os.path.join(os.path.abspath(a.work_dir), "spark")
    out = {"status": "error", "times_s": []}
    spark = None
    # A SIGTERM still stops Spark (the finally below); on SIGKILL the JVM exits when its stdin closes.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(f"spark_pandas_udf: terminated during {a.query}"))
    try:
        t0 = time.perf_counter()
        paths = export_tables(os.path.abspath(a.db), a.sql, os.path.join(work_dir, "parquet"), cores)
        out["export_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        spark = start_spark(cores, work_dir)
        out["startup_s"] = time.perf_counter() - t0
        out["cores"] = cores

        from pyspark.sql.functions import pandas_udf
        import spark_worker
        for table, path in paths.items():
            spark.read.parquet(path).createOrReplaceTempView(table)
        sc = spark.sparkContext
        rows_acc, calls_acc, loads_acc = sc.accumulator(0), sc.accumulator(0), sc.accumulator(0)
        accs = (rows_acc, calls_acc, loads_acc)
        predict = spark_worker.make_predict(a.udf_file, arg_types, return_type, accs)
        spark.udf.register(a.udf_name, pandas_udf(predict, RETURN_TYPES[return_type]))
        runner = Runner(spark, a.sql, a.time_limit, rows_acc, calls_acc)

        def note(counts):
            rows, calls = counts
            return {"rows_udf": rows, "mean_batch_rows": rows / calls if calls else 0.0}

        # The Python workers start and load the model before the query, one task per core (the
        # tasks overlap, so each lands in a worker of its own; workers are reused afterwards).
        t0 = time.perf_counter()
        prewarm = pandas_udf(spark_worker.make_prewarm(a.udf_file, loads_acc), "bigint")
        pids = spark.range(0, cores, 1, cores).select(prewarm("id").alias("pid")).collect()
        out.update(prewarm_s=time.perf_counter() - t0, prewarm_workers=len({r.pid for r in pids}))

        # Warm-up, then the timed runs at the default batch size.
        secs, frame, counts = runner.run(DEFAULT_BATCH)
        times = []
        warm = secs <= a.time_limit / 10
        if not warm:
            times.append(secs)  # a slow run is not repeated: the warm-up is its time (as bench_duckdb)
        while warm and len(times) < a.repeat:
            secs, frame, counts = runner.run(DEFAULT_BATCH)
            times.append(secs)
            out["times_s"] = times
            if secs > a.time_limit / 10:
                break
        out.update(times_s=times, rows=len(frame), **note(counts))
        write_csv(frame, spark.sql(a.sql).schema, a.result_csv)

        # The sweep: one run per other size, then the best size's run repeated like the default's.
        # The default enters with its timed runs, or, when its only time was the warm-up (which the
        # other sizes would not pay again), with one more run.
        rerun_default = not warm and bool(sweep_sizes)
        sizes = [DEFAULT_BATCH] * rerun_default + sweep_sizes
        runs = {} if rerun_default else {DEFAULT_BATCH: (times, note(counts))}
        sweep = {}
        # Batches never exceed the UDF's rows: sizes beyond them all batch alike, so one of them runs.
        rows_udf = out["rows_udf"]
        covered = set() if rerun_default else {min(DEFAULT_BATCH, rows_udf)}
        for size in sizes:
            if min(size, rows_udf) in covered:
                continue
            covered.add(min(size, rows_udf))
            try:
                secs, frame_s, counts_s = runner.run(size)
            except Timeout:
                sweep[str(size)] = None
                continue
            if len(frame_s) != len(frame):
                raise RuntimeError(f"maxRecordsPerBatch {size} returned {len(frame_s)} rows, "
                                   f"{DEFAULT_BATCH} returned {len(frame)}")
            sweep[str(size)] = secs
            runs[size] = ([secs], note(counts_s))
        if not runs:  # every size of the sweep timed out: the default's own time stands
            runs[DEFAULT_BATCH] = (times, note(counts))
        best = min(runs, key=lambda s: statistics.median(runs[s][0]))
        best_times, best_note = runs[best]
        while best != DEFAULT_BATCH and len(best_times) < a.repeat and best_times[-1] <= a.time_limit / 10:
            secs, _, counts_b = runner.run(best)
            best_times.append(secs)
            best_note = note(counts_b)
        sweep.update({str(size): statistics.median(r[0]) for size, r in runs.items()})
        # pyinitial() calls over all runs: one per Python worker the UDF ran in, if the cache works.
        out.update(status="ok", udf_loads=loads_acc.value, sweep=sweep, best_batch=best,
                   best_times_s=best_times, best_mean_batch_rows=best_note["mean_batch_rows"])
    except Timeout as e:
        out.update(status="timeout", error=str(e))
    except Exception as e:  # noqa: BLE001  (reported in the JSON line; run.py records it)
        out.update(status="error", error=f"{type(e).__name__}: {e}"[:2000])
    finally:
        t0 = time.perf_counter()
        stop_spark(spark)
        out["shutdown_s"] = time.perf_counter() - t0
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
