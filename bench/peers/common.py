"""What every peer shares: the staged UDF loaded as IMLane's executors load it, the arrays they hand it,
the timed-run protocol of bench/peers/__init__.py and the one JSON line a peer prints."""
import json
import os
import sys
import time

import numpy as np

# The numpy dtype IMLane's executors hand a function, per SQL type (README, "Types"), for the types the
# benchmark's UDFs take. VARCHAR is an object array of str.
DTYPES = {"DOUBLE": np.float64, "FLOAT": np.float32, "INTEGER": np.int32, "BIGINT": np.int64,
          "SMALLINT": np.int16, "TINYINT": np.int8, "BOOLEAN": np.bool_, "DATE": "datetime64[D]",
          "TIMESTAMP": "datetime64[us]", "VARCHAR": object}


def sql_types(arg_list):
    return [t.strip().upper() for t in arg_list.split(",")]


def one_thread_per_process():
    """BLAS/OpenMP/torch on one thread, as in an IMLane executor: parallelism comes from processes.
    Must run before numpy's libraries start their pools (in a worker, before the UDF is loaded)."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ[var] = "1"
    try:
        from threadpoolctl import threadpool_limits  # Debian's, beside scikit-learn
        threadpool_limits(1)
    except ImportError:
        pass


def load_staged_udf(path, module_name="imlane_udf_peer"):
    """Runs the staged UDF file as a module (with its __file__, so it finds its models) and its
    pyinitial() once; returns pyfun."""
    ns = {"__file__": os.path.abspath(path), "__name__": module_name}
    with open(path) as f:
        exec(compile(f.read(), path, "exec"), ns)
    if "pyinitial" in ns:
        ns["pyinitial"]()
    return ns["pyfun"]


def as_udf_array(values, sql_type):
    """A column (numpy array, pandas Series, pyarrow array, list) as the array an executor would give
    for sql_type: contiguous numbers of its dtype, bool, an object array of str, datetime64[D]."""
    if sql_type not in DTYPES:
        raise ValueError(f"SQL type {sql_type} is not supported by the benchmark's peers")
    if hasattr(values, "to_numpy") and hasattr(values, "type"):  # pyarrow (Chunked)Array
        values = values.to_numpy(zero_copy_only=False)
    elif hasattr(values, "to_numpy"):  # pandas
        values = values.to_numpy()
    dtype = DTYPES[sql_type]
    arr = np.asarray(values)
    if dtype is object:
        return arr if arr.dtype == object else arr.astype(object)
    if arr.dtype == object and sql_type in ("DATE", "TIMESTAMP"):  # datetime.date objects (Spark, pandas)
        arr = arr.astype("datetime64[us]")
    return np.ascontiguousarray(arr, dtype=dtype)


def as_result_array(values, sql_type):
    """pyfun's result as a column of the SQL return type (what IMLane converts it to)."""
    out = np.asarray(values)
    if sql_type == "VARCHAR":
        return out if out.dtype == object else np.array([str(v) for v in out.tolist()], dtype=object)
    return as_udf_array(out, sql_type)


class Runner:
    """One untimed warm-up, then the timed runs; a run over a tenth of the time limit is the only one
    (as bench_duckdb does), one over the limit ends the peer with status "timeout"."""

    def __init__(self, repeat, time_limit):
        self.repeat, self.time_limit = repeat, time_limit
        self.times, self.status, self.error = [], "ok", None

    def run(self, once, interrupt=None):
        """once() runs the query and returns its result; interrupt() (optional) stops a running one
        from another thread. Returns the last result (None after a timeout)."""
        import threading

        last = None
        for i in range(1 + self.repeat):
            timer = threading.Timer(self.time_limit, interrupt) if interrupt else None
            if timer:
                timer.start()
            start = time.perf_counter()
            try:
                last = once()
            except Exception:  # an interrupted run raises; anything else is the peer's error
                if time.perf_counter() - start >= self.time_limit:
                    self.status, self.error = "timeout", f"stopped after {self.time_limit:g} s"
                    return None
                raise
            finally:
                if timer:
                    timer.cancel()
            secs = time.perf_counter() - start
            if secs >= self.time_limit:
                self.status, self.error = "timeout", f"took {secs:.1f} s, over the {self.time_limit:g} s limit"
                return None
            if i > 0 or secs > self.time_limit / 10:
                self.times.append(secs)
            if i == 0 and secs > self.time_limit / 10:
                break
        return last


def emit(**record):
    """The one JSON line run.py reads."""
    print(json.dumps(record, default=float), flush=True)


def fail(message):
    emit(status="error", times_s=[], error=message)
    sys.exit(0)
