"""imlane.duckdb_extension in DuckDB's Python package (the pinned duckdb==1.4.4).

Real processes: every test has its own coordinator (socket in its own tmp dir), started by the
extension itself from build/bin/imlane (found from build/lib/duckdb/extensions/../../../bin/imlane).
Run by ctest (python_duckdb_extension) through run_in_fresh_venv.sh: a fresh venv with duckdb and
the imlane package pip-installed; IMLANE_BUILD_DIR names the build tree.
"""
import ctypes
import os
import pickle
import subprocess
import sys
import textwrap

import duckdb
import numpy as np
import pandas as pd
import pytest

BUILD_DIR = os.environ.get("IMLANE_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
EXTENSION = os.path.abspath(os.path.join(BUILD_DIR, "lib", "duckdb", "extensions", "imlane.duckdb_extension"))


def promote_duckdb_symbols():
    """The Python package loads _duckdb with RTLD_LOCAL and DuckDB dlopens extensions RTLD_LOCAL, so
    a C++ extension cannot see DuckDB's symbols; making the loaded module global fixes that (the
    `imlane` Python package does this in imlane.load(con))."""
    ctypes.CDLL(sys.modules["_duckdb"].__file__, mode=os.RTLD_GLOBAL | os.RTLD_NOLOAD | os.RTLD_NOW)


def sql_str(text):
    return "'" + text.replace("'", "''") + "'"


@pytest.fixture
def con(tmp_path):
    promote_duckdb_symbols()
    c = duckdb.connect(config={"allow_unsigned_extensions": "true", "extension_directory": str(tmp_path / "ext")})
    c.execute(f"LOAD {sql_str(EXTENSION)}")
    c.execute(f"SET imlane_socket = {sql_str(str(tmp_path / 'imlane.sock'))}")
    c.execute("SET imlane_executors = 2")
    c.execute("SET imlane_lane_bytes = 16777216")
    yield c
    c.close()


def create(con, name, code, args, ret):
    return con.execute(f"CALL imlane_create_function({sql_str(name)}, {sql_str(code)}, '{args}', '{ret}')").fetchall()


def make_table(con, rows):
    con.execute("CREATE TABLE t AS SELECT range AS id, (range % 1000) / 10.0 AS a, (range % 37)::DOUBLE AS b "
                f"FROM range({rows})")
    return con.execute("SELECT id, a, b FROM t ORDER BY id").df()


def test_sklearn_model_in_select_and_where(con, tmp_path):
    from sklearn.ensemble import RandomForestClassifier
    rng = np.random.default_rng(0)
    x = rng.random((3000, 2)) * [100, 40]
    y = (x[:, 0] * 2 + x[:, 1] > 120).astype(int)
    model = RandomForestClassifier(n_estimators=10, max_depth=6, random_state=0).fit(x, y)
    path = tmp_path / "rf.pkl"
    path.write_bytes(pickle.dumps(model))
    code = textwrap.dedent(f"""\
        import pickle
        import numpy as np
        def pyinitial():
            global m
            m = pickle.load(open({str(path)!r}, 'rb'))
        def pyfun(a, b):
            return m.predict(np.column_stack([a, b]))
        """)
    assert create(con, "rf", code, "DOUBLE, DOUBLE", "INTEGER")[0][0] == "rf"
    df = make_table(con, 5000)
    expected = model.predict(df[["a", "b"]].to_numpy())

    got = con.execute("SELECT id, rf(a, b) AS p FROM t ORDER BY id").df()
    assert got["id"].tolist() == df["id"].tolist()
    np.testing.assert_array_equal(got["p"].to_numpy(), expected)

    count = con.execute("SELECT count(*) FROM t WHERE rf(a, b) = 1").fetchone()[0]
    assert count == int(expected.sum()) and 0 < count < len(df)
    ids = con.execute("SELECT id FROM t WHERE b > 10 AND rf(a, b) = 1 ORDER BY id").df()["id"]
    assert ids.tolist() == df["id"][(df["b"] > 10) & (expected == 1)].tolist()


def test_numpy_udf_matches_pandas(con):
    create(con, "lin", "def pyfun(a, b):\n    return a * 3 - b * 2 + 1\n", "DOUBLE, DOUBLE", "DOUBLE")
    df = make_table(con, 4000)
    expected = df["a"] * 3 - df["b"] * 2 + 1
    got = con.execute("SELECT lin(a, b) AS p FROM t ORDER BY id").df()["p"]
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy())
    # Predictions are multiples of 0.1: 100.55 is far from every one of them.
    n = con.execute("SELECT count(*) FROM t WHERE lin(a, b) > 100.55").fetchone()[0]
    assert n == int((expected > 100.55).sum()) and 0 < n < len(df)
    total = con.execute("SELECT b, sum(lin(a, b)) AS s FROM t GROUP BY b ORDER BY b").df()
    want = expected.groupby(df["b"]).sum()
    np.testing.assert_allclose(total["s"].to_numpy(), want.to_numpy())


def test_explain_shows_the_prediction_operator(con):
    create(con, "lin", "def pyfun(a, b):\n    return a + b\n", "DOUBLE, DOUBLE", "DOUBLE")
    make_table(con, 100)
    plan = "\n".join(row[1] for row in con.execute("EXPLAIN SELECT lin(a, b) FROM t WHERE lin(a, b) > 3").fetchall())
    assert "IMLANE_PREDICT_" in plan


def test_raising_udf_gives_the_python_traceback(con):
    create(con, "boom", 'def pyfun(x):\n    raise ValueError("model exploded on " + str(len(x)) + " rows")\n',
           "DOUBLE", "DOUBLE")
    make_table(con, 3000)
    with pytest.raises(duckdb.Error) as err:
        con.execute("SELECT boom(a) FROM t").fetchall()
    text = str(err.value)
    assert "imlane function 'boom'" in text
    assert "Traceback" in text and "ValueError: model exploded on" in text
    # The connection stays usable.
    assert con.execute("SELECT count(*) FROM t").fetchone()[0] == 3000


def test_imbridge_ddl_script(con, tmp_path):
    """IMBridge's DDL unchanged, through the loadable extension's parser extension: a staged UDF
    whose code has blank lines, quotes and braces, a FILE_PATH one, DROP PYTHON_UDF [IF EXISTS]."""
    from sklearn.linear_model import LogisticRegression
    rng = np.random.default_rng(1)
    x = rng.random((2000, 2)) * [100, 40]
    model = LogisticRegression().fit(x, (x[:, 0] * 2 + x[:, 1] > 120).astype(int))
    model_path = tmp_path / "uc.model"
    model_path.write_bytes(pickle.dumps(model))
    (tmp_path / "plus_one.py").write_text("def pyinitial():\n    pass\n\ndef pyfun(*args):\n    return args[0] + 1\n")
    script = f"""
CREATE PYTHON_UDF uc_staged(business_hour_norm REAL, amount_norm REAL) RETURNS INTEGER
{{"
import pickle
import numpy as np
import pandas as pd

# Execute at the PF Initialization Stage
def pyinitial():
    global uc_model
    with open('{model_path}', 'rb') as f:
        uc_model = pickle.load(f)

# Execute at the PF Computation Stage
def pyfun(*args):
    data = pd.DataFrame({{
        'a': args[0],
        "b": args[1]
    }})
    return uc_model.predict(data.to_numpy())
"}};

CREATE PYTHON_UDF plus_one(x BIGINT) RETURNS BIGINT FILE_PATH '{tmp_path / "plus_one.py"}';
"""
    con.execute(script)
    df = make_table(con, 3000)
    expected = model.predict(df[["a", "b"]].to_numpy().astype(np.float32))
    got = con.execute("SELECT uc_staged(a::REAL, b::REAL) AS p FROM t ORDER BY id").df()["p"]
    np.testing.assert_array_equal(got.to_numpy(), expected)
    assert 0 < expected.sum() < len(df)
    assert con.execute("SELECT sum(plus_one(id)) FROM t").fetchone()[0] == sum(range(1, 3001))

    con.execute("DROP PYTHON_UDF uc_staged; DROP PYTHON_UDF IF EXISTS uc_staged;")
    assert con.execute("SELECT name FROM imlane_functions()").fetchall() == [("plus_one",)]
    with pytest.raises(duckdb.InvalidInputException, match="no IMLane function 'uc_staged'"):
        con.execute("DROP PYTHON_UDF uc_staged")
    with pytest.raises(duckdb.ParserException, match=r"CREATE PYTHON_UDF f: expected RETURNS <type>"):
        con.execute("CREATE PYTHON_UDF f(x INTEGER) INTEGER FILE_PATH '/tmp/f.py'")
    with pytest.raises(duckdb.ParserException, match='syntax error at or near "PYTHON_FUNCTION"'):
        con.execute("CREATE PYTHON_FUNCTION f(x INTEGER) RETURNS INTEGER FILE_PATH '/tmp/f.py'")


def test_loading_twice_is_harmless(con, tmp_path):
    con.execute(f"LOAD {sql_str(EXTENSION)}")
    con.execute("LOAD imlane")
    create(con, "plus1", "def pyfun(x):\n    return x + 1\n", "BIGINT", "BIGINT")
    assert con.execute("SELECT sum(plus1(range)) FROM range(3000)").fetchone()[0] == sum(range(1, 3001))
    assert con.execute("SELECT loaded FROM duckdb_extensions() WHERE extension_name = 'imlane'").fetchone()[0]
    # A second database in the same process loads its own copy of the settings and functions.
    other = duckdb.connect(config={"allow_unsigned_extensions": "true"})
    other.execute(f"LOAD {sql_str(EXTENSION)}")
    other.execute(f"SET imlane_socket = {sql_str(str(tmp_path / 'imlane.sock'))}")
    assert other.execute("SELECT name FROM imlane_functions()").fetchall() == [("plus1",)]
    other.close()


def run_python(code, **env):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env})


def test_plain_load_without_promotion_is_an_undefined_symbol_error():
    # In a fresh interpreter, so that this process's promotion does not apply.
    r = run_python(f"""
        import duckdb
        con = duckdb.connect(config={{"allow_unsigned_extensions": "true"}})
        try:
            con.execute("LOAD '{EXTENSION}'")
        except duckdb.IOException as e:
            print(e)
        else:
            print("LOADED")
        """)
    assert r.returncode == 0, r.stderr
    assert "could not be loaded" in r.stdout and "undefined symbol: _ZTIN6duckdb" in r.stdout, r.stdout


def test_unsigned_extension_needs_allow_unsigned_extensions():
    promote_duckdb_symbols()
    c = duckdb.connect()
    with pytest.raises(duckdb.Error, match="signature"):
        c.execute(f"LOAD {sql_str(EXTENSION)}")
    c.close()


def test_install_from_a_file_path_then_load_by_name(tmp_path):
    # INSTALL copies the file into extension_directory/v1.4.4/linux_amd64/; from there the coordinator
    # is not next to the extension, so IMLANE_COORDINATOR names it.
    ext_dir = tmp_path / "ext"
    r = run_python(f"""
        import ctypes, os, sys, duckdb
        ctypes.CDLL(sys.modules["_duckdb"].__file__, mode=os.RTLD_GLOBAL | os.RTLD_NOLOAD | os.RTLD_NOW)
        con = duckdb.connect(config={{"allow_unsigned_extensions": "true", "extension_directory": "{ext_dir}"}})
        con.execute("INSTALL '{EXTENSION}'")
        con.execute("LOAD imlane")
        con.execute("SET enable_progress_bar = false")
        con.execute("SET imlane_socket = '{tmp_path / 'imlane.sock'}'")
        con.execute("CALL imlane_create_function('twice', 'def pyfun(x):\\n    return x * 2\\n', 'BIGINT', 'BIGINT')")
        print(con.execute("SELECT sum(twice(range)) FROM range(2500)").fetchone()[0])
        """, IMLANE_COORDINATOR=os.path.join(os.path.dirname(EXTENSION), "..", "..", "..", "bin", "imlane"))
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [str(2 * sum(range(2500)))]
    assert (ext_dir / "v1.4.4" / "linux_amd64" / "imlane.duckdb_extension").exists()
