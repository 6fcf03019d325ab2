"""The Python half of the executor: input adaptation and result checking, without processes."""
import numpy as np
import pandas as pd
import pytest

from imlane import _runtime as rt
from imlane._runtime.types import LANE_DTYPES


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


def test_file_bytes_are_decoded_by_python_with_their_coding_cookie():
    latin = b"# -*- coding: latin-1 -*-\nW = 'caf\xe9'\ndef pyfun(x):\n    return x\n"
    fn = rt.load("f", latin, "/models/latin1.py", "", [rt.DOUBLE], [rt.DOUBLE])
    assert fn.module.W == "caf\u00e9"
    # Inline code is text (UTF-8); its cookie does not re-decode it, as with compile(str).
    fn = rt.load("f", "# coding: latin-1\nW = 'caf\u00e9'\n".encode() + b"def pyfun(x):\n    return x\n", "<inline:f>",
                 "", [rt.DOUBLE], [rt.DOUBLE])
    assert fn.module.W == "caf\u00e9"


@pytest.mark.parametrize("src,filename,message", [
    (b"def pyfun(x):\n    return x\n\x00", "/m.py", "cannot compile /m.py: source code string cannot contain null bytes"),
    (bytes(range(256)), "/m.py", "null bytes"),
    (b"x = '\xff'\n", "/m.py", "syntax error in /m.py, line 1: .*utf-8"),
    (b"x = '\xff'\n", "<inline:f>", "the source of <inline:f> is not UTF-8 text"),
])
def test_binary_sources_are_load_errors(src, filename, message):
    with pytest.raises(rt.FunctionLoadError, match=message):
        rt.load("f", src, filename, "", [rt.DOUBLE], [rt.DOUBLE])


def test_missing_entry():
    with pytest.raises(rt.FunctionLoadError, match="entry 'nope' is not defined"):
        rt.load("f", "def pyfun(x):\n    return x\n", "<t>", "nope", [rt.DOUBLE], [rt.DOUBLE])


# ---- inputs ---------------------------------------------------------------------------------------

def test_adapt_booleans_with_and_without_nulls():
    data = bits([True, False, True])
    assert rt.adapt_column(rt.BOOLEAN, data, None, 3).tolist() == [True, False, True]
    # 'special': a masked bool array in every batch, with or without NULLs.
    for validity, expected in ((None, [True, False, True]), (bits([1, 0, 1]), [True, None, True])):
        out = rt.adapt_column(rt.BOOLEAN, data, validity, 3, True)
        assert isinstance(out, np.ma.MaskedArray) and out.dtype == np.bool_ and out.tolist() == expected


def test_adapt_integers_are_exact_masked_arrays_under_special():
    big = np.array([2**53 + 1, 2, -(2**63)], dtype=np.int64)
    big.setflags(write=False)
    for validity in (None, bits([1, 0, 1])):
        out = rt.adapt_column(rt.INT64, big, validity, 3, True)
        assert isinstance(out, np.ma.MaskedArray) and out.dtype == np.int64
        assert out[0] == 2**53 + 1 and out[2] == -(2**63)  # no float64 rounding
        assert bool(out.mask[1]) == (validity is not None)
        assert not out.flags.writeable
    small = rt.adapt_column(rt.INT8, np.array([1, 2], dtype=np.int8), bits([0, 1]), 2, True)
    assert small.dtype == np.int8 and small.tolist() == [None, 2]


def test_adapt_dates_and_timestamps():
    days = np.array([0, 19000], dtype=np.int32)
    assert rt.adapt_column(rt.DATE, days, None, 2).tolist()[1].isoformat() == "2022-01-08"
    ts = rt.adapt_column(rt.TIMESTAMP, np.array([0, 1_000_000], dtype=np.int64), bits([0, 1]), 2)
    assert np.isnat(ts[0]) and ts[1] == np.datetime64(1, "s")


def test_adapt_does_not_modify_the_lane_view():
    data = np.array([1.0, 2.0])
    data.setflags(write=False)
    out = rt.adapt_column(rt.DOUBLE, data, bits([0, 1]), 2, True)
    assert out.mask[0] and np.isnan(out.data[0]) and data[0] == 1.0 and not out.flags.writeable
    nan = np.array([np.nan, 1.0])  # a NaN value is not a NULL under 'special'
    assert rt.adapt_column(rt.DOUBLE, nan, None, 2, True).mask.tolist() == [False, False]


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
    (["a", "b", "c"], rt.DOUBLE, "expected DOUBLE values, got strings, e.g. 'a' at row 0"),
    ([0, 1, 2], rt.BOOLEAN, "expected BOOLEAN values, got 2 at row 2"),
    (7, rt.DOUBLE, "returned a single int"),
    (None, rt.DOUBLE, "returned None"),
    (np.zeros((3, 2)), rt.DOUBLE, "shape"),
    ([1, 2, 3], rt.VARCHAR, "expected VARCHAR"),
])
def test_bad_results_name_the_problem(result, t, message):
    with pytest.raises(rt.ResultError, match=message):
        convert(result, 3, t)


# Values a type cannot hold exactly: each is an error naming the row, the value and the type, the
# same whether the function returns a list, a numpy array (typed or object) or a pandas Series.
CONTAINERS = {
    "list": list,
    "numpy": np.array,
    "object array": lambda v: np.array(v, dtype=object),
    "series": pd.Series,
    "object series": lambda v: pd.Series(v, dtype=object),
}


@pytest.mark.parametrize("container", CONTAINERS)
@pytest.mark.parametrize("values,t,message", [
    ([1.0, 2.0**63], rt.INT64, r"value 9.223372036854776e\+18 at row 1 is out of range for BIGINT"),
    ([1.0, -(2.0**63) * 2], rt.INT64, r"at row 1 is out of range for BIGINT"),
    ([0, 2**31], rt.INT32, r"value 2147483648 at row 1 is out of range for INTEGER"),
    ([0, 2**64], rt.INT64, r"value 18446744073709551616 at row 1 is out of range for BIGINT"),
    ([1.0, 1e300], rt.FLOAT, r"value 1e\+300 at row 1 is out of range for FLOAT"),
    ([1.0, 1 + 2j], rt.DOUBLE, r"complex value \(1\+2j\) at row 1 cannot be converted to DOUBLE"),
    ([1.0, 1 + 2j], rt.INT64, r"complex value \(1\+2j\) at row 1 cannot be converted to BIGINT"),
    (["1.5", "2.5"], rt.DOUBLE, r"expected DOUBLE values, got strings, e.g. '1.5' at row 0"),
    (["1", "2"], rt.INT32, r"expected INTEGER values, got strings, e.g. '1' at row 0"),
    (["1", "0"], rt.BOOLEAN, r"expected BOOLEAN values, got strings, e.g. '1' at row 0"),
    (["2024-01-01", "2024-01-02"], rt.DATE, r"expected DATE values, got strings, e.g. '2024-01-01' at row 0"),
])
def test_inexact_results_are_errors_in_every_container(container, values, t, message):
    data = CONTAINERS[container](values)
    with pytest.raises(rt.ResultError, match=message):
        convert(data, 2, t)


def test_a_string_beside_numbers_is_refused():
    for data in ([1.0, "2"], pd.Series([1.0, "2"]), [None, "2"]):
        with pytest.raises(rt.ResultError, match=r"got strings, e.g. '2' at row 1"):
            convert(data, 2, rt.DOUBLE)


@pytest.mark.parametrize("t,unit,value", [
    (rt.DATE, "D", "5881581-01-01"), (rt.DATE, "D", "-5877642-01-01"),
    (rt.TIMESTAMP, "D", "300000-01-01"), (rt.TIMESTAMP, "D", "-300000-01-01"), (rt.TIMESTAMP, "s", "300000-01-01"),
])
def test_dates_beyond_the_type_are_errors_not_wrapped(t, unit, value):
    arr = np.array(["2024-01-01", value], dtype=f"datetime64[{unit}]")
    with pytest.raises(rt.ResultError, match=f"at row 1 is out of range for {rt.TYPE_NAMES[t]}"):
        convert(arr, 2, t)
    convert(arr[:1], 1, t)  # the same type, in range, converts


def test_exact_values_at_the_edges_convert():
    assert convert([2.0**63 - 1024], 1, rt.INT64)[0].tolist() == [2**63 - 1024]
    assert convert([-(2.0**63)], 1, rt.INT64)[0].tolist() == [-(2**63)]
    assert convert([2**63 - 1, None], 2, rt.INT64)[0].tolist()[0] == 2**63 - 1  # object array, every digit
    assert convert(pd.Series([9007199254740993, None], dtype=object), 2, rt.INT64)[0][0] == 9007199254740993
    assert convert(np.array([1 + 0j, 2 + 0j]), 2, rt.DOUBLE)[0].tolist() == [1.0, 2.0]
    assert np.isinf(convert([np.inf, 1.0], 2, rt.FLOAT)[0][0])  # inf stays inf: not an overflow
    values, valid = convert([1.5, None], 2, rt.FLOAT)
    assert values[0] == 1.5 and valid.tolist() == [True, False]


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


# ---- null_handling and exception_handling ---------------------------------------------------------

def unpacked(out, n):
    """[(values, packed)] -> [(values, valid bool list)]"""
    return [(values, [True] * n if packed is None else
             np.unpackbits(packed, count=n, bitorder="little").astype(bool).tolist()) for values, packed in out]


ECHO = "seen = []\ndef pyfun(x):\n    seen.append(x.copy())\n    return x\n"

# (type, the column as the C++ executor hands it with null_handling 'default', expected Lane values)
TYPED_COLUMNS = [
    (rt.BOOLEAN, np.array([True, False, True, False]), [1, 0, 1, 0]),
    (rt.INT8, np.array([1, 2, 3, 4], dtype=np.int8), [1, 2, 3, 4]),
    (rt.INT16, np.array([1, 2, 3, 4], dtype=np.int16), [1, 2, 3, 4]),
    (rt.INT32, np.array([1, 2, 3, 4], dtype=np.int32), [1, 2, 3, 4]),
    (rt.INT64, np.array([1, 2, 3, 4], dtype=np.int64), [1, 2, 3, 4]),
    (rt.FLOAT, np.array([1.5, 2.5, 3.5, 4.5], dtype=np.float32), [1.5, 2.5, 3.5, 4.5]),
    (rt.DOUBLE, np.array([1.5, 2.5, 3.5, 4.5]), [1.5, 2.5, 3.5, 4.5]),
    (rt.VARCHAR, np.array(["a", None, "c", None], dtype=object), ["a", None, "c", None]),
    (rt.DATE, np.array([1, 2, 3, 4], dtype="datetime64[D]"), [1, 2, 3, 4]),
    (rt.TIMESTAMP, np.array([1, 2, 3, 4], dtype="datetime64[us]"), [1, 2, 3, 4]),
]


@pytest.mark.parametrize("t,column,lane", TYPED_COLUMNS, ids=[rt.TYPE_NAMES[c[0]] for c in TYPED_COLUMNS])
def test_default_null_handling_compacts_and_scatters_every_type(t, column, lane):
    fn = rt.load("f", ECHO, "<t>", "", [t], [t])
    valid = np.array([True, False, True, False])
    ((values, out_valid),) = unpacked(fn([column], 4, valid), 4)
    (seen,) = fn.module.seen
    # The function saw only the valid rows, in their own dtype (no NaN / None / object promotion).
    assert len(seen) == 2 and seen.dtype == column.dtype
    assert seen.tolist() == column[[0, 2]].tolist()
    assert out_valid == [True, False, True, False]
    assert [values[i] for i in (0, 2)] == [lane[0], lane[2]]
    assert values.dtype == LANE_DTYPES[t]


def test_default_null_handling_combines_with_the_functions_own_nulls():
    src = "def pyfun(a, b):\n    return [None if v > 2 else v for v in a + b]\n"
    fn = rt.load("f", src, "<t>", "", [rt.INT64, rt.INT64], [rt.INT64])
    a, b = np.array([1, 1, 1, 5]), np.array([0, 9, 1, 0])
    ((values, valid),) = unpacked(fn([a, b], 4, np.array([True, False, True, True])), 4)
    assert valid == [True, False, True, False] and values[0] == 1 and values[2] == 2


def test_all_null_batch_does_not_call_the_function():
    src = "calls = 0\ndef pyfun(x):\n    global calls\n    calls += 1\n    return x\n"
    fn = rt.load("f", src, "<t>", "", [rt.DOUBLE], [rt.DOUBLE])
    ((values, valid),) = unpacked(fn([np.zeros(3)], 3, np.zeros(3, dtype=bool)), 3)
    assert fn.module.calls == 0 and valid == [False] * 3 and values.dtype == np.float64
    fn2 = rt.load("g", "def pyfun(x):\n    raise AssertionError('called')\n", "<t>", "", [rt.VARCHAR],
                  [rt.VARCHAR, rt.BOOLEAN])
    out = unpacked(fn2([np.array([None, None], dtype=object)], 2, np.zeros(2, dtype=bool)), 2)
    assert [v for _, v in out] == [[False, False], [False, False]] and out[0][0].tolist() == [None, None]


def test_no_mask_is_the_plain_call_without_a_copy():
    fn = rt.load("f", "def pyfun(x):\n    return x\n", "<t>", "", [rt.DOUBLE], [rt.DOUBLE])
    x = np.arange(4.0)
    x.setflags(write=False)
    ((values, packed),) = fn([x], 4, None)
    assert packed is None and np.shares_memory(values, x)
    ((values, packed),) = fn([x], 4, np.ones(4, dtype=bool))  # all valid: no compaction either
    assert packed is None and np.shares_memory(values, x)


def test_special_null_handling_ignores_the_mask():
    fn = rt.load("f", ECHO, "<t>", "", [rt.DOUBLE], [rt.DOUBLE], null_handling="special")
    x = np.array([1.0, np.nan, 3.0])
    ((values, valid),) = unpacked(fn([x], 3, np.array([True, False, True])), 3)
    assert len(fn.module.seen[0]) == 3 and valid == [True, True, True] and np.isnan(values[1])


RAISES_ON_NEGATIVE = ("calls = 0\ndef pyfun(x):\n    global calls\n    calls += 1\n"
                      "    if (x < 0).any():\n        raise ValueError('negative')\n    return x * 2\n")


def test_return_null_makes_exactly_the_raising_rows_null():
    fn = rt.load("f", RAISES_ON_NEGATIVE, "<t>", "", [rt.INT64], [rt.INT64], exception_handling="return_null")
    x = np.array([1, 2, 3, -4, 5, 6, 7, 8])
    ((values, valid),) = unpacked(fn([x], 8, None), 8)
    assert valid == [True, True, True, False, True, True, True, True]
    assert [values[i] for i in range(8) if valid[i]] == [2, 4, 6, 10, 12, 14, 16]
    # 1 full call, then per level (4, 2, 1 rows) the bad half and its good sibling: 1 + 2 * log2(8).
    assert fn.module.calls == 7 == fn.calls[0]


def test_return_null_cost_grows_with_the_bad_rows_not_the_batch():
    fn = rt.load("f", RAISES_ON_NEGATIVE, "<t>", "", [rt.DOUBLE], [rt.DOUBLE], exception_handling="return_null")
    n = 1024
    x = np.arange(n, dtype=np.float64)
    x[[5, 700]] = -1
    ((values, valid),) = unpacked(fn([x], n, None), n)
    assert [i for i in range(n) if not valid[i]] == [5, 700]
    assert fn.module.calls <= 1 + 2 * 2 * 10  # k=2 bad rows, log2(n)=10 levels
    fn.module.calls = 0
    fn([np.arange(8.0)], 8, None)
    assert fn.module.calls == 1  # no exception: one call


def test_return_null_with_null_compaction_and_several_results():
    src = ("def pyfun(x):\n    if (x == 3).any():\n        raise ZeroDivisionError\n"
           "    return x + 1, [str(v) for v in x]\n")
    fn = rt.load("f", src, "<t>", "", [rt.INT32], [rt.INT64, rt.VARCHAR], exception_handling="return_null")
    x = np.array([1, 2, 3, 4, 5], dtype=np.int32)
    (a, av), (b, bv) = unpacked(fn([x], 5, np.array([True, False, True, True, True])), 5)
    assert av == bv == [True, False, False, True, True]
    assert a[[0, 3, 4]].tolist() == [2, 5, 6] and b[[0, 3, 4]].tolist() == ["1", "4", "5"]


def test_return_null_all_rows_raise():
    fn = rt.load("f", "def pyfun(x):\n    raise RuntimeError\n", "<t>", "", [rt.DOUBLE], [rt.BOOLEAN],
                 exception_handling="return_null")
    ((values, valid),) = unpacked(fn([np.zeros(5)], 5, None), 5)
    assert valid == [False] * 5 and values.dtype == np.uint8


def test_default_exception_handling_raises_once():
    fn = rt.load("f", RAISES_ON_NEGATIVE, "<t>", "", [rt.INT64], [rt.INT64])
    with pytest.raises(ValueError, match="negative"):
        fn([np.array([1, -1])], 2, None)
    assert fn.module.calls == 1


def test_result_errors_are_not_retried_with_return_null():
    src = "calls = 0\ndef pyfun(x):\n    global calls\n    calls += 1\n    return x[:1]\n"
    fn = rt.load("f", src, "<t>", "", [rt.DOUBLE], [rt.DOUBLE], exception_handling="return_null")
    with pytest.raises(rt.ResultError, match="returned 1 values for 4 input rows"):
        fn([np.arange(4.0)], 4, None)
    assert fn.module.calls == 1
    src = "def pyfun(x):\n    if (x < 0).any():\n        raise ValueError\n    return ['not a number'] * len(x)\n"
    fn = rt.load("g", src, "<t>", "", [rt.DOUBLE], [rt.DOUBLE], exception_handling="return_null")
    with pytest.raises(rt.ResultError, match="got strings"):
        fn([np.array([1.0, -1.0])], 2, None)


@pytest.mark.parametrize("kwargs,message", [
    ({"null_handling": "sometimes"}, "null_handling must be 'default' or 'special', got 'sometimes'"),
    ({"exception_handling": "ignore"}, "exception_handling must be 'default' or 'return_null', got 'ignore'"),
])
def test_bad_options_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        rt.load("f", "def pyfun(x):\n    return x\n", "<t>", "", [rt.DOUBLE], [rt.DOUBLE], **kwargs)


def test_a_result_error_names_its_function_once():
    fn = rt.load("f", "import numpy as np\ndef pyfun(x):\n    return np.zeros(len(x) + 1)\n", "<src>", "",
                 [rt.DOUBLE], [rt.DOUBLE])
    with pytest.raises(Exception) as info:
        fn([np.array([1.0, 2.0])], 2)
    text = rt.format_exception("f", info.value)
    assert text.count("imlane function 'f'") == 1 and "returned 3 values for 2 input rows" in text, text
