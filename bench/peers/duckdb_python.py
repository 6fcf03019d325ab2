"""The `duckdb-python-arrow` and `duckdb-python-native` peers: DuckDB's own Python UDFs.

The `duckdb` package from PyPI (requirements/duckdb.txt, the DuckDB release IMLane is built against)
opens the benchmark's database file, and the staged UDF is registered with
`con.create_function(..., type='arrow')` (one call per DuckDB vector of 2048 rows, columns as Arrow
arrays; what the IMBridge experiments used) or `type='native'` (one call per row). The model is
loaded once, at registration (staged loading at module level). Every call runs in the DuckDB process
under its GIL, so the UDF runs on one core at a time whatever DuckDB's thread count.
Interface: bench/peers/__init__.py.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402

common.one_thread_per_process()  # as in IMLane's executors and bench/limit.py (before numpy loads)

import duckdb  # noqa: E402
import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402

ARROW_TYPES = {"DOUBLE": pa.float64(), "FLOAT": pa.float32(), "INTEGER": pa.int32(), "BIGINT": pa.int64(),
               "SMALLINT": pa.int16(), "TINYINT": pa.int8(), "BOOLEAN": pa.bool_(), "VARCHAR": pa.string()}


class Counted:
    """The UDF as DuckDB calls it, counting calls and rows (mean rows per call)."""

    def __init__(self, pyfun, arg_types, ret_type):
        self.pyfun, self.arg_types, self.ret_type = pyfun, arg_types, ret_type
        self.calls = self.rows = 0

    def arrow(self, *arrays):
        cols = [common.as_udf_array(a, t) for a, t in zip(arrays, self.arg_types)]
        n = len(cols[0]) if cols else 0
        self.calls += 1
        self.rows += n
        out = np.asarray(self.pyfun(*cols))
        if len(out) != n:
            raise ValueError(f"the UDF returned {len(out)} values for {n} rows")
        if self.ret_type != "VARCHAR":
            out = out.astype(common.DTYPES[self.ret_type])
        return pa.array(out, type=ARROW_TYPES[self.ret_type])

    def native(self, *values):
        cols = [np.array([v], dtype=common.DTYPES[t]) for v, t in zip(values, self.arg_types)]
        self.calls += 1
        self.rows += 1
        out = self.pyfun(*cols)
        value = out[0]
        return value.item() if hasattr(value, "item") else value


def _with_arity(fn, n):
    """fn(*args) as a function of exactly n parameters: create_function checks the Python arity."""
    params = ", ".join(f"c{i}" for i in range(n))
    ns = {"fn": fn}
    exec(f"def udf({params}):\n    return fn({params})\n", ns)
    return ns["udf"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for opt in ("--system", "--query", "--db", "--sql", "--udf-name", "--udf-file", "--args", "--returns",
                "--result-csv"):
        ap.add_argument(opt, required=True)
    ap.add_argument("--inputs-sql")
    ap.add_argument("--work-dir")
    ap.add_argument("--sweep", help="unused: DuckDB's vector size is fixed")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--time-limit", type=float, default=60)
    a = ap.parse_args()
    kind = {"duckdb-python-arrow": "arrow", "duckdb-python-native": "native"}.get(a.system)
    if kind is None:
        common.fail(f"duckdb_python.py runs duckdb-python-arrow or duckdb-python-native, not {a.system}")
    arg_types, ret_type = common.sql_types(a.args), a.returns.strip().upper()
    unsupported = [t for t in arg_types + [ret_type] if t not in ARROW_TYPES and t not in ("DATE", "TIMESTAMP")]
    if unsupported:
        common.fail(f"type(s) {unsupported} are not supported by this peer")

    con = duckdb.connect(a.db, read_only=True)  # threads: DuckDB's default, all cores
    udf = Counted(common.load_staged_udf(a.udf_file), arg_types, ret_type)
    con.create_function(a.udf_name, _with_arity(udf.arrow if kind == "arrow" else udf.native, len(arg_types)),
                        [con.type(t) for t in arg_types], con.type(ret_type), type=kind)

    runner = common.Runner(a.repeat, a.time_limit)
    calls_before = rows_before = 0

    def once():
        nonlocal calls_before, rows_before
        calls_before, rows_before = udf.calls, udf.rows
        return con.execute(a.sql).fetch_arrow_table()  # submit to the whole result, fetched

    try:
        table = runner.run(once, interrupt=con.interrupt)
    except Exception as e:  # the query's own error, reported as the other systems report theirs
        common.fail(f"{type(e).__name__}: {e}")
    calls, rows = udf.calls - calls_before, udf.rows - rows_before
    if table is not None:
        out = duckdb.connect()
        out.from_arrow(table).write_csv(a.result_csv, header=True)
        out.close()
    common.emit(status=runner.status, times_s=runner.times, error=runner.error,
                rows=None if table is None else table.num_rows, rows_udf=rows,
                mean_batch_rows=rows / calls if calls else None)


if __name__ == "__main__":
    main()
