"""Python half of imlane-executor: loads AI functions and adapts columns and results.

The C++ executor hands each input column over as a numpy array that views the Lane without copying
(fixed-width columns without NULLs). This module handles what needs a conversion (BOOLEAN bit-packing,
DATE, columns with NULLs) and checks and converts what a function returns, so that a wrong result is
a clear error instead of garbage in the database.
"""

import sys
import traceback
import types

import numpy as np

# Wire type ids (include/imlane/types.h).
BOOLEAN, INT8, INT16, INT32, INT64, FLOAT, DOUBLE, VARCHAR, DATE, TIMESTAMP = range(1, 11)
TYPE_NAMES = {BOOLEAN: "BOOLEAN", INT8: "TINYINT", INT16: "SMALLINT", INT32: "INTEGER", INT64: "BIGINT",
              FLOAT: "FLOAT", DOUBLE: "DOUBLE", VARCHAR: "VARCHAR", DATE: "DATE", TIMESTAMP: "TIMESTAMP"}
INT_DTYPES = {INT8: np.int8, INT16: np.int16, INT32: np.int32, INT64: np.int64}
FLOAT_DTYPES = {FLOAT: np.float32, DOUBLE: np.float64}


class FunctionLoadError(Exception):
    pass


class ResultError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# Loading


def _own_callable_classes(module):
    """Classes defined by the function's own source (not imported) that have __call__."""
    return [v for v in module.__dict__.values()
            if isinstance(v, type) and v.__module__ == module.__name__ and v.__call__ is not object.__call__
            and "__call__" in vars(v)]


def _resolve_entry(module, name, entry):
    ns = module.__dict__
    if entry == "pyfun":
        entry = ""  # the staged style named explicitly: pyinitial() still runs
    if entry:
        if entry not in ns:
            raise FunctionLoadError(f"entry '{entry}' is not defined in the source")
        obj = ns[entry]
    elif "pyfun" in ns:
        obj = None  # IMBridge staged style
    else:
        marked = [v for v in ns.values() if getattr(v, "__imlane_function__", None) is not None]
        if len(marked) == 1:
            obj = marked[0]
        elif len(marked) > 1:
            raise FunctionLoadError(
                "the source defines several @imlane functions (" +
                ", ".join(getattr(m, "__name__", "?") for m in marked) + "); name one as the entry")
        elif name in ns and callable(ns[name]):
            obj = ns[name]
        elif len(_own_callable_classes(module)) == 1:
            obj = _own_callable_classes(module)[0]
        elif len(_own_callable_classes(module)) > 1:
            raise FunctionLoadError(
                "the source defines several classes with __call__ (" +
                ", ".join(c.__name__ for c in _own_callable_classes(module)) + "); name one as the entry")
        else:
            raise FunctionLoadError(
                "no entry point found: define pyfun(*columns) (and optionally pyinitial()), a class with "
                f"__init__ and __call__(self, *columns), a callable named '{name}', or pass an entry name")
    if obj is None:
        pyfun = ns["pyfun"]
        if not callable(pyfun):
            raise FunctionLoadError("pyfun is not callable")
        init = ns.get("pyinitial")
        if init is not None:
            init()
        return pyfun, "staged"
    if isinstance(obj, type):
        if not callable(getattr(obj, "__call__", None)) or obj.__call__ is object.__call__:
            raise FunctionLoadError(f"class {obj.__name__} has no __call__(self, *columns)")
        return obj(), "class"
    if not callable(obj):
        raise FunctionLoadError(f"entry '{entry or name}' is not callable")
    return obj, "function"


class LoadedFunction:
    """One AI function in its own namespace; its one-off context is built here, once."""

    def __init__(self, name, source, filename, entry, arg_types, return_types):
        self.name = name
        self.arg_types = list(arg_types)
        self.return_types = list(return_types)
        module = types.ModuleType(f"imlane_udf_{name}")
        module.__file__ = filename
        try:
            code = compile(source, filename, "exec")
        except SyntaxError as e:
            raise FunctionLoadError(f"syntax error in {filename}, line {e.lineno}: {e.msg}") from None
        # Registered so that pickle/inspect find classes defined in the function's source.
        sys.modules[module.__name__] = module
        exec(code, module.__dict__)
        self.callable, self.style = _resolve_entry(module, name, entry)
        self.module = module

    def __call__(self, columns, n_rows):
        result = self.callable(*columns)
        return to_columns(result, n_rows, self.return_types, self.name)


def load(name, source, filename, entry, arg_types, return_types):
    return LoadedFunction(name, source, filename, entry, arg_types, return_types)


def format_exception(name, exc, tb=None):
    text = "".join(traceback.format_exception(type(exc), exc, tb if tb is not None else exc.__traceback__))
    if isinstance(exc, (FunctionLoadError, ResultError)):
        text = str(exc)
    return f"imlane function '{name}': {text.rstrip()}"


# ---------------------------------------------------------------------------------------------
# Input columns


def _unpack(bitmap, n):
    return np.unpackbits(bitmap, count=n, bitorder="little").view(np.bool_)


def adapt_column(type_id, data, validity, n):
    """Turns a Lane column that cannot be passed as-is into the array a function sees.

    NULLs: floating columns get NaN, integer columns become float64 with NaN, DATE/TIMESTAMP get NaT,
    BOOLEAN becomes an object array with None. VARCHAR never comes here (built in C++).
    """
    valid = _unpack(validity, n) if validity is not None else None
    if type_id == BOOLEAN:
        values = _unpack(data, n)
        if valid is None:
            return values
        out = values.astype(object)
        out[~valid] = None
        return out
    if type_id == DATE:
        values = data.astype("datetime64[D]")
    elif type_id == TIMESTAMP:
        values = data.view("datetime64[us]")
    elif type_id in INT_DTYPES:
        values = data.astype(np.float64)
    else:
        values = data.copy()
    if valid is not None:
        if type_id in (DATE, TIMESTAMP):
            values = values.copy() if values.base is not None else values
            values[~valid] = np.datetime64("NaT")
        else:
            values[~valid] = np.nan
    return values


# ---------------------------------------------------------------------------------------------
# Results


def _is_missing(v):
    if v is None:
        return True
    pd = sys.modules.get("pandas")  # only when the function already uses pandas
    return pd is not None and (v is pd.NA or v is pd.NaT)


def _as_array(result, n, type_name, fname, col):
    where = f"imlane function '{fname}'" + (f" result column {col}" if col is not None else "")
    if result is None:
        raise ResultError(f"{where}: returned None; expected {n} values of type {type_name}")
    if hasattr(result, "to_numpy") and not isinstance(result, np.ndarray):
        result = result.to_numpy()
    if isinstance(result, (str, bytes)) or np.isscalar(result):
        raise ResultError(f"{where}: returned a single {type(result).__name__}; expected {n} values "
                          f"(one per input row) of type {type_name}")
    try:
        arr = np.asarray(result)
    except Exception as e:
        raise ResultError(f"{where}: result of type {type(result).__name__} is not array-like: {e}") from None
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr.reshape(-1)
    if arr.ndim != 1:
        raise ResultError(f"{where}: returned an array of shape {arr.shape}; expected {n} values "
                          f"(one per input row) of type {type_name}")
    if len(arr) != n:
        raise ResultError(f"{where}: returned {len(arr)} values for {n} input rows (expected {n} values of "
                          f"type {type_name})")
    return arr


def _first_bad(mask):
    return int(np.flatnonzero(mask)[0])


def _convert_one(result, n, t, fname, col):
    """Returns (values, valid) where valid is None or a bool array (False = NULL)."""
    tname = TYPE_NAMES[t]
    arr = _as_array(result, n, tname, fname, col)
    where = f"imlane function '{fname}'" + (f" result column {col}" if col is not None else "")
    valid = None
    if arr.dtype.kind == "O":
        missing = np.fromiter((_is_missing(v) for v in arr), dtype=np.bool_, count=n)
        if t == VARCHAR:  # pandas marks missing strings with NaN
            missing |= np.fromiter((isinstance(v, float) and v != v for v in arr), dtype=np.bool_, count=n)
        if missing.any():
            valid = ~missing
            if t != VARCHAR:
                arr = arr.copy()
                arr[missing] = 0 if t not in (DATE, TIMESTAMP) else np.datetime64("NaT")
    if t == VARCHAR:
        if arr.dtype.kind in "US":
            return arr.astype(object), valid
        if arr.dtype.kind != "O":
            raise ResultError(f"{where}: expected VARCHAR (str) values, got numpy dtype {arr.dtype}")
        return arr, valid
    if arr.dtype.kind in "USV":
        raise ResultError(f"{where}: expected {tname} values, got strings (numpy dtype {arr.dtype}), "
                          f"e.g. {arr[0]!r}")
    if t in FLOAT_DTYPES:
        try:
            return arr.astype(FLOAT_DTYPES[t], copy=False), valid
        except (TypeError, ValueError) as e:
            raise ResultError(f"{where}: expected {tname} values: {e}") from None
    if t == BOOLEAN:
        if arr.dtype.kind == "b":
            return arr.astype(np.uint8), valid
        try:
            num = arr.astype(np.float64)
        except (TypeError, ValueError) as e:
            raise ResultError(f"{where}: expected BOOLEAN values: {e}") from None
        bad = ~np.isin(num, (0.0, 1.0))
        if valid is not None:
            bad &= valid
        if bad.any():
            i = _first_bad(bad)
            raise ResultError(f"{where}: expected BOOLEAN values, got {arr[i]!r} at row {i}")
        return num.astype(np.uint8), valid
    if t in (DATE, TIMESTAMP):
        unit = "datetime64[D]" if t == DATE else "datetime64[us]"
        if arr.dtype.kind != "M":
            try:
                arr = arr.astype(unit)
            except (TypeError, ValueError) as e:
                raise ResultError(f"{where}: expected {tname} values (numpy datetime64): {e}") from None
        arr = arr.astype(unit)
        nat = np.isnat(arr)
        if nat.any():
            valid = ~nat if valid is None else (valid & ~nat)
        raw = arr.view(np.int64)
        return (raw.astype(np.int32) if t == DATE else raw.copy()), valid
    # Integer types: exact conversions only.
    dtype = INT_DTYPES[t]
    info = np.iinfo(dtype)
    if arr.dtype.kind == "b":
        return arr.astype(dtype), valid
    if arr.dtype.kind in "iu":
        if len(arr) and (arr.min() < info.min or arr.max() > info.max):
            bad = (arr < info.min) | (arr > info.max)
            i = _first_bad(bad)
            raise ResultError(f"{where}: value {arr[i]} at row {i} is out of range for {tname}")
        return arr.astype(dtype), valid
    try:
        num = arr.astype(np.float64)
    except (TypeError, ValueError) as e:
        raise ResultError(f"{where}: expected {tname} values: {e}") from None
    check = np.ones(n, dtype=np.bool_) if valid is None else valid
    nan = np.isnan(num) & check
    if nan.any():
        i = _first_bad(nan)
        raise ResultError(f"{where}: NaN at row {i} cannot be converted to {tname} (return None for NULL, "
                          f"or declare a DOUBLE result)")
    frac = (num != np.floor(num)) & check
    if frac.any():
        i = _first_bad(frac)
        raise ResultError(f"{where}: non-integral value {num[i]!r} at row {i} cannot be converted to {tname}")
    out_of_range = ((num < info.min) | (num > info.max)) & check
    if out_of_range.any():
        i = _first_bad(out_of_range)
        raise ResultError(f"{where}: value {num[i]!r} at row {i} is out of range for {tname}")
    if valid is not None:
        num = np.where(valid, num, 0)
    return num.astype(dtype), valid


def to_columns(result, n, return_types, fname):
    """Checks a function's result against its declared types; returns [(values, packed_validity)]."""
    if len(return_types) == 1:
        parts = [result]
    else:
        if hasattr(result, "columns") and hasattr(result, "iloc"):  # pandas DataFrame
            parts = [result.iloc[:, i] for i in range(result.shape[1])]
        elif isinstance(result, np.ndarray) and result.ndim == 2:
            parts = [result[:, i] for i in range(result.shape[1])]
        elif isinstance(result, (tuple, list)):
            parts = list(result)
        else:
            raise ResultError(f"imlane function '{fname}': declared {len(return_types)} result columns; return a "
                              f"tuple of {len(return_types)} arrays or a DataFrame, not {type(result).__name__}")
        if len(parts) != len(return_types):
            raise ResultError(f"imlane function '{fname}': returned {len(parts)} result columns, declared "
                              f"{len(return_types)}")
    out = []
    for i, (part, t) in enumerate(zip(parts, return_types)):
        values, valid = _convert_one(part, n, t, fname, i if len(return_types) > 1 else None)
        if values.dtype != object:
            values = np.ascontiguousarray(values)
        packed = None if valid is None else np.packbits(valid, bitorder="little")
        out.append((values, packed))
    return out
