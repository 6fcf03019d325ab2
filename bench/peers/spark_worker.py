"""The Python-worker side of bench/peers/spark_pandas_udf.py: the pandas UDF's body.

This is a module of its own, not part of the driver script, because cloudpickle ships functions of the
driver's __main__ by value (with copies of the globals they use), which would give every Spark task a
fresh, empty model cache. Functions of an importable module travel by reference: the worker imports
this module once (bench/peers is on the workers' PYTHONPATH) and its _UDFS cache lives as long as the
worker process does (spark.python.worker.reuse, Spark's default), so pyinitial() runs once per worker.
"""
import os

import numpy as np
import pandas as pd

from common import as_result_array, as_udf_array, load_staged_udf

_UDFS = {}  # UDF file path -> its pyfun, pyinitial() already called


def staged_udf(path, loads_acc):
    """The staged UDF file's pyfun, loaded (and pyinitial() run) once per worker process."""
    pyfun = _UDFS.get(path)
    if pyfun is None:
        loads_acc.add(1)
        pyfun = _UDFS[path] = load_staged_udf(path, "imlane_udf_spark")
    return pyfun


def make_prewarm(path, loads_acc):
    """A pandas UDF body that loads the UDF in its worker ahead of the query (as postgres-plpython's
    warm-up call does) and returns the worker's pid, so the driver can tell how many workers it
    reached. A pandas UDF, not an RDD map: Spark keeps the workers of SQL UDFs in a pool of their
    own (their environment differs), and the query's tasks must find these workers there."""
    path = os.path.abspath(path)

    def prewarm(ids: pd.Series) -> pd.Series:
        staged_udf(path, loads_acc)
        return pd.Series(np.full(len(ids), os.getpid(), dtype=np.int64))

    return prewarm


def from_numpy(values, sql_type, n):
    """pyfun's result as a Series of the declared return type (what Arrow serialises back to Spark)."""
    if len(values) != n:
        raise ValueError(f"spark_pandas_udf: the UDF returned {len(values)} values for {n} rows")
    out = pd.Series(as_result_array(values, sql_type))
    return out.dt.date if sql_type == "DATE" else out


def call(path, arg_types, return_type, series, accs):
    """One Arrow batch: Series -> numpy -> pyfun -> Series; counts rows, calls and loads for the driver."""
    rows_acc, calls_acc, loads_acc = accs
    pyfun = staged_udf(path, loads_acc)
    n = len(series[0]) if series else 0
    out = pyfun(*[as_udf_array(s, t) for s, t in zip(series, arg_types)])
    rows_acc.add(n)
    calls_acc.add(1)
    return from_numpy(out, return_type, n)


def make_predict(path, arg_types, return_type, accs):
    """The Series-to-Series function for pyspark's pandas_udf; it carries only picklable arguments and
    calls this module's call() (by reference), so the cache above is the worker's, not a copy."""
    path = os.path.abspath(path)

    def predict(*series: pd.Series) -> pd.Series:
        return call(path, arg_types, return_type, series, accs)

    return predict
