"""The imlane Python package: decorator and local runner (same checks as the executors)."""
import numpy as np
import pandas as pd
import pytest

import imlane


@imlane.function(args=["DOUBLE", "double"], returns="INTEGER", name="fraud")
class Fraud:
    inits = 0

    def __init__(self):
        Fraud.inits += 1
        self.threshold = 1.0

    def __call__(self, a, b):
        return (a + b > self.threshold).astype(np.int64)


def test_decorator_declares_types():
    assert imlane.signature_of(Fraud) == (["DOUBLE", "DOUBLE"], ["INTEGER"])
    assert Fraud.__imlane_function__["name"] == "fraud"


def test_decorator_rejects_unknown_types_and_classes_without_call():
    with pytest.raises(ValueError, match="BLOB"):
        imlane.function(args=["BLOB"], returns="INTEGER")
    # A comma inside parentheses is part of the type: named whole, not as 'DECIMAL(10'.
    with pytest.raises(ValueError, match=r"unknown argument type 'DECIMAL\(10,2\)'"):
        imlane.function(args="DOUBLE, DECIMAL(10,2)", returns="INTEGER")
    assert imlane.function(args="DOUBLE,INTEGER", returns="INTEGER")(lambda a, b: a).__imlane_function__["args"] == \
        ["DOUBLE", "INTEGER"]
    with pytest.raises(TypeError, match="__call__"):
        imlane.function(args=["DOUBLE"], returns="DOUBLE")(type("NoCall", (), {}))


def test_run_local_on_a_dataframe_builds_the_context_once():
    Fraud.inits = 0
    fn = imlane.LocalFunction(Fraud)
    df = pd.DataFrame({"a": [0.1, 2.0, 0.5], "b": [0.2, 0.3, 0.6]})
    for _ in range(3):
        out = fn(df)
    assert out.tolist() == [0, 1, 1] and out.dtype == np.int32
    assert Fraud.inits == 1


def test_run_local_staged_file(tmp_path):
    path = tmp_path / "staged.py"
    path.write_text("def pyinitial():\n    global k\n    k = 10\ndef pyfun(x):\n    return x * k\n")
    assert imlane.run_local(str(path), np.array([1, 2]), args="BIGINT", returns="BIGINT").tolist() == [10, 20]


def test_run_local_file_is_read_as_bytes_honouring_its_coding_cookie(tmp_path):
    path = tmp_path / "latin1.py"
    path.write_bytes(b"# -*- coding: latin-1 -*-\ndef pyfun(x):\n    return ['caf\xe9' for v in x]\n")
    assert imlane.run_local(str(path), np.array([1.0]), args="DOUBLE", returns="VARCHAR").tolist() == ["caf\u00e9"]
    binary = tmp_path / "binary.py"
    binary.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(Exception, match="null bytes"):
        imlane.run_local(str(binary), np.array([1.0]), args="DOUBLE", returns="VARCHAR")


def test_run_local_nulls_and_several_results():
    # null_handling='special': the NULL row (a local NaN) reaches the function, masked; iterating gives
    # np.ma.masked for it, and numpy's operations keep it masked: NULL in every result.
    src = "def pyfun(x):\n    return [v for v in x], x > 1\n"
    a, b = imlane.run_local(src, np.array([1.0, np.nan, 3.0]), args="DOUBLE", returns=["DOUBLE", "BOOLEAN"],
                            null_handling="special")
    assert a.tolist() == [1.0, None, 3.0]
    assert b.tolist() == [False, None, True]
    # A NaN that is a value (a masked array without that row masked) stays a NaN, not a NULL.
    a, b = imlane.run_local(src, np.ma.MaskedArray([1.0, np.nan, 3.0], mask=[False, False, True]), args="DOUBLE",
                            returns=["DOUBLE", "BOOLEAN"], null_handling="special")
    assert np.isnan(a[1]) and a.mask.tolist() == [False, False, True] and b.tolist() == [False, False, None]
    # 'default', as in the executors: the NULL row is NULL in every result, the function never sees it.
    a, b = imlane.run_local(src, np.array([1.0, np.nan, 3.0]), args="DOUBLE", returns=["DOUBLE", "BOOLEAN"])
    assert a.tolist() == [1.0, None, 3.0]
    assert b.tolist() == [0, None, 1]


def test_run_local_null_and_exception_handling():
    seen = []

    def f(x, s):
        seen.append((x.dtype, list(s)))
        if (x == 3).any():
            raise ValueError("three")
        return x * 10

    out = imlane.run_local(f, np.array([1, None, 3, 4, 5], dtype=object), ["a", "b", "c", None, "e"],
                           args=["BIGINT", "VARCHAR"], returns="BIGINT", exception_handling="return_null")
    assert out.tolist() == [10, None, None, None, 50]  # NULL argument, raised, NULL argument
    assert seen[0] == (np.dtype(np.int64), ["a", "c", "e"])  # compacted, in the declared dtype
    assert len(seen) == 1 + 2 + 2  # the failing batch, its halves (1 | 3, 5), the halves of (3, 5)
    with pytest.raises(ValueError, match="three"):
        imlane.run_local(f, np.array([3]), ["x"], args=["BIGINT", "VARCHAR"], returns="BIGINT")
    with pytest.raises(ValueError, match="null_handling must be 'default' or 'special'"):
        imlane.run_local(f, [1], ["x"], args=["BIGINT", "VARCHAR"], returns="BIGINT", null_handling="no")


def test_run_local_gives_the_executor_errors():
    with pytest.raises(Exception, match="returned 1 values for 2 input rows"):
        imlane.run_local(lambda x: x[:1], [1.0, 2.0], args="DOUBLE", returns="DOUBLE")
    with pytest.raises(Exception, match="NaN at row 0 cannot be converted to INTEGER"):
        imlane.run_local(lambda x: x * np.nan, [1.0], args="DOUBLE", returns="INTEGER")
    with pytest.raises(TypeError, match="takes 2 columns"):
        imlane.run_local(Fraud, [1.0])
    with pytest.raises(ValueError, match="declare the SQL types"):
        imlane.run_local(lambda x: x, [1.0])
