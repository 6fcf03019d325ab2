"""The Python half of the executor: input adaptation and result checking, without processes."""
import numpy as np
import pandas as pd
import pytest

from imlane import _runtime as rt


def bits(valid):
    return np.packbits(np.asarray(valid, dtype=bool), bitorder="little")


# ---- loading ---------------------------------------------------------------------------------------

def test_staged_style_runs_pyinitial_once():
    src = "calls = []\ndef pyinitial():\n    calls.append(1)\ndef pyfun(x):\n    return x + len(calls)\n"
    fn = rt.load("f", src, "<t>", "", [rt.DOUBLE], [rt.DOUBLE])
    for _ in range(3):
        (values, valid), = fn([np.array([1.0, 2.0])], 2)
    assert values.tolist() == [2.0, 3.0] and valid is None
    assert fn.module.calls == [1]
    assert fn.style == "staged"


def test_explicit_pyfun_entry_still_runs_pyinitial():
    src = "ready = False\ndef pyinitial():\n    global ready\n    ready = True\ndef pyfun(x):\n    return x\n"
    fn = rt.load("f", src, "<t>", "pyfun", [rt.DOUBLE], [rt.DOUBLE])
    assert fn.module.ready


def test_class_style_found_without_entry():
    src = "class Model:\n    def __init__(self):\n        self.k = 5\n    def __call__(self, x):\n        return x * self.k\n"
    fn = rt.load("anything", src, "<t>", "", [rt.INT64], [rt.INT64])
    (values, _), = fn([np.array([1, 2], dtype=np.int64)], 2)
    assert values.tolist() == [5, 10] and fn.style == "class"


def test_marked_function_is_the_entry():
    src = "def helper(x):\n    return x\ndef score(x):\n    return x + 1\nscore.__imlane_function__ = {}\n"
    fn = rt.load("f", src, "<t>", "", [rt.DOUBLE], [rt.DOUBLE])
    (values, _), = fn([np.array([1.0])], 1)
    assert values.tolist() == [2.0]


def test_several_classes_need_an_entry():
    src = "class A:\n    def __call__(self, x):\n        return x\nclass B:\n    def __call__(self, x):\n        return x\n"
    with pytest.raises(rt.FunctionLoadError, match="several classes"):
        rt.load("f", src, "<t>", "", [rt.DOUBLE], [rt.DOUBLE])
    fn = rt.load("f", src, "<t>", "B", [rt.DOUBLE], [rt.DOUBLE])
    assert fn.style == "class"


@pytest.mark.parametrize("src,message", [
    ("def pyfun(x)\n    return x\n", "syntax error in <t>, line 1"),
    ("x = 1\n", "no entry point found"),
    ("pyfun = 3\n", "pyfun is not callable"),
])
def test_bad_sources(src, message):
    with pytest.raises(rt.FunctionLoadError, match=message):
        rt.load("f", src, "<t>", "", [rt.DOUBLE], [rt.DOUBLE])


def test_missing_entry():
    with pytest.raises(rt.FunctionLoadError, match="entry 'nope' is not defined"):
        rt.load("f", "def pyfun(x):\n    return x\n", "<t>", "nope", [rt.DOUBLE], [rt.DOUBLE])


# ---- inputs ---------------------------------------------------------------------------------------

def test_adapt_booleans_with_and_without_nulls():
    data = bits([True, False, True])
    assert rt.adapt_column(rt.BOOLEAN, data, None, 3).tolist() == [True, False, True]
    assert rt.adapt_column(rt.BOOLEAN, data, bits([1, 0, 1]), 3).tolist() == [True, None, True]


def test_adapt_integers_with_nulls_become_float_nan():
    out = rt.adapt_column(rt.INT32, np.array([1, 2, 3], dtype=np.int32), bits([1, 0, 1]), 3)
    assert out.dtype == np.float64 and out[0] == 1 and np.isnan(out[1])


def test_adapt_dates_and_timestamps():
    days = np.array([0, 19000], dtype=np.int32)
    assert rt.adapt_column(rt.DATE, days, None, 2).tolist()[1].isoformat() == "2022-01-08"
    ts = rt.adapt_column(rt.TIMESTAMP, np.array([0, 1_000_000], dtype=np.int64), bits([0, 1]), 2)
    assert np.isnat(ts[0]) and ts[1] == np.datetime64(1, "s")


def test_adapt_does_not_modify_the_lane_view():
    data = np.array([1.0, 2.0])
    data.setflags(write=False)
    out = rt.adapt_column(rt.DOUBLE, data, bits([0, 1]), 2)
    assert np.isnan(out[0]) and data[0] == 1.0


# ---- results ----------------------------------------------------------------------------------------

def convert(result, n, t):
    (values, packed), = rt.to_columns(result, n, [t], "f")
    valid = None if packed is None else np.unpackbits(packed, count=n, bitorder="little").astype(bool)
    return values, valid


def test_lists_series_and_column_vectors_are_accepted():
    assert convert([1, 2], 2, rt.INT64)[0].tolist() == [1, 2]
    assert convert(pd.Series([1.5, 2.5]), 2, rt.DOUBLE)[0].tolist() == [1.5, 2.5]
    assert convert(np.array([[1.0], [2.0]]), 2, rt.DOUBLE)[0].tolist() == [1.0, 2.0]


def test_none_and_pandas_na_are_null():
    values, valid = convert([1, None, 3], 3, rt.INT32)
    assert valid.tolist() == [True, False, True] and values[0] == 1
    values, valid = convert(pd.array([1, pd.NA], dtype="Int64"), 2, rt.INT64)
    assert valid.tolist() == [True, False]
    values, valid = convert(["a", None, np.nan], 3, rt.VARCHAR)
    assert valid.tolist() == [True, False, False]


def test_float_nan_stays_nan_for_double():
    values, valid = convert([np.nan, 1.0], 2, rt.DOUBLE)
    assert valid is None and np.isnan(values[0])


@pytest.mark.parametrize("result,t,message", [
    ([1.0, 2.0], rt.INT32, "returned 2 values for 3 input rows"),
    ([1.0, np.nan, 2.0], rt.INT32, "NaN at row 1 cannot be converted to INTEGER"),
    ([1.0, 2.5, 3.0], rt.INT64, "non-integral value 2.5 at row 1"),
    ([1, 300, 2], rt.INT8, "value 300 at row 1 is out of range for TINYINT"),
    (["a", "b", "c"], rt.DOUBLE, "expected DOUBLE values, got strings"),
    ([0, 1, 2], rt.BOOLEAN, "expected BOOLEAN values, got 2 at row 2"),
    (7, rt.DOUBLE, "returned a single int"),
    (None, rt.DOUBLE, "returned None"),
    (np.zeros((3, 2)), rt.DOUBLE, "shape"),
    ([1, 2, 3], rt.VARCHAR, "expected VARCHAR"),
])
def test_bad_results_name_the_problem(result, t, message):
    with pytest.raises(rt.ResultError, match=message):
        convert(result, 3, t)


def test_several_result_columns():
    out = rt.to_columns((np.array([1.0, 2.0]), ["x", "y"]), 2, [rt.DOUBLE, rt.VARCHAR], "f")
    assert out[0][0].tolist() == [1.0, 2.0] and out[1][0].tolist() == ["x", "y"]
    df = pd.DataFrame({"a": [1, 2], "b": [True, False]})
    out = rt.to_columns(df, 2, [rt.INT64, rt.BOOLEAN], "f")
    assert out[1][0].tolist() == [1, 0]
    with pytest.raises(rt.ResultError, match="returned 1 result columns, declared 2"):
        rt.to_columns([np.array([1.0, 2.0])], 2, [rt.DOUBLE, rt.DOUBLE], "f")


def test_dates_and_timestamps_results():
    values, valid = convert(np.array(["2024-01-02", "NaT"], dtype="datetime64[D]"), 2, rt.DATE)
    assert values.dtype == np.int32 and valid.tolist() == [True, False]
    values, _ = convert(np.array([1], dtype="datetime64[s]"), 1, rt.TIMESTAMP)
    assert values.tolist() == [1_000_000]


def test_float_results_are_not_copied():
    x = np.arange(10.0)
    values, _ = convert(x, 10, rt.DOUBLE)
    assert np.shares_memory(values, x)


def test_exception_text_has_the_traceback():
    fn = rt.load("f", "def pyfun(x):\n    raise KeyError('k')\n", "<src>", "", [rt.DOUBLE], [rt.DOUBLE])
    try:
        fn([np.array([1.0])], 1)
    except KeyError as e:
        text = rt.format_exception("f", e)
    assert text.startswith("imlane function 'f': Traceback") and "<src>" in text and "KeyError: 'k'" in text
