"""The imlane Python API over DuckDB's Python package: connect/load, functions from this session
(module-level source, lambdas and closures through cloudpickle), results as DataFrames.

Real processes: each test has its own coordinator (socket in its own tmp dir). Run by ctest in a
fresh venv with the package pip-installed (run_in_fresh_venv.sh); IMLANE_BUILD_DIR names the build tree.
"""
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest

import imlane

BUILD_DIR = os.environ.get("IMLANE_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
EXTENSION = os.path.abspath(os.path.join(BUILD_DIR, "lib", "duckdb", "extensions", "imlane.duckdb_extension"))
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


@pytest.fixture
def con(tmp_path):
    c = imlane.connect(extension=EXTENSION, socket=str(tmp_path / "imlane.sock"))
    yield c
    c.close()


def test_the_installed_package_is_the_one_tested():
    expected = os.environ.get("IMLANE_EXPECT_PREFIX")  # set by run_in_fresh_venv.sh (ctest)
    if expected:
        assert imlane.__file__.startswith(os.path.join(expected, "lib")), imlane.__file__
        assert sys.prefix == expected


def test_a_closure_over_a_fitted_model_runs_in_the_executors(con):
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(3)
    X = rng.normal(size=(3000, 2))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    imlane.create_function(con, "label", lambda a, b: model.predict(np.column_stack([a, b])),
                           args=["DOUBLE", "DOUBLE"], returns="INTEGER")
    df = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "g": np.arange(3000) % 3})
    con.register("t", df)
    got = con.sql("SELECT a, b, label(a, b) AS l FROM t").df()
    assert got["l"].dtype == np.int32
    np.testing.assert_array_equal(got["l"].to_numpy(), model.predict(got[["a", "b"]].to_numpy()))
    # WHERE, GROUP BY and JOIN, against pandas on the same data.
    n = con.sql("SELECT count(*) FROM t WHERE label(a, b) = 1").fetchone()[0]
    assert n == int(model.predict(X).sum())
    by = con.sql("SELECT g, sum(label(a, b)) AS s FROM t GROUP BY g ORDER BY g").df()
    expected = df.assign(l=model.predict(X)).groupby("g")["l"].sum()
    np.testing.assert_array_equal(by["s"].to_numpy(), expected.to_numpy())
    con.register("u", pd.DataFrame({"g": [0, 1, 2], "name": ["x", "y", "z"]}))
    joined = con.sql("SELECT u.name, count(*) AS c FROM t JOIN u USING (g) WHERE label(a, b) = 0 "
                     "GROUP BY u.name ORDER BY u.name").fetchall()
    exp = df.assign(l=model.predict(X)).query("l == 0").groupby("g").size()
    assert [c for _, c in joined] == list(exp.to_numpy())


def test_nulls_and_types_come_back_as_pandas_expects(con):
    def half(x):
        assert not np.isnan(x).any(), "NULL reached the function"
        return x / 2

    # null_handling='default': the NULL row is NULL without reaching the function (it used to reach
    # it as NaN; that is null_handling='special' now, see the next test).
    imlane.create_function(con, "half", half, args=["DOUBLE"], returns="DOUBLE")
    got = con.sql("SELECT half(v) AS h FROM (VALUES (1.0), (NULL), (5.0)) t(v)").df()
    assert got["h"].dtype == np.float64
    assert got["h"][0] == 0.5 and got["h"][2] == 2.5
    assert np.isnan(got["h"][1])  # NULL, as pandas shows it
    assert con.sql("SELECT half(v) AS h FROM (VALUES (4.0)) t(v)").fetchall() == [(2.0,)]


def test_null_and_exception_handling_options(con):
    import duckdb

    con.execute("CREATE TABLE t AS SELECT i, CASE WHEN i % 4 = 0 THEN NULL ELSE i END AS v FROM range(1000) r(i)")
    # 'special': the function sees NULL (an integer column is a masked array, its mask the NULLs).
    imlane.create_function(con, "is_null", lambda x: np.ma.getmaskarray(x), args=["BIGINT"], returns="BOOLEAN",
                           null_handling="special")
    assert con.sql("SELECT count(*) FROM t WHERE is_null(v)").fetchone()[0] == 250
    # What numpy makes of a masked array stays masked: NULL in, NULL out.
    imlane.create_function(con, "isnan_special", lambda x: np.isnan(x), args=["BIGINT"], returns="BOOLEAN",
                           null_handling="special")
    assert con.sql("SELECT count(*), count(isnan_special(v)) FROM t").fetchone() == (1000, 750)

    # 'default': it does not, and the integers keep their dtype.
    def checked(x):
        assert x.dtype == np.int64, x.dtype
        return x + 1

    imlane.create_function(con, "plus1", checked, args=["BIGINT"], returns="BIGINT")
    assert con.sql("SELECT count(plus1(v)), sum(plus1(v) - v) FROM t").fetchone() == (750, 750)

    # 'return_null': only the raising rows are NULL; 'default': the query fails.
    def picky(x):
        if (x % 100 == 7).any():
            raise ValueError("unlucky row")
        return x * 10

    imlane.create_function(con, "picky", picky, args=["BIGINT"], returns="BIGINT", exception_handling="return_null")
    rows = con.sql("SELECT i FROM t WHERE picky(i) IS NULL ORDER BY i").fetchall()
    assert [r[0] for r in rows] == list(range(7, 1000, 100))
    assert con.sql("SELECT sum(picky(i)) FROM t").fetchone()[0] == 10 * (sum(range(1000)) - sum(range(7, 1000, 100)))
    imlane.create_function(con, "picky_strict", picky, args=["BIGINT"], returns="BIGINT")
    with pytest.raises(duckdb.Error, match="unlucky row"):
        con.sql("SELECT sum(picky_strict(i)) FROM t").fetchall()

    listed = imlane.functions(con).set_index("name")
    assert listed.loc["is_null", "null_handling"] == "special"
    assert listed.loc["plus1", "null_handling"] == "default"
    assert listed.loc["picky", "exception_handling"] == "return_null"
    assert listed.loc["picky_strict", "exception_handling"] == "default"
    assert not listed.loc["picky", "side_effects"]

    with pytest.raises(ValueError, match="null_handling must be 'default' or 'special', got 'sometimes'"):
        imlane.create_function(con, "f", checked, args=["BIGINT"], returns="BIGINT", null_handling="sometimes")
    with pytest.raises(ValueError, match="exception_handling must be 'default' or 'return_null', got 'skip'"):
        imlane.create_function(con, "f", checked, args=["BIGINT"], returns="BIGINT", exception_handling="skip")


def test_side_effects_make_the_function_volatile(con):
    import itertools

    counter = itertools.count()

    def tick(x):
        return np.array([os.getpid() * 1_000_000 + next(counter) for _ in range(len(x))])

    imlane.create_function(con, "tick", tick, args=["BIGINT"], returns="BIGINT")
    imlane.create_function(con, "vtick", tick, args=["BIGINT"], returns="BIGINT", side_effects=True)
    assert con.sql("SELECT count(DISTINCT tick(1)) FROM range(50)").fetchone()[0] == 1  # folded
    assert con.sql("SELECT count(DISTINCT vtick(1)) FROM range(50)").fetchone()[0] == 50
    assert bool(imlane.functions(con).set_index("name").loc["vtick", "side_effects"])


def test_a_module_level_class_is_shipped_as_source(con, tmp_path):
    module = tmp_path / "udfmod.py"
    module.write_text(textwrap.dedent("""
        import numpy as np
        import imlane

        @imlane.function(args=["BIGINT"], returns="BIGINT")
        class Plus:
            def __init__(self):
                self.k = 41
            def __call__(self, x):
                return np.asarray(x, dtype=np.int64) + self.k
    """))
    sys.path.insert(0, str(tmp_path))
    try:
        import udfmod
        imlane.create_function(con, "plus", udfmod.Plus)  # types from the declaration
    finally:
        sys.path.remove(str(tmp_path))
    assert con.sql("SELECT plus(1)").fetchone()[0] == 42
    listed = imlane.functions(con)
    row = listed[listed["name"] == "plus"].iloc[0]
    assert row["source"] == "<inline>"


def test_a_raising_function_gives_a_duckdb_error_with_the_traceback(con):
    import duckdb

    def broken(x):
        raise ValueError("model file is corrupt")

    imlane.create_function(con, "broken", broken, args=["DOUBLE"], returns="DOUBLE")
    with pytest.raises(duckdb.Error, match="model file is corrupt") as err:
        con.sql("SELECT broken(1.0)").fetchall()
    text = str(err.value)
    # The executor's traceback, down to the line of this file that raised.
    assert "Traceback (most recent call last)" in text and ", in broken" in text
    assert 'raise ValueError("model file is corrupt")' in text
    assert con.sql("SELECT 1").fetchone()[0] == 1


def test_bad_input_is_named(con):
    with pytest.raises(ValueError, match="unknown argument type 'DUBBLE'"):
        imlane.create_function(con, "f", lambda x: x, args=["DUBBLE"], returns="DOUBLE")
    with pytest.raises(TypeError, match="args="):
        imlane.create_function(con, "f", lambda x: x)
    with pytest.raises(TypeError, match="unknown IMLane setting 'bogus'"):
        imlane.load(con, extension=EXTENSION, bogus=1)
    with pytest.raises(FileNotFoundError, match="imlane.duckdb_extension not found"):
        imlane.find_extension("/nonexistent/imlane.duckdb_extension")


def test_the_package_installs_with_pip_into_a_fresh_virtualenv(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    py = str(venv / "bin" / "python")
    subprocess.run([py, "-m", "pip", "install", "-q", "--no-input", "--no-deps", "--no-build-isolation",
                    os.path.join(REPO, "contrib", "pythonpkg")], check=True, cwd=tmp_path,
                   env=dict(os.environ, IMLANE_BUILD_DIR=BUILD_DIR))
    subprocess.run([py, "-m", "pip", "install", "-q", "--no-input", "-r", os.path.join(REPO, "requirements", "duckdb.txt")],
                   check=True, cwd=tmp_path)
    script = textwrap.dedent(f"""
        import imlane, numpy as np
        con = imlane.connect(socket={str(tmp_path / 's.sock')!r})  # finds the extension by itself
        imlane.create_function(con, "sq", lambda x: np.asarray(x) ** 2, args=["DOUBLE"], returns="DOUBLE")
        print(con.sql("SELECT sum(sq(i::DOUBLE)) FROM range(10) t(i)").fetchone()[0])
    """)
    # The installed package only, found without help.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "IMLANE_EXTENSION", "IMLANE_BUILD_DIR")}
    out = subprocess.run([py, "-c", script], check=True, capture_output=True, text=True, cwd=tmp_path, env=env)
    assert out.stdout.strip() == "285.0"


def test_a_per_function_batch_size_pins_that_function_only(con):
    imlane.create_function(con, "ident8k", lambda x: x, args=["DOUBLE"], returns="DOUBLE", batch_size=8192)
    imlane.create_function(con, "ident", lambda x: x, args=["DOUBLE"], returns="DOUBLE")
    con.execute("SET imlane_batch_size = 4096")
    total = con.sql("SELECT sum(ident8k(i::DOUBLE)) + sum(ident(i::DOUBLE)) FROM range(65536) t(i)").fetchone()[0]
    assert total == 2 * sum(range(65536))
    listed = imlane.functions(con).set_index("name")
    # Whole batches: 65536 rows in 8192-row batches for the pinned one, 4096 (the setting) otherwise.
    assert listed.loc["ident8k", "mean_batch_rows"] == 8192
    assert listed.loc["ident", "mean_batch_rows"] == 4096
    with pytest.raises(ValueError, match="batch_size must be 0"):
        imlane.create_function(con, "bad", lambda x: x, args=["DOUBLE"], returns="DOUBLE", batch_size=-1)
    import duckdb
    with pytest.raises(duckdb.Error, match="batch_size must be 0"):
        con.execute("CALL imlane_create_function('bad', 'def pyfun(x): return x', 'DOUBLE', 'DOUBLE', batch_size := -5)")


def test_status_is_the_coordinators_document(con):
    imlane.create_function(con, "one", lambda x: x, args=["DOUBLE"], returns="DOUBLE")
    con.sql("SELECT one(1.0)").fetchall()
    s = imlane.status(con)
    assert len(s["executors"]) >= 1 and all(e["state"] in ("running", "busy") for e in s["executors"])
    assert [f["name"] for f in s["functions"]] == ["one"]
    assert s["functions"][0]["rows"] == 1


PARITY_UDF = "import numpy as np\ndef pyfun(a, b):\n    return np.sqrt(a) * 3.0 - b\n"
PARITY_QUERY = "SELECT id, score(a, b) AS s FROM t"


def test_python_and_the_shell_give_the_same_rows_batches_and_executors(tmp_path):
    """One query through imlane.connect and through imlane-duckdb: same rows, same batch size (above
    DuckDB's 2048), both executors serving."""
    setup = ["CREATE TABLE t AS SELECT range AS id, (range % 997)::DOUBLE AS a, (range % 13)::DOUBLE AS b "
             "FROM range(262144)"]
    settings = dict(executors=2, batch_size=16384)
    con = imlane.connect(extension=EXTENSION, socket=str(tmp_path / "py.sock"), **settings)
    try:
        for s in setup:
            con.execute(s)
        imlane.create_function(con, "score", PARITY_UDF, args=["DOUBLE", "DOUBLE"], returns="DOUBLE")
        py_rows = con.sql(PARITY_QUERY + " ORDER BY id").df()
        py_stats = imlane.functions(con).set_index("name").loc["score"]
    finally:
        con.close()

    udf = tmp_path / "score.py"
    udf.write_text(PARITY_UDF)
    out_file, stats_csv = tmp_path / "shell.parquet", tmp_path / "stats.csv"  # Parquet: exact doubles
    shell = os.path.join(BUILD_DIR, "bin", "imlane-duckdb")
    statements = [f"SET imlane_socket = '{tmp_path / 'shell.sock'}'", "SET imlane_executors = 2",
                  "SET imlane_batch_size = 16384", *setup,
                  f"CALL imlane_create_function('score', '{udf}', 'DOUBLE, DOUBLE', 'DOUBLE')",
                  f"COPY ({PARITY_QUERY} ORDER BY id) TO '{out_file}' (FORMAT parquet)",
                  f"COPY (SELECT * FROM imlane_functions() WHERE name = 'score') TO '{stats_csv}' (HEADER)"]
    args = [shell]
    for s in statements:
        args += ["-c", s]
    subprocess.run(args, check=True, capture_output=True, text=True, timeout=240)
    shell_rows = pd.read_parquet(out_file)
    shell_stats = pd.read_csv(stats_csv).iloc[0]

    assert len(py_rows) == 262144
    np.testing.assert_array_equal(py_rows["id"].to_numpy(), shell_rows["id"].to_numpy())
    np.testing.assert_array_equal(py_rows["s"].to_numpy(), shell_rows["s"].to_numpy())
    for stats in (py_stats, shell_stats):
        # 16384-row batches; each of DuckDB's two pipeline threads may end with one partial batch.
        assert stats["rows"] == 262144 and 16 <= stats["batches"] <= 17
        assert stats["executors"] == 2  # both executors served batches


def test_results_in_the_usual_forms(con):
    import pyarrow as pa

    imlane.create_function(con, "twice", lambda x: np.asarray(x) * 2, args=["BIGINT"], returns="BIGINT")
    rel = con.sql("SELECT i, twice(i) AS t FROM range(5000) r(i) ORDER BY i")
    table = rel.fetch_arrow_table()
    assert table.schema.field("t").type == pa.int64()
    assert table.column("t").to_pylist() == [2 * i for i in range(5000)]
    reader = con.sql("SELECT twice(i) AS t FROM range(3000) r(i)").arrow()  # DuckDB 1.4: a RecordBatchReader
    assert sorted(reader.read_all().column("t").to_pylist()) == [2 * i for i in range(3000)]
    # The relational API composes with a prediction.
    top = rel.filter("t % 3 = 0").aggregate("count(*) AS n, max(t) AS m").fetchone()
    assert top == (len([i for i in range(5000) if (2 * i) % 3 == 0]), 9996)


def test_duckdbs_progress_bar_follows_a_prediction_query(tmp_path):
    """query_progress() (what DuckDB's progress bar draws) rises while the executors predict."""
    import threading
    import time

    con = imlane.connect(extension=EXTENSION, socket=str(tmp_path / "p.sock"), executors=2, batch_size=16384)
    try:
        con.execute("SET enable_progress_bar = true")  # DuckDB's Python package leaves it off
        con.execute("CREATE TABLE t AS SELECT range::DOUBLE AS a FROM range(1000000)")
        imlane.create_function(con, "slow", "import time\ndef pyfun(a):\n    time.sleep(0.04)\n    return a\n",
                               args=["DOUBLE"], returns="DOUBLE")
        result = {}
        query = threading.Thread(target=lambda: result.update(v=con.execute("SELECT sum(slow(a)) FROM t").fetchone()))
        query.start()
        seen = []
        while query.is_alive():
            seen.append(con.query_progress())
            time.sleep(0.05)
        query.join()
    finally:
        con.close()
    assert result["v"] == (sum(range(1000000)),)
    running = [p for p in seen if p >= 0]
    assert any(0 < p < 100 for p in running), seen
    assert running == sorted(running), seen  # never goes back


COUNTER_MODULE = '''
class LoadCounter:
    """Every unpickling appends a line to `log`: counts the model loads in the executors."""
    def __init__(self, log, k):
        self.log, self.k = log, k
    def __setstate__(self, state):
        self.__dict__.update(state)
        with open(self.log, "a") as f:
            f.write("load\\n")
'''


def _write_model(tmp_path, k):
    """(Re)writes tmp_path/model.pkl: a LoadCounter multiplying by k, logging to tmp_path/loads.log."""
    import pickle

    (tmp_path / "counter_mod.py").write_text(COUNTER_MODULE)
    model = tmp_path / "model.pkl"
    sys.path.insert(0, str(tmp_path))
    try:
        import counter_mod
        model.write_bytes(pickle.dumps(counter_mod.LoadCounter(str(tmp_path / "loads.log"), k)))
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("counter_mod", None)
    return model


def _holistic_setup(tmp_path, k):
    model = _write_model(tmp_path, k)
    # Holistic: the model is loaded inside the function, on every batch, as written.
    return textwrap.dedent(f"""
        import sys, pickle
        sys.path.insert(0, {str(tmp_path)!r})
        def pyfun(x):
            with open({str(model)!r}, "rb") as f:
                m = pickle.load(f)
            return x * m.k
    """), model


def _loads(tmp_path):
    log = tmp_path / "loads.log"
    return log.read_text().count("load") if log.exists() else 0


def test_a_holistic_udf_loads_its_model_once_per_executor(con, tmp_path):
    code, model = _holistic_setup(tmp_path, 3)
    con.execute("SET imlane_batch_size = 4096")
    imlane.create_function(con, "hol", code, args=["DOUBLE"], returns="DOUBLE")
    rows = 50 * 4096
    for _ in range(2):  # two queries, 50 batches each
        assert con.sql(f"SELECT sum(hol(i::DOUBLE)) FROM range({rows}) t(i)").fetchone()[0] == 3 * sum(range(rows))
    stats = imlane.functions(con).set_index("name").loc["hol"]
    assert stats["batches"] >= 100
    assert 1 <= _loads(tmp_path) <= stats["executors"]  # once per executor that served it
    assert stats["cache_misses"] == _loads(tmp_path) and stats["cache_hits"] == stats["batches"] - _loads(tmp_path)
    assert stats["cache_bytes"] == model.stat().st_size * _loads(tmp_path)
    # A rewritten model file is picked up by the next query.
    _write_model(tmp_path, 5)
    before = _loads(tmp_path)
    assert con.sql("SELECT sum(hol(i::DOUBLE)) FROM range(8192) t(i)").fetchone()[0] == 5 * sum(range(8192))
    assert _loads(tmp_path) > before


def test_the_context_cache_switches_off_per_function_and_resets(con, tmp_path):
    code, _ = _holistic_setup(tmp_path, 2)
    con.execute("SET imlane_batch_size = 4096")
    imlane.create_function(con, "nocache", code, args=["DOUBLE"], returns="DOUBLE", context_cache=False)
    con.sql("SELECT sum(nocache(i::DOUBLE)) FROM range(40960) t(i)").fetchall()
    stats = imlane.functions(con).set_index("name").loc["nocache"]
    assert _loads(tmp_path) == stats["batches"] >= 10  # loaded on every batch, as written
    assert stats["cache_hits"] == 0 and stats["cache_misses"] == 0

    imlane.create_function(con, "cached", code, args=["DOUBLE"], returns="DOUBLE")
    before = _loads(tmp_path)
    con.sql("SELECT sum(cached(i::DOUBLE)) FROM range(40960) t(i)").fetchall()
    executors = int(imlane.functions(con).set_index("name").loc["cached"]["executors"])
    assert 1 <= _loads(tmp_path) - before <= executors
    # Another function's reset leaves it: at most one load per executor, whichever executors served the
    # queries (the first may have run on one of them only). Its own reset (or a full one) makes the
    # next query load again.
    assert con.sql("CALL imlane_reset_cache('nocache')").fetchone()[0] == 0
    con.sql("SELECT sum(cached(i::DOUBLE)) FROM range(40960) t(i)").fetchall()
    held = _loads(tmp_path) - before
    assert held <= len(imlane.status(con)["executors"])  # at most one load per executor
    assert con.sql("CALL imlane_reset_cache('cached')").fetchone()[0] == held
    con.sql("SELECT sum(cached(i::DOUBLE)) FROM range(40960) t(i)").fetchall()
    assert _loads(tmp_path) - before > held
    assert con.sql("CALL imlane_reset_cache()").fetchone()[0] >= 1
    assert imlane.functions(con).set_index("name").loc["cached", "cache_bytes"] == 0
    with pytest.raises(ValueError, match="context_cache must be True or False"):
        imlane.create_function(con, "bad", code, args=["DOUBLE"], returns="DOUBLE", context_cache="no")


def _describe(x):
    """What a function sees, one string per row: container, dtype, writeable, mask bit, value."""
    masked = isinstance(x, np.ma.MaskedArray)
    mask = np.ma.getmaskarray(x) if masked else np.zeros(len(x), dtype=bool)
    data = x.data if masked else x
    head = f"{type(x).__name__}|{x.dtype}|{x.flags.writeable}"
    return [f"{head}|{int(mask[i])}|{None if mask[i] else data[i]!r}" for i in range(len(x))]


def _same_rows(got, expected):
    """Row values equal, a NaN equal to a NaN (and NULL only to NULL)."""
    def key(v):
        return "NaN" if isinstance(v, float) and v != v else v
    return [key(v) for v in got] == [key(v) for v in expected]


PROBE_TYPES = {
    "BOOLEAN": ["TRUE", "NULL", "FALSE"],
    "TINYINT": ["-128", "NULL", "127"],
    "SMALLINT": ["-32768", "NULL", "7"],
    "INTEGER": ["-2147483648", "NULL", "2147483647"],
    "BIGINT": ["9007199254740993", "NULL", "-9223372036854775808"],  # 2**53 + 1: not a float64
    "FLOAT": ["1.5", "NULL", "'nan'"],
    "DOUBLE": ["0.1", "NULL", "'nan'"],  # a NaN value is not a NULL
    "VARCHAR": ["'caf\u00e9'", "NULL", "''"],
    "DATE": ["'1970-01-01'", "NULL", "'2262-04-11'"],
    "TIMESTAMP": ["'2024-02-29 12:34:56.789012'", "NULL", "'1900-01-01 00:00:00'"],
}


@pytest.mark.parametrize("null_handling", ["default", "special"])
def test_run_local_sees_exactly_what_an_executor_sees(con, null_handling):
    # Issue 10, items 1 and 5: per type, a batch with a NULL and one without reach the function in the
    # same form (integers exact), and imlane.run_local hands it the very same arrays and returns what
    # SQL returns.
    for sql_type, literals in PROBE_TYPES.items():
        name = f"probe_{sql_type.lower()}_{null_handling}"
        imlane.create_function(con, name, _describe, args=[sql_type], returns="VARCHAR", null_handling=null_handling)
        same = f"same_{sql_type.lower()}_{null_handling}"
        imlane.create_function(con, same, lambda x: x, args=[sql_type], returns=sql_type, null_handling=null_handling)
        rows = " UNION ALL ".join(f"SELECT {i} AS i, CAST({v} AS {sql_type}) AS v" for i, v in enumerate(literals))
        con.sql(f"CREATE OR REPLACE TABLE with_null AS {rows}")
        con.sql("CREATE OR REPLACE TABLE without_null AS SELECT * FROM with_null WHERE v IS NOT NULL")
        for table in ("with_null", "without_null"):
            values = [r[0] for r in con.sql(f"SELECT v FROM {table} ORDER BY i").fetchall()]
            seen = [r[0] for r in con.sql(f"SELECT {name}(v) FROM {table} ORDER BY i").fetchall()]
            column = np.ma.MaskedArray([0 if v is None else v for v in values] if sql_type != "VARCHAR" else
                                       ["" if v is None else v for v in values],
                                       mask=[v is None for v in values])
            if sql_type in ("DATE", "TIMESTAMP"):
                column = np.ma.MaskedArray(np.array([np.datetime64("1970-01-01") if v is None else v for v in values],
                                                    dtype="datetime64[D]" if sql_type == "DATE" else "datetime64[us]"),
                                           mask=[v is None for v in values])
            local = imlane.run_local(_describe, column, args=sql_type, returns="VARCHAR", null_handling=null_handling)
            assert len(seen) == len(values)
            assert [None if m else s for s, m in zip(local.data, np.ma.getmaskarray(local))] == seen, (sql_type, table)
            back = [r[0] for r in con.sql(f"SELECT {same}(v) FROM {table} ORDER BY i").fetchall()]
            assert _same_rows(back, values), (sql_type, table, back, values)
            mirrored = imlane.run_local(lambda x: x, column, args=sql_type, returns=sql_type, null_handling=null_handling)
            assert _same_rows(mirrored.tolist(), values), (sql_type, table, mirrored, values)
        forms = {s.rsplit("|", 2)[0] for s in con.sql(f"SELECT {name}(v) FROM with_null UNION ALL "
                                                      f"SELECT {name}(v) FROM without_null").fetchall()
                 for s in [s[0]] if s is not None}
        assert len(forms) == 1, (sql_type, forms)  # one form, NULL in the batch or not
        form = forms.pop()
        assert form.endswith("|False"), (sql_type, form)  # read-only, views or not
        if null_handling == "special" and sql_type in ("BOOLEAN", "TINYINT", "SMALLINT", "INTEGER", "BIGINT"):
            assert form.startswith("MaskedArray|"), (sql_type, form)
        imlane.drop_function(con, name)  # each function holds Lanes of its own: stay under the client's cap
        imlane.drop_function(con, same)


def test_a_prediction_filter_spreads_over_every_executor(tmp_path):
    # Issue 10, item 8: DuckDB pushes a one-column predicate into the table scan, where it ran one
    # vector at a time on the scanning thread: with one thread, one of two executors did all the work.
    con = imlane.connect(extension=EXTENSION, socket=str(tmp_path / "imlane.sock"), executors=2)
    try:
        con.execute("SET threads = 1")
        def halve(x):  # 10 us a row: a batch is still running when the next one is sent
            time.sleep(len(x) * 10e-6)
            return x / 2

        imlane.create_function(con, "halve", halve, args=["DOUBLE"], returns="DOUBLE")
        con.execute("CREATE TABLE p AS SELECT range::DOUBLE AS a, range AS id FROM range(100000)")
        assert "IMLANE_PREDICT_FILTER" in con.sql("EXPLAIN SELECT count(*) FROM p WHERE halve(a) > 10").fetchall()[0][1]

        def batches():
            return [sum(f["batches"] for f in e["functions"] if f["name"] == "halve")
                    for e in imlane.status(con)["executors"]]

        before = batches()
        assert con.sql("SELECT count(*), sum(id) FROM p WHERE halve(a) > 10").fetchone() == (99979, 4999949790)
        spread = [a - b for a, b in zip(batches(), before)]
        assert len(spread) == 2 and min(spread) > 0, spread
    finally:
        con.close()


def test_the_embedded_coordinator_stays_warm_between_shell_runs(tmp_path):
    # Issue 10, item 10: the coordinator a shell starts stays imlane_idle_exit_ms after its last
    # client, so the next run finds it (no cold start), and it never holds the shell's output open.
    import json
    import signal

    shell = os.path.join(BUILD_DIR, "bin", "imlane-duckdb")
    sock = tmp_path / "warm.sock"
    env = dict(os.environ)
    env.pop("IMLANE_IDLE_EXIT_MS", None)  # make test sets 0 for the suite: here the default applies

    def run(*statements):
        args = [shell]
        for s in (f"SET imlane_socket = '{sock}'", "SET imlane_executors = 1", *statements):
            args += ["-c", s]
        # Output through pipes, read to EOF: a coordinator holding them would make this time out.
        r = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env)
        assert r.returncode == 0, r.stderr
        return r.stdout

    status = "COPY (SELECT status FROM imlane_status()) TO '{}' (FORMAT csv, QUOTE '', HEADER false)"
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    pid = None
    try:
        assert "300000" in run("SELECT current_setting('imlane_idle_exit_ms')")
        run("CALL imlane_create_function('plus1', 'def pyfun(x):\n    print(\"rows:\", len(x))\n    return x + 1\n', "
            "'BIGINT', 'BIGINT')", "SELECT sum(plus1(range)) FROM range(10000)", status.format(first))
        pid = json.loads(first.read_text())["pid"]
        os.kill(pid, 0)  # still there after the shell exited
        out = run("CALL imlane_create_function('plus1', 'def pyfun(x):\n    print(\"rows:\", len(x))\n    return x + 1\n', "
                  "'BIGINT', 'BIGINT')", "SELECT sum(plus1(range)) FROM range(10000)", status.format(second))
        assert "rows:" not in out  # a function's prints are not the shell's output
        assert "50005000" in out
        assert json.loads(second.read_text())["pid"] == pid  # the same, warm coordinator
        # Its stderr, apart from the shell's: one timestamped line per event (issue 10, item 11).
        log = open(str(sock) + ".log").read()
        stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} info +imlane\[%d\] coordinator: " % pid
        import re
        assert re.search(stamp + r"serving .*warm\.sock with 1 executors, exiting 300000 ms after the last client", log), log
        assert len(re.findall(stamp + r"registered 'plus1' version 1 \(BIGINT\) -> BIGINT", log)) == 1, log
        assert len(re.findall(stamp + r"client \d+ \(pid \d+, uid \d+\) connected", log)) >= 2, log
        assert re.search(stamp + r"client \d+ \(pid \d+, uid \d+\) disconnected", log), log
        # What the function printed: in the log, a line each, named by function (from its executor).
        assert re.search(r" info +imlane\[\d+\] executor: function 'plus1' stdout: rows: \d+\n", log), log
    finally:
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
    # With imlane_idle_exit_ms = 0 the coordinator leaves with its last client.
    sock0 = tmp_path / "cold.sock"
    out0 = tmp_path / "cold.json"
    args = [shell, "-c", f"SET imlane_socket = '{sock0}'", "-c", "SET imlane_idle_exit_ms = 0", "-c",
            "SET imlane_executors = 1", "-c", status.format(out0)]
    subprocess.run(args, check=True, capture_output=True, text=True, timeout=120, env=env)
    cold = json.loads(out0.read_text())["pid"]
    for _ in range(200):
        try:
            os.kill(cold, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"coordinator {cold} still running with imlane_idle_exit_ms = 0")


def test_what_a_function_prints_joins_its_error(con):
    # Issue 10, item 11: a function's own output is not mixed into the query's; its last lines come
    # with the error of the batch that failed.
    import re

    import duckdb

    def noisy(x):
        import sys
        print("loading the model for", len(x), "rows")
        print("feature 3 out of range", file=sys.stderr)
        raise ValueError("bad input")

    imlane.create_function(con, "noisy", noisy, args=["DOUBLE"], returns="DOUBLE")
    with pytest.raises(duckdb.Error) as err:
        con.sql("SELECT noisy(range::DOUBLE) FROM range(10)").fetchall()
    text = str(err.value)
    assert "ValueError: bad input" in text, text
    assert "last output of the function:" in text, text
    assert re.search(r"stdout: loading the model for \d+ rows", text), text  # its batch's rows
    assert "stderr: feature 3 out of range" in text, text
